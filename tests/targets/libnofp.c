// SPDX-License-Identifier: GPL-2.0
/* A shared library built without frame pointers that leaks (see usenofp.c). */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

void *volatile nofp_sink;
volatile unsigned long nofp_work;

static NOINLINE unsigned long nofp_mix(unsigned long a, unsigned long b)
{
	for (int i = 0; i < 8; i++)
		a = a * 33 + (b ^ (a >> 5));
	return a;
}

static NOINLINE void *nofp_inner(size_t n)
{
	unsigned long a = nofp_mix(n, 1), b = nofp_mix(2, n);
	void *p = malloc(n);	/* LEAK: lib */

	nofp_work += a ^ b;
	return p;
}

NOINLINE void nofp_lib_leak(int k, void (*cb)(void *))
{
	unsigned long a = nofp_mix(k, 9);

	for (int i = 0; i < k; i++)
		cb(nofp_inner(256));	/* CALL: lib */
	nofp_work += a;
}
