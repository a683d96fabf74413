/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the parsers of the other Insights answers: branches, flaky
 * tests (both key spellings), workflow trends, test metrics and the
 * organization summary. The first byte picks the parser; the rest is the
 * body.
 */
#include "fuzz.h"

#include "parse.h"

FUZZ_INIT(parse_insights)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void parse_branches(const char *body, size_t len)
{
	struct cie_string_list list = { 0 };
	struct cie_error err = { 0 };

	if (cie_parse_branches(body, len, &list, &err) == CIE_OK) {
		for (size_t i = 0; i < list.count; i++)
			FUZZ_CHECK(list.items[i] != NULL);
	}
	cie_string_list_cleanup(&list);
}

static void parse_flaky(const char *body, size_t len)
{
	struct cie_flaky_report report = { 0 };
	struct cie_error err = { 0 };

	if (cie_parse_flaky_tests(body, len, &report, &err) == CIE_OK) {
		for (size_t i = 0; i < report.count; i++)
			FUZZ_CHECK(report.tests[i].classname != NULL);
	}
	cie_flaky_report_cleanup(&report);
}

static void parse_org(const char *body, size_t len)
{
	struct cie_org_summary summary = { 0 };
	struct cie_error err = { 0 };

	if (cie_parse_org_summary(body, len, &summary, &err) == CIE_OK) {
		for (size_t i = 0; i < summary.project_count; i++)
			FUZZ_CHECK(summary.projects[i].name != NULL);
	}
	cie_org_summary_cleanup(&summary);
}

FUZZ_TARGET(parse_insights)
{
	struct cie_workflow_trends trends;
	struct cie_test_metrics tests;
	struct cie_error err = { 0 };
	const char *body = (const char *)data + 1;
	size_t len;

	if (size == 0)
		return 0;
	len = size - 1;
	switch (data[0] % 5) {
	case 0:
		parse_branches(body, len);
		break;
	case 1:
		parse_flaky(body, len);
		break;
	case 2:
		cie_parse_workflow_trends(body, len, &trends, &err);
		break;
	case 3:
		cie_parse_test_metrics(body, len, &tests, &err);
		break;
	default:
		parse_org(body, len);
		break;
	}
	return 0;
}
