/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memleak.data: what "memleak record" writes and "memleak report" reads.
 * The format is described in Documentation/memleak-data.txt: a header,
 * then self-contained records (type, CRC-32, size, payload), so a file cut
 * short is read up to its last complete record.
 */
#ifndef MEMLEAK_RECORD_DATA_H
#define MEMLEAK_RECORD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memleak.h"
#include "symbol/maps.h"
#include "tracker/tracker.h"

#define ML_DATA_MAGIC		"MLEAKDAT"
#define ML_DATA_VERSION		1
#define ML_DATA_HEADER_SIZE	32
#define ML_DATA_ENDIAN		0x01020304u
#define ML_BUILD_ID_MAX		32

enum ml_rec_type {
	ML_REC_META = 1,	/* key\0value\0 pairs */
	ML_REC_MAPPING,		/* one mapped file */
	ML_REC_KSYMS,		/* the kernel symbol table */
	ML_REC_STACKS,		/* stacks, by id */
	ML_REC_SNAPSHOT,	/* outstanding totals per stack at a time */
	ML_REC_BLOCKS,		/* the outstanding blocks at the end */
	ML_REC_COUNTERS,	/* loss counters */
	ML_REC_COMMS,		/* pid -> comm */
	ML_REC_CACHES,		/* slab cache id -> name */
	ML_REC_END,		/* recording finished cleanly */
};

enum ml_stack_kind {
	ML_STACK_USER,
	ML_STACK_KERNEL,
};

struct ml_rec_mapping {
	struct ml_mapping m;
	uint8_t build_id[ML_BUILD_ID_MAX];
	uint32_t build_id_len;
};

struct ml_rec_stack {
	int32_t id;
	uint16_t kind;		/* enum ml_stack_kind */
	uint16_t depth;
	uint64_t *ips;		/* leaf first */
	size_t order;		/* reader: position in the file */
};

struct ml_rec_total {
	int32_t stack_id;
	uint32_t pid;
	uint64_t bytes, count;
};

struct ml_rec_snapshot {
	uint64_t time_ns;	/* CLOCK_MONOTONIC of the recording machine */
	size_t n;
	struct ml_rec_total *v;
};

struct ml_rec_comm {
	uint32_t pid;
	char comm[ML_COMM_LEN + 1];
};

struct ml_rec_ksym {
	uint64_t addr;
	char *name;
	char *module;		/* NULL: the core kernel */
};

struct ml_rec_cache {
	uint64_t id;
	char *name;
};

/* A whole recording in memory. */
struct ml_recording {
	uint32_t version;
	/* META: every key/value pair, and the ones report uses parsed */
	size_t nmeta;
	char **meta_keys, **meta_values;
	const char *command;	/* -c COMMAND, or NULL */
	const char *comm;	/* the traced process's name */
	const char *cmdline;	/* memleak's own command line */
	uint32_t pid;
	bool kernel;
	uint64_t start_mono_ns, start_wall_ns;
	uint64_t end_mono_ns, end_wall_ns;	/* of the last complete part */

	struct ml_rec_mapping *maps;
	size_t nmaps;
	struct ml_rec_ksym *ksyms;
	size_t nksyms;
	struct ml_rec_stack *stacks;	/* sorted by id after reading */
	size_t nstacks;
	struct ml_rec_snapshot *snaps;
	size_t nsnaps;
	struct ml_block *blocks;
	size_t nblocks;
	bool have_blocks;
	uint64_t counters[ML_CNT_MAX];
	uint64_t prog_misses;
	struct ml_rec_comm *comms;
	size_t ncomms;
	struct ml_rec_cache *caches;
	size_t ncaches;

	bool finished;		/* an END record was read */
	bool truncated;		/* the file ends inside a record */
	uint64_t valid_bytes;	/* bytes up to the last complete record */
};

/* ---------------------------------------------------------------- writer */

struct ml_rec_writer {
	FILE *f;
	bool own;		/* close f at the end */
	int err;		/* first errno */
	uint64_t bytes;
};

/* Open @path ("-": stdout) and write the header.  0 or -errno. */
int ml_rec_writer_open(struct ml_rec_writer *w, const char *path);
/* Flush and close; returns the first error (-errno) or 0. */
int ml_rec_writer_close(struct ml_rec_writer *w);
/* Push what was written to the file: a killed recorder leaves whole parts. */
int ml_rec_writer_flush(struct ml_rec_writer *w);

void ml_rec_write_meta(struct ml_rec_writer *w, size_t n, const char *const *keys,
		       const char *const *values);
void ml_rec_write_mapping(struct ml_rec_writer *w, const struct ml_rec_mapping *m);
void ml_rec_write_ksyms(struct ml_rec_writer *w, const struct ml_rec_ksym *v, size_t n);
void ml_rec_write_stacks(struct ml_rec_writer *w, const struct ml_rec_stack *v, size_t n);
void ml_rec_write_snapshot(struct ml_rec_writer *w, uint64_t time_ns,
			   const struct ml_rec_total *v, size_t n);
void ml_rec_write_blocks(struct ml_rec_writer *w, const struct ml_block *v, size_t n);
void ml_rec_write_counters(struct ml_rec_writer *w, const uint64_t c[ML_CNT_MAX],
			   uint64_t prog_misses);
void ml_rec_write_comms(struct ml_rec_writer *w, const struct ml_rec_comm *v, size_t n);
void ml_rec_write_caches(struct ml_rec_writer *w, const struct ml_rec_cache *v, size_t n);
void ml_rec_write_end(struct ml_rec_writer *w, uint64_t end_mono_ns, uint64_t end_wall_ns);

/* ---------------------------------------------------------------- reader */

/*
 * Read @path into @r.  On error returns -1 and a one-line reason in @err
 * ("not a memleak data file", "format version 7 is newer ...", "corrupt
 * ...").  A file cut short is not an error: r->truncated is set and @err
 * says where it ends (the caller warns).  Returns 0.
 */
int ml_recording_read(const char *path, struct ml_recording *r, char *err,
		      size_t errlen);
/* The same from memory (@buf is not kept). */
int ml_recording_parse(const void *buf, size_t len, struct ml_recording *r,
		       char *err, size_t errlen);
void ml_recording_free(struct ml_recording *r);

/* Value of META key @key, or NULL. */
const char *ml_recording_meta(const struct ml_recording *r, const char *key);
/* The stack with @id, or NULL. */
const struct ml_rec_stack *ml_recording_stack(const struct ml_recording *r, int32_t id);
/* comm of @pid, or NULL. */
const char *ml_recording_comm(const struct ml_recording *r, uint32_t pid);

/* The GNU build-id of ELF file @path into @out; its length, or 0. */
size_t ml_read_build_id(const char *path, uint8_t *out, size_t max);

#endif /* MEMLEAK_RECORD_DATA_H */
