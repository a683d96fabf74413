/* SPDX-License-Identifier: MIT */
/*
 * A minimal unit-test framework with no dependency. A failed check prints
 * "file:line: test_name: expected X, got Y" and marks the running test as
 * failed without stopping it. RUN(test_fn) runs one test. check_summary()
 * prints "N passed, N failed", counting tests, and returns main's exit code.
 */
#ifndef CIE_CHECK_H
#define CIE_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *check_test_name = "(no test)";
static bool check_test_failed;
static unsigned check_passed_count;
static unsigned check_failed_count;

/*
 * Report the outcome of one check made at file:line. On failure, print the
 * location, the running test and the message built from fmt. Returns ok, so
 * that a test can stop early when later checks would dereference NULL.
 */
__attribute__((format(printf, 4, 5), unused))
static bool check_report(bool ok, const char *file, int line,
			 const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	check_test_failed = true;
	fprintf(stderr, "%s:%d: %s: ", file, line, check_test_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

__attribute__((unused))
static bool check_str_eq(const char *file, int line, const char *what,
			 const char *actual, const char *expected)
{
	bool ok = actual && expected ? strcmp(actual, expected) == 0 :
				       actual == expected;

	return check_report(ok, file, line, "%s: expected \"%s\", got \"%s\"",
			    what, expected ? expected : "(null)",
			    actual ? actual : "(null)");
}

__attribute__((unused))
static bool check_int_eq(const char *file, int line, const char *what,
			 long long actual, long long expected)
{
	return check_report(actual == expected, file, line,
			    "%s: expected %lld, got %lld", what, expected, actual);
}

/* Exact comparison; NaN equals NaN so that NaN results can be checked. */
__attribute__((unused))
static bool check_double_eq(const char *file, int line, const char *what,
			    double actual, double expected)
{
	bool ok = actual == expected || (isnan(actual) && isnan(expected));

	return check_report(ok, file, line, "%s: expected %.17g, got %.17g",
			    what, expected, actual);
}

__attribute__((unused))
static bool check_double_near(const char *file, int line, const char *what,
			      double actual, double expected, double tolerance)
{
	return check_report(fabs(actual - expected) <= tolerance, file, line,
			    "%s: expected %.17g (within %g), got %.17g", what,
			    expected, tolerance, actual);
}

#define CHECK(cond, ...) check_report((cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_STR_EQ(actual, expected) \
	check_str_eq(__FILE__, __LINE__, #actual, (actual), (expected))
#define CHECK_INT_EQ(actual, expected) \
	check_int_eq(__FILE__, __LINE__, #actual, (long long)(actual), \
		     (long long)(expected))
#define CHECK_DOUBLE_EQ(actual, expected) \
	check_double_eq(__FILE__, __LINE__, #actual, (double)(actual), \
			(double)(expected))
#define CHECK_DOUBLE_NEAR(actual, expected, tolerance) \
	check_double_near(__FILE__, __LINE__, #actual, (double)(actual), \
			  (double)(expected), (double)(tolerance))

#define RUN(test_fn) \
	do { \
		check_test_name = #test_fn; \
		check_test_failed = false; \
		test_fn(); \
		if (check_test_failed) \
			check_failed_count++; \
		else \
			check_passed_count++; \
	} while (0)

/* Print the totals; returns 1 when any test failed, else 0. */
__attribute__((unused))
static int check_summary(void)
{
	printf("%u passed, %u failed\n", check_passed_count, check_failed_count);
	return check_failed_count ? 1 : 0;
}

#endif
