/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/**
 * DOC: stm.ko user/kernel contract
 *
 * stmdev.h - the user/kernel contract of stm.ko, a shared, versioned,
 * transactional key-value store for processes on one host.
 *
 * Open /dev/stm, ATTACH one store to the fd, then READ snapshots and COMMIT
 * transactions.  Every command is _IOWR(STMDEV_IOC_MAGIC, nr, struct ...):
 * the same number is the io_uring IORING_OP_URING_CMD cmd_op, whose 16-byte
 * SQE payload is struct stmdev_uring_cmd (address + length of the same
 * struct).  Numbers are append-only.
 *
 * io_uring: prepare IORING_OP_URING_CMD with cmd_op = STMDEV_IOC_* and the
 * payload in sqe->cmd; no SQE128 needed.  payload.flags, sqe->__pad1 and
 * IORING_URING_CMD_FIXED must be zero (EINVAL).  The CQE's res is what the
 * ioctl would return (0 or -errno; EAGAIN never reaches user space: a
 * blocking commit issued inline is reissued from an io_uring worker).
 * WAIT completes asynchronously when a key changes, on timeout, or with
 * ECANCELED when the ring or task goes away; on kernels without io_uring
 * command cancelation (STMDEV_F_URING_CANCEL clear) an async WAIT lasts
 * at most one second and then completes with ETIMEDOUT: re-arm it.
 *
 * Conventions, for every command:
 *  - user pointers travel as __u64 addresses with a __u32 length;
 *  - reserved fields and unknown flags must be zero, else EINVAL;
 *  - an unmapped address gives EFAULT;
 *  - a failed command changes nothing in the store.
 *
 * Keys are 1..STMDEV_KEY_MAX arbitrary bytes.  A value is 0..max_value_size
 * bytes (module parameter, default 64 KiB).  Every committed write of a key
 * gives it a new version: the store's commit clock value of that commit, so
 * versions strictly increase and never repeat.  An absent key reads as
 * absent with version 0.
 *
 * STMDEV_IOC_GET_FEATURES (struct stmdev_features)
 *	out: features (STMDEV_F_*), uapi_version, limits in force.
 *	Needs no attached store.
 *
 * STMDEV_IOC_NOP (struct stmdev_nop)
 *	Does nothing and returns 0: the floor every benchmark is measured on.
 *
 * Names (ATTACH, UNLINK, LIST_STORES) live in the network namespace of
 * the process that opened the fd: processes in different network
 * namespaces see different stores, even under equal names.  When a
 * namespace dies (no process and no fd opened in it is left), its stores
 * are unlinked.  Capabilities count in the user namespace that owns that
 * network namespace.  (STMDEV_F_ISOLATION)
 *
 * STMDEV_IOC_ATTACH (struct stmdev_attach)
 *	in: name (1..63 bytes of [A-Za-z0-9._-] -- ASCII only --,
 *	NUL-terminated), flags (STMDEV_ATTACH_*), mode (permission bits, with
 *	CREAT).  A created store is owned by the caller's fsuid/fsgid, and its
 *	keys and kernel memory are charged to that user; access is checked
 *	like a POSIX shm object: read for RDONLY, read+write otherwise
 *	(CAP_DAC_OVERRIDE passes).  CREAT of an existing store attaches to it
 *	even when a limit would refuse a new one.
 *	Errors: EINVAL bad name or flags, ENAMETOOLONG name without NUL in 64
 *	bytes, ENOENT no such store without CREAT, EEXIST with CREAT|EXCL,
 *	EACCES permission denied, EDQUOT the caller owns max_stores_per_user
 *	stores (or max_mem_per_user would be passed), ENOSPC max_stores
 *	reached, EBUSY this fd already has a store attached (one fd serves
 *	one store).
 *
 * STMDEV_IOC_UNLINK (struct stmdev_unlink)
 *	in: name.  Removes the name; fds attached to it keep working until
 *	closed, like an unlinked file.  Owner or CAP_SYS_ADMIN, else EPERM.
 *	ENOENT no such store.  Needs no attached store.
 *
 * STMDEV_IOC_INFO (struct stmdev_info)
 *	out: name, owner, mode, attach flags, keys, bytes (key + value
 *	bytes), commit clock, unlinked, charge (the kernel memory the store
 *	takes, charged to its owner: key nodes and values as the allocator
 *	rounds them, the key table, the store itself).  ENOTCONN without an attached store (as for every command
 *	below).
 *
 * STMDEV_IOC_LIST_STORES (struct stmdev_list_stores)
 *	in: cursor (0 to start), addr/len of a struct stmdev_store_ent array.
 *	out: count entries filled, cursor to pass next (0 when done).
 *	Needs no attached store; lists every store of the caller's namespace
 *	that the caller may read.
 *
 * STMDEV_IOC_READ (struct stmdev_read)
 *	in: entries/count (struct stmdev_read_ent[], count <=
 *	max_keys_per_call, else E2BIG), flags.  Each entry: key_addr/key_len,
 *	val_addr/val_len (buffer capacity).
 *	out per entry: flags (STMDEV_RENT_PRESENT), version, val_len (the
 *	value's length).  out: clock, the commit clock of the snapshot read.
 *	All entries are one snapshot: no commit is half visible.  Never EBUSY;
 *	EINTR only on a fatal signal.
 *	If a buffer is too small the call still fills every entry's val_len,
 *	version and flags, and `clock`, and fails with E2BIG; grow the
 *	buffers and retry.  (E2BIG before anything is read: count over
 *	max_keys_per_call; every entry's val_len is then left as given.)
 *	With STMDEV_READ_AT, clock is input too: the read fails with ESTALE
 *	(index in `conflict`) if an entry changed after that clock, so a
 *	transaction's successive reads all see the instant of its first one.
 *
 * STMDEV_IOC_COMMIT (struct stmdev_commit)
 *	in: entries/count (struct stmdev_commit_ent[]), flags, family.
 *	Entry ops: READ (validate only), PUT (val_addr/val_len), DEL, ADD
 *	(val_addr -> 8 bytes little-endian signed delta; a missing key counts
 *	as 0; a stored value that is not 8 bytes gives EINVAL).  READ entries,
 *	and write entries with STMDEV_CENT_CHECK, expect `version` (0 =
 *	absent).  A key may appear once among write entries (else EINVAL) and
 *	once among READ entries.
 *	out: version, the commit clock value given to the writes (for a
 *	read-only commit, a clock at which every read held: at least each
 *	version read, and at least the clock of the delete that made a key
 *	read absent); conflict, index of the first entry whose version
 *	differed (ESTALE), or of the first ADD onto a stored value that is
 *	not 8 bytes (EINVAL), or of the first bounded ADD out of its bounds
 *	(ERANGE), else STMDEV_NO_CONFLICT (also on every other error).  With
 *	STMDEV_CENT_FETCH on an ADD entry, the resulting value is written
 *	back to the first 8 bytes at val_addr.  A plain ADD wraps modulo 2^64.
 *	Bounded ADD (STMDEV_F_ADD_BOUND): STMDEV_CENT_BOUND on an ADD entry
 *	(EINVAL on any other op); val_len must be 24 (EINVAL): three
 *	little-endian signed 64-bit numbers, delta, min, max (EINVAL if min >
 *	max).  The commit fails with ERANGE, `conflict` the index of the
 *	first such entry and nothing written, if the exact sum (no wrap: an
 *	int64 overflow is out of bounds) of the stored value (absent: 0) and
 *	delta is below min or above max; a result equal to a bound passes.
 *	ERANGE is a verdict on the committed state, not a conflict: retrying
 *	the same commit gives the same answer until another commit changes
 *	the key (an account that cannot pay, unlike ESTALE's "redo").
 *	Precedence: ESTALE (versions) before EINVAL (ADD onto a value not 8
 *	bytes) before ERANGE.  A transfer is one COMMIT of two bounded ADDs,
 *	-x with min 0 and +x, with no READ and no version to check.
 *	STMDEV_CENT_FETCH on a READ entry (STMDEV_F_FETCH_OLD) fetches the
 *	value that the commit's write of the same key replaces (the key must
 *	also have a write entry, else EINVAL): swap, or take-and-delete, in
 *	one call.  val_addr/val_len are the room for it; out: val_len its
 *	length, version its version (0: it was absent).  It validates only
 *	with STMDEV_CENT_CHECK.  Too little room: E2BIG with val_len and
 *	version filled, nothing committed.  The value is copied to its room
 *	before the commit publishes anything: a room that cannot be written
 *	(EFAULT, e.g. an unmapped or read-only page anywhere in it) fails the
 *	commit with nothing committed.  The room may be written even when the
 *	commit fails.
 *	All-or-nothing.  ESTALE: a version differed (conflict).  EBUSY: a key
 *	was locked by another commit and the commit is non-blocking (attached
 *	with NONBLOCK or STMDEV_COMMIT_NONBLOCK); retry the commit as it is.
 *	Blocking commits wait for the locks, interruptibly (EINTR).  EBADF:
 *	a write entry through a read-only attachment (READ entries alone are
 *	allowed: validation).  ENOSPC: max_keys_per_store or
 *	max_bytes_per_store would be exceeded.  EDQUOT: the store's owner
 *	would pass max_keys_per_user or max_mem_per_user.  E2BIG: count over
 *	max_keys_per_call or a value over max_value_size.
 *	EFAULT changes nothing, with one exception: the outputs written once
 *	the commit took effect (this struct's version and conflict, the FETCH
 *	entries' version and val_len, an ADD's FETCH result) are all checked
 *	writable before anything is done, but if another thread unmaps or
 *	write-protects them during the call, the commit stands and the call
 *	still returns EFAULT.
 *
 * STMDEV_IOC_LIST (struct stmdev_list)
 *	in: cursor (0 to start), addr/len of a buffer.  out: count records
 *	(struct stmdev_key_rec, each followed by its key bytes and padded to
 *	8 bytes), cursor to pass next (0 when the walk is done; otherwise
 *	at most 2^32, opaque: a position in the store's own hash order, so
 *	keys come in no order a caller can rely on).  Every key that exists
 *	for the whole walk is returned exactly once.  Keys that share a
 *	position come in one call: E2BIG when not even the first position's
 *	records fit.  A call is bounded: it may return fewer
 *	records than fit, even none, with a non-zero cursor; call again.
 *
 * STMDEV_IOC_STATS (struct stmdev_stats)
 *	out: the attached store's counters.
 *
 * STMDEV_IOC_WAIT (struct stmdev_wait)
 *	in: entries/count (struct stmdev_wait_ent[]: key and the version the
 *	caller saw, 0 = absent), flags (STMDEV_WAIT_ALL: wait until every key
 *	changed; default any), timeout_ns (< 0: none; 0: just check; a
 *	deadline past the clock's range, e.g. INT64_MAX: none), family.
 *	Sleeps until the condition holds: returns 0 with `index` the first
 *	entry that differs.  ETIMEDOUT on timeout, EINTR on a signal, EIDRM
 *	when the store is unlinked.  Only waiters on a written key are woken.
 *	Each entry is charged while queued: ENOSPC past max_waits_per_fd
 *	entries on this fd, EDQUOT past max_waits_per_user for the user who
 *	opened it (WATCH likewise, and io_uring WAITs).
 *
 * STMDEV_IOC_WATCH (struct stmdev_watch)
 *	in: entries/count as for WAIT (count 0 clears).  Replaces the fd's
 *	watch set: poll()/epoll report EPOLLIN while a watched key's version
 *	differs from the one given.
 *
 * STMDEV_IOC_FAMILY (struct stmdev_family)
 *	in: name (1..31 bytes of [A-Za-z0-9._-], NUL-terminated).  out: id,
 *	the same for every process naming the same family in this store (at
 *	most STMDEV_FAMILIES_MAX; ENOSPC beyond).  Only a writable attachment
 *	adds a name (EBADF through a read-only one, which may still look up
 *	names that exist).  COMMIT and WAIT carry the id,
 *	and the store counts per family: attempts, commits, conflicts, busy,
 *	waits, and retries (commits a caller flags STMDEV_COMMIT_RETRY: a
 *	transaction's rerun, after a conflict or a blocking retry).
 *
 * STMDEV_IOC_EXPORT (struct stmdev_export)  (STMDEV_F_PERSIST)
 *	in: cursor, addr/len of a record buffer.  Cursor 0 takes a snapshot
 *	of the whole store at one instant (`clock`), held on the fd and
 *	charged to the caller's memory limit (EDQUOT); each call copies out
 *	whole records (EXPORT/IMPORT records below) and returns the cursor
 *	of the next one, 0 after the last (then the snapshot is freed, as on
 *	close or a new cursor 0).  EINVAL for a cursor no snapshot gave out,
 *	E2BIG when not even one record fits, EBUSY when keys kept being
 *	created during the snapshot (try again).
 *
 * STMDEV_IOC_IMPORT (struct stmdev_import)  (STMDEV_F_PERSIST)
 *	in: addr/len/count of records as EXPORT writes them.  Into an empty
 *	store only (ENOTEMPTY); keys keep their versions and the clock
 *	resumes above the highest.  All or nothing: per-store (ENOSPC) and
 *	per-user (EDQUOT) limits apply, a bad record (EINVAL) or a key twice
 *	(EEXIST) imports nothing.  EBADF on a read-only attach.
 *
 * STMDEV_IOC_FAMILY_STATS (struct stmdev_family_stats)
 *	in: addr/len of a struct stmdev_family_ent array.  out: count filled,
 *	one per family registered (id order).
 *
 * STMDEV_IOC_RANGE (struct stmdev_range)  (STMDEV_F_RANGE)
 *	Read the keys under a prefix without phantoms.  in: prefix_addr/
 *	prefix_len (1..STMDEV_KEY_MAX bytes), flags, addr/len of a record
 *	buffer, cursor (0 to start), clock (STMDEV_RANGE_AT), version (with
 *	a non-zero cursor: the version the first call gave).  The first
 *	RANGE of a prefix declares it: the store then tracks which keys lie
 *	under it, at the cost of one walk of the whole store now and of one
 *	small record per key under it from then on (charged to the store's
 *	owner: EDQUOT).  At most STMDEV_RANGES_MAX prefixes per store
 *	(ENOSPC).  Only a writable attachment declares (EBADF through a
 *	read-only one, which may read prefixes already declared).
 *	out: count records (struct stmdev_key_rec, its val_len zero, then
 *	the key bytes, padded to 8: the keys present under the prefix, in no
 *	particular order, each with its version as the walk saw it); cursor
 *	to pass next (0 when done); clock, an instant at which exactly these
 *	keys were present under the prefix; version, the prefix's range
 *	version: a commit clock value that changes whenever a key under the
 *	prefix is created or deleted, and not when one is overwritten;
 *	members, how many keys the prefix has.  With STMDEV_RANGE_AT, ESTALE
 *	if the range version or a returned key's version is newer than the
 *	clock given.  A later call with a cursor fails with ESTALE if the
 *	range version is no longer the one given.  E2BIG when not even one
 *	record fits.  A call walks only the prefix's keys (the cursor's
 *	skip included): O(keys under the prefix), whatever the store holds.
 *	COMMIT validates a range with an entry of op STMDEV_OP_RANGE: key =
 *	the prefix (declared, else EINVAL), version = the range version seen,
 *	val_len and flags zero; ESTALE if a key under the prefix was created
 *	or deleted since.  Allowed through a read-only attachment.  IMPORT
 *	refuses a store with declared ranges (ENOTEMPTY).
 *
 * STMDEV_IOC_RESERVE (struct stmdev_reserve)  (STMDEV_F_RESERVE)
 *	Contention management: reserve keys to this fd for a bounded time,
 *	so that a transaction that keeps conflicting can commit.  in:
 *	entries/count (struct stmdev_wait_ent[]: the keys; version must be
 *	0), bound_ms (0 or above the max_reserve_ms module parameter: that
 *	parameter).  out: bound_ms, the milliseconds the reservation has
 *	left.  While it lives, a COMMIT through another fd that writes
 *	(PUT, DEL, ADD) a reserved key fails with EBUSY when non-blocking,
 *	else sleeps until the reservation ends (a signal interrupts it);
 *	READ, WAIT and read entries of a COMMIT are never held up.  It
 *	returns once no commit that missed the reservation still holds a
 *	reserved key: what the caller reads after it stays current until
 *	the reservation ends (EINTR on a fatal signal while it waits).  Keys
 *	are matched by the store's hash of them: a key sharing a reserved
 *	key's hash is held up too, within the same bound.  The fd holds at
 *	most one reservation: it ends at the fd's first successful COMMIT,
 *	at count 0, on close (process exit) and at its expiry, whichever
 *	comes first.  A call while one is held replaces its keys and keeps
 *	its expiry.  After a reservation ends, the fd may reserve again only
 *	once as long as it was held has passed: EBUSY before that, with
 *	bound_ms the milliseconds to wait.  flags and reserved: zero
 *	(EINVAL).  EBADF on a read-only attach, E2BIG past
 *	max_keys_per_call keys, EDQUOT past max_reserved_per_user keys
 *	reserved through the fds the caller's user opened, ENOSPC when the
 *	store already has 64 live reservations.
 */
#ifndef _UAPI_LINUX_STMDEV_H
#define _UAPI_LINUX_STMDEV_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define STMDEV_UAPI_VERSION	1
#define STMDEV_IOC_MAGIC	0xD5
#define STMDEV_NAME_MAX		64	/* including the NUL */
#define STMDEV_KEY_MAX		255
#define STMDEV_NO_CONFLICT	0xffffffffU

/* GET_FEATURES: features bits */
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
#define STMDEV_F_PERSIST	(1ULL << 11)	/* EXPORT, IMPORT */
#define STMDEV_F_RANGE		(1ULL << 12)	/* RANGE, STMDEV_OP_RANGE */
#define STMDEV_F_RESERVE	(1ULL << 13)	/* RESERVE */
#define STMDEV_F_ADD_BOUND	(1ULL << 14)	/* COMMIT: STMDEV_CENT_BOUND */

struct stmdev_features {
	__u64 features;		/* out */
	__u32 uapi_version;	/* out */
	__u32 max_key_len;	/* out */
	__u32 max_value_size;	/* out */
	__u32 max_keys_per_call;/* out */
	__u64 reserved[2];
};

struct stmdev_nop {
	__u64 reserved;
};

/* ATTACH flags */
#define STMDEV_ATTACH_CREAT	(1U << 0)
#define STMDEV_ATTACH_EXCL	(1U << 1)
#define STMDEV_ATTACH_RDONLY	(1U << 2)
#define STMDEV_ATTACH_NONBLOCK	(1U << 3)	/* commits fail with EBUSY */

struct stmdev_attach {
	char  name[STMDEV_NAME_MAX];
	__u32 flags;
	__u32 mode;		/* permission bits (masked to 0777) */
	__u64 reserved[2];
};

struct stmdev_unlink {
	char  name[STMDEV_NAME_MAX];
	__u64 reserved;
};

struct stmdev_info {
	char  name[STMDEV_NAME_MAX];	/* out */
	__u32 uid;			/* out: owner */
	__u32 gid;			/* out */
	__u32 mode;			/* out */
	__u32 attach_flags;		/* out: this fd's STMDEV_ATTACH_* */
	__u64 keys;			/* out */
	__u64 bytes;			/* out: key + value bytes */
	__u64 clock;			/* out: commit clock */
	__u32 unlinked;			/* out: 1 when the name is gone */
	__u32 reserved0;
	__u64 charge;			/* out: kernel bytes (F_ISOLATION) */
	__u64 reserved[2];
};

struct stmdev_store_ent {
	char  name[STMDEV_NAME_MAX];
	__u32 uid;
	__u32 gid;
	__u32 mode;
	__u32 reserved;
	__u64 keys;
	__u64 bytes;
};

struct stmdev_list_stores {
	__u64 cursor;		/* in/out */
	__u64 addr;		/* in: struct stmdev_store_ent[] */
	__u32 len;		/* in: bytes at addr */
	__u32 count;		/* out: entries filled */
	__u64 reserved;
};

/* READ flags */
#define STMDEV_READ_AT		(1U << 0)	/* fail with ESTALE past `clock` */

/* stmdev_read_ent.flags (out) */
#define STMDEV_RENT_PRESENT	(1U << 0)

struct stmdev_read_ent {
	__u64 key_addr;
	__u64 val_addr;
	__u64 version;		/* out: 0 when absent */
	__u32 key_len;
	__u32 val_len;		/* in: capacity; out: the value's length */
	__u32 flags;		/* out: STMDEV_RENT_* */
	__u32 reserved;
};

struct stmdev_read {
	__u64 entries;		/* in: struct stmdev_read_ent[] */
	__u32 count;
	__u32 flags;		/* STMDEV_READ_* */
	__u64 clock;		/* in (READ_AT) / out: snapshot clock */
	__u32 conflict;		/* out: READ_AT entry that changed */
	__u32 reserved0;
	__u64 reserved;
};

/* COMMIT entry ops */
#define STMDEV_OP_READ		0	/* validate version only */
#define STMDEV_OP_PUT		1
#define STMDEV_OP_DEL		2
#define STMDEV_OP_ADD		3	/* add 8-byte LE signed delta */
#define STMDEV_OP_RANGE		4	/* validate a prefix's range version */

/* stmdev_commit_ent.flags */
#define STMDEV_CENT_CHECK	(1U << 0)	/* write entry: validate `version` */
#define STMDEV_CENT_FETCH	(1U << 1)	/* ADD: result; READ: value replaced */
#define STMDEV_CENT_BOUND	(1U << 2)	/* ADD: delta, min, max; ERANGE */

struct stmdev_commit_ent {
	__u64 key_addr;
	__u64 val_addr;
	__u64 version;		/* expected version (0 = absent) */
	__u32 key_len;
	__u32 val_len;
	__u16 op;		/* STMDEV_OP_* */
	__u16 flags;		/* STMDEV_CENT_* */
	__u32 reserved;
};

/* COMMIT flags */
#define STMDEV_COMMIT_NONBLOCK	(1U << 0)	/* EBUSY instead of waiting */
#define STMDEV_COMMIT_RETRY	(1U << 1)	/* a rerun: a retry of its family */

struct stmdev_commit {
	__u64 entries;		/* in: struct stmdev_commit_ent[] */
	__u32 count;
	__u32 flags;		/* STMDEV_COMMIT_* */
	__u64 version;		/* out */
	__u32 conflict;		/* out: index, or STMDEV_NO_CONFLICT */
	__u32 family;		/* in: statistics family id, 0 = none */
	__u64 reserved[2];
};

struct stmdev_key_rec {
	__u64 version;
	__u32 key_len;
	__u32 val_len;
	/* followed by key_len bytes, then padding to 8 */
};

struct stmdev_list {
	__u64 cursor;		/* in/out */
	__u64 addr;		/* in: record buffer */
	__u32 len;		/* in: bytes at addr */
	__u32 count;		/* out: records */
	__u64 reserved;
};

struct stmdev_stats {
	__u64 commits;		/* successful commits */
	__u64 conflicts;	/* ESTALE from COMMIT or READ_AT */
	__u64 busy;		/* EBUSY from COMMIT */
	__u64 reads;		/* READ calls */
	__u64 keys;		/* keys present now */
	__u64 bytes;		/* key + value bytes now */
	__u64 waits;		/* WAIT calls that slept */
	__u64 wakeups;		/* waiters woken by a commit or unlink */
	__u64 charge;		/* kernel bytes the store takes (F_ISOLATION) */
	__u64 reserved[7];	/* out: zero, room for counters to come */
};

/* WAIT flags */
#define STMDEV_WAIT_ALL		(1U << 0)	/* every key, not any */

struct stmdev_wait_ent {
	__u64 key_addr;
	__u64 version;		/* the version seen; 0 = absent */
	__u32 key_len;
	__u32 reserved;
};

struct stmdev_wait {
	__u64 entries;		/* in: struct stmdev_wait_ent[] */
	__u32 count;
	__u32 flags;		/* STMDEV_WAIT_* */
	__s64 timeout_ns;	/* < 0: none, 0: check only */
	__u32 index;		/* out: first entry that differs */
	__u32 family;		/* in: statistics family id, 0 = none */
	__u64 reserved;
};

struct stmdev_watch {
	__u64 entries;		/* in: struct stmdev_wait_ent[] */
	__u32 count;
	__u32 flags;		/* must be zero */
	__u64 reserved;
};

#define STMDEV_FAMILY_NAME_MAX	32	/* including the NUL */
#define STMDEV_FAMILIES_MAX	64

struct stmdev_family {
	char  name[STMDEV_FAMILY_NAME_MAX];
	__u32 id;		/* out: 1..STMDEV_FAMILIES_MAX */
	__u32 reserved;
};

struct stmdev_family_ent {
	char  name[STMDEV_FAMILY_NAME_MAX];
	__u64 attempts;		/* COMMIT calls */
	__u64 commits;
	__u64 conflicts;
	__u64 busy;
	__u64 waits;		/* WAIT calls: blocking retries */
	__u64 retries;		/* COMMITs flagged STMDEV_COMMIT_RETRY */
};

struct stmdev_family_stats {
	__u64 addr;		/* in: struct stmdev_family_ent[] */
	__u32 len;		/* in: bytes at addr */
	__u32 count;		/* out */
	__u64 reserved;
};

/*
 * EXPORT and IMPORT records: struct stmdev_key_rec, the key bytes, the
 * value bytes, then zero padding to a multiple of 8.
 */
struct stmdev_export {
	__u64 cursor;		/* in: 0 takes a new snapshot; out: 0 at the end */
	__u64 addr;		/* in: record buffer */
	__u32 len;		/* in: bytes at addr */
	__u32 count;		/* out: records */
	__u64 clock;		/* out: the snapshot's clock */
	__u64 keys;		/* out: keys in the snapshot */
	__u64 reserved;
};

struct stmdev_import {
	__u64 addr;		/* in: records */
	__u64 len;		/* in: bytes at addr */
	__u32 count;		/* in: records */
	__u32 flags;		/* must be zero */
	__u64 clock;		/* out: the store's clock after */
	__u64 reserved;
};

/* RANGE flags */
#define STMDEV_RANGE_AT		(1U << 0)	/* fail with ESTALE past `clock` */

#define STMDEV_RANGES_MAX	64	/* declared prefixes per store */

struct stmdev_range {
	__u64 prefix_addr;	/* in */
	__u32 prefix_len;	/* in: 1..STMDEV_KEY_MAX */
	__u32 flags;		/* in: STMDEV_RANGE_* */
	__u64 addr;		/* in: record buffer */
	__u32 len;		/* in: bytes at addr */
	__u32 count;		/* out: records */
	__u64 cursor;		/* in/out: 0 to start; out 0: done */
	__u64 clock;		/* in (RANGE_AT) / out: the instant */
	__u64 version;		/* in (cursor != 0) / out: range version */
	__u64 members;		/* out: keys under the prefix */
	__u64 reserved[2];
};

struct stmdev_reserve {
	__u64 entries;		/* in: struct stmdev_wait_ent[] */
	__u32 count;		/* in: keys; 0 releases */
	__u32 flags;		/* must be zero */
	__u32 bound_ms;		/* in: bound, 0 = max; out: ms left */
	__u32 reserved0;
	__u64 reserved;
};

/* io_uring passthrough: the 16-byte payload in the SQE's cmd area. */
struct stmdev_uring_cmd {
	__u64 addr;		/* the command's struct */
	__u32 len;		/* sizeof that struct */
	__u32 flags;		/* must be zero */
};

#define STMDEV_IOC_GET_FEATURES	_IOWR(STMDEV_IOC_MAGIC, 0x00, struct stmdev_features)
#define STMDEV_IOC_NOP		_IOWR(STMDEV_IOC_MAGIC, 0x01, struct stmdev_nop)
#define STMDEV_IOC_ATTACH	_IOWR(STMDEV_IOC_MAGIC, 0x02, struct stmdev_attach)
#define STMDEV_IOC_UNLINK	_IOWR(STMDEV_IOC_MAGIC, 0x03, struct stmdev_unlink)
#define STMDEV_IOC_INFO		_IOWR(STMDEV_IOC_MAGIC, 0x04, struct stmdev_info)
#define STMDEV_IOC_LIST_STORES	_IOWR(STMDEV_IOC_MAGIC, 0x05, struct stmdev_list_stores)
#define STMDEV_IOC_READ		_IOWR(STMDEV_IOC_MAGIC, 0x06, struct stmdev_read)
#define STMDEV_IOC_COMMIT	_IOWR(STMDEV_IOC_MAGIC, 0x07, struct stmdev_commit)
#define STMDEV_IOC_LIST		_IOWR(STMDEV_IOC_MAGIC, 0x08, struct stmdev_list)
#define STMDEV_IOC_STATS	_IOWR(STMDEV_IOC_MAGIC, 0x09, struct stmdev_stats)
#define STMDEV_IOC_WAIT		_IOWR(STMDEV_IOC_MAGIC, 0x0a, struct stmdev_wait)
#define STMDEV_IOC_WATCH	_IOWR(STMDEV_IOC_MAGIC, 0x0b, struct stmdev_watch)
#define STMDEV_IOC_FAMILY	_IOWR(STMDEV_IOC_MAGIC, 0x0c, struct stmdev_family)
#define STMDEV_IOC_FAMILY_STATS	_IOWR(STMDEV_IOC_MAGIC, 0x0d, struct stmdev_family_stats)
#define STMDEV_IOC_EXPORT	_IOWR(STMDEV_IOC_MAGIC, 0x0e, struct stmdev_export)
#define STMDEV_IOC_IMPORT	_IOWR(STMDEV_IOC_MAGIC, 0x0f, struct stmdev_import)
#define STMDEV_IOC_RANGE	_IOWR(STMDEV_IOC_MAGIC, 0x10, struct stmdev_range)
#define STMDEV_IOC_RESERVE	_IOWR(STMDEV_IOC_MAGIC, 0x11, struct stmdev_reserve)

#endif /* _UAPI_LINUX_STMDEV_H */
