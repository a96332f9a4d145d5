/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uring_test_util.h - the raw io_uring helper the passthrough selftests
 * share (uring_test, uring_race_test, uring_sqe_test).  Include after
 * <liburing.h> and stm_test_util.h.
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

#endif /* URING_TEST_UTIL_H */
