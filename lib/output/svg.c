// SPDX-License-Identifier: GPL-2.0
/*
 * memleak report --format svg: a flame graph of the outstanding bytes (or
 * allocations), drawn here: one rectangle per frame, widths by weight, the
 * bytes and allocations of each frame in its tooltip.
 */
#include <stdlib.h>
#include <string.h>

#include "output/formats.h"
#include "util/util.h"

#define WIDTH		1200.0
#define PAD		10.0
#define FRAME_H		16
#define TOP_PAD		40
#define MIN_W		0.1

struct node {
	char *name;
	bool kernel;
	uint64_t bytes, count;
	struct node **kids;
	size_t nkids;
};

static struct node *child(struct node *n, const char *name, bool kernel)
{
	struct node *c;

	for (size_t i = 0; i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(name);
	c->kernel = kernel;
	n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	n->kids[n->nkids++] = c;
	return c;
}

static void free_node(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		free_node(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

static int depth_of(const struct node *n)
{
	int d = 0;

	for (size_t i = 0; i < n->nkids; i++) {
		int k = depth_of(n->kids[i]);

		if (k > d)
			d = k;
	}
	return d + 1;
}

static void xml(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		switch (s[i]) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(s[i], out);
		}
	}
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct draw {
	FILE *out;
	int weight;
	uint64_t total_bytes, total_count;
	double scale;	/* pixels per unit of weight */
	int height;
};

static void draw(struct draw *d, const struct node *n, double x, int level)
{
	uint64_t w = d->weight == ML_WEIGHT_COUNT ? n->count : n->bytes;
	double width = w * d->scale;
	double y = d->height - PAD - (level + 1) * FRAME_H;
	unsigned h = hash(n->name);
	int r, g, b;
	size_t chars;

	if (width < MIN_W)
		return;
	if (n->kernel) {
		r = 70 + h % 60; g = 140 + (h >> 8) % 70; b = 200 + (h >> 16) % 55;
	} else {
		r = 205 + h % 50; g = 80 + (h >> 8) % 130; b = 40 + (h >> 16) % 40;
	}
	fprintf(d->out, "<g><title>");
	xml(d->out, n->name, 4096);
	fprintf(d->out, " (%llu bytes, %.2f%%; %llu allocations, %.2f%%)</title>"
		"<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
		"rx=\"2\" ry=\"2\"/>", (unsigned long long)n->bytes,
		ml_pct(n->bytes, d->total_bytes), (unsigned long long)n->count,
		ml_pct(n->count, d->total_count), x, y, width, FRAME_H - 1, r, g, b);
	chars = width > 20 ? (size_t)((width - 6) / 7) : 0;
	if (chars >= 3) {
		fprintf(d->out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + 11.5);
		if (strlen(n->name) <= chars) {
			xml(d->out, n->name, chars);
		} else {
			xml(d->out, n->name, chars - 2);
			fputs("..", d->out);
		}
		fputs("</text>", d->out);
	}
	fputs("</g>\n", d->out);
	for (size_t i = 0; i < n->nkids; i++) {
		const struct node *k = n->kids[i];

		draw(d, k, x, level + 1);
		x += (d->weight == ML_WEIGHT_COUNT ? k->count : k->bytes) * d->scale;
	}
}

static int cmp_node(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a;
	const struct node *y = *(const struct node *const *)b;

	return strcmp(x->name, y->name);
}

static void sort_tree(struct node *n)
{
	if (n->nkids)
		qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_node);
	for (size_t i = 0; i < n->nkids; i++)
		sort_tree(n->kids[i]);
}

void ml_fmt_svg(FILE *out, const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	struct node *root = xcalloc(1, sizeof(*root));
	struct draw d = { .out = out, .weight = o->weight };
	char buf[64];
	int levels;

	root->name = xstrdup("all");
	for (size_t i = 0; i < m->n; i++) {
		const struct ml_rentry *e = &m->v[i];
		struct node *n;

		if (!ml_fmt_keep(m, o, i))
			continue;
		root->bytes += e->bytes;
		root->count += e->count;
		n = child(root, e->comm, false);
		n->bytes += e->bytes;
		n->count += e->count;
		if (!e->nframes) {
			n = child(n, e->why, false);
			n->bytes += e->bytes;
			n->count += e->count;
		}
		for (size_t k = e->nframes; k-- > 0;) {
			n = child(n, ml_rframe_name(&e->frames[k], buf, sizeof(buf)),
				  e->frames[k].kernel);
			n->bytes += e->bytes;
			n->count += e->count;
		}
	}
	sort_tree(root);
	levels = depth_of(root);
	d.height = levels * FRAME_H + TOP_PAD + 2 * (int)PAD;
	d.total_bytes = root->bytes;
	d.total_count = root->count;
	{
		uint64_t w = o->weight == ML_WEIGHT_COUNT ? root->count : root->bytes;

		d.scale = w ? (WIDTH - 2 * PAD) / w : 0;
	}
	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style>text { font-family: monospace; font-size: 12px; fill: #000; "
		"pointer-events: none; } rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
		"<text x=\"%d\" y=\"24\" text-anchor=\"middle\" style=\"font-size:17px\">",
		(int)WIDTH, d.height, (int)WIDTH, d.height, (int)WIDTH / 2);
	xml(out, o->title ? o->title : "memleak: outstanding memory", 200);
	fprintf(out, " (%llu bytes in %llu allocations, by %s)</text>\n",
		(unsigned long long)root->bytes, (unsigned long long)root->count,
		o->weight == ML_WEIGHT_COUNT ? "allocations" : "bytes");
	if (d.scale > 0)
		draw(&d, root, PAD, 0);
	fputs("</svg>\n", out);
	free_node(root);
}
