/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The formats of "memleak report" and "memleak script", all printing a
 * struct ml_rmodel (a recording grouped by stack and symbolized).
 */
#ifndef MEMLEAK_FORMATS_H
#define MEMLEAK_FORMATS_H

#include <stdbool.h>
#include <stdio.h>

#include "record/model.h"

enum ml_weight {
	ML_WEIGHT_BYTES,
	ML_WEIGHT_COUNT,
};

struct ml_fmt_opts {
	bool caller;		/* outermost frame first (-g caller) */
	double percent_limit;	/* entries below this share are left out */
	bool show_allocs;	/* -a: each block */
	int weight;		/* enum ml_weight: folded, svg */
	size_t top;		/* 0: all */
	const char *sort;	/* as given, for the header */
	const char *title;	/* svg */
};

/* perf report --stdio style: a header, entries, call chains. */
void ml_fmt_text(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* One JSON document (schema: Documentation/memleak-report.1, JSON). */
void ml_fmt_json(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* "comm;outer;...;leaf WEIGHT" lines for flamegraph.pl and inferno. */
void ml_fmt_folded(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* A flame graph, self-contained SVG. */
void ml_fmt_svg(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* What perf script prints for samples with call chains. */
void ml_fmt_script(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* A perf.data file (needs a seekable @out).  0 or -errno. */
int ml_fmt_perfdata(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);
/* A gzipped profile.proto for pprof.  0 or -errno. */
int ml_fmt_pprof(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o);

/* Share of @v in @total, in percent. */
double ml_pct(uint64_t v, uint64_t total);
/* Entries to print: percent limit and top. */
bool ml_fmt_keep(const struct ml_rmodel *m, const struct ml_fmt_opts *o, size_t i);

#endif /* MEMLEAK_FORMATS_H */
