#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak record --kernel: kernel stacks and the kernel symbol table go into
# the file; report symbolizes from them; perf.data of kernel stacks is read
# by perf report.  The workload: kalloc holding 10 pipes.
. "$(dirname "$0")/../lib.sh"
build_targets

cc -O2 -Wall "$ROOT/tests/helpers/kalloc.c" -o "$OUT/kalloc" || fail "build kalloc"
bg kalloc "$OUT/kalloc" 0 0 10
KPID=$BG_PID
wait_for "$OUT/kalloc.out" ready 10 || fail "kalloc did not start"

bg rec "$MEMLEAK" record --kernel --duration 3 -o "$OUT/kernel.data"
REC=$BG_PID
wait_for "$OUT/rec.err" '^Attaching to kernel allocators' 20 || fail "record --kernel did not attach" "$(cat "$OUT/rec.err")"
kill -USR1 "$KPID"
wait_for "$OUT/kalloc.out" allocated 10 || fail "kalloc did not allocate"
wait_exit "$REC" 30
check_eq "record --kernel --duration 3: exits 0" 0 "$WAIT_RC"
check_no_events "record --kernel: no tracefs events left behind" "$REC"
check_grep "record --kernel: wrote the file" '^\[ memleak record: wrote [0-9.]+ MB to ' "$OUT/rec.err"

ml report report -i "$OUT/kernel.data" --stdio --comm kalloc --symbol alloc_pipe_info
check_exit "report: exits 0" 0
check_grep "report: a kernel-allocations report" '^# target +: kernel allocations$' "$ML_OUT"
check_grep "report: kalloc's 10 pipe buffer arrays, 1024 bytes each" '^ +[0-9.]+% +10240 +10 +.* +kalloc +\[k\] ' "$ML_OUT"
check_grep "report: kernel frames named from the recorded symbol table" '^ +alloc_pipe_info\+0x[0-9a-f]+ \[kernel\]' "$ML_OUT"
check_grep "report: ... up to the pipe2 system call" '^ +do_pipe2\+0x[0-9a-f]+ \[kernel\]' "$ML_OUT"

ml json report -i "$OUT/kernel.data" --format json --comm kalloc --symbol alloc_pipe_info
check_grep "json: kernel frames" '"function": "alloc_pipe_info", .*"kernel": true' "$ML_OUT"

ml perfdata report -i "$OUT/kernel.data" --format perf-data --comm kalloc -o "$OUT/perf.data"
perf report -i "$OUT/perf.data" --stdio --no-children --sort comm,dso >"$OUT/perf-report.out" 2>/dev/null
check_grep "perf report: kalloc's samples in [kernel.kallsyms]" '^ +[0-9.]+% +kalloc +\[kernel\.kallsyms\]$' "$OUT/perf-report.out"
kill -TERM "$KPID"

finish
