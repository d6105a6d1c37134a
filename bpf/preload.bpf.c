// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: batches of allocator events from the preload library
 * (preload/memleak-preload.c), one uprobe hit on ml_preload_flush() per
 * batch.  The program walks the batch with bpf_loop() and feeds the same
 * tracker as the libc uprobes (tracker.bpf.h: allocs, combined, the
 * unwind_stacks/unwind_ids stack store), so readers cannot tell.
 *
 * Threads flush in their own time, so events of different threads arrive
 * out of order.  Every event carries the library's global sequence number
 * (an allocation's taken after the allocator returned, a free's before the
 * block went back), and an address's latest state wins: a block the map
 * holds with a later number than an arriving event's is newer than it (the
 * address was freed and reused meanwhile); a free leaves its number behind,
 * in the block's entry kept dead (below) or else as a tombstone (freed), so
 * that an older allocation arriving after it is dropped instead of kept as
 * a leak.  A tombstone only where such an allocation can exist: the batch's
 * horizon says that no other thread holds one older than the frees
 * numbered up to it (a single-threaded program leaves none).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/*
 * The thread whose batch this task is walking: -t events are that thread's,
 * not the thread's that flushed it (the library's flusher, at a report).
 * Per task, as batch_scratch below.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} batch_tid SEC(".maps");

static __always_inline __u32 event_tid(__u64 pid_tgid)
{
	__u32 *tid = bpf_task_storage_get(&batch_tid, bpf_get_current_task_btf(),
					  NULL, 0);

	return tid && *tid ? *tid : (__u32)pid_tgid;
}
#define ML_EVENT_TID(pid_tgid)	event_tid(pid_tgid)

#include "tracker.bpf.h"

/* Addresses freed before their allocation arrived: the free's sequence. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 1 << 16);
} freed SEC(".maps");

bool tombstones = false;	/* freed may hold some */

/*
 * Per task, what walking a batch needs: a copy of its events (one
 * bpf_probe_read_user() of the batch instead of one per event), and its
 * per-stack totals until they go to combined.  Per task, not per CPU: a
 * uprobe program can be preempted, and another task's batch walked on
 * its CPU.
 */
#define PL_ID_CACHE	8	/* stack hash -> id, per batch, direct-mapped */

struct ml_pl_scratch {
	struct ml_pl_event e[ML_PL_EVENTS];
	struct ml_combined_batch totals;
	__u64 id_hash[PL_ID_CACHE];
	__s32 id[PL_ID_CACHE];
	__u32 id_valid;			/* a bit per entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ml_pl_scratch);
} batch_scratch SEC(".maps");

struct batch_ctx {
	__u64 batch;		/* user address of struct ml_pl_batch */
	__u64 events, stacks;	/* user addresses of the arrays */
	__u64 first_ns;
	__u64 horizon;
	struct ml_pl_scratch *sc;	/* NULL: events read one at a time */
	__u32 nr_events, nr_stacks;
	__u32 pid;
};

/* Store one new stack under its hash (unless some thread did already). */
static long stack_cb(__u32 i, void *data)
{
	struct batch_ctx *c = data;
	struct ml_unwind_state *st;
	__u64 addr = c->stacks + (__u64)i * sizeof(struct ml_pl_stack), hash;

	if (bpf_probe_read_user(&hash, sizeof(hash), (void *)addr))
		return 1;
	if (bpf_map_lookup_elem(&unwind_ids, &hash))
		return 0;
	/* the unwinder's per-task scratch holds one stack */
	st = bpf_task_storage_get(&unwind_scratch, bpf_get_current_task_btf(),
				  NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	if (bpf_probe_read_user(&st->stack, sizeof(st->stack),
				(void *)(addr + sizeof(__u64))))
		return 0;	/* counted by each allocation of it (stack_id_of) */
	if (st->stack.ips[ML_MAX_STACK_DEPTH - 1] == ML_FRAME_TRUNCATED)
		count(ML_CNT_STACK_TRUNCATED);
	/* Not stored: counted by each allocation of it (stack_id_of). */
	unwind_put(st, hash);
	return 0;
}

static __always_inline __s32 stack_id_of(__u64 hash)
{
	__u32 *id;

	if (!hash)
		return ML_STACK_NONE;
	id = bpf_map_lookup_elem(&unwind_ids, &hash);
	if (!id) {
		count(ML_CNT_STACK_LOST);
		return -ENOMEM;
	}
	return *id;
}

/* stack_id_of(), remembered for the rest of the batch */
static __always_inline __s32 stack_id_cached(struct batch_ctx *c, __u64 hash)
{
	struct ml_pl_scratch *sc = c->sc;
	__u32 k = hash & (PL_ID_CACHE - 1);
	__s32 id;

	if (!sc)
		return stack_id_of(hash);
	if ((sc->id_valid & (1U << k)) && sc->id_hash[k] == hash)
		return sc->id[k];
	id = stack_id_of(hash);
	if (id >= 0) {
		sc->id_hash[k] = hash;
		sc->id[k] = id;
		sc->id_valid |= 1U << k;
	}
	return id;
}

/*
 * Allocations and frees of one address alternate.  So an allocation older
 * than a free of its address seen already was freed (by that free or one
 * before it), and a free older than the block held is of an older block.
 */

/*
 * A freed block stays in allocs as a dead entry (ML_AI_FREED, numbered by
 * its free), up to dead_max of them: the allocator hands the address out
 * again soon, and the allocation then rewrites the entry in place, one
 * lookup instead of a delete and an insert (each a bucket lock and an
 * element freed or allocated).  A dead entry is its address's tombstone
 * too.  User space skips them.  nr_dead is approximate (plain adds from
 * every CPU): it only bounds the memory they hold.  A snapshot that reads
 * an entry while it is rewritten can see it half old, half new.
 */
const volatile __u64 dead_max = 0;
__u64 nr_dead = 0;

static __always_inline struct ml_combined_batch *batch_totals(struct batch_ctx *c)
{
	return c->sc ? &c->sc->totals : NULL;
}

/* A free of @addr at @seq; @report: a -t event of its own. */
static __always_inline void pl_free(struct batch_ctx *c, __u32 func, __u64 addr,
				    __u64 seq, bool report)
{
	struct ml_alloc_info *cur = bpf_map_lookup_elem(&allocs, &addr);
	struct ml_alloc_info tmp;
	__u64 *old;

	if (cur) {
		if (cur->seq > seq)
			return;	/* a later block (or free) at the same address */
		if (cur->flags & ML_AI_FREED) {
			cur->seq = seq;	/* of a block not tracked: the later free */
			return;
		}
		if (nr_dead < dead_max) {
			tmp = *cur;
			cur->flags = ML_AI_FREED;
			cur->seq = seq;
			nr_dead++;
			track_freed(batch_totals(c), func, addr, &tmp, report);
			return;
		}
		track_free_held(batch_totals(c), func, addr, cur, NULL, report);
	}
	/*
	 * Remember it: an allocation older than it may still be on its way
	 * in another thread's batch (whether or not we held a block here).
	 */
	if (seq <= c->horizon)
		return;
	tombstones = true;
	old = bpf_map_lookup_elem(&freed, &addr);
	if (!old)
		bpf_map_update_elem(&freed, &addr, &seq, BPF_ANY);
	else if (*old < seq)
		*old = seq;
}

/*
 * Allocation @info over the entry @cur holds for its address: false if
 * that entry is later (the address was freed, or freed and reused, since).
 */
static __always_inline bool pl_rewrite(struct batch_ctx *c,
				       struct ml_alloc_info *cur,
				       struct ml_alloc_info *info)
{
	if (cur->seq > info->seq)
		return false;
	if (cur->flags & ML_AI_FREED)
		nr_dead--;
	else	/* an older block still held: its free is on its way, not missed */
		combined_add_to(batch_totals(c), cur->stack_id, -scaled_size(cur),
				-scaled_count(cur));
	*cur = *info;
	return true;
}

/* Allocation @info at an address allocs holds nothing for: false if dropped. */
static __always_inline bool pl_insert(struct batch_ctx *c, __u64 addr,
				      struct ml_alloc_info *info)
{
	struct ml_alloc_info *cur;
	__u64 *gone;
	long err;

	gone = tombstones ? bpf_map_lookup_elem(&freed, &addr) : NULL;
	if (gone) {
		if (*gone > info->seq)
			return false;	/* a later free of the address came first */
		/* older than this block: the map entry will judge from now */
		bpf_map_delete_elem(&freed, &addr);
	}
	err = bpf_map_update_elem(&allocs, &addr, info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* another CPU's batch stored this address meanwhile */
		cur = bpf_map_lookup_elem(&allocs, &addr);
		if (cur)
			return pl_rewrite(c, cur, info);
		err = bpf_map_update_elem(&allocs, &addr, info, BPF_ANY);
	}
	if (err) {
		count(ML_CNT_ALLOCS_FULL);
		return false;
	}
	return true;
}

static __always_inline void pl_alloc(struct batch_ctx *c, struct ml_pl_event *e)
{
	struct ml_alloc_info info = {}, *cur;
	__u64 addr = e->addr;

	if (!size_wanted(e->size))
		return;
	info.size = e->size;
	info.stack_id = stack_id_cached(c, e->stack);
	info.seq = e->seq;
	info.weight = e->weight;
	info.timestamp_ns = c->first_ns;
	info.pid = c->pid;
	cur = bpf_map_lookup_elem(&allocs, &addr);
	if (cur ? !pl_rewrite(c, cur, &info) : !pl_insert(c, addr, &info))
		return;
	track_alloc_added(batch_totals(c), e->func, addr, &info, e->old_addr, e->arg);
}

static long event_cb(__u32 i, void *data)
{
	struct batch_ctx *c = data;
	struct ml_pl_event *e, one;
	__u64 k = i;

	barrier_var(k);		/* the register bounds-checked is the one used */
	if (k >= ML_PL_EVENTS)
		return 1;
	if (c->sc) {
		e = &c->sc->e[k];
	} else {
		/* no copy (no memory for it): one event at a time */
		if (bpf_probe_read_user(&one, sizeof(one),
					(void *)(c->events + (__u64)i * sizeof(one))))
			return 1;
		e = &one;
	}
	switch (e->kind) {
	case ML_PL_ALLOC:
		pl_alloc(c, e);
		break;
	case ML_PL_FREE:
		pl_free(c, e->func, e->addr, e->seq, true);
		break;
	case ML_PL_REALLOC:
		pl_free(c, e->func, e->old_addr, e->free_seq, false);
		pl_alloc(c, e);
		break;
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(preload_flush, struct ml_pl_batch *batch)
{
	struct ml_pl_batch b;
	struct batch_ctx c = {};
	__u32 *tid, size;

	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	if (bpf_probe_read_user(&b, sizeof(b), batch) ||
	    b.magic != ML_PL_MAGIC || b.version != ML_PL_VERSION)
		return 0;
	c.batch = (__u64)batch;
	c.events = c.batch + b.events_off;
	c.stacks = c.batch + b.stacks_off;
	c.first_ns = b.first_ns;
	c.horizon = b.horizon;
	c.nr_events = b.nr_events;
	c.nr_stacks = b.nr_stacks;
	if (c.nr_stacks > ML_PL_STACKS)
		c.nr_stacks = ML_PL_STACKS;
	if (c.nr_events > ML_PL_EVENTS)
		c.nr_events = ML_PL_EVENTS;
	c.pid = bpf_get_current_pid_tgid() >> 32;
	if (b.untracked)
		count_n(ML_CNT_SAMPLES_UNTRACKED, b.untracked);
	c.sc = bpf_task_storage_get(&batch_scratch, bpf_get_current_task_btf(),
				    NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	size = c.nr_events * sizeof(struct ml_pl_event);
	if (c.sc && size <= sizeof(c.sc->e) &&
	    bpf_probe_read_user(c.sc->e, size, (void *)c.events))
		return 0;	/* unreadable: dropped, as before an unreadable event */
	if (c.sc) {
		c.sc->totals.used = 0;
		c.sc->id_valid = 0;
	}
	tid = bpf_task_storage_get(&batch_tid, bpf_get_current_task_btf(), NULL,
				   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tid)
		*tid = b.tid;
	bpf_loop(c.nr_stacks, stack_cb, &c, 0);
	bpf_loop(c.nr_events, event_cb, &c, 0);
	if (c.sc)
		combined_flush(&c.sc->totals);
	if (tid)
		*tid = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
