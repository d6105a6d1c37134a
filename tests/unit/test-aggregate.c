// SPDX-License-Identifier: GPL-2.0
/* Grouping outstanding blocks by stack, the age filter and the sort keys. */
#include <stdlib.h>

#include "test.h"
#include "analysis/aggregate.h"

#define MS 1000000ull

static struct ml_block *blocks(size_t *n)
{
	static const struct ml_block b[] = {
		{ .addr = 0x30, .size = 100, .timestamp_ns = 1000 * MS, .stack_id = 2 },
		{ .addr = 0x10, .size = 10, .timestamp_ns = 100 * MS, .stack_id = 1 },
		{ .addr = 0x20, .size = 10, .timestamp_ns = 200 * MS, .stack_id = 1 },
		{ .addr = 0x40, .size = 10, .timestamp_ns = 300 * MS, .stack_id = 1 },
		{ .addr = 0x50, .size = 7, .timestamp_ns = 900 * MS, .stack_id = -17 },
	};
	struct ml_block *copy = malloc(sizeof(b));

	memcpy(copy, b, sizeof(b));
	*n = sizeof(b) / sizeof(b[0]);
	return copy;
}

static void group_by_size(void)
{
	struct ml_report r;
	size_t n;
	struct ml_block *b = blocks(&n);

	ml_aggregate_blocks(b, n, 1100 * MS, 0, ML_SORT_SIZE, &r);
	CHECK_EQ_U64(r.ngroups, 3);
	CHECK_EQ_U64(r.bytes, 137);
	CHECK_EQ_U64(r.count, 5);
	CHECK_EQ_U64(r.groups[0].stack_id, 2);
	CHECK_EQ_U64(r.groups[0].bytes, 100);
	CHECK_EQ_U64(r.groups[1].stack_id, 1);
	CHECK_EQ_U64(r.groups[1].bytes, 30);
	CHECK_EQ_U64(r.groups[1].count, 3);
	CHECK_EQ_U64(r.groups[1].nblocks, 3);
	/* a group's blocks are in address order */
	CHECK_EQ_U64(r.groups[1].blocks[0].addr, 0x10);
	CHECK_EQ_U64(r.groups[1].blocks[2].addr, 0x40);
	/* lost stacks are a group of their own, never dropped */
	CHECK_EQ_U64((uint64_t)(int64_t)r.groups[2].stack_id, (uint64_t)-17);
	CHECK_EQ_U64(r.groups[2].bytes, 7);
	ml_report_free(&r);
}

static void sort_by_count(void)
{
	struct ml_report r;
	size_t n;
	struct ml_block *b = blocks(&n);

	ml_aggregate_blocks(b, n, 1100 * MS, 0, ML_SORT_COUNT, &r);
	CHECK_EQ_U64(r.groups[0].stack_id, 1);
	CHECK_EQ_U64(r.groups[1].stack_id, 2);
	ml_report_free(&r);
}

static void age_filter(void)
{
	struct ml_report r;
	size_t n;
	struct ml_block *b = blocks(&n);

	/* now = 1100 ms, older than 850 ms: born at or before 250 ms */
	ml_aggregate_blocks(b, n, 1100 * MS, 850 * MS, ML_SORT_SIZE, &r);
	CHECK_EQ_U64(r.ngroups, 1);
	CHECK_EQ_U64(r.groups[0].count, 2);
	CHECK_EQ_U64(r.groups[0].bytes, 20);
	ml_report_free(&r);

	/* a block stamped after "now" is young */
	b = blocks(&n);
	ml_aggregate_blocks(b, n, 50 * MS, 1, ML_SORT_SIZE, &r);
	CHECK_EQ_U64(r.ngroups, 0);
	ml_report_free(&r);
}

static void totals(void)
{
	struct ml_stack_total t[] = {
		{ .stack_id = 4, .bytes = 64, .count = 1 },
		{ .stack_id = 5, .bytes = 0, .count = 0 },	/* all freed */
		{ .stack_id = 6, .bytes = 48, .count = 3 },
	};
	struct ml_report r;

	ml_aggregate_totals(t, 3, ML_SORT_SIZE, &r);
	CHECK_EQ_U64(r.ngroups, 2);
	CHECK_EQ_U64(r.groups[0].stack_id, 4);
	CHECK_EQ_U64(r.bytes, 112);
	ml_report_free(&r);
	ml_aggregate_totals(t, 3, ML_SORT_COUNT, &r);
	CHECK_EQ_U64(r.groups[0].stack_id, 6);
	ml_report_free(&r);
}

static void parse_sort(void)
{
	CHECK(ml_sort_parse("size") == ML_SORT_SIZE);
	CHECK(ml_sort_parse("count") == ML_SORT_COUNT);
	CHECK(ml_sort_parse("bytes") == -1);
}

int main(void)
{
	TEST(group_by_size);
	TEST(sort_by_count);
	TEST(age_filter);
	TEST(totals);
	TEST(parse_sort);
	return TEST_DONE();
}
