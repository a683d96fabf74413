/* SPDX-License-Identifier: MIT */
/*
 * Rendering of the CircleCI families: number formatting, label escaping,
 * per-project fragments and their deflated pieces.
 */
#include "render.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define CACHED " Cached from the CircleCI API."

struct family_def {
	const char *name;
	const char *help;
};

static const struct family_def families[CIE_FAM_COUNT] = {
	[CIE_FAM_WF_RUNS] = { "circleci_workflow_runs",
		"Runs of the workflow in the reporting window." CACHED },
	[CIE_FAM_WF_SUCCESSFUL_RUNS] = { "circleci_workflow_successful_runs",
		"Successful runs of the workflow in the reporting window." CACHED },
	[CIE_FAM_WF_FAILED_RUNS] = { "circleci_workflow_failed_runs",
		"Failed runs of the workflow in the reporting window." CACHED },
	[CIE_FAM_WF_SUCCESS_RATIO] = { "circleci_workflow_success_ratio",
		"Ratio of successful runs to all runs of the workflow, 0 to 1." CACHED },
	[CIE_FAM_WF_THROUGHPUT] = { "circleci_workflow_throughput_runs_per_day",
		"Average runs of the workflow per day." CACHED },
	[CIE_FAM_WF_MTTR] = { "circleci_workflow_mttr_seconds",
		"Mean time to recovery of the workflow after a failure, in seconds." CACHED },
	[CIE_FAM_WF_RECOVERIES] = { "circleci_workflow_recoveries",
		"Recoveries of the workflow from failure to success." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_MIN] = { "circleci_workflow_duration_min_seconds",
		"Shortest run of the workflow, in seconds." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_MEDIAN] = { "circleci_workflow_duration_median_seconds",
		"Median run duration of the workflow, in seconds." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_MEAN] = { "circleci_workflow_duration_mean_seconds",
		"Mean run duration of the workflow, in seconds." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_P95] = { "circleci_workflow_duration_p95_seconds",
		"95th percentile of the workflow's run duration, in seconds." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_MAX] = { "circleci_workflow_duration_max_seconds",
		"Longest run of the workflow, in seconds." CACHED },
	[CIE_FAM_WF_DURATION_FIRST + CIE_DUR_STDDEV] = { "circleci_workflow_duration_stddev_seconds",
		"Standard deviation of the workflow's run duration, in seconds." CACHED },
	[CIE_FAM_WF_CREDITS] = { "circleci_workflow_credits_used",
		"Credits used by the workflow's runs in the reporting window." CACHED },
	[CIE_FAM_WF_WINDOW_START] = { "circleci_workflow_window_start_timestamp_seconds",
		"Start of the workflow's reporting window, as Unix time." CACHED },
	[CIE_FAM_WF_WINDOW_END] = { "circleci_workflow_window_end_timestamp_seconds",
		"End of the workflow's reporting window, as Unix time." CACHED },
	[CIE_FAM_JOB_RUNS] = { "circleci_job_runs",
		"Runs of the job in the reporting window." CACHED },
	[CIE_FAM_JOB_SUCCESSFUL_RUNS] = { "circleci_job_successful_runs",
		"Successful runs of the job in the reporting window." CACHED },
	[CIE_FAM_JOB_FAILED_RUNS] = { "circleci_job_failed_runs",
		"Failed runs of the job in the reporting window." CACHED },
	[CIE_FAM_JOB_SUCCESS_RATIO] = { "circleci_job_success_ratio",
		"Ratio of successful runs to all runs of the job, 0 to 1." CACHED },
	[CIE_FAM_JOB_THROUGHPUT] = { "circleci_job_throughput_runs_per_day",
		"Average runs of the job per day." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_MIN] = { "circleci_job_duration_min_seconds",
		"Shortest run of the job, in seconds." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_MEDIAN] = { "circleci_job_duration_median_seconds",
		"Median run duration of the job, in seconds." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_MEAN] = { "circleci_job_duration_mean_seconds",
		"Mean run duration of the job, in seconds." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_P95] = { "circleci_job_duration_p95_seconds",
		"95th percentile of the job's run duration, in seconds." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_MAX] = { "circleci_job_duration_max_seconds",
		"Longest run of the job, in seconds." CACHED },
	[CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_STDDEV] = { "circleci_job_duration_stddev_seconds",
		"Standard deviation of the job's run duration, in seconds." CACHED },
	[CIE_FAM_JOB_CREDITS] = { "circleci_job_credits_used",
		"Credits used by the job's runs in the reporting window." CACHED },
	[CIE_FAM_JOB_WINDOW_START] = { "circleci_job_window_start_timestamp_seconds",
		"Start of the job's reporting window, as Unix time." CACHED },
	[CIE_FAM_JOB_WINDOW_END] = { "circleci_job_window_end_timestamp_seconds",
		"End of the job's reporting window, as Unix time." CACHED },
	[CIE_FAM_LAST_RUN_STATUS] = { "circleci_workflow_last_run_status",
		"Status of the newest finished run of the workflow: 1 for its status, 0 for the others." CACHED },
	[CIE_FAM_LAST_RUN_DURATION] = { "circleci_workflow_last_run_duration_seconds",
		"Duration of the newest finished run of the workflow, in seconds." CACHED },
	[CIE_FAM_LAST_RUN_CREDITS] = { "circleci_workflow_last_run_credits_used",
		"Credits used by the newest finished run of the workflow." CACHED },
	[CIE_FAM_LAST_RUN_TIMESTAMP] = { "circleci_workflow_last_run_timestamp_seconds",
		"When the newest finished run of the workflow stopped (else was created), as Unix time." CACHED },
	[CIE_FAM_FLAKY_TESTS] = { "circleci_project_flaky_tests",
		"Unique tests of the project that CircleCI counts as flaky (total_flaky_tests)." CACHED },
	[CIE_FAM_FLAKY_RUNS] = { "circleci_test_flaky_runs",
		"Times the test flaked; the most flaky tests of each project, up to limits.max_flaky_tests_per_project." CACHED },
	[CIE_FAM_FLAKY_TIME_WASTED] = { "circleci_test_flaky_time_wasted_seconds",
		"Time wasted by the test's flaky runs, in seconds." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_TOTAL_RUNS] = { "circleci_workflow_trend_total_runs",
		"Trend of the workflow's runs: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_FAILED_RUNS] = { "circleci_workflow_trend_failed_runs",
		"Trend of the workflow's failed runs: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_SUCCESS_RATE] = { "circleci_workflow_trend_success_rate",
		"Trend of the workflow's success rate: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_P95_DURATION] = { "circleci_workflow_trend_p95_duration_secs",
		"Trend of the workflow's 95th percentile duration: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_MEDIAN_DURATION] = { "circleci_workflow_trend_median_duration_secs",
		"Trend of the workflow's median duration: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_TOTAL_CREDITS] = { "circleci_workflow_trend_total_credits_used",
		"Trend of the credits used by the workflow: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_MTTR] = { "circleci_workflow_trend_mttr",
		"Trend of the workflow's mean time to recovery: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TREND_FIRST + CIE_TREND_THROUGHPUT] = { "circleci_workflow_trend_throughput",
		"Trend of the workflow's runs per day: the ratio to the previous period, 1 meaning unchanged." CACHED },
	[CIE_FAM_TEST_RUNS] = { "circleci_workflow_test_runs",
		"Test runs of the workflow (total_test_runs)." CACHED },
	[CIE_FAM_TESTS_PER_RUN] = { "circleci_workflow_tests_per_run",
		"Average number of tests executed per run of the workflow." CACHED },
	[CIE_FAM_MOST_FAILED_TESTS] = { "circleci_workflow_most_failed_tests",
		"Tests in the workflow's most failed list, those left out of the list (most_failed_tests_extra) included." CACHED },
	[CIE_FAM_SLOWEST_TESTS] = { "circleci_workflow_slowest_tests",
		"Tests in the workflow's slowest list, those left out of the list (slowest_tests_extra) included." CACHED },
	[CIE_FAM_ORG_RUNS] = { "circleci_org_runs",
		"Runs of all workflows of the organization in the reporting window, running and on-hold ones included." CACHED },
	[CIE_FAM_ORG_SUCCESS_RATIO] = { "circleci_org_success_ratio",
		"Ratio of successful runs to all runs in the organization, 0 to 1." CACHED },
	[CIE_FAM_ORG_THROUGHPUT] = { "circleci_org_throughput_runs_per_day",
		"Average runs per day in the organization." CACHED },
	[CIE_FAM_ORG_DURATION] = { "circleci_org_total_duration_seconds",
		"Total duration of the organization's runs in the reporting window, in seconds." CACHED },
	[CIE_FAM_ORG_CREDITS] = { "circleci_org_credits_used",
		"Credits used by the organization in the reporting window." CACHED },
	[CIE_FAM_ORG_PROJECT_RUNS] = { "circleci_project_runs",
		"Runs of the project on all branches in the reporting window, from the organization summary." CACHED },
	[CIE_FAM_ORG_PROJECT_SUCCESS_RATIO] = { "circleci_project_success_ratio",
		"Ratio of successful runs to all runs of the project, 0 to 1, from the organization summary." CACHED },
	[CIE_FAM_ORG_PROJECT_DURATION] = { "circleci_project_total_duration_seconds",
		"Total duration of the project's runs in the reporting window, in seconds, from the organization summary." CACHED },
	[CIE_FAM_ORG_PROJECT_CREDITS] = { "circleci_project_credits_used",
		"Credits used by the project in the reporting window, from the organization summary." CACHED },
	[CIE_FAM_PROJECT_INFO] = { "circleci_project_info",
		"Project information, always 1; default_branch is the project's default branch." CACHED },
	[CIE_FAM_PROJECT_UP] = { "circleci_exporter_project_up",
		"Whether the last refresh of the project fully succeeded (1) or not (0)." },
	[CIE_FAM_LAST_REFRESH] = { "circleci_exporter_last_refresh_timestamp_seconds",
		"When the project's last fully successful refresh finished, as Unix time." },
	[CIE_FAM_REFRESH_DURATION] = { "circleci_exporter_refresh_duration_seconds",
		"Wall time of the project's last refresh, waits for the rate limit included, in seconds." },
	[CIE_FAM_NEXT_REFRESH] = { "circleci_exporter_next_refresh_timestamp_seconds",
		"When the project's next refresh is due, as Unix time." },
};

static const char *const run_statuses[] = {
	"success", "failed", "error", "canceled", "unauthorized",
};

static char family_headers[CIE_FAM_COUNT][512];

const char *cie_render_family_header(enum cie_family f)
{
	if (!family_headers[f][0])
		snprintf(family_headers[f], sizeof(family_headers[f]),
			 "# HELP %s %s\n# TYPE %s gauge\n", families[f].name,
			 families[f].help, families[f].name);
	return family_headers[f];
}

void cie_format_double(double v, char *out, size_t size)
{
	if (isnan(v)) {
		snprintf(out, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Check the range first: converting a larger double to long long is undefined. */
	if (fabs(v) < 1e15 && v == (double)(long long)v) {
		snprintf(out, size, "%lld", (long long)v);
		return;
	}
	for (int precision = 15; precision <= 17; precision++) {
		snprintf(out, size, "%.*g", precision, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

void cie_format_num(const struct cie_num *n, char *out, size_t size)
{
	if (n->kind == CIE_NUM_INT)
		snprintf(out, size, "%lld", n->i);
	else
		cie_format_double(n->d, out, size);
}

bool cie_render_escape_label(struct cie_buf *b, const char *value)
{
	const char *p = value, *special;

	while ((special = strpbrk(p, "\\\"\n")) != NULL) {
		if (!cie_buf_append(b, p, (size_t)(special - p)))
			return false;
		if (!cie_buf_puts(b, *special == '\n' ? "\\n" :
				      *special == '"' ? "\\\"" : "\\\\"))
			return false;
		p = special + 1;
	}
	return cie_buf_puts(b, p);
}

/* Labels of one sample as key, value pairs, ended by a NULL key. */
struct labels {
	const char *pairs[12];
};

static bool put_sample(struct cie_buf *b, enum cie_family f,
		       const struct labels *l, const char *value)
{
	bool ok = cie_buf_puts(b, families[f].name) && cie_buf_putc(b, '{');

	for (int i = 0; ok && l->pairs[i]; i += 2) {
		if (i)
			ok = cie_buf_putc(b, ',');
		ok = ok && cie_buf_puts(b, l->pairs[i]) && cie_buf_puts(b, "=\"") &&
		     cie_render_escape_label(b, l->pairs[i + 1]) &&
		     cie_buf_putc(b, '"');
	}
	return ok && cie_buf_puts(b, "} ") && cie_buf_puts(b, value) &&
	       cie_buf_putc(b, '\n');
}

/* Count one more series, or, once the cap is reached, one more left out. */
static bool admit(struct cie_fragment *fr)
{
	if (fr->series >= fr->max_series) {
		fr->dropped++;
		return false;
	}
	fr->series++;
	return true;
}

static bool put_num(struct cie_fragment *fr, enum cie_family f,
		    const struct labels *l, const struct cie_num *n)
{
	char value[40];

	if (n->kind == CIE_NUM_ABSENT || !admit(fr))
		return true;
	cie_format_num(n, value, sizeof(value));
	return put_sample(&fr->text, f, l, value);
}

/* The value of summary family f (relative to the workflow or job base). */
static const struct cie_num *summary_field(const struct cie_summary *s,
					   int rel, bool workflow)
{
	/* Relative order: runs, successful, failed, ratio, throughput, then
	 * for workflows mttr and recoveries, then durations, credits, window. */
	const struct cie_num *common[] = {
		&s->total_runs, &s->successful_runs, &s->failed_runs,
		&s->success_rate, &s->throughput,
	};
	int extra = workflow ? 2 : 0;

	if (rel < 5)
		return common[rel];
	if (workflow && rel == 5)
		return &s->mttr;
	if (workflow && rel == 6)
		return &s->total_recoveries;
	rel -= 5 + extra;
	if (rel < CIE_DUR_COUNT)
		return &s->duration[rel];
	rel -= CIE_DUR_COUNT;
	return rel == 0 ? &s->total_credits_used :
	       rel == 1 ? &s->window_start : &s->window_end;
}

static bool render_workflow_family(struct cie_project_data *p,
				   enum cie_family f)
{
	int rel = (int)f - CIE_FAM_WF_RUNS;

	for (size_t i = 0; i < p->workflow_set_count; i++) {
		const struct cie_workflow_set *s = &p->workflow_sets[i];

		for (size_t j = 0; j < s->count; j++) {
			struct labels l = { { "project", p->slug, "workflow",
					      s->items[j].name, "branch", s->branch,
					      "window", cie_window_name(s->window),
					      NULL } };

			if (!put_num(&p->fragment, f, &l,
				     summary_field(&s->items[j], rel, true)))
				return false;
		}
	}
	return true;
}

static bool render_job_family(struct cie_project_data *p, enum cie_family f)
{
	int rel = (int)f - CIE_FAM_JOB_RUNS;

	for (size_t i = 0; i < p->job_set_count; i++) {
		const struct cie_job_set *s = &p->job_sets[i];

		for (size_t j = 0; j < s->count; j++) {
			struct labels l = { { "project", p->slug, "workflow",
					      s->workflow, "job_name",
					      s->items[j].name, "branch", s->branch,
					      "window", cie_window_name(s->window),
					      NULL } };

			if (!put_num(&p->fragment, f, &l,
				     summary_field(&s->items[j], rel, false)))
				return false;
		}
	}
	return true;
}

static bool render_status(struct cie_fragment *fr, const struct cie_run_entry *r,
			  const char *slug)
{
	bool known = false;

	for (size_t k = 0; k < sizeof(run_statuses) / sizeof(run_statuses[0]); k++) {
		bool match = strcmp(r->run.status, run_statuses[k]) == 0;
		struct labels l = { { "project", slug, "workflow", r->workflow,
				      "branch", r->branch, "status",
				      run_statuses[k], NULL } };

		known = known || match;
		if (admit(fr) && !put_sample(&fr->text, CIE_FAM_LAST_RUN_STATUS,
					     &l, match ? "1" : "0"))
			return false;
	}
	if (!known) {
		struct labels l = { { "project", slug, "workflow", r->workflow,
				      "branch", r->branch, "status",
				      r->run.status, NULL } };

		return !admit(fr) ||
		       put_sample(&fr->text, CIE_FAM_LAST_RUN_STATUS, &l, "1");
	}
	return true;
}

static bool render_run_family(struct cie_project_data *p, enum cie_family f)
{
	for (size_t i = 0; i < p->run_count; i++) {
		const struct cie_run_entry *r = &p->runs[i];
		struct labels l = { { "project", p->slug, "workflow", r->workflow,
				      "branch", r->branch, NULL } };
		bool ok;

		switch (f) {
		case CIE_FAM_LAST_RUN_STATUS:
			ok = render_status(&p->fragment, r, p->slug);
			break;
		case CIE_FAM_LAST_RUN_DURATION:
			ok = put_num(&p->fragment, f, &l, &r->run.duration);
			break;
		case CIE_FAM_LAST_RUN_CREDITS:
			ok = put_num(&p->fragment, f, &l, &r->run.credits_used);
			break;
		default:
			ok = put_num(&p->fragment, f, &l, &r->run.timestamp);
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

static bool put_project_value(struct cie_project_data *p, enum cie_family f,
			      double v)
{
	struct cie_num n = { .kind = CIE_NUM_REAL, .d = v };
	struct labels l = { { "project", p->slug, NULL } };
	char value[40];

	/* The exporter's own gauges do not count in circleci_exporter_series. */
	cie_format_num(&n, value, sizeof(value));
	return put_sample(&p->fragment.text, f, &l, value);
}

static bool render_project_family(struct cie_project_data *p,
				  enum cie_family f)
{
	switch (f) {
	case CIE_FAM_PROJECT_INFO:
		if (p->default_branch && admit(&p->fragment)) {
			struct labels l = { { "project", p->slug,
					      "default_branch",
					      p->default_branch, NULL } };

			return put_sample(&p->fragment.text, f, &l, "1");
		}
		return true;
	case CIE_FAM_PROJECT_UP:
		return !p->refreshed || put_project_value(p, f, p->up ? 1 : 0);
	case CIE_FAM_LAST_REFRESH:
		return p->last_success <= 0 ||
		       put_project_value(p, f, p->last_success);
	case CIE_FAM_REFRESH_DURATION:
		return !p->refreshed ||
		       put_project_value(p, f, p->refresh_duration);
	default:
		return p->next_refresh <= 0 ||
		       put_project_value(p, f, p->next_refresh);
	}
}

static bool render_flaky_family(struct cie_project_data *p, enum cie_family f)
{
	if (!p->has_flaky)
		return true;
	if (f == CIE_FAM_FLAKY_TESTS) {
		struct labels l = { { "project", p->slug, NULL } };

		return put_num(&p->fragment, f, &l, &p->flaky.total);
	}
	for (size_t i = 0; i < p->flaky.count; i++) {
		const struct cie_flaky_test *t = &p->flaky.tests[i];
		struct labels l = { { "project", p->slug, "workflow", t->workflow,
				      "job_name", t->job, "test_name",
				      t->test_name, "classname", t->classname,
				      NULL } };

		if (!put_num(&p->fragment, f, &l,
			     f == CIE_FAM_FLAKY_RUNS ? &t->times_flaked :
						       &t->time_wasted))
			return false;
	}
	return true;
}

static bool render_trend_family(struct cie_project_data *p, enum cie_family f)
{
	int field = (int)f - CIE_FAM_TREND_FIRST;

	for (size_t i = 0; i < p->trend_count; i++) {
		const struct cie_trend_entry *e = &p->trends[i];
		struct labels l = { { "project", p->slug, "workflow",
				      e->key.workflow, "branch", e->key.branch,
				      NULL } };

		if (!put_num(&p->fragment, f, &l, &e->trends.value[field]))
			return false;
	}
	return true;
}

static const struct cie_num *test_metrics_field(const struct cie_test_metrics *m,
						enum cie_family f)
{
	switch (f) {
	case CIE_FAM_TEST_RUNS:
		return &m->total_test_runs;
	case CIE_FAM_TESTS_PER_RUN:
		return &m->average_test_count;
	case CIE_FAM_MOST_FAILED_TESTS:
		return &m->most_failed_tests;
	default:
		return &m->slowest_tests;
	}
}

static bool render_test_family(struct cie_project_data *p, enum cie_family f)
{
	for (size_t i = 0; i < p->test_count; i++) {
		const struct cie_test_entry *e = &p->tests[i];
		struct labels l = { { "project", p->slug, "workflow",
				      e->key.workflow, "branch", e->key.branch,
				      NULL } };

		if (!put_num(&p->fragment, f, &l, test_metrics_field(&e->metrics, f)))
			return false;
	}
	return true;
}

static bool render_family(void *owner, enum cie_family f)
{
	struct cie_project_data *p = owner;

	if (f < CIE_FAM_JOB_RUNS)
		return render_workflow_family(p, f);
	if (f < CIE_FAM_LAST_RUN_STATUS)
		return render_job_family(p, f);
	if (f < CIE_FAM_FLAKY_TESTS)
		return render_run_family(p, f);
	if (f < CIE_FAM_TREND_FIRST)
		return render_flaky_family(p, f);
	if (f <= CIE_FAM_TREND_LAST)
		return render_trend_family(p, f);
	if (f < CIE_FAM_ORG_RUNS)
		return render_test_family(p, f);
	if (f < CIE_FAM_PROJECT_INFO)
		return true;  /* organization families: see cie_render_org() */
	return render_project_family(p, f);
}

static const struct cie_num *org_field(const struct cie_org_metrics *m,
				       enum cie_family f)
{
	switch (f) {
	case CIE_FAM_ORG_RUNS:
		return &m->total_runs;
	case CIE_FAM_ORG_SUCCESS_RATIO:
		return &m->success_rate;
	case CIE_FAM_ORG_THROUGHPUT:
		return &m->throughput;
	case CIE_FAM_ORG_DURATION:
		return &m->total_duration;
	default:
		return &m->total_credits_used;
	}
}

static const struct cie_num *org_project_field(const struct cie_org_project *p,
					       enum cie_family f)
{
	switch (f) {
	case CIE_FAM_ORG_PROJECT_RUNS:
		return &p->total_runs;
	case CIE_FAM_ORG_PROJECT_SUCCESS_RATIO:
		return &p->success_rate;
	case CIE_FAM_ORG_PROJECT_DURATION:
		return &p->total_duration;
	default:
		return &p->total_credits_used;
	}
}

/* The samples of one organization project family in window w. */
static bool render_org_projects(struct cie_org_data *o,
				const struct cie_org_window *w, enum cie_family f)
{
	struct cie_buf slug;
	bool ok = true;

	cie_buf_init(&slug, 0);
	for (size_t i = 0; ok && i < w->count; i++) {
		cie_buf_reset(&slug);
		/* The project label: the organization slug, "/", the project name. */
		ok = cie_buf_printf(&slug, "%s/%s", o->slug, w->projects[i].name);
		if (ok) {
			struct labels l = { { "org", o->slug, "project", slug.data,
					      "window", cie_window_name(w->window),
					      NULL } };

			ok = put_num(&o->fragment, f, &l,
				     org_project_field(&w->projects[i], f));
		}
	}
	cie_buf_cleanup(&slug);
	return ok;
}

static bool render_org_family(void *owner, enum cie_family f)
{
	struct cie_org_data *o = owner;

	if (f < CIE_FAM_ORG_RUNS || f > CIE_FAM_ORG_PROJECT_CREDITS)
		return true;
	for (size_t i = 0; i < o->window_count; i++) {
		const struct cie_org_window *w = &o->windows[i];
		struct labels l = { { "org", o->slug, "window",
				      cie_window_name(w->window), NULL } };

		if (f >= CIE_FAM_ORG_PROJECT_RUNS) {
			if (!render_org_projects(o, w, f))
				return false;
		} else if (!put_num(&o->fragment, f, &l, org_field(&w->metrics, f))) {
			return false;
		}
	}
	return true;
}

bool cie_render_stream_init(z_stream *stream)
{
	memset(stream, 0, sizeof(*stream));
	/* Level 1: the exposition is repetitive enough that speed costs little ratio. */
	return deflateInit2(stream, Z_BEST_SPEED, Z_DEFLATED, -15, 8,
			    Z_DEFAULT_STRATEGY) == Z_OK;
}

bool cie_render_deflate_piece(z_stream *stream, const void *text, size_t len,
			      bool finish, struct cie_buf *out, uint32_t *crc)
{
	int rc;

	*crc = (uint32_t)crc32(0, text, (uInt)len);
	if (deflateReset(stream) != Z_OK)
		return false;
	stream->next_in = (Bytef *)(uintptr_t)text;
	stream->avail_in = (uInt)len;
	do {
		if (!cie_buf_reserve(out, deflateBound(stream, (uLong)len) + 16))
			return false;
		stream->next_out = (Bytef *)out->data + out->len;
		stream->avail_out = (uInt)(out->cap - out->len - 1);
		/*
		 * A sync flush ends the piece on a byte boundary. The reset
		 * above already keeps it from referring to earlier pieces, so
		 * a full flush would only clear the hash table a second time.
		 */
		rc = deflate(stream, finish ? Z_FINISH : Z_SYNC_FLUSH);
		out->len = out->cap - 1 - stream->avail_out;
		if (rc == Z_STREAM_ERROR)
			return false;
	} while (stream->avail_out == 0 || (finish && rc != Z_STREAM_END));
	return true;
}

void cie_fragment_init(struct cie_fragment *f)
{
	memset(f, 0, sizeof(*f));
	cie_buf_init(&f->text, 0);
	cie_buf_init(&f->gz.data, 0);
}

void cie_fragment_cleanup(struct cie_fragment *f)
{
	cie_buf_cleanup(&f->text);
	cie_buf_cleanup(&f->gz.data);
}

/*
 * Render every family of owner into its fragment fr with render_one, then
 * deflate each family as a piece. The old fragment is kept on failure.
 */
static bool render_fragment(struct cie_fragment *fr, size_t max_series,
			    bool (*render_one)(void *owner, enum cie_family f),
			    void *owner, z_stream *stream)
{
	struct cie_fragment old = *fr;
	bool ok = true;

	cie_fragment_init(fr);
	fr->max_series = max_series;
	for (int f = 0; ok && f < CIE_FAM_COUNT; f++) {
		fr->offset[f] = fr->text.len;
		ok = render_one(owner, (enum cie_family)f);
	}
	fr->offset[CIE_FAM_COUNT] = fr->text.len;

	for (int f = 0; ok && f < CIE_FAM_COUNT; f++) {
		size_t len = fr->offset[f + 1] - fr->offset[f];

		fr->gz.offset[f] = fr->gz.data.len;
		fr->gz.crc[f] = 0;
		if (len)
			ok = cie_render_deflate_piece(stream,
						      fr->text.data + fr->offset[f],
						      len, false, &fr->gz.data,
						      &fr->gz.crc[f]);
	}
	fr->gz.offset[CIE_FAM_COUNT] = fr->gz.data.len;

	if (!ok) {
		cie_fragment_cleanup(fr);
		*fr = old;
		return false;
	}
	cie_fragment_cleanup(&old);
	return true;
}

bool cie_render_project(struct cie_project_data *p, z_stream *stream)
{
	return render_fragment(&p->fragment,
			       p->series_limited ? p->max_series : SIZE_MAX,
			       render_family, p, stream);
}

bool cie_render_org(struct cie_org_data *o, z_stream *stream)
{
	return render_fragment(&o->fragment,
			       o->series_limited ? o->max_series : SIZE_MAX,
			       render_org_family, o, stream);
}
