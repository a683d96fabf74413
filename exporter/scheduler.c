/* SPDX-License-Identifier: MIT */
/*
 * Refresh scheduling, request pacing and retries.
 *
 * A refresh of a project is a set of tasks. A task is one logical request
 * (all pages of one endpoint for one branch, window and workflow); it
 * makes one HTTP exchange at a time. Tasks wait in one queue. A task is
 * started when fewer than max_concurrency are in flight, its retry time
 * has come and the token bucket has a token. Follow-up tasks (jobs and
 * runs of the workflows just listed) go to the front of the queue, so a
 * started refresh finishes before the next project's begins.
 *
 * Organizations are refreshed like projects: an organization entry's
 * tasks fetch its summary, one per reporting window, and its refresh adds
 * the projects the summary lists (discovery) and removes those it no
 * longer lists. Only shard 0 keeps and serves the organization series;
 * the other shards fetch one window for discovery alone.
 */
#include "scheduler.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api.h"
#include "branches.h"
#include "log.h"
#include "org.h"
#include "parse.h"
#include "ratelimit.h"
#include "render.h"
#include "shard.h"
#include "snapshot.h"
#include "stats.h"
#include "store.h"
#include "timeutil.h"

#define MAX_DONE 64
#define BACKOFF_BASE 0.5
#define BACKOFF_CAP 30.0
/* A project's branch list, for its branch globs, is fetched at most this often. */
#define BRANCH_LIST_MAX_AGE 3600.0

enum branch_kind {
	BRANCH_DEFAULT, /* no branch parameter; labelled with the default branch */
	BRANCH_NAMED,   /* branch=NAME */
	BRANCH_ALL,     /* all-branches=true; labelled "*" */
};

/*
 * An entry of the schedule: a project, configured or discovered, or an
 * organization (is_org), whose data then holds only its refresh state.
 */
struct project {
	const struct cie_project_config *cfg;  /* in s->cfg; NULL unless configured */
	const struct cie_poll_settings *poll;  /* in s->cfg: cfg's, else the organization's */
	struct cie_project_data *data;
	size_t index;
	bool discovered;         /* listed by its organization's summary */

	double due;              /* monotonic time of the next refresh */
	double phase;            /* offset in [0, interval) after the first pass */
	bool in_first_config;    /* counts for readiness */

	bool running;
	bool failed;
	double started;          /* monotonic */
	size_t pending;          /* tasks of this refresh not yet finished */
	unsigned requests;       /* HTTP exchanges of this refresh */
	unsigned last_requests;  /* of the last finished refresh */
	char **run_keys;         /* "branch\nworkflow": per-workflow tasks queued */
	size_t run_key_count;

	bool error_logged;       /* an error was logged since the last success */
	bool removed;            /* dropped by a reload; freed when idle */

	/* Branch globs. */
	unsigned setup_pending;  /* project and branch list lookups of this refresh */
	struct cie_string_list branch_list;  /* the project's branches, cached */
	double branches_fetched; /* monotonic; 0 = never */

	/* Caps that dropped data, each logged once until it no longer does. */
	bool branch_cap_logged;
	bool flaky_cap_logged;
	bool series_cap_logged;

	/* Organizations. */
	bool is_org;
	const struct cie_org_config *org_cfg;  /* with is_org, in s->cfg */
	struct cie_org_data *org_data;         /* with is_org on shard 0, else NULL */
	struct cie_string_list org_names;      /* all_projects of the last full refresh */
	bool org_names_known;
	struct cie_string_list new_org_names;  /* all_projects seen in this refresh */
	bool new_org_names_seen;
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
	struct cie_string_list branches;
	struct cie_flaky_report flaky;
	struct cie_workflow_trends trends;
	struct cie_test_metrics tests;
	struct cie_org_summary org;

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
	cie_string_list_cleanup(&t->branches);
	cie_flaky_report_cleanup(&t->flaky);
	cie_org_summary_cleanup(&t->org);
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
	switch (t->endpoint) {
	case CIE_EP_PROJECT:
		cie_buf_printf(&url, "/project/%s", t->p->data->slug);
		return cie_buf_detach(&url, NULL);
	case CIE_EP_BRANCHES:
		cie_buf_printf(&url, "/insights/%s/branches", t->p->data->slug);
		return cie_buf_detach(&url, NULL);
	case CIE_EP_FLAKY_TESTS:
		cie_buf_printf(&url, "/insights/%s/flaky-tests", t->p->data->slug);
		return cie_buf_detach(&url, NULL);
	case CIE_EP_ORG_SUMMARY:
		cie_buf_printf(&url, "/insights/%s/summary?reporting-window=%s",
			       t->p->data->slug, cie_window_name(t->window));
		return cie_buf_detach(&url, NULL);
	default:
		break;
	}
	cie_buf_printf(&url, "/insights/%s/workflows", t->p->data->slug);
	if (t->workflow) {
		cie_buf_putc(&url, '/');
		cie_percent_encode(&url, t->workflow);
	}
	if (t->endpoint == CIE_EP_JOBS)
		cie_buf_puts(&url, "/jobs");
	else if (t->endpoint == CIE_EP_SUMMARY)
		cie_buf_puts(&url, "/summary");
	else if (t->endpoint == CIE_EP_TEST_METRICS)
		cie_buf_puts(&url, "/test-metrics");
	/* Workflow summaries, test metrics and runs take no reporting window. */
	if (t->endpoint == CIE_EP_WORKFLOWS || t->endpoint == CIE_EP_JOBS) {
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
	cie_string_list_cleanup(&p->branch_list);
	cie_org_data_free(p->org_data);
	cie_string_list_cleanup(&p->org_names);
	cie_string_list_cleanup(&p->new_org_names);
	free(p);
}

/* A new entry for slug polled with the settings poll (borrowed). */
static struct project *entry_new(const char *slug,
				 const struct cie_poll_settings *poll)
{
	struct project *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->poll = poll;
	p->data = cie_project_data_new(slug);
	if (!p->data) {
		free(p);
		return NULL;
	}
	return p;
}

static struct project *project_new(const struct cie_project_config *cfg,
				   size_t index)
{
	struct project *p = entry_new(cfg->slug, &cfg->poll);

	if (!p)
		return NULL;
	p->cfg = cfg;
	p->index = index;
	return p;
}

/* Return true when this exporter fetches the organization's summary. */
static bool org_needed(const struct cie_config *cfg,
		       const struct cie_org_config *org)
{
	return cfg->sharding.index == 0 || org->discover_projects;
}

/* Point an organization entry at org, keeping its series only on shard 0. */
static bool org_entry_configure(struct project *p, const struct cie_config *cfg,
				const struct cie_org_config *org)
{
	p->org_cfg = org;
	p->poll = &org->poll;
	if (cfg->sharding.index != 0) {
		cie_org_data_free(p->org_data);
		p->org_data = NULL;
	} else if (!p->org_data) {
		p->org_data = cie_org_data_new(org->slug);
	}
	return cfg->sharding.index != 0 || p->org_data;
}

static struct project *org_entry_new(const struct cie_config *cfg,
				     const struct cie_org_config *org)
{
	struct project *p = entry_new(org->slug, &org->poll);

	if (!p)
		return NULL;
	p->is_org = true;
	if (!org_entry_configure(p, cfg, org)) {
		project_free(p);
		return NULL;
	}
	return p;
}

/* The log field that names an entry: "project" or "org". */
static const char *entry_key(const struct project *p)
{
	return p->is_org ? "org" : "project";
}

/* Log a failure at warn level once per project until it succeeds again. */
static void project_error(struct project *p, const struct task *t,
			  const char *status, const char *message)
{
	enum cie_log_level level = p->error_logged ? CIE_LOG_DEBUG : CIE_LOG_WARN;

	p->failed = true;
	p->error_logged = true;
	cie_log(level, "request failed", entry_key(p), p->data->slug, "endpoint",
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
		cie_log(CIE_LOG_ERROR, "out of memory", entry_key(p), p->data->slug,
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

/*
 * The branch entries the project polls: the configured names and "*",
 * then the branches its globs match in the cached branch list.
 */
static bool plan_branches(const struct cie_scheduler *s, const struct project *p,
			  struct cie_string_list *out)
{
	size_t dropped;

	return cie_branches_expand(p->poll, &p->branch_list,
				   s->cfg->limits.max_branches_per_project, out,
				   &dropped);
}

/*
 * Queue the workflows tasks of every (branch, window) of the project, and
 * its flaky tests. They go to the front when they follow lookups of a
 * refresh already under way. Otherwise they go to the back, behind the
 * refreshes that started earlier, so that projects refreshed often cannot
 * starve the others.
 */
static void plan_workflows(struct cie_scheduler *s, struct project *p,
			   bool front)
{
	const struct cie_poll_settings *poll = p->poll;
	struct cie_string_list branches;

	if (!plan_branches(s, p, &branches)) {
		cie_log(CIE_LOG_ERROR, "out of memory", "project", p->data->slug, NULL);
		p->failed = true;
		return;
	}
	if (poll->flaky_tests)
		add_task(s, p, CIE_EP_FLAKY_TESTS, BRANCH_DEFAULT, NULL,
			 CIE_WINDOW_7D, NULL, front);
	for (int w = 0; w < CIE_WINDOW_COUNT; w++) {
		if (!(poll->windows & (1u << w)))
			continue;
		if (poll->branch_count == 0 && p->data->default_branch)
			add_task(s, p, CIE_EP_WORKFLOWS, BRANCH_DEFAULT,
				 p->data->default_branch, (enum cie_window)w,
				 NULL, front);
		for (size_t b = 0; b < branches.count; b++)
			add_task(s, p, CIE_EP_WORKFLOWS,
				 kind_of(branches.items[b]),
				 branch_label(p, kind_of(branches.items[b]),
					      branches.items[b]),
				 (enum cie_window)w, NULL, front);
	}
	cie_string_list_cleanup(&branches);
}

/*
 * Queue the summary tasks of an organization: every window on shard 0;
 * on other shards one window, whose all_projects serves discovery.
 */
static void plan_org(struct cie_scheduler *s, struct project *p)
{
	cie_string_list_cleanup(&p->new_org_names);
	p->new_org_names_seen = false;
	for (int w = 0; w < CIE_WINDOW_COUNT; w++) {
		if (!(p->poll->windows & (1u << w)))
			continue;
		add_task(s, p, CIE_EP_ORG_SUMMARY, BRANCH_DEFAULT, NULL,
			 (enum cie_window)w, NULL, false);
		if (!p->org_data)
			break;
	}
}

/* True when the project has branch globs and its branch list is stale. */
static bool branch_list_stale(const struct project *p)
{
	return cie_branches_have_glob(p->poll) &&
	       (p->branches_fetched <= 0 ||
		cie_time_mono() - p->branches_fetched >= BRANCH_LIST_MAX_AGE);
}

static void finish_refresh(struct cie_scheduler *s, struct project *p);

static void start_refresh(struct cie_scheduler *s, struct project *p)
{
	p->running = true;
	p->failed = false;
	p->started = cie_time_mono();
	p->requests = 0;
	p->setup_pending = 0;
	project_clear_run_keys(p);
	cie_log(CIE_LOG_DEBUG, "refresh started", entry_key(p), p->data->slug, NULL);
	if (p->is_org) {
		plan_org(s, p);
	} else {
		/* Workflows are planned once these lookups end (see task_done). */
		if (!p->data->default_branch &&
		    add_task(s, p, CIE_EP_PROJECT, BRANCH_DEFAULT, NULL,
			     CIE_WINDOW_7D, NULL, false))
			p->setup_pending++;
		if (branch_list_stale(p) &&
		    add_task(s, p, CIE_EP_BRANCHES, BRANCH_DEFAULT, NULL,
			     CIE_WINDOW_7D, NULL, false))
			p->setup_pending++;
		if (p->setup_pending == 0 && p->data->default_branch)
			plan_workflows(s, p, false);
	}
	/* Nothing to request (no window or branch matched): finish at once. */
	if (p->pending == 0)
		finish_refresh(s, p);
}

/* Scheduling. */

/* Requests per second that a full cycle needs, from each project's last refresh. */
static double cycle_load(const struct cie_scheduler *s)
{
	double load = 0;

	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed)
			load += s->projects[i]->last_requests /
				s->projects[i]->poll->interval;
	}
	return load;
}

/* The project's interval, stretched by the overload ratio when load exceeds the rate. */
static double effective_interval(const struct cie_scheduler *s,
				 const struct project *p, double load)
{
	if (load <= s->cfg->circleci.requests_per_second)
		return p->poll->interval;
	return p->poll->interval * load / s->cfg->circleci.requests_per_second;
}

/*
 * Log and export whether a full cycle's requests (load per second) fit in
 * the interval at the configured rate; logged when the state changes.
 */
static void check_overload(struct cie_scheduler *s, double load)
{
	char text[64];
	bool overloaded = load > s->cfg->circleci.requests_per_second;

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
	const struct cie_fragment **fragments = calloc(s->project_count + 1,
						       sizeof(*fragments));
	struct cie_snapshot *snap;
	size_t n = 0;

	if (!fragments)
		return;
	/* The projects' fragments first, then the organizations'. */
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed && !s->projects[i]->is_org)
			fragments[n++] = &s->projects[i]->data->fragment;
	}
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed && s->projects[i]->org_data)
			fragments[n++] = &s->projects[i]->org_data->fragment;
	}
	snap = cie_snapshot_build_fragments(fragments, n);
	free(fragments);
	if (snap)
		cie_serve_publish(snap);
	else
		cie_log(CIE_LOG_ERROR, "out of memory building the snapshot", NULL);
}

static void update_ready(struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->project_count; i++) {
		const struct project *p = s->projects[i];

		if (p->in_first_config && !p->removed && !p->data->refreshed)
			return;
	}
	atomic_store(&s->ready, true);
}

/* Remove the project data that the config no longer selects. */
static void prune_project(struct cie_scheduler *s, struct project *p)
{
	const struct cie_poll_settings *poll = p->poll;
	struct cie_project_data *d = p->data;
	struct cie_string_list branches;
	char **labels;
	size_t n = 0;

	if (!plan_branches(s, p, &branches))
		return;
	labels = calloc(branches.count + 1, sizeof(*labels));
	if (labels) {
		if (poll->branch_count == 0 && d->default_branch)
			labels[n++] = d->default_branch;
		for (size_t b = 0; b < branches.count; b++)
			labels[n++] = (char *)(uintptr_t)branch_label(p,
				kind_of(branches.items[b]), branches.items[b]);
		cie_store_prune(d, labels, n, poll->windows, poll->jobs,
				poll->last_runs);
		cie_store_prune_extras(d, poll->flaky_tests, poll->trends,
				       poll->test_metrics);
	}
	free(labels);
	cie_string_list_cleanup(&branches);
}

static void sync_discovered(struct cie_scheduler *s, struct project *org,
			    bool first);

/*
 * End an organization's refresh: adopt the project list it fetched when
 * every request succeeded, drop windows no longer configured, and update
 * the discovered projects.
 */
static void finish_org(struct cie_scheduler *s, struct project *p, bool first)
{
	if (!p->failed && p->new_org_names_seen) {
		cie_string_list_cleanup(&p->org_names);
		p->org_names = p->new_org_names;
		memset(&p->new_org_names, 0, sizeof(p->new_org_names));
		p->org_names_known = true;
	}
	cie_string_list_cleanup(&p->new_org_names);
	p->new_org_names_seen = false;
	if (p->org_data)
		cie_store_prune_org(p->org_data, p->poll->windows);
	sync_discovered(s, p, first && p->in_first_config);
}

/*
 * The series that fragment self may render within limits.max_series_per_org:
 * the limit minus what the organization's other projects and its summary
 * have rendered. Counted per exporter: each shard has its own budget.
 */
static size_t org_budget(const struct cie_scheduler *s, const char *org_slug,
			 const struct cie_fragment *self)
{
	size_t used = 0, max = s->cfg->limits.max_series_per_org;

	for (size_t i = 0; i < s->project_count; i++) {
		const struct project *q = s->projects[i];
		const struct cie_fragment *fr = NULL;

		if (q->removed)
			continue;
		if (q->is_org && q->org_data && strcmp(q->data->slug, org_slug) == 0)
			fr = &q->org_data->fragment;
		else if (!q->is_org && cie_org_contains(org_slug, q->data->slug))
			fr = &q->data->fragment;
		if (fr && fr != self)
			used += fr->series;
	}
	return used >= max ? 0 : max - used;
}

/* Set *cap to the series the project may render; return the limit that sets it. */
static enum cie_limit project_series_cap(const struct cie_scheduler *s,
					 const struct project *p, size_t *cap)
{
	const struct cie_config *cfg = s->cfg;
	size_t budget;

	*cap = cfg->limits.max_series_per_project;
	for (size_t i = 0; i < cfg->org_count; i++) {
		if (!cie_org_contains(cfg->orgs[i].slug, p->data->slug))
			continue;
		budget = org_budget(s, cfg->orgs[i].slug, &p->data->fragment);
		if (budget < *cap) {
			*cap = budget;
			return CIE_LIMIT_SERIES_PER_ORG;
		}
		break;
	}
	return CIE_LIMIT_SERIES_PER_PROJECT;
}

/* Count and log (once until it stops) series that a cap left out. */
static void note_series_cap(struct project *p, size_t dropped,
			    enum cie_limit limit)
{
	char text[32];

	if (dropped == 0) {
		p->series_cap_logged = false;
		return;
	}
	cie_stats_limit_hit(limit);
	if (p->series_cap_logged)
		return;
	p->series_cap_logged = true;
	snprintf(text, sizeof(text), "%zu", dropped);
	cie_log(CIE_LOG_WARN, limit == CIE_LIMIT_SERIES_PER_ORG ?
		"series limit of the organization reached; the rest of the series are dropped. Raise limits.max_series_per_org or poll less" :
		"series limit of the project reached; the rest of its series are dropped. Raise limits.max_series_per_project or poll less",
		entry_key(p), p->data->slug, "dropped", text, NULL);
}

/* Render the entry's fragment within its series limits. */
static void render_entry(struct cie_scheduler *s, struct project *p)
{
	struct cie_fragment *fr;
	enum cie_limit limit;
	bool ok;

	if (p->is_org && !p->org_data)
		return;
	if (p->is_org) {
		limit = CIE_LIMIT_SERIES_PER_ORG;
		p->org_data->series_limited = true;
		p->org_data->max_series = org_budget(s, p->data->slug,
						     &p->org_data->fragment);
		ok = cie_render_org(p->org_data, &s->stream);
		fr = &p->org_data->fragment;
	} else {
		limit = project_series_cap(s, p, &p->data->max_series);
		p->data->series_limited = true;
		ok = cie_render_project(p->data, &s->stream);
		fr = &p->data->fragment;
	}
	if (!ok) {
		cie_log(CIE_LOG_ERROR, "out of memory rendering", entry_key(p),
			p->data->slug, NULL);
		return;
	}
	note_series_cap(p, fr->dropped, limit);
}

static void finish_refresh(struct cie_scheduler *s, struct project *p)
{
	struct cie_project_data *d = p->data;
	double now = cie_time_mono(), interval, load;
	bool first = !d->refreshed;

	p->running = false;
	p->last_requests = p->requests;
	d->refreshed = true;
	d->up = !p->failed;
	d->refresh_duration = now - p->started;
	if (!p->failed) {
		d->last_success = cie_time_now();
		if (p->error_logged)
			cie_log(CIE_LOG_INFO, p->is_org ?
				"organization refreshed successfully again" :
				"project refreshed successfully again",
				entry_key(p), d->slug, NULL);
		p->error_logged = false;
	}

	/* Drop what the config no longer requests. */
	if (p->is_org)
		finish_org(s, p, first);
	else
		prune_project(s, p);

	load = cycle_load(s);
	check_overload(s, load);
	interval = effective_interval(s, p, load);
	if (p->due < s->start + 1e-9 || p->due + interval < now)
		p->due = s->start + interval + p->phase;
	else
		p->due += interval;
	while (p->due < now)
		p->due += interval;
	d->next_refresh = cie_time_now() + (p->due - now);

	render_entry(s, p);
	publish(s);
	update_ready(s);
	cie_log(CIE_LOG_DEBUG, "refresh finished", entry_key(p), d->slug, "up",
		d->up ? "1" : "0", NULL);
}

static void task_done(struct cie_scheduler *s, struct task *t)
{
	struct project *p = t->p;
	bool setup = t->endpoint == CIE_EP_PROJECT ||
		     t->endpoint == CIE_EP_BRANCHES;

	task_free(t);
	/*
	 * Plan the workflows once the project and branch list lookups have
	 * ended, successfully or not: a failed branch list lookup leaves the
	 * cached list in use. Without a default branch (the project lookup
	 * failed) nothing is planned.
	 */
	if (setup && p->running && !p->removed && --p->setup_pending == 0 &&
	    p->data->default_branch)
		plan_workflows(s, p, true);
	if (--p->pending == 0 && p->running && !p->removed)
		finish_refresh(s, p);
}

/* Responses. */

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
		if (!cie_name_filter_match(&p->poll->workflows, page->items[i].name)) {
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

		if (p->poll->jobs)
			add_task(s, p, CIE_EP_JOBS, t->kind, t->branch, t->window,
				 wf, true);
		/* Once per (branch, workflow) and refresh, not per window. */
		if (run_queued(p, t->branch, wf))
			continue;
		remember_run(p, t->branch, wf);
		if (p->poll->last_runs)
			add_task(s, p, CIE_EP_RUNS, t->kind, t->branch, t->window,
				 wf, true);
		if (p->poll->trends)
			add_task(s, p, CIE_EP_SUMMARY, t->kind, t->branch, t->window,
				 wf, true);
		if (p->poll->test_metrics)
			add_task(s, p, CIE_EP_TEST_METRICS, t->kind, t->branch,
				 t->window, wf, true);
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

/* Keep the project's branch list; count and log when its globs match too many. */
static void store_branch_list(struct cie_scheduler *s, struct project *p,
			      struct cie_string_list *list)
{
	struct cie_string_list plan;
	size_t dropped = 0;
	char text[32];

	cie_string_list_cleanup(&p->branch_list);
	p->branch_list = *list;
	memset(list, 0, sizeof(*list));
	p->branches_fetched = cie_time_mono();
	if (!cie_branches_expand(p->poll, &p->branch_list,
				 s->cfg->limits.max_branches_per_project, &plan,
				 &dropped))
		return;
	cie_string_list_cleanup(&plan);
	if (dropped == 0) {
		p->branch_cap_logged = false;
		return;
	}
	cie_stats_limit_hit(CIE_LIMIT_BRANCHES);
	if (p->branch_cap_logged)
		return;
	p->branch_cap_logged = true;
	snprintf(text, sizeof(text), "%zu", dropped);
	cie_log(CIE_LOG_WARN,
		"branch globs match more branches than limits.max_branches_per_project; the last ones in sorted order are not polled. Narrow the globs or raise the limit",
		"project", p->data->slug, "dropped", text, NULL);
}

static void store_flaky_tests(struct cie_scheduler *s, struct project *p,
			      struct cie_flaky_report *report)
{
	size_t dropped = cie_store_put_flaky(p->data, report,
					     s->cfg->limits.max_flaky_tests_per_project);
	char text[32];

	if (dropped == 0) {
		p->flaky_cap_logged = false;
		return;
	}
	cie_stats_limit_hit(CIE_LIMIT_FLAKY_TESTS);
	if (p->flaky_cap_logged)
		return;
	p->flaky_cap_logged = true;
	snprintf(text, sizeof(text), "%zu", dropped);
	cie_log(CIE_LOG_INFO,
		"more flaky tests than limits.max_flaky_tests_per_project; only the most flaky are exported",
		"project", p->data->slug, "dropped", text, NULL);
}

/* Move the names of from that into does not contain yet to the end of into. */
static bool merge_names(struct cie_string_list *into, struct cie_string_list *from)
{
	for (size_t i = 0; i < from->count; i++) {
		bool known = false;
		char **items;

		for (size_t j = 0; j < into->count && !known; j++)
			known = strcmp(into->items[j], from->items[i]) == 0;
		if (known)
			continue;
		items = realloc(into->items, (into->count + 1) * sizeof(*items));
		if (!items)
			return false;
		into->items = items;
		into->items[into->count++] = from->items[i];
		from->items[i] = NULL;
	}
	return true;
}

/* Keep an organization summary and collect its project list for discovery. */
static bool store_org_summary(struct project *p, struct task *t)
{
	if (t->org.has_all_projects && p->org_cfg->discover_projects) {
		if (!merge_names(&p->new_org_names, &t->org.all_projects))
			return false;
		p->new_org_names_seen = true;
	}
	if (p->org_data)
		return cie_store_put_org_summary(p->org_data, t->window, &t->org);
	return true;
}

/* Store the complete response of a task. */
static void store_result(struct cie_scheduler *s, struct task *t)
{
	struct project *p = t->p;
	bool ok = true;

	switch (t->endpoint) {
	case CIE_EP_PROJECT:
		return;
	case CIE_EP_BRANCHES:
		store_branch_list(s, p, &t->branches);
		return;
	case CIE_EP_FLAKY_TESTS:
		store_flaky_tests(s, p, &t->flaky);
		return;
	case CIE_EP_SUMMARY:
		ok = cie_store_put_trends(p->data, t->branch, t->workflow, &t->trends);
		break;
	case CIE_EP_TEST_METRICS:
		ok = cie_store_put_test_metrics(p->data, t->branch, t->workflow,
						&t->tests);
		break;
	case CIE_EP_ORG_SUMMARY:
		ok = store_org_summary(p, t);
		break;
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
	case CIE_EP_BRANCHES:
		return cie_parse_branches(body, len, &t->branches, err);
	case CIE_EP_FLAKY_TESTS:
		return cie_parse_flaky_tests(body, len, &t->flaky, err);
	case CIE_EP_SUMMARY:
		return cie_parse_workflow_trends(body, len, &t->trends, err);
	case CIE_EP_TEST_METRICS:
		return cie_parse_test_metrics(body, len, &t->tests, err);
	case CIE_EP_ORG_SUMMARY:
		return cie_parse_org_summary(body, len, &t->org, err);
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
	cie_log(CIE_LOG_DEBUG, "retrying request", entry_key(t->p), t->p->data->slug,
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
			entry_key(t->p), t->p->data->slug, "endpoint",
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

/* Describe an error response that has no JSON message: its start, or empty. */
static void describe_body(const struct cie_request *r, char *out, size_t size)
{
	size_t n = r->body.len < 80 ? r->body.len : 80;

	if (n == 0) {
		snprintf(out, size, "empty answer");
		return;
	}
	snprintf(out, size, "answer without a message, starting \"%.*s\"", (int)n,
		 r->body.data);
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	}
}

/* Log that a 429 starts a pause of every request. */
static void log_pause(const struct task *t, double pause, double rate)
{
	char seconds[32], per_second[32];

	snprintf(seconds, sizeof(seconds), "%.3g", pause);
	snprintf(per_second, sizeof(per_second), "%.3g", rate);
	cie_log(CIE_LOG_INFO,
		"rate limited by the CircleCI API; pausing all requests, then slowing down",
		"project", t->p->data->slug, "endpoint",
		cie_endpoint_name(t->endpoint), "pause_seconds", seconds,
		"requests_per_second", per_second, NULL);
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
			snprintf(message, sizeof(message),
				 "response larger than circleci.max_response_bytes (%zu bytes); raise it",
				 s->cfg->circleci.max_response_bytes);
			project_error(t->p, t, "error", message);
			task_done(s, t);
			return;
		}
		retry_or_fail(s, t, backoff(t->attempt), "error", r->curl_message);
		return;
	}
	cie_parse_error_message(r->body.data, r->body.len, message, sizeof(message));
	if (!message[0] && (r->status < 200 || r->status > 299))
		describe_body(r, message, sizeof(message));
	if (r->status == 429) {
		bool paused = now < s->bucket.pause_until;

		cie_stats_rate_limited();
		pause = cie_bucket_throttled(&s->bucket, now,
					     r->retry_after >= 0 ? r->retry_after :
					     r->rate_limit_reset);
		cie_stats_set_request_rate(s->bucket.rate);
		if (!paused)
			log_pause(t, pause, s->bucket.rate);
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
		else if (r->status == 401 || r->status == 403)
			snprintf(message + strlen(message), sizeof(message) - strlen(message),
				 "%sthe token may be invalid, revoked or without access to the project; check circleci.token",
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

/*
 * Create the entries that this shard polls: the organizations first, so
 * that discovery starts early, then the configured projects of the shard.
 * *count receives their number.
 */
static struct project **make_projects(const struct cie_config *cfg,
				      size_t *count)
{
	struct project **list = calloc(cfg->org_count + cfg->project_count + 1,
				       sizeof(*list));
	size_t n = 0;

	*count = 0;
	if (!list)
		return NULL;
	for (size_t i = 0; i < cfg->org_count; i++) {
		if (!org_needed(cfg, &cfg->orgs[i]))
			continue;
		list[n] = org_entry_new(cfg, &cfg->orgs[i]);
		if (!list[n++])
			goto fail;
	}
	for (size_t i = 0; i < cfg->project_count; i++) {
		if (!cie_shard_owns(cfg->sharding.total, cfg->sharding.index,
				    cfg->projects[i].slug))
			continue;
		list[n] = project_new(&cfg->projects[i], i);
		if (!list[n++])
			goto fail;
	}
	*count = n;
	return list;
fail:
	while (n-- > 0)
		project_free(list[n]);
	free(list);
	return NULL;
}

/* Spread the entries' refreshes evenly over their interval. */
static void assign_phases(struct cie_scheduler *s)
{
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];

		if (!p->removed)
			p->phase = p->poll->interval * (double)i /
				   (double)s->project_count;
	}
}

static void log_shard(const struct cie_scheduler *s)
{
	char shard[32], entries[32];

	if (s->cfg->sharding.total <= 1)
		return;
	snprintf(shard, sizeof(shard), "%u/%u", s->cfg->sharding.index,
		 s->cfg->sharding.total);
	snprintf(entries, sizeof(entries), "%zu", s->project_count);
	cie_log(CIE_LOG_INFO,
		"sharding: polling the configured projects and organizations of this shard; discovered projects follow",
		"shard", shard, "entries", entries, NULL);
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
	s->projects = make_projects(cfg, &s->project_count);
	s->flying = calloc(64, sizeof(*s->flying));
	if (!s->api || !s->projects || !s->flying || !s->version ||
	    !cie_render_stream_init(&s->stream)) {
		if (err && err->result == CIE_OK)
			cie_error_set(err, CIE_ERR_NOMEM, "scheduler");
		cie_scheduler_free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->project_count; i++) {
		s->projects[i]->in_first_config = true;
		s->projects[i]->due = now;
	}
	assign_phases(s);
	srand((unsigned)(cie_time_now() * 1000));
	log_shard(s);
	/* Serve the exporter's own metrics before the first refresh ends. */
	publish(s);
	/* A shard that owns nothing is ready at once. */
	update_ready(s);
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

/* The project, configured or discovered, of slug; NULL when not polled. */
static struct project *find_project(struct cie_scheduler *s, const char *slug)
{
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed && !s->projects[i]->is_org &&
		    strcmp(s->projects[i]->data->slug, slug) == 0)
			return s->projects[i];
	}
	return NULL;
}

static struct project *find_org(struct cie_scheduler *s, const char *slug)
{
	for (size_t i = 0; i < s->project_count; i++) {
		if (!s->projects[i]->removed && s->projects[i]->is_org &&
		    strcmp(s->projects[i]->data->slug, slug) == 0)
			return s->projects[i];
	}
	return NULL;
}

/* The configured organization that the project slug belongs to, or NULL. */
static const struct cie_org_config *org_of(const struct cie_config *cfg,
					   const char *slug)
{
	for (size_t i = 0; i < cfg->org_count; i++) {
		if (cie_org_contains(cfg->orgs[i].slug, slug))
			return &cfg->orgs[i];
	}
	return NULL;
}

/* Free the queued tasks of removed projects; the flying ones end by themselves. */
static void drop_queued_of_removed(struct cie_scheduler *s);

static bool string_listed(const struct cie_string_list *list, const char *text)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i], text) == 0)
			return true;
	}
	return false;
}

/* Mark as removed the discovered projects of org that are missing from wanted. */
static bool drop_undiscovered(struct cie_scheduler *s, const struct project *org,
			      const struct cie_string_list *wanted)
{
	bool changed = false;

	for (size_t i = 0; i < s->project_count; i++) {
		struct project *q = s->projects[i];

		if (q->removed || !q->discovered ||
		    !cie_org_contains(org->data->slug, q->data->slug) ||
		    string_listed(wanted, q->data->slug))
			continue;
		q->removed = true;
		q->poll = NULL;
		changed = true;
		cie_log(CIE_LOG_INFO,
			"project no longer discovered; its series are dropped",
			"project", q->data->slug, "org", org->data->slug, NULL);
	}
	return changed;
}

/*
 * Add a project discovered in org's summary, due at once. first: it was
 * discovered by the organization's first refresh, so it counts for
 * readiness.
 */
static bool add_discovered(struct cie_scheduler *s, const struct project *org,
			   const char *slug, bool first)
{
	struct project **list = realloc(s->projects,
					(s->project_count + 2) * sizeof(*list));
	struct project *p;

	if (!list)
		return false;
	s->projects = list;
	p = entry_new(slug, &org->org_cfg->poll);
	if (!p)
		return false;
	p->discovered = true;
	p->in_first_config = first;
	/* Due now; finish_refresh() aligns it to its phase afterwards. */
	p->due = s->start;
	p->index = s->project_count;
	s->projects[s->project_count++] = p;
	cie_log(CIE_LOG_INFO, "project discovered", "project", slug, "org",
		org->data->slug, NULL);
	return true;
}

/*
 * Make the discovered projects of the organization entry org match its
 * last project list: add those it lists that this exporter polls, remove
 * those it no longer lists. Until a list is known, nothing changes.
 */
static void sync_discovered(struct cie_scheduler *s, struct project *org,
			    bool first)
{
	struct cie_string_list wanted = { 0 };
	bool changed;

	if (org->org_cfg->discover_projects) {
		if (!org->org_names_known)
			return;
		if (!cie_org_discover(s->cfg, org->org_cfg, &org->org_names,
				      &wanted)) {
			cie_log(CIE_LOG_ERROR, "out of memory", "org",
				org->data->slug, NULL);
			return;
		}
	}
	changed = drop_undiscovered(s, org, &wanted);
	for (size_t i = 0; i < wanted.count; i++) {
		if (!find_project(s, wanted.items[i]) &&
		    add_discovered(s, org, wanted.items[i], first))
			changed = true;
	}
	cie_string_list_cleanup(&wanted);
	if (changed) {
		drop_queued_of_removed(s);
		assign_phases(s);
	}
}

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

/*
 * Put into list (from index n on) the organization entries the new config
 * cfg needs, kept or new, pointed at cfg. Returns the new length.
 */
static size_t reload_orgs(struct cie_scheduler *s, const struct cie_config *cfg,
			  struct project **list, size_t n)
{
	for (size_t i = 0; i < cfg->org_count; i++) {
		const struct cie_org_config *org = &cfg->orgs[i];
		struct project *p;

		if (!org_needed(cfg, org))
			continue;
		p = find_org(s, org->slug);
		if (!p) {
			p = org_entry_new(cfg, org);
			if (!p)
				continue;
			p->due = cie_time_mono();
		} else if (!org_entry_configure(p, cfg, org)) {
			continue;
		}
		list[n++] = p;
	}
	return n;
}

/*
 * Put into list the discovered projects whose organization still
 * discovers projects in cfg, pointed at its settings; sync_discovered()
 * then drops those it no longer wants. Returns the new length.
 */
static size_t keep_discovered(struct cie_scheduler *s,
			      const struct cie_config *cfg,
			      struct project **list, size_t n)
{
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];
		const struct cie_org_config *org;

		if (p->removed || !p->discovered)
			continue;
		org = org_of(cfg, p->data->slug);
		if (!org || !org->discover_projects || !org_needed(cfg, org))
			continue;
		p->poll = &org->poll;
		list[n++] = p;
	}
	return n;
}

bool cie_scheduler_reload(struct cie_scheduler *s, struct cie_config *cfg,
			  struct cie_error *err)
{
	struct project **list = calloc(cfg->org_count + cfg->project_count +
				       s->project_count + 1, sizeof(*list));
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

	n = reload_orgs(s, cfg, list, n);
	for (size_t i = 0; i < cfg->project_count; i++) {
		struct project *p;

		if (!cie_shard_owns(cfg->sharding.total, cfg->sharding.index,
				    cfg->projects[i].slug))
			continue;
		/* A discovered project that is now configured keeps its data. */
		p = find_project(s, cfg->projects[i].slug);
		if (!p) {
			p = project_new(&cfg->projects[i], i);
			if (!p)
				continue;
			p->due = cie_time_mono();
		}
		p->cfg = &cfg->projects[i];
		p->poll = &cfg->projects[i].poll;
		p->discovered = false;
		p->index = i;
		list[n++] = p;
	}
	n = keep_discovered(s, cfg, list, n);
	/* Entries no longer configured stay, marked, until their tasks end. */
	live = n;
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];
		bool kept = false;

		for (size_t j = 0; j < live && !kept; j++)
			kept = list[j] == p;
		if (!kept) {
			/* Its config entry is freed below; nothing may read it now. */
			p->removed = true;
			p->cfg = NULL;
			p->poll = NULL;
			p->org_cfg = NULL;
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
	for (size_t i = 0; i < s->project_count; i++) {
		struct project *p = s->projects[i];

		if (p->removed || !p->is_org)
			continue;
		sync_discovered(s, p, false);
		/* Windows no longer configured go now, not at the next refresh. */
		if (p->org_data) {
			cie_store_prune_org(p->org_data, p->poll->windows);
			render_entry(s, p);
		}
	}
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
