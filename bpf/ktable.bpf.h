/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel tracker's table of outstanding blocks: open addressing with
 * linear probing, keys in one array map (kkeys), what each block is in a
 * parallel one (kslots, struct ml_kslot in memleak.h).
 *
 * Why not the allocs hash map of tracker.bpf.h: the kmem tracepoints fire
 * millions of times a second, and a hash-map update or delete (a bucket
 * lock with interrupts off, the element free list) cost 150-250 ns a call
 * here, measured with kernel.bpf_stats_enabled; inlined array lookups and
 * one cmpxchg on the key cost a fraction of that.  Keys are claimed with
 * cmpxchg, so CPUs and nested interrupts never tear a slot; a freed key
 * becomes a tombstone that a later insert reuses, so a key is always
 * within ML_KSLOT_PROBES slots of its home and a lookup never goes past an
 * unused (0) key.
 *
 * Include after tracker.bpf.h (count(), combined_add(), emit()).
 */
#ifndef MEMLEAK_KTABLE_BPF_H
#define MEMLEAK_KTABLE_BPF_H

#include "memleak.h"

#ifndef READ_ONCE
#define READ_ONCE(x)		(*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile typeof(x) *)&(x) = (v))
#endif

const volatile __u32 kslot_bits = 1;	/* the table has 1 << kslot_bits slots */

/* Both sized by user space (1 << kslot_bits). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} kkeys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ml_kslot);
	__uint(max_entries, 2);
} kslots SEC(".maps");

/*
 * Time from jiffies: reading the clock (bpf_ktime_get_ns) costs about
 * 80 ns a call here, as much as the rest of an insert; the tick's
 * resolution (1/CONFIG_HZ s) is plenty for an allocation's age.  The first
 * event pins jiffies to the monotonic clock.
 */
extern const int CONFIG_HZ __kconfig __weak;
__u64 kclock_jiffies = 0, kclock_ns = 0;

static __always_inline __u64 ktable_now(void)
{
	__u64 j = bpf_jiffies64(), hz = CONFIG_HZ ? CONFIG_HZ : 250;

	if (!kclock_ns) {
		kclock_jiffies = j;
		kclock_ns = bpf_ktime_get_ns();
	}
	return kclock_ns + (j - kclock_jiffies) * (1000000000ULL / hz);
}

static __always_inline __u32 kslot_home(__u64 key)
{
	/* Fibonacci hashing: the top bits of key * 2^64 / phi. */
	return (key * 0x9E3779B97F4A7C15ULL) >> (64 - kslot_bits);
}

static __always_inline __u32 kslot_index(__u32 home, __u32 i)
{
	return (home + i) & ((1U << kslot_bits) - 1);
}

/* Claim a free key slot from @home on, for @key; its index or -1. */
static __always_inline int ktable_claim(__u32 home)
{
	__u32 i, idx;
	__u64 *k, v;

	for (i = 0; i < ML_KSLOT_PROBES; i++) {
		idx = kslot_index(home, i);
		k = bpf_map_lookup_elem(&kkeys, &idx);
		if (!k)
			return -1;
		v = READ_ONCE(*k);
		if ((v == 0 || v == ML_KSLOT_FREED) &&
		    __sync_val_compare_and_swap(k, v, ML_KSLOT_BUSY) == v)
			return idx;
	}
	return -1;
}

/*
 * Record the block @key.  A key we still hold means its free was missed
 * (no tracepoint fired: kmem_cache_free_bulk, kfree_bulk): the new block
 * replaces it and the miss is counted.
 */
static __always_inline void ktable_alloc(__u32 func, __u64 key,
					 struct ml_alloc_info *info)
{
	__u32 home = kslot_home(key), i, idx;
	struct ml_kslot *slot;
	__u64 *k, v;
	int found = -1;

	/* Is it here already?  Stop at an unused key: nothing lies beyond. */
	for (i = 0; i < ML_KSLOT_PROBES; i++) {
		idx = kslot_index(home, i);
		k = bpf_map_lookup_elem(&kkeys, &idx);
		if (!k)
			return;
		v = READ_ONCE(*k);
		if (v == 0)
			break;
		if (v == key) {
			if (__sync_val_compare_and_swap(k, key, ML_KSLOT_BUSY) == key)
				found = idx;
			break;
		}
	}
	if (found >= 0) {
		idx = found;
		slot = bpf_map_lookup_elem(&kslots, &idx);
		count(ML_CNT_MISSED_FREE);
		if (slot)
			combined_add(slot->stack_id, -(__s64)slot->size, -1);
	} else {
		found = ktable_claim(home);
		if (found < 0) {
			count(ML_CNT_ALLOCS_FULL);
			return;
		}
		idx = found;
		slot = bpf_map_lookup_elem(&kslots, &idx);
	}
	k = bpf_map_lookup_elem(&kkeys, &idx);
	if (!slot || !k)
		return;
	slot->size = info->size;
	slot->bytes_req = info->bytes_req;
	slot->call_site = info->call_site;
	slot->cache = info->cache;
	slot->timestamp_ns = ktable_now();
	slot->stack_id = info->stack_id;
	slot->pid = bpf_get_current_pid_tgid() >> 32;
	slot->gfp = info->gfp;
	slot->kind = info->kind;
	slot->order = info->order;
	/* Publish: on x86 a store is not reordered with the stores before it. */
	WRITE_ONCE(*k, key);
	combined_add(info->stack_id, info->size, 1);
	emit(ML_EV_ALLOC, func, key, info->size, 0, 0, info->stack_id);
}

/* Forget the block @key; false if we did not hold it. */
static __always_inline bool ktable_free(__u32 func, __u64 key)
{
	__u32 home = kslot_home(key), i, idx;
	struct ml_kslot *slot;
	__u64 *k, v;

	for (i = 0; i < ML_KSLOT_PROBES; i++) {
		idx = kslot_index(home, i);
		k = bpf_map_lookup_elem(&kkeys, &idx);
		if (!k)
			return false;
		v = READ_ONCE(*k);
		if (v == 0)
			return false;
		if (v != key)
			continue;
		if (!keep_combined && !trace_events)
			return __sync_val_compare_and_swap(k, key, ML_KSLOT_FREED) == key;
		slot = bpf_map_lookup_elem(&kslots, &idx);
		if (!slot)
			return false;
		{
			__s64 size = slot->size;
			__s32 stack_id = slot->stack_id;

			if (__sync_val_compare_and_swap(k, key, ML_KSLOT_FREED) != key)
				return false;	/* another CPU freed it first */
			combined_add(stack_id, -size, -1);
			emit(ML_EV_FREE, func, key, size, 0, 0, stack_id);
		}
		return true;
	}
	return false;
}

#endif /* MEMLEAK_KTABLE_BPF_H */
