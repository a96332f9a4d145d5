/* SPDX-License-Identifier: MIT */
/*
 * stmctl.h - what stmctl's verbs share: the verb table entry, option
 * parsing, exit codes, and printing of keys and values as text, hex or JSON.
 */
#ifndef STMCTL_H
#define STMCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "stmdev.h"

/* Exit codes, documented in `stmctl --help` and Documentation/stmctl.rst. */
enum {
	EX_OK = 0,		/* success */
	EX_ERR = 1,		/* any other error */
	EX_USAGE = 2,		/* bad command line */
	EX_CONFLICT = 3,	/* -STM_ECONFLICT: a version differed */
	EX_BUSY = 4,		/* -STM_EBUSY: busy (with --nonblock) */
	EX_NOTFOUND = 5,	/* no such store or key */
	EX_WOULDBLOCK = 6,	/* a container op would wait (no --wait), or timed out */
};

/* One option of a verb.  has_arg: 0 flag, 1 takes a value. */
struct opt {
	const char *lng;	/* without the leading "--" */
	char        shrt;	/* 0 for none */
	int         has_arg;
	const char *argname;
	const char *help;
};

#define MAX_OPTS 12
#define MAX_POS  64

/* A verb's command line, defined beside the verb. */
struct usage {
	const char *synopsis;		/* after "stmctl VERB" */
	const char *details;		/* more lines, or NULL */
	const struct opt *opts;		/* ends with lng == NULL */
};

struct args {
	const struct opt *opts;
	const char *val[MAX_OPTS];	/* an option's value, or "" for a flag */
	int         npos;
	char       *pos[MAX_POS];
};

/* The verb table: {name, fn, help} and the verb's usage. */
struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;		/* one line */
	const struct usage *usage;
};

extern const struct verb verbs[];
extern int global_nonblock;	/* stmctl --nonblock */

/* the verbs, one file each */
int cmd_ls(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_load(int argc, char **argv);
extern const struct usage ls_usage, create_usage, rm_usage, info_usage,
	get_usage, set_usage, del_usage, add_usage, keys_usage, dump_usage,
	stats_usage, watch_usage, save_usage, load_usage;

/* containers.c: the library's containers (Documentation/containers.rst) */
int cmd_queue(int argc, char **argv);
int cmd_mvar(int argc, char **argv);
int cmd_sem(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_keyset(int argc, char **argv);
int cmd_array(int argc, char **argv);
extern const struct usage queue_usage, mvar_usage, sem_usage, map_usage,
	keyset_usage, array_usage;

/* A store's keys, sorted by bytes: collect_keys(), free_keys(). */
struct key_row {
	uint8_t *key;
	size_t klen;
	uint64_t version;
	size_t vlen;
};

struct key_rows {
	struct key_row *v;
	size_t n, cap;
};

/* util.c */
const struct verb *find_verb(const char *name);
void verb_help(FILE *f, const struct verb *v);
/* Parse argv[1..] of verb @name: options into a->val (by index in the
 * verb's table), the rest into a->pos.  Returns 0, EX_USAGE after a
 * message, or -1 when --help was printed (exit 0). */
int parse_args(const char *name, int argc, char **argv, struct args *a,
	       int min_pos, int max_pos);
bool has_opt(const struct args *a, const char *lng);
const char *opt_val(const struct args *a, const char *lng);	/* NULL if absent */

int exit_code(int err);
int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int open_store(const char *name, int flags, struct stm_store **s);

int parse_u64(const char *s, uint64_t *out);
int parse_i64(const char *s, int64_t *out);
/* A key or value argument: text, or hex digits when @hex (an optional 0x). */
int parse_bytes(const char *arg, bool hex, uint8_t **out, size_t *len);
/* parse_bytes() for a key, 1..STM_KEY_MAX bytes; EX_USAGE after a message. */
int parse_key(const char *verb, const char *arg, bool hex, uint8_t **key, size_t *klen);

void print_text_or_hex(FILE *f, const void *p, size_t len);
void print_hex(FILE *f, const void *p, size_t len);
void json_strout(FILE *f, const void *p, size_t len);
void print_name(FILE *f, const char *name, size_t max);
void json_name(FILE *f, const char *name, size_t max);
/* "NAME":"...","NAME_encoding":"text"|"hex" */
void json_bytes(FILE *f, const char *name, const void *p, size_t len);
/* One key/value object: key, version, present, len, value, i64. */
void json_entry(FILE *f, const void *key, size_t klen, bool present,
		uint64_t version, const void *val, size_t vlen);
int64_t le64(const void *p);
int collect_keys(struct stm_store *s, struct key_rows *r);	/* count or -errno */
void free_keys(struct key_rows *r);

/* metrics.c: counters of stores, for top and stats --prometheus */
#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

struct fam_sample {
	char name[STM_FAMILY_NAME_MAX + 1];
	uint64_t attempts, commits, conflicts, busy, waits, retries;
};

struct store_sample {
	char name[STM_NAME_MAX + 1];
	struct stm_stats st;
	struct fam_sample *fam;
	size_t nfam, fcap;
};

struct samples {
	struct timespec when;		/* CLOCK_MONOTONIC */
	struct store_sample *v;		/* sorted by name */
	size_t n, cap;
};

int samples_take(const char *only, struct samples *sm);
void samples_free(struct samples *sm);
void samples_prometheus(FILE *f, const struct samples *sm);
int stats_prometheus(const char *only);

/* top.c */
int cmd_top(int argc, char **argv);
extern const struct usage top_usage;

#endif /* STMCTL_H */
