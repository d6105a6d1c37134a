#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A C++ target: new Widget x 3 in demo::make_widgets(): demangled frames.
. "$(dirname "$0")/../lib.sh"
build_targets

# operator new lives in libstdc++, mapped under its versioned file name
NEW="$(ere 'operator new(unsigned long)')\+0x[0-9a-f]+ \[libstdc\+\+\.so\.6(\.[0-9]+)*\]"

ml cxx -c ./build/targets/leak
check_exit "c++: exits 0" 0
check_reports "c++: one final report" "$ML_OUT" 1
check_no_grep "c++: no losses" "$RE_LOST" "$ML_OUT"
check_stack "c++: 192 bytes in 3 allocations, leaf operator new(unsigned long) [libstdc++]" \
	"$ML_OUT" 192 3 "$NEW"
check_in_stack "c++: the stack has demo::make_widgets() at the new Widget line" "$ML_OUT" \
	"$(frame 'demo::make_widgets()' leak leak.cc "$(line_of leak.cc cxx)")" "$NEW"
check_in_stack "c++: the stack has demo::run() at its call of make_widgets()" "$ML_OUT" \
	"$(frame 'demo::run()' leak leak.cc "$(call_of leak.cc cxx)")" "$NEW"
check_no_grep "c++: no mangled names" $'^\t\t_Z' "$ML_OUT"

finish
