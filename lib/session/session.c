// SPDX-License-Identifier: GPL-2.0
/*
 * A tracing session: target, event source, mappings, symbolizer and the
 * event loop that live reporting and recording share.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "session/session.h"
#include "analysis/kernel.h"
#include "source/kmem.h"
#include "source/tracefs.h"
#include "symbol/kallsyms.h"
#include "symbol/maps.h"
#include "symbol/symbolize.h"
#include "target/cgroup.h"
#include "target/command.h"
#include "target/inject.h"
#include "util/util.h"

static int on_event(void *ctx, void *data, size_t len)
{
	struct ml_session *s = ctx;

	if (len >= sizeof(struct ml_event) && s->ops->event)
		s->ops->event(s, data);
	return 0;
}

/* -c: the program's libraries are mapped and it has not started yet. */
static void at_entry(void *arg)
{
	struct ml_session *s = arg;

	ml_debug("at the entry point of pid %d: reading its mappings", s->pid);
	ml_maps_refresh(s->maps);
	if (s->src.ops && s->src.ops->refresh)
		s->src.ops->refresh(&s->src);
}

/* The target is exiting, its memory still there. */
static void at_exit(void *arg)
{
	struct ml_session *s = arg;

	ml_maps_refresh(s->maps);
	if (s->src.ops && s->src.ops->exiting)
		s->src.ops->exiting(&s->src, s->target.exit_status);
}

/*
 * -c: trace through the preload library (lib/source/preload.c) unless
 * told not to or the program cannot load it; then libc uprobes, with a note.
 */
static char *choose_preload(struct ml_session *s, const char *prog)
{
	const char *why;
	char *lib;

	if (s->o->no_preload || s->o->kernel || s->o->obj)
		return NULL;
	why = ml_preload_unusable(prog, s->o->call_graph != ML_CG_NONE);
	if (why) {
		ml_note("%s: %s; tracing it with libc uprobes instead of the preload library",
			prog, why);
		return NULL;
	}
	lib = ml_preload_find_lib();
	if (!lib)
		ml_note("no %s next to memleak (build it, or set MEMLEAK_PRELOAD_LIB): "
			"tracing with libc uprobes", ML_PL_LIB);
	return lib;
}

/* The preload library's ML_PL_* settings for these options. */
static unsigned int preload_flags(const struct ml_opts *o)
{
	unsigned int flags = 0;

	if (o->trace)
		flags |= ML_PL_NO_CANCEL;	/* every event, in order */
	if (o->call_graph == ML_CG_NONE)
		flags |= ML_PL_NO_STACKS;
	return flags;
}

/* The environment the command starts with: LD_PRELOAD and the library's settings. */
static void preload_env(struct ml_session *s, char **saved)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	unsigned int flags;

	*saved = old ? xstrdup(old) : NULL;
	v = old && *old ? xasprintf("%s:%s", old, s->preload_lib) :
			  xstrdup(s->preload_lib);
	setenv("LD_PRELOAD", v, 1);
	free(v);
	flags = preload_flags(s->o);
	v = xasprintf("%u", flags);
	setenv("MEMLEAK_PRELOAD_FLAGS", v, 1);
	free(v);
	v = xasprintf("%llu", (unsigned long long)s->o->sample_bytes);
	setenv("MEMLEAK_PRELOAD_SAMPLE_BYTES", v, 1);
	free(v);
}

static void restore_env(char *saved)
{
	if (saved)
		setenv("LD_PRELOAD", saved, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv("MEMLEAK_PRELOAD_FLAGS");
	unsetenv("MEMLEAK_PRELOAD_SAMPLE_BYTES");
	free(saved);
}

static int setup_target(struct ml_session *s)
{
	char **argv;
	char *prog;
	const char *why;
	int err;

	if (!s->o->pid && !s->o->command)
		return 0;	/* the whole kernel */
	if (s->o->pid) {
		s->pid = s->o->pid;
		err = ml_target_attach(&s->target, s->pid);
		if (err == -ESRCH) {
			ml_err("no process with pid %d", s->pid);
			return 2;
		}
		if (err) {
			ml_err("cannot watch process %d: %s", s->pid, strerror(-err));
			return 1;
		}
		if (s->o->inject) {
			s->preload_lib = ml_preload_find_lib();
			if (!s->preload_lib) {
				ml_err("--inject: no %s next to memleak (build it, or "
				       "set MEMLEAK_PRELOAD_LIB)", ML_PL_LIB);
				return 1;
			}
		}
		return 0;
	}
	argv = ml_split_command(s->o->command, &why);
	if (!argv) {
		ml_err("invalid value for -c/--command: %s", why);
		return 2;
	}
	prog = ml_find_program(argv[0], getenv("PATH"));
	if (!prog) {
		ml_err("cannot run '%s': command not found", argv[0]);
		ml_argv_free(argv);
		return 2;
	}
	s->preload_lib = choose_preload(s, prog);
	if (s->o->sample_bytes && !s->preload_lib) {
		ml_err("--sample-bytes needs the preload library");
		free(prog);
		ml_argv_free(argv);
		return 2;
	}
	if (s->preload_lib) {
		char *saved;

		/* the child copies our environment at fork */
		preload_env(s, &saved);
		err = ml_target_spawn(&s->target, prog, argv);
		restore_env(saved);
	} else {
		err = ml_target_spawn(&s->target, prog, argv);
	}
	free(prog);
	ml_argv_free(argv);
	if (err) {
		ml_err("cannot start '%s': %s", s->o->command, strerror(-err));
		return 1;
	}
	s->pid = s->target.pid;
	s->target.at_entry = at_entry;
	s->target.entry_arg = s;
	return 0;
}

/* --inject, before the GOT points at the library: its settings. */
static int configure_injected(pid_t pid, uint64_t bias, void *arg)
{
	struct ml_session *s = arg;

	return ml_preload_set_config(pid, s->preload_lib, bias, preload_flags(s->o),
				     s->o->sample_bytes);
}

/*
 * --inject: load the preload library into the running process and point
 * its allocator calls at it (lib/target/inject.c).  The uprobe on the
 * library's flush function is attached already, so no batch is missed.
 */
static int inject_preload(struct ml_session *s)
{
	static const char *const syms[] = {
		"malloc", "free", "calloc", "realloc", "reallocarray",
		"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
		"malloc_usable_size", "mmap", "mmap64", "munmap", "mremap",
		"pthread_create", NULL,
	};
	struct ml_inject_hook hook = { .configure = configure_injected, .arg = s,
				       .call = ML_PL_CONFIGURE_SYM };
	char err[512];
	int ret;

	s->inj = xcalloc(1, sizeof(*s->inj));
	ret = ml_inject_library_hook(s->pid, s->preload_lib, syms, &hook,
				     s->inj, err, sizeof(err));
	if (ret) {
		ml_err("--inject: %s", err);
		free(s->inj);
		s->inj = NULL;
		return ret;
	}
	if (hook.call_ret != s->o->sample_bytes)
		ml_warn("--sample-bytes: the preload library in process %d has "
			"no memory for its sampled set: every allocation is "
			"recorded", s->pid);
	ml_debug("--inject: %s loaded in process %d, %zu GOT slots of %u "
		 "objects redirected", s->preload_lib, s->pid, s->inj->nr_patches,
		 s->inj->nr_objects);
	return 0;
}

/* Point the process's allocator calls back at libc (the library stays). */
static void uninject_preload(struct ml_session *s)
{
	char err[512];

	if (!s->inj)
		return;
	if (ml_inject_undo(s->inj, err, sizeof(err)))
		ml_warn("--inject: cannot restore process %d's allocator calls: %s",
			s->pid, err);
	ml_inject_release(s->inj);
	free(s->inj);
	s->inj = NULL;
}

static int open_source(struct ml_session *s)
{
	struct ml_source_config cfg = {
		.pid = s->pid,
		.obj = s->o->obj,
		.symbols_prefix = s->o->symbols_prefix,
		.min_size = s->o->min_size,
		.max_size = s->o->max_size,
		.sample_rate = s->o->sample_rate,
		.trace = s->o->trace,
		.max_allocs = s->o->max_allocs,
		.stack_map_size = s->o->stack_map_size,
		.call_graph = s->o->call_graph,
		.combined = s->o->combined_only,
		.cgroup = s->cgroup,
		.percpu = s->o->percpu,
		.grow_stacks = s->o->grow_stacks,
		.preload_lib = s->preload_lib,
		.sample_bytes = s->o->sample_bytes,
	};
	char **argv = NULL;
	int err;

	if (s->target.child && s->o->command) {
		/* The program about to run: its unwind tables before it runs. */
		argv = ml_split_command(s->o->command, &(const char *){ NULL });
		if (argv)
			cfg.exe = ml_find_program(argv[0], getenv("PATH"));
		ml_argv_free(argv);
	}
	/* What a run that died left in tracefs goes, whichever source runs. */
	if (ml_tracefs_ready() == 0)
		ml_tracefs_clean_stale();
	if (s->preload_lib)
		s->src.ops = &ml_preload_source;
	else if (!s->o->kernel)
		s->src.ops = &ml_uprobe_source;
	else if (s->o->backend == ML_BACKEND_FTRACE)
		s->src.ops = &ml_ftrace_source;
	else
		s->src.ops = &ml_kmem_source;
	err = s->src.ops->open(&s->src, &cfg);
	free((char *)cfg.exe);
	if (!err)
		err = s->src.ops->attach(&s->src);
	if (!err && s->o->inject)
		err = inject_preload(s);
	if (!err && s->o->trace) {
		s->rb = ring_buffer__new(s->src.tracker.events_fd, on_event, s, NULL);
		if (!s->rb) {
			err = -errno;
			ml_err("cannot open the event ring buffer: %s", strerror(-err));
		}
	}
	return err;
}

static int add_fd(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_SIGNAL, TAG_TIMER, TAG_PIDFD, TAG_RING, TAG_DRAIN };

/* Wait for reports, events, signals and the target's exit. */
int ml_session_run(struct ml_session *s)
{
	struct itimerspec its = {
		.it_interval.tv_sec = s->o->interval,
		.it_value.tv_sec = s->o->interval,
	};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int dfd = -1;
	bool quit = false;

	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		ml_err("cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	add_fd(ep, s->sfd, TAG_SIGNAL);
	add_fd(ep, tfd, TAG_TIMER);
	if (s->target.pidfd >= 0)
		add_fd(ep, s->target.pidfd, TAG_PIDFD);
	if (s->rb)
		add_fd(ep, ring_buffer__epoll_fd(s->rb), TAG_RING);
	if (s->src.ops->drain) {
		/* A user-space tracker: read its events often enough to keep up. */
		struct itimerspec d = {
			.it_interval.tv_nsec = 100000000, .it_value.tv_nsec = 100000000,
		};

		dfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (dfd >= 0 && !timerfd_settime(dfd, 0, &d, NULL))
			add_fd(ep, dfd, TAG_DRAIN);
	}

	while (!quit) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct signalfd_siginfo si;
			uint64_t ticks;

			switch (evs[i].data.u32) {
			case TAG_SIGNAL:
				if (read(s->sfd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGCHLD)
					break;
				/* Interrupted: one last tick, unless the target just left. */
				if (si.ssi_signo != SIGPIPE &&
				    !ml_target_update(&s->target, at_exit, s))
					s->ops->tick(s, ML_TICK_INTERRUPT);
				quit = true;
				break;
			case TAG_TIMER:
				if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
					break;
				/* New mappings (dlopen): e.g. their unwind tables. */
				if (s->src.ops->refresh)
					s->src.ops->refresh(&s->src);
				if (s->rb)
					ring_buffer__consume(s->rb);
				if (s->ops->tick(s, ML_TICK_INTERVAL))
					quit = true;
				break;
			case TAG_DRAIN:
				if (read(dfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					s->src.ops->drain(&s->src);
				break;
			case TAG_RING:
				ring_buffer__consume(s->rb);
				fflush(stdout);
				break;
			}
		}
		if (ml_target_update(&s->target, at_exit, s)) {
			/*
			 * The kernel frees some of an exited process's memory
			 * after an RCU grace period (page tables, files): let
			 * it before saying what is left.
			 */
			if (s->o->kernel)
				usleep(300000);
			if (s->rb)
				ring_buffer__consume(s->rb);
			s->ops->tick(s, ML_TICK_EXIT);
			quit = true;
		}
	}
	close(tfd);
	if (dfd >= 0)
		close(dfd);
	close(ep);
	return s->target.child && s->target.gone ?
	       ml_target_exit_code(&s->target) : 0;
}

int ml_session_open(struct ml_session *s, const struct ml_opts *o,
		    const struct ml_session_ops *ops, void *priv, FILE *info)
{
	sigset_t mask;
	int ret, err;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->ops = ops;
	s->priv = priv;
	s->target.go_fd = s->target.err_fd = s->target.pidfd = -1;

	/* Signals arrive through a signalfd so cleanup runs on every exit path. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	if (o->cgroup) {
		s->cgroup = ml_cgroup_resolve(o->cgroup);
		if (!s->cgroup) {
			ml_err("no cgroup v2 directory '%s' (give /sys/fs/cgroup/unified/NAME, "
			       "/sys/fs/cgroup/NAME, or NAME under them)", o->cgroup);
			ret = 2;
			goto fail;
		}
	}
	ret = setup_target(s);
	if (ret)
		goto fail;
	s->maps = ml_maps_new(s->pid);
	if (s->pid && !s->target.child && ml_maps_refresh(s->maps)) {
		ml_err("cannot read the mappings of process %d", s->pid);
		ret = 1;
		goto fail;
	}
	s->sym = ml_symbolizer_new(s->maps);

	if (open_source(s)) {
		ret = 1;
		goto fail;
	}
	/* After loading: kallsyms then names our own BPF programs too. */
	if (o->kernel) {
		s->ksyms = ml_ksyms_load(NULL);
		if (s->ksyms) {
			ml_ksyms_set_vmlinux(s->ksyms, o->vmlinux);
			ml_symbolizer_set_kernel(s->sym, s->ksyms);
		}
	}
	s->start_ns = ml_now_ns();
	if (o->kernel && s->pid)
		fprintf(info, "Attaching to kernel allocators for pid %d%s%s, Ctrl+C to quit.\n",
			s->pid, o->cgroup ? " in cgroup " : "", o->cgroup ? o->cgroup : "");
	else if (o->kernel)
		fprintf(info, "Attaching to kernel allocators%s%s, Ctrl+C to quit.\n",
			o->cgroup ? " in cgroup " : "", o->cgroup ? o->cgroup : "");
	else if (s->target.child)
		fprintf(info, "Attaching to pid %d (%s), Ctrl+C to quit.\n", s->pid,
			o->command);
	else
		fprintf(info, "Attaching to pid %d, Ctrl+C to quit.\n", s->pid);
	fflush(info);
	if (ops->started)
		ops->started(s);
	if (s->target.child) {
		err = ml_target_start(&s->target);
		if (err) {
			ml_err("cannot run '%s': %s", o->command, strerror(-err));
			ret = 127;
			goto fail;
		}
	}
	return -1;
fail:
	ml_session_close(s);
	return ret;
}

void ml_session_close(struct ml_session *s)
{
	if (s->rb)
		ring_buffer__free(s->rb);
	s->rb = NULL;
	uninject_preload(s);
	if (s->src.ops)
		s->src.ops->close(&s->src);
	s->src.ops = NULL;
	ml_target_kill(&s->target);
	if (s->sym)
		ml_symbolizer_free(s->sym);
	s->sym = NULL;
	if (s->maps)
		ml_maps_free(s->maps);
	s->maps = NULL;
	ml_ksyms_free(s->ksyms);
	s->ksyms = NULL;
	free(s->cgroup);
	s->cgroup = NULL;
	free(s->preload_lib);
	s->preload_lib = NULL;
	if (s->sfd >= 0)
		close(s->sfd);
	s->sfd = -1;
}

int ml_session_read(struct ml_session *s, bool all_ages, struct ml_report *r)
{
	uint64_t now = ml_now_ns();
	long n;

	if (!all_ages && s->pid)
		ml_maps_refresh(s->maps);
	if (s->src.ops->sync)
		s->src.ops->sync(&s->src);
	if (s->src.ops->drain)
		s->src.ops->drain(&s->src);
	if (s->o->combined_only) {
		struct ml_stack_total *tot;

		n = ml_tracker_totals(&s->src.tracker, &tot);
		if (n < 0)
			return n;
		ml_aggregate_totals(tot, n, s->o->sort, r);
		free(tot);
	} else {
		struct ml_block *blocks;

		n = ml_tracker_blocks(&s->src.tracker, &blocks);
		if (n < 0) {
			ml_err("cannot read outstanding allocations: %s", strerror(-n));
			return n;
		}
		if (s->src.tracker.kernel)
			ml_kernel_classify(blocks, n, &s->src.tracker, s->sym);
		ml_aggregate_blocks_by(blocks, n, now,
				       all_ages ? 0 : s->o->older_ms * 1000000,
				       s->o->group, s->o->sort, r);
	}
	return 0;
}

void ml_session_losses(struct ml_session *s, uint64_t counters[ML_CNT_MAX],
		       uint64_t *prog_misses)
{
	ml_tracker_counters(&s->src.tracker, counters);
	*prog_misses = s->src.ops->prog_misses(&s->src);
}
