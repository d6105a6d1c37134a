/* SPDX-License-Identifier: GPL-2.0 */
/* The report as bcc's memleak prints it: stacks with outstanding bytes. */
#ifndef MEMLEAK_TEXT_H
#define MEMLEAK_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/aggregate.h"
#include "tracker/tracker.h"

struct ml_symbolizer;

struct ml_text_opts {
	int top;		/* stacks to print, <= 0: all */
	bool show_allocs;	/* -a: a line per block */
	uint64_t now_ns;	/* for block ages */
};

/* Each group's totals (and blocks with -a) and its symbolized stack. */
void ml_text_stacks(FILE *out, const struct ml_report *r,
		    const struct ml_text_opts *o, const struct ml_tracker *t,
		    struct ml_symbolizer *sym);

/* One stack, a frame a line with @indent before each. */
void ml_text_stack(FILE *out, const char *indent, int32_t stack_id,
		   const struct ml_tracker *t, struct ml_symbolizer *sym);

/* A table of groups other than stacks: call sites, caches, GFP flags, orders. */
void ml_text_groups(FILE *out, const struct ml_report *r, int group,
		    const struct ml_text_opts *o, const struct ml_tracker *t,
		    struct ml_symbolizer *sym);

/* Kernel reports: outstanding totals per kind, and the backing pages left out. */
void ml_text_kernel_totals(FILE *out, const struct ml_report *r);

/* How many leading frames of a kernel stack are tracing glue, not the caller. */
int ml_tracing_frames(const uint64_t *ips, int depth, struct ml_symbolizer *sym);

/* The loss counters that are not zero, one "\tlost: ..." line each. */
void ml_text_losses(FILE *out, const uint64_t counters[], uint64_t prog_misses);

#endif /* MEMLEAK_TEXT_H */
