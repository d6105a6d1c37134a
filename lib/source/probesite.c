// SPDX-License-Identifier: GPL-2.0
/*
 * Entry probe sites the kernel can emulate (see probesite.h).  Instruction
 * boundaries come from capstone: a byte scan would find opcodes inside
 * other instructions' immediates.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>

#include "source/probesite.h"
#include "util/util.h"

#define SITE_MAX_INSNS	16		/* how far from the entry to look */
#define FUNC_MAX_BYTES	(256 * 1024)	/* functions decoded for branch targets */

/*
 * What arch/x86/kernel/uprobes.c emulates instead of single-stepping:
 * push of a general register (branch_setup_xol_ops, push_setup_xol_ops),
 * jmp/call rel32, jmp/jcc rel8, jcc rel32 and a one-byte nop, without
 * prefixes (the kernel refuses 0x66 on branches; a push takes REX 0x41 only).
 */
bool ml_probe_emulated(const uint8_t *c, size_t len)
{
	if (len == 1)
		return (c[0] >= 0x50 && c[0] <= 0x57) || c[0] == 0x90;
	if (len == 2)
		return (c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57) ||
		       c[0] == 0xeb || (c[0] >= 0x70 && c[0] <= 0x7f);
	if (len == 5)
		return c[0] == 0xe9 || c[0] == 0xe8;
	if (len == 6)
		return c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f;
	return false;
}

/* Registers a probe after the entry must still see as the caller left them. */
static bool kept_reg(const char *name)
{
	static const char *const kept[] = {
		"rdi", "edi", "di", "dil", "rsi", "esi", "si", "sil",
		"rdx", "edx", "dx", "dl", "dh", "rcx", "ecx", "cx", "cl", "ch",
		"r8", "r8d", "r8w", "r8b", "r9", "r9d", "r9w", "r9b",
		"rsp", "esp", "sp", "spl", "rbp", "ebp", "bp", "bpl",
		"rip", "eip",
	};

	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		if (!strcmp(name, kept[i]))
			return true;
	return false;
}

static bool control_flow(csh h, const cs_insn *in)
{
	return cs_insn_group(h, in, CS_GRP_JUMP) || cs_insn_group(h, in, CS_GRP_CALL) ||
	       cs_insn_group(h, in, CS_GRP_RET) || cs_insn_group(h, in, CS_GRP_INT) ||
	       cs_insn_group(h, in, CS_GRP_IRET) ||
	       !strncmp(in->mnemonic, "sys", 3);
}

/* An instruction a probe may be placed after: it changes nothing we read. */
static bool harmless(csh h, const cs_insn *in)
{
	cs_regs rd, wr;
	uint8_t nrd, nwr;
	const cs_x86 *x = &in->detail->x86;

	if (control_flow(h, in) || cs_regs_access(h, in, rd, &nrd, wr, &nwr))
		return false;
	for (int i = 0; i < nwr; i++)
		if (kept_reg(cs_reg_name(h, wr[i])))
			return false;
	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM &&
		    (x->operands[i].access & CS_AC_WRITE))
			return false;
	return true;
}

/* Does a direct branch of the function land in (entry, entry + site]? */
static bool branched_into(csh h, const uint8_t *code, size_t size,
			  uint64_t vaddr, size_t site)
{
	cs_insn *in;
	size_t n, end = 0;
	bool hit = false;

	if (size > FUNC_MAX_BYTES)
		return true;
	n = cs_disasm(h, code, size, vaddr, 0, &in);
	for (size_t i = 0; i < n && !hit; i++) {
		const cs_x86 *x = &in[i].detail->x86;

		end = in[i].address + in[i].size - vaddr;
		if (!cs_insn_group(h, &in[i], CS_GRP_JUMP) &&
		    !cs_insn_group(h, &in[i], CS_GRP_CALL))
			continue;
		for (int k = 0; k < x->op_count; k++) {
			uint64_t t = x->operands[k].imm;

			if (x->operands[k].type == X86_OP_IMM &&
			    t > vaddr && t <= vaddr + site)
				hit = true;
		}
	}
	if (n)
		cs_free(in, n);
	/* Not decoded to its end: its branches are not all known. */
	return hit || end < size;
}

size_t ml_probe_site(const uint8_t *code, size_t size, uint64_t vaddr)
{
	size_t site = 0, n;
	cs_insn *in;
	csh h;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return 0;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(h, code, size, vaddr, SITE_MAX_INSNS, &in);
	for (size_t i = 0; i < n; i++) {
		if (ml_probe_emulated(code + (in[i].address - vaddr), in[i].size)) {
			site = in[i].address - vaddr;
			break;
		}
		if (!harmless(h, &in[i]))
			break;
	}
	if (n)
		cs_free(in, n);
	if (site && branched_into(h, code, size, vaddr, site))
		site = 0;
	cs_close(&h);
	return site;
}

uint64_t ml_probe_site_file(const char *path, uint64_t offset, uint64_t vaddr,
			    uint64_t size)
{
	uint8_t *code;
	ssize_t got;
	size_t site = 0;
	int fd;

	if (!size || size > FUNC_MAX_BYTES)
		return offset;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return offset;
	code = xmalloc(size);
	got = pread(fd, code, size, offset);
	if (got == (ssize_t)size)
		site = ml_probe_site(code, size, vaddr);
	free(code);
	close(fd);
	return offset + site;
}
