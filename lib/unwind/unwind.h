/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unwind tables for the BPF DWARF unwinder (bpf/unwind.bpf.h): each
 * executable file's .eh_frame (and .debug_frame) compiled into sorted rows
 * (struct ml_unwind_row, by file offset), and loaded into the unwinder's
 * maps once per file (device, inode), whichever processes map it.
 */
#ifndef MEMLEAK_UNWIND_H
#define MEMLEAK_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memleak.h"

/* Summary of one compiled table, for tests and debug messages. */
struct ml_unwind_stats {
	size_t fdes;		/* FDEs read */
	size_t rows;		/* rows kept */
	size_t unsupported;	/* rows with a CFA rule not followed */
	size_t from_debug_frame;	/* FDEs taken from .debug_frame */
};

/*
 * Compile the unwind table of ELF file @path into *rows (malloc()ed, sorted
 * by pc, file offsets).  0, or -errno with *why set.
 */
int ml_unwind_compile(const char *path, struct ml_unwind_row **rows,
		      size_t *nrows, struct ml_unwind_stats *stats,
		      const char **why);

/*
 * True if some code of ELF file @path is described by .debug_frame alone,
 * which unwinders reading only .eh_frame (libgcc's) cannot follow.
 */
bool ml_unwind_debug_frame_only(const char *path);

/* The row covering file offset @off, or NULL. */
const struct ml_unwind_row *ml_unwind_find(const struct ml_unwind_row *rows,
					   size_t n, uint64_t off);

/* What ml_unwind_walk() needs to know of a process. */
struct ml_unwind_mem {
	/*
	 * The rows of the module mapping @pc into *rows and *n, and @pc's file
	 * offset into *off; false if none (frame pointers there).
	 */
	bool (*rows)(void *ctx, uint64_t pc, const struct ml_unwind_row **rows,
		     size_t *n, uint64_t *off);
	/* The 8 bytes at @addr of the stack; false if unreadable. */
	bool (*read)(void *ctx, uint64_t addr, uint64_t *val);
	void *ctx;
};

/*
 * Unwind from a return address @ip with the caller's @sp and @bp (the
 * registers a return probe sees), as bpf/unwind.bpf.h does, into @ips, leaf
 * first.  Returns the depth; *complete when the outermost frame was
 * reached (else the stack is truncated).
 */
int ml_unwind_walk(const struct ml_unwind_mem *m, uint64_t ip, uint64_t sp,
		   uint64_t bp, uint64_t *ips, int max, bool *complete);

struct ml_unwinder;

/* An unwinder filling the maps with these fds (rows: an array of max_rows). */
struct ml_unwinder *ml_unwinder_new(int rows_fd, int modules_fd,
				    uint32_t max_rows);
void ml_unwinder_free(struct ml_unwinder *u);

/*
 * Also tell BPF where each process maps files with tables (the unwind_vmas
 * map, used when the kernel's mapping lookup is busy).
 */
void ml_unwinder_set_vmas(struct ml_unwinder *u, int vmas_fd);

/* Load the table of one file unless loaded.  0 or -errno. */
int ml_unwinder_add_file(struct ml_unwinder *u, const char *path);

/* Load the tables of every executable file mapped by @pid. */
int ml_unwinder_add_pid(struct ml_unwinder *u, pid_t pid);

/*
 * Load the tables a program about to run needs: the program, its
 * interpreter, LD_PRELOAD and the libraries they need (DT_NEEDED,
 * recursively, looked up as the dynamic loader would: RPATH/RUNPATH,
 * LD_LIBRARY_PATH, /etc/ld.so.conf.d, the system directories).  What it
 * dlopen()s later comes with ml_unwinder_add_pid().
 */
int ml_unwinder_add_program(struct ml_unwinder *u, const char *path);

/*
 * Call @fn on program @path and each library it needs, once each, found as
 * ml_unwinder_add_program() finds them (LD_PRELOAD included).  @fn returns
 * 0 to go on into the file's own needs, 1 to skip them, -1 to stop (then
 * returned).  0 when done.
 */
int ml_program_files(const char *path, int (*fn)(const char *file, void *arg),
		     void *arg);

/*
 * Also load, every @period_ms from a thread of its own, the tables of what
 * @pid maps anew (dlopen), until the process exits or the unwinder is
 * freed.  0 or -errno.
 */
int ml_unwinder_watch(struct ml_unwinder *u, pid_t pid, unsigned int period_ms);

/* Rows loaded so far. */
uint32_t ml_unwinder_rows(const struct ml_unwinder *u);

#endif /* MEMLEAK_UNWIND_H */
