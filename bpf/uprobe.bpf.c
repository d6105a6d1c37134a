// SPDX-License-Identifier: GPL-2.0
/*
 * Event source: the allocator functions of libc (or of -O OBJ), reached
 * through uprobe trace events that user space creates with libtracefs.
 *
 * Entry probes remember their arguments per (thread, function); return
 * probes turn them into track_alloc()/track_free() calls.  A call made from
 * inside another traced call of the same thread (realloc -> malloc, malloc ->
 * mmap, pthread_create -> mmap for the thread stack) is the allocator's own
 * business and is not counted again: the outermost call accounts for it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tracker.bpf.h"

#define MAP_FAILED_ADDR ((__u64)-1)

/*
 * The outermost traced call a thread is in: what its entry saw, for its
 * return.  Only the outermost call of a thread is ever pending (nested
 * ones are the allocator's own business), so one slot a thread, in task
 * storage: one lookup a probe hit instead of hash map updates and deletes.
 */
struct pending {
	__u64 sp;		/* stack pointer at entry; 0: no call pending */
	__u64 size;
	__u64 arg;		/* old pointer (realloc, mremap), memptr (posix_memalign) */
	__u64 arg2;		/* nmemb (calloc, reallocarray), alignment (*memalign) */
	struct ml_alloc_info old; /* the block realloc/mremap removed at entry */
	__u32 has_old;
	__u32 func;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pending SEC(".maps");

static __always_inline bool traced_task(void)
{
	return !targ_tgid || (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

static __always_inline struct pending *thread_pending(__u64 flags)
{
	return bpf_task_storage_get(&pending, bpf_get_current_task_btf(), NULL,
				    flags);
}

/*
 * True when a call at @sp runs inside another traced call of the same
 * thread.  The stack grows down: a nested call's stack pointer is below
 * the outer call's, or equal to it when the outer one tail-calls it
 * (glibc's realloc(NULL, n) jumps to malloc).  An outer call whose return
 * we never saw is replaced by the next call made above its stack pointer.
 */
static __always_inline bool nested(struct pending *p, __u64 sp)
{
	return p && p->sp && sp <= p->sp;
}

static __always_inline int enter(struct pt_regs *ctx, __u32 func, __u64 size,
				 __u64 arg, __u64 arg2)
{
	struct pending *p;
	__u64 sp = PT_REGS_SP(ctx);

	if (!traced_task())
		return 0;
	p = thread_pending(BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p) {
		count(ML_CNT_PENDING_FULL);
		return 0;
	}
	if (nested(p, sp))
		return 0;
	p->sp = sp;
	p->func = func;
	p->size = size;
	p->arg = arg;
	p->arg2 = arg2;
	p->has_old = 0;
	if ((func == ML_REALLOC || func == ML_REALLOCARRAY ||
	     func == ML_MREMAP) && arg)
		p->has_old = track_free(func, arg, &p->old, false);
	return 0;
}

/*
 * Consume what enter() saved.  A return whose stack pointer is not the
 * entry's plus the popped return address belongs to a nested call.
 */
static __always_inline bool take_pending(struct pt_regs *ctx, __u32 func,
					 struct pending *out)
{
	struct pending *p = thread_pending(0);

	if (!p || !p->sp || p->func != func || p->sp + 8 != PT_REGS_SP(ctx))
		return false;
	*out = *p;
	p->sp = 0;
	return true;
}

static __always_inline __u64 mul_size(__u64 n, __u64 size)
{
	/* Both below 2^32: the product fits; otherwise calloc fails anyway. */
	if ((n >> 32 && size > 1) || (size >> 32 && n > 1))
		return (__u64)-1;
	return n * size;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, __u64 size)
{
	return enter(ctx, ML_MALLOC, size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, __u64 nmemb, __u64 size)
{
	return enter(ctx, ML_CALLOC, mul_size(nmemb, size), 0, nmemb);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, __u64 ptr, __u64 size)
{
	return enter(ctx, ML_REALLOC, size, ptr, 0);
}

SEC("uprobe")
int BPF_KPROBE(reallocarray_enter, __u64 ptr, __u64 nmemb, __u64 size)
{
	return enter(ctx, ML_REALLOCARRAY, mul_size(nmemb, size), ptr, nmemb);
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 ptr)
{
	if (!ptr || !traced_task() || nested(thread_pending(0), PT_REGS_SP(ctx)))
		return 0;
	track_free(ML_FREE, ptr, NULL, true);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, __u64 memptr, __u64 align, __u64 size)
{
	return enter(ctx, ML_POSIX_MEMALIGN, size, memptr, align);
}

SEC("uprobe")
int BPF_KPROBE(aligned_alloc_enter, __u64 align, __u64 size)
{
	return enter(ctx, ML_ALIGNED_ALLOC, size, 0, align);
}

SEC("uprobe")
int BPF_KPROBE(memalign_enter, __u64 align, __u64 size)
{
	return enter(ctx, ML_MEMALIGN, size, 0, align);
}

SEC("uprobe")
int BPF_KPROBE(valloc_enter, __u64 size)
{
	return enter(ctx, ML_VALLOC, size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(pvalloc_enter, __u64 size)
{
	/* pvalloc rounds up to whole pages. */
	return enter(ctx, ML_PVALLOC, size ? (size + 4095) & ~4095ULL : 4096, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(mmap_enter, __u64 addr, __u64 len)
{
	return enter(ctx, ML_MMAP, len, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, __u64 addr)
{
	if (!traced_task() || nested(thread_pending(0), PT_REGS_SP(ctx)))
		return 0;
	track_free(ML_MUNMAP, addr, NULL, true);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mremap_enter, __u64 old_addr, __u64 old_size, __u64 new_size)
{
	return enter(ctx, ML_MREMAP, new_size, old_addr, 0);
}

/*
 * The return of every allocator: one program, told which by the cookie of
 * its attachment (enum ml_func), so that the verifier goes through the
 * unwinder once, not once an allocator (memleak's start-up).
 *
 * realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL;
 * a NULL return for n > 0 is a failure that leaves p allocated, as does a
 * failed mremap.  posix_memalign returns 0 and the block in *memptr.
 */
SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit, __u64 ret)
{
	__u32 func = bpf_get_attach_cookie(ctx);
	__u64 addr = ret, old = 0;
	struct pending p;

	if (!take_pending(ctx, func, &p))
		return 0;
	switch (func) {
	case ML_REALLOC:
	case ML_REALLOCARRAY:
		if (!ret) {
			if (p.size && p.has_old)
				track_restore(p.arg, &p.old);
			else if (p.has_old)
				emit(ML_EV_FREE, func, p.arg, p.old.size, 0, 0,
				     p.old.stack_id);
			return 0;
		}
		old = p.arg;
		break;
	case ML_POSIX_MEMALIGN:
		addr = 0;
		if ((int)ret != 0 ||
		    bpf_probe_read_user(&addr, sizeof(addr), (void *)p.arg) || !addr)
			return 0;
		break;
	case ML_MMAP:
	case ML_MREMAP:
		if (ret == MAP_FAILED_ADDR)
			goto failed;
		if (p.has_old)
			old = p.arg;	/* mremap's old mapping */
		break;
	default:
		if (!ret)
			goto failed;
		break;
	}
	if (!size_wanted(p.size))
		return 0;
	track_alloc(ctx, func, addr, p.size, old, p.arg2);
	return 0;
failed:
	if (p.has_old)
		track_restore(p.arg, &p.old);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(pthread_create_enter)
{
	return enter(ctx, ML_PTHREAD_CREATE, 0, 0, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(pthread_create_exit)
{
	struct pending p;

	take_pending(ctx, ML_PTHREAD_CREATE, &p);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
