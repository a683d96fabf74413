/* SPDX-License-Identifier: MIT */
/*
 * The exporter's own metrics: API request counters and the request
 * duration histogram, rate-limit state, limit hits, build information and
 * the standard process_* metrics read from /proc. Updated by the scheduler
 * thread, rendered by whichever thread builds a scrape's tail; a mutex
 * guards the counters.
 */
#ifndef CIE_STATS_H
#define CIE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Values of the `endpoint` label. */
enum cie_endpoint {
	CIE_EP_PROJECT,
	CIE_EP_WORKFLOWS,
	CIE_EP_JOBS,
	CIE_EP_RUNS,
	CIE_EP_SUMMARY,
	CIE_EP_TEST_METRICS,
	CIE_EP_FLAKY_TESTS,
	CIE_EP_BRANCHES,
	CIE_EP_ORG_SUMMARY,
	CIE_EP_COUNT,
};

/* Values of the `limit` label of circleci_exporter_limit_hits_total. */
enum cie_limit {
	CIE_LIMIT_RESPONSE_BYTES,
	CIE_LIMIT_PAGES,
	CIE_LIMIT_SERIES_PER_PROJECT,
	CIE_LIMIT_SERIES_PER_ORG,
	CIE_LIMIT_FLAKY_TESTS,
	CIE_LIMIT_BRANCHES,
	CIE_LIMIT_COUNT,
};

enum cie_format {
	CIE_FORMAT_TEXT,         /* text/plain; version=0.0.4 */
	CIE_FORMAT_OPENMETRICS,  /* application/openmetrics-text; version=1.0.0 */
};

const char *cie_endpoint_name(enum cie_endpoint ep);
const char *cie_limit_name(enum cie_limit limit);

/* Set up the counters; the version strings are copied. */
void cie_stats_init(const char *version, const char *revision);

/*
 * Count one HTTP exchange: status is the HTTP status, or 0 for a transport
 * failure (code="error"); seconds is its duration.
 */
void cie_stats_request(enum cie_endpoint ep, long status, double seconds);
void cie_stats_parse_error(enum cie_endpoint ep);
void cie_stats_retry(enum cie_endpoint ep);
void cie_stats_rate_limited(void);
void cie_stats_limit_hit(enum cie_limit limit);
void cie_stats_set_rate_limit_remaining(double remaining);
void cie_stats_set_request_rate(double rate);
void cie_stats_set_overloaded(bool overloaded);

/*
 * Append the exporter's own families to out in format fmt: build_info,
 * the request counters, the histogram, the rate-limit gauges, `series`
 * (given), and with process true the process_* families. Ends with
 * "# EOF\n" in OpenMetrics. Returns false when out of memory.
 */
bool cie_stats_render(struct cie_buf *out, enum cie_format fmt, size_t series,
		      bool process);

#endif
