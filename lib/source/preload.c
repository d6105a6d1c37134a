// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: the preload library (preload/memleak-preload.c) that
 * memleak -c puts in the command's LD_PRELOAD.  A uprobe on its
 * ml_preload_flush() runs bpf/preload.bpf.c once per batch of events.
 *
 * Before each read of the tracker the library is asked to hand over what
 * its threads hold: memleak raises flush_req in its control block
 * (ml_preload_control) with process_vm_writev and waits until the
 * library's flusher thread says flush_done, so no block freed before the
 * report shows as a leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "source/source.h"
#include "source/bpfobj.h"
#include "source/elfsym.h"
#include "options/options.h"
#include "unwind/unwind.h"
#include "util/util.h"
#include "preload.skel.h"

#define FLUSH_TIMEOUT_MS	2000

struct preload_priv {
	struct preload_bpf *skel;
	struct bpf_link *link;
	char *lib;
	pid_t pid;
	uint64_t ctl_off;	/* file offset of ml_preload_control */
	uint64_t ctl_addr;	/* its address in the target, 0: not found yet */
	bool warned;
};

char *ml_preload_find_lib(void)
{
	const char *env = getenv("MEMLEAK_PRELOAD_LIB");
	char exe[PATH_MAX], *dir, *path;
	ssize_t n;

	if (env && *env)
		return access(env, R_OK) == 0 ? realpath(env, NULL) : NULL;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	dir = dirname(exe);
	/* the build tree, then an installation (PREFIX/bin -> PREFIX/lib/memleak) */
	path = xasprintf("%s/build/%s", dir, ML_PL_LIB);
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	path = xasprintf("%s/../lib/memleak/%s", dir, ML_PL_LIB);
	if (access(path, R_OK) == 0) {
		char *real = realpath(path, NULL);

		free(path);
		return real;
	}
	free(path);
	return NULL;
}

/* A file whose code only .debug_frame describes: stop the walk there. */
static int debug_frame_visit(const char *file, void *arg)
{
	const char **found = arg;

	if (!ml_unwind_debug_frame_only(file))
		return 0;
	*found = xstrdup(file);
	return -1;
}

const char *ml_preload_unusable(const char *prog, bool stacks)
{
	static char why[PATH_MAX + 128];
	const char *file = NULL;
	struct stat st;
	GElf_Ehdr eh;
	bool interp = false;
	Elf *elf;
	size_t n;
	int fd;

	if (stat(prog, &st))
		return NULL;	/* execve will say */
	if (st.st_mode & (S_ISUID | S_ISGID))
		return "it is setuid or setgid (the loader ignores LD_PRELOAD)";
	elf_version(EV_CURRENT);
	fd = open(prog, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &n)) {
		/* a script: its interpreter is dynamic or not, we cannot tell */
		if (elf)
			elf_end(elf);
		close(fd);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP)
			interp = true;
	}
	elf_end(elf);
	close(fd);
	if (!interp)
		return "it is statically linked";
	/*
	 * The library unwinds with libgcc, which reads .eh_frame only; code
	 * built with -fno-asynchronous-unwind-tables has its frames in
	 * .debug_frame, which the BPF unwinder of libc uprobes follows.
	 */
	if (!stacks || !ml_program_files(prog, debug_frame_visit, &file))
		return NULL;
	if (!strcmp(file, prog))
		snprintf(why, sizeof(why), "%s", "some of its code has unwind "
			 "information in .debug_frame only (the library's "
			 "unwinder reads .eh_frame)");
	else
		snprintf(why, sizeof(why), "%s, which it loads, has unwind "
			 "information in .debug_frame only (the library's "
			 "unwinder reads .eh_frame)", file);
	free((char *)file);
	return why;
}

int ml_preload_set_config(pid_t pid, const char *lib, uint64_t bias,
			  uint32_t flags, uint64_t sample_bytes)
{
	struct ml_elf_func sym = { .name = ML_PL_CONTROL_SYM };
	struct iovec local[2] = { { &sample_bytes, sizeof(sample_bytes) },
				  { &flags, sizeof(flags) } }, remote[2];
	uint64_t ctl;
	const char *why;
	ssize_t n;

	if (ml_elf_find_funcs(lib, &sym, 1, &why) || !sym.vaddr)
		return -ENOENT;
	ctl = bias + sym.vaddr;
	remote[0] = (struct iovec){ (void *)(ctl + offsetof(struct ml_pl_control,
							   sample_bytes)),
				    sizeof(sample_bytes) };
	remote[1] = (struct iovec){ (void *)(ctl + offsetof(struct ml_pl_control,
							   flags)),
				    sizeof(flags) };
	n = process_vm_writev(pid, local, 2, remote, 2, 0);
	if (n < 0)
		return -errno;
	return n == sizeof(sample_bytes) + sizeof(flags) ? 0 : -EIO;
}

static int preload_open(struct ml_source *src, const struct ml_source_config *cfg)
{
	struct preload_priv *p = xcalloc(1, sizeof(*p));
	struct preload_bpf *skel;
	struct ml_elf_func sym[2] = { { .name = ML_PL_FLUSH_SYM },
				      { .name = ML_PL_CONTROL_SYM } };
	const char *why;
	uint32_t stacks, max;
	int err;

	src->priv = p;
	p->pid = cfg->pid;
	p->lib = xstrdup(cfg->preload_lib);
	if (ml_elf_find_funcs(p->lib, sym, 2, &why) || !sym[0].offset ||
	    !sym[1].offset) {
		ml_err("%s is not memleak's preload library (no %s/%s)", p->lib,
		       ML_PL_FLUSH_SYM, ML_PL_CONTROL_SYM);
		return -ENOENT;
	}
	p->ctl_off = sym[1].offset;

	skel = p->skel = preload_bpf__open();
	if (!skel) {
		ml_err("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->targ_tgid = cfg->pid;
	skel->rodata->min_size = cfg->min_size;
	skel->rodata->max_size = cfg->max_size;
	skel->rodata->sample_rate = cfg->sample_rate ? cfg->sample_rate : 1;
	skel->rodata->trace_events = cfg->trace;
	skel->rodata->collect_stacks = cfg->call_graph != ML_CG_NONE;
	skel->rodata->keep_combined = cfg->combined;
	max = cfg->max_allocs ? cfg->max_allocs : ML_ALLOCS_DEFAULT;
	bpf_map__set_max_entries(skel->maps.allocs, max);
	/* freed blocks kept for their address's next allocation: 1/16 of them */
	skel->rodata->dead_max = max / 16 < ML_PL_DEAD_MAX ? max / 16 : ML_PL_DEAD_MAX;
	/* Stacks arrive as frames: the unwinder's store, not its tables. */
	stacks = cfg->stack_map_size ? cfg->stack_map_size : ML_STACK_MAP_DEFAULT;
	skel->rodata->unwind_max_stacks = stacks;
	bpf_map__set_max_entries(skel->maps.unwind_stacks, stacks);
	bpf_map__set_max_entries(skel->maps.unwind_ids, stacks);
	bpf_map__set_max_entries(skel->maps.stack_traces, 1);
	/* Per-stack totals: one per stack, and the few negative ids. */
	bpf_map__set_max_entries(skel->maps.combined, cfg->combined ? stacks + 64 : 1);
	if (!cfg->trace)
		bpf_map__set_max_entries(skel->maps.events, 4096);
	err = preload_bpf__load(skel);
	if (err) {
		ml_err("cannot load BPF programs: %s (is BPF allowed here? are you root?)",
		       strerror(-err));
		return err;
	}
	src->tracker.allocs_fd = bpf_map__fd(skel->maps.allocs);
	src->tracker.stacks_fd = bpf_map__fd(skel->maps.unwind_stacks);
	src->tracker.combined_fd = bpf_map__fd(skel->maps.combined);
	src->tracker.counters_fd = bpf_map__fd(skel->maps.counters);
	src->tracker.events_fd = bpf_map__fd(skel->maps.events);
	src->tracker.cache_names_fd = -1;
	return 0;
}

static int preload_attach(struct ml_source *src)
{
	struct preload_priv *p = src->priv;
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = ML_PL_FLUSH_SYM);

	p->link = bpf_program__attach_uprobe_opts(p->skel->progs.preload_flush,
						  p->pid, p->lib, 0, &opts);
	if (!p->link) {
		int err = -errno;

		ml_err("cannot attach a uprobe to %s in %s: %s", ML_PL_FLUSH_SYM,
		       p->lib, strerror(-err));
		return err;
	}
	return 0;
}

/* Where the target mapped the control block (its file offset). */
static uint64_t find_control(struct preload_priv *p)
{
	char path[64], line[4096];
	struct stat want;
	FILE *f;
	uint64_t addr = 0;

	if (stat(p->lib, &want))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!addr && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;

		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off,
			   &maj, &min, &ino) != 6 || ino != want.st_ino)
			continue;
		if (p->ctl_off >= off && p->ctl_off < off + (end - start))
			addr = start + (p->ctl_off - off);
	}
	fclose(f);
	return addr;
}

static int ctl_read(struct preload_priv *p, struct ml_pl_control *c)
{
	struct iovec local = { c, sizeof(*c) }, remote = { (void *)p->ctl_addr, sizeof(*c) };

	return process_vm_readv(p->pid, &local, 1, &remote, 1, 0) == sizeof(*c) ? 0 : -errno;
}

static int ctl_write_req(struct preload_priv *p, uint64_t req)
{
	struct iovec local = { &req, sizeof(req) },
		     remote = { (void *)(p->ctl_addr +
					 offsetof(struct ml_pl_control, flush_req)),
				sizeof(req) };

	return process_vm_writev(p->pid, &local, 1, &remote, 1, 0) == sizeof(req) ? 0 : -errno;
}

/*
 * Ask the library to flush every thread and wait until it did.  A target
 * that is gone or has not loaded the library yet has nothing held back.
 */
/*
 * A process memleak holds at its exit (a -c command, ptrace stop) or a
 * zombie cannot serve a flush request: its threads flushed on the way out,
 * or what they held is counted as lost at the exit.  (A process stopped by
 * SIGSTOP is waited for, and the report says it did not flush.)
 */
static bool stopped(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;	/* gone: nothing to wait for */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold anything */
	return !p || p[1] != ' ' || strchr("tZX", p[2]);
}

static void preload_sync(struct ml_source *src)
{
	struct preload_priv *p = src->priv;
	struct ml_pl_control c;
	uint64_t start = ml_now_ns(), req;

	if (!p || !p->pid || stopped(p->pid))
		return;
	/* found again each time: the command may have exec()ed since */
	p->ctl_addr = find_control(p);
	if (!p->ctl_addr || ctl_read(p, &c) || c.magic != ML_PL_MAGIC)
		return;
	req = c.flush_req + 1;
	if (ctl_write_req(p, req))
		return;
	for (;;) {
		struct timespec ts = { .tv_nsec = 2000000 };

		if (ctl_read(p, &c))
			return;		/* gone meanwhile */
		if (c.flush_done >= req)
			return;
		if (ml_now_ns() - start > FLUSH_TIMEOUT_MS * 1000000ULL)
			break;
		nanosleep(&ts, NULL);
	}
	if (!p->warned)
		ml_warn("process %d did not flush its preload library's events within "
			"%d ms (stopped?): the report may miss its latest allocations "
			"and frees", p->pid, FLUSH_TIMEOUT_MS);
	p->warned = true;
}

/* Events of the batch at @addr that would have reached BPF (not cancelled). */
static uint64_t live_events(struct preload_priv *p, uint64_t addr,
			    const struct ml_pl_batch *b)
{
	struct ml_pl_event ev[ML_PL_EVENTS];
	uint32_t n = b->nr_events < ML_PL_EVENTS ? b->nr_events : ML_PL_EVENTS;
	struct iovec local = { ev, n * sizeof(ev[0]) },
		     remote = { (void *)(addr + b->events_off), n * sizeof(ev[0]) };
	uint64_t live = 0;

	if (process_vm_readv(p->pid, &local, 1, &remote, 1, 0) !=
	    (ssize_t)(n * sizeof(ev[0])))
		return n;
	for (uint32_t i = 0; i < n; i++)
		live += ev[i].kind != ML_PL_NONE;
	return live;
}

/*
 * The target is exiting: after a fatal signal, what its batches still hold
 * never reaches BPF (exit() and _exit() flush them).  Count it from the
 * batch list in the control block.  (Not after a plain exit: the thread we
 * watch may leave alone, pthread_exit(), while the others go on.)
 */
static void preload_exiting(struct ml_source *src, int status)
{
	struct preload_priv *p = src->priv;
	struct ml_pl_control c;
	uint64_t lost = 0, addr;
	int threads = 0;

	if (!p || !p->pid || !WIFSIGNALED(status))
		return;
	p->ctl_addr = find_control(p);
	if (!p->ctl_addr || ctl_read(p, &c) || c.magic != ML_PL_MAGIC ||
	    c.version != ML_PL_VERSION)
		return;
	for (addr = c.batches; addr && threads < 100000; threads++) {
		struct ml_pl_batch b;
		struct iovec local = { &b, sizeof(b) }, remote = { (void *)addr, sizeof(b) };

		if (process_vm_readv(p->pid, &local, 1, &remote, 1, 0) != sizeof(b) ||
		    b.magic != ML_PL_MAGIC)
			break;
		lost += live_events(p, addr, &b);
		addr = b.next;
	}
	if (lost)
		ml_warn("lost: %llu allocator events of process %d, killed by "
			"signal %d, still in its preload library's batches: its "
			"last frees and allocations are missing",
			(unsigned long long)lost, p->pid, WTERMSIG(status));
}

static uint64_t preload_prog_misses(struct ml_source *src)
{
	struct preload_priv *p = src->priv;

	return p && p->skel ? ml_bpf_misses(p->skel->obj) : 0;
}

static void preload_close(struct ml_source *src)
{
	struct preload_priv *p = src->priv;

	if (!p)
		return;
	bpf_link__destroy(p->link);
	preload_bpf__destroy(p->skel);
	free(p->lib);
	free(p);
	src->priv = NULL;
}

const struct ml_source_ops ml_preload_source = {
	.name = "preload",
	.open = preload_open,
	.attach = preload_attach,
	.sync = preload_sync,
	.exiting = preload_exiting,
	.prog_misses = preload_prog_misses,
	.close = preload_close,
};
