/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/snapshot.c: a snapshot assembled from the
 * fragments of two projects, published and served as scrape responses in
 * both formats, plain and as one gzip member.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "render.h"
#include "snapshot.h"
#include "stats.h"
#include "store.h"

static struct cie_num int_num(long long v)
{
	struct cie_num n = { .kind = CIE_NUM_INT, .i = v };

	return n;
}

/* Put workflows named names[0..count) on (main, last-7-days) of p. */
static void put_workflows(struct cie_project_data *p, const char *const *names,
			  size_t count, long long runs)
{
	struct cie_summary_page page = { 0 };

	page.items = calloc(count, sizeof(*page.items));
	if (!page.items)
		abort();
	for (size_t i = 0; i < count; i++) {
		page.items[i].name = strdup(names[i]);
		if (!page.items[i].name)
			abort();
		page.items[i].total_runs = int_num(runs + (long long)i);
		page.items[i].failed_runs = int_num((long long)i);
	}
	page.count = count;
	if (!cie_store_put_workflows(p, "main", CIE_WINDOW_7D, &page))
		abort();
	cie_summary_page_cleanup(&page);
}

/* Two rendered projects: gh/acme/api (build) and gh/acme/web (build, lint, a run). */
static void make_projects(struct cie_project_data *projects[2])
{
	static const char *const api[] = { "build" };
	static const char *const web[] = { "build", "lint" };
	struct cie_last_run run = { 0 };
	z_stream stream;

	projects[0] = cie_project_data_new("gh/acme/api");
	projects[1] = cie_project_data_new("gh/acme/web");
	if (!projects[0] || !projects[1])
		abort();
	put_workflows(projects[0], api, 1, 10);
	put_workflows(projects[1], web, 2, 20);
	run.found = true;
	run.status = strdup("success");
	run.duration = int_num(61);
	if (!run.status || !cie_store_put_run(projects[1], "main", "lint", &run))
		abort();
	for (int i = 0; i < 2; i++) {
		projects[i]->default_branch = strdup("main");
		projects[i]->refreshed = true;
		projects[i]->up = i == 0;
	}
	if (!cie_render_stream_init(&stream))
		abort();
	for (int i = 0; i < 2; i++) {
		if (!cie_render_project(projects[i], &stream))
			abort();
	}
	deflateEnd(&stream);
}

/* The snapshot text expected from the fragments: family by family, header first. */
static void expected_snapshot(struct cie_project_data *const projects[2],
			      struct cie_buf *out)
{
	for (int f = 0; f < CIE_FAM_COUNT; f++) {
		const struct cie_fragment *a = &projects[0]->fragment;
		const struct cie_fragment *b = &projects[1]->fragment;
		size_t len_a = a->offset[f + 1] - a->offset[f];
		size_t len_b = b->offset[f + 1] - b->offset[f];

		if (!len_a && !len_b)
			continue;
		cie_buf_puts(out, cie_render_family_header((enum cie_family)f));
		cie_buf_append(out, a->text.data + a->offset[f], len_a);
		cie_buf_append(out, b->text.data + b->offset[f], len_b);
	}
}

static void join_parts(const struct cie_part *parts, size_t n, struct cie_buf *out)
{
	for (size_t i = 0; i < n; i++)
		cie_buf_append(out, parts[i].data, parts[i].len);
}

#define MAX_FAMILIES 128

/*
 * Return true when name is already in list[0..count). Otherwise add it,
 * if there is room, and return false.
 */
static bool seen_before(char list[][128], size_t *count, const char *name)
{
	for (size_t i = 0; i < *count; i++) {
		if (strcmp(list[i], name) == 0)
			return true;
	}
	if (*count < MAX_FAMILIES)
		snprintf(list[(*count)++], sizeof(list[0]), "%s", name);
	return false;
}

/*
 * Check that each family of text is contiguous: one HELP line, then one
 * TYPE line of the same name, then only samples of that family. Returns
 * the number of families seen.
 */
static size_t check_families_contiguous(const char *text, const char *label)
{
	static char helps[MAX_FAMILIES][128], types[MAX_FAMILIES][128];
	size_t help_count = 0, type_count = 0;
	char family[128] = "", help[128] = "", name[128];
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (strncmp(line, "# HELP ", 7) == 0) {
			snprintf(help, sizeof(help), "%.*s",
				 (int)strcspn(line + 7, " "), line + 7);
			CHECK(!seen_before(helps, &help_count, help),
			      "%s: expected one HELP line for %s, got another", label,
			      help);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			snprintf(family, sizeof(family), "%.*s",
				 (int)strcspn(line + 7, " "), line + 7);
			CHECK(!seen_before(types, &type_count, family),
			      "%s: expected one TYPE line for %s, got another (family not contiguous)",
			      label, family);
			CHECK(strcmp(help, family) == 0,
			      "%s: expected the HELP line of %s right before its TYPE, got HELP of \"%s\"",
			      label, family, help);
		} else if (line[0] != '#') {
			size_t n = strcspn(line, "{ "), flen = strlen(family);
			const char *suffix;

			snprintf(name, sizeof(name), "%.*s", (int)n, line);
			suffix = name + (strncmp(name, family, flen) == 0 ? flen : 0);
			CHECK(suffix != name &&
			      (!*suffix || strcmp(suffix, "_total") == 0 ||
			       strcmp(suffix, "_bucket") == 0 ||
			       strcmp(suffix, "_sum") == 0 ||
			       strcmp(suffix, "_count") == 0),
			      "%s: expected a sample of family %s, got \"%.*s\"", label,
			      family, (int)len, line);
		}
		line += len + (end ? 1 : 0);
	}
	return type_count;
}

/* Inflate a gzip member (windowBits 31), checking it ends exactly at the end of data. */
static bool gunzip_single_member(const void *data, size_t len, struct cie_buf *out,
				 const char *label)
{
	z_stream s;
	unsigned char chunk[16384];
	int rc;

	memset(&s, 0, sizeof(s));
	if (!CHECK(inflateInit2(&s, 31) == Z_OK, "%s: inflateInit2 failed", label))
		return false;
	s.next_in = (Bytef *)(uintptr_t)data;
	s.avail_in = (uInt)len;
	do {
		s.next_out = chunk;
		s.avail_out = sizeof(chunk);
		rc = inflate(&s, Z_NO_FLUSH);
		cie_buf_append(out, chunk, sizeof(chunk) - s.avail_out);
	} while (rc == Z_OK);
	CHECK(rc == Z_STREAM_END, "%s: expected Z_STREAM_END (%d), got %d (%s)",
	      label, Z_STREAM_END, rc, s.msg ? s.msg : "no message");
	CHECK(s.avail_in == 0,
	      "%s: expected the member to end at the end of the data, got %u bytes after it",
	      label, s.avail_in);
	inflateEnd(&s);
	return rc == Z_STREAM_END && s.avail_in == 0;
}

static struct cie_project_data *projects[2];

static void publish_two_projects(void)
{
	struct cie_snapshot *s;

	make_projects(projects);
	s = cie_snapshot_build(projects, 2);
	if (!s)
		abort();
	cie_serve_publish(s);
}

static void test_snapshot_series_counted(void)
{
	struct cie_snapshot *s = cie_snapshot_build(projects, 2);

	if (!CHECK(s != NULL, "cie_snapshot_build: expected a snapshot, got NULL"))
		return;
	CHECK_INT_EQ(cie_snapshot_series(s),
		     projects[0]->fragment.series + projects[1]->fragment.series);
	cie_snapshot_unref(s);
}

static void test_snapshot_plain_families_joined(void)
{
	struct cie_answer *a = cie_serve_acquire(60);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_buf expected, first;
	size_t n;

	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	cie_buf_init(&expected, 0);
	cie_buf_init(&first, 0);
	expected_snapshot(projects, &expected);
	n = cie_answer_parts(a, CIE_FORMAT_TEXT, false, parts);
	CHECK_INT_EQ(n, 2);
	join_parts(parts, 1, &first);
	CHECK(first.len == expected.len &&
	      memcmp(first.data, expected.data, expected.len) == 0,
	      "snapshot part: expected\n%s\ngot\n%s", expected.data,
	      first.data ? first.data : "");
	CHECK(strstr(first.data, "workflow=\"lint\"") != NULL,
	      "snapshot part: expected the second project's workflow lint, got none");
	cie_buf_cleanup(&expected);
	cie_buf_cleanup(&first);
	cie_answer_release(a);
}

static void test_snapshot_families_contiguous(void)
{
	static const enum cie_format formats[] = { CIE_FORMAT_TEXT,
						   CIE_FORMAT_OPENMETRICS };
	struct cie_answer *a = cie_serve_acquire(60);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_buf text;

	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	for (size_t i = 0; i < 2; i++) {
		const char *label = formats[i] == CIE_FORMAT_TEXT ? "text" : "OpenMetrics";
		size_t n = cie_answer_parts(a, formats[i], false, parts);
		size_t families;

		cie_buf_init(&text, 0);
		join_parts(parts, n, &text);
		families = check_families_contiguous(text.data, label);
		CHECK(families >= 10, "%s: expected at least 10 families, got %zu",
		      label, families);
		CHECK(strstr(text.data, "\ncircleci_workflow_runs{project=\"gh/acme/api\"") != NULL &&
		      strstr(text.data, "\ncircleci_workflow_runs{project=\"gh/acme/web\"") != NULL,
		      "%s: expected circleci_workflow_runs of both projects", label);
		CHECK(strstr(text.data, "circleci_exporter_build_info{version=\"1.2.3-test\"") != NULL,
		      "%s: expected build_info with version 1.2.3-test, got none", label);
		CHECK(text.data[text.len - 1] == '\n',
		      "%s: expected a final newline, got '%c'", label,
		      text.data[text.len - 1]);
		cie_buf_cleanup(&text);
	}
	cie_answer_release(a);
}

static void test_snapshot_gzip_single_member(void)
{
	static const enum cie_format formats[] = { CIE_FORMAT_TEXT,
						   CIE_FORMAT_OPENMETRICS };
	struct cie_answer *a = cie_serve_acquire(60);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_buf plain, gz, inflated;

	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	for (size_t i = 0; i < 2; i++) {
		const char *label = formats[i] == CIE_FORMAT_TEXT ? "text" : "OpenMetrics";
		size_t n;

		cie_buf_init(&plain, 0);
		cie_buf_init(&gz, 0);
		cie_buf_init(&inflated, 0);
		n = cie_answer_parts(a, formats[i], false, parts);
		join_parts(parts, n, &plain);
		n = cie_answer_parts(a, formats[i], true, parts);
		join_parts(parts, n, &gz);
		CHECK(gz.len > 18, "%s: expected more than 18 bytes of gzip, got %zu",
		      label, gz.len);
		CHECK((unsigned char)gz.data[0] == 0x1f, "%s: expected gzip magic byte 0x1f, got 0x%02x",
		      label, (unsigned char)gz.data[0]);
		CHECK((unsigned char)gz.data[1] == 0x8b, "%s: expected gzip magic byte 0x8b, got 0x%02x",
		      label, (unsigned char)gz.data[1]);
		if (gunzip_single_member(gz.data, gz.len, &inflated, label))
			CHECK(inflated.len == plain.len &&
			      memcmp(inflated.data, plain.data, plain.len) == 0,
			      "%s: expected the gunzipped %zu bytes to equal the plain answer, got %zu bytes",
			      label, plain.len, inflated.len);
		cie_buf_cleanup(&plain);
		cie_buf_cleanup(&gz);
		cie_buf_cleanup(&inflated);
	}
	cie_answer_release(a);
}

static void test_snapshot_openmetrics_eof(void)
{
	struct cie_answer *a = cie_serve_acquire(60);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_buf om, text;
	size_t n;

	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	cie_buf_init(&om, 0);
	cie_buf_init(&text, 0);
	n = cie_answer_parts(a, CIE_FORMAT_OPENMETRICS, false, parts);
	join_parts(parts, n, &om);
	n = cie_answer_parts(a, CIE_FORMAT_TEXT, false, parts);
	join_parts(parts, n, &text);
	if (!CHECK(om.len >= 6, "OpenMetrics: expected at least 6 bytes, got %zu", om.len))
		goto out;
	CHECK(strcmp(om.data + om.len - 6, "# EOF\n") == 0,
	      "OpenMetrics: expected to end with \"# EOF\\n\", got \"%s\"",
	      om.data + om.len - 6);
	CHECK(strstr(om.data, "# EOF") == om.data + om.len - 6,
	      "OpenMetrics: expected one \"# EOF\" at the end, got another");
	CHECK(strstr(text.data, "# EOF") == NULL,
	      "text: expected no \"# EOF\", got one");
out:
	cie_buf_cleanup(&om);
	cie_buf_cleanup(&text);
	cie_answer_release(a);
}

static void test_snapshot_openmetrics_counter_names(void)
{
	struct cie_answer *a = cie_serve_acquire(0);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_buf om, text;
	size_t n;

	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	cie_buf_init(&om, 0);
	cie_buf_init(&text, 0);
	n = cie_answer_parts(a, CIE_FORMAT_OPENMETRICS, false, parts);
	join_parts(parts, n, &om);
	n = cie_answer_parts(a, CIE_FORMAT_TEXT, false, parts);
	join_parts(parts, n, &text);

	CHECK(strstr(om.data, "# TYPE circleci_exporter_api_requests counter\n") != NULL,
	      "OpenMetrics: expected \"# TYPE circleci_exporter_api_requests counter\", got none");
	CHECK(strstr(om.data, "# HELP circleci_exporter_api_requests ") != NULL,
	      "OpenMetrics: expected \"# HELP circleci_exporter_api_requests \", got none");
	CHECK(strstr(om.data, "# TYPE circleci_exporter_api_requests_total") == NULL,
	      "OpenMetrics: expected no TYPE line with _total, got one");
	CHECK(strstr(om.data, "# HELP circleci_exporter_api_requests_total") == NULL,
	      "OpenMetrics: expected no HELP line with _total, got one");
	CHECK(strstr(om.data, "\ncircleci_exporter_api_requests_total{endpoint=\"workflows\",code=\"200\"} 1\n") != NULL,
	      "OpenMetrics: expected the sample named with _total, got none");
	CHECK(strstr(text.data, "# TYPE circleci_exporter_api_requests_total counter\n") != NULL,
	      "text: expected \"# TYPE circleci_exporter_api_requests_total counter\", got none");
	cie_buf_cleanup(&om);
	cie_buf_cleanup(&text);
	cie_answer_release(a);
}

static void test_snapshot_new_publish_served(void)
{
	struct cie_snapshot *s = cie_snapshot_build(projects, 1);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct cie_answer *a;
	struct cie_buf text;
	size_t n;

	if (!CHECK(s != NULL, "cie_snapshot_build: expected a snapshot, got NULL"))
		return;
	cie_serve_publish(s);
	a = cie_serve_acquire(60);
	if (!CHECK(a != NULL, "cie_serve_acquire: expected an answer, got NULL"))
		return;
	cie_buf_init(&text, 0);
	n = cie_answer_parts(a, CIE_FORMAT_TEXT, false, parts);
	join_parts(parts, n, &text);
	CHECK(strstr(text.data, "project=\"gh/acme/api\"") != NULL,
	      "after publish: expected gh/acme/api, got none");
	CHECK(strstr(text.data, "project=\"gh/acme/web\"") == NULL,
	      "after publish: expected gh/acme/web gone, got it");
	cie_buf_cleanup(&text);
	cie_answer_release(a);
}

int main(void)
{
	cie_stats_init("1.2.3-test", "abcdef");
	cie_stats_request(CIE_EP_WORKFLOWS, 200, 0.3);
	publish_two_projects();
	RUN(test_snapshot_series_counted);
	RUN(test_snapshot_plain_families_joined);
	RUN(test_snapshot_families_contiguous);
	RUN(test_snapshot_gzip_single_member);
	RUN(test_snapshot_openmetrics_eof);
	RUN(test_snapshot_openmetrics_counter_names);
	RUN(test_snapshot_new_publish_served);
	cie_serve_shutdown();
	cie_project_data_free(projects[0]);
	cie_project_data_free(projects[1]);
	return check_summary();
}
