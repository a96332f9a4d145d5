// SPDX-License-Identifier: GPL-2.0
/*
 * store_limits_test.c - the module parameters (max_value_size,
 * max_keys_per_store, max_bytes_per_store, max_stores, max_keys_per_call),
 * deletes, and STATS counters.
 *
 * Each limit is read from /sys/module/stm/parameters/<name>, lowered (as
 * root, when the file is writable) so it can be hit cheaply, exceeded
 * (ENOSPC / E2BIG, nothing changed), and restored.  The originals are
 * also restored by the main process at exit, in case a test dies.
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

static const char *const params[] = {
	"max_value_size", "max_keys_per_store", "max_bytes_per_store",
	"max_stores", "max_keys_per_call",
};
#define NPARAMS ARRAY_SIZE(params)

static long long orig[NPARAMS];

static void __attribute__((constructor(200))) save_params(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		orig[i] = t_param_get(params[i]);
}

static void restore_params(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (orig[i] > 0 && t_param_get(params[i]) != orig[i])
			t_param_set(params[i], orig[i]);
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	restore_params();
}

static long long orig_of(const char *name)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (!strcmp(params[i], name))
			return orig[i];
	return -1;
}

FIXTURE(lim) {
	int fd;
	char name[STMDEV_NAME_MAX];
};

FIXTURE_SETUP(lim)
{
	t_name(self->name, sizeof(self->name), "lim");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				   STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(lim)
{
	restore_params();
	if (self->fd >= 0)
		close(self->fd);
	t_unlink(self->name);
}

/* Lower a parameter, or skip the test if it cannot be written. */
#define SET_PARAM(name, val) do {					\
	int __r;							\
	if (geteuid() != 0 || !t_param_writable(name))		\
		SKIP(return, "%s is not writable", name);		\
	__r = t_param_set(name, val);					\
	ASSERT_EQ(0, __r) TH_LOG("writing %s: %s", name, strerror(-__r)); \
	ASSERT_EQ((long long)(val), t_param_get(name));		\
} while (0)

#define FP_SAME(fd, keys, n, before) do {				\
	struct t_fp __after;						\
	ASSERT_EQ(0, t_fingerprint(fd, keys, n, &__after));		\
	ASSERT_EQ(0, t_fp_diff(before, &__after));			\
} while (0)

TEST(parameters_exist_with_documented_defaults)
{
	struct stmdev_features f;
	unsigned int i;
	int fd;

	for (i = 0; i < NPARAMS; i++) {
		EXPECT_LT(0LL, orig[i]) TH_LOG("%s: %lld", params[i], orig[i]);
	}
	EXPECT_EQ(65536LL, orig_of("max_value_size"));
	EXPECT_EQ(1024LL, orig_of("max_keys_per_call"));
	fd = t_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_features(fd, &f));
	EXPECT_EQ((long long)f.max_value_size, t_param_get("max_value_size"));
	EXPECT_EQ((long long)f.max_keys_per_call,
		  t_param_get("max_keys_per_call"));
	close(fd);
}

/* At the limit in force, whatever it is (no writing needed). */
TEST_F(lim, max_value_size_in_force)
{
	static const char *const keys[] = { "v", "w" };
	struct stmdev_commit_ent e[2];
	struct t_fp before;
	long long max = t_param_get("max_value_size");
	unsigned char *buf;

	ASSERT_LT(0LL, max);
	if (max > (16LL << 20))
		SKIP(return, "max_value_size %lld too large to exercise", max);
	buf = calloc(1, max + 1);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, t_put(self->fd, "v", 1, buf, max, NULL));
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 2, &before));
	ASSERT_EQ(-E2BIG, t_put(self->fd, "v", 1, buf, max + 1, NULL));
	cent_put(&e[0], "w", 1, "ok", 2);
	cent_put(&e[1], "v", 1, buf, max + 1);
	ASSERT_EQ(-E2BIG, t_commit(self->fd, e, 2, NULL, NULL));
	FP_SAME(self->fd, keys, 2, &before);
	free(buf);
}

TEST_F(lim, max_value_size_lowered)
{
	static const char *const keys[] = { "big", "v", "w" };
	struct stmdev_commit_ent e[2];
	struct stmdev_features f;
	struct t_fp before;
	struct t_val v;
	char buf[300];

	memset(buf, 'x', sizeof(buf));
	ASSERT_EQ(0, t_put(self->fd, "big", 3, buf, 200, NULL));
	SET_PARAM("max_value_size", 100);
	ASSERT_EQ(0, t_features(self->fd, &f));
	EXPECT_EQ(100U, f.max_value_size);

	ASSERT_EQ(0, t_put(self->fd, "v", 1, buf, 100, NULL));
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 3, &before));
	ASSERT_EQ(-E2BIG, t_put(self->fd, "v", 1, buf, 101, NULL));
	ASSERT_EQ(-E2BIG, t_put(self->fd, "w", 1, buf, 101, NULL));
	cent_put(&e[0], "w", 1, "ok", 2);
	cent_put(&e[1], "v", 1, buf, 101);
	ASSERT_EQ(-E2BIG, t_commit(self->fd, e, 2, NULL, NULL));
	FP_SAME(self->fd, keys, 3, &before);
	/* a value stored before the limit was lowered is still readable */
	ASSERT_EQ(0, t_get_str(self->fd, "big", &v));
	EXPECT_EQ(200U, v.len);

	restore_params();
	ASSERT_EQ(0, t_put(self->fd, "v", 1, buf, 101, NULL));
}

/* READ and COMMIT with one entry more than max_keys_per_call. */
static void over_keys_per_call(struct __test_metadata *_metadata, int fd,
			       __u32 max)
{
	static const char *const fpkeys[] = { "k0000", "k0001" };
	struct stmdev_commit_ent *ce;
	struct stmdev_read_ent *re;
	struct t_fp before;
	char (*keys)[8];
	__u32 i;

	keys = calloc(max + 1, sizeof(*keys));
	ce = calloc(max + 1, sizeof(*ce));
	re = calloc(max + 1, sizeof(*re));
	ASSERT_TRUE(keys && ce && re);
	for (i = 0; i <= max; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%04u", i % 10000);
		cent_put(&ce[i], keys[i], 5, "v", 1);
		rent_init(&re[i], keys[i], 5, NULL, 0);
	}
	ASSERT_EQ(0, t_fingerprint(fd, fpkeys, 2, &before));
	ASSERT_EQ(-E2BIG, t_read(fd, re, max + 1, NULL));
	ASSERT_EQ(-E2BIG, t_commit(fd, ce, max + 1, NULL, NULL));
	FP_SAME(fd, fpkeys, 2, &before);
	/* exactly max is fine */
	ASSERT_EQ(0, t_read(fd, re, max, NULL));
	ASSERT_EQ(0, t_commit(fd, ce, max, NULL, NULL));
	free(keys);
	free(ce);
	free(re);
}

TEST_F(lim, max_keys_per_call_in_force)
{
	long long max = t_param_get("max_keys_per_call");

	ASSERT_LT(0LL, max);
	if (max > 4096)
		SKIP(return, "max_keys_per_call %lld too large to exercise", max);
	over_keys_per_call(_metadata, self->fd, max);
}

TEST_F(lim, max_keys_per_call_lowered)
{
	struct stmdev_features f;

	SET_PARAM("max_keys_per_call", 4);
	ASSERT_EQ(0, t_features(self->fd, &f));
	EXPECT_EQ(4U, f.max_keys_per_call);
	over_keys_per_call(_metadata, self->fd, 4);
}

TEST_F(lim, max_keys_per_store)
{
	static const char *const keys[] = { "k1", "k2", "k3", "k4", "k5", "k6" };
	struct stmdev_commit_ent e[2];
	struct stmdev_info info;
	struct t_fp before;
	char other[STMDEV_NAME_MAX];
	__s64 one = (__s64)htole64(1);
	int i, fd2, ret;

	SET_PARAM("max_keys_per_store", 4);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, t_put_str(self->fd, keys[i], "v", NULL));
	}
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 6, &before));

	ASSERT_EQ(-ENOSPC, t_put_str(self->fd, "k5", "v", NULL));
	cent_add(&e[0], "k5", 2, &one);
	ASSERT_EQ(-ENOSPC, t_commit(self->fd, e, 1, NULL, NULL));
	/* an overwrite in the same commit is not applied either */
	cent_put(&e[0], "k1", 2, "changed", 7);
	cent_put(&e[1], "k5", 2, "v", 1);
	ASSERT_EQ(-ENOSPC, t_commit(self->fd, e, 2, NULL, NULL));
	FP_SAME(self->fd, keys, 6, &before);
	/* overwriting existing keys is fine at the limit */
	ASSERT_EQ(0, t_put_str(self->fd, "k1", "changed", NULL));

	/* the limit is per store */
	t_name(other, sizeof(other), "lim2");
	fd2 = t_open_attach(other, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd2);
	ret = t_put_str(fd2, "k1", "v", NULL);
	close(fd2);
	t_unlink(other);
	ASSERT_EQ(0, ret);

	/* delete + create in one commit keeps the count: not asserted */
	cent_del(&e[0], "k4", 2);
	cent_put(&e[1], "k6", 2, "v", 1);
	ret = t_commit(self->fd, e, 2, NULL, NULL);
	TH_LOG("delete one + create one at max_keys_per_store: %d", ret);
	if (ret == 0) {
		/* still at the limit: k1, k2, k3, k6 */
		ASSERT_EQ(-ENOSPC, t_put_str(self->fd, "k4", "back", NULL));
		ASSERT_EQ(0, t_del(self->fd, "k6", 2, NULL));
		ASSERT_EQ(0, t_put_str(self->fd, "k4", "back", NULL));
	} else {
		ASSERT_EQ(-ENOSPC, ret);
	}
	/* a delete makes room */
	ASSERT_EQ(0, t_del(self->fd, "k2", 2, NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "k5", "v", NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(4ULL, info.keys);

	restore_params();
	ASSERT_EQ(0, t_put_str(self->fd, "k6", "v", NULL));
}

TEST_F(lim, max_bytes_per_store)
{
	static const char *const keys[] = { "a", "b", "c" };
	struct stmdev_commit_ent e[2];
	struct stmdev_info info;
	struct stmdev_stats st;
	struct t_fp before;
	__s64 one = (__s64)htole64(1);
	char buf[128];

	memset(buf, 'y', sizeof(buf));
	SET_PARAM("max_bytes_per_store", 100);
	/* key + value bytes: 1 + 60 */
	ASSERT_EQ(0, t_put(self->fd, "a", 1, buf, 60, NULL));
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 3, &before));
	EXPECT_EQ(61ULL, before.bytes);

	/* 61 + 1 + 39 = 101 */
	ASSERT_EQ(-ENOSPC, t_put(self->fd, "b", 1, buf, 39, NULL));
	/* growing a value counts the difference: 1 + 100 */
	ASSERT_EQ(-ENOSPC, t_put(self->fd, "a", 1, buf, 100, NULL));
	cent_put(&e[0], "c", 1, "z", 1);
	cent_put(&e[1], "b", 1, buf, 39);
	ASSERT_EQ(-ENOSPC, t_commit(self->fd, e, 2, NULL, NULL));
	FP_SAME(self->fd, keys, 3, &before);

	/* exactly 100 fits */
	ASSERT_EQ(0, t_put(self->fd, "b", 1, buf, 38, NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(100ULL, info.bytes);
	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ(100ULL, st.bytes);
	/* an ADD creating a key needs 1 + 8 */
	cent_add(&e[0], "c", 1, &one);
	ASSERT_EQ(-ENOSPC, t_commit(self->fd, e, 1, NULL, NULL));

	/* shrinking a value frees bytes; replacing is not additive */
	ASSERT_EQ(0, t_put(self->fd, "a", 1, buf, 10, NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(50ULL, info.bytes);
	ASSERT_EQ(0, t_commit(self->fd, e, 1, NULL, NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(59ULL, info.bytes);
	/* a delete frees key and value */
	ASSERT_EQ(0, t_del(self->fd, "b", 1, NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(20ULL, info.bytes);
	ASSERT_EQ(0, t_put(self->fd, "b", 1, buf, 79, NULL));

	restore_params();
	ASSERT_EQ(0, t_put(self->fd, "d", 1, buf, 100, NULL));
}

/* How many stores the caller (root) can see. */
static int count_stores(void)
{
	struct stmdev_store_ent ent[8];
	struct stmdev_list_stores ls;
	int fd = t_open(), n = 0, calls, ret;

	if (fd < 0)
		return fd;
	memset(&ls, 0, sizeof(ls));
	for (calls = 0; calls < 10000; calls++) {
		ls.addr = t_ptr(ent);
		ls.len = sizeof(ent);
		ret = t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls);
		if (ret < 0) {
			n = ret;
			break;
		}
		n += ls.count;
		if (!ls.cursor)
			break;
	}
	close(fd);
	return n;
}

TEST_F(lim, max_stores)
{
	char names[64][STMDEV_NAME_MAX], extra[STMDEV_NAME_MAX];
	int existing, created = 0, i, ret = 0, fd;

	existing = count_stores();
	ASSERT_LE(1, existing);		/* at least ours */
	SET_PARAM("max_stores", existing + 2);

	for (i = 0; i < 64; i++) {
		t_name(names[i], sizeof(names[i]), "many");
		fd = t_open_attach(names[i], STMDEV_ATTACH_CREAT |
				     STMDEV_ATTACH_EXCL, 0600);
		if (fd < 0) {
			ret = fd;
			break;
		}
		close(fd);
		created++;
	}
	EXPECT_EQ(-ENOSPC, ret);
	EXPECT_EQ(2, created);
	if (ret == -ENOSPC) {
		/* the refused store does not exist */
		EXPECT_EQ(-ENOENT, t_unlink(names[created]));
		/* attaching an existing store is not creating one */
		fd = t_open_attach(self->name, 0, 0);
		EXPECT_LE(0, fd);
		if (fd >= 0)
			close(fd);
		/* an unlink makes room */
		ASSERT_LT(0, created);
		ASSERT_EQ(0, t_unlink(names[0]));
		t_name(extra, sizeof(extra), "many");
		fd = t_open_attach(extra, STMDEV_ATTACH_CREAT, 0600);
		EXPECT_LE(0, fd);
		if (fd >= 0) {
			close(fd);
			t_unlink(extra);
		}
		names[0][0] = 0;
	}
	for (i = 0; i < created; i++)
		if (names[i][0])
			t_unlink(names[i]);
}

TEST_F(lim, deletes)
{
	struct stmdev_commit_ent e[2];
	struct stmdev_info info;
	struct t_val v;
	__u64 v1, vdel, v2;
	__u32 conflict;
	int ret;

	ASSERT_EQ(0, t_put_str(self->fd, "gone", "value", &v1));
	ASSERT_EQ(0, t_put_str(self->fd, "kept", "v", NULL));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(2ULL, info.keys);
	EXPECT_EQ(14ULL, info.bytes);

	/* a checked delete with a stale version fails */
	cent_del(&e[0], "gone", 4);
	e[0].flags = STMDEV_CENT_CHECK;
	e[0].version = v1 - 1;
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	ASSERT_EQ(0, t_get_str(self->fd, "gone", &v));
	EXPECT_TRUE(v.present);

	/* with the right version it succeeds */
	e[0].version = v1;
	ASSERT_EQ(0, t_commit(self->fd, e, 1, &vdel, NULL));
	EXPECT_LT(v1, vdel);
	ASSERT_EQ(0, t_get_str(self->fd, "gone", &v));
	EXPECT_FALSE(v.present);
	EXPECT_EQ(0ULL, v.version);
	EXPECT_EQ(0U, v.len);
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(1ULL, info.keys);
	EXPECT_EQ(5ULL, info.bytes);

	/* a transaction that saw it present now conflicts; absent (0) holds */
	cent_read(&e[0], "gone", 4, v1);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, NULL));
	cent_read(&e[0], "gone", 4, 0);
	cent_put(&e[1], "kept", 4, "w", 1);
	ASSERT_EQ(0, t_commit(self->fd, e, 2, NULL, NULL));

	/* re-created: a fresh version, never an old one */
	ASSERT_EQ(0, t_put_str(self->fd, "gone", "again", &v2));
	EXPECT_LT(vdel, v2);

	/* deleting an absent key: not asserted beyond "no change if it fails" */
	ret = t_del(self->fd, "never", 5, NULL);
	TH_LOG("DEL of an absent key: %d", ret);
	ASSERT_EQ(0, t_get_str(self->fd, "never", &v));
	EXPECT_FALSE(v.present);
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(2ULL, info.keys);
	/* a checked delete of an absent key expecting absent */
	cent_del(&e[0], "never", 5);
	e[0].flags = STMDEV_CENT_CHECK;
	e[0].version = 0;
	ret = t_commit(self->fd, e, 1, NULL, NULL);
	TH_LOG("checked DEL of an absent key expected absent: %d", ret);
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(2ULL, info.keys);
}

TEST_F(lim, stats_count_commits_conflicts_reads)
{
	struct stmdev_commit_ent e[3];
	struct stmdev_read_ent re[2];
	struct stmdev_stats st, st2;
	struct stmdev_info info;
	char other[STMDEV_NAME_MAX], b[2][16];
	__u64 clock, v1;
	unsigned int i;
	int fd2;

	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ(0ULL, st.commits);
	EXPECT_EQ(0ULL, st.conflicts);
	EXPECT_EQ(0ULL, st.busy);
	EXPECT_EQ(0ULL, st.reads);
	EXPECT_EQ(0ULL, st.keys);
	EXPECT_EQ(0ULL, st.bytes);

	/* three commits, one of them multi-key */
	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", &v1));
	cent_put(&e[0], "b", 1, "22", 2);
	cent_put(&e[1], "c", 1, "333", 3);
	ASSERT_EQ(0, t_commit(self->fd, e, 2, NULL, NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "a", "4444", NULL));
	/* one conflict from COMMIT */
	cent_put_check(&e[0], "a", 1, "x", 1, v1);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, NULL));
	/* a malformed commit counts as nothing */
	cent_put(&e[0], "a", 1, "x", 1);
	e[0].reserved = 1;
	ASSERT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	/* four reads */
	for (i = 0; i < 4; i++) {
		rent_init(&re[0], "a", 1, b[0], sizeof(b[0]));
		rent_init(&re[1], "b", 1, b[1], sizeof(b[1]));
		ASSERT_EQ(0, t_read(self->fd, re, 2, &clock));
	}
	/* one conflict from READ_AT */
	ASSERT_EQ(0, t_put_str(self->fd, "b", "55555", NULL));
	rent_init(&re[0], "b", 1, b[0], sizeof(b[0]));
	ASSERT_EQ(-ESTALE, t_read_at(self->fd, re, 1, clock, NULL));

	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ(4ULL, st.commits);
	EXPECT_EQ(2ULL, st.conflicts);
	EXPECT_EQ(0ULL, st.busy);
	/* 4 READs, and maybe the failed READ_AT */
	EXPECT_LE(4ULL, st.reads);
	EXPECT_GE(5ULL, st.reads);
	EXPECT_EQ(3ULL, st.keys);
	EXPECT_EQ((__u64)(1 + 4 + 1 + 5 + 1 + 3), st.bytes);
	for (i = 0; i < ARRAY_SIZE(st.reserved); i++) {
		EXPECT_EQ(0ULL, st.reserved[i]);
	}
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(info.keys, st.keys);
	EXPECT_EQ(info.bytes, st.bytes);

	/* a delete lowers keys and bytes */
	ASSERT_EQ(0, t_del(self->fd, "c", 1, NULL));
	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ(5ULL, st.commits);
	EXPECT_EQ(2ULL, st.keys);
	EXPECT_EQ(11ULL, st.bytes);

	/* counters are per store, and shared by every fd on it */
	t_name(other, sizeof(other), "lim-stats");
	fd2 = t_open_attach(other, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, t_stats(fd2, &st2));
	EXPECT_EQ(0ULL, st2.commits);
	EXPECT_EQ(0ULL, st2.reads);
	close(fd2);
	t_unlink(other);
	fd2 = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, t_stats(fd2, &st2));
	EXPECT_EQ(st.commits, st2.commits);
	EXPECT_EQ(st.conflicts, st2.conflicts);
	close(fd2);
}

TEST_HARNESS_MAIN
