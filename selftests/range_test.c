// SPDX-License-Identifier: GPL-2.0
/*
 * range_test.c - phantom-safe range reads (STMDEV_F_RANGE, issue 12):
 * STMDEV_IOC_RANGE's contract (bad input, chunks with a cursor, RANGE_AT,
 * read-only attachments, per-store limit, charge), by ioctl and io_uring;
 * commits with STMDEV_OP_RANGE entries that conflict when another process
 * creates or deletes a key under the prefix, and only then (an overwrite
 * or a key elsewhere does not conflict); the same through the library
 * (stm_range(), stm_map_iterate() inside stm_atomic() rerun by a
 * concurrent insert from another process); a range of 10 keys in a store
 * of 20000 others; and range reads racing processes that create and delete
 * keys in pairs, which must always see whole pairs.
 * Skips when the module lacks STMDEV_F_RANGE.
 */
#include <liburing.h>
#include "stmdev.h"
#include "stm_test_util.h"
#include "kselftest_harness.h"
#include "uring_test_util.h"

#define RBUF		(64 << 10)
#define MAXKEYS		16384

/* The keys one walk of a range found. */
struct rset {
	int n;
	char *k[MAXKEYS];
	__u64 ver[MAXKEYS];
	__u64 version;		/* the range's */
	__u64 clock;
	__u64 members;
	int calls;
};

static void rset_free(struct rset *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->k[i]);
	r->n = 0;
}

static bool rset_has(const struct rset *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->k[i], key))
			return true;
	return false;
}

static void range_init(struct stmdev_range *a, const char *pfx, void *buf,
		       __u32 len)
{
	memset(a, 0, sizeof(*a));
	a->prefix_addr = t_ptr(pfx);
	a->prefix_len = strlen(pfx);
	a->addr = t_ptr(buf);
	a->len = len;
}

/* Append the records of one call to @r; -EPROTO when malformed. */
static int rset_add(struct rset *r, const unsigned char *buf, __u32 len,
		    __u32 count)
{
	size_t off = 0;

	for (__u32 i = 0; i < count; i++) {
		struct stmdev_key_rec rec;

		if (off + sizeof(rec) > len || r->n >= MAXKEYS)
			return -EPROTO;
		memcpy(&rec, buf + off, sizeof(rec));
		if (!rec.key_len || rec.val_len ||
		    off + t_rec_size(rec.key_len) > len)
			return -EPROTO;
		r->k[r->n] = strndup((const char *)buf + off + sizeof(rec), rec.key_len);
		r->ver[r->n++] = rec.version;
		off += t_rec_size(rec.key_len);
	}
	return 0;
}

/*
 * Every key under @pfx, in calls of @len bytes of records; @flags and
 * @clock as for RANGE.  Returns 0 or the first call's -errno.
 */
static int range_all(int fd, const char *pfx, __u32 len, __u32 flags,
		     __u64 clock, struct rset *r)
{
	unsigned char *buf = malloc(len);
	struct stmdev_range a;
	__u64 cursor = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	r->n = 0;
	r->calls = 0;
	do {
		range_init(&a, pfx, buf, len);
		a.flags = flags;
		a.clock = clock;
		a.cursor = cursor;
		a.version = r->version;
		ret = t_ioctl(fd, STMDEV_IOC_RANGE, &a);
		r->calls++;
		if (ret)
			break;
		if (!cursor) {
			r->version = a.version;
			r->clock = a.clock;
			r->members = a.members;
		}
		ret = rset_add(r, buf, len, a.count);
		if (ret)
			break;
		cursor = a.cursor;
	} while (cursor);
	free(buf);
	return ret;
}

static void cent_range(struct stmdev_commit_ent *e, const char *pfx,
		       __u64 version)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(pfx);
	e->key_len = strlen(pfx);
	e->op = STMDEV_OP_RANGE;
	e->version = version;
}

/* A child process: attach to @name, run @fn(fd, @arg), exit 0 on success. */
static int in_child(const char *name, int (*fn)(int fd, const void *arg),
		    const void *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = t_open_attach(name, 0, 0);

		_exit(fd >= 0 && !fn(fd, arg) ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -ECHILD;
	return WEXITSTATUS(st) ? -EPROTO : 0;
}

static int child_put(int fd, const void *arg)
{
	return t_put_str(fd, arg, "child", NULL);
}

static int child_del(int fd, const void *arg)
{
	return t_del(fd, arg, strlen(arg), NULL);
}

static bool has_range(void)
{
	struct stmdev_features f;
	int fd = t_open();
	bool ok;

	ok = fd >= 0 && !t_features(fd, &f) && (f.features & STMDEV_F_RANGE);
	if (fd >= 0)
		close(fd);
	return ok;
}

FIXTURE(rg) {
	char name[64];
	int fd;
};

FIXTURE_SETUP(rg)
{
	if (!has_range())
		SKIP(return, "no STMDEV_F_RANGE");
	t_name(self->name, sizeof(self->name), "range");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_put_str(self->fd, "p/a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "p/b", "2", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "pq", "3", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "q/x", "4", NULL));
}

FIXTURE_TEARDOWN(rg)
{
	if (self->fd >= 0) {
		close(self->fd);
		t_unlink(self->name);
	}
}

TEST_F(rg, feature_bit_and_bad_input)
{
	unsigned char buf[256];
	struct stmdev_range a;
	char longp[STMDEV_KEY_MAX + 2];

	range_init(&a, "p/", buf, sizeof(buf));
	a.flags = 2;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	range_init(&a, "p/", buf, sizeof(buf));
	a.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	range_init(&a, "p/", buf, sizeof(buf));
	a.prefix_len = 0;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	memset(longp, 'x', sizeof(longp));
	longp[sizeof(longp) - 1] = '\0';
	range_init(&a, longp, buf, sizeof(buf));
	EXPECT_EQ((__u64)(STMDEV_KEY_MAX + 1), a.prefix_len);
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	/* A clock the store has not reached */
	range_init(&a, "p/", buf, sizeof(buf));
	a.flags = STMDEV_RANGE_AT;
	a.clock = 1ULL << 62;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	/* A cursor for a prefix never declared */
	range_init(&a, "never/", buf, sizeof(buf));
	a.cursor = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	/* Not even one record's room */
	range_init(&a, "p/", buf, 8);
	EXPECT_EQ(-E2BIG, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	range_init(&a, "p/", (void *)8, sizeof(buf));
	EXPECT_EQ(-EFAULT, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	a.prefix_addr = 8;
	EXPECT_EQ(-EFAULT, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	/* A cursor no call gave out */
	range_init(&a, "p/", buf, sizeof(buf));
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	a.cursor = 1000;
	EXPECT_EQ(-EINVAL, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
}

TEST_F(rg, reads_exactly_the_prefix)
{
	struct rset r = {};
	__u64 v;

	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(2, r.n);
	EXPECT_EQ((__u64)(2), r.members);
	EXPECT_TRUE(rset_has(&r, "p/a"));
	EXPECT_TRUE(rset_has(&r, "p/b"));
	EXPECT_FALSE(rset_has(&r, "pq"));
	EXPECT_NE((__u64)(0), r.version);
	EXPECT_LE(r.version, r.clock);
	rset_free(&r);
	/* "p" covers "pq" too; a prefix with no key is empty */
	ASSERT_EQ(0, range_all(self->fd, "p", RBUF, 0, 0, &r));
	EXPECT_EQ(3, r.n);
	rset_free(&r);
	ASSERT_EQ(0, range_all(self->fd, "zz", RBUF, 0, 0, &r));
	EXPECT_EQ(0, r.n);
	rset_free(&r);
	/* Creating under the prefix moves its version; an overwrite does not */
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	v = r.version;
	rset_free(&r);
	ASSERT_EQ(0, t_put_str(self->fd, "p/a", "11", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "q/y", "5", NULL));
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(v, r.version);
	rset_free(&r);
	ASSERT_EQ(0, t_put_str(self->fd, "p/c", "6", &v));
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(v, r.version);	/* the creating commit's version */
	EXPECT_EQ(3, r.n);
	rset_free(&r);
	ASSERT_EQ(0, t_del(self->fd, "p/a", 3, &v));
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(v, r.version);
	EXPECT_EQ(2, r.n);
	EXPECT_FALSE(rset_has(&r, "p/a"));
	rset_free(&r);
	/* Deleting an absent key changes nothing */
	ASSERT_EQ(0, t_del(self->fd, "p/zz", 4, NULL));
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_LT(r.version, r.clock);
	EXPECT_EQ(v, r.version);
	rset_free(&r);
}

TEST_F(rg, chunks_and_range_at)
{
	struct stmdev_commit_ent e[64];
	char keys[300][16];
	unsigned char buf[128];
	struct stmdev_range a;
	struct rset r = {};
	__u64 clock;
	int i, j;

	for (i = 0; i < 300; i += 50) {
		for (j = 0; j < 50; j++) {
			snprintf(keys[i + j], sizeof(keys[0]), "c/%04d", i + j);
			cent_put(&e[j], keys[i + j], strlen(keys[i + j]), "v", 1);
		}
		ASSERT_EQ(0, t_commit(self->fd, e, 50, NULL, NULL));
	}
	/* 128 bytes: a few records a call */
	ASSERT_EQ(0, range_all(self->fd, "c/", sizeof(buf), 0, 0, &r));
	EXPECT_EQ(300, r.n);
	EXPECT_EQ((__u64)(300), r.members);
	EXPECT_LT(50, r.calls);
	for (i = 0; i < 300; i++)
		EXPECT_TRUE(rset_has(&r, keys[i]));
	for (i = 1; i < r.n; i++)
		for (j = 0; j < i; j++)
			ASSERT_STRNE(r.k[i], r.k[j]);
	clock = r.clock;
	rset_free(&r);

	/* A change between two calls: ESTALE on the next */
	range_init(&a, "c/", buf, sizeof(buf));
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));
	ASSERT_NE((__u64)(0), a.cursor);
	ASSERT_EQ(0, t_put_str(self->fd, "c/new", "x", NULL));
	a.addr = t_ptr(buf);
	a.len = sizeof(buf);
	EXPECT_EQ(-ESTALE, t_ioctl(self->fd, STMDEV_IOC_RANGE, &a));

	/* RANGE_AT: at the old clock the range has changed since */
	EXPECT_EQ(-ESTALE, range_all(self->fd, "c/", RBUF, STMDEV_RANGE_AT, clock, &r));
	rset_free(&r);
	/* ... but an overwrite of a key elsewhere is no change */
	ASSERT_EQ(0, range_all(self->fd, "c/", RBUF, 0, 0, &r));
	clock = r.clock;
	rset_free(&r);
	ASSERT_EQ(0, t_put_str(self->fd, "q/x", "again", NULL));
	ASSERT_EQ(0, range_all(self->fd, "c/", RBUF, STMDEV_RANGE_AT, clock, &r));
	EXPECT_EQ(301, r.n);
	EXPECT_EQ(clock, r.clock);
	rset_free(&r);
	/* ... and an overwrite of a member is newer than the clock: ESTALE */
	ASSERT_EQ(0, t_put_str(self->fd, "c/0007", "w", NULL));
	EXPECT_EQ(-ESTALE, range_all(self->fd, "c/", RBUF, STMDEV_RANGE_AT, clock, &r));
	rset_free(&r);
}

/*
 * The phantom: A reads the range, another process changes it, A commits
 * a write elsewhere with the range's version.  Returns the commit's result.
 */
static int phantom(int fd, const char *name, int (*fn)(int, const void *),
		   const char *key, __u32 *conflict)
{
	struct stmdev_commit_ent e[2];
	struct rset r = {};
	int ret;

	ret = range_all(fd, "p/", RBUF, 0, 0, &r);
	rset_free(&r);
	if (ret)
		return -1000 + ret;
	if (in_child(name, fn, key))
		return -2000;
	cent_put(&e[0], "elsewhere", 9, "x", 1);
	cent_range(&e[1], "p/", r.version);
	return t_commit(fd, e, 2, NULL, conflict);
}

TEST_F(rg, phantoms_conflict_and_nothing_else)
{
	__u32 conflict;

	/* Another process creates a key under the prefix */
	EXPECT_EQ(-ESTALE, phantom(self->fd, self->name, child_put, "p/new", &conflict));
	EXPECT_EQ((__u64)(1), conflict);
	/* ... or deletes one */
	EXPECT_EQ(-ESTALE, phantom(self->fd, self->name, child_del, "p/a", &conflict));
	EXPECT_EQ((__u64)(1), conflict);
	/* Overwriting a member's value is no phantom */
	EXPECT_EQ(0, phantom(self->fd, self->name, child_put, "p/b", &conflict));
	/* Nor is a key created or deleted outside the prefix */
	EXPECT_EQ(0, phantom(self->fd, self->name, child_put, "q/new", &conflict));
	EXPECT_EQ(0, phantom(self->fd, self->name, child_put, "p", &conflict));
	EXPECT_EQ(0, phantom(self->fd, self->name, child_del, "pq", &conflict));
	/* Deleting a key that is not there is no change either */
	EXPECT_EQ(0, phantom(self->fd, self->name, child_del, "p/none", &conflict));
}

TEST_F(rg, commit_entries)
{
	struct stmdev_commit_ent e[3];
	struct rset r = {};
	__u32 conflict;
	int ro;

	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	rset_free(&r);
	/* A read-only commit validates a range too */
	cent_range(&e[0], "p/", r.version);
	EXPECT_EQ(0, t_commit(self->fd, e, 1, NULL, NULL));
	cent_range(&e[0], "p/", r.version - 1);
	EXPECT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ((__u64)(0), conflict);
	/* Bad RANGE entries */
	cent_range(&e[0], "p/", r.version);
	e[0].flags = STMDEV_CENT_CHECK;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_range(&e[0], "p/", r.version);
	e[0].val_len = 1;
	e[0].val_addr = t_ptr("x");
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_range(&e[0], "p/", r.version);
	e[0].reserved = 1;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_range(&e[0], "undeclared/", 0);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_range(&e[0], "p/", r.version);
	cent_range(&e[1], "p/", r.version);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 2, NULL, NULL));
	e[0].op = 5;	/* no such op */
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	/* A commit that creates under the prefix and validates it */
	cent_put(&e[0], "p/mine", 6, "x", 1);
	cent_range(&e[1], "p/", r.version);
	cent_read(&e[2], "q/x", 3, 0);
	EXPECT_EQ(-ESTALE, t_commit(self->fd, e, 3, NULL, &conflict));
	EXPECT_EQ((__u64)(2), conflict);		/* q/x is not absent */
	EXPECT_EQ(0, t_commit(self->fd, e, 2, NULL, NULL));
	EXPECT_EQ(-ESTALE, t_commit(self->fd, e, 2, NULL, &conflict));
	EXPECT_EQ((__u64)(1), conflict);		/* its own creation moved the range */

	/* Read-only attachment: declared prefixes only; RANGE entries allowed */
	ro = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, range_all(ro, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(3, r.n);
	rset_free(&r);
	cent_range(&e[0], "p/", r.version);
	EXPECT_EQ(0, t_commit(ro, e, 1, NULL, NULL));
	EXPECT_EQ(-EBADF, range_all(ro, "q/", RBUF, 0, 0, &r));
	close(ro);
}

TEST_F(rg, limit_charge_and_import)
{
	struct stmdev_info i0, i1, i2, i3;
	struct stmdev_import im;
	struct rset r = {};
	char pfx[16], key[32];
	int i, n;
	__s64 per_key, plain;

	/* Ten keys under an undeclared prefix, then under a declared one */
	ASSERT_EQ(0, t_info(self->fd, &i0));
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "u/%d", i);
		ASSERT_EQ(0, t_put_str(self->fd, key, "v", NULL));
	}
	ASSERT_EQ(0, t_info(self->fd, &i1));
	plain = (__s64)(i1.charge - i0.charge);
	ASSERT_EQ(0, range_all(self->fd, "d/", RBUF, 0, 0, &r));
	ASSERT_EQ(0, t_info(self->fd, &i2));
	EXPECT_LT(i1.charge, i2.charge);	/* the range itself */
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "d/%d", i);
		ASSERT_EQ(0, t_put_str(self->fd, key, "v", NULL));
	}
	ASSERT_EQ(0, t_info(self->fd, &i3));
	per_key = ((__s64)(i3.charge - i2.charge) - plain) / 10;
	EXPECT_LT(0, per_key);			/* a member record each */
	EXPECT_GE(64, per_key);
	EXPECT_EQ(0, ((__s64)(i3.charge - i2.charge) - plain) % 10);
	/* Deleting them gives back exactly what they took */
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "d/%d", i);
		ASSERT_EQ(0, t_del(self->fd, key, strlen(key), NULL));
	}
	ASSERT_EQ(0, t_info(self->fd, &i3));
	EXPECT_EQ(i2.charge, i3.charge);
	/* Declaring over existing keys charges their records at once */
	ASSERT_EQ(0, range_all(self->fd, "u/", RBUF, 0, 0, &r));
	EXPECT_EQ(10, r.n);
	rset_free(&r);
	ASSERT_EQ(0, t_info(self->fd, &i3));
	EXPECT_LE(i2.charge + 10 * per_key, i3.charge);

	/* STMDEV_RANGES_MAX per store, then ENOSPC */
	n = 2;	/* d/ and u/ so far */
	for (i = 0; n < STMDEV_RANGES_MAX; i++, n++) {
		snprintf(pfx, sizeof(pfx), "l%d/", i);
		ASSERT_EQ(0, range_all(self->fd, pfx, RBUF, 0, 0, &r));
	}
	EXPECT_EQ(-ENOSPC, range_all(self->fd, "one-more/", RBUF, 0, 0, &r));
	/* declared ones still read */
	EXPECT_EQ(0, range_all(self->fd, "l0/", RBUF, 0, 0, &r));

	/* IMPORT refuses a store with declared ranges */
	memset(&im, 0, sizeof(im));
	EXPECT_EQ(-ENOTEMPTY, t_ioctl(self->fd, STMDEV_IOC_IMPORT, &im));
}

/* 20000 keys elsewhere, 10 under the prefix: the range holds those 10. */
TEST_F_TIMEOUT(rg, ten_keys_among_many, 600)
{
	static struct stmdev_commit_ent e[500];
	static char keys[500][16];
	struct rset r = {};
	int i, j;

	for (i = 0; i < 20000; i += 500) {
		for (j = 0; j < 500; j++) {
			snprintf(keys[j], sizeof(keys[0]), "o%06d", i + j);
			cent_put(&e[j], keys[j], strlen(keys[j]), "v", 1);
		}
		ASSERT_EQ(0, t_commit(self->fd, e, 500, NULL, NULL));
	}
	for (j = 0; j < 10; j++) {
		snprintf(keys[j], sizeof(keys[0]), "ten/%d", j);
		cent_put(&e[j], keys[j], strlen(keys[j]), "v", 1);
	}
	ASSERT_EQ(0, t_commit(self->fd, e, 10, NULL, NULL));
	ASSERT_EQ(0, range_all(self->fd, "ten/", RBUF, 0, 0, &r));
	EXPECT_EQ(10, r.n);
	EXPECT_EQ((__u64)(10), r.members);
	for (j = 0; j < 10; j++) {
		snprintf(keys[j], sizeof(keys[0]), "ten/%d", j);
		EXPECT_TRUE(rset_has(&r, keys[j]));
	}
	rset_free(&r);
	/* The prefix "o0" covers 10000 of the others, in one declaration */
	ASSERT_EQ(0, range_all(self->fd, "o00", RBUF, 0, 0, &r));
	EXPECT_EQ((__u64)(10000), r.members);
	rset_free(&r);
}

/*
 * Writers create and delete keys under the prefix in pairs, one commit per
 * pair; every range read must see whole pairs.
 */
#define PAIR_WRITERS	3
#define PAIR_ROUNDS	400

static int pair_writer(void *arg, int idx)
{
	const char *name = arg;
	struct stmdev_commit_ent e[2];
	char a[32], b[32];
	int fd = t_open_attach(name, 0, 0);

	if (fd < 0)
		return 1;
	for (int i = 0; i < PAIR_ROUNDS; i++) {
		snprintf(a, sizeof(a), "pr/%d-%d-a", idx, i % 7);
		snprintf(b, sizeof(b), "pr/%d-%d-b", idx, i % 7);
		if (i % 2) {
			cent_del(&e[0], a, strlen(a));
			cent_del(&e[1], b, strlen(b));
		} else {
			cent_put(&e[0], a, strlen(a), "x", 1);
			cent_put(&e[1], b, strlen(b), "y", 1);
		}
		if (t_commit(fd, e, 2, NULL, NULL))
			return 2;
	}
	close(fd);
	return 0;
}

TEST_F_TIMEOUT(rg, reads_see_whole_commits, 600)
{
	pid_t pids[PAIR_WRITERS];
	struct rset r = {};
	int i, k, reads = 0, bad = 0, st;
	bool done = false;

	ASSERT_EQ(0, range_all(self->fd, "pr/", RBUF, 0, 0, &r));
	rset_free(&r);
	for (i = 0; i < PAIR_WRITERS; i++)
		pids[i] = t_fork(pair_writer, self->name, i);
	while (!done) {
		done = true;
		for (i = 0; i < PAIR_WRITERS; i++)
			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == 0)
				done = false;
		/* small calls (two records): walks that span commits */
		do {
			rset_free(&r);
			st = range_all(self->fd, "pr/", reads % 2 ? 64 : RBUF, 0, 0, &r);
		} while (st == -ESTALE);	/* changed between calls */
		ASSERT_EQ(0, st);
		reads++;
		if (r.n % 2 || (__u64)r.n != r.members)
			bad++;
		for (k = 0; k < r.n; k++) {
			char other[32];
			size_t l = strlen(r.k[k]);

			snprintf(other, sizeof(other), "%s", r.k[k]);
			other[l - 1] = other[l - 1] == 'a' ? 'b' : 'a';
			if (!rset_has(&r, other))
				bad++;
		}
		rset_free(&r);
	}
	EXPECT_EQ(0, bad);
	TH_LOG("%d range reads", reads);
	ASSERT_EQ(0, range_all(self->fd, "pr/", RBUF, 0, 0, &r));
	EXPECT_EQ(0, r.n % 2);
	rset_free(&r);
}

/* ---- io_uring --------------------------------------------------------- */

TEST_F(rg, io_uring)
{
	unsigned char buf[4096];
	struct stmdev_commit_ent e[2];
	struct stmdev_commit c;
	struct stmdev_range a;
	struct io_uring ring;
	struct rset r = {};

	if (io_uring_queue_init(8, &ring, 0))
		SKIP(return, "io_uring not available");
	/* The first RANGE of a prefix declares it (from an io-wq worker) */
	range_init(&a, "p/", buf, sizeof(buf));
	EXPECT_EQ(0, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));
	EXPECT_EQ((__u64)(2), a.count);
	EXPECT_EQ((__u64)(2), a.members);
	EXPECT_EQ(0, rset_add(&r, buf, sizeof(buf), a.count));
	EXPECT_TRUE(rset_has(&r, "p/a"));
	EXPECT_TRUE(rset_has(&r, "p/b"));
	rset_free(&r);
	/* Declared: inline now, the same answer as the ioctl */
	range_init(&a, "p/", buf, sizeof(buf));
	EXPECT_EQ(0, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));
	EXPECT_EQ((__u64)(2), a.count);
	ASSERT_EQ(0, range_all(self->fd, "p/", RBUF, 0, 0, &r));
	EXPECT_EQ(r.version, a.version);
	rset_free(&r);
	range_init(&a, "p/", buf, sizeof(buf));
	a.flags = 4;
	EXPECT_EQ(-EINVAL, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));
	range_init(&a, "p/", buf, 8);
	EXPECT_EQ(-E2BIG, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));

	/* A commit's RANGE entry through the ring */
	range_init(&a, "p/", buf, sizeof(buf));
	ASSERT_EQ(0, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));
	ASSERT_EQ(0, in_child(self->name, child_put, "p/ring"));
	cent_put(&e[0], "elsewhere", 9, "x", 1);
	cent_range(&e[1], "p/", a.version);
	memset(&c, 0, sizeof(c));
	c.entries = t_ptr(e);
	c.count = 2;
	EXPECT_EQ(-ESTALE, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_COMMIT, &c, sizeof(c)));
	EXPECT_EQ((__u64)(1), c.conflict);
	range_init(&a, "p/", buf, sizeof(buf));
	ASSERT_EQ(0, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_RANGE, &a, sizeof(a)));
	EXPECT_EQ((__u64)(3), a.count);
	cent_range(&e[1], "p/", a.version);
	memset(&c, 0, sizeof(c));
	c.entries = t_ptr(e);
	c.count = 2;
	EXPECT_EQ(0, t_uring_cmd1(&ring, self->fd, STMDEV_IOC_COMMIT, &c, sizeof(c)));
	io_uring_queue_exit(&ring);
}

/* ---- the library ------------------------------------------------------ */

struct lib_run {
	const char *name;
	int keys;
	int attempts;
	char seen[8][16];
};

static int child_map_put(struct stm_txn *tx, void *arg)
{
	int64_t v = 100;

	return stm_map_put(tx, "m", arg, strlen(arg), &v, sizeof(v)) == 1 ? 0 : -EPROTO;
}

static int spawn_map_put(const char *name, const char *key)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		struct stm_store *s;

		_exit(stm_open(name, 0, 0, &s) || stm_atomic(s, child_map_put,
							     (void *)key, NULL));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -ECHILD;
	return 0;
}

static int count_key(struct stm_txn *tx, const void *key, size_t klen, void *arg)
{
	struct lib_run *lr = arg;

	if (lr->keys < 8)
		snprintf(lr->seen[lr->keys], sizeof(lr->seen[0]), "%.*s",
			 (int)klen, (const char *)key);
	lr->keys++;
	return 0;
}

/* Range-read "r/" and write elsewhere; another process inserts on run 1. */
static int range_then_write(struct stm_txn *tx, void *arg)
{
	struct lib_run *lr = arg;
	int ret;

	lr->keys = 0;
	lr->attempts = stm_txn_attempt(tx);
	ret = stm_range(tx, "r/", 2, count_key, lr);
	if (ret)
		return ret;
	if (lr->attempts == 1 && in_child(lr->name, child_put, "r/late"))
		return -ECHILD;
	return stm_put(tx, "r-count", "x", 1);
}

static int map_sum(struct stm_txn *tx, const void *key, size_t klen,
		   const void *val, size_t vlen, void *arg)
{
	int64_t v;

	if (vlen != sizeof(v))
		return -EPROTO;
	memcpy(&v, val, sizeof(v));
	return v == 1 || v == 100 ? count_key(tx, key, klen, arg) : -EPROTO;
}

/* Iterate the map; on run 1 another process inserts into it. */
static int iterate_then_write(struct stm_txn *tx, void *arg)
{
	struct lib_run *lr = arg;
	int ret;

	lr->keys = 0;
	lr->attempts = stm_txn_attempt(tx);
	ret = stm_map_iterate(tx, "m", map_sum, lr);
	if (ret)
		return ret;
	if (lr->attempts == 1 && spawn_map_put(lr->name, "late"))
		return -ECHILD;
	return stm_put_i64(tx, "m-seen", lr->keys);
}

static int own_writes(struct stm_txn *tx, void *arg)
{
	struct lib_run *lr = arg;
	int ret;

	ret = stm_put(tx, "r/own", "o", 1);
	if (!ret)
		ret = stm_del(tx, "r/a");
	if (ret)
		return ret;
	lr->keys = 0;
	return stm_range(tx, "r/", 2, count_key, lr);
}

static int map_fill(struct stm_txn *tx, void *arg)
{
	int64_t v = 1;
	char k[8];
	int ret = 0;

	for (int i = 0; i < 5 && ret >= 0; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ret = stm_map_put(tx, "m", k, strlen(k), &v, sizeof(v));
	}
	return ret < 0 ? ret : 0;
}

static int collect_key(const struct stm_key_info *ki, void *arg)
{
	int *n = arg;

	(*n)++;
	return ki->version ? 0 : -EPROTO;
}

TEST_F(rg, library_range_and_map_iteration)
{
	struct lib_run lr = { .name = self->name };
	struct stm_store *s;
	int n = 0;

	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s));
	ASSERT_EQ(0, t_put_str(self->fd, "r/a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "r/b", "2", NULL));

	/* stm_range() in a transaction that writes: rerun by the insert */
	ASSERT_EQ(0, stm_atomic(s, range_then_write, &lr, NULL));
	EXPECT_EQ(2, lr.attempts);
	EXPECT_EQ(3, lr.keys);
	EXPECT_STREQ("r/a", lr.seen[0]);	/* byte order */
	EXPECT_STREQ("r/b", lr.seen[1]);
	EXPECT_STREQ("r/late", lr.seen[2]);

	/* The transaction's own writes are in its range read */
	ASSERT_EQ(0, stm_atomic(s, own_writes, &lr, NULL));
	EXPECT_EQ(3, lr.keys);
	EXPECT_STREQ("r/b", lr.seen[0]);
	EXPECT_STREQ("r/late", lr.seen[1]);
	EXPECT_STREQ("r/own", lr.seen[2]);

	/* Outside a transaction */
	EXPECT_EQ(3, stm_range_keys(s, "r/", 2, collect_key, &n));
	EXPECT_EQ(3, n);
	EXPECT_EQ(-EINVAL, stm_range_keys(s, "", 0, collect_key, &n));

	/* Map iteration inside stm_atomic, rerun by another process's insert */
	ASSERT_EQ(0, stm_atomic(s, map_fill, NULL, NULL));
	ASSERT_EQ(0, stm_atomic(s, iterate_then_write, &lr, NULL));
	EXPECT_EQ(2, lr.attempts);
	EXPECT_EQ(6, lr.keys);
	EXPECT_STREQ("k0", lr.seen[0]);
	EXPECT_STREQ("late", lr.seen[5]);
	stm_close(s);
}

TEST_HARNESS_MAIN
