// SPDX-License-Identifier: GPL-2.0
/*
 * The key table of a store: an rhashtable of struct stm_key by key bytes
 * for lookups, and an xarray of the same keys by a stable id, so that LIST
 * can walk with a cursor that survives table resizes and concurrent churn.
 */
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "stm.h"

static u32 stm_kref_hashfn(const void *data, u32 len, u32 seed)
{
	const struct stm_kref *kr = data;

	return kr->hash;
}

static u32 stm_key_hashfn(const void *data, u32 len, u32 seed)
{
	const struct stm_key *k = data;

	return k->hash;
}

static int stm_key_cmpfn(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct stm_kref *kr = arg->key;
	const struct stm_key *k = obj;

	return kr->len != k->len || memcmp(kr->p, k->key, k->len);
}

static const struct rhashtable_params stm_table_params = {
	.head_offset		= offsetof(struct stm_key, node),
	.hashfn			= stm_kref_hashfn,
	.obj_hashfn		= stm_key_hashfn,
	.obj_cmpfn		= stm_key_cmpfn,
	.automatic_shrinking	= true,
};

/*
 * What an allocation of @size bytes by kvmalloc() really takes: the slab
 * object or page block kmalloc() rounds it to; past kmalloc()'s largest,
 * vmalloc's pages -- huge ones from PMD_SIZE up where the architecture maps
 * them, as kvmalloc() asks for -- and its array of page pointers.
 */
size_t stm_kv_cost(size_t size)
{
	size_t pages;

	if (size <= KMALLOC_MAX_SIZE)
		return kmalloc_size_roundup(size);
	pages = PAGE_ALIGN(size);
	if (IS_ENABLED(CONFIG_HAVE_ARCH_HUGE_VMALLOC) && size >= PMD_SIZE)
		pages = ALIGN(size, PMD_SIZE);
	return pages + (pages >> PAGE_SHIFT) * sizeof(struct page *);
}

/*
 * The kernel memory one key takes: its node, as kmalloc() rounds it, and
 * its share of the id map (an xarray node holds XA_CHUNK_SIZE ids when the
 * ids are dense, as they are for keys created together).
 */
size_t stm_key_cost(u32 klen)
{
	struct stm_key *k;

	return kmalloc_size_roundup(struct_size(k, key, klen)) +
	       DIV_ROUND_UP(sizeof(struct xa_node), XA_CHUNK_SIZE);
}

/* A value's memory beyond its key: nothing when it lives inside the key. */
size_t stm_val_cost(u32 vlen)
{
	struct stm_val *v;

	return vlen > STM_INLINE_MAX ? stm_kv_cost(struct_size(v, data, vlen)) : 0;
}

/*
 * The bucket array of the key table for @nkeys keys: the size it has now,
 * or the size it grows to (rhashtable doubles past 75% full), as
 * kvzalloc() rounds it.  rhashtable allocates it with GFP_KERNEL, outside
 * memcg: this charge is what bounds it.
 */
size_t stm_table_cost(struct stm_store *s, u64 nkeys)
{
	struct bucket_table *tbl;
	u64 size;

	rcu_read_lock();
	tbl = rcu_dereference(s->table.tbl);
	size = tbl->size;
	rcu_read_unlock();
	while (nkeys > size / 4 * 3 && size < (1ULL << 31))
		size *= 2;
	return stm_kv_cost(struct_size(tbl, buckets, size));
}

u32 stm_hash(const struct stm_store *s, const u8 *p, u32 len)
{
	return jhash(p, len, s->seed);
}

int stm_table_init(struct stm_store *s)
{
	xa_init_flags(&s->ids, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	return rhashtable_init(&s->table, &stm_table_params);
}

static void stm_table_free_key(void *ptr, void *arg)
{
	struct stm_key *k = ptr;
	struct stm_val *v = rcu_dereference_raw(k->val);

	if (k->state == STM_HEAP && v)
		stm_val_put(v);
	kfree(k);
}

/* No fd and no reader is left: nothing races with this. */
void stm_table_destroy(struct stm_store *s)
{
	rhashtable_free_and_destroy(&s->table, stm_table_free_key, NULL);
	xa_destroy(&s->ids);
}

/* Caller is in an RCU read-side section. */
struct stm_key *stm_key_lookup(struct stm_store *s, const struct stm_kref *kr)
{
	return rhashtable_lookup(&s->table, kr, stm_table_params);
}

/*
 * A new key, locked from birth and absent (no value), registered in the id
 * map so LIST can find it once it holds a value.  May sleep.
 */
struct stm_key *stm_key_alloc(struct stm_store *s, const struct stm_kref *kr)
{
	struct stm_key *k;
	int err;

	k = kmalloc(struct_size(k, key, kr->len), GFP_KERNEL_ACCOUNT);
	if (!k)
		return NULL;
	k->lockver = STM_LOCKED;
	RCU_INIT_POINTER(k->val, NULL);
	k->hash = kr->hash;
	k->len = kr->len;
	k->dead = 0;
	k->state = STM_ABSENT;
	k->ilen = 0;
	memcpy(k->key, kr->p, kr->len);
	err = xa_alloc_cyclic(&s->ids, &k->id, k, xa_limit_32b, &s->next_id,
			      GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		kfree(k);
		return NULL;
	}
	return k;
}

/*
 * Insert @k unless its key is present.  Returns NULL when inserted, the
 * present key otherwise, or an ERR_PTR.  Atomic context allowed.
 */
struct stm_key *stm_key_insert(struct stm_store *s, struct stm_key *k)
{
	struct stm_kref kr = { .p = k->key, .len = k->len, .hash = k->hash };

	return rhashtable_lookup_get_insert_key(&s->table, &kr, &k->node,
						stm_table_params);
}

/* Unlink an inserted key the caller holds locked.  Atomic context allowed. */
void stm_key_remove(struct stm_store *s, struct stm_key *k)
{
	WRITE_ONCE(k->dead, 1);
	rhashtable_remove_fast(&s->table, &k->node, stm_table_params);
}

/* Free a key no longer in the table (or never inserted), after RCU. */
void stm_key_free(struct stm_store *s, struct stm_key *k)
{
	struct stm_val *v = rcu_dereference_protected(k->val, 1);

	xa_erase(&s->ids, k->id);
	if (k->state == STM_HEAP && v)
		stm_val_put(v);
	kfree_rcu(k, rcu);
}

struct stm_val *stm_val_alloc(u32 len)
{
	struct stm_val *v;

	v = kvmalloc(struct_size(v, data, len), GFP_KERNEL_ACCOUNT);
	if (!v)
		return NULL;
	refcount_set(&v->ref, 1);
	v->len = len;
	return v;
}

void stm_val_put(struct stm_val *v)
{
	if (refcount_dec_and_test(&v->ref))
		kvfree_rcu(v, rcu);
}
