// SPDX-License-Identifier: GPL-2.0
/*
 * memleak report --format perf-data: a perf.data file that perf report and
 * perf script read.  One event, "memleak:outstanding"; one sample per
 * stack with its call chain, period and weight = outstanding bytes; COMM
 * and MMAP records name the threads and the mapped files; the header's
 * features carry the event name, build-ids, host and command line.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/formats.h"
#include "symbol/symbolize.h"
#include "util/util.h"

#define PERF_MAGIC2	0x32454c4946524550ULL	/* "PERFILE2" */
#define NAME_ALIGN	64
#define ALIGN(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* perf's header feature bits */
enum {
	FEAT_BUILD_ID = 2,
	FEAT_HOSTNAME = 3,
	FEAT_OSRELEASE = 4,
	FEAT_VERSION = 5,
	FEAT_ARCH = 6,
	FEAT_NRCPUS = 7,
	FEAT_CMDLINE = 11,
	FEAT_EVENT_DESC = 12,
};

struct section {
	uint64_t offset, size;
};

struct file_header {
	uint64_t magic, size, attr_size;
	struct section attrs, data, event_types;
	uint64_t features[4];
};

struct out {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct out *o, const void *d, size_t n)
{
	if (!n)
		return;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 4096;
		o->p = xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void put_u64(struct out *o, uint64_t v)
{
	put(o, &v, 8);
}

static void put_u32(struct out *o, uint32_t v)
{
	put(o, &v, 4);
}

static void put_zero(struct out *o, size_t n)
{
	static const uint8_t z[NAME_ALIGN];

	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);

		put(o, z, k);
		n -= k;
	}
}

/* A string as perf's header features store them: u32 len, padded string. */
static void put_hstring(struct out *o, const char *s)
{
	size_t n = strlen(s) + 1, len = ALIGN(n, NAME_ALIGN);

	put_u32(o, len);
	put(o, s, n);
	put_zero(o, len - n);
}

static void put_header(struct out *o, uint32_t type, uint16_t misc, uint16_t size)
{
	struct perf_event_header h = { .type = type, .misc = misc, .size = size };

	put(o, &h, sizeof(h));
}

static void comm_record(struct out *o, uint32_t pid, const char *comm)
{
	size_t n = strlen(comm) + 1, len = ALIGN(n, 8);

	put_header(o, PERF_RECORD_COMM, 0, sizeof(struct perf_event_header) + 8 + len);
	put_u32(o, pid);
	put_u32(o, pid);
	put(o, comm, n);
	put_zero(o, len - n);
}

static void mmap_record(struct out *o, uint16_t misc, uint32_t pid, uint64_t start,
			uint64_t len, uint64_t pgoff, const char *path)
{
	size_t n = strlen(path) + 1, plen = ALIGN(n, 8);

	put_header(o, PERF_RECORD_MMAP, misc,
		   sizeof(struct perf_event_header) + 8 + 24 + plen);
	put_u32(o, pid);
	put_u32(o, pid);
	put_u64(o, start);
	put_u64(o, len);
	put_u64(o, pgoff);
	put(o, path, n);
	put_zero(o, plen - n);
}

static const uint64_t sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				    PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN |
				    PERF_SAMPLE_WEIGHT;

static void sample_record(struct out *o, const struct ml_rentry *e, uint64_t time)
{
	uint64_t *ips = xmalloc((e->nframes + 2) * sizeof(uint64_t));
	size_t n = 0;
	bool kernel = e->nframes && e->frames[0].kernel;

	ips[n++] = kernel ? PERF_CONTEXT_KERNEL : PERF_CONTEXT_USER;
	for (size_t k = 0; k < e->nframes; k++) {
		if (k && e->frames[k].addr == e->frames[k - 1].addr)
			continue;	/* inlined frames share an address */
		if (k && e->frames[k].kernel != e->frames[k - 1].kernel)
			ips[n++] = e->frames[k].kernel ? PERF_CONTEXT_KERNEL :
				   PERF_CONTEXT_USER;
		ips[n++] = e->frames[k].addr;
	}
	put_header(o, PERF_RECORD_SAMPLE,
		   kernel ? PERF_RECORD_MISC_KERNEL : PERF_RECORD_MISC_USER,
		   sizeof(struct perf_event_header) + 8 * (7 + n));
	put_u64(o, e->nframes ? e->frames[0].addr : 0);		/* IP */
	put_u32(o, e->pid);					/* TID */
	put_u32(o, e->pid);
	put_u64(o, time);					/* TIME */
	put_u64(o, 0);						/* CPU, res */
	put_u64(o, e->bytes);					/* PERIOD */
	put_u64(o, n);						/* CALLCHAIN */
	put(o, ips, n * 8);
	put_u64(o, e->bytes);					/* WEIGHT */
	free(ips);
}

static struct perf_event_attr event_attr(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(struct perf_event_attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = 1,
		.sample_type = sample_type,
		.disabled = 0,
	};

	return a;
}

static bool seen_pid(const uint32_t *v, size_t n, uint32_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

int ml_fmt_perfdata(FILE *fout, const struct ml_rmodel *m, const struct ml_fmt_opts *fo)
{
	const struct ml_recording *r = m->rec;
	struct file_header h = { .magic = PERF_MAGIC2, .size = sizeof(h) };
	struct perf_event_attr attr = event_attr();
	struct out o = {};
	uint32_t *pids = xcalloc(m->n + 2, sizeof(uint32_t));
	size_t npids = 0, nfeat = 0, feat_at;
	uint64_t id = 1, ids_at, kstart = UINT64_MAX;
	bool kernel = false;
	struct section *fs;
	int feats[] = { FEAT_BUILD_ID, FEAT_HOSTNAME, FEAT_OSRELEASE, FEAT_VERSION,
			FEAT_ARCH, FEAT_NRCPUS, FEAT_CMDLINE, FEAT_EVENT_DESC };
	int ret = 0;

	h.attr_size = sizeof(attr) + sizeof(struct section);
	put(&o, &h, sizeof(h));
	/* the ids of the one event, then its attr */
	ids_at = o.len;
	put_u64(&o, id);
	h.attrs.offset = o.len;
	put(&o, &attr, sizeof(attr));
	put_u64(&o, ids_at);
	put_u64(&o, 8);
	h.attrs.size = o.len - h.attrs.offset;

	h.data.offset = o.len;
	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];

		if (!seen_pid(pids, npids, e->pid)) {
			pids[npids++] = e->pid;
			comm_record(&o, e->pid, e->comm);
		}
		for (size_t k = 0; k < e->nframes; k++)
			kernel |= e->frames[k].kernel;
	}
	for (size_t i = 0; i < r->nksyms; i++)
		if (!strcmp(r->ksyms[i].name, "_text"))
			kstart = r->ksyms[i].addr;
	if (kernel) {
		if (kstart == UINT64_MAX)
			kstart = ML_KERNEL_START;
		mmap_record(&o, PERF_RECORD_MISC_KERNEL, -1, kstart, ~0ULL - kstart,
			    kstart, "[kernel.kallsyms]_text");
	}
	for (size_t p = 0; p < npids; p++)
		for (size_t i = 0; i < r->nmaps && pids[p]; i++) {
			const struct ml_mapping *mp = &r->maps[i].m;

			if (mp->exec)
				mmap_record(&o, PERF_RECORD_MISC_USER, pids[p], mp->start,
					    mp->end - mp->start, mp->pgoff, mp->path);
		}
	for (size_t i = 0; i < m->n; i++) {
		if (!ml_fmt_keep(m, fo, i))
			continue;
		sample_record(&o, &m->v[i], m->v[i].first_ns ? m->v[i].first_ns :
			      r->end_mono_ns);
	}
	h.data.size = o.len - h.data.offset;

	/* features: the section table, then each feature's data */
	for (size_t i = 0; i < ARRAY_SIZE(feats); i++)
		h.features[feats[i] / 64] |= 1ULL << (feats[i] % 64);
	nfeat = ARRAY_SIZE(feats);
	feat_at = o.len;
	put_zero(&o, nfeat * sizeof(struct section));
	for (size_t f = 0; f < nfeat; f++) {
		size_t start = o.len;

		switch (feats[f]) {
		case FEAT_BUILD_ID:
			for (size_t i = 0; i < r->nmaps; i++) {
				const struct ml_rec_mapping *mp = &r->maps[i];
				size_t n = strlen(mp->m.path) + 1, plen = ALIGN(n, NAME_ALIGN);
				bool dup = false;
				uint8_t bid[24] = {};

				for (size_t j = 0; j < i && !dup; j++)
					dup = !strcmp(r->maps[j].m.path, mp->m.path);
				if (dup || mp->build_id_len != 20)
					continue;
				memcpy(bid, mp->build_id, 20);
				put_header(&o, 0, PERF_RECORD_MISC_USER,
					   sizeof(struct perf_event_header) + 4 + 24 + plen);
				put_u32(&o, r->pid ? r->pid : (uint32_t)-1);
				put(&o, bid, 24);
				put(&o, mp->m.path, n);
				put_zero(&o, plen - n);
			}
			break;
		case FEAT_HOSTNAME:
			put_hstring(&o, ml_recording_meta(r, "host") ?: "unknown");
			break;
		case FEAT_OSRELEASE:
			put_hstring(&o, ml_recording_meta(r, "release") ?: "unknown");
			break;
		case FEAT_VERSION:
			put_hstring(&o, "memleak " MEMLEAK_VERSION);
			break;
		case FEAT_ARCH:
			put_hstring(&o, ml_recording_meta(r, "machine") ?: "x86_64");
			break;
		case FEAT_NRCPUS: {
			long n = sysconf(_SC_NPROCESSORS_CONF);

			put_u32(&o, n > 0 ? n : 1);
			put_u32(&o, n > 0 ? n : 1);
			break;
		}
		case FEAT_CMDLINE:
			put_u32(&o, 1);
			put_hstring(&o, r->cmdline ?: "memleak record");
			break;
		case FEAT_EVENT_DESC:
			put_u32(&o, 1);
			put_u32(&o, sizeof(attr));
			put(&o, &attr, sizeof(attr));
			put_u32(&o, 1);
			put_hstring(&o, "memleak:outstanding");
			put_u64(&o, id);
			break;
		}
		fs = (struct section *)(o.p + feat_at) + f;
		fs->offset = start;
		fs->size = o.len - start;
	}
	memcpy(o.p, &h, sizeof(h));
	if (fwrite(o.p, 1, o.len, fout) != o.len)
		ret = -EIO;
	free(o.p);
	free(pids);
	return ret;
}
