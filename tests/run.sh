#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every memleak test: build the tool, its unit tests and the test
# targets; run each unit test binary build/tests/test-* and each
# tests/integration/test-*.sh; print each result and, last, exactly one line
# "N passed, N failed" (all checks).  Exit 1 on any failure.
#
#	bash tests/run.sh [NAME...]	NAME: only these integration tests
#					(e.g. modes for test-modes.sh)
#	MEMLEAK_NO_BUILD=1		do not run make at the top level
#
# Needs root and working BPF: without them it fails, it does not skip.
# Outputs are kept in tests/out/.

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUTDIR=$ROOT/tests/out

PASSED=0
FAILED=0

# Every process started from here carries this in its environment: what is
# left at the end is found by it (and killed by pid).
export MEMLEAK_TEST_RUN="run-$$-$RANDOM$RANDOM"

# leftovers: pids of processes of this run still alive, except this shell
leftovers()
{
	local e pid

	for e in /proc/[0-9]*/environ; do
		pid=${e#/proc/}
		pid=${pid%/environ}
		[ "$pid" == $$ ] && continue
		[ "$pid" == "$BASHPID" ] && continue
		if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "MEMLEAK_TEST_RUN=$MEMLEAK_TEST_RUN"; then
			[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ] || echo "$pid"
		fi
	done
}

# kill_leftovers WHAT: kill what is left of this run; a failure if anything was
kill_leftovers()
{
	local pids pid

	pids=$(leftovers)
	[ -z "$pids" ] && return 0
	for pid in $pids; do
		echo "       left running: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) (pid $pid)"
		kill -KILL "$pid" 2>/dev/null
	done
	return 1
}

on_exit()
{
	kill_leftovers >/dev/null
}
trap on_exit EXIT
trap 'exit 130' INT TERM

ok()
{
	PASSED=$((PASSED + ${2:-1}))
	echo "PASS $1"
}

bad()
{
	FAILED=$((FAILED + ${2:-1}))
	echo "FAIL $1"
}

summary()
{
	kill_leftovers || FAILED=$((FAILED + 1))
	trap - EXIT
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" == 0 ]
	exit
}

# ------------------------------------------------------------ preconditions

if [ "$(id -u)" != 0 ]; then
	bad "must run as root (BPF and tracefs): uid is $(id -u)"
	summary
fi
mkdir -p "$OUTDIR"

if [ -z "${MEMLEAK_NO_BUILD:-}" ]; then
	if make -C "$ROOT" -s all unit-tests >"$OUTDIR/build.log" 2>&1; then
		ok "build: make all unit-tests"
	else
		bad "build: make all unit-tests (tests/out/build.log):"
		tail -n 30 "$OUTDIR/build.log" | sed -e 's/^/       /'
		summary
	fi
fi

if make -C "$ROOT/tests/targets" >"$OUTDIR/targets.log" 2>&1; then
	ok "build: tests/targets"
else
	bad "build: tests/targets (tests/out/targets.log):"
	tail -n 30 "$OUTDIR/targets.log" | sed -e 's/^/       /'
	summary
fi

if err=$("$ROOT/build/targets/bpfcheck" 2>&1); then
	ok "BPF works"
else
	bad "BPF does not work: $err"
	summary
fi

if [ -e /sys/kernel/tracing/uprobe_events ] ||
   mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null &&
   [ -e /sys/kernel/tracing/uprobe_events ]; then
	ok "tracefs with uprobe events"
else
	bad "no /sys/kernel/tracing/uprobe_events: tracefs or uprobes missing"
	summary
fi

if [ -x "$ROOT/memleak" ]; then
	ok "./memleak exists"
else
	bad "no ./memleak: run make"
	summary
fi

# ------------------------------------------------------------ unit tests

# counts FILE: "P F" from the last "N passed, N failed" line of FILE
counts()
{
	sed -nE 's/.*(^|[^0-9])([0-9]+) passed, ([0-9]+) failed$/\2 \3/p' "$1" | tail -n 1
}

# account NAME RC LOG: add the counts a test printed; a crash or a non-zero
# exit without a failure counted is one failure more
account()
{
	local name=$1 rc=$2 log=$3 c p f

	c=$(counts "$log")
	p=${c% *}
	f=${c#* }
	if [ -z "$c" ]; then
		bad "$name: exit $rc, no 'N passed, N failed' line (crashed?)"
		tail -n 20 "$log" | sed -e 's/^/       /'
		return
	fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	if [ "$rc" != 0 ] && [ "$f" == 0 ]; then
		bad "$name: exit $rc with no failed check"
	elif [ "$f" == 0 ]; then
		echo "PASS $name: $p passed"
	else
		echo "FAIL $name: $p passed, $f failed"
	fi
}

if [ $# == 0 ]; then
	shopt -s nullglob
	for src in tests/unit/test-*.c; do
		name=$(basename "$src" .c)
		bin=build/tests/$name
		log=$OUTDIR/unit-$name.log
		if [ ! -x "$bin" ]; then
			bad "unit/$name: no $bin (make unit-tests)"
			continue
		fi
		timeout -k 5 300 "$bin" >"$log" 2>&1
		rc=$?
		if [ "$rc" != 0 ]; then
			sed -e 's/^/       /' "$log"
		fi
		account "unit/$name" "$rc" "$log"
		kill_leftovers || bad "unit/$name: left processes running"
	done
	shopt -u nullglob
fi

# ------------------------------------------------------------ integration

if [ $# == 0 ]; then
	scripts=(tests/integration/test-*.sh)
else
	scripts=()
	for n in "$@"; do
		n=${n#test-}
		scripts+=("tests/integration/test-${n%.sh}.sh")
	done
fi

for script in "${scripts[@]}"; do
	name=integration/$(basename "$script" .sh)
	log=$OUTDIR/$(basename "$script" .sh).log
	if [ ! -f "$script" ]; then
		bad "$name: no such test"
		continue
	fi
	echo "---- $name"
	timeout -k 10 600 bash "$script" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	account "$name" "$rc" "$log"
	kill_leftovers || bad "$name: left processes running"
done

summary
