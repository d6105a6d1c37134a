#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the cost of tracing an allocation, per call-graph mode.
#
# Runs build/mallocbench (N malloc/free pairs, DEPTH frames deep, built
# without frame pointers) alone, then under "memleak --no-preload -c" (the
# libc uprobes, whose BPF program takes the stack) with --call-graph none,
# fp and dwarf, and prints for each the wall time per
# pair and, from the kernel's BPF statistics (kernel.bpf_stats_enabled, set
# for the run and restored), the time spent in the malloc return program
# (where the stack is captured) per call; the same table goes into
# Documentation/performance.md.  Needs root.
#
#	bash bench/bench.sh [N [DEPTH]]		defaults: 1000000 8
#						(200000 with BENCH_QUICK=1)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. bench/lib.sh
if [ "${BENCH_QUICK:-0}" == 1 ]; then
	N=${1:-200000}
else
	N=${1:-1000000}
fi
DEPTH=${2:-8}
BENCH=$ROOT/build/mallocbench
MEMLEAK=$ROOT/memleak

[ -x "$BENCH" ] && [ -x "$MEMLEAK" ] || { echo "bench: build first (make bench)" >&2; exit 1; }
[ "$(id -u)" == 0 ] || { echo "bench: needs root" >&2; exit 1; }

bench_bpf_stats

per_pair()
{
	sed -n 's/.*: \([0-9.]*\) ns per pair.*/\1/p' "$1" | tail -n 1
}

tmp=$(mktemp -d)
"$BENCH" "$N" "$DEPTH" 2>"$tmp/base"
base=$(per_pair "$tmp/base")
printf '%-8s %12s %14s %16s\n' mode "ns/pair" "+ns/pair" "BPF ns/malloc-ret"
printf '%-8s %12s %14s %16s\n' none-traced "$base" - -
md="| mode | ns per malloc/free pair | + ns per pair | BPF ns per malloc return |
|---|---|---|---|
| not traced | $base | - | - |"
for cg in none fp dwarf; do
	"$MEMLEAK" --no-preload --call-graph "$cg" -c "$BENCH $N $DEPTH" 3600 \
		>"$tmp/$cg.out" 2>"$tmp/$cg.err" &
	ml=$!
	stat=""
	# sample the program's statistics until the target is done
	while kill -0 "$ml" 2>/dev/null; do
		s=$(bench_progs "$ml" | awk '$1 == "malloc_exit" { print $2, $3; exit }')
		[ -n "$s" ] && stat=$s
		grep -q "ns per pair" "$tmp/$cg.out" "$tmp/$cg.err" 2>/dev/null && break
		sleep 0.2
	done
	wait "$ml"
	t=$(cat "$tmp/$cg.out" "$tmp/$cg.err" | sed -n 's/.*: \([0-9.]*\) ns per pair.*/\1/p' | tail -n 1)
	bpf=-
	if [ -n "$stat" ]; then
		read -r rt cnt <<<"$stat"
		[ "${cnt:-0}" -gt 0 ] && bpf=$(awk -v a="$rt" -v b="$cnt" 'BEGIN { printf "%.0f", a / b }')
	fi
	if [ -z "$t" ]; then
		# memleak failed (another tracer holding libc's uprobes...)
		echo "bench: --call-graph $cg failed: $(head -2 "$tmp/$cg.err" | tr '\n' ' ')" >&2
		t=fail d=- bpf=-
	else
		d=$(awk -v a="$t" -v b="$base" 'BEGIN { printf "%.0f", a - b }')
	fi
	printf '%-8s %12s %14s %16s\n' "$cg" "$t" "$d" "$bpf"
	md="$md
| \`--call-graph $cg\` | $t | $d | $bpf |"
done
rm -rf "$tmp"

# Into Documentation/performance.md, between its markers.
doc=Documentation/performance.md
if grep -q "^<!-- bench/bench.sh writes this table -->" "$doc" 2>/dev/null; then
	{
		sed '/^<!-- bench\/bench.sh writes this table -->/q' "$doc"
		echo "N = $N, DEPTH = $DEPTH, $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end:"
		echo
		echo "$md"
		sed -n '/^<!-- end of bench\/bench.sh.s table -->/,$p' "$doc"
	} >"$doc.new" && mv "$doc.new" "$doc"
fi
