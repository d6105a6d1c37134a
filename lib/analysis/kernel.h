/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kernel allocations' stacks tell: which page allocations back memory
 * counted elsewhere (slab pages, large kmalloc, vmalloc, percpu), and the
 * call site of a page allocation (the tracepoint gives none).
 */
#ifndef MEMLEAK_KERNEL_ANALYSIS_H
#define MEMLEAK_KERNEL_ANALYSIS_H

#include <stddef.h>

#include "tracker/tracker.h"

struct ml_symbolizer;

/* Set ml_block.backing, and call_site of pages, from the blocks' stacks. */
void ml_kernel_classify(struct ml_block *blocks, size_t n,
			const struct ml_tracker *t, struct ml_symbolizer *sym);

/* "slab", "kmalloc", "vmalloc", "percpu" */
const char *ml_backing_name(int backing);

/* "kmalloc", "kmem_cache", "page", "percpu", "vmalloc" */
const char *ml_kind_name(int kind);

#endif /* MEMLEAK_KERNEL_ANALYSIS_H */
