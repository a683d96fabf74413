/* SPDX-License-Identifier: MIT */
/*
 * Clocks, ISO 8601 and HTTP date parsing, Retry-After and config durations.
 */
#include "timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double cie_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cie_time_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read exactly n decimal digits; false if any is missing. */
static bool read_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool valid_tm(const struct tm *tm)
{
	return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 &&
	       tm->tm_mday <= 31 && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
	       tm->tm_sec <= 60;
}

/* Reject days that the month does not have, such as February 31. */
static bool valid_day(const struct tm *tm)
{
	struct tm copy = *tm, back;
	time_t t = timegm(&copy);

	return gmtime_r(&t, &back) && back.tm_mday == tm->tm_mday;
}

/* Parse "Z", "+hh:mm", "-hh:mm" or "+hhmm" into seconds east of UTC. */
static bool read_zone(const char **p, int *offset)
{
	int sign, hh, mm;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*offset = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!read_digits(p, 2, &hh))
		return false;
	if (**p == ':')
		(*p)++;
	if (!read_digits(p, 2, &mm) || hh > 23 || mm > 59)
		return false;
	*offset = sign * (hh * 3600 + mm * 60);
	return true;
}

bool cie_time_parse_iso8601(const char *s, double *out)
{
	struct tm tm = { 0 };
	const char *p = s, *fraction = "";
	char text[64];
	size_t digits = 0;
	int year, offset;

	if (!read_digits(&p, 4, &year) || !expect(&p, '-') ||
	    !read_digits(&p, 2, &tm.tm_mon) || !expect(&p, '-') ||
	    !read_digits(&p, 2, &tm.tm_mday))
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!read_digits(&p, 2, &tm.tm_hour) || !expect(&p, ':') ||
	    !read_digits(&p, 2, &tm.tm_min) || !expect(&p, ':') ||
	    !read_digits(&p, 2, &tm.tm_sec))
		return false;
	if (*p == '.' || *p == ',') {
		p++;
		fraction = p;
		while (isdigit((unsigned char)p[digits]))
			digits++;
		if (digits == 0 || digits > 30)
			return false;
		p += digits;
	}
	if (!read_zone(&p, &offset) || *p != '\0')
		return false;

	tm.tm_year = year - 1900;
	tm.tm_mon -= 1;
	if (!valid_tm(&tm) || !valid_day(&tm))
		return false;
	/*
	 * Convert through decimal text so that the result is the double
	 * nearest to the written instant, which prints back in the shortest
	 * form ("1579662890.223"), not as a sum of rounded parts.
	 */
	snprintf(text, sizeof(text), "%lld.%.*s",
		 (long long)(timegm(&tm) - offset), (int)digits, fraction);
	*out = strtod(text, NULL);
	return true;
}

static int month_index(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++) {
		if (strncmp(p, months + i * 3, 3) == 0)
			return i;
	}
	return -1;
}

static bool read_clock(const char **p, struct tm *tm)
{
	return read_digits(p, 2, &tm->tm_hour) && expect(p, ':') &&
	       read_digits(p, 2, &tm->tm_min) && expect(p, ':') &&
	       read_digits(p, 2, &tm->tm_sec);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf_fixdate(const char *p, struct tm *tm)
{
	int year;

	if (strlen(p) != 29 || p[3] != ',' || p[4] != ' ')
		return false;
	p += 5;
	if (!read_digits(&p, 2, &tm->tm_mday) || !expect(&p, ' '))
		return false;
	tm->tm_mon = month_index(p);
	p += 3;
	if (tm->tm_mon < 0 || !expect(&p, ' ') || !read_digits(&p, 4, &year) ||
	    !expect(&p, ' ') || !read_clock(&p, tm))
		return false;
	tm->tm_year = year - 1900;
	return strcmp(p, " GMT") == 0;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850(const char *p, struct tm *tm)
{
	int year;

	p = strchr(p, ',');
	if (!p || p[1] != ' ')
		return false;
	p += 2;
	if (!read_digits(&p, 2, &tm->tm_mday) || !expect(&p, '-'))
		return false;
	tm->tm_mon = month_index(p);
	p += 3;
	if (tm->tm_mon < 0 || !expect(&p, '-') || !read_digits(&p, 2, &year) ||
	    !expect(&p, ' ') || !read_clock(&p, tm))
		return false;
	/* Two-digit years: RFC 9110 reads 70-99 as the 1900s. */
	tm->tm_year = year < 70 ? year + 100 : year;
	return strcmp(p, " GMT") == 0;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime(const char *p, struct tm *tm)
{
	int year;

	if (strlen(p) != 24 || p[3] != ' ')
		return false;
	tm->tm_mon = month_index(p + 4);
	if (tm->tm_mon < 0 || p[7] != ' ')
		return false;
	p += 8;
	if (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	tm->tm_mday = (int)strtol(p, NULL, 10);
	p = strchr(p, ' ');
	if (!p || !expect(&p, ' ') || !read_clock(&p, tm) || !expect(&p, ' ') ||
	    !read_digits(&p, 4, &year) || *p != '\0')
		return false;
	tm->tm_year = year - 1900;
	return true;
}

bool cie_time_parse_http_date(const char *s, double *out)
{
	struct tm tm = { 0 };

	if (!parse_imf_fixdate(s, &tm)) {
		memset(&tm, 0, sizeof(tm));
		if (!parse_rfc850(s, &tm)) {
			memset(&tm, 0, sizeof(tm));
			if (!parse_asctime(s, &tm))
				return false;
		}
	}
	if (!valid_tm(&tm))
		return false;
	*out = (double)timegm(&tm);
	return true;
}

bool cie_time_parse_retry_after(const char *value, double now, double *delay)
{
	const char *p = value;
	double when, seconds = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			seconds = seconds * 10 + (*p - '0');
			if (seconds > 1e9)
				return false;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return false;
		*delay = seconds;
		return true;
	}
	if (!cie_time_parse_http_date(p, &when))
		return false;
	*delay = when > now ? when - now : 0;
	return true;
}

bool cie_duration_parse(const char *s, double *seconds)
{
	double total = 0, v;
	char *end;

	if (!s || !*s)
		return false;
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
		v = strtod(s, &end);
		if (end == s || !isfinite(v))
			return false;
		switch (*end) {
		case 's':
			break;
		case 'm':
			v *= 60;
			break;
		case 'h':
			v *= 3600;
			break;
		default:
			return false;
		}
		total += v;
		s = end + 1;
	}
	*seconds = total;
	return true;
}
