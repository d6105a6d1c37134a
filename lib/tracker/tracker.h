/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space side of the in-kernel tracker: reads its maps (outstanding
 * blocks, per-stack totals, stacks, loss counters) into plain arrays.
 */
#ifndef MEMLEAK_TRACKER_H
#define MEMLEAK_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memleak.h"

struct ml_block;
struct ml_stack_total;
struct ml_tracker;

/*
 * A tracker kept in user space (the ftrace backend) instead of BPF maps:
 * the same questions, answered from its own tables.
 */
struct ml_tracker_ops {
	long (*blocks)(const struct ml_tracker *t, struct ml_block **out);
	long (*totals)(const struct ml_tracker *t, struct ml_stack_total **out);
	int (*stack)(const struct ml_tracker *t, int32_t stack_id, uint64_t *ips,
		     int max);
	void (*counters)(const struct ml_tracker *t, uint64_t out[ML_CNT_MAX]);
	int (*cache_name)(const struct ml_tracker *t, uint64_t cache, char *buf,
			  size_t len);
};

struct ml_tracker {
	int allocs_fd;
	int stacks_fd;
	int combined_fd;
	int counters_fd;
	int events_fd;		/* ring buffer of struct ml_event, -1 if none */
	int cache_names_fd;	/* kernel sources: slab cache names, -1 if none */
	bool kernel;		/* stacks are kernel stacks */
	/* kernel sources: the blocks are in this table, not in allocs_fd */
	const uint64_t *kkeys;
	const struct ml_kslot *kslots;
	uint64_t nr_kslots;
	const struct ml_tracker_ops *ops;	/* NULL: the BPF maps above */
	void *priv;
};

/* One outstanding block. */
struct ml_block {
	uint64_t addr;		/* address, or ML_KEY_PAGE(pfn) / ML_KEY_PERCPU() */
	uint64_t size;		/* bytes allocated */
	uint64_t timestamp_ns;
	int32_t stack_id;	/* < 0: lost (-errno) or ML_STACK_NONE */
	uint32_t pid;
	/* kernel allocations (0 for user space) */
	uint64_t call_site;
	uint64_t bytes_req;
	uint64_t cache;		/* slab cache id: ml_tracker_cache_name() */
	uint32_t gfp;
	uint16_t kind;		/* enum ml_kind */
	uint8_t order;
	uint8_t backing;	/* enum ml_backing: pages that back other blocks */
	uint32_t weight;	/* a sample standing for this many, in ML_WEIGHT_ONE; 0: one */
};

/* What block @b counts for in reports: sampled blocks by their weight. */
static inline uint64_t ml_block_bytes(const struct ml_block *b)
{
	if (b->weight <= ML_WEIGHT_ONE)
		return b->size;
	return (b->size * (uint64_t)b->weight + ML_WEIGHT_ONE / 2) / ML_WEIGHT_ONE;
}

/*
 * The allocations @b stands for, in ML_WEIGHT_ONE units: sum these over a
 * group and round once (ml_weight_count), or the rounding of each small
 * sample adds up (a weight of 1.4 would count as 1, 1.6 as 2).
 */
static inline uint64_t ml_block_weight(const struct ml_block *b)
{
	return b->weight <= ML_WEIGHT_ONE ? ML_WEIGHT_ONE : b->weight;
}

static inline uint64_t ml_weight_count(uint64_t weight)
{
	return (weight + ML_WEIGHT_ONE / 2) / ML_WEIGHT_ONE;
}

/* Pages that hold memory counted elsewhere (as slab objects, vmalloc areas). */
enum ml_backing {
	ML_BACKING_NONE,
	ML_BACKING_SLAB,	/* slab pages: their objects are counted */
	ML_BACKING_KMALLOC,	/* a large kmalloc: counted as the kmalloc */
	ML_BACKING_VMALLOC,	/* pages of a vmap area */
	ML_BACKING_PERCPU,	/* pages of a percpu chunk */
	ML_BACKING_MAX,
};

/* Outstanding totals of one stack. */
struct ml_stack_total {
	int32_t stack_id;
	uint64_t bytes;
	uint64_t count;
};

/* Every outstanding block; *out is malloc()ed.  Returns the count or -errno. */
long ml_tracker_blocks(const struct ml_tracker *t, struct ml_block **out);

/* The per-stack totals kept in the kernel (--combined-only). */
long ml_tracker_totals(const struct ml_tracker *t, struct ml_stack_total **out);

/* The stack with id @stack_id, leaf first; returns its depth (0 if lost). */
int ml_tracker_stack(const struct ml_tracker *t, int32_t stack_id,
		     uint64_t *ips, int max);

/* Loss counters summed over CPUs. */
void ml_tracker_counters(const struct ml_tracker *t, uint64_t out[ML_CNT_MAX]);

/* The name of slab cache @cache into @buf; 0, or -ENOENT if unknown. */
int ml_tracker_cache_name(const struct ml_tracker *t, uint64_t cache, char *buf,
			  size_t len);

#endif /* MEMLEAK_TRACKER_H */
