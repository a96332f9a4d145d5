// SPDX-License-Identifier: GPL-2.0
/*
 * oversize.c - what an etcd store cannot take fails with E2BIG, cleanly
 * (selftests/etcd/run): a value over max_value_size, a commit with more
 * keys than etcd's --max-txn-ops allows, a commit over etcd's request
 * size limit (1.5 MiB).  Nothing of a failed commit is visible after.
 *
 *   oversize STORE-URL       exit 0 when every check holds
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stmdev.h"

static int fails;

static int count_cb(const struct stm_key_info *ki, void *arg)
{
	(void)ki;
	++*(int *)arg;
	return 0;
}

#define CHECK(what, cond) do { \
	if (!(cond)) { printf("# oversize: %s\n", what); fails++; } } while (0)

int main(int argc, char **argv)
{
	static char big[1024 * 1024 + 1];
	const char *keys[200];
	char names[200][16];
	struct stm_limits lim;
	struct stm_store *s;
	struct stm_coll *c;
	int ret;

	if (argc != 2)
		return 2;
	ret = stm_open(argv[1], STM_CREAT, 0600, &s);
	if (ret) {
		printf("# oversize: open %s: %s\n", argv[1], stm_strerror(ret));
		return 1;
	}
	CHECK("limits", stm_limits(s, &lim) == 0 && lim.max_keys_per_call < 200 &&
	      lim.max_value_size < sizeof(big));
	/* A value over max_value_size: refused before anything is sent. */
	CHECK("value over max_value_size",
	      stm_cas(s, "big", 0, big, lim.max_value_size + 1, NULL) == -E2BIG);
	/* More keys than a Txn may hold. */
	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "k%03d", i);
		keys[i] = names[i];
	}
	CHECK("200 keys in one read", stm_using(s, keys, 200, &c) == -E2BIG);
	/* Under the key limit, over the request size: 12 values of 128 KiB
	 * are 2 MiB as base64. */
	ret = stm_using(s, keys, 12, &c);
	CHECK("12 keys read", ret == 0);
	if (!ret) {
		for (int i = 0; i < 12; i++)
			stm_value_set(stm_coll_at(c, i), big, 128 * 1024);
		ret = stm_coll_commit(c);
		CHECK("2 MiB commit gives E2BIG", ret == -E2BIG);
		stm_coll_free(c);
	}
	{
		int n = 0;

		CHECK("nothing of it visible", stm_keys(s, count_cb, &n) == 0 && n == 0);
	}
	stm_close(s);
	stm_unlink(argv[1]);
	return fails ? 1 : 0;
}
