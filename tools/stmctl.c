// SPDX-License-Identifier: MIT
/*
 * stmctl - inspect and change stm stores from the shell.
 *
 *   stmctl [--nonblock] VERB [ARGS...]
 *
 * One file per verb (ls.c, get.c, ...); this file holds the verb table and
 * the global options.
 */
#include <string.h>

#include "stmctl.h"

#define STMCTL_VERSION "1.0"

int global_nonblock;

const struct verb verbs[] = {
	{ "ls",     cmd_ls,     "list the stores you may read",               &ls_usage },
	{ "create", cmd_create, "create a store",                             &create_usage },
	{ "rm",     cmd_rm,     "remove stores (unlink their names)",         &rm_usage },
	{ "info",   cmd_info,   "show a store's owner, mode, size and clock", &info_usage },
	{ "get",    cmd_get,    "print a key's value",                        &get_usage },
	{ "set",    cmd_set,    "write a key's value",                        &set_usage },
	{ "del",    cmd_del,    "delete a key",                               &del_usage },
	{ "add",    cmd_add,    "add to an 8-byte integer key, atomically",   &add_usage },
	{ "keys",   cmd_keys,   "list a store's keys",                        &keys_usage },
	{ "dump",   cmd_dump,   "print every key, version and value",         &dump_usage },
	{ "stats",  cmd_stats,  "show a store's counters (and per family)",   &stats_usage },
	{ "watch",  cmd_watch,  "print each change of keys as it happens",    &watch_usage },
	{ "save",   cmd_save,   "save a store to a file, at one instant",     &save_usage },
	{ "load",   cmd_load,   "load a saved file into an empty store",      &load_usage },
	{ "top",    cmd_top,    "a live view of stores, rates and hot keys",  &top_usage },
	{ "queue",  cmd_queue,  "a FIFO queue: put, take (--wait), peek, size", &queue_usage },
	{ "mvar",   cmd_mvar,   "a one-place box: put, take, read (--wait)",  &mvar_usage },
	{ "sem",    cmd_sem,    "a counting semaphore: acquire, release, value", &sem_usage },
	{ "map",    cmd_map,    "a map over a key prefix: get, put, del, ls",  &map_usage },
	{ "keyset", cmd_keyset, "a set over a key prefix: add, rm, has, ls",   &keyset_usage },
	{ "array",  cmd_array,  "a fixed-size array: init, get, set, size",    &array_usage },
	{ NULL, NULL, NULL, NULL },
};

static void help(FILE *f)
{
	fprintf(f,
		"usage: stmctl [--nonblock] VERB [ARGS...]\n"
		"       stmctl VERB --help | stmctl help [VERB] | stmctl --version\n"
		"\n"
		"Inspect and change stm stores (/dev/stm).\n"
		"\n"
		"verbs:\n");
	for (const struct verb *v = verbs; v->name; v++)
		fprintf(f, "  %-6s %-40s %s\n", v->name, v->usage->synopsis, v->help);
	fprintf(f,
		"\n"
		"global options:\n"
		"  -n, --nonblock  commits fail with exit code 4 when a key is busy,\n"
		"                  instead of waiting\n"
		"  -h, --help      show this help\n"
		"\n"
		"Keys and values are text unless --hex-key / --hex say hex.  Values are\n"
		"printed as text when printable (UTF-8), else as 0x-prefixed hex; --json\n"
		"output marks each with \"..._encoding\": \"text\" or \"hex\".\n"
		"\n"
		"exit codes:\n"
		"  0  success\n"
		"  1  error (permission, no /dev/stm, store full, ...)\n"
		"  2  usage: bad command line\n"
		"  3  conflict: the version differed (set/del --if-version)\n"
		"  4  busy: a key was locked by another commit (with --nonblock)\n"
		"  5  not found: no such store or key\n"
		"  6  would wait: a container was empty, full or short of units\n"
		"     (queue, mvar, sem without --wait), or --timeout passed\n");
}

int main(int argc, char **argv)
{
	const struct verb *v;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--nonblock")) {
			global_nonblock = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			help(stdout);
			return EX_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("stmctl %s\n", STMCTL_VERSION);
			return EX_OK;
		} else {
			return usage_error(NULL, "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		help(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			help(stdout);
			return EX_OK;
		}
		v = find_verb(argv[i + 1]);
		if (!v)
			return usage_error(NULL, "unknown verb '%s'", argv[i + 1]);
		verb_help(stdout, v);
		return EX_OK;
	}
	v = find_verb(argv[i]);
	if (!v)
		return usage_error(NULL, "unknown verb '%s'", argv[i]);
	return v->fn(argc - i, argv + i);
}
