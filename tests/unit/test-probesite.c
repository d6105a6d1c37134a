// SPDX-License-Identifier: GPL-2.0
/* Entry probe sites: the first instruction the kernel emulates, when safe. */
#include <stdint.h>

#include "test.h"
#include "source/probesite.h"

#define VADDR 0x98ef0

/* glibc 2.36 free: test %rdi,%rdi; je +0xbf; push %rbp; ... ret */
static void free_skips_test(void)
{
	static const uint8_t code[] = {
		0x48, 0x85, 0xff,			/* test %rdi,%rdi */
		0x0f, 0x84, 0x05, 0x00, 0x00, 0x00,	/* je +5 (to the ret) */
		0x55,					/* push %rbp */
		0x5d,					/* pop %rbp */
		0x90, 0x90, 0x90,			/* nops */
		0xc3,					/* ret */
	};

	CHECK_EQ_U64(ml_probe_site(code, sizeof(code), VADDR), 3);
}

/* A first instruction the kernel emulates stays the site. */
static void push_at_entry(void)
{
	static const uint8_t code[] = {
		0x41, 0x54,		/* push %r12 */
		0x55,			/* push %rbp */
		0x5d, 0x41, 0x5c,	/* pop %rbp; pop %r12 */
		0xc3,
	};

	CHECK_EQ_U64(ml_probe_site(code, sizeof(code), VADDR), 0);
}

/* An argument register written first: the entry it is. */
static void arg_written(void)
{
	static const uint8_t code[] = {
		0x48, 0x89, 0xf0,	/* mov %rsi,%rax: harmless */
		0x48, 0xf7, 0xe2,	/* mul %rdx: writes rdx */
		0x55, 0x5d, 0xc3,	/* push %rbp; pop %rbp; ret */
	};

	CHECK_EQ_U64(ml_probe_site(code, sizeof(code), VADDR), 0);
}

/* The stack pointer moved, or memory written: the entry. */
static void stack_or_memory(void)
{
	static const uint8_t sub[] = {
		0x48, 0x83, 0xec, 0x18,	/* sub $0x18,%rsp */
		0x55, 0x5d, 0xc3,
	};
	static const uint8_t store[] = {
		0x48, 0x89, 0x07,	/* mov %rax,(%rdi) */
		0x55, 0x5d, 0xc3,
	};

	CHECK_EQ_U64(ml_probe_site(sub, sizeof(sub), VADDR), 0);
	CHECK_EQ_U64(ml_probe_site(store, sizeof(store), VADDR), 0);
}

/* A branch back into the skipped range would hit the probe twice. */
static void branch_target(void)
{
	static const uint8_t code[] = {
		0x48, 0x85, 0xff,	/* 0: test %rdi,%rdi */
		0x75, 0x02,		/* 3: jne +2 (the site) */
		0x90, 0x90,		/* 5: nops */
		0xeb, 0xfa,		/* 7: jmp 3: into the site */
		0xc3,
	};

	CHECK_EQ_U64(ml_probe_site(code, sizeof(code), VADDR), 0);
}

/*
 * Sites are instruction boundaries, never a byte inside an immediate:
 * here 0x55 (push %rbp) is the immediate of the mov.
 */
static void boundaries(void)
{
	static const uint8_t code[] = {
		0xb8, 0x55, 0x55, 0x55, 0x55,	/* mov $0x55555555,%eax */
		0x53,				/* push %rbx */
		0x5b, 0xc3,
	};

	CHECK_EQ_U64(ml_probe_site(code, sizeof(code), VADDR), 5);
}

static void emulated(void)
{
	static const uint8_t test[] = { 0x48, 0x85, 0xff };
	static const uint8_t ret[] = { 0xc3 };
	static const uint8_t jmp[] = { 0xe9, 0, 0, 0, 0 };
	static const uint8_t push[] = { 0x41, 0x57 };
	static const uint8_t push16[] = { 0x66, 0x50 };

	CHECK(!ml_probe_emulated(test, sizeof(test)));
	CHECK(!ml_probe_emulated(ret, sizeof(ret)));
	CHECK(ml_probe_emulated(jmp, sizeof(jmp)));
	CHECK(ml_probe_emulated(push, sizeof(push)));
	CHECK(!ml_probe_emulated(push16, sizeof(push16)));
}

int main(void)
{
	TEST(free_skips_test);
	TEST(push_at_entry);
	TEST(arg_written);
	TEST(stack_or_memory);
	TEST(branch_target);
	TEST(boundaries);
	TEST(emulated);
	return TEST_DONE();
}
