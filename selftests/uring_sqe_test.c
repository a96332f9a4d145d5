// SPDX-License-Identifier: GPL-2.0
/*
 * The SQE of a blocking io_uring command is user memory that user space
 * may rewrite as soon as io_uring_enter() returns.  A blocking COMMIT
 * issued inline cannot sleep for a contended key: it answers -EAGAIN and
 * io_uring issues it again from an io-wq worker after the submit call has
 * returned.  The module must then run the request that was submitted, not
 * whatever the SQ slot holds by then.
 *
 * Debian's 6.12 copies the SQE on -EAGAIN but leaves cmd->sqe pointing at
 * the SQ ring (upstream fixed it later by switching the pointer to the
 * copy), so a module reading the payload again at the second issue ran
 * the slot's new contents: the SIGKILL soak saw blocking commits complete
 * with EBUSY (another slot's non-blocking flag) or EINVAL, and a transfer
 * applied with another transfer's buffer.
 *
 * Here a second process keeps committing to a hot key while this one
 * submits blocking commits that touch it; right after each submit, the
 * SQE's payload is pointed at a decoy commit.  Every submitted commit must
 * apply exactly once and the decoy never.  On the debug kernel the delay
 * knob holds the hot key locked (site STM_DBG_COMMIT_LOCKED) so that every
 * inline issue meets a lock (and the test checks that rounds went to a
 * worker); elsewhere contention is natural and the test runs until enough
 * requests went to a worker, or a bound on rounds.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/stmdev.h>
#include "kselftest_harness.h"
#include "stm_test_util.h"
#include "uring_test_util.h"

#define STM_DBG_COMMIT_LOCKED	3
#define LOCKED_DELAY_US		2000

/*
 * Add 0 to "hot" and @nkeys - 1 other keys until killed (64 with the
 * delay knob, which holds every commit's locks anyway): a commit
 * of many keys holds the hot key's lock long enough for a blocking
 * COMMIT issued inline to meet it now and then.
 */
#define HAMMER_KEYS	1000
static void hammer(const char *store, int nkeys)
{
	static struct stmdev_commit_ent e[HAMMER_KEYS];
	static char keys[HAMMER_KEYS][8];
	static const __s64 zero;
	int i, fd = t_open_attach(store, 0, 0600);

	if (fd < 0)
		_exit(10);
	for (i = 0; i < nkeys; i++) {
		snprintf(keys[i], sizeof(keys[i]), i ? "h%02d" : "hot", i);
		cent_add(&e[i], keys[i], strlen(keys[i]), &zero);
	}
	for (;;)
		if (t_commit(fd, e, nkeys, NULL, NULL))
			_exit(11);
}

FIXTURE(sqe) {
	char name[64];
	int fd;
	bool knob;
	pid_t hammer;
	struct io_uring ring;
};

FIXTURE_SETUP(sqe)
{
	int ret;

	self->hammer = -1;
	snprintf(self->name, sizeof(self->name), "uring-sqe-%d", getpid());
	self->fd = t_open_attach(self->name,
				 STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	ret = io_uring_queue_init(8, &self->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring not available (%d)", ret);
	ASSERT_EQ(0, ret);
	self->knob = t_param_writable("debug_delay_site");
	if (self->knob) {
		ASSERT_EQ(0, t_param_set("debug_delay_us", LOCKED_DELAY_US));
		ASSERT_EQ(0, t_param_set("debug_delay_site",
					 STM_DBG_COMMIT_LOCKED));
	}
}

FIXTURE_TEARDOWN(sqe)
{
	if (self->hammer > 0) {
		kill(self->hammer, SIGKILL);
		waitpid(self->hammer, NULL, 0);
	}
	if (self->knob) {
		t_param_set("debug_delay_site", 0);
		t_param_set("debug_delay_us", 0);
	}
	io_uring_queue_exit(&self->ring);
	t_unlink(self->name);
	close(self->fd);
}

/*
 * Each round: a blocking COMMIT of ADD "mine" +1 and ADD "hot" 0 is
 * submitted; once io_uring_enter() has returned, the SQE is rewritten to
 * a decoy COMMIT (ADD "decoy" +1), as a program refilling its SQ ring
 * would.  A round whose completion is not there when the submit returns
 * went to an io-wq worker; the test runs until `want` such rounds (or a
 * bound on all rounds, reported).
 */
TEST_F_TIMEOUT(sqe, rewritten_after_submit, 600)
{
	const int want = self->knob ? 50 : 20;
	const int max_rounds = self->knob ? 2000 : 1000000;
	static const __s64 one = 1, zero;
	struct stmdev_commit_ent ents[2], decoy_ent;
	struct stmdev_commit c, decoy;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r, res, async, went_async = 0;
	__s64 got[2];	/* mine, decoy */

	cent_add(&ents[0], "mine", 4, &one);
	cent_add(&ents[1], "hot", 3, &zero);
	cent_add(&decoy_ent, "decoy", 5, &one);
	memset(&decoy, 0, sizeof(decoy));
	decoy.entries = t_ptr(&decoy_ent);
	decoy.count = 1;

	self->hammer = fork();
	ASSERT_LE(0, self->hammer);
	if (self->hammer == 0)
		hammer(self->name, self->knob ? 64 : HAMMER_KEYS);

	for (r = 0; r < max_rounds && went_async < want; r++) {
		memset(&c, 0, sizeof(c));
		c.entries = t_ptr(ents);
		c.count = 2;
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		t_prep_cmd(sqe, self->fd, STMDEV_IOC_COMMIT, &c, sizeof(c), r);
		ASSERT_EQ(1, io_uring_submit(&self->ring));
		/* The slot is ours again: refill it, as a busy program does. */
		((struct stmdev_uring_cmd *)sqe->cmd)->addr =
			(unsigned long)&decoy;
		async = io_uring_peek_cqe(&self->ring, &cqe) != 0;
		went_async += async;
		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		res = cqe->res;
		io_uring_cqe_seen(&self->ring, cqe);
		ASSERT_EQ(0, res) TH_LOG("round %d (%s): the commit gave %d", r,
					 async ? "issued again" : "inline", res);
	}
	TH_LOG("%d rounds, %d issued again by a worker", r, went_async);
	ASSERT_EQ(0, t_get_i64(self->fd, "mine", &got[0], NULL));
	EXPECT_EQ(r, got[0]);
	res = t_get_i64(self->fd, "decoy", &got[1], NULL);
	EXPECT_EQ(-ENODATA, res) TH_LOG("the decoy was applied: %lld",
				       (long long)got[1]);
	/*
	 * Only the knob makes rounds go to a worker for sure; without it the
	 * natural contention decides (0 to 20 per 200,000 rounds seen), as in
	 * uring_race_test.  On 6.12 without the fix, 200,000 rounds applied
	 * the decoy every time.
	 */
	if (self->knob)
		EXPECT_LT(0, went_async);
}

TEST_HARNESS_MAIN
