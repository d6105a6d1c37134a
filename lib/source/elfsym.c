// SPDX-License-Identifier: GPL-2.0
/* Where a named function lives in an ELF file: the file offset uprobes take. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "source/elfsym.h"

/* Translate a symbol's virtual address into a file offset via PT_LOAD. */
/* @data: a data object, in any loaded segment; else code, in an executable one. */
static uint64_t vaddr_to_offset(Elf *elf, uint64_t vaddr, bool data)
{
	size_t nphdr;

	if (elf_getphdrnum(elf, &nphdr))
		return 0;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    (!data && !(ph.p_flags & PF_X)))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static void scan_symtab(Elf *elf, Elf_Scn *scn, struct ml_elf_func *funcs, int n)
{
	GElf_Shdr sh;
	Elf_Data *data;
	size_t count;

	if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return;
	data = elf_getdata(scn, NULL);
	if (!data)
		return;
	count = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name)
			continue;
		for (int j = 0; j < n; j++) {
			if (funcs[j].offset || funcs[j].ifunc ||
			    strcmp(name, funcs[j].name))
				continue;
			if (type == STT_GNU_IFUNC) {
				funcs[j].ifunc = 1;
				continue;
			}
			funcs[j].vaddr = sym.st_value;
			funcs[j].size = sym.st_size;
			funcs[j].offset = vaddr_to_offset(elf, sym.st_value,
							  type == STT_OBJECT);
		}
	}
}

int ml_elf_find_funcs(const char *path, struct ml_elf_func *funcs, int n,
		      const char **why)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd, err = 0;

	for (int i = 0; i < n; i++) {
		funcs[i].offset = funcs[i].vaddr = funcs[i].size = 0;
		funcs[i].ifunc = 0;
	}
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -errno;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		*why = "not an ELF file";
		err = -ENOEXEC;
		goto out;
	}
	/* .symtab first: it has the local aliases .dynsym lacks. */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			scan_symtab(elf, scn, funcs, n);
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM)
			scan_symtab(elf, scn, funcs, n);
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}
