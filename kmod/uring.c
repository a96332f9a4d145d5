// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring passthrough (IORING_OP_URING_CMD): cmd_op is the ioctl number
 * and the SQE's 16-byte payload (struct stmdev_uring_cmd) the address and
 * length of the same struct, so every command runs through stm_dispatch().
 *
 * WAIT completes asynchronously: its wait set's wake-up, its timer or a
 * cancelation kicks task work in the submitter's context, which re-checks
 * the keys, writes the result back and posts the CQE.  Exactly one task
 * work is ever queued per request (uw->pending), and none once done.
 *
 * The issuer owns the request until it is armed (uw->arming): from an io-wq
 * worker it runs without the ring lock, beside the submitter's task work, so
 * a kick that comes while it still arms only marks the request (uw->kicked),
 * and the issuer queues that task work as its last touch of the request.
 */
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"
#include "debug.h"

/* Without io_uring cancelation, no async WAIT outlives this (then ETIMEDOUT). */
#define STM_URING_WAIT_BOUND_NS	(1000 * NSEC_PER_MSEC)

struct stm_uwait {
	struct io_uring_cmd *cmd;
	struct stm_file *f;
	struct stm_waitset *ws;
	struct stmdev_wait __user *uarg;
	struct stmdev_wait wt;
	struct hrtimer timer;
	spinlock_t lock;	/* the flags below */
	bool arming;		/* the issuer owns it: queue no task work */
	bool kicked;		/* kicked while arming */
	bool pending;		/* task work queued */
	bool done;		/* completing: queue nothing more */
	bool timed_out;
	bool cancelled;
};

static struct stm_uwait **stm_uwait_slot(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct stm_uwait *) > sizeof(cmd->pdu));
	return (struct stm_uwait **)cmd->pdu;
}

static void stm_uwait_tw(struct io_uring_cmd *cmd, unsigned int issue_flags);

/* Caller holds uw->lock. */
static void stm_uwait_kick_locked(struct stm_uwait *uw)
{
	if (uw->done || uw->pending)
		return;
	if (uw->arming) {
		uw->kicked = true;	/* the issuer queues it once armed */
		return;
	}
	uw->pending = true;
	io_uring_cmd_complete_in_task(uw->cmd, stm_uwait_tw);
}

/* From the wait set's wake function: any context. */
static void stm_uwait_kick(void *arg)
{
	struct stm_uwait *uw = arg;
	unsigned long flags;

	spin_lock_irqsave(&uw->lock, flags);
	stm_uwait_kick_locked(uw);
	spin_unlock_irqrestore(&uw->lock, flags);
}

static enum hrtimer_restart stm_uwait_timer(struct hrtimer *t)
{
	struct stm_uwait *uw = container_of(t, struct stm_uwait, timer);
	unsigned long flags;

	spin_lock_irqsave(&uw->lock, flags);
	uw->timed_out = true;
	stm_uwait_kick_locked(uw);
	spin_unlock_irqrestore(&uw->lock, flags);
	return HRTIMER_NORESTART;
}

static void stm_uwait_free(struct stm_uwait *uw)
{
	stm_waitset_free(uw->ws);
	kfree(uw);
}

/* In task work, with uw->done set: nothing can queue task work now. */
static void stm_uwait_finish(struct stm_uwait *uw, int err,
			     unsigned int issue_flags)
{
	struct io_uring_cmd *cmd = uw->cmd;

	hrtimer_cancel(&uw->timer);
	/* A dying task's fallback work has no user memory to write to. */
	if (!(current->flags & (PF_EXITING | PF_KTHREAD)) &&
	    put_user(uw->wt.index, &uw->uarg->index))
		err = err ?: -EFAULT;
	stm_uwait_free(uw);
	io_uring_cmd_done(cmd, err, 0, issue_flags);
}

static void stm_uwait_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct stm_uwait *uw = *stm_uwait_slot(cmd);
	int err;

	spin_lock_irq(&uw->lock);
	uw->pending = false;
	spin_unlock_irq(&uw->lock);

	err = stm_waitset_check(uw->ws, &uw->wt.index);
	if (!err) {
		if (READ_ONCE(uw->cancelled))
			err = -ECANCELED;
		else if (READ_ONCE(uw->f->store->unlinked))
			err = -EIDRM;
		else if (READ_ONCE(uw->timed_out))
			err = -ETIMEDOUT;
		else
			return;		/* a wake for another key: keep waiting */
	}

	spin_lock_irq(&uw->lock);
	if (uw->pending) {
		/* Kicked again meanwhile: that task work finishes. */
		spin_unlock_irq(&uw->lock);
		return;
	}
	uw->done = true;
	spin_unlock_irq(&uw->lock);
	stm_wait_trace_end(uw->ws, uw->wt.index, err);
	stm_uwait_finish(uw, err > 0 ? 0 : err, issue_flags);
}

static int stm_uring_wait(struct stm_file *f, struct io_uring_cmd *cmd,
			  u64 addr, u32 len, unsigned int issue_flags)
{
	struct stm_uwait *uw;
	s64 timeout;
	int err;

	if (len != sizeof(uw->wt))
		return -EINVAL;
	if (!smp_load_acquire(&f->store))	/* pairs with ATTACH */
		return -ENOTCONN;
	uw = kzalloc(sizeof(*uw), GFP_KERNEL_ACCOUNT);
	if (!uw)
		return -ENOMEM;
	uw->cmd = cmd;
	uw->f = f;
	uw->uarg = u64_to_user_ptr(addr);
	spin_lock_init(&uw->lock);
	uw->arming = true;	/* ours until armed, whoever kicks meanwhile */
	hrtimer_init(&uw->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	uw->timer.function = stm_uwait_timer;
	*stm_uwait_slot(cmd) = uw;
	err = -EFAULT;
	if (copy_from_user(&uw->wt, uw->uarg, sizeof(uw->wt)))
		goto out_free;
	uw->ws = stm_wait_start(f, &uw->wt);
	if (IS_ERR(uw->ws)) {
		err = PTR_ERR(uw->ws);
		uw->ws = NULL;
		goto out_free;
	}
	uw->ws->kick_arg = uw;

	err = stm_waitset_check(uw->ws, &uw->wt.index);
	if (!err && READ_ONCE(f->store->unlinked))
		err = -EIDRM;
	if (!err && !uw->wt.timeout_ns)
		err = -ETIMEDOUT;
	if (err) {
		/* Settled at issue: complete inline, as the ioctl would. */
		stm_wait_trace_end(uw->ws, uw->wt.index, err);
		if (put_user(uw->wt.index, &uw->uarg->index))
			err = -EFAULT;
		goto out_free;
	}

	/*
	 * Kept relative: hrtimer_start() adds "now" with ktime_add_safe(),
	 * so even S64_MAX cannot wrap to a past expiry.
	 */
	timeout = uw->wt.timeout_ns;
	if (!STM_URING_CANCEL && (timeout < 0 || timeout > STM_URING_WAIT_BOUND_NS))
		timeout = STM_URING_WAIT_BOUND_NS;
	stm_uring_mark_cancelable(cmd, issue_flags);
	/* From here on, wake-ups, the timer and cancelation kick the request. */
	WRITE_ONCE(uw->ws->kick, stm_uwait_kick);
	smp_mb();	/* kick before woken: pairs with stm_waiter_fn() */
	if (timeout > 0)
		hrtimer_start(&uw->timer, ns_to_ktime(timeout), HRTIMER_MODE_REL);
	/* Process context, no lock held: kicks here only set uw->kicked. */
	stm_debug_delay(STM_DBG_URING_ARM, false);
	/*
	 * Armed: hand the request over.  A kick that came meanwhile, or a
	 * wake-up between the check and publishing the kick, queues the one
	 * task work now.  That may complete and free uw at once (from an
	 * io-wq worker it runs beside us), so this is our last touch of uw.
	 */
	spin_lock_irq(&uw->lock);
	uw->arming = false;
	if (uw->kicked || READ_ONCE(uw->ws->woken))
		stm_uwait_kick_locked(uw);
	spin_unlock_irq(&uw->lock);
	return -EIOCBQUEUED;

out_free:
	stm_uwait_free(uw);
	return err > 0 ? 0 : err;
}

/* IO_URING_F_CANCEL: the ring or task is going away. */
static int stm_uring_cancel(struct io_uring_cmd *cmd)
{
	struct stm_uwait *uw = *stm_uwait_slot(cmd);
	unsigned long flags;

	spin_lock_irqsave(&uw->lock, flags);
	uw->cancelled = true;
	stm_uwait_kick_locked(uw);
	spin_unlock_irqrestore(&uw->lock, flags);
	return 0;
}

/*
 * The payload of a command that answered -EAGAIN, kept for its second
 * issue.  io_uring issues such a command again from an io-wq worker after
 * io_uring_enter() has returned, when user space may have refilled the SQ
 * slot.  Kernels are meant to point the command at a copy of its SQE by
 * then; Debian's 6.12 makes the copy but leaves cmd->sqe at the SQ ring
 * (upstream moved the pointer in 6.14), and running the slot's new
 * contents applied another request's buffer or flags.  So what the first
 * issue read is kept in the command's private area and used again when the
 * same payload pointer comes back; a kernel that moved the pointer to its
 * copy is read from there.  The tag only guards against a stale pdu of a
 * request that was cancelled between the two issues.
 */
struct stm_uring_again {
	const void *payload;	/* where the first issue read it */
	u64 addr;
	u32 len;
	u32 tag;
};

#define STM_URING_AGAIN_TAG	0x5354a6a1

static struct stm_uring_again *stm_uring_again(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct stm_uring_again) > sizeof(cmd->pdu));
	return (struct stm_uring_again *)cmd->pdu;
}

int stm_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct stm_file *f = cmd->file->private_data;
	struct stm_uring_again *again = stm_uring_again(cmd);
	const struct stmdev_uring_cmd *p;
	u64 addr;
	long ret;
	u32 len;

	if (issue_flags & IO_URING_F_CANCEL)
		return stm_uring_cancel(cmd);
	p = stm_uring_payload(cmd);
	if (!(issue_flags & IO_URING_F_NONBLOCK) &&
	    again->tag == STM_URING_AGAIN_TAG && again->payload == p) {
		addr = again->addr;	/* checked at the first issue */
		len = again->len;
	} else {
		/* Read the payload once: user space may rewrite the SQE. */
		addr = READ_ONCE(p->addr);
		len = READ_ONCE(p->len);
		if (READ_ONCE(p->flags) || !stm_uring_pad_ok(cmd) ||
		    cmd->flags & IORING_URING_CMD_FIXED)
			return -EINVAL;
	}
	again->tag = 0;
	if (cmd->cmd_op == STMDEV_IOC_WAIT)
		return stm_uring_wait(f, cmd, addr, len, issue_flags);
	ret = stm_dispatch(f, cmd->cmd_op, u64_to_user_ptr(addr), len,
			   issue_flags & IO_URING_F_NONBLOCK ? STM_NOWAIT : 0);
	if (ret == -EAGAIN) {
		*again = (struct stm_uring_again){
			.payload = p, .addr = addr, .len = len,
			.tag = STM_URING_AGAIN_TAG,
		};
	}
	/* No syscall to restart here: a CQE must carry a real errno. */
	return ret == -ERESTARTSYS ? -EINTR : ret;
}
