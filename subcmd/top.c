// SPDX-License-Identifier: GPL-2.0
/*
 * memleak top: trace a process and print its outstanding allocations every
 * interval, with bcc memleak's options and output.  Also what a bare
 * "memleak [options]" runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "subcmd/builtin.h"
#include "analysis/aggregate.h"
#include "options/options.h"
#include "output/text.h"
#include "source/source.h"
#include "symbol/maps.h"
#include "symbol/symbolize.h"
#include "target/command.h"
#include "target/target.h"
#include "util/util.h"

struct top {
	struct ml_opts o;
	struct ml_source src;
	struct ml_target target;
	struct ml_maps *maps;
	struct ml_symbolizer *sym;
	struct ring_buffer *rb;
	uint64_t start_ns;
};

static const char *const func_names[ML_FUNC_MAX] = {
	[ML_MALLOC] = "malloc", [ML_CALLOC] = "calloc", [ML_REALLOC] = "realloc",
	[ML_REALLOCARRAY] = "reallocarray", [ML_FREE] = "free",
	[ML_POSIX_MEMALIGN] = "posix_memalign", [ML_ALIGNED_ALLOC] = "aligned_alloc",
	[ML_MEMALIGN] = "memalign", [ML_VALLOC] = "valloc", [ML_PVALLOC] = "pvalloc",
	[ML_MMAP] = "mmap", [ML_MUNMAP] = "munmap", [ML_MREMAP] = "mremap",
	[ML_PTHREAD_CREATE] = "pthread_create",
};

void top_usage(FILE *out)
{
	fprintf(out,
"usage: memleak [top] [-h] [-p PID | -c COMMAND] [-t] [-a] [-o OLDER]\n"
"               [-s SAMPLE_RATE] [-T TOP] [-z MIN_SIZE] [-Z MAX_SIZE] [-O OBJ]\n"
"               [--combined-only] [--wa-missing-free] [--sort size|count]\n"
"               [--symbols-prefix PREFIX] [INTERVAL [COUNT]]\n"
"\n"
"Trace outstanding memory allocations that weren't freed, in a process\n"
"(libc's allocators, or those of -O OBJ), and print them by call stack.\n"
"\n"
"positional arguments:\n"
"  INTERVAL               seconds between reports (default 5)\n"
"  COUNT                  number of reports, then exit (default: until Ctrl-C)\n"
"\n"
"options:\n"
"  -h, --help             show this help and exit\n"
"  -p, --pid PID          trace this running process\n"
"  -c, --command COMMAND  run COMMAND (shell-style quoting, PATH lookup) and\n"
"                         trace it from its first instruction; print a final\n"
"                         report when it exits and exit with its status\n"
"  -t, --trace            print each allocation and free as it happens\n"
"  -a, --show-allocs      also list each outstanding block (address, size, age)\n"
"  -o, --older OLDER      report only blocks older than OLDER ms (default 500)\n"
"  -s, --sample-rate N    record every N-th allocation only\n"
"  -T, --top TOP          print only the TOP largest stacks (default 10)\n"
"  -z, --min-size SIZE    record only allocations of at least SIZE bytes\n"
"  -Z, --max-size SIZE    record only allocations of at most SIZE bytes\n"
"  -O, --obj OBJ          probe the allocator in OBJ (a path, or a library the\n"
"                         target maps, e.g. libjemalloc.so) instead of libc\n"
"  --combined-only        report from per-stack totals kept in the kernel\n"
"                         (cheaper to read; no -o age filter, no -a)\n"
"  --wa-missing-free      treat an address allocated again as freed first\n"
"                         (always done; its count is printed as a loss)\n"
"  --sort size|count      order stacks by bytes (default) or allocations\n"
"  --symbols-prefix PFX   allocator symbols carry PFX (je_ for jemalloc)\n"
"  --max-allocs N         capacity for outstanding blocks (default 1048576)\n"
"  --stack-map-size N     capacity for distinct stacks (default 16384)\n"
"  -v, --verbose          print what memleak does\n"
"\n"
"examples:\n"
"  memleak -p $(pidof allocs)          outstanding allocations every 5 s\n"
"  memleak -p $(pidof allocs) -t       every malloc/free as it happens\n"
"  memleak -p $(pidof allocs) -a 10    with each block, every 10 s\n"
"  memleak -c './allocs --size 64'     run a command and trace it\n"
"  memleak -s 5 --top=5 -p PID 10      every 5th allocation, top 5, 10 s\n"
"  memleak -z 16 -Z 32 -p PID          only blocks of 16 to 32 bytes\n"
"\n"
"Other commands: see 'memleak --help'.\n");
}

static void print_event(struct top *t, const struct ml_event *e)
{
	const char *fn = e->func < ML_FUNC_MAX ? func_names[e->func] : "?";
	double ts = e->timestamp_ns > t->start_ns ?
		    (e->timestamp_ns - t->start_ns) / 1e9 : 0;

	printf("%12.6f %-16.16s %7u/%-7u ", ts, e->comm, e->pid, e->tid);
	if (e->kind == ML_EV_FREE) {
		printf("%s(0x%llx) size=%llu\n", fn, (unsigned long long)e->addr,
		       (unsigned long long)e->size);
	} else if (e->func == ML_REALLOC || e->func == ML_REALLOCARRAY ||
		   e->func == ML_MREMAP) {
		printf("%s(0x%llx, %llu) = 0x%llx\n", fn,
		       (unsigned long long)e->old_addr, (unsigned long long)e->size,
		       (unsigned long long)e->addr);
	} else {
		printf("%s(%llu) = 0x%llx\n", fn, (unsigned long long)e->size,
		       (unsigned long long)e->addr);
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct ml_event))
		print_event(ctx, data);
	return 0;
}

static void refresh_maps(void *arg)
{
	struct top *t = arg;

	ml_maps_refresh(t->maps);
}

/* One report: "[HH:MM:SS] Top N stacks ..." and the stacks; @final: at exit. */
static int report(struct top *t, bool final)
{
	uint64_t counters[ML_CNT_MAX], now = ml_now_ns();
	struct ml_text_opts to = {
		.top = t->o.top, .show_allocs = t->o.show_allocs, .now_ns = now,
	};
	struct ml_report r;
	char stamp[16];
	time_t wall = time(NULL);
	long n;

	if (!final)
		ml_maps_refresh(t->maps);
	if (t->o.combined_only) {
		struct ml_stack_total *tot;

		n = ml_tracker_totals(&t->src.tracker, &tot);
		if (n < 0)
			return n;
		ml_aggregate_totals(tot, n, t->o.sort, &r);
		free(tot);
	} else {
		struct ml_block *blocks;

		n = ml_tracker_blocks(&t->src.tracker, &blocks);
		if (n < 0) {
			ml_err("cannot read outstanding allocations: %s", strerror(-n));
			return n;
		}
		/* At exit everything still held is outstanding, whatever its age. */
		ml_aggregate_blocks(blocks, n, now, final ? 0 : t->o.older_ms * 1000000,
				    t->o.sort, &r);
	}
	strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
	printf("[%s] Top %llu stacks with outstanding allocations:\n", stamp,
	       (unsigned long long)t->o.top);
	ml_text_stacks(stdout, &r, &to, &t->src.tracker, t->sym);
	ml_tracker_counters(&t->src.tracker, counters);
	ml_text_losses(stdout, counters, t->src.ops->prog_misses(&t->src));
	fflush(stdout);
	ml_report_free(&r);
	return 0;
}

static int setup_target(struct top *t)
{
	char **argv;
	char *prog;
	const char *why;
	int err;

	if (t->o.pid) {
		err = ml_target_attach(&t->target, t->o.pid);
		if (err == -ESRCH) {
			ml_err("no process with pid %d", t->o.pid);
			return 2;
		}
		if (err) {
			ml_err("cannot watch process %d: %s", t->o.pid, strerror(-err));
			return 1;
		}
		return 0;
	}
	argv = ml_split_command(t->o.command, &why);
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
	err = ml_target_spawn(&t->target, prog, argv);
	free(prog);
	ml_argv_free(argv);
	if (err) {
		ml_err("cannot start '%s': %s", t->o.command, strerror(-err));
		return 1;
	}
	t->o.pid = t->target.pid;
	return 0;
}

static int open_source(struct top *t)
{
	struct ml_source_config cfg = {
		.pid = t->o.pid,
		.obj = t->o.obj,
		.symbols_prefix = t->o.symbols_prefix,
		.min_size = t->o.min_size,
		.max_size = t->o.max_size,
		.sample_rate = t->o.sample_rate,
		.trace = t->o.trace,
		.max_allocs = t->o.max_allocs,
		.stack_map_size = t->o.stack_map_size,
	};
	int err;

	t->src.ops = &ml_uprobe_source;
	err = t->src.ops->open(&t->src, &cfg);
	if (!err)
		err = t->src.ops->attach(&t->src);
	if (!err && t->o.trace) {
		t->rb = ring_buffer__new(t->src.tracker.events_fd, on_event, t, NULL);
		if (!t->rb) {
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

enum { TAG_SIGNAL, TAG_TIMER, TAG_PIDFD, TAG_RING };

/* Wait for reports, events, signals and the target's exit. */
static int run(struct top *t, int sfd)
{
	struct itimerspec its = {
		.it_interval.tv_sec = t->o.interval,
		.it_value.tv_sec = t->o.interval,
	};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	uint64_t reports = 0;
	bool quit = false;

	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		ml_err("cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	add_fd(ep, sfd, TAG_SIGNAL);
	add_fd(ep, tfd, TAG_TIMER);
	if (t->target.pidfd >= 0)
		add_fd(ep, t->target.pidfd, TAG_PIDFD);
	if (t->rb)
		add_fd(ep, ring_buffer__epoll_fd(t->rb), TAG_RING);

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
				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGCHLD)
					break;
				/* Interrupted: one last report of what is held. */
				if (si.ssi_signo != SIGPIPE && !ml_target_update(&t->target, NULL, NULL))
					report(t, false);
				quit = true;
				break;
			case TAG_TIMER:
				if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
					break;
				if (t->rb)
					ring_buffer__consume(t->rb);
				report(t, false);
				if (t->o.count && ++reports >= t->o.count)
					quit = true;
				break;
			case TAG_RING:
				ring_buffer__consume(t->rb);
				fflush(stdout);
				break;
			}
		}
		if (ml_target_update(&t->target, refresh_maps, t)) {
			if (t->rb)
				ring_buffer__consume(t->rb);
			report(t, true);
			quit = true;
		}
	}
	close(tfd);
	close(ep);
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top t = {};
	sigset_t mask;
	int ret, err, sfd;

	ret = ml_parse_options(argc, argv, &t.o, top_usage);
	if (ret >= 0)
		return ret;

	/* Signals arrive through a signalfd so cleanup runs on every exit path. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	ret = setup_target(&t);
	if (ret)
		return ret;
	t.maps = ml_maps_new(t.o.pid);
	if (!t.target.child && ml_maps_refresh(t.maps)) {
		ml_err("cannot read the mappings of process %d", t.o.pid);
		ret = 1;
		goto out;
	}
	t.sym = ml_symbolizer_new(t.maps);

	err = open_source(&t);
	if (err) {
		ret = 1;
		goto out;
	}
	t.start_ns = ml_now_ns();
	if (t.target.child) {
		printf("Attaching to pid %d (%s), Ctrl+C to quit.\n", t.o.pid,
		       t.o.command);
		fflush(stdout);
		err = ml_target_start(&t.target);
		if (err) {
			ml_err("cannot run '%s': %s", t.o.command, strerror(-err));
			ret = 127;
			goto out;
		}
	} else {
		printf("Attaching to pid %d, Ctrl+C to quit.\n", t.o.pid);
		fflush(stdout);
	}
	if (t.o.trace)
		printf("%12s %-16s %-15s %s\n", "TIME(s)", "COMM", "    PID/TID", "CALL");

	run(&t, sfd);
	ret = t.target.child && t.target.gone ? ml_target_exit_code(&t.target) : 0;
out:
	if (t.rb)
		ring_buffer__free(t.rb);
	if (t.src.ops)
		t.src.ops->close(&t.src);
	ml_target_kill(&t.target);
	if (t.sym)
		ml_symbolizer_free(t.sym);
	if (t.maps)
		ml_maps_free(t.maps);
	close(sfd);
	return ret;
}
