/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the CircleCI API v2 answers the exporter reads (jansson):
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
 * err says what was wrong and where. out is caller-owned: release it with
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

/*
 * Return the `message` of an API error body in out (empty when the body
 * is not JSON or has none), cut to size bytes and with control characters
 * replaced, so that it can be logged.
 */
void cie_parse_error_message(const char *body, size_t len, char *out,
			     size_t size);

#endif
