// SPDX-License-Identifier: MIT
/*
 * store.c - store handles: open, close, unlink, info, stats, listing, and
 * error strings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *stm_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case STM_ECONFLICT:
		return "conflict: a value changed since it was read (redo the transaction)";
	case STM_EBUSY:
		return "busy: a key is being committed by another process (retry the commit)";
	case ENODEV:
		return "stm device not available (is stm.ko loaded? /dev/stm missing)";
	case ENOENT:
		return "no such store or key";
	case EEXIST:
		return "store already exists";
	case EINVAL:
		return "invalid argument";
	case E2BIG:
		return "too big: value over max_value_size, or too many keys in one call";
	case ENAMETOOLONG:
		return "store name too long";
	case EBADF:
		return "store attached read-only";
	case ENOTCONN:
		return "no store attached";
	case ENOSPC:
		return "store limits reached (stores, keys or bytes)";
	case EPROTONOSUPPORT:
		return "store backend not supported by this build";
	case EPROTO:
		return "malformed reply from the store backend";
	case STM_ERETRIES:
		return "too many conflicts: the transaction reran max_retries times";
	case ETIMEDOUT:
		return "timed out";
	case EIDRM:
		return "store removed (unlinked) while waiting";
	case EDEADLK:
		return "retry with nothing read: nothing could ever wake it";
	default: {
		const char *d = strerrordesc_np(err);

		return d ? d : "unknown error";
	}
	}
}

/* The backend that serves @name.  URLs are kept for backends to come
 * (etcd://host:port/store); a plain name is a /dev/stm store. */
static int backend_for(const char *name, const struct stm_backend **be)
{
	if (name && strstr(name, "://"))
		return -EPROTONOSUPPORT;
	*be = &stm_dev_backend;
	return 0;
}

int stm_open(const char *name, int flags, mode_t mode, struct stm_store **out)
{
	const struct stm_backend *be;
	struct stm_store *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	ret = backend_for(name, &be);
	if (ret)
		return ret;
	ret = stm_check_name(name);
	if (ret)
		return ret;
	if (flags & ~(STM_CREAT | STM_EXCL | STM_RDONLY | STM_NONBLOCK))
		return -EINVAL;
	if ((flags & STM_EXCL) && !(flags & STM_CREAT))
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->be = be;
	s->fd = -1;
	pthread_mutex_init(&s->fam_lock, NULL);
	s->flags = flags;
	strcpy(s->name, name);	/* length checked above */
	ret = be->open(s, name, flags, mode);
	if (ret) {
		pthread_mutex_destroy(&s->fam_lock);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void stm_close(struct stm_store *s)
{
	if (!s)
		return;
	s->be->close(s);
	pthread_mutex_destroy(&s->fam_lock);
	free(s);
}

int stm_unlink(const char *name)
{
	const struct stm_backend *be;
	int ret;

	ret = backend_for(name, &be);
	if (ret)
		return ret;
	ret = stm_check_name(name);
	if (ret)
		return ret;
	return be->unlink(name);
}

const char *stm_store_name(const struct stm_store *s)
{
	return s ? s->name : NULL;
}

int stm_limits(const struct stm_store *s, struct stm_limits *out)
{
	if (!s || !out)
		return -EINVAL;
	*out = s->lim;
	return 0;
}

int stm_info(struct stm_store *s, struct stm_info *out)
{
	if (!s || !out)
		return -EINVAL;
	return s->be->info(s, out);
}

int stm_stats(struct stm_store *s, struct stm_stats *out)
{
	if (!s || !out)
		return -EINVAL;
	return s->be->stats(s, out);
}

int stm_stores(int (*cb)(const struct stm_store_ent *e, void *arg), void *arg)
{
	if (!cb)
		return -EINVAL;
	return stm_dev_backend.stores(cb, arg);
}
