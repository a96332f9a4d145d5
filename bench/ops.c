// SPDX-License-Identifier: MIT
/*
 * The measured operations: stm through ioctl() and io_uring, and the floors
 * it is compared with (an empty ioctl, an io_uring passthrough NOP, a BPF
 * hash-map update, an LMDB write transaction, a pipe ping-pong).
 *
 * Every run times a whole batch of operations with one pair of
 * clock_gettime(CLOCK_MONOTONIC) calls, never one operation.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/stmdev.h>
#include <liburing.h>
#include <lmdb.h>
#include "bench.h"

#define STORE_MAIN	"stm-bench"
#define STORE_PP	"stm-bench-pp"

static int fd;				/* attached to STORE_MAIN */
static uint64_t keys[R_NREGIONS][REGION_KEYS];
static uint64_t vers[R_NREGIONS][REGION_KEYS];	/* R_CHK: last version */
static struct io_uring ring;
static int ring_ok;

/* Shared with forked children: results of the multi-process runs. */
#define SCALE_WINDOWS	256

struct shared {
	struct {
		uint32_t win[SCALE_WINDOWS];	/* commits ending in window k */
		int err;
	} slot[MAX_PROCS];
	uint64_t start;			/* scaling: window 0 starts here */
	uint64_t t0, t1;		/* ping-pong: the timed window */
	int err;
};
static struct shared *sh;

static void on_alarm(int sig);

int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* CPUs online, as counted before anything pinned this process. */
int ncpus(void)
{
	static int n;

	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (int)c : 1;
	}
	return n;
}

static int xioctl(int f, unsigned long cmd, void *arg)
{
	return ioctl(f, cmd, arg) ? -errno : 0;
}

/* Open /dev/stm and attach @name, creating it. */
static int stm_attach_fd(const char *name, int *out)
{
	struct stmdev_attach a = { .flags = STMDEV_ATTACH_CREAT, .mode = 0600 };
	int f, err;

	f = open("/dev/stm", O_RDWR | O_CLOEXEC);
	if (f < 0)
		return -errno;
	snprintf(a.name, sizeof(a.name), "%s", name);
	err = xioctl(f, STMDEV_IOC_ATTACH, &a);
	if (err) {
		close(f);
		return err;
	}
	*out = f;
	return 0;
}

static void stm_unlink_name(const char *name)
{
	struct stmdev_unlink u = { 0 };
	int f = open("/dev/stm", O_RDWR | O_CLOEXEC);

	if (f < 0)
		return;
	snprintf(u.name, sizeof(u.name), "%s", name);
	ioctl(f, STMDEV_IOC_UNLINK, &u);
	close(f);
}

static void put_ent(struct stmdev_commit_ent *e, const uint64_t *key,
		    const uint64_t *val)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = (uintptr_t)key;
	e->key_len = sizeof(*key);
	e->val_addr = (uintptr_t)val;
	e->val_len = sizeof(*val);
	e->op = STMDEV_OP_PUT;
}

static int commit1(int f, struct stmdev_commit_ent *e, uint64_t *version)
{
	struct stmdev_commit c = {
		.entries = (uintptr_t)e, .count = 1,
	};
	int err = xioctl(f, STMDEV_IOC_COMMIT, &c);

	if (!err && version)
		*version = c.version;
	return err;
}

/* Blind-put every key of @r once (value 0): steady state is updates. */
static int fill_region(int f, int r)
{
	static uint64_t zero;
	struct stmdev_commit_ent e;
	uint64_t v;
	int i, err;

	for (i = 0; i < REGION_KEYS; i++) {
		put_ent(&e, &keys[r][i], &zero);
		err = commit1(f, &e, &v);
		if (err)
			return err;
		vers[r][i] = v;
	}
	return 0;
}

int ops_init(char *why, size_t whylen)
{
	struct stmdev_features ft = { 0 };
	int r, i, err;

	for (r = 0; r < R_NREGIONS; r++)
		for (i = 0; i < REGION_KEYS; i++)
			keys[r][i] = 0x6b00000000000000ull | (uint64_t)r << 32 | (uint64_t)i;

	sigaction(SIGALRM, &(struct sigaction){ .sa_handler = on_alarm }, NULL);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		snprintf(why, whylen, "mmap: %s", strerror(errno));
		return -errno;
	}
	stm_unlink_name(STORE_MAIN);
	stm_unlink_name(STORE_PP);
	err = stm_attach_fd(STORE_MAIN, &fd);
	if (err) {
		snprintf(why, whylen, "/dev/stm attach: %s", strerror(-err));
		return err;
	}
	err = xioctl(fd, STMDEV_IOC_GET_FEATURES, &ft);
	if (err) {
		snprintf(why, whylen, "GET_FEATURES: %s", strerror(-err));
		return err;
	}
	for (r = 0; r < R_NREGIONS; r++) {
		if (r == R_PP)
			continue;
		err = fill_region(fd, r);
		if (err) {
			snprintf(why, whylen, "filling the store: %s", strerror(-err));
			return err;
		}
	}
	if (ft.features & STMDEV_F_URING) {
		err = io_uring_queue_init(MAX_BATCH, &ring, 0);
		ring_ok = !err;
		if (err)
			fprintf(stderr, "stm-bench: io_uring_queue_init: %s\n", strerror(-err));
	}
	return 0;
}

void ops_fini(void)
{
	if (ring_ok)
		io_uring_queue_exit(&ring);
	close(fd);
	stm_unlink_name(STORE_MAIN);
	stm_unlink_name(STORE_PP);
}

int store_stats_json(FILE *f)
{
	struct stmdev_stats st = { 0 };
	int err = xioctl(fd, STMDEV_IOC_STATS, &st);

	if (err)
		return err;
	fprintf(f, "{\"commits\": %llu, \"conflicts\": %llu, \"busy\": %llu, "
		"\"reads\": %llu, \"keys\": %llu, \"bytes\": %llu}",
		(unsigned long long)st.commits, (unsigned long long)st.conflicts,
		(unsigned long long)st.busy, (unsigned long long)st.reads,
		(unsigned long long)st.keys, (unsigned long long)st.bytes);
	return 0;
}

/* ---- stm through ioctl() ---- */

int run_nop_ioctl(struct item *it, uint64_t n, double *ns)
{
	struct stmdev_nop nop = { 0 };
	uint64_t i, t0, t1;

	(void)it;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (ioctl(fd, STMDEV_IOC_NOP, &nop))
			return -errno;
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/* 1-key commit: one COMMIT, one blind PUT (8-byte key and value). */
int run_commit_put(struct item *it, uint64_t n, double *ns)
{
	struct stmdev_commit_ent e;
	struct stmdev_commit c = { .entries = (uintptr_t)&e, .count = 1 };
	uint64_t i, t0, t1, val = 0;

	(void)it;
	put_ent(&e, &keys[R_PUT][0], &val);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		e.key_addr = (uintptr_t)&keys[R_PUT][i % REGION_KEYS];
		val = i;
		if (ioctl(fd, STMDEV_IOC_COMMIT, &c))
			return -errno;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/*
 * 1-key checked commit: one COMMIT, one PUT with STMDEV_CENT_CHECK of the
 * version seen last (this process's previous commit of the key).
 */
int run_commit_chk(struct item *it, uint64_t n, double *ns)
{
	struct stmdev_commit_ent e;
	struct stmdev_commit c = { .entries = (uintptr_t)&e, .count = 1 };
	uint64_t i, k, t0, t1, val = 0;

	(void)it;
	put_ent(&e, &keys[R_CHK][0], &val);
	e.flags = STMDEV_CENT_CHECK;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		k = i % REGION_KEYS;
		e.key_addr = (uintptr_t)&keys[R_CHK][k];
		e.version = vers[R_CHK][k];
		val = i;
		if (ioctl(fd, STMDEV_IOC_COMMIT, &c))
			return -errno;
		vers[R_CHK][k] = c.version;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/* Read-modify-write: READ one key, then COMMIT a checked PUT of value + 1. */
int run_rmw(struct item *it, uint64_t n, double *ns)
{
	struct stmdev_read_ent re = { 0 };
	struct stmdev_read r = { .entries = (uintptr_t)&re, .count = 1 };
	struct stmdev_commit_ent e;
	struct stmdev_commit c = { .entries = (uintptr_t)&e, .count = 1 };
	uint64_t i, t0, t1, in = 0, out = 0;

	(void)it;
	re.key_len = sizeof(uint64_t);
	re.val_addr = (uintptr_t)&in;
	put_ent(&e, &keys[R_RMW][0], &out);
	e.flags = STMDEV_CENT_CHECK;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		re.key_addr = (uintptr_t)&keys[R_RMW][i % REGION_KEYS];
		re.val_len = sizeof(in);
		if (ioctl(fd, STMDEV_IOC_READ, &r))
			return -errno;
		out = in + 1;
		e.key_addr = re.key_addr;
		e.version = re.version;
		if (ioctl(fd, STMDEV_IOC_COMMIT, &c))
			return -errno;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/* One snapshot READ of 8 keys (8-byte keys and values). */
int run_read8(struct item *it, uint64_t n, double *ns)
{
	struct stmdev_read_ent re[8];
	struct stmdev_read r = { .entries = (uintptr_t)re, .count = 8 };
	uint64_t vals[8], i, t0, t1;
	int j;

	(void)it;
	memset(re, 0, sizeof(re));
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		for (j = 0; j < 8; j++) {
			re[j].key_addr = (uintptr_t)&keys[R_READ][(i * 8 + j) % REGION_KEYS];
			re[j].key_len = sizeof(uint64_t);
			re[j].val_addr = (uintptr_t)&vals[j];
			re[j].val_len = sizeof(vals[j]);
		}
		if (ioctl(fd, STMDEV_IOC_READ, &r))
			return -errno;
	}
	t1 = now_ns();
	if (!(re[7].flags & STMDEV_RENT_PRESENT))
		return -ENOENT;
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/* ---- stm through io_uring ---- */

void prep_stm_cmd(struct io_uring_sqe *sqe, int fd, unsigned int op, void *arg,
		  uint32_t len, uint64_t tag)
{
	struct stmdev_uring_cmd *p;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	sqe->__pad1 = 0;
	p = (struct stmdev_uring_cmd *)sqe->cmd;
	p->addr = (uintptr_t)arg;
	p->len = len;
	p->flags = 0;
	sqe->user_data = tag;
}

/* Submit what is prepared and reap @b completions; any error fails. */
static int submit_reap(unsigned int b)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen, got = 0;
	int ret, err = 0;

	ret = io_uring_submit_and_wait(&ring, b);
	if (ret < 0)
		return ret;
	while (got < b) {
		seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			if (cqe->res < 0 && !err)
				err = cqe->res;
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
		got += seen;
		if (got < b) {
			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret < 0)
				return ret;
		}
	}
	return err;
}

/* io_uring passthrough NOPs on /dev/stm, @it->arg per submission. */
int run_uring_nop(struct item *it, uint64_t n, double *ns)
{
	static struct stmdev_nop nop[MAX_BATCH];
	unsigned int b = it->arg, j;
	uint64_t i, t0, t1;
	int err;

	if (!ring_ok)
		return -ENOSYS;
	n = (n + b - 1) / b;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		for (j = 0; j < b; j++)
			prep_stm_cmd(io_uring_get_sqe(&ring), fd, STMDEV_IOC_NOP,
				     &nop[j], sizeof(nop[j]), j);
		err = submit_reap(b);
		if (err)
			return err;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / (n * b);
	return 0;
}

/* 1-key blind-PUT commits through io_uring, @it->arg per submission. */
int run_uring_commit(struct item *it, uint64_t n, double *ns)
{
	static struct stmdev_commit_ent e[MAX_BATCH];
	static struct stmdev_commit c[MAX_BATCH];
	static uint64_t val[MAX_BATCH];
	unsigned int b = it->arg, j;
	uint64_t i, k = 0, t0, t1;
	int err;

	if (!ring_ok)
		return -ENOSYS;
	for (j = 0; j < b; j++) {
		put_ent(&e[j], &keys[R_URING][0], &val[j]);
		memset(&c[j], 0, sizeof(c[j]));
		c[j].entries = (uintptr_t)&e[j];
		c[j].count = 1;
	}
	n = (n + b - 1) / b;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		for (j = 0; j < b; j++) {
			e[j].key_addr = (uintptr_t)&keys[R_URING][k++ % REGION_KEYS];
			val[j] = i;
			prep_stm_cmd(io_uring_get_sqe(&ring), fd, STMDEV_IOC_COMMIT,
				     &c[j], sizeof(c[j]), j);
		}
		err = submit_reap(b);
		if (err)
			return err;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / (n * b);
	return 0;
}

/* ---- several processes ---- */

static int wait_children(pid_t *pids, int n)
{
	int i, st, err = 0;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			err = -ECHILD;
	}
	return err;
}

/* Commits between two looks at the clock in a scaling run. */
#define SCALE_CHUNK	8

static void scale_child(int idx, int cpu, int ready_w, int go_r,
			uint64_t win_ns, int nwin, int nop)
{
	struct stmdev_commit_ent e;
	struct stmdev_commit c = { .entries = (uintptr_t)&e, .count = 1 };
	unsigned long cmd = nop ? STMDEV_IOC_NOP : STMDEV_IOC_COMMIT;
	struct stmdev_nop np = { 0 };
	void *arg = nop ? (void *)&np : (void *)&c;
	uint64_t val = 0, ops = 0, t, start, end;
	int f = -1, err, j;
	char ch = 0;

	err = pin_cpu(cpu);
	if (!err)
		err = stm_attach_fd(STORE_MAIN, &f);
	put_ent(&e, &keys[R_SCALE0 + idx][0], &val);
	/* Warm up, then tell the parent and wait for the start. */
	for (j = 0; !err && j < 64; j++)
		if (ioctl(f, cmd, arg))
			err = -errno;
	if (write(ready_w, &ch, 1) != 1 || read(go_r, &ch, 1) != 1)
		err = err ?: -EPIPE;
	start = sh->start;
	end = start + win_ns * nwin;
	t = now_ns();
	while (!err && t < end) {
		for (j = 0; j < SCALE_CHUNK; j++, ops++) {
			e.key_addr = (uintptr_t)&keys[R_SCALE0 + idx][ops % REGION_KEYS];
			val = ops;
			if (ioctl(f, cmd, arg)) {
				err = -errno;
				break;
			}
		}
		t = now_ns();
		if (t >= start && t < end)
			sh->slot[idx].win[(t - start) / win_ns] += SCALE_CHUNK;
	}
	sh->slot[idx].err = err;
	_exit(err ? 1 : 0);
}

/*
 * Disjoint-key commit throughput of @it->arg processes, process i on CPU
 * i % ncpus, each committing to its own keys (with @it->arg2, empty
 * ioctls instead: how much parallelism the host gives the VM).  The run lasts cfg.sub *
 * cfg.scale_ms, cut into windows of cfg.batch_ms that are the same for
 * every process (one clock); the fastest window counts, as the fastest
 * batch does for one process.  Reported as ns per commit, all processes
 * together (the inverse of throughput).
 */
int run_scale(struct item *it, uint64_t n, double *ns)
{
	int p = it->arg, nc = ncpus(), i, k, got, nwin, err = 0;
	uint64_t win_ns = (uint64_t)cfg.batch_ms * 1000000, best = 0, sum;
	int ready[2], go[2];
	pid_t pids[MAX_PROCS] = { 0 };
	char buf[MAX_PROCS] = { 0 };
	ssize_t r;

	(void)n;
	if (p < 1 || p > MAX_PROCS)
		return -EINVAL;
	nwin = (int)((uint64_t)cfg.sub * cfg.scale_ms * 1000000 / win_ns);
	if (nwin < 1)
		nwin = 1;
	if (nwin > SCALE_WINDOWS)
		nwin = SCALE_WINDOWS;
	if (pipe(ready))
		return -errno;
	if (pipe(go)) {
		err = -errno;
		close(ready[0]);
		close(ready[1]);
		return err;
	}
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < p; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			err = -errno;
			break;
		}
		if (!pids[i]) {
			close(ready[0]);
			close(go[1]);
			scale_child(i, i % nc, ready[1], go[0], win_ns, nwin, it->arg2);
		}
	}
	close(ready[1]);
	close(go[0]);
	/* One byte from each child once it is warm (EOF if one died). */
	for (got = 0; got < p; got += r) {
		r = read(ready[0], buf, sizeof(buf) - got);
		if (r <= 0)
			break;
	}
	/* Window 0 starts a little after the go, when every child runs. */
	sh->start = now_ns() + win_ns / 2;
	if (write(go[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		err = err ?: -EPIPE;
	close(go[1]);
	close(ready[0]);
	err = wait_children(pids, p) ?: err;
	for (i = 0; !err && i < p; i++)
		if (sh->slot[i].err)
			err = sh->slot[i].err;
	if (err)
		return err;
	for (k = 0; k < nwin; k++) {
		for (sum = 0, i = 0; i < p; i++)
			sum += sh->slot[i].win[k];
		if (sum > best)
			best = sum;
	}
	if (!best)
		return -EIO;
	*ns = (double)win_ns / best;
	return 0;
}

/* WAIT for @key to differ from @seen; @timeout_ns < 0: no timeout. */
static int wait1(int f, const uint64_t *key, uint64_t seen, int64_t timeout_ns)
{
	struct stmdev_wait_ent we = {
		.key_addr = (uintptr_t)key, .version = seen,
		.key_len = sizeof(*key),
	};
	struct stmdev_wait w = {
		.entries = (uintptr_t)&we, .count = 1,
		.timeout_ns = timeout_ns,
	};

	return xioctl(f, STMDEV_IOC_WAIT, &w);
}

static uint64_t store_clock(int f)
{
	struct stmdev_info in = { 0 };

	return xioctl(f, STMDEV_IOC_INFO, &in) ? 0 : in.clock;
}

static int key_version(int f, const uint64_t *key, uint64_t *ver)
{
	struct stmdev_read_ent re = {
		.key_addr = (uintptr_t)key, .key_len = sizeof(*key),
	};
	struct stmdev_read r = { .entries = (uintptr_t)&re, .count = 1 };
	int err = xioctl(f, STMDEV_IOC_READ, &r);

	*ver = re.version;
	return err == -E2BIG ? 0 : err;
}

#define PP_WARM	8
#define PP_ALARM_S	20	/* a ping-pong run lasts milliseconds */

static void on_alarm(int sig)
{
	(void)sig;	/* only to interrupt a lost WAIT with EINTR */
}

/*
 * Blocking-retry wake-up: two processes on CPU 0 in their own store, each
 * WAITing for the other's key to change, then committing its own.  Only
 * they commit there and strictly in turn, so the store clock tells each
 * one the other's last version without a READ: a's commit at v follows
 * b's at v - 1.  WAITs have no timeout, as a pipe read has none (with
 * @it->arg, a 5 s timeout: its hrtimer is part of the cost); an alarm
 * turns a lost wake-up into EINTR rather than a hang.  Reported as ns per
 * round trip.
 */
int run_stm_pingpong(struct item *it, uint64_t n, double *ns)
{
	const uint64_t *ka = &keys[R_PP][0], *kb = &keys[R_PP][1];
	int64_t tmo = it->arg ? 5000000000ll : -1;
	uint64_t va0, vb0, v = 0, seen, val = 0, i, c0, c1;
	struct stmdev_commit_ent e;
	pid_t pid;
	int f, err;

	err = stm_attach_fd(STORE_PP, &f);
	if (err)
		return err;
	err = key_version(f, ka, &va0) ?: key_version(f, kb, &vb0);
	c0 = store_clock(f);
	if (err)
		goto out;
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (!pid) {
		/* b: wait for a's key, commit b's. */
		put_ent(&e, kb, &val);
		seen = va0;
		alarm(PP_ALARM_S);
		for (i = 0; !err && i < n + PP_WARM; i++) {
			err = wait1(f, ka, seen, tmo);
			if (!err)
				err = commit1(f, &e, &v);
			seen = v - 1;
		}
		sh->err = err;
		_exit(err ? 1 : 0);
	}
	/* a: commit a's key, wait for b's. */
	put_ent(&e, ka, &val);
	seen = vb0;
	alarm(PP_ALARM_S);
	for (i = 0; !err && i < n + PP_WARM; i++) {
		if (i == PP_WARM)
			sh->t0 = now_ns();
		err = commit1(f, &e, &v);
		if (!err)
			err = wait1(f, kb, i ? v - 1 : seen, tmo);
	}
	sh->t1 = now_ns();
	alarm(0);
	if (err)
		kill(pid, SIGKILL);
	err = wait_children(&pid, 1) ?: err ?: sh->err;
	c1 = store_clock(f);
	/* Each round trip is exactly two commits, or the protocol broke. */
	if (!err && c1 - c0 != 2 * (n + PP_WARM))
		err = -EPROTO;
	if (!err)
		*ns = (double)(sh->t1 - sh->t0) / n;
out:
	close(f);
	return err;
}

/* The same round trip through two pipes, both processes on CPU 0. */
int run_pipe_pingpong(struct item *it, uint64_t n, double *ns)
{
	int ab[2], ba[2], err = 0;
	uint64_t i, t0 = 0, t1;
	pid_t pid;
	char ch = 0;

	(void)it;
	if (pipe(ab))
		return -errno;
	if (pipe(ba)) {
		err = -errno;
		close(ab[0]);
		close(ab[1]);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (!pid) {
		for (i = 0; i < n + PP_WARM; i++)
			if (read(ab[0], &ch, 1) != 1 || write(ba[1], &ch, 1) != 1)
				_exit(1);
		_exit(0);
	}
	for (i = 0; i < n + PP_WARM; i++) {
		if (i == PP_WARM)
			t0 = now_ns();
		if (write(ab[1], &ch, 1) != 1 || read(ba[0], &ch, 1) != 1) {
			err = -EPIPE;
			kill(pid, SIGKILL);
			break;
		}
	}
	t1 = now_ns();
	err = wait_children(&pid, 1) ?: err;
	if (!err)
		*ns = (double)(t1 - t0) / n;
out:
	close(ab[0]);
	close(ab[1]);
	close(ba[0]);
	close(ba[1]);
	return err;
}

/* ---- BPF hash map: the kernel's own key-value store ---- */

static int bpf_map_fd = -1;

static int sys_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	long ret = syscall(SYS_bpf, cmd, attr, size);

	return ret < 0 ? -errno : (int)ret;
}

/* What libbpf passes for element commands: the struct up to `flags`. */
#define BPF_ELEM_ATTR_SZ (offsetof(union bpf_attr, flags) + sizeof(((union bpf_attr *)0)->flags))

static int bpf_update(uint64_t key, uint64_t val)
{
	union bpf_attr attr;

	memset(&attr, 0, BPF_ELEM_ATTR_SZ);
	attr.map_fd = bpf_map_fd;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&val;
	attr.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr, BPF_ELEM_ATTR_SZ);
}

int bpf_init(char *why, size_t whylen)
{
	union bpf_attr attr;
	int i, err;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_HASH;
	attr.key_size = 8;
	attr.value_size = 8;
	attr.max_entries = 4 * REGION_KEYS;
	err = sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
	if (err < 0) {
		snprintf(why, whylen, "BPF_MAP_CREATE: %s", strerror(-err));
		return err;
	}
	bpf_map_fd = err;
	for (i = 0; i < REGION_KEYS; i++) {
		err = bpf_update(keys[R_PUT][i], 0);
		if (err) {
			snprintf(why, whylen, "BPF_MAP_UPDATE_ELEM: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* BPF_MAP_UPDATE_ELEM of an existing 8-byte key with an 8-byte value. */
int run_bpf_update(struct item *it, uint64_t n, double *ns)
{
	union bpf_attr attr;
	uint64_t i, t0, t1, key, val;

	(void)it;
	memset(&attr, 0, BPF_ELEM_ATTR_SZ);
	attr.map_fd = bpf_map_fd;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&val;
	attr.flags = BPF_ANY;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		key = keys[R_PUT][i % REGION_KEYS];
		val = i;
		if (syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &attr, BPF_ELEM_ATTR_SZ) < 0)
			return -errno;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}

/* ---- LMDB: the fastest durable-less embedded store ---- */

static MDB_env *env;
static MDB_dbi dbi;

static int lmdb_put1(uint64_t key, uint64_t val)
{
	MDB_val k = { sizeof(key), &key }, v = { sizeof(val), &val };
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc)
		return rc;
	rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int lmdb_init(char *why, size_t whylen)
{
	char path[512];
	MDB_txn *txn;
	int rc, i;

	snprintf(path, sizeof(path), "%s/stm-bench-lmdb.%d", cfg.lmdb_dir, (int)getpid());
	if (mkdir(path, 0700) && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", path, strerror(errno));
		return -errno;
	}
	rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_mapsize(env, 64 << 20);
	if (!rc)
		rc = mdb_env_open(env, path, MDB_NOSYNC | MDB_WRITEMAP, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc) {
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
		rc = rc ?: mdb_txn_commit(txn);
	}
	for (i = 0; !rc && i < REGION_KEYS; i++)
		rc = lmdb_put1(keys[R_PUT][i], 0);
	if (rc) {
		snprintf(why, whylen, "LMDB in %s: %s", path, mdb_strerror(rc));
		return -EIO;
	}
	return 0;
}

/* One write transaction with one put of an existing 8-byte key. */
int run_lmdb_put(struct item *it, uint64_t n, double *ns)
{
	uint64_t i, t0, t1;
	int rc;

	(void)it;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		rc = lmdb_put1(keys[R_PUT][i % REGION_KEYS], i);
		if (rc)
			return -EIO;
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / n;
	return 0;
}
