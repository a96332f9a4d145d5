/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace twins of the two kernel tables table.c uses, with the same
 * calls and contracts (ucore.c implements them):
 *
 * rhashtable: lookups lock-free under RCU, inserts and removals under one
 * mutex, intrusive singly linked chains published with release stores.
 * It does not resize: the bucket array is fixed at UCORE_RHT_SIZE, which
 * is plenty for the small key sets a stress run uses (table.c only reads
 * tbl->size, for the memory charge).  The kernel's resize machinery is
 * therefore not under test here.
 *
 * xarray: only the allocating id map (xa_alloc_cyclic, xa_load, xa_find,
 * xa_erase, xa_destroy): a sorted array under one mutex.  Entries are
 * still freed after RCU by their owners, so xa_find() under
 * rcu_read_lock() hands out an object that stays valid, as in the kernel.
 */
#ifndef _UCORE_URHASH_H
#define _UCORE_URHASH_H

#define UCORE_RHT_SIZE	1024

struct rhash_head {
	struct rhash_head __rcu *next;
};

struct rhashtable;

struct rhashtable_compare_arg {
	struct rhashtable *ht;
	const void *key;
};

typedef u32 (*rht_hashfn_t)(const void *data, u32 len, u32 seed);
typedef u32 (*rht_obj_hashfn_t)(const void *data, u32 len, u32 seed);
typedef int (*rht_obj_cmpfn_t)(struct rhashtable_compare_arg *arg,
			       const void *obj);

struct rhashtable_params {
	u16 nelem_hint;
	u16 key_len;
	u16 key_offset;
	u16 head_offset;
	unsigned int max_size;
	u16 min_size;
	bool automatic_shrinking;
	rht_hashfn_t hashfn;
	rht_obj_hashfn_t obj_hashfn;
	rht_obj_cmpfn_t obj_cmpfn;
};

struct bucket_table {
	unsigned int size;
	struct rhash_head __rcu *buckets[];
};

struct rhashtable {
	struct bucket_table __rcu *tbl;
	struct rhashtable_params p;
	pthread_mutex_t lock;
	atomic_t nelems;
};

int rhashtable_init(struct rhashtable *ht, const struct rhashtable_params *p);
void rhashtable_free_and_destroy(struct rhashtable *ht,
				 void (*free_fn)(void *ptr, void *arg),
				 void *arg);
void *ucore_rht_lookup(struct rhashtable *ht, const void *key,
		       const struct rhashtable_params *p);
void *ucore_rht_insert(struct rhashtable *ht, const void *key,
		       struct rhash_head *obj, const struct rhashtable_params *p);
int ucore_rht_remove(struct rhashtable *ht, struct rhash_head *obj,
		     const struct rhashtable_params *p);

/* Caller is in an RCU read-side section. */
#define rhashtable_lookup(ht, key, params)	ucore_rht_lookup((ht), (key), &(params))
#define rhashtable_lookup_fast(ht, key, params)	ucore_rht_lookup((ht), (key), &(params))
/* NULL when inserted, the present object, or ERR_PTR(-ENOMEM) (injected). */
#define rhashtable_lookup_get_insert_key(ht, key, obj, params) \
	ucore_rht_insert((ht), (key), (obj), &(params))
#define rhashtable_remove_fast(ht, obj, params)	ucore_rht_remove((ht), (obj), &(params))

/* ---- xarray: the id map ---- */
struct xa_limit { u32 min, max; };
#define XA_LIMIT(lo, hi)	((struct xa_limit){ .min = (lo), .max = (hi) })
#define xa_limit_32b		XA_LIMIT(0, UINT_MAX)
#define XA_FLAGS_ALLOC1		1u
#define XA_FLAGS_ACCOUNT	2u
#define XA_CHUNK_SIZE		64
struct xa_node { unsigned char opaque[576]; };	/* the kernel's size on x86-64 */

struct ucore_xent;

struct xarray {
	pthread_mutex_t lock;
	unsigned int flags;
	u32 count, cap;
	struct ucore_xent *ents;	/* sorted by id */
};

#define XA_PRESENT	0

void xa_init_flags(struct xarray *xa, unsigned int flags);
int xa_alloc_cyclic(struct xarray *xa, u32 *id, void *entry,
		    struct xa_limit limit, u32 *next, gfp_t gfp);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_erase(struct xarray *xa, unsigned long index);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max,
	      unsigned int filter);
void xa_destroy(struct xarray *xa);

#endif /* _UCORE_URHASH_H */
