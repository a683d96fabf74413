/* SPDX-License-Identifier: MIT */
/*
 * Fault rules: parsing and validation of POST /_control/faults, and picking
 * the rule that applies to one API request.
 */
#define _POSIX_C_SOURCE 200809L

#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

static const char garbage_body[] = "<html><body>502 Bad Gateway</body></html>";

static const char *const fault_keys[] = {
	"path_prefix", "path_regex", "query_regex", "count", "status", "body",
	"content_type", "headers", "delay_ms", "truncate", "drop", "garbage",
	"comment", NULL
};

static const char *const kind_names[2][5] = {
	{ NULL, "status", "truncate", "drop", "garbage" },
	{ "delay", "delay+status", "delay+truncate", "delay+drop", "delay+garbage" },
};

static int check_keys(json_t *o, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; fault_keys[i] && strcmp(fault_keys[i], key) != 0; i++)
			;
		if (!fault_keys[i]) {
			snprintf(err, errlen, "unknown key \"%s\"", key);
			return -1;
		}
	}
	return 0;
}

static int compile(json_t *v, const char *what, regex_t *re, int *has, char *err, size_t errlen)
{
	int rc;

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s must be a string", what);
		return -1;
	}
	rc = regcomp(re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];

		regerror(rc, re, msg, sizeof(msg));
		snprintf(err, errlen, "%s: %s", what, msg);
		return -1;
	}
	*has = 1;
	return 0;
}

static int get_int(json_t *o, const char *key, long min, long max, long *out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "%s must be an integer from %ld to %ld", key, min, max);
		return -1;
	}
	*out = (long)json_integer_value(v);
	return 1;
}

/* Exactly one kind among status, truncate, drop, garbage, or a delay alone. */
static int get_bool(json_t *o, const char *key, int *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v && !json_is_boolean(v)) {
		snprintf(err, errlen, "%s must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* Exactly one kind among status, truncate, drop, garbage, or a delay alone. */
static int parse_kind(json_t *o, struct fault *f, char *err, size_t errlen)
{
	long status = 0, trunc = 0;
	int has_status, has_trunc, drop, garbage;

	if ((has_status = get_int(o, "status", 100, 599, &status, err, errlen)) < 0 ||
	    (has_trunc = get_int(o, "truncate", 0, 1L << 30, &trunc, err, errlen)) < 0 ||
	    get_bool(o, "drop", &drop, err, errlen) < 0 ||
	    get_bool(o, "garbage", &garbage, err, errlen) < 0)
		return -1;
	if (has_status + has_trunc + drop + garbage > 1) {
		snprintf(err, errlen, "at most one of status, truncate, drop, garbage");
		return -1;
	}
	if (has_status)
		f->kind = FAULT_STATUS;
	else if (has_trunc)
		f->kind = FAULT_TRUNCATE;
	else if (drop)
		f->kind = FAULT_DROP;
	else if (garbage)
		f->kind = FAULT_GARBAGE;
	else
		f->kind = FAULT_NONE;
	f->status = (unsigned)status;
	f->truncate = (size_t)trunc;
	if (f->kind == FAULT_NONE && f->delay_ms <= 0) {
		snprintf(err, errlen, "does nothing: give status, truncate, drop, garbage or delay_ms");
		return -1;
	}
	return 0;
}

static int parse_body(json_t *o, struct fault *f, char *err, size_t errlen)
{
	json_t *body = json_object_get(o, "body"), *ct = json_object_get(o, "content_type");
	const char *dflt = json_is_string(body) || !body ? "text/plain" : "application/json";

	if ((body || ct) && f->kind != FAULT_STATUS) {
		snprintf(err, errlen, "body and content_type go with status only");
		return -1;
	}
	if (ct && !json_is_string(ct)) {
		snprintf(err, errlen, "content_type must be a string");
		return -1;
	}
	f->content_type = strdup(ct ? json_string_value(ct) : dflt);
	if (json_is_string(body)) {
		f->body_len = json_string_length(body);
		f->body = malloc(f->body_len + 1);
		if (f->body)
			memcpy(f->body, json_string_value(body), f->body_len + 1);
	} else {
		f->body = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("");
		f->body_len = f->body ? strlen(f->body) : 0;
	}
	if (!f->body || !f->content_type) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_match(json_t *o, struct fault *f, char *err, size_t errlen)
{
	json_t *prefix = json_object_get(o, "path_prefix");

	if (prefix && !json_is_string(prefix)) {
		snprintf(err, errlen, "path_prefix must be a string");
		return -1;
	}
	f->prefix = prefix ? strdup(json_string_value(prefix)) : NULL;
	if (compile(json_object_get(o, "path_regex"), "path_regex", &f->re, &f->has_re, err, errlen) < 0 ||
	    compile(json_object_get(o, "query_regex"), "query_regex", &f->qre, &f->has_qre, err, errlen) < 0)
		return -1;
	return 0;
}

static int parse_rule(json_t *o, struct fault *f, char *err, size_t errlen)
{
	json_t *v;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "not an object");
		return -1;
	}
	f->count = -1;
	if (check_keys(o, err, errlen) < 0 || parse_match(o, f, err, errlen) < 0 ||
	    get_int(o, "count", -1, 1L << 30, &f->count, err, errlen) < 0 ||
	    get_int(o, "delay_ms", 0, FAULTS_MAX_DELAY_MS, &f->delay_ms, err, errlen) < 0 ||
	    parse_kind(o, f, err, errlen) < 0 || parse_body(o, f, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(o, "headers")) != NULL) {
		if (f->kind == FAULT_DROP) {
			snprintf(err, errlen, "headers make no sense with drop");
			return -1;
		}
		if (routes_parse_headers(v, &f->h, &f->nh, err, errlen) < 0)
			return -1;
	}
	f->spec = json_deep_copy(o);
	return f->spec ? 0 : -1;
}

static void fault_free(struct fault *f)
{
	size_t i;

	free(f->prefix);
	if (f->has_re)
		regfree(&f->re);
	if (f->has_qre)
		regfree(&f->qre);
	free(f->body);
	free(f->content_type);
	for (i = 0; i < f->nh; i++) {
		free(f->h[i].name);
		free(f->h[i].value);
	}
	free(f->h);
	json_decref(f->spec);
}

void faults_free(struct fault_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		fault_free(&l->v[i]);
	free(l->v);
	free(l);
}

struct fault_list *faults_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	struct fault_list *l = calloc(1, sizeof(*l));
	size_t i, n = json_array_size(root);
	char msg[300];

	if (!root || !json_is_array(root) || n > FAULTS_MAX_RULES) {
		snprintf(err, errlen, "body must be a JSON array of at most %u rules%s%s",
			 FAULTS_MAX_RULES, root ? "" : ": ", root ? "" : je.text);
		goto fail;
	}
	if (!l || !(l->v = calloc(n + 1, sizeof(*l->v))))
		goto fail;
	for (i = 0; i < n; i++) {
		l->n = i + 1;
		msg[0] = '\0';
		if (parse_rule(json_array_get(root, i), &l->v[i], msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "rule %zu: %s", i, msg[0] ? msg : "out of memory");
			goto fail;
		}
	}
	json_decref(root);
	return l;

fail:
	json_decref(root);
	faults_free(l);
	return NULL;
}

static int rule_matches(const struct fault *f, const char *path, const char *query)
{
	if (f->count == 0)
		return 0;
	if (f->prefix && strncmp(path, f->prefix, strlen(f->prefix)) != 0)
		return 0;
	if (f->has_re && regexec(&f->re, path, 0, NULL, 0) != 0)
		return 0;
	if (f->has_qre && regexec(&f->qre, query, 0, NULL, 0) != 0)
		return 0;
	return 1;
}

static int fill_action(const struct fault *f, struct fault_action *act)
{
	size_t i;
	int rc = 0;

	act->kind = f->kind;
	act->name = kind_names[f->delay_ms > 0][f->kind];
	act->delay_ms = f->delay_ms;
	act->truncate = f->truncate;
	if (f->kind == FAULT_STATUS)
		rc = answer_set(&act->ans, f->status, f->content_type, f->body, f->body_len);
	else if (f->kind == FAULT_GARBAGE)
		rc = answer_set(&act->ans, 200, "text/html", garbage_body, strlen(garbage_body));
	for (i = 0; i < f->nh && rc == 0; i++)
		rc = answer_header(&act->ans, f->h[i].name, f->h[i].value);
	return rc;
}

int faults_take(struct fault_list *l, const char *path, const char *query,
		struct fault_action *act)
{
	size_t i;

	for (i = 0; l && i < l->n; i++) {
		struct fault *f = &l->v[i];

		if (!rule_matches(f, path, query))
			continue;
		if (f->count > 0)
			f->count--;
		f->hits++;
		return fill_action(f, act) < 0 ? -1 : 1;
	}
	return 0;
}

void fault_action_free(struct fault_action *act)
{
	answer_free(&act->ans);
	act->kind = FAULT_NONE;
	act->name = NULL;
}

json_t *faults_json(const struct fault_list *l)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && l && i < l->n; i++) {
		json_t *o = json_deep_copy(l->v[i].spec);

		if (!o)
			continue;
		json_object_set_new(o, "count", json_integer(l->v[i].count));
		json_object_set_new(o, "hits", json_integer((json_int_t)l->v[i].hits));
		json_array_append_new(arr, o);
	}
	return arr;
}
