/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the parser of GET /project/{slug} and the extraction of
 * the `message` of API error bodies, which is logged.
 */
#include "fuzz.h"

#include "parse.h"

FUZZ_INIT(parse_project)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_message(const uint8_t *data, size_t size, size_t out_size)
{
	char out[300];

	memset(out, 'x', sizeof(out));
	cie_parse_error_message((const char *)data, size, out, out_size);
	FUZZ_CHECK(memchr(out, '\0', out_size) != NULL);
	/* Nothing written past out_size. */
	for (size_t i = out_size; i < sizeof(out); i++)
		FUZZ_CHECK(out[i] == 'x');
	for (const char *p = out; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20);
}

FUZZ_TARGET(parse_project)
{
	struct cie_error err = { 0 };
	char *branch = NULL;

	if (cie_parse_project((const char *)data, size, &branch, &err) == CIE_OK)
		FUZZ_CHECK(branch != NULL);
	free(branch);
	check_message(data, size, 1);
	check_message(data, size, 16);
	check_message(data, size, 256);
	return 0;
}
