// SPDX-License-Identifier: GPL-2.0
/*
 * plugin_memleak.so: a libtraceevent plugin that makes trace-cmd report
 * (and perf) print memleak's uprobe events (systems memleak_PID) and the
 * kmem events readably:
 *
 *	malloc(48)
 *	malloc(48) = 0x5566d4a2b2a0
 *	free(0x5566d4a2b2a0)
 *	kmalloc(64) = 0xffff8881052c4a40 [kmalloc-64] gfp=0xcc0 from alloc_pipe_info+0x1b
 *
 * The return events name their call with its arguments, remembered per
 * thread from the entry event.  Load it from its directory with
 * TRACEEVENT_PLUGIN_DIR=DIR, or install it (make install).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event-parse.h>
#include <trace-seq.h>

#define PENDING 256

struct pending {
	int tid;
	char call[96];
};

static struct pending pending[PENDING];

static struct pending *slot(int tid)
{
	return &pending[(unsigned int)tid % PENDING];
}

static unsigned long long val(struct tep_event *ev, struct tep_record *rec,
			      const char *name, int *ok)
{
	unsigned long long v = 0;

	if (tep_get_field_val(NULL, ev, name, rec, &v, 0) && ok)
		*ok = 0;
	return v;
}

static int has(struct tep_event *ev, const char *name)
{
	return tep_find_field(ev, name) != NULL;
}

/* "malloc(48)", "calloc(10, 32)", "free(0x...)" from the event's arguments. */
static void format_call(struct tep_event *ev, struct tep_record *rec, char *buf,
			size_t len)
{
	static const char *const args[] = {
		"ptr", "old", "memptr", "addr", "nmemb", "align", "size", "len",
		"old_size", "new_size", "prot", "flags",
	};
	static const char *const hex[] = { "ptr", "old", "memptr", "addr", "prot", "flags" };
	size_t n = snprintf(buf, len, "%s(", ev->name);
	int first = 1;

	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]) && n < len; i++) {
		int is_hex = 0;

		if (!has(ev, args[i]))
			continue;
		for (size_t k = 0; k < sizeof(hex) / sizeof(hex[0]); k++)
			is_hex |= !strcmp(hex[k], args[i]);
		n += snprintf(buf + n, len - n, is_hex ? "%s0x%llx" : "%s%llu",
			      first ? "" : ", ", val(ev, rec, args[i], NULL));
		first = 0;
	}
	if (n < len)
		snprintf(buf + n, len - n, ")");
}

static int memleak_handler(struct trace_seq *s, struct tep_record *rec,
			   struct tep_event *ev, void *context)
{
	int tid = tep_data_pid(ev->tep, rec);
	size_t len = strlen(ev->name);
	char call[96];

	if (strncmp(ev->system, "memleak_", 8)) {
		/* an event of the same name in another system */
		tep_print_fields(s, rec->data, rec->size, ev);
		return 0;
	}

	if (len > 8 && !strcmp(ev->name + len - 8, "__return")) {
		struct pending *p = slot(tid);
		unsigned long long ret = val(ev, rec, "ret", NULL);

		if (p->tid == tid && p->call[0] &&
		    !strncmp(p->call, ev->name, len - 8) && p->call[len - 8] == '(')
			trace_seq_printf(s, "%s = ", p->call);
		else
			trace_seq_printf(s, "%.*s(...) = ", (int)(len - 8), ev->name);
		if (!strncmp(ev->name, "posix_memalign", 14))
			trace_seq_printf(s, "%lld", (long long)(int)ret);
		else
			trace_seq_printf(s, "0x%llx", ret);
		p->call[0] = 0;
		return 0;
	}
	format_call(ev, rec, call, sizeof(call));
	trace_seq_printf(s, "%s", call);
	if (strcmp(ev->name, "free") && strcmp(ev->name, "munmap")) {
		struct pending *p = slot(tid);

		p->tid = tid;
		snprintf(p->call, sizeof(p->call), "%s", call);
	}
	return 0;
}

static void call_site(struct trace_seq *s, struct tep_event *ev, struct tep_record *rec)
{
	unsigned long long cs = val(ev, rec, "call_site", NULL);
	const char *fn = cs ? tep_find_function(ev->tep, cs) : NULL;

	if (fn)
		trace_seq_printf(s, " from %s+0x%llx", fn,
				 cs - tep_find_function_address(ev->tep, cs));
	else if (cs)
		trace_seq_printf(s, " from 0x%llx", cs);
}

static int kmem_alloc_handler(struct trace_seq *s, struct tep_record *rec,
			      struct tep_event *ev, void *context)
{
	unsigned long long req = val(ev, rec, "bytes_req", NULL);
	unsigned long long alloc = val(ev, rec, "bytes_alloc", NULL);

	trace_seq_printf(s, "%s(%llu) = 0x%llx", ev->name, req, val(ev, rec, "ptr", NULL));
	if (alloc != req)
		trace_seq_printf(s, " (%llu allocated)", alloc);
	trace_seq_printf(s, " gfp=0x%llx", val(ev, rec, "gfp_flags", NULL));
	call_site(s, ev, rec);
	return 0;
}

static int kmem_free_handler(struct trace_seq *s, struct tep_record *rec,
			     struct tep_event *ev, void *context)
{
	trace_seq_printf(s, "%s(0x%llx)", ev->name, val(ev, rec, "ptr", NULL));
	call_site(s, ev, rec);
	return 0;
}

static const char *const kmem_alloc[] = { "kmalloc", "kmem_cache_alloc", "kmalloc_node",
					   "kmem_cache_alloc_node" };
static const char *const kmem_free[] = { "kfree", "kmem_cache_free" };

/* memleak's events (see lib/source/uprobe.c), each also as NAME__return */
static const char *const memleak_events[] = {
	"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "mmap", "munmap", "mremap",
	"pthread_create",
};

int TEP_PLUGIN_LOADER(struct tep_handle *tep)
{
	struct tep_event **evs = tep_list_events(tep, TEP_EVENT_SORT_ID);
	int found = 0;

	for (int i = 0; evs && evs[i]; i++)
		if (!strncmp(evs[i]->system, "memleak_", 8)) {
			tep_register_event_handler(tep, -1, evs[i]->system, evs[i]->name,
						   memleak_handler, NULL);
			found = 1;
		}
	/*
	 * Loaded before the events are read (trace-cmd): the system is
	 * memleak_PID, unknown yet, so match the event names in any system.
	 */
	for (size_t i = 0; !found && i < sizeof(memleak_events) / sizeof(memleak_events[0]); i++) {
		char ret[64];

		snprintf(ret, sizeof(ret), "%s__return", memleak_events[i]);
		tep_register_event_handler(tep, -1, NULL, memleak_events[i],
					   memleak_handler, NULL);
		tep_register_event_handler(tep, -1, NULL, ret, memleak_handler, NULL);
	}
	for (size_t i = 0; i < sizeof(kmem_alloc) / sizeof(kmem_alloc[0]); i++)
		tep_register_event_handler(tep, -1, "kmem", kmem_alloc[i],
					   kmem_alloc_handler, NULL);
	for (size_t i = 0; i < sizeof(kmem_free) / sizeof(kmem_free[0]); i++)
		tep_register_event_handler(tep, -1, "kmem", kmem_free[i],
					   kmem_free_handler, NULL);
	return 0;
}

void TEP_PLUGIN_UNLOADER(struct tep_handle *tep)
{
	struct tep_event **evs = tep_list_events(tep, TEP_EVENT_SORT_ID);

	for (int i = 0; evs && evs[i]; i++)
		if (!strncmp(evs[i]->system, "memleak_", 8))
			tep_unregister_event_handler(tep, -1, evs[i]->system, evs[i]->name,
						     memleak_handler, NULL);
	for (size_t i = 0; i < sizeof(memleak_events) / sizeof(memleak_events[0]); i++) {
		char ret[64];

		snprintf(ret, sizeof(ret), "%s__return", memleak_events[i]);
		tep_unregister_event_handler(tep, -1, NULL, memleak_events[i],
					     memleak_handler, NULL);
		tep_unregister_event_handler(tep, -1, NULL, ret, memleak_handler, NULL);
	}
	for (size_t i = 0; i < sizeof(kmem_alloc) / sizeof(kmem_alloc[0]); i++)
		tep_unregister_event_handler(tep, -1, "kmem", kmem_alloc[i],
					     kmem_alloc_handler, NULL);
	for (size_t i = 0; i < sizeof(kmem_free) / sizeof(kmem_free[0]); i++)
		tep_unregister_event_handler(tep, -1, "kmem", kmem_free[i],
					     kmem_free_handler, NULL);
}
