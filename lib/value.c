// SPDX-License-Identifier: MIT
/*
 * value.c - Axon.STM's model: values (usevar), collections (using), local
 * changes, and commits validated against the versions read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/stmdev.h>
#include "internal.h"

#define STACK_ENTS	16
#define MIN_CAP		64	/* first guess of a value's size */
#define SWAP_ROUNDS	64	/* read + checked write rounds of stm_swap */

static const uint8_t empty_data[1];

int stm_value_init(struct stm_value *v, struct stm_store *s, const void *key,
		   size_t klen)
{
	memset(v, 0, sizeof(*v));
	v->key = malloc(klen + 1);
	if (!v->key)
		return -ENOMEM;
	memcpy(v->key, key, klen);
	v->key[klen] = '\0';
	v->klen = klen;
	v->store = s;
	v->state = STM_V_CLEAN;
	return 0;
}

void stm_value_fini(struct stm_value *v)
{
	free(v->key);
	free(v->buf);
	v->key = NULL;
	v->buf = NULL;
}

/*
 * Make @v what @rd read: its buffer passes to @v (rd->buf becomes NULL),
 * local changes are dropped.  -EPROTO, and @v untouched, if the backend
 * reported more bytes than the buffer holds.
 */
int stm_value_take(struct stm_value *v, struct stm_rd *rd)
{
	if (rd->len > rd->cap)
		return -EPROTO;
	free(v->buf);
	v->buf = rd->buf;
	v->cap = rd->cap;
	rd->buf = NULL;
	v->present = rd->present;
	v->len = v->present ? rd->len : 0;
	v->version = rd->version;
	v->state = STM_V_CLEAN;
	return 0;
}

/*
 * Read @n values in one snapshot, into fresh buffers so that a failure
 * leaves every value as it was.  A short buffer is grown and the read
 * retried (stm_read_grow()).
 * On success every value is clean: as read.
 */
int stm_read_values(struct stm_store *s, struct stm_value *const *vals,
		    size_t n, uint64_t *clock)
{
	struct stm_rd stack[STACK_ENTS], *rd = stack;
	uint64_t clk = 0;
	int ret = 0;

	if (n == 0)
		return 0;
	if (n > STACK_ENTS) {
		rd = calloc(n, sizeof(*rd));
		if (!rd)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t cap = vals[i]->cap > MIN_CAP ? vals[i]->cap : MIN_CAP;

		rd[i] = (struct stm_rd){ .key = vals[i]->key, .klen = vals[i]->klen, .cap = cap };
	}
	for (size_t i = 0; i < n; i++) {
		rd[i].buf = malloc(rd[i].cap);
		if (!rd[i].buf) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	ret = stm_read_grow(s, rd, n, 0, &clk, NULL);
	if (ret)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		stm_value_take(vals[i], &rd[i]);
	if (clock)
		*clock = clk;
out_free:
	for (size_t i = 0; i < n; i++)
		free(rd[i].buf);
	if (rd != stack)
		free(rd);
	return ret;
}

/* The commit entry for one value: a checked write, or a read to validate. */
void stm_value_cop(const struct stm_value *v, struct stm_cop *op)
{
	*op = (struct stm_cop){ .key = v->key, .klen = v->klen, .version = v->version };
	switch (v->state) {
	case STM_V_CLEAN:
		op->op = STM_OP_READ;
		break;
	case STM_V_PUT:
		op->op = STM_OP_PUT;
		op->flags = STM_COP_CHECK;
		op->val = v->buf ? v->buf : empty_data;
		op->vlen = v->len;
		break;
	case STM_V_DEL:
		op->op = STM_OP_DEL;
		op->flags = STM_COP_CHECK;
		break;
	}
}

/* After a successful commit: the value is what it wrote, at @version. */
void stm_value_committed(struct stm_value *v, uint64_t version)
{
	switch (v->state) {
	case STM_V_CLEAN:
		return;
	case STM_V_PUT:
		v->present = true;
		v->version = version;
		break;
	case STM_V_DEL:
		v->present = false;
		v->version = 0;		/* an absent key has version 0 */
		v->len = 0;
		break;
	}
	v->state = STM_V_CLEAN;
}

static int alloc_value(struct stm_store *s, const void *key, size_t klen,
		       struct stm_value **out)
{
	struct stm_value *v;
	int ret;

	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = stm_value_init(v, s, key, klen);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	return 0;
}

int stm_usevar_n(struct stm_store *s, const void *key, size_t klen,
		 struct stm_value **out)
{
	struct stm_value *v;
	int ret;

	if (!s || !out)
		return -EINVAL;
	*out = NULL;
	ret = stm_check_key(s, key, klen);
	if (ret)
		return ret;
	ret = alloc_value(s, key, klen, &v);
	if (ret)
		return ret;
	ret = stm_read_values(s, &v, 1, NULL);
	if (ret) {
		stm_value_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

int stm_usevar(struct stm_store *s, const char *key, struct stm_value **out)
{
	if (!key) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return stm_usevar_n(s, key, stm_key_len(key), out);
}

const void *stm_value_key(const struct stm_value *v, size_t *len)
{
	if (!v) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->klen;
	return v->key;
}

const void *stm_value_data(const struct stm_value *v, size_t *len)
{
	bool present;

	if (!v) {
		if (len)
			*len = 0;
		return NULL;
	}
	present = v->state == STM_V_PUT || (v->state == STM_V_CLEAN && v->present);
	if (len)
		*len = present ? v->len : 0;
	if (!present)
		return NULL;
	return v->buf ? v->buf : empty_data;
}

uint64_t stm_value_version(const struct stm_value *v)
{
	return v ? v->version : 0;
}

int stm_value_dirty(const struct stm_value *v)
{
	return v && v->state != STM_V_CLEAN;
}

int stm_value_set(struct stm_value *v, const void *data, size_t len)
{
	if (!v || (!data && len))
		return -EINVAL;
	if (len > UINT32_MAX ||
	    (v->store->lim.max_value_size && len > v->store->lim.max_value_size))
		return -E2BIG;
	if (len > v->cap) {
		void *nb = realloc(v->buf, len);

		if (!nb)
			return -ENOMEM;
		v->buf = nb;
		v->cap = len;
	}
	if (len)
		memmove(v->buf, data, len);
	v->len = len;
	v->state = STM_V_PUT;
	return 0;
}

int stm_value_set_i64(struct stm_value *v, int64_t x)
{
	uint8_t b[8];

	stm_put_le64(b, x);
	return stm_value_set(v, b, sizeof(b));
}

int stm_value_i64(const struct stm_value *v, int64_t *out)
{
	const void *d;
	size_t len;

	if (!v || !out)
		return -EINVAL;
	d = stm_value_data(v, &len);
	if (!d)
		return -ENOENT;
	if (len != 8)
		return -EINVAL;
	*out = stm_get_le64(d);
	return 0;
}

int stm_value_del(struct stm_value *v)
{
	if (!v)
		return -EINVAL;
	v->state = STM_V_DEL;
	v->len = 0;
	return 0;
}

int stm_value_commit(struct stm_value *v)
{
	struct stm_store *s;
	struct stm_cop op;
	uint64_t version = 0;
	int ret;

	if (!v)
		return -EINVAL;
	s = v->store;
	/* A read-only attachment can validate but not write. */
	if ((s->flags & STM_RDONLY) && v->state != STM_V_CLEAN)
		return -EBADF;
	stm_value_cop(v, &op);
	ret = s->be->commit(s, &op, 1, 0, 0, &version, NULL);
	if (ret)
		return ret;
	stm_value_committed(v, version);
	return 0;
}

int stm_value_refresh(struct stm_value *v)
{
	if (!v)
		return -EINVAL;
	return stm_read_values(v->store, &v, 1, NULL);
}

void stm_value_free(struct stm_value *v)
{
	if (!v || v->coll)
		return;
	stm_value_fini(v);
	free(v);
}

/* ---- collections ------------------------------------------------------ */

static struct stm_value *coll_find(struct stm_coll *c, size_t upto,
				   const void *key, size_t klen)
{
	for (size_t i = 0; i < upto; i++) {
		struct stm_value *v = &c->vals[i];

		if (v->klen == klen && memcmp(v->key, key, klen) == 0)
			return v;
	}
	return NULL;
}

static int coll_read(struct stm_coll *c)
{
	struct stm_value *stack[STACK_ENTS], **vp = stack;
	int ret;

	if (c->n == 0)
		return 0;
	if (c->n > STACK_ENTS) {
		vp = calloc(c->n, sizeof(*vp));
		if (!vp)
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++)
		vp[i] = &c->vals[i];
	ret = stm_read_values(c->store, vp, c->n, &c->clock);
	if (vp != stack)
		free(vp);
	return ret;
}

/*
 * A collection of @n keys (a key given twice is one value), not read yet:
 * every value absent at version 0.  Checks the keys and the per-call limit.
 */
int stm_coll_new(struct stm_store *s, const void *const *keys,
		 const size_t *lens, size_t n, struct stm_coll **out)
{
	struct stm_coll *c;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		ret = stm_check_key(s, keys[i], lens[i]);
		if (ret)
			return ret;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->store = s;
	if (n) {
		c->vals = calloc(n, sizeof(*c->vals));
		if (!c->vals) {
			free(c);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct stm_value *v;

		if (coll_find(c, c->n, keys[i], lens[i]))
			continue;	/* a key given twice is one value */
		v = &c->vals[c->n];
		ret = stm_value_init(v, s, keys[i], lens[i]);
		if (ret)
			goto out_free;
		v->coll = c;
		c->n++;
	}
	if (s->lim.max_keys_per_call && c->n > s->lim.max_keys_per_call) {
		ret = -E2BIG;
		goto out_free;
	}
	*out = c;
	return 0;

out_free:
	stm_coll_free(c);
	return ret;
}

int stm_using_n(struct stm_store *s, const void *const *keys,
		const size_t *lens, size_t n, struct stm_coll **out)
{
	struct stm_coll *c;
	int ret;

	if (!s || !out || (n && (!keys || !lens)))
		return -EINVAL;
	ret = stm_coll_new(s, keys, lens, n, &c);
	if (ret)
		return ret;
	ret = coll_read(c);
	if (ret) {
		stm_coll_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int stm_using(struct stm_store *s, const char *const *keys, size_t n,
	      struct stm_coll **out)
{
	size_t stack[STACK_ENTS], *lens;
	int ret;

	if (out)
		*out = NULL;
	if (!s || !out || (n && !keys))
		return -EINVAL;
	lens = stm_key_lens(keys, n, stack, STACK_ENTS);
	if (!lens)
		return -ENOMEM;
	ret = stm_using_n(s, (const void *const *)keys, lens, n, out);
	stm_key_lens_put(lens, stack);
	return ret;
}

struct stm_value *stm_coll_get_n(struct stm_coll *c, const void *key, size_t klen)
{
	if (!c || !key)
		return NULL;
	return coll_find(c, c->n, key, klen);
}

struct stm_value *stm_coll_get(struct stm_coll *c, const char *key)
{
	if (!c || !key)
		return NULL;
	return coll_find(c, c->n, key, strlen(key));
}

size_t stm_coll_count(const struct stm_coll *c)
{
	return c ? c->n : 0;
}

struct stm_value *stm_coll_at(struct stm_coll *c, size_t i)
{
	if (!c || i >= c->n)
		return NULL;
	return &c->vals[i];
}

int stm_coll_commit(struct stm_coll *c)
{
	struct stm_cop stack[STACK_ENTS], *ops = stack;
	struct stm_store *s;
	uint32_t conflict = UINT32_MAX;
	uint64_t version = 0;
	int ret;

	if (!c)
		return -EINVAL;
	/* Lent to a ring: its completion will write these values. */
	if (c->lent)
		return -EALREADY;
	s = c->store;
	c->conflict = NULL;
	if (c->n == 0)
		return 0;
	if (s->flags & STM_RDONLY)
		for (size_t i = 0; i < c->n; i++)
			if (c->vals[i].state != STM_V_CLEAN)
				return -EBADF;
	if (c->n > STACK_ENTS) {
		ops = calloc(c->n, sizeof(*ops));
		if (!ops)
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++)
		stm_value_cop(&c->vals[i], &ops[i]);
	ret = s->be->commit(s, ops, c->n, 0, 0, &version, &conflict);
	if (ret == 0) {
		for (size_t i = 0; i < c->n; i++)
			stm_value_committed(&c->vals[i], version);
	} else if (ret == -STM_ECONFLICT && conflict < c->n) {
		c->conflict = &c->vals[conflict];
	}
	if (ops != stack)
		free(ops);
	return ret;
}

struct stm_value *stm_coll_conflict(const struct stm_coll *c)
{
	return c ? c->conflict : NULL;
}

int stm_coll_refresh(struct stm_coll *c)
{
	int ret;

	if (!c)
		return -EINVAL;
	if (c->lent)
		return -EALREADY;
	/* The conflict stays named until the values are read again. */
	ret = coll_read(c);
	if (!ret)
		c->conflict = NULL;
	return ret;
}

void stm_coll_free(struct stm_coll *c)
{
	if (!c)
		return;
	if (c->lent)
		c->unlend(c->lent);
	for (size_t i = 0; i < c->n; i++)
		stm_value_fini(&c->vals[i]);
	free(c->vals);
	free(c);
}

/* ---- the general commit ------------------------------------------------ */

int stm_ops_check(struct stm_store *s, const struct stm_op *ops, size_t n,
		  struct stm_cop *cops, uint8_t (*le)[24])
{
	bool writes = false;
	int ret;

	if (s->lim.max_keys_per_call && n > s->lim.max_keys_per_call)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const struct stm_op *op = &ops[i];
		size_t klen = op->klen;

		bool bound = op->flags & STM_OP_BOUND;

		if (op->op > STM_OP_ADD || (op->flags & ~(STM_OP_CHECK | STM_OP_BOUND)) ||
		    op->reserved0 || (op->result && op->op != STM_OP_ADD) ||
		    (op->op == STM_OP_PUT && !op->data && op->len))
			return -EINVAL;
		/* Without STM_OP_BOUND, min and max are the old reserved room. */
		if (bound ? op->op != STM_OP_ADD || op->min > op->max :
			    op->min || op->max)
			return -EINVAL;
		if (bound && !(s->lim.features & STMDEV_F_ADD_BOUND))
			return -EOPNOTSUPP;
		if (!klen && op->key)
			klen = stm_key_len(op->key);
		ret = stm_check_key(s, op->key, klen);
		if (ret)
			return ret;
		cops[i] = (struct stm_cop){ .key = op->key, .klen = klen, .op = op->op,
					    .version = op->version };
		if (op->flags & STM_OP_CHECK)
			cops[i].flags = STM_COP_CHECK;
		if (bound)
			cops[i].flags |= STM_COP_BOUND;
		writes |= op->op != STM_OP_READ;
		switch (op->op) {
		case STM_OP_PUT:
			if (op->len > UINT32_MAX ||
			    (s->lim.max_value_size && op->len > s->lim.max_value_size))
				return -E2BIG;
			cops[i].val = op->data ? op->data : empty_data;
			cops[i].vlen = op->len;
			break;
		case STM_OP_ADD:
			stm_put_le64(le[i], op->delta);
			cops[i].val = le[i];
			cops[i].vlen = 8;
			if (bound) {
				stm_put_le64(le[i] + 8, op->min);
				stm_put_le64(le[i] + 16, op->max);
				cops[i].vlen = 24;
			}
			break;
		}
	}
	if (writes && (s->flags & STM_RDONLY))
		return -EBADF;
	return 0;
}

int stm_commit(struct stm_store *s, const struct stm_op *ops, size_t n,
	       unsigned int flags, uint64_t *version, uint32_t *conflict)
{
	struct stm_cop stack[STACK_ENTS], *cops = stack;
	uint8_t sle[STACK_ENTS][24], (*le)[24] = sle;
	uint8_t sres[STACK_ENTS][24], (*res)[24] = sres;
	uint32_t c = UINT32_MAX;
	int ret;

	if (conflict)
		*conflict = STM_NO_CONFLICT;
	if (!s || !ops || !n || (flags & ~(STM_NONBLOCK | STM_COMMIT_NONBLOCK_1_2)))
		return -EINVAL;
	if (n > STACK_ENTS) {
		cops = calloc(n, sizeof(*cops));
		le = calloc(n, sizeof(*le));
		res = calloc(n, sizeof(*res));
		ret = -ENOMEM;
		if (!cops || !le || !res)
			goto out_free;
	}
	ret = stm_ops_check(s, ops, n, cops, le);
	if (ret)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].result) {
			cops[i].flags |= STM_COP_FETCH;
			cops[i].fetch = res[i];
		}
	}
	ret = s->be->commit(s, cops, n, flags ? STM_CM_NONBLOCK : 0, 0, version, &c);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (ops[i].result)
			*ops[i].result = stm_get_le64(res[i]);
	if ((ret == -STM_ECONFLICT || ret == -ERANGE) && conflict && c < n)
		*conflict = c;
out_free:
	if (cops != stack)
		free(cops);
	if (le != sle)
		free(le);
	if (res != sres)
		free(res);
	return ret;
}

/* ---- single operations ------------------------------------------------- */

int stm_cas_n(struct stm_store *s, const void *key, size_t klen,
	      uint64_t expected_version, const void *data, size_t len,
	      uint64_t *new_version)
{
	struct stm_cop op;
	uint64_t version = 0;
	int ret;

	if (!s || (!data && len))
		return -EINVAL;
	ret = stm_check_key(s, key, klen);
	if (ret)
		return ret;
	if (len > UINT32_MAX || (s->lim.max_value_size && len > s->lim.max_value_size))
		return -E2BIG;
	if (s->flags & STM_RDONLY)
		return -EBADF;
	op = (struct stm_cop){ .key = key, .klen = klen, .op = STM_OP_PUT,
			       .flags = STM_COP_CHECK, .version = expected_version,
			       .val = data ? data : empty_data, .vlen = len };
	ret = s->be->commit(s, &op, 1, 0, 0, &version, NULL);
	if (ret == 0 && new_version)
		*new_version = version;
	return ret;
}

int stm_cas(struct stm_store *s, const char *key, uint64_t expected_version,
	    const void *data, size_t len, uint64_t *new_version)
{
	if (!key)
		return -EINVAL;
	return stm_cas_n(s, key, stm_key_len(key), expected_version, data, len,
			 new_version);
}

int stm_fetch_add_n(struct stm_store *s, const void *key, size_t klen,
		    int64_t delta, int64_t *result)
{
	uint8_t d[8], r[8];
	struct stm_cop op;
	int ret;

	if (!s)
		return -EINVAL;
	ret = stm_check_key(s, key, klen);
	if (ret)
		return ret;
	if (s->flags & STM_RDONLY)
		return -EBADF;
	stm_put_le64(d, delta);
	op = (struct stm_cop){ .key = key, .klen = klen, .op = STM_OP_ADD,
			       .flags = STM_COP_FETCH, .val = d, .vlen = 8,
			       .fetch = r };
	ret = s->be->commit(s, &op, 1, 0, 0, NULL, NULL);
	if (ret == 0 && result)
		*result = stm_get_le64(r);
	return ret;
}

int stm_fetch_add(struct stm_store *s, const char *key, int64_t delta,
		  int64_t *result)
{
	if (!key)
		return -EINVAL;
	return stm_fetch_add_n(s, key, stm_key_len(key), delta, result);
}

/*
 * One COMMIT: the write @put and a READ + FETCH of the value it replaces
 * (the kernel's STMDEV_F_FETCH_OLD).  Grows the room and retries on E2BIG.
 */
static int swap_fetch(struct stm_store *s, struct stm_cop *put,
		      struct stm_value *v, struct stm_value **old)
{
	struct stm_cop ops[2];
	uint32_t cap = v->cap > MIN_CAP ? v->cap : MIN_CAP;
	uint8_t *buf = NULL, *nbuf;
	int ret;

	for (;;) {
		nbuf = realloc(buf, cap);
		if (!nbuf) {
			ret = -ENOMEM;
			break;
		}
		buf = nbuf;
		ops[0] = *put;
		ops[1] = (struct stm_cop){ .key = put->key, .klen = put->klen,
					   .op = STM_OP_READ, .flags = STM_COP_FETCH,
					   .fetch = buf, .vlen = cap };
		ret = s->be->commit(s, ops, 2, 0, 0, NULL, NULL);
		if (ret != -E2BIG || ops[1].vlen <= cap)
			break;
		cap = ops[1].vlen;	/* the room the old value needs */
	}
	if (ret) {
		free(buf);
		stm_value_free(v);
		return ret;
	}
	free(v->buf);
	v->buf = buf;
	v->cap = cap;
	v->present = ops[1].version != 0;
	v->len = v->present ? ops[1].vlen : 0;
	v->version = ops[1].version;
	v->state = STM_V_CLEAN;
	*old = v;
	return 0;
}

int stm_swap_n(struct stm_store *s, const void *key, size_t klen,
	       const void *data, size_t len, struct stm_value **old)
{
	struct stm_value *v;
	struct stm_cop op;
	int ret;

	if (old)
		*old = NULL;
	if (!s || (!data && len))
		return -EINVAL;
	ret = stm_check_key(s, key, klen);
	if (ret)
		return ret;
	if (len > UINT32_MAX || (s->lim.max_value_size && len > s->lim.max_value_size))
		return -E2BIG;
	if (s->flags & STM_RDONLY)
		return -EBADF;
	op = (struct stm_cop){ .key = key, .klen = klen, .op = STM_OP_PUT,
			       .val = data ? data : empty_data, .vlen = len };
	if (!old)
		return s->be->commit(s, &op, 1, 0, 0, NULL, NULL);

	ret = alloc_value(s, key, klen, &v);
	if (ret)
		return ret;
	/* A backend that fetches the replaced value does it in one call. */
	if (s->lim.features & STMDEV_F_FETCH_OLD)
		return swap_fetch(s, &op, v, old);

	/*
	 * Read, then write checked against what was read, until it holds:
	 * at most SWAP_ROUNDS times, backing off, then -STM_ERETRIES.
	 */
	op.flags = STM_COP_CHECK;
	for (unsigned int round = 1;; round++) {
		ret = stm_read_values(s, &v, 1, NULL);
		if (ret)
			break;
		op.version = v->version;
		ret = s->be->commit(s, &op, 1, 0, 0, NULL, NULL);
		if (ret != -STM_ECONFLICT)
			break;
		if (round == SWAP_ROUNDS) {
			ret = -STM_ERETRIES;
			break;
		}
		stm_backoff(round);
	}
	if (ret) {
		stm_value_free(v);
		return ret;
	}
	*old = v;
	return 0;
}

int stm_swap(struct stm_store *s, const char *key, const void *data, size_t len,
	     struct stm_value **old)
{
	if (!key) {
		if (old)
			*old = NULL;
		return -EINVAL;
	}
	return stm_swap_n(s, key, stm_key_len(key), data, len, old);
}
