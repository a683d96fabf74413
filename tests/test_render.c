/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/render.c: number formatting, label escaping, the
 * sample lines of a project's fragment, and deflated pieces that join into
 * one raw deflate stream whose CRC-32 values combine.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "render.h"
#include "store.h"

static void check_format_double(int line, double v, const char *expected)
{
	char out[64];

	cie_format_double(v, out, sizeof(out));
	check_report(strcmp(out, expected) == 0, __FILE__, line,
		     "cie_format_double(%.17g): expected \"%s\", got \"%s\"", v,
		     expected, out);
	if (!isnan(v))
		check_report(strtod(out, NULL) == v, __FILE__, line,
			     "\"%s\": expected to read back as %.17g, got %.17g",
			     out, v, strtod(out, NULL));
}

#define CHECK_FORMAT_DOUBLE(v, expected) check_format_double(__LINE__, (v), (expected))

static void test_render_format_double_shortest(void)
{
	CHECK_FORMAT_DOUBLE(0.5975609756097561, "0.5975609756097561");
	CHECK_FORMAT_DOUBLE(11.714285714285714, "11.714285714285714");
	CHECK_FORMAT_DOUBLE(0.1, "0.1");
	CHECK_FORMAT_DOUBLE(0.1 + 0.2, "0.30000000000000004");
	/* C's %g writes at least two exponent digits, as Go's 'g' format does. */
	CHECK_FORMAT_DOUBLE(1e-7, "1e-07");
	CHECK_FORMAT_DOUBLE(3489, "3489");
	CHECK_FORMAT_DOUBLE(3489.0, "3489");
	CHECK_FORMAT_DOUBLE(0, "0");
	CHECK_FORMAT_DOUBLE(1e21, "1e+21");
	CHECK_FORMAT_DOUBLE(-0.5, "-0.5");
	CHECK_FORMAT_DOUBLE(1579648153.953, "1579648153.953");
	CHECK_FORMAT_DOUBLE(1579058424.927, "1579058424.927");
	CHECK_FORMAT_DOUBLE(123456789012345.0, "123456789012345");
}

static void test_render_format_double_special(void)
{
	CHECK_FORMAT_DOUBLE(NAN, "NaN");
	CHECK_FORMAT_DOUBLE(INFINITY, "+Inf");
	CHECK_FORMAT_DOUBLE(-INFINITY, "-Inf");
}

static void test_render_format_num_int(void)
{
	struct cie_num n = { .kind = CIE_NUM_INT };
	char out[64];

	n.i = 16216608;
	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "16216608");
	/* 2^53 + 1 has no exact double, so it must be printed without passing through one. */
	n.i = 9007199254740993LL;
	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "9007199254740993");
	n.i = -42;
	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "-42");
	n.i = 0;
	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "0");
}

static void test_render_format_num_real(void)
{
	struct cie_num n = { .kind = CIE_NUM_REAL, .d = 3489.0 };
	char out[64];

	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "3489");
	n.d = 0.5975609756097561;
	cie_format_num(&n, out, sizeof(out));
	CHECK_STR_EQ(out, "0.5975609756097561");
}

static void check_escape(int line, const char *value, const char *expected)
{
	struct cie_buf b;

	cie_buf_init(&b, 0);
	check_report(cie_render_escape_label(&b, value), __FILE__, line,
		     "cie_render_escape_label(\"%s\"): expected true, got false",
		     value);
	check_report(b.data && strcmp(b.data, expected) == 0, __FILE__, line,
		     "escaped: expected \"%s\", got \"%s\"", expected,
		     b.data ? b.data : "(null)");
	cie_buf_cleanup(&b);
}

static void test_render_escape_label_values(void)
{
	check_escape(__LINE__, "plain", "plain");
	check_escape(__LINE__, "a\\b", "a\\\\b");
	check_escape(__LINE__, "say \"hi\"", "say \\\"hi\\\"");
	check_escape(__LINE__, "line1\nline2", "line1\\nline2");
	check_escape(__LINE__, "deploy \"prod\" \\ eu", "deploy \\\"prod\\\" \\\\ eu");
	check_escape(__LINE__, "café ☕ crème-brûlée", "café ☕ crème-brûlée");
	check_escape(__LINE__, "tab\there", "tab\there");
	check_escape(__LINE__, "", "");
}

/* Return the text of family f in p's fragment, as a new string. */
static char *family_text(const struct cie_project_data *p, enum cie_family f)
{
	const struct cie_fragment *fr = &p->fragment;
	size_t len = fr->offset[f + 1] - fr->offset[f];
	char *s = malloc(len + 1);

	if (!s)
		abort();
	if (len)
		memcpy(s, fr->text.data + fr->offset[f], len);
	s[len] = '\0';
	return s;
}

static void check_family(int line, const struct cie_project_data *p,
			 enum cie_family f, const char *expected)
{
	char *text = family_text(p, f);

	check_report(strcmp(text, expected) == 0, __FILE__, line,
		     "family %d: expected\n%s\ngot\n%s", (int)f, expected, text);
	free(text);
}

#define CHECK_FAMILY(p, f, expected) check_family(__LINE__, (p), (f), (expected))

static struct cie_num int_num(long long v)
{
	struct cie_num n = { .kind = CIE_NUM_INT, .i = v };

	return n;
}

static struct cie_num real_num(double v)
{
	struct cie_num n = { .kind = CIE_NUM_REAL, .d = v };

	return n;
}

/*
 * A project with two workflows on branch main, window last-7-days: "build"
 * with every field, and `deploy "prod" \ eu` with only runs, success_rate
 * and the window start.
 */
static struct cie_project_data *sample_project(void)
{
	struct cie_project_data *p = cie_project_data_new("gh/acme/api");
	struct cie_summary_page page = { 0 };
	struct cie_summary *b, *d;

	if (!p)
		abort();
	page.items = calloc(2, sizeof(*page.items));
	if (!page.items)
		abort();
	page.count = 2;
	d = &page.items[0];
	d->name = strdup("deploy \"prod\" \\ eu");
	d->total_runs = int_num(3);
	d->success_rate = real_num(0.5);
	d->window_start = real_num(1579058424.927);

	b = &page.items[1];
	b->name = strdup("build");
	b->total_runs = int_num(82);
	b->successful_runs = int_num(49);
	b->failed_runs = int_num(33);
	b->success_rate = real_num(0.5975609756097561);
	b->throughput = real_num(11.714285714285714);
	b->mttr = int_num(46466);
	b->total_recoveries = int_num(7);
	for (int i = 0; i < CIE_DUR_COUNT; i++)
		b->duration[i] = int_num(100 * (i + 1));
	b->duration[CIE_DUR_STDDEV] = real_num(3489.0);
	b->total_credits_used = int_num(16216608);
	b->window_start = real_num(1579058424.927);
	b->window_end = real_num(1579648984.39);
	if (!d->name || !b->name || !cie_store_put_workflows(p, "main", CIE_WINDOW_7D, &page))
		abort();
	return p;
}

#define BUILD_LABELS "{project=\"gh/acme/api\",workflow=\"build\",branch=\"main\",window=\"last-7-days\"}"
#define DEPLOY_LABELS "{project=\"gh/acme/api\",workflow=\"deploy \\\"prod\\\" \\\\ eu\",branch=\"main\",window=\"last-7-days\"}"

static void test_render_project_workflow_lines(void)
{
	struct cie_project_data *p = sample_project();
	z_stream stream;

	if (!CHECK(cie_render_stream_init(&stream),
		   "cie_render_stream_init: expected true, got false"))
		goto out;
	if (!CHECK(cie_render_project(p, &stream),
		   "cie_render_project: expected true, got false"))
		goto end;
	CHECK_FAMILY(p, CIE_FAM_WF_RUNS,
		     "circleci_workflow_runs" BUILD_LABELS " 82\n"
		     "circleci_workflow_runs" DEPLOY_LABELS " 3\n");
	CHECK_FAMILY(p, CIE_FAM_WF_SUCCESS_RATIO,
		     "circleci_workflow_success_ratio" BUILD_LABELS " 0.5975609756097561\n"
		     "circleci_workflow_success_ratio" DEPLOY_LABELS " 0.5\n");
	CHECK_FAMILY(p, CIE_FAM_WF_THROUGHPUT,
		     "circleci_workflow_throughput_runs_per_day" BUILD_LABELS
		     " 11.714285714285714\n");
	CHECK_FAMILY(p, CIE_FAM_WF_MTTR,
		     "circleci_workflow_mttr_seconds" BUILD_LABELS " 46466\n");
	CHECK_FAMILY(p, CIE_FAM_WF_RECOVERIES,
		     "circleci_workflow_recoveries" BUILD_LABELS " 7\n");
	CHECK_FAMILY(p, CIE_FAM_WF_DURATION_FIRST + CIE_DUR_MIN,
		     "circleci_workflow_duration_min_seconds" BUILD_LABELS " 100\n");
	CHECK_FAMILY(p, CIE_FAM_WF_DURATION_FIRST + CIE_DUR_P95,
		     "circleci_workflow_duration_p95_seconds" BUILD_LABELS " 400\n");
	CHECK_FAMILY(p, CIE_FAM_WF_DURATION_FIRST + CIE_DUR_STDDEV,
		     "circleci_workflow_duration_stddev_seconds" BUILD_LABELS " 3489\n");
	CHECK_FAMILY(p, CIE_FAM_WF_CREDITS,
		     "circleci_workflow_credits_used" BUILD_LABELS " 16216608\n");
	CHECK_FAMILY(p, CIE_FAM_WF_WINDOW_START,
		     "circleci_workflow_window_start_timestamp_seconds" BUILD_LABELS
		     " 1579058424.927\n"
		     "circleci_workflow_window_start_timestamp_seconds" DEPLOY_LABELS
		     " 1579058424.927\n");
	CHECK_FAMILY(p, CIE_FAM_WF_WINDOW_END,
		     "circleci_workflow_window_end_timestamp_seconds" BUILD_LABELS
		     " 1579648984.39\n");
	/* 16 values of build, 3 of deploy. */
	CHECK_INT_EQ(p->fragment.series, 19);
end:
	deflateEnd(&stream);
out:
	cie_project_data_free(p);
}

static void test_render_absent_gives_no_line(void)
{
	struct cie_project_data *p = sample_project();
	z_stream stream;

	if (!CHECK(cie_render_stream_init(&stream),
		   "cie_render_stream_init: expected true, got false"))
		goto out;
	if (!CHECK(cie_render_project(p, &stream),
		   "cie_render_project: expected true, got false"))
		goto end;
	/* Neither workflow has these, and no job, run or refresh exists yet. */
	for (int f = CIE_FAM_JOB_RUNS; f < CIE_FAM_COUNT; f++)
		CHECK_FAMILY(p, (enum cie_family)f, "");
	CHECK(strstr(p->fragment.text.data, "# HELP") == NULL,
	      "fragment: expected no HELP line (added by the snapshot), got one");
	CHECK(strstr(p->fragment.text.data, DEPLOY_LABELS " 0\n") == NULL,
	      "fragment: expected no 0 for an absent field of deploy, got one");
end:
	deflateEnd(&stream);
out:
	cie_project_data_free(p);
}

static void test_render_project_run_and_state(void)
{
	struct cie_project_data *p = sample_project();
	struct cie_last_run run = { 0 };
	z_stream stream;

	run.found = true;
	run.status = strdup("failed");
	run.duration = int_num(9263);
	run.credits_used = int_num(198981);
	run.timestamp = real_num(1579648153.953);
	if (!run.status || !cie_store_put_run(p, "main", "build", &run))
		abort();
	p->default_branch = strdup("main");
	p->refreshed = true;
	p->up = true;
	p->last_success = 1700000000.5;
	p->refresh_duration = 2.25;
	p->next_refresh = 1700000900;

	if (!CHECK(cie_render_stream_init(&stream),
		   "cie_render_stream_init: expected true, got false"))
		goto out;
	if (!CHECK(cie_render_project(p, &stream),
		   "cie_render_project: expected true, got false"))
		goto end;
#define RUN_LABELS "project=\"gh/acme/api\",workflow=\"build\",branch=\"main\""
	CHECK_FAMILY(p, CIE_FAM_LAST_RUN_STATUS,
		     "circleci_workflow_last_run_status{" RUN_LABELS ",status=\"success\"} 0\n"
		     "circleci_workflow_last_run_status{" RUN_LABELS ",status=\"failed\"} 1\n"
		     "circleci_workflow_last_run_status{" RUN_LABELS ",status=\"error\"} 0\n"
		     "circleci_workflow_last_run_status{" RUN_LABELS ",status=\"canceled\"} 0\n"
		     "circleci_workflow_last_run_status{" RUN_LABELS ",status=\"unauthorized\"} 0\n");
	CHECK_FAMILY(p, CIE_FAM_LAST_RUN_DURATION,
		     "circleci_workflow_last_run_duration_seconds{" RUN_LABELS "} 9263\n");
	CHECK_FAMILY(p, CIE_FAM_LAST_RUN_CREDITS,
		     "circleci_workflow_last_run_credits_used{" RUN_LABELS "} 198981\n");
	CHECK_FAMILY(p, CIE_FAM_LAST_RUN_TIMESTAMP,
		     "circleci_workflow_last_run_timestamp_seconds{" RUN_LABELS
		     "} 1579648153.953\n");
#undef RUN_LABELS
	CHECK_FAMILY(p, CIE_FAM_PROJECT_INFO,
		     "circleci_project_info{project=\"gh/acme/api\",default_branch=\"main\"} 1\n");
	CHECK_FAMILY(p, CIE_FAM_PROJECT_UP,
		     "circleci_exporter_project_up{project=\"gh/acme/api\"} 1\n");
	CHECK_FAMILY(p, CIE_FAM_LAST_REFRESH,
		     "circleci_exporter_last_refresh_timestamp_seconds{project=\"gh/acme/api\"} 1700000000.5\n");
	CHECK_FAMILY(p, CIE_FAM_REFRESH_DURATION,
		     "circleci_exporter_refresh_duration_seconds{project=\"gh/acme/api\"} 2.25\n");
	CHECK_FAMILY(p, CIE_FAM_NEXT_REFRESH,
		     "circleci_exporter_next_refresh_timestamp_seconds{project=\"gh/acme/api\"} 1700000900\n");
end:
	deflateEnd(&stream);
out:
	cie_project_data_free(p);
}

static void test_render_family_headers(void)
{
	const char *h = cie_render_family_header(CIE_FAM_WF_RUNS);

	CHECK(strncmp(h, "# HELP circleci_workflow_runs ", 30) == 0,
	      "header: expected \"# HELP circleci_workflow_runs ...\", got \"%s\"", h);
	CHECK(strstr(h, "\n# TYPE circleci_workflow_runs gauge\n") != NULL,
	      "header: expected the TYPE gauge line, got \"%s\"", h);
	for (int f = 0; f < CIE_FAM_PROJECT_UP; f++) {
		h = cie_render_family_header((enum cie_family)f);
		CHECK(strstr(h, "Cached from the CircleCI API") != NULL,
		      "header of family %d: expected HELP to say the values are cached, got \"%s\"",
		      f, h);
	}
	for (int f = 0; f < CIE_FAM_COUNT; f++) {
		h = cie_render_family_header((enum cie_family)f);
		CHECK(h[strlen(h) - 1] == '\n',
		      "header of family %d: expected a final newline, got \"%s\"", f, h);
	}
}

/* Inflate raw deflate data; returns the zlib result of the last inflate() call. */
static int inflate_raw(const void *data, size_t len, struct cie_buf *out,
		       size_t *unused)
{
	z_stream s;
	unsigned char chunk[4096];
	int rc;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -15) != Z_OK)
		return Z_STREAM_ERROR;
	s.next_in = (Bytef *)(uintptr_t)data;
	s.avail_in = (uInt)len;
	do {
		s.next_out = chunk;
		s.avail_out = sizeof(chunk);
		rc = inflate(&s, Z_NO_FLUSH);
		cie_buf_append(out, chunk, sizeof(chunk) - s.avail_out);
	} while (rc == Z_OK && (s.avail_in > 0 || s.avail_out == 0));
	*unused = s.avail_in;
	inflateEnd(&s);
	return rc;
}

static void test_render_deflate_pieces_join(void)
{
	static const char *const texts[] = {
		"alpha alpha alpha\n", "", "beta\nbeta\nbeta beta beta\n",
		"gamma \"quoted\" \\ text\n",
	};
	const size_t count = sizeof(texts) / sizeof(texts[0]);
	struct cie_buf joined, text, inflated;
	uint32_t crc, combined = 0;
	size_t unused = 0;
	z_stream stream;
	int rc;

	cie_buf_init(&joined, 0);
	cie_buf_init(&text, 0);
	cie_buf_init(&inflated, 0);
	if (!CHECK(cie_render_stream_init(&stream),
		   "cie_render_stream_init: expected true, got false"))
		return;
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(texts[i]);

		CHECK(cie_render_deflate_piece(&stream, texts[i], len, i + 1 == count,
					       &joined, &crc),
		      "piece %zu: expected true, got false", i);
		CHECK_INT_EQ(crc, crc32(0, (const Bytef *)texts[i], (uInt)len));
		combined = (uint32_t)crc32_combine(combined, crc, (z_off_t)len);
		cie_buf_puts(&text, texts[i]);
	}
	deflateEnd(&stream);

	rc = inflate_raw(joined.data, joined.len, &inflated, &unused);
	CHECK(rc == Z_STREAM_END, "inflate: expected Z_STREAM_END (%d), got %d",
	      Z_STREAM_END, rc);
	CHECK_INT_EQ(unused, 0);
	CHECK_INT_EQ(inflated.len, text.len);
	CHECK(inflated.len == text.len &&
	      memcmp(inflated.data, text.data, text.len) == 0,
	      "inflated: expected \"%s\", got \"%s\"", text.data,
	      inflated.data ? inflated.data : "");
	CHECK_INT_EQ(combined, crc32(0, (const Bytef *)text.data, (uInt)text.len));
	cie_buf_cleanup(&joined);
	cie_buf_cleanup(&text);
	cie_buf_cleanup(&inflated);
}

static void test_render_fragment_pieces_inflate(void)
{
	struct cie_project_data *p = sample_project();
	const struct cie_fragment *fr = &p->fragment;
	struct cie_buf joined, inflated;
	uint32_t crc, combined = 0;
	size_t unused = 0;
	z_stream stream;
	int rc;

	cie_buf_init(&joined, 0);
	cie_buf_init(&inflated, 0);
	if (!CHECK(cie_render_stream_init(&stream),
		   "cie_render_stream_init: expected true, got false"))
		goto out;
	if (!CHECK(cie_render_project(p, &stream),
		   "cie_render_project: expected true, got false"))
		goto end;
	for (int f = 0; f < CIE_FAM_COUNT; f++) {
		size_t text_len = fr->offset[f + 1] - fr->offset[f];

		cie_buf_append(&joined, fr->gz.data.data + fr->gz.offset[f],
			       fr->gz.offset[f + 1] - fr->gz.offset[f]);
		combined = (uint32_t)crc32_combine(combined, fr->gz.crc[f],
						   (z_off_t)text_len);
	}
	/* A finishing empty piece ends the stream, as a scrape's tail does. */
	CHECK(cie_render_deflate_piece(&stream, "", 0, true, &joined, &crc),
	      "finishing piece: expected true, got false");
	rc = inflate_raw(joined.data, joined.len, &inflated, &unused);
	CHECK(rc == Z_STREAM_END, "inflate: expected Z_STREAM_END (%d), got %d",
	      Z_STREAM_END, rc);
	CHECK_INT_EQ(unused, 0);
	CHECK(inflated.len == fr->text.len &&
	      memcmp(inflated.data, fr->text.data, fr->text.len) == 0,
	      "inflated: expected the %zu bytes of the fragment text, got %zu bytes",
	      fr->text.len, inflated.len);
	CHECK_INT_EQ(combined, crc32(0, (const Bytef *)fr->text.data,
				     (uInt)fr->text.len));
end:
	deflateEnd(&stream);
out:
	cie_buf_cleanup(&joined);
	cie_buf_cleanup(&inflated);
	cie_project_data_free(p);
}

int main(void)
{
	RUN(test_render_format_double_shortest);
	RUN(test_render_format_double_special);
	RUN(test_render_format_num_int);
	RUN(test_render_format_num_real);
	RUN(test_render_escape_label_values);
	RUN(test_render_project_workflow_lines);
	RUN(test_render_absent_gives_no_line);
	RUN(test_render_project_run_and_state);
	RUN(test_render_family_headers);
	RUN(test_render_deflate_pieces_join);
	RUN(test_render_fragment_pieces_inflate);
	return check_summary();
}
