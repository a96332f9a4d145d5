/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lib_test_util.h - helpers shared by the libstmdev selftests (lib_test.c,
 * ring_test.c, txn_test.c, txn_stmctl_test.c), which test the library
 * through its public API.  The raw-UAPI tests use stm_test_util.h instead;
 * the two are not included together.
 *
 * Including this header installs a constructor that skips the whole
 * program (exit 4) when /dev/stm does not exist: the only capability whose
 * absence is a skip rather than a failure.
 *
 * Store names are "<LT_STORE_PREFIX>-<tag>-<pid>-<seq>"; a test may define
 * LT_STORE_PREFIX before including this header (default "lt").
 *
 * The same test bodies run on another backend when STM_TEST_STORE is a
 * store URL's beginning ("etcd://127.0.0.1:2379,.../", as selftests/etcd/run
 * sets it): every store name is then that plus the usual name, and the
 * device is not needed.  lt_backend() says which backend a test runs on,
 * for the few checks that differ by design (Documentation/etcd.rst).
 */
#ifndef LIB_TEST_UTIL_H
#define LIB_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stmdev.h"

/*
 * Helpers are static, not inline (unused ones are no warning): inlined
 * into a TEST_F body, whose harness uses setjmp, they make GCC's
 * -Wclobbered fire on the test's locals.
 */
#define __lt_helper static __attribute__((unused))

#ifndef LT_STORE_PREFIX
#define LT_STORE_PREFIX "lt"
#endif

/* Room for a store name: a URL on another backend. */
#define LT_NAME_MAX	512

/* The store URL prefix from STM_TEST_STORE, "" for /dev/stm. */
__lt_helper const char *lt_base(void)
{
	const char *b = getenv("STM_TEST_STORE");

	return b ? b : "";
}

/* "dev", or the scheme of STM_TEST_STORE ("etcd"). */
__lt_helper int lt_backend(const char *scheme)
{
	const char *b = lt_base();

	if (!*b)
		return !strcmp(scheme, "dev");
	return !strncmp(b, scheme, strlen(scheme)) && !strncmp(b + strlen(scheme), "://", 3);
}

/* @n iterations of a long loop, a twentieth of it on a networked backend
 * (each commit a round trip to a cluster, not a system call). */
__lt_helper int lt_scale(int n)
{
	return lt_backend("dev") || n < 20 ? n : n / 20;
}

static void __attribute__((constructor)) require_device(void)
{
	if (*lt_base())
		return;
	if (access("/dev/stm", F_OK) != 0) {
		printf("TAP version 13\n1..0 # SKIP /dev/stm not present\n");
		fflush(stdout);
		_exit(4);
	}
}

/* A store name unique per process and call. */
__lt_helper void store_name(char *buf, size_t len, const char *tag)
{
	static unsigned int seq;

	snprintf(buf, len, "%s" LT_STORE_PREFIX "-%s-%d-%u", lt_base(), tag,
		 (int)getpid(), seq++);
}

/* The value of @key as a string (NULL when absent); caller frees. */
__lt_helper char *get_str(struct stm_store *s, const char *key,
			 uint64_t *version)
{
	struct stm_value *v;
	const char *d;
	char *out = NULL;
	size_t len;

	if (stm_usevar(s, key, &v))
		return NULL;
	d = stm_value_data(v, &len);
	if (d)
		out = strndup(d, len);
	if (version)
		*version = stm_value_version(v);
	stm_value_free(v);
	return out;
}

/* The value of @key as an i64; INT64_MIN when absent or not 8 bytes. */
__lt_helper int64_t get_i64(struct stm_store *s, const char *key)
{
	struct stm_value *v;
	int64_t x = INT64_MIN;

	if (stm_usevar(s, key, &v))
		return INT64_MIN;
	if (stm_value_i64(v, &x))
		x = INT64_MIN;
	stm_value_free(v);
	return x;
}

/* A child's exit status, 128 + the signal that killed it, or -1. */
__lt_helper int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

#endif /* LIB_TEST_UTIL_H */
