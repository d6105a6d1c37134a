// SPDX-License-Identifier: GPL-2.0
/*
 * mallocbench: N malloc/free pairs of 16 to 4096 bytes (a fixed
 * pseudo-random sequence), made DEPTH calls deep, timed.  Built -O2
 * -fomit-frame-pointer -fno-optimize-sibling-calls like a distribution
 * binary, so a frame-pointer walk stops early and a DWARF unwind walks all
 * DEPTH frames.
 *
 *	mallocbench [-t THREADS] [-w WORKSET] [-l LEAKS] [N [DEPTH]]
 *
 *   N        pairs in all, shared among the threads (default 1000000)
 *   DEPTH    calls between the thread's start and malloc (default 8)
 *   -t       threads (default 1)
 *   -w       keep WORKSET blocks per thread alive: each allocation replaces
 *            a random one of them, so blocks live a while as in a real
 *            program (default 0: each block is freed at once)
 *   -l       leak LEAKS blocks of 100 bytes in all from leak_block(), spread
 *            over the run, so every tool has a known leak to report
 *            (default 0)
 *
 * Prints the elapsed seconds and nanoseconds per pair on stderr; the
 * working set is freed at the end, so only the leaks are outstanding.
 * bench/benchtime.c (linked in) also writes the time to $BENCH_TIME_FILE.
 *
 * With MALLOCBENCH_WAIT set in its environment it stops itself (SIGSTOP)
 * before the timed loop, so a tracer can attach with -p first and then
 * continue it (SIGCONT).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define LEAK_SIZE 100

void *volatile sink;
volatile unsigned long work;

struct worker {
	pthread_t thread;
	long n;			/* pairs */
	int depth;
	long workset;
	long leak_every;	/* leak after every leak_every-th pair, 0: none */
	long leaks;		/* at most this many */
	unsigned long rng;
};

static inline unsigned long next(unsigned long *s)
{
	/* xorshift64: the same sizes in every run */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline size_t size_of(unsigned long r)
{
	return 16 + (r >> 8) % (4096 - 16 + 1);
}

static NOINLINE void leak_block(void)
{
	char *p = malloc(LEAK_SIZE);

	if (p)
		memset(p, 0x5a, LEAK_SIZE);
	sink = p;
}

static NOINLINE void pairs(struct worker *w)
{
	void **set = NULL;
	long leaked = 0;

	if (w->workset)
		set = calloc(w->workset, sizeof(*set));
	for (long i = 0; i < w->n; i++) {
		unsigned long r = next(&w->rng);
		char *p = malloc(size_of(r));

		if (p)
			p[0] = (char)i;	/* touch it, as a program would */
		sink = p;
		if (set) {
			long slot = (r >> 40) % w->workset;

			free(set[slot]);
			set[slot] = p;
		} else {
			free(p);
		}
		if (w->leak_every && (i + 1) % w->leak_every == 0 &&
		    leaked < w->leaks) {
			leak_block();
			leaked++;
		}
	}
	for (long i = 0; set && i < w->workset; i++)
		free(set[i]);
	free(set);
}

static NOINLINE void nest(struct worker *w, int depth)
{
	unsigned long a = work * 13 + depth;

	if (depth > 1)
		nest(w, depth - 1);
	else
		pairs(w);
	work += a;
}

static void *run(void *arg)
{
	struct worker *w = arg;

	nest(w, w->depth);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mallocbench [-t THREADS] [-w WORKSET] [-l LEAKS] [N [DEPTH]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n = 1000000, workset = 0, leaks = 0;
	int depth = 8, threads = 1, c;
	struct worker *w;
	struct timespec a, b;
	double s;

	while ((c = getopt(argc, argv, "t:w:l:h")) != -1) {
		switch (c) {
		case 't':
			threads = atoi(optarg);
			break;
		case 'w':
			workset = atol(optarg);
			break;
		case 'l':
			leaks = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		n = atol(argv[optind++]);
	if (optind < argc)
		depth = atoi(argv[optind++]);
	if (optind < argc || n <= 0 || depth < 1 || threads < 1 ||
	    workset < 0 || leaks < 0)
		usage();

	w = calloc(threads, sizeof(*w));
	if (!w)
		return 1;
	for (int i = 0; i < threads; i++) {
		long share = leaks / threads + (i < leaks % threads);

		w[i].n = n / threads + (i < n % threads);
		w[i].depth = depth;
		w[i].workset = workset;
		w[i].leaks = share;
		w[i].leak_every = share ? (w[i].n / share ? w[i].n / share : 1) : 0;
		w[i].rng = 0x9e3779b97f4a7c15UL * (i + 1);
	}
	if (getenv("MALLOCBENCH_WAIT"))
		raise(SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (threads == 1) {
		run(&w[0]);
	} else {
		for (int i = 0; i < threads; i++)
			if (pthread_create(&w[i].thread, NULL, run, &w[i])) {
				perror("mallocbench: pthread_create");
				return 1;
			}
		for (int i = 0; i < threads; i++)
			pthread_join(w[i].thread, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr,
		"mallocbench: %ld pairs, depth %d, %d threads, workset %ld, %ld leaks, %.6f s: %.1f ns per pair\n",
		n, depth, threads, workset, leaks, s, s * 1e9 / n);
	free(w);
	return 0;
}
