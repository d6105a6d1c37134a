// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: the kernel allocators' tracepoints (kmalloc, kmem_cache,
 * page allocator, percpu, vmalloc) with BPF tracking in the kernel
 * (bpf/kmem.bpf.c).  Each tracepoint's BTF prototype is checked first: a
 * missing one is skipped with a note, a changed one picks the program
 * variant that matches it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "source/source.h"
#include "source/bpfobj.h"
#include "source/kmem.h"
#include "options/options.h"
#include "analysis/aggregate.h"
#include "util/util.h"
#include "kmem.skel.h"

/* --grow-stacks: a call site's outstanding bytes over the last checks. */
struct site {
	uint64_t call_site;
	uint64_t bytes;
	int grew;		/* consecutive checks it grew */
	bool stacks;		/* its stacks are collected */
	bool seen;		/* outstanding at the last check */
};

#define GROW_CHECKS 3		/* grown this many seconds in a row: get stacks */

struct kmem_priv {
	struct kmem_bpf *skel;
	/* the table of blocks (bpf/ktable.bpf.h), mapped read-only */
	uint64_t *kkeys;
	struct ml_kslot *kslots;
	size_t nr_kslots;
	bool names_warned;	/* the kmem_cache iterator failed once */
	int cgroup_fd;
	bool grow;
	uint64_t last_check;
	struct site *sites;
	size_t nsites;
};

/* The function prototype behind tracepoint @tp, or NULL if there is none. */
static const struct btf_type *tp_proto(const struct btf *btf, const char *tp)
{
	char name[128];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return NULL;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);	/* pointer */
	if (!t || !btf_is_ptr(t))
		return NULL;
	t = btf__type_by_id(btf, t->type);
	return t && btf_is_func_proto(t) ? t : NULL;
}

/* Is argument @i (0: the first after the context) of @proto a pointer? */
static bool arg_is_ptr(const struct btf *btf, const struct btf_type *proto, int i)
{
	const struct btf_param *p = btf_params(proto);
	const struct btf_type *t;

	if (i + 1 >= btf_vlen(proto))
		return false;
	t = btf__type_by_id(btf, p[i + 1].type);
	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(btf, t->type);
	return t && btf_is_ptr(t);
}

static void choose_programs(struct kmem_bpf *skel, const struct ml_source_config *cfg)
{
	static const struct {
		const char *tp;
		bool percpu;
	} tps[] = {
		{ "kmalloc", false }, { "kfree", false },
		{ "kmem_cache_alloc", false }, { "kmem_cache_free", false },
		{ "mm_page_alloc", false }, { "mm_page_free", false },
		{ "mm_page_free_batched", false }, { "percpu_alloc_percpu", true },
		{ "percpu_free_percpu", true }, { "alloc_vmap_area", false },
		{ "free_vmap_area_noflush", false }, { "sched_process_fork", false },
	};
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *proto;

	for (size_t i = 0; i < ARRAY_SIZE(tps); i++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(skel->obj, tps[i].tp);
		bool ok = btf && tp_proto(btf, tps[i].tp);

		if (!ok)
			ml_note("this kernel has no tracepoint %s: not traced", tps[i].tp);
		bpf_program__set_autoload(prog, ok && (!tps[i].percpu || cfg->percpu));
	}
	/* The kmem_cache iterator (6.13) names the caches; else each event. */
	if (btf && btf__find_by_name_kind(btf, "bpf_iter__kmem_cache",
					  BTF_KIND_STRUCT) > 0)
		skel->rodata->names_per_event = false;
	else
		bpf_program__set_autoload(skel->progs.cache_iter, false);
	/* kmem_cache_alloc passes the cache since 6.1, the sizes before. */
	proto = btf ? tp_proto(btf, "kmem_cache_alloc") : NULL;
	if (proto && !arg_is_ptr(btf, proto, 2)) {
		bpf_program__set_autoload(skel->progs.kmem_cache_alloc, false);
		bpf_program__set_autoload(skel->progs.kmem_cache_alloc_sizes, true);
	} else {
		bpf_program__set_autoload(skel->progs.kmem_cache_alloc_sizes, false);
	}
	btf__free(btf);
}

/* @pid and the processes that descend from it now. */
static void add_pid_tree(int map_fd, pid_t root)
{
	__u8 one = 1;
	__u32 key = root;
	bool added = true;

	bpf_map_update_elem(map_fd, &key, &one, BPF_ANY);
	/* Repeat until no new child is found: children of children. */
	while (added) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		added = false;
		while (d && (de = readdir(d))) {
			char path[64], buf[512], *p;
			__u32 pid, ppid;
			FILE *f;

			pid = strtoul(de->d_name, &p, 10);
			if (*p || !pid)
				continue;
			snprintf(path, sizeof(path), "/proc/%u/stat", pid);
			f = fopen(path, "r");
			if (!f)
				continue;
			p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
			fclose(f);
			if (!p || sscanf(p + 2, "%*c %u", &ppid) != 1)
				continue;
			key = ppid;
			if (bpf_map_lookup_elem(map_fd, &key, &one))
				continue;
			key = pid;
			if (bpf_map_lookup_elem(map_fd, &key, &one) == 0)
				continue;
			one = 1;
			bpf_map_update_elem(map_fd, &key, &one, BPF_ANY);
			added = true;
		}
		if (d)
			closedir(d);
	}
}

/* The bytes of a BPF array of @n values of @size, as mmap() sees it. */
static size_t array_len(size_t size, size_t n)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (((size + 7) & ~(size_t)7) * n + page - 1) & ~(page - 1);
}

static void *map_array(int fd, size_t size, size_t n)
{
	void *p = mmap(NULL, array_len(size, n), PROT_READ, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int kmem_open(struct ml_source *src, const struct ml_source_config *cfg)
{
	struct kmem_priv *p = xcalloc(1, sizeof(*p));
	struct kmem_bpf *skel;
	unsigned int bits;
	int err;

	p->cgroup_fd = -1;
	src->priv = p;
	if (cfg->cgroup) {
		/* the session resolved it (lib/target/cgroup.c) */
		p->cgroup_fd = open(cfg->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->cgroup_fd < 0) {
			ml_err("cannot open cgroup %s: %s", cfg->cgroup, strerror(errno));
			return -errno;
		}
	}
	skel = p->skel = kmem_bpf__open();
	if (!skel) {
		ml_err("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->min_size = cfg->min_size;
	skel->rodata->max_size = cfg->max_size;
	skel->rodata->sample_rate = cfg->sample_rate ? cfg->sample_rate : 1;
	skel->rodata->trace_events = cfg->trace;
	skel->rodata->stack_flags = 0;		/* kernel stacks */
	skel->rodata->collect_stacks = cfg->call_graph != ML_CG_NONE;
	skel->rodata->keep_combined = cfg->combined;
	skel->rodata->grow_stacks = p->grow = cfg->grow_stacks;
	skel->rodata->filter_pids = cfg->pid > 0;
	skel->rodata->filter_cgroup = cfg->cgroup != NULL;
	skel->rodata->self_tgid = getpid();
	/*
	 * Blocks live in the kslots array (bpf/ktable.bpf.h), not in the
	 * allocs hash map: twice as many slots as blocks, so probe runs stay
	 * short.  An array is allocated whole at load: it never allocates
	 * inside our own kmalloc probe.
	 */
	bits = 1;
	while ((1ULL << bits) < 2ULL * (cfg->max_allocs ? cfg->max_allocs :
					 ML_KALLOCS_DEFAULT))
		bits++;
	skel->rodata->kslot_bits = bits;
	bpf_map__set_max_entries(skel->maps.kkeys, 1U << bits);
	bpf_map__set_max_entries(skel->maps.kslots, 1U << bits);
	bpf_map__set_map_flags(skel->maps.allocs, 0);
	bpf_map__set_max_entries(skel->maps.allocs, 1);
	/*
	 * Kernel stacks are shorter than user ones and far more varied: a
	 * larger map of shorter stacks (fewer hash collisions).
	 */
	bpf_map__set_value_size(skel->maps.stack_traces, ML_KSTACK_DEPTH * sizeof(__u64));
	bpf_map__set_max_entries(skel->maps.stack_traces,
				 cfg->stack_map_size && cfg->stack_map_size != ML_STACK_MAP_DEFAULT ?
				 cfg->stack_map_size : ML_KSTACK_MAP_DEFAULT);
	if (!cfg->trace)
		bpf_map__set_max_entries(skel->maps.events, 4096);
	choose_programs(skel, cfg);

	err = kmem_bpf__load(skel);
	if (err) {
		ml_err("cannot load BPF programs: %s (is BPF allowed here? are you root?)",
		       strerror(-err));
		return err;
	}
	if (p->cgroup_fd >= 0) {
		__u32 zero = 0;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_filter), &zero,
					&p->cgroup_fd, BPF_ANY)) {
			ml_err("'%s' is not a cgroup v2 directory: %s", cfg->cgroup,
			       strerror(errno));
			return -errno;
		}
	}
	if (cfg->pid > 0)
		add_pid_tree(bpf_map__fd(skel->maps.traced_pids), cfg->pid);

	p->nr_kslots = 1ULL << bits;
	p->kkeys = map_array(bpf_map__fd(skel->maps.kkeys), sizeof(*p->kkeys),
			     p->nr_kslots);
	p->kslots = map_array(bpf_map__fd(skel->maps.kslots), sizeof(*p->kslots),
			      p->nr_kslots);
	if (!p->kkeys || !p->kslots) {
		ml_err("cannot map the table of kernel blocks: %s", strerror(errno));
		return -errno;
	}
	src->tracker.kkeys = p->kkeys;
	src->tracker.kslots = p->kslots;
	src->tracker.nr_kslots = p->nr_kslots;
	src->tracker.allocs_fd = bpf_map__fd(skel->maps.allocs);
	src->tracker.stacks_fd = bpf_map__fd(skel->maps.stack_traces);
	src->tracker.combined_fd = bpf_map__fd(skel->maps.combined);
	src->tracker.counters_fd = bpf_map__fd(skel->maps.counters);
	src->tracker.events_fd = bpf_map__fd(skel->maps.events);
	src->tracker.cache_names_fd = bpf_map__fd(skel->maps.cache_names);
	src->tracker.kernel = true;
	return 0;
}

static int kmem_attach(struct ml_source *src)
{
	struct kmem_priv *p = src->priv;
	int err = kmem_bpf__attach(p->skel);

	if (err)
		ml_err("cannot attach to the kernel's allocator tracepoints: %s",
		       strerror(-err));
	return err;
}

/*
 * Name every slab cache in cache_names, from the kmem_cache iterator (the
 * skeleton attached it with the tracepoints).
 */
static void kmem_sync(struct ml_source *src)
{
	struct kmem_priv *p = src->priv;
	struct {
		uint64_t cache;
		char name[32];
	} rec;
	int fd, names;

	if (!p || !p->skel || p->skel->rodata->names_per_event ||
	    !p->skel->links.cache_iter)
		return;
	names = bpf_map__fd(p->skel->maps.cache_names);
	fd = bpf_iter_create(bpf_link__fd(p->skel->links.cache_iter));
	if (fd < 0) {
		if (!p->names_warned)
			ml_warn("cannot list the slab caches (kmem_cache iterator): "
				"%s; slab blocks are shown without their cache's name",
				strerror(errno));
		p->names_warned = true;
		return;
	}
	/* Records are small: read() never splits one. */
	while (read(fd, &rec, sizeof(rec)) == sizeof(rec))
		bpf_map_update_elem(names, &rec.cache, rec.name, BPF_ANY);
	close(fd);
}

static struct site *find_site(struct kmem_priv *p, uint64_t call_site)
{
	for (size_t i = 0; i < p->nsites; i++)
		if (p->sites[i].call_site == call_site)
			return &p->sites[i];
	p->sites = xrealloc(p->sites, (p->nsites + 1) * sizeof(*p->sites));
	memset(&p->sites[p->nsites], 0, sizeof(*p->sites));
	p->sites[p->nsites].call_site = call_site;
	return &p->sites[p->nsites++];
}

/*
 * --grow-stacks: once a second, the outstanding bytes per call site; a
 * site that grew GROW_CHECKS times in a row has its stacks collected from
 * then on (the cost of stacks only where a leak is likely).
 */
static void kmem_drain(struct ml_source *src)
{
	struct kmem_priv *p = src->priv;
	uint64_t now = ml_now_ns();
	struct ml_block *blocks;
	struct ml_report r;
	long n;

	if (!p->grow || now - p->last_check < 1000000000ULL)
		return;
	p->last_check = now;
	n = ml_tracker_blocks(&src->tracker, &blocks);
	if (n < 0)
		return;
	ml_aggregate_blocks_by(blocks, n, now, 0, ML_GROUP_CALLSITE, ML_SORT_SIZE, &r);
	for (size_t i = 0; i < p->nsites; i++)
		p->sites[i].seen = false;
	for (size_t i = 0; i < r.ngroups; i++) {
		struct site *s;
		__u8 one = 1;

		if (!r.groups[i].key)
			continue;
		s = find_site(p, r.groups[i].key);
		s->seen = true;
		s->grew = r.groups[i].bytes > s->bytes ? s->grew + 1 : 0;
		s->bytes = r.groups[i].bytes;
		if (s->grew < GROW_CHECKS || s->stacks)
			continue;
		s->stacks = true;
		bpf_map_update_elem(bpf_map__fd(p->skel->maps.stack_sites), &s->call_site,
				    &one, BPF_ANY);
		ml_note("call site %#llx has grown for %d s: collecting its stacks",
			(unsigned long long)s->call_site, GROW_CHECKS);
	}
	for (size_t i = 0; i < p->nsites; i++)
		if (!p->sites[i].seen)
			p->sites[i].grew = p->sites[i].bytes = 0;	/* all freed */
	ml_report_free(&r);
}

static uint64_t kmem_prog_misses(struct ml_source *src)
{
	struct kmem_priv *p = src->priv;

	return p && p->skel ? ml_bpf_misses(p->skel->obj) : 0;
}

static void kmem_close(struct ml_source *src)
{
	struct kmem_priv *p = src->priv;

	if (!p)
		return;
	if (p->kkeys)
		munmap(p->kkeys, array_len(sizeof(*p->kkeys), p->nr_kslots));
	if (p->kslots)
		munmap(p->kslots, array_len(sizeof(*p->kslots), p->nr_kslots));
	kmem_bpf__destroy(p->skel);
	if (p->cgroup_fd >= 0)
		close(p->cgroup_fd);
	free(p->sites);
	free(p);
	src->priv = NULL;
}

const struct ml_source_ops ml_kmem_source = {
	.name = "kmem",
	.open = kmem_open,
	.attach = kmem_attach,
	.drain = kmem_drain,
	.prog_misses = kmem_prog_misses,
	.sync = kmem_sync,
	.close = kmem_close,
};
