// SPDX-License-Identifier: MIT
/* stmctl del: delete a key. */
#include <inttypes.h>
#include <stdlib.h>

#include "stmctl.h"

#define DEL_TRIES 1000

static const struct opt del_opts[] = {
	{ "if-version", 'I', 1, "V", "delete only if the key's version is V" },
	{ "force",      'f', 0, NULL, "no error when the key does not exist" },
	{ "hex-key",    'x', 0, NULL, "KEY is given in hex" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage del_usage = {
	"NAME KEY [--if-version V]",
	"Exit code 5 when the key does not exist (unless --force); 3 with\n"
	"--if-version when the key's version is not V.\n",
	del_opts,
};

int cmd_del(int argc, char **argv)
{
	struct stm_store *s;
	uint64_t want = 0;
	const char *iv;
	uint8_t *key;
	size_t klen;
	struct args a;
	int ret, rc = EX_OK;

	ret = parse_args("del", argc, argv, &a, 2, 2);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	iv = opt_val(&a, "if-version");
	if (iv && parse_u64(iv, &want))
		return usage_error("del", "bad version '%s'", iv);
	ret = parse_key("del", a.pos[1], has_opt(&a, "hex-key"), &key, &klen);
	if (ret)
		return ret;
	ret = open_store(a.pos[0], 0, &s);
	if (ret) {
		free(key);
		return ret;
	}
	for (int tries = 0; tries < DEL_TRIES; tries++) {
		struct stm_value *v;

		ret = stm_usevar_n(s, key, klen, &v);
		if (ret)
			break;
		if (iv && stm_value_version(v) != want) {
			stm_value_free(v);
			fprintf(stderr, "stmctl: %s: version is not %s\n", a.pos[1], iv);
			rc = EX_CONFLICT;
			goto out;
		}
		if (!stm_value_data(v, NULL)) {
			stm_value_free(v);
			if (!has_opt(&a, "force")) {
				fprintf(stderr, "stmctl: %s: no such key\n", a.pos[1]);
				rc = EX_NOTFOUND;
			}
			goto out;
		}
		stm_value_del(v);
		ret = stm_value_commit(v);
		stm_value_free(v);
		if (ret != -STM_ECONFLICT || iv)
			break;
	}
	if (ret == -STM_ECONFLICT && iv) {
		fprintf(stderr, "stmctl: %s: version is not %s\n", a.pos[1], iv);
		rc = EX_CONFLICT;
	} else if (ret) {
		rc = fail(ret, "%s", a.pos[1]);
	}
out:
	stm_close(s);
	free(key);
	return rc;
}
