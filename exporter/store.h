/* SPDX-License-Identifier: MIT */
/*
 * The metric store: the latest good values of one project, per (branch,
 * window, workflow, job), and the state of its refreshes. It also keeps
 * the latest summaries of one organization. A failed request changes
 * nothing here. A successful response replaces what its endpoint produced,
 * so a workflow or job that is gone from it is removed. Each project and organization also
 * keeps its rendered exposition fragments (see render.h).
 *
 * Not thread-safe: a project's data is changed and rendered by the
 * scheduler thread only.
 */
#ifndef CIE_STORE_H
#define CIE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "parse.h"
#include "render.h"

/* Workflow summaries of one (branch, window), sorted by name. */
struct cie_workflow_set {
	char *branch;                 /* owned label value */
	enum cie_window window;
	struct cie_summary *items;    /* owned */
	size_t count;
};

/* Job summaries of one (branch, window, workflow), sorted by name. */
struct cie_job_set {
	char *branch;
	enum cie_window window;
	char *workflow;
	struct cie_summary *items;
	size_t count;
};

/* The newest finished run of one (branch, workflow). */
struct cie_run_entry {
	char *branch;
	char *workflow;
	struct cie_last_run run;
};

/* The (branch, workflow) that per-workflow data belongs to. */
struct cie_workflow_key {
	char *branch;                 /* owned label value */
	char *workflow;               /* owned */
};

/* The workflow summary trends of one (branch, workflow). */
struct cie_trend_entry {
	struct cie_workflow_key key;  /* first: entries are handled as keys */
	struct cie_workflow_trends trends;
};

/* The test metrics of one (branch, workflow). */
struct cie_test_entry {
	struct cie_workflow_key key;  /* first: entries are handled as keys */
	struct cie_test_metrics metrics;
};

struct cie_project_data {
	char *slug;                   /* owned copy of the configured slug */
	char *default_branch;         /* owned; NULL until looked up */

	struct cie_workflow_set *workflow_sets;
	size_t workflow_set_count;
	struct cie_job_set *job_sets;
	size_t job_set_count;
	struct cie_run_entry *runs;
	size_t run_count;
	struct cie_trend_entry *trends;  /* sorted by (branch, workflow) */
	size_t trend_count;
	struct cie_test_entry *tests;    /* sorted by (branch, workflow) */
	size_t test_count;
	bool has_flaky;               /* flaky contains a response */
	struct cie_flaky_report flaky; /* most flaky first, unique, capped */

	bool refreshed;               /* a refresh finished at least once */
	bool up;                      /* the last refresh fully succeeded */
	double last_success;          /* Unix seconds; 0 = never */
	double refresh_duration;      /* seconds, of the last refresh */
	double next_refresh;          /* Unix seconds; 0 = not scheduled */

	bool series_limited;          /* max_series applies */
	size_t max_series;            /* cap on the series rendered */
	struct cie_fragment fragment; /* rendered families of this project */
};

/* Allocate empty data for slug; NULL when out of memory. */
struct cie_project_data *cie_project_data_new(const char *slug);
void cie_project_data_free(struct cie_project_data *p);

/*
 * Replace the workflows of (branch, window) with the items of page, whose
 * items are moved out (page is left empty). Job sets of that (branch,
 * window) whose workflow is no longer listed are removed. Returns false
 * when out of memory, with the store unchanged.
 */
bool cie_store_put_workflows(struct cie_project_data *p, const char *branch,
			     enum cie_window window,
			     struct cie_summary_page *page);

/* Replace the jobs of (branch, window, workflow); page is emptied. */
bool cie_store_put_jobs(struct cie_project_data *p, const char *branch,
			enum cie_window window, const char *workflow,
			struct cie_summary_page *page);

/*
 * Replace the newest run of (branch, workflow); run is moved out. A run
 * that was not found removes the entry: the response listed no finished run.
 */
bool cie_store_put_run(struct cie_project_data *p, const char *branch,
		       const char *workflow, struct cie_last_run *run);

/* Return true when some workflow set of branch lists workflow. */
bool cie_store_has_workflow(const struct cie_project_data *p,
			    const char *branch, const char *workflow);

/*
 * Remove what the configuration no longer requests: sets whose (branch,
 * window) is not in the plan, job sets when jobs are off, runs when
 * last_runs is off, and runs of workflows that no workflow set lists.
 * branches[] are the branch labels of the plan.
 */
void cie_store_prune(struct cie_project_data *p, char *const *branches,
		     size_t branch_count, unsigned windows, bool jobs,
		     bool last_runs);

/*
 * Replace the flaky tests with those of report, which are moved out
 * (report is left empty): sorted most flaky first (times_flaked, then
 * time_wasted, both descending), repeated label sets dropped, and at most
 * max_tests kept. Returns how many unique tests the cap dropped.
 */
size_t cie_store_put_flaky(struct cie_project_data *p,
			   struct cie_flaky_report *report, size_t max_tests);

/* Replace the trends of (branch, workflow). Returns false when out of memory. */
bool cie_store_put_trends(struct cie_project_data *p, const char *branch,
			  const char *workflow,
			  const struct cie_workflow_trends *trends);

/* Replace the test metrics of (branch, workflow); false when out of memory. */
bool cie_store_put_test_metrics(struct cie_project_data *p, const char *branch,
				const char *workflow,
				const struct cie_test_metrics *metrics);

/*
 * Remove the optional data that the configuration switched off (flaky
 * tests, trends, test metrics), and the trends and test metrics of
 * workflows that no workflow set of their branch lists. Call after
 * cie_store_prune().
 */
void cie_store_prune_extras(struct cie_project_data *p, bool flaky_tests,
			    bool trends, bool test_metrics);

/* The organization summary of one reporting window. */
struct cie_org_window {
	enum cie_window window;
	struct cie_org_metrics metrics;
	struct cie_org_project *projects;  /* owned; sorted by name, unique */
	size_t count;
};

/* The latest organization summaries of one organization. */
struct cie_org_data {
	char *slug;                        /* owned, e.g. "gh/acme" */
	struct cie_org_window *windows;    /* sorted by window */
	size_t window_count;
	bool series_limited;               /* max_series applies */
	size_t max_series;                 /* cap on the series rendered */
	struct cie_fragment fragment;      /* rendered families of this organization */
};

/* Allocate empty data for the organization slug; NULL when out of memory. */
struct cie_org_data *cie_org_data_new(const char *slug);
void cie_org_data_free(struct cie_org_data *o);

/*
 * Replace the summary of window with summary's metrics and projects; the
 * projects are moved out. Returns false when out of memory, with the store
 * unchanged.
 */
bool cie_store_put_org_summary(struct cie_org_data *o, enum cie_window window,
			       struct cie_org_summary *summary);

/* Remove the summaries of windows not in the bit set windows. */
void cie_store_prune_org(struct cie_org_data *o, unsigned windows);

#endif
