/* SPDX-License-Identifier: MIT */
/*
 * The metric store: the latest good values of one project, per (branch,
 * window, workflow, job), and the state of its refreshes. A failed request
 * changes nothing here; a successful answer replaces what its endpoint
 * produced, so a workflow or job that is gone from it is removed. Each
 * project also keeps its rendered exposition fragments (see render.h).
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

struct cie_project_data {
	char *slug;                   /* owned copy of the configured slug */
	char *default_branch;         /* owned; NULL until looked up */

	struct cie_workflow_set *workflow_sets;
	size_t workflow_set_count;
	struct cie_job_set *job_sets;
	size_t job_set_count;
	struct cie_run_entry *runs;
	size_t run_count;

	bool refreshed;               /* a refresh finished at least once */
	bool up;                      /* the last refresh fully succeeded */
	double last_success;          /* Unix seconds; 0 = never */
	double refresh_duration;      /* seconds, of the last refresh */
	double next_refresh;          /* Unix seconds; 0 = not scheduled */

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
 * that was not found removes the entry: the answer listed no finished run.
 */
bool cie_store_put_run(struct cie_project_data *p, const char *branch,
		       const char *workflow, struct cie_last_run *run);

/* Return true when some workflow set of branch lists workflow. */
bool cie_store_has_workflow(const struct cie_project_data *p,
			    const char *branch, const char *workflow);

/*
 * Remove what the configuration no longer asks for: sets whose (branch,
 * window) is not in the plan, job sets when jobs are off, runs when
 * last_runs is off, and runs of workflows that no workflow set lists.
 * branches[] are the branch labels of the plan.
 */
void cie_store_prune(struct cie_project_data *p, char *const *branches,
		     size_t branch_count, unsigned windows, bool jobs,
		     bool last_runs);

#endif
