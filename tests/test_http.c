/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the content negotiation of exporter/http.c: which Accept
 * values get OpenMetrics 1.0.0 and which Accept-Encoding values allow gzip.
 */
#include "check.h"
#include "http.h"

/* The Accept header that Prometheus 2.42 sends on every scrape. */
#define PROMETHEUS_2_42_ACCEPT \
	"application/openmetrics-text;version=1.0.0," \
	"application/openmetrics-text;version=0.0.1;q=0.75," \
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

static void check_openmetrics(int line, const char *accept, bool expected)
{
	bool got = cie_http_wants_openmetrics(accept);

	check_report(got == expected, __FILE__, line,
		     "Accept \"%s\": expected %s, got %s",
		     accept ? accept : "(none)",
		     expected ? "OpenMetrics" : "text", got ? "OpenMetrics" : "text");
}

static void check_gzip(int line, const char *encoding, bool expected)
{
	bool got = cie_http_accepts_gzip(encoding);

	check_report(got == expected, __FILE__, line,
		     "Accept-Encoding \"%s\": expected gzip %s, got %s",
		     encoding ? encoding : "(none)",
		     expected ? "allowed" : "refused", got ? "allowed" : "refused");
}

static void test_http_prometheus_gets_openmetrics(void)
{
	check_openmetrics(__LINE__, PROMETHEUS_2_42_ACCEPT, true);
	check_openmetrics(__LINE__, "application/openmetrics-text; version=1.0.0", true);
	check_openmetrics(__LINE__, "application/openmetrics-text", true);
}

static void test_http_text_negotiated(void)
{
	check_openmetrics(__LINE__, "text/plain", false);
	check_openmetrics(__LINE__, "text/plain;version=0.0.4", false);
	check_openmetrics(__LINE__, NULL, false);
	check_openmetrics(__LINE__, "", false);
	check_openmetrics(__LINE__, "*/*", false);
	check_openmetrics(__LINE__, "text/html,application/xhtml+xml", false);
}

static void test_http_old_openmetrics_version(void)
{
	/* Only 1.0.0 is served, so a client that wants 0.0.1 gets the text format. */
	check_openmetrics(__LINE__, "application/openmetrics-text;version=0.0.1", false);
	check_openmetrics(__LINE__,
			  "application/openmetrics-text;version=0.0.1,text/plain;q=0.5",
			  false);
}

static void test_http_quality_decides(void)
{
	check_openmetrics(__LINE__,
			  "text/plain;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5",
			  false);
	check_openmetrics(__LINE__,
			  "text/plain;q=0.5,application/openmetrics-text;version=1.0.0;q=0.9",
			  true);
	check_openmetrics(__LINE__, "application/openmetrics-text;version=1.0.0;q=0",
			  false);
}

static void test_http_gzip_negotiated(void)
{
	check_gzip(__LINE__, "gzip", true);
	check_gzip(__LINE__, "gzip, deflate", true);
	check_gzip(__LINE__, "deflate, gzip;q=0.5", true);
	check_gzip(__LINE__, "GZIP", true);
	check_gzip(__LINE__, "deflate", false);
	check_gzip(__LINE__, "gzip;q=0", false);
	check_gzip(__LINE__, "identity", false);
	check_gzip(__LINE__, "", false);
	check_gzip(__LINE__, NULL, false);
}

int main(void)
{
	RUN(test_http_prometheus_gets_openmetrics);
	RUN(test_http_text_negotiated);
	RUN(test_http_old_openmetrics_version);
	RUN(test_http_quality_decides);
	RUN(test_http_gzip_negotiated);
	return check_summary();
}
