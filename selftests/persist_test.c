// SPDX-License-Identifier: GPL-2.0
/*
 * persist_test.c - EXPORT and IMPORT (STMDEV_F_PERSIST): a whole store out
 * at one instant while other processes commit, and into an empty store
 * with every key, value and version; all-or-nothing refusals (a non-empty
 * store, bad records, a key twice, the per-user limit, a read-only attach),
 * reserved fields and cursors.
 */
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define ACCOUNTS	64
#define START		1000
#define WORKERS		3

/* One record as EXPORT writes it. */
struct rec {
	__u64 version;
	__u32 klen, vlen;
	unsigned char key[STMDEV_KEY_MAX];
	unsigned char val[4096];
};

static size_t rec_size(__u32 klen, __u32 vlen)
{
	return sizeof(struct stmdev_key_rec) + ((klen + vlen + 7) & ~7u);
}

/* Export the store of @fd in calls of @chunk bytes into @out (cap recs). */
static int export_all(int fd, __u32 chunk, struct rec *out, int cap,
		      __u64 *clock)
{
	struct stmdev_export e;
	unsigned char *buf = malloc(chunk);
	int n = 0, calls = 0, ret;

	if (!buf)
		return -ENOMEM;
	memset(&e, 0, sizeof(e));
	do {
		size_t off = 0;
		__u32 i;

		e.addr = t_ptr(buf);
		e.len = chunk;
		ret = t_ioctl(fd, STMDEV_IOC_EXPORT, &e);
		if (ret < 0)
			goto out;
		for (i = 0; i < e.count; i++) {
			struct stmdev_key_rec h;

			memcpy(&h, buf + off, sizeof(h));
			if (n == cap || h.key_len > STMDEV_KEY_MAX ||
			    h.val_len > sizeof(out->val)) {
				ret = -EOVERFLOW;
				goto out;
			}
			out[n].version = h.version;
			out[n].klen = h.key_len;
			out[n].vlen = h.val_len;
			memcpy(out[n].key, buf + off + sizeof(h), h.key_len);
			memcpy(out[n].val, buf + off + sizeof(h) + h.key_len,
			       h.val_len);
			off += rec_size(h.key_len, h.val_len);
			n++;
		}
		if (calls++ > 100000) {
			ret = -ELOOP;
			goto out;
		}
	} while (e.cursor);
	*clock = e.clock;
	ret = n;
out:
	free(buf);
	return ret;
}

/* Records back into the EXPORT format: returns the bytes used. */
static size_t pack(const struct rec *r, int n, unsigned char *buf)
{
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct stmdev_key_rec h = {
			.version = r[i].version,
			.key_len = r[i].klen,
			.val_len = r[i].vlen,
		};
		size_t sz = rec_size(h.key_len, h.val_len);

		memset(buf + off, 0, sz);
		memcpy(buf + off, &h, sizeof(h));
		memcpy(buf + off + sizeof(h), r[i].key, h.key_len);
		memcpy(buf + off + sizeof(h) + h.key_len, r[i].val, h.val_len);
		off += sz;
	}
	return off;
}

static int import(int fd, const void *buf, __u64 len, __u32 count,
		  __u64 *clock)
{
	struct stmdev_import im;
	int ret;

	memset(&im, 0, sizeof(im));
	im.addr = t_ptr(buf);
	im.len = len;
	im.count = count;
	ret = t_ioctl(fd, STMDEV_IOC_IMPORT, &im);
	if (clock)
		*clock = im.clock;
	return ret;
}

static __u64 nkeys(int fd)
{
	struct stmdev_stats st;

	if (t_stats(fd, &st))
		return ~0ULL;
	return st.keys;
}

static bool has_persist(void)
{
	struct stmdev_features f;
	int fd = t_open();
	bool ok;

	if (fd < 0)
		return false;
	ok = !t_features(fd, &f) && (f.features & STMDEV_F_PERSIST);
	close(fd);
	return ok;
}

FIXTURE(pst) {
	int fd, fd2;
	char name[STMDEV_NAME_MAX], name2[STMDEV_NAME_MAX];
	struct rec *r;
	unsigned char *buf;
};

FIXTURE_SETUP(pst)
{
	self->fd = self->fd2 = -1;
	self->r = NULL;
	self->buf = NULL;
	if (!has_persist())
		SKIP(return, "no STMDEV_F_PERSIST in GET_FEATURES");
	t_name(self->name, sizeof(self->name), "pst");
	t_name(self->name2, sizeof(self->name2), "pst");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				 STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	self->fd2 = t_open_attach(self->name2, STMDEV_ATTACH_CREAT |
				  STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd2);
	self->r = calloc(1024, sizeof(*self->r));
	ASSERT_NE(NULL, self->r);
	self->buf = malloc(1024 * sizeof(*self->r));
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(pst)
{
	if (self->fd >= 0) {
		close(self->fd);
		t_unlink(self->name);
	}
	if (self->fd2 >= 0) {
		close(self->fd2);
		t_unlink(self->name2);
	}
	free(self->r);
	free(self->buf);
}

static void acct_name(char *k, int i)
{
	snprintf(k, 16, "acct%03d", i);
}

/* Transfers between random accounts until *stop. */
static void worker(const char *name, volatile int *stop, unsigned int seed)
{
	int fd = t_open_attach(name, 0, 0);
	long iter;

	if (fd < 0)
		_exit(1);
	for (iter = 0; !*stop && iter < 10000000; iter++) {
		struct stmdev_commit_ent e[2];
		char a[16], b[16];
		__s64 d = (__s64)htole64(rand_r(&seed) % 50 + 1);
		__s64 nd = (__s64)htole64(-(__s64)le64toh(d));
		int x = rand_r(&seed) % ACCOUNTS;
		int y = (x + 1 + rand_r(&seed) % (ACCOUNTS - 1)) % ACCOUNTS;

		acct_name(a, x);
		acct_name(b, y);
		cent_add(&e[0], a, strlen(a), &nd);
		cent_add(&e[1], b, strlen(b), &d);
		if (t_commit(fd, e, 2, NULL, NULL))
			_exit(2);
	}
	_exit(0);
}

/*
 * Save under a bank load: each export is one instant, so the total is
 * conserved; the import into a new store has every key, value and
 * version, and its clock is above them all.
 */
TEST_F(pst, bank_export_import)
{
	volatile int *stop;
	pid_t pids[WORKERS];
	__u64 clock, clock2, maxv = 0, v;
	int i, j, n = 0, n2, round, status, overlapped = 0;
	long spins;
	size_t len;
	char k[16];

	for (i = 0; i < ACCOUNTS; i++) {
		acct_name(k, i);
		ASSERT_EQ(0, t_put_i64(self->fd, k, START, NULL));
	}
	stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)stop);
	*stop = 0;
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			worker(self->name, stop, i + 1);
	}
	/* Workers under way first: some transfers committed. */
	for (spins = 0; spins < 10000000; spins++) {
		struct stmdev_stats st;

		ASSERT_EQ(0, t_stats(self->fd, &st));
		if (st.commits >= ACCOUNTS + 200)
			break;
		sched_yield();
	}
	/*
	 * Export until 20 exports have overlapped commits (bounded): each
	 * must still be one instant, its total conserved.
	 */
	for (round = 0; overlapped < 20 && round < 20000; round++) {
		__s64 total = 0;
		__u64 before;
		struct stmdev_stats st;

		ASSERT_EQ(0, t_stats(self->fd, &st));
		before = st.commits;
		/* 256-byte calls: several per export while commits go on. */
		n = export_all(self->fd, 256, self->r, 1024, &clock);
		ASSERT_EQ(ACCOUNTS, n);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(8U, self->r[i].vlen);
			ASSERT_GE(clock, self->r[i].version);
			total += (__s64)t_le64(self->r[i].val);
		}
		ASSERT_EQ((__s64)ACCOUNTS * START, total);
		ASSERT_EQ(0, t_stats(self->fd, &st));
		if (st.commits != before)
			overlapped++;
	}
	TH_LOG("%d exports, %d overlapped commits", round, overlapped);
	ASSERT_LT(0, overlapped);
	*stop = 1;
	for (i = 0; i < WORKERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
	}
	munmap((void *)stop, 4096);

	len = pack(self->r, n, self->buf);
	ASSERT_EQ(0, import(self->fd2, self->buf, len, n, &clock2));
	for (i = 0; i < n; i++)
		maxv = self->r[i].version > maxv ? self->r[i].version : maxv;
	ASSERT_LE(maxv, clock2);
	/* Every key, value and version, read back from the new store. */
	for (i = 0; i < n; i++) {
		struct t_val tv;

		ASSERT_EQ(0, t_get(self->fd2, self->r[i].key, self->r[i].klen,
				   &tv));
		ASSERT_TRUE(tv.present);
		EXPECT_EQ(self->r[i].version, tv.version);
		ASSERT_EQ(self->r[i].vlen, tv.len);
		EXPECT_EQ(0, memcmp(self->r[i].val, tv.buf, tv.len));
	}
	/* Exported again: the same records (in its own order). */
	n2 = export_all(self->fd2, 1 << 16, self->r + n, 1024 - n, &clock);
	ASSERT_EQ(n, n2);
	for (i = 0; i < n; i++) {
		struct rec *a = &self->r[i];

		for (j = 0; j < n2; j++) {
			struct rec *b = &self->r[n + j];

			if (a->klen == b->klen && !memcmp(a->key, b->key, a->klen))
				break;
		}
		ASSERT_GT(n2, j);
		EXPECT_EQ(a->version, self->r[n + j].version);
		EXPECT_EQ(0, memcmp(a->val, self->r[n + j].val, 8));
	}
	/* The clock resumes above the highest imported version. */
	acct_name(k, 0);
	ASSERT_EQ(0, t_put_i64(self->fd2, k, START, &v));
	ASSERT_LT(maxv, v);
}

/* Values of every size (inline and heap), one export call each. */
TEST_F(pst, sizes_and_chunks)
{
	__u64 clock, v;
	int i, n;
	size_t len;
	char k[32];
	unsigned char val[1000];

	for (i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		memset(val, i, sizeof(val));
		ASSERT_EQ(0, t_put(self->fd, k, strlen(k), val, i * 25, &v));
	}
	ASSERT_EQ(0, t_del(self->fd, "k3", 2, NULL));
	/* Smallest buffer that holds the biggest record: one at a time. */
	n = export_all(self->fd, rec_size(3, 39 * 25), self->r, 1024, &clock);
	ASSERT_EQ(39, n);
	for (i = 0; i < n; i++)
		ASSERT_NE(0, memcmp(self->r[i].key, "k3", 3));
	len = pack(self->r, n, self->buf);
	ASSERT_EQ(0, import(self->fd2, self->buf, len, n, NULL));
	ASSERT_EQ(39ULL, nkeys(self->fd2));
	for (i = 0; i < n; i++) {
		struct t_val tv;

		ASSERT_EQ(0, t_get(self->fd2, self->r[i].key, self->r[i].klen,
				   &tv));
		ASSERT_EQ(self->r[i].version, tv.version);
		ASSERT_EQ(self->r[i].vlen, tv.len);
	}
}

TEST_F(pst, refusals_change_nothing)
{
	struct stmdev_key_rec *h;
	struct t_val tv;
	__u64 clock;
	size_t len;
	int n, ro, hi;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "bb", "a value longer than inline", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "ccc", "3", NULL));
	n = export_all(self->fd, 4096, self->r, 1024, &clock);
	ASSERT_EQ(3, n);
	len = pack(self->r, n, self->buf);

	/* Into a non-empty store. */
	ASSERT_EQ(-ENOTEMPTY, import(self->fd, self->buf, len, n, NULL));
	ASSERT_EQ(3ULL, nkeys(self->fd));
	/* Truncated, a count too high or too low, trailing bytes. */
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len - 8, n, NULL));
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n + 1, NULL));
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n - 1, NULL));
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len + 8, n, NULL));
	/* Version 0, key length 0 and over STMDEV_KEY_MAX, in the last record. */
	h = (struct stmdev_key_rec *)(self->buf + len -
				       rec_size(self->r[2].klen, self->r[2].vlen));
	h->version = 0;
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n, NULL));
	h->version = 1ULL << 62;
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n, NULL));
	h->version = self->r[2].version;
	h->key_len = 0;
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n, NULL));
	h->key_len = 256;
	ASSERT_EQ(-EINVAL, import(self->fd2, self->buf, len, n, NULL));
	ASSERT_EQ(0ULL, nkeys(self->fd2));
	/*
	 * A key twice (the one with a heap value): the first inserted is
	 * taken out again, the second freed.
	 */
	for (hi = 0; hi < n && self->r[hi].klen != 2; hi++)
		;
	ASSERT_GT(n, hi);
	memcpy(&self->r[hi ? 0 : 1], &self->r[hi], sizeof(self->r[0]));
	len = pack(self->r, n, self->buf);
	ASSERT_EQ(-EEXIST, import(self->fd2, self->buf, len, n, NULL));
	ASSERT_EQ(0ULL, nkeys(self->fd2));
	ASSERT_EQ(0, t_get_str(self->fd2, "a", &tv));
	ASSERT_FALSE(tv.present);
	/* The records as exported again. */
	ASSERT_EQ(3, export_all(self->fd, 4096, self->r, 1024, &clock));
	/* A bad address. */
	ASSERT_EQ(-EFAULT, import(self->fd2, (void *)8, len, n, NULL));
	/* Read-only attach. */
	ro = t_open_attach(self->name2, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, ro);
	len = pack(self->r, 2, self->buf);
	ASSERT_EQ(-EBADF, import(ro, self->buf, len, 2, NULL));
	close(ro);
	ASSERT_EQ(0ULL, nkeys(self->fd2));
	/* And the good import still works afterwards. */
	ASSERT_EQ(0, import(self->fd2, self->buf, len, 2, NULL));
	ASSERT_EQ(2ULL, nkeys(self->fd2));
}

TEST_F(pst, reserved_fields_and_cursor)
{
	struct stmdev_export e;
	struct stmdev_import im;
	unsigned char buf[512];
	int fd;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "2", NULL));
	memset(&e, 0, sizeof(e));
	e.addr = t_ptr(buf);
	e.len = sizeof(buf);
	e.reserved = 1;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	/* A cursor no snapshot gave out. */
	e.reserved = 0;
	e.cursor = 1;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	/* Too small for one record. */
	e.cursor = 0;
	e.len = 8;
	ASSERT_EQ(-E2BIG, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	/* One record a call: cursor 2, then past the snapshot's end. */
	e.cursor = 0;
	e.len = rec_size(1, 1);
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	ASSERT_EQ(1U, e.count);
	ASSERT_EQ(2ULL, e.cursor);
	ASSERT_EQ(2ULL, e.keys);
	e.cursor = 3;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	e.cursor = 2;
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	ASSERT_EQ(1U, e.count);
	ASSERT_EQ(0ULL, e.cursor);
	/* Done: the snapshot is freed, its cursors no longer valid. */
	e.cursor = 2;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_EXPORT, &e));
	/* Not attached. */
	fd = t_open();
	ASSERT_LE(0, fd);
	e.cursor = 0;
	ASSERT_EQ(-ENOTCONN, t_ioctl(fd, STMDEV_IOC_EXPORT, &e));
	close(fd);
	/* An empty store exports nothing, cursor 0 at once. */
	memset(&e, 0, sizeof(e));
	e.addr = t_ptr(buf);
	e.len = sizeof(buf);
	ASSERT_EQ(0, t_ioctl(self->fd2, STMDEV_IOC_EXPORT, &e));
	ASSERT_EQ(0U, e.count);
	ASSERT_EQ(0ULL, e.cursor);
	ASSERT_EQ(0ULL, e.keys);
	memset(&im, 0, sizeof(im));
	im.reserved = 1;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd2, STMDEV_IOC_IMPORT, &im));
	im.reserved = 0;
	im.flags = 1;
	ASSERT_EQ(-EINVAL, t_ioctl(self->fd2, STMDEV_IOC_IMPORT, &im));
	im.flags = 0;
	/* An empty import is fine; the output-only clock is ignored on input. */
	im.clock = 12345;
	ASSERT_EQ(0, t_ioctl(self->fd2, STMDEV_IOC_IMPORT, &im));
	ASSERT_NE(12345ULL, im.clock);
}

/* Over the per-user key limit: EDQUOT, nothing imported. */
TEST_F(pst, import_over_user_limit)
{
	long long orig = t_param_get("max_keys_per_user");
	__u64 clock;
	size_t len;
	int i, n;
	char k[16];

	if (geteuid() != 0 || !t_param_writable("max_keys_per_user"))
		SKIP(return, "max_keys_per_user is not writable");
	for (i = 0; i < 20; i++) {
		snprintf(k, sizeof(k), "u%d", i);
		ASSERT_EQ(0, t_put_i64(self->fd, k, i, NULL));
	}
	n = export_all(self->fd, 4096, self->r, 1024, &clock);
	ASSERT_EQ(20, n);
	len = pack(self->r, n, self->buf);
	/* This user has 20 keys: room for 10 more only. */
	ASSERT_EQ(0, t_param_set("max_keys_per_user", 30));
	i = import(self->fd2, self->buf, len, n, NULL);
	t_param_set("max_keys_per_user", orig);
	ASSERT_EQ(-EDQUOT, i);
	ASSERT_EQ(0ULL, nkeys(self->fd2));
	ASSERT_EQ(0, import(self->fd2, self->buf, len, n, NULL));
	ASSERT_EQ(20ULL, nkeys(self->fd2));
}

/*
 * Into a store emptied by deletes: its clock is above the imported
 * versions; they are kept, and the clock returned is above the old one.
 */
TEST_F(pst, import_below_the_clock)
{
	struct stmdev_info in;
	struct t_val tv;
	__u64 clock, before;
	size_t len;
	int i, n;
	char k[16];

	ASSERT_EQ(0, t_put_str(self->fd, "x", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "y", "2", NULL));
	n = export_all(self->fd, 4096, self->r, 1024, &clock);
	ASSERT_EQ(2, n);
	for (i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "d%d", i);
		ASSERT_EQ(0, t_put_str(self->fd2, k, "v", NULL));
		ASSERT_EQ(0, t_del(self->fd2, k, strlen(k), NULL));
	}
	ASSERT_EQ(0, t_info(self->fd2, &in));
	before = in.clock;
	ASSERT_LT(clock, before);
	len = pack(self->r, n, self->buf);
	ASSERT_EQ(0, import(self->fd2, self->buf, len, n, &clock));
	ASSERT_LT(before, clock);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, t_get(self->fd2, self->r[i].key, self->r[i].klen,
				   &tv));
		ASSERT_TRUE(tv.present);
		ASSERT_EQ(self->r[i].version, tv.version);
	}
}

TEST_HARNESS_MAIN
