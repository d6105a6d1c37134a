/* SPDX-License-Identifier: GPL-2.0 */
/* Turning a -c COMMAND string into an argv: shell-like words, PATH lookup. */
#ifndef MEMLEAK_COMMAND_H
#define MEMLEAK_COMMAND_H

/*
 * Split @cmd into words as a POSIX shell would without expansions:
 * blanks separate words; '...' is literal; "..." keeps \" \\ \$ \` escapes;
 * a backslash outside quotes escapes the next character.  Returns a
 * NULL-terminated, malloc()ed argv (free with ml_argv_free) or NULL with
 * *why set (unterminated quote, empty command).
 */
char **ml_split_command(const char *cmd, const char **why);
void ml_argv_free(char **argv);

/*
 * The executable @name would run as: a name with a '/' as is, otherwise
 * the first executable match in @path (a PATH value).  NULL if none.
 */
char *ml_find_program(const char *name, const char *path);

#endif /* MEMLEAK_COMMAND_H */
