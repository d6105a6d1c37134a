#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak at scale: 1,200,000 outstanding blocks (more than the old default
# capacity of 1,048,576) over 50,000 distinct stacks (more than the old
# 16,384) are all tracked, none lost, each stack apart; a capacity set too
# small says exactly what it lost.  Speed is measured by bench/scale.sh.
. "$(dirname "$0")/../lib.sh"
build_targets

S=./build/targets/scale
BLOCKS=1200000
STACKS=50000
PER=$((BLOCKS / STACKS))		# 24 blocks of 16 bytes a stack
DATA=$OUT/scale.data
L=scale.c
ML_TIMEOUT=240

# ---------------------------------------------------------------- 1.2M blocks
ml record record -o "$DATA" -c "$S $BLOCKS $STACKS" 3600
check_exit "record: exits 0" 0
check_grep "record: all blocks and stacks written" \
	"^\[ memleak record: wrote [0-9.]+ MB to .*scale.data: $BLOCKS outstanding blocks, $STACKS stacks, [0-9]+ snapshots \]$" \
	"$ML_ERR"

# Through libc uprobes, whose BPF unwinder remembers a thread's stacks by
# where the walk began, and their outer frames by where the fifth frame is:
# every leaf() calls malloc at the same pc and sp, and four descend() call
# sites make the fifth frames, the return addresses above tell the 5000
# stacks apart.
ml record-uprobes record -o "$OUT/uprobes.data" --no-preload -c "$S 20000 5000" 3600
check_exit "record --no-preload: exits 0" 0
check_grep "record --no-preload: 20000 blocks in 5000 stacks" \
	"^\[ memleak record: wrote [0-9.]+ MB to .*uprobes.data: 20000 outstanding blocks, 5000 stacks, [0-9]+ snapshots \]$" \
	"$ML_ERR"
# The same under nine more frames, the same in every stack: the fifth and
# the eleventh frames are too (where the unwinder's remembered tails start),
# the return addresses past the eleventh tell the stacks apart.
ml record-uprobes-deep record -o "$OUT/uprobes-deep.data" --no-preload -c "$S 20000 5000 deep" 3600
check_exit "record --no-preload, deep: exits 0" 0
check_grep "record --no-preload, deep: 20000 blocks in 5000 stacks" \
	"^\[ memleak record: wrote [0-9.]+ MB to .*uprobes-deep.data: 20000 outstanding blocks, 5000 stacks, [0-9]+ snapshots \]$" \
	"$ML_ERR"

ml report report -i "$DATA" --stdio
REPORT=$ML_OUT
check_exit "report: exits 0" 0
check_grep "report: every block, in $STACKS stacks" \
	"^# outstanding +: $((BLOCKS * 16)) bytes in $BLOCKS allocations, $STACKS stacks$" "$REPORT"
check_grep "report: nothing lost" '^# lost +: none$' "$REPORT"
# Each entry's call chain as one line: as many distinct chains as stacks.
chains=$(awk '
	/^ +[0-9.]+% / { if (c != "") print c; c = $2 " " $3; next }
	/^            ---/ { sub(/^ +---/, ""); c = c ";" $0; next }
	/^               [^ ]/ { sub(/^ +/, ""); c = c ";" $0; next }
	END { if (c != "") print c }' "$REPORT")
check_eq "report: $STACKS entries of $((PER * 16)) bytes in $PER allocations" \
	"$STACKS $((PER * 16)) $PER" \
	"$(cut -d';' -f1 <<<"$chains" | sort | uniq -c | awk '{print $1, $2, $3}' | paste -sd, -)"
check_eq "report: $STACKS distinct call chains" "$STACKS" \
	"$(cut -d';' -f2- <<<"$chains" | sort -u | wc -l)"
# 50,000 indexes need 8 levels of four call sites: leaf, 9 descend frames, main.
check_eq "report: a chain is leaf, 9 descend frames, main" \
	"leaf descend descend descend descend descend descend descend descend descend main" \
	"$(head -n 1 <<<"$chains" | cut -d';' -f2-12 | tr ';' '\n' | sed 's/+.*//' | paste -sd' ' -)"
check_grep "report: the leaf frame is the malloc call" \
	"^            ---$(frame leaf scale $L "$(call_of $L malloc)")$" "$REPORT"

# ---------------------------------------------------------------- fp stacks
# Frame-pointer stacks are stored by hash too: no two share a slot.
ml fp --call-graph fp -c "$S 100000 $STACKS"
check_exit "--call-graph fp: exits 0" 0
check_no_grep "--call-graph fp: $STACKS stacks, none lost" "$RE_LOST" "$ML_OUT"
check_sizes "--call-graph fp: 2 blocks a stack" "$ML_OUT" \
	"32 2,32 2,32 2,32 2,32 2,32 2,32 2,32 2,32 2,32 2"

# ---------------------------------------------------------------- capacities
ml blocks -o 0 --max-blocks 1000 -c "$S 1500 10"
check_exit "--max-blocks 1000: exits 0" 0
check_grep "--max-blocks 1000: 500 blocks not tracked, said" \
	$'^\tlost: 500 allocations not tracked \\(allocation map full' "$ML_OUT"
check_sizes "--max-blocks 1000: the 1000 tracked, 100 a stack" "$ML_OUT" \
	"1600 100,1600 100,1600 100,1600 100,1600 100,1600 100,1600 100,1600 100,1600 100,1600 100"

ml stacks -o 0 --stack-map-size 100 -c "$S 150 150"
check_exit "--stack-map-size 100: exits 0" 0
check_grep "--stack-map-size 100: 50 stacks not stored, said" \
	$'^\tlost: 50 stack traces not stored' "$ML_OUT"
check_grep "--stack-map-size 100: their 50 blocks under [stack lost]" \
	$'^\t800 bytes in 50 allocations from stack$' "$ML_OUT"
check_grep "--stack-map-size 100: shown as lost" $'^\t\t\\[stack lost: stack map full\\]$' "$ML_OUT"

ml badcap --max-blocks 0 -c "$S 1 1"
check_exit "--max-blocks 0: a usage error" 2

finish
