#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel mode: tests/helpers/kalloc makes deterministic kernel allocations
# (7 SysV shm segments of 16 touched pages each, 5 user keys, 9 pipes) and
# frees them on request.  Both backends (BPF, ftrace) must attribute them to
# their kernel call sites with the exact counts, forget them once freed,
# agree with each other, keep to -p and --cgroup, and leave no tracefs state.
. "$(dirname "$0")/../lib.sh"

HELPERS=$ROOT/build/helpers
mkdir -p "$HELPERS"
if ! cc -O2 -Wall -o "$HELPERS/kalloc" tests/helpers/kalloc.c 2>"$OUT/cc.log"; then
	fail "build tests/helpers/kalloc.c" "$(cat "$OUT/cc.log")"
	finish
fi

NSHM=7 NKEYS=5 NPIPES=9

# start_kalloc NAME: the helper, waiting; KALLOC is its pid
start_kalloc()
{
	bg "$1" "$HELPERS/kalloc" $NSHM $NKEYS $NPIPES
	KALLOC=$BG_PID
	KALLOC_OUT=$OUT/$1.out
	wait_for "$KALLOC_OUT" '^ready$' 10 || { fail "$1: kalloc starts"; finish; }
}

# kalloc_do SIGNAL WORD: signal the helper and wait for it to say WORD
kalloc_do()
{
	signal_wait "$KALLOC" "$1" "$KALLOC_OUT" "$2"
}

# start_ml NAME ARGS...: memleak in the background, attached when it returns
start_ml()
{
	local name=$1

	shift
	ml_bg "$name" "$MEMLEAK" "$@"
	wait_for "$ML_OUT" '^Attaching to kernel allocators' 30 ||
		{ fail "$name: memleak attaches"; ml_context; finish; }
}

# last_report FILE: the lines of the last complete report (after its header,
# up to the next header)
last_report()
{
	awk '/^\[[0-9:]+\] Top /{ if (cur != "") last = cur; cur = "x" ; buf = ""; next }
	     { buf = buf $0 "\n" }
	     /^\ttotal:/ { done = buf }
	     END { printf "%s", done }' "$1"
}

# site_count FILE FUNC: the allocation count at call sites in FUNC (summed)
# in the last complete call-site report
site_count()
{
	last_report "$1" | awk -v f="$2" '
		$5 ~ "^" f "\\+0x" { n += $4 }
		END { print n + 0 }'
}

# wait_reports FILE N: until N more report totals lines have appeared
wait_reports()
{
	local want=$(( $(grep -c $'^\ttotal:' "$1") + $2 ))
	local deadline=$((SECONDS + 20))

	while [ "$(grep -c $'^\ttotal:' "$1")" -lt $want ]; do
		[ $SECONDS -gt $deadline ] && return 1
		sleep 0.1
	done
}

# expect_sites NAME FILE SHM PAGES PIPES KEYS: the call-site counts
expect_sites()
{
	check_eq "$1: newseg (shm segments)" "$3" "$(site_count "$2" newseg)"
	check_eq "$1: shmem_alloc_folio (touched shm pages)" "$4" "$(site_count "$2" shmem_alloc_folio)"
	check_eq "$1: alloc_pipe_info (pipes: the pipe and its buffers)" "$5" \
		"$(site_count "$2" alloc_pipe_info)"
	check_eq "$1: user_preparse (key payloads)" "$6" "$(site_count "$2" user_preparse)"
}

declare -A SITES

for backend in bpf ftrace; do
	start_kalloc kalloc-$backend
	start_ml sites-$backend --kernel -p "$KALLOC" --backend $backend --sort callsite \
		-o 0 -T 100 1
	kalloc_do USR1 allocated || fail "$backend: kalloc allocates"
	wait_reports "$ML_OUT" 2 || fail "$backend: reports arrive"
	expect_sites "$backend, allocated" "$ML_OUT" $NSHM $((NSHM * 16)) \
		$((2 * NPIPES)) $NKEYS
	SITES[$backend]=$(last_report "$ML_OUT" | awk '$5 ~ /^(newseg|shmem_alloc_folio|alloc_pipe_info|user_preparse|key_alloc)\+/ { print $4, $5 }' | sort)

	# only the helper's allocations: nothing from any other process
	check_grep "$backend: the totals line" $'^\ttotal: ' "$ML_OUT"

	kalloc_do USR2 freed || fail "$backend: kalloc frees"
	# keys are freed by the key garbage collector, a little later
	for _ in 1 2 3 4 5 6; do
		wait_reports "$ML_OUT" 1
		[ "$(site_count "$ML_OUT" user_preparse)" == 0 ] && break
	done
	expect_sites "$backend, freed" "$ML_OUT" 0 0 0 0

	kill -INT "$ML_PID"
	wait_exit "$ML_PID" 20
	ML_RC=$WAIT_RC
	check_exit "$backend: exits 0 on SIGINT" 0
	check_no_events "$backend: no tracefs events or instances left" "$ML_PID"
	kill -TERM "$KALLOC"
done

check_eq "bpf and ftrace backends agree on the helper's call sites" \
	"$(cut -d' ' -f1 <<<"${SITES[bpf]}" | paste -sd' ')" \
	"$(cut -d' ' -f1 <<<"${SITES[ftrace]}" | paste -sd' ')"

# Stack view: the shm segments' stack goes through newseg and the syscall.
start_kalloc kalloc-stacks
start_ml stacks --kernel -p "$KALLOC" -o 0 -T 200 1
kalloc_do USR1 allocated
wait_reports "$ML_OUT" 2
last_report "$ML_OUT" >"$OUT/stacks.last"
check_eq "stack view: a stack of $NSHM allocations through newseg and shmget" 1 \
	"$(awk -v n=$NSHM '
		/bytes in/ { ok = ($4 == n); seen_newseg = 0; next }
		ok && /^\t\tnewseg\+0x/ { seen_newseg = 1 }
		ok && seen_newseg && /__x64_sys_shmget\+0x/ { found = 1 }
		END { print found + 0 }' "$OUT/stacks.last")"
check_no_grep "stack view: the tracing glue is not shown" $'^\t\t(bpf_prog_|bpf_trace_run)' \
	"$OUT/stacks.last"
kill -INT "$ML_PID"; wait_exit "$ML_PID" 20
kill -TERM "$KALLOC"

# --cgroup: a cgroup v2 directory with the helper in it; nothing else
CG=/sys/fs/cgroup/unified
[ -d "$CG" ] || CG=/sys/fs/cgroup
CGDIR=$CG/memleak-test-$$
if mkdir "$CGDIR" 2>"$OUT/cg.err"; then
	for backend in bpf ftrace; do
		start_kalloc kalloc-cg-$backend
		echo "$KALLOC" >"$CGDIR/cgroup.procs"
		start_ml cgroup-$backend --kernel --cgroup "$CGDIR" --backend $backend \
			--sort callsite -o 0 -T 100 1
		kalloc_do USR1 allocated
		wait_reports "$ML_OUT" 2
		expect_sites "--cgroup, $backend" "$ML_OUT" $NSHM $((NSHM * 16)) \
			$((2 * NPIPES)) $NKEYS
		kill -INT "$ML_PID"; wait_exit "$ML_PID" 20
		check_no_events "--cgroup, $backend: no tracefs state left" "$ML_PID"
		kill -TERM "$KALLOC"; wait_exit "$KALLOC" 10
	done
	rmdir "$CGDIR"
else
	fail "create a cgroup under $CG" "$(cat "$OUT/cg.err")"
fi

# A cgroup that does not exist: a clear error, exit 2.
ml nocgroup --kernel --cgroup /sys/fs/cgroup/no-such-cgroup-$$ 1 1
check_exit "--cgroup that does not exist: exit 2" 2
check_grep "--cgroup that does not exist: says so" "no cgroup v2 directory '/sys/fs/cgroup/no-such-cgroup-$$'" "$ML_ERR"

# A killed ftrace run leaves its instances; the next run removes them.
start_ml killed --kernel --backend ftrace 1
kill -KILL "$ML_PID"; wait_exit "$ML_PID" 10
check_eq "kill -9 leaves the ftrace instances" 2 \
	"$(ls -d $TRACEFS/instances/memleak_"$ML_PID"* 2>/dev/null | wc -l)"
KILLED=$ML_PID
ml next --kernel --backend ftrace 1 1
check_exit "the next run works" 0
check_eq "the next run removed the dead run's instances" 0 \
	"$(ls -d $TRACEFS/instances/memleak_"$KILLED"* 2>/dev/null | wc -l)"
check_grep "the next run says it cleaned up" 'removed .* left by a memleak run that died' "$ML_ERR"

# Views of the helper's allocations: caches, GFP flags, page orders.
start_kalloc kalloc-views
for view in cache gfp order; do
	start_ml views-$view --kernel -p "$KALLOC" --sort $view -o 0 -T 100 1
	kalloc_do USR1 allocated
	wait_reports "$ML_OUT" 2
	kill -INT "$ML_PID"; wait_exit "$ML_PID" 20
	last_report "$ML_OUT" >"$OUT/views-$view.last"
	kalloc_do USR2 freed
done
check_grep "--sort cache: the slab cache table" '^\[[0-9:]+\] Top 100 slab caches with outstanding allocations:$' "$OUT/views-cache.out"
check_eq "--sort cache: $NKEYS keys in key_jar" $NKEYS \
	"$(awk '$5 == "key_jar" { print $4 }' "$OUT/views-cache.last")"
check_eq "--sort cache: $NPIPES pipe buffer arrays in kmalloc-1024" $NPIPES \
	"$(awk '$5 == "kmalloc-1024" { print $4 }' "$OUT/views-cache.last")"
check_grep "--sort gfp: flags named as the kernel names them" $'^\t.*  GFP_KERNEL' "$OUT/views-gfp.last"
check_eq "--sort order: $((NSHM * 16)) order-0 pages" $((NSHM * 16)) \
	"$(awk '$5 == "order" && $6 == 0 { print $4 }' "$OUT/views-order.last")"
kill -TERM "$KALLOC"

# --grow-stacks: no stacks at first; a call site that keeps growing gets them.
start_kalloc kalloc-grow
start_ml grow --kernel -p "$KALLOC" --grow-stacks -o 0 -T 200 1
for _ in 1 2 3 4 5 6 7 8; do
	kalloc_do USR1 allocated
	sleep 0.6
done
kill -INT "$ML_PID"; wait_exit "$ML_PID" 20
check_grep "--grow-stacks: says which call sites get stacks" \
	'note: call site 0x[0-9a-f]+ has grown for 3 s: collecting its stacks' "$OUT/grow.err"
last_report "$ML_OUT" >"$OUT/grow.last"
check_grep "--grow-stacks: the pipes' growing call site has its stack" \
	$'^\t\tdo_pipe2\+0x' "$OUT/grow.last"
check_grep "--grow-stacks: what came before is without stacks" \
	'no stack collected' "$OUT/grow.last"
kill -TERM "$KALLOC"

ml callgraph-none --kernel --call-graph none --sort callsite -o 0 1 1
check_exit "--call-graph none (call sites only) works" 0

finish
