// SPDX-License-Identifier: MIT
/*
 * txn.c - transactions: stm_atomic() and what a transaction function does
 * inside it (reads at one snapshot, private writes, commute, blocking
 * retry, orElse, closed nesting, hooks).
 *
 * An attempt is one run of the function.  Its first read fixes the read
 * clock (the snapshot); every later read asks the backend for the value at
 * that clock and fails with -ESTALE if the key changed since, which dooms
 * the attempt: the function never computes on an inconsistent state.
 * Writes stay in the transaction's entry table until the commit, which
 * sends the read set (versions) and the write set in one request.
 *
 * Closed nesting and orElse use savepoints: while one is open, the first
 * change of an entry's write state at that level saves the old state in an
 * undo log; rolling back pops the log and the hooks registered since.
 * Reads are never rolled back: what a rolled-back block read still decided
 * what the transaction did, so it stays validated (and waited on).
 *
 * A transaction belongs to the thread running stm_atomic(); the thread's
 * running transactions are in a thread-local list, which is how a nested
 * stm_atomic() on the same store finds the one to join.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define RD_MIN_CAP	256	/* first guess of a value's size */
#define INDEX_MIN	16	/* entries before a hash index is kept */
#define STACK_OPS	16
#define BUSY_MAX_MS	1000	/* busy resends of a commit with no timeout */
#define COMMUTE_ROUNDS	64	/* resends of a commit whose commuted key moved */

enum { TXW_NONE, TXW_PUT, TXW_DEL, TXW_ADD, TXW_COMMUTE };

/* A TXW_COMMUTE entry's functions, in its wbuf (wlen bytes), in order. */
struct tx_cfn {
	stm_modify_fn fn;
	void *arg;
};
enum { HK_BEFORE, HK_AFTER, HK_ABORT, HK_N };

/* One key the transaction touched. */
struct tx_ent {
	uint8_t  *key;		/* klen bytes + NUL */
	uint32_t  klen;
	uint32_t  hash;
	bool      rd;		/* read at tx->rv: rpresent, rver, rbuf valid */
	bool      rpresent;
	uint8_t   w;		/* TXW_*: the pending write */
	uint32_t  logged;	/* savepoint serial the write state was saved at */
	uint64_t  rver;		/* version read (0: absent) */
	uint8_t  *rbuf;		/* value read */
	uint32_t  rlen;
	uint8_t  *wbuf;		/* TXW_PUT data; TXW_COMMUTE: struct tx_cfn[] */
	uint32_t  wlen;
	uint32_t  wcap;
	int64_t   delta;	/* TXW_ADD */
	uint8_t   le[8];	/* TXW_ADD, encoded for the commit */
};

/* An entry's write state before a change made under a savepoint. */
struct tx_undo {
	uint32_t ent;
	uint8_t  w;
	uint32_t logged;
	uint8_t *wbuf;		/* owned by the record */
	uint32_t wlen;
	uint32_t wcap;
	int64_t  delta;
};

struct tx_hook {
	void (*cb)(void *);
	void *arg;
};

/* What a blocking retry waits for. */
struct tx_wspec {
	bool      named;	/* stm_retry_keys(); else every key read */
	unsigned  flags;	/* STM_WAIT_* (named only) */
	uint32_t *ents;
	size_t    n;
};

struct tx_sp {
	size_t   nundo;
	size_t   nhooks[HK_N];
	uint32_t serial;	/* the enclosing level's */
};

/* A prefix the transaction read with stm_range(), and its range version. */
struct tx_range {
	uint8_t  *pfx;
	uint32_t  plen;
	uint64_t  version;
};

struct stm_txn {
	struct stm_store *s;
	struct stm_txn   *next;		/* the thread's other transactions */
	unsigned          flags;	/* STM_TXN_* */
	uint32_t          family;
	unsigned          attempt;
	bool              active;	/* operations allowed */
	bool              have_rv;
	uint64_t          rv;		/* the snapshot's commit clock */
	int               doomed;	/* -ESTALE once the snapshot is gone */
	struct tx_ent    *ents;
	size_t            n, cap;
	uint32_t         *index;	/* open addressing: entry + 1, 0 = free */
	size_t            index_cap;	/* a power of two, or 0 */
	struct tx_undo   *undo;
	size_t            nundo, undo_cap;
	unsigned          nsp;		/* savepoints open */
	uint32_t          serial;	/* current savepoint level's, 0: none */
	uint32_t          serial_next;
	struct tx_hook   *hooks[HK_N];
	size_t            nhooks[HK_N], hooks_cap[HK_N];
	struct tx_hook   *late;		/* on-abort hooks of rolled-back levels */
	size_t            nlate, late_cap;
	struct tx_wspec   retry;
	int64_t           wake_at;	/* ms: a blocking retry ends by then */
	struct tx_range  *ranges;	/* stm_range(): validated at commit */
	size_t            nranges, ranges_cap;
	/* STM_ESCALATE: the keys reserved, and whether this attempt runs
	 * under the reservation from its start until esc_until (ns) */
	struct tx_keyset *esc;
	bool              esc_live;
	uint64_t          esc_until;
	unsigned          esc_ms;
};

static void tx_esc_before_read(struct stm_txn *tx, const uint32_t *idx, size_t n);
static bool tx_esc_live(const struct stm_txn *tx);

static __thread struct stm_txn *tls_txns;

/* The key of the calling thread's last conflict, per stm_last_conflict(). */
static __thread struct {
	const struct stm_store *s;
	uint32_t len;
	uint8_t  key[STM_KEY_MAX];
} tls_conflict;

static const uint8_t empty_data[1];

/* ---- small helpers ------------------------------------------------------ */

static uint32_t key_hash(const void *key, size_t klen)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < klen; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_conflict(const struct stm_store *s, const void *key, size_t klen)
{
	tls_conflict.s = s;
	tls_conflict.len = klen;
	memcpy(tls_conflict.key, key, klen < STM_KEY_MAX ? klen : STM_KEY_MAX);
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t nc = *cap ? *cap : 8;
	void *np;

	if (need <= *cap)
		return p;
	while (nc < need)
		nc *= 2;
	np = realloc(p, nc * size);
	if (np)
		*cap = nc;
	return np;
}

/* ---- the entry table ----------------------------------------------------- */

static void index_put(struct stm_txn *tx, uint32_t i)
{
	size_t mask = tx->index_cap - 1, h = tx->ents[i].hash & mask;

	while (tx->index[h])
		h = (h + 1) & mask;
	tx->index[h] = i + 1;
}

static int index_rebuild(struct stm_txn *tx)
{
	size_t cap = 64;
	uint32_t *ix;

	while (cap < 4 * tx->cap)
		cap *= 2;
	ix = calloc(cap, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	free(tx->index);
	tx->index = ix;
	tx->index_cap = cap;
	for (size_t i = 0; i < tx->n; i++)
		index_put(tx, i);
	return 0;
}

static bool ent_is(const struct tx_ent *e, const void *key, size_t klen, uint32_t h)
{
	return e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0;
}

/*
 * The entry of @key: its index in *@out.  Returns 0, -ENOENT when absent
 * and !@create, -ENOMEM.  Indices stay valid for the attempt; pointers to
 * entries do not (the table grows).
 */
static int ent_find(struct stm_txn *tx, const void *key, size_t klen, bool create,
		    uint32_t *out)
{
	uint32_t h = key_hash(key, klen);
	struct tx_ent *e;

	if (tx->index) {
		size_t mask = tx->index_cap - 1;

		for (size_t p = h & mask; tx->index[p]; p = (p + 1) & mask) {
			if (ent_is(&tx->ents[tx->index[p] - 1], key, klen, h)) {
				*out = tx->index[p] - 1;
				return 0;
			}
		}
	} else {
		for (size_t i = 0; i < tx->n; i++) {
			if (ent_is(&tx->ents[i], key, klen, h)) {
				*out = i;
				return 0;
			}
		}
	}
	if (!create)
		return -ENOENT;
	if (tx->n == tx->cap) {
		size_t cap = tx->cap;
		void *p = grow(tx->ents, &cap, tx->n + 1, sizeof(*tx->ents));

		if (!p)
			return -ENOMEM;
		tx->ents = p;
		if (cap != tx->cap) {
			tx->cap = cap;
			if (tx->cap > INDEX_MIN && index_rebuild(tx))
				return -ENOMEM;
		}
	}
	e = &tx->ents[tx->n];
	memset(e, 0, sizeof(*e));
	e->key = malloc(klen + 1);
	if (!e->key)
		return -ENOMEM;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	e->klen = klen;
	e->hash = h;
	*out = tx->n++;
	if (tx->index)
		index_put(tx, *out);
	return 0;
}

/* Read the entries @idx[0..@n) not read yet, at the transaction's clock. */
static int tx_read(struct stm_txn *tx, const uint32_t *idx, size_t n)
{
	struct stm_store *s = tx->s;
	struct stm_rd stack[STACK_OPS], *rd = stack;
	uint32_t map_stack[STACK_OPS], *map = map_stack;
	size_t m = 0, chunk, max = s->lim.max_keys_per_call;
	int ret = 0;

	if (n > STACK_OPS) {
		rd = calloc(n, sizeof(*rd));
		map = calloc(n, sizeof(*map));
		if (!rd || !map) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		if (tx->ents[idx[i]].rd)
			continue;
		for (size_t j = 0; j < m && !dup; j++)
			dup = map[j] == idx[i];
		if (!dup)
			map[m++] = idx[i];
	}
	if (!max)
		max = m ? m : 1;
	if (tx->esc_live)
		tx_esc_before_read(tx, map, m);
	/* Read in calls of at most max_keys_per_call; all at one clock. */
	for (size_t base = 0; base < m; base += chunk) {
		uint64_t clock = tx->rv;
		uint32_t conflict = 0;

		chunk = m - base < max ? m - base : max;
		for (size_t i = 0; i < chunk; i++) {
			struct tx_ent *e = &tx->ents[map[base + i]];

			rd[i] = (struct stm_rd){ .key = e->key, .klen = e->klen,
						 .cap = RD_MIN_CAP };
		}
		for (size_t i = 0; i < chunk; i++) {
			rd[i].buf = malloc(rd[i].cap);
			if (!rd[i].buf) {
				ret = -ENOMEM;
				goto out_bufs;
			}
		}
		ret = stm_read_grow(s, rd, chunk, tx->have_rv ? STM_RD_AT : 0,
				    &clock, &conflict);
		/*
		 * Escalated, with every key this attempt read reserved before
		 * it was read, and the reservation still live: nothing read so
		 * far can have changed since, so the snapshot moves forward to
		 * now instead of failing (a snapshot extension).
		 */
		if (ret == -ESTALE && tx_esc_live(tx)) {
			clock = 0;
			ret = stm_read_grow(s, rd, chunk, 0, &clock, &conflict);
			if (!ret && tx_esc_live(tx))
				tx->rv = clock;
			else if (!ret)
				ret = -ESTALE;
		}
		if (ret == -ESTALE) {
			if (conflict < chunk)
				note_conflict(s, rd[conflict].key, rd[conflict].klen);
			tx->doomed = -ESTALE;
		}
		if (ret)
			goto out_bufs;
		if (!tx->have_rv) {
			tx->rv = clock;
			tx->have_rv = true;
		}
		for (size_t i = 0; i < chunk; i++) {
			struct tx_ent *e = &tx->ents[map[base + i]];

			e->rd = true;
			e->rpresent = rd[i].present;
			e->rver = rd[i].present ? rd[i].version : 0;
			e->rlen = rd[i].present ? rd[i].len : 0;
			e->rbuf = rd[i].buf;
			rd[i].buf = NULL;
		}
		continue;
out_bufs:
		for (size_t i = 0; i < chunk; i++)
			free(rd[i].buf);
		break;
	}
out_free:
	if (rd != stack)
		free(rd);
	if (map != map_stack)
		free(map);
	return ret;
}

/*
 * The entries the attempt's commit sends (tx_commit()): one per key read
 * or written, two for a key read and then added to blindly; the number of
 * keys written in *@nw.
 */
static size_t commit_size(const struct stm_txn *tx, size_t *nw)
{
	size_t need = 0;

	*nw = 0;
	for (size_t i = 0; i < tx->n; i++) {
		const struct tx_ent *e = &tx->ents[i];

		if (e->w != TXW_NONE)
			(*nw)++;
		need += (e->w != TXW_NONE) + (e->rd && (e->w == TXW_NONE || e->w == TXW_ADD));
	}
	return need + tx->nranges;	/* one STM_OP_RANGE entry each */
}

/*
 * Before a write of @key: -E2BIG if the commit would then need
 * more entries than one call takes (max_keys_per_call).  The write fails
 * at once, where the function can see it, not at the commit.
 */
static int commit_fits(struct stm_txn *tx, const void *key, size_t klen)
{
	size_t max = tx->s->lim.max_keys_per_call, need, nw;
	uint32_t i;

	/* At most two commit entries per key: count only when it matters. */
	if (!max || tx->n < max / 2)
		return 0;
	need = commit_size(tx, &nw);
	if (ent_find(tx, key, klen, false, &i) == -ENOENT ||
	    (!tx->ents[i].rd && tx->ents[i].w == TXW_NONE))
		need++;
	return need > max ? -E2BIG : 0;
}

/* ---- write state and savepoints ------------------------------------------ */

/* Save entry @i's write state for the open savepoint, once per level. */
static int tx_log(struct stm_txn *tx, uint32_t i)
{
	struct tx_ent *e = &tx->ents[i];
	struct tx_undo *u;

	if (!tx->nsp || e->logged == tx->serial)
		return 0;
	u = grow(tx->undo, &tx->undo_cap, tx->nundo + 1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	tx->undo = u;
	tx->undo[tx->nundo++] = (struct tx_undo){
		.ent = i, .w = e->w, .logged = e->logged, .wbuf = e->wbuf,
		.wlen = e->wlen, .wcap = e->wcap, .delta = e->delta,
	};
	e->wbuf = NULL;		/* moved into the record */
	e->wlen = 0;
	e->wcap = 0;
	e->logged = tx->serial;
	return 0;
}

static int set_put(struct stm_txn *tx, uint32_t i, const void *data, size_t len)
{
	struct tx_ent *e;
	int ret;

	ret = tx_log(tx, i);
	if (ret)
		return ret;
	e = &tx->ents[i];
	if (len > e->wcap) {
		void *nb = realloc(e->wbuf, len);

		if (!nb)
			return -ENOMEM;
		e->wbuf = nb;
		e->wcap = len;
	}
	if (len)
		memmove(e->wbuf, data, len);
	e->wlen = len;
	e->w = TXW_PUT;
	return 0;
}

static int set_put_i64(struct stm_txn *tx, uint32_t i, int64_t x)
{
	uint8_t b[8];

	stm_put_le64(b, x);
	return set_put(tx, i, b, sizeof(b));
}

static int set_state(struct stm_txn *tx, uint32_t i, uint8_t w, int64_t delta)
{
	int ret = tx_log(tx, i);

	if (ret)
		return ret;
	tx->ents[i].w = w;
	tx->ents[i].delta = delta;
	tx->ents[i].wlen = 0;
	return 0;
}

static void sp_open(struct stm_txn *tx, struct tx_sp *sp)
{
	sp->nundo = tx->nundo;
	for (int k = 0; k < HK_N; k++)
		sp->nhooks[k] = tx->nhooks[k];
	sp->serial = tx->serial;
	tx->serial = ++tx->serial_next;
	tx->nsp++;
}

static void undo_free(struct stm_txn *tx, size_t from)
{
	while (tx->nundo > from)
		free(tx->undo[--tx->nundo].wbuf);
}

/* Keep what the level did. */
static void sp_release(struct stm_txn *tx, struct tx_sp *sp)
{
	tx->serial = sp->serial;
	if (--tx->nsp == 0)
		undo_free(tx, 0);	/* nothing can roll back to them now */
}

static void run_hooks(struct stm_txn *tx, int kind, size_t from)
{
	/*
	 * Index, not pointer: a hook may register more.  A before-commit
	 * hook that dooms the transaction ends the run: the attempt is over.
	 */
	for (size_t i = from; i < tx->nhooks[kind]; i++) {
		if (kind == HK_BEFORE && tx->doomed)
			break;
		tx->hooks[kind][i].cb(tx->hooks[kind][i].arg);
	}
}

/* The deferred on-abort hooks of rolled-back levels; no transaction live. */
static void run_late(struct stm_txn *tx)
{
	for (size_t i = 0; i < tx->nlate; i++)
		tx->late[i].cb(tx->late[i].arg);
	tx->nlate = 0;
}

/*
 * Undo what the level did: writes, then its hooks.  Its on-abort hooks run
 * once the attempt is over (run_late()), with no transaction live: run now,
 * a hook's stm_put() or nested stm_atomic() would join the transaction
 * whose level it reports as undone, and survive into its commit.
 */
static void sp_rollback(struct stm_txn *tx, struct tx_sp *sp)
{
	while (tx->nundo > sp->nundo) {
		struct tx_undo *u = &tx->undo[--tx->nundo];
		struct tx_ent *e = &tx->ents[u->ent];

		free(e->wbuf);
		e->w = u->w;
		e->logged = u->logged;
		e->wbuf = u->wbuf;
		e->wlen = u->wlen;
		e->wcap = u->wcap;
		e->delta = u->delta;
	}
	for (size_t i = sp->nhooks[HK_ABORT]; i < tx->nhooks[HK_ABORT]; i++) {
		struct tx_hook *late = grow(tx->late, &tx->late_cap, tx->nlate + 1,
					    sizeof(*late));

		if (!late) {
			/* Out of memory: run it now rather than lose it. */
			tx->hooks[HK_ABORT][i].cb(tx->hooks[HK_ABORT][i].arg);
			continue;
		}
		tx->late = late;
		tx->late[tx->nlate++] = tx->hooks[HK_ABORT][i];
	}
	for (int k = 0; k < HK_N; k++)
		if (tx->nhooks[k] > sp->nhooks[k])
			tx->nhooks[k] = sp->nhooks[k];
	tx->serial = sp->serial;
	tx->nsp--;
}

/* ---- operations ----------------------------------------------------------- */

static int tx_check(struct stm_txn *tx)
{
	if (!tx || !tx->active)
		return -EINVAL;
	return tx->doomed;
}

static int tx_writable(struct stm_txn *tx)
{
	int ret = tx_check(tx);

	if (ret)
		return ret;
	if ((tx->s->flags & STM_RDONLY) || (tx->flags & STM_RDONLY))
		return -EBADF;
	return 0;
}

/* Fold a pending addition into a write of the value read plus the delta. */
static int fold_add(struct stm_txn *tx, uint32_t i)
{
	struct tx_ent *e;
	int64_t base = 0;
	int ret;

	ret = tx_read(tx, &i, 1);
	if (ret)
		return ret;
	e = &tx->ents[i];
	if (e->rpresent) {
		if (e->rlen != 8)
			return -EINVAL;
		base = stm_get_le64(e->rbuf);
	}
	return set_put_i64(tx, i, (int64_t)((uint64_t)base + (uint64_t)e->delta));
}

/*
 * Apply @n commute functions to the value @d/@len (@d NULL: absent): the
 * result in *@out (malloc'ed; NULL: absent) and *@olen.
 */
static int apply_cfns(const struct tx_cfn *f, size_t n, const void *d, size_t len,
		      uint8_t **out, size_t *olen)
{
	uint8_t *cur = NULL;
	bool present = d != NULL;
	int ret;

	if (present) {
		cur = malloc(len ? len : 1);
		if (!cur)
			return -ENOMEM;
		memcpy(cur, d, len);
	}
	for (size_t i = 0; i < n; i++) {
		const void *nd = NULL;
		size_t nlen = 0;
		uint8_t *nb;

		ret = f[i].fn(present ? cur : NULL, present ? len : 0, &nd, &nlen, f[i].arg);
		if (ret < 0)
			goto out_free;
		if (ret > 0)
			continue;
		nb = NULL;
		if (nd) {
			nb = malloc(nlen ? nlen : 1);
			ret = -ENOMEM;
			if (!nb)
				goto out_free;
			memcpy(nb, nd, nlen);
		}
		free(cur);
		cur = nb;
		len = nd ? nlen : 0;
		present = nd != NULL;
	}
	*out = cur;
	*olen = len;
	return 0;

out_free:
	free(cur);
	return ret;
}

/* A pending commute read in the transaction: applied to the value read. */
static int fold_commute(struct stm_txn *tx, uint32_t i)
{
	struct tx_ent *e = &tx->ents[i];
	size_t n = e->wlen / sizeof(struct tx_cfn);
	struct tx_cfn *f;
	uint8_t *v = NULL;
	size_t vlen = 0;
	int ret;

	f = malloc(e->wlen ? e->wlen : 1);
	if (!f)
		return -ENOMEM;
	memcpy(f, e->wbuf, e->wlen);
	ret = tx_read(tx, &i, 1);
	if (ret)
		goto out_free;
	e = &tx->ents[i];
	ret = apply_cfns(f, n, e->rpresent ? (e->rbuf ? e->rbuf : empty_data) : NULL,
			 e->rlen, &v, &vlen);
	if (ret)
		goto out_free;
	if (!v)
		ret = set_state(tx, i, TXW_DEL, 0);
	else
		ret = set_put(tx, i, v, vlen);
	free(v);
out_free:
	free(f);
	return ret;
}

int stm_get_n(struct stm_txn *tx, const void *key, size_t klen,
	      const void **data, size_t *len)
{
	struct tx_ent *e;
	uint32_t i;
	int ret;

	ret = tx_check(tx);
	if (ret)
		return ret;
	if (!data)
		return -EINVAL;
	ret = stm_check_key(tx->s, key, klen);
	if (ret)
		return ret;
	ret = ent_find(tx, key, klen, true, &i);
	if (ret)
		return ret;
	if (tx->ents[i].w == TXW_ADD) {
		ret = fold_add(tx, i);
		if (ret)
			return ret;
	} else if (tx->ents[i].w == TXW_COMMUTE) {
		ret = fold_commute(tx, i);
		if (ret)
			return ret;
	} else if (tx->ents[i].w == TXW_NONE) {
		ret = tx_read(tx, &i, 1);
		if (ret)
			return ret;
	}
	e = &tx->ents[i];
	if (e->w == TXW_DEL || (e->w == TXW_NONE && !e->rpresent)) {
		*data = NULL;
		if (len)
			*len = 0;
		return -ENOENT;
	}
	if (e->w == TXW_PUT) {
		*data = e->wbuf ? e->wbuf : empty_data;
		if (len)
			*len = e->wlen;
	} else {
		*data = e->rbuf ? e->rbuf : empty_data;
		if (len)
			*len = e->rlen;
	}
	return 0;
}

/* ---- range reads (range.c) ------------------------------------------------ */

/* Note that the commit must validate @pfx's range at @version. */
static int tx_range_note(struct stm_txn *tx, const void *pfx, size_t plen,
			 uint64_t version)
{
	struct tx_range *r;

	for (size_t i = 0; i < tx->nranges; i++)
		if (tx->ranges[i].plen == plen && !memcmp(tx->ranges[i].pfx, pfx, plen))
			return 0;	/* read at the same clock: same version */
	r = grow(tx->ranges, &tx->ranges_cap, tx->nranges + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	tx->ranges = r;
	r = &tx->ranges[tx->nranges];
	r->pfx = malloc(plen ? plen : 1);
	if (!r->pfx)
		return -ENOMEM;
	memcpy(r->pfx, pfx, plen);
	r->plen = (uint32_t)plen;
	r->version = version;
	tx->nranges++;
	return 0;
}

/* Is key @key under @pfx? */
static bool under(const void *key, size_t klen, const void *pfx, size_t plen)
{
	return klen >= plen && !memcmp(key, pfx, plen);
}

int stm_range(struct stm_txn *tx, const void *prefix, size_t plen,
	      int (*cb)(struct stm_txn *tx, const void *key, size_t klen, void *arg),
	      void *arg)
{
	struct stm_rkeys k;
	uint64_t clock = tx ? tx->rv : 0, version = 0;
	size_t cap, nstore;
	uint32_t i;
	int ret;

	ret = tx_check(tx);
	if (ret)
		return ret;
	if (!cb)
		return -EINVAL;
	ret = stm_range_fetch(tx->s, prefix, plen, tx->have_rv ? STM_RD_AT : 0,
			      &clock, &version, &k);
	if (ret == -ESTALE)
		tx->doomed = -ESTALE;	/* changed since the snapshot */
	if (ret)
		return ret;
	cap = k.n;
	if (!tx->have_rv) {
		tx->rv = clock;
		tx->have_rv = true;
	}
	ret = tx_range_note(tx, prefix, plen, version);
	if (ret)
		goto out_free;
	/* The transaction's own writes: its deletes out, its creations in. */
	nstore = k.n;
	for (size_t j = 0; j < nstore; j++) {
		if (ent_find(tx, k.ki[j].key, k.ki[j].key_len, false, &i) ||
		    tx->ents[i].w != TXW_DEL)
			continue;
		k.ki[j].key_len = 0;	/* deleted here: skipped below */
	}
	for (size_t j = 0; j < tx->n; j++) {
		const struct tx_ent *e = &tx->ents[j];
		bool seen = false;

		if (e->w == TXW_NONE || e->w == TXW_DEL ||
		    !under(e->key, e->klen, prefix, plen))
			continue;
		for (size_t m = 0; m < nstore && !seen; m++)
			seen = k.ki[m].key_len == e->klen &&
			       !memcmp(k.ki[m].key, e->key, e->klen);
		if (!seen) {
			ret = stm_range_keys_add(&k, &cap, e->key, e->klen, 0);
			if (ret)
				goto out_free;
		}
	}
	stm_range_keys_sort(&k);
	for (size_t j = 0; j < k.n && !ret; j++)
		if (k.ki[j].key_len)
			ret = cb(tx, k.ki[j].key, k.ki[j].key_len, arg);
out_free:
	stm_range_keys_free(&k);
	return ret;
}

int stm_get(struct stm_txn *tx, const char *key, const void **data, size_t *len)
{
	if (!key)
		return -EINVAL;
	return stm_get_n(tx, key, stm_key_len(key), data, len);
}

int stm_get_i64(struct stm_txn *tx, const char *key, int64_t *out)
{
	const void *d;
	size_t len;
	int ret;

	if (!out)
		return -EINVAL;
	ret = stm_get(tx, key, &d, &len);
	if (ret == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (ret)
		return ret;
	if (len != 8)
		return -EINVAL;
	*out = stm_get_le64(d);
	return 0;
}

int stm_put_n(struct stm_txn *tx, const void *key, size_t klen,
	      const void *data, size_t len)
{
	uint32_t i;
	int ret;

	ret = tx_writable(tx);
	if (ret)
		return ret;
	if (!data && len)
		return -EINVAL;
	ret = stm_check_key(tx->s, key, klen);
	if (ret)
		return ret;
	if (len > UINT32_MAX ||
	    (tx->s->lim.max_value_size && len > tx->s->lim.max_value_size))
		return -E2BIG;
	ret = commit_fits(tx, key, klen);
	if (ret)
		return ret;
	ret = ent_find(tx, key, klen, true, &i);
	if (ret)
		return ret;
	return set_put(tx, i, data, len);
}

int stm_put(struct stm_txn *tx, const char *key, const void *data, size_t len)
{
	if (!key)
		return -EINVAL;
	return stm_put_n(tx, key, stm_key_len(key), data, len);
}

int stm_put_i64(struct stm_txn *tx, const char *key, int64_t x)
{
	uint8_t b[8];

	stm_put_le64(b, x);
	return stm_put(tx, key, b, sizeof(b));
}

int stm_del_n(struct stm_txn *tx, const void *key, size_t klen)
{
	uint32_t i;
	int ret;

	ret = tx_writable(tx);
	if (ret)
		return ret;
	ret = stm_check_key(tx->s, key, klen);
	if (ret)
		return ret;
	ret = commit_fits(tx, key, klen);
	if (ret)
		return ret;
	ret = ent_find(tx, key, klen, true, &i);
	if (ret)
		return ret;
	return set_state(tx, i, TXW_DEL, 0);
}

int stm_del(struct stm_txn *tx, const char *key)
{
	if (!key)
		return -EINVAL;
	return stm_del_n(tx, key, stm_key_len(key));
}

int stm_add_i64_n(struct stm_txn *tx, const void *key, size_t klen, int64_t delta)
{
	struct tx_ent *e;
	uint64_t base;
	uint32_t i;
	int ret;

	ret = tx_writable(tx);
	if (ret)
		return ret;
	ret = stm_check_key(tx->s, key, klen);
	if (ret)
		return ret;
	ret = commit_fits(tx, key, klen);
	if (ret)
		return ret;
	ret = ent_find(tx, key, klen, true, &i);
	if (ret)
		return ret;
	if (tx->ents[i].w == TXW_COMMUTE) {
		ret = fold_commute(tx, i);
		if (ret)
			return ret;
	}
	e = &tx->ents[i];
	switch (e->w) {
	case TXW_PUT:
		if (e->wlen != 8)
			return -EINVAL;
		base = (uint64_t)stm_get_le64(e->wbuf);
		break;
	case TXW_DEL:
		base = 0;
		break;
	case TXW_ADD:
		/* Still a blind addition: it commutes. */
		return set_state(tx, i, TXW_ADD,
				 (int64_t)((uint64_t)e->delta + (uint64_t)delta));
	default:
		if (!e->rd)	/* neither read nor written: commute */
			return set_state(tx, i, TXW_ADD, delta);
		base = 0;
		if (e->rpresent) {
			if (e->rlen != 8)
				return -EINVAL;
			base = (uint64_t)stm_get_le64(e->rbuf);
		}
		break;
	}
	return set_put_i64(tx, i, (int64_t)(base + (uint64_t)delta));
}

int stm_add_i64(struct stm_txn *tx, const char *key, int64_t delta)
{
	if (!key)
		return -EINVAL;
	return stm_add_i64_n(tx, key, stm_key_len(key), delta);
}

int stm_modify(struct stm_txn *tx, const char *key, stm_modify_fn fn, void *arg)
{
	const void *old, *nd = NULL;
	size_t olen = 0, nlen = 0;
	int ret;

	if (!fn)
		return -EINVAL;
	ret = stm_get(tx, key, &old, &olen);
	if (ret == -ENOENT)
		old = NULL;
	else if (ret)
		return ret;
	ret = fn(old, olen, &nd, &nlen, arg);
	if (ret)
		return ret > 0 ? 0 : ret;
	if (!nd)
		return stm_del(tx, key);
	return stm_put(tx, key, nd, nlen);
}

int stm_modify_i64(struct stm_txn *tx, const char *key,
		   int64_t (*fn)(int64_t old, void *arg), void *arg, int64_t *result)
{
	int64_t x;
	int ret;

	if (!fn)
		return -EINVAL;
	ret = stm_get_i64(tx, key, &x);
	if (ret)
		return ret;
	x = fn(x, arg);
	ret = stm_put_i64(tx, key, x);
	if (!ret && result)
		*result = x;
	return ret;
}

int stm_commute(struct stm_txn *tx, const char *key, stm_modify_fn fn, void *arg)
{
	size_t klen, old;
	struct tx_ent *e;
	uint8_t *nb;
	uint32_t i;
	int ret;

	ret = tx_writable(tx);
	if (ret)
		return ret;
	if (!key || !fn)
		return -EINVAL;
	klen = stm_key_len(key);
	ret = stm_check_key(tx->s, key, klen);
	if (ret)
		return ret;
	ret = commit_fits(tx, key, klen);
	if (ret)
		return ret;
	ret = ent_find(tx, key, klen, true, &i);
	if (ret)
		return ret;
	e = &tx->ents[i];
	/* Read or written already: the value is known, apply it now. */
	if (e->rd || (e->w != TXW_NONE && e->w != TXW_COMMUTE))
		return stm_modify(tx, key, fn, arg);
	old = e->w == TXW_COMMUTE ? e->wlen : 0;
	nb = malloc(old + sizeof(struct tx_cfn));
	if (!nb)
		return -ENOMEM;
	if (old)
		memcpy(nb, e->wbuf, old);
	memcpy(nb + old, &(struct tx_cfn){ fn, arg }, sizeof(struct tx_cfn));
	ret = tx_log(tx, i);
	if (ret) {
		free(nb);
		return ret;
	}
	e = &tx->ents[i];
	free(e->wbuf);		/* NULL when the undo log took it */
	e->wbuf = nb;
	e->wlen = old + sizeof(struct tx_cfn);
	e->wcap = e->wlen;
	e->w = TXW_COMMUTE;
	return 0;
}

int stm_retry_keys(struct stm_txn *tx, const char *const *keys, size_t n,
		   unsigned flags)
{
	uint32_t *ents;
	int ret;

	ret = tx_check(tx);
	if (ret)
		return ret;
	if (!keys || !n || (flags & ~STM_WAIT_ALL))
		return -EINVAL;
	ents = calloc(n, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t klen;

		if (!keys[i]) {
			ret = -EINVAL;
			goto out_free;
		}
		klen = stm_key_len(keys[i]);
		ret = stm_check_key(tx->s, keys[i], klen);
		if (ret)
			goto out_free;
		ret = ent_find(tx, keys[i], klen, true, &ents[i]);
		if (ret)
			goto out_free;
	}
	ret = tx_read(tx, ents, n);
	if (ret)
		goto out_free;
	free(tx->retry.ents);
	tx->retry = (struct tx_wspec){ .named = true, .flags = flags, .ents = ents, .n = n };
	return STM_RETRY;

out_free:
	free(ents);
	return ret;
}

static int add_hook(struct stm_txn *tx, int kind, void (*cb)(void *), void *arg)
{
	struct tx_hook *h;

	if (!tx || !tx->active || !cb)
		return -EINVAL;
	h = grow(tx->hooks[kind], &tx->hooks_cap[kind], tx->nhooks[kind] + 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	tx->hooks[kind] = h;
	h[tx->nhooks[kind]++] = (struct tx_hook){ cb, arg };
	return 0;
}

int stm_before_commit(struct stm_txn *tx, void (*cb)(void *), void *arg)
{
	return add_hook(tx, HK_BEFORE, cb, arg);
}

int stm_after_commit(struct stm_txn *tx, void (*cb)(void *), void *arg)
{
	return add_hook(tx, HK_AFTER, cb, arg);
}

int stm_on_abort(struct stm_txn *tx, void (*cb)(void *), void *arg)
{
	return add_hook(tx, HK_ABORT, cb, arg);
}

int stm_retry(struct stm_txn *tx)
{
	int ret = tx_check(tx);

	return ret ? ret : STM_RETRY;
}

static int run_level(struct stm_txn *tx, int (*fn)(struct stm_txn *, void *),
		     void *arg, struct tx_wspec *spec);

int64_t stm_deadline_ms(unsigned int ms)
{
	return now_ms() + ms;
}

int stm_retry_deadline(struct stm_txn *tx, int64_t deadline_ms)
{
	int ret = tx_check(tx);

	if (ret)
		return ret;
	if (deadline_ms <= 0)
		return -EINVAL;
	if (now_ms() >= deadline_ms)
		return -ETIMEDOUT;
	if (!tx->wake_at || deadline_ms < tx->wake_at)
		tx->wake_at = deadline_ms;
	return STM_RETRY;
}

int stm_retry_until(struct stm_txn *tx, int (*pred)(struct stm_txn *, void *),
		    void *arg)
{
	int r = tx_check(tx);

	if (r)
		return r;
	if (!pred)
		return -EINVAL;
	/* A level of its own: its reads join the transaction's (and the
	 * wait set), anything it writes is rolled back when it fails. */
	r = run_level(tx, pred, arg, NULL);
	if (r < 0)
		return r == STM_RETRY ? stm_retry(tx) : r;
	return r > 0 ? 0 : stm_retry(tx);
}

struct stm_store *stm_txn_store(const struct stm_txn *tx)
{
	return tx->s;
}

unsigned stm_txn_attempt(const struct stm_txn *tx)
{
	return tx ? tx->attempt : 0;
}

/* ---- orElse and nesting --------------------------------------------------- */

static void wspec_free(struct tx_wspec *w)
{
	free(w->ents);
	memset(w, 0, sizeof(*w));
}

/*
 * Run one level (a nested block, or an alternative of orElse) under a
 * savepoint; roll it back unless it succeeded.  The level's blocking-retry
 * keys (stm_retry_keys()) are its own: they go to @spec when the caller
 * wants them (orElse), else they are dropped, and the enclosing level's
 * are as before.  A level that then retries without naming keys waits on
 * every key read, the inner block's included, so no change is missed.
 */
static int run_level(struct stm_txn *tx, int (*fn)(struct stm_txn *, void *), void *arg,
		     struct tx_wspec *spec)
{
	struct tx_wspec outer = tx->retry;
	struct tx_sp sp;
	int r;

	memset(&tx->retry, 0, sizeof(tx->retry));
	sp_open(tx, &sp);
	r = fn(tx, arg);
	if (tx->doomed) {
		/* The attempt is over: the top level throws everything away. */
		sp_release(tx, &sp);
		r = tx->doomed;
	} else if (r < 0) {
		sp_rollback(tx, &sp);
	} else {
		sp_release(tx, &sp);
	}
	if (spec)
		*spec = tx->retry;
	else
		wspec_free(&tx->retry);
	tx->retry = outer;
	return r;
}

/* @a ∪ @b, into @a: every key read if either waited on that. */
static int wspec_union(struct tx_wspec *a, struct tx_wspec *b)
{
	uint32_t *ents;

	if (!a->named || !b->named) {
		wspec_free(a);
		wspec_free(b);
		return 0;
	}
	ents = realloc(a->ents, (a->n + b->n) * sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	memcpy(ents + a->n, b->ents, b->n * sizeof(*ents));
	a->ents = ents;
	a->n += b->n;
	a->flags = STM_WAIT_ANY;
	wspec_free(b);
	return 0;
}

int stm_or_else(struct stm_txn *tx, int (*a)(struct stm_txn *, void *), void *aa,
		int (*b)(struct stm_txn *, void *), void *ba)
{
	struct tx_wspec wa, wb;
	int r, ret;

	ret = tx_check(tx);
	if (ret)
		return ret;
	if (!a || !b)
		return -EINVAL;
	r = run_level(tx, a, aa, &wa);
	if (r != STM_RETRY || tx->doomed) {
		wspec_free(&wa);
		return r;
	}
	r = run_level(tx, b, ba, &wb);
	if (r != STM_RETRY || tx->doomed) {
		wspec_free(&wa);
		wspec_free(&wb);
		return r;
	}
	/* Both retried: wait for what either waited for. */
	ret = wspec_union(&wa, &wb);
	if (ret) {
		wspec_free(&wa);
		wspec_free(&wb);
		return ret;
	}
	/* This level retries on the union, whatever it named before. */
	wspec_free(&tx->retry);
	tx->retry = wa;
	return STM_RETRY;
}

static struct stm_txn *active_txn(const struct stm_store *s)
{
	for (struct stm_txn *t = tls_txns; t; t = t->next)
		if (t->s == s && t->active)
			return t;
	return NULL;
}

static void tls_link(struct stm_txn *tx)
{
	tx->next = tls_txns;
	tls_txns = tx;
}

static void tls_unlink(struct stm_txn *tx)
{
	for (struct stm_txn **pp = &tls_txns; *pp; pp = &(*pp)->next) {
		if (*pp == tx) {
			*pp = tx->next;
			break;
		}
	}
	tx->next = NULL;
}

/* ---- the top level -------------------------------------------------------- */

/* Forget the attempt: entries, undo log, hooks, retry spec, snapshot. */
static void tx_reset(struct stm_txn *tx)
{
	for (size_t i = 0; i < tx->n; i++) {
		free(tx->ents[i].key);
		free(tx->ents[i].rbuf);
		free(tx->ents[i].wbuf);
	}
	tx->n = 0;
	if (tx->index)
		memset(tx->index, 0, tx->index_cap * sizeof(*tx->index));
	undo_free(tx, 0);
	tx->nsp = 0;
	tx->serial = 0;
	for (int k = 0; k < HK_N; k++)
		tx->nhooks[k] = 0;
	tx->nlate = 0;
	wspec_free(&tx->retry);
	tx->wake_at = 0;
	tx->have_rv = false;
	tx->rv = 0;
	tx->doomed = 0;
	for (size_t i = 0; i < tx->nranges; i++)
		free(tx->ranges[i].pfx);
	tx->nranges = 0;
}

static void tx_free(struct stm_txn *tx)
{
	tx_reset(tx);
	free(tx->ents);
	free(tx->index);
	free(tx->undo);
	for (int k = 0; k < HK_N; k++)
		free(tx->hooks[k]);
	free(tx->late);
	free(tx->ranges);
}

static int deadline_left_ms(int64_t deadline)
{
	int64_t left;

	if (!deadline)
		return INT32_MAX;
	left = deadline - now_ms();
	return left <= 0 ? 0 : (left > INT32_MAX ? INT32_MAX : (int)left);
}

/* The commuted keys of a commit (TXW_COMMUTE entries). */
struct tx_commute {
	size_t    n;
	unsigned  rounds;
	uint32_t *ent;		/* entry index */
	size_t   *op;		/* its commit entry */
	struct stm_rd *rd;	/* the latest value read */
	uint8_t **val;		/* the functions' result (NULL: absent) */
};

static void commute_free(struct tx_commute *cm)
{
	for (size_t k = 0; k < cm->n; k++) {
		free(cm->rd[k].buf);
		free(cm->val[k]);
	}
	free(cm->ent);
	free(cm->op);
	free(cm->rd);
	free(cm->val);
	memset(cm, 0, sizeof(*cm));
}

static int commute_prep(struct stm_txn *tx, struct tx_commute *cm)
{
	size_t n = 0;

	memset(cm, 0, sizeof(*cm));
	for (size_t i = 0; i < tx->n; i++)
		n += tx->ents[i].w == TXW_COMMUTE;
	if (!n)
		return 0;
	cm->ent = calloc(n, sizeof(*cm->ent));
	cm->op = calloc(n, sizeof(*cm->op));
	cm->rd = calloc(n, sizeof(*cm->rd));
	cm->val = calloc(n, sizeof(*cm->val));
	if (!cm->ent || !cm->op || !cm->rd || !cm->val) {
		commute_free(cm);
		return -ENOMEM;
	}
	return 0;	/* cm->n counts up as tx_commit() fills ent/op */
}

/* Read the commuted keys' latest values; apply the functions; fill ops. */
static int commute_eval(struct stm_txn *tx, struct tx_commute *cm,
			struct stm_cop *ops)
{
	uint64_t clock = 0;
	int ret;

	if (!cm->n)
		return 0;
	for (size_t k = 0; k < cm->n; k++) {
		const struct tx_ent *e = &tx->ents[cm->ent[k]];

		cm->rd[k].key = e->key;
		cm->rd[k].klen = e->klen;
	}
	ret = stm_read_grow(tx->s, cm->rd, cm->n, 0, &clock, NULL);
	if (ret)
		return ret;
	for (size_t k = 0; k < cm->n; k++) {
		const struct tx_ent *e = &tx->ents[cm->ent[k]];
		struct stm_rd *rd = &cm->rd[k];
		struct stm_cop *op = &ops[cm->op[k]];
		size_t vlen = 0;

		free(cm->val[k]);
		cm->val[k] = NULL;
		ret = apply_cfns((const struct tx_cfn *)e->wbuf,
				 e->wlen / sizeof(struct tx_cfn),
				 rd->present ? (rd->buf ? rd->buf : empty_data) : NULL,
				 rd->present ? rd->len : 0, &cm->val[k], &vlen);
		if (ret)
			return ret;
		if (tx->s->lim.max_value_size && vlen > tx->s->lim.max_value_size)
			return -E2BIG;
		*op = (struct stm_cop){ .key = e->key, .klen = e->klen,
					.op = cm->val[k] ? STM_OP_PUT : STM_OP_DEL,
					.flags = STM_COP_CHECK,
					.version = rd->present ? rd->version : 0,
					.val = cm->val[k], .vlen = vlen };
	}
	return 0;
}

static bool commute_conflict(const struct tx_commute *cm, uint32_t conflict)
{
	for (size_t k = 0; k < cm->n; k++)
		if (cm->op[k] == conflict)
			return true;
	return false;
}

/*
 * Send the attempt's commit: READ entries for keys only read, writes
 * (checked when the key was read), ADD for blind additions.  0 with nothing
 * to write (a read-only transaction needs no commit).
 */
static int tx_commit(struct stm_txn *tx, int64_t deadline)
{
	struct stm_store *s = tx->s;
	struct stm_cop stack[STACK_OPS], *ops = stack;
	size_t n = 0, nw = 0, need;
	uint32_t conflict = UINT32_MAX;
	struct tx_commute cm;
	unsigned busy = 0;
	int64_t busy_end;
	int ret;

	need = commit_size(tx, &nw);
	if (!nw)
		return 0;
	if (s->flags & STM_RDONLY)
		return -EBADF;
	/* One call or none: a split commit would not be atomic. */
	if (s->lim.max_keys_per_call && need > s->lim.max_keys_per_call)
		return -E2BIG;
	ret = commute_prep(tx, &cm);
	if (ret)
		return ret;
	if (need > STACK_OPS) {
		ops = calloc(need, sizeof(*ops));
		ret = -ENOMEM;
		if (!ops)
			goto out_free;
	}
	for (size_t i = 0; i < tx->n; i++) {
		struct tx_ent *e = &tx->ents[i];
		struct stm_cop op = { .key = e->key, .klen = e->klen, .version = e->rver };

		if (e->rd && (e->w == TXW_NONE || e->w == TXW_ADD)) {
			op.op = STM_OP_READ;
			ops[n++] = op;
		}
		switch (e->w) {
		case TXW_PUT:
			op.op = STM_OP_PUT;
			op.val = e->wbuf ? e->wbuf : empty_data;
			op.vlen = e->wlen;
			break;
		case TXW_DEL:
			op.op = STM_OP_DEL;
			break;
		case TXW_ADD:
			op.op = STM_OP_ADD;
			stm_put_le64(e->le, e->delta);
			op.val = e->le;
			op.vlen = 8;
			op.version = 0;
			break;
		case TXW_COMMUTE:
			/* filled in by commute_eval() at each send */
			cm.op[cm.n] = n;
			cm.ent[cm.n++] = i;
			break;
		default:
			continue;
		}
		if (e->rd && e->w != TXW_ADD)
			op.flags = STM_COP_CHECK;
		ops[n++] = op;
	}
	/* The prefixes read: no key created or deleted under them since. */
	for (size_t i = 0; i < tx->nranges; i++)
		ops[n++] = (struct stm_cop){
			.key = tx->ranges[i].pfx, .klen = tx->ranges[i].plen,
			.op = STM_OP_RANGE, .version = tx->ranges[i].version,
		};
	/*
	 * A store attached non-blocking: resend the same commit, backing
	 * off, until the deadline (-ETIMEDOUT) or, with none, for
	 * BUSY_MAX_MS (then -STM_EBUSY).
	 */
	busy_end = deadline ? deadline : now_ms() + BUSY_MAX_MS;
resend:
	ret = commute_eval(tx, &cm, ops);
	if (ret)
		goto out_free;
	for (;;) {
		ret = s->be->commit(s, ops, n,
				    ((tx->flags & STM_NONBLOCK) ? STM_CM_NONBLOCK : 0) |
				    (tx->attempt > 1 ? STM_CM_RETRY : 0),
				    tx->family, NULL, &conflict);
		if (ret != -STM_EBUSY || (tx->flags & STM_NONBLOCK))
			break;
		if (deadline_left_ms(busy_end) == 0) {
			ret = deadline ? -ETIMEDOUT : -STM_EBUSY;
			break;
		}
		stm_backoff(++busy + 1);
	}
	/*
	 * A commuted key changed since commute_eval() read it: read it again
	 * and resend, without rerunning the transaction (Clojure's commute).
	 */
	if (ret == -ESTALE && commute_conflict(&cm, conflict) &&
	    ++cm.rounds < COMMUTE_ROUNDS &&
	    (!deadline || deadline_left_ms(deadline) > 0)) {
		stm_backoff(cm.rounds);
		goto resend;
	}
	if (ret == -ESTALE && conflict < n)
		note_conflict(s, ops[conflict].key, ops[conflict].klen);
out_free:
	commute_free(&cm);
	if (ops != stack)
		free(ops);
	return ret;
}

/* Block until the retry's keys change (or the timeout, a signal...). */
static int tx_wait(struct stm_txn *tx, int64_t deadline)
{
	struct stm_wkey stack[STACK_OPS], *k = stack;
	size_t n = 0, cap;
	unsigned flags = 0;
	int64_t timeout_ns = -1;
	int ret;

	cap = tx->retry.named ? tx->retry.n : tx->n;
	if (cap > STACK_OPS) {
		k = calloc(cap, sizeof(*k));
		if (!k)
			return -ENOMEM;
	}
	if (tx->retry.named) {
		flags = tx->retry.flags & STM_WAIT_ALL ? STM_WT_ALL : 0;
		for (size_t i = 0; i < tx->retry.n; i++) {
			const struct tx_ent *e = &tx->ents[tx->retry.ents[i]];
			bool dup = false;

			for (size_t j = 0; j < n && !dup; j++)
				dup = k[j].key == e->key;
			if (!dup)
				k[n++] = (struct stm_wkey){ e->key, e->klen, e->rver };
		}
	} else {
		for (size_t i = 0; i < tx->n; i++) {
			const struct tx_ent *e = &tx->ents[i];

			if (e->rd)
				k[n++] = (struct stm_wkey){ e->key, e->klen, e->rver };
		}
	}
	ret = -EDEADLK;		/* nothing read: nothing could wake it */
	if (!n && !tx->wake_at)
		goto out_free;
	if (deadline) {
		int left = deadline_left_ms(deadline);

		ret = -ETIMEDOUT;
		if (!left)
			goto out_free;
		timeout_ns = (int64_t)left * 1000000;
	}
	/* A stm_retry_deadline() in the attempt: wake by then, and rerun. */
	if (tx->wake_at && (!deadline || tx->wake_at < deadline)) {
		int64_t left = tx->wake_at - now_ms();

		timeout_ns = left > 0 ? left * 1000000 : 0;
		if (!n) {
			struct timespec ts = { timeout_ns / 1000000000,
					       timeout_ns % 1000000000 };

			ret = nanosleep(&ts, NULL) ? -errno : 0;
			goto out_free;
		}
		ret = tx->s->be->wait(tx->s, k, n, flags, timeout_ns, tx->family, NULL);
		if (ret == -ETIMEDOUT)
			ret = 0;
		goto out_free;
	}
	ret = tx->s->be->wait(tx->s, k, n, flags, timeout_ns, tx->family, NULL);
out_free:
	if (k != stack)
		free(k);
	return ret;
}

/*
 * The id of family @name in @s, from the handle's cache or registered
 * with the backend (once per handle and name while the cache has room).
 */
int stm_family_id(struct stm_store *s, const char *name, uint32_t *id)
{
	size_t len = strnlen(name, STM_FAMILY_NAME_MAX + 1);
	int ret;

	if (!len)
		return -EINVAL;
	if (len > STM_FAMILY_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&s->fam_lock);
	for (unsigned i = 0; i < s->nfam; i++) {
		if (!strcmp(s->fam[i].name, name)) {
			*id = s->fam[i].id;
			pthread_mutex_unlock(&s->fam_lock);
			return 0;
		}
	}
	ret = s->be->family(s, name, id);
	if (!ret && s->nfam < STM_FAMILY_CACHE) {
		memcpy(s->fam[s->nfam].name, name, len + 1);
		s->fam[s->nfam].id = *id;
		s->nfam++;
	}
	pthread_mutex_unlock(&s->fam_lock);
	return ret;
}

/* Join the transaction running on this store: closed nesting. */
/*
 * Contention management (STM_ESCALATE): the keys of every attempt that
 * conflicted, once each.  An attempt whose snapshot went stale stops at
 * the read that found it so, having read only some of its keys; the union
 * over attempts is what the next one will most likely touch.
 */
struct tx_keyset {
	struct stm_wkey *k;	/* key bytes owned */
	uint32_t *hash;
	size_t n, cap;
};

static void keyset_free(struct tx_keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free((void *)ks->k[i].key);
	free(ks->k);
	free(ks->hash);
	memset(ks, 0, sizeof(*ks));
}

/* Add @e's key, up to @max keys in all (0: no limit): 1 added, 0 there, -1 not. */
static int keyset_add(struct tx_keyset *ks, const struct tx_ent *e, size_t max)
{
	size_t j, cap = ks->cap;
	struct stm_wkey *nk;
	uint32_t *nh;
	void *copy;

	for (j = 0; j < ks->n; j++)
		if (ks->hash[j] == e->hash && ks->k[j].klen == e->klen &&
		    !memcmp(ks->k[j].key, e->key, e->klen))
			return 0;
	if (max && ks->n >= max)
		return -1;
	nk = grow(ks->k, &cap, ks->n + 1, sizeof(*nk));
	if (!nk)
		return -1;
	ks->k = nk;
	cap = ks->cap;
	nh = grow(ks->hash, &cap, ks->n + 1, sizeof(*nh));
	if (!nh)
		return -1;
	ks->hash = nh;
	ks->cap = cap;
	copy = malloc(e->klen ? e->klen : 1);
	if (!copy)
		return -1;
	memcpy(copy, e->key, e->klen);
	ks->k[ks->n] = (struct stm_wkey){ copy, e->klen, 0 };
	ks->hash[ks->n++] = e->hash;
	return 1;
}

/* Add the attempt's keys.  Best effort. */
static void keyset_merge(struct tx_keyset *ks, const struct stm_txn *tx, size_t max)
{
	for (size_t i = 0; i < tx->n; i++)
		if (keyset_add(ks, &tx->ents[i], max) < 0)
			return;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is the reservation surely still live (the kernel's clock is the same)? */
static bool tx_esc_live(const struct stm_txn *tx)
{
	return tx->esc_live && mono_ns() < tx->esc_until;
}

/*
 * Reserve the key set, so that the rerun is not overtaken.  Best effort:
 * false when the backend or kernel cannot or will not (the caller then
 * reruns as usual).
 */
static bool tx_reserve(struct stm_txn *tx, const struct tx_keyset *ks,
		       unsigned int bound_ms)
{
	struct stm_store *s = tx->s;
	uint64_t t0 = mono_ns();
	int left;

	if (!ks->n || !s->be->reserve || (s->flags & STM_RDONLY))
		return false;
	left = s->be->reserve(s, ks->k, ks->n, bound_ms);
	if (left < 0)
		return false;
	/* Rounded up by the kernel, from a clock read after t0: one ms less. */
	tx->esc_until = t0 + (left > 1 ? (uint64_t)(left - 1) * 1000000u : 0);
	return true;
}

/*
 * Escalated: reserve the keys an attempt is about to read that the
 * reservation lacks (the key set may grow from one attempt to the next),
 * so that every key it reads is reserved before it is read.  A failure
 * ends the attempt's escalation: it goes on as an ordinary one.
 */
static void tx_esc_before_read(struct stm_txn *tx, const uint32_t *idx, size_t n)
{
	size_t max = tx->s->lim.max_keys_per_call;
	bool added = false;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = keyset_add(tx->esc, &tx->ents[idx[i]], max);
		if (r < 0) {
			tx->esc_live = false;
			return;
		}
		added |= r > 0;
	}
	if (added && !tx_reserve(tx, tx->esc, tx->esc_ms))
		tx->esc_live = false;
}

/* Give back the handle's reservation, if escalation took one. */
static void tx_unreserve(struct stm_txn *tx, bool *reserved)
{
	if (!*reserved)
		return;
	tx->s->be->reserve(tx->s, NULL, 0, 0);
	*reserved = false;
}

static int tx_nested(struct stm_txn *tx, int (*fn)(struct stm_txn *, void *), void *arg)
{
	if (tx->doomed)
		return tx->doomed;
	return run_level(tx, fn, arg, NULL);
}

int stm_atomic(struct stm_store *s, int (*fn)(struct stm_txn *tx, void *arg),
	       void *arg, const struct stm_txn_opts *opts)
{
	static const struct stm_txn_opts none;
	struct stm_txn *outer, tx;
	unsigned conflicts = 0, escalate = 0;
	struct tx_keyset ks = { 0 };
	bool reserved = false, held = false;
	int64_t deadline = 0;
	unsigned int flags;
	int r, ret;

	if (!s || !fn)
		return -EINVAL;
	if (!opts)
		opts = &none;
	flags = opts->flags;
	if (flags & ~(STM_RDONLY | STM_NONBLOCK | STM_TXN_READONLY_1_1 |
		      STM_TXN_NONBLOCK_1_1 | STM_ESCALATE))
		return -EINVAL;
	if (flags & STM_ESCALATE)
		escalate = opts->escalate_after ? opts->escalate_after : 8;
	flags &= ~STM_ESCALATE;
	/* The 1.1-1.3 values of the same flags. */
	if (flags & STM_TXN_READONLY_1_1)
		flags = (flags & ~STM_TXN_READONLY_1_1) | STM_RDONLY;
	if (flags & STM_TXN_NONBLOCK_1_1)
		flags = (flags & ~STM_TXN_NONBLOCK_1_1) | STM_NONBLOCK;
	outer = active_txn(s);
	if (outer)
		return tx_nested(outer, fn, arg);

	memset(&tx, 0, sizeof(tx));
	tx.s = s;
	tx.flags = flags;
	if (opts->family) {
		ret = stm_family_id(s, opts->family, &tx.family);
		/* A read-only handle cannot add a family: count nowhere. */
		if (ret == -EBADF)
			tx.family = 0;
		else if (ret)
			return ret;
	}
	if (opts->timeout_ms)
		deadline = now_ms() + opts->timeout_ms;
	if (tls_conflict.s == s)
		tls_conflict.len = 0;

	tx.esc = &ks;
	tx.esc_ms = opts->reserve_ms;
	for (;;) {
		tx.attempt++;
		tx.active = true;
		/* Under a reservation of every key of the set, still live. */
		tx.esc_live = held && mono_ns() < tx.esc_until;
		tls_link(&tx);
		r = fn(&tx, arg);
		if (!tx.doomed && r >= 0 && r != STM_RETRY)
			run_hooks(&tx, HK_BEFORE, 0);
		tx.active = false;
		tls_unlink(&tx);
		run_late(&tx);

		if (tx.doomed) {
			ret = -ESTALE;
		} else if (r == STM_RETRY) {
			run_hooks(&tx, HK_ABORT, 0);
			tx_unreserve(&tx, &reserved);	/* hold nothing asleep */
			held = false;
			ret = tx_wait(&tx, deadline);
			if (ret)
				break;
			tx_reset(&tx);
			continue;
		} else if (r < 0) {
			ret = r;
		} else {
			ret = tx_commit(&tx, deadline);
			if (ret == 0) {
				run_hooks(&tx, HK_AFTER, 0);
				ret = r;
				break;
			}
		}
		if (ret != -ESTALE) {
			run_hooks(&tx, HK_ABORT, 0);
			break;
		}
		/* Conflict: rerun, within max_retries and the deadline. */
		run_hooks(&tx, HK_ABORT, 0);
		conflicts++;
		if (opts->max_retries && conflicts > opts->max_retries) {
			ret = -STM_ERETRIES;
			break;
		}
		if (deadline && deadline_left_ms(deadline) == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (escalate)
			keyset_merge(&ks, &tx, s->lim.max_keys_per_call);
		held = escalate && conflicts >= escalate &&
		       tx_reserve(&tx, &ks, opts->reserve_ms);
		reserved |= held;
		tx_reset(&tx);
		/* The keys are held for a bounded time: no backing off then. */
		if (!held)
			stm_backoff(conflicts);
	}
	/* Whatever the outcome: a successful commit already ended it. */
	tx_unreserve(&tx, &reserved);
	keyset_free(&ks);
	tx_free(&tx);
	return ret;
}

int stm_last_conflict(const struct stm_store *s, void *buf, size_t cap)
{
	size_t n;

	if (!s || (!buf && cap))
		return -EINVAL;
	if (tls_conflict.s != s || !tls_conflict.len)
		return 0;
	n = tls_conflict.len < cap ? tls_conflict.len : cap;
	if (n)
		memcpy(buf, tls_conflict.key, n);
	if (n < cap)
		((char *)buf)[n] = '\0';
	return tls_conflict.len;
}
