// SPDX-License-Identifier: MIT
/*
 * dev.c - the /dev/stm backend: library requests as stm.ko ioctls.
 *
 * One fd per store handle (the device serves one attached store per fd).
 * Nothing here keeps state between calls beyond the immutable handle, so
 * several threads may use one handle at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devenc.h"

#define STM_DEV_PATH	"/dev/stm"
#define STACK_ENTS	16
#define LIST_BUF	16384
#define STORES_BATCH	32

#define uptr stm_uptr

/* ---- the UAPI encoder (devenc.h) ---------------------------------------- */

void stm_enc_read(struct stmdev_read_ent *ents, const struct stm_rd *rd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ents[i] = (struct stmdev_read_ent){
			.key_addr = uptr(rd[i].key),
			.key_len = rd[i].klen,
			.val_addr = uptr(rd[i].buf),
			.val_len = rd[i].cap,
		};
}

void stm_dec_read(struct stm_rd *rd, const struct stmdev_read_ent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rd[i].version = ents[i].version;
		rd[i].len = ents[i].val_len;
		rd[i].present = ents[i].flags & STMDEV_RENT_PRESENT;
	}
}

void stm_enc_commit_ent(struct stmdev_commit_ent *e, const struct stm_cop *op,
			const void *key, const void *val, bool fetch)
{
	__u16 f = 0;

	if (op->flags & STM_COP_CHECK)
		f |= STMDEV_CENT_CHECK;
	if (op->flags & STM_COP_BOUND)
		f |= STMDEV_CENT_BOUND;
	if ((op->flags & STM_COP_FETCH) || fetch)
		f |= STMDEV_CENT_FETCH;
	*e = (struct stmdev_commit_ent){
		.key_addr = uptr(key),
		.key_len = op->klen,
		.val_addr = uptr(val),
		.val_len = op->vlen,
		.version = op->version,
		.op = op->op,	/* enum stm_op == STMDEV_OP_* */
		.flags = f,
	};
}

__u32 stm_enc_commit_flags(unsigned flags)
{
	__u32 f = 0;

	if (flags & STM_CM_NONBLOCK)
		f |= STMDEV_COMMIT_NONBLOCK;
	if (flags & STM_CM_RETRY)
		f |= STMDEV_COMMIT_RETRY;
	return f;
}

void stm_enc_wait(struct stmdev_wait_ent *ents, const struct stm_wkey *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ents[i] = (struct stmdev_wait_ent){
			.key_addr = uptr(k[i].key),
			.key_len = k[i].klen,
			.version = k[i].version,
		};
}

void stm_enc_range(struct stmdev_range *r, const void *pfx, size_t plen,
		   unsigned flags, uint64_t clock, void *buf, uint32_t len,
		   uint64_t cursor, uint64_t version)
{
	*r = (struct stmdev_range){
		.prefix_addr = uptr(pfx),
		.prefix_len = (__u32)plen,
		.flags = (flags & STM_RD_AT) ? STMDEV_RANGE_AT : 0,
		.addr = uptr(buf),
		.len = len,
		.cursor = cursor,
		.clock = (flags & STM_RD_AT) ? clock : 0,
		.version = cursor ? version : 0,
	};
}

__u32 stm_enc_wait_flags(unsigned flags)
{
	return (flags & STM_WT_ALL) ? STMDEV_WAIT_ALL : 0;
}

/* ---- the backend ---------------------------------------------------------- */

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* An fd on the device; a missing device is -ENODEV, not -ENOENT, so that
 * "no such store" and "no module" stay apart. */
static int dev_open_fd(void)
{
	int fd = open(STM_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == EACCES)
		fd = open(STM_DEV_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		return (e == ENOENT || e == ENXIO || e == ENODEV) ? -ENODEV : -e;
	}
	return fd;
}

static void copy_name(char dst[STMDEV_NAME_MAX], const char *name)
{
	memset(dst, 0, STMDEV_NAME_MAX);
	strncpy(dst, name, STMDEV_NAME_MAX - 1);
}

static int dev_open(struct stm_store *s, const char *name, int flags, mode_t mode)
{
	struct stmdev_features f;
	struct stmdev_attach a;
	int fd, ret;

	fd = dev_open_fd();
	if (fd < 0)
		return fd;

	memset(&f, 0, sizeof(f));
	ret = xioctl(fd, STMDEV_IOC_GET_FEATURES, &f);
	if (ret)
		goto out_close;
	s->lim.features = f.features;
	s->lim.max_key_len = f.max_key_len ? f.max_key_len : STMDEV_KEY_MAX;
	if (s->lim.max_key_len > STM_KEY_MAX)
		s->lim.max_key_len = STM_KEY_MAX;
	s->lim.max_value_size = f.max_value_size;
	s->lim.max_keys_per_call = f.max_keys_per_call;

	memset(&a, 0, sizeof(a));
	copy_name(a.name, name);
	if (flags & STM_CREAT)
		a.flags |= STMDEV_ATTACH_CREAT;
	if (flags & STM_EXCL)
		a.flags |= STMDEV_ATTACH_EXCL;
	if (flags & STM_RDONLY)
		a.flags |= STMDEV_ATTACH_RDONLY;
	if (flags & STM_NONBLOCK)
		a.flags |= STMDEV_ATTACH_NONBLOCK;
	a.mode = mode & 07777;
	ret = xioctl(fd, STMDEV_IOC_ATTACH, &a);
	if (ret)
		goto out_close;
	s->fd = fd;
	return 0;

out_close:
	close(fd);
	return ret;
}

static void dev_close(struct stm_store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int dev_unlink(const char *name)
{
	struct stmdev_unlink u;
	int fd, ret;

	fd = dev_open_fd();
	if (fd < 0)
		return fd;
	memset(&u, 0, sizeof(u));
	copy_name(u.name, name);
	ret = xioctl(fd, STMDEV_IOC_UNLINK, &u);
	close(fd);
	return ret;
}

static int dev_stores(int (*cb)(const struct stm_store_ent *e, void *arg), void *arg)
{
	struct stmdev_store_ent ents[STORES_BATCH];
	struct stmdev_list_stores ls;
	int fd, ret, seen = 0;

	fd = dev_open_fd();
	if (fd < 0)
		return fd;
	memset(&ls, 0, sizeof(ls));
	do {
		ls.addr = uptr(ents);
		ls.len = sizeof(ents);
		ls.count = 0;
		ls.reserved = 0;
		ret = xioctl(fd, STMDEV_IOC_LIST_STORES, &ls);
		if (ret)
			goto out_close;
		if (ls.count > STORES_BATCH) {
			ret = -EPROTO;
			goto out_close;
		}
		for (__u32 i = 0; i < ls.count; i++) {
			char name[STMDEV_NAME_MAX + 1];
			struct stm_store_ent e;

			memcpy(name, ents[i].name, STMDEV_NAME_MAX);
			name[STMDEV_NAME_MAX] = '\0';
			memset(&e, 0, sizeof(e));
			e.name = name;
			e.uid = ents[i].uid;
			e.gid = ents[i].gid;
			e.mode = ents[i].mode;
			e.keys = ents[i].keys;
			e.bytes = ents[i].bytes;
			seen++;
			ret = cb(&e, arg);
			if (ret)
				goto out_close;
		}
	} while (ls.cursor);
	ret = seen;
out_close:
	close(fd);
	return ret;
}

static int dev_read(struct stm_store *s, struct stm_rd *rd, size_t n,
		    unsigned flags, uint64_t *clock, uint32_t *conflict)
{
	struct stmdev_read_ent stack[STACK_ENTS], *ents = stack;
	struct stmdev_read r;
	int ret;

	if (n > STACK_ENTS) {
		ents = calloc(n, sizeof(*ents));
		if (!ents)
			return -ENOMEM;
	}
	stm_enc_read(ents, rd, n);
	memset(&r, 0, sizeof(r));
	r.entries = uptr(ents);
	r.count = n;
	if (flags & STM_RD_AT) {
		r.flags |= STMDEV_READ_AT;
		r.clock = *clock;
	}
	ret = xioctl(s->fd, STMDEV_IOC_READ, &r);
	if (ret == 0 || ret == -E2BIG)
		stm_dec_read(rd, ents, n);
	if (ret == 0 && clock)
		*clock = r.clock;
	if (ret == -ESTALE && conflict)
		*conflict = r.conflict;
	if (ents != stack)
		free(ents);
	return ret;
}

static int dev_commit(struct stm_store *s, struct stm_cop *ops, size_t n,
		      unsigned flags, uint32_t family, uint64_t *version,
		      uint32_t *conflict)
{
	struct stmdev_commit_ent stack[STACK_ENTS], *ents = stack;
	struct stmdev_commit c;
	int ret;

	if (n > STACK_ENTS) {
		ents = calloc(n, sizeof(*ents));
		if (!ents)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const void *val = ops[i].val;

		if (ops[i].flags & STM_COP_FETCH && ops[i].op == STM_OP_READ) {
			/* the kernel writes the replaced value there */
			val = ops[i].fetch;
		} else if (ops[i].flags & STM_COP_FETCH) {
			/* the kernel writes the result over the delta */
			memcpy(ops[i].fetch, ops[i].val, ops[i].vlen);
			val = ops[i].fetch;
		}
		stm_enc_commit_ent(&ents[i], &ops[i], ops[i].key, val, false);
	}
	memset(&c, 0, sizeof(c));
	c.entries = uptr(ents);
	c.count = n;
	c.family = family;
	c.conflict = STMDEV_NO_CONFLICT;
	c.flags = stm_enc_commit_flags(flags);
	ret = xioctl(s->fd, STMDEV_IOC_COMMIT, &c);
	if (ret == 0 && version)
		*version = c.version;
	/* A fetched value's length and version come back, also with E2BIG. */
	for (size_t i = 0; (ret == 0 || ret == -E2BIG) && i < n; i++) {
		if (ops[i].op == STM_OP_READ && ops[i].flags & STM_COP_FETCH) {
			ops[i].vlen = ents[i].val_len;
			ops[i].version = ents[i].version;
		}
	}
	if (conflict)
		*conflict = (ret == -ESTALE || ret == -ERANGE) ?
			    c.conflict : STMDEV_NO_CONFLICT;
	if (ents != stack)
		free(ents);
	return ret;
}

static int dev_keys(struct stm_store *s, struct stm_key_walk *w)
{
	struct stmdev_list l;
	uint8_t *buf;
	int ret, seen = 0;

	buf = malloc(LIST_BUF);
	if (!buf)
		return -ENOMEM;
	memset(&l, 0, sizeof(l));
	do {
		size_t off = 0;

		l.addr = uptr(buf);
		l.len = LIST_BUF;
		l.count = 0;
		l.reserved = 0;
		ret = xioctl(s->fd, STMDEV_IOC_LIST, &l);
		if (ret)
			goto out_free;
		for (__u32 i = 0; i < l.count; i++) {
			struct stmdev_key_rec rec;
			struct stm_key_info ki;
			size_t step;

			if (off + sizeof(rec) > LIST_BUF) {
				ret = -EPROTO;
				goto out_free;
			}
			memcpy(&rec, buf + off, sizeof(rec));
			step = (sizeof(rec) + rec.key_len + 7) & ~(size_t)7;
			if (rec.key_len == 0 || off + sizeof(rec) + rec.key_len > LIST_BUF) {
				ret = -EPROTO;
				goto out_free;
			}
			ki.key = buf + off + sizeof(rec);
			ki.key_len = rec.key_len;
			ki.version = rec.version;
			ki.value_len = rec.val_len;
			seen++;
			ret = w->cb(&ki, w->arg);
			if (ret)
				goto out_free;
			off += step;
		}
	} while (l.cursor);
	ret = seen;
out_free:
	free(buf);
	return ret;
}

/* Walks of a range restarted because it changed between two calls. */
#define RANGE_RESTARTS	64

static int dev_range(struct stm_store *s, const void *pfx, size_t plen,
		     unsigned flags, uint64_t *clock, uint64_t *version,
		     struct stm_rkeys *out)
{
	struct stmdev_range r;
	unsigned restarts = 0;
	uint64_t cursor = 0, ver = 0, at = 0;
	size_t cap = 0;
	uint8_t *buf;
	int ret;

	if (!(s->lim.features & STMDEV_F_RANGE))
		return -EOPNOTSUPP;
	buf = malloc(LIST_BUF);
	if (!buf)
		return -ENOMEM;
	*out = (struct stm_rkeys){ 0 };
	for (;;) {
		size_t off = 0;

		stm_enc_range(&r, pfx, plen, flags, *clock, buf, LIST_BUF,
			      cursor, ver);
		ret = xioctl(s->fd, STMDEV_IOC_RANGE, &r);
		if (ret == -ESTALE && cursor && !(flags & STM_RD_AT) &&
		    ++restarts < RANGE_RESTARTS) {
			/* The range changed between two calls: walk it again. */
			stm_range_keys_free(out);
			cap = 0;
			cursor = 0;
			continue;
		}
		if (ret)
			goto out_free;
		if (!cursor) {
			ver = r.version;
			at = r.clock;
		}
		for (__u32 i = 0; i < r.count; i++) {
			struct stmdev_key_rec rec;

			if (off + sizeof(rec) > LIST_BUF) {
				ret = -EPROTO;
				goto out_free;
			}
			memcpy(&rec, buf + off, sizeof(rec));
			if (rec.key_len == 0 || off + sizeof(rec) + rec.key_len > LIST_BUF) {
				ret = -EPROTO;
				goto out_free;
			}
			ret = stm_range_keys_add(out, &cap, buf + off + sizeof(rec),
						 rec.key_len, rec.version);
			if (ret)
				goto out_free;
			off += (sizeof(rec) + rec.key_len + 7) & ~(size_t)7;
		}
		cursor = r.cursor;
		if (!cursor)
			break;
	}
	*version = ver;
	if (!(flags & STM_RD_AT))
		*clock = at;
	free(buf);
	return 0;

out_free:
	stm_range_keys_free(out);
	free(buf);
	return ret;
}

static int dev_info(struct stm_store *s, struct stm_info *out)
{
	struct stmdev_info in;
	int ret;

	memset(&in, 0, sizeof(in));
	ret = xioctl(s->fd, STMDEV_IOC_INFO, &in);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, in.name, sizeof(out->name) - 1);
	out->uid = in.uid;
	out->gid = in.gid;
	out->mode = in.mode;
	if (in.attach_flags & STMDEV_ATTACH_CREAT)
		out->flags |= STM_CREAT;
	if (in.attach_flags & STMDEV_ATTACH_EXCL)
		out->flags |= STM_EXCL;
	if (in.attach_flags & STMDEV_ATTACH_RDONLY)
		out->flags |= STM_RDONLY;
	if (in.attach_flags & STMDEV_ATTACH_NONBLOCK)
		out->flags |= STM_NONBLOCK;
	out->keys = in.keys;
	out->bytes = in.bytes;
	out->clock = in.clock;
	out->unlinked = in.unlinked;
	out->charge = in.charge;
	return 0;
}

static int dev_stats(struct stm_store *s, struct stm_stats *out)
{
	struct stmdev_stats st;
	int ret;

	memset(&st, 0, sizeof(st));
	ret = xioctl(s->fd, STMDEV_IOC_STATS, &st);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->commits = st.commits;
	out->conflicts = st.conflicts;
	out->busy = st.busy;
	out->reads = st.reads;
	out->keys = st.keys;
	out->bytes = st.bytes;
	out->waits = st.waits;
	out->wakeups = st.wakeups;
	out->charge = st.charge;
	return 0;
}

/* The uapi's wait entries for @k; *ents is @stack or allocated. */
static int wait_ents(const struct stm_wkey *k, size_t n,
		     struct stmdev_wait_ent *stack, struct stmdev_wait_ent **ents)
{
	*ents = stack;
	if (n > STACK_ENTS) {
		*ents = calloc(n, sizeof(**ents));
		if (!*ents)
			return -ENOMEM;
	}
	stm_enc_wait(*ents, k, n);
	return 0;
}

static int dev_wait(struct stm_store *s, const struct stm_wkey *k, size_t n,
		    unsigned flags, int64_t timeout_ns, uint32_t family,
		    uint32_t *index)
{
	struct stmdev_wait_ent stack[STACK_ENTS], *ents;
	struct stmdev_wait w;
	int ret;

	ret = wait_ents(k, n, stack, &ents);
	if (ret)
		return ret;
	memset(&w, 0, sizeof(w));
	w.entries = uptr(ents);
	w.count = n;
	w.flags = stm_enc_wait_flags(flags);
	w.timeout_ns = timeout_ns;
	w.family = family;
	ret = xioctl(s->fd, STMDEV_IOC_WAIT, &w);
	if (ret == 0 && index)
		*index = w.index;
	if (ents != stack)
		free(ents);
	return ret;
}

static int dev_watch(struct stm_store *s, const struct stm_wkey *k, size_t n)
{
	struct stmdev_wait_ent stack[STACK_ENTS], *ents;
	struct stmdev_watch w;
	int ret;

	ret = wait_ents(k, n, stack, &ents);
	if (ret)
		return ret;
	memset(&w, 0, sizeof(w));
	w.entries = uptr(ents);
	w.count = n;
	ret = xioctl(s->fd, STMDEV_IOC_WATCH, &w);
	if (ents != stack)
		free(ents);
	return ret;
}

static int dev_reserve(struct stm_store *s, const struct stm_wkey *k, size_t n,
		       unsigned bound_ms)
{
	struct stmdev_wait_ent stack[STACK_ENTS], *ents;
	struct stmdev_reserve r;
	int ret;

	if (!(s->lim.features & STMDEV_F_RESERVE))
		return -EOPNOTSUPP;
	ret = wait_ents(k, n, stack, &ents);
	if (ret)
		return ret;
	memset(&r, 0, sizeof(r));
	r.entries = uptr(ents);
	r.count = n;
	r.bound_ms = bound_ms;
	ret = xioctl(s->fd, STMDEV_IOC_RESERVE, &r);
	if (ents != stack)
		free(ents);
	return ret ? ret : (int)(r.bound_ms > INT32_MAX ? INT32_MAX : r.bound_ms);
}

static int dev_pollfd(struct stm_store *s)
{
	return s->fd >= 0 ? s->fd : -EBADF;
}

static int dev_ring(struct stm_store *s, bool *bounded)
{
	if (s->fd < 0 || !(s->lim.features & STMDEV_F_URING))
		return -EOPNOTSUPP;
	*bounded = !(s->lim.features & STMDEV_F_URING_CANCEL);
	return s->fd;
}

static int dev_family(struct stm_store *s, const char *name, uint32_t *id)
{
	struct stmdev_family f;
	int ret;

	memset(&f, 0, sizeof(f));
	strncpy(f.name, name, sizeof(f.name) - 1);
	ret = xioctl(s->fd, STMDEV_IOC_FAMILY, &f);
	if (ret == 0)
		*id = f.id;
	return ret;
}

static int dev_families(struct stm_store *s,
			int (*cb)(const struct stm_family_stats *f, void *arg),
			void *arg)
{
	struct stmdev_family_stats fs;
	struct stmdev_family_ent *ents;
	int ret;

	ents = calloc(STMDEV_FAMILIES_MAX, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	memset(&fs, 0, sizeof(fs));
	fs.addr = uptr(ents);
	fs.len = STMDEV_FAMILIES_MAX * sizeof(*ents);
	ret = xioctl(s->fd, STMDEV_IOC_FAMILY_STATS, &fs);
	if (ret)
		goto out_free;
	if (fs.count > STMDEV_FAMILIES_MAX) {
		ret = -EPROTO;
		goto out_free;
	}
	for (__u32 i = 0; i < fs.count; i++) {
		char name[STMDEV_FAMILY_NAME_MAX + 1];
		struct stm_family_stats f;

		memcpy(name, ents[i].name, STMDEV_FAMILY_NAME_MAX);
		name[STMDEV_FAMILY_NAME_MAX] = '\0';
		memset(&f, 0, sizeof(f));
		f.name = name;
		f.id = i + 1;
		f.attempts = ents[i].attempts;
		f.commits = ents[i].commits;
		f.conflicts = ents[i].conflicts;
		f.busy = ents[i].busy;
		f.waits = ents[i].waits;
		f.retries = ents[i].retries;
		ret = cb(&f, arg);
		if (ret)
			goto out_free;
	}
	ret = fs.count;
out_free:
	free(ents);
	return ret;
}

_Static_assert(STM_OP_READ == STMDEV_OP_READ && STM_OP_PUT == STMDEV_OP_PUT &&
	       STM_OP_DEL == STMDEV_OP_DEL && STM_OP_ADD == STMDEV_OP_ADD,
	       "library ops mirror the uapi's");
_Static_assert(STM_NAME_MAX + 1 == STMDEV_NAME_MAX, "store name length");
_Static_assert(STM_KEY_MAX == STMDEV_KEY_MAX, "key length");
_Static_assert(STM_FAMILY_NAME_MAX + 1 == STMDEV_FAMILY_NAME_MAX, "family name length");
_Static_assert(STM_WAIT_ALL == STM_WT_ALL, "wait flags");

const struct stm_backend stm_dev_backend = {
	.name = "dev",
	.scheme = NULL,
	.open = dev_open,
	.close = dev_close,
	.unlink = dev_unlink,
	.stores = dev_stores,
	.read = dev_read,
	.commit = dev_commit,
	.keys = dev_keys,
	.info = dev_info,
	.stats = dev_stats,
	.wait = dev_wait,
	.watch = dev_watch,
	.pollfd = dev_pollfd,
	.family = dev_family,
	.families = dev_families,
	.ring = dev_ring,
	.range = dev_range,
	.reserve = dev_reserve,
};
