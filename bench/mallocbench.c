// SPDX-License-Identifier: GPL-2.0
/*
 * mallocbench: N malloc/free pairs made DEPTH calls deep, timed.  Built
 * -O2 -fomit-frame-pointer -fno-optimize-sibling-calls like a distribution
 * binary, so a frame-pointer walk stops early and a DWARF unwind walks all
 * DEPTH frames.  Prints the nanoseconds per pair.
 *
 *	mallocbench [N [DEPTH]]		defaults: 1000000 8
 *
 * With MALLOCBENCH_WAIT set in its environment it stops itself (SIGSTOP)
 * before the timed loop, so a tracer can attach with -p first and then
 * continue it (SIGCONT).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink;
volatile unsigned long work;

static NOINLINE void pairs(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(32 + (i & 255));

		sink = p;
		free(p);
	}
}

static NOINLINE void nest(long n, int depth)
{
	unsigned long a = work * 13 + depth;

	if (depth > 1)
		nest(n, depth - 1);
	else
		pairs(n);
	work += a;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int depth = argc > 2 ? atoi(argv[2]) : 8;
	struct timespec a, b;
	double ns;

	if (getenv("MALLOCBENCH_WAIT"))
		raise(SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &a);
	nest(n, depth);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	fprintf(stderr, "mallocbench: %ld pairs, depth %d: %.1f ns per pair\n",
		n, depth, ns / n);
	return 0;
}
