/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a userspace harness (ustress.c, ufuzz.c) may steer in the ucore
 * context: per-thread injection rates and the "user" address space.
 */
#ifndef _UCORE_TEST_H
#define _UCORE_TEST_H

struct ucore_hooks {
	u64 rng;		/* this thread's random stream (0: seeded) */
	u32 fail_alloc;		/* fail one allocation in N (0: never) */
	u32 fail_copy;		/* fail one user copy in N */
	u32 fail_nofault;	/* fail one copy_to_user_nofault() in N */
	u32 delay_one_in;	/* yield at a debug.h race site, one in N */
	bool no_inject;		/* harness-side allocations: never fail */
	uintptr_t user_lo, user_hi;	/* if set: the only valid user range */
	uintptr_t ro_lo, ro_hi;		/* of which read-only */
	u64 injected, wakes, delays;	/* counts */
};

extern __thread struct ucore_hooks ucore_hooks;
extern long ucore_warnings;
extern int ucore_warn_fatal;	/* abort at a WARN (the fuzzer) */

u64 ucore_rand(void);
void ucore_quiescent(void);
void ucore_thread_exit(void);

struct stm_store;
struct stm_store *ucore_store_new(u32 uid, u32 seed);
void ucore_store_free(struct stm_store *s);

#endif /* _UCORE_TEST_H */
