// SPDX-License-Identifier: GPL-2.0
/* The radix sort of (key, sub) records against qsort() as the reference. */
#include <stdlib.h>

#include "test.h"
#include "util/sort.h"

static int cmp_ref(const void *a, const void *b)
{
	const struct ml_sort_rec *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->sub != y->sub)
		return x->sub < y->sub ? -1 : 1;
	/* stable: equal records keep their order */
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Sort @n records made by @make both ways; the same order, record for record. */
static int same_as_qsort(size_t n, void (*make)(struct ml_sort_rec *, size_t, uint64_t *))
{
	struct ml_sort_rec *a = malloc((n + 1) * sizeof(*a));
	struct ml_sort_rec *b = malloc((n + 1) * sizeof(*b));
	uint64_t seed = 0x9e3779b97f4a7c15ULL + n;
	int bad = 0;

	make(a, n, &seed);
	for (size_t i = 0; i < n; i++)
		a[i].idx = i;
	memcpy(b, a, n * sizeof(*a));
	ml_sort_recs(a, n);
	qsort(b, n, sizeof(*b), cmp_ref);
	for (size_t i = 0; i < n && !bad; i++)
		bad = a[i].key != b[i].key || a[i].sub != b[i].sub || a[i].idx != b[i].idx;
	free(a);
	free(b);
	return !bad;
}

/* Like a report: a few thousand stacks, heap addresses, some lost stacks. */
static void make_blocks(struct ml_sort_rec *v, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		int32_t stack = rnd(s) % 5000 - 3;

		v[i].key = ml_sort_signed(stack);
		v[i].sub = 0x55d0c0000000ULL + (rnd(s) % (1ULL << 32)) * 16;
	}
}

/* Every bit of both words random. */
static void make_random(struct ml_sort_rec *v, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		v[i].key = rnd(s);
		v[i].sub = rnd(s);
	}
}

/* Many equal records: stability decides their order. */
static void make_dups(struct ml_sort_rec *v, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		v[i].key = rnd(s) % 3 << 60;
		v[i].sub = rnd(s) % 2;
	}
}

/* Keys that differ in the top digit only, subs all equal. */
static void make_high(struct ml_sort_rec *v, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		v[i].key = (rnd(s) & 0xffffULL) << 48 | 0x1234;
		v[i].sub = 42;
	}
}

static void sizes(void)
{
	static const size_t n[] = { 0, 1, 2, 63, 64, 65, 1000, 100000 };

	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		CHECK(same_as_qsort(n[i], make_blocks));
		CHECK(same_as_qsort(n[i], make_random));
		CHECK(same_as_qsort(n[i], make_dups));
		CHECK(same_as_qsort(n[i], make_high));
	}
}

static void signed_keys(void)
{
	int64_t v[] = { 5, -1, 0, INT64_MIN, -17, INT64_MAX, 2 };
	int64_t want[] = { INT64_MIN, -17, -1, 0, 2, 5, INT64_MAX };
	struct ml_sort_rec r[7];

	for (int i = 0; i < 7; i++)
		r[i] = (struct ml_sort_rec){ .key = ml_sort_signed(v[i]), .idx = i };
	ml_sort_recs(r, 7);
	for (int i = 0; i < 7; i++)
		CHECK_EQ_U64(v[r[i].idx], want[i]);
}

int main(void)
{
	TEST(sizes);
	TEST(signed_keys);
	return TEST_DONE();
}
