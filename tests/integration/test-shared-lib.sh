#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A leak inside a shared library (libleak.so, with frame pointers and debug
# info): the leaf frame is named after the library and its source line.
. "$(dirname "$0")/../lib.sh"
build_targets

ml uselib -c ./build/targets/uselib
check_exit "uselib: exits 0" 0
check_reports "uselib: one final report" "$ML_OUT" 1
check_no_grep "uselib: no losses" "$RE_LOST" "$ML_OUT"
check_nstacks "uselib: exactly one stack" "$ML_OUT" 1
check_stack "uselib: 4096 bytes in 8 allocations at lib_leak [libleak.so], called by main [uselib]" \
	"$ML_OUT" 4096 8 \
	"$(frame lib_leak libleak.so libleak.c "$(line_of libleak.c lib)")" \
	"$(frame main uselib uselib.c "$(call_of uselib.c lib)")"

finish
