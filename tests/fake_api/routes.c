/* SPDX-License-Identifier: MIT */
/*
 * The route table of a fixture directory: routes.json loading and
 * validation, matching, and paging. Pages are cut out of the recorded text
 * byte for byte; only next_page_token is rewritten.
 */
#define _POSIX_C_SOURCE 200809L

#include "routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leading bytes of every page token: base64 makes them "+/+/", so a client
 * that forgets to percent-encode the token sends a token that does not match. */
static const unsigned char tok_magic[3] = { 0xFB, 0xFF, 0xBF };

static const char *const route_keys[] = {
	"path", "query", "status", "file", "body", "pages", "headers",
	"page_size", "content_type", "comment", NULL
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *unknown_key(json_t *o, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i])
			return key;
	}
	return NULL;
}

/* Find the spans of next_page_token and items. 0, or -1 on OOM. */
static int src_scan(struct page_src *p)
{
	json_t *root = json_loadb(p->raw.data, p->raw.len, JSON_DECODE_ANY, NULL);
	int items_array = root && json_is_array(json_object_get(root, "items"));
	struct jspan span;
	size_t open;
	long n;

	p->is_json = root != NULL;
	p->is_object = json_is_object(root);
	json_decref(root);
	if (!p->is_object)
		return 0;
	p->has_tok = jscan_member(p->raw.data, p->raw.len, "next_page_token",
				  &p->tok, &p->obj_open) == 1;
	if (!items_array || jscan_member(p->raw.data, p->raw.len, "items", &span, &open) != 1)
		return 0;
	n = jscan_elements(p->raw.data, span, &p->items);
	if (n < 0)
		return -1;
	p->has_items = 1;
	p->nitems = (size_t)n;
	return 0;
}

static void src_free(struct page_src *p)
{
	buf_free(&p->raw);
	free(p->items);
	p->items = NULL;
}

static int load_file_src(const char *dir, const char *name, struct page_src *p,
			 char *err, size_t errlen)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path;
	int rc;

	if (name[0] == '\0' || name[0] == '/') {
		fail(err, errlen, "file \"%s\" must be a path relative to the fixture directory", name);
		return -1;
	}
	path = malloc(len);
	if (!path) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, len, "%s/%s", dir, name);
	rc = read_file(path, ROUTES_MAX_FILE, &p->raw);
	if (rc < 0)
		fail(err, errlen, "%s: %s", path, strerror(errno));
	free(path);
	if (rc == 0 && src_scan(p) < 0) {
		fail(err, errlen, "out of memory");
		rc = -1;
	}
	return rc;
}

static int load_body_src(json_t *body, struct page_src *p, char *err, size_t errlen)
{
	char *text = NULL;
	int rc;

	if (json_is_string(body)) {
		rc = buf_append(&p->raw, json_string_value(body), json_string_length(body),
				ROUTES_MAX_FILE);
	} else {
		text = json_dumps(body, JSON_INDENT(2) | JSON_ENCODE_ANY);
		rc = text ? buf_append(&p->raw, text, strlen(text), ROUTES_MAX_FILE) : -1;
	}
	free(text);
	if (rc == 0)
		rc = src_scan(p);
	if (rc < 0)
		fail(err, errlen, "body: out of memory");
	return rc;
}

static int load_pages(json_t *pages, const char *dir, struct route *r, char *err, size_t errlen)
{
	size_t i, n = json_array_size(pages);

	if (!json_is_array(pages) || n == 0 || n > ROUTES_MAX_PAGES) {
		fail(err, errlen, "pages must be a non-empty array of file names");
		return -1;
	}
	r->src = calloc(n, sizeof(*r->src));
	if (!r->src) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	r->explicit_pages = 1;
	for (i = 0; i < n; i++) {
		json_t *name = json_array_get(pages, i);

		if (!json_is_string(name)) {
			fail(err, errlen, "pages[%zu] is not a string", i);
			return -1;
		}
		r->nsrc = i + 1;
		if (load_file_src(dir, json_string_value(name), &r->src[i], err, errlen) < 0)
			return -1;
		if (!r->src[i].is_object) {
			fail(err, errlen, "page %s is not a JSON object", json_string_value(name));
			return -1;
		}
	}
	return 0;
}

static int load_sources(json_t *o, const char *dir, struct route *r, char *err, size_t errlen)
{
	json_t *file = json_object_get(o, "file"), *body = json_object_get(o, "body");
	json_t *pages = json_object_get(o, "pages");

	if ((file != NULL) + (body != NULL) + (pages != NULL) != 1) {
		fail(err, errlen, "needs exactly one of \"file\", \"body\", \"pages\"");
		return -1;
	}
	if (pages)
		return load_pages(pages, dir, r, err, errlen);
	r->src = calloc(1, sizeof(*r->src));
	if (!r->src) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	r->nsrc = 1;
	if (body)
		return load_body_src(body, &r->src[0], err, errlen);
	if (!json_is_string(file)) {
		fail(err, errlen, "file must be a string");
		return -1;
	}
	return load_file_src(dir, json_string_value(file), &r->src[0], err, errlen);
}

static int parse_query(json_t *o, struct query *q, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o)) {
		fail(err, errlen, "query must be an object of strings");
		return -1;
	}
	q->v = calloc(json_object_size(o) + 1, sizeof(*q->v));
	if (!q->v)
		return -1;
	json_object_foreach(o, key, v) {
		if (!json_is_string(v) || strcmp(key, "page-token") == 0) {
			fail(err, errlen, "query \"%s\": values must be strings, page-token is not allowed", key);
			return -1;
		}
		q->v[q->n].name = strdup(key);
		q->v[q->n++].value = strdup(json_string_value(v));
		if (!q->v[q->n - 1].name || !q->v[q->n - 1].value)
			return -1;
	}
	return 0;
}

/* Header names are HTTP tokens; values carry no line breaks. */
static int header_ok(const char *name, const char *value)
{
	return name[0] && !name[strcspn(name, " \t\r\n:()<>@,;\\\"/[]?={}")] &&
	       !value[strcspn(value, "\r\n")];
}

int routes_parse_headers(json_t *o, struct hdr **h, size_t *nh, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > ROUTES_MAX_HEADERS) {
		fail(err, errlen, "headers must be an object of at most %d strings", ROUTES_MAX_HEADERS);
		return -1;
	}
	*h = calloc(json_object_size(o) + 1, sizeof(**h));
	if (!*h)
		return -1;
	json_object_foreach(o, key, v) {
		if (!json_is_string(v) || !header_ok(key, json_string_value(v))) {
			fail(err, errlen, "header \"%s\": invalid name or value", key);
			return -1;
		}
		(*h)[*nh].name = strdup(key);
		(*h)[(*nh)++].value = strdup(json_string_value(v));
		if (!(*h)[*nh - 1].name || !(*h)[*nh - 1].value) {
			fail(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int parse_scalars(json_t *o, size_t dps, struct route *r, char *err, size_t errlen)
{
	json_t *st = json_object_get(o, "status"), *ps = json_object_get(o, "page_size");
	json_t *ct = json_object_get(o, "content_type");

	if (st && (!json_is_integer(st) || json_integer_value(st) < 100 ||
		   json_integer_value(st) > 599)) {
		fail(err, errlen, "status must be an integer from 100 to 599");
		return -1;
	}
	if (ps && (!json_is_integer(ps) || json_integer_value(ps) < 0)) {
		fail(err, errlen, "page_size must be an integer >= 0");
		return -1;
	}
	if (ct && (!json_is_string(ct) || !header_ok("Content-Type", json_string_value(ct)))) {
		fail(err, errlen, "content_type must be a string");
		return -1;
	}
	r->status = st ? (unsigned)json_integer_value(st) : 200;
	r->page_size = ps ? (size_t)json_integer_value(ps) : dps;
	r->content_type = ct ? strdup(json_string_value(ct)) : NULL;
	return 0;
}

static int parse_route(json_t *o, const char *dir, size_t dps, struct route *r,
		       char *err, size_t errlen)
{
	json_t *path = json_object_get(o, "path"), *v;
	const char *bad;

	if (!json_is_object(o)) {
		fail(err, errlen, "not an object");
		return -1;
	}
	if ((bad = unknown_key(o, route_keys)) != NULL) {
		fail(err, errlen, "unknown key \"%s\"", bad);
		return -1;
	}
	if (!json_is_string(path) || json_string_value(path)[0] != '/' ||
	    strpbrk(json_string_value(path), "? #\r\n")) {
		fail(err, errlen, "path must be a string starting with / (raw, percent-encoded, no query)");
		return -1;
	}
	r->path = strdup(json_string_value(path));
	if (!r->path || parse_scalars(o, dps, r, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "query")) && parse_query(v, &r->q, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "headers")) && routes_parse_headers(v, &r->h, &r->nh, err, errlen) < 0)
		return -1;
	return load_sources(o, dir, r, err, errlen);
}

static void route_free(struct route *r)
{
	size_t i;

	free(r->path);
	query_free(&r->q);
	free(r->content_type);
	for (i = 0; i < r->nh; i++) {
		free(r->h[i].name);
		free(r->h[i].value);
	}
	free(r->h);
	for (i = 0; i < r->nsrc; i++)
		src_free(&r->src[i]);
	free(r->src);
}

void routes_free(struct route_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		route_free(&t->r[i]);
	free(t->r);
	free(t->dir);
	free(t);
}

static json_t *load_routes_json(const char *dir, char *err, size_t errlen)
{
	struct buf text = { 0 };
	json_error_t je;
	json_t *root;
	char path[4096];

	snprintf(path, sizeof(path), "%s/routes.json", dir);
	if (read_file(path, ROUTES_MAX_FILE, &text) < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	root = json_loadb(text.data, text.len, 0, &je);
	buf_free(&text);
	if (!root) {
		fail(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_array(root) || json_array_size(root) > ROUTES_MAX_ROUTES) {
		fail(err, errlen, "%s: must be an array of at most %u routes", path, ROUTES_MAX_ROUTES);
		json_decref(root);
		return NULL;
	}
	return root;
}

struct route_table *routes_load(const char *dir, size_t default_page_size,
				char *err, size_t errlen)
{
	struct route_table *t = calloc(1, sizeof(*t));
	json_t *root = load_routes_json(dir, err, errlen);
	size_t i, n = json_array_size(root);
	char msg[512];

	if (!t || !root || !(t->dir = strdup(dir)) || !(t->r = calloc(n + 1, sizeof(*t->r)))) {
		if (root && t)
			fail(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		t->n = i + 1;
		msg[0] = '\0';
		if (parse_route(json_array_get(root, i), dir, default_page_size, &t->r[i],
				msg, sizeof(msg)) < 0) {
			fail(err, errlen, "%s/routes.json: route %zu: %s", dir, i,
			     msg[0] ? msg : "out of memory");
			goto fail;
		}
	}
	json_decref(root);
	return t;

fail:
	json_decref(root);
	routes_free(t);
	return NULL;
}

/* Both are sets; got may not repeat a name. */
static int query_equal(const struct query *want, const struct query *got)
{
	size_t i, j;

	if (want->n != got->n)
		return 0;
	for (i = 0; i < got->n; i++) {
		const char *v = NULL;

		for (j = 0; j < i; j++) {
			if (strcmp(got->v[j].name, got->v[i].name) == 0)
				return 0;
		}
		for (j = 0; j < want->n && !v; j++) {
			if (strcmp(want->v[j].name, got->v[i].name) == 0)
				v = want->v[j].value;
		}
		if (!v || strcmp(v, got->v[i].value) != 0)
			return 0;
	}
	return 1;
}

long routes_find(const struct route_table *t, const char *path, const struct query *q)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->r[i].path, path) == 0 && query_equal(&t->r[i].q, q))
			return (long)i;
	}
	return -1;
}

static size_t route_pages(const struct route *r)
{
	const struct page_src *p = &r->src[0];

	if (r->explicit_pages)
		return r->nsrc;
	if (r->page_size == 0 || !p->has_items || p->nitems <= r->page_size ||
	    r->status / 100 != 2)
		return 1;
	return (p->nitems + r->page_size - 1) / r->page_size;
}

static char *token_make(size_t idx, size_t page)
{
	unsigned char raw[64];
	int n;

	memcpy(raw, tok_magic, sizeof(tok_magic));
	n = snprintf((char *)raw + 3, sizeof(raw) - 3, "r%zu:p%zu", idx, page);
	return b64_encode(raw, 3 + (size_t)n);
}

/* A token is valid only if it is exactly what token_make would produce. */
static int token_parse(const char *tok, size_t *idx, size_t *page)
{
	unsigned char raw[64];
	char text[64], *again;
	size_t len;
	int ok;

	if (strlen(tok) > 80 || b64_decode(tok, raw, sizeof(raw) - 1, &len) < 0 || len < 4 ||
	    memcmp(raw, tok_magic, 3) != 0)
		return -1;
	memcpy(text, raw + 3, len - 3);
	text[len - 3] = '\0';
	if (sscanf(text, "r%zu:p%zu", idx, page) != 2)
		return -1;
	again = token_make(*idx, *page);
	ok = again && strcmp(again, tok) == 0;
	free(again);
	return ok ? 0 : -1;
}

struct edit {
	size_t start;
	size_t end;
	const char *text;
	size_t len;
};

static int apply_edits(const struct buf *raw, struct edit *e, size_t ne, struct buf *out)
{
	size_t pos = 0, i;
	int rc = 0;

	if (ne == 2 && e[1].start < e[0].start) {
		struct edit tmp = e[0];

		e[0] = e[1];
		e[1] = tmp;
	}
	for (i = 0; i < ne; i++) {
		rc |= buf_append(out, raw->data + pos, e[i].start - pos, SIZE_MAX / 2);
		rc |= buf_append(out, e[i].text, e[i].len, SIZE_MAX / 2);
		pos = e[i].end;
	}
	rc |= buf_append(out, raw->data + pos, raw->len - pos, SIZE_MAX / 2);
	return rc;
}

/* The edit that sets next_page_token to tok (NULL: null). text is scratch. */
static void token_edit(const struct page_src *p, const char *tok, char *text, size_t cap,
		       struct edit *e)
{
	size_t after = p->obj_open + 1;
	int n;

	while (after < p->raw.len && strchr(" \t\r\n", p->raw.data[after]))
		after++;
	if (p->has_tok) {
		n = tok ? snprintf(text, cap, "\"%s\"", tok) : snprintf(text, cap, "null");
		e->start = p->tok.start;
		e->end = p->tok.end;
	} else {
		n = snprintf(text, cap, "\"next_page_token\": %s%s%s", tok ? "\"" : "",
			     tok ? tok : "null", tok ? "\"" : "");
		if (after < p->raw.len && p->raw.data[after] != '}')
			n += snprintf(text + n, cap - (size_t)n, ", ");
		e->start = e->end = p->obj_open + 1;
	}
	e->text = text;
	e->len = (size_t)n;
}

static int finish_answer(const struct route *r, const struct page_src *p, const struct buf *body,
			 struct answer *out)
{
	const char *ctype = r->content_type ? r->content_type :
			    p->is_json ? "application/json" : "text/plain";
	size_t i;

	if (answer_set(out, r->status, ctype, body->data, body->len) < 0)
		return -2;
	for (i = 0; i < r->nh; i++) {
		if (answer_header(out, r->h[i].name, r->h[i].value) < 0)
			return -2;
	}
	return 0;
}

static int compose_page(const struct route *r, size_t idx, size_t page, size_t npages,
			struct answer *out)
{
	const struct page_src *p = &r->src[r->explicit_pages ? page : 0];
	char *tok = page + 1 < npages ? token_make(idx, page + 1) : NULL;
	char text[160];
	struct edit e[2];
	struct buf body = { 0 };
	size_t ne = 1;
	int rc;

	if (page + 1 < npages && !tok)
		return -2;
	token_edit(p, tok, text, sizeof(text), &e[0]);
	if (!r->explicit_pages) {
		size_t first = page * r->page_size;
		size_t last = (first + r->page_size < p->nitems ? first + r->page_size : p->nitems) - 1;

		e[1].start = p->items[0].start;
		e[1].end = p->items[p->nitems - 1].end;
		e[1].text = p->raw.data + p->items[first].start;
		e[1].len = p->items[last].end - p->items[first].start;
		ne = 2;
	}
	rc = apply_edits(&p->raw, e, ne, &body) < 0 ? -2 : finish_answer(r, p, &body, out);
	buf_free(&body);
	free(tok);
	return rc;
}

int routes_answer(const struct route_table *t, size_t idx, const char *page_token,
		  struct answer *out)
{
	const struct route *r = &t->r[idx];
	size_t npages = route_pages(r), tidx = 0, page = 0;
	int paged = r->explicit_pages || npages > 1;

	if (page_token && *page_token) {
		if (!paged || token_parse(page_token, &tidx, &page) < 0 || tidx != idx ||
		    page == 0 || page >= npages)
			return -1;
	}
	if (!paged)
		return finish_answer(r, &r->src[0], &r->src[0].raw, out);
	return compose_page(r, idx, page, npages, out);
}
