#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# -p PID on a running process: interval reports with the age filter, COUNT,
# the target's exit.  The target (leaky wait) leaks 10 x 777 bytes in
# leak_on_signal() on each SIGUSR1 and exits on SIGTERM.
. "$(dirname "$0")/../lib.sh"
build_targets

L=leaky.c
SIGNAL_LEAK=$(frame leak_on_signal leaky $L "$(line_of $L signal)")
CALLER=$(frame wait_mode leaky $L "$(call_of $L signal)")

# start_memleak NAME ARGS...: memleak in the background; ML_* as for ml
start_memleak()
{
	local name=$1

	shift
	ml_bg "$name" "$MEMLEAK" "$@"
}

# signal_leak NAME: SIGUSR1 to the target, wait until it has leaked
signal_leak()
{
	signal_wait "$TARGET" USR1 "$TARGET_OUT" leaked && return 0
	fail "$1: the target leaks on SIGUSR1" "no 'leaked' in 10 s"
	return 1
}

# 1. memleak -p PID 1 6: six reports, one a second, then exit; the target
# keeps running.
start_target count-target
start_memleak count -p "$TARGET" 1 6
if wait_for "$ML_OUT" "$RE_HEADER" 20; then
	pass "-p 1 6: first report"
else
	fail "-p 1 6: first report" "no report header in 20 s"
	ml_context
fi
signal_leak "-p 1 6"
wait_exit "$ML_PID" 30
ML_RC=$WAIT_RC
check_exit "-p 1 6: exits 0 after 6 reports" 0
check_no_events "-p 1 6: no tracefs events left behind" "$ML_PID"
check_count "-p 1 6: 'Attaching to pid PID, Ctrl+C to quit.'" 1 \
	"^Attaching to pid $TARGET, Ctrl\\+C to quit\\.\$" "$ML_OUT"
check_reports "-p 1 6: exactly 6 reports" "$ML_OUT" 6
check_nstacks "-p 1 6: the first report is empty (leak_direct ran before attaching)" "$ML_OUT" 0 1
check_stack "-p 1 6: last report: 7770 bytes in 10 allocations at leak_on_signal" "$ML_OUT" \
	7770 10 "$SIGNAL_LEAK" "$CALLER"
check_nstacks "-p 1 6: last report: only that stack" "$ML_OUT" 1
check_no_grep "-p 1 6: no losses" "$RE_LOST" "$ML_OUT"
check_no_grep "-p 1 6: nothing from before attaching (leak_direct)" 'leak_direct' "$ML_OUT"
if kill -0 "$TARGET" 2>/dev/null; then
	pass "-p 1 6: the target still runs after memleak exits"
else
	fail "-p 1 6: the target still runs after memleak exits" "it is gone"
fi
signal_leak "-p 1 6: after memleak" && pass "-p 1 6: the target still works after memleak detached"
kill -TERM "$TARGET"
wait_exit "$TARGET" 10
check_eq "-p 1 6: the target exits 0 on SIGTERM" 0 "$WAIT_RC" "${WAIT_CTX:-}"

# 2. memleak -p PID 1 (no COUNT): stops when the target exits, with a final
# report
start_target exit-target
start_memleak exit -p "$TARGET" 1
wait_for "$ML_OUT" "$RE_HEADER" 20
signal_leak "-p, target exits"
sleep 1.2
n=$(reports "$ML_OUT")
kill -TERM "$TARGET"
wait_exit "$TARGET" 10
wait_exit "$ML_PID" 15
ML_RC=$WAIT_RC
check_exit "-p, target exits: memleak exits 0 by itself" 0
check_no_events "-p, target exits: no tracefs events left behind" "$ML_PID"
if [ "$(reports "$ML_OUT")" -gt "$n" ]; then
	pass "-p, target exits: a final report after the target exited"
else
	fail "-p, target exits: a final report after the target exited" \
		"reports before SIGTERM: $n, in all: $(reports "$ML_OUT")"
	ml_context
fi
check_stack "-p, target exits: final report: 7770 bytes in 10 allocations" "$ML_OUT" \
	7770 10 "$SIGNAL_LEAK" "$CALLER"

# 3. -o 60000: no block is old enough for an interval report
start_target older-target
start_memleak older -o 60000 -p "$TARGET" 1 3
wait_for "$ML_OUT" "$RE_HEADER" 20
signal_leak "-o 60000"
wait_exit "$ML_PID" 30
ML_RC=$WAIT_RC
check_exit "-o 60000 -p 1 3: exits 0" 0
check_reports "-o 60000 -p 1 3: 3 reports" "$ML_OUT" 3
check_count "-o 60000 -p 1 3: blocks younger than 60 s are not reported" 0 "$RE_BYTES" "$ML_OUT"

# 4. -o 0 with two leaks: both in the report, 15540 bytes in 20 allocations
start_memleak older0 -o 0 -p "$TARGET" 1 3
wait_for "$ML_OUT" "$RE_HEADER" 20
signal_leak "-o 0" && signal_leak "-o 0"
wait_exit "$ML_PID" 30
ML_RC=$WAIT_RC
check_exit "-o 0 -p 1 3: exits 0" 0
check_stack "-o 0 -p 1 3: two signals: 15540 bytes in 20 allocations" "$ML_OUT" \
	15540 20 "$SIGNAL_LEAK" "$CALLER"
kill -TERM "$TARGET"
wait_exit "$TARGET" 10

# 5. -p --inject: the preload library loaded into the running process, its
# allocator calls pointed at it: the same report as the uprobes give; the
# process goes on allocating from libc after memleak left.
start_target inject-target
start_memleak inject -p "$TARGET" --inject 1 4
wait_for "$ML_OUT" "$RE_HEADER" 20
signal_leak "--inject"
wait_exit "$ML_PID" 30
ML_RC=$WAIT_RC
check_exit "-p --inject 1 4: exits 0 after 4 reports" 0
check_reports "-p --inject 1 4: exactly 4 reports" "$ML_OUT" 4
check_stack "-p --inject: 7770 bytes in 10 allocations at leak_on_signal" "$ML_OUT" \
	7770 10 "$SIGNAL_LEAK" "$CALLER"
check_nstacks "-p --inject: last report: only that stack" "$ML_OUT" 1
check_no_grep "-p --inject: no losses" "$RE_LOST" "$ML_OUT"
check_grep "-p --inject: the library is loaded in the process" \
	'libmemleak-preload\.so' "/proc/$TARGET/maps"
signal_leak "-p --inject: after memleak" &&
	pass "-p --inject: the target still works after memleak undid the redirection"
kill -TERM "$TARGET"
wait_exit "$TARGET" 30	# the library still loaded: seen taking over 10 s in CI
check_eq "-p --inject: the target exits 0 on SIGTERM" 0 "$WAIT_RC" "${WAIT_CTX:-}"

# 6. -p --inject --sample-bytes: the library, loaded already, is told the
# rate by memleak (ml_preload_configure) and each run may change it.  At a
# sample per GiB none of the 10 blocks of 777 bytes is a sample (that they
# would be, 1 in 138,000); then every block is recorded again; then at a
# sample per 16 bytes each is a sample of weight 1: the exact totals.
# Also with the leaks in a second thread (wait-thread), while memleak
# borrows the first to set the rate: the count-down that thread drew at a
# sample per GiB must not let the next run's blocks through unrecorded.
for mode in wait wait-thread; do
	start_target "inject-sampled-$mode" $mode
	for run in "1g 0" "none 10" "16 10"; do
		set -- $run
		opt=--sample-bytes=$1
		[ "$1" == none ] && opt=
		what="-p --inject ${opt:-after a sampled run} ($mode)"
		start_memleak "inject-sampled-$mode-$1" -p "$TARGET" --inject $opt 1 3
		wait_for "$ML_OUT" "$RE_HEADER" 20
		signal_leak "$what"
		wait_exit "$ML_PID" 30
		ML_RC=$WAIT_RC
		check_exit "$what: exits 0" 0
		if [ "$2" == 0 ]; then
			check_nstacks "$what: no sample among 10 blocks" "$ML_OUT" 0
		else
			check_stack "$what: 7770 bytes in 10 allocations" \
				"$ML_OUT" 7770 10 "$SIGNAL_LEAK" "$CALLER"
			check_nstacks "$what: only that stack" "$ML_OUT" 1
		fi
		check_no_grep "$what: no losses" "$RE_LOST" "$ML_OUT"
	done
	kill -TERM "$TARGET"
	wait_exit "$TARGET" 30	# the library still loaded: seen taking over 10 s in CI
	check_eq "-p --inject --sample-bytes ($mode): the target exits 0 on SIGTERM" 0 \
		"$WAIT_RC" "${WAIT_CTX:-}"
done

# 7. More sampled blocks than the library's set of them holds: injected,
# blocks get no header, so each sampled one's free is found through the
# set.  At a sample per 16 bytes each of 1,000,000 blocks of 512 bytes is
# a sample of weight 1.  Those the set has no room for are not tracked (a
# free of theirs would go unseen), and the report counts them: with the
# blocks it shows, all 1,000,000.
MANY=$(frame leak_many leaky $L "$(line_of $L many)")
start_target many-target wait 1000000
start_memleak inject-full -p "$TARGET" --inject --sample-bytes=16 2 4
wait_for "$ML_OUT" "$RE_HEADER" 20
signal_leak "--inject, the set full"
wait_exit "$ML_PID" 60
ML_RC=$WAIT_RC
check_exit "--inject, the set full: exits 0" 0
untracked=$(sed -n 's/^\tlost: \([0-9]*\) sampled blocks not tracked .*/\1/p' "$ML_OUT" | tail -1)
if rec=$(find_stack "$ML_OUT" last "$MANY"); then
	read -r bytes allocs _ <<<"$rec"
	check_eq "--inject, the set full: some blocks not tracked" 1 \
		"$(( ${untracked:-0} > 0 && allocs > 0 ))"
	check_eq "--inject, the set full: shown and not tracked are all the blocks" \
		1000000 "$(( allocs + ${untracked:-0} ))"
	check_eq "--inject, the set full: 512 bytes a block shown" \
		$(( allocs * 512 )) "$bytes"
else
	fail "--inject, the set full: a stack at leak_many" "$(stacks_pretty "$ML_OUT")"
	ml_context
fi
kill -TERM "$TARGET"
wait_exit "$TARGET" 30

ml sample-no-inject -p "$$" --sample-bytes
check_exit "-p --sample-bytes without --inject: usage error" 2
check_grep "-p --sample-bytes without --inject: says it needs --inject" \
	'with -p it needs --inject' "$ML_ERR"

ml inject-no-pid --inject -c true
check_exit "--inject without -p: usage error" 2
check_grep "--inject without -p: says it needs -p" 'only with -p' "$ML_ERR"
bg static-target ./build/targets/leaky-static wait
wait_for "$OUT/static-target.out" '^ready$' 10
ml inject-static -p "$BG_PID" --inject 1 1
check_exit "-p --inject on a static program: fails" 1
check_grep "-p --inject on a static program: says why" 'statically linked' "$ML_ERR"
kill -TERM "$BG_PID"
wait_exit "$BG_PID" 10

finish
