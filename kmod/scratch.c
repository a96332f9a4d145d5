// SPDX-License-Identifier: GPL-2.0
/*
 * Scratch memory for small requests: one page per CPU, claimed by a READ or
 * COMMIT for the length of the call, so that the common call allocates
 * nothing and keeps its stack frame small (no frame over 1 KiB).  A call
 * whose CPU's page is taken (its holder sleeps or was preempted), or that
 * needs more than fits, uses the heap.  The holder may migrate: the page
 * is only memory, released by pointer.
 */
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"

DEFINE_PER_CPU(struct stm_scratch_area *, stm_scratch_areas);

/* A CPU whose page cannot be allocated uses the heap: never fails. */
void stm_scratch_init(void)
{
	int cpu;

	BUILD_BUG_ON(sizeof(struct stm_scratch_area) != PAGE_SIZE);
	for_each_possible_cpu(cpu)
		per_cpu(stm_scratch_areas, cpu) =
			kzalloc_node(sizeof(struct stm_scratch_area),
				     GFP_KERNEL, cpu_to_node(cpu));
}

void stm_scratch_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		kfree(per_cpu(stm_scratch_areas, cpu));
		per_cpu(stm_scratch_areas, cpu) = NULL;
	}
}

/* stm_scratch_alloc() when the page is taken, too small or used up. */
void *stm_scratch_heap(struct stm_scratch *sc, size_t size)
{
	void *p;

	if (WARN_ON_ONCE(sc->nheap == ARRAY_SIZE(sc->heap)))
		return NULL;
	p = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (p)
		sc->heap[sc->nheap++] = p;
	return p;
}

void stm_scratch_free_heap(struct stm_scratch *sc)
{
	while (sc->nheap)
		kvfree(sc->heap[--sc->nheap]);
}

/*
 * copy_from_user() and copy_to_user() for the small copies of every call:
 * its argument struct, entries, keys, ADD operands and inline values, of
 * lengths the caller bounded, to and from memory it sized for them.  The
 * same access_ok(), speculation barrier and fault handling, without
 * hardened usercopy's object check, which costs more than such a copy:
 * about a sixth of a 1-key commit beyond its system call, under TCG
 * (Documentation/bench.rst, "Where the time goes").  Longer copies, where
 * the check is cheap next to the copy, take copy_{from,to}_user().  KASAN
 * still checks every byte these store or load on the kernel side.
 * Return 0 or -EFAULT.
 */
int stm_copy_in(void *dst, const void __user *src, size_t len)
{
	const u8 __user *s = src;
	u8 *d = dst;
	u64 v;

	if (len > STM_COPY_SMALL)
		return copy_from_user(dst, src, len) ? -EFAULT : 0;
	if (!user_access_begin(src, len))
		return -EFAULT;
	for (; len >= sizeof(v); len -= sizeof(v), s += sizeof(v), d += sizeof(v)) {
		unsafe_get_user(v, (const u64 __user *)s, efault);
		put_unaligned(v, (u64 *)d);
	}
	for (; len; len--, s++, d++)
		unsafe_get_user(*d, s, efault);
	user_access_end();
	return 0;

efault:
	user_access_end();
	return -EFAULT;
}

int stm_copy_out(void __user *dst, const void *src, size_t len)
{
	if (len > STM_COPY_SMALL)
		return copy_to_user(dst, src, len) ? -EFAULT : 0;
	if (!user_access_begin(dst, len))
		return -EFAULT;
	unsafe_copy_to_user(dst, src, len, efault);
	user_access_end();
	return 0;

efault:
	user_access_end();
	return -EFAULT;
}
