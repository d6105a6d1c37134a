// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the preload library's pure logic (preload/memleak-preload.h):
 * stack hashes, the random stream, the exponential sample distances, the
 * weight of a sample, the count-down that decides what is sampled (the
 * estimate it gives must be unbiased), and the address filter's hash.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "preload/memleak-preload.h"

static uint64_t hash_of(const uint64_t *ips, unsigned int depth)
{
	uint64_t h = ML_PL_HASH_SEED;

	for (unsigned int i = 0; i < depth; i++)
		h = ml_pl_hash_mix(h, ips[i]);
	return ml_pl_hash_end(h, depth);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The same frames, the same hash; order, depth and each frame matter. */
static void test_hash(void)
{
	uint64_t a[] = { 0x401136, 0x401200, 0x7f0000029d90 };
	uint64_t b[] = { 0x401200, 0x401136, 0x7f0000029d90 };
	uint64_t c[] = { 0x401136, 0x401200, 0x7f0000029d91 };
	uint64_t zero[4] = {};

	CHECK_EQ_U64(hash_of(a, 3), hash_of(a, 3));
	CHECK(hash_of(a, 3) != hash_of(b, 3));
	CHECK(hash_of(a, 3) != hash_of(c, 3));
	CHECK(hash_of(a, 3) != hash_of(a, 2));
	/* 0 means "no stack": never a hash, not even of nothing */
	CHECK(hash_of(a, 0) != 0);
	CHECK(hash_of(zero, 4) != hash_of(zero, 3));
	for (uint64_t h = 0; h < 1000; h++)
		CHECK(ml_pl_hash_end(h, 0) != 0);
}

/*
 * Stacks that differ little (call sites a few bytes apart, as a program's
 * are): 100000 of them, no two with the same hash.
 */
static void test_hash_collisions(void)
{
	enum { N = 100000 };
	uint64_t *h = malloc(N * sizeof(*h)), ips[6];
	size_t dup = 0;

	for (uint64_t i = 0; i < N; i++) {
		ips[0] = 0x401000 + (i % 100) * 5;
		ips[1] = 0x402000 + (i / 100 % 100) * 7;
		ips[2] = 0x403000 + (i / 10000) * 3;
		ips[3] = 0x7f1234567890;
		ips[4] = 0x7f1234500000;
		ips[5] = 0x401020;
		h[i] = hash_of(ips, 6);
	}
	qsort(h, N, sizeof(*h), cmp_u64);
	for (size_t i = 1; i < N; i++)
		dup += h[i] == h[i - 1];
	CHECK_EQ_U64(dup, 0);
	free(h);
}

/* xorshift64*: a state of 0 still draws, the stream is uniform. */
static void test_rand(void)
{
	uint64_t s = 0, t = 0, first;
	double sum = 0;
	unsigned int high = 0;
	enum { N = 1000000 };

	first = ml_pl_rand(&s);
	CHECK(s != 0);
	CHECK(first != 0);
	CHECK_EQ_U64(ml_pl_rand(&t), first);	/* deterministic from a seed */
	for (int i = 0; i < N; i++) {
		uint64_t x = ml_pl_rand(&s);

		sum += (x >> 11) * (1.0 / 9007199254740992.0);
		high += x >> 63;
	}
	CHECK(fabs(sum / N - 0.5) < 0.002);
	CHECK(high > N / 2 - 2000 && high < N / 2 + 2000);
}

/*
 * -log, and 1 / (1 - exp(-x)) of sizes and means, without libm: as libm's,
 * to 1e-8 and 3e-9 of the result.
 */
static void test_math(void)
{
	double us[] = { 1, 0.5, 0.25, 0.7071067811865475, 0.7071067811865476,
			0.9999999999999999, 1.0 / 9007199254740992.0, 1e-10, 0.3, 0.9 };
	double xs[][2] = { { 1, 1ULL << 40 }, { 1, 524288 }, { 4096, 524288 },
			   { 1, 1000 }, { 100, 1000 }, { 4999, 10000 },
			   { 5000, 10000 }, { 4096, 4096 }, { 15, 2 } };
	uint64_t s = 5;
	double worst = 0;

	for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		CHECK(fabs(ml_pl_neglog(us[i]) + log(us[i])) <= 1e-8 * -log(us[i]) + 1e-16);
	for (int i = 0; i < 1000000; i++) {
		double u = ((ml_pl_rand(&s) >> 11) + 1) * (1.0 / 9007199254740992.0);
		double d = fabs(ml_pl_neglog(u) + log(u)) / (-log(u) + 1e-300);

		if (d > worst && u < 1)
			worst = d;
	}
	CHECK(worst < 1e-8);
	worst = 0;
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		double want = -1 / expm1(-xs[i][0] / xs[i][1]);

		CHECK(fabs(ml_pl_inv_sampled_p(xs[i][0], xs[i][1]) - want) <= 3e-9 * want);
	}
	for (int i = 0; i < 1000000; i++) {
		double size = 1 + ml_pl_rand(&s) % (1 << 20), mean = 1 + ml_pl_rand(&s) % (1 << 21);
		double want = -1 / expm1(-size / mean);
		double d = fabs(ml_pl_inv_sampled_p(size, mean) - want) / want;

		if (d > worst)
			worst = d;
	}
	CHECK(worst < 3e-9);
}

/*
 * Distances between samples: exponential with the mean asked for (mean
 * and standard deviation both the mean), never 0, capped.
 */
static void test_next_sample(void)
{
	uint64_t s = 42, means[] = { 64, 4096, 512 * 1024 };
	enum { N = 400000 };

	for (size_t m = 0; m < sizeof(means) / sizeof(means[0]); m++) {
		double sum = 0, sq = 0, mean = means[m], avg, sd;
		unsigned int below = 0;

		for (int i = 0; i < N; i++) {
			uint64_t d = ml_pl_next_sample(&s, means[m]);

			CHECK(d >= 1);
			sum += d;
			sq += (double)d * d;
			below += d < mean;
		}
		avg = sum / N;
		sd = sqrt(sq / N - avg * avg);
		CHECK(fabs(avg / mean - 1) < 0.01);
		CHECK(fabs(sd / mean - 1) < 0.02);
		/* P(d < mean) = 1 - 1/e */
		CHECK(fabs((double)below / N - (1 - exp(-1))) < 0.005);
	}
	CHECK(ml_pl_next_sample(&s, 1) >= 1);
	for (int i = 0; i < 1000; i++)
		CHECK(ml_pl_next_sample(&s, UINT64_MAX) <= (uint64_t)1e18);
}

/* The weight of a sample: 1 / P(sampled), in ML_WEIGHT_ONE fixed point. */
static void test_weight(void)
{
	const uint64_t one = ML_WEIGHT_ONE;

	CHECK_EQ_U64(ml_pl_weight(100, 0), one);	/* not sampling */
	CHECK_EQ_U64(ml_pl_weight(1 << 30, 512 * 1024), one);	/* sure to be */
	/* size == mean: P = 1 - 1/e */
	CHECK_EQ_U64(ml_pl_weight(4096, 4096), (uint64_t)(one / (1 - exp(-1)) + 0.5));
	/* tiny blocks: about mean / size */
	CHECK(llabs((long long)ml_pl_weight(1, 512 * 1024) -
		    (long long)(one * 524288.5)) < 2);
	CHECK_EQ_U64(ml_pl_weight(0, 4096), ml_pl_weight(1, 4096));
	/* never below one, never past the cap */
	CHECK(ml_pl_weight(4095, 4096) >= one);
	CHECK_EQ_U64(ml_pl_weight(1, 1ULL << 40), 4000000000ULL);
	/* smaller blocks weigh more */
	for (uint64_t size = 1; size < (1 << 22); size *= 2)
		CHECK(ml_pl_weight(size, 65536) >= ml_pl_weight(size * 2, 65536));
}

/*
 * The count-down: samples every `mean` bytes on average, and the sampled
 * blocks, each counted size * weight, estimate the bytes allocated.
 */
static double estimate(uint64_t mean, uint64_t (*size_of)(uint64_t *), int n,
		       double *truth, unsigned int *samples)
{
	uint64_t rng = 7, srng = 99;
	int64_t left = ml_pl_next_sample(&rng, mean);
	double est = 0;

	*truth = 0;
	*samples = 0;
	for (int i = 0; i < n; i++) {
		uint64_t size = size_of(&srng);
		uint32_t w = ml_pl_countdown(&left, &rng, size, mean);

		*truth += size;
		if (w) {
			CHECK(left > 0);
			est += (double)size * w / ML_WEIGHT_ONE;
			++*samples;
		}
	}
	return est;
}

static uint64_t fixed_64(uint64_t *r)
{
	return 64;
}

/* 16 .. 64 KiB, log-uniform: mostly small, a few big */
static uint64_t mixed(uint64_t *r)
{
	return 16ULL << (ml_pl_rand(r) % 13);
}

/* twice the mean: sampled with P = 1 - e^-2 */
static uint64_t big(uint64_t *r)
{
	return 1 << 20;
}

/* 16 times the mean: every one sampled, weight 1 */
static uint64_t huge(uint64_t *r)
{
	return 8 << 20;
}

static void test_countdown(void)
{
	double truth, est;
	unsigned int samples;

	est = estimate(4096, fixed_64, 2000000, &truth, &samples);
	CHECK(fabs(est / truth - 1) < 0.02);
	/* about one sample per mean bytes: 128e6 / 4096 */
	CHECK(fabs(samples / (truth / 4096) - 1) < 0.03);

	est = estimate(512 * 1024, mixed, 2000000, &truth, &samples);
	CHECK(fabs(est / truth - 1) < 0.03);

	est = estimate(512 * 1024, big, 100000, &truth, &samples);
	CHECK(fabs(samples / 100000.0 - (1 - exp(-2))) < 0.01);
	CHECK(fabs(est / truth - 1) < 0.01);

	est = estimate(512 * 1024, huge, 10000, &truth, &samples);
	CHECK_EQ_U64(samples, 10000);
	CHECK_EQ_U64(est, truth);

	/* not sampled: only the count-down moves */
	{
		int64_t left = 1000;
		uint64_t rng = 1;

		CHECK_EQ_U64(ml_pl_countdown(&left, &rng, 999, 4096), 0);
		CHECK_EQ_U64(left, 1);
		CHECK_EQ_U64(rng, 1);
		CHECK(ml_pl_countdown(&left, &rng, 1, 4096) != 0);
		CHECK(left >= 1);
	}
}

/* The filter bit: a granule of address space per bit, wrapping around. */
static void test_filter_bit(void)
{
	/* the default rate, 512 KiB: 1 KiB granules */
	CHECK_EQ_U64(ml_pl_filter_shift(512 * 1024), 10);
	CHECK_EQ_U64(ml_pl_filter_shift(16 * 1024), 5);
	CHECK_EQ_U64(ml_pl_filter_shift(1000), 4);	/* 16 bytes at least */
	CHECK_EQ_U64(ml_pl_filter_shift(1), 4);
	CHECK_EQ_U64(ml_pl_filter_shift(1ULL << 40), 20);	/* 1 MiB at most */
	/* a granule's addresses share the bit, the next granule has the next */
	CHECK_EQ_U64(ml_pl_filter_bit(0x55555555a000ULL, 10, 16),
		     ml_pl_filter_bit(0x55555555a3f0ULL, 10, 16));
	CHECK_EQ_U64(ml_pl_filter_bit(0x55555555a400ULL, 10, 16),
		     ml_pl_filter_bit(0x55555555a000ULL, 10, 16) + 1);
	/* in range, and the same bit again 2^(10 + 16) bytes on */
	CHECK(ml_pl_filter_bit(~0ULL, 10, 16) < 1 << 16);
	CHECK_EQ_U64(ml_pl_filter_bit(0x7f0012345678ULL, 10, 16),
		     ml_pl_filter_bit(0x7f0012345678ULL + (1ULL << 26), 10, 16));
}

int main(void)
{
	TEST(test_hash);
	TEST(test_hash_collisions);
	TEST(test_rand);
	TEST(test_math);
	TEST(test_next_sample);
	TEST(test_weight);
	TEST(test_countdown);
	TEST(test_filter_bit);
	return TEST_DONE();
}
