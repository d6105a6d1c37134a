/* SPDX-License-Identifier: GPL-2.0 */
/* --cgroup PATH: the cgroup v2 directory it names. */
#ifndef MEMLEAK_CGROUP_H
#define MEMLEAK_CGROUP_H

/*
 * An absolute path of a cgroup v2 directory for @arg: an absolute path as
 * is, a relative one under the v2 mount (/sys/fs/cgroup/unified on hybrid
 * systems, else /sys/fs/cgroup).  malloc()ed; NULL if there is none.
 */
char *ml_cgroup_resolve(const char *arg);

/* Call @fn for each process in @dir and the cgroups below it. */
void ml_cgroup_for_each_pid(const char *dir, void (*fn)(int pid, void *arg),
			    void *arg);

#endif /* MEMLEAK_CGROUP_H */
