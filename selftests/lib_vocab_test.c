// SPDX-License-Identifier: GPL-2.0
/*
 * lib_vocab_test.c - the public header's one vocabulary (issue 12):
 * STM_RDONLY and STM_NONBLOCK accepted by a transaction and a commit, the
 * 1.1-1.3 values of the old spellings still accepted, STMDEV_F_* defined
 * by stmdev.h alone (this file includes no uapi header: it would not
 * build otherwise), and the general commit (struct stm_op) synchronously.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stmdev.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#define LT_STORE_PREFIX "vocab"
#include "lib_test_util.h"

FIXTURE(voc) {
	char name[STM_NAME_MAX + 1];
	struct stm_store *s;
};

FIXTURE_SETUP(voc)
{
	store_name(self->name, sizeof(self->name), "v");
	stm_unlink(self->name);
	ASSERT_EQ(0, stm_open(self->name, STM_CREAT | STM_EXCL, 0600, &self->s));
}

FIXTURE_TEARDOWN(voc)
{
	stm_close(self->s);
	stm_unlink(self->name);
}

static int put_k(struct stm_txn *tx, void *arg)
{
	return stm_put_i64(tx, "k", 5);
}

TEST_F(voc, feature_bits_from_stmdev_h)
{
	struct stm_limits lim;

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	EXPECT_EQ(1, !!(lim.features & STMDEV_F_COMMIT));
	EXPECT_EQ(1, !!(lim.features & STMDEV_F_READ));
	EXPECT_EQ(1ULL << 9, STMDEV_F_FETCH_OLD);
}

TEST_F(voc, one_spelling_for_read_only_and_non_blocking)
{
	struct stm_txn_opts ro = { .flags = STM_RDONLY };
	struct stm_txn_opts nb = { .flags = STM_NONBLOCK };
	struct stm_txn_opts bad = { .flags = 1U << 20 };	/* no such flag */

	EXPECT_EQ(STM_RDONLY, STM_TXN_READONLY);
	EXPECT_EQ(STM_NONBLOCK, STM_TXN_NONBLOCK);
	EXPECT_EQ(STM_NONBLOCK, STM_COMMIT_NONBLOCK);
	EXPECT_EQ(-EBADF, stm_atomic(self->s, put_k, NULL, &ro));
	EXPECT_EQ(0, stm_atomic(self->s, put_k, NULL, &nb));
	EXPECT_EQ(-EINVAL, stm_atomic(self->s, put_k, NULL, &bad));
}

TEST_F(voc, old_flag_values_still_accepted)
{
	/* What a program built against 1.3 passes. */
	struct stm_txn_opts ro_13 = { .flags = 1U << 0 };
	struct stm_txn_opts nb_13 = { .flags = 1U << 1 };
	struct stm_op op = { .key = "k", .op = STM_OP_PUT, .data = "x", .len = 1 };

	EXPECT_EQ(-EBADF, stm_atomic(self->s, put_k, NULL, &ro_13));
	EXPECT_EQ(0, stm_atomic(self->s, put_k, NULL, &nb_13));
	EXPECT_EQ(0, stm_commit(self->s, &op, 1, 1U << 0, NULL, NULL));
}

TEST_F(voc, general_commit_synchronously)
{
	uint64_t v1 = 0, v2 = 0;
	uint32_t conflict = 0;
	int64_t sum = 0;
	struct stm_op ops[3] = {
		{ .key = "a", .op = STM_OP_PUT, .data = "hello", .len = 5 },
		{ .key = "n", .op = STM_OP_ADD, .delta = 40, .result = &sum },
		{ .key = "b", .op = STM_OP_READ, .version = 0 },	/* absent */
	};
	struct stm_value *v;

	ASSERT_EQ(0, stm_commit(self->s, ops, 3, 0, &v1, &conflict));
	EXPECT_EQ(STM_NO_CONFLICT, conflict);
	EXPECT_EQ(40, sum);
	EXPECT_LT(0ULL, (unsigned long long)v1);

	/* A checked write at the version seen, and an addition's result. */
	ops[0] = (struct stm_op){ .key = "a", .op = STM_OP_PUT, .flags = STM_OP_CHECK,
				  .version = v1, .data = "bye", .len = 3 };
	ops[1].delta = 2;
	ASSERT_EQ(0, stm_commit(self->s, ops, 2, STM_NONBLOCK, &v2, NULL));
	EXPECT_EQ(42, sum);
	EXPECT_LT(v1, v2);

	/* A stale read: conflict, its index, nothing written. */
	ops[0] = (struct stm_op){ .key = "n", .op = STM_OP_ADD, .delta = 1000,
				  .result = &sum };
	ops[1] = (struct stm_op){ .key = "a", .op = STM_OP_READ, .version = v1 };
	sum = -1;
	EXPECT_EQ(-STM_ECONFLICT, stm_commit(self->s, ops, 2, 0, NULL, &conflict));
	EXPECT_EQ(1U, conflict);
	EXPECT_EQ(-1, sum);
	ASSERT_EQ(0, stm_usevar(self->s, "n", &v));
	EXPECT_EQ(0, stm_value_i64(v, &sum));
	EXPECT_EQ(42, sum);
	stm_value_free(v);
}

TEST_F(voc, general_commit_rejects_bad_input)
{
	struct stm_op op = { .key = "a", .op = STM_OP_PUT, .data = "x", .len = 1 };
	struct stm_limits lim;
	struct stm_op *many;
	struct stm_store *ro;

	EXPECT_EQ(-EINVAL, stm_commit(self->s, &op, 0, 0, NULL, NULL));
	EXPECT_EQ(-EINVAL, stm_commit(self->s, NULL, 1, 0, NULL, NULL));
	EXPECT_EQ(-EINVAL, stm_commit(self->s, &op, 1, 1U << 7, NULL, NULL));
	op.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, stm_commit(self->s, &op, 1, 0, NULL, NULL));
	op.reserved[1] = 0;
	op.op = 9;
	EXPECT_EQ(-EINVAL, stm_commit(self->s, &op, 1, 0, NULL, NULL));
	op.op = STM_OP_PUT;

	ASSERT_EQ(0, stm_limits(self->s, &lim));
	many = calloc(lim.max_keys_per_call + 1, sizeof(*many));
	ASSERT_NE(NULL, many);
	for (size_t i = 0; i <= lim.max_keys_per_call; i++)
		many[i] = op;
	EXPECT_EQ(-E2BIG, stm_commit(self->s, many, lim.max_keys_per_call + 1, 0,
				     NULL, NULL));
	free(many);

	ASSERT_EQ(0, stm_open(self->name, STM_RDONLY, 0, &ro));
	EXPECT_EQ(-EBADF, stm_commit(ro, &op, 1, 0, NULL, NULL));
	stm_close(ro);
}

TEST_HARNESS_MAIN
