// SPDX-License-Identifier: GPL-2.0
/*
 * Scratch memory for small requests: one page per CPU, claimed by a READ or
 * COMMIT for the length of the call, so that the common call allocates
 * nothing and keeps its stack frame small (no frame over 1 KiB).  A call
 * whose CPU's page is taken (its holder sleeps or was preempted), or that
 * needs more than fits, uses the heap.  The holder may migrate: the page
 * is only memory, released by pointer.
 *
 * The small copies in and out of user memory that every READ and COMMIT
 * makes into such memory, stm_copy_in() and stm_copy_out(), are inline in
 * stm.h; their long copies are here.
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

/* stm_copy_in() and stm_copy_out() beyond STM_COPY_SMALL bytes. */
int stm_copy_in_large(void *dst, const void __user *src, size_t len)
{
	return copy_from_user(dst, src, len) ? -EFAULT : 0;
}

int stm_copy_out_large(void __user *dst, const void *src, size_t len)
{
	return copy_to_user(dst, src, len) ? -EFAULT : 0;
}
