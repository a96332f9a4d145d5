// SPDX-License-Identifier: MIT
/*
 * containers.c - transactional containers over keys: FIFO queue (bounded
 * or not), MVar, counting semaphore.  Every operation runs inside a
 * transaction (stm_atomic()) and composes with everything else in it: a
 * blocking operation returns stm_retry(tx), so the transaction sleeps
 * until a key it read changes, and inside stm_or_else() the next
 * alternative runs instead.
 *
 * Key layout (Documentation/containers.rst; other languages and stmctl
 * read the same keys):
 *   queue  NAME/h  NAME/t  next index to take / to put (8-byte LE; absent: 0)
 *          NAME/c  capacity (8-byte LE; absent or 0: unbounded)
 *          NAME/i/XXXXXXXXXXXXXXXX  the item at index X (16 hex digits)
 *   mvar   NAME    the value; absent: empty
 *   sem    NAME    the count (8-byte LE; absent: 0)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define Q_SUFFIX_MAX	19	/* "/i/" + 16 hex digits */

enum { Q_HEAD, Q_TAIL, Q_CAP };

static const char *const q_sfx[] = { "/h", "/t", "/c" };

/* NAME + @sfx into @key (STM_KEY_MAX + 1 bytes); -EINVAL if too long. */
static int q_key(char *key, const char *q, const char *sfx)
{
	size_t n;

	if (!q)
		return -EINVAL;
	n = strnlen(q, STM_KEY_MAX + 1);
	if (!n || n + Q_SUFFIX_MAX > STM_KEY_MAX)
		return -EINVAL;
	memcpy(key, q, n);
	strcpy(key + n, sfx);
	return 0;
}

static int q_get(struct stm_txn *tx, const char *q, int which, int64_t *x)
{
	char key[STM_KEY_MAX + 1];
	int ret = q_key(key, q, q_sfx[which]);

	return ret ? ret : stm_get_i64(tx, key, x);
}

static int q_item_key(char *key, const char *q, int64_t i)
{
	char sfx[Q_SUFFIX_MAX + 1];

	snprintf(sfx, sizeof(sfx), "/i/%016llx", (unsigned long long)i);
	return q_key(key, q, sfx);
}

int stm_queue_init(struct stm_txn *tx, const char *q, uint64_t capacity)
{
	char key[STM_KEY_MAX + 1];
	int64_t cap;
	int ret;

	if (capacity > INT64_MAX)
		return -EINVAL;
	ret = q_get(tx, q, Q_CAP, &cap);
	if (ret)
		return ret;
	if (cap)
		return (uint64_t)cap == capacity ? 0 : -EEXIST;
	if (!capacity)
		return 0;
	ret = q_key(key, q, q_sfx[Q_CAP]);
	return ret ? ret : stm_put_i64(tx, key, (int64_t)capacity);
}

/* Head and tail, checked: -EINVAL when they make no queue. */
static int q_state(struct stm_txn *tx, const char *q, int64_t *h, int64_t *t)
{
	int ret;

	ret = q_get(tx, q, Q_HEAD, h);
	if (!ret)
		ret = q_get(tx, q, Q_TAIL, t);
	if (ret)
		return ret;
	if (*h < 0 || *t < *h)
		return -EINVAL;
	return 0;
}

int stm_queue_size(struct stm_txn *tx, const char *q, uint64_t *n)
{
	int64_t h, t;
	int ret;

	if (!n)
		return -EINVAL;
	ret = q_state(tx, q, &h, &t);
	if (!ret)
		*n = (uint64_t)(t - h);
	return ret;
}

static int q_put(struct stm_txn *tx, const char *q, const void *data, size_t len,
		 bool block)
{
	char key[STM_KEY_MAX + 1];
	int64_t h = 0, t, cap;
	int ret;

	/* Unbounded: the head is not read, so takes never rerun a put. */
	ret = q_get(tx, q, Q_CAP, &cap);
	if (!ret)
		ret = q_get(tx, q, Q_TAIL, &t);
	if (ret)
		return ret;
	if (cap < 0 || t < 0)
		return -EINVAL;
	if (cap) {
		ret = q_get(tx, q, Q_HEAD, &h);
		if (ret)
			return ret;
		if (h < 0 || t < h)
			return -EINVAL;
		if (t - h >= cap)
			return block ? stm_retry(tx) : -EAGAIN;
	}
	if (t == INT64_MAX)
		return -EOVERFLOW;
	ret = q_item_key(key, q, t);
	if (!ret)
		ret = stm_put(tx, key, data, len);
	if (!ret)
		ret = q_key(key, q, q_sfx[Q_TAIL]);
	return ret ? ret : stm_put_i64(tx, key, t + 1);
}

int stm_queue_put(struct stm_txn *tx, const char *q, const void *data, size_t len)
{
	return q_put(tx, q, data, len, true);
}

int stm_queue_try_put(struct stm_txn *tx, const char *q, const void *data,
		      size_t len)
{
	return q_put(tx, q, data, len, false);
}

/* Copy @d/@dlen out to @buf/@cap: -EMSGSIZE (with *@len) if it does not fit. */
static int copy_out(const void *d, size_t dlen, void *buf, size_t cap, size_t *len)
{
	if (len)
		*len = dlen;
	if (dlen > cap)
		return -EMSGSIZE;
	if (dlen)
		memcpy(buf, d, dlen);
	return 0;
}

static int q_take(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		  size_t *len, bool block, bool remove)
{
	char key[STM_KEY_MAX + 1];
	const void *d;
	int64_t h, t;
	size_t dlen;
	int ret;

	if (!buf && cap)
		return -EINVAL;
	ret = q_state(tx, q, &h, &t);
	if (ret)
		return ret;
	if (h == t)
		return block ? stm_retry(tx) : -EAGAIN;
	ret = q_item_key(key, q, h);
	if (ret)
		return ret;
	ret = stm_get(tx, key, &d, &dlen);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;	/* not a queue */
	ret = copy_out(d, dlen, buf, cap, len);
	if (ret || !remove)
		return ret;
	ret = stm_del(tx, key);
	if (!ret)
		ret = q_key(key, q, q_sfx[Q_HEAD]);
	return ret ? ret : stm_put_i64(tx, key, h + 1);
}

int stm_queue_take(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		   size_t *len)
{
	return q_take(tx, q, buf, cap, len, true, true);
}

int stm_queue_try_take(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		       size_t *len)
{
	return q_take(tx, q, buf, cap, len, false, true);
}

int stm_queue_peek(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		   size_t *len)
{
	return q_take(tx, q, buf, cap, len, true, false);
}

int stm_queue_try_peek(struct stm_txn *tx, const char *q, void *buf, size_t cap,
		       size_t *len)
{
	return q_take(tx, q, buf, cap, len, false, false);
}

/* ---- MVar ------------------------------------------------------------------ */

static int mv_put(struct stm_txn *tx, const char *mv, const void *data, size_t len,
		  bool block)
{
	const void *d;
	int ret;

	if (!mv)
		return -EINVAL;
	ret = stm_get(tx, mv, &d, NULL);
	if (ret == 0)
		return block ? stm_retry(tx) : -EAGAIN;
	if (ret != -ENOENT)
		return ret;
	return stm_put(tx, mv, data, len);
}

int stm_mvar_put(struct stm_txn *tx, const char *mv, const void *data, size_t len)
{
	return mv_put(tx, mv, data, len, true);
}

int stm_mvar_try_put(struct stm_txn *tx, const char *mv, const void *data,
		     size_t len)
{
	return mv_put(tx, mv, data, len, false);
}

static int mv_take(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		   size_t *len, bool block, bool remove)
{
	const void *d;
	size_t dlen;
	int ret;

	if (!mv || (!buf && cap))
		return -EINVAL;
	ret = stm_get(tx, mv, &d, &dlen);
	if (ret == -ENOENT)
		return block ? stm_retry(tx) : -EAGAIN;
	if (ret)
		return ret;
	ret = copy_out(d, dlen, buf, cap, len);
	if (ret || !remove)
		return ret;
	return stm_del(tx, mv);
}

int stm_mvar_take(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		  size_t *len)
{
	return mv_take(tx, mv, buf, cap, len, true, true);
}

int stm_mvar_try_take(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		      size_t *len)
{
	return mv_take(tx, mv, buf, cap, len, false, true);
}

int stm_mvar_read(struct stm_txn *tx, const char *mv, void *buf, size_t cap,
		  size_t *len)
{
	return mv_take(tx, mv, buf, cap, len, true, false);
}

/* ---- counting semaphore --------------------------------------------------- */

static int sem_acquire(struct stm_txn *tx, const char *sem, uint64_t n, bool block)
{
	int64_t count;
	int ret;

	if (!sem || !n || n > INT64_MAX)
		return -EINVAL;
	ret = stm_get_i64(tx, sem, &count);	/* absent: 0 */
	if (ret)
		return ret;
	if (count < 0)
		return -EINVAL;
	if ((uint64_t)count < n)
		return block ? stm_retry(tx) : -EAGAIN;
	return stm_put_i64(tx, sem, count - (int64_t)n);
}

int stm_sem_acquire(struct stm_txn *tx, const char *sem, uint64_t n)
{
	return sem_acquire(tx, sem, n, true);
}

int stm_sem_try_acquire(struct stm_txn *tx, const char *sem, uint64_t n)
{
	return sem_acquire(tx, sem, n, false);
}

int stm_sem_release(struct stm_txn *tx, const char *sem, uint64_t n)
{
	if (!sem || !n || n > INT64_MAX)
		return -EINVAL;
	/* Not read: a kernel addition, which never conflicts (commute). */
	return stm_add_i64(tx, sem, (int64_t)n);
}

/* ---- map and set over a key prefix ---------------------------------------- */

/*
 * Map M: M/# the number of entries (8-byte LE), M/k/<key> each entry's
 * value.  A set is a map whose values are empty.
 */
static int m_key(char *out, const char *m, const char *mid, const void *key,
		 size_t klen)
{
	size_t n;

	if (!m || (!key && klen))
		return -EINVAL;
	n = strnlen(m, STM_KEY_MAX + 1);
	if (!n || n + strlen(mid) + klen > STM_KEY_MAX)
		return -EINVAL;
	memcpy(out, m, n);
	memcpy(out + n, mid, strlen(mid));
	if (klen)
		memcpy(out + n + strlen(mid), key, klen);
	return (int)(n + strlen(mid) + klen);
}

int stm_map_get(struct stm_txn *tx, const char *m, const void *key, size_t klen,
		void *buf, size_t cap, size_t *len)
{
	char k[STM_KEY_MAX + 1];
	const void *d;
	size_t dlen;
	int n, ret;

	if (!buf && cap)
		return -EINVAL;
	n = m_key(k, m, "/k/", key, klen);
	if (n < 0)
		return n;
	ret = stm_get_n(tx, k, n, &d, &dlen);
	return ret ? ret : copy_out(d, dlen, buf, cap, len);
}

int stm_map_contains(struct stm_txn *tx, const char *m, const void *key, size_t klen)
{
	char k[STM_KEY_MAX + 1];
	const void *d;
	int n, ret;

	n = m_key(k, m, "/k/", key, klen);
	if (n < 0)
		return n;
	ret = stm_get_n(tx, k, n, &d, NULL);
	if (ret == -ENOENT)
		return 0;
	return ret ? ret : 1;
}

static int m_count(struct stm_txn *tx, const char *m, int64_t delta)
{
	char k[STM_KEY_MAX + 1];
	int n = m_key(k, m, "/#", NULL, 0);

	/* Not read here: a commuting addition. */
	return n < 0 ? n : stm_add_i64_n(tx, k, n, delta);
}

int stm_map_put(struct stm_txn *tx, const char *m, const void *key, size_t klen,
		const void *data, size_t len)
{
	char k[STM_KEY_MAX + 1];
	int n, had, ret;

	had = stm_map_contains(tx, m, key, klen);
	if (had < 0)
		return had;
	n = m_key(k, m, "/k/", key, klen);
	ret = stm_put_n(tx, k, n, data, len);
	if (!ret && !had)
		ret = m_count(tx, m, 1);
	return ret ? ret : !had;
}

int stm_map_del(struct stm_txn *tx, const char *m, const void *key, size_t klen)
{
	char k[STM_KEY_MAX + 1];
	int n, had, ret;

	had = stm_map_contains(tx, m, key, klen);
	if (had <= 0)
		return had ? had : -ENOENT;
	n = m_key(k, m, "/k/", key, klen);
	ret = stm_del_n(tx, k, n);
	return ret ? ret : m_count(tx, m, -1);
}

int stm_map_size(struct stm_txn *tx, const char *m, uint64_t *size)
{
	char k[STM_KEY_MAX + 1];
	int64_t x;
	int n, ret;

	if (!size)
		return -EINVAL;
	n = m_key(k, m, "/#", NULL, 0);
	if (n < 0)
		return n;
	k[n] = '\0';
	ret = stm_get_i64(tx, k, &x);
	if (ret)
		return ret;
	if (x < 0)
		return -EINVAL;
	*size = (uint64_t)x;
	return 0;
}

struct m_walk {
	const char *pfx;
	size_t plen;
	char **keys;
	size_t n, cap;
	int err;
};

static int m_walk_cb(const void *key, size_t len, void *arg)
{
	struct m_walk *w = arg;
	char *k;

	if (len < w->plen || memcmp(key, w->pfx, w->plen))
		return 0;
	if (w->n == w->cap) {
		size_t nc = w->cap ? 2 * w->cap : 16;
		char **nk = realloc(w->keys, nc * sizeof(*nk));

		if (!nk)
			goto out_nomem;
		w->keys = nk;
		w->cap = nc;
	}
	k = malloc(len + sizeof(uint32_t));
	if (!k)
		goto out_nomem;
	memcpy(k, &(uint32_t){ len }, sizeof(uint32_t));
	memcpy(k + sizeof(uint32_t), key, len);
	w->keys[w->n++] = k;
	return 0;

out_nomem:
	w->err = -ENOMEM;
	return 1;
}

struct m_iter {
	size_t plen;
	int (*cb)(struct stm_txn *tx, const void *key, size_t klen,
		  const void *val, size_t vlen, void *arg);
	void *arg;
};

/* One key of the map's range: its value at the snapshot, to the caller. */
static int m_iter_cb(struct stm_txn *tx, const void *key, size_t klen, void *arg)
{
	struct m_iter *it = arg;
	const void *d;
	size_t dlen;
	int ret;

	ret = stm_get_n(tx, key, klen, &d, &dlen);
	if (ret)
		return ret;	/* never -ENOENT: the range is at the snapshot */
	return it->cb(tx, (const char *)key + it->plen, klen - it->plen, d,
		      dlen, it->arg);
}

/* Without range reads: the store's key list and the counter (O(store)). */
static int m_iterate_names(struct stm_txn *tx, const char *m,
			   int (*cb)(struct stm_txn *tx, const void *key,
				     size_t klen, const void *val, size_t vlen,
				     void *arg),
			   void *arg);

int stm_map_iterate(struct stm_txn *tx, const char *m,
		    int (*cb)(struct stm_txn *tx, const void *key, size_t klen,
			      const void *val, size_t vlen, void *arg),
		    void *arg)
{
	char pfx[STM_KEY_MAX + 1];
	struct m_iter it = { .cb = cb, .arg = arg };
	int n, ret;

	if (!cb)
		return -EINVAL;
	n = m_key(pfx, m, "/k/", NULL, 0);
	if (n < 0)
		return n;
	it.plen = n;
	/*
	 * A range read of the map's prefix: phantom-safe and O(map).  When
	 * the kernel cannot track the prefix (no range reads; a read-only
	 * handle where nobody declared it yet; the store's prefixes all
	 * taken; its owner's memory limit), the library's walk instead: it
	 * fails before any callback ran.
	 */
	ret = stm_range(tx, pfx, n, m_iter_cb, &it);
	if (ret != -EOPNOTSUPP && ret != -EBADF && ret != -ENOSPC &&
	    ret != -EDQUOT)
		return ret;
	return m_iterate_names(tx, m, cb, arg);
}

static int m_iterate_names(struct stm_txn *tx, const char *m,
			   int (*cb)(struct stm_txn *tx, const void *key,
				     size_t klen, const void *val, size_t vlen,
				     void *arg),
			   void *arg)
{
	char pfx[STM_KEY_MAX + 1];
	struct m_walk w = { .pfx = pfx };
	uint64_t size, present = 0;
	int n, ret;

	ret = stm_map_size(tx, m, &size);
	if (ret)
		return ret;
	n = m_key(pfx, m, "/k/", NULL, 0);
	if (n < 0)
		return n;
	w.plen = n;
	/* The store's keys now (not at the snapshot): checked against it. */
	ret = stm_names(stm_txn_store(tx), m_walk_cb, &w);
	if (ret < 0 || w.err)
		goto out_free;
	ret = 0;
	for (size_t i = 0; i < w.n && !ret; i++) {
		uint32_t len;
		const void *d;

		memcpy(&len, w.keys[i], sizeof(len));
		ret = stm_get_n(tx, w.keys[i] + sizeof(len), len, &d, NULL);
		if (ret == -ENOENT)
			ret = 0;	/* created after the snapshot */
		else if (!ret)
			present++;
	}
	if (ret)
		goto out_free;
	/*
	 * The walk missed an entry the snapshot has (deleted since): the
	 * attempt cannot see the map whole.  Rerun it.
	 */
	if (present != size) {
		ret = -STM_ECONFLICT;
		goto out_free;
	}
	for (size_t i = 0; i < w.n && !ret; i++) {
		uint32_t len;
		const void *d;
		size_t dlen;

		memcpy(&len, w.keys[i], sizeof(len));
		ret = stm_get_n(tx, w.keys[i] + sizeof(len), len, &d, &dlen);
		if (ret == -ENOENT) {
			ret = 0;
			continue;
		}
		if (!ret)
			ret = cb(tx, w.keys[i] + sizeof(len) + w.plen, len - w.plen,
				 d, dlen, arg);
	}
out_free:
	if (w.err)
		ret = w.err;
	for (size_t i = 0; i < w.n; i++)
		free(w.keys[i]);
	free(w.keys);
	return ret;
}

int stm_set_add(struct stm_txn *tx, const char *set, const void *key, size_t klen)
{
	return stm_map_put(tx, set, key, klen, NULL, 0);
}

int stm_set_remove(struct stm_txn *tx, const char *set, const void *key, size_t klen)
{
	return stm_map_del(tx, set, key, klen);
}

/* ---- fixed-size array ------------------------------------------------------ */

/* Array A: A/n its length (8-byte LE), A/<16 hex digits> element i. */
int stm_array_init(struct stm_txn *tx, const char *a, uint64_t n)
{
	char k[STM_KEY_MAX + 1];
	int64_t cur;
	int ret;

	if (!n || n > INT64_MAX)
		return -EINVAL;
	ret = q_key(k, a, "/n");
	if (ret)
		return ret;
	ret = stm_get_i64(tx, k, &cur);
	if (ret)
		return ret;
	if (cur)
		return (uint64_t)cur == n ? 0 : -EEXIST;
	return stm_put_i64(tx, k, (int64_t)n);
}

int stm_array_size(struct stm_txn *tx, const char *a, uint64_t *n)
{
	char k[STM_KEY_MAX + 1];
	int64_t cur;
	int ret;

	if (!n)
		return -EINVAL;
	ret = q_key(k, a, "/n");
	if (!ret)
		ret = stm_get_i64(tx, k, &cur);
	if (ret)
		return ret;
	if (cur <= 0)
		return cur ? -EINVAL : -ENOENT;
	*n = (uint64_t)cur;
	return 0;
}

static int a_key(struct stm_txn *tx, char *k, const char *a, uint64_t i)
{
	char sfx[Q_SUFFIX_MAX + 1];
	uint64_t n;
	int ret;

	ret = stm_array_size(tx, a, &n);
	if (ret)
		return ret;
	if (i >= n)
		return -ERANGE;
	snprintf(sfx, sizeof(sfx), "/%016llx", (unsigned long long)i);
	return q_key(k, a, sfx);
}

int stm_array_get(struct stm_txn *tx, const char *a, uint64_t i, void *buf,
		  size_t cap, size_t *len)
{
	char k[STM_KEY_MAX + 1];
	const void *d;
	size_t dlen;
	int ret;

	if (!buf && cap)
		return -EINVAL;
	ret = a_key(tx, k, a, i);
	if (ret)
		return ret;
	ret = stm_get(tx, k, &d, &dlen);
	if (ret == -ENOENT) {	/* never set: empty */
		d = NULL;
		dlen = 0;
	} else if (ret) {
		return ret;
	}
	return copy_out(d, dlen, buf, cap, len);
}

int stm_array_set(struct stm_txn *tx, const char *a, uint64_t i, const void *data,
		  size_t len)
{
	char k[STM_KEY_MAX + 1];
	int ret = a_key(tx, k, a, i);

	return ret ? ret : stm_put(tx, k, data, len);
}
