#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The preload source (memleak -c's default): the same reports as libc
# uprobes (--no-preload), cross-thread address reuse, the flush protocol,
# byte sampling, and the fallback for static programs.
. "$(dirname "$0")/../lib.sh"
build_targets

# same_report MODE: leaky MODE under both sources: the same stacks, bytes, counts
same_report()
{
	local mode=$1 a b

	ml "$mode-preload" -c "./build/targets/leaky $mode"
	check_exit "$mode: preload exits 0" 0
	a=$(stacks "$ML_OUT")
	ml "$mode-uprobe" --no-preload -c "./build/targets/leaky $mode"
	check_exit "$mode: --no-preload exits 0" 0
	b=$(stacks "$ML_OUT")
	check_eq "$mode: preload and uprobe reports are identical" "$b" "$a"
}

# check_estimate DESC BYTES: the last report's bytes are within 10 % of BYTES
check_estimate()
{
	local total

	total=$(stacks "$ML_OUT" | awk '{ b += $1 } END { print b + 0 }')
	if awk -v t="$total" -v w="$2" 'BEGIN { exit !(t > 0.9 * w && t < 1.1 * w) }'; then
		pass "$1 $total within 10% of $2"
	else
		fail "$1 $total not within 10% of $2"
		ml_context
	fi
}

for m in direct calloc strdup memalign realloc mmap threads none mixed; do
	same_report "$m"
done

# The library's flusher is no pthread: libc still thinks the program is
# single-threaded (and its malloc takes no lock), and the program is traced
for opt in "" "--sample-bytes"; do
	ml "single$opt" $opt -c "./build/targets/leaky single"
	check_grep "single${opt:+ $opt}: libc still sees one thread" '^single-threaded: yes$' "$ML_OUT"
	[ -n "$opt" ] && continue
	check_stack "single: and its leak is found" "$ML_OUT" 4800 100 \
		"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"
done

# A daemon drops root: libc changes every pthread's credentials, and the
# library's flusher (no pthread) hands over to one first, so no task of
# the process keeps root; the flushes go on
ml setuid -c "./build/targets/leaky setuid"
check_exit "setuid: exits 0" 0
check_grep "setuid: no task of the process kept root" '^no task kept root$' "$ML_OUT"
check_stack "setuid: the leak after it is found" "$ML_OUT" 4800 100 \
	"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"

# A thread whose batch is pending when it exits (threads mode: 25 each)
ml threads-exit -c "./build/targets/leaky threads"
check_stack "threads: exited threads' batches arrive" "$ML_OUT" 100000 100 \
	"$(frame thread_leak leaky leaky.c "$(line_of leaky.c thread)")"

# Thread B frees what A allocated while A gets the same address back
for i in 1 2 3; do
	ml contend-$i -c "./build/targets/preloadt contend"
	check_exit "contend $i: exits 0" 0
	check_nstacks "contend $i: one stack, nothing invented" "$ML_OUT" 1
	check_stack "contend $i: exactly the 5000 kept blocks" "$ML_OUT" 320000 5000 \
		"$(frame contend preloadt preloadt.c "$(line_of preloadt.c contend)")"
done

# A report while the target sleeps with frees still in its batch: no
# periodic flush, only memleak's request
MEMLEAK_PRELOAD_PERIOD_MS=0 ml live -c "./build/targets/preloadt live" 1
check_stack_in "live: the report at 1 s shows the 10 blocks left, no freed one" \
	"$ML_OUT" 1 1000 10 "$(frame live preloadt preloadt.c "$(line_of preloadt.c live)")"
check_nstacks "live: one stack at 1 s" "$ML_OUT" 1 1

# _exit() and _Exit() skip destructors: the library flushes first (no
# periodic flush here: only the exit hands the batch over)
for m in exit Exit; do
	MEMLEAK_PRELOAD_PERIOD_MS=0 ml "$m" -c "./build/targets/preloadt $m"
	check_exit "$m: exits 0" 0
	check_stack "$m: the 10 blocks kept before _$m()" "$ML_OUT" 1000 10 \
		"$(frame keep10 preloadt preloadt.c "$(line_of preloadt.c exit)")"
	check_nstacks "$m: one stack" "$ML_OUT" 1
done

# A fatal signal loses the batch: memleak says how many events
MEMLEAK_PRELOAD_PERIOD_MS=0 ml term -c "./build/targets/preloadt term"
check_exit "term: exits 143 (SIGTERM)" 143
check_grep "term: says that 10 events were lost with the batch" \
	"lost: 10 allocator events of process [0-9]+, killed by signal 15" "$ML_ERR"

# Every block: the freed half was freed batches after its allocation (BPF
# keeps such blocks, dead, until their address comes back): not reported
ml bulk-all -c "./build/targets/preloadt bulk"
check_exit "bulk, every block: exits 0" 0
check_stack "bulk, every block: the 20000 small ones kept" "$ML_OUT" 20000000 20000 \
	"$(frame bulk preloadt preloadt.c "$(line_of preloadt.c bulk-small)")"
check_stack "bulk, every block: the 1000 big ones kept" "$ML_OUT" 20000000 1000 \
	"$(frame bulk preloadt preloadt.c "$(line_of preloadt.c bulk-big)")"
check_nstacks "bulk, every block: two stacks" "$ML_OUT" 2

# Sampling: 40 MB kept in 21000 blocks, estimated within 10 %
MEMLEAK_PRELOAD_SEED=42 ml bulk --sample-bytes 16k -c "./build/targets/preloadt bulk"
check_exit "bulk: exits 0" 0
check_estimate "bulk: sampled estimate" 40000000

# Every block sampled (a sample per 16 bytes): 42000 sampled blocks live
# at once, the sampled set's stripes grow past their first page
MEMLEAK_PRELOAD_SEED=42 ml bulk16 --sample-bytes=16 -c "./build/targets/preloadt bulk"
check_exit "bulk, every block sampled: exits 0" 0
check_stack "bulk, every block sampled: the 20000 small ones kept" "$ML_OUT" 20000000 20000 \
	"$(frame bulk preloadt preloadt.c "$(line_of preloadt.c bulk-small)")"
check_stack "bulk, every block sampled: the 1000 big ones kept" "$ML_OUT" 20000000 1000 \
	"$(frame bulk preloadt preloadt.c "$(line_of preloadt.c bulk-big)")"

# Every allocator, every block sampled: a sampled block sits behind a
# header, which free, realloc, malloc_usable_size and the aligned ones
# must know (contents, alignment and sizes are checked by the target: a
# wrong free would abort in libc); the report is the unsampled one
ml family -c "./build/targets/preloadt family"
check_exit "family: exits 0" 0
a=$(stacks "$ML_OUT")
check_nstacks "family: nine stacks" "$ML_OUT" 9
check_stack "family: realloc's block, grown then shrunk" "$ML_OUT" 1200 1 \
	"$(frame family preloadt preloadt.c "$(line_of preloadt.c fam-realloc)")"
check_stack "family: the mmap not unmapped" "$ML_OUT" 8192 1 \
	"$(frame family preloadt preloadt.c "$(line_of preloadt.c fam-mmap)")"
PRELOADT_HEADER=1 MEMLEAK_PRELOAD_SEED=42 ml family16 --sample-bytes=16 -c "./build/targets/preloadt family"
check_exit "family, every block sampled: exits 0" 0
check_eq "family, every block sampled: the same report" "$a" "$(stacks "$ML_OUT")"

# At the default rate, a sample per 512 KiB: 1 GiB kept in 16384 blocks
# of 64 KiB (some 2000 samples), estimated within 10 %
MEMLEAK_PRELOAD_SEED=42 ml big --sample-bytes -c "./build/targets/preloadt big"
check_exit "big, default rate: exits 0" 0
check_estimate "big, default rate: sampled estimate" 1073741824

# Sampling while thread B frees what A allocated and A gets the address
# back: a sampled block leaves the sampled set before libc has it back, so
# nothing is invented and no free is lost (5000 x 64 kept, within 10 %)
MEMLEAK_PRELOAD_SEED=42 ml contend-sampled --sample-bytes=256 -c "./build/targets/preloadt contend"
check_exit "contend sampled: exits 0" 0
check_nstacks "contend sampled: one stack, nothing invented" "$ML_OUT" 1
check_estimate "contend sampled: estimate" 320000

# A static program cannot load it: libc uprobes, with a note
ml static -c "./build/targets/leaky-static direct"
check_exit "static: exits 0" 0
check_grep "static: says why the preload library is not used" \
	"statically linked.*libc uprobes" "$ML_ERR"

finish
