/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stm.ko internals: stores, keys, values and the commands on them.
 *
 * Concurrency in one paragraph (TL2): every store has a commit clock.  A
 * commit locks its write set, key by key in one global order (hash, length,
 * bytes), with a lock bit in each key's version word, validates its read
 * set, takes a new clock value and publishes its writes with that value as
 * their version.  Readers take no lock: under RCU they read the clock,
 * then each key's version word and value pointer, and retry until every
 * key they saw is unlocked and not newer than the clock they started at.
 * Values are immutable and refcounted, so a reader can pin one under RCU
 * and copy it to user memory after leaving the read-side section.
 */
#ifndef _STM_H
#define _STM_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/refcount.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/poll.h>
#include <linux/percpu.h>
#include <linux/jhash.h>
#include <linux/bitops.h>
#include <linux/kernel.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/stmdev.h>

/* Module parameters (main.c). */
extern unsigned int stm_max_value_size;
extern unsigned int stm_max_keys_per_store;
extern unsigned long stm_max_bytes_per_store;
extern unsigned int stm_max_stores;
extern unsigned int stm_max_keys_per_call;
extern unsigned int stm_max_stores_per_user;
extern unsigned long stm_max_keys_per_user;
extern unsigned long stm_max_mem_per_user;
extern unsigned int stm_max_waits_per_fd;
extern unsigned int stm_max_waits_per_user;
extern unsigned int stm_max_reserve_ms;
extern unsigned int stm_max_reserved_per_user;

/*
 * A user, by kuid, and what is charged to it (user.c): the stores it owns,
 * their keys and kernel memory, and the wait entries of the fds it opened.
 */
struct stm_user {
	struct hlist_node node;		/* stm_users, under stm_users_lock */
	refcount_t ref;
	kuid_t uid;
	atomic_t stores;
	atomic_t waits;
	atomic_t resv_keys;		/* keys its fds reserve (reserve.c) */
	atomic64_t keys;
	atomic64_t mem;			/* bytes */
};

/* An immutable value; freed after a grace period once unreferenced. */
struct stm_val {
	refcount_t ref;
	u32 len;
	struct rcu_head rcu;
	u8 data[];
};

/* Low bit of stm_key.lockver: a commit holds the key. */
#define STM_LOCKED	1ULL

/*
 * Values up to this size live inside the key, published like any other
 * field under the key's version word: a commit of a small value allocates
 * and frees nothing, and a reader copies it without pinning anything.
 */
#define STM_INLINE_MAX	16

/* stm_key.state, changed only by the commit holding the key */
enum {
	STM_ABSENT,			/* a placeholder: no value */
	STM_INLINE,			/* value in inl[0..ilen) */
	STM_HEAP,			/* value in *val */
};

/*
 * A key: 48 bytes and its bytes (a 56-byte object for an 8-byte key, from
 * its own slab cache: table.c).  Once the key is dead (unlinked and
 * unlocked at a new version) its inline value bytes are no longer read as
 * a value by anyone: a reader that copied them rechecks the version word
 * and throws the copy away, so the RCU head that frees the key may share
 * their room.
 */
struct stm_key {
	struct stm_key __rcu *next;	/* the store's table: its bucket chain */
	u64 lockver;			/* version << 1 | STM_LOCKED */
	struct stm_val __rcu *val;	/* STM_HEAP: the value */
	u32 hash;
	u8 len;				/* 1..STMDEV_KEY_MAX */
	u8 dead;			/* removed from the table */
	u8 state;			/* STM_ABSENT, STM_INLINE, STM_HEAP */
	u8 ilen;
	union {
		u8 inl[STM_INLINE_MAX];	/* live key: an inline value */
		struct rcu_head rcu;	/* dead key: its freeing */
	};
	u8 key[];
};

/* A key as looked up: bytes plus the store's hash of them. */
struct stm_kref {
	const u8 *p;
	u32 len;
	u32 hash;
};

/* Wait-queue buckets per store, by key hash: wakes touch only one. */
#define STM_WAIT_BUCKETS	256

struct stm_family {
	char name[STMDEV_FAMILY_NAME_MAX];
	atomic64_t attempts;
	atomic64_t commits;
	atomic64_t conflicts;
	atomic64_t busy;
	atomic64_t waits;
	atomic64_t retries;
};

/* Per-CPU counters: commits on different CPUs share no cache line. */
struct stm_pcpu_stats {
	u64 commits;
	u64 conflicts;
	u64 busy;
	u64 reads;
	u64 waits;
	u64 wakeups;
};

#define stm_stat_inc(s, field)	this_cpu_inc((s)->stats->field)

/*
 * A declared range (range.c): a prefix whose present keys the store keeps
 * on a list, and a version word like a key's that every commit creating
 * or deleting a key under the prefix holds locked while it applies, and
 * leaves at its own version.
 */
struct stm_rmem {
	struct stm_rmem __rcu *next;
	struct stm_key *k;		/* present while it is on the list */
	struct rcu_head rcu;
};

struct stm_range {
	u64 lockver;			/* version << 1 | STM_LOCKED */
	struct stm_rmem __rcu *head;	/* the members, under the lock */
	u32 n;				/* members, under the lock */
	u8 ready;			/* members all collected */
	u8 len;
	u8 prefix[];
};

/* A commit's part in the ranges: what it holds, what it will add. */
struct stm_rctx {
	u64 want;			/* ranges to lock (bit = index) */
	u64 held;			/* ranges it holds locked */
	u32 need;			/* member records its writes add */
	u32 npool;
	struct stm_rmem *pool;		/* records allocated ahead */
	s64 dmem;			/* their charge, net of deletes */
};

struct stm_tbl;
struct stm_persist;

struct stm_store {
	struct kref ref;		/* the registry's, and each fd's */
	struct list_head link;		/* stm_ns.stores, under its lock */
	u64 id;				/* LIST_STORES cursor order */
	char name[STMDEV_NAME_MAX];
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	bool unlinked;			/* under the namespace's lock */
	u32 seed;
	struct stm_user *owner;		/* charged for keys and memory */
	atomic64_t mem;			/* kernel bytes charged to the owner */
	atomic64_t tbl_mem;		/* of which the key table's buckets */

	struct stm_tbl __rcu *tbl;	/* struct stm_key by hash (table.c) */
	spinlock_t tbl_lock;		/* inserts, removals, a resize's moves */
	struct mutex resize_lock;	/* one resize at a time */
	u32 tbl_n;			/* keys in the table, under tbl_lock */
	bool resize_due;		/* an io_uring commit changed tbl_n */
	u64 inserts;			/* keys ever inserted, under tbl_lock */

	atomic64_t clock;		/* commit clock */
	atomic64_t del_clock;		/* clock of the newest delete */
	atomic64_t nkeys;
	atomic64_t nbytes;

	struct stm_pcpu_stats __percpu *stats;

	wait_queue_head_t wq[STM_WAIT_BUCKETS];

	struct mutex fam_lock;		/* adding families */
	u32 nfamilies;			/* published with release */
	struct stm_family families[STMDEV_FAMILIES_MAX];

	struct mutex range_lock;	/* declaring ranges */
	u32 nranges;			/* published with release */
	struct stm_range *ranges[STMDEV_RANGES_MAX];

	/* Key reservations (reserve.c) */
	atomic_t nresv;			/* live ones: 0 is the fast path */
	spinlock_t resv_lock;		/* resv, resv_gen, stm_file.resv */
	struct list_head resv;		/* struct stm_resv */
	u32 resv_gen;			/* reservations ended so far */
	wait_queue_head_t resv_wq;	/* commits waiting for one to end */
};

/* One key as a reader saw it: a pinned heap value, or inline bytes. */
struct stm_rslot {
	struct stm_kref kr;
	struct stm_val *val;		/* pinned, when the value is on the heap */
	u64 ver;			/* 0 when absent */
	u32 vlen;			/* the value's length */
	bool present;
	u8 inl[STM_INLINE_MAX];		/* an inline value's bytes */
};

struct stm_waitset;

/* One key of a wait set, queued on the store's bucket for its hash. */
struct stm_waiter {
	struct wait_queue_entry wq;
	struct stm_waitset *set;
	u32 hash;
};

/* Keys and the versions a waiter saw; woken when one of them is written. */
struct stm_waitset {
	struct stm_store *s;
	struct stm_file *f;		/* charged for the entries, if set */
	u32 charged;			/* how many */
	struct task_struct *task;	/* WAIT: the sleeping task */
	wait_queue_head_t *notify;	/* WATCH: the fd's poll head */
	void (*kick)(void *arg);	/* io_uring WAIT: set once armed */
	void *kick_arg;
	bool all;			/* STMDEV_WAIT_ALL */
	bool woken;
	u32 n;				/* entries */
	u32 nk;				/* distinct keys: rs[] and w[] */
	u64 *seen;			/* per entry */
	u32 *map;			/* per entry: its key in rs[] */
	struct stm_rslot *rs;
	u8 *keys;
	struct stm_waiter w[];
};

/* One open /dev/stm. */
struct stm_file {
	struct net *net;		/* the opener's: where names are looked up */
	struct stm_user *user;		/* the opener: charged for wait entries */
	atomic_t nwaits;		/* wait and watch entries queued */
	struct stm_store *store;	/* set once by ATTACH */
	u32 flags;			/* STMDEV_ATTACH_* */
	struct mutex watch_lock;	/* watch */
	struct stm_waitset *watch;	/* WATCH set for poll() */
	wait_queue_head_t poll_wq;
	struct mutex persist_lock;	/* persist */
	struct stm_persist *persist;	/* EXPORT's snapshot (persist.c) */
	struct stm_resv *resv;		/* RESERVE: under store->resv_lock */
	u64 resv_next;			/* ns: no new reservation before */
};

/* device.c */
extern const struct file_operations stm_fops;

/* store.c */
int stm_stores_init(void);
void stm_stores_exit(void);
int stm_store_attach(struct stm_file *f, struct stmdev_attach *a);
int stm_store_unlink(struct stm_file *f, struct stmdev_unlink *u);
int stm_store_info(struct stm_file *f, struct stmdev_info *info);
int stm_store_list(struct stm_file *f, struct stmdev_list_stores *ls);
int stm_store_stats(struct stm_file *f, struct stmdev_stats *st);
void stm_store_put(struct stm_store *s);
bool stm_name_ok(const char *name, size_t len);

/* family.c */
int stm_family_add(struct stm_file *f, struct stmdev_family *fam);
int stm_family_stats(struct stm_file *f, struct stmdev_family_stats *fs);
struct stm_family *stm_family_get(struct stm_store *s, u32 id);

/* user.c */
struct stm_user *stm_user_get(kuid_t uid);
void stm_user_put(struct stm_user *u);
bool stm_charge_add(atomic64_t *v, s64 delta, u64 max);
int stm_user_add_store(struct stm_user *u);
void stm_user_del_store(struct stm_user *u);
int stm_user_charge(struct stm_user *u, s64 keys, s64 mem);
int stm_waits_charge(struct stm_file *f, u32 n);
void stm_waits_uncharge(struct stm_file *f, u32 n);
void stm_waits_recharge(struct stm_file *f, u32 n);

/* table.c */
int stm_keys_init(void);
void stm_keys_exit(void);
size_t stm_kv_cost(size_t size);
size_t stm_key_cost(u32 klen);
size_t stm_val_cost(u32 vlen);
size_t stm_table_cost(struct stm_store *s, u64 nkeys);
/* ustress's STM_TBL_CHURN: every commit resizes, racing the lookups. */
#ifdef STM_TBL_CHURN
#define STM_RESIZE_ALWAYS	true
#else
#define STM_RESIZE_ALWAYS	false
#endif
int stm_table_init(struct stm_store *s);
void stm_table_destroy(struct stm_store *s);

/* A key's hash: its bucket, wait queue and place in the lock order. */
static inline u32 stm_hash(const struct stm_store *s, const u8 *p, u32 len)
{
	return jhash(p, len, s->seed);
}

/*
 * The key table (table.c): a bucket array of RCU chains, resized by moving
 * one bucket at a time to a @future table under a seqcount.  The lookup is
 * inline: every command makes one per key.
 */
struct stm_tbl {
	u32 size;			/* buckets, a power of two */
	u32 moved;			/* buckets moved to @future so far */
	unsigned int seq;		/* odd while a bucket moves */
	struct stm_tbl __rcu *future;	/* a resize's new table */
	struct rcu_head rcu;
	struct stm_key __rcu **b;	/* the buckets */
};

/* A reader's section of @t: waits out a bucket that is moving. */
static inline unsigned int stm_tbl_begin(struct stm_tbl *t)
{
	unsigned int seq;

	/* Pairs with the smp_wmb() after a move: the count, then the chains. */
	while ((seq = smp_load_acquire(&t->seq)) & 1)
		cpu_relax();
	return seq;
}

/* Did a bucket of @t move since stm_tbl_begin() returned @seq? */
static inline bool stm_tbl_retry(struct stm_tbl *t, unsigned int seq)
{
	smp_rmb();	/* the chain before the count */
	return READ_ONCE(t->seq) != seq;
}

/* Equal key bytes, a word at a time: keys are short, memcmp() a call. */
static inline bool stm_key_eq(const u8 *a, const u8 *b, u32 len)
{
	for (; len >= sizeof(u64); len -= sizeof(u64), a += sizeof(u64),
	     b += sizeof(u64))
		if (get_unaligned((const u64 *)a) != get_unaligned((const u64 *)b))
			return false;
	for (; len; len--, a++, b++)
		if (*a != *b)
			return false;
	return true;
}

static inline struct stm_key *stm_chain_find(struct stm_tbl *t,
					     const struct stm_kref *kr)
{
	struct stm_key *k;

	for (k = rcu_dereference(t->b[kr->hash & (t->size - 1)]); k;
	     k = rcu_dereference(k->next))
		if (READ_ONCE(k->hash) == kr->hash && READ_ONCE(k->len) == kr->len &&
		    stm_key_eq(k->key, kr->p, kr->len))
			return k;
	return NULL;
}

/* Caller is in an RCU read-side section. */
static inline struct stm_key *stm_key_lookup(struct stm_store *s,
					     const struct stm_kref *kr)
{
	struct stm_tbl *t;
	struct stm_key *k;
	unsigned int seq;

	for (t = rcu_dereference(s->tbl); t; t = rcu_dereference(t->future)) {
		do {
			seq = stm_tbl_begin(t);
			k = stm_chain_find(t, kr);
			if (k)
				return k;
		} while (stm_tbl_retry(t, seq));
		smp_rmb();	/* a move's future table before its moves */
	}
	return NULL;
}

struct stm_key *stm_key_alloc(struct stm_store *s, const struct stm_kref *kr);
struct stm_key *stm_key_insert(struct stm_store *s, struct stm_key *k);
void stm_key_remove(struct stm_store *s, struct stm_key *k);
void stm_key_free(struct stm_store *s, struct stm_key *k);
void stm_table_resize(struct stm_store *s);
/* Keys sharing one position in LIST's order: at most this many. */
#define STM_GROUP_MAX	16
/* LIST's order ends here (positions are 32 bits). */
#define STM_LIST_END	(1ULL << 32)
int stm_table_group(struct stm_store *s, u64 *pos, struct stm_key **ks,
		    u32 *n, u32 *visits, u32 budget);
struct stm_val *stm_val_alloc(u32 len);
void stm_val_put(struct stm_val *v);

/* cpu_relax() rounds spent on a locked key before backing off. */
#define STM_SPIN	256


/*
 * scratch.c: a request's working memory, carved from its CPU's scratch page
 * while the page is free and the request small (a call with 8 keys of 100
 * bytes fits, and allocates nothing), else from the heap.
 */
#define STM_SCRATCH_SIZE	(PAGE_SIZE - sizeof(unsigned long))

struct stm_scratch_area {
	unsigned long busy;		/* bit 0: claimed */
	u8 data[STM_SCRATCH_SIZE] __aligned(8);
};

DECLARE_PER_CPU(struct stm_scratch_area *, stm_scratch_areas);

struct stm_scratch {
	struct stm_scratch_area *area;	/* claimed, or NULL */
	size_t used;			/* bytes of it handed out */
	void *heap[2];			/* what came from the heap */
	u32 nheap;
};

void stm_scratch_init(void);
void stm_scratch_exit(void);
void *stm_scratch_heap(struct stm_scratch *sc, size_t size);
void stm_scratch_free_heap(struct stm_scratch *sc);

/*
 * Every READ and COMMIT begins, allocates from and ends its scratch: inline,
 * the common case is a few instructions.  Claim this CPU's page if it is free.
 */
static inline void stm_scratch_begin(struct stm_scratch *sc)
{
	struct stm_scratch_area *a = this_cpu_read(stm_scratch_areas);

	sc->area = NULL;
	sc->used = 0;
	sc->nheap = 0;
	if (a && !test_and_set_bit_lock(0, &a->busy))
		sc->area = a;
}

/* @size bytes, 8-aligned, from the claimed page or the heap; NULL: ENOMEM. */
static inline void *stm_scratch_alloc(struct stm_scratch *sc, size_t size)
{
	void *p;

	size = size_add(size, 7) & ~(size_t)7;
	if (sc->area && size <= STM_SCRATCH_SIZE - sc->used) {
		p = sc->area->data + sc->used;
		sc->used += size;
		return p;
	}
	return stm_scratch_heap(sc, size);
}

/* Free what came from the heap and release the page. */
static inline void stm_scratch_end(struct stm_scratch *sc)
{
	if (sc->nheap)
		stm_scratch_free_heap(sc);
	if (sc->area)
		clear_bit_unlock(0, &sc->area->busy);
	sc->area = NULL;
}

/* Longer copies take copy_{from,to}_user() and its object check. */
#define STM_COPY_SMALL	512
int stm_copy_in_large(void *dst, const void __user *src, size_t len);
int stm_copy_out_large(void __user *dst, const void *src, size_t len);

/*
 * copy_from_user() and copy_to_user() for the small copies of every call:
 * its argument struct, entries, keys, ADD operands and inline values, of
 * lengths the caller bounded, to and from memory it sized for them.  The
 * same access_ok(), speculation barrier and fault handling, without
 * hardened usercopy's object check, which costs more than such a copy:
 * about a sixth of a 1-key commit beyond its system call, under TCG
 * (Documentation/bench.rst, "Where the time goes").  Longer copies, where
 * the check is cheap next to the copy, take copy_{from,to}_user().  KASAN
 * still checks every byte these store or load on the kernel side, and
 * might_fault() a call from atomic context.  Return 0 or -EFAULT.  Inline:
 * under TCG a call costs as much as a short copy.
 */
static inline int stm_copy_in(void *dst, const void __user *src, size_t len)
{
	const u8 __user *s = src;
	u8 *d = dst;
	u64 v;

	might_fault();
	if (len > STM_COPY_SMALL)
		return stm_copy_in_large(dst, src, len);
	if (!user_access_begin(src, len))
		return -EFAULT;
	for (; len >= sizeof(v); len -= sizeof(v), s += sizeof(v), d += sizeof(v)) {
		unsafe_get_user(v, (const u64 __user *)s, efault);
		put_unaligned(v, (u64 *)d);
	}
	for (; len; len--, s++, d++)
		unsafe_get_user(*d, s, efault);
	user_access_end();
	return 0;

efault:
	user_access_end();
	return -EFAULT;
}

static inline int stm_copy_out(void __user *dst, const void *src, size_t len)
{
	might_fault();
	if (len > STM_COPY_SMALL)
		return stm_copy_out_large(dst, src, len);
	if (!user_access_begin(dst, len))
		return -EFAULT;
	unsafe_copy_to_user(dst, src, len, efault);
	user_access_end();
	return 0;

efault:
	user_access_end();
	return -EFAULT;
}

/* snapshot.c */
int stm_load_request(struct stm_scratch *sc, u64 uaddr, u32 n, size_t esz,
		     size_t len_off, size_t wsz, void **ents, void **work);

/* Key bytes of a request, copied from user memory into one buffer. */
static inline int stm_copy_key(struct stm_store *s, struct stm_kref *kr,
			       u8 **cursor, u64 addr, u32 len)
{
	if (!len || len > STMDEV_KEY_MAX)
		return -EINVAL;
	if (stm_copy_in(*cursor, u64_to_user_ptr(addr), len))
		return -EFAULT;
	kr->p = *cursor;
	kr->len = len;
	kr->hash = stm_hash(s, kr->p, len);
	*cursor += len;
	return 0;
}

/* The commits' one lock order: hash, length, bytes. */
static inline int stm_kref_cmp(const struct stm_kref *a, const struct stm_kref *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->p, b->p, a->len);
}
int stm_snapshot(struct stm_store *s, struct stm_rslot *rs, u32 n,
		 bool at, bool values, u64 *rv, u32 *bad);

/* read.c */
int stm_read(struct stm_file *f, struct stmdev_read *r);

/* commit.c */
/* How a command is issued: STM_NOWAIT from io_uring's inline issue. */
#define STM_NOWAIT	1

int stm_commit(struct stm_file *f, struct stmdev_commit *c, unsigned int how);
void stm_charge_table(struct stm_store *s);

/* range.c */
int stm_range(struct stm_file *f, struct stmdev_range *r, unsigned int how);
void stm_ranges_init(struct stm_store *s);
void stm_ranges_destroy(struct stm_store *s);
void stm_range_note(struct stm_store *s, struct stm_rctx *rc,
		    const struct stm_kref *kr, bool add);
int stm_range_lock(struct stm_store *s, struct stm_rctx *rc, bool nonblock);
void stm_range_unlock(struct stm_store *s, struct stm_rctx *rc, u64 wv);
void stm_range_member(struct stm_store *s, struct stm_rctx *rc,
		      struct stm_key *k, bool add);
int stm_range_seen(struct stm_store *s, struct stm_rctx *rc,
		   const struct stm_kref *kr, u64 *ver);
bool stm_range_declared(struct stm_store *s, const struct stm_kref *kr);
int stm_range_prepare(struct stm_rctx *rc);
void stm_range_release(struct stm_rctx *rc);

/* persist.c */
int stm_export(struct stm_file *f, struct stmdev_export *e);
int stm_import(struct stm_file *f, struct stmdev_import *im);
void stm_persist_release(struct stm_file *f);

/* reserve.c */
struct stm_resv;
void stm_resv_init(struct stm_store *s);
int stm_reserve(struct stm_file *f, struct stmdev_reserve *rq);
void stm_resv_release(struct stm_file *f);
int stm_resv_check(struct stm_store *s, const struct stm_file *f,
		   const struct stm_kref *kr, size_t stride, u32 n,
		   u64 *until, u32 *gen);
int stm_resv_wait(struct stm_store *s, u64 until, u32 gen);

/* Might a reservation hold up a commit that has locked its writes? */
static inline bool stm_resv_any(struct stm_store *s)
{
	/* Key locks before the count: pairs with stm_reserve()'s smp_mb(). */
	smp_mb();
	return atomic_read(&s->nresv);
}

/* list.c */
int stm_list(struct stm_file *f, struct stmdev_list *l);

/* wait.c */
void stm_wait_init(struct stm_store *s);
void stm_wake_key(struct stm_store *s, u32 hash);
void stm_wake_all(struct stm_store *s);
int stm_wait(struct stm_file *f, struct stmdev_wait *wt);
int stm_watch(struct stm_file *f, struct stmdev_watch *wa);
__poll_t stm_watch_poll(struct stm_file *f);
void stm_watch_release(struct stm_file *f);
struct stm_waitset *stm_waitset_new(struct stm_store *s, u64 uaddr, u32 n);
void stm_waitset_free(struct stm_waitset *ws);
int stm_waitset_check(struct stm_waitset *ws, u32 *index);
struct stm_waitset *stm_wait_start(struct stm_file *f, struct stmdev_wait *wt);
void stm_wait_trace_end(struct stm_waitset *ws, u32 index, int err);

/* device.c */
long stm_dispatch(struct stm_file *f, unsigned int cmd, void __user *uarg,
		  size_t len, unsigned int how);

/* uring.c */
int stm_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

/* trace.c: the tracepoints are in stm_trace.h */
#define STM_TRACE_KEY	48	/* a key's room in an event, with the NUL */
void stm_trace_key(char *dst, const struct stm_kref *kr);

/* The limit a stm_quota event names: a module parameter. */
#define STM_LIMIT_STORES	1
#define STM_LIMIT_STORES_USER	2
#define STM_LIMIT_KEYS_USER	3
#define STM_LIMIT_MEM_USER	4
#define STM_LIMIT_KEYS_STORE	5
#define STM_LIMIT_BYTES_STORE	6
#define STM_LIMIT_WAITS_FD	7
#define STM_LIMIT_WAITS_USER	8

/* Are the @len bytes at @p all zero (reserved fields)? */
static inline bool stm_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static inline u64 stm_version(u64 lockver)
{
	return lockver >> 1;
}

/*
 * Read @k's version and presence as one instant, and with @values its value
 * too: inline bytes copied, a heap value pinned.  A seqlock read keyed on
 * the version word.  Returns false while the key is locked.  Caller is in
 * an RCU read-side section.  Inline: every command makes one per key.
 */
static inline bool stm_key_snap(struct stm_key *k, struct stm_rslot *rs,
				bool values)
{
	struct stm_val *v;
	u8 state, ilen;
	u64 lv;

	for (;;) {
		/* Pairs with the release that unlocks: value after version. */
		lv = smp_load_acquire(&k->lockver);
		if (lv & STM_LOCKED)
			return false;
		v = NULL;
		rs->vlen = 0;
		state = READ_ONCE(k->dead) ? STM_ABSENT : READ_ONCE(k->state);
		if (state == STM_INLINE) {
			ilen = min_t(u8, READ_ONCE(k->ilen), STM_INLINE_MAX);
			if (values)
				memcpy(rs->inl, k->inl, ilen);
			rs->vlen = ilen;
		} else if (state == STM_HEAP) {
			v = rcu_dereference(k->val);
			rs->vlen = v ? v->len : 0;
			if (!values || (v && !refcount_inc_not_zero(&v->ref)))
				v = NULL;
		}
		smp_rmb();	/* value, state and dead flag before the recheck */
		if (READ_ONCE(k->lockver) == lv)
			break;
		if (v)
			stm_val_put(v);
	}
	rs->present = state != STM_ABSENT;
	rs->ver = rs->present ? stm_version(lv) : 0;
	rs->val = v;
	/* A dead key's version still orders it against a reader's clock. */
	if (!rs->present && READ_ONCE(k->dead))
		rs->ver = stm_version(lv);
	return true;
}

static inline void stm_rslots_put(struct stm_rslot *rs, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++) {
		if (rs[i].val)
			stm_val_put(rs[i].val);
		rs[i].val = NULL;
	}
}

#endif /* _STM_H */
