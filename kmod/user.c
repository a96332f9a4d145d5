// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user limits.  Like POSIX mqueue's RLIMIT_MSGQUEUE, what a store holds
 * is charged to the store's owner: stores, keys and the kernel memory they
 * take.  Wait and watch entries are charged to the user who opened the fd
 * that queues them, since that user alone causes them.  A user at a limit
 * gets EDQUOT and no other user is affected; the global and per-store
 * ceilings (ENOSPC) stay above all users.
 *
 * Users are kept by kuid_t, which is global across user namespaces, in a
 * small hash; an entry lives while a store or an fd refers to it.
 */
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "stm.h"
#include "stm_trace.h"

static DEFINE_SPINLOCK(stm_users_lock);
static DEFINE_HASHTABLE(stm_users, 6);	/* struct stm_user by uid */

/* Caller holds stm_users_lock. */
static struct stm_user *stm_user_find(kuid_t uid)
{
	struct stm_user *u;

	hash_for_each_possible(stm_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* The entry of @uid, created if needed, with a reference.  May sleep. */
struct stm_user *stm_user_get(kuid_t uid)
{
	struct stm_user *u, *fresh;

	spin_lock(&stm_users_lock);
	u = stm_user_find(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&stm_users_lock);
	if (u)
		return u;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return NULL;
	refcount_set(&fresh->ref, 1);
	fresh->uid = uid;

	spin_lock(&stm_users_lock);
	u = stm_user_find(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hash_add(stm_users, &fresh->node, __kuid_val(uid));
		u = fresh;
		fresh = NULL;
	}
	spin_unlock(&stm_users_lock);
	kfree(fresh);
	return u;
}

void stm_user_put(struct stm_user *u)
{
	if (!u || !refcount_dec_and_lock(&u->ref, &stm_users_lock))
		return;
	hash_del(&u->node);
	spin_unlock(&stm_users_lock);
	WARN_ON_ONCE(atomic_read(&u->stores) || atomic64_read(&u->keys) ||
		     atomic64_read(&u->mem) || atomic_read(&u->waits) ||
		     atomic_read(&u->resv_keys));
	kfree(u);
}

/*
 * Add @delta to @v unless that takes it over @max (only growth is
 * checked: giving back always succeeds).  Returns false when refused.
 */
bool stm_charge_add(atomic64_t *v, s64 delta, u64 max)
{
	if (delta <= 0) {
		atomic64_add(delta, v);
		return true;
	}
	if ((u64)atomic64_add_return(delta, v) <= max)
		return true;
	atomic64_sub(delta, v);
	return false;
}

/* One more store for @u: -EDQUOT at max_stores_per_user. */
int stm_user_add_store(struct stm_user *u)
{
	if (atomic_add_unless(&u->stores, 1, READ_ONCE(stm_max_stores_per_user)))
		return 0;
	trace_stm_quota(u->uid, STM_LIMIT_STORES_USER, 1, -EDQUOT);
	return -EDQUOT;
}

void stm_user_del_store(struct stm_user *u)
{
	atomic_dec(&u->stores);
}

/*
 * Charge @u for @keys keys and @mem bytes of kernel memory (either may be
 * negative): -EDQUOT, and nothing charged, if a limit would be passed.
 */
int stm_user_charge(struct stm_user *u, s64 keys, s64 mem)
{
	if (!stm_charge_add(&u->keys, keys, READ_ONCE(stm_max_keys_per_user))) {
		trace_stm_quota(u->uid, STM_LIMIT_KEYS_USER, keys, -EDQUOT);
		return -EDQUOT;
	}
	if (!stm_charge_add(&u->mem, mem, READ_ONCE(stm_max_mem_per_user))) {
		atomic64_sub(keys, &u->keys);
		trace_stm_quota(u->uid, STM_LIMIT_MEM_USER, mem, -EDQUOT);
		return -EDQUOT;
	}
	return 0;
}

/*
 * Wait and watch entries: @n more for the fd @f (ENOSPC past
 * max_waits_per_fd) and its opener (EDQUOT past max_waits_per_user).
 */
int stm_waits_charge(struct stm_file *f, u32 n)
{
	unsigned int per_fd = READ_ONCE(stm_max_waits_per_fd);
	unsigned int per_user = READ_ONCE(stm_max_waits_per_user);

	if (atomic_add_return(n, &f->nwaits) > per_fd) {
		atomic_sub(n, &f->nwaits);
		trace_stm_quota(f->user->uid, STM_LIMIT_WAITS_FD, n, -ENOSPC);
		return -ENOSPC;
	}
	if (atomic_add_return(n, &f->user->waits) > per_user) {
		atomic_sub(n, &f->user->waits);
		atomic_sub(n, &f->nwaits);
		trace_stm_quota(f->user->uid, STM_LIMIT_WAITS_USER, n, -EDQUOT);
		return -EDQUOT;
	}
	return 0;
}

/* Take back @n entries given back a moment ago, whatever the limits. */
void stm_waits_recharge(struct stm_file *f, u32 n)
{
	atomic_add(n, &f->nwaits);
	atomic_add(n, &f->user->waits);
}

void stm_waits_uncharge(struct stm_file *f, u32 n)
{
	atomic_sub(n, &f->user->waits);
	atomic_sub(n, &f->nwaits);
}
