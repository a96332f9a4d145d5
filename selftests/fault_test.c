// SPDX-License-Identifier: GPL-2.0
/*
 * fault_test: every command run with its 1st, 2nd, ... N-th allocation
 * failing (selftests/fail_nth.h), until it succeeds with none failing.
 * Each failure must be a clean -ENOMEM that changes nothing; leaks on the
 * failure paths are left for the runner's kmemleak scan.
 *
 * Needs the debug kernel (scripts/debug-kernel): on a kernel without
 * fail-nth, or without root to set the fault-injection knobs, the whole
 * program skips (exit 4), as it does without /dev/stm.
 *
 * The standard for every new command: add a TEST here that runs it through
 * FAIL_NTH_RUN with a check that the store is unchanged.
 */
#include "stm_test_util.h"

#include "kselftest_harness.h"
#include "fail_nth.h"

/* Skip the whole program when fail-nth cannot be used. */
static void __attribute__((constructor)) fault_require_fail_nth(void)
{
	const char *why = fail_nth_setup(0);

	if (why) {
		printf("TAP version 13\n1..0 # SKIP %s\n", why);
		fflush(stdout);
		_exit(4);
	}
}

#define NMANY	6	/* > the module's on-stack COMMIT size: heap path */
#define NREAD	10	/* > its on-stack READ size */
#define BIG	20000U	/* a value past kmalloc's slabs: page allocations */

struct fx {
	int fd;				/* an open /dev/stm, maybe attached */
	char name[STMDEV_NAME_MAX];	/* the store an op attaches to */
	__u32 flags;			/* its ATTACH flags */
	struct stmdev_features want;	/* GET_FEATURES, uninjected */
	struct stmdev_features got;
	struct stm_fp fp;		/* the store before the op */
	/* COMMIT / READ: entries and values, touched before the loop */
	struct stmdev_commit_ent cents[NMANY];
	__u32 ncents;
	int (*undo)(struct fx *x);	/* after an absorbed (successful) run */
	struct stmdev_read_ent rents[NREAD];
	unsigned char rbuf[NREAD][64];
};

static const char *const fx_keys[] = {
	"k1", "k2", "absent", "fresh", "m0", "m1", "m2", "m3", "m4", "m5",
};
static const char *const many_keys[NMANY] = { "m0", "m1", "m2", "m3", "m4", "m5" };
static unsigned char val100[100], valbig[BIG];

/* ---- the ops: system calls only (see fail_nth.h) -------------------- */

static int op_features(void *arg)
{
	struct fx *x = arg;

	return stm_features(x->fd, &x->got);
}

static int op_nop(void *arg)
{
	struct fx *x = arg;
	struct stmdev_nop n = { 0 };

	return stm_ioctl(x->fd, STMDEV_IOC_NOP, &n);
}

static int op_open(void *arg)
{
	int fd = stm_open();

	(void)arg;
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* open + ATTACH + close, as a process attaching a store does. */
static int op_attach(void *arg)
{
	struct fx *x = arg;
	int fd = stm_open_attach(x->name, x->flags, 0600);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int op_commit(void *arg)
{
	struct fx *x = arg;

	return stm_commit(x->fd, x->cents, x->ncents, NULL, NULL);
}

static int op_read(void *arg)
{
	struct fx *x = arg;

	return stm_read(x->fd, x->rents, NREAD, NULL);
}

/* ---- the checks: after each injected run, with the fault disarmed --- */

static void check_features(struct __test_metadata *_metadata, void *arg,
			   unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret == 0)
		ASSERT_EQ(0, memcmp(&x->want, &x->got, sizeof(x->got)))
			TH_LOG("site %u: GET_FEATURES output differs", nth);
}

/* The device must still work after a failed open. */
static void check_open(struct __test_metadata *_metadata, void *arg,
		       unsigned int nth, int ret)
{
	int fd = stm_open();

	ASSERT_LE(0, fd) TH_LOG("site %u: open after a failed open: %d", nth, fd);
	close(fd);
}

/* A failed ATTACH|CREAT must not leave the store behind. */
static void check_not_created(struct __test_metadata *_metadata, void *arg,
			      unsigned int nth, int ret)
{
	struct fx *x = arg;
	int fd;

	if (ret == 0) {
		/* absorbed: the store was made; remove it for the next run */
		ASSERT_EQ(0, stm_unlink(x->name)) TH_LOG("site %u", nth);
		return;
	}
	fd = stm_open_attach(x->name, 0, 0);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(-ENOENT, fd)
		TH_LOG("site %u: a failed ATTACH|CREAT left store %s behind", nth, x->name);
}

/* Attaching an existing store, failed or not, must not change it. */
static void check_unchanged(struct __test_metadata *_metadata, void *arg,
			    unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct stm_fp now;

	ASSERT_EQ(0, stm_fingerprint(x->fd, fx_keys, ARRAY_SIZE(fx_keys), &now));
	ASSERT_EQ(0, stm_fp_diff(&x->fp, &now))
		TH_LOG("site %u (ret %d): store %s changed", nth, ret, x->name);
}

/*
 * A failed COMMIT (or READ) leaves the store as it was; a run that
 * succeeded anyway is undone (so the next run takes the same path) and
 * the store fingerprinted again.
 */
static void check_store(struct __test_metadata *_metadata, void *arg,
			unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret == 0) {
		if (x->undo)
			ASSERT_EQ(0, x->undo(x)) TH_LOG("site %u: undo", nth);
		ASSERT_EQ(0, stm_fingerprint(x->fd, fx_keys, ARRAY_SIZE(fx_keys), &x->fp));
		return;
	}
	check_unchanged(_metadata, arg, nth, ret);
}

/* Delete what the COMMIT entries wrote. */
static int undo_puts(struct fx *x)
{
	struct stmdev_commit_ent del[NMANY];
	__u32 i;

	for (i = 0; i < x->ncents; i++)
		cent_del(&del[i], (const void *)(uintptr_t)x->cents[i].key_addr,
			 x->cents[i].key_len);
	return stm_commit(x->fd, del, x->ncents, NULL, NULL);
}

/* ---- tests ---------------------------------------------------------- */

FIXTURE(fault) {
	struct fx x;
};

FIXTURE_SETUP(fault)
{
	memset(&self->x, 0, sizeof(self->x));
	self->x.fd = stm_open();
	ASSERT_LE(0, self->x.fd) TH_LOG("open %s: %d", STM_DEV, self->x.fd);
	stm_name(self->x.name, sizeof(self->x.name), "fault");
}

FIXTURE_TEARDOWN(fault)
{
	if (self->x.fd >= 0)
		close(self->x.fd);
	stm_unlink(self->x.name);
}

/* Skip unless ATTACH is implemented: probe it, uninjected, and clean up. */
#define REQUIRE_ATTACH(x) do {						\
	int __fd = stm_open_attach((x)->name, STMDEV_ATTACH_CREAT, 0600); \
	if (__fd == -ENOTTY)						\
		SKIP(return, "ATTACH not implemented (ENOTTY)");	\
	ASSERT_LE(0, __fd) TH_LOG("ATTACH|CREAT %s: %d", (x)->name, __fd); \
	close(__fd);							\
	ASSERT_EQ(0, stm_unlink((x)->name));				\
} while (0)

TEST_F(fault, get_features)
{
	struct fail_nth_stats st;

	ASSERT_EQ(0, stm_features(self->x.fd, &self->x.want));
	FAIL_NTH_RUN(0, op_features, check_features, &self->x, &st);
	/* the last, uninjected run */
	EXPECT_EQ(0, memcmp(&self->x.want, &self->x.got, sizeof(self->x.got)));
}

TEST_F(fault, nop)
{
	struct fail_nth_stats st;

	FAIL_NTH_RUN(0, op_nop, NULL, &self->x, &st);
}

/* open allocates (struct file, our per-fd state): some site must fail. */
TEST_F(fault, open)
{
	struct fail_nth_stats st;

	FAIL_NTH_RUN(0, op_open, check_open, &self->x, &st);
	EXPECT_LT(0U, st.failed) TH_LOG("no allocation in open() failed: is fail-nth working?");
}

TEST_F(fault, attach_create)
{
	struct fail_nth_stats st;
	int fd;

	REQUIRE_ATTACH(&self->x);
	self->x.flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	FAIL_NTH_RUN(0, op_attach, check_not_created, &self->x, &st);
	EXPECT_LT(0U, st.failed);

	/* The last run created it, once. */
	fd = stm_open_attach(self->x.name, 0, 0);
	ASSERT_LE(0, fd) TH_LOG("the store is missing after the run: %d", fd);
	close(fd);
}

/* Same, with pages failing too (the store's larger allocations). */
TEST_F(fault, attach_create_pages)
{
	struct fail_nth_stats st;

	if (!fail_nth_available(FAIL_NTH_PAGES))
		SKIP(return, "no fail_page_alloc");
	REQUIRE_ATTACH(&self->x);
	self->x.flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	FAIL_NTH_RUN(FAIL_NTH_PAGES, op_attach, check_not_created, &self->x, &st);
	EXPECT_LT(0U, st.failed);
}

TEST_F(fault, attach_existing)
{
	struct fail_nth_stats st;
	struct stmdev_features f;

	REQUIRE_ATTACH(&self->x);
	ASSERT_EQ(0, stm_attach(self->x.fd, self->x.name, STMDEV_ATTACH_CREAT, 0600));
	ASSERT_EQ(0, stm_features(self->x.fd, &f));
	if (f.features & STMDEV_F_COMMIT) {
		ASSERT_EQ(0, stm_put_str(self->x.fd, "k1", "one", NULL));
		ASSERT_EQ(0, stm_put_str(self->x.fd, "k2", "two", NULL));
	}
	ASSERT_EQ(0, stm_fingerprint(self->x.fd, fx_keys, ARRAY_SIZE(fx_keys), &self->x.fp));

	self->x.flags = 0;
	FAIL_NTH_RUN(0, op_attach, check_unchanged, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	self->x.flags = STMDEV_ATTACH_RDONLY;
	FAIL_NTH_RUN(0, op_attach, check_unchanged, &self->x, &st);
	EXPECT_LT(0U, st.failed);
}

/* Attach self->x.fd to a new store holding k1 and k2; skip without COMMIT. */
#define REQUIRE_STORE(x) do {						\
	struct stmdev_features __f;					\
	ASSERT_EQ(0, stm_features((x)->fd, &__f));			\
	if (!(__f.features & STMDEV_F_COMMIT) || !(__f.features & STMDEV_F_READ)) \
		SKIP(return, "no COMMIT/READ in this module");		\
	ASSERT_EQ(0, stm_attach((x)->fd, (x)->name, STMDEV_ATTACH_CREAT, 0600)); \
	ASSERT_EQ(0, stm_put_str((x)->fd, "k1", "one", NULL));		\
	ASSERT_EQ(0, stm_put_str((x)->fd, "k2", "two", NULL));		\
	memset(val100, 'v', sizeof(val100));				\
	memset(valbig, 'b', sizeof(valbig));				\
	ASSERT_EQ(0, stm_fingerprint((x)->fd, fx_keys, ARRAY_SIZE(fx_keys), &(x)->fp)); \
} while (0)

/* A new key with an out-of-line value: the value, then the key. */
TEST_F(fault, commit_put_new)
{
	struct fail_nth_stats st;
	struct stm_val v;

	REQUIRE_STORE(&self->x);
	cent_put(&self->x.cents[0], "fresh", 5, val100, sizeof(val100));
	self->x.ncents = 1;
	self->x.undo = undo_puts;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	ASSERT_EQ(0, stm_get_str(self->x.fd, "fresh", &v));
	EXPECT_TRUE(v.present);
	EXPECT_EQ(sizeof(val100), v.len);
}

/* More entries than fit on the stack, all new keys. */
TEST_F(fault, commit_many_new)
{
	struct fail_nth_stats st;
	int i;

	REQUIRE_STORE(&self->x);
	for (i = 0; i < NMANY; i++)
		cent_put(&self->x.cents[i], many_keys[i], 2, val100, 20 + i);
	self->x.ncents = NMANY;
	self->x.undo = undo_puts;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
}

/* A value too big for kmalloc's slabs: page allocations fail too. */
TEST_F(fault, commit_put_big)
{
	struct fail_nth_stats st;
	struct stmdev_features f;
	struct stm_val v;

	REQUIRE_STORE(&self->x);
	ASSERT_EQ(0, stm_features(self->x.fd, &f));
	if (f.max_value_size < BIG)
		SKIP(return, "max_value_size %u < %u", f.max_value_size, BIG);
	if (!fail_nth_available(FAIL_NTH_PAGES))
		SKIP(return, "no fail_page_alloc");
	cent_put(&self->x.cents[0], "k1", 2, valbig, BIG);
	self->x.ncents = 1;
	self->x.undo = NULL;	/* k1 replaced: the new state is the reference */
	FAIL_NTH_RUN(FAIL_NTH_PAGES, op_commit, check_store, &self->x, &st);
	/*
	 * The value is kvmalloc'd: its kmalloc attempt fails, and the vmalloc
	 * fallback then runs with the fault spent.  So the command cannot
	 * fail here, but the fallback path must have run.
	 */
	EXPECT_LT(0U, st.absorbed);
	ASSERT_EQ(-E2BIG, stm_get_str(self->x.fd, "k1", &v));
	EXPECT_EQ(BIG, v.len);
}

/* More keys than fit on the stack. */
TEST_F(fault, read_many)
{
	struct fail_nth_stats st;
	int i;

	REQUIRE_STORE(&self->x);
	for (i = 0; i < NREAD; i++)
		rent_init(&self->x.rents[i], fx_keys[i], strlen(fx_keys[i]),
			  self->x.rbuf[i], sizeof(self->x.rbuf[i]));
	FAIL_NTH_RUN(0, op_read, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_TRUE(!!(self->x.rents[0].flags & STMDEV_RENT_PRESENT));
	EXPECT_EQ(0, memcmp(self->x.rbuf[0], "one", 3));
}

TEST_HARNESS_MAIN
