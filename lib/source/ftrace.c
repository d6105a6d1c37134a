// SPDX-License-Identifier: GPL-2.0
/*
 * Event source for kernels where BPF is not allowed: the same kmem events
 * enabled in a private tracefs instance ("memleak_<pid>"), a kernel stack
 * recorded after each allocation by a stacktrace trigger, the raw events
 * read and parsed with libtracefs/libtraceevent, and the tracking done in
 * user space (lib/tracker/table.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tracefs.h>
#include <event-parse.h>

#include "source/kmem.h"
#include "source/tracefs.h"
#include "options/options.h"
#include "target/cgroup.h"
#include "tracker/table.h"
#include "util/util.h"

struct kev {
	const char *system, *name;
	int kind;		/* enum ml_kind */
	bool alloc;
	bool percpu;		/* only with --percpu */
	int id;			/* this kernel's event id, -1 if absent */
};

static struct kev kevs[] = {
	{ "kmem", "kmalloc", ML_KIND_KMALLOC, true, false, -1 },
	{ "kmem", "kfree", ML_KIND_KMALLOC, false, false, -1 },
	{ "kmem", "kmem_cache_alloc", ML_KIND_CACHE, true, false, -1 },
	{ "kmem", "kmem_cache_free", ML_KIND_CACHE, false, false, -1 },
	{ "kmem", "mm_page_alloc", ML_KIND_PAGE, true, false, -1 },
	{ "kmem", "mm_page_free", ML_KIND_PAGE, false, false, -1 },
	{ "kmem", "mm_page_free_batched", ML_KIND_PAGE, false, false, -1 },
	{ "percpu", "percpu_alloc_percpu", ML_KIND_PERCPU, true, true, -1 },
	{ "percpu", "percpu_free_percpu", ML_KIND_PERCPU, false, true, -1 },
	{ "vmalloc", "alloc_vmap_area", ML_KIND_VMALLOC, true, false, -1 },
	{ "vmalloc", "free_vmap_area_noflush", ML_KIND_VMALLOC, false, false, -1 },
};

/*
 * Allocations waiting for the stacks their triggers record next, per CPU.
 * An interrupt can put its own event and stack between an event and its
 * stack, so the newest waiting allocation takes the next stack (LIFO).
 */
#define PENDING_MAX 8

struct pending {
	int n;
	struct ml_block b[PENDING_MAX];
};

/* One allocation or free, in trace-clock order across both instances. */
struct op {
	uint64_t ts;
	bool alloc;
	struct ml_block b;	/* alloc: the block; free: b.addr is the key */
};

struct ftrace_priv {
	struct tracefs_instance *inst;		/* allocations (filtered) and stacks */
	struct tracefs_instance *free_inst;	/* frees, from any task */
	struct tep_handle *tep;
	struct ml_table *tab;
	struct ml_source_config cfg;	/* a copy: the caller's is gone after open */
	int stack_id;		/* ftrace:kernel_stack event id */
	struct pending *pending;	/* per CPU */
	int ncpus;
	uint64_t seq;		/* for -s sampling */
	uint64_t overruns;	/* ring buffer entries lost so far */
	struct op *ops;		/* this drain's events */
	size_t nops, ops_cap;
};

static bool field_u64(struct tep_event *ev, struct tep_record *rec,
		      const char *name, unsigned long long *val)
{
	struct tep_format_field *f = tep_find_field(ev, name);

	return f && tep_read_number_field(f, rec->data, val) == 0;
}

static void add_op(struct ftrace_priv *p, bool alloc, const struct ml_block *b)
{
	if (p->nops == p->ops_cap)
		p->ops = xrealloc(p->ops, (p->ops_cap = p->ops_cap ? 2 * p->ops_cap : 4096) *
				  sizeof(*p->ops));
	p->ops[p->nops].ts = b->timestamp_ns;
	p->ops[p->nops].alloc = alloc;
	p->ops[p->nops].b = *b;
	p->nops++;
}

/* The newest waiting allocation on @pd gets stack @ips (none: depth 0). */
static void commit(struct ftrace_priv *p, struct pending *pd, const uint64_t *ips,
		   int depth)
{
	struct ml_block *b;

	if (!pd->n)
		return;
	b = &pd->b[--pd->n];
	if (p->cfg.call_graph == ML_CG_NONE) {
		b->stack_id = ML_STACK_NONE;
	} else if (depth > 0) {
		b->stack_id = ml_table_stack(p->tab, ips, depth);
	} else {
		b->stack_id = -ENOENT;
		ml_table_count(p->tab, ML_CNT_STACK_LOST, 1);
	}
	add_op(p, true, b);
}

static void on_stack(struct ftrace_priv *p, struct tep_event *ev,
		     struct tep_record *rec, int cpu)
{
	struct tep_format_field *f = tep_find_field(ev, "caller");
	unsigned long long size = 0;
	uint64_t ips[ML_KSTACK_DEPTH];
	int depth = 0;

	if (cpu < 0 || cpu >= p->ncpus || !p->pending[cpu].n)
		return;
	if (f && field_u64(ev, rec, "size", &size)) {
		const uint64_t *v = (const uint64_t *)((char *)rec->data + f->offset);
		size_t room = (rec->size - f->offset) / sizeof(uint64_t);

		for (size_t i = 0; i < size && i < room && depth < ML_KSTACK_DEPTH; i++)
			if (v[i] && v[i] != (uint64_t)-1)
				ips[depth++] = v[i];
	}
	commit(p, &p->pending[cpu], ips, depth);
}

static int on_record(struct tep_event *ev, struct tep_record *rec, int cpu,
		     void *ctx)
{
	struct ftrace_priv *p = ctx;
	const struct kev *k = NULL;

	unsigned long long v = 0, key = 0, req = 0, alloc = 0, gfp = 0, cs = 0;
	struct pending *pd;
	struct ml_block *b;

	if (ev->id == p->stack_id) {
		on_stack(p, ev, rec, cpu);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kevs); i++)
		if (kevs[i].id == ev->id)
			k = &kevs[i];
	if (!k || cpu < 0 || cpu >= p->ncpus)
		return 0;
	pd = &p->pending[cpu];

	switch (k->kind) {
	case ML_KIND_PAGE:
		field_u64(ev, rec, "pfn", &v);
		key = ML_KEY_PAGE(v);
		break;
	case ML_KIND_PERCPU:
		field_u64(ev, rec, "ptr", &v);
		key = ML_KEY_PERCPU(v);
		break;
	case ML_KIND_VMALLOC:
		if (!field_u64(ev, rec, k->alloc ? "addr" : "va_start", &key))
			return 0;
		break;
	default:
		field_u64(ev, rec, "ptr", &key);
	}
	if (!k->alloc) {
		struct ml_block f = { .addr = key, .timestamp_ns = rec->ts };

		add_op(p, false, &f);
		return 0;
	}
	if (!key)
		return 0;
	if (k->kind == ML_KIND_VMALLOC) {
		field_u64(ev, rec, "failed", &v);
		if (v)
			return 0;
	}

	if (pd->n == PENDING_MAX)
		commit(p, pd, NULL, 0);		/* its stack never came */
	b = &pd->b[pd->n];
	memset(b, 0, sizeof(*b));
	b->addr = key;
	b->kind = k->kind;
	b->pid = tep_data_pid(p->tep, rec);
	b->timestamp_ns = rec->ts;		/* trace_clock mono: CLOCK_MONOTONIC */
	field_u64(ev, rec, "call_site", &cs);
	field_u64(ev, rec, "gfp_flags", &gfp);
	b->call_site = cs;
	b->gfp = gfp;
	switch (k->kind) {
	case ML_KIND_PAGE:
		field_u64(ev, rec, "order", &v);
		b->order = v;
		req = alloc = 4096ULL << v;
		break;
	case ML_KIND_PERCPU:
		field_u64(ev, rec, "size", &req);
		field_u64(ev, rec, "bytes_alloc", &alloc);
		break;
	case ML_KIND_VMALLOC:
		field_u64(ev, rec, "size", &req);
		alloc = req;
		break;
	default:
		field_u64(ev, rec, "bytes_req", &req);
		field_u64(ev, rec, "bytes_alloc", &alloc);
		if (k->kind == ML_KIND_CACHE) {
			struct tep_format_field *f = tep_find_field(ev, "name");
			int len;
			const char *name = f ? tep_get_field_raw(NULL, ev, "name", rec, &len, 0) : NULL;

			if (name)
				b->cache = ml_table_cache(p->tab, name);
		}
	}
	b->size = alloc;
	b->bytes_req = req;
	if (alloc < p->cfg.min_size || alloc > p->cfg.max_size)
		return 0;
	if (p->cfg.sample_rate > 1 && p->seq++ % p->cfg.sample_rate)
		return 0;
	pd->n++;
	if (p->cfg.call_graph == ML_CG_NONE)
		commit(p, pd, NULL, 0);
	return 0;
}

/* Entries the ring buffer overwrote or dropped, over all CPUs. */
static uint64_t ring_losses(struct ftrace_priv *p, struct tracefs_instance *inst)
{
	uint64_t total = 0;

	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		char *path = xasprintf("per_cpu/cpu%d/stats", cpu);
		char *s = tracefs_instance_file_read(inst, path, NULL), *l;

		free(path);
		for (l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			unsigned long long n;

			if (sscanf(l, "overrun: %llu", &n) == 1 ||
			    sscanf(l, "dropped events: %llu", &n) == 1)
				total += n;
		}
		free(s);
	}
	return total;
}

static int by_time(const void *a, const void *b)
{
	const struct op *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->alloc - y->alloc;	/* a free first: it makes room */
}

/*
 * Read both instances, then apply in time order what happened at least a
 * millisecond before we started: later events may still be in flight in
 * the other instance's buffer, and wait for the next drain.
 */
static void ftrace_drain(struct ml_source *src)
{
	struct ftrace_priv *p = src->priv;
	uint64_t cutoff = ml_now_ns() - 1000000, lost;
	size_t i, kept = 0;

	tracefs_iterate_raw_events(p->tep, p->inst, NULL, 0, on_record, p);
	for (int cpu = 0; cpu < p->ncpus; cpu++)
		while (p->pending[cpu].n)
			commit(p, &p->pending[cpu], NULL, 0);
	tracefs_iterate_raw_events(p->tep, p->free_inst, NULL, 0, on_record, p);

	qsort(p->ops, p->nops, sizeof(*p->ops), by_time);
	for (i = 0; i < p->nops; i++) {
		if (p->ops[i].ts >= cutoff) {
			p->ops[kept++] = p->ops[i];
			continue;
		}
		if (p->ops[i].alloc)
			ml_table_alloc(p->tab, &p->ops[i].b);
		else
			ml_table_free_key(p->tab, p->ops[i].b.addr);
	}
	p->nops = kept;

	lost = ring_losses(p, p->inst) + ring_losses(p, p->free_inst);
	if (lost > p->overruns) {
		ml_table_count(p->tab, ML_CNT_RINGBUF_DROP, lost - p->overruns);
		p->overruns = lost;
	}
}

/* set_event_pid: @pid and its descendants now; event-fork adds later ones. */
static void add_pids(struct ftrace_priv *p, pid_t root)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char *buf = xasprintf("%d", root);

	tracefs_instance_file_write(p->inst, "set_event_pid", buf);
	free(buf);
	while (d && (de = readdir(d))) {
		char path[64], line[512], *q;
		int pid = atoi(de->d_name), ppid;
		FILE *f;

		if (pid <= 0 || pid == root)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		q = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		fclose(f);
		if (q && sscanf(q + 2, "%*c %d", &ppid) == 1 && ppid == root) {
			buf = xasprintf("%d", pid);
			tracefs_instance_file_append(p->inst, "set_event_pid", buf);
			free(buf);
		}
	}
	if (d)
		closedir(d);
}

static void add_pid(int pid, void *arg)
{
	struct ftrace_priv *p = arg;
	char *buf = xasprintf("%d", pid);

	tracefs_instance_file_append(p->inst, "set_event_pid", buf);
	free(buf);
}

static struct tracefs_instance *new_instance(const char *name)
{
	struct tracefs_instance *inst = tracefs_instance_create(name);

	if (!inst)
		return NULL;
	tracefs_trace_off(inst);
	tracefs_instance_file_write(inst, "trace_clock", "mono");
	tracefs_instance_file_write(inst, "buffer_size_kb", "8192");
	return inst;
}

static int ftrace_open(struct ml_source *src, const struct ml_source_config *cfg)
{
	static const char *systems[] = { "kmem", "percpu", "vmalloc", "ftrace", NULL };
	struct ftrace_priv *p = xcalloc(1, sizeof(*p));
	struct tep_event *ev;
	char *name, *self;
	int err, enabled = 0;

	src->priv = p;
	p->cfg = *cfg;
	err = ml_tracefs_ready();
	if (err) {
		ml_err("cannot mount tracefs at /sys/kernel/tracing: %s", strerror(-err));
		return err;
	}
	p->tep = tracefs_local_events_system(NULL, systems);
	if (!p->tep) {
		ml_err("cannot read the kernel's event formats from tracefs");
		return -ENOENT;
	}
	ev = tep_find_event_by_name(p->tep, "ftrace", "kernel_stack");
	p->stack_id = ev ? ev->id : -1;
	p->ncpus = sysconf(_SC_NPROCESSORS_CONF);
	p->pending = xcalloc(p->ncpus, sizeof(*p->pending));
	p->tab = ml_table_new(cfg->max_allocs);
	ml_table_bind(p->tab, &src->tracker);
	src->tracker.kernel = true;
	src->tracker.allocs_fd = src->tracker.stacks_fd = src->tracker.combined_fd = -1;
	src->tracker.counters_fd = src->tracker.events_fd = -1;
	src->tracker.cache_names_fd = -1;

	/*
	 * Two instances: allocations with their stacks, filtered to the
	 * processes we trace (set_event_pid follows their forks), and frees
	 * from any task, since whoever frees a block frees it.
	 */
	p->inst = new_instance(ml_tracefs_system());
	name = xasprintf("%s_free", ml_tracefs_system());
	p->free_inst = new_instance(name);
	free(name);
	if (!p->inst || !p->free_inst) {
		ml_err("cannot create tracefs instance %s: %s", ml_tracefs_system(),
		       strerror(errno));
		return -EIO;
	}
	/* memleak's own reading allocates: never trace it */
	self = xasprintf("%d", getpid());
	tracefs_instance_file_write(p->inst, "set_event_notrace_pid", self);
	free(self);
	if (cfg->pid > 0 || cfg->cgroup) {
		tracefs_option_enable(p->inst, TRACEFS_OPTION_EVENT_FORK);
		if (cfg->pid > 0)
			add_pids(p, cfg->pid);
		/*
		 * A cgroup: the processes in it now; event-fork adds their
		 * children.  (The BPF backend also sees processes moved in later.)
		 */
		if (cfg->cgroup) {
			if (cfg->pid <= 0)
				tracefs_instance_file_write(p->inst, "set_event_pid", "0");
			ml_cgroup_for_each_pid(cfg->cgroup, add_pid, p);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(kevs); i++) {
		kevs[i].id = -1;
		if (kevs[i].percpu && !cfg->percpu)
			continue;
		ev = tep_find_event_by_name(p->tep, kevs[i].system, kevs[i].name);
		if (!ev) {
			ml_note("this kernel has no event %s:%s: not traced",
				kevs[i].system, kevs[i].name);
			continue;
		}
		kevs[i].id = ev->id;
		if (kevs[i].alloc && cfg->call_graph != ML_CG_NONE &&
		    tracefs_event_file_write(p->inst, kevs[i].system, kevs[i].name,
					     "trigger", "stacktrace") < 0)
			ml_warn("no stacktrace trigger on %s: its stacks are lost",
				kevs[i].name);
		enabled++;
	}
	if (!enabled) {
		ml_err("no kernel allocation events to trace");
		return -ENOENT;
	}
	return 0;
}

static int ftrace_attach(struct ml_source *src)
{
	struct ftrace_priv *p = src->priv;

	for (size_t i = 0; i < ARRAY_SIZE(kevs); i++)
		if (kevs[i].id >= 0 &&
		    tracefs_event_enable(kevs[i].alloc ? p->inst : p->free_inst,
					 kevs[i].system, kevs[i].name)) {
			ml_err("cannot enable %s:%s: %s", kevs[i].system, kevs[i].name,
			       strerror(errno));
			return -errno ? -errno : -EINVAL;
		}
	tracefs_trace_on(p->free_inst);
	tracefs_trace_on(p->inst);
	return 0;
}

static uint64_t ftrace_misses(struct ml_source *src)
{
	return 0;
}

static void ftrace_close(struct ml_source *src)
{
	struct ftrace_priv *p = src->priv;

	if (!p)
		return;
	for (int i = 0; i < 2; i++) {
		struct tracefs_instance *inst = i ? p->free_inst : p->inst;

		if (!inst)
			continue;
		tracefs_trace_off(inst);
		if (tracefs_instance_destroy(inst))
			ml_warn("cannot remove tracefs instance %s: %s",
				tracefs_instance_get_name(inst), strerror(errno));
		tracefs_instance_free(inst);
	}
	free(p->ops);
	if (p->tep)
		tep_free(p->tep);
	ml_table_free(p->tab);
	free(p->pending);
	free(p);
	src->priv = NULL;
}

const struct ml_source_ops ml_ftrace_source = {
	.name = "ftrace",
	.open = ftrace_open,
	.attach = ftrace_attach,
	.drain = ftrace_drain,
	.prog_misses = ftrace_misses,
	.close = ftrace_close,
};
