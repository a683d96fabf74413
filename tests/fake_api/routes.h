/* SPDX-License-Identifier: MIT */
/*
 * The route table of a fixture directory (its routes.json): loading and
 * validation, matching a raw request path and decoded query, and composing
 * the answer of one page, with next_page_token rewritten.
 */
#ifndef FAKE_ROUTES_H
#define FAKE_ROUTES_H

#include <jansson.h>
#include <stddef.h>

#include "answer.h"
#include "jscan.h"
#include "util.h"

/* Limits on what a fixture directory may hold. */
#define ROUTES_MAX_FILE (64u * 1024u * 1024u)
#define ROUTES_MAX_ROUTES 100000u
#define ROUTES_MAX_PAGES 10000u
#define ROUTES_MAX_HEADERS 16

/* One servable JSON (or other) text, with the spans paging needs. */
struct page_src {
	struct buf raw;
	int is_json;
	int is_object;
	size_t obj_open;	/* offset of the top-level '{' */
	int has_tok;		/* next_page_token present at top level */
	struct jspan tok;	/* its value */
	int has_items;		/* items is a top-level array */
	struct jspan *items;	/* its elements */
	size_t nitems;
};

struct route {
	char *path;		/* raw, relative to /api/v2 */
	struct query q;		/* decoded names and values */
	unsigned status;
	char *content_type;	/* NULL: application/json if valid JSON, else text/plain */
	struct hdr *h;
	size_t nh;
	struct page_src *src;	/* one, or one per explicit page */
	size_t nsrc;
	int explicit_pages;
	size_t page_size;	/* 0: no paging */
};

struct route_table {
	char *dir;
	struct route *r;
	size_t n;
};

/*
 * Load DIR/routes.json. default_page_size applies to routes without
 * page_size. Returns a new table, or NULL with a message in err.
 */
struct route_table *routes_load(const char *dir, size_t default_page_size,
				char *err, size_t errlen);
void routes_free(struct route_table *t);

/* Index of the first route matching path and query (page-token removed), or -1. */
long routes_find(const struct route_table *t, const char *path, const struct query *q);

/*
 * Compose the answer of route idx for page_token (NULL: first page).
 * Returns 0, -1 for an unknown page token, -2 on OOM.
 */
int routes_answer(const struct route_table *t, size_t idx, const char *page_token,
		  struct answer *out);

/*
 * Parse a JSON object of header name -> string value into *h (malloc'd,
 * *nh entries; the caller frees names, values and the array, also on
 * failure). At most ROUTES_MAX_HEADERS. 0, or -1 with a message in err.
 */
int routes_parse_headers(json_t *o, struct hdr **h, size_t *nh, char *err, size_t errlen);

#endif
