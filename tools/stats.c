// SPDX-License-Identifier: MIT
/* stmctl stats: a store's counters. */
#include <inttypes.h>

#include "stmctl.h"

static const struct opt stats_opts[] = {
	{ "json", 'j', 0, NULL, "print a JSON object" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage stats_usage = {
	"NAME [--json]",
	"commits: successful commits; conflicts: commits (and pinned reads) that\n"
	"found a version changed; busy: non-blocking commits that found a key\n"
	"locked; reads: snapshot read calls; keys, bytes: the store's size now.\n",
	stats_opts,
};

int cmd_stats(int argc, char **argv)
{
	struct stm_store *s;
	struct stm_stats st;
	struct args a;
	int ret;

	ret = parse_args("stats", argc, argv, &a, 1, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	ret = stm_stats(s, &st);
	stm_close(s);
	if (ret)
		return fail(ret, "%s", a.pos[0]);
	if (has_opt(&a, "json")) {
		printf("{\"commits\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"busy\":%" PRIu64
		       ",\"reads\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n",
		       st.commits, st.conflicts, st.busy, st.reads, st.keys, st.bytes);
	} else {
		printf("commits:   %" PRIu64 "\n", st.commits);
		printf("conflicts: %" PRIu64 "\n", st.conflicts);
		printf("busy:      %" PRIu64 "\n", st.busy);
		printf("reads:     %" PRIu64 "\n", st.reads);
		printf("keys:      %" PRIu64 "\n", st.keys);
		printf("bytes:     %" PRIu64 "\n", st.bytes);
	}
	return EX_OK;
}
