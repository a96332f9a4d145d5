/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Debug-only race-window delays, compiled in only with STM_DEBUG (the debug
 * kernel's build).  A test names a site and a delay through
 * /sys/module/stm/parameters/debug_delay_{site,us}; the code at that site
 * then sleeps or spins there, so a narrow race is hit every time.  Without
 * STM_DEBUG every call compiles to nothing and the parameters do not exist.
 */
#ifndef _STM_DEBUG_H
#define _STM_DEBUG_H

/* Sites: append only (tests and the fuzzer name them by number). */
enum stm_debug_site {
	STM_DBG_NONE = 0,
	STM_DBG_URING_ARM = 1,		/* uring.c: WAIT kick published, not armed */
	STM_DBG_SNAPSHOT = 2,		/* snapshot.c: between clock and keys */
	STM_DBG_COMMIT_LOCKED = 3,	/* commit.c: write set locked */
	STM_DBG_COMMIT_RO_CLOCK = 4,	/* commit.c: read-only, clock read, keys not */
	STM_DBG_SITES
};

#ifdef STM_DEBUG
/* Delay here if @site is the one selected; @atomic: spin, else sleep. */
void stm_debug_delay(enum stm_debug_site site, bool atomic);
#else
static inline void stm_debug_delay(enum stm_debug_site site, bool atomic)
{
}
#endif

#endif /* _STM_DEBUG_H */
