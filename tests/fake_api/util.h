/* SPDX-License-Identifier: MIT */
/*
 * Small helpers of the fake CircleCI API: growable buffers, file reading,
 * percent-decoding, query strings, base64 and clocks. Nothing here locks.
 */
#ifndef FAKE_UTIL_H
#define FAKE_UTIL_H

#include <stddef.h>

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* One header of an answer; both strings owned. */
struct hdr {
	char *name;
	char *value;
};

/* One decoded query parameter; both strings owned. */
struct qparam {
	char *name;
	char *value;
};

/* A decoded query string, in request order. */
struct query {
	struct qparam *v;
	size_t n;
};

/* Append n bytes; fails (-1) if the result would exceed max bytes or on OOM. */
int buf_append(struct buf *b, const void *p, size_t n, size_t max);
void buf_free(struct buf *b);

/* Read a whole file of at most max bytes into out. 0, or -1 with errno. */
int read_file(const char *path, size_t max, struct buf *out);

/*
 * Decode %HH escapes (and '+' as space when plus_space) of s[0..n).
 * Returns a new string, or NULL when an escape is malformed or on OOM.
 */
char *pct_decode(const char *s, size_t n, int plus_space);

/* Split a raw query string (without '?') into decoded pairs. 0 or -1. */
int query_parse(const char *raw, struct query *q);
void query_free(struct query *q);

/* Standard base64 with padding; returns a new string or NULL. */
char *b64_encode(const unsigned char *p, size_t n);
/* Decode standard base64 into out (cap bytes); 0 or -1 if invalid. */
int b64_decode(const char *s, unsigned char *out, size_t cap, size_t *outlen);

/* Wall clock (CLOCK_REALTIME) and monotonic clock, in seconds. */
double now_realtime(void);
double now_monotonic(void);

/* strdup that accepts NULL. */
char *xstrdup(const char *s);

#endif
