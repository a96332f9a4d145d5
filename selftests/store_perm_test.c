// SPDX-License-Identifier: GPL-2.0
/*
 * store_perm_test.c - store permissions, checked like a POSIX shm object
 * when a process attaches: another uid (fork + setresuid/setresgid to
 * nobody) against 0600 / 0640 / 0644 / 0622 / 0666 stores, group and
 * supplementary-group access, read-only attachments (COMMIT -> EBADF),
 * UNLINK by a non-owner (EPERM), ownership from the creator's fsuid/fsgid,
 * LIST_STORES showing only readable stores.
 *
 * Needs root (to switch uids); skips otherwise.
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define OTHER		65533	/* neither owner nor in the store's group */

FIXTURE(perm) {
	char name[STMDEV_NAME_MAX];
	char name2[STMDEV_NAME_MAX];
	int fd;
};

FIXTURE_SETUP(perm)
{
	self->fd = -1;
	t_name(self->name, sizeof(self->name), "perm");
	t_name(self->name2, sizeof(self->name2), "perm2");
}

FIXTURE_TEARDOWN(perm)
{
	if (self->fd >= 0)
		close(self->fd);
	t_unlink(self->name);
	t_unlink(self->name2);
}

#define NEED_ROOT() do {						\
	if (geteuid() != 0)						\
		SKIP(return, "needs root to switch uids");		\
} while (0)

/* Root creates self->name with `mode` and one key "k" = "root". */
static int create_as_root(const char *name, __u32 mode)
{
	int fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
				 mode);

	if (fd < 0)
		return fd;
	if (t_put_str(fd, "k", "root", NULL) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

struct expect {
	const char *name;
	int rdonly;	/* expected result of an RDONLY attach: 0 or -errno */
	int rdwr;	/* of a read-write attach */
	int creat;	/* of a CREAT (no EXCL) attach of the existing store */
	int unlink;	/* of UNLINK */
};

/*
 * In the child: try each kind of attach; where it succeeds, check that the
 * attachment does what it says (READ works; COMMIT works, or EBADF on a
 * read-only one).
 */
static int try_access(void *arg)
{
	const struct expect *x = arg;
	struct t_val v;
	struct stmdev_info info;
	int fd;

	fd = t_open_attach(x->name, STMDEV_ATTACH_RDONLY, 0);
	CK_EQ(x->rdonly, fd < 0 ? fd : 0);
	if (fd >= 0) {
		CK_EQ(0, t_get_str(fd, "k", &v));
		CK(v.present);
		CK_EQ(-EBADF, t_put_str(fd, "k", "other", NULL));
		CK_EQ(0, t_info(fd, &info));
		CK_EQ(STMDEV_ATTACH_RDONLY, info.attach_flags & STMDEV_ATTACH_RDONLY);
		close(fd);
	}

	fd = t_open_attach(x->name, 0, 0);
	CK_EQ(x->rdwr, fd < 0 ? fd : 0);
	if (fd >= 0) {
		CK_EQ(0, t_get_str(fd, "k", &v));
		CK(v.present);
		CK_EQ(0, t_put_str(fd, "from-child", "yes", NULL));
		close(fd);
	}

	fd = t_open_attach(x->name, STMDEV_ATTACH_CREAT, 0666);
	CK_EQ(x->creat, fd < 0 ? fd : 0);
	if (fd >= 0)
		close(fd);

	CK_EQ(x->unlink, t_unlink(x->name));
	return 0;
}

/* The store is still there, unchanged except for what the child may write. */
static int still_there(const char *name, __u32 mode, struct stmdev_info *info)
{
	int fd = t_open_attach(name, 0, 0);
	int ret;

	if (fd < 0)
		return fd;
	ret = t_info(fd, info);
	close(fd);
	if (ret == 0 && info->mode != mode)
		ret = -EPROTO;
	return ret;
}

TEST_F(perm, other_uid_vs_0600)
{
	struct expect x = { self->name, -EACCES, -EACCES, -EACCES, -EPERM };
	struct stmdev_info info;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, try_access, &x));
	ASSERT_EQ(0, still_there(self->name, 0600, &info));
	EXPECT_EQ(1ULL, info.keys);
	EXPECT_EQ(0U, info.uid);
}

TEST_F(perm, other_uid_vs_0644)
{
	struct expect x = { self->name, 0, -EACCES, -EACCES, -EPERM };
	struct stmdev_info info;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0644);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, try_access, &x));
	ASSERT_EQ(0, still_there(self->name, 0644, &info));
	EXPECT_EQ(1ULL, info.keys);
}

/* Write permission alone is not enough: every attach needs read. */
TEST_F(perm, other_uid_vs_0622)
{
	struct expect x = { self->name, -EACCES, -EACCES, -EACCES, -EPERM };
	struct stmdev_info info;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0622);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, try_access, &x));
	ASSERT_EQ(0, still_there(self->name, 0622, &info));
	EXPECT_EQ(1ULL, info.keys);
}

TEST_F(perm, other_uid_vs_0666)
{
	struct expect x = { self->name, 0, 0, 0, -EPERM };
	struct stmdev_info info;
	struct t_val v;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0666);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, try_access, &x));
	ASSERT_EQ(0, still_there(self->name, 0666, &info));
	/* the child's commit landed, and the owner did not change */
	EXPECT_EQ(2ULL, info.keys);
	EXPECT_EQ(0U, info.uid);
	ASSERT_EQ(0, t_get_str(self->fd, "from-child", &v));
	EXPECT_TRUE(v.present);
}

static int create_0640(void *arg)
{
	const char *name = arg;
	int fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL,
				 0640);

	CK(fd >= 0);
	CK_EQ(0, t_put_str(fd, "k", "group", NULL));
	close(fd);
	return 0;
}

/* 0640 owned by root:nobody - the group reads, others do not. */
TEST_F(perm, group_vs_0640)
{
	struct expect member = { self->name, 0, -EACCES, -EACCES, -EPERM };
	struct expect other = { self->name, -EACCES, -EACCES, -EACCES, -EPERM };
	const gid_t supp[1] = { STM_NOBODY };
	struct stmdev_info info;

	NEED_ROOT();
	/* created by uid 0 with gid nobody: the store's group is nobody */
	ASSERT_EQ(0, t_run_as(0, STM_NOBODY, 0, NULL, create_0640, self->name));
	ASSERT_EQ(0, still_there(self->name, 0640, &info));
	EXPECT_EQ(0U, info.uid);
	EXPECT_EQ((__u32)STM_NOBODY, info.gid);

	/* primary group member */
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, try_access,
				&member));
	/* neither owner nor group */
	ASSERT_EQ(0, t_run_as(OTHER, OTHER, 0, NULL, try_access, &other));
	/* supplementary group member */
	ASSERT_EQ(0, t_run_as(OTHER, OTHER, 1, supp, try_access, &member));
	ASSERT_EQ(0, still_there(self->name, 0640, &info));
	EXPECT_EQ(1ULL, info.keys);
}

struct owner_arg {
	const char *name;
	int unlink_result;
};

static int create_as_nobody(void *arg)
{
	const char *name = arg;
	struct stmdev_info info;
	int fd, fd2;

	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	CK(fd >= 0);
	CK_EQ(0, t_info(fd, &info));
	CK_EQ(STM_NOBODY, info.uid);
	CK_EQ(STM_NOBODY, info.gid);
	CK_EQ(0600, info.mode);
	CK_EQ(0, t_put_str(fd, "k", "nobody", NULL));
	/* the owner attaches again, read-write */
	fd2 = t_open_attach(name, 0, 0);
	CK(fd2 >= 0);
	close(fd2);
	close(fd);
	return 0;
}

static int owner_unlinks(void *arg)
{
	const char *name = arg;

	CK_EQ(0, t_unlink(name));
	CK_EQ(-ENOENT, t_unlink(name));
	return 0;
}

TEST_F(perm, owner_is_creator_and_may_unlink)
{
	struct expect other = { self->name, -EACCES, -EACCES, -EACCES, -EPERM };
	struct stmdev_info info;
	int fd;

	NEED_ROOT();
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL,
				create_as_nobody, self->name));
	ASSERT_EQ(0, t_run_as(OTHER, OTHER, 0, NULL, try_access, &other));
	/* the owner may unlink its store */
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, owner_unlinks,
				self->name));

	/* CAP_SYS_ADMIN may unlink anybody's store */
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL,
				create_as_nobody, self->name2));
	ASSERT_EQ(0, t_unlink(self->name2));
	ASSERT_EQ(-ENOENT, t_unlink(self->name2));

	/* Not asserted (undocumented): may root attach a nobody 0600 store? */
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL,
				create_as_nobody, self->name2));
	fd = t_open_attach(self->name2, 0, 0);
	TH_LOG("root attaching nobody's 0600 store: %s",
	       fd < 0 ? strerror(-fd) : "allowed");
	if (fd >= 0) {
		ASSERT_EQ(0, t_info(fd, &info));
		EXPECT_EQ((__u32)STM_NOBODY, info.uid);
		close(fd);
	}
}

static int create_mode0(void *arg)
{
	const char *name = arg;
	int fd;

	/* like open(O_CREAT, 0): the creating attach itself succeeds ... */
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0);
	CK(fd >= 0);
	CK_EQ(0, t_put_str(fd, "k", "v", NULL));
	close(fd);
	/* ... but later attaches, even by the owner, are refused */
	CK_EQ(-EACCES, t_open_attach(name, STMDEV_ATTACH_RDONLY, 0));
	CK_EQ(-EACCES, t_open_attach(name, 0, 0));
	/* unlink is about ownership, not mode */
	CK_EQ(0, t_unlink(name));
	return 0;
}

TEST_F(perm, mode_0_refuses_even_the_owner)
{
	NEED_ROOT();
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, create_mode0,
				self->name));
}

/* Root's own read-only attachment: reads, lists, waits - never commits. */
TEST_F(perm, readonly_attachment_cannot_commit)
{
	static const char *const keys[] = { "k", "n", "a" };
	struct stmdev_commit_ent e[2];
	struct t_fp before, after;
	struct stmdev_stats st;
	__s64 one = (__s64)htole64(1);
	unsigned char buf[128] __attribute__((aligned(8)));
	__u64 cursor = 0, ver;
	__u32 count;
	struct t_val v;
	int ro, ret;

	self->fd = create_as_root(self->name, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_put_i64(self->fd, "n", 5, NULL));
	ro = t_open_attach(self->name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 3, &before));

	ASSERT_EQ(-EBADF, t_put_str(ro, "k", "x", NULL));
	ASSERT_EQ(-EBADF, t_put_str(ro, "new", "x", NULL));
	ASSERT_EQ(-EBADF, t_del(ro, "k", 1, NULL));
	cent_add(&e[0], "n", 1, &one);
	ASSERT_EQ(-EBADF, t_commit(ro, e, 1, NULL, NULL));
	cent_read(&e[0], "k", 1, before.k[0].version);
	cent_put(&e[1], "a", 1, "x", 1);
	ASSERT_EQ(-EBADF, t_commit_flags(ro, e, 2, STMDEV_COMMIT_NONBLOCK,
					   NULL, NULL));

	/* reads, LIST, INFO and STATS work */
	ASSERT_EQ(0, t_get_str(ro, "k", &v));
	EXPECT_TRUE(v.present);
	ASSERT_EQ(0, t_list(ro, &cursor, buf, sizeof(buf), &count));
	EXPECT_EQ(2U, count);
	ASSERT_EQ(0, t_stats(ro, &st));

	ASSERT_EQ(0, t_fingerprint(self->fd, keys, 3, &after));
	EXPECT_EQ(0, t_fp_diff(&before, &after));

	/* a validation-only commit: not asserted, the uapi does not say */
	ret = t_commit(ro, e, 1, &ver, NULL);
	TH_LOG("validation-only commit through a read-only attachment: %d", ret);
	close(ro);
}

struct inherit_arg {
	int fd;
	const char *name;
};

static int commit_through_inherited_fd(void *arg)
{
	const struct inherit_arg *x = arg;

	/* now nobody, but the fd was attached read-write by root */
	CK_EQ(0, t_put_str(x->fd, "inherited", "yes", NULL));
	/* while a fresh attach of the same store is refused */
	CK_EQ(-EACCES, t_open_attach(x->name, 0, 0));
	return 0;
}

/* Permissions are checked at attach: a passed fd keeps its access. */
TEST_F(perm, access_is_checked_at_attach)
{
	struct inherit_arg x;
	struct t_val v;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0600);
	ASSERT_LE(0, self->fd);
	x.fd = self->fd;
	x.name = self->name;
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL,
				commit_through_inherited_fd, &x));
	ASSERT_EQ(0, t_get_str(self->fd, "inherited", &v));
	EXPECT_TRUE(v.present);
}

struct ls_arg {
	const char *readable;
	const char *hidden;
};

/* Walk LIST_STORES; count how often each name appears. */
static int count_listed(const char *a, const char *b, int *na, int *nb)
{
	struct stmdev_store_ent ent[4];
	struct stmdev_list_stores ls;
	int fd = t_open(), calls, ret = 0;
	__u32 j;

	if (fd < 0)
		return fd;
	*na = *nb = 0;
	memset(&ls, 0, sizeof(ls));
	for (calls = 0; calls < 10000; calls++) {
		ls.addr = t_ptr(ent);
		ls.len = sizeof(ent);
		ret = t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls);
		if (ret < 0)
			break;
		for (j = 0; j < ls.count && j < 4; j++) {
			*na += !strncmp(ent[j].name, a, STMDEV_NAME_MAX);
			*nb += !strncmp(ent[j].name, b, STMDEV_NAME_MAX);
		}
		if (!ls.cursor)
			break;
	}
	close(fd);
	if (calls == 10000)
		ret = -ELOOP;
	return ret;
}

static int list_as_other(void *arg)
{
	const struct ls_arg *x = arg;
	int na, nb;

	CK_EQ(0, count_listed(x->readable, x->hidden, &na, &nb));
	CK_EQ(1, na);
	CK_EQ(0, nb);
	return 0;
}

TEST_F(perm, list_stores_shows_only_readable)
{
	struct ls_arg x = { self->name2, self->name };
	int fd2, na, nb;

	NEED_ROOT();
	self->fd = create_as_root(self->name, 0600);
	ASSERT_LE(0, self->fd);
	fd2 = create_as_root(self->name2, 0604);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, t_run_as(STM_NOBODY, STM_NOBODY, 0, NULL, list_as_other,
				&x));
	/* the owner sees both */
	ASSERT_EQ(0, count_listed(self->name, self->name2, &na, &nb));
	EXPECT_EQ(1, na);
	EXPECT_EQ(1, nb);
	close(fd2);
}

TEST_HARNESS_MAIN
