// SPDX-License-Identifier: GPL-2.0
/*
 * Addresses to function, module, file:line and inlined calls, with
 * libdwfl.  Each mapped file is opened and reported to the symbolizer's
 * Dwfl once, at the load bias its mapping implies; every answer is kept
 * in a hash table keyed by (address, is_return).
 */
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <gelf.h>
#include <libelf.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "kallsyms.h"
#include "symbolize.h"

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A compilation unit's address range (absolute addresses). */
struct cu_range {
	Dwarf_Addr low, high;
	Dwarf_Die *cu;
};

/* A function symbol (absolute address). */
struct sym_ent {
	uint64_t addr, size;
	uint64_t extent;	/* sizeless: up to the end of its section */
	const char *name;	/* owned by libdwfl */
	int rank;		/* 0 global, 1 weak, 2 local */
	int ndx;
};

/* One file at one load bias. */
struct ml_module {
	char *path;		/* as mapped */
	uint64_t bias;
	const char *name;	/* basename of path (interned) */
	Dwfl_Module *mod;	/* NULL: the file could not be used */
	/* CUs by address, for DWARF without .debug_aranges (clang) */
	struct cu_range *cus;
	size_t ncus;
	Dwarf_Addr dwbias;
	bool cus_built;
	/* function symbols by address: dwfl_module_addrinfo is linear */
	struct sym_ent *syms;
	size_t nsyms;
	bool syms_built;
};

/* Which module a mapping (path, start, pgoff) turned out to be. */
struct map_key {
	const char *path;	/* interned */
	uint64_t start, pgoff;
	struct ml_module *mod;
};

struct cache_entry {
	uint64_t addr;
	bool is_return;
	bool used;
	int n;
	struct ml_frame *frames;
};

struct ml_symbolizer {
	struct ml_maps *maps;
	struct ml_ksyms *ksyms;		/* kernel addresses, if set */
	Dwfl *dwfl;
	char *debuginfo_path;	/* NULL: the default search */
	Dwfl_Callbacks callbacks;

	struct ml_module **mods;
	size_t nmods;
	struct map_key *keys;
	size_t nkeys;

	struct cache_entry *cache;
	size_t cache_cap, cache_n;	/* cap is a power of two */

	char **strs;			/* interned strings, open addressing */
	size_t strs_cap, strs_n;
};

/* Strings: every string handed out lives in this table until free. */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static bool strs_grow(struct ml_symbolizer *sym)
{
	size_t cap = sym->strs_cap ? sym->strs_cap * 2 : 256, i;
	char **v = calloc(cap, sizeof(*v));

	if (!v)
		return false;
	for (i = 0; i < sym->strs_cap; i++) {
		char *s = sym->strs[i];
		size_t j;

		if (!s)
			continue;
		for (j = hash_str(s) & (cap - 1); v[j]; j = (j + 1) & (cap - 1))
			;
		v[j] = s;
	}
	free(sym->strs);
	sym->strs = v;
	sym->strs_cap = cap;
	return true;
}

static const char *intern(struct ml_symbolizer *sym, const char *s)
{
	size_t i;

	if (!s)
		return NULL;
	if ((sym->strs_n + 1) * 2 > sym->strs_cap && !strs_grow(sym))
		return NULL;
	for (i = hash_str(s) & (sym->strs_cap - 1); sym->strs[i];
	     i = (i + 1) & (sym->strs_cap - 1))
		if (!strcmp(sym->strs[i], s))
			return sym->strs[i];
	sym->strs[i] = strdup(s);
	if (!sym->strs[i])
		return NULL;
	sym->strs_n++;
	return sym->strs[i];
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* A symbol name, demangled if it is a C++ one. */
static const char *intern_symbol(struct ml_symbolizer *sym, const char *name)
{
	const char *ret, *at;
	char *d, *copy = NULL;
	int status;

	if (!name)
		return NULL;
	/* "fgetpos64@@GLIBC_2.2.5" from a .symtab: drop the version */
	at = strchr(name, '@');
	if (at && at != name) {
		copy = strndup(name, at - name);
		if (copy)
			name = copy;
	}
	ret = NULL;
	if (!strncmp(name, "_Z", 2)) {
		d = __cxa_demangle(name, NULL, NULL, &status);
		if (d && !status)
			ret = intern(sym, d);
		free(d);
	}
	if (!ret)
		ret = intern(sym, name);
	free(copy);
	return ret;
}

/* Modules */

/*
 * The load bias of @elf mapped as @m: the PT_LOAD whose file range holds the
 * mapping's offset tells which virtual address the mapping's start is.
 */
static int load_bias(Elf *elf, const struct ml_mapping *m, uint64_t *bias)
{
	uint64_t page = sysconf(_SC_PAGESIZE);
	GElf_Phdr best, ph;
	bool found = false;
	GElf_Ehdr eh;
	size_t n, i;

	if (!gelf_getehdr(elf, &eh))
		return -1;
	if (eh.e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	if (eh.e_type != ET_DYN || elf_getphdrnum(elf, &n))
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t lo, hi;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		lo = ph.p_offset & ~(page - 1);
		hi = ph.p_offset + ph.p_filesz;
		if (m->pgoff < lo || m->pgoff >= hi)
			continue;
		/* Two segments can share a page: prefer the matching one. */
		if (!found)
			best = ph;
		found = true;
		if (!!(ph.p_flags & PF_X) == m->exec) {
			best = ph;
			break;
		}
	}
	if (!found) {
		/* Nothing holds the offset: assume vaddr == offset. */
		*bias = m->start - m->pgoff;
		return 0;
	}
	*bias = m->start - m->pgoff - (best.p_vaddr - best.p_offset);
	return 0;
}

/*
 * Open the file mapped as @m: through /proc/PID/root first (right for
 * processes in another mount namespace), then by its path (the process may
 * be gone), then through /proc/PID/map_files (a deleted file).
 */
static int open_mapped(struct ml_symbolizer *sym, const struct ml_mapping *m,
		       char *buf, size_t size)
{
	int pid = ml_maps_pid(sym->maps), fd;

	snprintf(buf, size, "/proc/%d/root%s", pid, m->path);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(buf, size, "%s", m->path);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(buf, size, "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	return open(buf, O_RDONLY | O_CLOEXEC);
}

static struct ml_module *add_module(struct ml_symbolizer *sym,
				    const char *path, uint64_t bias)
{
	struct ml_module **v, *mod;

	v = realloc(sym->mods, (sym->nmods + 1) * sizeof(*v));
	if (!v)
		return NULL;
	sym->mods = v;
	mod = calloc(1, sizeof(*mod));
	if (!mod)
		return NULL;
	mod->path = strdup(path);
	mod->bias = bias;
	mod->name = intern(sym, base_name(path));
	if (!mod->path || !mod->name) {
		free(mod->path);
		free(mod);
		return NULL;
	}
	sym->mods[sym->nmods++] = mod;
	return mod;
}

static struct ml_module *find_module(struct ml_symbolizer *sym,
				     const char *path, uint64_t bias)
{
	size_t i;

	for (i = 0; i < sym->nmods; i++)
		if (sym->mods[i]->bias == bias &&
		    !strcmp(sym->mods[i]->path, path))
			return sym->mods[i];
	return NULL;
}

/* Open and report the file of @m, once. */
static struct ml_module *load_module(struct ml_symbolizer *sym,
				     const struct ml_mapping *m)
{
	struct ml_module *mod;
	char file[4096 + 64];
	uint64_t bias;
	Elf *elf;
	int fd, err;

	fd = open_mapped(sym, m, file, sizeof(file));
	if (fd < 0)
		goto unusable;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		goto unusable;
	}
	err = elf_kind(elf) != ELF_K_ELF || load_bias(elf, m, &bias);
	elf_end(elf);
	if (err) {
		close(fd);
		goto unusable;
	}

	mod = find_module(sym, m->path, bias);
	if (mod) {
		close(fd);
		return mod;
	}
	mod = add_module(sym, m->path, bias);
	if (!mod) {
		close(fd);
		return NULL;
	}
	dwfl_report_begin_add(sym->dwfl);
	/* On success libdwfl owns fd; ET_EXEC ignores the bias. */
	mod->mod = dwfl_report_elf(sym->dwfl, m->path, file, fd, bias, true);
	if (!mod->mod)
		close(fd);
	dwfl_report_end(sym->dwfl, NULL, NULL);
	return mod;

unusable:
	mod = find_module(sym, m->path, UINT64_MAX);
	return mod ? mod : add_module(sym, m->path, UINT64_MAX);
}

static struct ml_module *module_of(struct ml_symbolizer *sym,
				   const struct ml_mapping *m)
{
	struct map_key *k;
	const char *path;
	size_t i;

	path = intern(sym, m->path);
	if (!path)
		return NULL;
	for (i = 0; i < sym->nkeys; i++) {
		k = &sym->keys[i];
		if (k->path == path && k->start == m->start &&
		    k->pgoff == m->pgoff)
			return k->mod;
	}
	k = realloc(sym->keys, (sym->nkeys + 1) * sizeof(*k));
	if (!k)
		return NULL;
	sym->keys = k;
	k = &sym->keys[sym->nkeys];
	k->path = path;
	k->start = m->start;
	k->pgoff = m->pgoff;
	k->mod = load_module(sym, m);
	if (k->mod)
		sym->nkeys++;
	return k->mod;
}

/* Symbols */

static int cmp_sym(const void *a, const void *b)
{
	const struct sym_ent *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->ndx - y->ndx;
}

static void build_syms(struct ml_module *mod)
{
	int n = dwfl_module_getsymtab(mod->mod), i;
	size_t cap = 0;

	mod->syms_built = true;
	for (i = 1; i < n; i++) {
		struct sym_ent *e;
		const char *name;
		GElf_Word shndx;
		GElf_Addr addr, bias;
		GElf_Shdr sh;
		GElf_Sym s;
		Elf *elf;
		int type;

		name = dwfl_module_getsym_info(mod->mod, i, &s, &addr, &shndx,
					       &elf, &bias);
		type = GELF_ST_TYPE(s.st_info);
		if (!name || !*name || shndx == SHN_UNDEF || !addr ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC &&
		     type != STT_NOTYPE))
			continue;
		if (mod->nsyms == cap) {
			cap = cap ? cap * 2 : 256;
			e = realloc(mod->syms, cap * sizeof(*e));
			if (!e)
				break;
			mod->syms = e;
		}
		e = &mod->syms[mod->nsyms++];
		e->addr = addr;
		e->size = s.st_size;
		e->name = name;
		e->ndx = i;
		/*
		 * Of the names one address has, the one users call: exported
		 * before local, fewer leading underscores (strdup before
		 * __strdup before __GI___strdup), global before weak.
		 */
		e->rank = strspn(name, "_") * 2;
		switch (GELF_ST_BIND(s.st_info)) {
		case STB_GLOBAL:
			break;
		case STB_WEAK:
			e->rank += 1;
			break;
		default:
			e->rank += 1000;
		}
		e->extent = UINT64_MAX;
		if (e->size)
			continue;
		/* Sizeless (_init, asm): good up to the end of its section. */
		if (elf && shndx < SHN_LORESERVE &&
		    gelf_getshdr(elf_getscn(elf, shndx), &sh) &&
		    sh.sh_addr + bias <= addr &&
		    addr < sh.sh_addr + bias + sh.sh_size)
			e->extent = sh.sh_addr + bias + sh.sh_size - addr;
		else
			mod->nsyms--;	/* _etext, __ehdr_start: no code */
	}
	qsort(mod->syms, mod->nsyms, sizeof(*mod->syms), cmp_sym);
}

/*
 * The function symbol holding @pc: a sized one that covers it (global
 * before weak before local at one address), else a sizeless one at the
 * nearest address below.
 */
static const char *find_sym(struct ml_module *mod, uint64_t pc,
			    uint64_t *start)
{
	const struct sym_ent *hit = NULL, *sizeless = NULL, *e;
	size_t lo = 0, hi, i, k;
	GElf_Off off;
	GElf_Sym s;
	const char *name;

	if (!mod->syms_built)
		build_syms(mod);
	if (!mod->nsyms) {
		name = dwfl_module_addrinfo(mod->mod, pc, &off, &s, NULL, NULL,
					    NULL);
		*start = pc - off;
		return name;
	}
	hi = mod->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mod->syms[mid].addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Back from the nearest; better ranks come first at one address. */
	for (i = lo, k = 0; i-- > 0 && k < 64; k++) {
		e = &mod->syms[i];
		if (hit && e->addr != hit->addr)
			break;
		if (e->size) {
			if (pc - e->addr < e->size)
				hit = e;
		} else if (e->addr == mod->syms[lo - 1].addr &&
			   pc - e->addr < e->extent) {
			sizeless = e;
		}
	}
	if (!hit)
		hit = sizeless;
	if (!hit)
		return NULL;
	*start = hit->addr;
	return hit->name;
}

/* DWARF */

static const char *die_name(struct ml_symbolizer *sym, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name,
						     &a));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_MIPS_linkage_name, &a));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name,
							     &a));
	return intern_symbol(sym, name);
}

static int cmp_cu_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->low < y->low ? -1 : x->low > y->low;
}

static void build_cus(struct ml_module *mod)
{
	size_t cap = 0;
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;

	mod->cus_built = true;
	while ((cu = dwfl_module_nextcu(mod->mod, cu, &bias))) {
		Dwarf_Addr base, low, high;
		ptrdiff_t off = 0;

		mod->dwbias = bias;
		while ((off = dwarf_ranges(cu, off, &base, &low, &high)) > 0) {
			if (low >= high)
				continue;
			if (mod->ncus == cap) {
				struct cu_range *v;

				cap = cap ? cap * 2 : 16;
				v = realloc(mod->cus, cap * sizeof(*v));
				if (!v)
					goto out;
				mod->cus = v;
			}
			mod->cus[mod->ncus].low = low + bias;
			mod->cus[mod->ncus].high = high + bias;
			mod->cus[mod->ncus].cu = cu;
			mod->ncus++;
		}
	}
out:
	qsort(mod->cus, mod->ncus, sizeof(*mod->cus), cmp_cu_range);
}

/*
 * The CU holding @pc.  libdwfl finds it through .debug_aranges; without
 * them (clang does not emit them) look it up in the CUs' own ranges.
 */
static Dwarf_Die *find_cu(struct ml_module *mod, uint64_t pc,
			  Dwarf_Addr *bias)
{
	Dwarf_Die *cu = dwfl_module_addrdie(mod->mod, pc, bias);
	size_t lo = 0, hi;

	if (cu)
		return cu;
	if (!mod->cus_built)
		build_cus(mod);
	hi = mod->ncus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mod->cus[mid].low <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges may nest or overlap: look back for one that holds pc. */
	while (lo-- > 0) {
		if (pc < mod->cus[lo].high) {
			*bias = mod->dwbias;
			return mod->cus[lo].cu;
		}
	}
	return NULL;
}

/* Where the inlined call @die was made: its file (basename) and line. */
static const char *call_site(struct ml_symbolizer *sym, Dwarf_Die *die,
			     int *line)
{
	Dwarf_Attribute a;
	Dwarf_Files *files;
	Dwarf_Die cu;
	Dwarf_Word w;
	const char *f;
	size_t n;

	*line = 0;
	if (!dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &w))
		*line = w;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &w))
		return NULL;
	if (!dwarf_diecu(die, &cu, NULL, NULL) ||
	    dwarf_getsrcfiles(&cu, &files, &n) || w >= n)
		return NULL;
	f = dwarf_filesrc(files, w, NULL, NULL);
	return f ? intern(sym, base_name(f)) : NULL;
}

/* Resolving */

struct frames {
	struct ml_frame *v;
	int n, cap;
};

static int push(struct frames *fr, const struct ml_frame *f)
{
	if (fr->n == fr->cap) {
		int cap = fr->cap ? fr->cap * 2 : 4;
		struct ml_frame *v = realloc(fr->v, cap * sizeof(*v));

		if (!v)
			return -1;
		fr->v = v;
		fr->cap = cap;
	}
	fr->v[fr->n++] = *f;
	return 0;
}

static void resolve(struct ml_symbolizer *sym, uint64_t addr, bool is_return,
		    struct frames *fr)
{
	uint64_t pc = is_return && addr ? addr - 1 : addr;
	struct ml_frame base = { .addr = addr }, f;
	const struct ml_mapping *m;
	Dwarf_Die *cu, *scopes = NULL, *subprogram = NULL;
	struct ml_module *mod;
	Dwarf_Addr dbias;
	Dwarf_Line *line;
	const char *name;
	uint64_t start;
	int i, n = 0;

	m = ml_maps_find(sym->maps, pc);
	if (!m)
		goto out;
	mod = module_of(sym, m);
	base.module = mod ? mod->name : intern(sym, base_name(m->path));
	if (!mod || !mod->mod)
		goto out;

	name = find_sym(mod, pc, &start);
	if (name) {
		base.func = intern_symbol(sym, name);
		base.offset = addr - start;
	}

	cu = find_cu(mod, pc, &dbias);
	if (!cu)
		goto out;
	line = dwarf_getsrc_die(cu, pc - dbias);
	if (line) {
		const char *file = dwarf_linesrc(line, NULL, NULL);

		if (file && !dwarf_lineno(line, &base.line))
			base.file = intern(sym, base_name(file));
		if (!base.file)
			base.line = 0;
	}

	n = dwarf_getscopes(cu, pc - dbias, &scopes);
	for (i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_subprogram) {
			subprogram = &scopes[i];
			break;
		}
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		f = base;
		f.func = die_name(sym, &scopes[i]);
		f.offset = 0;
		f.inlined = true;
		if (push(fr, &f))
			break;
		/* The frame outside this one is at the call. */
		base.file = call_site(sym, &scopes[i], &base.line);
	}
	/* No symbol (stripped of .symtab): the DWARF function will do. */
	if (!base.func && subprogram) {
		Dwarf_Addr low;

		base.func = die_name(sym, subprogram);
		if (!dwarf_lowpc(subprogram, &low))
			base.offset = addr - (low + dbias);
	}
	free(scopes);
out:
	push(fr, &base);
}

/* Cache */

static uint64_t hash_addr(uint64_t addr, bool is_return)
{
	uint64_t h = (addr ^ is_return) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

static struct cache_entry *cache_slot(struct cache_entry *v, size_t cap,
				      uint64_t addr, bool is_return)
{
	size_t i;

	for (i = hash_addr(addr, is_return) & (cap - 1); v[i].used;
	     i = (i + 1) & (cap - 1))
		if (v[i].addr == addr && v[i].is_return == is_return)
			break;
	return &v[i];
}

static bool cache_grow(struct ml_symbolizer *sym)
{
	size_t cap = sym->cache_cap ? sym->cache_cap * 2 : 1024, i;
	struct cache_entry *v = calloc(cap, sizeof(*v));

	if (!v)
		return false;
	for (i = 0; i < sym->cache_cap; i++) {
		struct cache_entry *e = &sym->cache[i];

		if (e->used)
			*cache_slot(v, cap, e->addr, e->is_return) = *e;
	}
	free(sym->cache);
	sym->cache = v;
	sym->cache_cap = cap;
	return true;
}

/* Public */

struct ml_symbolizer *ml_symbolizer_new(struct ml_maps *maps)
{
	struct ml_symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	elf_version(EV_CURRENT);
	sym->maps = maps;
	sym->callbacks.find_elf = dwfl_build_id_find_elf;
	sym->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	sym->callbacks.section_address = dwfl_offline_section_address;
	sym->callbacks.debuginfo_path = &sym->debuginfo_path;
	sym->dwfl = dwfl_begin(&sym->callbacks);
	if (!sym->dwfl || !cache_grow(sym) || !strs_grow(sym)) {
		ml_symbolizer_free(sym);
		return NULL;
	}
	return sym;
}

void ml_symbolizer_free(struct ml_symbolizer *sym)
{
	size_t i;

	if (!sym)
		return;
	if (sym->dwfl)
		dwfl_end(sym->dwfl);
	for (i = 0; i < sym->nmods; i++) {
		free(sym->mods[i]->path);
		free(sym->mods[i]->cus);
		free(sym->mods[i]->syms);
		free(sym->mods[i]);
	}
	free(sym->mods);
	free(sym->keys);
	for (i = 0; i < sym->cache_cap; i++)
		if (sym->cache[i].used)
			free(sym->cache[i].frames);
	free(sym->cache);
	for (i = 0; i < sym->strs_cap; i++)
		free(sym->strs[i]);
	free(sym->strs);
	free(sym);
}

int ml_symbolize(struct ml_symbolizer *sym, uint64_t addr, bool is_return,
		 struct ml_frame *out, int max)
{
	struct cache_entry *e;
	struct frames fr = { 0 };
	int n;

	if (max <= 0)
		return 0;
	if (sym->ksyms && addr >= ML_KERNEL_START)
		return ml_ksyms_symbolize(sym->ksyms, addr, is_return, out, max);
	e = cache_slot(sym->cache, sym->cache_cap, addr, is_return);
	if (!e->used) {
		resolve(sym, addr, is_return, &fr);
		if (!fr.n) {
			/* Out of memory: say nothing is known. */
			memset(out, 0, sizeof(*out));
			out->addr = addr;
			return 1;
		}
		if ((sym->cache_n + 1) * 4 > sym->cache_cap * 3 &&
		    !cache_grow(sym)) {
			n = fr.n < max ? fr.n : max;
			memcpy(out, fr.v + fr.n - n, n * sizeof(*out));
			free(fr.v);
			return n;
		}
		e = cache_slot(sym->cache, sym->cache_cap, addr, is_return);
		e->used = true;
		e->addr = addr;
		e->is_return = is_return;
		e->n = fr.n;
		e->frames = fr.v;
		sym->cache_n++;
	}
	/* Too many frames: drop the innermost inlined ones. */
	n = e->n < max ? e->n : max;
	memcpy(out, e->frames + e->n - n, n * sizeof(*out));
	return n;
}

void ml_symbolizer_set_kernel(struct ml_symbolizer *sym, struct ml_ksyms *ks)
{
	sym->ksyms = ks;
}
