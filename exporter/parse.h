/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the CircleCI API v2 responses the exporter reads (jansson):
 * JSON text in, plain C structs out. They tolerate absent fields, null,
 * integers where floats are expected and the reverse, unknown fields and
 * empty item lists. A field that is absent, null or of another JSON type
 * becomes CIE_NUM_ABSENT and yields no sample; it never becomes 0.
 */
#ifndef CIE_PARSE_H
#define CIE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum cie_num_kind {
	CIE_NUM_ABSENT,
	CIE_NUM_INT,   /* a JSON integer: rendered exactly */
	CIE_NUM_REAL,  /* a JSON real, or a converted timestamp */
};

/* A sample value as the API sent it. */
struct cie_num {
	enum cie_num_kind kind;
	long long i;  /* with CIE_NUM_INT */
	double d;     /* with CIE_NUM_REAL */
};

/* Duration statistics in `duration_metrics`, in this order. */
enum cie_duration_stat {
	CIE_DUR_MIN,
	CIE_DUR_MEDIAN,
	CIE_DUR_MEAN,
	CIE_DUR_P95,
	CIE_DUR_MAX,
	CIE_DUR_STDDEV,
	CIE_DUR_COUNT,
};

/* The `metrics` object of a workflow or job summary, and its window. */
struct cie_summary {
	char *name;                 /* owned; the workflow or job name */
	struct cie_num total_runs;
	struct cie_num successful_runs;
	struct cie_num failed_runs;
	struct cie_num success_rate;
	struct cie_num throughput;
	struct cie_num mttr;              /* workflows only */
	struct cie_num total_recoveries;  /* workflows only */
	struct cie_num duration[CIE_DUR_COUNT];
	struct cie_num total_credits_used;
	struct cie_num window_start;      /* Unix seconds, from ISO 8601 */
	struct cie_num window_end;
};

/* One page of `GET /insights/{slug}/workflows` or `.../{workflow}/jobs`. */
struct cie_summary_page {
	struct cie_summary *items;  /* owned array */
	size_t count;
	char *next_page_token;      /* owned; NULL when this is the last page */
};

/* The newest finished run of a workflow, from `GET .../workflows/{name}`. */
struct cie_last_run {
	bool found;                 /* false when no item had a status */
	char *status;               /* owned; e.g. "success", "failed" */
	struct cie_num duration;
	struct cie_num credits_used;
	struct cie_num timestamp;   /* stopped_at, else created_at */
	double created_at;          /* for comparing runs */
};

/*
 * Parse a summary page (body of len bytes). Items without a string `name`
 * are skipped. On failure (CIE_ERR_PARSE: not JSON, not an object, `items`
 * missing or not an array, an item not an object) out is left empty and
 * err describes what was wrong and where. out is caller-owned: release it with
 * cie_summary_page_cleanup().
 */
enum cie_result cie_parse_summary_page(const char *body, size_t len,
				       struct cie_summary_page *out,
				       struct cie_error *err);
void cie_summary_page_cleanup(struct cie_summary_page *page);

/*
 * Parse a page of workflow runs and merge its newest finished run into
 * best: items whose `status` is absent or null are skipped, and runs are
 * compared by `created_at`, not by position. next_page_token, when not
 * NULL, receives the page's token (owned by the caller) or NULL.
 */
enum cie_result cie_parse_runs_page(const char *body, size_t len,
				    struct cie_last_run *best,
				    char **next_page_token,
				    struct cie_error *err);
void cie_last_run_cleanup(struct cie_last_run *run);

/*
 * Parse `GET /project/{slug}` and return its `vcs_info.default_branch` in
 * *default_branch (owned by the caller). CIE_ERR_PARSE when it is absent.
 */
enum cie_result cie_parse_project(const char *body, size_t len,
				  char **default_branch,
				  struct cie_error *err);

/* A list of strings, e.g. the branches of a project. */
struct cie_string_list {
	char **items;  /* owned, each owned */
	size_t count;
};
void cie_string_list_cleanup(struct cie_string_list *list);

/*
 * Parse `GET /insights/{slug}/branches` into out (caller-owned; release it
 * with cie_string_list_cleanup()): the strings of `branches`, others
 * skipped. CIE_ERR_PARSE when `branches` is missing or not an array.
 */
enum cie_result cie_parse_branches(const char *body, size_t len,
				   struct cie_string_list *out,
				   struct cie_error *err);

/* One test of `GET /insights/{slug}/flaky-tests`. */
struct cie_flaky_test {
	char *workflow;             /* owned; workflow_name */
	char *job;                  /* owned; job_name */
	char *test_name;            /* owned */
	char *classname;            /* owned; "" when null or absent */
	struct cie_num times_flaked;
	struct cie_num time_wasted; /* seconds */
};

/* The response of `GET /insights/{slug}/flaky-tests`. */
struct cie_flaky_report {
	struct cie_num total;          /* total_flaky_tests */
	struct cie_flaky_test *tests;  /* owned array */
	size_t count;
};

/*
 * Parse the flaky tests. Both key spellings are accepted, because the
 * published spec uses hyphens (`flaky-tests`, `times-flaked`) and the live
 * API has been seen to respond with underscores (`flaky_tests`). Tests
 * without a string test name are skipped; a workflow, job or class name
 * that is null or absent becomes "".
 * CIE_ERR_PARSE when the body is not an object or the list of tests is
 * missing or not an array. out is caller-owned: cie_flaky_report_cleanup().
 */
enum cie_result cie_parse_flaky_tests(const char *body, size_t len,
				      struct cie_flaky_report *out,
				      struct cie_error *err);
void cie_flaky_report_cleanup(struct cie_flaky_report *report);

/* Fields of `trends` in `GET .../workflows/{name}/summary`, in this order. */
enum cie_trend_field {
	CIE_TREND_TOTAL_RUNS,
	CIE_TREND_FAILED_RUNS,
	CIE_TREND_SUCCESS_RATE,
	CIE_TREND_P95_DURATION,
	CIE_TREND_MEDIAN_DURATION,
	CIE_TREND_TOTAL_CREDITS,
	CIE_TREND_MTTR,
	CIE_TREND_THROUGHPUT,
	CIE_TREND_COUNT,
};

/* Return the API key of a trend field, e.g. "p95_duration_secs". */
const char *cie_trend_field_name(enum cie_trend_field f);

/* The `trends` of a workflow summary: ratios, 1 meaning unchanged. */
struct cie_workflow_trends {
	struct cie_num value[CIE_TREND_COUNT];
};

/*
 * Parse a workflow summary's `trends` into out. An absent or null
 * `trends` leaves every value absent. CIE_ERR_PARSE when the body is not
 * a JSON object.
 */
enum cie_result cie_parse_workflow_trends(const char *body, size_t len,
					  struct cie_workflow_trends *out,
					  struct cie_error *err);

/* The numbers of `GET .../workflows/{name}/test-metrics`. */
struct cie_test_metrics {
	struct cie_num total_test_runs;
	struct cie_num average_test_count;
	struct cie_num most_failed_tests;  /* listed tests + most_failed_tests_extra */
	struct cie_num slowest_tests;      /* listed tests + slowest_tests_extra */
};

/*
 * Parse test metrics into out. A list of tests that is absent or not an
 * array gives an absent count; an absent `_extra` counts as 0 next to a
 * list. CIE_ERR_PARSE when the body is not a JSON object.
 */
enum cie_result cie_parse_test_metrics(const char *body, size_t len,
				       struct cie_test_metrics *out,
				       struct cie_error *err);

/* `org_data.metrics` of `GET /insights/{org-slug}/summary`. */
struct cie_org_metrics {
	struct cie_num total_runs;
	struct cie_num success_rate;
	struct cie_num throughput;
	struct cie_num total_duration;     /* total_duration_secs */
	struct cie_num total_credits_used;
};

/* One entry of `org_project_data`. */
struct cie_org_project {
	char *name;                        /* owned; project_name */
	struct cie_num total_runs;
	struct cie_num success_rate;
	struct cie_num total_duration;     /* total_duration_secs */
	struct cie_num total_credits_used;
};

/* The response of `GET /insights/{org-slug}/summary`. */
struct cie_org_summary {
	struct cie_org_metrics metrics;
	struct cie_org_project *projects;  /* owned array */
	size_t project_count;
	bool has_all_projects;             /* `all_projects` was an array */
	struct cie_string_list all_projects;
};

/*
 * Parse an organization summary. Entries of org_project_data without a
 * string project_name are skipped. CIE_ERR_PARSE when the body is not an
 * object, or org_project_data or all_projects is neither an array, null
 * nor absent. out is caller-owned: cie_org_summary_cleanup().
 */
enum cie_result cie_parse_org_summary(const char *body, size_t len,
				      struct cie_org_summary *out,
				      struct cie_error *err);
void cie_org_summary_cleanup(struct cie_org_summary *summary);

/*
 * Return the `message` of an API error body in out (empty when the body
 * is not JSON or has none), cut to size bytes and with control characters
 * replaced, so that it can be logged.
 */
void cie_parse_error_message(const char *body, size_t len, char *out,
			     size_t size);

#endif
