// SPDX-License-Identifier: GPL-2.0
/*
 * memleak report: read a memleak.data file (or a trace-cmd trace.dat) and
 * print it as perf report --stdio does, or in one of the export formats.
 * memleak script: the same data as perf script text.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "subcmd/builtin.h"
#include "input/tracecmd.h"
#include "output/formats.h"
#include "record/data.h"
#include "record/model.h"
#include "util/util.h"

enum ml_format {
	FMT_TEXT,
	FMT_JSON,
	FMT_FOLDED,
	FMT_SVG,
	FMT_SCRIPT,
	FMT_PERFDATA,
	FMT_PPROF,
};

static const char *const format_names[] = {
	[FMT_TEXT] = "text", [FMT_JSON] = "json", [FMT_FOLDED] = "folded",
	[FMT_SVG] = "svg", [FMT_SCRIPT] = "script", [FMT_PERFDATA] = "perf-data",
	[FMT_PPROF] = "pprof",
};

void report_usage(FILE *out)
{
	fprintf(out,
"usage: memleak report [-i FILE] [-o FILE] [--format FORMAT] [--sort KEY]\n"
"                      [--pid PID] [--comm COMM] [--older MS] [--min-size SIZE]\n"
"                      [--symbol SYM] [--percent-limit PCT] [-g caller|callee]\n"
"                      [--weight bytes|count] [-a] [-T N] [--symfs DIR] [--stdio]\n"
"\n"
"Report the outstanding allocations of a 'memleak record' data file, or of\n"
"a trace-cmd recording (trace.dat) of kmem or memleak events.\n"
"\n"
"options:\n"
"  -i, --input FILE       data file (default memleak.data)\n"
"  -o, --output FILE      write the report to FILE (default stdout)\n"
"  --format FORMAT        text (default), json, folded, svg, script,\n"
"                         perf-data, pprof (binary: -o FILE or a pipe)\n"
"  -s, --sort KEY         bytes (default), count, growth, age\n"
"  --pid PID              only blocks allocated by PID\n"
"  --comm COMM            only blocks of processes named COMM\n"
"  --older MS             only blocks at least MS milliseconds old at the end\n"
"  --min-size SIZE        only blocks of at least SIZE bytes (k, m, g)\n"
"  --symbol SYM           only stacks with a frame in function SYM\n"
"  --percent-limit PCT    leave out entries below PCT%% of the bytes\n"
"  -g, --call-graph ORDER callee (leaf first, default) or caller\n"
"  -G, --inverted         same as -g caller\n"
"  --weight bytes|count   what folded, svg and script weigh stacks by\n"
"  -a, --show-allocs      each outstanding block (text, json)\n"
"  -T, --top N            only the first N entries\n"
"  --symfs DIR            look for the recorded files under DIR\n"
"  --title TEXT           title of the svg flame graph\n"
"  --stdio                no pager\n"
"  -v, --verbose          more messages\n"
"\n"
"examples:\n"
"  memleak report                                  perf report --stdio style\n"
"  memleak report --sort growth                    steadily growing stacks first\n"
"  memleak report --format folded | flamegraph.pl > leaks.svg\n"
"  memleak report --format svg -o leaks.svg        a flame graph, no other tool\n"
"  memleak report --format perf-data -o perf.data && perf report -i perf.data\n"
"  memleak report --format pprof -o leaks.pb.gz && pprof -top leaks.pb.gz\n"
"  memleak report -i trace.dat                     a trace-cmd recording\n"
"\n"
"See memleak-report(1).\n");
}

void script_usage(FILE *out)
{
	fprintf(out,
"usage: memleak script [-i FILE] [-o FILE] [--pid PID] [--comm COMM] [--older MS]\n"
"                      [--min-size SIZE] [--symbol SYM] [--weight bytes|count]\n"
"\n"
"Print each stack of a data file as 'perf script' prints a sample with a\n"
"call chain: 'comm pid/tid time: PERIOD memleak:outstanding:', a frame a\n"
"line ('\\taddr sym+off (dso)', leaf first), a blank line.  PERIOD is the\n"
"stack's outstanding bytes, so stackcollapse-perf.pl and other perf script\n"
"readers work:\n"
"\n"
"  memleak script | stackcollapse-perf.pl | flamegraph.pl > leaks.svg\n"
"\n"
"Options as in 'memleak report -h'.  See memleak-script(1).\n");
}

enum {
	OPT_FORMAT = 256, OPT_PID, OPT_COMM, OPT_OLDER, OPT_MIN_SIZE, OPT_SYMBOL,
	OPT_PERCENT, OPT_WEIGHT, OPT_SYMFS, OPT_STDIO, OPT_TITLE,
};

static const struct option report_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "input", required_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "sort", required_argument, NULL, 's' },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "older", required_argument, NULL, OPT_OLDER },
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
	{ "symbol", required_argument, NULL, OPT_SYMBOL },
	{ "percent-limit", required_argument, NULL, OPT_PERCENT },
	{ "call-graph", required_argument, NULL, 'g' },
	{ "inverted", no_argument, NULL, 'G' },
	{ "weight", required_argument, NULL, OPT_WEIGHT },
	{ "show-allocs", no_argument, NULL, 'a' },
	{ "top", required_argument, NULL, 'T' },
	{ "symfs", required_argument, NULL, OPT_SYMFS },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "stdio", no_argument, NULL, OPT_STDIO },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

static int bad(void (*usage)(FILE *), const char *what, const char *arg)
{
	ml_err("invalid value for %s: '%s'", what, arg);
	usage(stderr);
	return 2;
}

/* Page text output on a terminal, as perf does. */
static FILE *start_pager(void)
{
	const char *pager = getenv("MEMLEAK_PAGER");
	FILE *p;

	if (!pager)
		pager = getenv("PAGER");
	if (!pager || !*pager)
		pager = "less -FRX";
	if (!strcmp(pager, "cat"))
		return NULL;
	signal(SIGPIPE, SIG_IGN);
	p = popen(pager, "w");
	return p;
}

static bool is_trace_dat(const char *path)
{
	if (!strcmp(path, "-"))
		return false;
	static const char magic[] = "\027\010\104tracing";
	char buf[10] = "";
	FILE *f = fopen(path, "re");
	bool yes;

	if (!f)
		return false;
	yes = fread(buf, 1, sizeof(buf), f) == sizeof(buf) && !memcmp(buf, magic, 10);
	fclose(f);
	return yes;
}

static int report_main(int argc, char **argv, enum ml_format fmt,
		       void (*usage)(FILE *))
{
	const char *input = "memleak.data", *output = NULL, *symfs = NULL;
	struct ml_rfilter f = { .pid = -1 };
	struct ml_fmt_opts o = {};
	enum ml_rsort sort = ML_RSORT_BYTES;
	struct ml_recording rec;
	struct ml_rmodel m;
	bool stdio = false;
	FILE *out = stdout, *pager = NULL;
	char err[512];
	uint64_t v;
	int c, ret = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hi:o:s:g:GaT:v", report_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'i':
			input = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_FORMAT:
			fmt = -1;
			for (size_t i = 0; i < ARRAY_SIZE(format_names); i++)
				if (!strcmp(optarg, format_names[i]))
					fmt = i;
			if ((int)fmt < 0)
				return bad(usage, "--format (text, json, folded, svg, script, "
					   "perf-data, pprof)", optarg);
			break;
		case 's':
			if (ml_rsort_parse(optarg) < 0)
				return bad(usage, "-s/--sort (bytes, count, growth, age)", optarg);
			sort = ml_rsort_parse(optarg);
			o.sort = optarg;
			break;
		case OPT_PID:
			if (!ml_parse_u64(optarg, 0, INT32_MAX, false, &v))
				return bad(usage, "--pid", optarg);
			f.pid = v;
			break;
		case OPT_COMM:
			f.comm = optarg;
			break;
		case OPT_OLDER:
			if (!ml_parse_u64(optarg, 0, UINT64_MAX / 1000000, false, &f.older_ms))
				return bad(usage, "--older", optarg);
			break;
		case OPT_MIN_SIZE:
			if (!ml_parse_u64(optarg, 0, UINT64_MAX, true, &f.min_size))
				return bad(usage, "--min-size", optarg);
			break;
		case OPT_SYMBOL:
			f.symbol = optarg;
			break;
		case OPT_PERCENT: {
			char *end;

			o.percent_limit = strtod(optarg, &end);
			if (end == optarg || *end || o.percent_limit < 0 || o.percent_limit > 100)
				return bad(usage, "--percent-limit", optarg);
			break;
		}
		case 'g':
			if (!strcmp(optarg, "caller"))
				o.caller = true;
			else if (!strcmp(optarg, "callee"))
				o.caller = false;
			else
				return bad(usage, "-g/--call-graph (caller, callee)", optarg);
			break;
		case 'G':
			o.caller = true;
			break;
		case OPT_WEIGHT:
			if (!strcmp(optarg, "bytes"))
				o.weight = ML_WEIGHT_BYTES;
			else if (!strcmp(optarg, "count"))
				o.weight = ML_WEIGHT_COUNT;
			else
				return bad(usage, "--weight (bytes, count)", optarg);
			break;
		case 'a':
			o.show_allocs = true;
			break;
		case 'T':
			if (!ml_parse_u64(optarg, 1, UINT32_MAX, false, &v))
				return bad(usage, "-T/--top", optarg);
			o.top = v;
			break;
		case OPT_SYMFS:
			symfs = optarg;
			break;
		case OPT_TITLE:
			o.title = optarg;
			break;
		case OPT_STDIO:
			stdio = true;
			break;
		case 'v':
			ml_verbose++;
			break;
		case ':':
			ml_err("option %s needs a value", argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			ml_err("unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		ml_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (is_trace_dat(input)) {
		if (ml_tracecmd_read(input, &rec, err, sizeof(err), f.pid, f.comm)) {
			ml_err("%s: %s", input, err);
			return 1;
		}
	} else if (ml_recording_read(input, &rec, err, sizeof(err))) {
		ml_err("%s: %s", input, err);
		return 1;
	} else if (rec.truncated) {
		ml_warn("%s: %s", input, err);
	}
	if (ml_rmodel_build(&m, &rec, &f, sort, symfs)) {
		ml_recording_free(&rec);
		return 1;
	}
	if (m.from_snapshot && (f.pid >= 0 || f.comm || f.older_ms || f.min_size))
		ml_warn("%s has no block list (truncated): --pid, --comm, --older and "
			"--min-size are not applied", input);

	if (output && strcmp(output, "-")) {
		out = fopen(output, "we");
		if (!out) {
			ml_err("cannot write %s: %s", output, strerror(errno));
			ml_rmodel_free(&m);
			ml_recording_free(&rec);
			return 1;
		}
	} else if (isatty(STDOUT_FILENO)) {
		if (fmt == FMT_PERFDATA || fmt == FMT_PPROF) {
			ml_err("--format %s is binary: give -o FILE or a pipe",
			       format_names[fmt]);
			ml_rmodel_free(&m);
			ml_recording_free(&rec);
			return 2;
		}
		if (!stdio && (pager = start_pager()))
			out = pager;
	}

	switch (fmt) {
	case FMT_TEXT: ml_fmt_text(out, &m, &o); break;
	case FMT_JSON: ml_fmt_json(out, &m, &o); break;
	case FMT_FOLDED: ml_fmt_folded(out, &m, &o); break;
	case FMT_SVG: ml_fmt_svg(out, &m, &o); break;
	case FMT_SCRIPT: ml_fmt_script(out, &m, &o); break;
	case FMT_PERFDATA: ret = ml_fmt_perfdata(out, &m, &o); break;
	case FMT_PPROF: ret = ml_fmt_pprof(out, &m, &o); break;
	}
	if (ret)
		ml_err("cannot write the %s output: %s", format_names[fmt], strerror(-ret));
	if (pager)
		pclose(pager);
	else if (out != stdout && fclose(out))
		ret = -errno;
	else if (out == stdout && fflush(stdout) && errno != EPIPE)
		ret = -errno;
	ml_rmodel_free(&m);
	ml_recording_free(&rec);
	return ret ? 1 : 0;
}

int cmd_report(int argc, char **argv)
{
	return report_main(argc, argv, FMT_TEXT, report_usage);
}

int cmd_script(int argc, char **argv)
{
	return report_main(argc, argv, FMT_SCRIPT, script_usage);
}
