// SPDX-License-Identifier: GPL-2.0
/* Finding the file offsets of functions, as the uprobe source does. */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>

#include "test.h"
#include "source/elfsym.h"

__attribute__((noinline)) int elfsym_probe_me(int x)
{
	return x * 3;
}

/* The file offset of @fn in the executable, computed from its mapping. */
static uint64_t offset_of(void *fn)
{
	Dl_info info;
	struct link_map *lm;

	if (!dladdr1(fn, &info, (void **)&lm, RTLD_DL_LINKMAP))
		return 0;
	/* our PIE is linked at 0 with text at file offset == vaddr */
	return (uint64_t)fn - lm->l_addr;
}

static void own_binary(void)
{
	struct ml_elf_func f[] = {
		{ .name = "elfsym_probe_me" },
		{ .name = "no_such_function_here" },
	};
	const char *why = NULL;

	CHECK(ml_elf_find_funcs("/proc/self/exe", f, 2, &why) == 0);
	CHECK(f[0].offset != 0);
	CHECK_EQ_U64(f[0].offset, offset_of((void *)elfsym_probe_me));
	CHECK_EQ_U64(f[1].offset, 0);
}

static void libc_aliases(void)
{
	struct ml_elf_func f[] = {
		{ .name = "memalign" }, { .name = "aligned_alloc" },
		{ .name = "malloc" }, { .name = "free" },
	};
	Dl_info info;
	const char *why = NULL;

	CHECK(dladdr((void *)malloc, &info) != 0);
	CHECK(ml_elf_find_funcs(info.dli_fname, f, 4, &why) == 0);
	CHECK(f[2].offset && f[3].offset && f[2].offset != f[3].offset);
	/* glibc: one function under two names, probed once by the source */
	CHECK(f[0].offset && f[0].offset == f[1].offset);
}

static void not_elf(void)
{
	struct ml_elf_func f[] = { { .name = "main" } };
	const char *why = NULL;

	CHECK(ml_elf_find_funcs("/etc/hostname", f, 1, &why) < 0 && why);
	CHECK(ml_elf_find_funcs("/nonexistent", f, 1, &why) < 0 && why);
}

int main(void)
{
	TEST(own_binary);
	TEST(libc_aliases);
	TEST(not_elf);
	return TEST_DONE();
}
