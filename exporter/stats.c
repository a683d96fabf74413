/* SPDX-License-Identifier: MIT */
/*
 * The exporter's own metrics and the process_* metrics.
 */
#include "stats.h"

#include <curl/curl.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "render.h"
#include "timeutil.h"

#define CODE_SLOTS 24
#define BUCKET_COUNT 11

static const double buckets[BUCKET_COUNT] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60,
};

static const char *const endpoint_names[CIE_EP_COUNT] = {
	"project", "workflows", "jobs", "runs", "summary", "test_metrics",
	"flaky_tests", "branches", "org_summary",
};

static const char *const limit_names[CIE_LIMIT_COUNT] = {
	"max_response_bytes", "max_pages", "max_series_per_project",
	"max_series_per_org", "max_flaky_tests_per_project",
	"max_branches_per_project",
};

struct code_count {
	long status;              /* 0 = transport error */
	unsigned long long count;
};

struct endpoint_stats {
	bool used;
	struct code_count codes[CODE_SLOTS];
	size_t code_count;
	unsigned long long parse_errors;
	unsigned long long retries;
	unsigned long long bucket_counts[BUCKET_COUNT];
	unsigned long long observations;
	double seconds_sum;
};

static struct {
	pthread_mutex_t lock;
	char version[64];
	char revision[64];
	struct endpoint_stats endpoints[CIE_EP_COUNT];
	unsigned long long rate_limited;
	unsigned long long limit_hits[CIE_LIMIT_COUNT];
	bool have_remaining;
	double remaining;
	double request_rate;
	bool overloaded;
	double start_time;
} stats = { .lock = PTHREAD_MUTEX_INITIALIZER };

const char *cie_endpoint_name(enum cie_endpoint ep)
{
	return (unsigned)ep < CIE_EP_COUNT ? endpoint_names[ep] : "unknown";
}

const char *cie_limit_name(enum cie_limit limit)
{
	return (unsigned)limit < CIE_LIMIT_COUNT ? limit_names[limit] : "unknown";
}

/* Read the process start time from /proc/self/stat, else use now. */
static double process_start_time(void)
{
	char text[1024];
	unsigned long long ticks = 0;
	double boot = 0;
	char *p;
	size_t n;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f)
		return cie_time_now();
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* Field 22 (starttime) follows the command name in parentheses. */
	p = strrchr(text, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		ticks = strtoull(p + 1, NULL, 10);

	f = fopen("/proc/stat", "r");
	while (f && fgets(text, sizeof(text), f)) {
		if (sscanf(text, "btime %lf", &boot) == 1)
			break;
	}
	if (f)
		fclose(f);
	if (boot <= 0)
		return cie_time_now();
	return boot + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

void cie_stats_init(const char *version, const char *revision)
{
	pthread_mutex_lock(&stats.lock);
	snprintf(stats.version, sizeof(stats.version), "%s", version);
	snprintf(stats.revision, sizeof(stats.revision), "%s", revision);
	stats.start_time = process_start_time();
	pthread_mutex_unlock(&stats.lock);
}

void cie_stats_request(enum cie_endpoint ep, long status, double seconds)
{
	struct endpoint_stats *e = &stats.endpoints[ep];
	size_t i;

	pthread_mutex_lock(&stats.lock);
	e->used = true;
	for (i = 0; i < e->code_count && e->codes[i].status != status; i++)
		;
	if (i == e->code_count && e->code_count < CODE_SLOTS) {
		e->codes[i].status = status;
		e->code_count++;
	}
	if (i < e->code_count)
		e->codes[i].count++;
	for (size_t b = 0; b < BUCKET_COUNT; b++) {
		if (seconds <= buckets[b])
			e->bucket_counts[b]++;
	}
	e->observations++;
	e->seconds_sum += seconds;
	pthread_mutex_unlock(&stats.lock);
}

#define LOCKED(statement) \
	do { \
		pthread_mutex_lock(&stats.lock); \
		statement; \
		pthread_mutex_unlock(&stats.lock); \
	} while (0)

void cie_stats_parse_error(enum cie_endpoint ep)
{
	LOCKED(stats.endpoints[ep].parse_errors++);
}

void cie_stats_retry(enum cie_endpoint ep)
{
	LOCKED(stats.endpoints[ep].retries++);
}

void cie_stats_rate_limited(void)
{
	LOCKED(stats.rate_limited++);
}

void cie_stats_limit_hit(enum cie_limit limit)
{
	LOCKED(stats.limit_hits[limit]++);
}

void cie_stats_set_rate_limit_remaining(double remaining)
{
	LOCKED(stats.have_remaining = true; stats.remaining = remaining);
}

void cie_stats_set_request_rate(double rate)
{
	LOCKED(stats.request_rate = rate);
}

void cie_stats_set_overloaded(bool overloaded)
{
	LOCKED(stats.overloaded = overloaded);
}

/* Write "# HELP" and "# TYPE"; OpenMetrics names counters without _total. */
static void put_header(struct cie_buf *b, enum cie_format fmt,
		       const char *name, const char *type, const char *help)
{
	size_t n = strlen(name);

	if (fmt == CIE_FORMAT_OPENMETRICS && strcmp(type, "counter") == 0 &&
	    n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	cie_buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name,
		       help, (int)n, name, type);
}

static void put_value(struct cie_buf *b, const char *name, const char *labels,
		      double v)
{
	char value[40];

	cie_format_double(v, value, sizeof(value));
	cie_buf_printf(b, "%s%s %s\n", name, labels, value);
}

static void render_build_info(struct cie_buf *b, enum cie_format fmt)
{
	put_header(b, fmt, "circleci_exporter_build_info", "gauge",
		   "Build information of the exporter, always 1.");
	cie_buf_puts(b, "circleci_exporter_build_info{version=\"");
	cie_render_escape_label(b, stats.version);
	cie_buf_puts(b, "\",revision=\"");
	cie_render_escape_label(b, stats.revision);
	cie_buf_puts(b, "\",curl_version=\"");
	cie_render_escape_label(b, curl_version_info(CURLVERSION_NOW)->version);
	cie_buf_puts(b, "\"} 1\n");
}

static void render_requests(struct cie_buf *b, enum cie_format fmt)
{
	char labels[96];

	put_header(b, fmt, "circleci_exporter_api_requests_total", "counter",
		   "HTTP exchanges with the CircleCI API, retries and 429s included; code is the HTTP status or error for a transport failure.");
	for (int ep = 0; ep < CIE_EP_COUNT; ep++) {
		const struct endpoint_stats *e = &stats.endpoints[ep];

		for (size_t i = 0; i < e->code_count; i++) {
			if (e->codes[i].status)
				snprintf(labels, sizeof(labels),
					 "{endpoint=\"%s\",code=\"%ld\"}",
					 endpoint_names[ep], e->codes[i].status);
			else
				snprintf(labels, sizeof(labels),
					 "{endpoint=\"%s\",code=\"error\"}",
					 endpoint_names[ep]);
			put_value(b, "circleci_exporter_api_requests_total", labels,
				  (double)e->codes[i].count);
		}
	}
}

/* One counter family with an endpoint label, for the endpoints in use. */
static void render_endpoint_counter(struct cie_buf *b, enum cie_format fmt,
				    const char *name, const char *help,
				    size_t field_offset)
{
	char labels[64];

	put_header(b, fmt, name, "counter", help);
	for (int ep = 0; ep < CIE_EP_COUNT; ep++) {
		const struct endpoint_stats *e = &stats.endpoints[ep];

		if (!e->used)
			continue;
		snprintf(labels, sizeof(labels), "{endpoint=\"%s\"}",
			 endpoint_names[ep]);
		put_value(b, name, labels,
			  (double)*(const unsigned long long *)(const void *)
				  ((const char *)e + field_offset));
	}
}

static void render_histogram(struct cie_buf *b, enum cie_format fmt)
{
	const char *name = "circleci_exporter_api_request_duration_seconds";
	char labels[96], bound[32];

	put_header(b, fmt, name, "histogram",
		   "Duration of HTTP exchanges with the CircleCI API, in seconds.");
	for (int ep = 0; ep < CIE_EP_COUNT; ep++) {
		const struct endpoint_stats *e = &stats.endpoints[ep];

		if (!e->used)
			continue;
		for (size_t i = 0; i < BUCKET_COUNT; i++) {
			cie_format_double(buckets[i], bound, sizeof(bound));
			/* OpenMetrics wants bucket bounds as floats. */
			snprintf(labels, sizeof(labels),
				 "{endpoint=\"%s\",le=\"%s%s\"}", endpoint_names[ep],
				 bound,
				 fmt == CIE_FORMAT_OPENMETRICS && !strpbrk(bound, ".e") ?
					 ".0" : "");
			cie_buf_printf(b, "%s_bucket%s %llu\n", name, labels,
				       e->bucket_counts[i]);
		}
		snprintf(labels, sizeof(labels), "{endpoint=\"%s\",le=\"+Inf\"}",
			 endpoint_names[ep]);
		cie_buf_printf(b, "%s_bucket%s %llu\n", name, labels, e->observations);
		snprintf(labels, sizeof(labels), "{endpoint=\"%s\"}",
			 endpoint_names[ep]);
		cie_buf_printf(b, "%s_sum", name);
		put_value(b, "", labels, e->seconds_sum);
		cie_buf_printf(b, "%s_count%s %llu\n", name, labels, e->observations);
	}
}

static void render_rate_state(struct cie_buf *b, enum cie_format fmt,
			      size_t series)
{
	char labels[64];

	put_header(b, fmt, "circleci_exporter_api_rate_limited_total", "counter",
		   "Answers of the CircleCI API with status 429 (rate limited).");
	put_value(b, "circleci_exporter_api_rate_limited_total", "",
		  (double)stats.rate_limited);
	if (stats.have_remaining) {
		put_header(b, fmt, "circleci_exporter_api_rate_limit_remaining",
			   "gauge",
			   "Last RateLimit-Remaining or X-RateLimit-Remaining header seen from the CircleCI API.");
		put_value(b, "circleci_exporter_api_rate_limit_remaining", "",
			  stats.remaining);
	}
	put_header(b, fmt, "circleci_exporter_api_request_rate", "gauge",
		   "Current rate of the request token bucket, in requests per second; lower than configured after a 429.");
	put_value(b, "circleci_exporter_api_request_rate", "", stats.request_rate);
	put_header(b, fmt, "circleci_exporter_schedule_overloaded", "gauge",
		   "1 when a full refresh cycle does not fit in the interval at the configured rate, else 0.");
	put_value(b, "circleci_exporter_schedule_overloaded", "",
		  stats.overloaded ? 1 : 0);
	put_header(b, fmt, "circleci_exporter_limit_hits_total", "counter",
		   "Times a configured cap dropped data, by limit.");
	for (int i = 0; i < CIE_LIMIT_COUNT; i++) {
		snprintf(labels, sizeof(labels), "{limit=\"%s\"}", limit_names[i]);
		put_value(b, "circleci_exporter_limit_hits_total", labels,
			  (double)stats.limit_hits[i]);
	}
	put_header(b, fmt, "circleci_exporter_series", "gauge",
		   "Series of CircleCI data in the current snapshot.");
	put_value(b, "circleci_exporter_series", "", (double)series);
}

static unsigned count_open_fds(void)
{
	unsigned n = 0;
	struct dirent *entry;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return 0;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] != '.')
			n++;
	}
	closedir(dir);
	/* opendir() itself uses one descriptor while counting. */
	return n ? n - 1 : 0;
}

static void render_process(struct cie_buf *b, enum cie_format fmt)
{
	unsigned long long utime = 0, stime = 0, vsize = 0;
	long long rss = 0;
	struct rlimit limit;
	char text[1024];
	char *p;
	size_t n;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	p = strrchr(text, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %llu %lld",
			 &utime, &stime, &vsize, &rss) != 4)
		return;

	put_header(b, fmt, "process_cpu_seconds_total", "counter",
		   "Total user and system CPU time spent in seconds.");
	put_value(b, "process_cpu_seconds_total", "",
		  (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK));
	put_header(b, fmt, "process_open_fds", "gauge",
		   "Number of open file descriptors.");
	put_value(b, "process_open_fds", "", count_open_fds());
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
		put_header(b, fmt, "process_max_fds", "gauge",
			   "Maximum number of open file descriptors.");
		put_value(b, "process_max_fds", "", (double)limit.rlim_cur);
	}
	put_header(b, fmt, "process_virtual_memory_bytes", "gauge",
		   "Virtual memory size in bytes.");
	put_value(b, "process_virtual_memory_bytes", "", (double)vsize);
	put_header(b, fmt, "process_resident_memory_bytes", "gauge",
		   "Resident memory size in bytes.");
	put_value(b, "process_resident_memory_bytes", "",
		  (double)rss * (double)sysconf(_SC_PAGESIZE));
	put_header(b, fmt, "process_start_time_seconds", "gauge",
		   "Start time of the process since unix epoch in seconds.");
	put_value(b, "process_start_time_seconds", "", stats.start_time);
}

bool cie_stats_render(struct cie_buf *out, enum cie_format fmt, size_t series,
		      bool process)
{
	pthread_mutex_lock(&stats.lock);
	render_build_info(out, fmt);
	render_requests(out, fmt);
	render_endpoint_counter(out, fmt, "circleci_exporter_api_parse_errors_total",
				"Answers of the CircleCI API whose body was not the JSON expected.",
				offsetof(struct endpoint_stats, parse_errors));
	render_endpoint_counter(out, fmt, "circleci_exporter_api_retries_total",
				"Requests to the CircleCI API repeated after a failure.",
				offsetof(struct endpoint_stats, retries));
	render_histogram(out, fmt);
	render_rate_state(out, fmt, series);
	pthread_mutex_unlock(&stats.lock);
	if (process)
		render_process(out, fmt);
	if (fmt == CIE_FORMAT_OPENMETRICS)
		cie_buf_puts(out, "# EOF\n");
	return !out->overflow && out->data != NULL;
}
