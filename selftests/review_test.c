// SPDX-License-Identifier: GPL-2.0
/*
 * review_test.c - regressions for the defects of issue 10, one or more
 * tests each:
 *  - a FETCH room with an unwritable middle page: EFAULT, nothing committed
 *    (the old value was published away and then lost);
 *  - ADD onto a value that is not 8 bytes: EINVAL with `conflict` the
 *    entry's index (dispatch copied no output on EINVAL);
 *  - a read-only COMMIT's version is a clock at which its reads held, also
 *    for a key seen absent (deleted after the clock was read);
 *  - WAIT with timeout_ns = INT64_MAX sleeps (the deadline overflowed);
 *  - requests too big for the per-CPU scratch page still work (the stack
 *    buffers they replaced made 1.2-1.3 KiB frames);
 *  - LIST_STORES still shows CAP_DAC_OVERRIDE every store and others only
 *    theirs (it now asks the capability once, without auditing).
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

FIXTURE(rv) {
	char name[STMDEV_NAME_MAX];
	int fd;
};

FIXTURE_SETUP(rv)
{
	t_name(self->name, sizeof(self->name), "review");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				   STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(rv)
{
	t_unlink(self->name);
	close(self->fd);
}

/* ---- 1. FETCH into a room whose middle page faults --------------------- */

/*
 * Swap (PUT) or take-and-delete (DEL) key "k", holding a 2-page value, with
 * its old value fetched into a 3-page room whose middle page is PROT_NONE:
 * only the room's first and last pages are writable.
 */
static void fetch_middle_page(struct __test_metadata *_metadata, int fd,
			      bool del)
{
	static const char *const keys[] = { "k" };
	long page = sysconf(_SC_PAGESIZE);
	struct stmdev_commit_ent e[2];
	struct t_fp before, after;
	unsigned char *val, *room;
	__u32 vlen = 2 * page;
	__u64 version;

	if (t_param_get("max_value_size") < vlen)
		SKIP(return, "max_value_size below two pages");
	val = malloc(vlen);
	ASSERT_NE(NULL, val);
	memset(val, 'A', vlen);
	ASSERT_EQ(0, t_put(fd, "k", 1, val, vlen, NULL));
	room = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, room);
	ASSERT_EQ(0, mprotect(room + page, page, PROT_NONE));
	ASSERT_EQ(0, t_fingerprint(fd, keys, 1, &before));

	cent_read(&e[0], "k", 1, 0);
	e[0].flags = STMDEV_CENT_FETCH;
	e[0].val_addr = t_ptr(room + 64);
	e[0].val_len = 3 * page - 128;
	if (del)
		cent_del(&e[1], "k", 1);
	else
		cent_put(&e[1], "k", 1, "new", 3);
	EXPECT_EQ(-EFAULT, t_commit(fd, e, 2, NULL, NULL));
	ASSERT_EQ(0, t_fingerprint(fd, keys, 1, &after));
	EXPECT_EQ(0, t_fp_diff(&before, &after));
	EXPECT_TRUE(after.k[0].present);
	EXPECT_EQ(vlen, after.k[0].len);

	/* Writable again (the middle page not yet faulted in): it works. */
	ASSERT_EQ(0, mprotect(room + page, page, PROT_READ | PROT_WRITE));
	e[0].val_len = 3 * page - 128;
	ASSERT_EQ(0, t_commit(fd, e, 2, &version, NULL));
	EXPECT_EQ(vlen, e[0].val_len);
	EXPECT_EQ(before.k[0].version, e[0].version);
	EXPECT_EQ(0, memcmp(room + 64, val, vlen));
	EXPECT_EQ(before.clock + 1, version);
	munmap(room, 3 * page);
	free(val);
}

TEST_F(rv, fetch_swap_middle_page_efault_changes_nothing)
{
	fetch_middle_page(_metadata, self->fd, false);
}

TEST_F(rv, fetch_take_middle_page_efault_changes_nothing)
{
	fetch_middle_page(_metadata, self->fd, true);
}

/* ---- 2. ADD onto a value that is not 8 bytes --------------------------- */

TEST_F(rv, add_onto_non8_value_names_the_entry)
{
	static const char *const keys[] = { "x", "y", "s", "h", "n" };
	char heap[40];
	struct stmdev_commit_ent e[5];
	struct t_fp before, after;
	__s64 one = (__s64)htole64(1);
	__u32 conflict;

	memset(heap, 'h', sizeof(heap));
	ASSERT_EQ(0, t_put_str(self->fd, "s", "abc", NULL));
	ASSERT_EQ(0, t_put(self->fd, "h", 1, heap, sizeof(heap), NULL));
	ASSERT_EQ(0, t_put_i64(self->fd, "n", 5, NULL));
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 5, &before));

	/* An inline 3-byte value, at index 2 of 3. */
	cent_put(&e[0], "x", 1, "1", 1);
	cent_put(&e[1], "y", 1, "2", 1);
	cent_add(&e[2], "s", 1, &one);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 3, NULL, &conflict));
	EXPECT_EQ(2U, conflict);

	/* A heap value, alone. */
	cent_add(&e[0], "h", 1, &one);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(0U, conflict);

	/* With FETCH, and a good ADD beside it. */
	cent_add(&e[0], "n", 1, &one);
	cent_add(&e[1], "s", 1, &one);
	e[1].flags = STMDEV_CENT_FETCH;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 2, NULL, &conflict));
	EXPECT_EQ(1U, conflict);

	/* Two bad ADDs: the first entry of them, whatever the key order. */
	cent_put(&e[0], "x", 1, "1", 1);
	cent_add(&e[1], "h", 1, &one);
	cent_add(&e[2], "n", 1, &one);
	cent_add(&e[3], "s", 1, &one);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 4, NULL, &conflict));
	EXPECT_EQ(1U, conflict);
	cent_add(&e[1], "s", 1, &one);
	cent_add(&e[3], "h", 1, &one);
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 4, NULL, &conflict));
	EXPECT_EQ(1U, conflict);

	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 5, &after));
	EXPECT_EQ(0, t_fp_diff(&before, &after));
}

/* Every other failure reports no conflict (the field is always written). */
TEST_F(rv, other_errors_report_no_conflict)
{
	struct stmdev_commit_ent e[1];
	__u32 conflict;
	long long max = t_param_get("max_keys_per_call");

	ASSERT_LT(0, max);
	cent_put(&e[0], "x", 1, "1", 1);
	/* count over max_keys_per_call: E2BIG, an error with outputs */
	EXPECT_EQ(-E2BIG, t_commit(self->fd, e, max + 1, NULL, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	/* unknown commit flag: EINVAL */
	EXPECT_EQ(-EINVAL, t_commit_flags(self->fd, e, 1, 1U << 31, NULL,
					    &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
	/* bad entry op: EINVAL */
	e[0].op = 99;
	EXPECT_EQ(-EINVAL, t_commit(self->fd, e, 1, NULL, &conflict));
	EXPECT_EQ(STMDEV_NO_CONFLICT, conflict);
}

/* ---- 3. a read-only COMMIT's version and deletes ----------------------- */

#define STM_DBG_COMMIT_RO_CLOCK	4	/* kmod/debug.h */

struct flip {
	int fd;
	int rounds;
};

/* The only writer: DEL k, PUT k, DEL k, ... so each takes the next clock. */
static int flipper(void *arg, int idx)
{
	struct flip *f = arg;
	int i;

	t_pin(1);
	for (i = 0; i < f->rounds; i++) {
		CK_EQ(0, t_del(f->fd, "k", 1, NULL));
		CK_EQ(0, t_put_str(f->fd, "k", "v", NULL));
	}
	return 0;
}

/*
 * While a child deletes and re-creates "k" (versions alternate: a PUT's
 * clock has the parity of p0, a DEL's the other), read-only commits
 * validate "k absent".  Each that succeeds must report a version at which
 * k was absent: a DEL's clock, never a PUT's.  On a debug kernel a delay
 * between the commit's clock read and its validation hits the race every
 * time; elsewhere it is hit by chance, or not at all (then it passes).
 */
TEST_F(rv, ro_commit_version_sees_deletes)
{
	struct flip f = { .fd = self->fd, .rounds = 1500 };
	bool knob = t_param_writable("debug_delay_site");
	unsigned int ok = 0, stale = 0, bad = 0;
	struct stmdev_commit_ent e;
	__u64 p0, v, first_bad = 0;
	int status = -1, ret;
	pid_t pid;

	ASSERT_EQ(0, t_put_str(self->fd, "k", "v", &p0));
	if (knob) {
		ASSERT_EQ(0, t_param_set("debug_delay_us", 300));
		ASSERT_EQ(0, t_param_set("debug_delay_site",
					   STM_DBG_COMMIT_RO_CLOCK));
	}
	/* Pin after the fork: the child would inherit one CPU, and stay. */
	pid = t_fork(flipper, &f, 0);
	ASSERT_LT(0, pid);
	t_pin(0);
	do {
		cent_read(&e, "k", 1, 0);
		ret = t_commit(self->fd, &e, 1, &v, NULL);
		if (ret == -ESTALE) {
			stale++;
		} else if (ret == 0) {
			ok++;
			if ((v - p0) % 2 != 1 && !bad++)
				first_bad = v;
		} else {
			break;
		}
	} while (waitpid(pid, &status, WNOHANG) == 0);
	if (knob)
		t_param_set("debug_delay_site", 0);
	if (ret)
		waitpid(pid, &status, 0);
	ASSERT_TRUE(ret == 0 || ret == -ESTALE);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	TH_LOG("knob %d: %u commits saw k absent, %u present; %u at a clock where k existed (first %llu, p0 %llu, last %llu)",
	       knob, ok, stale, bad, (unsigned long long)first_bad,
	       (unsigned long long)p0, (unsigned long long)v);
	EXPECT_EQ(0U, bad);
}

/* Without a race: the version is at least the clock of the delete seen. */
TEST_F(rv, ro_commit_version_after_delete)
{
	struct stmdev_commit_ent e;
	__u64 d, v;

	ASSERT_EQ(0, t_put_str(self->fd, "k", "v", NULL));
	ASSERT_EQ(0, t_del(self->fd, "k", 1, &d));
	cent_read(&e, "k", 1, 0);
	ASSERT_EQ(0, t_commit(self->fd, &e, 1, &v, NULL));
	EXPECT_LE(d, v);
}

/* ---- 4. requests past the per-CPU scratch page ------------------------- */

TEST_F(rv, big_requests_spill_to_the_heap)
{
	enum { N = 24 };
	static char keys[N][STMDEV_KEY_MAX];
	struct stmdev_commit_ent ce[N];
	struct stmdev_read_ent re[N];
	char vals[N][32];
	int i;

	for (i = 0; i < N; i++) {
		memset(keys[i], 'a' + i, STMDEV_KEY_MAX);
		memset(vals[i], 'A' + i, sizeof(vals[i]));
		cent_put(&ce[i], keys[i], STMDEV_KEY_MAX, vals[i], i + 1);
	}
	ASSERT_EQ(0, t_commit(self->fd, ce, N, NULL, NULL));
	memset(vals, 0, sizeof(vals));
	for (i = 0; i < N; i++)
		rent_init(&re[i], keys[i], STMDEV_KEY_MAX, vals[i], sizeof(vals[i]));
	ASSERT_EQ(0, t_read(self->fd, re, N, NULL));
	for (i = 0; i < N; i++) {
		EXPECT_EQ((__u32)i + 1, re[i].val_len);
		EXPECT_EQ('A' + i, vals[i][i]);
		EXPECT_EQ(0, vals[i][i + 1]);
	}
}

/* ---- 5. WAIT with the longest timeout ---------------------------------- */

static int commit_later(void *arg, int idx)
{
	int *fd = arg;

	usleep(300 * 1000);
	CK_EQ(0, t_put_str(*fd, "w", "2", NULL));
	return 0;
}

TEST_F(rv, wait_int64_max_timeout_sleeps)
{
	struct stmdev_wait_ent we = { .key_addr = t_ptr("w"), .key_len = 1 };
	struct stmdev_wait w = {
		.entries = t_ptr(&we), .count = 1, .timeout_ns = INT64_MAX,
		.index = 77,
	};
	pid_t pid;

	ASSERT_EQ(0, t_put_str(self->fd, "w", "1", &we.version));
	pid = t_fork(commit_later, &self->fd, 0);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_WAIT, &w));
	EXPECT_EQ(0U, w.index);
	EXPECT_EQ(0, t_wait_all(&pid, 1));
}

/* ---- 6. LIST_STORES and CAP_DAC_OVERRIDE ------------------------------- */

/* Is @name among the stores LIST_STORES shows the caller? */
static int listed(const char *name)
{
	static struct stmdev_store_ent ents[64];
	struct stmdev_list_stores ls;
	int fd = t_open(), found = 0, ret;
	__u32 i;

	if (fd < 0)
		return fd;
	memset(&ls, 0, sizeof(ls));
	do {
		ls.addr = t_ptr(ents);
		ls.len = sizeof(ents);
		ret = t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls);
		if (ret < 0)
			break;
		for (i = 0; i < ls.count; i++)
			found |= !strcmp(ents[i].name, name);
	} while (ls.cursor);
	close(fd);
	return ret < 0 ? ret : found;
}

static int nobody_lists(void *arg)
{
	return listed(arg);
}

TEST_F(rv, list_stores_override_once)
{
	char name[STMDEV_NAME_MAX];
	int fd;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	t_name(name, sizeof(name), "mode0");
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, listed(name));
	EXPECT_EQ(1, listed(self->name));
	/* nobody: neither the 0000 store nor root's 0600 one */
	EXPECT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, nobody_lists,
				name));
	EXPECT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, nobody_lists,
				self->name));
	t_unlink(name);
	close(fd);
}

TEST_HARNESS_MAIN
