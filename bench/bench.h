/* SPDX-License-Identifier: MIT */
/*
 * stm-bench internals: the measured operations (ops.c), the memory probe
 * (mem.c) and the driver that interleaves them and writes the figures
 * (stm-bench.c).  See Documentation/bench.rst.
 */
#ifndef STM_BENCH_H
#define STM_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define MAX_ROUNDS	64
#define REGION_KEYS	1024		/* keys per key region */
#define MAX_BATCH	64		/* io_uring batch sizes 1..64 */
#define MAX_PROCS	4		/* scaling: 1, 2, 4 processes */

/* Disjoint key regions, one per measurement that writes. */
enum region {
	R_PUT, R_CHK, R_RMW, R_READ, R_URING, R_PP,
	R_SCALE0,		/* R_SCALE0 + i: scaling process i */
	R_NREGIONS = R_SCALE0 + MAX_PROCS,
};

struct item;
typedef int (*run_fn)(struct item *it, uint64_t n, double *ns_per_op);

/*
 * One measured operation.  run() performs n operations (or, when
 * `duration` is set, runs for that long and ignores n) and reports the
 * nanoseconds per operation; 0 or -errno.
 */
struct item {
	const char *id;		/* JSON name */
	const char *label;
	run_fn run;
	int arg;		/* batch size, process count, ... */
	int arg2;		/* scaling: empty ioctls, not commits */
	int duration;		/* fixed-duration: no calibration */
	int floor;		/* a floor, not stm */
	uint64_t n;		/* operations per run, after calibration */
	double ns[MAX_ROUNDS];	/* ns per op, one per round */
	int nrounds;
	const char *unavailable;	/* why it could not run */
	int err;
};

struct config {
	int rounds;
	int sub;		/* batches per run: the fastest counts */
	int batch_ms;		/* target length of one batch */
	int scale_ms;		/* scaling run: sub * scale_ms */
	int mem_keys;
	int mem_rounds;
	const char *curve;	/* store sizes, comma-separated */
	int bank_ms;		/* one bank run; 0: no bank */
	int bank_rounds;	/* runs per system and process count, the best counts */
	int starve_ms;		/* starve.c: each phase; 0: no starvation case */
	int verbose;
	const char *out;	/* directory for bench.json */
	const char *lmdb_dir;
};

extern struct config cfg;

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ops.c */
int ops_init(char *why, size_t whylen);
void ops_fini(void);
int pin_cpu(int cpu);
int ncpus(void);
int run_nop_ioctl(struct item *it, uint64_t n, double *ns);
int run_commit_put(struct item *it, uint64_t n, double *ns);
int run_commit_chk(struct item *it, uint64_t n, double *ns);
int run_rmw(struct item *it, uint64_t n, double *ns);
int run_read8(struct item *it, uint64_t n, double *ns);
int run_uring_nop(struct item *it, uint64_t n, double *ns);
int run_uring_commit(struct item *it, uint64_t n, double *ns);
int run_scale(struct item *it, uint64_t n, double *ns);
int run_stm_pingpong(struct item *it, uint64_t n, double *ns);
int run_pipe_pingpong(struct item *it, uint64_t n, double *ns);
int bpf_init(char *why, size_t whylen);
int run_bpf_update(struct item *it, uint64_t n, double *ns);
int lmdb_init(char *why, size_t whylen);
int run_lmdb_put(struct item *it, uint64_t n, double *ns);
int store_stats_json(FILE *f);
struct io_uring_sqe;
/* An IORING_OP_URING_CMD of stm command @op on @arg (@len bytes) on @fd. */
void prep_stm_cmd(struct io_uring_sqe *sqe, int fd, unsigned int op, void *arg,
		  uint32_t len, uint64_t tag);

/* mem.c */
struct mem_result {
	int ok;
	uint64_t keys;
	uint64_t kv_bytes;	/* INFO's bytes: key + value */
	int64_t slab;		/* deltas in bytes */
	int64_t vmalloc;
	int64_t used;		/* MemTotal - MemFree */
	double per_key;		/* (slab + vmalloc - kv_bytes) / keys */
	double per_key_slab;	/* (slab - kv_bytes) / keys */
	int64_t residual_slab;	/* after unlink, vs. the baseline */
	int64_t residual_vmalloc;
	int returned;		/* residual within tolerance */
	double insert_ns;	/* ns per key inserted */
	double commit_ns;	/* timed: 1-key commit on the full store */
	double read8_ns;	/* timed: 8-key READ on the full store */
	double commit_hot_ns;	/* the same on 1024 keys spread over the store */
	double read8_hot_ns;
	double commit_tiny_ns;	/* the same on 8 keys spread over the store */
	double read8_tiny_ns;
	int64_t in_caches;	/* slab growth seen in /proc/slabinfo caches */
	char caches[1024];	/* JSON object: bytes per key by slab cache */
	char why[128];
};
int mem_probe(int nkeys, int timed, struct mem_result *r);

/* bank.c: the bank workload on stm and its peers */
#define BANK_SYSTEMS	6
#define BANK_PROCS	3	/* 1, 2, 4 workers */
struct bank_result {
	double per_s;		/* transfers per second, all workers */
	uint64_t transfers, declined, conflicts, audits, bad_audits;
	int final_ok;		/* the total checked at the end */
	int err;
	char why[128];
};
struct bank_table {
	int nsys;
	const char *sys[BANK_SYSTEMS];
	int procs[BANK_PROCS];
	struct bank_result r[BANK_SYSTEMS][BANK_PROCS];
};
int bank_bench(struct bank_table *t);

/* starve.c: the starvation case of contention management (issue 12). */
struct starve_result {
	const char *unavailable;
	int ok;
	int plain_committed;
	unsigned plain_attempts;
	int esc_runs;
	unsigned esc_max;
	double esc_mean;
	double long_per_s;	/* escalating transactions committed per s */
	double hot_before;	/* hot writers' commits/s, alone */
	double hot_plain;	/* beside the plain long transaction */
	double hot_esc;		/* beside the escalating ones */
};
int starve_bench(struct starve_result *r);
void print_starve(const struct starve_result *r);
void write_starve_json(FILE *f, const struct starve_result *r);

/* Helpers shared by the files. */
double median(const double *v, int n);
void die_errno(int err, const char *what);

#endif /* STM_BENCH_H */
