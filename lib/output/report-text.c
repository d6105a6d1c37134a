// SPDX-License-Identifier: GPL-2.0
/* memleak report's text output, in the manner of perf report --stdio. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/formats.h"
#include "output/text.h"
#include "util/util.h"

double ml_pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * v / total : 0;
}

bool ml_fmt_keep(const struct ml_rmodel *m, const struct ml_fmt_opts *o, size_t i)
{
	if (o->top && i >= o->top)
		return false;
	return !o->percent_limit || ml_pct(m->v[i].bytes, m->bytes) >= o->percent_limit;
}

static void human_rate(char *buf, size_t len, double v)
{
	const char *unit[] = { "B/s", "KiB/s", "MiB/s", "GiB/s" };
	double a = fabs(v);
	int u = 0;

	if (a < 0.5) {
		snprintf(buf, len, "0 B/s");
		return;
	}
	while (a >= 1024 && u < 3) {
		a /= 1024;
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%+.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%+.1f %s", v, unit[u]);
}

static void frame_line(FILE *out, const struct ml_rframe *f)
{
	if (!f->func)
		fprintf(out, "0x%llx", (unsigned long long)f->addr);
	else if (f->inlined)
		fputs(f->func, out);
	else
		fprintf(out, "%s+0x%llx", f->func, (unsigned long long)f->offset);
	fprintf(out, " [%s]", f->module ? f->module : "unknown");
	if (f->file && f->line)
		fprintf(out, " %s:%d", f->file, f->line);
	if (f->inlined)
		fputs(" (inlined)", out);
	fputc('\n', out);
}

/* The Symbol column: the leaf frame's function, as perf shows it. */
static const char *leaf_name(const struct ml_rentry *e)
{
	if (!e->nframes)
		return e->why;
	return e->frames[0].func ? e->frames[0].func : "[unknown]";
}

static void header(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	const struct ml_recording *r = m->rec;
	char when[64] = "?", *losses = NULL;
	size_t llen = 0;
	time_t t = r->start_wall_ns / 1000000000ull;
	FILE *lf;

	if (t)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
	fprintf(out, "# ========\n");
	fprintf(out, "# captured on    : %s\n", when);
	fprintf(out, "# hostname       : %s\n", ml_recording_meta(r, "host") ?: "?");
	fprintf(out, "# os release     : %s\n", ml_recording_meta(r, "release") ?: "?");
	fprintf(out, "# memleak version: %s (data format %u)\n",
		ml_recording_meta(r, "memleak_version") ?: "?", r->version);
	fprintf(out, "# cmdline        : %s\n", r->cmdline ?: "?");
	if (r->kernel)
		fprintf(out, "# target         : kernel allocations%s\n",
			r->pid ? " of one process" : "");
	else if (r->command && *r->command)
		fprintf(out, "# target         : %s (pid %u, comm %s)\n", r->command,
			r->pid, r->comm ?: "?");
	else
		fprintf(out, "# target         : pid %u (comm %s)\n", r->pid, r->comm ?: "?");
	fprintf(out, "# duration       : %.3f s, %zu snapshots\n", m->duration_s, r->nsnaps);
	fprintf(out, "# outstanding    : %llu bytes in %llu allocations",
		(unsigned long long)m->all_bytes, (unsigned long long)m->all_count);
	if (m->bytes != m->all_bytes || m->count != m->all_count)
		fprintf(out, " (shown: %llu bytes in %llu allocations)",
			(unsigned long long)m->bytes, (unsigned long long)m->count);
	fprintf(out, ", %zu stacks\n", m->n);
	lf = open_memstream(&losses, &llen);
	ml_text_losses(lf, r->counters, r->prog_misses);
	fclose(lf);
	if (!llen) {
		fprintf(out, "# lost           : none\n");
	} else {
		for (char *l = strtok(losses, "\n"); l; l = strtok(NULL, "\n"))
			fprintf(out, "# %s\n", l + 1);
	}
	free(losses);
	if (r->truncated)
		fprintf(out, "# WARNING        : truncated recording (record was killed?): "
			"read up to byte %llu\n", (unsigned long long)r->valid_bytes);
	if (m->from_snapshot)
		fprintf(out, "# WARNING        : no block list: totals of the last snapshot; "
			"--pid/--comm/--older/--min-size/-a not applied\n");
	fprintf(out, "# sort           : %s, call graph: %s\n", o->sort ?: "bytes",
		o->caller ? "caller" : "callee");
	fprintf(out, "# ========\n#\n");
	fprintf(out, "# %8s  %12s  %8s  %12s  %-15s  %s\n", "Overhead", "Bytes", "Allocs",
		"Growth", "Command", "Symbol");
	fprintf(out, "# %8s  %12s  %8s  %12s  %-15s  %s\n", "........", "............",
		"........", "............", "...............",
		"..............................");
	fprintf(out, "#\n");
}

void ml_fmt_text(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	header(out, m, o);
	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];
		char rate[32];

		if (!ml_fmt_keep(m, o, i))
			continue;
		human_rate(rate, sizeof(rate), e->growth);
		fprintf(out, "  %8.2f%%  %12llu  %8llu  %12s  %-15s  [%s] %s\n",
			ml_pct(e->bytes, m->bytes), (unsigned long long)e->bytes,
			(unsigned long long)e->count, rate, e->comm,
			e->nframes && e->frames[0].kernel ? "k" : ".", leaf_name(e));
		for (size_t b = 0; o->show_allocs && b < e->nblocks; b++) {
			const struct ml_block *blk = &e->blocks[b];
			uint64_t end = m->rec->end_mono_ns;

			fprintf(out, "               addr 0x%llx size %llu age %.3fs\n",
				(unsigned long long)blk->addr, (unsigned long long)blk->size,
				end > blk->timestamp_ns ? (end - blk->timestamp_ns) / 1e9 : 0);
		}
		fprintf(out, "            |\n");
		if (!e->nframes) {
			fprintf(out, "            ---%s\n\n", e->why);
			continue;
		}
		for (size_t k = 0; k < e->nframes; k++) {
			size_t j = o->caller ? e->nframes - 1 - k : k;

			fputs(k ? "               " : "            ---", out);
			frame_line(out, &e->frames[j]);
		}
		fputc('\n', out);
	}
}
