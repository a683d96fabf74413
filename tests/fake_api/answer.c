/* SPDX-License-Identifier: MIT */
/*
 * One HTTP answer being prepared: status, content type, body and extra
 * headers, all owned by the struct.
 */
#define _POSIX_C_SOURCE 200809L

#include "answer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int answer_set(struct answer *a, unsigned status, const char *ctype,
	       const char *body, size_t len)
{
	free(a->content_type);
	a->content_type = xstrdup(ctype);
	buf_free(&a->body);
	a->status = status;
	if ((ctype && !a->content_type) || buf_append(&a->body, body, len, SIZE_MAX / 2) < 0)
		return -1;
	return 0;
}

int answer_message(struct answer *a, unsigned status, const char *msg)
{
	json_t *o = json_pack("{s:s}", "message", msg);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = text ? answer_set(a, status, "application/json", text, strlen(text)) : -1;

	free(text);
	json_decref(o);
	return rc;
}

int answer_header(struct answer *a, const char *name, const char *value)
{
	size_t i;
	char *v = strdup(value);

	if (!v)
		return -1;
	for (i = 0; i < a->nh; i++) {
		if (strcasecmp(a->h[i].name, name) == 0) {
			free(a->h[i].value);
			a->h[i].value = v;
			return 0;
		}
	}
	if (a->nh == ANSWER_MAX_HEADERS || !(a->h[a->nh].name = strdup(name))) {
		free(v);
		return -1;
	}
	a->h[a->nh++].value = v;
	return 0;
}

void answer_free(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->nh; i++) {
		free(a->h[i].name);
		free(a->h[i].value);
	}
	a->nh = 0;
	free(a->content_type);
	a->content_type = NULL;
	buf_free(&a->body);
	a->status = 0;
}
