#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Loading a library into a running process and redirecting its allocator
# to it (lib/target/inject.c, for memleak -p PID --inject), driven by
# tests/helpers/inject.c.  The target, tests/targets/injectee.c, counts
# how many of a known set of its allocation calls (per thread, main first)
# reached build/targets/libcountalloc.so: 2280 once redirected, 0 before
# and after an undo.  Every target must go on working and exit 0.
. "$(dirname "$0")/../lib.sh"

build_targets
HELPERS=$ROOT/build/helpers
INJECT=$HELPERS/inject
LIB=$TARGETS/libcountalloc.so
FULL=2280
mkdir -p "$HELPERS"
if ! cc -O2 -g -Wall -I"$ROOT/lib" -o "$INJECT" tests/helpers/inject.c \
	build/lib/target/inject.o build/lib/util/util.o -lelf 2>"$OUT/cc.log"; then
	fail "build tests/helpers/inject.c (needs make first)" "$(cat "$OUT/cc.log")"
	finish
fi

# inject NAME ARGS...: run the helper; INJ_OUT, INJ_ERR, INJ_RC.
inject()
{
	local name=$1

	shift
	INJ_OUT=$OUT/$name.out
	INJ_ERR=$OUT/$name.err
	timeout -k 5 60 "$INJECT" "$@" >"$INJ_OUT" 2>"$INJ_ERR"
	INJ_RC=$?
}

# check_inject DESC: the last inject succeeded.
check_inject()
{
	if [ "$INJ_RC" == 0 ] && grep -q '^injected ' "$INJ_OUT"; then
		pass "$1"
	else
		fail "$1" "exit $INJ_RC" "$(cat "$INJ_OUT" "$INJ_ERR")"
	fi
}

# check_inject_fails DESC ERE: the last inject failed with that message.
check_inject_fails()
{
	if [ "$INJ_RC" == 1 ] && grep -Eq -- "$2" "$INJ_ERR"; then
		pass "$1"
	else
		fail "$1" "expected exit 1 and a message matching: $2" \
			"exit $INJ_RC" "$(cat "$INJ_OUT" "$INJ_ERR")"
	fi
}

# start NAME ARGS...: injectee ARGS in the background until it says ready;
# TARGET, TARGET_OUT.
start()
{
	local name=$1

	shift
	bg "$name" "$TARGETS/injectee" "$LIB" "$@"
	TARGET=$BG_PID
	TARGET_OUT=$OUT/$name.out
	if ! wait_for "$TARGET_OUT" '^ready$' 10; then
		fail "$name: the target starts" "no 'ready' in 10 s" "$(cat "$TARGET_OUT")"
		finish
	fi
}

# report: ask the loop target for a report; REPORT is its probes field,
# TOTAL its count of all calls the library saw.
report()
{
	signal_wait "$TARGET" USR1 "$TARGET_OUT" 'report .*' ||
		fail "a report from the target" "none in 10 s"
	REPORT=$(grep -E '^report ' "$TARGET_OUT" | tail -n 1 | sed -E 's/^report probes=([^ ]*) .*/\1/')
	TOTAL=$(grep -E '^report ' "$TARGET_OUT" | tail -n 1 | sed -E 's/.* total=//')
}

# repeat N WORD: "WORD,WORD,..." N times.
repeat()
{
	local s=$2 i

	for ((i = 1; i < $1; i++)); do
		s+=",$2"
	done
	echo "$s"
}

# stop_target DESC: SIGTERM; it must exit 0 after "bye".
stop_target()
{
	kill -TERM "$TARGET"
	wait_exit "$TARGET" 10
	check_eq "$1" 0 "$WAIT_RC" "${WAIT_CTX:-}"
}

# ---- one thread, allocating in a loop
start single loop
report
check_eq "single: before, no call reaches the library" 0 "$REPORT"
inject single-inject "$TARGET" "$LIB"
check_inject "single: injected"
check_grep "single: one thread stopped" ' threads=1 ' "$INJ_OUT"
check_grep "single: the program and libc patched" ' objects=2 ' "$INJ_OUT"
check_grep "single: the library lacks only malloc_usable_size" ' missing=1 ' "$INJ_OUT"
report
check_eq "single: after, every call reaches it (libc's inside strdup too)" "$FULL" "$REPORT"
t1=$TOTAL
sleep 0.2
report
if [ "$TOTAL" -gt $((t1 + FULL)) ]; then
	pass "single: the loop's own allocations are counted too"
else
	fail "single: the loop's own allocations are counted too" \
		"total before $t1, after $TOTAL (a probe is $FULL)"
fi
stop_target "single: exits 0 after the injection"

# ---- eight threads; then undo
start threads loop 8
report
check_eq "threads: before" "$(repeat 9 0)" "$REPORT"
bg threads-hold "$INJECT" -H "$TARGET" "$LIB"
HOLD=$BG_PID
INJ_OUT=$OUT/threads-hold.out
INJ_ERR=$OUT/threads-hold.err
if wait_for "$INJ_OUT" '^injected ' 30; then INJ_RC=0; else INJ_RC=1; fi
check_inject "threads: injected"
check_grep "threads: nine threads stopped" ' threads=9 ' "$INJ_OUT"
report
check_eq "threads: every thread's calls reach the library" "$(repeat 9 $FULL)" "$REPORT"
kill -USR1 "$HOLD"
wait_exit "$HOLD" 30
check_eq "threads: undo exits 0" 0 "$WAIT_RC" "${WAIT_CTX:-}"
check_grep "threads: undone" '^undone$' "$INJ_OUT"
report
check_eq "threads: after the undo no call reaches it" "$(repeat 9 0)" "$REPORT"
t1=$TOTAL
report
check_eq "threads: nothing calls it any more" "$t1" "$TOTAL"
inject threads-again "$TARGET" "$LIB"
check_inject "threads: injected again after the undo"
report
check_eq "threads: redirected again" "$(repeat 9 $FULL)" "$REPORT"
stop_target "threads: exits 0"

# ---- threads created and exiting all the time
start churn churn 4
for i in 1 2 3; do
	bg churn-$i "$INJECT" -H "$TARGET" "$LIB"
	HOLD=$BG_PID
	if wait_for "$OUT/churn-$i.out" '^injected ' 30; then
		pass "churn $i: injected"
	else
		fail "churn $i: injected" "$(cat "$OUT/churn-$i.out" "$OUT/churn-$i.err")"
	fi
	report
	check_eq "churn $i: redirected" "$FULL" "$REPORT"
	kill -USR1 "$HOLD"
	wait_exit "$HOLD" 30
	check_eq "churn $i: undo exits 0" 0 "$WAIT_RC" "${WAIT_CTX:-}"
	report
	check_eq "churn $i: undone" 0 "$REPORT"
done
stop_target "churn: exits 0"

# ---- blocked in read(): the call restarts, no EINTR
FIFO=$OUT/fifo
rm -f "$FIFO"
mkfifo "$FIFO"
exec 7<>"$FIFO"
bg_fifo()
{
	"$TARGETS/injectee" "$LIB" read <&7 >"$OUT/read.out" 2>"$OUT/read.err" &
	TARGET=$!
	BG_PIDS+=("$TARGET")
	TARGET_OUT=$OUT/read.out
}
bg_fifo
wait_for "$TARGET_OUT" '^ready$' 10
sleep 0.1
check_eq "read: blocked in read() before" 0 "$(cut -d' ' -f1 "/proc/$TARGET/syscall")"
inject read-inject "$TARGET" "$LIB"
check_inject "read: injected"
check_grep "read: the thread borrowed was in read()" ' syscall=0 ' "$INJ_OUT"
echo go >&7
wait_exit "$TARGET" 10
exec 7>&-
check_eq "read: exits 0" 0 "$WAIT_RC" "${WAIT_CTX:-}"
check_grep "read: read() returned the line" '^read 3 bytes$' "$TARGET_OUT"
check_grep "read: redirected" "^report probes=$FULL " "$TARGET_OUT"

# ---- blocked in nanosleep(): it sleeps its whole time, no EINTR
start sleep sleep 3
check_eq "sleep: blocked in clock_nanosleep() before" 230 "$(cut -d' ' -f1 "/proc/$TARGET/syscall")"
inject sleep-inject "$TARGET" "$LIB"
check_inject "sleep: injected"
check_grep "sleep: the thread borrowed was in clock_nanosleep()" ' syscall=230 ' "$INJ_OUT"
check_no_grep "sleep: still sleeping when the injection ended" '^slept$' "$TARGET_OUT"
wait_exit "$TARGET" 10
check_eq "sleep: exits 0 (neither EINTR nor short)" 0 "$WAIT_RC" "${WAIT_CTX:-}"
check_grep "sleep: slept" '^slept$' "$TARGET_OUT"
check_grep "sleep: redirected" "^report probes=$FULL " "$TARGET_OUT"

# ---- errors
inject nopid 999999999 "$LIB"
check_inject_fails "no such process" '^inject: no process 999999999$'
inject relative 1 libcountalloc.so
check_inject_fails "a relative path" 'must be absolute'

bg static "$TARGETS/leaky-static" wait
wait_for "$OUT/static.out" '^ready$' 10
inject static-inject "$BG_PID" "$LIB"
check_inject_fails "a static program" "process $BG_PID is statically linked"

start errors loop
inject missing "$TARGET" /nonexistent/lib.so
check_inject_fails "a library that does not exist" 'nonexistent/lib.so: No such file'
inject notelf "$TARGET" "$TSRC/injectee.c"
check_inject_fails "dlopen fails: dlerror's text" \
	"dlopen\\(\".*injectee.c\"\\) in process $TARGET failed: .*invalid ELF header"
bg tracer "$INJECT" -T "$TARGET"
TRACER=$BG_PID
wait_for "$OUT/tracer.out" '^tracing$' 10
inject traced "$TARGET" "$LIB"
check_inject_fails "already traced" "already traced by process $TRACER"
kill -TERM "$TRACER"
wait_exit "$TRACER" 10
kill -STOP "$TARGET"
inject stopped "$TARGET" "$LIB"
check_inject_fails "a stopped process" "process $TARGET is stopped"
kill -CONT "$TARGET"
report
check_eq "errors: the target still works, not redirected" 0 "$REPORT"
stop_target "errors: exits 0"

finish
