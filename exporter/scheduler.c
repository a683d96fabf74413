/* SPDX-License-Identifier: MIT */
/*
 * Refresh scheduling, request pacing and retries.
 *
 * A refresh of a project is a set of tasks. A task is one logical request
 * (all pages of one endpoint for one branch, window and workflow); it
 * makes one HTTP exchange at a time. Tasks wait in one queue; a task is
 * started when fewer than max_concurrency are in flight, its retry time
 * has come and the token bucket has a token. Follow-up tasks (jobs and
 * runs of the workflows just listed) go to the front of the queue, so a
 * started refresh finishes before the next project's begins.
 */
#include "scheduler.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api.h"
#include "log.h"
#include "parse.h"
#include "ratelimit.h"
#include "render.h"
#include "snapshot.h"
#include "stats.h"
#include "store.h"
#include "timeutil.h"

#define MAX_DONE 64
#define BACKOFF_BASE 0.5
#define BACKOFF_CAP 30.0

enum branch_kind {
	BRANCH_DEFAULT, /* no branch parameter; labelled with the default branch */
	BRANCH_NAMED,   /* branch=NAME */
	BRANCH_ALL,     /* all-branches=true; labelled "*" */
};

struct project {
	const struct cie_project_config *cfg;  /* in s->cfg */
	struct cie_project_data *data;
	size_t index;

	double due;              /* monotonic time of the next refresh */
	double phase;            /* offset in [0, interval) after the first pass */
	bool in_first_config;    /* counts for readiness */

	bool running;
	bool failed;
	double started;          /* monotonic */
	size_t pending;          /* tasks of this refresh not yet finished */
	unsigned requests;       /* HTTP exchanges of this refresh */
	unsigned last_requests;  /* of the last finished refresh */
	char **run_keys;         /* "branch\nworkflow" runs already queued */
	size_t run_key_count;

	bool error_logged;       /* an error was logged since the last success */
	bool removed;            /* dropped by a reload; freed when idle */
};

struct task {
	struct project *p;
	enum cie_endpoint endpoint;
	enum branch_kind kind;
	char *branch;            /* label value (and the name when NAMED) */
	enum cie_window window;
	char *workflow;

	char *page_token;        /* of the next page, NULL for the first */
	unsigned pages;
	unsigned attempt;        /* retries made so far */
	double not_before;       /* monotonic */
	struct cie_summary_page items;  /* workflows or jobs of earlier pages */
	struct cie_last_run run;

	struct cie_request req;
	struct task *next;
};

struct cie_scheduler {
	struct cie_config *cfg;
	char *version;
	struct cie_api *api;
	struct cie_bucket bucket;
	z_stream stream;

	struct project **projects;
	size_t project_count;
	struct task *queue;       /* waiting tasks */
	struct task **flying;     /* tasks with a request in flight */
	size_t flying_count;

	double start;             /* monotonic time of the first pass */
	bool overloaded;
	atomic_bool ready;
};

/* Helpers for tasks. */

static void task_free(struct task *t)
{
	if (!t)
		return;
	free(t->branch);
	free(t->workflow);
	free(t->page_token);
	cie_summary_page_cleanup(&t->items);
	cie_last_run_cleanup(&t->run);
	cie_request_cleanup(&t->req);
	free(t->req.url);
	free(t);
}

static struct task *task_new(struct project *p, enum cie_endpoint ep,
			     enum branch_kind kind, const char *branch,
			     enum cie_window window, const char *workflow)
{
	struct task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->p = p;
	t->endpoint = ep;
	t->kind = kind;
	t->window = window;
	t->branch = branch ? strdup(branch) : NULL;
	t->workflow = workflow ? strdup(workflow) : NULL;
	if ((branch && !t->branch) || (workflow && !t->workflow)) {
		task_free(t);
		return NULL;
	}
	return t;
}

static void queue_front(struct cie_scheduler *s, struct task *t)
{
	t->next = s->queue;
	s->queue = t;
}

static void queue_back(struct cie_scheduler *s, struct task *t)
{
	struct task **at = &s->queue;

	while (*at)
		at = &(*at)->next;
	t->next = NULL;
	*at = t;
}

/* URL of the task's next page. */
static char *task_url(const struct cie_scheduler *s, const struct task *t)
{
	struct cie_buf url;
	char sep = '?';

	cie_buf_init(&url, 64 * 1024);
	cie_buf_puts(&url, s->cfg->circleci.url);
	if (t->endpoint == CIE_EP_PROJECT) {
		cie_buf_printf(&url, "/project/%s", t->p->data->slug);
		return cie_buf_detach(&url, NULL);
	}
	cie_buf_printf(&url, "/insights/%s/workflows", t->p->data->slug);
	if (t->workflow) {
		cie_buf_putc(&url, '/');
		cie_percent_encode(&url, t->workflow);
	}
	if (t->endpoint == CIE_EP_JOBS)
		cie_buf_puts(&url, "/jobs");
	if (t->endpoint != CIE_EP_RUNS) {
		cie_buf_printf(&url, "?reporting-window=%s",
			       cie_window_name(t->window));
		sep = '&';
	}
	if (t->kind == BRANCH_NAMED) {
		cie_buf_printf(&url, "%cbranch=", sep);
		cie_percent_encode(&url, t->branch);
		sep = '&';
	} else if (t->kind == BRANCH_ALL) {
		cie_buf_printf(&url, "%call-branches=true", sep);
		sep = '&';
	}
	if (t->page_token) {
		cie_buf_printf(&url, "%cpage-token=", sep);
		cie_percent_encode(&url, t->page_token);
	}
	if (url.overflow) {
		cie_buf_cleanup(&url);
		return NULL;
	}
	return cie_buf_detach(&url, NULL);
}

/* Projects. */

static void project_clear_run_keys(struct project *p)
{
	for (size_t i = 0; i < p->run_key_count; i++)
		free(p->run_keys[i]);
	free(p->run_keys);
	p->run_keys = NULL;
	p->run_key_count = 0;
}

static void project_free(struct project *p)
{
	if (!p)
		return;
	project_clear_run_keys(p);
	cie_project_data_free(p->data);
	free(p);
}

static struct project *project_new(const struct cie_project_config *cfg,
				   size_t index)
{
	struct project *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = cfg;
	p->index = index;
	p->data = cie_project_data_new(cfg->slug);
	if (!p->data) {
		free(p);
		return NULL;
	}
	return p;
}

/* Log a failure at warn level once per project until it succeeds again. */
static void project_error(struct project *p, const struct task *t,
			  const char *status, const char *message)
{
	enum cie_log_level level = p->error_logged ? CIE_LOG_DEBUG : CIE_LOG_WARN;

	p->failed = true;
	p->error_logged = true;
	cie_log(level, "request failed", "project", p->data->slug, "endpoint",
		cie_endpoint_name(t->endpoint), "workflow", t->workflow,
		"branch", t->branch, "status", status, "err", message, NULL);
}

/* Label of a default-branch task: the default branch, once known. */
static const char *branch_label(const struct project *p, enum branch_kind kind,
				const char *name)
{
	if (kind == BRANCH_ALL)
		return "*";
	if (kind == BRANCH_NAMED)
		return name;
	return p->data->default_branch;
}

static bool add_task(struct cie_scheduler *s, struct project *p,
		     enum cie_endpoint ep, enum branch_kind kind,
		     const char *branch, enum cie_window window,
		     const char *workflow, bool front)
{
	struct task *t = task_new(p, ep, kind, branch, window, workflow);

	if (!t) {
		cie_log(CIE_LOG_ERROR, "out of memory", "project", p->data->slug,
			NULL);
		p->failed = true;
		return false;
	}
	p->pending++;
	if (front)
		queue_front(s, t);
	else
		queue_back(s, t);
	return true;
}

static enum branch_kind kind_of(const char *branch)
{
	return strcmp(branch, "*") == 0 ? BRANCH_ALL : BRANCH_NAMED;
}

/* Queue the workflows tasks of every (branch, window) of the project. */
static void plan_workflows(struct cie_scheduler *s, struct project *p)
{
	const struct cie_poll_settings *poll = &p->cfg->poll;

	for (int w = 0; w < CIE_WINDOW_COUNT; w++) {
		if (!(poll->windows & (1u << w)))
			continue;
		if (poll->branch_count == 0 && p->data->default_branch)
			add_task(s, p, CIE_EP_WORKFLOWS, BRANCH_DEFAULT,
				 p->data->default_branch, (enum cie_window)w,
				 NULL, true);
		for (size_t b = 0; b < poll->branch_count; b++)
			add_task(s, p, CIE_EP_WORKFLOWS,
				 kind_of(poll->branches[b]),
				 branch_label(p, kind_of(poll->branches[b]),
					      poll->branches[b]),
				 (enum cie_window)w, NULL, true);
	}
}

static void start_refresh(struct cie_scheduler *s, struct project *p)
{
	p->running = true;
	p->failed = false;
	p->started = cie_time_mono();
	p->requests = 0;
	project_clear_run_keys(p);
	if (!p->data->default_branch)
		add_task(s, p, CIE_EP_PROJECT, BRANCH_DEFAULT, NULL,
			 CIE_WINDOW_7D, NULL, false);
	else
		plan_workflows(s, p);
	if (p->pending == 0)
		p->running = false;
	cie_log(CIE_LOG_DEBUG, "refresh started", "project", p->data->slug, NULL);
}

/* Scheduling. */

static double effective_interval(const struct cie_scheduler *s,
				 const struct project *p)
{
	double load = 0;

	for (size_t i = 0; i < s->project_count; i++)
		load += s->projects[i]->last_requests / s->projects[i]->cfg->poll.interval;
	if (load <= s->cfg->circleci.requests_per_second)
		return p->cfg->poll.interval;
	return p->cfg->poll.interval * load / s->cfg->circleci.requests_per_second;
}

/* Overload: a full cycle's requests do not fit in the interval at the configured rate. */
static void check_overload(struct cie_scheduler *s)
{
	double load = 0;
	char text[64];
	bool overloaded;

	for (size_t i = 0; i < s->project_count; i++)
		load += s->projects[i]->last_requests / s->projects[i]->cfg->poll.interval;
	overloaded = load > s->cfg->circleci.requests_per_second;
	if (overloaded && !s->overloaded) {
		snprintf(text, sizeof(text), "%.3g", load);
		cie_log(CIE_LOG_WARN,
			"refresh cycle does not fit in the interval at the configured rate; refreshes are spaced out to fit. Raise rate_limit.requests_per_second or the interval",
			"needed_requests_per_second", text, NULL);
	} else if (!overloaded && s->overloaded) {
		cie_log(CIE_LOG_INFO, "refresh cycle fits in the interval again", NULL);
	}
	s->overloaded = overloaded;
	cie_stats_set_overloaded(overloaded);
}

static void publish(struct cie_scheduler *s)
{
	struct cie_project_data **data = calloc(s->project_count + 1, sizeof(*data));
	struct cie_snapshot *snap;
	size_t n = 0;

	if (!data)
		return;
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed)
			data[n++] = s->projects[i]->data;
	}
	snap = cie_snapshot_build(data, n);
	free(data);
	if (snap)
		cie_serve_publish(snap);
	else
		cie_log(CIE_LOG_ERROR, "out of memory building the snapshot", NULL);
}

static void update_ready(struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->project_count; i++) {
		if (s->projects[i]->in_first_config && !s->projects[i]->data->refreshed)
			return;
	}
	atomic_store(&s->ready, true);
}

static void finish_refresh(struct cie_scheduler *s, struct project *p)
{
	const struct cie_poll_settings *poll = &p->cfg->poll;
	struct cie_project_data *d = p->data;
	double now = cie_time_mono(), interval;
	char *labels[64];
	size_t n = 0;

	p->running = false;
	p->last_requests = p->requests;
	d->refreshed = true;
	d->up = !p->failed;
	d->refresh_duration = now - p->started;
	if (!p->failed) {
		d->last_success = cie_time_now();
		if (p->error_logged)
			cie_log(CIE_LOG_INFO, "project refreshed successfully again",
				"project", d->slug, NULL);
		p->error_logged = false;
	}

	/* Drop what the config no longer asks for. */
	if (poll->branch_count == 0 && d->default_branch)
		labels[n++] = d->default_branch;
	for (size_t b = 0; b < poll->branch_count && n < 64; b++)
		labels[n++] = (char *)(uintptr_t)branch_label(p, kind_of(poll->branches[b]),
							       poll->branches[b]);
	cie_store_prune(d, labels, n, poll->windows, poll->jobs, poll->last_runs);

	check_overload(s);
	interval = effective_interval(s, p);
	if (p->due < s->start + 1e-9 || p->due + interval < now)
		p->due = s->start + interval + p->phase;
	else
		p->due += interval;
	while (p->due < now)
		p->due += interval;
	d->next_refresh = cie_time_now() + (p->due - now);

	if (!cie_render_project(d, &s->stream))
		cie_log(CIE_LOG_ERROR, "out of memory rendering", "project", d->slug,
			NULL);
	publish(s);
	update_ready(s);
	cie_log(CIE_LOG_DEBUG, "refresh finished", "project", d->slug, "up",
		d->up ? "1" : "0", NULL);
}

static void task_done(struct cie_scheduler *s, struct task *t)
{
	struct project *p = t->p;

	task_free(t);
	if (--p->pending == 0 && p->running && !p->removed)
		finish_refresh(s, p);
}

/* Answers. */

static bool run_queued(struct project *p, const char *branch, const char *wf)
{
	for (size_t i = 0; i < p->run_key_count; i++) {
		const char *k = p->run_keys[i];
		size_t bl = strlen(branch);

		if (strncmp(k, branch, bl) == 0 && k[bl] == '\n' &&
		    strcmp(k + bl + 1, wf) == 0)
			return true;
	}
	return false;
}

static void remember_run(struct project *p, const char *branch, const char *wf)
{
	char **keys = realloc(p->run_keys, (p->run_key_count + 1) * sizeof(*keys));
	size_t n = strlen(branch) + strlen(wf) + 2;

	if (!keys)
		return;
	p->run_keys = keys;
	keys[p->run_key_count] = malloc(n);
	if (!keys[p->run_key_count])
		return;
	snprintf(keys[p->run_key_count++], n, "%s\n%s", branch, wf);
}

/* Keep only the workflows that pass the project's filters. */
static void filter_workflows(const struct project *p, struct cie_summary_page *page)
{
	size_t kept = 0;

	for (size_t i = 0; i < page->count; i++) {
		if (!cie_name_filter_match(&p->cfg->poll.workflows, page->items[i].name)) {
			free(page->items[i].name);
			continue;
		}
		page->items[kept++] = page->items[i];
	}
	page->count = kept;
}

static void follow_workflows(struct cie_scheduler *s, struct task *t)
{
	struct project *p = t->p;
	const struct cie_workflow_set *set = NULL;

	for (size_t i = 0; i < p->data->workflow_set_count; i++) {
		if (p->data->workflow_sets[i].window == t->window &&
		    strcmp(p->data->workflow_sets[i].branch, t->branch) == 0)
			set = &p->data->workflow_sets[i];
	}
	for (size_t i = 0; set && i < set->count; i++) {
		const char *wf = set->items[i].name;

		if (p->cfg->poll.jobs)
			add_task(s, p, CIE_EP_JOBS, t->kind, t->branch, t->window,
				 wf, true);
		if (p->cfg->poll.last_runs && !run_queued(p, t->branch, wf)) {
			remember_run(p, t->branch, wf);
			add_task(s, p, CIE_EP_RUNS, t->kind, t->branch, t->window,
				 wf, true);
		}
	}
}

/* Move the items of page behind those of earlier pages. */
static bool merge_items(struct cie_summary_page *into, struct cie_summary_page *page)
{
	struct cie_summary *items;

	if (page->count == 0)
		return true;
	items = realloc(into->items, (into->count + page->count) * sizeof(*items));
	if (!items)
		return false;
	memcpy(items + into->count, page->items, page->count * sizeof(*items));
	into->items = items;
	into->count += page->count;
	page->count = 0;
	return true;
}

/* Store the complete answer of a task. */
static void store_result(struct cie_scheduler *s, struct task *t)
{
	struct project *p = t->p;
	bool ok = true;

	switch (t->endpoint) {
	case CIE_EP_PROJECT:
		plan_workflows(s, p);
		return;
	case CIE_EP_WORKFLOWS:
		filter_workflows(p, &t->items);
		ok = cie_store_put_workflows(p->data, t->branch, t->window, &t->items);
		if (ok)
			follow_workflows(s, t);
		break;
	case CIE_EP_JOBS:
		ok = cie_store_put_jobs(p->data, t->branch, t->window, t->workflow,
					&t->items);
		break;
	default:
		ok = cie_store_put_run(p->data, t->branch, t->workflow, &t->run);
		break;
	}
	if (!ok)
		project_error(p, t, "", "out of memory");
}

/* Parse a 2xx body; returns the next page token through *next. */
static enum cie_result parse_answer(struct task *t, char **next,
				    struct cie_error *err)
{
	struct cie_summary_page page;
	const char *body = t->req.body.data ? t->req.body.data : "";
	size_t len = t->req.body.len;
	enum cie_result result;

	*next = NULL;
	switch (t->endpoint) {
	case CIE_EP_PROJECT:
		return cie_parse_project(body, len, &t->p->data->default_branch, err);
	case CIE_EP_RUNS:
		/* The API lists runs newest first: the first page is enough. */
		return cie_parse_runs_page(body, len, &t->run, NULL, err);
	default:
		result = cie_parse_summary_page(body, len, &page, err);
		if (result != CIE_OK)
			return result;
		if (!merge_items(&t->items, &page)) {
			cie_summary_page_cleanup(&page);
			return cie_error_set(err, CIE_ERR_NOMEM, "items");
		}
		*next = page.next_page_token;
		page.next_page_token = NULL;
		cie_summary_page_cleanup(&page);
		return CIE_OK;
	}
}

static double backoff(unsigned attempt)
{
	double cap = BACKOFF_BASE * pow(2, attempt);

	if (cap > BACKOFF_CAP)
		cap = BACKOFF_CAP;
	/* Full jitter: anywhere between 0 and the capped exponential delay. */
	return cap * ((double)rand() / ((double)RAND_MAX + 1.0));
}

/* Retry a task after delay seconds, or fail it when out of retries. */
static void retry_or_fail(struct cie_scheduler *s, struct task *t, double delay,
			  const char *status, const char *message)
{
	if (t->attempt >= s->cfg->circleci.max_retries) {
		project_error(t->p, t, status, message);
		task_done(s, t);
		return;
	}
	t->attempt++;
	cie_stats_retry(t->endpoint);
	cie_log(CIE_LOG_DEBUG, "retrying request", "project", t->p->data->slug,
		"endpoint", cie_endpoint_name(t->endpoint), "status", status,
		"err", message, NULL);
	t->not_before = cie_time_mono() + delay;
	queue_front(s, t);
}

static void on_success(struct cie_scheduler *s, struct task *t,
		       const char *status)
{
	struct cie_error err = { 0 };
	enum cie_result result;
	char *next = NULL;

	result = parse_answer(t, &next, &err);
	cie_request_cleanup(&t->req);
	if (result != CIE_OK) {
		cie_stats_parse_error(t->endpoint);
		retry_or_fail(s, t, backoff(t->attempt), status, err.detail);
		return;
	}
	if (next && ++t->pages >= s->cfg->circleci.max_pages) {
		cie_stats_limit_hit(CIE_LIMIT_PAGES);
		cie_log(CIE_LOG_WARN,
			"page limit reached; the rest of the answer is dropped. Raise circleci.max_pages",
			"project", t->p->data->slug, "endpoint",
			cie_endpoint_name(t->endpoint), NULL);
		free(next);
		next = NULL;
	}
	if (next) {
		/* Fetch the next page at once, ahead of other tasks. */
		free(t->page_token);
		t->page_token = next;
		t->attempt = 0;
		t->not_before = 0;
		queue_front(s, t);
		return;
	}
	store_result(s, t);
	task_done(s, t);
}

static void on_answer(struct cie_scheduler *s, struct task *t)
{
	struct cie_request *r = &t->req;
	char status[16], message[256];
	double pause, now = cie_time_mono();

	t->p->requests++;
	cie_stats_request(t->endpoint, r->status, r->duration);
	if (r->rate_limit_remaining >= 0)
		cie_stats_set_rate_limit_remaining(r->rate_limit_remaining);
	snprintf(status, sizeof(status), "%ld", r->status);

	if (r->status == 0) {
		cie_request_cleanup(r);
		if (r->too_large) {
			cie_stats_limit_hit(CIE_LIMIT_RESPONSE_BYTES);
			project_error(t->p, t, "error",
				      "response larger than circleci.max_response_bytes");
			task_done(s, t);
			return;
		}
		retry_or_fail(s, t, backoff(t->attempt), "error", r->curl_message);
		return;
	}
	cie_parse_error_message(r->body.data, r->body.len, message, sizeof(message));
	if (r->status == 429) {
		cie_stats_rate_limited();
		pause = cie_bucket_throttled(&s->bucket, now,
					     r->retry_after >= 0 ? r->retry_after :
					     r->rate_limit_reset);
		cie_stats_set_request_rate(s->bucket.rate);
		snprintf(message + strlen(message), sizeof(message) - strlen(message),
			 "%srate limited; pausing all requests for %.3gs",
			 message[0] ? "; " : "", pause);
		cie_request_cleanup(r);
		retry_or_fail(s, t, pause, status, message);
		return;
	}
	cie_bucket_success(&s->bucket);
	cie_stats_set_request_rate(s->bucket.rate);
	if (r->status >= 500) {
		cie_request_cleanup(r);
		retry_or_fail(s, t, backoff(t->attempt), status, message);
		return;
	}
	if (r->status < 200 || r->status > 299) {
		if (r->status == 404 && t->endpoint == CIE_EP_PROJECT)
			snprintf(message + strlen(message), sizeof(message) - strlen(message),
				 "%sthe project may not exist, or the token may be a project token, which API v2 does not accept; use a personal API token",
				 message[0] ? "; " : "");
		cie_request_cleanup(r);
		project_error(t->p, t, status, message);
		task_done(s, t);
		return;
	}
	on_success(s, t, status);
}

/* Starting requests. */

static bool start_task(struct cie_scheduler *s, struct task *t)
{
	free(t->req.url);
	t->req.url = task_url(s, t);
	t->req.endpoint = t->endpoint;
	t->req.owner = t;
	if (!t->req.url || !cie_api_start(s->api, &t->req)) {
		project_error(t->p, t, "error", "cannot set up the request");
		task_done(s, t);
		return false;
	}
	s->flying[s->flying_count++] = t;
	return true;
}

/* Start queued tasks while the limits allow; return seconds until one may. */
static double start_requests(struct cie_scheduler *s, double now)
{
	double wait = 3600, delay;
	struct task **at;

	while (s->flying_count < s->cfg->circleci.max_concurrency) {
		struct task *ready = NULL;

		for (at = &s->queue; *at; at = &(*at)->next) {
			if ((*at)->not_before <= now) {
				ready = *at;
				break;
			}
			if ((*at)->not_before - now < wait)
				wait = (*at)->not_before - now;
		}
		if (!ready)
			return wait;
		delay = cie_bucket_delay(&s->bucket, now);
		if (delay > 0)
			return delay < wait ? delay : wait;
		cie_bucket_take(&s->bucket, now);
		*at = ready->next;
		ready->next = NULL;
		start_task(s, ready);
	}
	return wait;
}

static double start_due_refreshes(struct cie_scheduler *s, double now)
{
	double wait = 3600;

	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];

		if (p->removed || p->running)
			continue;
		if (p->due <= now)
			start_refresh(s, p);
		else if (p->due - now < wait)
			wait = p->due - now;
	}
	return wait;
}

static void remove_flying(struct cie_scheduler *s, const struct task *t)
{
	for (size_t i = 0; i < s->flying_count; i++) {
		if (s->flying[i] == t) {
			s->flying[i] = s->flying[--s->flying_count];
			return;
		}
	}
}

static void reap_removed(struct cie_scheduler *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];

		if (p->removed && p->pending == 0) {
			project_free(p);
			continue;
		}
		s->projects[kept++] = p;
	}
	s->project_count = kept;
}

void cie_scheduler_step(struct cie_scheduler *s, double max_wait, int wake_fd)
{
	struct cie_request *done[MAX_DONE];
	double now = cie_time_mono(), wait, w;
	size_t n;

	wait = start_due_refreshes(s, now);
	w = start_requests(s, now);
	if (w < wait)
		wait = w;
	if (wait > max_wait)
		wait = max_wait;
	if (cie_api_in_flight(s->api) == 0 && wait <= 0)
		return;

	n = cie_api_run(s->api, (int)ceil(wait * 1000), wake_fd, done, MAX_DONE);
	for (size_t i = 0; i < n; i++) {
		struct task *t = done[i]->owner;

		remove_flying(s, t);
		if (t->p->removed) {
			task_done(s, t);
			continue;
		}
		on_answer(s, t);
	}
	reap_removed(s);
}

/* Life cycle. */

static struct project **make_projects(const struct cie_config *cfg)
{
	struct project **list = calloc(cfg->project_count + 1, sizeof(*list));

	for (size_t i = 0; list && i < cfg->project_count; i++) {
		list[i] = project_new(&cfg->projects[i], i);
		if (!list[i]) {
			while (i-- > 0)
				project_free(list[i]);
			free(list);
			return NULL;
		}
	}
	return list;
}

/* Spread the projects' refreshes evenly over their interval. */
static void assign_phases(struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];

		p->phase = p->cfg->poll.interval * (double)i / (double)s->project_count;
	}
}

struct cie_scheduler *cie_scheduler_new(struct cie_config *cfg,
					const char *version,
					struct cie_error *err)
{
	struct cie_scheduler *s = calloc(1, sizeof(*s));
	double now = cie_time_mono();

	if (!s) {
		cie_config_free(cfg);
		cie_error_set(err, CIE_ERR_NOMEM, "scheduler");
		return NULL;
	}
	s->cfg = cfg;
	s->version = strdup(version);
	s->start = now;
	atomic_init(&s->ready, false);
	cie_bucket_init(&s->bucket, cfg->circleci.requests_per_second,
			cfg->circleci.burst, now);
	cie_stats_set_request_rate(s->bucket.rate);
	s->api = cie_api_new(cfg, version, err);
	s->projects = make_projects(cfg);
	s->flying = calloc(64, sizeof(*s->flying));
	if (!s->api || !s->projects || !s->flying || !s->version ||
	    !cie_render_stream_init(&s->stream)) {
		if (err && err->result == CIE_OK)
			cie_error_set(err, CIE_ERR_NOMEM, "scheduler");
		cie_scheduler_free(s);
		return NULL;
	}
	s->project_count = cfg->project_count;
	for (size_t i = 0; i < s->project_count; i++) {
		s->projects[i]->in_first_config = true;
		s->projects[i]->due = now;
	}
	assign_phases(s);
	srand((unsigned)(cie_time_now() * 1000));
	/* Serve the exporter's own metrics before the first refresh ends. */
	publish(s);
	return s;
}

static void drop_tasks(struct cie_scheduler *s)
{
	while (s->queue) {
		struct task *t = s->queue;

		s->queue = t->next;
		t->p->pending--;
		task_free(t);
	}
	for (size_t i = 0; i < s->flying_count; i++) {
		cie_api_cancel(s->api, &s->flying[i]->req);
		s->flying[i]->p->pending--;
		task_free(s->flying[i]);
	}
	s->flying_count = 0;
}

void cie_scheduler_free(struct cie_scheduler *s)
{
	if (!s)
		return;
	if (s->api)
		drop_tasks(s);
	for (size_t i = 0; s->projects && i < s->project_count; i++)
		project_free(s->projects[i]);
	free(s->projects);
	free(s->flying);
	cie_api_free(s->api);
	if (s->stream.state)
		deflateEnd(&s->stream);
	cie_config_free(s->cfg);
	free(s->version);
	free(s);
}

static struct project *find_project(struct cie_scheduler *s, const char *slug)
{
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed &&
		    strcmp(s->projects[i]->data->slug, slug) == 0)
			return s->projects[i];
	}
	return NULL;
}

/* Free the queued tasks of removed projects; the flying ones end by themselves. */
static void drop_queued_of_removed(struct cie_scheduler *s)
{
	struct task **at = &s->queue;

	while (*at) {
		struct task *t = *at;

		if (t->p->removed) {
			*at = t->next;
			t->p->pending--;
			task_free(t);
		} else {
			at = &t->next;
		}
	}
}

/* Cancel requests in flight and queue their tasks again, unchanged. */
static void requeue_flying(struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->flying_count; i++) {
		struct task *t = s->flying[i];

		cie_api_cancel(s->api, &t->req);
		queue_front(s, t);
	}
	s->flying_count = 0;
}

static bool api_settings_changed(const struct cie_config *a,
				 const struct cie_config *b)
{
	return strcmp(a->circleci.url, b->circleci.url) != 0 ||
	       strcmp(a->circleci.token, b->circleci.token) != 0 ||
	       a->circleci.timeout != b->circleci.timeout ||
	       a->circleci.max_response_bytes != b->circleci.max_response_bytes ||
	       a->circleci.max_concurrency != b->circleci.max_concurrency;
}

bool cie_scheduler_reload(struct cie_scheduler *s, struct cie_config *cfg,
			  struct cie_error *err)
{
	struct project **list = calloc(cfg->project_count + s->project_count + 1,
				       sizeof(*list));
	struct cie_api *api = NULL;
	size_t n = 0, live;

	if (api_settings_changed(s->cfg, cfg))
		api = cie_api_new(cfg, s->version, err);
	if (!list || (api_settings_changed(s->cfg, cfg) && !api)) {
		free(list);
		cie_api_free(api);
		cie_config_free(cfg);
		if (err && err->result == CIE_OK)
			cie_error_set(err, CIE_ERR_NOMEM, "reload");
		return false;
	}
	if (api) {
		requeue_flying(s);
		cie_api_free(s->api);
		s->api = api;
	}

	for (size_t i = 0; i < cfg->project_count; i++) {
		struct project *p = find_project(s, cfg->projects[i].slug);

		if (!p) {
			p = project_new(&cfg->projects[i], i);
			if (!p)
				continue;
			p->due = cie_time_mono();
		}
		p->cfg = &cfg->projects[i];
		p->index = i;
		list[n++] = p;
	}
	/* Projects no longer configured stay, marked, until their tasks end. */
	live = n;
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];
		bool kept = false;

		for (size_t j = 0; j < live && !kept; j++)
			kept = list[j] == p;
		if (!kept) {
			p->removed = true;
			list[n++] = p;
		}
	}
	free(s->projects);
	s->projects = list;
	s->project_count = n;
	drop_queued_of_removed(s);
	cie_bucket_configure(&s->bucket, cfg->circleci.requests_per_second,
			     cfg->circleci.burst, cie_time_mono());
	cie_stats_set_request_rate(s->bucket.rate);
	cie_config_free(s->cfg);
	s->cfg = cfg;
	reap_removed(s);
	publish(s);
	return true;
}

bool cie_scheduler_ready(const struct cie_scheduler *s)
{
	return atomic_load(&s->ready);
}

bool cie_scheduler_all_up(const struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed && !s->projects[i]->data->up)
			return false;
	}
	return true;
}
