// SPDX-License-Identifier: MIT
/*
 * etcd-bench.c - the cost of a 1-key stm_atomic() on an etcd store against
 * the same work sent by bare libcurl from the same process (make
 * bench-etcd; Documentation/etcd.rst, "Bench").
 *
 *   etcd-bench URL-PREFIX [ROUNDS [OPS]]
 *
 * URL-PREFIX is "etcd://host:port,.../" (the store is created under it).
 * Each round times OPS operations of each kind, the kinds interleaved:
 *   atomic   stm_atomic(): stm_get_i64 + stm_put_i64 of one key, commit
 *   bare_rt  curl: a Range of the key, then a Txn comparing its
 *            mod_revision and putting the new value (the same two round
 *            trips the library makes, without the library)
 *   bare_txn curl: the Txn alone, its compare taken from the last reply
 * and prints the medians (microseconds per operation) and their ratios as
 * "name value" lines, then one JSON line.  Timings are ratios for a
 * reason: the absolute figures depend on the machine's load.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stmdev.h"

struct buf {
	char  *p;
	size_t len;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->len + sz * nm + 1);

	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, d, sz * nm);
	b->len += sz * nm;
	b->p[b->len] = '\0';
	return sz * nm;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int incr(struct stm_txn *tx, void *arg)
{
	int64_t x = 0;
	int ret = stm_get_i64(tx, "c", &x);

	(void)arg;
	if (ret && ret != -ENOENT)
		return ret;
	return stm_put_i64(tx, "c", x + 1);
}

/* POST @body to @url; the reply parsed, or NULL. */
static json_t *post(CURL *c, const char *url, const char *body)
{
	struct buf b = { 0 };
	json_t *j = NULL;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK)
		j = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
	free(b.p);
	return j;
}

static int64_t i64(json_t *o, const char *f)
{
	const char *s = json_string_value(json_object_get(o, f));

	return s ? strtoll(s, NULL, 10) : 0;
}

/* A Txn: compare key's mod_revision with @rev, put @val; the new revision. */
static int64_t bare_txn(CURL *c, const char *url, int64_t rev, int64_t val)
{
	char body[512], v64[16];
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t le[9] = { 0 };
	json_t *r;
	int64_t out = -1;

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)val >> (8 * i));
	for (int i = 0, o = 0; i < 9; i += 3) {
		uint32_t x = le[i] << 16 | le[i + 1] << 8 | le[i + 2];

		v64[o++] = b64[x >> 18 & 63];
		v64[o++] = b64[x >> 12 & 63];
		v64[o++] = i + 1 < 8 ? b64[x >> 6 & 63] : '=';
		v64[o++] = i + 2 < 8 ? b64[x & 63] : '=';
		v64[o] = '\0';
	}
	/* key "bare" = YmFyZQ== */
	snprintf(body, sizeof(body),
		 "{\"compare\":[{\"key\":\"YmFyZQ==\",\"target\":\"MOD\",\"result\":\"EQUAL\","
		 "\"mod_revision\":\"%" PRId64 "\"}],\"success\":[{\"request_put\":"
		 "{\"key\":\"YmFyZQ==\",\"value\":\"%s\"}}],\"failure\":[]}", rev, v64);
	r = post(c, url, body);
	if (r && json_is_true(json_object_get(r, "succeeded")))
		out = i64(json_object_get(r, "header"), "revision");
	json_decref(r);
	return out;
}

static int64_t bare_range(CURL *c, const char *url)
{
	json_t *r = post(c, url, "{\"key\":\"YmFyZQ==\"}");
	int64_t rev = r ? i64(json_array_get(json_object_get(r, "kvs"), 0), "mod_revision") : -1;

	json_decref(r);
	return rev;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5, ops = argc > 3 ? atoi(argv[3]) : 200;
	char name[1024], host[256], txn_url[300], range_url[300];
	double t_at[64], t_rt[64], t_tx[64];
	struct stm_store *s;
	const char *p, *e;
	int64_t rev;
	CURL *c;
	int ret;

	if (argc < 2 || rounds < 1 || rounds > 64 || ops < 1) {
		fprintf(stderr, "usage: etcd-bench etcd://host:port,.../ [ROUNDS [OPS]]\n");
		return 2;
	}
	snprintf(name, sizeof(name), "%sbench-%d", argv[1], (int)getpid());
	ret = stm_open(name, STM_CREAT | STM_EXCL, 0600, &s);
	if (ret) {
		fprintf(stderr, "etcd-bench: %s: %s\n", name, stm_strerror(ret));
		return 1;
	}
	/* The bare client talks to the first endpoint, as the library's
	 * handle may: both go through the same member's gateway. */
	p = argv[1] + strlen("etcd://");
	e = p + strcspn(p, ",/");
	snprintf(host, sizeof(host), "%.*s", (int)(e - p), p);
	snprintf(txn_url, sizeof(txn_url), "http://%s/v3/kv/txn", host);
	snprintf(range_url, sizeof(range_url), "http://%s/v3/kv/range", host);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	rev = bare_range(c, range_url);
	if (rev < 0 || (rev = bare_txn(c, txn_url, rev, 0)) < 0) {
		fprintf(stderr, "etcd-bench: the bare client failed\n");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now_us();

		for (int i = 0; i < ops; i++)
			if ((ret = stm_atomic(s, incr, NULL, NULL)) < 0) {
				fprintf(stderr, "etcd-bench: stm_atomic: %s\n", stm_strerror(ret));
				return 1;
			}
		t_at[r] = (now_us() - t0) / ops;
		t0 = now_us();
		for (int i = 0; i < ops; i++) {
			int64_t rv = bare_range(c, range_url);

			if (rv < 0 || bare_txn(c, txn_url, rv, i) < 0) {
				fprintf(stderr, "etcd-bench: bare Range + Txn failed\n");
				return 1;
			}
		}
		t_rt[r] = (now_us() - t0) / ops;
		rev = bare_range(c, range_url);	/* the key moved since: start from now */
		t0 = now_us();
		for (int i = 0; i < ops; i++)
			if ((rev = bare_txn(c, txn_url, rev, i)) < 0) {
				fprintf(stderr, "etcd-bench: bare Txn failed\n");
				return 1;
			}
		t_tx[r] = (now_us() - t0) / ops;
	}
	qsort(t_at, rounds, sizeof(double), cmp);
	qsort(t_rt, rounds, sizeof(double), cmp);
	qsort(t_tx, rounds, sizeof(double), cmp);
	printf("atomic_us %.1f\nbare_rt_us %.1f\nbare_txn_us %.1f\n"
	       "ratio_atomic_vs_bare_rt %.3f\nratio_atomic_vs_bare_txn %.3f\n",
	       t_at[rounds / 2], t_rt[rounds / 2], t_tx[rounds / 2],
	       t_at[rounds / 2] / t_rt[rounds / 2], t_at[rounds / 2] / t_tx[rounds / 2]);
	printf("{\"atomic_us\":%.1f,\"bare_rt_us\":%.1f,\"bare_txn_us\":%.1f,\"rounds\":%d,\"ops\":%d}\n",
	       t_at[rounds / 2], t_rt[rounds / 2], t_tx[rounds / 2], rounds, ops);
	curl_easy_cleanup(c);
	stm_close(s);
	stm_unlink(name);
	return 0;
}
