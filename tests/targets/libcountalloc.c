// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal allocator library for the injection tests: malloc and friends
 * that count their calls and hand the work to glibc's own entry points
 * (__libc_malloc...), as memleak's preload library does.  Injected into a
 * running process, the counters tell how many of its calls were redirected.
 *
 * countalloc_allocs/countalloc_frees: calls from every thread;
 * countalloc_thread_calls: the calling thread's (allocations and frees),
 * initial-exec TLS so that counting never allocates (dynamic TLS would,
 * from malloc: a loop).  Built with -DCOUNTALLOC_FORWARD_ONLY it counts
 * nothing (bench/inject.sh: the cost of the redirection alone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

unsigned long countalloc_allocs;
unsigned long countalloc_frees;
__thread unsigned long countalloc_thread_calls
	__attribute__((tls_model("initial-exec")));

static inline void count(void)
{
#ifdef COUNTALLOC_FORWARD_ONLY
	return;
#endif
	__atomic_fetch_add(&countalloc_allocs, 1, __ATOMIC_RELAXED);
	countalloc_thread_calls++;
}

void *malloc(size_t size)
{
	count();
	return __libc_malloc(size);
}

void free(void *p)
{
#ifndef COUNTALLOC_FORWARD_ONLY
	__atomic_fetch_add(&countalloc_frees, 1, __ATOMIC_RELAXED);
	countalloc_thread_calls++;
#endif
	__libc_free(p);
}

void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count();
	return __libc_realloc(p, size);
}

void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	count();
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, bytes);
}

void *memalign(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	count();
	if (!align || align % sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t size)
{
	count();
	return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
	count();
	return __libc_pvalloc(size);
}
