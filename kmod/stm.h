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
#include <linux/rhashtable.h>
#include <linux/xarray.h>
#include <linux/refcount.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/stmdev.h>

/* Module parameters (main.c). */
extern unsigned int stm_max_value_size;
extern unsigned int stm_max_keys_per_store;
extern unsigned long stm_max_bytes_per_store;
extern unsigned int stm_max_stores;
extern unsigned int stm_max_keys_per_call;

/* An immutable value; freed after a grace period once unreferenced. */
struct stm_val {
	refcount_t ref;
	u32 len;
	struct rcu_head rcu;
	u8 data[];
};

/* Low bit of stm_key.lockver: a commit holds the key. */
#define STM_LOCKED	1ULL

struct stm_key {
	struct rhash_head node;		/* store->table */
	u64 lockver;			/* version << 1 | STM_LOCKED */
	struct stm_val __rcu *val;	/* NULL: absent (a placeholder) */
	u32 hash;
	u32 id;				/* index in store->ids, for LIST */
	u16 len;
	u8 dead;			/* removed from the table */
	struct rcu_head rcu;
	u8 key[];
};

/* A key as looked up: bytes plus the store's hash of them. */
struct stm_kref {
	const u8 *p;
	u32 len;
	u32 hash;
};

struct stm_store {
	struct kref ref;		/* the registry's, and each fd's */
	struct list_head link;		/* stm_stores, under stm_stores_lock */
	u64 id;				/* LIST_STORES cursor order */
	char name[STMDEV_NAME_MAX];
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	bool unlinked;			/* under stm_stores_lock */
	u32 seed;

	struct rhashtable table;	/* struct stm_key by bytes */
	struct xarray ids;		/* struct stm_key by id */
	u32 next_id;

	atomic64_t clock;		/* commit clock */
	atomic64_t del_clock;		/* clock of the newest delete */
	atomic64_t nkeys;
	atomic64_t nbytes;

	atomic64_t st_commits;
	atomic64_t st_conflicts;
	atomic64_t st_busy;
	atomic64_t st_reads;
};

/* One open /dev/stm. */
struct stm_file {
	struct stm_store *store;	/* set once by ATTACH */
	u32 flags;			/* STMDEV_ATTACH_* */
};

/* device.c */
extern const struct file_operations stm_fops;

/* store.c */
int stm_store_attach(struct stm_file *f, struct stmdev_attach *a);
int stm_store_unlink(struct stmdev_unlink *u);
int stm_store_info(struct stm_file *f, struct stmdev_info *info);
int stm_store_list(struct stmdev_list_stores *ls);
int stm_store_stats(struct stm_file *f, struct stmdev_stats *st);
void stm_store_put(struct stm_store *s);
void stm_stores_destroy(void);

/* table.c */
int stm_table_init(struct stm_store *s);
void stm_table_destroy(struct stm_store *s);
u32 stm_hash(const struct stm_store *s, const u8 *p, u32 len);
struct stm_key *stm_key_lookup(struct stm_store *s, const struct stm_kref *kr);
struct stm_key *stm_key_alloc(struct stm_store *s, const struct stm_kref *kr);
struct stm_key *stm_key_insert(struct stm_store *s, struct stm_key *k);
void stm_key_remove(struct stm_store *s, struct stm_key *k);
void stm_key_free(struct stm_store *s, struct stm_key *k);
struct stm_val *stm_val_alloc(u32 len);
void stm_val_put(struct stm_val *v);

/* txn.c */
int stm_read(struct stm_file *f, struct stmdev_read *r);
int stm_commit(struct stm_file *f, struct stmdev_commit *c);
int stm_list(struct stm_file *f, struct stmdev_list *l);

/* Are the @len bytes at @p all zero (reserved fields)? */
static inline bool stm_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static inline u64 stm_version(u64 lockver)
{
	return lockver >> 1;
}

#endif /* _STM_H */
