#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cost of injecting a library (lib/target/inject.c, for memleak -p
# --inject), with tests/helpers/inject and tests/targets' libcountalloc.so
# (a malloc that counts and calls __libc_malloc):
#  - the time an injection takes (all threads stopped, dlopen, GOT patched,
#    threads resumed) into a fresh process with 1 and with 8 allocating
#    threads, median of R runs;
#  - what a redirected malloc/free pair costs: build/injectbench's ns per
#    pair, median of 5 rounds before and 5 after the injection.
# Needs root (ptrace) and a built tree (make, make -C tests/targets).
#
#	bash bench/inject.sh [R]		default: 10
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. bench/lib.sh
R=${1:-10}
INJECT=$ROOT/build/helpers/inject
LIB=$ROOT/build/targets/libcountalloc.so
TARGET=$ROOT/build/targets/injectee
BENCH=$ROOT/build/injectbench
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

[ "$(id -u)" == 0 ] || { echo "bench: needs root" >&2; exit 1; }
mkdir -p build/helpers
cc -O2 -g -Wall -Ilib -o "$INJECT" tests/helpers/inject.c \
	build/lib/target/inject.o build/lib/util/util.o -lelf || exit 1
[ -x "$TARGET" ] && [ -f "$LIB" ] || make -s -C tests/targets || exit 1
cc -O2 -Wall bench/injectbench.c -o "$BENCH" || exit 1
cc -O2 -Wall -fPIC -shared -DCOUNTALLOC_FORWARD_ONLY tests/targets/libcountalloc.c \
	-o "$TMP/libforward.so" || exit 1


# wait_lines FILE N: until FILE has N lines
wait_lines() { while [ "$(wc -l <"$1")" -lt "$2" ]; do sleep 0.05; done; }

for threads in 0 8; do
	: >"$TMP/times"
	for ((i = 0; i < R; i++)); do
		"$TARGET" "$LIB" loop "$threads" >"$TMP/t.out" &
		pid=$!
		PIDS+=("$pid")
		wait_lines "$TMP/t.out" 1
		sleep 0.2
		"$INJECT" "$pid" "$LIB" | sed -nE 's/.* us=([0-9]+)$/\1/p' >>"$TMP/times"
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
	echo "inject into a process with $((threads ? threads + 1 : 1)) thread(s): median $(median <"$TMP/times") us (of $R: $(sort -n "$TMP/times" | tr '\n' ' '))"
done

# pair_cost LIB: injectbench's ns per pair before and after injecting LIB
pair_cost()
{
	local pid n before after

	"$BENCH" >"$TMP/b.out" &
	pid=$!
	PIDS+=("$pid")
	wait_lines "$TMP/b.out" 6		# the first round warms up
	"$INJECT" "$pid" "$1" >"$TMP/i.out" || exit 1
	n=$(wc -l <"$TMP/b.out")
	wait_lines "$TMP/b.out" $((n + 6))
	kill "$pid"
	before=$(sed -n 2,6p "$TMP/b.out" | sed 's/ns=//' | median)
	after=$(sed -n "$((n + 2)),$((n + 6))p" "$TMP/b.out" | sed 's/ns=//' | median)
	echo "malloc/free pair: $before ns before, $after ns redirected to $2 (+$(echo "$after - $before" | bc) ns)"
}

pair_cost "$TMP/libforward.so" "a forwarding library"
pair_cost "$LIB" "libcountalloc.so (2 atomic adds)"
