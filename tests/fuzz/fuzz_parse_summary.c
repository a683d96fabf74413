/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the parser of workflow and job summary pages
 * (GET /insights/{slug}/workflows and .../{workflow}/jobs).
 */
#include "fuzz.h"

#include "parse.h"
#include "render.h"

FUZZ_INIT(parse_summary)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void format_all(const struct cie_summary *s)
{
	const struct cie_num *nums[] = {
		&s->total_runs, &s->successful_runs, &s->failed_runs,
		&s->success_rate, &s->throughput, &s->mttr,
		&s->total_recoveries, &s->total_credits_used, &s->window_start,
		&s->window_end,
	};
	char text[40];

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		cie_format_num(nums[i], text, sizeof(text));
	for (int i = 0; i < CIE_DUR_COUNT; i++)
		cie_format_num(&s->duration[i], text, sizeof(text));
}

FUZZ_TARGET(parse_summary)
{
	struct cie_summary_page page;
	struct cie_error err = { 0 };

	memset(&page, 0, sizeof(page));
	if (cie_parse_summary_page((const char *)data, size, &page, &err) == CIE_OK) {
		for (size_t i = 0; i < page.count; i++) {
			FUZZ_CHECK(page.items[i].name != NULL);
			format_all(&page.items[i]);
		}
	} else {
		/* On failure the page is left empty and err describes the problem. */
		FUZZ_CHECK(page.count == 0);
		FUZZ_CHECK(err.detail[0] != '\0');
	}
	cie_summary_page_cleanup(&page);
	return 0;
}
