// SPDX-License-Identifier: GPL-2.0
/*
 * The unwind table compiler: an ELF file's call frame information (.eh_frame
 * through its .eh_frame_hdr index, and .debug_frame for what .eh_frame does
 * not cover) evaluated with libdw into rows the BPF unwinder follows without
 * interpreting DWARF: per address range, the CFA as rsp/rbp + offset (or a
 * PLT stub's expression), where the caller's rbp was saved, or "outermost
 * frame".  Addresses become file offsets, which is what BPF sees of a pc
 * (pc - vm_start + vm_pgoff * PAGE_SIZE), whatever the load address.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unwind/unwind.h"
#include "util/util.h"

/* x86-64 DWARF register numbers. */
#define REG_RBP	6
#define REG_RSP	7
#define REG_RIP	16

struct rows {
	struct ml_unwind_row *v;
	size_t n, cap;
};

struct loads {
	GElf_Phdr ph[16];
	int n;
};

static void push(struct rows *r, const struct ml_unwind_row *row)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] = *row;
}

/* The file offset of virtual address @a, if a PT_LOAD maps it from the file. */
static bool to_offset(const struct loads *l, uint64_t a, uint64_t *off)
{
	for (int i = 0; i < l->n; i++) {
		const GElf_Phdr *p = &l->ph[i];

		if (a >= p->p_vaddr && a < p->p_vaddr + p->p_filesz) {
			*off = a - p->p_vaddr + p->p_offset;
			return *off <= UINT32_MAX;
		}
	}
	return false;
}

/* CFA + constant, as libdw gives a register saved at offset(N). */
static bool cfa_plus(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	if (nops == 3 && (ops[2].atom == DW_OP_plus || ops[2].atom == DW_OP_minus) &&
	    (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu ||
	     (ops[1].atom >= DW_OP_lit0 && ops[1].atom <= DW_OP_lit31))) {
		int64_t v = ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu ?
			    (int64_t)ops[1].number : ops[1].atom - DW_OP_lit0;

		*off = ops[2].atom == DW_OP_plus ? v : -v;
		return true;
	}
	return false;
}

/*
 * The expression of lazy-binding PLT stubs (GNU ld, lld):
 *   rsp + 8 + ((rip & 15) >= N) << 3
 */
static bool plt_expr(const Dwarf_Op *o, size_t n, int *threshold)
{
	if (n != 9 || o[0].atom != DW_OP_breg7 || o[0].number != 8 ||
	    o[1].atom != DW_OP_breg16 || o[1].number != 0 ||
	    o[2].atom != DW_OP_lit15 || o[3].atom != DW_OP_and ||
	    o[4].atom < DW_OP_lit0 || o[4].atom > DW_OP_lit31 ||
	    o[5].atom != DW_OP_ge || o[6].atom != DW_OP_lit3 ||
	    o[7].atom != DW_OP_shl || o[8].atom != DW_OP_plus)
		return false;
	*threshold = o[4].atom - DW_OP_lit0;
	return true;
}

/* The rules of one CFI row. */
static void rule_of(Dwarf_Frame *fr, int ra_reg, struct ml_unwind_row *row)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off;
	int thr, cfa = ML_CFA_UNSUPPORTED, rbp = ML_RBP_SAME;

	row->cfa_off = 0;
	row->rbp_off = 0;

	if (dwarf_frame_register(fr, ra_reg, mem, &ops, &nops)) {
		row->rules = ML_ROW_RULES(cfa, rbp);
		return;
	}
	if (nops == 0 && ops == mem) {
		row->rules = ML_ROW_RULES(ML_CFA_END, ML_RBP_SAME);
		return;
	}
	/* The unwinder reads the return address at CFA - 8, nowhere else. */
	if (!cfa_plus(ops, nops, &off) || off != -8) {
		row->rules = ML_ROW_RULES(cfa, rbp);
		return;
	}
	if (dwarf_frame_cfa(fr, &ops, &nops) || nops == 0) {
		row->rules = ML_ROW_RULES(cfa, rbp);
		return;
	}
	if (nops == 1) {
		unsigned int reg = ~0u;

		if (ops[0].atom == DW_OP_bregx) {
			reg = ops[0].number;
			off = (int64_t)ops[0].number2;
		} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
			reg = ops[0].atom - DW_OP_breg0;
			off = (int64_t)ops[0].number;
		}
		if ((reg == REG_RSP || reg == REG_RBP) && off % 8 == 0 &&
		    off / 8 >= INT16_MIN && off / 8 <= INT16_MAX) {
			cfa = reg == REG_RSP ? ML_CFA_RSP : ML_CFA_RBP;
			row->cfa_off = off / 8;
		}
	} else if (plt_expr(ops, nops, &thr)) {
		cfa = ML_CFA_PLT;
		row->cfa_off = thr;
	}

	if (dwarf_frame_register(fr, REG_RBP, mem, &ops, &nops)) {
		rbp = ML_RBP_UNDEF;
	} else if (nops == 0) {
		rbp = ops ? ML_RBP_UNDEF : ML_RBP_SAME;
	} else if (cfa_plus(ops, nops, &off) && off % 8 == 0 &&
		   off / 8 >= INT8_MIN && off / 8 <= INT8_MAX) {
		rbp = ML_RBP_CFA;
		row->rbp_off = off / 8;
	} else {
		rbp = ML_RBP_UNDEF;
	}
	row->rules = ML_ROW_RULES(cfa, rbp);
}

struct fde_start {
	uint64_t addr;
	bool debug;	/* from .debug_frame */
};

struct starts {
	struct fde_start *v;
	size_t n, cap;
};

static void add_start(struct starts *s, uint64_t a, bool debug)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].addr = a;
	s->v[s->n].debug = debug;
	s->n++;
}

static int cmp_start(const void *a, const void *b)
{
	const struct fde_start *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->debug - y->debug;	/* .eh_frame first */
}

static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name) && sh->sh_type != SHT_NOBITS)
			return scn;
	}
	return NULL;
}

/* Read a DW_EH_PE_* encoded value at @p (address @at), or false. */
static bool read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc,
			 uint64_t at, uint64_t datarel, uint64_t *out)
{
	uint64_t v;
	size_t len;

	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: len = 8; break;	/* absptr, udata8, sdata8 */
	case 0x03: case 0x0b: len = 4; break;			/* udata4, sdata4 */
	case 0x02: case 0x0a: len = 2; break;			/* udata2, sdata2 */
	default: return false;
	}
	if (*p + len > end)
		return false;
	if (len == 8) {
		memcpy(&v, *p, 8);
	} else if (len == 4) {
		uint32_t u;

		memcpy(&u, *p, 4);
		v = enc & 0x08 ? (uint64_t)(int64_t)(int32_t)u : u;
	} else {
		uint16_t u;

		memcpy(&u, *p, 2);
		v = enc & 0x08 ? (uint64_t)(int64_t)(int16_t)u : u;
	}
	*p += len;
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;		/* pcrel */
	case 0x30: v += datarel; break;		/* datarel */
	default: return false;
	}
	*out = v;
	return true;
}

/* FDE start addresses from the binary search table of .eh_frame_hdr. */
static int eh_frame_hdr_starts(Elf *elf, struct starts *s)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".eh_frame_hdr", &sh);
	Elf_Data *d;
	const uint8_t *p, *end;
	uint64_t ehp, count, a, fde;
	uint8_t table_enc, count_enc, ptr_enc;

	if (!scn || !(d = elf_getdata(scn, NULL)) || d->d_size < 4)
		return -ENOENT;
	p = d->d_buf;
	end = p + d->d_size;
	if (p[0] != 1)
		return -ENOTSUP;
	ptr_enc = p[1];
	count_enc = p[2];
	table_enc = p[3];
	p += 4;
	if (!read_encoded(&p, end, ptr_enc, sh.sh_addr + 4, sh.sh_addr, &ehp) ||
	    !read_encoded(&p, end, count_enc,
			  sh.sh_addr + (p - (const uint8_t *)d->d_buf), sh.sh_addr,
			  &count))
		return -ENOTSUP;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t at = sh.sh_addr + (p - (const uint8_t *)d->d_buf);

		if (!read_encoded(&p, end, table_enc, at, sh.sh_addr, &a) ||
		    !read_encoded(&p, end, table_enc, at, sh.sh_addr, &fde))
			return -EINVAL;
		add_start(s, a, false);
	}
	return 0;
}

/* FDE start addresses of .debug_frame (absolute addresses). */
static void debug_frame_starts(Elf *elf, struct starts *s)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".debug_frame", &sh);
	Elf_Data *d;
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);

	if (!scn || !(d = elf_getdata(scn, NULL)) || !ident)
		return;
	while (dwarf_next_cfi(ident, d, false, off, &next, &e) == 0) {
		if (!dwarf_cfi_cie_p(&e) && e.fde.start + 8 <= e.fde.end) {
			uint64_t a;

			memcpy(&a, e.fde.start, 8);
			add_start(s, a, true);
		}
		if (next == (Dwarf_Off)-1 || next <= off)
			break;
		off = next;
	}
}

/*
 * Rows of one FDE, from @start up to @limit: ask libdw for the row at each
 * address, which also tells where the row ends.
 */
static size_t fde_rows(Dwarf_CFI *cfi, const struct loads *l, uint64_t start,
		       uint64_t limit, struct rows *r, struct ml_unwind_stats *st)
{
	uint64_t a = start, off;
	size_t n = 0;

	while (a < limit) {
		Dwarf_Frame *fr;
		Dwarf_Addr s, e;
		bool sig;
		struct ml_unwind_row row;
		int ra;

		if (dwarf_cfi_addrframe(cfi, a, &fr))
			break;
		ra = dwarf_frame_info(fr, &s, &e, &sig);
		rule_of(fr, ra, &row);
		free(fr);
		if (e <= a)
			break;
		if (to_offset(l, a, &off)) {
			row.pc = off;
			if (ML_ROW_CFA(&row) == ML_CFA_UNSUPPORTED)
				st->unsupported++;
			push(r, &row);
			n++;
		}
		a = e;
	}
	if (n && a < limit && to_offset(l, a, &off)) {
		/* A gap before the next FDE: no information there. */
		struct ml_unwind_row gap = {
			.pc = off, .rules = ML_ROW_RULES(ML_CFA_NONE, ML_RBP_SAME),
		};

		push(r, &gap);
	}
	return n;
}

static bool same_rule(const struct ml_unwind_row *a, const struct ml_unwind_row *b)
{
	return a->rules == b->rules && a->cfa_off == b->cfa_off &&
	       a->rbp_off == b->rbp_off;
}

static int cmp_row(const void *a, const void *b)
{
	const struct ml_unwind_row *x = a, *y = b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

int ml_unwind_compile(const char *path, struct ml_unwind_row **rows,
		      size_t *nrows, struct ml_unwind_stats *stats,
		      const char **why)
{
	struct ml_unwind_stats dummy;
	struct starts s = {};
	struct rows r = {};
	struct loads l = {};
	Dwarf_CFI *eh = NULL, *dbg = NULL;
	Dwarf *dw = NULL;
	Elf *elf = NULL;
	size_t phnum, out;
	int fd, err = 0;

	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	*rows = NULL;
	*nrows = 0;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -errno;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    elf_getphdrnum(elf, &phnum)) {
		*why = "not a 64-bit ELF file";
		err = -ENOEXEC;
		goto out;
	}
	for (size_t i = 0; i < phnum && l.n < (int)ARRAY_SIZE(l.ph); i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD)
			l.ph[l.n++] = ph;
	}

	eh = dwarf_getcfi_elf(elf);
	if (eh && eh_frame_hdr_starts(elf, &s))
		s.n = 0;
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (dw) {
		dbg = dwarf_getcfi(dw);
		if (dbg)
			debug_frame_starts(elf, &s);
	}
	if (!s.n) {
		*why = "no .eh_frame_hdr or .debug_frame";
		err = -ENOENT;
		goto out;
	}
	qsort(s.v, s.n, sizeof(*s.v), cmp_start);

	for (size_t i = 0; i < s.n; i++) {
		uint64_t limit = UINT64_MAX;
		Dwarf_CFI *cfi = s.v[i].debug ? dbg : eh;

		/* .debug_frame only where .eh_frame has nothing. */
		if (s.v[i].debug && i && s.v[i - 1].addr == s.v[i].addr)
			continue;
		for (size_t j = i + 1; j < s.n; j++)
			if (s.v[j].addr > s.v[i].addr) {
				limit = s.v[j].addr;
				break;
			}
		if (r.n && s.v[i].debug && i) {
			/* covered by an earlier .eh_frame FDE's rows? */
			uint64_t off;

			if (to_offset(&l, s.v[i].addr, &off) &&
			    r.v[r.n - 1].pc > off)
				continue;
		}
		if (fde_rows(cfi, &l, s.v[i].addr, limit, &r, stats)) {
			stats->fdes++;
			if (s.v[i].debug)
				stats->from_debug_frame++;
		}
	}
	/* Sorted by pc, gaps after covered rows dropped, equal neighbours merged. */
	qsort(r.v, r.n, sizeof(*r.v), cmp_row);
	out = 0;
	for (size_t i = 0; i < r.n; i++) {
		if (out && r.v[out - 1].pc == r.v[i].pc) {
			/* a gap row and the next FDE's first row: the FDE wins */
			if (ML_ROW_CFA(&r.v[i]) != ML_CFA_NONE)
				r.v[out - 1] = r.v[i];
			continue;
		}
		if (out && same_rule(&r.v[out - 1], &r.v[i]))
			continue;
		r.v[out++] = r.v[i];
	}
	*rows = r.v;
	*nrows = out;
	stats->rows = out;
	r.v = NULL;
out:
	free(r.v);
	free(s.v);
	if (dw)
		dwarf_end(dw);
	if (eh)
		dwarf_cfi_end(eh);
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

const struct ml_unwind_row *ml_unwind_find(const struct ml_unwind_row *rows,
					   size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;

	if (!n || rows[0].pc > off)
		return NULL;
	while (lo + 1 < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &rows[lo];
}

bool ml_unwind_debug_frame_only(const char *path)
{
	struct starts s = {};
	Dwarf_CFI *eh;
	Elf *elf;
	bool only = false;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto out;
	debug_frame_starts(elf, &s);
	/* Usually none, or every one: stop at the first .eh_frame misses. */
	eh = s.n ? dwarf_getcfi_elf(elf) : NULL;
	for (size_t i = 0; i < s.n && !only; i++) {
		Dwarf_Frame *fr;

		if (!eh || dwarf_cfi_addrframe(eh, s.v[i].addr, &fr))
			only = true;
		else
			free(fr);
	}
out:
	free(s.v);
	if (elf)
		elf_end(elf);
	close(fd);
	return only;
}
