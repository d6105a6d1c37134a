#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: memleak at scale.  build/targets/scale makes BLOCKS blocks of
# 16 bytes over STACKS distinct stacks (tests/targets/scale.c).
#
#  1. Tracking: "memleak record" of 5,000,000 blocks over 50,000 stacks;
#     checks that the recording holds exactly that many blocks and stacks
#     and no loss, and prints the kernel memory of the block map at the end.
#  2. Report time, 1,000,000 blocks over 50,000 stacks, two ways:
#     - live: "memleak -o 0 -c ... wait" interrupted once the target is
#       ready (-o 0: blocks of any age, not only those 500 ms old);
#       the final report's time to read and group every block, from
#       memleak's own clock (-v), and to print it (top 10 stacks,
#       symbolized);
#     - "memleak report" of a recording: wall time of the whole command
#       (read the file, group, symbolize all 50,000 stacks, print them).
#       This is what a user waits for.
#
#	bash bench/scale.sh [BLOCKS [STACKS [REPORT_BLOCKS]]]
#		defaults: 5000000 50000 1000000
#
# Through libc uprobes each allocation costs several microseconds, so step
# 1 takes a minute or two.  Needs root.  SCALE_PRIVATE_LIBC=1 runs the
# target on a private copy of libc and probes that: for a machine where
# another tool (bcc's memleak) holds uprobes on libc's malloc, which the
# kernel will not share with ours.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BLOCKS=${1:-5000000}
STACKS=${2:-50000}
RBLOCKS=${3:-1000000}
MEMLEAK=$ROOT/memleak
SCALE=$ROOT/build/targets/scale

[ -x "$SCALE" ] && [ -x "$MEMLEAK" ] || { echo "bench: build first (make bench)" >&2; exit 1; }
[ "$(id -u)" == 0 ] || { echo "bench: needs root" >&2; exit 1; }

tmp=$(mktemp -d)
ml_pid=
cleanup()
{
	[ -n "$ml_pid" ] && kill "$ml_pid" 2>/dev/null && wait "$ml_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

obj=()
run=()
if [ -n "${SCALE_PRIVATE_LIBC:-}" ]; then
	mkdir -p "$tmp/lib"
	cp "$(ldd "$SCALE" | awk '/libc\.so/ {print $3}')" "$tmp/lib/"
	obj=(-O "$tmp/lib/libc.so.6")
	run=(env "LD_LIBRARY_PATH=$tmp/lib")
fi
failed=0
check()
{
	if [ "$2" == "$3" ]; then
		echo "  ok   $1: $3"
	else
		echo "  FAIL $1: expected $2, got $3"
		failed=1
	fi
}

# slab_kb: unreclaimable slab, where the map's blocks live
slab_kb() { awk '/^SUnreclaim:/ {print $2}' /proc/meminfo; }

# map_memlock PID NAME: memlock bytes of PID's BPF map NAME
map_memlock()
{
	local fd id

	for fd in /proc/"$1"/fdinfo/*; do
		id=$(awk '/^map_id:/ {print $2}' "$fd" 2>/dev/null)
		[ -n "$id" ] || continue
		if bpftool map show id "$id" 2>/dev/null | head -n 1 | grep -q " name $2 "; then
			awk '/^memlock:/ {print $2}' "$fd"
			return
		fi
	done
}

echo "== 1. tracking $BLOCKS blocks over $STACKS stacks (memleak record)"
slab0=$(slab_kb)
start=$(date +%s.%N)
# An interval longer than the run: no snapshot reads millions of blocks
# while they are being made; the one at the end has them all.
"$MEMLEAK" record "${obj[@]}" -o "$tmp/big.data" \
	-c "${run[*]} $SCALE $BLOCKS $STACKS wait" 3600 >"$tmp/rec.out" 2>"$tmp/rec.err" &
ml_pid=$!
while ! grep -q '^ready$' "$tmp/rec.out" 2>/dev/null; do
	kill -0 "$ml_pid" 2>/dev/null || break
	sleep 0.5
done
end=$(date +%s.%N)
slab1=$(slab_kb)
memlock=$(map_memlock "$ml_pid" allocs)
target=$(pgrep -P "$ml_pid" | head -n 1)
[ -n "$target" ] && kill -USR1 "$target"
wait "$ml_pid"
ml_pid=
sed -n 's/^\[ memleak record: \(.*\) \]$/  \1/p' "$tmp/rec.out" "$tmp/rec.err"
printf '  %d blocks made in %.1f s while traced (%.1f us each)\n' "$BLOCKS" \
	"$(echo "$end - $start" | bc)" "$(echo "($end - $start) * 1000000 / $BLOCKS" | bc -l)"
echo "  allocs map memlock: $(( ${memlock:-0} / 1048576 )) MiB;" \
     "unreclaimable slab grew $(( (slab1 - slab0) / 1024 )) MiB while the blocks were made"
"$MEMLEAK" report -i "$tmp/big.data" --stdio -T 1 >"$tmp/big.rep" 2>&1
check "blocks tracked" "$BLOCKS" \
	"$(sed -n 's/^# outstanding *: [0-9]* bytes in \([0-9]*\) allocations.*/\1/p' "$tmp/big.rep")"
check "stacks" "$STACKS" "$(sed -n 's/^# outstanding *:.*, \([0-9]*\) stacks$/\1/p' "$tmp/big.rep")"
check "losses" none "$(sed -n 's/^# lost *: //p' "$tmp/big.rep")"

echo "== 2. report time, $RBLOCKS blocks over $STACKS stacks"
"$MEMLEAK" -v -o 0 "${obj[@]}" -c "${run[*]} $SCALE $RBLOCKS $STACKS wait" 3600 \
	>"$tmp/live.out" 2>"$tmp/live.err" &
ml_pid=$!
while ! grep -q '^ready$' "$tmp/live.out" 2>/dev/null; do
	kill -0 "$ml_pid" 2>/dev/null || break
	sleep 0.2
done
kill -INT "$ml_pid"
wait "$ml_pid"
ml_pid=
echo "  live (memleak -v):$(sed -n 's/^memleak: debug: report://p' "$tmp/live.err" | tail -n 1)"

"$MEMLEAK" record "${obj[@]}" -o "$tmp/r.data" -c "${run[*]} $SCALE $RBLOCKS $STACKS" 3600 \
	>"$tmp/rrec.out" 2>&1
for i in 1 2 3; do
	start=$(date +%s.%N)
	"$MEMLEAK" report -i "$tmp/r.data" --stdio >"$tmp/r.rep" 2>&1
	end=$(date +%s.%N)
	printf '  memleak report (all %s stacks symbolized, %s lines): %.3f s\n' \
		"$(sed -n 's/^# outstanding *:.*, \([0-9]*\) stacks$/\1/p' "$tmp/r.rep")" \
		"$(wc -l <"$tmp/r.rep")" "$(echo "$end - $start" | bc)"
done
exit $failed
