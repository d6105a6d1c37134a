// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: uprobes on the allocator functions of libc (or of the
 * object given with -O), created as tracefs events in this session's
 * system so trace-cmd and perf can see them, with the BPF programs of
 * bpf/uprobe.bpf.c attached through per-process perf events.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "source/source.h"
#include "source/bpfobj.h"
#include "options/options.h"
#include "source/elfsym.h"
#include "source/probesite.h"
#include "source/tracefs.h"
#include "unwind/unwind.h"
#include "util/util.h"
#include "uprobe.skel.h"

struct probe_def {
	enum ml_func func;
	const char *name;	/* symbol, before --symbols-prefix */
	const char *enter_prog, *exit_prog;
	const char *enter_args, *exit_args;	/* tracefs fetch args (x86-64) */
	bool libc_only;		/* not an allocator entry: only in libc */
};

#define RET_PTR "ret=$retval:x64"

/*
 * An allocator with entry and return probes, or (@out NULL) entry only.
 * Every allocator returns to one program, alloc_exit, which tells them
 * apart by the cookie of its attachment: the function.
 */
#define PROBE(fn, sym, in, out, libc)					\
	{ .func = fn, .name = #sym, .enter_prog = #sym "_enter",	\
	  .exit_prog = out ? "alloc_exit" : NULL, .enter_args = in,	\
	  .exit_args = out, .libc_only = libc }

static const struct probe_def probes[] = {
	PROBE(ML_MALLOC, malloc, "size=%di:u64", RET_PTR, false),
	PROBE(ML_CALLOC, calloc, "nmemb=%di:u64 size=%si:u64", RET_PTR, false),
	PROBE(ML_REALLOC, realloc, "ptr=%di:x64 size=%si:u64", RET_PTR, false),
	PROBE(ML_REALLOCARRAY, reallocarray,
	      "ptr=%di:x64 nmemb=%si:u64 size=%dx:u64", RET_PTR, false),
	PROBE(ML_FREE, free, "ptr=%di:x64", NULL, false),
	PROBE(ML_POSIX_MEMALIGN, posix_memalign,
	      "memptr=%di:x64 align=%si:u64 size=%dx:u64", "ret=$retval:s32", false),
	PROBE(ML_ALIGNED_ALLOC, aligned_alloc, "align=%di:u64 size=%si:u64",
	      RET_PTR, false),
	PROBE(ML_MEMALIGN, memalign, "align=%di:u64 size=%si:u64", RET_PTR, false),
	PROBE(ML_VALLOC, valloc, "size=%di:u64", RET_PTR, false),
	PROBE(ML_PVALLOC, pvalloc, "size=%di:u64", RET_PTR, false),
	PROBE(ML_MMAP, mmap, "addr=%di:x64 len=%si:u64 prot=%dx:x32 flags=%cx:x32",
	      RET_PTR, true),
	PROBE(ML_MUNMAP, munmap, "addr=%di:x64 len=%si:u64", NULL, true),
	PROBE(ML_MREMAP, mremap,
	      "old=%di:x64 old_size=%si:u64 new_size=%dx:u64 flags=%cx:x32",
	      RET_PTR, true),
	/* Not an allocator: its thread-stack mmaps are libc's own. */
	{ .func = ML_PTHREAD_CREATE, .name = "pthread_create",
	  .enter_prog = "pthread_create_enter", .exit_prog = "pthread_create_exit",
	  .exit_args = "", .libc_only = true },
};

struct uprobe_priv {
	struct uprobe_bpf *skel;
	char *obj;			/* the object probed */
	char *libc;			/* libc, when -O named another object */
	pid_t pid;
	struct {
		const char *prog;
		uint64_t cookie;	/* the function (enum ml_func) */
		const char *event;
		const char *file;	/* p->obj or p->libc */
		uint64_t offset;	/* in file */
		int id;
	} events[2 * ARRAY_SIZE(probes)];
	int nr_events;
	struct bpf_link *links[2 * ARRAY_SIZE(probes)];
	int nr_links;
	struct ml_unwinder *unwinder;	/* --call-graph dwarf: tables */
};

/* Find a mapped file of @pid whose basename starts with @prefix. */
static char *mapped_object(pid_t pid, const char *prefix)
{
	char path[64], line[4096], *found = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/'), *base;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		base = strrchr(file, '/') + 1;
		if (!strncmp(base, prefix, strlen(prefix)))
			found = xstrdup(file);
	}
	fclose(f);
	return found;
}

/*
 * The file to probe: OBJ as a path, or a library of that name mapped by the
 * target (or by memleak itself, for -c before the command has started).
 */
static char *resolve_object(pid_t pid, const char *obj)
{
	char *path, *lib;

	if (strchr(obj, '/'))
		return access(obj, R_OK) == 0 ? realpath(obj, NULL) : NULL;
	path = mapped_object(pid, obj);
	if (!path && strncmp(obj, "lib", 3)) {
		lib = xasprintf("lib%s", obj);
		path = mapped_object(pid, lib);
		free(lib);
	}
	if (!path)
		path = mapped_object(getpid(), obj);
	return path;
}

/* libc of the target; for a target not yet started, the one we run on. */
static char *find_libc(pid_t pid)
{
	char *p = mapped_object(pid, "libc.so");

	if (!p)
		p = mapped_object(pid, "libc-");
	if (!p)
		p = mapped_object(getpid(), "libc.so");
	return p;
}

static int perf_event_open_tp(int id, pid_t pid)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = id,
		.sample_period = 1,
		.wakeup_events = 1,
	};

	return syscall(__NR_perf_event_open, &attr, pid, -1, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

static void explain_attach_error(const char *event, const char *obj, int err)
{
	if (err == -EINVAL)
		ml_err("cannot enable uprobe %s in %s: %s; another tool holds a "
		       "uprobe at the same address with a different reference "
		       "counter (ref_ctr_offset), e.g. a bcc tool still running, "
		       "and the kernel log does not say which: stop it and retry",
		       event, obj, strerror(-err));
	else if (err == -ESRCH)
		ml_err("cannot enable uprobe %s: the target process is gone", event);
	else
		ml_err("cannot enable uprobe %s in %s: %s", event, obj,
		       strerror(-err));
}

static int add_probe(struct uprobe_priv *p, const struct probe_def *d,
		     const char *obj, uint64_t offset, bool ret)
{
	const char *prog = ret ? d->exit_prog : d->enter_prog;
	const char *event = ret ? xasprintf("%s__return", d->name) : d->name;

	const char *args = ret ? d->exit_args : d->enter_args;
	int id;

#ifndef __x86_64__
	args = NULL;	/* the fetch arguments name x86-64 registers */
#endif
	id = ml_tracefs_add_uprobe(event, ret, obj, offset,
				   args && *args ? args : NULL, false);
	/*
	 * The same event again, idle until trace-cmd enables it, so the
	 * session's calls can be recorded with ftrace while BPF uses ours.
	 */
	if (id > 0 && ml_tracefs_add_uprobe(event, ret, obj, offset,
					    args && *args ? args : NULL, true) < 0)
		ml_debug("no twin event %s/%s for trace-cmd", ml_tracefs_trace_system(),
			 event);
	if (id < 0) {
		ml_err("cannot create uprobe event %s/%s on %s+0x%llx: %s",
		       ml_tracefs_system(), event, obj,
		       (unsigned long long)offset, strerror(-id));
		return id;
	}
	p->events[p->nr_events].prog = prog;
	p->events[p->nr_events].cookie = d->func;
	p->events[p->nr_events].event = event;
	p->events[p->nr_events].id = id;
	p->events[p->nr_events].file = obj;
	p->events[p->nr_events].offset = offset;
	p->nr_events++;
	return 0;
}

/* --call-graph dwarf, and the default: complete stacks without frame pointers. */
static bool use_dwarf(const struct ml_source_config *cfg)
{
	return cfg->call_graph == ML_CG_DEFAULT || cfg->call_graph == ML_CG_DWARF;
}

static void set_config(struct uprobe_bpf *skel, const struct ml_source_config *cfg)
{
	uint32_t stacks;

	skel->rodata->targ_tgid = cfg->pid;
	skel->rodata->min_size = cfg->min_size;
	skel->rodata->max_size = cfg->max_size;
	skel->rodata->sample_rate = cfg->sample_rate ? cfg->sample_rate : 1;
	skel->rodata->trace_events = cfg->trace;
	skel->rodata->stack_flags = BPF_F_USER_STACK;
	skel->rodata->collect_stacks = cfg->call_graph != ML_CG_NONE;
	skel->rodata->keep_combined = cfg->combined;
	/* Not preallocated: a block costs memory while it is outstanding. */
	bpf_map__set_max_entries(skel->maps.allocs, cfg->max_allocs ?
				 cfg->max_allocs : ML_ALLOCS_DEFAULT);
	stacks = cfg->stack_map_size ? cfg->stack_map_size : ML_STACK_MAP_DEFAULT;
	/*
	 * Stacks, unwound (bpf/unwind.bpf.h) or walked along frame pointers,
	 * are stored by the hash of their frames under sequential ids: none
	 * lost until @stacks distinct ones are held.
	 */
	bpf_map__set_max_entries(skel->maps.stack_traces, 1);
	if (cfg->call_graph != ML_CG_NONE) {
		skel->rodata->unwind_max_stacks = stacks;
		bpf_map__set_max_entries(skel->maps.unwind_stacks, stacks);
		bpf_map__set_max_entries(skel->maps.unwind_ids, stacks);
	}
	if (use_dwarf(cfg)) {
		/* User stacks unwound with unwind tables. */
		skel->rodata->dwarf_unwind = true;
		bpf_map__set_max_entries(skel->maps.unwind_rows,
					 ML_UNWIND_ROWS_DEFAULT);
	} else {
		skel->rodata->fp_user_stacks = true;
	}
	/*
	 * Per-stack totals: one per stack the stack map can hold, and the
	 * few negative ids of stacks not collected or lost.
	 */
	bpf_map__set_max_entries(skel->maps.combined, cfg->combined ? stacks + 64 : 1);
	if (!cfg->trace)
		bpf_map__set_max_entries(skel->maps.events, 4096);
}

enum probe_set {
	PROBE_ALLOCATORS = 1,	/* the malloc family */
	PROBE_LIBC = 2,		/* mmap & co.: always libc's */
	PROBE_ALL = 3,
};

/*
 * The entry probe (and the uretprobe with it) goes on the first
 * instruction the kernel emulates, if the ones before it change nothing
 * the programs read: a probe on an instruction that must be single-stepped
 * costs a second trap (glibc's free starts with test %rdi,%rdi: 11 us a
 * call instead of 0.6 us in a VM, Documentation/performance.md).  The
 * arguments, the stack pointer and the return address are still the
 * entry's there.
 */
static uint64_t probe_site(const char *obj, const struct ml_elf_func *f)
{
#ifdef __x86_64__
	uint64_t site = ml_probe_site_file(obj, f->offset, f->vaddr, f->size);

	if (site != f->offset)
		ml_debug("%s: probed at +0x%llx, an instruction the kernel emulates",
			 f->name, (unsigned long long)(site - f->offset));
	return site;
#else
	return f->offset;
#endif
}

/* Resolve symbols in @obj and create the tracefs events for them. */
static int create_events(struct uprobe_priv *p, const char *obj,
			 const char *prefix, enum probe_set set)
{
	struct ml_elf_func funcs[ARRAY_SIZE(probes)];
	char *names[ARRAY_SIZE(probes)] = {};
	const struct probe_def *defs[ARRAY_SIZE(probes)];
	const char *why;
	int n = 0, err;

	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		const struct probe_def *d = &probes[i];

		if (!(set & (d->libc_only ? PROBE_LIBC : PROBE_ALLOCATORS)))
			continue;
		names[n] = prefix && !d->libc_only ?
			xasprintf("%s%s", prefix, d->name) : xstrdup(d->name);
		funcs[n].name = names[n];
		defs[n++] = d;
	}
	err = ml_elf_find_funcs(obj, funcs, n, &why);
	if (err) {
		ml_err("cannot read symbols of %s: %s", obj, why);
		goto out;
	}
	for (int i = 0; i < n && !err; i++) {
		uint64_t site;
		bool dup = false;

		if (funcs[i].ifunc) {
			ml_note("%s in %s is an indirect function: not probed",
				funcs[i].name, obj);
			continue;
		}
		if (!funcs[i].offset) {
			ml_note("%s has no symbol %s: not probed", obj, funcs[i].name);
			continue;
		}
		/* glibc's memalign and aligned_alloc are one function. */
		for (int j = 0; j < i; j++)
			if (funcs[j].offset == funcs[i].offset)
				dup = true;
		if (dup) {
			ml_debug("%s shares its address with another allocator: probed once",
				 funcs[i].name);
			continue;
		}
		site = probe_site(obj, &funcs[i]);
		err = add_probe(p, defs[i], obj, site, false);
		if (!err && defs[i]->exit_prog)
			err = add_probe(p, defs[i], obj, site, true);
	}
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	return err;
}

static bool has_func(const char *obj, const char *name)
{
	struct ml_elf_func f = { .name = name };
	const char *why;

	return ml_elf_find_funcs(obj, &f, 1, &why) == 0 && f.offset;
}

static int uprobe_open(struct ml_source *src, const struct ml_source_config *cfg)
{
	struct uprobe_priv *p = xcalloc(1, sizeof(*p));
	int err;

	src->priv = p;
	p->pid = cfg->pid;
	if (cfg->obj) {
		p->obj = resolve_object(cfg->pid, cfg->obj);
		if (!p->obj) {
			ml_err("cannot find object '%s' (give a path, or a library the target maps)",
			       cfg->obj);
			return -ENOENT;
		}
	} else {
		p->obj = find_libc(cfg->pid);
		if (!p->obj) {
			ml_err("cannot find libc mapped in process %d", cfg->pid);
			return -ENOENT;
		}
	}

	err = ml_tracefs_ready();
	if (err) {
		ml_err("cannot mount tracefs at /sys/kernel/tracing: %s", strerror(-err));
		return err;
	}

	p->skel = uprobe_bpf__open();
	if (!p->skel) {
		ml_err("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	set_config(p->skel, cfg);
	err = uprobe_bpf__load(p->skel);
	if (err) {
		ml_err("cannot load BPF programs: %s (is BPF allowed here? are you root?)",
		       strerror(-err));
		return err;
	}
	src->tracker.allocs_fd = bpf_map__fd(p->skel->maps.allocs);
	src->tracker.stacks_fd = bpf_map__fd(p->skel->maps.unwind_stacks);
	if (use_dwarf(cfg)) {
		/* Tables for what the target maps, or will map once exec'd. */
		p->unwinder = ml_unwinder_new(bpf_map__fd(p->skel->maps.unwind_rows),
					      bpf_map__fd(p->skel->maps.unwind_modules),
					      ML_UNWIND_ROWS_DEFAULT);
		ml_unwinder_set_vmas(p->unwinder,
				     bpf_map__fd(p->skel->maps.unwind_vmas));
		if (cfg->exe)
			ml_unwinder_add_program(p->unwinder, cfg->exe);
		else if (cfg->pid)
			ml_unwinder_add_pid(p->unwinder, cfg->pid);
		/* and what it dlopen()s, within 100 ms */
		if (cfg->pid)
			ml_unwinder_watch(p->unwinder, cfg->pid, 100);
	}
	src->tracker.combined_fd = bpf_map__fd(p->skel->maps.combined);
	src->tracker.counters_fd = bpf_map__fd(p->skel->maps.counters);
	src->tracker.events_fd = bpf_map__fd(p->skel->maps.events);
	src->tracker.cache_names_fd = -1;

	/* The allocator entry points in OBJ; mmap & co. always from libc. */
	/*
	 * mmap & co. come from OBJ when it has them (a static binary,
	 * tcmalloc's hooks), otherwise from libc.
	 */
	p->libc = find_libc(cfg->pid);
	if (!p->libc || !strcmp(p->libc, p->obj) || has_func(p->obj, "mmap")) {
		err = create_events(p, p->obj, cfg->symbols_prefix, PROBE_ALL);
	} else {
		err = create_events(p, p->obj, cfg->symbols_prefix, PROBE_ALLOCATORS);
		if (!err)
			err = create_events(p, p->libc, NULL, PROBE_LIBC);
	}
	if (!err && p->nr_events == 0) {
		ml_err("no allocator functions found in %s", p->obj);
		err = -ENOENT;
	}
	return err;
}

/*
 * The reference counter (ref_ctr_offset) of the uprobe another tool holds
 * at @offset of @file, from the kernel's complaint about the mismatch in its
 * log ("ref_ctr_offset mismatch. inode: 0x.. offset: 0x.. ref_ctr_offset(old):
 * 0x.."), the only place the kernel tells it.  0 if it does not.
 */
static uint64_t held_ref_ctr(const char *file, uint64_t offset)
{
	static const char what[] = "ref_ctr_offset mismatch. ";
	unsigned long long ino, off, ref, found = 0;
	char rec[1024], *m;
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(file, &st))
		return 0;
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* one record a read; EPIPE: records were overwritten, read on */
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		m = strstr(rec, what);
		if (m && sscanf(m + strlen(what), "inode: 0x%llx offset: 0x%llx "
				"ref_ctr_offset(old): 0x%llx", &ino, &off, &ref) == 3 &&
		    ino == (unsigned long long)st.st_ino && off == offset)
			found = ref;
	}
	close(fd);
	return found;
}

/*
 * Another tool holds a uprobe where event @i goes, with a reference counter
 * (bcc's USDT probes have one; Debian's bcc 0.26 passes a random one for
 * every uprobe, and the kernel can keep such a uprobe after the tool is
 * gone).  The kernel refuses a second uprobe at the address with another
 * counter, so make ours again with the same one: the probes then share it.
 * Returns 0 when event @i has a new id to open.
 */
static int share_ref_ctr(struct uprobe_priv *p, int i)
{
	const char *file = p->events[i].file;
	uint64_t offset = p->events[i].offset;
	uint64_t ref = held_ref_ctr(file, offset);
	int err;

	if (!ref)
		return -ENOENT;
	err = ml_tracefs_uprobes_set_ref_ctr(file, offset, ref);
	if (err)
		return err;
	for (int j = i; j < p->nr_events; j++) {
		if (p->events[j].file != file || p->events[j].offset != offset)
			continue;
		p->events[j].id = ml_tracefs_event_id(p->events[j].event);
		if (p->events[j].id < 0)
			return p->events[j].id;
	}
	ml_note("another tool holds a uprobe at %s in %s with reference counter "
		"0x%llx (ref_ctr_offset); memleak's probes there use the same counter",
		p->events[i].event, file, (unsigned long long)ref);
	return 0;
}

static int uprobe_attach(struct ml_source *src)
{
	struct uprobe_priv *p = src->priv;

	for (int i = 0; i < p->nr_events; i++) {
		const char *file = p->events[i].file;
		LIBBPF_OPTS(bpf_perf_event_opts, opts,
			    .bpf_cookie = p->events[i].cookie);
		struct bpf_program *prog;
		struct bpf_link *link;
		int pfd, err;

		prog = bpf_object__find_program_by_name(p->skel->obj,
							p->events[i].prog);
		pfd = perf_event_open_tp(p->events[i].id, p->pid);
		err = pfd < 0 ? -errno : 0;
		if (err == -EINVAL && !share_ref_ctr(p, i)) {
			pfd = perf_event_open_tp(p->events[i].id, p->pid);
			err = pfd < 0 ? -errno : 0;
		}
		if (pfd < 0) {
			explain_attach_error(p->events[i].event, file, err);
			return err;
		}
		link = bpf_program__attach_perf_event_opts(prog, pfd, &opts);
		if (!link) {
			err = -errno;
			close(pfd);
			explain_attach_error(p->events[i].event, file, err);
			return err;
		}
		p->links[p->nr_links++] = link;
	}
	return 0;
}

static void uprobe_refresh(struct ml_source *src)
{
	struct uprobe_priv *p = src->priv;

	if (p && p->unwinder && p->pid)
		ml_unwinder_add_pid(p->unwinder, p->pid);
}

static uint64_t uprobe_prog_misses(struct ml_source *src)
{
	struct uprobe_priv *p = src->priv;

	return p && p->skel ? ml_bpf_misses(p->skel->obj) : 0;
}

static void uprobe_close(struct ml_source *src)
{
	struct uprobe_priv *p = src->priv;

	if (!p)
		return;
	for (int i = 0; i < p->nr_links; i++)
		bpf_link__destroy(p->links[i]);
	ml_tracefs_remove_all();
	for (int i = 0; i < p->nr_events; i++)
		if (strcmp(p->events[i].event, p->events[i].prog) &&
		    strstr(p->events[i].event, "__return"))
			free((char *)p->events[i].event);
	ml_unwinder_free(p->unwinder);
	uprobe_bpf__destroy(p->skel);
	free(p->obj);
	free(p->libc);
	free(p);
	src->priv = NULL;
}

const struct ml_source_ops ml_uprobe_source = {
	.name = "uprobe",
	.open = uprobe_open,
	.attach = uprobe_attach,
	.refresh = uprobe_refresh,
	.prog_misses = uprobe_prog_misses,
	.close = uprobe_close,
};
