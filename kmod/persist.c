// SPDX-License-Identifier: GPL-2.0
/*
 * EXPORT and IMPORT: a whole store out and in, for saving it across
 * reboots (stmctl save / load).
 *
 * EXPORT with cursor 0 takes a snapshot of every key at one instant and
 * holds it on the fd, charged to the caller's memory limit; later calls
 * copy records out of it.  The snapshot: read the table's insert count I0,
 * walk the table copying every key (bounded calls of stm_table_group(), as
 * LIST does), take stm_snapshot() of those keys (at some clock C, with its
 * locked fallback, so it never loses to commits for good), then read the
 * insert count again.  A key present at C but missing from the walk must
 * have been put in the table after the walk passed its place, and a commit
 * inserts its keys before it takes its version, so it raised the count
 * before C: unchanged, the keys walked are all the keys at C.  A changed
 * count means a round lost to a key's creation; after STM_EXPORT_ROUNDS
 * such rounds, EBUSY (not EAGAIN: io_uring reserves it).
 *
 * IMPORT puts records into an empty store as one commit would: keys are
 * charged first (one pass over the records), then allocated and inserted
 * locked (a second pass, which must find what the first did), the clock
 * raised to the highest version, and the keys unlocked.  Any failure takes
 * every inserted key out again: all or nothing.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

#define STM_EXPORT_ROUNDS	16
#define STM_EXPORT_VISITS	4096
/* A record buffer is filled in the kernel in pieces of about this. */
#define STM_EXPORT_CHUNK	(256 << 10)
/* The highest version a record may carry (the clock is an atomic64_t). */
#define STM_VERSION_MAX		(1ULL << 62)

/* The snapshot EXPORT holds on an fd. */
struct stm_persist {
	struct stm_rslot *rs;	/* present keys, values pinned */
	u8 *keys;		/* their bytes */
	u32 n;
	u64 clock;
	u64 charge;		/* bytes charged to the fd's user */
};

static void stm_persist_free(struct stm_file *f, struct stm_persist *p)
{
	if (!p)
		return;
	stm_rslots_put(p->rs, p->n);
	kvfree(p->rs);
	kvfree(p->keys);
	stm_user_charge(f->user, 0, -(s64)p->charge);
	kfree(p);
}

void stm_persist_release(struct stm_file *f)
{
	stm_persist_free(f, f->persist);
	f->persist = NULL;
}

static size_t stm_rec_size(u32 klen, u32 vlen)
{
	return sizeof(struct stmdev_key_rec) + ALIGN((size_t)klen + vlen, 8);
}

/*
 * Copy every key of the table into @p (room for @cap keys and @kcap key
 * bytes).  Returns 0, -ENOSPC when the room is too small, -EINTR.
 */
static int stm_persist_walk(struct stm_store *s, struct stm_persist *p,
			    u32 cap, size_t kcap)
{
	struct stm_key *ks[STM_GROUP_MAX];
	size_t kused = 0;
	u64 pos = 0;
	u32 nk, i, visits;
	int ret;

	p->n = 0;
	for (;;) {
		visits = 0;
		rcu_read_lock();
		ret = stm_table_group(s, &pos, ks, &nk, &visits,
				      STM_EXPORT_VISITS);
		if (ret > 0) {
			if (p->n + nk > cap) {
				rcu_read_unlock();
				return -ENOSPC;
			}
			for (i = 0; i < nk; i++) {
				struct stm_rslot *rs = &p->rs[p->n];

				if (kused + ks[i]->len > kcap) {
					rcu_read_unlock();
					return -ENOSPC;
				}
				memcpy(p->keys + kused, ks[i]->key, ks[i]->len);
				memset(rs, 0, sizeof(*rs));
				rs->kr.p = p->keys + kused;
				rs->kr.len = ks[i]->len;
				rs->kr.hash = ks[i]->hash;
				kused += ks[i]->len;
				p->n++;
			}
			pos++;
		}
		rcu_read_unlock();
		if (!ret)
			return 0;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
}

/* Drop the absent keys of a snapshot, keeping the order. */
static void stm_persist_compact(struct stm_persist *p)
{
	u32 i, j = 0;

	for (i = 0; i < p->n; i++) {
		if (!p->rs[i].present)
			continue;
		if (i != j)
			p->rs[j] = p->rs[i];
		j++;
	}
	p->n = j;
}

/* Charge the heap values @p pins to the fd's user. */
static int stm_persist_charge_vals(struct stm_file *f, struct stm_persist *p)
{
	u64 mem = 0;
	u32 i;
	int err;

	for (i = 0; i < p->n; i++)
		if (p->rs[i].val)
			mem += stm_val_cost(p->rs[i].vlen);
	err = stm_user_charge(f->user, 0, mem);
	if (!err)
		p->charge += mem;
	return err;
}

/* Take a snapshot of the whole store into a new struct stm_persist. */
static struct stm_persist *stm_persist_take(struct stm_file *f)
{
	struct stm_store *s = f->store;
	struct stm_persist *p;
	u64 ins, want;
	u32 cap, round, bad;
	size_t kcap;
	int err = -ENOMEM;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return ERR_PTR(-ENOMEM);
	for (round = 0; round < STM_EXPORT_ROUNDS; round++) {
		/* Room for the keys now, and some that may come meanwhile. */
		want = atomic64_read(&s->nkeys);
		want = min_t(u64, want + want / 8 + 64,
			     (u64)READ_ONCE(stm_max_keys_per_store) + 64);
		cap = want << round > U32_MAX / 2 ? U32_MAX / 2 : want << round;
		kcap = ((size_t)atomic64_read(&s->nbytes) * 2 +
			64 * STMDEV_KEY_MAX) << round;
		kcap = min_t(size_t, kcap, array_size(cap, STMDEV_KEY_MAX));
		p->charge = stm_kv_cost(array_size(cap, sizeof(*p->rs))) +
			    stm_kv_cost(kcap);
		err = stm_user_charge(f->user, 0, p->charge);
		if (err) {
			p->charge = 0;
			break;
		}
		err = -ENOMEM;
		p->rs = kvmalloc_array(cap, sizeof(*p->rs), GFP_KERNEL_ACCOUNT);
		p->keys = kvmalloc(kcap, GFP_KERNEL_ACCOUNT);
		if (!p->rs || !p->keys)
			break;
		ins = READ_ONCE(s->inserts);
		smp_rmb();	/* the insert count before the walk */
		err = stm_persist_walk(s, p, cap, kcap);
		if (!err)
			err = stm_snapshot(s, p->rs, p->n, false, true,
					   &p->clock, &bad);
		if (err && err != -ENOSPC)
			break;
		smp_rmb();	/* the snapshot's clock before the insert count */
		if (!err && READ_ONCE(s->inserts) == ins) {
			stm_persist_compact(p);
			/* Pinned values outlive their keys: the caller pays. */
			err = stm_persist_charge_vals(f, p);
			if (!err)
				return p;
			stm_rslots_put(p->rs, p->n);
			break;
		}
		if (!err)
			stm_rslots_put(p->rs, p->n);
		p->n = 0;
		err = -EBUSY;
		kvfree(p->rs);
		kvfree(p->keys);
		p->rs = NULL;
		p->keys = NULL;
		stm_user_charge(f->user, 0, -(s64)p->charge);
		p->charge = 0;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	p->n = 0;
	stm_persist_free(f, p);
	return ERR_PTR(err);
}

/* Copy records from @p's record @*idx on into @buf; returns bytes used. */
static size_t stm_persist_fill(struct stm_persist *p, u32 *idx, u8 *buf,
			       size_t cap, u32 *count)
{
	size_t used = 0;

	while (*idx < p->n) {
		struct stm_rslot *rs = &p->rs[*idx];
		struct stmdev_key_rec rec = {};
		size_t sz = stm_rec_size(rs->kr.len, rs->vlen);
		const u8 *v = rs->val ? rs->val->data : rs->inl;
		u8 *d = buf + used;

		if (used + sz > cap)
			break;
		rec.version = rs->ver;
		rec.key_len = rs->kr.len;
		rec.val_len = rs->vlen;
		memcpy(d, &rec, sizeof(rec));
		d += sizeof(rec);
		memcpy(d, rs->kr.p, rs->kr.len);
		memcpy(d + rs->kr.len, v, rs->vlen);
		memset(d + rs->kr.len + rs->vlen, 0,
		       sz - sizeof(rec) - rs->kr.len - rs->vlen);
		used += sz;
		++*idx;
		++*count;
	}
	return used;
}

int stm_export(struct stm_file *f, struct stmdev_export *e)
{
	struct stm_persist *p;
	size_t cap, used;
	u32 idx;
	u8 *buf;
	int err = 0;

	if (e->reserved)
		return -EINVAL;
	e->count = 0;
	mutex_lock(&f->persist_lock);
	if (!e->cursor) {
		stm_persist_release(f);
		p = stm_persist_take(f);
		if (IS_ERR(p)) {
			err = PTR_ERR(p);
			goto out_unlock;
		}
		f->persist = p;
	}
	p = f->persist;
	err = -EINVAL;
	if (!p || e->cursor > p->n)
		goto out_unlock;
	idx = e->cursor ? e->cursor - 1 : 0;
	e->clock = p->clock;
	e->keys = p->n;
	err = 0;
	if (idx == p->n)
		goto out_done;
	/* A piece holds the next record at least (values up to the limit). */
	cap = max_t(size_t, STM_EXPORT_CHUNK,
		    stm_rec_size(p->rs[idx].kr.len, p->rs[idx].vlen));
	cap = min_t(size_t, e->len, cap);
	err = -E2BIG;
	if (cap < stm_rec_size(p->rs[idx].kr.len, p->rs[idx].vlen))
		goto out_unlock;
	err = -ENOMEM;
	buf = kvmalloc(cap, GFP_KERNEL_ACCOUNT);
	if (!buf)
		goto out_unlock;
	used = stm_persist_fill(p, &idx, buf, cap, &e->count);
	err = 0;
	if (copy_to_user(u64_to_user_ptr(e->addr), buf, used)) {
		e->count = 0;
		err = -EFAULT;
	}
	kvfree(buf);
	if (err)
		goto out_unlock;
	e->cursor = idx + 1;
	if (idx < p->n)
		goto out_unlock;
out_done:
	e->cursor = 0;
	stm_persist_release(f);
out_unlock:
	mutex_unlock(&f->persist_lock);
	return err;
}

/* One import record as the first pass saw it. */
struct stm_imp {
	u64 kbytes, vbytes;	/* totals */
	u64 mem;
	u64 maxver;
	u32 n;
};

/*
 * Read record @i's header at *@off of the import @im into @rec and check
 * it; advance *@off past the record.
 */
static int stm_import_rec(struct stmdev_import *im, u64 *off,
			  struct stmdev_key_rec *rec)
{
	size_t sz;

	if (im->len - *off < sizeof(*rec))
		return -EINVAL;
	if (copy_from_user(rec, u64_to_user_ptr(im->addr + *off), sizeof(*rec)))
		return -EFAULT;
	if (!rec->key_len || rec->key_len > STMDEV_KEY_MAX ||
	    rec->val_len > READ_ONCE(stm_max_value_size) ||
	    !rec->version || rec->version >= STM_VERSION_MAX)
		return -EINVAL;
	sz = stm_rec_size(rec->key_len, rec->val_len);
	if (im->len - *off < sz)
		return -EINVAL;
	*off += sz;
	return 0;
}

/* First pass: check every record and add up what they cost. */
static int stm_import_scan(struct stmdev_import *im, struct stm_imp *t)
{
	struct stmdev_key_rec rec;
	u64 off = 0;
	u32 i;
	int err;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < im->count; i++) {
		err = stm_import_rec(im, &off, &rec);
		if (err)
			return err;
		t->kbytes += rec.key_len;
		t->vbytes += rec.val_len;
		t->mem += stm_key_cost(rec.key_len) + stm_val_cost(rec.val_len);
		t->maxver = max(t->maxver, rec.version);
		if (!(i % 256)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	t->n = im->count;
	return off == im->len ? 0 : -EINVAL;
}

static int stm_import_charge(struct stm_store *s, const struct stm_imp *t)
{
	int err;

	if (!stm_charge_add(&s->nkeys, t->n, READ_ONCE(stm_max_keys_per_store)))
		return -ENOSPC;
	err = -ENOSPC;
	if (!stm_charge_add(&s->nbytes, t->kbytes + t->vbytes,
			    READ_ONCE(stm_max_bytes_per_store)))
		goto out_keys;
	err = stm_user_charge(s->owner, t->n, t->mem);
	if (err)
		goto out_bytes;
	atomic64_add(t->mem, &s->mem);
	return 0;

out_bytes:
	atomic64_sub(t->kbytes + t->vbytes, &s->nbytes);
out_keys:
	atomic64_sub(t->n, &s->nkeys);
	return err;
}

static void stm_import_uncharge(struct stm_store *s, const struct stm_imp *t)
{
	atomic64_sub(t->mem, &s->mem);
	stm_user_charge(s->owner, -(s64)t->n, -(s64)t->mem);
	atomic64_sub(t->kbytes + t->vbytes, &s->nbytes);
	atomic64_sub(t->n, &s->nkeys);
}

/* Build record @rec's key (its bytes at @uaddr), locked at its version. */
static struct stm_key *stm_import_key(struct stm_store *s,
				      const struct stmdev_key_rec *rec,
				      u64 uaddr, u8 *kbuf)
{
	struct stm_kref kr = { .p = kbuf, .len = rec->key_len };
	struct stm_val *v = NULL;
	struct stm_key *k;

	if (copy_from_user(kbuf, u64_to_user_ptr(uaddr), rec->key_len))
		return ERR_PTR(-EFAULT);
	kr.hash = stm_hash(s, kbuf, kr.len);
	k = stm_key_alloc(s, &kr);
	if (!k)
		return ERR_PTR(-ENOMEM);
	uaddr += rec->key_len;
	if (rec->val_len <= STM_INLINE_MAX) {
		/* Through the stack: key slabs have no usercopy region. */
		if (copy_from_user(kbuf, u64_to_user_ptr(uaddr), rec->val_len))
			goto out_fault;
		memcpy(k->inl, kbuf, rec->val_len);
		k->ilen = rec->val_len;
		k->state = STM_INLINE;
	} else {
		v = stm_val_alloc(rec->val_len);
		if (!v) {
			stm_key_free(s, k);
			return ERR_PTR(-ENOMEM);
		}
		if (copy_from_user(v->data, u64_to_user_ptr(uaddr), rec->val_len))
			goto out_fault;
		RCU_INIT_POINTER(k->val, v);
		k->state = STM_HEAP;
	}
	k->lockver = rec->version << 1 | STM_LOCKED;
	return k;

out_fault:
	if (v)
		stm_val_put(v);
	stm_key_free(s, k);
	return ERR_PTR(-EFAULT);
}

/* Take the first @n keys of @ks out of the table again and free them. */
static void stm_import_undo(struct stm_store *s, struct stm_key **ks, u32 n)
{
	struct stm_val *v;
	u32 i;

	for (i = 0; i < n; i++) {
		struct stm_key *k = ks[i];

		stm_key_remove(s, k);
		v = rcu_dereference_protected(k->val, 1);
		k->state = STM_ABSENT;
		/* Unlink, then unlock: readers see it dead. */
		smp_store_release(&k->lockver, 0);
		if (v)
			stm_val_put(v);
		stm_key_free(s, k);
	}
}

/* Second pass: insert every record's key, locked; *@n counts them. */
static int stm_import_insert(struct stm_store *s, struct stmdev_import *im,
			     const struct stm_imp *t, struct stm_key **ks,
			     u32 *n)
{
	struct stmdev_key_rec rec;
	struct stm_key *k, *old;
	u64 off = 0, start, kb = 0, vb = 0;
	u8 kbuf[STMDEV_KEY_MAX];
	int err;

	for (*n = 0; *n < t->n; ++*n) {
		start = off;
		err = stm_import_rec(im, &off, &rec);
		if (err)
			return err;
		kb += rec.key_len;
		vb += rec.val_len;
		/* Changed since the first pass: not what was charged. */
		if (kb > t->kbytes || vb > t->vbytes || rec.version > t->maxver)
			return -EINVAL;
		k = stm_import_key(s, &rec, im->addr + start + sizeof(rec), kbuf);
		if (IS_ERR(k))
			return PTR_ERR(k);
		rcu_read_lock();
		old = stm_key_insert(s, k);
		rcu_read_unlock();
		if (old) {
			stm_key_free(s, k);	/* and its value */
			return -EEXIST;
		}
		ks[*n] = k;
		if (!(*n % 256)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return kb == t->kbytes && vb == t->vbytes ? 0 : -EINVAL;
}

int stm_import(struct stm_file *f, struct stmdev_import *im)
{
	struct stm_store *s = f->store;
	struct stm_key **ks;
	struct stm_imp t;
	s64 cur, wv;
	u32 n = 0, i;
	int err;

	if (im->reserved || im->flags)
		return -EINVAL;
	im->clock = 0;	/* output only */
	if (f->flags & STMDEV_ATTACH_RDONLY)
		return -EBADF;
	if (im->count > READ_ONCE(stm_max_keys_per_store))
		return -ENOSPC;
	if (atomic64_read(&s->nkeys))
		return -ENOTEMPTY;
	err = stm_import_scan(im, &t);
	if (err)
		return err;
	err = stm_import_charge(s, &t);
	if (err)
		return err;
	err = -ENOMEM;
	ks = kvmalloc_array(max(t.n, 1U), sizeof(*ks), GFP_KERNEL_ACCOUNT);
	if (!ks)
		goto out_uncharge;
	err = stm_import_insert(s, im, &t, ks, &n);
	if (err)
		goto out_undo;
	/*
	 * The clock above every imported version.  A version may be below
	 * the clock a reader already holds (a store emptied by deletes):
	 * a reader that saw one of our keys absent must not take another
	 * as present at that clock, so count the import as a delete at a
	 * new clock value (readers that saw an absent key recheck the
	 * delete clock), then unlock the keys.
	 */
	cur = atomic64_read(&s->clock);
	while ((u64)cur < t.maxver &&
	       !atomic64_try_cmpxchg(&s->clock, &cur, t.maxver))
		;
	wv = atomic64_inc_return(&s->clock);
	cur = atomic64_read(&s->del_clock);
	while (cur < wv && !atomic64_try_cmpxchg(&s->del_clock, &cur, wv))
		;
	for (i = 0; i < n; i++) {
		/* Unlock: pairs with readers' acquire of the version word. */
		smp_store_release(&ks[i]->lockver, ks[i]->lockver & ~STM_LOCKED);
		stm_wake_key(s, ks[i]->hash);
	}
	kvfree(ks);
	stm_charge_table(s);
	stm_table_resize(s);
	im->clock = atomic64_read(&s->clock);
	return 0;

out_undo:
	stm_import_undo(s, ks, n);
	kvfree(ks);
out_uncharge:
	stm_import_uncharge(s, &t);
	return err;
}
