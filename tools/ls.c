// SPDX-License-Identifier: MIT
/* stmctl ls: list the stores the caller may read. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

static const struct opt ls_opts[] = {
	{ "json", 'j', 0, NULL, "print a JSON array" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage ls_usage = {
	"", "Columns: name, owner uid and gid, mode, keys, bytes (keys + values).\n",
	ls_opts,
};

struct store_row {
	char name[STM_NAME_MAX + 1];
	uint32_t uid, gid, mode;
	uint64_t keys, bytes;
};

struct rows {
	struct store_row *v;
	size_t n, cap;
};

static int add_row(const struct stm_store_ent *e, void *arg)
{
	struct rows *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		void *nv = realloc(r->v, cap * sizeof(*r->v));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	snprintf(r->v[r->n].name, sizeof(r->v[r->n].name), "%s", e->name);
	r->v[r->n].uid = e->uid;
	r->v[r->n].gid = e->gid;
	r->v[r->n].mode = e->mode;
	r->v[r->n].keys = e->keys;
	r->v[r->n].bytes = e->bytes;
	r->n++;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_row *)a)->name, ((const struct store_row *)b)->name);
}

int cmd_ls(int argc, char **argv)
{
	struct rows r = { 0 };
	struct args a;
	int ret;

	ret = parse_args("ls", argc, argv, &a, 0, 0);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = stm_stores(add_row, &r);
	if (ret < 0) {
		free(r.v);
		return fail(ret, "listing stores");
	}
	qsort(r.v, r.n, sizeof(*r.v), row_cmp);
	if (has_opt(&a, "json")) {
		printf("[");
		for (size_t i = 0; i < r.n; i++) {
			printf("%s{\"name\":", i ? "," : "");
			json_name(stdout, r.v[i].name, sizeof(r.v[i].name));
			printf(",\"uid\":%u,\"gid\":%u,\"mode\":\"%04o\",\"keys\":%" PRIu64
			       ",\"bytes\":%" PRIu64 "}", r.v[i].uid, r.v[i].gid, r.v[i].mode,
			       r.v[i].keys, r.v[i].bytes);
		}
		printf("]\n");
	} else {
		if (r.n)
			printf("%-24s %6s %6s %5s %10s %12s\n", "NAME", "UID", "GID", "MODE",
			       "KEYS", "BYTES");
		for (size_t i = 0; i < r.n; i++) {
			print_name(stdout, r.v[i].name, sizeof(r.v[i].name));
			printf("%*s %6u %6u %05o %10" PRIu64 " %12" PRIu64 "\n",
			       (int)(24 - strnlen(r.v[i].name, 24)), "",
			       r.v[i].uid, r.v[i].gid, r.v[i].mode, r.v[i].keys, r.v[i].bytes);
		}
	}
	free(r.v);
	return EX_OK;
}
