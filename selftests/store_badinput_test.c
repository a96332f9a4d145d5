// SPDX-License-Identifier: GPL-2.0
/*
 * store_badinput_test.c - a bad-input table covering every field of every
 * command: each case takes a valid request, breaks one thing, and expects
 * one errno; afterwards the store must be unchanged (keys, bytes, values,
 * versions, commit count), the unattached fd still unattached, and no
 * store created.  Commands that need a store fail with ENOTCONN before
 * ATTACH.  The runner fails the run on any kernel splat.
 *
 * Each case is a fixture variant, so each is its own KTAP line.
 */
#include "stm_test_util.h"
#include "kselftest_harness.h"

struct ctx {
	int fd;				/* attached to name */
	int raw;			/* open, never attached */
	char name[STMDEV_NAME_MAX];
	char newname[STMDEV_NAME_MAX];	/* must never come to exist */
	unsigned char *unmapped;	/* a page with nothing mapped */
	unsigned char *edge;		/* the mapped page just before it */
	unsigned char *ro;		/* a read-only page of zeroes */
	__u64 v3;			/* version of k3 */
	__u32 max_value, max_keys;
	__s64 delta;
	char buf[4][64];
	struct stmdev_read_ent re[4];
	struct stmdev_commit_ent ce[4];
	struct stmdev_read rd;
	struct stmdev_commit cm;
};

static const char *const fp_keys[] = { "k1", "k2", "k3", "new", "x" };
#define FP_N	ARRAY_SIZE(fp_keys)

/* ---- valid requests, to be broken by one field ------------------------- */

static void valid_read(struct ctx *c)
{
	rent_init(&c->re[0], "k1", 2, c->buf[0], sizeof(c->buf[0]));
	rent_init(&c->re[1], "k3", 2, c->buf[1], sizeof(c->buf[1]));
	memset(&c->rd, 0, sizeof(c->rd));
	c->rd.entries = t_ptr(c->re);
	c->rd.count = 2;
}

/* PUT new, PUT k1, READ k3: any partial application is visible. */
static void valid_commit(struct ctx *c)
{
	cent_put(&c->ce[0], "new", 3, "N", 1);
	cent_put(&c->ce[1], "k1", 2, "changed", 7);
	cent_read(&c->ce[2], "k3", 2, c->v3);
	memset(&c->cm, 0, sizeof(c->cm));
	c->cm.entries = t_ptr(c->ce);
	c->cm.count = 3;
}

static int do_read(struct ctx *c)
{
	return t_ioctl(c->fd, STMDEV_IOC_READ, &c->rd);
}

static int do_commit(struct ctx *c)
{
	return t_ioctl(c->fd, STMDEV_IOC_COMMIT, &c->cm);
}

/* COMMIT with the struct itself at c->edge (set up by the caller). */
static int do_commit_at(struct ctx *c)
{
	return t_ioctl(c->fd, STMDEV_IOC_COMMIT, c->edge);
}

static int do_attach(struct ctx *c, const void *name, size_t len, __u32 flags)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, len);
	a.flags = flags;
	a.mode = 0600;
	return t_ioctl(c->raw, STMDEV_IOC_ATTACH, &a);
}

static int do_unlink(struct ctx *c, const void *name, size_t len, __u64 rsv)
{
	struct stmdev_unlink u;

	memset(&u, 0, sizeof(u));
	memcpy(u.name, name, len);
	u.reserved = rsv;
	return t_ioctl(c->raw, STMDEV_IOC_UNLINK, &u);
}

/* ---- the table ------------------------------------------------------------ */

FIXTURE_VARIANT(bad) {
	int (*fn)(struct ctx *c);
	int err;	/* expected errno */
	int alt;	/* also acceptable (0: none) */
};

#define CASE2(id, e, a)							\
	static int case_##id(struct ctx *c);				\
	FIXTURE_VARIANT_ADD(bad, id) { .fn = case_##id, .err = (e), .alt = (a) }; \
	static int case_##id(struct ctx *c)
#define CASE(id, e) CASE2(id, e, 0)

FIXTURE(bad) {
	struct ctx c;
};

/* GET_FEATURES */
CASE(features_reserved0, EINVAL)
{
	struct stmdev_features f = { .reserved = { 1, 0 } };

	return t_ioctl(c->raw, STMDEV_IOC_GET_FEATURES, &f);
}
CASE(features_reserved1, EINVAL)
{
	struct stmdev_features f = { .reserved = { 0, 1ULL << 63 } };

	return t_ioctl(c->raw, STMDEV_IOC_GET_FEATURES, &f);
}
CASE(features_unmapped, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_GET_FEATURES, c->unmapped);
}
CASE(features_null, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_GET_FEATURES, NULL);
}
CASE(features_readonly, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_GET_FEATURES, c->ro);
}

/* NOP */
CASE(nop_reserved, EINVAL)
{
	struct stmdev_nop n = { .reserved = 1 };

	return t_ioctl(c->fd, STMDEV_IOC_NOP, &n);
}
CASE(nop_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_NOP, c->unmapped);
}

/* ATTACH (on the unattached fd) */
CASE(attach_name_empty, EINVAL)
{
	return do_attach(c, "", 1, STMDEV_ATTACH_CREAT);
}
CASE(attach_name_slash, EINVAL)
{
	return do_attach(c, "a/b", 4, STMDEV_ATTACH_CREAT);
}
CASE(attach_name_space, EINVAL)
{
	return do_attach(c, "a b", 4, STMDEV_ATTACH_CREAT);
}
CASE(attach_name_utf8, EINVAL)
{
	return do_attach(c, "caf\xc3\xa9", 6, STMDEV_ATTACH_CREAT);
}
CASE(attach_name_control_char, EINVAL)
{
	return do_attach(c, "a\nb", 4, STMDEV_ATTACH_CREAT);
}
CASE(attach_name_without_nul, ENAMETOOLONG)
{
	char n[STMDEV_NAME_MAX];

	memset(n, 'a', sizeof(n));
	return do_attach(c, n, sizeof(n), STMDEV_ATTACH_CREAT);
}
CASE(attach_flag_unknown, EINVAL)
{
	return do_attach(c, c->newname, strlen(c->newname),
			 STMDEV_ATTACH_CREAT | (1U << 4));
}
CASE(attach_flag_high, EINVAL)
{
	return do_attach(c, c->newname, strlen(c->newname),
			 STMDEV_ATTACH_CREAT | (1U << 31));
}
CASE(attach_reserved0, EINVAL)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	strcpy(a.name, c->newname);
	a.flags = STMDEV_ATTACH_CREAT;
	a.mode = 0600;
	a.reserved[0] = 1;
	return t_ioctl(c->raw, STMDEV_IOC_ATTACH, &a);
}
CASE(attach_reserved1, EINVAL)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	strcpy(a.name, c->newname);
	a.flags = STMDEV_ATTACH_CREAT;
	a.mode = 0600;
	a.reserved[1] = 1;
	return t_ioctl(c->raw, STMDEV_IOC_ATTACH, &a);
}
CASE(attach_unmapped, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_ATTACH, c->unmapped);
}
CASE(attach_null, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_ATTACH, NULL);
}
CASE(attach_second_store_on_fd, EBUSY)
{
	struct stmdev_attach a;

	memset(&a, 0, sizeof(a));
	strcpy(a.name, c->newname);
	a.flags = STMDEV_ATTACH_CREAT;
	a.mode = 0600;
	return t_ioctl(c->fd, STMDEV_IOC_ATTACH, &a);
}

/* UNLINK */
CASE(unlink_name_empty, EINVAL)
{
	return do_unlink(c, "", 1, 0);
}
CASE(unlink_name_slash, EINVAL)
{
	return do_unlink(c, "../x", 5, 0);
}
CASE(unlink_name_without_nul, ENAMETOOLONG)
{
	char n[STMDEV_NAME_MAX];

	memset(n, 'b', sizeof(n));
	return do_unlink(c, n, sizeof(n), 0);
}
CASE(unlink_reserved, EINVAL)
{
	/* our own store's name: it must survive */
	return do_unlink(c, c->name, strlen(c->name), 1);
}
CASE(unlink_unmapped, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_UNLINK, c->unmapped);
}
CASE(unlink_null, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_UNLINK, NULL);
}

/* INFO */
CASE(info_unattached, ENOTCONN)
{
	struct stmdev_info i;

	memset(&i, 0, sizeof(i));
	return t_ioctl(c->raw, STMDEV_IOC_INFO, &i);
}
CASE(info_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_INFO, c->unmapped);
}
CASE(info_readonly, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_INFO, c->ro);
}

/* LIST_STORES */
CASE(list_stores_reserved, EINVAL)
{
	struct stmdev_store_ent ent[2];
	struct stmdev_list_stores ls = {
		.addr = t_ptr(ent), .len = sizeof(ent), .reserved = 1,
	};

	return t_ioctl(c->raw, STMDEV_IOC_LIST_STORES, &ls);
}
CASE(list_stores_addr_unmapped, EFAULT)
{
	struct stmdev_list_stores ls = {
		.addr = t_ptr(c->unmapped),
		.len = 4 * sizeof(struct stmdev_store_ent),
	};

	return t_ioctl(c->raw, STMDEV_IOC_LIST_STORES, &ls);
}
CASE(list_stores_addr_readonly, EFAULT)
{
	struct stmdev_list_stores ls = {
		.addr = t_ptr(c->ro),
		.len = 4 * sizeof(struct stmdev_store_ent),
	};

	return t_ioctl(c->raw, STMDEV_IOC_LIST_STORES, &ls);
}
CASE(list_stores_unmapped, EFAULT)
{
	return t_ioctl(c->raw, STMDEV_IOC_LIST_STORES, c->unmapped);
}

/* READ */
CASE(read_unattached, ENOTCONN)
{
	valid_read(c);
	return t_ioctl(c->raw, STMDEV_IOC_READ, &c->rd);
}
CASE(read_flags_unknown, EINVAL)
{
	valid_read(c);
	c->rd.flags = 1U << 1;
	return do_read(c);
}
CASE(read_flags_high, EINVAL)
{
	valid_read(c);
	c->rd.flags = 1U << 31;
	return do_read(c);
}
CASE(read_reserved0, EINVAL)
{
	valid_read(c);
	c->rd.reserved0 = 1;
	return do_read(c);
}
CASE(read_reserved, EINVAL)
{
	valid_read(c);
	c->rd.reserved = 1;
	return do_read(c);
}
CASE(read_count_over_max, E2BIG)
{
	struct stmdev_read_ent *re;
	__u32 i;
	int ret;

	re = calloc(c->max_keys + 1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	for (i = 0; i <= c->max_keys; i++)
		rent_init(&re[i], "k1", 2, NULL, 0);
	valid_read(c);
	c->rd.entries = t_ptr(re);
	c->rd.count = c->max_keys + 1;
	ret = do_read(c);
	free(re);
	return ret;
}
CASE(read_count_huge, E2BIG)
{
	valid_read(c);
	c->rd.count = 0xffffffffU;
	return do_read(c);
}
CASE(read_entries_unmapped, EFAULT)
{
	valid_read(c);
	c->rd.entries = t_ptr(c->unmapped);
	return do_read(c);
}
CASE(read_entries_straddle, EFAULT)
{
	struct stmdev_read_ent *last;

	valid_read(c);
	last = (void *)(c->edge + 4096 - sizeof(*last));
	*last = c->re[0];
	c->rd.entries = t_ptr(last);
	return do_read(c);
}
CASE(read_key_len_0, EINVAL)
{
	valid_read(c);
	c->re[1].key_len = 0;
	return do_read(c);
}
CASE(read_key_len_256, EINVAL)
{
	static char k[256];

	valid_read(c);
	memset(k, 'k', sizeof(k));
	c->re[1].key_addr = t_ptr(k);
	c->re[1].key_len = 256;
	return do_read(c);
}
CASE(read_key_len_huge, EINVAL)
{
	valid_read(c);
	c->re[1].key_len = 0xffffffffU;
	return do_read(c);
}
CASE(read_key_unmapped, EFAULT)
{
	valid_read(c);
	c->re[1].key_addr = t_ptr(c->unmapped);
	return do_read(c);
}
CASE(read_key_null, EFAULT)
{
	valid_read(c);
	c->re[1].key_addr = 0;
	return do_read(c);
}
CASE(read_ent_reserved, EINVAL)
{
	valid_read(c);
	c->re[1].reserved = 1;
	return do_read(c);
}
CASE(read_val_unmapped, EFAULT)
{
	valid_read(c);
	c->re[1].val_addr = t_ptr(c->unmapped);
	return do_read(c);
}
CASE(read_val_readonly, EFAULT)
{
	valid_read(c);
	c->re[1].val_addr = t_ptr(c->ro);
	return do_read(c);
}
CASE(read_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_READ, c->unmapped);
}
CASE(read_null, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_READ, NULL);
}

/* COMMIT */
CASE(commit_unattached, ENOTCONN)
{
	valid_commit(c);
	return t_ioctl(c->raw, STMDEV_IOC_COMMIT, &c->cm);
}
CASE(commit_flags_unknown, EINVAL)
{
	valid_commit(c);
	c->cm.flags = 1U << 2;	/* bits 0 (NONBLOCK) and 1 (RETRY) are defined */
	return do_commit(c);
}
CASE(commit_flags_high, EINVAL)
{
	valid_commit(c);
	c->cm.flags = 1U << 31;
	return do_commit(c);
}
CASE(commit_reserved0, EINVAL)
{
	valid_commit(c);
	c->cm.reserved[0] = 1;
	return do_commit(c);
}
CASE(commit_reserved1, EINVAL)
{
	valid_commit(c);
	c->cm.reserved[1] = 1;
	return do_commit(c);
}
CASE(commit_count_over_max, E2BIG)
{
	struct stmdev_commit_ent *ce;
	char (*keys)[8];
	__u32 i;
	int ret;

	ce = calloc(c->max_keys + 1, sizeof(*ce));
	keys = calloc(c->max_keys + 1, sizeof(*keys));
	if (!ce || !keys)
		return -ENOMEM;
	for (i = 0; i <= c->max_keys; i++) {
		snprintf(keys[i], sizeof(keys[i]), "n%05u", i % 100000);
		cent_put(&ce[i], keys[i], strlen(keys[i]), "v", 1);
	}
	valid_commit(c);
	c->cm.entries = t_ptr(ce);
	c->cm.count = c->max_keys + 1;
	ret = do_commit(c);
	free(ce);
	free(keys);
	return ret;
}
CASE(commit_count_huge, E2BIG)
{
	valid_commit(c);
	c->cm.count = 0xffffffffU;
	return do_commit(c);
}
CASE(commit_entries_unmapped, EFAULT)
{
	valid_commit(c);
	c->cm.entries = t_ptr(c->unmapped);
	return do_commit(c);
}
CASE(commit_entries_straddle, EFAULT)
{
	struct stmdev_commit_ent *last;

	valid_commit(c);
	last = (void *)(c->edge + 4096 - sizeof(*last));
	*last = c->ce[0];
	c->cm.entries = t_ptr(last);
	c->cm.count = 2;
	return do_commit(c);
}
CASE(commit_key_len_0, EINVAL)
{
	valid_commit(c);
	c->ce[2].key_len = 0;
	return do_commit(c);
}
CASE(commit_key_len_256, EINVAL)
{
	static char k[256];

	valid_commit(c);
	memset(k, 'k', sizeof(k));
	cent_put(&c->ce[2], k, 256, "v", 1);
	return do_commit(c);
}
CASE(commit_key_len_huge, EINVAL)
{
	valid_commit(c);
	c->ce[2].key_len = 0xffffffffU;
	return do_commit(c);
}
CASE(commit_key_unmapped, EFAULT)
{
	valid_commit(c);
	c->ce[2].key_addr = t_ptr(c->unmapped);
	return do_commit(c);
}
CASE(commit_val_unmapped, EFAULT)
{
	valid_commit(c);
	c->ce[1].val_addr = t_ptr(c->unmapped);
	return do_commit(c);
}
CASE(commit_val_straddle, EFAULT)
{
	valid_commit(c);
	memset(c->edge + 4096 - 4, 'v', 4);
	cent_put(&c->ce[2], "x", 1, c->edge + 4096 - 4, 8);
	return do_commit(c);
}
CASE(commit_val_len_huge, E2BIG)
{
	valid_commit(c);
	c->ce[1].val_len = 0xffffffffU;
	return do_commit(c);
}
CASE(commit_val_over_max, E2BIG)
{
	unsigned char *v = calloc(1, c->max_value + 1);
	int ret;

	if (!v)
		return -ENOMEM;
	valid_commit(c);
	cent_put(&c->ce[2], "x", 1, v, c->max_value + 1);
	ret = do_commit(c);
	free(v);
	return ret;
}
CASE(commit_op_unknown, EINVAL)
{
	valid_commit(c);
	c->ce[2].op = STMDEV_OP_ADD + 1;
	return do_commit(c);
}
CASE(commit_op_high, EINVAL)
{
	valid_commit(c);
	c->ce[2].op = 0xffff;
	return do_commit(c);
}
CASE(commit_ent_flags_unknown, EINVAL)
{
	valid_commit(c);
	c->ce[1].flags = 1U << 3;	/* the first flag not defined */
	return do_commit(c);
}
CASE(commit_ent_flags_high, EINVAL)
{
	valid_commit(c);
	c->ce[1].flags = 1U << 15;
	return do_commit(c);
}
CASE(commit_ent_reserved, EINVAL)
{
	valid_commit(c);
	c->ce[2].reserved = 1;
	return do_commit(c);
}
CASE(commit_dup_put, EINVAL)
{
	static char k1copy[] = "k1";

	valid_commit(c);
	/* same bytes at another address, not adjacent */
	cent_put(&c->ce[2], k1copy, 2, "again", 5);
	return do_commit(c);
}
CASE(commit_dup_put_del, EINVAL)
{
	valid_commit(c);
	cent_del(&c->ce[2], "new", 3);
	return do_commit(c);
}
CASE(commit_dup_put_add, EINVAL)
{
	valid_commit(c);
	c->delta = 1;
	cent_add(&c->ce[2], "k1", 2, &c->delta);
	return do_commit(c);
}
CASE(commit_dup_read, EINVAL)
{
	valid_commit(c);
	cent_read(&c->ce[3], "k3", 2, c->v3);
	c->cm.count = 4;
	return do_commit(c);
}
CASE(commit_add_len_4, EINVAL)
{
	valid_commit(c);
	c->delta = 1;
	cent_add(&c->ce[2], "k2", 2, &c->delta);
	c->ce[2].val_len = 4;
	return do_commit(c);
}
CASE(commit_add_len_0, EINVAL)
{
	valid_commit(c);
	c->delta = 1;
	cent_add(&c->ce[2], "k2", 2, &c->delta);
	c->ce[2].val_len = 0;
	return do_commit(c);
}
CASE(commit_add_to_string, EINVAL)
{
	valid_commit(c);
	c->delta = 1;
	/* k3 holds "three": not 8 bytes */
	cent_add(&c->ce[2], "k3", 2, &c->delta);
	return do_commit(c);
}
CASE(commit_add_val_unmapped, EFAULT)
{
	valid_commit(c);
	cent_add(&c->ce[2], "k2", 2, (const __s64 *)c->unmapped);
	return do_commit(c);
}
CASE(commit_add_fetch_readonly, EFAULT)
{
	valid_commit(c);
	/* the delta (0) is readable, the result cannot be written back */
	cent_add(&c->ce[2], "k2", 2, (const __s64 *)c->ro);
	c->ce[2].flags = STMDEV_CENT_FETCH;
	return do_commit(c);
}
CASE(commit_readonly_struct, EFAULT)
{
	/* copying `version` and `conflict` back must fail, before any write */
	valid_commit(c);
	memcpy(c->edge, &c->cm, sizeof(c->cm));
	if (mprotect(c->edge, 4096, PROT_READ))
		return -EPROTO;
	return do_commit_at(c);
}
CASE(commit_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_COMMIT, c->unmapped);
}
CASE(commit_null, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_COMMIT, NULL);
}

/* LIST */
CASE(list_unattached, ENOTCONN)
{
	struct stmdev_list l = { .addr = t_ptr(c->buf), .len = sizeof(c->buf) };

	return t_ioctl(c->raw, STMDEV_IOC_LIST, &l);
}
CASE(list_reserved, EINVAL)
{
	struct stmdev_list l = { .addr = t_ptr(c->buf), .len = sizeof(c->buf),
				 .reserved = 1 };

	return t_ioctl(c->fd, STMDEV_IOC_LIST, &l);
}
CASE(list_too_small, E2BIG)
{
	struct stmdev_list l = { .addr = t_ptr(c->buf),
				 .len = sizeof(struct stmdev_key_rec) };

	return t_ioctl(c->fd, STMDEV_IOC_LIST, &l);
}
CASE(list_len_0, E2BIG)
{
	struct stmdev_list l = { .addr = t_ptr(c->buf), .len = 0 };

	return t_ioctl(c->fd, STMDEV_IOC_LIST, &l);
}
CASE(list_addr_unmapped, EFAULT)
{
	struct stmdev_list l = { .addr = t_ptr(c->unmapped), .len = 4096 };

	return t_ioctl(c->fd, STMDEV_IOC_LIST, &l);
}
CASE(list_addr_readonly, EFAULT)
{
	struct stmdev_list l = { .addr = t_ptr(c->ro), .len = 4096 };

	return t_ioctl(c->fd, STMDEV_IOC_LIST, &l);
}
CASE(list_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_LIST, c->unmapped);
}

/* STATS */
CASE(stats_unattached, ENOTCONN)
{
	struct stmdev_stats st;

	memset(&st, 0, sizeof(st));
	return t_ioctl(c->raw, STMDEV_IOC_STATS, &st);
}
CASE(stats_unmapped, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_STATS, c->unmapped);
}
CASE(stats_readonly, EFAULT)
{
	return t_ioctl(c->fd, STMDEV_IOC_STATS, c->ro);
}

/* Commands that are not ours */
CASE(ioctl_unknown_nr, ENOTTY)
{
	char buf[64] = { 0 };

	return t_ioctl(c->fd, _IOWR(STMDEV_IOC_MAGIC, 0x7f, char[64]), buf);
}
CASE(ioctl_wrong_magic, ENOTTY)
{
	struct stmdev_info i;

	memset(&i, 0, sizeof(i));
	return t_ioctl(c->fd, _IOWR(STMDEV_IOC_MAGIC + 1, 0x04,
				      struct stmdev_info), &i);
}
CASE2(ioctl_wrong_size, ENOTTY, EINVAL)
{
	char buf[64] = { 0 };

	/* COMMIT's number with a 64-byte struct */
	return t_ioctl(c->fd, _IOWR(STMDEV_IOC_MAGIC, 0x07, char[64]), buf);
}
CASE2(ioctl_wrong_direction, ENOTTY, EINVAL)
{
	struct stmdev_commit cm;

	valid_commit(c);
	cm = c->cm;
	return t_ioctl(c->fd, _IOW(STMDEV_IOC_MAGIC, 0x07,
				     struct stmdev_commit), &cm);
}

/* ---- fixture -------------------------------------------------------------- */

FIXTURE_SETUP(bad)
{
	struct ctx *c = &self->c;
	struct stmdev_features f;
	struct t_val v;
	unsigned char *p;

	c->fd = c->raw = -1;
	t_name(c->name, sizeof(c->name), "bad");
	t_name(c->newname, sizeof(c->newname), "badnew");
	c->fd = t_open_attach(c->name, STMDEV_ATTACH_CREAT |
				STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, c->fd);
	c->raw = t_open();
	ASSERT_LE(0, c->raw);
	ASSERT_EQ(0, t_features(c->fd, &f));
	c->max_value = f.max_value_size;
	c->max_keys = f.max_keys_per_call;
	ASSERT_LT(0U, c->max_keys);

	ASSERT_EQ(0, t_put_str(c->fd, "k1", "one", NULL));
	ASSERT_EQ(0, t_put_i64(c->fd, "k2", 7, NULL));
	ASSERT_EQ(0, t_put_str(c->fd, "k3", "three", &c->v3));
	ASSERT_EQ(0, t_get_str(c->fd, "k3", &v));
	ASSERT_EQ(c->v3, v.version);

	/*
	 * [edge page][inaccessible page], and a read-only page.  The second
	 * page is PROT_NONE rather than unmapped, so that no later mmap
	 * (ours or libc's) can land in the hole.
	 */
	p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mprotect(p + 4096, 4096, PROT_NONE));
	c->edge = p;
	c->unmapped = p + 4096;
	c->ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c->ro);
}

FIXTURE_TEARDOWN(bad)
{
	struct ctx *c = &self->c;

	if (c->fd >= 0)
		close(c->fd);
	if (c->raw >= 0)
		close(c->raw);
	t_unlink(c->name);
	t_unlink(c->newname);
}

TEST_F(bad, rejected_and_nothing_changed)
{
	struct ctx *c = &self->c;
	struct t_fp before, after;
	struct stmdev_info info;
	int ret, diff;

	ASSERT_EQ(0, t_fingerprint(c->fd, fp_keys, FP_N, &before));
	ret = variant->fn(c);
	if (variant->alt && ret == -variant->alt)
		ret = -variant->err;
	EXPECT_EQ(-variant->err, ret) {
		TH_LOG("expected %s, got %s", strerror(variant->err),
		       ret ? strerror(-ret) : "success");
	}

	/* the store: unchanged, still named */
	ASSERT_EQ(0, t_fingerprint(c->fd, fp_keys, FP_N, &after));
	diff = t_fp_diff(&before, &after);
	EXPECT_EQ(0, diff) {
		TH_LOG("store changed (%s): clock %llu->%llu keys %llu->%llu bytes %llu->%llu commits %llu->%llu",
		       diff == 1 ? "counters" : fp_keys[diff - 2],
		       (unsigned long long)before.clock,
		       (unsigned long long)after.clock,
		       (unsigned long long)before.keys,
		       (unsigned long long)after.keys,
		       (unsigned long long)before.bytes,
		       (unsigned long long)after.bytes,
		       (unsigned long long)before.commits,
		       (unsigned long long)after.commits);
	}
	ASSERT_EQ(0, t_info(c->fd, &info));
	EXPECT_EQ(0U, info.unlinked);
	EXPECT_STREQ(c->name, info.name);
	/* the unattached fd is still unattached, and no store was created */
	EXPECT_EQ(-ENOTCONN, t_info(c->raw, &info));
	EXPECT_EQ(-ENOENT, t_unlink(c->newname));
}

/* ---- edges that are valid ------------------------------------------------- */

TEST(name_of_63_bytes_and_every_allowed_character)
{
	char name[STMDEV_NAME_MAX];
	struct stmdev_info info;
	int fd;

	memset(name, 0, sizeof(name));
	snprintf(name, sizeof(name), "AZaz09._-%d-", (int)getpid());
	memset(name + strlen(name), 'x', 63 - strlen(name));
	ASSERT_EQ(63U, strlen(name));
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_info(fd, &info));
	EXPECT_EQ(0, memcmp(info.name, name, 64));
	close(fd);
	ASSERT_EQ(0, t_unlink(name));
}

TEST(commands_needing_no_store_work_unattached)
{
	struct stmdev_store_ent ent[2];
	struct stmdev_list_stores ls = { .addr = t_ptr(ent), .len = sizeof(ent) };
	struct stmdev_features f;
	struct stmdev_nop nop = { 0 };
	char name[STMDEV_NAME_MAX];
	int fd = t_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, t_features(fd, &f));
	EXPECT_EQ(0, t_ioctl(fd, STMDEV_IOC_NOP, &nop));
	EXPECT_EQ(0, t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls));
	t_name(name, sizeof(name), "nostore");
	EXPECT_EQ(-ENOENT, t_unlink(name));
	close(fd);
}

/*
 * The name ends at its NUL: bytes after it are either refused (EINVAL) or
 * ignored, never part of the name (two spellings, two stores).
 */
TEST(bytes_after_the_name_nul)
{
	struct stmdev_attach a;
	struct stmdev_info info;
	char name[STMDEV_NAME_MAX];
	int fd1, fd2, r1, r2;
	size_t n;

	t_name(name, sizeof(name), "nul");
	n = strlen(name);
	fd1 = t_open();
	fd2 = t_open();
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, n);
	memset(a.name + n + 1, 'A', sizeof(a.name) - n - 2);
	a.flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL;
	a.mode = 0600;
	r1 = t_ioctl(fd1, STMDEV_IOC_ATTACH, &a);
	memset(a.name + n + 1, 'B', sizeof(a.name) - n - 2);
	a.flags = 0;
	r2 = t_ioctl(fd2, STMDEV_IOC_ATTACH, &a);
	TH_LOG("garbage after the NUL: create %d, attach %d", r1, r2);
	if (r1 == 0) {
		/* ignored: the second spelling is the same store */
		ASSERT_EQ(0, r2);
		ASSERT_EQ(0, t_put_str(fd1, "k", "v", NULL));
		ASSERT_EQ(0, t_info(fd2, &info));
		EXPECT_EQ(1ULL, info.keys);
		EXPECT_STREQ(name, info.name);
		EXPECT_EQ(0, t_unlink(name));
	} else {
		EXPECT_EQ(-EINVAL, r1);
		EXPECT_EQ(-EINVAL, r2);
		EXPECT_EQ(-ENOENT, t_unlink(name));
	}
	close(fd1);
	close(fd2);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++)
			return false;
	return true;
}

/* Out structs are written in full: no stale or kernel bytes in padding. */
TEST(out_structs_have_no_stale_bytes)
{
	struct stmdev_store_ent ent[64];
	struct stmdev_list_stores ls;
	struct stmdev_features f;
	struct stmdev_info info;
	struct stmdev_stats st;
	unsigned char buf[256] __attribute__((aligned(8)));
	char name[STMDEV_NAME_MAX];
	__u64 cursor = 0;
	__u32 count, i;
	size_t n;
	int fd, calls, found = 0;

	t_name(name, sizeof(name), "pad");
	n = strlen(name);
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put(fd, "abc", 3, "v", 1, NULL));

	memset(&info, 0xa5, sizeof(info));
	memset(&info.reserved, 0, sizeof(info.reserved));
	info.reserved0 = 0;
	ASSERT_EQ(0, t_ioctl(fd, STMDEV_IOC_INFO, &info));
	EXPECT_TRUE(all_zero(info.name + n, sizeof(info.name) - n));

	memset(&st, 0, sizeof(st));
	ASSERT_EQ(0, t_ioctl(fd, STMDEV_IOC_STATS, &st));
	EXPECT_TRUE(all_zero(st.reserved, sizeof(st.reserved)));
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(0, t_ioctl(fd, STMDEV_IOC_GET_FEATURES, &f));
	EXPECT_TRUE(all_zero(f.reserved, sizeof(f.reserved)));

	memset(&ls, 0, sizeof(ls));
	for (calls = 0; calls < 1000; calls++) {
		memset(ent, 0xa5, sizeof(ent));
		ls.addr = t_ptr(ent);
		ls.len = sizeof(ent);
		ASSERT_EQ(0, t_ioctl(fd, STMDEV_IOC_LIST_STORES, &ls));
		for (i = 0; i < ls.count; i++) {
			size_t l = strnlen(ent[i].name, sizeof(ent[i].name));

			ASSERT_GT(sizeof(ent[i].name), l);
			EXPECT_TRUE(all_zero(ent[i].name + l, sizeof(ent[i].name) - l));
			EXPECT_EQ(0U, ent[i].reserved);
			found += !strcmp(ent[i].name, name);
		}
		if (!ls.cursor)
			break;
	}
	EXPECT_EQ(1, found);

	/* LIST: padding after the key bytes is zero */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, t_list(fd, &cursor, buf, sizeof(buf), &count));
	ASSERT_EQ(1U, count);
	EXPECT_EQ(0, memcmp(buf + sizeof(struct stmdev_key_rec), "abc", 3));
	EXPECT_TRUE(all_zero(buf + sizeof(struct stmdev_key_rec) + 3, 5));
	close(fd);
	t_unlink(name);
}

/* Not in the contract either way: logged, and the store must not change. */
TEST(count_zero_is_logged)
{
	static const char *const keys[] = { "k" };
	char name[STMDEV_NAME_MAX];
	struct stmdev_read rd = { 0 };
	struct stmdev_commit cm = { 0 };
	struct t_fp before, after;
	int fd, r1, r2;

	t_name(name, sizeof(name), "zero");
	fd = t_open_attach(name, STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_put_str(fd, "k", "v", NULL));
	ASSERT_EQ(0, t_fingerprint(fd, keys, 1, &before));
	r1 = t_ioctl(fd, STMDEV_IOC_READ, &rd);
	r2 = t_ioctl(fd, STMDEV_IOC_COMMIT, &cm);
	TH_LOG("READ count 0: %d, COMMIT count 0: %d (version %llu)", r1, r2,
	       (unsigned long long)cm.version);
	EXPECT_TRUE(r1 == 0 || r1 == -EINVAL);
	EXPECT_TRUE(r2 == 0 || r2 == -EINVAL);
	ASSERT_EQ(0, t_fingerprint(fd, keys, 1, &after));
	EXPECT_EQ(before.keys, after.keys);
	EXPECT_EQ(before.k[0].version, after.k[0].version);
	close(fd);
	t_unlink(name);
}

TEST_HARNESS_MAIN
