/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fail_nth.h - systematic allocation-failure testing for kselftest-harness
 * tests, through the kernel's per-task /proc/thread-self/fail-nth
 * (CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_DEBUG_FS: the debug kernel of scripts/debug-kernel;
 * Debian's kernels have none of them).
 *
 * Writing N to fail-nth makes the N-th fault site this thread reaches fail
 * (every kmalloc/kmem_cache_alloc, and alloc_pages if enabled below); the
 * file reads back 0 once the fault has been injected, or what is left of N
 * if the thread never got that far.  See the kernel's
 * Documentation/fault-injection/fault-injection.rst.
 *
 * FAIL_NTH_RUN(flags, op, check, arg, &stats) runs op(arg) with its 1st, 2nd,
 * ... N-th fault site failing, until a run reaches no injected fault, and
 * asserts for every run:
 *  - an injected run returns -ENOMEM, or 0 when the kernel absorbed the
 *    failure (a fallback such as kvmalloc's vmalloc, or kmemleak's own
 *    metadata pool: with kmemleak every other site is one of those);
 *  - the run that reached no injected fault returns 0.
 * After every injected run, check(_metadata, arg, nth, ret) runs with the
 * fault disarmed: assert there that a failed call changed nothing (e.g. with
 * a store fingerprint), and undo what an absorbed (ret == 0) run did, so
 * op can run again.  Leaks on the failure paths are caught by the runner's
 * kmemleak scan after the suite.
 *
 * op must only make system calls and return 0 or -errno: while it runs a
 * fault is armed, so it must not print, assert, or touch fresh memory (a
 * page table allocated for a first touch counts as a site too).
 *
 *	#include "kselftest_harness.h"
 *	#include "fail_nth.h"
 *
 *	static int op_nop(void *arg)
 *	{
 *		struct stmdev_nop n = { 0 };
 *
 *		return ioctl(*(int *)arg, STMDEV_IOC_NOP, &n) < 0 ? -errno : 0;
 *	}
 *
 *	TEST(nop_enomem)
 *	{
 *		struct fail_nth_stats st;
 *		int fd = ...;
 *
 *		FAIL_NTH_REQUIRE();
 *		FAIL_NTH_RUN(0, op_nop, NULL, &fd, &st);
 *	}
 *
 * Flags: FAIL_NTH_PAGES also fails page allocations (fail_page_alloc, any
 * order, sleeping allocations included): kmalloc above 8 KiB and the
 * vmalloc half of kvmalloc are page allocations, which FAILSLAB alone never
 * reaches.  Without it no page allocation is a fault site (min-order is set
 * past any order).  The kernel's default (non-sleeping allocations of
 * order >= 1 can fail) would count SLUB's first, high-order and
 * non-reclaiming, attempt at a new slab page: a site that exists only
 * when a cache's current slab is full, so the numbering of the sites
 * after it shifts from one run to the next and real sites go untested.
 * With FAIL_NTH_PAGES that attempt is a site too (its failure is absorbed:
 * SLUB falls back to the minimum order), so there the walk is not
 * guaranteed to reach every site.
 *
 * Configuring the knobs in /sys/kernel/debug (failslab/ignore-gfp-wait=N:
 * by default FAILSLAB skips GFP_KERNEL allocations, i.e. nearly all of
 * ours) needs root and a mounted debugfs; a test without them SKIPs.
 * verbose is set to 0: at 2 every injected fault prints a call trace,
 * which the VM runner would count as a splat.  FAIL_NTH_VERBOSE=1 (one
 * line per fault) or 2 in the environment overrides it, to debug a
 * failure.
 */
#ifndef STM_FAIL_NTH_H
#define STM_FAIL_NTH_H

#ifndef __KSELFTEST_HARNESS_H
#error "include kselftest_harness.h before fail_nth.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL_NTH_DEBUGFS	"/sys/kernel/debug"
#define FAIL_NTH_SLAB_DIR	FAIL_NTH_DEBUGFS "/failslab"
#define FAIL_NTH_PAGE_DIR	FAIL_NTH_DEBUGFS "/fail_page_alloc"

/* Flags for FAIL_NTH_RUN() / fail_nth_setup(). */
#define FAIL_NTH_PAGES		(1U << 0)	/* fail page allocations too */

/* fail_page_alloc/min-order past every order (MAX_ORDER is 11 on x86-64). */
#define FAIL_NTH_NO_ORDER	"64"

/* More sites than this in one op is a runaway loop, not a real call. */
#ifndef FAIL_NTH_MAX
#define FAIL_NTH_MAX		10000U
#endif

struct fail_nth_stats {
	unsigned int sites;	/* fault sites the op reached */
	unsigned int failed;	/* injected runs that returned -ENOMEM */
	unsigned int absorbed;	/* injected runs that still returned 0 */
};

typedef int (*fail_nth_op_t)(void *arg);
typedef void (*fail_nth_check_t)(struct __test_metadata *_metadata,
				 void *arg, unsigned int nth, int ret);

/* Write a string to a file: 0 or -errno. */
static inline int fail_nth_put(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (size_t)n == len ? 0 : -EIO;
}

/* Open this thread's fail-nth, read-write: the fd or -errno. */
static inline int fail_nth_open(void)
{
	char path[64];
	int fd;

	fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd < 0 ? -errno : fd;
	/* Kernels before 3.17 had no /proc/thread-self. */
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Arm the n-th fault (0 disarms): 0 or -errno. */
static inline int fail_nth_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	/* The kernel ignores the offset when writing; no allocation after. */
	if (pwrite(fd, buf, len, 0) != len)
		return errno ? -errno : -EIO;
	return 0;
}

/*
 * What is left of the armed count: 0 when the fault was injected (or
 * nothing was armed), else how many sites remained.  -errno on error.
 */
static inline long fail_nth_left(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/*
 * Set the debugfs knobs for flags (see the top of this file), mounting
 * debugfs if needed.  NULL when fail-nth is usable, else why not (a
 * capability the kernel or the caller lacks: a reason to skip).
 */
static inline const char *fail_nth_setup(unsigned int flags)
{
	const char *verbose = getenv("FAIL_NTH_VERBOSE");
	struct stat sb;
	int fd, ret;
	long left;

	fd = fail_nth_open();
	if (fd < 0)
		return "no /proc/thread-self/fail-nth (kernel without CONFIG_FAULT_INJECTION)";
	close(fd);

	if (stat(FAIL_NTH_SLAB_DIR, &sb) != 0 &&
	    mount("debugfs", FAIL_NTH_DEBUGFS, "debugfs", 0, NULL) != 0 &&
	    errno != EBUSY)
		return "debugfs not mounted and cannot be";
	if (stat(FAIL_NTH_SLAB_DIR, &sb) != 0)
		return "no " FAIL_NTH_SLAB_DIR " (kernel without CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS)";
	if ((flags & FAIL_NTH_PAGES) && stat(FAIL_NTH_PAGE_DIR, &sb) != 0)
		return "no " FAIL_NTH_PAGE_DIR " (kernel without CONFIG_FAIL_PAGE_ALLOC)";

	if (!verbose || !*verbose)
		verbose = "0";
	ret = fail_nth_put(FAIL_NTH_SLAB_DIR "/ignore-gfp-wait", "N");
	if (!ret)
		ret = fail_nth_put(FAIL_NTH_SLAB_DIR "/verbose", verbose);
	if (ret)
		return "cannot configure " FAIL_NTH_SLAB_DIR " (not root?)";
	if (stat(FAIL_NTH_PAGE_DIR, &sb) == 0) {
		/*
		 * Pages: all orders, sleeping or not; else none (no order
		 * reaches FAIL_NTH_NO_ORDER: see the top of this file).
		 */
		int pages = !!(flags & FAIL_NTH_PAGES);

		ret = fail_nth_put(FAIL_NTH_PAGE_DIR "/ignore-gfp-wait", pages ? "N" : "Y");
		if (!ret)
			ret = fail_nth_put(FAIL_NTH_PAGE_DIR "/min-order",
					   pages ? "0" : FAIL_NTH_NO_ORDER);
		if (!ret)
			ret = fail_nth_put(FAIL_NTH_PAGE_DIR "/verbose", verbose);
		if (ret)
			return "cannot configure " FAIL_NTH_PAGE_DIR " (not root?)";
	}

	/* Arming and reading back must not themselves reach a fault site. */
	fd = fail_nth_open();
	if (fd < 0)
		return "cannot open fail-nth";
	left = fail_nth_arm(fd, 1) ? -1 : fail_nth_left(fd);
	fail_nth_arm(fd, 0);
	close(fd);
	if (left != 1)
		return "fail-nth does not read back what was written";
	return NULL;
}

/* 1 when fail-nth can be used (and the knobs are set for flags), else 0. */
static inline int fail_nth_available(unsigned int flags)
{
	return fail_nth_setup(flags) == NULL;
}

/* In a TEST: skip unless fail-nth is usable. */
#define FAIL_NTH_REQUIRE_FLAGS(flags) do {				\
	const char *__why = fail_nth_setup(flags);			\
	if (__why)							\
		SKIP(return, "%s", __why);				\
} while (0)
#define FAIL_NTH_REQUIRE()	FAIL_NTH_REQUIRE_FLAGS(0)

static inline void fail_nth_run(struct __test_metadata *_metadata,
				unsigned int flags, fail_nth_op_t op,
				fail_nth_check_t check, void *arg,
				struct fail_nth_stats *stats)
{
	struct fail_nth_stats st = { 0 };
	const char *why;
	unsigned int nth;
	long left;
	int fd, ret;

	why = fail_nth_setup(flags);
	ASSERT_TRUE(why == NULL) TH_LOG("fail-nth: %s", why);
	fd = fail_nth_open();
	ASSERT_LE(0, fd);

	for (nth = 1; nth <= FAIL_NTH_MAX; nth++) {
		ASSERT_EQ(0, fail_nth_arm(fd, nth));
		ret = op(arg);
		left = fail_nth_left(fd);
		ASSERT_EQ(0, fail_nth_arm(fd, 0));
		ASSERT_LE(0, left);

		if (left > 0) {
			/* The op finished before its nth site: all covered. */
			st.sites = nth - 1;
			ASSERT_EQ(0, ret) TH_LOG("fail-nth: with no fault injected the op returned %d (%s)",
						 ret, strerror(-ret));
			break;
		}
		if (ret == 0) {
			st.absorbed++;
		} else {
			ASSERT_EQ(-ENOMEM, ret) TH_LOG("fail-nth: site %u failed: the op returned %d (%s), not -ENOMEM",
						       nth, ret, strerror(-ret));
			st.failed++;
		}
		if (check)
			check(_metadata, arg, nth, ret);
	}
	close(fd);
	ASSERT_GE(FAIL_NTH_MAX, nth) TH_LOG("fail-nth: the op still reached fault sites after %u",
					    FAIL_NTH_MAX);
	TH_LOG("fail-nth: %u sites: %u ENOMEM, %u absorbed",
	       st.sites, st.failed, st.absorbed);
	if (stats)
		*stats = st;
}

/* In a TEST: the loop described at the top of this file. */
#define FAIL_NTH_RUN(flags, op, check, arg, stats) \
	fail_nth_run(_metadata, flags, op, check, arg, stats)

#endif /* STM_FAIL_NTH_H */
