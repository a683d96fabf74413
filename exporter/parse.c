/* SPDX-License-Identifier: MIT */
/*
 * JSON responses of the CircleCI API v2 Insights endpoints into C structs.
 * Every json_t below is borrowed from the one root that each public
 * function loads and releases.
 */
#include "parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* Load a JSON object; on failure report where the text stopped being JSON. */
static json_t *load_object(const char *body, size_t len, struct cie_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		cie_error_set(err, CIE_ERR_PARSE,
			      "body is not JSON (line %d, column %d: %s)",
			      jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cie_error_set(err, CIE_ERR_PARSE, "body is not a JSON object");
		return NULL;
	}
	return root;
}

/* A JSON number as a cie_num; anything else is absent. */
static struct cie_num num_of(const json_t *v)
{
	struct cie_num n = { .kind = CIE_NUM_ABSENT };

	if (json_is_integer(v)) {
		n.kind = CIE_NUM_INT;
		n.i = (long long)json_integer_value(v);
	} else if (json_is_real(v)) {
		n.kind = CIE_NUM_REAL;
		n.d = json_real_value(v);
	}
	return n;
}

static struct cie_num read_num(const json_t *obj, const char *key)
{
	return num_of(json_object_get(obj, key));
}

static struct cie_num read_time(const json_t *obj, const char *key)
{
	struct cie_num n = { .kind = CIE_NUM_ABSENT };
	const char *text = json_string_value(json_object_get(obj, key));

	if (text && cie_time_parse_iso8601(text, &n.d))
		n.kind = CIE_NUM_REAL;
	return n;
}

static void read_summary(const json_t *item, struct cie_summary *s)
{
	static const char *const stat_keys[CIE_DUR_COUNT] = {
		"min", "median", "mean", "p95", "max", "standard_deviation",
	};
	const json_t *m = json_object_get(item, "metrics");
	const json_t *d = json_object_get(m, "duration_metrics");

	/* json_object_get() of a non-object is NULL: all stay absent. */
	s->total_runs = read_num(m, "total_runs");
	s->successful_runs = read_num(m, "successful_runs");
	s->failed_runs = read_num(m, "failed_runs");
	s->success_rate = read_num(m, "success_rate");
	s->throughput = read_num(m, "throughput");
	s->mttr = read_num(m, "mttr");
	s->total_recoveries = read_num(m, "total_recoveries");
	s->total_credits_used = read_num(m, "total_credits_used");
	for (int i = 0; i < CIE_DUR_COUNT; i++)
		s->duration[i] = read_num(d, stat_keys[i]);
	s->window_start = read_time(item, "window_start");
	s->window_end = read_time(item, "window_end");
}

/* Read next_page_token: a string, or null / absent for the last page. */
static enum cie_result read_token(const json_t *root, char **out,
				  struct cie_error *err)
{
	const json_t *t = json_object_get(root, "next_page_token");

	*out = NULL;
	if (!t || json_is_null(t))
		return CIE_OK;
	if (!json_is_string(t))
		return cie_error_set(err, CIE_ERR_PARSE,
				     "next_page_token is neither a string nor null");
	if (json_string_length(t) == 0)
		return CIE_OK;
	*out = strdup(json_string_value(t));
	return *out ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "page token");
}

static const json_t *get_items(const json_t *root, struct cie_error *err)
{
	const json_t *items = json_object_get(root, "items");

	if (!json_is_array(items))
		cie_error_set(err, CIE_ERR_PARSE,
			      items ? "items is not an array" : "items is missing");
	return json_is_array(items) ? items : NULL;
}

void cie_summary_page_cleanup(struct cie_summary_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->count; i++)
		free(page->items[i].name);
	free(page->items);
	free(page->next_page_token);
	memset(page, 0, sizeof(*page));
}

enum cie_result cie_parse_summary_page(const char *body, size_t len,
				       struct cie_summary_page *out,
				       struct cie_error *err)
{
	struct cie_summary_page page = { 0 };
	const json_t *items, *item;
	const char *name;
	enum cie_result result = CIE_OK;
	size_t i;
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	items = get_items(root, err);
	if (!items) {
		json_decref(root);
		return CIE_ERR_PARSE;
	}
	page.items = calloc(json_array_size(items) + 1, sizeof(*page.items));
	if (!page.items)
		result = cie_error_set(err, CIE_ERR_NOMEM, "items");

	json_array_foreach(items, i, item) {
		if (result != CIE_OK)
			break;
		if (!json_is_object(item)) {
			result = cie_error_set(err, CIE_ERR_PARSE,
					       "items[%zu] is not an object", i);
			break;
		}
		name = json_string_value(json_object_get(item, "name"));
		if (!name)
			continue;
		page.items[page.count].name = strdup(name);
		if (!page.items[page.count].name) {
			result = cie_error_set(err, CIE_ERR_NOMEM, "name");
			break;
		}
		read_summary(item, &page.items[page.count]);
		page.count++;
	}
	if (result == CIE_OK)
		result = read_token(root, &page.next_page_token, err);
	json_decref(root);

	if (result != CIE_OK) {
		cie_summary_page_cleanup(&page);
		return result;
	}
	*out = page;
	return CIE_OK;
}

void cie_last_run_cleanup(struct cie_last_run *run)
{
	if (!run)
		return;
	free(run->status);
	memset(run, 0, sizeof(*run));
}

/* Replace best with item when item is a finished run created later. */
static enum cie_result merge_run(const json_t *item, struct cie_last_run *best)
{
	const char *status = json_string_value(json_object_get(item, "status"));
	struct cie_num created = read_time(item, "created_at");
	struct cie_num stopped = read_time(item, "stopped_at");
	char *copy;

	if (!status || created.kind == CIE_NUM_ABSENT)
		return CIE_OK;
	if (best->found && created.d <= best->created_at)
		return CIE_OK;
	copy = strdup(status);
	if (!copy)
		return CIE_ERR_NOMEM;
	free(best->status);
	best->status = copy;
	best->found = true;
	best->created_at = created.d;
	best->duration = read_num(item, "duration");
	best->credits_used = read_num(item, "credits_used");
	best->timestamp = stopped.kind != CIE_NUM_ABSENT ? stopped : created;
	return CIE_OK;
}

enum cie_result cie_parse_runs_page(const char *body, size_t len,
				    struct cie_last_run *best,
				    char **next_page_token,
				    struct cie_error *err)
{
	struct cie_last_run merged = { 0 };
	const json_t *items, *item;
	enum cie_result result = CIE_OK;
	size_t i;
	json_t *root = load_object(body, len, err);

	if (next_page_token)
		*next_page_token = NULL;
	if (!root)
		return CIE_ERR_PARSE;
	items = get_items(root, err);
	if (!items) {
		json_decref(root);
		return CIE_ERR_PARSE;
	}

	/* Work on a copy so that best is untouched on failure. */
	merged = *best;
	merged.status = best->status ? strdup(best->status) : NULL;
	json_array_foreach(items, i, item) {
		if (!json_is_object(item)) {
			result = cie_error_set(err, CIE_ERR_PARSE,
					       "items[%zu] is not an object", i);
			break;
		}
		if (merge_run(item, &merged) != CIE_OK) {
			result = cie_error_set(err, CIE_ERR_NOMEM, "run");
			break;
		}
	}
	if (result == CIE_OK && next_page_token)
		result = read_token(root, next_page_token, err);
	json_decref(root);

	if (result != CIE_OK) {
		cie_last_run_cleanup(&merged);
		return result;
	}
	cie_last_run_cleanup(best);
	*best = merged;
	return CIE_OK;
}

enum cie_result cie_parse_project(const char *body, size_t len,
				  char **default_branch,
				  struct cie_error *err)
{
	const char *branch;
	json_t *root = load_object(body, len, err);

	if (!root)
		return CIE_ERR_PARSE;
	branch = json_string_value(
		json_object_get(json_object_get(root, "vcs_info"), "default_branch"));
	if (!branch || !*branch) {
		json_decref(root);
		return cie_error_set(err, CIE_ERR_PARSE,
				     "vcs_info.default_branch is missing");
	}
	*default_branch = strdup(branch);
	json_decref(root);
	return *default_branch ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "branch");
}

void cie_parse_error_message(const char *body, size_t len, char *out,
			     size_t size)
{
	const char *message;
	json_t *root;

	if (size == 0)
		return;
	out[0] = '\0';
	if (!body || len == 0)
		return;
	root = json_loadb(body, len, 0, NULL);
	message = json_string_value(json_object_get(root, "message"));
	if (message) {
		snprintf(out, size, "%s", message);
		for (char *p = out; *p; p++) {
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		}
	}
	json_decref(root);
}

void cie_string_list_cleanup(struct cie_string_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* Copy the strings of array into out; other values are skipped. */
static enum cie_result read_strings(const json_t *array,
				    struct cie_string_list *out,
				    struct cie_error *err)
{
	const json_t *v;
	size_t i;

	out->items = calloc(json_array_size(array) + 1, sizeof(*out->items));
	if (!out->items)
		return cie_error_set(err, CIE_ERR_NOMEM, "strings");
	json_array_foreach(array, i, v) {
		if (!json_is_string(v))
			continue;
		out->items[out->count] = strdup(json_string_value(v));
		if (!out->items[out->count])
			return cie_error_set(err, CIE_ERR_NOMEM, "strings");
		out->count++;
	}
	return CIE_OK;
}

enum cie_result cie_parse_branches(const char *body, size_t len,
				   struct cie_string_list *out,
				   struct cie_error *err)
{
	struct cie_string_list list = { 0 };
	const json_t *branches;
	enum cie_result result;
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	branches = json_object_get(root, "branches");
	if (!json_is_array(branches)) {
		json_decref(root);
		return cie_error_set(err, CIE_ERR_PARSE,
				     branches ? "branches is not an array" :
						"branches is missing");
	}
	result = read_strings(branches, &list, err);
	json_decref(root);
	if (result != CIE_OK) {
		cie_string_list_cleanup(&list);
		return result;
	}
	*out = list;
	return CIE_OK;
}

/* The value of key a, or of key b when a is absent or null. */
static const json_t *get_either(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	if (!v || json_is_null(v))
		v = json_object_get(obj, b);
	return v;
}

/* A copy of a string value, or of "" for anything else; NULL when out of memory. */
static char *string_or_empty(const json_t *v)
{
	const char *text = json_string_value(v);

	return strdup(text ? text : "");
}

static void flaky_test_cleanup(struct cie_flaky_test *t)
{
	free(t->workflow);
	free(t->job);
	free(t->test_name);
	free(t->classname);
	memset(t, 0, sizeof(*t));
}

void cie_flaky_report_cleanup(struct cie_flaky_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->count; i++)
		flaky_test_cleanup(&report->tests[i]);
	free(report->tests);
	memset(report, 0, sizeof(*report));
}

/* Fill t from item; *skipped is set when item has no test name. */
static enum cie_result read_flaky_test(const json_t *item,
				       struct cie_flaky_test *t, bool *skipped)
{
	const json_t *name = get_either(item, "test_name", "test-name");

	*skipped = !json_is_string(name);
	if (*skipped)
		return CIE_OK;
	t->test_name = strdup(json_string_value(name));
	t->workflow = string_or_empty(get_either(item, "workflow_name",
						 "workflow-name"));
	t->job = string_or_empty(get_either(item, "job_name", "job-name"));
	t->classname = string_or_empty(json_object_get(item, "classname"));
	t->times_flaked = num_of(get_either(item, "times_flaked", "times-flaked"));
	t->time_wasted = num_of(get_either(item, "time_wasted", "time-wasted"));
	if (!t->test_name || !t->workflow || !t->job || !t->classname) {
		flaky_test_cleanup(t);
		return CIE_ERR_NOMEM;
	}
	return CIE_OK;
}

enum cie_result cie_parse_flaky_tests(const char *body, size_t len,
				      struct cie_flaky_report *out,
				      struct cie_error *err)
{
	struct cie_flaky_report report = { 0 };
	const json_t *tests, *item;
	enum cie_result result = CIE_OK;
	bool skipped;
	size_t i;
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	tests = get_either(root, "flaky_tests", "flaky-tests");
	if (!json_is_array(tests)) {
		json_decref(root);
		return cie_error_set(err, CIE_ERR_PARSE,
				     tests ? "flaky_tests is not an array" :
					     "flaky_tests is missing");
	}
	report.total = num_of(get_either(root, "total_flaky_tests",
					 "total-flaky-tests"));
	report.tests = calloc(json_array_size(tests) + 1, sizeof(*report.tests));
	if (!report.tests)
		result = cie_error_set(err, CIE_ERR_NOMEM, "flaky tests");

	json_array_foreach(tests, i, item) {
		if (result != CIE_OK)
			break;
		if (!json_is_object(item)) {
			result = cie_error_set(err, CIE_ERR_PARSE,
					       "flaky_tests[%zu] is not an object", i);
			break;
		}
		result = read_flaky_test(item, &report.tests[report.count], &skipped);
		if (result != CIE_OK)
			cie_error_set(err, result, "flaky_tests[%zu]", i);
		else if (!skipped)
			report.count++;
	}
	json_decref(root);

	if (result != CIE_OK) {
		cie_flaky_report_cleanup(&report);
		return result;
	}
	*out = report;
	return CIE_OK;
}

static const char *const trend_keys[CIE_TREND_COUNT] = {
	"total_runs", "failed_runs", "success_rate", "p95_duration_secs",
	"median_duration_secs", "total_credits_used", "mttr", "throughput",
};

const char *cie_trend_field_name(enum cie_trend_field f)
{
	return (unsigned)f < CIE_TREND_COUNT ? trend_keys[f] : "unknown";
}

enum cie_result cie_parse_workflow_trends(const char *body, size_t len,
					  struct cie_workflow_trends *out,
					  struct cie_error *err)
{
	const json_t *trends;
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	/* json_object_get() of a non-object is NULL: all stay absent. */
	trends = json_object_get(root, "trends");
	for (int f = 0; f < CIE_TREND_COUNT; f++)
		out->value[f] = read_num(trends, trend_keys[f]);
	json_decref(root);
	return CIE_OK;
}

/* The number of tests listed plus the count of those left out. */
static struct cie_num count_with_extra(const json_t *list, const json_t *extra)
{
	struct cie_num n = { .kind = CIE_NUM_ABSENT };
	struct cie_num more = num_of(extra);

	if (!json_is_array(list))
		return n;
	n.kind = CIE_NUM_INT;
	n.i = (long long)json_array_size(list);
	if (more.kind == CIE_NUM_INT) {
		n.i += more.i;
	} else if (more.kind == CIE_NUM_REAL) {
		n.kind = CIE_NUM_REAL;
		n.d = (double)n.i + more.d;
	}
	return n;
}

enum cie_result cie_parse_test_metrics(const char *body, size_t len,
				       struct cie_test_metrics *out,
				       struct cie_error *err)
{
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	out->total_test_runs = read_num(root, "total_test_runs");
	out->average_test_count = read_num(root, "average_test_count");
	out->most_failed_tests =
		count_with_extra(json_object_get(root, "most_failed_tests"),
				 json_object_get(root, "most_failed_tests_extra"));
	out->slowest_tests =
		count_with_extra(json_object_get(root, "slowest_tests"),
				 json_object_get(root, "slowest_tests_extra"));
	json_decref(root);
	return CIE_OK;
}

void cie_org_summary_cleanup(struct cie_org_summary *summary)
{
	if (!summary)
		return;
	for (size_t i = 0; i < summary->project_count; i++)
		free(summary->projects[i].name);
	free(summary->projects);
	cie_string_list_cleanup(&summary->all_projects);
	memset(summary, 0, sizeof(*summary));
}

static enum cie_result read_org_projects(const json_t *list,
					 struct cie_org_summary *out,
					 struct cie_error *err)
{
	const json_t *item, *m;
	const char *name;
	size_t i;

	out->projects = calloc(json_array_size(list) + 1, sizeof(*out->projects));
	if (!out->projects)
		return cie_error_set(err, CIE_ERR_NOMEM, "org_project_data");
	json_array_foreach(list, i, item) {
		struct cie_org_project *p = &out->projects[out->project_count];

		name = json_string_value(json_object_get(item, "project_name"));
		if (!name)
			continue;
		p->name = strdup(name);
		if (!p->name)
			return cie_error_set(err, CIE_ERR_NOMEM, "project_name");
		m = json_object_get(item, "metrics");
		p->total_runs = read_num(m, "total_runs");
		p->success_rate = read_num(m, "success_rate");
		p->total_duration = read_num(m, "total_duration_secs");
		p->total_credits_used = read_num(m, "total_credits_used");
		out->project_count++;
	}
	return CIE_OK;
}

enum cie_result cie_parse_org_summary(const char *body, size_t len,
				      struct cie_org_summary *out,
				      struct cie_error *err)
{
	struct cie_org_summary summary = { 0 };
	const json_t *m, *projects, *all;
	enum cie_result result = CIE_OK;
	json_t *root = load_object(body, len, err);

	memset(out, 0, sizeof(*out));
	if (!root)
		return CIE_ERR_PARSE;
	projects = json_object_get(root, "org_project_data");
	all = json_object_get(root, "all_projects");
	if ((projects && !json_is_null(projects) && !json_is_array(projects)) ||
	    (all && !json_is_null(all) && !json_is_array(all))) {
		json_decref(root);
		return cie_error_set(err, CIE_ERR_PARSE, "%s is not an array",
				     json_is_array(projects) ? "all_projects" :
							       "org_project_data");
	}

	m = json_object_get(json_object_get(root, "org_data"), "metrics");
	summary.metrics.total_runs = read_num(m, "total_runs");
	summary.metrics.success_rate = read_num(m, "success_rate");
	summary.metrics.throughput = read_num(m, "throughput");
	summary.metrics.total_duration = read_num(m, "total_duration_secs");
	summary.metrics.total_credits_used = read_num(m, "total_credits_used");
	if (json_is_array(projects))
		result = read_org_projects(projects, &summary, err);
	if (result == CIE_OK && json_is_array(all)) {
		summary.has_all_projects = true;
		result = read_strings(all, &summary.all_projects, err);
	}
	json_decref(root);

	if (result != CIE_OK) {
		cie_org_summary_cleanup(&summary);
		return result;
	}
	*out = summary;
	return CIE_OK;
}
