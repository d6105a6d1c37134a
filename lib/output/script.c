// SPDX-License-Identifier: GPL-2.0
/*
 * memleak script: each stack as perf script prints a sample with a call
 * chain, the period being the stack's outstanding bytes.
 */
#include "output/formats.h"

void ml_fmt_script(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];
		uint64_t t = e->first_ns ? e->first_ns : m->rec->end_mono_ns;

		if (!ml_fmt_keep(m, o, i))
			continue;
		fprintf(out, "%s %u/%u %llu.%06llu: %llu memleak:outstanding:\n", e->comm,
			e->pid, e->pid, (unsigned long long)(t / 1000000000ull),
			(unsigned long long)(t % 1000000000ull / 1000),
			(unsigned long long)(o->weight == ML_WEIGHT_COUNT ? e->count : e->bytes));
		for (size_t k = 0; k < e->nframes; k++) {
			const struct ml_rframe *f = &e->frames[k];

			fprintf(out, "\t%16llx ", (unsigned long long)f->addr);
			if (!f->func)
				fputs("[unknown]", out);
			else if (f->inlined)
				fputs(f->func, out);
			else
				fprintf(out, "%s+0x%llx", f->func, (unsigned long long)f->offset);
			fprintf(out, " (%s)\n", f->dso ? f->dso : "[unknown]");
		}
		if (!e->nframes)
			fprintf(out, "\t%16llx [unknown] ([unknown])\n", 0ULL);
		fputc('\n', out);
	}
}
