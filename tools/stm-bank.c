// SPDX-License-Identifier: MIT
/*
 * stm-bank - the demo: a bank whose accounts live in one stm store.
 *
 * N worker processes move random amounts between K accounts, each transfer
 * an Axon-style transaction: stm_using() the two accounts (one snapshot),
 * set both, stm_coll_commit().  A conflict (another worker committed one
 * of the accounts since) redoes the transfer from a fresh snapshot; a busy
 * store (non-blocking commits) retries the commit as it is.  An auditor
 * process reads every account in one snapshot, over and over, and checks
 * that the total never changes.  Money is neither made nor lost, and no
 * snapshot ever sees a transfer half done.
 *
 *   stm-bank [--workers N] [--accounts K] [--seconds S] [--initial B]
 *            [--store NAME] [--blocking] [--keep] [--quiet]
 *
 * WORKERS=, ACCOUNTS=, SECONDS= in the environment set the same (the
 * options win).  Exit 0 when the total is unchanged and every audit was
 * consistent; 1 otherwise or on an error; 2 on a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stmdev.h"

#define MAX_WORKERS	256
#define MAX_ACCOUNTS	4096
#define MAX_AMOUNT	100

/* One process's counters: written by that process only, read by the parent. */
struct counters {
	uint64_t transfers;	/* committed transfers */
	uint64_t conflicts;	/* commits that failed with a conflict (redone) */
	uint64_t busy;		/* commits that failed busy (retried as they were) */
	uint64_t retried;	/* transfers that needed more than one attempt */
	uint64_t audits;	/* auditor: snapshots checked */
	uint64_t inconsistent;	/* auditor: snapshots whose total was wrong */
	int64_t  bad_total;	/* auditor: the last wrong total seen */
	int32_t  err;		/* the error that stopped the process, or 0 */
	uint32_t pad;
} __attribute__((aligned(64)));

struct shared {
	int stop;
	struct counters c[];	/* [0..workers-1] workers, [workers] auditor */
};

struct config {
	int workers, accounts, seconds;
	int64_t initial;
	char store[1024];	/* a name, or a URL (etcd://...) */
	bool blocking, keep, quiet;
};

static struct shared *sh;
static volatile sig_atomic_t interrupted;

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define BUMP(x)		__atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)

static bool stopping(void)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE);
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
}

static char **account_names(int k)
{
	char **names = calloc(k, sizeof(*names));

	for (int i = 0; names && i < k; i++) {
		if (asprintf(&names[i], "acct-%04d", i) < 0)
			return NULL;
	}
	return names;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Sum of a collection's i64 values; -EINVAL if one is missing or not i64. */
static int coll_total(struct stm_coll *c, int64_t *total)
{
	int64_t sum = 0;

	for (size_t i = 0; i < stm_coll_count(c); i++) {
		int64_t x;
		int ret = stm_value_i64(stm_coll_at(c, i), &x);

		if (ret)
			return ret;
		sum += x;
	}
	*total = sum;
	return 0;
}

/* Worker @w's ledger key: how many transfers it committed, bumped in the
 * same commit as each transfer (the total after checks it: no transfer
 * lost or applied twice, as a networked store could if it erred). */
static void ledger_name(char *buf, size_t len, int w)
{
	snprintf(buf, len, "done-%04d", w);
}

/* Move money, until told to stop.  Returns 0 or -errno. */
static int worker(const struct config *cfg, char **names, int w, struct counters *me)
{
	char ledger[16];
	struct stm_store *s;
	uint64_t rnd = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	int ret;

	ret = stm_open(cfg->store, cfg->blocking ? 0 : STM_NONBLOCK, 0, &s);
	if (ret)
		return ret;
	if (!rnd)
		rnd = 1;
	ledger_name(ledger, sizeof(ledger), w);
	while (!stopping()) {
		int a = xorshift(&rnd) % cfg->accounts;
		int b = (a + 1 + xorshift(&rnd) % (cfg->accounts - 1)) % cfg->accounts;
		int64_t want = 1 + xorshift(&rnd) % MAX_AMOUNT;
		const char *keys[3] = { names[a], names[b], ledger };
		struct stm_value *from, *to, *done;
		struct stm_coll *c;
		bool retried = false;

		ret = stm_using(s, keys, 3, &c);
		if (ret)
			break;
		from = stm_coll_get(c, names[a]);
		to = stm_coll_get(c, names[b]);
		done = stm_coll_get(c, ledger);
		for (;;) {
			int64_t fb, tb, nd = 0, amount;

			ret = stm_value_i64(from, &fb);
			if (!ret)
				ret = stm_value_i64(to, &tb);
			if (!ret && stm_value_data(done, NULL))
				ret = stm_value_i64(done, &nd);
			if (ret)
				break;
			amount = want < fb ? want : fb;	/* no overdrafts */
			if (amount == 0)
				break;
			stm_value_set_i64(from, fb - amount);
			stm_value_set_i64(to, tb + amount);
			stm_value_set_i64(done, nd + 1);
			do {	/* BusyRetry: retry the commit, not the transaction */
				ret = stm_coll_commit(c);
				if (ret == -STM_EBUSY) {
					BUMP(me->busy);
					retried = true;
					sched_yield();
				}
			} while ((ret == -STM_EBUSY || ret == -EINTR) && !stopping());
			if (ret == 0) {
				BUMP(me->transfers);
				if (retried)
					BUMP(me->retried);
				break;
			}
			if (ret != -STM_ECONFLICT)
				break;	/* stopping while busy, or an error */
			/* ConcurrentUpdate: redo the transfer on a fresh snapshot */
			BUMP(me->conflicts);
			retried = true;
			ret = stm_coll_refresh(c);
			if (ret || stopping())
				break;
		}
		stm_coll_free(c);
		if (ret == -STM_EBUSY || ret == -EINTR)
			ret = 0;	/* stopped in the middle of retrying */
		if (ret)
			break;
	}
	stm_close(s);
	return ret;
}

/* Read every account in one snapshot, over and over; check the total. */
static int auditor(const struct config *cfg, char **names, int64_t expect,
		   struct counters *me)
{
	struct stm_store *s;
	struct stm_coll *c;
	int ret;

	ret = stm_open(cfg->store, STM_RDONLY, 0, &s);
	if (ret)
		return ret;
	ret = stm_using(s, (const char *const *)names, cfg->accounts, &c);
	while (!ret) {
		int64_t total;

		if (coll_total(c, &total) || total != expect) {
			__atomic_store_n(&me->bad_total, total, __ATOMIC_RELAXED);
			BUMP(me->inconsistent);
		}
		BUMP(me->audits);
		if (stopping())
			break;
		ret = stm_coll_refresh(c);
	}
	stm_coll_free(c);
	stm_close(s);
	return ret;
}

static void sum_counters(const struct config *cfg, struct counters *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i <= cfg->workers; i++) {
		t->transfers += LOAD(sh->c[i].transfers);
		t->conflicts += LOAD(sh->c[i].conflicts);
		t->busy += LOAD(sh->c[i].busy);
		t->retried += LOAD(sh->c[i].retried);
		t->audits += LOAD(sh->c[i].audits);
		t->inconsistent += LOAD(sh->c[i].inconsistent);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	while (!interrupted) {
		double d = t - now();
		struct timespec ts;

		if (d <= 0)
			return;
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Create the store and the accounts, each with the initial balance. */
static int open_bank(const struct config *cfg, char **names, struct stm_store **out,
		     int64_t *total)
{
	struct stm_store *s;
	struct stm_coll *c;
	int ret;

	ret = stm_open(cfg->store, STM_CREAT | STM_EXCL, 0600, &s);
	if (ret)
		return ret;
	ret = stm_using(s, (const char *const *)names, cfg->accounts, &c);
	if (ret)
		goto out_close;
	for (int i = 0; i < cfg->accounts; i++)
		stm_value_set_i64(stm_coll_at(c, i), cfg->initial);
	ret = stm_coll_commit(c);
	if (!ret)
		ret = stm_coll_refresh(c);	/* the total, as the store has it */
	if (!ret)
		ret = coll_total(c, total);
	stm_coll_free(c);
	if (!ret) {
		*out = s;
		return 0;
	}
out_close:
	stm_close(s);
	stm_unlink(cfg->store);
	return ret;
}

static int parse_int(const char *what, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr, "stm-bank: %s must be an integer in %ld..%ld (got '%s')\n",
			what, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stm-bank [options]\n"
		"\n"
		"Worker processes move random amounts between accounts in one stm store\n"
		"(using + set + commit, redone on conflict, re-committed when busy) while an\n"
		"auditor checks, snapshot after snapshot, that the total never changes.\n"
		"\n"
		"  -w, --workers N    worker processes (default 4; env WORKERS)\n"
		"  -a, --accounts K   accounts (default 8; env ACCOUNTS)\n"
		"  -s, --seconds S    how long to run (default 10; env SECONDS)\n"
		"  -i, --initial B    initial balance of each account (default 1000)\n"
		"      --store NAME   store to create (default bank-PID; must not exist); a URL\n"
		"                     (etcd://host:port,.../name) where the etcd backend is in\n"
		"  -b, --blocking     blocking commits (default: non-blocking, busy is retried)\n"
		"  -k, --keep         keep the store afterwards (default: remove it)\n"
		"  -q, --quiet        no progress lines\n"
		"  -h, --help         this help\n"
		"\n"
		"Each transfer also bumps its worker's ledger key (done-NNNN) in the same\n"
		"commit: at the end the ledgers must hold exactly the transfers counted.\n"
		"\n"
		"Exit status: 0 when the total is unchanged, no audit saw a wrong total and\n"
		"the ledgers match, 1 otherwise (or on an error), 2 on a bad command line.\n");
}

static int parse_config(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "accounts", required_argument, NULL, 'a' },
		{ "seconds", required_argument, NULL, 's' },
		{ "initial", required_argument, NULL, 'i' },
		{ "store", required_argument, NULL, 'S' },
		{ "blocking", no_argument, NULL, 'b' },
		{ "keep", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	long v;
	int opt;

	*cfg = (struct config){ .workers = 4, .accounts = 8, .seconds = 10, .initial = 1000 };
	snprintf(cfg->store, sizeof(cfg->store), "bank-%d", (int)getpid());
	if ((env = getenv("WORKERS")) && *env) {
		if (parse_int("WORKERS", env, 1, MAX_WORKERS, &v))
			return 2;
		cfg->workers = v;
	}
	if ((env = getenv("ACCOUNTS")) && *env) {
		if (parse_int("ACCOUNTS", env, 2, MAX_ACCOUNTS, &v))
			return 2;
		cfg->accounts = v;
	}
	if ((env = getenv("SECONDS")) && *env) {
		if (parse_int("SECONDS", env, 1, 86400, &v))
			return 2;
		cfg->seconds = v;
	}
	while ((opt = getopt_long(argc, argv, "w:a:s:i:bkqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			if (parse_int("--workers", optarg, 1, MAX_WORKERS, &v))
				return 2;
			cfg->workers = v;
			break;
		case 'a':
			if (parse_int("--accounts", optarg, 2, MAX_ACCOUNTS, &v))
				return 2;
			cfg->accounts = v;
			break;
		case 's':
			if (parse_int("--seconds", optarg, 1, 86400, &v))
				return 2;
			cfg->seconds = v;
			break;
		case 'i':
			if (parse_int("--initial", optarg, 0, 1000000000L, &v))
				return 2;
			cfg->initial = v;
			break;
		case 'S':
			if (strlen(optarg) >= sizeof(cfg->store)) {
				fprintf(stderr, "stm-bank: store name too long\n");
				return 2;
			}
			strcpy(cfg->store, optarg);
			break;
		case 'b':
			cfg->blocking = true;
			break;
		case 'k':
			cfg->keep = true;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "stm-bank: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct counters t, prev = { 0 };
	struct stm_stats kst = { 0 };
	struct stm_store *s;
	struct stm_limits lim;
	struct config cfg;
	int64_t before = 0, after = 0, ledger = 0;
	pid_t *pids;
	char **names;
	size_t shsize;
	double start, last;
	int ret, children_failed = 0, after_err;
	bool ok;

	ret = parse_config(argc, argv, &cfg);
	if (ret)
		return ret < 0 ? 0 : ret;
	setvbuf(stdout, NULL, _IOLBF, 0);

	names = account_names(cfg.accounts);
	pids = calloc(cfg.workers + 1, sizeof(*pids));
	shsize = sizeof(*sh) + (cfg.workers + 1) * sizeof(struct counters);
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!names || !pids || sh == MAP_FAILED) {
		fprintf(stderr, "stm-bank: out of memory\n");
		return 1;
	}

	ret = open_bank(&cfg, names, &s, &before);
	if (ret) {
		fprintf(stderr, "stm-bank: store %s: %s\n", cfg.store, stm_strerror(ret));
		return 1;
	}
	stm_limits(s, &lim);
	if (lim.max_keys_per_call && (uint32_t)cfg.accounts > lim.max_keys_per_call) {
		fprintf(stderr, "stm-bank: %d accounts, but one snapshot reads at most %u\n",
			cfg.accounts, lim.max_keys_per_call);
		stm_close(s);
		stm_unlink(cfg.store);
		return 2;
	}

	printf("stm-bank: %d workers, %d accounts of %" PRId64 ", %d s, %s commits, store %s\n",
	       cfg.workers, cfg.accounts, cfg.initial, cfg.seconds,
	       cfg.blocking ? "blocking" : "non-blocking", cfg.store);

	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	for (int i = 0; i <= cfg.workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("stm-bank: fork");
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
			children_failed++;
			break;
		}
		if (pid == 0) {
			struct counters *me = &sh->c[i];

			signal(SIGINT, SIG_IGN);	/* the parent stops us */
			signal(SIGTERM, SIG_DFL);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			stm_close(s);	/* each process attaches its own handle */
			ret = i < cfg.workers ? worker(&cfg, names, i, me)
					      : auditor(&cfg, names, before, me);
			me->err = ret;
			_exit(ret ? 1 : 0);
		}
		pids[i] = pid;
	}

	start = last = now();
	for (int sec = 1; sec <= cfg.seconds && !interrupted; sec++) {
		double tnow;

		sleep_until(start + sec);
		if (interrupted)
			break;
		tnow = now();
		sum_counters(&cfg, &t);
		if (!cfg.quiet)
			printf("[%3ds] %8.0f commits/s  transfers %-9" PRIu64 " conflicts %-7"
			       PRIu64 " busy %-7" PRIu64 " audits %-7" PRIu64 " inconsistent %"
			       PRIu64 "\n", sec, (t.transfers - prev.transfers) / (tnow - last),
			       t.transfers, t.conflicts, t.busy, t.audits, t.inconsistent);
		prev = t;
		last = tnow;
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);

	for (int i = 0; i <= cfg.workers; i++) {
		int status = 0;
		pid_t r;

		if (pids[i] <= 0)
			continue;
		while ((r = waitpid(pids[i], &status, 0)) < 0 && errno == EINTR)
			;
		if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			int err = sh->c[i].err;

			children_failed++;
			fprintf(stderr, "stm-bank: %s %d failed: %s\n",
				i < cfg.workers ? "worker" : "auditor", i,
				err ? stm_strerror(err) : "killed");
		}
	}
	sum_counters(&cfg, &t);

	/* The total after, in one snapshot. */
	{
		struct stm_coll *c;

		after_err = stm_using(s, (const char *const *)names, cfg.accounts, &c);
		if (!after_err)
			after_err = coll_total(c, &after);
		stm_coll_free(c);
		/* The workers' ledgers against what they counted. */
		for (int w = 0; w < cfg.workers && !after_err; w++) {
			struct stm_value *v;
			char ln[16];
			int64_t x = 0;

			ledger_name(ln, sizeof(ln), w);
			after_err = stm_usevar(s, ln, &v);
			if (!after_err && stm_value_data(v, NULL))
				after_err = stm_value_i64(v, &x);
			if (!after_err)
				ledger += x;
			stm_value_free(v);
		}
	}
	stm_stats(s, &kst);
	stm_close(s);
	if (!cfg.keep)
		stm_unlink(cfg.store);

	ok = !after_err && after == before && t.inconsistent == 0 && !children_failed &&
	     ledger == (int64_t)t.transfers;
	printf("\n"
	       "  transfers done        %12" PRIu64 "\n"
	       "  conflicts (redone)    %12" PRIu64 "\n"
	       "  busy (re-committed)   %12" PRIu64 "\n"
	       "  transfers retried     %12" PRIu64 "\n"
	       "  audits                %12" PRIu64 "\n"
	       "  inconsistent audits   %12" PRIu64 "\n"
	       "  total before          %12" PRId64 "\n"
	       "  total after           %12" PRId64 "\n"
	       "  transfers in ledgers  %12" PRId64 "\n"
	       "  store: commits %" PRIu64 ", conflicts %" PRIu64 ", busy %" PRIu64
	       ", reads %" PRIu64 "\n",
	       t.transfers, t.conflicts, t.busy, t.retried, t.audits, t.inconsistent,
	       before, after, ledger, kst.commits, kst.conflicts, kst.busy, kst.reads);
	if (after_err)
		fprintf(stderr, "stm-bank: reading the total after: %s\n", stm_strerror(after_err));
	if (!after_err && ledger != (int64_t)t.transfers)
		fprintf(stderr, "stm-bank: the ledgers hold %" PRId64 " transfers, the workers "
			"counted %" PRIu64 "\n", ledger, t.transfers);
	if (t.inconsistent)
		fprintf(stderr, "stm-bank: an audit saw the total %" PRId64 ", not %" PRId64 "\n",
			sh->c[cfg.workers].bad_total, before);
	/* One line for scripts (selftests/demo_test.sh). */
	printf("result: transfers=%" PRIu64 " conflicts=%" PRIu64 " busy=%" PRIu64
	       " retried=%" PRIu64 " audits=%" PRIu64 " inconsistent=%" PRIu64
	       " total_before=%" PRId64 " total_after=%" PRId64 " ledger=%" PRId64
	       " failed=%d %s\n",
	       t.transfers, t.conflicts, t.busy, t.retried, t.audits, t.inconsistent,
	       before, after, ledger, children_failed, ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
