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
#include "stm.h"

struct stm_scratch_area {
	unsigned long busy;		/* bit 0: claimed */
	u8 data[STM_SCRATCH_SIZE] __aligned(8);
};

static DEFINE_PER_CPU(struct stm_scratch_area *, stm_scratch_areas);

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

/* Claim this CPU's page if it is free. */
void stm_scratch_begin(struct stm_scratch *sc)
{
	struct stm_scratch_area *a = this_cpu_read(stm_scratch_areas);

	memset(sc, 0, sizeof(*sc));
	if (a && !test_and_set_bit_lock(0, &a->busy))
		sc->area = a;
}

/* @size bytes, 8-aligned, from the claimed page or the heap; NULL: ENOMEM. */
void *stm_scratch_alloc(struct stm_scratch *sc, size_t size)
{
	void *p;

	size = size_add(size, 7) & ~(size_t)7;
	if (sc->area && size <= STM_SCRATCH_SIZE - sc->used) {
		p = sc->area->data + sc->used;
		sc->used += size;
		return p;
	}
	if (WARN_ON_ONCE(sc->nheap == ARRAY_SIZE(sc->heap)))
		return NULL;
	p = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (p)
		sc->heap[sc->nheap++] = p;
	return p;
}

/* Free what came from the heap and release the page. */
void stm_scratch_end(struct stm_scratch *sc)
{
	while (sc->nheap)
		kvfree(sc->heap[--sc->nheap]);
	if (sc->area)
		clear_bit_unlock(0, &sc->area->busy);
	sc->area = NULL;
}
