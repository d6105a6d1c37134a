// SPDX-License-Identifier: GPL-2.0
/* -c COMMAND is split like a shell splits it, and found on PATH. */
#include <stdlib.h>

#include "test.h"
#include "target/command.h"

static char **split(const char *s)
{
	const char *why = NULL;

	return ml_split_command(s, &why);
}

static void words(void)
{
	char **a = split("  ./allocs   --size 64\t-v ");

	CHECK(a != NULL);
	if (!a)
		return;
	CHECK_STR(a[0], "./allocs");
	CHECK_STR(a[1], "--size");
	CHECK_STR(a[2], "64");
	CHECK_STR(a[3], "-v");
	CHECK(a[4] == NULL);
	ml_argv_free(a);
}

static void quotes(void)
{
	char **a = split("sh -c 'echo \"a b\"; exit 7' \"x y\"z a\\ b \"q\\\"q\" ''");

	CHECK(a != NULL);
	if (!a)
		return;
	CHECK_STR(a[0], "sh");
	CHECK_STR(a[1], "-c");
	CHECK_STR(a[2], "echo \"a b\"; exit 7");
	CHECK_STR(a[3], "x yz");
	CHECK_STR(a[4], "a b");
	CHECK_STR(a[5], "q\"q");
	CHECK_STR(a[6], "");
	CHECK(a[7] == NULL);
	ml_argv_free(a);
}

static void errors(void)
{
	const char *why = NULL;

	CHECK(ml_split_command("", &why) == NULL && why);
	CHECK(ml_split_command("   ", &why) == NULL);
	CHECK(ml_split_command("echo 'open", &why) == NULL);
	CHECK(why && strstr(why, "quote"));
	CHECK(ml_split_command("echo \"open", &why) == NULL);
}

static void path_lookup(void)
{
	char *p = ml_find_program("sh", "/nonexistent:/bin:/usr/bin");

	CHECK(p && !strcmp(p, "/bin/sh"));
	free(p);
	CHECK(ml_find_program("no-such-program-xyz", "/bin:/usr/bin") == NULL);
	CHECK(ml_find_program("/etc/passwd", NULL) == NULL);	/* not executable */
	p = ml_find_program("/bin/sh", "");
	CHECK_STR(p, "/bin/sh");
	free(p);
}

int main(void)
{
	TEST(words);
	TEST(quotes);
	TEST(errors);
	TEST(path_lookup);
	return TEST_DONE();
}
