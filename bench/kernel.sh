#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel-mode overhead (make bench): bench/kworkload (open/read/close,
# pipe/write/read/close, socket/close) plain and under each kernel mode of
# memleak and under bcc's memleak-bpfcc, side by side in one run; the
# median of RUNS runs each.  Writes Documentation/performance-kernel.md.
#
#	bash bench/kernel.sh [ITERATIONS [RUNS]]
set -u
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
ITER=${1:-200000}
RUNS=${2:-3}
OUT=build/bench
mkdir -p "$OUT"
cc -O2 -o "$OUT/kworkload" bench/kworkload.c || exit 1

# The peer: bcc's memleak from Debian (with the 6.1 headers it compiles against).
BCC=$(bench_bcc)

# run NAME TRACER...: the workload's median time with TRACER running
# (TRACER empty: plain).  The tracer gets time to attach first.
run()
{
	local name=$1 t times=() pid

	shift
	for _ in $(seq "$RUNS"); do
		if [ $# -gt 0 ]; then
			"$@" >"$OUT/tracer.out" 2>&1 &
			pid=$!
			bench_wait_attached "$OUT/tracer.out" "$pid"
			sleep 1
		fi
		t=$("$OUT/kworkload" "$ITER")
		if [ $# -gt 0 ]; then
			if ! kill -TERM "$pid" 2>/dev/null; then
				echo "$name: the tracer died before the workload ended:" >&2
				head -5 "$OUT/tracer.out" >&2
				return 1
			fi
			wait "$pid" 2>/dev/null
		fi
		times+=("$t")
	done
	printf '%s\n' "${times[@]}" | median >"$OUT/$name.time"
	echo "$name: $(cat "$OUT/$name.time") s (runs: ${times[*]})" >&2
}

run plain
run bpf ./memleak --kernel 3600
run bpf-callsite ./memleak --kernel --call-graph none 3600
run bpf-grow ./memleak --kernel --grow-stacks 3600
run ftrace ./memleak --kernel --backend ftrace 3600
run ftrace-callsite ./memleak --kernel --backend ftrace --call-graph none 3600
if [ -n "$BCC" ]; then
	run bcc "$BCC" 3600
else
	echo "bcc: memleak-bpfcc not installed (apt-get install bpfcc-tools)" >&2
fi

base=$(cat "$OUT/plain.time")
ratio()
{
	[ -s "$OUT/$1.time" ] || { echo "n/a"; return; }
	awk -v t="$(cat "$OUT/$1.time")" -v b="$base" 'BEGIN { printf "%.2fx", t / b }'
}
{
	echo "# Kernel-mode overhead"
	echo
	echo "bench/kernel.sh: bench/kworkload $ITER iterations of open/read/close,"
	echo "pipe/write/read/close and socket/close; median of $RUNS runs each,"
	echo "all in one run of the script on $(nproc) CPUs, $(uname -r),"
	echo "$(date -u +%Y-%m-%d)."
	echo
	echo "| tracer | seconds | slowdown |"
	echo "|---|---|---|"
	for n in plain bpf bpf-callsite bpf-grow ftrace ftrace-callsite bcc; do
		[ -s "$OUT/$n.time" ] || continue
		case $n in
		plain) d="no tracer" ;;
		bpf) d="memleak --kernel (BPF, full stacks)" ;;
		bpf-callsite) d="memleak --kernel --call-graph none (BPF, call sites)" ;;
		bpf-grow) d="memleak --kernel --grow-stacks (BPF)" ;;
		ftrace) d="memleak --kernel --backend ftrace (stacks)" ;;
		ftrace-callsite) d="memleak --kernel --backend ftrace --call-graph none" ;;
		bcc) d="bcc memleak-bpfcc (kernel mode)" ;;
		esac
		echo "| $d | $(cat "$OUT/$n.time") | $(ratio $n) |"
	done
} >Documentation/performance-kernel.md
cat Documentation/performance-kernel.md
