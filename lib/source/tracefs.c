// SPDX-License-Identifier: GPL-2.0
/*
 * memleak's state in tracefs: mounting it, the event system each session
 * owns, uprobe events in it, and cleaning up after dead sessions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tracefs.h>

#include "source/tracefs.h"
#include "util/util.h"

#define TRACEFS_PATH "/sys/kernel/tracing"

static struct tracefs_dynevent **created;
static size_t nr_created;

int ml_tracefs_ready(void)
{
	struct stat st;

	if (stat(TRACEFS_PATH "/events", &st) == 0)
		return 0;
	if (mount("nodev", TRACEFS_PATH, "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	if (stat(TRACEFS_PATH "/events", &st))
		return -errno;
	return 0;
}

const char *ml_tracefs_system(void)
{
	static char name[32];

	if (!name[0])
		snprintf(name, sizeof(name), ML_TRACEFS_PREFIX "%d", getpid());
	return name;
}

/* Does the system/instance name @name belong to a live memleak session? */
static bool owner_alive(const char *name)
{
	char path[64], comm[32] = "";
	FILE *f;
	char *end;
	long pid;

	if (strncmp(name, ML_TRACEFS_PREFIX, strlen(ML_TRACEFS_PREFIX)))
		return true;	/* not ours */
	pid = strtol(name + strlen(ML_TRACEFS_PREFIX), &end, 10);
	if (pid <= 0 || (*end && *end != '_'))
		return true;
	if (pid == getpid())
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strstr(comm, "memleak") != NULL;
}

int ml_tracefs_clean_stale(void)
{
	struct tracefs_dynevent **evs;
	char **instances;
	int removed = 0;

	evs = tracefs_dynevent_get_all(TRACEFS_DYNEVENT_ALL, NULL);
	for (size_t i = 0; evs && evs[i]; i++) {
		char *sys = NULL, *ev = NULL;

		tracefs_dynevent_info(evs[i], &sys, &ev, NULL, NULL, NULL);
		if (sys && !owner_alive(sys)) {
			if (tracefs_dynevent_destroy(evs[i], true) == 0)
				removed++;
			else if (errno != ENOENT)	/* another run removed it first */
				ml_warn("cannot remove stale event %s/%s: %s",
					sys, ev ? ev : "?", strerror(errno));
		}
		free(sys);
		free(ev);
	}
	tracefs_dynevent_list_free(evs);

	instances = tracefs_instances("^" ML_TRACEFS_PREFIX);
	for (size_t i = 0; instances && instances[i]; i++) {
		struct tracefs_instance *inst;

		if (owner_alive(instances[i]))
			continue;
		inst = tracefs_instance_alloc(NULL, instances[i]);
		if (inst && tracefs_instance_destroy(inst) == 0)
			removed++;
		tracefs_instance_free(inst);
	}
	tracefs_list_free(instances);
	if (removed)
		ml_note("removed %d tracefs event(s)/instance(s) left by a memleak run that died",
			removed);
	return removed;
}

const char *ml_tracefs_trace_system(void)
{
	static char name[40];

	if (!name[0])
		snprintf(name, sizeof(name), "%s_trace", ml_tracefs_system());
	return name;
}

int ml_tracefs_add_uprobe(const char *event, bool ret, const char *file,
			  uint64_t offset, const char *fetchargs, bool twin)
{
	const char *sys = twin ? ml_tracefs_trace_system() : ml_tracefs_system();
	struct tracefs_dynevent *dev;
	char *path, *id;
	int err, val;

	if (ret)
		dev = tracefs_uretprobe_alloc(sys, event, file, offset, fetchargs);
	else
		dev = tracefs_uprobe_alloc(sys, event, file, offset, fetchargs);
	if (!dev)
		return -ENOMEM;
	if (tracefs_dynevent_create(dev)) {
		err = errno ? -errno : -EINVAL;
		tracefs_dynevent_free(dev);
		return err;
	}
	created = xrealloc(created, (nr_created + 1) * sizeof(*created));
	created[nr_created++] = dev;

	path = xasprintf("events/%s/%s/id", sys, event);
	id = tracefs_instance_file_read(NULL, path, NULL);
	free(path);
	if (!id)
		return -ENOENT;
	val = atoi(id);
	free(id);
	return val > 0 ? val : -EINVAL;
}

void ml_tracefs_remove_all(void)
{
	for (size_t i = 0; i < nr_created; i++) {
		if (tracefs_dynevent_destroy(created[i], true))
			ml_warn("cannot remove tracefs event: %s", strerror(errno));
		tracefs_dynevent_free(created[i]);
	}
	free(created);
	created = NULL;
	nr_created = 0;
}
