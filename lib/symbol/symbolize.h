/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Addresses to names with libdw/libelf: function and offset, module,
 * source file:line and the chain of inlined calls.  One symbolizer serves
 * one process's address space (a struct ml_maps); ELF and DWARF data are
 * opened once per module and every resolved address is cached.
 */
#ifndef MEMLEAK_SYMBOLIZE_H
#define MEMLEAK_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>

struct ml_maps;
struct ml_ksyms;

/* Addresses from here up are the kernel's (x86-64, arm64). */
#define ML_KERNEL_START 0xffff800000000000ULL

struct ml_frame {
	uint64_t addr;		/* the address asked for */
	const char *func;	/* demangled function name, NULL if unknown */
	uint64_t offset;	/* addr - start of func (0 for inlined frames) */
	const char *module;	/* basename of the mapped file, NULL if none */
	const char *file;	/* source file, NULL without debug info */
	int line;		/* source line, 0 without debug info */
	bool inlined;		/* an inlined call, shown before its caller */
};

struct ml_symbolizer;

struct ml_symbolizer *ml_symbolizer_new(struct ml_maps *maps);
void ml_symbolizer_free(struct ml_symbolizer *sym);

/*
 * Resolve @addr into @out: the innermost inlined function first, the real
 * (out-of-line) function last; always at least one frame.  @is_return says
 * @addr is a return address, so the call site is addr - 1 for the source
 * line and inline lookups (the printed offset stays addr - func).
 * Strings stay valid until ml_symbolizer_free().  Returns the number of
 * frames written (1 .. max).
 */
int ml_symbolize(struct ml_symbolizer *sym, uint64_t addr, bool is_return,
		 struct ml_frame *out, int max);

/* Resolve kernel addresses through @ks (not owned) from now on. */
void ml_symbolizer_set_kernel(struct ml_symbolizer *sym, struct ml_ksyms *ks);

#endif /* MEMLEAK_SYMBOLIZE_H */
