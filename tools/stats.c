// SPDX-License-Identifier: MIT
/* stmctl stats: a store's counters. */
#include <inttypes.h>
#include <string.h>

#include "stmctl.h"

static const struct opt stats_opts[] = {
	{ "json",     'j', 0, NULL, "print a JSON object" },
	{ "families", 'f', 0, NULL, "the counters of each transaction family" },
	{ "prometheus", 'p', 0, NULL,
	  "every store's (or NAME's) counters, Prometheus text format" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage stats_usage = {
	"NAME [--families] [--json] | [NAME] --prometheus",
	"commits: successful commits; conflicts: commits (and pinned reads) that\n"
	"found a version changed; busy: non-blocking commits that found a key\n"
	"locked; reads: snapshot read calls; keys, bytes: the store's size now;\n"
	"waits: waits that slept (blocking retries); wakeups: waiters woken.\n"
	"\n"
	"--families: one line per transaction family (stm_atomic's opts.family,\n"
	"from any process): attempts (commits sent), commits, conflicts, busy,\n"
	"retries (commits of a rerun, after a conflict or a wait), waits\n"
	"(blocking retries).  A read-only transaction sends no commit.\n"
	"\n"
	"--prometheus: the counters of NAME, or of every store you may read, and\n"
	"of their families, in the Prometheus text exposition format (metrics\n"
	"stm_*_total, stm_keys, stm_bytes, stm_family_*_total, labelled by store\n"
	"and family), e.g. for node_exporter's textfile collector:\n"
	"  stmctl stats --prometheus > DIR/stm.prom.$$ && mv DIR/stm.prom.$$ DIR/stm.prom\n",
	stats_opts,
};

struct fam_print {
	bool json;
	int n;
};

static int print_family(const struct stm_family_stats *f, void *arg)
{
	struct fam_print *p = arg;

	if (p->json) {
		printf("%s{", p->n ? "," : "");
		json_bytes(stdout, "name", f->name, strlen(f->name));
		printf(",\"id\":%" PRIu32 ",\"attempts\":%" PRIu64 ",\"commits\":%" PRIu64
		       ",\"conflicts\":%" PRIu64 ",\"busy\":%" PRIu64 ",\"retries\":%" PRIu64
		       ",\"waits\":%" PRIu64 "}",
		       f->id, f->attempts, f->commits, f->conflicts, f->busy, f->retries,
		       f->waits);
	} else {
		if (!p->n)
			printf("%-31s %12s %12s %12s %12s %12s %12s\n", "family", "attempts",
			       "commits", "conflicts", "busy", "retries", "waits");
		printf("%-31s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64
		       " %12" PRIu64 " %12" PRIu64 "\n", f->name, f->attempts, f->commits,
		       f->conflicts, f->busy, f->retries, f->waits);
	}
	p->n++;
	return 0;
}

static int stats_families(struct stm_store *s, const char *name, bool json)
{
	struct fam_print p = { .json = json };
	int ret;

	if (json)
		printf("{\"families\":[");
	ret = stm_families(s, print_family, &p);
	if (ret < 0) {
		if (json)
			printf("]}\n");
		return fail(ret, "%s", name);
	}
	if (json)
		printf("]}\n");
	else if (!p.n)
		printf("no transaction families\n");
	return EX_OK;
}

int cmd_stats(int argc, char **argv)
{
	struct stm_store *s;
	struct stm_stats st;
	struct args a;
	int ret;

	ret = parse_args("stats", argc, argv, &a, 0, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	if (has_opt(&a, "prometheus")) {
		if (has_opt(&a, "json") || has_opt(&a, "families"))
			return usage_error("stats", "--prometheus takes no --json or --families");
		return stats_prometheus(a.npos ? a.pos[0] : NULL);
	}
	if (!a.npos)
		return usage_error("stats", "a store NAME is needed");
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	if (has_opt(&a, "families")) {
		ret = stats_families(s, a.pos[0], has_opt(&a, "json"));
		stm_close(s);
		return ret;
	}
	ret = stm_stats(s, &st);
	stm_close(s);
	if (ret)
		return fail(ret, "%s", a.pos[0]);
	if (has_opt(&a, "json")) {
		printf("{\"commits\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"busy\":%" PRIu64
		       ",\"reads\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"waits\":%" PRIu64 ",\"wakeups\":%" PRIu64 "}\n",
		       st.commits, st.conflicts, st.busy, st.reads, st.keys, st.bytes,
		       st.waits, st.wakeups);
	} else {
		printf("commits:   %" PRIu64 "\n", st.commits);
		printf("conflicts: %" PRIu64 "\n", st.conflicts);
		printf("busy:      %" PRIu64 "\n", st.busy);
		printf("reads:     %" PRIu64 "\n", st.reads);
		printf("keys:      %" PRIu64 "\n", st.keys);
		printf("bytes:     %" PRIu64 "\n", st.bytes);
		printf("waits:     %" PRIu64 "\n", st.waits);
		printf("wakeups:   %" PRIu64 "\n", st.wakeups);
	}
	return EX_OK;
}
