// SPDX-License-Identifier: GPL-2.0
/*
 * txn_fix_test.c - regressions for the composition defects of stm_atomic
 * found by review (issue 12): a nested block's retry keys narrowing the
 * enclosing wait, on-abort hooks of a rolled-back block writing into the
 * live transaction, hooks registered in a hook dropped, before-commit hooks
 * running on after one doomed the run, and STM_RETRY colliding with the
 * result 1.
 *
 * Each case failed against libstmdev before the fix.  Waits are bounded by
 * the transaction's timeout (a failure shows as -ETIMEDOUT, not a hang);
 * no result depends on how long something took.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stmdev.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#define LT_STORE_PREFIX "txfix"
#include "lib_test_util.h"

FIXTURE(fix) {
	char name[LT_NAME_MAX];
	struct stm_store *s;
};

FIXTURE_SETUP(fix)
{
	store_name(self->name, sizeof(self->name), "t");
	stm_unlink(self->name);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(fix)
{
	stm_close(self->s);
	stm_unlink(self->name);
}

/* Single-key helpers through their own transactions. */
static int put_fn(struct stm_txn *tx, void *arg)
{
	const int64_t *kv = arg;
	char key[16];

	snprintf(key, sizeof(key), "k%lld", (long long)kv[0]);
	return stm_put_i64(tx, key, kv[1]);
}

static int set_key(struct stm_store *s, int k, int64_t v)
{
	int64_t kv[2] = { k, v };

	return stm_atomic(s, put_fn, kv, NULL);
}

/* ---- a nested block's named retry keys stay in that block ---------------- */

static int inner_names_b(struct stm_txn *tx, void *arg)
{
	static const char *const b[] = { "k2" };

	return stm_retry_keys(tx, b, 1, STM_WAIT_ANY);
}

struct outer_arg {
	struct stm_store *s;
	int inner_ret;
};

/* Waits for k1 to become non-zero; a nested block retried on k2 first. */
static int outer_waits_a(struct stm_txn *tx, void *arg)
{
	struct outer_arg *o = arg;
	int64_t a;
	int ret = stm_get_i64(tx, "k1", &a);

	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && a)
		return 0;
	o->inner_ret = stm_atomic(o->s, inner_names_b, NULL, NULL);
	return stm_retry(tx);
}

TEST_F_TIMEOUT(fix, nested_retry_keys_do_not_narrow_the_wait, 120)
{
	struct stm_txn_opts o = { .timeout_ms = 20000 };
	struct outer_arg oa = { .s = self->s };
	struct stm_stats st0, st;
	pid_t pid;
	int ret, status, i;

	ASSERT_EQ(0, set_key(self->s, 1, 0));
	ASSERT_EQ(0, set_key(self->s, 2, 0));
	ASSERT_EQ(0, stm_stats(self->s, &st0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;

		if (stm_open(self->name, 0, 0, &s))
			_exit(1);
		/* Once the parent sleeps (bounded), change k1 only. */
		for (i = 0; i < 20000; i++) {
			if (stm_stats(s, &st))
				_exit(2);
			if (st.waits > st0.waits)
				break;
			usleep(1000);
		}
		_exit(set_key(s, 1, 1) ? 3 : 0);
	}
	ret = stm_atomic(self->s, outer_waits_a, &oa, &o);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(STM_RETRY, oa.inner_ret);
	/* The old library waited on k2 alone and slept through k1's change. */
	ASSERT_EQ(0, ret) TH_LOG("stm_atomic: %d (%s)", ret, strerror(-ret));
}

/* ---- on-abort hooks of a rolled-back block -------------------------------- */

struct hook_arg {
	struct stm_txn *tx;	/* the live transaction, as a careless hook keeps it */
	int put_ret;
	int add_ret;
	int runs;
	int runs2;
};

static void second_hook(void *arg)
{
	((struct hook_arg *)arg)->runs2++;
}

static void abort_hook(void *arg)
{
	struct hook_arg *h = arg;

	h->runs++;
	h->put_ret = stm_put_i64(h->tx, "hooked", 1);
	/* The run goes on to commit: an after-commit hook would run then. */
	h->add_ret = stm_after_commit(h->tx, second_hook, h);
}

static int inner_fails(struct stm_txn *tx, void *arg)
{
	struct hook_arg *h = arg;

	h->tx = tx;
	if (stm_on_abort(tx, abort_hook, h))
		return -EIO;
	return -ECANCELED;	/* roll this block back */
}

struct nest_arg {
	struct stm_store *s;
	struct hook_arg h;
	int inner_ret;
};

static int outer_commits(struct stm_txn *tx, void *arg)
{
	struct nest_arg *n = arg;

	n->inner_ret = stm_atomic(n->s, inner_fails, &n->h, NULL);
	return stm_put_i64(tx, "outer", 7);
}

TEST_F(fix, abort_hook_of_rolled_back_block_cannot_write)
{
	struct nest_arg n = { .s = self->s };

	ASSERT_EQ(0, stm_atomic(self->s, outer_commits, &n, NULL));
	EXPECT_EQ(-ECANCELED, n.inner_ret);
	EXPECT_EQ(1, n.h.runs);
	EXPECT_EQ(7, get_i64(self->s, "outer"));
	/* The hook reports the block undone: it must not write into the run. */
	EXPECT_NE(0, n.h.put_ret);
	EXPECT_EQ(INT64_MIN, get_i64(self->s, "hooked")) TH_LOG("the hook's write committed");
}

TEST_F(fix, hook_registered_in_a_hook_is_not_dropped)
{
	struct nest_arg n = { .s = self->s };

	ASSERT_EQ(0, stm_atomic(self->s, outer_commits, &n, NULL));
	EXPECT_EQ(1, n.h.runs);
	/* Either it is refused, or it runs: never accepted and lost. */
	ASSERT_FALSE(n.h.add_ret == 0 && n.h.runs2 == 0)
		TH_LOG("registration accepted (0) but the hook never ran");
}

/* ---- before-commit hooks stop once one dooms the run ---------------------- */

struct before_arg {
	struct stm_store *other;	/* a second handle, outside the run */
	struct stm_txn *tx;
	int second_in_doomed_run;
	int doomed_runs;
};

static void reads_changed_key(void *arg)
{
	struct before_arg *b = arg;
	int64_t x;

	/* k9 changed after the run's snapshot: this read dooms the run. */
	if (stm_get_i64(b->tx, "k9", &x) == -STM_ECONFLICT)
		b->doomed_runs++;
}

static void second_before(void *arg)
{
	struct before_arg *b = arg;

	if (stm_txn_attempt(b->tx) == 1)
		b->second_in_doomed_run++;
}

static int before_fn(struct stm_txn *tx, void *arg)
{
	struct before_arg *b = arg;
	int64_t x;
	int ret;

	b->tx = tx;
	ret = stm_get_i64(tx, "k1", &x);	/* fixes the snapshot */
	if (ret)
		return ret;
	if (stm_txn_attempt(tx) == 1 && set_key(b->other, 9, 99))
		return -EIO;
	if (stm_before_commit(tx, reads_changed_key, b) ||
	    stm_before_commit(tx, second_before, b))
		return -EIO;
	return stm_put_i64(tx, "k3", x + 1);
}

TEST_F(fix, before_commit_hooks_stop_when_one_dooms_the_run)
{
	struct before_arg b = { 0 };

	ASSERT_EQ(0, set_key(self->s, 1, 5));
	ASSERT_EQ(0, set_key(self->s, 9, 0));
	ASSERT_EQ(0, stm_open(self->name, 0, 0, &b.other));
	ASSERT_EQ(0, stm_atomic(self->s, before_fn, &b, NULL));
	stm_close(b.other);
	EXPECT_EQ(6, get_i64(self->s, "k3"));
	ASSERT_EQ(1, b.doomed_runs);
	EXPECT_EQ(0, b.second_in_doomed_run) TH_LOG("a hook ran after the run was doomed");
}

/* ---- every result >= 0 commits -------------------------------------------- */

static int returns_one(struct stm_txn *tx, void *arg)
{
	int ret = stm_put_i64(tx, "one", 1);

	return ret ? ret : 1;
}

TEST_F(fix, result_one_commits)
{
	struct stm_txn_opts o = { .timeout_ms = 5000 };

	/* Before the fix 1 was STM_RETRY: the write was dropped and it waited. */
	ASSERT_EQ(1, stm_atomic(self->s, returns_one, NULL, &o));
	EXPECT_EQ(1, get_i64(self->s, "one"));
	EXPECT_GT(0, STM_RETRY);
	EXPECT_GT(-4095, STM_RETRY);	/* outside -errno's range */
}

static int retries_once(struct stm_txn *tx, void *arg)
{
	int *runs = arg;

	if ((*runs)++ == 0)
		return stm_retry(NULL);	/* no transaction: -EINVAL */
	return 0;
}

TEST_F(fix, stm_retry_checks_its_transaction)
{
	int runs = 0;

	EXPECT_EQ(-EINVAL, stm_atomic(self->s, retries_once, &runs, NULL));
	EXPECT_EQ(1, runs);
}

/* ---- a collection lent to a ring is the ring's until reaped --------------- */

TEST_F(fix, lent_collection_refuses_synchronous_use)
{
	static const char *const keys[] = { "k1", "k2" };
	struct stm_ring *r;
	struct stm_coll *c;
	struct stm_cqe cqe;
	int ret, got = 0, i;

	ASSERT_EQ(0, set_key(self->s, 1, 1));
	ASSERT_EQ(0, stm_using(self->s, keys, 2, &c));
	ret = stm_ring_open(self->s, 8, 0, &r);
	if (ret == -ENOSYS || ret == -EOPNOTSUPP || ret == -EPERM) {
		stm_coll_free(c);
		SKIP(return, "no io_uring here (%d)", ret);
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_at(c, 0), 42));
	ASSERT_EQ(0, stm_ring_prep_commit_coll(r, c, 7));
	/* Before the fix, both went ahead beside the ring's commit. */
	EXPECT_EQ(-EALREADY, stm_coll_commit(c));
	EXPECT_EQ(-EALREADY, stm_coll_refresh(c));
	ASSERT_LE(0, stm_ring_submit(r));
	for (i = 0; i < 1000 && !got; i++) {
		ret = stm_ring_reap(r, &cqe, 1, 1);
		ASSERT_LE(0, ret);
		got = ret;
	}
	ASSERT_EQ(1, got);
	EXPECT_EQ(7ULL, cqe.tag);
	EXPECT_EQ(0, cqe.result);
	/* Reaped: it is the caller's again. */
	EXPECT_EQ(0, stm_coll_refresh(c));
	EXPECT_EQ(0, stm_coll_commit(c));
	EXPECT_EQ(42, get_i64(self->s, "k1"));
	stm_ring_close(r);
	stm_coll_free(c);
}

TEST_HARNESS_MAIN
