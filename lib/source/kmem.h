/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel allocator sources: BPF on tracepoints, or a tracefs instance. */
#ifndef MEMLEAK_KMEM_H
#define MEMLEAK_KMEM_H

#include "source/source.h"

extern const struct ml_source_ops ml_kmem_source;	/* BPF backend */
extern const struct ml_source_ops ml_ftrace_source;	/* ftrace backend */

#endif /* MEMLEAK_KMEM_H */
