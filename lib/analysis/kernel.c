// SPDX-License-Identifier: GPL-2.0
/*
 * What kernel allocations' stacks tell: which page allocations back memory
 * counted elsewhere, and the call site of a page allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/kernel.h"
#include "output/text.h"
#include "symbol/symbolize.h"
#include "util/util.h"

const char *ml_backing_name(int backing)
{
	static const char *const names[ML_BACKING_MAX] = {
		[ML_BACKING_SLAB] = "slab", [ML_BACKING_KMALLOC] = "kmalloc",
		[ML_BACKING_VMALLOC] = "vmalloc", [ML_BACKING_PERCPU] = "percpu",
	};

	return backing > 0 && backing < ML_BACKING_MAX ? names[backing] : "?";
}

const char *ml_kind_name(int kind)
{
	static const char *const names[ML_KIND_MAX] = {
		[ML_KIND_USER] = "user", [ML_KIND_KMALLOC] = "kmalloc",
		[ML_KIND_CACHE] = "kmem_cache", [ML_KIND_PAGE] = "page",
		[ML_KIND_PERCPU] = "percpu", [ML_KIND_VMALLOC] = "vmalloc",
	};

	return kind >= 0 && kind < ML_KIND_MAX ? names[kind] : "?";
}

/* Functions whose page allocations hold memory tracked as something else. */
static const struct {
	const char *func;
	int backing;
} owners[] = {
	{ "allocate_slab", ML_BACKING_SLAB },
	{ "new_slab", ML_BACKING_SLAB },
	{ "___kmalloc_large_node", ML_BACKING_KMALLOC },
	{ "__kmalloc_large_node", ML_BACKING_KMALLOC },
	{ "kmalloc_large", ML_BACKING_KMALLOC },
	{ "__vmalloc_area_node", ML_BACKING_VMALLOC },
	{ "vm_area_alloc_pages", ML_BACKING_VMALLOC },
	{ "pcpu_populate_chunk", ML_BACKING_PERCPU },
	{ "pcpu_alloc_pages", ML_BACKING_PERCPU },
};

/* The page allocator's own frames, below the real caller. */
static bool page_allocator_frame(const char *f)
{
	static const char *const subs[] = {
		"alloc_pages", "alloc_frozen_pages", "folio_alloc", "get_free_page",
		"get_zeroed_page", "alloc_page_interleave", "page_cache_alloc",
	};

	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (strstr(f, subs[i]))
			return true;
	return false;
}

struct stack_class {
	int32_t stack_id;
	uint8_t backing;
	uint64_t call_site;
};

static void classify_stack(struct stack_class *c, const struct ml_tracker *t,
			   struct ml_symbolizer *sym)
{
	uint64_t ips[ML_MAX_STACK_DEPTH];
	int depth = ml_tracker_stack(t, c->stack_id, ips, ML_MAX_STACK_DEPTH);
	int i = ml_tracing_frames(ips, depth, sym);

	for (; i < depth; i++) {
		struct ml_frame f;

		if (ml_symbolize(sym, ips[i], true, &f, 1) < 1 || !f.func)
			continue;
		if (!c->call_site && !page_allocator_frame(f.func))
			c->call_site = ips[i];
		for (size_t o = 0; o < ARRAY_SIZE(owners); o++)
			if (!strcmp(f.func, owners[o].func)) {
				c->backing = owners[o].backing;
				return;
			}
	}
}

void ml_kernel_classify(struct ml_block *blocks, size_t n,
			const struct ml_tracker *t, struct ml_symbolizer *sym)
{
	struct stack_class *seen = NULL;
	size_t nseen = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		struct ml_block *b = &blocks[i];
		struct stack_class *c = NULL;

		if (b->kind != ML_KIND_PAGE || b->stack_id < 0)
			continue;
		/* Few distinct stacks: a linear cache is enough. */
		for (size_t j = 0; j < nseen && !c; j++)
			if (seen[j].stack_id == b->stack_id)
				c = &seen[j];
		if (!c) {
			if (nseen == cap)
				seen = xrealloc(seen, (cap = cap ? 2 * cap : 64) * sizeof(*seen));
			c = &seen[nseen++];
			memset(c, 0, sizeof(*c));
			c->stack_id = b->stack_id;
			classify_stack(c, t, sym);
		}
		b->backing = c->backing;
		if (!b->call_site)
			b->call_site = c->call_site;
	}
	free(seen);
}
