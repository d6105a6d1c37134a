#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Command line: usage errors, -c exit status and quoting, --version, help.
. "$(dirname "$0")/../lib.sh"
build_targets

# usage_error NAME OPTION-TEXT ARGS...: exit 2, stderr names the option
usage_error()
{
	local name=$1 opt=$2

	shift 2
	ml "$name" "$@"
	check_exit "$name: exit 2" 2
	check_grep "$name: stderr names $opt" "$(ere "$opt")" "$ML_ERR"
	check_count "$name: nothing on stdout" 0 . "$ML_OUT"
}

usage_error bogus --bogus --bogus
usage_error pid-abc -p -p abc
usage_error sort-bogus --sort --sort bogus
usage_error top-abc -T -T abc
usage_error pid-and-command -c -p 1 -c true

# a pid that does not exist
if [ -e /proc/999999 ]; then
	fail "pid 999999 does not exist" "it does: cannot test -p 999999"
else
	ml no-process -p 999999
	check_exit "-p 999999: exit 2" 2
	check_grep "-p 999999: says there is no such process" '[Nn]o (such )?process' "$ML_ERR"
	check_grep "-p 999999: names the pid" 999999 "$ML_ERR"
fi

# -c: the command's exit status; shell-style quoting; PATH lookup
ml exit7 -c 'sh -c "exit 7"'
check_exit "-c 'sh -c \"exit 7\"': exits 7" 7
check_reports "-c 'sh -c \"exit 7\"': one final report" "$ML_OUT" 1

ml exit3 -c "sh -c 'exit 3'"
check_exit "-c \"sh -c 'exit 3'\": exits 3" 3

ml path-true -c true
check_exit "-c true (PATH lookup): exits 0" 0
check_reports "-c true: one final report" "$ML_OUT" 1

ml path-false -c false
check_exit "-c false: exits 1" 1

ml quoted -c "./build/targets/leaky 'direct'"
check_exit "-c with a quoted argument: exits 0" 0
check_stack "-c with a quoted argument: the target got 'direct'" "$ML_OUT" 4800 100 \
	"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"

ml long-c --command "./build/targets/leaky calloc"
check_exit "--command: exits 0" 0
check_stack "--command: traces the command" "$ML_OUT" 3200 10 \
	"$(frame leak_calloc leaky leaky.c "$(line_of leaky.c calloc)")"

# --version, help
version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
ml version --version
check_exit "--version: exit 0" 0
check_grep "--version: prints memleak and the version ($version)" "memleak.*$(ere "$version")" "$ML_OUT"

for args in "help top" "top -h" "top --help" "-h"; do
	# shellcheck disable=SC2086
	ml "help-${args// /_}" $args
	check_exit "memleak $args: exit 0" 0
	check_grep "memleak $args: usage on stdout" '^usage: memleak' "$ML_OUT"
	check_grep "memleak $args: lists --combined-only" '--combined-only' "$ML_OUT"
done

# help --man: the man page (what a terminal gets), rendered by man(1)
for cmd in top record report script; do
	ml "help-man-$cmd" help --man $cmd
	check_exit "memleak help --man $cmd: exit 0" 0
	check_grep "memleak help --man $cmd: the memleak-$cmd(1) page" "^MEMLEAK-${cmd^^}\\(1\\)" "$ML_OUT"
done
check_grep "memleak-top(1) documents kernel mode" '^KERNEL ALLOCATIONS' "$OUT/help-man-top.out"

finish
