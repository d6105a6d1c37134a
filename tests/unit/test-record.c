// SPDX-License-Identifier: GPL-2.0
/*
 * memleak.data: write/read round trip, and every kind of bad file (cut
 * short at every byte, empty, random, corrupt, a newer version); the
 * growth slope; folded and json output of a recording.
 */
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "output/formats.h"
#include "record/data.h"
#include "record/model.h"
#include "options/options.h"

#define S 1000000000ull

static char path[] = "/tmp/memleak-test-record-XXXXXX";

static void write_sample(const char *p)
{
	struct ml_rec_writer w;
	const char *keys[] = { "memleak_version", "cmdline", "command", "pid", "comm",
			       "kernel", "start_mono_ns", "start_wall_ns", "host" };
	const char *vals[] = { "9.9", "memleak record -- ./t", "./t", "42", "t",
			       "0", "1000000000", "1700000000000000000", "h" };
	uint64_t ips1[] = { 0x1111, 0x2222, 0x3333 }, ips2[] = { 0x4444 };
	struct ml_rec_stack st[] = {
		{ .id = 7, .kind = ML_STACK_USER, .depth = 3, .ips = ips1 },
		{ .id = 9, .kind = ML_STACK_KERNEL, .depth = 1, .ips = ips2 },
	};
	struct ml_rec_mapping m = {
		.m = { .start = 0x1000, .end = 0x5000, .pgoff = 0, .path = "/nonexistent/t",
		       .exec = true },
		.build_id = { 0xde, 0xad, 0xbe, 0xef }, .build_id_len = 4,
	};
	struct ml_rec_total s1[] = { { .stack_id = 7, .bytes = 100, .count = 1 } };
	struct ml_rec_total s2[] = { { .stack_id = 7, .bytes = 300, .count = 3 },
				     { .stack_id = 9, .bytes = 64, .count = 1 } };
	struct ml_rec_total s3[] = { { .stack_id = 7, .bytes = 500, .count = 5 },
				     { .stack_id = 9, .bytes = 64, .count = 1 } };
	struct ml_block b[6] = {};
	uint64_t c[ML_CNT_MAX] = { [ML_CNT_STACK_LOST] = 3 };
	struct ml_rec_comm comm = { .pid = 42, .comm = "t" };
	struct ml_rec_ksym ks = { .addr = 0xffffffff81000000ull, .name = "_text" };

	for (int i = 0; i < 5; i++)
		b[i] = (struct ml_block){ .addr = 0x100 + i, .size = 100,
					  .timestamp_ns = (1 + i) * S, .stack_id = 7,
					  .pid = 42 };
	b[5] = (struct ml_block){ .addr = 0x900, .size = 64, .timestamp_ns = 2 * S,
				  .stack_id = 9, .pid = 42, .kind = ML_KIND_KMALLOC,
				  .gfp = 0xcc0, .call_site = 0xffffffff81234567ull };
	CHECK(!ml_rec_writer_open(&w, p));
	ml_rec_write_meta(&w, 9, keys, vals);
	ml_rec_write_ksyms(&w, &ks, 1);
	ml_rec_write_mapping(&w, &m);
	ml_rec_write_comms(&w, &comm, 1);
	ml_rec_write_stacks(&w, st, 2);
	ml_rec_write_snapshot(&w, 1 * S, NULL, 0);
	ml_rec_write_snapshot(&w, 2 * S, s1, 1);
	ml_rec_write_snapshot(&w, 3 * S, s2, 2);
	ml_rec_write_snapshot(&w, 4 * S, s3, 2);
	ml_rec_write_blocks(&w, b, 6);
	ml_rec_write_counters(&w, c, 2);
	ml_rec_write_end(&w, 5 * S, 1700000004000000000ull);
	CHECK(!ml_rec_writer_close(&w));
}

static void *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "r");
	char *buf = malloc(1 << 20);

	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void round_trip(void)
{
	struct ml_recording r;
	char err[256];
	const struct ml_rec_stack *s;

	write_sample(path);
	CHECK(!ml_recording_read(path, &r, err, sizeof(err)));
	CHECK_EQ_U64(r.version, ML_DATA_VERSION);
	CHECK(r.finished);
	CHECK(!r.truncated);
	CHECK_STR(r.command, "./t");
	CHECK_STR(r.comm, "t");
	CHECK_STR(ml_recording_meta(&r, "host"), "h");
	CHECK_EQ_U64(r.pid, 42);
	CHECK_EQ_U64(r.start_mono_ns, 1 * S);
	CHECK_EQ_U64(r.end_mono_ns, 5 * S);
	CHECK_EQ_U64(r.nmaps, 1);
	CHECK_STR(r.maps[0].m.path, "/nonexistent/t");
	CHECK_EQ_U64(r.maps[0].m.end, 0x5000);
	CHECK_EQ_U64(r.maps[0].build_id_len, 4);
	CHECK_EQ_U64(r.maps[0].build_id[3], 0xef);
	CHECK_EQ_U64(r.nksyms, 1);
	CHECK_STR(r.ksyms[0].name, "_text");
	CHECK(r.ksyms[0].module == NULL);
	CHECK_EQ_U64(r.nstacks, 2);
	s = ml_recording_stack(&r, 7);
	CHECK(s && s->depth == 3 && s->ips[2] == 0x3333 && s->kind == ML_STACK_USER);
	s = ml_recording_stack(&r, 9);
	CHECK(s && s->depth == 1 && s->kind == ML_STACK_KERNEL);
	CHECK(ml_recording_stack(&r, 8) == NULL);
	CHECK_EQ_U64(r.nsnaps, 4);
	CHECK_EQ_U64(r.snaps[3].v[0].bytes, 500);
	CHECK(r.have_blocks);
	CHECK_EQ_U64(r.nblocks, 6);
	CHECK_EQ_U64(r.blocks[5].gfp, 0xcc0);
	CHECK_EQ_U64(r.blocks[5].kind, ML_KIND_KMALLOC);
	CHECK_EQ_U64(r.blocks[5].call_site, 0xffffffff81234567ull);
	CHECK_EQ_U64(r.counters[ML_CNT_STACK_LOST], 3);
	CHECK_EQ_U64(r.prog_misses, 2);
	CHECK_STR(ml_recording_comm(&r, 42), "t");
	ml_recording_free(&r);
}

/* Cut at every length: an error or a truncated recording, never a crash. */
static void truncated_everywhere(void)
{
	size_t len, ok = 0, errs = 0;
	char *buf = slurp(path, &len), err[256];
	struct ml_recording r;

	for (size_t n = 0; n < len; n++) {
		int ret = ml_recording_parse(buf, n, &r, err, sizeof(err));

		if (ret) {
			errs++;
			CHECK(err[0]);
			continue;
		}
		ok++;
		CHECK(r.truncated);
		CHECK(strstr(err, "truncated"));
		CHECK(r.valid_bytes <= n);
		ml_recording_free(&r);
	}
	CHECK(ok > 0 && errs > 0);
	/* cut inside the blocks: the snapshots are there, no blocks */
	CHECK(!ml_recording_parse(buf, len - 200, &r, err, sizeof(err)));
	CHECK(r.truncated && !r.have_blocks && r.nsnaps == 4);
	ml_recording_free(&r);
	free(buf);
}

static void bad_files(void)
{
	size_t len;
	char *buf = slurp(path, &len), err[256], rnd[4096];
	struct ml_recording r;

	CHECK(ml_recording_parse(buf, 0, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "empty file"));
	srand(1);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = rand();
	CHECK(ml_recording_parse(rnd, sizeof(rnd), &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "not a memleak data file"));
	/* the header only */
	CHECK(ml_recording_parse(buf, ML_DATA_HEADER_SIZE, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no records"));
	/* a newer version */
	buf[8] = ML_DATA_VERSION + 1;
	CHECK(ml_recording_parse(buf, len, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "newer"));
	buf[8] = ML_DATA_VERSION;
	/* a flipped byte in a payload: the checksum */
	buf[len / 2] ^= 0x55;
	CHECK(ml_recording_parse(buf, len, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "corrupt"));
	buf[len / 2] ^= 0x55;
	/* a record header that makes no sense */
	memset(buf + ML_DATA_HEADER_SIZE, 0xff, 16);
	CHECK(ml_recording_parse(buf, len, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "corrupt"));
	/* the file reader: a zero-length file */
	{
		char p2[] = "/tmp/memleak-test-zero-XXXXXX";
		int fd = mkstemp(p2);

		close(fd);
		CHECK(ml_recording_read(p2, &r, err, sizeof(err)) == -1);
		CHECK(strstr(err, "empty file"));
		unlink(p2);
		CHECK(ml_recording_read("/nonexistent/x", &r, err, sizeof(err)) == -1);
		CHECK(strstr(err, "cannot open"));
	}
	free(buf);
}

/* Random damage anywhere: an error or a recording, never a crash. */
static void fuzz(void)
{
	size_t len;
	char *buf = slurp(path, &len), *copy = malloc(len), err[256];
	struct ml_recording r;
	int ok = 0, bad = 0;

	srand(7);
	for (int i = 0; i < 3000; i++) {
		size_t n = 1 + rand() % 4;

		memcpy(copy, buf, len);
		while (n--)
			copy[rand() % len] = rand();
		if (ml_recording_parse(copy, rand() % 8 ? len : rand() % len, &r, err,
				       sizeof(err))) {
			bad++;
			CHECK(err[0]);
		} else {
			ok++;
			ml_recording_free(&r);
		}
	}
	CHECK(bad > 0);
	free(copy);
	free(buf);
}

static void slope(void)
{
	double t[] = { 0, 1, 2, 3 }, y[] = { 10, 20, 30, 40 }, flat[] = { 5, 5, 5, 5 };

	CHECK(ml_slope(t, y, 4) > 9.999 && ml_slope(t, y, 4) < 10.001);
	CHECK(ml_slope(t, flat, 4) == 0);
	CHECK(ml_slope(t, y, 1) == 0);
}

static char *render(void (*fn)(FILE *, const struct ml_rmodel *, const struct ml_fmt_opts *),
		    const struct ml_rmodel *m, const struct ml_fmt_opts *o)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	fn(f, m, o);
	fclose(f);
	return s;
}

static void model_and_formats(void)
{
	struct ml_recording r;
	struct ml_rmodel m;
	struct ml_rfilter f = { .pid = -1 };
	struct ml_fmt_opts o = {};
	char err[256], *s;

	CHECK(!ml_recording_read(path, &r, err, sizeof(err)));
	CHECK(!ml_rmodel_build(&m, &r, &f, ML_RSORT_BYTES, NULL));
	CHECK_EQ_U64(m.n, 2);
	CHECK_EQ_U64(m.bytes, 564);
	CHECK_EQ_U64(m.v[0].stack_id, 7);
	CHECK_EQ_U64(m.v[0].bytes, 500);
	CHECK_EQ_U64(m.v[0].count, 5);
	/* 0, 100, 300, 500 bytes at 0, 1, 2, 3 s: 170 bytes/s */
	CHECK(m.v[0].growth > 169.9 && m.v[0].growth < 170.1);
	CHECK_EQ_U64(m.v[0].nframes, 3);

	s = render(ml_fmt_folded, &m, &o);
	CHECK(strstr(s, "t;[t+0x3333];[t+0x2222];[t+0x1111] 500\n") != NULL);
	free(s);
	o.weight = ML_WEIGHT_COUNT;
	s = render(ml_fmt_folded, &m, &o);
	CHECK(strstr(s, "[t+0x1111] 5\n") != NULL);
	free(s);
	s = render(ml_fmt_json, &m, &o);
	CHECK(strstr(s, "\"schema\": \"memleak-report\"") != NULL);
	CHECK(strstr(s, "\"bytes\": 500,") != NULL);
	CHECK(strstr(s, "\"address\": \"0x1111\"") != NULL);
	CHECK(strstr(s, "\"stack_lost\": 3") != NULL);
	free(s);
	ml_rmodel_free(&m);

	/* filters: --min-size 100 keeps stack 7 only; --older 2500 ms: 3 blocks */
	f.min_size = 100;
	CHECK(!ml_rmodel_build(&m, &r, &f, ML_RSORT_BYTES, NULL));
	CHECK_EQ_U64(m.n, 1);
	ml_rmodel_free(&m);
	f.min_size = 0;
	f.older_ms = 2500;
	CHECK(!ml_rmodel_build(&m, &r, &f, ML_RSORT_COUNT, NULL));
	CHECK_EQ_U64(m.bytes, 264);
	ml_rmodel_free(&m);
	f.older_ms = 0;
	f.pid = 1;
	CHECK(!ml_rmodel_build(&m, &r, &f, ML_RSORT_BYTES, NULL));
	CHECK_EQ_U64(m.n, 0);
	ml_rmodel_free(&m);
	ml_recording_free(&r);
}

static void usage(FILE *out)
{
}

/* record's command line: -o is the output file; top's -o stays OLDER. */
static void record_options(void)
{
	struct ml_opts o;
	char *a1[] = { "record", "-o", "x.data", "--duration", "5", "--", "./t", "a b", "it's", NULL };
	char *a2[] = { "record", "-p", "42", "3", NULL };
	char *a3[] = { "top", "-o", "700", "-p", "42", NULL };
	char *a4[] = { "record", "./prog", "-x", NULL };
	char *a5[] = { "record", "-p", "1", "--", "./t", NULL };

	CHECK(ml_parse_options_flags(9, a1, &o, usage, ML_OPT_RECORD) == -1);
	CHECK_STR(o.output, "x.data");
	CHECK_EQ_U64(o.duration, 5);
	CHECK_STR(o.command, "'./t' 'a b' 'it'\\''s'");
	free(o.command_buf);
	CHECK_EQ_U64(o.interval, 1);
	CHECK(ml_parse_options_flags(4, a2, &o, usage, ML_OPT_RECORD) == -1);
	CHECK_EQ_U64(o.pid, 42);
	CHECK_EQ_U64(o.interval, 3);
	CHECK(o.output == NULL);
	CHECK(ml_parse_options(5, a3, &o, usage) == -1);
	CHECK_EQ_U64(o.older_ms, 700);
	CHECK(o.output == NULL);
	CHECK(ml_parse_options_flags(3, a4, &o, usage, ML_OPT_RECORD) == -1);
	CHECK_STR(o.command, "'./prog' '-x'");
	free(o.command_buf);
	CHECK(ml_parse_options_flags(5, a5, &o, usage, ML_OPT_RECORD) == 2);
}

/* A stack id written twice: the later copy counts. */
static void stack_rewritten(void)
{
	char p2[] = "/tmp/memleak-test-stack-XXXXXX";
	int fd = mkstemp(p2);
	struct ml_rec_writer w;
	struct ml_recording r;
	const char *k[] = { "memleak_version" }, *v[] = { "1" };
	uint64_t a[] = { 1, 2 }, b[] = { 3 };
	struct ml_rec_stack s1 = { .id = 5, .depth = 2, .ips = a };
	struct ml_rec_stack s2 = { .id = 5, .depth = 1, .ips = b };
	char err[256];

	close(fd);
	CHECK(!ml_rec_writer_open(&w, p2));
	ml_rec_write_meta(&w, 1, k, v);
	for (int i = 0; i < 20; i++)
		ml_rec_write_stacks(&w, &s1, 1);
	ml_rec_write_stacks(&w, &s2, 1);
	ml_rec_write_end(&w, 0, 0);
	CHECK(!ml_rec_writer_close(&w));
	CHECK(!ml_recording_read(p2, &r, err, sizeof(err)));
	CHECK(ml_recording_stack(&r, 5) && ml_recording_stack(&r, 5)->depth == 1);
	ml_recording_free(&r);
	unlink(p2);
}

int main(void)
{
	int fd = mkstemp(path);

	close(fd);
	TEST(round_trip);
	TEST(truncated_everywhere);
	TEST(bad_files);
	TEST(fuzz);
	TEST(slope);
	TEST(model_and_formats);
	TEST(record_options);
	TEST(stack_rewritten);
	unlink(path);
	return TEST_DONE();
}
