// SPDX-License-Identifier: GPL-2.0
/*
 * Leaks made through code without frame pointers, for the DWARF unwinder:
 * built -O2 -fomit-frame-pointer -fno-optimize-sibling-calls (every call
 * keeps its frame; no function is inlined: noinline), and leaks through
 * libc (strdup, getline, fopen) and from a thread.
 *
 *	nofp [direct|strdup|getline|fopen|thread|all|deep|shift|sleep]
 *
 * deep: one leak 200 calls deep (deeper than any stack kept: truncated);
 * shift: a leak under a big frame, then one under a small frame called
 * from main: the second stack lies where the first one's frames were, so an
 * unwinder that reused what it read of the first would get it wrong;
 * sleep: all the leaks after 2 seconds, then 3 more seconds (for -p).
 *
 * Every leaked pointer is dropped, so valgrind calls them "definitely lost".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink;
volatile unsigned long work;

/* Enough work that the compiler saves callee-saved registers on the stack. */
static NOINLINE unsigned long mix(unsigned long a, unsigned long b)
{
	for (int i = 0; i < 8; i++)
		a = a * 31 + (b ^ (a >> 7));
	return a;
}

static NOINLINE void *leaf_alloc(size_t n, unsigned long salt)
{
	unsigned long a = mix(salt, n), b = mix(n, salt);
	void *p = malloc(n + (a & b & 0));	/* LEAK: direct */

	work += a ^ b;
	return p;
}

static NOINLINE void middle(int k, unsigned long salt)
{
	unsigned long a = mix(k, salt);

	for (int i = 0; i < k; i++) {
		sink = leaf_alloc(100, a + i);	/* CALL: middle */
		sink = NULL;
	}
	work += a;
}

static NOINLINE void outer(int k)
{
	unsigned long a = mix(k, 3), b = mix(a, k);

	middle(k, a ^ b);	/* CALL: outer */
	work += a + b;
}

static NOINLINE void leak_strdup(const char *s)
{
	unsigned long a = mix(1, 2);

	for (int i = 0; i < 3; i++) {
		sink = strdup(s);	/* LEAK: strdup */
		sink = NULL;
	}
	work += a;
}

static NOINLINE void leak_getline(void)
{
	FILE *f = fopen("/proc/self/stat", "r");
	char *line = NULL;
	size_t len = 0;

	if (!f)
		return;
	if (getline(&line, &len, f) < 0)	/* LEAK: getline */
		work++;
	line = NULL;
	sink = line;
	fclose(f);
}

static NOINLINE void leak_fopen(void)
{
	FILE *f = fopen("/proc/self/cmdline", "r");	/* LEAK: fopen */

	sink = f;
	sink = NULL;
	work += f != NULL;
}

static NOINLINE void thread_leaf(int n)
{
	unsigned long a = mix(n, 7);

	for (int i = 0; i < n; i++) {
		sink = calloc(1, 64);	/* LEAK: thread */
		sink = NULL;
	}
	work += a;
}

static NOINLINE void *thread_main(void *arg)
{
	unsigned long a = mix((unsigned long)arg, 5);

	thread_leaf(4);	/* CALL: thread */
	work += a;
	return NULL;
}

static NOINLINE void leak_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_main, (void *)1) == 0)
		pthread_join(t, NULL);
}

static NOINLINE void recurse(int n)
{
	unsigned long a = mix(n, 11);

	if (n > 0)
		recurse(n - 1);
	else
		sink = malloc(77);	/* LEAK: deep */
	sink = NULL;
	work += a;
}

static NOINLINE void *big_frame(size_t n)
{
	volatile char pad[512];

	pad[n & 7] = (char)n;
	work += pad[n & 7];
	return malloc(n);	/* LEAK: big */
}

static NOINLINE void under_big(size_t n)
{
	unsigned long a = mix(n, 13);

	sink = big_frame(n);	/* CALL: under_big */
	sink = NULL;
	work += a;
}

static NOINLINE void small_frame(size_t n)
{
	sink = malloc(n);	/* LEAK: small */
	sink = NULL;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	int all = !strcmp(what, "all"), pause = !strcmp(what, "sleep");

	if (!strcmp(what, "deep")) {
		recurse(200);
		return 0;
	}
	if (!strcmp(what, "shift")) {
		under_big(40);	/* CALL: main-big */
		small_frame(24);	/* CALL: main-small */
		return 0;
	}
	if (pause) {
		sleep(2);
		all = 1;
	}

	if (all || !strcmp(what, "direct"))
		outer(5);	/* CALL: main-direct */
	if (all || !strcmp(what, "strdup"))
		leak_strdup("a string that leaks");	/* CALL: main-strdup */
	if (all || !strcmp(what, "getline"))
		leak_getline();	/* CALL: main-getline */
	if (all || !strcmp(what, "fopen"))
		leak_fopen();	/* CALL: main-fopen */
	if (all || !strcmp(what, "thread"))
		leak_thread();	/* CALL: main-thread */
	if (pause)
		sleep(3);
	return 0;
}
