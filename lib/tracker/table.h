/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracker kept in user space, for sources that deliver raw events
 * (the ftrace backend): outstanding blocks by key, deduplicated stacks and
 * loss counters, read through the same struct ml_tracker as the BPF maps.
 */
#ifndef MEMLEAK_TABLE_H
#define MEMLEAK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker/tracker.h"

struct ml_table;

struct ml_table *ml_table_new(size_t max_blocks);
void ml_table_free(struct ml_table *tab);

/* Make @t answer from @tab (sets t->ops and t->priv). */
void ml_table_bind(struct ml_table *tab, struct ml_tracker *t);

/* The id of this stack (leaf first), stored once. */
int32_t ml_table_stack(struct ml_table *tab, const uint64_t *ips, int depth);

/* Record a block; a key still outstanding counts as a missed free. */
void ml_table_alloc(struct ml_table *tab, const struct ml_block *b);

/* Forget the block at @key; false if it was not outstanding. */
bool ml_table_free_key(struct ml_table *tab, uint64_t key);

/* Add to loss counter @which (enum ml_counter). */
void ml_table_count(struct ml_table *tab, int which, uint64_t n);

/* Name slab cache @name: returns its key for ml_block.cache. */
uint64_t ml_table_cache(struct ml_table *tab, const char *name);

size_t ml_table_size(const struct ml_table *tab);

#endif /* MEMLEAK_TABLE_H */
