// SPDX-License-Identifier: GPL-2.0
/*
 * containers_test.c - the transactional containers across processes
 * (issue 12): a bounded queue between 4 producer and 4 consumer processes
 * delivering every item exactly once, consumers blocked on an empty queue
 * using no CPU (getrusage of the children, not wall time), take from one
 * queue orElse another, an MVar hand-off, a semaphore never over-acquired.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

static double cpu_children(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

TEST_F_TIMEOUT(ct, blocked_consumers_burn_no_cpu, 300)
{
	pid_t cons[CONSUMERS];
	uint32_t *seen;
	double cpu0, cpu, wall0, wall;

	seen = mmap(NULL, PRODUCERS * ITEMS * sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, seen);
	cpu0 = cpu_children();
	wall0 = mono();
	for (int i = 0; i < CONSUMERS; i++) {
		cons[i] = fork();
		ASSERT_LE(0, cons[i]);
		if (!cons[i])
			consumer(self->name, seen);
	}
	/* They find the queue empty and block; give a spinner time to spin. */
	sleep(2);
	for (int i = 0; i < CONSUMERS; i++)
		ASSERT_EQ(0, put_item(self->s, "q", STOP));
	EXPECT_EQ(0, wait_all(cons, CONSUMERS));
	cpu = cpu_children() - cpu0;
	wall = mono() - wall0;
	TH_LOG("4 consumers blocked %.2f s used %.3f s of CPU", wall, cpu);
	/* A consumer polling would use its whole share: 4 x wall / 2 cores. */
	EXPECT_GT(wall * CONSUMERS / 2 / 10, cpu);
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

TEST_HARNESS_MAIN
