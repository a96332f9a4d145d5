// SPDX-License-Identifier: GPL-2.0
/*
 * starve_test.c - contention management by bounded key reservation
 * (issue 12, STMDEV_IOC_RESERVE, STM_ESCALATE).
 *
 * The UAPI (bad input, limits, ioctl and io_uring), what a reservation
 * does to other fds' commits (EBUSY when non-blocking; a blocking commit
 * sleeps until the owner commits), that it ends on the owner's commit,
 * release, close, kill -9 and at its bound, and the starvation case: a
 * 64-key read-modify-write transaction against four hot writer processes,
 * first without escalation (it is reported, not asserted: under TCG it may
 * now and then get through), then with escalation after 8 conflicts,
 * which must commit within 8 + 2 attempts.  No assertion depends on
 * timing: where a bound could lapse on a slow machine, the case is run
 * again rather than judged.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/stmdev.h>
#include "stmdev.h"
#include "kselftest_harness.h"
#include "stm_test_util.h"
#include "uring_test_util.h"

_Static_assert(sizeof(struct stmdev_reserve) == 32, "stmdev_reserve is 32 bytes");
_Static_assert(_IOC_NR(STMDEV_IOC_RESERVE) == 0x11, "RESERVE is 0x11");
_Static_assert(STMDEV_F_RESERVE == (1ULL << 13), "STMDEV_F_RESERVE is bit 13");

/* ---- raw UAPI helpers ---------------------------------------------------- */

static void went(struct stmdev_wait_ent *e, const char *key)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = strlen(key);
}

/* RESERVE @n keys for @bound_ms; 0 or -errno, *left the ms granted. */
static int t_reserve(int fd, const char *const *keys, __u32 n, __u32 bound_ms,
		     __u32 *left)
{
	struct stmdev_wait_ent ents[64];
	struct stmdev_reserve r;
	__u32 i;
	int ret;

	for (i = 0; i < n && i < 64; i++)
		went(&ents[i], keys[i]);
	memset(&r, 0, sizeof(r));
	r.entries = t_ptr(ents);
	r.count = n;
	r.bound_ms = bound_ms;
	ret = t_ioctl(fd, STMDEV_IOC_RESERVE, &r);
	if (left)
		*left = r.bound_ms;
	return ret;
}

static int t_release(int fd)
{
	return t_reserve(fd, NULL, 0, 0, NULL);
}

/* One PUT of @key, non-blocking or not, with CHECK against @expect if set. */
static int t_put_one(int fd, const char *key, __u64 val, bool nonblock,
		     bool check, __u64 expect)
{
	struct stmdev_commit_ent e;

	if (check)
		cent_put_check(&e, key, strlen(key), &val, sizeof(val), expect);
	else
		cent_put(&e, key, strlen(key), &val, sizeof(val));
	return t_commit_flags(fd, &e, 1,
			      nonblock ? STMDEV_COMMIT_NONBLOCK : 0, NULL, NULL);
}

static __u64 t_version(int fd, const char *key)
{
	struct t_val v;

	if (t_get_str(fd, key, &v))
		return ~0ULL;
	return v.version;
}

static bool t_have_reserve(void)
{
	struct stmdev_features f;
	int fd = t_open();
	bool ok;

	if (fd < 0)
		return false;
	ok = !t_features(fd, &f) && (f.features & STMDEV_F_RESERVE);
	close(fd);
	return ok;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Is @pid asleep inside ioctl()?  (/proc/PID/syscall: "16 ..." on x86-64.) */
static bool in_ioctl(pid_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return !strncmp(buf, "16 ", 3);
}

/* ---- a store and two fds on it ------------------------------------------- */

FIXTURE(resv) {
	char name[64];
	int a, b;
	long long old_max;
};

FIXTURE_SETUP(resv)
{
	if (!t_have_reserve())
		SKIP(return, "no STMDEV_F_RESERVE");
	t_name(self->name, sizeof(self->name), "resv");
	self->a = t_open_attach(self->name, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, self->a);
	self->b = t_open_attach(self->name, 0, 0);
	ASSERT_LE(0, self->b);
	/* Room for the slow VMs: holds of up to a second. */
	self->old_max = t_param_get("max_reserve_ms");
	if (t_param_writable("max_reserve_ms"))
		t_param_set("max_reserve_ms", 1000);
}

FIXTURE_TEARDOWN(resv)
{
	if (self->old_max > 0 && t_param_writable("max_reserve_ms"))
		t_param_set("max_reserve_ms", self->old_max);
	if (self->a >= 0)
		close(self->a);
	if (self->b >= 0)
		close(self->b);
	t_unlink(self->name);
}

TEST_F(resv, bad_input)
{
	const char *k[] = { "k1" };
	struct stmdev_wait_ent e;
	struct stmdev_reserve r;
	struct stmdev_features f;
	int ro, fd;

	went(&e, "k1");
	memset(&r, 0, sizeof(r));
	r.entries = t_ptr(&e);
	r.count = 1;
	r.flags = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	r.flags = 0;
	r.reserved0 = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	r.reserved0 = 0;
	r.reserved = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	r.reserved = 0;
	e.version = 5;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	e.version = 0;
	e.reserved = 1;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	e.reserved = 0;
	e.key_len = 0;
	EXPECT_EQ(-EINVAL, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	e.key_len = 2;
	r.entries = 8;	/* unmapped */
	EXPECT_EQ(-EFAULT, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));
	r.entries = t_ptr(&e);

	ASSERT_EQ(0, t_features(self->a, &f));
	r.count = f.max_keys_per_call + 1;
	EXPECT_EQ(-E2BIG, t_ioctl(self->a, STMDEV_IOC_RESERVE, &r));

	/* Nothing of the above reserved anything. */
	EXPECT_EQ(0, t_put_one(self->b, "k1", 1, true, false, 0));

	ro = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, t_reserve(ro, k, 1, 0, NULL));
	close(ro);
	fd = t_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTCONN, t_reserve(fd, k, 1, 0, NULL));
	close(fd);
}

TEST_F(resv, busy_and_owner)
{
	const char *k[] = { "k1", "k2" };
	struct stmdev_commit_ent e;
	__u32 left = 0, left2 = 0;
	__u64 zero = 0;

	ASSERT_EQ(0, t_reserve(self->a, k, 2, 0, &left));
	EXPECT_LT(0, (int)left);
	/* Another fd's write of a reserved key: busy, nothing written. */
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k1", 7, true, false, 0));
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k2", 7, true, false, 0));
	EXPECT_EQ(0ULL, t_version(self->b, "k1"));
	/* Unreserved keys, reads and read-only commits go on. */
	EXPECT_EQ(0, t_put_one(self->b, "other", 7, true, false, 0));
	cent_read(&e, "k1", 2, 0);
	EXPECT_EQ(0, t_commit_flags(self->b, &e, 1, STMDEV_COMMIT_NONBLOCK, NULL, NULL));
	/* A replacement keeps the expiry: never more time left. */
	ASSERT_EQ(0, t_reserve(self->a, k, 1, 0, &left2));
	EXPECT_GE(left, left2);
	/* k2 left the reservation. */
	EXPECT_EQ(0, t_put_one(self->b, "k2", 7, true, false, 0));
	/* The owner passes, and its commit ends the reservation. */
	cent_put(&e, "k1", 2, &zero, sizeof(zero));
	EXPECT_EQ(0, t_commit_flags(self->a, &e, 1, STMDEV_COMMIT_NONBLOCK, NULL, NULL));
	EXPECT_EQ(0, t_put_one(self->b, "k1", 8, true, false, 0));
}

TEST_F(resv, release_and_cooldown)
{
	const char *k[] = { "k1" };
	long long t0, t1;
	__u32 left;
	int ret;

	ASSERT_EQ(0, t_reserve(self->a, k, 1, 0, NULL));
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k1", 1, true, false, 0));
	EXPECT_EQ(0, t_release(self->a));
	EXPECT_EQ(0, t_put_one(self->b, "k1", 2, true, false, 0));
	EXPECT_EQ(0, t_release(self->a));	/* nothing held: fine */

	/*
	 * Held for 100 ms (to its end): the fd may not reserve again for
	 * 100 ms after.  Judged only when the second call came in time.
	 */
	t0 = ms_now();
	ret = t_reserve(self->a, k, 1, 100, &left);
	if (ret == -EBUSY) {
		/*
		 * The first hold's own cooldown, as long as that hold
		 * lasted (at most max_reserve_ms), may still run when the
		 * VM is slow: wait it out once.
		 */
		usleep((left && left <= 1000 ? left + 1 : 1000) * 1000);
		t0 = ms_now();
		ret = t_reserve(self->a, k, 1, 100, &left);
	}
	ASSERT_EQ(0, ret);
	EXPECT_GE(100U, left);
	usleep(150 * 1000);
	ret = t_reserve(self->a, k, 1, 100, &left);
	t1 = ms_now();
	if (t1 - t0 < 190) {
		EXPECT_EQ(-EBUSY, ret);
		EXPECT_LT(0U, left);
		EXPECT_GE(100U, left);
	} else {
		TH_LOG("the second call came late (%lld ms): cooldown not judged",
		       t1 - t0);
	}
}

/*
 * A blocking commit through B waits while A holds the key, and goes on
 * once A's commit ends the reservation.  B writes with CHECK against the
 * version before A's commit, so the order is visible: B waited iff A's own
 * CHECK commit succeeds and B's fails with ESTALE.
 */
static int blocked_child(void *arg, int idx)
{
	volatile int *sh = arg;
	int fd = sh[1];

	sh[0] = 1;
	sh[2] = t_put_one(fd, "k1", 99, false, true, (__u64)sh[3]);
	return 0;
}

TEST_F_TIMEOUT(resv, blocking_waits_for_owner, 120)
{
	const char *k[] = { "k1" };
	volatile int *sh = t_shared(4096);
	int try, judged = 0;

	ASSERT_NE(NULL, sh);
	for (try = 0; try < 5 && !judged; try++) {
		__u64 v0 = t_version(self->a, "k1");
		long long t0;
		__u32 left;
		pid_t pid;
		int st, mine, i;

		sh[0] = 0;
		sh[1] = self->b;
		sh[2] = 1;
		sh[3] = (int)v0;
		t0 = ms_now();
		ASSERT_EQ(0, t_reserve(self->a, k, 1, 0, &left));
		pid = t_fork(blocked_child, (void *)sh, 0);
		ASSERT_LT(0, pid);
		/* B asleep in its COMMIT (bounded: it gives up with the bound). */
		for (i = 0; i < 100000 && !(sh[0] && in_ioctl(pid)); i++)
			usleep(100);
		mine = t_put_one(self->a, "k1", 1, false, true, v0);
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		if (ms_now() - t0 >= (long long)left) {
			/* The bound may have lapsed first: not judged. */
			TH_LOG("try %d: reservation lapsed under load, again", try);
			t_release(self->a);
			usleep(2 * left * 1000);	/* past the cooldown */
			continue;
		}
		judged = 1;
		EXPECT_EQ(0, mine);
		EXPECT_EQ(-ESTALE, sh[2]);
	}
	EXPECT_TRUE(judged);
}

TEST_F_TIMEOUT(resv, never_outlives_bound, 60)
{
	const char *k[] = { "k1" };
	__u32 left;

	/*
	 * A holds k1 for 100 ms and does nothing: B's blocking commit, held
	 * up at first, ends (before the fix of a lost bound it would sleep
	 * until the harness's timeout).
	 */
	ASSERT_EQ(0, t_reserve(self->a, k, 1, 100, &left));
	EXPECT_GE(100U, left);
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k1", 4, true, false, 0));
	EXPECT_EQ(0, t_put_one(self->b, "k1", 5, false, false, 0));
	/* And once past it, non-blocking commits pass too. */
	EXPECT_EQ(0, t_put_one(self->b, "k1", 6, true, false, 0));
}

static int holder_child(void *arg, int idx)
{
	volatile int *sh = arg;
	const char *k[] = { "k3" };
	int fd;

	fd = t_open_attach((const char *)(sh + 16), 0, 0);
	if (fd < 0)
		return 1;
	if (t_reserve(fd, k, 1, 0, NULL))
		return 2;
	sh[0] = 1;
	for (;;)
		pause();
	return 0;
}

TEST_F_TIMEOUT(resv, released_on_close_and_kill, 60)
{
	const char *k[] = { "k3" };
	volatile int *sh = t_shared(4096);
	int fd, st, i;
	pid_t pid;

	ASSERT_NE(NULL, sh);
	/* close */
	fd = t_open_attach(self->name, 0, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_reserve(fd, k, 1, 0, NULL));
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k3", 1, true, false, 0));
	close(fd);
	EXPECT_EQ(0, t_put_one(self->b, "k3", 2, true, false, 0));

	/* kill -9 of the owner */
	strcpy((char *)(sh + 16), self->name);
	sh[0] = 0;
	pid = t_fork(holder_child, (void *)sh, 0);
	ASSERT_LT(0, pid);
	for (i = 0; i < 100000 && !sh[0]; i++)
		usleep(100);
	ASSERT_EQ(1, sh[0]);
	/* Judged while the hold is surely live: its bound is a second. */
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k3", 3, true, false, 0));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, t_put_one(self->b, "k3", 4, true, false, 0));
}

TEST_F(resv, per_user_limit)
{
	const char *k[] = { "q1", "q2", "q3", "q4", "q5" };
	long long old;

	if (!t_param_writable("max_reserved_per_user"))
		SKIP(return, "max_reserved_per_user not writable (not root)");
	old = t_param_get("max_reserved_per_user");
	ASSERT_EQ(0, t_param_set("max_reserved_per_user", 4));
	EXPECT_EQ(-EDQUOT, t_reserve(self->a, k, 5, 0, NULL));
	EXPECT_EQ(0, t_reserve(self->a, k, 4, 0, NULL));
	/* The same user through another fd: over the limit together. */
	EXPECT_EQ(-EDQUOT, t_reserve(self->b, k + 4, 1, 0, NULL));
	EXPECT_EQ(0, t_release(self->a));
	EXPECT_EQ(0, t_reserve(self->b, k + 4, 1, 0, NULL));
	EXPECT_EQ(0, t_release(self->b));
	ASSERT_EQ(0, t_param_set("max_reserved_per_user", old));
}

/* ---- io_uring ------------------------------------------------------------ */

TEST_F(resv, uring)
{
	struct stmdev_wait_ent e;
	struct stmdev_reserve r;
	struct stmdev_features f;
	struct io_uring ring;

	ASSERT_EQ(0, t_features(self->a, &f));
	if (!(f.features & STMDEV_F_URING))
		SKIP(return, "no io_uring passthrough");
	if (io_uring_queue_init(8, &ring, 0))
		SKIP(return, "io_uring unavailable");
	went(&e, "k1");
	memset(&r, 0, sizeof(r));
	r.entries = t_ptr(&e);
	r.count = 1;
	r.flags = 2;
	EXPECT_EQ(-EINVAL, t_uring_cmd1(&ring, self->a, STMDEV_IOC_RESERVE, &r, sizeof(r)));
	r.flags = 0;
	EXPECT_EQ(0, t_uring_cmd1(&ring, self->a, STMDEV_IOC_RESERVE, &r, sizeof(r)));
	EXPECT_LT(0U, r.bound_ms);
	EXPECT_EQ(-EBUSY, t_put_one(self->b, "k1", 1, true, false, 0));
	r.count = 0;
	EXPECT_EQ(0, t_uring_cmd1(&ring, self->a, STMDEV_IOC_RESERVE, &r, sizeof(r)));
	EXPECT_EQ(0, t_put_one(self->b, "k1", 2, true, false, 0));
	io_uring_queue_exit(&ring);
}

/* ---- the starvation case ------------------------------------------------- */

#define NKEYS		64
#define NHOT		4
#define ESCALATE	8

struct starve_sh {
	volatile int stop;
	volatile int ready;
	volatile long long hot_commits[NHOT];
	char name[64];
};

static void key_of(char *buf, int i)
{
	snprintf(buf, 8, "s%02d", i);
}

struct hot_arg {
	char key[8];
};

static int hot_fn(struct stm_txn *tx, void *arg)
{
	struct hot_arg *h = arg;
	int64_t v;
	int ret;

	ret = stm_get_i64(tx, h->key, &v);
	if (ret == -ENOENT)
		v = 0;
	else if (ret)
		return ret;
	return stm_put_i64(tx, h->key, v + 1);
}

static int hot_child(void *arg, int idx)
{
	struct starve_sh *sh = arg;
	struct stm_store *s;
	struct hot_arg h;
	__u64 seed = 0x9e3779b97f4a7c15ULL * (idx + 1);

	if (stm_open(sh->name, 0, 0, &s))
		return 1;
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->stop) {
		key_of(h.key, t_rand(&seed) % NKEYS);
		if (stm_atomic(s, hot_fn, &h, NULL) < 0) {
			stm_close(s);
			return 2;
		}
		sh->hot_commits[idx]++;
	}
	stm_close(s);
	return 0;
}

struct long_arg {
	unsigned attempts;
};

/*
 * Read all 64 keys, working a little between reads (a short sleep every
 * 4 keys: the hot writers get the CPU during it even on one CPU), then
 * write each one plus one.
 */
static int long_fn(struct stm_txn *tx, void *arg)
{
	struct long_arg *la = arg;
	int64_t v[NKEYS];
	char key[8];
	int i, ret;

	la->attempts = stm_txn_attempt(tx);
	for (i = 0; i < NKEYS; i++) {
		key_of(key, i);
		ret = stm_get_i64(tx, key, &v[i]);
		if (ret)
			return ret;
		if (i % 4 == 3)
			usleep(50);
	}
	for (i = 0; i < NKEYS; i++) {
		key_of(key, i);
		ret = stm_put_i64(tx, key, v[i] + 1);
		if (ret)
			return ret;
	}
	return 0;
}

static long long key_sum(int fd)
{
	long long sum = 0;
	char key[8];
	__s64 v;
	int i;

	for (i = 0; i < NKEYS; i++) {
		key_of(key, i);
		if (t_get_i64(fd, key, &v, NULL) == 0)
			sum += v;
	}
	return sum;
}

TEST_F_TIMEOUT(resv, starvation, 600)
{
	struct starve_sh *sh = t_shared(sizeof(*sh));
	struct stm_txn_opts opts;
	struct long_arg la;
	struct stm_store *s;
	pid_t pids[NHOT];
	long long hot = 0;
	char key[8];
	int i, ret, plain;

	ASSERT_NE(NULL, sh);
	strcpy(sh->name, self->name);
	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s));
	for (i = 0; i < NKEYS; i++) {
		key_of(key, i);
		ASSERT_EQ(0, t_put_i64(self->a, key, 0, NULL));
	}
	for (i = 0; i < NHOT; i++)
		pids[i] = t_fork(hot_child, sh, i);
	while (sh->ready < NHOT)
		usleep(1000);

	/* Without escalation: 200 reruns.  Reported, not asserted. */
	memset(&opts, 0, sizeof(opts));
	opts.max_retries = 200;
	la.attempts = 0;
	plain = stm_atomic(s, long_fn, &la, &opts);
	TH_LOG("without escalation: %s after %u attempts",
	       plain == 0 ? "committed" : "gave up", la.attempts);
	EXPECT_TRUE(plain == 0 || plain == -STM_ERETRIES);

	/*
	 * With it: the attempt after the ESCALATE-th conflict runs with every
	 * key it reads reserved before it reads it, and commits (ESCALATE + 1);
	 * one more for a reservation that lapsed on a slow VM.
	 */
	opts.flags = STM_ESCALATE;
	opts.escalate_after = ESCALATE;
	la.attempts = 0;
	ret = stm_atomic(s, long_fn, &la, &opts);
	TH_LOG("with escalation after %d: %d after %u attempts", ESCALATE, ret,
	       la.attempts);
	EXPECT_EQ(0, ret);
	EXPECT_GE(ESCALATE + 2, (int)la.attempts);

	sh->stop = 1;
	EXPECT_EQ(0, t_wait_all(pids, NHOT));
	for (i = 0; i < NHOT; i++)
		hot += sh->hot_commits[i];
	/* Every commit counted once: nothing lost to the reservations. */
	EXPECT_EQ(hot + NKEYS * (1 + (plain == 0)), key_sum(self->a));
	stm_close(s);
}

TEST_HARNESS_MAIN
