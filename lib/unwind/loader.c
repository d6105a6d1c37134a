// SPDX-License-Identifier: GPL-2.0
/*
 * Loading unwind tables into the BPF unwinder's maps: rows appended to the
 * row array, then the file's (device, inode) -> slice entry, so BPF never
 * sees a half-written table.  One table per file, shared by every process
 * and mapping of it; a file that has no usable table gets an empty slice
 * (frame pointers there) and is not tried again.  Memory is bounded by the
 * row array's size, fixed at load.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <signal.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "unwind/unwind.h"
#include "util/util.h"

struct loaded {
	uint64_t dev, ino;
	struct ml_unwind_module mod;	/* its slice (count 0: none) */
};

struct ml_unwinder {
	int rows_fd, modules_fd, vmas_fd;
	uint32_t max_rows, next;
	struct loaded *files;
	size_t nfiles, cap;
	bool full_warned;
	pthread_mutex_t lock;	/* the watcher thread loads too */
	pthread_t watcher;
	bool watching, stop;
	pid_t pid;
	unsigned int period_ms;
};

struct ml_unwinder *ml_unwinder_new(int rows_fd, int modules_fd,
				    uint32_t max_rows)
{
	struct ml_unwinder *u = xcalloc(1, sizeof(*u));

	u->rows_fd = rows_fd;
	u->modules_fd = modules_fd;
	u->vmas_fd = -1;
	u->max_rows = max_rows;
	pthread_mutex_init(&u->lock, NULL);
	return u;
}

void ml_unwinder_free(struct ml_unwinder *u)
{
	if (!u)
		return;
	if (u->watching) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_mutex_unlock(&u->lock);
		pthread_join(u->watcher, NULL);
	}
	pthread_mutex_destroy(&u->lock);
	free(u->files);
	free(u);
}

uint32_t ml_unwinder_rows(const struct ml_unwinder *u)
{
	return u->next;
}

static struct loaded *find_loaded(const struct ml_unwinder *u, uint64_t dev,
				  uint64_t ino)
{
	for (size_t i = 0; i < u->nfiles; i++)
		if (u->files[i].dev == dev && u->files[i].ino == ino)
			return &u->files[i];
	return NULL;
}

static bool is_loaded(const struct ml_unwinder *u, uint64_t dev, uint64_t ino)
{
	return find_loaded(u, dev, ino) != NULL;
}

static struct loaded *remember(struct ml_unwinder *u, uint64_t dev, uint64_t ino)
{
	if (u->nfiles == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 64;
		u->files = xrealloc(u->files, u->cap * sizeof(*u->files));
	}
	memset(&u->files[u->nfiles], 0, sizeof(u->files[0]));
	u->files[u->nfiles].dev = dev;
	u->files[u->nfiles].ino = ino;
	return &u->files[u->nfiles++];
}

void ml_unwinder_set_vmas(struct ml_unwinder *u, int vmas_fd)
{
	u->vmas_fd = vmas_fd;
}

/* Tell BPF where @pid maps a file with a table (see unwind_vmas). */
static void put_vma(struct ml_unwinder *u, pid_t pid, uint64_t start,
		    uint64_t end, uint64_t off, const struct ml_unwind_module *m)
{
	struct ml_unwind_vma v = {
		.start = start, .end = end, .off = off,
		.first = m->first, .count = m->count,
	};
	struct ml_unwind_vma_key k = { .tgid = pid };

	if (u->vmas_fd < 0 || !m->count)
		return;
	for (uint64_t b = start >> ML_UNWIND_BUCKET_SHIFT;
	     b <= (end - 1) >> ML_UNWIND_BUCKET_SHIFT; b++) {
		struct ml_unwind_bucket bk = {};
		int slot = -1;

		k.bucket = b;
		bpf_map_lookup_elem(u->vmas_fd, &k, &bk);
		/* its own slot, a free one, or one it replaced */
		for (int i = 0; i < ML_UNWIND_BUCKET_SLOTS && slot < 0; i++)
			if (bk.slot[i].start == start && bk.slot[i].end == end)
				slot = i;
		for (int i = 0; i < ML_UNWIND_BUCKET_SLOTS && slot < 0; i++)
			if (!bk.slot[i].end || (bk.slot[i].start < end && start < bk.slot[i].end))
				slot = i;
		if (slot < 0)
			slot = 0;
		bk.slot[slot] = v;
		bpf_map_update_elem(u->vmas_fd, &k, &bk, BPF_ANY);
	}
}

static int put_rows(struct ml_unwinder *u, const struct ml_unwind_row *rows,
		    uint32_t n)
{
	const uint32_t chunk = 65536;
	uint32_t *keys = xmalloc(chunk * sizeof(*keys));
	int err = 0;

	for (uint32_t done = 0; done < n && !err; ) {
		uint32_t cnt = n - done < chunk ? n - done : chunk;

		for (uint32_t i = 0; i < cnt; i++)
			keys[i] = u->next + done + i;
		if (bpf_map_update_batch(u->rows_fd, keys, rows + done, &cnt, NULL)) {
			/* older kernels: one at a time */
			for (uint32_t i = 0; i < cnt && !err; i++)
				if (bpf_map_update_elem(u->rows_fd, &keys[i],
							&rows[done + i], 0))
					err = -errno;
		}
		done += cnt;
	}
	free(keys);
	return err;
}

/* Load @path (@name in messages), known to the kernel as (@dev, @ino). */
static int add_key(struct ml_unwinder *u, const char *path, const char *name,
		   uint64_t dev, uint64_t ino)
{
	struct ml_unwind_key key = { .dev = dev, .ino = ino };
	struct ml_unwind_module mod = {};
	struct ml_unwind_row *rows;
	struct ml_unwind_stats st;
	const char *why;
	size_t n;
	int err;

	struct loaded *l;

	if (is_loaded(u, dev, ino))
		return 0;
	l = remember(u, dev, ino);
	err = ml_unwind_compile(path, &rows, &n, &st, &why);
	if (err) {
		ml_debug("unwind: %s: %s: frame pointers there", name, why);
	} else if (n > u->max_rows - u->next) {
		if (!u->full_warned)
			ml_warn("unwind tables full (%u rows): %s and later modules "
				"unwound by frame pointers", u->max_rows, name);
		u->full_warned = true;
	} else if (n) {
		err = put_rows(u, rows, n);
		if (!err) {
			mod.first = u->next;
			mod.count = n;
			u->next += n;
		}
		ml_debug("unwind: %s: %zu FDEs, %zu rows (%zu unsupported, "
			 "%zu FDEs from .debug_frame)", name, st.fdes, st.rows,
			 st.unsupported, st.from_debug_frame);
	}
	free(rows);
	l->mod = mod;
	if (bpf_map_update_elem(u->modules_fd, &key, &mod, BPF_ANY))
		return -errno;
	return 0;
}

static uint64_t kdev(dev_t d)
{
	return ((uint64_t)major(d) << 20) | minor(d);
}

int ml_unwinder_add_file(struct ml_unwinder *u, const char *path)
{
	struct stat sb;
	int err;

	if (stat(path, &sb))
		return -errno;
	pthread_mutex_lock(&u->lock);
	err = add_key(u, path, path, kdev(sb.st_dev), sb.st_ino);
	pthread_mutex_unlock(&u->lock);
	return err;
}

static int add_pid(struct ml_unwinder *u, pid_t pid);

int ml_unwinder_add_pid(struct ml_unwinder *u, pid_t pid)
{
	int err;

	pthread_mutex_lock(&u->lock);
	err = add_pid(u, pid);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* A child of ours between fork and execve is still running our program. */
static bool not_exec_yet(pid_t pid)
{
	char self[PATH_MAX], other[PATH_MAX], path[64];
	ssize_t a, b;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	a = readlink("/proc/self/exe", self, sizeof(self) - 1);
	b = readlink(path, other, sizeof(other) - 1);
	return a > 0 && a == b && !memcmp(self, other, a) && pid != getpid();
}

static void *watch(void *arg)
{
	struct ml_unwinder *u = arg;
	struct timespec ts = {
		.tv_sec = u->period_ms / 1000,
		.tv_nsec = (long)(u->period_ms % 1000) * 1000000,
	};
	/* Every 1 ms for 200 polls after exec: libraries are mapped then. */
	struct timespec fast = { .tv_nsec = 1000000 };

	for (int n = 0;;) {
		nanosleep(n < 200 ? &fast : &ts, NULL);
		pthread_mutex_lock(&u->lock);
		if (u->stop || kill(u->pid, 0)) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		if (!not_exec_yet(u->pid)) {
			add_pid(u, u->pid);
			n++;
		}
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

int ml_unwinder_watch(struct ml_unwinder *u, pid_t pid, unsigned int period_ms)
{
	sigset_t all, old;
	int err;

	if (u->watching)
		return 0;
	u->pid = pid;
	u->period_ms = period_ms ? period_ms : 100;
	/* Signals stay with the main thread (its signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&u->watcher, NULL, watch, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	u->watching = true;
	return 0;
}

static int add_pid(struct ml_unwinder *u, pid_t pid)
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perm[8], *file;
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end,
			   perm, &off, &maj, &min, &ino, &pos) < 7 || !pos)
			continue;
		file = line + pos;
		file[strcspn(file, "\n")] = '\0';
		if (perm[2] != 'x' || file[0] != '/' || !ino)
			continue;
		if (is_loaded(u, ((uint64_t)maj << 20) | min, ino)) {
			put_vma(u, pid, start, end, off,
				&find_loaded(u, ((uint64_t)maj << 20) | min, ino)->mod);
			continue;
		}
		{
			/* the file as the process sees it (containers) */
			char *p = xasprintf("/proc/%d/map_files/%llx-%llx", pid,
					    start, end);

			if (access(p, R_OK)) {
				free(p);
				p = xasprintf("/proc/%d/root%s", pid, file);
			}
			add_key(u, p, file, ((uint64_t)maj << 20) | min, ino);
			free(p);
			put_vma(u, pid, start, end, off,
				&find_loaded(u, ((uint64_t)maj << 20) | min, ino)->mod);
		}
	}
	fclose(f);
	return 0;
}

/* ---------------------------------------------------------------- programs */

struct dyninfo {
	char *interp;
	char **needed;
	size_t nneeded;
	char *rpath, *runpath;
};

static void dyninfo_free(struct dyninfo *d)
{
	free(d->interp);
	for (size_t i = 0; i < d->nneeded; i++)
		free(d->needed[i]);
	free(d->needed);
	free(d->rpath);
	free(d->runpath);
}

static int read_dyninfo(const char *path, struct dyninfo *di)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t phnum;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(di, 0, sizeof(*di));
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum)) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		char *raw;
		size_t sz;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(elf, &sz);
		if (raw && ph.p_offset + ph.p_filesz <= sz && ph.p_filesz)
			di->interp = strndup(raw + ph.p_offset, ph.p_filesz);
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; gelf_getdyn(d, i, &dyn); i++) {
			const char *s;

			if (dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH &&
			    dyn.d_tag != DT_RUNPATH)
				continue;
			s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag == DT_NEEDED) {
				di->needed = xrealloc(di->needed, (di->nneeded + 1) *
						      sizeof(*di->needed));
				di->needed[di->nneeded++] = xstrdup(s);
			} else if (dyn.d_tag == DT_RPATH) {
				free(di->rpath);
				di->rpath = xstrdup(s);
			} else {
				free(di->runpath);
				di->runpath = xstrdup(s);
			}
		}
	}
	elf_end(elf);
	close(fd);
	return 0;
}

/* Look for @name in the ':'-separated @dirs ($ORIGIN: @origin). */
static char *search_dirs(const char *dirs, const char *origin, const char *name)
{
	char *copy, *save = NULL, *dir, *found = NULL;

	if (!dirs)
		return NULL;
	copy = xstrdup(dirs);
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *d, *p;

		if (!strncmp(dir, "$ORIGIN", 7))
			d = xasprintf("%s%s", origin, dir + 7);
		else if (!strncmp(dir, "${ORIGIN}", 9))
			d = xasprintf("%s%s", origin, dir + 9);
		else
			d = xstrdup(dir);
		p = xasprintf("%s/%s", d, name);
		free(d);
		if (access(p, R_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

static const char *const system_dirs =
	"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:"
	"/lib:/usr/lib:/usr/local/lib";

/* The directories of /etc/ld.so.conf.d/ *.conf, ':'-separated. */
static char *ld_conf_dirs(void)
{
	glob_t g;
	char *dirs = xstrdup("");

	if (glob("/etc/ld.so.conf.d/*.conf", 0, NULL, &g))
		return dirs;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		char line[512];

		while (f && fgets(line, sizeof(line), f)) {
			char *n;

			line[strcspn(line, "\n# \t")] = '\0';
			if (line[0] != '/')
				continue;
			n = xasprintf("%s%s%s", dirs, *dirs ? ":" : "", line);
			free(dirs);
			dirs = n;
		}
		if (f)
			fclose(f);
	}
	globfree(&g);
	return dirs;
}

static char *find_library(const char *name, const struct dyninfo *di,
			  const char *origin, const char *conf)
{
	char *p;

	if (strchr(name, '/'))
		return access(name, R_OK) == 0 ? xstrdup(name) : NULL;
	if (!di->runpath && (p = search_dirs(di->rpath, origin, name)))
		return p;
	if ((p = search_dirs(getenv("LD_LIBRARY_PATH"), origin, name)))
		return p;
	if ((p = search_dirs(di->runpath, origin, name)))
		return p;
	if ((p = search_dirs(conf, origin, name)))
		return p;
	return search_dirs(system_dirs, origin, name);
}

/* A walk over a program and the libraries it needs, each file once. */
struct tree_walk {
	int (*visit)(const char *path, const struct stat *sb, void *arg);
	void *arg;
	const char *conf;	/* ld_conf_dirs() */
	struct stat *seen;
	size_t nseen;
	bool stop;
};

static void walk_tree(struct tree_walk *w, const char *path, int depth)
{
	struct dyninfo di;
	struct stat sb;
	char *copy, *origin;
	int r;

	if (w->stop || depth > 16 || stat(path, &sb))
		return;
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].st_dev == sb.st_dev && w->seen[i].st_ino == sb.st_ino)
			return;
	w->seen = xrealloc(w->seen, (w->nseen + 1) * sizeof(*w->seen));
	w->seen[w->nseen++] = sb;
	r = w->visit(path, &sb, w->arg);
	if (r < 0)
		w->stop = true;
	if (r || read_dyninfo(path, &di))
		return;
	copy = realpath(path, NULL);
	origin = copy ? dirname(copy) : ".";
	if (di.interp)
		walk_tree(w, di.interp, depth + 1);
	for (size_t i = 0; i < di.nneeded; i++) {
		char *lib = find_library(di.needed[i], &di, origin, w->conf);

		if (lib)
			walk_tree(w, lib, depth + 1);
		else
			ml_debug("unwind: %s needs %s: not found", path, di.needed[i]);
		free(lib);
	}
	free(copy);
	dyninfo_free(&di);
}

/*
 * Preloaded libraries (LD_PRELOAD: the command inherits our environment),
 * then the program and what it needs.
 */
static void walk_program(struct tree_walk *w, const char *path)
{
	const char *env = getenv("LD_PRELOAD");
	struct dyninfo none = {};
	char *copy, *save = NULL, *name;

	w->conf = ld_conf_dirs();
	copy = xstrdup(env ? env : "");
	for (name = strtok_r(copy, " :", &save); name;
	     name = strtok_r(NULL, " :", &save)) {
		char *lib = find_library(name, &none, ".", w->conf);

		if (lib)
			walk_tree(w, lib, 1);
		free(lib);
	}
	free(copy);
	walk_tree(w, path, 0);
	free((char *)w->conf);
	free(w->seen);
}

/* Load a file's table, and go on into its needs, unless it was loaded. */
static int load_visit(const char *path, const struct stat *sb, void *arg)
{
	struct ml_unwinder *u = arg;

	if (is_loaded(u, kdev(sb->st_dev), sb->st_ino))
		return 1;
	add_key(u, path, path, kdev(sb->st_dev), sb->st_ino);
	return 0;
}

int ml_unwinder_add_program(struct ml_unwinder *u, const char *path)
{
	struct tree_walk w = { .visit = load_visit, .arg = u };

	pthread_mutex_lock(&u->lock);
	walk_program(&w, path);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

struct files_walk {
	int (*fn)(const char *file, void *arg);
	void *arg;
};

static int files_visit(const char *path, const struct stat *sb, void *arg)
{
	struct files_walk *f = arg;

	return f->fn(path, f->arg);
}

int ml_program_files(const char *path, int (*fn)(const char *file, void *arg),
		     void *arg)
{
	struct files_walk f = { fn, arg };
	struct tree_walk w = { .visit = files_visit, .arg = &f };

	walk_program(&w, path);
	return w.stop ? -1 : 0;
}
