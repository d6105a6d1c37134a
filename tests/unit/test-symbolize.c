// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolize addresses of this very test program (built -O2 -g): its own
 * functions, an inlined call, a libc function; and the /proc/PID/maps cache
 * on fabricated maps files.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "symbol/maps.h"
#include "symbol/symbolize.h"
#include "test.h"

#define MAX_FRAMES 16

static volatile int sink;
static uint64_t captured_ra;
static int line_function_line, inlined_line, outer_call_line;

/* Remember where we were called from. */
static __attribute__((noinline)) void capture(void)
{
	captured_ra = (uint64_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline, used)) int known_function(int x)
{
	int i, r = 0;

	for (i = 0; i < x; i++)
		r += sink * i + x;
	sink = r;
	return r;
}

static __attribute__((noinline)) void line_function(void)
{
	capture(); line_function_line = __LINE__;
	sink++;
}

static inline __attribute__((always_inline)) void inlined_function(void)
{
	capture(); inlined_line = __LINE__;
	sink++;
}

static __attribute__((noinline)) void outer_function(void)
{
	inlined_function(); outer_call_line = __LINE__;
	sink++;
}

static struct ml_maps *maps;
static struct ml_symbolizer *sym;

static void test_maps_self(void)
{
	const struct ml_mapping *m;
	size_t i, n;

	CHECK(ml_maps_refresh(maps) == 0);
	n = ml_maps_count(maps);
	CHECK(n > 0);
	CHECK(ml_maps_pid(maps) == getpid());

	m = ml_maps_find(maps, (uint64_t)(uintptr_t)known_function);
	CHECK(m != NULL);
	if (m) {
		CHECK(m->exec);
		CHECK(m->path && strstr(m->path, "test-symbolize"));
	}
	for (i = 1; i < n; i++)
		CHECK(ml_maps_get(maps, i - 1)->end <=
		      ml_maps_get(maps, i)->start);
	for (i = 0; i < n; i++)
		CHECK(ml_maps_get(maps, i)->path &&
		      ml_maps_get(maps, i)->path[0] == '/');
	CHECK(ml_maps_get(maps, n) == NULL);
	/* Nothing on the heap or stack is a file. */
	CHECK(ml_maps_find(maps, (uint64_t)(uintptr_t)&n) == NULL);

	/* A second read changes nothing and loses nothing. */
	CHECK(ml_maps_refresh(maps) == 0);
	CHECK(ml_maps_count(maps) >= n);
	CHECK(ml_maps_find(maps, (uint64_t)(uintptr_t)known_function) != NULL);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_maps_merge(void)
{
	char path[] = "/tmp/test-symbolize-maps-XXXXXX";
	const struct ml_mapping *m;
	struct ml_maps *mm = ml_maps_new(4242);
	int fd = mkstemp(path);

	CHECK(fd >= 0 && mm);
	if (fd < 0 || !mm)
		return;
	close(fd);

	CHECK(write_file(path,
		"00400000-00401000 r--p 00000000 08:01 100 /usr/bin/prog\n"
		"00401000-00402000 r-xp 00001000 08:01 100 /usr/bin/prog\n"
		"00600000-00621000 rw-p 00000000 00:00 0          [heap]\n"
		"7f0000000000-7f0000001000 r-xp 00002000 08:01 200 /lib/libold.so (deleted)\n"
		"7f0000010000-7f0000011000 r-xp 00000000 08:01 300 /lib/libkept.so\n"
		"7f0000020000-7f0000021000 rw-p 00000000 00:00 0 \n"
		"7f0000030000-7f0000031000 r-xp 00000000 08:01 400 /lib/with space.so\n"
		"7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0  [vdso]\n"
		"garbage line\n") == 0);
	CHECK(ml_maps_refresh_from(mm, path) == 0);
	CHECK_EQ_U64(ml_maps_count(mm), 5);

	m = ml_maps_find(mm, 0x401234);
	CHECK(m && m->exec && m->pgoff == 0x1000 &&
	      !strcmp(m->path, "/usr/bin/prog"));
	m = ml_maps_find(mm, 0x400fff);
	CHECK(m && !m->exec && m->start == 0x400000);
	CHECK(ml_maps_find(mm, 0x402000) == NULL);
	CHECK(ml_maps_find(mm, 0x600100) == NULL);
	CHECK(ml_maps_find(mm, 0x3fffff) == NULL);
	CHECK(ml_maps_find(mm, 0x7ffff7fc1000ULL) == NULL);
	m = ml_maps_find(mm, 0x7f0000000010ULL);
	CHECK(m && !strcmp(m->path, "/lib/libold.so") && m->pgoff == 0x2000);
	m = ml_maps_find(mm, 0x7f0000030000ULL);
	CHECK(m && !strcmp(m->path, "/lib/with space.so"));

	/* libold.so is replaced by anonymous memory, libnew.so appears. */
	CHECK(write_file(path,
		"00400000-00401000 r--p 00000000 08:01 100 /usr/bin/prog\n"
		"00401000-00402000 r-xp 00001000 08:01 100 /usr/bin/prog\n"
		"7f0000000000-7f0000002000 rw-p 00000000 00:00 0\n"
		"7f0000040000-7f0000041000 r-xp 00000000 08:01 500 /lib/libnew.so\n") == 0);
	CHECK(ml_maps_refresh_from(mm, path) == 0);
	CHECK_EQ_U64(ml_maps_count(mm), 5);
	CHECK(ml_maps_find(mm, 0x7f0000000010ULL) == NULL);
	m = ml_maps_find(mm, 0x7f0000010010ULL);
	CHECK(m && !strcmp(m->path, "/lib/libkept.so"));
	m = ml_maps_find(mm, 0x7f0000040010ULL);
	CHECK(m && !strcmp(m->path, "/lib/libnew.so"));
	CHECK(ml_maps_find(mm, 0x401000) != NULL);

	/* The process is gone: the cache stays as it was. */
	unlink(path);
	CHECK(ml_maps_refresh_from(mm, path) < 0);
	CHECK_EQ_U64(ml_maps_count(mm), 5);
	CHECK(ml_maps_find(mm, 0x7f0000010010ULL) != NULL);

	ml_maps_free(mm);
}

static int sym1(uint64_t addr, bool is_return, struct ml_frame *f)
{
	return ml_symbolize(sym, addr, is_return, f, MAX_FRAMES);
}

static void test_own_function(void)
{
	uint64_t addr = (uint64_t)(uintptr_t)known_function;
	struct ml_frame f[MAX_FRAMES];
	int n;

	n = sym1(addr, false, f);
	CHECK(n >= 1);
	CHECK_STR(f[n - 1].func, "known_function");
	CHECK_EQ_U64(f[n - 1].offset, 0);
	CHECK_STR(f[n - 1].module, "test-symbolize");
	CHECK_EQ_U64(f[n - 1].addr, addr);
	CHECK(!f[n - 1].inlined);
	CHECK_STR(f[n - 1].file, "test-symbolize.c");

	n = sym1(addr + 5, false, f);
	CHECK(n >= 1);
	CHECK_STR(f[n - 1].func, "known_function");
	CHECK_EQ_U64(f[n - 1].offset, 5);
	CHECK_STR(f[n - 1].module, "test-symbolize");
}

static void test_line(void)
{
	struct ml_frame f[MAX_FRAMES];
	int n;

	line_function();
	n = sym1(captured_ra, true, f);
	CHECK_EQ_U64(n, 1);
	CHECK_STR(f[0].func, "line_function");
	CHECK(f[0].offset > 0);
	CHECK_STR(f[0].file, "test-symbolize.c");
	CHECK_EQ_U64(f[0].line, line_function_line);
	CHECK(!f[0].inlined);
}

static void test_inlined(void)
{
	struct ml_frame f[MAX_FRAMES];
	int n;

	outer_function();
	n = sym1(captured_ra, true, f);
	CHECK_EQ_U64(n, 2);
	if (n != 2)
		return;
	CHECK(f[0].inlined);
	CHECK_STR(f[0].func, "inlined_function");
	CHECK_EQ_U64(f[0].offset, 0);
	CHECK_STR(f[0].file, "test-symbolize.c");
	CHECK_EQ_U64(f[0].line, inlined_line);
	CHECK_STR(f[0].module, "test-symbolize");
	CHECK(!f[1].inlined);
	CHECK_STR(f[1].func, "outer_function");
	CHECK(f[1].offset > 0);
	CHECK_STR(f[1].file, "test-symbolize.c");
	CHECK_EQ_U64(f[1].line, outer_call_line);

	/* Room for one frame: the real function is kept. */
	n = ml_symbolize(sym, captured_ra, true, f, 1);
	CHECK_EQ_U64(n, 1);
	CHECK_STR(f[0].func, "outer_function");
	CHECK(!f[0].inlined);
}

static void test_libc(void)
{
	void *p = dlsym(RTLD_DEFAULT, "strdup");
	struct ml_frame f[MAX_FRAMES];
	int n;

	CHECK(p != NULL);
	if (!p)
		return;
	n = sym1((uint64_t)(uintptr_t)p, false, f);
	CHECK(n >= 1);
	CHECK_STR(f[n - 1].module, "libc.so.6");
	CHECK(f[n - 1].func && strstr(f[n - 1].func, "strdup"));
	CHECK_EQ_U64(f[n - 1].offset, 0);

	n = sym1((uint64_t)(uintptr_t)p + 3, false, f);
	CHECK(f[n - 1].func && strstr(f[n - 1].func, "strdup"));
	CHECK_EQ_U64(f[n - 1].offset, 3);
}

static void test_unknown(void)
{
	struct ml_frame f[MAX_FRAMES];
	int n;

	n = sym1(16, false, f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].func == NULL);
	CHECK(f[0].module == NULL);
	CHECK(f[0].file == NULL);
	CHECK_EQ_U64(f[0].addr, 16);
}

static void test_cache(void)
{
	uint64_t base = (uint64_t)(uintptr_t)known_function;
	struct ml_frame f[MAX_FRAMES], g[MAX_FRAMES];
	struct timespec t0, t1;
	const char *name;
	int i, n, m;
	double ms;

	n = sym1(base + 1, false, f);
	name = f[n - 1].func;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100000; i++) {
		m = sym1(base + 1 + i % 16, false, g);
		if (m != n || !g[m - 1].func ||
		    strcmp(g[m - 1].func, "known_function")) {
			CHECK(0);
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* The same address gives the same (cached) strings. */
	n = sym1(base + 1, false, g);
	CHECK(g[n - 1].func == name);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms < 2000);
}

int main(void)
{
	maps = ml_maps_new(getpid());
	if (!maps || ml_maps_refresh(maps)) {
		fprintf(stderr, "cannot read /proc/self/maps\n");
		return 1;
	}
	sym = ml_symbolizer_new(maps);
	if (!sym) {
		fprintf(stderr, "cannot create a symbolizer\n");
		return 1;
	}

	TEST(test_maps_self);
	TEST(test_maps_merge);
	TEST(test_own_function);
	TEST(test_line);
	TEST(test_inlined);
	TEST(test_libc);
	TEST(test_unknown);
	TEST(test_cache);

	ml_symbolizer_free(sym);
	ml_maps_free(maps);
	return TEST_DONE();
}
