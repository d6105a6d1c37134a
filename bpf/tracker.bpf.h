/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel tracker: outstanding blocks, their stacks, per-stack totals
 * and loss counters.  Every event source (libc uprobes now; kernel
 * allocators and the preload batch source later) includes this file and
 * calls track_alloc() / track_free(), so user space reads one set of maps
 * whatever produced the events.
 */
#ifndef MEMLEAK_TRACKER_BPF_H
#define MEMLEAK_TRACKER_BPF_H

#include "memleak.h"

/* Set by user space before load. */
const volatile __u32 targ_tgid = 0;		/* 0: every process */
const volatile __u64 min_size = 0;
const volatile __u64 max_size = (__u64)-1;
const volatile __u32 sample_rate = 1;
const volatile bool trace_events = false;
const volatile __u64 stack_flags = 0;
const volatile bool collect_stacks = true;	/* false: --call-graph none */
const volatile bool keep_combined = true;	/* per-stack totals (--combined-only) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct ml_alloc_info);
	__uint(max_entries, 1 << 20);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, ML_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 1 << 14);
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __s64);
	__type(value, struct ml_combined);
	__uint(max_entries, 1 << 15);
} combined SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ML_CNT_MAX);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

__u64 sample_seq = 0;

/* The thread a -t event is of; a source that knows better defines it first. */
#ifndef ML_EVENT_TID
#define ML_EVENT_TID(pid_tgid)	((__u32)(pid_tgid))
#endif

static __always_inline void count_n(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += n;
}

static __always_inline void count(__u32 which)
{
	count_n(which, 1);
}

#include "unwind.bpf.h"

/*
 * The one place where a stack is captured.  User stacks are unwound with
 * the DWARF unwinder (bpf/unwind.bpf.h) when user space set dwarf_unwind
 * (--call-graph dwarf, the default), otherwise walked by the kernel along
 * frame pointers: user stacks then stored as unwound ones are
 * (fp_user_stacks), kernel stacks in stack_traces.
 */
static __always_inline __s32 capture_stack(void *ctx)
{
	long id;

	if (!collect_stacks)
		return ML_STACK_NONE;
	if (dwarf_unwind && (stack_flags & BPF_F_USER_STACK))
		return ml_unwind_user_stack(ctx);
	if (fp_user_stacks && (stack_flags & BPF_F_USER_STACK))
		return ml_fp_user_stack(ctx);
	id = bpf_get_stackid(ctx, &stack_traces, stack_flags);

	if (id < 0)
		count(ML_CNT_STACK_LOST);
	return id;
}

static __always_inline void combined_add(__s32 stack_id, __s64 size, __s64 n)
{
	__s64 key = stack_id;
	struct ml_combined *c, zero = {};

	if (!keep_combined)
		return;
	c = bpf_map_lookup_elem(&combined, &key);
	if (!c) {
		if (n < 0)
			return;
		bpf_map_update_elem(&combined, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&combined, &key);
		if (!c) {
			count(ML_CNT_COMBINED_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&c->total_size, size);
	__sync_fetch_and_add(&c->nr_allocs, n);
}

/*
 * Per-stack totals of a batch of events (the preload source), added to
 * combined once per stack when the batch is done instead of once per
 * event: an allocation and a free of one stack in the same batch cost
 * nothing there.  A stack that finds no slot is added at once.
 */
#define ML_COMBINED_BATCH	16	/* slots, a power of 2 */
#define ML_COMBINED_PROBES	4

struct ml_combined_batch {
	__s64 stack_id[ML_COMBINED_BATCH];
	__s64 size[ML_COMBINED_BATCH];
	__s64 n[ML_COMBINED_BATCH];
	__u32 used;			/* a bit per slot */
};

/* combined_add(), or gathered in @cb (if not NULL) for combined_flush(). */
static __always_inline void combined_add_to(struct ml_combined_batch *cb,
					    __s32 stack_id, __s64 size, __s64 n)
{
	__u32 k = (__u32)stack_id;

	if (!cb || !keep_combined) {
		combined_add(stack_id, size, n);
		return;
	}
	for (int i = 0; i < ML_COMBINED_PROBES; i++, k++) {
		k &= ML_COMBINED_BATCH - 1;
		if (!(cb->used & (1U << k))) {
			cb->used |= 1U << k;
			cb->stack_id[k] = stack_id;
			cb->size[k] = size;
			cb->n[k] = n;
			return;
		}
		if (cb->stack_id[k] == stack_id) {
			cb->size[k] += size;
			cb->n[k] += n;
			return;
		}
	}
	combined_add(stack_id, size, n);
}

/* Add what @cb gathered to combined, and empty it. */
static __always_inline void combined_flush(struct ml_combined_batch *cb)
{
	for (__u32 k = 0; k < ML_COMBINED_BATCH; k++)
		if ((cb->used & (1U << k)) && (cb->size[k] || cb->n[k]))
			combined_add(cb->stack_id[k], cb->size[k], cb->n[k]);
	cb->used = 0;
}

static __always_inline bool size_wanted(__u64 size)
{
	if (size < min_size || size > max_size)
		return false;
	if (sample_rate > 1 &&
	    __sync_fetch_and_add(&sample_seq, 1) % sample_rate != 0)
		return false;
	return true;
}

static __always_inline void emit(__u32 kind, __u32 func, __u64 addr,
				 __u64 size, __u64 old_addr, __u64 arg,
				 __s32 stack_id)
{
	struct ml_event *e;
	__u64 id;

	if (!trace_events)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(ML_CNT_RINGBUF_DROP);
		return;
	}
	id = bpf_get_current_pid_tgid();
	e->timestamp_ns = bpf_ktime_get_ns();
	e->addr = addr;
	e->size = size;
	e->old_addr = old_addr;
	e->arg = arg;
	e->pid = id >> 32;
	e->tid = ML_EVENT_TID(id);
	e->func = func;
	e->kind = kind;
	e->stack_id = stack_id;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/* What a block counts for in the per-stack totals: a sample, its weight. */
static __always_inline __s64 scaled_size(const struct ml_alloc_info *info)
{
	if (info->weight <= ML_WEIGHT_ONE)
		return info->size;
	return (info->size * info->weight + ML_WEIGHT_ONE / 2) / ML_WEIGHT_ONE;
}

static __always_inline __s64 scaled_count(const struct ml_alloc_info *info)
{
	if (info->weight <= ML_WEIGHT_ONE)
		return 1;
	return (info->weight + ML_WEIGHT_ONE / 2) / ML_WEIGHT_ONE;
}

/* Put a block back, e.g. after a failed realloc removed it at entry. */
static __always_inline void track_restore(__u64 addr, struct ml_alloc_info *info)
{
	if (bpf_map_update_elem(&allocs, &addr, info, BPF_NOEXIST) == 0)
		combined_add(info->stack_id, scaled_size(info), scaled_count(info));
}

/*
 * A block stored in allocs: count it for its stack (in @cb, if not NULL),
 * report it (-t).
 */
static __always_inline void track_alloc_added(struct ml_combined_batch *cb,
					      __u32 func, __u64 addr,
					      struct ml_alloc_info *info,
					      __u64 old_addr, __u64 arg)
{
	combined_add_to(cb, info->stack_id, scaled_size(info), scaled_count(info));
	emit(ML_EV_ALLOC, func, addr, info->size, old_addr, arg, info->stack_id);
}

/*
 * Store a block at @addr whose stack is known (info->stack_id); the time
 * is stamped unless the source did (info->timestamp_ns), and the pid.
 */
static __always_inline void track_alloc_store(__u32 func, __u64 addr,
					      struct ml_alloc_info *info,
					      __u64 old_addr, __u64 arg)
{
	struct ml_alloc_info *prev;
	long err;

	if (!info->timestamp_ns)
		info->timestamp_ns = bpf_ktime_get_ns();
	info->pid = bpf_get_current_pid_tgid() >> 32;

	/* A new address is the common case: one map operation. */
	err = bpf_map_update_elem(&allocs, &addr, info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* The address came back while we still held it: a free was missed. */
		count(ML_CNT_MISSED_FREE);
		prev = bpf_map_lookup_elem(&allocs, &addr);
		if (prev)
			combined_add(prev->stack_id, -scaled_size(prev),
				     -scaled_count(prev));
		err = bpf_map_update_elem(&allocs, &addr, info, BPF_ANY);
	}
	if (err) {
		count(ML_CNT_ALLOCS_FULL);
		return;
	}
	track_alloc_added(NULL, func, addr, info, old_addr, arg);
}

/*
 * Record a block at @addr.  @info carries what the source knows (size, and
 * for kernel allocations call site, requested bytes, GFP flags, cache);
 * the tracker stamps time and pid, and the stack unless the source took it
 * (info->stack_id other than ML_STACK_AUTO).
 */
static __always_inline void track_alloc_info(void *ctx, __u32 func, __u64 addr,
					     struct ml_alloc_info *info,
					     __u64 old_addr, __u64 arg)
{
	info->timestamp_ns = 0;
	if (info->stack_id == ML_STACK_AUTO)
		info->stack_id = capture_stack(ctx);
	track_alloc_store(func, addr, info, old_addr, arg);
}

static __always_inline void track_alloc(void *ctx, __u32 func, __u64 addr,
					__u64 size, __u64 old_addr, __u64 arg)
{
	struct ml_alloc_info info = {};

	info.size = size;
	info.stack_id = ML_STACK_AUTO;
	track_alloc_info(ctx, func, addr, &info, old_addr, arg);
}

/* Block @info at @addr is gone: uncount it (in @cb, if not NULL), report it. */
static __always_inline void track_freed(struct ml_combined_batch *cb, __u32 func,
					__u64 addr, const struct ml_alloc_info *info,
					bool report)
{
	combined_add_to(cb, info->stack_id, -scaled_size(info), -scaled_count(info));
	if (report)
		emit(ML_EV_FREE, func, addr, info->size, 0, 0, info->stack_id);
}

/*
 * Forget the block @info that allocs holds at @addr (see track_free());
 * uncounted in @cb, if not NULL.
 */
static __always_inline bool track_free_held(struct ml_combined_batch *cb,
					    __u32 func, __u64 addr,
					    struct ml_alloc_info *info,
					    struct ml_alloc_info *saved,
					    bool report)
{
	struct ml_alloc_info tmp = *info;

	if (bpf_map_delete_elem(&allocs, &addr))
		return false;	/* another CPU freed it first */
	track_freed(cb, func, addr, &tmp, report);
	if (saved)
		*saved = tmp;
	return true;
}

/* Forget a block; copy what it was into @saved (may be NULL). */
static __always_inline bool track_free(__u32 func, __u64 addr,
				       struct ml_alloc_info *saved, bool report)
{
	struct ml_alloc_info *info;

	/* Nothing to report or subtract: the delete alone says if we held it. */
	if (!saved && !keep_combined && !(report && trace_events))
		return bpf_map_delete_elem(&allocs, &addr) == 0;
	info = bpf_map_lookup_elem(&allocs, &addr);
	if (!info)
		return false;
	return track_free_held(NULL, func, addr, info, saved, report);
}

#endif /* MEMLEAK_TRACKER_BPF_H */
