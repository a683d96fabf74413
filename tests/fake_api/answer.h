/* SPDX-License-Identifier: MIT */
/*
 * One HTTP answer being prepared: status, content type, body and extra
 * headers. Everything in it is owned by the struct.
 */
#ifndef FAKE_ANSWER_H
#define FAKE_ANSWER_H

#include "util.h"

/* At most this many extra headers per answer. */
#define ANSWER_MAX_HEADERS 32

struct answer {
	unsigned status;
	char *content_type;	/* NULL: no Content-Type header */
	struct buf body;
	struct hdr h[ANSWER_MAX_HEADERS];
	size_t nh;
};

/* Set status, content type and body (copied). 0, or -1 on OOM. */
int answer_set(struct answer *a, unsigned status, const char *ctype,
	       const char *body, size_t len);
/* Set a JSON body {"message": msg}. 0 or -1. */
int answer_message(struct answer *a, unsigned status, const char *msg);
/* Add or replace a header (case-insensitive name). 0 or -1. */
int answer_header(struct answer *a, const char *name, const char *value);
/* Release everything; the struct can be reused after. Accepts a zeroed one. */
void answer_free(struct answer *a);

#endif
