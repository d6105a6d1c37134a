// SPDX-License-Identifier: GPL-2.0
/*
 * Drive lib/target/inject.c from the tests (test-inject.sh) until memleak
 * has its --inject: load LIB into PID and redirect the allocator to it.
 *
 *   inject [-v] [-H] PID LIB [SYMBOL...]   (-v: timings of each step)
 *   inject -T PID                   trace PID (a stand-in for a debugger)
 *                                   until SIGTERM, after printing "tracing"
 *
 * Prints "injected tid=T syscall=N threads=N objects=N slots=N missing=N
 * us=N" (the borrowed thread, the system call it was in or -1, threads
 * stopped, objects and GOT slots patched, symbols LIB lacks, microseconds
 * taken).  With -H it then holds the result until SIGUSR1 or SIGTERM,
 * undoes the redirection and prints "undone".  Errors go to stderr, exit 1.
 */
#include <signal.h>
#include <sys/ptrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/inject.h"
#include "util/util.h"

static const char *const preload_symbols[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
	"malloc_usable_size", NULL,
};

int main(int argc, char **argv)
{
	const char *const *syms = preload_symbols;
	struct ml_inject inj;
	bool hold = false;
	char err[512];
	uint64_t t0;
	sigset_t set;
	int sig, ret;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (argc == 3 && !strcmp(argv[1], "-T")) {
		if (ptrace(PTRACE_SEIZE, atoi(argv[2]), 0, 0)) {
			perror("inject: PTRACE_SEIZE");
			return 1;
		}
		printf("tracing\n");
		fflush(stdout);
		sigwait(&set, &sig);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "-v")) {
		ml_verbose = 1;
		argc--;
		argv++;
	}
	if (argc > 1 && !strcmp(argv[1], "-H")) {
		hold = true;
		argc--;
		argv++;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: inject [-H] PID LIB [SYMBOL...]\n");
		return 2;
	}
	if (argc > 3)
		syms = (const char *const *)argv + 3;
	t0 = ml_now_ns();
	ret = ml_inject_library(atoi(argv[1]), argv[2], syms, &inj, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "inject: %s\n", err);
		return 1;
	}
	printf("injected tid=%d syscall=%ld threads=%u objects=%u slots=%zu "
	       "missing=%d us=%llu\n", inj.tid, inj.syscall, inj.nr_threads,
	       inj.nr_objects, inj.nr_patches, inj.missing,
	       (unsigned long long)(ml_now_ns() - t0) / 1000);
	fflush(stdout);
	if (hold) {
		sigwait(&set, &sig);
		if (ml_inject_undo(&inj, err, sizeof(err))) {
			fprintf(stderr, "inject: undo: %s\n", err);
			return 1;
		}
		printf("undone\n");
	}
	ml_inject_release(&inj);
	return 0;
}
