// SPDX-License-Identifier: GPL-2.0
/*
 * containers_test.c - the transactional containers across processes
 * (issue 12): a bounded queue between 4 producer and 4 consumer processes
 * delivering every item exactly once, consumers blocked on an empty queue
 * using no CPU (their ticks in /proc/PID/stat and the store's wait
 * counters over 2 s of sleep; no wall-time assertion), take from one
 * queue orElse another, an MVar hand-off, a semaphore never over-acquired,
 * map/set/array, map iteration rerun by a concurrent insert.
 */
#include <errno.h>
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

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#define LT_STORE_PREFIX "cont"
#include "lib_test_util.h"

#define PRODUCERS	4
#define CONSUMERS	4
#define ITEMS		150	/* per producer */
#define STOP		UINT32_MAX

FIXTURE(ct) {
	char name[STM_NAME_MAX + 1];
	struct stm_store *s;
};

FIXTURE_SETUP(ct)
{
	store_name(self->name, sizeof(self->name), "c");
	stm_unlink(self->name);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(ct)
{
	stm_close(self->s);
	stm_unlink(self->name);
}

/* ---- small transactions ------------------------------------------------- */

struct qop {
	const char *q;
	uint64_t cap;
	uint32_t item;
	size_t len;
};

static int tx_init(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_init(tx, o->q, o->cap);
}

static int tx_put(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_put(tx, o->q, &o->item, sizeof(o->item));
}

static int tx_take(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_take(tx, o->q, &o->item, sizeof(o->item), &o->len);
}

static int tx_size(struct stm_txn *tx, void *arg)
{
	return stm_queue_size(tx, "q", arg);
}

static int put_item(struct stm_store *s, const char *q, uint32_t item)
{
	struct qop o = { .q = q, .item = item };

	return stm_atomic(s, tx_put, &o, NULL);
}

static int child_open(const char *name, struct stm_store **s)
{
	return stm_open(name, 0, 0, s);
}

/* ---- producers and consumers --------------------------------------------- */

static void producer(const char *name, int id)
{
	struct stm_store *s;

	if (child_open(name, &s))
		_exit(10);
	for (uint32_t i = 0; i < ITEMS; i++)
		if (put_item(s, "q", (uint32_t)id * ITEMS + i))
			_exit(11);
	stm_close(s);
	_exit(0);
}

/* Takes until STOP; counts each item received in @seen (shared). */
static void consumer(const char *name, uint32_t *seen)
{
	struct qop o = { .q = "q" };
	struct stm_store *s;

	if (child_open(name, &s))
		_exit(10);
	for (;;) {
		if (stm_atomic(s, tx_take, &o, NULL) || o.len != sizeof(o.item))
			_exit(12);
		if (o.item == STOP)
			break;
		if (o.item >= PRODUCERS * ITEMS)
			_exit(13);
		__atomic_add_fetch(&seen[o.item], 1, __ATOMIC_RELAXED);
	}
	stm_close(s);
	_exit(0);
}

static int wait_all(pid_t *pids, int n)
{
	int bad = 0, st;

	for (int i = 0; i < n; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad++;
	}
	return bad;
}

TEST_F_TIMEOUT(ct, bounded_queue_4_producers_4_consumers_exactly_once, 600)
{
	uint32_t *seen;
	pid_t prod[PRODUCERS], cons[CONSUMERS];
	struct qop init = { .q = "q", .cap = 4 };
	uint64_t n = 1;
	int dup = 0, lost = 0;

	seen = mmap(NULL, PRODUCERS * ITEMS * sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, seen);
	ASSERT_EQ(0, stm_atomic(self->s, tx_init, &init, NULL));

	for (int i = 0; i < CONSUMERS; i++) {
		cons[i] = fork();
		ASSERT_LE(0, cons[i]);
		if (!cons[i])
			consumer(self->name, seen);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i] = fork();
		ASSERT_LE(0, prod[i]);
		if (!prod[i])
			producer(self->name, i);
	}
	EXPECT_EQ(0, wait_all(prod, PRODUCERS));
	for (int i = 0; i < CONSUMERS; i++)
		ASSERT_EQ(0, put_item(self->s, "q", STOP));
	EXPECT_EQ(0, wait_all(cons, CONSUMERS));

	for (int i = 0; i < PRODUCERS * ITEMS; i++) {
		dup += seen[i] > 1;
		lost += seen[i] == 0;
	}
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, lost);
	/* Empty now. */
	EXPECT_EQ(0, stm_atomic(self->s, tx_size, &n, NULL));
	EXPECT_EQ(0U, n);
	munmap(seen, PRODUCERS * ITEMS * sizeof(*seen));
}

static int tx_try_take(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_try_take(tx, o->q, &o->item, sizeof(o->item), &o->len);
}

static int tx_try_put(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_try_put(tx, o->q, &o->item, sizeof(o->item));
}

static int tx_peek(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	return stm_queue_peek(tx, o->q, &o->item, sizeof(o->item), &o->len);
}

/* A take into 2 bytes: -EMSGSIZE with the length 4. */
static int take_short(struct stm_txn *tx, void *a)
{
	size_t len = 0;
	int r = stm_queue_take(tx, "q", a, 2, &len);

	return r == -EMSGSIZE && len == 4 ? -EMSGSIZE : -EPROTO;
}

TEST_F(ct, queue_fifo_try_variants_and_capacity)
{
	struct qop init = { .q = "q", .cap = 2 }, o = { .q = "q" };
	uint64_t n = 9;
	char small[2];

	ASSERT_EQ(0, stm_atomic(self->s, tx_init, &init, NULL));
	EXPECT_EQ(0, stm_atomic(self->s, tx_init, &init, NULL));	/* same */
	init.cap = 3;
	EXPECT_EQ(-EEXIST, stm_atomic(self->s, tx_init, &init, NULL));

	EXPECT_EQ(-EAGAIN, stm_atomic(self->s, tx_try_take, &o, NULL));
	EXPECT_EQ(0, put_item(self->s, "q", 1));
	EXPECT_EQ(0, put_item(self->s, "q", 2));
	o.item = 3;
	EXPECT_EQ(-EAGAIN, stm_atomic(self->s, tx_try_put, &o, NULL));
	EXPECT_EQ(0, stm_atomic(self->s, tx_size, &n, NULL));
	EXPECT_EQ(2U, n);
	EXPECT_EQ(0, stm_atomic(self->s, tx_peek, &o, NULL));
	EXPECT_EQ(1U, o.item);
	EXPECT_EQ(0, stm_atomic(self->s, tx_take, &o, NULL));
	EXPECT_EQ(1U, o.item);
	EXPECT_EQ(0, stm_atomic(self->s, tx_take, &o, NULL));
	EXPECT_EQ(2U, o.item);
	EXPECT_EQ(0, stm_atomic(self->s, tx_size, &n, NULL));
	EXPECT_EQ(0U, n);

	/* A short buffer: -EMSGSIZE with the length, nothing taken. */
	EXPECT_EQ(0, put_item(self->s, "q", 7));
	EXPECT_EQ(-EMSGSIZE, stm_atomic(self->s, take_short, small, NULL));
	EXPECT_EQ(0, stm_atomic(self->s, tx_size, &n, NULL));
	EXPECT_EQ(1U, n);
}

/* utime + stime of @pid, in clock ticks, from /proc/<pid>/stat. */
static long cpu_ticks(pid_t pid)
{
	unsigned long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

TEST_F_TIMEOUT(ct, blocked_consumers_burn_no_cpu, 600)
{
	pid_t cons[CONSUMERS];
	struct stm_stats st0, st1;
	long t0 = 0, t1 = 0, hz = sysconf(_SC_CLK_TCK);
	uint32_t *seen;
	int tries;

	seen = mmap(NULL, PRODUCERS * ITEMS * sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, seen);
	for (int i = 0; i < CONSUMERS; i++) {
		cons[i] = fork();
		ASSERT_LE(0, cons[i]);
		if (!cons[i])
			consumer(self->name, seen);
	}
	/* Until all four sleep in the kernel (the store counts waits). */
	for (tries = 0; tries < 6000; tries++) {
		ASSERT_EQ(0, stm_stats(self->s, &st0));
		if (st0.waits >= CONSUMERS)
			break;
		usleep(10000);
	}
	ASSERT_LE((uint64_t)CONSUMERS, st0.waits);
	for (int i = 0; i < CONSUMERS; i++)
		t0 += cpu_ticks(cons[i]);
	sleep(2);	/* a poller would spend this on the CPU */
	for (int i = 0; i < CONSUMERS; i++)
		t1 += cpu_ticks(cons[i]);
	ASSERT_EQ(0, stm_stats(self->s, &st1));
	TH_LOG("4 blocked consumers over 2 s: %ld CPU ticks (%ld/s), waits %llu -> %llu",
	       t1 - t0, hz, (unsigned long long)st0.waits,
	       (unsigned long long)st1.waits);
	/* Nobody woke, nobody ran: a poller would take ~2 s x 2 CPUs. */
	EXPECT_EQ(st0.waits, st1.waits);
	EXPECT_EQ(st0.wakeups, st1.wakeups);
	EXPECT_GT(hz / 10 + 1, t1 - t0);
	for (int i = 0; i < CONSUMERS; i++)
		ASSERT_EQ(0, put_item(self->s, "q", STOP));
	EXPECT_EQ(0, wait_all(cons, CONSUMERS));
	munmap(seen, PRODUCERS * ITEMS * sizeof(*seen));
}

/* ---- orElse over two queues ------------------------------------------------ */

static int take_a(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	o->q = "qa";
	return stm_queue_take(tx, "qa", &o->item, sizeof(o->item), &o->len);
}

static int take_b(struct stm_txn *tx, void *arg)
{
	struct qop *o = arg;

	o->q = "qb";
	return stm_queue_take(tx, "qb", &o->item, sizeof(o->item), &o->len);
}

static int take_either(struct stm_txn *tx, void *arg)
{
	return stm_or_else(tx, take_a, arg, take_b, arg);
}

TEST_F_TIMEOUT(ct, or_else_over_two_queues, 300)
{
	struct stm_txn_opts t = { .timeout_ms = 60000 };
	struct qop o = { 0 };
	pid_t pid;
	int st;

	/* B has an item, A none: the take comes from B. */
	ASSERT_EQ(0, put_item(self->s, "qb", 20));
	ASSERT_EQ(0, stm_atomic(self->s, take_either, &o, &t));
	EXPECT_STREQ("qb", o.q);
	EXPECT_EQ(20U, o.item);
	/* Both have items: A first. */
	ASSERT_EQ(0, put_item(self->s, "qa", 10));
	ASSERT_EQ(0, put_item(self->s, "qb", 21));
	ASSERT_EQ(0, stm_atomic(self->s, take_either, &o, &t));
	EXPECT_STREQ("qa", o.q);
	EXPECT_EQ(10U, o.item);
	ASSERT_EQ(0, stm_atomic(self->s, take_either, &o, &t));
	EXPECT_STREQ("qb", o.q);
	EXPECT_EQ(21U, o.item);

	/* Both empty: a child blocks on both; a put into A wakes it. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct stm_store *s;
		struct qop c = { 0 };

		if (child_open(self->name, &s))
			_exit(10);
		if (stm_atomic(s, take_either, &c, &t))
			_exit(11);
		_exit(strcmp(c.q, "qa") || c.item != 11 ? 12 : 0);
	}
	usleep(200000);		/* not needed for correctness: a chance to block */
	ASSERT_EQ(0, put_item(self->s, "qa", 11));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* ---- MVar hand-off ------------------------------------------------------- */

#define ROUNDS	100

struct mvop {
	const char *mv;
	uint32_t x;
	size_t len;
};

static int mv_put(struct stm_txn *tx, void *arg)
{
	struct mvop *m = arg;

	return stm_mvar_put(tx, m->mv, &m->x, sizeof(m->x));
}

static int mv_take(struct stm_txn *tx, void *arg)
{
	struct mvop *m = arg;

	return stm_mvar_take(tx, m->mv, &m->x, sizeof(m->x), &m->len);
}

static int mv_try_take(struct stm_txn *tx, void *a)
{
	uint32_t x;

	return stm_mvar_try_take(tx, "m", &x, sizeof(x), NULL);
}

static int mv_try_put(struct stm_txn *tx, void *a)
{
	return stm_mvar_try_put(tx, "m", "x", 1);
}

static int mv_read(struct stm_txn *tx, void *a)
{
	uint32_t x = 0;
	int r = stm_mvar_read(tx, "m", &x, sizeof(x), NULL);

	return r ? r : (int)x;
}

TEST_F_TIMEOUT(ct, mvar_hand_off, 300)
{
	struct mvop m = { 0 };
	pid_t pid;
	int st;

	/* try variants on one process first */
	m.mv = "m";
	m.x = 5;
	EXPECT_EQ(-EAGAIN, stm_atomic(self->s, mv_try_take, NULL, NULL));
	EXPECT_EQ(0, stm_atomic(self->s, mv_put, &m, NULL));
	EXPECT_EQ(-EAGAIN, stm_atomic(self->s, mv_try_put, NULL, NULL));
	EXPECT_EQ(5, stm_atomic(self->s, mv_read, NULL, NULL));
	EXPECT_EQ(0, stm_atomic(self->s, mv_take, &m, NULL));
	EXPECT_EQ(5U, m.x);

	/* Ping-pong: the child takes from "ping" and puts x + 1 into "pong". */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct stm_store *s;
		struct mvop c = { 0 };

		if (child_open(self->name, &s))
			_exit(10);
		for (uint32_t i = 0; i < ROUNDS; i++) {
			c.mv = "ping";
			if (stm_atomic(s, mv_take, &c, NULL) || c.x != 2 * i)
				_exit(11);
			c.mv = "pong";
			c.x++;
			if (stm_atomic(s, mv_put, &c, NULL))
				_exit(12);
		}
		_exit(0);
	}
	for (uint32_t i = 0; i < ROUNDS; i++) {
		m.mv = "ping";
		m.x = 2 * i;
		ASSERT_EQ(0, stm_atomic(self->s, mv_put, &m, NULL));
		m.mv = "pong";
		ASSERT_EQ(0, stm_atomic(self->s, mv_take, &m, NULL));
		ASSERT_EQ(2 * i + 1, m.x);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* ---- semaphore ------------------------------------------------------------ */

#define SEM_UNITS	2
#define SEM_PROCS	6
#define SEM_ROUNDS	40

static int sem_acq(struct stm_txn *tx, void *arg)
{
	return stm_sem_acquire(tx, "sem", 1);
}

static int sem_rel(struct stm_txn *tx, void *arg)
{
	return stm_sem_release(tx, "sem", 1);
}

static int sem_try(struct stm_txn *tx, void *arg)
{
	return stm_sem_try_acquire(tx, "sem", 1);
}

static int sem_count(struct stm_txn *tx, void *a)
{
	int64_t x = -1;
	int r = stm_get_i64(tx, "sem", &x);

	return r ? r : (int)x;
}

TEST_F_TIMEOUT(ct, semaphore_never_over_acquired, 600)
{
	int *shared;		/* [0] holders now, [1] most holders seen */
	pid_t pids[SEM_PROCS];

	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_EQ(-EAGAIN, stm_atomic(self->s, sem_try, NULL, NULL));
	for (int i = 0; i < SEM_UNITS; i++)
		ASSERT_EQ(0, stm_atomic(self->s, sem_rel, NULL, NULL));

	for (int p = 0; p < SEM_PROCS; p++) {
		pids[p] = fork();
		ASSERT_LE(0, pids[p]);
		if (!pids[p]) {
			struct stm_store *s;

			if (child_open(self->name, &s))
				_exit(10);
			for (int r = 0; r < SEM_ROUNDS; r++) {
				int now, max;

				if (stm_atomic(s, sem_acq, NULL, NULL))
					_exit(11);
				now = __atomic_add_fetch(&shared[0], 1, __ATOMIC_SEQ_CST);
				max = __atomic_load_n(&shared[1], __ATOMIC_SEQ_CST);
				while (now > max &&
				       !__atomic_compare_exchange_n(&shared[1], &max, now, false,
								    __ATOMIC_SEQ_CST,
								    __ATOMIC_SEQ_CST))
					;
				usleep(1000);
				__atomic_sub_fetch(&shared[0], 1, __ATOMIC_SEQ_CST);
				if (stm_atomic(s, sem_rel, NULL, NULL))
					_exit(12);
			}
			_exit(0);
		}
	}
	EXPECT_EQ(0, wait_all(pids, SEM_PROCS));
	TH_LOG("most holders at once: %d of %d units", shared[1], SEM_UNITS);
	EXPECT_GE(SEM_UNITS, shared[1]);
	EXPECT_LE(1, shared[1]);
	/* Every unit came back. */
	EXPECT_EQ(SEM_UNITS, stm_atomic(self->s, sem_count, NULL, NULL));
	munmap(shared, 4096);
}

/* ---- map, set, array ------------------------------------------------------ */

static int map_basics(struct stm_txn *tx, void *arg)
{
	char buf[16];
	uint64_t n = 9;
	size_t len = 0;
	int r;

	if (stm_map_put(tx, "m", "a", 1, "one", 3) != 1 ||
	    stm_map_put(tx, "m", "b", 1, "two", 3) != 1 ||
	    stm_map_put(tx, "m", "a", 1, "uno", 3) != 0)
		return -100;
	if (stm_map_size(tx, "m", &n) || n != 2)
		return -101;
	if (stm_map_get(tx, "m", "a", 1, buf, sizeof(buf), &len) || len != 3 ||
	    memcmp(buf, "uno", 3))
		return -102;
	if (stm_map_contains(tx, "m", "c", 1) != 0 || stm_map_contains(tx, "m", "b", 1) != 1)
		return -103;
	if (stm_map_del(tx, "m", "b", 1) || stm_map_del(tx, "m", "b", 1) != -ENOENT)
		return -104;
	if (stm_map_get(tx, "m", "b", 1, buf, sizeof(buf), &len) != -ENOENT)
		return -105;
	if (stm_set_add(tx, "s", "x", 1) != 1 || stm_set_add(tx, "s", "x", 1) != 0 ||
	    stm_set_contains(tx, "s", "x", 1) != 1 || stm_set_remove(tx, "s", "x", 1) ||
	    stm_set_size(tx, "s", &n) || n != 0)
		return -106;
	r = stm_array_init(tx, "arr", 3);
	if (r)
		return r;
	if (stm_array_init(tx, "arr", 3) || stm_array_init(tx, "arr", 4) != -EEXIST)
		return -107;
	if (stm_array_set(tx, "arr", 2, "z", 1) || stm_array_set(tx, "arr", 3, "z", 1) != -ERANGE)
		return -108;
	if (stm_array_get(tx, "arr", 0, buf, sizeof(buf), &len) || len != 0 ||
	    stm_array_get(tx, "arr", 2, buf, sizeof(buf), &len) || len != 1 || buf[0] != 'z')
		return -109;
	if (stm_array_size(tx, "arr", &n) || n != 3 ||
	    stm_array_size(tx, "nope", &n) != -ENOENT)
		return -110;
	return 0;
}

struct sum {
	struct stm_store *s;
	const char *name;
	int64_t total;
	int entries;
};

static int add_entry(struct stm_txn *tx, void *arg)
{
	int64_t v = 100;

	return stm_map_put(tx, "m", "late", 4, &v, sizeof(v)) == 1 ? 0 : -EPROTO;
}

static int sum_cb(struct stm_txn *tx, const void *key, size_t klen,
		  const void *val, size_t vlen, void *arg)
{
	struct sum *sm = arg;
	int64_t v;

	if (vlen != sizeof(v))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	sm->total += v;
	sm->entries++;
	return 0;
}

/* Sum the map into "total"; on the first run, another process inserts. */
static int sum_map(struct stm_txn *tx, void *arg)
{
	struct sum *sm = arg;
	int r, st;
	pid_t pid;

	sm->total = 0;
	sm->entries = 0;
	r = stm_map_iterate(tx, "m", sum_cb, sm);
	if (r)
		return r;
	if (stm_txn_attempt(tx) == 1) {
		pid = fork();
		if (pid < 0)
			return -errno;
		if (!pid) {
			struct stm_store *s;

			if (stm_open(sm->name, 0, 0, &s) ||
			    stm_atomic(s, add_entry, NULL, NULL))
				_exit(1);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return -ECHILD;
	}
	return stm_put_i64(tx, "total", sm->total);
}

static int tx_attempts;

static int put_entry(struct stm_txn *tx, void *arg)
{
	int64_t v = *(int64_t *)arg;
	char key[8];

	snprintf(key, sizeof(key), "e%lld", (long long)v);
	return stm_map_put(tx, "m", key, strlen(key), &v, sizeof(v)) < 0 ? -EPROTO : 0;
}

static int count_attempts(struct stm_txn *tx, void *arg)
{
	int r = sum_map(tx, arg);

	tx_attempts = stm_txn_attempt(tx);
	return r;
}

static int get_total(struct stm_txn *tx, void *a)
{
	return stm_get_i64(tx, "total", a);
}

TEST_F(ct, map_set_array_basics)
{
	EXPECT_EQ(0, stm_atomic(self->s, map_basics, NULL, NULL));
}

TEST_F_TIMEOUT(ct, map_iteration_aborts_on_a_concurrent_insert, 300)
{
	struct sum sm = { .s = self->s, .name = self->name };
	int64_t total = 0;

	for (int64_t v = 1; v <= 5; v++)
		ASSERT_EQ(0, stm_atomic(self->s, put_entry, &v, NULL));
	ASSERT_EQ(0, stm_atomic(self->s, count_attempts, &sm, NULL));
	/* The first run's sum missed "late": its commit conflicted. */
	EXPECT_EQ(2, tx_attempts);
	EXPECT_EQ(6, sm.entries);
	EXPECT_EQ(115, sm.total);
	ASSERT_EQ(0, stm_atomic(self->s, get_total, &total, NULL));
	EXPECT_EQ(115, total);
}

TEST_HARNESS_MAIN
