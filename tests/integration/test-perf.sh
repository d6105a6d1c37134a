#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make install (into a DESTDIR): memleak, perf-memleak, the man pages, the
# libtraceevent plugin and the bash completion land where they belong, and
# the real perf runs "perf memleak ..." through perf-memleak in PATH.
. "$(dirname "$0")/../lib.sh"
build_targets

D=$OUT/root
make -C "$ROOT" install DESTDIR="$D" PREFIX=/usr >"$OUT/install.log" 2>&1
check_eq "make install: exits 0" 0 "$?"
for f in usr/bin/memleak usr/bin/perf-memleak usr/share/man/man1/memleak.1 \
	 usr/share/man/man1/memleak-record.1 usr/share/man/man1/memleak-report.1 \
	 usr/share/man/man1/memleak-script.1 usr/share/bash-completion/completions/memleak; do
	check_eq "installed: /$f" yes "$([ -e "$D/$f" ] && echo yes)"
done
check_eq "installed: plugin_memleak.so in libtraceevent's plugin directory" 1 \
	"$(find "$D" -path '*/traceevent/plugins/plugin_memleak.so' | wc -l)"

PATH=$D/usr/bin:$PATH perf memleak version >"$OUT/perf-version.out" 2>&1
check_eq "perf memleak version: exits 0" 0 "$?"
check_grep "perf memleak version: memleak answers" '^memleak version [0-9.]+$' "$OUT/perf-version.out"

# perf execs perf-memleak in its own process: its pid names the events
PATH=$D/usr/bin:$PATH bg perf-record perf memleak record -o "$OUT/perf.data" -- \
	./build/targets/leaky direct
P=$BG_PID
wait_exit "$P" 60
check_eq "perf memleak record: exits 0" 0 "$WAIT_RC"
check_no_events "perf memleak record: no tracefs events left behind" "$P"
PATH=$D/usr/bin:$PATH perf memleak report -i "$OUT/perf.data" --stdio >"$OUT/perf-report.out" 2>&1
check_grep "perf memleak report: 4800 bytes in 100 allocations at leak_direct" \
	'^ +100\.00% +4800 +100 .* leak_direct$' "$OUT/perf-report.out"

# the man page of each subcommand, through man(1) as installed
for c in record report script; do
	MANPATH=$D/usr/share/man man -P cat "memleak-$c" >"$OUT/man-$c.out" 2>/dev/null
	check_grep "man memleak-$c: renders" "^NAME" "$OUT/man-$c.out"
done

# bash completion: subcommands and report's formats
cat >"$OUT/compl.sh" <<'SH'
. "$1"
COMP_WORDS=(memleak rep); COMP_CWORD=1; _memleak; echo "${COMPREPLY[*]}"
COMP_WORDS=(memleak report --format ""); COMP_CWORD=3; _memleak; echo "${COMPREPLY[*]}"
COMP_WORDS=(memleak report --sort g); COMP_CWORD=3; _memleak; echo "${COMPREPLY[*]}"
SH
bash "$OUT/compl.sh" "$D/usr/share/bash-completion/completions/memleak" >"$OUT/compl.out" 2>&1
check_eq "completion: memleak rep<TAB>" "report" "$(sed -n 1p "$OUT/compl.out")"
check_eq "completion: --format <TAB>" "text json folded svg script perf-data pprof" "$(sed -n 2p "$OUT/compl.out")"
check_eq "completion: --sort g<TAB>" "growth" "$(sed -n 3p "$OUT/compl.out")"

finish
