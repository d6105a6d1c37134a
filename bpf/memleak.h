/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structures shared between the BPF tracker and user space.
 *
 * Included both by BPF C (with vmlinux.h) and by ordinary user-space C
 * (with <linux/types.h>), so only fixed-width kernel types are used here.
 */
#ifndef MEMLEAK_BPF_H
#define MEMLEAK_BPF_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define ML_MAX_STACK_DEPTH	127
#define ML_KSTACK_DEPTH		64	/* kernel stacks: frames kept */
/*
 * Capacities, set from user space before load (--max-allocs,
 * --stack-map-size).  Outstanding blocks: the allocs map is not
 * preallocated, so a block costs kernel memory only while it is
 * outstanding; what the capacity costs up front is the hash map's bucket
 * array, 16 bytes per power-of-two bucket (8M: 128 MiB), the same for 5M as
 * for 8M.  Stacks: 1016 bytes each, preallocated (64 MiB for 64Ki).
 * Kernel allocations: the allocs map is preallocated (lib/source/kmem.c),
 * about 120 bytes a block whether used or not, hence a smaller default.
 */
#define ML_ALLOCS_DEFAULT	(1 << 23)	/* outstanding blocks kept (user) */
#define ML_KALLOCS_DEFAULT	(1 << 20)	/* outstanding blocks kept (kernel) */
#define ML_STACK_MAP_DEFAULT	(1 << 16)	/* stacks kept (user) */
#define ML_KSTACK_MAP_DEFAULT	(1 << 16)	/* stacks kept (kernel) */
#define ML_COMM_LEN		16

/* Allocator entry points; the index is also the probe's identity. */
enum ml_func {
	ML_MALLOC,
	ML_CALLOC,
	ML_REALLOC,
	ML_REALLOCARRAY,
	ML_FREE,
	ML_POSIX_MEMALIGN,
	ML_ALIGNED_ALLOC,
	ML_MEMALIGN,
	ML_VALLOC,
	ML_PVALLOC,
	ML_MMAP,
	ML_MUNMAP,
	ML_MREMAP,
	ML_PTHREAD_CREATE,	/* context only: its thread-stack mmaps are libc's */
	ML_FUNC_MAX,
};

/* Kernel events carry ML_FUNC_KERNEL + enum ml_kind as their function. */
#define ML_FUNC_KERNEL		64

/* Loss and anomaly counters, one slot each in the per-CPU counter map. */
enum ml_counter {
	ML_CNT_STACK_LOST,	/* bpf_get_stackid failed: map full or collision */
	ML_CNT_ALLOCS_FULL,	/* outstanding-block map full: block not tracked */
	ML_CNT_PENDING_FULL,	/* per-thread pending-call map full */
	ML_CNT_COMBINED_FULL,	/* per-stack totals map full */
	ML_CNT_RINGBUF_DROP,	/* -t event ring buffer full */
	ML_CNT_MISSED_FREE,	/* an address came back while still outstanding */
	ML_CNT_STACK_TRUNCATED,	/* a user stack not unwound to its end */
	ML_CNT_SAMPLES_UNTRACKED, /* preload: sampled block dropped (set full) */
	ML_CNT_MAX,
};

/* What kind of memory a block is (user allocators are ML_KIND_USER). */
enum ml_kind {
	ML_KIND_USER,		/* a user-space allocator call */
	ML_KIND_KMALLOC,	/* kmalloc() */
	ML_KIND_CACHE,		/* kmem_cache_alloc() */
	ML_KIND_PAGE,		/* the page allocator */
	ML_KIND_PERCPU,		/* alloc_percpu() */
	ML_KIND_VMALLOC,	/* a vmap area */
	ML_KIND_MAX,
};

/*
 * Keys of blocks that are not addresses: pages by PFN, percpu chunks by
 * their percpu offset, tagged in the top byte so they never meet a pointer.
 */
#define ML_KEY_PAGE(pfn)	((2ULL << 56) | (pfn))
#define ML_KEY_PERCPU(ptr)	((3ULL << 56) | ((ptr) & ((1ULL << 56) - 1)))

/* A stack that was not collected (--call-graph none). */
#define ML_STACK_NONE		(-2)
/* track_alloc_info(): capture the stack now. */
#define ML_STACK_AUTO		(-3)

/* One outstanding block: the value of the allocs map (key: address). */
struct ml_alloc_info {
	__u64 size;		/* bytes allocated */
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC, bpf_ktime_get_ns() */
	__s32 stack_id;		/* < 0: stack lost (-errno) or ML_STACK_NONE */
	__u32 pid;		/* tgid that allocated it */
	/* kernel allocations */
	__u64 call_site;	/* the tracepoint's call_site */
	__u64 bytes_req;	/* bytes requested (<= size) */
	__u64 cache;		/* struct kmem_cache * (see the cache_names map) */
	__u32 gfp;		/* GFP flags */
	__u16 kind;		/* enum ml_kind */
	__u16 order;		/* page order */
	/* the preload source (bpf/preload.bpf.c) */
	__u64 seq;		/* the library's order of the allocation, 0: none */
	__u32 weight;		/* sampled: allocations it stands for, in ML_WEIGHT_ONE */
	__u32 flags;		/* ML_AI_* */
};

/*
 * ml_alloc_info.flags: a freed block the preload source keeps until its
 * address comes back (seq: the free's); not outstanding.
 */
#define ML_AI_FREED		1

/*
 * The kernel sources' table of outstanding blocks (bpf/ktable.bpf.h): open
 * addressing in two mmapable arrays, keys apart from what they describe so
 * that a probe run is a cache line or two, and user space reads the table
 * without a syscall per block.  A key is 0 (never used), ML_KSLOT_FREED (a
 * tombstone), ML_KSLOT_BUSY (being written) or a block's key; a reader
 * keeps a slot only if its key is the same before and after it copied the
 * slot's struct ml_kslot.
 */
#define ML_KSLOT_FREED		1ULL
#define ML_KSLOT_BUSY		2ULL
#define ML_KSLOT_PROBES		16	/* slots a key may be from its home */

struct ml_kslot {
	__u64 size;		/* bytes allocated */
	__u64 bytes_req;	/* bytes requested */
	__u64 call_site;
	__u64 cache;		/* struct kmem_cache * */
	__u64 timestamp_ns;
	__s32 stack_id;
	__u32 pid;
	__u32 gfp;
	__u16 kind;
	__u16 order;
};

/* Weights are fixed point: ML_WEIGHT_ONE is one allocation (0 reads as one). */
#define ML_WEIGHT_ONE		256

/* Per-stack totals, kept with atomic adds (--combined-only). */
struct ml_combined {
	__u64 total_size;
	__u64 nr_allocs;
};

enum ml_event_kind {
	ML_EV_ALLOC,
	ML_EV_FREE,
};

/* A -t trace record sent through the ring buffer. */
struct ml_event {
	__u64 timestamp_ns;
	__u64 addr;
	__u64 size;
	__u64 old_addr;		/* realloc/mremap: the block it replaced, or 0 */
	__u64 arg;		/* calloc/reallocarray: nmemb; *memalign: alignment */
	__u32 pid;
	__u32 tid;
	__u32 func;		/* enum ml_func */
	__u32 kind;		/* enum ml_event_kind */
	__s32 stack_id;
	__u32 pad;
	char comm[ML_COMM_LEN];
};

/*
 * DWARF unwinding of user stacks (bpf/unwind.bpf.h, lib/unwind/): the
 * .eh_frame / .debug_frame of each executable file compiled into rows, one
 * per address range with the same rules, sorted by file offset.
 */

/* The last frame of a stack that was not unwound to its end. */
#define ML_FRAME_TRUNCATED	((__u64)-1)

enum ml_cfa_rule {
	ML_CFA_NONE,		/* no unwind info here: walk the frame pointer */
	ML_CFA_RSP,		/* CFA = rsp + cfa_off */
	ML_CFA_RBP,		/* CFA = rbp + cfa_off */
	ML_CFA_PLT,		/* PLT stub: rsp + 8 + ((rip & 15) >= cfa_off) * 8 */
	ML_CFA_END,		/* return address undefined: the outermost frame */
	ML_CFA_UNSUPPORTED,	/* a rule the unwinder cannot follow */
};

enum ml_rbp_rule {
	ML_RBP_SAME,		/* rbp unchanged in the caller */
	ML_RBP_CFA,		/* caller's rbp saved at CFA + rbp_off */
	ML_RBP_UNDEF,		/* caller's rbp not recoverable */
};

/*
 * 8 bytes a row: offsets are in 8-byte words (x86-64 keeps rsp 8-aligned;
 * a rule that is not is compiled as ML_CFA_UNSUPPORTED), except the PLT
 * threshold, kept as is.
 */
struct ml_unwind_row {
	__u32 pc;		/* file offset where this row starts */
	__s16 cfa_off;		/* CFA = reg + cfa_off * 8 */
	__s8 rbp_off;		/* caller's rbp at CFA + rbp_off * 8 */
	__u8 rules;		/* enum ml_cfa_rule | enum ml_rbp_rule << 4 */
};

#define ML_ROW_CFA(r)		((r)->rules & 0xf)
#define ML_ROW_RBP(r)		((r)->rules >> 4)
#define ML_ROW_RULES(cfa, rbp)	((__u8)((cfa) | (rbp) << 4))

/* A file, as the kernel names it (vma->vm_file->f_inode). */
struct ml_unwind_key {
	__u64 dev;		/* s_dev: MAJOR << 20 | MINOR */
	__u64 ino;
};

/* Its rows in the row array; count 0: no table, walk frame pointers. */
struct ml_unwind_module {
	__u32 first;
	__u32 count;
};

#define ML_UNWIND_ROWS_DEFAULT	(1 << 21)	/* rows for every module */
#define ML_UNWIND_MODULES_MAX	4096
#define ML_UNWIND_VMAS_MAX	4096
#define ML_UNWIND_BUCKET_SHIFT	21

/* A mapping with a table, by (tgid, address >> ML_UNWIND_BUCKET_SHIFT). */
struct ml_unwind_vma_key {
	__u64 tgid;
	__u64 bucket;
};

struct ml_unwind_vma {
	__u64 mm;		/* 0 when filled by user space */
	__u64 start, end;	/* the mapping */
	__u64 off;		/* file offset of start */
	__u32 seq;
	__u32 first, count;	/* its rows */
	__u32 pad;
};

/*
 * The mappings with tables that overlap one 2 MiB bucket: several can
 * (libc's text ends where ld.so's begins), so a bucket has slots.
 */
#define ML_UNWIND_BUCKET_SLOTS	4

struct ml_unwind_bucket {
	struct ml_unwind_vma slot[ML_UNWIND_BUCKET_SLOTS];
};

/*
 * The preload library (preload/memleak-preload.c) and its BPF consumer
 * (bpf/preload.bpf.c).  Each thread of the target appends its allocator
 * events to a batch and hands full batches to ml_preload_flush(batch),
 * a function whose first instruction is a 5-byte NOP for a uprobe: one
 * probe hit per batch.  A stack travels once per thread as its frames,
 * after that as its hash.
 */
#define ML_PL_MAGIC		0x4c504c4dU	/* "MLPL" */
#define ML_PL_VERSION		5
#define ML_PL_EVENTS		256	/* events a batch holds */
#define ML_PL_STACKS		16	/* new stacks a batch holds */
#define ML_PL_DEAD_MAX		262144	/* freed blocks kept (bpf/preload.bpf.c) */
#define ML_PL_FLUSH_SYM		"ml_preload_flush"
#define ML_PL_CONTROL_SYM	"ml_preload_control"
#define ML_PL_CONFIGURE_SYM	"ml_preload_configure"	/* --inject calls it */
#define ML_PL_LIB		"libmemleak-preload.so"

enum ml_pl_kind {
	ML_PL_NONE,		/* cancelled: freed before its batch left */
	ML_PL_ALLOC,		/* addr, size (old_addr: realloc's, for -t only) */
	ML_PL_FREE,		/* addr */
	ML_PL_REALLOC,		/* old_addr freed at free_seq, addr allocated */
};

struct ml_pl_event {
	__u64 seq;		/* global order: after the allocator returned */
	__u64 free_seq;		/* realloc: of freeing old_addr, before the call */
	__u64 addr;
	__u64 size;
	__u64 old_addr;
	__u64 arg;		/* nmemb (calloc, reallocarray), alignment (*memalign) */
	__u64 stack;		/* the stack's hash; 0: no stack */
	__u32 weight;		/* in ML_WEIGHT_ONE */
	__u16 func;		/* enum ml_func */
	__u16 kind;		/* enum ml_pl_kind */
};

/* A stack not sent by this thread before: its hash and frames, leaf first. */
struct ml_pl_stack {
	__u64 hash;
	__u64 ips[ML_MAX_STACK_DEPTH];	/* ended by 0 when shorter */
};

/* What ml_preload_flush() gets; the arrays are found by their offsets. */
struct ml_pl_batch {
	__u32 magic;
	__u32 version;
	__u32 nr_events;
	__u32 nr_stacks;
	__u32 events_off;	/* from the start of the batch */
	__u32 stacks_off;
	__u64 first_ns;		/* CLOCK_MONOTONIC(_COARSE) of its first event */
	__u64 next;		/* another thread's batch (its address), 0: none */
	__u32 tid;		/* the thread whose events these are */
	/*
	 * Sampled blocks the library dropped since the last batch: its set
	 * of them was full, so their frees would have gone unseen.
	 */
	__u32 untracked;
	/*
	 * Every allocation that other threads have not handed over yet is
	 * numbered after this: a free of this batch numbered at or before
	 * it needs no tombstone (bpf/preload.bpf.c).
	 */
	__u64 horizon;
};

/* ml_pl_control.flags */
#define ML_PL_NO_CANCEL		1	/* -t: every event reaches BPF */
#define ML_PL_NO_STACKS		2	/* --call-graph none */
#define ML_PL_OFF		4	/* record nothing */

/*
 * The library's control block (symbol ml_preload_control), which memleak
 * reads and writes with process_vm_readv/writev.
 */
struct ml_pl_control {
	__u32 magic;		/* ML_PL_MAGIC */
	__u32 version;		/* ML_PL_VERSION */
	__u64 flush_req;	/* memleak: raise it to ask for a flush of every thread */
	__u64 flush_done;	/* library: the last request served */
	__u64 sample_bytes;	/* mean bytes between samples, 0: every allocation */
	__u32 flags;		/* ML_PL_* */
	__u32 generation;	/* raised by a new session: stacks are sent again */
	__u64 flushes;		/* batches handed over (statistics) */
	__u64 batches;		/* every thread's batch, linked by next */
};

#endif /* MEMLEAK_BPF_H */
