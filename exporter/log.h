/* SPDX-License-Identifier: MIT */
/*
 * Structured logging to stderr: one line per event, logfmt or JSON, with a
 * real timestamp, the level, a message and key=value fields. Thread-safe.
 */
#ifndef CIE_LOG_H
#define CIE_LOG_H

#include <stdbool.h>

enum cie_log_level {
	CIE_LOG_DEBUG,
	CIE_LOG_INFO,
	CIE_LOG_WARN,
	CIE_LOG_ERROR,
};

enum cie_log_format {
	CIE_LOG_LOGFMT,
	CIE_LOG_JSON,
};

/* Parse "debug", "info", "warn" or "error"; false on anything else. */
bool cie_log_parse_level(const char *s, enum cie_log_level *out);

/* Parse "logfmt" or "json"; false on anything else. */
bool cie_log_parse_format(const char *s, enum cie_log_format *out);

/* Set the minimum level and the line format (defaults: info, logfmt). */
void cie_log_setup(enum cie_log_level level, enum cie_log_format format);

/*
 * Register a secret (the API token) that must never be printed: any
 * occurrence in a message or field is overwritten with asterisks. The string
 * is copied; NULL or "" clears it.
 */
void cie_log_set_secret(const char *secret);

bool cie_log_enabled(enum cie_log_level level);

/*
 * Log msg with fields given as key, value pairs of C strings, ended by a
 * NULL key. A NULL value is skipped. Example:
 *   cie_log(CIE_LOG_WARN, "request failed", "project", slug, NULL);
 */
void cie_log(enum cie_log_level level, const char *msg, ...);

#endif
