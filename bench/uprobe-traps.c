// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe-traps PID: count the uprobe traps of process PID until it exits:
 * int3 breakpoint hits, single-steps of the probed instruction out of line
 * (a second trap) against emulated instructions, uretprobe returns
 * (through the uretprobe syscall or an int3 trampoline), hits of uprobes
 * the kernel optimized into a call (sys_uprobe).  Prints "counting" once
 * attached.  Built by bench/uprobe-pid.sh.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "uprobe-traps.skel.h"

static const char *const names[] = {
	"int3 traps (uprobe breakpoints hit)",
	"single-step traps (instruction run out of line)",
	"emulated instructions (no single-step)",
	"instructions not emulated",
	"uretprobe returns (any trampoline)",
	"uretprobe returns through the uretprobe syscall",
	"optimized uprobe hits (sys_uprobe)",
	"uprobe_notify_resume calls",
};

#define NPROGS 7

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int alive(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[2] != 'Z';
}

int main(int argc, char **argv)
{
	struct uprobe_traps_bpf *skel, *skels[NPROGS];
	int pid, nskels = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: uprobe-traps PID\n");
		return 2;
	}
	pid = atoi(argv[1]);
	/*
	 * One object per program: a function the kernel does not let fentry
	 * trace costs only its own line.
	 */
	for (int i = 0; i < NPROGS; i++) {
		struct bpf_program *p, *want = NULL;
		int j = 0;

		skel = uprobe_traps_bpf__open();
		if (!skel)
			return 1;
		skel->rodata->tgid = pid;
		
		bpf_object__for_each_program(p, skel->obj)
			if (j++ == i)
				want = p;
			else
				bpf_program__set_autoload(p, false);
		if (!want || uprobe_traps_bpf__load(skel) ||
		    !bpf_program__attach(want)) {
			fprintf(stderr, "uprobe-traps: cannot trace %s\n",
				want ? bpf_program__section_name(want) : "?");
			uprobe_traps_bpf__destroy(skel);
			continue;
		}
		skels[nskels++] = skel;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("counting\n");
	fflush(stdout);
	while (!stop && alive(pid))
		usleep(20000);
	for (int i = 0; i < 8; i++) {
		unsigned long long n = 0;

		for (int k = 0; k < nskels; k++)
			n += skels[k]->bss->counts[i];
		printf("%12llu  %s\n", n, names[i]);
	}
	for (int k = 0; k < nskels; k++)
		uprobe_traps_bpf__destroy(skels[k]);
	return 0;
}
