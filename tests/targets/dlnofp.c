// SPDX-License-Identifier: GPL-2.0
/*
 * dlopen()s libnofp.so (built without frame pointers, next to this program)
 * and leaks through it 0.3 seconds later: its unwind table must be loaded by
 * then, from the target's new mappings.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *volatile dl_sink;
volatile unsigned long dl_work;

static NOINLINE void drop(void *p)
{
	dl_sink = p;
	dl_sink = 0;
}

static NOINLINE int call_dl(void (*fn)(int, void (*)(void *)))
{
	unsigned long a = dl_work * 3 + 1;

	fn(3, drop);	/* CALL: dl */
	dl_work += a;
	return 0;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	char *slash;
	void *h;
	void (*fn)(int, void (*)(void *));

	snprintf(path, sizeof(path), "%s", argv[0]);
	slash = strrchr(path, '/');
	snprintf(slash ? slash + 1 : path, sizeof(path) - (slash ? slash + 1 - path : 0),
		 "libnofp.so");
	h = dlopen(path, RTLD_NOW);
	if (!h)
		return 1;
	fn = (void (*)(int, void (*)(void *)))dlsym(h, "nofp_lib_leak");
	if (!fn)
		return 1;
	usleep(300000);
	call_dl(fn);	/* CALL: main-dl */
	usleep(1500000);
	return 0;
}
