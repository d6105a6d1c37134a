# SPDX-License-Identifier: GPL-2.0
# bash completion for memleak (and perf memleak): subcommands, options,
# option values, data files.  Installed by "make install" as
# $PREFIX/share/bash-completion/completions/memleak.

_memleak()
{
	local cur prev cmd i
	local cmds="top record report script help version"
	local top_opts="-h --help -p --pid -c --command -t --trace -a --show-allocs
		-o --older -s --sample-rate -T --top -z --min-size -Z --max-size -O --obj
		-i --interval -v --verbose --combined-only --wa-missing-free --sort
		--symbols-prefix --max-allocs --stack-map-size --kernel --cgroup
		--backend -P --percpu --vmlinux --call-graph --grow-stacks
		--no-preload --sample-bytes --inject"
	local record_opts="-h --help -o --output -p --pid -c --command --duration
		-s --sample-rate -z --min-size -Z --max-size -O --obj -v --verbose
		--combined-only --symbols-prefix --max-allocs --stack-map-size --kernel
		--cgroup --backend -P --percpu --vmlinux --call-graph --grow-stacks
		--no-preload --sample-bytes --inject"
	local report_opts="-h --help -i --input -o --output --format -s --sort --pid
		--comm --older --min-size --symbol --percent-limit -g --call-graph -G
		--inverted --weight -a --show-allocs -T --top --symfs --title --stdio
		-v --verbose"

	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		top | record | report | script | help | version)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	[ "${COMP_WORDS[0]}" == perf ] && [ "$cmd" == "" ] && [ "$COMP_CWORD" -ge 2 ] &&
		[ "${COMP_WORDS[1]}" != memleak ] && return

	if [ -z "$cmd" ] && [ "$COMP_CWORD" -eq 1 ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help --version $top_opts" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
		fi
		return
	fi

	case $cmd:$prev in
	report:--format | script:--format)
		mapfile -t COMPREPLY < <(compgen -W "text json folded svg script perf-data pprof" -- "$cur")
		return ;;
	report:-s | report:--sort | script:-s | script:--sort)
		mapfile -t COMPREPLY < <(compgen -W "bytes count growth age" -- "$cur")
		return ;;
	report:--weight | script:--weight)
		mapfile -t COMPREPLY < <(compgen -W "bytes count" -- "$cur")
		return ;;
	report:-g | report:--call-graph)
		mapfile -t COMPREPLY < <(compgen -W "caller callee" -- "$cur")
		return ;;
	report:-i | report:--input | script:-i | script:--input | report:-o | \
	report:--output | script:-o | script:--output | record:-o | record:--output | \
	*:--vmlinux | report:--symfs | *:-O | *:--obj)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	*:-p | *:--pid)
		mapfile -t COMPREPLY < <(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur")
		return ;;
	*:-c | *:--command)
		mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		return ;;
	*:--call-graph)
		mapfile -t COMPREPLY < <(compgen -W "fp dwarf none" -- "$cur")
		return ;;
	*:--backend)
		mapfile -t COMPREPLY < <(compgen -W "bpf ftrace" -- "$cur")
		return ;;
	top:--sort | :--sort)
		mapfile -t COMPREPLY < <(compgen -W "size count stack callsite cache gfp order" -- "$cur")
		return ;;
	help:*)
		mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
		return ;;
	esac

	case $cmd in
	record) mapfile -t COMPREPLY < <(compgen -W "$record_opts" -- "$cur") ;;
	report | script) mapfile -t COMPREPLY < <(compgen -W "$report_opts" -- "$cur") ;;
	*) mapfile -t COMPREPLY < <(compgen -W "$top_opts" -- "$cur") ;;
	esac
}

complete -F _memleak memleak perf-memleak
