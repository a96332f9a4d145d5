/* SPDX-License-Identifier: MIT */
/*
 * devenc.h - the one encoder between the library's backend-neutral
 * requests (internal.h) and the kernel's UAPI structs.  dev.c sends the
 * result by ioctl, ring.c by io_uring; neither builds a UAPI entry itself.
 * Only these two files include it.
 */
#ifndef STMDEV_DEVENC_H
#define STMDEV_DEVENC_H

#include <linux/stmdev.h>

#include "internal.h"

static inline __u64 stm_uptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/* Read entries for @rd: keys, buffers and their room. */
void stm_enc_read(struct stmdev_read_ent *ents, const struct stm_rd *rd, size_t n);
/* What the kernel answered into @ents, back into @rd. */
void stm_dec_read(struct stm_rd *rd, const struct stmdev_read_ent *ents, size_t n);
/*
 * One commit entry for @op with its key at @key and its data at @val (the
 * caller's or a copy): @val is what the kernel reads (PUT, ADD) or writes
 * (FETCH).  @fetch adds STMDEV_CENT_FETCH whatever op->flags says.
 */
void stm_enc_commit_ent(struct stmdev_commit_ent *e, const struct stm_cop *op,
			const void *key, const void *val, bool fetch);
/* A commit's flags (STM_CM_*) as STMDEV_COMMIT_*. */
__u32 stm_enc_commit_flags(unsigned flags);
/* A RANGE call: from @cursor (0: start) of @version, records into @buf. */
void stm_enc_range(struct stmdev_range *r, const void *pfx, size_t plen,
		   unsigned flags, uint64_t clock, void *buf, uint32_t len,
		   uint64_t cursor, uint64_t version);
/* Wait entries for @k. */
void stm_enc_wait(struct stmdev_wait_ent *ents, const struct stm_wkey *k, size_t n);
/* A wait's flags (STM_WT_*) as STMDEV_WAIT_*. */
__u32 stm_enc_wait_flags(unsigned flags);

#endif /* STMDEV_DEVENC_H */
