// SPDX-License-Identifier: GPL-2.0
/*
 * RANGE: the keys under a prefix, read without phantoms (STMDEV_F_RANGE).
 *
 * A store keeps up to STMDEV_RANGES_MAX declared prefixes.  Each has a
 * version word like a key's (version << 1 | STM_LOCKED) and the list of
 * its members: one small record per key present under the prefix, and
 * none for any other key, so a key costs nothing more unless it lies
 * under a declared prefix.
 *
 * Membership changes only where presence does: a commit that creates a
 * key (a write onto an absent one) or deletes a present one.  Such a
 * commit locks the ranges covering the key after its key locks, in index
 * order, with the same bounded spins and back-off as keys (range locks are
 * taken before the commit takes its clock), links or unlinks the member
 * records while it applies (records are allocated ahead, in sleepable
 * context, and freed after RCU) and leaves each range at its own version.
 * A write onto a present key changes no membership and touches no range.
 * Table membership is not the event: a commit's placeholder enters the
 * table absent and may leave it without ever being present.
 *
 * A reader walks a range's list under RCU between two reads of its version
 * word; if a commit changed the membership meanwhile, it walks again, and
 * after a few tries it takes the range's lock itself, so it always ends.
 * A walk visits the range's members only: O(range), not O(store).
 *
 * Declaring a prefix (its first RANGE, writable attachments only) costs
 * one walk of the whole store: the new range is published locked, every
 * commit that could have missed it is waited out (synchronize_rcu(): a
 * commit's locks, validation and apply are one RCU section), then LIST's
 * walk (stm_table_group()) collects the keys present under the prefix,
 * which cannot change while the range is locked.  The range and its
 * records are charged to the store's owner.  A declaration that fails
 * (signal, EDQUOT, ENOMEM) leaves the range published but not ready; the
 * next RANGE of it collects its members again.  Ranges live as long as
 * the store.
 */
#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

/* Optimistic walks of a range before a reader takes its lock. */
#define STM_RANGE_TRIES		4
/* Record bytes one call gathers at most. */
#define STM_RANGE_BUF		(64 << 10)
/* Table visits per RCU section of a declaration's walk. */
#define STM_RANGE_VISITS	1024
/* The commit's STM_BACKOFF: drop every lock and start over. */
#define STM_RANGE_BACKOFF	1

static size_t stm_rmem_cost(void)
{
	return kmalloc_size_roundup(sizeof(struct stm_rmem));
}

static size_t stm_range_cost(u32 len)
{
	struct stm_range *r;

	return kmalloc_size_roundup(struct_size(r, prefix, len));
}

/* Is the key @p of @len bytes under @r's prefix? */
static bool stm_range_covers(const struct stm_range *r, const u8 *p, u32 len)
{
	return len >= r->len && !memcmp(p, r->prefix, r->len);
}

/* Charge (or, @bytes < 0, give back) the store's owner. */
static void stm_range_charge_force(struct stm_store *s, s64 bytes)
{
	atomic64_add(bytes, &s->owner->mem);
	atomic64_add(bytes, &s->mem);
}

void stm_ranges_init(struct stm_store *s)
{
	mutex_init(&s->range_lock);
}

/* No fd, reader or commit is left; the store's charge goes back whole. */
void stm_ranges_destroy(struct stm_store *s)
{
	struct stm_rmem *m, *next;
	u32 i;

	for (i = 0; i < s->nranges; i++) {
		struct stm_range *r = s->ranges[i];

		for (m = rcu_dereference_protected(r->head, 1); m; m = next) {
			next = rcu_dereference_protected(m->next, 1);
			kfree(m);
		}
		kfree(r);
	}
	s->nranges = 0;
	mutex_destroy(&s->range_lock);
}

static struct stm_range *stm_range_find(struct stm_store *s, const u8 *p,
					u32 len, u32 *idx)
{
	/* Pairs with the release that publishes a range: its fields first. */
	u32 i, n = smp_load_acquire(&s->nranges);

	for (i = 0; i < n; i++) {
		struct stm_range *r = READ_ONCE(s->ranges[i]);

		if (r->len == len && !memcmp(r->prefix, p, len)) {
			if (idx)
				*idx = i;
			return r;
		}
	}
	return NULL;
}

bool stm_range_declared(struct stm_store *s, const struct stm_kref *kr)
{
	return stm_range_find(s, kr->p, kr->len, NULL);
}

/*
 * A commit's write creates (@add) or deletes the key @kr: note the ranges
 * covering it, to lock, and the member records to have ready.  Caller is
 * in an RCU read-side section and holds the key.
 */
void stm_range_note(struct stm_store *s, struct stm_rctx *rc,
		    const struct stm_kref *kr, bool add)
{
	/* Pairs with the release that publishes a range: its fields first. */
	u32 i, n = smp_load_acquire(&s->nranges);

	for (i = 0; i < n; i++) {
		if (!stm_range_covers(READ_ONCE(s->ranges[i]), kr->p, kr->len))
			continue;
		rc->want |= BIT_ULL(i);
		if (add) {
			rc->need++;
			rc->dmem += stm_rmem_cost();
		} else {
			rc->dmem -= stm_rmem_cost();
		}
	}
}

/*
 * Lock the ranges noted, in index order.  Returns 0, -EBUSY (one is
 * locked and the commit is non-blocking) or STM_RANGE_BACKOFF (one stayed
 * locked for STM_SPIN looks, or the records allocated ahead are too few:
 * stm_range_prepare()).  The caller unlocks with stm_range_unlock().
 */
int stm_range_lock(struct stm_store *s, struct stm_rctx *rc, bool nonblock)
{
	u64 todo = rc->want & ~rc->held;
	u32 i, spins;
	u64 lv;

	if (rc->npool < rc->need)
		return STM_RANGE_BACKOFF;
	while (todo) {
		struct stm_range *r;

		i = __ffs64(todo);
		r = s->ranges[i];
		spins = 0;
		for (;;) {
			lv = READ_ONCE(r->lockver);
			if (!(lv & STM_LOCKED) &&
			    cmpxchg_acquire(&r->lockver, lv, lv | STM_LOCKED) == lv)
				break;
			if (nonblock && lv & STM_LOCKED)
				return -EBUSY;
			if (++spins > STM_SPIN)
				return STM_RANGE_BACKOFF;
			cpu_relax();
		}
		rc->held |= BIT_ULL(i);
		todo &= todo - 1;
	}
	return 0;
}

/*
 * Release the ranges the commit holds: at version @wv once it applied,
 * with their version unchanged when @wv is 0.
 */
void stm_range_unlock(struct stm_store *s, struct stm_rctx *rc, u64 wv)
{
	while (rc->held) {
		struct stm_range *r = s->ranges[__ffs64(rc->held)];
		u64 lv = wv ? wv << 1 : READ_ONCE(r->lockver) & ~STM_LOCKED;

		/* The members and keys before the version: see stm_range_walk(). */
		smp_store_release(&r->lockver, lv);
		rc->held &= rc->held - 1;
	}
	rc->want = 0;
}

/*
 * Key @k, which the commit holds, becomes present (@add) or absent: link
 * or unlink its record in every range the commit holds that covers it.
 */
void stm_range_member(struct stm_store *s, struct stm_rctx *rc,
		      struct stm_key *k, bool add)
{
	struct stm_rmem __rcu **pp;
	struct stm_rmem *m;
	u64 held = rc->held;

	while (held) {
		struct stm_range *r = s->ranges[__ffs64(held)];
		bool found = false;

		held &= held - 1;
		if (!stm_range_covers(r, k->key, k->len))
			continue;
		if (add) {
			m = rc->pool;
			if (WARN_ON_ONCE(!m))
				continue;
			rc->pool = rcu_dereference_protected(m->next, 1);
			rc->npool--;
			m->k = k;
			RCU_INIT_POINTER(m->next, rcu_dereference_protected(r->head, 1));
			rcu_assign_pointer(r->head, m);
			WRITE_ONCE(r->n, r->n + 1);
			continue;
		}
		/* O(range): the records are not indexed by key. */
		for (pp = &r->head; (m = rcu_dereference_protected(*pp, 1));
		     pp = &m->next) {
			if (m->k == k) {
				rcu_assign_pointer(*pp, rcu_dereference_protected(m->next, 1));
				WRITE_ONCE(r->n, r->n - 1);
				kfree_rcu(m, rcu);
				found = true;
				break;
			}
		}
		/* Not ready (a declaration failed): the commit charged it off. */
		if (!found)
			stm_range_charge_force(s, stm_rmem_cost());
	}
}

/*
 * The version of the range named @kr, for a commit's validation: held by
 * this commit, or unlocked.  Returns 1 when another holds it locked.
 */
int stm_range_seen(struct stm_store *s, struct stm_rctx *rc,
		   const struct stm_kref *kr, u64 *ver)
{
	struct stm_range *r;
	u32 i;
	u64 lv;

	*ver = 0;
	r = stm_range_find(s, kr->p, kr->len, &i);
	if (!r)
		return 0;	/* cannot be: loaded entries name declared ones */
	lv = READ_ONCE(r->lockver);
	if (lv & STM_LOCKED && !(rc->held & BIT_ULL(i)))
		return 1;
	*ver = stm_version(lv);
	return 0;
}

/* Records for the creations the commit noted.  May sleep. */
int stm_range_prepare(struct stm_rctx *rc)
{
	struct stm_rmem *m;

	while (rc->npool < rc->need) {
		m = kmalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
		if (!m)
			return -ENOMEM;
		RCU_INIT_POINTER(m->next, rc->pool);
		rc->pool = m;
		rc->npool++;
	}
	return 0;
}

/* Free the records the commit did not use (never published). */
void stm_range_release(struct stm_rctx *rc)
{
	struct stm_rmem *m;

	while ((m = rc->pool)) {
		rc->pool = rcu_dereference_protected(m->next, 1);
		kfree(m);
	}
	rc->npool = 0;
}

/*
 * Lock @r as a commit would, waiting as long as it takes: commits hold a
 * range only while they apply, a declaration while it walks the store.
 */
static int stm_range_take(struct stm_range *r, u64 *lvp)
{
	u32 spins = 0;
	u64 lv;

	for (;;) {
		lv = READ_ONCE(r->lockver);
		if (!(lv & STM_LOCKED) &&
		    cmpxchg_acquire(&r->lockver, lv, lv | STM_LOCKED) == lv) {
			*lvp = lv;
			return 0;
		}
		if (++spins <= STM_SPIN) {
			cpu_relax();
			continue;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
		spins = 0;
	}
}

/* Unlink and free every member of @r, which the caller holds. */
static void stm_range_clear(struct stm_store *s, struct stm_range *r)
{
	struct stm_rmem *m = rcu_dereference_protected(r->head, 1), *next;

	RCU_INIT_POINTER(r->head, NULL);
	stm_range_charge_force(s, -(s64)(r->n * stm_rmem_cost()));
	WRITE_ONCE(r->n, 0);
	for (; m; m = next) {
		next = rcu_dereference_protected(m->next, 1);
		kfree_rcu(m, rcu);
	}
}

/*
 * Collect @r's members: every key present under its prefix.  The caller
 * holds @r locked (no key under it can appear or vanish) and range_lock.
 * Bounded per RCU section, killable; on error the members collected so
 * far are freed again.
 */
static int stm_range_build(struct stm_store *s, struct stm_range *r)
{
	struct stm_key *ks[STM_GROUP_MAX];
	struct stm_rmem *pool = NULL, *m;
	u32 npool = 0, nk, i, visits, added;
	u64 pos = 0;
	int ret, err = 0;

	stm_range_clear(s, r);
	for (;;) {
		while (npool < STM_GROUP_MAX) {
			m = kmalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
			if (!m) {
				err = -ENOMEM;
				goto out_clear;
			}
			RCU_INIT_POINTER(m->next, pool);
			pool = m;
			npool++;
		}
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			goto out_clear;
		}
		added = 0;
		visits = 0;
		rcu_read_lock();
		ret = stm_table_group(s, &pos, ks, &nk, &visits, STM_RANGE_VISITS);
		for (i = 0; ret > 0 && i < nk; i++) {
			struct stm_key *k = ks[i];

			if (READ_ONCE(k->dead) || READ_ONCE(k->state) == STM_ABSENT ||
			    !stm_range_covers(r, k->key, READ_ONCE(k->len)))
				continue;
			m = pool;
			pool = rcu_dereference_protected(m->next, 1);
			npool--;
			m->k = k;
			RCU_INIT_POINTER(m->next, rcu_dereference_protected(r->head, 1));
			rcu_assign_pointer(r->head, m);
			WRITE_ONCE(r->n, r->n + 1);
			added++;
		}
		rcu_read_unlock();
		if (added) {
			err = stm_user_charge(s->owner, 0, added * stm_rmem_cost());
			if (err) {
				/* stm_range_clear() gives back what was charged */
				WRITE_ONCE(r->n, r->n - added);
				goto out_clear;
			}
			atomic64_add(added * stm_rmem_cost(), &s->mem);
		}
		if (!ret)
			break;
		if (ret > 0)
			pos++;
		cond_resched();
	}
	goto out_free;

out_clear:
	stm_range_clear(s, r);
out_free:
	while ((m = pool)) {
		pool = rcu_dereference_protected(m->next, 1);
		kfree(m);
	}
	return err;
}

/*
 * Declare the prefix @p of @len bytes, or collect again the members of a
 * range whose declaration failed.  Returns the range, ready, or an error.
 */
static struct stm_range *stm_range_declare(struct stm_store *s, const u8 *p,
					   u32 len)
{
	struct stm_range *r;
	size_t cost = stm_range_cost(len);
	u64 lv;
	int err;

	if (mutex_lock_killable(&s->range_lock))
		return ERR_PTR(-EINTR);
	r = stm_range_find(s, p, len, NULL);
	if (r && READ_ONCE(r->ready))
		goto out_unlock;	/* another declared it meanwhile */
	if (r) {
		err = stm_range_take(r, &lv);
		if (err)
			goto out_err;
	} else {
		err = -ENOSPC;
		if (s->nranges >= STMDEV_RANGES_MAX)
			goto out_err;
		err = stm_user_charge(s->owner, 0, cost);
		if (err)
			goto out_err;
		r = kzalloc(struct_size(r, prefix, len), GFP_KERNEL_ACCOUNT);
		if (!r) {
			stm_user_charge(s->owner, 0, -(s64)cost);
			err = -ENOMEM;
			goto out_err;
		}
		atomic64_add(cost, &s->mem);
		lv = atomic64_read(&s->clock) << 1;
		r->lockver = lv | STM_LOCKED;
		r->len = len;
		memcpy(r->prefix, p, len);
		s->ranges[s->nranges] = r;
		/* The range's fields, then its slot: see stm_range_find(). */
		smp_store_release(&s->nranges, s->nranges + 1);
		/* Every commit that did not see @r has applied. */
		synchronize_rcu();
	}
	err = stm_range_build(s, r);
	if (!err) {
		WRITE_ONCE(r->ready, 1);
		/* A new version: a range that failed may have been seen. */
		lv = atomic64_read(&s->clock) << 1;
	}
	/* The members and `ready` before the unlock: readers acquire it. */
	smp_store_release(&r->lockver, lv);
	if (err)
		goto out_err;
out_unlock:
	mutex_unlock(&s->range_lock);
	return r;

out_err:
	mutex_unlock(&s->range_lock);
	return ERR_PTR(err);
}

/* A RANGE call's records as they are gathered. */
struct stm_range_buf {
	u8 *buf;
	u32 cap;
	u32 used;
	u32 count;
	u64 next;		/* cursor out: the member to go on from */
	u64 vmax;		/* newest key version put */
};

/*
 * Gather the records of @r's members from the @skip-th on, as many as
 * fit.  Caller is in an RCU read-side section; what it gathers counts
 * only if @r's version word did not change meanwhile.
 */
static void stm_range_gather(struct stm_range *r, u64 skip,
			     struct stm_range_buf *b)
{
	struct stmdev_key_rec rec = {};
	struct stm_rmem *m;
	u64 i = 0;
	u32 size;

	b->used = 0;
	b->count = 0;
	b->next = 0;
	b->vmax = 0;
	for (m = rcu_dereference(r->head); m; m = rcu_dereference(m->next), i++) {
		struct stm_key *k;

		if (i < skip)
			continue;
		k = READ_ONCE(m->k);
		rec.key_len = READ_ONCE(k->len);
		size = sizeof(rec) + ALIGN(rec.key_len, 8);
		if (b->used + size > b->cap) {
			b->next = i;
			return;
		}
		rec.version = stm_version(READ_ONCE(k->lockver));
		b->vmax = max(b->vmax, rec.version);
		memcpy(b->buf + b->used, &rec, sizeof(rec));
		memcpy(b->buf + b->used + sizeof(rec), k->key, rec.key_len);
		memset(b->buf + b->used + sizeof(rec) + rec.key_len, 0,
		       size - sizeof(rec) - rec.key_len);
		b->used += size;
		b->count++;
	}
}

/*
 * One consistent walk of @r into @b: the members at one instant (*@clock)
 * and the range's version then (*@ver).  Optimistic first, then holding
 * the range.  Returns 0, -ENOENT (not ready: declare it again) or -EINTR.
 */
static int stm_range_walk(struct stm_store *s, struct stm_range *r, u64 skip,
			  struct stm_range_buf *b, u64 *clock, u64 *ver,
			  u64 *members)
{
	u32 tries;
	u64 lv, held;
	int err;

	for (tries = 0; tries < STM_RANGE_TRIES; tries++) {
		rcu_read_lock();
		/* Pairs with the unlocks' release: members, keys, then version. */
		lv = smp_load_acquire(&r->lockver);
		if (!(lv & STM_LOCKED)) {
			if (!READ_ONCE(r->ready)) {
				rcu_read_unlock();
				return -ENOENT;
			}
			/* After the version word: see stm_range_unlock(). */
			*clock = atomic64_read(&s->clock);
			*members = READ_ONCE(r->n);
			stm_range_gather(r, skip, b);
			smp_rmb();	/* the walk before the second look */
			if (READ_ONCE(r->lockver) == lv) {
				rcu_read_unlock();
				*ver = stm_version(lv);
				return 0;
			}
		}
		rcu_read_unlock();
		cond_resched();
	}
	/* Under churn: hold the range, as a commit would, and walk once. */
	err = stm_range_take(r, &held);
	if (err)
		return err;
	err = -ENOENT;
	if (READ_ONCE(r->ready)) {
		rcu_read_lock();
		*clock = atomic64_read(&s->clock);
		*members = r->n;
		stm_range_gather(r, skip, b);
		rcu_read_unlock();
		*ver = stm_version(held);
		err = 0;
	}
	/* Unlock, version unchanged: our walk changed nothing. */
	smp_store_release(&r->lockver, held);
	return err;
}

int stm_range(struct stm_file *f, struct stmdev_range *a, unsigned int how)
{
	struct stm_store *s = f->store;
	struct stm_range_buf b = {};
	struct stm_range *r;
	u8 pfx[STMDEV_KEY_MAX];
	u64 clock, ver, members;
	bool at = a->flags & STMDEV_RANGE_AT;
	int err;

	a->count = 0;
	if (a->flags & ~STMDEV_RANGE_AT || !stm_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	if (!a->prefix_len || a->prefix_len > STMDEV_KEY_MAX)
		return -EINVAL;
	if (at && a->clock > atomic64_read(&s->clock))
		return -EINVAL;
	if (copy_from_user(pfx, u64_to_user_ptr(a->prefix_addr), a->prefix_len))
		return -EFAULT;
	b.cap = min_t(u32, a->len, STM_RANGE_BUF);
	if (b.cap < sizeof(struct stmdev_key_rec) + 8)
		return -E2BIG;
	stm_stat_inc(s, reads);

	r = stm_range_find(s, pfx, a->prefix_len, NULL);
	if (!r && a->cursor)
		return -EINVAL;
	b.buf = kvmalloc(b.cap, GFP_KERNEL_ACCOUNT);
	if (!b.buf)
		return -ENOMEM;
	for (;;) {
		if (!r || !READ_ONCE(r->ready)) {
			err = -EBADF;
			if (f->flags & STMDEV_ATTACH_RDONLY)
				goto out_free;
			err = -EAGAIN;	/* io_uring: declare from a worker */
			if (how & STM_NOWAIT)
				goto out_free;
			r = stm_range_declare(s, pfx, a->prefix_len);
			err = PTR_ERR_OR_ZERO(r);
			if (err)
				goto out_free;
		}
		err = stm_range_walk(s, r, a->cursor, &b, &clock, &ver, &members);
		if (err != -ENOENT)
			break;
	}
	if (err)
		goto out_free;
	err = -ESTALE;
	if (a->cursor && ver != a->version)
		goto out_stale;
	if (at && (ver > a->clock || b.vmax > a->clock))
		goto out_stale;
	err = -EINVAL;
	if (a->cursor && a->cursor >= members)
		goto out_free;	/* no cursor we gave out */
	err = -E2BIG;
	if (!b.count && b.next)
		goto out_free;
	err = 0;
	if (copy_to_user(u64_to_user_ptr(a->addr), b.buf, b.used))
		err = -EFAULT;
	a->count = b.count;
	a->cursor = b.next;
	a->version = ver;
	a->members = members;
	if (!at)
		a->clock = clock;
	goto out_free;

out_stale:
	stm_stat_inc(s, conflicts);
out_free:
	kvfree(b.buf);
	return err;
}
