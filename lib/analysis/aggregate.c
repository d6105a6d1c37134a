// SPDX-License-Identifier: GPL-2.0
/* Outstanding blocks grouped by allocation stack, filtered and sorted. */
#include <stdlib.h>
#include <string.h>

#include "analysis/aggregate.h"
#include "util/util.h"

int ml_sort_parse(const char *s)
{
	if (!strcmp(s, "size"))
		return ML_SORT_SIZE;
	if (!strcmp(s, "count"))
		return ML_SORT_COUNT;
	return -1;
}

int ml_group_parse(const char *s)
{
	static const char *const names[] = {
		[ML_GROUP_STACK] = "stack", [ML_GROUP_CALLSITE] = "callsite",
		[ML_GROUP_CACHE] = "cache", [ML_GROUP_GFP] = "gfp",
		[ML_GROUP_ORDER] = "order",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int by_stack_then_addr(const void *a, const void *b)
{
	const struct ml_block *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static enum ml_sort sort_key;

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b;
}

static int by_key(const void *a, const void *b)
{
	const struct ml_group *x = a, *y = b;
	int c;

	if (sort_key == ML_SORT_COUNT) {
		c = cmp_u64_desc(x->count, y->count);
		if (!c)
			c = cmp_u64_desc(x->bytes, y->bytes);
	} else {
		c = cmp_u64_desc(x->bytes, y->bytes);
		if (!c)
			c = cmp_u64_desc(x->count, y->count);
	}
	if (!c)
		c = x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
	return c;
}

static void sort_groups(struct ml_report *r, enum ml_sort sort)
{
	sort_key = sort;
	qsort(r->groups, r->ngroups, sizeof(*r->groups), by_key);
}

void ml_aggregate_blocks(struct ml_block *blocks, size_t n, uint64_t now_ns,
			 uint64_t min_age_ns, enum ml_sort sort,
			 struct ml_report *out)
{
	size_t kept = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		/* A block stamped after now is young, not ancient. */
		if (min_age_ns && (blocks[i].timestamp_ns > now_ns ||
				   now_ns - blocks[i].timestamp_ns < min_age_ns))
			continue;
		blocks[kept++] = blocks[i];
	}
	qsort(blocks, kept, sizeof(*blocks), by_stack_then_addr);
	out->blocks = blocks;
	out->groups = xcalloc(kept ? kept : 1, sizeof(*out->groups));
	for (size_t i = 0; i < kept; i++) {
		struct ml_group *g;

		if (i == 0 || blocks[i].stack_id != blocks[i - 1].stack_id) {
			g = &out->groups[out->ngroups++];
			g->stack_id = blocks[i].stack_id;
			g->blocks = &blocks[i];
		}
		g = &out->groups[out->ngroups - 1];
		g->bytes += blocks[i].size;
		g->count++;
		g->nblocks++;
		out->bytes += blocks[i].size;
		out->count++;
	}
	sort_groups(out, sort);
}

void ml_aggregate_totals(const struct ml_stack_total *totals, size_t n,
			 enum ml_sort sort, struct ml_report *out)
{
	memset(out, 0, sizeof(*out));
	out->groups = xcalloc(n ? n : 1, sizeof(*out->groups));
	for (size_t i = 0; i < n; i++) {
		struct ml_group *g;

		if (!totals[i].count)
			continue;
		g = &out->groups[out->ngroups++];
		g->stack_id = totals[i].stack_id;
		g->bytes = totals[i].bytes;
		g->count = totals[i].count;
		out->bytes += g->bytes;
		out->count += g->count;
	}
	sort_groups(out, sort);
}

void ml_report_free(struct ml_report *r)
{
	free(r->groups);
	free(r->blocks);
	memset(r, 0, sizeof(*r));
}
