/* SPDX-License-Identifier: MIT */
/*
 * JSON answers of the CircleCI API v2 Insights endpoints into C structs.
 * Every json_t below is borrowed from the one root that each public
 * function loads and releases.
 */
#include "parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* Load a JSON object; on failure say where the text stopped being JSON. */
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

static struct cie_num read_num(const json_t *obj, const char *key)
{
	struct cie_num n = { .kind = CIE_NUM_ABSENT };
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v)) {
		n.kind = CIE_NUM_INT;
		n.i = (long long)json_integer_value(v);
	} else if (json_is_real(v)) {
		n.kind = CIE_NUM_REAL;
		n.d = json_real_value(v);
	}
	return n;
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
