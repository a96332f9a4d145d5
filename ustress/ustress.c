// SPDX-License-Identifier: GPL-2.0
/*
 * ustress: many threads run random transactions through the real
 * stm_read() and stm_commit() of kmod/ (built under ucore.h), at native
 * speed, and check invariants that any lost update, torn value, partial
 * commit or inconsistent snapshot breaks:
 *
 *   bank     accounts (8-byte inline and 32-byte heap values, each with a
 *            check pattern): transfers by read-then-commit and by ADD;
 *            every snapshot of all accounts sums to the total.
 *   tokens   T tokens in S slots, moved by DEL + PUT of absent keys (the
 *            placeholder, dead-key and delete-clock paths); every snapshot
 *            sees exactly the T tokens, each once.
 *   boxes    swaps by READ + FETCH: every value put is fetched once or is
 *            still there at the end (sum and xor of ids).
 *   tick     ADD + FETCH of 1: each thread's results strictly increase.
 *   list     a full LIST walk lists every account exactly once.
 *   range    a RANGE of the token slots' prefix (declared by the first,
 *            under churn) holds exactly the T tokens, no version past its
 *            clock, the slots a READ_AT at that clock finds present; a
 *            read-only commit of its RANGE entry and every slot's READ
 *            conflicts, if at all, on the RANGE entry first.
 *   always   versions never exceed the snapshot clock; a later snapshot
 *            never sees an older version; READ_AT an earlier snapshot's
 *            clock returns that snapshot exactly or ESTALE; write versions
 *            are unique store-wide and above every version the commit
 *            validated; the store's statistics match what callers saw;
 *            the owner's charge returns to zero when the store is freed.
 *
 * Exit 0 only when every check held, no WARN fired and (under a
 * sanitizer) nothing was reported: sanitizers abort with their own status.
 */
#include <getopt.h>
#include <time.h>
#include "ucore.h"
#include "ucore_test.h"
#include "stm.h"

#define MAXA	32	/* accounts */
#define MAXS	32	/* token slots */
#define NBOX	8
#define NCTR	2
#define BIG	32	/* heap-valued accounts: 8-byte balance + pattern */

static struct {
	int threads;
	u64 ops;		/* total, all threads */
	double seconds;		/* bound on the run */
	u32 accounts, slots, tokens;
	u32 fail_alloc, fail_nofault, delay;
	u64 seed;
	int verbose;
} opt = {
	.threads = 6, .ops = 1000000, .seconds = 600,
	.accounts = 8, .slots = 12, .tokens = 4,
	.seed = 1,
};

static struct stm_store *S;
static struct stm_file F;
static u32 fam_id;
static const s64 START = 1000;

static char akey[MAXA][8], skey[MAXS][8], bkey[NBOX][8], ckey[NCTR][8];

static u64 *vbits;		/* write versions seen, one bit each */
static u64 vbits_n;
static volatile int stop;
static u64 ops_left;		/* shared budget */
static long failures;

struct tstat {
	u64 ops, commits, conflicts, busy, enomem, efault, reads, read_stale;
	u64 fam_commits, fam_attempts;
	s64 tick_sum[NCTR];
	u64 box_put_sum, box_put_xor, box_get_sum, box_get_xor;
	u64 last_clock;
	u64 last_ver[MAXA];
	u64 seq;
	int id;
	/* the last full bank snapshot, for READ_AT */
	u64 snap_clock, snap_ver[MAXA];
	s64 snap_bal[MAXA];
	bool have_snap;
	s64 last_tick[NCTR];
};

#define FAIL(t, fmt, ...) do {						\
	fprintf(stderr, "ustress: FAIL (thread %d) %s:%d: " fmt "\n",	\
		(t)->id, __func__, __LINE__, ##__VA_ARGS__);		\
	__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);		\
	stop = 1;							\
} while (0)

static bool acct_big(u32 i)
{
	return i & 1;
}

static u32 acct_len(u32 i)
{
	return acct_big(i) ? BIG : 8;
}

/* Balance followed, for heap accounts, by a pattern derived from it. */
static void acct_fill(u8 *buf, u32 i, s64 bal)
{
	u32 j;

	put_unaligned_le64((u64)bal, buf);
	for (j = 8; j < acct_len(i); j++)
		buf[j] = (u8)((u64)bal * 31 + j * 7 + i);
}

static bool acct_ok(const u8 *buf, u32 len, u32 i, s64 *bal)
{
	u8 want[BIG];

	if (len != acct_len(i))
		return false;
	*bal = (s64)get_unaligned_le64(buf);
	acct_fill(want, i, *bal);
	return !memcmp(want, buf, len);
}

/* Box values: an id, then id-derived bytes to a length the id chooses. */
static u32 box_len(u64 id)
{
	return 8 + (u32)(id % 5) * 8;	/* 8..40: inline and heap */
}

static void box_fill(u8 *buf, u64 id)
{
	u32 j;

	put_unaligned_le64(id, buf);
	for (j = 8; j < box_len(id); j++)
		buf[j] = (u8)(id >> (j % 8)) ^ (u8)j;
}

static bool box_ok(const u8 *buf, u32 len, u64 *id)
{
	u8 want[40];

	if (len < 8)
		return false;
	*id = get_unaligned_le64(buf);
	if (len != box_len(*id))
		return false;
	box_fill(want, *id);
	return !memcmp(want, buf, len);
}

static u64 rnd(u64 n)
{
	return ucore_rand() % n;
}

/* ---- request builders ---- */

struct txn {
	struct stmdev_commit_ent e[MAXA + 4];
	u8 vals[MAXA + 4][BIG + 8];
	u32 n;
};

static struct stmdev_commit_ent *ent(struct txn *t, u16 op, u16 flags,
				     const char *key, u64 ver)
{
	struct stmdev_commit_ent *e = &t->e[t->n];

	memset(e, 0, sizeof(*e));
	e->op = op;
	e->flags = flags;
	e->key_addr = (uintptr_t)key;
	e->key_len = strlen(key);
	e->version = ver;
	e->val_addr = (uintptr_t)t->vals[t->n];
	t->n++;
	return e;
}

/* Shuffle so the core's sort, not our order, decides lock order. */
static void shuffle(struct txn *t)
{
	u32 i, j;

	for (i = t->n; i > 1; i--) {
		struct stmdev_commit_ent tmp;
		u8 vtmp[BIG + 8];

		j = rnd(i);
		if (j == i - 1)
			continue;
		tmp = t->e[i - 1];
		t->e[i - 1] = t->e[j];
		t->e[j] = tmp;
		memcpy(vtmp, t->vals[i - 1], sizeof(vtmp));
		memcpy(t->vals[i - 1], t->vals[j], sizeof(vtmp));
		memcpy(t->vals[j], vtmp, sizeof(vtmp));
		t->e[i - 1].val_addr = (uintptr_t)t->vals[i - 1];
		t->e[j].val_addr = (uintptr_t)t->vals[j];
	}
}

static void note_version(struct tstat *t, u64 v)
{
	u64 bit;

	if (!v || v >= vbits_n)
		return;
	bit = 1ULL << (v % 64);
	if (__atomic_fetch_or(&vbits[v / 64], bit, __ATOMIC_RELAXED) & bit)
		FAIL(t, "write version %llu given to two commits", (unsigned long long)v);
}

/*
 * One commit.  Returns its errno (0, -ESTALE, -EBUSY; -ENOMEM/-EFAULT only
 * when injected); checks what every successful commit promises.
 */
static int commit(struct tstat *t, struct txn *tx, u32 flags, bool fam)
{
	struct stmdev_commit cm = {
		.entries = (uintptr_t)tx->e, .count = tx->n, .flags = flags,
		.family = fam ? fam_id : 0,
	};
	bool writes = false;
	u32 i;
	int err;

	err = stm_commit(&F, &cm, 0);
	t->ops++;
	if (fam)
		t->fam_attempts++;
	for (i = 0; i < tx->n; i++)
		writes |= tx->e[i].op != STMDEV_OP_READ;
	switch (err) {
	case 0:
		t->commits++;
		if (fam)
			t->fam_commits++;
		if (cm.conflict != STMDEV_NO_CONFLICT)
			FAIL(t, "success with conflict %u", cm.conflict);
		for (i = 0; i < tx->n; i++) {
			const struct stmdev_commit_ent *e = &tx->e[i];

			if (e->op == STMDEV_OP_READ && !(e->flags & STMDEV_CENT_FETCH) &&
			    (writes ? cm.version <= e->version : cm.version < e->version))
				FAIL(t, "commit version %llu vs read version %llu",
				     (unsigned long long)cm.version,
				     (unsigned long long)e->version);
		}
		if (writes)
			note_version(t, cm.version);
		break;
	case -ESTALE:
		t->conflicts++;
		if (cm.conflict >= tx->n)
			FAIL(t, "ESTALE with conflict index %u of %u", cm.conflict, tx->n);
		break;
	case -EBUSY:
		t->busy++;
		if (!(flags & STMDEV_COMMIT_NONBLOCK))
			FAIL(t, "EBUSY from a blocking commit");
		break;
	case -ENOMEM:
		t->enomem++;
		if (!ucore_hooks.fail_alloc)
			FAIL(t, "ENOMEM without injection");
		break;
	case -EFAULT:
		t->efault++;
		FAIL(t, "EFAULT from valid buffers");
		break;
	default:
		FAIL(t, "commit: unexpected %d", err);
	}
	return err;
}

/* Snapshot of @n keys; values land in @vals (cap each @cap). */
static int snap(struct tstat *t, char keys[][8], u32 n, struct stmdev_read_ent *re,
		u8 (*vals)[48], bool at, u64 *clock)
{
	struct stmdev_read r = {
		.entries = (uintptr_t)re, .count = n,
		.flags = at ? STMDEV_READ_AT : 0, .clock = at ? *clock : 0,
	};
	u32 i;
	int err;

	for (i = 0; i < n; i++) {
		memset(&re[i], 0, sizeof(re[i]));
		re[i].key_addr = (uintptr_t)keys[i];
		re[i].key_len = strlen(keys[i]);
		re[i].val_addr = (uintptr_t)vals[i];
		re[i].val_len = 48;
	}
	err = stm_read(&F, &r);
	t->ops++;
	t->reads++;
	if (err == -ESTALE && at) {
		t->read_stale++;
		if (r.conflict >= n)
			FAIL(t, "READ_AT ESTALE with conflict %u", r.conflict);
		return err;
	}
	if (err == -ENOMEM && ucore_hooks.fail_alloc) {
		t->enomem++;
		return err;
	}
	if (err) {
		FAIL(t, "read: %d", err);
		return err;
	}
	if (at && r.clock != *clock)
		FAIL(t, "READ_AT returned clock %llu, asked %llu",
		     (unsigned long long)r.clock, (unsigned long long)*clock);
	for (i = 0; i < n; i++)
		if (re[i].version > r.clock)
			FAIL(t, "key %s version %llu past snapshot clock %llu", keys[i],
			     (unsigned long long)re[i].version,
			     (unsigned long long)r.clock);
	*clock = r.clock;
	return 0;
}

/* ---- operations ---- */

static void op_audit(struct tstat *t)
{
	struct stmdev_read_ent re[MAXA];
	u8 vals[MAXA][48];
	u64 clock = 0;
	s64 sum = 0, bal;
	u32 i;

	if (snap(t, akey, opt.accounts, re, vals, false, &clock))
		return;
	for (i = 0; i < opt.accounts; i++) {
		if (!(re[i].flags & STMDEV_RENT_PRESENT) ||
		    !acct_ok(vals[i], re[i].val_len, i, &bal)) {
			FAIL(t, "account %u torn or absent (len %u)", i, re[i].val_len);
			return;
		}
		sum += bal;
		if (clock >= t->last_clock && re[i].version < t->last_ver[i])
			FAIL(t, "account %u version went back %llu -> %llu", i,
			     (unsigned long long)t->last_ver[i],
			     (unsigned long long)re[i].version);
		t->snap_ver[i] = re[i].version;
		t->snap_bal[i] = bal;
	}
	if (clock >= t->last_clock) {
		t->last_clock = clock;
		for (i = 0; i < opt.accounts; i++)
			t->last_ver[i] = re[i].version;
	}
	t->snap_clock = clock;
	t->have_snap = true;
	if (sum != START * (s64)opt.accounts)
		FAIL(t, "bank total %lld at clock %llu", (long long)sum,
		     (unsigned long long)clock);
}

/* READ_AT the last audit's clock: that snapshot exactly, or ESTALE. */
static void op_read_at(struct tstat *t)
{
	struct stmdev_read_ent re[MAXA];
	u8 vals[MAXA][48];
	u64 clock = t->snap_clock;
	s64 bal;
	u32 i;

	if (!t->have_snap) {
		op_audit(t);
		return;
	}
	if (snap(t, akey, opt.accounts, re, vals, true, &clock))
		return;
	for (i = 0; i < opt.accounts; i++) {
		if (!acct_ok(vals[i], re[i].val_len, i, &bal) ||
		    re[i].version != t->snap_ver[i] || bal != t->snap_bal[i])
			FAIL(t, "READ_AT %llu: account %u differs",
			     (unsigned long long)clock, i);
	}
}

/* Read 2..4 accounts, move money, commit with the versions read. */
static void op_transfer(struct tstat *t)
{
	char keys[4][8];
	u32 idx[4], n = 2 + rnd(3), i, j, mode = rnd(4);
	struct stmdev_read_ent re[4];
	u8 vals[4][48];
	s64 bal[4], amt;
	struct txn tx;
	u64 clock = 0;
	int tries;

	for (i = 0; i < n; i++) {
again:
		idx[i] = rnd(opt.accounts);
		for (j = 0; j < i; j++)
			if (idx[j] == idx[i])
				goto again;
		memcpy(keys[i], akey[idx[i]], 8);
	}
	for (tries = 0; tries < 100 && !stop; tries++) {
		if (snap(t, keys, n, re, vals, false, &clock))
			return;
		for (i = 0; i < n; i++)
			if (!acct_ok(vals[i], re[i].val_len, idx[i], &bal[i])) {
				FAIL(t, "account %u torn", idx[i]);
				return;
			}
		amt = (s64)rnd(50) - 10;
		tx.n = 0;
		for (i = 0; i < n; i++) {
			s64 nb = bal[i] + (i == 0 ? -(amt * (s64)(n - 1)) : amt);
			struct stmdev_commit_ent *e;

			/* mode 0: READ entries + blind PUTs; else CHECKed PUTs */
			if (mode == 0)
				ent(&tx, STMDEV_OP_READ, 0, keys[i], re[i].version);
			e = ent(&tx, STMDEV_OP_PUT, mode ? STMDEV_CENT_CHECK : 0,
				keys[i], re[i].version);
			acct_fill(tx.vals[tx.n - 1], idx[i], nb);
			e->val_len = acct_len(idx[i]);
		}
		shuffle(&tx);
		switch (commit(t, &tx, mode == 3 ? STMDEV_COMMIT_NONBLOCK : 0,
			       mode == 1)) {
		case -ESTALE:
		case -EBUSY:
			continue;
		default:
			return;
		}
	}
}

/* ADD transfer between two 8-byte accounts: commutes, never conflicts. */
static void op_add_transfer(struct tstat *t)
{
	u32 a = rnd((opt.accounts + 1) / 2) * 2, b = rnd((opt.accounts + 1) / 2) * 2;
	s64 amt = (s64)rnd(20);
	struct txn tx = { .n = 0 };
	struct stmdev_commit_ent *e;
	int err;

	if (a == b)
		return;
	e = ent(&tx, STMDEV_OP_ADD, 0, akey[a], 0);
	e->val_len = 8;
	put_unaligned_le64((u64)-amt, tx.vals[0]);
	e = ent(&tx, STMDEV_OP_ADD, 0, akey[b], 0);
	e->val_len = 8;
	put_unaligned_le64((u64)amt, tx.vals[1]);
	if (!rnd(8)) {
		/* An ADD onto a 32-byte account: EINVAL, names that entry. */
		struct stmdev_commit cm;

		e = ent(&tx, STMDEV_OP_ADD, 0, akey[1], 0);
		e->val_len = 8;
		put_unaligned_le64(1, tx.vals[2]);
		shuffle(&tx);
		cm = (struct stmdev_commit){ .entries = (uintptr_t)tx.e, .count = tx.n };
		err = stm_commit(&F, &cm, 0);
		t->ops++;
		if (err == -ENOMEM && ucore_hooks.fail_alloc)
			return;
		if (err != -EINVAL || cm.conflict >= tx.n ||
		    tx.e[cm.conflict].key_addr != (uintptr_t)akey[1])
			FAIL(t, "ADD onto 32 bytes: %d, conflict %u", err, cm.conflict);
		return;
	}
	err = commit(t, &tx, 0, false);
	if (err && err != -ENOMEM)
		FAIL(t, "ADD transfer: %d", err);
}

static void op_tokens_audit(struct tstat *t)
{
	struct stmdev_read_ent re[MAXS];
	u8 vals[MAXS][48];
	u32 seen = 0, i, count = 0;
	u64 clock = 0, id;

	if (snap(t, skey, opt.slots, re, vals, false, &clock))
		return;
	for (i = 0; i < opt.slots; i++) {
		if (!(re[i].flags & STMDEV_RENT_PRESENT)) {
			if (re[i].version)
				FAIL(t, "absent slot %u with version %llu", i,
				     (unsigned long long)re[i].version);
			continue;
		}
		count++;
		if (!box_ok(vals[i], re[i].val_len, &id) || id % 64 >= opt.tokens ||
		    seen & (1u << (id % 64))) {
			FAIL(t, "slot %u: bad or duplicate token", i);
			continue;
		}
		seen |= 1u << (id % 64);
	}
	if (count != opt.tokens)
		FAIL(t, "%u tokens at clock %llu, want %u", count,
		     (unsigned long long)clock, opt.tokens);
}

/* Move a token from a present slot to an absent one: DEL + PUT. */
static void op_token_move(struct tstat *t)
{
	char keys[2][8];
	struct stmdev_read_ent re[2];
	u8 vals[2][48];
	u32 a = rnd(opt.slots), b = rnd(opt.slots), mode = rnd(3);
	struct stmdev_commit_ent *e;
	struct txn tx;
	u64 clock = 0, id;
	int tries;

	if (a == b)
		return;
	memcpy(keys[0], skey[a], 8);
	memcpy(keys[1], skey[b], 8);
	for (tries = 0; tries < 20 && !stop; tries++) {
		if (snap(t, keys, 2, re, vals, false, &clock))
			return;
		if (!(re[0].flags & STMDEV_RENT_PRESENT) ||
		    re[1].flags & STMDEV_RENT_PRESENT)
			return;		/* nothing to move that way */
		if (!box_ok(vals[0], re[0].val_len, &id)) {
			FAIL(t, "slot %u torn", a);
			return;
		}
		/* Keep the token's identity, change its length now and then. */
		id = (id % 64) + 64 * rnd(1000);
		tx.n = 0;
		if (mode == 0) {
			ent(&tx, STMDEV_OP_READ, 0, keys[0], re[0].version);
			ent(&tx, STMDEV_OP_READ, 0, keys[1], 0);
		}
		ent(&tx, STMDEV_OP_DEL, mode ? STMDEV_CENT_CHECK : 0, keys[0],
		    re[0].version);
		e = ent(&tx, STMDEV_OP_PUT, mode ? STMDEV_CENT_CHECK : 0, keys[1], 0);
		box_fill(tx.vals[tx.n - 1], id);
		e->val_len = box_len(id);
		shuffle(&tx);
		if (commit(t, &tx, 0, mode == 2) != -ESTALE)
			return;
	}
}

/* Swap a new value into a box, fetching the one it replaces. */
static void op_box_swap(struct tstat *t)
{
	u32 b = rnd(NBOX);
	u64 id = ((u64)t->id << 40) | ++t->seq, got;
	struct stmdev_commit_ent *e, *r;
	struct txn tx = { .n = 0 };
	u32 i;

	e = ent(&tx, STMDEV_OP_PUT, 0, bkey[b], 0);
	box_fill(tx.vals[0], id);
	e->val_len = box_len(id);
	r = ent(&tx, STMDEV_OP_READ, STMDEV_CENT_FETCH, bkey[b], 0);
	r->val_len = 40;
	shuffle(&tx);
	if (commit(t, &tx, 0, false))
		return;
	for (i = 0; i < tx.n; i++) {
		r = &tx.e[i];
		if (r->op != STMDEV_OP_READ)
			continue;
		t->box_put_sum += id;
		t->box_put_xor ^= id;
		if (!r->version) {
			if (r->val_len)
				FAIL(t, "fetched an absent box with length %u", r->val_len);
			continue;
		}
		if (!box_ok(tx.vals[i], r->val_len, &got)) {
			FAIL(t, "fetched box %u torn", b);
			continue;
		}
		t->box_get_sum += got;
		t->box_get_xor ^= got;
	}
}

/* ADD + FETCH 1 to a tick counter: this thread's results only grow. */
static void op_tick(struct tstat *t)
{
	u32 c = rnd(NCTR);
	struct txn tx = { .n = 0 };
	struct stmdev_commit_ent *e;
	s64 res;

	e = ent(&tx, STMDEV_OP_ADD, STMDEV_CENT_FETCH, ckey[c], 0);
	e->val_len = 8;
	put_unaligned_le64(1, tx.vals[0]);
	if (commit(t, &tx, 0, false))
		return;
	res = (s64)get_unaligned_le64(tx.vals[0]);
	if (res <= t->last_tick[c])
		FAIL(t, "tick %u went %lld -> %lld", c, (long long)t->last_tick[c],
		     (long long)res);
	t->last_tick[c] = res;
	t->tick_sum[c]++;
}

/* A read-only commit of a snapshot's versions: holds, or ESTALE. */
static void op_ro_commit(struct tstat *t)
{
	char keys[3][8];
	struct stmdev_read_ent re[3];
	u8 vals[3][48];
	struct txn tx = { .n = 0 };
	u64 clock = 0;
	u32 i;

	memcpy(keys[0], akey[rnd(opt.accounts)], 8);
	memcpy(keys[1], skey[rnd(opt.slots)], 8);
	memcpy(keys[2], bkey[rnd(NBOX)], 8);
	if (snap(t, keys, 3, re, vals, false, &clock))
		return;
	for (i = 0; i < 3; i++)
		ent(&tx, STMDEV_OP_READ, 0, keys[i], re[i].version);
	commit(t, &tx, 0, false);
}

/*
 * LIST the whole store, cursor by cursor: the walk is no snapshot, but
 * accounts are never deleted, so each appears exactly once, with its
 * length, at a version no newer than the clock after the call.
 */
static void op_list(struct tstat *t)
{
	u8 buf[1024] __aligned(8);
	u32 seen[MAXA] = { 0 }, i, calls = 0;
	struct stmdev_list l = { .addr = (uintptr_t)buf, .len = sizeof(buf) };
	int err;

	do {
		size_t off = 0;
		u64 clock;

		err = stm_list(&F, &l);
		t->ops++;
		clock = atomic64_read(&S->clock);
		if (err == -ENOMEM && ucore_hooks.fail_alloc) {
			t->enomem++;
			return;
		}
		if (err) {
			FAIL(t, "list: %d", err);
			return;
		}
		for (i = 0; i < l.count; i++) {
			struct stmdev_key_rec rec;
			const char *key = (const char *)buf + off + sizeof(rec);

			memcpy(&rec, buf + off, sizeof(rec));
			off += sizeof(rec) + ALIGN(rec.key_len, 8);
			if (off > sizeof(buf) || !rec.version || rec.version > clock) {
				FAIL(t, "list record %u: version %llu, clock %llu", i,
				     (unsigned long long)rec.version,
				     (unsigned long long)clock);
				return;
			}
			if (rec.key_len == 6 && !memcmp(key, "acct", 4)) {
				u32 a = (key[4] - '0') * 10 + key[5] - '0';

				if (a < opt.accounts) {
					seen[a]++;
					if (rec.val_len != acct_len(a))
						FAIL(t, "list: account %u length %u", a,
						     rec.val_len);
				}
			}
		}
	} while (l.cursor && ++calls < 1000);
	if (l.cursor)
		return;		/* gave up: churn kept the walk going */
	for (i = 0; i < opt.accounts; i++)
		if (seen[i] != 1)
			FAIL(t, "list: account %u seen %u times", i, seen[i]);
}

/* RANGE over the token slots (see the top of the file). */
static void op_range(struct tstat *t)
{
	u8 buf[1024] __aligned(8);
	struct stmdev_range a = {
		.prefix_addr = (uintptr_t)"slot", .prefix_len = 4,
		.addr = (uintptr_t)buf, .len = sizeof(buf),
	};
	struct stmdev_read_ent re[MAXS];
	struct stmdev_commit_ent ce[MAXS + 1];
	struct stmdev_commit cm = { .entries = (uintptr_t)ce };
	u8 vals[MAXS][48];
	u32 seen[MAXS] = { 0 }, i, n = 0;
	size_t off = 0;
	u64 clock;
	int err;

	err = stm_range(&F, &a, 0);
	t->ops++;
	t->reads++;	/* counted as a read in the store's statistics */
	if (err == -ENOMEM && ucore_hooks.fail_alloc) {
		t->enomem++;
		return;
	}
	if (err) {
		FAIL(t, "range: %d", err);
		return;
	}
	if (a.cursor || a.members != opt.tokens || a.version > a.clock)
		FAIL(t, "range: cursor %llu, %llu members, version %llu clock %llu",
		     (unsigned long long)a.cursor, (unsigned long long)a.members,
		     (unsigned long long)a.version, (unsigned long long)a.clock);
	for (i = 0; i < a.count; i++) {
		struct stmdev_key_rec rec;
		const char *key = (const char *)buf + off + sizeof(rec);
		u32 s;

		memcpy(&rec, buf + off, sizeof(rec));
		off += sizeof(rec) + ALIGN(rec.key_len, 8);
		if (off > sizeof(buf) || rec.key_len != 6 || memcmp(key, "slot", 4)) {
			FAIL(t, "range record %u malformed", i);
			return;
		}
		s = (key[4] - '0') * 10 + key[5] - '0';
		/* Slots are never overwritten, only created and deleted. */
		if (s >= opt.slots || seen[s]++ || !rec.version || rec.version > a.clock)
			FAIL(t, "range: slot %u twice or version %llu past clock %llu",
			     s, (unsigned long long)rec.version,
			     (unsigned long long)a.clock);
		n++;
	}
	if (n != opt.tokens)
		FAIL(t, "range: %u tokens, want %u", n, opt.tokens);
	clock = a.clock;
	if (snap(t, skey, opt.slots, re, vals, true, &clock))
		return;		/* changed since: nothing to compare */
	for (i = 0; i < opt.slots; i++)
		if (!!(re[i].flags & STMDEV_RENT_PRESENT) != !!seen[i])
			FAIL(t, "range and READ_AT at %llu differ on slot %u",
			     (unsigned long long)clock, i);
	/* The RANGE entry first: any slot that changed moved the range. */
	memset(ce, 0, sizeof(ce));
	ce[0].key_addr = (uintptr_t)"slot";
	ce[0].key_len = 4;
	ce[0].op = STMDEV_OP_RANGE;
	ce[0].version = a.version;
	for (i = 0; i < opt.slots; i++) {
		ce[i + 1].key_addr = (uintptr_t)skey[i];
		ce[i + 1].key_len = strlen(skey[i]);
		ce[i + 1].op = STMDEV_OP_READ;
		ce[i + 1].version = re[i].version;
	}
	cm.count = opt.slots + 1;
	err = stm_commit(&F, &cm, 0);
	t->ops++;
	t->commits += !err;
	t->conflicts += err == -ESTALE;
	if (err == -ESTALE && cm.conflict != 0)
		FAIL(t, "range commit: slot entry %u conflicts, the range does not",
		     cm.conflict);
	else if (err && err != -ESTALE && !(err == -ENOMEM && ucore_hooks.fail_alloc))
		FAIL(t, "range commit: %d", err);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static struct tstat *tstats;
static u64 t_end;

static void *worker(void *arg)
{
	struct tstat *t = arg;
	u64 batch = 0, before;

	ucore_hooks.rng = opt.seed * 0x9e3779b97f4a7c15ULL + t->id + 1;
	/* Injection in odd threads only: even threads keep the pace. */
	if (t->id & 1) {
		ucore_hooks.fail_alloc = opt.fail_alloc;
		ucore_hooks.fail_nofault = opt.fail_nofault;
	}
	ucore_hooks.delay_one_in = opt.delay;
	while (!stop) {
		u32 r;

		if (!batch) {
			/* Take up to 256 calls from the shared budget. */
			u64 left = __atomic_load_n(&ops_left, __ATOMIC_RELAXED);

			do {
				if (!left)
					goto out;
				batch = left < 256 ? left : 256;
			} while (!__atomic_compare_exchange_n(&ops_left, &left, left - batch,
							      false, __ATOMIC_RELAXED,
							      __ATOMIC_RELAXED));
			if (now_ns() > t_end)
				goto out;
		}
		before = t->ops;
		r = rnd(100);
		if (r < 30)
			op_transfer(t);
		else if (r < 40)
			op_add_transfer(t);
		else if (r < 50)
			op_audit(t);
		else if (r < 55)
			op_read_at(t);
		else if (r < 70)
			op_token_move(t);
		else if (r < 75)
			op_tokens_audit(t);
		else if (r < 85)
			op_box_swap(t);
		else if (r < 91)
			op_tick(t);
		else if (r < 92)
			op_list(t);
		else if (r < 96)
			op_range(t);
		else
			op_ro_commit(t);
		ucore_quiescent();
		/* The budget counts calls into the core. */
		batch -= t->ops - before < batch ? t->ops - before : batch;
	}
out:
	ucore_thread_exit();
	return NULL;
}

/* ---- setup and final checks ---- */

static void setup(void)
{
	struct tstat t0 = { .id = -1 };
	struct stmdev_family fam = { .name = "ustress" };
	struct txn tx = { .n = 0 };
	struct stmdev_commit_ent *e;
	u32 i;

	for (i = 0; i < MAXA; i++)
		snprintf(akey[i], 8, "acct%02u", i);
	for (i = 0; i < MAXS; i++)
		snprintf(skey[i], 8, "slot%02u", i);
	for (i = 0; i < NBOX; i++)
		snprintf(bkey[i], 8, "box%u", i);
	for (i = 0; i < NCTR; i++)
		snprintf(ckey[i], 8, "tick%u", i);

	stm_scratch_init();
	S = ucore_store_new(1000, (u32)opt.seed * 2654435761u);
	F.store = S;
	F.user = S->owner;
	if (stm_family_add(&F, &fam) || !fam.id) {
		fprintf(stderr, "ustress: family add failed\n");
		exit(1);
	}
	fam_id = fam.id;
	for (i = 0; i < opt.accounts; i++) {
		e = ent(&tx, STMDEV_OP_PUT, 0, akey[i], 0);
		acct_fill(tx.vals[tx.n - 1], i, START);
		e->val_len = acct_len(i);
	}
	if (commit(&t0, &tx, 0, false))
		exit(1);
	tx.n = 0;
	for (i = 0; i < opt.tokens; i++) {
		e = ent(&tx, STMDEV_OP_PUT, 0, skey[i], 0);
		box_fill(tx.vals[tx.n - 1], i);
		e->val_len = box_len(i);
	}
	if (commit(&t0, &tx, 0, false))
		exit(1);
	ucore_quiescent();
}

static void final_checks(u64 total_commits, u64 total_conflicts, u64 total_busy,
			 u64 reads, u64 fam_commits, u64 fam_attempts)
{
	struct tstat t = { .id = -1 };
	struct stmdev_read_ent re[NBOX > NCTR ? NBOX : NCTR];
	u8 vals[NBOX][48];
	u64 clock = 0, put_sum = 0, put_xor = 0, get_sum = 0, get_xor = 0, id;
	s64 ticks[NCTR] = { 0 };
	struct stm_family *fam;
	int i, c;

	ucore_hooks = (struct ucore_hooks){ .rng = 7 };
	op_audit(&t);
	op_tokens_audit(&t);
	for (i = 0; i < opt.threads; i++) {
		put_sum += tstats[i].box_put_sum;
		put_xor ^= tstats[i].box_put_xor;
		get_sum += tstats[i].box_get_sum;
		get_xor ^= tstats[i].box_get_xor;
		for (c = 0; c < NCTR; c++)
			ticks[c] += tstats[i].tick_sum[c];
	}
	if (!snap(&t, bkey, NBOX, re, vals, false, &clock)) {
		for (i = 0; i < NBOX; i++) {
			if (!(re[i].flags & STMDEV_RENT_PRESENT))
				continue;
			if (!box_ok(vals[i], re[i].val_len, &id))
				FAIL(&t, "box %d torn at the end", i);
			get_sum += id;
			get_xor ^= id;
		}
	}
	if (put_sum != get_sum || put_xor != get_xor)
		FAIL(&t, "boxes: values put and values fetched or left differ");
	if (!snap(&t, ckey, NCTR, re, vals, false, &clock)) {
		for (c = 0; c < NCTR; c++) {
			s64 v = re[c].flags & STMDEV_RENT_PRESENT ?
				(s64)get_unaligned_le64(vals[c]) : 0;

			if (v != ticks[c])
				FAIL(&t, "tick%d is %lld, threads added %lld", c,
				     (long long)v, (long long)ticks[c]);
		}
	}
	/* Statistics: setup's 2 commits; the final reads above are 4. */
	if (S->stats->commits != total_commits + 2)
		FAIL(&t, "stats: %llu commits, callers saw %llu",
		     (unsigned long long)S->stats->commits,
		     (unsigned long long)total_commits + 2);
	if (S->stats->busy != total_busy)
		FAIL(&t, "stats: %llu busy, callers saw %llu",
		     (unsigned long long)S->stats->busy, (unsigned long long)total_busy);
	if (S->stats->conflicts != total_conflicts)
		FAIL(&t, "stats: %llu conflicts, callers saw %llu",
		     (unsigned long long)S->stats->conflicts,
		     (unsigned long long)total_conflicts);
	if (S->stats->reads != reads + 4)
		FAIL(&t, "stats: %llu reads, callers made %llu",
		     (unsigned long long)S->stats->reads, (unsigned long long)reads + 4);
	fam = stm_family_get(S, fam_id);
	if (atomic64_read(&fam->commits) != (s64)fam_commits ||
	    atomic64_read(&fam->attempts) != (s64)fam_attempts)
		FAIL(&t, "family: %lld/%lld commits/attempts, callers saw %llu/%llu",
		     (long long)atomic64_read(&fam->commits),
		     (long long)atomic64_read(&fam->attempts),
		     (unsigned long long)fam_commits, (unsigned long long)fam_attempts);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ustress [-t threads] [-n ops] [-s seconds] [-a accounts]\n"
		"               [-S slots] [-T tokens] [-m fail_alloc_1_in]\n"
		"               [-f fail_nofault_1_in] [-d delay_1_in] [-r seed] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	u64 commits = 0, conflicts = 0, busy = 0, reads = 0, ops = 0, enomem = 0;
	u64 fam_c = 0, fam_a = 0, stale_at = 0, t0, dt;
	pthread_t *th;
	int c, i;

	while ((c = getopt(argc, argv, "t:n:s:a:S:T:m:f:d:r:v")) != -1) {
		switch (c) {
		case 't': opt.threads = atoi(optarg); break;
		case 'n': opt.ops = strtoull(optarg, NULL, 0); break;
		case 's': opt.seconds = atof(optarg); break;
		case 'a': opt.accounts = atoi(optarg); break;
		case 'S': opt.slots = atoi(optarg); break;
		case 'T': opt.tokens = atoi(optarg); break;
		case 'm': opt.fail_alloc = atoi(optarg); break;
		case 'f': opt.fail_nofault = atoi(optarg); break;
		case 'd': opt.delay = atoi(optarg); break;
		case 'r': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'v': opt.verbose = 1; break;
		default: usage();
		}
	}
	if (opt.threads < 1 || opt.threads > 128 || opt.accounts < 2 ||
	    opt.accounts > MAXA || opt.slots < 2 || opt.slots > MAXS ||
	    opt.tokens < 1 || opt.tokens >= opt.slots)
		usage();

	vbits_n = opt.ops + 1024;
	vbits = calloc(vbits_n / 64 + 1, sizeof(u64));
	setup();
	ops_left = opt.ops;
	th = calloc(opt.threads, sizeof(*th));
	tstats = calloc(opt.threads, sizeof(*tstats));
	t0 = now_ns();
	t_end = t0 + (u64)(opt.seconds * 1e9);
	for (i = 0; i < opt.threads; i++) {
		tstats[i].id = i;
		pthread_create(&th[i], NULL, worker, &tstats[i]);
	}
	for (i = 0; i < opt.threads; i++)
		pthread_join(th[i], NULL);
	dt = now_ns() - t0;
	for (i = 0; i < opt.threads; i++) {
		struct tstat *t = &tstats[i];

		ops += t->ops;
		commits += t->commits;
		conflicts += t->conflicts + t->read_stale;
		busy += t->busy;
		reads += t->reads;
		enomem += t->enomem;
		fam_c += t->fam_commits;
		fam_a += t->fam_attempts;
		stale_at += t->read_stale;
	}
	if (!failures)
		final_checks(commits, conflicts, busy, reads, fam_c, fam_a);
	ucore_thread_exit();
	ucore_store_free(S);
	stm_scratch_exit();
	free(vbits);

	printf("ustress: %d threads, %llu ops in %.2f s (%.0f ops/s): %llu commits, "
	       "%llu conflicts, %llu busy, %llu reads (%llu READ_AT stale), "
	       "%llu ENOMEM injected; %ld failures, %ld warnings\n",
	       opt.threads, (unsigned long long)ops, dt / 1e9, ops / (dt / 1e9),
	       (unsigned long long)commits, (unsigned long long)conflicts,
	       (unsigned long long)busy, (unsigned long long)reads,
	       (unsigned long long)stale_at, (unsigned long long)enomem,
	       failures, ucore_warnings);
	free(th);
	free(tstats);
	return failures || ucore_warnings ? 1 : 0;
}
