// SPDX-License-Identifier: GPL-2.0
/*
 * txn_bound_test.c - the library's loops are bounded and its size limits
 * are clear (issue 12): stm_atomic's busy re-commit loop on a non-blocking
 * store, stm_swap's read + checked write loop on a backend without
 * FETCH_OLD, and a transaction whose commit would not fit in one call.
 *
 * A kernel busy or conflicting forever cannot be arranged from outside,
 * so this program interposes ioctl(): while told to, it answers COMMIT
 * with EBUSY or ESTALE without entering the kernel, and can hide
 * STMDEV_F_FETCH_OLD from GET_FEATURES.  Everything else goes to the
 * kernel.  Before the fixes the busy and swap cases spun forever (the
 * harness timeout failed them), and the oversized commit failed only in
 * the kernel, after the function had returned.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/stmdev.h>
#include "stmdev.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#define LT_STORE_PREFIX "txbnd"
#include "lib_test_util.h"

/* ---- the ioctl interposer ------------------------------------------------ */

static int fake_errno;		/* COMMIT fails with this while fake_left > 0 */
static int fake_left;		/* < 0: for ever */
static int fake_commits;	/* COMMITs answered by the fake */
static bool hide_fetch_old;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	long r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == STMDEV_IOC_COMMIT && fake_errno && fake_left) {
		if (fake_left > 0)
			fake_left--;
		fake_commits++;
		errno = fake_errno;
		return -1;
	}
	r = syscall(SYS_ioctl, fd, req, arg);
	if (r == 0 && req == STMDEV_IOC_GET_FEATURES && hide_fetch_old)
		((struct stmdev_features *)arg)->features &= ~STMDEV_F_FETCH_OLD;
	return (int)r;
}

static void fake(int err, int left)
{
	fake_errno = err;
	fake_left = left;
	fake_commits = 0;
}

FIXTURE(bnd) {
	char name[STM_NAME_MAX + 1];
	struct stm_store *s;
};

FIXTURE_SETUP(bnd)
{
	fake(0, 0);
	hide_fetch_old = false;
	store_name(self->name, sizeof(self->name), "b");
	stm_unlink(self->name);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL | STM_NONBLOCK,
			      0600, &self->s));
}

FIXTURE_TEARDOWN(bnd)
{
	fake(0, 0);
	stm_close(self->s);
	stm_unlink(self->name);
}

static int put_one(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "k", 7);
}

static int64_t get_k(struct stm_store *s)
{
	struct stm_value *v;
	int64_t x = -1;

	if (stm_usevar(s, "k", &v))
		return -2;
	if (stm_value_i64(v, &x))
		x = -1;		/* absent */
	stm_value_free(v);
	return x;
}

/* ---- the busy re-commit loop --------------------------------------------- */

TEST_F_TIMEOUT(bnd, busy_for_ever_without_timeout_gives_ebusy, 60)
{
	fake(EBUSY, -1);
	EXPECT_EQ(-STM_EBUSY, stm_atomic(self->s, put_one, NULL, NULL));
	/* resent, not given up at the first answer */
	EXPECT_LT(1, fake_commits);
	fake(0, 0);
	EXPECT_EQ(-1, get_k(self->s));
}

TEST_F_TIMEOUT(bnd, busy_for_ever_with_timeout_gives_etimedout, 60)
{
	struct stm_txn_opts o = { .timeout_ms = 50 };

	fake(EBUSY, -1);
	EXPECT_EQ(-ETIMEDOUT, stm_atomic(self->s, put_one, NULL, &o));
	EXPECT_LT(1, fake_commits);
	fake(0, 0);
	EXPECT_EQ(-1, get_k(self->s));
}

TEST_F(bnd, busy_with_txn_nonblock_is_returned_at_once)
{
	struct stm_txn_opts o = { .flags = STM_TXN_NONBLOCK };

	fake(EBUSY, -1);
	EXPECT_EQ(-STM_EBUSY, stm_atomic(self->s, put_one, NULL, &o));
	EXPECT_EQ(1, fake_commits);
}

TEST_F(bnd, busy_a_while_then_commits)
{
	fake(EBUSY, 20);
	EXPECT_EQ(0, stm_atomic(self->s, put_one, NULL, NULL));
	EXPECT_EQ(20, fake_commits);
	EXPECT_EQ(7, get_k(self->s));
}

/* ---- stm_swap without FETCH_OLD ------------------------------------------- */

TEST_F_TIMEOUT(bnd, swap_fallback_conflicting_for_ever_is_bounded, 60)
{
	struct stm_store *s2 = NULL;
	struct stm_value *old = (void *)1;
	struct stm_limits lim;

	hide_fetch_old = true;
	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s2));
	hide_fetch_old = false;
	ASSERT_EQ(0, stm_limits(s2, &lim));
	ASSERT_EQ(0, !!(lim.features & STMDEV_F_FETCH_OLD));

	fake(ESTALE, -1);
	EXPECT_EQ(-STM_ERETRIES, stm_swap(s2, "k", "x", 1, &old));
	EXPECT_EQ(NULL, old);
	EXPECT_EQ(64, fake_commits);

	/* A few conflicts, then it holds: the value replaced comes back. */
	fake(0, 0);
	ASSERT_EQ(0, stm_atomic(self->s, put_one, NULL, NULL));
	fake(ESTALE, 3);
	ASSERT_EQ(0, stm_swap(s2, "k", "xy", 2, &old));
	EXPECT_EQ(3, fake_commits);
	ASSERT_NE(NULL, old);
	EXPECT_EQ((size_t)8, ({ size_t l; stm_value_data(old, &l); l; }));
	stm_value_free(old);
	stm_close(s2);
}

/* ---- a commit larger than one call ----------------------------------------- */

struct many {
	size_t n;		/* keys to write */
	size_t nread;		/* keys to read first */
	int failed_at;		/* index of the write that failed, or -1 */
	int err;
};

static int write_many(struct stm_txn *tx, void *arg)
{
	struct many *m = arg;
	char key[32];
	int64_t x;
	int ret;

	m->failed_at = -1;
	for (size_t i = 0; i < m->nread; i++) {
		snprintf(key, sizeof(key), "r%zu", i);
		ret = stm_get_i64(tx, key, &x);
		if (ret && ret != -ENOENT)
			return ret;
	}
	for (size_t i = 0; i < m->n; i++) {
		snprintf(key, sizeof(key), "w%zu", i);
		ret = stm_put_i64(tx, key, (int64_t)i);
		if (ret) {
			m->failed_at = (int)i;
			m->err = ret;
			return ret;
		}
	}
	return 0;
}

static int64_t get_key(struct stm_store *s, const char *key)
{
	struct stm_value *v;
	int64_t x = -1;

	if (stm_usevar(s, key, &v))
		return -2;
	if (stm_value_i64(v, &x))
		x = -1;
	stm_value_free(v);
	return x;
}

TEST_F_TIMEOUT(bnd, commit_over_max_keys_per_call_fails_at_the_write, 300)
{
	struct stm_limits lim;
	struct many m = { 0 };
	char key[32];

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	ASSERT_LT(0U, lim.max_keys_per_call);

	/* Exactly the limit: one commit, every key written. */
	m.n = lim.max_keys_per_call;
	EXPECT_EQ(0, stm_atomic(self->s, write_many, &m, NULL));
	EXPECT_EQ(-1, m.failed_at);
	snprintf(key, sizeof(key), "w%zu", m.n - 1);
	EXPECT_EQ((int64_t)m.n - 1, get_key(self->s, key));

	/* One more: the write that does not fit fails, nothing is written. */
	stm_unlink(self->name);
	stm_close(self->s);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
	m.n = lim.max_keys_per_call + 1;
	EXPECT_EQ(-E2BIG, stm_atomic(self->s, write_many, &m, NULL));
	EXPECT_EQ((int)lim.max_keys_per_call, m.failed_at);
	EXPECT_EQ(-E2BIG, m.err);
	EXPECT_EQ(-1, get_key(self->s, "w0"));

	/* Reads count: half read, half written, one over. */
	m.nread = lim.max_keys_per_call / 2;
	m.n = lim.max_keys_per_call - m.nread + 1;
	EXPECT_EQ(-E2BIG, stm_atomic(self->s, write_many, &m, NULL));
	EXPECT_EQ((int)(m.n - 1), m.failed_at);
	EXPECT_EQ(-1, get_key(self->s, "w0"));

	/* A read-only transaction may read more keys than one call takes. */
	m.nread = lim.max_keys_per_call + 10;
	m.n = 0;
	EXPECT_EQ(0, stm_atomic(self->s, write_many, &m, NULL));
}

TEST_HARNESS_MAIN
