// SPDX-License-Identifier: GPL-2.0
/*
 * isolation_test.c - the isolation model of DESIGN.md §3c
 * (STMDEV_F_ISOLATION): ASCII-only names; per-user limits charged to a
 * store's owner (stores, keys, kernel memory: EDQUOT, nothing applied)
 * beneath the global and per-store ceilings (ENOSPC); wait and watch
 * entries charged to the fd and to the user who opened it, and given back
 * when a WAIT returns, a WATCH is replaced or the fd is closed; families
 * added only through a writable attachment; stores per network namespace,
 * freed (and their charge returned) when the namespace dies, which is when
 * its last process and its last fd are gone; INFO.charge against the
 * memory the kernel really spends (/proc/meminfo, with the pages on the
 * per-CPU free lists counted as free; skipped where KASAN, kmemleak or
 * slab debugging make the allocator spend more than its rounding).
 *
 * Other users are real processes ("actors": fork, setresuid to 4101...,
 * then run commands sent over a pipe), so every limit is met without any
 * capability; every assertion is made in the test process on the errno an
 * actor reports.  Needs root (to switch uids and write the module
 * parameters); every parameter changed is restored at teardown and at
 * exit.  Skips when the module lacks STMDEV_F_ISOLATION, and the namespace
 * tests when the kernel has no network namespaces.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define UID_A	4101
#define UID_B	4102
#define UID_C	4103

/* ---- module parameters: saved at start, restored at teardown and exit --- */

static const char *const params[] = {
	"max_stores_per_user", "max_keys_per_user", "max_mem_per_user",
	"max_waits_per_fd", "max_waits_per_user", "max_stores",
	"max_keys_per_store", "max_bytes_per_store", "max_keys_per_call",
	"max_value_size",
};
#define NPARAMS ARRAY_SIZE(params)

static long long orig[NPARAMS];

static void __attribute__((constructor(200))) save_params(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		orig[i] = t_param_get(params[i]);
}

static void restore_params(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (orig[i] > 0 && t_param_get(params[i]) != orig[i])
			t_param_set(params[i], orig[i]);
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	restore_params();
}

#define SET_PARAM(name, val) do {					\
	int __r = t_param_set(name, val);				\
	ASSERT_EQ(0, __r) TH_LOG("writing %s=%lld: %s", name,		\
				 (long long)(val), strerror(-__r));	\
	ASSERT_EQ((long long)(val), t_param_get(name));		\
} while (0)

/* ---- actors: a process of another uid, driven over a pipe ---------------- */

enum {
	A_EXIT, A_OPEN, A_ATTACH, A_OPEN_ATTACH, A_CLOSE, A_PUT, A_PUTN,
	A_DEL, A_INFO, A_GET, A_FAMILY, A_WATCH, A_WAIT, A_UNLINK, A_LIST,
};

struct act_cmd {
	int op;
	int slot;
	__u32 flags;
	__u32 mode;
	__u32 start;
	__u32 n;
	__u32 vlen;
	__u32 pad;
	__u64 version;
	__s64 timeout;
	char name[STMDEV_NAME_MAX];
};

struct act_reply {
	int ret;
	__u32 u32;
	__u64 u64;
	__u64 u64b;
	struct stmdev_info info;
};

#define ACT_NEWNET	1	/* unshare(CLONE_NEWNET) before dropping root */
#define ACT_PREOPEN	2	/* slot 0: /dev/stm opened first, as root */
#define ACT_DEAD	(-100000)	/* the actor is gone */
#define ACT_SLOTS	32
#define ACT_VAL_MAX	65536

struct actor {
	pid_t pid;
	int tx, rx;
};

static int act_fds[ACT_SLOTS];
static unsigned char act_val[ACT_VAL_MAX];

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	char *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int act_slot_new(int fd)
{
	int i;

	for (i = 0; i < ACT_SLOTS; i++)
		if (act_fds[i] < 0) {
			act_fds[i] = fd;
			return i;
		}
	close(fd);
	return -EMFILE;
}

/* Entries for n keys "<prefix><start+i>", all expecting `version`. */
static int wait_ents(struct stmdev_wait_ent **ents, char (**keys)[24],
		     const char *prefix, __u32 start, __u32 n, __u64 version)
{
	__u32 i;

	*ents = calloc(n ? n : 1, sizeof(**ents));
	*keys = calloc(n ? n : 1, sizeof(**keys));
	if (!*ents || !*keys) {
		free(*ents);
		free(*keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		snprintf((*keys)[i], sizeof((*keys)[i]), "%s%u", prefix, start + i);
		(*ents)[i].key_addr = t_ptr((*keys)[i]);
		(*ents)[i].key_len = strlen((*keys)[i]);
		(*ents)[i].version = version;
	}
	return 0;
}

/* WAIT on n keys "<prefix><i>"; *index (may be NULL) gets the out field. */
static int wait_n(int fd, const char *prefix, __u32 n, __u64 version,
		  __s64 timeout, __u32 *index)
{
	struct stmdev_wait_ent *ents;
	struct stmdev_wait w;
	char (*keys)[24];
	int ret;

	ret = wait_ents(&ents, &keys, prefix, 0, n, version);
	if (ret)
		return ret;
	memset(&w, 0, sizeof(w));
	w.entries = t_ptr(ents);
	w.count = n;
	w.timeout_ns = timeout;
	ret = t_ioctl(fd, STMDEV_IOC_WAIT, &w);
	if (index)
		*index = w.index;
	free(ents);
	free(keys);
	return ret;
}

/* WATCH n keys "<prefix><i>" (n = 0 clears). */
static int watch_n(int fd, const char *prefix, __u32 n, __u64 version)
{
	struct stmdev_wait_ent *ents;
	struct stmdev_watch w;
	char (*keys)[24];
	int ret;

	ret = wait_ents(&ents, &keys, prefix, 0, n, version);
	if (ret)
		return ret;
	memset(&w, 0, sizeof(w));
	w.entries = t_ptr(ents);
	w.count = n;
	ret = t_ioctl(fd, STMDEV_IOC_WATCH, &w);
	free(ents);
	free(keys);
	return ret;
}

/* One COMMIT putting n keys "<prefix><start+i>" with vlen-byte values. */
static int putn(int fd, const char *prefix, __u32 start, __u32 n, __u32 vlen,
		__u64 *version)
{
	struct stmdev_commit_ent *ents = calloc(n ? n : 1, sizeof(*ents));
	char (*keys)[24] = calloc(n ? n : 1, sizeof(*keys));
	__u32 i;
	int ret = -ENOMEM;

	if (ents && keys && vlen <= ACT_VAL_MAX) {
		for (i = 0; i < n; i++) {
			snprintf(keys[i], sizeof(keys[i]), "%s%u", prefix, start + i);
			cent_put(&ents[i], keys[i], strlen(keys[i]), act_val, vlen);
		}
		ret = t_commit(fd, ents, n, version, NULL);
	}
	free(ents);
	free(keys);
	return ret;
}

static int family(int fd, const char *name, __u32 *id)
{
	struct stmdev_family fam;
	int ret;

	memset(&fam, 0, sizeof(fam));
	memcpy(fam.name, name, strnlen(name, sizeof(fam.name) - 1));
	ret = t_ioctl(fd, STMDEV_IOC_FAMILY, &fam);
	if (id)
		*id = fam.id;
	return ret;
}

static int family_count(int fd)
{
	struct stmdev_family_ent ents[STMDEV_FAMILIES_MAX + 1];
	struct stmdev_family_stats fs;
	int ret;

	memset(&fs, 0, sizeof(fs));
	fs.addr = t_ptr(ents);
	fs.len = sizeof(ents);
	ret = t_ioctl(fd, STMDEV_IOC_FAMILY_STATS, &fs);
	return ret < 0 ? ret : (int)fs.count;
}

/*
 * LIST_STORES through fd (a fresh one when fd < 0): *count stores, *found
 * whether `name` is among them.
 */
static int list_stores(int fd, const char *name, __u64 *count, __u32 *found)
{
	struct stmdev_store_ent ent[16];
	struct stmdev_list_stores ls;
	int own = -1, calls, ret = 0;
	__u32 i;

	if (fd < 0) {
		fd = own = t_open();
		if (fd < 0)
			return fd;
	}
	*count = 0;
	*found = 0;
	memset(&ls, 0, sizeof(ls));
	for (calls = 0; calls < 10000; calls++) {
		ls.addr = t_ptr(ent);
		ls.len = sizeof(ent);
		ret = t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls);
		if (ret < 0)
			break;
		for (i = 0; i < ls.count && i < ARRAY_SIZE(ent); i++)
			if (!strncmp(ent[i].name, name, sizeof(ent[i].name)))
				(*found)++;
		*count += ls.count;
		if (!ls.cursor)
			break;
	}
	if (own >= 0)
		close(own);
	return ret;
}

static int act_do(const struct act_cmd *c, struct act_reply *r)
{
	int fd = (c->slot >= 0 && c->slot < ACT_SLOTS) ? act_fds[c->slot] : -1;
	struct t_val v;
	int ret;

	switch (c->op) {
	case A_OPEN:
		fd = t_open();
		return fd < 0 ? fd : act_slot_new(fd);
	case A_ATTACH:
		return t_attach(fd, c->name, c->flags, c->mode);
	case A_OPEN_ATTACH:
		fd = t_open_attach(c->name, c->flags, c->mode);
		return fd < 0 ? fd : act_slot_new(fd);
	case A_CLOSE:
		if (fd < 0)
			return -EBADF;
		close(fd);
		act_fds[c->slot] = -1;
		return 0;
	case A_PUT:
		return t_put(fd, c->name, strlen(c->name), act_val, c->vlen,
			       &r->u64);
	case A_PUTN:
		return putn(fd, c->name, c->start, c->n, c->vlen, &r->u64);
	case A_DEL:
		return t_del(fd, c->name, strlen(c->name), &r->u64);
	case A_INFO:
		return t_info(fd, &r->info);
	case A_GET:
		ret = t_get_str(fd, c->name, &v);
		r->u64 = v.version;
		r->u32 = v.present;
		r->u64b = v.len;
		return ret == -E2BIG ? 0 : ret;
	case A_FAMILY:
		return family(fd, c->name, &r->u32);
	case A_WATCH:
		return watch_n(fd, c->name, c->n, c->version);
	case A_WAIT:
		return wait_n(fd, c->name, c->n, c->version, c->timeout, &r->u32);
	case A_UNLINK:
		return t_unlink(c->name);
	case A_LIST:
		return list_stores(fd, c->name, &r->u64, &r->u32);
	}
	return -EINVAL;
}

static int act_main(int in, int out, uid_t uid, unsigned int flags,
		    pid_t parent)
{
	struct act_reply r;
	struct act_cmd c;
	int i, fd;

	for (i = 0; i < ACT_SLOTS; i++)
		act_fds[i] = -1;
	memset(act_val, 'v', sizeof(act_val));
	memset(&r, 0, sizeof(r));
	if (flags & ACT_PREOPEN) {
		fd = t_open();
		if (fd < 0)
			r.ret = fd;
		else
			act_fds[0] = fd;
	}
	if (!r.ret && (flags & ACT_NEWNET) && unshare(CLONE_NEWNET) < 0)
		r.ret = -errno;
	if (!r.ret && uid)
		r.ret = t_become(uid, uid, 0, NULL);
	/* after the uid change, which clears it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	/*
	 * Hold no fd of the test's but our own: an inherited /dev/stm fd
	 * would keep its store (and namespace) alive.
	 */
	for (fd = 3; fd < 1024; fd++)
		if (fd != in && fd != out && fd != act_fds[0])
			close(fd);
	if (full_io(out, &r, sizeof(r), true) || r.ret)
		return 1;
	while (!full_io(in, &c, sizeof(c), false) && c.op != A_EXIT) {
		memset(&r, 0, sizeof(r));
		r.ret = act_do(&c, &r);
		if (full_io(out, &r, sizeof(r), true))
			return 1;
	}
	return 0;
}

static void act_stop(struct actor *a)
{
	struct act_cmd c;
	int i, status;

	if (a->pid <= 0)
		return;
	memset(&c, 0, sizeof(c));
	c.op = A_EXIT;
	full_io(a->tx, &c, sizeof(c), true);
	close(a->tx);
	close(a->rx);
	for (i = 0; i < 1000; i++) {
		if (waitpid(a->pid, &status, WNOHANG) == a->pid)
			break;
		usleep(10000);
	}
	if (i == 1000) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &status, 0);
	}
	a->pid = 0;
}

/* Start an actor as uid (gid = uid; 0 stays root): 0 or its setup's -errno. */
static int act_start(struct actor *a, uid_t uid, unsigned int flags)
{
	int to[2], from[2];
	struct act_reply r;
	pid_t parent = getpid();

	memset(a, 0, sizeof(*a));
	if (pipe2(to, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	a->pid = fork();
	if (a->pid == 0) {
		close(to[1]);
		close(from[0]);
		_exit(act_main(to[0], from[1], uid, flags, parent));
	}
	close(to[0]);
	close(from[1]);
	a->tx = to[1];
	a->rx = from[0];
	if (a->pid < 0) {
		a->pid = 0;
		close(a->tx);
		close(a->rx);
		return -EAGAIN;
	}
	if (full_io(a->rx, &r, sizeof(r), false)) {
		act_stop(a);
		return ACT_DEAD;
	}
	if (r.ret)
		act_stop(a);
	return r.ret;
}

static int act(struct actor *a, struct act_cmd *c, struct act_reply *r)
{
	struct act_reply dummy;

	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	if (a->pid <= 0 || full_io(a->tx, c, sizeof(*c), true) ||
	    full_io(a->rx, r, sizeof(*r), false))
		r->ret = ACT_DEAD;
	return r->ret;
}

static struct act_cmd cmd(int op, int slot, const char *name)
{
	struct act_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.slot = slot;
	if (name)
		snprintf(c.name, sizeof(c.name), "%s", name);
	return c;
}

/* Open + ATTACH: the actor's slot for the fd, or -errno. */
static int a_open_attach(struct actor *a, const char *name, __u32 flags,
			 __u32 mode)
{
	struct act_cmd c = cmd(A_OPEN_ATTACH, -1, name);

	c.flags = flags;
	c.mode = mode;
	return act(a, &c, NULL);
}

static int a_attach(struct actor *a, int slot, const char *name, __u32 flags,
		    __u32 mode)
{
	struct act_cmd c = cmd(A_ATTACH, slot, name);

	c.flags = flags;
	c.mode = mode;
	return act(a, &c, NULL);
}

static int a_close(struct actor *a, int slot)
{
	struct act_cmd c = cmd(A_CLOSE, slot, NULL);

	return act(a, &c, NULL);
}

static int a_put(struct actor *a, int slot, const char *key, __u32 vlen,
		 __u64 *version)
{
	struct act_cmd c = cmd(A_PUT, slot, key);
	struct act_reply r;
	int ret;

	c.vlen = vlen;
	ret = act(a, &c, &r);
	if (version)
		*version = r.u64;
	return ret;
}

/* One commit of n keys "<prefix><start..start+n)". */
static int a_putn(struct actor *a, int slot, const char *prefix, __u32 start,
		  __u32 n, __u32 vlen)
{
	struct act_cmd c = cmd(A_PUTN, slot, prefix);

	c.start = start;
	c.n = n;
	c.vlen = vlen;
	return act(a, &c, NULL);
}

static int a_del(struct actor *a, int slot, const char *key)
{
	struct act_cmd c = cmd(A_DEL, slot, key);

	return act(a, &c, NULL);
}

static int a_info(struct actor *a, int slot, struct stmdev_info *info)
{
	struct act_cmd c = cmd(A_INFO, slot, NULL);
	struct act_reply r;
	int ret = act(a, &c, &r);

	*info = r.info;
	return ret;
}

/* The key's version (0 when absent) and value length. */
static int a_get(struct actor *a, int slot, const char *key, __u64 *version,
		 __u32 *len)
{
	struct act_cmd c = cmd(A_GET, slot, key);
	struct act_reply r;
	int ret = act(a, &c, &r);

	*version = r.u32 ? r.u64 : 0;
	if (len)
		*len = r.u64b;
	return ret;
}

static int a_family(struct actor *a, int slot, const char *name, __u32 *id)
{
	struct act_cmd c = cmd(A_FAMILY, slot, name);
	struct act_reply r;
	int ret = act(a, &c, &r);

	if (id)
		*id = r.u32;
	return ret;
}

static int a_watch(struct actor *a, int slot, const char *prefix, __u32 n,
		   __u64 version)
{
	struct act_cmd c = cmd(A_WATCH, slot, prefix);

	c.n = n;
	c.version = version;
	return act(a, &c, NULL);
}

static int a_wait(struct actor *a, int slot, const char *prefix, __u32 n,
		  __u64 version, __s64 timeout, __u32 *index)
{
	struct act_cmd c = cmd(A_WAIT, slot, prefix);
	struct act_reply r;
	int ret;

	c.n = n;
	c.version = version;
	c.timeout = timeout;
	ret = act(a, &c, &r);
	if (index)
		*index = r.u32;
	return ret;
}

static int a_unlink(struct actor *a, const char *name)
{
	struct act_cmd c = cmd(A_UNLINK, -1, name);

	return act(a, &c, NULL);
}

/* LIST_STORES through slot (a fresh fd when slot < 0). */
static int a_list(struct actor *a, int slot, const char *name, __u64 *count,
		  __u32 *found)
{
	struct act_cmd c = cmd(A_LIST, slot, name);
	struct act_reply r;
	int ret = act(a, &c, &r);

	*count = r.u64;
	*found = r.u32;
	return ret;
}

/* ---- the fixture --------------------------------------------------------- */

#define MAX_ACTORS	4
#define MAX_NAMES	16

FIXTURE(iso) {
	struct actor act[MAX_ACTORS];
	char names[MAX_NAMES][STMDEV_NAME_MAX];
	int nnames;
	int fd;
	pid_t kid;		/* a forked helper, killed at teardown */
	__u64 features;
};

FIXTURE_SETUP(iso)
{
	struct stmdev_features f;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	self->fd = -1;
	fd = t_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_features(fd, &f));
	close(fd);
	self->features = f.features;
}

FIXTURE_TEARDOWN(iso)
{
	int i;

	for (i = 0; i < MAX_ACTORS; i++)
		act_stop(&self->act[i]);
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	restore_params();
	if (self->fd >= 0)
		close(self->fd);
	for (i = 0; i < self->nnames; i++)
		t_unlink(self->names[i]);
}

/* Every test starts with this: skips without the feature or root. */
#define PRE() do {							\
	if (!(self->features & STMDEV_F_ISOLATION))			\
		SKIP(return, "no STMDEV_F_ISOLATION in GET_FEATURES");	\
	if (geteuid() != 0)						\
		SKIP(return, "needs root to switch uids");		\
} while (0)

/* A fresh store name, unlinked (as root, in this namespace) at teardown. */
static const char *new_name(FIXTURE_DATA(iso) *self, const char *tag)
{
	char *n = self->names[self->nnames < MAX_NAMES ? self->nnames++ :
			      MAX_NAMES - 1];

	t_name(n, STMDEV_NAME_MAX, tag);
	return n;
}

#define START(i, uid, flags) do {					\
	int __r = act_start(&self->act[i], uid, flags);			\
	ASSERT_EQ(0, __r) TH_LOG("starting actor %d as uid %d: %d",	\
				 i, (int)(uid), __r);			\
} while (0)

/* ---- 1. names ------------------------------------------------------------ */

static int attach_raw(int fd, const char *name, size_t len, __u32 flags)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, len);
	a.flags = flags;
	a.mode = 0600;
	return t_ioctl(fd, STMDEV_IOC_ATTACH, &a);
}

TEST_F(iso, names_are_ascii)
{
	static const char *const bad[] = {
		"caf\xe9", "a\x80" "b", "\xff", "\xc3\xa9t\xc3\xa9",
		"a b", "a/b", "tab\tname",
	};
	const __u32 creat = STMDEV_ATTACH_CREAT;
	char ok[STMDEV_NAME_MAX];
	struct stmdev_unlink u;
	struct stmdev_info info;
	__u64 count0, count1;
	__u32 found, id;
	unsigned int i;
	int fd;

	PRE();
	ASSERT_EQ(0, list_stores(-1, "", &count0, &found));
	fd = t_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, attach_raw(fd, bad[i], strlen(bad[i]), creat))
			TH_LOG("name %u", i);
		EXPECT_EQ(-EINVAL, attach_raw(fd, bad[i], strlen(bad[i]), 0))
			TH_LOG("name %u", i);
		memset(&u, 0, sizeof(u));
		memcpy(u.name, bad[i], strlen(bad[i]));
		EXPECT_EQ(-EINVAL, t_ioctl(fd, STMDEV_IOC_UNLINK, &u));
	}
	/* none of them was created, and the fd is still free */
	ASSERT_EQ(0, list_stores(-1, "", &count1, &found));
	EXPECT_EQ(count0, count1);
	EXPECT_EQ(-ENOTCONN, t_info(fd, &info));

	/* every allowed character */
	snprintf(ok, sizeof(ok), "ok.name_-9.%d", (int)getpid());
	snprintf(self->names[self->nnames++], STMDEV_NAME_MAX, "%s", ok);
	ASSERT_EQ(0, attach_raw(fd, ok, strlen(ok), creat | STMDEV_ATTACH_EXCL));
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_STREQ(ok, info.name);

	/* family names: the same alphabet, 1..31 bytes */
	EXPECT_EQ(-EINVAL, family(fd, "f\xe9", NULL));
	EXPECT_EQ(-EINVAL, family(fd, "\x80", NULL));
	EXPECT_EQ(-EINVAL, family(fd, "", NULL));
	EXPECT_EQ(-EINVAL, family(fd, "f g", NULL));
	EXPECT_EQ(0, family_count(fd));
	ASSERT_EQ(0, family(fd, "Fam.ok_-1", &id));
	EXPECT_EQ(1U, id);
	EXPECT_EQ(1, family_count(fd));
	close(fd);
}

/* ---- 2. stores per user -------------------------------------------------- */

TEST_F(iso, stores_per_user)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *A = &self->act[0], *B = &self->act[1];
	const char *an[4], *bn[4];
	struct stmdev_info info;
	int as[3], bs[3], s, i, fd;
	__u64 v1, v2;
	__u32 index, id;

	PRE();
	for (i = 0; i < 4; i++) {
		an[i] = new_name(self, "uA");
		bn[i] = new_name(self, "uB");
	}
	SET_PARAM("max_stores_per_user", 3);
	START(0, UID_A, 0);
	START(1, UID_B, 0);

	for (i = 0; i < 3; i++) {
		as[i] = a_open_attach(A, an[i], cx, 0644);
		ASSERT_LE(0, as[i]) TH_LOG("A's store %d: %d", i, as[i]);
	}
	ASSERT_EQ(-EDQUOT, a_open_attach(A, an[3], cx, 0644));
	ASSERT_EQ(-EDQUOT, a_open_attach(A, an[3], STMDEV_ATTACH_CREAT, 0644));
	/* the refused store does not exist */
	EXPECT_EQ(-ENOENT, t_open_attach(an[3], 0, 0));
	/* CREAT of an existing store attaches, at the limit */
	s = a_open_attach(A, an[1], STMDEV_ATTACH_CREAT, 0644);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, a_info(A, s, &info));
	EXPECT_STREQ(an[1], info.name);
	EXPECT_EQ((__u32)UID_A, info.uid);
	EXPECT_EQ(0, a_put(A, s, "k", 3, NULL));
	EXPECT_EQ(0, a_close(A, s));
	/* CREAT|EXCL of an existing one says it exists */
	EXPECT_EQ(-EEXIST, a_open_attach(A, an[1], cx, 0644));
	/* and attaching without CREAT is not limited either */
	s = a_open_attach(A, an[2], STMDEV_ATTACH_RDONLY, 0);
	EXPECT_LE(0, s);
	if (s >= 0)
		a_close(A, s);
	/* A's stores work */
	EXPECT_EQ(0, a_putn(A, as[0], "k", 0, 10, 8));

	/* B is not affected by A's limit */
	for (i = 0; i < 3; i++) {
		bs[i] = a_open_attach(B, bn[i], cx, 0600);
		ASSERT_LE(0, bs[i]) TH_LOG("B's store %d: %d", i, bs[i]);
	}
	EXPECT_EQ(-EDQUOT, a_open_attach(B, bn[3], cx, 0600));
	ASSERT_EQ(0, a_put(B, bs[0], "k0", 10, &v1));
	ASSERT_EQ(0, a_putn(B, bs[1], "k", 0, 20, 30));
	ASSERT_EQ(0, a_family(B, bs[0], "fam", &id));
	EXPECT_EQ(1U, id);
	EXPECT_EQ(-ETIMEDOUT, a_wait(B, bs[0], "k", 1, v1, 0, NULL));
	EXPECT_EQ(0, a_wait(B, bs[0], "k", 1, v1 - 1, 0, &index));
	EXPECT_EQ(0U, index);
	EXPECT_EQ(0, a_watch(B, bs[0], "k", 1, v1));
	ASSERT_EQ(0, a_put(B, bs[0], "k0", 10, &v2));
	EXPECT_LT(v1, v2);

	/* a store given back (closed, then unlinked) makes room */
	EXPECT_EQ(-EDQUOT, a_open_attach(A, an[3], cx, 0644));
	ASSERT_EQ(0, a_close(A, as[0]));
	ASSERT_EQ(0, a_unlink(A, an[0]));
	s = a_open_attach(A, an[3], cx, 0644);
	ASSERT_LE(0, s);
	EXPECT_EQ(-EDQUOT, a_open_attach(A, an[0], cx, 0644));

	/* root (another user again) is not refused by A's count */
	fd = t_open_attach(an[0], cx, 0600);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
}

/* ---- 3. keys per user ---------------------------------------------------- */

TEST_F(iso, keys_per_user)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *A = &self->act[0], *B = &self->act[1];
	struct stmdev_info i1, i2, after;
	const char *a1, *a2, *b1;
	int s1, s2, sb, sbo;
	__u64 ver24, ver, ver1;
	__u32 len;

	PRE();
	a1 = new_name(self, "kA1");
	a2 = new_name(self, "kA2");
	b1 = new_name(self, "kB");
	SET_PARAM("max_keys_per_user", 50);
	START(0, UID_A, 0);
	START(1, UID_B, 0);

	s1 = a_open_attach(A, a1, cx, 0666);
	s2 = a_open_attach(A, a2, cx, 0666);
	ASSERT_LE(0, s1);
	ASSERT_LE(0, s2);
	ASSERT_EQ(0, a_putn(A, s1, "k", 0, 25, 4));
	ASSERT_EQ(0, a_putn(A, s2, "k", 0, 25, 4));

	/* the 51st key, in either store */
	ASSERT_EQ(0, a_info(A, s1, &i1));
	ASSERT_EQ(0, a_info(A, s2, &i2));
	ASSERT_EQ(0, a_get(A, s2, "k24", &ver24, NULL));
	ASSERT_NE(0ULL, ver24);
	EXPECT_EQ(-EDQUOT, a_put(A, s1, "k25", 4, NULL));
	EXPECT_EQ(-EDQUOT, a_put(A, s2, "k25", 4, NULL));
	/* an overwrite in the same commit is not applied either */
	EXPECT_EQ(-EDQUOT, a_putn(A, s2, "k", 24, 2, 9));
	ASSERT_EQ(0, a_info(A, s2, &after));
	EXPECT_EQ(i2.keys, after.keys);
	EXPECT_EQ(i2.bytes, after.bytes);
	EXPECT_EQ(i2.clock, after.clock);
	EXPECT_EQ(i2.charge, after.charge);
	ASSERT_EQ(0, a_get(A, s2, "k24", &ver, &len));
	EXPECT_EQ(ver24, ver);
	EXPECT_EQ(4U, len);
	ASSERT_EQ(0, a_get(A, s2, "k25", &ver, NULL));
	EXPECT_EQ(0ULL, ver);
	ASSERT_EQ(0, a_info(A, s1, &after));
	EXPECT_EQ(i1.keys, after.keys);
	EXPECT_EQ(i1.clock, after.clock);

	/* overwriting at the limit is fine, whatever the size */
	EXPECT_EQ(0, a_put(A, s1, "k0", 4, NULL));
	EXPECT_EQ(0, a_put(A, s1, "k1", 40, NULL));
	/* a delete makes room for one key */
	ASSERT_EQ(0, a_del(A, s1, "k2"));
	ASSERT_EQ(0, a_put(A, s2, "k25", 4, NULL));
	EXPECT_EQ(-EDQUOT, a_put(A, s1, "k2", 4, NULL));

	/* B writing a new key into A's store: charged to A, the owner */
	sbo = a_open_attach(B, a1, 0, 0);
	ASSERT_LE(0, sbo);
	ASSERT_EQ(0, a_get(B, sbo, "k1", &ver1, NULL));
	EXPECT_EQ(-EDQUOT, a_put(B, sbo, "fromB", 4, NULL));
	ASSERT_EQ(0, a_get(B, sbo, "fromB", &ver, NULL));
	EXPECT_EQ(0ULL, ver);
	/* an overwrite by B is fine */
	EXPECT_EQ(0, a_put(B, sbo, "k1", 4, &ver));
	EXPECT_LT(ver1, ver);
	ASSERT_EQ(0, a_info(B, sbo, &after));
	EXPECT_EQ(i1.keys - 1, after.keys);
	EXPECT_EQ((__u32)UID_A, after.uid);
	/* B's own store takes keys: B has its own count */
	sb = a_open_attach(B, b1, cx, 0600);
	ASSERT_LE(0, sb);
	EXPECT_EQ(0, a_putn(B, sb, "k", 0, 40, 4));
	/* a key of A's given back lets B's write into A's store in */
	ASSERT_EQ(0, a_del(A, s2, "k0"));
	EXPECT_EQ(0, a_put(B, sbo, "fromB", 4, NULL));
	EXPECT_EQ(-EDQUOT, a_put(A, s1, "k2", 4, NULL));
}

/* ---- 4. kernel memory per user ------------------------------------------- */

#define VAL16K	16384

/* Fill slot with 16 KiB values until EDQUOT; returns how many went in. */
static int fill_16k(struct __test_metadata *_metadata, struct actor *a,
		    int slot, const char *tag)
{
	struct stmdev_info before, after;
	char key[32];
	int i, ret = 0;

	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "v%d", i);
		EXPECT_EQ(0, a_info(a, slot, &before));
		ret = a_put(a, slot, key, VAL16K, NULL);
		EXPECT_EQ(0, a_info(a, slot, &after));
		if (ret) {
			/* refused: nothing changed */
			EXPECT_EQ(before.keys, after.keys);
			EXPECT_EQ(before.charge, after.charge);
			EXPECT_EQ(before.clock, after.clock);
			break;
		}
		EXPECT_LE(before.charge + VAL16K, after.charge)
			TH_LOG("%s: value %d: charge %llu -> %llu", tag, i,
			       (unsigned long long)before.charge,
			       (unsigned long long)after.charge);
	}
	EXPECT_EQ(-EDQUOT, ret) TH_LOG("%s: after %d values", tag, i);
	TH_LOG("%s: %d values of 16 KiB, charge %llu", tag, i,
	       (unsigned long long)after.charge);
	return i;
}

TEST_F(iso, memory_per_user)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *A = &self->act[0], *B = &self->act[1];
	const long long max = 1 << 20;
	const char *a1, *a2, *b1;
	struct stmdev_info info;
	struct stmdev_stats st;
	int s, sb, n, i, fd;
	char key[32];

	PRE();
	a1 = new_name(self, "mA");
	a2 = new_name(self, "mA2");
	b1 = new_name(self, "mB");
	/* the bounds: at least 64 KiB */
	EXPECT_EQ(-EINVAL, t_param_set("max_mem_per_user", 65535));
	SET_PARAM("max_mem_per_user", max);
	START(0, UID_A, 0);
	START(1, UID_B, 0);

	s = a_open_attach(A, a1, cx, 0644);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, a_info(A, s, &info));
	/* an empty store costs something, and STATS agrees with INFO */
	EXPECT_LT(0ULL, info.charge);
	fd = t_open_attach(a1, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_stats(fd, &st));
	EXPECT_EQ(info.charge, st.charge);
	close(fd);

	n = fill_16k(_metadata, A, s, "A");
	ASSERT_LE(8, n);
	ASSERT_GE(64, n);
	ASSERT_EQ(0, a_info(A, s, &info));
	EXPECT_GE((__u64)max, info.charge);
	EXPECT_LT((__u64)max / 2, info.charge);
	/* another store of A's shares the same budget */
	i = a_open_attach(A, a2, cx, 0644);
	if (i >= 0) {
		EXPECT_EQ(-EDQUOT, a_put(A, i, "x", VAL16K, NULL));
		a_close(A, i);
		a_unlink(A, a2);
	} else {
		EXPECT_EQ(-EDQUOT, i);
	}

	/* B is unaffected */
	sb = a_open_attach(B, b1, cx, 0644);
	ASSERT_LE(0, sb);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		EXPECT_EQ(0, a_put(B, sb, key, VAL16K, NULL));
	}

	/* A gives its store back: the same fill goes in again */
	ASSERT_EQ(0, a_close(A, s));
	ASSERT_EQ(0, a_unlink(A, a1));
	s = a_open_attach(A, a1, cx, 0644);
	ASSERT_LE(0, s);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "v%d", i);
		ASSERT_EQ(0, a_put(A, s, key, VAL16K, NULL)) TH_LOG("value %d", i);
	}
}

/* ---- per-store and global limits stay ENOSPC ---------------------------- */

TEST_F(iso, store_and_global_limits_are_enospc)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *A = &self->act[0];
	const char *a1, *a2;
	__u64 count;
	__u32 found;
	int s;

	PRE();
	a1 = new_name(self, "gA1");
	a2 = new_name(self, "gA2");
	START(0, UID_A, 0);
	s = a_open_attach(A, a1, cx, 0600);
	ASSERT_LE(0, s);

	/* per store under per user: ENOSPC */
	SET_PARAM("max_keys_per_store", 5);
	SET_PARAM("max_keys_per_user", 100);
	ASSERT_EQ(0, a_putn(A, s, "k", 0, 5, 1));
	EXPECT_EQ(-ENOSPC, a_put(A, s, "k5", 1, NULL));
	/* per user under per store: EDQUOT */
	SET_PARAM("max_keys_per_store", 100);
	SET_PARAM("max_keys_per_user", 5);
	EXPECT_EQ(-EDQUOT, a_put(A, s, "k5", 1, NULL));
	SET_PARAM("max_keys_per_user", 6);
	EXPECT_EQ(0, a_put(A, s, "k5", 1, NULL));

	/* bytes per store: ENOSPC, not EDQUOT */
	SET_PARAM("max_keys_per_user", 100);
	SET_PARAM("max_bytes_per_store", 100);
	EXPECT_EQ(-ENOSPC, a_put(A, s, "big", 200, NULL));

	/*
	 * max_stores, all users: ENOSPC even far below A's own limit.  The
	 * stores root sees are at most those that exist (others may be
	 * unlinked but open, or in other namespaces).
	 */
	ASSERT_EQ(0, list_stores(-1, "", &count, &found));
	SET_PARAM("max_stores_per_user", 32);
	SET_PARAM("max_stores", count);
	EXPECT_EQ(-ENOSPC, a_open_attach(A, a2, cx, 0600));
	EXPECT_EQ(-ENOENT, t_open_attach(a2, 0, 0));
	SET_PARAM("max_stores", count + 64);
	s = a_open_attach(A, a2, cx, 0600);
	EXPECT_LE(0, s);
}

/* ---- 5. wait and watch entries ------------------------------------------- */

TEST_F(iso, waits_per_fd)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	const char *name = new_name(self, "wfd");
	struct stmdev_stats st;
	__u32 index;
	int fd, fd2, i, status;
	pid_t pid;

	PRE();
	self->fd = fd = t_open_attach(name, cx, 0600);
	ASSERT_LE(0, fd);
	SET_PARAM("max_waits_per_fd", 8);

	EXPECT_EQ(-ENOSPC, wait_n(fd, "k", 9, 0, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd, "k", 8, 0, 0, NULL));
	EXPECT_EQ(0, wait_n(fd, "k", 8, 12345, 0, &index));
	EXPECT_EQ(0U, index);
	EXPECT_EQ(-ENOSPC, watch_n(fd, "k", 9, 0));
	/* a returned WAIT gave its entries back */
	ASSERT_EQ(0, watch_n(fd, "k", 8, 0));
	EXPECT_EQ(-ENOSPC, wait_n(fd, "k", 1, 0, 0, NULL));
	EXPECT_EQ(-ENOSPC, wait_n(fd, "k", 1, 12345, 0, NULL));
	/* the limit is per fd: another fd of the same user is free */
	fd2 = t_open_attach(name, 0, 0);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd2, "k", 8, 0, 0, NULL));
	EXPECT_EQ(0, watch_n(fd2, "k", 8, 0));
	close(fd2);
	/* a cleared WATCH gives its entries back */
	ASSERT_EQ(0, watch_n(fd, "k", 0, 0));
	EXPECT_EQ(0, wait_n(fd, "k", 1, 12345, 0, &index));
	EXPECT_EQ(0, wait_n(fd, "k", 8, 12345, 0, &index));
	ASSERT_EQ(0, watch_n(fd, "k", 3, 0));
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd, "k", 5, 0, 0, NULL));
	EXPECT_EQ(-ENOSPC, wait_n(fd, "k", 6, 0, 0, NULL));
	ASSERT_EQ(0, watch_n(fd, "k", 0, 0));

	/* a sleeping WAIT holds its entries until it returns */
	ASSERT_EQ(0, t_stats(fd, &st));
	ASSERT_EQ(0ULL, st.waits);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* the same open file: the same fd charge */
		_exit(wait_n(fd, "b", 5, 0, 60LL * 1000000000, NULL) ? 1 : 0);
	}
	self->kid = pid;
	for (i = 0; i < 4000; i++) {
		if (t_stats(fd, &st) || st.waits >= 1)
			break;
		usleep(5000);
	}
	ASSERT_LE(1ULL, st.waits) TH_LOG("the waiter never slept");
	EXPECT_EQ(-ENOSPC, wait_n(fd, "k", 4, 0, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd, "k", 3, 0, 0, NULL));
	EXPECT_EQ(-ENOSPC, watch_n(fd, "k", 4, 0));
	ASSERT_EQ(0, t_put_str(fd, "b0", "wake", NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->kid = 0;
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd, "k", 8, 0, 0, NULL));
	EXPECT_EQ(0, watch_n(fd, "k", 8, 0));
}

/*
 * WATCH replaces the fd's watch set: a full set replaced by another full
 * one must fit, since the old entries are dropped by the same call.
 */
TEST_F(iso, watch_replace_at_limit)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	const char *name = new_name(self, "wrep");
	int fd;

	PRE();
	self->fd = fd = t_open_attach(name, cx, 0600);
	ASSERT_LE(0, fd);
	SET_PARAM("max_waits_per_fd", 8);
	ASSERT_EQ(0, watch_n(fd, "k", 8, 0));
	EXPECT_EQ(0, watch_n(fd, "j", 8, 0));
	EXPECT_EQ(0, watch_n(fd, "k", 5, 0));
	EXPECT_EQ(0, watch_n(fd, "k", 8, 0));
	ASSERT_EQ(0, watch_n(fd, "k", 0, 0));
	EXPECT_EQ(-ETIMEDOUT, wait_n(fd, "k", 8, 0, 0, NULL));
}

/* The same for the per-user count. */
TEST_F(iso, watch_replace_at_user_limit)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	const char *name = new_name(self, "wrepu");
	struct actor *A = &self->act[0];
	int s;

	PRE();
	self->fd = t_open_attach(name, cx, 0666);
	ASSERT_LE(0, self->fd);
	SET_PARAM("max_waits_per_user", 10);
	START(0, UID_A, 0);
	s = a_open_attach(A, name, 0, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, a_watch(A, s, "k", 10, 0));
	EXPECT_EQ(0, a_watch(A, s, "j", 10, 0));
	EXPECT_EQ(0, a_watch(A, s, "k", 7, 0));
	EXPECT_EQ(0, a_watch(A, s, "k", 10, 0));
	ASSERT_EQ(0, a_watch(A, s, "k", 0, 0));
	EXPECT_EQ(-ETIMEDOUT, a_wait(A, s, "k", 10, 0, 0, NULL));
}

TEST_F(iso, waits_per_user)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *A = &self->act[0], *B = &self->act[1];
	const char *name = new_name(self, "wuser");
	int a1, a2, b1;

	PRE();
	self->fd = t_open_attach(name, cx, 0666);
	ASSERT_LE(0, self->fd);
	SET_PARAM("max_waits_per_user", 10);
	/* A's slot 0 is an fd root opened: charged to root */
	START(0, UID_A, ACT_PREOPEN);
	START(1, UID_B, 0);

	a1 = a_open_attach(A, name, 0, 0);
	a2 = a_open_attach(A, name, 0, 0);
	b1 = a_open_attach(B, name, 0, 0);
	ASSERT_LE(0, a1);
	ASSERT_LE(0, a2);
	ASSERT_LE(0, b1);
	ASSERT_EQ(0, a_attach(A, 0, name, 0, 0));

	ASSERT_EQ(0, a_watch(A, a1, "k", 6, 0));
	EXPECT_EQ(-EDQUOT, a_watch(A, a2, "k", 6, 0));
	EXPECT_EQ(-EDQUOT, a_wait(A, a2, "k", 5, 0, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, a_wait(A, a2, "k", 4, 0, 0, NULL));
	EXPECT_EQ(0, a_wait(A, a2, "k", 4, 7, 0, NULL));
	/* B is not affected */
	EXPECT_EQ(0, a_watch(B, b1, "k", 6, 0));
	EXPECT_EQ(-ETIMEDOUT, a_wait(B, b1, "k", 4, 0, 0, NULL));
	/* an fd is charged to whoever opened it, not to its user */
	EXPECT_EQ(0, a_watch(A, 0, "k", 6, 0));
	/* a replaced watch set is given back */
	ASSERT_EQ(0, a_watch(A, a1, "k", 2, 0));
	EXPECT_EQ(0, a_watch(A, a2, "k", 6, 0));
	EXPECT_EQ(-EDQUOT, a_wait(A, a1, "k", 3, 0, 0, NULL));
	/* closing an fd gives its entries back */
	ASSERT_EQ(0, a_close(A, a2));
	ASSERT_EQ(0, a_watch(A, a1, "k", 0, 0));
	EXPECT_EQ(0, a_watch(A, a1, "k", 10, 0));
	EXPECT_EQ(-EDQUOT, a_wait(A, a1, "k", 1, 0, 0, NULL));
	EXPECT_EQ(-EDQUOT, a_watch(A, a2 = a_open_attach(A, name, 0, 0), "k", 1, 0));
	/* root's fd still has its 6 */
	EXPECT_EQ(-ETIMEDOUT, a_wait(A, 0, "k", 4, 0, 0, NULL));
}

/* ---- 6. families through a read-only attachment -------------------------- */

TEST_F(iso, families_read_only)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *B = &self->act[1];
	const char *name = new_name(self, "fam");
	char fam[32];
	__u32 id, id2;
	int w, r, bs, i;

	PRE();
	self->fd = w = t_open_attach(name, cx, 0644);
	ASSERT_LE(0, w);
	r = t_open_attach(name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, r);

	ASSERT_EQ(0, family(w, "w1", &id));
	EXPECT_EQ(1U, id);
	ASSERT_EQ(0, family(r, "w1", &id2));
	EXPECT_EQ(id, id2);
	EXPECT_EQ(-EBADF, family(r, "new", NULL));
	EXPECT_EQ(1, family_count(r));
	EXPECT_EQ(1, family_count(w));

	/* another user with only read permission: the same */
	START(1, UID_B, 0);
	EXPECT_EQ(-EACCES, a_open_attach(B, name, 0, 0));
	bs = a_open_attach(B, name, STMDEV_ATTACH_RDONLY, 0);
	ASSERT_LE(0, bs);
	EXPECT_EQ(0, a_family(B, bs, "w1", &id2));
	EXPECT_EQ(id, id2);
	EXPECT_EQ(-EBADF, a_family(B, bs, "fromB", NULL));

	/* the writer fills the table: 64 names, the 65th is refused */
	for (i = 2; i <= STMDEV_FAMILIES_MAX; i++) {
		snprintf(fam, sizeof(fam), "w%d", i);
		ASSERT_EQ(0, family(w, fam, &id));
		EXPECT_EQ((__u32)i, id);
	}
	EXPECT_EQ(-ENOSPC, family(w, "w65", NULL));
	EXPECT_EQ(-EBADF, family(r, "w65", NULL));
	EXPECT_EQ(0, family(r, "w64", &id));
	EXPECT_EQ(64U, id);
	EXPECT_EQ(0, a_family(B, bs, "w33", &id));
	EXPECT_EQ(33U, id);
	EXPECT_EQ(STMDEV_FAMILIES_MAX, family_count(r));
	close(r);
}

/* ---- 7. stores per network namespace ------------------------------------- */

#define NEWNET_OR_SKIP(i, uid, flags) do {				\
	int __r = act_start(&self->act[i], uid, flags);			\
	if (__r == -EINVAL || __r == -ENOSYS)				\
		SKIP(return, "unshare(CLONE_NEWNET): %s (no CONFIG_NET_NS?)", \
		     strerror(-__r));					\
	ASSERT_EQ(0, __r) TH_LOG("starting actor %d in a new netns: %d", \
				 i, __r);				\
} while (0)

TEST_F(iso, stores_per_net_namespace)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *N = &self->act[0];
	const char *x = new_name(self, "nsX");
	const char *y = new_name(self, "nsY");
	struct stmdev_info info, pinfo;
	__u64 pver, ver, count;
	__u32 found, len;
	struct t_val v;
	int fd, fy, s, s0;

	PRE();
	self->fd = fd = t_open_attach(x, cx, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put_str(fd, "k", "parent", &pver));
	fy = t_open_attach(y, cx, 0600);
	ASSERT_LE(0, fy);
	close(fy);

	/* root, in a new network namespace; slot 0 opened before unshare */
	NEWNET_OR_SKIP(0, 0, ACT_NEWNET | ACT_PREOPEN);

	EXPECT_EQ(-ENOENT, a_open_attach(N, x, 0, 0));
	EXPECT_EQ(-ENOENT, a_open_attach(N, y, STMDEV_ATTACH_RDONLY, 0));
	EXPECT_EQ(-ENOENT, a_unlink(N, y));
	ASSERT_EQ(0, a_list(N, -1, x, &count, &found));
	EXPECT_EQ(0ULL, count);
	EXPECT_EQ(0U, found);

	/* the same name there is another store */
	s = a_open_attach(N, x, cx, 0600);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, a_info(N, s, &info));
	EXPECT_EQ(0ULL, info.keys);
	EXPECT_EQ(0U, info.uid);
	EXPECT_EQ(0600U, info.mode);
	ASSERT_EQ(0, a_put(N, s, "k", 5, NULL));
	ASSERT_EQ(0, a_put(N, s, "k2", 5, NULL));
	ASSERT_EQ(0, a_list(N, -1, x, &count, &found));
	EXPECT_EQ(1ULL, count);
	EXPECT_EQ(1U, found);

	/* the parent's X is unchanged */
	ASSERT_EQ(0, t_info(fd, &pinfo));
	EXPECT_EQ(1ULL, pinfo.keys);
	EXPECT_EQ(0644U, pinfo.mode);
	ASSERT_EQ(0, t_get_str(fd, "k", &v));
	EXPECT_EQ(pver, v.version);
	EXPECT_EQ(6U, v.len);
	ASSERT_EQ(0, t_get_str(fd, "k2", &v));
	EXPECT_FALSE(v.present);

	/* an fd opened before unshare still names the parent's stores */
	s0 = 0;
	ASSERT_EQ(0, a_list(N, s0, x, &count, &found));
	EXPECT_EQ(1U, found);
	ASSERT_EQ(0, a_attach(N, s0, x, 0, 0));
	ASSERT_EQ(0, a_info(N, s0, &info));
	EXPECT_EQ(1ULL, info.keys);
	EXPECT_EQ(0644U, info.mode);
	ASSERT_EQ(0, a_get(N, s0, "k", &ver, &len));
	EXPECT_EQ(pver, ver);
	EXPECT_EQ(6U, len);

	/* unlinking in the namespace removes only its own X */
	EXPECT_EQ(0, a_unlink(N, x));
	EXPECT_EQ(-ENOENT, a_unlink(N, x));
	ASSERT_EQ(0, t_info(fd, &pinfo));
	EXPECT_EQ(0U, pinfo.unlinked);
	fy = t_open_attach(x, STMDEV_ATTACH_RDONLY, 0);
	EXPECT_LE(0, fy);
	if (fy >= 0)
		close(fy);

	act_stop(N);
	ASSERT_EQ(0, t_info(fd, &pinfo));
	EXPECT_EQ(1ULL, pinfo.keys);
	EXPECT_EQ(0U, pinfo.unlinked);
	ASSERT_EQ(0, list_stores(-1, x, &count, &found));
	EXPECT_EQ(1U, found);
}

/* ---- 8. a dead namespace's stores are freed, their charge returned ------- */

/* Fill so that two such stores cannot coexist in the quota. */
#define NS_QUOTA	(256 << 10)
#define NS_VALS		40
#define NS_VLEN		4000

TEST_F_TIMEOUT(iso, dead_namespace_returns_charge, 180)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *N = &self->act[0], *C = &self->act[1];
	const char *x = new_name(self, "deadX");
	const char *y = new_name(self, "deadY");
	struct stmdev_info info;
	int s, i, ret = 0;

	PRE();
	SET_PARAM("max_stores_per_user", 1);
	SET_PARAM("max_mem_per_user", NS_QUOTA);
	/* root unshares, then becomes C */
	NEWNET_OR_SKIP(0, UID_C, ACT_NEWNET);
	START(1, UID_C, 0);

	s = a_open_attach(N, x, cx, 0600);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, a_putn(N, s, "v", 0, NS_VALS, NS_VLEN));
	ASSERT_EQ(0, a_info(N, s, &info));
	TH_LOG("the namespace's store: %llu keys, charge %llu of %d",
	       (unsigned long long)info.keys,
	       (unsigned long long)info.charge, NS_QUOTA);
	ASSERT_LT((__u64)NS_QUOTA / 2, info.charge);
	ASSERT_GT((__u64)NS_QUOTA, info.charge);
	/* the unlink must not be what frees it: the fd stays open */

	/* meanwhile, C is at its limits in this namespace too */
	EXPECT_EQ(-EDQUOT, a_open_attach(C, y, cx, 0600));
	SET_PARAM("max_stores_per_user", 2);
	s = a_open_attach(C, y, cx, 0600);
	ASSERT_LE(0, s);
	EXPECT_EQ(-EDQUOT, a_putn(C, s, "v", 0, NS_VALS, NS_VLEN));
	ASSERT_EQ(0, a_close(C, s));
	ASSERT_EQ(0, a_unlink(C, y));
	SET_PARAM("max_stores_per_user", 1);
	EXPECT_EQ(-EDQUOT, a_open_attach(C, y, cx, 0600));

	/* the last process of the namespace exits, with its fd */
	act_stop(N);
	for (i = 0; i < 300; i++) {
		ret = a_open_attach(C, y, cx, 0600);
		if (ret != -EDQUOT)
			break;
		usleep(100000);
	}
	ASSERT_LE(0, ret) TH_LOG("after %d polls: %d (%s)", i, ret,
				 ret < 0 ? strerror(-ret) : "");
	TH_LOG("store count given back after %d polls of 100 ms", i);
	s = ret;
	/* and all of its memory: the same fill goes in */
	ASSERT_EQ(0, a_putn(C, s, "v", 0, NS_VALS, NS_VLEN));
	ASSERT_EQ(0, a_info(C, s, &info));
	EXPECT_LT((__u64)NS_QUOTA / 2, info.charge);
}

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/* A copy of fd `target` of process pid (pidfd_getfd), or -errno. */
static int grab_fd(pid_t pid, int target)
{
	int pidfd = syscall(__NR_pidfd_open, pid, 0), fd;

	if (pidfd < 0)
		return -errno;
	fd = syscall(__NR_pidfd_getfd, pidfd, target, 0);
	if (fd < 0)
		fd = -errno;
	close(pidfd);
	return fd;
}

/*
 * A namespace lives while an fd opened in it does, even with no process
 * left in it: its stores stay until that fd is closed too.
 */
TEST_F_TIMEOUT(iso, namespace_fd_keeps_stores, 180)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	struct actor *C = &self->act[1];
	const char *x = new_name(self, "keepX");
	const char *y = new_name(self, "keepY");
	int s, i, ret = 0, up[2], down[2], status, fd = -1, cfd = -1;
	struct stmdev_info info;
	__u64 count;
	__u32 found;
	pid_t pid;
	char c = 0;

	PRE();
	SET_PARAM("max_stores_per_user", 1);
	START(1, UID_C, 0);
	/*
	 * A process (C in a new namespace) opens an fd there; we take a copy
	 * of it (pidfd_getfd) and let the process exit: the namespace has no
	 * process left, only our fd.
	 */
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		if (unshare(CLONE_NEWNET) < 0)
			cfd = errno == EINVAL || errno == ENOSYS ? -1000 : -errno;
		else if (t_become(UID_C, UID_C, 0, NULL))
			cfd = -1001;
		else
			cfd = t_open_attach(x, cx, 0600);
		if (cfd >= 0 && t_put_str(cfd, "k", "v", NULL))
			cfd = -1002;
		if (write(up[1], &cfd, sizeof(cfd)) != sizeof(cfd))
			_exit(1);
		/* until the parent has its copy (or is gone) */
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	self->kid = pid;
	close(up[1]);
	close(down[0]);
	ret = read(up[0], &cfd, sizeof(cfd));
	close(up[0]);
	ASSERT_EQ((int)sizeof(cfd), ret);
	if (cfd == -1000) {
		close(down[1]);
		SKIP(return, "unshare(CLONE_NEWNET) unsupported");
	}
	ASSERT_LE(0, cfd);
	fd = grab_fd(pid, cfd);
	close(down[1]);		/* the child exits */
	if (fd == -ENOSYS)
		SKIP(return, "no pidfd_getfd()");
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(-fd));
	self->fd = fd;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->kid = 0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ(1ULL, info.keys);
	EXPECT_EQ((__u32)UID_C, info.uid);
	/* the fd names its own namespace's stores */
	ASSERT_EQ(0, list_stores(fd, x, &count, &found));
	EXPECT_EQ(1ULL, count);
	EXPECT_EQ(1U, found);

	/* the store is held: C cannot make another, for as long as we wait */
	for (i = 0; i < 20; i++) {
		ret = a_open_attach(C, y, cx, 0600);
		if (ret != -EDQUOT)
			break;
		usleep(100000);
	}
	EXPECT_EQ(-EDQUOT, ret);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ(0U, info.unlinked);
	EXPECT_EQ(0, t_put_str(fd, "k2", "v", NULL));

	/* the last fd goes: the namespace dies, the store is freed */
	close(fd);
	self->fd = -1;
	for (i = 0; i < 300; i++) {
		ret = a_open_attach(C, y, cx, 0600);
		if (ret != -EDQUOT)
			break;
		usleep(100000);
	}
	ASSERT_LE(0, ret) TH_LOG("after %d polls: %d", i, ret);
	TH_LOG("store count given back after %d polls of 100 ms", i);
	s = ret;
	EXPECT_EQ(0, a_put(C, s, "k", 1, NULL));
}

/* ---- 9. INFO.charge against the memory the kernel really takes ---------- */

static long long meminfo_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long long pcp_pages(void);

/*
 * MemTotal - MemFree - Cached - Buffers, in bytes, less the free pages
 * that sit on the per-CPU free lists: MemFree leaves them out, and the
 * lists grow and shrink by megabytes as slabs are allocated and freed
 * (6.12 tunes their size on the fly).
 */
static long long used_bytes(void)
{
	long long t = meminfo_kb("MemTotal"), f = meminfo_kb("MemFree");
	long long c = meminfo_kb("Cached"), b = meminfo_kb("Buffers");
	long long pcp = pcp_pages();

	if (t < 0 || f < 0 || c < 0 || b < 0)
		return -1;
	return (t - f - c - b) * 1024 - (pcp > 0 ? pcp * getpagesize() : 0);
}

/* Pages on the per-CPU free lists (/proc/zoneinfo "count:"), or -1. */
static long long pcp_pages(void)
{
	char line[256];
	long long n = 0, c;
	FILE *f = fopen("/proc/zoneinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &c) == 1)
			n += c;
	fclose(f);
	return n;
}

#define MI_MAX 80
struct mi_snap {
	int n;
	char name[MI_MAX][32];
	long long kb[MI_MAX];
	long long pcp;
};

static void mi_snap(struct mi_snap *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	m->n = 0;
	m->pcp = pcp_pages();
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && m->n < MI_MAX)
		if (sscanf(line, "%31[^:]: %lld", m->name[m->n], &m->kb[m->n]) == 2)
			m->n++;
	fclose(f);
}

static long long mi_get(const struct mi_snap *m, const char *name)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->name[i], name))
			return m->kb[i];
	return 0;
}

/* The meminfo formula alone, without the per-CPU lists: for the log. */
static long long mi_used_raw(const struct mi_snap *m)
{
	return (mi_get(m, "MemTotal") - mi_get(m, "MemFree") -
		mi_get(m, "Cached") - mi_get(m, "Buffers")) * 1024;
}

/* vmalloc areas of at least 1 MiB (/proc/vmallocinfo), for the log. */
static void big_vmallocs(struct __test_metadata *_metadata, const char *what)
{
	char line[512];
	FILE *f = fopen("/proc/vmallocinfo", "re");
	const char *p;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "pages=");
		if (p && atol(p + 6) >= 256) {
			line[strcspn(line, "\n")] = 0;
			TH_LOG("  %s: vmalloc %s", what, line);
		}
	}
	fclose(f);
}

static void mi_deltas(struct __test_metadata *_metadata, const char *what,
		      const struct mi_snap *a, const struct mi_snap *b)
{
	int i;

	for (i = 0; i < a->n && i < b->n; i++)
		if (llabs(b->kb[i] - a->kb[i]) >= 512)
			TH_LOG("  %s: meminfo %-16s %+8lld kB", what, b->name[i],
			       b->kb[i] - a->kb[i]);
	TH_LOG("  %s: per-cpu free lists %lld -> %lld pages", what, a->pcp,
	       b->pcp);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd >= 0) {
		n = write(fd, "3\n", 2);	/* best effort */
		(void)n;
		close(fd);
	}
}

/*
 * Used memory once RCU-deferred frees and the key table's deferred resize
 * have settled: drop caches, wait, read, until two reads agree within 1%.
 */
static long long settled_used(void)
{
	long long prev = -1, cur = -1;
	int i;

	for (i = 0; i < 40; i++) {
		drop_caches();
		usleep(300000);
		cur = used_bytes();
		if (cur < 0)
			return cur;
		if (prev >= 0 && llabs(cur - prev) * 100 <= cur)
			return cur;
		prev = cur;
	}
	return cur;
}

/* Bytes of slab pages per cache, from /proc/slabinfo. */
#define SLAB_MAX 512
struct slabs {
	int n;
	char name[SLAB_MAX][64];
	long long bytes[SLAB_MAX];
	long long objsize[SLAB_MAX];
};

static int read_slabinfo(struct slabs *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "re");

	s->n = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && s->n < SLAB_MAX) {
		long long active, num, objsize, perslab, pages, aslabs, nslabs;
		char name[64];

		if (sscanf(line, "%63s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
			   name, &active, &num, &objsize, &perslab, &pages,
			   &aslabs, &nslabs) != 8)
			continue;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
		s->bytes[s->n] = nslabs * pages * getpagesize();
		s->objsize[s->n] = objsize;
		s->n++;
	}
	fclose(f);
	return 0;
}

static void slab_deltas(struct __test_metadata *_metadata,
			const struct slabs *a, const struct slabs *b)
{
	long long total = 0, d;
	int i, j;

	for (j = 0; j < b->n; j++) {
		d = b->bytes[j];
		for (i = 0; i < a->n; i++)
			if (!strcmp(a->name[i], b->name[j])) {
				d -= a->bytes[i];
				break;
			}
		total += d;
		if (d > (256 << 10) || d < -(256 << 10))
			TH_LOG("  slab %-24s %+10lld bytes", b->name[j], d);
	}
	TH_LOG("  slab total       %+10lld bytes", total);
}

/*
 * Does the allocator spend more than its rounding (KASAN, kmemleak,
 * slub_debug)?  Then the charge cannot match; *why says how we know.
 */
static bool allocator_has_metadata(char *why, size_t len)
{
	struct utsname u;
	struct slabs *s = calloc(1, sizeof(*s));
	int i;
	bool ret = false;

	if (uname(&u) == 0 && strstr(u.release, "stm-debug")) {
		snprintf(why, len, "the debug kernel (%s): KASAN/kmemleak metadata",
			 u.release);
		ret = true;
	} else if (access("/sys/kernel/debug/kmemleak", F_OK) == 0) {
		snprintf(why, len, "kmemleak is on");
		ret = true;
	} else if (s && read_slabinfo(s) == 0) {
		for (i = 0; i < s->n; i++)
			if (!strcmp(s->name[i], "kmalloc-128") &&
			    s->objsize[i] != 128) {
				snprintf(why, len, "kmalloc-128 objects take %lld bytes (slab debugging)",
					 s->objsize[i]);
				ret = true;
			}
	}
	free(s);
	return ret;
}

#define MEM_KEYS	250000
#define MEM_KLEN	8
#define MEM_VLEN	100

TEST_F_TIMEOUT(iso, charge_is_real_memory, 600)
{
	const __u32 cx = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	const char *name = new_name(self, "mem");
	struct stmdev_commit_ent *ents;
	struct stmdev_features f;
	struct stmdev_info i0, i1;
	struct slabs *sl0, *sl1;
	struct mi_snap m0, m1, m2;
	long long base, after, now, grown, charge, back = 0;
	unsigned char val[MEM_VLEN];
	char (*keys)[MEM_KLEN + 1];
	__u32 batch, n, j, k = 0;
	char why[160];
	int fd, i;

	PRE();
	if (allocator_has_metadata(why, sizeof(why)))
		SKIP(return, "charge vs memory: %s", why);
	fd = t_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_features(fd, &f));
	close(fd);
	batch = f.max_keys_per_call;
	ASSERT_LT(0U, batch);
	/* room enough in every limit */
	if (t_param_get("max_keys_per_store") < MEM_KEYS)
		SET_PARAM("max_keys_per_store", MEM_KEYS);
	if (t_param_get("max_keys_per_user") < MEM_KEYS + 100000)
		SET_PARAM("max_keys_per_user", MEM_KEYS + 100000);
	if (t_param_get("max_bytes_per_store") < 64LL << 20)
		SET_PARAM("max_bytes_per_store", 64LL << 20);
	if (t_param_get("max_mem_per_user") < 512LL << 20)
		SET_PARAM("max_mem_per_user", 512LL << 20);

	ents = calloc(batch, sizeof(*ents));
	keys = calloc(batch, sizeof(*keys));
	sl0 = calloc(1, sizeof(*sl0));
	sl1 = calloc(1, sizeof(*sl1));
	ASSERT_TRUE(ents && keys && sl0 && sl1);
	memset(val, 'm', sizeof(val));
	/* touch everything this process will use before measuring */
	memset(ents, 0, batch * sizeof(*ents));
	memset(keys, 0, batch * sizeof(*keys));

	self->fd = fd = t_open_attach(name, cx, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &i0));
	read_slabinfo(sl0);
	base = settled_used();
	ASSERT_LT(0, base);
	mi_snap(&m0);
	read_slabinfo(sl0);
	big_vmallocs(_metadata, "before");

	while (k < MEM_KEYS) {
		n = MEM_KEYS - k < batch ? MEM_KEYS - k : batch;
		for (j = 0; j < n; j++) {
			snprintf(keys[j], sizeof(keys[j]), "%08x", k + j);
			cent_put(&ents[j], keys[j], MEM_KLEN, val, MEM_VLEN);
		}
		ASSERT_EQ(0, t_commit(fd, ents, n, NULL, NULL))
			TH_LOG("at key %u", k);
		k += n;
	}
	ASSERT_EQ(0, t_info(fd, &i1));
	ASSERT_EQ((__u64)MEM_KEYS, i1.keys);
	after = settled_used();
	mi_snap(&m1);
	read_slabinfo(sl1);
	/* the table's charge may catch up on the settled size: re-read */
	ASSERT_EQ(0, t_info(fd, &i1));

	charge = (long long)(i1.charge - i0.charge);
	grown = after - base;
	ksft_print_msg("charge vs memory: %d keys of %d bytes, %d-byte values\n",
		       MEM_KEYS, MEM_KLEN, MEM_VLEN);
	ksft_print_msg("  INFO.charge %llu -> %llu: +%lld bytes (%.1f per key)\n",
		       (unsigned long long)i0.charge,
		       (unsigned long long)i1.charge, charge,
		       (double)charge / MEM_KEYS);
	ksft_print_msg("  used memory %lld -> %lld: +%lld bytes (%.1f per key), ratio charge/used %.3f\n",
		       base, after, grown, (double)grown / MEM_KEYS,
		       grown > 0 ? (double)charge / grown : 0.0);
	slab_deltas(_metadata, sl0, sl1);
	mi_deltas(_metadata, "fill", &m0, &m1);
	big_vmallocs(_metadata, "filled");
	ksft_print_msg("  (the meminfo formula alone, per-CPU free lists counted as used: +%lld bytes, ratio %.3f)\n",
		       mi_used_raw(&m1) - mi_used_raw(&m0),
		       (double)charge / (mi_used_raw(&m1) - mi_used_raw(&m0)));

	EXPECT_LT(0, grown);
	EXPECT_LE(llabs(charge - grown) * 10, grown)
		TH_LOG("charge %lld vs measured %lld: off by more than 10%%",
		       charge, grown);

	/* unlink + close: the memory comes back */
	ASSERT_EQ(0, t_unlink(name));
	close(fd);
	self->fd = -1;
	for (i = 0; i < 20; i++) {
		now = settled_used();
		back = after - now;
		if ((now - base) * 10 <= charge)
			break;
	}
	ksft_print_msg("  after unlink + close: used %lld (%+lld from before the keys), %lld bytes back\n",
		       now, now - base, back);
	mi_snap(&m2);
	read_slabinfo(sl1);
	slab_deltas(_metadata, sl0, sl1);
	mi_deltas(_metadata, "freed", &m0, &m2);
	EXPECT_LE((now - base) * 10, charge)
		TH_LOG("only %lld of %lld charged bytes came back", back, charge);
	free(ents);
	free(keys);
	free(sl0);
	free(sl1);
}

TEST_HARNESS_MAIN
