// SPDX-License-Identifier: GPL-2.0
/*
 * Loading a shared library into a running process and redirecting its
 * allocator calls there (memleak -p PID --inject).
 *
 * 1. Every thread is seized and interrupted (PTRACE_SEIZE/INTERRUPT), again
 *    and again until no new thread shows up: stopped threads create none.
 * 2. One thread stopped at a safe point (outside libc and ld.so, or blocked
 *    in a system call that holds no libc lock) is borrowed: its registers,
 *    FPU/vector state and signal mask are saved, and it is made to call
 *    functions of the target's libc with a return address of 0, so that
 *    the return faults and we get the thread back at a SIGSEGV stop.
 *    __errno_location() first (dlopen changes errno, which the interrupted
 *    code may be about to read), then dlopen(path, RTLD_NOW), and
 *    dlerror() when that fails.  The other threads run meanwhile: one of
 *    them may hold the loader's or malloc's lock, and dlopen needs both.
 * 3. All threads stopped again, the JUMP_SLOT and GLOB_DAT relocations of
 *    every mapped object against the symbols are read from its file, and
 *    the GOT slots they name are overwritten through /proc/PID/mem (which
 *    writes through read-only RELRO pages) with the library's definitions.
 *    Stopped, because an 8-byte write through /proc/PID/mem is a kernel
 *    memcpy that another CPU may see half done.
 * 4. The borrowed thread gets everything back exactly.  Restoring orig_rax
 *    and rax as they were lets the kernel restart an interrupted system
 *    call (read, nanosleep) the way it would have without us; during the
 *    calls orig_rax is -1 so that no restart logic touches our registers.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target/inject.h"
#include "util/util.h"

#define STOP_TIMEOUT_MS		5000	/* for a thread to stop */
#define CALL_TIMEOUT_MS		10000	/* for dlopen() to return */
#define SAFE_POINT_TRIES	500	/* stop/look/resume rounds, ~1 ms apart */
#define RED_ZONE		128	/* below rsp, owned by the interrupted code */
#define XSTATE_MAX		(64 * 1024)

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK	0x420a
#define PTRACE_SETSIGMASK	0x420b
#endif

enum tstate { T_RUNNING, T_INTERRUPTED, T_STOPPED, T_GONE };

struct thread {
	pid_t tid;
	enum tstate state;
};

/* A file mapped in the target: its mappings are consecutive in maps. */
struct object {
	char *path;
	dev_t dev;
	uint64_t inode;
	uint64_t lo, hi;	/* first and one past the last mapped address */
	uint64_t map0, map0_end;	/* the mapping of file offset 0 */
	bool exec;
};

struct ctx {
	pid_t pid;
	int memfd;
	struct thread *threads;
	size_t nr_threads;
	bool group_stop;	/* a thread was in a group stop (SIGSTOP) */
	char *err;
	size_t errlen;
	bool have_err;
	/* the borrowed thread and what it had */
	pid_t tid;
	bool hijacked;
#ifdef __x86_64__
	struct user_regs_struct regs;
#endif
	void *xstate;
	size_t xstate_len;
	int xstate_type;
	uint64_t sigmask;
};

/* Set the message (the first one wins: it is the cause) and return @ret. */
static int __attribute__((format(printf, 3, 4)))
fail(struct ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!c->have_err && c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
		c->have_err = true;
	}
	return ret;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ ELF files */

static Elf *elf_from_fd(int fd)
{
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return NULL;
	}
	return elf;
}

/*
 * Values of the defined dynamic symbols @names (0 if absent).  Of several
 * versions (dlopen@GLIBC_2.2.5 and dlopen@@GLIBC_2.34) the default one.
 */
static void dynsym_values(Elf *elf, const char *const *names, int n,
			  uint64_t *values)
{
	Elf_Scn *scn = NULL, *vscn = NULL;
	Elf_Data *data, *vdata = NULL;
	bool deflt[64] = { false };
	GElf_Shdr sh;

	memset(values, 0, n * sizeof(*values));
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			vscn = scn;
	if (vscn)
		vdata = elf_getdata(vscn, NULL);
	while ((scn = elf_nextscn(elf, scn))) {
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Sym sym;
			GElf_Versym vs = 0;
			const char *name;
			int type;

			if (!gelf_getsym(data, i, &sym) ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			type = GELF_ST_TYPE(sym.st_info);
			if (type != STT_FUNC)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			if (vdata)
				gelf_getversym(vdata, i, &vs);
			for (int j = 0; j < n && j < 64; j++) {
				if (strcmp(name, names[j]) || deflt[j])
					continue;
				values[j] = sym.st_value;
				deflt[j] = !(vs & 0x8000);
			}
		}
	}
}

/*
 * The load bias of an object whose file offset 0 is mapped at @map0: the
 * first PT_LOAD starts at offset 0 in every object ld.so maps.
 */
static int load_bias(Elf *elf, uint64_t map0, uint64_t *bias)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t nphdr;

	if (elf_getphdrnum(elf, &nphdr))
		return -ENOEXEC;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset / page)
			return -ENOEXEC;
		*bias = map0 - (ph.p_vaddr & ~(uint64_t)(page - 1));
		return 0;
	}
	return -ENOEXEC;
}

static bool has_interp(Elf *elf)
{
	size_t nphdr;

	if (elf_getphdrnum(elf, &nphdr))
		return false;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP)
			return true;
	}
	return false;
}

static bool got_reloc(unsigned int type)
{
#if defined(__aarch64__)
	return type == R_AARCH64_JUMP_SLOT || type == R_AARCH64_GLOB_DAT;
#else
	return type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT;
#endif
}

static int scan_got_elf(Elf *elf, const char *const *symbols,
			struct ml_got_ref **refs, size_t *nr)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0;

	*refs = NULL;
	*nr = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Scn *symscn;
		Elf_Data *data, *symdata;
		GElf_Shdr sh, symsh;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		symscn = elf_getscn(elf, sh.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symsh) ||
		    !(symdata = elf_getdata(symscn, NULL)))
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			if (!gelf_getrela(data, i, &r) ||
			    !got_reloc(GELF_R_TYPE(r.r_info)) ||
			    !gelf_getsym(symdata, GELF_R_SYM(r.r_info), &sym) ||
			    !(name = elf_strptr(elf, symsh.sh_link, sym.st_name)))
				continue;
			for (int j = 0; symbols[j]; j++) {
				if (strcmp(name, symbols[j]))
					continue;
				if (*nr == cap) {
					cap = cap ? 2 * cap : 16;
					*refs = xrealloc(*refs, cap * sizeof(**refs));
				}
				(*refs)[(*nr)++] = (struct ml_got_ref) {
					.offset = r.r_offset, .sym = j,
					.type = GELF_R_TYPE(r.r_info),
				};
				break;
			}
		}
	}
	return 0;
}

int ml_inject_scan_got(const char *path, const char *const *symbols,
		       struct ml_got_ref **refs, size_t *nr, const char **why)
{
	int fd, err;
	Elf *elf;

	*refs = NULL;
	*nr = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		*why = strerror(errno);
		return err;
	}
	elf = elf_from_fd(fd);
	if (!elf) {
		close(fd);
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	err = scan_got_elf(elf, symbols, refs, nr);
	elf_end(elf);
	close(fd);
	return err;
}

/* ------------------------------------------------------------ the maps */

static void free_objects(struct object *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i].path);
	free(o);
}

/* The files mapped by @pid, one entry per file (mappings grouped). */
static int read_objects(pid_t pid, struct object **out, size_t *nr)
{
	char path[64], *line = NULL;
	struct object *o = NULL;
	size_t n = 0, cap = 0, len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &len, f) > 0) {
		unsigned long long start, end, pgoff, inode;
		unsigned int maj, min;
		char perms[8];
		int pos = 0;
		char *p;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start,
			   &end, perms, &pgoff, &maj, &min, &inode, &pos) < 7)
			continue;
		p = line + pos;
		p[strcspn(p, "\n")] = '\0';
		if (!inode || p[0] != '/')
			continue;
		if (!n || o[n - 1].inode != inode ||
		    o[n - 1].dev != makedev(maj, min) || strcmp(o[n - 1].path, p)) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				o = xrealloc(o, cap * sizeof(*o));
			}
			o[n++] = (struct object) {
				.path = xstrdup(p), .dev = makedev(maj, min),
				.inode = inode, .lo = start,
			};
		}
		o[n - 1].hi = end;
		if (perms[2] == 'x')
			o[n - 1].exec = true;
		if (pgoff == 0 && !o[n - 1].map0) {
			o[n - 1].map0 = start;
			o[n - 1].map0_end = end;
		}
	}
	free(line);
	fclose(f);
	*out = o;
	*nr = n;
	return 0;
}

/* The object's file as the target maps it (the same inode, any namespace). */
static int open_object(pid_t pid, const struct object *o)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)o->map0, (unsigned long long)o->map0_end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, o->path);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* libc.so.6 (libc-2.x.so before glibc 2.34) */
static struct object *find_libc(struct object *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *b = base_name(o[i].path);

		if (o[i].exec && o[i].map0 &&
		    (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5)))
			return &o[i];
	}
	return NULL;
}

static struct object *find_by_name(struct object *o, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++)
		if (o[i].exec && o[i].map0 &&
		    !strncmp(base_name(o[i].path), prefix, strlen(prefix)))
			return &o[i];
	return NULL;
}

static bool in_object(const struct object *o, uint64_t addr)
{
	return o && addr >= o->lo && addr < o->hi;
}

static struct object *find_addr(struct object *o, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= o[i].lo && addr < o[i].hi)
			return &o[i];
	return NULL;
}

/* Dynamic symbol values of @o, relocated; -errno if it cannot be read. */
static int object_syms(pid_t pid, const struct object *o,
		       const char *const *names, int n, uint64_t *values)
{
	uint64_t bias;
	int fd, err;
	Elf *elf;

	fd = open_object(pid, o);
	if (fd < 0)
		return -errno;
	elf = elf_from_fd(fd);
	err = elf ? load_bias(elf, o->map0, &bias) : -ENOEXEC;
	if (!err) {
		dynsym_values(elf, names, n, values);
		for (int i = 0; i < n; i++)
			if (values[i])
				values[i] += bias;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* ------------------------------------------------------------ memory */

static int peek(struct ctx *c, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(c->memfd, buf, len, addr);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

static int poke(struct ctx *c, uint64_t addr, const void *buf, size_t len)
{
	ssize_t n = pwrite(c->memfd, buf, len, addr);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* ------------------------------------------------------------ threads */

/* Why PTRACE_SEIZE said EPERM, in words. */
static int denied(struct ctx *c)
{
	char path[64], line[256];
	int tracer = 0, scope = -1;
	FILE *f;

	if (c->pid == getpid())
		return fail(c, -EPERM, "cannot inject into memleak itself");
	snprintf(path, sizeof(path), "/proc/%d/status", c->pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	if (f)
		fclose(f);
	if (tracer > 0)
		return fail(c, -EBUSY, "process %d is already traced by process %d "
			    "(a debugger?): only one tracer at a time", c->pid, tracer);
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if (scope > 0)
		return fail(c, -EPERM, "ptrace of process %d denied: "
			    "kernel.yama.ptrace_scope is %d (%s)", c->pid, scope,
			    scope >= 3 ? "no attaching at all until reboot" :
			    "run as root or with CAP_SYS_PTRACE");
	return fail(c, -EPERM, "ptrace of process %d denied: run as root or "
		    "with CAP_SYS_PTRACE", c->pid);
}

/* waitpid() for one thread, polling, at most @ms milliseconds. */
static int wait_tid(pid_t tid, int *st, int ms)
{
	long slept = 0, step = 10;

	for (;;) {
		pid_t r = waitpid(tid, st, WNOHANG | __WALL);

		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (slept / 1000 >= ms)
			return -ETIMEDOUT;
		sleep_us(step);
		slept += step;
		if (step < 1000)
			step *= 2;
	}
}

/*
 * Until thread @t reports the stop our PTRACE_INTERRUPT asked for.  Signals
 * that arrive meanwhile are delivered at once, as without us (their
 * siginfo kept); the interrupt stays pending and stops the thread next.
 */
static int wait_stop(struct ctx *c, struct thread *t)
{
	int st, err;

	for (;;) {
		err = wait_tid(t->tid, &st, STOP_TIMEOUT_MS);
		if (err == -ECHILD) {
			t->state = T_GONE;
			return 0;
		}
		if (err)
			return fail(c, err, "thread %d of process %d did not stop "
				    "in %d s (uninterruptible sleep?)", t->tid,
				    c->pid, STOP_TIMEOUT_MS / 1000);
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			t->state = T_GONE;
			return 0;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (st >> 16 == PTRACE_EVENT_STOP) {
			if (WSTOPSIG(st) != SIGTRAP)
				c->group_stop = true;
			t->state = T_STOPPED;
			return 0;
		}
		if (ptrace(PTRACE_CONT, t->tid, 0, WSTOPSIG(st)) && errno == ESRCH)
			t->state = T_GONE;
	}
}

static struct thread *find_thread(struct ctx *c, pid_t tid)
{
	for (size_t i = 0; i < c->nr_threads; i++)
		if (c->threads[i].tid == tid)
			return &c->threads[i];
	return NULL;
}

/* Interrupt the threads we know that run, wait until they stopped. */
static int stop_known(struct ctx *c)
{
	int err;

	for (size_t i = 0; i < c->nr_threads; i++) {
		struct thread *t = &c->threads[i];

		if (t->state != T_RUNNING)
			continue;
		/* ESRCH: exiting; its exit is collected by wait_stop */
		ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
		t->state = T_INTERRUPTED;
	}
	for (size_t i = 0; i < c->nr_threads; i++) {
		if (c->threads[i].state != T_INTERRUPTED)
			continue;
		err = wait_stop(c, &c->threads[i]);
		if (err)
			return err;
	}
	return 0;
}

static size_t nr_stopped(struct ctx *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nr_threads; i++)
		n += c->threads[i].state == T_STOPPED;
	return n;
}

/*
 * Seize and stop every thread of the process, including those created
 * while we do it: once all the threads listed are stopped, a listing that
 * shows no new one is complete.
 */
static int stop_all(struct ctx *c)
{
	char path[64];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	for (;;) {
		struct dirent *de;
		int added = 0;
		DIR *d;

		d = opendir(path);
		if (!d)
			return fail(c, -ESRCH, "process %d is gone", c->pid);
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0 || find_thread(c, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue;	/* it just exited */
				closedir(d);
				if (errno == EPERM)
					return denied(c);
				return fail(c, -errno, "ptrace(PTRACE_SEIZE, %d): %s",
					    tid, strerror(errno));
			}
			c->threads = xrealloc(c->threads, (c->nr_threads + 1) *
					      sizeof(*c->threads));
			c->threads[c->nr_threads++] = (struct thread) {
				.tid = tid, .state = T_RUNNING,
			};
			added++;
		}
		closedir(d);
		err = stop_known(c);
		if (err)
			return err;
		if (!added)
			break;
	}
	if (!nr_stopped(c))
		return fail(c, -ESRCH, "process %d is gone", c->pid);
	if (c->group_stop)
		return fail(c, -EBUSY, "process %d is stopped (SIGSTOP or a "
			    "terminal stop): continue it first", c->pid);
	return 0;
}

/* Let the stopped threads run, except @except. */
static void resume_all(struct ctx *c, pid_t except)
{
	for (size_t i = 0; i < c->nr_threads; i++) {
		struct thread *t = &c->threads[i];

		if (t->state != T_STOPPED || t->tid == except)
			continue;
		if (ptrace(PTRACE_CONT, t->tid, 0, 0) && errno == ESRCH)
			t->state = T_GONE;
		else
			t->state = T_RUNNING;
	}
}

/* Detach from every thread (stopping those still running first). */
static void detach_all(struct ctx *c)
{
	stop_known(c);
	for (size_t i = 0; i < c->nr_threads; i++)
		if (c->threads[i].state == T_STOPPED)
			ptrace(PTRACE_DETACH, c->threads[i].tid, 0, 0);
	free(c->threads);
	c->threads = NULL;
	c->nr_threads = 0;
}

/* ------------------------------------------------------------ remote calls */

#ifdef __x86_64__

#define NR_URETPROBE	335	/* the kernel's uprobe trampolines' system calls */
#define NR_UPROBE	336

/*
 * Whether thread @tid, stopped, may be borrowed to call dlopen(): not
 * inside libc or ld.so, where it could hold the malloc or the loader lock
 * dlopen is about to take (a deadlock with itself), unless it sleeps in a
 * system call; of those, the ones libc makes while holding malloc's arena
 * lock (sysmalloc's mmap/brk, fork's clone) are excluded.  Never inside
 * @lib, the library itself when it is already loaded: its flusher task
 * runs on another thread's TLS, always in @lib's code or in a uprobe
 * trampoline's system call.
 */
static bool safe_point(struct ctx *c, pid_t tid, const struct object *libc,
		       const struct object *ldso, const struct object *lib)
{
	struct user_regs_struct r;

	if (ptrace(PTRACE_GETREGS, tid, 0, &r))
		return false;
	if (in_object(lib, r.rip))
		return false;
	if ((long)r.orig_rax >= 0) {
		switch (r.orig_rax) {
		case SYS_mmap: case SYS_munmap: case SYS_mremap:
		case SYS_brk: case SYS_mprotect: case SYS_madvise:
		case SYS_clone: case SYS_clone3: case SYS_fork:
		case SYS_vfork: case NR_URETPROBE: case NR_UPROBE:
			return false;
		}
		return !in_object(ldso, r.rip);
	}
	return !in_object(libc, r.rip) && !in_object(ldso, r.rip);
}

/* The object mapping file @path, if the target maps it. */
static struct object *find_file(struct object *o, size_t n, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (o[i].dev == st.st_dev && o[i].inode == st.st_ino)
			return &o[i];
	return NULL;
}

/* Save what the call will change in the borrowed thread. */
static int save_thread(struct ctx *c)
{
	struct iovec iov;

	if (ptrace(PTRACE_GETREGS, c->tid, 0, &c->regs))
		return fail(c, -errno, "PTRACE_GETREGS: %s", strerror(errno));
	/* all of xsave (AVX, AVX-512...), else the legacy FPU/SSE area */
	c->xstate = xmalloc(XSTATE_MAX);
	iov = (struct iovec) { c->xstate, XSTATE_MAX };
	c->xstate_type = NT_X86_XSTATE;
	if (ptrace(PTRACE_GETREGSET, c->tid, NT_X86_XSTATE, &iov)) {
		iov = (struct iovec) { c->xstate, XSTATE_MAX };
		c->xstate_type = NT_PRFPREG;
		if (ptrace(PTRACE_GETREGSET, c->tid, NT_PRFPREG, &iov))
			return fail(c, -errno, "PTRACE_GETREGSET: %s", strerror(errno));
	}
	c->xstate_len = iov.iov_len;
	if (ptrace(PTRACE_GETSIGMASK, c->tid, sizeof(c->sigmask), &c->sigmask))
		return fail(c, -errno, "PTRACE_GETSIGMASK: %s", strerror(errno));
	c->hijacked = true;
	return 0;
}

static int restore_thread(struct ctx *c)
{
	struct iovec iov = { c->xstate, c->xstate_len };
	int err = 0;

	if (!c->hijacked)
		return 0;
	if (ptrace(PTRACE_SETREGS, c->tid, 0, &c->regs) ||
	    ptrace(PTRACE_SETREGSET, c->tid, c->xstate_type, &iov) ||
	    ptrace(PTRACE_SETSIGMASK, c->tid, sizeof(c->sigmask), &c->sigmask))
		err = fail(c, -errno, "restoring thread %d of process %d: %s",
			   c->tid, c->pid, strerror(errno));
	c->hijacked = false;
	return err;
}

/*
 * Call @fn(a0, a1) in the borrowed thread (@str, if any, copied to its
 * stack and passed as a0) and return its rax in *@ret.  The thread returns
 * to address 0 and stops with SIGSEGV there; that signal is never
 * delivered.  Only faults are unblocked meanwhile: the target's signals
 * wait (or go to other threads), and a blocked fault would reset the
 * target's handler for it.
 */
static int remote_call(struct ctx *c, const char *what, uint64_t fn,
		       uint64_t a0, uint64_t a1, const char *str, uint64_t *ret)
{
	struct user_regs_struct r = c->regs;
	uint64_t sp = r.rsp - RED_ZONE, zero = 0, mask;
	int st, err;

	if (str) {
		size_t len = strlen(str) + 1;

		sp = (sp - len) & ~15ULL;
		err = poke(c, sp, str, len);
		if (err)
			return fail(c, err, "writing to the stack of thread %d: %s",
				    c->tid, strerror(-err));
		a0 = sp;
	}
	/* at a function's entry rsp + 8 is 16-byte aligned */
	sp = ((sp - 64) & ~15ULL) - 8;
	err = poke(c, sp, &zero, sizeof(zero));
	if (err)
		return fail(c, err, "writing to the stack of thread %d: %s",
			    c->tid, strerror(-err));
	r.rsp = sp;
	r.rip = fn;
	r.rdi = a0;
	r.rsi = a1;
	r.rax = 0;
	r.orig_rax = -1;		/* not in a system call: no restart */
	r.eflags &= ~(0x400ULL | 0x100ULL);	/* DF and TF clear, as the ABI says */
	mask = ~0ULL;
	for (int s = 1; s < 32; s++)
		if (s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE ||
		    s == SIGTRAP || s == SIGABRT || s == SIGSYS)
			mask &= ~(1ULL << (s - 1));
	if (ptrace(PTRACE_SETREGS, c->tid, 0, &r) ||
	    ptrace(PTRACE_SETSIGMASK, c->tid, sizeof(mask), &mask) ||
	    ptrace(PTRACE_CONT, c->tid, 0, 0))
		return fail(c, -errno, "starting %s in thread %d: %s", what,
			    c->tid, strerror(errno));
	for (;;) {
		err = wait_tid(c->tid, &st, CALL_TIMEOUT_MS);
		if (err == -ETIMEDOUT) {
			struct thread t = { .tid = c->tid };

			ptrace(PTRACE_INTERRUPT, c->tid, 0, 0);
			wait_stop(c, &t);
			return fail(c, err, "%s did not return in %d s in process "
				    "%d (a deadlock?); its state may be "
				    "inconsistent now", what,
				    CALL_TIMEOUT_MS / 1000, c->pid);
		}
		if (err || WIFEXITED(st) || WIFSIGNALED(st)) {
			c->hijacked = false;
			return fail(c, -ESRCH, "process %d died during %s",
				    c->pid, what);
		}
		if (!WIFSTOPPED(st))
			continue;
		if (st >> 16 == PTRACE_EVENT_STOP) {
			/* a group stop, or an interrupt of ours left over */
			ptrace(PTRACE_CONT, c->tid, 0, 0);
			continue;
		}
		if (ptrace(PTRACE_GETREGS, c->tid, 0, &r))
			return fail(c, -errno, "PTRACE_GETREGS: %s", strerror(errno));
		if (WSTOPSIG(st) == SIGSEGV && r.rip == 0) {
			*ret = r.rax;
			return 0;
		}
		if (WSTOPSIG(st) == SIGSEGV || WSTOPSIG(st) == SIGBUS ||
		    WSTOPSIG(st) == SIGILL || WSTOPSIG(st) == SIGFPE ||
		    WSTOPSIG(st) == SIGABRT || WSTOPSIG(st) == SIGSYS ||
		    WSTOPSIG(st) == SIGTRAP)
			return fail(c, -EFAULT, "%s crashed in process %d: %s at "
				    "%#llx (the signal was not delivered)", what,
				    c->pid, strsignal(WSTOPSIG(st)), r.rip);
		/* SIGKILL/SIGSTOP cannot be blocked: pass them on */
		ptrace(PTRACE_CONT, c->tid, 0, WSTOPSIG(st));
	}
}

/* A NUL-terminated string of the target (dlerror()'s text). */
static void read_string(struct ctx *c, uint64_t addr, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i + 1 < len; i++) {
		if (peek(c, addr + i, &buf[i], 1)) {
			buf[i] = '\0';
			return;
		}
		if (!buf[i])
			return;
	}
	buf[len - 1] = '\0';
}

#endif /* __x86_64__ */

/* ------------------------------------------------------------ GOT */

/* Point the GOT slots of every object but the library and ld.so at it. */
static int patch_gots(struct ctx *c, const char *const *symbols,
		      const uint64_t *defs, uint64_t lib_bias, uint64_t ldso,
		      struct ml_inject *inj)
{
	struct object *o;
	size_t n, cap = 0;
	int err;

	err = read_objects(c->pid, &o, &n);
	if (err)
		return fail(c, err, "reading /proc/%d/maps: %s", c->pid, strerror(-err));
	for (size_t i = 0; i < n; i++) {
		struct ml_got_ref *refs;
		size_t nr;
		uint64_t bias;
		int fd, patched = 0;
		Elf *elf;

		if (!o[i].exec || !o[i].map0 || in_object(&o[i], ldso))
			continue;
		fd = open_object(c->pid, &o[i]);
		if (fd < 0)
			continue;
		elf = elf_from_fd(fd);
		if (!elf || load_bias(elf, o[i].map0, &bias) || bias == lib_bias) {
			if (elf)
				elf_end(elf);
			close(fd);
			continue;
		}
		scan_got_elf(elf, symbols, &refs, &nr);
		elf_end(elf);
		close(fd);
		for (size_t j = 0; j < nr; j++) {
			uint64_t slot = bias + refs[j].offset, old, new = defs[refs[j].sym];

			/* a file that does not match its mapping: leave it */
			if (!new || slot < o[i].lo || slot + 8 > o[i].hi ||
			    peek(c, slot, &old, sizeof(old)) || old == new)
				continue;
			err = poke(c, slot, &new, sizeof(new));
			if (err) {
				free(refs);
				free_objects(o, n);
				return fail(c, err, "writing the GOT of %s in "
					    "process %d: %s", o[i].path, c->pid,
					    strerror(-err));
			}
			if (inj->nr_patches == cap) {
				cap = cap ? 2 * cap : 32;
				inj->patches = xrealloc(inj->patches,
							cap * sizeof(*inj->patches));
			}
			inj->patches[inj->nr_patches++] = (struct ml_inject_patch) {
				.slot = slot, .old = old, .new = new,
				.sym = refs[j].sym,
			};
			patched = 1;
		}
		inj->nr_objects += patched;
		free(refs);
	}
	free_objects(o, n);
	return 0;
}

/* ------------------------------------------------------------ the API */

/* Checks that need no ptrace: clear messages before touching the target. */
static int precheck(struct ctx *c, const char *so_path)
{
	char path[4200];
	struct stat ours, theirs;

	if (so_path[0] != '/')
		return fail(c, -EINVAL, "%s: the library path must be absolute",
			    so_path);
	snprintf(path, sizeof(path), "/proc/%d", c->pid);
	if (c->pid <= 0 || access(path, F_OK))
		return fail(c, -ESRCH, "no process %d", c->pid);
	if (c->pid == getpid())
		return fail(c, -EPERM, "cannot inject into memleak itself");
	if (stat(so_path, &ours))
		return fail(c, -errno, "%s: %s", so_path, strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, so_path);
	if (stat(path, &theirs) || ours.st_dev != theirs.st_dev ||
	    ours.st_ino != theirs.st_ino)
		return fail(c, -ENOENT, "%s is not the same file for process %d "
			    "(another mount namespace?)", so_path, c->pid);
	return 0;
}

/* "statically linked" or "no glibc": why a process has no libc mapped. */
static int no_libc(struct ctx *c)
{
	char path[64];
	bool interp = false;
	int fd;
	Elf *elf;

	snprintf(path, sizeof(path), "/proc/%d/exe", c->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(c, -ESRCH, "process %d is gone (or a kernel thread)",
			    c->pid);
	elf = elf_from_fd(fd);
	if (elf) {
		interp = has_interp(elf);
		elf_end(elf);
	}
	close(fd);
	if (!interp)
		return fail(c, -ENOEXEC, "process %d is statically linked: there "
			    "is no dynamic loader to load a library into it",
			    c->pid);
	return fail(c, -ENOEXEC, "process %d does not use glibc (no libc.so.6 "
		    "mapped): cannot dlopen a library in it", c->pid);
}

int ml_inject_library(pid_t pid, const char *so_path,
		      const char *const *symbols, struct ml_inject *inj,
		      char *err, size_t errlen)
{
	return ml_inject_library_hook(pid, so_path, symbols, NULL, inj, err,
				      errlen);
}

int ml_inject_library_hook(pid_t pid, const char *so_path,
			   const char *const *symbols,
			   struct ml_inject_hook *hook, struct ml_inject *inj,
			   char *err, size_t errlen)
{
#ifdef __x86_64__
	static const char *const libc_names[] = {
		"dlopen", "dlerror", "__errno_location", "__libc_dlopen_mode",
	};
	struct ctx c = { .pid = pid, .memfd = -1, .err = err, .errlen = errlen };
	uint64_t fns[ARRAY_SIZE(libc_names)], dl[2], errno_addr = 0, handle;
	uint64_t call_fn = 0;
	uint64_t ldso_base, *defs = NULL, t0;
	struct object *objs = NULL, *libc, *ldso, *lib;
	size_t nobj = 0;
	int nsym, ret, saved_errno = 0, tries;
	char path[64];

	memset(inj, 0, sizeof(*inj));
	inj->pid = pid;
	inj->syscall = -1;
	if (err && errlen)
		err[0] = '\0';
	for (nsym = 0; symbols[nsym]; nsym++)
		;
	ret = precheck(&c, so_path);
	if (ret)
		return ret;
	ret = read_objects(pid, &objs, &nobj);
	if (ret)
		return fail(&c, -ESRCH, "no process %d", pid);
	libc = find_libc(objs, nobj);
	if (!libc) {
		ret = no_libc(&c);
		goto out;
	}
	if (object_syms(pid, libc, libc_names, ARRAY_SIZE(libc_names), fns)) {
		ret = fail(&c, -ENOEXEC, "cannot read %s of process %d",
			   libc->path, pid);
		goto out;
	}
	/* before glibc 2.34 dlopen was in libdl, if the program used it */
	if (!fns[0]) {
		struct object *libdl = find_by_name(objs, nobj, "libdl.so");
		static const char *const dl_names[] = { "dlopen", "dlerror" };

		if (libdl && !object_syms(pid, libdl, dl_names, 2, dl) && dl[0]) {
			fns[0] = dl[0];
			fns[1] = dl[1];
		} else if (fns[3]) {
			fns[0] = fns[3];	/* glibc's private dlopen */
			fns[1] = 0;
		}
	}
	if (!fns[0]) {
		ret = fail(&c, -ENOENT, "no dlopen in %s of process %d (a glibc "
			   "older than 2.34 without libdl loaded?)", libc->path, pid);
		goto out;
	}
	ldso_base = ml_proc_auxv(pid, AT_BASE);
	ldso = find_addr(objs, nobj, ldso_base);
	lib = find_file(objs, nobj, so_path);

	t0 = ml_now_ns();
	ret = stop_all(&c);
	if (ret)
		goto detach;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	c.memfd = open(path, O_RDWR | O_CLOEXEC);
	if (c.memfd < 0) {
		ret = fail(&c, -errno, "%s: %s", path, strerror(errno));
		goto detach;
	}
	for (tries = 0;; tries++) {
		for (size_t i = 0; i < c.nr_threads && !c.tid; i++)
			if (c.threads[i].state == T_STOPPED &&
			    safe_point(&c, c.threads[i].tid, libc, ldso, lib))
				c.tid = c.threads[i].tid;
		if (c.tid)
			break;
		if (tries == SAFE_POINT_TRIES) {
			ret = fail(&c, -EAGAIN, "no thread of process %d stopped "
				   "outside libc and ld.so in %d tries (always "
				   "allocating?)", pid, tries);
			goto detach;
		}
		resume_all(&c, 0);
		sleep_us(1000);
		ret = stop_all(&c);
		if (ret)
			goto detach;
	}
	ml_debug("inject: %zu threads stopped in %llu us, %d rounds to a safe "
		 "point", nr_stopped(&c), (ml_now_ns() - t0) / 1000ULL, tries);
	ret = save_thread(&c);
	if (ret)
		goto detach;
	inj->tid = c.tid;
	inj->syscall = c.regs.orig_rax;

	/* errno first: a trivial function, the other threads may stay put */
	if (fns[2]) {
		ret = remote_call(&c, "__errno_location()", fns[2], 0, 0, NULL,
				  &errno_addr);
		if (ret)
			goto restore;
		if (peek(&c, errno_addr, &saved_errno, sizeof(saved_errno)))
			errno_addr = 0;
	}
	resume_all(&c, c.tid);
	t0 = ml_now_ns();
	ret = remote_call(&c, "dlopen()", fns[0], 0, RTLD_NOW, so_path, &handle);
	if (!ret && !handle) {
		char msg[512] = "";
		uint64_t s = 0;

		if (fns[1] && !remote_call(&c, "dlerror()", fns[1], 0, 0, NULL, &s) && s)
			read_string(&c, s, msg, sizeof(msg));
		ret = fail(&c, -ENOEXEC, "dlopen(\"%s\") in process %d failed: %s",
			   so_path, pid, msg[0] ? msg : "no reason given");
	}
	if (ret) {
		stop_known(&c);
		goto restore;
	}
	ml_debug("inject: dlopen() returned %#llx in %llu us",
		 (unsigned long long)handle, (ml_now_ns() - t0) / 1000ULL);
	ret = stop_all(&c);
	if (ret)
		goto restore;
	inj->handle = handle;
	inj->nr_threads = nr_stopped(&c);
	/* link_map.l_addr: the load bias (a dlopen handle is its link_map) */
	if (peek(&c, handle, &inj->bias, sizeof(inj->bias))) {
		ret = fail(&c, -EIO, "reading the link map of %s in process %d",
			   so_path, pid);
		goto restore;
	}

	/* the library's definitions, from our view of the same file */
	{
		uint64_t bias;
		int fd = open(so_path, O_RDONLY | O_CLOEXEC);
		Elf *elf = fd >= 0 ? elf_from_fd(fd) : NULL;

		defs = xcalloc(nsym + 1, sizeof(*defs));
		if (elf) {
			dynsym_values(elf, symbols, nsym, defs);
			if (hook && hook->call)
				dynsym_values(elf, &hook->call, 1, &call_fn);
			bias = inj->bias;
			for (int i = 0; i < nsym; i++) {
				if (defs[i])
					defs[i] += bias;
				else
					inj->missing++;
			}
			elf_end(elf);
		}
		if (fd >= 0)
			close(fd);
		if (inj->missing == nsym) {
			ret = fail(&c, -ENOENT, "%s defines none of the symbols "
				   "to redirect", so_path);
			goto restore;
		}
	}
	if (hook && hook->configure) {
		ret = hook->configure(pid, inj->bias, hook->arg);
		if (ret) {
			fail(&c, ret, "cannot configure %s in process %d: %s",
			     so_path, pid, strerror(-ret));
			goto restore;
		}
	}
	if (hook && hook->call) {
		if (!call_fn) {
			ret = fail(&c, -ENOENT, "%s has no function %s", so_path,
				   hook->call);
			goto restore;
		}
		ret = remote_call(&c, hook->call, inj->bias + call_fn, 0, 0, NULL,
				  &hook->call_ret);
		if (ret)
			goto restore;
	}
	t0 = ml_now_ns();
	ret = patch_gots(&c, symbols, defs, inj->bias, ldso_base, inj);
	ml_debug("inject: %zu GOT slots of %u objects patched in %llu us",
		 inj->nr_patches, inj->nr_objects, (ml_now_ns() - t0) / 1000ULL);
	/* all or nothing: a caller with an error has nothing to undo */
	for (size_t i = 0; ret && i < inj->nr_patches; i++)
		poke(&c, inj->patches[i].slot, &inj->patches[i].old, 8);

restore:
	if (errno_addr)
		poke(&c, errno_addr, &saved_errno, sizeof(saved_errno));
	{
		int r = restore_thread(&c);

		if (!ret)
			ret = r;
	}
detach:
	detach_all(&c);
	if (c.memfd >= 0)
		close(c.memfd);
	free(c.xstate);
	free(defs);
out:
	free_objects(objs, nobj);
	if (ret)
		ml_inject_release(inj);
	return ret;
#else
	snprintf(err, errlen, "injecting a library is only implemented on x86_64");
	return -EOPNOTSUPP;
#endif
}

int ml_inject_undo(struct ml_inject *inj, char *err, size_t errlen)
{
	struct ctx c = { .pid = inj->pid, .memfd = -1, .err = err, .errlen = errlen };
	char path[64];
	int ret;

	if (!inj->nr_patches)
		return 0;
	if (err && errlen)
		err[0] = '\0';
	if (!ml_pid_alive(inj->pid))
		goto done;		/* nothing left to undo */
	ret = stop_all(&c);
	if (ret == -ESRCH) {
		detach_all(&c);
		goto done;
	}
	if (ret)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/mem", inj->pid);
	c.memfd = open(path, O_RDWR | O_CLOEXEC);
	if (c.memfd < 0) {
		ret = fail(&c, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < inj->nr_patches; i++) {
		struct ml_inject_patch *p = &inj->patches[i];
		uint64_t cur;

		/* changed since (the object unmapped, another tool): leave it */
		if (peek(&c, p->slot, &cur, sizeof(cur)) || cur != p->new)
			continue;
		ret = poke(&c, p->slot, &p->old, sizeof(p->old));
		if (ret) {
			fail(&c, ret, "restoring a GOT slot of process %d: %s",
			     inj->pid, strerror(-ret));
			goto out;
		}
	}
	ret = 0;
out:
	detach_all(&c);
	if (c.memfd >= 0)
		close(c.memfd);
	if (ret)
		return ret;
done:
	free(inj->patches);
	inj->patches = NULL;
	inj->nr_patches = 0;
	return 0;
}

void ml_inject_release(struct ml_inject *inj)
{
	free(inj->patches);
	inj->patches = NULL;
	inj->nr_patches = 0;
}
