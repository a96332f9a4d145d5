// SPDX-License-Identifier: GPL-2.0
/*
 * The key table of a store: a hash table of struct stm_key owned by the
 * module.  Lookups take no lock (RCU); inserts, removals and a resize's
 * moves take the store's tbl_lock.  The buckets are one array of pointers
 * sized to a power of two and allocated exactly (no header in it, so
 * kvmalloc() does not round it up to the next power of two of pages), at a
 * load of 1/2 to 2 keys per bucket: 4 to 16 bytes per key.
 *
 * A resize (stm_table_resize(), in process context after a commit that
 * changed the key count, or the next one after it could not run) makes
 * a new table, hangs it on the old one as its future, moves the old
 * buckets one at a time under tbl_lock and then publishes the new table.
 * Each move is a write section of the old table's sequence count: a
 * reader that walked a chain while one moved walks it again, and a reader
 * that does not find a key in a table looks in its future table too.
 * Inserts and removals during a resize go to the old bucket, or to the new
 * one once the old has moved.
 *
 * LIST walks the table in the order of the keys' hashes with their bits
 * reversed (see stm_table_group()), so a cursor in that order survives
 * resizes and concurrent churn without a second index.
 *
 * Keys up to STM_KEY_SLABS * 8 bytes come from the module's own slab
 * caches, sized to the node (56 bytes for an 8-byte key, where kmalloc()
 * would round to 64); longer ones from kmalloc().
 */
#include <linux/bitrev.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include "stm.h"

/*
 * Buckets: at least, at most, and keys per bucket before growing.  (The
 * ustress builds define STM_TBL_MIN 4 and STM_TBL_CHURN: the table then
 * resizes after every commit, between 4 and 64 buckets: STM_RESIZE_ALWAYS.)
 */
#ifndef STM_TBL_MIN
#define STM_TBL_MIN	64
#endif
#define STM_TBL_MAX	(1U << 27)	/* a 1 GiB array: kvmalloc() takes < 2 GiB */
#define STM_TBL_LOAD	2

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

/* The table size stm_table_resize() aims at for @n keys, from @size. */
static u32 stm_tbl_want(u32 size, u64 n)
{
#ifdef STM_TBL_CHURN
	/* ustress: another size every time, so that resizes never stop */
	return size < 64 ? size * 2 : STM_TBL_MIN;
#endif
	while (n > (u64)size * STM_TBL_LOAD && size < STM_TBL_MAX)
		size *= 2;
	while (n < size / 4 && size > STM_TBL_MIN)
		size /= 2;
	return size;
}

static size_t stm_tbl_cost(u32 size)
{
	return kmalloc_size_roundup(sizeof(struct stm_tbl)) +
	       stm_kv_cost(array_size(size, sizeof(struct stm_key *)));
}

/*
 * The key table for @nkeys keys: at the size it has now, or the size it
 * grows to, as kmalloc() and kvmalloc() round it.
 */
size_t stm_table_cost(struct stm_store *s, u64 nkeys)
{
	struct stm_tbl *t;
	u32 size;

	rcu_read_lock();
	t = rcu_dereference(s->tbl);
	size = t ? t->size : STM_TBL_MIN;
	rcu_read_unlock();
	return stm_tbl_cost(max(size, stm_tbl_want(size, nkeys)));
}

static struct stm_tbl *stm_tbl_alloc(u32 size)
{
	struct stm_tbl *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);

	if (!t)
		return NULL;
	t->size = size;
	t->b = kvmalloc_array(size, sizeof(*t->b), GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!t->b) {
		kfree(t);
		return NULL;
	}
	return t;
}

static void stm_tbl_free(struct stm_tbl *t)
{
	kvfree(t->b);
	kfree(t);
}

static void stm_tbl_free_rcu(struct rcu_head *head)
{
	stm_tbl_free(container_of(head, struct stm_tbl, rcu));
}

int stm_table_init(struct stm_store *s)
{
	struct stm_tbl *t = stm_tbl_alloc(STM_TBL_MIN);

	if (!t)
		return -ENOMEM;
	spin_lock_init(&s->tbl_lock);
	mutex_init(&s->resize_lock);
	s->tbl_n = 0;
	RCU_INIT_POINTER(s->tbl, t);
	return 0;
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

static void stm_table_free_key(struct stm_key *k)
{
	struct stm_val *v = rcu_dereference_raw(k->val);

	if (k->state == STM_HEAP && v)
		stm_val_put(v);
	stm_key_release(k);
}

/*
 * No fd and no reader is left, and no resize runs (they run inside a
 * command): nothing races with this.
 */
void stm_table_destroy(struct stm_store *s)
{
	struct stm_tbl *t = rcu_dereference_protected(s->tbl, 1);
	struct stm_key *k, *next;
	u32 i;

	if (!t)
		return;
	for (i = 0; i < t->size; i++) {
		for (k = rcu_dereference_protected(t->b[i], 1); k; k = next) {
			next = rcu_dereference_protected(k->next, 1);
			stm_table_free_key(k);
		}
	}
	stm_tbl_free(t);
	RCU_INIT_POINTER(s->tbl, NULL);
	mutex_destroy(&s->resize_lock);
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

/* The bucket of @hash that inserts and removals use.  Under tbl_lock. */
static struct stm_key __rcu **stm_tbl_slot(struct stm_store *s, u32 hash)
{
	struct stm_tbl *t = rcu_dereference_protected(s->tbl, lockdep_is_held(&s->tbl_lock));
	struct stm_tbl *f = rcu_dereference_protected(t->future,
						      lockdep_is_held(&s->tbl_lock));

	if (f && (hash & (t->size - 1)) < t->moved)
		t = f;
	return &t->b[hash & (t->size - 1)];
}

/*
 * Insert @k unless its key is present.  Returns NULL when inserted, the
 * present key otherwise.  Atomic context allowed.
 */
struct stm_key *stm_key_insert(struct stm_store *s, struct stm_key *k)
{
	struct stm_key __rcu **slot;
	struct stm_key *e;

	spin_lock(&s->tbl_lock);
	slot = stm_tbl_slot(s, k->hash);
	for (e = rcu_dereference_protected(*slot, 1); e;
	     e = rcu_dereference_protected(e->next, 1)) {
		if (e->hash == k->hash && e->len == k->len &&
		    !memcmp(e->key, k->key, k->len)) {
			spin_unlock(&s->tbl_lock);
			return e;
		}
	}
	RCU_INIT_POINTER(k->next, rcu_dereference_protected(*slot, 1));
	rcu_assign_pointer(*slot, k);	/* publishes the key's fields */
	WRITE_ONCE(s->tbl_n, s->tbl_n + 1);
	WRITE_ONCE(s->inserts, s->inserts + 1);	/* persist.c */
	spin_unlock(&s->tbl_lock);
	return NULL;
}

/*
 * Unlink an inserted key the caller holds locked; its next pointer stays,
 * for readers on it.  Atomic context allowed.
 */
void stm_key_remove(struct stm_store *s, struct stm_key *k)
{
	struct stm_key __rcu **pp;
	struct stm_key *e;

	WRITE_ONCE(k->dead, 1);
	spin_lock(&s->tbl_lock);
	for (pp = stm_tbl_slot(s, k->hash); (e = rcu_dereference_protected(*pp, 1));
	     pp = &e->next) {
		if (e == k) {
			rcu_assign_pointer(*pp, rcu_dereference_protected(k->next, 1));
			WRITE_ONCE(s->tbl_n, s->tbl_n - 1);
			break;
		}
	}
	spin_unlock(&s->tbl_lock);
}

/* Move bucket @i of @t into @f.  Under tbl_lock. */
static void stm_tbl_move(struct stm_tbl *t, struct stm_tbl *f, u32 i)
{
	struct stm_key *k, *next;
	struct stm_key __rcu **dst;

	WRITE_ONCE(t->seq, t->seq + 1);
	smp_wmb();	/* the count before the chains */
	for (k = rcu_dereference_protected(t->b[i], 1); k; k = next) {
		next = rcu_dereference_protected(k->next, 1);
		dst = &f->b[k->hash & (f->size - 1)];
		/*
		 * A release, not RCU_INIT_POINTER(): readers still walking
		 * the old chain reach @k and follow k->next into @dst's
		 * chain, whose keys they must see initialised (ustress
		 * under TSan caught the plain store).
		 */
		rcu_assign_pointer(k->next, rcu_dereference_protected(*dst, 1));
		rcu_assign_pointer(*dst, k);
		rcu_assign_pointer(t->b[i], next);
	}
	t->moved = i + 1;
	smp_wmb();	/* the chains before the count */
	WRITE_ONCE(t->seq, t->seq + 1);
}

/*
 * Bring the table to the size its key count wants: grow past STM_TBL_LOAD
 * keys per bucket, shrink below a quarter of one.  Process context, no
 * lock held; one resize at a time.  Called after a commit that changed the
 * key count, or by the next commit once s->resize_due is set: by an
 * io_uring commit that could not sleep, by a caller that found a resize
 * running (it may have read an older count), or when memory ran out.
 */
void stm_table_resize(struct stm_store *s)
{
	struct stm_tbl *t, *f;
	bool due = true;
	u32 size, i;

	WRITE_ONCE(s->resize_due, false);
	smp_mb();	/* cleared before the count is read: see stm_commit() */
	rcu_read_lock();
	t = rcu_dereference(s->tbl);
	size = t->size;
	rcu_read_unlock();
	if (stm_tbl_want(size, READ_ONCE(s->tbl_n)) == size)
		return;
	if (!mutex_trylock(&s->resize_lock))
		goto out;
	/* Only a resize, which we now exclude, replaces the table. */
	t = rcu_dereference_protected(s->tbl, lockdep_is_held(&s->resize_lock));
	size = stm_tbl_want(t->size, READ_ONCE(s->tbl_n));
	due = size != t->size;
	if (!due)
		goto out_unlock;
	f = stm_tbl_alloc(size);
	if (!f)
		goto out_unlock;
	spin_lock(&s->tbl_lock);
	rcu_assign_pointer(t->future, f);
	spin_unlock(&s->tbl_lock);
	for (i = 0; i < t->size; i++) {
		spin_lock(&s->tbl_lock);
		stm_tbl_move(t, f, i);
		spin_unlock(&s->tbl_lock);
		if (!(i % 64))
			cond_resched();
	}
	spin_lock(&s->tbl_lock);
	rcu_assign_pointer(s->tbl, f);
	spin_unlock(&s->tbl_lock);
	/* Readers still on @t find every key through its future. */
	call_rcu(&t->rcu, stm_tbl_free_rcu);
	due = false;
out_unlock:
	mutex_unlock(&s->resize_lock);
out:
	if (due)
		WRITE_ONCE(s->resize_due, true);	/* the next commit looks */
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
 * Scan bucket @idx of @t for keys at positions in [@lo, @hi), again when
 * the bucket moved meanwhile.  Returns false once @budget visits are spent.
 */
static bool stm_chain_scan(struct stm_tbl *t, u32 idx, u64 lo, u64 hi,
			   u64 *best, struct stm_key **ks, u32 *n, u32 *visits,
			   u32 budget)
{
	struct stm_key *k;
	unsigned int seq;
	u64 p;

	do {
		seq = stm_tbl_begin(t);
		for (k = rcu_dereference(t->b[idx]); k; k = rcu_dereference(k->next)) {
			if (++*visits > budget)
				return false;
			p = stm_list_pos(k);
			if (p >= lo && p < hi)
				stm_group_note(k, p, best, ks, n);
		}
	} while (stm_tbl_retry(t, seq));
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
 * (the table, then each future table), the way a lookup searches: a key
 * moving between them is found in one or the other.  Keys
 * sharing one position beyond STM_GROUP_MAX would not all be listed: that
 * takes that many keys with one 32-bit hash under the store's random seed.
 */
int stm_table_group(struct stm_store *s, u64 *pos, struct stm_key **ks,
		    u32 *n, u32 *visits, u32 budget)
{
	struct stm_tbl *tbl, *t;
	u64 lo = *pos, hi, best, p, w;
	u32 nt;

	while (lo < STM_LIST_END) {
		if (++*visits > budget)
			break;
		tbl = rcu_dereference(s->tbl);
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
			t = rcu_dereference(t->future);
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
