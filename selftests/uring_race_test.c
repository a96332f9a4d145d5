// SPDX-License-Identifier: GPL-2.0
/*
 * Races of an asynchronous WAIT issued by an io-wq worker (IOSQE_ASYNC):
 * the worker publishes the wait set's kick and still arms the request
 * (timer, a last look at the keys) without the ring lock, while a commit,
 * the timer or a cancelation may already queue the task work that
 * completes the request on the submitting task.  The issuer must own the
 * request until it is armed (issue 10: that task work once freed it under
 * the worker, a use-after-free).
 *
 * On the debug kernel (STM_DEBUG), /sys/module/stm/parameters/debug_delay_*
 * make the worker sleep inside that window (site STM_DBG_URING_ARM), the
 * test commits while it sleeps there, and KASAN (the runner checks dmesg)
 * catches any touch of a freed request.  Without the knob the same
 * sequences run with the natural, narrow window; only the check that the
 * window was really hit needs the knob.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/stmdev.h>
#include "kselftest_harness.h"
#include "stm_test_util.h"
#include "uring_test_util.h"

/* kmod/debug.h: enum stm_debug_site (append-only numbers). */
#define STM_DBG_URING_ARM	1
/* How long the worker sleeps in the window: far longer than a commit. */
#define ARM_DELAY_US		500000

/* A WAIT on one key at `version`; `async`: issued by an io-wq worker. */
static int submit_wait(struct io_uring *ring, int fd, bool async,
		       struct stmdev_wait *w, struct stmdev_wait_ent *e,
		       const char *key, __u64 version, long long timeout_ns,
		       __u64 tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	*e = (struct stmdev_wait_ent){
		.key_addr = (unsigned long)key, .key_len = strlen(key),
		.version = version,
	};
	*w = (struct stmdev_wait){
		.entries = (unsigned long)e, .count = 1,
		.timeout_ns = timeout_ns, .index = 12345,
	};
	t_prep_cmd(sqe, fd, STMDEV_IOC_WAIT, w, sizeof(*w), tag);
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	return io_uring_submit(ring);
}

static int wait_res(struct io_uring *ring, __u64 *tag)
{
	struct io_uring_cqe *cqe;
	int res;

	if (io_uring_wait_cqe(ring, &cqe))
		return -1000;
	res = cqe->res;
	if (tag)
		*tag = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/*
 * Is one of this process's io-wq workers ("iou-wrk-<tid>") in D state?
 * While the debug delay holds it in the window it sleeps uninterruptibly
 * (usleep_range); an idle worker sleeps interruptibly.
 */
static bool worker_in_window(void)
{
	char path[300], buf[256], *p;
	struct dirent *d;
	bool found = false;
	DIR *dir;
	int fd;
	ssize_t n;

	dir = opendir("/proc/self/task");
	if (!dir)
		return false;
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		p = strrchr(buf, ')');
		found = strstr(buf, "(iou-wrk-") && p && p[1] == ' ' && p[2] == 'D';
	}
	closedir(dir);
	return found;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Poll for worker_in_window() == want, for at most `ms`; true if seen. */
static bool await_window(bool want, int ms)
{
	long long end = now_ms() + ms;

	do {
		if (worker_in_window() == want)
			return true;
		usleep(1000);
	} while (now_ms() < end);
	return false;
}

/*
 * Without io_uring cancelation (6.1) an async WAIT lasts at most one
 * second whatever its timeout, so a commit that comes later (a starved
 * thread on a loaded host) meets a WAIT that already timed out.
 */
static bool bounded_waits(int fd)
{
	struct stmdev_features ft;

	return t_features(fd, &ft) || !(ft.features & STMDEV_F_URING_CANCEL);
}

/* res and index of a WAIT ended by a commit, or by the one-second bound. */
static bool woken_or_bounded(int res, __u32 index, bool bounded)
{
	return (res == 0 && index == 0) ||
	       (bounded && res == -ETIMEDOUT && index == STMDEV_NO_CONFLICT);
}

FIXTURE(race) {
	char name[64];
	int fd;
	bool knob;		/* the debug kernel's delay knob is there */
	struct io_uring ring;
};

FIXTURE_SETUP(race)
{
	int ret;

	snprintf(self->name, sizeof(self->name), "uring-race-%d", getpid());
	self->fd = t_open_attach(self->name,
				   STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	ret = io_uring_queue_init(64, &self->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring not available (%d)", ret);
	ASSERT_EQ(0, ret);
	self->knob = t_param_writable("debug_delay_site");
	if (self->knob) {
		ASSERT_EQ(0, t_param_set("debug_delay_us", ARM_DELAY_US));
		ASSERT_EQ(0, t_param_set("debug_delay_site", STM_DBG_URING_ARM));
	}
	TH_LOG("delay knob %s", self->knob ? "set" : "absent (not STM_DEBUG)");
}

FIXTURE_TEARDOWN(race)
{
	if (self->knob) {
		t_param_set("debug_delay_site", 0);
		t_param_set("debug_delay_us", 0);
	}
	io_uring_queue_exit(&self->ring);
	t_unlink(self->name);
	close(self->fd);
}

struct committer {
	const char *store;
	const char *key;
	bool knob;
	int round;
	bool hit;		/* out: committed while the worker was in the window */
	int err;		/* out: the commit's result */
};

/* Another thread commits to the waited key, in the window when it can. */
static void *commit_thread(void *arg)
{
	struct committer *c = arg;
	char val[32];
	int fd;

	if (c->knob)
		c->hit = await_window(true, 5000);
	else if (c->round & 1)
		usleep(c->round % 7 * 50);	/* vary the natural interleaving */
	fd = t_open_attach(c->store, 0, 0600);
	if (fd < 0) {
		c->err = fd;
		return NULL;
	}
	snprintf(val, sizeof(val), "round-%d", c->round);
	c->err = t_put_str(fd, c->key, val, NULL);
	close(fd);
	return NULL;
}

/*
 * A commit wakes the wait set while the worker is still arming: the task
 * work it causes runs on this thread (blocked in io_uring_wait_cqe) and
 * must not complete the request before the worker hands it over.  A
 * commit that landed in the window must end the WAIT (res 0, index 0);
 * one that missed it may come after the one-second bound of 6.1.
 */
TEST_F_TIMEOUT(race, commit_while_arming, 300)
{
	static const long long timeouts[] = {
		-1, INT64_MAX, 30LL * 1000 * 1000 * 1000,
	};
	const int rounds = self->knob ? 12 : 60;
	bool bounded = bounded_waits(self->fd);
	struct stmdev_wait_ent e;
	struct stmdev_wait w;
	struct t_val v;
	int r, res, hits = 0;

	for (r = 0; r < rounds; r++) {
		struct committer c = {
			.store = self->name, .key = "k", .knob = self->knob,
			.round = r,
		};
		pthread_t th;

		ASSERT_EQ(0, t_get_str(self->fd, "k", &v));
		ASSERT_EQ(1, submit_wait(&self->ring, self->fd, true, &w, &e,
					 "k", v.version,
					 timeouts[r % ARRAY_SIZE(timeouts)], r));
		ASSERT_EQ(0, pthread_create(&th, NULL, commit_thread, &c));
		res = wait_res(&self->ring, NULL);
		ASSERT_EQ(0, pthread_join(th, NULL));
		EXPECT_EQ(0, c.err) TH_LOG("round %d", r);
		if (c.hit) {
			EXPECT_EQ(0, res) TH_LOG("round %d", r);
			EXPECT_EQ(0U, w.index) TH_LOG("round %d", r);
		} else {
			EXPECT_TRUE(woken_or_bounded(res, w.index, bounded))
				TH_LOG("round %d: res %d, index %u", r, res,
				       w.index);
		}
		hits += c.hit;
		/* Let the worker leave the window before the next round. */
		if (self->knob)
			await_window(false, 5000);
	}
	if (self->knob) {
		TH_LOG("%d of %d commits landed in the arming window",
		       hits, rounds);
		EXPECT_LT(0, hits);
	}
}

/*
 * The request's own timer expires while the worker is still arming (the
 * timer is started inside the window): ETIMEDOUT, once, after hand-over.
 */
TEST_F_TIMEOUT(race, timer_while_arming, 300)
{
	const int rounds = self->knob ? 8 : 40;
	struct stmdev_wait_ent e;
	struct stmdev_wait w;
	struct t_val v;
	int r;

	ASSERT_EQ(0, t_get_str(self->fd, "t", &v));
	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(1, submit_wait(&self->ring, self->fd, true, &w, &e,
					 "t", v.version, 1000 + r * 10000, r));
		EXPECT_EQ(-ETIMEDOUT, wait_res(&self->ring, NULL))
			TH_LOG("round %d", r);
		EXPECT_EQ(STMDEV_NO_CONFLICT, w.index) TH_LOG("round %d", r);
		if (self->knob)
			await_window(false, 5000);
	}
}

/*
 * Huge timeouts neither wrap into the past nor fire: the WAIT ends with
 * the commit.  (On 6.1, without io_uring cancelation, they are bounded to
 * one second, which a starved commit may miss.)
 */
TEST_F_TIMEOUT(race, huge_timeouts_wait_for_the_commit, 300)
{
	static const long long timeouts[] = {
		INT64_MAX, INT64_MAX - 1, INT64_MAX / 2, 1LL << 62,
	};
	bool bounded = bounded_waits(self->fd);
	struct stmdev_wait_ent e;
	struct stmdev_wait w;
	struct t_val v;
	unsigned int i;
	int async, res;

	/* This one is about the timer, not the window: no delay. */
	if (self->knob)
		ASSERT_EQ(0, t_param_set("debug_delay_site", 0));
	for (async = 0; async < 2; async++) {
		for (i = 0; i < ARRAY_SIZE(timeouts); i++) {
			ASSERT_EQ(0, t_get_str(self->fd, "h", &v));
			ASSERT_EQ(1, submit_wait(&self->ring, self->fd, async,
						 &w, &e, "h", v.version,
						 timeouts[i], i));
			usleep(50000);
			ASSERT_EQ(0, t_put_str(self->fd, "h", "x", NULL));
			res = wait_res(&self->ring, NULL);
			EXPECT_TRUE(woken_or_bounded(res, w.index, bounded))
				TH_LOG("async %d, timeout %lld: res %d",
				       async, timeouts[i], res);
		}
	}
}

/*
 * The submitter goes away (exit, or ring close) while the worker still
 * arms: on 6.12 that cancels the request inside the window.  Each child
 * must finish; the runner's rmmod proves nothing was left behind.
 */
TEST_F_TIMEOUT(race, exit_while_arming, 300)
{
	const int rounds = self->knob ? 4 : 10;
	int r;

	for (r = 0; r < rounds; r++) {
		pid_t pid = fork();
		int st;

		ASSERT_LE(0, pid);
		if (pid == 0) {
			static struct stmdev_wait_ent e;
			static struct stmdev_wait w;
			struct io_uring ring;
			int fd = t_open_attach(self->name, 0, 0600);

			if (fd < 0 || io_uring_queue_init(8, &ring, 0))
				_exit(10);
			if (submit_wait(&ring, fd, true, &w, &e, "never", 0,
					-1, 1) != 1)
				_exit(11);
			if (self->knob)
				await_window(true, 5000);
			if (r & 1) {
				io_uring_queue_exit(&ring);
				close(fd);
			}
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("round %d: status 0x%x", r, st);
	}
}

TEST_HARNESS_MAIN
