/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where to put an entry uprobe so that a hit costs one trap.
 *
 * The kernel runs the instruction under a uprobe either by emulating it
 * (push of a register, a relative jmp/jcc/call, nop) or by copying it out
 * of line and single-stepping it: a second trap, which in a VM can cost
 * twenty times the breakpoint itself (Documentation/performance.md).
 */
#ifndef MEMLEAK_PROBESITE_H
#define MEMLEAK_PROBESITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the x86-64 kernel emulates the instruction @code (its @len bytes). */
bool ml_probe_emulated(const uint8_t *code, size_t len);

/*
 * The offset in @code (the function's @size bytes, loaded at @vaddr) of
 * the first instruction the kernel emulates, reached from the entry only
 * through instructions that change neither the argument registers, nor
 * rsp, rbp, nor memory, nor control flow, and that no direct branch in the
 * function targets past the entry; 0 (the entry itself) when there is none.
 * A probe there sees the call exactly as one at the entry would.
 */
size_t ml_probe_site(const uint8_t *code, size_t size, uint64_t vaddr);

/*
 * The same for the function at file offset @offset of @path; returns the
 * file offset to probe (@offset when no better site is found).
 */
uint64_t ml_probe_site_file(const char *path, uint64_t offset, uint64_t vaddr,
			    uint64_t size);

#endif /* MEMLEAK_PROBESITE_H */
