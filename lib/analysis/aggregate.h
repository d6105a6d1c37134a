/* SPDX-License-Identifier: GPL-2.0 */
/* Outstanding blocks grouped by allocation stack, filtered and sorted. */
#ifndef MEMLEAK_AGGREGATE_H
#define MEMLEAK_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "tracker/tracker.h"

enum ml_sort {
	ML_SORT_SIZE,		/* outstanding bytes, largest first */
	ML_SORT_COUNT,		/* outstanding blocks, most first */
};

/* What one report entry stands for (--sort KEY[,ORDER]). */
enum ml_group_key {
	ML_GROUP_STACK,		/* an allocation stack (default) */
	ML_GROUP_CALLSITE,	/* the allocating call site */
	ML_GROUP_CACHE,		/* a slab cache */
	ML_GROUP_GFP,		/* GFP flags */
	ML_GROUP_ORDER,		/* page order */
};

/* Parse "size" / "count"; -1 if neither. */
int ml_sort_parse(const char *s);

/* Parse "stack" / "callsite" / "cache" / "gfp" / "order"; -1 if none. */
int ml_group_parse(const char *s);

struct ml_group {
	uint64_t key;			/* the grouping key's value (see ml_group_key) */
	int32_t stack_id;		/* with ML_GROUP_STACK; else one block's stack */
	uint64_t bytes;
	uint64_t count;
	uint64_t bytes_req;		/* requested bytes (kernel): bytes - req = waste */
	const struct ml_block *blocks;	/* the group's blocks (by address); NULL from totals */
	size_t nblocks;
};

struct ml_report {
	struct ml_group *groups;
	size_t ngroups;
	uint64_t bytes, count;	/* over all groups */
	struct ml_block *blocks;	/* owned: the kept blocks */
	/* kernel: totals per enum ml_kind, and pages backing other blocks */
	uint64_t kind_bytes[ML_KIND_MAX], kind_count[ML_KIND_MAX];
	uint64_t backing_bytes[ML_BACKING_MAX], backing_count[ML_BACKING_MAX];
};

/*
 * Group @blocks (taken over: freed with the report) by stack, keeping the
 * blocks at least @min_age_ns old at @now_ns (0: keep all).
 */
void ml_aggregate_blocks(struct ml_block *blocks, size_t n, uint64_t now_ns,
			 uint64_t min_age_ns, enum ml_sort sort,
			 struct ml_report *out);

/*
 * The same, grouped by @group: call site, slab cache (kmalloc blocks by
 * their kmalloc-N size class), GFP flags or page order.  Blocks marked as
 * backing pages (ml_block.backing) are counted apart, never in the groups.
 */
void ml_aggregate_blocks_by(struct ml_block *blocks, size_t n, uint64_t now_ns,
			    uint64_t min_age_ns, enum ml_group_key group,
			    enum ml_sort sort, struct ml_report *out);

/*
 * Keys of ML_GROUP_CACHE for blocks that are not in a named cache (named
 * caches are keyed by their struct kmem_cache address, far above these).
 */
#define ML_CACHE_OTHER(kind)	((uint64_t)(kind))		/* below 256 */
#define ML_CACHE_KMALLOC(size)	((1ULL << 40) | (size))
#define ML_CACHE_IS_KMALLOC(key) ((key) >> 40 == 1)

/* A report from per-stack totals (--combined-only); @totals is not kept. */
void ml_aggregate_totals(const struct ml_stack_total *totals, size_t n,
			 enum ml_sort sort, struct ml_report *out);

void ml_report_free(struct ml_report *r);

#endif /* MEMLEAK_AGGREGATE_H */
