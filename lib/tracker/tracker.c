// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space side of the in-kernel tracker: reads its maps (outstanding
 * blocks, per-stack totals, stacks, loss counters) into plain arrays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tracker/tracker.h"
#include "util/util.h"

/*
 * Walk a hash map with bpf_map_get_next_key(): entries deleted while we walk
 * just end the walk early at worst, which a live snapshot tolerates.
 */
#define BATCH 4096

static void to_block(struct ml_block *b, uint64_t addr,
		     const struct ml_alloc_info *v)
{
	memset(b, 0, sizeof(*b));
	b->addr = addr;
	b->size = v->size;
	b->timestamp_ns = v->timestamp_ns;
	b->stack_id = v->stack_id;
	b->pid = v->pid;
	b->call_site = v->call_site;
	b->bytes_req = v->bytes_req;
	b->cache = v->cache;
	b->gfp = v->gfp;
	b->kind = v->kind;
	b->order = v->order;
	b->weight = v->weight;
}

/*
 * The kernel sources' table (bpf/ktable.bpf.h), read in place.  A slot the
 * kernel rewrites while we copy it changes its key first: keep a copy only
 * if the key read after it is the one read before.
 */
static long kslot_blocks(const struct ml_tracker *t, struct ml_block **out)
{
	size_t n = 0, cap = 1024;
	struct ml_block *blocks = xmalloc(cap * sizeof(*blocks));

	for (uint64_t i = 0; i < t->nr_kslots; i++) {
		const volatile struct ml_kslot *s = &t->kslots[i];
		const volatile uint64_t *k = &t->kkeys[i];
		struct ml_alloc_info v;
		uint64_t key = *k;

		if (key == 0 || key == ML_KSLOT_FREED || key == ML_KSLOT_BUSY)
			continue;
		v = (struct ml_alloc_info){
			.size = s->size, .bytes_req = s->bytes_req,
			.call_site = s->call_site, .cache = s->cache,
			.timestamp_ns = s->timestamp_ns, .stack_id = s->stack_id,
			.pid = s->pid, .gfp = s->gfp, .kind = s->kind,
			.order = s->order,
		};
		if (n == cap)
			blocks = xrealloc(blocks, (cap *= 2) * sizeof(*blocks));
		to_block(&blocks[n], key, &v);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (*k == key)
			n++;
	}
	*out = blocks;
	return n;
}

long ml_tracker_blocks(const struct ml_tracker *t, struct ml_block **out)
{
	size_t n = 0, cap = 1024;
	struct ml_block *blocks = xmalloc(cap * sizeof(*blocks));
	uint64_t keys[BATCH];
	struct ml_alloc_info vals[BATCH];
	uint64_t batch;
	bool first = true;
	int err;

	if (t->ops) {
		free(blocks);
		return t->ops->blocks(t, out);
	}
	if (t->kkeys) {
		free(blocks);
		return kslot_blocks(t, out);
	}
	/* Batched lookups: one syscall per BATCH entries. */
	for (;;) {
		__u32 count = BATCH;

		err = bpf_map_lookup_batch(t->allocs_fd, first ? NULL : &batch,
					   &batch, keys, vals, &count, NULL);
		first = false;
		if (err && errno != ENOENT) {
			if (errno == EINVAL && n == 0)
				goto slow;
			free(blocks);
			return -errno;
		}
		if (n + count > cap) {
			while (n + count > cap)
				cap *= 2;
			blocks = xrealloc(blocks, cap * sizeof(*blocks));
		}
		for (__u32 i = 0; i < count; i++)
			if (!(vals[i].flags & ML_AI_FREED))
				to_block(&blocks[n++], keys[i], &vals[i]);
		if (err)	/* ENOENT: that was the last batch */
			break;
	}
	*out = blocks;
	return n;

slow:
	{
		uint64_t key, next, *prev = NULL;
		struct ml_alloc_info v;

		while (bpf_map_get_next_key(t->allocs_fd, prev, &next) == 0) {
			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(t->allocs_fd, &key, &v) ||
			    (v.flags & ML_AI_FREED))
				continue;
			if (n == cap)
				blocks = xrealloc(blocks, (cap *= 2) * sizeof(*blocks));
			to_block(&blocks[n++], key, &v);
		}
	}
	*out = blocks;
	return n;
}

long ml_tracker_totals(const struct ml_tracker *t, struct ml_stack_total **out)
{
	size_t n = 0, cap = 256;
	struct ml_stack_total *tot = xmalloc(cap * sizeof(*tot));
	int64_t key, next, *prev = NULL;
	struct ml_combined v;

	if (t->ops) {
		free(tot);
		return t->ops->totals(t, out);
	}
	while (bpf_map_get_next_key(t->combined_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(t->combined_fd, &key, &v) || !v.nr_allocs)
			continue;
		if (n == cap)
			tot = xrealloc(tot, (cap *= 2) * sizeof(*tot));
		tot[n].stack_id = (int32_t)key;
		tot[n].bytes = v.total_size;
		tot[n].count = v.nr_allocs;
		n++;
	}
	*out = tot;
	return n;
}

int ml_tracker_stack(const struct ml_tracker *t, int32_t stack_id,
		     uint64_t *ips, int max)
{
	uint64_t buf[ML_MAX_STACK_DEPTH] = {};
	uint32_t key = stack_id;
	int depth = 0;

	if (t->ops)
		return t->ops->stack(t, stack_id, ips, max);
	if (stack_id < 0 || bpf_map_lookup_elem(t->stacks_fd, &key, buf))
		return 0;
	for (int i = 0; i < ML_MAX_STACK_DEPTH && i < max && buf[i]; i++)
		ips[depth++] = buf[i];
	return depth;
}

void ml_tracker_counters(const struct ml_tracker *t, uint64_t out[ML_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	memset(out, 0, ML_CNT_MAX * sizeof(*out));
	if (t->ops) {
		t->ops->counters(t, out);
		return;
	}
	if (ncpu <= 0)
		return;
	vals = xcalloc(ncpu, sizeof(*vals));
	for (uint32_t k = 0; k < ML_CNT_MAX; k++) {
		if (bpf_map_lookup_elem(t->counters_fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}

int ml_tracker_cache_name(const struct ml_tracker *t, uint64_t cache, char *buf,
			  size_t len)
{
	char name[32] = "";

	if (t->ops)
		return t->ops->cache_name(t, cache, buf, len);
	if (t->cache_names_fd < 0 ||
	    bpf_map_lookup_elem(t->cache_names_fd, &cache, name) || !name[0])
		return -ENOENT;
	snprintf(buf, len, "%s", name);
	return 0;
}
