// SPDX-License-Identifier: MIT
/*
 * What stmctl top and stmctl stats --prometheus share: a sample of every
 * readable store's counters and families, and the Prometheus text
 * exposition of one sample.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? 2 * *cap : 8;
	nv = realloc(v, ncap * size);
	if (nv)
		*cap = ncap;
	return nv;
}

struct name_list {
	char (*v)[STM_NAME_MAX + 1];
	size_t n, cap;
};

static int add_name(const struct stm_store_ent *e, void *arg)
{
	struct name_list *l = arg;
	void *nv = grow(l->v, &l->cap, l->n, sizeof(*l->v));

	if (!nv)
		return -ENOMEM;
	l->v = nv;
	snprintf(l->v[l->n++], sizeof(*l->v), "%s", e->name);
	return 0;
}

static int add_family(const struct stm_family_stats *f, void *arg)
{
	struct store_sample *st = arg;
	struct fam_sample *fs;
	void *nv = grow(st->fam, &st->fcap, st->nfam, sizeof(*st->fam));

	if (!nv)
		return -ENOMEM;
	st->fam = nv;
	fs = &st->fam[st->nfam++];
	memset(fs, 0, sizeof(*fs));
	snprintf(fs->name, sizeof(fs->name), "%s", f->name);
	fs->attempts = f->attempts;
	fs->commits = f->commits;
	fs->conflicts = f->conflicts;
	fs->busy = f->busy;
	fs->waits = f->waits;
	fs->retries = f->retries;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* One store's counters and families; -errno when it cannot be read. */
static int sample_store(const char *name, struct store_sample *st)
{
	struct stm_store *s;
	int ret;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	ret = stm_open(name, STM_RDONLY, 0, &s);
	if (ret)
		return ret;
	ret = stm_stats(s, &st->st);
	if (!ret) {
		ret = stm_families(s, add_family, st);
		ret = ret < 0 ? ret : 0;
	}
	stm_close(s);
	return ret;
}

void samples_free(struct samples *sm)
{
	for (size_t i = 0; i < sm->n; i++)
		free(sm->v[i].fam);
	free(sm->v);
	memset(sm, 0, sizeof(*sm));
}

/*
 * Sample the store @only, or every store the caller may read (by name),
 * into @sm.  A store that vanishes or refuses us between the listing and
 * the sample is left out; @only must be readable.  Returns 0 or -errno.
 */
int samples_take(const char *only, struct samples *sm)
{
	struct name_list names = { 0 };
	int ret = 0;

	memset(sm, 0, sizeof(*sm));
	if (clock_gettime(CLOCK_MONOTONIC, &sm->when))
		return -errno;
	if (only) {
		ret = add_name(&(struct stm_store_ent){ .name = only }, &names);
	} else {
		ret = stm_stores(add_name, &names);
		ret = ret < 0 ? ret : 0;
	}
	if (ret)
		goto out;
	qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	for (size_t i = 0; i < names.n; i++) {
		void *nv = grow(sm->v, &sm->cap, sm->n, sizeof(*sm->v));

		if (!nv) {
			ret = -ENOMEM;
			goto out;
		}
		sm->v = nv;
		ret = sample_store(names.v[i], &sm->v[sm->n]);
		if (!ret) {
			sm->n++;
		} else {
			free(sm->v[sm->n].fam);
			if (only)
				goto out;
			ret = 0;	/* gone or not ours to read: skip it */
		}
	}
out:
	free(names.v);
	if (ret)
		samples_free(sm);
	return ret;
}

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

#define FIELD(type, field)	offsetof(type, field)

static const struct prom_metric {
	const char *name, *type, *help;
	size_t off;
} store_metrics[] = {
	{ "stm_commits_total", "counter", "Successful commits.",
	  FIELD(struct stm_stats, commits) },
	{ "stm_conflicts_total", "counter",
	  "Commits (and pinned reads) that found a version changed.",
	  FIELD(struct stm_stats, conflicts) },
	{ "stm_busy_total", "counter",
	  "Non-blocking commits that found a key locked.",
	  FIELD(struct stm_stats, busy) },
	{ "stm_reads_total", "counter", "Snapshot read calls.",
	  FIELD(struct stm_stats, reads) },
	{ "stm_waits_total", "counter", "Waits that slept (blocking retries).",
	  FIELD(struct stm_stats, waits) },
	{ "stm_wakeups_total", "counter", "Waiters woken by a commit or unlink.",
	  FIELD(struct stm_stats, wakeups) },
	{ "stm_keys", "gauge", "Keys present.",
	  FIELD(struct stm_stats, keys) },
	{ "stm_bytes", "gauge", "Key and value bytes present.",
	  FIELD(struct stm_stats, bytes) },
	{ "stm_charge_bytes", "gauge",
	  "Kernel memory the store is charged for (0: unknown).",
	  FIELD(struct stm_stats, charge) },
}, family_metrics[] = {
	{ "stm_family_attempts_total", "counter", "Commits a family sent.",
	  FIELD(struct fam_sample, attempts) },
	{ "stm_family_commits_total", "counter", "A family's successful commits.",
	  FIELD(struct fam_sample, commits) },
	{ "stm_family_conflicts_total", "counter", "A family's conflicts.",
	  FIELD(struct fam_sample, conflicts) },
	{ "stm_family_busy_total", "counter", "A family's busy commits.",
	  FIELD(struct fam_sample, busy) },
	{ "stm_family_waits_total", "counter", "A family's blocking retries.",
	  FIELD(struct fam_sample, waits) },
	{ "stm_family_retries_total", "counter",
	  "A family's commits of reruns (after a conflict or a wait).",
	  FIELD(struct fam_sample, retries) },
};

static uint64_t at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

/*
 * @sm in the Prometheus text exposition format (version 0.0.4): one group
 * per metric, each with its HELP and TYPE, samples labelled by store (and
 * family).  stm_stores is the number of stores sampled.
 */
void samples_prometheus(FILE *f, const struct samples *sm)
{
	const struct prom_metric *m;
	size_t i, j;

	fputs("# HELP stm_stores Stores sampled (those this user may read).\n"
	      "# TYPE stm_stores gauge\n", f);
	fprintf(f, "stm_stores %zu\n", sm->n);
	for (m = store_metrics; m < store_metrics + ARRAY_LEN(store_metrics); m++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
			m->name, m->type);
		for (i = 0; i < sm->n; i++) {
			fprintf(f, "%s{store=\"", m->name);
			prom_label(f, sm->v[i].name);
			fprintf(f, "\"} %" PRIu64 "\n", at(&sm->v[i].st, m->off));
		}
	}
	for (m = family_metrics; m < family_metrics + ARRAY_LEN(family_metrics); m++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
			m->name, m->type);
		for (i = 0; i < sm->n; i++) {
			for (j = 0; j < sm->v[i].nfam; j++) {
				fprintf(f, "%s{store=\"", m->name);
				prom_label(f, sm->v[i].name);
				fputs("\",family=\"", f);
				prom_label(f, sm->v[i].fam[j].name);
				fprintf(f, "\"} %" PRIu64 "\n",
					at(&sm->v[i].fam[j], m->off));
			}
		}
	}
}

/* stmctl stats --prometheus [NAME] */
int stats_prometheus(const char *only)
{
	struct samples sm;
	int ret;

	ret = samples_take(only, &sm);
	if (ret) {
		if (ret == -ENOENT && only) {
			fprintf(stderr, "stmctl: %s: no such store\n", only);
			return EX_NOTFOUND;
		}
		return fail(ret, "%s", only ? only : "listing stores");
	}
	samples_prometheus(stdout, &sm);
	samples_free(&sm);
	return fflush(stdout) ? fail(-errno, "writing") : EX_OK;
}
