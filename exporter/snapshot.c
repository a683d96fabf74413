/* SPDX-License-Identifier: MIT */
/*
 * Snapshot assembly and the shared scrape responses.
 */
#include "snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>  /* malloc_trim() */
#endif

#include "render.h"
#include "store.h"
#include "timeutil.h"

#define TAIL_MAX (4u << 20)

struct cie_snapshot {
	atomic_int refs;
	struct cie_buf text;
	struct cie_buf gz;     /* raw deflate, ending on a byte boundary */
	uint32_t crc;          /* CRC-32 of text */
	size_t series;
};

/* The tail of one format, plain and deflated, and the gzip trailer. */
struct tail {
	struct cie_buf text;
	struct cie_buf gz;
	unsigned char trailer[8];
};

struct cie_answer {
	atomic_int refs;
	struct cie_snapshot *snapshot;
	struct tail tails[2];  /* by enum cie_format */
	double built;          /* monotonic seconds */
};

static const unsigned char gzip_header[10] = {
	0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3,
};

static pthread_mutex_t serve_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cie_snapshot *current_snapshot;
static struct cie_answer *current_answer;

/* Header pieces: HELP and TYPE of each family, deflated once. */
static struct cie_piece_list headers;
static pthread_once_t headers_once = PTHREAD_ONCE_INIT;
static bool headers_ok;

static void build_headers(void)
{
	z_stream stream;

	cie_buf_init(&headers.data, 0);
	if (!cie_render_stream_init(&stream))
		return;
	headers_ok = true;
	for (int f = 0; f < CIE_FAM_COUNT; f++) {
		const char *h = cie_render_family_header((enum cie_family)f);

		headers.offset[f] = headers.data.len;
		headers_ok = headers_ok &&
			     cie_render_deflate_piece(&stream, h, strlen(h), false,
						      &headers.data, &headers.crc[f]);
	}
	headers.offset[CIE_FAM_COUNT] = headers.data.len;
	deflateEnd(&stream);
}

static void snapshot_free(struct cie_snapshot *s)
{
	cie_buf_cleanup(&s->text);
	cie_buf_cleanup(&s->gz);
	free(s);
#ifdef __GLIBC__
	/*
	 * glibc keeps freed heap pages resident, and a snapshot is megabytes:
	 * without this, the heap of a 5 MB exposition stayed about 10 MB
	 * larger than its live data (tests/bench/run, medium size).
	 */
	malloc_trim(0);
#endif
}

static bool append_piece(struct cie_snapshot *s, const char *text,
			 size_t text_len, const struct cie_piece_list *pieces,
			 int f)
{
	size_t gz_len = pieces->offset[f + 1] - pieces->offset[f];

	s->crc = (uint32_t)crc32_combine(s->crc, pieces->crc[f], (z_off_t)text_len);
	return cie_buf_append(&s->text, text, text_len) &&
	       cie_buf_append(&s->gz, pieces->data.data + pieces->offset[f], gz_len);
}

static bool append_family(struct cie_snapshot *s,
			  const struct cie_fragment *const *fragments,
			  size_t count, int f)
{
	const char *header = cie_render_family_header((enum cie_family)f);
	bool any = false;

	for (size_t i = 0; i < count && !any; i++)
		any = fragments[i]->offset[f + 1] > fragments[i]->offset[f];
	if (!any)
		return true;
	if (!append_piece(s, header, strlen(header), &headers, f))
		return false;
	for (size_t i = 0; i < count; i++) {
		const struct cie_fragment *fr = fragments[i];
		size_t len = fr->offset[f + 1] - fr->offset[f];

		if (len && !append_piece(s, fr->text.data + fr->offset[f], len,
					 &fr->gz, f))
			return false;
	}
	return true;
}

struct cie_snapshot *cie_snapshot_build(struct cie_project_data *const *projects,
					size_t count)
{
	const struct cie_fragment **fragments = calloc(count + 1, sizeof(*fragments));
	struct cie_snapshot *s;

	if (!fragments)
		return NULL;
	for (size_t i = 0; i < count; i++)
		fragments[i] = &projects[i]->fragment;
	s = cie_snapshot_build_fragments(fragments, count);
	free(fragments);
	return s;
}

struct cie_snapshot *cie_snapshot_build_fragments(const struct cie_fragment *const *fragments,
						  size_t count)
{
	struct cie_snapshot *s;
	size_t text_len = 0, gz_len = 0;
	bool ok = true;

	pthread_once(&headers_once, build_headers);
	if (!headers_ok)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	cie_buf_init(&s->text, 0);
	cie_buf_init(&s->gz, 0);
	for (size_t i = 0; i < count; i++) {
		text_len += fragments[i]->text.len;
		gz_len += fragments[i]->gz.data.len;
		s->series += fragments[i]->series;
	}
	ok = cie_buf_reserve(&s->text, text_len + headers.data.len * 8) &&
	     cie_buf_reserve(&s->gz, gz_len + headers.data.len);
	for (int f = 0; ok && f < CIE_FAM_COUNT; f++)
		ok = append_family(s, fragments, count, f);
	if (!ok || !cie_buf_puts(&s->text, "")) {
		snapshot_free(s);
		return NULL;
	}
	return s;
}

size_t cie_snapshot_series(const struct cie_snapshot *s)
{
	return s->series;
}

void cie_snapshot_unref(struct cie_snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

static void answer_free(struct cie_answer *a)
{
	for (int i = 0; i < 2; i++) {
		cie_buf_cleanup(&a->tails[i].text);
		cie_buf_cleanup(&a->tails[i].gz);
	}
	cie_snapshot_unref(a->snapshot);
	free(a);
}

void cie_answer_release(struct cie_answer *a)
{
	if (a && atomic_fetch_sub(&a->refs, 1) == 1)
		answer_free(a);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Render and deflate the tail of one format; the deflate stream ends here. */
static bool build_tail(struct tail *t, const struct cie_snapshot *s,
		       enum cie_format fmt, z_stream *stream)
{
	uint32_t crc;

	cie_buf_init(&t->text, TAIL_MAX);
	cie_buf_init(&t->gz, TAIL_MAX);
	if (!cie_stats_render(&t->text, fmt, s->series, true))
		return false;
	if (!cie_render_deflate_piece(stream, t->text.data, t->text.len, true,
				      &t->gz, &crc))
		return false;
	crc = (uint32_t)crc32_combine(s->crc, crc, (z_off_t)t->text.len);
	put_le32(t->trailer, crc);
	put_le32(t->trailer + 4, (uint32_t)(s->text.len + t->text.len));
	return true;
}

static struct cie_answer *build_answer(struct cie_snapshot *s)
{
	z_stream stream;
	bool ok;
	struct cie_answer *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	atomic_init(&a->refs, 1);
	atomic_fetch_add(&s->refs, 1);
	a->snapshot = s;
	a->built = cie_time_mono();
	if (!cie_render_stream_init(&stream)) {
		answer_free(a);
		return NULL;
	}
	ok = build_tail(&a->tails[CIE_FORMAT_TEXT], s, CIE_FORMAT_TEXT, &stream) &&
	     build_tail(&a->tails[CIE_FORMAT_OPENMETRICS], s,
			CIE_FORMAT_OPENMETRICS, &stream);
	deflateEnd(&stream);
	if (!ok) {
		answer_free(a);
		return NULL;
	}
	return a;
}

void cie_serve_publish(struct cie_snapshot *s)
{
	struct cie_snapshot *old;

	pthread_mutex_lock(&serve_lock);
	old = current_snapshot;
	current_snapshot = s;
	pthread_mutex_unlock(&serve_lock);
	cie_snapshot_unref(old);
}

static struct cie_answer *take_current(double max_age, bool *fresh)
{
	struct cie_answer *a;

	pthread_mutex_lock(&serve_lock);
	a = current_answer;
	if (a)
		atomic_fetch_add(&a->refs, 1);
	*fresh = a && a->snapshot == current_snapshot &&
		 cie_time_mono() - a->built < max_age;
	pthread_mutex_unlock(&serve_lock);
	return a;
}

struct cie_answer *cie_serve_acquire(double max_age)
{
	struct cie_answer *a, *built, *old = NULL;
	struct cie_snapshot *s;
	bool fresh;

	a = take_current(max_age, &fresh);
	if (fresh)
		return a;

	/* One thread rebuilds; the others serve the previous response meanwhile. */
	if (a && pthread_mutex_trylock(&build_lock) != 0)
		return a;
	if (!a)
		pthread_mutex_lock(&build_lock);
	cie_answer_release(a);
	a = take_current(max_age, &fresh);
	if (!fresh) {
		pthread_mutex_lock(&serve_lock);
		s = current_snapshot;
		if (s)
			atomic_fetch_add(&s->refs, 1);
		pthread_mutex_unlock(&serve_lock);
		built = s ? build_answer(s) : NULL;
		cie_snapshot_unref(s);
		if (built) {
			pthread_mutex_lock(&serve_lock);
			old = current_answer;
			current_answer = built;
			atomic_fetch_add(&built->refs, 1);
			pthread_mutex_unlock(&serve_lock);
			cie_answer_release(old);
			cie_answer_release(a);
			a = built;
		}
	}
	pthread_mutex_unlock(&build_lock);
	return a;
}

size_t cie_answer_parts(const struct cie_answer *a, enum cie_format fmt,
			bool gzip, struct cie_part parts[CIE_ANSWER_PARTS])
{
	const struct tail *t = &a->tails[fmt];
	const struct cie_snapshot *s = a->snapshot;

	if (!gzip) {
		parts[0] = (struct cie_part){ s->text.data, s->text.len };
		parts[1] = (struct cie_part){ t->text.data, t->text.len };
		return 2;
	}
	parts[0] = (struct cie_part){ gzip_header, sizeof(gzip_header) };
	parts[1] = (struct cie_part){ s->gz.data, s->gz.len };
	parts[2] = (struct cie_part){ t->gz.data, t->gz.len };
	parts[3] = (struct cie_part){ t->trailer, sizeof(t->trailer) };
	return 4;
}

bool cie_serve_write_once(FILE *out)
{
	struct cie_buf tail;
	struct cie_snapshot *s;
	bool ok;

	pthread_mutex_lock(&serve_lock);
	s = current_snapshot;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&serve_lock);
	if (!s)
		return false;
	cie_buf_init(&tail, TAIL_MAX);
	ok = cie_stats_render(&tail, CIE_FORMAT_TEXT, s->series, false) &&
	     fwrite(s->text.data, 1, s->text.len, out) == s->text.len &&
	     fwrite(tail.data, 1, tail.len, out) == tail.len && fflush(out) == 0;
	cie_buf_cleanup(&tail);
	cie_snapshot_unref(s);
	return ok;
}

void cie_serve_shutdown(void)
{
	struct cie_answer *a;
	struct cie_snapshot *s;

	pthread_mutex_lock(&serve_lock);
	a = current_answer;
	s = current_snapshot;
	current_answer = NULL;
	current_snapshot = NULL;
	pthread_mutex_unlock(&serve_lock);
	cie_answer_release(a);
	cie_snapshot_unref(s);
}
