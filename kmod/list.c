// SPDX-License-Identifier: GPL-2.0
/*
 * LIST: walk a store's keys in the order of their hashes with the bits
 * reversed (table.c, stm_table_group()), each record one instant of its
 * key (the walk as a whole is not a snapshot).  The cursor is a position
 * in that order plus one; the keys sharing a position are listed in one
 * call or not at all, so it never points inside them.
 *
 * A call is bounded: it visits at most STM_LIST_VISITS buckets and chain
 * entries, rests (cond_resched()) every STM_LIST_BATCH positions listed,
 * waits for one locked key at most STM_LIST_BACKOFFS times, and stops on a
 * fatal signal.  Stopping early returns what it has, with the cursor at
 * the next position to visit; that may be zero records with a non-zero
 * cursor.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

#define STM_LIST_VISITS		4096
#define STM_LIST_BATCH		64
#define STM_LIST_BACKOFFS	16

/* LIST's output buffer and where it stands. */
struct stm_list_buf {
	u8 *buf;
	size_t cap, used;
	u32 n;
};

/* Append @k's record as @snap saw it; false when it does not fit. */
static bool stm_list_put(struct stm_list_buf *b, struct stm_key *k,
			 const struct stm_rslot *snap)
{
	struct stmdev_key_rec rec = {};
	size_t sz = sizeof(rec) + ALIGN(k->len, 8);

	if (b->used + sz > b->cap)
		return false;
	rec.version = snap->ver;
	rec.key_len = k->len;
	rec.val_len = snap->vlen;
	memcpy(b->buf + b->used, &rec, sizeof(rec));
	memcpy(b->buf + b->used + sizeof(rec), k->key, k->len);
	memset(b->buf + b->used + sizeof(rec) + k->len, 0,
	       ALIGN(k->len, 8) - k->len);
	b->used += sz;
	b->n++;
	return true;
}

/*
 * Snap @k.  Returns 1 with @snap filled, 0 when it is not to be listed, or,
 * when a commit holds it for long, -EBUSY after resting outside the RCU
 * read-side section (@k may be gone: find the keys again), -EAGAIN after
 * too many rests (*@backoffs counts them) or -EINTR; on those two the
 * section has been left.  Caller is in one.
 */
static int stm_list_snap(struct stm_key *k, struct stm_rslot *snap,
			 u32 *backoffs)
{
	u32 spins = 0;

	while (!stm_key_snap(k, snap, false)) {
		/*
		 * Locked with no value: a commit's placeholder, maybe not
		 * even in the table yet; it holds a value only from that
		 * commit on, so it did not exist for the whole walk and need
		 * not be listed.
		 */
		if (READ_ONCE(k->state) == STM_ABSENT)
			return 0;
		if (++spins <= STM_SPIN) {
			cpu_relax();
			continue;
		}
		rcu_read_unlock();
		if (fatal_signal_pending(current))
			return -EINTR;
		if (++*backoffs > STM_LIST_BACKOFFS)
			return -EAGAIN;
		cond_resched();
		rcu_read_lock();
		return -EBUSY;
	}
	return snap->present;
}

int stm_list(struct stm_file *f, struct stmdev_list *l)
{
	struct stm_store *s = f->store;
	struct stm_key *ks[STM_GROUP_MAX];
	struct stm_list_buf b = {};
	u32 nk, i, visits = 0, groups = 0, backoffs = 0, n0;
	u64 pos, next = 0;
	size_t used0;
	bool full = false;
	int err = 0, ret;

	if (l->reserved || l->cursor > STM_LIST_END)
		return -EINVAL;
	pos = l->cursor ? l->cursor - 1 : 0;
	b.cap = min_t(size_t, l->len, 256 << 10);
	if (b.cap < sizeof(struct stmdev_key_rec) + 8)
		return -E2BIG;
	b.buf = kvmalloc(b.cap, GFP_KERNEL_ACCOUNT);
	if (!b.buf)
		return -ENOMEM;

	rcu_read_lock();
	for (;;) {
		ret = stm_table_group(s, &pos, ks, &nk, &visits,
				      STM_LIST_VISITS);
		if (ret <= 0) {
			if (ret)
				next = pos + 1;	/* out of visits: go on here */
			break;
		}
		/* The keys at @pos: all listed, or none and come back. */
		used0 = b.used;
		n0 = b.n;
		for (i = 0; i < nk; i++) {
			struct stm_rslot snap;

			ret = stm_list_snap(ks[i], &snap, &backoffs);
			if (ret == -EINTR) {
				err = ret;
				goto out_free;
			}
			if (ret < 0) {
				b.used = used0;
				b.n = n0;
				if (ret == -EBUSY)
					goto next_group;	/* @pos again */
				next = pos + 1;
				goto out_copy;
			}
			if (ret && !stm_list_put(&b, ks[i], &snap)) {
				b.used = used0;
				b.n = n0;
				next = pos + 1;
				full = true;
				goto out_walked;
			}
		}
		pos++;
next_group:
		if (!(++groups % STM_LIST_BATCH)) {
			rcu_read_unlock();
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				goto out_free;
			}
			cond_resched();
			rcu_read_lock();
		}
	}
out_walked:
	rcu_read_unlock();
out_copy:
	if (!b.n && full)
		err = -E2BIG;
	else if (copy_to_user(u64_to_user_ptr(l->addr), b.buf, b.used))
		err = -EFAULT;
	l->count = b.n;
	l->cursor = next;
out_free:
	kvfree(b.buf);
	return err;
}
