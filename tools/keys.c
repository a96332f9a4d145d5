// SPDX-License-Identifier: MIT
/* stmctl keys: list a store's keys, sorted. */
#include <inttypes.h>

#include "stmctl.h"

static const struct opt keys_opts[] = {
	{ "long", 'l', 0, NULL, "also print each key's version and value length" },
	{ "json", 'j', 0, NULL, "print a JSON array" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage keys_usage = {
	"NAME [--long] [--json]",
	"One key per line, as text when printable, else 0x-prefixed hex.  With\n"
	"--long: VERSION LENGTH KEY.\n",
	keys_opts,
};

int cmd_keys(int argc, char **argv)
{
	struct key_rows r = { 0 };
	struct stm_store *s;
	struct args a;
	int ret, rc = EX_OK;

	ret = parse_args("keys", argc, argv, &a, 1, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	ret = collect_keys(s, &r);
	stm_close(s);
	if (ret < 0) {
		rc = fail(ret, "%s", a.pos[0]);
		goto out;
	}
	if (has_opt(&a, "json")) {
		putchar('[');
		for (size_t i = 0; i < r.n; i++) {
			printf("%s{", i ? "," : "");
			json_bytes(stdout, "key", r.v[i].key, r.v[i].klen);
			printf(",\"version\":%" PRIu64 ",\"len\":%zu}", r.v[i].version,
			       r.v[i].vlen);
		}
		printf("]\n");
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		if (has_opt(&a, "long"))
			printf("%" PRIu64 " %zu ", r.v[i].version, r.v[i].vlen);
		print_text_or_hex(stdout, r.v[i].key, r.v[i].klen);
		putchar('\n');
	}
out:
	free_keys(&r);
	return rc;
}
