/* SPDX-License-Identifier: GPL-2.0 */
/* The subcommands of memleak, one cmd_*() each (as perf's builtin-*.c). */
#ifndef MEMLEAK_BUILTIN_H
#define MEMLEAK_BUILTIN_H

struct cmd_struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	void (*usage)(FILE *out);
};

extern const struct cmd_struct memleak_commands[];

int cmd_top(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_script(int argc, char **argv);

void top_usage(FILE *out);
void record_usage(FILE *out);
void report_usage(FILE *out);
void script_usage(FILE *out);

/* "usage: ..." of the whole command, with the subcommand list. */
void memleak_usage(FILE *out);

#endif /* MEMLEAK_BUILTIN_H */
