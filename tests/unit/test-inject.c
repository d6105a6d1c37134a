// SPDX-License-Identifier: GPL-2.0
/*
 * The ELF half of the injector: the GOT relocations it finds for a symbol
 * must be the slots the dynamic loader filled with that symbol's address,
 * which this very process shows.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>

#include "test.h"
#include "target/inject.h"

static const char *const syms[] = {
	"malloc", "free", "calloc", "realloc", "no_such_symbol_here", NULL,
};

/* The load bias and file of the object that holds @addr. */
static uint64_t bias_of(void *addr, const char **path)
{
	struct link_map *lm;
	Dl_info info;

	if (!dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP))
		return 0;
	*path = lm->l_name[0] ? lm->l_name : "/proc/self/exe";
	return lm->l_addr;
}

/* A JUMP_SLOT not used yet holds the object's own PLT stub (lazy binding). */
static bool lazy(const struct ml_got_ref *r, void *slot, const char *path)
{
	const char *p = NULL;

	return r->type == R_X86_64_JUMP_SLOT && bias_of(slot, &p) &&
	       p && !strcmp(p, path);
}

/*
 * Every slot found holds the address the loader bound the symbol to, or,
 * not used yet, a lazy-binding stub.  Returns a mask of the symbols found.
 */
static unsigned int check_slots(void *in_object, bool allow_lazy)
{
	void *defs[5];
	struct ml_got_ref *refs;
	const char *path = NULL, *why = NULL;
	unsigned int found = 0;
	uint64_t bias;
	size_t n;

	for (int i = 0; i < 4; i++)
		defs[i] = dlsym(RTLD_DEFAULT, syms[i]);
	bias = bias_of(in_object, &path);
	CHECK(path != NULL);
	if (!path)
		return 0;
	CHECK(ml_inject_scan_got(path, syms, &refs, &n, &why) == 0);
	for (size_t i = 0; i < n; i++) {
		void *slot = *(void **)(bias + refs[i].offset);

		CHECK(refs[i].sym >= 0 && refs[i].sym < 4);
		CHECK(refs[i].type == R_X86_64_JUMP_SLOT ||
		      refs[i].type == R_X86_64_GLOB_DAT);
		if (slot != defs[refs[i].sym] && allow_lazy &&
		    lazy(&refs[i], slot, path))
			slot = defs[refs[i].sym];
		if (slot != defs[refs[i].sym])
			fprintf(stderr, "%s: %s slot at +%#llx holds %p, not %p\n",
				path, syms[refs[i].sym],
				(unsigned long long)refs[i].offset, slot,
				defs[refs[i].sym]);
		CHECK(slot == defs[refs[i].sym]);
		found |= 1u << refs[i].sym;
	}
	free(refs);
	return found;
}

int test_main_anchor;

static void own_executable(void)
{
	/* called first: a used JUMP_SLOT must hold the function */
	void *volatile p = malloc(10);

	p = realloc(p, 20);
	free(p);
	p = calloc(1, 1);
	free(p);
	/* this test program calls all four through its PLT */
	CHECK_EQ_U64(check_slots(&test_main_anchor, false), 0xf);
}

static void libc(void)
{
	/* glibc's own calls of malloc and free go through its GOT */
	unsigned int found = check_slots((void *)strdup, true);

	CHECK(found & 1);
	CHECK(found & 2);
}

static void errors(void)
{
	struct ml_got_ref *refs;
	const char *why = NULL;
	size_t n;

	CHECK(ml_inject_scan_got("/nonexistent", syms, &refs, &n, &why) == -ENOENT);
	CHECK(why != NULL);
	CHECK(ml_inject_scan_got("/proc/self/status", syms, &refs, &n, &why) == -ENOEXEC);
	CHECK_STR(why, "not an ELF file");
}

int main(void)
{
	TEST(own_executable);
	TEST(libc);
	TEST(errors);
	return TEST_DONE();
}
