// SPDX-License-Identifier: GPL-2.0
/*
 * ring_test.c - libstmdev's ring (stm_ring_*, io_uring): 64 commits in one
 * submit with per-completion results (some conflicting with each other),
 * snapshot reads and refreshes, async waits completed by another process,
 * waits longer than the kernel's one-second bound on kernels without
 * io_uring command cancelation (re-armed by the library), wait timeouts,
 * single operations, errors identical to the synchronous calls, and ring
 * close (or exit, or exec) with operations pending.
 *
 * Skips (exit 4) only when /dev/stm does not exist, or io_uring is not
 * available to the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib_test_util.h"

/* The 6.1 harness has unused parameters in its own wrappers. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#define PARAM_DIR	"/sys/module/stm/parameters/"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t version_of(struct stm_store *s, const char *key)
{
	uint64_t ver = 0;

	free(get_str(s, key, &ver));
	return ver;
}

static int put(struct stm_store *s, const char *key, const char *val)
{
	return stm_swap(s, key, val, strlen(val), NULL);
}

/* The completion with @tag among @n, or NULL. */
static struct stm_cqe *by_tag(struct stm_cqe *c, int n, uint64_t tag)
{
	for (int i = 0; i < n; i++)
		if (c[i].tag == tag)
			return &c[i];
	return NULL;
}

static long long param_get(const char *name)
{
	char path[128], buf[32];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	return atoll(buf);
}

static int param_set(const char *name, long long val)
{
	char path[128], buf[32];
	int fd, len, ok;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld", val);
	ok = write(fd, buf, len) == len;
	close(fd);
	return ok ? 0 : -EIO;
}

FIXTURE(ring) {
	char name[64];
	struct stm_store *s;
	struct stm_ring *r;
};

FIXTURE_SETUP(ring)
{
	static unsigned int seq;
	int ret;

	snprintf(self->name, sizeof(self->name), "rt-%d-%u", (int)getpid(), seq++);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
	ret = stm_ring_open(self->s, 128, 0, &self->r);
	if (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP)
		SKIP(return, "io_uring not available (%d)", ret);
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(ring)
{
	stm_ring_close(self->r);
	if (self->s) {
		stm_close(self->s);
		stm_unlink(self->name);
	}
}

/*
 * 64 commits in one submit: 16 keys, 3 contenders each expecting the key's
 * current version (a commit with a read entry, a CAS, a collection
 * commit), so exactly one per key wins and two conflict; plus 16
 * fetch-adds on one counter, which never conflict.
 */
TEST_F(ring, batch_of_64_commits)
{
	static struct stm_cqe cqe[64];
	struct stm_coll *coll[64] = { NULL };
	char keys[16][8], data[64][8];
	uint64_t ver[16], stable_ver, won_ver[16] = { 0 };
	int wins[16] = { 0 }, winner[16] = { 0 }, ok = 0, stale = 0, adds = 0;
	bool seen_add[17] = { false };
	char *str;

	ASSERT_EQ(0, put(self->s, "stable", "s"));
	stable_ver = version_of(self->s, "stable");
	for (int k = 0; k < 16; k++) {
		snprintf(keys[k], sizeof(keys[k]), "c%d", k);
		ASSERT_EQ(0, put(self->s, keys[k], "init"));
		ver[k] = version_of(self->s, keys[k]);
		ASSERT_NE(0ULL, ver[k]);
	}
	for (int i = 0; i < 64; i++) {
		int k = i % 16;

		snprintf(data[i], sizeof(data[i]), "w%d", i);
		if (i >= 48) {
			ASSERT_EQ(0, stm_ring_prep_fetch_add(self->r, "ctr", 1, i));
		} else if (i < 16) {
			struct stm_op ops[2] = {
				{ .key = "stable", .op = STM_OP_READ, .version = stable_ver },
				{ .key = keys[k], .op = STM_OP_PUT, .flags = STM_OP_CHECK,
				  .version = ver[k], .data = data[i], .len = strlen(data[i]) },
			};

			ASSERT_EQ(0, stm_ring_prep_commit(self->r, ops, 2, 0, i));
		} else if (i < 32) {
			ASSERT_EQ(0, stm_ring_prep_cas(self->r, keys[k], ver[k], data[i],
						       strlen(data[i]), i));
		} else {
			const char *ck = keys[k];

			ASSERT_EQ(0, stm_using(self->s, &ck, 1, &coll[i]));
			ASSERT_EQ(0, stm_value_set(stm_coll_at(coll[i], 0), data[i],
						   strlen(data[i])));
			ASSERT_EQ(0, stm_ring_prep_commit_coll(self->r, coll[i], i));
		}
	}
	/* The caller's buffers are free once prepared. */
	memset(data, 'x', sizeof(data));
	ASSERT_EQ(64, stm_ring_submit(self->r));
	ASSERT_EQ(64, stm_ring_reap(self->r, cqe, 64, 64));

	for (int j = 0; j < 64; j++) {
		struct stm_cqe *c = &cqe[j];
		int i = (int)c->tag, k = i % 16;

		ASSERT_LT(c->tag, 64ULL);
		if (i >= 48) {
			EXPECT_EQ(0, c->result);
			ASSERT_GE(c->value, 1);
			ASSERT_LE(c->value, 16);
			EXPECT_FALSE(seen_add[c->value]);
			seen_add[c->value] = true;
			adds++;
			continue;
		}
		if (c->result == 0) {
			ok++;
			wins[k]++;
			winner[k] = i;
			won_ver[k] = c->version;
			EXPECT_GT(c->version, ver[k]);
			EXPECT_EQ(STM_NO_CONFLICT, c->conflict);
		} else {
			EXPECT_EQ(-STM_ECONFLICT, c->result);
			stale++;
			/* the first entry whose version differed */
			EXPECT_EQ(i < 16 ? 1U : 0U, c->conflict);
		}
		if (i >= 32) {
			struct stm_value *v = stm_coll_at(coll[i], 0);

			EXPECT_TRUE(c->coll == coll[i]);
			if (c->result == 0) {
				EXPECT_EQ(c->version, stm_value_version(v));
				EXPECT_EQ(0, stm_value_dirty(v));
				EXPECT_TRUE(stm_coll_conflict(coll[i]) == NULL);
			} else {
				EXPECT_EQ(ver[k], stm_value_version(v));
				EXPECT_EQ(1, stm_value_dirty(v));
				EXPECT_TRUE(stm_coll_conflict(coll[i]) == v);
			}
		} else {
			EXPECT_TRUE(c->coll == NULL);
		}
	}
	EXPECT_EQ(16, ok);
	EXPECT_EQ(32, stale);
	EXPECT_EQ(16, adds);
	for (int k = 0; k < 16; k++) {
		char want[8];
		uint64_t v = 0;

		ASSERT_EQ(1, wins[k]) TH_LOG("key c%d", k);
		snprintf(want, sizeof(want), "w%d", winner[k]);
		str = get_str(self->s, keys[k], &v);
		ASSERT_NE(NULL, str);
		EXPECT_STREQ(want, str);
		EXPECT_EQ(won_ver[k], v);
		free(str);
		for (int j = 0; j < k; j++)
			EXPECT_NE(won_ver[j], won_ver[k]);
	}
	EXPECT_EQ(16, get_i64(self->s, "ctr"));
	for (int i = 0; i < 64; i++)
		stm_coll_free(coll[i]);
	/* nothing left */
	EXPECT_EQ(0, stm_ring_reap(self->r, cqe, 64, 0));
}

/* Snapshot reads: the same values as stm_using, long values included. */
TEST_F(ring, reads_and_refresh)
{
	const char *keys[] = { "a", "b", "e", "zz", "a" };
	static const char bin[3] = { 0, 'x', 1 };
	const void *bkeys[] = { bin };
	size_t blens[] = { 3 };
	struct stm_cqe cqe[4];
	struct stm_coll *c, *sync;
	struct stm_value *v;
	static char big[5000];
	const char *d;
	size_t len;
	uint64_t va;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = 'A' + i % 26;
	ASSERT_EQ(0, put(self->s, "a", "alpha"));
	ASSERT_EQ(0, stm_swap(self->s, "b", big, sizeof(big), NULL));
	ASSERT_EQ(0, stm_swap(self->s, "e", "", 0, NULL));
	ASSERT_EQ(0, stm_swap_n(self->s, bin, 3, "bin", 3, NULL));
	va = version_of(self->s, "a");

	ASSERT_EQ(0, stm_ring_prep_read(self->r, keys, 5, 1));
	ASSERT_EQ(0, stm_ring_prep_read(self->r, keys, 0, 2));
	ASSERT_EQ(0, stm_ring_prep_read_n(self->r, bkeys, blens, 1, 3));
	ASSERT_EQ(3, stm_ring_submit(self->r));
	ASSERT_EQ(3, stm_ring_reap(self->r, cqe, 4, 3));

	/* five keys, "a" twice: four values, as stm_using gives */
	ASSERT_NE(NULL, by_tag(cqe, 3, 1));
	EXPECT_EQ(0, by_tag(cqe, 3, 1)->result);
	c = by_tag(cqe, 3, 1)->coll;
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, stm_using(self->s, keys, 5, &sync));
	ASSERT_EQ(stm_coll_count(sync), stm_coll_count(c));
	EXPECT_EQ(4U, stm_coll_count(c));
	for (size_t i = 0; i < stm_coll_count(c); i++) {
		struct stm_value *x = stm_coll_at(c, i), *y = stm_coll_at(sync, i);
		const void *dx, *dy;
		size_t lx, ly;

		dx = stm_value_data(x, &lx);
		dy = stm_value_data(y, &ly);
		EXPECT_EQ(stm_value_version(y), stm_value_version(x));
		EXPECT_EQ(ly, lx);
		EXPECT_EQ(dy == NULL, dx == NULL);
		if (dx && dy && lx == ly)
			EXPECT_EQ(0, memcmp(dx, dy, lx));
		/* the snapshot's clock covers every version read */
		EXPECT_GE(by_tag(cqe, 3, 1)->version, stm_value_version(x));
	}
	stm_coll_free(sync);
	d = stm_value_data(stm_coll_get(c, "b"), &len);
	ASSERT_EQ(sizeof(big), len);
	EXPECT_EQ(0, memcmp(big, d, len));
	d = stm_value_data(stm_coll_get(c, "e"), &len);
	EXPECT_NE(NULL, d);
	EXPECT_EQ(0U, len);
	EXPECT_EQ(NULL, stm_value_data(stm_coll_get(c, "zz"), &len));
	EXPECT_EQ(0ULL, stm_value_version(stm_coll_get(c, "zz")));

	/* an empty read completes with an empty collection */
	ASSERT_NE(NULL, by_tag(cqe, 3, 2));
	EXPECT_EQ(0, by_tag(cqe, 3, 2)->result);
	ASSERT_NE(NULL, by_tag(cqe, 3, 2)->coll);
	EXPECT_EQ(0U, stm_coll_count(by_tag(cqe, 3, 2)->coll));
	stm_coll_free(by_tag(cqe, 3, 2)->coll);

	/* binary key */
	ASSERT_NE(NULL, by_tag(cqe, 3, 3));
	EXPECT_EQ(0, by_tag(cqe, 3, 3)->result);
	v = stm_coll_get_n(by_tag(cqe, 3, 3)->coll, bin, 3);
	ASSERT_NE(NULL, v);
	d = stm_value_data(v, &len);
	ASSERT_EQ(3U, len);
	EXPECT_EQ(0, memcmp("bin", d, 3));
	stm_coll_free(by_tag(cqe, 3, 3)->coll);

	/* refresh: local changes dropped, the new value read */
	v = stm_coll_get(c, "a");
	ASSERT_EQ(va, stm_value_version(v));
	ASSERT_EQ(0, stm_value_set(v, "local", 5));
	ASSERT_EQ(0, put(self->s, "a", "again"));
	ASSERT_EQ(0, stm_ring_prep_refresh(self->r, c, 10));
	EXPECT_EQ(-EALREADY, stm_ring_prep_refresh(self->r, c, 11));
	EXPECT_EQ(-EALREADY, stm_ring_prep_commit_coll(self->r, c, 12));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(10ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_TRUE(cqe[0].coll == c);
	d = stm_value_data(v, &len);
	ASSERT_EQ(5U, len);
	EXPECT_EQ(0, memcmp("again", d, 5));
	EXPECT_EQ(0, stm_value_dirty(v));
	EXPECT_LT(va, stm_value_version(v));
	EXPECT_EQ(version_of(self->s, "a"), stm_value_version(v));

	/* a collection freed while lent: the result is dropped */
	ASSERT_EQ(0, stm_ring_prep_refresh(self->r, c, 20));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	stm_coll_free(c);
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(20ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_TRUE(cqe[0].coll == NULL);
}

/* A wait in flight beside other operations; another process completes it. */
TEST_F(ring, async_wait_completed_by_another_process)
{
	const char *q[] = { "q" }, *both[] = { "q", "q2" };
	uint64_t zero[2] = { 0, 0 };
	struct stm_cqe cqe[4];
	int go[2];
	char b = 0;
	pid_t pid;

	ASSERT_EQ(0, stm_ring_prep_wait(self->r, q, zero, 1, STM_WAIT_ANY, 30000, 77));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, both, zero, 2, STM_WAIT_ALL, -1, 78));
	/* in the same submit: a commit that creates a key (never -EINTR) */
	ASSERT_EQ(0, stm_ring_prep_fetch_add(self->r, "other", 1, 79));
	ASSERT_EQ(3, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(79ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_EQ(1, cqe[0].value);
	/* The ring keeps serving other operations meanwhile. */
	ASSERT_EQ(0, stm_ring_prep_fetch_add(self->r, "other", 1, 80));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(80ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_EQ(2, cqe[0].value);
	EXPECT_EQ(0, stm_ring_reap(self->r, cqe, 4, 0));

	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;

		close(go[1]);
		if (read(go[0], &b, 1) != 1 || stm_open(self->name, 0, 0, &s))
			_exit(1);
		if (put(s, "q", "item"))
			_exit(2);
		/* the all-keys wait needs q2 too */
		if (read(go[0], &b, 1) != 1 || put(s, "q2", "item"))
			_exit(3);
		stm_close(s);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(1, write(go[1], &b, 1));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(77ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_EQ(0U, cqe[0].index);
	/* any is not all */
	EXPECT_EQ(0, stm_ring_reap(self->r, cqe, 4, 0));
	ASSERT_EQ(1, write(go[1], &b, 1));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(78ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
	close(go[1]);
	EXPECT_EQ(0, child_status(pid));
}

/*
 * Where the kernel bounds async waits at one second (6.1), waits asked
 * for longer (2.5 s, unbounded) are re-armed by the library: a commit
 * made after the bound completes them with success, not -ETIMEDOUT; and
 * a 2.5 s wait on a key nobody writes ends with -ETIMEDOUT no earlier
 * than asked.  The commit's time only places it after the bound: the
 * result codes decide.
 */
TEST_F(ring, long_waits_rearmed_past_the_kernel_bound)
{
	const char *q[] = { "q" }, *never[] = { "never" };
	uint64_t zero[1] = { 0 };
	struct stm_cqe cqe[4];
	struct stm_limits lim;
	int64_t start;
	int go[2], got = 0;
	char b = 0;
	pid_t pid;

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	if (!(lim.features & (1ULL << 8)))	/* STMDEV_F_URING_CANCEL */
		TH_LOG("kernel bounds async waits: the library re-arms them");
	ASSERT_EQ(0, pipe(go));
	start = now_ms();
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, q, zero, 1, 0, 2500, 1));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, q, zero, 1, 0, -1, 2));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, never, zero, 1, 0, 2500, 3));
	ASSERT_EQ(3, stm_ring_submit(self->r));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stm_store *s;

		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		usleep(1500 * 1000);	/* past the kernel's one-second bound */
		if (stm_open(self->name, 0, 0, &s) || put(s, "q", "late"))
			_exit(2);
		stm_close(s);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(1, write(go[1], &b, 1));
	close(go[1]);
	while (got < 3) {
		int n = stm_ring_reap(self->r, cqe + got, 4 - got, 1);

		ASSERT_LT(0, n);
		got += n;
	}
	ASSERT_NE(NULL, by_tag(cqe, 3, 1));
	EXPECT_EQ(0, by_tag(cqe, 3, 1)->result);
	ASSERT_NE(NULL, by_tag(cqe, 3, 2));
	EXPECT_EQ(0, by_tag(cqe, 3, 2)->result);
	ASSERT_NE(NULL, by_tag(cqe, 3, 3));
	EXPECT_EQ(-ETIMEDOUT, by_tag(cqe, 3, 3)->result);
	/* never before the time asked for */
	EXPECT_LE(2500, now_ms() - start);
	EXPECT_EQ(0, child_status(pid));
}

/* Timeouts and check-only waits, as stm_wait gives them. */
TEST_F(ring, async_wait_timeout)
{
	const char *w[] = { "w" }, *w2[] = { "w", "w2" }, *w2w[] = { "w2", "w" };
	uint64_t zero[2] = { 0, 0 };
	struct stm_cqe cqe[4];

	ASSERT_EQ(0, stm_ring_prep_wait(self->r, w, zero, 1, 0, 50, 1));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, w, zero, 1, 0, 0, 2));
	ASSERT_EQ(2, stm_ring_submit(self->r));
	ASSERT_EQ(2, stm_ring_reap(self->r, cqe, 4, 2));
	EXPECT_EQ(-ETIMEDOUT, cqe[0].result);
	EXPECT_EQ(-ETIMEDOUT, cqe[1].result);
	EXPECT_EQ(-ETIMEDOUT, stm_wait(self->s, w, zero, 1, 0, 0));

	/* changed already: completes at once with the index */
	ASSERT_EQ(0, put(self->s, "w", "1"));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, w2, zero, 2, STM_WAIT_ANY, 0, 3));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, w2, zero, 2, STM_WAIT_ALL, 100, 4));
	ASSERT_EQ(2, stm_ring_submit(self->r));
	ASSERT_EQ(2, stm_ring_reap(self->r, cqe, 4, 2));
	ASSERT_NE(NULL, by_tag(cqe, 2, 3));
	EXPECT_EQ(0, by_tag(cqe, 2, 3)->result);
	EXPECT_EQ(0U, by_tag(cqe, 2, 3)->index);
	EXPECT_EQ(0, stm_wait(self->s, w2, zero, 2, STM_WAIT_ANY, 0));
	/* all: w2 has not changed */
	ASSERT_NE(NULL, by_tag(cqe, 2, 4));
	EXPECT_EQ(-ETIMEDOUT, by_tag(cqe, 2, 4)->result);
	EXPECT_EQ(-ETIMEDOUT, stm_wait(self->s, w2, zero, 2, STM_WAIT_ALL, 100));

	/* the index of the key that changed */
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, w2w, zero, 2, 0, -1, 5));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 4, 1));
	EXPECT_EQ(1, cqe[0].result);
	EXPECT_EQ(1U, cqe[0].index);
	EXPECT_EQ(1, stm_wait(self->s, w2w, zero, 2, 0, -1));
}

/* CAS, blind put, fetch-add and the general commit, one key each. */
TEST_F(ring, single_operations)
{
	struct stm_cqe cqe[8];
	struct stm_cqe *one, *uno;
	struct stm_op ops[2];
	uint64_t v1, v2;
	int64_t a, b, res = 0;
	char *str;

	ASSERT_EQ(0, stm_ring_prep_cas(self->r, "s1", 0, "one", 3, 1));
	ASSERT_EQ(0, stm_ring_prep_cas(self->r, "s1", 0, "uno", 3, 2));
	ASSERT_EQ(0, stm_ring_prep_put(self->r, "s2", "blind", 5, 3));
	ASSERT_EQ(0, stm_ring_prep_fetch_add(self->r, "n", 5, 4));
	ASSERT_EQ(0, stm_ring_prep_fetch_add_n(self->r, "n", 1, -2, 5));
	ASSERT_EQ(5, stm_ring_submit(self->r));
	ASSERT_EQ(5, stm_ring_reap(self->r, cqe, 8, 5));
	one = by_tag(cqe, 5, 1);
	uno = by_tag(cqe, 5, 2);
	ASSERT_NE(NULL, one);
	ASSERT_NE(NULL, uno);
	/* exactly one of the two creates s1 */
	EXPECT_EQ(-STM_ECONFLICT, one->result + uno->result);
	if (one->result)
		one = uno;
	v1 = one->version;
	str = get_str(self->s, "s1", &v2);
	ASSERT_NE(NULL, str);
	EXPECT_EQ(v1, v2);
	EXPECT_STREQ(one == uno ? "uno" : "one", str);
	free(str);
	ASSERT_NE(NULL, by_tag(cqe, 5, 3));
	EXPECT_EQ(0, by_tag(cqe, 5, 3)->result);
	str = get_str(self->s, "s2", NULL);
	ASSERT_NE(NULL, str);
	EXPECT_STREQ("blind", str);
	free(str);
	ASSERT_NE(NULL, by_tag(cqe, 5, 4));
	ASSERT_NE(NULL, by_tag(cqe, 5, 5));
	EXPECT_EQ(0, by_tag(cqe, 5, 4)->result);
	EXPECT_EQ(0, by_tag(cqe, 5, 5)->result);
	/* in whichever order they ran: +5 then -2, or -2 then +5 */
	a = by_tag(cqe, 5, 4)->value;
	b = by_tag(cqe, 5, 5)->value;
	EXPECT_TRUE((a == 5 && b == 3) || (b == -2 && a == 3))
		TH_LOG("a=%" PRId64 " b=%" PRId64, a, b);

	/* CAS at the version just given, then the same through stm_cas */
	ASSERT_EQ(0, stm_ring_prep_cas(self->r, "s1", v1, "two", 3, 6));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 8, 1));
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_LT(v1, cqe[0].version);
	EXPECT_EQ(-STM_ECONFLICT, stm_cas(self->s, "s1", v1, "x", 1, NULL));
	ASSERT_EQ(0, stm_ring_prep_cas(self->r, "s1", v1, "x", 1, 7));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 8, 1));
	EXPECT_EQ(-STM_ECONFLICT, cqe[0].result);
	EXPECT_EQ(0U, cqe[0].conflict);

	/* the general form: delete checked, add with its result */
	memset(ops, 0, sizeof(ops));
	ops[0] = (struct stm_op){ .key = "s2", .op = STM_OP_DEL, .flags = STM_OP_CHECK,
				  .version = version_of(self->s, "s2") };
	ops[1] = (struct stm_op){ .key = "n", .klen = 1, .op = STM_OP_ADD, .delta = 10,
				  .result = &res };
	ASSERT_EQ(0, stm_ring_prep_commit(self->r, ops, 2, 0, 8));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 8, 1));
	EXPECT_EQ(0, cqe[0].result);
	EXPECT_EQ(13, res);
	EXPECT_EQ(NULL, get_str(self->s, "s2", &v2));
	EXPECT_EQ(0ULL, v2);
}

/*
 * Every bad argument gets what the synchronous call returns, from the
 * prep, and nothing is queued.
 */
TEST_F(ring, bad_arguments_as_the_synchronous_calls)
{
	static char longkey[STM_KEY_MAX + 2];
	const char *badkeys[] = { "", longkey, NULL };
	const char *k = "k";
	uint64_t v0 = 0;
	struct stm_op op;
	struct stm_coll *c;
	struct stm_cqe cqe[2];

	memset(longkey, 'k', STM_KEY_MAX + 1);
	for (int i = 0; i < 3; i++) {
		const char *bk = badkeys[i];

		EXPECT_EQ(-EINVAL, stm_cas(self->s, bk, 0, "x", 1, NULL)) TH_LOG("key %d", i);
		EXPECT_EQ(-EINVAL, stm_ring_prep_cas(self->r, bk, 0, "x", 1, 1));
		EXPECT_EQ(-EINVAL, stm_swap(self->s, bk, "x", 1, NULL));
		EXPECT_EQ(-EINVAL, stm_ring_prep_put(self->r, bk, "x", 1, 1));
		EXPECT_EQ(-EINVAL, stm_fetch_add(self->s, bk, 1, NULL));
		EXPECT_EQ(-EINVAL, stm_ring_prep_fetch_add(self->r, bk, 1, 1));
		EXPECT_EQ(-EINVAL, stm_using(self->s, &bk, 1, &c));
		EXPECT_EQ(-EINVAL, stm_ring_prep_read(self->r, &bk, 1, 1));
		EXPECT_EQ(-EINVAL, stm_wait(self->s, &bk, &v0, 1, 0, 0));
		EXPECT_EQ(-EINVAL, stm_ring_prep_wait(self->r, &bk, &v0, 1, 0, 0, 1));
		op = (struct stm_op){ .key = bk, .op = STM_OP_PUT, .data = "x", .len = 1 };
		EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	}
	/* NULL data with a length, bad flags, no keys */
	EXPECT_EQ(-EINVAL, stm_cas(self->s, "k", 0, NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, stm_ring_prep_cas(self->r, "k", 0, NULL, 1, 1));
	EXPECT_EQ(-EINVAL, stm_swap(self->s, "k", NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, stm_ring_prep_put(self->r, "k", NULL, 1, 1));
	EXPECT_EQ(-EINVAL, stm_wait(self->s, &k, &v0, 1, 4, 0));
	EXPECT_EQ(-EINVAL, stm_ring_prep_wait(self->r, &k, &v0, 1, 4, 0, 1));
	EXPECT_EQ(-EINVAL, stm_wait(self->s, &k, &v0, 0, 0, 0));
	EXPECT_EQ(-EINVAL, stm_ring_prep_wait(self->r, &k, &v0, 0, 0, 0, 1));
	EXPECT_EQ(-EINVAL, stm_wait(self->s, &k, NULL, 1, 0, 0));
	EXPECT_EQ(-EINVAL, stm_ring_prep_wait(self->r, &k, NULL, 1, 0, 0, 1));
	/* the general commit's own checks */
	op = (struct stm_op){ .key = "k", .op = 9 };
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	op = (struct stm_op){ .key = "k", .op = STM_OP_PUT, .reserved = { 0, 1 } };
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	op = (struct stm_op){ .key = "k", .op = STM_OP_PUT, .flags = 2 };
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	op = (struct stm_op){ .key = "k", .op = STM_OP_PUT, .result = &op.delta };
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	op = (struct stm_op){ .key = "k", .op = STM_OP_PUT };
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 1, 2, 1));
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, &op, 0, 0, 1));
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit(self->r, NULL, 1, 0, 1));
	EXPECT_EQ(-EINVAL, stm_ring_prep_commit_coll(self->r, NULL, 1));
	EXPECT_EQ(-EINVAL, stm_ring_prep_refresh(self->r, NULL, 1));
	EXPECT_EQ(-EINVAL, stm_ring_prep_read(NULL, &k, 1, 1));
	EXPECT_EQ(-EINVAL, stm_ring_submit(NULL));
	EXPECT_EQ(-EINVAL, stm_ring_reap(NULL, cqe, 2, 0));
	EXPECT_EQ(-EINVAL, stm_ring_reap(self->r, NULL, 2, 0));
	/* nothing was queued */
	EXPECT_EQ(0, stm_ring_submit(self->r));
	EXPECT_EQ(0, stm_ring_reap(self->r, cqe, 2, 2));
}

/* Over the limits: a value over max_value_size, keys over max_keys_per_call. */
TEST_F(ring, limits_as_the_synchronous_calls)
{
	struct stm_limits lim;
	struct stm_cqe cqe[2];
	struct stm_coll *c;
	struct stm_op op;
	const char **many;
	uint64_t *vers;
	size_t nmany;
	char *big;

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	ASSERT_LT(0U, lim.max_value_size);
	big = calloc(1, lim.max_value_size + 1);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(-E2BIG, stm_cas(self->s, "k", 0, big, lim.max_value_size + 1, NULL));
	EXPECT_EQ(-E2BIG, stm_ring_prep_cas(self->r, "k", 0, big, lim.max_value_size + 1, 1));
	EXPECT_EQ(-E2BIG, stm_swap(self->s, "k", big, lim.max_value_size + 1, NULL));
	EXPECT_EQ(-E2BIG, stm_ring_prep_put(self->r, "k", big, lim.max_value_size + 1, 1));
	op = (struct stm_op){ .key = "k", .op = STM_OP_PUT, .data = big,
			      .len = lim.max_value_size + 1 };
	EXPECT_EQ(-E2BIG, stm_ring_prep_commit(self->r, &op, 1, 0, 1));
	/* the largest value is fine */
	EXPECT_EQ(0, stm_ring_prep_put(self->r, "k", big, lim.max_value_size, 2));
	free(big);

	ASSERT_LT(0U, lim.max_keys_per_call);
	nmany = lim.max_keys_per_call + 1;
	many = calloc(nmany, sizeof(*many));
	vers = calloc(nmany, sizeof(*vers));
	ASSERT_NE(NULL, many);
	ASSERT_NE(NULL, vers);
	for (size_t i = 0; i < nmany; i++) {
		char *k = malloc(16);

		ASSERT_NE(NULL, k);
		snprintf(k, 16, "m%zu", i);
		many[i] = k;
	}
	EXPECT_EQ(-E2BIG, stm_using(self->s, many, nmany, &c));
	EXPECT_EQ(-E2BIG, stm_ring_prep_read(self->r, many, nmany, 1));
	EXPECT_EQ(-E2BIG, stm_wait(self->s, many, vers, nmany, 0, 0));
	EXPECT_EQ(-E2BIG, stm_ring_prep_wait(self->r, many, vers, nmany, 0, 0, 1));
	for (size_t i = 0; i < nmany; i++)
		free((void *)many[i]);
	free(many);
	free(vers);

	/* only the good put was queued */
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 2, 1));
	EXPECT_EQ(2ULL, cqe[0].tag);
	EXPECT_EQ(0, cqe[0].result);
}

/* Errors only the store finds come in the completion, as synchronously. */
TEST_F(ring, store_errors_in_the_completion)
{
	struct stm_op ops[2] = {
		{ .key = "d", .op = STM_OP_PUT, .data = "1", .len = 1 },
		{ .key = "d", .op = STM_OP_DEL },	/* a key written twice */
	};
	long long orig = param_get("max_keys_per_store");
	struct stm_cqe cqe[2];
	struct stm_info info;

	ASSERT_EQ(0, put(self->s, "three", "abc"));
	EXPECT_EQ(-EINVAL, stm_fetch_add(self->s, "three", 1, NULL));
	ASSERT_EQ(0, stm_ring_prep_fetch_add(self->r, "three", 1, 3));
	ASSERT_EQ(0, stm_ring_prep_commit(self->r, ops, 2, 0, 4));
	ASSERT_EQ(2, stm_ring_submit(self->r));
	ASSERT_EQ(2, stm_ring_reap(self->r, cqe, 2, 2));
	ASSERT_NE(NULL, by_tag(cqe, 2, 3));
	EXPECT_EQ(-EINVAL, by_tag(cqe, 2, 3)->result);
	ASSERT_NE(NULL, by_tag(cqe, 2, 4));
	EXPECT_EQ(-EINVAL, by_tag(cqe, 2, 4)->result);

	/* store full: the same -ENOSPC both ways (needs the parameter) */
	if (geteuid() != 0 || orig <= 0 || access(PARAM_DIR "max_keys_per_store", W_OK))
		return;
	ASSERT_EQ(0, stm_info(self->s, &info));
	ASSERT_EQ(0, param_set("max_keys_per_store", (long long)info.keys));
	EXPECT_EQ(-ENOSPC, put(self->s, "newkey", "x"));
	EXPECT_EQ(0, stm_ring_prep_put(self->r, "newkey2", "x", 1, 10));
	EXPECT_EQ(1, stm_ring_submit(self->r));
	EXPECT_EQ(1, stm_ring_reap(self->r, cqe, 2, 1));
	param_set("max_keys_per_store", orig);
	EXPECT_EQ(-ENOSPC, cqe[0].result);
	EXPECT_EQ(orig, param_get("max_keys_per_store"));
}

/* A read-only attachment reads, validates and waits, never writes. */
TEST_F(ring, read_only_store)
{
	const char *k = "three";
	struct stm_op del = { .key = "k", .op = STM_OP_DEL };
	struct stm_op rd = { .key = "three", .op = STM_OP_READ };
	struct stm_cqe cqe[4];
	struct stm_store *ro;
	struct stm_ring *rr;
	struct stm_coll *c;
	uint64_t v;

	ASSERT_EQ(0, put(self->s, "three", "abc"));
	v = rd.version = version_of(self->s, "three");
	ASSERT_EQ(0, stm_open(self->name, STM_RDONLY, 0, &ro));
	ASSERT_EQ(0, stm_ring_open(ro, 8, 0, &rr));
	EXPECT_EQ(-EBADF, stm_cas(ro, "k", 0, "x", 1, NULL));
	EXPECT_EQ(-EBADF, stm_ring_prep_cas(rr, "k", 0, "x", 1, 1));
	EXPECT_EQ(-EBADF, stm_swap(ro, "k", "x", 1, NULL));
	EXPECT_EQ(-EBADF, stm_ring_prep_put(rr, "k", "x", 1, 1));
	EXPECT_EQ(-EBADF, stm_fetch_add(ro, "k", 1, NULL));
	EXPECT_EQ(-EBADF, stm_ring_prep_fetch_add(rr, "k", 1, 1));
	EXPECT_EQ(-EBADF, stm_ring_prep_commit(rr, &del, 1, 0, 1));

	ASSERT_EQ(0, stm_using(ro, &k, 1, &c));
	ASSERT_EQ(0, stm_coll_commit(c));	/* validation only */
	ASSERT_EQ(0, stm_ring_prep_commit_coll(rr, c, 5));
	ASSERT_EQ(0, stm_ring_prep_commit(rr, &rd, 1, 0, 6));
	ASSERT_EQ(0, stm_ring_prep_read(rr, &k, 1, 7));
	ASSERT_EQ(0, stm_ring_prep_wait(rr, &k, &v, 1, 0, 0, 8));
	ASSERT_EQ(4, stm_ring_submit(rr));
	ASSERT_EQ(4, stm_ring_reap(rr, cqe, 4, 4));
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(cqe[i].tag == 8 ? -ETIMEDOUT : 0, cqe[i].result)
			TH_LOG("tag %d", (int)cqe[i].tag);
		if (cqe[i].tag == 7)
			stm_coll_free(cqe[i].coll);
	}
	ASSERT_EQ(0, stm_value_set(stm_coll_at(c, 0), "y", 1));
	EXPECT_EQ(-EBADF, stm_coll_commit(c));
	EXPECT_EQ(-EBADF, stm_ring_prep_commit_coll(rr, c, 9));
	stm_coll_free(c);
	stm_ring_close(rr);
	stm_close(ro);
}

/* Ring limits: -ENOBUFS when full; partial and non-blocking reaps; poll. */
TEST_F(ring, full_ring_partial_reaps_and_poll)
{
	struct stm_cqe cqe[8];
	struct stm_ring *small;
	struct pollfd pfd;

	EXPECT_EQ(-EINVAL, stm_ring_open(self->s, 0, 0, &small));
	EXPECT_EQ(-EINVAL, stm_ring_open(self->s, 4, 1, &small));
	EXPECT_EQ(-EINVAL, stm_ring_open(NULL, 4, 0, &small));
	EXPECT_EQ(-EINVAL, stm_ring_open(self->s, 32769, 0, &small));
	ASSERT_EQ(0, stm_ring_open(self->s, 4, 0, &small));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, stm_ring_prep_fetch_add(small, "f", 1, i));
	EXPECT_EQ(-ENOBUFS, stm_ring_prep_fetch_add(small, "f", 1, 4));
	EXPECT_EQ(-ENOBUFS, stm_ring_prep_read(small, (const char *[]){ "f" }, 1, 4));
	/* nothing submitted: nothing to wait for */
	EXPECT_EQ(0, stm_ring_reap(small, cqe, 8, 8));
	ASSERT_EQ(4, stm_ring_submit(small));
	EXPECT_EQ(0, stm_ring_submit(small));
	/* completed but not reaped still holds its slot */
	EXPECT_EQ(-ENOBUFS, stm_ring_prep_fetch_add(small, "f", 1, 4));
	pfd = (struct pollfd){ .fd = stm_ring_fd(small), .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_EQ(1, stm_ring_reap(small, cqe, 1, 1));
	EXPECT_EQ(0, stm_ring_prep_fetch_add(small, "f", 1, 4));
	EXPECT_EQ(1, stm_ring_submit(small));
	/* more asked for than in flight: what there is */
	EXPECT_EQ(4, stm_ring_reap(small, cqe, 8, 8));
	EXPECT_EQ(0, stm_ring_reap(small, cqe, 8, 1));
	stm_ring_close(small);
	EXPECT_EQ(5, get_i64(self->s, "f"));
}

/*
 * Close with a wait pending, a collection commit and a read submitted, and
 * a put prepared but never submitted: close returns, the submitted commit
 * took effect and its collection says so, the unsubmitted one did not.
 */
TEST_F(ring, close_with_operations_pending)
{
	const char *never[] = { "never" }, *p[] = { "p" };
	uint64_t zero[1] = { 0 }, ver = 0;
	struct stm_cqe cqe[2];
	struct stm_coll *c;
	struct stm_value *v;
	char *str;

	ASSERT_EQ(0, stm_using(self->s, p, 1, &c));
	v = stm_coll_at(c, 0);
	ASSERT_EQ(0, stm_value_set(v, "committed", 9));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, never, zero, 1, 0, -1, 1));
	ASSERT_EQ(0, stm_ring_prep_wait(self->r, never, zero, 1, 0, 60000, 2));
	ASSERT_EQ(0, stm_ring_prep_commit_coll(self->r, c, 3));
	ASSERT_EQ(0, stm_ring_prep_read(self->r, p, 1, 4));
	ASSERT_EQ(4, stm_ring_submit(self->r));
	ASSERT_EQ(0, stm_ring_prep_put(self->r, "unsent", "x", 1, 5));
	EXPECT_EQ(-EALREADY, stm_ring_prep_commit_coll(self->r, c, 6));
	stm_ring_close(self->r);
	self->r = NULL;

	str = get_str(self->s, "p", &ver);
	ASSERT_NE(NULL, str);
	EXPECT_STREQ("committed", str);
	free(str);
	EXPECT_EQ(0, stm_value_dirty(v));
	EXPECT_EQ(ver, stm_value_version(v));
	EXPECT_EQ(NULL, get_str(self->s, "unsent", NULL));
	stm_coll_free(c);

	/* the store goes on, with a new ring, and the old wait's key */
	ASSERT_EQ(0, put(self->s, "never", "now"));
	ASSERT_EQ(0, stm_ring_open(self->s, 8, 0, &self->r));
	ASSERT_EQ(0, stm_ring_prep_put(self->r, "after", "y", 1, 7));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(1, stm_ring_reap(self->r, cqe, 2, 1));
	EXPECT_EQ(0, cqe[0].result);
}

/*
 * A child closing its copy of the parent's ring lets go of the copy only:
 * the parent's pending wait still completes.
 */
TEST_F(ring, close_in_a_child_leaves_the_parent_ring_alone)
{
	const char *k[] = { "never" };
	uint64_t zero[1] = { 0 };
	struct stm_cqe cqe[2];
	pid_t pid;

	ASSERT_EQ(0, stm_ring_prep_wait(self->r, k, zero, 1, 0, -1, 1));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(0, stm_ring_prep_put(self->r, "unsent", "x", 1, 2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		stm_ring_close(self->r);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, stm_ring_reap(self->r, cqe, 2, 0));
	ASSERT_EQ(0, put(self->s, "never", "now"));
	ASSERT_EQ(1, stm_ring_submit(self->r));
	ASSERT_EQ(2, stm_ring_reap(self->r, cqe, 2, 2));
	ASSERT_NE(NULL, by_tag(cqe, 2, 1));
	EXPECT_EQ(0, by_tag(cqe, 2, 1)->result);
	ASSERT_NE(NULL, by_tag(cqe, 2, 2));
	EXPECT_EQ(0, by_tag(cqe, 2, 2)->result);
}

/* A process that exits, or execs, with its ring's waits pending. */
TEST_F(ring, exit_and_exec_with_waits_pending)
{
	for (int how = 0; how < 3; how++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			const char *k[] = { "never" };
			uint64_t zero[1] = { 0 };
			struct stm_store *s;
			struct stm_ring *r;

			if (stm_open(self->name, 0, 0, &s) || stm_ring_open(s, 8, 0, &r))
				_exit(10);
			if (stm_ring_prep_wait(r, k, zero, 1, 0, -1, 1) ||
			    stm_ring_prep_wait(r, k, zero, 1, 0, 5000, 2) ||
			    stm_ring_submit(r) != 2)
				_exit(11);
			switch (how) {
			case 0:
				_exit(0);
			case 1:
				stm_ring_close(r);
				stm_close(s);
				_exit(0);
			default:
				execl("/bin/true", "true", (char *)NULL);
				_exit(12);
			}
		}
		EXPECT_EQ(0, child_status(pid)) TH_LOG("how=%d", how);
	}
}

TEST_HARNESS_MAIN
