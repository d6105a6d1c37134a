// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the unwind table compiler (lib/unwind/table.c) on libc and
 * on this very program (built -O2, so without frame pointers), and of the
 * user-space walker (lib/unwind/walk.c) over this program's own stack.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "unwind/unwind.h"

static char *mapped(const void *addr, uint64_t *off)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096], *path = NULL;

	while (f && !path && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, o;
		int pos = 0;

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &s, &e, &o, &pos) < 3 ||
		    !pos || (uintptr_t)addr < s || (uintptr_t)addr >= e)
			continue;
		line[strcspn(line, "\n")] = '\0';
		path = strdup(line + pos);
		*off = (uintptr_t)addr - s + o;
	}
	if (f)
		fclose(f);
	return path;
}

static void check_sorted(const struct ml_unwind_row *r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (r[i - 1].pc >= r[i].pc) {
			CHECK(r[i - 1].pc < r[i].pc);
			return;
		}
}

static void test_libc(void)
{
	struct ml_unwind_row *r;
	struct ml_unwind_stats st;
	const char *why = NULL;
	size_t n, plt = 0, end = 0, rsp = 0;
	uint64_t off;
	char *path = mapped((void *)malloc, &off);
	const struct ml_unwind_row *row;

	CHECK(path != NULL);
	if (!path)
		return;
	CHECK(ml_unwind_compile(path, &r, &n, &st, &why) == 0);
	CHECK(n > 1000);
	CHECK(st.fdes > 1000);
	check_sorted(r, n);
	for (size_t i = 0; i < n; i++) {
		plt += ML_ROW_CFA(&r[i]) == ML_CFA_PLT;
		end += ML_ROW_CFA(&r[i]) == ML_CFA_END;
		rsp += ML_ROW_CFA(&r[i]) == ML_CFA_RSP;
	}
	CHECK(plt >= 1);	/* libc's lazy PLT */
	CHECK(end >= 1);	/* clone3/thread start: no caller */
	CHECK(rsp > n / 2);
	/* at malloc's first instruction the CFA is rsp + 8 */
	row = ml_unwind_find(r, n, off);
	CHECK(row != NULL);
	if (row) {
		CHECK_EQ_U64(ML_ROW_CFA(row), ML_CFA_RSP);
		CHECK_EQ_U64(row->cfa_off * 8, 8);
		CHECK_EQ_U64(ML_ROW_RBP(row), ML_RBP_SAME);
	}
	free(r);
	free(path);
}

/* Keeps a frame, saves registers: its CFA moves with its pushes. */
__attribute__((noinline)) unsigned long work_fn(unsigned long a, unsigned long b)
{
	unsigned long x = a;

	for (int i = 0; i < 16; i++) {
		x = x * 7 + (b ^ (x >> 3));
		asm volatile("" : : : "rbx", "r12", "r13", "r14", "r15", "memory");
	}
	return x;
}

static void test_self(void)
{
	struct ml_unwind_row *r;
	const char *why = NULL;
	size_t n;
	uint64_t off;
	char *path = mapped((void *)work_fn, &off);
	const struct ml_unwind_row *row;
	int pushed = 0;

	CHECK(path != NULL);
	if (!path)
		return;
	CHECK(ml_unwind_compile(path, &r, &n, NULL, &why) == 0);
	check_sorted(r, n);
	row = ml_unwind_find(r, n, off);
	CHECK(row != NULL);
	if (row) {
		CHECK_EQ_U64(ML_ROW_CFA(row), ML_CFA_RSP);
		CHECK_EQ_U64(row->cfa_off * 8, 8);
	}
	/* further in, callee-saved pushes grow the CFA offset */
	for (uint64_t a = off + 1; a < off + 32; a++) {
		row = ml_unwind_find(r, n, a);
		if (row && ML_ROW_CFA(row) == ML_CFA_RSP && row->cfa_off * 8 > 8)
			pushed = 1;
	}
	CHECK(pushed);
	free(r);
	free(path);
}

/* 8 bytes a row: 2M rows in 16 MiB of array. */
static void test_row_size(void)
{
	CHECK_EQ_U64(sizeof(struct ml_unwind_row), 8);
}

/* ---- the user-space walker over this process's own tables */

struct self_mod {
	char *path;
	uint64_t start, end, off;
	struct ml_unwind_row *rows;
	size_t n;
};

static struct self_mod mods[16];
static int nmods;

static bool self_rows(void *ctx, uint64_t pc, const struct ml_unwind_row **rows,
		      size_t *n, uint64_t *off)
{
	FILE *f;
	char line[4096];

	for (int i = 0; i < nmods; i++)
		if (pc >= mods[i].start && pc < mods[i].end) {
			*rows = mods[i].rows;
			*n = mods[i].n;
			*off = pc - mods[i].start + mods[i].off;
			return mods[i].n > 0;
		}
	f = fopen("/proc/self/maps", "r");
	while (f && nmods < 16 && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, o;
		int pos = 0;
		const char *why;
		struct self_mod *m = &mods[nmods];

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &s, &e, &o, &pos) < 3 ||
		    !pos || pc < s || pc >= e || line[pos] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		m->path = strdup(line + pos);
		m->start = s;
		m->end = e;
		m->off = o;
		if (ml_unwind_compile(m->path, &m->rows, &m->n, NULL, &why))
			m->n = 0;
		nmods++;
		fclose(f);
		return self_rows(ctx, pc, rows, n, off);
	}
	if (f)
		fclose(f);
	return false;
}

static bool self_read(void *ctx, uint64_t addr, uint64_t *val)
{
	*val = *(const uint64_t *)(uintptr_t)addr;
	return true;
}

static uint64_t walked[64];
static int walked_depth;
static bool walked_complete;

/*
 * What a return probe on this function sees: the return address, and the
 * caller's rsp (after the return) and rbp.  This one function keeps a frame
 * pointer to find them; its callers have none.
 */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
void capture(void)
{
	uint64_t *fp = __builtin_frame_address(0);
	struct ml_unwind_mem m = { .rows = self_rows, .read = self_read };

	walked_depth = ml_unwind_walk(&m, (uint64_t)__builtin_return_address(0),
				      (uint64_t)(fp + 2), fp[0], walked, 64,
				      &walked_complete);
}

volatile unsigned long sink;

__attribute__((noinline)) void chain1(unsigned long a)
{
	unsigned long x = work_fn(a, 1);

	capture();
	sink += x;
}

__attribute__((noinline)) void chain2(unsigned long a)
{
	unsigned long x = work_fn(a, 2);

	chain1(x);
	sink += x;
}

__attribute__((noinline)) void chain3(unsigned long a)
{
	unsigned long x = work_fn(a, 3);

	chain2(x);
	sink += x;
}

static bool in_fn(uint64_t ip, void (*fn)(unsigned long))
{
	return ip > (uintptr_t)fn && ip - (uintptr_t)fn < 0x100;
}

static __attribute__((noinline)) void test_walk(void)
{
	chain3(sink);
	CHECK(walked_depth >= 5);
	if (walked_depth < 5)
		return;
	CHECK(in_fn(walked[0], chain1));
	CHECK(in_fn(walked[1], chain2));
	CHECK(in_fn(walked[2], chain3));
	CHECK(walked[3] > (uintptr_t)test_walk && walked[3] - (uintptr_t)test_walk < 0x100);
	CHECK(walked_complete);	/* through main and libc to _start */
	for (int i = 0; i < nmods; i++) {
		free(mods[i].path);
		free(mods[i].rows);
	}
	nmods = 0;
}

static void test_errors(void)
{
	struct ml_unwind_row *r;
	const char *why = NULL;
	size_t n;

	CHECK(ml_unwind_compile("/nonexistent", &r, &n, NULL, &why) < 0);
	CHECK(why != NULL);
	CHECK(ml_unwind_compile("/etc/hostname", &r, &n, NULL, &why) < 0);
	CHECK(ml_unwind_find(NULL, 0, 0) == NULL);
}

int main(void)
{
	TEST(test_libc);
	TEST(test_self);
	TEST(test_row_size);
	TEST(test_walk);
	TEST(test_errors);
	return TEST_DONE();
}
