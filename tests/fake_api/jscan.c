/* SPDX-License-Identifier: MIT */
/*
 * Byte spans inside a JSON text that jansson has already accepted. Only
 * valid JSON reaches here, so the scanner just skips values.
 */
#include "jscan.h"

#include <stdlib.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is the opening quote; returns the offset after the closing quote. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++) {
		if (s[i] == '\\')
			i++;
	}
	return i < n ? i + 1 : n;
}

static size_t skip_nested(const char *s, size_t n, size_t i)
{
	int depth = 0;

	while (i < n) {
		char c = s[i];

		if (c == '"') {
			i = skip_string(s, n, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return n;
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] == '{' || s[i] == '[')
		return skip_nested(s, n, i);
	while (i < n && !strchr(",]} \t\n\r", s[i]))
		i++;
	return i;
}

static int key_is(const char *s, size_t kstart, size_t kend, const char *key)
{
	size_t klen = strlen(key);

	/* kstart and kend include the quotes */
	return kend - kstart == klen + 2 && memcmp(s + kstart + 1, key, klen) == 0;
}

int jscan_member(const char *s, size_t n, const char *key, struct jspan *val,
		 size_t *open)
{
	size_t i = skip_ws(s, n, 0);

	if (i >= n || s[i] != '{')
		return -1;
	*open = i++;
	for (;;) {
		size_t kstart, kend, vstart;

		i = skip_ws(s, n, i);
		if (i >= n || s[i] != '"')
			return 0;
		kstart = i;
		kend = skip_string(s, n, i);
		i = skip_ws(s, n, kend);
		if (i >= n || s[i] != ':')
			return 0;
		vstart = skip_ws(s, n, i + 1);
		i = skip_value(s, n, vstart);
		if (key_is(s, kstart, kend, key)) {
			val->start = vstart;
			val->end = i;
			return 1;
		}
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ',')
			return 0;
		i++;
	}
}

long jscan_elements(const char *s, struct jspan arr, struct jspan **elems)
{
	size_t i = arr.start, n = arr.end;
	long count = 0;

	*elems = NULL;
	if (i >= n || s[i] != '[')
		return -1;
	for (i++;;) {
		struct jspan *e;

		i = skip_ws(s, n, i);
		if (i >= n || s[i] == ']')
			return count;
		e = realloc(*elems, (size_t)(count + 1) * sizeof(*e));
		if (!e) {
			free(*elems);
			*elems = NULL;
			return -1;
		}
		*elems = e;
		e[count].start = i;
		i = skip_value(s, n, i);
		e[count++].end = i;
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i++;
	}
}
