// SPDX-License-Identifier: GPL-2.0
/*
 * soak_test.c - the SIGKILL soak: kill -9 delivered at random instants to
 * processes committing multi-key transfers, through ioctl and io_uring,
 * blocking and non-blocking, some with WAITs pending (synchronous in a
 * thread, asynchronous on a ring), while auditor processes check every
 * snapshot they read.  Killed workers are respawned until the kill count
 * is reached.  Afterwards:
 *
 *  - nothing is locked: every key takes a non-blocking commit (no EBUSY),
 *    one key at a time and all keys in one commit;
 *  - no commit is partial: the total is conserved and every account
 *    mirrors its shadow key (acct + shadow == 0) in the final snapshot,
 *    as in every snapshot the auditors and the workers read;
 *  - no waiter is left queued: with max_waits_per_user lowered to M, a
 *    fresh process of the workers' uid can queue exactly M wait entries
 *    (EDQUOT at M + 1), so the dead processes' entries were all given back
 *    (the user entry is pinned by the store, which that uid owns);
 *  - the store's counters agree with what the workers saw;
 *  - the module unloads (the VM runner checks rmmod after each program).
 *
 * The kill count is STM_SOAK_KILLS (default 100, the slice `make check`
 * runs); STM_SOAK_SEED fixes the random sequence (default: from the
 * clock, printed).  `make soak` runs 1,000 kills.
 *
 * Skips (exit 4) only when /dev/stm does not exist, the caller is not root
 * (it switches uids and writes module parameters), or io_uring is not
 * available to the process.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stmdev.h"

/* The 6.1 harness has unused parameters in its own wrappers. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#define PARAM_DIR	"/sys/module/stm/parameters/"
#define SOAK_UID	4242		/* every soak process runs as this uid */
#define NACC		8		/* accounts, each with a shadow key */
#define NIDLE		8		/* keys only waited on, never written */
#define ACC_INIT	1000
#define TOTAL		((int64_t)NACC * ACC_INIT)
#define NWORKERS	6
#define NAUDITORS	2
#define WAIT_M		16		/* max_waits_per_user for the final check */

enum kind { K_ATOMIC, K_COLL, K_WAITER, K_RING_ADD, K_RING_COLL, K_RING_MIX };

static const char *const kind_name[] = {
	"ioctl stm_atomic", "ioctl collection", "ioctl + blocked WAIT thread",
	"ring ADD + async WAITs", "ring collection + async WAITs",
	"ring ADD/collection mix + async WAITs",
};

struct slot {
	pid_t pid;
	int gen;			/* respawns of this slot */
	volatile int ready;		/* set by the worker once it runs */
	long long commits;		/* commits that returned success */
	long long busy;			/* EBUSY seen (non-blocking) */
	long long conflicts;
	long long wait_done;		/* WAITs that completed */
};

struct shm {
	char name[STM_NAME_MAX + 1];
	volatile int stop;
	volatile int failed;
	char why[512];
	struct slot w[NWORKERS];
	long long audits[NAUDITORS];
	long long init_commits;
	volatile int holder_ready;
};

static char acc_key[NACC][16], shd_key[NACC][16], idle_key[NIDLE][16];
static const char *allkeys[2 * NACC];

static void keys_init(void)
{
	int i;

	for (i = 0; i < NACC; i++) {
		snprintf(acc_key[i], sizeof(acc_key[i]), "acct-%d", i);
		snprintf(shd_key[i], sizeof(shd_key[i]), "shadow-%d", i);
		allkeys[2 * i] = acc_key[i];
		allkeys[2 * i + 1] = shd_key[i];
	}
	for (i = 0; i < NIDLE; i++)
		snprintf(idle_key[i], sizeof(idle_key[i]), "idle-%d", i);
}

static void __attribute__((constructor)) require_device(void)
{
	if (access("/dev/stm", F_OK) != 0) {
		printf("TAP version 13\n1..0 # SKIP /dev/stm not present\n");
		fflush(stdout);
		_exit(4);
	}
}

/* Record the first failure (processes share @sh); returns 1 for exit(). */
static int fail(struct shm *sh, const char *fmt, ...)
{
	va_list ap;

	if (!__sync_lock_test_and_set(&sh->failed, 1)) {
		va_start(ap, fmt);
		vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
		va_end(ap);
	}
	sh->stop = 1;
	return 1;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static void inc(long long *p, long long n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static int become_soak_uid(void)
{
	if (setresgid(SOAK_UID, SOAK_UID, SOAK_UID) < 0 ||
	    setresuid(SOAK_UID, SOAK_UID, SOAK_UID) < 0)
		return -errno;
	return 0;
}

static int param_get(const char *name, long long *out)
{
	char path[128], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = strtoll(buf, NULL, 0);
	return 0;
}

static int param_set(const char *name, long long v)
{
	char path[128];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%lld\n", v) < 0)
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	return ret;
}

/*
 * A snapshot's invariants: the accounts sum to TOTAL and each account is
 * the negation of its shadow.  @v holds acct-0, shadow-0, acct-1, ...
 * Returns 0 or 1 after fail().
 */
static int check_snapshot(struct shm *sh, const char *who, const int64_t *v)
{
	int64_t sum = 0;
	int i;

	for (i = 0; i < NACC; i++) {
		if (v[2 * i] + v[2 * i + 1] != 0)
			return fail(sh, "%s: acct-%d = %" PRId64 " but shadow-%d = %"
				    PRId64 " (a partial commit?)", who, i,
				    v[2 * i], i, v[2 * i + 1]);
		sum += v[2 * i];
	}
	if (sum != TOTAL)
		return fail(sh, "%s: accounts sum to %" PRId64 ", not %" PRId64,
			    who, sum, TOTAL);
	return 0;
}

/* Every value of a collection of allkeys[] as i64 into v[]. */
static int coll_values(struct shm *sh, const char *who, struct stm_coll *c,
		       int64_t *v)
{
	int i, ret;

	if (stm_coll_count(c) != 2 * NACC)
		return fail(sh, "%s: collection of %zu keys, not %d", who,
			    stm_coll_count(c), 2 * NACC);
	for (i = 0; i < 2 * NACC; i++) {
		ret = stm_value_i64(stm_coll_at(c, i), &v[i]);
		if (ret)
			return fail(sh, "%s: %s: %s", who, allkeys[i],
				    stm_strerror(ret));
	}
	return 0;
}

/* ---- workers ------------------------------------------------------------ */

struct xfer {
	struct shm *sh;
	int a, b;
	int64_t amount;
};

/* Move up to x->amount from account a to b, shadows mirrored: 4 keys. */
static int xfer_fn(struct stm_txn *tx, void *arg)
{
	struct xfer *x = arg;
	int64_t va, vb, sa, sb, amt;
	int ret;

	ret = stm_get_i64(tx, acc_key[x->a], &va);
	if (!ret)
		ret = stm_get_i64(tx, acc_key[x->b], &vb);
	if (!ret)
		ret = stm_get_i64(tx, shd_key[x->a], &sa);
	if (!ret)
		ret = stm_get_i64(tx, shd_key[x->b], &sb);
	if (ret)
		return ret;
	if (va + sa != 0 || vb + sb != 0)
		return -EPROTO;		/* opacity or atomicity broken */
	amt = x->amount < va ? x->amount : va;
	ret = stm_put_i64(tx, acc_key[x->a], va - amt);
	if (!ret)
		ret = stm_put_i64(tx, shd_key[x->a], sa + amt);
	if (!ret)
		ret = stm_put_i64(tx, acc_key[x->b], vb + amt);
	if (!ret)
		ret = stm_put_i64(tx, shd_key[x->b], sb - amt);
	return ret;
}

/* Blind transfer: four additions, which never conflict. */
static int xfer_add_fn(struct stm_txn *tx, void *arg)
{
	struct xfer *x = arg;
	int ret;

	ret = stm_add_i64(tx, acc_key[x->a], -x->amount);
	if (!ret)
		ret = stm_add_i64(tx, shd_key[x->a], x->amount);
	if (!ret)
		ret = stm_add_i64(tx, acc_key[x->b], x->amount);
	if (!ret)
		ret = stm_add_i64(tx, shd_key[x->b], -x->amount);
	return ret;
}

static void pick(uint64_t *seed, int *a, int *b)
{
	*a = rnd(seed) % NACC;
	*b = (*a + 1 + rnd(seed) % (NACC - 1)) % NACC;
}

/* stm_atomic transfers; odd generations are non-blocking (EBUSY retried). */
static int work_atomic(struct shm *sh, struct slot *sl, struct stm_store *s,
		       uint64_t *seed, bool adds, const char *who)
{
	struct stm_txn_opts o = { 0 };
	struct xfer x = { .sh = sh };
	int ret;

	if (sl->gen & 1)
		o.flags = STM_TXN_NONBLOCK;
	sl->ready = 1;
	while (!sh->stop) {
		pick(seed, &x.a, &x.b);
		x.amount = 1 + rnd(seed) % 50;
		do {
			ret = stm_atomic(s, adds ? xfer_add_fn : xfer_fn, &x, &o);
			if (ret == -STM_EBUSY)
				inc(&sl->busy, 1);
		} while (ret == -STM_EBUSY && !sh->stop);
		if (ret == -STM_EBUSY)
			break;
		if (ret)
			return fail(sh, "%s: stm_atomic: %s%s", who,
				    stm_strerror(ret), ret == -EPROTO ?
				    " (a snapshot with acct + shadow != 0)" : "");
		inc(&sl->commits, 1);
	}
	return 0;
}

/* Set a collection of 4 values (acct a, acct b, shadow a, shadow b). */
static int coll_xfer(struct shm *sh, const char *who, struct stm_coll *c,
		     int64_t amount)
{
	int64_t v[4], amt;
	int i, ret;

	for (i = 0; i < 4; i++) {
		ret = stm_value_i64(stm_coll_at(c, i), &v[i]);
		if (ret)
			return fail(sh, "%s: value %d: %s", who, i, stm_strerror(ret));
	}
	if (v[0] + v[2] != 0 || v[1] + v[3] != 0)
		return fail(sh, "%s: read acct %" PRId64 "/%" PRId64 " shadow %"
			    PRId64 "/%" PRId64 " (a partial commit?)", who,
			    v[0], v[1], v[2], v[3]);
	amt = amount < v[0] ? amount : v[0];
	stm_value_set_i64(stm_coll_at(c, 0), v[0] - amt);
	stm_value_set_i64(stm_coll_at(c, 1), v[1] + amt);
	stm_value_set_i64(stm_coll_at(c, 2), v[2] + amt);
	stm_value_set_i64(stm_coll_at(c, 3), v[3] - amt);
	return 0;
}

static void coll_keys(const char **k, int a, int b)
{
	k[0] = acc_key[a];
	k[1] = acc_key[b];
	k[2] = shd_key[a];
	k[3] = shd_key[b];
}

/* stm_using + stm_coll_commit on a handle that is non-blocking (even gens). */
static int work_coll(struct shm *sh, struct slot *sl, struct stm_store *s,
		     uint64_t *seed)
{
	const char *k[4];
	struct stm_coll *c;
	int a, b, ret;

	sl->ready = 1;
	while (!sh->stop) {
		pick(seed, &a, &b);
		coll_keys(k, a, b);
		ret = stm_using(s, k, 4, &c);
		if (ret)
			return fail(sh, "collection: stm_using: %s", stm_strerror(ret));
		for (;;) {
			if (coll_xfer(sh, "collection", c, 1 + rnd(seed) % 50))
				return 1;
			do {
				ret = stm_coll_commit(c);
				if (ret == -STM_EBUSY)
					inc(&sl->busy, 1);
			} while (ret == -STM_EBUSY && !sh->stop);
			if (ret != -STM_ECONFLICT)
				break;
			inc(&sl->conflicts, 1);
			ret = stm_coll_refresh(c);
			if (ret)
				break;
		}
		stm_coll_free(c);
		if (ret == -STM_EBUSY && sh->stop)
			break;
		if (ret)
			return fail(sh, "collection: commit: %s", stm_strerror(ret));
		inc(&sl->commits, 1);
	}
	return 0;
}

struct waiter_arg {
	struct shm *sh;
	struct slot *sl;
	struct stm_store *s;
	int idx;
};

/* Blocked in WAIT: on an idle key (never written) and an account. */
static void *waiter_thread(void *arg)
{
	struct waiter_arg *w = arg;
	const char *k[2] = { idle_key[w->idx % NIDLE], acc_key[w->idx % NACC] };
	uint64_t ver[2] = { 0, 0 };
	struct stm_value *v;
	int ret;

	while (!w->sh->stop) {
		ret = stm_usevar(w->s, k[1], &v);
		if (ret) {
			fail(w->sh, "waiter: stm_usevar: %s", stm_strerror(ret));
			break;
		}
		ver[1] = stm_value_version(v);
		stm_value_free(v);
		ret = stm_wait(w->s, k, ver, 2, STM_WAIT_ANY, -1);
		if (ret != 1) {
			fail(w->sh, "waiter: stm_wait gave %d (%s), not 1",
			     ret, ret < 0 ? stm_strerror(ret) : "index");
			break;
		}
		inc(&w->sl->wait_done, 1);
	}
	return NULL;
}

static int work_waiter(struct shm *sh, struct slot *sl, struct stm_store *s,
		       uint64_t *seed, int idx)
{
	struct waiter_arg w = { sh, sl, s, idx + sl->gen };
	pthread_t t;
	int ret;

	ret = pthread_create(&t, NULL, waiter_thread, &w);
	if (ret)
		return fail(sh, "waiter: pthread_create: %s", strerror(ret));
	/* blind additions: blocking, or non-blocking on odd generations */
	return work_atomic(sh, sl, s, seed, true, kind_name[K_WAITER]);
}

/* ---- ring workers ---------------------------------------------------------- */

#define RING_ENTRIES	64
#define TAG_WAIT	(1ULL << 62)	/* | key index: async WAIT on an account */
#define TAG_IDLE	(1ULL << 61)	/* async WAIT on idle keys only */
#define TAG_COLL	(1ULL << 60)	/* | batch slot: collection commit */
#define TAG_READ	(1ULL << 59)	/* | batch slot: collection read */
#define BATCH		4

static int ring_arm_idle(struct stm_ring *r, int first)
{
	const char *k[2] = { idle_key[first % NIDLE], idle_key[(first + 1) % NIDLE] };
	uint64_t ver[2] = { 0, 0 };

	return stm_ring_prep_wait(r, k, ver, 2, STM_WAIT_ANY, -1, TAG_IDLE);
}

static int ring_arm_acct(struct stm_ring *r, int i, uint64_t version)
{
	const char *k[1] = { acc_key[i] };

	return stm_ring_prep_wait(r, k, &version, 1, STM_WAIT_ANY, -1,
				  TAG_WAIT | i);
}

struct ringw {
	struct shm *sh;
	struct slot *sl;
	struct stm_store *s;
	struct stm_ring *r;
	uint64_t *seed;
	const char *who;
	int pending;			/* commits and reads in flight */
	int acct_waits;			/* async WAITs on accounts in flight */
	struct stm_coll *coll[BATCH];
	int64_t amount[BATCH];
	int acct_of[BATCH];		/* the account an ADD batch debits */
	struct stm_op ops[BATCH][4];
	unsigned flags[BATCH];
};

static int ring_prep_add(struct ringw *w, int j)
{
	int a, b, ret;

	pick(w->seed, &a, &b);
	w->acct_of[j] = a;
	w->amount[j] = 1 + rnd(w->seed) % 50;
	memset(w->ops[j], 0, sizeof(w->ops[j]));
	w->ops[j][0] = (struct stm_op){ .key = acc_key[a], .op = STM_OP_ADD,
					.delta = -w->amount[j] };
	w->ops[j][1] = (struct stm_op){ .key = shd_key[a], .op = STM_OP_ADD,
					.delta = w->amount[j] };
	w->ops[j][2] = (struct stm_op){ .key = acc_key[b], .op = STM_OP_ADD,
					.delta = w->amount[j] };
	w->ops[j][3] = (struct stm_op){ .key = shd_key[b], .op = STM_OP_ADD,
					.delta = -w->amount[j] };
	w->flags[j] = rnd(w->seed) & 1 ? STM_COMMIT_NONBLOCK : 0;
	ret = stm_ring_prep_commit(w->r, w->ops[j], 4, w->flags[j], j);
	if (ret)
		return fail(w->sh, "%s: prep_commit: %s", w->who, stm_strerror(ret));
	w->pending++;
	return 0;
}

static int ring_prep_read(struct ringw *w, int j)
{
	const char *k[4];
	int a, b, ret;

	pick(w->seed, &a, &b);
	coll_keys(k, a, b);
	w->amount[j] = 1 + rnd(w->seed) % 50;
	ret = stm_ring_prep_read(w->r, k, 4, TAG_READ | j);
	if (ret)
		return fail(w->sh, "%s: prep_read: %s", w->who, stm_strerror(ret));
	w->pending++;
	return 0;
}

static int ring_prep_coll(struct ringw *w, int j)
{
	int ret;

	if (coll_xfer(w->sh, w->who, w->coll[j], w->amount[j]))
		return 1;
	ret = stm_ring_prep_commit_coll(w->r, w->coll[j], TAG_COLL | j);
	if (ret)
		return fail(w->sh, "%s: prep_commit_coll: %s", w->who,
			    stm_strerror(ret));
	w->pending++;
	return 0;
}

/* One completion; prepares what follows from it. */
static int ring_cqe(struct ringw *w, const struct stm_cqe *c, bool coll_mode)
{
	int j = c->tag & 0xff;

	if (c->tag & TAG_IDLE)
		return fail(w->sh, "%s: WAIT on idle keys completed: %d",
			    w->who, c->result);
	if (c->tag & TAG_WAIT) {
		/* an account changed: wait on it again from a version seen */
		if (c->result != 0)
			return fail(w->sh, "%s: WAIT on %s gave %d", w->who,
				    acc_key[j], c->result);
		inc(&w->sl->wait_done, 1);
		w->acct_waits--;
		return 0;	/* re-armed after a later commit of that key */
	}
	w->pending--;
	if (c->tag & TAG_READ) {
		if (c->result != 0 || !c->coll)
			return fail(w->sh, "%s: read: %s", w->who,
				    stm_strerror(c->result));
		w->coll[j] = c->coll;
		return ring_prep_coll(w, j);
	}
	if (c->tag & TAG_COLL) {
		if (c->result == -STM_EBUSY) {
			inc(&w->sl->busy, 1);
			return ring_prep_coll(w, j);	/* same values again */
		}
		if (c->result == -STM_ECONFLICT) {
			inc(&w->sl->conflicts, 1);
			stm_coll_free(w->coll[j]);
			w->coll[j] = NULL;
			return ring_prep_read(w, j);
		}
		if (c->result != 0)
			return fail(w->sh, "%s: commit_coll: %s", w->who,
				    stm_strerror(c->result));
		inc(&w->sl->commits, 1);
		stm_coll_free(w->coll[j]);
		w->coll[j] = NULL;
		return ring_prep_read(w, j);
	}
	/* an ADD transfer */
	if (c->result == -STM_EBUSY && (w->flags[j] & STM_COMMIT_NONBLOCK)) {
		inc(&w->sl->busy, 1);
		if (stm_ring_prep_commit(w->r, w->ops[j], 4, w->flags[j], j))
			return fail(w->sh, "%s: prep_commit again", w->who);
		w->pending++;
		return 0;
	}
	if (c->result != 0)
		return fail(w->sh, "%s: ADD commit (flags %u): %s", w->who,
			    w->flags[j], stm_strerror(c->result));
	inc(&w->sl->commits, 1);
	/* re-arm a WAIT on the first account at the version just written */
	if (!coll_mode && w->acct_waits < NACC && (rnd(w->seed) & 3) == 0) {
		if (ring_arm_acct(w->r, w->acct_of[j], c->version))
			return fail(w->sh, "%s: prep_wait", w->who);
		w->acct_waits++;
	}
	return coll_mode ? 0 : ring_prep_add(w, j);
}

static int work_ring(struct shm *sh, struct slot *sl, struct stm_store *s,
		     uint64_t *seed, int idx, int kind)
{
	struct stm_cqe cqe[RING_ENTRIES];
	struct ringw w = { .sh = sh, .sl = sl, .s = s, .seed = seed,
			   .who = kind_name[kind] };
	bool coll_mode = kind == K_RING_COLL ||
			 (kind == K_RING_MIX && (sl->gen & 1));
	int i, n, ret;

	ret = stm_ring_open(s, RING_ENTRIES, 0, &w.r);
	if (ret)
		return fail(sh, "%s: stm_ring_open: %s", w.who, stm_strerror(ret));
	/* async WAITs left pending for the whole life of the process */
	for (i = 0; i < 3; i++)
		if (ring_arm_idle(w.r, idx + sl->gen + i))
			return fail(sh, "%s: prep_wait idle", w.who);
	for (i = 0; i < NACC; i += 3, w.acct_waits++)
		if (ring_arm_acct(w.r, i, 1))	/* completes at once: re-armed later */
			return fail(sh, "%s: prep_wait", w.who);
	for (i = 0; i < BATCH; i++)
		if (coll_mode ? ring_prep_read(&w, i) : ring_prep_add(&w, i))
			return 1;
	ret = stm_ring_submit(w.r);
	if (ret < 0)
		return fail(sh, "%s: submit: %s", w.who, stm_strerror(ret));
	sl->ready = 1;
	while (!sh->stop) {
		n = stm_ring_reap(w.r, cqe, RING_ENTRIES, 1);
		if (n < 0)
			return fail(sh, "%s: reap: %s", w.who, stm_strerror(n));
		for (i = 0; i < n; i++)
			if (ring_cqe(&w, &cqe[i], coll_mode))
				return 1;
		ret = stm_ring_submit(w.r);
		if (ret < 0)
			return fail(sh, "%s: submit: %s", w.who, stm_strerror(ret));
		if (w.pending == 0)
			return fail(sh, "%s: nothing in flight", w.who);
	}
	/* exit with the ring open: the kernel cancels what is pending */
	return 0;
}

static int worker(struct shm *sh, int idx)
{
	struct slot *sl = &sh->w[idx];
	uint64_t seed = ((uint64_t)getpid() << 32) ^ (uint64_t)(sl->gen + 1) *
			0x9e3779b97f4a7c15ULL ^ (uint64_t)idx;
	struct stm_store *s;
	int flags = 0, ret;

	if (become_soak_uid())
		return fail(sh, "worker: cannot become uid %d", SOAK_UID);
	if (idx == K_COLL && !(sl->gen & 1))
		flags = STM_NONBLOCK;
	if (idx == K_RING_COLL && (sl->gen & 1))
		flags = STM_NONBLOCK;
	ret = stm_open(sh->name, flags, 0, &s);
	if (ret)
		return fail(sh, "worker: stm_open: %s", stm_strerror(ret));
	switch (idx) {
	case K_ATOMIC:
		return work_atomic(sh, sl, s, &seed, false, kind_name[K_ATOMIC]);
	case K_COLL:
		return work_coll(sh, sl, s, &seed);
	case K_WAITER:
		return work_waiter(sh, sl, s, &seed, idx);
	default:
		return work_ring(sh, sl, s, &seed, idx, idx);
	}
}

/* ---- auditors ------------------------------------------------------------- */

static int auditor(struct shm *sh, int idx)
{
	struct stm_store *s;
	struct stm_ring *r = NULL;
	struct stm_coll *c;
	struct stm_cqe cqe;
	int64_t v[2 * NACC];
	int ret;

	if (become_soak_uid())
		return fail(sh, "auditor: cannot become uid %d", SOAK_UID);
	ret = stm_open(sh->name, STM_RDONLY, 0, &s);
	if (ret)
		return fail(sh, "auditor: stm_open: %s", stm_strerror(ret));
	if (idx == 1) {
		ret = stm_ring_open(s, 4, 0, &r);
		if (ret)
			return fail(sh, "auditor: stm_ring_open: %s", stm_strerror(ret));
	}
	while (!sh->stop) {
		if (!r) {
			ret = stm_using(s, allkeys, 2 * NACC, &c);
		} else {
			ret = stm_ring_prep_read(r, allkeys, 2 * NACC, 7);
			if (!ret)
				ret = stm_ring_submit(r) == 1 ? 0 : -EIO;
			if (!ret)
				ret = stm_ring_reap(r, &cqe, 1, 1) == 1 ? 0 : -EIO;
			if (!ret)
				ret = cqe.result;
			c = cqe.coll;
		}
		if (ret)
			return fail(sh, "auditor %d: read: %s", idx, stm_strerror(ret));
		ret = coll_values(sh, "auditor", c, v);
		stm_coll_free(c);
		if (ret || check_snapshot(sh, idx ? "ring auditor" : "auditor", v))
			return 1;
		inc(&sh->audits[idx], 1);
	}
	stm_ring_close(r);
	stm_close(s);
	return 0;
}

static pid_t spawn(struct shm *sh, int (*fn)(struct shm *, int), int idx)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(fn(sh, idx));
	return pid;
}

/* ---- setup and the checks after ------------------------------------------ */

/* As SOAK_UID: create the store (so it pins that uid's entry) and fill it. */
static int setup_store(struct shm *sh, int idx)
{
	struct stm_store *s;
	int i, ret;

	if (become_soak_uid())
		return fail(sh, "setup: cannot become uid %d", SOAK_UID);
	ret = stm_open(sh->name, STM_CREAT | STM_EXCL, 0666, &s);
	if (ret)
		return fail(sh, "setup: stm_open: %s", stm_strerror(ret));
	for (i = 0; i < NACC; i++) {
		ret = stm_fetch_add(s, acc_key[i], ACC_INIT, NULL);
		if (!ret)
			ret = stm_fetch_add(s, shd_key[i], -ACC_INIT, NULL);
		if (ret)
			return fail(sh, "setup: %s", stm_strerror(ret));
		sh->init_commits += 2;
	}
	stm_close(s);
	return 0;
}

/*
 * As SOAK_UID, in a fresh process: with max_waits_per_user at WAIT_M,
 * WATCH of WAIT_M + 1 keys is refused (EDQUOT), WATCH of WAIT_M keys is
 * queued, and then one more entry on another fd is refused.  Exit 0 when
 * all three hold (the user's charge was exactly 0), 10 + how many the
 * largest queueable set fell short of WAIT_M when entries are still
 * charged, other values for other failures.
 */
static int wait_charge_probe(struct shm *sh, int idx)
{
	static const char *k[WAIT_M + 1];
	static char names[WAIT_M + 1][16];
	struct stm_store *s1, *s2;
	int i, ret;

	if (become_soak_uid())
		return 2;
	for (i = 0; i <= WAIT_M; i++) {
		snprintf(names[i], sizeof(names[i]), "probe-%d", i);
		k[i] = names[i];
	}
	if (stm_open(sh->name, STM_RDONLY, 0, &s1) ||
	    stm_open(sh->name, STM_RDONLY, 0, &s2))
		return 3;
	ret = stm_watch(s1, k, WAIT_M);
	if (ret == -EDQUOT) {
		for (i = WAIT_M - 1; i > 0; i--)
			if (stm_watch(s1, k, i) == 0)
				break;
		return 10 + (WAIT_M - i);
	}
	if (ret)
		return 4;
	stm_watch(s1, k, 0);
	if (stm_watch(s1, k, WAIT_M + 1) != -EDQUOT)
		return 5;		/* the limit is not in force */
	if (stm_watch(s1, k, WAIT_M) != 0)
		return 6;
	if (stm_watch(s2, k, 1) != -EDQUOT)
		return 7;		/* the charge is below zero */
	if (stm_watch(s1, k, 0) != 0 || stm_watch(s2, k, 1) != 0)
		return 8;
	stm_close(s2);
	stm_close(s1);
	return 0;
}

/* As SOAK_UID: hold HOLD_N watch entries until killed (the probe's control). */
#define HOLD_N	3
static int wait_holder(struct shm *sh, int idx)
{
	static const char *const k[HOLD_N] = { "hold-0", "hold-1", "hold-2" };
	struct stm_store *s;

	int i, ret = -EDQUOT;

	if (become_soak_uid() || stm_open(sh->name, STM_RDONLY, 0, &s))
		return 1;
	/*
	 * The killed workers' rings are torn down by a kernel worker after
	 * they die: until then their entries still count against the uid's
	 * max_waits_per_user, just lowered to WAIT_M.  Wait for that, bounded.
	 */
	for (i = 0; i < 6000 && ret == -EDQUOT; i++) {
		ret = stm_watch(s, k, HOLD_N);
		if (ret == -EDQUOT)
			usleep(10000);
	}
	if (ret)
		return 1;
	sh->holder_ready = 1;
	for (;;)
		pause();
}

static int run_as(struct shm *sh, int (*fn)(struct shm *, int), int idx)
{
	pid_t pid = spawn(sh, fn, idx);
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

struct keywalk {
	struct stm_store *s;
	int n, busy, other;
	char busy_key[64];
};

static int lock_probe(const struct stm_key_info *ki, void *arg)
{
	struct keywalk *kw = arg;
	int ret = stm_fetch_add_n(kw->s, ki->key, ki->key_len, 0, NULL);

	kw->n++;
	if (ret == -STM_EBUSY && !kw->busy++)
		snprintf(kw->busy_key, sizeof(kw->busy_key), "%.*s",
			 (int)ki->key_len, (const char *)ki->key);
	else if (ret && ret != -STM_EBUSY)
		kw->other = ret;
	return 0;
}

static int add_zero_all(struct stm_txn *tx, void *arg)
{
	int i, ret = 0;

	for (i = 0; i < 2 * NACC && !ret; i++)
		ret = stm_add_i64(tx, allkeys[i], 0);
	for (i = 0; i < NIDLE && !ret; i++)
		ret = stm_add_i64(tx, idle_key[i], 0);
	return ret;
}

static long long env_ll(const char *name, long long def)
{
	const char *e = getenv(name);

	return e && *e ? strtoll(e, NULL, 0) : def;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

FIXTURE(soak) {
	struct shm *sh;
};

FIXTURE_SETUP(soak)
{
	self->sh = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	memset(self->sh, 0, sizeof(struct shm));
	snprintf(self->sh->name, sizeof(self->sh->name), "soak-%d", (int)getpid());
	keys_init();
}

FIXTURE_TEARDOWN(soak)
{
	if (self->sh && self->sh != MAP_FAILED) {
		stm_unlink(self->sh->name);
		munmap(self->sh, sizeof(struct shm));
	}
}

/* Hours of budget: the kill count decides the length, not a clock. */
TEST_F_TIMEOUT(soak, sigkill, 7200)
{
	struct shm *sh = self->sh;
	long long kills_want = env_ll("STM_SOAK_KILLS", 100);
	uint64_t seed = (uint64_t)env_ll("STM_SOAK_SEED", now_us());
	long long kills = 0, early = 0, spawned = 0, commits = 0, busy = 0;
	long long conflicts = 0, waits = 0, audits = 0, t0 = now_us();
	pid_t auditors[NAUDITORS], holder;
	long long old_wpu = 0, settle_ms = 0;
	struct stm_store *s;
	struct stm_ring *r;
	struct stm_stats st;
	struct stm_info info;
	struct keywalk kw = { 0 };
	struct stm_txn_opts nb = { .flags = STM_TXN_NONBLOCK };
	int64_t v[2 * NACC];
	struct stm_coll *c;
	int i, status, ret, invariants = 0;

	if (geteuid() != 0)
		SKIP(return, "needs root (switches uids, writes module parameters)");
	ASSERT_EQ(0, stm_open("soak-probe", STM_CREAT, 0600, &s));
	ret = stm_ring_open(s, 4, 0, &r);
	if (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
		stm_close(s);
		stm_unlink("soak-probe");
		SKIP(return, "io_uring unavailable: %s", stm_strerror(ret));
	}
	ASSERT_EQ(0, ret);
	stm_ring_close(r);
	stm_close(s);
	ASSERT_EQ(0, stm_unlink("soak-probe"));
	ASSERT_LT(0, kills_want);
	TH_LOG("seed %" PRIu64 " (STM_SOAK_SEED), %lld kills (STM_SOAK_KILLS)",
	       seed, kills_want);
	ASSERT_EQ(0, run_as(sh, setup_store, 0)) TH_LOG("%s", sh->why);

	for (i = 0; i < NAUDITORS; i++) {
		auditors[i] = spawn(sh, auditor, i);
		ASSERT_LT(0, auditors[i]);
	}
	for (i = 0; i < NWORKERS; i++) {
		sh->w[i].pid = spawn(sh, worker, i);
		ASSERT_LT(0, sh->w[i].pid);
		spawned++;
	}

	while (kills < kills_want && !sh->failed) {
		int idx = rnd(&seed) % NWORKERS;
		struct slot *sl = &sh->w[idx];
		long long deadline = now_us() + 120 * 1000000LL;

		/* 7 in 8 kills wait until the worker runs; the rest land anywhere */
		if (rnd(&seed) % 8) {
			while (!sl->ready && !sh->failed && now_us() < deadline)
				usleep(200);
			if (!sl->ready && !sh->failed)
				fail(sh, "worker %d (%s) not running after 120 s",
				     idx, kind_name[idx]);
		} else {
			early++;
		}
		usleep(rnd(&seed) % 20000);
		ASSERT_EQ(0, kill(sl->pid, SIGKILL));
		ASSERT_EQ(sl->pid, waitpid(sl->pid, &status, 0));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			fail(sh, "worker %d (%s) ended with status 0x%x before the kill",
			     idx, kind_name[idx], status);
			break;
		}
		kills++;
		sl->ready = 0;
		sl->gen++;
		sl->pid = spawn(sh, worker, idx);
		ASSERT_LT(0, sl->pid);
		spawned++;
	}

	/* stop: workers exit on their own with whatever is pending */
	sh->stop = 1;
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_EQ(sh->w[i].pid, waitpid(sh->w[i].pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("worker %d: status 0x%x", i, status);
	}
	for (i = 0; i < NAUDITORS; i++) {
		ASSERT_EQ(auditors[i], waitpid(auditors[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("auditor %d: status 0x%x", i, status);
	}
	ASSERT_EQ(0, sh->failed) TH_LOG("%s", sh->why);
	ASSERT_EQ(kills_want, kills);

	for (i = 0; i < NWORKERS; i++) {
		commits += sh->w[i].commits;
		busy += sh->w[i].busy;
		conflicts += sh->w[i].conflicts;
		waits += sh->w[i].wait_done;
	}
	for (i = 0; i < NAUDITORS; i++) {
		audits += sh->audits[i];
		/* every auditor checked at least one snapshot */
		EXPECT_LT(0, sh->audits[i]);
	}
	EXPECT_LT(0, commits);

	/* 1. no commit is partial: the final snapshot */
	ASSERT_EQ(0, stm_open(sh->name, STM_NONBLOCK, 0, &s));
	ASSERT_EQ(0, stm_using(s, allkeys, 2 * NACC, &c));
	ret = coll_values(sh, "final", c, v);
	for (i = 0; !ret && i < 2 * NACC; i++) {
		/* each key's version is within the store's clock */
		ASSERT_EQ(0, stm_info(s, &info));
		EXPECT_LE(stm_value_version(stm_coll_at(c, i)), info.clock);
	}
	stm_coll_free(c);
	ASSERT_EQ(0, ret) TH_LOG("%s", sh->why);
	ASSERT_EQ(0, check_snapshot(sh, "final snapshot", v)) TH_LOG("%s", sh->why);
	invariants += 2;

	/* 2. the counters: at least every commit a worker saw succeed */
	ASSERT_EQ(0, stm_stats(s, &st));
	EXPECT_LE(commits + sh->init_commits, (long long)st.commits);
	EXPECT_EQ(2 * NACC, (long long)st.keys);	/* idle keys never written */
	invariants++;

	/* 3. nothing is locked: each key alone, then all in one commit */
	kw.s = s;
	ASSERT_LE(0, stm_keys(s, lock_probe, &kw));
	EXPECT_EQ(2 * NACC, kw.n);
	EXPECT_EQ(0, kw.busy) TH_LOG("%d keys busy, e.g. %s", kw.busy, kw.busy_key);
	EXPECT_EQ(0, kw.other) TH_LOG("%s", stm_strerror(kw.other));
	EXPECT_EQ(0, stm_atomic(s, add_zero_all, NULL, &nb));
	invariants++;

	/* 4. no waiter is left queued: the uid's wait charge is exactly 0 */
	ASSERT_EQ(0, param_get("max_waits_per_user", &old_wpu));
	ASSERT_EQ(0, param_set("max_waits_per_user", WAIT_M));
	/* the probe's control: a live process holding HOLD_N entries is seen */
	holder = spawn(sh, wait_holder, 0);
	ASSERT_LT(0, holder);
	while (!sh->holder_ready && waitpid(holder, &status, WNOHANG) == 0)
		usleep(1000);
	EXPECT_EQ(1, sh->holder_ready);
	EXPECT_EQ(10 + HOLD_N, run_as(sh, wait_charge_probe, 0));
	kill(holder, SIGKILL);
	ASSERT_EQ(holder, waitpid(holder, &status, 0));
	/*
	 * A dead process's ring is torn down by a kernel worker after it is
	 * reaped, and without io_uring command cancelation an async WAIT ends
	 * within a second: allow the teardown to finish (a bound on liveness,
	 * not a timing assertion).
	 */
	for (;;) {
		ret = run_as(sh, wait_charge_probe, 0);
		if (ret < 10 || ret > 10 + WAIT_M || settle_ms >= 30000)
			break;
		usleep(100 * 1000);
		settle_ms += 100;
	}
	EXPECT_EQ(0, param_set("max_waits_per_user", old_wpu));
	EXPECT_EQ(0, ret) TH_LOG("wait charge probe: %d%s", ret,
				 ret > 10 ? " (entries still charged: 10 + n)" : "");
	invariants++;

	stm_close(s);
	ASSERT_EQ(0, stm_unlink(sh->name));

	printf("# soak: %lld kills delivered (%lld before the worker ran), "
	       "%lld workers spawned, %.1f s\n", kills, early, spawned,
	       (now_us() - t0) / 1e6);
	printf("# soak: %lld commits observed (store: %llu commits, %llu busy, "
	       "%llu conflicts, %llu waits slept, %llu wakeups); "
	       "%lld EBUSY retried, %lld conflicts redone, %lld WAITs completed\n",
	       commits, (unsigned long long)st.commits, (unsigned long long)st.busy,
	       (unsigned long long)st.conflicts, (unsigned long long)st.waits,
	       (unsigned long long)st.wakeups, busy, conflicts, waits);
	for (i = 0; i < NWORKERS; i++)
		printf("# soak:   %-40s %6d spawns %8lld commits %6lld busy\n",
		       kind_name[i], sh->w[i].gen + 1, sh->w[i].commits,
		       sh->w[i].busy);
	printf("# soak: %lld audits (ioctl %lld, ring %lld), each: total %" PRId64
	       " and %d acct/shadow pairs\n", audits, sh->audits[0], sh->audits[1],
	       TOTAL, NACC);
	printf("# soak: invariants after: total conserved, accounts consistent, "
	       "counters >= commits seen, %d keys committed non-blocking, "
	       "wait charge 0 (settled after %lld ms): %d groups checked\n",
	       kw.n, settle_ms, invariants);
}

TEST_HARNESS_MAIN
