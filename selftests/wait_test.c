// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking retry in the kernel: WAIT (any/all, timeout, signals, delete
 * and unlink), WATCH + poll/epoll, no wake-ups for unrelated waiters, and
 * per-family counters.  Separate processes throughout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/stmdev.h>
#include "kselftest_harness.h"
#include "stm_test_util.h"

static int wait_keys(int fd, const char *const *keys, const __u64 *vers, int n,
		     unsigned int flags, long long timeout_ns, __u32 *index)
{
	struct stmdev_wait_ent e[8] = {};
	struct stmdev_wait w = {
		.entries = (unsigned long)e, .count = n, .flags = flags,
		.timeout_ns = timeout_ns,
	};
	int i, ret;

	for (i = 0; i < n; i++) {
		e[i].key_addr = (unsigned long)keys[i];
		e[i].key_len = strlen(keys[i]);
		e[i].version = vers[i];
	}
	ret = ioctl(fd, STMDEV_IOC_WAIT, &w);
	if (index)
		*index = w.index;
	return ret ? -errno : 0;
}

static struct stmdev_stats stats(int fd)
{
	struct stmdev_stats st = {};

	ioctl(fd, STMDEV_IOC_STATS, &st);
	return st;
}

/* Wait (bounded) until @n waiters have gone to sleep on the store. */
static int await_sleepers(int fd, __u64 n)
{
	int i;

	/* A bound, not a timing: children fork and block slowly under TCG. */
	for (i = 0; i < 12000; i++) {
		if (stats(fd).waits >= n)
			return 0;
		usleep(5000);
	}
	return -1;
}

static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

FIXTURE(w) {
	char name[64];
	int fd;
};

FIXTURE_SETUP(w)
{
	snprintf(self->name, sizeof(self->name), "wait-%d", getpid());
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	if (self->fd < 0 && access("/dev/stm", F_OK))
		SKIP(return, "no /dev/stm");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(w)
{
	struct stmdev_unlink u = {};

	snprintf(u.name, sizeof(u.name), "%s", self->name);
	ioctl(self->fd, STMDEV_IOC_UNLINK, &u);
	close(self->fd);
}

TEST_F(w, timeout_and_check_only)
{
	const char *k[] = { "a" };
	__u64 v[] = { 0 }, ver;
	__u32 idx;

	/* Unchanged: a check-only wait and a short wait both time out. */
	EXPECT_EQ(-ETIMEDOUT, wait_keys(self->fd, k, v, 1, 0, 0, &idx));
	EXPECT_EQ(-ETIMEDOUT, wait_keys(self->fd, k, v, 1, 0, 20000000, &idx));
	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", &ver));
	/* Changed: returns at once with the index. */
	EXPECT_EQ(0, wait_keys(self->fd, k, v, 1, 0, 0, &idx));
	EXPECT_EQ(0U, idx);
	v[0] = ver;
	EXPECT_EQ(-ETIMEDOUT, wait_keys(self->fd, k, v, 1, 0, 0, &idx));
}

TEST_F(w, woken_by_another_process)
{
	const char *k[] = { "x", "q" };
	__u64 v[] = { 0, 0 };
	__u32 idx = 99;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		if (fd < 0 || await_sleepers(fd, 1))
			_exit(1);
		_exit(t_put_str(fd, "q", "item", NULL) ? 2 : 0);
	}
	EXPECT_EQ(0, wait_keys(self->fd, k, v, 2, 0, -1, &idx));
	EXPECT_EQ(1U, idx);
	EXPECT_EQ(0, child_status(pid));
	EXPECT_LE(1ULL, stats(self->fd).wakeups);
}

TEST_F(w, wait_all_needs_every_key)
{
	const char *k[] = { "a", "b" };
	__u64 v[] = { 0, 0 };
	__u32 idx;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_keys(self->fd, k, v, 2, STMDEV_WAIT_ALL, 0, &idx));
	EXPECT_EQ(0, wait_keys(self->fd, k, v, 2, 0, 0, &idx));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "1", NULL));
	EXPECT_EQ(0, wait_keys(self->fd, k, v, 2, STMDEV_WAIT_ALL, 0, &idx));
}

TEST_F(w, woken_by_delete)
{
	const char *k[] = { "d" };
	__u64 v[1];
	pid_t pid;

	ASSERT_EQ(0, t_put_str(self->fd, "d", "here", &v[0]));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		if (fd < 0 || await_sleepers(fd, 1))
			_exit(1);
		_exit(t_del(fd, "d", strlen("d"), NULL) ? 2 : 0);
	}
	EXPECT_EQ(0, wait_keys(self->fd, k, v, 1, 0, -1, NULL));
	EXPECT_EQ(0, child_status(pid));
}

TEST_F(w, woken_by_unlink_with_eidrm)
{
	const char *k[] = { "never" };
	__u64 v[] = { 0 };
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stmdev_unlink u = {};
		int fd = t_open_attach(self->name, 0, 0600);

		if (fd < 0 || await_sleepers(fd, 1))
			_exit(1);
		snprintf(u.name, sizeof(u.name), "%s", self->name);
		_exit(ioctl(fd, STMDEV_IOC_UNLINK, &u) ? 2 : 0);
	}
	EXPECT_EQ(-EIDRM, wait_keys(self->fd, k, v, 1, 0, -1, NULL));
	EXPECT_EQ(0, child_status(pid));
}

static void on_usr1(int sig)
{
}

TEST_F(w, interrupted_by_a_signal)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	const char *k[] = { "never" };
	__u64 v[] = { 0 };
	pid_t pid, parent = getpid();

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		if (fd < 0 || await_sleepers(fd, 1))
			_exit(1);
		_exit(kill(parent, SIGUSR1) ? 2 : 0);
	}
	EXPECT_EQ(-EINTR, wait_keys(self->fd, k, v, 1, 0, -1, NULL));
	EXPECT_EQ(0, child_status(pid));
}

/* 100 sleepers on their own keys; a commit to another key wakes none. */
TEST_F(w, unrelated_waiters_are_not_woken)
{
	enum { N = 100 };
	struct stmdev_stats before, after;
	pid_t pids[N];
	int i, woken = 0, p[2];
	char key[16];

	ASSERT_EQ(0, pipe(p));
	for (i = 0; i < N; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			const char *k[] = { key };
			__u64 v[] = { 0 };
			int fd = t_open_attach(self->name, 0, 0600), ret;

			close(p[0]);
			snprintf(key, sizeof(key), "u%d", i);
			ret = wait_keys(fd, k, v, 1, 0, -1, NULL);
			/* Tell the parent when (and that) we came back. */
			if (write(p[1], "w", 1) != 1)
				_exit(3);
			_exit(ret ? 2 : 0);
		}
	}
	close(p[1]);
	ASSERT_EQ(0, await_sleepers(self->fd, N));
	before = stats(self->fd);
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, t_put_str(self->fd, "other", "x", NULL));
	usleep(100000);
	after = stats(self->fd);
	EXPECT_EQ(before.wakeups, after.wakeups);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (read(p[0], key, 1) == 1)
		woken++;
	EXPECT_EQ(0, woken);
	/* Now release each by writing its own key. */
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "u%d", i);
		ASSERT_EQ(0, t_put_str(self->fd, key, "go", NULL));
	}
	for (i = 0; i < N; i++)
		EXPECT_EQ(0, child_status(pids[i]));
	EXPECT_EQ(before.wakeups + N, stats(self->fd).wakeups);
	close(p[0]);
}

TEST_F(w, watch_poll_and_epoll)
{
	struct stmdev_wait_ent e = { .key_addr = (unsigned long)"p", .key_len = 1 };
	struct stmdev_watch wa = { .entries = (unsigned long)&e, .count = 1 };
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	pid_t pid;
	int ep;

	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_WATCH, &wa));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		usleep(100000);
		_exit(fd < 0 || t_put_str(fd, "p", "1", NULL) ? 1 : 0);
	}
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, 10000));
	EXPECT_TRUE((out.events & EPOLLIN) != 0);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0, child_status(pid));
	/* Clearing the watch set: no longer readable. */
	wa.count = 0;
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_WATCH, &wa));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(ep);
}

TEST_F(w, bad_waits_are_rejected)
{
	struct stmdev_wait_ent e = { .key_addr = (unsigned long)"k", .key_len = 1 };
	struct stmdev_wait w = { .entries = (unsigned long)&e, .count = 1, .timeout_ns = 0 };
	struct stmdev_wait b;

	b = w; b.count = 0;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	b = w; b.flags = 2;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	b = w; b.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	b = w; b.family = 77;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	b = w; b.entries = 8;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &b));
	EXPECT_EQ(EFAULT, errno);
	e.key_len = 0;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	e.key_len = 256;
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(w, families_count_across_processes)
{
	struct stmdev_family f1 = { .name = "transfer" }, f2 = { .name = "audit" };
	struct stmdev_family_ent ents[STMDEV_FAMILIES_MAX];
	struct stmdev_family_stats fs = { .addr = (unsigned long)ents, .len = sizeof(ents) };
	struct stmdev_commit_ent e = {
		.key_addr = (unsigned long)"f", .key_len = 1,
		.val_addr = (unsigned long)"1", .val_len = 1,
		.op = STMDEV_OP_PUT, .flags = STMDEV_CENT_CHECK,
	};
	struct stmdev_commit c = { .entries = (unsigned long)&e, .count = 1 };
	struct stmdev_family f3;
	pid_t pid;
	int i;

	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_FAMILY, &f1));
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_FAMILY, &f2));
	EXPECT_NE(f1.id, f2.id);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stmdev_family again = { .name = "transfer" };
		int fd = t_open_attach(self->name, 0, 0600);

		if (fd < 0 || ioctl(fd, STMDEV_IOC_FAMILY, &again))
			_exit(1);
		if (again.id != f1.id)
			_exit(2);
		c.family = again.id;
		/* expects absent: succeeds once, then conflicts */
		if (ioctl(fd, STMDEV_IOC_COMMIT, &c) || !ioctl(fd, STMDEV_IOC_COMMIT, &c))
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid));
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_FAMILY_STATS, &fs));
	ASSERT_EQ(2U, fs.count);
	EXPECT_STREQ("transfer", ents[f1.id - 1].name);
	EXPECT_EQ(2ULL, ents[f1.id - 1].attempts);
	EXPECT_EQ(1ULL, ents[f1.id - 1].commits);
	EXPECT_EQ(1ULL, ents[f1.id - 1].conflicts);
	EXPECT_EQ(0ULL, ents[f2.id - 1].attempts);
	/* The table is bounded. */
	for (i = 2; i < STMDEV_FAMILIES_MAX; i++) {
		memset(&f3, 0, sizeof(f3));
		snprintf(f3.name, sizeof(f3.name), "fam%d", i);
		ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_FAMILY, &f3));
	}
	snprintf(f3.name, sizeof(f3.name), "one-too-many");
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_FAMILY, &f3));
	EXPECT_EQ(ENOSPC, errno);
	memset(&f3, 0, sizeof(f3));
	EXPECT_EQ(-1, ioctl(self->fd, STMDEV_IOC_FAMILY, &f3));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
