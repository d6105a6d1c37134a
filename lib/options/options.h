/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bcc memleak's command line (-p -c -t -a -o -s -T -z -Z -O ... INTERVAL
 * COUNT), parsed once for every subcommand that traces.
 */
#ifndef MEMLEAK_OPTIONS_H
#define MEMLEAK_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct ml_opts {
	pid_t pid;
	const char *command;
	bool trace;
	bool show_allocs;
	uint64_t older_ms;
	bool combined_only;
	bool wa_missing_free;
	uint64_t sample_rate;
	uint64_t top;
	uint64_t min_size, max_size;
	const char *obj;
	int sort;
	const char *symbols_prefix;
	uint64_t interval;
	uint64_t count;		/* 0: until interrupted or the target exits */
	uint64_t max_allocs;
	uint64_t stack_map_size;

	/* Kernel allocations (--kernel, or neither -p nor -c) */
	bool kernel;
	const char *cgroup;	/* --cgroup PATH: only allocations made in it */
	int backend;		/* enum ml_backend */
	bool percpu;		/* -P/--percpu: also percpu allocations */
	const char *vmlinux;	/* --vmlinux PATH: DWARF for kernel frames */
	int group;		/* enum ml_group_key: what a report line stands for */
	int call_graph;		/* enum ml_call_graph */
	bool grow_stacks;	/* --grow-stacks: stacks only for growing call sites */
	bool no_preload;	/* --no-preload: -c traces with libc uprobes */
	bool inject;		/* --inject: -p loads the preload library into the process */
	uint64_t sample_bytes;	/* --sample-bytes [N]: a sample per N bytes, 0: all */

	/* memleak record (ML_OPT_RECORD) */
	const char *output;	/* -o/--output FILE: the data file */
	uint64_t duration;	/* --duration SECONDS: stop after, 0: never */
	char *command_buf;	/* command as quoted from "-- CMD": the caller frees */
};

/* ml_parse_options_flags(): -o is the output FILE, "-- CMD ARGS" is -c. */
#define ML_OPT_RECORD	1

/* --sample-bytes without a value: tcmalloc's default mean. */
#define ML_SAMPLE_BYTES_DEFAULT	(512 * 1024)

enum ml_backend {
	ML_BACKEND_BPF,		/* BPF programs track in the kernel */
	ML_BACKEND_FTRACE,	/* a tracefs instance, tracking in user space */
};

enum ml_call_graph {
	ML_CG_DEFAULT,		/* the source's best: complete stacks */
	ML_CG_FP,		/* frame pointers, walked by the kernel */
	ML_CG_DWARF,		/* unwind tables */
	ML_CG_NONE,		/* no stacks: call sites only */
};

/*
 * Parse @argv into @o (defaults first).  On -h prints @usage to stdout;
 * on a bad option or value prints a one-line error naming it and @usage
 * to stderr.  Returns -1 to go on, or the exit code (0 after -h, 2).
 */
int ml_parse_options(int argc, char **argv, struct ml_opts *o,
		     void (*usage)(FILE *out));

/*
 * The same with @flags: ML_OPT_RECORD for "memleak record": -o/--output
 * FILE (no -o OLDER), --duration SECONDS, a command after "--" (quoted
 * into o->command), INTERVAL (default 1) is the snapshot period.
 */
int ml_parse_options_flags(int argc, char **argv, struct ml_opts *o,
			   void (*usage)(FILE *out), int flags);

#endif /* MEMLEAK_OPTIONS_H */
