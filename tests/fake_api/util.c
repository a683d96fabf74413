/* SPDX-License-Identifier: MIT */
/*
 * Small helpers of the fake CircleCI API: growable buffers, file reading,
 * percent-decoding, query strings, base64 and clocks.
 */
#define _POSIX_C_SOURCE 200809L

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int buf_append(struct buf *b, const void *p, size_t n, size_t max)
{
	size_t need = b->len + n + 1;

	if (n > max || b->len > max - n)
		return -1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < need)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int read_file(const char *path, size_t max, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (!f)
		return -1;
	if (buf_append(out, "", 0, max) < 0)
		rc = -1;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(out, chunk, n, max) < 0) {
			errno = EFBIG;
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		errno = EIO;
		rc = -1;
	}
	fclose(f);
	if (rc < 0)
		buf_free(out);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *pct_decode(const char *s, size_t n, int plus_space)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || hi + lo == 0) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = (plus_space && s[i] == '+') ? ' ' : s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static int query_add(struct query *q, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	size_t nlen = eq ? (size_t)(eq - p) : n;
	struct qparam *v = realloc(q->v, (q->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	q->v = v;
	v[q->n].name = pct_decode(p, nlen, 1);
	v[q->n].value = eq ? pct_decode(eq + 1, n - nlen - 1, 1) : xstrdup("");
	q->n++;
	if (!v[q->n - 1].name || !v[q->n - 1].value)
		return -1;
	return 0;
}

int query_parse(const char *raw, struct query *q)
{
	const char *p = raw;

	q->v = NULL;
	q->n = 0;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 0 && query_add(q, p, n) < 0) {
			query_free(q);
			return -1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

void query_free(struct query *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->v[i].name);
		free(q->v[i].value);
	}
	free(q->v);
	q->v = NULL;
	q->n = 0;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const unsigned char *p, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

int b64_decode(const char *s, unsigned char *out, size_t cap, size_t *outlen)
{
	size_t len = strlen(s), i, o = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		unsigned long v = 0;
		int j, pad = 0;

		if (i + 4 == len && s[i + 3] == '=')
			pad = s[i + 2] == '=' ? 2 : 1;
		for (j = 0; j < 4; j++) {
			int d = j >= 4 - pad ? 0 : b64val(s[i + (size_t)j]);

			if (d < 0)
				return -1;
			v = (v << 6) | (unsigned long)d;
		}
		if (o + 3 - (size_t)pad > cap)
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	*outlen = o;
	return 0;
}

static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_realtime(void)
{
	return clock_seconds(CLOCK_REALTIME);
}

double now_monotonic(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}
