/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memleak's state in tracefs: mounting it, the event system each session
 * owns ("memleak_<pid>"), uprobe events in it, and removing what sessions
 * that died without cleaning up left behind.
 */
#ifndef MEMLEAK_TRACEFS_H
#define MEMLEAK_TRACEFS_H

#include <stdbool.h>
#include <stdint.h>

#define ML_TRACEFS_PREFIX "memleak_"

/* Mount tracefs at /sys/kernel/tracing if it is not mounted.  0 or -errno. */
int ml_tracefs_ready(void);

/* This session's event system name ("memleak_<pid>"); static storage. */
const char *ml_tracefs_system(void);

/*
 * Remove dynamic events and instances of memleak sessions whose process is
 * gone.  Returns how many were removed.
 */
int ml_tracefs_clean_stale(void);

/* The system of the twin events trace-cmd can record ("memleak_<pid>_trace"). */
const char *ml_tracefs_trace_system(void);

/*
 * Create a uprobe (or uretprobe with @ret) event @event on @file at file
 * offset @offset with the given fetch arguments, in this session's system
 * (@twin false) or in its twin system for ftrace users (@twin true: the
 * kernel lets an event serve BPF or ftrace, not both).  Returns the
 * event's trace id (> 0) or -errno.
 */
int ml_tracefs_add_uprobe(const char *event, bool ret, const char *file,
			  uint64_t offset, const char *fetchargs, bool twin);

/*
 * Make every uprobe event of this session at file offset @offset of @file
 * again with reference counter (ref_ctr_offset) @ref_ctr: the kernel lets
 * uprobes share an address only when their counters agree.  0 or -errno.
 */
int ml_tracefs_uprobes_set_ref_ctr(const char *file, uint64_t offset,
				   uint64_t ref_ctr);

/* The trace id of this session's event @event, or -errno. */
int ml_tracefs_event_id(const char *event);

/* Remove every event this session created.  Safe to call more than once. */
void ml_tracefs_remove_all(void);

#endif /* MEMLEAK_TRACEFS_H */
