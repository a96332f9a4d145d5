// SPDX-License-Identifier: MIT
/*
 * wait.c - waiting outside a transaction (stm_wait), the pollable watch
 * set (stm_store_fd, stm_watch), and transaction families' counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STACK_KEYS	16

/* @n keys (@lens NULL: NUL-terminated) as wait entries with @versions
 * (NULL: 0, filled in later). */
static int make_wkeys(struct stm_store *s, const void *const *keys,
		      const size_t *lens, const uint64_t *versions, size_t n,
		      struct stm_wkey *stack, struct stm_wkey **out)
{
	struct stm_wkey *k = stack;
	int ret;

	if (n && !keys)
		return -EINVAL;
	if (s->lim.max_keys_per_call && n > s->lim.max_keys_per_call)
		return -E2BIG;
	if (n > STACK_KEYS) {
		k = calloc(n, sizeof(*k));
		if (!k)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t klen;

		ret = -EINVAL;
		if (!keys[i])
			goto out_free;
		klen = lens ? lens[i] : stm_key_len(keys[i]);
		ret = stm_check_key(s, keys[i], klen);
		if (ret)
			goto out_free;
		k[i] = (struct stm_wkey){ keys[i], klen, versions ? versions[i] : 0 };
	}
	*out = k;
	return 0;

out_free:
	if (k != stack)
		free(k);
	return ret;
}

int stm_wait(struct stm_store *s, const char *const *keys, const uint64_t *versions,
	     size_t n, unsigned flags, int timeout_ms)
{
	struct stm_wkey stack[STACK_KEYS], *k;
	uint32_t index = 0;
	int ret;

	if (!s || !n || !versions || (flags & ~STM_WAIT_ALL))
		return -EINVAL;
	ret = make_wkeys(s, (const void *const *)keys, NULL, versions, n, stack, &k);
	if (ret)
		return ret;
	ret = s->be->wait(s, k, n, flags & STM_WAIT_ALL ? STM_WT_ALL : 0,
			  timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000, 0, &index);
	if (k != stack)
		free(k);
	if (ret)
		return ret;
	return index < n ? (int)index : -EPROTO;
}

int stm_store_fd(struct stm_store *s)
{
	if (!s)
		return -EINVAL;
	if (!s->be->pollfd)
		return -EOPNOTSUPP;
	return s->be->pollfd(s);
}

int stm_watch_n(struct stm_store *s, const void *const *keys, const size_t *lens,
		size_t n)
{
	struct stm_wkey stack[STACK_KEYS], *k;
	struct stm_rd rstack[STACK_KEYS], *rd = rstack;
	uint64_t clock = 0;
	int ret;

	if (!s || (n && !lens))
		return -EINVAL;
	ret = make_wkeys(s, keys, lens, NULL, n, stack, &k);
	if (ret)
		return ret;
	if (n > STACK_KEYS) {
		rd = calloc(n, sizeof(*rd));
		if (!rd) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	/* The versions now, without the values: zero-length buffers report
	 * every version and length, with E2BIG when a value did not fit. */
	for (size_t i = 0; i < n; i++)
		rd[i] = (struct stm_rd){ .key = k[i].key, .klen = k[i].klen };
	if (n) {
		ret = s->be->read(s, rd, n, 0, &clock, NULL);
		if (ret && ret != -E2BIG)
			goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		k[i].version = rd[i].present ? rd[i].version : 0;
	ret = s->be->watch(s, k, n);
out_free:
	if (rd != rstack)
		free(rd);
	if (k != stack)
		free(k);
	return ret;
}

int stm_watch(struct stm_store *s, const char *const *keys, size_t n)
{
	size_t stack[STACK_KEYS], *lens;
	int ret;

	if (!s || (n && !keys))
		return -EINVAL;
	lens = stm_key_lens(keys, n, stack, STACK_KEYS);
	if (!lens)
		return -ENOMEM;
	ret = stm_watch_n(s, (const void *const *)keys, lens, n);
	stm_key_lens_put(lens, stack);
	return ret;
}

int stm_families(struct stm_store *s,
		 int (*cb)(const struct stm_family_stats *f, void *arg), void *arg)
{
	if (!s || !cb)
		return -EINVAL;
	return s->be->families(s, cb, arg);
}

/* stm_reserve_n() and stm_reserve() (@lens NULL: NUL-terminated keys). */
static int reserve_keys(struct stm_store *s, const void *const *keys,
			const size_t *lens, size_t n, unsigned int bound_ms)
{
	struct stm_wkey stack[STACK_KEYS], *k;
	int ret;

	if (!s->be->reserve)
		return -EOPNOTSUPP;
	ret = make_wkeys(s, keys, lens, NULL, n, stack, &k);
	if (ret)
		return ret;
	ret = s->be->reserve(s, k, n, bound_ms);
	if (k != stack)
		free(k);
	return ret;
}

int stm_reserve_n(struct stm_store *s, const void *const *keys, const size_t *lens,
		  size_t n, unsigned int bound_ms)
{
	if (!s || (n && !lens))
		return -EINVAL;
	return reserve_keys(s, keys, lens, n, bound_ms);
}

int stm_reserve(struct stm_store *s, const char *const *keys, size_t n,
		unsigned int bound_ms)
{
	if (!s)
		return -EINVAL;
	return reserve_keys(s, (const void *const *)keys, NULL, n, bound_ms);
}
