/* SPDX-License-Identifier: MIT */
/*
 * stmdev.h - libstmdev, the user library of stm: a shared, versioned,
 * transactional key-value store for processes on one host (/dev/stm).
 *
 * The model is Kamaelia Axon.STM's: open a store, take private copies of
 * values (stm_usevar) or of a group of values read in one snapshot
 * (stm_using), change the copies locally, then commit.  A commit publishes
 * every change at once if nothing it read has changed since, else it fails
 * with -STM_ECONFLICT (Axon's ConcurrentUpdate) and the caller redoes the
 * work.  A non-blocking store may fail a commit with -STM_EBUSY (Axon's
 * BusyRetry): retry the commit as it is, without redoing the work.
 *
 * Conventions:
 *  - functions returning int give >= 0 on success and a negative errno
 *    on failure; objects come back through out-parameters;
 *  - the library never prints (except stm_dump, to the FILE given) and
 *    never exits;
 *  - keys are 1..STM_KEY_MAX arbitrary bytes (the plain functions take a
 *    NUL-terminated string, the _n variants a pointer and a length);
 *  - keys and values are copied in and out: nothing returned points into
 *    the store, and nothing passed in is kept after the call returns;
 *  - a store handle may be used from several threads at once; a value or
 *    a collection belongs to one thread at a time;
 *  - bad arguments are refused before anything reaches the store.
 */
#ifndef STMDEV_H
#define STMDEV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STMDEV_LIB_VERSION_MAJOR 1
#define STMDEV_LIB_VERSION_MINOR 4

/* Error codes with an STM meaning (returned negated, like every error). */
#define STM_ECONFLICT	ESTALE	/* Axon ConcurrentUpdate: redo the transaction */
#define STM_EBUSY	EBUSY	/* Axon BusyRetry: retry the commit as it is */
#define STM_ERETRIES	ELOOP	/* stm_atomic: more conflicts than max_retries */
#define STM_EUNKNOWN	EREMOTEIO /* a networked backend lost touch mid-commit and
				   * could not learn whether it applied */

#define STM_KEY_MAX	255	/* longest key, in bytes */
#define STM_NAME_MAX	63	/* longest store name, in bytes */

/*
 * Flags: one vocabulary.  STM_RDONLY and STM_NONBLOCK mean the same
 * wherever a flags argument takes them: stm_open() (the attachment),
 * struct stm_txn_opts (one transaction), stm_commit() and
 * stm_ring_prep_commit() (one commit).
 */
#define STM_CREAT	(1 << 0)	/* stm_open: create the store if it does not exist */
#define STM_EXCL	(1 << 1)	/* with STM_CREAT: fail with -EEXIST if it exists */
#define STM_RDONLY	(1 << 2)	/* read-only: read, never write (-EBADF) */
#define STM_NONBLOCK	(1 << 3)	/* commits fail with -STM_EBUSY instead of waiting */

/*
 * The older spellings (1.1-1.3), aliases now.  A program built with them
 * against 1.3 passed other values (1, 2; 1): the library still accepts
 * those.
 */
#define STM_TXN_READONLY	STM_RDONLY
#define STM_TXN_NONBLOCK	STM_NONBLOCK
#define STM_COMMIT_NONBLOCK	STM_NONBLOCK

/*
 * Backend feature bits (struct stm_limits.features), the uapi's
 * STMDEV_F_* values (<linux/stmdev.h> defines the same).
 */
#ifndef STMDEV_F_STORE
#define STMDEV_F_STORE		(1ULL << 0)	/* ATTACH, UNLINK, INFO, LIST_STORES */
#define STMDEV_F_READ		(1ULL << 1)	/* READ, READ_AT */
#define STMDEV_F_COMMIT		(1ULL << 2)	/* COMMIT: READ/PUT/DEL/ADD, FETCH */
#define STMDEV_F_LIST		(1ULL << 3)	/* LIST */
#define STMDEV_F_STATS		(1ULL << 4)	/* STATS */
#define STMDEV_F_WAIT		(1ULL << 5)	/* WAIT, WATCH + poll() */
#define STMDEV_F_FAMILY		(1ULL << 6)	/* FAMILY, FAMILY_STATS */
#define STMDEV_F_URING		(1ULL << 7)	/* IORING_OP_URING_CMD */
#define STMDEV_F_URING_CANCEL	(1ULL << 8)	/* async WAIT is unbounded */
#define STMDEV_F_FETCH_OLD	(1ULL << 9)	/* READ + FETCH in COMMIT */
/* Stores per network namespace, per-user limits (EDQUOT), `charge` */
#define STMDEV_F_ISOLATION	(1ULL << 10)
#endif
#ifndef STMDEV_F_RESERVE
#define STMDEV_F_RESERVE	(1ULL << 13)	/* RESERVE: stm_reserve(), STM_ESCALATE */
#endif
#ifndef STMDEV_F_ADD_BOUND
#define STMDEV_F_ADD_BOUND	(1ULL << 14)	/* COMMIT: bounded ADD (STM_OP_BOUND) */
#endif

struct stm_store;	/* an attached store; thread-safe */
struct stm_value;	/* a private copy of one key's value and version */
struct stm_coll;	/* values read together in one snapshot */

/**
 * stm_strerror() - describe an error code returned by this library.
 * @err: a negative (or positive) errno value.
 *
 * Return: a static, read-only string; never NULL.  Thread-safe.
 */
const char *stm_strerror(int err);

/* ---- stores ------------------------------------------------------------ */

/**
 * stm_open() - attach to (and with STM_CREAT, create) a store.
 * @name:  store name, 1..STM_NAME_MAX bytes of [A-Za-z0-9._-].
 * @flags: STM_CREAT, STM_EXCL, STM_RDONLY, STM_NONBLOCK.
 * @mode:  permission bits of a created store (like shm_open; no umask).
 * @out:   receives the store handle, to release with stm_close().
 *
 * Return: 0; -EINVAL bad name or flags; -ENAMETOOLONG name too long;
 * -ENOENT no such store (without STM_CREAT); -EEXIST (STM_CREAT|STM_EXCL);
 * -EACCES; -ENOSPC too many stores; -EDQUOT the caller owns as many
 * stores as it may (or its memory quota is spent); -ENODEV /dev/stm is missing (module
 * not loaded); -EPROTONOSUPPORT a URL for a backend not built in.
 */
int stm_open(const char *name, int flags, mode_t mode, struct stm_store **out);

/**
 * stm_close() - detach from a store and free the handle.
 * @s: store handle, or NULL (does nothing).
 *
 * Values and collections taken from @s must be freed before.  The store
 * itself lives on until unlinked.
 */
void stm_close(struct stm_store *s);

/**
 * stm_unlink() - remove a store's name.
 * @name: store name.
 *
 * Handles already attached keep working until closed.
 *
 * Return: 0; -ENOENT no such store; -EPERM not the owner; -EINVAL bad name.
 */
int stm_unlink(const char *name);

/**
 * stm_store_name() - the name a store was opened with.
 * @s: store handle.
 *
 * Return: a string owned by @s, valid until stm_close().
 */
const char *stm_store_name(const struct stm_store *s);

/** struct stm_limits - limits in force, from the backend. */
struct stm_limits {
	uint32_t max_key_len;		/* bytes */
	uint32_t max_value_size;	/* bytes */
	uint32_t max_keys_per_call;	/* keys in one stm_using / commit */
	uint32_t reserved0;
	uint64_t features;		/* backend feature bits (STMDEV_F_*) */
	uint64_t reserved[3];
};

/**
 * stm_limits() - the limits of the store's backend, read at stm_open().
 * @s:   store handle.
 * @out: filled in.
 *
 * Return: 0, or -EINVAL for NULL arguments.
 */
int stm_limits(const struct stm_store *s, struct stm_limits *out);

/** struct stm_info - what stm_info() reports about an attached store. */
struct stm_info {
	char     name[STM_NAME_MAX + 1];
	uint32_t uid, gid;		/* owner */
	uint32_t mode;			/* permission bits */
	uint32_t flags;			/* this handle's STM_* open flags */
	uint64_t keys;			/* keys present */
	uint64_t bytes;			/* key + value bytes */
	uint64_t clock;			/* the store's commit clock */
	uint32_t unlinked;		/* 1 once the name is removed */
	uint32_t reserved0;
	uint64_t charge;		/* kernel bytes, charged to the owner
					 * (0 where the backend cannot tell) */
	uint64_t reserved[3];
};

/**
 * stm_info() - owner, mode, size and commit clock of an attached store.
 * @s:   store handle.
 * @out: filled in.
 *
 * Return: 0 or -errno.
 */
int stm_info(struct stm_store *s, struct stm_info *out);

/** struct stm_stats - a store's counters, shared by every process. */
struct stm_stats {
	uint64_t commits;		/* successful commits */
	uint64_t conflicts;		/* commits (and pinned reads) that conflicted */
	uint64_t busy;			/* non-blocking commits that found a key locked */
	uint64_t reads;			/* snapshot read calls */
	uint64_t keys;			/* keys present now */
	uint64_t bytes;			/* key + value bytes now */
	uint64_t waits;			/* waits that slept (blocking retries) */
	uint64_t wakeups;		/* waiters woken by a commit or unlink */
	uint64_t charge;		/* kernel bytes the store takes (0: unknown) */
	uint64_t reserved[7];
};

/**
 * stm_stats() - the counters of an attached store.
 * @s:   store handle.
 * @out: filled in.
 *
 * Return: 0 or -errno.
 */
int stm_stats(struct stm_store *s, struct stm_stats *out);

/** struct stm_store_ent - one store, as stm_stores() lists it. */
struct stm_store_ent {
	const char *name;		/* valid during the callback only */
	uint32_t uid, gid, mode;
	uint32_t reserved0;
	uint64_t keys, bytes;
};

/**
 * stm_stores() - call @cb for every store the caller may read.
 * @cb:  called once per store; returning non-zero stops the walk.
 * @arg: passed to @cb.
 *
 * Needs no attached store.
 *
 * Return: the number of stores visited, the non-zero value @cb returned,
 * or -errno (-ENODEV without /dev/stm).
 */
int stm_stores(int (*cb)(const struct stm_store_ent *e, void *arg), void *arg);

/* ---- values (Axon: usevar, Value) -------------------------------------- */

/**
 * stm_usevar() - take a private copy of one key's value and version.
 * @s:   store handle.
 * @key: NUL-terminated key (1..STM_KEY_MAX bytes).
 * @out: receives the value, to release with stm_value_free().
 *
 * An absent key gives a value with no data and version 0; setting and
 * committing it creates the key.
 *
 * Return: 0; -EINVAL bad arguments; -ENOMEM; -errno from the store.
 */
int stm_usevar(struct stm_store *s, const char *key, struct stm_value **out);

/**
 * stm_usevar_n() - stm_usevar() for a binary key.
 * @s:    store handle.
 * @key:  key bytes.
 * @klen: key length, 1..STM_KEY_MAX.
 * @out:  receives the value.
 *
 * Return: as stm_usevar().
 */
int stm_usevar_n(struct stm_store *s, const void *key, size_t klen,
		 struct stm_value **out);

/**
 * stm_value_key() - the key of a value.
 * @v:   value.
 * @len: if not NULL, receives the key length.
 *
 * Return: the key bytes, NUL-terminated for convenience, owned by @v.
 */
const void *stm_value_key(const struct stm_value *v, size_t *len);

/**
 * stm_value_data() - the value's data, as read or as set locally since.
 * @v:   value.
 * @len: if not NULL, receives the length (0 when absent).
 *
 * Return: the data, owned by @v and valid until the next call that changes
 * @v; NULL when the key is absent (or deleted locally).  A present empty
 * value gives a non-NULL pointer and length 0.
 */
const void *stm_value_data(const struct stm_value *v, size_t *len);

/**
 * stm_value_version() - the version the value was read at.
 * @v: value.
 *
 * After a successful commit of a change, the version that commit gave the
 * key.  Local changes do not alter it.
 *
 * Return: the version, 0 when the key was absent.
 */
uint64_t stm_value_version(const struct stm_value *v);

/**
 * stm_value_dirty() - whether the value has local changes not committed.
 * @v: value.
 *
 * Return: 1 if set or deleted since read or last commit, else 0.
 */
int stm_value_dirty(const struct stm_value *v);

/**
 * stm_value_set() - change the private copy (Axon Value.set).
 * @v:    value.
 * @data: new bytes (may be NULL when @len is 0).
 * @len:  length, at most the store's max_value_size.
 *
 * Nothing reaches the store until a commit.
 *
 * Return: 0; -EINVAL bad arguments; -E2BIG @len over the limit; -ENOMEM.
 */
int stm_value_set(struct stm_value *v, const void *data, size_t len);

/**
 * stm_value_set_i64() - set the copy to an 8-byte little-endian integer.
 * @v: value.
 * @x: the integer; the encoding the store's add-i64 uses.
 *
 * Return: as stm_value_set().
 */
int stm_value_set_i64(struct stm_value *v, int64_t x);

/**
 * stm_value_i64() - read the copy as an 8-byte little-endian integer.
 * @v:   value.
 * @out: receives the integer.
 *
 * Return: 0; -ENOENT absent; -EINVAL not 8 bytes (or NULL arguments).
 */
int stm_value_i64(const struct stm_value *v, int64_t *out);

/**
 * stm_value_del() - mark the copy deleted: the key is absent after commit.
 * @v: value.
 *
 * Return: 0, or -EINVAL for NULL.
 */
int stm_value_del(struct stm_value *v);

/**
 * stm_value_commit() - publish one value (Axon Value.commit).
 * @v: value.
 *
 * Sends one commit holding the key as a write checked against the version
 * @v was read at, or, when @v has no local change, as a read to validate.
 * On success a written @v carries the new version and is clean again, so
 * set + commit can repeat with the same handle.
 *
 * Return: 0; -STM_ECONFLICT the key changed since @v was read (redo the
 * work, e.g. after stm_value_refresh()); -STM_EBUSY (non-blocking store:
 * retry the commit); -EBADF read-only store; -ENOSPC store full; -EDQUOT
 * the store's owner is at its key or memory quota; -EINTR a
 * blocking commit was interrupted (nothing changed); other -errno.
 */
int stm_value_commit(struct stm_value *v);

/**
 * stm_value_refresh() - read the value again, dropping local changes.
 * @v: value.
 *
 * Return: 0 or -errno (then @v is unchanged).
 */
int stm_value_refresh(struct stm_value *v);

/**
 * stm_value_free() - release a value from stm_usevar().
 * @v: value, or NULL.  Values that belong to a collection are released
 *     with the collection: freeing them here does nothing.
 */
void stm_value_free(struct stm_value *v);

/* ---- collections (Axon: using, Collection) ------------------------------ */

/**
 * stm_using() - copy several keys' values, all read in one snapshot.
 * @s:    store handle.
 * @keys: @n NUL-terminated keys; a key given twice appears once.
 * @n:    number of keys, at most max_keys_per_call.
 * @out:  receives the collection, to release with stm_coll_free().
 *
 * One read call: no commit is half visible among the values.
 *
 * Return: 0; -EINVAL bad arguments; -E2BIG @n over max_keys_per_call;
 * -ENOMEM; -errno from the store.
 */
int stm_using(struct stm_store *s, const char *const *keys, size_t n,
	      struct stm_coll **out);

/**
 * stm_using_n() - stm_using() for binary keys.
 * @s:    store handle.
 * @keys: @n key pointers.
 * @lens: @n key lengths.
 * @n:    number of keys.
 * @out:  receives the collection.
 *
 * Return: as stm_using().
 */
int stm_using_n(struct stm_store *s, const void *const *keys,
		const size_t *lens, size_t n, struct stm_coll **out);

/**
 * stm_coll_get() - the value of @key in a collection (Axon D["key"]).
 * @c:   collection.
 * @key: NUL-terminated key.
 *
 * Return: the value, owned by @c; NULL if @key is not in @c.
 */
struct stm_value *stm_coll_get(struct stm_coll *c, const char *key);

/**
 * stm_coll_get_n() - stm_coll_get() for a binary key.
 * @c:    collection.
 * @key:  key bytes.
 * @klen: key length.
 *
 * Return: the value, owned by @c; NULL if not in @c.
 */
struct stm_value *stm_coll_get_n(struct stm_coll *c, const void *key, size_t klen);

/**
 * stm_coll_count() - number of (distinct) keys in a collection.
 * @c: collection.
 *
 * Return: the count.
 */
size_t stm_coll_count(const struct stm_coll *c);

/**
 * stm_coll_at() - the @i-th value of a collection, in the order given.
 * @c: collection.
 * @i: index below stm_coll_count().
 *
 * Return: the value owned by @c, or NULL when @i is out of range.
 */
struct stm_value *stm_coll_at(struct stm_coll *c, size_t i);

/**
 * stm_coll_commit() - publish a collection (Axon Collection.commit).
 * @c: collection.
 *
 * One commit: every value of @c is validated against the version it was
 * read at (unchanged values as reads, changed ones as checked writes), and
 * all changes are applied at once, or none.  On success the written values
 * carry the new version and are clean again.
 *
 * Return: 0; -STM_ECONFLICT (see stm_coll_conflict(); redo the work, e.g.
 * after stm_coll_refresh()); -STM_EBUSY (retry the commit as it is);
 * -EALREADY @c is lent to a ring (until its completion is reaped); others
 * as stm_value_commit().
 */
int stm_coll_commit(struct stm_coll *c);

/**
 * stm_coll_conflict() - the value whose key conflicted in the last commit.
 * @c: collection.
 *
 * Return: the value, or NULL if the last commit did not conflict.
 */
struct stm_value *stm_coll_conflict(const struct stm_coll *c);

/**
 * stm_coll_refresh() - read every value again in one new snapshot,
 * dropping local changes.
 * @c: collection.
 *
 * Return: 0 or -errno (then @c is unchanged, stm_coll_conflict() too);
 * -EALREADY @c is lent to a ring (until its completion is reaped).
 */
int stm_coll_refresh(struct stm_coll *c);

/**
 * stm_coll_free() - release a collection and all its values.
 * @c: collection, or NULL.
 */
void stm_coll_free(struct stm_coll *c);

/* ---- single operations (one call each, no copy kept) -------------------- */

/**
 * stm_cas() - write @key if its version is still @expected_version.
 * @s:                store handle.
 * @key:              NUL-terminated key.
 * @expected_version: the version the key must have (0: must be absent).
 * @data:             new bytes.
 * @len:              length.
 * @new_version:      if not NULL, receives the version given to the write.
 *
 * Return: 0; -STM_ECONFLICT the version differed; -STM_EBUSY; -errno.
 */
int stm_cas(struct stm_store *s, const char *key, uint64_t expected_version,
	    const void *data, size_t len, uint64_t *new_version);

/**
 * stm_cas_n() - stm_cas() for a binary key.
 * @s:                store handle.
 * @key:              key bytes.
 * @klen:             key length.
 * @expected_version: as stm_cas().
 * @data:             new bytes.
 * @len:              length.
 * @new_version:      as stm_cas().
 *
 * Return: as stm_cas().
 */
int stm_cas_n(struct stm_store *s, const void *key, size_t klen,
	      uint64_t expected_version, const void *data, size_t len,
	      uint64_t *new_version);

/**
 * stm_fetch_add() - add @delta to an 8-byte integer key, atomically.
 * @s:      store handle.
 * @key:    NUL-terminated key; absent counts as 0.
 * @delta:  signed amount.
 * @result: if not NULL, receives the value after the addition.
 *
 * Commutes with other additions: never conflicts.
 *
 * Return: 0; -EINVAL the stored value is not 8 bytes; -STM_EBUSY; -errno.
 */
int stm_fetch_add(struct stm_store *s, const char *key, int64_t delta,
		  int64_t *result);

/**
 * stm_fetch_add_n() - stm_fetch_add() for a binary key.
 * @s:      store handle.
 * @key:    key bytes.
 * @klen:   key length.
 * @delta:  signed amount.
 * @result: as stm_fetch_add().
 *
 * Return: as stm_fetch_add().
 */
int stm_fetch_add_n(struct stm_store *s, const void *key, size_t klen,
		    int64_t delta, int64_t *result);

/**
 * stm_swap() - write @key and hand back the value it replaced.
 * @s:    store handle.
 * @key:  NUL-terminated key.
 * @data: new bytes (may be NULL when @len is 0).
 * @len:  length, at most max_value_size.
 * @old:  if not NULL, receives the value replaced (a private copy with
 *        its data and version, absent: no data and version 0), to release
 *        with stm_value_free(); NULL: a blind write.
 *
 * One commit either way: with @old, the commit also fetches the value its
 * write replaces (STMDEV_F_FETCH_OLD; a value larger than first guessed
 * costs one more call).  On a backend without that feature the key is read,
 * then written checked against the version read, and read again on a
 * conflict, backing off, at most 64 times; either way the value handed
 * back is exactly the one replaced.
 *
 * Return: 0; -STM_EBUSY (non-blocking store); -EBADF read-only store;
 * -E2BIG @len over the limit; -STM_ERETRIES (no FETCH_OLD: the key kept
 * changing between the read and the write, 64 times); -errno.
 */
int stm_swap(struct stm_store *s, const char *key, const void *data, size_t len,
	     struct stm_value **old);

/**
 * stm_swap_n() - stm_swap() for a binary key.
 * @s:    store handle.
 * @key:  key bytes.
 * @klen: key length.
 * @data: new bytes.
 * @len:  length.
 * @old:  as stm_swap().
 *
 * Return: as stm_swap().
 */
int stm_swap_n(struct stm_store *s, const void *key, size_t klen,
	       const void *data, size_t len, struct stm_value **old);

/* ---- walking and dumping ------------------------------------------------ */

/**
 * stm_names() - call @cb with every key of the store (Axon names).
 * @s:   store handle.
 * @cb:  called with each key's bytes and length; non-zero stops the walk.
 * @arg: passed to @cb.
 *
 * Not a snapshot: a key that exists for the whole walk is seen exactly
 * once; keys created or deleted meanwhile may or may not be.
 *
 * Return: the number of keys visited, the non-zero value @cb returned, or
 * -errno.
 */
int stm_names(struct stm_store *s,
	      int (*cb)(const void *key, size_t len, void *arg), void *arg);

/** struct stm_key_info - one key, as stm_keys() reports it. */
struct stm_key_info {
	const void *key;	/* valid during the callback only */
	size_t      key_len;
	uint64_t    version;
	size_t      value_len;
};

/**
 * stm_keys() - stm_names() with each key's version and value length.
 * @s:   store handle.
 * @cb:  called once per key; non-zero stops the walk.
 * @arg: passed to @cb.
 *
 * Return: as stm_names().
 */
int stm_keys(struct stm_store *s,
	     int (*cb)(const struct stm_key_info *ki, void *arg), void *arg);

/**
 * stm_dump() - print every key, version and value, as text (Axon dump).
 * @s:   store handle.
 * @out: stream to print to.
 *
 * Keys are sorted; printable data is shown quoted, other data in hex
 * (8-byte values also as i64); long data is cut.  Values are read in as
 * few snapshots as the per-call limit allows.
 *
 * Return: the number of keys printed, or -errno (-EIO on a write error).
 */
int stm_dump(struct stm_store *s, FILE *out);

/** struct stm_record - one key as stm_export() gives it, stm_import() takes it. */
struct stm_record {
	const void *key;	/* valid during the callback only (stm_export) */
	size_t      key_len;
	const void *value;	/* likewise; may be NULL when value_len is 0 */
	size_t      value_len;
	uint64_t    version;	/* the key's version, >= 1 */
};

/**
 * stm_export() - every key of a store, at one instant.
 * @s:     store handle (a /dev/stm store; other backends: -EOPNOTSUPP).
 * @cb:    called once per key with its bytes, value and version, in the
 *         kernel's table order; non-zero stops the export.
 * @arg:   passed to @cb.
 * @clock: if not NULL, set to the snapshot's clock.
 *
 * The kernel takes one snapshot of the whole store (STMDEV_IOC_EXPORT,
 * consistent while other processes commit), charged to the caller's
 * memory limit, and the records are copied out in pieces.
 *
 * Return: the number of keys, the non-zero value @cb returned, or -errno:
 * -EOPNOTSUPP without STMDEV_F_PERSIST, -EDQUOT over the caller's memory
 * limit, -EBUSY when keys kept being created during the snapshot.
 */
int stm_export(struct stm_store *s,
	       int (*cb)(const struct stm_record *r, void *arg), void *arg,
	       uint64_t *clock);

/**
 * stm_import() - fill an empty store with keys and their versions.
 * @s:     store handle, attached for writing (a /dev/stm store).
 * @recs:  the keys, values and versions.
 * @n:     how many.
 * @clock: if not NULL, set to the store's clock after (above every version).
 *
 * All or nothing (STMDEV_IOC_IMPORT): the store's and its owner's limits
 * apply as to a commit.
 *
 * Return: 0, or -errno: -ENOTEMPTY when the store has keys, -EDQUOT or
 * -ENOSPC over a limit, -EEXIST for a key twice, -EINVAL for a bad record,
 * -EBADF when attached read-only, -EOPNOTSUPP as for stm_export().
 */
int stm_import(struct stm_store *s, const struct stm_record *recs, size_t n,
	       uint64_t *clock);

/**
 * stm_is_text() - would @len bytes at @data print as text?
 * @data: bytes (may be NULL when @len is 0).
 * @len:  their length.
 *
 * Printable ASCII, or well-formed UTF-8 above it (no overlongs, no
 * surrogates): the rule stm_dump() and stmctl use to show a value as text
 * rather than hex, and what can go into a JSON string as it is.
 *
 * Return: true or false.
 */
bool stm_is_text(const void *data, size_t len);

/* ---- transactions ------------------------------------------------------- */

/*
 * stm_atomic() runs a function as one transaction: the reads it makes see
 * one snapshot of the store, its writes are kept private, and at its end
 * they are committed all at once if nothing it read has changed; else the
 * function is run again (ScalaSTM's atomic, Haskell's atomically).  The
 * function may be run several times, so it must not have side effects
 * outside the transaction: register hooks for those.
 *
 *	static int transfer(struct stm_txn *tx, void *arg)
 *	{
 *		int64_t a;
 *		int ret = stm_get_i64(tx, "alice", &a);
 *
 *		if (ret)
 *			return ret;
 *		if (a < 10)
 *			return STM_RETRY;	// block until alice changes
 *		ret = stm_put_i64(tx, "alice", a - 10);
 *		return ret ? ret : stm_add_i64(tx, "bob", 10);
 *	}
 *	ret = stm_atomic(s, transfer, NULL, NULL);
 */

struct stm_txn;		/* a running transaction; belongs to one thread */

/*
 * Returned by a transaction function (best through stm_retry()): block
 * until a key it read changes, then run it again.  A negative value outside
 * -errno's range, so that every result >= 0 commits (it was 1 before
 * libstmdev 1.3, which made a function returning 1 retry) and "if (ret < 0)
 * return ret;" passes a nested block's retry on.
 */
#define STM_RETRY	(-0x10000)

/* stm_retry_keys() and stm_wait() flags */
#define STM_WAIT_ANY	0U		/* wake when any key changed */
#define STM_WAIT_ALL	(1U << 0)	/* wake when every key changed */

#define STM_FAMILY_NAME_MAX	31	/* longest family name, in bytes */

/**
 * struct stm_txn_opts - how stm_atomic() runs a transaction.
 * @flags:       STM_RDONLY (writes fail with -EBADF), STM_NONBLOCK (a
 *               busy commit gives -STM_EBUSY at once).
 * @max_retries: reruns after a conflict before giving up with
 *               -STM_ERETRIES; 0: no limit.  Blocking retries (STM_RETRY)
 *               do not count: @timeout_ms bounds those.
 * @timeout_ms:  the whole call, blocking retries included, ends with
 *               -ETIMEDOUT after this long; 0: no limit.
 * @family:      name of this kind of transaction (1..STM_FAMILY_NAME_MAX
 *               bytes of [A-Za-z0-9._-]), for per-family statistics
 *               (stm_families(), stmctl stats --families); NULL: none.
 *               Only a writable handle adds a family to the store: on a
 *               read-only one, a family no writer named yet is not
 *               counted, and the transaction runs all the same.
 * @escalate_after: with STM_ESCALATE in @flags (read only then): after
 *               this many conflicts (0: 8), each rerun first reserves the
 *               keys the attempts that conflicted read and wrote
 *               (stm_reserve()), and any other key before it reads it, so
 *               that other handles' commits that write them wait, and the
 *               transaction commits.  Off by default: a reservation holds
 *               other writers up, so a transaction opts in.
 * @reserve_ms:  with STM_ESCALATE: the reservation's bound in ms (0: the
 *               kernel's ``max_reserve_ms``, default 50).
 * @reserved:    zero.  Fields added later will be read only under a flag
 *               that asks for them.
 *
 * A NULL opts means all zero.  Contention management (STM_ESCALATE) is
 * best effort: where the backend cannot reserve (the etcd backend, a
 * module without STMDEV_F_RESERVE) or the kernel refuses (the handle's
 * cooldown after its last reservation, a limit), the transaction just
 * keeps rerunning as without it, within @max_retries and @timeout_ms.
 * A reservation is the handle's: on one handle shared by threads, another
 * thread's commit passes it and its successful commit ends it.  It is
 * released when stm_atomic() returns, whatever the outcome, and before a
 * blocking retry sleeps.  Documentation/atomic.rst, "Contention
 * management".
 */
struct stm_txn_opts {
	unsigned    flags;
	unsigned    max_retries;
	unsigned    timeout_ms;
	const char *family;
	unsigned    escalate_after;	/* STM_ESCALATE */
	unsigned    reserve_ms;		/* STM_ESCALATE */
	uint64_t    reserved[3];
};

/* stm_txn_opts.flags: escalate after escalate_after conflicts (1.6). */
#define STM_ESCALATE	(1 << 8)

/**
 * stm_atomic() - run @fn as one transaction on @s, rerunning it until it
 * commits.
 * @s:    store handle.
 * @fn:   the transaction: reads and writes through @tx, then returns
 *        >= 0 to commit (that value is stm_atomic's result), STM_RETRY to
 *        block until something it read changes and run again, or a
 *        negative errno to roll back and return that error.  It should
 *        return any error a call on @tx (stm_get(), stm_put()...) gives it.
 * @arg:  passed to @fn.
 * @opts: options, or NULL.
 *
 * Opacity: the first read fixes the transaction's snapshot (a commit
 * clock); every later read is served at that clock, and if a key changed
 * since, the read fails with -STM_ECONFLICT and the attempt is over: @fn
 * never computes on an inconsistent state.  Whatever @fn returns then,
 * it is run again.  Reads of a key are served once per attempt and
 * cached; a transaction reads its own writes.
 *
 * Commit: keys read are validated at their versions, keys written are
 * written (checked against the version read when they were read, blind
 * otherwise), stm_add_i64() on keys not read become kernel additions that
 * never conflict.  A transaction that wrote nothing needs no commit: its
 * snapshot was consistent by construction.  A conflict runs the on-abort
 * hooks and reruns @fn, after a randomized backoff growing to 1 ms.  A
 * busy store (attached STM_NONBLOCK) is retried with the same commit,
 * without rerunning @fn, backing off the same way, until @timeout_ms has
 * passed (-ETIMEDOUT) or, with no timeout, for one second (-STM_EBUSY);
 * with STM_NONBLOCK in @opts a busy commit gives -STM_EBUSY at once.
 *
 * Nesting: stm_atomic() on the same store inside @fn joins the running
 * transaction (its @opts are then ignored); if the inner @fn fails or
 * retries, only the inner writes are rolled back (closed nesting) and its
 * result is returned to the outer @fn.  On another store it starts an
 * independent transaction.
 *
 * Return: @fn's result; @fn's negative errno (nothing written); or
 * -STM_ERETRIES (more conflicts than max_retries), -ETIMEDOUT,
 * -STM_EBUSY (STM_NONBLOCK in @opts, or a store busy for a second with no
 * timeout), -EINTR (a signal during a blocking retry
 * or commit), -EIDRM (the store was unlinked during a blocking retry),
 * -EDEADLK (STM_RETRY with nothing read: it could never wake), -E2BIG
 * (the commit, or a blocking retry's wait, needs more keys than one call
 * carries: see stm_put()), -EBADF (a write on a read-only
 * store), -ENOSPC, -ENOMEM, -EINVAL.  Whenever it fails, nothing of the
 * transaction was written.
 */
int stm_atomic(struct stm_store *s, int (*fn)(struct stm_txn *tx, void *arg),
	       void *arg, const struct stm_txn_opts *opts);

/**
 * stm_get() - read a key in a transaction.
 * @tx:   transaction.
 * @key:  NUL-terminated key.
 * @data: receives the value, owned by @tx: valid until the key is written
 *        in @tx (a rolled-back nested block counts) or the attempt ends.
 *        A present empty value is a non-NULL pointer of length 0.
 * @len:  if not NULL, receives the length.
 *
 * A read never fails for its size: a value larger than first guessed is
 * read again into a larger buffer (at most max_value_size), and a
 * transaction may read more keys than one call carries (max_keys_per_call;
 * they are read in several calls at the one snapshot).
 *
 * Return: 0; -ENOENT absent (or deleted by @tx); -STM_ECONFLICT the key
 * changed since the transaction's snapshot (the attempt is over: return
 * it); -EINVAL; -ENOMEM.
 */
int stm_get(struct stm_txn *tx, const char *key, const void **data, size_t *len);

/**
 * stm_get_i64() - read an 8-byte little-endian integer key.
 * @tx:  transaction.
 * @key: NUL-terminated key.
 * @out: receives the integer; an absent key reads as 0.
 *
 * Return: 0; -EINVAL the value is not 8 bytes; otherwise as stm_get().
 */
int stm_get_i64(struct stm_txn *tx, const char *key, int64_t *out);

/**
 * stm_put() - write a key in a transaction (published at commit).
 * @tx:   transaction.
 * @key:  NUL-terminated key.
 * @data: bytes, copied (may be NULL when @len is 0).
 * @len:  length, at most max_value_size.
 *
 * Return: 0; -E2BIG @len over max_value_size, or the commit would need
 * more entries than one call carries (max_keys_per_call: one entry per key
 * read or written, two for a key read and then added to; a commit is never
 * split, that would not be atomic: checked here, so @fn sees it at the
 * write that does not fit); -EBADF read-only store or transaction;
 * -EINVAL; -ENOMEM; -STM_ECONFLICT the attempt is already over.
 */
int stm_put(struct stm_txn *tx, const char *key, const void *data, size_t len);

/**
 * stm_put_i64() - write an 8-byte little-endian integer.
 * @tx:  transaction.
 * @key: NUL-terminated key.
 * @x:   the integer.
 *
 * Return: as stm_put().
 */
int stm_put_i64(struct stm_txn *tx, const char *key, int64_t x);

/**
 * stm_del() - delete a key in a transaction (absent after commit).
 * @tx:  transaction.
 * @key: NUL-terminated key.
 *
 * Return: as stm_put().
 */
int stm_del(struct stm_txn *tx, const char *key);

/**
 * stm_add_i64() - add to an 8-byte integer key (commute).
 * @tx:    transaction.
 * @key:   NUL-terminated key; absent counts as 0.
 * @delta: signed amount.
 *
 * On a key the transaction has neither read nor written this becomes an
 * addition done by the kernel at commit: it never conflicts and never
 * loses an increment (Clojure's commute).  On a key read or written it
 * is folded into the write (read + put).  Reading the key later in the
 * transaction reads it and folds the pending addition in.
 *
 * Return: 0; -EINVAL the value known to the transaction is not 8 bytes;
 * otherwise as stm_put().
 */
int stm_add_i64(struct stm_txn *tx, const char *key, int64_t delta);

/**
 * stm_get_n() - stm_get() for a binary key.
 * @tx:   transaction.
 * @key:  key bytes.
 * @klen: key length.
 * @data: as stm_get().
 * @len:  as stm_get().
 *
 * Return: as stm_get().
 */
int stm_get_n(struct stm_txn *tx, const void *key, size_t klen,
	      const void **data, size_t *len);

/**
 * stm_put_n() - stm_put() for a binary key.
 * @tx:   transaction.
 * @key:  key bytes.
 * @klen: key length.
 * @data: bytes.
 * @len:  length.
 *
 * Return: as stm_put().
 */
int stm_put_n(struct stm_txn *tx, const void *key, size_t klen,
	      const void *data, size_t len);

/**
 * stm_del_n() - stm_del() for a binary key.
 * @tx:   transaction.
 * @key:  key bytes.
 * @klen: key length.
 *
 * Return: as stm_del().
 */
int stm_del_n(struct stm_txn *tx, const void *key, size_t klen);

/**
 * stm_add_i64_n() - stm_add_i64() for a binary key.
 * @tx:    transaction.
 * @key:   key bytes.
 * @klen:  key length.
 * @delta: signed amount.
 *
 * Return: as stm_add_i64().
 */
int stm_add_i64_n(struct stm_txn *tx, const void *key, size_t klen, int64_t delta);

/**
 * stm_retry() - block until a key the transaction read changes, then rerun.
 * @tx: transaction.
 *
 * Use as ``return stm_retry(tx);``.  In a nested block or an alternative of
 * stm_or_else(), the retry is that level's: stm_or_else() then tries the
 * other alternative; returned on up, the whole transaction waits on every
 * key it read.
 *
 * Return: STM_RETRY; -EINVAL (no live transaction); -STM_ECONFLICT (the
 * attempt is over).
 */
int stm_retry(struct stm_txn *tx);

/*
 * stm_modify_fn - the transform of stm_modify(): @old/@old_len the value
 * (@old NULL when absent); return 0 after setting *@new_data and *@new_len to
 * the new value (copied by stm_modify; *@new_data NULL deletes the key),
 * > 0 to leave the value as it is, or a negative errno.
 */
typedef int (*stm_modify_fn)(const void *old, size_t old_len,
			     const void **new_data, size_t *new_len, void *arg);

/**
 * stm_modify() - replace a key's value with a function of it (Scala's
 * transform, Haskell's modifyTVar), in a transaction.
 * @tx:  transaction.
 * @key: NUL-terminated key.
 * @fn:  the transform (stm_modify_fn).
 * @arg: passed to @fn.
 *
 * The key is read (so the commit validates it) and written.
 *
 * Return: 0; @fn's negative errno; otherwise as stm_get() and stm_put().
 */
int stm_modify(struct stm_txn *tx, const char *key, stm_modify_fn fn, void *arg);

/**
 * stm_modify_i64() - stm_modify() for an 8-byte integer (absent: 0).
 * @tx:     transaction.
 * @key:    NUL-terminated key.
 * @fn:     returns the new integer from the old one.
 * @arg:    passed to @fn.
 * @result: if not NULL, receives the new integer.
 *
 * Return: 0; -EINVAL the value is not 8 bytes; as stm_get(), stm_put().
 */
int stm_modify_i64(struct stm_txn *tx, const char *key,
		   int64_t (*fn)(int64_t old, void *arg), void *arg, int64_t *result);

/**
 * stm_commute() - apply a function to a key's value at commit (Clojure's
 * commute), in a transaction.
 * @tx:  transaction.
 * @key: NUL-terminated key.
 * @fn:  the function (stm_modify_fn), which must be pure: it may run
 *       several times, at each commit attempt, on the latest value.
 * @arg: passed to @fn.
 *
 * The key is not read: at commit the library reads its latest value,
 * applies every function commuted on it in order, and writes the result
 * checked against the version it just read; if only that key moved
 * meanwhile, it reads and applies again and resends the same commit (at
 * most 64 times), without rerunning the transaction.  So commutes on a
 * hot key do not make transactions rerun.  If the transaction reads the
 * key afterwards (stm_get), the functions are applied to the value at its
 * snapshot and the key becomes an ordinary read and write; on a key the
 * transaction already read or wrote, stm_commute() is stm_modify().
 *
 * Return: 0; -E2BIG; -EBADF; -EINVAL; -ENOMEM; -STM_ECONFLICT (attempt
 * over); as stm_modify() when it applies at once.
 */
int stm_commute(struct stm_txn *tx, const char *key, stm_modify_fn fn, void *arg);

/**
 * stm_retry_until() - go on only once a predicate holds (stm.io's
 * (retry [refs] pred)).
 * @tx:   transaction.
 * @pred: reads through @tx and returns > 0 when the transaction may go
 *        on, 0 when not, or a negative errno; it should only read.  It
 *        runs as a nested level: its reads are the transaction's.
 * @arg:  passed to @pred.
 *
 * Return: 0 (@pred holds: go on); STM_RETRY (it does not: return it, and
 * the transaction sleeps until a key read, @pred's included, changes, and
 * runs again); @pred's negative errno; -EINVAL.
 */
int stm_retry_until(struct stm_txn *tx, int (*pred)(struct stm_txn *, void *),
		    void *arg);

/**
 * stm_deadline_ms() - the CLOCK_MONOTONIC time @ms milliseconds from now,
 * in ms, for stm_retry_deadline().
 * @ms: milliseconds from now.
 */
int64_t stm_deadline_ms(unsigned int ms);

/**
 * stm_retry_deadline() - a blocking retry that ends at a deadline
 * (Haskell's registerDelay, Scala's retryFor).
 * @tx:          transaction.
 * @deadline_ms: from stm_deadline_ms(), taken before stm_atomic() so that
 *               it stays the same across reruns.
 *
 * Before the deadline: STM_RETRY, and the transaction's sleep ends at the
 * deadline at the latest (it then runs again), whatever else it waits on.
 * From the deadline on: -ETIMEDOUT.  It composes: as the second
 * alternative of stm_or_else(), "take from the queue, or time out".
 *
 * Return: STM_RETRY; -ETIMEDOUT; -EINVAL; -STM_ECONFLICT (attempt over).
 */
int stm_retry_deadline(struct stm_txn *tx, int64_t deadline_ms);

/**
 * stm_retry_keys() - block until some named keys change, then rerun.
 * @tx:    transaction.
 * @keys:  @n NUL-terminated keys (read now, if the transaction has not
 *         read them, at its snapshot).
 * @n:     number of keys, at least 1.
 * @flags: STM_WAIT_ANY (any key changed) or STM_WAIT_ALL (every one).
 *
 * A narrower stm_retry(): use as ``return stm_retry_keys(tx, keys, n, 0);``.
 * The keys are this level's: a nested block's or an orElse alternative's
 * named keys do not outlive it (the enclosing level waits on what it
 * names itself, or on every key read).
 *
 * Return: STM_RETRY; -EINVAL; -STM_ECONFLICT (the attempt is over).
 */
int stm_retry_keys(struct stm_txn *tx, const char *const *keys, size_t n,
		   unsigned flags);

/**
 * stm_or_else() - run @a; if it retries, undo its writes and run @b.
 * @tx: transaction.
 * @a:  first alternative, called as @a(@tx, @aa).
 * @aa: its argument.
 * @b:  second alternative.
 * @ba: its argument.
 *
 * Haskell's orElse.  An alternative that retries (returns STM_RETRY) has
 * its writes and hooks rolled back (its on-abort hooks run); one that
 * fails with a negative errno too, and that error is returned without
 * trying @b.  The keys @a read stay in the transaction's read set.  If
 * both retry, the result is STM_RETRY and the transaction, when it
 * returns it, blocks on the union of what both read (or named).
 *
 * Return: the result of the alternative that did not retry; STM_RETRY;
 * a negative errno.
 */
int stm_or_else(struct stm_txn *tx, int (*a)(struct stm_txn *, void *), void *aa,
		int (*b)(struct stm_txn *, void *), void *ba);

/*
 * Containers over keys (Documentation/containers.rst, stm_queue(3)).
 * Every operation runs inside a transaction on @tx and composes with the
 * rest of it.  A blocking operation that cannot go on returns
 * stm_retry(tx): return it from the transaction function, and the
 * transaction sleeps until a key it read changes (inside stm_or_else(),
 * the next alternative runs instead).  The try_ variants return -EAGAIN
 * there instead.  Data handed out is copied to @buf (@cap bytes; *@len
 * receives the length; -EMSGSIZE when it does not fit, nothing changed).
 * Names are keys (at most 236 bytes for a queue).
 *
 * Errors besides: those of stm_get() and stm_put() (-STM_ECONFLICT: the
 * attempt is over, return it), -EINVAL (bad argument, or keys that make
 * no such container).
 */

/* stm_queue_init() - make @q bounded at @capacity items (0: unbounded,
 * the state of a queue never initialised); -EEXIST if it already has
 * another capacity. */
int stm_queue_init(struct stm_txn *tx, const char *q, uint64_t capacity);
/* stm_queue_size() - the number of items in @q, into *@n. */
int stm_queue_size(struct stm_txn *tx, const char *q, uint64_t *n);
/* stm_queue_put() - append an item; STM_RETRY while a bounded @q is full. */
int stm_queue_put(struct stm_txn *tx, const char *q, const void *data, size_t len);
int stm_queue_try_put(struct stm_txn *tx, const char *q, const void *data,
		      size_t len);
/* stm_queue_take() - remove the oldest item into @buf; STM_RETRY while @q
 * is empty.  stm_queue_peek() - the same, leaving it in @q. */
int stm_queue_take(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		   size_t *len);
int stm_queue_try_take(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		       size_t *len);
int stm_queue_peek(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		   size_t *len);
int stm_queue_try_peek(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		       size_t *len);

/* stm_mvar_put() - fill the MVar @mv (one key); STM_RETRY while it is
 * full.  stm_mvar_take() - empty it into @buf; STM_RETRY while it is
 * empty.  stm_mvar_read() - the value, leaving it full. */
int stm_mvar_put(struct stm_txn *tx, const char *mv, const void *data, size_t len);
int stm_mvar_try_put(struct stm_txn *tx, const char *mv, const void *data,
		     size_t len);
int stm_mvar_take(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		  size_t *len);
int stm_mvar_try_take(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		      size_t *len);
int stm_mvar_read(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		  size_t *len);

/* stm_sem_acquire() - take @n (>= 1) units of the counting semaphore @sem
 * (an integer key; absent: 0); STM_RETRY while fewer are there.
 * stm_sem_release() - give @n back: a commuting addition, it never
 * conflicts. */
int stm_sem_acquire(struct stm_txn *tx, const char *sem, uint64_t n);
int stm_sem_try_acquire(struct stm_txn *tx, const char *sem, uint64_t n);
int stm_sem_release(struct stm_txn *tx, const char *sem, uint64_t n);

/*
 * Map over the key prefix @m (binary keys of at most 252 bytes minus the
 * name): stm_map_get() -ENOENT when absent; stm_map_put() 1 when it added
 * the key, 0 when it replaced it; stm_map_del() -ENOENT when absent;
 * stm_map_contains() 1 or 0; stm_map_size() the number of entries (a
 * counter key, exact at the snapshot); stm_map_iterate() calls @cb for
 * every entry at the transaction's snapshot, in key byte order, with the
 * transaction's own puts and deletes applied (a non-zero @cb result stops
 * and is returned).  Iteration is a range read of the map's prefix
 * (stm_range()): an entry added or removed by another process before the
 * commit makes it conflict, a value changed does not (no phantoms for
 * transactions that write; a read-only one sees one snapshot), and it
 * costs O(map), not O(store).  Without kernel range reads (etcd, or a
 * module without STMDEV_F_RANGE) it falls back to walking the whole store
 * and reading the counter, which then conflicts on any change of the size.
 * A set is a map with empty values.
 */
int stm_map_get(struct stm_txn *tx, const char *m, const void *key, size_t klen,
		void *buf, size_t cap, size_t *len);
int stm_map_put(struct stm_txn *tx, const char *m, const void *key, size_t klen,
		const void *data, size_t len);
int stm_map_del(struct stm_txn *tx, const char *m, const void *key, size_t klen);
int stm_map_contains(struct stm_txn *tx, const char *m, const void *key, size_t klen);
int stm_map_size(struct stm_txn *tx, const char *m, uint64_t *size);
int stm_map_iterate(struct stm_txn *tx, const char *m,
		    int (*cb)(struct stm_txn *tx, const void *key, size_t klen,
			      const void *val, size_t vlen, void *arg),
		    void *arg);
#define stm_set_contains	stm_map_contains
#define stm_set_size		stm_map_size
int stm_set_add(struct stm_txn *tx, const char *set, const void *key, size_t klen);
int stm_set_remove(struct stm_txn *tx, const char *set, const void *key, size_t klen);

/*
 * Fixed-size array @a of @n elements (each a byte string, empty until
 * set): stm_array_init() -EEXIST if it has another size; get/set -ERANGE
 * past the end, -ENOENT for an array never initialised.
 */
int stm_array_init(struct stm_txn *tx, const char *a, uint64_t n);
int stm_array_size(struct stm_txn *tx, const char *a, uint64_t *n);
int stm_array_get(struct stm_txn *tx, const char *a, uint64_t i, void *buf,
		  size_t cap, size_t *len);
int stm_array_set(struct stm_txn *tx, const char *a, uint64_t i, const void *data,
		  size_t len);

/**
 * stm_range() - the keys under a prefix, in a transaction, without phantoms.
 * @tx:     transaction.
 * @prefix: the prefix, 1..max_key_len bytes.
 * @plen:   its length.
 * @cb:     called once per key under @prefix present at the transaction's
 *          snapshot, with the transaction's own pending writes applied
 *          (keys it deleted left out, keys it created added), in byte
 *          order; may use @tx (e.g. stm_get_n() the value).  Non-zero stops.
 * @arg:    passed to @cb.
 *
 * The commit then fails with a conflict (the transaction reruns) if
 * another process created or deleted a key under @prefix since the
 * snapshot; overwriting the value of a key already there does not conflict
 * (read the value to depend on it).  A read-only transaction sends no
 * commit: it sees the keys at its one snapshot.  The first range read of a
 * prefix in a store declares it in the kernel: one walk of the whole store
 * then, a small charge per key under the prefix from then on, at most 64
 * prefixes per store (-ENOSPC); through a read-only handle only prefixes
 * already declared can be read (-EBADF).  A range read walks only the keys
 * under the prefix.  A blocking retry (stm_retry()) waits on the keys read,
 * not on the range: read the key whose change should wake it.
 *
 * Return: 0; the non-zero value @cb returned; -EINVAL; -ENOMEM; -ESTALE
 * (the range changed since the snapshot: the attempt reruns);
 * -EOPNOTSUPP when the backend has no range reads (etcd, or a module
 * without STMDEV_F_RANGE); -ENOSPC; -EDQUOT; -EBADF.
 */
int stm_range(struct stm_txn *tx, const void *prefix, size_t plen,
	      int (*cb)(struct stm_txn *tx, const void *key, size_t klen, void *arg),
	      void *arg);

/**
 * stm_range_keys() - the keys under a prefix, at one instant, outside a
 *                    transaction.
 * @s:      store handle.
 * @prefix: the prefix, 1..max_key_len bytes.
 * @plen:   its length.
 * @cb:     called once per key present under @prefix (version set,
 *          value_len 0), in byte order; non-zero stops.
 * @arg:    passed to @cb.
 *
 * Declares the prefix on first use, as stm_range() does.
 *
 * Return: the number of keys, the non-zero value @cb returned, or -errno
 * as for stm_range().
 */
int stm_range_keys(struct stm_store *s, const void *prefix, size_t plen,
		   int (*cb)(const struct stm_key_info *ki, void *arg), void *arg);

/**
 * stm_before_commit() - call @cb before each commit attempt.
 * @tx:  transaction.
 * @cb:  called with @arg once per attempt that reaches its commit, after
 *       @fn returned and before the commit is sent (so it may still use
 *       the transaction, e.g. through a @tx kept in @arg); may run once per
 *       rerun.
 * @arg: passed to @cb.
 *
 * Hooks belong to the attempt (and nested block) that registered them.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
int stm_before_commit(struct stm_txn *tx, void (*cb)(void *), void *arg);

/**
 * stm_after_commit() - call @cb once the transaction has committed.
 * @tx:  transaction.
 * @cb:  called with @arg exactly once, after the successful commit, and
 *       never if the attempt that registered it failed: the place for
 *       side effects.  The transaction is over when it runs.
 * @arg: passed to @cb.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
int stm_after_commit(struct stm_txn *tx, void (*cb)(void *), void *arg);

/**
 * stm_on_abort() - call @cb if this attempt (or nested block) fails.
 * @tx:  transaction.
 * @cb:  called with @arg after the attempt that registered it failed
 *       (conflict, retry, error) or the nested block or orElse
 *       alternative that registered it was rolled back; at most once per
 *       registration.
 * @arg: passed to @cb.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
int stm_on_abort(struct stm_txn *tx, void (*cb)(void *), void *arg);

/**
 * stm_txn_attempt() - which run of the transaction function this is.
 * @tx: transaction.
 *
 * Return: 1 for the first run, 2 for the first rerun, ...; 0 for NULL.
 */
unsigned stm_txn_attempt(const struct stm_txn *tx);

/**
 * stm_last_conflict() - the key whose change last made this thread's
 * transaction on @s rerun.
 * @s:   store handle.
 * @buf: receives the key's bytes (at most @cap) and, if room is left, a
 *       NUL; may be NULL when @cap is 0.
 * @cap: bytes at @buf.
 *
 * Covers the calling thread's most recent stm_atomic() on @s: a
 * conflict at commit or a read that found the snapshot gone.
 *
 * Return: the key's length (more than @cap: cut), 0 when that
 * transaction had no conflict, -EINVAL.
 */
int stm_last_conflict(const struct stm_store *s, void *buf, size_t cap);

/* ---- waiting outside a transaction --------------------------------------- */

/**
 * stm_wait() - sleep until keys differ from versions the caller saw.
 * @s:          store handle.
 * @keys:       @n NUL-terminated keys.
 * @versions:   @n versions (0 = absent), e.g. from stm_value_version().
 * @n:          number of keys, 1..max_keys_per_call.
 * @flags:      STM_WAIT_ANY or STM_WAIT_ALL.
 * @timeout_ms: < 0: no limit; 0: check only.
 *
 * Sleeps in the kernel: a blocked caller uses no CPU.  Deleting a key is a
 * change too.
 *
 * Return: the index of the first key that differs; -ETIMEDOUT; -EINTR a
 * signal; -EIDRM the store was unlinked; -EINVAL; -E2BIG.
 */
int stm_wait(struct stm_store *s, const char *const *keys, const uint64_t *versions,
	     size_t n, unsigned flags, int timeout_ms);

/**
 * stm_store_fd() - a descriptor to poll for the watch set.
 * @s: store handle.
 *
 * poll()/epoll report it readable (POLLIN) while a key of the watch set
 * (stm_watch()) differs from the version it was armed at, and POLLHUP once
 * the store is unlinked.  Owned by @s: do not close it, read it or write
 * it.
 *
 * Return: the descriptor, or -EOPNOTSUPP (a backend without one), -EINVAL.
 */
int stm_store_fd(struct stm_store *s);

/**
 * stm_watch() - arm the handle's watch set at the keys' current versions.
 * @s:    store handle.
 * @keys: @n NUL-terminated keys.
 * @n:    number of keys, 0 (clear the watch set) to max_keys_per_call.
 *
 * Replaces the watch set.  The versions are read now, so a change made
 * after this call (or between the caller's last read and it) makes
 * stm_store_fd() readable; call it again to re-arm after handling the
 * change.
 *
 * Return: 0; -EINVAL; -E2BIG; -errno.
 */
int stm_watch(struct stm_store *s, const char *const *keys, size_t n);

/**
 * stm_watch_n() - stm_watch() for binary keys.
 * @s:    store handle.
 * @keys: @n key pointers.
 * @lens: @n key lengths.
 * @n:    number of keys (0 clears the watch set).
 *
 * Return: as stm_watch().
 */
int stm_watch_n(struct stm_store *s, const void *const *keys, const size_t *lens,
		size_t n);

/**
 * stm_reserve() - reserve keys to this handle for a bounded time.
 * @s:        store handle, writable.
 * @keys:     @n NUL-terminated keys.
 * @n:        number of keys, 0 (release the handle's reservation) to
 *            max_keys_per_call.
 * @bound_ms: how long at most, in ms; 0 or more than the kernel allows
 *            (module parameter ``max_reserve_ms``, default 50): that.
 *
 * Contention management: while the reservation lives, a commit through
 * another handle that writes one of the keys waits for it to end (or fails
 * with -STM_EBUSY when non-blocking); reads never wait.  It ends at this
 * handle's first successful commit, at stm_reserve() with @n 0, when the
 * handle is closed or its process exits, and after @bound_ms whatever
 * happens.  A call while one is held replaces its keys and keeps its end.
 * After one ends the handle may reserve again only once as long as it was
 * held has passed (-STM_EBUSY before).  stm_atomic() does this itself
 * with STM_ESCALATE (struct stm_txn_opts).
 *
 * Return: the ms the reservation has left (0 after a release); -EINVAL;
 * -E2BIG (more than max_keys_per_call keys); -EBADF (read-only handle);
 * -STM_EBUSY (cooldown); -EDQUOT (the user's ``max_reserved_per_user``);
 * -ENOSPC (64 reservations live in the store); -EOPNOTSUPP (a backend or
 * module without reservations: etcd, no STMDEV_F_RESERVE); -errno.
 */
int stm_reserve(struct stm_store *s, const char *const *keys, size_t n,
		unsigned int bound_ms);

/**
 * stm_reserve_n() - stm_reserve() for binary keys.
 * @s:        store handle, writable.
 * @keys:     @n key pointers.
 * @lens:     @n key lengths.
 * @n:        number of keys (0 releases).
 * @bound_ms: as stm_reserve().
 *
 * Return: as stm_reserve().
 */
int stm_reserve_n(struct stm_store *s, const void *const *keys, const size_t *lens,
		  size_t n, unsigned int bound_ms);

/* ---- transaction families ------------------------------------------------ */

/** struct stm_family_stats - counters of one transaction family. */
struct stm_family_stats {
	const char *name;	/* valid during the callback only */
	uint32_t    id;		/* 1.., store-wide */
	uint32_t    reserved0;
	uint64_t    attempts;	/* commits sent */
	uint64_t    commits;	/* commits that succeeded */
	uint64_t    conflicts;	/* commits that conflicted */
	uint64_t    busy;	/* non-blocking commits that found a key locked */
	uint64_t    waits;	/* blocking retries (waits) */
	uint64_t    retries;	/* commits of reruns (after a conflict or a wait) */
	uint64_t    reserved[2];
};

/**
 * stm_families() - call @cb with the counters of every family of @s.
 * @s:   store handle.
 * @cb:  called once per family, in id order; non-zero stops the walk.
 * @arg: passed to @cb.
 *
 * Families are registered by stm_atomic() with opts->family, by any
 * process; the counts are store-wide.
 *
 * Return: the number of families visited, the non-zero value @cb
 * returned, or -errno.
 */
int stm_families(struct stm_store *s,
		 int (*cb)(const struct stm_family_stats *f, void *arg), void *arg);

/* ---- the ring: many operations per system call (io_uring) ---------------- */

/*
 * A ring batches operations on one store through io_uring: prepare any
 * number of reads, commits, waits and single operations, each with a tag
 * of the caller's, send them all with one stm_ring_submit(), then reap
 * their completions with stm_ring_reap(), in whatever order they finish.
 * Each completion carries what the synchronous call would have returned.
 *
 *	struct stm_ring *r;
 *	struct stm_cqe cqe[64];
 *
 *	stm_ring_open(s, 64, 0, &r);
 *	for (int i = 0; i < 64; i++)
 *		stm_ring_prep_fetch_add(r, keys[i], 1, i);
 *	stm_ring_submit(r);			// one system call
 *	n = stm_ring_reap(r, cqe, 64, 64);	// cqe[j].tag, .result, .value
 *	stm_ring_close(r);
 *
 * A prep function checks its arguments as the synchronous call does and
 * refuses bad ones with the same -errno, queuing nothing; it copies what
 * it needs (keys, values, ops), so the caller's buffers may be reused as
 * soon as it returns.  Errors from the store come in the completion.
 *
 * A ring belongs to one thread at a time and to the process that opened
 * it (not to a child after fork).  Close it before its store.
 */

struct stm_ring;	/* an io_uring on one store handle */

/* Commit op kinds (struct stm_op.op) */
#define STM_OP_READ	0	/* validate: the key is still at .version */
#define STM_OP_PUT	1	/* write .data/.len */
#define STM_OP_DEL	2	/* delete (absent afterwards) */
#define STM_OP_ADD	3	/* add .delta to an 8-byte integer; absent = 0 */

/* struct stm_op.flags */
#define STM_OP_CHECK	(1U << 0)	/* PUT/DEL/ADD: validate .version too */
#define STM_OP_BOUND	(1U << 1)	/* ADD: fail (-ERANGE) outside .min..max */

#define STM_NO_CONFLICT	UINT32_MAX	/* struct stm_cqe.conflict: none */

/**
 * struct stm_op - one entry of a commit (stm_commit(),
 * stm_ring_prep_commit()).
 * @key:      key bytes.
 * @klen:     key length; 0: @key is NUL-terminated.
 * @op:       STM_OP_READ, STM_OP_PUT, STM_OP_DEL or STM_OP_ADD.
 * @flags:    STM_OP_CHECK, STM_OP_BOUND (STM_OP_ADD only).
 * @reserved0: zero.
 * @version:  the version the key must still have (0: absent), for
 *            STM_OP_READ and for writes with STM_OP_CHECK.
 * @data:     STM_OP_PUT: the bytes (may be NULL when @len is 0).
 * @len:      STM_OP_PUT: their length, at most max_value_size.
 * @delta:    STM_OP_ADD: the signed amount.  Without STM_OP_CHECK an
 *            addition needs no read and never conflicts.
 * @result:   STM_OP_ADD: if not NULL, receives the value after the
 *            addition when the commit's completion is reaped (so it must
 *            stay valid until then); untouched if the commit failed.
 * @reserved: the room of @min and @max, its name before 1.6: zero unless
 *            STM_OP_BOUND.
 * @min:      STM_OP_ADD with STM_OP_BOUND: the least value the addition
 *            may leave (e.g. 0: no account below zero); else zero.
 * @max:      STM_OP_ADD with STM_OP_BOUND: the greatest (INT64_MAX: no
 *            ceiling); at least @min; else zero.
 *
 * A key may appear once among the writes and once among the reads.
 *
 * A bounded addition (STM_OP_BOUND, backend feature STMDEV_F_ADD_BOUND,
 * else -EOPNOTSUPP: the etcd backend has none) fails the whole commit
 * with -ERANGE, nothing written, when the exact sum of the stored value
 * (absent: 0) and @delta would be below @min or above @max (an int64
 * overflow counts as out of bounds; a plain addition wraps).  -ERANGE is
 * not a conflict: the same commit gives the same answer until the key
 * changes, so do not redo it blindly.  A guarded transfer is one commit
 * of two bounded additions, -x with @min 0 and +x, with no read.
 */
struct stm_op {
	const void *key;
	size_t      klen;
	uint16_t    op;
	uint16_t    flags;
	uint32_t    reserved0;
	uint64_t    version;
	const void *data;
	size_t      len;
	int64_t     delta;
	int64_t    *result;
	union {
		uint64_t reserved[2];
		struct {
			int64_t min;
			int64_t max;
		};
	};
};

/**
 * stm_commit() - the general commit, synchronously: @n entries, all or
 * nothing.
 * @s:        store handle.
 * @ops:      the entries (struct stm_op): reads to validate, checked or
 *            blind writes, additions (with @result: the value after the
 *            addition, written before stm_commit() returns).
 * @n:        number of entries, 1..max_keys_per_call.
 * @flags:    STM_NONBLOCK (-STM_EBUSY instead of waiting for locks), or 0
 *            (then the store's STM_NONBLOCK decides).
 * @version:  if not NULL, receives the version given to the writes (for a
 *            commit that only validated, the clock it validated at).
 * @conflict: if not NULL, receives on -STM_ECONFLICT the index of the first
 *            entry whose version differed, on -ERANGE that of the first
 *            bounded addition out of its bounds, else STM_NO_CONFLICT.
 *
 * What stm_ring_prep_commit() does, in one system call; every other
 * commit of the library is one of these.
 *
 * Return: 0; -STM_ECONFLICT; -STM_EBUSY; -ERANGE a bounded addition
 * would leave its bounds (STM_OP_BOUND); -EOPNOTSUPP STM_OP_BOUND on a
 * backend without STMDEV_F_ADD_BOUND; -EINVAL bad op, key, flags or
 * reserved field, or a bounded addition with min over max; -E2BIG a value over max_value_size, or @n over
 * max_keys_per_call; -EBADF a write on a read-only store; -ENOMEM; -errno.
 */
int stm_commit(struct stm_store *s, const struct stm_op *ops, size_t n,
	       unsigned int flags, uint64_t *version, uint32_t *conflict);

/**
 * struct stm_cqe - the completion of one ring operation.
 * @tag:       the tag given when the operation was prepared.
 * @result:    what the synchronous call returns: 0, or for a wait the
 *             index of the first key that differs; -STM_ECONFLICT,
 *             -STM_EBUSY, -ETIMEDOUT, -errno.
 * @conflict:  commits failing with -STM_ECONFLICT: the index of the first
 *             op (for a collection, of the value) whose version differed;
 *             with -ERANGE: of the first bounded addition out of its
 *             bounds; else STM_NO_CONFLICT.
 * @version:   successful commits: the version given to the writes (for a
 *             commit that only validated, the clock at which the reads
 *             held); successful reads: the snapshot's commit clock.
 * @value:     stm_ring_prep_fetch_add(): the value after the addition.
 * @index:     waits: the index of the first key that differs (as @result).
 * @reserved0: zero.
 * @coll:      stm_ring_prep_read(): the collection read, now the caller's
 *             (free it with stm_coll_free()), NULL on failure;
 *             stm_ring_prep_commit_coll() and stm_ring_prep_refresh():
 *             the collection, given back; otherwise NULL.
 * @reserved:  zero.
 */
struct stm_cqe {
	uint64_t         tag;
	int32_t          result;
	uint32_t         conflict;
	uint64_t         version;
	int64_t          value;
	uint32_t         index;
	uint32_t         reserved0;
	struct stm_coll *coll;
	uint64_t         reserved[2];
};

/**
 * stm_ring_open() - set up a ring for operations on @s.
 * @s:       store handle (the /dev/stm backend).
 * @entries: operations the ring holds at once, 1..32768: prepared, in
 *           flight, or completed and not yet reaped.
 * @flags:   zero (reserved).
 * @out:     receives the ring, to release with stm_ring_close().
 *
 * Return: 0; -EINVAL bad arguments; -EOPNOTSUPP the store's backend has
 * no io_uring passthrough (STMDEV_F_URING clear); -ENOMEM; -ENOSYS or
 * -EPERM io_uring is unavailable; other -errno from io_uring_setup().
 */
int stm_ring_open(struct stm_store *s, unsigned entries, unsigned flags,
		  struct stm_ring **out);

/**
 * stm_ring_close() - free a ring, finishing what is in flight.
 * @r: ring, or NULL (does nothing).
 *
 * Operations prepared but not submitted are dropped.  Reads and commits
 * already submitted are waited for (they take no longer than the
 * synchronous calls) and their effect on the collections lent to them is
 * applied as stm_ring_reap() would; their completions are discarded.
 * Waits still pending are abandoned: the kernel cancels them (on kernels
 * without io_uring command cancelation, within a second), and the few
 * bytes where each would report its result stay allocated for the life
 * of the process.  Does not close the store.
 */
void stm_ring_close(struct stm_ring *r);

/**
 * stm_ring_fd() - the ring's io_uring descriptor, for poll()/epoll.
 * @r: ring.
 *
 * Readable (POLLIN) when completions are ready.  Some completions are the
 * library's own (a wait re-armed, a read retried with larger buffers):
 * stm_ring_reap() may then return 0.  Owned by @r.
 *
 * Return: the descriptor, or -EINVAL.
 */
int stm_ring_fd(const struct stm_ring *r);

/**
 * stm_ring_prep_read() - prepare a snapshot read of keys (async stm_using).
 * @r:    ring.
 * @keys: @n NUL-terminated keys; a key given twice appears once.
 * @n:    number of keys, at most max_keys_per_call.
 * @tag:  reported in the completion.
 *
 * The completion's @coll is a new collection, as stm_using() would give:
 * all values from one snapshot.  Values longer than the library's first
 * guess are read again with larger buffers before the completion is
 * reported (a new snapshot, still one).
 *
 * Return: 0; -EINVAL; -E2BIG; -ENOMEM; -ENOBUFS the ring is full (reap).
 */
int stm_ring_prep_read(struct stm_ring *r, const char *const *keys, size_t n,
		       uint64_t tag);

/**
 * stm_ring_prep_read_n() - stm_ring_prep_read() for binary keys.
 * @r:    ring.
 * @keys: @n key pointers.
 * @lens: @n key lengths.
 * @n:    number of keys.
 * @tag:  reported in the completion.
 *
 * Return: as stm_ring_prep_read().
 */
int stm_ring_prep_read_n(struct stm_ring *r, const void *const *keys,
			 const size_t *lens, size_t n, uint64_t tag);

/**
 * stm_ring_prep_refresh() - prepare stm_coll_refresh() of @c.
 * @r:   ring.
 * @c:   collection, lent to the ring until the completion is reaped:
 *       leave it alone meanwhile (freeing it is safe: the result is then
 *       dropped).
 * @tag: reported in the completion.
 *
 * On success every value is read again in one new snapshot, local
 * changes dropped; on failure @c is unchanged.
 *
 * Return: 0; -EINVAL; -EALREADY @c is already lent to a ring; -ENOMEM;
 * -ENOBUFS.
 */
int stm_ring_prep_refresh(struct stm_ring *r, struct stm_coll *c, uint64_t tag);

/**
 * stm_ring_prep_commit_coll() - prepare stm_coll_commit() of @c.
 * @r:   ring.
 * @c:   collection; its keys, versions and changes are copied now.  It is
 *       lent to the ring until the completion is reaped: leave it alone
 *       meanwhile (freeing it is safe: the result is then dropped).
 * @tag: reported in the completion.
 *
 * At completion, @c is updated as stm_coll_commit() does: on success the
 * written values carry the new version and are clean; on -STM_ECONFLICT
 * stm_coll_conflict() names the value (also the completion's @conflict).
 *
 * Return: 0; -EINVAL; -EBADF a change on a read-only store; -EALREADY
 * @c is already lent to a ring; -ENOMEM; -ENOBUFS.
 */
int stm_ring_prep_commit_coll(struct stm_ring *r, struct stm_coll *c,
			      uint64_t tag);

/**
 * stm_ring_prep_commit() - prepare a commit of @n ops, all or nothing.
 * @r:     ring.
 * @ops:   the entries (copied now, except the @result pointers).
 * @n:     number of entries, 1..max_keys_per_call.
 * @flags: STM_NONBLOCK (-STM_EBUSY instead of waiting for locks), or 0
 *         (then the store's STM_NONBLOCK decides).
 * @tag:   reported in the completion.
 *
 * The general form: every other commit is one of these.  Completion:
 * @version on success, @conflict (index into @ops) on -STM_ECONFLICT.
 *
 * Return: 0; -EINVAL bad op, key, flags or reserved field; -E2BIG a value
 * over max_value_size, or @n over max_keys_per_call; -EBADF a write on a
 * read-only store; -ENOMEM; -ENOBUFS.
 */
int stm_ring_prep_commit(struct stm_ring *r, const struct stm_op *ops, size_t n,
			 unsigned flags, uint64_t tag);

/**
 * stm_ring_prep_wait() - prepare stm_wait(): complete when keys differ
 * from the versions given.
 * @r:          ring.
 * @keys:       @n NUL-terminated keys.
 * @versions:   @n versions (0 = absent).
 * @n:          number of keys, 1..max_keys_per_call.
 * @flags:      STM_WAIT_ANY or STM_WAIT_ALL.
 * @timeout_ms: < 0: no limit; 0: check only; counted from stm_ring_submit().
 * @tag:        reported in the completion.
 *
 * Completes with the index of the first key that differs, -ETIMEDOUT,
 * or -EIDRM (store unlinked).  Where the kernel bounds asynchronous waits
 * (no io_uring command cancelation: Linux before 6.7), the library re-arms
 * the wait until the time asked for is up, transparently: a change in
 * between is still seen, as the versions are the caller's.
 *
 * Return: 0; -EINVAL; -E2BIG; -ENOMEM; -ENOBUFS.
 */
int stm_ring_prep_wait(struct stm_ring *r, const char *const *keys,
		       const uint64_t *versions, size_t n, unsigned flags,
		       int timeout_ms, uint64_t tag);

/**
 * stm_ring_prep_wait_n() - stm_ring_prep_wait() for binary keys.
 * @r:          ring.
 * @keys:       @n key pointers.
 * @lens:       @n key lengths.
 * @versions:   @n versions.
 * @n:          number of keys.
 * @flags:      as stm_ring_prep_wait().
 * @timeout_ms: as stm_ring_prep_wait().
 * @tag:        reported in the completion.
 *
 * Return: as stm_ring_prep_wait().
 */
int stm_ring_prep_wait_n(struct stm_ring *r, const void *const *keys,
			 const size_t *lens, const uint64_t *versions, size_t n,
			 unsigned flags, int timeout_ms, uint64_t tag);

/**
 * stm_ring_prep_cas() - prepare stm_cas().
 * @r:                ring.
 * @key:              NUL-terminated key.
 * @expected_version: the version the key must have (0: absent).
 * @data:             new bytes (copied).
 * @len:              length.
 * @tag:              reported in the completion.
 *
 * Completion: 0 with @version, or -STM_ECONFLICT, as stm_cas().
 *
 * Return: 0; -EINVAL; -E2BIG; -EBADF read-only store; -ENOMEM; -ENOBUFS.
 */
int stm_ring_prep_cas(struct stm_ring *r, const char *key,
		      uint64_t expected_version, const void *data, size_t len,
		      uint64_t tag);

/**
 * stm_ring_prep_cas_n() - stm_ring_prep_cas() for a binary key.
 * @r:                ring.
 * @key:              key bytes.
 * @klen:             key length.
 * @expected_version: as stm_ring_prep_cas().
 * @data:             new bytes.
 * @len:              length.
 * @tag:              reported in the completion.
 *
 * Return: as stm_ring_prep_cas().
 */
int stm_ring_prep_cas_n(struct stm_ring *r, const void *key, size_t klen,
			uint64_t expected_version, const void *data, size_t len,
			uint64_t tag);

/**
 * stm_ring_prep_put() - prepare a blind write (stm_swap() without @old).
 * @r:    ring.
 * @key:  NUL-terminated key.
 * @data: new bytes (copied).
 * @len:  length.
 * @tag:  reported in the completion.
 *
 * Return: as stm_ring_prep_cas().
 */
int stm_ring_prep_put(struct stm_ring *r, const char *key, const void *data,
		      size_t len, uint64_t tag);

/**
 * stm_ring_prep_put_n() - stm_ring_prep_put() for a binary key.
 * @r:    ring.
 * @key:  key bytes.
 * @klen: key length.
 * @data: new bytes.
 * @len:  length.
 * @tag:  reported in the completion.
 *
 * Return: as stm_ring_prep_cas().
 */
int stm_ring_prep_put_n(struct stm_ring *r, const void *key, size_t klen,
			const void *data, size_t len, uint64_t tag);

/**
 * stm_ring_prep_fetch_add() - prepare stm_fetch_add().
 * @r:     ring.
 * @key:   NUL-terminated key; absent counts as 0.
 * @delta: signed amount.
 * @tag:   reported in the completion.
 *
 * Completion: 0 with @value the result, or -EINVAL when the stored value
 * is not 8 bytes, as stm_fetch_add().
 *
 * Return: 0; -EINVAL; -EBADF read-only store; -ENOMEM; -ENOBUFS.
 */
int stm_ring_prep_fetch_add(struct stm_ring *r, const char *key, int64_t delta,
			    uint64_t tag);

/**
 * stm_ring_prep_fetch_add_n() - stm_ring_prep_fetch_add() for a binary key.
 * @r:     ring.
 * @key:   key bytes.
 * @klen:  key length.
 * @delta: signed amount.
 * @tag:   reported in the completion.
 *
 * Return: as stm_ring_prep_fetch_add().
 */
int stm_ring_prep_fetch_add_n(struct stm_ring *r, const void *key, size_t klen,
			      int64_t delta, uint64_t tag);

/**
 * stm_ring_submit() - send every prepared operation, in one system call.
 * @r: ring.
 *
 * Operations prepared but whose checks need no store (an empty
 * collection) complete at once.  On an error the operations stay queued
 * for the kernel and go with the next stm_ring_submit() or
 * stm_ring_reap().
 *
 * Return: the number of operations sent (0 when none was prepared);
 * -EINVAL; -EINTR, -ENOMEM or other -errno from io_uring_enter().
 */
int stm_ring_submit(struct stm_ring *r);

/**
 * stm_ring_reap() - collect completions.
 * @r:        ring.
 * @out:      receives up to @max completions.
 * @max:      room at @out.
 * @min_wait: block until this many completions are collected (at most
 *            @max; fewer if fewer operations are in flight); 0: do not
 *            block.
 *
 * Re-arms bounded waits and retries short reads on the way, unseen.
 *
 * Return: the number of completions stored at @out; -EINVAL; -EINTR a
 * signal arrived before any completion (others from io_uring_enter()).
 */
int stm_ring_reap(struct stm_ring *r, struct stm_cqe *out, unsigned max,
		  unsigned min_wait);

#ifdef __cplusplus
}
#endif

#endif /* STMDEV_H */
