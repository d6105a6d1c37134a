// SPDX-License-Identifier: GPL-2.0
/*
 * libmemleak-preload.so: memleak's fast user-space tracing path.
 *
 * memleak -c / record -- CMD put this library in LD_PRELOAD (or memleak
 * --inject dlopen()s it into a running process and points the GOT entries
 * of the malloc family at the functions exported here).  Each function
 * calls glibc's real allocator (__libc_malloc & co.) and appends what
 * happened to a per-thread batch: kind, pointer, size, realloc's old
 * pointer, a global sequence number and the call stack, walked along
 * frame pointers here (a few ns a frame) and sent as frames only the
 * first time this thread sees it, after that as its hash.  A full batch
 * goes to ml_preload_flush(), whose first instruction is a 5-byte NOP
 * where memleak puts a uprobe (bpf/preload.bpf.c): one probe hit per
 * batch instead of two per call.
 *
 * A block freed by the thread that allocated it before its batch left is
 * simply dropped from the batch (unless memleak -t wants every event).
 * The sequence numbers let BPF put events of different threads back in
 * order: an address freed in one thread's pending batch and reused at
 * once by another is never a lost or an invented leak.
 *
 * Batches are flushed when full, at thread exit, at exit (and _exit),
 * every 200 ms, and when memleak asks through the control block
 * (ml_preload_control: it raises flush_req with process_vm_writev and
 * waits for flush_done) before each report: a flusher thread watches it
 * every 10 ms.  A process killed by a signal loses what its batches hold:
 * memleak, stopped at its exit, counts that through ctl.batches.
 *
 * With sample_bytes (memleak --sample-bytes N) only a Poisson sample of
 * the bytes is recorded, each sampled block with the weight of the
 * allocations it stands for; only the frees of sampled blocks are sent.
 * An allocation that is not sampled costs a thread-local subtraction; a
 * free, a look at the 16 bytes before its block, where a sampled block
 * has a header (sample_hdr) and any other block has libc's chunk header,
 * on the line libc's free reads next; neither takes a lock nor touches a
 * batch.  Injected (memleak -p PID --inject), blocks get no header (they
 * may outlive the redirection to us): a free looks into a lock-free filter
 * of the sampled blocks' addresses instead.
 *
 * Nothing here may call malloc while recording: the per-thread state is
 * mmap()ed, TLS is initial-exec, and a per-thread guard sends calls made
 * from inside the library (dlsym, pthread internals) straight through.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "memleak.h"
#include "preload/memleak-preload.h"

#define EXPORT		__attribute__((visibility("default")))
#define NOINLINE	__attribute__((noinline))
#define TLS		__thread __attribute__((tls_model("initial-exec")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

/*
 * The probe site: a 5-byte NOP and a return.  The kernel turns a uprobe on
 * a NOP5 into a call to a trampoline, much cheaper than an int3 trap.
 * Called by its hidden name: no PLT, whose first call would go through
 * ld.so's resolver, which writes to the calling thread's TLS (the
 * flusher has none of its own).
 */
void ml_preload_flush(struct ml_pl_batch *batch) EXPORT;
void flush_site(struct ml_pl_batch *batch);
__asm__(".text\n"
	".globl " ML_PL_FLUSH_SYM "\n"
	".type " ML_PL_FLUSH_SYM ", @function\n"
	".hidden flush_site\n"
	".p2align 4\n"
	ML_PL_FLUSH_SYM ":\n"
	"flush_site:\n"
	"\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"	/* nopl 0x0(%rax,%rax,1) */
	"\tret\n"
	".size " ML_PL_FLUSH_SYM ", .-" ML_PL_FLUSH_SYM "\n");

EXPORT struct ml_pl_control ml_preload_control = {
	.magic = ML_PL_MAGIC,
	.version = ML_PL_VERSION,
};
#define ctl ml_preload_control

/* ------------------------------------------------------------ state */

#define PEND_SLOTS	512	/* this batch's allocations, by address */
#define SENT_SLOTS	4096	/* stack hashes this thread sent */
#define FLUSH_POLL_NS	10000000L	/* flush requests: every 10 ms */
#define FLUSH_EVERY	20		/* and everything every 200 ms */

#define WALK_CACHE	64	/* per thread */
#define WALK_DEPTH	48	/* frames a cached stack can have */

/*
 * A stack as the unwinder found it: what the check of a call reads (the
 * header and where each return address is, as an offset from sp0) comes
 * first, in a line or two; the frames only when they are sent.
 */
struct walk_entry {
	uintptr_t ra0, sp0;	/* the call site, where its return address is */
	uint64_t hash;		/* of ips[] */
	uint32_t depth;
	uint32_t off[WALK_DEPTH];	/* ips[i] is at sp0 + off[i] (i > 0) */
	uint64_t ips[WALK_DEPTH];
};

struct ml_thread {
	int lock;			/* owner vs the flusher */
	bool live;			/* a thread owns it */
	int64_t *countdown;		/* its thread's, once it drew one */
	struct ml_thread *next;		/* every state ever made */
	uintptr_t stack_lo, stack_hi;	/* bounds for the frame walk */
	uint32_t gen;			/* batch generation (pend[] validity) */
	uint32_t sent_gen;		/* ctl.generation sent[] is for */
	uint64_t alloc_floor;		/* its allocations not handed over are
					   numbered after it; NO_FLOOR: none */
	struct {
		uint64_t addr;
		uint32_t gen, idx;
	} pend[PEND_SLOTS];
	uint64_t sent[SENT_SLOTS];
	struct walk_entry walk[WALK_CACHE];
	struct ml_pl_batch batch;
	struct ml_pl_event events[ML_PL_EVENTS];
	struct ml_pl_stack stacks[ML_PL_STACKS];
};

#define NO_FLOOR	UINT64_MAX

static TLS struct ml_thread *self;
static TLS int guard;		/* inside the library: calls go straight through */
static TLS bool thread_done;	/* past our thread-exit destructor */
/*
 * Sampling, per thread: the count-down to the next sample, the bytes left,
 * which every allocation's size lowers (at or under 0: this one is looked
 * at, in sample_slow()); the sampling.epoch it was drawn in (0: never);
 * and the random stream of the draws.  A change of rate sets every
 * thread's count-down to 0 (sampling_set()), so a count-down drawn at
 * another rate never lets an allocation through unseen.
 */
static TLS int64_t countdown;
static TLS uint32_t countdown_epoch;
static TLS uint64_t rng;

static int init_state;		/* 0 not yet, 1 running, 2 done */
static pid_t owner;		/* the process whose batches these are */
static int list_lock;
static struct ml_thread *threads;
static pthread_key_t exit_key;
static bool have_key;
static bool finished;		/* past our destructor: flush at once */
static unsigned int flush_every = FLUSH_EVERY;	/* polls; 0: only when asked */
static uint64_t seq_counter;
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *,
				  void *(*)(void *), void *);

/*
 * Sampled blocks still allocated: only their frees are sent.  The address
 * space is cut in granules (ml_pl_filter_bit(): 1 KiB at the default
 * rate, wrapping every 64 MiB); a granule's entry holds a sampled block
 * that starts in it, and counts those beyond the first, which go in its
 * stripe's overflow set.  Its bit in the filter, read without a lock by
 * every free, is set while it holds any: a free whose bit is clear goes
 * straight to libc.  A granule's stripe lock guards its entry and bit; a
 * block is counted before malloc returns it and uncounted by its free
 * before libc has it back, so the free of a sampled block always sees its
 * bit.  Sampling a block or freeing it touches three lines: its stripe's,
 * its granule's and its filter word.
 */
#define FILTER_BITS	16
static struct granule {
	uint64_t addr;		/* one of its sampled blocks, or 0 */
	uint64_t more;		/* its blocks in the overflow set */
} granules[1 << FILTER_BITS];	/* 1 MiB, touched as used */
static bool granules_used;
/*
 * In the library's own data: a free's look is one load, no pointer first.
 * Every bit set while every allocation is recorded (no sampling).
 */
static uint64_t filter[(1 << FILTER_BITS) / 64] __attribute__((aligned(64))) = {
	[0 ... (1 << FILTER_BITS) / 64 - 1] = ~0ULL
};

#define SAMPLED_STRIPE_BITS	6
#define SAMPLED_STRIPES	(1 << SAMPLED_STRIPE_BITS)
#define SAMPLED_SLOTS_MIN	256		/* per stripe at first (a page) */
#define SAMPLED_SLOTS_MAX	(1 << 14)	/* per stripe at most */
static struct sampled_set {
	int lock;
	uint32_t used, tomb, cap;	/* cap: slots, a power of 2 */
	uint64_t *slot;			/* 0 empty, 1 deleted, else an address */
} __attribute__((aligned(64))) sampled[SAMPLED_STRIPES];	/* a line each */
static void free_plain(void *p);

/*
 * Read by every call, set while no call runs (sampling_set()): a line no
 * write shares.
 */
static struct {
	uint64_t mean;		/* ctl.sample_bytes */
	unsigned int shift;	/* ml_pl_filter_shift(mean) */
	/*
	 * The process's random key of headers (struct sample_hdr), which
	 * every free compares, whether or not sampled blocks get one now;
	 * before it is drawn, any (headers_made is false).
	 */
	uint64_t key;
	/*
	 * Where a free of a block with no header goes: libc while sampled
	 * blocks get a header, else free_plain().
	 */
	void (*free_next)(void *p);
	uint32_t epoch;		/* raised with every change of mean */
	bool headers;		/* sampled blocks get a header */
} __attribute__((aligned(64))) sampling = {
	.key = 0x9e3779b97f4a7c15ULL, .free_next = free_plain,
};
static uint64_t sample_seed;		/* MEMLEAK_PRELOAD_SEED (tests), 0: none */

/*
 * A sampled block's header, in the 16 bytes before the address the program
 * has: the process's random sampling.key xor that address (0 once freed, so no
 * stale header survives in libc's memory), how far before the address
 * libc's block starts (1 << shift: 16, or a larger alignment), and the
 * sampling.epoch it was sampled in.  Any other block has the end of the
 * previous chunk and its own chunk's size there.  A block with a header is
 * not in the sampled set: its free is recorded if its epoch is the current
 * one.
 */
struct sample_hdr {
	uint64_t key;
	uint32_t shift;
	uint32_t epoch;
};
#define HDR_SHIFT	4	/* its own size */
_Static_assert(sizeof(struct sample_hdr) == 1 << HDR_SHIFT, "sample_hdr");
static bool headers_made;	/* some block may have a header */
static bool injected;		/* malloc_is_ours() said no: no headers */

static void spin_lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/*
 * Memory of our own, never malloc's.  Populated: BPF reads batches with
 * bpf_probe_read_user(), which cannot fault pages in (a stack slot is read
 * whole, past the frames written).
 */
static void *raw_mmap(size_t len)
{
	void *p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * And its unmap, never through our munmap(): that looks the address up in
 * the sampled set, whose stripe lock the caller may hold.
 */
static void raw_munmap(void *p, size_t len)
{
	syscall(SYS_munmap, p, len);
}

static uint64_t now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline uint64_t next_seq(void)
{
	return __atomic_add_fetch(&seq_counter, 1, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------ init */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static void flush_all(void);
static void *flusher(void *arg);
static void thread_exit(void *arg);
static void atfork_child(void);

/*
 * The flusher is a task of the process that libc knows nothing of: a
 * pthread would make a single-threaded program multi-threaded for libc,
 * whose malloc then locks its arena on every call (mallocbench: 17.6 ns a
 * malloc/free pair with a forwarding library, 23.8 ns once one idle
 * pthread exists).  It shares the creating thread's TLS, so it must not
 * write any (errno included): it makes its system calls itself and calls
 * nothing of libc, so it always runs in this library's code (or in the
 * kernel's uprobe trampoline, in a uprobe system call), where memleak
 * --inject never borrows a thread.  It keeps its creator's name, so
 * events it hands over carry the name trace output expects.
 *
 * libc changes the credentials of every pthread when the program calls
 * setuid() & co., not the flusher task's: it would stay root in a daemon
 * that dropped root.  So before such a call the task leaves and a pthread
 * flusher takes over (flusher_to_pthread()).
 */
static int flusher_raw;		/* the flusher is the raw task */
static int flusher_quit;	/* it is asked to leave */

static void start_pthread_flusher(void);

/* Block every signal (@old: to restore): a flusher takes none of the program's. */
static void block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

#ifdef __x86_64__
static long raw_syscall(long nr, long a, long b)
{
	long ret;

	asm volatile ("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b)
		      : "rcx", "r11", "memory");
	return ret;
}

static int flusher_task(void *arg)
{
	flusher(&flusher_raw);
	__atomic_store_n(&flusher_raw, 0, __ATOMIC_RELEASE);
	raw_syscall(SYS_exit, 0, 0);	/* this task only; its stack stays */
	return 0;
}

static void flusher_sleep(const struct timespec *ts)
{
	raw_syscall(SYS_nanosleep, (long)ts, 0);
}

static void start_flusher(void)
{
	const size_t size = 64 * 1024;
	char *stack = raw_mmap(size);
	sigset_t old;

	block_signals(&old);
	__atomic_store_n(&flusher_raw, 1, __ATOMIC_RELEASE);
	if (!stack || clone(flusher_task, stack + size, CLONE_VM | CLONE_FS |
			    CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			    CLONE_SYSVSEM, NULL) <= 0)
		__atomic_store_n(&flusher_raw, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!flusher_raw)
		start_pthread_flusher();
}
#else
static void flusher_sleep(const struct timespec *ts)
{
	nanosleep(ts, NULL);
}

static void start_flusher(void)
{
	start_pthread_flusher();
}
#endif

static void *flusher_thread(void *arg)
{
	guard = 1;		/* nothing of ours is the program's */
	return flusher(NULL);
}

static void start_pthread_flusher(void)
{
	pthread_attr_t attr;
	sigset_t old;
	pthread_t t;

	if (!real_pthread_create)
		return;
	block_signals(&old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	real_pthread_create(&t, &attr, flusher_thread, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The program will change its credentials: a pthread flusher from now on. */
static void flusher_to_pthread(void)
{
	static const struct timespec ms = { .tv_nsec = 1000000 };
	static int lock;

	spin_lock(&lock);
	if (__atomic_load_n(&flusher_raw, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&flusher_quit, 1, __ATOMIC_RELEASE);
		/* it looks every 10 ms; 1 s: it is stopped (a debugger) */
		for (int i = 0; i < 1000 && __atomic_load_n(&flusher_raw,
							       __ATOMIC_ACQUIRE); i++)
			nanosleep(&ms, NULL);
		guard++;
		start_pthread_flusher();
		guard--;
	}
	spin_unlock(&lock);
}

/*
 * Sample a block per @mean bytes from now on (0: record every allocation),
 * with an empty sampled set; each thread draws its count-down anew.  From
 * the constructor, or from ml_preload_configure() with every thread
 * stopped: nothing runs in the library meanwhile.
 */
static void sampling_set(uint64_t mean)
{
	if (mean == sampling.mean)
		return;
	/* every allocation, meanwhile and if there is no memory for the set */
	sampling.mean = 0;
	sampling.epoch++;	/* the headers of earlier means' blocks: out */
	countdown = 0;
	for (struct ml_thread *t = threads; t; t = t->next)
		if (t->live && t->countdown)
			*t->countdown = 0;
	sampling.headers = false;
	sampling.free_next = free_plain;
	memset(filter, 0xff, sizeof(filter));
	if (!mean)
		return;
	for (int i = 0; i < SAMPLED_STRIPES; i++) {
		struct sampled_set *s = &sampled[i];

		if (!s->slot) {
			s->slot = raw_mmap(SAMPLED_SLOTS_MIN * sizeof(uint64_t));
			s->cap = SAMPLED_SLOTS_MIN;
		}
		if (!s->slot) {
			ctl.sample_bytes = 0;
			return;
		}
	}
	/* an earlier mean's blocks and bits */
	memset(filter, 0, sizeof(filter));
	if (granules_used)
		memset(granules, 0, sizeof(granules));
	granules_used = true;
	for (int i = 0; i < SAMPLED_STRIPES; i++) {
		memset(sampled[i].slot, 0, sampled[i].cap * sizeof(uint64_t));
		sampled[i].used = sampled[i].tomb = 0;
	}
	sampling.shift = ml_pl_filter_shift(mean);
	if (!injected) {	/* before any block is sampled at this mean */
		sampling.headers = true;
		sampling.free_next = __libc_free;
		headers_made = true;
	}
	__atomic_store_n(&sampling.mean, mean, __ATOMIC_RELEASE);
}

/*
 * A new memleak -p PID --inject session: the library is loaded already
 * (its constructor saw no rate; an earlier session may have set one and
 * seen stacks).  memleak writes ctl.sample_bytes and calls this in a
 * thread it borrowed, every thread stopped, before it points anything at
 * the library.  Returns the mean it samples at (0: every allocation, also
 * when it has no memory for the sampled set).
 */
EXPORT uint64_t ml_preload_configure(void)
{
	guard++;
	sampling_set(ctl.sample_bytes);
	ctl.generation++;	/* its maps are new: every stack goes again */
	guard--;
	return sampling.mean;
}

/* A random key for the sampled blocks' headers, never 0. */
static uint64_t draw_key(void)
{
	uint64_t k = 0;

	if (syscall(SYS_getrandom, &k, sizeof(k), GRND_NONBLOCK) != sizeof(k))
		k = now_coarse() * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&k ^
		    ((uint64_t)getpid() << 40);
	return k ? k : 1;
}

/*
 * Is the process's malloc ours, as under LD_PRELOAD, for as long as it
 * runs?  Not when memleak --inject dlopen()ed us (it points call sites at
 * us, and back when it leaves), nor behind another preloaded allocator.
 */
static bool malloc_is_ours(void)
{
	Dl_info mine, theirs;
	void *m = dlsym(RTLD_DEFAULT, "malloc");

	return m && dladdr(m, &theirs) && dladdr(&ctl, &mine) &&
	       theirs.dli_fbase == mine.dli_fbase;
}

/*
 * Once, from the constructor: under LD_PRELOAD after libc's, before the
 * program's; dlopen()ed, before anything is pointed at us.  Calls made
 * before (ld.so, libc's own start) pass straight through.
 */
static void ml_init(void)
{
	int zero = 0;

	if (!__atomic_compare_exchange_n(&init_state, &zero, 1, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	guard++;
	/* Config from the environment (memleak -c); memleak may also write ctl. */
	if (!ctl.sample_bytes)
		ctl.sample_bytes = env_u64("MEMLEAK_PRELOAD_SAMPLE_BYTES", 0);
	ctl.flags |= env_u64("MEMLEAK_PRELOAD_FLAGS", 0);
	/* tests: MEMLEAK_PRELOAD_PERIOD_MS=0 flushes only when memleak asks */
	flush_every = env_u64("MEMLEAK_PRELOAD_PERIOD_MS",
			      FLUSH_EVERY * FLUSH_POLL_NS / 1000000) /
		      (FLUSH_POLL_NS / 1000000);
	real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
	owner = getpid();
	have_key = pthread_key_create(&exit_key, thread_exit) == 0;
	pthread_atfork(NULL, NULL, atfork_child);
	sample_seed = env_u64("MEMLEAK_PRELOAD_SEED", 0);
	sampling.key = draw_key();
	injected = !malloc_is_ours();
	sampling_set(ctl.sample_bytes);
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
	start_flusher();
	guard--;
}

__attribute__((constructor)) static void ml_ctor(void)
{
	ml_init();
}

/* This thread's state: a dead thread's, or a new one; NULL if none. */
static struct ml_thread *thread_state(void)
{
	struct ml_thread *t;
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (thread_done)
		return NULL;
	spin_lock(&list_lock);
	for (t = threads; t; t = t->next)
		if (!t->live)
			break;
	if (t)
		t->live = true;
	spin_unlock(&list_lock);
	if (!t) {
		t = raw_mmap(sizeof(*t));
		if (!t)
			return NULL;
		t->live = true;
		t->alloc_floor = NO_FLOOR;
		t->batch.magic = ML_PL_MAGIC;
		t->batch.version = ML_PL_VERSION;
		t->batch.events_off = offsetof(struct ml_thread, events) -
				      offsetof(struct ml_thread, batch);
		t->batch.stacks_off = offsetof(struct ml_thread, stacks) -
				      offsetof(struct ml_thread, batch);
		spin_lock(&list_lock);
		t->next = threads;
		t->batch.next = threads ? (uintptr_t)&threads->batch : 0;
		__atomic_store_n(&threads, t, __ATOMIC_RELEASE);
		ctl.batches = (uintptr_t)&t->batch;
		spin_unlock(&list_lock);
	}
	spin_lock(&t->lock);
	t->batch.tid = syscall(SYS_gettid);	/* a state is reused by later threads */
	t->countdown = NULL;
	t->sent_gen = ctl.generation;
	memset(t->sent, 0, sizeof(t->sent));
	memset(t->walk, 0, sizeof(t->walk));
	t->gen++;
	/* Bounds of this thread's stack, for the frame-pointer walk. */
	t->stack_lo = t->stack_hi = 0;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			t->stack_lo = (uintptr_t)addr;
			t->stack_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&attr);
	}
	spin_unlock(&t->lock);
	if (have_key)
		pthread_setspecific(exit_key, t);
	return t;
}

/* ------------------------------------------------------------ batches */

/*
 * The batch's horizon: the lowest allocation floor of the other threads.
 * A thread sets its floor (the counter's value, seq_cst) before it numbers
 * its first allocation of a batch, and lifts it only once that batch is
 * handed over.  So when a free numbered s was handed over before some
 * other thread's allocation numbered a < s, that thread's floor was set
 * before a was taken, a before s, s before this read: the read sees it.
 * Past HORIZON_STATES thread states the walk would cost more than the
 * tombstones it saves: 0, a tombstone for every free.
 */
#define HORIZON_STATES	64

static uint64_t horizon(const struct ml_thread *t)
{
	uint64_t h = NO_FLOOR, f;
	int n = 0;

	for (struct ml_thread *u = __atomic_load_n(&threads, __ATOMIC_ACQUIRE);
	     u; u = u->next) {
		if (++n > HORIZON_STATES)
			return 0;
		f = __atomic_load_n(&u->alloc_floor, __ATOMIC_SEQ_CST);
		if (u != t && f < h)
			h = f;
	}
	return h;
}

/* Hand the batch over (t locked) and start a new one. */
static void flush_locked(struct ml_thread *t)
{
	if (t->batch.nr_events || t->batch.nr_stacks || t->batch.untracked) {
		t->batch.horizon = horizon(t);
		flush_site(&t->batch);
		__atomic_add_fetch(&ctl.flushes, 1, __ATOMIC_RELAXED);
		t->batch.nr_events = 0;
		t->batch.nr_stacks = 0;
		t->batch.untracked = 0;
		t->gen++;
	}
	/* its allocations are in BPF's maps now (or were cancelled) */
	__atomic_store_n(&t->alloc_floor, NO_FLOOR, __ATOMIC_RELEASE);
}

static void flush_all(void)
{
	struct ml_thread *t;

	/* States are never freed and only added at the head: no list lock. */
	for (t = __atomic_load_n(&threads, __ATOMIC_ACQUIRE); t; t = t->next) {
		spin_lock(&t->lock);
		flush_locked(t);
		spin_unlock(&t->lock);
	}
}

static void *flusher(void *arg)
{
	static const struct timespec ts = { .tv_nsec = FLUSH_POLL_NS };
	unsigned int n = 0;

	for (;;) {
		uint64_t req = __atomic_load_n(&ctl.flush_req, __ATOMIC_ACQUIRE);

		flusher_sleep(&ts);
		if (req != __atomic_load_n(&ctl.flush_done, __ATOMIC_RELAXED) ||
		    (flush_every && ++n % flush_every == 0)) {
			flush_all();
			__atomic_store_n(&ctl.flush_done, req, __ATOMIC_RELEASE);
		}
		if (arg == &flusher_raw &&
		    __atomic_load_n(&flusher_quit, __ATOMIC_ACQUIRE))
			return arg;	/* the raw task, asked to leave */
	}
	return arg;
}

static void thread_exit(void *arg)
{
	struct ml_thread *t = arg;

	guard++;
	spin_lock(&t->lock);
	flush_locked(t);
	t->live = false;
	t->countdown = NULL;
	spin_unlock(&t->lock);
	self = NULL;
	thread_done = true;
	guard--;
}

/*
 * Past the exit flush every event is handed over at once: a flush request
 * is served already (the flusher thread may be gone with the process).
 */
static void set_finished(void)
{
	finished = true;
	__atomic_store_n(&ctl.flush_done, UINT64_MAX, __ATOMIC_RELEASE);
}

__attribute__((destructor)) static void ml_dtor(void)
{
	flush_all();
	set_finished();
}

/*
 * _exit() skips destructors: hand every batch over first.  A lock held
 * for long is a thread stopped inside the library, or this very thread
 * interrupted there by a signal handler that exits: its batch is left.
 * A vfork() child shares its parent's memory (batches included) but not
 * its pid, the probe's filter: it leaves them alone.
 */
static void exit_flush(void)
{
	struct ml_thread *t;

	if (init_state != 2 || syscall(SYS_getpid) != owner)
		return;
	for (t = __atomic_load_n(&threads, __ATOMIC_ACQUIRE); t; t = t->next) {
		int spins = 1 << 20;

		while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
			if (!--spins)
				break;
		if (!spins)
			continue;
		flush_locked(t);
		spin_unlock(&t->lock);
	}
	set_finished();
}

EXPORT void _exit(int status)
{
	exit_flush();
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status) __attribute__((alias("_exit")));

/* In a forked child only this thread is left; its batch was the parent's. */
static void atfork_child(void)
{
	struct ml_thread *t;

	list_lock = 0;
	owner = getpid();
	for (t = threads; t; t = t->next) {
		t->lock = 0;
		t->batch.nr_events = t->batch.nr_stacks = 0;
		t->alloc_floor = NO_FLOOR;
		t->gen++;
		if (t != self)
			t->live = false;
	}
	if (self)
		self->batch.tid = syscall(SYS_gettid);
	for (int i = 0; i < SAMPLED_STRIPES; i++)
		sampled[i].lock = 0;
	/* No flusher here: memleak traces the process it started, not this one. */
	flusher_raw = 0;
}

/* ------------------------------------------------------------ stacks */

/*
 * Stacks are unwound with libgcc's DWARF unwinder (every frame, with or
 * without frame pointers, as the uprobe source's BPF unwinder does), and
 * remembered per call site and stack depth: next time the stack is the
 * same if every return address still sits where the unwinder found it, a
 * check as cheap as a frame-pointer walk.
 */
struct uw {
	uintptr_t ra0, sp0;
	uint64_t *ips;
	uint32_t *off;		/* NULL: where they are does not fit */
	int depth, started;
};

static _Unwind_Reason_Code uw_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct uw *u = arg;
	uintptr_t ip = _Unwind_GetIP(ctx), cfa = _Unwind_GetCFA(ctx);

	if (!u->started) {
		/* our own frames first: start at the caller's */
		if (ip != u->ra0)
			return _URC_NO_REASON;
		u->started = 1;
	}
	if (!ip)
		return _URC_END_OF_STACK;
	if (u->depth >= ML_MAX_STACK_DEPTH - 1) {
		u->ips[u->depth++] = ML_FRAME_TRUNCATED;
		return _URC_END_OF_STACK;
	}
	/*
	 * Where this return address is on the stack: at the CFA libgcc gives
	 * with it, minus 8 (the CFA of the frame that returns to it).
	 */
	if (u->off && u->depth < WALK_DEPTH) {
		if (cfa - 8 > u->sp0 && cfa - 8 - u->sp0 < UINT32_MAX)
			u->off[u->depth] = cfa - 8 - u->sp0;
		else if (u->depth)
			u->off = NULL;
	}
	u->ips[u->depth++] = ip;
	return _URC_NO_REASON;
}

/* The frame-pointer walk, when the unwinder finds nothing. */
static int fp_walk(uintptr_t *fp, uintptr_t ra0, uint64_t *ips,
		   struct ml_thread *t)
{
	uintptr_t lo = (uintptr_t)__builtin_frame_address(0), hi = t->stack_hi;
	int depth = 0;

	ips[depth++] = ra0;
	if (!hi)
		hi = lo + (8 << 20);
	fp = (uintptr_t *)fp[0];
	while (depth < ML_MAX_STACK_DEPTH - 1) {
		uintptr_t ra;

		if ((uintptr_t)fp <= lo || (uintptr_t)fp + 16 > hi ||
		    ((uintptr_t)fp & 7))
			break;
		ra = fp[1];
		if (ra < 4096)
			break;
		ips[depth++] = ra;
		lo = (uintptr_t)fp;
		fp = (uintptr_t *)fp[0];
	}
	return depth;
}

/*
 * Is the stack of this call the one @w remembers?  The return addresses
 * read where the unwinder found them must hash to its stack's hash: a
 * line or two of @w and a load a frame, no frame compared one by one.
 */
static inline bool walk_same(const struct walk_entry *w, uintptr_t sp0,
			     uintptr_t ra0, const struct ml_thread *t)
{
	uint64_t lim = t->stack_hi > sp0 ? t->stack_hi - sp0 : UINT32_MAX;
	uint64_t h = ml_pl_hash_mix(ML_PL_HASH_SEED, ra0);
	uint32_t depth = w->depth;

	if (w->ra0 != ra0 || w->sp0 != sp0 || !depth)
		return false;
	for (uint32_t i = 1; i < depth; i++) {
		if (w->off[i] >= lim)
			return false;
		h = ml_pl_hash_mix(h, *(const uint64_t *)(sp0 + w->off[i]));
	}
	return ml_pl_hash_end(h, depth) == w->hash;
}

/*
 * The caller's stack, leaf first: its depth and hash, and in *@frames
 * where its frames are (@ips, ML_MAX_STACK_DEPTH, or the walk cache's
 * copy).  @fp is the frame of the exported function the program called
 * (its return address, @ra0, at fp + 8).
 */
static NOINLINE int walk_stack(uintptr_t *fp, uintptr_t ra0, uint64_t *ips,
			       const uint64_t **frames, uint64_t *hash,
			       struct ml_thread *t)
{
	uintptr_t sp0 = (uintptr_t)(fp + 1);
	struct walk_entry *w = &t->walk[((ra0 >> 2) ^ (sp0 >> 3)) % WALK_CACHE];
	uint32_t off[WALK_DEPTH];
	struct uw u = { .ra0 = ra0, .sp0 = sp0, .ips = ips, .off = off };
	uint64_t h = ML_PL_HASH_SEED;

	if (walk_same(w, sp0, ra0, t)) {
		*frames = w->ips;
		*hash = w->hash;
		return w->depth;
	}
	*frames = ips;
	_Unwind_Backtrace(uw_frame, &u);
	if (!u.depth)
		u.depth = fp_walk(fp, ra0, ips, t);
	for (int i = 0; i < u.depth; i++)
		h = ml_pl_hash_mix(h, ips[i]);
	*hash = h = ml_pl_hash_end(h, u.depth);
	if (u.started && u.off && u.depth <= WALK_DEPTH) {
		w->ra0 = ra0;
		w->sp0 = sp0;
		w->hash = h;
		w->depth = u.depth;
		memcpy(w->ips, ips, u.depth * sizeof(ips[0]));
		memcpy(w->off, off, u.depth * sizeof(off[0]));
	} else {
		w->depth = 0;
	}
	return u.depth;
}

/* The hash of this call's stack; its frames go in the batch if new here. */
static uint64_t take_stack(struct ml_thread *t, uintptr_t *fp, uintptr_t ra0)
{
	struct ml_pl_stack *s;
	uint64_t ips[ML_MAX_STACK_DEPTH], h;
	const uint64_t *frames;
	uint32_t slot;
	int depth;

	if (ctl.flags & ML_PL_NO_STACKS)
		return 0;
	depth = walk_stack(fp, ra0, ips, &frames, &h, t);

	if (unlikely(t->sent_gen != ctl.generation)) {
		memset(t->sent, 0, sizeof(t->sent));
		t->sent_gen = ctl.generation;
	}
	slot = h & (SENT_SLOTS - 1);
	for (int i = 0; i < 8; i++, slot = (slot + 1) & (SENT_SLOTS - 1)) {
		if (t->sent[slot] == h)
			return h;
		if (!t->sent[slot])
			break;
	}
	/* New here: its frames go first, in this batch. */
	if (t->batch.nr_stacks >= ML_PL_STACKS)
		flush_locked(t);
	s = &t->stacks[t->batch.nr_stacks++];
	s->hash = h;
	memcpy(s->ips, frames, depth * sizeof(frames[0]));
	if (depth < ML_MAX_STACK_DEPTH)
		s->ips[depth] = 0;
	t->sent[slot] = h;	/* a full probe run overwrites: sent again, no harm */
	return h;
}

/* ------------------------------------------------------------ sampling */

/*
 * Where a stripe's probe for @addr starts.
 * A stripe starts at a page of slots and doubles while more than half of
 * them hold blocks: small, it stays in the cache (a set sized for the
 * most blocks it can hold missed it at every sample, a random slot of
 * 8 MiB).
 */
static uint32_t slot_of(uint64_t addr, uint32_t cap)
{
	return (uint32_t)(((addr >> 4) * 0xff51afd7ed558ccdULL) >> 32) & (cap - 1);
}

/*
 * Rebuild stripe @s (locked) without its deleted slots, in @cap slots;
 * false if there is no memory for them (it stays as it was).
 */
static bool stripe_rebuild(struct sampled_set *s, uint32_t cap)
{
	uint64_t *slot = raw_mmap(cap * sizeof(uint64_t));

	if (!slot)
		return false;
	for (uint32_t k = 0; k < s->cap; k++) {
		uint32_t j;

		if (s->slot[k] <= 1)
			continue;
		j = slot_of(s->slot[k], cap);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = s->slot[k];
	}
	raw_munmap(s->slot, s->cap * sizeof(uint64_t));
	s->slot = slot;
	s->cap = cap;
	s->tomb = 0;
	return true;
}

/* May @addr be a sampled block?  Never false for one. */
static inline bool maybe_sampled(uint64_t addr)
{
	uint32_t h = ml_pl_filter_bit(addr, sampling.shift, FILTER_BITS);

	return __atomic_load_n(&filter[h / 64], __ATOMIC_RELAXED) >> (h % 64) & 1;
}

/* Into stripe @s's overflow set (locked); false if full (its free goes unseen). */
static bool overflow_add(struct sampled_set *s, uint64_t addr)
{
	uint32_t i;

	if (!s->slot)
		return false;
	if (s->used + s->tomb + 1 > s->cap * 3 / 4) {
		/* more than half live: twice the slots; else only the deleted go */
		if (s->used + 1 > s->cap / 2 && s->cap < SAMPLED_SLOTS_MAX)
			stripe_rebuild(s, s->cap * 2);
		else if (s->tomb)
			stripe_rebuild(s, s->cap);
	}
	if (s->used >= s->cap * 3 / 4)
		return false;
	i = slot_of(addr, s->cap);
	while (s->slot[i] > 1)
		i = (i + 1) & (s->cap - 1);
	if (s->slot[i] == 1)
		s->tomb--;
	s->slot[i] = addr;
	s->used++;
	return true;
}

/* Out of stripe @s's overflow set (locked): true if it was there. */
static bool overflow_take(struct sampled_set *s, uint64_t addr)
{
	uint32_t i;

	if (!s->slot)
		return false;
	i = slot_of(addr, s->cap);
	for (uint32_t n = 0; n < s->cap && s->slot[i]; n++) {
		if (s->slot[i] == addr) {
			s->used--;
			/*
			 * Followed by an empty slot, no probe runs on past
			 * it: empty, and so are the deleted ones before it.
			 */
			if (!s->slot[(i + 1) & (s->cap - 1)]) {
				s->slot[i] = 0;
				for (i = (i - 1) & (s->cap - 1); s->slot[i] == 1;
				     i = (i - 1) & (s->cap - 1)) {
					s->slot[i] = 0;
					s->tomb--;
				}
			} else {
				s->slot[i] = 1;
				s->tomb++;
			}
			return true;
		}
		i = (i + 1) & (s->cap - 1);
	}
	return false;
}

/*
 * The stripe of granule @h: hashed, since blocks a power of two apart
 * (1 KiB chunks, 64 granules at a sample per 16 bytes) share h's low bits.
 */
static inline struct sampled_set *stripe_of(uint32_t h)
{
	return &sampled[(h * 0x9e3779b1U) >> (32 - SAMPLED_STRIPE_BITS)];
}

/* Into the set of sampled blocks; false if there is no room for it. */
static bool sampled_add(uint64_t addr)
{
	uint32_t h = ml_pl_filter_bit(addr, sampling.shift, FILTER_BITS);
	struct sampled_set *s = stripe_of(h);
	struct granule *g = &granules[h];
	bool ok = true;

	spin_lock(&s->lock);
	if (!g->addr) {
		if (!g->more)	/* its first */
			__atomic_or_fetch(&filter[h / 64], 1ULL << (h % 64),
					  __ATOMIC_RELEASE);
		g->addr = addr;
	} else if (overflow_add(s, addr)) {
		g->more++;
	} else {
		ok = false;
	}
	spin_unlock(&s->lock);
	return ok;
}

/* True if @addr, whose filter bit is set, was a sampled block (it no longer is). */
static bool sampled_take(uint64_t addr)
{
	uint32_t h = ml_pl_filter_bit(addr, sampling.shift, FILTER_BITS);
	struct sampled_set *s = stripe_of(h);
	struct granule *g = &granules[h];
	bool found = false;

	spin_lock(&s->lock);
	if (g->addr == addr) {
		g->addr = 0;
		found = true;
	} else if (g->more && overflow_take(s, addr)) {
		g->more--;
		found = true;
	}
	if (found && !g->addr && !g->more)
		__atomic_and_fetch(&filter[h / 64], ~(1ULL << (h % 64)),
				   __ATOMIC_RELEASE);
	spin_unlock(&s->lock);
	return found;
}

/* ------------------------------------------------------------ recording */

/* The state of this thread, locked, or NULL: do not record. */
static inline struct ml_thread *enter(void)
{
	struct ml_thread *t;

	/* Before our constructor (ld.so, libc's own init): not recorded. */
	if (unlikely(__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2))
		return NULL;
	if (guard || (ctl.flags & ML_PL_OFF))
		return NULL;
	t = self;
	if (unlikely(!t)) {
		guard++;
		t = self = thread_state();
		guard--;
		if (!t)
			return NULL;
	}
	guard++;
	spin_lock(&t->lock);
	return t;
}

static inline void leave(struct ml_thread *t)
{
	if (unlikely(finished))
		flush_locked(t);
	spin_unlock(&t->lock);
	guard--;
}

static inline struct ml_pl_event *new_event(struct ml_thread *t)
{
	if (unlikely(t->batch.nr_events >= ML_PL_EVENTS))
		flush_locked(t);
	if (!t->batch.nr_events)
		t->batch.first_ns = now_coarse();
	return &t->events[t->batch.nr_events++];
}

static inline void remember(struct ml_thread *t, uint64_t addr, uint32_t idx)
{
	uint32_t slot = (addr >> 4) & (PEND_SLOTS - 1);

	for (int i = 0; i < 4; i++, slot = (slot + 1) & (PEND_SLOTS - 1)) {
		if (t->pend[slot].gen != t->gen || t->pend[slot].addr == addr) {
			t->pend[slot].addr = addr;
			t->pend[slot].gen = t->gen;
			t->pend[slot].idx = idx;
			return;
		}
	}
}

/*
 * The event of this batch that allocated @addr, if any (and forget it):
 * a free of it can cancel it instead of travelling.
 */
static inline struct ml_pl_event *pending_alloc(struct ml_thread *t, uint64_t addr)
{
	uint32_t slot = (addr >> 4) & (PEND_SLOTS - 1);

	for (int i = 0; i < 4; i++, slot = (slot + 1) & (PEND_SLOTS - 1)) {
		if (t->pend[slot].gen != t->gen)
			return NULL;
		if (t->pend[slot].addr == addr) {
			uint32_t idx = t->pend[slot].idx;
			struct ml_pl_event *e = &t->events[idx];

			t->pend[slot].gen = t->gen - 1;
			if (idx < t->batch.nr_events && e->addr == addr && (e->kind == ML_PL_ALLOC ||
						e->kind == ML_PL_REALLOC))
				return e;
			return NULL;
		}
	}
	return NULL;
}

/* Take @addr's allocation out of the batch; true if it was there. */
static inline bool cancel_alloc(struct ml_thread *t, uint64_t addr)
{
	struct ml_pl_event *e;

	if (ctl.flags & ML_PL_NO_CANCEL)
		return false;
	e = pending_alloc(t, addr);
	if (!e)
		return false;
	if (e->kind == ML_PL_REALLOC) {
		/* its old block's free must still travel */
		e->kind = ML_PL_FREE;
		e->addr = e->old_addr;
		e->seq = e->free_seq;
		e->old_addr = 0;
		return true;
	}
	if (e == &t->events[t->batch.nr_events - 1])
		t->batch.nr_events--;	/* the common case: the last one */
	else
		e->kind = ML_PL_NONE;
	return true;
}

/*
 * Where sampling_set() finds this thread's count-down, to reset it: in its
 * state, if a thread-exit hook takes it out again (a count-down it cannot
 * reach waits out its distance at the old rate).
 */
static void countdown_register(void)
{
	if (!have_key)
		return;
	if (!self)
		self = thread_state();
	if (self)
		self->countdown = &countdown;
}

/*
 * The weight of a sampled allocation of @size, whose count-down reached 0
 * (or that draws the first count-down of this thread at this rate); 0:
 * not sampled.
 */
static NOINLINE uint32_t sample_slow(uint64_t size)
{
	int64_t left;
	uint32_t w;

	countdown = (int64_t)((uint64_t)countdown + size); /* again below */
	if (guard || init_state != 2)
		return 0;	/* our own allocations are not the program's */
	/*
	 * memleak may change the rate while this thread is stopped in here
	 * (sampling_set()): to every allocation, or (below) to another mean.
	 */
	if (unlikely(!__atomic_load_n(&sampling.mean, __ATOMIC_RELAXED))) {
		countdown = 0;
		return ML_WEIGHT_ONE;
	}
	if (unlikely(countdown_epoch != sampling.epoch)) {
		guard++;
		if (!countdown_epoch)
			rng = sample_seed ? sample_seed + syscall(SYS_gettid) - getpid() :
				(uintptr_t)&rng ^ now_coarse() ^
				((uint64_t)syscall(SYS_gettid) << 32);
		countdown_register();
		guard--;
		countdown_epoch = sampling.epoch;
		countdown = ml_pl_next_sample(&rng, sampling.mean);
	}
	left = countdown;
	w = ml_pl_countdown(&left, &rng, size, sampling.mean);
	countdown = left;
	/* drawn at the old mean, after sampling_set() set it to 0: 0 again */
	if (unlikely(countdown_epoch !=
		     __atomic_load_n(&sampling.epoch, __ATOMIC_RELAXED)))
		countdown = 0;
	return w;
}

/*
 * Sampling, and this allocation of @size is not sampled: true, and all it
 * cost was a subtraction (in place, its flags the answer).  Not sampling,
 * every count-down is at or under 0.
 */
static inline bool unsampled(uint64_t size)
{
#ifdef __x86_64__
	bool above;

	asm("subq %2, %0" : "+m"(countdown), "=@ccg"(above) : "r"(size));
	return likely(above);
#else
	/* atomic: sampling_set() may write it while this thread is stopped */
	return likely(__atomic_sub_fetch(&countdown, (int64_t)size,
					 __ATOMIC_RELAXED) > 0);
#endif
}

/* The weight of an allocation unsampled() said false to. */
static inline uint32_t counted_weight(uint64_t size)
{
	return sampling.mean ? sample_slow(size) : ML_WEIGHT_ONE;
}

/*
 * Is this allocation recorded?  Its weight (ML_WEIGHT_ONE: every one is),
 * or 0.
 */
static inline uint32_t sample_weight(uint64_t size)
{
	return unsampled(size) ? 0 : counted_weight(size);
}

/*
 * Record an allocation of weight @w (0: not sampled); @old, if not NULL,
 * is a block this call freed whose free must travel (realloc, mremap).
 */
static NOINLINE void record_alloc(enum ml_func func, void *p, uint64_t size,
				  uint64_t arg, void *old, uint64_t free_seq,
				  uint32_t w, uintptr_t *fp, uintptr_t ra0)
{
	struct ml_thread *t = enter();
	struct ml_pl_event *e;
	bool send_old = old != NULL;
	uint64_t stack;

	if (!t)
		return;
	/* realloc's old block: allocated in this very batch? */
	if (send_old && cancel_alloc(t, (uintptr_t)old))
		send_old = false;
	/*
	 * A heap block has a header if sampled blocks get one; one with none
	 * that finds no room in the set is not tracked, counted, since its
	 * free would go unseen.
	 */
	if (w && sampling.mean &&
	    (!sampling.headers || func == ML_MMAP || func == ML_MREMAP) &&
	    !sampled_add((uintptr_t)p)) {
		t->batch.untracked++;
		w = 0;
	}
	if (!w) {
		if (send_old) {
			e = new_event(t);
			*e = (struct ml_pl_event){ .seq = free_seq,
				.addr = (uintptr_t)old, .func = func,
				.kind = ML_PL_FREE };
		}
		goto out;
	}
	stack = take_stack(t, fp, ra0);
	e = new_event(t);
	if (t->alloc_floor == NO_FLOOR)
		__atomic_store_n(&t->alloc_floor,
				 __atomic_load_n(&seq_counter, __ATOMIC_RELAXED),
				 __ATOMIC_SEQ_CST);
	*e = (struct ml_pl_event){
		.seq = next_seq(), .free_seq = free_seq, .addr = (uintptr_t)p,
		.size = size, .old_addr = send_old ? (uintptr_t)old : 0,
		.arg = arg, .stack = stack, .weight = w, .func = func,
		.kind = send_old ? ML_PL_REALLOC : ML_PL_ALLOC,
	};
	remember(t, (uintptr_t)p, e - t->events);
out:
	leave(t);
}

static NOINLINE void record_free(enum ml_func func, void *p, uint64_t seq)
{
	struct ml_thread *t = enter();
	struct ml_pl_event *e;

	if (!t)
		return;
	if (cancel_alloc(t, (uintptr_t)p))
		goto out;
	e = new_event(t);
	*e = (struct ml_pl_event){ .seq = seq, .addr = (uintptr_t)p,
				   .func = func, .kind = ML_PL_FREE };
out:
	leave(t);
}

/* The sequence number of a free: taken before the block goes back. */
static inline uint64_t free_seq(void)
{
	return guard || init_state != 2 ? 0 : next_seq();
}

/*
 * Is the free of @p recorded?  Sampling: only a sampled block's, taken out
 * of the set here, before libc has it back (and may hand it to a thread
 * that samples it anew).  Mostly a filter look, no lock.
 */
static inline bool free_recorded(void *p)
{
	if (likely(!sampling.mean))
		return true;
	if (likely(!maybe_sampled((uintptr_t)p)))
		return false;
	return sampled_take((uintptr_t)p);
}

/*
 * @p, a sampled block that a call took out of the set and then failed to
 * free, goes back in.  With no room, BPF forgets it (counted), rather
 * than hold it as a leak whose free it would never see.
 */
static NOINLINE void sampled_readd(enum ml_func func, void *p)
{
	struct ml_thread *t;

	if (sampled_add((uintptr_t)p))
		return;
	record_free(func, p, free_seq());
	t = enter();
	if (t) {
		t->batch.untracked++;
		leave(t);
	}
}

#define FP()	((uintptr_t *)__builtin_frame_address(0))
#define RA()	((uintptr_t)__builtin_return_address(0))

/*
 * An allocation the program made, of weight @w (0: not recorded).
 * @arg: calloc's nmemb, the alignment asked of *memalign, else 0.
 */
#define ALLOCATED(func, p, size, arg, w) do {				\
	uint32_t w_ = (w);						\
									\
	if (w_)								\
		record_alloc(func, p, size, arg, NULL, 0, w_, FP(), RA()); \
} while (0)

/* ------------------------------------------------------------ headers */

static inline struct sample_hdr *hdr_of(void *p)
{
	return (struct sample_hdr *)p - 1;
}

/* Has @p, a block of libc's or ours (not NULL), a sample header? */
static inline bool has_hdr(void *p)
{
	struct sample_hdr *h = hdr_of(p);

	return unlikely(headers_made) &&
	       h->key == (sampling.key ^ (uintptr_t)p) &&
	       h->shift >= HDR_SHIFT && h->shift < 64;
}

/* How far before @p, which has a header, libc's block starts */
static inline size_t hdr_off(void *p)
{
	return (size_t)1 << hdr_of(p)->shift;
}

/*
 * A block of @size for a sampled allocation, aligned to @align (0: as
 * malloc's), zeroed if @zero, behind a header; NULL and errno as libc's.
 */
static NOINLINE void *hdr_alloc(size_t size, size_t align, bool zero)
{
	unsigned int shift = HDR_SHIFT;
	size_t off, total;
	char *base;
	void *p;

	if (align > SIZE_MAX / 2 + 1) {	/* as libc's memalign */
		errno = EINVAL;
		return NULL;
	}
	while (((size_t)1 << shift) < align)
		shift++;
	off = (size_t)1 << shift;
	if (__builtin_add_overflow(size, off, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (shift > HDR_SHIFT)
		base = __libc_memalign(off, total);
	else
		base = zero ? __libc_calloc(1, total) : __libc_malloc(total);
	if (!base)
		return NULL;
	p = base + off;
	*hdr_of(p) = (struct sample_hdr){ .key = sampling.key ^ (uintptr_t)p,
					  .shift = shift, .epoch = sampling.epoch };
	return p;
}

/* Give libc back the block of @p, which has a header: gone with it. */
static inline void hdr_release(void *p)
{
	char *base = (char *)p - hdr_off(p);

	hdr_of(p)->key = 0;
	__libc_free(base);
}

/* Is the free of @p, which has a header, recorded? */
static inline bool hdr_free_recorded(void *p)
{
	return !sampling.mean || hdr_of(p)->epoch == sampling.epoch;
}

/* malloc_usable_size() of libc's block @p */
static size_t libc_usable(void *p)
{
	static size_t (*real)(void *);

	if (!real) {
		guard++;
		real = dlsym(RTLD_NEXT, "malloc_usable_size");
		guard--;
		if (!real)
			return 0;
	}
	return real(p);
}

/* Bytes the program may use at @p (has_hdr(@p): @hdr). */
static size_t usable(void *p, bool hdr)
{
	size_t off = hdr ? hdr_off(p) : 0;

	return libc_usable((char *)p - off) - off;
}

/*
 * A block for an allocation of weight @w (0: not sampled): behind a
 * header if it is sampled and sampled blocks get one, else @libc's.
 */
#define SAMPLED_BLOCK(w, size, align, zero, libc)			\
	((w) && sampling.headers ? hdr_alloc(size, align, zero) : (libc))

/* ------------------------------------------------------------ the API */

/*
 * The fronts of malloc, free and calloc, which every call runs, on a page
 * of their own, malloc's at its start: where they fell among the rest,
 * their cost (mallocbench, 1 thread, under the library alone, sampling
 * nothing) went from +1.7 to +3.9 % with their place in the page, in our
 * machine's CPU (moved in steps of 512 bytes: worst at 0x240 and 0xa40).
 */
#define FRONT_FIRST	__attribute__((section(".text.ml_front"), aligned(4096)))
#define FRONT		__attribute__((section(".text.ml_front"), aligned(64)))

/*
 * malloc, calloc and free come in two halves.  The front does all that
 * most calls of a sampled run need (a count-down, a look at the header)
 * and jumps to libc; every other call jumps to the back half, whose frame
 * is then the one the program's call made (its return address and its
 * saved frame pointer are the caller's), as the stack walk wants.  The
 * library is built with sibling calls (and without a PLT) for these jumps.
 */
static NOINLINE void *malloc_rec(size_t size)
{
	uint32_t w = counted_weight(size);
	void *p = SAMPLED_BLOCK(w, size, 0, false, __libc_malloc(size));

	if (p)
		ALLOCATED(ML_MALLOC, p, size, 0, w);
	return p;
}

EXPORT FRONT_FIRST void *malloc(size_t size)
{
	if (unsampled(size))
		return __libc_malloc(size);
	return malloc_rec(size);
}

static NOINLINE void free_rec(void *p)
{
	if (p && free_recorded(p))
		record_free(ML_FREE, p, free_seq());
	__libc_free(p);
}

/*
 * A free with no header while sampled blocks get none (not sampling,
 * injected), or a block that only looked like it had one: the filter says
 * whether it may be recorded.
 */
static NOINLINE void free_plain(void *p)
{
	if (likely(!maybe_sampled((uintptr_t)p)))
		return __libc_free(p);
	return free_rec(p);
}

/* A free whose 16 bytes before look like a header. */
static NOINLINE void free_hdr(void *p)
{
	if (unlikely(!has_hdr(p)))
		return free_plain(p);	/* the program's bytes */
	if (hdr_free_recorded(p))
		record_free(ML_FREE, p, free_seq());
	hdr_release(p);
}

/*
 * A header is looked for in every mode, so that blocks sampled before a
 * change of rate keep theirs; a block with none goes to libc or, while
 * sampled blocks get none, to free_plain().
 */
EXPORT FRONT void free(void *p)
{
	if (likely(p) &&
	    unlikely(hdr_of(p)->key == (sampling.key ^ (uintptr_t)p)))
		return free_hdr(p);
	return sampling.free_next(p);
}

/*
 * The other names of free: glibc's old cfree, C23's sized frees.  Calls
 * of them must not reach libc with a block that has a header.
 */
EXPORT void cfree(void *p) __attribute__((alias("free"), nothrow, leaf));
void our_free(void *p) __attribute__((alias("free"), nothrow, leaf));

EXPORT void free_sized(void *p, size_t size)
{
	our_free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	our_free(p);
}

static NOINLINE void *calloc_rec(size_t n, size_t size)
{
	size_t bytes;
	uint32_t w;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes))
		return __libc_calloc(n, size);	/* fails, as it must */
	w = counted_weight(bytes);
	p = SAMPLED_BLOCK(w, bytes, 0, true, __libc_calloc(n, size));
	if (p)
		ALLOCATED(ML_CALLOC, p, bytes, n, w);
	return p;
}

EXPORT FRONT void *calloc(size_t n, size_t size)
{
	size_t bytes;

	/* an overflow fails in the back half, not counted */
	if (!__builtin_mul_overflow(n, size, &bytes) && unsampled(bytes))
		return __libc_calloc(n, size);
	return calloc_rec(n, size);
}

/*
 * realloc() from or to a block behind a header, which libc's realloc
 * cannot move: a new block of weight @w, the old one's bytes copied, the
 * old one freed.  @fp and @ra: the program's call.
 */
static NOINLINE void *realloc_move(enum ml_func func, void *old, size_t size,
				   uint64_t arg, uint32_t w, uintptr_t *fp,
				   uintptr_t ra)
{
	bool hdr = old && has_hdr(old);
	bool rec_old = false;
	uint64_t fs = 0;
	void *p = NULL;

	if (!old || size) {
		p = SAMPLED_BLOCK(w, size, 0, false, __libc_malloc(size));
		if (!p)
			return NULL;	/* the old block stays */
		if (old) {
			size_t n = usable(old, hdr);

			memcpy(p, old, n < size ? n : size);
		}
	}
	if (old) {
		rec_old = hdr ? hdr_free_recorded(old) : free_recorded(old);
		fs = rec_old ? free_seq() : 0;
	}
	if (p && (w || rec_old))
		record_alloc(func, p, size, arg, rec_old ? old : NULL, fs, w,
			     fp, ra);
	else if (rec_old)
		record_free(func, old, fs);	/* realloc(p, 0) freed p */
	if (hdr)
		hdr_release(old);
	else
		__libc_free(old);
	return p;
}

/* Inlined: realloc passes its own frame, which a sibling call would pop. */
static inline __attribute__((always_inline))
void *do_realloc(enum ml_func func, void *old, size_t size, uint64_t arg,
		 uintptr_t *fp, uintptr_t ra)
{
	/* drawn first, as for every allocation: it may need a header */
	uint32_t w = !old || size ? sample_weight(size) : 0;
	uint64_t fs;
	bool rec_old;
	void *p;

	/* libc's realloc may not take a header along or make one */
	if ((w && sampling.headers) || (old && has_hdr(old)))
		return realloc_move(func, old, size, arg, w, fp, ra);
	rec_old = old && free_recorded(old);
	fs = rec_old ? free_seq() : 0;
	p = __libc_realloc(old, size);
	if (p) {
		if (w || rec_old)
			record_alloc(func, p, size, arg, rec_old ? old : NULL,
				     fs, w, fp, ra);
	} else if (old && !size) {
		if (rec_old)
			record_free(func, old, fs);	/* realloc(p, 0) freed p */
	} else if (rec_old && sampling.mean) {
		sampled_readd(func, old);	/* failed: still there, sampled */
	}
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	return do_realloc(ML_REALLOC, old, size, 0, FP(), RA());
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(ML_REALLOCARRAY, old, bytes, n, FP(), RA());
}

/*
 * The memalign family's block of @size at @align, recorded as @func with
 * @arg (the alignment asked, or 0).  Inlined, like do_realloc(): @fp and
 * @ra are the program's call.
 */
static inline __attribute__((always_inline))
void *aligned_block(enum ml_func func, size_t align, size_t size, uint64_t arg,
		    uintptr_t *fp, uintptr_t ra)
{
	uint32_t w = sample_weight(size);
	void *p = SAMPLED_BLOCK(w, size, align, false, __libc_memalign(align, size));

	if (p && w)
		record_alloc(func, p, size, arg, NULL, 0, w, fp, ra);
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = aligned_block(ML_POSIX_MEMALIGN, align, size, align, FP(), RA());
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return aligned_block(ML_ALIGNED_ALLOC, align, size, align, FP(), RA());
}

EXPORT void *memalign(size_t align, size_t size)
{
	return aligned_block(ML_MEMALIGN, align, size, align, FP(), RA());
}

EXPORT void *valloc(size_t size)
{
	return aligned_block(ML_VALLOC, sysconf(_SC_PAGESIZE), size, 0, FP(), RA());
}

EXPORT void *pvalloc(size_t size)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t rounded = size ? (size + page - 1) & ~(page - 1) : page;

	return aligned_block(ML_PVALLOC, page, rounded, 0, FP(), RA());
}

EXPORT size_t malloc_usable_size(void *p)
{
	return p ? usable(p, has_hdr(p)) : 0;
}

/*
 * mmap & co. as the program calls them (libc's own calls, malloc's among
 * them, do not come here, as the uprobe source leaves them out too).
 */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	if (p != MAP_FAILED)
		ALLOCATED(ML_MMAP, p, len, 0, sample_weight(len));
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	bool rec = free_recorded(addr);
	uint64_t seq = rec ? free_seq() : 0;
	int r = syscall(SYS_munmap, addr, len);

	if (!r && rec)
		record_free(ML_MUNMAP, addr, seq);
	else if (r && rec && sampling.mean)
		sampled_readd(ML_MUNMAP, addr);	/* failed: still there */
	return r;
}

EXPORT void *mremap(void *old, size_t old_len, size_t len, int flags, ...)
{
	bool rec_old = free_recorded(old);
	uint64_t seq = rec_old ? free_seq() : 0;
	void *new_addr = NULL, *p;
	uint32_t w;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	p = (void *)syscall(SYS_mremap, old, old_len, len, flags, new_addr);
	if (p != MAP_FAILED) {
		w = sample_weight(len);
		if (w || rec_old)
			record_alloc(ML_MREMAP, p, len, 0, rec_old ? old : NULL,
				     seq, w, FP(), RA());
	} else if (rec_old && sampling.mean) {
		sampled_readd(ML_MREMAP, old);	/* failed: still there */
	}
	return p;
}

/*
 * What pthread_create allocates (the new thread's TLS) is libc's business,
 * as the uprobe source counts it.
 */
/*
 * The calls whose change libc makes in every pthread (setxid): the flusher
 * becomes one first.  @args are the parameters' names.
 */
#define SETXID(name, params, args)					\
EXPORT int name params							\
{									\
	static int (*real) params;					\
									\
	if (!real) {							\
		guard++;						\
		real = dlsym(RTLD_NEXT, #name);				\
		guard--;						\
		if (!real) {						\
			errno = ENOSYS;					\
			return -1;					\
		}							\
	}								\
	flusher_to_pthread();						\
	return real args;						\
}

SETXID(setuid, (uid_t uid), (uid))
SETXID(seteuid, (uid_t euid), (euid))
SETXID(setreuid, (uid_t ruid, uid_t euid), (ruid, euid))
SETXID(setresuid, (uid_t ruid, uid_t euid, uid_t suid), (ruid, euid, suid))
SETXID(setgid, (gid_t gid), (gid))
SETXID(setegid, (gid_t egid), (egid))
SETXID(setregid, (gid_t rgid, gid_t egid), (rgid, egid))
SETXID(setresgid, (gid_t rgid, gid_t egid, gid_t sgid), (rgid, egid, sgid))
SETXID(setgroups, (size_t size, const gid_t *list), (size, list))

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	int r;

	if (!real_pthread_create) {
		guard++;
		real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
		guard--;
		if (!real_pthread_create)
			return EAGAIN;
	}
	guard++;
	r = real_pthread_create(th, attr, fn, arg);
	guard--;
	return r;
}
