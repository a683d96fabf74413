/* SPDX-License-Identifier: MIT */
/*
 * Render benchmark: loads a benchmark fixture directory (see fixtures.py)
 * through the exporter's parsers into project stores, then times the
 * rendering of every project (text and deflate), the deflate step alone,
 * and the snapshot assembly. Prints one JSON object with the medians in
 * ms of this thread's CPU time (NAME_ms) and of wall time (NAME_wall_ms).
 *
 * Usage: render_bench FIXTURE_DIR [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "parse.h"
#include "render.h"
#include "snapshot.h"
#include "store.h"

#define MAX_PROJECTS 10000
#define MAX_ITERATIONS 101

static struct cie_project_data *projects[MAX_PROJECTS];
static size_t project_count;

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A point in time on both clocks: wall (monotonic) and this thread's CPU. */
struct stamp {
	double wall;
	double cpu;
};

static struct stamp now(void)
{
	return (struct stamp){ clock_ms(CLOCK_MONOTONIC),
			       clock_ms(CLOCK_THREAD_CPUTIME_ID) };
}

static void die(const char *problem, const char *detail)
{
	fprintf(stderr, "render_bench: %s: %s\n", problem, detail);
	exit(1);
}

/* Read dir/rel into a NUL-terminated buffer; the caller frees it. */
static char *read_file(const char *dir, const char *rel, size_t *len)
{
	char path[4096];
	FILE *f;
	char *data;
	long size;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (!f)
		die("cannot open", path);
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die("cannot read", path);
	data = malloc((size_t)size + 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
		die("cannot read", path);
	data[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return data;
}

/* Parse one manifest line (fields split on tabs) into the current project. */
static void load_line(const char *dir, char *line)
{
	char *kind = strtok(line, "\t\n");
	char *a = strtok(NULL, "\t\n");
	char *b = strtok(NULL, "\t\n");
	const char *file;
	struct cie_project_data *p = project_count ? projects[project_count - 1] : NULL;
	struct cie_summary_page page = { 0 };
	struct cie_last_run run = { 0 };
	struct cie_error err = { 0 };
	size_t len;
	char *body;
	bool ok = true;

	if (!kind || !a)
		return;
	if (strcmp(kind, "P") == 0) {
		if (project_count == MAX_PROJECTS || !b)
			die("manifest", "too many projects or a bad P line");
		p = cie_project_data_new(a);
		if (!p)
			die("out of memory", a);
		projects[project_count++] = p;
		body = read_file(dir, b, &len);
		if (cie_parse_project(body, len, &p->default_branch, &err) != CIE_OK)
			die("invalid project response", b);
		free(body);
		return;
	}
	if (!p || !p->default_branch)
		die("manifest", "a W, J or R line before the first P line");
	file = strcmp(kind, "W") == 0 ? a : b;
	if (!file)
		die("manifest", "a J or R line without a file name");
	body = read_file(dir, file, &len);
	if (strcmp(kind, "W") == 0) {
		if (cie_parse_summary_page(body, len, &page, &err) != CIE_OK)
			die("invalid workflows response", a);
		ok = cie_store_put_workflows(p, p->default_branch, CIE_WINDOW_7D, &page);
	} else if (strcmp(kind, "J") == 0) {
		if (cie_parse_summary_page(body, len, &page, &err) != CIE_OK)
			die("invalid jobs response", b);
		ok = cie_store_put_jobs(p, p->default_branch, CIE_WINDOW_7D, a, &page);
	} else if (strcmp(kind, "R") == 0) {
		if (cie_parse_runs_page(body, len, &run, NULL, &err) != CIE_OK)
			die("invalid runs response", b);
		ok = cie_store_put_run(p, p->default_branch, a, &run);
		cie_last_run_cleanup(&run);
	} else {
		die("manifest: unknown line kind (expected P, W, J or R)", kind);
	}
	cie_summary_page_cleanup(&page);
	free(body);
	if (!ok)
		die("out of memory", "storing a response");
}

static void load_fixtures(const char *dir)
{
	char path[4096], line[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	f = fopen(path, "r");
	if (!f)
		die("cannot open", path);
	while (fgets(line, sizeof(line), f))
		load_line(dir, line);
	fclose(f);

	/* The refresh state that a finished first refresh leaves behind. */
	for (size_t i = 0; i < project_count; i++) {
		projects[i]->refreshed = true;
		projects[i]->up = true;
		projects[i]->last_success = 1733270290.776;
		projects[i]->refresh_duration = 0.123456;
		projects[i]->next_refresh = 1733273890.776;
	}
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void render_all(z_stream *stream)
{
	for (size_t i = 0; i < project_count; i++) {
		if (!cie_render_project(projects[i], stream))
			die("out of memory", "rendering");
	}
}

/*
 * Deflate every family of every rendered fragment again, as
 * cie_render_project() does, so that the deflate time can be subtracted
 * from the render time.
 */
static void deflate_all(z_stream *stream, struct cie_buf *out)
{
	uint32_t crc;

	for (size_t i = 0; i < project_count; i++) {
		const struct cie_fragment *fr = &projects[i]->fragment;

		cie_buf_reset(out);
		for (int f = 0; f < CIE_FAM_COUNT; f++) {
			size_t len = fr->offset[f + 1] - fr->offset[f];

			if (len && !cie_render_deflate_piece(stream,
							     fr->text.data + fr->offset[f],
							     len, false, out, &crc))
				die("out of memory", "deflating");
		}
	}
}

/* Durations of one step in each iteration, in ms. */
struct timing {
	double wall[MAX_ITERATIONS];
	double cpu[MAX_ITERATIONS];
};

static void record(struct timing *t, int i, struct stamp from, struct stamp to)
{
	t->wall[i] = to.wall - from.wall;
	t->cpu[i] = to.cpu - from.cpu;
}

static void print_timing(const char *name, struct timing *t, int n)
{
	printf(", \"%s_ms\": %.3f, \"%s_wall_ms\": %.3f", name,
	       median(t->cpu, n), name, median(t->wall, n));
}

int main(int argc, char **argv)
{
	static struct timing render, deflate, snap;
	int iterations = argc > 2 ? atoi(argv[2]) : 7;
	size_t text_bytes = 0, gz_bytes = 0, series = 0;
	struct stamp t0, t1;
	struct cie_snapshot *s;
	struct cie_buf out;
	z_stream stream;

	if (argc < 2 || iterations < 1 || iterations > MAX_ITERATIONS) {
		fprintf(stderr, "usage: render_bench FIXTURE_DIR [ITERATIONS 1-%d]\n",
			MAX_ITERATIONS);
		return 2;
	}
	t0 = now();
	load_fixtures(argv[1]);
	t1 = now();
	if (!cie_render_stream_init(&stream))
		die("zlib", "deflateInit2 failed");
	cie_buf_init(&out, 0);

	/* One untimed pass first, so that every buffer has its final size. */
	render_all(&stream);
	for (int i = 0; i < iterations; i++) {
		struct stamp a = now(), b, c, d;

		render_all(&stream);
		b = now();
		deflate_all(&stream, &out);
		c = now();
		s = cie_snapshot_build(projects, project_count);
		if (!s)
			die("out of memory", "building the snapshot");
		d = now();
		cie_snapshot_unref(s);
		record(&render, i, a, b);
		record(&deflate, i, b, c);
		record(&snap, i, c, d);
	}
	for (size_t i = 0; i < project_count; i++) {
		text_bytes += projects[i]->fragment.text.len;
		gz_bytes += projects[i]->fragment.gz.data.len;
		series += projects[i]->fragment.series;
	}
	printf("{\"projects\": %zu, \"series\": %zu, \"fragment_text_bytes\": %zu, "
	       "\"fragment_deflate_bytes\": %zu, \"iterations\": %d, "
	       "\"load_ms\": %.3f", project_count, series, text_bytes, gz_bytes,
	       iterations, t1.cpu - t0.cpu);
	print_timing("render", &render, iterations);
	print_timing("deflate", &deflate, iterations);
	print_timing("snapshot", &snap, iterations);
	printf("}\n");

	cie_buf_cleanup(&out);
	deflateEnd(&stream);
	for (size_t i = 0; i < project_count; i++)
		cie_project_data_free(projects[i]);
	return 0;
}
