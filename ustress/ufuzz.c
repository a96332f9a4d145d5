// SPDX-License-Identifier: GPL-2.0
/*
 * ufuzz: libFuzzer on the store's core as kmod/ builds it (under ucore.h):
 * the READ and COMMIT decoders (stm_read(), stm_commit()) and the
 * snapshot, lock, validate, charge, fetch and apply paths behind them.
 *
 * An input is a program over a fresh store: each step is an opcode byte
 * and its operands.  "User memory" is a 4 KiB arena: every address a
 * request carries is an offset into it, or (now and then) a wild value,
 * and ucore's copy hooks fault whatever lies outside it, or in a
 * read-only window of it.  Module limits, allocation failures and
 * nofault-copy failures are set by the program too.
 *
 * Oracles, beside ASan/UBSan and the core's WARNs:
 *   - a structured COMMIT over a pool of 8 keys is checked against a
 *     snapshot of the pool taken before it: success exactly when every
 *     validated version matched, ESTALE naming the first entry that did
 *     not; on success every written key holds what was written (ADD: old
 *     plus delta) at the commit's version, FETCH returns the replaced
 *     value, and no other key changed; on any error nothing changed and
 *     the clock did not move;
 *   - every command returns one of its documented errnos;
 *   - snapshots never show a version past their clock;
 *   - when the store is freed its owner's charge returns to zero.
 */
#include "ucore.h"
#include "ucore_test.h"
#include "stm.h"

#define ARENA	4096
#define NPOOL	8
#define MAXE	64

static u8 arena[ARENA] __aligned(64);
static struct stm_store *S;
static struct stm_file F;

struct in {
	const u8 *p;
	size_t n;
};

static u64 get(struct in *in, int bytes)
{
	u64 v = 0;
	int i;

	for (i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (u64)*in->p << (8 * i);
	return v;
}

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "ufuzz: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static const char *pool_key(u32 i)
{
	static const char *k[NPOOL] = {
		"a", "b", "key-c", "d", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
		"f", "g\0x", "h",
	};

	return k[i % NPOOL];
}

static u32 pool_len(u32 i)
{
	return i % NPOOL == 6 ? 3 : strlen(pool_key(i));
}

/* Pool keys live at fixed places in the arena, refreshed before use. */
#define KEYS_AT	3072

static u64 uaddr(u64 off)
{
	return (uintptr_t)arena + off;
}

static void place_keys(void)
{
	u32 i, at = KEYS_AT;

	for (i = 0; i < NPOOL; i++, at += 48)
		memcpy(arena + at, pool_key(i), pool_len(i));
}

static u64 pool_addr(u32 i)
{
	return uaddr(KEYS_AT + 48 * (i % NPOOL));
}

/* An address operand: pool-relative, arena-relative, or wild. */
static u64 addr_of(struct in *in)
{
	u32 sel = get(in, 1);

	if (sel < 200)
		return uaddr(get(in, 2) % ARENA);
	if (sel < 250)
		return uaddr(ARENA - (sel - 200));	/* straddles the end */
	return get(in, 8);
}

struct pool_state {
	u64 clock;
	u64 ver[NPOOL];
	u32 len[NPOOL];
	bool present[NPOOL];
	u8 val[NPOOL][ARENA];
};

/* The pool as the harness sees it, with no hook in the way. */
static void pool_snap(struct pool_state *ps)
{
	struct ucore_hooks saved = ucore_hooks;
	struct stmdev_read_ent re[NPOOL];
	struct stmdev_read r = { .entries = (uintptr_t)re, .count = NPOOL };
	u32 i;
	int err;

	ucore_hooks.user_hi = 0;
	ucore_hooks.fail_alloc = ucore_hooks.fail_copy = ucore_hooks.fail_nofault = 0;
	for (i = 0; i < NPOOL; i++) {
		memset(&re[i], 0, sizeof(re[i]));
		re[i].key_addr = (uintptr_t)pool_key(i);
		re[i].key_len = pool_len(i);
		re[i].val_addr = (uintptr_t)ps->val[i];
		re[i].val_len = sizeof(ps->val[i]);
	}
	err = stm_read(&F, &r);
	CHECK(!err);
	ps->clock = r.clock;
	for (i = 0; i < NPOOL; i++) {
		ps->ver[i] = re[i].version;
		ps->present[i] = re[i].flags & STMDEV_RENT_PRESENT;
		ps->len[i] = re[i].val_len;
		CHECK(ps->ver[i] <= ps->clock);
		CHECK(ps->present[i] == !!ps->ver[i]);
	}
	saved.rng = ucore_hooks.rng;
	ucore_hooks = saved;
}

static bool pool_same(const struct pool_state *a, const struct pool_state *b, u32 i)
{
	return a->ver[i] == b->ver[i] && a->present[i] == b->present[i] &&
	       a->len[i] == b->len[i] && !memcmp(a->val[i], b->val[i], a->len[i]);
}

static bool errno_ok(int err, const int *ok)
{
	for (; *ok; ok++)
		if (err == *ok)
			return true;
	return !err;
}

static const int commit_errs[] = {
	-EINVAL, -EFAULT, -E2BIG, -ESTALE, -ENOMEM, -ENOSPC, -EDQUOT, -EBADF, 0
};
static const int read_errs[] = { -EINVAL, -EFAULT, -E2BIG, -ESTALE, -ENOMEM, 0 };

/* A COMMIT over the pool, built from operands, checked against a model. */
static void step_commit(struct in *in)
{
	struct stmdev_commit_ent *e = (void *)arena;	/* at offset 0 */
	struct stmdev_commit cm = { 0 };
	struct pool_state before, after;
	u32 n = get(in, 1) % 12, i, j, voff = 1024;
	u32 mismatch = STMDEV_NO_CONFLICT;
	u8 vals[12][64];
	bool wrote[NPOOL] = { false }, dup = false, rdup = false;
	int err;

	place_keys();
	pool_snap(&before);
	for (i = 0; i < n; i++) {
		u32 k = get(in, 1) % NPOOL, b = get(in, 1);
		u32 vlen = get(in, 1) % 40;

		memset(&e[i], 0, sizeof(e[i]));
		e[i].op = b & 3;
		e[i].flags = (b >> 2) & 3;
		e[i].key_addr = pool_addr(k);
		e[i].key_len = pool_len(k);
		/* Expect what is there (mostly), or something else. */
		e[i].version = (b & 0x30) ? before.ver[k] : get(in, 1);
		if (e[i].op == STMDEV_OP_ADD)
			vlen = 8;
		if (e[i].op == STMDEV_OP_DEL ||
		    (e[i].op == STMDEV_OP_READ && !(e[i].flags & STMDEV_CENT_FETCH)))
			vlen = 0;
		e[i].val_len = vlen;
		e[i].val_addr = uaddr(voff);
		for (j = 0; j < vlen; j++)
			arena[voff + j] = vals[i][j] = get(in, 1);
		voff += 64;
		if (e[i].op != STMDEV_OP_READ) {
			dup |= wrote[k];
			wrote[k] = true;
		}
		for (j = 0; j < i; j++)
			if (e[j].key_addr == e[i].key_addr &&
			    (e[j].op == STMDEV_OP_READ) == (e[i].op == STMDEV_OP_READ) &&
			    e[i].op == STMDEV_OP_READ)
				rdup = true;
	}
	cm.entries = uaddr(0);
	cm.count = n;
	cm.flags = get(in, 1) & 1 ? STMDEV_COMMIT_NONBLOCK : 0;
	/* Which validated entries would not match, the first by index. */
	for (i = 0; i < n; i++) {
		u32 k = (e[i].key_addr - pool_addr(0)) / 48;
		bool validated = e[i].op == STMDEV_OP_READ ?
				 !(e[i].flags & STMDEV_CENT_FETCH) ||
				 (e[i].flags & STMDEV_CENT_CHECK) :
				 e[i].flags & STMDEV_CENT_CHECK;

		if (validated && e[i].version != before.ver[k] && mismatch > i)
			mismatch = i;
	}

	err = stm_commit(&F, &cm, 0);
	CHECK(errno_ok(err, commit_errs));
	CHECK(err != -EBUSY);
	pool_snap(&after);
	if (err) {
		for (i = 0; i < NPOOL; i++)
			CHECK(pool_same(&before, &after, i));
		CHECK(after.clock == before.clock);
		if (err == -ESTALE)
			CHECK(cm.conflict == mismatch);
		return;
	}
	/* Success: no duplicates got through, every validation held. */
	CHECK(!dup && !rdup);
	for (i = 0; i < n; i++)
		CHECK(!(F.flags & STMDEV_ATTACH_RDONLY) || e[i].op == STMDEV_OP_READ);
	CHECK(mismatch == STMDEV_NO_CONFLICT);
	for (i = 0; i < NPOOL; i++) {
		const struct stmdev_commit_ent *w = NULL;
		u32 x;

		for (x = 0; x < n; x++)
			if (e[x].op != STMDEV_OP_READ &&
			    (e[x].key_addr - pool_addr(0)) / 48 == i)
				w = &e[x];
		if (!w) {
			CHECK(pool_same(&before, &after, i));
			continue;
		}
		x = w - e;
		CHECK(cm.version > before.clock && cm.version == after.clock);
		if (w->op == STMDEV_OP_DEL) {
			CHECK(!after.present[i]);
		} else if (w->op == STMDEV_OP_PUT) {
			CHECK(after.present[i] && after.ver[i] == cm.version);
			CHECK(after.len[i] == w->val_len &&
			      !memcmp(after.val[i], vals[x], w->val_len));
		} else {
			u64 old = before.present[i] ? get_unaligned_le64(before.val[i]) : 0;
			u64 want = old + get_unaligned_le64(vals[x]);

			CHECK(!before.present[i] || before.len[i] == 8);
			CHECK(after.present[i] && after.ver[i] == cm.version &&
			      after.len[i] == 8);
			CHECK(get_unaligned_le64(after.val[i]) == want);
			if (w->flags & STMDEV_CENT_FETCH)
				CHECK(get_unaligned_le64(arena + (w->val_addr - uaddr(0))) == want);
		}
	}
	/* READ + FETCH: the replaced value, its version and length. */
	for (i = 0; i < n; i++) {
		u32 k = (e[i].key_addr - pool_addr(0)) / 48;

		if (e[i].op != STMDEV_OP_READ || !(e[i].flags & STMDEV_CENT_FETCH))
			continue;
		CHECK(e[i].version == before.ver[k]);
		CHECK(e[i].val_len == (before.present[k] ? before.len[k] : 0));
		CHECK(!memcmp(arena + (e[i].val_addr - uaddr(0)), before.val[k],
			      e[i].val_len));
	}
}

/* Raw COMMIT or READ: the entry array comes from the input as bytes. */
static void step_raw(struct in *in, bool is_commit)
{
	size_t esz = is_commit ? sizeof(struct stmdev_commit_ent) :
				 sizeof(struct stmdev_read_ent);
	u32 n = get(in, 1), i, off = get(in, 2) % ARENA;
	struct pool_state before, after;
	int err;

	if (n > 200)
		n = get(in, 2);		/* big counts, past the limit too */
	for (i = 0; i < n * esz && i + off < ARENA && in->n; i++)
		arena[off + i] = get(in, 1);
	/* Most addresses into the arena; the rest stay as the input said. */
	for (i = 0; i < n && off + (i + 1) * esz <= ARENA; i++) {
		u8 *ent = arena + off + i * esz;	/* key_addr, then val_addr */
		u64 ka, va;

		memcpy(&ka, ent, 8);
		memcpy(&va, ent + 8, 8);
		if (ka % 8)
			ka = pool_addr(ka / 8);
		else if (ka % 4)
			ka = uaddr(ka % ARENA);
		if (va % 4)
			va = uaddr(va % ARENA);
		memcpy(ent, &ka, 8);
		memcpy(ent + 8, &va, 8);
	}
	place_keys();
	pool_snap(&before);
	if (is_commit) {
		struct stmdev_commit cm = {
			.entries = get(in, 1) < 250 ? uaddr(off) : get(in, 8),
			.count = n, .flags = get(in, 1) & 7,
			.family = get(in, 1) % 4,
		};

		if (get(in, 1) == 0xff)
			cm.reserved[get(in, 1) & 1] = 1;
		err = stm_commit(&F, &cm, 0);
		CHECK(errno_ok(err, commit_errs));
		CHECK(err != -EBUSY || cm.flags & STMDEV_COMMIT_NONBLOCK);
		CHECK(err == -ESTALE || !err || err == -EINVAL ||
		      cm.conflict == STMDEV_NO_CONFLICT);
	} else {
		struct stmdev_read r = {
			.entries = get(in, 1) < 250 ? uaddr(off) : get(in, 8),
			.count = n, .flags = get(in, 1) & 3,
			.clock = get(in, 1),
		};

		if (get(in, 1) == 0xff)
			r.reserved = 1;
		err = stm_read(&F, &r);
		CHECK(errno_ok(err, read_errs));
		if (!err)
			for (i = 0; i < n && off + (i + 1) * esz <= ARENA; i++) {
				struct stmdev_read_ent re;

				memcpy(&re, arena + off + i * esz, sizeof(re));
				CHECK(re.version <= r.clock);
			}
	}
	pool_snap(&after);
	if (err)
		for (i = 0; i < NPOOL; i++)
			CHECK(pool_same(&before, &after, i));
}

static void step_family(struct in *in)
{
	struct stmdev_family fam = { 0 };
	u32 len = get(in, 1) % (sizeof(fam.name) + 1), i;
	int err;

	for (i = 0; i < len && i < sizeof(fam.name); i++)
		fam.name[i] = get(in, 1);
	err = stm_family_add(&F, &fam);
	CHECK(!err || err == -EINVAL || err == -ENAMETOOLONG || err == -ENOSPC ||
	      (err == -EBADF && F.flags & STMDEV_ATTACH_RDONLY));
	CHECK(err || (fam.id >= 1 && fam.id <= STMDEV_FAMILIES_MAX));
}

/* Limits and injection for what follows. */
static void step_knobs(struct in *in)
{
	u32 b = get(in, 1);

	switch (b % 6) {
	case 0: ucore_hooks.fail_alloc = get(in, 1) % 16; break;
	/*
	 * Never 1: a nofault copy that always fails, however often the page
	 * is faulted in, would spin stm_commit_retry() for ever (the kernel
	 * leaves that loop on a signal, which never comes here).
	 */
	case 1: ucore_hooks.fail_nofault = get(in, 1) % 8;
		if (ucore_hooks.fail_nofault == 1)
			ucore_hooks.fail_nofault = 2;
		break;
	case 2: stm_max_value_size = get(in, 1) + 1; break;
	case 3: stm_max_keys_per_store = get(in, 1) % 16; break;
	case 4: stm_max_bytes_per_store = get(in, 2); break;
	case 5:
		ucore_hooks.ro_lo = uaddr(get(in, 2) % ARENA);
		ucore_hooks.ro_hi = ucore_hooks.ro_lo + get(in, 1) * 16;
		break;
	}
}

static void reset_limits(void)
{
	stm_max_value_size = 64 << 10;
	stm_max_keys_per_store = 1 << 20;
	stm_max_bytes_per_store = 64UL << 20;
	stm_max_keys_per_call = 1024;
	stm_max_keys_per_user = 1UL << 20;
	stm_max_mem_per_user = 256UL << 20;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct in in = { data, size };
	static bool once;
	u32 steps = 0;

	if (!once) {
		ucore_warn_fatal = 1;
		stm_scratch_init();
		once = true;
	}
	reset_limits();
	ucore_hooks = (struct ucore_hooks){
		.rng = 1 + get(&in, 4),
		.user_lo = (uintptr_t)arena, .user_hi = (uintptr_t)arena + ARENA,
	};
	memset(arena, 0, sizeof(arena));
	S = ucore_store_new(1000, 12345);
	F = (struct stm_file){ .store = S, .user = S->owner };
	F.flags = get(&in, 1) == 0x5a ? STMDEV_ATTACH_RDONLY : 0;
	while (in.n && steps++ < 64) {
		switch (get(&in, 1) % 8) {
		case 0: case 1: case 2:
			step_commit(&in);
			break;
		case 3:
			step_raw(&in, true);
			break;
		case 4:
			step_raw(&in, false);
			break;
		case 5:
			step_family(&in);
			break;
		default:
			step_knobs(&in);
			break;
		}
	}
	ucore_hooks = (struct ucore_hooks){ .rng = 1 };
	ucore_store_free(S);
	rcu_barrier();
	CHECK(!ucore_warnings);
	return 0;
}
