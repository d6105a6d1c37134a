/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tracing session: the target process, the event source feeding the
 * in-kernel tracker, the process's mappings and symbolizer, and the event
 * loop (interval timer, -t events, signals, the target's exit).  Live
 * reporting and recording are callbacks on top of it.
 */
#ifndef MEMLEAK_SESSION_H
#define MEMLEAK_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/aggregate.h"
#include "options/options.h"
#include "source/source.h"
#include "target/target.h"

struct ml_maps;
struct ml_symbolizer;
struct ml_ksyms;
struct ring_buffer;

enum ml_tick {
	ML_TICK_INTERVAL,	/* every INTERVAL seconds */
	ML_TICK_INTERRUPT,	/* SIGINT/SIGTERM/SIGHUP: the last tick */
	ML_TICK_EXIT,		/* the target exited: the last tick */
};

struct ml_session;

struct ml_session_ops {
	/* Tracing is set up; a -c command is about to run. */
	void (*started)(struct ml_session *s);
	/* A -t event from the ring buffer. */
	void (*event)(struct ml_session *s, const struct ml_event *e);
	/* Return true to end the session after an interval tick. */
	bool (*tick)(struct ml_session *s, enum ml_tick why);
};

struct ml_inject;

struct ml_session {
	const struct ml_opts *o;
	const struct ml_session_ops *ops;
	void *priv;
	pid_t pid;			/* the traced process */
	struct ml_source src;
	struct ml_target target;
	struct ml_maps *maps;
	struct ml_symbolizer *sym;
	struct ml_ksyms *ksyms;		/* kernel symbols (kernel mode) */
	struct ring_buffer *rb;
	uint64_t start_ns;		/* CLOCK_MONOTONIC when tracing began */
	char *cgroup;			/* --cgroup, resolved to its directory */
	int sfd;			/* signalfd */
	char *preload_lib;		/* -c: the preload library the command loads */
	struct ml_inject *inj;		/* --inject: what to undo at the end */
};

/*
 * Start the target (or find it), open and attach the event source, and let
 * a -c command run.  The "Attaching to ..." line goes to @info.  Returns -1
 * on success, else the exit code to leave with (the session is closed).
 */
int ml_session_open(struct ml_session *s, const struct ml_opts *o,
		    const struct ml_session_ops *ops, void *priv, FILE *info);

/* The event loop.  Returns memleak's exit code: a -c command's status, or 0. */
int ml_session_run(struct ml_session *s);

/* Detach and remove every probe, kill a -c command still running, free. */
void ml_session_close(struct ml_session *s);

/*
 * Read the tracker into @r, grouped by stack and sorted by -sort; blocks
 * younger than -o are left out unless @all_ages.  0 or -errno.
 */
int ml_session_read(struct ml_session *s, bool all_ages, struct ml_report *r);

/* Loss counters and BPF misses, for the report footer. */
void ml_session_losses(struct ml_session *s, uint64_t counters[ML_CNT_MAX],
		       uint64_t *prog_misses);

#endif /* MEMLEAK_SESSION_H */
