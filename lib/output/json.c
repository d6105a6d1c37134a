// SPDX-License-Identifier: GPL-2.0
/* memleak report --format json (schema in memleak-report(1)). */
#include <string.h>
#include <time.h>

#include "output/formats.h"

static void jstr(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static const char *const counter_names[ML_CNT_MAX] = {
	[ML_CNT_STACK_LOST] = "stack_lost",
	[ML_CNT_ALLOCS_FULL] = "allocs_full",
	[ML_CNT_PENDING_FULL] = "pending_full",
	[ML_CNT_COMBINED_FULL] = "combined_full",
	[ML_CNT_RINGBUF_DROP] = "ringbuf_drop",
	[ML_CNT_MISSED_FREE] = "missed_free",
	[ML_CNT_STACK_TRUNCATED] = "stack_truncated",
	[ML_CNT_SAMPLES_UNTRACKED] = "samples_untracked",
};

void ml_fmt_json(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	const struct ml_recording *r = m->rec;
	bool first = true;

	fprintf(out, "{\n  \"schema\": \"memleak-report\",\n  \"schema_version\": 1,\n");
	fprintf(out, "  \"recording\": {\n    \"format_version\": %u,\n    \"memleak_version\": ",
		r->version);
	jstr(out, ml_recording_meta(r, "memleak_version"));
	fprintf(out, ",\n    \"cmdline\": ");
	jstr(out, r->cmdline);
	fprintf(out, ",\n    \"command\": ");
	jstr(out, r->command && *r->command ? r->command : NULL);
	fprintf(out, ",\n    \"pid\": %u,\n    \"comm\": ", r->pid);
	jstr(out, r->comm);
	fprintf(out, ",\n    \"kernel\": %s,\n    \"host\": ", r->kernel ? "true" : "false");
	jstr(out, ml_recording_meta(r, "host"));
	fprintf(out, ",\n    \"release\": ");
	jstr(out, ml_recording_meta(r, "release"));
	fprintf(out, ",\n    \"start_time_ns\": %llu,\n    \"duration_s\": %.6f,\n"
		"    \"snapshots\": %zu,\n    \"truncated\": %s\n  },\n",
		(unsigned long long)r->start_wall_ns, m->duration_s, r->nsnaps,
		r->truncated ? "true" : "false");
	fprintf(out, "  \"totals\": { \"bytes\": %llu, \"allocations\": %llu, "
		"\"shown_bytes\": %llu, \"shown_allocations\": %llu, \"stacks\": %zu },\n",
		(unsigned long long)m->all_bytes, (unsigned long long)m->all_count,
		(unsigned long long)m->bytes, (unsigned long long)m->count, m->n);
	fprintf(out, "  \"lost\": {");
	for (int i = 0; i < ML_CNT_MAX; i++) {
		if (counter_names[i])
			fprintf(out, " \"%s\": %llu,", counter_names[i],
				(unsigned long long)r->counters[i]);
		else
			fprintf(out, " \"counter_%d\": %llu,", i,
				(unsigned long long)r->counters[i]);
	}
	fprintf(out, " \"prog_misses\": %llu },\n", (unsigned long long)r->prog_misses);
	fprintf(out, "  \"entries\": [");
	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];

		if (!ml_fmt_keep(m, o, i))
			continue;
		fprintf(out, "%s\n    {\n      \"bytes\": %llu,\n      \"allocations\": %llu,\n"
			"      \"percent\": %.4f,\n      \"growth_bytes_per_s\": %.3f,\n"
			"      \"pid\": %u,\n      \"comm\": ", first ? "" : ",",
			(unsigned long long)e->bytes, (unsigned long long)e->count,
			ml_pct(e->bytes, m->bytes), e->growth, e->pid);
		first = false;
		jstr(out, e->comm);
		fprintf(out, ",\n      \"stack_id\": %d,\n      \"stack_missing\": ", e->stack_id);
		jstr(out, e->nframes ? NULL : e->why);
		fprintf(out, ",\n      \"frames\": [");
		for (size_t k = 0; k < e->nframes; k++) {
			const struct ml_rframe *f = &e->frames[k];

			fprintf(out, "%s\n        { \"address\": \"0x%llx\", \"function\": ",
				k ? "," : "", (unsigned long long)f->addr);
			jstr(out, f->func);
			fprintf(out, ", \"offset\": %llu, \"module\": ",
				(unsigned long long)f->offset);
			jstr(out, f->module);
			fprintf(out, ", \"dso\": ");
			jstr(out, f->dso);
			fprintf(out, ", \"file\": ");
			jstr(out, f->file);
			fprintf(out, ", \"line\": %d, \"inlined\": %s, \"kernel\": %s }", f->line,
				f->inlined ? "true" : "false", f->kernel ? "true" : "false");
		}
		fprintf(out, "%s]", e->nframes ? "\n      " : "");
		if (o->show_allocs) {
			fprintf(out, ",\n      \"blocks\": [");
			for (size_t b = 0; b < e->nblocks; b++) {
				const struct ml_block *blk = &e->blocks[b];
				uint64_t end = r->end_mono_ns;

				fprintf(out, "%s\n        { \"address\": \"0x%llx\", \"size\": %llu, "
					"\"age_s\": %.6f }", b ? "," : "",
					(unsigned long long)blk->addr,
					(unsigned long long)blk->size,
					end > blk->timestamp_ns ? (end - blk->timestamp_ns) / 1e9 : 0);
			}
			fprintf(out, "%s]", e->nblocks ? "\n      " : "");
		}
		fprintf(out, "\n    }");
	}
	fprintf(out, "%s]\n}\n", first ? "" : "\n  ");
}
