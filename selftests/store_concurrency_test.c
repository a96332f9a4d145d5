// SPDX-License-Identifier: GPL-2.0
/*
 * store_concurrency_test.c - several processes on one store.
 *
 * - snapshot reads never see half of a multi-key commit;
 * - a bank: 4 processes x many transfers over 5 accounts, retrying on
 *   ESTALE: the total is conserved and conflicts are really observed;
 * - non-blocking committers under contention see EBUSY and lose nothing;
 * - blocking commits over the same keys in opposite orders never deadlock;
 * - processes killed mid-commit leave nothing locked or half-written;
 * - LIST under concurrent churn returns every stable key exactly once.
 *
 * Every loop is bounded by a count; nothing is decided by timing.  Workers
 * are processes (fork), each with its own fd attached to the store.
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define NPROC	4
#define RACE_ROUNDS	25
#define STABLE		150
#define CHURN_OPS	3000

/* Counters shared with the workers (MAP_SHARED). */
struct shm {
	int ready;
	int stop;
	int done;
	long long progress[NPROC + 1];
	long long ok[NPROC + 1];
	long long conflicts[NPROC + 1];
	long long busy[NPROC + 1];
	long long reads[NPROC + 1];
	long long errors[NPROC + 1];
	long long total_conflicts;
	long long total_busy;
	char name[STMDEV_NAME_MAX];
	char msg[NPROC + 1][160];
	/* create/unlink races: per round, per worker */
	int create_res[RACE_ROUNDS][NPROC];
	int unlink_res[RACE_ROUNDS][NPROC];
	int shared_res[RACE_ROUNDS][NPROC];
	/* LIST churn: what each churn commit wrote to its stable key */
	struct { __u64 version; __u32 len; __u32 pad; } log[CHURN_OPS + STABLE];
	int nlog;
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)

/* Record the first error of worker idx (printed by the parent). */
static int fail(struct shm *s, int idx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct shm *s, int idx, const char *fmt, ...)
{
	va_list ap;

	if (INC(s->errors[idx], 1) == 1) {
		va_start(ap, fmt);
		vsnprintf(s->msg[idx], sizeof(s->msg[idx]), fmt, ap);
		va_end(ap);
	}
	return 1;
}

/* Spin (bounded, yielding) until `ready` reaches n; false if it never does. */
static bool wait_ready(struct shm *s, int n)
{
	long i;

	for (i = 0; i < 2000000; i++) {
		if (LOAD(s->ready) >= n)
			return true;
		sched_yield();
	}
	return false;
}

FIXTURE(conc) {
	int fd;
	struct shm *s;
	pid_t pids[NPROC + 1];
	int npids;
};

FIXTURE_SETUP(conc)
{
	self->s = t_shared(sizeof(struct shm));
	ASSERT_NE(NULL, self->s);
	t_name(self->s->name, sizeof(self->s->name), "conc");
	self->fd = t_open_attach(self->s->name, STMDEV_ATTACH_CREAT |
				   STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(conc)
{
	int i;

	/* kill leftovers of a failed test before dropping the store */
	for (i = 0; i < self->npids; i++)
		if (self->pids[i] > 0 && kill(self->pids[i], 0) == 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
	if (self->fd >= 0)
		close(self->fd);
	if (self->s) {
		t_unlink(self->s->name);
		for (i = 0; i <= NPROC; i++)
			if (self->s->errors[i])
				TH_LOG("worker %d: %lld errors, first: %s", i,
				       self->s->errors[i], self->s->msg[i]);
		munmap(self->s, sizeof(struct shm));
	}
}

static void spawn(FIXTURE_DATA(conc) *self, int (*fn)(void *, int), int idx)
{
	self->pids[self->npids++] = t_fork(fn, self->s, idx);
}

/* Wait for all workers; returns the number that failed. */
static int reap(FIXTURE_DATA(conc) *self)
{
	int bad = t_wait_all(self->pids, self->npids);

	self->npids = 0;
	return bad;
}

static long long sum(const long long *v)
{
	long long t = 0;
	int i;

	for (i = 0; i <= NPROC; i++)
		t += v[i];
	return t;
}

/* ---- snapshot consistency ---------------------------------------------- */

#define SNAP_KEYS	8
#define SNAP_COMMITS	6000
#define SNAP_READS	80000
#define SNAP_VMAX	(8 + 12 * 8)

/* Commit i writes every key with the same (i-dependent) length and bytes. */
static __u32 snap_len(long i)
{
	return 8 + (i % 13) * 8;
}

static void snap_fill(unsigned char *buf, long i)
{
	__u64 le = htole64((__u64)i);

	memcpy(buf, &le, 8);
	memset(buf + 8, (int)(i & 0xff), snap_len(i) - 8);
}

static int snap_writer(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e[SNAP_KEYS];
	unsigned char val[SNAP_VMAX];
	char keys[SNAP_KEYS][4];
	__u64 ver, prev = 0;
	long i;
	int k, fd, ret;

	t_pin(idx);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	for (k = 0; k < SNAP_KEYS; k++)
		snprintf(keys[k], sizeof(keys[k]), "s%d", k);
	if (!wait_ready(s, 2))
		return fail(s, idx, "readers never started");

	for (i = 1; i <= SNAP_COMMITS; i++) {
		snap_fill(val, i);
		for (k = 0; k < SNAP_KEYS; k++) {
			/* every 5th commit deletes them all */
			if (i % 5 == 0)
				cent_del(&e[k], keys[k], 2);
			else
				cent_put(&e[k], keys[k], 2, val, snap_len(i));
		}
		ret = t_commit(fd, e, SNAP_KEYS, &ver, NULL);
		if (ret < 0)
			return fail(s, idx, "commit %ld: %d", i, ret);
		if (ver <= prev)
			return fail(s, idx, "version went %llu -> %llu",
				    (unsigned long long)prev,
				    (unsigned long long)ver);
		prev = ver;
		STORE(s->progress[idx], i);
	}
	STORE(s->done, 1);
	close(fd);
	return 0;
}

static int snap_reader(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_read_ent re[SNAP_KEYS];
	unsigned char buf[SNAP_KEYS][SNAP_VMAX], want[SNAP_VMAX];
	char keys[SNAP_KEYS][4];
	long last_i = 0, n;
	__u64 clock, last_clock = 0;
	int k, fd, ret, order[SNAP_KEYS];

	t_pin(idx);
	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	for (k = 0; k < SNAP_KEYS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "s%d", k);
		/* reader 2 asks for the keys in reverse order */
		order[k] = idx == 2 ? SNAP_KEYS - 1 - k : k;
	}
	INC(s->ready, 1);

	for (n = 0; n < SNAP_READS; n++) {
		bool done = LOAD(s->done);
		int present = 0;
		long i;

		for (k = 0; k < SNAP_KEYS; k++)
			rent_init(&re[k], keys[order[k]], 2, buf[k], SNAP_VMAX);
		ret = t_read(fd, re, SNAP_KEYS, &clock);
		if (ret < 0)
			return fail(s, idx, "read: %d", ret);
		INC(s->reads[idx], 1);
		if (clock < last_clock)
			return fail(s, idx, "snapshot clock went back %llu -> %llu",
				    (unsigned long long)last_clock,
				    (unsigned long long)clock);
		last_clock = clock;

		for (k = 0; k < SNAP_KEYS; k++)
			present += !!(re[k].flags & STMDEV_RENT_PRESENT);
		if (present != 0 && present != SNAP_KEYS)
			return fail(s, idx, "%d of %d keys present", present,
				    SNAP_KEYS);
		for (k = 1; k < SNAP_KEYS; k++)
			if (re[k].version != re[0].version)
				return fail(s, idx, "versions differ: %llu vs %llu",
					    (unsigned long long)re[0].version,
					    (unsigned long long)re[k].version);
		if (re[0].version > clock)
			return fail(s, idx, "version %llu after snapshot clock %llu",
				    (unsigned long long)re[0].version,
				    (unsigned long long)clock);
		if (!present) {
			if (re[0].version != 0)
				return fail(s, idx, "absent key with version");
			goto next;
		}
		i = (long)t_le64(buf[0]);
		if (i < 1 || i > SNAP_COMMITS || i % 5 == 0)
			return fail(s, idx, "bad value index %ld", i);
		if (i < last_i)
			return fail(s, idx, "went back in time: %ld after %ld",
				    i, last_i);
		last_i = i;
		snap_fill(want, i);
		for (k = 0; k < SNAP_KEYS; k++)
			if (re[k].val_len != snap_len(i) ||
			    memcmp(buf[k], want, snap_len(i)))
				return fail(s, idx, "key %d torn at commit %ld",
					    order[k], i);
		INC(s->ok[idx], 1);
next:
		if (done)
			break;
	}
	close(fd);
	return 0;
}

TEST_F_TIMEOUT(conc, snapshot_never_half_visible, 90)
{
	struct t_val v;

	spawn(self, snap_reader, 1);
	spawn(self, snap_reader, 2);
	spawn(self, snap_writer, 0);
	ASSERT_EQ(0, reap(self));
	EXPECT_EQ(0LL, sum(self->s->errors));
	EXPECT_EQ((long long)SNAP_COMMITS, self->s->progress[0]);
	/* each reader read at least once after the writer finished */
	EXPECT_LT(0LL, self->s->reads[1]);
	EXPECT_LT(0LL, self->s->reads[2]);
	TH_LOG("reads %lld + %lld, with keys present %lld + %lld",
	       self->s->reads[1], self->s->reads[2], self->s->ok[1],
	       self->s->ok[2]);
	/* the last commit (3000, a delete) is what the store holds */
	ASSERT_EQ(0, t_get_str(self->fd, "s0", &v));
	EXPECT_FALSE(v.present);
}

/* ---- the bank ------------------------------------------------------------ */

#define ACCOUNTS	5
#define INITIAL		1000
#define TRANSFERS	400
#define MAX_RETRIES	5000

static const char *const accts[ACCOUNTS] = { "acct-0", "acct-1", "acct-2",
					    "acct-3", "acct-4" };

/* READ all accounts in one snapshot and check the total. */
static int bank_audit(int fd, __s64 *total)
{
	struct stmdev_read_ent re[ACCOUNTS];
	__u64 buf[ACCOUNTS];
	int a, ret;

	for (a = 0; a < ACCOUNTS; a++)
		rent_init(&re[a], accts[a], strlen(accts[a]), &buf[a], 8);
	ret = t_read(fd, re, ACCOUNTS, NULL);
	if (ret < 0)
		return ret;
	*total = 0;
	for (a = 0; a < ACCOUNTS; a++) {
		if (!(re[a].flags & STMDEV_RENT_PRESENT) || re[a].val_len != 8)
			return -EPROTO;
		*total += t_le64(&buf[a]);
	}
	return 0;
}

/*
 * Workers 0 and 1 validate with PUT+CHECK, workers 2 and 3 with READ
 * entries and blind PUTs: both are the "version seen" of the contract.
 */
static int bank_worker(void *arg, int idx)
{
	struct shm *s = arg;
	__u64 seed = 0x9e3779b97f4a7c15ULL * (idx + 1);
	long t, limit = TRANSFERS;
	int fd;

	t_pin(idx);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	INC(s->ready, 1);
	if (!wait_ready(s, NPROC))
		return fail(s, idx, "others never started");

	for (t = 0; t < limit; t++) {
		int a = t_rand(&seed) % ACCOUNTS;
		int b = (a + 1 + t_rand(&seed) % (ACCOUNTS - 1)) % ACCOUNTS;
		__s64 amount = 1 + t_rand(&seed) % 50;
		int r, ret;

		for (r = 0; r < MAX_RETRIES; r++) {
			struct stmdev_commit_ent e[4];
			struct stmdev_read_ent re[2];
			__u64 buf[2], nb[2];
			__u32 conflict;

			rent_init(&re[0], accts[a], 6, &buf[0], 8);
			rent_init(&re[1], accts[b], 6, &buf[1], 8);
			ret = t_read(fd, re, 2, NULL);
			if (ret < 0)
				return fail(s, idx, "read: %d", ret);
			if (re[0].val_len != 8 || re[1].val_len != 8)
				return fail(s, idx, "account not 8 bytes");
			nb[0] = htole64((__u64)(t_le64(&buf[0]) - amount));
			nb[1] = htole64((__u64)(t_le64(&buf[1]) + amount));
			/* widen the window between read and commit */
			if ((t + r) & 1)
				sched_yield();
			if (idx < 2) {
				cent_put_check(&e[0], accts[a], 6, &nb[0], 8,
					       re[0].version);
				cent_put_check(&e[1], accts[b], 6, &nb[1], 8,
					       re[1].version);
				ret = t_commit(fd, e, 2, NULL, &conflict);
			} else {
				cent_read(&e[0], accts[b], 6, re[1].version);
				cent_put(&e[1], accts[a], 6, &nb[0], 8);
				cent_read(&e[2], accts[a], 6, re[0].version);
				cent_put(&e[3], accts[b], 6, &nb[1], 8);
				ret = t_commit(fd, e, 4, NULL, &conflict);
			}
			if (ret == 0)
				break;
			if (ret != -ESTALE)
				return fail(s, idx, "commit: %d", ret);
			if ((idx < 2 && conflict > 1) ||
			    (idx >= 2 && conflict != 0 && conflict != 2))
				return fail(s, idx, "conflict index %u", conflict);
			INC(s->conflicts[idx], 1);
			INC(s->total_conflicts, 1);
		}
		if (r == MAX_RETRIES)
			return fail(s, idx, "transfer %ld never committed", t);
		INC(s->ok[idx], 1);

		if (t % 16 == 0) {
			__s64 total;

			ret = bank_audit(fd, &total);
			if (ret < 0)
				return fail(s, idx, "audit: %d", ret);
			if (total != ACCOUNTS * INITIAL)
				return fail(s, idx, "audit saw total %lld",
					    (long long)total);
		}
		/* no conflict anywhere yet: keep going, up to 4x */
		if (t == limit - 1 && limit < 4 * TRANSFERS &&
		    LOAD(s->total_conflicts) == 0)
			limit += TRANSFERS;
	}
	close(fd);
	return 0;
}

TEST_F_TIMEOUT(conc, bank_conserves_total, 120)
{
	struct stmdev_commit_ent e[ACCOUNTS];
	struct stmdev_stats st;
	__s64 init = (__s64)htole64(INITIAL), total;
	int a, i;

	for (a = 0; a < ACCOUNTS; a++)
		cent_put(&e[a], accts[a], 6, &init, 8);
	ASSERT_EQ(0, t_commit(self->fd, e, ACCOUNTS, NULL, NULL));

	for (i = 0; i < NPROC; i++)
		spawn(self, bank_worker, i);
	ASSERT_EQ(0, reap(self));
	ASSERT_EQ(0LL, sum(self->s->errors));

	ASSERT_EQ(0, bank_audit(self->fd, &total));
	EXPECT_EQ((__s64)ACCOUNTS * INITIAL, total);
	for (i = 0; i < NPROC; i++) {
		EXPECT_LE((long long)TRANSFERS, self->s->ok[i]);
	}
	TH_LOG("%lld transfers, %lld conflicts", sum(self->s->ok),
	       sum(self->s->conflicts));
	EXPECT_LT(0LL, sum(self->s->conflicts)) {
		TH_LOG("4 processes never conflicted on 5 accounts");
	}

	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ((__u64)(1 + sum(self->s->ok)), st.commits);
	EXPECT_EQ((__u64)sum(self->s->conflicts), st.conflicts);
	EXPECT_EQ(0ULL, st.busy);
	EXPECT_EQ((__u64)ACCOUNTS, st.keys);
}

/* ---- busy: non-blocking committers ---------------------------------------- */

#define BUSY_KEYS	48
#define BUSY_COMMITS	300
#define BUSY_RETRIES	200000

static int busy_worker(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e[BUSY_KEYS];
	char keys[BUSY_KEYS][4];
	__s64 one = (__s64)htole64(1);
	long c, limit = BUSY_COMMITS;
	__u32 flags = 0;
	int k, fd;

	/* workers 0, 1 attach NONBLOCK; 2, 3 pass STMDEV_COMMIT_NONBLOCK */
	t_pin(idx);
	fd = t_open_attach(s->name, idx < 2 ? STMDEV_ATTACH_NONBLOCK : 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	if (idx >= 2)
		flags = STMDEV_COMMIT_NONBLOCK;
	for (k = 0; k < BUSY_KEYS; k++) {
		int kk = idx & 1 ? BUSY_KEYS - 1 - k : k;

		snprintf(keys[kk], sizeof(keys[kk]), "b%02d", kk);
		cent_add(&e[k], keys[kk], 3, &one);
	}
	INC(s->ready, 1);
	if (!wait_ready(s, NPROC))
		return fail(s, idx, "others never started");

	for (c = 0; c < limit; c++) {
		int r, ret = -1;

		/* EBUSY: retry the same commit, without redoing anything */
		for (r = 0; r < BUSY_RETRIES; r++) {
			ret = t_commit_flags(fd, e, BUSY_KEYS, flags, NULL, NULL);
			if (ret != -EBUSY)
				break;
			INC(s->busy[idx], 1);
			INC(s->total_busy, 1);
			if (r & 1)
				sched_yield();
		}
		if (ret < 0)
			return fail(s, idx, "commit %ld: %d after %d retries",
				    c, ret, r);
		INC(s->ok[idx], 1);
		if (c == limit - 1 && limit < 10 * BUSY_COMMITS &&
		    LOAD(s->total_busy) == 0)
			limit += BUSY_COMMITS;
	}
	INC(s->done, 1);
	close(fd);
	return 0;
}

/*
 * Alongside the busy committers: reads never fail with EBUSY, and every
 * snapshot shows all keys at the same count (each commit adds 1 to all).
 */
static int busy_reader(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_read_ent re[BUSY_KEYS];
	char keys[BUSY_KEYS][4];
	__u64 buf[BUSY_KEYS];
	long n;
	int k, fd, ret;

	t_pin(idx);
	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	for (k = 0; k < BUSY_KEYS; k++)
		snprintf(keys[k], sizeof(keys[k]), "b%02d", k);
	for (n = 0; n < 200000 && LOAD(s->done) < NPROC; n++) {
		for (k = 0; k < BUSY_KEYS; k++)
			rent_init(&re[k], keys[k], 3, &buf[k], 8);
		ret = t_read(fd, re, BUSY_KEYS, NULL);
		if (ret < 0)
			return fail(s, idx, "read: %d", ret);
		INC(s->reads[idx], 1);
		for (k = 1; k < BUSY_KEYS; k++)
			if (re[k].version != re[0].version ||
			    (re[0].version && buf[k] != buf[0]))
				return fail(s, idx, "snapshot: b%02d differs", k);
	}
	close(fd);
	return 0;
}

TEST_F_TIMEOUT(conc, nonblocking_busy_loses_nothing, 120)
{
	struct stmdev_stats st;
	long long commits;
	int i;

	spawn(self, busy_reader, NPROC);
	for (i = 0; i < NPROC; i++)
		spawn(self, busy_worker, i);
	ASSERT_EQ(0, reap(self));
	ASSERT_EQ(0LL, sum(self->s->errors));

	commits = sum(self->s->ok);
	TH_LOG("%lld commits, %lld EBUSY, %lld concurrent snapshots", commits,
	       sum(self->s->busy), self->s->reads[NPROC]);
	EXPECT_LT(0LL, sum(self->s->busy)) {
		TH_LOG("4 non-blocking committers on %d keys never saw EBUSY",
		       BUSY_KEYS);
	}
	/* every successful commit added exactly 1 to every key; EBUSY none */
	for (i = 0; i < BUSY_KEYS; i++) {
		char key[4];
		__s64 v = -1;

		snprintf(key, sizeof(key), "b%02d", i);
		ASSERT_EQ(0, t_get_i64(self->fd, key, &v, NULL));
		EXPECT_EQ(commits, (long long)v) TH_LOG("key %s", key);
	}
	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ((__u64)commits, st.commits);
	EXPECT_EQ((__u64)sum(self->s->busy), st.busy);
	EXPECT_EQ(0ULL, st.conflicts);
}

/* ---- blocking commits in opposite orders ------------------------------------ */

#define ORDER_KEYS	16
#define ORDER_COMMITS	400

static int order_worker(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e[ORDER_KEYS];
	char keys[ORDER_KEYS][4];
	__u64 val;
	long c;
	int k, fd, ret;

	t_pin(idx);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	INC(s->ready, 1);
	if (!wait_ready(s, 2))
		return fail(s, idx, "other never started");
	for (c = 0; c < ORDER_COMMITS; c++) {
		val = htole64((__u64)(idx * 100000 + c));
		for (k = 0; k < ORDER_KEYS; k++) {
			int kk = idx ? ORDER_KEYS - 1 - k : k;

			snprintf(keys[k], sizeof(keys[k]), "o%02d", kk);
			cent_put(&e[k], keys[k], 3, &val, 8);
		}
		ret = t_commit(fd, e, ORDER_KEYS, NULL, NULL);
		if (ret < 0)
			return fail(s, idx, "commit %ld: %d", c, ret);
		INC(s->ok[idx], 1);
	}
	close(fd);
	return 0;
}

TEST_F_TIMEOUT(conc, opposite_orders_never_deadlock, 90)
{
	struct stmdev_read_ent re[ORDER_KEYS];
	struct stmdev_stats st;
	char keys[ORDER_KEYS][4];
	__u64 buf[ORDER_KEYS];
	int k;

	spawn(self, order_worker, 0);
	spawn(self, order_worker, 1);
	ASSERT_EQ(0, reap(self));
	ASSERT_EQ(0LL, sum(self->s->errors));
	/* all keys hold the value of one and the same (last) commit */
	for (k = 0; k < ORDER_KEYS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "o%02d", k);
		rent_init(&re[k], keys[k], 3, &buf[k], 8);
	}
	ASSERT_EQ(0, t_read(self->fd, re, ORDER_KEYS, NULL));
	for (k = 1; k < ORDER_KEYS; k++) {
		EXPECT_EQ(buf[0], buf[k]);
		EXPECT_EQ(re[0].version, re[k].version);
	}
	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ((__u64)(2 * ORDER_COMMITS), st.commits);
	EXPECT_EQ(0ULL, st.busy);
}

/* ---- processes killed mid-commit ----------------------------------------- */

#define KILL_KEYS	64

static int kill_worker(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e[KILL_KEYS];
	char keys[KILL_KEYS][4];
	__s64 one = (__s64)htole64(1);
	long c;
	int k, fd, ret;

	t_pin(idx);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	for (k = 0; k < KILL_KEYS; k++) {
		int kk = idx & 1 ? KILL_KEYS - 1 - k : k;

		snprintf(keys[k], sizeof(keys[k]), "x%02d", kk);
		cent_add(&e[k], keys[k], 3, &one);
	}
	/* runs until killed (bounded all the same) */
	for (c = 0; c < 1000000; c++) {
		ret = t_commit(fd, e, KILL_KEYS, NULL, NULL);
		if (ret < 0)
			return fail(s, idx, "commit: %d", ret);
		INC(s->progress[idx], 1);
	}
	return 0;
}

TEST_F_TIMEOUT(conc, killed_committers_leave_nothing_locked, 90)
{
	struct stmdev_commit_ent e[KILL_KEYS];
	struct stmdev_read_ent re[KILL_KEYS];
	char keys[KILL_KEYS][4];
	__u64 buf[KILL_KEYS];
	__s64 one = (__s64)htole64(1);
	int i, k, round, status;

	for (k = 0; k < KILL_KEYS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "x%02d", k);
		cent_add(&e[k], keys[k], 3, &one);
	}
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 3; i++)
			spawn(self, kill_worker, i);
		/* let each of them commit a little, then kill them all */
		for (i = 0; i < 3; i++) {
			long n;

			for (n = 0; n < 2000000 &&
			     LOAD(self->s->progress[i]) < 20 * (round + 1); n++)
				sched_yield();
		}
		for (i = 0; i < 3; i++)
			kill(self->pids[i], SIGKILL);
		for (i = 0; i < 3; i++) {
			ASSERT_EQ(self->pids[i], waitpid(self->pids[i], &status, 0));
			EXPECT_TRUE(WIFSIGNALED(status));
		}
		self->npids = 0;
		ASSERT_EQ(0LL, sum(self->s->errors));

		/* nothing is left locked: a non-blocking commit succeeds at once */
		ASSERT_EQ(0, t_commit_flags(self->fd, e, KILL_KEYS,
					      STMDEV_COMMIT_NONBLOCK, NULL, NULL));
		/* and nothing is half-written: all keys moved together */
		for (k = 0; k < KILL_KEYS; k++)
			rent_init(&re[k], keys[k], 3, &buf[k], 8);
		ASSERT_EQ(0, t_read(self->fd, re, KILL_KEYS, NULL));
		for (k = 1; k < KILL_KEYS; k++) {
			ASSERT_EQ(t_le64(&buf[0]), t_le64(&buf[k]))
				TH_LOG("key %d after round %d", k, round);
		}
		/* every counted commit landed; at most one per kill did uncounted */
		EXPECT_LE(sum(self->s->progress) + round + 1, t_le64(&buf[0]));
		EXPECT_GE(sum(self->s->progress) + round + 1 + 3 * (round + 1),
			  t_le64(&buf[0]));
	}
}

/* ---- LIST under churn ------------------------------------------------------- */

#define WALKS		4	/* at least; more while the churn runs */
#define MAX_WALKS	400

static int churn_worker(void *arg, int idx)
{
	struct shm *s = arg;
	__u64 seed = 12345;
	long op, next_new = 0, next_del = 0;
	bool grow = true;
	__u64 ver;
	int fd, ret;

	t_pin(1);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	INC(s->ready, 1);
	for (op = 0; op < CHURN_OPS && !LOAD(s->stop); op++) {
		struct stmdev_commit_ent e[4];
		char k[4][32], val[64];
		int n = 0, nnew = 0, ndel = 0, st = t_rand(&seed) % STABLE;

		/* create two new keys and delete one old one: the table grows */
		for (; nnew < (grow ? 2 : 1); nnew++, n++) {
			snprintf(k[n], sizeof(k[n]), "churn-%ld", next_new + nnew);
			cent_put(&e[n], k[n], strlen(k[n]), "cc", 1 + nnew);
		}
		for (; ndel < (grow ? 1 : 2) && next_del + ndel < next_new;
		     ndel++, n++) {
			snprintf(k[n], sizeof(k[n]), "churn-%ld", next_del + ndel);
			cent_del(&e[n], k[n], strlen(k[n]));
		}
		/* and rewrite a stable key with a new length */
		snprintf(k[n], sizeof(k[n]), "stable-%03d", st);
		memset(val, 'v', sizeof(val));
		cent_put(&e[n], k[n], strlen(k[n]), val, 1 + op % 63);
		n++;
		ret = t_commit(fd, e, n, &ver, NULL);
		if (ret == 0 && s->nlog < (int)ARRAY_SIZE(s->log)) {
			s->log[s->nlog].version = ver;
			s->log[s->nlog].len = 1 + op % 63;
			s->nlog++;
		}
		if (ret == -ENOSPC && grow) {
			grow = false;	/* max_keys_per_store: shrink from now on */
			continue;
		}
		if (ret < 0)
			return fail(s, idx, "churn commit %ld: %d", op, ret);
		next_new += nnew;
		next_del += ndel;
		INC(s->progress[idx], 1);
	}
	STORE(s->done, 1);
	close(fd);
	return 0;
}

#define SEEN_MAX	8000

struct walk {
	int stable[STABLE];
	long records;
	int bad;
	/* (version, val_len) of stable-key records, checked after the churn */
	int nseen;
	struct { __u64 version; __u32 len; } seen[SEEN_MAX];
};

static void walk_rec(const struct stmdev_key_rec *rec, const unsigned char *key,
		     void *arg)
{
	struct walk *w = arg;
	char k[32];
	int n;

	w->records++;
	if (rec->version == 0)
		w->bad++;
	if (rec->key_len >= sizeof(k))
		return;
	memcpy(k, key, rec->key_len);
	k[rec->key_len] = 0;
	if (sscanf(k, "stable-%d", &n) == 1 && n >= 0 && n < STABLE) {
		w->stable[n]++;
		if (rec->val_len < 1 || rec->val_len > 63)
			w->bad++;
		if (w->nseen < SEEN_MAX) {
			w->seen[w->nseen].version = rec->version;
			w->seen[w->nseen].len = rec->val_len;
			w->nseen++;
		}
	}
}

TEST_F_TIMEOUT(conc, list_under_churn_returns_stable_keys_once, 120)
{
	unsigned char buf[256] __attribute__((aligned(8)));
	long long churned = 0;
	long records = 0;
	struct walk *w;
	int i, n;

	w = calloc(1, sizeof(*w));
	ASSERT_NE(NULL, w);
	for (i = 0; i < STABLE; i++) {
		char k[24];
		__u64 ver;

		snprintf(k, sizeof(k), "stable-%03d", i);
		ASSERT_EQ(0, t_put(self->fd, k, strlen(k), "s", 1, &ver));
		self->s->log[CHURN_OPS + i].version = ver;
		self->s->log[CHURN_OPS + i].len = 1;
	}
	t_pin(0);
	spawn(self, churn_worker, 0);
	ASSERT_TRUE(wait_ready(self->s, 1));
	/* start once the churn is committing */
	for (i = 0; i < 2000000 && LOAD(self->s->progress[0]) < 10; i++)
		sched_yield();

	for (n = 0; n < MAX_WALKS; n++) {
		__u64 cursor = 0;
		long calls, before = LOAD(self->s->progress[0]);
		__u32 count;

		memset(w->stable, 0, sizeof(w->stable));
		w->records = 0;
		w->bad = 0;
		for (calls = 0; calls < 100000; calls++) {
			ASSERT_EQ(0, t_list(self->fd, &cursor, buf, sizeof(buf),
					      &count));
			ASSERT_EQ((int)count, t_list_walk(buf, sizeof(buf), count,
							    walk_rec, w));
			if (!cursor)
				break;
			if (calls % 4 == 3)
				sched_yield();	/* let the churn run */
		}
		ASSERT_LT(calls, 100000);
		EXPECT_EQ(0, w->bad);
		for (i = 0; i < STABLE; i++) {
			ASSERT_EQ(1, w->stable[i])
				TH_LOG("walk %d: stable-%03d returned %d times",
				       n, i, w->stable[i]);
		}
		churned += LOAD(self->s->progress[0]) - before;
		records += w->records;
		/* keep walking while the churn runs */
		if (n + 1 >= WALKS && (LOAD(self->s->done) ||
				       LOAD(self->s->progress[0]) >= CHURN_OPS))
			break;
	}
	TH_LOG("%d walks, %ld records, %lld churn commits during walks",
	       n + 1, records, churned);
	STORE(self->s->stop, 1);
	ASSERT_EQ(0, reap(self));
	ASSERT_EQ(0LL, sum(self->s->errors));

	/* every record showed the length its version was written with */
	for (i = 0; i < w->nseen; i++) {
		int j, found = -1;

		for (j = 0; j < (int)ARRAY_SIZE(self->s->log); j++)
			if (self->s->log[j].version == w->seen[i].version) {
				found = j;
				break;
			}
		ASSERT_LE(0, found) TH_LOG("record version %llu never committed",
					   (unsigned long long)w->seen[i].version);
		ASSERT_EQ(self->s->log[found].len, w->seen[i].len)
			TH_LOG("record at version %llu", (unsigned long long)w->seen[i].version);
	}
	TH_LOG("%d stable records checked against their commits", w->nseen);
	free(w);
}

/* ---- LIST records under a hot writer ------------------------------------ */

#define HOT_COMMITS	20000
#define HOT_LISTS	40000

static int hot_writer(void *arg, int idx)
{
	struct shm *s = arg;
	char val[64];
	__u64 ver;
	long i;
	int fd, ret;

	t_pin(1);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, idx, "attach: %d", fd);
	memset(val, 'h', sizeof(val));
	INC(s->ready, 1);
	for (i = 0; i < HOT_COMMITS && !LOAD(s->stop); i++) {
		__u32 len = 1 + (i % 2) * 40 + i % 7;

		ret = t_put(fd, "hot", 3, val, len, &ver);
		if (ret < 0)
			return fail(s, idx, "put: %d", ret);
		/* version -> length, in a ring the parent searches */
		s->log[i % ARRAY_SIZE(s->log)].version = ver;
		s->log[i % ARRAY_SIZE(s->log)].len = len;
		STORE(s->nlog, (int)(i + 1));
	}
	STORE(s->done, 1);
	close(fd);
	return 0;
}

static void hot_rec(const struct stmdev_key_rec *rec, const unsigned char *key,
		    void *arg)
{
	struct walk *w = arg;

	if (rec->key_len != 3 || memcmp(key, "hot", 3)) {
		w->bad++;
		return;
	}
	w->records++;
	if (w->nseen < SEEN_MAX &&
	    (!w->nseen || w->seen[w->nseen - 1].version != rec->version)) {
		w->seen[w->nseen].version = rec->version;
		w->seen[w->nseen].len = rec->val_len;
		w->nseen++;
	}
}

/* A LIST record's val_len is the length of the version it reports. */
TEST_F_TIMEOUT(conc, list_record_matches_its_version, 90)
{
	unsigned char buf[64] __attribute__((aligned(8)));
	struct walk *w;
	long n, matched = 0;
	int j, checked = 0, nlog;
	__u64 latest;
	__u32 len;

	w = calloc(1, sizeof(*w));
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, t_put(self->fd, "hot", 3, "x", 1, NULL));
	t_pin(0);
	spawn(self, hot_writer, 0);
	ASSERT_TRUE(wait_ready(self->s, 1));
	for (n = 0; n < HOT_LISTS && !LOAD(self->s->done) &&
	     w->nseen < SEEN_MAX; n++) {
		__u64 cursor = 0;
		__u32 count;

		ASSERT_EQ(0, t_list(self->fd, &cursor, buf, sizeof(buf), &count));
		ASSERT_EQ(1U, count);
		ASSERT_EQ(1, t_list_walk(buf, sizeof(buf), count, hot_rec, w));
		/* check what the writer has logged, while its ring holds it */
		nlog = LOAD(self->s->nlog);
		if (!nlog)
			continue;
		latest = self->s->log[(nlog - 1) % ARRAY_SIZE(self->s->log)].version;
		for (; checked < w->nseen && w->seen[checked].version <= latest;
		     checked++) {
			int found = -1;

			for (j = 0; j < (int)ARRAY_SIZE(self->s->log); j++)
				if (self->s->log[j].version == w->seen[checked].version) {
					found = j;
					break;
				}
			if (found < 0)
				continue;	/* the initial value, or out of the ring */
			len = LOAD(self->s->log[found].len);
			if (LOAD(self->s->log[found].version) != w->seen[checked].version)
				continue;	/* overwritten as we looked */
			matched++;
			EXPECT_EQ(len, w->seen[checked].len)
				TH_LOG("LIST record: version %llu with val_len %u",
				       (unsigned long long)w->seen[checked].version,
				       w->seen[checked].len);
		}
	}
	STORE(self->s->stop, 1);
	ASSERT_EQ(0, reap(self));
	ASSERT_EQ(0LL, sum(self->s->errors));
	EXPECT_EQ(0, w->bad);
	TH_LOG("%ld LIST calls, %d distinct versions seen, %ld checked, %d commits",
	       n, w->nseen, matched, self->s->nlog);
	free(w);
}

/* ---- create / unlink races ------------------------------------------------ */

static bool barrier(struct shm *s, int phase)
{
	INC(s->ready, 1);
	return wait_ready(s, (phase + 1) * NPROC);
}

static void race_name(char *buf, size_t len, const struct shm *s,
		      const char *what, int round)
{
	snprintf(buf, len, "%.40s-%s%d", s->name, what, round);
}

static int race_worker(void *arg, int idx)
{
	struct shm *s = arg;
	char name[STMDEV_NAME_MAX], shared[STMDEV_NAME_MAX];
	__s64 one = (__s64)htole64(1);
	struct stmdev_commit_ent e;
	int r, fd, phase = 0;

	t_pin(idx);
	for (r = 0; r < RACE_ROUNDS; r++) {
		race_name(name, sizeof(name), s, "x", r);
		race_name(shared, sizeof(shared), s, "s", r);
		if (!barrier(s, phase++))
			return fail(s, idx, "barrier");
		/* CREAT|EXCL: exactly one wins */
		fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
				     0600);
		s->create_res[r][idx] = fd < 0 ? fd : 0;
		if (fd >= 0)
			close(fd);
		/* CREAT alone: everybody gets the same store */
		fd = t_open_attach(shared, STMDEV_ATTACH_CREAT, 0600);
		if (fd >= 0) {
			cent_add(&e, "n", 1, &one);
			s->shared_res[r][idx] = t_commit(fd, &e, 1, NULL, NULL);
			close(fd);
		} else {
			s->shared_res[r][idx] = fd;
		}
		if (!barrier(s, phase++))
			return fail(s, idx, "barrier");
		/* UNLINK: exactly one wins */
		s->unlink_res[r][idx] = t_unlink(name);
	}
	return 0;
}

TEST_F_TIMEOUT(conc, create_and_unlink_races_have_one_winner, 90)
{
	char shared[STMDEV_NAME_MAX];
	long long per_user = t_param_get("max_stores_per_user");
	int r, i;

	/*
	 * RACE_ROUNDS shared stores live at once, all root's: make room
	 * above max_stores_per_user (32 by default; isolation_test covers
	 * the limit), for this test only.
	 */
	if (per_user > 0 && per_user < 1024 && t_param_writable("max_stores_per_user"))
		ASSERT_EQ(0, t_param_set("max_stores_per_user", 1024));
	for (i = 0; i < NPROC; i++)
		spawn(self, race_worker, i);
	r = reap(self);
	if (per_user > 0 && per_user < 1024)
		t_param_set("max_stores_per_user", per_user);
	ASSERT_EQ(0, r);
	ASSERT_EQ(0LL, sum(self->s->errors));
	for (r = 0; r < RACE_ROUNDS; r++) {
		int created = 0, eexist = 0, unlinked = 0, enoent = 0, fd;
		__s64 n = 0;

		for (i = 0; i < NPROC; i++) {
			created += self->s->create_res[r][i] == 0;
			eexist += self->s->create_res[r][i] == -EEXIST;
			unlinked += self->s->unlink_res[r][i] == 0;
			enoent += self->s->unlink_res[r][i] == -ENOENT;
			EXPECT_EQ(0, self->s->shared_res[r][i]);
		}
		EXPECT_EQ(1, created) TH_LOG("round %d", r);
		EXPECT_EQ(NPROC - 1, eexist) TH_LOG("round %d", r);
		EXPECT_EQ(1, unlinked) TH_LOG("round %d", r);
		EXPECT_EQ(NPROC - 1, enoent) TH_LOG("round %d", r);

		race_name(shared, sizeof(shared), self->s, "s", r);
		fd = t_open_attach(shared, 0, 0);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, t_get_i64(fd, "n", &n, NULL));
		EXPECT_EQ(NPROC, n) TH_LOG("round %d: one store per name", r);
		close(fd);
		EXPECT_EQ(0, t_unlink(shared));
	}
}

TEST_HARNESS_MAIN
