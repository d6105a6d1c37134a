/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An event source: something that feeds allocation and free events into the
 * in-kernel tracker (bpf/tracker.bpf.h).  Whatever the source, user space
 * reads the same tracker maps (struct ml_tracker), so the reporter never
 * knows which source ran.
 */
#ifndef MEMLEAK_SOURCE_H
#define MEMLEAK_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracker/tracker.h"

struct ml_source_config {
	pid_t pid;			/* process to trace */
	const char *obj;		/* -O: allocator object, NULL = libc */
	const char *symbols_prefix;	/* "je_" for jemalloc */
	uint64_t min_size, max_size;
	uint32_t sample_rate;
	bool trace;			/* -t: per-event ring buffer records */
	uint32_t max_allocs;		/* capacity of the outstanding-block map
					   (0: ML_ALLOCS_DEFAULT, kernel
					   ML_KALLOCS_DEFAULT) */
	uint32_t stack_map_size;	/* capacity of the stack map */
	int call_graph;			/* enum ml_call_graph */
	bool combined;			/* keep per-stack totals (--combined-only) */
	/* kernel sources */
	const char *cgroup;		/* only allocations made in this cgroup */
	bool percpu;			/* also percpu allocations */
	bool grow_stacks;		/* stacks only for growing call sites */
	const char *exe;		/* -c: the program about to run (unwind tables) */
	/* the preload source */
	const char *preload_lib;	/* libmemleak-preload.so the target loads */
	uint64_t sample_bytes;		/* --sample-bytes: mean bytes per sample */
};

struct ml_source;

struct ml_source_ops {
	const char *name;
	/* Create probes and load BPF (nothing fires yet). 0 or -errno. */
	int (*open)(struct ml_source *src, const struct ml_source_config *cfg);
	/* Start delivering events. 0 or -errno (a message already printed). */
	int (*attach)(struct ml_source *src);
	/*
	 * Sources whose tracker lives in user space: read what arrived.
	 * Called often, and before every read of the tracker.  May be NULL.
	 */
	void (*drain)(struct ml_source *src);
	/*
	 * The target's mappings may have changed (dlopen): catch up, e.g.
	 * load unwind tables for new modules.  May be NULL.
	 */
	void (*refresh)(struct ml_source *src);
	/*
	 * Before every read of the tracker: have what the target holds back
	 * (the preload library's batches) delivered.  May be NULL.
	 */
	void (*sync)(struct ml_source *src);
	/*
	 * The target is exiting with wait status @status, its memory still
	 * there: say what it takes with it (the preload library's batches).
	 * May be NULL.
	 */
	void (*exiting)(struct ml_source *src, int status);
	/* Sum of the BPF programs' recursion misses. */
	uint64_t (*prog_misses)(struct ml_source *src);
	/* Detach, unload, remove every probe.  Safe after a failed open. */
	void (*close)(struct ml_source *src);
};

struct ml_source {
	const struct ml_source_ops *ops;
	struct ml_tracker tracker;	/* filled by open() */
	void *priv;
};

extern const struct ml_source_ops ml_uprobe_source;
extern const struct ml_source_ops ml_preload_source;

/*
 * The preload library memleak's targets load (libmemleak-preload.so): in
 * the build tree next to this executable, installed in ../lib/memleak/, or
 * $MEMLEAK_PRELOAD_LIB.  A malloc()ed path, or NULL if there is none.
 */
char *ml_preload_find_lib(void);

/*
 * Why @prog cannot be traced through a preload library (statically linked,
 * setuid or setgid; with @stacks, code of it or of a library it needs that
 * only .debug_frame describes), or NULL if it can.
 */
const char *ml_preload_unusable(const char *prog, bool stacks);

/*
 * Set the ML_PL_* @flags and the mean bytes between samples (0: every
 * allocation) of preload library @lib loaded at @bias in process @pid
 * (--inject: the process did not start with our environment; the library
 * takes the rate when ML_PL_CONFIGURE_SYM is called).  0 or -errno.
 */
int ml_preload_set_config(pid_t pid, const char *lib, uint64_t bias,
			  uint32_t flags, uint64_t sample_bytes);

#endif /* MEMLEAK_SOURCE_H */
