/* SPDX-License-Identifier: MIT */
/*
 * internal.h - libstmdev internals: the objects behind the public handles
 * and the backend boundary.
 *
 * Everything above this boundary (values, collections, dump, and later
 * transactions) speaks in backend-neutral requests: struct stm_rd for a
 * snapshot read entry, struct stm_cop for a commit entry.  A backend turns
 * them into its own calls: the /dev/stm backend (dev.c) into ioctls, a
 * future etcd backend into Range-at-revision and Txn requests.
 */
#ifndef STMDEV_INTERNAL_H
#define STMDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include "stmdev.h"


/* One entry of a snapshot read. */
struct stm_rd {
	const void *key;
	uint32_t    klen;
	uint32_t    cap;	/* in: bytes at buf */
	void       *buf;
	uint64_t    version;	/* out: 0 when absent */
	uint32_t    len;	/* out: the value's length */
	bool        present;	/* out */
};

/* Commit entry ops: the public STM_OP_* (stmdev.h), the uapi's numbers.
 * Flags (same meaning as the uapi's): */
#define STM_COP_CHECK	(1U << 0)	/* write entry: validate version */
#define STM_COP_FETCH	(1U << 1)	/* ADD: result into fetch; READ: the
					 * value the commit's write of the key
					 * replaces, into fetch (vlen bytes of
					 * room; out: vlen, version) */
#define STM_COP_BOUND	(1U << 2)	/* ADD: val is delta, min, max (24
					 * bytes LE); -ERANGE out of bounds */

/* Internal op: a range's version (range.c); key = prefix, no value. */
#define STM_OP_RANGE	4

/* One entry of a commit. */
struct stm_cop {
	const void *key;
	uint32_t    klen;
	uint16_t    op;		/* STM_OP_* */
	uint16_t    flags;	/* STM_COP_* */
	uint64_t    version;	/* expected (READ, or write with CHECK) */
	const void *val;	/* PUT data; ADD: 8-byte LE delta */
	uint32_t    vlen;
	void       *fetch;	/* ADD with FETCH: 8 bytes out */
};

/*
 * The values of the old flag spellings (stmdev.h keeps the names as
 * aliases of STM_RDONLY and STM_NONBLOCK since 1.4): programs built
 * against 1.1-1.3 pass these, and they are still accepted.
 */
#define STM_TXN_READONLY_1_1	(1U << 0)
#define STM_TXN_NONBLOCK_1_1	(1U << 1)
#define STM_COMMIT_NONBLOCK_1_2	(1U << 0)

/* Read flags */
#define STM_RD_AT	(1U << 0)	/* fail with -ESTALE past *clock */
/* Commit flags */
#define STM_CM_NONBLOCK	(1U << 0)
#define STM_CM_RETRY	(1U << 1)	/* a transaction's rerun (statistics) */

/* One key of a wait or watch set: the version the caller saw (0 = absent). */
struct stm_wkey {
	const void *key;
	uint32_t    klen;
	uint64_t    version;
};

/* Wait flags (same meaning as STM_WAIT_*). */
#define STM_WT_ALL	(1U << 0)

struct stm_key_walk {
	int (*cb)(const struct stm_key_info *ki, void *arg);
	void *arg;
};

/* The keys under a prefix, as a backend's ->range found them. */
struct stm_rkeys {
	size_t               n;
	struct stm_key_info *ki;	/* n keys (value_len 0), each malloc'd */
};

/*
 * A backend.  Store-less operations take a name; the others a store
 * attached by ->open.  All return 0 / count or -errno and may be called
 * from several threads on one store at once.
 */
struct stm_backend {
	const char *name;
	/* URL scheme served ("etcd" for etcd://...), NULL for plain names. */
	const char *scheme;
	int  (*open)(struct stm_store *s, const char *name, int flags, mode_t mode);
	void (*close)(struct stm_store *s);
	int  (*unlink)(const char *name);
	int  (*stores)(int (*cb)(const struct stm_store_ent *e, void *arg), void *arg);
	/* One snapshot.  -E2BIG when a buffer was short: len and version are
	 * then filled for every entry.  *clock: out, or in too with STM_RD_AT
	 * (then -ESTALE with *conflict set). */
	int  (*read)(struct stm_store *s, struct stm_rd *rd, size_t n,
		     unsigned flags, uint64_t *clock, uint32_t *conflict);
	/* All or nothing.  *version: the clock value given to the writes;
	 * *conflict: index of the first conflicting entry on -ESTALE. */
	int  (*commit)(struct stm_store *s, struct stm_cop *ops, size_t n,
		       unsigned flags, uint32_t family, uint64_t *version,
		       uint32_t *conflict);
	int  (*keys)(struct stm_store *s, struct stm_key_walk *w);
	int  (*info)(struct stm_store *s, struct stm_info *out);
	int  (*stats)(struct stm_store *s, struct stm_stats *out);
	/* Sleep until any (STM_WT_ALL: every) key differs from its version:
	 * 0 with *index the first that differs; -ETIMEDOUT (timeout_ns < 0:
	 * none, 0: check only), -EINTR on a signal, -EIDRM store unlinked. */
	int  (*wait)(struct stm_store *s, const struct stm_wkey *k, size_t n,
		     unsigned flags, int64_t timeout_ns, uint32_t family,
		     uint32_t *index);
	/* Replace the handle's watch set (n == 0 clears it). */
	int  (*watch)(struct stm_store *s, const struct stm_wkey *k, size_t n);
	/* A descriptor poll() reports readable while the watch set holds,
	 * or -EOPNOTSUPP. */
	int  (*pollfd)(struct stm_store *s);
	/* The store-wide id of a transaction family, registering it. */
	int  (*family)(struct stm_store *s, const char *name, uint32_t *id);
	/* Every family's counters, in id order. */
	int  (*families)(struct stm_store *s,
			 int (*cb)(const struct stm_family_stats *f, void *arg),
			 void *arg);
	/*
	 * The descriptor the ring (ring.c) sends io_uring commands to, with
	 * *bounded set when async waits end after one second; -EOPNOTSUPP
	 * (or a NULL ->ring) when the backend has no ring.
	 */
	int  (*ring)(struct stm_store *s, bool *bounded);
	/*
	 * The keys present under a prefix at one instant, *clock (in too
	 * with STM_RD_AT: -ESTALE if the range or a key changed after it),
	 * and the range's version, which changes when a key under the
	 * prefix is created or deleted (a commit's STM_OP_RANGE entry
	 * validates it).  *out is freed with stm_range_keys_free().
	 * NULL or -EOPNOTSUPP: the backend cannot.
	 */
	int  (*range)(struct stm_store *s, const void *pfx, size_t plen,
		      unsigned flags, uint64_t *clock, uint64_t *version,
		      struct stm_rkeys *out);
	/*
	 * Reserve the keys to this handle for at most bound_ms (0: the
	 * backend's longest; n == 0 releases): the ms granted, or -errno;
	 * -EOPNOTSUPP (or a NULL ->reserve) when the backend cannot.
	 */
	int  (*reserve)(struct stm_store *s, const struct stm_wkey *k, size_t n,
			unsigned bound_ms);
};

extern const struct stm_backend stm_dev_backend;
/* etcd.c, built when libcurl and jansson are there: may be absent. */
extern const struct stm_backend stm_etcd_backend __attribute__((weak));

#define STM_FAMILY_CACHE	16	/* family ids a handle remembers */

/*
 * Immutable after stm_open() except the family-id cache, which is behind
 * fam_lock: that is what makes a handle thread-safe.
 */
struct stm_store {
	const struct stm_backend *be;
	int                 fd;		/* dev backend: one fd, one store */
	void               *priv;	/* other backends' per-handle state */
	int                 flags;	/* STM_* open flags */
	struct stm_limits   lim;
	char                name[STM_NAME_MAX + 1];
	char               *url;	/* a URL backend's stm_open name */
	pthread_mutex_t     fam_lock;
	unsigned            nfam;
	struct {
		char     name[STM_FAMILY_NAME_MAX + 1];
		uint32_t id;
	} fam[STM_FAMILY_CACHE];
};

enum stm_vstate { STM_V_CLEAN, STM_V_PUT, STM_V_DEL };

struct stm_value {
	struct stm_store *store;
	struct stm_coll  *coll;		/* owner, or NULL from stm_usevar */
	uint8_t          *key;		/* klen bytes + NUL */
	uint32_t          klen;
	enum stm_vstate   state;
	bool              present;	/* as read (or as last committed) */
	uint64_t          version;	/* as read (or as last committed) */
	uint8_t          *buf;		/* read data, or local data once set */
	uint32_t          len;
	uint32_t          cap;
};

struct stm_coll {
	struct stm_store  *store;
	size_t             n;
	struct stm_value  *vals;	/* n values, in the order given */
	struct stm_value  *conflict;	/* of the last commit */
	uint64_t           clock;	/* snapshot clock of the last read */
	/* Lent to a ring operation (ring.c) until its completion is reaped:
	 * stm_coll_free() calls unlend(lent) so the result is dropped.  A
	 * pointer, not a call into ring.c, so that static programs without a
	 * ring do not pull in liburing. */
	void              *lent;
	void             (*unlend)(void *lent);
};

/* util.c */
int stm_check_name(const char *name);
int stm_check_key(const struct stm_store *s, const void *key, size_t klen);
size_t stm_key_len(const char *key);	/* strnlen capped at STM_KEY_MAX + 1 */
/*
 * The lengths of @n NUL-terminated keys, for the _n calls (0 for a NULL key,
 * which they reject): in @stack when it holds @n, else a fresh array; NULL
 * when out of memory.  Release with stm_key_lens_put().
 */
size_t *stm_key_lens(const char *const *keys, size_t n, size_t *stack,
		     size_t stack_n);
void stm_key_lens_put(size_t *lens, size_t *stack);
void stm_put_le64(void *p, int64_t x);
int64_t stm_get_le64(const void *p);
uint32_t stm_rand32(void);		/* per-thread xorshift, not crypto */
#define STM_BACKOFF_MAX_US	1000
/* Pause before resend @n (1, 2...) of a conflicting or busy request:
 * nothing, then yields, then a random sleep growing to 1 ms. */
void stm_backoff(unsigned int n);
#define STM_RD_GROW_ROUNDS	8	/* short reads before growing to the max */
#define STM_RD_MAX_ROUNDS	64
/*
 * The one policy for a short read (-E2BIG, every entry's len filled): grow
 * each short buffer to the length reported, or from round
 * STM_RD_GROW_ROUNDS on to max_value_size, so a value growing under the
 * reader cannot outrun it.  1: grew, 0: nothing was short (too many keys),
 * -ENOMEM.  Buffers are malloc'ed (or NULL with cap 0).
 */
int stm_rd_grow(const struct stm_store *s, struct stm_rd *rd, size_t n,
		unsigned int round);
/* s->be->read() with stm_rd_grow() on -E2BIG: 0 with every buffer holding
 * its value, or the read's -errno (-E2BIG only when @n is over the call's
 * key limit, or a backend with no max_value_size kept growing a value). */
int stm_read_grow(struct stm_store *s, struct stm_rd *rd, size_t n,
		  unsigned int flags, uint64_t *clock, uint32_t *conflict);

/* txn.c */
struct stm_store *stm_txn_store(const struct stm_txn *tx);
int stm_family_id(struct stm_store *s, const char *name, uint32_t *id);

/* value.c */
int stm_read_values(struct stm_store *s, struct stm_value *const *vals,
		    size_t n, uint64_t *clock);
int stm_value_init(struct stm_value *v, struct stm_store *s, const void *key,
		   size_t klen);
void stm_value_fini(struct stm_value *v);
void stm_value_cop(const struct stm_value *v, struct stm_cop *op);
void stm_value_committed(struct stm_value *v, uint64_t version);
int stm_value_take(struct stm_value *v, struct stm_rd *rd);
/*
 * Check @n public commit entries and turn them into backend entries
 * (@cops; ADD deltas, and a bounded ADD's min and max, encoded into
 * @le[i]): 0, -EINVAL, -E2BIG (@n over max_keys_per_call, a value over
 * max_value_size), -EBADF (a write on a read-only store), -EOPNOTSUPP
 * (STM_OP_BOUND without STMDEV_F_ADD_BOUND).  Results (STM_OP_ADD .result) are the caller's.
 */
int stm_ops_check(struct stm_store *s, const struct stm_op *ops, size_t n,
		  struct stm_cop *cops, uint8_t (*le)[24]);
int stm_coll_new(struct stm_store *s, const void *const *keys,
		 const size_t *lens, size_t n, struct stm_coll **out);

/* range.c */
int stm_range_fetch(struct stm_store *s, const void *pfx, size_t plen,
		    unsigned flags, uint64_t *clock, uint64_t *version,
		    struct stm_rkeys *out);
void stm_range_keys_free(struct stm_rkeys *k);
void stm_range_keys_sort(struct stm_rkeys *k);
int stm_range_keys_add(struct stm_rkeys *k, size_t *cap, const void *key,
		       uint32_t klen, uint64_t version);

#endif /* STMDEV_INTERNAL_H */
