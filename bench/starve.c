// SPDX-License-Identifier: MIT
/*
 * The starvation case of contention management (issue 12,
 * Documentation/atomic.rst "Contention management"): one transaction
 * reads 64 keys and writes each back plus one, while four hot writer
 * processes each run 1-key read-modify-write transactions on random keys
 * among those 64.  The long one sleeps 50 us every 4 reads (its work,
 * during which the writers get a CPU even on one).  Through libstmdev's
 * stm_atomic, as a program would:
 *
 *   hot_before   the hot writers' commits/s, alone;
 *   plain        the long transaction with max_retries 200 and no
 *                escalation: committed or not, attempts, and the hot
 *                writers' commits/s meanwhile;
 *   escalated    long transactions back to back for starve_ms with
 *                STM_ESCALATE (escalate_after 8): attempts per commit
 *                (mean and max), and the hot writers' commits/s meanwhile.
 *
 * Ratios (hot writers during / before) come from the same run.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stmdev.h"
#include "bench.h"

#define S_KEYS		64
#define S_HOT		4
#define S_ESCALATE	8
#define S_PLAIN_RETRIES	200

struct s_shared {
	volatile int stop;
	volatile int ready;
	volatile long long commits[S_HOT];
	char name[64];
};

struct s_hot {
	char key[8];
};

static void s_key(char *buf, int i)
{
	snprintf(buf, 8, "s%02d", i);
}

static int s_hot_fn(struct stm_txn *tx, void *arg)
{
	struct s_hot *h = arg;
	int64_t v = 0;
	int ret;

	ret = stm_get_i64(tx, h->key, &v);
	if (ret && ret != -ENOENT)
		return ret;
	return stm_put_i64(tx, h->key, v + 1);
}

static int s_hot_child(struct s_shared *sh, int idx)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(idx + 1);
	struct stm_store *s;
	struct s_hot h;

	pin_cpu(idx % ncpus());
	if (stm_open(sh->name, 0, 0, &s))
		return 1;
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->stop) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		s_key(h.key, (int)((x * 2685821657736338717ull) >> 32) % S_KEYS);
		if (stm_atomic(s, s_hot_fn, &h, NULL) < 0)
			break;
		sh->commits[idx]++;
	}
	stm_close(s);
	return 0;
}

struct s_long {
	unsigned attempts;
};

static int s_long_fn(struct stm_txn *tx, void *arg)
{
	struct s_long *l = arg;
	int64_t v[S_KEYS];
	char key[8];
	int i, ret;

	l->attempts = stm_txn_attempt(tx);
	for (i = 0; i < S_KEYS; i++) {
		s_key(key, i);
		v[i] = 0;
		ret = stm_get_i64(tx, key, &v[i]);
		if (ret && ret != -ENOENT)
			return ret;
		if (i % 4 == 3)
			usleep(50);	/* work between reads */
	}
	for (i = 0; i < S_KEYS; i++) {
		s_key(key, i);
		ret = stm_put_i64(tx, key, v[i] + 1);
		if (ret)
			return ret;
	}
	return 0;
}

static long long s_hot_total(const struct s_shared *sh)
{
	long long n = 0;
	int i;

	for (i = 0; i < S_HOT; i++)
		n += sh->commits[i];
	return n;
}

static double s_rate(long long n, uint64_t ns)
{
	return ns ? n * 1e9 / (double)ns : 0;
}

int starve_bench(struct starve_result *r)
{
	struct s_shared *sh;
	struct stm_txn_opts opts;
	struct stm_limits lim;
	struct stm_store *s;
	struct s_long l;
	pid_t pids[S_HOT];
	long long n0;
	uint64_t t0, t1;
	int i, ret, err = 0;
	double sum = 0;

	memset(r, 0, sizeof(*r));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	memset(sh, 0, sizeof(*sh));
	snprintf(sh->name, sizeof(sh->name), "bench-starve-%d", (int)getpid());
	ret = stm_open(sh->name, STM_CREAT | STM_EXCL, 0600, &s);
	if (ret) {
		munmap(sh, sizeof(*sh));
		return ret;
	}
	if (stm_limits(s, &lim) || !(lim.features & STMDEV_F_RESERVE)) {
		r->unavailable = "no STMDEV_F_RESERVE";
		goto out_close;
	}
	fflush(stdout);
	for (i = 0; i < S_HOT; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(s_hot_child(sh, i));
	}
	while (sh->ready < S_HOT)
		usleep(1000);

	/* The hot writers alone, after a warm-up of a fifth of a phase. */
	usleep(cfg.starve_ms * 200);
	n0 = s_hot_total(sh);
	t0 = now_ns();
	usleep(cfg.starve_ms * 1000);
	t1 = now_ns();
	r->hot_before = s_rate(s_hot_total(sh) - n0, t1 - t0);

	/* The long transaction without escalation. */
	memset(&opts, 0, sizeof(opts));
	opts.max_retries = S_PLAIN_RETRIES;
	n0 = s_hot_total(sh);
	t0 = now_ns();
	l.attempts = 0;
	ret = stm_atomic(s, s_long_fn, &l, &opts);
	t1 = now_ns();
	r->plain_committed = ret == 0;
	r->plain_attempts = l.attempts;
	r->hot_plain = s_rate(s_hot_total(sh) - n0, t1 - t0);
	if (ret && ret != -STM_ERETRIES)
		err = ret;

	/* With escalation, back to back. */
	opts.flags = STM_ESCALATE;
	opts.escalate_after = S_ESCALATE;
	n0 = s_hot_total(sh);
	t0 = now_ns();
	do {
		l.attempts = 0;
		ret = stm_atomic(s, s_long_fn, &l, &opts);
		if (ret) {
			err = err ? err : ret;
			break;
		}
		r->esc_runs++;
		sum += l.attempts;
		if (l.attempts > r->esc_max)
			r->esc_max = l.attempts;
	} while (now_ns() - t0 < (uint64_t)cfg.starve_ms * 1000000ull);
	t1 = now_ns();
	r->hot_esc = s_rate(s_hot_total(sh) - n0, t1 - t0);
	r->esc_mean = r->esc_runs ? sum / r->esc_runs : 0;
	r->long_per_s = s_rate(r->esc_runs, t1 - t0);

	sh->stop = 1;
	for (i = 0; i < S_HOT; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	r->ok = !err;
out_close:
	stm_close(s);
	stm_unlink(sh->name);
	munmap(sh, sizeof(*sh));
	return err;
}

void print_starve(const struct starve_result *r)
{
	if (r->unavailable) {
		printf("\nstarve: %s\n", r->unavailable);
		return;
	}
	printf("\nstarve: a 64-key read-modify-write against %d hot 1-key writers\n", S_HOT);
	printf("  without escalation: %s after %u attempts (max_retries %d)\n",
	       r->plain_committed ? "committed" : "gave up", r->plain_attempts,
	       S_PLAIN_RETRIES);
	printf("  escalate_after %d: %d commits, attempts mean %.1f max %u (%.1f commits/s)\n",
	       S_ESCALATE, r->esc_runs, r->esc_mean, r->esc_max, r->long_per_s);
	printf("  hot writers: %.0f commits/s alone; %.0f (x%.2f) beside the plain one, "
	       "%.0f (x%.2f) beside the escalating ones\n",
	       r->hot_before, r->hot_plain,
	       r->hot_before ? r->hot_plain / r->hot_before : 0, r->hot_esc,
	       r->hot_before ? r->hot_esc / r->hot_before : 0);
}

void write_starve_json(FILE *f, const struct starve_result *r)
{
	if (r->unavailable) {
		fprintf(f, "  \"starve\": {\"unavailable\": \"%s\"},\n", r->unavailable);
		return;
	}
	fprintf(f, "  \"starve\": {\"keys\": %d, \"hot_writers\": %d, "
		"\"plain\": {\"max_retries\": %d, \"committed\": %s, \"attempts\": %u}, "
		"\"escalated\": {\"escalate_after\": %d, \"commits\": %d, "
		"\"attempts_mean\": %.2f, \"attempts_max\": %u, \"per_s\": %.2f}, "
		"\"hot_per_s\": {\"alone\": %.1f, \"beside_plain\": %.1f, "
		"\"beside_escalated\": %.1f}, "
		"\"hot_ratio\": {\"beside_plain\": %.3f, \"beside_escalated\": %.3f}},\n",
		S_KEYS, S_HOT, S_PLAIN_RETRIES, r->plain_committed ? "true" : "false",
		r->plain_attempts, S_ESCALATE, r->esc_runs, r->esc_mean, r->esc_max,
		r->long_per_s, r->hot_before, r->hot_plain, r->hot_esc,
		r->hot_before ? r->hot_plain / r->hot_before : 0,
		r->hot_before ? r->hot_esc / r->hot_before : 0);
}
