// SPDX-License-Identifier: GPL-2.0
/*
 * benchtime: times a benchmark workload from inside, so a tracer's own
 * start-up and shutdown (loading BPF, compiling bcc's C, valgrind's leak
 * check at exit) are not counted as the workload's slowdown.
 *
 * Linked into bench/mallocbench and bench/serverloop, and built as
 * libbenchtime.so for programs we cannot rebuild (gcc's cc1), which get it
 * through LD_PRELOAD.  Environment:
 *
 *   BENCH_TIME_FILE=PATH  at exit, write "wall user sys maxrss_kib" (seconds,
 *                         KiB) to PATH; wall is from the start (or release)
 *   BENCH_HOLD=1          before main, write our pid to PATH.ready and wait
 *                         for SIGUSR1: a tracer attaches with -p meanwhile
 *   BENCH_TARGET=NAME     (the preloaded library only) act in the program
 *                         named NAME only: the tracer that runs the workload
 *                         inherits LD_PRELOAD too
 *
 * Without BENCH_TIME_FILE nothing happens.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

static struct timespec start;
static const char *time_file;

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void hold(void)
{
	char path[4096];
	sigset_t set, old;
	FILE *f;
	int sig;

	/* Blocked before we say we are ready, so an early signal waits. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	snprintf(path, sizeof(path), "%s.ready", time_file);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	while (sigwait(&set, &sig) && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

__attribute__((constructor)) static void benchtime_start(void)
{
	const char *target = getenv("BENCH_TARGET");
	const char *h = getenv("BENCH_HOLD");

#ifdef BENCHTIME_PRELOAD
	extern char *program_invocation_short_name;

	if (!target || strcmp(target, program_invocation_short_name))
		return;
#else
	(void)target;
#endif
	time_file = getenv("BENCH_TIME_FILE");
	if (!time_file || !*time_file) {
		time_file = NULL;
		return;
	}
	if (h && !strcmp(h, "1"))
		hold();
	clock_gettime(CLOCK_MONOTONIC, &start);
}

__attribute__((destructor)) static void benchtime_end(void)
{
	struct timespec end;
	struct rusage ru;
	FILE *f;

	if (!time_file)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	getrusage(RUSAGE_SELF, &ru);
	f = fopen(time_file, "w");
	if (!f)
		return;
	fprintf(f, "%.6f %.3f %.3f %ld\n",
		(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9,
		tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss);
	fclose(f);
}
