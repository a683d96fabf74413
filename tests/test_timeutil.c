/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/timeutil.c: ISO 8601 timestamps, HTTP dates,
 * Retry-After values and config durations.
 */
#include <stdlib.h>

#include "check.h"
#include "timeutil.h"

/* 1994-11-06T08:49:37Z, the example date of RFC 9110. */
#define RFC_DATE 784111777.0

static void check_iso(int line, const char *text, double expected)
{
	double v = -1;

	if (check_report(cie_time_parse_iso8601(text, &v), __FILE__, line,
			 "\"%s\": expected valid, got invalid", text))
		check_report(v == expected, __FILE__, line,
			     "\"%s\": expected %.17g, got %.17g", text, expected, v);
}

static void check_iso_invalid(int line, const char *text)
{
	double v = -1;

	check_report(!cie_time_parse_iso8601(text, &v), __FILE__, line,
		     "\"%s\": expected invalid, got %.17g", text, v);
}

static void test_timeutil_iso_utc(void)
{
	check_iso(__LINE__, "2020-01-15T03:20:24.927Z", 1579058424.927);
	check_iso(__LINE__, "2020-01-21T23:09:13.953Z", 1579648153.953);
	check_iso(__LINE__, "1970-01-01T00:00:00Z", 0);
	check_iso(__LINE__, "2024-02-29T12:00:00z", 1709208000);
}

static void test_timeutil_iso_offsets(void)
{
	/* 2020-01-21T20:34:50Z is 1579638890. */
	check_iso(__LINE__, "2020-01-21T22:34:50+02:00", 1579638890);
	check_iso(__LINE__, "2020-01-21T15:04:50-05:30", 1579638890);
	check_iso(__LINE__, "2020-01-21T20:34:50+00:00", 1579638890);
	check_iso(__LINE__, "2020-01-21T12:34:50-0800", 1579638890);
	check_iso(__LINE__, "2020-01-21T22:34:50.223+02:00", 1579638890.223);
}

static void test_timeutil_iso_fraction_digits(void)
{
	check_iso(__LINE__, "2020-01-21T20:34:50Z", 1579638890);
	check_iso(__LINE__, "2020-01-21T20:34:50.2Z", 1579638890.2);
	check_iso(__LINE__, "2020-01-21T20:34:50.22Z", 1579638890.22);
	check_iso(__LINE__, "2020-01-21T20:34:50.223Z", 1579638890.223);
	check_iso(__LINE__, "2020-01-21T20:34:50.2231Z", 1579638890.2231);
	check_iso(__LINE__, "2020-01-21T20:34:50.22312Z", 1579638890.22312);
	check_iso(__LINE__, "2020-01-21T20:34:50.223123Z", 1579638890.223123);
	check_iso(__LINE__, "2020-01-21T20:34:50.2231234Z", 1579638890.2231234);
	check_iso(__LINE__, "2020-01-21T20:34:50.22312345Z", 1579638890.22312345);
	check_iso(__LINE__, "2020-01-21T20:34:50.223123456Z", 1579638890.223123456);
	check_iso(__LINE__, "2020-01-21T20:34:50.000Z", 1579638890);
}

static void test_timeutil_iso_invalid(void)
{
	check_iso_invalid(__LINE__, "");
	check_iso_invalid(__LINE__, "2020-01-21");
	check_iso_invalid(__LINE__, "2020-01-21T20:34:50");
	check_iso_invalid(__LINE__, "2020-01-21T20:34Z");
	check_iso_invalid(__LINE__, "2020-01-21T20:34:50.Z");
	check_iso_invalid(__LINE__, "2020-01-21T20:34:50Zjunk");
	check_iso_invalid(__LINE__, "2020-01-21T20:34:50+2:00");
	check_iso_invalid(__LINE__, "2020-01-21T20:34:50+24:00");
	check_iso_invalid(__LINE__, "2020-13-01T00:00:00Z");
	check_iso_invalid(__LINE__, "2020-00-01T00:00:00Z");
	check_iso_invalid(__LINE__, "2020-01-00T00:00:00Z");
	check_iso_invalid(__LINE__, "2020-01-21T24:00:00Z");
	check_iso_invalid(__LINE__, "2020-01-21T20:60:00Z");
	check_iso_invalid(__LINE__, "20-01-21T20:34:50Z");
	check_iso_invalid(__LINE__, "2020/01/21T20:34:50Z");
	check_iso_invalid(__LINE__, "2020-01-21X20:34:50Z");
	check_iso_invalid(__LINE__, "1579638890");
	check_iso_invalid(__LINE__, "yesterday");
}

static void check_http_date(int line, const char *text, double expected)
{
	double v = -1;

	if (check_report(cie_time_parse_http_date(text, &v), __FILE__, line,
			 "\"%s\": expected valid, got invalid", text))
		check_report(v == expected, __FILE__, line,
			     "\"%s\": expected %.17g, got %.17g", text, expected, v);
}

static void test_timeutil_http_date_forms(void)
{
	check_http_date(__LINE__, "Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE);
	check_http_date(__LINE__, "Sunday, 06-Nov-94 08:49:37 GMT", RFC_DATE);
	check_http_date(__LINE__, "Sun Nov  6 08:49:37 1994", RFC_DATE);
	check_http_date(__LINE__, "Thu, 01 Jan 1970 00:00:00 GMT", 0);
	check_http_date(__LINE__, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412480);
	check_http_date(__LINE__, "Wed Oct 21 07:28:00 2015", 1445412480);
	/* RFC 850 two-digit years below 70 are read as 20xx. */
	check_http_date(__LINE__, "Wednesday, 21-Oct-15 07:28:00 GMT", 1445412480);
}

static void test_timeutil_http_date_invalid(void)
{
	static const char *const bad[] = {
		"",
		"06 Nov 1994",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 25:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun Nov  6 08:49:37",
		"Sun Nov  6 08:49 1994",
		"2020-01-21T20:34:50Z",
		"120",
		"tomorrow",
	};
	double v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		CHECK(!cie_time_parse_http_date(bad[i], &v),
		      "\"%s\": expected invalid, got %.17g", bad[i], v);
	}
}

static void test_timeutil_retry_after_values(void)
{
	double delay = -1;

	if (CHECK(cie_time_parse_retry_after("120", RFC_DATE, &delay),
		  "\"120\": expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 120);
	if (CHECK(cie_time_parse_retry_after(" 3 ", RFC_DATE, &delay),
		  "\" 3 \": expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 3);
	if (CHECK(cie_time_parse_retry_after("0", RFC_DATE, &delay),
		  "\"0\": expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 0);
	if (CHECK(cie_time_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
					     RFC_DATE - 30, &delay),
		  "future date: expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 30);
	if (CHECK(cie_time_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
					     RFC_DATE - 0.5, &delay),
		  "date 0.5 s ahead: expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 0.5);
	if (CHECK(cie_time_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
					     RFC_DATE + 100, &delay),
		  "past date: expected valid, got invalid"))
		CHECK_DOUBLE_EQ(delay, 0);
}

static void test_timeutil_retry_after_garbage(void)
{
	static const char *const bad[] = {
		"", "   ", "soon", "12abc", "-5", "1.5", "3 4", "0x10",
		"Sun, 06 Nov 1994 08:49:37 PST",
	};
	double delay;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		delay = -1;
		CHECK(!cie_time_parse_retry_after(bad[i], RFC_DATE, &delay),
		      "\"%s\": expected invalid, got %.17g", bad[i], delay);
	}
}

static void check_duration(int line, const char *text, double expected)
{
	double v = -1;

	if (check_report(cie_duration_parse(text, &v), __FILE__, line,
			 "\"%s\": expected valid, got invalid", text))
		check_report(v == expected, __FILE__, line,
			     "\"%s\": expected %.17g s, got %.17g s", text, expected, v);
}

static void test_timeutil_duration_valid(void)
{
	check_duration(__LINE__, "30s", 30);
	check_duration(__LINE__, "15m", 900);
	check_duration(__LINE__, "1h30m", 5400);
	check_duration(__LINE__, "0.5s", 0.5);
	check_duration(__LINE__, "1h", 3600);
	check_duration(__LINE__, "2m30s", 150);
	check_duration(__LINE__, "0s", 0);
}

static void test_timeutil_duration_invalid(void)
{
	static const char *const bad[] = {
		"", "10", "5d", "m", "s", "1h30", "-5s", "10 s", "1.5.5s", "15M",
		"30sx",
	};
	double v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		CHECK(!cie_duration_parse(bad[i], &v),
		      "\"%s\": expected invalid, got %.17g s", bad[i], v);
	}
}

static void test_timeutil_clocks_advance(void)
{
	double wall = cie_time_now(), mono = cie_time_mono();

	CHECK(wall > 1600000000, "cie_time_now: expected Unix seconds after 2020, got %.17g",
	      wall);
	CHECK(cie_time_mono() >= mono,
	      "cie_time_mono: expected a non-decreasing clock, got a smaller value");
}

int main(void)
{
	RUN(test_timeutil_iso_utc);
	RUN(test_timeutil_iso_offsets);
	RUN(test_timeutil_iso_fraction_digits);
	RUN(test_timeutil_iso_invalid);
	RUN(test_timeutil_http_date_forms);
	RUN(test_timeutil_http_date_invalid);
	RUN(test_timeutil_retry_after_values);
	RUN(test_timeutil_retry_after_garbage);
	RUN(test_timeutil_duration_valid);
	RUN(test_timeutil_duration_invalid);
	RUN(test_timeutil_clocks_advance);
	return check_summary();
}
