// SPDX-License-Identifier: MIT
/*
 * range.c - the keys under a prefix (Documentation/range.rst).
 *
 * The backend's ->range finds the keys present under a prefix at one
 * instant and the prefix's range version; stm_range_keys() hands them to
 * a callback outside any transaction, stm_range() (txn.c) inside one,
 * where the commit validates the range version so that a key created or
 * deleted under the prefix by another process makes it conflict.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void stm_range_keys_free(struct stm_rkeys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free((void *)k->ki[i].key);
	free(k->ki);
	*k = (struct stm_rkeys){ 0 };
}

int stm_range_keys_add(struct stm_rkeys *k, size_t *cap, const void *key,
		       uint32_t klen, uint64_t version)
{
	void *copy;

	if (k->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct stm_key_info *ki = realloc(k->ki, nc * sizeof(*ki));

		if (!ki)
			return -ENOMEM;
		k->ki = ki;
		*cap = nc;
	}
	copy = malloc(klen + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, klen);
	((char *)copy)[klen] = '\0';
	k->ki[k->n++] = (struct stm_key_info){
		.key = copy, .key_len = klen, .version = version,
	};
	return 0;
}

int stm_range_fetch(struct stm_store *s, const void *pfx, size_t plen,
		    unsigned flags, uint64_t *clock, uint64_t *version,
		    struct stm_rkeys *out)
{
	int ret;

	if (!s || (!pfx && plen))
		return -EINVAL;
	ret = stm_check_key(s, pfx, plen);
	if (ret)
		return ret;
	if (!s->be->range)
		return -EOPNOTSUPP;
	return s->be->range(s, pfx, plen, flags, clock, version, out);
}

static int ki_cmp(const void *a, const void *b)
{
	const struct stm_key_info *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

int stm_range_keys(struct stm_store *s, const void *prefix, size_t plen,
		   int (*cb)(const struct stm_key_info *ki, void *arg), void *arg)
{
	struct stm_rkeys k;
	uint64_t clock = 0, version = 0;
	int ret;

	if (!cb)
		return -EINVAL;
	ret = stm_range_fetch(s, prefix, plen, 0, &clock, &version, &k);
	if (ret)
		return ret;
	if (k.n)
		qsort(k.ki, k.n, sizeof(*k.ki), ki_cmp);
	for (size_t i = 0; i < k.n && !ret; i++)
		ret = cb(&k.ki[i], arg);
	if (!ret)
		ret = k.n > INT32_MAX ? INT32_MAX : (int)k.n;
	stm_range_keys_free(&k);
	return ret;
}

/* The keys of @k in byte order (stm_range() in txn.c). */
void stm_range_keys_sort(struct stm_rkeys *k)
{
	if (k->n)
		qsort(k->ki, k->n, sizeof(*k->ki), ki_cmp);
}
