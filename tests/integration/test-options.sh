#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Report options: -a, --combined-only, -z/-Z, -s, --sort, -T, -o (with -c).
. "$(dirname "$0")/../lib.sh"
build_targets

L=leaky.c
DIRECT=$(frame leak_direct leaky $L "$(line_of $L direct)")
MIXED="100000 1,5000 5,4800 100,3200 10,512 4,240 10"

# ok_run NAME: the last run exited 0 with one report (losses are checked by
# test-modes.sh, for each mode)
ok_run()
{
	check_exit "$1: exits 0" 0
	check_reports "$1: one final report" "$ML_OUT" 1
}

# -a: each block before its stack's line
ml show-allocs -a -c "./build/targets/leaky direct"
ok_run "-a"
RE_ADDR=$'^\taddr = (0x)?[0-9a-f]+ size = 48 age = [0-9]+\\.[0-9]{3}s$'
check_count "-a: 100 lines 'addr = HEX size = 48 age = S.SSSs'" 100 "$RE_ADDR" "$ML_OUT"
check_count "-a: no other addr lines" 100 $'^\taddr = ' "$ML_OUT"
check_eq "-a: 100 distinct addresses" 100 \
	"$(sed -nE 's/^\taddr = (0x)?([0-9a-f]+) .*/\2/p' "$ML_OUT" | sort -u | grep -c .)"
check_eq "-a: the 100 addr lines come right before '4800 bytes in 100 allocations'" \
	"100 then stack" \
	"$(awk '/^\taddr = / { n++; next }
		n && /^\t4800 bytes in 100 allocations from stack$/ { print n " then stack"; exit }
		n { print n " then: " $0; exit }' "$ML_OUT")"
check_stack "-a: the stack" "$ML_OUT" 4800 100 "$DIRECT"

ml show-allocs-memalign -a -c "./build/targets/leaky memalign"
ok_run "-a memalign"
check_eq "-a memalign: blocks listed under their own stack" \
	"5x1000 5000 4x128 512" \
	"$(awk '/^\taddr = /  { split($0, f, " "); sz = f[6]; n++; next }
		/bytes in/ { printf "%s%dx%s %s", sep, n, sz, $1; sep = " "; n = 0 }
		END { print "" }' "$ML_OUT")"

# --combined-only: the same totals from the in-kernel per-stack sums
ml combined --combined-only -c "./build/targets/leaky direct"
ok_run "--combined-only direct"
check_nstacks "--combined-only direct: one stack" "$ML_OUT" 1
check_stack "--combined-only direct: 4800 bytes in 100 allocations" "$ML_OUT" 4800 100 "$DIRECT"

ml combined-mixed --combined-only -c "./build/targets/leaky mixed"
ok_run "--combined-only mixed"
check_sizes "--combined-only mixed: all stacks, largest first" "$ML_OUT" "$MIXED"

ml combined-none --combined-only -c "./build/targets/leaky none"
ok_run "--combined-only none"
check_nstacks "--combined-only none: nothing outstanding" "$ML_OUT" 0

# -z 100 -Z 1000: calloc (320 each), posix_memalign (1000), aligned_alloc (128)
ml size-filter -z 100 -Z 1000 -c "./build/targets/leaky mixed"
ok_run "-z 100 -Z 1000"
check_sizes "-z 100 -Z 1000: only blocks of 100..1000 bytes" "$ML_OUT" "5000 5,3200 10,512 4"
check_stack "-z 100 -Z 1000: posix_memalign(1000) is in (bounds inclusive)" "$ML_OUT" 5000 5 \
	"$(frame leak_memalign leaky $L "$(line_of $L posix_memalign)")"

ml min-size -z 4096 -c "./build/targets/leaky mixed"
ok_run "-z 4096"
check_sizes "-z 4096: only the 100000-byte realloc" "$ML_OUT" "100000 1"

ml max-size -Z 48 -c "./build/targets/leaky mixed"
ok_run "-Z 48"
check_sizes "-Z 48: malloc(48) and strdup (24)" "$ML_OUT" "4800 100,240 10"

# -s 10: every 10th of the 100 mallocs
ml sample -s 10 -c "./build/targets/leaky direct"
ok_run "-s 10"
check_nstacks "-s 10: one stack" "$ML_OUT" 1
check_stack "-s 10: 480 bytes in 10 allocations" "$ML_OUT" 480 10 "$DIRECT"

# --sort count
ml sort-count --sort count -c "./build/targets/leaky mixed"
ok_run "--sort count"
check_eq "--sort count: most allocations first" "100,10,10,5,4,1" \
	"$(stacks "$ML_OUT" | cut -f1 | cut -d' ' -f2 | paste -sd, -)"
check_stack "--sort count: leak_direct first" "$ML_OUT" 4800 100 "$DIRECT"
check_eq "--sort count: leak_direct is the first stack" "4800 100" "$(stacks "$ML_OUT" | head -n 1 | cut -f1)"

ml sort-size --sort size -c "./build/targets/leaky mixed"
ok_run "--sort size"
check_sizes "--sort size: largest first" "$ML_OUT" "$MIXED"

# -T 1: only the largest stack
ml top1 -T 1 -c "./build/targets/leaky mixed"
ok_run "-T 1"
check_grep "-T 1: header says Top 1" $'^\\[[0-9:]{8}\\] Top 1 stacks with outstanding allocations:$' "$ML_OUT"
check_sizes "-T 1: only the largest stack" "$ML_OUT" "100000 1"
check_stack "-T 1: it is the realloc" "$ML_OUT" 100000 1 \
	"$(frame leak_realloc leaky $L "$(line_of $L realloc)")"

ml top3 -T 3 --sort count -c "./build/targets/leaky mixed"
ok_run "-T 3 --sort count"
check_eq "-T 3 --sort count: the three with most allocations" "100,10,10" \
	"$(stacks "$ML_OUT" | cut -f1 | cut -d' ' -f2 | paste -sd, -)"

# -o: no age filter in the final report of -c
ml older -o 60000 -c "./build/targets/leaky direct"
ok_run "-o 60000"
check_stack "-o 60000: the exit report has no age filter" "$ML_OUT" 4800 100 "$DIRECT"

finish
