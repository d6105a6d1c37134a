/* SPDX-License-Identifier: GPL-2.0 */
/* GFP flag names, taken from this kernel's own kmalloc event format. */
#ifndef MEMLEAK_GFP_H
#define MEMLEAK_GFP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Write @gfp as the kernel prints it ("GFP_KERNEL|__GFP_ZERO"), or in hex
 * when the event format cannot be read.  Returns @buf.
 */
const char *ml_gfp_name(uint64_t gfp, char *buf, size_t len);

#endif /* MEMLEAK_GFP_H */
