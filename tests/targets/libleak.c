// SPDX-License-Identifier: GPL-2.0
/* libleak.so: a shared library that leaks, for memleak's integration tests. */
#include <stdlib.h>

void *volatile lib_sink;

/* n x malloc(512) */
void lib_leak(int n)
{
	for (int i = 0; i < n; i++)
		lib_sink = malloc(512); /* LEAK: lib */
}
