/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading a shared library into a running process and sending its
 * allocator calls there (memleak -p PID --inject): what heaptrack does
 * through gdb, done with ptrace.  The library is dlopen()ed by one of the
 * target's own threads, then the GOT slots (JUMP_SLOT and GLOB_DAT
 * relocations) that every other object of the process has for the named
 * symbols are pointed at the library's definitions.  Undone by writing the
 * old values back; the library itself stays loaded.
 */
#ifndef MEMLEAK_INJECT_H
#define MEMLEAK_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One GOT slot of the target that now points into the library. */
struct ml_inject_patch {
	uint64_t slot;		/* its address in the target */
	uint64_t old;		/* the value it had (libc's function, a PLT stub) */
	uint64_t new;		/* the library's function */
	int sym;		/* index into the caller's symbol list */
};

struct ml_inject {
	pid_t pid;
	uint64_t handle;	/* dlopen()'s result in the target */
	uint64_t bias;		/* the library's load bias there */
	struct ml_inject_patch *patches;
	size_t nr_patches;
	unsigned int nr_objects;	/* objects with at least one slot patched */
	unsigned int nr_threads;	/* threads stopped for the injection */
	pid_t tid;		/* the thread that called dlopen() */
	long syscall;		/* the system call it was stopped in, or -1 */
	int missing;		/* symbols the library does not define */
};

/*
 * Load @so_path (an absolute path, as the target sees it) into @pid with
 * dlopen(RTLD_NOW) and redirect the NULL-terminated @symbols (e.g.
 * "malloc", "free") of every object but the library and ld.so to it.  All
 * threads are stopped meanwhile and continue afterwards as if nothing had
 * happened (registers, FPU state, signal mask, errno and an interrupted
 * system call are restored).  x86_64 only.  Returns 0 and fills @inj, or
 * -errno with a message in @err: the process is gone, ptrace is denied,
 * the process is static or has no dlopen, dlopen() failed (dlerror()'s
 * text), ...  Release @inj with ml_inject_release().
 */
int ml_inject_library(pid_t pid, const char *so_path,
		      const char *const *symbols, struct ml_inject *inj,
		      char *err, size_t errlen);

/*
 * What ml_inject_library_hook() does once the library is loaded, before
 * anything points at it, every thread still stopped: @configure(pid, load
 * bias, @arg), whose non-zero value fails the injection (nothing done yet
 * to undo); then, if @call names a function of the library, it calls it
 * (no arguments) in the thread it borrowed, its value in @call_ret.
 */
struct ml_inject_hook {
	int (*configure)(pid_t pid, uint64_t bias, void *arg);
	void *arg;
	const char *call;
	uint64_t call_ret;
};

/* ml_inject_library() with @hook (NULL: none), the moment to configure it. */
int ml_inject_library_hook(pid_t pid, const char *so_path,
			   const char *const *symbols,
			   struct ml_inject_hook *hook, struct ml_inject *inj,
			   char *err, size_t errlen);

/*
 * Write the old values of the slots back (stopping the threads again), so
 * the process allocates from libc directly once more; slots that changed
 * since are left alone.  Blocks the library handed out are glibc blocks:
 * libc's free() takes them.  0 (also when the process is gone: nothing to
 * undo) or -errno with @err.
 */
int ml_inject_undo(struct ml_inject *inj, char *err, size_t errlen);

/* Free what @inj holds (does not undo). */
void ml_inject_release(struct ml_inject *inj);

/* A GOT relocation found in an ELF file (the pure, testable part). */
struct ml_got_ref {
	uint64_t offset;	/* r_offset: the slot, before the load bias */
	int sym;		/* index into the symbol list */
	unsigned int type;	/* R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT */
};

/*
 * The JUMP_SLOT and GLOB_DAT relocations of @path against @symbols.
 * Returns 0 with a malloc()ed array in *@refs (maybe empty), or -errno
 * and *@why.
 */
int ml_inject_scan_got(const char *path, const char *const *symbols,
		       struct ml_got_ref **refs, size_t *nr, const char **why);

#endif /* MEMLEAK_INJECT_H */
