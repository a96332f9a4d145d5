/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels stm.ko builds for lives here,
 * force-included before each file.  Core files never test versions.
 * Prefer feature tests (__has_include) over version numbers.
 */
#ifndef _STM_COMPAT_H
#define _STM_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>

/* 6.12 removed no_llseek: a NULL ->llseek now means the same. */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#define stm_no_llseek NULL
#else
#define stm_no_llseek no_llseek
#endif

/* 6.12 moved <asm/unaligned.h> to <linux/unaligned.h>. */
#if __has_include("linux/unaligned.h")
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * io_uring passthrough.  6.7 moved the uring_cmd API to
 * <linux/io_uring/cmd.h>, replaced ->cmd (the SQE's payload) with ->sqe,
 * and added cancelable commands (IO_URING_F_CANCEL).  Where a kernel lacks
 * cancelation, async waits are bounded instead (see uring.c).
 */
#if __has_include("linux/io_uring/cmd.h")
#include <linux/io_uring/cmd.h>
#define STM_URING_CANCEL	1

static inline const void *stm_uring_payload(struct io_uring_cmd *cmd)
{
	return io_uring_sqe_cmd(cmd->sqe);
}

/* sqe->__pad1 is reserved for us: must be zero. */
static inline bool stm_uring_pad_ok(struct io_uring_cmd *cmd)
{
	return !READ_ONCE(cmd->sqe->__pad1);
}

static inline void stm_uring_mark_cancelable(struct io_uring_cmd *cmd,
					     unsigned int issue_flags)
{
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
}
#else
#include <linux/io_uring.h>
#define STM_URING_CANCEL	0
#define IO_URING_F_CANCEL	0

static inline const void *stm_uring_payload(struct io_uring_cmd *cmd)
{
	return cmd->cmd;
}

/* Only the payload is reachable here, not the rest of the SQE. */
static inline bool stm_uring_pad_ok(struct io_uring_cmd *cmd)
{
	return true;
}

static inline void stm_uring_mark_cancelable(struct io_uring_cmd *cmd,
					     unsigned int issue_flags)
{
}
#endif

/*
 * 6.10 dropped __assign_str()'s source argument: TRACE_EVENT's
 * __string(dst, src) already names it.
 */
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
#define stm_assign_str(dst, src)	__assign_str(dst)
#else
#define stm_assign_str(dst, src)	__assign_str(dst, src)
#endif

#endif /* _STM_COMPAT_H */
