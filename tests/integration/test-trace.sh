#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# -t: one line per allocation and free, as it happens:
#	TIME COMM PID/TID malloc(48) = 0x...
#	TIME COMM PID/TID free(0x...) size=48
. "$(dirname "$0")/../lib.sh"
build_targets

# events FILE: the trace lines of leaky as "PID TID CALL".
events()
{
	sed -nE 's/^ *[0-9][0-9.:]* +leaky +([0-9]+)\/([0-9]+) +([a-z_]+\(.*)$/\1 \2 \3/p' "$1"
}

# calls FILE: only the CALL part of each trace line.
calls()
{
	events "$1" | cut -d' ' -f3-
}

# target_pid FILE: the pid in "Attaching to pid N".
target_pid()
{
	sed -nE 's/^Attaching to pid ([0-9]+)[ ,].*/\1/p' "$1" | head -n 1
}

# check_after DESC FILE FIRST-ERE NEXT-TEMPLATE: the event after the first
# event matching FIRST-ERE (whose "= 0x..." result is X) is exactly
# NEXT-TEMPLATE with @ replaced by X.
check_after()
{
	local desc=$1 file=$2 first=$3 next=$4 got addr line want

	line=$(calls "$file" | grep -nE -m1 -- "^$first = 0x[0-9a-f]+$" | cut -d: -f1)
	if [ -z "$line" ]; then
		fail "$desc" "no event matching: $first = 0x..." "events:" "$(calls "$file" | head -n 30)"
		ml_context
		return
	fi
	got=$(calls "$file" | sed -n "${line}p;$((line + 1))p")
	addr=$(head -n 1 <<<"$got" | sed -E 's/.* = (0x[0-9a-f]+)$/\1/')
	want=${next//@/$addr}
	check_eq "$desc" "$want" "$(tail -n 1 <<<"$got")"
}

# direct: 100 x malloc(48), nothing freed
ml direct -t -c "./build/targets/leaky direct"
check_exit "direct -t: exits 0" 0
pid=$(target_pid "$ML_OUT")
check_count "direct -t: 100 lines 'TIME leaky PID/PID malloc(48) = 0x...'" 100 \
	"^ *[0-9][0-9.:]* +leaky +$pid/$pid +malloc\(48\) = 0x[0-9a-f]+$" "$ML_OUT"
check_eq "direct -t: 100 events in all" 100 "$(events "$ML_OUT" | grep -c .)"
check_eq "direct -t: 100 distinct addresses" 100 \
	"$(calls "$ML_OUT" | sed -nE 's/.* = (0x[0-9a-f]+)$/\1/p' | sort -u | grep -c .)"
check_stack "direct -t: the report follows" "$ML_OUT" 4800 100 \
	"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"

# none: each allocation and its free
ml none -t -c "./build/targets/leaky none"
check_exit "none -t: exits 0" 0
check_after "none -t: malloc(48) = X, then free(X) size=48" "$ML_OUT" \
	'malloc\(48\)' 'free(@) size=48'
check_after "none -t: calloc(10, 32) = X, then free(X) size=320" "$ML_OUT" \
	'calloc\(10, 32\)' 'free(@) size=320'
check_after "none -t: realloc(0x0, 16) = X, then realloc(X, 64)" "$ML_OUT" \
	'realloc\(0x0, 16\)' 'realloc(@, 64) = '"$(calls "$ML_OUT" | sed -nE 's/^realloc\(0x[0-9a-f]+, 64\) = (0x[0-9a-f]+)$/\1/p' | head -n 1)"
check_after "none -t: realloc(X, 4096) = Y, then free(Y) size=4096" "$ML_OUT" \
	'realloc\(0x[0-9a-f]+, 4096\)' 'free(@) size=4096'
check_count "none -t: realloc(NULL, 16) is one event, not also a malloc(16)" 0 \
	'malloc\(16\) = ' "$ML_OUT"
check_count "none -t: no losses" 0 "$RE_LOST" "$ML_OUT"
check_nstacks "none -t: nothing outstanding" "$ML_OUT" 0

# realloc: the chain, each step from the previous block
ml realloc -t -c "./build/targets/leaky realloc"
check_exit "realloc -t: exits 0" 0
chain=$(calls "$ML_OUT" | grep -E '^(realloc|malloc)\(' | head -n 4)
a=$(sed -nE '1s/^realloc\(0x0, 16\) = (0x[0-9a-f]+)$/\1/p' <<<"$chain")
b=$(sed -nE "2s/^realloc\\(${a:-none}, 64\\) = (0x[0-9a-f]+)\$/\\1/p" <<<"$chain")
c=$(sed -nE "3s/^realloc\\(${b:-none}, 4096\\) = (0x[0-9a-f]+)\$/\\1/p" <<<"$chain")
d=$(sed -nE "4s/^realloc\\(${c:-none}, 100000\\) = (0x[0-9a-f]+)\$/\\1/p" <<<"$chain")
if [ -n "$d" ]; then
	pass "realloc -t: realloc(0x0, 16) = A, realloc(A, 64) = B, realloc(B, 4096) = C, realloc(C, 100000) = D"
else
	fail "realloc -t: realloc(0x0, 16) = A, realloc(A, 64) = B, realloc(B, 4096) = C, realloc(C, 100000) = D" \
		"actual first four malloc/realloc events:" "$chain"
	ml_context
fi
check_stack "realloc -t: the report follows" "$ML_OUT" 100000 1 \
	"$(frame leak_realloc leaky leaky.c "$(line_of leaky.c realloc)")"

# threads: PID/TID of each thread
ml threads -t -c "./build/targets/leaky threads"
check_exit "threads -t: exits 0" 0
pid=$(target_pid "$ML_OUT")
check_count "threads -t: 100 malloc(1000) events" 100 \
	'^ *[0-9][0-9.:]* +leaky +[0-9]+/[0-9]+ +malloc\(1000\) = 0x[0-9a-f]+$' "$ML_OUT"
check_eq "threads -t: 4 threads (TIDs) of pid $pid, 25 mallocs each, none by the main thread" \
	"25 25 25 25" \
	"$(events "$ML_OUT" | awk -v pid="$pid" '$3 ~ /^malloc\(1000\)/ && $1 == pid && $2 != pid { n[$2]++ }
		END { for (t in n) print n[t] }' | sort | paste -sd' ' -)"

# A thread that allocates and then waits: its batch is handed over by the
# preload library's flusher thread, yet the events are that thread's.
ml_bg wait-t "$MEMLEAK" -t -c "./build/targets/leaky wait"
if wait_for "$ML_OUT" '^ready$' 10; then
	pid=$(target_pid "$ML_OUT")
	kill -USR1 "$pid"
	wait_for "$ML_OUT" 'malloc\(777\)' 10
	sleep 0.5
	kill -TERM "$pid"
fi
wait_exit "$ML_PID" 20
ML_RC=$WAIT_RC
check_exit "wait -t: exits 0" 0
check_eq "wait -t: the 10 malloc(777) of SIGUSR1 are the main thread's (TID = PID)" \
	"10 $pid/$pid" \
	"$(events "$ML_OUT" | awk '$3 ~ /^malloc\(777\)/ { n++; t[$1 "/" $2] = 1 }
		END { for (k in t) s = s " " k; print n s }')"

finish
