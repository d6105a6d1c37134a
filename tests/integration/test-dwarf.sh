#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Complete user stacks through code without frame pointers (issue #6): leak
# programs built -O2 -fomit-frame-pointer -fno-optimize-sibling-calls,
# leaks through libc (strdup, getline, fopen), from a thread, in a shared
# library without frame pointers, in a library dlopen()ed later, in code
# described only by .debug_frame, and a
# stack deeper than memleak keeps (marked truncated and counted).  Each
# stack is compared with what valgrind prints for the same program: same
# functions, same order, same file:line, from the allocator's caller to
# main (start_thread for a thread).
. "$(dirname "$0")/../lib.sh"

NOFP_CFLAGS="-g -O2 -fomit-frame-pointer -fno-optimize-sibling-calls -Wall"

# Build the targets of this test (tests/targets/Makefile builds the -O0 ones).
build_nofp()
{
	local log=$OUT/build-nofp.log

	mkdir -p "$TARGETS"
	if { gcc $NOFP_CFLAGS -pthread "$TSRC/nofp.c" -o "$TARGETS/nofp" &&
	     gcc $NOFP_CFLAGS -fPIC -shared "$TSRC/libnofp.c" -o "$TARGETS/libnofp.so" &&
	     gcc $NOFP_CFLAGS "$TSRC/usenofp.c" -L"$TARGETS" -lnofp \
		-Wl,-rpath,'$ORIGIN' -o "$TARGETS/usenofp" &&
	     gcc $NOFP_CFLAGS "$TSRC/dlnofp.c" -ldl -o "$TARGETS/dlnofp" &&
	     gcc $NOFP_CFLAGS -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-pthread "$TSRC/nofp.c" -o "$TARGETS/nofp-debug-frame" &&
	     gcc $NOFP_CFLAGS -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-fPIC -shared "$TSRC/libnofp.c" -o "$TARGETS/libnofpdf.so" &&
	     gcc $NOFP_CFLAGS "$TSRC/usenofp.c" -L"$TARGETS" -lnofpdf \
		-Wl,-rpath,'$ORIGIN' -o "$TARGETS/usenofp-debug-frame"; } >"$log" 2>&1; then
		pass "build the targets without frame pointers"
		return 0
	fi
	fail "build the targets without frame pointers" "$(tail -n 20 "$log")"
	finish
}

# ml_sigs FILE: each stack of the last report as "fn file:line | fn ...",
# from the leaf to main or start_thread; leading underscores dropped from
# names (memleak names __strdup what valgrind names strdup).
ml_sigs()
{
	stacks "$1" | awk -F '\t' '{
		s = ""
		for (i = 2; i <= NF; i++) {
			n = split($i, w, " ")
			fn = w[1]; sub(/\+0x[0-9a-f]+$/, "", fn); sub(/^_+/, "", fn)
			loc = "?"
			for (j = 2; j <= n; j++)
				if (w[j] ~ /:[0-9]+$/) loc = w[j]
			s = s (s == "" ? "" : " | ") fn " " loc
			if (fn == "main" || fn == "start_thread") break
		}
		print s
	}'
}

# vg_sigs FILE: the same for each loss record of a valgrind log, from the
# frame after the allocator (valgrind's own replacement) on.
vg_sigs()
{
	awk '
	/in loss record/ { rec = 1; s = ""; stop = 0; next }
	rec && /^==[0-9]+== +(at|by) 0x/ {
		if (stop) next
		line = $0
		sub(/^==[0-9]+== +(at|by) 0x[0-9A-F]+: /, "", line)
		if (line ~ /\(in \/usr\/libexec\/valgrind\//) next
		fn = line; sub(/ \(.*$/, "", fn); sub(/^_+/, "", fn)
		loc = "?"
		if (match(line, /\(([^ ()]+:[0-9]+)\)$/))
			loc = substr(line, RSTART + 1, RLENGTH - 2)
		s = s (s == "" ? "" : " | ") fn " " loc
		if (fn == "main" || fn == "start_thread") stop = 1
		next
	}
	rec && /^==[0-9]+== *$/ { if (s != "") print s; rec = 0 }
	' "$1"
}

# check_valgrind DESC ML-OUT VG-LOG LEAF-FN: the memleak stack whose leaf
# frame is LEAF-FN is, frame by frame, one valgrind printed.
check_valgrind()
{
	local desc=$1 mine theirs

	mine=$(ml_sigs "$2" | grep -E "^_*$4[ .]" | head -n 1)
	theirs=$(vg_sigs "$3")
	if [ -z "$mine" ]; then
		fail "$desc" "no memleak stack with leaf $4" "$(stacks_pretty "$2")"
		ml_context
	elif grep -qxF -- "$mine" <<<"$theirs"; then
		pass "$desc"
	else
		fail "$desc" "memleak: $mine" "valgrind stacks:" "$theirs"
		ml_context
	fi
}

# vg NAME ARGS...: valgrind ARGS into tests/out/<test>/NAME.vg
vg()
{
	local name=$1

	shift
	VG_LOG=$OUT/$name.vg
	if ! timeout -k 5 120 valgrind --leak-check=full --show-leak-kinds=all \
		--num-callers=64 "$@" >"$OUT/$name.vg.out" 2>"$VG_LOG"; then
		fail "$name: valgrind runs" "$(tail -n 5 "$VG_LOG")"
	fi
}

build_nofp
command -v valgrind >/dev/null || fail "valgrind is installed"
ln=$(line_of nofp.c direct)

# ---- the default: DWARF stacks through the program and libc
ml nofp -c "$TARGETS/nofp all"
check_exit "nofp: exits 0" 0
check_no_grep "nofp: no losses" "$RE_LOST" "$ML_OUT"
check_no_grep "nofp: no stack truncated" '\[truncated\]' "$ML_OUT"
check_stack "nofp: direct leak, every frame" "$ML_OUT" 500 5 \
	"$(frame leaf_alloc.constprop.0 nofp nofp.c "$ln")" \
	"$(frame middle.constprop.0 nofp nofp.c "$(call_of nofp.c middle)")" \
	"$(frame outer.constprop.0 nofp nofp.c "$(call_of nofp.c outer)")" \
	"$(frame main nofp nofp.c "$(call_of nofp.c main-direct)")"
check_stack "nofp: strdup leak through libc, caller and main" "$ML_OUT" 60 3 \
	"(__)?$(frame strdup libc.so.6)[^	]*" \
	"$(frame leak_strdup.constprop.0 nofp nofp.c "$(line_of nofp.c strdup)")" \
	"$(frame main nofp nofp.c "$(call_of nofp.c main-strdup)")"
check_in_stack "nofp: stacks end at _start" "$ML_OUT" \
	"$(frame _start nofp)" "(__)?$(frame strdup libc.so.6)[^	]*"
check_in_stack "nofp: thread stacks end in clone3" "$ML_OUT" \
	"(__)?$(frame clone3 libc.so.6)[^	]*" \
	"$(frame thread_leaf.constprop.0 nofp nofp.c "$(line_of nofp.c thread)")"

vg nofp "$TARGETS/nofp" all
check_valgrind "nofp: direct leak = valgrind" "$ML_OUT" "$VG_LOG" leaf_alloc
check_valgrind "nofp: strdup leak = valgrind" "$ML_OUT" "$VG_LOG" strdup
check_valgrind "nofp: getline leak = valgrind" "$ML_OUT" "$VG_LOG" getdelim
check_valgrind "nofp: fopen leak = valgrind" "$ML_OUT" "$VG_LOG" fopen_internal
check_valgrind "nofp: thread leak = valgrind" "$ML_OUT" "$VG_LOG" thread_leaf

# ---- explicit --call-graph dwarf is the same; fp stops at the leaf
ml nofp-dwarf --call-graph dwarf -c "$TARGETS/nofp direct"
check_exit "nofp --call-graph dwarf: exits 0" 0
check_stack "nofp --call-graph dwarf: every frame" "$ML_OUT" 500 5 \
	"$(frame leaf_alloc.constprop.0 nofp nofp.c "$ln")" \
	"$(frame middle.constprop.0 nofp nofp.c "$(call_of nofp.c middle)")"
ml nofp-fp --call-graph fp -c "$TARGETS/nofp direct"
check_exit "nofp --call-graph fp: exits 0" 0
check_stack "nofp --call-graph fp: the leaf frame" "$ML_OUT" 500 5 \
	"$(frame leaf_alloc.constprop.0 nofp nofp.c "$ln")"

# ---- a program whose own code has only .debug_frame (no .eh_frame FDEs):
# the preload library's unwinder (libgcc) cannot follow it, libc uprobes can
ml debug-frame -c "$TARGETS/nofp-debug-frame direct"
check_exit "nofp-debug-frame: exits 0" 0
check_grep "nofp-debug-frame: says why the preload library is not used" \
	"nofp-debug-frame: .*\\.debug_frame only.*libc uprobes" "$ML_ERR"
check_no_grep "nofp-debug-frame: no stack truncated" '\[truncated\]' "$ML_OUT"
check_stack "nofp-debug-frame: every frame, from .debug_frame" "$ML_OUT" 500 5 \
	"$(frame leaf_alloc.constprop.0 nofp-debug-frame nofp.c "$ln")" \
	"$(frame middle.constprop.0 nofp-debug-frame nofp.c "$(call_of nofp.c middle)")" \
	"$(frame outer.constprop.0 nofp-debug-frame nofp.c "$(call_of nofp.c outer)")" \
	"$(frame main nofp-debug-frame nofp.c "$(call_of nofp.c main-direct)")"

# ---- a shared library without frame pointers
ml usenofp -c "$TARGETS/usenofp"
check_exit "usenofp: exits 0" 0
check_no_grep "usenofp: no losses" "$RE_LOST" "$ML_OUT"
check_stack "usenofp: library frames, then the program's" "$ML_OUT" 1536 6 \
	"$(frame nofp_inner.constprop.0 libnofp.so libnofp.c "$(line_of libnofp.c lib)")" \
	"$(frame nofp_lib_leak libnofp.so libnofp.c "$(call_of libnofp.c lib)")" \
	"$(frame call_lib.constprop.0 usenofp usenofp.c "$(call_of usenofp.c use)")" \
	"$(frame main usenofp usenofp.c "$(call_of usenofp.c main-use)")"
vg usenofp "$TARGETS/usenofp"
check_valgrind "usenofp: library leak = valgrind" "$ML_OUT" "$VG_LOG" nofp_inner

# ---- the same for a library the program needs
ml usenofp-df -c "$TARGETS/usenofp-debug-frame"
check_exit "usenofp-debug-frame: exits 0" 0
check_grep "usenofp-debug-frame: names the library with .debug_frame only" \
	"libnofpdf\\.so, which it loads, .*\\.debug_frame only.*libc uprobes" "$ML_ERR"
check_stack "usenofp-debug-frame: library frames from .debug_frame, then the program's" \
	"$ML_OUT" 1536 6 \
	"$(frame nofp_inner.constprop.0 libnofpdf.so libnofp.c "$(line_of libnofp.c lib)")" \
	"$(frame nofp_lib_leak libnofpdf.so libnofp.c "$(call_of libnofp.c lib)")" \
	"$(frame call_lib.constprop.0 usenofp-debug-frame usenofp.c "$(call_of usenofp.c use)")" \
	"$(frame main usenofp-debug-frame usenofp.c "$(call_of usenofp.c main-use)")"
# and a program without such code keeps the preload library
check_no_grep "usenofp: the preload library traces it" "libc uprobes" "$OUT/usenofp.err"

# ---- a library dlopen()ed after the start: its table loaded within 0.3 s
ml dlnofp -c "$TARGETS/dlnofp"
check_exit "dlnofp: exits 0" 0
check_stack "dlnofp: dlopen()ed library, every frame" "$ML_OUT" 768 3 \
	"$(frame nofp_inner.constprop.0 libnofp.so libnofp.c "$(line_of libnofp.c lib)")" \
	"$(frame nofp_lib_leak libnofp.so libnofp.c "$(call_of libnofp.c lib)")" \
	"$(frame call_dl.isra.0 dlnofp dlnofp.c "$(call_of dlnofp.c dl)")" \
	"$(frame main dlnofp dlnofp.c "$(call_of dlnofp.c main-dl)")"

# ---- -p: tables from the running process's mappings
bg nofp-sleep "$TARGETS/nofp" sleep
ml nofp-pid -p "$BG_PID" 1 4
check_stack "nofp -p: direct leak, every frame" "$ML_OUT" 500 5 \
	"$(frame leaf_alloc.constprop.0 nofp nofp.c "$ln")" \
	"$(frame middle.constprop.0 nofp nofp.c "$(call_of nofp.c middle)")" \
	"$(frame outer.constprop.0 nofp nofp.c "$(call_of nofp.c outer)")" \
	"$(frame main nofp nofp.c "$(call_of nofp.c main-direct)")"
check_valgrind "nofp -p: strdup leak = valgrind" "$ML_OUT" "$OUT/nofp.vg" strdup

# ---- libc uprobes: the second stack where the first one's frames were
# (what the unwinder read of the first is not read back)
ml shift --no-preload -c "$TARGETS/nofp shift"
check_exit "shift: exits 0" 0
check_stack "shift: the leak under the big frame, every frame" "$ML_OUT" 40 1 \
	"$(frame big_frame.constprop.0 nofp nofp.c "$(line_of nofp.c big)")" \
	"$(frame under_big.constprop.0 nofp nofp.c "$(call_of nofp.c under_big)")" \
	"$(frame main nofp nofp.c "$(call_of nofp.c main-big)")"
check_stack "shift: the leak under the small frame, called by main" "$ML_OUT" 24 1 \
	"$(frame small_frame.constprop.0 nofp nofp.c "$(line_of nofp.c small)")" \
	"$(frame main nofp nofp.c "$(call_of nofp.c main-small)")"

# ---- deeper than kept: marked and counted, never shown as complete
ml deep -c "$TARGETS/nofp deep"
check_exit "deep: exits 0" 0
check_grep "deep: the stack ends in [truncated]" $'^\t\t\\[truncated\\]$' "$ML_OUT"
check_grep "deep: truncated stacks counted" $'^\tlost: 1 user stacks not unwound' "$ML_OUT"

finish
