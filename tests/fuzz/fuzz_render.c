/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the renderer. Label escaping must round-trip, numbers must
 * print in a form that reads back to the same double, and a project
 * fragment built from fuzzed names and values must be valid exposition
 * text whose deflated pieces inflate back to that text.
 */
#include <math.h>
#include <zlib.h>

#include "fuzz.h"

#include "buf.h"
#include "render.h"
#include "store.h"

FUZZ_INIT(render)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Undo the text format's label escaping of len bytes at in; NULL if malformed. */
static char *unescape_label(const char *in, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\\') {
			*o++ = in[i];
			continue;
		}
		if (++i == len || (in[i] != '\\' && in[i] != '"' && in[i] != 'n')) {
			free(out);
			return NULL;
		}
		*o++ = in[i] == 'n' ? '\n' : in[i];
	}
	*o = '\0';
	return out;
}

static void check_escape(const char *value)
{
	struct cie_buf b;
	char *back;

	cie_buf_init(&b, 0);
	FUZZ_CHECK(cie_render_escape_label(&b, value));
	FUZZ_CHECK(b.len == 0 || memchr(b.data, '\n', b.len) == NULL);
	back = unescape_label(b.data ? b.data : "", b.len);
	FUZZ_CHECK(back != NULL && strcmp(back, value) == 0);
	free(back);
	cie_buf_cleanup(&b);
}

static void check_format(double v)
{
	char text[40];

	cie_format_double(v, text, sizeof(text));
	FUZZ_CHECK(strlen(text) < 32);
	if (isnan(v))
		FUZZ_CHECK(strcmp(text, "NaN") == 0);
	else if (isinf(v))
		FUZZ_CHECK(strcmp(text, v > 0 ? "+Inf" : "-Inf") == 0);
	else
		FUZZ_CHECK(strtod(text, NULL) == v);
}

static struct cie_num fuzz_num(struct fuzz_reader *r)
{
	struct cie_num n = { .kind = (enum cie_num_kind)(fuzz_byte(r) % 3) };
	double d = fuzz_double(r);

	if (n.kind == CIE_NUM_INT)
		memcpy(&n.i, &d, sizeof(n.i));
	else if (n.kind == CIE_NUM_REAL)
		n.d = d;
	return n;
}

static void fill_summary(struct fuzz_reader *r, struct cie_summary *s)
{
	s->name = fuzz_text(r, 24);
	s->total_runs = fuzz_num(r);
	s->success_rate = fuzz_num(r);
	s->mttr = fuzz_num(r);
	s->duration[fuzz_byte(r) % CIE_DUR_COUNT] = fuzz_num(r);
	s->window_end = fuzz_num(r);
}

/* A page of up to 3 items; false when out of memory. */
static bool fuzz_page(struct fuzz_reader *r, struct cie_summary_page *page)
{
	memset(page, 0, sizeof(*page));
	page->count = fuzz_byte(r) % 4;
	page->items = calloc(page->count + 1, sizeof(*page->items));
	if (!page->items)
		return false;
	for (size_t i = 0; i < page->count; i++)
		fill_summary(r, &page->items[i]);
	return true;
}

static void fill_project(struct fuzz_reader *r, struct cie_project_data *p)
{
	static const char *const statuses[] = { "success", "failed", "canceled" };
	int sets = fuzz_byte(r) % 3;

	p->default_branch = fuzz_text(r, 16);
	for (int i = 0; i < sets; i++) {
		char *branch = fuzz_text(r, 16), *workflow = fuzz_text(r, 16);
		enum cie_window w = (enum cie_window)(fuzz_byte(r) % CIE_WINDOW_COUNT);
		struct cie_last_run run = { .found = fuzz_byte(r) & 1 };
		struct cie_summary_page page;
		uint8_t pick = fuzz_byte(r);

		if (branch && workflow && fuzz_page(r, &page)) {
			cie_store_put_workflows(p, branch, w, &page);
			cie_summary_page_cleanup(&page);
		}
		if (branch && workflow && fuzz_page(r, &page)) {
			cie_store_put_jobs(p, branch, w, workflow, &page);
			cie_summary_page_cleanup(&page);
		}
		run.status = pick < 3 ? strdup(statuses[pick]) : fuzz_text(r, 16);
		run.duration = fuzz_num(r);
		run.timestamp = fuzz_num(r);
		if (branch && workflow && run.status)
			cie_store_put_run(p, branch, workflow, &run);
		cie_last_run_cleanup(&run);
		free(branch);
		free(workflow);
	}
	p->refreshed = fuzz_byte(r) & 1;
	p->up = fuzz_byte(r) & 1;
	p->last_success = fuzz_double(r);
	p->refresh_duration = fuzz_double(r);
	p->next_refresh = fuzz_double(r);
	p->series_limited = fuzz_byte(r) & 1;
	p->max_series = fuzz_byte(r);
}

/* Check one sample line: name{label="escaped",...} value. */
static void check_sample(const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	char *rest;

	while (p < end && (*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9')))
		p++;
	FUZZ_CHECK(p > line && p < end);
	if (*p == '{') {
		for (p++; p < end && *p != '}';) {
			while (p < end && *p != '=')
				p++;
			FUZZ_CHECK(p + 1 < end && p[1] == '"');
			for (p += 2; p < end && *p != '"'; p++) {
				if (*p == '\\')
					p++;
			}
			FUZZ_CHECK(p < end);
			p++;
			if (p < end && *p == ',')
				p++;
		}
		FUZZ_CHECK(p < end && *p == '}');
		p++;
	}
	FUZZ_CHECK(p < end && *p == ' ');
	p++;
	if (strncmp(p, "NaN", 3) == 0 || strncmp(p, "+Inf", 4) == 0 ||
	    strncmp(p, "-Inf", 4) == 0)
		return;
	(void)strtod(p, &rest);
	FUZZ_CHECK(rest == end);
}

/* The deflated pieces, inflated one after the other, give the text back. */
static void check_pieces(const struct cie_fragment *fr)
{
	z_stream z;
	size_t size = fr->text.len + 1;
	unsigned char *out = malloc(size);

	memset(&z, 0, sizeof(z));
	if (!out || inflateInit2(&z, -15) != Z_OK) {
		free(out);
		return;
	}
	z.next_in = (Bytef *)fr->gz.data.data;
	z.avail_in = (uInt)fr->gz.data.len;
	z.next_out = out;
	z.avail_out = (uInt)size;
	if (fr->gz.data.len)
		FUZZ_CHECK(inflate(&z, Z_SYNC_FLUSH) != Z_DATA_ERROR);
	FUZZ_CHECK(z.total_out == fr->text.len);
	FUZZ_CHECK(fr->text.len == 0 || memcmp(out, fr->text.data, fr->text.len) == 0);
	for (int f = 0; f < CIE_FAM_COUNT; f++) {
		size_t from = fr->offset[f], to = fr->offset[f + 1];

		FUZZ_CHECK(from <= to && to <= fr->text.len);
		if (to > from)
			FUZZ_CHECK(fr->gz.crc[f] ==
				   crc32(0, (const Bytef *)fr->text.data + from, (uInt)(to - from)));
	}
	inflateEnd(&z);
	free(out);
}

static void check_fragment(const struct cie_fragment *fr)
{
	const char *line, *end;

	/* An empty buffer may have no data pointer at all. */
	if (fr->text.len == 0)
		return;
	line = fr->text.data;
	end = line + fr->text.len;
	FUZZ_CHECK(end[-1] == '\n');
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));

		FUZZ_CHECK(nl != NULL);
		if (line[0] != '#')
			check_sample(line, (size_t)(nl - line));
		line = nl + 1;
	}
	check_pieces(fr);
}

FUZZ_TARGET(render)
{
	struct fuzz_reader r = { data, size };
	struct cie_project_data *p;
	char *value = fuzz_text(&r, 64), *slug;
	z_stream stream;

	if (value)
		check_escape(value);
	free(value);
	check_format(fuzz_double(&r));

	slug = fuzz_text(&r, 24);
	p = slug ? cie_project_data_new(slug) : NULL;
	free(slug);
	if (!p)
		return 0;
	fill_project(&r, p);
	if (cie_render_stream_init(&stream)) {
		if (cie_render_project(p, &stream))
			check_fragment(&p->fragment);
		deflateEnd(&stream);
	}
	cie_project_data_free(p);
	return 0;
}
