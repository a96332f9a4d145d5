// SPDX-License-Identifier: GPL-2.0
/*
 * stm-fuzz: a structure-aware, kcov-guided, concurrent fuzzer for stm.ko
 * (issue 11, part 1).  Runs inside the debug-kernel VM; see
 * Documentation/testing.rst, "make fuzz".
 *
 * A program is a short sequence of calls {op, variant, seed}.  The op names
 * a command (every STMDEV_IOC_*, over ioctl or io_uring) or an action
 * (open/close/dup/poll an fd, close a ring with requests in flight, fork a
 * child that runs calls then exits / execs / is killed -9 / unshares its
 * network namespace / drops to a second uid, toggle the debug delay knob).
 * The seed drives a PRNG that builds valid arguments (keys that exist,
 * versions just read, stores attached); the variant bits turn them into
 * near-valid ones (boundary key lengths, duplicate keys, huge counts,
 * stale versions, unmapped or partially mapped buffers, reserved bits).
 * Execution is deterministic given the call, so a logged program replays.
 *
 * Fuzz threads each own a kcov handle (KCOV_TRACE_PC; the debug kernel
 * instruments only stm.ko); PCs in the module's text give edges (hash of
 * consecutive PCs); a program reaching a new edge joins the corpus, and
 * programs are mutated from the corpus.  Without kcov (Debian's kernels),
 * the same programs run without feedback.
 *
 * Oracles: bank workers keep a conserved total in store "bank" and an
 * auditor checks every snapshot (total, versions never go back, a changed
 * value has a newer version, clock >= versions); every successful commit's
 * version is above the versions it read; a bounded ADD's result lies in its
 * bounds and its ERANGE names a bounded ADD; EXPORT chunks parse; an
 * IMPORT into a new store leaves count keys and a second one gets
 * ENOTEMPTY; RESERVE stays within max_reserve_ms; io_uring never shows
 * EAGAIN; the bank's STATS commits equal the commits the workers saw
 * succeed; a
 * watchdog fails any call over its bound; a kmsg watcher catches kernel
 * splats as they happen.  On a failure the last programs are written to
 * OUT/crash-N; --repro FILE replays such a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <liburing.h>
#include <linux/stmdev.h>

#define EXP_SAVE	(16 << 10)	/* EXPORT records kept for IMPORT */
#define KCOV_INIT_TRACE	_IOR('c', 1, unsigned long)
#define KCOV_ENABLE	_IO('c', 100)
#define KCOV_DISABLE	_IO('c', 101)
#define KCOV_TRACE_PC	0
#define COVER_SIZE	(256 << 10)	/* PCs per program */

#define MAX_FUZZ	8
#define NFD		3
#define NRING		2
#define RING_SLOTS	8
#define SLOT_SZ		(64 << 10)
#define ARENA_SZ	(256 << 10)
#define MAX_CALLS	16
#define CORPUS_MAX	4096
#define LOG_PROGS	64
#define EDGE_BITS	20
#define NACC		8
#define ACC_INIT	1000
#define HANG_NS		(60ULL * 1000000000ULL)
#define INTR_NS		(200ULL * 1000000ULL)
#define PARAM		"/sys/module/stm/parameters/"

/*
 * Ops: 0..OP_NCMD-1 are the STMDEV_IOC_* numbers over ioctl; then actions.
 * A command number the fuzzer does not know yet (ioc[] 0) keeps its slot,
 * weight 0, and is never run.
 * Programs name ops (corpus, crash files), so old names stay valid.
 */
enum {
	OP_EXPORT = 14, OP_IMPORT, OP_RANGE, OP_RESERVE,
	OP_NCMD,
	OP_RAW = OP_NCMD, OP_OPEN, OP_CLOSE, OP_DUP, OP_POLL, OP_RING,
	OP_REAP, OP_RINGCLOSE, OP_FORK, OP_KNOB, OP_YIELD, OP_WAITRACE,
	NOPS
};
static const char *const opname[] = {
	"GET_FEATURES", "NOP", "ATTACH", "UNLINK", "INFO", "LIST_STORES",
	"READ", "COMMIT", "LIST", "STATS", "WAIT", "WATCH", "FAMILY",
	"FAMILY_STATS", "EXPORT", "IMPORT", "RANGE", "RESERVE",
	"raw-ioctl", "open", "close", "dup", "poll", "ring-submit", "ring-reap", "ring-close", "fork", "delay-knob",
	"yield", "wait-race",
};
/* Generation weights. */
static const int opweight[] = {
	1, 1, 6, 2, 2, 2, 10, 14, 3, 2, 5, 3, 2, 1,
	3, 3, 3, 3,		/* EXPORT, IMPORT, RANGE, RESERVE */
	1, 2, 2, 1, 1, 10, 3, 2, 1, 1, 1, 4,
};
_Static_assert(sizeof(opname) / sizeof(opname[0]) == NOPS, "opname[] and the ops");
_Static_assert(sizeof(opweight) / sizeof(opweight[0]) == NOPS, "opweight[] and the ops");

/* Variant bits: near-valid arguments. */
#define V_BADKEY	(1u << 0)
#define V_UNMAPPED	(1u << 1)
#define V_PARTIAL	(1u << 2)
#define V_RESERVED	(1u << 3)
#define V_HUGECOUNT	(1u << 4)
#define V_DUPKEY	(1u << 5)
#define V_STALE		(1u << 6)
#define V_BIGVAL	(1u << 7)
#define V_BANK		(1u << 8)	/* UNLINK "bank" */
#define V_BADNAME	(1u << 9)
#define V_ASYNC		(1u << 10)	/* ring: IOSQE_ASYNC */
#define V_LINK		(1u << 11)	/* ring: linked SQEs */
#define V_BITS		12

struct call {
	uint8_t op;
	uint32_t variant;
	uint32_t seed;
};

struct prog {
	int n;
	struct call c[MAX_CALLS];
};

/* ---- global state ---- */
static char outdir[256] = "/out";
static volatile int stop;
static int failed;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static bool have_kcov;
static uint64_t text_start, text_size;
static uint8_t *edge_map;
static uint8_t *pc_map;
static unsigned long n_edges, n_pcs;
static unsigned long cmd_count[NOPS], uring_count[OP_NCMD], total_calls, total_progs;
static unsigned long oracle_checks;
/* What the oracles of the newer commands saw (ioctl calls of fuzz threads). */
static unsigned long n_bound_fetch, n_erange, n_export_ok, n_export_recs, n_import_ok,
	n_reserve_ok, n_bank_bound_ok, n_bank_erange;
static uint64_t op_ns[NOPS];
static struct prog corpus[CORPUS_MAX];
static int corpus_n;
static pthread_mutex_t corpus_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t max_value = 65536;
static uint64_t features;		/* GET_FEATURES */
static unsigned int max_reserve_ms;	/* the module parameter; 0: unknown */
static bool knob_present;
static int pin_site = -1;	/* --delay-site: the knob stays there */

static struct {
	struct prog p;
	int tid;
	unsigned long seq;
	double t;
} plog[LOG_PROGS];
static unsigned long plog_n;
static pthread_mutex_t plog_lock = PTHREAD_MUTEX_INITIALIZER;

struct tstate {
	int id;
	pthread_t th;
	pid_t tid;
	int fds[NFD];
	struct io_uring ring[NRING];
	bool ring_ok[NRING];
	unsigned int ring_slot[NRING];
	char *ring_mem[NRING];
	char *arena;
	size_t arena_off, arena_sz;
	char *guard;		/* RW page followed by a PROT_NONE page */
	char *unmapped;
	char *big;		/* max_value + 2 pages */
	uint64_t rng;
	uint64_t exp_cursor;	/* the cursor the last EXPORT gave out */
	char *exp_save;		/* records of the last EXPORT chunk, for IMPORT */
	uint32_t exp_len, exp_count;
	uint64_t range_cursor, range_version;	/* the last RANGE's */
	bool fresh;		/* the IMPORT's fd is on a new, empty store */
	int kcov;
	unsigned long *cover;
	volatile uint64_t call_start;
	volatile int call_op;
	volatile int intr_ok;
	bool in_child;
	bool guard_open;
	unsigned long progs;
};
static struct tstate fz[MAX_FUZZ];
static int nfuzz = 3;
static struct tstate bankts[3];

static double t0;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static double now_s(void)
{
	return now_ns() / 1e9 - t0;
}

static uint64_t rnd64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
	return n ? rnd64(s) % n : 0;
}

static void write_progs(FILE *f);

/* A failure: note it, write the last programs to OUT/crash-N. */
static void fail(const char *fmt, ...)
{
	char path[300], msg[1024];
	va_list ap;
	FILE *f;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fail_lock);
	printf("# fuzz: FAILURE at %.1f s: %s\n", now_s(), msg);
	fflush(stdout);
	for (n = 0; n < 1000; n++) {
		snprintf(path, sizeof(path), "%s/crash-%d", outdir, n);
		if (access(path, F_OK))
			break;
	}
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "# stm-fuzz crash: %s\n# replay: make fuzz REPRO=%s\n",
			msg, path);
		write_progs(f);
		fclose(f);
		printf("# fuzz: last programs written to %s\n", path);
	}
	failed++;
	stop = 1;
	pthread_mutex_unlock(&fail_lock);
}

/* ---- program text format ---- */
static void print_prog(FILE *f, const struct prog *p, int tid, unsigned long seq)
{
	int i;

	fprintf(f, "prog %d %lu\n", tid, seq);
	for (i = 0; i < p->n; i++)
		fprintf(f, "call %s %#x %#x\n", opname[p->c[i].op],
			p->c[i].variant, p->c[i].seed);
	fprintf(f, "end\n");
}

static void write_progs(FILE *f)
{
	unsigned long i, first;

	pthread_mutex_lock(&plog_lock);
	first = plog_n > LOG_PROGS ? plog_n - LOG_PROGS : 0;
	for (i = first; i < plog_n; i++) {
		fprintf(f, "# t=%.2f\n", plog[i % LOG_PROGS].t);
		print_prog(f, &plog[i % LOG_PROGS].p, plog[i % LOG_PROGS].tid,
			   plog[i % LOG_PROGS].seq);
	}
	pthread_mutex_unlock(&plog_lock);
}

static void log_prog(const struct prog *p, int tid, unsigned long seq)
{
	unsigned long i;

	pthread_mutex_lock(&plog_lock);
	i = plog_n++ % LOG_PROGS;
	plog[i].p = *p;
	plog[i].tid = tid;
	plog[i].seq = seq;
	plog[i].t = now_s();
	pthread_mutex_unlock(&plog_lock);
}

static int opnum(const char *name)
{
	int i;

	for (i = 0; i < NOPS; i++)
		if (!strcmp(opname[i], name))
			return i;
	return -1;
}

/* ---- argument building ---- */
static void *alloc(struct tstate *t, size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > t->arena_sz)
		return t->big;
	if (t->arena_off + n > t->arena_sz)
		t->arena_off = 0;
	p = t->arena + t->arena_off;
	t->arena_off += n;
	memset(p, 0, n);
	return p;
}

/* Where a buffer of n bytes goes: normally fresh memory; with the
 * variants, sometimes an unmapped address or one that runs into a
 * PROT_NONE page. */
static void *buf(struct tstate *t, uint64_t *r, size_t n, uint32_t v)
{
	if ((v & V_UNMAPPED) && !rnd(r, 4))
		return t->unmapped;
	if ((v & V_PARTIAL) && !rnd(r, 3) && n > 1 && n <= 4096) {
		/* Writable while the call is built, PROT_NONE when issued. */
		if (!t->guard_open && !mprotect(t->guard + 4096, 4096, PROT_READ | PROT_WRITE))
			t->guard_open = true;
		return t->guard + 4096 - n / 2;
	}
	return alloc(t, n);
}

static void guard_close(struct tstate *t)
{
	if (t->guard_open && !mprotect(t->guard + 4096, 4096, PROT_NONE))
		t->guard_open = false;
}

static const char *const names[] = { "s0", "s1", "s2", "s3" };

static void store_name(struct tstate *t, uint64_t *r, uint32_t v, char *name)
{
	memset(name, 0, STMDEV_NAME_MAX);
	if ((v & V_BADNAME) && rnd(r, 2)) {
		switch (rnd(r, 6)) {
		case 0: break;				/* empty */
		case 1: memset(name, 'n', 63); break;	/* longest */
		case 2: memset(name, 'n', 64); break;	/* no NUL */
		case 3: strcpy(name, "a/b"); break;
		case 4: strcpy(name, "caf\xc3\xa9"); break;
		default: strcpy(name, ".."); break;
		}
		return;
	}
	if (v & V_BANK) {
		strcpy(name, "bank");
		return;
	}
	strcpy(name, names[rnd(r, 4)]);
	(void)t;
}

/* A key: usually one of 8 short ones, sometimes 255 bytes; bad lengths
 * with V_BADKEY. */
static void *key(struct tstate *t, uint64_t *r, uint32_t v, uint32_t *len)
{
	static const uint32_t bad[] = { 0, 256, 1, 255, 65536, 0xffffffffu };
	unsigned int k = rnd(r, 8);
	char *p;

	if ((v & V_BADKEY) && !rnd(r, 3)) {
		*len = bad[rnd(r, 6)];
		if (*len > 4096) {
			memset(t->big, 'B', 70000);
			return t->big;
		}
		p = buf(t, r, *len ? *len : 1, v);
		if (p != t->unmapped)
			memset(p, 'k', *len);
		return p;
	}
	if (!rnd(r, 12)) {
		*len = 255;
		p = buf(t, r, 255, v);
		if (p != t->unmapped) {
			memset(p, 'K', 255);
			p[254] = '0' + k;
		}
		return p;
	}
	*len = 2;
	p = buf(t, r, 2, v);
	if (p != t->unmapped) {
		p[0] = 'k';
		p[1] = '0' + k;
	}
	return p;
}

static uint32_t count(uint64_t *r, uint32_t v, uint32_t max)
{
	static const uint32_t huge[] = { 0, 257, 1025, 1u << 20, 0x7fffffff, 0xffffffffu };

	if ((v & V_HUGECOUNT) && !rnd(r, 2))
		return huge[rnd(r, 6)];
	return 1 + rnd(r, max);
}

static unsigned long *ccount(int op)
{
	return &cmd_count[op];
}

static int do_ioctl(struct tstate *t, int fd, unsigned long nr, void *arg)
{
	int ret;

	if ((nr & 0xff) < OP_NCMD && _IOC_TYPE(nr) == STMDEV_IOC_MAGIC)
		__atomic_fetch_add(ccount(nr & 0xff), 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
	ret = ioctl(fd, nr, arg);
	if (ret < 0)
		ret = -errno;
	if (ret == -EAGAIN && !t->in_child)
		fail("ioctl %#lx returned EAGAIN (DESIGN: never used)", nr);
	return ret;
}

static int dev_open(void)
{
	return open("/dev/stm", O_RDWR | O_CLOEXEC);
}

/* The fd of slot s, opened on demand. */
static int slot_fd(struct tstate *t, int s)
{
	if (t->fds[s] < 0)
		t->fds[s] = dev_open();
	return t->fds[s];
}

/* The current version of one key through fd (0 on any error). */
static uint64_t cur_version(struct tstate *t, int fd, void *k, uint32_t klen)
{
	struct stmdev_read_ent e = {
		.key_addr = (uintptr_t)k, .key_len = klen,
	};
	struct stmdev_read rd = { .entries = (uintptr_t)&e, .count = 1 };

	if (do_ioctl(t, fd, STMDEV_IOC_READ, &rd) && errno != E2BIG)
		return 0;
	return e.version;
}

static uint64_t version_for(struct tstate *t, uint64_t *r, uint32_t v, int fd,
			    void *k, uint32_t klen)
{
	uint64_t ver;

	switch (rnd(r, 4)) {
	case 0: return 0;
	case 1: if (!(v & V_STALE)) break;
		return rnd64(r) % 1000;
	default: break;
	}
	ver = cur_version(t, fd, k, klen);
	if (v & V_STALE)
		ver += rnd(r, 3) - 1;
	return ver;
}

/*
 * The key entries of a WAIT, WATCH (@versions: each a version worth
 * waiting on) or RESERVE (versions must be 0: V_STALE breaks that), up to
 * 64 of @n filled; the array may be the unmapped page.
 */
static struct stmdev_wait_ent *wait_ents(struct tstate *t, uint64_t *r, uint32_t v,
					 int fd, uint32_t n, bool versions)
{
	struct stmdev_wait_ent *e;
	uint32_t i, klen;
	void *k;

	e = buf(t, r, sizeof(*e) * (n > 64 ? 64 : (n ? n : 1)), v);
	if (e == (void *)t->unmapped)
		return e;
	for (i = 0; i < n && i < 64; i++) {
		if ((v & V_DUPKEY) && i && rnd(r, 2)) {
			e[i] = e[i - 1];
			continue;
		}
		k = key(t, r, v, &klen);
		e[i].key_addr = (uintptr_t)k;
		e[i].key_len = klen;
		if (versions)
			e[i].version = version_for(t, r, v, fd, k, klen);
		else if ((v & V_STALE) && !rnd(r, 3))
			e[i].version = 1 + rnd(r, 1000);
		if ((v & V_RESERVED) && !rnd(r, 3))
			e[i].reserved = 1;
	}
	return e;
}

/*
 * A bounded ADD's delta, min, max: mostly within reach (passes or ERANGE
 * on the stored value), sometimes an int64 overflow, min > max, a bound
 * of a single value.
 */
static void bound_args(uint64_t *r, uint32_t v, char *val)
{
	int64_t b[3];

	b[0] = (int64_t)rnd(r, 2001) - 1000;
	switch (rnd(r, 7)) {
	case 0:		/* a transfer's debit: down to 0 at most */
		b[0] = -(int64_t)rnd(r, 100);
		b[1] = 0;
		b[2] = INT64_MAX;
		break;
	case 1:		/* overflow: the exact sum leaves int64 */
		b[0] = rnd(r, 2) ? INT64_MAX - (int64_t)rnd(r, 3) : INT64_MIN + (int64_t)rnd(r, 3);
		b[1] = INT64_MIN;
		b[2] = INT64_MAX;
		break;
	case 2:		/* min > max: EINVAL */
		b[1] = (int64_t)rnd(r, 100) + 1;
		b[2] = -(int64_t)rnd(r, 100);
		break;
	case 3:		/* one value allowed */
		b[1] = b[2] = (int64_t)rnd(r, 5) - 2;
		break;
	case 4:		/* the whole range */
		b[1] = INT64_MIN;
		b[2] = INT64_MAX;
		break;
	default:	/* a window around 0 */
		b[1] = -(int64_t)rnd(r, 5000);
		b[2] = (int64_t)rnd(r, 5000);
		break;
	}
	if ((v & V_STALE) && !rnd(r, 4)) {
		int64_t x = b[1];

		b[1] = b[2];
		b[2] = x;
	}
	memcpy(val, b, sizeof(b));
}

/* One EXPORT/IMPORT record at p: its padded size. */
static uint32_t put_rec(char *p, uint64_t ver, const char *k, uint32_t klen, uint32_t vlen,
			char fill)
{
	struct stmdev_key_rec h = { .version = ver, .key_len = klen, .val_len = vlen };
	uint32_t sz = (sizeof(h) + klen + vlen + 7) & ~7u;

	memset(p, 0, sz);
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), k, klen);
	memset(p + sizeof(h) + klen, fill, vlen);
	return sz;
}

/*
 * IMPORT's records: the last EXPORT chunk of this thread (valid records,
 * some keys already present), or made up: keys k0..k7, small values;
 * with the variants bad key lengths, a value over max_value_size,
 * version 0, duplicate keys, non-zero padding, garbage bytes, a count or
 * length that does not match the records.
 */
static void *build_import(struct tstate *t, uint64_t *r, uint32_t v, uint32_t *len)
{
	static const uint32_t vlens[] = { 0, 1, 8, 100 };
	struct stmdev_import *a = buf(t, r, sizeof(*a), v);
	uint32_t i, n, total = 0, cnt;
	char *b, kb[256];

	*len = sizeof(*a);
	if (a == (void *)t->unmapped)
		return a;
	if (t->exp_count && rnd(r, 2)) {
		b = buf(t, r, t->exp_len, v);
		if (b != t->unmapped)
			memcpy(b, t->exp_save, t->exp_len);
		total = t->exp_len;
		cnt = t->exp_count;
	} else {
		bool big = (v & V_BIGVAL) && rnd(r, 2);
		uint32_t sz = 0, klen[4], vlen[4];
		uint64_t ver[4];

		n = big ? 1 : 1 + rnd(r, 4);
		for (i = 0; i < n; i++) {
			klen[i] = 2;
			if ((v & V_BADKEY) && !rnd(r, 3))
				klen[i] = (uint32_t[]){ 0, 255, 256 }[rnd(r, 3)];
			vlen[i] = big ? max_value + 1 : vlens[rnd(r, 4)];
			ver[i] = 1 + rnd(r, 1000);
			if ((v & V_STALE) && !rnd(r, 4))
				ver[i] = rnd(r, 2) ? 0 : ~0ULL;
			sz += (sizeof(struct stmdev_key_rec) + klen[i] + vlen[i] + 7) & ~7u;
		}
		b = buf(t, r, sz, v);
		for (i = 0; i < n && b != t->unmapped; i++) {
			memset(kb, 'k', sizeof(kb));
			kb[1] = '0' + rnd(r, 8);
			if ((v & V_DUPKEY) && i && rnd(r, 2))
				kb[1] = '0';
			total += put_rec(b + total, ver[i], kb, klen[i], vlen[i], 'a' + i);
			if ((v & V_RESERVED) && !rnd(r, 4) && ((klen[i] + vlen[i]) & 7))
				b[total - 1] = 1;	/* non-zero padding */
		}
		if (b != t->unmapped && (v & V_STALE) && !rnd(r, 3))
			for (i = 0; i < total; i++)	/* garbage records */
				b[i] = rnd64(r);
		cnt = n;
	}
	a->addr = (uintptr_t)b;
	a->len = total;
	a->count = cnt;
	if (v & V_HUGECOUNT) {
		switch (rnd(r, 4)) {
		case 0: a->count = count(r, v, 4); break;
		case 1: a->count = cnt + 1; break;
		case 2: a->len = rnd(r, 2) ? ~0ULL : 1ULL << (32 + rnd(r, 20)); break;
		default: a->len = total ? total - 1 - rnd(r, total) : 8; break;
		}
	}
	if (v & V_RESERVED) {
		if (rnd(r, 2))
			a->flags = 1u << rnd(r, 32);
		else
			a->reserved = 1ULL << rnd(r, 64);
	}
	return a;
}

/*
 * Build the argument struct of command nr for fd.  Returns it and its
 * size in *len.  r drives every choice, v the near-valid variants.
 */
static void *build(struct tstate *t, uint64_t *r, unsigned int nr, uint32_t v,
		   int fd, uint32_t *len)
{
	uint32_t i, n, klen;
	void *k;

	switch (nr) {
	case 0: {
		struct stmdev_features *a = buf(t, r, sizeof(*a), v);

		*len = sizeof(*a);
		if (a != (void *)t->unmapped && (v & V_RESERVED))
			a->reserved[rnd(r, 2)] = 1;
		return a;
	}
	case 1: {
		struct stmdev_nop *a = alloc(t, sizeof(*a));

		*len = sizeof(*a);
		if (v & V_RESERVED)
			a->reserved = rnd64(r);
		return a;
	}
	case 2: {
		struct stmdev_attach *a = buf(t, r, sizeof(*a), v);
		static const uint32_t modes[] = { 0600, 0644, 0, 0777, 0444, 07777 };

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		store_name(t, r, v & ~V_BANK, a->name);
		switch (rnd(r, 4)) {
		case 0: a->flags = STMDEV_ATTACH_CREAT; break;
		case 1: a->flags = 0; break;
		default: a->flags = rnd(r, 16); break;
		}
		a->mode = modes[rnd(r, 6)];
		if (v & V_RESERVED) {
			if (rnd(r, 2))
				a->flags |= 1u << (4 + rnd(r, 28));
			else
				a->reserved[rnd(r, 2)] = 1;
		}
		return a;
	}
	case 3: {
		struct stmdev_unlink *a = buf(t, r, sizeof(*a), v);

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		store_name(t, r, v, a->name);
		if (v & V_RESERVED)
			a->reserved = 1;
		return a;
	}
	case 4: case 9: {
		size_t sz = nr == 4 ? sizeof(struct stmdev_info) : sizeof(struct stmdev_stats);
		void *a = buf(t, r, sz, v);

		*len = sz;
		return a;
	}
	case 5: case 8: case 13: {
		/* LIST_STORES, LIST, FAMILY_STATS share a shape: addr/len. */
		static const uint32_t lens[] = { 0, 8, 16, 24, 100, 4096, 16384 };
		uint32_t bl = lens[rnd(r, 7)];
		void *b = buf(t, r, bl ? bl : 1, v);

		if (nr == 13) {
			struct stmdev_family_stats *a = alloc(t, sizeof(*a));

			a->addr = (uintptr_t)b;
			a->len = bl;
			a->reserved = (v & V_RESERVED) ? 1 : 0;
			*len = sizeof(*a);
			return a;
		} else {
			struct stmdev_list *a = alloc(t, sizeof(*a));

			a->cursor = rnd(r, 4) ? 0 : rnd64(r) % ((v & V_STALE) ? ~0ULL : 64);
			a->addr = (uintptr_t)b;
			a->len = bl;
			a->reserved = (v & V_RESERVED) ? 1 : 0;
			*len = sizeof(*a);
			return a;
		}
	}
	case 6: {
		struct stmdev_read *a = alloc(t, sizeof(*a));
		struct stmdev_read_ent *e;
		static const uint32_t caps[] = { 0, 8, 64, 300, 65536 };

		n = count(r, v, 6);
		e = buf(t, r, sizeof(*e) * (n > 64 ? 64 : n), v);
		a->entries = (uintptr_t)e;
		a->count = n;
		if (!rnd(r, 4)) {
			a->flags = STMDEV_READ_AT;
			a->clock = (v & V_STALE) ? rnd64(r) % 100 : ~0ULL >> 1;
		}
		if (v & V_RESERVED) {
			if (rnd(r, 2))
				a->flags |= 2u << rnd(r, 30);
			else
				a->reserved = 1;
		}
		if (e != (void *)t->unmapped) {
			for (i = 0; i < n && i < 64; i++) {
				uint32_t cap = caps[rnd(r, 5)];

				if ((v & V_DUPKEY) && i && rnd(r, 2)) {
					e[i] = e[i - 1];
					continue;
				}
				k = key(t, r, v, &klen);
				e[i].key_addr = (uintptr_t)k;
				e[i].key_len = klen;
				e[i].val_addr = (uintptr_t)(cap > 4096 ? t->big :
							    buf(t, r, cap ? cap : 1, v));
				e[i].val_len = cap;
				if ((v & V_RESERVED) && !rnd(r, 3))
					e[i].reserved = 1;
			}
		}
		*len = sizeof(*a);
		return a;
	}
	case 7: {
		struct stmdev_commit *a = alloc(t, sizeof(*a));
		struct stmdev_commit_ent *e;
		static const uint32_t vlens[] = { 0, 1, 8, 8, 100, 4096 };

		n = count(r, v, 6);
		e = buf(t, r, sizeof(*e) * (n > 64 ? 64 : n), v);
		a->entries = (uintptr_t)e;
		a->count = n;
		a->flags = rnd(r, 4) ? 0 : rnd(r, 4);
		a->family = rnd(r, 3) ? 0 : rnd(r, 4);
		if (v & V_RESERVED) {
			switch (rnd(r, 3)) {
			case 0: a->flags |= 4u << rnd(r, 29); break;
			case 1: a->reserved[rnd(r, 2)] = 1; break;
			default: a->family = 1000 + rnd(r, 100); break;
			}
		}
		if (e == (void *)t->unmapped) {
			*len = sizeof(*a);
			return a;
		}
		for (i = 0; i < n && i < 64; i++) {
			uint32_t op = rnd(r, 4), vl;
			bool bound;
			char *val;

			if ((v & V_DUPKEY) && i && rnd(r, 2)) {
				e[i] = e[i - 1];
				e[i].op = rnd(r, 4);
				continue;
			}
			k = key(t, r, v, &klen);
			e[i].key_addr = (uintptr_t)k;
			e[i].key_len = klen;
			e[i].op = op;
			if (rnd(r, 3) == 0)
				e[i].flags = STMDEV_CENT_CHECK;
			if (rnd(r, 5) == 0)
				e[i].flags |= STMDEV_CENT_FETCH;
			if (op == STMDEV_OP_READ || (e[i].flags & STMDEV_CENT_CHECK))
				e[i].version = version_for(t, r, v, fd, k, klen);
			vl = vlens[rnd(r, 6)];
			if (op == STMDEV_OP_ADD)
				vl = (v & V_STALE) && rnd(r, 2) ? rnd(r, 16) : 8;
			/*
			 * Bounded ADD (delta, min, max): on the fuzz stores'
			 * keys only -- like plain ADD, never on the bank's
			 * accounts (a fuzz fd never attaches "bank"), whose
			 * total the auditor checks.
			 */
			bound = op == STMDEV_OP_ADD && !rnd(r, 3);
			if (bound) {
				e[i].flags |= STMDEV_CENT_BOUND;
				vl = (v & V_STALE) && rnd(r, 2) ? rnd(r, 40) : 24;
				/*
				 * Half of them on a counter key c0..c3 that
				 * only ADDs write, so that it holds 8 bytes
				 * (k0..k7 mostly do not: EINVAL before any
				 * bound is looked at).
				 */
				if (!(v & V_BADKEY) && rnd(r, 2)) {
					char *ck = alloc(t, 2);

					ck[0] = 'c';
					ck[1] = '0' + rnd(r, 4);
					e[i].key_addr = (uintptr_t)ck;
					e[i].key_len = 2;
					if (e[i].flags & STMDEV_CENT_CHECK)
						e[i].version = version_for(t, r, v, fd, ck, 2);
				}
			}
			if ((v & V_BIGVAL) && rnd(r, 2))
				vl = max_value + rnd(r, 2);
			if (op == STMDEV_OP_READ && (e[i].flags & STMDEV_CENT_FETCH))
				vl = rnd(r, 2) ? 0 : 300;
			if (vl > 4096) {
				val = t->big;
			} else {
				val = buf(t, r, vl ? vl : 1, v);
				if (val != t->unmapped && val != t->guard + 4096 - vl / 2 && vl)
					memset(val, 'a' + rnd(r, 26), vl);
				if (op == STMDEV_OP_ADD && vl == 8 && val != t->unmapped &&
				    val != t->guard + 4096 - 4) {
					int64_t d = (int64_t)rnd(r, 2001) - 1000;

					memcpy(val, &d, 8);
				}
				if (bound && vl >= 24 && val != t->unmapped &&
				    val != t->guard + 4096 - vl / 2)
					bound_args(r, v, val);
			}
			e[i].val_addr = (op == STMDEV_OP_DEL && rnd(r, 2)) ? 0 : (uintptr_t)val;
			e[i].val_len = vl;
			if (v & V_RESERVED) {
				if (!rnd(r, 3))
					e[i].reserved = 1;
				if (!rnd(r, 3))
					e[i].flags |= 4u << rnd(r, 13);
				if (!rnd(r, 4))
					e[i].op = 4 + rnd(r, 100);
			}
		}
		*len = sizeof(*a);
		return a;
	}
	case 10: case 11: {
		struct stmdev_wait_ent *e;
		static const int64_t tmo[] = { 0, 1000000, 20000000, -1, INT64_MAX, 100000 };

		n = nr == 11 ? count(r, v, 4) - 1 : count(r, v, 4);
		e = wait_ents(t, r, v, fd, n, true);
		if (nr == 10) {
			struct stmdev_wait *a = alloc(t, sizeof(*a));

			a->entries = (uintptr_t)e;
			a->count = n;
			a->flags = rnd(r, 3) ? 0 : STMDEV_WAIT_ALL;
			a->timeout_ns = tmo[rnd(r, 6)];
			if ((v & V_STALE) && rnd(r, 2))
				a->timeout_ns = -(int64_t)rnd64(r) >> 1;
			a->family = rnd(r, 3) ? 0 : rnd(r, 4);
			if (v & V_RESERVED) {
				if (rnd(r, 2))
					a->flags |= 2u << rnd(r, 30);
				else
					a->reserved = 1;
			}
			*len = sizeof(*a);
			return a;
		} else {
			struct stmdev_watch *a = alloc(t, sizeof(*a));

			a->entries = (uintptr_t)e;
			a->count = n;
			if (v & V_RESERVED) {
				if (rnd(r, 2))
					a->flags = 1u << rnd(r, 32);
				else
					a->reserved = 1;
			}
			*len = sizeof(*a);
			return a;
		}
	}
	case 12: {
		struct stmdev_family *a = buf(t, r, sizeof(*a), v);

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		if ((v & V_BADNAME) && rnd(r, 2)) {
			switch (rnd(r, 4)) {
			case 0: break;
			case 1: memset(a->name, 'f', 31); break;
			case 2: memset(a->name, 'f', 32); break;
			default: strcpy(a->name, "a b"); break;
			}
		} else if (rnd(r, 8)) {
			snprintf(a->name, sizeof(a->name), "f%u", rnd(r, 4));
		} else {
			snprintf(a->name, sizeof(a->name), "g%u", rnd(r, 100));
		}
		if (v & V_RESERVED)
			a->reserved = 1;
		return a;
	}
	case OP_EXPORT: {
		static const uint32_t lens[] = { 0, 8, 16, 24, 100, 4096, 16384 };
		struct stmdev_export *a = buf(t, r, sizeof(*a), v);
		uint32_t li = rnd(r, 8), bl;
		void *b;

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		if (li == 7) {	/* room for the largest value */
			bl = max_value + 4096;
			b = t->big;
		} else {
			bl = lens[li];
			b = buf(t, r, bl ? bl : 1, v);
		}
		a->addr = (uintptr_t)b;
		a->len = bl;
		/* Usually a new snapshot or the next chunk of the last one. */
		if (!rnd(r, 3))
			a->cursor = t->exp_cursor;
		if ((v & V_STALE) && rnd(r, 2)) {
			switch (rnd(r, 4)) {
			case 0: a->cursor = t->exp_cursor + 1; break;
			case 1: a->cursor = t->exp_cursor - 1; break;
			case 2: a->cursor = ~0ULL - rnd(r, 2); break;
			default: a->cursor = rnd64(r); break;
			}
		}
		if (v & V_RESERVED)
			a->reserved = 1ULL << rnd(r, 64);
		return a;
	}
	case OP_IMPORT:
		return build_import(t, r, v, len);
	case OP_RANGE: {
		/* A prefix of the fuzz keys: "k", "k3", "K", "c"; a walk
		 * from the start or on with the last cursor. */
		static const uint32_t lens[] = { 0, 8, 24, 100, 4096 };
		static const char *const pfx[] = { "k", "k0", "k3", "K", "c", "z" };
		struct stmdev_range *a = buf(t, r, sizeof(*a), v);
		uint32_t bl = lens[rnd(r, 5)];
		char *p;

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		if (v & V_BADKEY) {
			k = key(t, r, v, &klen);
			a->prefix_addr = (uintptr_t)k;
			a->prefix_len = klen;
		} else {
			const char *q = pfx[rnd(r, 6)];

			p = alloc(t, 8);
			memcpy(p, q, strlen(q));
			a->prefix_addr = (uintptr_t)p;
			a->prefix_len = strlen(q);
		}
		a->addr = (uintptr_t)buf(t, r, bl ? bl : 1, v);
		a->len = bl;
		if (!rnd(r, 4)) {
			a->flags = STMDEV_RANGE_AT;
			a->clock = (v & V_STALE) ? rnd64(r) % 100 : ~0ULL >> 1;
		}
		if (!rnd(r, 3)) {
			a->cursor = t->range_cursor;
			a->version = t->range_version;
		}
		if ((v & V_STALE) && rnd(r, 2)) {
			a->cursor = rnd(r, 2) ? rnd64(r) : t->range_cursor + 1;
			a->version = rnd(r, 2) ? rnd64(r) % 1000 : t->range_version - 1;
		}
		if (v & V_RESERVED) {
			if (rnd(r, 2))
				a->flags |= 2u << rnd(r, 30);
			else
				a->reserved[rnd(r, 2)] = 1;
		}
		return a;
	}
	case OP_RESERVE: {
		static const uint32_t bounds[] = { 0, 1, 5, 20, 50, 1000, 0xffffffffu };
		struct stmdev_reserve *a = buf(t, r, sizeof(*a), v);
		struct stmdev_wait_ent *e;

		*len = sizeof(*a);
		if (a == (void *)t->unmapped)
			return a;
		n = rnd(r, 6) ? count(r, v, 4) : 0;	/* count 0 releases */
		e = wait_ents(t, r, v, fd, n, false);
		a->entries = (uintptr_t)e;
		a->count = n;
		a->bound_ms = bounds[rnd(r, 7)];
		if (v & V_RESERVED) {
			switch (rnd(r, 3)) {
			case 0: a->flags = 1u << rnd(r, 32); break;
			case 1: a->reserved0 = 1; break;
			default: a->reserved = 1ULL << rnd(r, 64); break;
			}
		}
		return a;
	}
	}
	*len = 8;
	return alloc(t, 64);
}

static const unsigned long ioc[OP_NCMD] = {
	STMDEV_IOC_GET_FEATURES, STMDEV_IOC_NOP, STMDEV_IOC_ATTACH,
	STMDEV_IOC_UNLINK, STMDEV_IOC_INFO, STMDEV_IOC_LIST_STORES,
	STMDEV_IOC_READ, STMDEV_IOC_COMMIT, STMDEV_IOC_LIST, STMDEV_IOC_STATS,
	STMDEV_IOC_WAIT, STMDEV_IOC_WATCH, STMDEV_IOC_FAMILY,
	STMDEV_IOC_FAMILY_STATS, STMDEV_IOC_EXPORT, STMDEV_IOC_IMPORT,
	STMDEV_IOC_RANGE, STMDEV_IOC_RESERVE,
};

/* A successful EXPORT chunk: whole records within the buffer; keep them. */
static void check_export(struct tstate *t, struct stmdev_export *a)
{
	const char *b = (const char *)(uintptr_t)a->addr;
	uint64_t off = 0;
	uint32_t i;

	t->exp_cursor = a->cursor;
	__atomic_fetch_add(&n_export_ok, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n_export_recs, a->count, __ATOMIC_RELAXED);
	for (i = 0; i < a->count; i++) {
		struct stmdev_key_rec h;
		uint64_t sz;

		__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
		if (off + sizeof(h) > a->len) {
			fail("EXPORT record %u of %u at offset %llu: header past len %u", i,
			     a->count, (unsigned long long)off, a->len);
			return;
		}
		memcpy(&h, b + off, sizeof(h));
		sz = (sizeof(h) + (uint64_t)h.key_len + h.val_len + 7) & ~7ULL;
		if (!h.key_len || h.key_len > STMDEV_KEY_MAX || h.val_len > max_value ||
		    off + sz > a->len || !h.version || h.version > a->clock) {
			fail("EXPORT record %u of %u at offset %llu: key_len %u val_len %u version %llu (clock %llu, len %u)",
			     i, a->count, (unsigned long long)off, h.key_len, h.val_len,
			     (unsigned long long)h.version, (unsigned long long)a->clock, a->len);
			return;
		}
		off += sz;
	}
	if (a->count && off <= EXP_SAVE) {
		memcpy(t->exp_save, b, off);
		t->exp_len = off;
		t->exp_count = a->count;
	}
}

/*
 * After a successful IMPORT of records into a new store this thread
 * alone holds: it has exactly count keys, and a second IMPORT into it
 * (no longer empty) fails with ENOTEMPTY.
 */
static void check_import(struct tstate *t, int fd, struct stmdev_import *a)
{
	struct stmdev_info inf = { 0 };
	int ret;

	if (!t->fresh || !a->count)
		return;
	__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
	ret = do_ioctl(t, fd, STMDEV_IOC_INFO, &inf);
	if (ret || inf.keys != a->count) {
		fail("IMPORT of %u records into an empty store: INFO %d, %llu keys",
		     a->count, ret, (unsigned long long)inf.keys);
		return;
	}
	__atomic_fetch_add(&n_import_ok, 1, __ATOMIC_RELAXED);
	ret = do_ioctl(t, fd, STMDEV_IOC_IMPORT, a);
	if (ret != -ENOTEMPTY)
		fail("IMPORT into a store of %llu keys returned %d, not ENOTEMPTY",
		     (unsigned long long)inf.keys, ret);
}

/* Post-call oracles. */
static void check_cmd(struct tstate *t, int fd, unsigned int nr, void *arg, int ret)
{
	if (t->in_child)
		return;
	if (nr == 7 && ret == -ERANGE) {
		/* ERANGE names a bounded ADD among the entries. */
		struct stmdev_commit *a = arg;
		struct stmdev_commit_ent *e = (void *)(uintptr_t)a->entries;

		__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_erange, 1, __ATOMIC_RELAXED);
		if (a->conflict >= a->count ||
		    (a->conflict < 64 && (e[a->conflict].op != STMDEV_OP_ADD ||
					  !(e[a->conflict].flags & STMDEV_CENT_BOUND))))
			fail("COMMIT ERANGE with conflict %u of %u entries, not a bounded ADD",
			     a->conflict, a->count);
		return;
	}
	if (ret)
		return;
	if (nr == OP_RANGE) {
		struct stmdev_range *a = arg;

		t->range_cursor = a->cursor;
		t->range_version = a->version;
	} else if (nr == OP_EXPORT) {
		check_export(t, arg);
	} else if (nr == OP_IMPORT) {
		check_import(t, fd, arg);
	} else if (nr == OP_RESERVE) {
		struct stmdev_reserve *a = arg;

		__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_reserve_ok, 1, __ATOMIC_RELAXED);
		if (max_reserve_ms && a->count && a->bound_ms > max_reserve_ms)
			fail("RESERVE left %u ms, over max_reserve_ms %u", a->bound_ms,
			     max_reserve_ms);
	} else if (nr == 7) {
		struct stmdev_commit *a = arg;
		struct stmdev_commit_ent *e = (void *)(uintptr_t)a->entries;
		uint32_t i;

		for (i = 0; i < a->count && i < 64; i++) {
			if (e[i].op == STMDEV_OP_ADD &&
			    (e[i].flags & (STMDEV_CENT_BOUND | STMDEV_CENT_FETCH)) ==
			    (STMDEV_CENT_BOUND | STMDEV_CENT_FETCH)) {
				/* A bounded ADD's result lies within its bounds. */
				int64_t b[3];

				memcpy(b, (void *)(uintptr_t)e[i].val_addr, sizeof(b));
				__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&n_bound_fetch, 1, __ATOMIC_RELAXED);
				if (b[0] < b[1] || b[0] > b[2]) {
					fail("bounded ADD entry %u: result %lld outside [%lld, %lld]",
					     i, (long long)b[0], (long long)b[1], (long long)b[2]);
					return;
				}
			}
			if ((e[i].op == STMDEV_OP_READ || (e[i].flags & STMDEV_CENT_CHECK)) &&
			    !(e[i].flags & STMDEV_CENT_FETCH) &&
			    a->version < e[i].version) {
				fail("COMMIT succeeded with version %llu below entry %u's %llu",
				     (unsigned long long)a->version, i,
				     (unsigned long long)e[i].version);
				return;
			}
			if (e[i].op != STMDEV_OP_READ && a->version) {
				uint64_t v = cur_version(t, fd, (void *)(uintptr_t)e[i].key_addr,
							 e[i].key_len);

				__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
				if (v && v < a->version) {
					fail("key written at version %llu reads back at version %llu",
					     (unsigned long long)a->version,
					     (unsigned long long)v);
					return;
				}
			}
		}
	} else if (nr == 6) {
		struct stmdev_read *a = arg;
		struct stmdev_read_ent *e = (void *)(uintptr_t)a->entries;
		uint32_t i;

		for (i = 0; i < a->count && i < 64; i++) {
			bool present = e[i].flags & STMDEV_RENT_PRESENT;

			__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
			if (present != (e[i].version != 0) || e[i].version > a->clock) {
				fail("READ entry %u: present=%d version=%llu clock=%llu",
				     i, present, (unsigned long long)e[i].version,
				     (unsigned long long)a->clock);
				return;
			}
		}
	}
}

/* ---- io_uring ---- */
static int ring_get(struct tstate *t, int i)
{
	if (!t->ring_ok[i]) {
		if (io_uring_queue_init(32, &t->ring[i], 0))
			return -1;
		t->ring_ok[i] = true;
	}
	return 0;
}

static void ring_close(struct tstate *t, int i)
{
	if (t->ring_ok[i]) {
		io_uring_queue_exit(&t->ring[i]);
		t->ring_ok[i] = false;
	}
}

/*
 * The ring's indices are sane: the kernel never has more CQEs posted than
 * the CQ holds, nor more SQEs pending than the SQ holds.  Anything else
 * means the ring's memory was overwritten (once by the kernel writing a
 * command's output to the "unmapped" buffer after a ring was mmapped in
 * its hole) or liburing's private SQ copies went stale; then liburing's
 * peek loop would walk 2^32 garbage CQEs.  Say so instead of spinning.
 */
static int ring_sane(struct tstate *t, int i)
{
	struct io_uring *ring = &t->ring[i];
	unsigned int ch = *ring->cq.khead, ct = io_uring_smp_load_acquire(ring->cq.ktail);
	unsigned int sh = io_uring_smp_load_acquire(ring->sq.khead), st = *ring->sq.ktail;

	if (ct - ch <= ring->cq.ring_entries && st - sh <= ring->sq.ring_entries &&
	    ring->sq.sqe_tail - sh <= ring->sq.ring_entries)
		return 0;
	if (t->in_child)
		_exit(5);
	fail("thread %d ring %d indices broken: CQ head %u tail %u, SQ head %u tail %u, liburing SQ tail %u",
	     t->id, i, ch, ct, sh, st, ring->sq.sqe_tail);
	return -1;
}

/*
 * After a child that inherited the rings is gone: it may have submitted on
 * them, which moved the shared SQ head and tail but not this process's
 * liburing copies (sqe_head, sqe_tail), so io_uring_get_sqe() would fail
 * forever (or hand out a slot already consumed).  Take the ring's tail:
 * what the child flushed but the kernel did not consume is submitted by
 * our next io_uring_submit().
 */
static void ring_resync(struct tstate *t)
{
	int i;

	for (i = 0; i < NRING; i++)
		if (t->ring_ok[i])
			t->ring[i].sq.sqe_head = t->ring[i].sq.sqe_tail =
				io_uring_smp_load_acquire(t->ring[i].sq.ktail);
}

static void reap(struct tstate *t, int i, unsigned int wait_us)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { 0, wait_us * 1000LL };
	unsigned int n;

	if (!t->ring_ok[i] || ring_sane(t, i))
		return;
	if (wait_us)
		io_uring_wait_cqe_timeout(&t->ring[i], &cqe, &ts);
	/*
	 * Bounded: a CQ never holds more than ring_entries CQEs (overflowed
	 * ones come in on a later reap).
	 */
	for (n = 0; n < t->ring[i].cq.ring_entries && !ring_sane(t, i) &&
	     io_uring_peek_cqe(&t->ring[i], &cqe) == 0; n++) {
		if (cqe->res == -EAGAIN && !t->in_child)
			fail("io_uring command %llu completed with EAGAIN",
			     (unsigned long long)cqe->user_data);
		io_uring_cqe_seen(&t->ring[i], cqe);
	}
}

/* Submit 1..3 commands on ring ri, through fd; inline, async or linked. */
static void ring_submit(struct tstate *t, uint64_t *r, uint32_t v, int ri, int fd)
{
	unsigned int n = 1 + rnd(r, 3), i;
	size_t save = t->arena_off;
	char *save_arena = t->arena;

	if (ring_get(t, ri) || ring_sane(t, ri))
		return;
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring[ri]);
		struct stmdev_uring_cmd *p;
		unsigned int nr;
		uint32_t len;
		void *arg;

		if (!sqe)
			break;
		/* Arguments live in this ring's slot memory until reused. */
		t->arena = t->ring_mem[ri] + (t->ring_slot[ri]++ % RING_SLOTS) * SLOT_SZ;
		t->arena_off = 0;
		t->arena_sz = SLOT_SZ;
		nr = rnd(r, 5) ? (rnd(r, 2) ? 10 : 7) : rnd(r, OP_NCMD);
		if (!rnd(r, 4))
			nr = 6;
		else if (!rnd(r, 6))
			nr = OP_EXPORT + rnd(r, 4);	/* EXPORT..RESERVE */
		while (!ioc[nr])	/* a slot not taught yet */
			nr = rnd(r, OP_NCMD);
		arg = build(t, r, nr, v, fd, &len);
		t->arena = save_arena;
		t->arena_off = save;
		t->arena_sz = ARENA_SZ;
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
		sqe->cmd_op = ioc[nr];
		p = (struct stmdev_uring_cmd *)sqe->cmd;
		p->addr = (uintptr_t)arg;
		p->len = len;
		p->flags = 0;
		if ((v & V_RESERVED) && !rnd(r, 3)) {
			if (rnd(r, 2))
				p->flags = 1;
			else
				p->len = rnd(r, 2) ? 0 : len + 8;
		}
		if ((v & V_STALE) && !rnd(r, 8))
			sqe->cmd_op = ioc[nr] ^ (1u << rnd(r, 30));
		sqe->user_data = nr;
		if ((v & V_ASYNC) || !rnd(r, 4))
			sqe->flags |= IOSQE_ASYNC;
		if ((v & V_LINK) && i + 1 < n)
			sqe->flags |= IOSQE_IO_LINK;
		__atomic_fetch_add(&uring_count[nr], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
	}
	guard_close(t);
	io_uring_submit(&t->ring[ri]);
	if (rnd(r, 2))
		reap(t, ri, rnd(r, 3) ? 0 : 1000 * (1 + rnd(r, 20)));
}

/* ---- the delay knob ---- */
static void knob(int site, unsigned int us)
{
	char s[32];
	int fd;

	if (!knob_present)
		return;
	fd = open(PARAM "debug_delay_us", O_WRONLY);
	if (fd >= 0) {
		snprintf(s, sizeof(s), "%u", us);
		if (write(fd, s, strlen(s)) < 0)
			perror("# fuzz: delay knob");
		close(fd);
	}
	fd = open(PARAM "debug_delay_site", O_WRONLY);
	if (fd >= 0) {
		snprintf(s, sizeof(s), "%d", site);
		if (write(fd, s, strlen(s)) < 0)
			perror("# fuzz: delay knob");
		close(fd);
	}
}

/* Between programs: fds are closed (cheap); rings are kept unless `all`
 * (setting one up costs milliseconds under TCG), with their requests in
 * flight: the ring-close op closes them. */
static void reset_state(struct tstate *t, bool all)
{
	int i;

	for (i = 0; all && i < NRING; i++)
		ring_close(t, i);
	for (i = 0; i < NFD; i++) {
		if (t->fds[i] >= 0)
			close(t->fds[i]);
		t->fds[i] = -1;
	}
}

static void exec_call(struct tstate *t, const struct call *c);

/* A child: inherits fds and rings, runs calls, then leaves in one of
 * several ways; the parent may kill -9 it at any point. */
static void do_fork(struct tstate *t, uint64_t *r, uint32_t v)
{
	int kind = rnd(r, 6), i, st, ncalls = 1 + rnd(r, 6);
	unsigned int kill_us = rnd(r, 3) ? rnd(r, 30000) : 0;
	struct call sub[8];
	pid_t pid;

	for (i = 0; i < ncalls; i++) {
		do
			sub[i].op = rnd(r, NOPS);
		while (sub[i].op == OP_FORK || sub[i].op == OP_KNOB ||
		       (sub[i].op < OP_NCMD && !ioc[sub[i].op]));
		sub[i].variant = rnd(r, 4) ? 0 : (uint32_t)rnd64(r) & v;
		sub[i].seed = (uint32_t)rnd64(r);
	}
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		t->in_child = true;
		if (t->kcov >= 0)
			close(t->kcov);
		if (kind == 1) {
			/* A new network namespace: fresh fds see fresh stores. */
			if (unshare(CLONE_NEWNET) == 0)
				for (i = 0; i < NFD; i++)
					if (rnd(r, 2) && t->fds[i] >= 0) {
						close(t->fds[i]);
						t->fds[i] = -1;
					}
		} else if (kind == 2) {
			if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
				_exit(3);
		}
		for (i = 0; i < ncalls; i++)
			exec_call(t, &sub[i]);
		if (kind == 3) {
			char *argv[] = { "true", NULL };

			execv("/bin/true", argv);
		}
		if (kind == 4)	/* leave with whatever is in flight */
			_exit(0);
		reset_state(t, true);
		_exit(0);
	}
	if (kill_us) {
		usleep(kill_us);
		kill(pid, SIGKILL);
	}
	t->intr_ok = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ring_resync(t);
}

/*
 * Slot s on a new, empty store that only this thread (or child) uses, so
 * that an IMPORT can succeed and its oracle knows what the store holds.
 */
static void fresh_store(struct tstate *t, int s)
{
	struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
				   .mode = 0600 };
	struct stmdev_unlink u = { 0 };

	if (t->fds[s] >= 0)
		close(t->fds[s]);
	t->fds[s] = dev_open();
	if (t->fds[s] < 0)
		return;
	snprintf(u.name, sizeof(u.name), "imp%d%s", t->id, t->in_child ? "c" : "");
	memcpy(a.name, u.name, sizeof(a.name));
	do_ioctl(t, t->fds[s], STMDEV_IOC_UNLINK, &u);
	t->fresh = do_ioctl(t, t->fds[s], STMDEV_IOC_ATTACH, &a) == 0;
}

static void exec_call(struct tstate *t, const struct call *c)
{
	uint64_t r = c->seed * 0x100000001b3ULL + c->op;
	uint32_t v = c->variant, len;
	int s = rnd(&r, NFD), fd, ret;
	void *arg;

	t->arena_off = 0;
	if (!t->in_child) {
		__atomic_fetch_add(ccount(c->op), c->op < OP_NCMD ? 0 : 1, __ATOMIC_RELAXED);
		t->call_op = c->op;
		t->intr_ok = 0;
		t->call_start = now_ns();
	}
	if (c->op < OP_NCMD) {
		if (!ioc[c->op])	/* e.g. a program naming RANGE */
			goto out;
		t->fresh = false;
		if (c->op == OP_IMPORT && !rnd(&r, 3))
			fresh_store(t, s);
		fd = slot_fd(t, s);
		if (fd < 0)
			goto out;
		/* WAIT without a timeout: the watchdog interrupts it. */
		t->intr_ok = c->op == 10;
		arg = build(t, &r, c->op, v, fd, &len);
		guard_close(t);
		ret = do_ioctl(t, fd, ioc[c->op], arg);
		if (!(v & (V_UNMAPPED | V_PARTIAL)))
			check_cmd(t, fd, c->op, arg, ret);
		goto out;
	}
	switch (c->op) {
	case OP_RAW: {
		unsigned int dir = rnd(&r, 4), nr = rnd(&r, 20), sz = rnd(&r, 2) ? rnd(&r, 300) : 8 * rnd(&r, 40);
		void *a = buf(t, &r, 4096, v);

		fd = slot_fd(t, s);
		guard_close(t);
		if (fd >= 0) {
			__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
			ret = ioctl(fd, _IOC(dir, rnd(&r, 8) ? STMDEV_IOC_MAGIC : rnd(&r, 256), nr,
					    sz & _IOC_SIZEMASK), a);
		}
		break;
	}
	case OP_OPEN:
		if (t->fds[s] >= 0)
			close(t->fds[s]);
		t->fds[s] = open("/dev/stm", (rnd(&r, 4) ? O_RDWR : O_RDONLY) |
				 (rnd(&r, 3) ? 0 : O_NONBLOCK) | O_CLOEXEC);
		if (t->fds[s] >= 0 && rnd(&r, 4)) {
			/* Usually attach at once: most commands need it. */
			struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT, .mode = 0600 };

			store_name(t, &r, 0, a.name);
			if (!rnd(&r, 4))
				a.flags |= STMDEV_ATTACH_NONBLOCK;
			do_ioctl(t, t->fds[s], STMDEV_IOC_ATTACH, &a);
		}
		break;
	case OP_CLOSE:
		if (t->fds[s] >= 0)
			close(t->fds[s]);
		t->fds[s] = -1;
		break;
	case OP_DUP: {
		int s2 = rnd(&r, NFD);

		if (t->fds[s] >= 0 && s2 != s) {
			if (t->fds[s2] >= 0)
				close(t->fds[s2]);
			t->fds[s2] = fcntl(t->fds[s], F_DUPFD_CLOEXEC, 0);
		}
		break;
	}
	case OP_POLL: {
		struct pollfd p = { .fd = slot_fd(t, s), .events = POLLIN | POLLOUT };

		if (p.fd >= 0) {
			__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
			poll(&p, 1, rnd(&r, 3) ? 0 : 5);
		}
		break;
	}
	case OP_RING:
		fd = slot_fd(t, s);
		if (fd >= 0)
			ring_submit(t, &r, v, rnd(&r, NRING), fd);
		break;
	case OP_REAP:
		reap(t, rnd(&r, NRING), rnd(&r, 2) ? 0 : 1000 * rnd(&r, 50));
		break;
	case OP_RINGCLOSE:
		ring_close(t, rnd(&r, NRING));
		break;
	case OP_FORK:
		if (!t->in_child)
			do_fork(t, &r, v);
		break;
	case OP_KNOB: {
		int site = rnd(&r, 6);

		if (!t->in_child && pin_site < 0)
			knob(site == 5 ? 0 : site,
			     site == 1 ? 50000 + rnd(&r, 250000) : rnd(&r, 3000));
		break;
	}
	case OP_YIELD:
		if (rnd(&r, 2))
			sched_yield();
		else
			usleep(rnd(&r, 2000));
		break;
	case OP_WAITRACE: {
		/*
		 * An async WAIT on keys at their current versions (so it
		 * really sleeps), then a commit of one of them through
		 * another fd while the io-wq worker may still be arming it.
		 */
		int ri = rnd(&r, NRING), s2 = (s + 1) % NFD, fd2;
		struct stmdev_commit_ent ce = { .op = STMDEV_OP_ADD, .val_len = 8 };
		struct stmdev_commit cm = { .entries = (uintptr_t)&ce, .count = 1 };
		struct io_uring_sqe *sqe;
		struct stmdev_uring_cmd *p;
		struct stmdev_wait *w;
		struct stmdev_wait_ent *e;
		int64_t one = 1;
		char *kb;
		uint32_t klen;

		if (rnd(&r, 4)) {
			/* Usually two fresh fds. */
			if (t->fds[s] >= 0)
				close(t->fds[s]);
			if (t->fds[s2] >= 0)
				close(t->fds[s2]);
			t->fds[s] = t->fds[s2] = -1;
		}
		fd = slot_fd(t, s);
		fd2 = slot_fd(t, s2);
		if (fd < 0 || fd2 < 0 || ring_get(t, ri) || ring_sane(t, ri))
			break;
		if (rnd(&r, 8)) {
			/* Same store on both fds. */
			struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT, .mode = 0600 };

			store_name(t, &r, 0, a.name);
			do_ioctl(t, fd, STMDEV_IOC_ATTACH, &a);
			do_ioctl(t, fd2, STMDEV_IOC_ATTACH, &a);
		}
		kb = t->ring_mem[ri] + (t->ring_slot[ri]++ % RING_SLOTS) * SLOT_SZ;
		w = (void *)kb;
		e = (void *)(kb + 64);
		memset(kb, 0, 256);
		klen = 2;
		kb[200] = 'k';
		kb[201] = '0' + rnd(&r, 8);
		e->key_addr = (uintptr_t)(kb + 200);
		e->key_len = klen;
		e->version = cur_version(t, fd, kb + 200, klen);
		w->entries = (uintptr_t)e;
		w->count = 1;
		w->timeout_ns = rnd(&r, 2) ? -1 : 50000000;
		sqe = io_uring_get_sqe(&t->ring[ri]);
		if (!sqe)
			break;
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
		sqe->cmd_op = STMDEV_IOC_WAIT;
		p = (struct stmdev_uring_cmd *)sqe->cmd;
		p->addr = (uintptr_t)w;
		p->len = sizeof(*w);
		p->flags = 0;
		sqe->user_data = 10;
		if (rnd(&r, 4))
			sqe->flags |= IOSQE_ASYNC;
		__atomic_fetch_add(&uring_count[10], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
		io_uring_submit(&t->ring[ri]);
		if (rnd(&r, 2))
			usleep(rnd(&r, 5000));
		ce.key_addr = e->key_addr;
		ce.key_len = klen;
		ce.val_addr = (uintptr_t)&one;
		do_ioctl(t, fd2, STMDEV_IOC_COMMIT, &cm);
		switch (rnd(&r, 3)) {
		case 0: reap(t, ri, 1000 * rnd(&r, 20)); break;
		case 1: ring_close(t, ri); break;
		default: break;
		}
		break;
	}
	}
out:
	if (!t->in_child) {
		__atomic_fetch_add(&op_ns[c->op], now_ns() - t->call_start, __ATOMIC_RELAXED);
		t->call_start = 0;
	}
}

/* ---- coverage ---- */
static int kcov_open(struct tstate *t)
{
	t->kcov = -1;
	if (!have_kcov)
		return 0;
	t->kcov = open("/sys/kernel/debug/kcov", O_RDWR | O_CLOEXEC);
	if (t->kcov < 0)
		return -1;
	if (ioctl(t->kcov, KCOV_INIT_TRACE, COVER_SIZE))
		return -1;
	t->cover = mmap(NULL, COVER_SIZE * sizeof(unsigned long), PROT_READ | PROT_WRITE,
			MAP_SHARED, t->kcov, 0);
	if (t->cover == MAP_FAILED)
		return -1;
	if (ioctl(t->kcov, KCOV_ENABLE, KCOV_TRACE_PC))
		return -1;
	return 0;
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Fold this program's PCs into the maps; the number of new edges. */
static unsigned long cover_collect(struct tstate *t)
{
	unsigned long n, i, fresh = 0, prev = 0;

	if (t->kcov < 0)
		return 0;
	n = __atomic_load_n(&t->cover[0], __ATOMIC_RELAXED);
	if (n >= COVER_SIZE)
		n = COVER_SIZE - 1;
	for (i = 0; i < n; i++) {
		unsigned long pc = t->cover[i + 1];
		uint64_t e;

		if (pc < text_start || pc >= text_start + text_size)
			continue;
		if (!__atomic_exchange_n(&pc_map[pc - text_start], 1, __ATOMIC_RELAXED))
			__atomic_fetch_add(&n_pcs, 1, __ATOMIC_RELAXED);
		e = hash64(prev * 31 + pc) & ((1u << EDGE_BITS) - 1);
		prev = pc;
		if (!__atomic_exchange_n(&edge_map[e], 1, __ATOMIC_RELAXED)) {
			fresh++;
			__atomic_fetch_add(&n_edges, 1, __ATOMIC_RELAXED);
		}
	}
	return fresh;
}

/* ---- generation and mutation ---- */
static int pick_op(uint64_t *r)
{
	static int total;
	int i, x;

	if (!total)
		for (i = 0; i < NOPS; i++)
			total += opweight[i];
	x = rnd(r, total);
	for (i = 0; i < NOPS; i++) {
		if (x < opweight[i])
			return i;
		x -= opweight[i];
	}
	return 1;
}

static uint32_t pick_variant(uint64_t *r)
{
	uint32_t v = 0;
	int i;

	if (rnd(r, 3) == 0)
		return 0;
	for (i = 0; i < V_BITS; i++)
		if (rnd(r, 10) == 0)
			v |= 1u << i;
	if ((v & V_BANK) && rnd(r, 8))
		v &= ~V_BANK;
	return v;
}

static void gen_call(uint64_t *r, struct call *c)
{
	c->op = pick_op(r);
	c->variant = pick_variant(r);
	c->seed = (uint32_t)rnd64(r);
}

static void gen_prog(uint64_t *r, struct prog *p)
{
	int i;

	p->n = 2 + rnd(r, 8);
	p->c[0].op = OP_OPEN;
	p->c[0].variant = 0;
	p->c[0].seed = (uint32_t)rnd64(r);
	for (i = 1; i < p->n; i++)
		gen_call(r, &p->c[i]);
}

static void mutate(uint64_t *r, struct prog *p)
{
	int i, k, m = 1 + rnd(r, 3);
	struct call tmp;

	while (m--) {
		i = p->n ? rnd(r, p->n) : 0;
		switch (rnd(r, 7)) {
		case 0: if (p->n) p->c[i].seed = (uint32_t)rnd64(r); break;
		case 1: if (p->n) p->c[i].variant ^= 1u << rnd(r, V_BITS); break;
		case 2:	/* insert */
			if (p->n < MAX_CALLS) {
				memmove(&p->c[i + 1], &p->c[i], (p->n - i) * sizeof(p->c[0]));
				gen_call(r, &p->c[i]);
				p->n++;
			}
			break;
		case 3:	/* remove */
			if (p->n > 1) {
				memmove(&p->c[i], &p->c[i + 1], (p->n - i - 1) * sizeof(p->c[0]));
				p->n--;
			}
			break;
		case 4:	/* duplicate */
			if (p->n < MAX_CALLS && p->n) {
				memmove(&p->c[i + 1], &p->c[i], (p->n - i) * sizeof(p->c[0]));
				p->n++;
			}
			break;
		case 5:	/* swap */
			if (p->n > 1) {
				k = rnd(r, p->n);
				tmp = p->c[i];
				p->c[i] = p->c[k];
				p->c[k] = tmp;
			}
			break;
		default:	/* splice from another corpus program */
			pthread_mutex_lock(&corpus_lock);
			if (corpus_n) {
				const struct prog *o = &corpus[rnd(r, corpus_n)];

				for (k = 0; k < o->n && p->n < MAX_CALLS; k++)
					if (rnd(r, 2))
						p->c[p->n++] = o->c[k];
			}
			pthread_mutex_unlock(&corpus_lock);
			break;
		}
	}
}

static void run_prog(struct tstate *t, const struct prog *p)
{
	int i;

	log_prog(p, t->id, t->progs);
	if (t->kcov >= 0)
		__atomic_store_n(&t->cover[0], 0, __ATOMIC_RELAXED);
	for (i = 0; i < p->n && !stop; i++)
		exec_call(t, &p->c[i]);
	reset_state(t, false);
	t->progs++;
	__atomic_fetch_add(&total_progs, 1, __ATOMIC_RELAXED);
}

static int tstate_init(struct tstate *t, int id)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->kcov = -1;
	for (i = 0; i < NFD; i++)
		t->fds[i] = -1;
	t->arena_sz = ARENA_SZ;
	t->arena = mmap(NULL, ARENA_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->guard = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/*
	 * "Unmapped": a PROT_NONE page kept for good (it faults as an
	 * unmapped page does).  It used to be munmapped here, and the next
	 * one-page mmap -- an io_uring's SQ/CQ header or SQE array -- landed
	 * in the hole, where a command's output then went.
	 */
	t->unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->big = mmap(NULL, max_value + 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->exp_save = mmap(NULL, EXP_SAVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < NRING; i++)
		t->ring_mem[i] = mmap(NULL, RING_SLOTS * SLOT_SZ, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->arena == MAP_FAILED || t->guard == MAP_FAILED || t->unmapped == MAP_FAILED ||
	    t->big == MAP_FAILED || t->exp_save == MAP_FAILED)
		return -1;
	mprotect(t->guard + 4096, 4096, PROT_NONE);
	t->rng = 0x5eed0000ULL + id * 7919 + now_ns();
	return 0;
}

static void *fuzz_thread(void *arg)
{
	struct tstate *t = arg;
	struct prog p;

	t->tid = syscall(SYS_gettid);
	if (kcov_open(t))
		fprintf(stderr, "# fuzz: thread %d: kcov: %s\n", t->id, strerror(errno));
	while (!stop) {
		bool from_corpus = false;

		pthread_mutex_lock(&corpus_lock);
		if (corpus_n && rnd(&t->rng, 10) < 7) {
			p = corpus[rnd(&t->rng, corpus_n)];
			from_corpus = true;
		}
		pthread_mutex_unlock(&corpus_lock);
		if (from_corpus)
			mutate(&t->rng, &p);
		else
			gen_prog(&t->rng, &p);
		run_prog(t, &p);
		if (stop)
			reset_state(t, true);
		if (cover_collect(t) || (!have_kcov && !rnd(&t->rng, 50))) {
			pthread_mutex_lock(&corpus_lock);
			if (corpus_n < CORPUS_MAX)
				corpus[corpus_n++] = p;
			else
				corpus[rnd(&t->rng, CORPUS_MAX)] = p;
			pthread_mutex_unlock(&corpus_lock);
		}
	}
	return NULL;
}

/* ---- the bank ---- */
static const char bank_name[] = "bank";
static uint64_t bank_commits_ok;
static uint64_t bank_total;
static uint64_t acc_maxver[NACC];

static void acc_key(int i, char *k)
{
	snprintf(k, 8, "acct%d", i);
}

static int bank_attach(void)
{
	struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT, .mode = 0600 };
	int fd = dev_open();

	if (fd < 0)
		return -1;
	strcpy(a.name, bank_name);
	if (ioctl(fd, STMDEV_IOC_ATTACH, &a)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void vmax(uint64_t *p, uint64_t v)
{
	uint64_t o = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (o < v && !__atomic_compare_exchange_n(p, &o, v, false, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
}

static void *bank_worker(void *arg)
{
	struct tstate *t = arg;
	int fd = bank_attach();
	char ka[8], kb[8];
	struct io_uring ring;
	bool use_ring = t->id & 1;

	t->tid = syscall(SYS_gettid);
	if (fd < 0) {
		fail("bank worker %d cannot attach", t->id);
		return NULL;
	}
	if (use_ring && io_uring_queue_init(8, &ring, 0))
		use_ring = false;
	while (!stop) {
		int a = rnd(&t->rng, NACC), b = (a + 1 + rnd(&t->rng, NACC - 1)) % NACC;
		int64_t va, vb, amt = rnd(&t->rng, 50), da, db;
		struct stmdev_read_ent re[2] = {
			{ .key_addr = (uintptr_t)ka, .key_len = 0, .val_addr = (uintptr_t)&va, .val_len = 8 },
			{ .key_addr = (uintptr_t)kb, .key_len = 0, .val_addr = (uintptr_t)&vb, .val_len = 8 },
		};
		struct stmdev_read rd = { .entries = (uintptr_t)re, .count = 2 };
		struct stmdev_commit_ent ce[2];
		struct stmdev_commit cm = { .entries = (uintptr_t)ce, .count = 2 };
		int mode = rnd(&t->rng, 6);
		/*
		 * A third of the transfers are ADDs: half of them bounded
		 * (the documented transfer: -x with min 0, +x), which keeps
		 * the total as well -- both entries or neither.
		 */
		bool bounded = mode == 1 && (features & STMDEV_F_ADD_BOUND);
		bool add = mode == 0 || (mode == 1 && !bounded);
		int64_t ba[3] = { 0, 0, INT64_MAX }, bb[3] = { 0, INT64_MIN, INT64_MAX };
		struct io_uring_sqe *sqe;
		int ret;

		acc_key(a, ka);
		acc_key(b, kb);
		re[0].key_len = re[1].key_len = strlen(ka);
		t->call_start = now_ns();
		t->call_op = 6;
		if (do_ioctl(t, fd, STMDEV_IOC_READ, &rd)) {
			fail("bank READ: %s", strerror(errno));
			break;
		}
		memset(ce, 0, sizeof(ce));
		ce[0].key_addr = (uintptr_t)ka;
		ce[1].key_addr = (uintptr_t)kb;
		ce[0].key_len = ce[1].key_len = strlen(ka);
		if (bounded) {
			ba[0] = -amt;
			bb[0] = amt;
			ce[0].op = ce[1].op = STMDEV_OP_ADD;
			ce[0].flags = ce[1].flags = STMDEV_CENT_BOUND |
				(rnd(&t->rng, 2) ? STMDEV_CENT_FETCH : 0);
			ce[0].val_addr = (uintptr_t)ba;
			ce[1].val_addr = (uintptr_t)bb;
		} else if (add) {
			da = -amt;
			db = amt;
			ce[0].op = ce[1].op = STMDEV_OP_ADD;
			ce[0].val_addr = (uintptr_t)&da;
			ce[1].val_addr = (uintptr_t)&db;
		} else {
			va -= amt;
			vb += amt;
			ce[0].op = ce[1].op = STMDEV_OP_PUT;
			ce[0].flags = ce[1].flags = STMDEV_CENT_CHECK;
			ce[0].version = re[0].version;
			ce[1].version = re[1].version;
			ce[0].val_addr = (uintptr_t)&va;
			ce[1].val_addr = (uintptr_t)&vb;
		}
		ce[0].val_len = ce[1].val_len = bounded ? 24 : 8;
		if (rnd(&t->rng, 4) == 0)
			cm.flags = STMDEV_COMMIT_NONBLOCK;
		t->call_op = 7;
		/*
		 * No SQE (an earlier submit cut short by the watchdog's signal
		 * left one queued, and the ring filled): the ioctl then.
		 */
		sqe = use_ring && rnd(&t->rng, 2) ? io_uring_get_sqe(&ring) : NULL;
		if (sqe) {
			struct io_uring_cqe *cqe;
			struct stmdev_uring_cmd *p;

			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
			sqe->cmd_op = STMDEV_IOC_COMMIT;
			p = (struct stmdev_uring_cmd *)sqe->cmd;
			p->addr = (uintptr_t)&cm;
			p->len = sizeof(cm);
			p->flags = 0;
			if (rnd(&t->rng, 3) == 0)
				sqe->flags |= IOSQE_ASYNC;
			__atomic_fetch_add(&uring_count[7], 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
			io_uring_submit(&ring);
			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret == -EINTR && stop)
				break;	/* the run's end signalled the wait */
			if (ret) {
				fail("bank: io_uring_wait_cqe: %s", strerror(-ret));
				break;
			}
			ret = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			if (ret == -EAGAIN)
				fail("bank: io_uring COMMIT completed with EAGAIN");
		} else {
			ret = do_ioctl(t, fd, STMDEV_IOC_COMMIT, &cm);
		}
		t->call_start = 0;
		__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
		if (ret == 0) {
			__atomic_fetch_add(&bank_commits_ok, 1, __ATOMIC_RELAXED);
			if (cm.version <= re[0].version || cm.version <= re[1].version) {
				fail("bank: commit version %llu not above versions read %llu/%llu",
				     (unsigned long long)cm.version,
				     (unsigned long long)re[0].version,
				     (unsigned long long)re[1].version);
				break;
			}
			vmax(&acc_maxver[a], cm.version);
			vmax(&acc_maxver[b], cm.version);
			if (bounded)
				__atomic_fetch_add(&n_bank_bound_ok, 1, __ATOMIC_RELAXED);
			if (bounded && (ce[0].flags & STMDEV_CENT_FETCH) && ba[0] < 0) {
				fail("bank: bounded debit of %lld left account %d at %lld",
				     (long long)amt, a, (long long)ba[0]);
				break;
			}
		} else if (ret == -ERANGE && bounded) {
			/* Only the debit (min 0) can be out of bounds. */
			__atomic_fetch_add(&n_bank_erange, 1, __ATOMIC_RELAXED);
			if (cm.conflict != 0) {
				fail("bank: bounded transfer ERANGE with conflict %u", cm.conflict);
				break;
			}
		} else if (ret != -ESTALE && ret != -EBUSY && ret != -EINTR) {
			fail("bank: COMMIT failed: %s", strerror(-ret));
			break;
		}
		if (rnd(&t->rng, 4) == 0)
			usleep(rnd(&t->rng, 2000));
		if (rnd(&t->rng, 8) == 0) {
			/* A blocking retry: wait until the first account moves. */
			struct stmdev_wait_ent we = {
				.key_addr = (uintptr_t)ka, .key_len = strlen(ka),
				.version = re[0].version,
			};
			struct stmdev_wait w = { .entries = (uintptr_t)&we, .count = 1,
						 .timeout_ns = 5000000 };

			t->call_start = now_ns();
			t->call_op = 10;
			ret = do_ioctl(t, fd, STMDEV_IOC_WAIT, &w);
			t->call_start = 0;
			if (ret && ret != -ETIMEDOUT && ret != -EINTR && ret != -EIDRM)
				fail("bank: WAIT: %s", strerror(-ret));
		}
	}
	if (use_ring)
		io_uring_queue_exit(&ring);
	close(fd);
	return NULL;
}

static unsigned long audits;

static void *bank_auditor(void *arg)
{
	struct tstate *t = arg;
	int fd = bank_attach(), i;
	char keys[NACC][8];
	int64_t val[NACC], last_val[NACC];
	uint64_t last_ver[NACC] = { 0 }, last_clock = 0;
	struct stmdev_read_ent re[NACC];
	struct stmdev_read rd = { .entries = (uintptr_t)re, .count = NACC };

	t->tid = syscall(SYS_gettid);
	if (fd < 0) {
		fail("bank auditor cannot attach");
		return NULL;
	}
	for (i = 0; i < NACC; i++)
		acc_key(i, keys[i]);
	while (!stop) {
		int64_t sum = 0;

		memset(re, 0, sizeof(re));
		for (i = 0; i < NACC; i++) {
			re[i].key_addr = (uintptr_t)keys[i];
			re[i].key_len = strlen(keys[i]);
			re[i].val_addr = (uintptr_t)&val[i];
			re[i].val_len = 8;
		}
		t->call_start = now_ns();
		t->call_op = 6;
		if (do_ioctl(t, fd, STMDEV_IOC_READ, &rd)) {
			fail("auditor READ: %s", strerror(errno));
			break;
		}
		t->call_start = 0;
		audits++;
		for (i = 0; i < NACC; i++) {
			__atomic_fetch_add(&oracle_checks, 1, __ATOMIC_RELAXED);
			if (!(re[i].flags & STMDEV_RENT_PRESENT) || re[i].val_len != 8) {
				fail("auditor: account %d absent or not 8 bytes (flags %u len %u)",
				     i, re[i].flags, re[i].val_len);
				goto out;
			}
			sum += val[i];
			if (re[i].version < last_ver[i] || re[i].version > rd.clock ||
			    (audits > 1 && val[i] != last_val[i] && re[i].version == last_ver[i])) {
				fail("auditor: account %d version %llu (before %llu, clock %llu), value %lld (before %lld)",
				     i, (unsigned long long)re[i].version,
				     (unsigned long long)last_ver[i],
				     (unsigned long long)rd.clock, (long long)val[i],
				     (long long)last_val[i]);
				goto out;
			}
			last_ver[i] = re[i].version;
			last_val[i] = val[i];
		}
		if (rd.clock < last_clock) {
			fail("auditor: snapshot clock went back %llu -> %llu",
			     (unsigned long long)last_clock, (unsigned long long)rd.clock);
			break;
		}
		last_clock = rd.clock;
		if ((uint64_t)sum != bank_total) {
			fail("auditor: total %lld, expected %llu (snapshot at clock %llu)",
			     (long long)sum, (unsigned long long)bank_total,
			     (unsigned long long)rd.clock);
			break;
		}
		usleep(2000);
	}
out:
	close(fd);
	return NULL;
}

static int bank_setup(void)
{
	int fd = bank_attach(), i;
	char keys[NACC][8];
	int64_t v = ACC_INIT;
	struct stmdev_commit_ent ce[NACC];
	struct stmdev_commit cm = { .entries = (uintptr_t)ce, .count = NACC };

	if (fd < 0)
		return -1;
	memset(ce, 0, sizeof(ce));
	for (i = 0; i < NACC; i++) {
		acc_key(i, keys[i]);
		ce[i].key_addr = (uintptr_t)keys[i];
		ce[i].key_len = strlen(keys[i]);
		ce[i].op = STMDEV_OP_PUT;
		ce[i].val_addr = (uintptr_t)&v;
		ce[i].val_len = 8;
	}
	if (ioctl(fd, STMDEV_IOC_COMMIT, &cm)) {
		close(fd);
		return -1;
	}
	bank_commits_ok = 1;
	bank_total = (uint64_t)NACC * ACC_INIT;
	return fd;
}

/* ---- watchdog and kmsg ---- */
static void on_usr1(int sig)
{
	(void)sig;
}

/* A fault in the fuzzer itself: say where (addr2line the rip), and keep
 * the programs. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	ucontext_t *u = uc;
	char msg[200];
	int n;

	n = snprintf(msg, sizeof(msg), "# fuzz: signal %d at address %p, rip %#llx\n", sig,
		     si->si_addr, (unsigned long long)u->uc_mcontext.gregs[REG_RIP]);
	if (write(1, msg, n) < 0)
		_exit(99);
	fail("the fuzzer itself faulted (signal %d at %p)", sig, si->si_addr);
	_exit(98);
}

static void dump_stack(FILE *f, pid_t tid)
{
	char path[64], line[256];
	FILE *s;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	s = fopen(path, "r");
	if (!s)
		return;
	while (fgets(line, sizeof(line), s))
		fprintf(f, "#   %s", line);
	fclose(s);
}

static void check_thread(struct tstate *t, uint64_t now)
{
	uint64_t st = t->call_start;

	if (!st || now < st)
		return;
	if (t->intr_ok && now - st > INTR_NS)
		pthread_kill(t->th, SIGUSR1);
	if (now - st > HANG_NS) {
		printf("# fuzz: thread %d in %s for %.1f s; kernel stack:\n", t->id,
		       opname[t->call_op], (now - st) / 1e9);
		dump_stack(stdout, t->tid);
		fail("watchdog: thread %d stuck in %s for over %llu s", t->id,
		     opname[t->call_op], HANG_NS / 1000000000ULL);
	}
}

static void *watchdog(void *arg)
{
	int i;

	(void)arg;
	while (!stop) {
		uint64_t now = now_ns();

		for (i = 0; i < nfuzz; i++)
			check_thread(&fz[i], now);
		for (i = 0; i < 3; i++)
			check_thread(&bankts[i], now);
		usleep(100000);
	}
	return NULL;
}

static const char *const splat_pat[] = {
	"BUG:", "KASAN", "UBSAN", "WARNING:", "Oops", "general protection",
	"circular locking", "recursive locking", "inconsistent lock state",
	"suspicious RCU", "refcount_t:", "list_add corruption", "list_del corruption",
	"ODEBUG", "blocked for more than", "Kernel panic", NULL,
};

static void *kmsg_watch(void *arg)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK), i;
	char line[1024];

	(void)arg;
	if (fd < 0)
		return NULL;
	lseek(fd, 0, SEEK_END);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		while ((n = read(fd, line, sizeof(line) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
			char *msg;

			if (n <= 0)
				continue;
			line[n] = 0;
			msg = strchr(line, ';');
			msg = msg ? msg + 1 : line;
			if (strstr(msg, "kmemleak"))
				continue;
			for (i = 0; splat_pat[i]; i++)
				if (strstr(msg, splat_pat[i])) {
					msg[strcspn(msg, "\n")] = 0;
					fail("kernel splat: %s", msg);
					close(fd);
					return NULL;
				}
		}
	}
	close(fd);
	return NULL;
}

/* ---- module text, kcov availability ---- */
static int module_text(void)
{
	FILE *f = fopen("/sys/module/stm/sections/.text", "r");
	char line[256], name[64];
	unsigned long size;

	if (!f || fscanf(f, "%" SCNx64, &text_start) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	f = fopen("/proc/modules", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lu", name, &size) == 2 && !strcmp(name, "stm"))
			text_size = size;
	fclose(f);
	return text_size ? 0 : -1;
}

static int module_refs(void)
{
	FILE *f = fopen("/sys/module/stm/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

struct sym {
	uint64_t addr;
	char name[64];
};

static int symcmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* OUT/cover.txt: "function offset" of every PC reached (offsets of the
 * return addresses of __sanitizer_cov_trace_pc calls), for the host's
 * report (selftests/fuzz/report). */
static void write_cover(void)
{
	static struct sym syms[8192];
	char path[300], line[512], type, name[256];
	unsigned long long addr;
	int ns = 0, j;
	uint64_t i;
	FILE *f, *o;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ns < 8192)
		if (strstr(line, "[stm]") &&
		    sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 &&
		    (type == 't' || type == 'T')) {
			syms[ns].addr = addr;
			name[sizeof(syms[ns].name) - 1] = 0;
			strcpy(syms[ns].name, name);
			ns++;
		}
	fclose(f);
	qsort(syms, ns, sizeof(syms[0]), symcmp);
	snprintf(path, sizeof(path), "%s/cover.txt", outdir);
	o = fopen(path, "w");
	if (!o)
		return;
	for (i = 0; i < text_size; i++) {
		uint64_t pc = text_start + i;

		if (!pc_map[i])
			continue;
		for (j = ns - 1; j >= 0 && syms[j].addr > pc; j--)
			;
		if (j >= 0)
			fprintf(o, "%s %#llx\n", syms[j].name,
				(unsigned long long)(pc - syms[j].addr));
	}
	fclose(o);
}

static void write_stats(FILE *o, double secs)
{
	int i;

	fprintf(o, "# fuzz: %.0f s, %lu programs, %lu commands (%.0f/s), %lu oracle checks, %lu audits\n",
		secs, total_progs, total_calls, total_calls / (secs > 0 ? secs : 1),
		oracle_checks, audits);
	if (have_kcov)
		fprintf(o, "# fuzz: coverage: %lu edges, %lu PCs of stm.ko, corpus %d programs\n",
			n_edges, n_pcs, corpus_n);
	fprintf(o, "# fuzz: per command (ioctl / io_uring):\n");
	for (i = 0; i < OP_NCMD; i++)
		fprintf(o, "# fuzz:   %-14s %9lu %9lu\n", opname[i], cmd_count[i], uring_count[i]);
	fprintf(o, "# fuzz: newer commands (ioctl): bounded ADD results checked %lu, COMMIT ERANGE %lu, EXPORT chunks %lu (%lu records parsed), IMPORT into a fresh store %lu (ENOTEMPTY checked), RESERVE ok %lu\n",
		n_bound_fetch, n_erange, n_export_ok, n_export_recs, n_import_ok, n_reserve_ok);
	fprintf(o, "# fuzz: actions:");
	for (i = OP_NCMD; i < NOPS; i++)
		fprintf(o, " %s=%lu", opname[i], cmd_count[i]);
	fprintf(o, "\n# fuzz: seconds spent per op (fuzz threads):");
	for (i = 0; i < NOPS; i++)
		if (op_ns[i] > 100000000ULL)
			fprintf(o, " %s=%.1f", opname[i], op_ns[i] / 1e9);
	fprintf(o, "\n# fuzz: bank: %llu commits (%lu bounded transfers), %lu bounded debits refused (ERANGE)\n",
		(unsigned long long)bank_commits_ok, n_bank_bound_ok, n_bank_erange);
}

static int parse_repro(const char *file, struct prog *progs, int *tids, int max)
{
	FILE *f = fopen(file, "r");
	char line[256], op[64];
	unsigned int v, s;
	int n = -1, tid;
	unsigned long seq;

	if (!f) {
		perror(file);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "prog %d %lu", &tid, &seq) == 2) {
			if (n + 1 >= max)
				break;
			n++;
			progs[n].n = 0;
			tids[n] = tid;
		} else if (n >= 0 && sscanf(line, "call %63s %x %x", op, &v, &s) == 3 &&
			   progs[n].n < MAX_CALLS) {
			int o = opnum(op);

			if (o < 0) {
				fprintf(stderr, "repro: unknown op %s\n", op);
				continue;
			}
			progs[n].c[progs[n].n++] = (struct call){ o, v, s };
		}
	}
	fclose(f);
	return n + 1;
}

static struct prog *repro_progs;
static int *repro_tids, repro_n;

static void *repro_thread(void *arg)
{
	struct tstate *t = arg;
	int i;

	t->tid = syscall(SYS_gettid);
	while (!stop)
		for (i = 0; i < repro_n && !stop; i++)
			if (repro_tids[i] % nfuzz == t->id)
				run_prog(t, &repro_progs[i]);
	reset_state(t, true);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: stm-fuzz [--seconds N] [--threads N] [--out DIR] [--no-kcov]\n"
		"                [--seed N] [--repro FILE] [--delay-site N]\n"
		"Without --seconds: 120 s with kcov, 30 s without (the make check slice).\n");
	exit(2);
}

/*
 * Unlink every store the run may have named, so that the tests after it
 * in the same boot start with nothing owned by root (isolation_test counts
 * root's stores against max_stores_per_user).
 */
static void unlink_stores(void)
{
	struct stmdev_unlink u;
	int fd = dev_open(), i;

	if (fd < 0)
		return;
	for (i = 0; i < 6 + 2 * MAX_FUZZ; i++) {
		memset(&u, 0, sizeof(u));
		if (i < 4)
			strcpy(u.name, names[i]);
		else if (i == 4)
			strcpy(u.name, "bank");
		else if (i == 5)
			memset(u.name, 'n', 63);
		else
			snprintf(u.name, sizeof(u.name), "imp%d%s", (i - 6) / 2,
				 (i - 6) % 2 ? "c" : "");
		ioctl(fd, STMDEV_IOC_UNLINK, &u);
	}
	strcpy(u.name, "..");
	ioctl(fd, STMDEV_IOC_UNLINK, &u);
	close(fd);
}

int main(int argc, char **argv)
{
	int seconds = -1, i, bankfd, ktap_fail = 0;
	bool no_kcov = false;
	const char *repro = NULL;
	uint64_t seed = 0;
	pthread_t wd, km;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct stmdev_features feat = { 0 };
	double last_csv = 0, secs;
	char path[300];
	FILE *csv;
	int devfd;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nfuzz = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			snprintf(outdir, sizeof(outdir), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--repro") && i + 1 < argc)
			repro = argv[++i];
		else if (!strcmp(argv[i], "--delay-site") && i + 1 < argc)
			pin_site = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-kcov"))
			no_kcov = true;
		else
			usage();
	}
	if (nfuzz < 1 || nfuzz > MAX_FUZZ)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	t0 = now_ns() / 1e9;
	printf("TAP version 13\n1..1\n");
	devfd = dev_open();
	if (devfd < 0) {
		printf("ok 1 # SKIP no /dev/stm\n");
		return 4;
	}
	if (ioctl(devfd, STMDEV_IOC_GET_FEATURES, &feat) == 0 && feat.max_value_size)
		max_value = feat.max_value_size;
	features = feat.features;
	close(devfd);
	{
		FILE *f = fopen(PARAM "max_reserve_ms", "r");

		if (f) {
			if (fscanf(f, "%u", &max_reserve_ms) != 1)
				max_reserve_ms = 0;
			fclose(f);
		}
	}
	mkdir(outdir, 0755);
	if (access("/sys/kernel/debug/kcov", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	have_kcov = !no_kcov && !access("/sys/kernel/debug/kcov", R_OK) && !module_text();
	knob_present = !access(PARAM "debug_delay_site", W_OK);
	if (pin_site >= 0) {
		knob(pin_site, 100000);
		printf("# fuzz: debug delay pinned to site %d, 100 ms\n", pin_site);
	}
	if (seconds < 0)
		seconds = repro ? 60 : have_kcov ? 120 : 30;
	printf("# fuzz: %s, %d fuzz threads, %d s, delay knob %s, max value %u\n",
	       have_kcov ? "kcov coverage of stm.ko" : "no kcov: blind (no coverage feedback)",
	       nfuzz, seconds, knob_present ? "present" : "absent", max_value);
	if (have_kcov) {
		printf("# fuzz: stm.ko .text at %#llx, module size %llu\n",
		       (unsigned long long)text_start, (unsigned long long)text_size);
		edge_map = calloc(1, 1u << EDGE_BITS);
		pc_map = calloc(1, text_size);
	}
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bankfd = bank_setup();
	if (bankfd < 0) {
		printf("not ok 1 fuzz # cannot set up the bank store: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < 3; i++) {
		tstate_init(&bankts[i], 100 + i);
		if (seed)
			bankts[i].rng = seed + 100 + i;
		pthread_create(&bankts[i].th, NULL, i < 2 ? bank_worker : bank_auditor, &bankts[i]);
	}
	if (repro) {
		repro_progs = calloc(4096, sizeof(*repro_progs));
		repro_tids = calloc(4096, sizeof(int));
		repro_n = parse_repro(repro, repro_progs, repro_tids, 4096);
		if (repro_n <= 0) {
			printf("not ok 1 fuzz # no programs in %s\n", repro);
			return 1;
		}
		printf("# fuzz: replaying %d programs from %s\n", repro_n, repro);
	}
	for (i = 0; i < nfuzz; i++) {
		tstate_init(&fz[i], i);
		if (seed)
			fz[i].rng = seed + i;
		pthread_create(&fz[i].th, NULL, repro ? repro_thread : fuzz_thread, &fz[i]);
	}
	pthread_create(&wd, NULL, watchdog, NULL);
	pthread_create(&km, NULL, kmsg_watch, NULL);

	snprintf(path, sizeof(path), "%s/edges.csv", outdir);
	csv = fopen(path, "w");
	if (csv)
		fprintf(csv, "seconds,programs,commands,edges,pcs,corpus\n");
	while (!stop && now_s() < seconds) {
		usleep(200000);
		if (now_s() - last_csv >= 5) {
			last_csv = now_s();
			if (csv) {
				fprintf(csv, "%.1f,%lu,%lu,%lu,%lu,%d\n", last_csv, total_progs,
					total_calls, n_edges, n_pcs, corpus_n);
				fflush(csv);
			}
			if ((int)last_csv % 30 < 5)
				printf("# fuzz: %.0f s: %lu programs, %lu commands, %lu edges, %lu PCs, corpus %d\n",
				       last_csv, total_progs, total_calls, n_edges, n_pcs, corpus_n);
		}
	}
	secs = now_s();
	stop = 1;
	if (csv) {
		fprintf(csv, "%.1f,%lu,%lu,%lu,%lu,%d\n", secs, total_progs, total_calls,
			n_edges, n_pcs, corpus_n);
		fclose(csv);
	}
	knob(0, 0);
	for (i = 0; i < nfuzz; i++)
		pthread_kill(fz[i].th, SIGUSR1);
	for (i = 0; i < 3; i++)
		pthread_kill(bankts[i].th, SIGUSR1);
	for (i = 0; i < nfuzz; i++)
		pthread_join(fz[i].th, NULL);
	for (i = 0; i < 3; i++)
		pthread_join(bankts[i].th, NULL);
	pthread_join(wd, NULL);
	pthread_join(km, NULL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (!failed) {
		/* Only the bank workers commit to the bank store. */
		struct stmdev_stats st = { 0 };

		if (ioctl(bankfd, STMDEV_IOC_STATS, &st))
			fail("bank STATS: %s", strerror(errno));
		else if (st.commits != bank_commits_ok)
			fail("bank STATS commits %llu, the workers saw %llu succeed",
			     (unsigned long long)st.commits, (unsigned long long)bank_commits_ok);
	}
	close(bankfd);
	unlink_stores();
	/* Every fd and ring is closed: the module's references must go
	 * (an async WAIT outlives its ring by at most 1 s on 6.1). */
	for (i = 0; i < 100 && module_refs() > 0; i++)
		usleep(100000);
	if (module_refs() > 0 && !failed)
		fail("stm.ko still has %d references 10 s after every fd and ring was closed",
		     module_refs());
	write_stats(stdout, secs);
	snprintf(path, sizeof(path), "%s/stats.txt", outdir);
	csv = fopen(path, "w");
	if (csv) {
		write_stats(csv, secs);
		fclose(csv);
	}
	if (have_kcov) {
		write_cover();
		snprintf(path, sizeof(path), "%s/corpus.txt", outdir);
		csv = fopen(path, "w");
		for (i = 0; csv && i < corpus_n; i++)
			print_prog(csv, &corpus[i], -1, i);
		if (csv)
			fclose(csv);
	}
	ktap_fail = failed != 0;
	printf("%sok 1 fuzz%s\n", ktap_fail ? "not " : "", repro ? " (repro)" : "");
	return ktap_fail;
}
