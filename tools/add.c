// SPDX-License-Identifier: MIT
/* stmctl add: add to an 8-byte integer key, atomically. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "stmctl.h"

static const struct opt add_opts[] = {
	{ "hex-key", 'x', 0, NULL, "KEY is given in hex" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage add_usage = {
	"NAME KEY DELTA",
	"An absent key counts as 0.  Prints the value after the addition.  The\n"
	"addition commutes with others: it never conflicts.  DELTA may be negative.\n",
	add_opts,
};

int cmd_add(int argc, char **argv)
{
	struct stm_store *s;
	int64_t delta, result;
	uint8_t *key;
	size_t klen;
	struct args a;
	int ret, rc = EX_OK;

	ret = parse_args("add", argc, argv, &a, 3, 3);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	if (parse_i64(a.pos[2], &delta))
		return usage_error("add", "bad integer '%s'", a.pos[2]);
	ret = parse_key("add", a.pos[1], has_opt(&a, "hex-key"), &key, &klen);
	if (ret)
		return ret;
	ret = open_store(a.pos[0], 0, &s);
	if (ret) {
		free(key);
		return ret;
	}
	ret = stm_fetch_add_n(s, key, klen, delta, &result);
	if (ret == -EINVAL) {
		fprintf(stderr, "stmctl: %s: value is not an 8-byte integer\n", a.pos[1]);
		rc = EX_ERR;
	} else if (ret) {
		rc = fail(ret, "%s", a.pos[1]);
	} else {
		printf("%" PRId64 "\n", result);
	}
	stm_close(s);
	free(key);
	return rc;
}
