// SPDX-License-Identifier: GPL-2.0
/*
 * basic_test: the device node, GET_FEATURES, NOP, ioctl number checking,
 * and unloading/reloading the module.
 *
 * Runs as root inside the VM (selftests/vm/run), where the module is at
 * /stm.ko.  Skips only when a capability is truly absent: not root, module
 * not loaded, no /stm.ko to reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <termios.h>

#include <linux/stmdev.h>

#include "kselftest_harness.h"

#define DEV_PATH	"/dev/stm"
#define MOD_SYSFS	"/sys/module/stm"
#define MOD_PATH	"/stm.ko"

static int path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int module_loaded(void)
{
	return path_exists(MOD_SYSFS);
}

/* ioctl() result as 0 or -errno. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = -1;
	if (!path_exists(DEV_PATH)) {
		/* A loaded module without its node is a failure, not a skip. */
		ASSERT_FALSE(module_loaded()) TH_LOG(MOD_SYSFS " exists but " DEV_PATH " does not");
		SKIP(return, "stm module not loaded");
	}
	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open " DEV_PATH ": %s", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* /dev/stm is a character device, mode 0666 (access is checked per store). */
TEST_F(dev, node)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666U, st.st_mode & 07777) TH_LOG("mode %o", st.st_mode & 07777);
}

TEST_F(dev, get_features)
{
	struct stmdev_features f;

	memset(&f, 0xa5, sizeof(f));
	memset(f.reserved, 0, sizeof(f.reserved));
	ASSERT_EQ(0, xioctl(self->fd, STMDEV_IOC_GET_FEATURES, &f));
	EXPECT_EQ((__u32)STMDEV_UAPI_VERSION, f.uapi_version);
	EXPECT_NE(0ULL, f.features);
	/* The out fields are filled, not left as the caller's garbage. */
	EXPECT_NE(0xa5a5a5a5a5a5a5a5ULL, f.features);
	EXPECT_EQ(0ULL, f.reserved[0]);
	EXPECT_EQ(0ULL, f.reserved[1]);
}

TEST_F(dev, get_features_reserved)
{
	struct stmdev_features f;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		memset(&f, 0, sizeof(f));
		f.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, STMDEV_IOC_GET_FEATURES, &f))
			TH_LOG("reserved[%u] = 1", i);
	}
}

TEST_F(dev, get_features_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, STMDEV_IOC_GET_FEATURES, NULL));
}

TEST_F(dev, nop)
{
	struct stmdev_nop nop = { 0 };
	int i;

	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, xioctl(self->fd, STMDEV_IOC_NOP, &nop));
}

TEST_F(dev, nop_reserved)
{
	struct stmdev_nop nop = { .reserved = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, STMDEV_IOC_NOP, &nop));
	nop.reserved = 1ULL << 63;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, STMDEV_IOC_NOP, &nop));
}

/* A command number the module does not know. */
TEST_F(dev, unknown_nr)
{
	struct stmdev_nop nop = { 0 };

	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC, 0x7f, struct stmdev_nop), &nop));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC, 0xff, struct stmdev_nop), &nop));
}

/* A known number with the wrong size or direction is not that command. */
TEST_F(dev, wrong_size)
{
	__u64 buf[16] = { 0 };
	int ret;

	ret = xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC, 0x00, __u32), buf);
	EXPECT_TRUE(ret == -ENOTTY || ret == -EINVAL) TH_LOG("GET_FEATURES as __u32: %d", ret);
	ret = xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC, 0x00, struct stmdev_nop), buf);
	EXPECT_TRUE(ret == -ENOTTY || ret == -EINVAL) TH_LOG("GET_FEATURES as nop: %d", ret);
	ret = xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC, 0x01, struct stmdev_features), buf);
	EXPECT_TRUE(ret == -ENOTTY || ret == -EINVAL) TH_LOG("NOP as features: %d", ret);
	ret = xioctl(self->fd, _IOR(STMDEV_IOC_MAGIC, 0x00, struct stmdev_features), buf);
	EXPECT_TRUE(ret == -ENOTTY || ret == -EINVAL) TH_LOG("GET_FEATURES as _IOR: %d", ret);
	ret = xioctl(self->fd, _IO(STMDEV_IOC_MAGIC, 0x01), NULL);
	EXPECT_TRUE(ret == -ENOTTY || ret == -EINVAL) TH_LOG("NOP as _IO: %d", ret);
}

/* Another driver's magic, and a tty ioctl, on /dev/stm. */
TEST_F(dev, foreign_magic)
{
	struct stmdev_features f = { 0 };
	struct termios tio;

	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR('X', 0x00, struct stmdev_features), &f));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR(STMDEV_IOC_MAGIC + 1, 0x01, struct stmdev_nop), &f));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, TCGETS, &tio));
}

/* The module cannot go away under an open fd. */
TEST_F(dev, rmmod_busy)
{
	long ret;

	if (geteuid() != 0)
		SKIP(return, "unloading needs root");
	ret = syscall(__NR_delete_module, "stm", O_NONBLOCK);
	EXPECT_EQ(-1, ret);
	EXPECT_TRUE(errno == EBUSY || errno == EWOULDBLOCK) TH_LOG("delete_module: %s", strerror(errno));
	EXPECT_NE(0, system("rmmod stm 2>/dev/null"));
	EXPECT_TRUE(module_loaded());
	EXPECT_TRUE(path_exists(DEV_PATH));
	/* The fd still works. */
	EXPECT_EQ(0, xioctl(self->fd, STMDEV_IOC_NOP, &(struct stmdev_nop){ 0 }));
}

/* Unloading tests: a fixture of their own, defined last, so they run last. */
FIXTURE(module) {
};

FIXTURE_SETUP(module)
{
}

FIXTURE_TEARDOWN(module)
{
}

/*
 * Unload and reload: /dev/stm goes away and comes back, and the new
 * instance answers.
 */
TEST_F(module, unload_reload)
{
	struct stmdev_features f;
	int fd, i;

	if (geteuid() != 0)
		SKIP(return, "unloading needs root");
	if (!module_loaded())
		SKIP(return, "stm module not loaded");
	if (!path_exists(MOD_PATH))
		SKIP(return, MOD_PATH " not present (not in the test VM)");

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, system("rmmod stm")) TH_LOG("round %d: rmmod failed", i);
		EXPECT_FALSE(path_exists(DEV_PATH));
		EXPECT_FALSE(module_loaded());
		ASSERT_EQ(0, system("insmod " MOD_PATH)) TH_LOG("round %d: insmod failed", i);
		ASSERT_TRUE(path_exists(DEV_PATH));

		fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		memset(&f, 0, sizeof(f));
		EXPECT_EQ(0, xioctl(fd, STMDEV_IOC_GET_FEATURES, &f));
		EXPECT_EQ((__u32)STMDEV_UAPI_VERSION, f.uapi_version);
		EXPECT_EQ(0, xioctl(fd, STMDEV_IOC_NOP, &(struct stmdev_nop){ 0 }));
		close(fd);
	}
}

TEST_HARNESS_MAIN
