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

/* The trace id of @sys/@event, or -errno. */
static int event_id(const char *sys, const char *event)
{
	char *path = xasprintf("events/%s/%s/id", sys, event);
	char *id = tracefs_instance_file_read(NULL, path, NULL);
	int val;

	free(path);
	if (!id)
		return -ENOENT;
	val = atoi(id);
	free(id);
	return val > 0 ? val : -EINVAL;
}

int ml_tracefs_add_uprobe(const char *event, bool ret, const char *file,
			  uint64_t offset, const char *fetchargs, bool twin)
{
	const char *sys = twin ? ml_tracefs_trace_system() : ml_tracefs_system();
	struct tracefs_dynevent *dev;
	int err;

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
	return event_id(sys, event);
}

/* The uprobe event @sys/@event, read back (libtracefs 1.6's tracefs_dynevent_get() crashes). */
static struct tracefs_dynevent *find_uprobe(const char *sys, const char *event)
{
	struct tracefs_dynevent **evs, *found = NULL;
	size_t n = 0;

	evs = tracefs_dynevent_get_all(TRACEFS_DYNEVENT_UPROBE |
				       TRACEFS_DYNEVENT_URETPROBE, sys);
	for (size_t i = 0; evs && evs[i]; i++) {
		char *name = NULL;

		tracefs_dynevent_info(evs[i], NULL, &name, NULL, NULL, NULL);
		if (!found && name && !strcmp(name, event))
			found = evs[i];
		else
			evs[n++] = evs[i];
		free(name);
	}
	if (evs)
		evs[n] = NULL;
	tracefs_dynevent_list_free(evs);
	return found;
}

/* Is @dev a uprobe at file offset @offset of @file? */
static bool uprobe_at(struct tracefs_dynevent *dev, const char *file, uint64_t offset)
{
	char *addr = NULL, *colon;
	bool at = false;

	tracefs_dynevent_info(dev, NULL, NULL, NULL, &addr, NULL);
	colon = addr ? strrchr(addr, ':') : NULL;
	if (colon) {
		*colon = '\0';
		at = !strcmp(addr, file) && strtoull(colon + 1, NULL, 0) == offset;
	}
	free(addr);
	return at;
}

int ml_tracefs_uprobes_set_ref_ctr(const char *file, uint64_t offset,
				   uint64_t ref_ctr)
{
	char *defs[8], *sys[8], *ev[8];
	size_t at[8], n = 0, kept = 0;
	int err = 0;

	/*
	 * All of them go first: the kernel refuses a uprobe event whose
	 * counter differs from another event's at the same address.
	 */
	for (size_t i = 0; i < nr_created && n < ARRAY_SIZE(at); i++) {
		char *prefix, *addr, *format;

		if (!uprobe_at(created[i], file, offset))
			continue;
		tracefs_dynevent_info(created[i], &sys[n], &ev[n], &prefix,
				      &addr, &format);
		/* "PATH:OFFSET(REF_CTR_OFFSET)": libtracefs cannot say it. */
		defs[n] = xasprintf("%s:%s/%s %s(0x%llx) %s\n", prefix, sys[n],
				    ev[n], addr, (unsigned long long)ref_ctr,
				    format ? format : "");
		free(prefix);
		free(addr);
		free(format);
		if (tracefs_dynevent_destroy(created[i], true) && !err)
			err = -errno;
		at[n++] = i;
	}
	for (size_t k = 0; k < n; k++) {
		ml_debug("uprobe_events: %s", defs[k]);
		if (!err && tracefs_instance_file_append(NULL, "uprobe_events",
							 defs[k]) < 0)
			err = errno ? -errno : -EINVAL;
		tracefs_dynevent_free(created[at[k]]);
		created[at[k]] = find_uprobe(sys[k], ev[k]);
		free(defs[k]);
		free(sys[k]);
		free(ev[k]);
	}
	/* what is gone needs no removing at exit */
	for (size_t i = 0; i < nr_created; i++)
		if (created[i])
			created[kept++] = created[i];
	nr_created = kept;
	return n ? err : -ENOENT;
}

int ml_tracefs_event_id(const char *event)
{
	return event_id(ml_tracefs_system(), event);
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
