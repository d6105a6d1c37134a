// SPDX-License-Identifier: GPL-2.0
/*
 * A running process to inject libcountalloc.so into (test-inject.sh).
 *
 *   injectee LIB loop [THREADS]   allocate in a loop (in THREADS workers,
 *                                 or in main with none) until SIGTERM
 *   injectee LIB churn THREADS    THREADS threads that keep creating
 *                                 short-lived allocating threads
 *   injectee LIB read             block in read(0); on a line, report
 *   injectee LIB sleep SECONDS    block in nanosleep(); then report
 *
 * A report ("report probes=A,B,... total=N") is printed on SIGUSR1 (loop)
 * or at the end (read, sleep): each thread (main first) makes a known set
 * of allocation calls and counts how many of them reached the library
 * LIB, through the library's per-thread counter; 0 when LIB is not loaded.
 * Fully redirected, a probe is PROBE_CALLS: the program's own calls and
 * those libc makes inside strdup().  Exits 0 on SIGTERM; 3 if a blocking
 * call fails (EINTR must not show), 4 if nanosleep() returns early.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_CALLS	2280	/* 1140 allocations, 1140 frees */
#define MAX_THREADS	64

static const char *lib;
static volatile sig_atomic_t want_report, quit;
static int nr_workers;
static int generation;			/* bumped per report: workers probe */
static int probed;			/* workers done with this generation */
static unsigned long results[MAX_THREADS + 1];
void *volatile sink;

static void say(const char *s)
{
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		_exit(5);
}

/* The calling thread's count of calls that reached LIB, 0 if not loaded. */
static unsigned long thread_count(void)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	unsigned long *n, v;

	if (!h)
		return 0;
	n = dlsym(h, "countalloc_thread_calls");
	v = n ? *n : 0;
	dlclose(h);
	return v;
}

/* PROBE_CALLS allocation calls; how many of them LIB saw. */
static unsigned long probe(void)
{
	unsigned long before = thread_count();
	void *p;
	int i;

	for (i = 0; i < 1000; i++)
		free(malloc(32));
	for (i = 0; i < 100; i++)
		free(strdup("libc calls malloc"));	/* inside libc */
	for (i = 0; i < 10; i++) {
		free(calloc(2, 16));
		free(realloc(NULL, 16));
		if (posix_memalign(&p, 64, 100))
			abort();
		free(p);
		free(aligned_alloc(64, 64));
	}
	return thread_count() - before;
}

static void report(void)
{
	char buf[64 * (MAX_THREADS + 2)];
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	unsigned long *total = h ? dlsym(h, "countalloc_allocs") : NULL;
	int len, i;

	len = snprintf(buf, sizeof(buf), "report probes=");
	for (i = 0; i <= nr_workers; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%lu",
				i ? "," : "", results[i]);
	snprintf(buf + len, sizeof(buf) - len, " total=%lu\n",
		 total ? __atomic_load_n(total, __ATOMIC_RELAXED) : 0);
	if (h)
		dlclose(h);
	say(buf);
}

/* Probe in main and in every worker, then report. */
static void probe_all(void)
{
	int gen = __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);

	(void)gen;
	results[0] = probe();
	while (__atomic_load_n(&probed, __ATOMIC_SEQ_CST) < nr_workers)
		usleep(1000);
	__atomic_store_n(&probed, 0, __ATOMIC_SEQ_CST);
	report();
}

static void pace(int i)
{
	struct timespec ms = { 0, 1000000 };

	if (i % 64 == 0)
		nanosleep(&ms, NULL);	/* EINTR from our own signals is fine */
}

static void *worker(void *arg)
{
	long id = (long)arg;
	int seen = 0;

	for (int i = 0;; i++) {
		int gen = __atomic_load_n(&generation, __ATOMIC_SEQ_CST);

		if (gen != seen) {
			seen = gen;
			results[id] = probe();
			__atomic_add_fetch(&probed, 1, __ATOMIC_SEQ_CST);
		}
		sink = malloc(32);
		free(sink);
		pace(i);
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	for (int i = 0; i < 100; i++)
		free(malloc(16));
	return NULL;
}

/* Threads come and go all the time: the injector must stop them all. */
static void *spawner(void *arg)
{
	pthread_t t;

	for (;;) {
		if (pthread_create(&t, NULL, short_lived, NULL) == 0)
			pthread_join(t, NULL);
		usleep(500);
	}
	return NULL;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_report = 1;
	else
		quit = 1;
}

static int loop_mode(int threads, bool churn)
{
	struct timespec tick = { 0, 10000000 };
	pthread_t t;

	nr_workers = churn ? 0 : threads;	/* churn: main probes alone */
	for (long i = 1; i <= threads; i++)
		if (pthread_create(&t, NULL, churn ? spawner : worker, (void *)i))
			return 2;
	say("ready\n");
	for (int i = 0; !quit; i++) {
		if (want_report) {
			want_report = 0;
			probe_all();
		}
		if (threads) {
			nanosleep(&tick, NULL);
			continue;
		}
		sink = malloc(32);
		free(sink);
		pace(i);
	}
	say("bye\n");
	_exit(0);
}

static int read_mode(void)
{
	char buf[64], msg[128];
	ssize_t n;

	say("ready\n");
	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0) {
		snprintf(msg, sizeof(msg), "read failed: %s\n", strerror(errno));
		say(msg);
		return 3;
	}
	snprintf(msg, sizeof(msg), "read %zd bytes\n", n);
	say(msg);
	probe_all();
	return 0;
}

static int sleep_mode(int secs)
{
	struct timespec req = { secs, 0 }, t0, t1;
	char msg[128];
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	say("ready\n");
	if (nanosleep(&req, NULL)) {
		snprintf(msg, sizeof(msg), "nanosleep failed: %s\n", strerror(errno));
		say(msg);
		return 3;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + t1.tv_nsec - t0.tv_nsec;
	if (ns < secs * 1000000000LL) {
		say("nanosleep returned early\n");
		return 4;
	}
	say("slept\n");
	probe_all();
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 3) {
		fprintf(stderr, "usage: injectee LIB loop [THREADS] | read | sleep SECONDS\n");
		return 2;
	}
	lib = argv[1];
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!strcmp(argv[2], "loop")) {
		int n = argc > 3 ? atoi(argv[3]) : 0;

		return loop_mode(n < 0 ? 0 : n > MAX_THREADS ? MAX_THREADS : n,
				 false);
	}
	if (!strcmp(argv[2], "churn") && argc > 3 && atoi(argv[3]) > 0)
		return loop_mode(atoi(argv[3]) > MAX_THREADS ? MAX_THREADS :
				 atoi(argv[3]), true);
	if (!strcmp(argv[2], "read"))
		return read_mode();
	if (!strcmp(argv[2], "sleep") && argc > 3)
		return sleep_mode(atoi(argv[3]));
	fprintf(stderr, "injectee: bad mode\n");
	return 2;
}
