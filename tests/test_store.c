/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/store.c: replacing workflow and job sets, the
 * newest runs, pruning what the plan no longer includes, and the sorted
 * order that keeps the rendered output stable.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store.h"

/* Build a page whose items have the given names and total_runs = runs. */
static struct cie_summary_page make_page(const char *const *names, size_t count,
					 long long runs)
{
	struct cie_summary_page page = { 0 };

	page.items = calloc(count ? count : 1, sizeof(*page.items));
	if (!page.items)
		abort();
	for (size_t i = 0; i < count; i++) {
		page.items[i].name = strdup(names[i]);
		if (!page.items[i].name)
			abort();
		page.items[i].total_runs.kind = CIE_NUM_INT;
		page.items[i].total_runs.i = runs;
	}
	page.count = count;
	return page;
}

static bool put_workflows(struct cie_project_data *p, const char *branch,
			  enum cie_window window, const char *const *names,
			  size_t count)
{
	struct cie_summary_page page = make_page(names, count, 1);
	bool ok = cie_store_put_workflows(p, branch, window, &page);

	cie_summary_page_cleanup(&page);
	return ok;
}

static bool put_jobs(struct cie_project_data *p, const char *branch,
		     enum cie_window window, const char *workflow,
		     const char *const *names, size_t count, long long runs)
{
	struct cie_summary_page page = make_page(names, count, runs);
	bool ok = cie_store_put_jobs(p, branch, window, workflow, &page);

	cie_summary_page_cleanup(&page);
	return ok;
}

static bool put_run(struct cie_project_data *p, const char *branch,
		    const char *workflow, const char *status)
{
	struct cie_last_run run = { 0 };
	bool ok;

	if (status) {
		run.found = true;
		run.status = strdup(status);
		if (!run.status)
			abort();
	}
	ok = cie_store_put_run(p, branch, workflow, &run);
	cie_last_run_cleanup(&run);
	return ok;
}

static struct cie_project_data *new_project(void)
{
	struct cie_project_data *p = cie_project_data_new("gh/acme/api");

	if (!p)
		abort();
	return p;
}

static const struct cie_job_set *find_jobs(const struct cie_project_data *p,
					   const char *branch,
					   enum cie_window window,
					   const char *workflow)
{
	for (size_t i = 0; i < p->job_set_count; i++) {
		const struct cie_job_set *s = &p->job_sets[i];

		if (s->window == window && strcmp(s->branch, branch) == 0 &&
		    strcmp(s->workflow, workflow) == 0)
			return s;
	}
	return NULL;
}

static const char *const two_workflows[] = { "build", "deploy" };
static const char *const one_workflow[] = { "build" };
static const char *const jobs_ab[] = { "test", "lint" };

static void test_store_new_project_empty(void)
{
	struct cie_project_data *p = new_project();

	CHECK_STR_EQ(p->slug, "gh/acme/api");
	CHECK(p->default_branch == NULL, "default_branch: expected NULL, got \"%s\"",
	      p->default_branch);
	CHECK_INT_EQ(p->workflow_set_count, 0);
	CHECK_INT_EQ(p->job_set_count, 0);
	CHECK_INT_EQ(p->run_count, 0);
	CHECK(!p->refreshed, "refreshed: expected false, got true");
	CHECK(!p->up, "up: expected false, got true");
	cie_project_data_free(p);
	cie_project_data_free(NULL);
}

static void test_store_put_workflows_moves_page(void)
{
	struct cie_project_data *p = new_project();
	struct cie_summary_page page = make_page(two_workflows, 2, 5);

	CHECK(cie_store_put_workflows(p, "main", CIE_WINDOW_7D, &page),
	      "cie_store_put_workflows: expected true, got false");
	CHECK(page.items == NULL, "page.items: expected NULL after the move, got %p",
	      (void *)page.items);
	CHECK_INT_EQ(page.count, 0);
	if (CHECK_INT_EQ(p->workflow_set_count, 1)) {
		CHECK_STR_EQ(p->workflow_sets[0].branch, "main");
		CHECK_INT_EQ(p->workflow_sets[0].window, CIE_WINDOW_7D);
		if (CHECK_INT_EQ(p->workflow_sets[0].count, 2))
			CHECK_INT_EQ(p->workflow_sets[0].items[1].total_runs.i, 5);
	}
	cie_summary_page_cleanup(&page);
	cie_project_data_free(p);
}

static void test_store_put_workflows_replaces_set(void)
{
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	put_jobs(p, "main", CIE_WINDOW_7D, "deploy", jobs_ab, 2, 1);
	/* The same workflow on another window keeps its jobs. */
	put_workflows(p, "main", CIE_WINDOW_24H, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_24H, "deploy", jobs_ab, 2, 1);
	CHECK_INT_EQ(p->job_set_count, 3);

	CHECK(put_workflows(p, "main", CIE_WINDOW_7D, one_workflow, 1),
	      "cie_store_put_workflows: expected true, got false");
	if (CHECK_INT_EQ(p->workflow_set_count, 2)) {
		const struct cie_workflow_set *s = &p->workflow_sets[1];

		CHECK_INT_EQ(s->window, CIE_WINDOW_7D);
		if (CHECK_INT_EQ(s->count, 1))
			CHECK_STR_EQ(s->items[0].name, "build");
	}
	CHECK(find_jobs(p, "main", CIE_WINDOW_7D, "deploy") == NULL,
	      "jobs of deploy, last-7-days: expected removed, got kept");
	CHECK(find_jobs(p, "main", CIE_WINDOW_7D, "build") != NULL,
	      "jobs of build, last-7-days: expected kept, got removed");
	CHECK(find_jobs(p, "main", CIE_WINDOW_24H, "deploy") != NULL,
	      "jobs of deploy, last-24-hours: expected kept, got removed");
	CHECK_INT_EQ(p->job_set_count, 2);
	cie_project_data_free(p);
}

static void test_store_put_workflows_empty_page(void)
{
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	CHECK(put_workflows(p, "main", CIE_WINDOW_7D, NULL, 0),
	      "cie_store_put_workflows: expected true, got false");
	if (CHECK_INT_EQ(p->workflow_set_count, 1))
		CHECK_INT_EQ(p->workflow_sets[0].count, 0);
	CHECK_INT_EQ(p->job_set_count, 0);
	CHECK(!cie_store_has_workflow(p, "main", "build"),
	      "has_workflow build: expected false, got true");
	cie_project_data_free(p);
}

static void test_store_put_jobs_replaces(void)
{
	static const char *const newer[] = { "test" };
	struct cie_project_data *p = new_project();
	const struct cie_job_set *s;

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	CHECK(put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1),
	      "cie_store_put_jobs: expected true, got false");
	CHECK(put_jobs(p, "main", CIE_WINDOW_7D, "build", newer, 1, 9),
	      "cie_store_put_jobs again: expected true, got false");
	CHECK_INT_EQ(p->job_set_count, 1);
	s = find_jobs(p, "main", CIE_WINDOW_7D, "build");
	if (CHECK(s != NULL, "jobs of build: expected a set, got none") &&
	    CHECK_INT_EQ(s->count, 1)) {
		CHECK_STR_EQ(s->items[0].name, "test");
		CHECK_INT_EQ(s->items[0].total_runs.i, 9);
	}
	cie_project_data_free(p);
}

static void test_store_put_run_found_and_gone(void)
{
	struct cie_project_data *p = new_project();
	struct cie_last_run run = { 0 };

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	run.found = true;
	run.status = strdup("success");
	CHECK(cie_store_put_run(p, "main", "build", &run),
	      "cie_store_put_run: expected true, got false");
	CHECK(run.status == NULL, "run.status: expected NULL after the move, got \"%s\"",
	      run.status);
	CHECK(!run.found, "run.found: expected false after the move, got true");
	if (CHECK_INT_EQ(p->run_count, 1))
		CHECK_STR_EQ(p->runs[0].run.status, "success");

	put_run(p, "main", "build", "failed");
	if (CHECK_INT_EQ(p->run_count, 1))
		CHECK_STR_EQ(p->runs[0].run.status, "failed");
	put_run(p, "main", "deploy", "error");
	CHECK_INT_EQ(p->run_count, 2);

	/* A response that lists no finished run removes the entry. */
	CHECK(put_run(p, "main", "build", NULL),
	      "cie_store_put_run not found: expected true, got false");
	if (CHECK_INT_EQ(p->run_count, 1))
		CHECK_STR_EQ(p->runs[0].workflow, "deploy");
	CHECK(put_run(p, "main", "nightly", NULL),
	      "cie_store_put_run of an unknown run: expected true, got false");
	CHECK_INT_EQ(p->run_count, 1);
	cie_project_data_free(p);
}

static void test_store_prune_window_dropped(void)
{
	char *branches[] = { (char *)"main" };
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_workflows(p, "main", CIE_WINDOW_30D, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_30D, "build", jobs_ab, 2, 1);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	cie_store_prune(p, branches, 1, 1u << CIE_WINDOW_7D, true, true);
	if (CHECK_INT_EQ(p->workflow_set_count, 1))
		CHECK_INT_EQ(p->workflow_sets[0].window, CIE_WINDOW_7D);
	if (CHECK_INT_EQ(p->job_set_count, 1))
		CHECK_INT_EQ(p->job_sets[0].window, CIE_WINDOW_7D);
	cie_project_data_free(p);
}

static void test_store_prune_branch_dropped(void)
{
	char *branches[] = { (char *)"release/2.0" };
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_workflows(p, "release/2.0", CIE_WINDOW_7D, one_workflow, 1);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	put_jobs(p, "release/2.0", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	put_run(p, "main", "build", "success");
	put_run(p, "release/2.0", "build", "failed");
	cie_store_prune(p, branches, 1, 1u << CIE_WINDOW_7D, true, true);
	if (CHECK_INT_EQ(p->workflow_set_count, 1))
		CHECK_STR_EQ(p->workflow_sets[0].branch, "release/2.0");
	if (CHECK_INT_EQ(p->job_set_count, 1))
		CHECK_STR_EQ(p->job_sets[0].branch, "release/2.0");
	if (CHECK_INT_EQ(p->run_count, 1))
		CHECK_STR_EQ(p->runs[0].branch, "release/2.0");
	cie_project_data_free(p);
}

static void test_store_prune_jobs_off(void)
{
	char *branches[] = { (char *)"main" };
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	put_run(p, "main", "build", "success");
	cie_store_prune(p, branches, 1, 1u << CIE_WINDOW_7D, false, true);
	CHECK_INT_EQ(p->workflow_set_count, 1);
	CHECK_INT_EQ(p->job_set_count, 0);
	CHECK_INT_EQ(p->run_count, 1);
	cie_project_data_free(p);
}

static void test_store_prune_last_runs_off(void)
{
	char *branches[] = { (char *)"main" };
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_jobs(p, "main", CIE_WINDOW_7D, "build", jobs_ab, 2, 1);
	put_run(p, "main", "build", "success");
	put_run(p, "main", "deploy", "failed");
	cie_store_prune(p, branches, 1, 1u << CIE_WINDOW_7D, true, false);
	CHECK_INT_EQ(p->workflow_set_count, 1);
	CHECK_INT_EQ(p->job_set_count, 1);
	CHECK_INT_EQ(p->run_count, 0);
	cie_project_data_free(p);
}

static void test_store_prune_unlisted_run(void)
{
	char *branches[] = { (char *)"main" };
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, two_workflows, 2);
	put_run(p, "main", "build", "success");
	put_run(p, "main", "deploy", "failed");
	put_workflows(p, "main", CIE_WINDOW_7D, one_workflow, 1);
	cie_store_prune(p, branches, 1, 1u << CIE_WINDOW_7D, true, true);
	if (CHECK_INT_EQ(p->run_count, 1))
		CHECK_STR_EQ(p->runs[0].workflow, "build");
	cie_project_data_free(p);
}

static void test_store_sorted_stable_order(void)
{
	static const char *const unsorted[] = { "zeta", "alpha", "mid", "alpha" };
	struct cie_project_data *p = new_project();
	const struct cie_workflow_set *s;

	put_workflows(p, "release", CIE_WINDOW_7D, one_workflow, 1);
	put_workflows(p, "main", CIE_WINDOW_30D, one_workflow, 1);
	put_workflows(p, "main", CIE_WINDOW_24H, unsorted, 4);
	if (CHECK_INT_EQ(p->workflow_set_count, 3)) {
		CHECK_STR_EQ(p->workflow_sets[0].branch, "main");
		CHECK_INT_EQ(p->workflow_sets[0].window, CIE_WINDOW_24H);
		CHECK_STR_EQ(p->workflow_sets[1].branch, "main");
		CHECK_INT_EQ(p->workflow_sets[1].window, CIE_WINDOW_30D);
		CHECK_STR_EQ(p->workflow_sets[2].branch, "release");
		s = &p->workflow_sets[0];
		/* Sorted by name, and a repeated name is kept once. */
		if (CHECK_INT_EQ(s->count, 3)) {
			CHECK_STR_EQ(s->items[0].name, "alpha");
			CHECK_STR_EQ(s->items[1].name, "mid");
			CHECK_STR_EQ(s->items[2].name, "zeta");
		}
	}

	put_jobs(p, "main", CIE_WINDOW_24H, "zeta", jobs_ab, 2, 1);
	put_jobs(p, "main", CIE_WINDOW_24H, "alpha", jobs_ab, 2, 1);
	put_jobs(p, "main", CIE_WINDOW_30D, "build", jobs_ab, 2, 1);
	if (CHECK_INT_EQ(p->job_set_count, 3)) {
		CHECK_STR_EQ(p->job_sets[0].workflow, "alpha");
		CHECK_STR_EQ(p->job_sets[1].workflow, "zeta");
		CHECK_STR_EQ(p->job_sets[2].workflow, "build");
		CHECK_STR_EQ(p->job_sets[0].items[0].name, "lint");
		CHECK_STR_EQ(p->job_sets[0].items[1].name, "test");
	}

	put_run(p, "main", "zeta", "success");
	put_run(p, "main", "alpha", "success");
	put_run(p, "develop", "zeta", "success");
	if (CHECK_INT_EQ(p->run_count, 3)) {
		CHECK_STR_EQ(p->runs[0].branch, "develop");
		CHECK_STR_EQ(p->runs[1].workflow, "alpha");
		CHECK_STR_EQ(p->runs[2].workflow, "zeta");
	}
	cie_project_data_free(p);
}

static void test_store_has_workflow_by_branch(void)
{
	struct cie_project_data *p = new_project();

	put_workflows(p, "main", CIE_WINDOW_7D, one_workflow, 1);
	CHECK(cie_store_has_workflow(p, "main", "build"),
	      "main/build: expected true, got false");
	CHECK(!cie_store_has_workflow(p, "main", "deploy"),
	      "main/deploy: expected false, got true");
	CHECK(!cie_store_has_workflow(p, "develop", "build"),
	      "develop/build: expected false, got true");
	cie_project_data_free(p);
}

int main(void)
{
	RUN(test_store_new_project_empty);
	RUN(test_store_put_workflows_moves_page);
	RUN(test_store_put_workflows_replaces_set);
	RUN(test_store_put_workflows_empty_page);
	RUN(test_store_put_jobs_replaces);
	RUN(test_store_put_run_found_and_gone);
	RUN(test_store_prune_window_dropped);
	RUN(test_store_prune_branch_dropped);
	RUN(test_store_prune_jobs_off);
	RUN(test_store_prune_last_runs_off);
	RUN(test_store_prune_unlisted_run);
	RUN(test_store_sorted_stable_order);
	RUN(test_store_has_workflow_by_branch);
	return check_summary();
}
