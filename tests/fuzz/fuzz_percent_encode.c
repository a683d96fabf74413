/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: percent-encoding of workflow names, branches and page
 * tokens for URLs. The output must use only unreserved characters and
 * %XX with upper-case hex, and decode back to the input.
 */
#include <ctype.h>

#include "fuzz.h"

#include "api.h"

FUZZ_INIT(percent_encode)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10;
}

static bool unreserved(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

FUZZ_TARGET(percent_encode)
{
	char *s = fuzz_string(data, size);
	struct cie_buf out;
	size_t n = 0;

	if (!s)
		return 0;
	cie_buf_init(&out, 0);
	FUZZ_CHECK(cie_percent_encode(&out, s));
	for (size_t i = 0; i < out.len; i++) {
		char c = out.data[i];

		if (c == '%') {
			FUZZ_CHECK(i + 2 < out.len);
			FUZZ_CHECK(isxdigit((unsigned char)out.data[i + 1]) &&
				   !islower((unsigned char)out.data[i + 1]));
			FUZZ_CHECK(isxdigit((unsigned char)out.data[i + 2]) &&
				   !islower((unsigned char)out.data[i + 2]));
			FUZZ_CHECK((char)(hex_value(out.data[i + 1]) * 16 +
					  hex_value(out.data[i + 2])) == s[n]);
			i += 2;
		} else {
			FUZZ_CHECK(unreserved(c));
			FUZZ_CHECK(c == s[n]);
		}
		n++;
	}
	FUZZ_CHECK(s[n] == '\0');
	cie_buf_cleanup(&out);
	free(s);
	return 0;
}
