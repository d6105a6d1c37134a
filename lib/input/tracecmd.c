// SPDX-License-Identifier: GPL-2.0
/*
 * trace-cmd recordings (trace.dat) as memleak recordings, read with
 * libtracecmd: the allocations and frees of kmem events (with the kernel
 * stacks of "trace-cmd record -T") or of memleak's uprobe events (systems
 * memleak_PID, with user stacks of "-O userstacktrace"), replayed into
 * outstanding blocks, one snapshot a second, and the stacks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <trace-cmd.h>

#include "input/tracecmd.h"
#include "symbol/maps.h"
#include "util/util.h"

#define NO_STACK	(-61)	/* -ENODATA: the trace has no stack for it */
#define MAX_CPUS	4096

struct slot {
	uint64_t key;		/* 0: empty, 1: deleted */
	struct ml_block b;
};

struct pending {
	uint32_t tid;
	uint32_t func;
	uint64_t size, old;
	bool valid;
};

struct ctx {
	struct tep_handle *tep;
	struct ml_recording *r;
	struct slot *blocks;
	size_t cap, used, live;
	struct pending *pend;
	size_t npend;
	uint64_t last_key[MAX_CPUS];	/* the block the previous event made */
	uint64_t first_ts, last_ts, next_snap;
	bool kernel, user;
	uint64_t events;
	/* stack dedup */
	size_t *stack_slot;
	size_t nstack_slots;
	uint32_t pid;
};

static size_t hash64(uint64_t k, size_t cap)
{
	return (k * 0x9e3779b97f4a7c15ull >> 17) & (cap - 1);
}

static struct slot *find_slot(struct ctx *c, uint64_t key)
{
	size_t i;

	if (!c->cap)
		return NULL;
	for (i = hash64(key, c->cap); c->blocks[i].key; i = (i + 1) & (c->cap - 1))
		if (c->blocks[i].key == key)
			return &c->blocks[i];
	return NULL;
}

static void add_block(struct ctx *c, const struct ml_block *b);

static void grow(struct ctx *c)
{
	struct slot *old = c->blocks;
	size_t ocap = c->cap;

	c->cap = c->cap ? c->cap * 2 : 4096;
	if (c->live * 4 < ocap)
		c->cap = ocap;	/* mostly deleted slots: rehash at the same size */
	c->blocks = xcalloc(c->cap, sizeof(*c->blocks));
	c->used = c->live = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key > 1)
			add_block(c, &old[i].b);
	free(old);
}

static void add_block(struct ctx *c, const struct ml_block *b)
{
	struct slot *s = find_slot(c, b->addr);
	size_t i;

	if (s) {
		c->r->counters[ML_CNT_MISSED_FREE]++;
		s->b = *b;
		return;
	}
	if ((c->used + 1) * 2 > c->cap)
		grow(c);
	for (i = hash64(b->addr, c->cap); c->blocks[i].key > 1; i = (i + 1) & (c->cap - 1))
		;
	if (!c->blocks[i].key)
		c->used++;
	c->blocks[i].key = b->addr;
	c->blocks[i].b = *b;
	c->live++;
}

static void del_block(struct ctx *c, uint64_t addr)
{
	struct slot *s = find_slot(c, addr);

	if (s) {
		s->key = 1;
		c->live--;
	}
}

static int cmp_total(const void *a, const void *b)
{
	const struct ml_rec_total *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static void snapshot(struct ctx *c, uint64_t ts)
{
	struct ml_rec_total *t = xcalloc(c->live + 1, sizeof(*t)), *u;
	size_t n = 0, k = 0;
	struct ml_recording *r = c->r;

	for (size_t i = 0; i < c->cap; i++)
		if (c->blocks[i].key > 1 && !c->blocks[i].b.backing)
			t[n++] = (struct ml_rec_total){ .stack_id = c->blocks[i].b.stack_id,
				.bytes = c->blocks[i].b.size, .count = 1 };
	if (n)
		qsort(t, n, sizeof(*t), cmp_total);
	u = t;
	for (size_t i = 0; i < n; i++) {
		if (k && u[k - 1].stack_id == t[i].stack_id) {
			u[k - 1].bytes += t[i].bytes;
			u[k - 1].count++;
		} else {
			u[k++] = t[i];
		}
	}
	r->snaps = xrealloc(r->snaps, (r->nsnaps + 1) * sizeof(*r->snaps));
	r->snaps[r->nsnaps++] = (struct ml_rec_snapshot){ .time_ns = ts, .n = k, .v = u };
}

static int32_t add_stack(struct ctx *c, const uint64_t *ips, int depth, int kind)
{
	struct ml_recording *r = c->r;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (int k = 0; k < depth; k++)
		h = (h ^ ips[k]) * 1099511628211ull;
	if ((r->nstacks + 1) * 2 > c->nstack_slots) {
		c->nstack_slots = c->nstack_slots ? c->nstack_slots * 2 : 1024;
		free(c->stack_slot);
		c->stack_slot = xcalloc(c->nstack_slots, sizeof(size_t));
		for (size_t s = 0; s < r->nstacks; s++) {
			uint64_t g = 1469598103934665603ull;

			for (int k = 0; k < r->stacks[s].depth; k++)
				g = (g ^ r->stacks[s].ips[k]) * 1099511628211ull;
			for (i = hash64(g, c->nstack_slots); c->stack_slot[i];
			     i = (i + 1) & (c->nstack_slots - 1))
				;
			c->stack_slot[i] = s + 1;
		}
	}
	for (i = hash64(h, c->nstack_slots); c->stack_slot[i];
	     i = (i + 1) & (c->nstack_slots - 1)) {
		struct ml_rec_stack *s = &r->stacks[c->stack_slot[i] - 1];

		if (s->depth == depth && s->kind == kind &&
		    !memcmp(s->ips, ips, depth * sizeof(uint64_t)))
			return s->id;
	}
	r->stacks = xrealloc(r->stacks, (r->nstacks + 1) * sizeof(*r->stacks));
	r->stacks[r->nstacks] = (struct ml_rec_stack){
		.id = r->nstacks, .kind = kind, .depth = depth,
		.ips = xmalloc(depth * sizeof(uint64_t) + 1),
	};
	memcpy(r->stacks[r->nstacks].ips, ips, depth * sizeof(uint64_t));
	c->stack_slot[i] = ++r->nstacks;
	return r->nstacks - 1;
}

static uint64_t field(struct ctx *c, struct tep_event *ev, struct tep_record *rec,
		      const char *name, bool *ok)
{
	unsigned long long v = 0;

	if (tep_get_field_val(NULL, ev, name, rec, &v, 0)) {
		if (ok)
			*ok = false;
		return 0;
	}
	return v;
}

/* A kernel_stack or user_stack event: the stack of the previous event on @cpu. */
static void on_stack(struct ctx *c, struct tep_event *ev, struct tep_record *rec,
		     int cpu, int kind)
{
	uint64_t ips[ML_MAX_STACK_DEPTH];
	struct slot *s;
	int len = 0, depth = 0;
	const uint8_t *raw = tep_get_field_raw(NULL, ev, "caller", rec, &len, 0);

	if (cpu < 0 || cpu >= MAX_CPUS || !c->last_key[cpu] || !raw)
		return;
	s = find_slot(c, c->last_key[cpu]);
	/* a uprobe event may be followed by a kernel stack too: not its stack */
	if (!s || (s->b.kind == ML_KIND_USER) != (kind == ML_STACK_USER))
		return;
	c->last_key[cpu] = 0;
	(void)ev;
	for (int i = 0; i < len / 8 && depth < ML_MAX_STACK_DEPTH; i++) {
		uint64_t ip;

		memcpy(&ip, raw + 8 * i, 8);	/* the ring buffer packs at 4 bytes */
		if (!ip || ip == ~0ULL)
			break;
		ips[depth++] = ip;
	}
	if (depth)
		s->b.stack_id = add_stack(c, ips, depth, kind);
}

static struct pending *pending_of(struct ctx *c, uint32_t tid)
{
	for (size_t i = 0; i < c->npend; i++)
		if (c->pend[i].tid == tid)
			return &c->pend[i];
	c->pend = xrealloc(c->pend, (c->npend + 1) * sizeof(*c->pend));
	c->pend[c->npend] = (struct pending){ .tid = tid };
	return &c->pend[c->npend++];
}

static const char *const ufuncs[] = {
	"malloc", "calloc", "realloc", "reallocarray", "aligned_alloc", "memalign",
	"valloc", "pvalloc", "mmap",
};

static int on_record(struct tracecmd_input *h, struct tep_record *rec, int cpu,
		     void *data)
{
	struct ctx *c = data;
	struct tep_event *ev = tep_find_event_by_record(c->tep, rec);
	uint32_t pid = tep_data_pid(c->tep, rec);
	struct ml_block b = { .timestamp_ns = rec->ts, .pid = pid, .stack_id = NO_STACK };
	bool ok = true;

	if (!ev)
		return 0;
	if (!c->first_ts) {
		c->first_ts = rec->ts;
		c->next_snap = rec->ts;
	}
	c->last_ts = rec->ts;
	while (rec->ts >= c->next_snap && (c->kernel || c->user)) {
		snapshot(c, c->next_snap);
		c->next_snap += 1000000000ull;
	}
	if (!strcmp(ev->system, "ftrace")) {
		if (!strcmp(ev->name, "kernel_stack"))
			on_stack(c, ev, rec, cpu, ML_STACK_KERNEL);
		else if (!strcmp(ev->name, "user_stack"))
			on_stack(c, ev, rec, cpu, ML_STACK_USER);
		return 0;
	}
	if (cpu >= 0 && cpu < MAX_CPUS)
		c->last_key[cpu] = 0;
	if (!strcmp(ev->system, "kmem")) {
		const char *n = ev->name;

		if (!strcmp(n, "kmalloc") || !strcmp(n, "kmem_cache_alloc") ||
		    !strcmp(n, "kmalloc_node") || !strcmp(n, "kmem_cache_alloc_node")) {
			b.addr = field(c, ev, rec, "ptr", &ok);
			b.size = field(c, ev, rec, "bytes_alloc", &ok);
			b.bytes_req = field(c, ev, rec, "bytes_req", NULL);
			b.call_site = field(c, ev, rec, "call_site", NULL);
			b.gfp = field(c, ev, rec, "gfp_flags", NULL);
			b.kind = n[1] == 'm' && n[5] == 'c' ? ML_KIND_CACHE : ML_KIND_KMALLOC;
			if (!strncmp(n, "kmem_cache", 10))
				b.kind = ML_KIND_CACHE;
		} else if (!strcmp(n, "mm_page_alloc")) {
			uint64_t pfn = field(c, ev, rec, "pfn", &ok);

			b.order = field(c, ev, rec, "order", &ok);
			b.addr = ML_KEY_PAGE(pfn);
			b.size = 4096ull << b.order;
			b.gfp = field(c, ev, rec, "gfp_flags", NULL);
			b.kind = ML_KIND_PAGE;
		} else if (!strcmp(n, "kfree") || !strcmp(n, "kmem_cache_free")) {
			del_block(c, field(c, ev, rec, "ptr", NULL));
			return 0;
		} else if (!strcmp(n, "mm_page_free")) {
			del_block(c, ML_KEY_PAGE(field(c, ev, rec, "pfn", NULL)));
			return 0;
		} else {
			return 0;
		}
		if (!ok || !b.addr)
			return 0;
		c->kernel = true;
		c->events++;
		/* the call site stands for the stack until a kernel_stack event */
		if (b.call_site)
			b.stack_id = add_stack(c, &b.call_site, 1, ML_STACK_KERNEL);
		add_block(c, &b);
		if (cpu >= 0 && cpu < MAX_CPUS)
			c->last_key[cpu] = b.addr;
		return 0;
	}
	if (!strncmp(ev->system, "memleak_", 8)) {
		const char *n = ev->name;
		size_t len = strlen(n);
		bool ret = len > 8 && !strcmp(n + len - 8, "__return");
		struct pending *p = pending_of(c, pid);

		c->user = true;
		c->events++;
		if (!strcmp(n, "free")) {
			del_block(c, field(c, ev, rec, "ptr", NULL));
			return 0;
		}
		if (!strcmp(n, "munmap")) {
			del_block(c, field(c, ev, rec, "addr", NULL));
			return 0;
		}
		if (!ret) {
			for (size_t i = 0; i < ARRAY_SIZE(ufuncs); i++) {
				if (strcmp(n, ufuncs[i]))
					continue;
				p->valid = true;
				p->func = i;
				p->old = 0;
				if (!strcmp(n, "calloc") || !strcmp(n, "reallocarray"))
					p->size = field(c, ev, rec, "nmemb", NULL) *
						  field(c, ev, rec, "size", NULL);
				else if (!strcmp(n, "mmap"))
					p->size = field(c, ev, rec, "len", NULL);
				else
					p->size = field(c, ev, rec, "size", NULL);
				if (!strncmp(n, "realloc", 7))
					p->old = field(c, ev, rec, "ptr", NULL);
			}
			return 0;
		}
		if (!p->valid)
			return 0;
		p->valid = false;
		b.addr = field(c, ev, rec, "ret", NULL);
		if (!strcmp(n, "mmap__return") && b.addr == ~0ULL)
			return 0;
		if (p->old && (b.addr || !p->size))
			del_block(c, p->old);
		if (!b.addr)
			return 0;
		b.size = p->size;
		add_block(c, &b);
		if (cpu >= 0 && cpu < MAX_CPUS)
			c->last_key[cpu] = b.addr;
	}
	return 0;
}

/* The process with the most outstanding bytes: whose mappings to read. */
static uint32_t main_pid(struct ctx *c, const char *comm)
{
	struct { uint32_t pid; uint64_t bytes; } *v = NULL;
	size_t n = 0, best = 0;

	for (size_t i = 0; i < c->cap; i++) {
		const struct ml_block *b = &c->blocks[i].b;
		size_t k;

		if (c->blocks[i].key <= 1 || b->kind != ML_KIND_USER)
			continue;
		if (comm && strcmp(comm, tep_data_comm_from_pid(c->tep, b->pid) ?: ""))
			continue;
		for (k = 0; k < n && v[k].pid != b->pid; k++)
			;
		if (k == n) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].pid = b->pid;
			v[n++].bytes = 0;
		}
		v[k].bytes += b->size;
	}
	for (size_t k = 1; k < n; k++)
		if (v[k].bytes > v[best].bytes)
			best = k;
	best = n ? v[best].pid : c->pid;
	free(v);
	return best;
}

static void meta(struct ml_recording *r, const char *k, const char *v)
{
	r->meta_keys = xrealloc(r->meta_keys, (r->nmeta + 1) * sizeof(char *));
	r->meta_values = xrealloc(r->meta_values, (r->nmeta + 1) * sizeof(char *));
	r->meta_keys[r->nmeta] = xstrdup(k);
	r->meta_values[r->nmeta++] = xstrdup(v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Kernel symbols of the addresses in the stacks, from the trace's kallsyms. */
static void kernel_symbols(struct ctx *c)
{
	struct ml_recording *r = c->r;
	uint64_t *starts = NULL;
	size_t n = 0;

	for (size_t s = 0; s < r->nstacks; s++) {
		if (r->stacks[s].kind != ML_STACK_KERNEL)
			continue;
		starts = xrealloc(starts, (n + r->stacks[s].depth) * sizeof(uint64_t));
		for (int k = 0; k < r->stacks[s].depth; k++) {
			uint64_t a = tep_find_function_address(c->tep, r->stacks[s].ips[k]);

			if (a && tep_find_function(c->tep, r->stacks[s].ips[k]))
				starts[n++] = a;
		}
	}
	if (n)
		qsort(starts, n, sizeof(uint64_t), cmp_u64);
	r->ksyms = xcalloc(n + 1, sizeof(*r->ksyms));
	for (size_t i = 0; i < n; i++) {
		if (i && starts[i] == starts[i - 1])
			continue;
		r->ksyms[r->nksyms].addr = starts[i];
		r->ksyms[r->nksyms++].name = xstrdup(tep_find_function(c->tep, starts[i]));
	}
	free(starts);
}

/* The traced process's mappings, if it is still running (the trace has none). */
static void user_maps(struct ctx *c)
{
	struct ml_recording *r = c->r;
	struct ml_maps *maps;

	if (!c->pid || !ml_pid_alive(c->pid)) {
		ml_warn("trace.dat: process %u is gone: its mappings are unknown, user "
			"frames stay addresses", c->pid);
		return;
	}
	maps = ml_maps_new(c->pid);
	if (!ml_maps_refresh(maps)) {
		size_t n = ml_maps_count(maps);

		r->maps = xcalloc(n + 1, sizeof(*r->maps));
		for (size_t i = 0; i < n; i++) {
			const struct ml_mapping *m = ml_maps_get(maps, i);
			struct ml_rec_mapping *rm = &r->maps[r->nmaps];
			char *proc;

			if (!m->path || m->path[0] != '/')
				continue;
			rm->m = *m;
			rm->m.path = xstrdup(m->path);
			proc = xasprintf("/proc/%u/root%s", c->pid, m->path);
			rm->build_id_len = ml_read_build_id(proc, rm->build_id, ML_BUILD_ID_MAX);
			free(proc);
			r->nmaps++;
		}
	}
	ml_maps_free(maps);
}

int ml_tracecmd_read(const char *path, struct ml_recording *r, char *err,
		     size_t errlen, int want_pid, const char *want_comm)
{
	struct tracecmd_input *h;
	struct ctx *c;
	char buf[64];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	tracecmd_set_loglevel(TEP_LOG_CRITICAL);
	h = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	if (!h) {
		snprintf(err, errlen, "cannot read this trace-cmd file");
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->tep = tracecmd_get_tep(h);
	c->r = r;
	tracecmd_iterate_events(h, NULL, 0, on_record, c);
	if (!c->kernel && !c->user) {
		snprintf(err, errlen, "no kmem or memleak_* allocation events in this trace "
			 "(record them with: trace-cmd record -e kmem:kmalloc -e kmem:kfree -T, "
			 "or -e 'memleak_PID_trace' -O userstacktrace while memleak runs)");
		tracecmd_close(h);
		free(c);
		return -1;
	}
	snapshot(c, c->last_ts);
	if (c->user)
		c->pid = want_pid > 0 ? (uint32_t)want_pid : main_pid(c, want_comm);
	r->version = ML_DATA_VERSION;
	r->kernel = c->kernel && !c->user;
	r->pid = c->user ? c->pid : 0;
	r->start_mono_ns = c->first_ts;
	r->end_mono_ns = c->last_ts;
	r->blocks = xcalloc(c->live + 1, sizeof(*r->blocks));
	for (size_t i = 0; i < c->cap; i++)
		if (c->blocks[i].key > 1)
			r->blocks[n++] = c->blocks[i].b;
	r->nblocks = n;
	r->have_blocks = true;
	r->finished = true;
	meta(r, "memleak_version", "trace-cmd");
	meta(r, "cmdline", "trace-cmd record");
	meta(r, "host", "?");
	if (c->user) {
		snprintf(buf, sizeof(buf), "%u", c->pid);
		meta(r, "pid", buf);
		meta(r, "comm", tep_data_comm_from_pid(c->tep, c->pid) ?: "?");
	}
	r->comm = ml_recording_meta(r, "comm");
	r->cmdline = ml_recording_meta(r, "cmdline");
	/* comms of every pid with a block */
	for (size_t i = 0; i < r->nblocks; i++) {
		uint32_t pid = r->blocks[i].pid;
		const char *cm = tep_data_comm_from_pid(c->tep, pid);
		bool seen = false;

		for (size_t k = 0; k < r->ncomms && !seen; k++)
			seen = r->comms[k].pid == pid;
		if (seen || !cm)
			continue;
		r->comms = xrealloc(r->comms, (r->ncomms + 1) * sizeof(*r->comms));
		r->comms[r->ncomms].pid = pid;
		snprintf(r->comms[r->ncomms++].comm, ML_COMM_LEN + 1, "%s", cm);
	}
	if (c->kernel)
		kernel_symbols(c);
	if (c->user)
		user_maps(c);
	tracecmd_close(h);
	free(c->blocks);
	free(c->pend);
	free(c->stack_slot);
	free(c);
	return 0;
}
