// SPDX-License-Identifier: GPL-2.0
/*
 * bcc memleak's command line (-p -c -t -a -o -s -T -z -Z -O ... INTERVAL
 * COUNT), parsed once for every subcommand that traces.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "options/options.h"
#include "analysis/aggregate.h"
#include "util/util.h"

enum {
	OPT_COMBINED = 256,
	OPT_WA_MISSING_FREE,
	OPT_SORT,
	OPT_SYMBOLS_PREFIX,
	OPT_MAX_ALLOCS,
	OPT_STACK_MAP_SIZE,
	OPT_KERNEL,
	OPT_CGROUP,
	OPT_BACKEND,
	OPT_VMLINUX,
	OPT_CALL_GRAPH,
	OPT_GROW_STACKS,
	OPT_OUTPUT,
	OPT_DURATION,
	OPT_NO_PRELOAD,
	OPT_INJECT,
	OPT_SAMPLE_BYTES,
};

static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "pid", required_argument, NULL, 'p' },
	{ "command", required_argument, NULL, 'c' },
	{ "trace", no_argument, NULL, 't' },
	{ "show-allocs", no_argument, NULL, 'a' },
	{ "older", required_argument, NULL, 'o' },
	{ "sample-rate", required_argument, NULL, 's' },
	{ "top", required_argument, NULL, 'T' },
	{ "min-size", required_argument, NULL, 'z' },
	{ "max-size", required_argument, NULL, 'Z' },
	{ "obj", required_argument, NULL, 'O' },
	{ "interval", required_argument, NULL, 'i' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "combined-only", no_argument, NULL, OPT_COMBINED },
	{ "wa-missing-free", no_argument, NULL, OPT_WA_MISSING_FREE },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "symbols-prefix", required_argument, NULL, OPT_SYMBOLS_PREFIX },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-blocks", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "stack-map-size", required_argument, NULL, OPT_STACK_MAP_SIZE },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "percpu", no_argument, NULL, 'P' },
	{ "vmlinux", required_argument, NULL, OPT_VMLINUX },
	{ "call-graph", required_argument, NULL, OPT_CALL_GRAPH },
	{ "grow-stacks", no_argument, NULL, OPT_GROW_STACKS },
	{ "no-preload", no_argument, NULL, OPT_NO_PRELOAD },
	{ "inject", no_argument, NULL, OPT_INJECT },
	{ "sample-bytes", optional_argument, NULL, OPT_SAMPLE_BYTES },
	{ NULL, 0, NULL, 0 },
};

/* memleak record: the same, but -o/--output FILE instead of -o/--older. */
static const struct option record_opts[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "duration", required_argument, NULL, OPT_DURATION },
};
static struct option long_opts_record[ARRAY_SIZE(long_opts) + ARRAY_SIZE(record_opts)];

/* The option as the user typed it, for messages: "-p/--pid". */
static const char *opt_name(int c)
{
	static char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(long_opts) + ARRAY_SIZE(record_opts); i++) {
		const struct option *o = i < ARRAY_SIZE(long_opts) ? &long_opts[i] :
					 &record_opts[i - ARRAY_SIZE(long_opts)];

		if (!o->name || o->val != c)
			continue;
		if (c < 256)
			snprintf(buf, sizeof(buf), "-%c/--%s", c, o->name);
		else
			snprintf(buf, sizeof(buf), "--%s", o->name);
		return buf;
	}
	return "?";
}

static void (*usage_fn)(FILE *out);

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", ml_progname);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	usage_fn(stderr);
	return 2;
}

static bool num_arg(int c, uint64_t min, uint64_t max, bool suffixes,
		    uint64_t *out, int *ret)
{
	if (ml_parse_u64(optarg, min, max, suffixes, out))
		return true;
	*ret = usage_error("invalid value for %s: '%s'", opt_name(c), optarg);
	return false;
}

/* --sort KEY[,ORDER] or --sort ORDER: grouping key and ordering. */
static int parse_sort(const char *arg, struct ml_opts *o)
{
	char *copy = xstrdup(arg), *tok, *save = NULL;
	int err = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int v;

		if ((v = ml_sort_parse(tok)) >= 0)
			o->sort = v;
		else if ((v = ml_group_parse(tok)) >= 0)
			o->group = v;
		else
			err = -1;
	}
	free(copy);
	return err;
}

int ml_parse_options(int argc, char **argv, struct ml_opts *o,
		     void (*usage)(FILE *out))
{
	return ml_parse_options_flags(argc, argv, o, usage, 0);
}

/* "-- CMD ARGS...": one shell-quoted command line for -c. */
static char *quote_command(int argc, char **argv)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < argc; i++)
		len += 4 * strlen(argv[i]) + 3;
	p = s = xmalloc(len);
	for (int i = 0; i < argc; i++) {
		if (i)
			*p++ = ' ';
		*p++ = '\'';
		for (const char *a = argv[i]; *a; a++) {
			if (*a == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *a;
			}
		}
		*p++ = '\'';
	}
	*p = 0;
	return s;
}

int ml_parse_options_flags(int argc, char **argv, struct ml_opts *o,
			   void (*usage)(FILE *out), int flags)
{
	const struct option *lopts = long_opts;
	const char *shorts = ":hp:c:tao:s:T:z:Z:O:i:vP";
	bool record = flags & ML_OPT_RECORD;
	uint64_t v;
	int c, ret = 2;

	memset(o, 0, sizeof(*o));
	usage_fn = usage;

	o->older_ms = 500;
	o->sample_rate = 1;
	o->top = 10;
	o->max_size = UINT64_MAX;
	o->interval = 5;
	o->sort = ML_SORT_SIZE;
	o->max_allocs = 0;	/* the source's default */
	o->stack_map_size = ML_STACK_MAP_DEFAULT;
	if (record) {
		size_t n = 0;

		for (const struct option *x = long_opts; x->name; x++)
			if (strcmp(x->name, "older"))
				long_opts_record[n++] = *x;
		for (size_t i = 0; i < ARRAY_SIZE(record_opts); i++)
			long_opts_record[n++] = record_opts[i];
		memset(&long_opts_record[n], 0, sizeof(long_opts_record[n]));
		lopts = long_opts_record;
		shorts = "+:hp:c:tao:s:T:z:Z:O:i:vP";
		o->interval = 1;
		o->older_ms = 0;
	}

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		if (record && c == 'o')
			c = OPT_OUTPUT;
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'p':
			if (!num_arg(c, 1, INT32_MAX, false, &v, &ret))
				return ret;
			o->pid = v;
			break;
		case 'c':
			o->command = optarg;
			break;
		case 't':
			o->trace = true;
			break;
		case 'a':
			o->show_allocs = true;
			break;
		case 'o':
			if (!num_arg(c, 0, UINT64_MAX / 1000000, false, &o->older_ms, &ret))
				return ret;
			break;
		case 's':
			if (!num_arg(c, 1, UINT32_MAX, false, &o->sample_rate, &ret))
				return ret;
			break;
		case 'T':
			if (!num_arg(c, 1, INT32_MAX, false, &o->top, &ret))
				return ret;
			break;
		case 'z':
			if (!num_arg(c, 0, UINT64_MAX, true, &o->min_size, &ret))
				return ret;
			break;
		case 'Z':
			if (!num_arg(c, 0, UINT64_MAX, true, &o->max_size, &ret))
				return ret;
			break;
		case 'O':
			o->obj = optarg;
			break;
		case 'i':
			if (!num_arg(c, 1, 86400, false, &o->interval, &ret))
				return ret;
			break;
		case 'v':
			ml_verbose++;
			break;
		case OPT_COMBINED:
			o->combined_only = true;
			break;
		case OPT_WA_MISSING_FREE:
			o->wa_missing_free = true;
			break;
		case OPT_SORT:
			if (parse_sort(optarg, o))
				return usage_error("invalid value for %s: '%s' (KEY[,ORDER]: "
						   "stack, callsite, cache, gfp, order; size, count)",
						   "--sort", optarg);
			break;
		case OPT_KERNEL:
			o->kernel = true;
			break;
		case OPT_CGROUP:
			o->cgroup = optarg;
			break;
		case OPT_BACKEND:
			if (!strcmp(optarg, "bpf"))
				o->backend = ML_BACKEND_BPF;
			else if (!strcmp(optarg, "ftrace"))
				o->backend = ML_BACKEND_FTRACE;
			else
				return usage_error("invalid value for %s: '%s' (bpf or ftrace)",
						   "--backend", optarg);
			break;
		case 'P':
			o->percpu = true;
			break;
		case OPT_VMLINUX:
			o->vmlinux = optarg;
			break;
		case OPT_CALL_GRAPH:
			if (!strcmp(optarg, "fp"))
				o->call_graph = ML_CG_FP;
			else if (!strcmp(optarg, "dwarf"))
				o->call_graph = ML_CG_DWARF;
			else if (!strcmp(optarg, "none"))
				o->call_graph = ML_CG_NONE;
			else
				return usage_error("invalid value for %s: '%s' (fp, dwarf or none)",
						   "--call-graph", optarg);
			break;
		case OPT_GROW_STACKS:
			o->grow_stacks = true;
			break;
		case OPT_NO_PRELOAD:
			o->no_preload = true;
			break;
		case OPT_INJECT:
			o->inject = true;
			break;
		case OPT_SAMPLE_BYTES:
			/*
			 * "--sample-bytes=N", or "--sample-bytes N" when N has
			 * a unit (64k, 1M): a bare number after it is INTERVAL.
			 */
			if (!optarg && optind < argc &&
			    ml_parse_u64(argv[optind], 0, UINT64_MAX, true, &v) &&
			    !ml_parse_u64(argv[optind], 0, UINT64_MAX, false, &v))
				optarg = argv[optind++];
			if (!optarg) {
				o->sample_bytes = ML_SAMPLE_BYTES_DEFAULT;
				break;
			}
			if (!num_arg(c, 1, UINT32_MAX, true, &o->sample_bytes, &ret))
				return ret;
			break;
		case OPT_OUTPUT:
			o->output = optarg;
			break;
		case OPT_DURATION:
			if (!num_arg(c, 1, UINT32_MAX, false, &o->duration, &ret))
				return ret;
			break;
		case OPT_SYMBOLS_PREFIX:
			o->symbols_prefix = optarg;
			break;
		case OPT_MAX_ALLOCS:
			if (!num_arg(c, 1, UINT32_MAX, true, &o->max_allocs, &ret))
				return ret;
			break;
		case OPT_STACK_MAP_SIZE:
			if (!num_arg(c, 1, 1 << 24, true, &o->stack_map_size, &ret))
				return ret;
			break;
		case ':':
			return usage_error("option %s needs a value%s",
					   argv[optind - 1], "");
		default:
			return usage_error("unknown option '%s'%s", argv[optind - 1], "");
		}
	}
	if (record && optind < argc &&
	    ((optind > 1 && !strcmp(argv[optind - 1], "--")) ||
	     !(argv[optind][0] >= '0' && argv[optind][0] <= '9'))) {
		if (o->command || o->pid)
			return usage_error("a command after -- cannot be used with %s%s",
					   o->pid ? "-p/--pid" : "-c/--command", "");
		o->command = o->command_buf = quote_command(argc - optind, argv + optind);
		optind = argc;
	}
	if (optind < argc) {
		optarg = argv[optind++];
		if (!ml_parse_u64(optarg, 1, 86400, false, &o->interval))
			return usage_error("invalid INTERVAL '%s'%s (seconds, 1 or more)",
					   optarg, "");
	}
	if (optind < argc) {
		optarg = argv[optind++];
		if (!ml_parse_u64(optarg, 1, UINT32_MAX, false, &o->count))
			return usage_error("invalid COUNT '%s'%s", optarg, "");
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'%s", argv[optind], "");
	if (o->pid && o->command)
		return usage_error("-p/--pid and -c/--command cannot be used together%s%s",
				   "", "");
	if (o->min_size > o->max_size)
		return usage_error("-z/--min-size is larger than -Z/--max-size%s%s", "", "");
	if (o->combined_only && o->show_allocs)
		return usage_error("--combined-only keeps no blocks: -a/--show-allocs cannot be used with it%s%s",
				   "", "");
	if (!o->pid && !o->command)
		o->kernel = true;
	if (o->inject && (!o->pid || o->no_preload || o->obj))
		return usage_error("--inject loads the preload library into a running "
				   "process: only with -p (and without %s)%s",
				   o->no_preload ? "--no-preload" : o->obj ? "-O" : "-c or --kernel",
				   "");
	if (o->sample_bytes && o->pid && !o->inject)
		return usage_error("--sample-bytes samples in the preload library: "
				   "with -p it needs --inject%s%s", "", "");
	if (o->sample_bytes && (o->kernel || o->no_preload || o->obj))
		return usage_error("--sample-bytes samples in the preload library: "
				   "only with -c or -p --inject (and without %s)%s",
				   o->no_preload ? "--no-preload" : o->obj ? "-O" :
				   "--kernel", "");
	if (!o->kernel) {
		const char *k = o->cgroup ? "--cgroup" : o->percpu ? "-P/--percpu" :
				o->backend == ML_BACKEND_FTRACE ? "--backend ftrace" :
				o->grow_stacks ? "--grow-stacks" :
				o->group != ML_GROUP_STACK ? "--sort KEY" : NULL;

		if (k)
			return usage_error("%s traces kernel allocations: add --kernel%s", k, "");
	} else if (o->obj || o->symbols_prefix) {
		return usage_error("%s names a user-space allocator: not with --kernel%s",
				   o->obj ? "-O/--obj" : "--symbols-prefix", "");
	}
	return -1;
}

