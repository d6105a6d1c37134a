/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A DWARF unwinder for user stacks (x86-64), in BPF.
 *
 * User space (lib/unwind/) compiles the .eh_frame / .debug_frame of every
 * executable file the target maps into rows (struct ml_unwind_row): for an
 * address range of the file, how to find the CFA and the caller's rbp.  The
 * rows of all files share one array, unwind_rows; unwind_modules gives each
 * file's slice, keyed by the file's (device, inode) as the kernel sees it.
 *
 * ml_unwind_user_stack() starts from the registers of @ctx, finds for each
 * pc its mapping (bpf_find_vma) and its row (binary search, or the thread's
 * cache of rows found), computes the CFA and reads the return address at
 * CFA - 8 (the stack is read a KiB at a time).  Where no table covers a pc
 * (anonymous code, a file without unwind info) it follows rbp as a frame
 * pointer.  The frames, leaf first, are stored once per distinct stack in
 * unwind_stacks under a sequential id (unwind_ids finds it again from a
 * 64-bit hash of the frames), laid out like a BPF_MAP_TYPE_STACK_TRACE
 * value (ended by a 0 frame) so readers need not care which made it.
 * A stack not unwound to its end ends in ML_FRAME_TRUNCATED.
 *
 * Any BPF program with a struct pt_regs context for a user task can use it:
 * include this header (after bpf_tracing.h, and a count(enum ml_counter)
 * as bpf/tracker.bpf.h has), size the maps from user space (lib/unwind/)
 * and set dwarf_unwind.
 */
#ifndef MEMLEAK_UNWIND_BPF_H
#define MEMLEAK_UNWIND_BPF_H

#include "memleak.h"

#ifndef PAGE_SHIFT
#define PAGE_SHIFT	12
#endif

#ifndef EEXIST
#define EEXIST		17
#endif
#ifndef ENOMEM
#define ENOMEM		12
#endif
#ifndef EBUSY
#define EBUSY		16
#endif

#define UNWIND_SEARCH_STEPS	24	/* binary search: up to 2^24 rows */

const volatile bool dwarf_unwind = false;

/* Sized by user space before load; tiny for programs that do not unwind. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ml_unwind_row);
	__uint(max_entries, 1);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct ml_unwind_key);
	__type(value, struct ml_unwind_module);
	__uint(max_entries, ML_UNWIND_MODULES_MAX);
} unwind_modules SEC(".maps");

struct ml_ustack {
	__u64 ips[ML_MAX_STACK_DEPTH];
};

/*
 * By sequential id, so an array: no per-entry overhead nor allocation
 * while tracing (an id is handed out once, below unwind_max_stacks).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ml_ustack);
	__uint(max_entries, 1);
} unwind_stacks SEC(".maps");

/* Stack ids by the 64-bit hash of the frames. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u32);
	__uint(max_entries, 1);
} unwind_ids SEC(".maps");

const volatile __u32 unwind_max_stacks = 1;	/* unwind_stacks' size */
/* --call-graph fp: user stacks stored in unwind_stacks too (ml_fp_user_stack). */
const volatile bool fp_user_stacks = false;
__u64 unwind_next_id = 0;

/*
 * Mappings looked up before (struct ml_unwind_vma), valid while their mm's
 * layout is unchanged (mm->mm_lock_seq).
 */
#define UNWIND_VMA_CACHE	4
#define UNWIND_BUCKET_SHIFT	ML_UNWIND_BUCKET_SHIFT	/* 2 MiB buckets */

/*
 * Mappings with tables by (process, 2 MiB bucket; a bucket has slots for
 * the several mappings it can overlap), shared by its threads, filled by
 * user space from /proc/PID/maps (lib/unwind/loader.c): used when
 * bpf_find_vma() cannot take the mmap lock (another thread is changing the
 * address space; measured: a burst of threads creating their malloc
 * arenas).  A return address on a live stack
 * is in a mapping still there, so an entry that covers it is good even if
 * the layout changed elsewhere since.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ml_unwind_vma_key);
	__type(value, struct ml_unwind_bucket);
	__uint(max_entries, ML_UNWIND_VMAS_MAX);
} unwind_vmas SEC(".maps");

/*
 * A thread's last stacks, by where the walk began (pc, sp): the same
 * stack if every return address still sits where the walk read it, a
 * check of one read of the stack instead of a walk (as the preload library
 * remembers its walks).  Only complete walks of up to UNWIND_MEMO_DEPTH
 * frames are remembered.
 */
#define UNWIND_MEMO		16	/* a power of 2 */
#define UNWIND_MEMO_DEPTH	32	/* a power of 2 */

struct ml_unwind_memo {
	__u64 pc, sp;
	__u32 depth;		/* 0: empty */
	__s32 id;
	__u64 ip[UNWIND_MEMO_DEPTH];
	__u64 slot[UNWIND_MEMO_DEPTH];	/* where ip[i] (i > 0) was read */
};

/*
 * The outer part of a thread's last stacks, from frame UNWIND_TAIL_AT on
 * and from UNWIND_TAIL_AT2 on, by where that frame is (pc, sp): a walk
 * that gets there with a pc and sp remembered checks the rest as the memo
 * does, instead of walking it (deep stacks whose leaf frames vary, as a
 * compiler's); if the check fails, it walks on.
 */
#define UNWIND_TAILS		16	/* a power of 2 */
#define UNWIND_TAIL_AT		4
#define UNWIND_TAIL_AT2		10
#define UNWIND_TAIL_DEPTH	64	/* a power of 2 */
#define UNWIND_SLOTS		128	/* a power of 2, over ML_MAX_STACK_DEPTH */

struct ml_unwind_tail {
	__u64 pc, sp;
	__u32 depth;		/* frames from its start on; 0: empty */
	__u64 ip[UNWIND_TAIL_DEPTH];
	__u64 slot[UNWIND_TAIL_DEPTH];	/* where ip[i] was read */
};

/*
 * Rows found before, by module and file offset: a walk's frames are mostly
 * the same few return addresses, and a search of a big table misses the
 * cache at most of its steps.  Measured with gcc's cc1 under libc uprobes:
 * 19 steps a frame, 90% of the frames found here, 3.4 us a malloc before,
 * 2.7 us after.
 */
#define UNWIND_ROW_CACHE	512	/* a power of 2 */

struct ml_unwind_row_cache {
	__u64 key;		/* (first + 1) << 32 | offset; 0: empty */
	struct ml_unwind_row row;
};

/*
 * The user stack is read into buf, not a word at a time: a check of a
 * remembered stack reads its part at once (up to UNWIND_BUF bytes), a walk
 * UNWIND_WALK_READ bytes from the first word not in buf.  Measured with
 * gcc's cc1 under libc uprobes: 1.9 us a malloc before, 1.4 us after.
 */
#define UNWIND_BUF		4096	/* a power of 2 */
#define UNWIND_WALK_READ	1024

struct ml_unwind_state {
	struct ml_ustack stack;
	__u64 buf[UNWIND_BUF / 8];
	__u64 buf_lo, buf_len;	/* user addresses [buf_lo, buf_lo + buf_len) */
	struct ml_unwind_row_cache rows[UNWIND_ROW_CACHE];
	__u64 slot[UNWIND_SLOTS];	/* where stack.ips[i] was read */
	struct ml_unwind_memo memo[UNWIND_MEMO];
	struct ml_unwind_tail tail[UNWIND_TAILS];
	__u32 tail_from;	/* this walk may stop at a remembered tail from here */
	__u32 tail_hit;		/* where it did (0: not): the tails from there are */
	__u64 pc, sp, bp;
	__u64 hash;		/* of the frames so far */
	__u32 depth;
	__u32 done;		/* UNWIND_* */
	__u32 bp_valid;
	/* the mapping of the last pc looked up */
	__u64 vm_start, vm_end, vm_off;
	__u32 first, count;	/* its rows; count 0: frame pointers */
	/* across the thread's stacks: mappings with tables, by mm and layout */
	__u64 mm;
	__u64 tgid;
	__u32 seq;
	__u32 cacheable;
	__u32 cache_next;
	struct ml_unwind_vma cache[UNWIND_VMA_CACHE];
};

enum { UNWIND_RUNNING, UNWIND_COMPLETE, UNWIND_TRUNCATED, UNWIND_AT_TAIL };

/*
 * The walk's state, per thread: a uprobe program can be preempted (a
 * preemptible kernel), so a per-CPU buffer could be taken over mid-walk.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ml_unwind_state);
} unwind_scratch SEC(".maps");

struct ml_unwind_ctx {
	struct ml_unwind_state *st;
};

struct ml_unwind_found {
	__u64 start, end, pgoff;
	__u64 dev, ino;
	int file;
};

static long unwind_vma_cb(struct task_struct *task, struct vm_area_struct *vma,
			  void *data)
{
	struct ml_unwind_found *v = data;
	struct file *f = vma->vm_file;

	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->pgoff = vma->vm_pgoff;
	if (f) {
		struct inode *inode = f->f_inode;

		v->ino = inode->i_ino;
		v->dev = inode->i_sb->s_dev;
		v->file = 1;
	}
	return 0;
}

/* Point st at the mapping of @pc and its rows; false if not mapped. */
static __always_inline bool unwind_find_module(struct ml_unwind_state *st, __u64 pc)
{
	struct ml_unwind_found v = {};
	struct ml_unwind_key key;
	struct ml_unwind_module *m;
	long err;

	if (pc >= st->vm_start && pc < st->vm_end)
		return true;
	if (st->cacheable) {
		for (int i = 0; i < UNWIND_VMA_CACHE; i++) {
			struct ml_unwind_vma *c = &st->cache[i];

			if (c->mm == st->mm && c->seq == st->seq &&
			    pc >= c->start && pc < c->end) {
				st->vm_start = c->start;
				st->vm_end = c->end;
				st->vm_off = c->off;
				st->first = c->first;
				st->count = c->count;
				return true;
			}
		}
	}
	err = bpf_find_vma(bpf_get_current_task_btf(), pc, unwind_vma_cb, &v, 0);
	if (err == -EBUSY) {
		struct ml_unwind_vma_key k = { .tgid = st->tgid,
					.bucket = pc >> UNWIND_BUCKET_SHIFT };
		struct ml_unwind_bucket *bk = bpf_map_lookup_elem(&unwind_vmas, &k);
		struct ml_unwind_vma *c = NULL;

		if (!bk)
			return false;
		for (int i = 0; i < ML_UNWIND_BUCKET_SLOTS; i++)
			if (pc >= bk->slot[i].start && pc < bk->slot[i].end)
				c = &bk->slot[i];
		if (!c)
			return false;
		st->vm_start = c->start;
		st->vm_end = c->end;
		st->vm_off = c->off;
		st->first = c->first;
		st->count = c->count;
		return true;
	}
	if (err || !v.end)
		return false;
	st->vm_start = v.start;
	st->vm_end = v.end;
	st->vm_off = v.pgoff << PAGE_SHIFT;
	st->first = st->count = 0;
	if (v.file) {
		key.dev = v.dev;
		key.ino = v.ino;
		m = bpf_map_lookup_elem(&unwind_modules, &key);
		if (m) {
			st->first = m->first;
			st->count = m->count;
		}
	}
	if (st->count) {
		/* Tables never change once loaded: only the layout can. */
		struct ml_unwind_vma e = {
			.mm = st->mm, .seq = st->seq, .start = st->vm_start,
			.end = st->vm_end, .off = st->vm_off, .first = st->first,
			.count = st->count,
		};
		/*
		 * The (process, bucket) map for the busy case is filled by
		 * user space (lib/unwind/loader.c): at the entry point, and
		 * after every change of the mappings it sees.
		 */
		if (st->cacheable)
			st->cache[st->cache_next++ & (UNWIND_VMA_CACHE - 1)] = e;
	}
	return true;
}

/* The row of file offset @off in rows [first, first + count), or NULL. */
static __always_inline struct ml_unwind_row *unwind_find_row(__u32 first,
							     __u32 count,
							     __u64 off)
{
	__u32 lo = first, hi = first + count, mid;
	struct ml_unwind_row *row;

	for (int i = 0; i < UNWIND_SEARCH_STEPS && lo + 1 < hi; i++) {
		mid = lo + (hi - lo) / 2;
		row = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!row)
			return NULL;
		if (row->pc <= off)
			lo = mid;
		else
			hi = mid;
	}
	row = bpf_map_lookup_elem(&unwind_rows, &lo);
	if (!row || row->pc > off)
		return NULL;
	return row;
}

static __always_inline __u64 unwind_mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	h ^= h >> 29;
	return h;
}

static __always_inline struct ml_unwind_tail *unwind_tail_of(struct ml_unwind_state *st,
							      __u64 pc, __u64 sp)
{
	return &st->tail[((pc >> 2) ^ (sp >> 3)) & (UNWIND_TAILS - 1)];
}

/* Read the user stack from @lo to @hi (or UNWIND_BUF bytes of it) into st->buf. */
static __always_inline void unwind_buf_fill(struct ml_unwind_state *st,
					    __u64 lo, __u64 hi)
{
	__u64 len = hi - lo;

	st->buf_len = 0;
	if (hi <= lo)
		return;
	if (len > UNWIND_BUF)
		len = UNWIND_BUF;
	barrier_var(len);
	if (len < 8 || len > UNWIND_BUF)
		return;
	if (bpf_probe_read_user(st->buf, len, (void *)lo)) {
		/* the stack's top may be nearer: up to the end of the page */
		len = 4096 - (lo & 4095);
		if (len >= hi - lo)
			return;
		barrier_var(len);
		if (len < 8 || len > UNWIND_BUF ||
		    bpf_probe_read_user(st->buf, len, (void *)lo))
			return;
	}
	st->buf_lo = lo;
	st->buf_len = len;
}

/*
 * Read at once where frames 1 to @n - 1 of a remembered stack were read
 * (@slot, of @max entries, a power of 2), for the check of their return
 * addresses.
 */
static __always_inline void unwind_buf_frames(struct ml_unwind_state *st,
					      const __u64 *slot, __u32 n,
					      __u32 max)
{
	if (n > 1 && n <= max)
		unwind_buf_fill(st, slot[1], slot[(n - 1) & (max - 1)] + 8);
}

/*
 * The word at user address @a: from st->buf, filled from @a on if it is
 * not there; false if unreadable (the fill reads up to the end of @a's page
 * at least).
 */
static __always_inline bool unwind_word(struct ml_unwind_state *st, __u64 a,
					__u64 *v)
{
	__u64 o = a - st->buf_lo;

	if (a < st->buf_lo || o + 8 > st->buf_len || (o & 7)) {
		unwind_buf_fill(st, a, a + UNWIND_WALK_READ);
		if (!st->buf_len)
			return false;
		o = 0;
	}
	*v = st->buf[(o / 8) & (UNWIND_BUF / 8 - 1)];
	return true;
}

/* One frame: record st->pc, then compute the caller's pc, sp and bp. */
static long unwind_step(__u32 i, void *data)
{
	struct ml_unwind_state *st = ((struct ml_unwind_ctx *)data)->st;
	__u32 d;
	struct ml_unwind_row *row = NULL;
	__u64 pc, cfa, ra = 0, bp;
	bool use_fp = true;

	if (!st)
		return 1;
	d = st->depth;
	if (d >= ML_MAX_STACK_DEPTH) {
		st->done = UNWIND_TRUNCATED;
		return 1;
	}
	pc = st->pc;
	if ((d == UNWIND_TAIL_AT || d == UNWIND_TAIL_AT2) && d >= st->tail_from) {
		struct ml_unwind_tail *t = unwind_tail_of(st, pc, st->sp);

		if (t->depth && t->pc == pc && t->sp == st->sp) {
			st->done = UNWIND_AT_TAIL;	/* its check, in the caller */
			return 1;
		}
	}
	st->stack.ips[d] = pc;
	{				/* the CFA less 8, for d > 0 */
		__u32 j = d;

		barrier_var(j);
		st->slot[j & (UNWIND_SLOTS - 1)] = st->sp - 8;
	}
	st->depth = d + 1;
	st->hash = unwind_mix(st->hash, pc);

	/* Return addresses: the call is the byte before. */
	if (!unwind_find_module(st, pc - 1)) {
		st->done = UNWIND_TRUNCATED;
		return 1;
	}
	if (st->count) {
		__u32 off = pc - 1 - st->vm_start + st->vm_off;
		__u64 key = (__u64)(st->first + 1) << 32 | off;
		struct ml_unwind_row_cache *rc;

		rc = &st->rows[(off ^ off >> 9) & (UNWIND_ROW_CACHE - 1)];
		if (rc->key == key) {
			row = &rc->row;
		} else {
			row = unwind_find_row(st->first, st->count, off);
			if (row) {
				rc->key = key;
				rc->row = *row;
			}
		}
		if (row && ML_ROW_CFA(row) != ML_CFA_NONE)
			use_fp = false;
	}
	bp = st->bp;
	if (use_fp) {
		/*
		 * No unwind info here: rbp is a frame pointer.  0 marks the
		 * outermost frame (x86-64 psABI), as in ld.so's entry code
		 * that has no CFI; but in a module with no table at all (not
		 * loaded yet) rbp may be anything: not known to be the end.
		 */
		if (!st->bp_valid || !bp) {
			st->done = st->bp_valid && st->count ? UNWIND_COMPLETE :
							       UNWIND_TRUNCATED;
			return 1;
		}
		__u64 pair[2];

		cfa = bp + 16;
		if (cfa <= st->sp || !unwind_word(st, bp, &pair[0]) ||
		    !unwind_word(st, bp + 8, &pair[1])) {
			st->done = UNWIND_TRUNCATED;
			return 1;
		}
		bp = pair[0];
		ra = pair[1];
		goto have_ra;
	} else {
		switch (ML_ROW_CFA(row)) {
		case ML_CFA_RSP:
			cfa = st->sp + (__s64)row->cfa_off * 8;
			break;
		case ML_CFA_RBP:
			if (!st->bp_valid) {
				st->done = UNWIND_TRUNCATED;
				return 1;
			}
			cfa = bp + (__s64)row->cfa_off * 8;
			break;
		case ML_CFA_PLT:
			cfa = st->sp + 8 + ((pc & 15) >= (__u64)row->cfa_off ? 8 : 0);
			break;
		case ML_CFA_END:
			st->done = UNWIND_COMPLETE;
			return 1;
		default:
			st->done = UNWIND_TRUNCATED;
			return 1;
		}
		if (cfa <= st->sp) {
			st->done = UNWIND_TRUNCATED;
			return 1;
		}
		if (ML_ROW_RBP(row) == ML_RBP_CFA && row->rbp_off == -2) {
			/* push %rbp first thing: rbp just under the return address */
			__u64 pair[2];

			if (!unwind_word(st, cfa - 16, &pair[0]) ||
			    !unwind_word(st, cfa - 8, &pair[1])) {
				st->done = UNWIND_TRUNCATED;
				return 1;
			}
			bp = pair[0];
			ra = pair[1];
			goto have_ra;
		}
		if (ML_ROW_RBP(row) == ML_RBP_CFA) {
			if (!unwind_word(st, cfa + (__s64)row->rbp_off * 8, &bp)) {
				st->done = UNWIND_TRUNCATED;
				return 1;
			}
		} else if (ML_ROW_RBP(row) == ML_RBP_UNDEF) {
			st->bp_valid = 0;
		}
	}
	if (cfa <= st->sp || !unwind_word(st, cfa - 8, &ra)) {
		st->done = UNWIND_TRUNCATED;
		return 1;
	}
have_ra:
	if (!ra) {
		st->done = UNWIND_COMPLETE;
		return 1;
	}
	st->pc = ra;
	st->sp = cfa;
	st->bp = bp;
	return 0;
}

/*
 * The mm and its layout sequence (bumped by every mmap write lock, 6.12+):
 * cached mappings of the same mm and sequence are still there.  Without the
 * field, or while a writer holds the lock, nothing is cached.
 */
static __always_inline void unwind_mm_seq(struct ml_unwind_state *st)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	__u32 seq = 1;

	st->cacheable = 0;
	st->mm = (__u64)mm;
	st->tgid = bpf_get_current_pid_tgid() >> 32;
	if (!mm || !bpf_core_field_exists(mm->mm_lock_seq))
		return;
	seq = BPF_CORE_READ(mm, mm_lock_seq.sequence);
	st->seq = seq;
	st->cacheable = !(seq & 1);
}

/*
 * Store st->stack, named by its 64-bit hash @h, once under a sequential id;
 * the id, or -ENOMEM (not counted: see unwind_store()).
 */
static __always_inline __s32 unwind_put(struct ml_unwind_state *st, __u64 h)
{
	__u32 id, *idp;

	/* A stack is stored once: its 64-bit hash names it. */
	idp = bpf_map_lookup_elem(&unwind_ids, &h);
	if (idp)
		return *idp;
	id = __sync_fetch_and_add(&unwind_next_id, 1);
	if (id >= unwind_max_stacks ||
	    bpf_map_update_elem(&unwind_stacks, &id, &st->stack, BPF_ANY))
		return -ENOMEM;
	/* Another CPU may have stored the same stack meanwhile: either id is good. */
	if (bpf_map_update_elem(&unwind_ids, &h, &id, BPF_NOEXIST)) {
		idp = bpf_map_lookup_elem(&unwind_ids, &h);
		if (idp)
			return *idp;
	}
	return id;
}

/* unwind_put(), a stack not stored counted as lost. */
static __always_inline __s32 unwind_store(struct ml_unwind_state *st, __u64 h)
{
	__s32 id = unwind_put(st, h);

	if (id < 0)
		count(ML_CNT_STACK_LOST);
	return id;
}

struct ml_unwind_check {
	struct ml_unwind_state *st;
	struct ml_unwind_memo *m;
	__u32 ok;
};

/* Frame @i of a remembered stack: is its return address still there? */
static long unwind_check_step(__u32 i, void *data)
{
	struct ml_unwind_check *c = data;
	struct ml_unwind_memo *m = c->m;
	__u64 v;

	if (!m || !c->st || i >= m->depth || i >= UNWIND_MEMO_DEPTH)
		return 1;
	if (!i)
		return 0;
	barrier_var(i);
	i &= UNWIND_MEMO_DEPTH - 1;	/* the verifier's bound */
	if (!unwind_word(c->st, m->slot[i], &v) || v != m->ip[i]) {
		c->ok = 0;
		return 1;
	}
	return 0;
}

struct ml_unwind_tail_check {
	struct ml_unwind_state *st;
	struct ml_unwind_tail *t;
	__u64 hash;
	__u32 at;
	__u32 ok;
};

/*
 * Frame @i of a remembered tail: is its return address still there?  It
 * goes in the stack at c->at + @i meanwhile (a walk that goes on after a
 * failed check writes over it).
 */
static long unwind_tail_step(__u32 i, void *data)
{
	struct ml_unwind_tail_check *c = data;
	struct ml_unwind_state *st = c->st;
	struct ml_unwind_tail *t = c->t;
	__u32 d = c->at + i;
	__u64 v;

	if (!st || !t || i >= t->depth || i >= UNWIND_TAIL_DEPTH)
		return 1;
	barrier_var(i);
	i &= UNWIND_TAIL_DEPTH - 1;	/* the verifier's bound */
	if (i && (!unwind_word(st, t->slot[i], &v) || v != t->ip[i])) {
		c->ok = 0;
		return 1;
	}
	barrier_var(d);
	if (d >= ML_MAX_STACK_DEPTH)
		return 1;
	st->stack.ips[d] = t->ip[i];
	st->slot[d & (UNWIND_SLOTS - 1)] = t->slot[i];
	c->hash = unwind_mix(c->hash, t->ip[i]);
	return 0;
}

/*
 * The walk stopped at a remembered tail (st->pc, st->sp at frame
 * st->depth): the stack complete if the tail's return addresses are all
 * still there, else the walk goes on (and may stop at the next).
 */
static __always_inline void unwind_tail(struct ml_unwind_state *st,
					struct ml_unwind_ctx *c)
{
	struct ml_unwind_tail *t = unwind_tail_of(st, st->pc, st->sp);
	struct ml_unwind_tail_check chk = { .st = st, .t = t, .hash = st->hash,
					    .at = st->depth, .ok = 1 };
	__u32 n = t->depth;

	unwind_buf_frames(st, t->slot, n, UNWIND_TAIL_DEPTH);
	bpf_loop(UNWIND_TAIL_DEPTH, unwind_tail_step, &chk, 0);
	if (chk.ok && n && n <= UNWIND_TAIL_DEPTH && chk.at + n <= ML_MAX_STACK_DEPTH) {
		st->tail_hit = chk.at;
		st->depth = chk.at + n;
		st->hash = chk.hash;
		st->done = UNWIND_COMPLETE;
		return;
	}
	st->tail_from = chk.at + 1;
	st->done = UNWIND_RUNNING;
	bpf_loop(ML_MAX_STACK_DEPTH, unwind_step, c, 0);
}

/* Remember the outer part, from frame @at on, of the complete stack just walked. */
static __always_inline void unwind_tail_put(struct ml_unwind_state *st,
					    __u32 depth, __u32 at)
{
	struct ml_unwind_tail *t;
	__u64 pc, sp;

	if ((st->tail_hit && at >= st->tail_hit) || depth <= at ||
	    depth - at > UNWIND_TAIL_DEPTH)
		return;
	pc = st->stack.ips[at];
	sp = st->slot[at] + 8;
	t = unwind_tail_of(st, pc, sp);
	for (__u32 i = 0; i < UNWIND_TAIL_DEPTH && i < depth - at; i++) {
		t->ip[i] = st->stack.ips[at + i];
		t->slot[i] = st->slot[at + i];
	}
	t->pc = pc;
	t->sp = sp;
	t->depth = depth - at;
}

/* Unwind the user stack of @regs; a stack id for unwind_stacks, or -errno. */
static __always_inline __s32 ml_unwind_user_stack(struct pt_regs *regs)
{
	struct ml_unwind_state *st;
	struct ml_unwind_memo *m;
	struct ml_unwind_ctx c;
	__u64 h, pc, sp;
	__u32 depth;
	__s32 id;

	st = bpf_task_storage_get(&unwind_scratch, bpf_get_current_task_btf(), NULL,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count(ML_CNT_STACK_LOST);
		return -ENOMEM;
	}
	pc = PT_REGS_IP(regs);
	sp = PT_REGS_SP(regs);
	st->buf_len = 0;	/* another stack's */
	m = &st->memo[((pc >> 2) ^ (sp >> 3)) & (UNWIND_MEMO - 1)];
	if (m->depth && m->pc == pc && m->sp == sp) {
		struct ml_unwind_check chk = { .st = st, .m = m, .ok = 1 };

		unwind_buf_frames(st, m->slot, m->depth, UNWIND_MEMO_DEPTH);
		bpf_loop(UNWIND_MEMO_DEPTH, unwind_check_step, &chk, 0);
		if (chk.ok)
			return m->id;
	}
	c.st = st;
	st->pc = pc;
	st->sp = sp;
	st->bp = PT_REGS_FP(regs);
	st->bp_valid = 1;
	st->depth = 0;
	st->done = UNWIND_RUNNING;
	st->hash = 0xcbf29ce484222325ULL;
	st->vm_start = st->vm_end = 0;
	st->tail_from = 0;
	st->tail_hit = 0;
	unwind_mm_seq(st);
	bpf_loop(ML_MAX_STACK_DEPTH, unwind_step, &c, 0);
	/* at most one stop a tail start, each where no check failed */
	if (st->done == UNWIND_AT_TAIL)
		unwind_tail(st, &c);
	if (st->done == UNWIND_AT_TAIL)
		unwind_tail(st, &c);

	depth = st->depth;
	h = st->hash;
	if (st->done != UNWIND_COMPLETE) {
		count(ML_CNT_STACK_TRUNCATED);
		if (depth >= ML_MAX_STACK_DEPTH)
			depth = ML_MAX_STACK_DEPTH - 1;
		if (depth < ML_MAX_STACK_DEPTH)
			st->stack.ips[depth] = ML_FRAME_TRUNCATED;
		depth++;
		h = unwind_mix(h, ML_FRAME_TRUNCATED);
	}
	/* Readers stop at the first 0: what follows is stale, unread. */
	if (depth < ML_MAX_STACK_DEPTH)
		st->stack.ips[depth] = 0;
	id = unwind_store(st, h);
	if (id >= 0 && st->done == UNWIND_COMPLETE) {
		unwind_tail_put(st, depth, UNWIND_TAIL_AT);
		unwind_tail_put(st, depth, UNWIND_TAIL_AT2);
	}
	m->depth = 0;
	if (id >= 0 && st->done == UNWIND_COMPLETE && depth <= UNWIND_MEMO_DEPTH) {
		for (__u32 i = 0; i < UNWIND_MEMO_DEPTH && i < depth; i++) {
			m->ip[i] = st->stack.ips[i];
			m->slot[i] = st->slot[i];
		}
		m->pc = pc;
		m->sp = sp;
		m->id = id;
		m->depth = depth;
	}
	return id;
}

/*
 * The user stack of @ctx walked by the kernel along frame pointers
 * (--call-graph fp), stored as unwound stacks are: by the hash of its
 * frames, so two stacks never share a slot (a BPF_MAP_TYPE_STACK_TRACE map
 * keeps one stack per bucket and loses the other: a third of the stacks at
 * 50,000 in 65,536 buckets).
 */
static __always_inline __s32 ml_fp_user_stack(void *ctx)
{
	struct ml_unwind_state *st;
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 depth;
	long n;

	st = bpf_task_storage_get(&unwind_scratch, bpf_get_current_task_btf(), NULL,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count(ML_CNT_STACK_LOST);
		return -ENOMEM;
	}
	n = bpf_get_stack(ctx, st->stack.ips, sizeof(st->stack.ips), BPF_F_USER_STACK);
	if (n < 0) {
		count(ML_CNT_STACK_LOST);
		return n;
	}
	depth = n / sizeof(__u64);
	for (__u32 i = 0; i < ML_MAX_STACK_DEPTH && i < depth; i++)
		h = unwind_mix(h, st->stack.ips[i]);
	if (depth < ML_MAX_STACK_DEPTH)
		st->stack.ips[depth] = 0;
	return unwind_store(st, h);
}

#endif /* MEMLEAK_UNWIND_BPF_H */
