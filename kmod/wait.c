// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking retry: WAIT sleeps until keys differ from the versions a
 * transaction saw; WATCH arms poll() on the fd for the same condition.
 *
 * Every waited-on key queues one entry on the store's wait-queue bucket
 * for its hash.  A commit wakes the bucket of each key it wrote, passing
 * the key's hash, and an entry wakes its owner only when the hash is its
 * own: a commit costs nothing to waiters on other keys.  A wait set queues
 * each distinct key once, however many entries name it, so a bucket holds
 * at most one entry per key per wait set.
 */
#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include "stm.h"
#include "stm_trace.h"

void stm_wait_init(struct stm_store *s)
{
	int i;

	for (i = 0; i < STM_WAIT_BUCKETS; i++)
		init_waitqueue_head(&s->wq[i]);
}

/*
 * The bucket of a key: hash_32() mixes every bit of the key's hash, so the
 * buckets are not indexed by the low bits the rhashtable uses.
 */
static wait_queue_head_t *stm_bucket(struct stm_store *s, u32 hash)
{
	BUILD_BUG_ON(!is_power_of_2(STM_WAIT_BUCKETS));
	return &s->wq[hash_32(hash, ilog2(STM_WAIT_BUCKETS))];
}

/* Called by a commit after publishing a write of the key with @hash. */
void stm_wake_key(struct stm_store *s, u32 hash)
{
	wait_queue_head_t *wq = stm_bucket(s, hash);

	/* wq_has_sleeper() orders the publish before the queue check. */
	if (wq_has_sleeper(wq))
		__wake_up(wq, TASK_NORMAL, 0, &hash);
}

/* The store is gone from the namespace: every waiter must look. */
void stm_wake_all(struct stm_store *s)
{
	int i;

	for (i = 0; i < STM_WAIT_BUCKETS; i++)
		if (wq_has_sleeper(&s->wq[i]))
			__wake_up(&s->wq[i], TASK_NORMAL, 0, NULL);
}

static int stm_waiter_fn(struct wait_queue_entry *wq, unsigned int mode,
			 int sync, void *key)
{
	struct stm_waiter *w = container_of(wq, struct stm_waiter, wq);
	struct stm_waitset *ws = w->set;
	void (*kick)(void *arg);

	if (key && *(u32 *)key != w->hash)
		return 0;
	stm_stat_inc(ws->s, wakeups);
	WRITE_ONCE(ws->woken, true);
	smp_mb();	/* woken before kick: pairs with stm_uring_wait() */
	if (ws->task)
		wake_up_process(ws->task);
	if (ws->notify)
		wake_up_interruptible_poll(ws->notify, EPOLLIN);
	kick = READ_ONCE(ws->kick);
	if (kick)
		kick(ws->kick_arg);
	return 0;
}

void stm_waitset_free(struct stm_waitset *ws)
{
	u32 i;

	if (!ws)
		return;
	if (ws->f)
		stm_waits_uncharge(ws->f, ws->charged);
	for (i = 0; i < ws->nk; i++)
		if (ws->w[i].set)
			remove_wait_queue(stm_bucket(ws->s, ws->w[i].hash),
					  &ws->w[i].wq);
	kvfree(ws->keys);
	kvfree(ws->rs);
	kvfree(ws->map);
	kvfree(ws->seen);
	kvfree(ws);
}

static int stm_kref_ptr_cmp(const void *a, const void *b)
{
	return stm_kref_cmp(*(const struct stm_kref * const *)a,
			    *(const struct stm_kref * const *)b);
}

/*
 * Map each of the @n entries' keys @kr to a distinct key of @ws (rs[] and
 * map[]); @ord is room for @n pointers.
 */
static void stm_waitset_dedup(struct stm_waitset *ws, struct stm_kref *kr,
			      const struct stm_kref **ord, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		ord[i] = &kr[i];
	sort(ord, n, sizeof(*ord), stm_kref_ptr_cmp, NULL);
	for (i = 0; i < n; i++) {
		if (!i || stm_kref_cmp(ord[i - 1], ord[i]))
			ws->rs[ws->nk++].kr = *ord[i];
		ws->map[ord[i] - kr] = ws->nk - 1;
	}
}

/* Copy the entries in and queue one waiter per distinct key. */
struct stm_waitset *stm_waitset_new(struct stm_store *s, u64 uaddr, u32 n)
{
	struct stmdev_wait_ent __user *uents = u64_to_user_ptr(uaddr);
	const struct stm_kref **ord = NULL;
	struct stmdev_wait_ent e;
	struct stm_waitset *ws;
	struct stm_kref *kr;
	u8 *cur;
	u32 i;
	int err;

	if (n > READ_ONCE(stm_max_keys_per_call))
		return ERR_PTR(-E2BIG);
	ws = kvzalloc(struct_size(ws, w, n), GFP_KERNEL_ACCOUNT);
	if (!ws)
		return ERR_PTR(-ENOMEM);
	ws->s = s;
	ws->seen = kvmalloc_array(n, sizeof(*ws->seen), GFP_KERNEL_ACCOUNT);
	ws->map = kvmalloc_array(n, sizeof(*ws->map), GFP_KERNEL_ACCOUNT);
	ws->rs = kvcalloc(n, sizeof(*ws->rs), GFP_KERNEL_ACCOUNT);
	ws->keys = kvmalloc_array(n, STMDEV_KEY_MAX, GFP_KERNEL_ACCOUNT);
	/* The entries' keys, and their order, only while deduplicating. */
	kr = kvmalloc_array(n, sizeof(*kr) + sizeof(*ord), GFP_KERNEL_ACCOUNT);
	err = -ENOMEM;
	if (n && (!ws->seen || !ws->map || !ws->rs || !ws->keys || !kr))
		goto out_free;
	ord = (const struct stm_kref **)(kr + n);
	cur = ws->keys;
	for (i = 0; i < n; i++) {
		err = -EFAULT;
		if (copy_from_user(&e, &uents[i], sizeof(e)))
			goto out_free;
		err = -EINVAL;
		if (e.reserved)
			goto out_free;
		err = stm_copy_key(s, &kr[i], &cur, e.key_addr, e.key_len);
		if (err)
			goto out_free;
		ws->seen[i] = e.version;
	}
	ws->n = n;
	stm_waitset_dedup(ws, kr, ord, n);
	kvfree(kr);
	for (i = 0; i < ws->nk; i++) {
		struct stm_waiter *w = &ws->w[i];

		init_waitqueue_func_entry(&w->wq, stm_waiter_fn);
		w->hash = ws->rs[i].kr.hash;
		w->set = ws;
		add_wait_queue(stm_bucket(s, w->hash), &w->wq);
	}
	return ws;

out_free:
	kvfree(kr);
	stm_waitset_free(ws);
	return ERR_PTR(err);
}

/*
 * Does the wait set's condition hold?  Returns 1 (with *@index the first
 * entry that differs), 0, or an error.  Never sleeps for long.
 */
int stm_waitset_check(struct stm_waitset *ws, u32 *index)
{
	u32 i, changed = 0, first = STMDEV_NO_CONFLICT;
	u64 rv;
	int err;

	if (!ws->n)
		return 0;
	err = stm_snapshot(ws->s, ws->rs, ws->nk, false, false, &rv, NULL);
	if (err)
		return err;
	for (i = 0; i < ws->n; i++) {
		if (ws->rs[ws->map[i]].ver == ws->seen[i])
			continue;
		changed++;
		first = min(first, i);
	}
	stm_rslots_put(ws->rs, ws->nk);
	*index = first;
	return ws->all ? changed == ws->n : changed > 0;
}

/*
 * A wait set for @f's store of the @n entries at @uaddr, charged to @f and
 * its opener until it is freed.
 */
static struct stm_waitset *stm_waitset_charged(struct stm_file *f, u64 uaddr,
					       u32 n)
{
	struct stm_waitset *ws;
	int err;

	if (n > READ_ONCE(stm_max_keys_per_call))
		return ERR_PTR(-E2BIG);
	err = stm_waits_charge(f, n);
	if (err)
		return ERR_PTR(err);
	ws = stm_waitset_new(f->store, uaddr, n);
	if (IS_ERR(ws)) {
		stm_waits_uncharge(f, n);
		return ws;
	}
	ws->f = f;
	ws->charged = n;
	return ws;
}

/* Validate a WAIT and queue its wait set: shared by ioctl and io_uring. */
struct stm_waitset *stm_wait_start(struct stm_file *f, struct stmdev_wait *wt)
{
	struct stm_family *fam = NULL;
	struct stm_waitset *ws;

	if (wt->flags & ~STMDEV_WAIT_ALL || wt->reserved || !wt->count)
		return ERR_PTR(-EINVAL);
	if (wt->family) {
		fam = stm_family_get(f->store, wt->family);
		if (!fam)
			return ERR_PTR(-EINVAL);
	}
	wt->index = STMDEV_NO_CONFLICT;
	ws = stm_waitset_charged(f, wt->entries, wt->count);
	if (IS_ERR(ws))
		return ws;
	ws->all = wt->flags & STMDEV_WAIT_ALL;
	if (fam)
		atomic64_inc(&fam->waits);
	trace_stm_wait_start(ws->s, &ws->rs[ws->map[0]].kr, ws->n,
			     wt->timeout_ns);
	return ws;
}

/*
 * For the trace: a WAIT ends with @err, the result of stm_waitset_check()
 * (> 0: entry @index changed) or -ETIMEDOUT.
 */
void stm_wait_trace_end(struct stm_waitset *ws, u32 index, int err)
{
	if (err > 0 && index < ws->n)
		trace_stm_wait_wake(ws->s, &ws->rs[ws->map[index]].kr, index);
	else if (err == -ETIMEDOUT)
		trace_stm_wait_timeout(ws->s, ws->n);
}

int stm_wait(struct stm_file *f, struct stmdev_wait *wt)
{
	struct stm_store *s = f->store;
	struct stm_waitset *ws;
	bool slept = false;
	ktime_t expires;
	int err;

	ws = stm_wait_start(f, wt);
	if (IS_ERR(ws))
		return PTR_ERR(ws);
	ws->task = current;
	/* Saturates at KTIME_MAX, which schedule_hrtimeout() takes as none. */
	if (wt->timeout_ns > 0)
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(wt->timeout_ns));

	for (;;) {
		WRITE_ONCE(ws->woken, false);
		smp_mb();	/* clear woken before reading versions */
		err = stm_waitset_check(ws, &wt->index);
		if (err)
			break;
		err = -EIDRM;
		if (READ_ONCE(s->unlinked))
			break;
		err = -ERESTARTSYS;	/* see stm_commit_run() */
		if (signal_pending(current))
			break;
		err = -ETIMEDOUT;
		if (!wt->timeout_ns ||
		    (wt->timeout_ns > 0 && ktime_after(ktime_get(), expires)))
			break;
		if (!slept) {
			stm_stat_inc(s, waits);
			slept = true;
		}
		set_current_state(TASK_INTERRUPTIBLE);
		if (READ_ONCE(ws->woken))
			__set_current_state(TASK_RUNNING);
		else if (wt->timeout_ns > 0)
			schedule_hrtimeout(&expires, HRTIMER_MODE_ABS);
		else
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	stm_wait_trace_end(ws, wt->index, err);
	stm_waitset_free(ws);
	return err > 0 ? 0 : err;
}

int stm_watch(struct stm_file *f, struct stmdev_watch *wa)
{
	struct stm_waitset *ws = NULL, *old;

	if (wa->flags || wa->reserved)
		return -EINVAL;
	mutex_lock(&f->watch_lock);
	old = f->watch;
	/*
	 * The set replaced gives its entries back first, so a set can be
	 * replaced by one as large at the limit; if the new one fails, the
	 * old one stays, charged again.
	 */
	if (old)
		stm_waits_uncharge(f, old->charged);
	if (wa->count) {
		ws = stm_waitset_charged(f, wa->entries, wa->count);
		if (IS_ERR(ws)) {
			if (old)
				stm_waits_recharge(f, old->charged);
			mutex_unlock(&f->watch_lock);
			return PTR_ERR(ws);
		}
		ws->notify = &f->poll_wq;
	}
	if (old)
		old->f = NULL;	/* uncharged above */
	f->watch = ws;
	mutex_unlock(&f->watch_lock);
	stm_waitset_free(old);
	wake_up_interruptible_poll(&f->poll_wq, EPOLLIN);
	return 0;
}

/* poll(): readable while a watched key differs from the version given. */
__poll_t stm_watch_poll(struct stm_file *f)
{
	__poll_t mask = 0;
	u32 index;

	mutex_lock(&f->watch_lock);
	if (f->watch && stm_waitset_check(f->watch, &index) > 0)
		mask = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&f->watch_lock);
	if (f->store && READ_ONCE(f->store->unlinked))
		mask |= EPOLLHUP;
	return mask;
}

void stm_watch_release(struct stm_file *f)
{
	stm_waitset_free(f->watch);
	f->watch = NULL;
}
