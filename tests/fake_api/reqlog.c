/* SPDX-License-Identifier: MIT */
/*
 * The request log, in memory and optionally appended to a file as JSON
 * lines, flushed after each request.
 */
#define _POSIX_C_SOURCE 200809L

#include "reqlog.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Microseconds of a Unix time need 16 significant digits. */
#define LOG_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(16))

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *entries;
static FILE *log_file;
static unsigned long overflow;

int reqlog_open(const char *file)
{
	entries = json_array();
	if (!entries)
		return -1;
	if (file && !(log_file = fopen(file, "a")))
		return -1;
	return 0;
}

/* A JSON string of s; bytes of invalid UTF-8 become %HH. */
static json_t *str_or_null(const char *s)
{
	json_t *v;
	char *esc, *o;

	if (!s)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	esc = malloc(strlen(s) * 3 + 1);
	if (!esc)
		return json_null();
	for (o = esc; *s; s++) {
		unsigned char c = (unsigned char)*s;

		o += c < 0x80 ? sprintf(o, "%c", c) : sprintf(o, "%%%02X", c);
	}
	v = json_string(esc);
	free(esc);
	return v ? v : json_null();
}

static json_t *make_entry(const struct logrec *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "t", json_real((double)(long long)(r->t * 1e6) / 1e6));
	json_object_set_new(o, "method", str_or_null(r->method));
	json_object_set_new(o, "path", str_or_null(r->path));
	json_object_set_new(o, "query", str_or_null(r->query));
	json_object_set_new(o, "status", json_integer(r->status));
	json_object_set_new(o, "fault", str_or_null(r->fault));
	json_object_set_new(o, "user_agent", str_or_null(r->user_agent));
	json_object_set_new(o, "accept", str_or_null(r->accept));
	return o;
}

void reqlog_add(const struct logrec *r)
{
	json_t *o = make_entry(r);
	char *line = o && log_file ? json_dumps(o, LOG_DUMP_FLAGS) : NULL;

	pthread_mutex_lock(&log_lock);
	if (line) {
		fprintf(log_file, "%s\n", line);
		fflush(log_file);
	}
	if (o && json_array_size(entries) < REQLOG_MAX_ENTRIES) {
		json_array_append(entries, o);
	} else if (overflow++ == 0) {
		fprintf(stderr, "fake-circleci-api: request log full (%u entries), "
			"not keeping more\n", REQLOG_MAX_ENTRIES);
	}
	pthread_mutex_unlock(&log_lock);
	free(line);
	json_decref(o);
}

char *reqlog_dump(void)
{
	char *text;

	pthread_mutex_lock(&log_lock);
	text = json_dumps(entries, LOG_DUMP_FLAGS | JSON_ENCODE_ANY);
	pthread_mutex_unlock(&log_lock);
	return text;
}

void reqlog_clear(void)
{
	pthread_mutex_lock(&log_lock);
	json_array_clear(entries);
	overflow = 0;
	pthread_mutex_unlock(&log_lock);
}

void reqlog_close(void)
{
	pthread_mutex_lock(&log_lock);
	json_decref(entries);
	entries = NULL;
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	pthread_mutex_unlock(&log_lock);
}
