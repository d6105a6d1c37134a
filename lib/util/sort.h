/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sorting millions of records by a pair of 64-bit keys: a report groups
 * every outstanding block by stack (then address), and qsort() of a
 * million blocks through a comparison callback took most of a report's
 * time.  An LSD radix sort does it in a few linear passes.
 */
#ifndef MEMLEAK_SORT_H
#define MEMLEAK_SORT_H

#include <stddef.h>
#include <stdint.h>

/* What is sorted: (key, sub) ascending; idx says which record it was. */
struct ml_sort_rec {
	uint64_t key;
	uint64_t sub;
	uint64_t idx;
};

/*
 * Sort @v by key, then sub, ascending; stable (records equal in both keep
 * their order).  Linear passes of 16 bits each over the digits where the
 * records differ; uses a scratch array as large as @v.
 */
void ml_sort_recs(struct ml_sort_rec *v, size_t n);

/* A signed 64-bit value as a key that sorts as the signed order does. */
static inline uint64_t ml_sort_signed(int64_t v)
{
	return (uint64_t)v ^ (1ULL << 63);
}

#endif /* MEMLEAK_SORT_H */
