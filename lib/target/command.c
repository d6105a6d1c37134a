// SPDX-License-Identifier: GPL-2.0
/* Turning a -c COMMAND string into an argv: shell-like words, PATH lookup. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/command.h"
#include "util/util.h"

void ml_argv_free(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

char **ml_split_command(const char *cmd, const char **why)
{
	size_t len = strlen(cmd), n = 0;
	char **argv = xcalloc(len / 2 + 2, sizeof(*argv));
	char *word = xmalloc(len + 1);
	const char *s = cmd;

	for (;;) {
		size_t w = 0;
		bool have = false;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
			if (*s == '\'') {
				const char *end = strchr(s + 1, '\'');

				if (!end) {
					*why = "unterminated ' quote";
					goto fail;
				}
				memcpy(word + w, s + 1, end - s - 1);
				w += end - s - 1;
				s = end + 1;
			} else if (*s == '"') {
				for (s++; *s && *s != '"'; s++) {
					if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
						s++;
					word[w++] = *s;
				}
				if (!*s) {
					*why = "unterminated \" quote";
					goto fail;
				}
				s++;
			} else if (*s == '\\' && s[1]) {
				word[w++] = s[1];
				s += 2;
			} else {
				word[w++] = *s++;
			}
			have = true;
		}
		if (have) {
			word[w] = '\0';
			argv[n++] = xstrdup(word);
		}
	}
	free(word);
	if (!n) {
		*why = "empty command";
		free(argv);
		return NULL;
	}
	argv[n] = NULL;
	return argv;
fail:
	free(word);
	ml_argv_free(argv);
	return NULL;
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

char *ml_find_program(const char *name, const char *path)
{
	const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";

	if (!*name)
		return NULL;
	if (strchr(name, '/'))
		return executable(name) ? xstrdup(name) : NULL;
	while (p) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		char *cand = dlen ? xasprintf("%.*s/%s", (int)dlen, p, name) :
				    xasprintf("./%s", name);

		if (executable(cand))
			return cand;
		free(cand);
		p = colon ? colon + 1 : NULL;
	}
	return NULL;
}
