#!/usr/bin/env bash
# Build the bundled leaky example and run memleak on it (make demo).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/examples
cc -g -O1 -fno-omit-frame-pointer -o build/examples/leaky examples/leaky.c
run=
[ "$(id -u)" -eq 0 ] || run=sudo
echo "+ memleak -c build/examples/leaky"
$run ./memleak -c build/examples/leaky
