// SPDX-License-Identifier: GPL-2.0
/*
 * A cache of /proc/PID/maps that outlives the process: every refresh
 * merges what is mapped now over what was mapped before, so addresses of a
 * library that was unloaded, or of a process that exited, still resolve.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

struct ml_maps {
	pid_t pid;
	struct ml_mapping *v;	/* file-backed, sorted by start, disjoint */
	size_t n;
};

/* An address range read from the maps file, file-backed or not. */
struct range {
	uint64_t start, end;
};

struct ml_maps *ml_maps_new(pid_t pid)
{
	struct ml_maps *maps = calloc(1, sizeof(*maps));

	if (maps)
		maps->pid = pid;
	return maps;
}

void ml_maps_free(struct ml_maps *maps)
{
	size_t i;

	if (!maps)
		return;
	for (i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	free(maps);
}

pid_t ml_maps_pid(const struct ml_maps *maps)
{
	return maps->pid;
}

size_t ml_maps_count(const struct ml_maps *maps)
{
	return maps->n;
}

const struct ml_mapping *ml_maps_get(const struct ml_maps *maps, size_t i)
{
	return i < maps->n ? &maps->v[i] : NULL;
}

const struct ml_mapping *ml_maps_find(const struct ml_maps *maps,
				      uint64_t addr)
{
	size_t lo = 0, hi = maps->n;

	/* The last mapping that starts at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (addr < maps->v[lo - 1].end)
		return &maps->v[lo - 1];
	return NULL;
}

static char *skip_space(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *skip_field(char *p)
{
	while (*p && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	return skip_space(p);
}

/*
 * Parse one line "start-end perms offset dev inode [path]".  Returns 0 and
 * fills @r; fills @m too (with @m->path pointing into @line) when the line
 * is a mapping of a real file.  Returns -1 for a malformed line.
 */
static int parse_line(char *line, struct range *r, struct ml_mapping *m,
		      bool *file)
{
	unsigned long long start, end, pgoff, inode;
	char *p = line, *e, *perms, *path;
	size_t len;

	*file = false;
	errno = 0;
	start = strtoull(p, &e, 16);
	if (e == p || *e != '-')
		return -1;
	p = e + 1;
	end = strtoull(p, &e, 16);
	if (e == p || errno || end < start)
		return -1;
	perms = skip_space(e);
	p = skip_field(perms);
	pgoff = strtoull(p, &e, 16);
	if (e == p)
		return -1;
	p = skip_field(skip_space(e));	/* dev */
	inode = strtoull(p, &e, 10);
	if (e == p)
		return -1;
	path = skip_space(e);

	r->start = start;
	r->end = end;

	len = strlen(path);
	while (len && (path[len - 1] == '\n' || path[len - 1] == ' '))
		path[--len] = '\0';
	/* Only real files: no [heap], [stack], [vdso], anon_inode:... */
	if (!inode || path[0] != '/')
		return 0;
	if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
		path[len - 10] = '\0';

	memset(m, 0, sizeof(*m));
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->path = path;
	m->exec = strlen(perms) >= 3 && perms[2] == 'x';
	*file = true;
	return 0;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct ml_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Does [start, end) overlap any of the sorted, disjoint @r? */
static bool overlaps(const struct range *r, size_t n, uint64_t start,
		     uint64_t end)
{
	size_t lo = 0, hi = n;

	/* The first range that ends above start. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[lo].start < end;
}

/* Make room in *@p for one more element past @n; false if out of memory. */
static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	q = realloc(*p, ncap * size);
	if (!q)
		return false;
	*p = q;
	*cap = ncap;
	return true;
}

/* Read @path (a /proc/PID/maps file) and merge it over the cache. */
int ml_maps_refresh_from(struct ml_maps *maps, const char *path)
{
	struct ml_mapping *nv = NULL, *v;
	struct range *rv = NULL;
	size_t nn = 0, ncap = 0, nr = 0, rcap = 0, i, n;
	char *line = NULL;
	size_t linecap = 0;
	int err = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;

	while (getline(&line, &linecap, f) > 0) {
		struct ml_mapping m;
		struct range r;
		bool file;

		if (parse_line(line, &r, &m, &file))
			continue;
		if (!grow((void **)&rv, &rcap, nr, sizeof(*rv))) {
			err = -ENOMEM;
			break;
		}
		rv[nr++] = r;
		if (!file)
			continue;
		if (!grow((void **)&nv, &ncap, nn, sizeof(*nv))) {
			err = -ENOMEM;
			break;
		}
		m.path = strdup(m.path);
		if (!m.path) {
			err = -ENOMEM;
			break;
		}
		nv[nn++] = m;
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	fclose(f);
	/* An empty read means the process is gone: keep what we had. */
	if (!err && !nr)
		err = -ESRCH;
	if (err)
		goto out;

	qsort(rv, nr, sizeof(*rv), cmp_range);
	v = realloc(nv, (nn + maps->n + 1) * sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	nv = v;
	/* Old mappings stay unless something new covers part of them. */
	n = nn;
	for (i = 0; i < maps->n; i++) {
		struct ml_mapping *o = &maps->v[i];

		if (overlaps(rv, nr, o->start, o->end)) {
			free(o->path);
			continue;
		}
		nv[n++] = *o;
	}
	qsort(nv, n, sizeof(*nv), cmp_mapping);
	free(maps->v);
	maps->v = nv;
	maps->n = n;
	free(rv);
	return 0;

out:
	for (i = 0; i < nn; i++)
		free(nv[i].path);
	free(nv);
	free(rv);
	return err;
}

int ml_maps_refresh(struct ml_maps *maps)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)maps->pid);
	return ml_maps_refresh_from(maps, path);
}

int ml_maps_add(struct ml_maps *maps, const struct ml_mapping *m)
{
	struct ml_mapping *v = realloc(maps->v, (maps->n + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	maps->v = v;
	/* What the new mapping covers is no longer what was there. */
	for (size_t i = 0; i < maps->n; i++) {
		if (v[i].start < m->end && m->start < v[i].end)
			free(v[i].path);
		else
			v[n++] = v[i];
	}
	v[n] = *m;
	v[n].path = m->path ? strdup(m->path) : NULL;
	if (m->path && !v[n].path)
		return -ENOMEM;
	maps->n = n + 1;
	qsort(v, maps->n, sizeof(*v), cmp_mapping);
	return 0;
}
