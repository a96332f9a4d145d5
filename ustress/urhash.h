/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace twin of the kernel table table.c uses, with the same calls
 * and contracts (ucore.c implements it):
 *
 * rhashtable: lookups lock-free under RCU, inserts and removals under one
 * mutex, intrusive singly linked chains published with release stores.
 * It does not resize: the bucket array is fixed at UCORE_RHT_SIZE, which
 * is plenty for the small key sets a stress run uses (table.c only reads
 * tbl->size, for the memory charge).  The kernel's resize machinery is
 * therefore not under test here.  LIST walks its chains through the
 * kernel's read-side bucket helpers (rht_bucket(), rht_ptr_rcu()), which
 * have twins below.
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
	struct bucket_table __rcu *future_tbl;	/* never: no resizes */
	struct rhash_head __rcu *buckets[];
};

/*
 * The chain walk LIST does (table.c): the twin's chains end in NULL, which
 * is every bucket's "nulls marker", and its buckets carry no lock bit.
 */
#define rhash_lock_head			rhash_head
#define RHT_NULLS_MARKER(bkt)		((struct rhash_head *)NULL)
#define rht_is_a_nulls(he)		(!(he))
#define rht_ptr_rcu(bkt)		rcu_dereference(*(bkt))
#define rht_bucket(tbl, idx)		(&(tbl)->buckets[idx])

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

#endif /* _UCORE_URHASH_H */
