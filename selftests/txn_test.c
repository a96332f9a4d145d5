// SPDX-License-Identifier: GPL-2.0
/*
 * txn_test.c - libstmdev transactions (issue 6) against /dev/stm:
 * stm_atomic with opacity, read-your-writes, commute, blocking retry,
 * orElse, closed nesting, hooks, max_retries and timeouts, families, the
 * single operations, stm_wait, and the pollable watch set.
 *
 * Concurrency is between processes (fork), each with its own handle.
 * Every loop is bounded by a count; no result depends on how long
 * something took.  Where a test needs another process to be asleep in the
 * kernel first, it polls the store's "waits" counter (bounded).
 *
 * Skips (exit 4) only when /dev/stm does not exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define LT_STORE_PREFIX "tx"
#include "lib_test_util.h"

/* The 6.1 harness has unused parameters in its own wrappers. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

/* Memory shared with forked children. */
static void *shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static uint64_t waits_now(struct stm_store *s)
{
	struct stm_stats st;

	if (stm_stats(s, &st))
		return 0;
	return st.waits;
}

/* Until the store has seen @n sleeping waits: 0, or -1 after the bound. */
static int await_waits(struct stm_store *s, uint64_t n)
{
	for (int i = 0; i < 4000; i++) {
		if (waits_now(s) >= n)
			return 0;
		usleep(5000);
	}
	return -1;
}

static int put_i64(struct stm_store *s, const char *key, int64_t x)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)x >> (8 * i));
	return stm_swap(s, key, b, 8, NULL);
}

FIXTURE(tx) {
	char name[LT_NAME_MAX];
	struct stm_store *s;
	struct stm_store *s2;	/* a second handle: another "process" in-line */
};

FIXTURE_SETUP(tx)
{
	store_name(self->name, sizeof(self->name), "t");
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
	ASSERT_EQ(0, stm_open(self->name, 0, 0, &self->s2));
}

FIXTURE_TEARDOWN(tx)
{
	stm_close(self->s2);
	stm_close(self->s);
	stm_unlink(self->name);
}

/* ---- stm_atomic basics --------------------------------------------------- */

static int basics_fn(struct stm_txn *tx, void *arg)
{
	const void *d;
	size_t len;
	int64_t n;
	int ret;

	if (stm_get(tx, "a", &d, &len) != -ENOENT)
		return -100;
	ret = stm_put(tx, "a", "hello", 5);
	if (ret)
		return ret;
	ret = stm_get(tx, "a", &d, &len);	/* read your own write */
	if (ret || len != 5 || memcmp(d, "hello", 5))
		return -101;
	if (stm_put_i64(tx, "n", 5) || stm_add_i64(tx, "n", 2))
		return -102;
	if (stm_get_i64(tx, "n", &n) || n != 7)
		return -103;
	if (stm_get_i64(tx, "missing", &n) || n != 0)	/* absent reads as 0 */
		return -104;
	if (stm_get_i64(tx, "a", &n) != -EINVAL)	/* not 8 bytes */
		return -105;
	if (stm_del(tx, "a") || stm_get(tx, "a", &d, &len) != -ENOENT)
		return -106;
	if (stm_put(tx, "b", "x", 1) || stm_put(tx, "empty", NULL, 0))
		return -107;
	ret = stm_get(tx, "empty", &d, &len);
	if (ret || !d || len != 0)
		return -108;
	return 42;
}

static int fail_fn(struct stm_txn *tx, void *arg)
{
	int ret = stm_put(tx, "b", "changed", 7);

	return ret ? ret : -EPERM;
}

TEST_F(tx, atomic_read_your_writes_and_commit)
{
	char *b;

	ASSERT_EQ(42, stm_atomic(self->s, basics_fn, NULL, NULL));
	EXPECT_EQ(NULL, get_str(self->s, "a", NULL));
	EXPECT_EQ(7, get_i64(self->s, "n"));
	b = get_str(self->s, "b", NULL);
	ASSERT_NE(NULL, b);
	EXPECT_STREQ("x", b);
	free(b);
	b = get_str(self->s, "empty", NULL);
	ASSERT_NE(NULL, b);
	EXPECT_STREQ("", b);
	free(b);

	/* fn's -errno rolls back: nothing written, the error returned. */
	EXPECT_EQ(-EPERM, stm_atomic(self->s, fail_fn, NULL, NULL));
	b = get_str(self->s, "b", NULL);
	ASSERT_NE(NULL, b);
	EXPECT_STREQ("x", b);
	free(b);
}

static int get_key_fn(struct stm_txn *tx, void *arg)
{
	const void *d;

	return stm_get(tx, arg, &d, NULL);
}

static int noop_fn(struct stm_txn *tx, void *arg)
{
	return 0;
}

TEST_F(tx, bad_arguments)
{
	struct stm_txn_opts o = { .flags = 1U << 20 };
	char longfam[64];
	char longkey[300];
	const void *d;

	EXPECT_EQ(-EINVAL, stm_atomic(NULL, noop_fn, NULL, NULL));
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, noop_fn, NULL, &o));
	memset(longfam, 'f', sizeof(longfam) - 1);
	longfam[sizeof(longfam) - 1] = '\0';
	o = (struct stm_txn_opts){ .family = longfam };
	EXPECT_EQ(-ENAMETOOLONG, stm_atomic(self->s, noop_fn, NULL, &o));
	o = (struct stm_txn_opts){ .family = "" };
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, noop_fn, NULL, &o));
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, get_key_fn, longkey, NULL));
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, get_key_fn, "", NULL));
	/* outside a transaction, operations refuse */
	EXPECT_EQ(-EINVAL, stm_get(NULL, "k", &d, NULL));
	EXPECT_EQ(-EINVAL, stm_put(NULL, "k", "v", 1));
	EXPECT_EQ(-EINVAL, stm_retry_keys(NULL, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, stm_on_abort(NULL, NULL, NULL));
	EXPECT_EQ(0U, stm_txn_attempt(NULL));
	EXPECT_EQ(-EINVAL, stm_last_conflict(NULL, NULL, 0));
	EXPECT_NE(NULL, strstr(stm_strerror(-STM_ERETRIES), "conflicts"));
}

/* ---- read-only transactions ---------------------------------------------- */

static int sum_fn(struct stm_txn *tx, void *arg)
{
	int64_t x, y;
	int ret;

	ret = stm_get_i64(tx, "x", &x);
	if (ret)
		return ret;
	ret = stm_get_i64(tx, "y", &y);
	if (ret)
		return ret;
	*(int64_t *)arg = x + y;
	return 0;
}

static int write_x_fn(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "x", 1);
}

TEST_F(tx, read_only_needs_no_commit)
{
	struct stm_txn_opts ro = { .flags = STM_TXN_READONLY };
	struct stm_stats before, after;
	struct stm_store *rd;
	int64_t sum = 0;

	ASSERT_EQ(0, put_i64(self->s, "x", 40));
	ASSERT_EQ(0, put_i64(self->s, "y", 2));
	ASSERT_EQ(0, stm_stats(self->s, &before));
	ASSERT_EQ(0, stm_atomic(self->s, sum_fn, &sum, NULL));
	EXPECT_EQ(42, sum);
	ASSERT_EQ(0, stm_atomic(self->s, sum_fn, &sum, &ro));
	ASSERT_EQ(0, stm_stats(self->s, &after));
	/* Two snapshot reads each, no commit. */
	EXPECT_EQ(before.commits, after.commits);
	EXPECT_EQ(before.reads + 4, after.reads);

	EXPECT_EQ(-EBADF, stm_atomic(self->s, write_x_fn, NULL, &ro));
	ASSERT_EQ(0, stm_open(self->name, STM_RDONLY, 0, &rd));
	sum = 0;
	EXPECT_EQ(0, stm_atomic(rd, sum_fn, &sum, NULL));
	EXPECT_EQ(42, sum);
	EXPECT_EQ(-EBADF, stm_atomic(rd, write_x_fn, NULL, NULL));
	stm_close(rd);
	EXPECT_EQ(40, get_i64(self->s, "x"));
}

/* ---- opacity ------------------------------------------------------------- */

struct opq {
	struct stm_store *other;
	int first_y;		/* what stm_get(y) gave on attempt 1 */
	int put_after;		/* what stm_put gave after that */
	int64_t x, y;
};

static int opacity_fn(struct stm_txn *tx, void *arg)
{
	struct opq *o = arg;
	int ret;

	ret = stm_get_i64(tx, "x", &o->x);
	if (ret)
		return ret;
	if (stm_txn_attempt(tx) == 1) {
		/* Another writer moves x and y together, after our first read. */
		struct stm_coll *c;
		const char *keys[] = { "x", "y" };

		if (stm_using(o->other, keys, 2, &c))
			return -200;
		stm_value_set_i64(stm_coll_get(c, "x"), 10);
		stm_value_set_i64(stm_coll_get(c, "y"), -10);
		if (stm_coll_commit(c))
			return -201;
		stm_coll_free(c);
	}
	ret = stm_get_i64(tx, "y", &o->y);
	if (stm_txn_attempt(tx) == 1) {
		o->first_y = ret;
		o->put_after = stm_put_i64(tx, "z", 1);
	}
	if (ret)
		return ret;
	if (o->x + o->y != 0)
		return -202;
	return 0;
}

TEST_F(tx, opacity_read_after_a_change_restarts)
{
	struct opq o = { .other = self->s2 };
	char key[16] = "";

	ASSERT_EQ(0, put_i64(self->s, "x", 0));
	ASSERT_EQ(0, put_i64(self->s, "y", 0));
	ASSERT_EQ(0, stm_atomic(self->s, opacity_fn, &o, NULL));
	EXPECT_EQ(-STM_ECONFLICT, o.first_y);
	EXPECT_EQ(-STM_ECONFLICT, o.put_after);	/* the attempt is over */
	EXPECT_EQ(10, o.x);
	EXPECT_EQ(-10, o.y);
	EXPECT_EQ(1, stm_last_conflict(self->s, key, sizeof(key)));
	EXPECT_STREQ("y", key);
	EXPECT_EQ(INT64_MIN, get_i64(self->s, "z"));	/* read-only in the end */
}

struct inv {
	volatile int64_t violations;
	volatile int64_t reruns;
	volatile int64_t reads_done;
	volatile int64_t readers_left;
	volatile int64_t writes_done;
};

static int reader_fn(struct stm_txn *tx, void *arg)
{
	struct inv *v = arg;
	int64_t x, y;
	int ret;

	ret = stm_get_i64(tx, "x", &x);
	if (ret)
		return ret;
	sched_yield();	/* widen the window for a writer */
	ret = stm_get_i64(tx, "y", &y);
	if (ret)
		return ret;
	if (x + y != 0)
		__atomic_add_fetch(&v->violations, 1, __ATOMIC_RELAXED);
	if (stm_txn_attempt(tx) > 1)
		__atomic_add_fetch(&v->reruns, 1, __ATOMIC_RELAXED);
	return 0;
}

static int writer_fn(struct stm_txn *tx, void *arg)
{
	int64_t d = *(int64_t *)arg, x, y;
	int ret;

	ret = stm_get_i64(tx, "x", &x);
	if (ret)
		return ret;
	ret = stm_get_i64(tx, "y", &y);
	if (ret)
		return ret;
	ret = stm_put_i64(tx, "x", x + d);
	return ret ? ret : stm_put_i64(tx, "y", y - d);
}

/* Writers keep x + y == 0; readers check it inside fn: never broken. */
TEST_F_TIMEOUT(tx, opacity_invariant_across_processes, 300)
{
	enum { WRITERS = 2, READERS = 2, MAX_WRITES = 100000, READS = 2000 };
	const int reads = lt_scale(READS);
	struct stm_txn_opts ro = { .flags = STM_TXN_READONLY, .family = "reader" };
	struct inv *v = shared(sizeof(*v));
	pid_t pids[WRITERS + READERS];

	ASSERT_NE(NULL, v);
	v->readers_left = READERS;
	for (int i = 0; i < WRITERS + READERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct stm_store *s;
			int rc = 0;

			if (stm_open(self->name, 0, 0, &s))
				_exit(10);
			if (i < WRITERS) {
				/* Write for as long as the readers read (bounded). */
				for (int k = 0; k < MAX_WRITES && !rc &&
				     __atomic_load_n(&v->readers_left, __ATOMIC_RELAXED); k++) {
					int64_t d = (k % 7) - 3 + i;

					rc = stm_atomic(s, writer_fn, &d, NULL) ? 11 : 0;
					__atomic_add_fetch(&v->writes_done, 1, __ATOMIC_RELAXED);
				}
			} else {
				for (int k = 0; k < reads && !rc; k++)
					rc = stm_atomic(s, reader_fn, v, &ro) ? 12 : 0;
				__atomic_add_fetch(&v->reads_done, reads, __ATOMIC_RELAXED);
				__atomic_sub_fetch(&v->readers_left, 1, __ATOMIC_RELAXED);
			}
			stm_close(s);
			_exit(rc);
		}
	}
	for (int i = 0; i < WRITERS + READERS; i++)
		EXPECT_EQ(0, child_status(pids[i]));
	EXPECT_EQ(0, v->violations);
	EXPECT_EQ(READERS * reads, v->reads_done);
	EXPECT_EQ(0, get_i64(self->s, "x") + get_i64(self->s, "y"));
	TH_LOG("%d read-only transactions against %" PRId64 " writes; %" PRId64
	       " reads rerun after a change", READERS * reads, (int64_t)v->writes_done,
	       (int64_t)v->reruns);
	munmap(v, sizeof(*v));
}

/* ---- commute ------------------------------------------------------------- */

static int incr_fn(struct stm_txn *tx, void *arg)
{
	unsigned *max_attempt = arg;

	if (stm_txn_attempt(tx) > *max_attempt)
		*max_attempt = stm_txn_attempt(tx);
	return stm_add_i64(tx, "ctr", 1);
}

struct fam_find {
	const char *name;
	struct stm_family_stats st;
	int found;
};

static int fam_cb(const struct stm_family_stats *f, void *arg)
{
	struct fam_find *ff = arg;

	if (!strcmp(f->name, ff->name)) {
		ff->st = *f;
		ff->st.name = NULL;
		ff->found = 1;
	}
	return 0;
}

/* 4 processes x 10,000 additions on one key: exact, never a conflict. */
TEST_F_TIMEOUT(tx, commute_never_conflicts, 600)
{
	enum { PROCS = 4, ADDS = 10000 };
	const int adds = lt_scale(ADDS);
	struct stm_txn_opts o = { .family = "commute" };
	struct fam_find ff = { .name = "commute" };
	struct stm_stats before, after;
	unsigned *max_attempt = shared(sizeof(unsigned) * PROCS);
	pid_t pids[PROCS];

	ASSERT_NE(NULL, max_attempt);
	ASSERT_EQ(0, stm_stats(self->s, &before));
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct stm_store *s;
			int rc = 0;

			if (stm_open(self->name, 0, 0, &s))
				_exit(10);
			for (int k = 0; k < adds && !rc; k++)
				rc = stm_atomic(s, incr_fn, &max_attempt[i], &o) ? 11 : 0;
			stm_close(s);
			_exit(rc);
		}
	}
	for (int i = 0; i < PROCS; i++)
		EXPECT_EQ(0, child_status(pids[i]));
	EXPECT_EQ(PROCS * adds, get_i64(self->s, "ctr"));
	ASSERT_EQ(0, stm_stats(self->s, &after));
	for (int i = 0; i < PROCS; i++)
		EXPECT_EQ(1U, max_attempt[i]);	/* no rerun, ever */
	/* etcd counts commits and families per handle (Documentation/etcd.rst) */
	if (!lt_backend("dev"))
		return;
	EXPECT_EQ(before.conflicts, after.conflicts);
	EXPECT_EQ(before.commits + PROCS * adds, after.commits);
	ASSERT_LT(0, stm_families(self->s, fam_cb, &ff));
	ASSERT_EQ(1, ff.found);
	EXPECT_EQ((uint64_t)PROCS * adds, ff.st.commits);
	EXPECT_EQ((uint64_t)PROCS * adds, ff.st.attempts);
	EXPECT_EQ(0U, ff.st.conflicts);
	EXPECT_EQ(0U, ff.st.retries);
	munmap(max_attempt, sizeof(unsigned) * PROCS);
}

static int add_forms_fn(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret;

	/* blind: two additions stay one kernel addition */
	if (stm_add_i64(tx, "blind", 5) || stm_add_i64(tx, "blind", 6))
		return -300;
	/* read, then add: folded into a checked write */
	ret = stm_get_i64(tx, "read", &x);
	if (ret)
		return ret;
	if (stm_add_i64(tx, "read", 10))
		return -301;
	if (stm_get_i64(tx, "read", &x) || x != 110)
		return -302;
	/* add, then read: reads the key and folds the pending addition */
	if (stm_add_i64(tx, "late", 3) || stm_get_i64(tx, "late", &x) || x != 1003)
		return -303;
	/* deleted, then added: absent counts as 0 */
	if (stm_del(tx, "gone") || stm_add_i64(tx, "gone", 4) ||
	    stm_get_i64(tx, "gone", &x) || x != 4)
		return -304;
	/* on a value that is not 8 bytes */
	if (stm_put(tx, "str", "abc", 3) || stm_add_i64(tx, "str", 1) != -EINVAL)
		return -305;
	return 0;
}

TEST_F(tx, add_i64_forms)
{
	ASSERT_EQ(0, put_i64(self->s, "blind", 100));
	ASSERT_EQ(0, put_i64(self->s, "read", 100));
	ASSERT_EQ(0, put_i64(self->s, "late", 1000));
	ASSERT_EQ(0, put_i64(self->s, "gone", 77));
	ASSERT_EQ(0, stm_atomic(self->s, add_forms_fn, NULL, NULL));
	EXPECT_EQ(111, get_i64(self->s, "blind"));
	EXPECT_EQ(110, get_i64(self->s, "read"));
	EXPECT_EQ(1003, get_i64(self->s, "late"));
	EXPECT_EQ(4, get_i64(self->s, "gone"));
}

/* ---- hooks ---------------------------------------------------------------- */

struct hooks {
	struct stm_store *other;
	unsigned conflicts_wanted;	/* attempts that get a conflicting write */
	int before, after, abort;
};

static void cnt(void *p)
{
	(*(int *)p)++;
}

static int hooked_fn(struct stm_txn *tx, void *arg)
{
	struct hooks *h = arg;
	int64_t c;
	int ret;

	ret = stm_get_i64(tx, "c", &c);
	if (ret)
		return ret;
	if (stm_before_commit(tx, cnt, &h->before) || stm_after_commit(tx, cnt, &h->after) ||
	    stm_on_abort(tx, cnt, &h->abort))
		return -400;
	/* Someone else writes c after our read: this attempt must conflict. */
	if (stm_txn_attempt(tx) <= h->conflicts_wanted &&
	    stm_fetch_add(h->other, "c", 100, NULL))
		return -401;
	return stm_put_i64(tx, "c", c + 1);
}

TEST_F(tx, hooks_counted_across_conflicts)
{
	struct hooks h = { .other = self->s2, .conflicts_wanted = 3 };
	char key[8];

	ASSERT_EQ(0, stm_atomic(self->s, hooked_fn, &h, NULL));
	EXPECT_EQ(4, h.before);		/* every attempt that reached its commit */
	EXPECT_EQ(1, h.after);		/* exactly once */
	EXPECT_EQ(3, h.abort);		/* one per failed attempt */
	EXPECT_EQ(301, get_i64(self->s, "c"));
	EXPECT_EQ(1, stm_last_conflict(self->s, key, sizeof(key)));
	EXPECT_STREQ("c", key);

	/* No conflict: one of each, and no conflict to tell. */
	h = (struct hooks){ .other = self->s2 };
	ASSERT_EQ(0, stm_atomic(self->s, hooked_fn, &h, NULL));
	EXPECT_EQ(1, h.before);
	EXPECT_EQ(1, h.after);
	EXPECT_EQ(0, h.abort);
	EXPECT_EQ(0, stm_last_conflict(self->s, key, sizeof(key)));
}

struct retry_hooks {
	struct stm_store *other;
	int after, abort;
};

static int wait_go_fn(struct stm_txn *tx, void *arg)
{
	struct retry_hooks *h = arg;
	int64_t go;
	int ret;

	ret = stm_get_i64(tx, "go", &go);
	if (ret)
		return ret;
	if (stm_after_commit(tx, cnt, &h->after) || stm_on_abort(tx, cnt, &h->abort))
		return -410;
	if (!go) {
		/* The change we wait for comes while we decide to wait: the
		 * wait must see it (versions from our snapshot), not sleep. */
		if (h->other && stm_fetch_add(h->other, "go", 1, NULL))
			return -411;
		return STM_RETRY;
	}
	return stm_put_i64(tx, "done", go);
}

TEST_F(tx, hooks_counted_across_a_blocking_retry)
{
	struct retry_hooks h = { .other = self->s2 };

	ASSERT_EQ(0, stm_atomic(self->s, wait_go_fn, &h, NULL));
	EXPECT_EQ(1, h.after);
	EXPECT_EQ(1, h.abort);
	EXPECT_EQ(1, get_i64(self->s, "done"));
}

static void hook_put(void *arg)
{
	struct stm_txn *tx = arg;

	stm_put(tx, "from-hook", "yes", 3);
}

static int before_writes_fn(struct stm_txn *tx, void *arg)
{
	return stm_before_commit(tx, hook_put, tx);
}

TEST_F(tx, before_commit_hook_may_write)
{
	char *v;

	ASSERT_EQ(0, stm_atomic(self->s, before_writes_fn, NULL, NULL));
	v = get_str(self->s, "from-hook", NULL);
	ASSERT_NE(NULL, v);
	EXPECT_STREQ("yes", v);
	free(v);
}

/* ---- max_retries, timeouts, errors of retry ------------------------------ */

TEST_F(tx, max_retries_then_eretries)
{
	struct stm_txn_opts o = { .max_retries = 3 };
	struct hooks h = { .other = self->s2, .conflicts_wanted = 1000 };

	EXPECT_EQ(-STM_ERETRIES, stm_atomic(self->s, hooked_fn, &h, &o));
	EXPECT_EQ(4, h.before);		/* the first run and 3 reruns */
	EXPECT_EQ(4, h.abort);
	EXPECT_EQ(0, h.after);
	EXPECT_EQ(400, get_i64(self->s, "c"));	/* only the other writer's */
}

static int retry_on_never_fn(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_get_i64(tx, "never", &x);

	if (ret)
		return ret;
	if (stm_on_abort(tx, cnt, arg))
		return -420;
	return x ? 0 : STM_RETRY;
}

static int retry_nothing_fn(struct stm_txn *tx, void *arg)
{
	return STM_RETRY;
}

TEST_F(tx, timeout_and_retry_errors)
{
	struct stm_txn_opts o = { .timeout_ms = 100 };
	int aborts = 0;

	EXPECT_EQ(-ETIMEDOUT, stm_atomic(self->s, retry_on_never_fn, &aborts, &o));
	EXPECT_EQ(1, aborts);
	/* Nothing read: nothing could ever wake it. */
	EXPECT_EQ(-EDEADLK, stm_atomic(self->s, retry_nothing_fn, NULL, NULL));
}

struct rk {
	struct stm_store *other;
	unsigned flags;
};

static int retry_keys_fn(struct stm_txn *tx, void *arg)
{
	struct rk *r = arg;
	const char *keys[] = { "ka", "kb" };
	int64_t a, b;
	int ret;

	ret = stm_get_i64(tx, "ka", &a);
	if (ret)
		return ret;
	ret = stm_get_i64(tx, "kb", &b);
	if (ret)
		return ret;
	if (stm_txn_attempt(tx) > 1)
		return 7;
	/* Only ka changes after our snapshot. */
	if (stm_fetch_add(r->other, "ka", 1, NULL))
		return -430;
	return stm_retry_keys(tx, keys, 2, r->flags);
}

TEST_F(tx, retry_keys_any_and_all)
{
	struct stm_txn_opts o = { .timeout_ms = 200 };
	struct rk r = { .other = self->s2, .flags = STM_WAIT_ANY };
	const char *bad[] = { "x" };

	EXPECT_EQ(7, stm_atomic(self->s, retry_keys_fn, &r, NULL));
	r.flags = STM_WAIT_ALL;		/* kb never changes */
	EXPECT_EQ(-ETIMEDOUT, stm_atomic(self->s, retry_keys_fn, &r, &o));
	EXPECT_EQ(-EINVAL, stm_retry_keys(NULL, bad, 1, 0));
}

/* ---- orElse -------------------------------------------------------------- */

struct oe {
	int a_aborts, a_afters;
};

static int take_a(struct stm_txn *tx, void *arg)
{
	struct oe *o = arg;
	int64_t a;
	int ret;

	/* writes and hooks that must vanish when this branch retries */
	if (stm_put(tx, "marker", "a", 1) || stm_on_abort(tx, cnt, &o->a_aborts) ||
	    stm_after_commit(tx, cnt, &o->a_afters))
		return -500;
	ret = stm_get_i64(tx, "a", &a);
	if (ret)
		return ret;
	if (!a)
		return STM_RETRY;
	ret = stm_put_i64(tx, "a", a - 1);
	return ret ? ret : 3;	/* not 1: that is STM_RETRY */
}

static int take_b(struct stm_txn *tx, void *arg)
{
	int ret = stm_put(tx, "took", "b", 1);

	return ret ? ret : 2;
}

static int or_else_fn(struct stm_txn *tx, void *arg)
{
	return stm_or_else(tx, take_a, arg, take_b, arg);
}

TEST_F(tx, or_else_takes_the_second_branch)
{
	struct oe o = {};
	char *m;

	EXPECT_EQ(2, stm_atomic(self->s, or_else_fn, &o, NULL));
	EXPECT_EQ(NULL, get_str(self->s, "marker", NULL));	/* a's write discarded */
	m = get_str(self->s, "took", NULL);
	ASSERT_NE(NULL, m);
	EXPECT_STREQ("b", m);
	free(m);
	EXPECT_EQ(1, o.a_aborts);
	EXPECT_EQ(0, o.a_afters);

	/* When a can go, a it is. */
	o = (struct oe){};
	ASSERT_EQ(0, put_i64(self->s, "a", 1));
	EXPECT_EQ(3, stm_atomic(self->s, or_else_fn, &o, NULL));
	m = get_str(self->s, "marker", NULL);
	ASSERT_NE(NULL, m);
	EXPECT_STREQ("a", m);
	free(m);
	EXPECT_EQ(0, get_i64(self->s, "a"));
	EXPECT_EQ(0, o.a_aborts);
	EXPECT_EQ(1, o.a_afters);
}

static int need_x(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_get_i64(tx, "x", &x);

	return ret ? ret : (x ? 4 : STM_RETRY);
}

static int need_y(struct stm_txn *tx, void *arg)
{
	int64_t y;
	int ret = stm_get_i64(tx, "y", &y);

	return ret ? ret : (y ? 2 : STM_RETRY);
}

static int x_or_y_fn(struct stm_txn *tx, void *arg)
{
	int r = stm_or_else(tx, need_x, NULL, need_y, NULL);

	if (r >= 0 && r != STM_RETRY)
		*(unsigned *)arg = stm_txn_attempt(tx);
	return r;
}

/* Both branches retry: block on x and y; a write to y (only) wakes it. */
TEST_F(tx, or_else_both_retry_waits_on_the_union)
{
	uint64_t w0 = waits_now(self->s);
	unsigned *attempts = shared(sizeof(unsigned));
	pid_t pid;

	ASSERT_NE(NULL, attempts);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;
		int r;

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		r = stm_atomic(s, x_or_y_fn, attempts, NULL);
		stm_close(s);
		_exit(r == 2 ? 0 : 11);
	}
	ASSERT_EQ(0, await_waits(self->s, w0 + 1));
	ASSERT_EQ(0, put_i64(self->s, "y", 1));
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(2U, *attempts);
	munmap(attempts, sizeof(unsigned));
}

/* ---- nesting ------------------------------------------------------------- */

struct nest {
	int inner_aborts, inner_afters, ok_afters;
	struct stm_txn *outer_tx, *inner_tx;
	int r_fail, r_ok, r_deep;
};

static int inner_fail(struct stm_txn *tx, void *arg)
{
	struct nest *n = arg;

	n->inner_tx = tx;
	if (stm_put_i64(tx, "a", 5) || stm_put_i64(tx, "b", 2) || stm_add_i64(tx, "k", 10) ||
	    stm_on_abort(tx, cnt, &n->inner_aborts) ||
	    stm_after_commit(tx, cnt, &n->inner_afters))
		return -600;
	return -EINVAL;
}

static int inner_ok(struct stm_txn *tx, void *arg)
{
	struct nest *n = arg;

	if (stm_put_i64(tx, "c", 3) || stm_after_commit(tx, cnt, &n->ok_afters))
		return -601;
	return 7;
}

static int deepest_fail(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "d", 2) ? -602 : -ENOSPC;
}

static struct stm_store *nest_store;

static int deep_mid(struct stm_txn *tx, void *arg)
{
	struct nest *n = arg;
	int64_t d;

	if (stm_put_i64(tx, "d", 1))
		return -603;
	n->r_deep = stm_atomic(nest_store, deepest_fail, NULL, NULL);
	return stm_get_i64(tx, "d", &d) ? -604 : (int)d + 10;
}

static int outer_fn(struct stm_txn *tx, void *arg)
{
	struct nest *n = arg;
	const void *d;
	int64_t a;

	n->outer_tx = tx;
	if (stm_put_i64(tx, "a", 1) || stm_add_i64(tx, "k", 1))
		return -610;
	n->r_fail = stm_atomic(nest_store, inner_fail, n, NULL);
	if (stm_get_i64(tx, "a", &a) || a != 1)		/* inner write rolled back */
		return -611;
	if (stm_get(tx, "b", &d, NULL) != -ENOENT)
		return -612;
	n->r_ok = stm_atomic(nest_store, inner_ok, n, NULL);
	if (stm_get_i64(tx, "c", &a) || a != 3)		/* joined: visible */
		return -613;
	if (stm_atomic(nest_store, deep_mid, n, NULL) != 11)
		return -614;
	return 0;
}

TEST_F(tx, nested_rollback_is_closed)
{
	struct nest n = {};

	nest_store = self->s;
	ASSERT_EQ(0, stm_atomic(self->s, outer_fn, &n, NULL));
	EXPECT_EQ(-EINVAL, n.r_fail);
	EXPECT_EQ(7, n.r_ok);
	EXPECT_EQ(-ENOSPC, n.r_deep);
	EXPECT_EQ(n.outer_tx, n.inner_tx);	/* joined, not a new transaction */
	EXPECT_EQ(1, n.inner_aborts);		/* the rolled-back block's hook */
	EXPECT_EQ(0, n.inner_afters);
	EXPECT_EQ(1, n.ok_afters);		/* after the outer commit */
	EXPECT_EQ(1, get_i64(self->s, "a"));
	EXPECT_EQ(INT64_MIN, get_i64(self->s, "b"));
	EXPECT_EQ(3, get_i64(self->s, "c"));
	EXPECT_EQ(1, get_i64(self->s, "d"));
	EXPECT_EQ(1, get_i64(self->s, "k"));	/* the inner addition undone */
}

struct two {
	struct stm_store *other_store;
	int inner;
};

static int other_store_fn(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "independent", 1);
}

static int outer_two_fn(struct stm_txn *tx, void *arg)
{
	struct two *t = arg;

	/* Another store: its own transaction, committed on its own. */
	t->inner = stm_atomic(t->other_store, other_store_fn, NULL, NULL);
	return -EPERM;
}

TEST_F(tx, nested_on_another_store_is_independent)
{
	char name2[LT_NAME_MAX];
	struct two t = {};

	store_name(name2, sizeof(name2), "o");
	ASSERT_EQ(0, stm_open(name2, STM_CREAT | STM_EXCL, 0600, &t.other_store));
	EXPECT_EQ(-EPERM, stm_atomic(self->s, outer_two_fn, &t, NULL));
	EXPECT_EQ(0, t.inner);
	EXPECT_EQ(1, get_i64(t.other_store, "independent"));
	stm_close(t.other_store);
	stm_unlink(name2);
}

/* ---- blocking retry across processes ------------------------------------- */

static int take_fn(struct stm_txn *tx, void *arg)
{
	int64_t head, tail, item;
	char key[32];
	int ret;

	ret = stm_get_i64(tx, "head", &head);
	if (ret)
		return ret;
	ret = stm_get_i64(tx, "tail", &tail);
	if (ret)
		return ret;
	if (head == tail)
		return STM_RETRY;	/* empty: sleep until head or tail moves */
	snprintf(key, sizeof(key), "q.%" PRId64, head);
	ret = stm_get_i64(tx, key, &item);
	if (ret)
		return ret;
	ret = stm_del(tx, key);
	if (!ret)
		ret = stm_put_i64(tx, "head", head + 1);
	if (ret)
		return ret;
	*(int64_t *)arg = item;
	return 0;
}

static int put_fn(struct stm_txn *tx, void *arg)
{
	int64_t tail, item = *(int64_t *)arg;
	char key[32];
	int ret;

	ret = stm_get_i64(tx, "tail", &tail);
	if (ret)
		return ret;
	snprintf(key, sizeof(key), "q.%" PRId64, tail);
	ret = stm_put_i64(tx, key, item);
	return ret ? ret : stm_put_i64(tx, "tail", tail + 1);
}

/* The consumer blocks on the empty queue before every item. */
TEST_F(tx, producer_consumer_blocks_on_empty_queue)
{
	enum { ITEMS = 20 };
	struct stm_txn_opts co = { .family = "consumer" };
	struct fam_find ff = { .name = "consumer" };
	uint64_t w0 = waits_now(self->s);
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;
		int64_t sum = 0, item;

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		for (int i = 0; i < ITEMS; i++) {
			if (stm_atomic(s, take_fn, &item, &co))
				_exit(11);
			if (item != i * 3)
				_exit(12);
			sum += item;
		}
		stm_close(s);
		_exit(sum == 3 * ITEMS * (ITEMS - 1) / 2 ? 0 : 13);
	}
	for (int i = 0; i < ITEMS; i++) {
		int64_t item = i * 3;

		/* The consumer is asleep on the empty queue, then we put. */
		ASSERT_EQ(0, await_waits(self->s, w0 + i + 1));
		ASSERT_EQ(0, stm_atomic(self->s, put_fn, &item, NULL));
	}
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(ITEMS, get_i64(self->s, "head"));
	EXPECT_EQ(ITEMS, get_i64(self->s, "tail"));
	if (!lt_backend("dev"))
		return;		/* etcd: the child's families are its handle's */
	ASSERT_LT(0, stm_families(self->s, fam_cb, &ff));
	EXPECT_EQ((uint64_t)ITEMS, ff.st.waits);
	EXPECT_EQ((uint64_t)ITEMS, ff.st.commits);
	/* each take waited once, then committed from its rerun */
	EXPECT_EQ((uint64_t)ITEMS, ff.st.retries);
}

static long cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int wait_go_plain_fn(struct stm_txn *tx, void *arg)
{
	int64_t go;
	int ret = stm_get_i64(tx, "go", &go);

	return ret ? ret : (go ? 0 : STM_RETRY);
}

/* Blocked for about a second, the waiter burns (almost) no CPU. */
TEST_F(tx, blocked_retry_uses_no_cpu)
{
	long *used = shared(sizeof(long));
	uint64_t w0 = waits_now(self->s);
	pid_t pid;

	ASSERT_NE(NULL, used);
	*used = -1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;
		long t0;
		int r;

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		t0 = cpu_us();
		r = stm_atomic(s, wait_go_plain_fn, NULL, NULL);
		*used = cpu_us() - t0;
		stm_close(s);
		_exit(r ? 11 : 0);
	}
	ASSERT_EQ(0, await_waits(self->s, w0 + 1));
	usleep(1000000);
	ASSERT_EQ(0, put_i64(self->s, "go", 1));
	EXPECT_EQ(0, child_status(pid));
	TH_LOG("CPU used while blocked: %ld us", *used);
	EXPECT_LE(0, *used);
	EXPECT_GT(200000, *used);	/* a resource bound, not a timing */
	munmap(used, sizeof(long));
}

static void on_usr1(int sig)
{
}

TEST_F(tx, blocked_retry_interrupted_and_unlinked)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	uint64_t w0 = waits_now(self->s);
	pid_t pid, parent = getpid();
	int aborts = 0;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	/* (etcd: a signal does not interrupt a wait; Documentation/etcd.rst) */
	if (lt_backend("dev")) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			if (await_waits(self->s2, w0 + 1))
				_exit(1);
			_exit(kill(parent, SIGUSR1) ? 2 : 0);
		}
		EXPECT_EQ(-EINTR, stm_atomic(self->s, retry_on_never_fn, &aborts, NULL));
		EXPECT_EQ(1, aborts);
		EXPECT_EQ(0, child_status(pid));
	}

	/* Unlinking the store wakes its waiters with EIDRM. */
	aborts = 0;
	w0 = waits_now(self->s);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (await_waits(self->s2, w0 + 1))
			_exit(1);
		_exit(stm_unlink(self->name) ? 2 : 0);
	}
	EXPECT_EQ(-EIDRM, stm_atomic(self->s, retry_on_never_fn, &aborts, NULL));
	EXPECT_EQ(1, aborts);
	EXPECT_EQ(0, child_status(pid));
}

/* ---- single operations --------------------------------------------------- */

TEST_F(tx, single_operations)
{
	struct stm_value *old;
	uint64_t v1 = 0, v2 = 0;
	const char *d;
	int64_t r;
	size_t len;
	char *s;

	/* cas: 0 = must be absent */
	ASSERT_EQ(0, stm_cas(self->s, "k", 0, "one", 3, &v1));
	EXPECT_LT(0U, v1);
	EXPECT_EQ(-STM_ECONFLICT, stm_cas(self->s, "k", 0, "two", 3, NULL));
	EXPECT_EQ(-STM_ECONFLICT, stm_cas(self->s, "k", v1 + 1000, "two", 3, NULL));
	ASSERT_EQ(0, stm_cas(self->s, "k", v1, "two", 3, &v2));
	EXPECT_LT(v1, v2);

	/* swap: the old value and version come back */
	ASSERT_EQ(0, stm_swap(self->s, "k", "three", 5, &old));
	ASSERT_NE(NULL, old);
	d = stm_value_data(old, &len);
	ASSERT_NE(NULL, d);
	EXPECT_EQ(3U, len);
	EXPECT_EQ(0, memcmp(d, "two", 3));
	EXPECT_EQ(v2, stm_value_version(old));
	stm_value_free(old);
	ASSERT_EQ(0, stm_swap(self->s, "fresh", "x", 1, &old));
	EXPECT_EQ(NULL, stm_value_data(old, &len));	/* was absent */
	EXPECT_EQ(0U, stm_value_version(old));
	stm_value_free(old);
	/* an old value larger than the first guess of its size */
	{
		static char big[3000];
		uint64_t vb;

		memset(big, 'z', sizeof(big));
		ASSERT_EQ(0, stm_cas(self->s, "big", 0, big, sizeof(big), &vb));
		ASSERT_EQ(0, stm_swap(self->s, "big", "y", 1, &old));
		d = stm_value_data(old, &len);
		ASSERT_NE(NULL, d);
		EXPECT_EQ(sizeof(big), len);
		EXPECT_EQ(0, memcmp(d, big, sizeof(big)));
		EXPECT_EQ(vb, stm_value_version(old));
		stm_value_free(old);
	}
	ASSERT_EQ(0, stm_swap(self->s, "k", "four", 4, NULL));
	s = get_str(self->s, "k", NULL);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("four", s);
	free(s);
	ASSERT_EQ(0, stm_swap_n(self->s, "\0b", 2, "bin", 3, NULL));
	EXPECT_EQ(-EINVAL, stm_swap(self->s, NULL, "x", 1, NULL));

	/* fetch_add: absent counts as 0, the result comes back */
	ASSERT_EQ(0, stm_fetch_add(self->s, "n", 5, &r));
	EXPECT_EQ(5, r);
	ASSERT_EQ(0, stm_fetch_add(self->s, "n", -7, &r));
	EXPECT_EQ(-2, r);
	EXPECT_EQ(-EINVAL, stm_fetch_add(self->s, "k", 1, &r));	/* not 8 bytes */
}

/* ---- waiting and watching ------------------------------------------------ */

TEST_F(tx, wait_outside_a_transaction)
{
	const char *keys[] = { "w1", "w2" };
	uint64_t vers[] = { 0, 0 }, v = 0;
	uint64_t w0 = waits_now(self->s);
	pid_t pid;

	EXPECT_EQ(-ETIMEDOUT, stm_wait(self->s, keys, vers, 2, STM_WAIT_ANY, 0));
	EXPECT_EQ(-ETIMEDOUT, stm_wait(self->s, keys, vers, 2, STM_WAIT_ANY, 20));
	ASSERT_EQ(0, stm_cas(self->s, "w1", 0, "1", 1, &v));
	EXPECT_EQ(0, stm_wait(self->s, keys, vers, 2, STM_WAIT_ANY, 0));
	EXPECT_EQ(-ETIMEDOUT, stm_wait(self->s, keys, vers, 2, STM_WAIT_ALL, 0));
	vers[0] = v;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;

		if (stm_open(self->name, 0, 0, &s) || await_waits(s, w0 + 1))
			_exit(1);
		_exit(stm_cas(s, "w2", 0, "2", 1, NULL) ? 2 : 0);
	}
	EXPECT_EQ(1, stm_wait(self->s, keys, vers, 2, STM_WAIT_ANY, -1));
	EXPECT_EQ(0, child_status(pid));

	EXPECT_EQ(-EINVAL, stm_wait(self->s, keys, vers, 0, 0, 0));
	EXPECT_EQ(-EINVAL, stm_wait(self->s, keys, NULL, 2, 0, 0));
	EXPECT_EQ(-EINVAL, stm_wait(self->s, keys, vers, 2, 1U << 9, 0));
}

static int del_key_fn(struct stm_txn *tx, void *arg)
{
	return stm_del(tx, arg);
}

TEST_F(tx, watch_poll_and_epoll)
{
	const char *keys[] = { "p" };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct pollfd pfd;
	int fd, ep;
	pid_t pid;

	fd = stm_store_fd(self->s);
	if (fd == -EOPNOTSUPP && !lt_backend("dev"))
		SKIP(return, "no pollable descriptor on this backend (Documentation/etcd.rst)");
	ASSERT_LE(0, fd);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));		/* no watch set: quiet */
	ASSERT_EQ(0, stm_watch(self->s, keys, 1));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* another process writes: poll wakes */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;

		if (stm_open(self->name, 0, 0, &s))
			_exit(1);
		_exit(stm_cas(s, "p", 0, "1", 1, NULL) ? 2 : 0);
	}
	EXPECT_EQ(1, poll(&pfd, 1, -1));
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_EQ(0, child_status(pid));

	/* re-armed at the new version: quiet again */
	ASSERT_EQ(0, stm_watch(self->s, keys, 1));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* epoll, and a delete is a change */
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(0, stm_swap(self->s2, "p", "2", 1, NULL));
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, -1));
	ASSERT_EQ(0, stm_watch(self->s, keys, 1));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(0, stm_atomic(self->s2, del_key_fn, "p", NULL));
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, -1));
	close(ep);

	/* cleared: quiet whatever happens */
	ASSERT_EQ(0, stm_watch(self->s, NULL, 0));
	ASSERT_EQ(0, stm_swap(self->s2, "p", "3", 1, NULL));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
}

/* ---- non-blocking commits ------------------------------------------------- */

static int nb_incr_fn(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_get_i64(tx, "nb", &x);

	return ret ? ret : stm_put_i64(tx, "nb", x + 1);
}

/* Every transaction either commits or reports busy; the count is exact. */
TEST_F_TIMEOUT(tx, nonblock_reports_busy_or_commits, 300)
{
	enum { PROCS = 3, TXNS = 500 };
	struct stm_txn_opts o = { .flags = STM_TXN_NONBLOCK };
	int64_t *ok = shared(sizeof(int64_t) * PROCS);
	pid_t pids[PROCS];
	int64_t total = 0;

	ASSERT_NE(NULL, ok);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct stm_store *s;

			if (stm_open(self->name, 0, 0, &s))
				_exit(10);
			for (int k = 0; k < TXNS; k++) {
				int r = stm_atomic(s, nb_incr_fn, NULL, &o);

				if (r == 0)
					ok[i]++;
				else if (r != -STM_EBUSY)
					_exit(11);
			}
			stm_close(s);
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		EXPECT_EQ(0, child_status(pids[i]));
		total += ok[i];
	}
	EXPECT_EQ(total, get_i64(self->s, "nb"));
	munmap(ok, sizeof(int64_t) * PROCS);
}

/* ---- big transactions, threads -------------------------------------------- */

enum { BIG_KEYS = 100 };

static size_t big_len(int i)
{
	return 200 + (size_t)i * 37;	/* past the first read buffer's guess */
}

static int big_write_fn(struct stm_txn *tx, void *arg)
{
	static char val[BIG_KEYS * 37 + 200];
	char key[16];
	int ret;

	for (int i = 0; i < BIG_KEYS; i++) {
		snprintf(key, sizeof(key), "big.%d", i);
		memset(val, 'a' + i % 26, big_len(i));
		ret = stm_put(tx, key, val, big_len(i));
		if (ret)
			return ret;
	}
	return 0;
}

static int big_inner_fail(struct stm_txn *tx, void *arg)
{
	char key[16];

	for (int i = 0; i < BIG_KEYS; i++) {
		snprintf(key, sizeof(key), "big.%d", i);
		if (stm_put(tx, key, "x", 1) || stm_add_i64(tx, "sum", 1000))
			return -700;
	}
	return -EIO;
}

static int big_read_fn(struct stm_txn *tx, void *arg)
{
	int64_t *sum = arg;
	char key[16];
	const char *d;
	size_t len;
	int ret;

	*sum = 0;
	for (int i = 0; i < BIG_KEYS; i++) {
		snprintf(key, sizeof(key), "big.%d", i);
		ret = stm_get(tx, key, (const void **)&d, &len);
		if (ret)
			return ret;
		if (len != big_len(i) || d[0] != 'a' + i % 26 || d[len - 1] != d[0])
			return -701;
		*sum += len;
	}
	/* A nested block that rewrites every key, then fails: all undone. */
	if (stm_atomic(nest_store, big_inner_fail, NULL, NULL) != -EIO)
		return -702;
	for (int i = 0; i < BIG_KEYS; i++) {
		snprintf(key, sizeof(key), "big.%d", i);
		ret = stm_get(tx, key, (const void **)&d, &len);
		if (ret)
			return ret;
		if (len != big_len(i))
			return -703;
	}
	return stm_put_i64(tx, "sum", *sum);
}

TEST_F(tx, big_transactions)
{
	int64_t sum = 0, want = 0;

	for (int i = 0; i < BIG_KEYS; i++)
		want += big_len(i);
	nest_store = self->s;
	ASSERT_EQ(0, stm_atomic(self->s, big_write_fn, NULL, NULL));
	ASSERT_EQ(0, stm_atomic(self->s, big_read_fn, &sum, NULL));
	EXPECT_EQ(want, sum);
	EXPECT_EQ(want, get_i64(self->s, "sum"));
}

struct thr {
	struct stm_store *s;
	int rc;
};

static int thr_incr_fn(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_get_i64(tx, "shared", &x);

	return ret ? ret : stm_put_i64(tx, "shared", x + 1);
}

static void *thr_main(void *arg)
{
	struct stm_txn_opts o = { .family = "threads" };
	struct thr *t = arg;

	for (int i = 0; i < 300 && !t->rc; i++)
		t->rc = stm_atomic(t->s, thr_incr_fn, NULL, &o);
	return NULL;
}

/* Threads share one handle; each has its own transactions. */
TEST_F(tx, threads_share_a_handle)
{
	enum { THREADS = 4 };
	struct fam_find ff = { .name = "threads" };
	struct thr t[THREADS];
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct thr){ .s = self->s };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thr_main, &t[i]));
	}
	for (int i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(0, t[i].rc);
	}
	EXPECT_EQ(THREADS * 300, get_i64(self->s, "shared"));
	ASSERT_LT(0, stm_families(self->s, fam_cb, &ff));
	EXPECT_EQ((uint64_t)THREADS * 300, ff.st.commits);
	EXPECT_EQ(ff.st.attempts, ff.st.commits + ff.st.conflicts);
}

TEST_HARNESS_MAIN
