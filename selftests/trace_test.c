// SPDX-License-Identifier: GPL-2.0
/*
 * trace_test.c - stm.ko's tracepoints (kmod/stm_trace.h), read through
 * tracefs: each test makes its own tracing instance, enables the "stm"
 * events there, runs a known sequence on a store of its own and checks the
 * events it finds in that instance's buffer, in order, field by field.
 *
 * Skips (exit 4) only when tracefs is not mounted at /sys/kernel/tracing
 * or instances cannot be made (not root); a kernel with tracefs but no
 * events/stm fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define TRACEFS		"/sys/kernel/tracing"
#define TBUF		(1 << 20)

static const char *const events[] = {
	"stm_attach", "stm_detach", "stm_unlink", "stm_commit", "stm_conflict",
	"stm_busy", "stm_wait_start", "stm_wait_wake", "stm_wait_timeout",
	"stm_quota",
};

/* Write @s to @dir/@file; 0 or -errno. */
static int tr_write(const char *dir, const char *file, const char *s)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* Read @dir/trace into a malloc'd, NUL-terminated buffer. */
static char *tr_read(const char *dir)
{
	char path[256];
	char *buf = malloc(TBUF);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (len < TBUF - 1 && (n = read(fd, buf + len, TBUF - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return buf;
}

/*
 * The next line at or after *@pos whose event is @event and that holds
 * @want (and @store, when given); *@pos moves past it.  NULL when none.
 * The line is copied to @out.
 */
static const char *tr_find(const char *buf, const char **pos, const char *event,
			   const char *store, const char *want, char *out,
			   size_t outlen)
{
	char tag[64];
	const char *p = *pos;

	snprintf(tag, sizeof(tag), ": %s: ", event);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len + 1 < outlen) {
			/* A space after the last field, as after the others. */
			memcpy(out, p, len);
			out[len] = ' ';
			out[len + 1] = 0;
			if (strstr(out, tag) && (!store || strstr(out, store)) &&
			    (!want || strstr(out, want))) {
				*pos = p + len;
				return out;
			}
		}
		p += len + (eol ? 1 : 0);
	}
	return NULL;
}

static unsigned long long tr_field(const char *line, const char *name)
{
	char tag[64];
	const char *p;

	snprintf(tag, sizeof(tag), " %s=", name);
	p = strstr(line, tag);
	return p ? strtoull(p + strlen(tag), NULL, 0) : ~0ULL;
}

static int t_wait(int fd, struct stmdev_wait_ent *we, __u32 n,
		  __s64 timeout_ns, __u32 *index)
{
	struct stmdev_wait w;
	int ret;

	memset(&w, 0, sizeof(w));
	w.entries = t_ptr(we);
	w.count = n;
	w.timeout_ns = timeout_ns;
	ret = t_ioctl(fd, STMDEV_IOC_WAIT, &w);
	if (index)
		*index = w.index;
	return ret;
}

static void went(struct stmdev_wait_ent *e, const char *key, __u64 version)
{
	memset(e, 0, sizeof(*e));
	e->key_addr = t_ptr(key);
	e->key_len = strlen(key);
	e->version = version;
}

FIXTURE(tr) {
	char dir[128];		/* our tracing instance */
	char store[64];		/* our store */
	char tag[80];		/* "store=<store> " as events show it */
	char *buf;
};

FIXTURE_SETUP(tr)
{
	struct stat sb;
	int ret;

	self->buf = NULL;
	self->dir[0] = 0;
	if (stat(TRACEFS "/instances", &sb) < 0)
		SKIP(return, "tracefs not mounted at " TRACEFS);
	snprintf(self->dir, sizeof(self->dir), TRACEFS "/instances/stmtest-%d",
		 (int)getpid());
	if (mkdir(self->dir, 0700) < 0) {
		if (errno == EACCES || errno == EPERM)
			SKIP(return, "cannot make a tracing instance (not root)");
		ASSERT_EQ(0, -errno) TH_LOG("mkdir %s", self->dir);
	}
	/* A kernel with tracefs and the module loaded has the events. */
	ret = tr_write(self->dir, "events/stm/enable", "1");
	ASSERT_EQ(0, ret) TH_LOG("enabling events/stm: %s", strerror(-ret));
	t_name(self->store, sizeof(self->store), "trace");
	snprintf(self->tag, sizeof(self->tag), "store=%s ", self->store);
}

FIXTURE_TEARDOWN(tr)
{
	free(self->buf);
	if (!self->dir[0] || access(self->dir, F_OK))
		return;
	tr_write(self->dir, "events/stm/enable", "0");
	rmdir(self->dir);
}

TEST(every_event_has_a_format)
{
	char path[256];
	unsigned int i;
	struct stat sb;

	if (stat(TRACEFS "/events", &sb) < 0)
		SKIP(return, "tracefs not mounted at " TRACEFS);
	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), TRACEFS "/events/stm/%s/format",
			 events[i]);
		EXPECT_EQ(0, access(path, R_OK)) TH_LOG("%s missing", path);
	}
}

/* attach, a commit, a conflicting commit, close, unlink: in this order. */
TEST_F(tr, store_lifecycle_and_conflict)
{
	static const char key[] = "acct.7";
	struct stmdev_commit_ent e[2];
	const char *pos, *l;
	char line[1024], want[128];
	__u64 v1, v;
	__u32 conflict;
	int fd;

	fd = t_open_attach(self->store, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put_str(fd, key, "100", &v1));
	cent_read(&e[0], key, strlen(key), 0);	/* stale: the key is at v1 */
	cent_put(&e[1], "other", 5, "x", 1);
	ASSERT_EQ(-ESTALE, t_commit(fd, e, 2, &v, &conflict));
	ASSERT_EQ(0U, conflict);
	close(fd);
	ASSERT_EQ(0, t_unlink(self->store));

	self->buf = tr_read(self->dir);
	ASSERT_NE(NULL, self->buf);
	pos = self->buf;
	l = tr_find(self->buf, &pos, "stm_attach", self->tag, "flags=CREAT",
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no attach in:\n%s", self->buf);

	l = tr_find(self->buf, &pos, "stm_commit", self->tag, " result=0 ",
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no commit in:\n%s", self->buf);
	EXPECT_EQ(1ULL, tr_field(l, "entries"));
	EXPECT_EQ(1ULL, tr_field(l, "writes"));
	EXPECT_EQ(0ULL, tr_field(l, "family"));
	EXPECT_EQ(v1, tr_field(l, "version"));
	EXPECT_EQ(v1, tr_field(l, "clock"));
	EXPECT_LT(0ULL, tr_field(l, "duration_ns"));

	snprintf(want, sizeof(want), "key=\"%s\" len=%zu index=0 expected=0 actual=%llu",
		 key, strlen(key), (unsigned long long)v1);
	l = tr_find(self->buf, &pos, "stm_conflict", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);

	snprintf(want, sizeof(want), " result=%d ", -ESTALE);
	l = tr_find(self->buf, &pos, "stm_commit", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no failed commit in:\n%s", self->buf);
	EXPECT_EQ(2ULL, tr_field(l, "entries"));
	EXPECT_EQ(1ULL, tr_field(l, "writes"));
	EXPECT_EQ(0ULL, tr_field(l, "version"));
	EXPECT_EQ(v1, tr_field(l, "clock"));

	l = tr_find(self->buf, &pos, "stm_detach", self->tag, NULL,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no detach in:\n%s", self->buf);
	l = tr_find(self->buf, &pos, "stm_unlink", self->tag, NULL,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no unlink in:\n%s", self->buf);
}

/* Keys are escaped ('"', '\', bytes outside ASCII) and truncated. */
TEST_F(tr, keys_escaped_and_truncated)
{
	static const char odd[] = "a\"b\\c\x01\xff";
	struct stmdev_commit_ent e;
	char longkey[200], want[128], line[1024];
	const char *pos, *l;
	int fd, i;

	memset(longkey, 'x', sizeof(longkey));
	fd = t_open_attach(self->store, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put(fd, odd, sizeof(odd) - 1, "1", 1, NULL));
	cent_put_check(&e, odd, sizeof(odd) - 1, "2", 1, 0);
	ASSERT_EQ(-ESTALE, t_commit(fd, &e, 1, NULL, NULL));
	ASSERT_EQ(0, t_put(fd, longkey, sizeof(longkey), "1", 1, NULL));
	cent_put_check(&e, longkey, sizeof(longkey), "2", 1, 0);
	ASSERT_EQ(-ESTALE, t_commit(fd, &e, 1, NULL, NULL));
	/* A key whose escapes straddle the cut: 42 bytes, then 0x01s. */
	memset(longkey, 'y', 42);
	memset(longkey + 42, 1, 8);
	ASSERT_EQ(0, t_put(fd, longkey, 50, "1", 1, NULL));
	cent_put_check(&e, longkey, 50, "2", 1, 0);
	ASSERT_EQ(-ESTALE, t_commit(fd, &e, 1, NULL, NULL));
	close(fd);
	ASSERT_EQ(0, t_unlink(self->store));

	self->buf = tr_read(self->dir);
	ASSERT_NE(NULL, self->buf);
	pos = self->buf;
	l = tr_find(self->buf, &pos, "stm_conflict", self->tag,
		    "key=\"a\\\"b\\\\c\\x01\\xff\" len=7 ", line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no escaped key in:\n%s", self->buf);

	/* 47 characters at most: 44 of the key, then "...". */
	strcpy(want, "key=\"");
	for (i = 0; i < 44; i++)
		strcat(want, "x");
	strcat(want, "...\" len=200 ");
	l = tr_find(self->buf, &pos, "stm_conflict", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);

	/* 42 y's and "\x01" would make 46, past 44: cut after the y's. */
	strcpy(want, "key=\"");
	for (i = 0; i < 42; i++)
		strcat(want, "y");
	strcat(want, "...\" len=50 ");
	l = tr_find(self->buf, &pos, "stm_conflict", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);
}

/* A WAIT that times out, and one that finds its key changed. */
TEST_F(tr, wait_timeout_and_wake)
{
	struct stmdev_wait_ent we[2];
	char line[1024], want[128];
	const char *pos, *l;
	__u32 index;
	__u64 v;
	int fd;

	fd = t_open_attach(self->store, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put_str(fd, "b", "1", &v));
	went(&we[0], "a", 0);
	went(&we[1], "b", v);
	ASSERT_EQ(-ETIMEDOUT, t_wait(fd, we, 2, 0, &index));
	went(&we[1], "b", v - 1);	/* b moved on: wakes at once */
	ASSERT_EQ(0, t_wait(fd, we, 2, 1000000000LL, &index));
	ASSERT_EQ(1U, index);
	close(fd);
	ASSERT_EQ(0, t_unlink(self->store));

	self->buf = tr_read(self->dir);
	ASSERT_NE(NULL, self->buf);
	pos = self->buf;
	snprintf(want, sizeof(want), "pid=%d count=2 key=\"a\" timeout_ns=0",
		 (int)getpid());
	l = tr_find(self->buf, &pos, "stm_wait_start", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);
	snprintf(want, sizeof(want), "pid=%d count=2", (int)getpid());
	l = tr_find(self->buf, &pos, "stm_wait_timeout", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);
	l = tr_find(self->buf, &pos, "stm_wait_start", self->tag,
		    "timeout_ns=1000000000", line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no second wait in:\n%s", self->buf);
	snprintf(want, sizeof(want), "pid=%d index=1 key=\"b\"", (int)getpid());
	l = tr_find(self->buf, &pos, "stm_wait_wake", self->tag, want,
		    line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);
}

/* A limit's refusal names the module parameter that refused. */
TEST_F(tr, quota_refusal)
{
	struct stmdev_wait_ent we[2];
	char line[1024], want[128];
	const char *pos, *l;
	long long orig;
	int fd, ret;

	orig = t_param_get("max_waits_per_fd");
	if (orig <= 0 || !t_param_writable("max_waits_per_fd"))
		SKIP(return, "max_waits_per_fd not writable");
	fd = t_open_attach(self->store, STMDEV_ATTACH_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_param_set("max_waits_per_fd", 1));
	went(&we[0], "a", 0);
	went(&we[1], "b", 0);
	ret = t_wait(fd, we, 2, 0, NULL);
	ASSERT_EQ(0, t_param_set("max_waits_per_fd", orig));
	ASSERT_EQ(-ENOSPC, ret);
	close(fd);
	ASSERT_EQ(0, t_unlink(self->store));

	self->buf = tr_read(self->dir);
	ASSERT_NE(NULL, self->buf);
	pos = self->buf;
	snprintf(want, sizeof(want),
		 "uid=%u limit=max_waits_per_fd want=2 result=%d",
		 (unsigned int)geteuid(), -ENOSPC);
	l = tr_find(self->buf, &pos, "stm_quota", NULL, want, line, sizeof(line));
	ASSERT_NE(NULL, l) TH_LOG("no '%s' in:\n%s", want, self->buf);
}

struct hammer {
	int fd;
	int busy[2];		/* EBUSY seen by the parent, the child */
};

/*
 * Blind non-blocking PUTs of "hot", counting EBUSY: 20000, or fewer once
 * the two processes saw 100 between them.
 */
static int hammer(void *arg, int idx)
{
	struct hammer *h = arg;
	int i, ret;

	for (i = 0; i < 20000 && h->busy[0] + h->busy[1] < 100; i++) {
		ret = t_put_str(h->fd, "hot", idx ? "c" : "p", NULL);
		if (ret == -EBUSY)
			h->busy[idx]++;
		else if (ret)
			return 1;
	}
	return 0;
}

/*
 * Two processes race non-blocking commits on one key: each EBUSY either
 * saw has its stm_busy event naming the key.  Whether EBUSY happens at
 * all is up to timing, not the test; the count must match either way.
 */
TEST_F(tr, busy_events_match_ebusy)
{
	struct hammer *h = t_shared(sizeof(*h));
	char line[1024];
	const char *pos;
	pid_t pid;
	int n;

	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, tr_write(self->dir, "events/stm/enable", "0"));
	ASSERT_EQ(0, tr_write(self->dir, "events/stm/stm_busy/enable", "1"));
	h->fd = t_open_attach(self->store, STMDEV_ATTACH_CREAT |
			      STMDEV_ATTACH_NONBLOCK, 0600);
	ASSERT_LE(0, h->fd);
	pid = t_fork(hammer, h, 1);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, hammer(h, 0));
	ASSERT_EQ(0, t_wait_all(&pid, 1));
	close(h->fd);
	ASSERT_EQ(0, t_unlink(self->store));

	self->buf = tr_read(self->dir);
	ASSERT_NE(NULL, self->buf);
	pos = self->buf;
	n = 0;
	while (tr_find(self->buf, &pos, "stm_busy", self->tag,
		       "key=\"hot\" len=3", line, sizeof(line)))
		n++;
	TH_LOG("EBUSY %d + %d, stm_busy events %d", h->busy[0], h->busy[1], n);
	EXPECT_EQ(h->busy[0] + h->busy[1], n);
}

TEST_HARNESS_MAIN
