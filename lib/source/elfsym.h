/* SPDX-License-Identifier: GPL-2.0 */
/* Where a named function lives in an ELF file: the file offset uprobes take. */
#ifndef MEMLEAK_ELFSYM_H
#define MEMLEAK_ELFSYM_H

#include <stdint.h>

struct ml_elf_func {
	const char *name;	/* in: symbol name to look for */
	uint64_t offset;	/* out: file offset of its first instruction, 0 if absent */
	uint64_t vaddr;		/* out: its st_value */
	uint64_t size;		/* out: its st_size (0: unknown) */
	int ifunc;		/* out: it is a GNU indirect function (not probeable) */
};

/*
 * Look up @n function (or data object) symbols in @path (.symtab, then .dynsym).  Returns 0
 * (absent names keep offset 0) or -errno when the file is not a readable
 * ELF object; @why then says why.
 */
int ml_elf_find_funcs(const char *path, struct ml_elf_func *funcs, int n,
		      const char **why);

#endif /* MEMLEAK_ELFSYM_H */
