/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel addresses to names: /proc/kallsyms (modules included), and with a
 * vmlinux that has DWARF, file:line and inlined frames.
 */
#ifndef MEMLEAK_KALLSYMS_H
#define MEMLEAK_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_frame;

struct ml_ksym {
	uint64_t addr;
	const char *name;
	const char *module;	/* NULL for the core kernel */
};

struct ml_ksyms;

/*
 * Load /proc/kallsyms (@path NULL) or a saved copy.  Says once, on stderr,
 * when kptr_restrict hides the addresses.  NULL on failure.
 */
struct ml_ksyms *ml_ksyms_load(const char *path);
void ml_ksyms_free(struct ml_ksyms *ks);

/* Use DWARF from @vmlinux (NULL: look for it by build-id under /usr/lib/debug). */
int ml_ksyms_set_vmlinux(struct ml_ksyms *ks, const char *vmlinux);

/* The function symbol holding @addr, or NULL. */
const struct ml_ksym *ml_ksyms_find(const struct ml_ksyms *ks, uint64_t addr);

/* All symbols, sorted by address (for saving them with a recording). */
size_t ml_ksyms_count(const struct ml_ksyms *ks);
const struct ml_ksym *ml_ksyms_get(const struct ml_ksyms *ks, size_t i);

/*
 * Resolve a kernel address into frames like ml_symbolize(): innermost
 * inlined first (only with vmlinux DWARF), module "kernel" or the module's
 * name.  Returns the number of frames (>= 1).
 */
int ml_ksyms_symbolize(struct ml_ksyms *ks, uint64_t addr, bool is_return,
		       struct ml_frame *out, int max);

#endif /* MEMLEAK_KALLSYMS_H */
