// SPDX-License-Identifier: MIT
/*
 * stmctl top: a refreshing view of stores and their families (rates over
 * each interval), and of the keys that conflicted most, which it reads
 * from stm.ko's stm_conflict tracepoint in a tracefs instance of its own
 * when it can (root, tracefs mounted).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stmctl.h"

static const struct opt top_opts[] = {
	{ "once",       '1', 0, NULL, "one interval, one report, then exit" },
	{ "json",       'j', 0, NULL, "each report as one line of JSON" },
	{ "delay",      'd', 1, "SECONDS", "the interval (default 1, 0.1 to 3600)" },
	{ "iterations", 'n', 1, "N", "exit after N reports" },
	{ "no-trace",   0,   0, NULL, "do not collect conflicting keys from tracefs" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage top_usage = {
	"[NAME] [--once] [--json] [-d SECONDS] [-n N]",
	"Every store you may read (or NAME), each interval: commits, conflicts,\n"
	"busy commits and waits per second, keys and bytes; under each store its\n"
	"transaction families.  The keys that conflicted most in the interval come\n"
	"from the stm_conflict tracepoint (Documentation/tracing.rst), read from a\n"
	"tracefs instance of stmctl's own: as root with tracefs mounted, else not\n"
	"shown.  On a terminal the screen is redrawn; otherwise each report is a\n"
	"block of lines.  Ctrl-C (SIGINT) or SIGTERM ends it; with --once, it ends\n"
	"the interval early and the report covers the time until then.\n",
	top_opts,
};

#define HOT_MAX		4096	/* distinct keys counted per interval */
#define HOT_SHOWN	10
#define KEY_TRACE_MAX	64	/* a key as the trace shows it: escaped, cut */

struct hot {
	char store[STM_NAME_MAX + 1];
	char key[KEY_TRACE_MAX];
	uint64_t n;
};

struct tracer {
	char dir[256];		/* our tracefs instance, "" when none */
	int fd;			/* its trace_pipe, non-blocking */
	char part[1024];	/* a line read in part */
	size_t plen;
	struct hot *hot;
	size_t nhot;
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static int write_file(const char *dir, const char *file, const char *s)
{
	char path[320];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* A tracefs instance with stm_conflict on; false (and no trace) if not. */
static bool trace_start(struct tracer *t)
{
	static const char *const bases[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[320];

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	for (size_t i = 0; i < ARRAY_LEN(bases); i++) {
		snprintf(t->dir, sizeof(t->dir), "%s/instances/stmctl-top-%d",
			 bases[i], (int)getpid());
		if (!mkdir(t->dir, 0700))
			break;
		t->dir[0] = 0;
	}
	if (!t->dir[0])
		return false;
	snprintf(path, sizeof(path), "%s/trace_pipe", t->dir);
	t->hot = calloc(HOT_MAX, sizeof(*t->hot));
	if (!t->hot || write_file(t->dir, "events/stm/stm_conflict/enable", "1"))
		goto out_rmdir;
	t->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (t->fd >= 0)
		return true;
out_rmdir:
	free(t->hot);
	t->hot = NULL;
	rmdir(t->dir);
	t->dir[0] = 0;
	return false;
}

static void trace_stop(struct tracer *t)
{
	if (!t->dir[0])
		return;
	close(t->fd);
	write_file(t->dir, "events/stm/stm_conflict/enable", "0");
	rmdir(t->dir);
	free(t->hot);
	t->dir[0] = 0;
}

/* Count one trace line, if it is a stm_conflict event. */
static void trace_line(struct tracer *t, const char *line)
{
	const char *p = strstr(line, ": stm_conflict: store="), *k;
	char store[STM_NAME_MAX + 1], key[KEY_TRACE_MAX];
	size_t sl, kl = 0;
	size_t i;

	if (!p)
		return;
	p += strlen(": stm_conflict: store=");
	sl = strcspn(p, " ");
	k = strstr(p + sl, " key=\"");
	if (sl > STM_NAME_MAX || !k)
		return;
	memcpy(store, p, sl);
	store[sl] = 0;
	/* The key as printed: up to the first quote not escaped. */
	for (k += strlen(" key=\""); *k && *k != '"' && kl < sizeof(key) - 2; k++) {
		if (*k == '\\' && k[1])
			key[kl++] = *k++;
		key[kl++] = *k;
	}
	key[kl] = 0;
	for (i = 0; i < t->nhot; i++) {
		if (!strcmp(t->hot[i].store, store) && !strcmp(t->hot[i].key, key)) {
			t->hot[i].n++;
			return;
		}
	}
	if (t->nhot == HOT_MAX)
		return;		/* a flood of distinct keys: the rest uncounted */
	memcpy(t->hot[t->nhot].store, store, sl + 1);
	memcpy(t->hot[t->nhot].key, key, kl + 1);
	t->hot[t->nhot++].n = 1;
}

/* Count what the trace holds now (its pipe consumes it). */
static void trace_drain(struct tracer *t)
{
	char buf[8192];
	ssize_t n;

	if (!t->dir[0])
		return;
	while ((n = read(t->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (t->plen < sizeof(t->part) - 1)
					t->part[t->plen++] = buf[i];
				continue;
			}
			t->part[t->plen] = 0;
			trace_line(t, t->part);
			t->plen = 0;
		}
	}
}

static int hot_cmp(const void *a, const void *b)
{
	const struct hot *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static const struct store_sample *find_store(const struct samples *sm,
					     const char *name)
{
	for (size_t i = 0; i < sm->n; i++)
		if (!strcmp(sm->v[i].name, name))
			return &sm->v[i];
	return NULL;
}

static const struct fam_sample *find_fam(const struct store_sample *st,
					 const char *name)
{
	for (size_t i = 0; st && i < st->nfam; i++)
		if (!strcmp(st->fam[i].name, name))
			return &st->fam[i];
	return NULL;
}

/* A counter's growth since @old (0 for a store or family new since). */
#define DELTA(cur, old, field)	((old) ? (cur)->field - (old)->field : 0)

struct view {
	bool json, tty;
	bool tracing;
	double dt;
};

static void json_rate(const char *name, uint64_t total, uint64_t delta, double dt)
{
	printf(",\"%s\":%" PRIu64 ",\"%s_delta\":%" PRIu64 ",\"%s_per_s\":%.3f",
	       name, total, name, delta, name, dt > 0 ? delta / dt : 0.0);
}

static void report_json(const struct view *v, const struct samples *a,
			const struct samples *b, struct tracer *t)
{
	printf("{\"interval_s\":%.3f,\"stores\":[", v->dt);
	for (size_t i = 0; i < b->n; i++) {
		const struct store_sample *cur = &b->v[i];
		const struct store_sample *old = find_store(a, cur->name);

		printf("%s{\"name\":", i ? "," : "");
		json_name(stdout, cur->name, sizeof(cur->name));
		json_rate("commits", cur->st.commits, DELTA(cur, old, st.commits), v->dt);
		json_rate("conflicts", cur->st.conflicts,
			  DELTA(cur, old, st.conflicts), v->dt);
		json_rate("busy", cur->st.busy, DELTA(cur, old, st.busy), v->dt);
		json_rate("waits", cur->st.waits, DELTA(cur, old, st.waits), v->dt);
		printf(",\"keys\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"families\":[",
		       cur->st.keys, cur->st.bytes);
		for (size_t j = 0; j < cur->nfam; j++) {
			const struct fam_sample *f = &cur->fam[j];
			const struct fam_sample *of = find_fam(old, f->name);

			printf("%s{", j ? "," : "");
			json_bytes(stdout, "name", f->name, strlen(f->name));
			json_rate("commits", f->commits, DELTA(f, of, commits), v->dt);
			json_rate("conflicts", f->conflicts, DELTA(f, of, conflicts), v->dt);
			json_rate("busy", f->busy, DELTA(f, of, busy), v->dt);
			json_rate("waits", f->waits, DELTA(f, of, waits), v->dt);
			printf("}");
		}
		printf("]}");
	}
	printf("],\"hot_keys\":");
	if (!v->tracing) {
		printf("null}\n");
		return;
	}
	printf("[");
	for (size_t i = 0; i < t->nhot && i < HOT_SHOWN; i++) {
		printf("%s{\"store\":", i ? "," : "");
		json_name(stdout, t->hot[i].store, sizeof(t->hot[i].store));
		printf(",\"key\":");
		json_strout(stdout, t->hot[i].key, strlen(t->hot[i].key));
		printf(",\"conflicts\":%" PRIu64 "}", t->hot[i].n);
	}
	printf("]}\n");
}

static void rate_cols(uint64_t dc, uint64_t dk, uint64_t db, uint64_t dw, double dt)
{
	if (dt <= 0)
		dt = 1;
	printf(" %10.1f %10.1f %8.1f %8.1f", dc / dt, dk / dt, db / dt, dw / dt);
}

static void report_text(const struct view *v, const struct samples *a,
			const struct samples *b, struct tracer *t)
{
	if (v->tty)
		printf("\033[H\033[2J");
	printf("stmctl top: %zu store%s, %.2f s interval\n", b->n,
	       b->n == 1 ? "" : "s", v->dt);
	printf("%-28s %10s %10s %8s %8s %10s %12s\n", "STORE / family", "COMMITS/s",
	       "CONFLCT/s", "BUSY/s", "WAITS/s", "KEYS", "BYTES");
	for (size_t i = 0; i < b->n; i++) {
		const struct store_sample *cur = &b->v[i];
		const struct store_sample *old = find_store(a, cur->name);

		print_name(stdout, cur->name, sizeof(cur->name));
		printf("%*s", (int)(28 - strnlen(cur->name, 28)), "");
		rate_cols(DELTA(cur, old, st.commits), DELTA(cur, old, st.conflicts),
			  DELTA(cur, old, st.busy), DELTA(cur, old, st.waits), v->dt);
		printf(" %10" PRIu64 " %12" PRIu64 "\n", cur->st.keys, cur->st.bytes);
		for (size_t j = 0; j < cur->nfam; j++) {
			const struct fam_sample *f = &cur->fam[j];
			const struct fam_sample *of = find_fam(old, f->name);

			printf("  %-26.26s", f->name);
			rate_cols(DELTA(f, of, commits), DELTA(f, of, conflicts),
				  DELTA(f, of, busy), DELTA(f, of, waits), v->dt);
			printf("\n");
		}
	}
	if (!v->tracing) {
		printf("hot keys: not traced (needs root and tracefs)\n");
	} else if (!t->nhot) {
		printf("hot keys: no conflicts in the interval\n");
	} else {
		printf("hot keys (conflicts in the interval):\n");
		for (size_t i = 0; i < t->nhot && i < HOT_SHOWN; i++) {
			printf("  %8" PRIu64 "  ", t->hot[i].n);
			print_name(stdout, t->hot[i].store, sizeof(t->hot[i].store));
			printf(" \"%s\"\n", t->hot[i].key);
		}
	}
	if (!v->tty)
		printf("\n");
}

/* Sleep until @until or a signal. */
static void pause_until(const struct timespec *until)
{
	while (!top_stop &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, until, NULL) == EINTR)
		;
}

static int parse_delay(const char *s, struct timespec *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || !(d >= 0.1 && d <= 3600))
		return -EINVAL;
	out->tv_sec = (time_t)d;
	out->tv_nsec = (long)((d - (double)out->tv_sec) * 1e9);
	return 0;
}

/* Report every @iv from the first sample @a on (consumed). */
static int top_loop(const char *only, const struct view *cfg, struct samples *first,
		    struct timespec iv, uint64_t iters, bool once, struct tracer *t)
{
	struct samples a = *first, b;
	struct view v = *cfg;
	struct timespec until;
	int ret = 0;

	for (uint64_t n = 0; !ret; n++) {
		until = a.when;
		until.tv_sec += iv.tv_sec;
		until.tv_nsec += iv.tv_nsec;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pause_until(&until);
		if (top_stop && !once)
			break;
		ret = samples_take(only, &b);
		if (ret)
			break;
		trace_drain(t);
		if (v.tracing)
			qsort(t->hot, t->nhot, sizeof(*t->hot), hot_cmp);
		v.dt = secs(&a.when, &b.when);
		if (v.json)
			report_json(&v, &a, &b, t);
		else
			report_text(&v, &a, &b, t);
		fflush(stdout);
		if (v.tracing)
			t->nhot = 0;
		samples_free(&a);
		a = b;
		if (once || top_stop || (iters && n + 1 >= iters))
			break;
	}
	samples_free(&a);
	return ret;
}

int cmd_top(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec iv = { .tv_sec = 1 };
	struct view v = { 0 };
	struct tracer t = { .fd = -1 };
	struct samples first;
	const char *only, *val;
	uint64_t iters = 0;
	struct args a;
	int ret;

	ret = parse_args("top", argc, argv, &a, 0, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	only = a.npos ? a.pos[0] : NULL;
	val = opt_val(&a, "delay");
	if (val && parse_delay(val, &iv))
		return usage_error("top", "bad interval '%s' (0.1 to 3600 seconds)", val);
	val = opt_val(&a, "iterations");
	if (val && (parse_u64(val, &iters) || !iters))
		return usage_error("top", "bad iteration count '%s'", val);
	v.json = has_opt(&a, "json");
	v.tty = !v.json && isatty(STDOUT_FILENO);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: end the sleep */
	sigaction(SIGTERM, &sa, NULL);
	/*
	 * The trace first (making a tracefs instance can take a while), then
	 * the first sample: the hot keys of the first report count from just
	 * before its counters do.
	 */
	if (!has_opt(&a, "no-trace"))
		v.tracing = trace_start(&t);
	ret = samples_take(only, &first);
	if (!ret)
		ret = top_loop(only, &v, &first, iv, iters, has_opt(&a, "once"), &t);
	trace_stop(&t);
	if (ret == -ENOENT && only) {
		fprintf(stderr, "stmctl: %s: no such store\n", only);
		return EX_NOTFOUND;
	}
	return ret ? fail(ret, "%s", only ? only : "listing stores") : EX_OK;
}
