// SPDX-License-Identifier: GPL-2.0
/*
 * The key table of a store: an rhashtable of struct stm_key by key bytes.
 * LIST walks the same table in the order of the keys' hashes with their
 * bits reversed (see stm_table_group()), so a cursor in that order
 * survives table resizes and concurrent churn without a second index.
 *
 * Keys up to STM_KEY_SLABS * 8 bytes come from the module's own slab
 * caches, sized to the node (56 bytes for an 8-byte key, where kmalloc()
 * would round to 64); longer ones from kmalloc().
 */
#include <linux/bitrev.h>
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

/* Slab caches for keys of 1..8, 9..16, 17..24 and 25..32 bytes. */
#define STM_KEY_SLABS	4

static struct kmem_cache *stm_key_slab[STM_KEY_SLABS];

static const char * const stm_key_slab_name[STM_KEY_SLABS] = {
	"stm_key8", "stm_key16", "stm_key24", "stm_key32",
};

/* The cache for a key of @klen bytes, or NULL for kmalloc(). */
static struct kmem_cache *stm_key_cache(u32 klen)
{
	u32 i = (klen - 1) / 8;

	return i < STM_KEY_SLABS ? stm_key_slab[i] : NULL;
}

int stm_keys_init(void)
{
	struct stm_key *k;
	u32 i;

	BUILD_BUG_ON(STMDEV_KEY_MAX > U8_MAX);
	for (i = 0; i < STM_KEY_SLABS; i++) {
		stm_key_slab[i] = kmem_cache_create(stm_key_slab_name[i],
						    struct_size(k, key, (i + 1) * 8),
						    __alignof__(struct stm_key),
						    SLAB_ACCOUNT, NULL);
		if (!stm_key_slab[i]) {
			stm_keys_exit();
			return -ENOMEM;
		}
	}
	return 0;
}

/* After rcu_barrier(): no key is left to free. */
void stm_keys_exit(void)
{
	u32 i;

	for (i = 0; i < STM_KEY_SLABS; i++) {
		kmem_cache_destroy(stm_key_slab[i]);
		stm_key_slab[i] = NULL;
	}
}

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
 * The kernel memory one key takes: its node, as its slab cache sizes it
 * (its key length rounded up to 8) or kmalloc() rounds it.
 */
size_t stm_key_cost(u32 klen)
{
	struct stm_key *k;

	if (klen && (klen - 1) / 8 < STM_KEY_SLABS)
		return struct_size(k, key, ALIGN(klen, 8));
	return kmalloc_size_roundup(struct_size(k, key, klen));
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
	return rhashtable_init(&s->table, &stm_table_params);
}

/* A key's node back to where it came from: no reader can reach it. */
static void stm_key_release(struct stm_key *k)
{
	struct kmem_cache *c = stm_key_cache(k->len);

	if (c)
		kmem_cache_free(c, k);
	else
		kfree(k);
}

static void stm_key_free_rcu(struct rcu_head *head)
{
	stm_key_release(container_of(head, struct stm_key, rcu));
}

static void stm_table_free_key(void *ptr, void *arg)
{
	struct stm_key *k = ptr;
	struct stm_val *v = rcu_dereference_raw(k->val);

	if (k->state == STM_HEAP && v)
		stm_val_put(v);
	stm_key_release(k);
}

/* No fd and no reader is left: nothing races with this. */
void stm_table_destroy(struct stm_store *s)
{
	rhashtable_free_and_destroy(&s->table, stm_table_free_key, NULL);
}

/* Caller is in an RCU read-side section. */
struct stm_key *stm_key_lookup(struct stm_store *s, const struct stm_kref *kr)
{
	return rhashtable_lookup(&s->table, kr, stm_table_params);
}

/* A new key, locked from birth and absent (no value).  May sleep. */
struct stm_key *stm_key_alloc(struct stm_store *s, const struct stm_kref *kr)
{
	struct kmem_cache *c = stm_key_cache(kr->len);
	struct stm_key *k;

	if (c)
		k = kmem_cache_alloc(c, GFP_KERNEL_ACCOUNT);
	else
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

/*
 * Free a key no longer in the table (or never inserted), after RCU.  It is
 * dead or was never seen: its inline bytes become the RCU head.
 */
void stm_key_free(struct stm_store *s, struct stm_key *k)
{
	struct stm_val *v = rcu_dereference_protected(k->val, 1);

	if (k->state == STM_HEAP && v)
		stm_val_put(v);
	call_rcu(&k->rcu, stm_key_free_rcu);
}

/*
 * LIST's order: a key's position is its hash with the bits reversed.  A
 * bucket of a table of 2^b buckets holds the keys whose hash ends in the
 * bucket's b-bit index, that is whose position starts with those bits
 * reversed: one run of positions, whatever the table's size.
 */
static u64 stm_list_pos(const struct stm_key *k)
{
	return bitrev32(READ_ONCE(k->hash));
}

/* Note @k at position @p if it is no later than the best so far. */
static void stm_group_note(struct stm_key *k, u64 p, u64 *best,
			   struct stm_key **ks, u32 *n)
{
	u32 i;

	if (p > *best)
		return;
	if (p < *best) {
		*best = p;
		*n = 0;
	}
	for (i = 0; i < *n; i++)
		if (ks[i] == k)
			return;		/* seen twice while it moved */
	if (*n < STM_GROUP_MAX)
		ks[(*n)++] = k;
}

/*
 * Scan bucket @idx of @t for keys at positions in [@lo, @hi).  A chain
 * that ends in another bucket's marker had an entry moved under us by a
 * rehash: walk it again, as rhashtable's own lookup does.  Returns false
 * once @budget visits are spent.
 */
static bool stm_chain_scan(struct bucket_table *t, u32 idx, u64 lo, u64 hi,
			   u64 *best, struct stm_key **ks, u32 *n, u32 *visits,
			   u32 budget)
{
	struct rhash_lock_head __rcu *const *bkt = rht_bucket(t, idx);
	struct rhash_head *he;
	u64 p;

	do {
		for (he = rht_ptr_rcu(bkt); !rht_is_a_nulls(he);
		     he = rcu_dereference(he->next)) {
			struct stm_key *k = container_of(he, struct stm_key, node);

			if (++*visits > budget)
				return false;
			p = stm_list_pos(k);
			if (p >= lo && p < hi)
				stm_group_note(k, p, best, ks, n);
		}
	} while (he != RHT_NULLS_MARKER(bkt));
	return true;
}

/*
 * From position *@pos on, find the first one that holds keys: set *@pos to
 * it and @ks[0..*@n) to its keys (those present in the table for the whole
 * scan, and perhaps others), and return 1.  Return 0 at the end of the
 * order (*@pos is STM_LIST_END), or -EAGAIN once *@visits passes @budget
 * (*@pos is where to go on).  Each chain entry and bucket is a visit.
 * Caller is in an RCU read-side section.
 *
 * The run of positions is searched in every table of a resize under way
 * (the table, then each future table), the way a lookup searches: an entry
 * moving between them is found in one or the other.  Keys
 * sharing one position beyond STM_GROUP_MAX would not all be listed: that
 * takes that many keys with one 32-bit hash under the store's random seed.
 */
int stm_table_group(struct stm_store *s, u64 *pos, struct stm_key **ks,
		    u32 *n, u32 *visits, u32 budget)
{
	struct bucket_table *tbl, *t;
	u64 lo = *pos, hi, best, p, w;
	u32 nt;

	while (lo < STM_LIST_END) {
		if (++*visits > budget)
			break;
		tbl = rcu_dereference(s->table.tbl);
		/* The run of lo's bucket in the current table. */
		w = STM_LIST_END / tbl->size;
		hi = ALIGN_DOWN(lo, w) + w;
		best = hi;
		*n = 0;
		for (t = tbl, nt = 0; t && nt < 4; nt++) {
			/* A bigger future table splits the run: each part. */
			w = STM_LIST_END / t->size;
			for (p = ALIGN_DOWN(lo, w); p < hi; p += w)
				if (!stm_chain_scan(t, bitrev32(p) & (t->size - 1),
						    lo, hi, &best, ks, n,
						    visits, budget))
					goto out_budget;
			smp_rmb();	/* see any new table, as a lookup does */
			t = rcu_dereference(t->future_tbl);
		}
		if (t)
			goto out_budget;	/* more resizes than we follow */
		if (*n) {
			*pos = best;
			return 1;
		}
		lo = hi;
	}
	*pos = lo;
	return lo < STM_LIST_END ? -EAGAIN : 0;

out_budget:
	*pos = lo;
	return -EAGAIN;
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
