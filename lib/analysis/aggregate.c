// SPDX-License-Identifier: GPL-2.0
/* Outstanding blocks grouped by allocation stack, filtered and sorted. */
#include <stdlib.h>
#include <string.h>

#include "analysis/aggregate.h"
#include "util/sort.h"
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

static uint64_t group_key(const struct ml_block *b, enum ml_group_key group)
{
	switch (group) {
	case ML_GROUP_CALLSITE:
		return b->call_site;
	case ML_GROUP_CACHE:
		if (b->kind == ML_KIND_CACHE)
			return b->cache;
		if (b->kind == ML_KIND_KMALLOC)
			return ML_CACHE_KMALLOC(b->size);
		return ML_CACHE_OTHER(b->kind);
	case ML_GROUP_GFP:
		return b->gfp;
	case ML_GROUP_ORDER:
		return b->kind == ML_KIND_PAGE ? b->order : UINT64_MAX;
	default:
		return (uint64_t)(int64_t)b->stack_id;
	}
}

void ml_aggregate_blocks_by(struct ml_block *blocks, size_t n, uint64_t now_ns,
			    uint64_t min_age_ns, enum ml_group_key group,
			    enum ml_sort sort, struct ml_report *out)
{
	struct ml_block *sorted;
	struct ml_sort_rec *k;
	size_t kept = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct ml_block *b = &blocks[i];

		/* A block stamped after now is young, not ancient. */
		if (min_age_ns && (b->timestamp_ns > now_ns ||
				   now_ns - b->timestamp_ns < min_age_ns))
			continue;
		if (b->backing) {
			out->backing_bytes[b->backing % ML_BACKING_MAX] += b->size;
			out->backing_count[b->backing % ML_BACKING_MAX]++;
			continue;
		}
		if (group == ML_GROUP_ORDER && b->kind != ML_KIND_PAGE)
			continue;
		out->kind_bytes[b->kind % ML_KIND_MAX] += b->size;
		out->kind_count[b->kind % ML_KIND_MAX]++;
		blocks[kept++] = *b;
	}

	/* By group, then address: a radix sort, linear in the blocks. */
	k = xmalloc((kept ? kept : 1) * sizeof(*k));
	for (size_t i = 0; i < kept; i++) {
		k[i].key = group_key(&blocks[i], group);
		k[i].sub = blocks[i].addr;
		k[i].idx = i;
	}
	ml_sort_recs(k, kept);
	sorted = xmalloc((kept ? kept : 1) * sizeof(*sorted));
	for (size_t i = 0; i < kept; i++)
		sorted[i] = blocks[k[i].idx];
	free(blocks);

	out->blocks = sorted;
	out->groups = xcalloc(kept ? kept : 1, sizeof(*out->groups));
	for (size_t i = 0; i < kept; i++) {
		struct ml_group *g;

		if (i == 0 || k[i].key != k[i - 1].key) {
			g = &out->groups[out->ngroups++];
			g->key = k[i].key;
			g->stack_id = sorted[i].stack_id;
			g->blocks = &sorted[i];
		}
		g = &out->groups[out->ngroups - 1];
		/* a sample counts for what it stands for (--sample-bytes) */
		g->bytes += ml_block_bytes(&sorted[i]);
		g->bytes_req += sorted[i].bytes_req ? sorted[i].bytes_req :
				ml_block_bytes(&sorted[i]);
		g->count += ml_block_weight(&sorted[i]);	/* rounded below */
		g->nblocks++;
		out->bytes += ml_block_bytes(&sorted[i]);
		out->count += ml_block_weight(&sorted[i]);
	}
	for (size_t i = 0; i < out->ngroups; i++)
		out->groups[i].count = ml_weight_count(out->groups[i].count);
	out->count = ml_weight_count(out->count);
	free(k);
	sort_groups(out, sort);
}

void ml_aggregate_blocks(struct ml_block *blocks, size_t n, uint64_t now_ns,
			 uint64_t min_age_ns, enum ml_sort sort,
			 struct ml_report *out)
{
	ml_aggregate_blocks_by(blocks, n, now_ns, min_age_ns, ML_GROUP_STACK,
			       sort, out);
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
