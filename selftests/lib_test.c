// SPDX-License-Identifier: GPL-2.0
/*
 * lib_test.c - libstmdev against /dev/stm: every public function, the
 * Axon.STM documentation examples written with this API, conflicts, busy
 * with STM_NONBLOCK under contention from other processes, binary keys,
 * and bad arguments that must leave the store untouched.
 *
 * Skips (exit 4) only when /dev/stm does not exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib_test_util.h"

/* The 6.1 harness has unused parameters in its own wrappers. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

static int64_t coll_i64(struct stm_coll *c, const char *key)
{
	int64_t x = INT64_MIN;

	if (stm_value_i64(stm_coll_get(c, key), &x))
		return INT64_MIN;
	return x;
}

static uint64_t store_clock(struct stm_store *s)
{
	struct stm_info in;

	if (stm_info(s, &in))
		return UINT64_MAX;
	return in.clock;
}

FIXTURE(st) {
	char name[LT_NAME_MAX];
	struct stm_store *s;
};

FIXTURE_SETUP(st)
{
	store_name(self->name, sizeof(self->name), "f");
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(st)
{
	stm_close(self->s);
	stm_unlink(self->name);
}

TEST(strerror_codes)
{
	ASSERT_EQ(ESTALE, STM_ECONFLICT);
	ASSERT_EQ(EBUSY, STM_EBUSY);
	ASSERT_NE(NULL, strstr(stm_strerror(-STM_ECONFLICT), "conflict"));
	ASSERT_NE(NULL, strstr(stm_strerror(-STM_EBUSY), "busy"));
	ASSERT_STREQ(stm_strerror(-STM_EBUSY), stm_strerror(STM_EBUSY));
	ASSERT_NE(NULL, strstr(stm_strerror(-ENODEV), "/dev/stm"));
	ASSERT_NE(NULL, stm_strerror(-EACCES));
	ASSERT_NE(NULL, stm_strerror(-99999));
	ASSERT_NE(NULL, stm_strerror(0));
}

TEST_F(st, open_close_unlink)
{
	struct stm_store *s2;
	struct stm_limits lim;
	struct stm_info in;
	char other[LT_NAME_MAX], longname[80];

	ASSERT_STREQ(self->name, stm_store_name(self->s));
	ASSERT_EQ(-EEXIST, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &s2));
	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s2));
	stm_close(s2);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT, 0600, &s2));	/* exists: attaches */
	stm_close(s2);
	stm_close(NULL);

	store_name(other, sizeof(other), "none");
	ASSERT_EQ(-ENOENT, stm_open(other, 0, 0, &s2));
	ASSERT_EQ(NULL, s2);
	ASSERT_EQ(-ENOENT, stm_open(other, STM_RDONLY, 0, &s2));
	ASSERT_EQ(-ENOENT, stm_unlink(other));

	/* bad flags and names, refused by the library */
	ASSERT_EQ(-EINVAL, stm_open(self->name, STM_EXCL, 0600, &s2));
	ASSERT_EQ(-EINVAL, stm_open(self->name, 1 << 20, 0600, &s2));
	ASSERT_EQ(-EINVAL, stm_open(NULL, 0, 0, &s2));
	ASSERT_EQ(-EINVAL, stm_open("", 0, 0, &s2));
	ASSERT_EQ(-EINVAL, stm_open("a/b", STM_CREAT, 0600, &s2));
	ASSERT_EQ(-EINVAL, stm_open("a b", STM_CREAT, 0600, &s2));
	ASSERT_EQ(-EINVAL, stm_open(self->name, 0, 0, NULL));
	memset(longname, 'n', 64);
	longname[64] = '\0';
	ASSERT_EQ(-ENAMETOOLONG, stm_open(longname, STM_CREAT, 0600, &s2));
	ASSERT_EQ(-EINVAL, stm_unlink(NULL));
	ASSERT_EQ(-EINVAL, stm_unlink("x/y"));
	ASSERT_EQ(-EPROTONOSUPPORT, stm_open("nosuch://localhost:2379/x", 0, 0, &s2));

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	ASSERT_EQ((uint32_t)STM_KEY_MAX, lim.max_key_len);
	ASSERT_GT(lim.max_value_size, 0U);
	ASSERT_GT(lim.max_keys_per_call, 0U);
	ASSERT_EQ(-EINVAL, stm_limits(NULL, &lim));

	ASSERT_EQ(0, stm_info(self->s, &in));
	ASSERT_STREQ(self->name + strlen(lt_base()), in.name);	/* less a URL's */
	ASSERT_EQ(0600U, in.mode & 0777);
	ASSERT_EQ(geteuid(), in.uid);
	ASSERT_EQ(0U, in.unlinked);
	ASSERT_EQ(0U, in.keys);

	/* An unlinked store keeps working for handles attached to it. */
	ASSERT_EQ(0, stm_unlink(self->name));
	ASSERT_EQ(-ENOENT, stm_unlink(self->name));
	ASSERT_EQ(0, stm_info(self->s, &in));
	ASSERT_EQ(1U, in.unlinked);
	/* (etcd drops an unlinked store's keys: its commits fail) */
	ASSERT_EQ(lt_backend("dev") ? 0 : -EIDRM, stm_cas(self->s, "k", 0, "v", 1, NULL));
	ASSERT_EQ(-ENOENT, stm_open(self->name, 0, 0, &s2));
	/* ...and the name can be used again, for a new, empty store */
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &s2));
	ASSERT_EQ(NULL, get_str(s2, "k", NULL));
	stm_close(s2);
}

/* Axon: greeting = S.usevar("hello"); greeting.set("Hello World"); greeting.commit() */
TEST_F(st, axon_single_value)
{
	struct stm_value *greeting, *again;
	const char *d;
	size_t len, klen;
	uint64_t ver;

	ASSERT_EQ(0, stm_usevar(self->s, "hello", &greeting));
	ASSERT_EQ(NULL, stm_value_data(greeting, &len));	/* repr(greeting.value): absent */
	ASSERT_EQ(0U, len);
	ASSERT_EQ(0U, stm_value_version(greeting));
	ASSERT_EQ(0, stm_value_dirty(greeting));
	ASSERT_STREQ("hello", stm_value_key(greeting, &klen));
	ASSERT_EQ(5U, klen);

	ASSERT_EQ(0, stm_value_set(greeting, "Hello World", 11));
	ASSERT_EQ(1, stm_value_dirty(greeting));
	ASSERT_EQ(0U, stm_value_version(greeting));	/* local change only */
	d = stm_value_data(greeting, &len);
	ASSERT_EQ(11U, len);
	ASSERT_EQ(0, memcmp(d, "Hello World", 11));
	ASSERT_EQ(NULL, get_str(self->s, "hello", NULL));	/* not yet in the store */

	ASSERT_EQ(0, stm_value_commit(greeting));
	ver = stm_value_version(greeting);
	ASSERT_GT(ver, 0U);
	ASSERT_EQ(0, stm_value_dirty(greeting));

	ASSERT_EQ(0, stm_usevar(self->s, "hello", &again));
	d = stm_value_data(again, &len);
	ASSERT_EQ(11U, len);
	ASSERT_EQ(0, memcmp(d, "Hello World", 11));
	ASSERT_EQ(ver, stm_value_version(again));
	stm_value_free(again);
	stm_value_free(greeting);

	/* an empty value is present, not absent */
	ASSERT_EQ(0, stm_usevar(self->s, "empty", &again));
	ASSERT_EQ(0, stm_value_set(again, NULL, 0));
	ASSERT_EQ(0, stm_value_commit(again));
	stm_value_free(again);
	ASSERT_EQ(0, stm_usevar(self->s, "empty", &again));
	ASSERT_NE(NULL, stm_value_data(again, &len));
	ASSERT_EQ(0U, len);
	ASSERT_GT(stm_value_version(again), 0U);
	stm_value_free(again);
}

/*
 * Two copies of one key: the second to commit conflicts and changes
 * nothing; the first can set + commit again and again.
 */
TEST_F(st, value_conflict_and_repeat)
{
	struct stm_value *a, *b, *c;
	uint64_t va, va2, stored;
	size_t len;
	char *str;

	ASSERT_EQ(0, stm_usevar(self->s, "k", &a));
	ASSERT_EQ(0, stm_usevar(self->s, "k", &b));
	ASSERT_EQ(0, stm_value_set(a, "one", 3));
	ASSERT_EQ(0, stm_value_commit(a));
	va = stm_value_version(a);

	ASSERT_EQ(0, stm_value_set(b, "two", 3));
	ASSERT_EQ(-STM_ECONFLICT, stm_value_commit(b));
	ASSERT_EQ(0U, stm_value_version(b));		/* still the version it read */
	ASSERT_EQ(1, stm_value_dirty(b));
	ASSERT_EQ(0, memcmp(stm_value_data(b, &len), "two", 3));
	str = get_str(self->s, "k", &stored);
	ASSERT_STREQ("one", str);			/* b changed nothing */
	free(str);
	ASSERT_EQ(va, stored);

	/* after a successful commit the same copy can be set and committed again */
	ASSERT_EQ(0, stm_value_set(a, "three", 5));
	ASSERT_EQ(0, stm_value_commit(a));
	va2 = stm_value_version(a);
	ASSERT_GT(va2, va);
	ASSERT_EQ(0, stm_value_set(a, "four", 4));
	ASSERT_EQ(0, stm_value_commit(a));
	ASSERT_GT(stm_value_version(a), va2);
	str = get_str(self->s, "k", &stored);
	ASSERT_STREQ("four", str);
	free(str);
	ASSERT_EQ(stm_value_version(a), stored);

	/* redo b's work: refresh drops the local change, then it commits */
	ASSERT_EQ(0, stm_value_refresh(b));
	ASSERT_EQ(0, stm_value_dirty(b));
	ASSERT_EQ(stored, stm_value_version(b));
	ASSERT_EQ(0, memcmp(stm_value_data(b, &len), "four", 4));
	ASSERT_EQ(0, stm_value_set(b, "five", 4));
	ASSERT_EQ(0, stm_value_commit(b));

	/* committing an unchanged copy validates it: fails once it is stale */
	ASSERT_EQ(0, stm_usevar(self->s, "k", &c));
	ASSERT_EQ(0, stm_value_commit(c));
	ASSERT_EQ(-STM_ECONFLICT, stm_value_commit(a));	/* a is stale: b wrote "five" */
	ASSERT_EQ(0, stm_value_set(b, "six", 3));
	ASSERT_EQ(0, stm_value_commit(b));
	ASSERT_EQ(-STM_ECONFLICT, stm_value_commit(c));
	stm_value_free(c);
	stm_value_free(b);
	stm_value_free(a);
}

static const char *const accounts3[] = { "account_one", "account_two", "myaccount" };

/* Axon: D = S.using("account_one", "account_two", "myaccount") ... */
TEST_F(st, axon_collection)
{
	struct stm_coll *D;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	ASSERT_EQ(0, stm_using(self->s, accounts3, 3, &D));
	ASSERT_EQ(3U, stm_coll_count(D));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_one"), 50));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_two"), 100));
	ASSERT_EQ(0, stm_coll_commit(D));
	stm_coll_free(D);

	f = open_memstream(&buf, &blen);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(2, stm_dump(self->s, f));	/* myaccount was never written */
	fclose(f);
	ASSERT_NE(NULL, strstr(buf, "\"account_one\""));
	ASSERT_NE(NULL, strstr(buf, "(i64 50)"));
	ASSERT_NE(NULL, strstr(buf, "(i64 100)"));
	ASSERT_EQ(NULL, strstr(buf, "myaccount"));
	free(buf);

	ASSERT_EQ(0, stm_using(self->s, accounts3, 3, &D));
	ASSERT_EQ(NULL, stm_value_data(stm_coll_get(D, "myaccount"), NULL));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "myaccount"),
				       coll_i64(D, "account_one") + coll_i64(D, "account_two")));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_one"), 0));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_two"), 0));
	ASSERT_EQ(0, stm_coll_commit(D));
	/* written values carry the commit's version, all the same one */
	ASSERT_GT(stm_value_version(stm_coll_get(D, "myaccount")), 0U);
	ASSERT_EQ(stm_value_version(stm_coll_get(D, "myaccount")),
		  stm_value_version(stm_coll_get(D, "account_one")));
	stm_coll_free(D);

	ASSERT_EQ(0, get_i64(self->s, "account_one"));
	ASSERT_EQ(0, get_i64(self->s, "account_two"));
	ASSERT_EQ(150, get_i64(self->s, "myaccount"));
	buf = NULL;
	f = open_memstream(&buf, &blen);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(3, stm_dump(self->s, f));
	fclose(f);
	ASSERT_NE(NULL, strstr(buf, "(i64 150)"));
	free(buf);
}

/* Axon's "What can (possibly) go wrong?": the third commit must fail. */
TEST_F(st, axon_what_can_go_wrong)
{
	static const char *const e_keys[] = { "account_one", "myaccount" };
	struct stm_coll *D, *E;
	struct stm_value *bad;
	struct stm_stats st0, st1;
	const char *k;

	ASSERT_EQ(0, stm_using(self->s, accounts3, 3, &D));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "myaccount"), 0));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_one"), 50));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_two"), 100));
	ASSERT_EQ(0, stm_coll_commit(D));			/* 1 */
	stm_coll_free(D);

	ASSERT_EQ(0, stm_using(self->s, accounts3, 3, &D));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "myaccount"),
				       coll_i64(D, "account_one") + coll_i64(D, "account_two")));
	ASSERT_EQ(0, stm_using(self->s, e_keys, 2, &E));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(E, "myaccount"),
				       coll_i64(E, "myaccount") - 100));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(E, "account_one"), 100));
	ASSERT_EQ(0, stm_coll_commit(E));			/* 2 */
	ASSERT_EQ(NULL, stm_coll_conflict(E));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_one"), 0));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_two"), 0));
	ASSERT_EQ(0, stm_stats(self->s, &st0));
	ASSERT_EQ(-STM_ECONFLICT, stm_coll_commit(D));		/* 3 - should fail */
	ASSERT_EQ(0, stm_stats(self->s, &st1));
	ASSERT_EQ(st0.conflicts + 1, st1.conflicts);
	ASSERT_EQ(st0.commits, st1.commits);

	/* the conflict names a key E changed */
	bad = stm_coll_conflict(D);
	ASSERT_NE(NULL, bad);
	k = stm_value_key(bad, NULL);
	ASSERT_TRUE(!strcmp(k, "account_one") || !strcmp(k, "myaccount"));

	/* none of commit 3's writes is visible: the store is as E left it */
	ASSERT_EQ(100, get_i64(self->s, "account_one"));
	ASSERT_EQ(100, get_i64(self->s, "account_two"));
	ASSERT_EQ(-100, get_i64(self->s, "myaccount"));

	/* redo the transaction on a fresh snapshot: now it commits */
	ASSERT_EQ(0, stm_coll_refresh(D));
	ASSERT_EQ(NULL, stm_coll_conflict(D));
	ASSERT_EQ(100, coll_i64(D, "account_one"));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "myaccount"),
				       coll_i64(D, "account_one") + coll_i64(D, "account_two")));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_one"), 0));
	ASSERT_EQ(0, stm_value_set_i64(stm_coll_get(D, "account_two"), 0));
	ASSERT_EQ(0, stm_coll_commit(D));
	ASSERT_EQ(200, get_i64(self->s, "myaccount"));
	ASSERT_EQ(0, get_i64(self->s, "account_one"));
	stm_coll_free(E);
	stm_coll_free(D);
}

TEST_F(st, collection_details)
{
	static const char *const dup[] = { "a", "b", "a" };
	struct stm_coll *c, *empty;
	struct stm_value *a, *b, *v;
	uint64_t va;

	ASSERT_EQ(0, stm_using(self->s, dup, 3, &c));
	ASSERT_EQ(2U, stm_coll_count(c));			/* a key given twice is one value */
	ASSERT_STREQ("a", stm_value_key(stm_coll_at(c, 0), NULL));
	ASSERT_STREQ("b", stm_value_key(stm_coll_at(c, 1), NULL));
	ASSERT_EQ(NULL, stm_coll_at(c, 2));
	ASSERT_EQ(NULL, stm_coll_get(c, "zz"));
	ASSERT_EQ(NULL, stm_coll_get(NULL, "a"));
	ASSERT_EQ(0, stm_coll_commit(c));			/* clean: validates only */

	a = stm_coll_get(c, "a");
	b = stm_coll_get(c, "b");
	stm_value_free(a);					/* owned by c: no effect */
	ASSERT_EQ(0, stm_value_set(a, "A", 1));
	ASSERT_EQ(0, stm_value_set(b, "B", 1));
	ASSERT_EQ(0, stm_value_commit(a));			/* one member alone */
	va = stm_value_version(a);
	ASSERT_GT(va, 0U);
	ASSERT_EQ(1, stm_value_dirty(b));
	ASSERT_EQ(0, stm_coll_commit(c));			/* a validated, b written */
	ASSERT_EQ(va, stm_value_version(a));
	ASSERT_GT(stm_value_version(b), va);

	/* a delete and a put in one commit */
	ASSERT_EQ(0, stm_value_del(a));
	ASSERT_EQ(NULL, stm_value_data(a, NULL));
	ASSERT_EQ(0, stm_value_set(b, "BB", 2));
	ASSERT_EQ(0, stm_coll_commit(c));
	ASSERT_EQ(0U, stm_value_version(a));			/* absent again */
	ASSERT_EQ(NULL, get_str(self->s, "a", NULL));
	ASSERT_EQ(0, stm_usevar(self->s, "b", &v));
	ASSERT_EQ(stm_value_version(b), stm_value_version(v));
	stm_value_free(v);
	/* and the deleted key can be created again from the same copy */
	ASSERT_EQ(0, stm_value_set(a, "again", 5));
	ASSERT_EQ(0, stm_coll_commit(c));
	stm_coll_free(c);
	stm_coll_free(NULL);

	ASSERT_EQ(0, stm_using(self->s, NULL, 0, &empty));
	ASSERT_EQ(0U, stm_coll_count(empty));
	ASSERT_EQ(0, stm_coll_commit(empty));
	ASSERT_EQ(0, stm_coll_refresh(empty));
	stm_coll_free(empty);
}

TEST_F(st, i64_and_delete)
{
	struct stm_value *v, *w;
	int64_t x, r;
	uint64_t ver;

	ASSERT_EQ(0, stm_usevar(self->s, "n", &v));
	ASSERT_EQ(-ENOENT, stm_value_i64(v, &x));
	ASSERT_EQ(0, stm_value_set_i64(v, -42));
	ASSERT_EQ(0, stm_value_i64(v, &x));
	ASSERT_EQ(-42, x);
	ASSERT_EQ(0, stm_value_commit(v));
	ASSERT_EQ(-42, get_i64(self->s, "n"));

	/* the store's add-i64 and the library agree on the encoding */
	ASSERT_EQ(0, stm_fetch_add(self->s, "n", 50, &r));
	ASSERT_EQ(8, r);
	ASSERT_EQ(8, get_i64(self->s, "n"));
	ASSERT_EQ(0, stm_fetch_add(self->s, "fresh", 5, &r));	/* absent counts as 0 */
	ASSERT_EQ(5, r);
	ASSERT_EQ(0, stm_fetch_add(self->s, "fresh", -7, NULL));
	ASSERT_EQ(-2, get_i64(self->s, "fresh"));

	ASSERT_EQ(0, stm_value_set(v, "abc", 3));
	ASSERT_EQ(-EINVAL, stm_value_i64(v, &x));		/* not 8 bytes */
	ASSERT_EQ(-STM_ECONFLICT, stm_value_commit(v));	/* fetch_add changed n */
	ASSERT_EQ(0, stm_value_refresh(v));
	ASSERT_EQ(0, stm_value_set(v, "abc", 3));
	ASSERT_EQ(0, stm_value_commit(v));
	ASSERT_EQ(-EINVAL, stm_fetch_add(self->s, "n", 1, &r));	/* "abc" is no i64 */

	/* delete: absent after commit, version 0, then it can be set again */
	ASSERT_EQ(0, stm_value_del(v));
	ASSERT_EQ(1, stm_value_dirty(v));
	ASSERT_EQ(NULL, stm_value_data(v, NULL));
	ASSERT_EQ(-ENOENT, stm_value_i64(v, &x));
	ASSERT_EQ(0, stm_value_commit(v));
	ASSERT_EQ(0U, stm_value_version(v));
	ASSERT_EQ(0, stm_usevar(self->s, "n", &w));
	ASSERT_EQ(NULL, stm_value_data(w, NULL));
	ASSERT_EQ(0U, stm_value_version(w));
	stm_value_free(w);
	ASSERT_EQ(0, stm_value_set_i64(v, 7));
	ASSERT_EQ(0, stm_value_commit(v));
	ver = stm_value_version(v);
	ASSERT_GT(ver, 0U);
	ASSERT_EQ(7, get_i64(self->s, "n"));
	stm_value_free(v);
}

/*
 * stm_reserve() and stm_reserve_n(): the argument checks, a reservation's
 * remaining bound, the release.  Each reservation on its own handle: a
 * handle that released one waits out a cooldown before the next.
 */
TEST_F(st, reserve_and_reserve_n)
{
	const char *const keys[] = { "ra", "rb" };
	const char *const bad[] = { "ra", NULL };
	const void *const bkeys[] = { "r\0x", "ra" };
	const size_t lens[] = { 3, 2 };
	struct stm_store *s2;
	int ret;

	ASSERT_EQ(-EINVAL, stm_reserve(NULL, keys, 2, 20));
	ASSERT_EQ(-EINVAL, stm_reserve_n(NULL, bkeys, lens, 2, 20));
	ASSERT_EQ(-EINVAL, stm_reserve_n(self->s, bkeys, NULL, 2, 20));
	ret = stm_reserve(self->s, keys, 2, 20);
	if (ret == -EOPNOTSUPP) {
		ASSERT_EQ(-EOPNOTSUPP, stm_reserve_n(self->s, bkeys, lens, 2, 20));
		SKIP(return, "the backend has no reservations (etcd, or no STMDEV_F_RESERVE)");
	}
	ASSERT_LT(0, ret);
	ASSERT_GE(20, ret);
	ASSERT_EQ(0, stm_reserve(self->s, keys, 0, 0));	/* released */

	ASSERT_EQ(0, stm_open(self->name, 0, 0, &s2));
	ASSERT_EQ(-EINVAL, stm_reserve(s2, bad, 2, 20));
	ASSERT_EQ(-EINVAL, stm_reserve_n(s2, (const void *const *)bad, lens, 2, 20));
	ret = stm_reserve_n(s2, bkeys, lens, 2, 20);
	EXPECT_LT(0, ret);
	EXPECT_GE(20, ret);
	EXPECT_EQ(0, stm_reserve_n(s2, NULL, NULL, 0, 0));
	stm_close(s2);
}

TEST_F(st, cas)
{
	uint64_t v1, v2, stored;
	char *str;

	ASSERT_EQ(0, stm_cas(self->s, "c", 0, "a", 1, &v1));	/* 0: must be absent */
	ASSERT_GT(v1, 0U);
	ASSERT_EQ(-STM_ECONFLICT, stm_cas(self->s, "c", 0, "b", 1, NULL));
	ASSERT_EQ(-STM_ECONFLICT, stm_cas(self->s, "c", v1 + 1000, "b", 1, NULL));
	ASSERT_EQ(0, stm_cas(self->s, "c", v1, "bb", 2, &v2));
	ASSERT_GT(v2, v1);
	str = get_str(self->s, "c", &stored);
	ASSERT_STREQ("bb", str);
	free(str);
	ASSERT_EQ(v2, stored);
	ASSERT_EQ(0, stm_cas_n(self->s, "\0x", 2, 0, "z", 1, NULL));
}

TEST_F(st, binary_keys)
{
	static const uint8_t k1[] = { 0x00, 0xff, 0x01, 0x00 };
	static const uint8_t k2[] = { 0x00 };
	static const uint8_t data[] = { 0xde, 0x00, 0xad, 0x00, 0x0a };
	uint8_t k3[STM_KEY_MAX];
	const void *keys[3] = { k1, k2, k3 };
	size_t lens[3] = { sizeof(k1), sizeof(k2), sizeof(k3) };
	struct stm_value *v;
	struct stm_coll *c;
	const void *d;
	size_t len;

	memset(k3, 0xab, sizeof(k3));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, stm_usevar_n(self->s, keys[i], lens[i], &v));
		ASSERT_EQ(NULL, stm_value_data(v, NULL));
		ASSERT_EQ(0, stm_value_set(v, data, sizeof(data) - i));
		ASSERT_EQ(0, stm_value_commit(v));
		d = stm_value_key(v, &len);
		ASSERT_EQ(lens[i], len);
		ASSERT_EQ(0, memcmp(d, keys[i], len));
		stm_value_free(v);
	}
	ASSERT_EQ(0, stm_using_n(self->s, keys, lens, 3, &c));
	ASSERT_EQ(3U, stm_coll_count(c));
	for (int i = 0; i < 3; i++) {
		v = stm_coll_get_n(c, keys[i], lens[i]);
		ASSERT_NE(NULL, v);
		d = stm_value_data(v, &len);
		ASSERT_EQ(sizeof(data) - i, len);
		ASSERT_EQ(0, memcmp(d, data, len));
	}
	ASSERT_EQ(NULL, stm_coll_get_n(c, k1, 3));		/* a prefix is another key */
	ASSERT_EQ(NULL, stm_coll_get(c, ""));
	stm_coll_free(c);

	/* "\0" holds 4 bytes: no i64; and a 0-byte key is no key at all */
	ASSERT_EQ(-EINVAL, stm_fetch_add_n(self->s, k2, 1, 1, NULL));
	ASSERT_EQ(-EINVAL, stm_fetch_add_n(self->s, k2, 0, 1, NULL));
	ASSERT_EQ(0, stm_cas_n(self->s, k1, 3, 0, "p", 1, NULL));
	ASSERT_EQ(0, stm_usevar_n(self->s, k1, 3, &v));
	ASSERT_EQ(0, memcmp(stm_value_data(v, NULL), "p", 1));
	stm_value_free(v);
}

struct seen {
	int n;
	int k1, k2, k3, other;
};

static int seen_cb(const void *key, size_t len, void *arg)
{
	static const uint8_t k1[] = { 0x00, 0xff, 0x01, 0x00 };
	struct seen *s = arg;
	const uint8_t *k = key;

	s->n++;
	if (len == sizeof(k1) && !memcmp(key, k1, len))
		s->k1++;
	else if (len == 1 && k[0] == 0)
		s->k2++;
	else if (len == STM_KEY_MAX && k[0] == 0xab && k[STM_KEY_MAX - 1] == 0xab)
		s->k3++;
	else
		s->other++;
	return 0;
}

TEST_F(st, binary_key_names)
{
	static const uint8_t k1[] = { 0x00, 0xff, 0x01, 0x00 };
	uint8_t k3[STM_KEY_MAX];
	struct seen s = { 0 };

	memset(k3, 0xab, sizeof(k3));
	ASSERT_EQ(0, stm_cas_n(self->s, k1, sizeof(k1), 0, "1", 1, NULL));
	ASSERT_EQ(0, stm_cas_n(self->s, "\0", 1, 0, "2", 1, NULL));
	ASSERT_EQ(0, stm_cas_n(self->s, k3, sizeof(k3), 0, "3", 1, NULL));
	ASSERT_EQ(3, stm_names(self->s, seen_cb, &s));
	ASSERT_EQ(3, s.n);
	ASSERT_EQ(1, s.k1);
	ASSERT_EQ(1, s.k2);
	ASSERT_EQ(1, s.k3);
	ASSERT_EQ(0, s.other);
}

/* Bad arguments are refused by the library and leave the store untouched. */
TEST_F(st, bad_arguments)
{
	char key256[STM_KEY_MAX + 2], key255[STM_KEY_MAX + 1];
	const char *keys[2] = { "ok", NULL };
	const void *nkeys[1] = { "x" };
	size_t nlens[1] = { 0 };
	struct stm_stats st0, st1;
	struct stm_limits lim;
	struct stm_value *v, *good;
	struct stm_coll *c;
	uint64_t clock0, clock1;
	char *big, *str;
	size_t len;

	ASSERT_EQ(0, stm_cas(self->s, "keep", 0, "kept", 4, NULL));
	ASSERT_EQ(0, stm_limits(self->s, &lim));
	ASSERT_EQ(0, stm_stats(self->s, &st0));
	clock0 = store_clock(self->s);
	memset(key256, 'k', STM_KEY_MAX + 1);
	key256[STM_KEY_MAX + 1] = '\0';
	memset(key255, 'k', STM_KEY_MAX);
	key255[STM_KEY_MAX] = '\0';

	/* NULL, empty key, 256-byte key */
	ASSERT_EQ(-EINVAL, stm_usevar(NULL, "k", &v));
	ASSERT_EQ(-EINVAL, stm_usevar(self->s, NULL, &v));
	ASSERT_EQ(-EINVAL, stm_usevar(self->s, "k", NULL));
	ASSERT_EQ(-EINVAL, stm_usevar(self->s, "", &v));
	ASSERT_EQ(NULL, v);
	ASSERT_EQ(-EINVAL, stm_usevar(self->s, key256, &v));
	ASSERT_EQ(-EINVAL, stm_usevar_n(self->s, NULL, 3, &v));
	ASSERT_EQ(-EINVAL, stm_usevar_n(self->s, "abc", 0, &v));
	ASSERT_EQ(-EINVAL, stm_usevar_n(self->s, key256, STM_KEY_MAX + 1, &v));
	ASSERT_EQ(-EINVAL, stm_using(NULL, keys, 1, &c));
	ASSERT_EQ(-EINVAL, stm_using(self->s, NULL, 1, &c));
	ASSERT_EQ(-EINVAL, stm_using(self->s, keys, 2, &c));	/* keys[1] NULL */
	ASSERT_EQ(-EINVAL, stm_using(self->s, keys, 1, NULL));
	keys[1] = "";
	ASSERT_EQ(-EINVAL, stm_using(self->s, keys, 2, &c));
	keys[1] = key256;
	ASSERT_EQ(-EINVAL, stm_using(self->s, keys, 2, &c));
	ASSERT_EQ(NULL, c);
	ASSERT_EQ(-EINVAL, stm_using_n(self->s, nkeys, nlens, 1, &c));
	ASSERT_EQ(-EINVAL, stm_using_n(self->s, nkeys, NULL, 1, &c));
	ASSERT_EQ(-EINVAL, stm_cas(self->s, "", 0, "x", 1, NULL));
	ASSERT_EQ(-EINVAL, stm_cas(self->s, key256, 0, "x", 1, NULL));
	ASSERT_EQ(-EINVAL, stm_cas(self->s, "x", 0, NULL, 1, NULL));
	ASSERT_EQ(-EINVAL, stm_cas(NULL, "x", 0, "x", 1, NULL));
	ASSERT_EQ(-EINVAL, stm_fetch_add(self->s, "", 1, NULL));
	ASSERT_EQ(-EINVAL, stm_fetch_add(self->s, NULL, 1, NULL));
	ASSERT_EQ(-EINVAL, stm_fetch_add(self->s, key256, 1, NULL));
	ASSERT_EQ(-EINVAL, stm_names(self->s, NULL, NULL));
	ASSERT_EQ(-EINVAL, stm_names(NULL, seen_cb, NULL));
	ASSERT_EQ(-EINVAL, stm_keys(self->s, NULL, NULL));
	ASSERT_EQ(-EINVAL, stm_dump(self->s, NULL));
	ASSERT_EQ(-EINVAL, stm_dump(NULL, stdout));
	ASSERT_EQ(-EINVAL, stm_info(NULL, NULL));
	ASSERT_EQ(-EINVAL, stm_stats(self->s, NULL));
	ASSERT_EQ(-EINVAL, stm_stores(NULL, NULL));
	ASSERT_EQ(-EINVAL, stm_value_set(NULL, "x", 1));
	ASSERT_EQ(-EINVAL, stm_value_set_i64(NULL, 1));
	ASSERT_EQ(-EINVAL, stm_value_i64(NULL, NULL));
	ASSERT_EQ(-EINVAL, stm_value_del(NULL));
	ASSERT_EQ(-EINVAL, stm_value_commit(NULL));
	ASSERT_EQ(-EINVAL, stm_value_refresh(NULL));
	ASSERT_EQ(-EINVAL, stm_coll_commit(NULL));
	ASSERT_EQ(-EINVAL, stm_coll_refresh(NULL));
	ASSERT_EQ(NULL, stm_value_data(NULL, &len));
	ASSERT_EQ(0U, len);
	ASSERT_EQ(0U, stm_value_version(NULL));
	ASSERT_EQ(0, stm_value_dirty(NULL));
	ASSERT_EQ(NULL, stm_coll_conflict(NULL));
	ASSERT_EQ(0U, stm_coll_count(NULL));
	stm_value_free(NULL);

	/* value over the limit: -E2BIG, and the copy keeps what it had */
	big = calloc(1, (size_t)lim.max_value_size + 1);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, stm_usevar(self->s, "keep", &good));
	ASSERT_EQ(-E2BIG, stm_value_set(good, big, (size_t)lim.max_value_size + 1));
	ASSERT_EQ(0, stm_value_dirty(good));
	ASSERT_EQ(0, memcmp(stm_value_data(good, &len), "kept", 4));
	ASSERT_EQ(-EINVAL, stm_value_set(good, NULL, 3));
	ASSERT_EQ(-E2BIG, stm_cas(self->s, "keep", 0, big, (size_t)lim.max_value_size + 1, NULL));
	ASSERT_EQ(0, stm_value_commit(good));			/* clean: validates */
	stm_value_free(good);

	/* too many keys for one call */
	{
		size_t n = (size_t)lim.max_keys_per_call + 1;
		const char **many = calloc(n, sizeof(*many));
		char (*names)[16] = calloc(n, sizeof(*names));

		ASSERT_NE(NULL, many);
		ASSERT_NE(NULL, names);
		for (size_t i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "m%zu", i);
			many[i] = names[i];
		}
		ASSERT_EQ(-E2BIG, stm_using(self->s, many, n, &c));
		free(many);
		free(names);
	}

	/* nothing reached the store: no commit, no key, same clock */
	ASSERT_EQ(0, stm_stats(self->s, &st1));
	clock1 = store_clock(self->s);
	ASSERT_EQ(clock0, clock1);
	ASSERT_EQ(st0.commits + 1, st1.commits);		/* the one validation above */
	ASSERT_EQ(st0.conflicts, st1.conflicts);
	ASSERT_EQ(1U, st1.keys);
	str = get_str(self->s, "keep", NULL);
	ASSERT_NE(NULL, str);
	ASSERT_STREQ("kept", str);
	free(str);

	/* the limits themselves are fine: 255-byte key, max_value_size value */
	ASSERT_EQ(0, stm_usevar(self->s, key255, &v));
	ASSERT_EQ(0, stm_value_set(v, big, lim.max_value_size));
	ASSERT_EQ(0, stm_value_commit(v));
	stm_value_free(v);
	ASSERT_EQ(0, stm_usevar(self->s, key255, &v));
	stm_value_data(v, &len);
	ASSERT_EQ(lim.max_value_size, len);
	stm_value_free(v);
	free(big);
}

/* Values bigger than the library's first guess: E2BIG, grow, read again. */
TEST_F(st, big_values)
{
	static const char *const keys[] = { "small", "big", "bigger" };
	size_t sizes[] = { 3, 1000, 40000 };
	struct stm_coll *c;
	char *buf;

	buf = malloc(40000);
	ASSERT_NE(NULL, buf);
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			buf[j] = (char)(i * 31 + j * 7);
		ASSERT_EQ(0, stm_cas(self->s, keys[i], 0, buf, sizes[i], NULL));
	}
	ASSERT_EQ(0, stm_using(self->s, keys, 3, &c));
	for (int i = 0; i < 3; i++) {
		const char *d;
		size_t len;

		d = stm_value_data(stm_coll_get(c, keys[i]), &len);
		ASSERT_EQ(sizes[i], len);
		for (size_t j = 0; j < len; j++)
			ASSERT_EQ((char)(i * 31 + j * 7), d[j]);
	}
	stm_coll_free(c);
	free(buf);
}

struct walk {
	int n, stop_after;
	unsigned char seen[200];
};

static int walk_cb(const void *key, size_t len, void *arg)
{
	struct walk *w = arg;
	char k[32];
	int i;

	if (len >= sizeof(k))
		return -1000;
	memcpy(k, key, len);
	k[len] = '\0';
	if (sscanf(k, "key-%d", &i) == 1 && i >= 0 && i < 200)
		w->seen[i]++;
	w->n++;
	if (w->stop_after && w->n == w->stop_after)
		return 7;
	return 0;
}

static int keyinfo_cb(const struct stm_key_info *ki, void *arg)
{
	int *bad = arg;

	if (ki->version == 0 || ki->value_len != 8)
		(*bad)++;
	return 0;
}

struct found {
	const char *name;
	int hits, total;
};

static int store_cb(const struct stm_store_ent *e, void *arg)
{
	struct found *f = arg;

	f->total++;
	if (!strcmp(e->name, f->name))
		f->hits++;
	return 0;
}

static int stop_cb(const struct stm_store_ent *e, void *arg)
{
	return 9;
}

TEST_F(st, names_keys_dump_stores)
{
	struct walk w = { 0 };
	struct found f = { .name = self->name };
	char *buf = NULL;
	size_t blen = 0;
	int bad = 0, lines = 0;
	FILE *out;

	for (int i = 0; i < 200; i++) {
		char k[16];

		snprintf(k, sizeof(k), "key-%03d", i);
		ASSERT_EQ(0, stm_fetch_add(self->s, k, i, NULL));
	}
	ASSERT_EQ(200, stm_names(self->s, walk_cb, &w));
	ASSERT_EQ(200, w.n);
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(1, w.seen[i]);
	memset(&w, 0, sizeof(w));
	w.stop_after = 5;
	ASSERT_EQ(7, stm_names(self->s, walk_cb, &w));		/* the callback's stop */
	ASSERT_EQ(5, w.n);
	ASSERT_EQ(200, stm_keys(self->s, keyinfo_cb, &bad));
	ASSERT_EQ(0, bad);

	out = open_memstream(&buf, &blen);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(200, stm_dump(self->s, out));
	fclose(out);
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	ASSERT_EQ(201, lines);					/* a header and a line a key */
	ASSERT_NE(NULL, strstr(buf, "\"key-000\""));
	ASSERT_NE(NULL, strstr(buf, "(i64 199)"));
	ASSERT_LT(strstr(buf, "key-000"), strstr(buf, "key-199"));	/* sorted */
	free(buf);

	if (lt_backend("dev")) {	/* stm_stores lists /dev/stm's stores */
		ASSERT_GE(stm_stores(store_cb, &f), 1);
		ASSERT_EQ(1, f.hits);
		ASSERT_EQ(9, stm_stores(stop_cb, NULL));
	}
}

TEST_F(st, info_and_stats)
{
	struct stm_stats a, b;
	struct stm_info in0, in1;
	struct stm_value *v;

	ASSERT_EQ(0, stm_info(self->s, &in0));
	ASSERT_EQ(0, stm_stats(self->s, &a));
	ASSERT_EQ(0, stm_usevar(self->s, "x", &v));
	ASSERT_EQ(0, stm_value_set(v, "12345", 5));
	ASSERT_EQ(0, stm_value_commit(v));
	ASSERT_EQ(0, stm_stats(self->s, &b));
	ASSERT_EQ(a.commits + 1, b.commits);
	ASSERT_GE(b.reads, a.reads + 1);
	ASSERT_EQ(1U, b.keys);
	ASSERT_EQ(6U, b.bytes);					/* key + value */
	ASSERT_EQ(0, stm_info(self->s, &in1));
	ASSERT_GT(in1.clock, in0.clock);
	ASSERT_EQ(stm_value_version(v), in1.clock);
	ASSERT_EQ(1U, in1.keys);
	ASSERT_EQ(0U, in1.flags & STM_NONBLOCK);
	stm_value_free(v);
}

TEST_F(st, read_only)
{
	struct stm_store *ro, *nb;
	struct stm_value *v;
	struct stm_coll *c;
	struct stm_info in;
	uint64_t clock0;
	static const char *const keys[] = { "r" };

	ASSERT_EQ(0, stm_cas(self->s, "r", 0, "orig", 4, NULL));
	ASSERT_EQ(0, stm_open(self->name, STM_RDONLY, 0, &ro));
	clock0 = store_clock(ro);
	ASSERT_EQ(0, stm_usevar(ro, "r", &v));
	ASSERT_EQ(0, stm_value_commit(v));			/* validating is reading */
	ASSERT_EQ(0, stm_value_set(v, "new", 3));
	ASSERT_EQ(-EBADF, stm_value_commit(v));
	stm_value_free(v);
	ASSERT_EQ(0, stm_using(ro, keys, 1, &c));
	ASSERT_EQ(0, stm_coll_commit(c));
	ASSERT_EQ(0, stm_value_del(stm_coll_at(c, 0)));
	ASSERT_EQ(-EBADF, stm_coll_commit(c));
	stm_coll_free(c);
	ASSERT_EQ(-EBADF, stm_cas(ro, "r", 0, "x", 1, NULL));
	ASSERT_EQ(-EBADF, stm_fetch_add(ro, "r2", 1, NULL));
	ASSERT_EQ(clock0, store_clock(ro));
	ASSERT_EQ(0, stm_info(ro, &in));
	ASSERT_EQ((uint32_t)STM_RDONLY, in.flags & STM_RDONLY);
	stm_close(ro);

	ASSERT_EQ(0, stm_open(self->name, STM_NONBLOCK, 0, &nb));
	ASSERT_EQ(0, stm_info(nb, &in));
	ASSERT_EQ((uint32_t)STM_NONBLOCK, in.flags & STM_NONBLOCK);
	stm_close(nb);
}

/* Another process's commit is visible; ours is visible to it. */
TEST_F(st, cross_process)
{
	char *str;
	pid_t pid;
	int status;

	ASSERT_EQ(0, stm_cas(self->s, "ping", 0, "1", 1, NULL));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct stm_store *s;
		struct stm_value *v;
		size_t len;
		const char *d;

		if (stm_open(self->name, 0, 0, &s))
			_exit(10);
		if (stm_usevar(s, "ping", &v))
			_exit(11);
		d = stm_value_data(v, &len);
		if (!d || len != 1 || d[0] != '1')
			_exit(12);
		if (stm_value_set(v, "2", 1) || stm_value_commit(v))
			_exit(13);
		stm_value_free(v);
		stm_close(s);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	str = get_str(self->s, "ping", NULL);
	ASSERT_NE(NULL, str);
	ASSERT_STREQ("2", str);
	free(str);
}

/* One store handle, several threads; a shared counter by usevar/commit. */
struct thr {
	struct stm_store *s;
	int id, rounds, conflicts, err;
};

static void *thr_fn(void *arg)
{
	struct thr *t = arg;
	char own[16];

	snprintf(own, sizeof(own), "own-%d", t->id);
	for (int i = 0; i < t->rounds && !t->err; i++) {
		struct stm_value *v;
		int64_t x;
		int ret;

		ret = stm_usevar(t->s, "counter", &v);
		while (!ret) {
			if (stm_value_i64(v, &x))
				x = 0;
			stm_value_set_i64(v, x + 1);
			ret = stm_value_commit(v);
			if (ret != -STM_ECONFLICT)
				break;
			t->conflicts++;
			ret = stm_value_refresh(v);
		}
		stm_value_free(v);
		if (!ret)
			ret = stm_fetch_add(t->s, own, 1, NULL);
		t->err = ret;
	}
	return NULL;
}

TEST_F(st, threads_share_a_store)
{
	struct thr t[4];
	pthread_t tid[4];

	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ .s = self->s, .id = i, .rounds = 150 };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, thr_fn, &t[i]));
	}
	for (int i = 0; i < 4; i++) {
		char own[16];

		ASSERT_EQ(0, pthread_join(tid[i], NULL));
		ASSERT_EQ(0, t[i].err);
		snprintf(own, sizeof(own), "own-%d", i);
		ASSERT_EQ(150, get_i64(self->s, own));
	}
	ASSERT_EQ(600, get_i64(self->s, "counter"));
}

/*
 * -STM_EBUSY with STM_NONBLOCK.  Other processes keep the key "hot" locked
 * as much as they can without ever changing it: each commits "hot" and 31
 * other keys from a snapshot in which "hot" is stale, so every one of
 * their commits locks the 32 keys, fails validation and unlocks.  Our
 * non-blocking commits of "hot" must meet the lock (bounded in time),
 * change nothing then, and succeed when retried as they are (Axon's
 * BusyRetry: no new snapshot).
 */
#define PAD_KEYS 31

static void hammer(const char *name, volatile int *shared)
{
	const char *keys[PAD_KEYS + 1];
	char pads[PAD_KEYS][8];
	struct stm_store *s;
	struct stm_coll *c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	keys[0] = "hot";
	for (int i = 0; i < PAD_KEYS; i++) {
		snprintf(pads[i], sizeof(pads[i]), "pad%d", i);
		keys[i + 1] = pads[i];
	}
	if (stm_open(name, 0, 0, &s))
		_exit(20);
	if (stm_using(s, keys, PAD_KEYS + 1, &c))
		_exit(21);
	__atomic_add_fetch(&shared[1], 1, __ATOMIC_SEQ_CST);	/* snapshot taken */
	while (!__atomic_load_n(&shared[2], __ATOMIC_SEQ_CST))	/* "hot" now stale */
		sched_yield();
	while (!__atomic_load_n(&shared[0], __ATOMIC_SEQ_CST)) {
		for (int i = 0; i <= PAD_KEYS; i++)
			stm_value_set(stm_coll_at(c, i), "hammer", 6);
		if (stm_coll_commit(c) != -STM_ECONFLICT)
			_exit(22);	/* it must never get through */
	}
	stm_coll_free(c);
	stm_close(s);
	_exit(0);
}

TEST_F_TIMEOUT(st, busy_with_nonblock, 300)
{
	volatile int *shared;	/* [0] stop, [1] hammers ready, [2] go */
	struct stm_store *nb;
	struct stm_value *v, *check;
	struct stm_stats st;
	pid_t pids[2];
	int busy = 0, retried_ok = 0, attempts = 0;
	time_t deadline;
	char val[32];

	if (!lt_backend("dev"))
		SKIP(return, "BusyRetry has no meaning on etcd (Documentation/etcd.rst)");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: commit locks are held with preemption off, never seen busy");
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_EQ(0, stm_cas(self->s, "hot", 0, "start", 5, NULL));
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0)
			hammer(self->name, shared);
	}
	while (__atomic_load_n(&shared[1], __ATOMIC_SEQ_CST) < 2)
		usleep(1000);
	ASSERT_EQ(0, stm_open(self->name, STM_NONBLOCK, 0, &nb));
	ASSERT_EQ(0, stm_usevar(nb, "hot", &v));
	ASSERT_EQ(0, stm_value_set(v, "ours-0", 6));
	ASSERT_EQ(0, stm_value_commit(v));		/* the hammers' "hot" is stale now */
	__atomic_store_n(&shared[2], 1, __ATOMIC_SEQ_CST);

	deadline = time(NULL) + 120;
	while ((busy < 3 || retried_ok < 3) && time(NULL) < deadline) {
		int ret;

		snprintf(val, sizeof(val), "ours-%d", ++attempts);
		ASSERT_EQ(0, stm_value_set(v, val, strlen(val)));
		ret = stm_value_commit(v);
		if (ret == -STM_EBUSY) {
			uint64_t ver = stm_value_version(v);

			busy++;
			/* nothing changed: the store still has our last commit */
			ASSERT_EQ(0, stm_usevar(self->s, "hot", &check));
			ASSERT_EQ(ver, stm_value_version(check));
			stm_value_free(check);
			ASSERT_EQ(1, stm_value_dirty(v));
			do {	/* retry the commit as it is */
				sched_yield();
				ret = stm_value_commit(v);
			} while (ret == -STM_EBUSY && time(NULL) < deadline);
			ASSERT_EQ(0, ret);
			ASSERT_GT(stm_value_version(v), ver);
			retried_ok++;
		}
		ASSERT_EQ(0, ret);
	}
	__atomic_store_n(&shared[0], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++) {
		int status;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
	}
	TH_LOG("%d commits, %d busy, %d retried as they were and succeeded",
	       attempts, busy, retried_ok);
	ASSERT_GT(busy, 0);
	ASSERT_GT(retried_ok, 0);
	ASSERT_EQ(0, stm_stats(nb, &st));
	ASSERT_GE(st.busy, (uint64_t)busy);
	/* the hammers never got through: "hot" is our last value, no pad exists */
	ASSERT_EQ(0, stm_usevar(self->s, "hot", &check));
	ASSERT_EQ(strlen(val), ({ size_t l; stm_value_data(check, &l); l; }));
	ASSERT_EQ(0, memcmp(stm_value_data(check, NULL), val, strlen(val)));
	stm_value_free(check);
	ASSERT_EQ(NULL, get_str(self->s, "pad0", NULL));
	stm_value_free(v);
	stm_close(nb);
	munmap((void *)shared, 4096);
}

TEST_HARNESS_MAIN
