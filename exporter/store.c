/* SPDX-License-Identifier: MIT */
/*
 * The metric store of one project. Sets are kept in small arrays searched
 * linearly: a project has tens of them, and they change once per refresh.
 */
#include "store.h"

#include <math.h>
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
	cie_fragment_init(&p->fragment);
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

static void workflow_key_cleanup(struct cie_workflow_key *k)
{
	free(k->branch);
	free(k->workflow);
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
	for (size_t i = 0; i < p->trend_count; i++)
		workflow_key_cleanup(&p->trends[i].key);
	for (size_t i = 0; i < p->test_count; i++)
		workflow_key_cleanup(&p->tests[i].key);
	free(p->workflow_sets);
	free(p->job_sets);
	free(p->runs);
	free(p->trends);
	free(p->tests);
	cie_flaky_report_cleanup(&p->flaky);
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

	/* An empty page may have no array at all, and qsort() takes none. */
	if (page->count > 1)
		qsort(page->items, page->count, sizeof(*page->items),
		      compare_summary);
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

/* Optional per-project data: flaky tests, trends, test metrics. */

/* A value for ordering: absent sorts below every number. */
static double order_value(const struct cie_num *n)
{
	if (n->kind == CIE_NUM_INT)
		return (double)n->i;
	if (n->kind == CIE_NUM_REAL)
		return n->d;
	return -HUGE_VAL;
}

static int compare_desc(const struct cie_num *a, const struct cie_num *b)
{
	double x = order_value(a), y = order_value(b);

	if (x > y)
		return -1;
	if (x < y)
		return 1;
	return 0;
}

/* The label values of a flaky test, in a fixed order, for ties and repeats. */
static int compare_flaky_labels(const struct cie_flaky_test *x,
				const struct cie_flaky_test *y)
{
	int c = strcmp(x->test_name, y->test_name);

	if (!c)
		c = strcmp(x->classname, y->classname);
	if (!c)
		c = strcmp(x->job, y->job);
	if (!c)
		c = strcmp(x->workflow, y->workflow);
	return c;
}

static int compare_flaky(const void *a, const void *b)
{
	const struct cie_flaky_test *x = a, *y = b;
	int c = compare_desc(&x->times_flaked, &y->times_flaked);

	if (!c)
		c = compare_desc(&x->time_wasted, &y->time_wasted);
	return c ? c : compare_flaky_labels(x, y);
}

static void free_flaky_test(struct cie_flaky_test *t)
{
	free(t->workflow);
	free(t->job);
	free(t->test_name);
	free(t->classname);
}

/* Order by labels, the most flaky first among equal labels. */
static int compare_flaky_by_labels(const void *a, const void *b)
{
	const struct cie_flaky_test *x = a, *y = b;
	int c = compare_flaky_labels(x, y);

	return c ? c : compare_flaky(a, b);
}

size_t cie_store_put_flaky(struct cie_project_data *p,
			   struct cie_flaky_report *report, size_t max_tests)
{
	struct cie_flaky_test *tests = report->tests;
	size_t kept = 0, dropped = 0;

	/* Drop repeated label sets, keeping the most flaky of each. */
	if (report->count > 1)
		qsort(tests, report->count, sizeof(*tests), compare_flaky_by_labels);
	for (size_t i = 0; i < report->count; i++) {
		if (kept && compare_flaky_labels(&tests[kept - 1], &tests[i]) == 0) {
			free_flaky_test(&tests[i]);
			continue;
		}
		tests[kept++] = tests[i];
	}
	report->count = kept;

	/* Keep the max_tests most flaky. */
	if (report->count > 1)
		qsort(tests, report->count, sizeof(*tests), compare_flaky);
	for (size_t i = max_tests; i < report->count; i++) {
		free_flaky_test(&tests[i]);
		dropped++;
	}
	if (report->count > max_tests)
		report->count = max_tests;

	cie_flaky_report_cleanup(&p->flaky);
	p->flaky = *report;
	p->has_flaky = true;
	memset(report, 0, sizeof(*report));
	return dropped;
}

/* Order of entries that start with a struct cie_workflow_key. */
static int compare_workflow_key(const void *a, const void *b)
{
	const struct cie_workflow_key *x = a, *y = b;

	return compare_key(x->branch, 0, x->workflow, y->branch, 0, y->workflow);
}

/* The key of element i of an array of entries of size elem. */
static struct cie_workflow_key *key_at(void *array, size_t i, size_t elem)
{
	return (struct cie_workflow_key *)(void *)((char *)array + i * elem);
}

/*
 * Find the entry of (branch, workflow) in an array of entries of size
 * elem, each starting with a struct cie_workflow_key, or add a zeroed
 * one. NULL when out of memory.
 */
static void *find_or_add(void **array, size_t *count, size_t elem,
			 const char *branch, const char *workflow)
{
	struct cie_workflow_key *k;
	char *b, *w;

	for (size_t i = 0; i < *count; i++) {
		k = key_at(*array, i, elem);
		if (strcmp(k->branch, branch) == 0 && strcmp(k->workflow, workflow) == 0)
			return k;
	}
	b = strdup(branch);
	w = strdup(workflow);
	k = b && w ? grow(array, count, elem) : NULL;
	if (!k) {
		free(b);
		free(w);
		return NULL;
	}
	k->branch = b;
	k->workflow = w;
	return k;
}

bool cie_store_put_trends(struct cie_project_data *p, const char *branch,
			  const char *workflow,
			  const struct cie_workflow_trends *trends)
{
	struct cie_trend_entry *e = find_or_add((void **)&p->trends,
						&p->trend_count, sizeof(*e),
						branch, workflow);

	if (!e)
		return false;
	e->trends = *trends;
	qsort(p->trends, p->trend_count, sizeof(*e), compare_workflow_key);
	return true;
}

bool cie_store_put_test_metrics(struct cie_project_data *p, const char *branch,
				const char *workflow,
				const struct cie_test_metrics *metrics)
{
	struct cie_test_entry *e = find_or_add((void **)&p->tests, &p->test_count,
					       sizeof(*e), branch, workflow);

	if (!e)
		return false;
	e->metrics = *metrics;
	qsort(p->tests, p->test_count, sizeof(*e), compare_workflow_key);
	return true;
}

/*
 * Keep the entries (of size elem, each starting with a struct
 * cie_workflow_key) whose workflow is still listed for their branch. With
 * keep false, remove them all.
 */
static void prune_entries(struct cie_project_data *p, void *array,
			  size_t *count, size_t elem, bool keep)
{
	size_t kept = 0;

	for (size_t i = 0; i < *count; i++) {
		struct cie_workflow_key *k = key_at(array, i, elem);

		if (!keep || !cie_store_has_workflow(p, k->branch, k->workflow)) {
			workflow_key_cleanup(k);
			continue;
		}
		if (kept != i)
			memcpy(key_at(array, kept, elem), k, elem);
		kept++;
	}
	*count = kept;
}

void cie_store_prune_extras(struct cie_project_data *p, bool flaky_tests,
			    bool trends, bool test_metrics)
{
	if (!flaky_tests) {
		cie_flaky_report_cleanup(&p->flaky);
		p->has_flaky = false;
	}
	prune_entries(p, p->trends, &p->trend_count, sizeof(*p->trends), trends);
	prune_entries(p, p->tests, &p->test_count, sizeof(*p->tests), test_metrics);
}

/* Organizations. */

struct cie_org_data *cie_org_data_new(const char *slug)
{
	struct cie_org_data *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->slug = strdup(slug);
	if (!o->slug) {
		free(o);
		return NULL;
	}
	cie_fragment_init(&o->fragment);
	return o;
}

static void org_window_cleanup(struct cie_org_window *w)
{
	for (size_t i = 0; i < w->count; i++)
		free(w->projects[i].name);
	free(w->projects);
	w->projects = NULL;
	w->count = 0;
}

void cie_org_data_free(struct cie_org_data *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->window_count; i++)
		org_window_cleanup(&o->windows[i]);
	free(o->windows);
	free(o->slug);
	cie_fragment_cleanup(&o->fragment);
	free(o);
}

static int compare_org_project(const void *a, const void *b)
{
	return strcmp(((const struct cie_org_project *)a)->name,
		      ((const struct cie_org_project *)b)->name);
}

static int compare_org_window(const void *a, const void *b)
{
	const struct cie_org_window *x = a, *y = b;

	return (int)x->window - (int)y->window;
}

bool cie_store_put_org_summary(struct cie_org_data *o, enum cie_window window,
			       struct cie_org_summary *summary)
{
	struct cie_org_window *w = NULL;
	size_t kept = 0;

	for (size_t i = 0; i < o->window_count; i++) {
		if (o->windows[i].window == window)
			w = &o->windows[i];
	}
	if (!w) {
		w = grow((void **)&o->windows, &o->window_count, sizeof(*w));
		if (!w)
			return false;
		w->window = window;
	}

	/* Sort by name and drop repeated names, keeping the first. */
	if (summary->project_count > 1)
		qsort(summary->projects, summary->project_count,
		      sizeof(*summary->projects), compare_org_project);
	for (size_t i = 0; i < summary->project_count; i++) {
		if (kept && strcmp(summary->projects[kept - 1].name,
				   summary->projects[i].name) == 0) {
			free(summary->projects[i].name);
			continue;
		}
		summary->projects[kept++] = summary->projects[i];
	}

	org_window_cleanup(w);
	w->metrics = summary->metrics;
	w->projects = summary->projects;
	w->count = kept;
	summary->projects = NULL;
	summary->project_count = 0;
	qsort(o->windows, o->window_count, sizeof(*w), compare_org_window);
	return true;
}

void cie_store_prune_org(struct cie_org_data *o, unsigned windows)
{
	size_t kept = 0;

	for (size_t i = 0; i < o->window_count; i++) {
		if (!(windows & (1u << o->windows[i].window))) {
			org_window_cleanup(&o->windows[i]);
			continue;
		}
		o->windows[kept++] = o->windows[i];
	}
	o->window_count = kept;
}
