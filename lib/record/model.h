/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every report format prints: the recording's outstanding blocks
 * grouped by stack, filtered, with growth from the snapshots, sorted, and
 * each stack symbolized into frames.
 */
#ifndef MEMLEAK_RECORD_MODEL_H
#define MEMLEAK_RECORD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/data.h"

struct ml_maps;
struct ml_symbolizer;
struct ml_ksyms;

enum ml_rsort {
	ML_RSORT_BYTES,
	ML_RSORT_COUNT,
	ML_RSORT_GROWTH,
	ML_RSORT_AGE,
};

/* One frame of a symbolized stack (strings live as long as the model). */
struct ml_rframe {
	uint64_t addr;
	const char *func;	/* NULL: unknown */
	uint64_t offset;
	const char *module;	/* basename, "kernel", or NULL */
	const char *dso;	/* full path of the mapped file, or [kernel.kallsyms] */
	const char *file;
	int line;
	bool inlined;
	bool kernel;
	int map;		/* index into rec->maps, -1 if none */
};

struct ml_rentry {
	int32_t stack_id;
	uint32_t pid;
	const char *comm;
	uint64_t bytes, count;
	double growth;		/* bytes per second over the snapshots */
	uint64_t first_ns;	/* the oldest block's allocation time */
	struct ml_rframe *frames;	/* leaf first, inlined frames expanded */
	size_t nframes;
	const char *why;	/* no frames: why ("stack lost: ...") */
	struct ml_block *blocks;	/* the entry's blocks */
	size_t nblocks;
};

struct ml_rfilter {
	int64_t pid;		/* < 0: any */
	const char *comm;
	uint64_t older_ms;
	uint64_t min_size;
	const char *symbol;	/* a frame's function must be this */
};

struct ml_rmodel {
	const struct ml_recording *rec;
	struct ml_rentry *v;
	size_t n;
	uint64_t bytes, count;		/* shown (after filters) */
	uint64_t all_bytes, all_count;	/* before filters */
	double duration_s;
	bool from_snapshot;	/* no blocks in the file: the last snapshot */
	struct ml_maps *maps;
	struct ml_symbolizer *sym;
	struct ml_ksyms *ksyms;
	char *ksyms_file;
};

/*
 * Build the model.  @symfs (NULL: /) is where the recorded files are
 * looked for.  0, or -1 with a message printed.
 */
int ml_rmodel_build(struct ml_rmodel *m, const struct ml_recording *rec,
		    const struct ml_rfilter *f, enum ml_rsort sort, const char *symfs);
void ml_rmodel_free(struct ml_rmodel *m);

/* Least-squares slope of (t seconds, y) points: y per second, 0 if < 2. */
double ml_slope(const double *t, const double *y, size_t n);

/* "leak_direct" or "0x1234": a frame's name for folded stacks and flame graphs. */
const char *ml_rframe_name(const struct ml_rframe *f, char *buf, size_t len);

int ml_rsort_parse(const char *s);

#endif /* MEMLEAK_RECORD_MODEL_H */
