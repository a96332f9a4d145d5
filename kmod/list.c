// SPDX-License-Identifier: GPL-2.0
/*
 * LIST: walk a store's keys by stable id, each record one instant of its
 * key (the walk as a whole is not a snapshot).
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

int stm_list(struct stm_file *f, struct stmdev_list *l)
{
	struct stm_store *s = f->store;
	unsigned long index = l->cursor, next = 0;
	size_t cap, used = 0;
	struct stm_key *k;
	u32 n = 0;
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

		/* Each record is one instant of its key (the walk is not). */
		while (!stm_key_snap(k, &snap, false)) {
			if (++spins <= STM_SPIN) {
				cpu_relax();
				continue;
			}
			rcu_read_unlock();
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

	if (!n && next)
		err = -E2BIG;
	else if (copy_to_user(u64_to_user_ptr(l->addr), buf, used))
		err = -EFAULT;
	kvfree(buf);
	l->count = n;
	l->cursor = next;
	return err;
}
