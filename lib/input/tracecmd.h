/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A trace-cmd recording (trace.dat) read into a memleak recording: kmem
 * events (kmalloc, kfree, kmem_cache_alloc/free, mm_page_alloc/free) with
 * the kernel stacks of -T, and memleak's own uprobe events (memleak_PID
 * systems) recorded while memleak ran.
 */
#ifndef MEMLEAK_TRACECMD_H
#define MEMLEAK_TRACECMD_H

#include <stddef.h>

#include "record/data.h"

/*
 * 0, or -1 with a one-line reason in @err.  User frames are symbolized
 * from the mappings of a process still running: @pid if > 0, else the one
 * named @comm if given, else the one with the most outstanding bytes.
 */
int ml_tracecmd_read(const char *path, struct ml_recording *r, char *err,
		     size_t errlen, int pid, const char *comm);

#endif /* MEMLEAK_TRACECMD_H */
