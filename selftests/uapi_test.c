// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi header's layout rules, checked by the compiler: no implicit
 * padding anywhere (-Wpadded as an error while the header is parsed),
 * every struct a multiple of 8 bytes, and command numbers that encode
 * their struct's size and never move.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wpadded"
#include <linux/stmdev.h>
#pragma GCC diagnostic pop

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "kselftest_harness.h"

#define SZ8(s) _Static_assert(sizeof(struct s) % 8 == 0, #s " is not a multiple of 8")
SZ8(stmdev_features); SZ8(stmdev_nop); SZ8(stmdev_attach); SZ8(stmdev_unlink);
SZ8(stmdev_info); SZ8(stmdev_store_ent); SZ8(stmdev_list_stores);
SZ8(stmdev_read_ent); SZ8(stmdev_read); SZ8(stmdev_commit_ent); SZ8(stmdev_commit);
SZ8(stmdev_key_rec); SZ8(stmdev_list); SZ8(stmdev_stats); SZ8(stmdev_wait_ent);
SZ8(stmdev_wait); SZ8(stmdev_watch); SZ8(stmdev_family); SZ8(stmdev_family_ent);
SZ8(stmdev_family_stats);
_Static_assert(sizeof(struct stmdev_uring_cmd) == 16, "io_uring payload is 16 bytes");

struct cmd_num {
	const char *name;
	unsigned long cmd;
	unsigned int nr;
	size_t size;
};

#define CMD(c, n, s) { #c, c, n, sizeof(struct s) }
/* Append-only: a number never changes once released. */
static const struct cmd_num cmds[] = {
	CMD(STMDEV_IOC_GET_FEATURES, 0x00, stmdev_features),
	CMD(STMDEV_IOC_NOP, 0x01, stmdev_nop),
	CMD(STMDEV_IOC_ATTACH, 0x02, stmdev_attach),
	CMD(STMDEV_IOC_UNLINK, 0x03, stmdev_unlink),
	CMD(STMDEV_IOC_INFO, 0x04, stmdev_info),
	CMD(STMDEV_IOC_LIST_STORES, 0x05, stmdev_list_stores),
	CMD(STMDEV_IOC_READ, 0x06, stmdev_read),
	CMD(STMDEV_IOC_COMMIT, 0x07, stmdev_commit),
	CMD(STMDEV_IOC_LIST, 0x08, stmdev_list),
	CMD(STMDEV_IOC_STATS, 0x09, stmdev_stats),
	CMD(STMDEV_IOC_WAIT, 0x0a, stmdev_wait),
	CMD(STMDEV_IOC_WATCH, 0x0b, stmdev_watch),
	CMD(STMDEV_IOC_FAMILY, 0x0c, stmdev_family),
	CMD(STMDEV_IOC_FAMILY_STATS, 0x0d, stmdev_family_stats),
	CMD(STMDEV_IOC_EXPORT, 0x0e, stmdev_export),
	CMD(STMDEV_IOC_IMPORT, 0x0f, stmdev_import),
	CMD(STMDEV_IOC_RANGE, 0x10, stmdev_range),
};

TEST(command_numbers_encode_their_struct)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ((unsigned long)STMDEV_IOC_MAGIC, (unsigned long)_IOC_TYPE(cmds[i].cmd)) TH_LOG("%s", cmds[i].name);
		EXPECT_EQ((unsigned long)cmds[i].nr, (unsigned long)_IOC_NR(cmds[i].cmd)) TH_LOG("%s", cmds[i].name);
		EXPECT_EQ((unsigned long)cmds[i].size, (unsigned long)_IOC_SIZE(cmds[i].cmd)) TH_LOG("%s", cmds[i].name);
		EXPECT_EQ((unsigned long)(_IOC_READ | _IOC_WRITE), (unsigned long)_IOC_DIR(cmds[i].cmd)) TH_LOG("%s", cmds[i].name);
	}
}

/* Every command the header defines is known to the running module. */
TEST(every_command_is_served)
{
	struct stmdev_features ft = {};
	unsigned char buf[256];
	size_t i;
	int fd;

	fd = open("/dev/stm", O_RDWR);
	if (fd < 0)
		SKIP(return, "no /dev/stm");
	ASSERT_EQ(0, ioctl(fd, STMDEV_IOC_GET_FEATURES, &ft));
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(buf, 0, sizeof(buf));
		errno = 0;
		/* No store attached: ENOTCONN or EINVAL, never ENOTTY. */
		if (ioctl(fd, cmds[i].cmd, buf) < 0)
			EXPECT_NE(ENOTTY, errno) TH_LOG("%s", cmds[i].name);
	}
	close(fd);
}

TEST_HARNESS_MAIN
