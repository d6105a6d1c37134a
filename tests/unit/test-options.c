// SPDX-License-Identifier: GPL-2.0
/* bcc memleak's command lines parse as bcc parses them; bad ones exit 2. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>

#include "test.h"
#include "options/options.h"
#include "analysis/aggregate.h"

static void no_usage(FILE *out)
{
}

static int parse(struct ml_opts *o, ...)
{
	char *argv[32];
	int argc = 0, ret, saved;
	va_list ap;

	va_start(ap, o);
	argv[argc++] = "memleak";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	/* Keep the error messages out of the test output. */
	saved = dup(2);
	int devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 2);
	ret = ml_parse_options(argc, argv, o, no_usage);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	return ret;
}

static void defaults(void)
{
	struct ml_opts o;

	CHECK(parse(&o, "-p", "123", NULL) == -1);
	CHECK_EQ_U64(o.pid, 123);
	CHECK_EQ_U64(o.older_ms, 500);
	CHECK_EQ_U64(o.top, 10);
	CHECK_EQ_U64(o.interval, 5);
	CHECK_EQ_U64(o.count, 0);
	CHECK_EQ_U64(o.sample_rate, 1);
	CHECK_EQ_U64(o.min_size, 0);
	CHECK(o.max_size == UINT64_MAX);
	CHECK(o.sort == ML_SORT_SIZE);
	CHECK(!o.trace && !o.show_allocs && !o.combined_only);
}

/*
 * --sample-bytes: alone the default mean; =N any size; a separate word only
 * with a unit, so that a bare number stays INTERVAL.
 */
static void sample_bytes(void)
{
	struct ml_opts o;

	CHECK(parse(&o, "-c", "ls", "--sample-bytes", NULL) == -1);
	CHECK_EQ_U64(o.sample_bytes, ML_SAMPLE_BYTES_DEFAULT);
	CHECK_EQ_U64(o.interval, 5);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes", "3", NULL) == -1);
	CHECK_EQ_U64(o.sample_bytes, ML_SAMPLE_BYTES_DEFAULT);
	CHECK_EQ_U64(o.interval, 3);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes=4096", "3", "2", NULL) == -1);
	CHECK_EQ_U64(o.sample_bytes, 4096);
	CHECK_EQ_U64(o.interval, 3);
	CHECK_EQ_U64(o.count, 2);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes", "64k", "7", NULL) == -1);
	CHECK_EQ_U64(o.sample_bytes, 65536);
	CHECK_EQ_U64(o.interval, 7);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes", "1MiB", NULL) == -1);
	CHECK_EQ_U64(o.sample_bytes, 1 << 20);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes=0", NULL) == 2);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes", "8g", NULL) == 2);
	CHECK(parse(&o, "-c", "ls", "--sample-bytes=x", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "--sample-bytes", NULL) == 2);
	CHECK(parse(&o, "-c", "ls", "--no-preload", "--sample-bytes", NULL) == 2);
	CHECK(parse(&o, "-c", "ls", "--no-preload", NULL) == -1);
	CHECK(o.no_preload);
}

/* The command lines of bcc memleak's man page and examples. */
static void bcc_command_lines(void)
{
	struct ml_opts o;

	CHECK(parse(&o, "-p", "1005", "-a", NULL) == -1);
	CHECK(o.show_allocs);
	CHECK(parse(&o, "-s", "5", "--top=5", "-p", "7", "10", NULL) == -1);
	CHECK_EQ_U64(o.sample_rate, 5);
	CHECK_EQ_U64(o.top, 5);
	CHECK_EQ_U64(o.interval, 10);
	CHECK(parse(&o, "-c", "./allocs", NULL) == -1);
	CHECK_STR(o.command, "./allocs");
	CHECK(parse(&o, "-z", "16", "-Z", "32", "-p", "1", NULL) == -1);
	CHECK_EQ_U64(o.min_size, 16);
	CHECK_EQ_U64(o.max_size, 32);
	CHECK(parse(&o, "-tp", "11748", NULL) == -1);
	CHECK(o.trace);
	CHECK_EQ_U64(o.pid, 11748);
	CHECK(parse(&o, "-p", "9", "-o", "60000", "3", "4", NULL) == -1);
	CHECK_EQ_U64(o.older_ms, 60000);
	CHECK_EQ_U64(o.interval, 3);
	CHECK_EQ_U64(o.count, 4);
	CHECK(parse(&o, "--pid", "9", "--combined-only", "--wa-missing-free",
		    "--sort", "count", "--symbols-prefix", "je_", "-O",
		    "libjemalloc.so", NULL) == -1);
	CHECK(o.combined_only && o.wa_missing_free);
	CHECK(o.sort == ML_SORT_COUNT);
	CHECK_STR(o.symbols_prefix, "je_");
	CHECK_STR(o.obj, "libjemalloc.so");
	CHECK(parse(&o, "-p", "9", "-Z", "1k", NULL) == -1);
	CHECK_EQ_U64(o.max_size, 1024);
}

static void bad_input_exits_2(void)
{
	struct ml_opts o;

	CHECK(parse(&o, "--bogus", NULL) == 2);
	CHECK(parse(&o, "-p", "abc", NULL) == 2);
	CHECK(parse(&o, "-p", "-5", NULL) == 2);
	CHECK(parse(&o, "-p", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "-s", "0", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "-T", "x", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "--sort", "age", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "-z", "10", "-Z", "5", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "-c", "ls", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "five", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "5", "0", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "5", "2", "9", NULL) == 2);
	CHECK(parse(&o, "-p", "1", "-a", "--combined-only", NULL) == 2);
	CHECK(parse(&o, "-h", NULL) == 0);
}

int main(void)
{
	TEST(defaults);
	TEST(sample_bytes);
	TEST(bcc_command_lines);
	TEST(bad_input_exits_2);
	return TEST_DONE();
}
