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
 *   preloadt family    every allocator, each block at least 1 KiB (so that
 *                      at --sample-bytes=16 each is a sample of weight 1):
 *                      malloc 2000, calloc 3000, realloc 1200 (grown from
 *                      1500 to 5000 first), realloc(NULL) 1100,
 *                      reallocarray 2000, posix_memalign 1024, aligned_alloc
 *                      4096, memalign 1280, one of two mmap 8192 kept;
 *                      posix_memalign at 1 MiB, valloc, pvalloc, realloc
 *                      to 0, the other mmap and 1000 malloc/free pairs
 *                      freed.  It checks contents, alignment and
 *                      malloc_usable_size: exit 3 if one is wrong.
 *                      PRELOADT_HEADER=1: the malloc'd block must have the
 *                      library's sample header (its offset's log2, 4, in
 *                      the 8 bytes before it)
 *
 * No stdio: its buffers would be outstanding allocations.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void expect(int ok)
{
	if (!ok) {
		if (write(2, "family: a check failed\n", 23) < 0)
			_exit(4);
		_exit(3);
	}
}

static void expect_bytes(const unsigned char *p, int c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect(p[i] == c);
}

static void *family_kept[9];

void family(void)
{
	unsigned char *p;
	void *a;

	p = malloc(2000); /* LEAK: fam-malloc */
	expect(p && malloc_usable_size(p) >= 2000);
	if (getenv("PRELOADT_HEADER"))
		expect(((uint32_t *)p)[-2] == 4);
	memset(p, 1, 2000);
	family_kept[0] = p;

	p = calloc(100, 30); /* LEAK: fam-calloc */
	expect(p && malloc_usable_size(p) >= 3000);
	expect_bytes(p, 0, 3000);
	family_kept[1] = p;

	p = malloc(1500);
	expect(p != NULL);
	memset(p, 7, 1500);
	p = realloc(p, 5000);
	expect(p && malloc_usable_size(p) >= 5000);
	expect_bytes(p, 7, 1500);
	memset(p, 8, 5000);
	p = realloc(p, 1200); /* LEAK: fam-realloc */
	expect(p && malloc_usable_size(p) >= 1200);
	expect_bytes(p, 8, 1200);
	family_kept[2] = p;

	family_kept[3] = realloc(NULL, 1100); /* LEAK: fam-realloc-null */
	family_kept[4] = reallocarray(NULL, 10, 200); /* LEAK: fam-reallocarray */
	expect(family_kept[3] && family_kept[4]);

	expect(!posix_memalign(&a, 64, 1024)); /* LEAK: fam-posix */
	expect((uintptr_t)a % 64 == 0 && malloc_usable_size(a) >= 1024);
	family_kept[5] = a;
	a = aligned_alloc(4096, 4096); /* LEAK: fam-aligned */
	expect(a && (uintptr_t)a % 4096 == 0 && malloc_usable_size(a) >= 4096);
	memset(a, 9, 4096);
	family_kept[6] = a;
	a = memalign(256, 1280); /* LEAK: fam-memalign */
	expect(a && (uintptr_t)a % 256 == 0);
	family_kept[7] = a;

	for (int i = 0, prot = PROT_READ | PROT_WRITE,
	     fl = MAP_PRIVATE | MAP_ANONYMOUS; i < 2; i++) {
		a = mmap(NULL, 8192, prot, fl, -1, 0); /* LEAK: fam-mmap */
		expect(a != MAP_FAILED);
		if (i)
			expect(!munmap(a, 8192));
		else
			family_kept[8] = a;
	}

	expect(!posix_memalign(&a, 1 << 20, 1024));	/* freed */
	expect((uintptr_t)a % (1 << 20) == 0 && malloc_usable_size(a) >= 1024);
	free(a);

	a = valloc(2048);
	expect(a && (uintptr_t)a % 4096 == 0);
	free(a);
	a = pvalloc(100);
	expect(a && (uintptr_t)a % 4096 == 0 && malloc_usable_size(a) >= 4096);
	free(a);
	a = malloc(1024);
	expect(a != NULL);
	expect(realloc(a, 0) == NULL);	/* freed */
	for (int i = 0; i < 1000; i++) {
		a = malloc(1024 + i);
		expect(a != NULL);
		memset(a, i, 1024 + i);
		free(a);
	}
	free(NULL);
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
	} else if (!strcmp(mode, "family")) {
		family();
	} else if (!strcmp(mode, "term")) {
		keep10();
		raise(SIGTERM);
	} else {
		return 2;
	}
	return 0;
}
