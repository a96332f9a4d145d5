// SPDX-License-Identifier: MIT
/*
 * store.c - store handles: open, close, unlink, info, stats, listing, and
 * error strings.
 */
#include <errno.h>
#include <stdio.h>
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
	case STM_EUNKNOWN:
		return "outcome unknown: the store was unreachable mid-commit (it may have applied)";
	case EHOSTUNREACH:
		return "no member of the cluster could be reached";
	case EDEADLK:
		return "retry with nothing read: nothing could ever wake it";
	default: {
		const char *d = strerrordesc_np(err);

		return d ? d : "unknown error";
	}
	}
}

/*
 * The backends built in: the first serves plain names (/dev/stm); the
 * others a URL scheme each (etcd://...).  The etcd backend is referenced
 * weakly: libstmdev.so has it when lib/Makefile found libcurl and jansson;
 * a static program links it only when it asks for it
 * (-Wl,-u,stm_etcd_backend and the libraries: Documentation/etcd.rst), so
 * static programs that open no etcd store need neither library.
 */
static const struct stm_backend *const backends[] = {
	&stm_dev_backend,
	&stm_etcd_backend,	/* weak: NULL when not linked in */
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* The backend that serves @name: by its scheme, or /dev/stm for a plain
 * name; -EPROTONOSUPPORT for a scheme no backend here serves. */
static int backend_for(const char *name, const struct stm_backend **be)
{
	const char *sep = name ? strstr(name, "://") : NULL;

	*be = backends[0];
	if (!sep)
		return 0;
	for (size_t i = 1; i < NBACKENDS; i++) {
		const char *sc = backends[i] ? backends[i]->scheme : NULL;

		if (sc && strlen(sc) == (size_t)(sep - name) &&
		    !strncmp(name, sc, sep - name)) {
			*be = backends[i];
			return 0;
		}
	}
	return -EPROTONOSUPPORT;
}

/* A backend checks a URL itself; a plain name is checked here. */
static int check_name(const struct stm_backend *be, const char *name)
{
	return be->scheme ? 0 : stm_check_name(name);
}

int stm_open(const char *name, int flags, mode_t mode, struct stm_store **out)
{
	const struct stm_backend *be;
	struct stm_store *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!name)
		return -EINVAL;
	ret = backend_for(name, &be);
	if (ret)
		return ret;
	ret = check_name(be, name);
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
	/* A backend with a scheme stores its own short name over this;
	 * stm_store_name() gives the URL, as stm_open() had it. */
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (be->scheme)
		s->url = strdup(name);
	ret = be->scheme && !s->url ? -ENOMEM : be->open(s, name, flags, mode);
	if (ret) {
		free(s->url);
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
	free(s->url);
	pthread_mutex_destroy(&s->fam_lock);
	free(s);
}

int stm_unlink(const char *name)
{
	const struct stm_backend *be;
	int ret;

	if (!name)
		return -EINVAL;
	ret = backend_for(name, &be);
	if (ret)
		return ret;
	ret = check_name(be, name);
	if (ret)
		return ret;
	return be->unlink(name);
}

const char *stm_store_name(const struct stm_store *s)
{
	if (!s)
		return NULL;
	return s->url ? s->url : s->name;
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
	/* The plain names' backend: a URL backend has nothing to list
	 * without a URL's endpoints. */
	return backends[0]->stores(cb, arg);
}
