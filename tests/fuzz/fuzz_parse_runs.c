/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the parser of workflow run pages
 * (GET /insights/{slug}/workflows/{workflow}), which merges the newest
 * finished run of each page into the best one so far.
 */
#include "fuzz.h"

#include "parse.h"

FUZZ_INIT(parse_runs)
{
	(void)argc;
	(void)argv;
	return 0;
}

FUZZ_TARGET(parse_runs)
{
	struct cie_last_run best;
	struct cie_error err = { 0 };
	char *token = NULL;

	memset(&best, 0, sizeof(best));
	/* Twice, so that the second page is merged into a found run. */
	for (int page = 0; page < 2; page++) {
		enum cie_result result = cie_parse_runs_page(
			(const char *)data, size, &best, &token, &err);

		if (result == CIE_OK && best.found)
			FUZZ_CHECK(best.status != NULL);
		free(token);
		token = NULL;
	}
	cie_last_run_cleanup(&best);
	return 0;
}
