/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stm_test_util.h - shared helpers for the raw-UAPI selftests.
 *
 * Raw ioctls only (no libstmdev): these tests check the kernel contract of
 * uapi/linux/stmdev.h directly.  Every helper returns 0 (or a count) on
 * success and -errno on failure, never prints and never exits, so tests
 * can assert on the exact errno.  Helpers are named t_* (as liburing's
 * test/helpers are), never stm_*: those are libstmdev's public names.
 * The library-level tests use lib_test_util.h instead.
 *
 * Including this header installs a constructor that skips the whole
 * program (exit 4) when /dev/stm does not exist: the only capability whose
 * absence is a skip rather than a failure.
 */
#ifndef STM_TEST_UTIL_H
#define STM_TEST_UTIL_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/stmdev.h>

/*
 * The 6.1 kselftest_harness.h (included after this header) has unused
 * parameters in __timeout_handler and in every TEST() wrapper; with the
 * runner's -Wextra that would be a warning per test.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define STM_DEV		"/dev/stm"
#define STM_PARAM_DIR	"/sys/module/stm/parameters/"
#define STM_NOBODY	65534

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static inline __u64 t_ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/* Skip the whole program when the device is absent (module not loaded). */
static void __attribute__((constructor)) t_require_device(void)
{
	if (access(STM_DEV, F_OK) != 0) {
		printf("TAP version 13\n1..0 # SKIP %s not present\n", STM_DEV);
		fflush(stdout);
		_exit(4);
	}
}

/* ioctl returning 0 or -errno. */
static inline int t_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

/* Store names: "st-<tag>-<pid>-<seq>", unique per process and call. */
static inline void t_name(char *buf, size_t len, const char *tag)
{
	static unsigned int seq;

	snprintf(buf, len, "st-%s-%d-%u", tag, (int)getpid(), seq++);
}

static inline int t_open(void)
{
	int fd = open(STM_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int t_attach(int fd, const char *name, __u32 flags, __u32 mode)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, strnlen(name, sizeof(a.name) - 1));
	a.flags = flags;
	a.mode = mode;
	return t_ioctl(fd, STMDEV_IOC_ATTACH, &a);
}

/* open + attach: returns the fd or -errno (the fd is closed on failure). */
static inline int t_open_attach(const char *name, __u32 flags, __u32 mode)
{
	int fd = t_open();
	int ret;

	if (fd < 0)
		return fd;
	ret = t_attach(fd, name, flags, mode);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static inline int t_unlink(const char *name)
{
	struct stmdev_unlink u;
	int fd = t_open();
	int ret;

	if (fd < 0)
		return fd;
	memset(&u, 0, sizeof(u));
	memcpy(u.name, name, strnlen(name, sizeof(u.name) - 1));
	ret = t_ioctl(fd, STMDEV_IOC_UNLINK, &u);
	close(fd);
	return ret;
}

static inline int t_info(int fd, struct stmdev_info *info)
{
	memset(info, 0, sizeof(*info));
	return t_ioctl(fd, STMDEV_IOC_INFO, info);
}

static inline int t_stats(int fd, struct stmdev_stats *st)
{
	memset(st, 0, sizeof(*st));
	return t_ioctl(fd, STMDEV_IOC_STATS, st);
}

static inline int t_features(int fd, struct stmdev_features *f)
{
	memset(f, 0, sizeof(*f));
	return t_ioctl(fd, STMDEV_IOC_GET_FEATURES, f);
}

/* ---- commit entries ---------------------------------------------------- */

static inline void cent_read(struct stmdev_commit_ent *e, const void *key,
			     __u32 klen, __u64 version)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = klen;
	e->op = STMDEV_OP_READ;
	e->version = version;
}

static inline void cent_put(struct stmdev_commit_ent *e, const void *key,
			    __u32 klen, const void *val, __u32 vlen)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = klen;
	e->val_addr = t_ptr(val);
	e->val_len = vlen;
	e->op = STMDEV_OP_PUT;
}

/* PUT that also validates the key's version (STMDEV_CENT_CHECK). */
static inline void cent_put_check(struct stmdev_commit_ent *e, const void *key,
				  __u32 klen, const void *val, __u32 vlen,
				  __u64 version)
{
	cent_put(e, key, klen, val, vlen);
	e->flags = STMDEV_CENT_CHECK;
	e->version = version;
}

static inline void cent_del(struct stmdev_commit_ent *e, const void *key,
			    __u32 klen)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = klen;
	e->op = STMDEV_OP_DEL;
}

/* ADD: *delta must stay valid (8 bytes, little endian) until the commit. */
static inline void cent_add(struct stmdev_commit_ent *e, const void *key,
			    __u32 klen, const __s64 *delta)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = klen;
	e->val_addr = t_ptr(delta);
	e->val_len = 8;
	e->op = STMDEV_OP_ADD;
}

/*
 * COMMIT ents[0..n): returns 0 or -errno; *version and *conflict (either
 * may be NULL) get the out fields whatever the result.
 */
static inline int t_commit_flags(int fd, struct stmdev_commit_ent *ents,
				   __u32 n, __u32 flags, __u64 *version,
				   __u32 *conflict)
{
	struct stmdev_commit c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.entries = t_ptr(ents);
	c.count = n;
	c.flags = flags;
	c.conflict = 0x5a5a5a5a;	/* must be overwritten */
	ret = t_ioctl(fd, STMDEV_IOC_COMMIT, &c);
	if (version)
		*version = c.version;
	if (conflict)
		*conflict = c.conflict;
	return ret;
}

static inline int t_commit(int fd, struct stmdev_commit_ent *ents, __u32 n,
			     __u64 *version, __u32 *conflict)
{
	return t_commit_flags(fd, ents, n, 0, version, conflict);
}

/* Blind put of one key. */
static inline int t_put(int fd, const void *key, __u32 klen,
			  const void *val, __u32 vlen, __u64 *version)
{
	struct stmdev_commit_ent e;

	cent_put(&e, key, klen, val, vlen);
	return t_commit(fd, &e, 1, version, NULL);
}

static inline int t_put_str(int fd, const char *key, const char *val,
			      __u64 *version)
{
	return t_put(fd, key, strlen(key), val, strlen(val), version);
}

static inline int t_del(int fd, const void *key, __u32 klen, __u64 *version)
{
	struct stmdev_commit_ent e;

	cent_del(&e, key, klen);
	return t_commit(fd, &e, 1, version, NULL);
}

static inline int t_put_i64(int fd, const char *key, __s64 v, __u64 *version)
{
	__s64 le = (__s64)htole64((__u64)v);

	return t_put(fd, key, strlen(key), &le, sizeof(le), version);
}

/* ---- reads --------------------------------------------------------------- */

static inline void rent_init(struct stmdev_read_ent *e, const void *key,
			     __u32 klen, void *buf, __u32 cap)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = klen;
	e->val_addr = t_ptr(buf);
	e->val_len = cap;
}

/* READ ents[0..n) in one call; *clock (may be NULL) gets the snapshot clock. */
static inline int t_read(int fd, struct stmdev_read_ent *ents, __u32 n,
			   __u64 *clock)
{
	struct stmdev_read r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.entries = t_ptr(ents);
	r.count = n;
	ret = t_ioctl(fd, STMDEV_IOC_READ, &r);
	if (clock)
		*clock = r.clock;
	return ret;
}

/* READ_AT: fails with ESTALE (index in *conflict) past `clock`. */
static inline int t_read_at(int fd, struct stmdev_read_ent *ents, __u32 n,
			      __u64 clock, __u32 *conflict)
{
	struct stmdev_read r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.entries = t_ptr(ents);
	r.count = n;
	r.flags = STMDEV_READ_AT;
	r.clock = clock;
	ret = t_ioctl(fd, STMDEV_IOC_READ, &r);
	if (conflict)
		*conflict = r.conflict;
	return ret;
}

struct t_val {
	bool present;
	__u64 version;
	__u32 len;
	unsigned char buf[1024];
};

/* Read one key into v (values up to sizeof(v->buf) bytes). */
static inline int t_get(int fd, const void *key, __u32 klen,
			  struct t_val *v)
{
	struct stmdev_read_ent e;
	int ret;

	memset(v, 0, sizeof(*v));
	rent_init(&e, key, klen, v->buf, sizeof(v->buf));
	e.version = 0xdeadbeef;		/* out: must be overwritten */
	ret = t_read(fd, &e, 1, NULL);
	v->present = e.flags & STMDEV_RENT_PRESENT;
	v->version = e.version;
	v->len = e.val_len;
	return ret;
}

static inline int t_get_str(int fd, const char *key, struct t_val *v)
{
	return t_get(fd, key, strlen(key), v);
}

/* Read an 8-byte little-endian integer; -ENODATA if absent, -EMSGSIZE if not 8 bytes. */
static inline int t_get_i64(int fd, const char *key, __s64 *out,
			      __u64 *version)
{
	struct t_val v;
	__u64 le;
	int ret = t_get_str(fd, key, &v);

	if (ret < 0)
		return ret;
	if (version)
		*version = v.version;
	if (!v.present)
		return -ENODATA;
	if (v.len != 8)
		return -EMSGSIZE;
	memcpy(&le, v.buf, 8);
	*out = (__s64)le64toh(le);
	return 0;
}

static inline __s64 t_le64(const void *p)
{
	__u64 le;

	memcpy(&le, p, 8);
	return (__s64)le64toh(le);
}

/* ---- LIST ---------------------------------------------------------------- */

static inline size_t t_rec_size(__u32 key_len)
{
	return (sizeof(struct stmdev_key_rec) + key_len + 7) & ~(size_t)7;
}

/*
 * Walk a buffer filled by LIST: calls fn for each of `count` records.
 * Returns the number of records walked, or -EPROTO if a record is
 * malformed or runs past `len`.
 */
static inline int t_list_walk(const void *buf, __u32 len, __u32 count,
				void (*fn)(const struct stmdev_key_rec *rec,
					   const unsigned char *key, void *arg),
				void *arg)
{
	const unsigned char *p = buf;
	size_t off = 0;
	__u32 i;

	for (i = 0; i < count; i++) {
		struct stmdev_key_rec rec;

		if (off + sizeof(rec) > len)
			return -EPROTO;
		memcpy(&rec, p + off, sizeof(rec));
		if (rec.key_len == 0 || rec.key_len > STMDEV_KEY_MAX ||
		    off + t_rec_size(rec.key_len) > len)
			return -EPROTO;
		if (fn)
			fn(&rec, p + off + sizeof(rec), arg);
		off += t_rec_size(rec.key_len);
	}
	return (int)i;
}

static inline int t_list(int fd, __u64 *cursor, void *buf, __u32 len,
			   __u32 *count)
{
	struct stmdev_list l;
	int ret;

	memset(&l, 0, sizeof(l));
	l.cursor = *cursor;
	l.addr = t_ptr(buf);
	l.len = len;
	ret = t_ioctl(fd, STMDEV_IOC_LIST, &l);
	if (ret == 0) {
		*cursor = l.cursor;
		*count = l.count;
	}
	return ret;
}

/* ---- a fingerprint of a store, to check that a failed call changed nothing */

#define STM_FP_KEYS 16

struct t_fp {
	__u64 keys, bytes, clock;
	__u64 commits;
	unsigned int nkeys;
	struct {
		bool present;
		__u64 version;
		__u32 len;
		__u64 hash;
	} k[STM_FP_KEYS];
};

static inline __u64 t_fnv(const void *p, size_t n)
{
	const unsigned char *c = p;
	__u64 h = 1469598103934665603ULL;

	while (n--) {
		h ^= *c++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* INFO + STATS.commits + a READ of each of the NUL-terminated keys. */
static inline int t_fingerprint(int fd, const char *const *keys,
				  unsigned int nkeys, struct t_fp *fp)
{
	struct stmdev_info info;
	struct stmdev_stats st;
	struct t_val v;
	unsigned int i;
	int ret;

	memset(fp, 0, sizeof(*fp));
	ret = t_info(fd, &info);
	if (ret < 0)
		return ret;
	ret = t_stats(fd, &st);
	if (ret < 0)
		return ret;
	fp->keys = info.keys;
	fp->bytes = info.bytes;
	fp->clock = info.clock;
	fp->commits = st.commits;
	fp->nkeys = nkeys < STM_FP_KEYS ? nkeys : STM_FP_KEYS;
	for (i = 0; i < fp->nkeys; i++) {
		struct stmdev_read_ent e;
		void *big;

		ret = t_get_str(fd, keys[i], &v);
		if (ret == -E2BIG) {
			/* larger than v.buf: read it again at its size */
			big = malloc(v.len);
			if (!big)
				return -ENOMEM;
			rent_init(&e, keys[i], strlen(keys[i]), big, v.len);
			ret = t_read(fd, &e, 1, NULL);
			if (ret == 0 && (e.version != v.version || e.val_len != v.len))
				ret = -EAGAIN;	/* changed between the reads */
			fp->k[i].hash = t_fnv(big, v.len);
			free(big);
		} else {
			fp->k[i].hash = t_fnv(v.buf, v.len);
		}
		if (ret < 0)
			return ret;
		fp->k[i].present = v.present;
		fp->k[i].version = v.version;
		fp->k[i].len = v.len;
	}
	return 0;
}

/*
 * 0 when equal, else 1 + the index of the first difference (for logs).
 * The commit clock is compared too (INFO shows it; a failed command
 * changes nothing): only use this where no other process commits, since
 * a commit that loses a race after taking its clock value may leave a gap.
 */
static inline int t_fp_diff(const struct t_fp *a, const struct t_fp *b)
{
	unsigned int i;

	if (a->keys != b->keys || a->bytes != b->bytes ||
	    a->clock != b->clock || a->commits != b->commits ||
	    a->nkeys != b->nkeys)
		return 1;
	for (i = 0; i < a->nkeys; i++)
		if (a->k[i].present != b->k[i].present ||
		    a->k[i].version != b->k[i].version ||
		    a->k[i].len != b->k[i].len || a->k[i].hash != b->k[i].hash)
			return 2 + (int)i;
	return 0;
}

/*
 * Checks for forked children, where ASSERT_* must not be used (it would
 * longjmp into the parent's copy of the test): print and return 1.
 */
#define CK_EQ(expected, seen) do {					\
	long long __e = (long long)(expected), __s = (long long)(seen);	\
	if (__e != __s) {						\
		fprintf(stderr, "# %s:%d: expected %s (%lld) == %s (%lld)\n", \
			__FILE__, __LINE__, #expected, __e, #seen, __s); \
		return 1;						\
	}								\
} while (0)

#define CK(cond) do {							\
	if (!(cond)) {							\
		fprintf(stderr, "# %s:%d: %s is false\n", __FILE__,	\
			__LINE__, #cond);				\
		return 1;						\
	}								\
} while (0)

/* ---- processes ----------------------------------------------------------- */

/* Anonymous shared memory, visible to forked children; NULL on failure. */
static inline void *t_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Fork a child that runs fn(arg, idx) and exits with its return value. */
static inline pid_t t_fork(int (*fn)(void *arg, int idx), void *arg, int idx)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg, idx) & 0xff);
	return pid;
}

/*
 * Wait for n children; returns how many did not exit with status 0
 * (a child killed by a signal counts as failed).
 */
static inline int t_wait_all(const pid_t *pids, int n)
{
	int i, bad = 0, status;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0) {
			bad++;
			continue;
		}
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "# child %d failed: status 0x%x\n",
				(int)pids[i], status);
			bad++;
		}
	}
	return bad;
}

/* Drop to uid/gid (with supplementary groups) for good: for forked children. */
static inline int t_become(uid_t uid, gid_t gid, int ngroups,
			     const gid_t *groups)
{
	if (setgroups(ngroups, groups) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

/*
 * Run fn(arg) in a child with the given credentials; returns the child's
 * exit status (fn's return value), or -1 if it could not run or died.
 */
static inline int t_run_as(uid_t uid, gid_t gid, int ngroups,
			     const gid_t *groups, int (*fn)(void *arg),
			     void *arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (t_become(uid, gid, ngroups, groups) < 0)
			_exit(200);
		_exit(fn(arg) & 0xff);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Pin the calling process to CPU (n modulo the CPUs it may use), so that
 * two processes really run at the same time instead of taking turns on
 * one CPU.  Best effort: a failure only loses parallelism.
 */
static inline void t_pin(int n)
{
	cpu_set_t all, one;
	int cpu, i = 0, want;

	if (sched_getaffinity(0, sizeof(all), &all) || CPU_COUNT(&all) < 2)
		return;
	want = n % CPU_COUNT(&all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		if (i++ == want) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			sched_setaffinity(0, sizeof(one), &one);
			return;
		}
	}
}

/* Small deterministic PRNG for children (xorshift64*). */
static inline __u64 t_rand(__u64 *s)
{
	__u64 x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

/* ---- module parameters --------------------------------------------------- */

/* Current value of /sys/module/stm/parameters/<name>, or -errno. */
static inline long long t_param_get(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), STM_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return strtoll(buf, NULL, 0);
}

/* Write a parameter; 0 or -errno (EACCES when it is read-only). */
static inline int t_param_set(const char *name, long long val)
{
	char path[128], buf[64];
	struct stat sb;
	ssize_t n;
	int fd, len;

	snprintf(path, sizeof(path), STM_PARAM_DIR "%s", name);
	if (stat(path, &sb) < 0)
		return -errno;
	if (!(sb.st_mode & S_IWUSR))
		return -EACCES;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld\n", val);
	n = write(fd, buf, len);
	close(fd);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

static inline bool t_param_writable(const char *name)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), STM_PARAM_DIR "%s", name);
	return stat(path, &sb) == 0 && (sb.st_mode & S_IWUSR);
}

#endif /* STM_TEST_UTIL_H */
