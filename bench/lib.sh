# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the make bench scripts (sourced, bash).

# median: the median of the numbers on stdin, one a line
median()
{
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# bench_install PACKAGE...: apt-get install -y what is missing; quiet, never
# fatal (the caller checks for the command it needs)
bench_install()
{
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# bench_bcc: the path of bcc's memleak (Debian's bpfcc-tools), installed if
# missing, with the kernel headers it compiles against; empty if not
# available.  This machine has only Debian's 6.1 headers, which bcc accepts
# for a newer kernel: /lib/modules/$(uname -r)/{build,source} point at them.
bench_bcc()
{
	local hdr common mod

	if ! command -v memleak-bpfcc >/dev/null; then
		bench_install bpfcc-tools linux-headers-amd64 ||
			echo "bench: cannot install bpfcc-tools: no bcc row" >&2
	fi
	command -v memleak-bpfcc >/dev/null || return 0
	mod=/lib/modules/$(uname -r)
	if [ ! -e "$mod/source/include/linux/kconfig.h" ]; then
		hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
		common=${hdr%-amd64}-common
		if [ -n "$hdr" ] && [ -d "$common" ]; then
			mkdir -p "$mod"
			ln -sfn "$hdr" "$mod/build"
			ln -sfn "$common" "$mod/source"
		fi
	fi
	command -v memleak-bpfcc
}

# bench_machine: a markdown paragraph naming the machine and the software
bench_machine()
{
	local cpu deb

	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	deb=$(cat /etc/debian_version 2>/dev/null)
	echo "Machine: $(nproc) CPUs ($cpu), kernel $(uname -r), Debian ${deb:-?},"
	echo "$(free -g | awk '/^Mem:/ { print $2 }') GiB of memory; $(date -u '+%Y-%m-%d %H:%M UTC')."
}
