// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel addresses to names: /proc/kallsyms (modules included), and with a
 * vmlinux that has DWARF, file:line and inlined frames through the same
 * libdw symbolizer user space uses (the image at its KASLR offset).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "symbol/kallsyms.h"
#include "symbol/maps.h"
#include "symbol/symbolize.h"
#include "util/util.h"

struct ml_ksyms {
	struct ml_ksym *v;
	size_t n;
	/* DWARF of vmlinux, if found */
	struct ml_maps *vmaps;
	struct ml_symbolizer *vsym;
	int64_t kaslr;		/* runtime address - vmlinux address */
	uint64_t text_start, text_end;	/* runtime core kernel text */
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ml_ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct ml_ksyms *ml_ksyms_load(const char *path)
{
	static bool warned;
	struct ml_ksyms *ks;
	char line[512];
	size_t cap = 0, zero = 0;
	FILE *f = fopen(path ? path : "/proc/kallsyms", "re");

	if (!f)
		return NULL;
	ks = xcalloc(1, sizeof(*ks));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256], mod[128] = "";
		int n = sscanf(line, "%llx %c %255s [%127[^]]]", &addr, &type, name, mod);

		if (n < 3)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (!addr) {
			zero++;
			continue;
		}
		if (ks->n == cap)
			ks->v = xrealloc(ks->v, (cap = cap ? 2 * cap : 65536) * sizeof(*ks->v));
		ks->v[ks->n].addr = addr;
		ks->v[ks->n].name = xstrdup(name);
		ks->v[ks->n].module = n == 4 ? xstrdup(mod) : NULL;
		if (!strcmp(name, "_stext") && n == 3)
			ks->text_start = addr;
		if (!strcmp(name, "_etext") && n == 3)
			ks->text_end = addr;
		ks->n++;
	}
	fclose(f);
	if (!ks->n && zero && !warned) {
		warned = true;
		ml_warn("/proc/kallsyms shows no addresses (kernel.kptr_restrict hides them): "
			"kernel frames cannot be named; run as root, or set "
			"sysctl kernel.kptr_restrict=0");
	}
	qsort(ks->v, ks->n, sizeof(*ks->v), cmp_ksym);
	return ks;
}

void ml_ksyms_free(struct ml_ksyms *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		free((char *)ks->v[i].name);
		free((char *)ks->v[i].module);
	}
	free(ks->v);
	if (ks->vsym)
		ml_symbolizer_free(ks->vsym);
	if (ks->vmaps)
		ml_maps_free(ks->vmaps);
	free(ks);
}

size_t ml_ksyms_count(const struct ml_ksyms *ks)
{
	return ks->n;
}

const struct ml_ksym *ml_ksyms_get(const struct ml_ksyms *ks, size_t i)
{
	return i < ks->n ? &ks->v[i] : NULL;
}

const struct ml_ksym *ml_ksyms_find(const struct ml_ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->n;

	if (!ks->n || addr < ks->v[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ks->v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return &ks->v[lo];
}

/* The kernel's GNU build-id, from /sys/kernel/notes, as hex. */
static bool kernel_build_id(char *hex, size_t len)
{
	unsigned char buf[4096];
	size_t off = 0;
	ssize_t n;
	int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	while (n > 0 && off + 12 <= (size_t)n) {
		uint32_t namesz, descsz, type;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		off += 12;
		if (type == 3 && namesz == 4 && !memcmp(buf + off, "GNU", 4)) {
			off += 4;
			for (uint32_t i = 0; i < descsz && 2 * i + 3 < len; i++)
				snprintf(hex + 2 * i, 3, "%02x", buf[off + i]);
			return off + descsz <= (size_t)n;
		}
		off += (namesz + 3) & ~3u;
		off += (descsz + 3) & ~3u;
	}
	return false;
}

/* vmlinux's own address of @name, and whether it carries DWARF. */
static bool vmlinux_info(const char *path, const char *name, uint64_t *addr,
			 uint64_t *end, bool *dwarf)
{
	Elf_Scn *scn = NULL;
	bool found = false;
	Elf *elf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*dwarf = false;
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t shstrndx;
		const char *sname;

		if (!gelf_getshdr(scn, &sh) || elf_getshdrstrndx(elf, &shstrndx))
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sname && !strcmp(sname, ".debug_info"))
			*dwarf = true;
		if (sh.sh_type != SHT_SYMTAB || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *sn;

			if (!gelf_getsym(data, i, &sym))
				continue;
			sn = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (sn && !strcmp(sn, name)) {
				*addr = sym.st_value;
				found = true;
			}
			if (sn && !strcmp(sn, "_etext"))
				*end = sym.st_value;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

int ml_ksyms_set_vmlinux(struct ml_ksyms *ks, const char *vmlinux)
{
	char id[128] = "", *cands[5] = {};
	struct utsname u;
	int nc = 0, err = -ENOENT;

	if (vmlinux) {
		cands[nc++] = xstrdup(vmlinux);
	} else {
		uname(&u);
		if (kernel_build_id(id, sizeof(id)))
			cands[nc++] = xasprintf("/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
		cands[nc++] = xasprintf("/usr/lib/debug/boot/vmlinux-%s", u.release);
		cands[nc++] = xasprintf("/usr/lib/debug/lib/modules/%s/vmlinux", u.release);
		cands[nc++] = xasprintf("/lib/modules/%s/build/vmlinux", u.release);
		cands[nc++] = xasprintf("/boot/vmlinux-%s", u.release);
	}
	for (int i = 0; i < nc && err; i++) {
		uint64_t stext = 0, etext = 0;
		bool dwarf;

		if (access(cands[i], R_OK))
			continue;
		if (!vmlinux_info(cands[i], "_stext", &stext, &etext, &dwarf) ||
		    !ks->text_start) {
			if (vmlinux)
				ml_warn("%s: no _stext symbol, or no kernel text in kallsyms", cands[i]);
			continue;
		}
		if (!dwarf) {
			if (vmlinux)
				ml_warn("%s has no DWARF (.debug_info): no file:line for kernel frames",
					cands[i]);
			continue;
		}
		ks->kaslr = (int64_t)(ks->text_start - stext);
		ks->vmaps = ml_maps_new(0);
		struct ml_mapping m = {
			.start = stext, .end = etext > stext ? etext : stext + (1ULL << 30),
			.pgoff = 0, .path = cands[i], .exec = true,
		};
		ml_maps_add(ks->vmaps, &m);
		ks->vsym = ml_symbolizer_new(ks->vmaps);
		ml_debug("kernel DWARF from %s (KASLR offset %#llx)", cands[i],
			 (unsigned long long)ks->kaslr);
		err = 0;
	}
	if (err && vmlinux)
		ml_warn("cannot use --vmlinux %s: kernel frames get names only", vmlinux);
	for (int i = 0; i < nc; i++)
		free(cands[i]);
	return err;
}

int ml_ksyms_symbolize(struct ml_ksyms *ks, uint64_t addr, bool is_return,
		       struct ml_frame *out, int max)
{
	const struct ml_ksym *s = ml_ksyms_find(ks, addr);
	const char *module = s && s->module ? s->module : "kernel";
	int n = 0;

	if (ks->vsym && addr >= ks->text_start && addr < ks->text_end) {
		n = ml_symbolize(ks->vsym, addr - ks->kaslr, is_return, out, max);
		for (int i = 0; i < n; i++) {
			out[i].addr = addr;
			out[i].module = "kernel";
		}
		if (n > 0 && out[n - 1].func)
			return n;
	}
	memset(&out[0], 0, sizeof(out[0]));
	out[0].addr = addr;
	out[0].module = s ? module : NULL;
	if (s) {
		out[0].func = s->name;
		out[0].offset = addr - s->addr;
	}
	return 1;
}
