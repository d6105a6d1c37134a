// SPDX-License-Identifier: GPL-2.0
/*
 * injectbench: rounds of N malloc/free pairs, forever; after each round
 * one line "ns=X" (nanoseconds per pair).  bench/inject.sh injects a
 * library into it between rounds and compares.  Exits on SIGTERM.
 *
 *	injectbench [N]		default: 2000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void *volatile sink;

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++) {
			void *p = malloc(32 + (i & 255));

			sink = p;
			free(p);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("ns=%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 +
				     (b.tv_nsec - a.tv_nsec)) / n);
	}
}
