// SPDX-License-Identifier: MIT
/* stmctl dump: every key, version and value. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

#define DUMP_BATCH 256

static const struct opt dump_opts[] = {
	{ "json", 'j', 0, NULL, "print a JSON object with every key and value, in full" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage dump_usage = {
	"NAME [--json]",
	"Text: one line per key, KEY vVERSION = VALUE, data quoted when printable,\n"
	"else 0x-prefixed hex (8-byte values also as i64), long data cut.\n"
	"JSON: {\"store\", \"clock\", \"keys\": [{\"key\", \"key_encoding\", \"present\",\n"
	"\"version\", \"len\", \"value\", \"value_encoding\", \"i64\" (8-byte values)}]}.\n"
	"Values are read in snapshots of up to max_keys_per_call keys.\n",
	dump_opts,
};

static int dump_json(struct stm_store *s)
{
	struct key_rows r;
	struct stm_limits lim;
	struct stm_info in;
	size_t batch = DUMP_BATCH;
	const void **keys = NULL;
	size_t *lens = NULL;
	int ret, first = 1;

	ret = collect_keys(s, &r);
	if (ret < 0)
		return ret;
	ret = stm_info(s, &in);
	if (ret)
		goto out;
	stm_limits(s, &lim);
	if (lim.max_keys_per_call && lim.max_keys_per_call < batch)
		batch = lim.max_keys_per_call;
	keys = calloc(batch, sizeof(*keys));
	lens = calloc(batch, sizeof(*lens));
	ret = -ENOMEM;
	if (!keys || !lens)
		goto out;
	printf("{\"store\":");
	json_strout(stdout, in.name, strlen(in.name));
	printf(",\"clock\":%" PRIu64 ",\"keys\":[", in.clock);
	ret = 0;
	for (size_t at = 0; at < r.n && !ret; at += batch) {
		size_t n = r.n - at < batch ? r.n - at : batch;
		struct stm_coll *c;

		for (size_t i = 0; i < n; i++) {
			keys[i] = r.v[at + i].key;
			lens[i] = r.v[at + i].klen;
		}
		ret = stm_using_n(s, keys, lens, n, &c);
		if (ret)
			break;
		for (size_t i = 0; i < stm_coll_count(c); i++) {
			struct stm_value *v = stm_coll_at(c, i);
			const void *k, *d;
			size_t kl, dl;

			k = stm_value_key(v, &kl);
			d = stm_value_data(v, &dl);
			if (!d)
				continue;	/* deleted since listed */
			if (!first)
				putchar(',');
			first = 0;
			json_entry(stdout, k, kl, true, stm_value_version(v), d, dl);
		}
		stm_coll_free(c);
	}
	printf("]}\n");
out:
	free(keys);
	free(lens);
	free_keys(&r);
	return ret;
}

int cmd_dump(int argc, char **argv)
{
	struct stm_store *s;
	struct args a;
	int ret;

	ret = parse_args("dump", argc, argv, &a, 1, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	if (has_opt(&a, "json"))
		ret = dump_json(s);
	else
		ret = stm_dump(s, stdout);
	stm_close(s);
	if (ret < 0)
		return fail(ret, "%s", a.pos[0]);
	return EX_OK;
}
