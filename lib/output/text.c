// SPDX-License-Identifier: GPL-2.0
/* The report as bcc's memleak prints it: stacks with outstanding bytes. */
#include <string.h>

#include "output/text.h"
#include "output/gfp.h"
#include "analysis/kernel.h"
#include "symbol/symbolize.h"
#include "util/util.h"

#define MAX_INLINE 16

/*
 * The frames a kernel stack starts with that are the tracing machinery
 * (our BPF program, the tracepoint glue), not the allocation.
 */
int ml_tracing_frames(const uint64_t *ips, int depth, struct ml_symbolizer *sym)
{
	static const char *const glue[] = {
		"bpf_trace_run", "__bpf_trace_", "__traceiter_", "trace_call_bpf",
		"perf_trace_", "bpf_prog_", "__bpf_prog_enter", "bpf_trampoline_",
		"trace_event_raw_event_", "event_triggers_call", "trace_event_buffer_commit",
		"__trace_stack", "__ftrace_trace_stack", "stacktrace_trigger",
	};
	int skip = 0;

	for (int i = 0; i < depth && sym; i++) {
		struct ml_frame f;

		if (ips[i] < ML_KERNEL_START ||
		    ml_symbolize(sym, ips[i], true, &f, 1) < 1 || !f.func)
			break;
		for (size_t g = 0; g < ARRAY_SIZE(glue); g++)
			if (!strncmp(f.func, glue[g], strlen(glue[g])) ||
			    (f.module && !strcmp(f.module, "bpf")))
				skip = i + 1;
	}
	return skip;
}

static void print_frame(FILE *out, const char *indent, uint64_t ip,
			struct ml_symbolizer *sym)
{
	struct ml_frame f[MAX_INLINE];
	int n = sym ? ml_symbolize(sym, ip, true, f, MAX_INLINE) : 0;

	if (n <= 0) {
		fprintf(out, "%s0x%llx [unknown]\n", indent, (unsigned long long)ip);
		return;
	}
	for (int i = 0; i < n; i++) {
		fputs(indent, out);
		if (!f[i].func)
			fprintf(out, "0x%llx", (unsigned long long)ip);
		else if (f[i].inlined)
			fputs(f[i].func, out);
		else
			fprintf(out, "%s+0x%llx", f[i].func,
				(unsigned long long)f[i].offset);
		fprintf(out, " [%s]", f[i].module ? f[i].module : "unknown");
		if (f[i].file && f[i].line)
			fprintf(out, " %s:%d", f[i].file, f[i].line);
		if (f[i].inlined)
			fputs(" (inlined)", out);
		fputc('\n', out);
	}
}

void ml_text_stack(FILE *out, const char *indent, int32_t stack_id,
		   const struct ml_tracker *t, struct ml_symbolizer *sym)
{
	uint64_t ips[ML_MAX_STACK_DEPTH];
	int depth;

	if (stack_id == ML_STACK_NONE) {
		fprintf(out, "%s[no stack collected: --call-graph none, or --grow-stacks "
			"before its call site grew]\n", indent);
		return;
	}
	if (stack_id < 0) {
		fprintf(out, "%s[stack lost: %s]\n", indent,
			stack_id == -17 ? "hash collision in the stack map" :
			stack_id == -12 ? "stack map full" : strerror(-stack_id));
		return;
	}
	depth = ml_tracker_stack(t, stack_id, ips, ML_MAX_STACK_DEPTH);
	if (!depth)
		fprintf(out, "%s[stack %d missing from the stack map]\n", indent,
			stack_id);
	for (int i = t->kernel ? ml_tracing_frames(ips, depth, sym) : 0; i < depth; i++) {
		if (ips[i] == ML_FRAME_TRUNCATED) {
			fprintf(out, "%s[truncated]\n", indent);
			continue;
		}
		print_frame(out, indent, ips[i], sym);
	}
}

void ml_text_stacks(FILE *out, const struct ml_report *r,
		    const struct ml_text_opts *o, const struct ml_tracker *t,
		    struct ml_symbolizer *sym)
{
	size_t n = r->ngroups;

	if (o->top > 0 && (size_t)o->top < n)
		n = o->top;
	for (size_t i = 0; i < n; i++) {
		const struct ml_group *g = &r->groups[i];

		for (size_t b = 0; o->show_allocs && b < g->nblocks; b++) {
			const struct ml_block *blk = &g->blocks[b];
			uint64_t age = o->now_ns > blk->timestamp_ns ?
				       o->now_ns - blk->timestamp_ns : 0;

			fprintf(out, "\taddr = %llx size = %llu age = %.3fs\n",
				(unsigned long long)blk->addr,
				(unsigned long long)blk->size, age / 1e9);
		}
		fprintf(out, "\t%llu bytes in %llu allocations from stack\n",
			(unsigned long long)g->bytes, (unsigned long long)g->count);
		ml_text_stack(out, "\t\t", g->stack_id, t, sym);
	}
}

void ml_text_losses(FILE *out, const uint64_t c[], uint64_t prog_misses)
{
	static const char *const what[ML_CNT_MAX] = {
		[ML_CNT_STACK_LOST] = "stack traces not stored (stack map full or hash collision; raise --stack-map-size): their blocks are counted under [stack lost]",
		[ML_CNT_ALLOCS_FULL] = "allocations not tracked (allocation map full; raise --max-allocs)",
		[ML_CNT_PENDING_FULL] = "allocator calls not tracked (pending-call map full)",
		[ML_CNT_COMBINED_FULL] = "per-stack totals not kept (totals map full)",
		[ML_CNT_RINGBUF_DROP] = "trace events dropped (ring buffer full)",
		[ML_CNT_MISSED_FREE] = "addresses allocated again while outstanding (frees missed; the old block was dropped)",
		[ML_CNT_STACK_TRUNCATED] = "user stacks not unwound to their end (no unwind table, unreadable stack, or too deep): shown ending in [truncated]",
		[ML_CNT_SAMPLES_UNTRACKED] = "sampled blocks not tracked (the preload library's set of sampled blocks was full): estimates are low by their weight",
	};

	for (int i = 0; i < ML_CNT_MAX; i++)
		if (c[i])
			fprintf(out, "\tlost: %llu %s\n", (unsigned long long)c[i],
				what[i]);
	if (prog_misses)
		fprintf(out, "\tlost: %llu probe hits missed by BPF (recursion)\n",
			(unsigned long long)prog_misses);
}

static void group_name(const struct ml_group *g, int group,
		       const struct ml_tracker *t, struct ml_symbolizer *sym,
		       char *buf, size_t len)
{
	struct ml_frame f;

	switch (group) {
	case ML_GROUP_CALLSITE:
		if (!g->key) {
			snprintf(buf, len, "[unknown call site]");
		} else if (sym && ml_symbolize(sym, g->key, true, &f, 1) == 1 && f.func) {
			snprintf(buf, len, "%s+0x%llx [%s]", f.func,
				 (unsigned long long)f.offset, f.module ? f.module : "kernel");
		} else {
			snprintf(buf, len, "0x%llx", (unsigned long long)g->key);
		}
		break;
	case ML_GROUP_CACHE:
		if (ML_CACHE_IS_KMALLOC(g->key))
			snprintf(buf, len, "kmalloc-%llu",
				 (unsigned long long)(g->key & ((1ULL << 40) - 1)));
		else if (g->key < 256)
			snprintf(buf, len, "(%s)", ml_kind_name(g->key));
		else if (ml_tracker_cache_name(t, g->key, buf, len))
			snprintf(buf, len, "cache 0x%llx", (unsigned long long)g->key);
		break;
	case ML_GROUP_GFP:
		ml_gfp_name(g->key, buf, len);
		break;
	case ML_GROUP_ORDER:
		snprintf(buf, len, "order %llu (%llu KiB)", (unsigned long long)g->key,
			 4ULL << g->key);
		break;
	default:
		snprintf(buf, len, "stack %d", g->stack_id);
	}
}

void ml_text_groups(FILE *out, const struct ml_report *r, int group,
		    const struct ml_text_opts *o, const struct ml_tracker *t,
		    struct ml_symbolizer *sym)
{
	size_t n = r->ngroups;
	char name[512];

	if (o->top > 0 && (size_t)o->top < n)
		n = o->top;
	fprintf(out, "\t%12s %12s %6s %9s  %s\n", "BYTES", "REQUESTED", "WASTE",
		"COUNT", group == ML_GROUP_CALLSITE ? "CALL SITE" :
		group == ML_GROUP_CACHE ? "CACHE" :
		group == ML_GROUP_GFP ? "GFP FLAGS" : "PAGE ORDER");
	for (size_t i = 0; i < n; i++) {
		const struct ml_group *g = &r->groups[i];
		double waste = g->bytes ? 100.0 * (g->bytes - g->bytes_req) / g->bytes : 0;

		group_name(g, group, t, sym, name, sizeof(name));
		fprintf(out, "\t%12llu %12llu %5.1f%% %9llu  %s\n",
			(unsigned long long)g->bytes, (unsigned long long)g->bytes_req,
			waste, (unsigned long long)g->count, name);
	}
}

void ml_text_kernel_totals(FILE *out, const struct ml_report *r)
{
	bool any = false;

	fprintf(out, "\ttotal:");
	for (int k = ML_KIND_KMALLOC; k < ML_KIND_MAX; k++) {
		if (!r->kind_count[k])
			continue;
		fprintf(out, "%s %s %llu bytes in %llu", any ? "," : "", ml_kind_name(k),
			(unsigned long long)r->kind_bytes[k],
			(unsigned long long)r->kind_count[k]);
		any = true;
	}
	fprintf(out, "%s\n", any ? "" : " nothing outstanding");
	any = false;
	for (int b = 1; b < ML_BACKING_MAX; b++) {
		if (!r->backing_count[b])
			continue;
		fprintf(out, "%s %s %llu bytes in %llu", any ? "," : "\tnot counted above, pages backing:",
			ml_backing_name(b), (unsigned long long)r->backing_bytes[b],
			(unsigned long long)r->backing_count[b]);
		any = true;
	}
	if (any)
		fputc('\n', out);
}
