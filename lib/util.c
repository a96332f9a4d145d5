// SPDX-License-Identifier: MIT
/*
 * util.c - argument checks, encodings and retry policies shared by the
 * library.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Store names: 1..STM_NAME_MAX bytes of [A-Za-z0-9._-]. */
int stm_check_name(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, STM_NAME_MAX + 1);
	if (len == 0)
		return -EINVAL;
	if (len > STM_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

size_t stm_key_len(const char *key)
{
	return strnlen(key, STM_KEY_MAX + 1);
}

size_t *stm_key_lens(const char *const *keys, size_t n, size_t *stack,
		     size_t stack_n)
{
	size_t *lens = n > stack_n ? calloc(n, sizeof(*lens)) : stack;

	for (size_t i = 0; lens && i < n; i++)
		lens[i] = keys[i] ? stm_key_len(keys[i]) : 0;
	return lens;
}

void stm_key_lens_put(size_t *lens, size_t *stack)
{
	if (lens != stack)
		free(lens);
}

int stm_check_key(const struct stm_store *s, const void *key, size_t klen)
{
	size_t max = STM_KEY_MAX;

	if (!key || klen == 0)
		return -EINVAL;
	if (s && s->lim.max_key_len && s->lim.max_key_len < max)
		max = s->lim.max_key_len;
	if (klen > max)
		return -EINVAL;
	return 0;
}

/* The store's integers are 8 bytes, little-endian, signed (as add-i64). */
void stm_put_le64(void *p, int64_t x)
{
	uint64_t u = (uint64_t)x;
	uint8_t *b = p;

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
}

int64_t stm_get_le64(const void *p)
{
	const uint8_t *b = p;
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u |= (uint64_t)b[i] << (8 * i);
	return (int64_t)u;
}

/* ---- shared policies: backoff, reads that grow their buffers ------------ */

static __thread uint64_t tls_rand;

uint32_t stm_rand32(void)
{
	uint64_t x = tls_rand;

	if (!x) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    ((uint64_t)getpid() << 32) ^ (uintptr_t)&tls_rand;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	tls_rand = x ? x : 1;
	return (uint32_t)(x >> 16);
}

void stm_backoff(unsigned int n)
{
	struct timespec ts;
	uint32_t max_us;

	if (n < 2)
		return;
	if (n < 4) {
		sched_yield();
		return;
	}
	max_us = n >= 12 ? STM_BACKOFF_MAX_US : (1u << (n - 4)) * 4;
	if (max_us > STM_BACKOFF_MAX_US)
		max_us = STM_BACKOFF_MAX_US;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(stm_rand32() % max_us + 1) * 1000;
	nanosleep(&ts, NULL);
}

int stm_rd_grow(const struct stm_store *s, struct stm_rd *rd, size_t n,
		unsigned int round)
{
	uint32_t max = s->lim.max_value_size;
	int grew = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t want = rd[i].len;
		void *nb;

		if (want <= rd[i].cap)
			continue;
		/* A value growing under the reader: take the most it can be. */
		if (round + 1 >= STM_RD_GROW_ROUNDS && max > want)
			want = max;
		nb = realloc(rd[i].buf, want);
		if (!nb)
			return -ENOMEM;
		rd[i].buf = nb;
		rd[i].cap = want;
		grew = 1;
	}
	return grew;
}

int stm_read_grow(struct stm_store *s, struct stm_rd *rd, size_t n,
		  unsigned int flags, uint64_t *clock, uint32_t *conflict)
{
	uint64_t at = clock ? *clock : 0, clk;
	int ret = -E2BIG;

	for (unsigned int round = 0; round < STM_RD_MAX_ROUNDS; round++) {
		int grew;

		clk = at;
		ret = s->be->read(s, rd, n, flags, &clk, conflict);
		if (ret != -E2BIG)
			break;
		grew = stm_rd_grow(s, rd, n, round);
		if (grew < 0)
			return grew;
		if (!grew)	/* not a buffer: more keys than one call takes */
			break;
	}
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++)
		if (rd[i].present && rd[i].len > rd[i].cap)
			return -EPROTO;	/* the backend broke its word */
	if (clock)
		*clock = clk;
	return 0;
}
