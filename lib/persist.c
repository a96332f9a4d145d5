// SPDX-License-Identifier: MIT
/*
 * persist.c - a whole store out and in (STMDEV_IOC_EXPORT / IMPORT):
 * stm_export(), stm_import().  What `stmctl save` and `stmctl load` use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/stmdev.h>
#include "internal.h"

#define EXPORT_BUF	(64 << 10)	/* first record buffer; grows on E2BIG */
#define EXPORT_BUF_MAX	(1u << 30)

static int persist_ok(struct stm_store *s)
{
	if (!s || s->be != &stm_dev_backend || s->fd < 0)
		return -EOPNOTSUPP;
	if (!(s->lim.features & STMDEV_F_PERSIST))
		return -EOPNOTSUPP;
	return 0;
}

static size_t rec_size(uint32_t klen, uint32_t vlen)
{
	return sizeof(struct stmdev_key_rec) + (((size_t)klen + vlen + 7) & ~(size_t)7);
}

/* Hand the @count records in @buf (@used bytes) to @cb. */
static int export_records(const uint8_t *buf, size_t used, uint32_t count,
			  int (*cb)(const struct stm_record *r, void *arg),
			  void *arg)
{
	size_t off = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct stmdev_key_rec h;
		struct stm_record r;
		int ret;

		if (used - off < sizeof(h))
			return -EIO;
		memcpy(&h, buf + off, sizeof(h));
		if (used - off < rec_size(h.key_len, h.val_len))
			return -EIO;
		r.key = buf + off + sizeof(h);
		r.key_len = h.key_len;
		r.value = buf + off + sizeof(h) + h.key_len;
		r.value_len = h.val_len;
		r.version = h.version;
		ret = cb(&r, arg);
		if (ret)
			return ret;
		off += rec_size(h.key_len, h.val_len);
	}
	return 0;
}

int stm_export(struct stm_store *s,
	       int (*cb)(const struct stm_record *r, void *arg), void *arg,
	       uint64_t *clock)
{
	struct stmdev_export e;
	size_t cap = EXPORT_BUF;
	uint8_t *buf;
	long total = 0;
	int ret;

	ret = persist_ok(s);
	if (ret)
		return ret;
	if (!cb)
		return -EINVAL;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	memset(&e, 0, sizeof(e));
	for (;;) {
		e.addr = (uint64_t)(uintptr_t)buf;
		e.len = cap;
		if (ioctl(s->fd, STMDEV_IOC_EXPORT, &e) < 0) {
			ret = -errno;
			if (ret == -E2BIG && cap < EXPORT_BUF_MAX) {
				uint8_t *nb = realloc(buf, cap * 2);

				if (!nb) {
					ret = -ENOMEM;
					break;
				}
				buf = nb;
				cap *= 2;
				continue;
			}
			break;
		}
		/* Records up to the first that does not fit: count them. */
		ret = export_records(buf, cap, e.count, cb, arg);
		if (ret)
			break;
		total += e.count;
		if (clock)
			*clock = e.clock;
		if (!e.cursor) {
			ret = (int)total;
			break;
		}
	}
	/* Stopped early: a new cursor 0 or the close frees the snapshot. */
	free(buf);
	return ret;
}

int stm_import(struct stm_store *s, const struct stm_record *recs, size_t n,
	       uint64_t *clock)
{
	struct stmdev_import im;
	size_t len = 0, off = 0;
	uint8_t *buf;
	int ret;

	ret = persist_ok(s);
	if (ret)
		return ret;
	if ((n && !recs) || n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].key_len || recs[i].key_len > STM_KEY_MAX ||
		    recs[i].value_len > UINT32_MAX ||
		    (recs[i].value_len && !recs[i].value))
			return -EINVAL;
		len += rec_size(recs[i].key_len, recs[i].value_len);
	}
	buf = calloc(1, len ? len : 8);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct stmdev_key_rec h = {
			.version = recs[i].version,
			.key_len = (uint32_t)recs[i].key_len,
			.val_len = (uint32_t)recs[i].value_len,
		};

		memcpy(buf + off, &h, sizeof(h));
		memcpy(buf + off + sizeof(h), recs[i].key, h.key_len);
		if (h.val_len)
			memcpy(buf + off + sizeof(h) + h.key_len, recs[i].value,
			       h.val_len);
		off += rec_size(h.key_len, h.val_len);
	}
	memset(&im, 0, sizeof(im));
	im.addr = (uint64_t)(uintptr_t)buf;
	im.len = len;
	im.count = (uint32_t)n;
	ret = ioctl(s->fd, STMDEV_IOC_IMPORT, &im) < 0 ? -errno : 0;
	if (!ret && clock)
		*clock = im.clock;
	free(buf);
	return ret;
}
