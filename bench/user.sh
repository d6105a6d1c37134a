#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: how much memleak slows a user-space program down, against the
# tools a user would pick instead (all from Debian): heaptrack, valgrind
# --leak-check=full, a bpftrace one-liner and bcc's memleak-bpfcc.  Every
# tool runs on the same workloads side by side in one run, interleaved (run
# 1 of every cell, then run 2...), and a cell is the median of RUNS runs.
# The workload times itself from inside (bench/benchtime.c), so a tool's
# start-up and shutdown are not counted; memleak's own CPU and memory are a
# second table.  Sampling's cost, a few percent, gets a closer look: a
# pass of SAMPLE_RUNS more runs alone and sampled, alternately.  Writes the
# top part of Documentation/performance.md.
#
#	bash bench/user.sh
#
# Environment: BENCH_QUICK=1 (small workloads, one run: a smoke test of a few
# minutes), BENCH_RUNS, BENCH_SAMPLE_RUNS (15; quick: 3), BENCH_TIMEOUT
# (seconds per run of a cell), BENCH_TOOLS (the rows to run, default all),
# BENCH_WORKLOADS.  Needs root.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. bench/lib.sh

[ "$(id -u)" == 0 ] || { echo "bench: needs root" >&2; exit 1; }
[ -x ./memleak ] || { echo "bench: build first (make bench)" >&2; exit 1; }

OUT=$ROOT/build/bench
U=$OUT/user
DOC=Documentation/performance.md
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" == 1 ]; then
	RUNS=${BENCH_RUNS:-1}
	SAMPLE_RUNS=${BENCH_SAMPLE_RUNS:-3}
	TIMEOUT=${BENCH_TIMEOUT:-120}
	N=50000		# mallocbench pairs
	REQ=20000	# serverloop requests
	CC_LINES=600	# source lines in the compiler's translation unit
else
	RUNS=${BENCH_RUNS:-3}
	SAMPLE_RUNS=${BENCH_SAMPLE_RUNS:-15}
	TIMEOUT=${BENCH_TIMEOUT:-600}
	N=3000000
	REQ=100000
	CC_LINES=2500
fi
LEAKS=100
TOOLS=${BENCH_TOOLS:-plain ml-c ml-c-nopreload ml-p ml-p-inject ml-sample heaptrack valgrind bpftrace bcc-p bcc-c}
WORKLOADS=${BENCH_WORKLOADS:-mb1 mb2 cc1 srv}
LIBC=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)

rm -rf "$U"
mkdir -p "$U"
LOG=$U/log
: >"$LOG"
log() { echo "$*" >>"$LOG"; echo "$*" >&2; }

# The workloads, built like distribution binaries (no frame pointers).
CFLAGS="-g -O2 -fomit-frame-pointer -fno-optimize-sibling-calls -Wall -D_GNU_SOURCE"
cc $CFLAGS -pthread -o "$OUT/mallocbench" bench/mallocbench.c bench/benchtime.c &&
cc $CFLAGS -o "$OUT/serverloop" bench/serverloop.c bench/benchtime.c &&
cc $CFLAGS -DBENCHTIME_PRELOAD -shared -fPIC -o "$OUT/libbenchtime.so" bench/benchtime.c ||
	exit 1

# The compiler run: gcc's cc1 -O2 on one preprocessed translation unit made
# of the project's own lib/*/*.c, as many as compile together (static names
# clash between some) up to CC_LINES lines; files with a BPF skeleton are
# left out (mostly one big string, little work for the compiler).
CC1=$(gcc -print-prog-name=cc1)
CPPFLAGS="-std=gnu11 -D_GNU_SOURCE -DMEMLEAK_VERSION=\"0\" -I. -Ilib -Ibpf -Ibuild
	$(pkg-config --cflags libtracefs libtraceevent 2>/dev/null) -I/usr/include/trace-cmd"
make_tu()
{
	local f lines=0 n

	: >"$U/tu.c"
	for f in lib/*/*.c; do
		grep -q 'skel\.h' "$f" && continue
		n=$(wc -l <"$f")
		[ $((lines + n)) -gt "$CC_LINES" ] && continue
		echo "#include \"$ROOT/$f\"" >>"$U/tu.c"
		# shellcheck disable=SC2086
		if gcc -fsyntax-only $CPPFLAGS "$U/tu.c" 2>/dev/null; then
			lines=$((lines + n))
		else
			sed -i '$d' "$U/tu.c"
		fi
	done
	# shellcheck disable=SC2086
	gcc -E $CPPFLAGS "$U/tu.c" -o "$OUT/tu.i" || return 1
	echo "$lines"
}
CC_REAL=$(make_tu) || { echo "bench: cannot make the compiler's input" >&2; exit 1; }

declare -A WL WLNAME WLENV
WL[mb1]="$OUT/mallocbench -w 1024 -l $LEAKS $N"
WLNAME[mb1]="mallocbench, 1 thread"
WL[mb2]="$OUT/mallocbench -t 2 -w 1024 -l $LEAKS $N"
WLNAME[mb2]="mallocbench, 2 threads"
WL[cc1]="$CC1 -quiet -O2 $OUT/tu.i -o $U/tu.s"
WLNAME[cc1]="gcc -O2 (cc1)"
WLENV[cc1]="LD_PRELOAD=$OUT/libbenchtime.so BENCH_TARGET=cc1"
WL[srv]="$OUT/serverloop -n $REQ -l $LEAKS"
WLNAME[srv]="server loop"

# What this memleak has: options being written may be missing.
ML_HELP=$(./memleak top -h 2>&1)
has_opt() { grep -q -- "$1" <<<"$ML_HELP"; }
# --sample-bytes takes a rate if its help line asks for one; the default
# rate otherwise
ML_SAMPLE=(--sample-bytes)
if grep -qE -- '--sample-bytes[ =][A-Z]' <<<"$ML_HELP"; then
	ML_SAMPLE=(--sample-bytes "${BENCH_SAMPLE_BYTES:-524288}")
fi

BCC=""
case " $TOOLS " in *" bcc-"*) BCC=$(bench_bcc) ;; esac
case " $TOOLS " in *" bpftrace "*)
	command -v bpftrace >/dev/null || bench_install bpftrace ;;
esac
[ -x /usr/bin/time ] || bench_install time

# Why a row cannot run at all (empty: it can).
unavailable()
{
	case $1 in
	ml-c-nopreload) has_opt --no-preload || echo "n/a (memleak has no --no-preload)" ;;
	ml-p-inject) has_opt --inject || echo "n/a (memleak has no --inject)" ;;
	ml-sample) has_opt --sample-bytes || echo "n/a (memleak has no --sample-bytes)" ;;
	heaptrack) command -v heaptrack >/dev/null || echo "n/a (heaptrack not installed)" ;;
	valgrind) command -v valgrind >/dev/null || echo "n/a (valgrind not installed)" ;;
	bpftrace) command -v bpftrace >/dev/null || echo "n/a (bpftrace not installed)" ;;
	bcc-*) [ -n "$BCC" ] || echo "n/a (memleak-bpfcc not installed)" ;;
	esac
}

# The bpftrace one-liner: outstanding blocks by address with their stacks.
BT_PROG="uprobe:$LIBC:malloc /pid == cpid/ { @req[tid] = arg0; }
uretprobe:$LIBC:malloc /pid == cpid/ { if (@req[tid]) { @size[retval] = @req[tid]; @stack[retval] = ustack; } delete(@req[tid]); }
uprobe:$LIBC:free /pid == cpid/ { delete(@size[arg0]); delete(@stack[arg0]); }"

# alive PID: PID runs (a zombie does not)
alive()
{
	local s

	s=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "${s:1:1}" != Z ] && [ "${s:1:1}" != X ]
}

# wait_for COND_CMD PID: until COND_CMD succeeds (0), PID ends (1) or the
# run's deadline passes (2)
wait_for()
{
	while ! eval "$1"; do
		alive "$2" || { eval "$1" && return 0; return 1; }
		[ "$SECONDS" -ge "$DEADLINE" ] && return 2
		sleep 0.1
	done
	return 0
}

# bcc_attached PID: whether bcc (PID) has attached all its probes
bcc_attached()
{
	local n

	n=$(ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'perf_event')
	[ "$n" -ge 20 ] && return 0
	if [ "$n" == "$BCC_N" ]; then
		BCC_SAME=$((BCC_SAME + 1))
	else
		BCC_N=$n BCC_SAME=0
	fi
	[ "$n" -gt 0 ] && [ "$BCC_SAME" -ge 20 ]
}

# stop PID: end the process group PID leads (a tool and what it started):
# SIGINT first, as a user would stop it, then SIGKILL
stop()
{
	local i

	kill -INT -- -"$1" 2>/dev/null
	for i in $(seq 100); do
		alive "$1" || break
		sleep 0.1
	done
	kill -KILL -- -"$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# poll_rss PID FILE: keep PID's peak RSS (KiB) in FILE until it exits
poll_rss()
{
	local hwm

	while [ -e "/proc/$1/status" ]; do
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		[ -n "$hwm" ] && echo "$hwm" >"$2"
		sleep 0.1
	done
}

# run_once TOOL WL R: one run of the cell; writes $U/TOOL.WL.R.time
# ("wall user sys maxrss" of the workload) and for memleak rows
# $U/TOOL.WL.R.cost ("cpu_s rss_kib" of memleak itself; its RSS only with
# POLL=1, as it is polled: a process forked ten times a second); returns
# 0, or prints the failure ("fail: why" or "timeout")
run_once()
{
	local tool=$1 wl=$2 r=$3 base=$U/$1.$2.$3 cmd=${WL[$2]} pid wpid tpid mlpid
	local attach=0 st

	export BENCH_TIME_FILE=$base.time
	unset BENCH_HOLD
	rm -f "$base".*
	DEADLINE=$((SECONDS + TIMEOUT))
	local -a run=()
	case $tool in
	plain) run=($cmd) ;;
	ml-c) run=(./memleak -c "$cmd") ;;
	ml-c-nopreload) run=(./memleak --no-preload -c "$cmd") ;;
	ml-sample) run=(./memleak "${ML_SAMPLE[@]}" -c "$cmd") ;;
	ml-p) attach=1; run=(./memleak -p) ;;
	ml-p-inject) attach=1; run=(./memleak --inject -p) ;;
	heaptrack) run=(heaptrack -o "$base.heaptrack" $cmd) ;;
	valgrind) run=(valgrind --leak-check=full $cmd) ;;
	bpftrace) run=(env BPFTRACE_MAP_KEYS_MAX=4194304 bpftrace -e "$BT_PROG" -c "$cmd") ;;
	bcc-p) attach=1; run=("$BCC" -p) ;;
	bcc-c) attach=2; run=("$BCC" -c "$cmd") ;;
	esac
	case $tool in ml-*) run=(/usr/bin/time -f "%U %S" -o "$base.rusage" "${run[@]}") ;; esac

	# the workload's environment (LD_PRELOAD of the timer for cc1)
	local -a env=()
	# shellcheck disable=SC2206
	[ -n "${WLENV[$wl]:-}" ] && env=(${WLENV[$wl]})

	if [ "$attach" == 1 ]; then
		# start the workload held; attach; release it
		BENCH_HOLD=1 env "${env[@]}" setsid $cmd >"$base.wout" 2>&1 &
		wpid=$!
		wait_for "[ -s $base.time.ready ]" "$wpid"
		st=$?
		if [ $st != 0 ]; then
			stop "$wpid"
			[ $st == 2 ] && { echo timeout; return 1; }
			echo "fail: the workload did not start"; return 1
		fi
		setsid "${run[@]}" "$wpid" >"$base.out" 2>&1 &
		pid=$!
	else
		[ "$attach" == 2 ] && export BENCH_HOLD=1
		env "${env[@]}" setsid "${run[@]}" >"$base.out" 2>&1 &
		pid=$!
		wpid=""
		unset BENCH_HOLD
	fi
	tpid=""
	case ${POLL:-1}$tool in
	1ml-*)
		mlpid=""
		for _ in $(seq 50); do
			mlpid=$(pgrep -P "$pid" | head -1)
			[ -n "$mlpid" ] && break
			sleep 0.02
		done
		if [ -n "$mlpid" ]; then
			poll_rss "$mlpid" "$base.rss" >/dev/null 2>&1 &
			tpid=$!
		fi
		;;
	esac

	if [ "$attach" != 0 ]; then
		st=0
		if [ "$attach" == 2 ]; then
			wait_for "[ -s $base.time.ready ]" "$pid"
			st=$?
			wpid=$(cat "$base.time.ready" 2>/dev/null)
		fi
		if [ $st == 0 ]; then
			wait_for "grep -q 'Attaching to pid' $base.out" "$pid"
			st=$?
		fi
		# bcc says so before it attaches its 20 probes (one perf
		# event each): wait for them all, or for their count to stay
		# the same for 2 s
		if [ $st == 0 ] && [[ $tool == bcc-* ]]; then
			BCC_N=-1 BCC_SAME=0
			wait_for "bcc_attached $pid" "$pid"
			st=$?
		fi
		if [ $st != 0 ]; then
			stop "$pid"
			[ -n "$wpid" ] && kill -KILL "$wpid" 2>/dev/null
			[ $st == 2 ] && { echo timeout; return 1; }
			echo "fail: $tool did not attach: $(tail -2 "$base.out" | tr '\n' ' ')"
			return 1
		fi
		kill -USR1 "$wpid"
		wait_for "[ -s $base.time ]" "$pid"
		st=$?
		if [ $st == 0 ]; then
			wait_for "! alive $wpid" "$pid"
			# memleak -p ends by itself when its target exits (give it
			# 10 s for its last report); the others are stopped
			case $tool in
			ml-*)
				DEADLINE=$((SECONDS + 10))
				wait_for "! alive $pid" "$pid"
				;;
			*)
				# still tracing at the end, or it failed on the way
				alive "$pid" || st=1
				;;
			esac
		fi
		stop "$pid"
		[ -n "$wpid" ] && { kill -KILL "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; }
		[ $st == 2 ] && { echo timeout; return 1; }
		[ $st != 0 ] && { echo "fail: $tool ended before the workload: $(tail -2 "$base.out" | tr '\n' ' ')"; return 1; }
	else
		wait_for "! alive $pid" "$pid"
		st=$?
		if [ $st == 2 ]; then
			stop "$pid"
			echo timeout
			return 1
		fi
		wait "$pid"
		st=$?
		if [ ! -s "$base.time" ] || [ $st != 0 ]; then
			echo "fail: exit status $st$([ -s "$base.time" ] || echo ", no time from the workload"): $(tail -2 "$base.out" | tr '\n' ' ')"
			return 1
		fi
	fi
	if grep -qE 'exited with non-zero status|terminated by signal' "$base.rusage" 2>/dev/null; then
		echo "fail: $(head -1 "$base.rusage"): $(tail -2 "$base.out" | tr '\n' ' ')"
		return 1
	fi
	rm -f "$base".heaptrack*
	case $tool in
	ml-*)
		[ -n "$tpid" ] && wait "$tpid" 2>/dev/null
		# memleak's own CPU: with -c the workload is its child, whose
		# time /usr/bin/time counts too
		local all own
		all=$(tail -1 "$base.rusage" 2>/dev/null | awk '{ print $1 + $2 }')
		own=$all
		if [ "$attach" == 0 ] && [ -n "$all" ]; then
			own=$(awk -v a="$all" '{ printf "%.2f", a - $2 - $3 }' "$base.time")
		fi
		echo "${own:-?} $(cat "$base.rss" 2>/dev/null || echo ?)" >"$base.cost"
		;;
	esac
	if grep -qE 'leak_block|leak_session' "$base.out" 2>/dev/null; then
		echo yes >"$base.found"
	elif [ "$tool" == bpftrace ] && [ "$wl" != cc1 ] &&
	     [ "$(grep -c '^@stack' "$base.out")" == "$LEAKS" ]; then
		# bpftrace prints its map after the process is gone: the
		# leaked blocks are there, with addresses for names
		echo "unsymbolized" >"$base.found"
	fi
	return 0
}

# The runs, interleaved so that a change in the machine's load spreads over
# every cell alike.
declare -A STATUS
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
log "bench/user.sh: runs $RUNS, timeout $TIMEOUT s, mallocbench $N pairs, serverloop $REQ requests, cc1 on $CC_REAL lines"
for r in $(seq "$RUNS"); do
	for wl in $WORKLOADS; do
		for tool in $TOOLS; do
			why=$(unavailable "$tool")
			if [ -n "$why" ]; then
				STATUS[$tool.$wl]=$why
				continue
			fi
			[ -n "${STATUS[$tool.$wl]:-}" ] && continue
			# Another tracer on the machine holding libc's uprobes
			# with other settings makes attaching fail (EINVAL):
			# wait for it a little, rather than lose the cell.
			for try in 1 2 3 4; do
				res=$(POLL=1 run_once "$tool" "$wl" "$r")
				case $res in
				*"another tool holds a uprobe"*|*"Error attaching probe"*|*"Failed to attach BPF to u"*) ;;
				*) break ;;
				esac
				[ $try == 4 ] && break
				log "$tool $wl run $r: libc's uprobes busy (another tracer running), retry in 30 s"
				sleep 30
			done
			if [ -n "$res" ]; then
				STATUS[$tool.$wl]=${res%%:*}
				log "$tool $wl run $r: $res"
				log "  (output: $U/$tool.$wl.$r.out)"
			else
				log "$tool $wl run $r: $(cut -d' ' -f1 "$U/$tool.$wl.$r.time") s$(
					[ -s "$U/$tool.$wl.$r.cost" ] && echo ", memleak cpu/rss_kib $(cat "$U/$tool.$wl.$r.cost")")$(
					[ -s "$U/$tool.$wl.$r.found" ] && echo ", reported the leak ($(cat "$U/$tool.$wl.$r.found"))")"
			fi
		done
	done
done

# Sampling's cost is a few percent, under the noise of three runs: each
# workload again SAMPLE_RUNS times alone and under sampling, alternately,
# and which of the two runs first alternates too, so that what a run leaves
# behind (caches, the CPU's clock) weighs on both alike (files in
# $U/sampling, apart from the table's).
SAMPLING=0
case " $TOOLS " in *" ml-sample "*)
	case " $TOOLS " in *" plain "*)
		[ -z "$(unavailable ml-sample)" ] && SAMPLING=1 ;;
	esac ;;
esac
if [ "$SAMPLING" == 1 ]; then
	mkdir -p "$U/sampling"
	for r in $(seq "$SAMPLE_RUNS"); do
		order="plain ml-sample"
		[ $((r % 2)) == 0 ] && order="ml-sample plain"
		for wl in $WORKLOADS; do
			for tool in $order; do
				res=$(U=$U/sampling POLL=0 run_once "$tool" "$wl" "$r")
				[ -n "$res" ] && log "sampling pass: $tool $wl run $r: $res"
			done
		done
	done
fi

# sampling_row WL: its line of the sampling table
sampling_row()
{
	local wl=$1 d=$U/sampling p s

	p=$(U=$d cell_time plain "$wl")
	s=$(U=$d cell_time ml-sample "$wl")
	if [ -z "$p" ] || [ -z "$s" ]; then
		echo "| ${WLNAME[$wl]} | ? | ? | ? | ? |"
		return
	fi
	# each run under sampling over the run alone of the same round
	for r in $(seq "$SAMPLE_RUNS"); do
		[ -s "$d/plain.$wl.$r.time" ] && [ -s "$d/ml-sample.$wl.$r.time" ] &&
			echo "$(cut -d' ' -f1 "$d/ml-sample.$wl.$r.time") $(cut -d' ' -f1 "$d/plain.$wl.$r.time")"
	done | awk '{ print $1 / $2 }' | sort -g | awk -v p="$p" -v s="$s" -v name="${WLNAME[$wl]}" '
		{ v[NR] = $1 }
		END {
			q1 = v[int((NR + 3) / 4)]; q3 = v[int((3 * NR + 3) / 4)]
			printf "| %s | %.3f s | %.3f s | %+.1f%% | %+.1f%% to %+.1f%% (%d pairs) |\n",
				name, p, s, (s / p - 1) * 100, (q1 - 1) * 100, (q3 - 1) * 100, NR
		}'
}

# cell_time TOOL WL: the median of the runs' times
cell_time()
{
	cat "$U/$1.$2".*.time 2>/dev/null | cut -d' ' -f1 | median
}

row_name()
{
	case $1 in
	plain) echo "no tool" ;;
	ml-c) echo "\`memleak -c\`" ;;
	ml-c-nopreload) echo "\`memleak -c --no-preload\` (libc uprobes)" ;;
	ml-p) echo "\`memleak -p\`" ;;
	ml-p-inject) echo "\`memleak -p --inject\`" ;;
	ml-sample) echo "\`memleak -c ${ML_SAMPLE[*]}\`" ;;
	heaptrack) echo "heaptrack $(heaptrack --version 2>/dev/null | awk '{ print $2 }')" ;;
	valgrind) echo "\`$(valgrind --version 2>/dev/null) --leak-check=full\`" ;;
	bpftrace) echo "bpftrace $(bpftrace --version 2>/dev/null | awk '{ print $2 }') one-liner" ;;
	bcc-p) echo "bcc memleak-bpfcc -p" ;;
	bcc-c) echo "bcc memleak-bpfcc -c" ;;
	esac
}

table()
{
	local tool wl t b s

	printf '| tool |'
	for wl in $WORKLOADS; do
		b=$(cell_time plain "$wl")
		printf ' %s (plain %s s) |' "${WLNAME[$wl]}" \
			"$([ -n "$b" ] && awk -v b="$b" 'BEGIN { printf "%.3f", b }' || echo ?)"
	done
	echo
	printf '|---|'
	for wl in $WORKLOADS; do printf -- '---|'; done
	echo
	for tool in $TOOLS; do
		[ "$tool" == plain ] && continue
		printf '| %s |' "$(row_name "$tool")"
		for wl in $WORKLOADS; do
			s=${STATUS[$tool.$wl]:-}
			t=$(cell_time "$tool" "$wl")
			b=$(cell_time plain "$wl")
			if [ -n "$s" ]; then
				printf ' %s |' "$s"
			elif [ -n "$t" ] && [ -n "$b" ]; then
				awk -v t="$t" -v b="$b" 'BEGIN { printf " %.1fx |", t / b }'
			else
				printf ' ? |'
			fi
		done
		echo
	done
}

cost_table()
{
	local tool wl s cpu rss

	printf '| memleak mode |'
	for wl in $WORKLOADS; do printf ' %s |' "${WLNAME[$wl]}"; done
	echo
	printf '|---|'
	for wl in $WORKLOADS; do printf -- '---|'; done
	echo
	for tool in $TOOLS; do
		case $tool in ml-*) ;; *) continue ;; esac
		printf '| %s |' "$(row_name "$tool")"
		for wl in $WORKLOADS; do
			s=${STATUS[$tool.$wl]:-}
			if [ -n "$s" ]; then
				printf ' %s |' "$s"
				continue
			fi
			cpu=$(cat "$U/$tool.$wl".*.cost 2>/dev/null | cut -d' ' -f1 | grep -v '?' | median)
			rss=$(cat "$U/$tool.$wl".*.cost 2>/dev/null | cut -d' ' -f2 | grep -v '?' | median)
			printf ' %s s, %s MiB |' "${cpu:-?}" \
				"$([ -n "$rss" ] && awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }' || echo ?)"
		done
		echo
	done
}

found_list()
{
	local tool wl r list=""

	for tool in $TOOLS; do
		[ "$tool" == plain ] && continue
		for wl in mb1 mb2 srv; do
			case " $WORKLOADS " in *" $wl "*) ;; *) continue ;; esac
			for r in $(seq "$RUNS"); do
				if [ -e "$U/$tool.$wl.$r.found" ]; then
					list="$list, $(row_name "$tool") on ${WLNAME[$wl]}"
					grep -q unsymbolized "$U/$tool.$wl.$r.found" &&
						list="$list (exactly the $LEAKS blocks, unsymbolized)"
					break
				fi
			done
		done
	done
	echo "${list#, }"
}

{
	echo "<!-- bench/user.sh writes this part; edit the script, not the text -->"
	echo "# Performance"
	echo
	echo "## Slowdown of a user-space program, against the tools a user would pick instead"
	echo
	if [ "$QUICK" == 1 ]; then
		echo "**BENCH_QUICK=1 run: small workloads, one run each; a smoke test,"
		echo "not numbers to compare.**"
		echo
	fi
	bench_machine
	echo "Load average $LOAD0 when the runs began, $(cut -d' ' -f1 /proc/loadavg) at the end."
	if awk -v l="$LOAD0" 'BEGIN { exit !(l >= 0.5) }'; then
		echo "**The machine was busy (load average $LOAD0 when the runs began):"
		echo "the numbers are noisy.**"
	fi
	echo "gcc $(gcc -dumpfullversion), $(valgrind --version 2>/dev/null), heaptrack"
	echo "$(heaptrack --version 2>/dev/null | awk '{ print $2 }'), bpftrace $(bpftrace --version 2>/dev/null | awk '{ print $2 }'),"
	echo "bcc $(dpkg-query -W -f '${Version}' bpfcc-tools 2>/dev/null || echo '(not installed)')."
	echo
	echo "\`make bench\` (bench/user.sh) runs each workload alone and under each"
	echo "tool, all in one run of the script with the runs interleaved (run 1 of"
	echo "every cell, then run 2, ...).  A cell is the workload's time under the"
	echo "tool divided by its time alone, medians of $RUNS run(s); the workload"
	echo "times itself from the start of main (or from its release, below) to"
	echo "exit (bench/benchtime.c; gcc's cc1 gets it by LD_PRELOAD), so a tool's"
	echo "start-up (loading BPF, bcc compiling its C) and its work after the"
	echo "program exits (valgrind's leak check, final reports) are not counted."
	echo "\`-p\` rows start the workload held before main, attach, and release"
	echo "it (SIGUSR1) once the tool is attached (memleak says so; bcc says it"
	echo "before attaching, so the script waits for its 20 perf events); bcc's"
	echo "\`-c\` starts the command before it compiles its C, so that workload"
	echo "is held the same way; memleak's and bpftrace's \`-c\` hold the command"
	echo "themselves.  Tools run with their default settings (bcc and memleak"
	echo "print a report every 5 s)."
	echo "Tracers that put uprobes on libc's malloc with different settings"
	echo "cannot run at the same time (EINVAL): a run that meets another"
	echo "tracer on the machine waits 30 s and retries, 3 times at most."
	echo "A run that fails or exceeds $TIMEOUT s gives \`fail\` or \`timeout\`"
	echo "(the reason is in build/bench/user/log)."
	echo
	echo "Workloads: mallocbench ($N malloc/free pairs of 16 to 4096 bytes, a"
	echo "working set of 1024 blocks per thread, $LEAKS blocks leaked) with 1 and"
	echo "2 threads sharing the pairs; \`$(basename "$CC1") -O2\` on one preprocessed"
	echo "translation unit of $CC_REAL lines of this project's lib/*/*.c; bench/serverloop"
	echo "($REQ requests: request and response buffers, an LRU cache of 4096"
	echo "entries with evictions, $LEAKS sessions leaked).  The bpftrace one-liner:"
	echo
	echo '```'
	echo "$BT_PROG"
	echo '```'
	echo
	table
	echo
	echo "Tools that reported the known leak (leak_block, leak_session) in"
	echo "their output: $(found_list)."
	echo "(bcc prints every 5 s and not at exit, heaptrack writes a file to"
	echo "analyse later: their output has no leak to find on short runs.)"
	echo
	if [ "$SAMPLING" == 1 ]; then
		echo "### Sampling's cost, closer"
		echo
		echo "After the table, each workload runs $SAMPLE_RUNS more times alone and"
		echo "$SAMPLE_RUNS times under \`memleak -c ${ML_SAMPLE[*]}\`, alternately (every"
		echo "other round the sampled run goes first).  The medians, the slowdown"
		echo "they give, and the middle half (quartiles) of the ratios of each"
		echo "sampled run to the run alone of the same round:"
		echo
		echo "| workload | alone | sampled | slowdown | middle half of the paired ratios |"
		echo "|---|---|---|---|---|"
		for wl in $WORKLOADS; do sampling_row "$wl"; done
		echo
	fi
	echo "### memleak's own cost"
	echo
	echo "CPU seconds (user + system) of the memleak process, from start-up to"
	echo "exit (with \`-c\` the workload's own CPU, a child's, is taken out), and"
	echo "its peak RSS (VmHWM sampled every 0.1 s); medians.  The BPF programs"
	echo "run in the workload and count in its slowdown above."
	echo
	cost_table
	echo
	echo "<!-- end of bench/user.sh's part -->"
} >"$U/doc.md"

# Keep the rest of the document (other scripts' sections).
if [ -f "$DOC" ] && grep -q "end of bench/user.sh's part" "$DOC"; then
	sed '1,/end of bench\/user.sh.s part/d' "$DOC" >"$U/rest.md"
elif [ -f "$DOC" ]; then
	{ echo; cat "$DOC"; } >"$U/rest.md"
else
	: >"$U/rest.md"
fi
cat "$U/doc.md" "$U/rest.md" >"$DOC"
cat "$U/doc.md"
