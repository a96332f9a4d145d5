// SPDX-License-Identifier: MIT
/* stmctl watch: print each change of some keys as it happens. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "stmctl.h"

static const struct opt watch_opts[] = {
	{ "initial", 'i', 0, NULL, "first print every key as it is now" },
	{ "count",   'c', 1, "N", "exit after N changes" },
	{ "json",    'j', 0, NULL, "print one JSON object per line" },
	{ "i64",     0,   0, NULL, "print 8-byte values as integers" },
	{ "hex-key", 'x', 0, NULL, "KEYs are given in hex" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage watch_usage = {
	"NAME KEY... [--count N] [--json]",
	"Prints a line \"KEY VERSION VALUE\" each time one of the KEYs changes,\n"
	"until interrupted (Ctrl-C, SIGTERM: exit 0).  A deleted or absent key\n"
	"prints version 0 and the value (absent).  Changes that follow each other\n"
	"faster than they are printed may show as one: the last value is always\n"
	"printed.  Sleeps in poll() on the store between changes (no polling).\n"
	"Exit code 5 when the store is removed while watched.\n",
	watch_opts,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_change(const uint8_t *key, size_t klen, const struct stm_value *v,
			 bool json, bool i64)
{
	size_t len;
	const void *d = stm_value_data(v, &len);
	uint64_t ver = stm_value_version(v);

	if (json) {
		json_entry(stdout, key, klen, d != NULL, ver, d, len);
		putchar('\n');
		return;
	}
	print_text_or_hex(stdout, key, klen);
	printf(" %" PRIu64 " ", ver);
	if (!d)
		fputs("(absent)", stdout);
	else if (i64 && len == 8)
		printf("%" PRId64, le64(d));
	else
		print_text_or_hex(stdout, d, len);
	putchar('\n');
}

int cmd_watch(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigset_t block, orig;
	const void *keys[MAX_POS];
	size_t lens[MAX_POS];
	uint64_t seen[MAX_POS];
	uint64_t count = 0, changes = 0;
	struct stm_store *s = NULL;
	bool json, i64, first = true;
	struct args a;
	int ret, rc = EX_OK, n, fd;

	ret = parse_args("watch", argc, argv, &a, 2, MAX_POS);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	if (has_opt(&a, "count") && (parse_u64(opt_val(&a, "count"), &count) || !count))
		return usage_error("watch", "bad count '%s'", opt_val(&a, "count"));
	json = has_opt(&a, "json");
	i64 = has_opt(&a, "i64");
	n = a.npos - 1;
	for (int i = 0; i < n; i++) {
		uint8_t *k;

		ret = parse_key("watch", a.pos[i + 1], has_opt(&a, "hex-key"), &k, &lens[i]);
		if (ret) {
			while (i--)
				free((void *)keys[i]);
			return ret;
		}
		keys[i] = k;
	}
	rc = open_store(a.pos[0], STM_RDONLY, &s);
	if (rc)
		goto out_keys;

	/* Signals are taken only inside ppoll(): none is lost in between. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fd = stm_store_fd(s);
	if (fd < 0) {
		rc = fail(fd, "%s", a.pos[0]);
		goto out_close;
	}

	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct stm_coll *c;

		/* Arm at the versions now, then read: a change after the read
		 * is one after arming, so poll() reports it. */
		ret = stm_watch_n(s, keys, lens, n);
		if (!ret)
			ret = stm_using_n(s, keys, lens, n, &c);
		if (ret) {
			rc = fail(ret, "%s", a.pos[0]);
			goto out_close;
		}
		for (int i = 0; i < n; i++) {
			struct stm_value *v = stm_coll_get_n(c, keys[i], lens[i]);
			uint64_t ver = stm_value_version(v);

			if (first ? has_opt(&a, "initial") : ver != seen[i]) {
				print_change(keys[i], lens[i], v, json, i64);
				changes += !first;
			}
			seen[i] = ver;
		}
		stm_coll_free(c);
		first = false;
		if (fflush(stdout) == EOF) {
			rc = EX_ERR;
			goto out_close;
		}
		if (count && changes >= count)
			break;
		ret = ppoll(&pfd, 1, NULL, &orig);
		if (ret < 0 && errno != EINTR) {
			rc = fail(-errno, "poll");
			goto out_close;
		}
		if (ret > 0 && (pfd.revents & POLLHUP)) {
			fprintf(stderr, "stmctl: %s: store removed\n", a.pos[0]);
			rc = EX_NOTFOUND;
			goto out_close;
		}
	}
out_close:
	stm_close(s);
out_keys:
	for (int i = 0; i < n; i++)
		free((void *)keys[i]);
	return rc;
}
