/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure logic of the preload library (preload/memleak-preload.c), kept
 * apart so unit tests (tests/unit/test-preload.c) can check it: stack
 * hashes, the random draws of byte sampling, the weight of a sample and
 * the address filter's hash.  No allocation, no libc state: all of it runs
 * inside malloc.
 */
#ifndef MEMLEAK_PRELOAD_H
#define MEMLEAK_PRELOAD_H

#include <math.h>
#include <stdint.h>

#include "memleak.h"

/* The hash of a stack, frame by frame (never 0: 0 means "no stack"). */
#define ML_PL_HASH_SEED		0xcbf29ce484222325ULL

static inline uint64_t ml_pl_hash_mix(uint64_t h, uint64_t ip)
{
	h ^= ip;
	h *= 0x100000001b3ULL;
	h ^= h >> 29;
	return h;
}

static inline uint64_t ml_pl_hash_end(uint64_t h, unsigned int depth)
{
	h = ml_pl_hash_mix(h, depth);
	return h ? h : 1;
}

/*
 * The filter bit of a block address (@bits: log2 of the bits): one bit
 * per 2^@shift bytes of address space, wrapping every 2^(@shift + @bits).
 * Not hashed, so that neighbours share a word: a free reads the filter
 * where the heap it frees into is, a few cache lines that stay hot, where
 * a hash read a random line of it each time.
 */
static inline uint32_t ml_pl_filter_bit(uint64_t addr, unsigned int shift,
					unsigned int bits)
{
	return (uint32_t)(addr >> shift) & ((1U << bits) - 1);
}

/*
 * The filter's granule for a mean of @mean bytes between samples: about
 * 1/512 of it (a sampled block is about one per @mean bytes of heap, so
 * about one free in 512 of another block finds its bit set), 16 bytes at
 * least (a block's alignment), 1 MiB at most.
 */
static inline unsigned int ml_pl_filter_shift(uint64_t mean)
{
	unsigned int shift = 4;

	while (shift < 20 && (1ULL << (shift + 9)) < mean)
		shift++;
	return shift;
}

/* xorshift64*: a thread's random stream for sampling. */
static inline uint64_t ml_pl_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * -log(@u) for @u in (0, 1], without libm, whose tables are cache lines a
 * sample would miss: u = m 2^e with m in [sqrt(1/2), sqrt(2)), and log(m)
 * is 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: its series to s^9
 * leaves an error under 1e-8 of the result (a draw needs no more: it is
 * a distance in bytes).
 */
static inline double ml_pl_neglog(double u)
{
	union { double d; uint64_t b; } v = { .d = u };
	int e = (int)(v.b >> 52 & 0x7ff) - 1023;
	double m, s, z;

	v.b = (v.b & ((1ULL << 52) - 1)) | 1023ULL << 52;
	m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	s = (m - 1) / (m + 1);
	z = s * s;
	return -(e * 0.6931471805599453 +
		 2 * s * (1 + z * (1. / 3 + z * (1. / 5 + z * (1. / 7 + z * (1. / 9))))));
}

/*
 * 1 / (1 - exp(-@size / @mean)): the allocations a sampled block of @size
 * stands for (1 - exp(-x): its chance to be sampled).  Below x = 1/2
 * (blocks under half the mean: nearly all) by the series 1/x + 1/2 + x/12
 * - x^3/720 + x^5/30240, whose error is under 3e-9 of the result there,
 * without libm; above, libm's.
 */
static inline double ml_pl_inv_sampled_p(double size, double mean)
{
	double x = size / mean, z = x * x;

	if (x >= 0.5)
		return -1 / expm1(-x);
	return mean / size + 0.5 +
	       x * (1. / 12 - z * (1. / 720 - z * (1. / 30240)));
}

/*
 * Bytes until the next sample: exponentially distributed with mean @mean,
 * so that samples are a Poisson process over the bytes allocated (as
 * tcmalloc, jemalloc and Go's heap profiler sample).
 */
static inline uint64_t ml_pl_next_sample(uint64_t *state, uint64_t mean)
{
	/* uniform in (0, 1]: 53 random bits */
	double u = ((ml_pl_rand(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double d = ml_pl_neglog(u) * (double)mean;

	return d < 1 ? 1 : d > 1e18 ? (uint64_t)1e18 : (uint64_t)d;
}

/*
 * A block of @size bytes is sampled with probability 1 - exp(-size/mean):
 * it stands for 1 / that allocations of its size (so its bytes estimate
 * size / p), in ML_WEIGHT_ONE fixed point.
 */
static inline uint32_t ml_pl_weight(uint64_t size, uint64_t mean)
{
	double w;

	if (!mean)
		return ML_WEIGHT_ONE;
	if (!size)
		size = 1;
	w = ml_pl_inv_sampled_p(size, mean) * ML_WEIGHT_ONE;
	if (w < ML_WEIGHT_ONE)
		w = ML_WEIGHT_ONE;
	return w > 4e9 ? 4000000000U : (uint32_t)(w + 0.5);
}

/*
 * Count an allocation of @size down from *left, the bytes until the next
 * sample: at 0 or below, this one is sampled and the next distance drawn.
 * Its weight, or 0 if not sampled.  (The library inlines the subtraction
 * and calls this only when it reaches 0.)
 */
static inline uint32_t ml_pl_countdown(int64_t *left, uint64_t *rng,
				       uint64_t size, uint64_t mean)
{
	if ((*left -= (int64_t)size) > 0)
		return 0;
	*left = ml_pl_next_sample(rng, mean);
	return ml_pl_weight(size, mean);
}

#endif /* MEMLEAK_PRELOAD_H */
