// SPDX-License-Identifier: MIT
/* stmctl get: print a key's value. */
#include <inttypes.h>
#include <stdlib.h>

#include "stmctl.h"

static const struct opt get_opts[] = {
	{ "json",    'j', 0, NULL, "print a JSON object with the version" },
	{ "i64",     0,   0, NULL, "print the value as an 8-byte integer" },
	{ "hex",     0,   0, NULL, "print the value in hex" },
	{ "raw",     0,   0, NULL, "write the value's bytes as they are" },
	{ "version", 'V', 0, NULL, "print the version, a tab, then the value" },
	{ "hex-key", 'x', 0, NULL, "KEY is given in hex" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage get_usage = {
	"NAME KEY [--json|--i64|--hex|--raw]",
	"Exit code 5 when the key (or the store) does not exist.\n",
	get_opts,
};

int cmd_get(int argc, char **argv)
{
	struct stm_value *v = NULL;
	struct stm_store *s;
	const void *data;
	uint8_t *key;
	size_t klen, len;
	struct args a;
	int ret, rc = EX_OK;

	ret = parse_args("get", argc, argv, &a, 2, 2);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = parse_key("get", a.pos[1], has_opt(&a, "hex-key"), &key, &klen);
	if (ret)
		return ret;
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret) {
		free(key);
		return ret;
	}
	ret = stm_usevar_n(s, key, klen, &v);
	if (ret) {
		rc = fail(ret, "%s", a.pos[1]);
		goto out;
	}
	data = stm_value_data(v, &len);
	if (has_opt(&a, "json")) {
		json_entry(stdout, key, klen, data != NULL, stm_value_version(v), data, len);
		putchar('\n');
		if (!data)
			rc = EX_NOTFOUND;
		goto out;
	}
	if (!data) {
		fprintf(stderr, "stmctl: %s: no such key\n", a.pos[1]);
		rc = EX_NOTFOUND;
		goto out;
	}
	if (has_opt(&a, "version"))
		printf("%" PRIu64 "\t", stm_value_version(v));
	if (has_opt(&a, "i64")) {
		int64_t x;

		if (stm_value_i64(v, &x)) {
			fprintf(stderr, "stmctl: %s: value is %zu bytes, not an 8-byte integer\n",
				a.pos[1], len);
			rc = EX_ERR;
			goto out;
		}
		printf("%" PRId64 "\n", x);
	} else if (has_opt(&a, "raw")) {
		fwrite(data, 1, len, stdout);
	} else if (has_opt(&a, "hex")) {
		print_hex(stdout, data, len);
		putchar('\n');
	} else {
		print_text_or_hex(stdout, data, len);
		putchar('\n');
	}
out:
	stm_value_free(v);
	stm_close(s);
	free(key);
	return rc;
}
