/* SPDX-License-Identifier: MIT */
/*
 * Structured logging to stderr in logfmt or JSON.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define LOG_LINE_MAX 8192

static enum cie_log_level min_level = CIE_LOG_INFO;
static enum cie_log_format line_format = CIE_LOG_LOGFMT;
static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secret;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

bool cie_log_parse_level(const char *s, enum cie_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cie_log_level)i;
			return true;
		}
	}
	return false;
}

bool cie_log_parse_format(const char *s, enum cie_log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = CIE_LOG_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = CIE_LOG_JSON;
	else
		return false;
	return true;
}

void cie_log_setup(enum cie_log_level level, enum cie_log_format format)
{
	min_level = level;
	line_format = format;
}

void cie_log_set_secret(const char *s)
{
	pthread_mutex_lock(&secret_lock);
	if (secret)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	secret = (s && *s) ? strdup(s) : NULL;
	pthread_mutex_unlock(&secret_lock);
}

bool cie_log_enabled(enum cie_log_level level)
{
	return level >= min_level;
}

static bool logfmt_needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s < 0x20)
			return true;
	}
	return false;
}

static void put_escaped(struct cie_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			cie_buf_putc(b, '\\');
			cie_buf_putc(b, (char)c);
		} else if (c == '\n') {
			cie_buf_puts(b, "\\n");
		} else if (c < 0x20) {
			cie_buf_printf(b, "\\u%04x", c);
		} else {
			cie_buf_putc(b, (char)c);
		}
	}
}

static void put_value(struct cie_buf *b, const char *v)
{
	if (line_format == CIE_LOG_JSON || logfmt_needs_quotes(v)) {
		cie_buf_putc(b, '"');
		put_escaped(b, v);
		cie_buf_putc(b, '"');
	} else {
		cie_buf_puts(b, v);
	}
}

static void put_field(struct cie_buf *b, const char *key, const char *value)
{
	if (line_format == CIE_LOG_JSON) {
		cie_buf_puts(b, b->len > 1 ? ",\"" : "\"");
		put_escaped(b, key);
		cie_buf_puts(b, "\":");
	} else {
		if (b->len)
			cie_buf_putc(b, ' ');
		cie_buf_puts(b, key);
		cie_buf_putc(b, '=');
	}
	put_value(b, value);
}

static void put_timestamp(struct cie_buf *b)
{
	struct timespec ts;
	struct tm tm;
	char text[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), ".%03ldZ",
		 ts.tv_nsec / 1000000);
	put_field(b, "ts", text);
}

/* Replace every occurrence of the registered secret in the line. */
static void redact(struct cie_buf *b)
{
	size_t n;
	char *p;

	pthread_mutex_lock(&secret_lock);
	if (secret) {
		n = strlen(secret);
		/* Search on after each match: a secret of asterisks would match again. */
		for (p = b->data; (p = strstr(p, secret)) != NULL; p += n)
			memset(p, '*', n);
	}
	pthread_mutex_unlock(&secret_lock);
}

void cie_log(enum cie_log_level level, const char *msg, ...)
{
	struct cie_buf b;
	const char *key, *value;
	va_list ap;

	if (level < min_level)
		return;

	cie_buf_init(&b, LOG_LINE_MAX);
	if (line_format == CIE_LOG_JSON)
		cie_buf_putc(&b, '{');
	put_timestamp(&b);
	put_field(&b, "level", level_names[level]);
	put_field(&b, "msg", msg);

	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value)
			put_field(&b, key, value);
	}
	va_end(ap);

	if (line_format == CIE_LOG_JSON)
		cie_buf_putc(&b, '}');
	cie_buf_putc(&b, '\n');
	if (b.data) {
		redact(&b);
		fputs(b.data, stderr);
		fflush(stderr);
	}
	cie_buf_cleanup(&b);
}
