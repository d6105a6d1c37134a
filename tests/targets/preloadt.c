// SPDX-License-Identifier: GPL-2.0
/*
 * Targets for the preload source's tests (tests/integration/test-preload.sh).
 *
 *   preloadt contend   thread A allocates 64-byte blocks that thread B frees
 *                      while A at once gets the same addresses back (tcache
 *                      off: a freed chunk goes back to A's arena, LIFO);
 *                      A keeps every 4th: 5000 x 64 = 320000 bytes
 *   preloadt live      1000 x malloc(100), 990 freed, then 3 s asleep with
 *                      those frees still in the library's batch: a report
 *                      taken meanwhile must show 1000 bytes in 10 blocks
 *   preloadt bulk      20000 x 1000 and 1000 x 20000 bytes kept (40 MB),
 *                      as many freed: for --sample-bytes estimates
 *   preloadt big       16384 x 64 KiB kept (1 GiB, few pages touched), as
 *                      many freed: the default rate's estimate
 *   preloadt exit|Exit 10 x malloc(100) kept, 10 freed, then _exit(0) or
 *                      _Exit(0): no destructor hands the batch over
 *   preloadt term      the same, then killed by SIGTERM: the batch is lost
 *
 * No stdio: its buffers would be outstanding allocations.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS	20000

static void *volatile slot;
static void *kept[ROUNDS];
static int nkept;

/* Thread B: frees whatever A hands over. */
static void *freer(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		void *p;

		while (!(p = __atomic_load_n(&slot, __ATOMIC_ACQUIRE)))
			sched_yield();
		free(p);
		__atomic_store_n(&slot, NULL, __ATOMIC_RELEASE);
	}
	return arg;
}

void contend(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, freer, NULL))
		abort();
	for (int i = 0; i < ROUNDS; i++) {
		void *p = malloc(64), *q;

		__atomic_store_n(&slot, p, __ATOMIC_RELEASE);
		while (__atomic_load_n(&slot, __ATOMIC_ACQUIRE))
			sched_yield();
		q = malloc(64);	/* most often p again */ /* LEAK: contend */
		if (i % 4 == 0)
			kept[nkept++] = q;
		else
			free(q);
	}
	pthread_join(t, NULL);
}

void live(void)
{
	static void *b[1000];
	struct timespec ts = { .tv_sec = 3 };

	for (int i = 0; i < 1000; i++)
		b[i] = malloc(100); /* LEAK: live */
	for (int i = 0; i < 990; i++)
		free(b[i]);
	if (write(1, "ready\n", 6) < 0)
		_exit(3);
	nanosleep(&ts, NULL);
}

void bulk(void)
{
	static void *small[2 * 20000], *big[2 * 1000];

	for (int i = 0; i < 2 * 20000; i++)
		small[i] = malloc(1000); /* LEAK: bulk-small */
	for (int i = 0; i < 2 * 1000; i++)
		big[i] = malloc(20000); /* LEAK: bulk-big */
	for (int i = 0; i < 2 * 20000; i += 2)
		free(small[i]);
	for (int i = 0; i < 2 * 1000; i += 2)
		free(big[i]);
}

void big(void)
{
	static void *b[2 * 16384];

	for (int i = 0; i < 2 * 16384; i++)
		b[i] = malloc(65536); /* LEAK: big */
	for (int i = 0; i < 2 * 16384; i += 2)
		free(b[i]);
}

/* 10 blocks kept, 10 freed: 30 events, all in this thread's batch */
void keep10(void)
{
	static void *b[20];

	for (int i = 0; i < 20; i++)
		b[i] = malloc(100); /* LEAK: exit */
	for (int i = 0; i < 20; i += 2)
		free(b[i]);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "contend")) {
		/* no per-thread cache: a freed chunk goes straight back to its arena */
		if (!getenv("GLIBC_TUNABLES")) {
			setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
			execv("/proc/self/exe", argv);
			return 2;
		}
		contend();
	} else if (!strcmp(mode, "live")) {
		live();
	} else if (!strcmp(mode, "bulk")) {
		bulk();
	} else if (!strcmp(mode, "big")) {
		big();
	} else if (!strcmp(mode, "exit")) {
		keep10();
		_exit(0);
	} else if (!strcmp(mode, "Exit")) {
		keep10();
		_Exit(0);
	} else if (!strcmp(mode, "term")) {
		keep10();
		raise(SIGTERM);
	} else {
		return 2;
	}
	return 0;
}
