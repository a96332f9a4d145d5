// SPDX-License-Identifier: MIT
/* stmctl set: write a key's value, unconditionally or as a compare-and-set. */
#include <inttypes.h>
#include <stdlib.h>

#include "stmctl.h"

#define SET_TRIES 1000

static const struct opt set_opts[] = {
	{ "i64",        0,   0, NULL, "VALUE is an integer, stored as 8 bytes little-endian" },
	{ "hex",        0,   0, NULL, "VALUE is given in hex" },
	{ "if-version", 'I', 1, "V", "write only if the key's version is V (0: absent)" },
	{ "hex-key",    'x', 0, NULL, "KEY is given in hex" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage set_usage = {
	"NAME KEY VALUE [--i64] [--if-version V]",
	"Prints the version the write was given.  With --if-version, exit code 3\n"
	"when the key's version is not V (nothing is written).\n",
	set_opts,
};

int cmd_set(int argc, char **argv)
{
	struct stm_store *s;
	uint8_t *key, *val = NULL, i64buf[8];
	const uint8_t *data;
	size_t klen, len;
	uint64_t version = 0;
	const char *iv;
	struct args a;
	int ret, rc = EX_OK;

	ret = parse_args("set", argc, argv, &a, 3, 3);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	iv = opt_val(&a, "if-version");
	if (iv && parse_u64(iv, &version))
		return usage_error("set", "bad version '%s'", iv);
	if (has_opt(&a, "i64")) {
		int64_t x;

		if (parse_i64(a.pos[2], &x))
			return usage_error("set", "bad integer '%s'", a.pos[2]);
		for (int i = 0; i < 8; i++)
			i64buf[i] = (uint8_t)((uint64_t)x >> (8 * i));
		data = i64buf;
		len = 8;
	} else {
		if (parse_bytes(a.pos[2], has_opt(&a, "hex"), &val, &len))
			return usage_error("set", "bad hex value '%s'", a.pos[2]);
		data = val;
	}
	ret = parse_key("set", a.pos[1], has_opt(&a, "hex-key"), &key, &klen);
	if (ret) {
		free(val);
		return ret;
	}
	ret = open_store(a.pos[0], 0, &s);
	if (ret) {
		free(key);
		free(val);
		return ret;
	}
	if (iv) {
		ret = stm_cas_n(s, key, klen, version, data, len, &version);
		if (ret == -STM_ECONFLICT) {
			fprintf(stderr, "stmctl: %s: version is not %s\n", a.pos[1], iv);
			rc = EX_CONFLICT;
			goto out;
		}
	} else {
		/* Axon style: take a copy, set it, commit; redo on conflict. */
		for (int tries = 0; tries < SET_TRIES; tries++) {
			struct stm_value *v;

			ret = stm_usevar_n(s, key, klen, &v);
			if (ret)
				break;
			ret = stm_value_set(v, data, len);
			if (!ret)
				ret = stm_value_commit(v);
			if (!ret)
				version = stm_value_version(v);
			stm_value_free(v);
			if (ret != -STM_ECONFLICT)
				break;
		}
	}
	if (ret) {
		rc = fail(ret, "%s", a.pos[1]);
		goto out;
	}
	printf("%" PRIu64 "\n", version);
out:
	stm_close(s);
	free(key);
	free(val);
	return rc;
}
