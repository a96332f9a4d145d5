// SPDX-License-Identifier: MIT
/*
 * util.c - argument checks and encodings shared by the library.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
