// SPDX-License-Identifier: GPL-2.0
/* The user-space tracker table: blocks in and out, stacks stored once. */
#include <stdlib.h>

#include "test.h"
#include "tracker/table.h"

static void blocks_in_and_out(void)
{
	struct ml_table *tab = ml_table_new(0);
	struct ml_tracker t = {};
	struct ml_block b = { .size = 8 }, *v;
	uint64_t c[ML_CNT_MAX];
	long n;

	ml_table_bind(tab, &t);
	/* enough keys to grow the table several times, colliding runs */
	for (uint64_t k = 1; k <= 5000; k++) {
		b.addr = k * 4096;
		ml_table_alloc(tab, &b);
	}
	CHECK_EQ_U64(ml_table_size(tab), 5000);
	for (uint64_t k = 1; k <= 5000; k += 2)
		CHECK(ml_table_free_key(tab, k * 4096));
	CHECK(!ml_table_free_key(tab, 4096));	/* already gone */
	CHECK_EQ_U64(ml_table_size(tab), 2500);
	for (uint64_t k = 2; k <= 5000; k += 2) {
		if (!ml_table_free_key(tab, k * 4096)) {
			CHECK(!"an even key is lost");
			break;
		}
	}
	CHECK_EQ_U64(ml_table_size(tab), 0);
	b.addr = 77;
	ml_table_alloc(tab, &b);
	ml_table_alloc(tab, &b);		/* again while outstanding */
	n = ml_tracker_blocks(&t, &v);
	CHECK_EQ_U64(n, 1);
	free(v);
	ml_tracker_counters(&t, c);
	CHECK_EQ_U64(c[ML_CNT_MISSED_FREE], 1);
	ml_table_free(tab);
}

static void full_table(void)
{
	struct ml_table *tab = ml_table_new(2);
	struct ml_tracker t = {};
	struct ml_block b = { .size = 1 };
	uint64_t c[ML_CNT_MAX];

	ml_table_bind(tab, &t);
	for (b.addr = 1; b.addr <= 3; b.addr++)
		ml_table_alloc(tab, &b);
	CHECK_EQ_U64(ml_table_size(tab), 2);
	ml_tracker_counters(&t, c);
	CHECK_EQ_U64(c[ML_CNT_ALLOCS_FULL], 1);
	ml_table_free(tab);
}

static void stacks_once(void)
{
	struct ml_table *tab = ml_table_new(0);
	struct ml_tracker t = {};
	uint64_t a[] = { 1, 2, 3 }, b[] = { 1, 2, 4 }, out[8];
	int32_t ida, idb;

	ml_table_bind(tab, &t);
	ida = ml_table_stack(tab, a, 3);
	idb = ml_table_stack(tab, b, 3);
	CHECK(ida != idb);
	CHECK_EQ_U64(ml_table_stack(tab, a, 3), ida);
	CHECK_EQ_U64(ml_table_stack(tab, a, 2), ml_table_stack(tab, b, 2));
	for (uint64_t i = 0; i < 3000; i++) {	/* grow the index */
		uint64_t s[2] = { i, i + 1 };

		ml_table_stack(tab, s, 2);
	}
	CHECK_EQ_U64(ml_table_stack(tab, b, 3), idb);
	CHECK_EQ_U64(ml_tracker_stack(&t, idb, out, 8), 3);
	CHECK_EQ_U64(out[2], 4);
	ml_table_free(tab);
}

static void cache_names(void)
{
	struct ml_table *tab = ml_table_new(0);
	struct ml_tracker t = {};
	uint64_t k1, k2;
	char buf[32];

	ml_table_bind(tab, &t);
	k1 = ml_table_cache(tab, "dentry");
	k2 = ml_table_cache(tab, "filp");
	CHECK(k1 != k2 && k1 == ml_table_cache(tab, "dentry"));
	CHECK(ml_tracker_cache_name(&t, k2, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "filp");
	CHECK(ml_tracker_cache_name(&t, 12345, buf, sizeof(buf)) < 0);
	ml_table_free(tab);
}

int main(void)
{
	TEST(blocks_in_and_out);
	TEST(full_table);
	TEST(stacks_once);
	TEST(cache_names);
	return TEST_DONE();
}
