#!/usr/bin/env bash
# Install what memleak needs to build and test on Debian 12, only what is
# missing; safe to run again.  Needs root (or sudo) when something is missing.
set -euo pipefail

pkgs=(make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev libdw-dev
      zlib1g-dev libtracefs-dev libtraceevent-dev g++ trace-cmd linux-perf
      libtracecmd-dev protobuf-compiler golang-github-google-pprof-dev golang-go python3
      man-db libcapstone-dev)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
