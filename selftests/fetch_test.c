// SPDX-License-Identifier: GPL-2.0
/*
 * COMMIT's READ + STMDEV_CENT_FETCH: the value a commit's write replaces,
 * handed back by the same call (swap, take-and-delete), for inline and
 * heap values; E2BIG with nothing committed when the room is too small;
 * EINVAL without a write of the same key; validation only with CHECK.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/stmdev.h>
#include "kselftest_harness.h"

FIXTURE(f) {
	char name[64];
	int fd;
};

FIXTURE_SETUP(f)
{
	struct stmdev_features ft = {};
	struct stmdev_attach a = {
		.flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, .mode = 0600,
	};

	self->fd = open("/dev/stm", O_RDWR);
	if (self->fd < 0)
		SKIP(return, "no /dev/stm");
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_GET_FEATURES, &ft));
	if (!(ft.features & STMDEV_F_FETCH_OLD))
		SKIP(return, "no STMDEV_F_FETCH_OLD");
	snprintf(self->name, sizeof(self->name), "fetch-%d", getpid());
	snprintf(a.name, sizeof(a.name), "%s", self->name);
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_ATTACH, &a));
}

FIXTURE_TEARDOWN(f)
{
	struct stmdev_unlink u = {};

	snprintf(u.name, sizeof(u.name), "%s", self->name);
	ioctl(self->fd, STMDEV_IOC_UNLINK, &u);
	close(self->fd);
}

static struct stmdev_commit_ent put_ent(const char *key, const void *val,
					__u32 len)
{
	return (struct stmdev_commit_ent){
		.key_addr = (unsigned long)key, .key_len = strlen(key),
		.val_addr = (unsigned long)val, .val_len = len,
		.op = STMDEV_OP_PUT,
	};
}

static struct stmdev_commit_ent fetch_ent(const char *key, void *room, __u32 cap)
{
	return (struct stmdev_commit_ent){
		.key_addr = (unsigned long)key, .key_len = strlen(key),
		.val_addr = (unsigned long)room, .val_len = cap,
		.op = STMDEV_OP_READ, .flags = STMDEV_CENT_FETCH,
	};
}

static int commit(int fd, struct stmdev_commit_ent *e, __u32 n, __u64 *version)
{
	struct stmdev_commit c = { .entries = (unsigned long)e, .count = n };
	int ret = ioctl(fd, STMDEV_IOC_COMMIT, &c);

	if (version)
		*version = c.version;
	return ret ? -errno : 0;
}

static int get(int fd, const char *key, char *buf, __u32 cap, __u64 *version)
{
	struct stmdev_read_ent e = {
		.key_addr = (unsigned long)key, .key_len = strlen(key),
		.val_addr = (unsigned long)buf, .val_len = cap,
	};
	struct stmdev_read r = { .entries = (unsigned long)&e, .count = 1 };

	if (ioctl(fd, STMDEV_IOC_READ, &r))
		return -errno;
	*version = e.version;
	return e.flags & STMDEV_RENT_PRESENT ? (int)e.val_len : -ENOENT;
}

/* Values of both sizes: inline in the key (<= 16 bytes) and on the heap. */
static const char *small_a = "first", *small_b = "second";
static char big_a[100], big_b[200];

TEST_F(f, swap_returns_the_replaced_value)
{
	const char *olds[] = { small_a, big_a }, *news[] = { small_b, big_b };
	__u32 olens[] = { 5, sizeof(big_a) }, nlens[] = { 6, sizeof(big_b) };
	char room[512], buf[512];
	__u64 v1, v2, ver;
	int i;

	memset(big_a, 'a', sizeof(big_a));
	memset(big_b, 'b', sizeof(big_b));
	for (i = 0; i < 2; i++) {
		struct stmdev_commit_ent e[2];
		char key[8];

		snprintf(key, sizeof(key), "s%d", i);
		e[0] = put_ent(key, olds[i], olens[i]);
		ASSERT_EQ(0, commit(self->fd, e, 1, &v1));
		/* the fetch before the write in the array: order does not matter */
		e[0] = fetch_ent(key, room, sizeof(room));
		e[1] = put_ent(key, news[i], nlens[i]);
		ASSERT_EQ(0, commit(self->fd, e, 2, &v2));
		EXPECT_EQ(olens[i], e[0].val_len);
		EXPECT_EQ(v1, e[0].version);
		EXPECT_EQ(0, memcmp(room, olds[i], olens[i]));
		EXPECT_EQ((int)nlens[i], get(self->fd, key, buf, sizeof(buf), &ver));
		EXPECT_EQ(v2, ver);
		EXPECT_EQ(0, memcmp(buf, news[i], nlens[i]));
	}
}

TEST_F(f, take_and_delete_in_one_call)
{
	struct stmdev_commit_ent e[2];
	char room[32], buf[32];
	__u64 v1, ver;

	e[0] = put_ent("q", "item", 4);
	ASSERT_EQ(0, commit(self->fd, e, 1, &v1));
	e[0] = (struct stmdev_commit_ent){
		.key_addr = (unsigned long)"q", .key_len = 1, .op = STMDEV_OP_DEL,
	};
	e[1] = fetch_ent("q", room, sizeof(room));
	ASSERT_EQ(0, commit(self->fd, e, 2, NULL));
	EXPECT_EQ(4U, e[1].val_len);
	EXPECT_EQ(v1, e[1].version);
	EXPECT_EQ(0, memcmp(room, "item", 4));
	EXPECT_EQ(-ENOENT, get(self->fd, "q", buf, sizeof(buf), &ver));
	/* Taking from an absent key: version 0, length 0. */
	e[1] = fetch_ent("q", room, sizeof(room));
	ASSERT_EQ(0, commit(self->fd, e, 2, NULL));
	EXPECT_EQ(0U, e[1].val_len);
	EXPECT_EQ(0ULL, e[1].version);
}

TEST_F(f, too_little_room_commits_nothing)
{
	struct stmdev_commit_ent e[2];
	struct stmdev_info before = {}, after = {};
	char room[4], buf[256];
	__u64 v1, ver;

	memset(big_a, 'a', sizeof(big_a));
	e[0] = put_ent("k", big_a, sizeof(big_a));
	ASSERT_EQ(0, commit(self->fd, e, 1, &v1));
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_INFO, &before));
	e[0] = put_ent("k", "new", 3);
	e[1] = fetch_ent("k", room, sizeof(room));
	EXPECT_EQ(-E2BIG, commit(self->fd, e, 2, NULL));
	EXPECT_EQ((__u32)sizeof(big_a), e[1].val_len);	/* the room needed */
	EXPECT_EQ(v1, e[1].version);
	ASSERT_EQ(0, ioctl(self->fd, STMDEV_IOC_INFO, &after));
	EXPECT_EQ(before.clock, after.clock);
	EXPECT_EQ(before.bytes, after.bytes);
	EXPECT_EQ((int)sizeof(big_a), get(self->fd, "k", buf, sizeof(buf), &ver));
	EXPECT_EQ(v1, ver);
}

TEST_F(f, fetch_needs_a_write_and_checks_only_with_check)
{
	struct stmdev_commit_ent e[2];
	char room[16];
	__u64 v1;

	e[0] = put_ent("w", "1", 1);
	ASSERT_EQ(0, commit(self->fd, e, 1, &v1));
	/* no write of the key: EINVAL */
	e[0] = fetch_ent("w", room, sizeof(room));
	e[1] = put_ent("other", "x", 1);
	EXPECT_EQ(-EINVAL, commit(self->fd, e, 2, NULL));
	/* FETCH on PUT or DEL: EINVAL */
	e[0] = put_ent("w", "2", 1);
	e[0].flags = STMDEV_CENT_FETCH;
	EXPECT_EQ(-EINVAL, commit(self->fd, e, 1, NULL));
	/* a stale expected version is ignored without CHECK ... */
	e[0] = put_ent("w", "2", 1);
	e[1] = fetch_ent("w", room, sizeof(room));
	e[1].version = 12345;
	EXPECT_EQ(0, commit(self->fd, e, 2, NULL));
	/* ... and is a conflict with it */
	e[0] = put_ent("w", "3", 1);
	e[1] = fetch_ent("w", room, sizeof(room));
	e[1].version = v1;	/* no longer current */
	e[1].flags |= STMDEV_CENT_CHECK;
	EXPECT_EQ(-ESTALE, commit(self->fd, e, 2, NULL));
}

TEST_HARNESS_MAIN
