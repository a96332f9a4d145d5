/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels stm.ko builds for lives here,
 * force-included before each file.  Core files never test versions.
 * Prefer feature tests (__has_include) over version numbers.
 */
#ifndef _STM_COMPAT_H
#define _STM_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>

/* 6.12 removed no_llseek: a NULL ->llseek now means the same. */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#define stm_no_llseek NULL
#else
#define stm_no_llseek no_llseek
#endif

/* 6.12 moved <asm/unaligned.h> to <linux/unaligned.h>. */
#if __has_include("linux/unaligned.h")
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#endif /* _STM_COMPAT_H */
