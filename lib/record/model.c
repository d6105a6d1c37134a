// SPDX-License-Identifier: GPL-2.0
/* A recording, grouped by stack, filtered, sorted and symbolized. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/model.h"
#include "output/text.h"
#include "symbol/kallsyms.h"
#include "symbol/maps.h"
#include "symbol/symbolize.h"
#include "util/sort.h"
#include "util/util.h"

#define MAX_INLINE 16

int ml_rsort_parse(const char *s)
{
	if (!strcmp(s, "bytes") || !strcmp(s, "size"))
		return ML_RSORT_BYTES;
	if (!strcmp(s, "count") || !strcmp(s, "allocs"))
		return ML_RSORT_COUNT;
	if (!strcmp(s, "growth"))
		return ML_RSORT_GROWTH;
	if (!strcmp(s, "age"))
		return ML_RSORT_AGE;
	return -1;
}

double ml_slope(const double *t, const double *y, size_t n)
{
	double st = 0, sy = 0, stt = 0, sty = 0, d;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++) {
		st += t[i];
		sy += y[i];
		stt += t[i] * t[i];
		sty += t[i] * y[i];
	}
	d = n * stt - st * st;
	return d > 0 ? (n * sty - st * sy) / d : 0;
}

const char *ml_rframe_name(const struct ml_rframe *f, char *buf, size_t len)
{
	if (f->func)
		return f->func;
	if (f->module)
		snprintf(buf, len, "[%s+0x%llx]", f->module, (unsigned long long)f->addr);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)f->addr);
	return buf;
}

static bool same_build_id(const char *path, const struct ml_rec_mapping *m)
{
	uint8_t id[ML_BUILD_ID_MAX];
	size_t n = ml_read_build_id(path, id, sizeof(id));

	return n && n == m->build_id_len && !memcmp(id, m->build_id, n);
}

static bool warned_before(const char *path)
{
	static char **seen;
	static size_t n;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(seen[i], path))
			return true;
	seen = xrealloc(seen, (n + 1) * sizeof(*seen));
	seen[n++] = xstrdup(path);
	return false;
}

/* Where the file recorded as @m is on this machine. */
static char *find_file(const struct ml_rec_mapping *m, const char *symfs)
{
	char hex[2 * ML_BUILD_ID_MAX + 1], *p;

	for (uint32_t i = 0; i < m->build_id_len; i++)
		sprintf(hex + 2 * i, "%02x", m->build_id[i]);
	hex[2 * m->build_id_len] = 0;
	if (symfs) {
		p = xasprintf("%s%s", symfs, m->m.path);
		if (!access(p, R_OK))
			return p;
		free(p);
	}
	if (!m->build_id_len || same_build_id(m->m.path, m))
		return xstrdup(m->m.path);
	if (m->build_id_len > 1) {
		const char *const fmt[] = {
			"/usr/lib/debug/.build-id/%.2s/%s.debug",
			"%s/.debug/.build-id/%.2s/%s/elf",
		};

		p = xasprintf(fmt[0], hex, hex + 2);
		if (!access(p, R_OK))
			return p;
		free(p);
		p = xasprintf(fmt[1], getenv("HOME") ? getenv("HOME") : "/root", hex, hex + 2);
		if (!access(p, R_OK))
			return p;
		free(p);
	}
	if (!access(m->m.path, R_OK) && !warned_before(m->m.path))
		ml_warn("%s: build-id differs from the recorded one (%s): the file "
			"changed since; its symbols may be wrong", m->m.path, hex);
	return xstrdup(m->m.path);
}

static int setup_symbols(struct ml_rmodel *m, const char *symfs)
{
	const struct ml_recording *rec = m->rec;

	m->maps = ml_maps_new(0);
	for (size_t i = 0; i < rec->nmaps; i++) {
		struct ml_mapping mm = rec->maps[i].m;
		char *path = find_file(&rec->maps[i], symfs);

		mm.path = path;
		ml_maps_add(m->maps, &mm);
		free(path);
	}
	m->sym = ml_symbolizer_new(m->maps);
	if (rec->nksyms) {
		char tmpl[] = "/tmp/memleak-ksyms-XXXXXX";
		int fd = mkstemp(tmpl);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

		if (!f) {
			ml_err("cannot write a temporary file: %s", strerror(errno));
			return -1;
		}
		for (size_t i = 0; i < rec->nksyms; i++) {
			const struct ml_rec_ksym *k = &rec->ksyms[i];

			fprintf(f, "%016llx t %s", (unsigned long long)k->addr, k->name);
			if (k->module)
				fprintf(f, "\t[%s]", k->module);
			fputc('\n', f);
		}
		fclose(f);
		m->ksyms_file = xstrdup(tmpl);
		m->ksyms = ml_ksyms_load(tmpl);
		if (m->ksyms)
			ml_symbolizer_set_kernel(m->sym, m->ksyms);
	}
	return 0;
}

static int cmp_total(const void *a, const void *b)
{
	const struct ml_rec_total *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* @b by stack, then address (a radix sort: millions of blocks). */
static void sort_by_stack(struct ml_block *b, size_t n)
{
	struct ml_sort_rec *k = xmalloc((n + 1) * sizeof(*k));
	struct ml_block *tmp = xmalloc((n + 1) * sizeof(*tmp));

	for (size_t i = 0; i < n; i++) {
		k[i].key = ml_sort_signed(b[i].stack_id);
		k[i].sub = b[i].addr;
		k[i].idx = i;
	}
	ml_sort_recs(k, n);
	for (size_t i = 0; i < n; i++)
		tmp[i] = b[k[i].idx];
	memcpy(b, tmp, n * sizeof(*b));
	free(tmp);
	free(k);
}

static enum ml_rsort sort_key;

static int cmp_entry(const void *a, const void *b)
{
	const struct ml_rentry *x = a, *y = b;

	switch (sort_key) {
	case ML_RSORT_COUNT:
		if (x->count != y->count)
			return x->count > y->count ? -1 : 1;
		break;
	case ML_RSORT_GROWTH:
		if (x->growth != y->growth)
			return x->growth > y->growth ? -1 : 1;
		break;
	case ML_RSORT_AGE:
		if (x->first_ns != y->first_ns)
			return x->first_ns < y->first_ns ? -1 : 1;
		break;
	default:
		break;
	}
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static const char *lost_why(int32_t id)
{
	if (id == ML_STACK_NONE)
		return "[no stack: --call-graph none]";
	if (id == -17)
		return "[stack lost: hash collision in the stack map]";
	if (id == -12)
		return "[stack lost: stack map full]";
	if (id < 0)
		return "[stack lost]";
	return "[stack missing from the recording]";
}

static void symbolize_entry(struct ml_rmodel *m, struct ml_rentry *e)
{
	const struct ml_rec_stack *st = e->stack_id >= 0 ?
					ml_recording_stack(m->rec, e->stack_id) : NULL;
	struct ml_frame f[MAX_INLINE];
	size_t cap = 0;
	int skip = 0;

	if (!st || !st->depth) {
		e->why = lost_why(st ? -1000 : e->stack_id);
		if (st)
			e->why = "[empty stack]";
		return;
	}
	if (st->kind == ML_STACK_KERNEL)
		skip = ml_tracing_frames(st->ips, st->depth, m->sym);
	for (int i = skip; i < st->depth; i++) {
		uint64_t ip = st->ips[i];
		int n;
		const struct ml_mapping *mp = ml_maps_find(m->maps, ip);
		bool kernel = ip >= ML_KERNEL_START;

		if (ip == ML_FRAME_TRUNCATED) {
			/* the unwinder stopped short: say so in every format */
			f[0] = (struct ml_frame){ .addr = ip, .func = "[truncated]",
						  .module = "truncated" };
			n = 1;
			kernel = false;
			mp = NULL;
		} else {
			n = ml_symbolize(m->sym, ip, true, f, MAX_INLINE);
		}
		if (n < 1) {
			f[0] = (struct ml_frame){ .addr = ip };
			n = 1;
		}
		if (e->nframes + n > cap) {
			cap = (e->nframes + n) * 2;
			e->frames = xrealloc(e->frames, cap * sizeof(*e->frames));
		}
		for (int k = 0; k < n; k++) {
			struct ml_rframe *r = &e->frames[e->nframes++];

			*r = (struct ml_rframe){
				.addr = ip, .func = f[k].func, .offset = f[k].offset,
				.module = f[k].module, .file = f[k].file,
				.line = f[k].line, .inlined = f[k].inlined,
				.kernel = kernel, .map = -1,
			};
			if (kernel) {
				r->dso = "[kernel.kallsyms]";
			} else if (mp) {
				r->dso = mp->path;
				for (size_t j = 0; j < m->rec->nmaps; j++)
					if (m->rec->maps[j].m.start == mp->start) {
						r->map = j;
						break;
					}
			}
		}
	}
}

static bool has_symbol(const struct ml_rentry *e, const char *sym)
{
	for (size_t i = 0; i < e->nframes; i++)
		if (e->frames[i].func && !strcmp(e->frames[i].func, sym))
			return true;
	return false;
}

static void compute_growth(struct ml_rmodel *m)
{
	const struct ml_recording *rec = m->rec;
	size_t ns = rec->nsnaps;
	double *t = xcalloc(ns + 1, sizeof(double)), *y = xcalloc(ns + 1, sizeof(double));
	struct ml_rec_total **sorted = xcalloc(ns + 1, sizeof(*sorted));

	for (size_t s = 0; s < ns; s++) {
		sorted[s] = xmalloc(rec->snaps[s].n * sizeof(**sorted) + 1);
		if (rec->snaps[s].n) {
			memcpy(sorted[s], rec->snaps[s].v, rec->snaps[s].n * sizeof(**sorted));
			qsort(sorted[s], rec->snaps[s].n, sizeof(**sorted), cmp_total);
		}
		t[s] = (rec->snaps[s].time_ns - rec->start_mono_ns) / 1e9;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct ml_rentry *e = &m->v[i];

		for (size_t s = 0; s < ns; s++) {
			struct ml_rec_total key = { .stack_id = e->stack_id }, *hit;

			hit = bsearch(&key, sorted[s], rec->snaps[s].n, sizeof(key), cmp_total);
			y[s] = hit ? hit->bytes : 0;
		}
		e->growth = ml_slope(t, y, ns);
	}
	for (size_t s = 0; s < ns; s++)
		free(sorted[s]);
	free(sorted);
	free(t);
	free(y);
}

int ml_rmodel_build(struct ml_rmodel *m, const struct ml_recording *rec,
		    const struct ml_rfilter *f, enum ml_rsort sort, const char *symfs)
{
	uint64_t end = rec->end_mono_ns;
	size_t keep = 0;

	memset(m, 0, sizeof(*m));
	m->rec = rec;
	m->duration_s = end > rec->start_mono_ns ? (end - rec->start_mono_ns) / 1e9 : 0;
	if (setup_symbols(m, symfs))
		return -1;

	if (rec->have_blocks) {
		struct ml_block *b = xmalloc(rec->nblocks * sizeof(*b) + 1);
		size_t nb = 0;

		for (size_t i = 0; i < rec->nblocks; i++) {
			const struct ml_block *x = &rec->blocks[i];
			const char *comm = ml_recording_comm(rec, x->pid);

			if (!comm && x->pid == rec->pid)
				comm = rec->comm;

			m->all_bytes += x->size;
			m->all_count++;
			if (x->backing)
				continue;
			if (f->pid >= 0 && x->pid != (uint64_t)f->pid)
				continue;
			if (f->comm && (!comm || strcmp(comm, f->comm)))
				continue;
			if (x->size < f->min_size)
				continue;
			if (f->older_ms && (end < x->timestamp_ns ||
					    end - x->timestamp_ns < f->older_ms * 1000000))
				continue;
			b[nb++] = *x;
		}
		sort_by_stack(b, nb);
		m->v = xcalloc(nb + 1, sizeof(*m->v));
		for (size_t i = 0, j; i < nb; i = j) {
			struct ml_rentry *e = &m->v[m->n++];

			e->stack_id = b[i].stack_id;
			e->pid = b[i].pid;
			e->first_ns = b[i].timestamp_ns;
			for (j = i; j < nb && b[j].stack_id == b[i].stack_id; j++) {
				e->bytes += b[j].size;
				e->count++;
				if (b[j].timestamp_ns < e->first_ns)
					e->first_ns = b[j].timestamp_ns;
			}
			e->blocks = xmalloc((j - i) * sizeof(*b));
			memcpy(e->blocks, b + i, (j - i) * sizeof(*b));
			e->nblocks = j - i;
		}
		free(b);
	} else if (rec->nsnaps) {
		const struct ml_rec_snapshot *s = &rec->snaps[rec->nsnaps - 1];

		m->from_snapshot = true;
		m->v = xcalloc(s->n + 1, sizeof(*m->v));
		for (size_t i = 0; i < s->n; i++) {
			struct ml_rentry *e = &m->v[m->n++];

			e->stack_id = s->v[i].stack_id;
			e->pid = s->v[i].pid ? s->v[i].pid : rec->pid;
			e->bytes = s->v[i].bytes;
			e->count = s->v[i].count;
			m->all_bytes += e->bytes;
			m->all_count += e->count;
		}
	}
	compute_growth(m);
	for (size_t i = 0; i < m->n; i++) {
		struct ml_rentry *e = &m->v[i];

		e->comm = ml_recording_comm(m->rec, e->pid);
		if (!e->comm && e->pid == rec->pid && rec->comm && *rec->comm)
			e->comm = rec->comm;
		if (!e->comm || !*e->comm)
			e->comm = "[unknown]";
		symbolize_entry(m, e);
		if (f->symbol && !has_symbol(e, f->symbol)) {
			free(e->frames);
			free(e->blocks);
			continue;
		}
		m->bytes += e->bytes;
		m->count += e->count;
		m->v[keep++] = *e;
	}
	m->n = keep;
	sort_key = sort;
	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
	return 0;
}

void ml_rmodel_free(struct ml_rmodel *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].frames);
		free(m->v[i].blocks);
	}
	free(m->v);
	if (m->sym)
		ml_symbolizer_free(m->sym);
	if (m->maps)
		ml_maps_free(m->maps);
	ml_ksyms_free(m->ksyms);
	if (m->ksyms_file) {
		unlink(m->ksyms_file);
		free(m->ksyms_file);
	}
	memset(m, 0, sizeof(*m));
}
