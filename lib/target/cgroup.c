// SPDX-License-Identifier: GPL-2.0
/* --cgroup PATH: the cgroup v2 directory it names, and its processes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "target/cgroup.h"
#include "util/util.h"

static bool is_cgroup2(const char *path)
{
	struct statfs fs;
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	       statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

char *ml_cgroup_resolve(const char *arg)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };

	if (arg[0] == '/')
		return is_cgroup2(arg) ? realpath(arg, NULL) : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		char *p = xasprintf("%s/%s", roots[i], arg);

		if (is_cgroup2(p)) {
			char *r = realpath(p, NULL);

			free(p);
			return r;
		}
		free(p);
	}
	return NULL;
}

void ml_cgroup_for_each_pid(const char *dir, void (*fn)(int pid, void *arg),
			    void *arg)
{
	char *procs = xasprintf("%s/cgroup.procs", dir), line[32];
	FILE *f = fopen(procs, "r");
	DIR *d;
	struct dirent *de;

	free(procs);
	while (f && fgets(line, sizeof(line), f))
		fn(atoi(line), arg);
	if (f)
		fclose(f);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		ml_cgroup_for_each_pid(sub, fn, arg);
		free(sub);
	}
	if (d)
		closedir(d);
}
