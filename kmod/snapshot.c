// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots: the lock-free reads every command builds on.  A reader looks
 * keys up under RCU and reads each one's version word, value and version
 * word again (a seqlock keyed on the version); a set of keys is one instant
 * when every key is unlocked and no newer than the clock read first.  READ,
 * COMMIT's validation, LIST and the wait sets all use these helpers, so they
 * sit below every command file.
 *
 * A reader that keeps losing to commits falls back, after STM_SNAP_ROUNDS
 * lost rounds, to locking its keys as a commit does (see
 * stm_snapshot_locked()): then it finishes whatever the writers do.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include "stm.h"
#include "debug.h"

/* Lock-free rounds a snapshot may lose before it locks its keys. */
#define STM_SNAP_ROUNDS	8

/* Sum of the key lengths of @n entries, or -EINVAL for a bad one. */
static long stm_key_bytes(const void *ents, size_t stride, size_t len_off, u32 n)
{
	long total = 0;
	u32 i, len;

	for (i = 0; i < n; i++) {
		len = *(const u32 *)(ents + i * stride + len_off);
		if (!len || len > STMDEV_KEY_MAX)
			return -EINVAL;
		total += len;
	}
	return total;
}

/*
 * Load a READ's or COMMIT's request: copy its @n entries of @esz bytes (key
 * length at @len_off) in from @uaddr to *@ents, and carve *@work: @n slots
 * of @wsz bytes followed by room for every key.  Both come from @sc, which
 * the caller began and ends.  Returns 0 or -ENOMEM, -EFAULT, -EINVAL.
 */
int stm_load_request(struct stm_scratch *sc, u64 uaddr, u32 n, size_t esz,
		     size_t len_off, size_t wsz, void **ents, void **work)
{
	long kbytes;

	*ents = stm_scratch_alloc(sc, array_size(n, esz));
	if (!*ents)
		return -ENOMEM;
	if (stm_copy_in(*ents, u64_to_user_ptr(uaddr), array_size(n, esz)))
		return -EFAULT;
	kbytes = stm_key_bytes(*ents, esz, len_off, n);
	if (kbytes < 0)
		return kbytes;
	*work = stm_scratch_alloc(sc, array_size(n, wsz) + kbytes);
	return *work ? 0 : -ENOMEM;
}

/* One distinct key of a locked snapshot. */
struct stm_hold {
	struct stm_key *k;	/* locked by us */
	struct stm_key *fresh;	/* a placeholder ready for an absent key */
	u64 lv;			/* k->lockver before we locked it */
	u32 first;		/* its first entry in the sorted order */
	bool inserted;		/* k is our placeholder */
};

static int stm_rslot_ptr_cmp(const void *a, const void *b)
{
	return stm_kref_cmp(&(*(const struct stm_rslot * const *)a)->kr,
			    &(*(const struct stm_rslot * const *)b)->kr);
}

/* Release every key of @h[0..@nh), dropping our placeholders. */
static void stm_hold_release(struct stm_store *s, struct stm_hold *h, u32 nh)
{
	u32 i;

	for (i = 0; i < nh; i++) {
		if (!h[i].k)
			continue;
		if (h[i].inserted) {
			stm_key_remove(s, h[i].k);
			/* Unlink, then unlock: readers see it dead. */
			smp_store_release(&h[i].k->lockver, 0);
			stm_key_free(s, h[i].k);
			h[i].inserted = false;
		} else {
			/* Unlock, version unchanged: pairs with readers' acquire. */
			smp_store_release(&h[i].k->lockver, h[i].lv);
		}
		h[i].k = NULL;
	}
}

/*
 * Try to lock the key of @h, or insert its placeholder when it is absent.
 * Returns 0 when held, -EBUSY while another holds it, -EAGAIN when it is
 * absent and needs a placeholder, or -ENOMEM.  Caller is in an RCU
 * read-side section.
 */
static int stm_hold_one(struct stm_store *s, struct stm_hold *h,
			const struct stm_kref *kr)
{
	struct stm_key *k, *old;
	u64 lv;

	k = stm_key_lookup(s, kr);
	if (!k) {
		if (!h->fresh)
			return -EAGAIN;
		old = stm_key_insert(s, h->fresh);
		if (IS_ERR(old))
			return -ENOMEM;
		if (!old) {
			h->k = h->fresh;
			h->fresh = NULL;
			h->inserted = true;
			h->lv = 0;
			return 0;
		}
		k = old;
	}
	lv = READ_ONCE(k->lockver);
	if (lv & STM_LOCKED ||
	    cmpxchg_acquire(&k->lockver, lv, lv | STM_LOCKED) != lv)
		return -EBUSY;
	if (READ_ONCE(k->dead)) {
		/* Unlinked by its last holder: look the key up again. */
		smp_store_release(&k->lockver, lv);
		return -EBUSY;
	}
	h->k = k;
	h->lv = lv;
	return 0;
}

/*
 * Lock the distinct keys @h[0..@nh) of @ord (sorted) in the commits' global
 * order, keeping each once held: no commit waits while it holds a key and
 * every holder takes keys in one order, so the holder of the key we want
 * finishes or backs off, and we never give up what we have.  Between
 * spins we may sleep holding keys (they stay pinned: only a holder unlinks
 * a key); we stop only for a fatal signal.  Returns 0, -EINTR or -ENOMEM;
 * on error nothing is held.
 */
static int stm_hold_all(struct stm_store *s, struct stm_rslot **ord,
			struct stm_hold *h, u32 nh)
{
	u32 i = 0, spins = 0;
	int err = 0;

	rcu_read_lock();
	while (i < nh) {
		err = stm_hold_one(s, &h[i], &ord[h[i].first]->kr);
		if (!err) {
			i++;
			spins = 0;
			continue;
		}
		if (err == -EBUSY && ++spins <= STM_SPIN) {
			cpu_relax();
			continue;
		}
		rcu_read_unlock();
		if (err == -EAGAIN) {
			h[i].fresh = stm_key_alloc(s, &ord[h[i].first]->kr);
			err = h[i].fresh ? 0 : -ENOMEM;
		} else if (err == -EBUSY) {
			err = fatal_signal_pending(current) ? -EINTR : 0;
		}
		if (err) {
			stm_hold_release(s, h, i);
			return err;
		}
		cond_resched();
		spins = 0;
		rcu_read_lock();
	}
	rcu_read_unlock();
	return 0;
}

/* Read a key we hold (at version stm_version(@lv)) into @rs. */
static void stm_held_snap(struct stm_key *k, u64 lv, struct stm_rslot *rs,
			  bool values)
{
	struct stm_val *v = rcu_dereference_protected(k->val, 1);

	rs->present = k->state != STM_ABSENT;
	rs->ver = rs->present ? stm_version(lv) : 0;
	rs->val = NULL;
	rs->vlen = 0;
	if (k->state == STM_INLINE) {
		rs->vlen = k->ilen;
		if (values)
			memcpy(rs->inl, k->inl, rs->vlen);
	} else if (k->state == STM_HEAP) {
		rs->vlen = v->len;
		if (values) {
			refcount_inc(&v->ref);
			rs->val = v;
		}
	}
}

/*
 * The fallback of stm_snapshot(): lock the read set's distinct keys, as a
 * commit locks its writes (an absent key gets a locked placeholder, as a
 * commit's would), read them and let them go.  A commit that wrote one of
 * them with a version up to the clock read once all are held had to hold
 * it first, so it is published; any later one waits for us: the keys as
 * held are the snapshot at that clock.  An absent key is pinned absent by
 * our placeholder, so no delete can hide it; only READ_AT's older clock
 * needs the delete clock.  Duplicate entries share one held key.
 */
static int stm_snapshot_locked(struct stm_store *s, struct stm_rslot *rs,
			       u32 n, bool at, bool values, u64 *rv, u32 *bad)
{
	struct stm_rslot **ord;
	struct stm_hold *h;
	u32 i, nh = 0, first = n, absent = n;
	u64 clock;
	int err;

	ord = kvmalloc_array(n, sizeof(*ord) + sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!ord)
		return -ENOMEM;
	h = (struct stm_hold *)(ord + n);
	for (i = 0; i < n; i++)
		ord[i] = &rs[i];
	sort(ord, n, sizeof(*ord), stm_rslot_ptr_cmp, NULL);
	for (i = 0; i < n; i++) {
		if (i && !stm_rslot_ptr_cmp(&ord[i - 1], &ord[i]))
			continue;
		memset(&h[nh], 0, sizeof(h[nh]));
		h[nh++].first = i;
	}

	err = stm_hold_all(s, ord, h, nh);
	if (err)
		goto out_free;
	clock = atomic64_read(&s->clock);
	if (at)
		clock = *rv;
	stm_debug_delay(STM_DBG_SNAPSHOT, false);	/* keys held */
	for (i = 0; i < nh; i++) {
		u32 j, end = i + 1 < nh ? h[i + 1].first : n;

		for (j = h[i].first; j < end; j++) {
			u32 idx = ord[j] - rs;

			stm_held_snap(h[i].k, h[i].lv, ord[j], values);
			if (ord[j]->ver > clock)
				first = min(first, idx);
			if (!ord[j]->present)
				absent = min(absent, idx);
		}
	}
	stm_hold_release(s, h, nh);
	/* See stm_snapshot(): a delete since @clock may hide an absent key. */
	if (at && first == n && absent < n &&
	    (u64)atomic64_read(&s->del_clock) > clock)
		first = absent;
	if (first < n) {
		stm_rslots_put(rs, n);
		*bad = first;
		err = -ESTALE;
		goto out_free;
	}
	*rv = clock;

out_free:
	for (i = 0; i < nh; i++)
		if (h[i].fresh)
			stm_key_free(s, h[i].fresh);
	kvfree(ord);
	return err;
}

/*
 * Fill @rs with one snapshot of its keys (versions; with @values, values
 * too).  With @at, the snapshot must be the one at clock *@rv, else
 * -ESTALE with *@bad the first changed entry.  Lock-free while it can;
 * after STM_SNAP_ROUNDS lost rounds, stm_snapshot_locked().  Never fails
 * for contention: -EINTR only on a fatal signal, else -ENOMEM.
 */
int stm_snapshot(struct stm_store *s, struct stm_rslot *rs, u32 n,
		 bool at, bool values, u64 *rv, u32 *bad)
{
	u32 i, spins, lost = 0;
	bool absent;
	u64 clock;

restart:
	spins = 0;
	absent = false;
	rcu_read_lock();
	clock = at ? *rv : atomic64_read(&s->clock);
	smp_rmb();	/* the clock before any key */
	stm_debug_delay(STM_DBG_SNAPSHOT, true);
	for (i = 0; i < n; i++) {
		struct stm_key *k = stm_key_lookup(s, &rs[i].kr);

		if (!k) {
			absent = true;
			rs[i].ver = 0;
			rs[i].val = NULL;
			rs[i].present = false;
			continue;
		}
		while (!stm_key_snap(k, &rs[i], values)) {
			if (++spins > STM_SPIN)
				goto retry;
			cpu_relax();
		}
		if (rs[i].ver > clock) {
			if (at) {
				*bad = i;
				goto stale;
			}
			goto retry;
		}
		if (!rs[i].present) {
			absent = true;
			rs[i].ver = 0;
		}
	}
	smp_rmb();	/* keys before the delete clock */
	if (absent && (u64)atomic64_read(&s->del_clock) > clock) {
		if (at) {
			/* A delete since @clock may hide a key we saw absent. */
			for (i = 0; i < n && rs[i].present; i++)
				;
			*bad = i;
			goto stale;
		}
		goto retry;
	}
	rcu_read_unlock();
	*rv = clock;
	return 0;

stale:
	rcu_read_unlock();
	stm_rslots_put(rs, n);
	return -ESTALE;
retry:
	/* Lost to a commit: every lost round may sleep and is counted. */
	rcu_read_unlock();
	stm_rslots_put(rs, n);
	if (fatal_signal_pending(current))
		return -EINTR;
	cond_resched();
	if (++lost < STM_SNAP_ROUNDS)
		goto restart;
	return stm_snapshot_locked(s, rs, n, at, values, rv, bad);
}
