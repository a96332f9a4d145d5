// SPDX-License-Identifier: GPL-2.0
/*
 * READ: N keys, one instant (see snapshot.c), values copied out.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

int stm_read(struct stm_file *f, struct stmdev_read *r)
{
	struct stm_store *s = f->store;
	struct stmdev_read_ent __user *uents = u64_to_user_ptr(r->entries);
	struct stmdev_read_ent *ents;
	struct stm_rslot *rs;
	bool e2big = false;
	struct stm_scratch sc;
	u8 *keys, *cur;
	u32 i, n = r->count;
	u64 rv = r->clock;
	int err;

	if (r->flags & ~STMDEV_READ_AT || r->reserved0 || r->reserved)
		return -EINVAL;
	if (n > READ_ONCE(stm_max_keys_per_call))
		return -E2BIG;
	if (r->flags & STMDEV_READ_AT && rv > atomic64_read(&s->clock))
		return -EINVAL;
	r->conflict = STMDEV_NO_CONFLICT;
	stm_stat_inc(s, reads);
	if (!n) {
		r->clock = atomic64_read(&s->clock);
		return 0;
	}

	stm_scratch_begin(&sc);
	err = stm_load_request(&sc, r->entries, n, sizeof(*ents),
			       offsetof(struct stmdev_read_ent, key_len),
			       sizeof(*rs), (void **)&ents, (void **)&rs);
	if (err)
		goto out_free;
	keys = (u8 *)(rs + n);
	cur = keys;
	for (i = 0; i < n; i++) {
		err = -EINVAL;
		if (ents[i].reserved)
			goto out_free;
		err = stm_copy_key(s, &rs[i].kr, &cur, ents[i].key_addr,
				   ents[i].key_len);
		if (err)
			goto out_free;
		rs[i].val = NULL;
	}

	err = stm_snapshot(s, rs, n, r->flags & STMDEV_READ_AT, true, &rv,
			   &r->conflict);
	if (err == -ESTALE)
		stm_stat_inc(s, conflicts);
	if (err)
		goto out_free;

	for (i = 0; i < n; i++) {
		struct stm_val *v = rs[i].val;
		u32 cap = ents[i].val_len, len;
		const u8 *data;

		data = v ? v->data : rs[i].inl;
		len = rs[i].vlen;
		ents[i].version = rs[i].ver;
		ents[i].flags = rs[i].present ? STMDEV_RENT_PRESENT : 0;
		ents[i].val_len = rs[i].present ? len : 0;
		if (!rs[i].present || !len)
			continue;
		if (len > cap) {
			e2big = true;
			continue;
		}
		if (stm_copy_out(u64_to_user_ptr(ents[i].val_addr), data, len))
			err = -EFAULT;
	}
	stm_rslots_put(rs, n);
	if (!err && stm_copy_out(uents, ents, array_size(n, sizeof(*ents))))
		err = -EFAULT;
	if (!err && e2big)
		err = -E2BIG;
	r->clock = rv;
out_free:
	stm_scratch_end(&sc);
	return err;
}
