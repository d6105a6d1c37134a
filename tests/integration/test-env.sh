#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The environment memleak meets: another tool holding a uprobe on malloc
# with a reference counter (as bcc's USDT probes do), and sudo.
. "$(dirname "$0")/../lib.sh"
build_targets

HELPERS=$ROOT/build/helpers
mkdir -p "$HELPERS"
if ! cc -O2 -Wall -o "$HELPERS/uprobe-refctr" tests/helpers/uprobe-refctr.c 2>"$OUT/cc.log"; then
	fail "build tests/helpers/uprobe-refctr.c" "$(cat "$OUT/cc.log")"
	finish
fi

# The file offset of malloc in the libc memleak would probe.
LIBC=$(ldd ./build/targets/leaky | awk '/libc\.so/ { print $3 }')
LIBC=$(readlink -f "$LIBC")
OFF=$(readelf -W --dyn-syms "$LIBC" | awk '$8 == "malloc@@GLIBC_2.2.5" { print "0x" $2 }')
VADDR_TO_OFF=$(readelf -W -l "$LIBC" | awk '$1 == "LOAD" && $7 ~ /E/ { print $2, $3 }')
read -r SEG_OFF SEG_VADDR <<<"$VADDR_TO_OFF"
FOFF=$(printf '0x%x' $((OFF - SEG_VADDR + SEG_OFF)))

bg refctr "$HELPERS/uprobe-refctr" "$LIBC" "$FOFF" 0x100
if wait_for "$OUT/refctr.out" '^ready$' 10; then
	# libc uprobes (-c would take the preload library, which has no
	# conflict): the kernel refuses a second uprobe on malloc with
	# another counter, so memleak's take the other tool's
	ml conflict --no-preload -c "./build/targets/leaky direct"
	check_exit "a uprobe held with a reference counter: exit 0" 0
	check_grep "the note names the function, the file and the counter" \
		"note: another tool holds a uprobe at malloc in $LIBC with reference counter 0x100 \\(ref_ctr_offset\\)" \
		"$ML_ERR"
	check_stack "and the leak is found" "$ML_OUT" 4800 100 \
		"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"
else
	fail "uprobe-refctr holds its probe" "$(cat "$OUT/refctr.err")"
fi
cleanup

ml after-conflict --no-preload -c "./build/targets/leaky direct"
check_exit "once the other tool is gone, memleak works" 0
check_stack "and finds the leak" "$ML_OUT" 4800 100 \
	"$(frame leak_direct leaky leaky.c "$(line_of leaky.c direct)")"

# Under sudo the command runs as the user who ran sudo.
SUDO_UID=65534 SUDO_GID=65534 ml sudo -c "id -u"
check_exit "sudo: exits 0" 0
check_grep "sudo: the command runs as SUDO_UID" '^65534$' "$ML_OUT"
SUDO_UID=65534 SUDO_GID=65534 ml sudo-gid -c "id -g"
check_grep "sudo: and with SUDO_GID" '^65534$' "$ML_OUT"

finish
