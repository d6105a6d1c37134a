// SPDX-License-Identifier: GPL-2.0
/*
 * A target with leaks at known places, for memleak's integration tests.
 *
 * Every leaking allocation call sits on a line marked LEAK: <tag>, every call
 * of a leaking function from main() on a line marked CALL: <tag>; the tests
 * find those lines with grep -n, so lines can move freely.  Build with
 * -O0 -fno-omit-frame-pointer so every function has a frame.
 *
 *   leaky MODE     MODE: direct calloc strdup memalign realloc mmap threads
 *                        mixed|all (direct..realloc) none wait single
 *                        setuid
 *   leaky wait N   wait mode, but each SIGUSR1 leaks N x 512 bytes instead
 *   leaky wait-thread  wait mode in a second thread, the first one waiting
 *                  for it in pthread_join()
 *
 * No stdio: its buffers would be real outstanding allocations.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#define STR23		"twenty-three characters"	/* strlen 23: 24 bytes */
#define MMAP_LEN	(3 * 4096)
#define NR_THREADS	4

void *volatile sink;
volatile size_t huge = SIZE_MAX / 2;	/* volatile: no compile-time warnings */

static void say(const char *s)
{
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		_exit(3);
}

/* 100 x malloc(48) = 4800 bytes */
void leak_direct(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(48); /* LEAK: direct */
}

/* 10 x calloc(10, 32) = 3200 bytes */
void leak_calloc(void)
{
	for (int i = 0; i < 10; i++)
		sink = calloc(10, 32); /* LEAK: calloc */
}

/* 10 x strdup(23 chars) = 240 bytes, allocated by malloc inside strdup */
void leak_strdup(void)
{
	for (int i = 0; i < 10; i++)
		sink = strdup(STR23); /* LEAK: strdup */
}

/* 5 x posix_memalign(64, 1000) = 5000 bytes; 4 x aligned_alloc(64, 128) = 512 */
void leak_memalign(void)
{
	void *p;

	for (int i = 0; i < 5; i++) {
		if (posix_memalign(&p, 64, 1000)) /* LEAK: posix_memalign */
			abort();
		sink = p;
	}
	for (int i = 0; i < 4; i++)
		sink = aligned_alloc(64, 128); /* LEAK: aligned_alloc */
}

/*
 * A realloc chain whose last block (100000 bytes) leaks; realloc(q, 0) frees
 * q; a failed realloc leaves r allocated, and r is then freed.
 */
void leak_realloc(void)
{
	void *p, *q, *r;

	p = realloc(NULL, 16);
	p = realloc(p, 64);
	p = realloc(p, 4096);
	p = realloc(p, 100000); /* LEAK: realloc */
	sink = p;

	q = malloc(200);
	if (realloc(q, 0))	/* glibc: frees q, returns NULL */
		abort();

	r = malloc(300);
	if (realloc(r, huge))	/* fails: r stays allocated */
		abort();
	free(r);
}

/* 2 x mmap of 3 pages, one unmapped: 12288 bytes in 1 mapping */
void leak_mmap(void)
{
	void *m[2];

	for (int i = 0; i < 2; i++) {
		m[i] = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* LEAK: mmap */
		if (m[i] == MAP_FAILED)
			abort();
	}
	munmap(m[0], MMAP_LEN);
}

static pthread_barrier_t barrier;

/* Each thread: 25 x malloc(1000), its first one in a fresh arena. */
void *thread_leak(void *arg)
{
	void *volatile p;

	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 25; i++)
		p = malloc(1000); /* LEAK: thread */
	(void)p;
	return arg;
}

/* 4 threads x 25 x 1000 = 100000 bytes in 100 allocations */
void leak_threads(void)
{
	pthread_t t[NR_THREADS];

	pthread_barrier_init(&barrier, NULL, NR_THREADS);
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&t[i], NULL, thread_leak, NULL))
			abort();
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
}

/* Everything above, but freed. */
void no_leaks(void)
{
	void *p, *q, *r;

	p = malloc(48);
	free(p);
	p = calloc(10, 32);
	free(p);
	p = realloc(NULL, 16);
	p = realloc(p, 64);
	p = realloc(p, 4096);
	free(p);
	if (posix_memalign(&p, 64, 1000))
		abort();
	free(p);
	p = aligned_alloc(64, 128);
	free(p);
	p = strdup(STR23);
	free(p);
	p = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	munmap(p, MMAP_LEN);
	q = malloc(200);
	if (realloc(q, 0))
		abort();
	r = malloc(300);
	if (realloc(r, huge))
		abort();
	free(r);
}

static volatile sig_atomic_t got_usr1, got_term;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

/* 10 x malloc(777) = 7770 bytes, on each SIGUSR1 in wait mode */
void leak_on_signal(void)
{
	for (int i = 0; i < 10; i++)
		sink = malloc(777); /* LEAK: signal */
}

/* @n x malloc(512), on each SIGUSR1 in "wait N" mode */
void leak_many(long n)
{
	for (long i = 0; i < n; i++)
		sink = malloc(512); /* LEAK: many */
}

/* How many tasks of this process have uid 0 (real, effective or saved)? */
static int root_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char path[64] = "/proc/self/task/", buf[4096], *uid;
		unsigned int r, e, sv;
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		strcat(strcat(path, de->d_name), "/status");
		fd = open(path, O_RDONLY);
		len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;	/* it just exited */
		buf[len] = '\0';
		uid = strstr(buf, "\nUid:");
		if (!uid)
			continue;
		r = strtoul(uid + 5, &uid, 10);
		e = strtoul(uid, &uid, 10);
		sv = strtoul(uid, &uid, 10);
		n += !r || !e || !sv;
	}
	if (d)
		closedir(d);
	return n;
}

/* Drop root as a daemon does: no task of the process keeps it, not even a tracer's. */
static int setuid_mode(void)
{
	if (setgid(65534) || setuid(65534))
		return 4;
	for (int i = 0; i < 100 && root_tasks(); i++)
		usleep(10000);
	say(root_tasks() ? "a task kept root\n" : "no task kept root\n");
	leak_direct();
	return 0;
}

/*
 * Leak like direct, print "ready", then wait for signals: SIGUSR1 leaks
 * 10 x 777 bytes (@many: @many x 512 bytes) and prints "leaked", SIGTERM
 * or SIGINT exits 0.  Gives up after 120 s so that a broken test cannot
 * leave it behind for long.
 */
static int wait_mode(long many)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* waiting, they get through (blocked in the thread that started us) */
	sigdelset(&old, SIGUSR1);
	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	alarm(120);

	leak_direct();
	say("ready\n");
	while (!got_term) {
		while (!got_usr1 && !got_term)
			sigsuspend(&old);	/* the pause loop, without a race */
		if (got_usr1) {
			got_usr1 = 0;
			if (many)
				leak_many(many); /* CALL: many */
			else
				leak_on_signal(); /* CALL: signal */
			say("leaked\n");
		}
	}
	say("bye\n");
	return 0;
}

static void *wait_thread(void *arg)
{
	return (void *)(intptr_t)wait_mode(0);
}

/* wait mode in a thread of its own: the signals reach only that one */
static int wait_thread_mode(void)
{
	sigset_t block;
	pthread_t t;
	void *rc;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (pthread_create(&t, NULL, wait_thread, NULL) || pthread_join(t, &rc))
		return 3;
	return (int)(intptr_t)rc;
}

static int is(const char *mode, const char *name)
{
	return !strcmp(mode, name);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "direct";
	int all = is(mode, "mixed") || is(mode, "all");

	if (is(mode, "wait"))
		return wait_mode(argc > 2 ? atol(argv[2]) : 0);
	if (is(mode, "wait-thread"))
		return wait_thread_mode();
	if (is(mode, "setuid"))
		return setuid_mode();
	/* Does libc think it is single-threaded (its malloc then takes no lock)? */
	if (is(mode, "single")) {
		say(__libc_single_threaded ? "single-threaded: yes\n" :
		    "single-threaded: no\n");
		leak_direct();
		return 0;
	}
	if (is(mode, "none")) {
		no_leaks();
		return 0;
	}
	if (is(mode, "threads")) {
		leak_threads(); /* CALL: threads */
		return 0;
	}
	if (is(mode, "mmap")) {
		leak_mmap(); /* CALL: mmap */
		return 0;
	}
	if (!all && !is(mode, "direct") && !is(mode, "calloc") && !is(mode, "strdup") &&
	    !is(mode, "memalign") && !is(mode, "realloc")) {
		if (write(STDERR_FILENO, "leaky: unknown mode\n", 20) < 0)
			return 3;
		return 2;
	}
	if (all || is(mode, "direct"))
		leak_direct(); /* CALL: direct */
	if (all || is(mode, "calloc"))
		leak_calloc(); /* CALL: calloc */
	if (all || is(mode, "strdup"))
		leak_strdup(); /* CALL: strdup */
	if (all || is(mode, "memalign"))
		leak_memalign(); /* CALL: memalign */
	if (all || is(mode, "realloc"))
		leak_realloc(); /* CALL: realloc */
	return 0;
}
