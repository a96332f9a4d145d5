// SPDX-License-Identifier: GPL-2.0
/*
 * COMMIT's bounded ADD (STMDEV_CENT_BOUND, STMDEV_F_ADD_BOUND): an ADD
 * entry of 24 bytes (delta, min, max) that fails the whole commit with
 * ERANGE, `conflict` its index and nothing written, when the exact sum
 * would leave [min, max].  The UAPI checks (EINVAL), the bounds and their
 * edges, absent keys, a stored value that is not 8 bytes, FETCH, int64
 * overflow, precedence against ESTALE and EINVAL, io_uring, the library
 * (stm_commit(), stm_ring_prep_commit()), and processes moving money
 * between a few accounts by bounded transfers, ioctl and io_uring, under
 * an auditor: the total is conserved and no account is ever below zero.
 */
#include <liburing.h>
#include <stmdev.h>

#include "stm_test_util.h"
#include "uring_test_util.h"
#include "kselftest_harness.h"

#define NO_CONFLICT	STMDEV_NO_CONFLICT

/* An ADD entry; bounded when @in[1..2] are the bounds (in[] LE on x86). */
static void cent_badd(struct stmdev_commit_ent *e, const char *key, __s64 in[3])
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = strlen(key);
	e->val_addr = t_ptr(in);
	e->val_len = 24;
	e->op = STMDEV_OP_ADD;
	e->flags = STMDEV_CENT_BOUND;
}

static void badd_in(__s64 in[3], __s64 delta, __s64 min, __s64 max)
{
	in[0] = (__s64)htole64((__u64)delta);
	in[1] = (__s64)htole64((__u64)min);
	in[2] = (__s64)htole64((__u64)max);
}

/* One bounded ADD, alone in its commit. */
static int badd1(int fd, const char *key, __s64 delta, __s64 min, __s64 max,
		 __u32 *conflict)
{
	struct stmdev_commit_ent e;
	__s64 in[3];

	badd_in(in, delta, min, max);
	cent_badd(&e, key, in);
	return t_commit(fd, &e, 1, NULL, conflict);
}

static bool bound_supported(int fd)
{
	struct stmdev_features f;

	return !t_features(fd, &f) && (f.features & STMDEV_F_ADD_BOUND);
}

FIXTURE(badd) {
	char name[64];
	int fd;
};

FIXTURE_SETUP(badd)
{
	self->fd = -1;
	t_name(self->name, sizeof(self->name), "badd");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				 STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	if (!bound_supported(self->fd))
		SKIP(return, "no STMDEV_F_ADD_BOUND");
}

FIXTURE_TEARDOWN(badd)
{
	if (self->fd >= 0)
		close(self->fd);
	t_unlink(self->name);
}

TEST_F(badd, feature_bit)
{
	struct stmdev_features f;

	ASSERT_EQ(0, t_features(self->fd, &f));
	EXPECT_EQ(1ULL << 14, STMDEV_F_ADD_BOUND);
	EXPECT_EQ(1U << 2, STMDEV_CENT_BOUND);
	EXPECT_NE(0ULL, f.features & STMDEV_F_ADD_BOUND);
}

/* Every malformed bounded ADD is EINVAL, with no conflict and nothing written. */
TEST_F(badd, uapi_einval)
{
	static const __u32 bad_len[] = { 0, 8, 16, 23, 25, 32 };
	struct stmdev_commit_ent e[2];
	__s64 in[4] = { 0 }, v;
	__u32 conflict, i;

	badd_in(in, 1, 0, 10);
	for (i = 0; i < ARRAY_SIZE(bad_len); i++) {
		cent_badd(&e[0], "k", in);
		e[0].val_len = bad_len[i];
		EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, &conflict));
		EXPECT_EQ(NO_CONFLICT, conflict);
	}
	/* a plain ADD keeps its 8 bytes */
	cent_badd(&e[0], "k", in);
	e[0].flags = 0;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	/* the flag on another op */
	cent_badd(&e[0], "k", in);
	e[0].op = STMDEV_OP_PUT;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_badd(&e[0], "k", in);
	e[0].op = STMDEV_OP_DEL;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	e[0].val_len = 0;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	cent_badd(&e[0], "k", in);
	e[0].op = STMDEV_OP_READ;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	/* unknown flags and the reserved field */
	for (i = 3; i < 16; i++) {
		cent_badd(&e[0], "k", in);
		e[0].flags |= 1U << i;
		EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	}
	cent_badd(&e[0], "k", in);
	e[0].reserved = 1;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, NULL));
	/* an empty range: min > max */
	badd_in(in, 0, 1, 0);
	cent_badd(&e[0], "k", in);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(NO_CONFLICT, conflict);
	/* one bad entry spoils a good one */
	badd_in(in, 5, 0, 10);
	cent_badd(&e[0], "good", in);
	cent_badd(&e[1], "k", in);
	e[1].val_len = 8;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 2, NULL, NULL));
	EXPECT_EQ(-ENODATA, t_get_i64(self->fd, "k", &v, NULL));
	EXPECT_EQ(-ENODATA, t_get_i64(self->fd, "good", &v, NULL));
	/* a delta that cannot be read */
	cent_badd(&e[0], "k", in);
	e[0].val_addr = 8;
	EXPECT_EQ(-EFAULT, t_commit(self->fd, e, 1, NULL, NULL));
	EXPECT_EQ(-ENODATA, t_get_i64(self->fd, "k", &v, NULL));
}

/* The floor and the ceiling: out is ERANGE and nothing; at the bound passes. */
TEST_F(badd, bounds)
{
	__u64 ver, ver2;
	__u32 conflict;
	__s64 v;

	ASSERT_EQ(0, t_put_i64(self->fd, "a", 10, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, &ver));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", -11, 0, INT64_MAX, &conflict));
	EXPECT_EQ(0U, conflict);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, &ver2));
	EXPECT_EQ(10, v);
	EXPECT_EQ(ver, ver2);
	/* again: the same answer (not a conflict to redo) */
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", -11, 0, INT64_MAX, &conflict));
	/* exactly the floor */
	EXPECT_EQ(0, badd1(self->fd, "a", -10, 0, INT64_MAX, &conflict));
	EXPECT_EQ(NO_CONFLICT, conflict);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, &ver2));
	EXPECT_EQ(0, v);
	EXPECT_LT(ver, ver2);
	/* the ceiling */
	EXPECT_EQ(0, badd1(self->fd, "a", 5, INT64_MIN, 5, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", 1, INT64_MIN, 5, &conflict));
	EXPECT_EQ(0U, conflict);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(5, v);
	/* a value already outside: a delta of 0 fails, one back inside passes */
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", 0, 6, 9, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", 0, 0, 4, NULL));
	EXPECT_EQ(0, badd1(self->fd, "a", 1, 6, 6, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(6, v);
	/* negative bounds */
	EXPECT_EQ(0, badd1(self->fd, "a", -16, -10, -10, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "a", -1, -10, 0, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(-10, v);
}

/* An absent key counts as 0, and a failed ADD leaves it absent. */
TEST_F(badd, absent_is_zero)
{
	struct t_val tv;
	__s64 v;

	EXPECT_EQ(-ERANGE, badd1(self->fd, "n", -1, 0, 100, NULL));
	ASSERT_EQ(0, t_get_str(self->fd, "n", &tv));
	EXPECT_FALSE(tv.present);
	EXPECT_EQ(-ERANGE, badd1(self->fd, "n", 101, 0, 100, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "n", 0, 1, 100, NULL));
	ASSERT_EQ(0, t_get_str(self->fd, "n", &tv));
	EXPECT_FALSE(tv.present);
	EXPECT_EQ(0, badd1(self->fd, "n", 0, 0, 0, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "n", &v, NULL));
	EXPECT_EQ(0, v);
	EXPECT_EQ(0, badd1(self->fd, "m", -5, -5, 100, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "m", &v, NULL));
	EXPECT_EQ(-5, v);
}

/*
 * All or nothing with the commit's other entries; conflict is the first
 * failing entry in the caller's order, whatever order the keys sort in.
 */
TEST_F(badd, all_or_nothing)
{
	static const char *const keys[] = { "k0", "k1", "k2", "k3", "k4", "k5" };
	struct stmdev_commit_ent e[8];
	__s64 in[6][3], one = 1, v;
	__u64 ver[6], ver2;
	__u32 conflict, i, first;
	struct t_val tv;

	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, t_put_i64(self->fd, keys[i], 10, NULL));
		ASSERT_EQ(0, t_get_i64(self->fd, keys[i], &v, &ver[i]));
	}
	/* entries 0 and 1: a PUT and a plain ADD; then six bounded ADDs */
	for (first = 0; first < 6; first++) {
		cent_put(&e[0], "x", 1, "v", 1);
		cent_add(&e[1], "y", 1, &one);
		for (i = 0; i < 6; i++) {
			/* those at first and after fail */
			badd_in(in[i], i < first ? 1 : -11, 0, INT64_MAX);
			cent_badd(&e[2 + i], keys[i], in[i]);
		}
		EXPECT_EQ(-ERANGE, t_commit(self->fd, e, 8, NULL, &conflict));
		EXPECT_EQ(2U + first, conflict);
		for (i = 0; i < 6; i++) {
			ASSERT_EQ(0, t_get_i64(self->fd, keys[i], &v, &ver2));
			EXPECT_EQ(10, v);
			EXPECT_EQ(ver[i], ver2);
		}
		ASSERT_EQ(0, t_get_str(self->fd, "x", &tv));
		EXPECT_FALSE(tv.present);
		ASSERT_EQ(0, t_get_str(self->fd, "y", &tv));
		EXPECT_FALSE(tv.present);
	}
	/* all within: every entry applied, one version */
	for (i = 0; i < 6; i++) {
		badd_in(in[i], -10, 0, INT64_MAX);
		cent_badd(&e[2 + i], keys[i], in[i]);
	}
	EXPECT_EQ(0, t_commit(self->fd, e, 8, &ver2, &conflict));
	EXPECT_EQ(NO_CONFLICT, conflict);
	for (i = 0; i < 6; i++) {
		__u64 kv;

		ASSERT_EQ(0, t_get_i64(self->fd, keys[i], &v, &kv));
		EXPECT_EQ(0, v);
		EXPECT_EQ(ver2, kv);
	}
}

/*
 * A stored value that is not 8 bytes: EINVAL as for a plain ADD, ahead of
 * ERANGE; a version that differed: ESTALE, ahead of both.
 */
TEST_F(badd, precedence)
{
	struct stmdev_commit_ent e[3];
	__s64 in[2][3], v;
	__u64 ver;
	__u32 conflict;

	ASSERT_EQ(0, t_put_str(self->fd, "s", "abc", NULL));
	ASSERT_EQ(0, t_put_i64(self->fd, "a", 1, &ver));
	EXPECT_EQ(-EINVAL, badd1(self->fd, "s", 1, 0, 10, &conflict));
	EXPECT_EQ(0U, conflict);
	/* entry 0 out of bounds, entry 1 onto "abc": EINVAL names entry 1 */
	badd_in(in[0], -2, 0, 10);
	cent_badd(&e[0], "a", in[0]);
	badd_in(in[1], 1, 0, 10);
	cent_badd(&e[1], "s", in[1]);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 2, NULL, &conflict));
	EXPECT_EQ(1U, conflict);
	/* a READ at a stale version: ESTALE names it */
	cent_read(&e[2], "a", 1, ver + 1000);
	EXPECT_EQ(-ESTALE, t_commit(self->fd, e, 3, NULL, &conflict));
	EXPECT_EQ(2U, conflict);
	/* a checked bounded ADD: ESTALE before ERANGE */
	e[0].flags |= STMDEV_CENT_CHECK;
	e[0].version = ver + 1000;
	EXPECT_EQ(-ESTALE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	e[0].version = ver;
	EXPECT_EQ(-ERANGE, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	badd_in(in[0], -1, 0, 10);
	EXPECT_EQ(0, t_commit(self->fd, e, 1, NULL, &conflict));
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(0, v);
}

/* FETCH hands back the result in the first 8 bytes; a failure leaves them. */
TEST_F(badd, fetch)
{
	struct stmdev_commit_ent e;
	__s64 in[3];

	ASSERT_EQ(0, t_put_i64(self->fd, "a", 40, NULL));
	badd_in(in, -15, 0, 100);
	cent_badd(&e, "a", in);
	e.flags |= STMDEV_CENT_FETCH;
	ASSERT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL));
	EXPECT_EQ(25, (__s64)le64toh((__u64)in[0]));
	EXPECT_EQ(0, (__s64)le64toh((__u64)in[1]));
	EXPECT_EQ(100, (__s64)le64toh((__u64)in[2]));
	badd_in(in, -26, 0, 100);
	EXPECT_EQ(-ERANGE, t_commit(self->fd, &e, 1, NULL, NULL));
	EXPECT_EQ(-26, (__s64)le64toh((__u64)in[0]));
}

/*
 * No wrap: a sum past int64 is out of bounds, whatever the bounds say.
 * (A plain ADD wraps modulo 2^64, as documented; checked here too.)
 */
TEST_F(badd, overflow)
{
	__s64 v, one = 1;
	struct stmdev_commit_ent e;

	ASSERT_EQ(0, t_put_i64(self->fd, "hi", INT64_MAX - 1, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "hi", 2, INT64_MIN, INT64_MAX, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "hi", INT64_MAX, INT64_MIN, INT64_MAX, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "hi", &v, NULL));
	EXPECT_EQ(INT64_MAX - 1, v);
	EXPECT_EQ(0, badd1(self->fd, "hi", 1, INT64_MIN, INT64_MAX, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "hi", &v, NULL));
	EXPECT_EQ(INT64_MAX, v);

	ASSERT_EQ(0, t_put_i64(self->fd, "lo", INT64_MIN + 1, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "lo", -2, INT64_MIN, INT64_MAX, NULL));
	EXPECT_EQ(-ERANGE, badd1(self->fd, "lo", INT64_MIN, INT64_MIN, INT64_MAX, NULL));
	EXPECT_EQ(0, badd1(self->fd, "lo", -1, INT64_MIN, INT64_MAX, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "lo", &v, NULL));
	EXPECT_EQ(INT64_MIN, v);
	/* the extremes themselves, from an absent key */
	EXPECT_EQ(0, badd1(self->fd, "z", INT64_MIN, INT64_MIN, INT64_MAX, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "z", &v, NULL));
	EXPECT_EQ(INT64_MIN, v);

	/* the plain ADD wraps */
	cent_add(&e, "hi", 2, &one);
	EXPECT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, "hi", &v, NULL));
	EXPECT_EQ(INT64_MIN, v);
}

/* A read-only attachment: EBADF, as for every write. */
TEST_F(badd, rdonly)
{
	int fd = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, badd1(fd, "a", 1, 0, 10, NULL));
	close(fd);
}

/* ---- io_uring ---- */

static int ring_commit(struct io_uring *ring, int fd, struct stmdev_commit *c)
{
	return t_uring_cmd1(ring, fd, STMDEV_IOC_COMMIT, c, sizeof(*c));
}

TEST_F(badd, uring)
{
	struct stmdev_commit_ent e[2];
	struct stmdev_commit c;
	struct io_uring ring;
	__s64 in[2][3], v;

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	ASSERT_EQ(0, t_put_i64(self->fd, "a", 10, NULL));
	badd_in(in[0], -7, 0, INT64_MAX);
	cent_badd(&e[0], "a", in[0]);
	badd_in(in[1], 7, INT64_MIN, INT64_MAX);
	cent_badd(&e[1], "b", in[1]);
	e[1].flags |= STMDEV_CENT_FETCH;
	memset(&c, 0, sizeof(c));
	c.entries = t_ptr(e);
	c.count = 2;
	c.conflict = 0x5a5a;
	EXPECT_EQ(0, ring_commit(&ring, self->fd, &c));
	EXPECT_EQ(NO_CONFLICT, c.conflict);
	EXPECT_NE(0ULL, c.version);
	EXPECT_EQ(7, (__s64)le64toh((__u64)in[1][0]));
	/* the second transfer cannot pay: ERANGE, conflict, nothing */
	badd_in(in[1], 7, INT64_MIN, INT64_MAX);
	c.conflict = 0x5a5a;
	EXPECT_EQ(-ERANGE, ring_commit(&ring, self->fd, &c));
	EXPECT_EQ(0U, c.conflict);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(3, v);
	ASSERT_EQ(0, t_get_i64(self->fd, "b", &v, NULL));
	EXPECT_EQ(7, v);
	/* the same checks as the ioctl */
	e[0].val_len = 8;
	EXPECT_EQ(-EINVAL, ring_commit(&ring, self->fd, &c));
	e[0].val_len = 24;
	e[0].op = STMDEV_OP_PUT;
	EXPECT_EQ(-EINVAL, ring_commit(&ring, self->fd, &c));
	io_uring_queue_exit(&ring);
}

/* ---- the library ---- */

TEST_F(badd, library)
{
	struct stm_store *s;
	struct stm_ring *r;
	struct stm_cqe cqe;
	struct stm_op op[2];
	int64_t res[2] = { 0, 0 };
	__s64 v;
	uint32_t conflict;
	uint64_t version;

	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s));
	ASSERT_EQ(0, t_put_i64(self->fd, "a", 10, NULL));
	memset(op, 0, sizeof(op));
	op[0] = (struct stm_op){ .key = "a", .op = STM_OP_ADD, .flags = STM_OP_BOUND,
				 .delta = -4, .min = 0, .max = INT64_MAX, .result = &res[0] };
	op[1] = (struct stm_op){ .key = "b", .op = STM_OP_ADD, .flags = STM_OP_BOUND,
				 .delta = 4, .min = INT64_MIN, .max = INT64_MAX,
				 .result = &res[1] };
	EXPECT_EQ(0, stm_commit(s, op, 2, 0, &version, &conflict));
	EXPECT_EQ(STM_NO_CONFLICT, conflict);
	EXPECT_EQ(6, res[0]);
	EXPECT_EQ(4, res[1]);
	op[0].delta = -7;
	res[0] = res[1] = 99;
	EXPECT_EQ(-ERANGE, stm_commit(s, op, 2, 0, NULL, &conflict));
	EXPECT_EQ(0U, conflict);
	EXPECT_EQ(99, res[0]);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(6, v);
	/* the library's own checks */
	op[0].min = 1;
	op[0].max = 0;
	EXPECT_EQ(-EINVAL, stm_commit(s, op, 1, 0, NULL, NULL));
	op[0].max = INT64_MAX;
	op[0].op = STM_OP_PUT;
	op[0].result = NULL;
	EXPECT_EQ(-EINVAL, stm_commit(s, op, 1, 0, NULL, NULL));
	op[0].op = STM_OP_ADD;
	op[0].flags = 0;
	EXPECT_EQ(-EINVAL, stm_commit(s, op, 1, 0, NULL, NULL));	/* min, max set */
	op[0].min = op[0].max = 0;
	EXPECT_EQ(0, stm_commit(s, op, 1, 0, NULL, NULL));	/* a plain ADD */
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(-1, v);

	/* the ring: the same commit, its conflict in the completion */
	ASSERT_EQ(0, stm_ring_open(s, 8, 0, &r));
	op[0] = (struct stm_op){ .key = "b", .op = STM_OP_ADD, .flags = STM_OP_BOUND,
				 .delta = -3, .min = 0, .max = INT64_MAX, .result = &res[0] };
	op[1] = (struct stm_op){ .key = "a", .op = STM_OP_ADD, .flags = STM_OP_BOUND,
				 .delta = 3, .min = INT64_MIN, .max = 100 };
	EXPECT_EQ(0, stm_ring_prep_commit(r, op, 2, 0, 1));
	EXPECT_EQ(1, stm_ring_submit(r));
	ASSERT_EQ(1, stm_ring_reap(r, &cqe, 1, 1));
	EXPECT_EQ(1ULL, cqe.tag);
	EXPECT_EQ(0, cqe.result);
	EXPECT_EQ(STM_NO_CONFLICT, cqe.conflict);
	EXPECT_EQ(1, res[0]);
	/* b holds 1: the debit of 3 fails; a's ceiling too, later in order */
	op[1].delta = 200;
	EXPECT_EQ(0, stm_ring_prep_commit(r, op, 2, 0, 2));
	EXPECT_EQ(1, stm_ring_submit(r));
	ASSERT_EQ(1, stm_ring_reap(r, &cqe, 1, 1));
	EXPECT_EQ(2ULL, cqe.tag);
	EXPECT_EQ(-ERANGE, cqe.result);
	EXPECT_EQ(0U, cqe.conflict);
	op[0].delta = -1;
	EXPECT_EQ(0, stm_ring_prep_commit(r, op, 2, 0, 3));
	EXPECT_EQ(1, stm_ring_submit(r));
	ASSERT_EQ(1, stm_ring_reap(r, &cqe, 1, 1));
	EXPECT_EQ(-ERANGE, cqe.result);
	EXPECT_EQ(1U, cqe.conflict);
	op[1].min = 1;
	op[1].max = 0;
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(r, op, 2, 0, 4));
	stm_ring_close(r);
	ASSERT_EQ(0, t_get_i64(self->fd, "a", &v, NULL));
	EXPECT_EQ(2, v);
	ASSERT_EQ(0, t_get_i64(self->fd, "b", &v, NULL));
	EXPECT_EQ(1, v);
	stm_close(s);
}

/* ---- processes: bounded transfers under an auditor ---- */

#define NACCT		4
#define START		100
#define NWORK		4
#define ROUNDS		4000
#define BATCH		4

struct bank {
	char name[64];
	volatile int done;
	int64_t declined[NWORK];
	int64_t moved[NWORK];
	int64_t audits, bad_total, bad_floor;
};

static const char *const accts[NACCT] = { "acct0", "acct1", "acct2", "acct3" };

static void pick(__u64 *rng, int *a, int *b, __s64 *amt)
{
	*a = t_rand(rng) % NACCT;
	*b = (*a + 1 + t_rand(rng) % (NACCT - 1)) % NACCT;
	*amt = 1 + t_rand(rng) % 60;
}

static void transfer_ents(struct stmdev_commit_ent e[2], __s64 in[2][3], int a,
			  int b, __s64 amt)
{
	badd_in(in[0], -amt, 0, INT64_MAX);
	cent_badd(&e[0], accts[a], in[0]);
	badd_in(in[1], amt, INT64_MIN, INT64_MAX);
	cent_badd(&e[1], accts[b], in[1]);
}

/* Odd workers submit BATCH commits at a time through io_uring. */
static int worker(void *arg, int idx)
{
	struct bank *bk = arg;
	struct stmdev_commit_ent e[BATCH][2];
	struct stmdev_commit c[BATCH];
	__s64 in[BATCH][2][3], amt;
	__u64 rng = 0x9e3779b97f4a7c15ULL * (idx + 1);
	struct io_uring ring;
	int fd, i, j, a, b, ret;

	fd = t_open_attach(bk->name, 0, 0);
	if (fd < 0)
		return 10;
	if ((idx & 1) && io_uring_queue_init(2 * BATCH, &ring, 0))
		return 11;
	for (i = 0; i < ROUNDS; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			pick(&rng, &a, &b, &amt);
			transfer_ents(e[j], in[j], a, b, amt);
			memset(&c[j], 0, sizeof(c[j]));
			c[j].entries = t_ptr(e[j]);
			c[j].count = 2;
			if (idx & 1) {
				t_prep_cmd(io_uring_get_sqe(&ring), fd, STMDEV_IOC_COMMIT,
					   &c[j], sizeof(c[j]), j);
				continue;
			}
			ret = t_ioctl(fd, STMDEV_IOC_COMMIT, &c[j]);
			if (ret == -ERANGE && c[j].conflict == 0)
				bk->declined[idx]++;
			else if (ret)
				return 12;
			else
				bk->moved[idx]++;
		}
		if (!(idx & 1))
			continue;
		if (io_uring_submit_and_wait(&ring, BATCH) != BATCH)
			return 13;
		for (j = 0; j < BATCH; j++) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&ring, &cqe))
				return 14;
			ret = cqe->res;
			if (ret == -ERANGE && c[cqe->user_data].conflict == 0)
				bk->declined[idx]++;
			else if (ret)
				return 15;
			else
				bk->moved[idx]++;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	if (idx & 1)
		io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}

/* Every account at one snapshot: the total, and the floor. */
static int audit(int fd, struct bank *bk)
{
	struct stmdev_read_ent re[NACCT];
	__s64 bal[NACCT], total = 0;
	int i, ret;

	for (i = 0; i < NACCT; i++)
		rent_init(&re[i], accts[i], strlen(accts[i]), &bal[i], sizeof(bal[i]));
	ret = t_read(fd, re, NACCT, NULL);
	if (ret)
		return ret;
	for (i = 0; i < NACCT; i++) {
		__s64 b = (__s64)le64toh((__u64)bal[i]);

		if (!(re[i].flags & STMDEV_RENT_PRESENT) || re[i].val_len != 8)
			return -EPROTO;
		if (b < 0)
			bk->bad_floor++;
		total += b;
	}
	if (total != NACCT * START)
		bk->bad_total++;
	bk->audits++;
	return 0;
}

TEST_F(badd, transfers_conserve)
{
	struct bank *bk = t_shared(sizeof(*bk));
	pid_t pids[NWORK];
	int i;
	int64_t moved = 0, declined = 0;

	ASSERT_NE(NULL, bk);
	memset(bk, 0, sizeof(*bk));
	snprintf(bk->name, sizeof(bk->name), "%s", self->name);
	for (i = 0; i < NACCT; i++)
		ASSERT_EQ(0, t_put_i64(self->fd, accts[i], START, NULL));
	for (i = 0; i < NWORK; i++)
		pids[i] = t_fork(worker, bk, i);
	/* audit until every worker is done */
	for (;;) {
		int st, left = 0;

		ASSERT_EQ(0, audit(self->fd, bk));
		for (i = 0; i < NWORK; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
					TH_LOG("worker %d: status 0x%x", i, st);
				pids[i] = 0;
			} else {
				left++;
			}
		}
		if (!left)
			break;
	}
	ASSERT_EQ(0, audit(self->fd, bk));
	for (i = 0; i < NWORK; i++) {
		moved += bk->moved[i];
		declined += bk->declined[i];
	}
	TH_LOG("%lld moved, %lld declined, %lld audits", (long long)moved,
	       (long long)declined, (long long)bk->audits);
	EXPECT_EQ(NWORK * ROUNDS, moved + declined);
	EXPECT_EQ(0, bk->bad_total);
	EXPECT_EQ(0, bk->bad_floor);
	/* the guard was exercised both ways */
	EXPECT_LT(0, moved);
	EXPECT_LT(0, declined);
	munmap(bk, sizeof(*bk));
}

TEST_HARNESS_MAIN
