// SPDX-License-Identifier: GPL-2.0
/*
 * A program without frame pointers calling into libnofp.so (also without),
 * which leaks: the stack crosses from the library back into the program.
 */
#define NOINLINE __attribute__((noinline))

void nofp_lib_leak(int k, void (*cb)(void *));

void *volatile use_sink;
volatile unsigned long use_work;

static NOINLINE void drop(void *p)
{
	use_sink = p;
	use_sink = 0;
	use_work++;
}

static NOINLINE void call_lib(int k)
{
	unsigned long a = use_work * 7 + k;

	nofp_lib_leak(k, drop);	/* CALL: use */
	use_work += a;
}

int main(void)
{
	call_lib(6);	/* CALL: main-use */
	return 0;
}
