// SPDX-License-Identifier: GPL-2.0
/*
 * memleak: find memory leaks and growth in running processes.
 * The entry point: a git/perf-style table of subcommands.  A command line
 * that names no subcommand is bcc memleak's, and runs "top".
 */
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <string.h>

#include "subcmd/builtin.h"
#include "util/util.h"

const struct cmd_struct memleak_commands[] = {
	{ "top", cmd_top, "Trace a process and print its outstanding allocations live (default)", top_usage },
	{ "record", cmd_record, "Trace and write the outstanding allocations to a data file", record_usage },
	{ "report", cmd_report, "Read a data file (or a trace-cmd trace.dat) and report", report_usage },
	{ "script", cmd_script, "Print a data file's stacks as 'perf script' does", script_usage },
	{ "help", cmd_help, "Show help for memleak or one of its subcommands", NULL },
	{ "version", cmd_version, "Print memleak's version", NULL },
	{ NULL, NULL, NULL, NULL },
};

void memleak_usage(FILE *out)
{
	fprintf(out, "usage: memleak [--version] [--help] <command> [<args>]\n"
		     "       memleak [bcc memleak options]   (same as: memleak top ...)\n\n"
		     "Commands:\n");
	for (const struct cmd_struct *c = memleak_commands; c->name; c++)
		fprintf(out, "   %-10s %s\n", c->name, c->help);
	fprintf(out, "\nSee 'memleak help <command>' for a command's options.\n");
}

int cmd_version(int argc, char **argv)
{
	printf("memleak version %s\n", MEMLEAK_VERSION);
	return 0;
}

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		memleak_usage(stdout);
		return 0;
	}
	for (const struct cmd_struct *c = memleak_commands; c->name; c++) {
		if (strcmp(c->name, argv[1]))
			continue;
		if (c->usage)
			c->usage(stdout);
		else
			printf("usage: memleak %s\n\n%s\n", c->name, c->help);
		return 0;
	}
	ml_err("'%s' is not a memleak command; see 'memleak help'", argv[1]);
	return 2;
}

/* libbpf's messages (verifier logs) only with -v: memleak says what failed. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!ml_verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static char name[64];

	libbpf_set_print(libbpf_print);
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")))
		return cmd_version(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "--help"))
		return cmd_help(argc - 1, argv + 1);
	for (const struct cmd_struct *c = memleak_commands; argc > 1 && c->name; c++) {
		if (strcmp(c->name, argv[1]))
			continue;
		snprintf(name, sizeof(name), "memleak %s", c->name);
		ml_progname = name;
		return c->fn(argc - 1, argv + 1);
	}
	if (argc > 1 && argv[1][0] != '-' && !(argv[1][0] >= '0' && argv[1][0] <= '9')) {
		ml_err("'%s' is not a memleak command; see 'memleak --help'", argv[1]);
		return 2;
	}
	return cmd_top(argc, argv);
}
