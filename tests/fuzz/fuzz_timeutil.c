/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the time parsers: ISO 8601 timestamps from API bodies,
 * HTTP dates and Retry-After values from response headers, and config
 * durations.
 */
#include <math.h>

#include "fuzz.h"

#include "timeutil.h"

FUZZ_INIT(timeutil)
{
	(void)argc;
	(void)argv;
	return 0;
}

FUZZ_TARGET(timeutil)
{
	/* A fixed "now", so that a crash replays the same way. */
	const double now = 1700000000.0;
	char *s = fuzz_string(data, size);
	double v;

	if (!s)
		return 0;
	if (cie_time_parse_iso8601(s, &v))
		FUZZ_CHECK(isfinite(v));
	if (cie_time_parse_http_date(s, &v))
		FUZZ_CHECK(isfinite(v));
	if (cie_time_parse_retry_after(s, now, &v))
		FUZZ_CHECK(isfinite(v) && v >= 0);
	if (cie_duration_parse(s, &v))
		FUZZ_CHECK(isfinite(v) && v >= 0);
	free(s);
	return 0;
}
