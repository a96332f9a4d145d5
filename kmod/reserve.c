// SPDX-License-Identifier: GPL-2.0
/*
 * RESERVE: contention management by bounded key reservation.
 *
 * A transaction that keeps conflicting asks for the keys it reads and
 * writes to be reserved to its fd for a bounded time.  While a reservation
 * lives, another fd's COMMIT that writes one of those keys gets EBUSY
 * (non-blocking) or waits until the reservation is released or expires;
 * the owner's commits pass, and its first successful one releases it.
 * Reads, and commits that only read a reserved key, are never held up:
 * they cannot make the owner's commit fail.
 *
 * A reservation is kept by its keys' hashes (sorted) in a short per-store
 * list; a commit pays one load (s->nresv) while nobody reserves.  Two keys
 * of equal hash are the same key here: a commit of a key that merely
 * shares a reserved key's hash waits too, at most for the bound.
 *
 * Bounds, since any writer of the store may reserve (DESIGN 3c):
 *  - time: a reservation ends at its expiry whatever happens; a replacing
 *    call keeps the first one's expiry, so one hold never outlives
 *    max_reserve_ms, and after a hold ends the fd may not reserve again
 *    for as long as the hold lasted (EBUSY): no fd keeps keys more than
 *    half the time;
 *  - space: keys per call (max_keys_per_call, E2BIG), reserved keys per
 *    user who opened the fds (max_reserved_per_user, EDQUOT), memory to
 *    that user's limit and memcg, live reservations per store
 *    (STM_RESV_MAX, ENOSPC).
 */
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "stm.h"

/* Live reservations one store keeps at most. */
#define STM_RESV_MAX	64

struct stm_resv {
	struct list_head link;		/* s->resv, under s->resv_lock */
	struct stm_file *owner;		/* owner->resv == this, under the lock */
	struct stm_user *user;		/* charged; a reference */
	u64 start;			/* ns, ktime_get_ns() */
	u64 expires;
	size_t cost;			/* bytes charged */
	u32 n;
	u32 hash[];			/* sorted, distinct */
};

void stm_resv_init(struct stm_store *s)
{
	spin_lock_init(&s->resv_lock);
	INIT_LIST_HEAD(&s->resv);
	init_waitqueue_head(&s->resv_wq);
}

static void stm_resv_free(struct stm_resv *r)
{
	atomic_sub(r->n, &r->user->resv_keys);
	stm_user_charge(r->user, 0, -(s64)r->cost);
	stm_user_put(r->user);
	kfree(r);
}

/*
 * Take @r out of its store at @now: its fd may reserve again once as long
 * as the hold lasted has passed.  Caller holds s->resv_lock; it frees @r
 * (stm_resv_free()) and wakes the waiters after unlocking.
 */
static void stm_resv_unlink(struct stm_store *s, struct stm_resv *r, u64 now)
{
	u64 end = min(now, r->expires);

	list_del(&r->link);
	r->owner->resv = NULL;
	r->owner->resv_next = end + (end - r->start);
	atomic_dec(&s->nresv);
	WRITE_ONCE(s->resv_gen, s->resv_gen + 1);
}

/* Wake the commits waiting on a reservation: one ended. */
static void stm_resv_wake(struct stm_store *s)
{
	wake_up_all(&s->resv_wq);
}

/*
 * Unlink the reservations past their expiry onto @dead.  Caller holds
 * s->resv_lock.
 */
static void stm_resv_prune(struct stm_store *s, u64 now,
			   struct list_head *dead)
{
	struct stm_resv *r, *tmp;

	list_for_each_entry_safe(r, tmp, &s->resv, link) {
		if (now < r->expires)
			continue;
		stm_resv_unlink(s, r, now);
		list_add(&r->link, dead);
	}
}

static void stm_resv_free_list(struct stm_store *s, struct list_head *dead)
{
	struct stm_resv *r, *tmp;
	bool any = !list_empty(dead);

	list_for_each_entry_safe(r, tmp, dead, link)
		stm_resv_free(r);
	if (any)
		stm_resv_wake(s);
}

/* Does the sorted @r hold @hash? */
static bool stm_resv_has(const struct stm_resv *r, u32 hash)
{
	u32 lo = 0, hi = r->n;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (r->hash[mid] == hash)
			return true;
		if (r->hash[mid] < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Is one of the @n keys at @kr (@stride bytes apart) reserved by an fd
 * other than @f?  Returns its index, with *@until the reservation's
 * expiry and *@gen the release count to wait past, or -1.  Expired
 * reservations found on the way are released.  Any context that may
 * take a spinlock (COMMIT calls it holding key locks, preemption off).
 */
int stm_resv_check(struct stm_store *s, const struct stm_file *f,
		   const struct stm_kref *kr, size_t stride, u32 n,
		   u64 *until, u32 *gen)
{
	u64 now = ktime_get_ns();
	struct stm_resv *r;
	LIST_HEAD(dead);
	int hit = -1;
	u32 i;

	spin_lock(&s->resv_lock);
	stm_resv_prune(s, now, &dead);
	list_for_each_entry(r, &s->resv, link) {
		if (r->owner == f)
			continue;
		for (i = 0; i < n; i++) {
			const struct stm_kref *k = (const void *)kr + i * stride;

			if (stm_resv_has(r, k->hash)) {
				hit = i;
				*until = r->expires;
				*gen = s->resv_gen;
				break;
			}
		}
		if (hit >= 0)
			break;
	}
	spin_unlock(&s->resv_lock);
	stm_resv_free_list(s, &dead);
	return hit;
}

/*
 * A commit found a key reserved (stm_resv_check() gave @until and @gen):
 * sleep until a reservation of the store ends or @until passes.  0 to try
 * again, or -ERESTARTSYS on a signal (see stm_commit_run()).
 */
int stm_resv_wait(struct stm_store *s, u64 until, u32 gen)
{
	u64 now = ktime_get_ns();
	int err;

	if (now >= until)
		return 0;
	err = wait_event_interruptible_hrtimeout(s->resv_wq,
						 READ_ONCE(s->resv_gen) != gen,
						 ns_to_ktime(until - now));
	return err == -ETIME ? 0 : err;
}

/* Release @f's reservation, if it holds one: commit, close, count 0. */
void stm_resv_release(struct stm_file *f)
{
	struct stm_store *s = f->store;
	struct stm_resv *r;

	if (!s || !READ_ONCE(f->resv))
		return;
	spin_lock(&s->resv_lock);
	r = f->resv;
	if (r)
		stm_resv_unlink(s, r, ktime_get_ns());
	spin_unlock(&s->resv_lock);
	if (!r)
		return;
	stm_resv_free(r);
	stm_resv_wake(s);
}

static int stm_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The keys of @rq (into @sc, at *@krsp) as a new reservation, charged to
 * @f's opener.
 */
static struct stm_resv *stm_resv_load(struct stm_file *f,
				      const struct stmdev_reserve *rq,
				      struct stm_scratch *sc,
				      struct stm_kref **krsp)
{
	struct stm_store *s = f->store;
	struct stmdev_wait_ent *ents;
	struct stm_kref *krs;
	struct stm_resv *r = NULL;
	u32 i, n = rq->count, m;
	size_t cost;
	u8 *cur;
	int err;

	err = stm_load_request(sc, rq->entries, n, sizeof(*ents),
			       offsetof(struct stmdev_wait_ent, key_len),
			       sizeof(*krs), (void **)&ents, (void **)&krs);
	if (err)
		return ERR_PTR(err);
	cur = (u8 *)(krs + n);
	for (i = 0; i < n; i++) {
		if (ents[i].reserved || ents[i].version)
			return ERR_PTR(-EINVAL);
		err = stm_copy_key(s, &krs[i], &cur, ents[i].key_addr,
				   ents[i].key_len);
		if (err)
			return ERR_PTR(err);
	}
	*krsp = krs;
	cost = struct_size(r, hash, n);
	r = kmalloc(cost, GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < n; i++)
		r->hash[i] = krs[i].hash;
	sort(r->hash, n, sizeof(u32), stm_u32_cmp, NULL);
	for (i = 1, m = 1; i < n; i++)
		if (r->hash[i] != r->hash[m - 1])
			r->hash[m++] = r->hash[i];
	r->n = m;
	r->cost = cost;
	r->owner = f;
	r->user = f->user;

	err = -EDQUOT;
	if (atomic_add_return(m, &f->user->resv_keys) >
	    READ_ONCE(stm_max_reserved_per_user))
		goto out_keys;
	err = stm_user_charge(f->user, 0, r->cost);
	if (err)
		goto out_keys;
	refcount_inc(&f->user->ref);
	return r;

out_keys:
	atomic_sub(m, &f->user->resv_keys);
	kfree(r);
	return ERR_PTR(err);
}

/*
 * Wait until none of the @n keys at @krs is held by a commit that took its
 * lock before the reservation was published and did not see it: from then
 * on, no commit through another fd writes them while the reservation
 * lives, so a snapshot the owner takes after this call stays valid.  A
 * commit holds a key only while it publishes (it never sleeps holding
 * one), so each wait is short; -EINTR on a fatal signal.
 */
static int stm_resv_settle(struct stm_store *s, const struct stm_kref *krs,
			   u32 n)
{
	struct stm_key *k;
	u32 i, spins = 0;
	bool locked;

	for (i = 0; i < n; i++) {
		for (;;) {
			rcu_read_lock();
			k = stm_key_lookup(s, &krs[i]);
			locked = k && READ_ONCE(k->lockver) & STM_LOCKED;
			rcu_read_unlock();
			if (!locked)
				break;
			if (++spins < STM_SPIN) {
				cpu_relax();
				continue;
			}
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return 0;
}

int stm_reserve(struct stm_file *f, struct stmdev_reserve *rq)
{
	struct stm_store *s = f->store;
	unsigned int max_ms = READ_ONCE(stm_max_reserve_ms);
	struct stm_resv *r, *old = NULL;
	struct stm_kref *krs = NULL;
	struct stm_scratch sc;
	LIST_HEAD(dead);
	u64 now;
	int err = 0;

	if (rq->flags || rq->reserved0 || rq->reserved)
		return -EINVAL;
	if (f->flags & STMDEV_ATTACH_RDONLY)
		return -EBADF;
	if (rq->count > READ_ONCE(stm_max_keys_per_call))
		return -E2BIG;
	if (!rq->count) {
		stm_resv_release(f);
		rq->bound_ms = 0;
		return 0;
	}
	if (!rq->bound_ms || rq->bound_ms > max_ms)
		rq->bound_ms = max_ms;

	stm_scratch_begin(&sc);
	r = stm_resv_load(f, rq, &sc, &krs);
	if (IS_ERR(r)) {
		err = PTR_ERR(r);
		goto out_scratch;
	}

	spin_lock(&s->resv_lock);
	now = ktime_get_ns();
	stm_resv_prune(s, now, &dead);
	old = f->resv;
	if (old) {
		/* A replacement: new keys, the same hold and expiry. */
		r->start = old->start;
		r->expires = old->expires;
		list_replace(&old->link, &r->link);
		/* Keys may have left: the waiters look again. */
		WRITE_ONCE(s->resv_gen, s->resv_gen + 1);
		list_add(&old->link, &dead);
	} else if (now < f->resv_next) {
		/* The cooldown after a hold: report how long is left. */
		rq->bound_ms = DIV_ROUND_UP_ULL(f->resv_next - now, NSEC_PER_MSEC);
		err = -EBUSY;
		goto out_unlock;
	} else if (atomic_read(&s->nresv) >= STM_RESV_MAX) {
		err = -ENOSPC;
		goto out_unlock;
	} else {
		r->start = now;
		r->expires = now + (u64)rq->bound_ms * NSEC_PER_MSEC;
		list_add_tail(&r->link, &s->resv);
		atomic_inc(&s->nresv);
	}
	f->resv = r;
	rq->bound_ms = DIV_ROUND_UP_ULL(r->expires - now, NSEC_PER_MSEC);
	r = NULL;
out_unlock:
	spin_unlock(&s->resv_lock);
	/*
	 * Pairs with the barrier in stm_resv_any(): a commit that locked a
	 * key before we published either saw the reservation, or holds the
	 * key locked where the owner's next read waits for it.
	 */
	smp_mb();
	if (r)
		stm_resv_free(r);
	stm_resv_free_list(s, &dead);
	if (!err) {
		err = stm_resv_settle(s, krs, rq->count);
		if (err)
			stm_resv_release(f);
	}
out_scratch:
	stm_scratch_end(&sc);
	return err;
}
