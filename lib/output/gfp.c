// SPDX-License-Identifier: GPL-2.0
/*
 * GFP flag names, taken from this kernel's own kmalloc event format: the
 * __print_flags() table in its print fmt, parsed by libtraceevent.  The
 * values move between kernel versions; the event always has this kernel's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tracefs.h>
#include <event-parse.h>

#include "output/gfp.h"
#include "util/util.h"

struct gfp_name {
	uint64_t value;
	char *name;
};

static struct gfp_name *names;
static size_t nnames;
static int loaded;	/* 0: not tried, 1: have names, -1: none */

static const struct tep_print_arg *find_flags(const struct tep_print_arg *a)
{
	for (; a; a = a->next) {
		const struct tep_print_arg *f = NULL;

		switch (a->type) {
		case TEP_PRINT_FLAGS:
			return a;
		case TEP_PRINT_OP:
			f = find_flags(a->op.left);
			if (!f)
				f = find_flags(a->op.right);
			break;
		case TEP_PRINT_TYPE:
			f = find_flags(a->typecast.item);
			break;
		default:
			break;
		}
		if (f)
			return f;
	}
	return NULL;
}

static void load(void)
{
	const char *systems[] = { "kmem", NULL };
	struct tep_handle *tep = tracefs_local_events_system(NULL, systems);
	struct tep_event *ev = tep ? tep_find_event_by_name(tep, "kmem", "kmalloc") : NULL;
	const struct tep_print_arg *fl = ev ? find_flags(ev->print_fmt.args) : NULL;

	loaded = -1;
	for (const struct tep_print_flag_sym *s = fl ? fl->flags.flags : NULL; s; s = s->next) {
		names = xrealloc(names, (nnames + 1) * sizeof(*names));
		names[nnames].value = strtoull(s->value, NULL, 0);
		names[nnames].name = xstrdup(s->str);
		nnames++;
		loaded = 1;
	}
	if (tep)
		tep_free(tep);
}

const char *ml_gfp_name(uint64_t gfp, char *buf, size_t len)
{
	size_t used = 0;

	if (!loaded)
		load();
	buf[0] = '\0';
	if (!gfp) {
		snprintf(buf, len, "none");
		return buf;
	}
	/* As the kernel prints flags: first match wins, its bits are used up. */
	for (size_t i = 0; i < nnames && gfp; i++) {
		if (!names[i].value || (gfp & names[i].value) != names[i].value)
			continue;
		used += snprintf(buf + used, used < len ? len - used : 0, "%s%s",
				 used ? "|" : "", names[i].name);
		gfp &= ~names[i].value;
	}
	if (gfp)
		snprintf(buf + used, used < len ? len - used : 0, "%s%#llx",
			 used ? "|" : "", (unsigned long long)gfp);
	return buf;
}
