// SPDX-License-Identifier: GPL-2.0
/*
 * memleak report --format pprof: a gzipped profile.proto (the message of
 * github.com/google/pprof/proto/profile.proto) with inuse_objects and
 * inuse_space per stack, locations, functions with file names, and the
 * mappings with their build-ids, for pprof, Parca and Pyroscope.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "output/formats.h"
#include "symbol/symbolize.h"
#include "util/util.h"

struct pb {
	uint8_t *p;
	size_t len, cap;
};

static void pb_raw(struct pb *b, const void *d, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	uint8_t t[10];
	int n = 0;

	do {
		t[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	pb_raw(b, t, n);
}

/* A varint field (int64, uint64, bool); zero values are left out. */
static void pb_uint(struct pb *b, int field, uint64_t v)
{
	if (!v)
		return;
	pb_varint(b, (uint64_t)field << 3);
	pb_varint(b, v);
}

static void pb_bytes(struct pb *b, int field, const void *d, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	pb_raw(b, d, n);
}

/* Append @sub as a length-delimited field and empty it. */
static void pb_msg(struct pb *b, int field, struct pb *sub)
{
	pb_bytes(b, field, sub->p, sub->len);
	sub->len = 0;
}

/* ---------------------------------------------------------------- tables */

struct strtab {
	char **v;
	size_t n;
	size_t *slot;		/* hash slots: index + 1 */
	size_t nslots;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int64_t str_id(struct strtab *t, const char *s)
{
	size_t i;

	if (!s)
		s = "";
	if (t->n * 2 >= t->nslots) {
		size_t ns = t->nslots ? t->nslots * 2 : 1024;

		free(t->slot);
		t->slot = xcalloc(ns, sizeof(size_t));
		t->nslots = ns;
		for (size_t k = 0; k < t->n; k++) {
			i = hash_str(t->v[k]) & (ns - 1);
			while (t->slot[i])
				i = (i + 1) & (ns - 1);
			t->slot[i] = k + 1;
		}
	}
	i = hash_str(s) & (t->nslots - 1);
	while (t->slot[i]) {
		if (!strcmp(t->v[t->slot[i] - 1], s))
			return t->slot[i] - 1;
		i = (i + 1) & (t->nslots - 1);
	}
	t->v = xrealloc(t->v, (t->n + 1) * sizeof(char *));
	t->v[t->n] = xstrdup(s);
	t->slot[i] = ++t->n;
	return t->n - 1;
}

/* address -> location id, function (name, file) -> function id */
struct idmap {
	uint64_t *keys;
	uint64_t *vals;
	size_t n, cap;
};

static uint64_t *idmap_slot(struct idmap *m, uint64_t key)
{
	size_t i;

	if (m->n * 2 >= m->cap) {
		struct idmap old = *m;

		m->cap = m->cap ? m->cap * 2 : 1024;
		m->keys = xcalloc(m->cap, sizeof(uint64_t));
		m->vals = xcalloc(m->cap, sizeof(uint64_t));
		m->n = 0;
		for (size_t k = 0; k < old.cap; k++)
			if (old.vals[k])
				*idmap_slot(m, old.keys[k]) = old.vals[k];
		free(old.keys);
		free(old.vals);
	}
	i = (key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
	while (m->vals[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->vals[i]) {
		m->keys[i] = key;
		m->n++;
	}
	return &m->vals[i];
}

static int gzip_out(FILE *out, const struct pb *b)
{
	z_stream z = {};
	uint8_t buf[65536];
	int zr;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = b->p;
	z.avail_in = b->len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = deflate(&z, Z_FINISH);
		if (fwrite(buf, 1, sizeof(buf) - z.avail_out, out) !=
		    sizeof(buf) - z.avail_out) {
			deflateEnd(&z);
			return -EIO;
		}
	} while (zr == Z_OK);
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -EIO;
}

int ml_fmt_pprof(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	const struct ml_recording *r = m->rec;
	struct pb prof = {}, sub = {}, line = {}, locs = {}, funcs = {};
	struct strtab st = {};
	struct idmap locmap = {}, funcmap = {};
	uint64_t nlocs = 0, nfuncs = 0, kmap = r->nmaps + 1;
	bool kernel_used = false;
	char hex[2 * ML_BUILD_ID_MAX + 1];
	int ret;

	str_id(&st, "");
	/* sample types: inuse_objects (count), inuse_space (bytes) */
	pb_uint(&sub, 1, str_id(&st, "inuse_objects"));
	pb_uint(&sub, 2, str_id(&st, "count"));
	pb_msg(&prof, 1, &sub);
	pb_uint(&sub, 1, str_id(&st, "inuse_space"));
	pb_uint(&sub, 2, str_id(&st, "bytes"));
	pb_msg(&prof, 1, &sub);

	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];
		struct pb sample = {}, ids = {}, vals = {};

		if (!ml_fmt_keep(m, o, i))
			continue;
		for (size_t k = 0; k < e->nframes;) {
			const struct ml_rframe *f = &e->frames[k];
			size_t j = k;
			uint64_t *loc = idmap_slot(&locmap, f->addr);

			while (j < e->nframes && e->frames[j].addr == f->addr)
				j++;
			if (!*loc) {
				struct pb l = {};

				*loc = ++nlocs;
				pb_uint(&l, 1, *loc);
				if (f->map >= 0)
					pb_uint(&l, 2, f->map + 1);
				else if (f->kernel)
					pb_uint(&l, 2, kmap), kernel_used = true;
				pb_uint(&l, 3, f->addr);
				/* lines: innermost inlined first, the real function last */
				for (size_t x = k; x < j; x++) {
					const struct ml_rframe *g = &e->frames[x];
					char name[64];
					const char *fn = ml_rframe_name(g, name, sizeof(name));
					uint64_t key = hash_str(fn) ^ (hash_str(g->file ? g->file : "") * 31);
					uint64_t *fid = idmap_slot(&funcmap, key ? key : 1);

					if (!*fid) {
						*fid = ++nfuncs;
						pb_uint(&sub, 1, *fid);
						pb_uint(&sub, 2, str_id(&st, fn));
						pb_uint(&sub, 3, str_id(&st, fn));
						pb_uint(&sub, 4, str_id(&st, g->file));
						pb_msg(&funcs, 5, &sub);
					}
					pb_uint(&line, 1, *fid);
					pb_uint(&line, 2, g->line > 0 ? g->line : 0);
					pb_msg(&l, 4, &line);
				}
				pb_msg(&locs, 4, &l);
				free(l.p);
			}
			pb_varint(&ids, *loc);
			k = j;
		}
		if (ids.len)
			pb_bytes(&sample, 1, ids.p, ids.len);
		pb_varint(&vals, e->count);
		pb_varint(&vals, e->bytes);
		pb_bytes(&sample, 2, vals.p, vals.len);
		pb_uint(&sub, 1, str_id(&st, "comm"));
		pb_uint(&sub, 2, str_id(&st, e->comm));
		pb_msg(&sample, 3, &sub);
		pb_uint(&sub, 1, str_id(&st, "pid"));
		pb_uint(&sub, 3, e->pid);
		pb_msg(&sample, 3, &sub);
		if (!e->nframes) {
			pb_uint(&sub, 1, str_id(&st, "stack"));
			pb_uint(&sub, 2, str_id(&st, e->why));
			pb_msg(&sample, 3, &sub);
		}
		pb_msg(&prof, 2, &sample);
		free(sample.p);
		free(ids.p);
		free(vals.p);
	}
	/* mappings: id = index + 1; the kernel after them */
	for (size_t i = 0; i < r->nmaps; i++) {
		const struct ml_rec_mapping *mp = &r->maps[i];

		for (uint32_t k = 0; k < mp->build_id_len; k++)
			sprintf(hex + 2 * k, "%02x", mp->build_id[k]);
		hex[2 * mp->build_id_len] = 0;
		pb_uint(&sub, 1, i + 1);
		pb_uint(&sub, 2, mp->m.start);
		pb_uint(&sub, 3, mp->m.end);
		pb_uint(&sub, 4, mp->m.pgoff);
		pb_uint(&sub, 5, str_id(&st, mp->m.path));
		pb_uint(&sub, 6, str_id(&st, hex));
		pb_uint(&sub, 7, 1);
		pb_uint(&sub, 8, 1);
		pb_uint(&sub, 9, 1);
		pb_uint(&sub, 10, 1);
		pb_msg(&prof, 3, &sub);
	}
	if (kernel_used) {
		pb_uint(&sub, 1, kmap);
		pb_uint(&sub, 2, ML_KERNEL_START);
		pb_uint(&sub, 3, UINT64_MAX);
		pb_uint(&sub, 5, str_id(&st, "[kernel.kallsyms]"));
		pb_uint(&sub, 7, 1);
		pb_msg(&prof, 3, &sub);
	}
	pb_raw(&prof, locs.p, locs.len);
	pb_raw(&prof, funcs.p, funcs.len);
	/* time, duration, period type, comment, default sample type */
	{
		int64_t def = str_id(&st, "inuse_space"), bytes = str_id(&st, "bytes"),
			space = str_id(&st, "space");
		char *comment = xasprintf("memleak: %s", r->cmdline ? r->cmdline : "");
		int64_t cid = str_id(&st, comment);

		free(comment);
		for (size_t i = 0; i < st.n; i++)
			pb_bytes(&prof, 6, st.v[i], strlen(st.v[i]));
		pb_uint(&prof, 9, r->start_wall_ns);
		pb_uint(&prof, 10, (uint64_t)(m->duration_s * 1e9));
		pb_uint(&sub, 1, space);
		pb_uint(&sub, 2, bytes);
		pb_msg(&prof, 11, &sub);
		pb_uint(&prof, 12, 1);
		pb_uint(&prof, 13, cid);
		pb_uint(&prof, 14, def);
	}
	ret = gzip_out(out, &prof);
	for (size_t i = 0; i < st.n; i++)
		free(st.v[i]);
	free(st.v);
	free(st.slot);
	free(locmap.keys);
	free(locmap.vals);
	free(funcmap.keys);
	free(funcmap.vals);
	free(prof.p);
	free(sub.p);
	free(line.p);
	free(locs.p);
	free(funcs.p);
	return ret;
}
