#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak -c on each mode of the leaky target: exact bytes, counts, stacks.
. "$(dirname "$0")/../lib.sh"
build_targets

L=leaky.c
M=leaky

# leaky_run NAME MODE [OPTIONS...]: memleak OPTIONS -c "./build/targets/leaky MODE",
# which must exit 0 with exactly one report and no losses.
leaky_run()
{
	local name=$1 mode=$2

	shift 2
	ml "$name" "$@" -c "./build/targets/leaky $mode"
	check_exit "$name: exits with the command's status 0" 0
	check_reports "$name: one final report" "$ML_OUT" 1
	check_no_grep "$name: no losses" "$RE_LOST" "$ML_OUT"
}

# direct: 100 x malloc(48) in leak_direct(), called from main()
leaky_run direct direct
check_grep "direct: header says Top 10" $'^\\[[0-9:]{8}\\] Top 10 stacks with outstanding allocations:$' "$ML_OUT"
check_nstacks "direct: exactly one stack" "$ML_OUT" 1
check_stack "direct: 4800 bytes in 100 allocations at leak_direct, called by main" "$ML_OUT" 4800 100 \
	"$(frame leak_direct $M $L "$(line_of $L direct)")" \
	"$(frame main $M $L "$(call_of $L direct)")"
check_count "direct: the bytes line is exactly as specified" 1 \
	$'^\t4800 bytes in 100 allocations from stack$' "$ML_OUT"

# calloc: 10 x calloc(10, 32)
leaky_run calloc calloc
check_nstacks "calloc: exactly one stack" "$ML_OUT" 1
check_stack "calloc: 3200 bytes in 10 allocations at leak_calloc" "$ML_OUT" 3200 10 \
	"$(frame leak_calloc $M $L "$(line_of $L calloc)")"

# strdup: the leaf is strdup in libc (no frame pointers there): only the leaf
leaky_run strdup strdup
check_nstacks "strdup: exactly one stack" "$ML_OUT" 1
check_stack "strdup: 240 bytes in 10 allocations, leaf strdup [libc.so.6]" "$ML_OUT" 240 10 \
	"$(ere strdup)\+0x[0-9a-f]+ \[libc\.so\.6\]( .*)?"

# memalign: posix_memalign and aligned_alloc (an alias of memalign in glibc
# 2.36: counted once)
leaky_run memalign memalign
check_nstacks "memalign: exactly two stacks" "$ML_OUT" 2
check_sizes "memalign: largest first" "$ML_OUT" "5000 5,512 4"
check_stack "memalign: posix_memalign 5000 bytes in 5 allocations" "$ML_OUT" 5000 5 \
	"$(frame leak_memalign $M $L "$(line_of $L posix_memalign)")"
check_stack "memalign: aligned_alloc 512 bytes in 4 allocations (not 8)" "$ML_OUT" 512 4 \
	"$(frame leak_memalign $M $L "$(line_of $L aligned_alloc)")"

# realloc: only the end of the chain is outstanding; realloc(q, 0) freed q;
# the failed realloc left r, which was then freed
leaky_run realloc realloc
check_nstacks "realloc: exactly one stack" "$ML_OUT" 1
check_stack "realloc: 100000 bytes in 1 allocations at the last realloc" "$ML_OUT" 100000 1 \
	"$(frame leak_realloc $M $L "$(line_of $L realloc)")"

# mmap: 2 x 3 pages mapped, one unmapped
leaky_run mmap mmap
check_nstacks "mmap: exactly one stack" "$ML_OUT" 1
check_stack "mmap: 12288 bytes in 1 allocations at leak_mmap" "$ML_OUT" 12288 1 \
	"$(frame leak_mmap $M $L "$(line_of $L mmap)")"

# threads: 4 threads x 25 x malloc(1000), each first malloc in a new arena:
# no allocation lost, nothing of the arenas or thread stacks counted; with
# frame pointers, then with the default (DWARF) unwinder, which has to find
# the libraries while new threads hold the mmap lock.
leaky_run threads threads --call-graph fp
check_stack "threads: 100000 bytes in 100 allocations at thread_leak" "$ML_OUT" 100000 100 \
	"$(frame thread_leak $M $L "$(line_of $L thread)")"
check_nstacks "threads: exactly one stack (no arena or thread-stack mappings)" "$ML_OUT" 1
leaky_run threads-dwarf threads
check_nstacks "threads, default stacks: exactly one stack" "$ML_OUT" 1
check_eq "threads, default stacks: 100000 bytes in 100 allocations from thread_leak" \
	"100000 100" "$(awk '/bytes in/ { b = $1; n = $4 }
		/^\t\tthread_leak\+/ { tb += b; tn += n }
		END { print tb + 0, tn + 0 }' "$ML_OUT")"

# none: everything freed, nothing to report
leaky_run none none
check_nstacks "none: no stacks" "$ML_OUT" 0
check_count "none: no 'bytes in' lines" 0 "$RE_BYTES" "$ML_OUT"

# mixed: direct, calloc, strdup, memalign, realloc; largest first
leaky_run mixed mixed
check_sizes "mixed: all stacks, largest first" "$ML_OUT" \
	"100000 1,5000 5,4800 100,3200 10,512 4,240 10"
check_stack "mixed: realloc stack" "$ML_OUT" 100000 1 \
	"$(frame leak_realloc $M $L "$(line_of $L realloc)")" \
	"$(frame main $M $L "$(call_of $L realloc)")"
check_stack "mixed: direct stack" "$ML_OUT" 4800 100 \
	"$(frame leak_direct $M $L "$(line_of $L direct)")"

# all is the same as mixed
leaky_run all all
check_sizes "all: all stacks, largest first" "$ML_OUT" \
	"100000 1,5000 5,4800 100,3200 10,512 4,240 10"

finish
