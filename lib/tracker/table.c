// SPDX-License-Identifier: GPL-2.0
/*
 * The tracker kept in user space: outstanding blocks in an open-addressing
 * hash (linear probing, backward-shift deletion), stacks deduplicated by a
 * hash of their frames, loss counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker/table.h"
#include "util/util.h"

struct slot {
	bool used;
	struct ml_block b;
};

struct stack {
	uint64_t hash;
	int depth;
	uint64_t *ips;
};

struct ml_table {
	struct slot *slots;
	size_t cap, n, max;		/* cap: power of two */
	struct stack *stacks;
	size_t nstacks, stacks_cap;
	int32_t *stack_index;		/* open addressing over stacks, -1 empty */
	size_t index_cap;
	uint64_t counters[ML_CNT_MAX];
	char **caches;
	size_t ncaches;
};

/* Keys for cache names: above any kernel pointer's range test, never 0. */
#define CACHE_KEY(i)	(0xfffffffff0000000ULL + (i))

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

struct ml_table *ml_table_new(size_t max_blocks)
{
	struct ml_table *tab = xcalloc(1, sizeof(*tab));

	tab->cap = 1024;
	tab->slots = xcalloc(tab->cap, sizeof(*tab->slots));
	tab->max = max_blocks ? max_blocks : SIZE_MAX;
	tab->index_cap = 1024;
	tab->stack_index = xmalloc(tab->index_cap * sizeof(int32_t));
	memset(tab->stack_index, 0xff, tab->index_cap * sizeof(int32_t));
	return tab;
}

void ml_table_free(struct ml_table *tab)
{
	if (!tab)
		return;
	for (size_t i = 0; i < tab->nstacks; i++)
		free(tab->stacks[i].ips);
	for (size_t i = 0; i < tab->ncaches; i++)
		free(tab->caches[i]);
	free(tab->caches);
	free(tab->stacks);
	free(tab->stack_index);
	free(tab->slots);
	free(tab);
}

static size_t find(const struct ml_table *tab, uint64_t key)
{
	size_t i = mix(key) & (tab->cap - 1);

	while (tab->slots[i].used && tab->slots[i].b.addr != key)
		i = (i + 1) & (tab->cap - 1);
	return i;
}

static void grow(struct ml_table *tab)
{
	struct slot *old = tab->slots;
	size_t oldcap = tab->cap;

	tab->cap *= 2;
	tab->slots = xcalloc(tab->cap, sizeof(*tab->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			tab->slots[find(tab, old[i].b.addr)] = old[i];
	free(old);
}

void ml_table_alloc(struct ml_table *tab, const struct ml_block *b)
{
	size_t i = find(tab, b->addr);

	if (tab->slots[i].used) {
		tab->counters[ML_CNT_MISSED_FREE]++;
		tab->slots[i].b = *b;
		return;
	}
	if (tab->n >= tab->max) {
		tab->counters[ML_CNT_ALLOCS_FULL]++;
		return;
	}
	tab->slots[i].used = true;
	tab->slots[i].b = *b;
	if (++tab->n * 2 > tab->cap)
		grow(tab);
}

bool ml_table_free_key(struct ml_table *tab, uint64_t key)
{
	size_t i = find(tab, key), j;

	if (!tab->slots[i].used)
		return false;
	tab->slots[i].used = false;
	tab->n--;
	/* Backward shift: pull later members of the run into the hole. */
	for (j = (i + 1) & (tab->cap - 1); tab->slots[j].used;
	     j = (j + 1) & (tab->cap - 1)) {
		size_t home = mix(tab->slots[j].b.addr) & (tab->cap - 1);

		if (((j - home) & (tab->cap - 1)) >= ((j - i) & (tab->cap - 1))) {
			tab->slots[i] = tab->slots[j];
			tab->slots[j].used = false;
			i = j;
		}
	}
	return true;
}

int32_t ml_table_stack(struct ml_table *tab, const uint64_t *ips, int depth)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ depth;
	size_t i;

	for (int d = 0; d < depth; d++)
		h = mix(h ^ ips[d]);
	for (i = h & (tab->index_cap - 1); tab->stack_index[i] >= 0;
	     i = (i + 1) & (tab->index_cap - 1)) {
		const struct stack *s = &tab->stacks[tab->stack_index[i]];

		if (s->hash == h && s->depth == depth &&
		    !memcmp(s->ips, ips, depth * sizeof(*ips)))
			return tab->stack_index[i];
	}
	if (tab->nstacks == tab->stacks_cap)
		tab->stacks = xrealloc(tab->stacks,
				       (tab->stacks_cap = tab->stacks_cap ? 2 * tab->stacks_cap : 256) *
				       sizeof(*tab->stacks));
	tab->stacks[tab->nstacks].hash = h;
	tab->stacks[tab->nstacks].depth = depth;
	tab->stacks[tab->nstacks].ips = xmalloc((depth ? depth : 1) * sizeof(*ips));
	memcpy(tab->stacks[tab->nstacks].ips, ips, depth * sizeof(*ips));
	tab->stack_index[i] = tab->nstacks;
	if (++tab->nstacks * 2 > tab->index_cap) {
		free(tab->stack_index);
		tab->index_cap *= 2;
		tab->stack_index = xmalloc(tab->index_cap * sizeof(int32_t));
		memset(tab->stack_index, 0xff, tab->index_cap * sizeof(int32_t));
		for (size_t s = 0; s < tab->nstacks; s++) {
			for (i = tab->stacks[s].hash & (tab->index_cap - 1);
			     tab->stack_index[i] >= 0; i = (i + 1) & (tab->index_cap - 1))
				;
			tab->stack_index[i] = s;
		}
	}
	return tab->nstacks - 1;
}

void ml_table_count(struct ml_table *tab, int which, uint64_t n)
{
	if (which >= 0 && which < ML_CNT_MAX)
		tab->counters[which] += n;
}

uint64_t ml_table_cache(struct ml_table *tab, const char *name)
{
	for (size_t i = 0; i < tab->ncaches; i++)
		if (!strcmp(tab->caches[i], name))
			return CACHE_KEY(i);
	tab->caches = xrealloc(tab->caches, (tab->ncaches + 1) * sizeof(*tab->caches));
	tab->caches[tab->ncaches] = xstrdup(name);
	return CACHE_KEY(tab->ncaches++);
}

size_t ml_table_size(const struct ml_table *tab)
{
	return tab->n;
}

/* struct ml_tracker_ops over the table */

static long tab_blocks(const struct ml_tracker *t, struct ml_block **out)
{
	const struct ml_table *tab = t->priv;
	struct ml_block *v = xmalloc((tab->n ? tab->n : 1) * sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < tab->cap; i++)
		if (tab->slots[i].used)
			v[n++] = tab->slots[i].b;
	*out = v;
	return n;
}

static long tab_totals(const struct ml_tracker *t, struct ml_stack_total **out)
{
	struct ml_block *b;
	long n = tab_blocks(t, &b);
	struct ml_stack_total *v = xcalloc(n ? n : 1, sizeof(*v));
	long m = 0;

	/* Few stacks per report: a linear merge keeps this simple. */
	for (long i = 0; i < n; i++) {
		long j;

		for (j = 0; j < m && v[j].stack_id != b[i].stack_id; j++)
			;
		if (j == m)
			v[m++].stack_id = b[i].stack_id;
		v[j].bytes += b[i].size;
		v[j].count++;
	}
	free(b);
	*out = v;
	return m;
}

static int tab_stack(const struct ml_tracker *t, int32_t id, uint64_t *ips, int max)
{
	const struct ml_table *tab = t->priv;
	int n;

	if (id < 0 || (size_t)id >= tab->nstacks)
		return 0;
	n = tab->stacks[id].depth < max ? tab->stacks[id].depth : max;
	memcpy(ips, tab->stacks[id].ips, n * sizeof(*ips));
	return n;
}

static void tab_counters(const struct ml_tracker *t, uint64_t out[ML_CNT_MAX])
{
	const struct ml_table *tab = t->priv;

	memcpy(out, tab->counters, sizeof(tab->counters));
}

static int tab_cache_name(const struct ml_tracker *t, uint64_t cache, char *buf,
			  size_t len)
{
	const struct ml_table *tab = t->priv;
	uint64_t i = cache - CACHE_KEY(0);

	if (cache < CACHE_KEY(0) || i >= tab->ncaches)
		return -ENOENT;
	snprintf(buf, len, "%s", tab->caches[i]);
	return 0;
}

static const struct ml_tracker_ops table_ops = {
	.blocks = tab_blocks,
	.totals = tab_totals,
	.stack = tab_stack,
	.counters = tab_counters,
	.cache_name = tab_cache_name,
};

void ml_table_bind(struct ml_table *tab, struct ml_tracker *t)
{
	t->ops = &table_ops;
	t->priv = tab;
}
