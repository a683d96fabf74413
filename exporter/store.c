/* SPDX-License-Identifier: MIT */
/*
 * The metric store of one project. Sets are kept in small arrays searched
 * linearly: a project has tens of them, and they change once per refresh.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

struct cie_project_data *cie_project_data_new(const char *slug)
{
	struct cie_project_data *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->slug = strdup(slug);
	if (!p->slug) {
		free(p);
		return NULL;
	}
	cie_buf_init(&p->fragment.text, 0);
	cie_buf_init(&p->fragment.gz.data, 0);
	return p;
}

static void free_items(struct cie_summary *items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(items[i].name);
	free(items);
}

static void workflow_set_cleanup(struct cie_workflow_set *s)
{
	free(s->branch);
	free_items(s->items, s->count);
}

static void job_set_cleanup(struct cie_job_set *s)
{
	free(s->branch);
	free(s->workflow);
	free_items(s->items, s->count);
}

static void run_entry_cleanup(struct cie_run_entry *r)
{
	free(r->branch);
	free(r->workflow);
	cie_last_run_cleanup(&r->run);
}

void cie_project_data_free(struct cie_project_data *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->workflow_set_count; i++)
		workflow_set_cleanup(&p->workflow_sets[i]);
	for (size_t i = 0; i < p->job_set_count; i++)
		job_set_cleanup(&p->job_sets[i]);
	for (size_t i = 0; i < p->run_count; i++)
		run_entry_cleanup(&p->runs[i]);
	free(p->workflow_sets);
	free(p->job_sets);
	free(p->runs);
	free(p->slug);
	free(p->default_branch);
	cie_fragment_cleanup(&p->fragment);
	free(p);
}

static int compare_summary(const void *a, const void *b)
{
	return strcmp(((const struct cie_summary *)a)->name,
		      ((const struct cie_summary *)b)->name);
}

/* Sort page items by name and drop repeated names, keeping the first. */
static void sort_items(struct cie_summary_page *page)
{
	size_t kept = 0;

	qsort(page->items, page->count, sizeof(*page->items), compare_summary);
	for (size_t i = 0; i < page->count; i++) {
		if (kept && strcmp(page->items[kept - 1].name, page->items[i].name) == 0) {
			free(page->items[i].name);
			continue;
		}
		page->items[kept++] = page->items[i];
	}
	page->count = kept;
}

/* Grow an array of elements of size elem by one slot; NULL when out of memory. */
static void *grow(void **array, size_t *count, size_t elem)
{
	char *p = realloc(*array, (*count + 1) * elem);

	if (!p)
		return NULL;
	*array = p;
	memset(p + *count * elem, 0, elem);
	return p + (*count)++ * elem;
}

/* Order of sets: branch, then window, then workflow; keeps output stable. */
static int compare_key(const char *branch_a, int window_a, const char *wf_a,
		       const char *branch_b, int window_b, const char *wf_b)
{
	int c = strcmp(branch_a, branch_b);

	if (c)
		return c;
	if (window_a != window_b)
		return window_a < window_b ? -1 : 1;
	return strcmp(wf_a ? wf_a : "", wf_b ? wf_b : "");
}

static int compare_workflow_set(const void *a, const void *b)
{
	const struct cie_workflow_set *x = a, *y = b;

	return compare_key(x->branch, (int)x->window, NULL, y->branch,
			   (int)y->window, NULL);
}

static int compare_job_set(const void *a, const void *b)
{
	const struct cie_job_set *x = a, *y = b;

	return compare_key(x->branch, (int)x->window, x->workflow, y->branch,
			   (int)y->window, y->workflow);
}

static int compare_run(const void *a, const void *b)
{
	const struct cie_run_entry *x = a, *y = b;

	return compare_key(x->branch, 0, x->workflow, y->branch, 0, y->workflow);
}

static bool set_lists(const struct cie_workflow_set *s, const char *workflow)
{
	struct cie_summary key = { .name = (char *)(uintptr_t)workflow };

	return bsearch(&key, s->items, s->count, sizeof(*s->items),
		       compare_summary) != NULL;
}

/* Remove job sets of (branch, window) whose workflow s does not list. */
static void drop_orphan_jobs(struct cie_project_data *p,
			     const struct cie_workflow_set *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->job_set_count; i++) {
		struct cie_job_set *j = &p->job_sets[i];

		if (j->window == s->window && strcmp(j->branch, s->branch) == 0 &&
		    !set_lists(s, j->workflow)) {
			job_set_cleanup(j);
			continue;
		}
		p->job_sets[kept++] = *j;
	}
	p->job_set_count = kept;
}

bool cie_store_put_workflows(struct cie_project_data *p, const char *branch,
			     enum cie_window window,
			     struct cie_summary_page *page)
{
	struct cie_workflow_set *s = NULL;

	for (size_t i = 0; i < p->workflow_set_count; i++) {
		if (p->workflow_sets[i].window == window &&
		    strcmp(p->workflow_sets[i].branch, branch) == 0)
			s = &p->workflow_sets[i];
	}
	if (!s) {
		char *copy = strdup(branch);

		if (!copy)
			return false;
		s = grow((void **)&p->workflow_sets, &p->workflow_set_count,
			 sizeof(*s));
		if (!s) {
			free(copy);
			return false;
		}
		s->branch = copy;
		s->window = window;
	}
	sort_items(page);
	free_items(s->items, s->count);
	s->items = page->items;
	s->count = page->count;
	page->items = NULL;
	page->count = 0;
	qsort(p->workflow_sets, p->workflow_set_count, sizeof(*s),
	      compare_workflow_set);

	for (size_t i = 0; i < p->workflow_set_count; i++) {
		if (p->workflow_sets[i].window == window &&
		    strcmp(p->workflow_sets[i].branch, branch) == 0)
			drop_orphan_jobs(p, &p->workflow_sets[i]);
	}
	return true;
}

bool cie_store_put_jobs(struct cie_project_data *p, const char *branch,
			enum cie_window window, const char *workflow,
			struct cie_summary_page *page)
{
	struct cie_job_set *s = NULL;

	for (size_t i = 0; i < p->job_set_count; i++) {
		struct cie_job_set *j = &p->job_sets[i];

		if (j->window == window && strcmp(j->branch, branch) == 0 &&
		    strcmp(j->workflow, workflow) == 0)
			s = j;
	}
	if (!s) {
		char *b = strdup(branch), *w = strdup(workflow);

		s = b && w ? grow((void **)&p->job_sets, &p->job_set_count,
				  sizeof(*s)) : NULL;
		if (!s) {
			free(b);
			free(w);
			return false;
		}
		s->branch = b;
		s->workflow = w;
		s->window = window;
	}
	sort_items(page);
	free_items(s->items, s->count);
	s->items = page->items;
	s->count = page->count;
	page->items = NULL;
	page->count = 0;
	qsort(p->job_sets, p->job_set_count, sizeof(*s), compare_job_set);
	return true;
}

static void remove_run(struct cie_project_data *p, size_t index)
{
	run_entry_cleanup(&p->runs[index]);
	memmove(&p->runs[index], &p->runs[index + 1],
		(p->run_count - index - 1) * sizeof(*p->runs));
	p->run_count--;
}

bool cie_store_put_run(struct cie_project_data *p, const char *branch,
		       const char *workflow, struct cie_last_run *run)
{
	struct cie_run_entry *r = NULL;

	for (size_t i = 0; i < p->run_count; i++) {
		if (strcmp(p->runs[i].branch, branch) == 0 &&
		    strcmp(p->runs[i].workflow, workflow) == 0) {
			if (!run->found) {
				remove_run(p, i);
				return true;
			}
			r = &p->runs[i];
		}
	}
	if (!run->found)
		return true;
	if (!r) {
		char *b = strdup(branch), *w = strdup(workflow);

		r = b && w ? grow((void **)&p->runs, &p->run_count, sizeof(*r)) : NULL;
		if (!r) {
			free(b);
			free(w);
			return false;
		}
		r->branch = b;
		r->workflow = w;
	}
	cie_last_run_cleanup(&r->run);
	r->run = *run;
	memset(run, 0, sizeof(*run));
	qsort(p->runs, p->run_count, sizeof(*r), compare_run);
	return true;
}

bool cie_store_has_workflow(const struct cie_project_data *p,
			    const char *branch, const char *workflow)
{
	for (size_t i = 0; i < p->workflow_set_count; i++) {
		if (strcmp(p->workflow_sets[i].branch, branch) == 0 &&
		    set_lists(&p->workflow_sets[i], workflow))
			return true;
	}
	return false;
}

static bool in_plan(const char *branch, enum cie_window window,
		    char *const *branches, size_t branch_count,
		    unsigned windows)
{
	if (!(windows & (1u << window)))
		return false;
	for (size_t i = 0; i < branch_count; i++) {
		if (strcmp(branches[i], branch) == 0)
			return true;
	}
	return false;
}

void cie_store_prune(struct cie_project_data *p, char *const *branches,
		     size_t branch_count, unsigned windows, bool jobs,
		     bool last_runs)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->workflow_set_count; i++) {
		struct cie_workflow_set *s = &p->workflow_sets[i];

		if (!in_plan(s->branch, s->window, branches, branch_count, windows)) {
			workflow_set_cleanup(s);
			continue;
		}
		p->workflow_sets[kept++] = *s;
	}
	p->workflow_set_count = kept;

	kept = 0;
	for (size_t i = 0; i < p->job_set_count; i++) {
		struct cie_job_set *s = &p->job_sets[i];

		if (!jobs || !in_plan(s->branch, s->window, branches,
				      branch_count, windows) ||
		    !cie_store_has_workflow(p, s->branch, s->workflow)) {
			job_set_cleanup(s);
			continue;
		}
		p->job_sets[kept++] = *s;
	}
	p->job_set_count = kept;

	for (size_t i = p->run_count; i-- > 0;) {
		struct cie_run_entry *r = &p->runs[i];

		if (!last_runs || !cie_store_has_workflow(p, r->branch, r->workflow))
			remove_run(p, i);
	}
}
