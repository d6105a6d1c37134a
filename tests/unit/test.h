/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal unit-test harness: each tests/unit/test-*.c is one program whose
 * main() calls TEST() for its cases; a failed CHECK prints where and marks
 * the case failed.  The program prints "N passed, N failed" and exits 1 on
 * any failure.
 */
#ifndef MEMLEAK_TEST_H
#define MEMLEAK_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_case_failed;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			test_case_failed = 1;				\
		}							\
	} while (0)

#define CHECK_EQ_U64(a, b)						\
	do {								\
		unsigned long long _a = (a), _b = (b);			\
		if (_a != _b) {						\
			fprintf(stderr, "%s:%d: %s == %llu, expected %llu\n", \
				__FILE__, __LINE__, #a, _a, _b);	\
			test_case_failed = 1;				\
		}							\
	} while (0)

#define CHECK_STR(a, b)							\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (!_a || !_b || strcmp(_a, _b)) {			\
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, _a ? _a : "(null)", \
				_b ? _b : "(null)");			\
			test_case_failed = 1;				\
		}							\
	} while (0)

#define TEST(fn)							\
	do {								\
		test_case_failed = 0;					\
		fn();							\
		if (test_case_failed) {					\
			test_failed++;					\
			fprintf(stderr, "FAIL %s\n", #fn);		\
		} else {						\
			test_passed++;					\
		}							\
	} while (0)

#define TEST_DONE()							\
	({								\
		printf("%s: %d passed, %d failed\n", __FILE__,		\
		       test_passed, test_failed);			\
		test_failed ? 1 : 0;					\
	})

#endif /* MEMLEAK_TEST_H */
