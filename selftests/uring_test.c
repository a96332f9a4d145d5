// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring passthrough (IORING_OP_URING_CMD): every command through the
 * ring with the ioctl's results (EXPORT and IMPORT too), 64 commits in one submit, asynchronous
 * WAIT completed by another process or by its timeout, and pending waits
 * at process exit, ring close and exec.  The runner's rmmod after the
 * suite proves nothing was left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/stmdev.h>
#include "kselftest_harness.h"
#include "stm_test_util.h"
#include "uring_test_util.h"

static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

FIXTURE(u) {
	char name[64];
	int fd;
	struct io_uring ring;
};

FIXTURE_SETUP(u)
{
	int ret;

	snprintf(self->name, sizeof(self->name), "uring-%d", getpid());
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	if (self->fd < 0 && access("/dev/stm", F_OK))
		SKIP(return, "no /dev/stm");
	ASSERT_LE(0, self->fd);
	ret = io_uring_queue_init(128, &self->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring not available (%d)", ret);
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(u)
{
	struct stmdev_unlink un = {};

	io_uring_queue_exit(&self->ring);
	snprintf(un.name, sizeof(un.name), "%s", self->name);
	ioctl(self->fd, STMDEV_IOC_UNLINK, &un);
	close(self->fd);
}

TEST_F(u, commands_match_their_ioctls)
{
	struct stmdev_features ft = {};
	struct stmdev_nop nop = {};
	struct stmdev_info info = {};
	struct stmdev_read_ent re = { .key_addr = (unsigned long)"k", .key_len = 1 };
	struct stmdev_read rd = { .entries = (unsigned long)&re, .count = 1 };
	char val[16] = {};

	EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_GET_FEATURES, &ft, sizeof(ft)));
	EXPECT_TRUE((ft.features & STMDEV_F_URING) != 0);
	EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_NOP, &nop, sizeof(nop)));
	nop.reserved = 1;
	EXPECT_EQ(-EINVAL, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_NOP, &nop, sizeof(nop)));
	ASSERT_EQ(0, t_put_str(self->fd, "k", "hello", NULL));
	re.val_addr = (unsigned long)val;
	re.val_len = sizeof(val);
	EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_READ, &rd, sizeof(rd)));
	EXPECT_STREQ("hello", val);
	EXPECT_EQ(5U, re.val_len);
	EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_INFO, &info, sizeof(info)));
	EXPECT_STREQ(self->name, info.name);
	EXPECT_EQ(1ULL, info.keys);
}

/* EXPORT and IMPORT (STMDEV_F_PERSIST) through the ring, as by ioctl. */
TEST_F(u, export_and_import)
{
	struct stmdev_features ft = {};
	struct stmdev_export ex = {};
	struct stmdev_import im = {};
	struct stmdev_unlink un = {};
	char buf[4096], name2[64];
	int fd2;

	ASSERT_EQ(0, t_features(self->fd, &ft));
	if (!(ft.features & STMDEV_F_PERSIST))
		SKIP(return, "no STMDEV_F_PERSIST");
	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", NULL));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "a value kept on the heap", NULL));
	ex.addr = (unsigned long)buf;
	ex.len = sizeof(buf);
	ASSERT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_EXPORT, &ex, sizeof(ex)));
	ASSERT_EQ(2U, ex.count);
	ASSERT_EQ(0ULL, ex.cursor);
	ex.reserved = 1;
	EXPECT_EQ(-EINVAL, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_EXPORT, &ex, sizeof(ex)));

	snprintf(name2, sizeof(name2), "uring2-%d", getpid());
	fd2 = t_open_attach(name2, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd2);
	im.addr = (unsigned long)buf;
	im.len = 2 * sizeof(struct stmdev_key_rec) + 8 + 32;	/* "a1", "b" + 24 */
	im.count = 2;
	EXPECT_EQ(0, t_uring_cmd1(&self->ring, fd2, STMDEV_IOC_IMPORT, &im, sizeof(im)));
	EXPECT_LE(ex.clock, im.clock);
	EXPECT_EQ(-ENOTEMPTY, t_uring_cmd1(&self->ring, fd2, STMDEV_IOC_IMPORT, &im, sizeof(im)));
	snprintf(un.name, sizeof(un.name), "%s", name2);
	ioctl(fd2, STMDEV_IOC_UNLINK, &un);
	close(fd2);
}

TEST_F(u, malformed_sqes_are_rejected)
{
	struct stmdev_nop nop = {};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;

	/* wrong length for the command's struct */
	EXPECT_EQ(-EINVAL, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_NOP, &nop, 4));
	/* unknown command */
	EXPECT_EQ(-ENOTTY, t_uring_cmd1(&self->ring, self->fd,
				_IOWR(STMDEV_IOC_MAGIC, 0x7f, struct stmdev_nop),
				&nop, sizeof(nop)));
	/* unmapped struct */
	EXPECT_EQ(-EFAULT, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_NOP,
				(void *)8, sizeof(nop)));
	/* payload flags are reserved */
	sqe = io_uring_get_sqe(&self->ring);
	t_prep_cmd(sqe, self->fd, STMDEV_IOC_NOP, &nop, sizeof(nop), 2);
	((struct stmdev_uring_cmd *)sqe->cmd)->flags = 1;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
	EXPECT_EQ(-EINVAL, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
}

/* 64 commits in one submit; pairs on one key: exactly one of each wins. */
TEST_F(u, batch_of_64_commits)
{
	static struct stmdev_commit_ent ents[64];
	static struct stmdev_commit cms[64];
	static char keys[64][8];
	struct io_uring_cqe *cqe;
	int i, ok = 0, stale = 0, other = 0;
	int won[32] = {};

	for (i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i % 32);
		ents[i] = (struct stmdev_commit_ent){
			.key_addr = (unsigned long)keys[i], .key_len = strlen(keys[i]),
			.val_addr = (unsigned long)"v", .val_len = 1,
			.op = STMDEV_OP_PUT, .flags = STMDEV_CENT_CHECK,
			.version = 0,	/* expects absent: the second one conflicts */
		};
		cms[i] = (struct stmdev_commit){ .entries = (unsigned long)&ents[i], .count = 1 };
		t_prep_cmd(io_uring_get_sqe(&self->ring), self->fd, STMDEV_IOC_COMMIT,
			 &cms[i], sizeof(cms[i]), i);
	}
	ASSERT_EQ(64, io_uring_submit(&self->ring));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		ASSERT_LT(cqe->user_data, 64ULL);
		if (cqe->res == 0) {
			ok++;
			won[cqe->user_data % 32]++;
			EXPECT_NE(0ULL, cms[cqe->user_data].version);
		} else if (cqe->res == -ESTALE) {
			stale++;
			EXPECT_EQ(0U, cms[cqe->user_data].conflict);
		} else {
			other++;
		}
		io_uring_cqe_seen(&self->ring, cqe);
	}
	EXPECT_EQ(32, ok);
	EXPECT_EQ(32, stale);
	EXPECT_EQ(0, other);
	for (i = 0; i < 32; i++)
		EXPECT_EQ(1, won[i]);
}

static void prep_wait(struct stmdev_wait *w, struct stmdev_wait_ent *e,
		      const char *key, __u64 version, long long timeout_ns)
{
	*e = (struct stmdev_wait_ent){
		.key_addr = (unsigned long)key, .key_len = strlen(key),
		.version = version,
	};
	*w = (struct stmdev_wait){
		.entries = (unsigned long)e, .count = 1, .timeout_ns = timeout_ns,
		.index = 12345,
	};
}

TEST_F(u, async_wait_times_out)
{
	struct stmdev_wait_ent e;
	struct stmdev_wait w;

	prep_wait(&w, &e, "w", 0, 50 * 1000 * 1000);
	EXPECT_EQ(-ETIMEDOUT, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_WAIT, &w, sizeof(w)));
	/* already changed: completes at once with the index */
	ASSERT_EQ(0, t_put_str(self->fd, "w", "1", NULL));
	prep_wait(&w, &e, "w", 0, -1);
	EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_WAIT, &w, sizeof(w)));
	EXPECT_EQ(0U, w.index);
}

/* A wait in flight beside other commands; another process completes it. */
TEST_F(u, async_wait_completed_by_another_process)
{
	struct stmdev_wait_ent e;
	struct stmdev_wait w;
	struct stmdev_nop nop = {};
	struct io_uring_cqe *cqe;
	int i;
	pid_t pid;

	prep_wait(&w, &e, "q", 0, 30LL * 1000 * 1000 * 1000);
	t_prep_cmd(io_uring_get_sqe(&self->ring), self->fd, STMDEV_IOC_WAIT, &w, sizeof(w), 77);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	/* The ring keeps serving other commands meanwhile. */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, t_uring_cmd1(&self->ring, self->fd, STMDEV_IOC_NOP, &nop, sizeof(nop)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		usleep(100000);
		_exit(fd < 0 || t_put_str(fd, "q", "item", NULL) ? 1 : 0);
	}
	ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
	EXPECT_EQ(77ULL, cqe->user_data);
	EXPECT_EQ(0, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
	EXPECT_EQ(0U, w.index);
	EXPECT_EQ(0, child_status(pid));
}

/*
 * A child leaves a wait pending and then exits, closes its ring, or execs.
 * Each must finish (bounded by the harness timeout), the pending wait
 * must be torn down (the suite's closing rmmod would fail otherwise).
 */
static void pending_wait_child(const char *store, int how)
{
	static struct stmdev_wait_ent e;
	static struct stmdev_wait w;
	struct io_uring r;
	int fd = t_open_attach(store, 0, 0600);

	if (fd < 0 || io_uring_queue_init(8, &r, 0))
		_exit(10);
	prep_wait(&w, &e, "never", 0, -1);
	t_prep_cmd(io_uring_get_sqe(&r), fd, STMDEV_IOC_WAIT, &w, sizeof(w), 1);
	if (io_uring_submit(&r) != 1)
		_exit(11);
	usleep(20000);
	switch (how) {
	case 0:
		_exit(0);
	case 1:
		io_uring_queue_exit(&r);
		close(fd);
		_exit(0);
	default:
		execl("/bin/true", "true", (char *)NULL);
		_exit(12);
	}
}

TEST_F(u, pending_waits_at_exit_close_and_exec)
{
	int how;

	for (how = 0; how < 3; how++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			pending_wait_child(self->name, how);
		EXPECT_EQ(0, child_status(pid)) TH_LOG("how=%d", how);
	}
}

/*
 * A WAIT and key-creating commits in one submit.  Task work queued by the
 * wait makes signal_pending() true for the submitter; a commit that backs
 * off must not mistake that for a signal (it once returned EINTR).
 */
TEST_F(u, commits_beside_a_wait_do_not_see_eintr)
{
	static struct stmdev_commit_ent ents[16];
	static struct stmdev_commit cms[16];
	static char keys[16][16];
	struct stmdev_wait_ent we;
	struct stmdev_wait w;
	struct io_uring_cqe *cqe;
	int i, round, bad = 0;

	for (round = 0; round < 20; round++) {
		prep_wait(&w, &we, "never", 0, 20 * 1000 * 1000);
		t_prep_cmd(io_uring_get_sqe(&self->ring), self->fd, STMDEV_IOC_WAIT,
			 &w, sizeof(w), 100);
		for (i = 0; i < 16; i++) {
			snprintf(keys[i], sizeof(keys[i]), "new-%d-%d", round, i);
			ents[i] = (struct stmdev_commit_ent){
				.key_addr = (unsigned long)keys[i],
				.key_len = strlen(keys[i]),
				.val_addr = (unsigned long)"v", .val_len = 1,
				.op = STMDEV_OP_PUT,
			};
			cms[i] = (struct stmdev_commit){ .entries = (unsigned long)&ents[i], .count = 1 };
			t_prep_cmd(io_uring_get_sqe(&self->ring), self->fd,
				 STMDEV_IOC_COMMIT, &cms[i], sizeof(cms[i]), i);
		}
		ASSERT_EQ(17, io_uring_submit(&self->ring));
		for (i = 0; i < 17; i++) {
			ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
			if (cqe->user_data == 100) {
				EXPECT_EQ(-ETIMEDOUT, cqe->res);
			} else if (cqe->res) {
				TH_LOG("commit %llu: %d", cqe->user_data, cqe->res);
				bad++;
			}
			io_uring_cqe_seen(&self->ring, cqe);
		}
	}
	EXPECT_EQ(0, bad);
}

/* Blocking commits issued inline meet held locks: reissued, never EAGAIN. */
TEST_F(u, contended_blocking_commits_complete)
{
	enum { ROUNDS = 200, BATCH = 16 };
	static struct stmdev_commit_ent ents[BATCH];
	static struct stmdev_commit cms[BATCH];
	struct io_uring_cqe *cqe;
	int i, r, bad = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = t_open_attach(self->name, 0, 0600);

		for (i = 0; fd >= 0 && i < ROUNDS * BATCH; i++)
			if (t_put_str(fd, "hot", "c", NULL))
				_exit(1);
		_exit(fd < 0);
	}
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < BATCH; i++) {
			ents[i] = (struct stmdev_commit_ent){
				.key_addr = (unsigned long)"hot", .key_len = 3,
				.val_addr = (unsigned long)"p", .val_len = 1,
				.op = STMDEV_OP_PUT,
			};
			cms[i] = (struct stmdev_commit){ .entries = (unsigned long)&ents[i], .count = 1 };
			t_prep_cmd(io_uring_get_sqe(&self->ring), self->fd,
				 STMDEV_IOC_COMMIT, &cms[i], sizeof(cms[i]), i);
		}
		ASSERT_EQ(BATCH, io_uring_submit(&self->ring));
		for (i = 0; i < BATCH; i++) {
			ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
			if (cqe->res)
				bad++;
			io_uring_cqe_seen(&self->ring, cqe);
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, child_status(pid));
}

TEST_HARNESS_MAIN
