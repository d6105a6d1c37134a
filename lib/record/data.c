// SPDX-License-Identifier: GPL-2.0
/* memleak.data writer and reader (format: Documentation/memleak-data.txt). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "record/data.h"
#include "util/util.h"

#define REC_HDR_SIZE	16	/* u32 type, u32 crc32, u64 size */
#define REC_MAX_SIZE	(1ULL << 40)

/* On-disk outstanding block: 64 bytes. */
struct disk_block {
	uint64_t addr, size, timestamp_ns, call_site, bytes_req, cache;
	int32_t stack_id;
	uint32_t pid, gfp;
	uint16_t kind;
	uint8_t order, backing;
};

_Static_assert(sizeof(struct disk_block) == 64, "disk_block layout");

/* ---------------------------------------------------------------- buffers */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 256;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

#define PUT(b, type, v) do { type _v = (v); buf_put((b), &_v, sizeof(_v)); } while (0)

static void buf_str(struct buf *b, const char *s)
{
	buf_put(b, s ? s : "", strlen(s ? s : "") + 1);
}

/* ---------------------------------------------------------------- writer */

static void put_record(struct ml_rec_writer *w, uint32_t type, struct buf *b)
{
	uint32_t crc = crc32(0, b->p ? b->p : (const uint8_t *)"", b->len);
	uint64_t size = b->len;

	if (!w->err &&
	    (fwrite(&type, 4, 1, w->f) != 1 || fwrite(&crc, 4, 1, w->f) != 1 ||
	     fwrite(&size, 8, 1, w->f) != 1 ||
	     (size && fwrite(b->p, size, 1, w->f) != 1)))
		w->err = errno ? -errno : -EIO;
	w->bytes += REC_HDR_SIZE + size;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int ml_rec_writer_open(struct ml_rec_writer *w, const char *path)
{
	uint8_t hdr[ML_DATA_HEADER_SIZE] = {};
	uint32_t v;

	memset(w, 0, sizeof(*w));
	if (!strcmp(path, "-")) {
		w->f = stdout;
	} else {
		w->f = fopen(path, "we");
		if (!w->f)
			return -errno;
		w->own = true;
	}
	memcpy(hdr, ML_DATA_MAGIC, 8);
	v = ML_DATA_VERSION;
	memcpy(hdr + 8, &v, 4);
	v = ML_DATA_HEADER_SIZE;
	memcpy(hdr + 12, &v, 4);
	v = ML_DATA_ENDIAN;
	memcpy(hdr + 16, &v, 4);
	if (fwrite(hdr, sizeof(hdr), 1, w->f) != 1)
		w->err = -errno;
	w->bytes = sizeof(hdr);
	return w->err;
}

int ml_rec_writer_flush(struct ml_rec_writer *w)
{
	if (fflush(w->f) && !w->err)
		w->err = -errno;
	return w->err;
}

int ml_rec_writer_close(struct ml_rec_writer *w)
{
	ml_rec_writer_flush(w);
	if (w->own && fclose(w->f) && !w->err)
		w->err = -errno;
	w->f = NULL;
	return w->err;
}

void ml_rec_write_meta(struct ml_rec_writer *w, size_t n, const char *const *keys,
		       const char *const *values)
{
	struct buf b = {};

	for (size_t i = 0; i < n; i++) {
		buf_str(&b, keys[i]);
		buf_str(&b, values[i]);
	}
	put_record(w, ML_REC_META, &b);
}

void ml_rec_write_mapping(struct ml_rec_writer *w, const struct ml_rec_mapping *m)
{
	struct buf b = {};

	PUT(&b, uint64_t, m->m.start);
	PUT(&b, uint64_t, m->m.end);
	PUT(&b, uint64_t, m->m.pgoff);
	PUT(&b, uint32_t, m->m.exec ? 1 : 0);
	PUT(&b, uint32_t, m->build_id_len);
	buf_put(&b, m->build_id, ML_BUILD_ID_MAX);
	buf_str(&b, m->m.path);
	put_record(w, ML_REC_MAPPING, &b);
}

void ml_rec_write_ksyms(struct ml_rec_writer *w, const struct ml_rec_ksym *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		PUT(&b, uint64_t, v[i].addr);
		buf_str(&b, v[i].name);
		buf_str(&b, v[i].module);
	}
	put_record(w, ML_REC_KSYMS, &b);
}

void ml_rec_write_stacks(struct ml_rec_writer *w, const struct ml_rec_stack *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		PUT(&b, int32_t, v[i].id);
		PUT(&b, uint16_t, v[i].kind);
		PUT(&b, uint16_t, v[i].depth);
		buf_put(&b, v[i].ips, v[i].depth * sizeof(uint64_t));
	}
	put_record(w, ML_REC_STACKS, &b);
}

void ml_rec_write_snapshot(struct ml_rec_writer *w, uint64_t time_ns,
			   const struct ml_rec_total *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, time_ns);
	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		PUT(&b, int32_t, v[i].stack_id);
		PUT(&b, uint32_t, v[i].pid);
		PUT(&b, uint64_t, v[i].bytes);
		PUT(&b, uint64_t, v[i].count);
	}
	put_record(w, ML_REC_SNAPSHOT, &b);
}

void ml_rec_write_blocks(struct ml_rec_writer *w, const struct ml_block *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		struct disk_block d = {
			.addr = v[i].addr, .size = v[i].size,
			.timestamp_ns = v[i].timestamp_ns, .call_site = v[i].call_site,
			.bytes_req = v[i].bytes_req, .cache = v[i].cache,
			.stack_id = v[i].stack_id, .pid = v[i].pid, .gfp = v[i].gfp,
			.kind = v[i].kind, .order = v[i].order, .backing = v[i].backing,
		};

		buf_put(&b, &d, sizeof(d));
	}
	put_record(w, ML_REC_BLOCKS, &b);
}

void ml_rec_write_counters(struct ml_rec_writer *w, const uint64_t c[ML_CNT_MAX],
			   uint64_t prog_misses)
{
	struct buf b = {};

	PUT(&b, uint32_t, ML_CNT_MAX);
	PUT(&b, uint32_t, 0);
	buf_put(&b, c, ML_CNT_MAX * sizeof(uint64_t));
	PUT(&b, uint64_t, prog_misses);
	put_record(w, ML_REC_COUNTERS, &b);
}

void ml_rec_write_comms(struct ml_rec_writer *w, const struct ml_rec_comm *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		PUT(&b, uint32_t, v[i].pid);
		buf_str(&b, v[i].comm);
	}
	put_record(w, ML_REC_COMMS, &b);
}

void ml_rec_write_caches(struct ml_rec_writer *w, const struct ml_rec_cache *v, size_t n)
{
	struct buf b = {};

	PUT(&b, uint64_t, n);
	for (size_t i = 0; i < n; i++) {
		PUT(&b, uint64_t, v[i].id);
		buf_str(&b, v[i].name);
	}
	put_record(w, ML_REC_CACHES, &b);
}

void ml_rec_write_end(struct ml_rec_writer *w, uint64_t end_mono_ns, uint64_t end_wall_ns)
{
	struct buf b = {};

	PUT(&b, uint64_t, end_mono_ns);
	PUT(&b, uint64_t, end_wall_ns);
	put_record(w, ML_REC_END, &b);
}

/* ---------------------------------------------------------------- reader */

/* A cursor over one record's payload; any overrun marks it bad. */
struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static bool get(struct cur *c, void *out, size_t len)
{
	if (c->bad || (size_t)(c->end - c->p) < len) {
		c->bad = true;
		memset(out, 0, len);
		return false;
	}
	memcpy(out, c->p, len);
	c->p += len;
	return true;
}

static uint64_t get_u64(struct cur *c)
{
	uint64_t v;

	get(c, &v, 8);
	return v;
}

static uint32_t get_u32(struct cur *c)
{
	uint32_t v;

	get(c, &v, 4);
	return v;
}

static uint16_t get_u16(struct cur *c)
{
	uint16_t v;

	get(c, &v, 2);
	return v;
}

/* A NUL-terminated string inside the payload (copied), NULL if none. */
static char *get_str(struct cur *c)
{
	const uint8_t *nul;

	if (c->bad || !(nul = memchr(c->p, 0, c->end - c->p))) {
		c->bad = true;
		return NULL;
	}
	char *s = xstrdup((const char *)c->p);

	c->p = nul + 1;
	return s;
}

/* A count of items each at least @min bytes that must fit what is left. */
static uint64_t get_count(struct cur *c, size_t min)
{
	uint64_t n = get_u64(c);

	if (!c->bad && n > (uint64_t)(c->end - c->p) / min)
		c->bad = true;
	return c->bad ? 0 : n;
}

static void parse_meta(struct ml_recording *r, struct cur *c)
{
	while (!c->bad && c->p < c->end) {
		char *k = get_str(c), *v = get_str(c);

		if (c->bad) {
			free(k);
			free(v);
			return;
		}
		r->meta_keys = xrealloc(r->meta_keys, (r->nmeta + 1) * sizeof(char *));
		r->meta_values = xrealloc(r->meta_values, (r->nmeta + 1) * sizeof(char *));
		r->meta_keys[r->nmeta] = k;
		r->meta_values[r->nmeta++] = v;
	}
}

static void parse_mapping(struct ml_recording *r, struct cur *c)
{
	struct ml_rec_mapping m = {};

	m.m.start = get_u64(c);
	m.m.end = get_u64(c);
	m.m.pgoff = get_u64(c);
	m.m.exec = get_u32(c) & 1;
	m.build_id_len = get_u32(c);
	get(c, m.build_id, ML_BUILD_ID_MAX);
	m.m.path = get_str(c);
	if (m.build_id_len > ML_BUILD_ID_MAX || m.m.end < m.m.start)
		c->bad = true;
	if (c->bad) {
		free(m.m.path);
		return;
	}
	r->maps = xrealloc(r->maps, (r->nmaps + 1) * sizeof(m));
	r->maps[r->nmaps++] = m;
}

static void parse_ksyms(struct ml_recording *r, struct cur *c)
{
	uint64_t n = get_count(c, 10);

	r->ksyms = xrealloc(r->ksyms, (r->nksyms + n + 1) * sizeof(*r->ksyms));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct ml_rec_ksym *k = &r->ksyms[r->nksyms];

		k->addr = get_u64(c);
		k->name = get_str(c);
		k->module = get_str(c);
		if (c->bad) {
			free(k->name);
			free(k->module);
			return;
		}
		if (!*k->module) {
			free(k->module);
			k->module = NULL;
		}
		r->nksyms++;
	}
}

static void parse_stacks(struct ml_recording *r, struct cur *c)
{
	uint64_t n = get_count(c, 8);

	r->stacks = xrealloc(r->stacks, (r->nstacks + n + 1) * sizeof(*r->stacks));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct ml_rec_stack *s = &r->stacks[r->nstacks];

		s->order = r->nstacks;
		s->id = (int32_t)get_u32(c);
		s->kind = get_u16(c);
		s->depth = get_u16(c);
		if (c->bad || s->depth > ML_MAX_STACK_DEPTH ||
		    (size_t)(c->end - c->p) < s->depth * 8u) {
			c->bad = true;
			return;
		}
		s->ips = xmalloc(s->depth * 8u + 1);
		get(c, s->ips, s->depth * 8u);
		r->nstacks++;
	}
}

static void parse_snapshot(struct ml_recording *r, struct cur *c)
{
	struct ml_rec_snapshot s = {};

	s.time_ns = get_u64(c);
	s.n = get_count(c, 24);
	if (c->bad)
		return;
	s.v = xmalloc(s.n * sizeof(*s.v) + 1);
	for (size_t i = 0; i < s.n; i++) {
		s.v[i].stack_id = (int32_t)get_u32(c);
		s.v[i].pid = get_u32(c);
		s.v[i].bytes = get_u64(c);
		s.v[i].count = get_u64(c);
	}
	r->snaps = xrealloc(r->snaps, (r->nsnaps + 1) * sizeof(s));
	r->snaps[r->nsnaps++] = s;
	if (s.time_ns > r->end_mono_ns)
		r->end_mono_ns = s.time_ns;
}

static void parse_blocks(struct ml_recording *r, struct cur *c)
{
	uint64_t n = get_count(c, sizeof(struct disk_block));

	if (c->bad)
		return;
	free(r->blocks);
	r->blocks = xcalloc(n + 1, sizeof(*r->blocks));
	for (uint64_t i = 0; i < n; i++) {
		struct disk_block d;
		struct ml_block *b = &r->blocks[i];

		get(c, &d, sizeof(d));
		b->addr = d.addr;
		b->size = d.size;
		b->timestamp_ns = d.timestamp_ns;
		b->call_site = d.call_site;
		b->bytes_req = d.bytes_req;
		b->cache = d.cache;
		b->stack_id = d.stack_id;
		b->pid = d.pid;
		b->gfp = d.gfp;
		b->kind = d.kind;
		b->order = d.order;
		b->backing = d.backing < ML_BACKING_MAX ? d.backing : 0;
		if (b->kind >= ML_KIND_MAX)
			b->kind = 0;
	}
	r->nblocks = n;
	r->have_blocks = true;
}

static void parse_counters(struct ml_recording *r, struct cur *c)
{
	uint32_t n = get_u32(c);

	get_u32(c);
	for (uint32_t i = 0; i < n && !c->bad; i++) {
		uint64_t v = get_u64(c);

		if (i < ML_CNT_MAX)
			r->counters[i] = v;
	}
	r->prog_misses = get_u64(c);
}

static void parse_comms(struct ml_recording *r, struct cur *c)
{
	uint64_t n = get_count(c, 5);

	r->comms = xrealloc(r->comms, (r->ncomms + n + 1) * sizeof(*r->comms));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct ml_rec_comm *m = &r->comms[r->ncomms];
		char *s;

		m->pid = get_u32(c);
		s = get_str(c);
		if (!s)
			return;
		snprintf(m->comm, sizeof(m->comm), "%s", s);
		free(s);
		r->ncomms++;
	}
}

static void parse_caches(struct ml_recording *r, struct cur *c)
{
	uint64_t n = get_count(c, 9);

	r->caches = xrealloc(r->caches, (r->ncaches + n + 1) * sizeof(*r->caches));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct ml_rec_cache *m = &r->caches[r->ncaches];

		m->id = get_u64(c);
		m->name = get_str(c);
		if (!m->name)
			return;
		r->ncaches++;
	}
}

static int cmp_stack(const void *a, const void *b)
{
	const struct ml_rec_stack *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t meta_u64(const struct ml_recording *r, const char *key)
{
	const char *v = ml_recording_meta(r, key);

	return v ? strtoull(v, NULL, 0) : 0;
}

int ml_recording_parse(const void *data, size_t len, struct ml_recording *r,
		       char *err, size_t errlen)
{
	const uint8_t *p = data, *end = p + len;
	uint32_t version, hsize, endian;
	size_t nrec = 0;

	memset(r, 0, sizeof(*r));
	err[0] = 0;
	if (len == 0)
		return fail(err, errlen, "empty file (0 bytes): not a memleak data file");
	if (len < 8 ? memcmp(p, ML_DATA_MAGIC, len) : memcmp(p, ML_DATA_MAGIC, 8))
		return fail(err, errlen, "not a memleak data file (no '%s' magic)",
			    ML_DATA_MAGIC);
	if (len < 20)
		return fail(err, errlen, "truncated in its header (%zu bytes): no data", len);
	memcpy(&version, p + 8, 4);
	memcpy(&hsize, p + 12, 4);
	memcpy(&endian, p + 16, 4);
	if (endian != ML_DATA_ENDIAN)
		return fail(err, errlen, "written on a machine of the other byte order: "
			    "not supported");
	if (version > ML_DATA_VERSION)
		return fail(err, errlen, "format version %u is newer than this memleak "
			    "reads (version %d): use a newer memleak", version,
			    ML_DATA_VERSION);
	if (version == 0 || hsize < 20 || hsize > 4096)
		return fail(err, errlen, "corrupt header (version %u, header size %u)",
			    version, hsize);
	if (len < hsize)
		return fail(err, errlen, "truncated in its header (%zu bytes): no data", len);
	r->version = version;
	p += hsize;
	r->valid_bytes = hsize;

	while (p < end) {
		uint32_t type, crc;
		uint64_t size;
		struct cur c;
		size_t off = p - (const uint8_t *)data;

		if ((size_t)(end - p) < REC_HDR_SIZE) {
			r->truncated = true;
			break;
		}
		memcpy(&type, p, 4);
		memcpy(&crc, p + 4, 4);
		memcpy(&size, p + 8, 8);
		if (type == 0 || type > 0xffff || size > REC_MAX_SIZE) {
			ml_recording_free(r);
			return fail(err, errlen, "corrupt at byte %zu: not a record "
				    "(type %u, size %llu)", off, type,
				    (unsigned long long)size);
		}
		if (size > (uint64_t)(end - p - REC_HDR_SIZE)) {
			r->truncated = true;
			break;
		}
		c.p = p + REC_HDR_SIZE;
		c.end = c.p + size;
		c.bad = false;
		if (crc32(0, c.p, size) != crc) {
			ml_recording_free(r);
			return fail(err, errlen, "corrupt at byte %zu: checksum of a "
				    "record (type %u, %llu bytes) does not match", off,
				    type, (unsigned long long)size);
		}
		switch (type) {
		case ML_REC_META: parse_meta(r, &c); break;
		case ML_REC_MAPPING: parse_mapping(r, &c); break;
		case ML_REC_KSYMS: parse_ksyms(r, &c); break;
		case ML_REC_STACKS: parse_stacks(r, &c); break;
		case ML_REC_SNAPSHOT: parse_snapshot(r, &c); break;
		case ML_REC_BLOCKS: parse_blocks(r, &c); break;
		case ML_REC_COUNTERS: parse_counters(r, &c); break;
		case ML_REC_COMMS: parse_comms(r, &c); break;
		case ML_REC_CACHES: parse_caches(r, &c); break;
		case ML_REC_END:
			r->end_mono_ns = get_u64(&c);
			r->end_wall_ns = get_u64(&c);
			r->finished = !c.bad;
			break;
		default:
			break;	/* a record of a later minor revision: skipped */
		}
		if (c.bad) {
			ml_recording_free(r);
			return fail(err, errlen, "corrupt at byte %zu: a record (type %u) "
				    "does not parse", off, type);
		}
		p = c.end;
		r->valid_bytes = p - (const uint8_t *)data;
		nrec++;
	}
	if (!nrec || !ml_recording_meta(r, "memleak_version")) {
		bool t = r->truncated;

		ml_recording_free(r);
		return fail(err, errlen, "%s: no recording in it",
			    t ? "truncated before its first record" : "no records");
	}
	if (r->truncated || !r->finished)
		snprintf(err, errlen, "truncated after byte %llu of %zu (record was "
			 "killed?): reading up to its last complete part",
			 (unsigned long long)r->valid_bytes, len);
	r->truncated = r->truncated || !r->finished;

	/* by id, and a stack written twice in file order: the last one counts */
	if (r->nstacks)
		qsort(r->stacks, r->nstacks, sizeof(*r->stacks), cmp_stack);
	r->command = ml_recording_meta(r, "command");
	r->comm = ml_recording_meta(r, "comm");
	r->cmdline = ml_recording_meta(r, "cmdline");
	r->pid = meta_u64(r, "pid");
	r->kernel = meta_u64(r, "kernel");
	r->start_mono_ns = meta_u64(r, "start_mono_ns");
	r->start_wall_ns = meta_u64(r, "start_wall_ns");
	if (!r->finished && r->end_mono_ns > r->start_mono_ns)
		r->end_wall_ns = r->start_wall_ns + (r->end_mono_ns - r->start_mono_ns);
	return 0;
}

int ml_recording_read(const char *path, struct ml_recording *r, char *err,
		      size_t errlen)
{
	struct stat st;
	void *map;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	if (fd < 0)
		return fail(err, errlen, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st)) {
		ret = fail(err, errlen, "cannot read: %s", strerror(errno));
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		/* a pipe ("memleak record -o - | memleak report -i -"): read it all */
		size_t len = 0, cap = 1 << 20;
		uint8_t *buf = xmalloc(cap);
		ssize_t n;

		while ((n = read(fd, buf + len, cap - len)) > 0) {
			len += n;
			if (len == cap)
				buf = xrealloc(buf, cap *= 2);
		}
		close(fd);
		if (n < 0) {
			free(buf);
			return fail(err, errlen, "cannot read: %s", strerror(errno));
		}
		ret = ml_recording_parse(buf, len, r, err, errlen);
		free(buf);
		return ret;
	}
	if (st.st_size == 0) {
		close(fd);
		return ml_recording_parse("", 0, r, err, errlen);
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail(err, errlen, "cannot read: %s", strerror(errno));
	ret = ml_recording_parse(map, st.st_size, r, err, errlen);
	munmap(map, st.st_size);
	return ret;
}

void ml_recording_free(struct ml_recording *r)
{
	for (size_t i = 0; i < r->nmeta; i++) {
		free(r->meta_keys[i]);
		free(r->meta_values[i]);
	}
	free(r->meta_keys);
	free(r->meta_values);
	for (size_t i = 0; i < r->nmaps; i++)
		free(r->maps[i].m.path);
	free(r->maps);
	for (size_t i = 0; i < r->nksyms; i++) {
		free(r->ksyms[i].name);
		free(r->ksyms[i].module);
	}
	free(r->ksyms);
	for (size_t i = 0; i < r->nstacks; i++)
		free(r->stacks[i].ips);
	free(r->stacks);
	for (size_t i = 0; i < r->nsnaps; i++)
		free(r->snaps[i].v);
	free(r->snaps);
	free(r->blocks);
	free(r->comms);
	for (size_t i = 0; i < r->ncaches; i++)
		free(r->caches[i].name);
	free(r->caches);
	memset(r, 0, sizeof(*r));
}

const char *ml_recording_meta(const struct ml_recording *r, const char *key)
{
	for (size_t i = r->nmeta; i-- > 0;)
		if (!strcmp(r->meta_keys[i], key))
			return r->meta_values[i];
	return NULL;
}

const struct ml_rec_stack *ml_recording_stack(const struct ml_recording *r, int32_t id)
{
	size_t lo = 0, hi = r->nstacks;

	/* the last of equal ids: a stack written again replaces the first */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->stacks[mid].id <= id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && r->stacks[lo - 1].id == id ? &r->stacks[lo - 1] : NULL;
}

const char *ml_recording_comm(const struct ml_recording *r, uint32_t pid)
{
	for (size_t i = r->ncomms; i-- > 0;)
		if (r->comms[i].pid == pid)
			return r->comms[i].comm;
	return NULL;
}

size_t ml_read_build_id(const char *path, uint8_t *out, size_t max)
{
	size_t len = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && !len && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + noff, "GNU", 4)) {
				len = nh.n_descsz < max ? nh.n_descsz : max;
				memcpy(out, (char *)d->d_buf + doff, len);
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return len;
}
