// SPDX-License-Identifier: GPL-2.0
/*
 * edge_copy_test.c - every small user copy reads and writes exactly its
 * bytes.  The module copies a call's argument struct, entries, keys, ADD
 * operands and values a word at a time (stm_copy_in(), stm_copy_out()):
 * each field is placed so that it ends on the last byte of a page whose
 * next page is PROT_NONE, at every length from 1 to past two words, and
 * the call must succeed with the right bytes; one byte more would fault.
 * store_badinput_test.c has the other side: a field one byte over the
 * edge fails with EFAULT.
 */
#include <sys/mman.h>
#include "stm_test_util.h"
#include "kselftest_harness.h"

#define PAGE	4096

FIXTURE(edge) {
	int fd;
	char name[STMDEV_NAME_MAX];
	unsigned char *edge;	/* a page; the next one is PROT_NONE */
};

FIXTURE_SETUP(edge)
{
	unsigned char *p;

	t_name(self->name, sizeof(self->name), "edge");
	self->fd = t_open_attach(self->name, STMDEV_ATTACH_CREAT |
				 STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mprotect(p + PAGE, PAGE, PROT_NONE));
	self->edge = p;
}

FIXTURE_TEARDOWN(edge)
{
	munmap(self->edge, 2 * PAGE);
	close(self->fd);
	t_unlink(self->name);
}

/* @len bytes that end on the page's last byte. */
static unsigned char *at_edge(unsigned char *edge, size_t len)
{
	return edge + PAGE - len;
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + 1);
}

/*
 * Keys of 1..40 bytes at the edge, then values of 1..40 bytes at the
 * edge: PUT each, READ it back into a buffer of exactly its size ending
 * at the edge, and compare.
 */
TEST_F(edge, keys_and_values_end_on_the_page)
{
	unsigned char key[64], val[64];
	struct stmdev_commit_ent e;
	struct stmdev_read_ent re;
	unsigned char *k, *v;
	__u32 len;

	for (len = 1; len <= 40; len++) {
		/* the key at the edge, an 8-byte value */
		k = at_edge(self->edge, len);
		fill(k, len, len);
		memcpy(key, k, len);
		fill(val, 8, len + 100);
		cent_put(&e, k, len, val, 8);
		ASSERT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL)) {
			TH_LOG("PUT, key of %u bytes at the edge", len);
		}
		rent_init(&re, k, len, val + 16, 8);
		ASSERT_EQ(0, t_read(self->fd, &re, 1, NULL));
		ASSERT_EQ(8U, re.val_len);
		ASSERT_EQ(0, memcmp(val + 16, val, 8));

		/* the value at the edge, under a key elsewhere */
		v = at_edge(self->edge, len);
		fill(v, len, len + 200);
		memcpy(val, v, len);
		cent_put(&e, key, len, v, len);
		ASSERT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL)) {
			TH_LOG("PUT, value of %u bytes at the edge", len);
		}
		/* read it back into exactly its room, at the edge */
		memset(v, 0, len);
		rent_init(&re, key, len, v, len);
		ASSERT_EQ(0, t_read(self->fd, &re, 1, NULL)) {
			TH_LOG("READ, value room of %u bytes at the edge", len);
		}
		ASSERT_EQ(len, re.val_len);
		ASSERT_EQ(0, memcmp(v, val, len));
	}
}

/* The entry arrays and the argument structs themselves end on the page. */
TEST_F(edge, entries_and_structs_end_on_the_page)
{
	static const char key[] = "edge-struct";
	struct stmdev_commit_ent *ce;
	struct stmdev_read_ent *re;
	struct stmdev_commit *cm;
	struct stmdev_read *rd;
	__u64 val = 0x1122334455667788ULL, out = 0, version;

	ce = (void *)at_edge(self->edge, sizeof(*ce));
	cent_put(ce, key, sizeof(key) - 1, &val, sizeof(val));
	ASSERT_EQ(0, t_commit(self->fd, ce, 1, NULL, NULL));

	cm = (void *)at_edge(self->edge, sizeof(*cm));
	memset(cm, 0, sizeof(*cm));
	ce = (void *)(self->edge);	/* the entry at the page's start */
	val++;
	cent_put(ce, key, sizeof(key) - 1, &val, sizeof(val));
	cm->entries = t_ptr(ce);
	cm->count = 1;
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_COMMIT, cm));
	version = cm->version;	/* the next struct takes its place */
	ASSERT_NE(0ULL, version);

	re = (void *)at_edge(self->edge, sizeof(*re));
	rent_init(re, key, sizeof(key) - 1, &out, sizeof(out));
	ASSERT_EQ(0, t_read(self->fd, re, 1, NULL));
	ASSERT_EQ(val, out);
	ASSERT_EQ(version, re->version);

	rd = (void *)at_edge(self->edge, sizeof(*rd));
	re = (void *)self->edge;
	out = 0;
	rent_init(re, key, sizeof(key) - 1, &out, sizeof(out));
	memset(rd, 0, sizeof(*rd));
	rd->entries = t_ptr(re);
	rd->count = 1;
	ASSERT_EQ(0, t_ioctl(self->fd, STMDEV_IOC_READ, rd));
	ASSERT_EQ(val, out);
	ASSERT_NE(0ULL, rd->clock);
}

/* ADD's 8-byte delta and bounded ADD's 24-byte operands at the edge. */
TEST_F(edge, add_operands_end_on_the_page)
{
	static const char key[] = "edge-add";
	struct stmdev_features f;
	struct stmdev_commit_ent e;
	__s64 *in, got;
	__u32 conflict;

	ASSERT_EQ(0, t_put_i64(self->fd, key, 100, NULL));
	in = (void *)at_edge(self->edge, sizeof(*in));
	*in = 5;
	cent_add(&e, key, sizeof(key) - 1, in);
	ASSERT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, key, &got, NULL));
	ASSERT_EQ(105, got);

	ASSERT_EQ(0, t_features(self->fd, &f));
	if (!(f.features & STMDEV_F_ADD_BOUND))
		SKIP(return, "no bounded ADD (STMDEV_F_ADD_BOUND)");
	in = (void *)at_edge(self->edge, 3 * sizeof(*in));
	in[0] = -100;
	in[1] = 10;		/* min: 105 - 100 = 5 is below it */
	in[2] = INT64_MAX;
	cent_add(&e, key, sizeof(key) - 1, in);
	e.val_len = 3 * sizeof(*in);
	e.flags = STMDEV_CENT_BOUND;
	ASSERT_EQ(-ERANGE, t_commit(self->fd, &e, 1, NULL, &conflict));
	ASSERT_EQ(0U, conflict);
	in[1] = 0;
	ASSERT_EQ(0, t_commit(self->fd, &e, 1, NULL, NULL));
	ASSERT_EQ(0, t_get_i64(self->fd, key, &got, NULL));
	ASSERT_EQ(5, got);
}

TEST_HARNESS_MAIN
