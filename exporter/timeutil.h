/* SPDX-License-Identifier: MIT */
/*
 * Clocks and the time formats the exporter reads: ISO 8601 timestamps from
 * the API, HTTP dates and Retry-After values from response headers, and
 * durations such as "15m" from the config.
 */
#ifndef CIE_TIMEUTIL_H
#define CIE_TIMEUTIL_H

#include <stdbool.h>

/* Wall-clock time in Unix seconds, with the fraction. */
double cie_time_now(void);

/* Monotonic time in seconds, for intervals and deadlines. */
double cie_time_mono(void);

/*
 * Parse an ISO 8601 / RFC 3339 timestamp such as "2020-01-21T20:34:50.223Z"
 * or "2020-01-21T20:34:50+02:00" into Unix seconds with the fraction. The
 * fraction may have any number of digits. Returns false on any other text.
 */
bool cie_time_parse_iso8601(const char *s, double *out);

/*
 * Parse an HTTP date (RFC 9110: IMF-fixdate, and the obsolete RFC 850 and
 * asctime forms) into Unix seconds. Returns false on any other text.
 */
bool cie_time_parse_http_date(const char *s, double *out);

/*
 * Parse a Retry-After header value, either delay seconds or an HTTP date,
 * into a delay in seconds from now (wall clock, Unix seconds). A date in the
 * past gives 0. Returns false when the value is neither form.
 */
bool cie_time_parse_retry_after(const char *value, double now, double *delay);

/*
 * Parse a duration made of one or more number-unit pairs ("30s", "15m",
 * "1h30m", "0.5s") with units s, m and h, into seconds. Returns false on an
 * empty string, a missing unit or an unknown one.
 */
bool cie_duration_parse(const char *s, double *seconds);

#endif
