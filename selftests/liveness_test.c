// SPDX-License-Identifier: GPL-2.0
/*
 * liveness_test.c - every command returns, or dies on kill -9, in bounded
 * time (issue 10).
 *
 * - a READ of 1024 entries of one key (and a few others) while three
 *   processes commit those keys without pause returns, and is one instant;
 * - with the debug kernel's snapshot delay (a reader can then never win a
 *   lock-free round against a writer), READ still returns: the locked
 *   fallback is taken;
 * - a process inside READ, a blocking COMMIT, WAIT, or poll() on WATCH
 *   dies on SIGKILL;
 * - a WAIT of 1024 entries of one key holds one waiter: one commit wakes
 *   it once, and `index` is still the first entry that differs.
 *
 * Loops are bounded by counts; the only clocks are the bounds within which
 * a killed process must be reaped, and they decide nothing else.
 */
#include <poll.h>
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define NHAMMER		3
#define BIG		1024
#define READ_ROUNDS	20
#define REAP_MS		10000

/* Debug-kernel delay sites (kmod/debug.h; numbers are append-only). */
#define DBG_SNAPSHOT		2
#define DBG_COMMIT_LOCKED	3

struct shm {
	int stop;
	int ready;
	long long seq;			/* values the hammers write */
	long long commits[NHAMMER];
	long long reads;		/* READs the victim finished */
	long long probes;		/* the prober's commits */
	long long busy;			/* ... that found quiet locked */
	int errors;
	char msg[160];
	char name[STMDEV_NAME_MAX];
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)

static const char hot[] = "hot", hot2[] = "hot2", gone[] = "gone";

static int fail(struct shm *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct shm *s, const char *fmt, ...)
{
	va_list ap;

	if (INC(s->errors, 1) == 1) {
		va_start(ap, fmt);
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
		va_end(ap);
	}
	return 1;
}

/*
 * One commit writes value v to hot and hot2, and puts gone = v when v is
 * even, deletes it when odd: every snapshot sees hot == hot2 == v and gone
 * present (holding v) exactly when v is even.
 */
static int hammer(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e[3];
	__u64 le;
	long long v;
	int fd, ret;

	t_pin(idx + 1);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, "hammer attach: %d", fd);
	INC(s->ready, 1);
	while (!LOAD(s->stop)) {
		v = INC(s->seq, 1);
		le = htole64((__u64)v);
		cent_put(&e[0], hot, 3, &le, 8);
		cent_put(&e[1], hot2, 4, &le, 8);
		if (v % 2)
			cent_del(&e[2], gone, 4);
		else
			cent_put(&e[2], gone, 4, &le, 8);
		ret = t_commit(fd, e, 3, NULL, NULL);
		if (ret < 0)
			return fail(s, "hammer commit: %d", ret);
		INC(s->commits[idx], 1);
	}
	close(fd);
	return 0;
}

/*
 * Non-blocking commits of quiet, a key no one else writes: EBUSY means a
 * reader held it locked, which only a locked snapshot does.
 */
static int prober(void *arg, int idx)
{
	struct shm *s = arg;
	struct stmdev_commit_ent e;
	__u64 le = 0;
	int fd, ret;

	t_pin(idx + 1);
	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, "prober attach: %d", fd);
	INC(s->ready, 1);
	while (!LOAD(s->stop)) {
		if (LOAD(s->probes) % 2)
			cent_del(&e, "quiet", 5);
		else
			cent_put(&e, "quiet", 5, &le, 8);
		ret = t_commit_flags(fd, &e, 1, STMDEV_COMMIT_NONBLOCK,
				       NULL, NULL);
		if (ret == -EBUSY)
			INC(s->busy, 1);
		else if (ret < 0)
			return fail(s, "prober commit: %d", ret);
		else
			INC(s->probes, 1);
	}
	close(fd);
	return 0;
}

/* Spin (bounded, yielding) until `ready` reaches n. */
static bool wait_ready(struct shm *s, int n)
{
	long i;

	for (i = 0; i < 20000; i++) {
		if (LOAD(s->ready) >= n)
			return true;
		usleep(1000);
	}
	return false;
}

/* Has @pid been reaped within @ms milliseconds?  (It was just killed.) */
static bool reaped_within(pid_t pid, int ms)
{
	int i, st;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		usleep(10000);
	}
	return false;
}

/* Select a debug delay site; false when the module has no debug knobs. */
static bool debug_delay(int site, int us)
{
	if (!t_param_writable("debug_delay_site"))
		return false;
	if (t_param_set("debug_delay_us", us) ||
	    t_param_set("debug_delay_site", site))
		return false;
	return true;
}

static void debug_delay_off(void)
{
	if (t_param_writable("debug_delay_site"))
		t_param_set("debug_delay_site", 0);
}

FIXTURE(live) {
	int fd;
	struct shm *s;
	pid_t pids[NHAMMER + 1];
	int npids;
};

FIXTURE_SETUP(live)
{
	self->s = t_shared(sizeof(struct shm));
	ASSERT_NE(NULL, self->s);
	t_name(self->s->name, sizeof(self->s->name), "live");
	self->fd = t_open_attach(self->s->name, STMDEV_ATTACH_CREAT |
				   STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(live)
{
	int i;

	debug_delay_off();
	if (self->s)
		STORE(self->s->stop, 1);
	for (i = 0; i < self->npids; i++)
		if (self->pids[i] > 0 && waitpid(self->pids[i], NULL, WNOHANG) == 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
	if (self->fd >= 0)
		close(self->fd);
	if (self->s) {
		t_unlink(self->s->name);
		if (self->s->errors)
			TH_LOG("%d errors, first: %s", self->s->errors,
			       self->s->msg);
		munmap(self->s, sizeof(struct shm));
	}
}

static void start_hammers(FIXTURE_DATA(live) *self,
			  struct __test_metadata *_metadata)
{
	int i;

	for (i = 0; i < NHAMMER; i++) {
		self->pids[self->npids] = t_fork(hammer, self->s, i);
		ASSERT_LT(0, self->pids[self->npids]);
		self->npids++;
	}
	ASSERT_TRUE(wait_ready(self->s, NHAMMER));
}

static int stop_hammers(FIXTURE_DATA(live) *self)
{
	int bad;

	STORE(self->s->stop, 1);
	bad = t_wait_all(self->pids, self->npids);
	self->npids = 0;
	return bad;
}

static long long hammer_commits(struct shm *s)
{
	long long t = 0;
	int i;

	for (i = 0; i < NHAMMER; i++)
		t += LOAD(s->commits[i]);
	return t;
}

struct bigread {
	int n;
	struct stmdev_read_ent *e;
	__u64 *val;
};

static bool bigread_alloc(struct bigread *b, int n)
{
	b->n = n;
	b->e = calloc(n, sizeof(*b->e));
	b->val = calloc(n, sizeof(*b->val));
	return b->e && b->val;
}

static void bigread_free(struct bigread *b)
{
	free(b->e);
	free(b->val);
}

/* Entries: hot everywhere but n - 3 (hot2) and n - 2 (gone). */
static void bigread_init(struct bigread *b)
{
	int i, n = b->n;

	for (i = 0; i < n; i++) {
		const char *k = i == n - 3 ? hot2 : i == n - 2 ? gone : hot;

		rent_init(&b->e[i], k, strlen(k), &b->val[i], 8);
	}
}

/* Is @b one instant of the hammers' commits?  0, or the bad entry + 1. */
static int bigread_check(const struct bigread *b)
{
	const struct stmdev_read_ent *h = &b->e[0], *g = &b->e[b->n - 2];
	long long v = (long long)le64toh(b->val[0]);
	int i;

	if (!(h->flags & STMDEV_RENT_PRESENT) || h->val_len != 8)
		return 1;
	for (i = 0; i < b->n; i++) {
		if (i == b->n - 2)
			continue;
		if (!(b->e[i].flags & STMDEV_RENT_PRESENT) ||
		    b->e[i].val_len != 8 || b->val[i] != b->val[0] ||
		    b->e[i].version != h->version)
			return i + 1;
	}
	if (!!(g->flags & STMDEV_RENT_PRESENT) != !(v % 2))
		return b->n - 1;
	if (!(v % 2) && (g->val_len != 8 || b->val[b->n - 2] != b->val[0]))
		return b->n - 1;
	return 0;
}

/* READ_ROUNDS reads of @n entries of hot keys, against the hammers. */
static void hot_reads(FIXTURE_DATA(live) *self,
		      struct __test_metadata *_metadata, int n, int rounds)
{
	struct bigread b;
	long long before;
	__u64 clock, last = 0;
	int r, bad;

	ASSERT_TRUE(bigread_alloc(&b, n));
	start_hammers(self, _metadata);
	before = hammer_commits(self->s);
	for (r = 0; r < rounds; r++) {
		bigread_init(&b);
		ASSERT_EQ(0, t_read(self->fd, b.e, n, &clock));
		bad = bigread_check(&b);
		EXPECT_EQ(0, bad) TH_LOG("round %d: entry %d", r, bad - 1);
		EXPECT_LE(last, clock);
		EXPECT_LE(b.e[0].version, clock);
		last = clock;
	}
	/* The reads really raced commits. */
	EXPECT_LT(before, hammer_commits(self->s));
	EXPECT_EQ(0, stop_hammers(self));
	bigread_free(&b);
}

/* (a) READ of 1024 entries of hot keys returns, and is one instant. */
TEST_F_TIMEOUT(live, read_1024_of_a_hot_key_returns, 600)
{
	hot_reads(self, _metadata, BIG, READ_ROUNDS);
}

/*
 * The same with 65536 entries (max_keys_per_call raised): a lock-free
 * round this long rarely outlasts three writers, so the locked fallback
 * runs, over 65533 duplicates of one key, on every kernel.
 */
TEST_F_TIMEOUT(live, read_65536_of_a_hot_key_returns, 600)
{
	long long old = t_param_get("max_keys_per_call");

	ASSERT_LT(0, old);
	if (t_param_set("max_keys_per_call", 65536))
		SKIP(return, "max_keys_per_call not writable");
	hot_reads(self, _metadata, 65536, 4);
	ASSERT_EQ(0, t_param_set("max_keys_per_call", old));
}

/*
 * With the snapshot delayed between its clock and its keys (10 ms), a
 * lock-free round hardly ever outlasts three committing neighbours, and
 * the locked fallback, which sleeps there holding its keys, is caught in
 * the act: a non-blocking commit of a key only the reader and the prober
 * touch finds it locked (EBUSY), which the lock-free path never causes.
 * Debug kernel only.
 */
TEST_F_TIMEOUT(live, read_falls_back_to_locking, 600)
{
	struct stmdev_read_ent e[4];
	__u64 val[4], clock;
	long long before;
	int r;

	if (!debug_delay(DBG_SNAPSHOT, 0))
		SKIP(return, "no debug_delay knobs (not an STM_DEBUG build)");
	start_hammers(self, _metadata);
	self->pids[self->npids] = t_fork(prober, self->s, NHAMMER);
	ASSERT_LT(0, self->pids[self->npids]);
	self->npids++;
	ASSERT_TRUE(wait_ready(self->s, NHAMMER + 1));
	ASSERT_TRUE(debug_delay(DBG_SNAPSHOT, 10000));
	before = hammer_commits(self->s);
	for (r = 0; r < READ_ROUNDS; r++) {
		rent_init(&e[0], hot, 3, &val[0], 8);
		rent_init(&e[1], gone, 4, &val[1], 8);
		rent_init(&e[2], hot2, 4, &val[2], 8);
		rent_init(&e[3], "quiet", 5, &val[3], 8);
		ASSERT_EQ(0, t_read(self->fd, e, 4, &clock));
		ASSERT_TRUE(!!(e[0].flags & STMDEV_RENT_PRESENT));
		EXPECT_EQ(val[0], val[2]);
		EXPECT_EQ(e[0].version, e[2].version);
		EXPECT_EQ(!(e[1].flags & STMDEV_RENT_PRESENT),
			  !!(le64toh(val[0]) % 2));
	}
	/* Writers kept committing while we read. */
	EXPECT_LT(before, hammer_commits(self->s));
	debug_delay_off();
	EXPECT_EQ(0, stop_hammers(self));
	EXPECT_LT(0, self->s->probes);
	/* A reader held quiet locked: the fallback ran. */
	EXPECT_LT(0, self->s->busy);
	TH_LOG("prober: %lld commits, %lld EBUSY", self->s->probes,
	       self->s->busy);
}

/* The victim: READ 1024 entries of the hot keys, over and over. */
static int reader_victim(void *arg, int idx)
{
	struct shm *s = arg;
	struct bigread b;
	int fd, ret;

	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY, 0);
	if (fd < 0)
		return fail(s, "victim attach: %d", fd);
	if (!bigread_alloc(&b, BIG))
		return fail(s, "victim: no memory");
	for (;;) {
		bigread_init(&b);
		ret = t_read(fd, b.e, BIG, NULL);
		if (ret < 0)
			return fail(s, "victim read: %d", ret);
		INC(s->reads, 1);
	}
}

/* The victim: blocking commits of hot, over and over. */
static int commit_victim(void *arg, int idx)
{
	struct shm *s = arg;
	__u64 le = 0;
	int fd, ret;

	fd = t_open_attach(s->name, 0, 0);
	if (fd < 0)
		return fail(s, "victim attach: %d", fd);
	for (;;) {
		ret = t_put(fd, hot, 3, &le, 8, NULL);
		if (ret < 0)
			return fail(s, "victim commit: %d", ret);
		INC(s->reads, 1);
	}
}

static void kill_in_flight(FIXTURE_DATA(live) *self,
			   struct __test_metadata *_metadata,
			   int (*victim)(void *, int), int site)
{
	pid_t pid;
	int i;

	start_hammers(self, _metadata);
	/* Debug kernel: every round of the victim's command is slow. */
	debug_delay(site, 10000);
	pid = t_fork(victim, self->s, 0);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	for (i = 0; i < 20000 && LOAD(self->s->reads) < 2; i++)
		usleep(1000);
	ASSERT_LE(2, LOAD(self->s->reads));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_TRUE(reaped_within(pid, REAP_MS));
	self->pids[--self->npids] = 0;
	debug_delay_off();
	EXPECT_EQ(0, stop_hammers(self));
}

/* (b) kill -9 while READ spins against writers. */
TEST_F_TIMEOUT(live, kill_inside_read, 600)
{
	kill_in_flight(self, _metadata, reader_victim, DBG_SNAPSHOT);
}

/* (b) kill -9 while a blocking COMMIT waits for a key others hold. */
TEST_F_TIMEOUT(live, kill_inside_commit, 600)
{
	kill_in_flight(self, _metadata, commit_victim, DBG_COMMIT_LOCKED);
}

static void wait_ents(struct stmdev_wait_ent *e, int n, const char *key,
		      __u64 version)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].key_addr = t_ptr(key);
		e[i].key_len = strlen(key);
		e[i].version = version;
	}
}

static int wait_raw(int fd, struct stmdev_wait_ent *e, int n, __u32 flags,
		    long long timeout_ns, __u32 *index)
{
	struct stmdev_wait w;
	int ret;

	memset(&w, 0, sizeof(w));
	w.entries = t_ptr(e);
	w.count = n;
	w.flags = flags;
	w.timeout_ns = timeout_ns;
	w.index = 0x5a5a5a5a;
	ret = t_ioctl(fd, STMDEV_IOC_WAIT, &w);
	if (index)
		*index = w.index;
	return ret;
}

/* The victim: WAIT forever on 1024 entries of a key nobody writes. */
static int wait_victim(void *arg, int idx)
{
	static struct stmdev_wait_ent e[BIG];
	struct shm *s = arg;
	int fd, ret;

	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY, 0);
	if (fd < 0)
		return fail(s, "victim attach: %d", fd);
	wait_ents(e, BIG, "quiet", 0);
	ret = wait_raw(fd, e, BIG, 0, -1, NULL);
	return fail(s, "victim wait returned %d", ret);
}

/* The victim: poll() forever on a WATCH of a key nobody writes. */
static int watch_victim(void *arg, int idx)
{
	struct stmdev_wait_ent e[4];
	struct stmdev_watch wa;
	struct shm *s = arg;
	struct pollfd p;
	int fd, ret;

	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY, 0);
	if (fd < 0)
		return fail(s, "victim attach: %d", fd);
	wait_ents(e, 4, "quiet", 0);
	memset(&wa, 0, sizeof(wa));
	wa.entries = t_ptr(e);
	wa.count = 4;
	ret = t_ioctl(fd, STMDEV_IOC_WATCH, &wa);
	if (ret < 0)
		return fail(s, "victim watch: %d", ret);
	INC(s->ready, 1);
	p.fd = fd;
	p.events = POLLIN;
	ret = poll(&p, 1, -1);
	return fail(s, "victim poll returned %d", ret);
}

/* (b) kill -9 of a process asleep in WAIT (1024 entries, one key). */
TEST_F(live, kill_inside_wait)
{
	struct stmdev_stats st;
	pid_t pid;
	int i;

	pid = t_fork(wait_victim, self->s, 0);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	for (i = 0; i < 20000; i++) {
		ASSERT_EQ(0, t_stats(self->fd, &st));
		if (st.waits)
			break;
		usleep(1000);
	}
	ASSERT_EQ(1ULL, st.waits);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_TRUE(reaped_within(pid, REAP_MS));
	self->npids = 0;
	EXPECT_EQ(0, self->s->errors);
}

/* (b) kill -9 of a process asleep in poll() on its WATCH. */
TEST_F(live, kill_inside_watch_poll)
{
	pid_t pid;

	pid = t_fork(watch_victim, self->s, 0);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	ASSERT_TRUE(wait_ready(self->s, 1));
	usleep(100000);		/* most likely asleep in poll() by now */
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_TRUE(reaped_within(pid, REAP_MS));
	self->npids = 0;
	EXPECT_EQ(0, self->s->errors);
}

/* The child of wait_1024_of_one_key: 100 entries of a, then 924 of b. */
static int dup_waiter(void *arg, int idx)
{
	static struct stmdev_wait_ent e[BIG];
	struct shm *s = arg;
	__u64 va, vb;
	__u32 index;
	int fd, ret;

	fd = t_open_attach(s->name, STMDEV_ATTACH_RDONLY, 0);
	CK(fd >= 0);
	va = (__u64)LOAD(s->commits[0]);
	vb = (__u64)LOAD(s->commits[1]);
	wait_ents(e, 100, "a", va);
	wait_ents(e + 100, BIG - 100, "b", vb);
	ret = wait_raw(fd, e, BIG, 0, 60LL * 1000000000, &index);
	CK_EQ(0, ret);
	CK_EQ(100, index);
	return 0;
}

/* (c) WAIT of 1024 entries of one key: one waiter, woken once, right index. */
TEST_F_TIMEOUT(live, wait_1024_of_one_key, 300)
{
	static struct stmdev_wait_ent e[BIG];
	struct stmdev_stats st0, st;
	__u64 va, vb, v;
	__u32 index;
	pid_t pid;
	int i;

	ASSERT_EQ(0, t_put_str(self->fd, "a", "1", &va));
	ASSERT_EQ(0, t_put_str(self->fd, "b", "1", &vb));

	/* Check only: the first entry that differs, among duplicates. */
	wait_ents(e, BIG, "a", va);
	e[700].version = va - 1;
	e[900].version = va - 1;
	ASSERT_EQ(-ETIMEDOUT, wait_raw(self->fd, e, BIG, STMDEV_WAIT_ALL, 0,
				       &index));
	ASSERT_EQ(0, wait_raw(self->fd, e, BIG, 0, 0, &index));
	EXPECT_EQ(700U, index);
	wait_ents(e, BIG, "a", va + 1);
	ASSERT_EQ(0, wait_raw(self->fd, e, BIG, STMDEV_WAIT_ALL, 0, &index));
	EXPECT_EQ(0U, index);
	wait_ents(e, BIG, "a", va);
	ASSERT_EQ(-ETIMEDOUT, wait_raw(self->fd, e, BIG, 0, 0, &index));
	EXPECT_EQ(STMDEV_NO_CONFLICT, index);

	/* Asleep on 924 entries of b: one commit of b wakes it once. */
	STORE(self->s->commits[0], (long long)va);
	STORE(self->s->commits[1], (long long)vb);
	ASSERT_EQ(0, t_stats(self->fd, &st0));
	pid = t_fork(dup_waiter, self->s, 0);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	for (i = 0; i < 20000; i++) {
		ASSERT_EQ(0, t_stats(self->fd, &st));
		if (st.waits > st0.waits)
			break;
		usleep(1000);
	}
	ASSERT_EQ(st0.waits + 1, st.waits);
	ASSERT_EQ(0, t_put_str(self->fd, "b", "2", &v));
	EXPECT_EQ(0, t_wait_all(&pid, 1));
	self->npids = 0;
	ASSERT_EQ(0, t_stats(self->fd, &st));
	EXPECT_EQ(st0.wakeups + 1, st.wakeups);
}

TEST_HARNESS_MAIN
