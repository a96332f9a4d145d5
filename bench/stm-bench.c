// SPDX-License-Identifier: MIT
/*
 * stm-bench: stm.ko's costs as ratios to floors measured in the same boot.
 *
 * Every operation is run once per round, in an order that rotates from
 * round to round, so that drift (the emulator's translation cache, other
 * load on the host) hits every operation alike; each figure is the median,
 * over the rounds, of that round's ratio.  Prints the nanoseconds per
 * operation and the figures, and writes them all to OUT/bench.json for
 * bench/report.  Exits 0 unless something broke: a figure that misses its
 * target is a result, not a failure.  See Documentation/bench.rst.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "bench.h"

struct config cfg = {
	.rounds = 9,
	.sub = 8,
	.batch_ms = 2,
	.scale_ms = 50,
	.mem_keys = 100000,
	.mem_rounds = 5,
	.curve = "1000,10000,100000,1000000",
	.bank_ms = 1000,
	.bank_rounds = 3,
	.starve_ms = 1000,
	.out = NULL,
	.lmdb_dir = "/tmp",
};

#define ITEM(i, l, fn, a, fl) { .id = i, .label = l, .run = fn, .arg = a, .floor = fl }

static struct item items[] = {
	ITEM("nop_ioctl", "empty ioctl (STMDEV_IOC_NOP)", run_nop_ioctl, 0, 1),
	ITEM("uring_nop_1", "io_uring NOP, batch 1", run_uring_nop, 1, 1),
	ITEM("uring_nop_2", "io_uring NOP, batch 2", run_uring_nop, 2, 1),
	ITEM("uring_nop_4", "io_uring NOP, batch 4", run_uring_nop, 4, 1),
	ITEM("uring_nop_8", "io_uring NOP, batch 8", run_uring_nop, 8, 1),
	ITEM("uring_nop_16", "io_uring NOP, batch 16", run_uring_nop, 16, 1),
	ITEM("uring_nop_32", "io_uring NOP, batch 32", run_uring_nop, 32, 1),
	ITEM("uring_nop_64", "io_uring NOP, batch 64", run_uring_nop, 64, 1),
	ITEM("bpf_update", "BPF hash update (bpf(2), 8-byte key/value)", run_bpf_update, 0, 1),
	ITEM("lmdb_put", "LMDB 1-put write txn (NOSYNC|WRITEMAP)", run_lmdb_put, 0, 1),
	ITEM("pipe_pp", "pipe ping-pong round trip, same CPU", run_pipe_pingpong, 0, 1),
	ITEM("commit_put", "1-key commit, blind PUT", run_commit_put, 0, 0),
	ITEM("commit_chk", "1-key commit, checked PUT", run_commit_chk, 0, 0),
	ITEM("rmw", "READ + checked 1-key COMMIT", run_rmw, 0, 0),
	ITEM("read8", "8-key snapshot READ", run_read8, 0, 0),
	ITEM("uring_commit_1", "io_uring 1-key commits, batch 1", run_uring_commit, 1, 0),
	ITEM("uring_commit_2", "io_uring 1-key commits, batch 2", run_uring_commit, 2, 0),
	ITEM("uring_commit_4", "io_uring 1-key commits, batch 4", run_uring_commit, 4, 0),
	ITEM("uring_commit_8", "io_uring 1-key commits, batch 8", run_uring_commit, 8, 0),
	ITEM("uring_commit_16", "io_uring 1-key commits, batch 16", run_uring_commit, 16, 0),
	ITEM("uring_commit_32", "io_uring 1-key commits, batch 32", run_uring_commit, 32, 0),
	ITEM("uring_commit_64", "io_uring 1-key commits, batch 64", run_uring_commit, 64, 0),
	ITEM("stm_pp", "WAIT/COMMIT ping-pong round trip, same CPU", run_stm_pingpong, 0, 0),
	ITEM("stm_pp_timeout", "the same, WAITs with a 5 s timeout", run_stm_pingpong, 1, 0),
	ITEM("scale_1", "disjoint-key commits, 1 process", run_scale, 1, 0),
	ITEM("scale_2", "disjoint-key commits, 2 processes", run_scale, 2, 0),
	ITEM("scale_4", "disjoint-key commits, 4 processes", run_scale, 4, 0),
	{ .id = "scale_nop_1", .label = "empty ioctls, 1 process", .run = run_scale,
	  .arg = 1, .arg2 = 1, .floor = 1 },
	{ .id = "scale_nop_2", .label = "empty ioctls, 2 processes", .run = run_scale,
	  .arg = 2, .arg2 = 1, .floor = 1 },
	{ .id = "scale_nop_4", .label = "empty ioctls, 4 processes", .run = run_scale,
	  .arg = 4, .arg2 = 1, .floor = 1 },
};
#define NITEMS ((int)(sizeof(items) / sizeof(items[0])))

/* A figure: median over rounds of num's ns / den's ns. */
struct figure {
	const char *id;
	const char *label;
	const char *num, *den;
	const char *num2, *den2;	/* if set: (num / den) / (num2 / den2) */
	double target;		/* 0: information, no target */
	int ge;			/* the figure must be >= target (else <=) */
	double value, lo, hi;
	double ratios[MAX_ROUNDS];
	int n;
};

#define FIG(i, l, a, b, t, g) \
	{ .id = i, .label = l, .num = a, .den = b, .target = t, .ge = g }

static struct figure figures[] = {
	FIG("commit_vs_ioctl", "1-key commit (blind PUT) / empty ioctl",
	  "commit_put", "nop_ioctl", 2.5, 0),
	FIG("chk_commit_vs_ioctl", "1-key commit (checked PUT) / empty ioctl",
	  "commit_chk", "nop_ioctl", 2.5, 0),
	FIG("read8_vs_ioctl", "8-key snapshot read / empty ioctl",
	  "read8", "nop_ioctl", 3.0, 0),
	FIG("commit_vs_bpf", "1-key commit (blind PUT) / BPF hash update",
	  "commit_put", "bpf_update", 0.5, 0),
	FIG("chk_commit_vs_bpf", "1-key commit (checked PUT) / BPF hash update",
	  "commit_chk", "bpf_update", 0.5, 0),
	FIG("lmdb_vs_commit", "LMDB 1-put txn / 1-key commit (blind PUT)",
	  "lmdb_put", "commit_put", 3.0, 1),
	FIG("lmdb_vs_chk_commit", "LMDB 1-put txn / 1-key commit (checked PUT)",
	  "lmdb_put", "commit_chk", 3.0, 1),
	FIG("uring64_vs_ioctl_commit", "io_uring batch-64 commit / ioctl commit (per op)",
	  "uring_commit_64", "commit_put", 0.8, 0),
	FIG("scale_2_vs_1", "disjoint-key commit throughput, 2 procs / 1 proc",
	  "scale_1", "scale_2", 1.6, 1),
	FIG("wake_vs_pipe", "WAIT wake-up round trip / pipe ping-pong",
	  "stm_pp", "pipe_pp", 1.5, 0),
	/* Information: no target. */
	FIG("rmw_vs_ioctl", "READ + checked COMMIT cycle / empty ioctl",
	  "rmw", "nop_ioctl", 0, 0),
	FIG("uring1_vs_ioctl_commit", "io_uring batch-1 commit / ioctl commit",
	  "uring_commit_1", "commit_put", 0, 0),
	FIG("uring64_commit_vs_nop", "io_uring batch-64 commit / batch-64 NOP (per op)",
	  "uring_commit_64", "uring_nop_64", 0, 0),
	FIG("wake_timeout_vs_pipe", "WAIT (5 s timeout) round trip / pipe ping-pong",
	  "stm_pp_timeout", "pipe_pp", 0, 0),
	FIG("scale_4_vs_1", "disjoint-key commit throughput, 4 procs / 1 proc",
	  "scale_1", "scale_4", 0, 1),
	FIG("scale_nop_2_vs_1", "empty-ioctl throughput, 2 procs / 1 proc (host's parallelism)",
	  "scale_nop_1", "scale_nop_2", 0, 1),
	{ .id = "scale_2_vs_nop", .label = "commit 2/1-proc scaling / empty-ioctl 2/1-proc scaling",
	  .num = "scale_1", .den = "scale_2", .num2 = "scale_nop_1", .den2 = "scale_nop_2" },
	/* Floors, as multiples of the empty ioctl. */
	FIG("floor_uring_nop_1", "io_uring NOP, batch 1",
	  "uring_nop_1", "nop_ioctl", -1, 0),
	FIG("floor_uring_nop_64", "io_uring NOP, per op at batch 64",
	  "uring_nop_64", "nop_ioctl", -1, 0),
	FIG("floor_bpf", "BPF hash update", "bpf_update", "nop_ioctl", -1, 0),
	FIG("floor_lmdb", "LMDB 1-put txn", "lmdb_put", "nop_ioctl", -1, 0),
	FIG("floor_pipe", "same-CPU pipe ping-pong round trip",
	  "pipe_pp", "nop_ioctl", -1, 0),
};
#define NFIGURES ((int)(sizeof(figures) / sizeof(figures[0])))

#define MEM_TARGET	64.0

static int broken;
static char errors[4096];

static void note_error(const char *fmt, const char *a, const char *b)
{
	size_t used = strlen(errors);

	fprintf(stderr, "stm-bench: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	if (used + 2 < sizeof(errors)) {
		snprintf(errors + used, sizeof(errors) - used, "%s", used ? "; " : "");
		used = strlen(errors);
		snprintf(errors + used, sizeof(errors) - used, fmt, a, b);
	}
}

void die_errno(int err, const char *what)
{
	fprintf(stderr, "stm-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	if (n <= 0)
		return NAN;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static struct item *find_item(const char *id)
{
	int i;

	for (i = 0; i < NITEMS; i++)
		if (!strcmp(items[i].id, id))
			return &items[i];
	return NULL;
}

static int usable(const struct item *it)
{
	return it && !it->unavailable && !it->err && it->nrounds > 0;
}

static double item_median(const struct item *it)
{
	return usable(it) ? median(it->ns, it->nrounds) : NAN;
}

static int run_item(struct item *it, uint64_t n, double *ns)
{
	int err = it->run(it, n, ns);

	if (err && !it->err) {
		it->err = err;
		note_error("%s failed: %s", it->id, strerror(-err));
		broken = 1;
	}
	return err;
}

/*
 * Pick n so that one batch lasts about cfg.batch_ms, from the fastest of
 * three trial batches (a preempted trial would make n too small).  Warms
 * the path up too.
 */
static void calibrate(struct item *it)
{
	uint64_t n = 8, b = it->arg > 1 ? (uint64_t)it->arg : 1;
	double ns = 0, best, target = cfg.batch_ms * 1e6;
	int t;

	if (it->duration || it->unavailable) {
		it->n = 1;
		return;
	}
	for (;;) {
		n = (n + b - 1) / b * b;
		if (run_item(it, n, &ns))
			return;
		if (ns * n >= target / 4 || n >= (1ull << 30))
			break;
		n *= 4;
	}
	best = ns;
	for (t = 0; t < 2; t++) {
		if (run_item(it, n, &ns))
			return;
		best = fmin(best, ns);
	}
	n = (uint64_t)(target / (best > 1 ? best : 1));
	if (n < 16)
		n = 16;
	it->n = (n + b - 1) / b * b;
}

/*
 * One run: cfg.sub batches of it->n operations back to back, the fastest
 * one counts.  A batch the host preempted (the emulator's vCPU thread
 * descheduled) is slower, never faster, so the minimum of a few short
 * batches measures the operation and not the host's other load.
 */
static int measure(struct item *it, double *best)
{
	double ns;
	int s;

	*best = INFINITY;
	/* A fixed-duration run takes its own best window. */
	for (s = 0; s < (it->duration ? 1 : cfg.sub); s++) {
		if (run_item(it, it->n, &ns))
			return -1;
		if (ns < *best)
			*best = ns;
	}
	return 0;
}

static void compute_figures(void)
{
	int f, r;

	for (f = 0; f < NFIGURES; f++) {
		struct figure *fg = &figures[f];
		struct item *a = find_item(fg->num), *b = find_item(fg->den);
		struct item *c = fg->num2 ? find_item(fg->num2) : NULL;
		struct item *d = fg->den2 ? find_item(fg->den2) : NULL;

		fg->n = 0;
		fg->value = fg->lo = fg->hi = NAN;
		if (!usable(a) || !usable(b) || (fg->num2 && (!usable(c) || !usable(d))))
			continue;
		for (r = 0; r < a->nrounds && r < b->nrounds; r++) {
			if (c && (r >= c->nrounds || r >= d->nrounds))
				break;
			fg->ratios[fg->n++] = a->ns[r] / b->ns[r] /
					      (c ? c->ns[r] / d->ns[r] : 1);
		}
		if (!fg->n)
			continue;
		fg->value = median(fg->ratios, fg->n);
		fg->lo = fg->hi = fg->ratios[0];
		for (r = 1; r < fg->n; r++) {
			fg->lo = fmin(fg->lo, fg->ratios[r]);
			fg->hi = fmax(fg->hi, fg->ratios[r]);
		}
	}
}

static int fig_pass(const struct figure *fg)
{
	if (isnan(fg->value))
		return 0;
	return fg->ge ? fg->value >= fg->target : fg->value <= fg->target;
}

static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

struct mem_summary {
	int rounds;
	double per_key[MAX_ROUNDS];
	struct mem_result last;
	int returned;
};

/* The flat-cost curve: one store per size, filled, measured, timed. */
#define CURVE_MAX	8
#define CURVE_TARGET	1.2	/* largest store's cost / smallest's */

struct curve {
	int n;
	struct mem_result r[CURVE_MAX];
};

static struct curve curve;
static struct bank_table bank;
static struct starve_result starve;
static int starve_ran;

/* The best peer's rate at process count index @p (0 when none ran). */
static double bank_best_peer(int p, int *which)
{
	double best = 0;
	int s;

	for (s = 0; s < bank.nsys; s++) {
		const struct bank_result *r = &bank.r[s][p];

		if (!strncmp(bank.sys[s], "stm", 3) || r->err || r->per_s <= best)
			continue;
		best = r->per_s;
		*which = s;
	}
	return best;
}

/* stm's best variant at process count index @p. */
static double bank_stm(int p)
{
	double best = 0;
	int s;

	for (s = 0; s < bank.nsys; s++)
		if (!strncmp(bank.sys[s], "stm", 3) && !bank.r[s][p].err &&
		    bank.r[s][p].per_s > best)
			best = bank.r[s][p].per_s;
	return best;
}

static void write_bank_json(FILE *f)
{
	int s, p, w = -1;

	fprintf(f, "  \"bank\": {\"label\": \"guarded transfers between 64 accounts, an auditor "
		"alongside\", \"procs\": [1, 2, 4], \"systems\": {");
	for (s = 0; s < bank.nsys; s++) {
		fprintf(f, "%s\"%s\": [", s ? ", " : "", bank.sys[s]);
		for (p = 0; p < BANK_PROCS; p++) {
			const struct bank_result *r = &bank.r[s][p];

			fprintf(f, "%s{\"per_s\": ", p ? ", " : "");
			jnum(f, r->err ? NAN : r->per_s);
			fprintf(f, ", \"transfers\": %llu, \"conflicts\": %llu, \"declined\": %llu, "
				"\"audits\": %llu, \"bad_audits\": %llu, \"total_ok\": %s",
				(unsigned long long)r->transfers, (unsigned long long)r->conflicts,
				(unsigned long long)r->declined, (unsigned long long)r->audits,
				(unsigned long long)r->bad_audits, r->final_ok ? "true" : "false");
			if (r->err)
				fprintf(f, ", \"error\": \"%s\"", r->why);
			fprintf(f, "}");
		}
		fprintf(f, "]");
	}
	fprintf(f, "}, \"ratio_stm_best_peer\": [");
	for (p = 0; p < BANK_PROCS; p++) {
		double peer = bank_best_peer(p, &w);

		fprintf(f, "%s", p ? ", " : "");
		jnum(f, peer > 0 ? bank_stm(p) / peer : NAN);
	}
	fprintf(f, "], \"best_peer\": [");
	for (p = 0; p < BANK_PROCS; p++) {
		w = -1;
		bank_best_peer(p, &w);
		fprintf(f, "%s\"%s\"", p ? ", " : "", w >= 0 ? bank.sys[w] : "");
	}
	fprintf(f, "], \"target\": [3, null, 8]},\n");
}

static void print_bank(void)
{
	int s, p, w;

	if (!bank.nsys)
		return;
	printf("\n%-28s %12s %12s %12s\n", "bank: transfers/s (guarded)", "1 process",
	       "2 processes", "4 processes");
	for (s = 0; s < bank.nsys; s++) {
		printf("%-28s", bank.sys[s]);
		for (p = 0; p < BANK_PROCS; p++) {
			if (bank.r[s][p].err)
				printf(" %12s", "n/a");
			else
				printf(" %12.0f", bank.r[s][p].per_s);
		}
		printf("\n");
	}
	printf("%-28s", "stm / best peer");
	for (p = 0; p < BANK_PROCS; p++) {
		double peer = bank_best_peer(p, &w);

		if (peer > 0)
			printf(" %11.2fx", bank_stm(p) / peer);
		else
			printf(" %12s", "n/a");
	}
	printf("   (goal: >= 3x at 1, >= 8x at 4)\n");
}

/*
 * Largest store / smallest: 0 commit, 1 read, 2 hot commit, 3 hot read,
 * 4 tiny commit, 5 tiny read.
 */
static double curve_ratio(int which)
{
	const struct mem_result *a = &curve.r[0], *b = &curve.r[curve.n - 1];

	if (curve.n < 2)
		return NAN;
	switch (which) {
	case 0: return b->commit_ns / a->commit_ns;
	case 1: return b->read8_ns / a->read8_ns;
	case 2: return b->commit_hot_ns / a->commit_hot_ns;
	case 3: return b->read8_hot_ns / a->read8_hot_ns;
	case 4: return b->commit_tiny_ns / a->commit_tiny_ns;
	default: return b->read8_tiny_ns / a->read8_tiny_ns;
	}
}

static void write_curve_json(FILE *f)
{
	int i;

	fprintf(f, "  \"curve\": {\"label\": \"cost as the store grows (8-byte keys and "
		"values; keys at random from the whole store, or from 1024 or 8 spread over it)\", "
		"\"target\": %g, \"commit_ratio\": ", CURVE_TARGET);
	jnum(f, curve_ratio(0));
	fprintf(f, ", \"read8_ratio\": ");
	jnum(f, curve_ratio(1));
	fprintf(f, ", \"commit_hot_ratio\": ");
	jnum(f, curve_ratio(2));
	fprintf(f, ", \"read8_hot_ratio\": ");
	jnum(f, curve_ratio(3));
	fprintf(f, ", \"commit_tiny_ratio\": ");
	jnum(f, curve_ratio(4));
	fprintf(f, ", \"read8_tiny_ratio\": ");
	jnum(f, curve_ratio(5));
	fprintf(f, ", \"mem_target\": %g, \"sizes\": [", MEM_TARGET);
	for (i = 0; i < curve.n; i++) {
		const struct mem_result *m = &curve.r[i];

		fprintf(f, "%s{\"keys\": %llu, \"per_key\": ", i ? ", " : "",
			(unsigned long long)m->keys);
		jnum(f, m->per_key);
		fprintf(f, ", \"commit_ns\": ");
		jnum(f, m->commit_ns);
		fprintf(f, ", \"read8_ns\": ");
		jnum(f, m->read8_ns);
		fprintf(f, ", \"commit_hot_ns\": ");
		jnum(f, m->commit_hot_ns);
		fprintf(f, ", \"read8_hot_ns\": ");
		jnum(f, m->read8_hot_ns);
		fprintf(f, ", \"commit_tiny_ns\": ");
		jnum(f, m->commit_tiny_ns);
		fprintf(f, ", \"read8_tiny_ns\": ");
		jnum(f, m->read8_tiny_ns);
		fprintf(f, ", \"insert_ns_per_key\": ");
		jnum(f, m->insert_ns);
		fprintf(f, ", \"slab_caches_bytes_per_key\": %s}",
			m->caches[0] ? m->caches : "{}");
	}
	fprintf(f, "]},\n");
}

static void print_curve(void)
{
	static const char * const what[6] = {
		"1-key commit, largest store / smallest",
		"8-key read, largest store / smallest",
		"  the same, 1024 keys spread over the store",
		"  the same, 1024 keys spread over the store",
		"  the same, 8 keys spread over the store",
		"  the same, 8 keys spread over the store",
	};
	double v;
	int i;

	if (!curve.n)
		return;
	printf("\n%-10s %14s %14s %14s %14s %14s %14s %14s\n", "store keys", "B/key beyond",
	       "1-key commit", "8-key read", "commit (1024)", "read (1024)", "commit (8)",
	       "read (8)");
	for (i = 0; i < curve.n; i++)
		printf("%-10llu %12.1f B %11.0f ns %11.0f ns %11.0f ns %11.0f ns %11.0f ns %11.0f ns\n",
		       (unsigned long long)curve.r[i].keys, curve.r[i].per_key,
		       curve.r[i].commit_ns, curve.r[i].read8_ns, curve.r[i].commit_hot_ns,
		       curve.r[i].read8_hot_ns, curve.r[i].commit_tiny_ns, curve.r[i].read8_tiny_ns);
	if (curve.n < 2)
		return;
	for (i = 0; i < 6; i++) {
		/* commit and its working sets, then read and its working sets */
		static const int order[6] = { 0, 2, 4, 1, 3, 5 };
		int w = order[i];

		v = curve_ratio(w);
		printf("%-52s %9.3f %8s  %s\n", what[w], v, "<= 1.2",
		       isnan(v) ? "n/a" : v <= CURVE_TARGET ? "pass" : "MISS");
	}
}

static void write_json(FILE *f, const struct utsname *u, const char *clocksrc,
		       const struct mem_summary *ms, double secs)
{
	int i, r;

	fprintf(f, "{\n  \"tool\": \"stm-bench\",\n  \"format\": 1,\n");
	fprintf(f, "  \"kernel\": \"%s\",\n  \"machine\": \"%s\",\n", u->release, u->machine);
	fprintf(f, "  \"cpus\": %d,\n  \"clocksource\": \"%s\",\n", ncpus(), clocksrc);
	fprintf(f, "  \"config\": {\"rounds\": %d, \"batches\": %d, \"batch_ms\": %d, "
		"\"scale_ms\": %d, \"mem_keys\": %d, \"mem_rounds\": %d},\n", cfg.rounds,
		cfg.sub, cfg.batch_ms, cfg.scale_ms, cfg.mem_keys, cfg.mem_rounds);
	fprintf(f, "  \"seconds\": %.1f,\n", secs);

	fprintf(f, "  \"items\": {\n");
	for (i = 0; i < NITEMS; i++) {
		const struct item *it = &items[i];

		fprintf(f, "    \"%s\": {\"label\": \"%s\", \"floor\": %s, \"arg\": %d, "
			"\"n\": %llu, \"ns_per_op\": ", it->id, it->label,
			it->floor ? "true" : "false", it->arg, (unsigned long long)it->n);
		jnum(f, item_median(it));
		fprintf(f, ", \"ns\": [");
		for (r = 0; r < it->nrounds; r++) {
			fprintf(f, "%s", r ? ", " : "");
			jnum(f, it->ns[r]);
		}
		fprintf(f, "]");
		if (it->unavailable)
			fprintf(f, ", \"unavailable\": \"%s\"", it->unavailable);
		if (it->err)
			fprintf(f, ", \"error\": \"%s\"", strerror(-it->err));
		fprintf(f, "}%s\n", i + 1 < NITEMS ? "," : "");
	}
	fprintf(f, "  },\n");

	fprintf(f, "  \"figures\": [\n");
	for (i = 0; i < NFIGURES; i++) {
		const struct figure *fg = &figures[i];

		fprintf(f, "    {\"id\": \"%s\", \"label\": \"%s\", \"num\": \"%s\", "
			"\"den\": \"%s\", \"kind\": \"%s\", \"value\": ", fg->id, fg->label,
			fg->num, fg->den,
			fg->target > 0 ? "target" : fg->target < 0 ? "floor" : "info");
		jnum(f, fg->value);
		if (fg->num2)
			fprintf(f, ", \"num2\": \"%s\", \"den2\": \"%s\"", fg->num2, fg->den2);
		fprintf(f, ", \"min\": ");
		jnum(f, fg->lo);
		fprintf(f, ", \"max\": ");
		jnum(f, fg->hi);
		if (fg->target > 0) {
			fprintf(f, ", \"target\": %g, \"cmp\": \"%s\", \"pass\": %s",
				fg->target, fg->ge ? ">=" : "<=",
				isnan(fg->value) ? "null" : fig_pass(fg) ? "true" : "false");
		}
		fprintf(f, ", \"ratios\": [");
		for (r = 0; r < fg->n; r++) {
			fprintf(f, "%s", r ? ", " : "");
			jnum(f, fg->ratios[r]);
		}
		fprintf(f, "]}%s\n", i + 1 < NFIGURES ? "," : "");
	}
	fprintf(f, "  ],\n");

	fprintf(f, "  \"memory\": ");
	if (!ms->rounds) {
		fprintf(f, "null,\n");
	} else {
		const struct mem_result *m = &ms->last;
		double v = median(ms->per_key, ms->rounds);

		fprintf(f, "{\"label\": \"kernel memory per key beyond key + value bytes\", "
			"\"unit\": \"B\", \"value\": ");
		jnum(f, v);
		fprintf(f, ", \"target\": %g, \"cmp\": \"<=\", \"pass\": %s, \"per_key\": [",
			MEM_TARGET, isnan(v) ? "null" : v <= MEM_TARGET ? "true" : "false");
		for (r = 0; r < ms->rounds; r++) {
			fprintf(f, "%s", r ? ", " : "");
			jnum(f, ms->per_key[r]);
		}
		fprintf(f, "], \"keys\": %llu, \"kv_bytes\": %llu, \"slab_delta\": %lld, "
			"\"vmalloc_delta\": %lld, \"used_delta\": %lld, \"per_key_slab_only\": ",
			(unsigned long long)m->keys, (unsigned long long)m->kv_bytes,
			(long long)m->slab, (long long)m->vmalloc, (long long)m->used);
		jnum(f, m->per_key_slab);
		fprintf(f, ", \"insert_ns_per_key\": ");
		jnum(f, m->insert_ns);
		/* Slab counts large kmallocs (no cache) too: a big hash table. */
		fprintf(f, ", \"outside_caches_bytes_per_key\": ");
		jnum(f, m->in_caches ? (double)(m->slab - m->in_caches) / m->keys : NAN);
		fprintf(f, ", \"slab_caches_bytes_per_key\": %s, \"returned_after_unlink\": %s, "
			"\"residual_slab\": %lld, \"residual_vmalloc\": %lld}",
			m->caches[0] ? m->caches : "{}", ms->returned ? "true" : "false",
			(long long)m->residual_slab, (long long)m->residual_vmalloc);
		fprintf(f, ",\n");
	}

	if (curve.n)
		write_curve_json(f);
	if (bank.nsys)
		write_bank_json(f);
	if (starve_ran)
		write_starve_json(f, &starve);

	fprintf(f, "  \"stats\": ");
	if (store_stats_json(f))
		fprintf(f, "null");
	fprintf(f, ",\n  \"errors\": \"%s\",\n  \"ok\": %s\n}\n", errors,
		broken ? "false" : "true");
}

static void print_results(const struct mem_summary *ms)
{
	int i;

	printf("\n%-48s %12s %8s\n", "operation (median of rounds)", "ns/op", "x ioctl");
	for (i = 0; i < NITEMS; i++) {
		const struct item *it = &items[i];
		double v = item_median(it);

		if (!usable(it)) {
			printf("%-48s %12s  (%s)\n", it->label, "n/a",
			       it->unavailable ? it->unavailable : "failed");
			continue;
		}
		printf("%-48s %12.0f %8.2f\n", it->label, v,
		       v / item_median(&items[0]));
	}
	printf("\n%-52s %9s %8s  %s\n", "figure (median of per-round ratios)", "value",
	       "target", "result");
	for (i = 0; i < NFIGURES; i++) {
		const struct figure *fg = &figures[i];
		char tgt[16] = "";

		if (fg->target > 0)
			snprintf(tgt, sizeof(tgt), "%s %.2g", fg->ge ? ">=" : "<=", fg->target);
		if (fg->target < 0)
			continue;
		printf("%-52s %9.3f %8s  %s\n", fg->label, fg->value, tgt,
		       fg->target <= 0 ? "" : isnan(fg->value) ? "n/a" :
		       fig_pass(fg) ? "pass" : "MISS");
	}
	if (ms->rounds) {
		double v = median(ms->per_key, ms->rounds);

		printf("%-52s %7.1f B %8s  %s\n", "kernel memory per key beyond key + value",
		       v, "<= 64 B", isnan(v) ? "n/a" : v <= MEM_TARGET ? "pass" : "MISS");
	}
}

/* Is @id one of the comma-separated names in @list? */
static int listed(const char *list, const char *id)
{
	size_t n = strlen(id);
	const char *p;

	for (p = list; (p = strstr(p, id)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: stm-bench [options]\n"
"Measures stm.ko (/dev/stm) against floors in the same boot; prints the\n"
"figures and writes OUT/bench.json.  Run as root inside the VM (make bench).\n"
"  --out DIR         write DIR/bench.json (default: print only)\n"
"  --rounds N        interleaved rounds, each figure the median (%d, >= 5)\n"
"  --batches N       batches per run, the fastest counts (%d)\n"
"  --ms N            length of one batch of one operation, ms (%d)\n"
"  --scale-ms N      a multi-process run lasts batches x N ms (%d)\n"
"  --mem-keys N      keys inserted by the memory probe (%d)\n"
"  --mem-rounds N    memory probe repetitions, 0 to skip (%d)\n"
"  --curve N,...     store sizes of the flat-cost curve, \"\" to skip (%s)\n"
"  --bank-ms N       one run of the bank against the peers, ms; 0 to skip (%d)\n"
"  --bank-rounds N   runs per system and process count, the best counts (%d)\n"
"  --starve-ms N     each phase of the starvation case, ms; 0 to skip (%d)\n"
"  --lmdb-dir DIR    where LMDB's files go; should be tmpfs (%s)\n"
"  --only ID,...     measure only these operations (ids as in bench.json)\n"
"  --quick           a short run to try things out (not for figures)\n",
		cfg.rounds, cfg.sub, cfg.batch_ms, cfg.scale_ms, cfg.mem_keys, cfg.mem_rounds,
		cfg.curve, cfg.bank_ms, cfg.bank_rounds, cfg.starve_ms, cfg.lmdb_dir);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "batches", required_argument, NULL, 'b' },
		{ "ms", required_argument, NULL, 'm' },
		{ "scale-ms", required_argument, NULL, 's' },
		{ "mem-keys", required_argument, NULL, 'k' },
		{ "mem-rounds", required_argument, NULL, 'K' },
		{ "curve", required_argument, NULL, 'C' },
		{ "bank-ms", required_argument, NULL, 'B' },
		{ "bank-rounds", required_argument, NULL, 'R' },
		{ "lmdb-dir", required_argument, NULL, 'l' },
		{ "starve-ms", required_argument, NULL, 'S' },
		{ "only", required_argument, NULL, 'O' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char why_bpf[160], why_lmdb[160], why[160];
	const char *only = NULL;
	struct mem_summary ms = { 0 };
	struct utsname u;
	char clocksrc[64], path[512];
	uint64_t t_start = now_ns(), t0;
	const char *p;
	char *end;
	int c, i, r, err;
	FILE *f;

	while ((c = getopt_long(argc, argv, "o:r:b:m:s:k:K:C:B:R:l:O:S:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': cfg.out = optarg; break;
		case 'r': cfg.rounds = atoi(optarg); break;
		case 'b': cfg.sub = atoi(optarg); break;
		case 'm': cfg.batch_ms = atoi(optarg); break;
		case 's': cfg.scale_ms = atoi(optarg); break;
		case 'k': cfg.mem_keys = atoi(optarg); break;
		case 'K': cfg.mem_rounds = atoi(optarg); break;
		case 'C': cfg.curve = optarg; break;
		case 'B': cfg.bank_ms = atoi(optarg); break;
		case 'R': cfg.bank_rounds = atoi(optarg); break;
		case 'S': cfg.starve_ms = atoi(optarg); break;
		case 'l': cfg.lmdb_dir = optarg; break;
		case 'O': only = optarg; break;
		case 'q':
			cfg.rounds = 5;
			cfg.sub = 2;
			cfg.batch_ms = 3;
			cfg.scale_ms = 20;
			cfg.mem_keys = 20000;
			cfg.mem_rounds = 1;
			cfg.curve = "1000,10000";
			cfg.bank_ms = 300;
			cfg.bank_rounds = 1;
			cfg.starve_ms = 300;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (cfg.rounds < 1 || cfg.rounds > MAX_ROUNDS || cfg.batch_ms < 1 || cfg.sub < 1 ||
	    cfg.scale_ms < 1 || cfg.mem_keys < 1 || cfg.mem_rounds < 0 ||
	    cfg.mem_rounds > MAX_ROUNDS || cfg.bank_ms < 0 || cfg.bank_rounds < 1) {
		usage(stderr);
		return 2;
	}
	if (cfg.rounds < 5)
		fprintf(stderr, "stm-bench: fewer than 5 rounds: medians are not figures\n");

	uname(&u);
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  clocksrc, sizeof(clocksrc));
	printf("stm-bench: kernel %s, %d cpus, clocksource %s; %d rounds, each the best of "
	       "%d batches of %d ms per operation\n", u.release, ncpus(),
	       clocksrc[0] ? clocksrc : "?", cfg.rounds, cfg.sub, cfg.batch_ms);
	fflush(stdout);

	/* Single-process runs on CPU 0; multi-process runs pin their own. */
	err = pin_cpu(0);
	if (err)
		die_errno(err, "sched_setaffinity");
	err = ops_init(why, sizeof(why));
	if (err) {
		fprintf(stderr, "stm-bench: %s\n", why);
		return 1;
	}
	if (bpf_init(why_bpf, sizeof(why_bpf)))
		find_item("bpf_update")->unavailable = why_bpf;
	if (lmdb_init(why_lmdb, sizeof(why_lmdb)))
		find_item("lmdb_put")->unavailable = why_lmdb;
	for (i = 0; i < NITEMS; i++) {
		if (!strncmp(items[i].id, "scale_", 6))
			items[i].duration = 1;
		if (ncpus() < 2 && items[i].run == run_scale && items[i].arg == 2)
			items[i].unavailable = "fewer than 2 CPUs";
		if (only && !listed(only, items[i].id))
			items[i].unavailable = "not selected (--only)";
	}

	t0 = now_ns();
	for (i = 0; i < NITEMS; i++)
		calibrate(&items[i]);
	printf("stm-bench: calibrated in %.1f s\n", (now_ns() - t0) / 1e9);
	fflush(stdout);

	for (r = 0; r < cfg.rounds; r++) {
		t0 = now_ns();
		for (i = 0; i < NITEMS; i++) {
			struct item *it = &items[(i + r * 5) % NITEMS];
			double ns;

			if (it->unavailable || it->err)
				continue;
			if (!measure(it, &ns))
				it->ns[it->nrounds++] = ns;
			/* Let deferred work (RCU frees) run before the next one. */
			usleep(2000);
		}
		printf("stm-bench: round %d/%d in %.1f s\n", r + 1, cfg.rounds,
		       (now_ns() - t0) / 1e9);
		fflush(stdout);
	}

	for (r = 0; r < cfg.mem_rounds; r++) {
		err = mem_probe(cfg.mem_keys, 0, &ms.last);
		if (err) {
			note_error("memory probe failed: %s (%s)", strerror(-err), ms.last.why);
			broken = 1;
			break;
		}
		ms.per_key[ms.rounds++] = ms.last.per_key;
		ms.returned = ms.rounds == 1 ? ms.last.returned : ms.returned && ms.last.returned;
		printf("stm-bench: memory %d/%d: %.1f B/key beyond key+value (slab %+lld B, "
		       "vmalloc %+lld B for %llu keys); after unlink %s (slab %+lld B)\n",
		       r + 1, cfg.mem_rounds, ms.last.per_key, (long long)ms.last.slab,
		       (long long)ms.last.vmalloc, (unsigned long long)ms.last.keys,
		       ms.last.returned ? "returned" : "NOT returned",
		       (long long)ms.last.residual_slab);
		fflush(stdout);
	}

	for (p = cfg.curve; *p && curve.n < CURVE_MAX; p += strspn(p, ",")) {
		struct mem_result *m = &curve.r[curve.n];
		long n = strtol(p, &end, 10);

		if (end == p || n < 1 || n > 1 << 24) {
			note_error("--curve: bad size at '%s'%s", p, "");
			broken = 1;
			break;
		}
		p = end;
		err = mem_probe((int)n, 1, m);
		if (err) {
			note_error("curve: a store size failed: %s (%s)", strerror(-err), m->why);
			broken = 1;
			break;
		}
		curve.n++;
		printf("stm-bench: curve %ld keys: %.1f B/key beyond key+value, commit %.0f ns, "
		       "8-key read %.0f ns\n", n, m->per_key, m->commit_ns, m->read8_ns);
		fflush(stdout);
	}

	if (cfg.bank_ms && bank_bench(&bank)) {
		note_error("bank: a run failed%s%s", "", "");
		broken = 1;
	}

	if (cfg.starve_ms > 0) {
		err = starve_bench(&starve);
		starve_ran = 1;
		if (err) {
			note_error("starve: a run failed: %s%s", strerror(-err), "");
			broken = 1;
		}
	}

	compute_figures();
	print_results(&ms);
	print_curve();
	print_bank();
	if (starve_ran)
		print_starve(&starve);
	if (cfg.out) {
		mkdir(cfg.out, 0755);
		snprintf(path, sizeof(path), "%s/bench.json", cfg.out);
		f = fopen(path, "we");
		if (!f)
			die_errno(errno, path);
		write_json(f, &u, clocksrc, &ms, (now_ns() - t_start) / 1e9);
		if (fclose(f))
			die_errno(errno, path);
		printf("stm-bench: wrote %s\n", path);
	}
	ops_fini();
	printf("stm-bench: %s in %.1f s\n", broken ? "FAILED" : "done",
	       (now_ns() - t_start) / 1e9);
	return broken ? 1 : 0;
}
