/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/parse.c: summary pages, runs pages, the project
 * response and API error bodies. argv[1] is the tests/fixtures directory,
 * whose demo responses include the API guide's recorded examples.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "parse.h"

static const char *fixtures_dir;

/* Read fixtures_dir/relative into out; false (after a failed check) when it cannot. */
static bool read_fixture(const char *relative, struct cie_buf *out)
{
	char path[1024], chunk[4096];
	size_t n;
	FILE *f;

	cie_buf_init(out, 0);
	if (!CHECK(fixtures_dir != NULL,
		   "fixtures: expected the directory as argv[1], got none"))
		return false;
	snprintf(path, sizeof(path), "%s/%s", fixtures_dir, relative);
	f = fopen(path, "r");
	if (!CHECK(f != NULL, "fixture: expected to open %s, got an error", path))
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cie_buf_append(out, chunk, n);
	fclose(f);
	return CHECK(out->len > 0, "fixture %s: expected content, got 0 bytes",
		     path);
}

static enum cie_result parse_page(const char *json, struct cie_summary_page *page,
				  struct cie_error *err)
{
	cie_error_clear(err);
	return cie_parse_summary_page(json, strlen(json), page, err);
}

static enum cie_result parse_runs(const char *json, struct cie_last_run *best,
				  char **token, struct cie_error *err)
{
	cie_error_clear(err);
	return cie_parse_runs_page(json, strlen(json), best, token, err);
}

#define CHECK_INT_NUM(num, value) \
	do { \
		CHECK_INT_EQ((num).kind, CIE_NUM_INT); \
		CHECK_INT_EQ((num).i, (value)); \
	} while (0)

#define CHECK_REAL_NUM(num, value) \
	do { \
		CHECK_INT_EQ((num).kind, CIE_NUM_REAL); \
		CHECK_DOUBLE_EQ((num).d, (value)); \
	} while (0)

#define CHECK_ABSENT(num) CHECK_INT_EQ((num).kind, CIE_NUM_ABSENT)

static void test_parse_recorded_workflows_page(void)
{
	struct cie_summary_page page;
	struct cie_error err;
	struct cie_buf body;
	const struct cie_summary *s;

	if (!read_fixture("demo/gh-circleci-public-api-preview-docs/workflows-last-7-days.json",
			  &body))
		goto out;
	cie_error_clear(&err);
	if (!CHECK(cie_parse_summary_page(body.data, body.len, &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		goto out;
	if (!CHECK_INT_EQ(page.count, 3))
		goto cleanup;
	CHECK(page.next_page_token == NULL,
	      "next_page_token: expected NULL, got \"%s\"", page.next_page_token);
	CHECK_STR_EQ(page.items[0].name, "build");
	CHECK_STR_EQ(page.items[1].name, "docker_build");
	CHECK_STR_EQ(page.items[2].name, "ecr_gc");

	s = &page.items[0];
	CHECK_REAL_NUM(s->success_rate, 0.5975609756097561);
	CHECK_INT_NUM(s->total_runs, 82);
	CHECK_INT_NUM(s->failed_runs, 33);
	CHECK_INT_NUM(s->successful_runs, 49);
	CHECK_REAL_NUM(s->throughput, 11.714285714285714);
	CHECK_INT_NUM(s->mttr, 46466);
	CHECK_INT_NUM(s->duration[CIE_DUR_MIN], 8796);
	CHECK_INT_NUM(s->duration[CIE_DUR_MAX], 20707);
	CHECK_INT_NUM(s->duration[CIE_DUR_MEDIAN], 11656);
	CHECK_INT_NUM(s->duration[CIE_DUR_MEAN], 12847);
	CHECK_INT_NUM(s->duration[CIE_DUR_P95], 18856);
	CHECK_REAL_NUM(s->duration[CIE_DUR_STDDEV], 3489.0);
	CHECK_INT_NUM(s->total_credits_used, 16216608);
	CHECK_REAL_NUM(s->window_start, 1579058424.927);
	CHECK_REAL_NUM(s->window_end, 1579648984.39);
	/* The recorded example has no total_recoveries: no value, not 0. */
	CHECK_ABSENT(s->total_recoveries);

	s = &page.items[1];
	CHECK_REAL_NUM(s->success_rate, 1.0);
	CHECK_REAL_NUM(s->throughput, 1.0);
	CHECK_REAL_NUM(s->duration[CIE_DUR_STDDEV], 0.0);
cleanup:
	cie_summary_page_cleanup(&page);
out:
	cie_buf_cleanup(&body);
}

static void test_parse_null_fields_absent(void)
{
	struct cie_summary_page page;
	struct cie_error err;
	const struct cie_summary *s;

	if (!CHECK(parse_page("{\"items\": [{\"name\": \"w\", \"metrics\": {"
			      "\"total_runs\": null, \"mttr\": null,"
			      " \"duration_metrics\": {\"p95\": null, \"max\": 7}},"
			      " \"window_start\": null}]}", &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (CHECK_INT_EQ(page.count, 1)) {
		s = &page.items[0];
		CHECK_ABSENT(s->total_runs);
		CHECK_ABSENT(s->mttr);
		CHECK_ABSENT(s->duration[CIE_DUR_P95]);
		CHECK_INT_NUM(s->duration[CIE_DUR_MAX], 7);
		CHECK_ABSENT(s->window_start);
		CHECK_ABSENT(s->window_end);
		CHECK_ABSENT(s->success_rate);
	}
	cie_summary_page_cleanup(&page);
}

static void test_parse_numbers_kept_as_sent(void)
{
	struct cie_summary_page page;
	struct cie_error err;
	const struct cie_summary *s;

	/* An integer where a float is expected, and the reverse. */
	if (!CHECK(parse_page("{\"items\": [{\"name\": \"w\", \"metrics\": {"
			      "\"success_rate\": 1, \"throughput\": 3,"
			      " \"total_runs\": 82.0, \"failed_runs\": 2.5,"
			      " \"total_credits_used\": 9007199254740993}}]}",
			      &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (CHECK_INT_EQ(page.count, 1)) {
		s = &page.items[0];
		CHECK_INT_NUM(s->success_rate, 1);
		CHECK_INT_NUM(s->throughput, 3);
		CHECK_REAL_NUM(s->total_runs, 82.0);
		CHECK_REAL_NUM(s->failed_runs, 2.5);
		CHECK_INT_NUM(s->total_credits_used, 9007199254740993LL);
	}
	cie_summary_page_cleanup(&page);
}

static void test_parse_wrong_types_absent(void)
{
	struct cie_summary_page page;
	struct cie_error err;
	const struct cie_summary *s;

	if (!CHECK(parse_page("{\"items\": [{\"name\": \"w\", \"metrics\": {"
			      "\"total_runs\": \"82\", \"success_rate\": true,"
			      " \"mttr\": [1], \"duration_metrics\": \"fast\"},"
			      " \"window_start\": 1579058424,"
			      " \"window_end\": \"yesterday\"},"
			      " {\"name\": \"v\", \"metrics\": [1, 2]}]}",
			      &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (CHECK_INT_EQ(page.count, 2)) {
		s = &page.items[0];
		CHECK_ABSENT(s->total_runs);
		CHECK_ABSENT(s->success_rate);
		CHECK_ABSENT(s->mttr);
		for (int i = 0; i < CIE_DUR_COUNT; i++)
			CHECK_ABSENT(s->duration[i]);
		CHECK_ABSENT(s->window_start);
		CHECK_ABSENT(s->window_end);
		CHECK_ABSENT(page.items[1].total_runs);
	}
	cie_summary_page_cleanup(&page);
}

static void test_parse_empty_items(void)
{
	struct cie_summary_page page;
	struct cie_error err;

	if (!CHECK(parse_page("{\"next_page_token\": null, \"items\": []}", &page,
			      &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_INT_EQ(page.count, 0);
	CHECK(page.next_page_token == NULL,
	      "next_page_token: expected NULL, got \"%s\"", page.next_page_token);
	cie_summary_page_cleanup(&page);
}

static void test_parse_unknown_fields_ignored(void)
{
	struct cie_summary_page page;
	struct cie_error err;

	if (!CHECK(parse_page("{\"project_id\": \"x\", \"items\": [{\"name\": \"w\","
			      " \"project_id\": \"y\", \"future\": {\"a\": [1]},"
			      " \"metrics\": {\"total_runs\": 4, \"new_metric\": 1.5,"
			      " \"duration_metrics\": {\"p99\": 3, \"min\": 1}}}],"
			      " \"extra\": null}", &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (CHECK_INT_EQ(page.count, 1)) {
		CHECK_INT_NUM(page.items[0].total_runs, 4);
		CHECK_INT_NUM(page.items[0].duration[CIE_DUR_MIN], 1);
	}
	cie_summary_page_cleanup(&page);
}

static void test_parse_items_without_name(void)
{
	struct cie_summary_page page;
	struct cie_error err;

	if (!CHECK(parse_page("{\"items\": [{\"metrics\": {\"total_runs\": 1}},"
			      " {\"name\": null}, {\"name\": 42},"
			      " {\"name\": \"kept\", \"metrics\": {\"total_runs\": 2}}]}",
			      &page, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (CHECK_INT_EQ(page.count, 1)) {
		CHECK_STR_EQ(page.items[0].name, "kept");
		CHECK_INT_NUM(page.items[0].total_runs, 2);
	}
	cie_summary_page_cleanup(&page);
}

static void test_parse_garbage_rejected(void)
{
	static const char *const bodies[] = {
		"<html><body><h1>502 Bad Gateway</h1></body></html>",
		"Rate limited.",
		"{\"items\": [{\"name\": \"w\", \"metrics\": {\"total_",
		"[]",
		"[{\"name\": \"w\"}]",
		"{\"items\": {\"name\": \"w\"}}",
		"{\"items\": \"none\"}",
		"{\"items\": [{\"name\": \"w\"}, 1]}",
		"{\"items\": [\"w\"]}",
		"{\"message\": \"Not Found\"}",
		"",
		"null",
	};
	struct cie_summary_page page;
	struct cie_error err;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		enum cie_result result = parse_page(bodies[i], &page, &err);

		CHECK(result == CIE_ERR_PARSE,
		      "body \"%s\": expected CIE_ERR_PARSE (%d), got %d", bodies[i],
		      CIE_ERR_PARSE, result);
		CHECK(err.detail[0] != '\0',
		      "body \"%s\": expected a detail, got an empty one", bodies[i]);
		CHECK(page.count == 0, "body \"%s\": expected 0 items, got %zu",
		      bodies[i], page.count);
		CHECK(page.items == NULL, "body \"%s\": expected items NULL, got %p",
		      bodies[i], (void *)page.items);
		CHECK(page.next_page_token == NULL,
		      "body \"%s\": expected next_page_token NULL, got \"%s\"",
		      bodies[i], page.next_page_token);
		cie_summary_page_cleanup(&page);
	}
}

static void test_parse_garbage_detail_where(void)
{
	struct cie_summary_page page;
	struct cie_error err;

	parse_page("{\"items\": [{\"name\": \"a\"}, {\"name\": \"b\"}, 3]}", &page, &err);
	CHECK(strstr(err.detail, "items[2]") != NULL,
	      "detail: expected \"items[2]\", got \"%s\"", err.detail);
	parse_page("{\"next_page_token\": null}", &page, &err);
	CHECK(strstr(err.detail, "items") != NULL,
	      "detail: expected \"items\", got \"%s\"", err.detail);
	parse_page("Rate limited.", &page, &err);
	CHECK(strstr(err.detail, "not JSON") != NULL,
	      "detail: expected \"not JSON\", got \"%s\"", err.detail);
}

static void test_parse_next_page_token(void)
{
	struct cie_summary_page page;
	struct cie_error err;

	if (CHECK(parse_page("{\"next_page_token\": \"+/+/abc=\", \"items\": []}",
			     &page, &err) == CIE_OK,
		  "string token: expected CIE_OK, got an error: %s", err.detail))
		CHECK_STR_EQ(page.next_page_token, "+/+/abc=");
	cie_summary_page_cleanup(&page);

	if (CHECK(parse_page("{\"next_page_token\": null, \"items\": []}", &page,
			     &err) == CIE_OK,
		  "null token: expected CIE_OK, got an error: %s", err.detail))
		CHECK(page.next_page_token == NULL,
		      "null token: expected NULL, got \"%s\"", page.next_page_token);
	cie_summary_page_cleanup(&page);

	if (CHECK(parse_page("{\"items\": []}", &page, &err) == CIE_OK,
		  "absent token: expected CIE_OK, got an error: %s", err.detail))
		CHECK(page.next_page_token == NULL,
		      "absent token: expected NULL, got \"%s\"", page.next_page_token);
	cie_summary_page_cleanup(&page);

	CHECK(parse_page("{\"next_page_token\": 7, \"items\": []}", &page, &err) ==
		      CIE_ERR_PARSE,
	      "number token: expected CIE_ERR_PARSE, got another result");
	cie_summary_page_cleanup(&page);
}

static void test_parse_recorded_runs_page(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;
	struct cie_buf body;
	char *token = (char *)"unset";

	if (!read_fixture("demo/gh-circleci-public-api-preview-docs/runs-build.json",
			  &body))
		goto out;
	cie_error_clear(&err);
	if (!CHECK(cie_parse_runs_page(body.data, body.len, &best, &token, &err) ==
			   CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		goto out;
	CHECK(token == NULL, "next_page_token: expected NULL, got \"%s\"", token);
	CHECK(best.found, "found: expected true, got false");
	CHECK_STR_EQ(best.status, "failed");
	CHECK_INT_NUM(best.duration, 9263);
	CHECK_INT_NUM(best.credits_used, 198981);
	CHECK_REAL_NUM(best.timestamp, 1579648153.953);
	CHECK_DOUBLE_EQ(best.created_at, 1579638890.223);
out:
	cie_last_run_cleanup(&best);
	cie_buf_cleanup(&body);
}

static void test_parse_runs_newest_by_created(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;

	/* The second item is newer although it comes later. */
	if (!CHECK(parse_runs("{\"items\": ["
			      "{\"status\": \"failed\", \"duration\": 10,"
			      " \"created_at\": \"2024-01-01T10:00:00Z\","
			      " \"stopped_at\": \"2024-01-01T12:00:00Z\"},"
			      "{\"status\": \"success\", \"duration\": 20,"
			      " \"created_at\": \"2024-01-01T11:00:00Z\","
			      " \"stopped_at\": \"2024-01-01T11:05:00Z\"}]}",
			      &best, NULL, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK(best.found, "found: expected true, got false");
	CHECK_STR_EQ(best.status, "success");
	CHECK_INT_NUM(best.duration, 20);
	CHECK_REAL_NUM(best.timestamp, 1704107100);
	cie_last_run_cleanup(&best);
}

static void test_parse_runs_skip_unfinished(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;

	if (!CHECK(parse_runs("{\"items\": ["
			      "{\"duration\": null, \"created_at\": \"2024-01-03T00:00:00Z\"},"
			      "{\"status\": null, \"created_at\": \"2024-01-02T00:00:00Z\"},"
			      "{\"status\": \"canceled\", \"duration\": 5, \"credits_used\": 3,"
			      " \"created_at\": \"2024-01-01T00:00:00Z\"}]}",
			      &best, NULL, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK(best.found, "found: expected true, got false");
	CHECK_STR_EQ(best.status, "canceled");
	CHECK_INT_NUM(best.credits_used, 3);
	/* Without stopped_at the timestamp is created_at. */
	CHECK_REAL_NUM(best.timestamp, 1704067200);
	cie_last_run_cleanup(&best);
}

static void test_parse_runs_none_finished(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;

	CHECK(parse_runs("{\"items\": [{\"status\": null,"
			 " \"created_at\": \"2024-01-02T00:00:00Z\"}]}",
			 &best, NULL, &err) == CIE_OK,
	      "result: expected CIE_OK, got an error: %s", err.detail);
	CHECK(!best.found, "found: expected false, got true (status \"%s\")",
	      best.status);
	CHECK(parse_runs("{\"items\": []}", &best, NULL, &err) == CIE_OK,
	      "empty items: expected CIE_OK, got an error: %s", err.detail);
	CHECK(!best.found, "empty items: expected found false, got true");
	cie_last_run_cleanup(&best);
}

static void test_parse_runs_stopped_preferred(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;

	if (!CHECK(parse_runs("{\"items\": [{\"status\": \"success\","
			      " \"created_at\": \"2020-01-21T20:34:50.223Z\","
			      " \"stopped_at\": \"2020-01-21T23:09:13.953Z\"}]}",
			      &best, NULL, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_REAL_NUM(best.timestamp, 1579648153.953);
	cie_last_run_cleanup(&best);

	if (!CHECK(parse_runs("{\"items\": [{\"status\": \"success\","
			      " \"created_at\": \"2020-01-21T20:34:50.223Z\","
			      " \"stopped_at\": null}]}",
			      &best, NULL, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_REAL_NUM(best.timestamp, 1579638890.223);
	cie_last_run_cleanup(&best);
}

static void test_parse_runs_merge_pages(void)
{
	struct cie_last_run best = { 0 };
	struct cie_error err;
	char *token = NULL;

	if (!CHECK(parse_runs("{\"next_page_token\": \"p2\", \"items\": ["
			      "{\"status\": \"success\", \"duration\": 1,"
			      " \"created_at\": \"2024-01-05T00:00:00Z\"}]}",
			      &best, &token, &err) == CIE_OK,
		   "page 1: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_STR_EQ(token, "p2");
	free(token);

	/* An older run on page 2 does not replace the newer one. */
	CHECK(parse_runs("{\"next_page_token\": \"p3\", \"items\": ["
			 "{\"status\": \"failed\", \"duration\": 2,"
			 " \"created_at\": \"2024-01-04T00:00:00Z\"}]}",
			 &best, &token, &err) == CIE_OK,
	      "page 2: expected CIE_OK, got an error: %s", err.detail);
	CHECK_STR_EQ(best.status, "success");
	CHECK_INT_NUM(best.duration, 1);
	CHECK_STR_EQ(token, "p3");
	free(token);

	/* A newer run on page 3 does. */
	CHECK(parse_runs("{\"next_page_token\": null, \"items\": ["
			 "{\"status\": \"error\", \"duration\": 3,"
			 " \"created_at\": \"2024-01-06T00:00:00Z\"}]}",
			 &best, &token, &err) == CIE_OK,
	      "page 3: expected CIE_OK, got an error: %s", err.detail);
	CHECK_STR_EQ(best.status, "error");
	CHECK_INT_NUM(best.duration, 3);
	CHECK(token == NULL, "page 3 token: expected NULL, got \"%s\"", token);
	cie_last_run_cleanup(&best);
}

static void test_parse_runs_failure_keeps_best(void)
{
	static const char *const bodies[] = {
		"Rate limited.",
		/* A newer finished run, then an item that is not an object. */
		("{\"items\": [{\"status\": \"failed\","
		 " \"created_at\": \"2024-02-01T00:00:00Z\"}, 5]}"),
		"{\"items\": null}",
		"{\"items\": [{\"status\": \"failed\", \"created_at\"",
	};
	struct cie_last_run best = { 0 };
	struct cie_error err;
	char *token = (char *)"unset";

	if (!CHECK(parse_runs("{\"items\": [{\"status\": \"success\", \"duration\": 9,"
			      " \"created_at\": \"2024-01-05T00:00:00Z\"}]}",
			      &best, NULL, &err) == CIE_OK,
		   "first page: expected CIE_OK, got an error: %s", err.detail))
		return;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CHECK(parse_runs(bodies[i], &best, &token, &err) == CIE_ERR_PARSE,
		      "body \"%s\": expected CIE_ERR_PARSE, got another result",
		      bodies[i]);
		CHECK(err.detail[0] != '\0',
		      "body \"%s\": expected a detail, got an empty one", bodies[i]);
		CHECK(token == NULL, "body \"%s\": expected token NULL, got \"%s\"",
		      bodies[i], token);
		CHECK(best.found, "body \"%s\": expected found true, got false",
		      bodies[i]);
		CHECK_STR_EQ(best.status, "success");
		CHECK_INT_NUM(best.duration, 9);
		CHECK_REAL_NUM(best.timestamp, 1704412800);
	}
	cie_last_run_cleanup(&best);
}

static void test_parse_project_default_branch(void)
{
	static const char body[] =
		"{\"slug\": \"gh/acme/api\", \"name\": \"api\","
		" \"vcs_info\": {\"vcs_url\": \"https://github.com/acme/api\","
		" \"provider\": \"GitHub\", \"default_branch\": \"master\"}}";
	struct cie_error err;
	char *branch = NULL;

	cie_error_clear(&err);
	if (CHECK(cie_parse_project(body, strlen(body), &branch, &err) == CIE_OK,
		  "result: expected CIE_OK, got an error: %s", err.detail))
		CHECK_STR_EQ(branch, "master");
	free(branch);
}

static void test_parse_project_missing_branch(void)
{
	static const char *const bodies[] = {
		"{\"slug\": \"gh/acme/api\"}",
		"{\"vcs_info\": null}",
		"{\"vcs_info\": {\"default_branch\": null}}",
		"{\"vcs_info\": {\"default_branch\": \"\"}}",
		"{\"message\": \"Project not found\"}",
		"Not Found",
	};
	struct cie_error err;
	char *branch;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		branch = NULL;
		cie_error_clear(&err);
		CHECK(cie_parse_project(bodies[i], strlen(bodies[i]), &branch, &err) ==
			      CIE_ERR_PARSE,
		      "body \"%s\": expected CIE_ERR_PARSE, got another result",
		      bodies[i]);
		CHECK(branch == NULL, "body \"%s\": expected no branch, got \"%s\"",
		      bodies[i], branch);
		CHECK(err.detail[0] != '\0',
		      "body \"%s\": expected a detail, got an empty one", bodies[i]);
		free(branch);
	}
}

static void test_parse_error_message_forms(void)
{
	char out[64];
	static const char found[] = "{\"message\": \"Project not found\"}";
	static const char lines[] = "{\"message\": \"line one\\nline two\\ttab\"}";
	static const char html[] = "<html>502</html>";
	static const char other[] = "{\"error\": \"x\"}";

	cie_parse_error_message(found, strlen(found), out, sizeof(out));
	CHECK_STR_EQ(out, "Project not found");
	cie_parse_error_message(lines, strlen(lines), out, sizeof(out));
	CHECK_STR_EQ(out, "line one line two tab");
	cie_parse_error_message(found, strlen(found), out, 8);
	CHECK_STR_EQ(out, "Project");
	cie_parse_error_message(html, strlen(html), out, sizeof(out));
	CHECK_STR_EQ(out, "");
	cie_parse_error_message(other, strlen(other), out, sizeof(out));
	CHECK_STR_EQ(out, "");
	cie_parse_error_message(NULL, 0, out, sizeof(out));
	CHECK_STR_EQ(out, "");
}

int main(int argc, char **argv)
{
	fixtures_dir = argc > 1 ? argv[1] : NULL;
	RUN(test_parse_recorded_workflows_page);
	RUN(test_parse_null_fields_absent);
	RUN(test_parse_numbers_kept_as_sent);
	RUN(test_parse_wrong_types_absent);
	RUN(test_parse_empty_items);
	RUN(test_parse_unknown_fields_ignored);
	RUN(test_parse_items_without_name);
	RUN(test_parse_garbage_rejected);
	RUN(test_parse_garbage_detail_where);
	RUN(test_parse_next_page_token);
	RUN(test_parse_recorded_runs_page);
	RUN(test_parse_runs_newest_by_created);
	RUN(test_parse_runs_skip_unfinished);
	RUN(test_parse_runs_none_finished);
	RUN(test_parse_runs_stopped_preferred);
	RUN(test_parse_runs_merge_pages);
	RUN(test_parse_runs_failure_keeps_best);
	RUN(test_parse_project_default_branch);
	RUN(test_parse_project_missing_branch);
	RUN(test_parse_error_message_forms);
	return check_summary();
}
