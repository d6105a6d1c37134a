// SPDX-License-Identifier: GPL-2.0
/*
 * Uprobe traps of one process (bench/uprobe-traps.c): fentry on the
 * kernel's uprobe handling.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 tgid = 0;
__u64 counts[8];

static __always_inline void add(int i)
{
	if ((bpf_get_current_pid_tgid() >> 32) == tgid && i >= 0 && i < 8)
		__sync_fetch_and_add(&counts[i], 1);
}

SEC("fentry/uprobe_pre_sstep_notifier")
int BPF_PROG(int3_hit) { add(0); return 0; }

SEC("fentry/uprobe_post_sstep_notifier")
int BPF_PROG(sstep_done) { add(1); return 0; }

SEC("fexit/arch_uprobe_skip_sstep")
int BPF_PROG(skip_sstep, void *auprobe, void *regs, bool ret)
{
	add(ret ? 2 : 3);
	return 0;
}

SEC("fentry/uprobe_handle_trampoline")
int BPF_PROG(ret_tramp) { add(4); return 0; }

SEC("fentry/__do_sys_uretprobe")
int BPF_PROG(ret_syscall) { add(5); return 0; }

SEC("fentry/__do_sys_uprobe")
int BPF_PROG(opt_hit) { add(6); return 0; }

SEC("fentry/uprobe_notify_resume")
int BPF_PROG(notify_resume) { add(7); return 0; }

char LICENSE[] SEC("license") = "GPL";
