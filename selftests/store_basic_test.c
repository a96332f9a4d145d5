// SPDX-License-Identifier: GPL-2.0
/*
 * store_basic_test.c - stores (ATTACH, UNLINK, INFO, LIST_STORES), single
 * values and collections the way Axon.STM uses them (including its "What
 * can (possibly) go wrong?" script), versions, READ/READ_AT, ADD, LIST.
 *
 * Everything here is single-process and deterministic; concurrency lives
 * in store_concurrency_test.c.
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define ALL_FEATURES (STMDEV_F_STORE | STMDEV_F_READ | STMDEV_F_COMMIT | \
		      STMDEV_F_LIST | STMDEV_F_STATS)

FIXTURE(store) {
	int fd;
	char name[STMDEV_NAME_MAX];
};

FIXTURE_SETUP(store)
{
	t_name(self->name, sizeof(self->name), "basic");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				   STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd) TH_LOG("attach %s: %s", self->name,
				      strerror(-self->fd));
}

FIXTURE_TEARDOWN(store)
{
	if (self->fd >= 0)
		close(self->fd);
	t_unlink(self->name);
}

/* Value of an int64 key, failing the test when absent or malformed. */
#define GET_I64(fd, key, verp) ({					\
	__s64 __v = 0;							\
	int __r = t_get_i64(fd, key, &__v, verp);			\
	ASSERT_EQ(0, __r) {						\
		TH_LOG("get %s: %d", key, __r);				\
	}								\
	__v; })

#define EXPECT_STR_VAL(fd, key, str) do {				\
	struct t_val __v;						\
	ASSERT_EQ(0, t_get_str(fd, key, &__v));			\
	ASSERT_TRUE(__v.present);					\
	ASSERT_EQ(strlen(str), (size_t)__v.len);			\
	ASSERT_EQ(0, memcmp(__v.buf, str, __v.len));			\
} while (0)

TEST(features_report_store_commands)
{
	struct stmdev_features f;
	long long pv;
	int fd = t_open();

	ASSERT_LE(0, fd);
	/* Needs no attached store. */
	ASSERT_EQ(0, t_features(fd, &f));
	EXPECT_EQ((__u64)ALL_FEATURES, f.features & ALL_FEATURES);
	EXPECT_EQ(1U, f.uapi_version);
	EXPECT_EQ((__u32)STMDEV_KEY_MAX, f.max_key_len);
	pv = t_param_get("max_value_size");
	ASSERT_LT(0, pv);
	EXPECT_EQ((__u32)pv, f.max_value_size);
	pv = t_param_get("max_keys_per_call");
	ASSERT_LT(0, pv);
	EXPECT_EQ((__u32)pv, f.max_keys_per_call);
	EXPECT_EQ(0ULL, f.reserved[0]);
	EXPECT_EQ(0ULL, f.reserved[1]);
	close(fd);
}

TEST_F(store, attach_create_info)
{
	struct stmdev_info info;

	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_STREQ(self->name, info.name);
	EXPECT_EQ((__u32)geteuid(), info.uid);
	EXPECT_EQ((__u32)getegid(), info.gid);
	EXPECT_EQ(0600U, info.mode);
	EXPECT_EQ(0U, info.attach_flags &
		  (STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK));
	EXPECT_EQ(0ULL, info.keys);
	EXPECT_EQ(0ULL, info.bytes);
	EXPECT_EQ(0U, info.unlinked);
	EXPECT_EQ(0U, info.reserved0);
	EXPECT_EQ(0ULL, info.reserved[0] | info.reserved[1]);
	/* An empty store still takes memory: the store and its table. */
	EXPECT_LT(0ULL, info.charge);
}

TEST_F(store, attach_flags_reported)
{
	struct stmdev_info info;
	int fd;

	fd = t_open_attach(self->name, STMDEV_ATTACH_NONBLOCK, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ((__u32)STMDEV_ATTACH_NONBLOCK, info.attach_flags &
		  (STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK));
	close(fd);

	fd = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ((__u32)STMDEV_ATTACH_RDONLY, info.attach_flags &
		  (STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK));
	close(fd);
}

TEST_F(store, attach_missing_is_enoent)
{
	char name[STMDEV_NAME_MAX];
	int fd;

	t_name(name, sizeof(name), "missing");
	ASSERT_EQ(-ENOENT, t_open_attach(name, 0, 0));
	ASSERT_EQ(-ENOENT, t_open_attach(name, STMDEV_ATTACH_RDONLY, 0));
	/* and the failed attach did not create it */
	ASSERT_EQ(-ENOENT, t_unlink(name));

	/* The failed attach left the fd unattached: it can attach again. */
	fd = t_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(-ENOENT, t_attach(fd, name, 0, 0));
	ASSERT_EQ(0, t_attach(fd, self->name, 0, 0));
	close(fd);
}

TEST_F(store, attach_excl_existing_is_eexist)
{
	struct stmdev_info info;
	int fd;

	ASSERT_EQ(-EEXIST, t_open_attach(self->name, STMDEV_ATTACH_CREAT |
					   STMDEV_ATTACH_EXCL, 0666));
	/* CREAT alone attaches the existing store and leaves its mode. */
	ASSERT_EQ(0, t_put_str(self->fd, "k", "v", NULL));
	fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT, 0666);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ(0600U, info.mode);
	EXPECT_EQ(1ULL, info.keys);
	EXPECT_STR_VAL(fd, "k", "v");
	close(fd);
}

TEST_F(store, attach_twice_is_ebusy)
{
	char other[STMDEV_NAME_MAX];
	struct stmdev_info info;

	t_name(other, sizeof(other), "other");
	ASSERT_EQ(-EBUSY, t_attach(self->fd, self->name, 0, 0));
	ASSERT_EQ(-EBUSY, t_attach(self->fd, other, STMDEV_ATTACH_CREAT, 0600));
	/* the second attempt neither created `other` nor moved the fd */
	ASSERT_EQ(-ENOENT, t_unlink(other));
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_STREQ(self->name, info.name);
}

TEST(mode_masked_to_permission_bits)
{
	char name[STMDEV_NAME_MAX];
	struct stmdev_info info;
	int fd;

	t_name(name, sizeof(name), "mode");
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
			     07755);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ(0755U, info.mode);
	close(fd);
	EXPECT_EQ(0, t_unlink(name));
}

TEST_F(store, store_persists_without_open_fds)
{
	int fd;

	ASSERT_EQ(0, t_put_str(self->fd, "persist", "yes", NULL));
	close(self->fd);
	self->fd = -1;

	fd = t_open_attach(self->name, 0, 0);
	ASSERT_LE(0, fd);
	EXPECT_STR_VAL(fd, "persist", "yes");
	close(fd);
}

TEST_F(store, unlink_keeps_open_fds_working)
{
	struct stmdev_info info;
	struct t_val v;
	int fd2;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "old", NULL));
	ASSERT_EQ(0, t_unlink(self->name));

	/* the name is gone ... */
	ASSERT_EQ(-ENOENT, t_open_attach(self->name, 0, 0));
	ASSERT_EQ(-ENOENT, t_unlink(self->name));
	/* ... but the attached fd still reads and commits */
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(1U, info.unlinked);
	EXPECT_STR_VAL(self->fd, "a", "old");
	ASSERT_EQ(0, t_put_str(self->fd, "b", "still", NULL));
	EXPECT_STR_VAL(self->fd, "b", "still");

	/* a new store under the same name is a different, empty store */
	fd2 = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
			      STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, t_info(fd2, &info));
	EXPECT_EQ(0ULL, info.keys);
	EXPECT_EQ(0U, info.unlinked);
	ASSERT_EQ(0, t_get_str(fd2, "a", &v));
	EXPECT_FALSE(v.present);
	ASSERT_EQ(0, t_put_str(fd2, "a", "new", NULL));
	EXPECT_STR_VAL(self->fd, "a", "old");
	EXPECT_STR_VAL(fd2, "a", "new");
	close(fd2);
	/* teardown unlinks the new one */
}

TEST(unlink_missing_is_enoent)
{
	char name[STMDEV_NAME_MAX];

	t_name(name, sizeof(name), "nosuch");
	ASSERT_EQ(-ENOENT, t_unlink(name));
}

struct ls_want {
	char name[STMDEV_NAME_MAX];
	__u32 mode;
	__u64 keys, bytes;
	int seen;
};

TEST(list_stores_pages_through_every_store)
{
	struct ls_want want[3];
	char gone[STMDEV_NAME_MAX];
	struct stmdev_store_ent ent[2];
	struct stmdev_list_stores ls;
	int fds[3], i, calls, gone_seen = 0, gone_fd;
	const __u32 modes[3] = { 0600, 0640, 0666 };

	for (i = 0; i < 3; i++) {
		char key[8], val[16];
		int k;

		t_name(want[i].name, sizeof(want[i].name), "ls");
		want[i].mode = modes[i];
		want[i].seen = 0;
		fds[i] = t_open_attach(want[i].name, STMDEV_ATTACH_CREAT |
					 STMDEV_ATTACH_EXCL, modes[i]);
		ASSERT_LE(0, fds[i]);
		want[i].keys = i + 1;
		want[i].bytes = 0;
		for (k = 0; k <= i; k++) {
			snprintf(key, sizeof(key), "k%d", k);
			snprintf(val, sizeof(val), "value-%d", k * 10);
			ASSERT_EQ(0, t_put_str(fds[i], key, val, NULL));
			want[i].bytes += strlen(key) + strlen(val);
		}
	}
	/* An unlinked store is not listed, even while an fd keeps it alive. */
	t_name(gone, sizeof(gone), "lsgone");
	gone_fd = t_open_attach(gone, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, gone_fd);
	ASSERT_EQ(0, t_unlink(gone));

	/* One entry per call: the cursor must carry the walk. */
	memset(&ls, 0, sizeof(ls));
	for (calls = 0; calls < 10000; calls++) {
		__u32 j;

		memset(ent, 0xa5, sizeof(ent));
		ls.addr = t_ptr(ent);
		ls.len = sizeof(ent[0]);
		ls.count = 0;
		ls.reserved = 0;
		ASSERT_EQ(0, t_ioctl(fds[1], STMDEV_IOC_LIST_STORES, &ls));
		ASSERT_GE(1U, ls.count);
		for (j = 0; j < ls.count; j++) {
			if (!strncmp(ent[j].name, gone, sizeof(gone)))
				gone_seen++;
			for (i = 0; i < 3; i++) {
				if (strncmp(ent[j].name, want[i].name,
					    STMDEV_NAME_MAX))
					continue;
				want[i].seen++;
				EXPECT_EQ((__u32)geteuid(), ent[j].uid);
				EXPECT_EQ((__u32)getegid(), ent[j].gid);
				EXPECT_EQ(want[i].mode, ent[j].mode);
				EXPECT_EQ(want[i].keys, ent[j].keys);
				EXPECT_EQ(want[i].bytes, ent[j].bytes);
			}
		}
		if (ls.cursor == 0)
			break;
	}
	ASSERT_LT(calls, 10000) TH_LOG("LIST_STORES cursor never returned to 0");
	EXPECT_EQ(0, gone_seen);
	close(gone_fd);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, want[i].seen) TH_LOG("%s listed %d times",
						  want[i].name, want[i].seen);
		close(fds[i]);
		t_unlink(want[i].name);
	}
}

/*
 * Axon: greeting = S.usevar("hello"); greeting.set(...); greeting.commit().
 * A second copy taken before that commit fails with ConcurrentUpdate; the
 * first copy, after its successful commit, can be set and committed again.
 */
TEST_F(store, axon_single_value)
{
	struct stmdev_commit_ent e[2];
	struct t_val copy1, copy2, now;
	__u64 v1, v2, v3;
	__u32 conflict;
	const char *hw = "Hello World", *bye = "Goodbye", *again = "Hello again";

	/* usevar twice: both copies see "absent, version 0" */
	ASSERT_EQ(0, t_get_str(self->fd, "hello", &copy1));
	ASSERT_EQ(0, t_get_str(self->fd, "hello", &copy2));
	EXPECT_FALSE(copy1.present);
	EXPECT_EQ(0ULL, copy1.version);
	EXPECT_EQ(0U, copy1.len);

	/* greeting.set("Hello World"); greeting.commit() */
	cent_put_check(&e[0], "hello", 5, hw, strlen(hw), copy1.version);
	ASSERT_EQ(0, t_commit(self->fd, e, 1, &v1, &conflict));
	EXPECT_LT(0ULL, v1);
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	copy1.version = v1;
	EXPECT_STR_VAL(self->fd, "hello", hw);
	ASSERT_EQ(0, t_get_str(self->fd, "hello", &now));
	EXPECT_EQ(v1, now.version);

	/* the second copy is stale: CHECK form ... */
	cent_put_check(&e[0], "hello", 5, bye, strlen(bye), copy2.version);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	/* ... and READ-entry form */
	cent_read(&e[0], "hello", 5, copy2.version);
	cent_put(&e[1], "hello", 5, bye, strlen(bye));
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 2, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	EXPECT_STR_VAL(self->fd, "hello", hw);
	ASSERT_EQ(0, t_get_str(self->fd, "hello", &now));
	EXPECT_EQ(v1, now.version);

	/* the first copy commits again */
	cent_put_check(&e[0], "hello", 5, again, strlen(again), copy1.version);
	ASSERT_EQ(0, t_commit(self->fd, e, 1, &v2, NULL));
	EXPECT_LT(v1, v2);
	EXPECT_STR_VAL(self->fd, "hello", again);

	/* the stale copy redoes its transaction and succeeds */
	ASSERT_EQ(0, t_get_str(self->fd, "hello", &copy2));
	EXPECT_EQ(v2, copy2.version);
	cent_read(&e[0], "hello", 5, copy2.version);
	cent_put(&e[1], "hello", 5, bye, strlen(bye));
	ASSERT_EQ(0, t_commit(self->fd, e, 2, &v3, &conflict));
	EXPECT_LT(v2, v3);
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	EXPECT_STR_VAL(self->fd, "hello", bye);
}

/* An Axon Collection: a snapshot of some keys, committed as one. */
struct coll {
	int n;
	const char *key[8];
	__u64 version[8];
	bool present[8];
	__s64 val[8];
	bool dirty[8];
	__s64 le[8];
};

static int coll_using(int fd, struct coll *c, int n, const char *const *keys)
{
	struct stmdev_read_ent re[8];
	__u64 buf[8][2];
	int i, ret;

	memset(c, 0, sizeof(*c));
	c->n = n;
	for (i = 0; i < n; i++) {
		c->key[i] = keys[i];
		rent_init(&re[i], keys[i], strlen(keys[i]), buf[i], sizeof(buf[i]));
	}
	ret = t_read(fd, re, n, NULL);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		c->version[i] = re[i].version;
		c->present[i] = re[i].flags & STMDEV_RENT_PRESENT;
		if (c->present[i] && re[i].val_len != 8)
			return -EMSGSIZE;
		c->val[i] = c->present[i] ? t_le64(buf[i]) : 0;
	}
	return 0;
}

static int coll_idx(const struct coll *c, const char *key)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->key[i], key))
			return i;
	return -1;
}

static void coll_set(struct coll *c, const char *key, __s64 v)
{
	int i = coll_idx(c, key);

	c->val[i] = v;
	c->dirty[i] = true;
}

static __s64 coll_get(const struct coll *c, const char *key)
{
	return c->val[coll_idx(c, key)];
}

/*
 * Collection.commit: every value is validated; only dirty ones are
 * written.  Entries in collection order: dirty keys as PUT+CHECK, clean
 * keys as READ.
 */
static int coll_commit(int fd, struct coll *c, __u64 *version, __u32 *conflict)
{
	struct stmdev_commit_ent e[8];
	int i, ret;

	for (i = 0; i < c->n; i++) {
		__u32 kl = strlen(c->key[i]);

		if (c->dirty[i]) {
			c->le[i] = (__s64)htole64((__u64)c->val[i]);
			cent_put_check(&e[i], c->key[i], kl, &c->le[i], 8,
				       c->version[i]);
		} else {
			cent_read(&e[i], c->key[i], kl, c->version[i]);
		}
	}
	ret = t_commit(fd, e, c->n, version, conflict);
	if (ret == 0)
		for (i = 0; i < c->n; i++)
			if (c->dirty[i]) {
				c->version[i] = *version;
				c->dirty[i] = false;
			}
	return ret;
}

TEST_F(store, axon_collection)
{
	static const char *const keys[] = { "account_one", "account_two",
					    "myaccount" };
	struct t_val absent;
	struct coll d;
	__u64 v1, v2, ver;
	__u32 conflict;

	/* D = S.using(...); set two of three; D.commit() */
	ASSERT_EQ(0, coll_using(self->fd, &d, 3, keys));
	EXPECT_FALSE(d.present[0] || d.present[1] || d.present[2]);
	coll_set(&d, "account_one", 50);
	coll_set(&d, "account_two", 100);
	ASSERT_EQ(0, coll_commit(self->fd, &d, &v1, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);

	/* S.dump(): both written at one version, myaccount still absent */
	EXPECT_EQ(50, GET_I64(self->fd, "account_one", &ver));
	EXPECT_EQ(v1, ver);
	EXPECT_EQ(100, GET_I64(self->fd, "account_two", &ver));
	EXPECT_EQ(v1, ver);
	ASSERT_EQ(0, t_get_str(self->fd, "myaccount", &absent));
	EXPECT_FALSE(absent.present);

	/* D = S.using(...); myaccount = one + two; one = two = 0 */
	ASSERT_EQ(0, coll_using(self->fd, &d, 3, keys));
	coll_set(&d, "myaccount", coll_get(&d, "account_one") +
		 coll_get(&d, "account_two"));
	coll_set(&d, "account_one", 0);
	coll_set(&d, "account_two", 0);
	ASSERT_EQ(0, coll_commit(self->fd, &d, &v2, NULL));
	EXPECT_LT(v1, v2);

	EXPECT_EQ(0, GET_I64(self->fd, "account_one", &ver));
	EXPECT_EQ(v2, ver);
	EXPECT_EQ(0, GET_I64(self->fd, "account_two", &ver));
	EXPECT_EQ(v2, ver);
	EXPECT_EQ(150, GET_I64(self->fd, "myaccount", &ver));
	EXPECT_EQ(v2, ver);
}

/*
 * Axon's "What can (possibly) go wrong?": D and E overlap; E commits
 * first (#2), so D's commit (#3) fails with ConcurrentUpdate and none of
 * its writes is visible.
 */
TEST_F(store, axon_what_can_go_wrong)
{
	static const char *const dkeys[] = { "account_one", "account_two",
					     "myaccount" };
	static const char *const ekeys[] = { "account_one", "myaccount" };
	struct stmdev_info info;
	struct coll d, e;
	__u64 v1, v2, ver, clock_before;
	__u32 conflict;

	ASSERT_EQ(0, coll_using(self->fd, &d, 3, dkeys));
	coll_set(&d, "myaccount", 0);
	coll_set(&d, "account_one", 50);
	coll_set(&d, "account_two", 100);
	ASSERT_EQ(0, coll_commit(self->fd, &d, &v1, NULL));		/* #1 */

	ASSERT_EQ(0, coll_using(self->fd, &d, 3, dkeys));
	coll_set(&d, "myaccount", coll_get(&d, "account_one") +
		 coll_get(&d, "account_two"));
	ASSERT_EQ(0, coll_using(self->fd, &e, 2, ekeys));
	coll_set(&e, "myaccount", coll_get(&e, "myaccount") - 100);
	coll_set(&e, "account_one", 100);
	ASSERT_EQ(0, coll_commit(self->fd, &e, &v2, NULL));		/* #2 */
	EXPECT_LT(v1, v2);

	ASSERT_EQ(0, t_info(self->fd, &info));
	clock_before = info.clock;
	coll_set(&d, "account_one", 0);
	coll_set(&d, "account_two", 0);
	ASSERT_EQ(-ESTALE, coll_commit(self->fd, &d, &ver, &conflict));	/* #3 */
	/* account_one (index 0) is the first entry whose version differs */
	EXPECT_EQ(0U, conflict);

	/* S.dump(): exactly the state after #2 */
	EXPECT_EQ(100, GET_I64(self->fd, "account_one", &ver));
	EXPECT_EQ(v2, ver);
	EXPECT_EQ(100, GET_I64(self->fd, "account_two", &ver));
	EXPECT_EQ(v1, ver);
	EXPECT_EQ(-100, GET_I64(self->fd, "myaccount", &ver));
	EXPECT_EQ(v2, ver);
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(3ULL, info.keys);
	/* a failed command changes nothing, the commit clock included */
	EXPECT_EQ(clock_before, info.clock);

	/* "you should redo the transaction": it now succeeds */
	ASSERT_EQ(0, coll_using(self->fd, &d, 3, dkeys));
	coll_set(&d, "myaccount", coll_get(&d, "account_one") +
		 coll_get(&d, "account_two"));
	coll_set(&d, "account_one", 0);
	coll_set(&d, "account_two", 0);
	ASSERT_EQ(0, coll_commit(self->fd, &d, &ver, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	EXPECT_EQ(200, GET_I64(self->fd, "myaccount", NULL));
	EXPECT_EQ(0, GET_I64(self->fd, "account_one", NULL));
	EXPECT_EQ(0, GET_I64(self->fd, "account_two", NULL));
}

TEST_F(store, conflict_reports_first_stale_entry)
{
	struct stmdev_commit_ent e[5];
	struct t_val a, b, c, d;
	__u32 conflict;
	__u64 ver;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "d", "1", NULL));
	ASSERT_EQ(0, t_get_str(self->fd, "a", &a));
	ASSERT_EQ(0, t_get_str(self->fd, "b", &b));
	ASSERT_EQ(0, t_get_str(self->fd, "c", &c));
	ASSERT_EQ(0, t_get_str(self->fd, "d", &d));
	/* b and d change behind our back */
	ASSERT_EQ(0, t_put_str(self->fd, "d", "2", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "2", NULL));

	cent_read(&e[0], "a", 1, a.version);
	cent_put(&e[1], "c", 1, "new", 3);
	cent_read(&e[2], "b", 1, b.version);
	cent_put(&e[3], "e", 1, "new", 3);
	cent_read(&e[4], "d", 1, d.version);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 5, NULL, &conflict));
	EXPECT_EQ(2U, conflict);
	ASSERT_EQ(0, t_get_str(self->fd, "c", &c));
	EXPECT_FALSE(c.present);
	ASSERT_EQ(0, t_get_str(self->fd, "e", &c));
	EXPECT_FALSE(c.present);

	/* a written key expected absent (version 0) that exists: stale */
	cent_put_check(&e[0], "a", 1, "x", 1, 0);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	/* a READ entry expecting an absent key that is absent: fine */
	cent_read(&e[0], "zz", 2, 0);
	cent_put(&e[1], "c", 1, "ok", 2);
	ASSERT_EQ(0, t_commit(self->fd, e, 2, &ver, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	/* a READ entry expecting an absent key that now exists: stale */
	cent_read(&e[0], "c", 1, 0);
	ASSERT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
}

TEST_F(store, versions_come_from_the_commit_clock)
{
	struct stmdev_commit_ent e[3];
	struct stmdev_read_ent re[3];
	struct stmdev_info info;
	char b0[8], b1[8], b2[8];
	__u64 prev = 0, ver, clock, rover;
	int i;

	for (i = 0; i < 20; i++) {
		char val[16];

		snprintf(val, sizeof(val), "%d", i);
		cent_put(&e[0], "x", 1, val, strlen(val));
		cent_put(&e[1], "y", 1, val, strlen(val));
		ASSERT_EQ(0, t_commit(self->fd, e, 2, &ver, NULL));
		ASSERT_LT(prev, ver);
		prev = ver;
	}
	/* every key written by one commit carries that commit's version */
	rent_init(&re[0], "x", 1, b0, sizeof(b0));
	rent_init(&re[1], "y", 1, b1, sizeof(b1));
	rent_init(&re[2], "never", 5, b2, sizeof(b2));
	re[2].version = 77;
	ASSERT_EQ(0, t_read(self->fd, re, 3, &clock));
	EXPECT_EQ(ver, re[0].version);
	EXPECT_EQ(ver, re[1].version);
	EXPECT_EQ(0ULL, re[2].version);
	EXPECT_EQ(0U, re[2].flags & STMDEV_RENT_PRESENT);
	EXPECT_LE(ver, clock);
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_LE(ver, info.clock);

	/* a read-only commit reports a clock at which its reads held */
	cent_read(&e[0], "x", 1, ver);
	cent_read(&e[1], "never", 5, 0);
	ASSERT_EQ(0, t_commit(self->fd, e, 2, &rover, NULL));
	EXPECT_LE(ver, rover);
	/* and wrote nothing */
	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(2ULL, info.keys);

	/* deleting and re-creating a key never reuses a version */
	ASSERT_EQ(0, t_del(self->fd, "x", 1, &prev));
	EXPECT_LT(ver, prev);
	ASSERT_EQ(0, t_put(self->fd, "x", 1, "again", 5, &ver));
	EXPECT_LT(prev, ver);
}

TEST_F(store, read_too_small_buffer_is_e2big_with_lengths)
{
	struct stmdev_read_ent re[4];
	char big[100], small[10], b1[10], b2[10], b3[10];
	char out[100];
	__u64 vbig, vsmall, vempty;

	memset(big, 'B', sizeof(big));
	ASSERT_EQ(0, t_put(self->fd, "big", 3, big, sizeof(big), &vbig));
	ASSERT_EQ(0, t_put(self->fd, "small", 5, "12345", 5, &vsmall));
	ASSERT_EQ(0, t_put(self->fd, "empty", 5, "", 0, &vempty));

	rent_init(&re[0], "small", 5, b1, sizeof(b1));
	rent_init(&re[1], "big", 3, small, sizeof(small));
	rent_init(&re[2], "empty", 5, b2, 0);
	rent_init(&re[3], "absent", 6, b3, sizeof(b3));
	ASSERT_EQ(-E2BIG, t_read(self->fd, re, 4, NULL));
	/* every entry's length and version is filled, not just the big one */
	EXPECT_EQ(5U, re[0].val_len);
	EXPECT_EQ(vsmall, re[0].version);
	EXPECT_EQ(100U, re[1].val_len);
	EXPECT_EQ(vbig, re[1].version);
	EXPECT_EQ((__u32)STMDEV_RENT_PRESENT, re[1].flags & STMDEV_RENT_PRESENT);
	EXPECT_EQ(0U, re[2].val_len);
	EXPECT_EQ(vempty, re[2].version);
	EXPECT_EQ(0ULL, re[3].version);

	/* grow exactly to the reported length and retry */
	rent_init(&re[0], "small", 5, b1, sizeof(b1));
	rent_init(&re[1], "big", 3, out, 100);
	rent_init(&re[2], "empty", 5, NULL, 0);
	rent_init(&re[3], "absent", 6, NULL, 0);
	ASSERT_EQ(0, t_read(self->fd, re, 4, NULL));
	EXPECT_EQ(100U, re[1].val_len);
	EXPECT_EQ(0, memcmp(out, big, sizeof(big)));
	EXPECT_EQ(0, memcmp(b1, "12345", 5));
	/* empty is present with length 0; absent is not present */
	EXPECT_EQ((__u32)STMDEV_RENT_PRESENT, re[2].flags & STMDEV_RENT_PRESENT);
	EXPECT_EQ(0U, re[2].val_len);
	EXPECT_EQ(0U, re[3].flags & STMDEV_RENT_PRESENT);
	EXPECT_EQ(0U, re[3].val_len);
	EXPECT_EQ(0ULL, re[3].version);
}

TEST_F(store, read_at_sees_one_instant)
{
	struct stmdev_read_ent re[2];
	char b0[8], b1[8];
	__u64 clock;
	__u32 conflict = 99;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "1", NULL));
	rent_init(&re[0], "a", 1, b0, sizeof(b0));
	ASSERT_EQ(0, t_read(self->fd, re, 1, &clock));

	/* nothing changed since `clock`: READ_AT succeeds */
	rent_init(&re[0], "a", 1, b0, sizeof(b0));
	rent_init(&re[1], "b", 1, b1, sizeof(b1));
	ASSERT_EQ(0, t_read_at(self->fd, re, 2, clock, &conflict));

	ASSERT_EQ(0, t_put_str(self->fd, "b", "2", NULL));
	rent_init(&re[0], "a", 1, b0, sizeof(b0));
	rent_init(&re[1], "b", 1, b1, sizeof(b1));
	ASSERT_EQ(-ESTALE, t_read_at(self->fd, re, 2, clock, &conflict));
	EXPECT_EQ(1U, conflict);
	/* an unchanged key still reads at that clock */
	rent_init(&re[0], "a", 1, b0, sizeof(b0));
	ASSERT_EQ(0, t_read_at(self->fd, re, 1, clock, &conflict));
	/* a key created after the clock is a change too */
	ASSERT_EQ(0, t_put_str(self->fd, "c", "new", NULL));
	rent_init(&re[0], "c", 1, b0, sizeof(b0));
	ASSERT_EQ(-ESTALE, t_read_at(self->fd, re, 1, clock, &conflict));
	EXPECT_EQ(0U, conflict);
}

TEST_F(store, add_i64_commutes)
{
	struct stmdev_commit_ent e[2];
	struct t_val stale;
	__s64 d5 = (__s64)htole64(5), dm8 = (__s64)htole64((__u64)-8);
	__s64 fetch, one = (__s64)htole64(1);
	__u64 ver;
	__u32 conflict;

	/* a missing key counts as 0 */
	cent_add(&e[0], "ctr", 3, &d5);
	ASSERT_EQ(0, t_commit(self->fd, e, 1, &ver, NULL));
	EXPECT_EQ(5, GET_I64(self->fd, "ctr", NULL));

	/* FETCH writes the result back to val_addr */
	fetch = dm8;
	cent_add(&e[0], "ctr", 3, &fetch);
	e[0].flags = STMDEV_CENT_FETCH;
	ASSERT_EQ(0, t_commit(self->fd, e, 1, &ver, NULL));
	EXPECT_EQ(-3, (__s64)le64toh((__u64)fetch));
	EXPECT_EQ(-3, GET_I64(self->fd, "ctr", NULL));

	/* ADD needs no read-set entry and never conflicts */
	ASSERT_EQ(0, t_get_str(self->fd, "ctr", &stale));
	ASSERT_EQ(0, t_put_i64(self->fd, "ctr", 100, NULL));
	cent_add(&e[0], "ctr", 3, &d5);
	cent_put(&e[1], "other", 5, "o", 1);
	ASSERT_EQ(0, t_commit(self->fd, e, 2, &ver, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	EXPECT_EQ(105, GET_I64(self->fd, "ctr", NULL));
	ASSERT_EQ(0, t_get_str(self->fd, "other", &stale));
	EXPECT_TRUE(stale.present);

	/* ADD onto a value that is not 8 bytes: EINVAL, nothing changed */
	ASSERT_EQ(0, t_put_str(self->fd, "str", "abc", NULL));
	cent_put(&e[0], "other", 5, "changed", 7);
	cent_add(&e[1], "str", 3, &d5);
	ASSERT_EQ(-EINVAL, t_commit(self->fd, e, 2, NULL, NULL));
	EXPECT_STR_VAL(self->fd, "str", "abc");
	EXPECT_STR_VAL(self->fd, "other", "o");

	/* wrap-around is two's complement, not an error */
	ASSERT_EQ(0, t_put_i64(self->fd, "ctr", INT64_MAX, NULL));
	cent_add(&e[0], "ctr", 3, &one);
	ASSERT_EQ(0, t_commit(self->fd, e, 1, NULL, NULL));
	EXPECT_EQ(INT64_MIN, GET_I64(self->fd, "ctr", NULL));
}

TEST_F(store, binary_and_long_keys)
{
	unsigned char k255[STMDEV_KEY_MAX], kbin[4] = { 0, 0xff, 0, 'a' };
	struct t_val v;
	struct stmdev_info info;

	memset(k255, 0x80, sizeof(k255));
	ASSERT_EQ(0, t_put(self->fd, k255, sizeof(k255), "long", 4, NULL));
	ASSERT_EQ(0, t_put(self->fd, kbin, sizeof(kbin), "bin", 3, NULL));
	/* prefixes and NUL-extended keys are different keys */
	ASSERT_EQ(0, t_put(self->fd, "a", 1, "one", 3, NULL));
	ASSERT_EQ(0, t_put(self->fd, "a\0", 2, "two", 3, NULL));
	ASSERT_EQ(0, t_put(self->fd, k255, sizeof(k255) - 1, "short", 5, NULL));

	ASSERT_EQ(0, t_get(self->fd, k255, sizeof(k255), &v));
	ASSERT_TRUE(v.present);
	EXPECT_EQ(0, memcmp(v.buf, "long", 4));
	ASSERT_EQ(0, t_get(self->fd, k255, sizeof(k255) - 1, &v));
	EXPECT_EQ(0, memcmp(v.buf, "short", 5));
	ASSERT_EQ(0, t_get(self->fd, kbin, sizeof(kbin), &v));
	EXPECT_EQ(0, memcmp(v.buf, "bin", 3));
	ASSERT_EQ(0, t_get(self->fd, kbin, 2, &v));
	EXPECT_FALSE(v.present);
	ASSERT_EQ(0, t_get(self->fd, "a", 1, &v));
	EXPECT_EQ(0, memcmp(v.buf, "one", 3));
	ASSERT_EQ(0, t_get(self->fd, "a\0", 2, &v));
	EXPECT_EQ(0, memcmp(v.buf, "two", 3));

	ASSERT_EQ(0, t_info(self->fd, &info));
	EXPECT_EQ(5ULL, info.keys);
	EXPECT_EQ((__u64)(255 + 4 + 4 + 3 + 1 + 3 + 2 + 3 + 254 + 5), info.bytes);
}

TEST_F(store, largest_value_round_trips)
{
	struct stmdev_features f;
	struct stmdev_read_ent re;
	unsigned char *in, *out;
	__u32 max, i;
	__u64 ver;

	ASSERT_EQ(0, t_features(self->fd, &f));
	max = f.max_value_size;
	ASSERT_LT(0U, max);
	if (max > (16U << 20))
		max = 16U << 20;
	in = malloc(max);
	out = malloc(max);
	ASSERT_NE(NULL, in);
	ASSERT_NE(NULL, out);
	for (i = 0; i < max; i++)
		in[i] = (unsigned char)(i * 7 + (i >> 8));
	ASSERT_EQ(0, t_put(self->fd, "max", 3, in, max, &ver));
	memset(out, 0, max);
	rent_init(&re, "max", 3, out, max);
	ASSERT_EQ(0, t_read(self->fd, &re, 1, NULL));
	EXPECT_EQ(max, re.val_len);
	EXPECT_EQ(ver, re.version);
	EXPECT_EQ(0, memcmp(in, out, max));
	free(in);
	free(out);
}

struct list_seen {
	int n;
	char key[16][32];
	__u64 version[16];
	__u32 val_len[16];
	int bad;
};

static void list_collect(const struct stmdev_key_rec *rec,
			 const unsigned char *key, void *arg)
{
	struct list_seen *s = arg;

	if (s->n >= 16 || rec->key_len >= 32) {
		s->bad++;
		return;
	}
	memcpy(s->key[s->n], key, rec->key_len);
	s->key[s->n][rec->key_len] = 0;
	s->version[s->n] = rec->version;
	s->val_len[s->n] = rec->val_len;
	s->n++;
}

TEST_F(store, list_keys_with_cursor)
{
	static const char *const keys[] = { "k", "key-two", "key-three-33",
					    "a-rather-longer-key-4", "e" };
	static const char *const vals[] = { "", "v", "value", "0123456789", "x" };
	__u64 vers[5], cursor;
	unsigned char buf[512] __attribute__((aligned(8)));
	struct list_seen seen;
	__u32 count;
	int i, j, calls;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, t_put_str(self->fd, keys[i], vals[i], &vers[i]));
	}
	ASSERT_EQ(0, t_del(self->fd, "e", 1, NULL));	/* deleted: not listed */

	/* a buffer smaller than one record: E2BIG */
	cursor = 0;
	ASSERT_EQ(-E2BIG, t_list(self->fd, &cursor, buf,
				   sizeof(struct stmdev_key_rec), &count));

	/* all at once */
	memset(&seen, 0, sizeof(seen));
	cursor = 0;
	for (calls = 0; calls < 100; calls++) {
		ASSERT_EQ(0, t_list(self->fd, &cursor, buf, sizeof(buf), &count));
		ASSERT_EQ((int)count, t_list_walk(buf, sizeof(buf), count,
						    list_collect, &seen));
		if (!cursor)
			break;
	}
	ASSERT_LT(calls, 100);
	ASSERT_EQ(0, seen.bad);
	ASSERT_EQ(4, seen.n);
	for (i = 0; i < 4; i++) {
		int found = 0;

		for (j = 0; j < seen.n; j++) {
			if (strcmp(seen.key[j], keys[i]))
				continue;
			found++;
			EXPECT_EQ(vers[i], seen.version[j]);
			EXPECT_EQ((__u32)strlen(vals[i]), seen.val_len[j]);
		}
		EXPECT_EQ(1, found) TH_LOG("key %s found %d times", keys[i], found);
	}

	/* exactly one record's worth of buffer at a time */
	memset(&seen, 0, sizeof(seen));
	cursor = 0;
	for (calls = 0; calls < 100; calls++) {
		/* the largest record: 16 + 21 bytes of key, padded to 40 */
		ASSERT_EQ(0, t_list(self->fd, &cursor, buf, t_rec_size(21),
				      &count));
		ASSERT_GE(1U, count);
		ASSERT_EQ((int)count, t_list_walk(buf, t_rec_size(21), count,
						    list_collect, &seen));
		if (!cursor)
			break;
	}
	ASSERT_LT(calls, 100);
	EXPECT_EQ(4, seen.n);
	for (i = 0; i < seen.n; i++) {
		for (j = i + 1; j < seen.n; j++) {
			EXPECT_STRNE(seen.key[i], seen.key[j]);
		}
	}
}

TEST(list_on_empty_store)
{
	char name[STMDEV_NAME_MAX];
	unsigned char buf[64] __attribute__((aligned(8)));
	__u64 cursor = 0;
	__u32 count = 77;
	int fd;

	t_name(name, sizeof(name), "empty");
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_list(fd, &cursor, buf, sizeof(buf), &count));
	EXPECT_EQ(0U, count);
	EXPECT_EQ(0ULL, cursor);
	close(fd);
	t_unlink(name);
}

TEST_HARNESS_MAIN
