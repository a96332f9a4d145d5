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

#include <poll.h>
#include <liburing.h>

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

#define NMANY	6	/* new keys, values over 16 bytes: heap allocations */
#define NREAD	48	/* > a READ that fits its per-CPU scratch page: heap path */
#define BIG	20000U	/* a value past kmalloc's slabs: page allocations */
#define NW	8	/* keys of a WAIT or WATCH set */
#define NSTORES	16	/* LIST_STORES entries per call */
#define NFAM	4	/* FAMILY_STATS entries per call */
#define LISTBUF	4096	/* LIST buffer: room for ~150 short keys (a slab) */
#define LISTBIG	(64U << 10)	/* past kmalloc's slabs: kvmalloc's vmalloc half */
#define SENTINEL 0xa5a5a5a5U	/* an out field a failed command must not touch */
#define SEC	1000000000LL

struct fx {
	int fd;				/* an open /dev/stm, maybe attached */
	char name[STMDEV_NAME_MAX];	/* the store an op attaches to */
	__u32 flags;			/* its ATTACH flags */
	struct stmdev_features want;	/* GET_FEATURES, uninjected */
	struct stmdev_features got;
	struct t_fp fp;		/* the store before the op */
	/* COMMIT / READ: entries and values, touched before the loop */
	struct stmdev_commit_ent cents[NMANY];
	__u32 ncents;
	int (*undo)(struct fx *x);	/* after an absorbed (successful) run */
	struct stmdev_read_ent rents[NREAD];
	unsigned char rbuf[NREAD][64];
	unsigned char fbuf[3][128];	/* READ+FETCH rooms */

	/* the keys the fingerprint reads (NULL: fx_keys) */
	const char *const *keys;
	unsigned int nkeys;

	__u32 family;			/* COMMIT/WAIT family, 0 = none */
	__u64 clock;			/* READ_AT in */
	struct stmdev_commit_ent ucents[NMANY];	/* undo_restore() */
	__u32 nucents;
	__s64 delta[NMANY];		/* ADD+FETCH: little-endian deltas */

	/* outputs of the no-input commands, and their references */
	struct stmdev_info info, info_ref;
	struct stmdev_stats stats, stats_ref;
	struct stmdev_stats st0;	/* STATS before the op (WAIT, WATCH) */
	struct stmdev_family fam;
	__u32 nfam0;			/* families registered before the op */
	struct stmdev_family_ent fents[NFAM], fents_ref[NFAM];
	struct stmdev_family_stats fstats;

	/* LIST, LIST_STORES */
	struct stmdev_list list;
	__u32 listlen;
	unsigned char *listbuf;
	struct stmdev_list_stores ls, ls_ref;
	struct stmdev_store_ent sents[NSTORES], sents_ref[NSTORES];

	/* WAIT and WATCH */
	struct stmdev_wait_ent went[NW], went2[NW];
	struct stmdev_wait wait;
	int wait_ok;			/* the result the op counts as success */
	struct stmdev_watch watch;
	int fd2;			/* the fd whose watch set is replaced */
	pid_t child;			/* the process that completes a WAIT */

	__u64 fam_waits0, fam_commits0;	/* FAMILY_STATS of x->family before */

	/* io_uring */
	struct stmdev_commit cm;
	struct stmdev_read rd;
	struct io_uring ring;
	bool have_ring;
	unsigned int uop;		/* cmd_op */
	void *uarg;			/* its struct */
	unsigned int ulen;
};

static const char *const fx_keys[] = {
	"k1", "k2", "absent", "fresh", "m0", "m1", "m2", "m3", "m4", "m5",
};
/* READ entry i: the keys above, over and over (READ allows repeats). */
#define FX_KEY(i)	fx_keys[(i) % ARRAY_SIZE(fx_keys)]
static const char *const many_keys[NMANY] = { "m0", "m1", "m2", "m3", "m4", "m5" };
static unsigned char val100[100], valbig[BIG];

/* ---- the ops: system calls only (see fail_nth.h) -------------------- */

static int op_features(void *arg)
{
	struct fx *x = arg;

	return t_features(x->fd, &x->got);
}

static int op_nop(void *arg)
{
	struct fx *x = arg;
	struct stmdev_nop n = { 0 };

	return t_ioctl(x->fd, STMDEV_IOC_NOP, &n);
}

static int op_open(void *arg)
{
	int fd = t_open();

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
	int fd = t_open_attach(x->name, x->flags, 0600);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int op_commit(void *arg)
{
	struct fx *x = arg;
	struct stmdev_commit c = {
		.entries = t_ptr(x->cents),
		.count = x->ncents,
		.family = x->family,
	};

	return t_ioctl(x->fd, STMDEV_IOC_COMMIT, &c);
}

static int op_read(void *arg)
{
	struct fx *x = arg;

	return t_read(x->fd, x->rents, NREAD, NULL);
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
	int fd = t_open();

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
		ASSERT_EQ(0, t_unlink(x->name)) TH_LOG("site %u", nth);
		return;
	}
	fd = t_open_attach(x->name, 0, 0);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(-ENOENT, fd)
		TH_LOG("site %u: a failed ATTACH|CREAT left store %s behind", nth, x->name);
}

/* Fingerprint the store attached to x->fd, on x's keys. */
static int fx_fp(struct fx *x, struct t_fp *fp)
{
	if (!x->keys)
		return t_fingerprint(x->fd, fx_keys, ARRAY_SIZE(fx_keys), fp);
	return t_fingerprint(x->fd, x->keys, x->nkeys, fp);
}

/* Attaching an existing store, failed or not, must not change it. */
static void check_unchanged(struct __test_metadata *_metadata, void *arg,
			    unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct t_fp now;

	ASSERT_EQ(0, fx_fp(x, &now));
	ASSERT_EQ(0, t_fp_diff(&x->fp, &now))
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
		ASSERT_EQ(0, fx_fp(x, &x->fp));
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
	return t_commit(x->fd, del, x->ncents, NULL, NULL);
}

/* ---- tests ---------------------------------------------------------- */

FIXTURE(fault) {
	struct fx x;
};

FIXTURE_SETUP(fault)
{
	memset(&self->x, 0, sizeof(self->x));
	self->x.fd2 = -1;
	self->x.fd = t_open();
	ASSERT_LE(0, self->x.fd) TH_LOG("open %s: %d", STM_DEV, self->x.fd);
	t_name(self->x.name, sizeof(self->x.name), "fault");
}

FIXTURE_TEARDOWN(fault)
{
	if (self->x.child > 0) {
		/* a test that failed before its WAIT was completed */
		kill(self->x.child, SIGKILL);
		waitpid(self->x.child, NULL, 0);
	}
	if (self->x.have_ring)
		io_uring_queue_exit(&self->x.ring);
	if (self->x.fd2 >= 0)
		close(self->x.fd2);
	if (self->x.fd >= 0)
		close(self->x.fd);
	free(self->x.listbuf);
	t_unlink(self->x.name);
}

/* Skip unless ATTACH is implemented: probe it, uninjected, and clean up. */
#define REQUIRE_ATTACH(x) do {						\
	int __fd = t_open_attach((x)->name, STMDEV_ATTACH_CREAT, 0600); \
	if (__fd == -ENOTTY)						\
		SKIP(return, "ATTACH not implemented (ENOTTY)");	\
	ASSERT_LE(0, __fd) TH_LOG("ATTACH|CREAT %s: %d", (x)->name, __fd); \
	close(__fd);							\
	ASSERT_EQ(0, t_unlink((x)->name));				\
} while (0)

TEST_F(fault, get_features)
{
	struct fail_nth_stats st;

	ASSERT_EQ(0, t_features(self->x.fd, &self->x.want));
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
	fd = t_open_attach(self->x.name, 0, 0);
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
	ASSERT_EQ(0, t_attach(self->x.fd, self->x.name, STMDEV_ATTACH_CREAT, 0600));
	ASSERT_EQ(0, t_features(self->x.fd, &f));
	if (f.features & STMDEV_F_COMMIT) {
		ASSERT_EQ(0, t_put_str(self->x.fd, "k1", "one", NULL));
		ASSERT_EQ(0, t_put_str(self->x.fd, "k2", "two", NULL));
	}
	ASSERT_EQ(0, t_fingerprint(self->x.fd, fx_keys, ARRAY_SIZE(fx_keys), &self->x.fp));

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
	ASSERT_EQ(0, t_features((x)->fd, &__f));			\
	if (!(__f.features & STMDEV_F_COMMIT) || !(__f.features & STMDEV_F_READ)) \
		SKIP(return, "no COMMIT/READ in this module");		\
	ASSERT_EQ(0, t_attach((x)->fd, (x)->name, STMDEV_ATTACH_CREAT, 0600)); \
	ASSERT_EQ(0, t_put_str((x)->fd, "k1", "one", NULL));		\
	ASSERT_EQ(0, t_put_str((x)->fd, "k2", "two", NULL));		\
	memset(val100, 'v', sizeof(val100));				\
	memset(valbig, 'b', sizeof(valbig));				\
	ASSERT_EQ(0, fx_fp((x), &(x)->fp));				\
} while (0)

/* A new key with an out-of-line value: the value, then the key. */
TEST_F(fault, commit_put_new)
{
	struct fail_nth_stats st;
	struct t_val v;

	REQUIRE_STORE(&self->x);
	cent_put(&self->x.cents[0], "fresh", 5, val100, sizeof(val100));
	self->x.ncents = 1;
	self->x.undo = undo_puts;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	ASSERT_EQ(0, t_get_str(self->x.fd, "fresh", &v));
	EXPECT_TRUE(v.present);
	EXPECT_EQ(sizeof(val100), v.len);
}

/* Several entries, all new keys. */
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
	struct t_val v;

	REQUIRE_STORE(&self->x);
	ASSERT_EQ(0, t_features(self->x.fd, &f));
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
	ASSERT_EQ(-E2BIG, t_get_str(self->x.fd, "k1", &v));
	EXPECT_EQ(BIG, v.len);
}

/* More keys than fit the per-CPU scratch page. */
TEST_F(fault, read_many)
{
	struct fail_nth_stats st;
	int i;

	REQUIRE_STORE(&self->x);
	for (i = 0; i < NREAD; i++)
		rent_init(&self->x.rents[i], FX_KEY(i), strlen(FX_KEY(i)),
			  self->x.rbuf[i], sizeof(self->x.rbuf[i]));
	FAIL_NTH_RUN(0, op_read, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_TRUE(!!(self->x.rents[0].flags & STMDEV_RENT_PRESENT));
	EXPECT_EQ(0, memcmp(self->x.rbuf[0], "one", 3));
}


/* ==== every other command ============================================ */

#define REQUIRE_FEATURE(x, bit) do {					\
	struct stmdev_features __f;					\
	ASSERT_EQ(0, t_features((x)->fd, &__f));			\
	if (!(__f.features & (bit)))					\
		SKIP(return, "module without " #bit);			\
} while (0)

/* Is every byte of p[0..len) c? */
static bool all_bytes(const void *p, size_t len, unsigned char c)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != c)
			return false;
	return true;
}

/* Register a family on fd: its id, or -errno. */
static int fam_add(int fd, const char *name)
{
	struct stmdev_family fam;
	int ret;

	memset(&fam, 0, sizeof(fam));
	snprintf(fam.name, sizeof(fam.name), "%s", name);
	ret = t_ioctl(fd, STMDEV_IOC_FAMILY, &fam);
	return ret < 0 ? ret : (int)fam.id;
}

/* FAMILY_STATS of the whole store: the count, or -errno; ent of id if asked. */
static int fam_get(int fd, __u32 id, struct stmdev_family_ent *ent)
{
	struct stmdev_family_ent all[STMDEV_FAMILIES_MAX];
	struct stmdev_family_stats fs;
	int ret;

	memset(&fs, 0, sizeof(fs));
	fs.addr = t_ptr(all);
	fs.len = sizeof(all);
	ret = t_ioctl(fd, STMDEV_IOC_FAMILY_STATS, &fs);
	if (ret < 0)
		return ret;
	if (ent) {
		if (!id || id > fs.count)
			return -ENOENT;
		*ent = all[id - 1];
	}
	return (int)fs.count;
}
/* ---- UNLINK ----------------------------------------------------------- */

/* UNLINK on an fd that has no store attached (it needs none). */
static int op_unlink_ioctl(void *arg)
{
	struct fx *x = arg;
	struct stmdev_unlink u;

	memset(&u, 0, sizeof(u));
	memcpy(u.name, x->name, strlen(x->name));
	return t_ioctl(x->fd2, STMDEV_IOC_UNLINK, &u);
}

/* open + UNLINK + close, as `stmctl rm` does: open's sites fail too. */
static int op_unlink(void *arg)
{
	struct fx *x = arg;

	return t_unlink(x->name);
}

/* After the name was removed: a new store of that name, with k1 and k2. */
static int fx_recreate(struct fx *x)
{
	int fd = t_open_attach(x->name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	int ret;

	if (fd < 0)
		return fd;
	close(x->fd);
	x->fd = fd;
	ret = t_put_str(fd, "k1", "one", NULL);
	if (!ret)
		ret = t_put_str(fd, "k2", "two", NULL);
	if (!ret)
		ret = fx_fp(x, &x->fp);
	return ret;
}

/* A failed UNLINK leaves the store there, named and unchanged. */
static void check_unlink(struct __test_metadata *_metadata, void *arg,
			 unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct stmdev_info info;
	int fd;

	fd = t_open_attach(x->name, 0, 0);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, t_info(x->fd, &info));
	if (ret == 0) {
		/* absorbed: gone by name, the attached fd still works */
		ASSERT_EQ(-ENOENT, fd) TH_LOG("site %u: UNLINK returned 0, the name is still there", nth);
		ASSERT_EQ(1U, info.unlinked);
		ASSERT_EQ(0, fx_recreate(x)) TH_LOG("site %u: re-create", nth);
		return;
	}
	ASSERT_LE(0, fd) TH_LOG("site %u: a failed UNLINK removed store %s: %d", nth, x->name, fd);
	ASSERT_EQ(0U, info.unlinked) TH_LOG("site %u: a failed UNLINK marked the store unlinked", nth);
	check_unchanged(_metadata, arg, nth, ret);
}

TEST_F(fault, unlink)
{
	struct fail_nth_stats st;
	struct stmdev_info info;
	struct t_val v;
	int fd;

	REQUIRE_STORE(&self->x);
	self->x.fd2 = t_open();
	ASSERT_LE(0, self->x.fd2);

	/* the ioctl alone: it allocates nothing today */
	FAIL_NTH_RUN(0, op_unlink_ioctl, check_unlink, &self->x, &st);
	EXPECT_EQ(-ENOENT, t_open_attach(self->x.name, 0, 0));

	/* open + UNLINK + close */
	ASSERT_EQ(0, fx_recreate(&self->x));
	FAIL_NTH_RUN(0, op_unlink, check_unlink, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	fd = t_open_attach(self->x.name, 0, 0);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-ENOENT, fd);
	/* the fds attached to it keep working */
	ASSERT_EQ(0, t_info(self->x.fd, &info));
	EXPECT_EQ(1U, info.unlinked);
	ASSERT_EQ(0, t_get_str(self->x.fd, "k1", &v));
	EXPECT_TRUE(v.present);
	EXPECT_EQ(0, memcmp(v.buf, "one", 3));
}

/* ---- INFO, STATS: outputs only ---------------------------------------- */

static int op_info(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_INFO, &x->info);
}

static int op_stats(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_STATS, &x->stats);
}

/* Everything but `reads`, which the fingerprint's own READs move. */
static bool stats_eq(const struct stmdev_stats *a, const struct stmdev_stats *b)
{
	return a->commits == b->commits && a->conflicts == b->conflicts &&
	       a->busy == b->busy && a->keys == b->keys &&
	       a->bytes == b->bytes && a->waits == b->waits &&
	       a->wakeups == b->wakeups &&
	       !memcmp(a->reserved, b->reserved, sizeof(a->reserved));
}

static void check_info(struct __test_metadata *_metadata, void *arg,
		       unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret == 0)
		ASSERT_EQ(0, memcmp(&x->info, &x->info_ref, sizeof(x->info)))
			TH_LOG("site %u: INFO output differs", nth);
	check_unchanged(_metadata, arg, nth, ret);
	memset(&x->info, 0, sizeof(x->info));
}

static void check_stats(struct __test_metadata *_metadata, void *arg,
			unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret == 0)
		ASSERT_TRUE(stats_eq(&x->stats, &x->stats_ref))
			TH_LOG("site %u: STATS output differs", nth);
	check_unchanged(_metadata, arg, nth, ret);
	memset(&x->stats, 0, sizeof(x->stats));
}

TEST_F(fault, info)
{
	struct fail_nth_stats st;

	REQUIRE_STORE(&self->x);
	ASSERT_EQ(0, t_info(self->x.fd, &self->x.info_ref));
	FAIL_NTH_RUN(0, op_info, check_info, &self->x, &st);
	EXPECT_EQ(0, memcmp(&self->x.info, &self->x.info_ref, sizeof(self->x.info)));
	EXPECT_EQ(2ULL, self->x.info.keys);
}

TEST_F(fault, stats)
{
	struct fail_nth_stats st;

	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_STATS);
	ASSERT_EQ(0, t_stats(self->x.fd, &self->x.stats_ref));
	FAIL_NTH_RUN(0, op_stats, check_stats, &self->x, &st);
	EXPECT_TRUE(stats_eq(&self->x.stats, &self->x.stats_ref));
	EXPECT_EQ(2ULL, self->x.stats.commits);
}

/* ---- LIST ------------------------------------------------------------- */

static int op_list(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_LIST, &x->list);
}

static void list_reset(struct fx *x)
{
	memset(x->listbuf, 0xa5, x->listlen);
	memset(&x->list, 0, sizeof(x->list));
	x->list.addr = t_ptr(x->listbuf);
	x->list.len = x->listlen;
	x->list.count = SENTINEL;
}

/* A failed LIST writes nothing: neither the records nor count/cursor. */
static void check_list(struct __test_metadata *_metadata, void *arg,
		       unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret) {
		ASSERT_EQ(SENTINEL, x->list.count) TH_LOG("site %u: a failed LIST set count", nth);
		ASSERT_EQ(0ULL, x->list.cursor) TH_LOG("site %u: a failed LIST set cursor", nth);
		ASSERT_TRUE(all_bytes(x->listbuf, x->listlen, 0xa5))
			TH_LOG("site %u: a failed LIST wrote records", nth);
	}
	check_unchanged(_metadata, arg, nth, ret);
	list_reset(x);
}

static void list_case(struct __test_metadata *_metadata, struct fx *x,
		      unsigned int flags, __u32 len)
{
	struct fail_nth_stats st;
	struct stmdev_info info;
	int i;

	for (i = 0; i < NMANY; i++)
		ASSERT_EQ(0, t_put(x->fd, many_keys[i], 2, val100, 10 + 10 * i, NULL));
	ASSERT_EQ(0, fx_fp(x, &x->fp));
	x->listlen = len;
	x->listbuf = malloc(len);
	ASSERT_NE(NULL, x->listbuf);
	list_reset(x);		/* touches the buffer: no first-touch fault in the op */
	FAIL_NTH_RUN(flags, op_list, check_list, x, &st);
	if (flags & FAIL_NTH_PAGES) {
		EXPECT_LT(0U, st.absorbed);	/* kvmalloc's vmalloc fallback ran */
	} else {
		EXPECT_LT(0U, st.failed);
	}
	ASSERT_EQ(0, t_info(x->fd, &info));
	EXPECT_EQ(info.keys, (__u64)x->list.count);
	EXPECT_EQ(0ULL, x->list.cursor);
	EXPECT_EQ((int)x->list.count,
		  t_list_walk(x->listbuf, x->listlen, x->list.count, NULL, NULL));
}

/* A buffer with room for many keys: one slab allocation. */
TEST_F(fault, list)
{
	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_LIST);
	list_case(_metadata, &self->x, 0, LISTBUF);
}

/* 64 KiB: kvmalloc's page allocation, then its vmalloc half. */
TEST_F(fault, list_pages)
{
	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_LIST);
	if (!fail_nth_available(FAIL_NTH_PAGES))
		SKIP(return, "no fail_page_alloc");
	list_case(_metadata, &self->x, FAIL_NTH_PAGES, LISTBIG);
}

/* ---- LIST_STORES ------------------------------------------------------ */

static int op_list_stores(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_LIST_STORES, &x->ls);
}

static void ls_reset(struct fx *x)
{
	memset(x->sents, 0xa5, sizeof(x->sents));
	memset(&x->ls, 0, sizeof(x->ls));
	x->ls.addr = t_ptr(x->sents);
	x->ls.len = sizeof(x->sents);
	x->ls.count = SENTINEL;
}

static void check_list_stores(struct __test_metadata *_metadata, void *arg,
			      unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret) {
		ASSERT_EQ(SENTINEL, x->ls.count) TH_LOG("site %u: a failed LIST_STORES set count", nth);
		ASSERT_EQ(0ULL, x->ls.cursor);
		ASSERT_TRUE(all_bytes(x->sents, sizeof(x->sents), 0xa5))
			TH_LOG("site %u: a failed LIST_STORES wrote entries", nth);
	} else {
		ASSERT_EQ(x->ls_ref.count, x->ls.count);
		ASSERT_EQ(0, memcmp(x->sents, x->sents_ref, x->ls.count * sizeof(x->sents[0])));
	}
	check_unchanged(_metadata, arg, nth, ret);
	ls_reset(x);
}

TEST_F(fault, list_stores)
{
	struct fail_nth_stats st;
	__u32 i;

	REQUIRE_STORE(&self->x);
	/* the reference: the same call, uninjected */
	ls_reset(&self->x);
	ASSERT_EQ(0, op_list_stores(&self->x));
	self->x.ls_ref = self->x.ls;
	memcpy(self->x.sents_ref, self->x.sents, sizeof(self->x.sents));
	ls_reset(&self->x);

	FAIL_NTH_RUN(0, op_list_stores, check_list_stores, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	ASSERT_EQ(self->x.ls_ref.count, self->x.ls.count);
	EXPECT_EQ(self->x.ls_ref.cursor, self->x.ls.cursor);
	EXPECT_EQ(0, memcmp(self->x.sents, self->x.sents_ref,
			    self->x.ls.count * sizeof(self->x.sents[0])));
	if (!self->x.ls.cursor) {
		/* all fit: ours is there */
		for (i = 0; i < self->x.ls.count; i++)
			if (!strcmp(self->x.sents[i].name, self->x.name))
				break;
		EXPECT_GT(self->x.ls.count, i) TH_LOG("%s not listed", self->x.name);
	}
}

/* ---- FAMILY, FAMILY_STATS --------------------------------------------- */

static int op_family(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_FAMILY, &x->fam);
}

/* A failed FAMILY registers nothing and writes no id. */
static void check_family(struct __test_metadata *_metadata, void *arg,
			 unsigned int nth, int ret)
{
	struct fx *x = arg;
	int n = fam_get(x->fd, 0, NULL);

	ASSERT_LE(0, n);
	if (ret == 0) {
		/* absorbed: registered for good; the next run names another */
		ASSERT_GE(x->nfam0 + 1, (__u32)n);
		x->nfam0 = n;
		snprintf(x->fam.name, sizeof(x->fam.name), "fresh-%u", nth);
	} else {
		ASSERT_EQ(x->nfam0, (__u32)n) TH_LOG("site %u: a failed FAMILY registered %s",
						     nth, x->fam.name);
		ASSERT_EQ(SENTINEL, x->fam.id) TH_LOG("site %u: a failed FAMILY wrote an id", nth);
	}
	check_unchanged(_metadata, arg, nth, ret);
	x->fam.id = SENTINEL;
}

TEST_F(fault, family)
{
	struct fail_nth_stats st;
	struct stmdev_family_ent fe;
	int n;

	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_FAMILY);
	ASSERT_EQ(1, fam_add(self->x.fd, "old"));
	self->x.nfam0 = 1;

	/* a new name */
	snprintf(self->x.fam.name, sizeof(self->x.fam.name), "fresh");
	self->x.fam.id = SENTINEL;
	FAIL_NTH_RUN(0, op_family, check_family, &self->x, &st);
	n = fam_get(self->x.fd, self->x.fam.id, &fe);
	EXPECT_EQ((int)self->x.nfam0 + 1, n);
	EXPECT_EQ((__u32)n, self->x.fam.id);
	EXPECT_STREQ(self->x.fam.name, fe.name);

	/* a name already there: its id, nothing registered */
	self->x.nfam0 = n;
	snprintf(self->x.fam.name, sizeof(self->x.fam.name), "old");
	self->x.fam.id = SENTINEL;
	FAIL_NTH_RUN(0, op_family, check_family, &self->x, &st);
	EXPECT_EQ(1U, self->x.fam.id);
	EXPECT_EQ(n, fam_get(self->x.fd, 0, NULL));
}

static int op_family_stats(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd, STMDEV_IOC_FAMILY_STATS, &x->fstats);
}

static void fstats_reset(struct fx *x)
{
	memset(x->fents, 0xa5, sizeof(x->fents));
	memset(&x->fstats, 0, sizeof(x->fstats));
	x->fstats.addr = t_ptr(x->fents);
	x->fstats.len = sizeof(x->fents);
	x->fstats.count = SENTINEL;
}

static void check_family_stats(struct __test_metadata *_metadata, void *arg,
			       unsigned int nth, int ret)
{
	struct fx *x = arg;

	if (ret) {
		ASSERT_EQ(SENTINEL, x->fstats.count);
		ASSERT_TRUE(all_bytes(x->fents, sizeof(x->fents), 0xa5));
	} else {
		ASSERT_EQ(2U, x->fstats.count);
		ASSERT_EQ(0, memcmp(x->fents, x->fents_ref, 2 * sizeof(x->fents[0])));
	}
	check_unchanged(_metadata, arg, nth, ret);
	fstats_reset(x);
}

TEST_F(fault, family_stats)
{
	struct fail_nth_stats st;

	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_FAMILY);
	ASSERT_EQ(1, fam_add(self->x.fd, "fa"));
	ASSERT_EQ(2, fam_add(self->x.fd, "fb"));
	self->x.family = 1;
	cent_put(&self->x.cents[0], "k1", 2, "uno", 3);
	self->x.ncents = 1;
	ASSERT_EQ(0, op_commit(&self->x));	/* fa: 1 attempt, 1 commit */
	ASSERT_EQ(0, fx_fp(&self->x, &self->x.fp));
	fstats_reset(&self->x);
	ASSERT_EQ(0, op_family_stats(&self->x));
	ASSERT_EQ(2U, self->x.fstats.count);
	memcpy(self->x.fents_ref, self->x.fents, sizeof(self->x.fents));
	fstats_reset(&self->x);

	FAIL_NTH_RUN(0, op_family_stats, check_family_stats, &self->x, &st);
	ASSERT_EQ(2U, self->x.fstats.count);
	EXPECT_EQ(0, memcmp(self->x.fents, self->x.fents_ref, 2 * sizeof(self->x.fents[0])));
	EXPECT_STREQ("fa", self->x.fents[0].name);
	EXPECT_EQ(1ULL, self->x.fents[0].commits);
}

/* Put back what x->ucents says (the values before an absorbed run). */
static int undo_restore(struct fx *x)
{
	return t_commit(x->fd, x->ucents, x->nucents, NULL, NULL);
}

/* Take the baselines a WAIT/WATCH/COMMIT check compares against. */
static int fx_baseline(struct fx *x)
{
	struct stmdev_family_ent fe;
	int ret;

	ret = t_stats(x->fd, &x->st0);
	if (!ret && x->family) {
		ret = fam_get(x->fd, x->family, &fe);
		if (ret < 0)
			return ret;
		ret = 0;
		x->fam_waits0 = fe.waits;
		x->fam_commits0 = fe.commits;
	}
	return ret ? ret : fx_fp(x, &x->fp);
}

/* ---- COMMIT: ADD+FETCH, deletes, overwrites ---------------------------- */

static const char *const add_keys[] = { "c0", "c1", "c2", "c3", "c4", "k1", "k2" };
static const char *const del_keys[] = { "d0", "d1", "d2", "d3", "d4", "dx", "k1", "k2" };
static const char *const ow_keys[] = { "k1", "k2", "h1", "s2", "s3", "s4" };
static unsigned char val200[200];
static const char val16[16] = "0123456789abcdef";	/* inline: <= 16 bytes */

#define NADD	5	/* ADDs onto new keys and old */

static const __s64 add_delta[NADD] = { 5, 7, -3, 100, 1 };

static void add_reset(struct fx *x)
{
	int i;

	for (i = 0; i < NADD; i++)
		x->delta[i] = (__s64)htole64((__u64)add_delta[i]);
}

/*
 * ADD+FETCH of c0 (present) and c1..c4 (absent): a failed one changes no
 * counter, fetches nothing (the delta buffers still hold the deltas) and
 * counts no commit in its family.
 */
static void check_add(struct __test_metadata *_metadata, void *arg,
		      unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct stmdev_family_ent fe;
	int i;

	if (ret == 0) {
		__s64 c0;

		/* absorbed: c0 keeps its sum, c1..c4 go, the deltas return */
		ASSERT_EQ(0, t_get_i64(x->fd, "c0", &c0, NULL));
		ASSERT_EQ(c0, t_le64(&x->delta[0])) TH_LOG("site %u: FETCH of c0", nth);
		for (i = 1; i < NADD; i++)
			ASSERT_EQ(add_delta[i], t_le64(&x->delta[i]));
		ASSERT_EQ(0, undo_puts(x));
		/* c1..c4 deleted again: undo_puts deleted c0 too; put it back */
		ASSERT_EQ(0, t_put_i64(x->fd, "c0", c0, NULL));
		add_reset(x);
		ASSERT_EQ(0, fx_baseline(x));
		return;
	}
	for (i = 0; i < NADD; i++)
		ASSERT_EQ(add_delta[i], t_le64(&x->delta[i]))
			TH_LOG("site %u: a failed ADD+FETCH wrote %lld to entry %d", nth,
			       (long long)t_le64(&x->delta[i]), i);
	ASSERT_LE(0, fam_get(x->fd, x->family, &fe));
	ASSERT_EQ(x->fam_commits0, fe.commits) TH_LOG("site %u: a failed COMMIT counted in its family", nth);
	check_unchanged(_metadata, arg, nth, ret);
}

TEST_F(fault, commit_add_fetch)
{
	struct fail_nth_stats st;
	struct stmdev_family_ent fe;
	__s64 c0, v;
	int i;

	REQUIRE_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_FAMILY);
	self->x.keys = add_keys;
	self->x.nkeys = ARRAY_SIZE(add_keys);
	ASSERT_EQ(0, t_put_i64(self->x.fd, "c0", 40, NULL));
	self->x.family = fam_add(self->x.fd, "adders");
	ASSERT_LT(0, (int)self->x.family);
	add_reset(&self->x);
	for (i = 0; i < NADD; i++) {
		cent_add(&self->x.cents[i], add_keys[i], 2, &self->x.delta[i]);
		self->x.cents[i].flags |= STMDEV_CENT_FETCH;
	}
	self->x.ncents = NADD;
	ASSERT_EQ(0, t_get_i64(self->x.fd, "c0", &c0, NULL));
	ASSERT_EQ(0, fx_baseline(&self->x));

	FAIL_NTH_RUN(0, op_commit, check_add, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	/* once, on top of the absorbed runs' */
	EXPECT_EQ(40 + 5 * (__s64)(st.absorbed + 1), t_le64(&self->x.delta[0]));
	for (i = 0; i < NADD; i++) {
		ASSERT_EQ(0, t_get_i64(self->x.fd, add_keys[i], &v, NULL));
		EXPECT_EQ(v, t_le64(&self->x.delta[i])) TH_LOG("%s", add_keys[i]);
		if (i)
			EXPECT_EQ(add_delta[i], v);
	}
	ASSERT_LE(0, fam_get(self->x.fd, self->x.family, &fe));
	EXPECT_EQ(self->x.fam_commits0 + 1, fe.commits);
}

/* DEL of d0..d4 (inline and heap values) and dx (absent: a placeholder). */
TEST_F(fault, commit_delete)
{
	static const char *const vals[5] = { "x", NULL, "yy", NULL, val16 };
	struct fail_nth_stats st;
	struct stmdev_info before, after;
	__u64 bytes = 0;
	struct t_val v;
	int i;

	REQUIRE_STORE(&self->x);
	self->x.keys = del_keys;
	self->x.nkeys = ARRAY_SIZE(del_keys);
	for (i = 0; i < 5; i++) {
		const void *val = vals[i] ? vals[i] : i == 1 ? (const char *)val100 : (const char *)val200;
		__u32 len = i == 1 ? sizeof(val100) : i == 3 ? sizeof(val200) :
			    i == 4 ? sizeof(val16) : strlen(vals[i]);

		cent_put(&self->x.ucents[i], del_keys[i], 2, val, len);
		bytes += 2 + len;
	}
	self->x.nucents = 5;
	ASSERT_EQ(0, undo_restore(&self->x));
	for (i = 0; i < 6; i++)
		cent_del(&self->x.cents[i], del_keys[i], 2);
	self->x.ncents = 6;
	self->x.undo = undo_restore;
	ASSERT_EQ(0, fx_fp(&self->x, &self->x.fp));
	ASSERT_EQ(0, t_info(self->x.fd, &before));

	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	ASSERT_EQ(0, t_info(self->x.fd, &after));
	EXPECT_EQ(before.keys - 5, after.keys);
	EXPECT_EQ(before.bytes - bytes, after.bytes);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, t_get_str(self->x.fd, del_keys[i], &v));
		EXPECT_FALSE(v.present) TH_LOG("%s", del_keys[i]);
	}
}

/* k1 "one", k2 "two" (inline), h1 (100 bytes: heap), s2, s3 (inline). */
#define REQUIRE_OW_STORE(x) do {					\
	REQUIRE_STORE(x);						\
	(x)->keys = ow_keys;						\
	(x)->nkeys = ARRAY_SIZE(ow_keys);				\
	cent_put(&(x)->ucents[0], "k1", 2, "one", 3);			\
	cent_put(&(x)->ucents[1], "k2", 2, "two", 3);			\
	cent_put(&(x)->ucents[2], "h1", 2, val100, sizeof(val100));	\
	cent_put(&(x)->ucents[3], "s2", 2, "22", 2);			\
	cent_put(&(x)->ucents[4], "s3", 2, "333", 3);			\
	(x)->nucents = 5;						\
	ASSERT_EQ(0, undo_restore(x));					\
	(x)->undo = undo_restore;					\
	ASSERT_EQ(0, fx_fp((x), &(x)->fp));				\
} while (0)

/* Overwrites with 16 bytes, which live inside the key. */
TEST_F(fault, commit_overwrite_small)
{
	struct fail_nth_stats st;
	struct t_val v;
	int i;

	REQUIRE_OW_STORE(&self->x);
	/* one key: in the per-CPU scratch page, no allocation (today) */
	cent_put(&self->x.cents[0], "k1", 2, val16, sizeof(val16));
	self->x.ncents = 1;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	ASSERT_EQ(0, undo_restore(&self->x));
	ASSERT_EQ(0, fx_fp(&self->x, &self->x.fp));

	/*
	 * five, over inline and heap values: they fit the scratch page too,
	 * so nothing may be allocated; whatever fails must change nothing
	 */
	for (i = 0; i < 5; i++)
		cent_put(&self->x.cents[i], (const void *)(uintptr_t)self->x.ucents[i].key_addr,
			 2, val16, sizeof(val16));
	self->x.ncents = 5;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, t_get(self->x.fd, (const void *)(uintptr_t)self->x.ucents[i].key_addr,
				     2, &v));
		EXPECT_EQ(sizeof(val16), v.len);
		EXPECT_EQ(0, memcmp(v.buf, val16, sizeof(val16)));
	}
}

/* Overwrites with heap values: over an inline value and over a heap one. */
TEST_F(fault, commit_overwrite_large)
{
	struct fail_nth_stats st;
	struct t_val v;

	REQUIRE_OW_STORE(&self->x);
	memset(val200, 'w', sizeof(val200));
	cent_put(&self->x.cents[0], "k1", 2, val100, sizeof(val100));
	cent_put(&self->x.cents[1], "h1", 2, val200, sizeof(val200));
	self->x.ncents = 2;
	FAIL_NTH_RUN(0, op_commit, check_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	ASSERT_EQ(0, t_get_str(self->x.fd, "k1", &v));
	EXPECT_EQ(sizeof(val100), v.len);
	ASSERT_EQ(0, t_get_str(self->x.fd, "h1", &v));
	EXPECT_EQ(sizeof(val200), v.len);
	EXPECT_EQ(0, memcmp(v.buf, val200, sizeof(val200)));
}

/*
 * Swap and take (READ+FETCH of the value the commit's write replaces):
 * PUT h1 (heap over heap) + FETCH h1, DEL s2 (inline) + FETCH s2, DEL dx
 * (absent: a placeholder) + FETCH dx.  A failed one changes nothing and
 * leaves each FETCH entry's version and val_len as given (the room itself
 * may be written: uapi says so).
 */
#define NSWAP	6

static void swap_reset(struct fx *x)
{
	static const char *const keys[3] = { "h1", "s2", "dx" };
	int i;

	for (i = 0; i < 3; i++) {
		struct stmdev_commit_ent *r = &x->cents[3 + i];

		memset(r, 0, sizeof(*r));
		r->key_addr = t_ptr(keys[i]);
		r->key_len = 2;
		r->op = STMDEV_OP_READ;
		r->flags = STMDEV_CENT_FETCH;
		r->val_addr = t_ptr(x->fbuf[i]);
		r->val_len = sizeof(x->fbuf[i]);
		r->version = SENTINEL;
	}
}

static void check_swap(struct __test_metadata *_metadata, void *arg,
		       unsigned int nth, int ret)
{
	struct fx *x = arg;
	int i;

	if (ret) {
		for (i = 3; i < NSWAP; i++) {
			ASSERT_EQ(SENTINEL, x->cents[i].version)
				TH_LOG("site %u: a failed FETCH set entry %d's version", nth, i);
			ASSERT_EQ(sizeof(x->fbuf[0]), x->cents[i].val_len)
				TH_LOG("site %u: a failed FETCH set entry %d's val_len", nth, i);
		}
	}
	check_store(_metadata, arg, nth, ret);
	swap_reset(x);
}

TEST_F(fault, commit_swap_take)
{
	struct fail_nth_stats st;
	struct t_val v;

	REQUIRE_OW_STORE(&self->x);
	REQUIRE_FEATURE(&self->x, STMDEV_F_FETCH_OLD);
	memset(val200, 'w', sizeof(val200));
	cent_put(&self->x.cents[0], "h1", 2, val200, sizeof(val200));
	cent_del(&self->x.cents[1], "s2", 2);
	cent_del(&self->x.cents[2], "dx", 2);
	swap_reset(&self->x);
	self->x.ncents = NSWAP;
	FAIL_NTH_RUN(0, op_commit, check_swap, &self->x, &st);
	EXPECT_LT(0U, st.failed);

	/* handed back: h1's 100 bytes, s2's "22", nothing for dx */
	EXPECT_EQ(sizeof(val100), self->x.cents[3].val_len);
	EXPECT_NE(0ULL, self->x.cents[3].version);
	EXPECT_EQ(0, memcmp(self->x.fbuf[0], val100, sizeof(val100)));
	EXPECT_EQ(2U, self->x.cents[4].val_len);
	EXPECT_EQ(0, memcmp(self->x.fbuf[1], "22", 2));
	EXPECT_EQ(0U, self->x.cents[5].val_len);
	EXPECT_EQ(0ULL, self->x.cents[5].version);
	ASSERT_EQ(0, t_get_str(self->x.fd, "h1", &v));
	EXPECT_EQ(sizeof(val200), v.len);
	ASSERT_EQ(0, t_get_str(self->x.fd, "s2", &v));
	EXPECT_FALSE(v.present);
}

/* ---- READ_AT ---------------------------------------------------------- */

static int op_read_at(void *arg)
{
	struct fx *x = arg;

	return t_read_at(x->fd, x->rents, NREAD, x->clock, NULL);
}

static void rents_reset(struct fx *x)
{
	int i;

	for (i = 0; i < NREAD; i++) {
		rent_init(&x->rents[i], FX_KEY(i), strlen(FX_KEY(i)),
			  x->rbuf[i], sizeof(x->rbuf[i]));
		x->rents[i].version = SENTINEL;
		x->rents[i].flags = SENTINEL;
	}
	memset(x->rbuf, 0xa5, sizeof(x->rbuf));
}

/* A failed READ leaves the caller's entries and buffers alone. */
static void check_read_out(struct __test_metadata *_metadata, void *arg,
			   unsigned int nth, int ret)
{
	struct fx *x = arg;
	int i;

	if (ret) {
		for (i = 0; i < NREAD; i++) {
			ASSERT_EQ(SENTINEL, x->rents[i].version) TH_LOG("site %u: entry %d", nth, i);
			ASSERT_EQ(SENTINEL, x->rents[i].flags);
			ASSERT_EQ(sizeof(x->rbuf[i]), x->rents[i].val_len);
		}
		ASSERT_TRUE(all_bytes(x->rbuf, sizeof(x->rbuf), 0xa5))
			TH_LOG("site %u: a failed READ wrote values", nth);
	}
	check_store(_metadata, arg, nth, ret);
	rents_reset(x);
}

TEST_F(fault, read_at)
{
	struct fail_nth_stats st;
	struct stmdev_info info;
	int i;

	REQUIRE_STORE(&self->x);
	for (i = 0; i < NMANY; i++)
		ASSERT_EQ(0, t_put(self->x.fd, many_keys[i], 2, "m", 1, NULL));
	ASSERT_EQ(0, t_info(self->x.fd, &info));
	self->x.clock = info.clock;
	ASSERT_EQ(0, fx_fp(&self->x, &self->x.fp));
	rents_reset(&self->x);
	FAIL_NTH_RUN(0, op_read_at, check_read_out, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_TRUE(!!(self->x.rents[0].flags & STMDEV_RENT_PRESENT));
	EXPECT_EQ(0, memcmp(self->x.rbuf[0], "one", 3));
	EXPECT_EQ(0U, self->x.rents[2].flags);	/* "absent" */
	EXPECT_EQ(STMDEV_RENT_PRESENT, self->x.rents[9].flags);	/* m5 */
}

/* PUT val to keys[0..n) in one commit. */
static int put_all(int fd, const char *const *keys, unsigned int n,
		   const void *val, __u32 vlen)
{
	struct stmdev_commit_ent e[2 * NW];
	unsigned int i;

	for (i = 0; i < n; i++)
		cent_put(&e[i], keys[i], strlen(keys[i]), val, vlen);
	return t_commit(fd, e, n, NULL, NULL);
}
/* ---- WAIT ------------------------------------------------------------- */

/* WATCH replaces w0..w7 with n0..n7 */
static const char *const w_keys[2 * NW] = {
	"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7",
	"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7",
};
/* WAIT/WATCH sets: w0..w7 (w4..w7 absent), k1, k2 */
static const char *const wfp_keys[] = {
	"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "k1", "k2",
};

/* ents[0..n) = keys[0..n) at their versions now. */
static int went_fill(int fd, struct stmdev_wait_ent *ents,
		     const char *const *keys, unsigned int n)
{
	struct t_val v;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = t_get_str(fd, keys[i], &v);
		if (ret)
			return ret;
		memset(&ents[i], 0, sizeof(ents[i]));
		ents[i].key_addr = t_ptr(keys[i]);
		ents[i].key_len = strlen(keys[i]);
		ents[i].version = v.version;
	}
	return 0;
}

static void wait_reset(struct fx *x, __s64 timeout_ns)
{
	memset(&x->wait, 0, sizeof(x->wait));
	x->wait.entries = t_ptr(x->went);
	x->wait.count = NW;
	x->wait.timeout_ns = timeout_ns;
	x->wait.index = SENTINEL;
	x->wait.family = x->family;
}

/*
 * WAIT: 0 when it returns x->wait_ok (0, or ETIMEDOUT for a wait that
 * must time out); an unexpected success is -EPROTO.
 */
static int op_wait(void *arg)
{
	struct fx *x = arg;
	int ret = t_ioctl(x->fd, STMDEV_IOC_WAIT, &x->wait);

	if (ret == x->wait_ok)
		return 0;
	return ret ? ret : -EPROTO;
}

/* No WAIT slept, no waiter was woken, no family WAIT counted since the baseline. */
static void check_no_waiter(struct __test_metadata *_metadata, struct fx *x,
			    unsigned int nth)
{
	struct stmdev_family_ent fe;
	struct stmdev_stats st;

	ASSERT_EQ(0, t_stats(x->fd, &st));
	ASSERT_EQ(x->st0.waits, st.waits) TH_LOG("site %u: a failed WAIT slept", nth);
	ASSERT_EQ(x->st0.wakeups, st.wakeups) TH_LOG("site %u: a waiter was woken", nth);
	if (x->family) {
		ASSERT_LE(0, fam_get(x->fd, x->family, &fe));
		ASSERT_EQ(x->fam_waits0, fe.waits) TH_LOG("site %u: a failed WAIT counted in its family", nth);
	}
}

static void check_ring_idle(struct __test_metadata *_metadata, struct fx *x,
			    unsigned int nth)
{
	if (!x->have_ring)
		return;
	ASSERT_EQ(0U, io_uring_sq_ready(&x->ring)) TH_LOG("site %u: an SQE was left unsubmitted", nth);
	ASSERT_EQ(0U, io_uring_cq_ready(&x->ring)) TH_LOG("site %u: a CQE too many", nth);
}

/*
 * A WAIT whose condition does not hold (check-only, or timing out): a
 * failed one wrote no index, queued nothing and counted nothing.
 */
static void check_wait_unmet(struct __test_metadata *_metadata, void *arg,
			     unsigned int nth, int ret)
{
	struct fx *x = arg;

	check_ring_idle(_metadata, x, nth);
	if (ret == 0) {
		/* absorbed: it ran and timed out */
		ASSERT_EQ(STMDEV_NO_CONFLICT, x->wait.index);
		ASSERT_EQ(0, fx_baseline(x));
	} else {
		ASSERT_EQ(SENTINEL, x->wait.index) TH_LOG("site %u: a failed WAIT wrote its index", nth);
	}
	check_unchanged(_metadata, arg, nth, ret);
	check_no_waiter(_metadata, x, nth);
	x->wait.index = SENTINEL;
}

/* A store with w0..w3 present, w4..w7 absent, and family "fw" for WAITs. */
#define REQUIRE_WAIT_STORE(x) do {					\
	REQUIRE_STORE(x);						\
	REQUIRE_FEATURE(x, STMDEV_F_WAIT | STMDEV_F_STATS | STMDEV_F_FAMILY); \
	ASSERT_EQ(0, put_all((x)->fd, w_keys, 4, "w", 1));		\
	(x)->family = fam_add((x)->fd, "fw");				\
	ASSERT_LT(0, (int)(x)->family);					\
	(x)->keys = wfp_keys;						\
	(x)->nkeys = ARRAY_SIZE(wfp_keys);				\
	ASSERT_EQ(0, went_fill((x)->fd, (x)->went, w_keys, NW));	\
} while (0)

/*
 * After a WAIT case: nothing of it is left queued.  A commit to all its
 * keys wakes no waiter (STATS.wakeups is where the baseline has it).
 */
static void wait_after(struct __test_metadata *_metadata, struct fx *x,
		       __u64 wakeups)
{
	struct stmdev_stats st;

	ASSERT_EQ(0, put_all(x->fd, w_keys, NW, "after", 5));
	ASSERT_EQ(0, t_stats(x->fd, &st));
	EXPECT_EQ(wakeups, st.wakeups) TH_LOG("a commit woke %llu waiter(s) of finished WAITs",
					      (unsigned long long)(st.wakeups - wakeups));
}

/* timeout_ns = 0: just check, on 8 keys none of which changed. */
TEST_F(fault, wait_check_only)
{
	struct fail_nth_stats st;
	struct stmdev_family_ent fe;

	REQUIRE_WAIT_STORE(&self->x);
	wait_reset(&self->x, 0);
	self->x.wait_ok = -ETIMEDOUT;
	ASSERT_EQ(0, fx_baseline(&self->x));
	FAIL_NTH_RUN(0, op_wait, check_wait_unmet, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_EQ(STMDEV_NO_CONFLICT, self->x.wait.index);
	ASSERT_LE(0, fam_get(self->x.fd, self->x.family, &fe));
	EXPECT_EQ(self->x.fam_waits0 + 1, fe.waits);
	wait_after(_metadata, &self->x, self->x.st0.wakeups);
}

/*
 * The process that completes the blocking WAIT: once STATS.waits shows
 * the WAIT asleep (a failed one never sleeps), it writes w5.
 */
static int wait_waker(void *arg, int idx)
{
	struct fx *x = arg;
	struct stmdev_stats st;
	int fd = t_open_attach(x->name, 0, 0);
	int i;

	if (fd < 0)
		return 10;
	for (i = 0; i < 20000; i++) {		/* 20 s */
		if (t_stats(fd, &st))
			return 11;
		if (st.waits > x->st0.waits)
			return t_put_str(fd, "w5", "woken", NULL) ? 12 : 0;
		usleep(1000);
	}
	return 13;
}

static void check_wait_woken(struct __test_metadata *_metadata, void *arg,
			     unsigned int nth, int ret)
{
	struct fx *x = arg;
	pid_t pid;

	if (ret == 0) {
		/* absorbed: it slept and the waker completed it; again */
		ASSERT_EQ(0, t_wait_all(&x->child, 1));
		x->child = 0;
		ASSERT_EQ(5U, x->wait.index);
		ASSERT_EQ(0, went_fill(x->fd, x->went, w_keys, NW));
		ASSERT_EQ(0, fx_baseline(x));
		x->wait.index = SENTINEL;
		x->child = t_fork(wait_waker, x, 0);
		ASSERT_LT(0, x->child);
		return;
	}
	ASSERT_EQ(SENTINEL, x->wait.index) TH_LOG("site %u: a failed WAIT wrote its index", nth);
	check_unchanged(_metadata, arg, nth, ret);
	check_no_waiter(_metadata, x, nth);
	pid = waitpid(x->child, NULL, WNOHANG);
	ASSERT_EQ(0, pid) TH_LOG("site %u: the waker is gone", nth);
}

/* A WAIT on 8 keys that another process completes. */
TEST_F(fault, wait_woken)
{
	struct fail_nth_stats st;
	struct stmdev_family_ent fe;
	struct stmdev_stats now;

	REQUIRE_WAIT_STORE(&self->x);
	wait_reset(&self->x, 10 * SEC);
	self->x.wait_ok = 0;
	ASSERT_EQ(0, fx_baseline(&self->x));
	self->x.child = t_fork(wait_waker, &self->x, 0);
	ASSERT_LT(0, self->x.child);
	FAIL_NTH_RUN(0, op_wait, check_wait_woken, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_EQ(5U, self->x.wait.index);
	EXPECT_EQ(0, t_wait_all(&self->x.child, 1));
	self->x.child = 0;

	/* one WAIT slept, one waiter (w5's) was woken, one family WAIT */
	ASSERT_EQ(0, t_stats(self->x.fd, &now));
	EXPECT_EQ(self->x.st0.waits + 1, now.waits);
	EXPECT_EQ(self->x.st0.wakeups + 1, now.wakeups);
	ASSERT_LE(0, fam_get(self->x.fd, self->x.family, &fe));
	EXPECT_EQ(self->x.fam_waits0 + 1, fe.waits);
	wait_after(_metadata, &self->x, now.wakeups);
}

/* ---- WATCH ------------------------------------------------------------ */

static int op_watch(void *arg)
{
	struct fx *x = arg;

	return t_ioctl(x->fd2, STMDEV_IOC_WATCH, &x->watch);
}

/* poll() of fd without waiting: revents, or -1. */
static int poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 0);

	return n < 0 ? -1 : n ? p.revents : 0;
}

/* WATCH keys[0..NW) at their versions now, on fd. */
static int watch_arm(struct fx *x, int fd, struct stmdev_wait_ent *ents,
		     const char *const *keys)
{
	struct stmdev_watch wa;
	int ret = went_fill(x->fd, ents, keys, NW);

	if (ret)
		return ret;
	memset(&wa, 0, sizeof(wa));
	wa.entries = t_ptr(ents);
	wa.count = NW;
	return t_ioctl(fd, STMDEV_IOC_WATCH, &wa);
}

static int watch_clear(int fd)
{
	struct stmdev_watch wa;

	memset(&wa, 0, sizeof(wa));
	return t_ioctl(fd, STMDEV_IOC_WATCH, &wa);
}

/*
 * Setting a first watch set: a failed WATCH arms nothing, not even
 * partly (a write to a key of the set neither makes the fd readable nor
 * wakes a waiter).
 */
static void check_watch_set(struct __test_metadata *_metadata, void *arg,
			    unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct stmdev_stats st;

	if (ret == 0) {
		/* absorbed: take it back */
		ASSERT_EQ(0, watch_clear(x->fd2));
		ASSERT_EQ(0, fx_baseline(x));
	}
	check_unchanged(_metadata, arg, nth, ret);
	ASSERT_EQ(0, poll_now(x->fd2)) TH_LOG("site %u: no watch set, yet poll reports", nth);
	ASSERT_EQ(0, t_put_str(x->fd, "w0", "poke", NULL));
	ASSERT_EQ(0, poll_now(x->fd2)) TH_LOG("site %u: a failed WATCH armed w0", nth);
	ASSERT_EQ(0, t_stats(x->fd, &st));
	ASSERT_EQ(x->st0.wakeups, st.wakeups) TH_LOG("site %u: a failed WATCH left a waiter queued", nth);
	/* the next run watches w0 as it is now */
	ASSERT_EQ(0, went_fill(x->fd, x->went, w_keys, NW));
	ASSERT_EQ(0, fx_baseline(x));
}

#define REQUIRE_WATCH_STORE(x) do {					\
	REQUIRE_STORE(x);						\
	REQUIRE_FEATURE(x, STMDEV_F_WAIT | STMDEV_F_STATS);		\
	ASSERT_EQ(0, put_all((x)->fd, w_keys, 4, "w", 1));		\
	ASSERT_EQ(0, put_all((x)->fd, w_keys + NW, 4, "n", 1));		\
	(x)->keys = w_keys;						\
	(x)->nkeys = 2 * NW;						\
	(x)->fd2 = t_open_attach((x)->name, 0, 0);			\
	ASSERT_LE(0, (x)->fd2);						\
} while (0)

TEST_F(fault, watch_set)
{
	struct fail_nth_stats st;
	struct stmdev_stats now;

	REQUIRE_WATCH_STORE(&self->x);
	ASSERT_EQ(0, went_fill(self->x.fd, self->x.went, w_keys, NW));
	self->x.watch.entries = t_ptr(self->x.went);
	self->x.watch.count = NW;
	ASSERT_EQ(0, fx_baseline(&self->x));
	FAIL_NTH_RUN(0, op_watch, check_watch_set, &self->x, &st);
	EXPECT_LT(0U, st.failed);

	/* armed: quiet until a watched key is written, then readable */
	EXPECT_EQ(0, poll_now(self->x.fd2));
	ASSERT_EQ(0, t_put_str(self->x.fd, "w6", "new", NULL));
	EXPECT_EQ(POLLIN, poll_now(self->x.fd2) & POLLIN);
	ASSERT_EQ(0, t_stats(self->x.fd, &now));
	EXPECT_EQ(self->x.st0.wakeups + 1, now.wakeups);
}

/*
 * Replacing the set w0..w7 with n0..n7: after a failed WATCH the old set
 * is still the one in force, whole.
 */
static void check_watch_replace(struct __test_metadata *_metadata, void *arg,
				unsigned int nth, int ret)
{
	struct fx *x = arg;
	struct stmdev_stats st;

	if (ret == 0) {
		/* absorbed: the new set is in force; back to the old one */
		ASSERT_EQ(0, watch_arm(x, x->fd2, x->went, w_keys));
		ASSERT_EQ(0, fx_baseline(x));
	}
	check_unchanged(_metadata, arg, nth, ret);
	ASSERT_EQ(0, poll_now(x->fd2)) TH_LOG("site %u: nothing changed, yet poll reports", nth);
	ASSERT_EQ(0, t_put_str(x->fd, "w0", "poke", NULL));
	ASSERT_EQ(POLLIN, poll_now(x->fd2) & POLLIN)
		TH_LOG("site %u: after a failed WATCH the old set no longer watches w0", nth);
	ASSERT_EQ(0, t_stats(x->fd, &st));
	ASSERT_EQ(x->st0.wakeups + 1, st.wakeups) TH_LOG("site %u: w0 woke %llu waiters, not 1", nth,
							  (unsigned long long)(st.wakeups - x->st0.wakeups));
	/* the old set again, at w0's new version */
	ASSERT_EQ(0, watch_arm(x, x->fd2, x->went, w_keys));
	ASSERT_EQ(0, poll_now(x->fd2));
	ASSERT_EQ(0, fx_baseline(x));
}

TEST_F(fault, watch_replace)
{
	struct fail_nth_stats st;
	struct stmdev_stats now;

	REQUIRE_WATCH_STORE(&self->x);
	ASSERT_EQ(0, watch_arm(&self->x, self->x.fd2, self->x.went, w_keys));
	ASSERT_EQ(0, went_fill(self->x.fd, self->x.went2, w_keys + NW, NW));
	self->x.watch.entries = t_ptr(self->x.went2);
	self->x.watch.count = NW;
	ASSERT_EQ(0, fx_baseline(&self->x));
	FAIL_NTH_RUN(0, op_watch, check_watch_replace, &self->x, &st);
	EXPECT_LT(0U, st.failed);

	/* the new set only: w0 no longer counts, n0 does */
	EXPECT_EQ(0, poll_now(self->x.fd2));
	ASSERT_EQ(0, t_put_str(self->x.fd, "w0", "late", NULL));
	EXPECT_EQ(0, poll_now(self->x.fd2));
	ASSERT_EQ(0, t_stats(self->x.fd, &now));
	EXPECT_EQ(self->x.st0.wakeups, now.wakeups) TH_LOG("the replaced set still has waiters queued");
	ASSERT_EQ(0, t_put_str(self->x.fd, "n0", "new", NULL));
	EXPECT_EQ(POLLIN, poll_now(self->x.fd2) & POLLIN);
	ASSERT_EQ(0, t_stats(self->x.fd, &now));
	EXPECT_EQ(self->x.st0.wakeups + 1, now.wakeups);
}

/* ---- io_uring: IORING_OP_URING_CMD ------------------------------------ */

static void prep_cmd(struct io_uring_sqe *sqe, int fd, unsigned int op,
		     void *arg, unsigned int len)
{
	struct stmdev_uring_cmd *p;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	p = (struct stmdev_uring_cmd *)sqe->cmd;
	p->addr = t_ptr(arg);
	p->len = len;
	p->flags = 0;
	sqe->user_data = 1;
}

/*
 * x->uop through the ring, waiting for its CQE: the CQE's res, or what
 * io_uring_enter() returned when it did not take the SQE.  System calls
 * only: the SQ and CQ rings were touched when the ring was warmed up.
 */
static int uring_run(struct fx *x)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&x->ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EOVERFLOW;
	prep_cmd(sqe, x->fd, x->uop, x->uarg, x->ulen);
	ret = io_uring_submit_and_wait(&x->ring, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EPROTO;
	ret = io_uring_wait_cqe(&x->ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&x->ring, cqe);
	return ret;
}

static int op_uring(void *arg)
{
	return uring_run(arg);
}

/* WAIT through the ring: as op_wait(). */
static int op_uring_wait(void *arg)
{
	struct fx *x = arg;
	int ret = uring_run(x);

	if (ret == x->wait_ok)
		return 0;
	return ret ? ret : -EPROTO;
}

/*
 * A ring on x->fd, warmed up so that its own first-use allocations (the
 * task's io_uring context, the request cache) are behind us.
 */
#define REQUIRE_RING(x) do {						\
	struct stmdev_nop __nop = { 0 };				\
	int __ret, __i;							\
	REQUIRE_FEATURE(x, STMDEV_F_URING);				\
	__ret = io_uring_queue_init(8, &(x)->ring, 0);			\
	if (__ret == -ENOSYS || __ret == -EPERM)			\
		SKIP(return, "io_uring not available (%d)", __ret);	\
	ASSERT_EQ(0, __ret);						\
	(x)->have_ring = true;						\
	(x)->uop = STMDEV_IOC_NOP;					\
	(x)->uarg = &__nop;						\
	(x)->ulen = sizeof(__nop);					\
	for (__i = 0; __i < 8; __i++)					\
		ASSERT_EQ(0, uring_run(x));				\
} while (0)

static void check_uring_store(struct __test_metadata *_metadata, void *arg,
			      unsigned int nth, int ret)
{
	check_ring_idle(_metadata, arg, nth);
	check_store(_metadata, arg, nth, ret);
}

/* io_uring's own sites: NOP allocates nothing in stm. */
TEST_F(fault, uring_nop)
{
	struct fail_nth_stats st;
	struct stmdev_nop nop = { 0 };

	REQUIRE_RING(&self->x);
	self->x.uop = STMDEV_IOC_NOP;
	self->x.uarg = &nop;
	self->x.ulen = sizeof(nop);
	FAIL_NTH_RUN(0, op_uring, NULL, &self->x, &st);
}

/* COMMIT of six new keys through the ring (inline issue, STM_NOWAIT). */
TEST_F(fault, uring_commit_many_new)
{
	struct fail_nth_stats st;
	struct t_val v;
	int i;

	REQUIRE_STORE(&self->x);
	REQUIRE_RING(&self->x);
	for (i = 0; i < NMANY; i++)
		cent_put(&self->x.cents[i], many_keys[i], 2, val100, 20 + i);
	self->x.ncents = NMANY;
	self->x.undo = undo_puts;
	self->x.cm.entries = t_ptr(self->x.cents);
	self->x.cm.count = NMANY;
	self->x.uop = STMDEV_IOC_COMMIT;
	self->x.uarg = &self->x.cm;
	self->x.ulen = sizeof(self->x.cm);
	FAIL_NTH_RUN(0, op_uring, check_uring_store, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	for (i = 0; i < NMANY; i++) {
		ASSERT_EQ(0, t_get_str(self->x.fd, many_keys[i], &v));
		EXPECT_EQ((__u32)(20 + i), v.len);
	}
}

/* READ of ten keys through the ring. */
TEST_F(fault, uring_read_many)
{
	struct fail_nth_stats st;

	REQUIRE_STORE(&self->x);
	REQUIRE_RING(&self->x);
	rents_reset(&self->x);
	self->x.rd.entries = t_ptr(self->x.rents);
	self->x.rd.count = NREAD;
	self->x.uop = STMDEV_IOC_READ;
	self->x.uarg = &self->x.rd;
	self->x.ulen = sizeof(self->x.rd);
	FAIL_NTH_RUN(0, op_uring, check_read_out, &self->x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_TRUE(!!(self->x.rents[0].flags & STMDEV_RENT_PRESENT));
	EXPECT_EQ(0, memcmp(self->x.rbuf[0], "one", 3));
}

static void uring_wait_case(struct __test_metadata *_metadata, struct fx *x,
			    __s64 timeout_ns)
{
	struct fail_nth_stats st;
	struct stmdev_family_ent fe;

	wait_reset(x, timeout_ns);
	x->wait_ok = -ETIMEDOUT;
	x->uop = STMDEV_IOC_WAIT;
	x->uarg = &x->wait;
	x->ulen = sizeof(x->wait);
	ASSERT_EQ(0, fx_baseline(x));
	FAIL_NTH_RUN(0, op_uring_wait, check_wait_unmet, x, &st);
	EXPECT_LT(0U, st.failed);
	EXPECT_EQ(STMDEV_NO_CONFLICT, x->wait.index);
	ASSERT_LE(0, fam_get(x->fd, x->family, &fe));
	EXPECT_EQ(x->fam_waits0 + 1, fe.waits);
	wait_after(_metadata, x, x->st0.wakeups);
}

/* Check-only WAIT through the ring: settled at issue. */
TEST_F(fault, uring_wait_check_only)
{
	REQUIRE_WAIT_STORE(&self->x);
	REQUIRE_RING(&self->x);
	uring_wait_case(_metadata, &self->x, 0);
}

/* Asynchronous WAIT on 8 keys, completed by its 20 ms timeout. */
TEST_F(fault, uring_wait_timeout)
{
	REQUIRE_WAIT_STORE(&self->x);
	REQUIRE_RING(&self->x);
	uring_wait_case(_metadata, &self->x, 20 * 1000 * 1000);
}

TEST_HARNESS_MAIN
