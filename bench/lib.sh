# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the make bench scripts (sourced, bash).

# median: the median of the numbers on stdin, one a line
median()
{
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# bench_bpf_stats: the kernel's BPF statistics on for this script, the old
# setting back at its exit
bench_bpf_stats()
{
	bench_old_stats=$(cat /proc/sys/kernel/bpf_stats_enabled)
	trap 'echo "$bench_old_stats" >/proc/sys/kernel/bpf_stats_enabled' EXIT
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
}

# bench_progs PID: "name run_time_ns run_cnt" of each BPF program PID holds
# that has run (with bench_bpf_stats); fails if there is none
bench_progs()
{
	local ids out

	ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
	[ -n "$ids" ] || return 1
	out=$(bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
ids = set(int(i) for i in sys.argv[1].split())
for p in json.load(sys.stdin):
    if p.get("id") in ids and p.get("run_cnt", 0):
        print(p.get("name"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$ids")
	[ -n "$out" ] && echo "$out"
}

# bench_wait_attached FILE PID: wait (30 s at most) until the tracer PID
# says in FILE that it is attached, or is gone; 0 if it still runs
bench_wait_attached()
{
	for _ in $(seq 300); do
		grep -qE 'Attaching|Tracing|Ctrl' "$1" 2>/dev/null && break
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$2" 2>/dev/null
}

# bench_install PACKAGE...: apt-get install -y what is missing; quiet, never
# fatal (the caller checks for the command it needs)
bench_install()
{
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# bench_bcc: the command that runs bcc's memleak (Debian's bpfcc-tools,
# installed if missing, with the kernel headers it compiles against) through
# bench/bcc-memleak, which mends its uprobes' reference counter; empty if
# not available.  This machine has only Debian's 6.1 headers, which bcc accepts
# for a newer kernel: /lib/modules/$(uname -r)/{build,source} point at them.
bench_bcc()
{
	local hdr common mod

	if ! command -v memleak-bpfcc >/dev/null; then
		bench_install bpfcc-tools linux-headers-amd64 ||
			echo "bench: cannot install bpfcc-tools: no bcc row" >&2
	fi
	command -v memleak-bpfcc >/dev/null || return 0
	mod=/lib/modules/$(uname -r)
	if [ ! -e "$mod/source/include/linux/kconfig.h" ]; then
		hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
		common=${hdr%-amd64}-common
		if [ -n "$hdr" ] && [ -d "$common" ]; then
			mkdir -p "$mod"
			ln -sfn "$hdr" "$mod/build"
			ln -sfn "$common" "$mod/source"
		fi
	fi
	echo "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bcc-memleak"
}

# bench_machine: a markdown paragraph naming the machine and the software
bench_machine()
{
	local cpu deb

	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	deb=$(cat /etc/debian_version 2>/dev/null)
	echo "Machine: $(nproc) CPUs ($cpu), kernel $(uname -r), Debian ${deb:-?},"
	echo "$(free -g | awk '/^Mem:/ { print $2 }') GiB of memory; $(date -u '+%Y-%m-%d %H:%M UTC')."
}
