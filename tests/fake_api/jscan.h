/* SPDX-License-Identifier: MIT */
/*
 * Byte spans inside a JSON text that jansson has already accepted, so that a
 * page can be cut out of a recorded answer without re-serialising its values.
 */
#ifndef FAKE_JSCAN_H
#define FAKE_JSCAN_H

#include <stddef.h>

/* A half-open byte range [start, end) of a JSON text. */
struct jspan {
	size_t start;
	size_t end;
};

/*
 * Find the value of the top-level member key of the valid JSON object text
 * s[0..n). Stores the offset of the object's '{' in *open. Returns 1 when
 * found (span in *val), 0 when absent, -1 when s is not an object. Keys are
 * compared as written (no escape decoding).
 */
int jscan_member(const char *s, size_t n, const char *key, struct jspan *val,
		 size_t *open);

/*
 * List the element spans of the valid JSON array at arr. *elems is malloc'd
 * (caller frees; NULL when empty). Returns the count, or -1 on error.
 */
long jscan_elements(const char *s, struct jspan arr, struct jspan **elems);

#endif
