// SPDX-License-Identifier: GPL-2.0
/*
 * COMMIT: the transactional core.  See stm.h for the protocol; in short,
 * a commit locks its write set in (hash, length, bytes) order, validates,
 * takes a clock value, publishes and unlocks.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include "stm.h"
#include "debug.h"
#include "stm_trace.h"

/* Internal: drop every lock and start the commit over. */
#define STM_BACKOFF	1
/* Internal: drop every lock, wait for another fd's reservation to end. */
#define STM_RESERVED	2


/* One entry of a commit, in kernel form. */
struct stm_went {
	struct stm_kref kr;
	u32 idx;		/* in the user's array */
	u16 op;
	u16 flags;
	u64 expect;		/* expected version */
	struct stm_val *nval;	/* PUT over STM_INLINE_MAX: the value */
	u32 vlen;		/* PUT/ADD: the new value's length */
	u8 small[STM_INLINE_MAX]; /* PUT/ADD up to STM_INLINE_MAX: the bytes */
	s64 delta;		/* ADD */
	s64 min, max;		/* ADD with STMDEV_CENT_BOUND: the bounds */
	s64 result;		/* ADD: the value published */
	struct stm_key *fresh;	/* a placeholder ready for an absent key */
	struct stm_key *k;	/* the key, locked (writes) */
	u64 lv;			/* k->lockver before we locked it */
	bool inserted;		/* k is our placeholder */
	/* READ + FETCH: the value the commit replaces, for the caller */
	struct stm_went *pair;	/* the write entry of the same key */
	u64 uaddr;		/* where it goes */
	u32 cap;		/* room there */
	u32 olen;		/* its length */
	u64 over;		/* its version (0: absent) */
	struct stm_val *pin;	/* a heap value, pinned; else in small[] */
};

static bool stm_went_fetches(const struct stm_went *r)
{
	return r->op == STMDEV_OP_READ && r->flags & STMDEV_CENT_FETCH;
}

/*
 * An entry's key and place in the user's array: what the entries are
 * sorted by, before the rest of each is loaded in sorted order.  Sorting
 * these rather than the entries moves 24 bytes a step instead of ~170.
 */
struct stm_wkey {
	struct stm_kref kr;
	u32 idx;
};

static int stm_wkey_cmp(const void *a, const void *b)
{
	return stm_kref_cmp(&((const struct stm_wkey *)a)->kr,
			    &((const struct stm_wkey *)b)->kr);
}

/*
 * A commit has few entries: insertion sort, with no call through a
 * pointer, costs less than sort()'s setup for them, and nothing when they
 * come sorted; many take sort().  True when a key repeats.
 */
#define STM_SORT_SMALL	16

static bool stm_wkey_sort_n(struct stm_wkey *k, u32 n)
{
	struct stm_wkey t;
	u32 i, j;

	if (n > STM_SORT_SMALL) {
		sort(k, n, sizeof(*k), stm_wkey_cmp, NULL);
	} else {
		for (i = 1; i < n; i++) {
			if (stm_kref_cmp(&k[i - 1].kr, &k[i].kr) <= 0)
				continue;
			t = k[i];
			for (j = i; j && stm_kref_cmp(&k[j - 1].kr, &t.kr) > 0; j--)
				k[j] = k[j - 1];
			k[j] = t;
		}
	}
	for (i = 1; i < n; i++)
		if (!stm_kref_cmp(&k[i - 1].kr, &k[i].kr))
			return true;
	return false;
}

static bool stm_wkey_sort(struct stm_wkey *k, u32 n)
{
	return n > 1 && stm_wkey_sort_n(k, n);
}

struct stm_commit_ctx {
	struct stm_store *s;
	struct stm_file *f;	/* its reservation lets it pass (reserve.c) */
	u64 resv_until;		/* STM_RESERVED: that reservation's expiry */
	u32 resv_gen;		/* and the store's count of ended ones */
	struct stm_went *w;	/* write entries, sorted */
	u32 nw;
	struct stm_went *r;	/* READ entries, sorted */
	u32 nr;
	struct stm_went *g;	/* RANGE entries (range.c), sorted */
	u32 ng;
	u32 nchk;		/* writes with STMDEV_CENT_CHECK */
	struct stm_rctx rc;	/* the ranges its writes lock */
	bool nonblock;		/* EBUSY rather than wait for a lock */
	bool nowait;		/* io_uring inline issue: EAGAIN to wait */
	u32 conflict;		/* user index of the first conflict */
	struct stm_key *wait;	/* key we found locked */
	struct stm_went *need;	/* entry that needs a placeholder */
	u32 nfetch;		/* READ + FETCH entries */
	s64 dkeys;		/* what stm_charge() charged */
	s64 dbytes;
	s64 dmem;
	u64 version;
	struct stm_went *fault;	/* a fetch whose room faulted */
	u64 rmax;		/* newest version the validation saw */
	bool absent;		/* it saw a READ entry's key absent */
	/* For the trace: the conflicting (or busy) key, as the caller saw it */
	const struct stm_kref *hot;
	u64 hot_expect;
	u64 hot_cur;
};

/* Release every lock the commit holds, dropping placeholders. */
static void stm_unlock_all(struct stm_commit_ctx *c)
{
	u32 i;

	for (i = 0; i < c->nw; i++) {
		struct stm_went *w = &c->w[i];

		if (!w->k)
			continue;
		if (w->inserted) {
			stm_key_remove(c->s, w->k);
			/* Unlock after the unlink: readers then see it dead. */
			smp_store_release(&w->k->lockver, 0);
			stm_key_free(c->s, w->k);
			w->inserted = false;
		} else {
			/* Unlock, version unchanged. */
			smp_store_release(&w->k->lockver, w->lv);
		}
		w->k = NULL;
	}
	if (c->rc.held)
		stm_range_unlock(c->s, &c->rc, 0);
}

/*
 * Lock the write set in order.  Returns 0, STM_BACKOFF when the commit must back
 * off (c->wait locked by another, or c->need lacks a placeholder), or an
 * error.  Caller is in an RCU read-side section with preemption disabled.
 * Every look at a key that fails (locked, a lost cmpxchg, a dead key) counts
 * toward STM_SPIN, so one call is bounded however the key churns.
 */
static int stm_lock_writes(struct stm_commit_ctx *c)
{
	struct stm_key *k, *old;
	u32 i, spins;
	u64 lv;

	for (i = 0; i < c->nw; i++) {
		struct stm_went *w = &c->w[i];

		spins = 0;
again:
		k = stm_key_lookup(c->s, &w->kr);
		if (!k) {
			if (!w->fresh) {
				c->need = w;
				return STM_BACKOFF;
			}
			old = stm_key_insert(c->s, w->fresh);
			if (IS_ERR(old))
				return -ENOMEM;	/* not its -EBUSY: ours means locked */
			if (!old) {
				w->k = w->fresh;
				w->fresh = NULL;
				w->inserted = true;
				w->lv = 0;
				continue;
			}
			k = old;
		}
		lv = READ_ONCE(k->lockver);
		if (lv & STM_LOCKED) {
			c->hot = &w->kr;
			if (c->nonblock)
				return -EBUSY;
			goto busy;
		}
		if (cmpxchg_acquire(&k->lockver, lv, lv | STM_LOCKED) != lv)
			goto busy;
		if (READ_ONCE(k->dead)) {
			/* Dead: unlock it and look the key up again. */
			smp_store_release(&k->lockver, lv);
			goto busy;
		}
		w->k = k;
		w->lv = lv;
		continue;
busy:
		if (++spins > STM_SPIN) {
			c->wait = k;
			return STM_BACKOFF;
		}
		cpu_relax();
		goto again;
	}
	return 0;
}

/*
 * With the write set locked: does another fd's reservation hold one of
 * its keys?  0, -EBUSY, or STM_RESERVED to wait for it (reserve.c).
 */
static int stm_resv_writes(struct stm_commit_ctx *c)
{
	int i;

	if (!c->nw || !stm_resv_any(c->s))
		return 0;
	i = stm_resv_check(c->s, c->f, &c->w[0].kr, sizeof(*c->w), c->nw,
			   &c->resv_until, &c->resv_gen);
	if (i < 0)
		return 0;
	c->hot = &c->w[i].kr;
	return c->nonblock ? -EBUSY : STM_RESERVED;
}

/* Current version of a key we hold locked (0 when absent). */
static u64 stm_held_version(const struct stm_went *w)
{
	return w->k->state != STM_ABSENT ? stm_version(w->lv) : 0;
}

/* Does the entry write a value (PUT or ADD), as opposed to deleting? */
static bool stm_went_puts(const struct stm_went *w)
{
	return w->op == STMDEV_OP_PUT || w->op == STMDEV_OP_ADD;
}

/* Does the write create (absent -> value) or delete (value -> absent) its key? */
static bool stm_went_flips(const struct stm_went *w)
{
	return (w->k->state == STM_ABSENT) == stm_went_puts(w);
}

/*
 * Lock the declared ranges whose membership the writes change, after the
 * keys (range.c): same returns as stm_lock_writes().  Same caller context.
 */
static int stm_lock_ranges(struct stm_commit_ctx *c)
{
	u32 i;

	c->rc.want = 0;
	c->rc.need = 0;
	c->rc.dmem = 0;
	for (i = 0; i < c->nw; i++)
		if (stm_went_flips(&c->w[i]))
			stm_range_note(c->s, &c->rc, &c->w[i].kr,
				       stm_went_puts(&c->w[i]));
	/* Most commits touch no declared range: no call then. */
	return c->rc.want ? stm_range_lock(c->s, &c->rc, c->nonblock) : 0;
}

/* Entry @w conflicts: the key's version is @cur. */
static void stm_conflict(struct stm_commit_ctx *c, const struct stm_went *w,
			 u64 cur)
{
	if (w->idx >= c->conflict)
		return;
	c->conflict = w->idx;
	c->hot = &w->kr;
	c->hot_expect = w->expect;
	c->hot_cur = cur;
}

/* The checked writes: each held key still at the version expected? */
static inline void stm_validate_writes(struct stm_commit_ctx *c)
{
	u32 i;

	for (i = 0; c->nchk && i < c->nw; i++)
		if (c->w[i].flags & STMDEV_CENT_CHECK &&
		    stm_held_version(&c->w[i]) != c->w[i].expect)
			stm_conflict(c, &c->w[i], stm_held_version(&c->w[i]));
}

/*
 * Validate the read set and the checked writes, after the clock was taken.
 * Returns 0, -ESTALE (c->conflict set), -EBUSY or STM_BACKOFF (c->wait).
 */
static int stm_validate_all(struct stm_commit_ctx *c)
{
	u32 i, j = 0;
	int cmp;

	c->rmax = 0;
	c->absent = false;
	if (!c->nw)
		stm_debug_delay(STM_DBG_COMMIT_RO_CLOCK, true);
	stm_validate_writes(c);

	for (i = 0; i < c->nr; i++) {
		struct stm_went *r = &c->r[i];
		struct stm_rslot snap;
		struct stm_key *k;
		u64 cur;

		/* Both lists are sorted alike: find r among the writes. */
		cmp = 1;
		while (j < c->nw && (cmp = stm_kref_cmp(&c->w[j].kr, &r->kr)) < 0)
			j++;
		if (j < c->nw && !cmp) {
			cur = stm_held_version(&c->w[j]);
		} else {
			k = stm_key_lookup(c->s, &r->kr);
			cur = 0;
			if (k && !stm_key_snap(k, &snap, false)) {
				c->hot = &r->kr;
				if (c->nonblock)
					return -EBUSY;
				c->wait = k;
				return STM_BACKOFF;
			}
			if (k && snap.present)
				cur = snap.ver;
			/* A dead key's version is its delete's clock. */
			if (k)
				c->rmax = max(c->rmax, snap.ver);
			c->absent |= !cur;
		}
		if (stm_went_fetches(r) && !(r->flags & STMDEV_CENT_CHECK))
			continue;	/* a fetch need not validate */
		if (cur != r->expect)
			stm_conflict(c, r, cur);
	}

	/* RANGE entries: no key under the prefix created or deleted since. */
	for (i = 0; i < c->ng; i++) {
		struct stm_went *g = &c->g[i];
		u64 cur;

		if (stm_range_seen(c->s, &c->rc, &g->kr, &cur)) {
			c->hot = &g->kr;
			return c->nonblock ? -EBUSY : STM_BACKOFF;
		}
		c->rmax = max(c->rmax, cur);
		if (cur != g->expect)
			stm_conflict(c, g, cur);
	}
	return c->conflict == STMDEV_NO_CONFLICT ? 0 : -ESTALE;
}

/*
 * Writes alone, the common commit, validate inline: blind ones (a bank's
 * bounded ADDs) have nothing to check, checked ones their held versions.
 */
static int stm_validate(struct stm_commit_ctx *c)
{
	if (!c->nw || c->nr || c->ng)
		return stm_validate_all(c);
	stm_validate_writes(c);
	return c->conflict == STMDEV_NO_CONFLICT ? 0 : -ESTALE;
}

/*
 * Capture, for each READ + FETCH entry, the value its key's write is about
 * to replace (the key is ours, locked), and copy it to the entry's room
 * before anything is published, so that a room we cannot write fails the
 * commit rather than losing the value.  -E2BIG when one does not fit;
 * -EFAULT (c->fault set) when a room's page is not mapped in writable: we
 * cannot fault here, so the caller faults it in and runs the commit again.
 */
static int stm_fetch(struct stm_commit_ctx *c)
{
	int err = 0;
	u32 i;

	for (i = 0; i < c->nr; i++) {
		struct stm_went *r = &c->r[i];
		struct stm_key *k;
		const void *data;

		if (!stm_went_fetches(r))
			continue;
		k = r->pair->k;
		if (r->pin)
			stm_val_put(r->pin);
		r->pin = NULL;
		r->olen = 0;
		if (k->state == STM_INLINE) {
			r->olen = k->ilen;
			memcpy(r->small, k->inl, r->olen);
		} else if (k->state == STM_HEAP) {
			r->pin = rcu_dereference_protected(k->val, 1);
			refcount_inc(&r->pin->ref);
			r->olen = r->pin->len;
		}
		r->over = stm_held_version(r->pair);
		if (r->olen > r->cap) {
			err = -E2BIG;
			continue;
		}
		if (err || !r->olen)
			continue;
		data = r->pin ? r->pin->data : r->small;
		if (copy_to_user_nofault(u64_to_user_ptr(r->uaddr), data,
					 r->olen)) {
			c->fault = r;
			err = -EFAULT;
		}
	}
	return err;
}

/*
 * Key table buckets follow the key count (stm_table_resize() after the
 * commit), so each commit that changes the count brings the charge up to date
 * (including a growth the new count will cause).
 */
void stm_charge_table(struct stm_store *s)
{
	s64 now = stm_table_cost(s, atomic64_read(&s->nkeys));
	s64 d = now - atomic64_xchg(&s->tbl_mem, now);

	if (d) {
		atomic64_add(d, &s->owner->mem);
		atomic64_add(d, &s->mem);
	}
}

/*
 * An ADD's result onto @x (the key is ours, locked).  A bounded ADD
 * (STMDEV_CENT_BOUND) whose exact sum leaves [min, max] -- an int64
 * overflow always does -- gives false; a plain one wraps.
 */
static bool stm_add_result(struct stm_went *w, s64 x)
{
	if (!(w->flags & STMDEV_CENT_BOUND)) {
		w->result = (s64)((u64)x + (u64)w->delta);
		return true;
	}
	return !check_add_overflow(x, w->delta, &w->result) &&
	       w->result >= w->min && w->result <= w->max;
}

/*
 * Charge the store and its owner for the commit's writes: ENOSPC past a
 * per-store limit, EDQUOT past a per-user one, EINVAL for an ADD onto a
 * value that is not 8 bytes, ERANGE for a bounded ADD out of its bounds
 * (c->conflict set to the first such entry, EINVAL's first).
 */
static int stm_charge(struct stm_commit_ctx *c)
{
	struct stm_store *s = c->s;
	s64 dkeys = 0, dbytes = 0, dmem = 0;
	u32 i, range = STMDEV_NO_CONFLICT;
	int err = -ENOSPC;

	for (i = 0; i < c->nw; i++) {
		struct stm_went *w = &c->w[i];
		struct stm_key *k = w->k;
		struct stm_val *heap = rcu_dereference_protected(k->val, 1);
		const u8 *old = NULL;
		u32 olen = 0;

		if (k->state == STM_INLINE) {
			old = k->inl;
			olen = k->ilen;
		} else if (k->state == STM_HEAP) {
			old = heap->data;
			olen = heap->len;
		}
		if (w->op == STMDEV_OP_ADD) {
			s64 x = 0;

			if (old && olen != sizeof(u64)) {
				stm_conflict(c, w, stm_held_version(w));
				continue;
			}
			if (old)
				x = (s64)get_unaligned_le64(old);
			if (!stm_add_result(w, x)) {
				range = min(range, w->idx);
				continue;
			}
			put_unaligned_le64((u64)w->result, w->small);
		}
		if (old && stm_went_puts(w) && olen == w->vlen)
			continue;	/* same size: nothing changes */
		if (old) {
			dkeys--;
			dbytes -= w->kr.len + olen;
			dmem -= stm_key_cost(w->kr.len) + stm_val_cost(olen);
		}
		if (stm_went_puts(w)) {
			dkeys++;
			dbytes += w->kr.len + w->vlen;
			dmem += stm_key_cost(w->kr.len) + stm_val_cost(w->vlen);
		}
	}
	/* ADD onto a value that is not 8 bytes: the first such entry. */
	if (c->conflict != STMDEV_NO_CONFLICT)
		return -EINVAL;
	if (range != STMDEV_NO_CONFLICT) {
		c->conflict = range;
		return -ERANGE;
	}
	dmem += c->rc.dmem;	/* range member records (range.c) */
	c->dkeys = dkeys;
	c->dbytes = dbytes;
	c->dmem = dmem;
	/* A same-size overwrite, the common case, touches no shared counter. */
	if (!dkeys && !dbytes && !dmem)
		return 0;
	if (!stm_charge_add(&s->nkeys, dkeys, READ_ONCE(stm_max_keys_per_store))) {
		trace_stm_quota(s->uid, STM_LIMIT_KEYS_STORE, dkeys, err);
		return -ENOSPC;
	}
	if (!stm_charge_add(&s->nbytes, dbytes, READ_ONCE(stm_max_bytes_per_store))) {
		trace_stm_quota(s->uid, STM_LIMIT_BYTES_STORE, dbytes, err);
		goto out_keys;
	}
	err = stm_user_charge(s->owner, dkeys, dmem);
	if (err)
		goto out_bytes;
	atomic64_add(dmem, &s->mem);
	if (dkeys)
		stm_charge_table(s);
	return 0;

out_bytes:
	atomic64_sub(dbytes, &s->nbytes);
out_keys:
	atomic64_sub(dkeys, &s->nkeys);
	return err;
}

/* Undo a successful stm_charge(); the table's charge catches up later. */
static void stm_uncharge(struct stm_commit_ctx *c)
{
	if (!c->dkeys && !c->dbytes && !c->dmem)
		return;
	stm_user_charge(c->s->owner, -c->dkeys, -c->dmem);
	atomic64_sub(c->dmem, &c->s->mem);
	atomic64_sub(c->dbytes, &c->s->nbytes);
	atomic64_sub(c->dkeys, &c->s->nkeys);
}

static void stm_del_clock_max(struct stm_store *s, u64 wv)
{
	s64 cur = atomic64_read(&s->del_clock);

	while ((u64)cur < wv && !atomic64_try_cmpxchg(&s->del_clock, &cur, wv))
		;
}

/* Publish the writes at version @wv and release every lock. */
static void stm_apply(struct stm_commit_ctx *c, u64 wv)
{
	u32 i;

	/*
	 * The lock bits before the values: cmpxchg_acquire() orders what
	 * follows its load, not its store, so on arm64 or POWER a reader
	 * could otherwise see the new bytes between two reads of the old,
	 * unlocked version word.  The seqlock writer's smp_wmb(); pairs with
	 * the smp_rmb() in stm_key_snap().  (Found by reading around the
	 * userspace build's TSan report.)
	 */
	smp_wmb();
	/* Range members first, while each key's state is still the old one. */
	for (i = 0; c->rc.held && i < c->nw; i++)
		if (stm_went_flips(&c->w[i]))
			stm_range_member(c->s, &c->rc, c->w[i].k,
					 stm_went_puts(&c->w[i]));
	for (i = 0; i < c->nw; i++) {
		struct stm_went *w = &c->w[i];
		struct stm_key *k = w->k;
		struct stm_val *old = NULL;

		if (k->state == STM_HEAP)
			old = rcu_dereference_protected(k->val, 1);
		if (w->nval) {
			rcu_assign_pointer(k->val, w->nval);
			WRITE_ONCE(k->state, STM_HEAP);
			w->nval = NULL;
		} else if (stm_went_puts(w)) {
			memcpy(k->inl, w->small, w->vlen);
			WRITE_ONCE(k->ilen, w->vlen);
			WRITE_ONCE(k->state, STM_INLINE);
			RCU_INIT_POINTER(k->val, NULL);
		}
		if (stm_went_puts(w)) {
			w->inserted = false;
			/* Value, then version + unlock: see stm_key_snap(). */
			smp_store_release(&k->lockver, wv << 1);
		} else {
			if (k->state != STM_ABSENT) {
				stm_del_clock_max(c->s, wv);
				smp_wmb();	/* delete clock before unlinking */
			}
			stm_key_remove(c->s, k);
			/* Dead and unlinked, then version + unlock. */
			smp_store_release(&k->lockver, wv << 1);
			stm_key_free(c->s, k);
			w->inserted = false;
			old = NULL;	/* freed with the key */
		}
		if (old)
			stm_val_put(old);
		w->k = NULL;
	}
	/* The keys before the ranges' versions: see stm_range_walk(). */
	if (c->rc.held)
		stm_range_unlock(c->s, &c->rc, wv);
}

/* Ready a placeholder for every write whose key is absent now.  May sleep. */
static int stm_prepare_fresh(struct stm_commit_ctx *c)
{
	struct stm_key *k;
	u32 i;

	for (i = 0; i < c->nw; i++) {
		struct stm_went *w = &c->w[i];

		if (w->fresh)
			continue;
		rcu_read_lock();
		k = stm_key_lookup(c->s, &w->kr);
		rcu_read_unlock();
		if (k && w != c->need)
			continue;
		w->fresh = stm_key_alloc(c->s, &w->kr);
		if (!w->fresh)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Lock, validate, apply; back off and start over while contended.  Each
 * pass is bounded (stm_lock_writes()) and holds nothing when it backs off;
 * every back-off rests (cond_resched()) and returns on a signal, so a
 * commit can always be killed.  Progress: every holder takes keys in one
 * order and waits, if at all, only for a key after those it holds (a
 * commit never waits holding; a reader's locked snapshot, snapshot.c,
 * does), so no cycle forms and some commit on the keys always finishes.
 */
static int stm_commit_run(struct stm_commit_ctx *c)
{
	u64 wv, c0;
	int err;

	/* Placeholders for absent keys are made when the first pass asks. */
	for (;;) {
		c->wait = NULL;
		c->need = NULL;
		c->conflict = STMDEV_NO_CONFLICT;
		rcu_read_lock();
		preempt_disable();
		err = stm_lock_writes(c);
		if (!err)
			err = stm_resv_writes(c);
		if (!err)
			err = stm_lock_ranges(c);
		if (!err) {
			stm_debug_delay(STM_DBG_COMMIT_LOCKED, true);
			wv = atomic64_read(&c->s->clock);
			smp_rmb();	/* the clock before the versions */
			err = stm_validate(c);
		}
		if (!err && c->nw)
			err = stm_charge(c);
		if (!err && c->nfetch) {
			err = stm_fetch(c);
			if (err)
				stm_uncharge(c);
		}
		if (!err && c->nw) {
			/*
			 * TL2 takes the write version after the locks and
			 * validates after it.  We validated first, so that a
			 * conflict leaves the clock alone; if no commit took a
			 * clock value since, that validation stands, else a
			 * commit that serializes before us may have written
			 * what we read: validate again.
			 */
			c0 = wv;
			wv = atomic64_inc_return(&c->s->clock);
			if (wv != c0 + 1) {
				err = stm_validate(c);
				if (err)
					stm_uncharge(c);
			}
		}
		if (!err) {
			stm_apply(c, wv);
			c->version = wv;
		} else {
			stm_unlock_all(c);
		}
		preempt_enable();
		rcu_read_unlock();
		if (err == STM_RESERVED) {
			/* io_uring reissues from a worker, which may sleep. */
			err = c->nowait ? -EAGAIN :
			      stm_resv_wait(c->s, c->resv_until, c->resv_gen);
			if (err)
				return err;
			continue;
		}
		if (err != STM_BACKOFF)
			return err;
		if (c->need || c->rc.npool < c->rc.need) {
			/*
			 * Only allocation, but keys may keep vanishing under
			 * churn: each pass may still sleep and be killed.
			 */
			if (fatal_signal_pending(current))
				return -EINTR;
			err = stm_prepare_fresh(c);
			if (!err)
				err = stm_range_prepare(&c->rc);
			if (err)
				return err;
			cond_resched();
			continue;
		}
		/* A key is held by another commit: wait for it. */
		if (c->nowait)
			return -EAGAIN;	/* io_uring reissues from a worker */
		/*
		 * Not -EINTR: io_uring task work also raises signal_pending()
		 * (TIF_NOTIFY_SIGNAL).  -ERESTARTSYS lets the syscall exit run
		 * that work and restart us, and becomes EINTR only for a real
		 * signal whose handler does not restart.
		 */
		if (signal_pending(current))
			return -ERESTARTSYS;
		cond_resched();
	}
}

/*
 * An ADD's input: the delta, then with STMDEV_CENT_BOUND the bounds; the
 * value it publishes is 8 bytes.
 */
static int stm_went_load_add(struct stm_went *w,
			     const struct stmdev_commit_ent *e)
{
	__le64 in[3];

	if (stm_copy_in(in, u64_to_user_ptr(e->val_addr), e->val_len))
		return -EFAULT;
	w->vlen = sizeof(u64);
	w->delta = (s64)le64_to_cpu(in[0]);
	if (e->flags & STMDEV_CENT_BOUND) {
		w->min = (s64)le64_to_cpu(in[1]);
		w->max = (s64)le64_to_cpu(in[2]);
		if (w->min > w->max)
			return -EINVAL;
	}
	/* The result must be deliverable before anything is written. */
	if (e->flags & STMDEV_CENT_FETCH &&
	    copy_to_user(u64_to_user_ptr(e->val_addr), in, sizeof(in[0])))
		return -EFAULT;
	return 0;
}

/* An entry's fields alone: -EINVAL (or -E2BIG) before anything is copied. */
static int stm_went_check(const struct stmdev_commit_ent *e)
{
	if (e->op == STMDEV_OP_RANGE)
		return e->reserved || e->flags || e->val_len ? -EINVAL : 0;
	if (e->reserved || e->op > STMDEV_OP_ADD ||
	    e->flags & ~(STMDEV_CENT_CHECK | STMDEV_CENT_FETCH |
			 STMDEV_CENT_BOUND))
		return -EINVAL;
	if (e->flags & STMDEV_CENT_BOUND && e->op != STMDEV_OP_ADD)
		return -EINVAL;
	if (e->flags & STMDEV_CENT_FETCH &&
	    e->op != STMDEV_OP_ADD && e->op != STMDEV_OP_READ)
		return -EINVAL;
	if (e->op == STMDEV_OP_DEL && e->val_len)
		return -EINVAL;
	if (e->op == STMDEV_OP_READ && e->val_len && !(e->flags & STMDEV_CENT_FETCH))
		return -EINVAL;
	if (e->op == STMDEV_OP_ADD &&
	    e->val_len != (e->flags & STMDEV_CENT_BOUND ? 3 : 1) * sizeof(u64))
		return -EINVAL;
	if (e->op == STMDEV_OP_PUT && e->val_len > READ_ONCE(stm_max_value_size))
		return -E2BIG;
	return 0;
}

/* The rest of a checked entry whose key @w has: its operands and value. */
static int stm_went_load(struct stm_went *w, const struct stmdev_commit_ent *e)
{
	u8 *data;

	w->op = e->op;
	w->flags = e->flags;
	w->expect = e->version;
	if (stm_went_fetches(w)) {
		w->uaddr = e->val_addr;
		w->cap = e->val_len;
		/* The value's room must be writable before anything is. */
		if (w->cap && (put_user(0, (u8 __user *)u64_to_user_ptr(w->uaddr)) ||
			       put_user(0, (u8 __user *)u64_to_user_ptr(w->uaddr) +
					   w->cap - 1)))
			return -EFAULT;
		return 0;
	}
	if (w->op == STMDEV_OP_ADD)
		return stm_went_load_add(w, e);
	if (!stm_went_puts(w))
		return 0;
	w->vlen = e->val_len;
	data = w->small;
	if (w->vlen > STM_INLINE_MAX) {
		w->nval = stm_val_alloc(w->vlen);
		if (!w->nval)
			return -ENOMEM;
		data = w->nval->data;
	}
	if (stm_copy_in(data, u64_to_user_ptr(e->val_addr), w->vlen))
		return -EFAULT;
	return 0;
}

/* A RANGE entry: the prefix of a declared range and its version seen. */
static int stm_went_load_range(struct stm_store *s, struct stm_went *w,
			       const struct stmdev_commit_ent *e)
{
	if (!stm_range_declared(s, &w->kr))
		return -EINVAL;
	w->op = e->op;
	w->expect = e->version;
	return 0;
}

static void stm_went_release(struct stm_store *s, struct stm_went *w)
{
	if (w->pin)
		stm_val_put(w->pin);
	if (w->nval)
		stm_val_put(w->nval);
	if (w->fresh)
		stm_key_free(s, w->fresh);
}

/*
 * Each READ + FETCH entry names a key the commit also writes: find that
 * write, and make sure the entry's outputs can be written back.
 */
static int stm_pair_fetches(struct stm_commit_ctx *c,
			    struct stmdev_commit_ent __user *uents,
			    const struct stmdev_commit_ent *ents)
{
	u32 i, j = 0;
	int cmp = 1;

	for (i = 0; i < c->nr; i++) {
		struct stm_went *r = &c->r[i];

		if (!stm_went_fetches(r))
			continue;
		while (j < c->nw && (cmp = stm_kref_cmp(&c->w[j].kr, &r->kr)) < 0)
			j++;
		if (j == c->nw || cmp)
			return -EINVAL;
		r->pair = &c->w[j];
		c->nfetch++;
		if (put_user(ents[r->idx].version, &uents[r->idx].version) ||
		    put_user(ents[r->idx].val_len, &uents[r->idx].val_len))
			return -EFAULT;
	}
	return 0;
}

/*
 * Hand each fetched value's version and length back (stm_fetch() copied
 * its bytes).  The fields were checked writable by stm_pair_fetches().
 */
static int stm_fetch_out(struct stm_commit_ctx *c,
			 struct stmdev_commit_ent __user *uents)
{
	int err = 0;
	u32 i;

	for (i = 0; i < c->nr; i++) {
		struct stm_went *r = &c->r[i];

		if (!stm_went_fetches(r))
			continue;
		if (put_user(r->over, &uents[r->idx].version) ||
		    put_user(r->olen, &uents[r->idx].val_len))
			err = -EFAULT;
	}
	return err;
}

/*
 * Did a read-only commit's reads hold at the clock it read first, its
 * version?  Not if it saw a newer version, or saw a key absent while a
 * delete newer than that clock may have removed it (as in stm_snapshot()).
 */
static bool stm_reads_held(struct stm_commit_ctx *c)
{
	if (c->rmax > c->version)
		return false;
	smp_rmb();	/* the keys before the delete clock */
	return !c->absent ||
	       (u64)atomic64_read(&c->s->del_clock) <= c->version;
}

/*
 * stm_commit_run(), again while a fetch's room needs faulting in or a
 * read-only commit's reads did not hold at its clock.
 */
static int stm_commit_retry(struct stm_commit_ctx *c)
{
	int err;

	for (;;) {
		c->fault = NULL;
		err = stm_commit_run(c);
		if (err == -EFAULT && c->fault) {
			if (fault_in_writeable(u64_to_user_ptr(c->fault->uaddr),
					       c->fault->olen))
				return -EFAULT;
		} else if (err || c->nw || stm_reads_held(c)) {
			return err;
		}
		if (signal_pending(current))
			return -ERESTARTSYS;	/* see stm_commit_run() */
		cond_resched();
	}
}

int stm_commit(struct stm_file *f, struct stmdev_commit *cm, unsigned int how)
{
	struct stm_commit_ctx c = { .s = f->store, .f = f };
	struct stm_family *fam = NULL;
	struct stmdev_commit_ent __user *uents = u64_to_user_ptr(cm->entries);
	struct stm_scratch sc;
	struct stmdev_commit_ent *ents;
	struct stm_went *all;
	struct stm_wkey *wk;
	u32 i, iw, ir, ig, *pos, n = cm->count;
	bool dup;
	u8 *cur;
	u64 t0 = trace_stm_commit_enabled() ? ktime_get_ns() : 0;
	int err;

	cm->conflict = STMDEV_NO_CONFLICT;
	if (cm->flags & ~(STMDEV_COMMIT_NONBLOCK | STMDEV_COMMIT_RETRY) ||
	    cm->reserved[0] || cm->reserved[1])
		return -EINVAL;
	if (n > READ_ONCE(stm_max_keys_per_call))
		return -E2BIG;
	if (cm->family) {
		fam = stm_family_get(c.s, cm->family);
		if (!fam)
			return -EINVAL;
		atomic64_inc(&fam->attempts);
		if (cm->flags & STMDEV_COMMIT_RETRY)
			atomic64_inc(&fam->retries);
	}
	c.nonblock = (f->flags & STMDEV_ATTACH_NONBLOCK) ||
		     (cm->flags & STMDEV_COMMIT_NONBLOCK);
	c.nowait = how & STM_NOWAIT;

	stm_scratch_begin(&sc);
	err = stm_load_request(&sc, cm->entries, n, sizeof(*ents),
			       offsetof(struct stmdev_commit_ent, key_len),
			       sizeof(*all) + sizeof(*wk) + sizeof(*pos),
			       (void **)&ents, (void **)&all);
	if (err)
		goto out_free;
	memset(all, 0, array_size(n, sizeof(*all)));
	wk = (struct stm_wkey *)(all + n);
	pos = (u32 *)(wk + n);
	cur = (u8 *)(pos + n);

	/*
	 * Writes first, READ entries after them, RANGE entries last (range.c),
	 * each group in key order: check each entry and copy its key, sort
	 * the keys, then load the rest of each into its place.  Checks and
	 * loads go in the user's order, so that which error a request with
	 * several gets does not depend on the store's hash seed: every
	 * entry's fields and key, then every value, then duplicate keys.
	 */
	for (i = 0; i < n; i++)
		if (ents[i].op == STMDEV_OP_RANGE)
			c.ng++;
		else if (ents[i].op != STMDEV_OP_READ)
			c.nw++;
	err = -EBADF;
	if (c.nw && (f->flags & STMDEV_ATTACH_RDONLY))
		goto out_free;
	c.nr = n - c.nw - c.ng;
	c.w = all;
	c.r = all + c.nw;
	c.g = all + n - c.ng;
	for (i = 0, iw = 0, ir = c.nw, ig = n - c.ng; i < n; i++) {
		struct stm_wkey *k;

		err = stm_went_check(&ents[i]);
		if (err)
			goto out_free;
		if (ents[i].op == STMDEV_OP_RANGE)
			k = &wk[ig++];
		else if (ents[i].op == STMDEV_OP_READ)
			k = &wk[ir++];
		else
			k = &wk[iw++];
		k->idx = i;
		err = stm_copy_key(c.s, &k->kr, &cur, ents[i].key_addr,
				   ents[i].key_len);
		if (err)
			goto out_free;
	}
	/* Each group sorted, whatever the others hold. */
	dup = stm_wkey_sort(wk, c.nw);
	dup = stm_wkey_sort(wk + c.nw, c.nr) || dup;
	dup = stm_wkey_sort(wk + n - c.ng, c.ng) || dup;
	for (i = 0; i < n; i++) {
		all[i].kr = wk[i].kr;
		all[i].idx = wk[i].idx;
		pos[wk[i].idx] = i;
	}
	for (i = 0; i < n; i++) {
		struct stm_went *w = &all[pos[i]];

		if (pos[i] >= n - c.ng)
			err = stm_went_load_range(c.s, w, &ents[i]);
		else
			err = stm_went_load(w, &ents[i]);
		if (err)
			goto out_release;
		if (pos[i] < c.nw && w->flags & STMDEV_CENT_CHECK)
			c.nchk++;
	}
	err = -EINVAL;
	if (dup)
		goto out_release;
	err = stm_pair_fetches(&c, uents, ents);
	if (err)
		goto out_release;

	err = stm_commit_retry(&c);
	if (err == -ESTALE) {
		cm->conflict = c.conflict;
		trace_stm_conflict(c.s, c.hot, c.conflict, c.hot_expect, c.hot_cur);
		stm_stat_inc(c.s, conflicts);
		if (fam)
			atomic64_inc(&fam->conflicts);
	} else if (err == -EBUSY) {
		trace_stm_busy(c.s, c.hot);
		stm_stat_inc(c.s, busy);
		if (fam)
			atomic64_inc(&fam->busy);
	} else if ((err == -EINVAL || err == -ERANGE) &&
		   c.conflict != STMDEV_NO_CONFLICT) {
		/* ADD on a non-8-byte value; bounded ADD out of bounds */
		cm->conflict = c.conflict;
	}
	if (err == -E2BIG && c.nfetch)
		stm_fetch_out(&c, uents);	/* the room needed */
	if (err)
		goto out_release;
	if (READ_ONCE(f->resv))		/* no call in the common case */
		stm_resv_release(f);	/* its work is done */
	stm_stat_inc(c.s, commits);
	if (c.nfetch)
		err = stm_fetch_out(&c, uents);
	if (fam)
		atomic64_inc(&fam->commits);
	cm->version = c.version;
	for (i = 0; i < c.nw; i++) {
		struct stm_went *w = &c.w[i];
		__le64 res = cpu_to_le64((u64)w->result);

		stm_wake_key(c.s, w->kr.hash);

		if (!(w->flags & STMDEV_CENT_FETCH))
			continue;
		if (stm_copy_out(u64_to_user_ptr(ents[w->idx].val_addr), &res,
				 sizeof(res)))
			err = -EFAULT;
	}
out_release:
	for (i = 0; i < n; i++)
		stm_went_release(c.s, &all[i]);
	if (c.rc.pool)
		stm_range_release(&c.rc);
out_free:
	trace_stm_commit(c.s, n, c.nw, cm->family, err, err ? 0 : c.version, t0);
	stm_scratch_end(&sc);
	/*
	 * The table follows the key count: resize after a commit that changed
	 * it, or the first one after io_uring ran such a commit inline, where
	 * it may not sleep; a commit that overwrote does not look.
	 */
	if (c.dkeys && c.nowait) {
		smp_mb();	/* tbl_n before the flag: pairs with the resize's */
		WRITE_ONCE(c.s->resize_due, true);
	} else if (!c.nowait && (c.dkeys || STM_RESIZE_ALWAYS ||
				 READ_ONCE(c.s->resize_due))) {
		stm_table_resize(c.s);
	}
	return err;
}

