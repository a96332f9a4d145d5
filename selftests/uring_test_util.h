/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uring_test_util.h - the raw io_uring helper the passthrough selftests
 * share (uring_test, uring_race_test, uring_sqe_test, range_test,
 * starve_test, badd_test).  Include after <liburing.h> and stm_test_util.h.
 */
#ifndef URING_TEST_UTIL_H
#define URING_TEST_UTIL_H

/* An IORING_OP_URING_CMD of ioctl number @op on @arg (@len bytes). */
static inline void t_prep_cmd(struct io_uring_sqe *sqe, int fd,
			      unsigned int op, void *arg, unsigned int len,
			      __u64 tag)
{
	struct stmdev_uring_cmd *p;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	p = (struct stmdev_uring_cmd *)sqe->cmd;
	p->addr = (unsigned long)arg;
	p->len = len;
	p->flags = 0;
	sqe->user_data = tag;
}

/*
 * Submit one command on @ring and wait for it: its CQE's res, or -1000
 * when the submission, the wait or the completion's tag went wrong.
 */
static inline int t_uring_cmd1(struct io_uring *ring, int fd, unsigned int op,
			       void *arg, unsigned int len)
{
	struct io_uring_cqe *cqe;
	int res;

	t_prep_cmd(io_uring_get_sqe(ring), fd, op, arg, len, 1);
	if (io_uring_submit(ring) != 1 || io_uring_wait_cqe(ring, &cqe))
		return -1000;
	res = cqe->user_data == 1 ? cqe->res : -1000;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

#endif /* URING_TEST_UTIL_H */
