// SPDX-License-Identifier: GPL-2.0
/*
 * memleak record: trace like "memleak top" but write what "memleak report"
 * needs to a data file (default memleak.data): the outstanding totals per
 * stack every INTERVAL (snapshots), the stacks and the mappings they point
 * into (with build-ids), and at the end the outstanding blocks, the loss
 * counters and, in kernel mode, the kernel symbol table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "subcmd/builtin.h"
#include "analysis/kernel.h"
#include "options/options.h"
#include "record/data.h"
#include "session/session.h"
#include "symbol/kallsyms.h"
#include "symbol/maps.h"
#include "util/util.h"

struct record {
	struct ml_opts o;
	struct ml_rec_writer w;
	const char *path;
	char *cmdline;
	uint64_t start_ns;
	/* what was written already */
	int32_t *stacks;
	size_t nstacks, cap_stacks;
	struct ml_rec_mapping *maps;
	size_t nmaps;
	struct ml_rec_comm *comms;
	size_t ncomms;
	uint64_t nsnaps, nblocks;
	uint64_t snap_ns, snap_end_ns;	/* the last snapshot's cost, its end */
	bool done;
};

void record_usage(FILE *out)
{
	fprintf(out,
"usage: memleak record [-o FILE] [-p PID | -c COMMAND | -- COMMAND [ARGS...]]\n"
"                      [--kernel] [--duration SECONDS] [-s RATE] [-z MIN] [-Z MAX]\n"
"                      [-O OBJ] [--symbols-prefix PFX] [--call-graph fp|dwarf|none]\n"
"                      [INTERVAL]\n"
"\n"
"Trace outstanding allocations like 'memleak top' and write them to a data\n"
"file for 'memleak report' (on this or another machine), until Ctrl-C, the\n"
"--duration, or the command's exit.\n"
"\n"
"options:\n"
"  -o, --output FILE      data file (default memleak.data; an existing one\n"
"                         is renamed FILE.old; '-' for stdout)\n"
"  -p, --pid PID          trace this running process\n"
"  -c, --command COMMAND  run COMMAND and trace it from its first instruction\n"
"  -- COMMAND [ARGS...]   the same, as separate words\n"
"  --kernel               kernel allocations (the default without -p/-c);\n"
"                         --cgroup, --backend, -P, --vmlinux as in 'top'\n"
"  --duration SECONDS     stop after SECONDS\n"
"  INTERVAL               seconds between snapshots of the per-stack totals\n"
"                         (default 1): 'report --sort growth' uses them\n"
"  -s, -z, -Z, -O, --symbols-prefix, --call-graph, --max-allocs,\n"
"  --stack-map-size, --combined-only, --no-preload, --sample-bytes, -v:\n"
"                         as in 'memleak top -h'\n"
"\n"
"examples:\n"
"  memleak record -- ./server --port 8080\n"
"  memleak record -p $(pidof server) --duration 60 -o server.data\n"
"  memleak record --kernel --duration 10\n"
"  memleak report -i server.data\n"
"\n"
"See memleak-record(1).\n");
}

static bool stack_written(struct record *rc, int32_t id)
{
	size_t lo = 0, hi = rc->nstacks;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rc->stacks[mid] == id)
			return true;
		if (rc->stacks[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (rc->nstacks == rc->cap_stacks) {
		rc->cap_stacks = rc->cap_stacks * 2 + 64;
		rc->stacks = xrealloc(rc->stacks, rc->cap_stacks * sizeof(int32_t));
	}
	memmove(rc->stacks + lo + 1, rc->stacks + lo, (rc->nstacks - lo) * sizeof(int32_t));
	rc->stacks[lo] = id;
	rc->nstacks++;
	return false;
}

/* Stacks the totals name that were not written yet. */
static void write_stacks(struct ml_session *s, struct record *rc,
			 const struct ml_rec_total *t, size_t n)
{
	struct ml_rec_stack *v = xcalloc(n + 1, sizeof(*v));
	size_t nv = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t ips[ML_MAX_STACK_DEPTH];
		int depth;

		if (t[i].stack_id < 0 || stack_written(rc, t[i].stack_id))
			continue;
		depth = ml_tracker_stack(&s->src.tracker, t[i].stack_id, ips,
					 ML_MAX_STACK_DEPTH);
		v[nv].id = t[i].stack_id;
		v[nv].kind = s->src.tracker.kernel ? ML_STACK_KERNEL : ML_STACK_USER;
		v[nv].depth = depth > 0 ? depth : 0;
		v[nv].ips = xmalloc(v[nv].depth * sizeof(uint64_t) + 1);
		memcpy(v[nv].ips, ips, v[nv].depth * sizeof(uint64_t));
		nv++;
	}
	if (nv)
		ml_rec_write_stacks(&rc->w, v, nv);
	for (size_t i = 0; i < nv; i++)
		free(v[i].ips);
	free(v);
}

/* Mappings of the process not written yet (executable, file-backed). */
static void write_maps(struct ml_session *s, struct record *rc)
{
	size_t n;

	if (!s->pid || s->o->kernel)
		return;
	if (ml_pid_alive(s->pid))
		ml_maps_refresh(s->maps);
	n = ml_maps_count(s->maps);
	for (size_t i = 0; i < n; i++) {
		const struct ml_mapping *m = ml_maps_get(s->maps, i);
		struct ml_rec_mapping rm = { .m = *m };
		bool seen = false;
		char *proc;

		if (!m->path || m->path[0] != '/')
			continue;
		for (size_t j = 0; j < rc->nmaps && !seen; j++)
			seen = rc->maps[j].m.start == m->start && rc->maps[j].m.end == m->end &&
			       rc->maps[j].m.pgoff == m->pgoff &&
			       !strcmp(rc->maps[j].m.path, m->path);
		if (seen)
			continue;
		for (size_t j = 0; j < rc->nmaps && !rm.build_id_len; j++)
			if (!strcmp(rc->maps[j].m.path, m->path)) {
				rm.build_id_len = rc->maps[j].build_id_len;
				memcpy(rm.build_id, rc->maps[j].build_id, ML_BUILD_ID_MAX);
			}
		if (!rm.build_id_len) {
			proc = xasprintf("/proc/%d/root%s", s->pid, m->path);
			rm.build_id_len = ml_read_build_id(proc, rm.build_id, ML_BUILD_ID_MAX);
			if (!rm.build_id_len)
				rm.build_id_len = ml_read_build_id(m->path, rm.build_id,
								   ML_BUILD_ID_MAX);
			free(proc);
		}
		ml_rec_write_mapping(&rc->w, &rm);
		rm.m.path = xstrdup(m->path);
		rc->maps = xrealloc(rc->maps, (rc->nmaps + 1) * sizeof(rm));
		rc->maps[rc->nmaps++] = rm;
	}
}

static bool read_comm(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok && buf[0];
}

/* comm of each pid not seen before, while it is still alive. */
static void write_comms(struct record *rc, const struct ml_block *b, size_t n,
			uint32_t target)
{
	struct ml_rec_comm *v = NULL;
	size_t nv = 0;

	for (size_t i = 0; i <= n; i++) {
		uint32_t pid = i < n ? b[i].pid : target;
		struct ml_rec_comm c = { .pid = pid };
		bool seen = !pid;

		for (size_t j = 0; j < rc->ncomms && !seen; j++)
			seen = rc->comms[j].pid == pid;
		for (size_t j = 0; j < nv && !seen; j++)
			seen = v[j].pid == pid;
		if (seen || !read_comm(pid, c.comm, sizeof(c.comm)))
			continue;
		/* a -c child that has not exec'd yet is still "memleak" */
		if (pid == target && !strcmp(c.comm, "memleak"))
			continue;
		v = xrealloc(v, (nv + 1) * sizeof(*v));
		v[nv++] = c;
	}
	if (nv) {
		ml_rec_write_comms(&rc->w, v, nv);
		rc->comms = xrealloc(rc->comms, (rc->ncomms + nv) * sizeof(*v));
		memcpy(rc->comms + rc->ncomms, v, nv * sizeof(*v));
		rc->ncomms += nv;
	}
	free(v);
}

static int cmp_block_stack(const void *a, const void *b)
{
	const struct ml_block *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Per-stack totals of @b (sorted by stack as a side effect); *out malloc()ed. */
static size_t totals_of(struct ml_block *b, size_t n, struct ml_rec_total **out)
{
	struct ml_rec_total *t = xcalloc(n + 1, sizeof(*t));
	size_t nt = 0;

	if (n)
		qsort(b, n, sizeof(*b), cmp_block_stack);
	for (size_t i = 0; i < n; i++) {
		if (b[i].backing)
			continue;
		if (!nt || t[nt - 1].stack_id != b[i].stack_id)
			t[nt++].stack_id = b[i].stack_id;
		t[nt - 1].bytes += ml_block_bytes(&b[i]);
		t[nt - 1].count += ml_block_weight(&b[i]);	/* rounded below */
	}
	for (size_t i = 0; i < nt; i++)
		t[i].count = ml_weight_count(t[i].count);
	*out = t;
	return nt;
}

static void write_caches(struct ml_session *s, struct record *rc,
			 const struct ml_block *b, size_t n)
{
	struct ml_rec_cache *v = NULL;
	size_t nv = 0;
	char name[128];

	for (size_t i = 0; i < n; i++) {
		bool seen = !b[i].cache;

		for (size_t j = 0; j < nv && !seen; j++)
			seen = v[j].id == b[i].cache;
		if (seen || ml_tracker_cache_name(&s->src.tracker, b[i].cache, name,
						  sizeof(name)))
			continue;
		v = xrealloc(v, (nv + 1) * sizeof(*v));
		v[nv].id = b[i].cache;
		v[nv++].name = xstrdup(name);
	}
	if (nv)
		ml_rec_write_caches(&rc->w, v, nv);
	for (size_t i = 0; i < nv; i++)
		free(v[i].name);
	free(v);
}

/* One part: new mappings and stacks, a snapshot; at the end the blocks too. */
static void record_part(struct ml_session *s, struct record *rc, bool last)
{
	struct ml_block *blocks = NULL;
	struct ml_rec_total *tot = NULL;
	size_t nt = 0;
	long n = 0;
	uint64_t now;

	if (s->src.ops->sync)
		s->src.ops->sync(&s->src);
	if (s->src.ops->drain)
		s->src.ops->drain(&s->src);
	now = ml_now_ns();
	write_maps(s, rc);
	if (s->o->combined_only) {
		struct ml_stack_total *t;

		n = ml_tracker_totals(&s->src.tracker, &t);
		if (n >= 0) {
			tot = xcalloc(n + 1, sizeof(*tot));
			for (long i = 0; i < n; i++)
				tot[i] = (struct ml_rec_total){ .stack_id = t[i].stack_id,
					.bytes = t[i].bytes, .count = t[i].count };
			nt = n;
			free(t);
		}
	} else {
		n = ml_tracker_blocks(&s->src.tracker, &blocks);
		if (n >= 0) {
			if (s->src.tracker.kernel)
				ml_kernel_classify(blocks, n, &s->src.tracker, s->sym);
			nt = totals_of(blocks, n, &tot);
		}
	}
	if (n < 0) {
		ml_err("cannot read outstanding allocations: %s", strerror(-n));
		n = 0;
	}
	write_comms(rc, blocks, blocks ? n : 0, s->pid);
	write_stacks(s, rc, tot, nt);
	ml_rec_write_snapshot(&rc->w, now, tot, nt);
	rc->nsnaps++;
	if (last) {
		uint64_t c[ML_CNT_MAX], misses;

		if (blocks) {
			write_caches(s, rc, blocks, n);
			ml_rec_write_blocks(&rc->w, blocks, n);
			rc->nblocks = n;
		}
		ml_session_losses(s, c, &misses);
		ml_rec_write_counters(&rc->w, c, misses);
		ml_rec_write_end(&rc->w, now, (uint64_t)time(NULL) * 1000000000ull);
		rc->done = true;
	}
	ml_rec_writer_flush(&rc->w);
	free(tot);
	free(blocks);
}

static bool record_tick(struct ml_session *s, enum ml_tick why)
{
	struct record *rc = s->priv;
	bool last = why != ML_TICK_INTERVAL ||
		    (rc->o.duration && ml_now_ns() - rc->start_ns >= rc->o.duration * 1000000000ull) ||
		    (rc->o.count && rc->nsnaps + 1 >= rc->o.count);

	uint64_t now = ml_now_ns();

	if (rc->done)
		return true;
	/*
	 * A snapshot reads every outstanding block: about 0.5 s per million.
	 * Snapshots are spaced so that reading them takes at most a tenth of
	 * the time, instead of keeping a CPU busy and the interval late.
	 */
	if (!last && now - rc->snap_end_ns < 9 * rc->snap_ns) {
		ml_debug("snapshot skipped: the last one took %.3f s",
			 rc->snap_ns / 1e9);
		return false;
	}
	record_part(s, rc, last);
	rc->snap_end_ns = ml_now_ns();
	rc->snap_ns = rc->snap_end_ns - now;
	return last;
}

static void record_started(struct ml_session *s)
{
	struct record *rc = s->priv;
	struct utsname u;
	struct timespec ts;
	char host[256] = "", pid[16], mono[32], wall[32], interval[32], rate[32],
	     minsz[32], maxsz[32], kernel[4], comm[ML_COMM_LEN + 1] = "";
	const char *keys[] = {
		"memleak_version", "format", "cmdline", "command", "pid", "comm",
		"kernel", "start_mono_ns", "start_wall_ns", "host", "release",
		"machine", "interval_s", "sample_rate", "min_size", "max_size", "obj",
	};
	const char *values[ARRAY_SIZE(keys)];

	clock_gettime(CLOCK_REALTIME, &ts);
	rc->start_ns = s->start_ns;
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", s->pid);
	snprintf(mono, sizeof(mono), "%llu", (unsigned long long)s->start_ns);
	snprintf(wall, sizeof(wall), "%llu",
		 (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec);
	snprintf(interval, sizeof(interval), "%llu", (unsigned long long)s->o->interval);
	snprintf(rate, sizeof(rate), "%llu", (unsigned long long)s->o->sample_rate);
	snprintf(minsz, sizeof(minsz), "%llu", (unsigned long long)s->o->min_size);
	snprintf(maxsz, sizeof(maxsz), "%llu", (unsigned long long)s->o->max_size);
	snprintf(kernel, sizeof(kernel), "%d", s->o->kernel);
	if (s->pid && !s->target.child)
		read_comm(s->pid, comm, sizeof(comm));
	if (!comm[0] && s->o->command) {
		/* the command's program name, as the kernel will call it */
		const char *p = s->o->command, *e;

		p += strspn(p, " '\"");
		e = p + strcspn(p, " '\"");
		for (const char *q = p; q < e; q++)
			if (*q == '/')
				p = q + 1;
		snprintf(comm, sizeof(comm), "%.*s", (int)(e - p), p);
	}
	values[0] = MEMLEAK_VERSION;
	values[1] = "memleak.data";
	values[2] = rc->cmdline;
	values[3] = s->o->command ? s->o->command : "";
	values[4] = pid;
	values[5] = comm;
	values[6] = kernel;
	values[7] = mono;
	values[8] = wall;
	values[9] = host;
	values[10] = u.release;
	values[11] = u.machine;
	values[12] = interval;
	values[13] = rate;
	values[14] = minsz;
	values[15] = maxsz;
	values[16] = s->o->obj ? s->o->obj : "";
	ml_rec_write_meta(&rc->w, ARRAY_SIZE(keys), keys, values);
	if (s->ksyms) {
		size_t n = ml_ksyms_count(s->ksyms);
		struct ml_rec_ksym *v = xcalloc(n + 1, sizeof(*v));

		for (size_t i = 0; i < n; i++) {
			const struct ml_ksym *k = ml_ksyms_get(s->ksyms, i);

			v[i] = (struct ml_rec_ksym){ .addr = k->addr,
				.name = (char *)k->name, .module = (char *)k->module };
		}
		ml_rec_write_ksyms(&rc->w, v, n);
		free(v);
	}
	/* a -c child has not exec'd yet: its mappings are memleak's */
	if (!s->target.child)
		write_maps(s, rc);
	ml_rec_writer_flush(&rc->w);
}

static const struct ml_session_ops record_ops = {
	.started = record_started,
	.tick = record_tick,
};

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = xcalloc(1, len);
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

int cmd_record(int argc, char **argv)
{
	struct record rc = {};
	struct ml_session s;
	char *old, *saved = NULL;
	int ret, err;

	ret = ml_parse_options_flags(argc, argv, &rc.o, record_usage, ML_OPT_RECORD);
	if (ret >= 0)
		return ret;
	if (rc.o.trace || rc.o.show_allocs) {
		ml_err("-t/--trace and -a/--show-allocs are for 'memleak top'; "
		       "'memleak report' shows each block with -a");
		free(rc.o.command_buf);
		return 2;
	}
	rc.o.group = 0;		/* a recording keeps stacks; report groups */
	rc.path = rc.o.output ? rc.o.output : "memleak.data";
	rc.cmdline = join_args(argc, argv);
	rc.cmdline = xasprintf("memleak %s", old = rc.cmdline);
	free(old);
	/* as perf: an existing file becomes FILE.old (back if nothing is recorded) */
	if (strcmp(rc.path, "-") && !access(rc.path, F_OK)) {
		saved = xasprintf("%s.old", rc.path);
		if (rename(rc.path, saved)) {
			free(saved);
			saved = NULL;
		}
	}
	err = ml_rec_writer_open(&rc.w, rc.path);
	if (err) {
		ml_err("cannot write %s: %s", rc.path, strerror(-err));
		if (saved)
			rename(saved, rc.path);
		free(saved);
		free(rc.cmdline);
		free(rc.o.command_buf);
		return 1;
	}
	ret = ml_session_open(&s, &rc.o, &record_ops, &rc, stderr);
	if (ret >= 0) {
		ml_rec_writer_close(&rc.w);
		if (strcmp(rc.path, "-"))
			unlink(rc.path);
		if (saved)
			rename(saved, rc.path);
		free(saved);
		free(rc.cmdline);
		free(rc.o.command_buf);
		return ret;
	}
	free(saved);
	ret = ml_session_run(&s);
	if (!rc.done)
		record_part(&s, &rc, true);
	ml_session_close(&s);
	err = ml_rec_writer_close(&rc.w);
	if (err) {
		ml_err("cannot write %s: %s", rc.path, strerror(-err));
		ret = ret ? ret : 1;
	} else {
		fprintf(stderr, "[ memleak record: wrote %.3f MB to %s: %llu outstanding "
			"blocks, %zu stacks, %llu snapshots ]\n", rc.w.bytes / 1e6, rc.path,
			(unsigned long long)rc.nblocks, rc.nstacks,
			(unsigned long long)rc.nsnaps);
	}
	for (size_t i = 0; i < rc.nmaps; i++)
		free(rc.maps[i].m.path);
	free(rc.maps);
	free(rc.stacks);
	free(rc.comms);
	free(rc.cmdline);
	free(rc.o.command_buf);
	return ret;
}
