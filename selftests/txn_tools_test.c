// SPDX-License-Identifier: GPL-2.0
/*
 * txn_tools_test.c - transform (stm_modify), retry on a predicate
 * (stm_retry_until) and timeouts that compose inside orElse
 * (stm_retry_deadline), across processes (issue 12).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stmdev.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#define LT_STORE_PREFIX "tools"
#include "lib_test_util.h"

FIXTURE(tl) {
	char name[STM_NAME_MAX + 1];
	struct stm_store *s;
};

FIXTURE_SETUP(tl)
{
	store_name(self->name, sizeof(self->name), "t");
	stm_unlink(self->name);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(tl)
{
	stm_close(self->s);
	stm_unlink(self->name);
}

/* ---- stm_modify ---------------------------------------------------------- */

static int append_bang(const void *old, size_t len, const void **nd, size_t *nlen,
		       void *arg)
{
	char *buf = arg;

	if (old)
		memcpy(buf, old, len);
	buf[len] = '!';
	*nd = buf;
	*nlen = len + 1;
	return 0;
}

static int delete_it(const void *old, size_t len, const void **nd, size_t *nlen,
		     void *arg)
{
	*nd = NULL;
	return 0;
}

static int keep_it(const void *old, size_t len, const void **nd, size_t *nlen,
		   void *arg)
{
	return 1;
}

static int fail_it(const void *old, size_t len, const void **nd, size_t *nlen,
		   void *arg)
{
	return -ERANGE;
}

static int64_t twice(int64_t x, void *arg)
{
	return 2 * x + *(int64_t *)arg;
}

struct mod {
	stm_modify_fn fn;
	char buf[64];
};

static int tx_mod(struct stm_txn *tx, void *arg)
{
	struct mod *m = arg;

	return stm_modify(tx, "s", m->fn, m->buf);
}

static int tx_mod_i64(struct stm_txn *tx, void *arg)
{
	int64_t one = 1, r = 0;
	int ret = stm_modify_i64(tx, "n", twice, &one, &r);

	return ret ? ret : (int)r;
}

static int read_s(struct stm_store *s, char *out, size_t cap)
{
	struct stm_value *v;
	const void *d;
	size_t len;
	int ret;

	ret = stm_usevar(s, "s", &v);
	if (ret)
		return ret;
	d = stm_value_data(v, &len);
	if (!d) {
		stm_value_free(v);
		return -ENOENT;
	}
	snprintf(out, cap, "%.*s", (int)len, (const char *)d);
	stm_value_free(v);
	return 0;
}

TEST_F(tl, modify_transforms_deletes_keeps_fails)
{
	struct mod m = { .fn = append_bang };
	char got[64];

	ASSERT_EQ(0, stm_atomic(self->s, tx_mod, &m, NULL));	/* absent -> "!" */
	ASSERT_EQ(0, stm_atomic(self->s, tx_mod, &m, NULL));
	ASSERT_EQ(0, read_s(self->s, got, sizeof(got)));
	EXPECT_STREQ("!!", got);
	m.fn = keep_it;
	ASSERT_EQ(0, stm_atomic(self->s, tx_mod, &m, NULL));
	ASSERT_EQ(0, read_s(self->s, got, sizeof(got)));
	EXPECT_STREQ("!!", got);
	m.fn = fail_it;
	EXPECT_EQ(-ERANGE, stm_atomic(self->s, tx_mod, &m, NULL));
	m.fn = delete_it;
	ASSERT_EQ(0, stm_atomic(self->s, tx_mod, &m, NULL));
	EXPECT_EQ(-ENOENT, read_s(self->s, got, sizeof(got)));

	EXPECT_EQ(1, stm_atomic(self->s, tx_mod_i64, NULL, NULL));	/* 2*0+1 */
	EXPECT_EQ(3, stm_atomic(self->s, tx_mod_i64, NULL, NULL));
	EXPECT_EQ(7, stm_atomic(self->s, tx_mod_i64, NULL, NULL));
}

/* ---- stm_retry_until -------------------------------------------------------- */

static int at_least_3(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_get_i64(tx, "x", &x);

	return ret ? ret : x >= 3;
}

static int wait_3(struct stm_txn *tx, void *arg)
{
	int64_t x;
	int ret = stm_retry_until(tx, at_least_3, NULL);

	if (ret)
		return ret;
	ret = stm_get_i64(tx, "x", &x);
	return ret ? ret : (int)x;
}

static int bump(struct stm_txn *tx, void *arg)
{
	return stm_add_i64(tx, "x", 1);
}

static int readable(int fd)
{
	struct timeval tv = { 0, 0 };
	fd_set f;

	FD_ZERO(&f);
	FD_SET(fd, &f);
	return select(fd + 1, &f, NULL, NULL, &tv);
}

TEST_F_TIMEOUT(tl, retry_until_a_predicate_holds_across_processes, 300)
{
	struct stm_txn_opts t = { .timeout_ms = 120000 };
	int pfd[2], st;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct stm_store *s;
		int r;

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		close(pfd[0]);
		r = stm_atomic(s, wait_3, NULL, &t);
		/* The parent has seen no result before the third bump. */
		if (write(pfd[1], "d", 1) != 1)
			_exit(11);
		_exit(r == 3 ? 0 : 12);
	}
	close(pfd[1]);
	for (int i = 0; i < 3; i++) {
		usleep(100000);		/* a chance to block; not needed to pass */
		/* Not done before x reaches 3. */
		EXPECT_EQ(0, readable(pfd[0]));
		ASSERT_EQ(0, stm_atomic(self->s, bump, NULL, NULL));
	}
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* ---- stm_retry_deadline inside orElse -------------------------------------- */

struct tk {
	int64_t deadline;
	uint32_t item;
};

static int take_q(struct stm_txn *tx, void *arg)
{
	struct tk *k = arg;

	return stm_queue_take(tx, "q", &k->item, sizeof(k->item), NULL);
}

static int or_time_out(struct stm_txn *tx, void *arg)
{
	struct tk *k = arg;
	int r = stm_retry_deadline(tx, k->deadline);

	return r == -ETIMEDOUT ? 0 : r;		/* timed out: commit, item 0 */
}

static int take_or_timeout(struct stm_txn *tx, void *arg)
{
	struct tk *k = arg;

	k->item = 0;
	return stm_or_else(tx, take_q, arg, or_time_out, arg);
}

static int only_deadline(struct stm_txn *tx, void *arg)
{
	return stm_retry_deadline(tx, *(int64_t *)arg);
}

static int put_q(struct stm_txn *tx, void *a)
{
	return stm_queue_put(tx, "q", a, sizeof(uint32_t));
}

TEST_F_TIMEOUT(tl, deadline_composes_inside_or_else, 300)
{
	struct tk k;
	int64_t dl;
	pid_t pid;
	int st;

	/* Nothing comes: the deadline alternative ends the wait. */
	k.deadline = stm_deadline_ms(300);
	ASSERT_EQ(0, stm_atomic(self->s, take_or_timeout, &k, NULL));
	EXPECT_EQ(0U, k.item);
	EXPECT_LE(k.deadline, stm_deadline_ms(0));

	/* A deadline with nothing read: sleeps, then -ETIMEDOUT (not EDEADLK). */
	dl = stm_deadline_ms(200);
	EXPECT_EQ(-ETIMEDOUT, stm_atomic(self->s, only_deadline, &dl, NULL));
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, only_deadline, &(int64_t){ 0 }, NULL));

	/* An item before the deadline: taken, from another process. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct stm_store *s;
		struct tk c = { .deadline = stm_deadline_ms(120000) };

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		if (stm_atomic(s, take_or_timeout, &c, NULL))
			_exit(11);
		_exit(c.item == 99 ? 0 : 12);
	}
	usleep(200000);
	{
		uint32_t item = 99;

		ASSERT_EQ(0, stm_atomic(self->s, put_q, &item, NULL));
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* ---- stm_commute --------------------------------------------------------- */

struct cm_arg {
	const char *name;
	bool use_modify;
	char buf[64];
	unsigned attempts;
};

static int set_c(struct stm_txn *tx, void *arg)
{
	return stm_put(tx, "c", "xy", 2);
}

/* Append "!" to "c"; on the first run another process writes "c" first. */
static int bang_c(struct stm_txn *tx, void *arg)
{
	struct cm_arg *a = arg;
	int r, st;
	pid_t pid;

	a->attempts = stm_txn_attempt(tx);
	r = a->use_modify ? stm_modify(tx, "c", append_bang, a->buf) :
			    stm_commute(tx, "c", append_bang, a->buf);
	if (r)
		return r;
	if (a->attempts == 1) {
		pid = fork();
		if (pid < 0)
			return -errno;
		if (!pid) {
			struct stm_store *s;

			if (stm_open(a->name, 0, 0, &s) || stm_atomic(s, set_c, NULL, NULL))
				_exit(1);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return -ECHILD;
	}
	return 0;
}

static int read_c(struct stm_store *s, char *out, size_t cap)
{
	struct stm_value *v;
	const void *d;
	size_t len;
	int ret;

	ret = stm_usevar(s, "c", &v);
	if (ret)
		return ret;
	d = stm_value_data(v, &len);
	snprintf(out, cap, "%.*s", d ? (int)len : 0, d ? (const char *)d : "");
	stm_value_free(v);
	return d ? 0 : -ENOENT;
}

TEST_F(tl, commute_applies_at_commit_without_a_rerun)
{
	struct cm_arg a = { .name = self->name };
	char got[64];

	/* A read + write (stm_modify) conflicts with the other process: rerun. */
	a.use_modify = true;
	ASSERT_EQ(0, stm_atomic(self->s, bang_c, &a, NULL));
	EXPECT_EQ(2U, a.attempts);
	ASSERT_EQ(0, read_c(self->s, got, sizeof(got)));
	EXPECT_STREQ("xy!", got);

	/* A commute is applied at commit to the latest value: one run. */
	a.use_modify = false;
	ASSERT_EQ(0, stm_atomic(self->s, bang_c, &a, NULL));
	EXPECT_EQ(1U, a.attempts);
	ASSERT_EQ(0, read_c(self->s, got, sizeof(got)));
	EXPECT_STREQ("xy!", got);
}

static int commute_then_read(struct stm_txn *tx, void *arg)
{
	struct mod *m = arg;
	const void *d;
	size_t len;
	int r;

	r = stm_commute(tx, "c", append_bang, m->buf);
	if (!r)
		r = stm_commute(tx, "c", append_bang, m->buf + 32);
	if (!r)
		r = stm_get(tx, "c", &d, &len);
	if (r)
		return r;
	return (int)len;	/* folded: both applied to the snapshot */
}

static int commute_rolled_back(struct stm_txn *tx, void *arg)
{
	int r = stm_commute(tx, "c", append_bang, arg);

	return r ? r : stm_retry(tx);
}

static int nothing(struct stm_txn *tx, void *arg)
{
	return 0;
}

static int or_else_commute(struct stm_txn *tx, void *arg)
{
	return stm_or_else(tx, commute_rolled_back, arg, nothing, NULL);
}

TEST_F(tl, commute_folds_on_read_and_rolls_back)
{
	struct mod m;
	char got[64];

	ASSERT_EQ(0, stm_atomic(self->s, set_c, NULL, NULL));
	EXPECT_EQ(4, stm_atomic(self->s, commute_then_read, &m, NULL));
	ASSERT_EQ(0, read_c(self->s, got, sizeof(got)));
	EXPECT_STREQ("xy!!", got);
	/* A commute in an alternative that retried is undone. */
	ASSERT_EQ(0, stm_atomic(self->s, or_else_commute, m.buf, NULL));
	ASSERT_EQ(0, read_c(self->s, got, sizeof(got)));
	EXPECT_STREQ("xy!!", got);
}

TEST_HARNESS_MAIN
