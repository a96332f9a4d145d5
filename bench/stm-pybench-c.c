// SPDX-License-Identifier: MIT
/*
 * stm-pybench-c: the C side of bench/pybench.py, the same operations the
 * Python binding does, through libstmdev, so that pybench can report
 * Python/C ratios measured in the same boot.
 *
 *   stm-pybench-c STORE OP MS     run OP for about MS milliseconds, print
 *                                 "OP ops=N ns_per_op=X"
 *
 * OP: cas1 (1-key checked commit, stm_cas), atomic1 (stm_atomic putting
 * one i64), using8 (stm_using of 8 keys, then stm_coll_free).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stmdev.h"

static const char *const keys8[8] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7" };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int put1(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "k", *(int64_t *)arg);
}

int main(int argc, char **argv)
{
	struct stm_store *s;
	uint64_t t0, t1, ver = 0, n = 0, ms;
	int64_t x = 0;
	int ret = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: stm-pybench-c STORE cas1|atomic1|using8 MS\n");
		return 2;
	}
	ms = strtoull(argv[3], NULL, 10);
	if (ms == 0 || ms > 60000) {
		fprintf(stderr, "stm-pybench-c: MS in 1..60000\n");
		return 2;
	}
	ret = stm_open(argv[1], STM_CREAT, 0600, &s);
	if (ret) {
		fprintf(stderr, "stm-pybench-c: open %s: %s\n", argv[1], stm_strerror(ret));
		return 1;
	}
	/* Start from the key's current version (the Python side wrote it too). */
	{
		struct stm_value *v;

		ret = stm_usevar(s, "k", &v);
		if (ret)
			goto fail;
		ver = stm_value_version(v);
		stm_value_free(v);
	}
	t0 = now_ns();
	t1 = t0;
	while (t1 - t0 < ms * 1000000u) {
		for (int i = 0; i < 64; i++, n++, x++) {
			if (!strcmp(argv[2], "cas1")) {
				char buf[8];

				memcpy(buf, &x, 8);
				ret = stm_cas(s, "k", ver, buf, 8, &ver);
			} else if (!strcmp(argv[2], "atomic1")) {
				ret = stm_atomic(s, put1, &x, NULL);
			} else if (!strcmp(argv[2], "using8")) {
				struct stm_coll *c;

				ret = stm_using(s, keys8, 8, &c);
				if (!ret)
					stm_coll_free(c);
			} else {
				fprintf(stderr, "stm-pybench-c: unknown op %s\n", argv[2]);
				stm_close(s);
				return 2;
			}
			if (ret)
				goto fail;
		}
		t1 = now_ns();
	}
	printf("%s ops=%llu ns_per_op=%.1f\n", argv[2], (unsigned long long)n,
	       (double)(t1 - t0) / (double)n);
	stm_close(s);
	return 0;
fail:
	fprintf(stderr, "stm-pybench-c: %s: %s\n", argv[2], stm_strerror(ret));
	stm_close(s);
	return 1;
}
