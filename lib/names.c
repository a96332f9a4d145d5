// SPDX-License-Identifier: MIT
/*
 * names.c - walking a store's keys (Axon names) and dumping it (Axon dump).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DUMP_SHOW_MAX	256	/* bytes of one key or value shown by stm_dump */
#define DUMP_BATCH_MAX	256	/* keys per snapshot read in stm_dump */

int stm_keys(struct stm_store *s,
	     int (*cb)(const struct stm_key_info *ki, void *arg), void *arg)
{
	struct stm_key_walk w = { .cb = cb, .arg = arg };

	if (!s || !cb)
		return -EINVAL;
	return s->be->keys(s, &w);
}

struct names_arg {
	int (*cb)(const void *key, size_t len, void *arg);
	void *arg;
};

static int names_cb(const struct stm_key_info *ki, void *arg)
{
	struct names_arg *na = arg;

	return na->cb(ki->key, ki->key_len, na->arg);
}

int stm_names(struct stm_store *s,
	      int (*cb)(const void *key, size_t len, void *arg), void *arg)
{
	struct names_arg na = { .cb = cb, .arg = arg };

	if (!s || !cb)
		return -EINVAL;
	return stm_keys(s, names_cb, &na);
}

/* ---- dump ----------------------------------------------------------------- */

struct key_list {
	struct { uint8_t *key; size_t len; } *v;
	size_t n, cap;
};

static int collect_cb(const struct stm_key_info *ki, void *arg)
{
	struct key_list *kl = arg;

	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 64;
		void *nv = realloc(kl->v, cap * sizeof(*kl->v));

		if (!nv)
			return -ENOMEM;
		kl->v = nv;
		kl->cap = cap;
	}
	kl->v[kl->n].key = malloc(ki->key_len);
	if (!kl->v[kl->n].key)
		return -ENOMEM;
	memcpy(kl->v[kl->n].key, ki->key, ki->key_len);
	kl->v[kl->n].len = ki->key_len;
	kl->n++;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const typeof(((struct key_list *)0)->v[0]) *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, m);

	if (r)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

bool stm_is_text(const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i], lo = 0x80, hi = 0xbf;
		size_t more;

		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (i + more >= len)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

static void put_bytes(FILE *f, const uint8_t *p, size_t len)
{
	size_t show = len > DUMP_SHOW_MAX ? DUMP_SHOW_MAX : len;

	if (stm_is_text(p, show)) {
		fputc('"', f);
		for (size_t i = 0; i < show; i++) {
			if (p[i] == '"' || p[i] == '\\')
				fputc('\\', f);
			fputc(p[i], f);
		}
		fputc('"', f);
	} else {
		fputs("0x", f);
		for (size_t i = 0; i < show; i++)
			fprintf(f, "%02x", p[i]);
	}
	if (show < len)
		fprintf(f, "... (%zu bytes)", len);
}

static void dump_value(FILE *f, const struct stm_value *v)
{
	put_bytes(f, v->key, v->klen);
	fprintf(f, " v%" PRIu64 " = ", v->version);
	put_bytes(f, v->buf, v->len);
	if (v->len == 8 && !stm_is_text(v->buf, v->len))
		fprintf(f, " (i64 %" PRId64 ")", stm_get_le64(v->buf));
	fputc('\n', f);
}

int stm_dump(struct stm_store *s, FILE *out)
{
	struct key_list kl = { 0 };
	struct stm_value *vals = NULL, **vp = NULL;
	size_t batch, shown = 0;
	struct stm_info info;
	int ret;

	if (!s || !out)
		return -EINVAL;
	ret = stm_keys(s, collect_cb, &kl);
	if (ret < 0)
		goto out_free;
	qsort(kl.v, kl.n, sizeof(*kl.v), key_cmp);

	batch = DUMP_BATCH_MAX;
	if (s->lim.max_keys_per_call && s->lim.max_keys_per_call < batch)
		batch = s->lim.max_keys_per_call;
	vals = calloc(batch, sizeof(*vals));
	vp = calloc(batch, sizeof(*vp));
	if (!vals || !vp) {
		ret = -ENOMEM;
		goto out_free;
	}

	ret = stm_info(s, &info);
	if (ret)
		goto out_free;
	fprintf(out, "# store %s: %zu keys, clock %" PRIu64 "\n", s->name, kl.n,
		info.clock);

	for (size_t at = 0; at < kl.n; at += batch) {
		size_t n = kl.n - at < batch ? kl.n - at : batch, inited = 0;

		for (; inited < n; inited++) {
			ret = stm_value_init(&vals[inited], s, kl.v[at + inited].key,
					     kl.v[at + inited].len);
			if (ret)
				break;
			vp[inited] = &vals[inited];
		}
		if (!ret)
			ret = stm_read_values(s, vp, n, NULL);
		for (size_t i = 0; i < n && !ret; i++) {
			if (!vals[i].present)
				continue;	/* deleted since listed */
			dump_value(out, &vals[i]);
			shown++;
		}
		for (size_t i = 0; i < inited; i++)
			stm_value_fini(&vals[i]);
		if (ret)
			goto out_free;
	}
	ret = (fflush(out) || ferror(out)) ? -EIO : (int)shown;

out_free:
	for (size_t i = 0; i < kl.n; i++)
		free(kl.v[i].key);
	free(kl.v);
	free(vals);
	free(vp);
	return ret;
}
