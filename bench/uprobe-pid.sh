#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cost of the libc uprobe path with -p, against bcc's memleak in the
# same run: build/mallocbench (N malloc/free pairs, DEPTH deep, 1 thread)
# plain, then started stopped (MALLOCBENCH_WAIT), a tracer attached with
# -p, and continued.  For each tracer: the median time per pair of RUNS runs,
# the slowdown (time under the tracer / time plain), and from the kernel's
# BPF statistics (kernel.bpf_stats_enabled, set for the run and restored)
# the nanoseconds per run of each of the tracer's programs that ran.
# Needs root, and bcc's memleak-bpfcc for the bcc row (bench/kernel.sh
# installs it).
#
#	bash bench/uprobe-pid.sh [N [DEPTH [RUNS]]]	defaults: 300000 8 3
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. bench/lib.sh
N=${1:-300000}
DEPTH=${2:-8}
RUNS=${3:-3}
BENCH=$ROOT/build/mallocbench
OUT=$ROOT/build/bench
mkdir -p "$OUT"

[ -x "$BENCH" ] && [ -x ./memleak ] || { echo "bench: build first (make memleak build/mallocbench)" >&2; exit 1; }
[ "$(id -u)" == 0 ] || { echo "bench: needs root" >&2; exit 1; }

bench_bpf_stats

# progs PID: bench_progs, given a moment if nothing has run yet
progs()
{
	for _ in 1 2 3; do
		bench_progs "$1" && return
		sleep 0.2
	done
}

stopped()
{
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == T ]
}

# run NAME [TRACER ARGS...]: TRACER ARGS -p PID.  Per pair: wall ns as
# mallocbench times it, and its CPU ns (user + system, where the uprobe
# traps and the BPF programs are charged: steadier on a shared machine).
run()
{
	local name=$1 t c times=() cpus=() pid tp tpid stats

	shift
	: >"$OUT/$name.progs"
	local run=0 tries=0

	while [ "$run" -lt "$RUNS" ] && [ "$tries" -lt $((RUNS + 6)) ]; do
		tries=$((tries + 1))
		MALLOCBENCH_WAIT=1 /usr/bin/time -f '%U %S' -o "$OUT/$name.cpu" \
			"$BENCH" "$N" "$DEPTH" 2>"$OUT/$name.bench" &
		tp=$!
		pid=
		for _ in $(seq 100); do
			[ -n "$pid" ] || pid=$(pgrep -P "$tp")
			[ -n "$pid" ] && stopped "$pid" && break
			sleep 0.05
		done
		if [ $# -gt 0 ]; then
			# Another tool's uprobe on the same function with a
			# different ref_ctr_offset makes an attach fail
			# (EINVAL): try again a few times.
			for _ in 1 2 3 4 5 6; do
				"$@" -p "$pid" 3600 >"$OUT/$name.tracer" 2>&1 &
				tpid=$!
				bench_wait_attached "$OUT/$name.tracer" "$tpid"
				# bcc says "Attaching" before it attaches
				sleep 2
				kill -0 "$tpid" 2>/dev/null && break
				wait "$tpid"
				echo "$name: tracer failed, again: $(grep -m1 -iE 'error|cannot|exception' "$OUT/$name.tracer")" >&2
				sleep 2
			done
		fi
		kill -CONT "$pid"
		wait "$tp"
		t=$(sed -n 's/.*: \([0-9.]*\) ns per pair.*/\1/p' "$OUT/$name.bench")
		c=$(awk -v n="$N" '{ printf "%.1f", ($1 + $2) * 1e9 / n }' "$OUT/$name.cpu")
		if [ $# -gt 0 ]; then
			stats=$(progs "$tpid")
			kill -TERM "$tpid" 2>/dev/null
			wait "$tpid" 2>/dev/null
			# A run where the tracer's programs never ran does not count.
			if [ -z "$stats" ]; then
				echo "$name: the tracer did not trace, again" >&2
				continue
			fi
			echo "$stats" >>"$OUT/$name.progs"
		fi
		[ -n "$t" ] || { echo "$name: no time:" >&2; cat "$OUT/$name.bench" "$OUT/$name.tracer" >&2; return 1; }
		run=$((run + 1))
		times+=("$t")
		cpus+=("$c")
	done
	printf '%s\n' "${times[@]}" | median >"$OUT/$name.time"
	printf '%s\n' "${cpus[@]}" | median >"$OUT/$name.cputime"
	echo "$name: wall $(cat "$OUT/$name.time") ns/pair (runs: ${times[*]}), cpu $(cat "$OUT/$name.cputime") (runs: ${cpus[*]})" >&2
}

BCC=$(bench_bcc)
run plain
run memleak ./memleak
run memleak-fp ./memleak --call-graph fp
[ -n "$BCC" ] && run bcc "$BCC"

base=$(cat "$OUT/plain.time")
echo
printf '%-12s %10s %10s %8s %10s %8s\n' tracer wall-ns slowdown vs-bcc cpu-ns vs-bcc
for n in plain memleak memleak-fp bcc; do
	[ -s "$OUT/$n.time" ] || continue
	t=$(cat "$OUT/$n.time")
	c=$(cat "$OUT/$n.cputime")
	vs=- vc=-
	if [ -s "$OUT/bcc.time" ]; then
		vs=$(awk -v a="$t" -v b="$(cat "$OUT/bcc.time")" 'BEGIN { printf "%.2f", a / b }')
		vc=$(awk -v a="$c" -v b="$(cat "$OUT/bcc.cputime")" 'BEGIN { printf "%.2f", a / b }')
	fi
	printf '%-12s %10s %10s %8s %10s %8s\n' "$n" "$t" \
		"$(awk -v a="$t" -v b="$base" 'BEGIN { printf "%.0fx", a / b }')" "$vs" "$c" "$vc"
done
echo
echo "BPF ns per program run (all runs: program, ns/run, runs)"
for n in memleak memleak-fp bcc; do
	[ -s "$OUT/$n.progs" ] || continue
	awk -v n="$n" '
	{ t[$1] += $2; c[$1] += $3 }
	END { for (p in t) printf "%-12s %-24s %6.0f ns %9d\n", n, p, t[p] / c[p], c[p] }' \
		"$OUT/$n.progs" | sort
done
