// SPDX-License-Identifier: GPL-2.0
/*
 * memleak top: trace a process and print its outstanding allocations every
 * interval, with bcc memleak's options and output.  Also what a bare
 * "memleak [options]" runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "subcmd/builtin.h"
#include "analysis/aggregate.h"
#include "options/options.h"
#include "output/text.h"
#include "session/session.h"
#include "util/util.h"

struct top {
	struct ml_opts o;
	uint64_t reports;
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
"  --max-allocs N, --max-blocks N\n"
"                         capacity for outstanding blocks (default 8388608;\n"
"                         kernel: 1048576)\n"
"  --stack-map-size N     capacity for distinct stacks (default 65536)\n"
"  --call-graph fp|dwarf|none\n"
"                         how stacks are taken (default: complete stacks)\n"
"  --no-preload           -c: trace with libc uprobes, not the preload library\n"
"  --inject               -p: load the preload library into the process\n"
"  --sample-bytes[=N]     -c, --inject: record a sample of one allocation per N\n"
"                         bytes allocated (default 512k), weighted to estimate\n"
"                         the totals; a separate N needs a unit (64k, 1M)\n"
"  -v, --verbose          print what memleak does\n"
"\n"
"kernel allocations (--kernel, or neither -p nor -c):\n"
"  --kernel               trace kmalloc, kmem_cache, page, vmalloc (and with\n"
"                         -P percpu) allocations; with -p/-c only those made\n"
"                         by that process and its children\n"
"  --cgroup PATH          only allocations made in this cgroup v2 directory\n"
"  --backend bpf|ftrace   track in BPF (default) or with a tracefs instance\n"
"  -P, --percpu           also trace percpu allocations\n"
"  --sort KEY[,ORDER]     KEY: stack (default), callsite, cache, gfp, order;\n"
"                         ORDER: size or count\n"
"  --grow-stacks          stacks only for call sites whose outstanding bytes\n"
"                         keep growing (cheap; call sites for the rest)\n"
"  --vmlinux PATH         vmlinux with DWARF for file:line of kernel frames\n"
"\n"
"examples:\n"
"  memleak -p $(pidof allocs)          outstanding allocations every 5 s\n"
"  memleak -p $(pidof allocs) -t       every malloc/free as it happens\n"
"  memleak -p $(pidof allocs) -a 10    with each block, every 10 s\n"
"  memleak -c './allocs --size 64'     run a command and trace it\n"
"  memleak -s 5 --top=5 -p PID 10      every 5th allocation, top 5, 10 s\n"
"  memleak -z 16 -Z 32 -p PID          only blocks of 16 to 32 bytes\n"
"  memleak 3                            kernel allocations every 3 s\n"
"  memleak --kernel -c ./test --sort callsite\n"
"                                       kernel memory a test left behind\n"
"\n"
"Other commands: see 'memleak --help'.\n");
}

/* Kernel events by enum ml_kind: the allocating and the freeing call. */
static const char *const kernel_names[ML_KIND_MAX][2] = {
	[ML_KIND_KMALLOC] = { "kmalloc", "kfree" },
	[ML_KIND_CACHE] = { "kmem_cache_alloc", "kmem_cache_free" },
	[ML_KIND_PAGE] = { "page_alloc", "page_free" },
	[ML_KIND_PERCPU] = { "percpu_alloc", "percpu_free" },
	[ML_KIND_VMALLOC] = { "vmap_alloc", "vmap_free" },
};

static void print_event(struct ml_session *s, const struct ml_event *e)
{
	const char *fn = e->func < ML_FUNC_MAX ? func_names[e->func] : "?";
	double ts = e->timestamp_ns > s->start_ns ?
		    (e->timestamp_ns - s->start_ns) / 1e9 : 0;

	if (e->func >= ML_FUNC_KERNEL && e->func < ML_FUNC_KERNEL + ML_KIND_MAX &&
	    kernel_names[e->func - ML_FUNC_KERNEL][0])
		fn = kernel_names[e->func - ML_FUNC_KERNEL][e->kind == ML_EV_FREE];
	printf("%12.6f %-16.16s %7u/%-7u ", ts, e->comm, e->pid, e->tid);
	if (e->kind == ML_EV_FREE) {
		printf("%s(0x%llx) size=%llu\n", fn, (unsigned long long)e->addr,
		       (unsigned long long)e->size);
		return;
	}
	switch (e->func) {
	case ML_REALLOC:
	case ML_MREMAP:
		printf("%s(0x%llx, %llu)", fn, (unsigned long long)e->old_addr,
		       (unsigned long long)e->size);
		break;
	case ML_REALLOCARRAY:
		printf("%s(0x%llx, %llu, %llu)", fn, (unsigned long long)e->old_addr,
		       (unsigned long long)e->arg,
		       (unsigned long long)(e->arg ? e->size / e->arg : 0));
		break;
	case ML_CALLOC:
		printf("%s(%llu, %llu)", fn, (unsigned long long)e->arg,
		       (unsigned long long)(e->arg ? e->size / e->arg : 0));
		break;
	case ML_POSIX_MEMALIGN:
	case ML_ALIGNED_ALLOC:
	case ML_MEMALIGN:
		printf("%s(%llu, %llu)", fn, (unsigned long long)e->arg,
		       (unsigned long long)e->size);
		break;
	default:
		printf("%s(%llu)", fn, (unsigned long long)e->size);
	}
	printf(" = 0x%llx\n", (unsigned long long)e->addr);
}

static const char *const group_title[] = {
	[ML_GROUP_STACK] = "stacks", [ML_GROUP_CALLSITE] = "call sites",
	[ML_GROUP_CACHE] = "slab caches", [ML_GROUP_GFP] = "GFP flag sets",
	[ML_GROUP_ORDER] = "page orders",
};

/* "[HH:MM:SS] Top N stacks ..." and the stacks, with the loss footer. */
static bool top_tick(struct ml_session *s, enum ml_tick why)
{
	struct top *t = s->priv;
	uint64_t counters[ML_CNT_MAX], misses;
	struct ml_text_opts to = {
		.top = t->o.top, .show_allocs = t->o.show_allocs,
		.now_ns = ml_now_ns(),
	};
	struct ml_report r;
	char stamp[16];
	time_t wall = time(NULL);
	uint64_t t0 = ml_now_ns(), t1;

	/* At exit everything still held is outstanding, whatever its age. */
	if (ml_session_read(s, why == ML_TICK_EXIT, &r))
		return true;
	t1 = ml_now_ns();
	strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
	printf("[%s] Top %llu %s with outstanding allocations:\n", stamp,
	       (unsigned long long)t->o.top, group_title[t->o.group]);
	if (t->o.group == ML_GROUP_STACK)
		ml_text_stacks(stdout, &r, &to, &s->src.tracker, s->sym);
	else
		ml_text_groups(stdout, &r, t->o.group, &to, &s->src.tracker, s->sym);
	if (t->o.kernel && !t->o.combined_only)
		ml_text_kernel_totals(stdout, &r);
	ml_session_losses(s, counters, &misses);
	ml_text_losses(stdout, counters, misses);
	fflush(stdout);
	/* What a report costs at scale (bench/scale.sh reads this). */
	ml_debug("report: %llu blocks in %zu stacks read and grouped in %.3f s, "
		 "printed in %.3f s", (unsigned long long)r.count, r.ngroups,
		 (t1 - t0) / 1e9, (ml_now_ns() - t1) / 1e9);
	ml_report_free(&r);
	return t->o.count && ++t->reports >= t->o.count;
}

static void top_started(struct ml_session *s)
{
	struct top *t = s->priv;

	if (!t->o.trace)
		return;
	printf("%12s %-16s %-15s %s\n", "TIME(s)", "COMM", "    PID/TID", "CALL");
	fflush(stdout);
}

static const struct ml_session_ops top_ops = {
	.started = top_started,
	.event = print_event,
	.tick = top_tick,
};

int cmd_top(int argc, char **argv)
{
	struct top t = {};
	struct ml_session s;
	int ret;

	ret = ml_parse_options(argc, argv, &t.o, top_usage);
	if (ret >= 0)
		return ret;
	ret = ml_session_open(&s, &t.o, &top_ops, &t, stdout);
	if (ret >= 0)
		return ret;
	ret = ml_session_run(&s);
	ml_session_close(&s);
	return ret;
}
