// SPDX-License-Identifier: GPL-2.0
/*
 * txn_stmctl_test.c - the stmctl verbs of issue 6, run as separate
 * processes: `watch NAME KEY...` printing each change as it happens, ending
 * on SIGTERM/SIGINT, --count, --json, a removed store; `stats NAME
 * --families`.
 *
 * stmctl is looked up as $STMCTL, /bin/stmctl (the VM), then
 * ../tools/stmctl beside this program's directory.  The program skips
 * (exit 4) when /dev/stm does not exist, and each test skips when no
 * stmctl binary is found.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_test_util.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

static char stmctl[PATH_MAX];

static bool find_stmctl(void)
{
	const char *env = getenv("STMCTL");
	char self[PATH_MAX - 32], *slash;
	ssize_t n;

	if (env && access(env, X_OK) == 0) {
		snprintf(stmctl, sizeof(stmctl), "%s", env);
		return true;
	}
	if (access("/bin/stmctl", X_OK) == 0) {
		snprintf(stmctl, sizeof(stmctl), "/bin/stmctl");
		return true;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	/* selftests/.build/prog -> tools/stmctl */
	snprintf(stmctl, sizeof(stmctl), "%s/../../tools/stmctl", self);
	return access(stmctl, X_OK) == 0;
}

/* Start stmctl with @args (NULL-terminated); its stdout comes out of *@out. */
static pid_t spawn(char *const args[], FILE **out)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);	/* keep the KTAP stream clean */
		close(p[0]);
		close(p[1]);
		execv(stmctl, args);
		_exit(127);
	}
	close(p[1]);
	*out = fdopen(p[0], "r");
	return pid;
}

/* One line of @f without its newline, or "" at EOF. */
static const char *line(FILE *f, char *buf, size_t len)
{
	if (!fgets(buf, len, f))
		return "";
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int put_str(struct stm_store *s, const char *key, const char *v, uint64_t *ver)
{
	struct stm_value *val;
	int ret = stm_usevar(s, key, &val);

	if (ret)
		return ret;
	ret = stm_value_set(val, v, strlen(v));
	if (!ret)
		ret = stm_value_commit(val);
	if (!ret && ver)
		*ver = stm_value_version(val);
	stm_value_free(val);
	return ret;
}

static int del_fn(struct stm_txn *tx, void *arg)
{
	return stm_del(tx, arg);
}

FIXTURE(ctl) {
	char name[STM_NAME_MAX + 1];
	struct stm_store *s;
};

FIXTURE_SETUP(ctl)
{
	if (!find_stmctl())
		SKIP(return, "no stmctl binary");
	snprintf(self->name, sizeof(self->name), "txctl-%d", (int)getpid());
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(ctl)
{
	if (self->s) {
		stm_close(self->s);
		stm_unlink(self->name);
	}
}

TEST_F(ctl, watch_prints_each_change)
{
	char *args[] = { stmctl, "watch", self->name, "k1", "k2", "--initial",
			 "--count", "3", NULL };
	char buf[256], want[256];
	uint64_t v1, v2;
	FILE *out;
	pid_t pid;

	ASSERT_EQ(0, put_str(self->s, "k2", "before", &v2));
	pid = spawn(args, &out);
	ASSERT_LT(0, pid);
	ASSERT_NE(NULL, out);
	/* The initial state: printed once the watch is armed. */
	EXPECT_STREQ("k1 0 (absent)", line(out, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "k2 %" PRIu64 " before", v2);
	EXPECT_STREQ(want, line(out, buf, sizeof(buf)));

	ASSERT_EQ(0, put_str(self->s, "k1", "one", &v1));
	snprintf(want, sizeof(want), "k1 %" PRIu64 " one", v1);
	EXPECT_STREQ(want, line(out, buf, sizeof(buf)));

	ASSERT_EQ(0, stm_atomic(self->s, del_fn, "k1", NULL));
	EXPECT_STREQ("k1 0 (absent)", line(out, buf, sizeof(buf)));

	ASSERT_EQ(0, put_str(self->s, "k2", "two words", &v2));
	snprintf(want, sizeof(want), "k2 %" PRIu64 " two words", v2);
	EXPECT_STREQ(want, line(out, buf, sizeof(buf)));

	/* --count 3: done after three changes */
	EXPECT_STREQ("", line(out, buf, sizeof(buf)));
	EXPECT_EQ(0, child_status(pid));
	fclose(out);
}

TEST_F(ctl, watch_ends_on_sigterm_and_sigint)
{
	char *args[] = { stmctl, "watch", self->name, "k", "--initial", NULL };
	int sigs[] = { SIGTERM, SIGINT };
	char buf[256];

	for (int i = 0; i < 2; i++) {
		FILE *out;
		pid_t pid = spawn(args, &out);

		ASSERT_LT(0, pid);
		EXPECT_STREQ("k 0 (absent)", line(out, buf, sizeof(buf)));
		ASSERT_EQ(0, kill(pid, sigs[i]));
		EXPECT_EQ(0, child_status(pid));		/* a clean end */
		fclose(out);
	}
}

TEST_F(ctl, watch_json_and_removed_store)
{
	char *args[] = { stmctl, "watch", self->name, "j", "--json", "--initial", NULL };
	char buf[512];
	FILE *out;
	pid_t pid;

	pid = spawn(args, &out);
	ASSERT_LT(0, pid);
	EXPECT_NE(NULL, strstr(line(out, buf, sizeof(buf)), "\"present\":false"));
	ASSERT_EQ(0, put_str(self->s, "j", "v", NULL));
	line(out, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "\"key\":\"j\""));
	EXPECT_NE(NULL, strstr(buf, "\"value\":\"v\""));
	/* The store goes away: watch says so and ends with exit code 5. */
	ASSERT_EQ(0, stm_unlink(self->name));
	EXPECT_EQ(5, child_status(pid));
	fclose(out);
	stm_close(self->s);
	self->s = NULL;
}

TEST_F(ctl, watch_usage_errors)
{
	char *none[] = { stmctl, "watch", self->name, NULL };
	char *badcount[] = { stmctl, "watch", self->name, "k", "--count", "x", NULL };
	char *nostore[] = { stmctl, "watch", "no-such-store-txctl", "k", NULL };
	FILE *out;
	pid_t pid;

	pid = spawn(none, &out);
	EXPECT_EQ(2, child_status(pid));
	fclose(out);
	pid = spawn(badcount, &out);
	EXPECT_EQ(2, child_status(pid));
	fclose(out);
	pid = spawn(nostore, &out);
	EXPECT_EQ(5, child_status(pid));
	fclose(out);
}

static int fam_fn(struct stm_txn *tx, void *arg)
{
	return stm_add_i64(tx, "n", 1);
}

TEST_F(ctl, stats_families)
{
	struct stm_txn_opts o = { .family = "ctl-fam" };
	char *args[] = { stmctl, "stats", self->name, "--families", NULL };
	char *json[] = { stmctl, "stats", self->name, "--families", "--json", NULL };
	char *plain[] = { stmctl, "stats", self->name, NULL };
	uint64_t att = 0, com = 0, con = 1, busy = 1, w = 1;
	char buf[512], name[64];
	bool found = false, waits = false;
	FILE *out;
	pid_t pid;

	pid = spawn(args, &out);
	EXPECT_STREQ("no transaction families", line(out, buf, sizeof(buf)));
	EXPECT_EQ(0, child_status(pid));
	fclose(out);

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, stm_atomic(self->s, fam_fn, NULL, &o));
	pid = spawn(args, &out);
	EXPECT_EQ(0, strncmp(line(out, buf, sizeof(buf)), "family", 6));
	line(out, buf, sizeof(buf));
	EXPECT_EQ(0, strncmp(buf, "ctl-fam ", 8));
	EXPECT_EQ(6, sscanf(buf, "%63s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			    " %" SCNu64, name, &att, &com, &con, &busy, &w));
	EXPECT_EQ(3U, att);
	EXPECT_EQ(3U, com);
	EXPECT_EQ(0U, con);
	EXPECT_EQ(0U, busy);
	EXPECT_EQ(0U, w);
	EXPECT_EQ(0, child_status(pid));
	fclose(out);

	pid = spawn(json, &out);
	line(out, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "{\"families\":[{\"name\":\"ctl-fam\""));
	EXPECT_NE(NULL, strstr(buf, "\"commits\":3"));
	EXPECT_EQ(0, child_status(pid));
	fclose(out);

	pid = spawn(plain, &out);
	while (*line(out, buf, sizeof(buf))) {
		if (!strncmp(buf, "commits:", 8))
			found = true;
		if (!strncmp(buf, "waits:", 6))
			waits = true;
	}
	EXPECT_EQ(0, child_status(pid));
	fclose(out);
	EXPECT_TRUE(found);
	EXPECT_TRUE(waits);
}

TEST_HARNESS_MAIN
