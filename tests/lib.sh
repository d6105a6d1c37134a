# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Assertions for memleak's integration tests.  A test script does
#
#	. "$(dirname "$0")/../lib.sh"
#	ml direct -c "./build/targets/leaky direct"	# run ./memleak
#	check_exit "exits 0" 0
#	check_stack "leak_direct" "$ML_OUT" 4800 100 \
#		"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"
#	finish
#
# Every check counts one pass or one failure; a failure prints what was
# expected, what was found, the command and its output file.  finish prints
# "<test>: N passed, N failed" (tests/run.sh adds these up) and exits 1 on
# any failure.  There is no skip: a test that cannot run fails.
#
# Scripts run from the repository root; outputs go to tests/out/<test>/.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEMLEAK=${MEMLEAK:-$ROOT/memleak}
TARGETS=$ROOT/build/targets
TSRC=$ROOT/tests/targets
TEST_NAME=$(basename "${0%.sh}")
OUT=$ROOT/tests/out/$TEST_NAME
ML_TIMEOUT=${ML_TIMEOUT:-60}
TRACEFS=/sys/kernel/tracing

# A report header and the lines of a report (bcc style).
RE_HEADER='^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] Top [0-9]+ stacks with outstanding allocations:$'
RE_BYTES=$'^\t[0-9]+ bytes in [0-9]+ allocations from stack$'
RE_LOST=$'^\tlost:'

PASSED=0
FAILED=0
BG_PIDS=()
declare -A SHOWN=()

cd "$ROOT" || exit 1
rm -rf "$OUT"
mkdir -p "$OUT"

# ---------------------------------------------------------------- results

pass()
{
	PASSED=$((PASSED + 1))
	echo "ok   $TEST_NAME: $1"
}

# fail DESC [DETAIL...]: each DETAIL is printed on its own indented line.
fail()
{
	local d

	FAILED=$((FAILED + 1))
	echo "FAIL $TEST_NAME: $1"
	shift
	for d in "$@"; do
		sed -e 's/^/       /' <<<"$d"
	done
}

# Details about the last ./memleak run, for a failure message.
ml_context()
{
	printf '       command:  %s\n' "${ML_CMD:-?}"
	printf '       exit:     %s\n' "${ML_RC:-?}"
	printf '       stdout:   %s\n' "${ML_OUT:-?}"
	printf '       stderr:   %s\n' "${ML_ERR:-?}"
	show_file "${ML_OUT:-}"
	show_file "${ML_ERR:-}"
}

# Print (once per test) the head of an output file under a failure.
show_file()
{
	local f=$1

	[ -n "$f" ] && [ -s "$f" ] || return 0
	[ -z "${SHOWN[$f]:-}" ] || return 0
	SHOWN[$f]=1
	echo "       --- ${f#"$ROOT"/} (first 60 lines) ---"
	head -n 60 "$f" | sed -e 's/^/       | /'
	echo "       ---"
}

# ---------------------------------------------------------------- checks

# check_eq DESC EXPECTED ACTUAL [CONTEXT-FILE]
check_eq()
{
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $2" "actual:   $3"
		ml_context
		[ -n "${4:-}" ] && show_file "$4"
	fi
}

# check_exit DESC EXPECTED: the exit status of the last ml run.
check_exit()
{
	check_eq "$1" "$2" "$ML_RC"
}

# check_grep DESC ERE FILE: some line of FILE matches.
check_grep()
{
	if grep -Eq -- "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "expected a line matching: $2" "in: ${3#"$ROOT"/}"
		ml_context
		show_file "$3"
	fi
}

# check_no_grep DESC ERE FILE: no line of FILE matches.
check_no_grep()
{
	local hits

	if ! hits=$(grep -En -- "$2" "$3"); then
		pass "$1"
	else
		fail "$1" "expected no line matching: $2" "in: ${3#"$ROOT"/}" \
			"found:" "$(head -n 10 <<<"$hits")"
		ml_context
	fi
}

# check_count DESC N ERE FILE: exactly N lines of FILE match.
check_count()
{
	local n

	n=$(grep -Ec -- "$3" "$4")
	if [ "$n" == "$2" ]; then
		pass "$1"
	else
		fail "$1" "expected $2 line(s) matching: $3" "actual:   $n" \
			"in: ${4#"$ROOT"/}"
		ml_context
		show_file "$4"
	fi
}

# ---------------------------------------------------------------- running

# quote ARGS...: the arguments as a shell would need them typed.
quote()
{
	local s

	s=$(printf '%q ' "$@")
	echo "${s% }"
}

# ml NAME ARGS...: run ./memleak ARGS (stdin /dev/null) with a time limit.
# Sets ML_OUT, ML_ERR (tests/out/<test>/NAME.out|.err), ML_RC, ML_CMD,
# ML_PID.  Then checks that this run left nothing in tracefs.
ml()
{
	local name=$1 pidfile

	shift
	ML_OUT=$OUT/$name.out
	ML_ERR=$OUT/$name.err
	ML_CMD="./memleak $(quote "$@")"
	pidfile=$OUT/$name.pid
	if [ ! -x "$MEMLEAK" ]; then
		ML_RC=127
		: >"$ML_OUT"
		echo "no executable $MEMLEAK: run make first" >"$ML_ERR"
		fail "$name: run ./memleak" "no executable $MEMLEAK (run make)"
		return
	fi
	# shellcheck disable=SC2016
	timeout -k 5 "$ML_TIMEOUT" bash -c 'echo $$ >"$0"; exec "$@"' \
		"$pidfile" "$MEMLEAK" "$@" <"/dev/null" >"$ML_OUT" 2>"$ML_ERR"
	ML_RC=$?
	ML_PID=$(cat "$pidfile" 2>/dev/null)
	if [ "$ML_RC" == 124 ] || [ "$ML_RC" == 137 ]; then
		echo "(killed by the test after ${ML_TIMEOUT}s)" >>"$ML_ERR"
	fi
	check_no_events "$name: no tracefs events left behind" "$ML_PID"
}

# check_no_events DESC PID: no dynamic event or instance of memleak_PID.
check_no_events()
{
	local left

	left=$( (grep -E "[:/ ]memleak_$2[/_ ]" "$TRACEFS/dynamic_events"
		 ls -d "$TRACEFS/instances/memleak_$2"* ) 2>/dev/null)
	if [ -z "$left" ]; then
		pass "$1"
	else
		fail "$1" "left in $TRACEFS:" "$(head -n 10 <<<"$left")"
		ml_context
	fi
}

# bg NAME CMD ARGS...: start CMD in the background (stdout and stderr to
# tests/out/<test>/NAME.out|.err); BG_PID is its pid.  Killed at exit.
bg()
{
	local name=$1

	shift
	"$@" <"/dev/null" >"$OUT/$name.out" 2>"$OUT/$name.err" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# wait_for FILE ERE [SECONDS]: until a line of FILE matches; 1 on timeout.
wait_for()
{
	local deadline=$((SECONDS + ${3:-20}))

	while [ "$SECONDS" -le "$deadline" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# proc_context PID: what a process that does not exit is doing: each task's
# state, wait channel, signal masks and kernel stack, and the user stacks.
proc_context()
{
	local t out

	out=$(readlink "/proc/$1/fd/1" 2>/dev/null)
	if [ -f "$out" ]; then
		echo "its output, $out (last 5 lines):"
		tail -n 5 "$out" | sed -e 's/^/  /'
	fi
	for t in /proc/"$1"/task/*; do
		echo "task ${t##*/}: $(cut -d' ' -f2,3 "$t/stat" 2>/dev/null)" \
			"wchan $(cat "$t/wchan" 2>/dev/null)"
		grep -E '^(SigPnd|ShdPnd|SigBlk)' "$t/status" 2>/dev/null
		sed -e 's/^/  /' "$t/stack" 2>/dev/null
	done
	command -v gdb >/dev/null &&
		timeout 30 gdb -p "$1" -batch -ex 'thread apply all bt' 2>&1 |
		grep -E '^(Thread|#)'
}

# running PID: the process is there and not a zombie (a zombie child
# still answers kill -0)
running()
{
	[ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# wait_exit PID [SECONDS]: wait for a child to exit and set WAIT_RC to its
# status; 1 (WAIT_RC=timeout) if it is still running after SECONDS, and
# WAIT_CTX names a file of what it was doing then, and of whether it
# exited in the 20 s after.
wait_exit()
{
	local deadline=$((SECONDS + ${2:-20})) late

	WAIT_CTX=

	while running "$1" && [ "$SECONDS" -le "$deadline" ]; do
		sleep 0.05
	done
	if running "$1"; then
		WAIT_RC=timeout
		WAIT_CTX=$OUT/stuck-$1.txt
		proc_context "$1" >"$WAIT_CTX" 2>&1
		for late in $(seq 200); do
			running "$1" || break
			sleep 0.1
		done
		if [ "$late" == 200 ]; then
			echo "still running 20 s after the deadline" >>"$WAIT_CTX"
		else
			echo "exited (or a zombie) about $((late / 10)).$((late % 10)) s after the deadline" >>"$WAIT_CTX"
		fi
		return 1
	fi
	wait "$1" 2>/dev/null
	WAIT_RC=$?
	return 0
}

# start_target NAME [MODE [ARG]]: "leaky MODE ARG" (MODE: wait) in the
# background, once it says ready; TARGET is its pid, TARGET_OUT its output.
start_target()
{
	bg "$1" ./build/targets/leaky "${2:-wait}" ${3:+"$3"}
	TARGET=$BG_PID
	TARGET_OUT=$OUT/$1.out
	if ! wait_for "$TARGET_OUT" '^ready$' 10; then
		fail "$1: the target starts" "no 'ready' from leaky ${2:-wait} in 10 s"
		finish
	fi
}

# ml_bg NAME CMD...: CMD (a memleak command line) in the background;
# ML_OUT, ML_ERR, ML_CMD and ML_PID as for ml, ML_RC "running".
ml_bg()
{
	local name=$1

	shift
	ML_OUT=$OUT/$name.out
	ML_ERR=$OUT/$name.err
	ML_CMD="$(quote "$@")"
	ML_RC=running
	bg "$name" "$@"
	ML_PID=$BG_PID
}

# signal_wait PID SIGNAL FILE WORD: send SIGNAL, wait (10 s) until FILE has
# one more line WORD; 1 if it does not.
signal_wait()
{
	local n deadline=$((SECONDS + 10))

	n=$(grep -c "^$4\$" "$3")
	kill -"$2" "$1"
	while [ "$(grep -c "^$4\$" "$3")" -le "$n" ]; do
		[ $SECONDS -gt $deadline ] && return 1
		sleep 0.05
	done
}

# Kill what this test started and is still running (by pid).
cleanup()
{
	local pid n

	{
		for pid in "${BG_PIDS[@]}"; do
			kill -TERM "$pid"
		done
		for pid in "${BG_PIDS[@]}"; do
			n=0
			while kill -0 "$pid" && [ $n -lt 40 ]; do
				[ "$(awk '{print $3}' "/proc/$pid/stat")" == Z ] && break
				sleep 0.05
				n=$((n + 1))
			done
			kill -KILL "$pid"
			wait "$pid"
		done
	} 2>/dev/null
	BG_PIDS=()
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---------------------------------------------------------------- targets

# Build the targets (a no-op when they are up to date).
build_targets()
{
	local log=$OUT/build-targets.log

	if make -C "$TSRC" >"$log" 2>&1; then
		return 0
	fi
	fail "build tests/targets" "make -C tests/targets failed" "$(tail -n 20 "$log")"
	finish
}

# line_of FILE TAG: the number of the line marked "/* LEAK: TAG */" in
# tests/targets/FILE; call_of FILE TAG: of the line marked "/* CALL: TAG */".
# Exactly one line must be marked.
line_of()
{
	marked_line "$1" "LEAK: $2"
}

call_of()
{
	marked_line "$1" "CALL: $2"
}

marked_line()
{
	local hits

	hits=$(grep -nF "/* $2 */" "$TSRC/$1" | cut -d: -f1)
	if [ "$(wc -w <<<"$hits")" != 1 ]; then
		echo "marked_line: '$2' marks $(wc -w <<<"$hits") lines in $1" >&2
		echo 0
		return 1
	fi
	echo "$hits"
}

# ere STRING: STRING with the ERE metacharacters escaped.
ere()
{
	sed -e 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"
}

# frame SYMBOL MODULE [FILE LINE]: an ERE for a whole frame line (without
# its tabs): "SYMBOL+0xOFF [MODULE] FILE:LINE".  SYMBOL and MODULE are
# literal strings.
frame()
{
	local re

	re="$(ere "$1")\+0x[0-9a-f]+ \[$(ere "$2")\]"
	if [ $# -ge 4 ]; then
		re+=" $(ere "$3"):$4"
	fi
	echo "$re"
}

# ---------------------------------------------------------------- reports

# reports FILE: the number of report headers in FILE.
reports()
{
	grep -Ec -- "$RE_HEADER" "$1"
}

# stacks FILE [N]: the stacks of report N (default: the last one) of FILE,
# one per line: "BYTES ALLOCS<TAB>FRAME<TAB>FRAME...", frames without their
# leading tabs, in the order printed.
stacks()
{
	awk -v want="${2:-last}" '
	/^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\] Top [0-9]+ stacks with outstanding allocations:$/ {
		n++; k[n] = 0; in_stack = 0; next
	}
	n == 0 { next }
	/^\t[0-9]+ bytes in [0-9]+ allocations from stack$/ {
		k[n]++; rec[n, k[n]] = $1 " " $4; in_stack = 1; next
	}
	/^\t\t/ && in_stack {
		sub(/^\t\t/, ""); rec[n, k[n]] = rec[n, k[n]] "\t" $0; next
	}
	{ in_stack = 0 }
	END {
		r = want == "last" ? n : want + 0
		for (i = 1; i <= k[r]; i++)
			print rec[r, i]
	}' "$1"
}

# stacks_pretty FILE [N]: the stacks as indented text, for failure messages.
stacks_pretty()
{
	local s

	s=$(stacks "$@" | pretty_stack)
	echo "${s:-(no stacks)}"
}

# pretty_stack: stack records (from stacks) on stdin as indented text.
pretty_stack()
{
	awk -F '\t' '{
		split($1, n, " ")
		print "  " n[1] " bytes in " n[2] " allocations from stack"
		for (i = 2; i <= NF; i++)
			print "      " $i
	}'
}

# find_stack FILE REPORT FRAME-ERE...: print the first stack of the report
# whose leading frames match the EREs, one each in order.  1 if none.
find_stack()
{
	local file=$1 report=$2 rec i ok
	local -a f

	shift 2
	while IFS= read -r rec; do
		IFS=$'\t' read -r -a f <<<"$rec"
		ok=1
		for ((i = 1; i <= $#; i++)); do
			if [ $i -ge ${#f[@]} ] || ! [[ ${f[$i]} =~ ^${!i}$ ]]; then
				ok=0
				break
			fi
		done
		if [ $ok == 1 ]; then
			echo "$rec"
			return 0
		fi
	done < <(stacks "$file" "$report")
	return 1
}

# check_stack DESC FILE BYTES ALLOCS FRAME-ERE...: in the last report of
# FILE, a stack whose leading frames match the EREs (leaf first) has exactly
# BYTES bytes in ALLOCS allocations.
check_stack()
{
	check_stack_in "$1" "$2" last "${@:3}"
}

# check_stack_in DESC FILE REPORT BYTES ALLOCS FRAME-ERE...: the same in
# report number REPORT (1-based) or "last".
check_stack_in()
{
	local desc=$1 file=$2 report=$3 bytes=$4 allocs=$5 rec

	shift 5
	if ! rec=$(find_stack "$file" "$report" "$@"); then
		fail "$desc" "expected a stack ($bytes bytes in $allocs allocations) starting with:" \
			"$(printf '    %s\n' "$@")" \
			"actual stacks (report $report):" "$(stacks_pretty "$file" "$report")"
		ml_context
		return
	fi
	if [ "${rec%%$'\t'*}" == "$bytes $allocs" ]; then
		pass "$desc"
	else
		fail "$desc" "expected: $bytes bytes in $allocs allocations" \
			"actual:   ${rec%% *} bytes in $(cut -f1 <<<"$rec" | cut -d' ' -f2) allocations" \
			"stack:" "$(pretty_stack <<<"$rec")"
		ml_context
	fi
}

# check_in_stack DESC FILE FRAME-ERE LEAF-ERE...: the stack of the last
# report found as check_stack would has a frame matching FRAME-ERE.
check_in_stack()
{
	local desc=$1 file=$2 want=$3 rec fr
	local -a f

	shift 3
	if ! rec=$(find_stack "$file" last "$@"); then
		fail "$desc" "no stack starting with:" "$(printf '    %s\n' "$@")" \
			"actual stacks:" "$(stacks_pretty "$file")"
		ml_context
		return
	fi
	IFS=$'\t' read -r -a f <<<"$rec"
	for fr in "${f[@]:1}"; do
		if [[ $fr =~ ^${want}$ ]]; then
			pass "$desc"
			return
		fi
	done
	fail "$desc" "expected a frame matching: $want" \
		"actual stack:" "$(pretty_stack <<<"$rec")"
	ml_context
}

# check_nstacks DESC FILE N [REPORT]: the report has exactly N stacks.
check_nstacks()
{
	local n

	n=$(stacks "$2" "${4:-last}" | grep -c .)
	if [ "$n" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected $3 stack(s), actual $n:" "$(stacks_pretty "$2" "${4:-last}")"
		ml_context
	fi
}

# check_sizes DESC FILE "B1 N1,B2 N2,...": the stacks of the last report,
# in order, have exactly these bytes and allocation counts.
check_sizes()
{
	local got

	got=$(stacks "$2" | cut -f1 | paste -sd, -)
	check_eq "$1" "$3" "$got"
}

# check_reports DESC FILE N: exactly N report headers.
check_reports()
{
	check_count "$1" "$3" "$RE_HEADER" "$2"
}

# ---------------------------------------------------------------- the end

finish()
{
	cleanup
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" == 0 ]
	exit
}
