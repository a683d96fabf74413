/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of cie_percent_encode() of exporter/api.c, which encodes
 * workflow names, branches and page tokens for URLs. No network is used.
 */
#include "api.h"
#include "buf.h"
#include "check.h"

static void check_encode(int line, const char *input, const char *expected)
{
	struct cie_buf b;

	cie_buf_init(&b, 0);
	check_report(cie_percent_encode(&b, input), __FILE__, line,
		     "cie_percent_encode(\"%s\"): expected true, got false", input);
	/* Nothing appended leaves data NULL, which reads as "". */
	check_report(strcmp(b.data ? b.data : "", expected) == 0, __FILE__, line,
		     "encoded \"%s\": expected \"%s\", got \"%s\"", input, expected,
		     b.data ? b.data : "");
	cie_buf_cleanup(&b);
}

static void test_api_percent_encode_reserved(void)
{
	check_encode(__LINE__, " ", "%20");
	check_encode(__LINE__, "/", "%2F");
	check_encode(__LINE__, "\"", "%22");
	check_encode(__LINE__, "\\", "%5C");
	check_encode(__LINE__, "%", "%25");
	check_encode(__LINE__, "?&=#+", "%3F%26%3D%23%2B");
}

static void test_api_percent_encode_utf8(void)
{
	check_encode(__LINE__, "é", "%C3%A9");
	check_encode(__LINE__, "café", "caf%C3%A9");
}

static void test_api_percent_encode_unreserved(void)
{
	check_encode(__LINE__, "ABCXYZabcxyz0189-._~", "ABCXYZabcxyz0189-._~");
	check_encode(__LINE__, "", "");
}

static void test_api_percent_encode_names(void)
{
	/* The paths the fake API expects for the demo fixtures. */
	check_encode(__LINE__, "deploy \"prod\" \\ eu", "deploy%20%22prod%22%20%5C%20eu");
	check_encode(__LINE__, "lint/unit", "lint%2Funit");
	check_encode(__LINE__, "release/2.0", "release%2F2.0");
	check_encode(__LINE__, "+/+/abc=", "%2B%2F%2B%2Fabc%3D");
}

static void test_api_percent_encode_appends(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 0);
	cie_buf_puts(&b, "/workflows/");
	CHECK(cie_percent_encode(&b, "a b"), "cie_percent_encode: expected true, got false");
	CHECK_STR_EQ(b.data, "/workflows/a%20b");
	cie_buf_cleanup(&b);
}

static void test_api_percent_encode_limit(void)
{
	struct cie_buf b;

	cie_buf_init(&b, 8);
	CHECK(!cie_percent_encode(&b, "a b c d e"),
	      "encoding past the buffer maximum: expected false, got true");
	CHECK(b.overflow, "overflow: expected true, got false");
	cie_buf_cleanup(&b);
}

int main(void)
{
	RUN(test_api_percent_encode_reserved);
	RUN(test_api_percent_encode_utf8);
	RUN(test_api_percent_encode_unreserved);
	RUN(test_api_percent_encode_names);
	RUN(test_api_percent_encode_appends);
	RUN(test_api_percent_encode_limit);
	return check_summary();
}
