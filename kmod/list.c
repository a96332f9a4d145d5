// SPDX-License-Identifier: GPL-2.0
/*
 * LIST: walk a store's keys by stable id, each record one instant of its
 * key (the walk as a whole is not a snapshot).
 *
 * A call is bounded: it visits at most STM_LIST_VISITS ids (absent keys
 * and placeholders included), rests (cond_resched()) every
 * STM_LIST_BATCH of them, waits for one locked key at most
 * STM_LIST_BACKOFFS times, and stops on a fatal signal.  Stopping early
 * returns what it has, with the cursor at the next id to visit; that may
 * be zero records with a non-zero cursor.
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

int stm_list(struct stm_file *f, struct stmdev_list *l)
{
	struct stm_store *s = f->store;
	unsigned long index = l->cursor, next = 0;
	size_t cap, used = 0;
	u32 n = 0, visits = 0, backoffs = 0;
	struct stm_key *k;
	bool full = false;
	u8 *buf;
	int err = 0;

	if (l->reserved || l->cursor > U32_MAX)
		return -EINVAL;
	cap = min_t(size_t, l->len, 256 << 10);
	if (cap < sizeof(struct stmdev_key_rec) + 8)
		return -E2BIG;
	buf = kvmalloc(cap, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;

	rcu_read_lock();
	while ((k = xa_find(&s->ids, &index, ULONG_MAX, XA_PRESENT))) {
		struct stmdev_key_rec rec = {};
		struct stm_rslot snap;
		u32 spins = 0;
		size_t sz;

		if (++visits > STM_LIST_VISITS) {
			next = index;
			break;
		}
		if (!(visits % STM_LIST_BATCH)) {
			rcu_read_unlock();
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				goto out_free;
			}
			cond_resched();
			rcu_read_lock();
			continue;	/* find @index again */
		}
		/* Each record is one instant of its key (the walk is not). */
		while (!stm_key_snap(k, &snap, false)) {
			/*
			 * Locked with no value: a commit's placeholder, maybe
			 * not even in the table yet; it holds a value only
			 * from that commit on, so it did not exist for the
			 * whole walk and need not be listed.
			 */
			if (READ_ONCE(k->state) == STM_ABSENT) {
				snap.present = false;
				break;
			}
			if (++spins <= STM_SPIN) {
				cpu_relax();
				continue;
			}
			rcu_read_unlock();
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				goto out_free;
			}
			if (++backoffs > STM_LIST_BACKOFFS) {
				next = index;	/* come back for it */
				goto out_copy;
			}
			cond_resched();
			rcu_read_lock();
			k = xa_find(&s->ids, &index, ULONG_MAX, XA_PRESENT);
			if (!k)
				goto out_walked;
			spins = 0;
		}
		if (!snap.present) {
			index++;
			continue;
		}
		sz = sizeof(rec) + ALIGN(k->len, 8);
		if (used + sz > cap) {
			next = index;
			full = true;
			break;
		}
		rec.version = snap.ver;
		rec.key_len = k->len;
		rec.val_len = snap.vlen;
		memcpy(buf + used, &rec, sizeof(rec));
		memcpy(buf + used + sizeof(rec), k->key, k->len);
		memset(buf + used + sizeof(rec) + k->len, 0,
		       ALIGN(k->len, 8) - k->len);
		used += sz;
		n++;
		index++;
	}
out_walked:
	rcu_read_unlock();
out_copy:
	if (!n && full)
		err = -E2BIG;
	else if (copy_to_user(u64_to_user_ptr(l->addr), buf, used))
		err = -EFAULT;
	l->count = n;
	l->cursor = next;
out_free:
	kvfree(buf);
	return err;
}
