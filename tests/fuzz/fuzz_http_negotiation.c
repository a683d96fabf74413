/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: content negotiation of /metrics on client-sent Accept and
 * Accept-Encoding header values.
 */
#include <strings.h>

#include "fuzz.h"

#include "http.h"

FUZZ_INIT(http_negotiation)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Whether needle occurs in s, ignoring case. */
static bool contains(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++) {
		if (strncasecmp(s, needle, n) == 0)
			return true;
	}
	return false;
}

FUZZ_TARGET(http_negotiation)
{
	char *s = fuzz_string(data, size);

	if (!s)
		return 0;
	if (cie_http_wants_openmetrics(s))
		FUZZ_CHECK(contains(s, "application/openmetrics-text"));
	/* "*" allows every encoding, gzip included. */
	if (cie_http_accepts_gzip(s))
		FUZZ_CHECK(contains(s, "gzip") || contains(s, "*"));
	FUZZ_CHECK(!cie_http_wants_openmetrics(NULL));
	FUZZ_CHECK(!cie_http_accepts_gzip(NULL));
	free(s);
	return 0;
}
