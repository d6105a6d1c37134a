#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# trace-cmd recordings: "memleak report -i trace.dat" on kmem events with
# kernel stacks (-T), and on uprobe events in memleak's format (system
# memleak_PID, user stacks from -O userstacktrace); "trace-cmd report"
# with plugin_memleak.so loaded prints them readably.
#
# Kernel lockdown (this test machine) keeps trace-cmd from writing
# ftrace_enabled and set_ftrace_pid/filter/notrace, and trace-cmd gives up;
# tc_record runs it in a private mount namespace where those are dummy
# files.  The events themselves are enabled for real.
. "$(dirname "$0")/../lib.sh"
build_targets

PLUGIN_DIR=$ROOT/build
LIBC=$(ldd "$TARGETS/leaky" | awk '/libc\.so\.6/ { print $3 }')

# tc_record NAME ARGS...: trace-cmd record ARGS (output to NAME.tc.out).
# trace-cmd leaves tracing_on at 0 when its cleanup fails: restored.  A
# kallsyms that changes while trace-cmd copies it, or an events directory
# that changes while trace-cmd lists them (other runs' BPF programs and
# probes come and go) fails the run: tried again, 3 times.
tc_record()
{
	local name=$1 d on try

	shift
	d=$(mktemp -d)
	echo 1 >"$d/fe"
	: >"$d/sfp"
	: >"$d/sff"
	: >"$d/sfn"
	on=$(cat "$TRACEFS/tracing_on" "$TRACEFS/options/stacktrace" \
		 "$TRACEFS/options/userstacktrace")
	for try in 1 2 3; do
		unshare -m sh -c 'd=$0
			mount --bind "$d/fe" /proc/sys/kernel/ftrace_enabled &&
			mount --bind "$d/sfp" /sys/kernel/tracing/set_ftrace_pid &&
			mount --bind "$d/sff" /sys/kernel/tracing/set_ftrace_filter &&
			mount --bind "$d/sfn" /sys/kernel/tracing/set_ftrace_notrace &&
			exec trace-cmd record "$@"' "$d" "$@" >"$OUT/$name.tc.out" 2>&1
		TC_RC=$?
		grep -q "data recorded at offset" "$OUT/$name.tc.out" && break
		sleep 0.5
	done
	set -- $on
	echo "$1" >"$TRACEFS/tracing_on"
	echo "$2" >"$TRACEFS/options/stacktrace"
	echo "$3" >"$TRACEFS/options/userstacktrace"
	rm -rf "$d"
}

if ! command -v trace-cmd >/dev/null; then
	fail "trace-cmd is installed (apt-get install trace-cmd)"
	finish
fi

# ---------------------------------------------------------------- kmem, -T
cc -O2 -Wall "$ROOT/tests/helpers/kalloc.c" -o "$OUT/kalloc" || fail "build kalloc"
# kalloc 0 0 10: on SIGUSR1, 10 pipes; the trace ends while it holds them
cat >"$OUT/kmem.sh" <<SH
#!/bin/sh
[ -f "$OUT/kalloc.pid" ] && kill \$(cat "$OUT/kalloc.pid") 2>/dev/null	# a try before
"$OUT/kalloc" 0 0 10 >"$OUT/kalloc.out" 2>&1 &
echo \$! >"$OUT/kalloc.pid"
for i in \$(seq 100); do grep -q ready "$OUT/kalloc.out" && break; sleep 0.05; done
kill -USR1 \$(cat "$OUT/kalloc.pid")
for i in \$(seq 100); do grep -q allocated "$OUT/kalloc.out" && break; sleep 0.05; done
sleep 0.1
SH
chmod +x "$OUT/kmem.sh"
tc_record kmem -e kmem:kmalloc -e kmem:kfree -T -o "$OUT/kmem.dat" "$OUT/kmem.sh"
KPID=$(cat "$OUT/kalloc.pid" 2>/dev/null)
[ -n "$KPID" ] && BG_PIDS+=("$KPID")
check_grep "kmem: kalloc made its pipes" '^allocated$' "$OUT/kalloc.out"
check_eq "kmem: trace.dat written" yes "$([ -s "$OUT/kmem.dat" ] && echo yes)"

ml kmem report -i "$OUT/kmem.dat" --stdio --comm kalloc --symbol alloc_pipe_info
check_exit "kmem: report exits 0" 0
check_grep "kmem: a kernel-allocations report" '^# target +: kernel allocations$' "$ML_OUT"
check_grep "kmem: 10 pipe buffer arrays of 1024 bytes from alloc_pipe_info" \
	'^ +[0-9.]+% +10240 +10 +.* +kalloc +\[k\] ' "$ML_OUT"
check_grep "kmem: their stack goes through alloc_pipe_info and do_pipe2" '^ +alloc_pipe_info\+0x[0-9a-f]+ \[kernel\]$' "$ML_OUT"
check_grep "kmem: ... from the pipe2 system call" '^ +do_pipe2\+0x[0-9a-f]+ \[kernel\]$' "$ML_OUT"
ml kmem-json report -i "$OUT/kmem.dat" --format json --comm kalloc --symbol alloc_pipe_info
check_grep "kmem: json totals of kalloc's pipe allocations (10 x 1024 + 10 x 192)" \
	'"shown_bytes": 12160, "shown_allocations": 20' "$ML_OUT"

TRACEEVENT_PLUGIN_DIR=$PLUGIN_DIR trace-cmd report -i "$OUT/kmem.dat" >"$OUT/kmem.report" 2>"$OUT/kmem.report.err"
check_count "plugin: kmalloc(640) = PTR (1024 allocated) ... from alloc_pipe_info+OFF, 10 times for kalloc" 10 \
	'kalloc-[0-9]+ .* kmalloc: +kmalloc\(640\) = 0xffff[0-9a-f]+ \(1024 allocated\) gfp=0x[0-9a-f]+ from alloc_pipe_info\+0x[0-9a-f]+$' \
	"$OUT/kmem.report"
check_grep "plugin: kfree(PTR) from FUNC+OFF" 'kfree: +kfree\(0xffff[0-9a-f]+\) from [a-z_0-9.]+\+0x[0-9a-f]+$' "$OUT/kmem.report"
trace-cmd report -N -i "$OUT/kmem.dat" >"$OUT/kmem.noplugin" 2>/dev/null
check_no_grep "without the plugin: trace-cmd's own format" 'kmalloc\(640\) = ' "$OUT/kmem.noplugin"
[ -n "$KPID" ] && kill -TERM "$KPID" 2>/dev/null

# ---------------------------------------------------------------- memleak's own uprobe events
# While memleak runs, its events are recorded by trace-cmd: the twin
# system memleak_PID_trace (the kernel lets an event serve BPF or ftrace,
# not both, so memleak's BPF uses memleak_PID and ftrace users the twin).
bg ml-live "$TARGETS/leaky" wait
LIVE_TARGET=$BG_PID
wait_for "$OUT/ml-live.out" '^ready$' 10 || fail "uprobe: the live target starts"
bg ml-running "$MEMLEAK" -p "$LIVE_TARGET" 1
ML_RUNNING=$BG_PID
wait_for "$OUT/ml-running.out" '^Attaching to pid' 30 || fail "uprobe: memleak attaches"
SYS=memleak_${ML_RUNNING}_trace
check_eq "uprobe: memleak made the twin system $SYS" yes \
	"$([ -e "$TRACEFS/events/$SYS/malloc/enable" ] && echo yes)"
remove_events()
{
	kill -INT "$ML_RUNNING" 2>/dev/null
	wait_exit "$ML_RUNNING" 20
	kill -TERM "$LIVE_TARGET" 2>/dev/null
}

# The command starts leaky, which trace-cmd follows (a child), makes it
# leak once more on SIGUSR1 and ends the trace with leaky still running
# (report reads its mappings).
cat >"$OUT/uprobe.sh" <<SH
#!/bin/sh
[ -f "$OUT/leaky.pid" ] && kill \$(cat "$OUT/leaky.pid") 2>/dev/null	# a try before
"$TARGETS/leaky" wait >"$OUT/leaky.out" 2>&1 &
echo \$! >"$OUT/leaky.pid"
for i in \$(seq 100); do grep -q ready "$OUT/leaky.out" && break; sleep 0.05; done
kill -USR1 \$(cat "$OUT/leaky.pid")
for i in \$(seq 100); do grep -q leaked "$OUT/leaky.out" && break; sleep 0.05; done
SH
chmod +x "$OUT/uprobe.sh"
tc_record uprobe -e "$SYS" -O userstacktrace -o "$OUT/uprobe.dat" "$OUT/uprobe.sh"
LPID=$(cat "$OUT/leaky.pid" 2>/dev/null)
[ -n "$LPID" ] && BG_PIDS+=("$LPID")
remove_events
check_no_events "uprobe: memleak left no events ($SYS) once it exits" "$ML_RUNNING"
check_grep "uprobe: leaky leaked on SIGUSR1" '^leaked$' "$OUT/leaky.out"

ml uprobe report -i "$OUT/uprobe.dat" --stdio --comm leaky
check_exit "uprobe: report exits 0" 0
check_grep "uprobe: the leak of SIGUSR1, 10 x 777 bytes, at leak_on_signal" \
	'^ +[0-9.]+% +7770 +10 +.* +leaky +\[\.\] leak_on_signal$' "$ML_OUT"
check_grep "uprobe: and the 100 x 48 bytes before, at leak_direct" \
	'^ +[0-9.]+% +4800 +100 +.* +leaky +\[\.\] leak_direct$' "$ML_OUT"
check_grep "uprobe: its call chain symbolized" "^            ---$(frame leak_on_signal leaky leaky.c "$(line_of leaky.c signal)")$" "$ML_OUT"

TRACEEVENT_PLUGIN_DIR=$PLUGIN_DIR trace-cmd report -i "$OUT/uprobe.dat" >"$OUT/uprobe.report" 2>"$OUT/uprobe.report.err"
check_count "plugin: malloc(777) entry lines" 10 ' malloc: +malloc\(777\)$' "$OUT/uprobe.report"
check_count "plugin: malloc(777) = 0x... return lines" 10 ' malloc__return: +malloc\(777\) = 0x[0-9a-f]+$' "$OUT/uprobe.report"
[ -n "$LPID" ] && kill -TERM "$LPID"

finish
