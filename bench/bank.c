// SPDX-License-Identifier: MIT
/*
 * The bank against the peers: the same guarded transfer workload on stm
 * (ioctl, and io_uring batched), LMDB, SQLite and Redis, in the same boot.
 *
 * NACCT accounts start at START each.  Each of P worker processes (1, 2,
 * 4; worker i pinned to CPU i mod cpus) moves a random amount between two
 * random accounts, one transaction per transfer, keeping the guard: a
 * transfer that would take an account below zero is declined (and still
 * counts: it is a transaction that read both balances).  An auditor
 * process reads all accounts in one consistent read, again and again, and
 * checks the total; at the end the total is checked once more.  Each
 * system is used the way its documentation recommends for the job:
 *
 *   stm      One COMMIT of two bounded ADDs (STMDEV_CENT_BOUND): -amt with
 *            a floor of 0 on the payer, +amt on the payee; ERANGE is the
 *            guard declining (nothing written), and there is no READ and
 *            no version to check, so no conflict to redo.  The io_uring
 *            variant submits BADD_BATCH such COMMITs at once.  A module
 *            without STMDEV_F_ADD_BOUND gets the checked transfer: READ
 *            both accounts (one snapshot), then COMMIT two PUTs with
 *            STMDEV_CENT_CHECK of the versions read; ESTALE: redo (its
 *            io_uring variant: one READ of BANK_BATCH transfers' disjoint
 *            accounts, then their COMMITs as one submission).
 *            stm_checked runs that checked transfer always, for comparison
 *            in the same boot.
 *   LMDB     MDB_NOSYNC | MDB_WRITEMAP on tmpfs; a write transaction per
 *            transfer (LMDB has one writer at a time: no conflicts).
 *   SQLite   WAL on tmpfs, synchronous=OFF, BEGIN IMMEDIATE per transfer
 *            (SQLITE_BUSY: retried, counted).
 *   Redis    redis-server started here on a Unix socket, persistence off;
 *            WATCH + MGET, then MULTI, SET, SET, EXEC, each group pipelined
 *            in one write (a nil EXEC: redo, counted); the auditor's MGET of
 *            all accounts is atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/stmdev.h>
#include <liburing.h>
#include <lmdb.h>
#include <sqlite3.h>
#include "bench.h"

#define NACCT		64
#define START		1000000
#define MAXAMT		100
#define BANK_BATCH	8	/* checked transfers per io_uring batch */
#define BADD_BATCH	32	/* bounded transfers per io_uring batch */
#define STORE_BANK	"stm-bench-bank"
#define REDIS_SOCK	"/tmp/stm-bench-redis.sock"

struct bank_counts {
	uint64_t transfers;	/* transactions done (declined ones too) */
	uint64_t declined;	/* the guard said no */
	uint64_t conflicts;	/* attempts redone: ESTALE, nil EXEC, BUSY */
	uint64_t audits;
	uint64_t bad_audits;
	int err;
	char why[96];
} __attribute__((aligned(64)));

struct bank_shared {
	volatile int go, stop;
	struct bank_counts c[MAX_PROCS + 1];	/* workers, then the auditor */
};

/* One system: a handle per process (opened after fork). */
struct bank_sys {
	const char *id;
	int (*setup)(char *why, size_t len);	/* parent: fresh accounts */
	void *(*open)(void);
	/* Transfers: one, or up to BANK_BATCH (returns how many done). */
	int (*transfer)(void *h, uint64_t *rng, struct bank_counts *c);
	int (*audit)(void *h, int64_t *total);
	void (*close)(void *h);
	void (*teardown)(void);
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Two distinct accounts and an amount. */
static void pick(uint64_t *rng, int *a, int *b, int64_t *amt)
{
	*a = rnd(rng) % NACCT;
	*b = (*a + 1 + rnd(rng) % (NACCT - 1)) % NACCT;
	*amt = 1 + rnd(rng) % MAXAMT;
}

/* ---- stm ---- */

static uint64_t acct_key[NACCT];

struct stm_h {
	int fd;
	struct io_uring ring;
	int ring_ok;
	int bound;	/* STMDEV_F_ADD_BOUND: the one-COMMIT transfer */
};

static int stm_attach(int creat)
{
	struct stmdev_attach a = { .mode = 0600 };
	int fd = open("/dev/stm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	a.flags = creat ? STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL : 0;
	snprintf(a.name, sizeof(a.name), "%s", STORE_BANK);
	if (ioctl(fd, STMDEV_IOC_ATTACH, &a)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void stm_unlink_bank(void)
{
	struct stmdev_unlink u = { 0 };
	int fd = open("/dev/stm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	snprintf(u.name, sizeof(u.name), "%s", STORE_BANK);
	ioctl(fd, STMDEV_IOC_UNLINK, &u);
	close(fd);
}

static int stm_setup(char *why, size_t len)
{
	struct stmdev_commit_ent e[NACCT];
	struct stmdev_commit c = { .entries = (uintptr_t)e, .count = NACCT };
	int64_t start = START;
	int fd, i, err = 0;

	for (i = 0; i < NACCT; i++)
		acct_key[i] = 0x6200000000000000ull | (uint64_t)i;
	stm_unlink_bank();
	fd = stm_attach(1);
	if (fd < 0) {
		snprintf(why, len, "attach: %s", strerror(-fd));
		return fd;
	}
	memset(e, 0, sizeof(e));
	for (i = 0; i < NACCT; i++) {
		e[i].key_addr = (uintptr_t)&acct_key[i];
		e[i].key_len = sizeof(uint64_t);
		e[i].val_addr = (uintptr_t)&start;
		e[i].val_len = sizeof(start);
		e[i].op = STMDEV_OP_PUT;
	}
	if (ioctl(fd, STMDEV_IOC_COMMIT, &c)) {
		err = -errno;
		snprintf(why, len, "commit: %s", strerror(errno));
	}
	close(fd);
	return err;
}

static void *stm_open_common(int uring)
{
	struct stm_h *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd = stm_attach(0);
	if (h->fd < 0) {
		free(h);
		return NULL;
	}
	{
		struct stmdev_features f = { 0 };

		h->bound = !ioctl(h->fd, STMDEV_IOC_GET_FEATURES, &f) &&
			   (f.features & STMDEV_F_ADD_BOUND);
	}
	/*
	 * The fd registered, as io_uring's documentation recommends for a
	 * file used by every submission: no fget()/fput() per command.
	 */
	if (uring && !io_uring_queue_init(2 * BADD_BATCH, &h->ring, 0)) {
		h->ring_ok = 1;
		if (io_uring_register_files(&h->ring, &h->fd, 1))
			h->ring_ok = 0;
		if (!h->ring_ok)
			io_uring_queue_exit(&h->ring);
	}
	if (uring && !h->ring_ok) {
		close(h->fd);
		free(h);
		return NULL;
	}
	return h;
}

static void *stm_open(void)
{
	return stm_open_common(0);
}

static void *stm_uring_open(void)
{
	return stm_open_common(1);
}

static void stm_close(void *p)
{
	struct stm_h *h = p;

	if (h->ring_ok)
		io_uring_queue_exit(&h->ring);
	close(h->fd);
	free(h);
}

static void read_ent(struct stmdev_read_ent *re, int acct, int64_t *val)
{
	memset(re, 0, sizeof(*re));
	re->key_addr = (uintptr_t)&acct_key[acct];
	re->key_len = sizeof(uint64_t);
	re->val_addr = (uintptr_t)val;
	re->val_len = sizeof(*val);
}

static void put_ent(struct stmdev_commit_ent *e, int acct, int64_t *val,
		    uint64_t version)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = (uintptr_t)&acct_key[acct];
	e->key_len = sizeof(uint64_t);
	e->val_addr = (uintptr_t)val;
	e->val_len = sizeof(*val);
	e->op = STMDEV_OP_PUT;
	e->flags = STMDEV_CENT_CHECK;
	e->version = version;
}

/* A bounded ADD of in[0] to @acct, within [in[1], in[2]]. */
static void badd_ent(struct stmdev_commit_ent *e, int acct, int64_t in[3])
{
	memset(e, 0, sizeof(*e));
	e->key_addr = (uintptr_t)&acct_key[acct];
	e->key_len = sizeof(uint64_t);
	e->val_addr = (uintptr_t)in;
	e->val_len = 3 * sizeof(int64_t);
	e->op = STMDEV_OP_ADD;
	e->flags = STMDEV_CENT_BOUND;
}

/* A transfer of @amt from @a to @b: two bounded ADDs, one COMMIT. */
static void badd_transfer(struct stmdev_commit_ent e[2], struct stmdev_commit *cm,
			  int64_t in[2][3], int a, int b, int64_t amt)
{
	in[0][0] = -amt;	/* the guard: the payer stays >= 0 */
	in[0][1] = 0;
	in[0][2] = INT64_MAX;
	in[1][0] = amt;
	in[1][1] = INT64_MIN;
	in[1][2] = INT64_MAX;
	badd_ent(&e[0], a, in[0]);
	badd_ent(&e[1], b, in[1]);
	memset(cm, 0, sizeof(*cm));
	cm->entries = (uintptr_t)e;
	cm->count = 2;
}

static int stm_transfer_checked(struct stm_h *h, uint64_t *rng, struct bank_counts *c);
static int stm_uring_transfer_checked(struct stm_h *h, uint64_t *rng,
				      struct bank_counts *c);

/*
 * One transfer: one COMMIT of two bounded ADDs.  ERANGE: the payer cannot
 * pay, declined, nothing written.  Nothing to redo: the commit reads no
 * version, and waits for the keys' locks rather than failing.
 */
static int stm_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	struct stm_h *h = p;
	struct stmdev_commit_ent e[2];
	struct stmdev_commit cm;
	int64_t in[2][3], amt;
	int a, b;

	if (!h->bound)
		return stm_transfer_checked(h, rng, c);
	pick(rng, &a, &b, &amt);
	badd_transfer(e, &cm, in, a, b, amt);
	if (!ioctl(h->fd, STMDEV_IOC_COMMIT, &cm))
		return 1;
	if (errno != ERANGE || cm.conflict != 0)
		return -errno;
	c->declined++;
	return 1;
}

/*
 * BADD_BATCH transfers, each one COMMIT of two bounded ADDs, in one
 * io_uring submission.  Accounts may repeat across the batch: each commit
 * is atomic on its own, in whatever order the ring runs them.
 */
static int stm_uring_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	struct stm_h *h = p;
	struct stmdev_commit_ent e[BADD_BATCH][2];
	struct stmdev_commit cm[BADD_BATCH];
	int64_t in[BADD_BATCH][2][3], amt;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int i, a, b, done = 0;

	if (!h->bound)
		return stm_uring_transfer_checked(h, rng, c);
	for (i = 0; i < BADD_BATCH; i++) {
		pick(rng, &a, &b, &amt);
		badd_transfer(e[i], &cm[i], in[i], a, b, amt);
		sqe = io_uring_get_sqe(&h->ring);
		if (!sqe)
			return -EBUSY;
		prep_stm_cmd(sqe, 0, STMDEV_IOC_COMMIT, &cm[i], sizeof(cm[i]), i);
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	if (io_uring_submit_and_wait(&h->ring, BADD_BATCH) < 0)
		return -EIO;
	for (i = 0; i < BADD_BATCH; i++) {
		int res;

		if (io_uring_wait_cqe(&h->ring, &cqe))
			return -EIO;
		res = cqe->res;
		if (res == -ERANGE && cm[cqe->user_data].conflict == 0)
			c->declined++;
		else if (res)
			return res;
		io_uring_cqe_seen(&h->ring, cqe);
		done++;
	}
	return done;
}

/* stm_checked: the checked transfer, whatever the module offers. */
static int stm_checked_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	return stm_transfer_checked(p, rng, c);
}

/* Without STMDEV_F_ADD_BOUND: READ both, a checked COMMIT; ESTALE redoes. */
static int stm_transfer_checked(struct stm_h *h, uint64_t *rng, struct bank_counts *c)
{
	struct stmdev_read_ent re[2];
	struct stmdev_read r = { .entries = (uintptr_t)re, .count = 2 };
	struct stmdev_commit_ent e[2];
	struct stmdev_commit cm = { .entries = (uintptr_t)e, .count = 2 };
	int64_t bal[2], nb[2], amt;
	int a, b;

	pick(rng, &a, &b, &amt);
	for (;;) {
		read_ent(&re[0], a, &bal[0]);
		read_ent(&re[1], b, &bal[1]);
		if (ioctl(h->fd, STMDEV_IOC_READ, &r))
			return -errno;
		if (bal[0] < amt) {
			c->declined++;
			return 1;
		}
		nb[0] = bal[0] - amt;
		nb[1] = bal[1] + amt;
		put_ent(&e[0], a, &nb[0], re[0].version);
		put_ent(&e[1], b, &nb[1], re[1].version);
		if (!ioctl(h->fd, STMDEV_IOC_COMMIT, &cm))
			return 1;
		if (errno != ESTALE)
			return -errno;
		c->conflicts++;
	}
}

/*
 * BANK_BATCH transfers on disjoint accounts: one READ of all their
 * accounts, then their checked COMMITs in one io_uring submission.  A
 * transfer that conflicts is dropped from the count (its commit changed
 * nothing) and counted as a conflict: the next batch draws anew.
 */
static int stm_uring_transfer_checked(struct stm_h *h, uint64_t *rng,
				      struct bank_counts *c)
{
	struct stmdev_read_ent re[2 * BANK_BATCH];
	struct stmdev_read r = { .entries = (uintptr_t)re, .count = 2 * BANK_BATCH };
	struct stmdev_commit_ent e[BANK_BATCH][2];
	struct stmdev_commit cm[BANK_BATCH];
	int64_t bal[2 * BANK_BATCH], nb[2 * BANK_BATCH], amt[BANK_BATCH];
	int acct[2 * BANK_BATCH], used[NACCT] = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int i, n = 0, done = 0;

	for (i = 0; i < BANK_BATCH; i++) {
		do
			pick(rng, &acct[2 * i], &acct[2 * i + 1], &amt[i]);
		while (used[acct[2 * i]] || used[acct[2 * i + 1]]);
		used[acct[2 * i]] = used[acct[2 * i + 1]] = 1;
		read_ent(&re[2 * i], acct[2 * i], &bal[2 * i]);
		read_ent(&re[2 * i + 1], acct[2 * i + 1], &bal[2 * i + 1]);
	}
	if (ioctl(h->fd, STMDEV_IOC_READ, &r))
		return -errno;
	for (i = 0; i < BANK_BATCH; i++) {
		if (bal[2 * i] < amt[i]) {
			c->declined++;
			done++;
			continue;
		}
		nb[2 * i] = bal[2 * i] - amt[i];
		nb[2 * i + 1] = bal[2 * i + 1] + amt[i];
		put_ent(&e[i][0], acct[2 * i], &nb[2 * i], re[2 * i].version);
		put_ent(&e[i][1], acct[2 * i + 1], &nb[2 * i + 1], re[2 * i + 1].version);
		memset(&cm[i], 0, sizeof(cm[i]));
		cm[i].entries = (uintptr_t)e[i];
		cm[i].count = 2;
		sqe = io_uring_get_sqe(&h->ring);
		if (!sqe)
			return -EBUSY;
		prep_stm_cmd(sqe, 0, STMDEV_IOC_COMMIT, &cm[i], sizeof(cm[i]), i);
		sqe->flags |= IOSQE_FIXED_FILE;
		n++;
	}
	if (n && io_uring_submit_and_wait(&h->ring, n) < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		if (io_uring_wait_cqe(&h->ring, &cqe))
			return -EIO;
		if (!cqe->res)
			done++;
		else if (cqe->res == -ESTALE)
			c->conflicts++;
		else
			return cqe->res;
		io_uring_cqe_seen(&h->ring, cqe);
	}
	return done;
}

static int stm_audit(void *p, int64_t *total)
{
	struct stm_h *h = p;
	struct stmdev_read_ent re[NACCT];
	struct stmdev_read r = { .entries = (uintptr_t)re, .count = NACCT };
	int64_t bal[NACCT];
	int i;

	for (i = 0; i < NACCT; i++)
		read_ent(&re[i], i, &bal[i]);
	if (ioctl(h->fd, STMDEV_IOC_READ, &r))
		return -errno;
	for (*total = 0, i = 0; i < NACCT; i++)
		*total += bal[i];
	return 0;
}

/* ---- LMDB ---- */

static char lmdb_path[256];

struct lmdb_h {
	MDB_env *env;
	MDB_dbi dbi;
};

static void *lmdb_open(void)
{
	struct lmdb_h *h = calloc(1, sizeof(*h));
	MDB_txn *txn;

	if (!h)
		return NULL;
	/*
	 * Room for the pages a stalled reader pins: while the auditor's read
	 * transaction is descheduled (a loaded host), every write transaction
	 * copies pages that cannot be reused yet.  With 16 MiB a 4-worker run
	 * at a host load of 9 once failed, most likely MDB_MAP_FULL (now
	 * ENOSPC, to tell); tmpfs backs only the pages written.
	 */
	if (mdb_env_create(&h->env) || mdb_env_set_mapsize(h->env, 256 << 20) ||
	    mdb_env_open(h->env, lmdb_path, MDB_NOSYNC | MDB_WRITEMAP, 0600) ||
	    mdb_txn_begin(h->env, NULL, 0, &txn)) {
		free(h);
		return NULL;
	}
	if (mdb_dbi_open(txn, NULL, 0, &h->dbi) || mdb_txn_commit(txn)) {
		mdb_env_close(h->env);
		free(h);
		return NULL;
	}
	return h;
}

static void lmdb_close(void *p)
{
	struct lmdb_h *h = p;

	mdb_env_close(h->env);
	free(h);
}

static int lmdb_setup(char *why, size_t len)
{
	struct lmdb_h *h;
	MDB_txn *txn;
	int64_t start = START;
	int i, rc;

	snprintf(lmdb_path, sizeof(lmdb_path), "%s/stm-bench-bank.%d", cfg.lmdb_dir,
		 (int)getpid());
	mkdir(lmdb_path, 0700);
	h = lmdb_open();
	if (!h) {
		snprintf(why, len, "LMDB in %s: open failed", lmdb_path);
		return -EIO;
	}
	rc = mdb_txn_begin(h->env, NULL, 0, &txn);
	for (i = 0; !rc && i < NACCT; i++) {
		MDB_val k = { sizeof(acct_key[i]), &acct_key[i] };
		MDB_val v = { sizeof(start), &start };

		rc = mdb_put(txn, h->dbi, &k, &v, 0);
	}
	rc = rc ?: mdb_txn_commit(txn);
	lmdb_close(h);
	if (rc) {
		snprintf(why, len, "LMDB: %s", mdb_strerror(rc));
		return -EIO;
	}
	return 0;
}

static void lmdb_teardown(void)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/data.mdb", lmdb_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", lmdb_path);
	unlink(p);
	rmdir(lmdb_path);
}

static int lmdb_get64(MDB_txn *txn, MDB_dbi dbi, int acct, int64_t *v)
{
	MDB_val k = { sizeof(acct_key[acct]), &acct_key[acct] }, d;
	int rc = mdb_get(txn, dbi, &k, &d);

	if (rc || d.mv_size != sizeof(*v))
		return -EIO;
	memcpy(v, d.mv_data, sizeof(*v));
	return 0;
}

static int lmdb_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	struct lmdb_h *h = p;
	int64_t bal[2], amt;
	MDB_txn *txn;
	int a, b, rc;

	pick(rng, &a, &b, &amt);
	if (mdb_txn_begin(h->env, NULL, 0, &txn))
		return -EIO;
	if (lmdb_get64(txn, h->dbi, a, &bal[0]) || lmdb_get64(txn, h->dbi, b, &bal[1])) {
		mdb_txn_abort(txn);
		return -EIO;
	}
	if (bal[0] < amt) {
		c->declined++;
		mdb_txn_abort(txn);
		return 1;
	}
	bal[0] -= amt;
	bal[1] += amt;
	{
		MDB_val ka = { sizeof(acct_key[a]), &acct_key[a] }, va = { 8, &bal[0] };
		MDB_val kb = { sizeof(acct_key[b]), &acct_key[b] }, vb = { 8, &bal[1] };

		rc = mdb_put(txn, h->dbi, &ka, &va, 0);
		rc = rc ?: mdb_put(txn, h->dbi, &kb, &vb, 0);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return rc == MDB_MAP_FULL ? -ENOSPC : -EIO;
	}
	rc = mdb_txn_commit(txn);
	return rc == MDB_MAP_FULL ? -ENOSPC : rc ? -EIO : 1;
}

static int lmdb_audit(void *p, int64_t *total)
{
	struct lmdb_h *h = p;
	MDB_txn *txn;
	int64_t v;
	int i, err = 0;

	if (mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn))
		return -EIO;
	for (*total = 0, i = 0; i < NACCT && !err; i++) {
		err = lmdb_get64(txn, h->dbi, i, &v);
		*total += err ? 0 : v;
	}
	mdb_txn_abort(txn);
	return err;
}

/* ---- SQLite ---- */

static char sqlite_path[256];

struct sql_h {
	sqlite3 *db;
	sqlite3_stmt *begin, *get, *set, *commit, *rollback, *sum, *rbegin;
};

static void sql_close(void *p)
{
	struct sql_h *h = p;

	sqlite3_finalize(h->begin);
	sqlite3_finalize(h->get);
	sqlite3_finalize(h->set);
	sqlite3_finalize(h->commit);
	sqlite3_finalize(h->rollback);
	sqlite3_finalize(h->sum);
	sqlite3_finalize(h->rbegin);
	sqlite3_close(h->db);
	free(h);
}

static void *sql_open(void)
{
	struct sql_h *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	/*
	 * Opening (the pragmas, the schema read by the prepares) may meet
	 * another process's write lock: wait for it here, as SQLite's
	 * documentation has it; the transfers themselves count SQLITE_BUSY.
	 */
	if (sqlite3_open(sqlite_path, &h->db) ||
	    sqlite3_busy_timeout(h->db, 5000) ||
	    sqlite3_exec(h->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
			 NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(h->db, "BEGIN IMMEDIATE", -1, &h->begin, NULL) ||
	    sqlite3_prepare_v2(h->db, "BEGIN", -1, &h->rbegin, NULL) ||
	    sqlite3_prepare_v2(h->db, "SELECT bal FROM acct WHERE id = ?", -1, &h->get, NULL) ||
	    sqlite3_prepare_v2(h->db, "UPDATE acct SET bal = ? WHERE id = ?", -1, &h->set,
			       NULL) ||
	    sqlite3_prepare_v2(h->db, "COMMIT", -1, &h->commit, NULL) ||
	    sqlite3_prepare_v2(h->db, "ROLLBACK", -1, &h->rollback, NULL) ||
	    sqlite3_prepare_v2(h->db, "SELECT sum(bal) FROM acct", -1, &h->sum, NULL) ||
	    sqlite3_busy_timeout(h->db, 0)) {
		sql_close(h);
		return NULL;
	}
	return h;
}

static int sql_setup(char *why, size_t len)
{
	char sql[128];
	sqlite3 *db;
	int i, rc;

	snprintf(sqlite_path, sizeof(sqlite_path), "%s/stm-bench-bank.%d.sqlite", cfg.lmdb_dir,
		 (int)getpid());
	unlink(sqlite_path);
	rc = sqlite3_open(sqlite_path, &db);
	rc = rc ?: sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; "
				"CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL); "
				"BEGIN", NULL, NULL, NULL);
	for (i = 0; !rc && i < NACCT; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO acct VALUES (%d, %d)", i, START);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	rc = rc ?: sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc)
		snprintf(why, len, "SQLite: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc ? -EIO : 0;
}

static void sql_teardown(void)
{
	char p[300];

	unlink(sqlite_path);
	snprintf(p, sizeof(p), "%s-wal", sqlite_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", sqlite_path);
	unlink(p);
}

/* Step a statement that returns no row; SQLITE_BUSY comes back as is. */
static int sql_step0(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

static int sql_get(struct sql_h *h, int acct, int64_t *v)
{
	int rc;

	sqlite3_bind_int(h->get, 1, acct);
	rc = sqlite3_step(h->get);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(h->get, 0);
	sqlite3_reset(h->get);
	return rc == SQLITE_ROW ? 0 : rc;
}

static int sql_set(struct sql_h *h, int acct, int64_t v)
{
	sqlite3_bind_int64(h->set, 1, v);
	sqlite3_bind_int(h->set, 2, acct);
	return sql_step0(h->set);
}

static int sql_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	struct sql_h *h = p;
	int64_t bal[2], amt;
	int a, b, rc;

	pick(rng, &a, &b, &amt);
	/* BEGIN IMMEDIATE takes the write lock; BUSY: try again. */
	while ((rc = sql_step0(h->begin)) == SQLITE_BUSY)
		c->conflicts++;
	if (rc)
		return -EIO;
	rc = sql_get(h, a, &bal[0]);
	rc = rc ?: sql_get(h, b, &bal[1]);
	if (!rc && bal[0] < amt) {
		c->declined++;
		return sql_step0(h->rollback) ? -EIO : 1;
	}
	rc = rc ?: sql_set(h, a, bal[0] - amt);
	rc = rc ?: sql_set(h, b, bal[1] + amt);
	if (rc) {
		sql_step0(h->rollback);
		return -EIO;
	}
	while ((rc = sql_step0(h->commit)) == SQLITE_BUSY)
		c->conflicts++;
	return rc ? -EIO : 1;
}

static int sql_audit(void *p, int64_t *total)
{
	struct sql_h *h = p;
	int rc;

	rc = sqlite3_step(h->sum);
	if (rc == SQLITE_ROW)
		*total = sqlite3_column_int64(h->sum, 0);
	sqlite3_reset(h->sum);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

/* ---- Redis, through its protocol (RESP) on a Unix socket ---- */

static pid_t redis_pid;

struct redis_h {
	int fd;
	char buf[8192];		/* replies read, from off to len */
	size_t len, off;
	char out[4096];		/* commands queued, up to olen */
	size_t olen;
};

static int redis_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", REDIS_SOCK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Queue one command of @n arguments (redis_flush() sends the queue). */
static int redis_send(struct redis_h *h, int n, const char **argv)
{
	size_t cap = sizeof(h->out) - 64;
	int i;

	h->olen += snprintf(h->out + h->olen, sizeof(h->out) - h->olen, "*%d\r\n", n);
	for (i = 0; i < n && h->olen < cap; i++)
		h->olen += snprintf(h->out + h->olen, sizeof(h->out) - h->olen,
				    "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	if (h->olen >= cap)
		return -E2BIG;
	return 0;
}

/* Send what is queued, in one write: the commands pipelined. */
static int redis_flush(struct redis_h *h)
{
	ssize_t r = write(h->fd, h->out, h->olen);

	if (r != (ssize_t)h->olen)
		return -EIO;
	h->olen = 0;
	return 0;
}

/* One line of the reply stream, without its CRLF. */
static int redis_line(struct redis_h *h, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(h->buf + h->off, '\n', h->len - h->off);

		if (nl) {
			size_t n = nl - (h->buf + h->off);

			if (n && nl[-1] == '\r')
				n--;
			if (n >= cap)
				return -E2BIG;
			memcpy(line, h->buf + h->off, n);
			line[n] = 0;
			h->off = nl + 1 - h->buf;
			return 0;
		}
		memmove(h->buf, h->buf + h->off, h->len - h->off);
		h->len -= h->off;
		h->off = 0;
		if (h->len == sizeof(h->buf))
			return -E2BIG;
		{
			ssize_t r = read(h->fd, h->buf + h->len, sizeof(h->buf) - h->len);

			if (r <= 0)
				return -EIO;
			h->len += r;
		}
	}
}

/*
 * Read one reply: integers and bulk strings into @vals (up to @max, nil as
 * INT64_MIN), arrays flattened one level.  Returns the number of values,
 * -ENOENT for a nil array (EXEC that did nothing), -EIO for an error reply.
 */
static int redis_reply(struct redis_h *h, int64_t *vals, int max)
{
	char line[128];
	int n, i, got = 0;

	if (redis_line(h, line, sizeof(line)))
		return -EIO;
	if (line[0] == '+')
		return 0;
	if (line[0] == '-')
		return -EIO;
	if (line[0] == '*') {
		n = atoi(line + 1);
		if (n < 0)
			return -ENOENT;
		for (i = 0; i < n; i++) {
			int64_t v[1];
			int r = redis_reply(h, v, 1);

			if (r < 0)
				return r;
			if (r && got < max)
				vals[got++] = v[0];
		}
		return got;
	}
	if (line[0] == ':') {
		if (max)
			vals[0] = strtoll(line + 1, NULL, 10);
		return 1;
	}
	if (line[0] == '$') {
		if (atoi(line + 1) < 0) {
			if (max)
				vals[0] = INT64_MIN;
			return 1;
		}
		if (redis_line(h, line, sizeof(line)))
			return -EIO;
		if (max)
			vals[0] = strtoll(line, NULL, 10);
		return 1;
	}
	return -EIO;
}

static int redis_cmd(struct redis_h *h, int n, const char **argv, int64_t *vals, int max)
{
	int err = redis_send(h, n, argv);

	err = err ?: redis_flush(h);
	return err ?: redis_reply(h, vals, max);
}

static void *redis_open(void)
{
	struct redis_h *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd = redis_connect();
	if (h->fd < 0) {
		free(h);
		return NULL;
	}
	return h;
}

static void redis_close(void *p)
{
	struct redis_h *h = p;

	close(h->fd);
	free(h);
}

static void redis_teardown(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = 0;
	unlink(REDIS_SOCK);
}

static int redis_setup(char *why, size_t len)
{
	const char *path = getenv("STM_BENCH_REDIS") ?: "redis-server";
	char name[NACCT][24], val[24];
	struct redis_h *h;
	int i, err = 0;

	unlink(REDIS_SOCK);
	redis_pid = fork();
	if (redis_pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -errno;
	}
	if (!redis_pid) {
		int null = open("/dev/null", O_RDWR), cpu;
		cpu_set_t all;

		/* The server runs on any CPU, not on the bench's CPU 0 only. */
		CPU_ZERO(&all);
		for (cpu = 0; cpu < ncpus(); cpu++)
			CPU_SET(cpu, &all);
		sched_setaffinity(0, sizeof(all), &all);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp(path, path, "--port", "0", "--unixsocket", REDIS_SOCK, "--save", "",
		       "--appendonly", "no", "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		int fd = redis_connect(), status;

		if (fd >= 0) {
			close(fd);
			break;
		}
		if (waitpid(redis_pid, &status, WNOHANG) == redis_pid) {
			redis_pid = 0;
			snprintf(why, len, "%s did not start (exit %d): not in the VM?", path,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return -ENOENT;
		}
		usleep(20000);
	}
	h = redis_open();
	if (!h) {
		redis_teardown();
		snprintf(why, len, "redis-server: no socket %s", REDIS_SOCK);
		return -EIO;
	}
	snprintf(val, sizeof(val), "%d", START);
	for (i = 0; i < NACCT && !err; i++) {
		const char *argv[3] = { "SET", name[i], val };

		snprintf(name[i], sizeof(name[i]), "acct%d", i);
		if (redis_cmd(h, 3, argv, NULL, 0) < 0)
			err = -EIO;
	}
	redis_close(h);
	if (err) {
		redis_teardown();
		snprintf(why, len, "redis: SET failed");
	}
	return err;
}

static int redis_transfer(void *p, uint64_t *rng, struct bank_counts *c)
{
	struct redis_h *h = p;
	char ka[16], kb[16], va[24], vb[24];
	const char *watch[3] = { "WATCH", ka, kb }, *mget[3] = { "MGET", ka, kb };
	const char *multi[1] = { "MULTI" }, *exec[1] = { "EXEC" }, *unwatch[1] = { "UNWATCH" };
	const char *seta[3] = { "SET", ka, va }, *setb[3] = { "SET", kb, vb };
	int64_t bal[2], amt;
	int a, b, r;

	pick(rng, &a, &b, &amt);
	snprintf(ka, sizeof(ka), "acct%d", a);
	snprintf(kb, sizeof(kb), "acct%d", b);
	for (;;) {
		/* WATCH and MGET pipelined; replies in order. */
		if (redis_send(h, 3, watch) || redis_send(h, 3, mget) || redis_flush(h) ||
		    redis_reply(h, NULL, 0) < 0 || redis_reply(h, bal, 2) != 2)
			return -EIO;
		if (bal[0] < amt) {
			c->declined++;
			return redis_cmd(h, 1, unwatch, NULL, 0) < 0 ? -EIO : 1;
		}
		snprintf(va, sizeof(va), "%lld", (long long)(bal[0] - amt));
		snprintf(vb, sizeof(vb), "%lld", (long long)(bal[1] + amt));
		/* MULTI, the two SETs and EXEC in one write; replies in order. */
		if (redis_send(h, 1, multi) || redis_send(h, 3, seta) ||
		    redis_send(h, 3, setb) || redis_send(h, 1, exec) || redis_flush(h))
			return -EIO;
		if (redis_reply(h, NULL, 0) < 0 || redis_reply(h, NULL, 0) < 0 ||
		    redis_reply(h, NULL, 0) < 0)
			return -EIO;
		r = redis_reply(h, NULL, 0);
		if (r >= 0)
			return 1;
		if (r != -ENOENT)
			return -EIO;
		c->conflicts++;
	}
}

static int redis_audit(void *p, int64_t *total)
{
	struct redis_h *h = p;
	char name[NACCT][16];
	const char *argv[NACCT + 1];
	int64_t v[NACCT];
	int i;

	argv[0] = "MGET";
	for (i = 0; i < NACCT; i++) {
		snprintf(name[i], sizeof(name[i]), "acct%d", i);
		argv[i + 1] = name[i];
	}
	if (redis_cmd(h, NACCT + 1, argv, v, NACCT) != NACCT)
		return -EIO;
	for (*total = 0, i = 0; i < NACCT; i++)
		*total += v[i];
	return 0;
}

/* ---- the driver ---- */

static void stm_teardown(void)
{
	stm_unlink_bank();
}

static const struct bank_sys systems[] = {
	{ "stm", stm_setup, stm_open, stm_transfer, stm_audit, stm_close, stm_teardown },
	{ "stm_uring", stm_setup, stm_uring_open, stm_uring_transfer, stm_audit, stm_close,
	  stm_teardown },
	{ "stm_checked", stm_setup, stm_open, stm_checked_transfer, stm_audit, stm_close,
	  stm_teardown },
	{ "lmdb", lmdb_setup, lmdb_open, lmdb_transfer, lmdb_audit, lmdb_close, lmdb_teardown },
	{ "sqlite", sql_setup, sql_open, sql_transfer, sql_audit, sql_close, sql_teardown },
	{ "redis", redis_setup, redis_open, redis_transfer, redis_audit, redis_close,
	  redis_teardown },
};

#define NSYS	(int)(sizeof(systems) / sizeof(systems[0]))

static void child(const struct bank_sys *sys, struct bank_shared *sh, int idx, int auditor)
{
	struct bank_counts *c = &sh->c[idx];
	uint64_t rng = 0x2545f4914f6cdd1dull * (idx + 1);
	void *h;
	int r;

	pin_cpu(idx % ncpus());
	h = sys->open();
	if (!h) {
		c->err = -EIO;
		snprintf(c->why, sizeof(c->why), "%s: open failed", sys->id);
		_exit(1);
	}
	while (!sh->go)
		usleep(100);
	while (!sh->stop) {
		if (auditor) {
			int64_t total;

			r = sys->audit(h, &total);
			if (r) {
				c->err = r;
				snprintf(c->why, sizeof(c->why), "%s: audit: %s", sys->id,
					 strerror(-r));
				break;
			}
			c->audits++;
			if (total != (int64_t)NACCT * START)
				c->bad_audits++;
			usleep(1000);	/* an auditor alongside, not a load */
			continue;
		}
		r = sys->transfer(h, &rng, c);
		if (r < 0) {
			c->err = r;
			snprintf(c->why, sizeof(c->why), "%s: transfer: %s", sys->id, strerror(-r));
			break;
		}
		c->transfers += r;
	}
	sys->close(h);
	_exit(c->err ? 1 : 0);
}

/* One run: @procs workers and an auditor for @ms; fills @res. */
static int bank_run(const struct bank_sys *sys, int procs, int ms, struct bank_result *res)
{
	struct bank_shared *sh;
	pid_t pid[MAX_PROCS + 1];
	int64_t total = 0;
	uint64_t t0, t1;
	void *h;
	int i, err = 0;

	memset(res, 0, sizeof(*res));
	err = sys->setup(res->why, sizeof(res->why));
	if (err)
		return err;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		sys->teardown();
		return -ENOMEM;
	}
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i <= procs; i++) {
		pid[i] = fork();
		if (!pid[i])
			child(sys, sh, i, i == procs);
	}
	usleep(50000);
	t0 = now_ns();
	sh->go = 1;
	usleep(ms * 1000);
	sh->stop = 1;
	t1 = now_ns();
	for (i = 0; i <= procs; i++) {
		int status = 0;

		if (pid[i] > 0)
			waitpid(pid[i], &status, 0);
		if (pid[i] < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			err = -EIO;
			snprintf(res->why, sizeof(res->why), "%s",
				 sh->c[i].why[0] ? sh->c[i].why : "a process failed");
		}
	}
	for (i = 0; i < procs; i++) {
		res->transfers += sh->c[i].transfers;
		res->declined += sh->c[i].declined;
		res->conflicts += sh->c[i].conflicts;
	}
	res->audits = sh->c[procs].audits;
	res->bad_audits = sh->c[procs].bad_audits;
	res->per_s = res->transfers / ((t1 - t0) / 1e9);
	/* The total, once more, after everyone stopped. */
	h = sys->open();
	if (!h || sys->audit(h, &total)) {
		err = err ?: -EIO;
		snprintf(res->why, sizeof(res->why), "%s: final audit failed", sys->id);
	}
	if (h)
		sys->close(h);
	res->final_ok = total == (int64_t)NACCT * START;
	if (!err && (!res->final_ok || res->bad_audits)) {
		err = -EIO;
		snprintf(res->why, sizeof(res->why), "%s: total %lld, %llu bad audits", sys->id,
			 (long long)total, (unsigned long long)res->bad_audits);
	}
	munmap(sh, sizeof(*sh));
	sys->teardown();
	return err;
}

int bank_bench(struct bank_table *t)
{
	static const int procs[BANK_PROCS] = { 1, 2, 4 };
	int s, p, r, err, broke = 0;
	double v;

	memset(t, 0, sizeof(*t));
	for (s = 0; s < NSYS && s < BANK_SYSTEMS; s++) {
		t->sys[s] = systems[s].id;
		for (p = 0; p < BANK_PROCS; p++) {
			struct bank_result *res = &t->r[s][p];
			double best = 0;

			t->procs[p] = procs[p];
			/* The best of cfg.bank_rounds runs, each freshly set up. */
			for (r = 0; r < cfg.bank_rounds; r++) {
				struct bank_result one;

				err = bank_run(&systems[s], procs[p], cfg.bank_ms, &one);
				if (err) {
					*res = one;
					res->err = err;
					break;
				}
				v = one.per_s;
				if (v > best) {
					best = v;
					*res = one;
				}
			}
			if (res->err && !strstr(res->why, "did not start"))
				broke = 1;
			if (res->err && p == 0 && strstr(res->why, "did not start")) {
				/* Not installed here: the other counts are n/a too. */
				for (r = 1; r < BANK_PROCS; r++) {
					t->procs[r] = procs[r];
					t->r[s][r] = *res;
				}
				printf("stm-bench: bank %-9s n/a: %s\n", systems[s].id, res->why);
				break;
			}
			printf("stm-bench: bank %-9s %d process%s: %9.0f transfers/s, %llu conflicts, "
			       "%llu declined, %llu audits%s%s\n", systems[s].id, procs[p],
			       procs[p] > 1 ? "es" : "", res->per_s,
			       (unsigned long long)res->conflicts,
			       (unsigned long long)res->declined,
			       (unsigned long long)res->audits, res->err ? ": " : "",
			       res->err ? res->why : "");
			fflush(stdout);
		}
		t->nsys++;
	}
	return broke ? -EIO : 0;
}
