// SPDX-License-Identifier: GPL-2.0
/*
 * memleak: find memory leaks and growth in running processes.
 * The entry point: a git/perf-style table of subcommands.  A command line
 * that names no subcommand is bcc memleak's, and runs "top".
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
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

/*
 * Show man page @page: the one in the source tree next to this executable
 * (a build run in place), else the installed one.  False if neither.
 */
static bool show_man(const char *page)
{
	char exe[4096], *path;
	ssize_t n;
	pid_t pid;
	int st;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	path = xasprintf("%s/Documentation/%s.1", exe, page);
	fflush(stdout);
	if (access(path, R_OK) == 0)
		execlp("man", "man", "-l", path, (char *)NULL);
	free(path);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		/* installed? */
		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("man", "man", "-w", page, (char *)NULL);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0)
		execlp("man", "man", page, (char *)NULL);
	return false;
}

int cmd_help(int argc, char **argv)
{
	const struct cmd_struct *c;
	bool man = isatty(STDOUT_FILENO);
	char *page;

	/* -m/--man: the man page even when not on a terminal */
	if (argc > 1 && (!strcmp(argv[1], "-m") || !strcmp(argv[1], "--man"))) {
		man = true;
		argc--;
		argv++;
	}
	if (argc < 2) {
		if (!man || !show_man("memleak"))
			memleak_usage(stdout);
		return 0;
	}
	for (c = memleak_commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			break;
	if (!c->name) {
		ml_err("'%s' is not a memleak command; see 'memleak help'", argv[1]);
		return 2;
	}
	page = xasprintf("memleak-%s", c->name);
	/* as git help: the man page on a terminal, else (or without one) usage */
	if (!man || !show_man(page)) {
		if (c->usage)
			c->usage(stdout);
		else
			printf("usage: memleak %s\n\n%s\n", c->name, c->help);
	}
	free(page);
	return 0;
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
