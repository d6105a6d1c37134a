#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak record + report: the report of a recording equals the live report
# of the same workload; header, filters, sort keys, call graph order,
# growth; -p with --duration; truncated, empty, random, corrupt and newer
# files each give their clear error or warning.
. "$(dirname "$0")/../lib.sh"
build_targets

L=leaky.c
M=leaky
DATA=$OUT/leaky.data

# report_stacks FILE: the entries of a "memleak report" text output in the
# form of lib.sh's stacks: "BYTES ALLOCS<TAB>FRAME<TAB>FRAME...".
report_stacks()
{
	awk '
	/^  +[0-9.]+%  / { if (rec != "") print rec; rec = $2 " " $3; next }
	/^            ---/ { sub(/^            ---/, ""); rec = rec "\t" $0; next }
	/^               [^ ]/ { sub(/^               /, ""); rec = rec "\t" $0; next }
	END { if (rec != "") print rec }' "$1"
}

# ---------------------------------------------------------------- record -c, same as live
ml live -c "./build/targets/leaky all"
check_exit "live: exits 0" 0
ml record record -o "$DATA" -- ./build/targets/leaky all
check_exit "record: exits with the command's status 0" 0
check_grep "record: says what it wrote" '^\[ memleak record: wrote [0-9.]+ MB to .*leaky.data: 130 outstanding blocks, 6 stacks, [0-9]+ snapshots \]$' "$ML_ERR"
check_eq "record: the data file starts with the magic" "MLEAKDAT" "$(head -c 8 "$DATA")"

ml report report -i "$DATA" --stdio
REPORT=$ML_OUT
check_exit "report: exits 0" 0
# (libc's aliases, strdup and __strdup, are named either way from one run
# to the next by the symbolizer: compared without leading underscores)
check_eq "report: same stacks, bytes and counts as the live report" \
	"$(stacks "$OUT/live.out" | sed -e 's/\t__*/\t/g' | sort)" \
	"$(report_stacks "$REPORT" | sed -e 's/\t__*/\t/g' | sort)"
check_grep "report: header names the command" "^# target +: './build/targets/leaky' 'all' \(pid [0-9]+, comm leaky\)$" "$REPORT"
check_grep "report: header has the totals" '^# outstanding +: 113752 bytes in 130 allocations, 6 stacks$' "$REPORT"
LIVE_LOST=$(sed -n -e 's/^\tlost: /# lost: /p' "$OUT/live.out")
check_eq "report: header has the live run's losses" "${LIVE_LOST:-# lost           : none}" \
	"$(grep -E '^# lost( |:)' "$REPORT")"
check_grep "report: header has the duration" '^# duration +: [0-9]+\.[0-9]{3} s, [0-9]+ snapshots$' "$REPORT"
check_grep "report: first entry 87.91% 100000 bytes in 1 allocation at leak_realloc" \
	'^ +87\.91% +100000 +1 +0 B/s +leaky +\[\.\] leak_realloc$' "$REPORT"
check_eq "report: entries sorted by bytes" "100000 1,5000 5,4800 100,3200 10,512 4,240 10" \
	"$(report_stacks "$REPORT" | cut -f1 | paste -sd, -)"
check_grep "report: call chain leaf first, with source lines" \
	"^            ---$(frame leak_direct $M $L "$(line_of $L direct)")$" "$REPORT"
check_grep "report: the caller under it" \
	"^               $(frame main $M $L "$(call_of $L direct)")$" "$REPORT"

ml caller report -i "$DATA" --stdio -g caller
check_grep "-g caller: chains start at _start" '^            ---_start\+0x[0-9a-f]+ \[leaky\]$' "$ML_OUT"
check_no_grep "-g caller: no chain starts at a leaf" '^            ---leak_' "$ML_OUT"

ml count report -i "$DATA" --stdio --sort count
check_eq "--sort count: by allocations" "4800 100,3200 10,240 10,5000 5,512 4,100000 1" \
	"$(report_stacks "$ML_OUT" | cut -f1 | paste -sd, -)"

ml minsize report -i "$DATA" --stdio --min-size 500
check_eq "--min-size 500: blocks of 500 bytes and more" "100000 1,5000 5" \
	"$(report_stacks "$ML_OUT" | cut -f1 | paste -sd, -)"
ml symbol report -i "$DATA" --stdio --symbol leak_calloc
check_eq "--symbol leak_calloc: its stack only" "3200 10" \
	"$(report_stacks "$ML_OUT" | cut -f1 | paste -sd, -)"
check_grep "--symbol: the header shows the filtered totals" \
	'^# outstanding +: 113752 bytes in 130 allocations \(shown: 3200 bytes in 10 allocations\), 1 stacks$' "$ML_OUT"
ml percent report -i "$DATA" --stdio --percent-limit 4.3
check_eq "--percent-limit 4.3: entries of 4.3% and more" "100000 1,5000 5" \
	"$(report_stacks "$ML_OUT" | cut -f1 | paste -sd, -)"
ml pidf report -i "$DATA" --stdio --pid 1
check_eq "--pid 1: nothing" "" "$(report_stacks "$ML_OUT")"
ml commf report -i "$DATA" --stdio --comm leaky
check_eq "--comm leaky: everything" 6 "$(report_stacks "$ML_OUT" | wc -l)"
ml commx report -i "$DATA" --stdio --comm other
check_eq "--comm other: nothing" "" "$(report_stacks "$ML_OUT")"
ml older report -i "$DATA" --stdio --older 600000
check_eq "--older 600000 (10 minutes): nothing" "" "$(report_stacks "$ML_OUT")"
ml allocs report -i "$DATA" --stdio --symbol leak_memalign -a
check_count "-a: a line per block (5 + 4)" 9 '^               addr 0x[0-9a-f]+ size (1000|128) age [0-9.]+s$' "$ML_OUT"
ml piped report -i "$DATA"
check_grep "report without --stdio into a pipe: no pager, same text" '^# Overhead' "$ML_OUT"
# on a terminal (script(1) gives one): through the pager, not with --stdio
MEMLEAK_PAGER='sed s/^/PAGED:/' script -qec "$MEMLEAK report -i $DATA" /dev/null >"$OUT/tty.out" 2>&1
check_grep "report on a terminal: through the pager" '^PAGED:# Overhead' "$OUT/tty.out"
MEMLEAK_PAGER='sed s/^/PAGED:/' script -qec "$MEMLEAK report -i $DATA --stdio" /dev/null >"$OUT/tty-stdio.out" 2>&1
check_no_grep "report --stdio on a terminal: no pager" '^PAGED:' "$OUT/tty-stdio.out"
check_grep "report --stdio on a terminal: the report" '^# Overhead' "$OUT/tty-stdio.out"

# ---------------------------------------------------------------- growth
cat >"$OUT/grow.c" <<'C'
#include <stdlib.h>
#include <unistd.h>
void *volatile sink;
void leak_once(void) { sink = malloc(100000); }
void leak_grow(void) { sink = malloc(1024); }
int main(int argc, char **argv)
{
	int n = atoi(argv[1]);

	leak_once();
	for (int i = 0; i < n; i++) {
		leak_grow();
		usleep(50000);
	}
	return 0;
}
C
cc -g -O0 -fno-omit-frame-pointer "$OUT/grow.c" -o "$OUT/grow" || fail "build grow.c"
ml grow-rec record -o "$OUT/grow.data" -- "$OUT/grow" 80
check_exit "grow: record exits 0" 0
ml grow-bytes report -i "$OUT/grow.data" --stdio
check_grep "grow: by bytes, leak_once (100000) first" '^ +[0-9.]+% +100000 +1 +0 B/s +grow +\[\.\] leak_once$' "$ML_OUT"
ml grow report -i "$OUT/grow.data" --stdio --sort growth
check_grep "grow: --sort growth puts leak_grow first, about +20 KiB/s" \
	'^ +[0-9.]+% +81920 +80 +\+(1[6-9]|2[0-4])\.[0-9] KiB/s +grow +\[\.\] leak_grow$' "$ML_OUT"
check_eq "grow: --sort growth order" "81920 80,100000 1" \
	"$(report_stacks "$ML_OUT" | cut -f1 | paste -sd, -)"

# ---------------------------------------------------------------- -p, --duration
bg wait ./build/targets/leaky wait
wait_for "$OUT/wait.out" ready 10 || fail "leaky wait did not start"
TARGET=$BG_PID
bg pid "$MEMLEAK" record -p "$TARGET" --duration 2 -o "$OUT/pid.data"
REC=$BG_PID
wait_for "$OUT/pid.err" '^Attaching to pid' 10 || fail "record -p did not attach" "$(cat "$OUT/pid.err")"
kill -USR1 "$TARGET"
wait_exit "$REC" 20
check_eq "-p --duration 2: exits 0 by itself" 0 "$WAIT_RC"
check_no_events "-p: no tracefs events left behind" "$REC"
ml pid-rep report -i "$OUT/pid.data" --stdio
check_grep "-p: 7770 bytes in 10 allocations (the SIGUSR1 leak)" '^ +100\.00% +7770 +10 +.* +leaky +\[\.\] leak_on_signal$' "$ML_OUT"
check_grep "-p: duration about 2 s" '^# duration +: 2\.[0-9]{3} s' "$ML_OUT"
check_grep "-p: the comm is known" "^# target +: pid $TARGET \(comm leaky\)$" "$ML_OUT"

# ---------------------------------------------------------------- Ctrl-C; a pipe
bg wait2 "$TARGETS/leaky" wait
TARGET2=$BG_PID
wait_for "$OUT/wait2.out" ready 10 || fail "leaky wait (2) did not start"
bg int "$MEMLEAK" record -p "$TARGET2" -o "$OUT/int.data"
REC=$BG_PID
wait_for "$OUT/int.err" '^Attaching to pid' 10 || fail "record -p (2) did not attach"
kill -USR1 "$TARGET2"
wait_for "$OUT/wait2.out" leaked 10
sleep 1.2
kill -INT "$REC"
wait_exit "$REC" 20
check_eq "Ctrl-C: record exits 0" 0 "$WAIT_RC"
check_no_events "Ctrl-C: no tracefs events left behind" "$REC"
ml int-rep report -i "$OUT/int.data" --stdio
check_no_grep "Ctrl-C: the file is complete (no warning)" 'truncated' "$ML_ERR"
check_grep "Ctrl-C: the leak is in it" '^ +100\.00% +7770 +10 ' "$ML_OUT"
cat "$OUT/int.data" | "$MEMLEAK" report -i - --stdio >"$OUT/stdin.out" 2>&1
check_grep "report -i -: reads a pipe" '^ +100\.00% +7770 +10 ' "$OUT/stdin.out"

# ---------------------------------------------------------------- .old, a command that cannot run
cp "$DATA" "$OUT/again.data"
ml again record -o "$OUT/again.data" -- ./build/targets/leaky direct
check_exit "record over a file: exits 0" 0
check_eq "record over a file: the old one is FILE.old" "$(md5sum <"$DATA")" "$(md5sum <"$OUT/again.data.old")"
cp "$DATA" "$OUT/keep.data"
ml norun record -o "$OUT/keep.data" -- ./nonexistent-program
check_exit "record -- a command not found: exit 2" 2
check_grep "record -- a command not found: says so" "cannot run './nonexistent-program': command not found" "$ML_ERR"
check_eq "record -- a command not found: the file is left as it was" "$(md5sum <"$DATA")" "$(md5sum <"$OUT/keep.data")"

# ---------------------------------------------------------------- another machine
# The binary moves away after recording: --symfs finds it by its recorded
# path under DIR; a different file at the path is named as such (build-id).
mkdir -p "$OUT/bin" "$OUT/symfs"
cp "$TARGETS/leaky" "$OUT/bin/leaky"
ml moved-rec record -o "$OUT/moved.data" -- "$OUT/bin/leaky" direct
mkdir -p "$OUT/symfs$OUT/bin"
mv "$OUT/bin/leaky" "$OUT/symfs$OUT/bin/leaky"
ml moved report -i "$OUT/moved.data" --stdio
check_exit "binary gone: report still exits 0" 0
check_grep "binary gone: 4800 bytes in 100 allocations, frames unnamed" '^ +[0-9.]+% +4800 +100 .* \[\.\] \[unknown\]$' "$ML_OUT"
ml symfs report -i "$OUT/moved.data" --stdio --symfs "$OUT/symfs"
check_grep "--symfs: named again" "^            ---$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")$" "$ML_OUT"
cc -g -O0 -o "$OUT/bin/leaky" -x c - <<<'int main(void) { return 0; }'
ml rebuilt report -i "$OUT/moved.data" --stdio
check_grep "another file at the path: a build-id warning" "warning: $(ere "$OUT/bin/leaky"): build-id differs from the recorded one" "$ML_ERR"

# ---------------------------------------------------------------- bad files
size=$(stat -c %s "$DATA")
head -c $((size - 100)) "$DATA" >"$OUT/cut.data"
ml cut report -i "$OUT/cut.data" --stdio
check_exit "truncated: still reports (exit 0)" 0
check_grep "truncated: a warning on stderr" "warning: .*cut.data: truncated after byte [0-9]+ of $((size - 100)) \(record was killed\?\)" "$ML_ERR"
check_grep "truncated: the header says so" '^# WARNING +: truncated recording' "$ML_OUT"
check_grep "truncated: the last snapshot's totals" '^ +[0-9.]+% +100000 +1 ' "$ML_OUT"

: >"$OUT/zero.data"
ml zero report -i "$OUT/zero.data" --stdio
check_exit "zero-length: exit 1" 1
check_grep "zero-length: clear error" 'zero.data: empty file \(0 bytes\): not a memleak data file$' "$ML_ERR"

head -c 65536 /dev/urandom >"$OUT/random.data"
ml random report -i "$OUT/random.data" --stdio
check_exit "random: exit 1" 1
check_grep "random: clear error" "random.data: not a memleak data file \(no 'MLEAKDAT' magic\)$" "$ML_ERR"

cp "$DATA" "$OUT/newer.data"
printf '\x09' | dd of="$OUT/newer.data" bs=1 seek=8 conv=notrunc status=none
ml newer report -i "$OUT/newer.data" --stdio
check_exit "newer version: exit 1" 1
check_grep "newer version: clear error" 'newer.data: format version 9 is newer than this memleak reads \(version 1\): use a newer memleak$' "$ML_ERR"

cp "$DATA" "$OUT/corrupt.data"
printf 'XXXX' | dd of="$OUT/corrupt.data" bs=1 seek=$((size / 2)) conv=notrunc status=none
ml corrupt report -i "$OUT/corrupt.data" --stdio
check_exit "corrupt: exit 1" 1
check_grep "corrupt: clear error" 'corrupt.data: corrupt at byte [0-9]+: ' "$ML_ERR"

ml missing report -i "$OUT/nonexistent.data" --stdio
check_exit "missing file: exit 1" 1
check_grep "missing file: clear error" 'nonexistent.data: cannot open: No such file or directory$' "$ML_ERR"

finish
