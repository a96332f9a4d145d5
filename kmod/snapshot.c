// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots: the lock-free reads every command builds on.  A reader looks
 * keys up under RCU and reads each one's version word, value and version
 * word again (a seqlock keyed on the version); a set of keys is one instant
 * when every key is unlocked and no newer than the clock read first.  READ,
 * COMMIT's validation, LIST and the wait sets all use these helpers, so they
 * sit below every command file.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

void *stm_buf_get(struct stm_buf *b, void *stack, size_t stack_size,
			 size_t size)
{
	b->heap = size > stack_size;
	b->p = b->heap ? kvmalloc(size, GFP_KERNEL_ACCOUNT) : stack;
	return b->p;
}

void stm_buf_put(struct stm_buf *b)
{
	if (b->heap)
		kvfree(b->p);
	b->p = NULL;
	b->heap = false;
}

/* Sum of the key lengths of @n entries, or -EINVAL for a bad one. */
long stm_key_bytes(const void *ents, size_t stride, size_t len_off, u32 n)
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

/* Key bytes of a request, copied from user memory into one buffer. */
int stm_copy_key(struct stm_store *s, struct stm_kref *kr, u8 **cursor,
		 u64 addr, u32 len)
{
	if (!len || len > STMDEV_KEY_MAX)
		return -EINVAL;
	if (copy_from_user(*cursor, u64_to_user_ptr(addr), len))
		return -EFAULT;
	kr->p = *cursor;
	kr->len = len;
	kr->hash = stm_hash(s, kr->p, len);
	*cursor += len;
	return 0;
}

int stm_kref_cmp(const struct stm_kref *a, const struct stm_kref *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->p, b->p, a->len);
}

/*
 * Read @k's version and presence as one instant, and with @values its value
 * too: inline bytes copied, a heap value pinned.  A seqlock read keyed on
 * the version word.  Returns false while the key is locked.  Caller is in
 * an RCU read-side section.
 */
bool stm_key_snap(struct stm_key *k, struct stm_rslot *rs, bool values)
{
	struct stm_val *v;
	u8 state, ilen;
	u64 lv;

	for (;;) {
		/* Pairs with the release that unlocks: value after version. */
		lv = smp_load_acquire(&k->lockver);
		if (lv & STM_LOCKED)
			return false;
		v = NULL;
		rs->vlen = 0;
		state = READ_ONCE(k->dead) ? STM_ABSENT : READ_ONCE(k->state);
		if (state == STM_INLINE) {
			ilen = min_t(u8, READ_ONCE(k->ilen), STM_INLINE_MAX);
			if (values)
				memcpy(rs->inl, k->inl, ilen);
			rs->vlen = ilen;
		} else if (state == STM_HEAP) {
			v = rcu_dereference(k->val);
			rs->vlen = v ? v->len : 0;
			if (!values || (v && !refcount_inc_not_zero(&v->ref)))
				v = NULL;
		}
		smp_rmb();	/* value, state and dead flag before the recheck */
		if (READ_ONCE(k->lockver) == lv)
			break;
		if (v)
			stm_val_put(v);
	}
	rs->present = state != STM_ABSENT;
	rs->ver = rs->present ? stm_version(lv) : 0;
	rs->val = v;
	/* A dead key's version still orders it against a reader's clock. */
	if (!rs->present && READ_ONCE(k->dead))
		rs->ver = stm_version(lv);
	return true;
}

void stm_rslots_put(struct stm_rslot *rs, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++) {
		if (rs[i].val)
			stm_val_put(rs[i].val);
		rs[i].val = NULL;
	}
}

/*
 * Fill @rs with one snapshot of its keys (versions; with @values, values
 * too).  With @at, the snapshot must be the one at clock *@rv, else
 * -ESTALE with *@bad the first changed entry.
 */
int stm_snapshot(struct stm_store *s, struct stm_rslot *rs, u32 n,
		 bool at, bool values, u64 *rv, u32 *bad)
{
	bool absent;
	u32 i, spins;
	u64 clock;

restart:
	spins = 0;
	absent = false;
	rcu_read_lock();
	clock = at ? *rv : atomic64_read(&s->clock);
	smp_rmb();	/* the clock before any key */
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
				goto backoff;
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
	rcu_read_unlock();
	stm_rslots_put(rs, n);
	goto restart;
backoff:
	rcu_read_unlock();
	stm_rslots_put(rs, n);
	if (fatal_signal_pending(current))
		return -EINTR;
	cond_resched();
	goto restart;
}
