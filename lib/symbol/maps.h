/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a process has mapped, read from /proc/PID/maps and kept after the
 * process exits, so its addresses can still be symbolized.
 */
#ifndef MEMLEAK_MAPS_H
#define MEMLEAK_MAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ml_mapping {
	uint64_t start;		/* first address */
	uint64_t end;		/* one past the last address */
	uint64_t pgoff;		/* file offset mapped at start */
	char *path;		/* file path as /proc/PID/maps shows it; NULL: anonymous */
	bool exec;		/* mapped executable */
};

struct ml_maps;

/* An empty cache for @pid; ml_maps_refresh() fills it. */
struct ml_maps *ml_maps_new(pid_t pid);
void ml_maps_free(struct ml_maps *maps);

/*
 * Read /proc/PID/maps again.  File-backed mappings seen before and not
 * overlapped by a newer one are kept (a library dlclose()d, or the whole
 * process gone).  Returns 0, or -errno when the process could not be read
 * (the cache is then left as it was).
 */
int ml_maps_refresh(struct ml_maps *maps);

/* The same, reading @path (a file in /proc/PID/maps format) instead. */
int ml_maps_refresh_from(struct ml_maps *maps, const char *path);

/*
 * Add one mapping (a recorded one, or a kernel image), replacing those it
 * overlaps; the path is copied.  0 or -ENOMEM.
 */
int ml_maps_add(struct ml_maps *maps, const struct ml_mapping *m);

/* The file-backed mapping that holds @addr, or NULL. */
const struct ml_mapping *ml_maps_find(const struct ml_maps *maps, uint64_t addr);

/* Number of mappings held, and the i-th in address order. */
size_t ml_maps_count(const struct ml_maps *maps);
const struct ml_mapping *ml_maps_get(const struct ml_maps *maps, size_t i);

pid_t ml_maps_pid(const struct ml_maps *maps);

#endif /* MEMLEAK_MAPS_H */
