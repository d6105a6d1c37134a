// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: the kernel's allocators, through BTF-typed tracepoints
 * (tp_btf: a per-program recursion guard, misses counted by the kernel).
 *
 * Slab objects are keyed by address, pages by PFN and percpu areas by
 * their percpu offset (tagged keys, see memleak.h), vmap areas by address.
 * Filters: a set of processes (-p/-c, with the children they fork) and/or
 * a cgroup (--cgroup); sizes (-z/-Z); sampling (-s).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tracker.bpf.h"
#include "ktable.bpf.h"

const volatile bool filter_pids = false;
const volatile bool filter_cgroup = false;
const volatile __u32 self_tgid = 0;	/* memleak itself: never traced */
const volatile bool grow_stacks = false;	/* stacks only for call sites below */

/* --grow-stacks: the call sites user space saw grow; they get stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u8);
	__uint(max_entries, 1024);
} stack_sites SEC(".maps");

/* Processes whose allocations are kept (with filter_pids). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 1 << 14);
} traced_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cgroup_filter SEC(".maps");

/* Slab cache names, by struct kmem_cache pointer. */
struct cache_name {
	char name[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct cache_name);
	__uint(max_entries, 4096);
} cache_names SEC(".maps");

/*
 * Cache names: user space lists the caches with the kmem_cache iterator
 * (cache_iter below) when it reads the table; a kernel without that
 * iterator (before 6.13) has each kmem_cache_alloc look its cache up,
 * which costs about 35 ns an event.
 */
const volatile bool names_per_event = true;

extern const void vmemmap_base __ksym __weak;
__u64 vmemmap_start = 0;

static __always_inline bool wanted(void)
{
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (filter_pids) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!bpf_map_lookup_elem(&traced_pids, &tgid))
			return false;
	}
	return true;
}

static __always_inline void kalloc(void *ctx, __u32 kind, __u64 key,
				   __u64 call_site, __u64 req, __u64 alloc,
				   __u32 gfp, __u64 cache, __u32 order)
{
	struct ml_alloc_info info = {};

	if (!wanted() || !size_wanted(alloc))
		return;
	info.size = alloc;
	info.bytes_req = req;
	info.call_site = call_site;
	info.gfp = gfp;
	info.cache = cache;
	info.kind = kind;
	info.order = order;
	info.stack_id = ML_STACK_AUTO;
	if (grow_stacks) {
		info.stack_id = ML_STACK_NONE;
		if (call_site && bpf_map_lookup_elem(&stack_sites, &call_site)) {
			long id = bpf_get_stackid(ctx, &stack_traces, 0);

			if (id < 0)
				count(ML_CNT_STACK_LOST);
			info.stack_id = id;
		}
	}
	if (info.stack_id == ML_STACK_AUTO)
		info.stack_id = capture_stack(ctx);
	ktable_alloc(ML_FUNC_KERNEL + kind, key, &info);
}

static __always_inline void kfree_key(__u32 kind, __u64 key)
{
	/*
	 * Frees are never filtered: a block we hold is freed whoever frees
	 * it (another task, an RCU callback, an interrupt).
	 */
	ktable_free(ML_FUNC_KERNEL + kind, key);
}

/* PFN of the struct page passed as the tracepoint's first argument. */
static __always_inline __u64 page_pfn(void *ctx)
{
	__u64 base = vmemmap_start, page = 0;

	/* Read as a number: the verifier forbids arithmetic on the pointer. */
	bpf_probe_read_kernel(&page, sizeof(page), ctx);
	if (!base) {
		base = 0xffffea0000000000ULL;	/* x86-64 VMEMMAP_START */
		if (&vmemmap_base)
			bpf_probe_read_kernel(&base, sizeof(base), &vmemmap_base);
		vmemmap_start = base;	/* fixed at boot: read it once */
	}
	return (page - base) / bpf_core_type_size(struct page);
}

SEC("tp_btf/kmalloc")
int BPF_PROG(kmalloc, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc, gfp_t gfp_flags, int node)
{
	if (ptr)
		kalloc(ctx, ML_KIND_KMALLOC, (__u64)ptr, call_site, bytes_req,
		       bytes_alloc, gfp_flags, 0, 0);
	return 0;
}

SEC("tp_btf/kfree")
int BPF_PROG(kfree, unsigned long call_site, const void *ptr)
{
	if (ptr)
		kfree_key(ML_KIND_KMALLOC, (__u64)ptr);
	return 0;
}

/* Since 6.1: the cache, not the sizes, is passed. */
SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc, unsigned long call_site, const void *ptr,
	     struct kmem_cache *s, gfp_t gfp_flags, int node)
{
	__u64 key = (__u64)s;

	if (!ptr)
		return 0;
	if (names_per_event && !bpf_map_lookup_elem(&cache_names, &key)) {
		struct cache_name cn = {};

		bpf_probe_read_kernel_str(cn.name, sizeof(cn.name), s->name);
		bpf_map_update_elem(&cache_names, &key, &cn, BPF_NOEXIST);
	}
	/* BTF-typed loads: no helper call per field. */
	kalloc(ctx, ML_KIND_CACHE, (__u64)ptr, call_site, s->object_size,
	       s->size, gfp_flags, key, 0);
	return 0;
}

/* Before 6.1: (call_site, ptr, bytes_req, bytes_alloc, gfp_flags). */
SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc_sizes, unsigned long call_site, const void *ptr,
	     size_t bytes_req, size_t bytes_alloc, gfp_t gfp_flags)
{
	if (ptr)
		kalloc(ctx, ML_KIND_CACHE, (__u64)ptr, call_site, bytes_req,
		       bytes_alloc, gfp_flags, 0, 0);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(kmem_cache_free, unsigned long call_site, const void *ptr)
{
	if (ptr)
		kfree_key(ML_KIND_CACHE, (__u64)ptr);
	return 0;
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(mm_page_alloc, struct page *page, unsigned int order,
	     gfp_t gfp_flags, int migratetype)
{
	if (page)
		kalloc(ctx, ML_KIND_PAGE, ML_KEY_PAGE(page_pfn(ctx)), 0,
		       4096ULL << order, 4096ULL << order, gfp_flags, 0, order);
	return 0;
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(mm_page_free, struct page *page, unsigned int order)
{
	kfree_key(ML_KIND_PAGE, ML_KEY_PAGE(page_pfn(ctx)));
	return 0;
}

SEC("tp_btf/mm_page_free_batched")
int BPF_PROG(mm_page_free_batched, struct page *page)
{
	kfree_key(ML_KIND_PAGE, ML_KEY_PAGE(page_pfn(ctx)));
	return 0;
}

SEC("tp_btf/percpu_alloc_percpu")
int BPF_PROG(percpu_alloc_percpu, unsigned long call_site, bool reserved,
	     bool is_atomic, size_t size, size_t align, void *base_addr, int off,
	     void *ptr, size_t bytes_alloc, gfp_t gfp_flags)
{
	if (ptr)
		kalloc(ctx, ML_KIND_PERCPU, ML_KEY_PERCPU((__u64)ptr), call_site,
		       size, bytes_alloc, gfp_flags, 0, 0);
	return 0;
}

SEC("tp_btf/percpu_free_percpu")
int BPF_PROG(percpu_free_percpu, void *base_addr, int off, void *ptr)
{
	kfree_key(ML_KIND_PERCPU, ML_KEY_PERCPU((__u64)ptr));
	return 0;
}

SEC("tp_btf/alloc_vmap_area")
int BPF_PROG(alloc_vmap_area, unsigned long addr, unsigned long size,
	     unsigned long align, unsigned long vstart, unsigned long vend,
	     int failed)
{
	if (!failed)
		kalloc(ctx, ML_KIND_VMALLOC, addr, 0, size, size, 0, 0, 0);
	return 0;
}

SEC("tp_btf/free_vmap_area_noflush")
int BPF_PROG(free_vmap_area_noflush, unsigned long va_start,
	     unsigned long nr_lazy, unsigned long nr_lazy_max)
{
	kfree_key(ML_KIND_VMALLOC, va_start);
	return 0;
}

/* Every slab cache: its address and name, for cache_names. */
SEC("iter/kmem_cache")
int cache_iter(struct bpf_iter__kmem_cache *ctx)
{
	struct kmem_cache *s = ctx->s;
	struct {
		__u64 cache;
		struct cache_name cn;
	} rec = {};

	if (!s)
		return 0;
	rec.cache = (__u64)s;
	bpf_probe_read_kernel_str(rec.cn.name, sizeof(rec.cn.name), s->name);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* -p/-c: the children a traced process forks are traced too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (filter_pids && ptgid != ctgid &&
	    bpf_map_lookup_elem(&traced_pids, &ptgid))
		bpf_map_update_elem(&traced_pids, &ctgid, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
