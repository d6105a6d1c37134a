#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak's tracefs events: gone after Ctrl-C; left by a kill -9 and then
# removed by the next run.
. "$(dirname "$0")/../lib.sh"
build_targets

# start_memleak NAME CMD...: CMD (memleak ...) in the background, until
# memleak's first report
start_memleak()
{
	local name=$1

	shift
	ml_bg "$name" "$@"
	OURS+=("$ML_PID")
	if wait_for "$ML_OUT" "$RE_HEADER" 20; then
		pass "$name: memleak runs"
	else
		fail "$name: memleak runs" "no report in 20 s"
		ml_context
	fi
}

# events_of PID: memleak_PID's dynamic events
events_of()
{
	grep -E "[:/ ]memleak_$1[/_ ]" "$TRACEFS/dynamic_events"
}

# ours_left: dynamic events and instances of the memleak runs this test
# started (other memleak sessions, e.g. someone else's test running at the
# same time, are none of this test's business)
OURS=()
ours_left()
{
	local pid

	for pid in "${OURS[@]}"; do
		events_of "$pid"
		ls -d "$TRACEFS/instances/memleak_$pid"* 2>/dev/null
	done
}

# target_works NAME: the target still leaks on SIGUSR1 and says so
target_works()
{
	if signal_wait "$TARGET" USR1 "$TARGET_OUT" leaked; then
		pass "$1"
	else
		fail "$1" "no 'leaked' from the target in 10 s"
	fi
}

start_target target

# 1. Ctrl-C
start_memleak sigint "$MEMLEAK" -p "$TARGET" 1
if [ -n "$(events_of "$ML_PID")" ]; then
	pass "Ctrl-C: memleak_$ML_PID events exist while it runs"
else
	fail "Ctrl-C: memleak_$ML_PID events exist while it runs" \
		"none in $TRACEFS/dynamic_events:" "$(cat "$TRACEFS/dynamic_events")"
fi
kill -INT "$ML_PID"
if wait_exit "$ML_PID" 10; then
	pass "Ctrl-C: memleak exits (status $WAIT_RC)"
else
	fail "Ctrl-C: memleak exits" "still running 10 s after SIGINT"
	ml_context
fi
ML_RC=$WAIT_RC
check_eq "Ctrl-C: no memleak_$ML_PID dynamic events left" "" "$(events_of "$ML_PID")"
check_eq "Ctrl-C: no memleak_$ML_PID instance left" "" \
	"$(ls -d "$TRACEFS/instances/memleak_$ML_PID"* 2>/dev/null)"
check_eq "Ctrl-C: no event or instance of this test's memleak runs left" "" "$(ours_left)"
check_no_grep "Ctrl-C: no error or warning on stderr" '[Ee]rror|[Ww]arning|cannot' "$ML_ERR"
target_works "Ctrl-C: the target still runs and works"

# 2. kill -9, then the next run cleans up
start_memleak sigkill "$MEMLEAK" -p "$TARGET" 1
killed=$ML_PID
{	# (bash would say "Killed" on stderr)
	kill -KILL "$killed"
	wait_exit "$killed" 10	# reaped: no zombie that still looks like memleak
} 2>/dev/null
if [ -n "$(events_of "$killed")" ]; then
	pass "kill -9: memleak_$killed events are left behind"
else
	fail "kill -9: memleak_$killed events are left behind" \
		"(precondition of the next checks) none in $TRACEFS/dynamic_events"
fi
target_works "kill -9: the target still runs and works"
ml next -c true
OURS+=("$ML_PID")
check_exit "the next run (-c true): exits 0" 0
check_eq "the next run removed memleak_$killed's events" "" "$(events_of "$killed")"
check_eq "the next run removed memleak_$killed's instances" "" \
	"$(ls -d "$TRACEFS/instances/memleak_$killed"* 2>/dev/null)"
check_eq "no event or instance of this test's memleak runs left" "" "$(ours_left)"

# 3. Ctrl-C of a -c run, as a terminal sends it: to the whole process
# group (memleak in a session of its own, as an interactive shell would run
# it); neither memleak nor the command is left running.
start_memleak sigint-c setsid "$MEMLEAK" -c "./build/targets/leaky wait" 1
ML_CMD="./memleak -c './build/targets/leaky wait' 1 (in its own session)"
if [ "$(cat "/proc/$ML_PID/comm" 2>/dev/null)" != memleak ]; then
	fail "Ctrl-C of -c: memleak runs as pid $ML_PID" "comm: $(cat "/proc/$ML_PID/comm" 2>&1)"
fi
child=$(pgrep -P "$ML_PID" -x leaky)
kill -INT -- "-$ML_PID"
if wait_exit "$ML_PID" 10; then
	pass "Ctrl-C of -c: memleak exits (status $WAIT_RC)"
else
	fail "Ctrl-C of -c: memleak exits" "still running 10 s after SIGINT"
	ml_context
fi
ML_RC=$WAIT_RC
check_eq "Ctrl-C of -c: no memleak_$ML_PID dynamic events left" "" "$(events_of "$ML_PID")"
check_eq "Ctrl-C of -c: no memleak_$ML_PID instance left" "" \
	"$(ls -d "$TRACEFS/instances/memleak_$ML_PID"* 2>/dev/null)"
sleep 0.5
# gone, or a zombie waiting for init to reap it
if [ -n "$child" ] && { [ ! -d "/proc/$child" ] ||
	[ "$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null)" == Z ]; }; then
	pass "Ctrl-C of -c: the command is gone too"
else
	fail "Ctrl-C of -c: the command is gone too" "command pid: ${child:-not found}"
	[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
fi

kill -TERM "$TARGET"
wait_exit "$TARGET" 10
check_eq "the target exits 0 on SIGTERM" 0 "$WAIT_RC" "${WAIT_CTX:-}"

finish
