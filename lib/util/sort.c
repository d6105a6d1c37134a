// SPDX-License-Identifier: GPL-2.0
/* LSD radix sort of (key, sub) records: see sort.h. */
#include <stdlib.h>
#include <string.h>

#include "util/sort.h"
#include "util/util.h"

#define DIGIT_BITS	16
#define DIGITS		(1 << DIGIT_BITS)
#define PASSES		(128 / DIGIT_BITS)

/* Digit @pass (0: the lowest 16 bits of sub, PASSES - 1: the top of key). */
static inline unsigned int digit(const struct ml_sort_rec *r, int pass)
{
	int shift = (pass % (64 / DIGIT_BITS)) * DIGIT_BITS;
	uint64_t w = pass < 64 / DIGIT_BITS ? r->sub : r->key;

	return (w >> shift) & (DIGITS - 1);
}

/* Below this, insertion sort beats the histograms' fixed cost. */
#define SMALL	64

static int cmp_rec(const struct ml_sort_rec *a, const struct ml_sort_rec *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->sub != b->sub)
		return a->sub < b->sub ? -1 : 1;
	return 0;
}

static void insertion_sort(struct ml_sort_rec *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ml_sort_rec r = v[i];
		size_t j = i;

		for (; j > 0 && cmp_rec(&v[j - 1], &r) > 0; j--)
			v[j] = v[j - 1];
		v[j] = r;
	}
}

void ml_sort_recs(struct ml_sort_rec *v, size_t n)
{
	struct ml_sort_rec *tmp, *src = v, *dst;
	uint64_t or_sub = 0, and_sub = ~0ULL, or_key = 0, and_key = ~0ULL;
	size_t *count;

	if (n <= SMALL) {
		insertion_sort(v, n);
		return;
	}
	/* Bits that are the same in every record need no pass. */
	for (size_t i = 0; i < n; i++) {
		or_sub |= v[i].sub;
		and_sub &= v[i].sub;
		or_key |= v[i].key;
		and_key &= v[i].key;
	}
	tmp = xmalloc(n * sizeof(*tmp));
	count = xmalloc(DIGITS * sizeof(*count));
	dst = tmp;
	for (int pass = 0; pass < PASSES; pass++) {
		int shift = (pass % (64 / DIGIT_BITS)) * DIGIT_BITS;
		uint64_t differ = pass < 64 / DIGIT_BITS ? or_sub ^ and_sub :
						 or_key ^ and_key;
		size_t sum = 0;

		if (!((differ >> shift) & (DIGITS - 1)))
			continue;
		memset(count, 0, DIGITS * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[digit(&src[i], pass)]++;
		for (size_t d = 0; d < DIGITS; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[digit(&src[i], pass)]++] = src[i];
		/* The sorted records are in dst now: swap the roles. */
		dst = src;
		src = src == v ? tmp : v;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(count);
	free(tmp);
}
