// SPDX-License-Identifier: GPL-2.0
/* memleak report --format folded: one "comm;outer;...;leaf WEIGHT" line per stack. */
#include <string.h>

#include "output/formats.h"

/* A frame name without the separators of the folded format. */
static void put_name(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' ? ':' : *s == ' ' || *s == '\n' ? '_' : *s, out);
}

void ml_fmt_folded(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	char buf[64];

	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];
		uint64_t w = o->weight == ML_WEIGHT_COUNT ? e->count : e->bytes;

		if (!ml_fmt_keep(m, o, i) || !w)
			continue;
		put_name(out, e->comm);
		if (!e->nframes) {
			fputc(';', out);
			put_name(out, e->why);
		}
		for (size_t k = e->nframes; k-- > 0;) {
			fputc(';', out);
			put_name(out, ml_rframe_name(&e->frames[k], buf, sizeof(buf)));
			if (e->frames[k].kernel)
				fputs("_[k]", out);
		}
		fprintf(out, " %llu\n", (unsigned long long)w);
	}
}
