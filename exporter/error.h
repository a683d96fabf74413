/* SPDX-License-Identifier: MIT */
/*
 * The error codes shared by all modules, and the caller-supplied error
 * struct that carries the detail: the config key, the JSON path, the HTTP
 * status or the API's message.
 */
#ifndef CIE_ERROR_H
#define CIE_ERROR_H

enum cie_result {
	CIE_OK = 0,
	CIE_ERR_NOMEM,     /* an allocation failed */
	CIE_ERR_IO,        /* a file could not be read */
	CIE_ERR_CONFIG,    /* the config is invalid */
	CIE_ERR_TRANSPORT, /* connection, TLS or timeout failure */
	CIE_ERR_HTTP,      /* the API returned a non-2xx status */
	CIE_ERR_PARSE,     /* the body is not the JSON expected */
	CIE_ERR_LIMIT,     /* a configured maximum was reached */
};

#define CIE_ERROR_DETAIL_MAX 512

struct cie_error {
	enum cie_result result;
	long http_status;                   /* with CIE_ERR_HTTP, else 0 */
	char detail[CIE_ERROR_DETAIL_MAX];  /* human-readable, never a secret */
};

/* Return a static description of a result code. */
const char *cie_strerror(enum cie_result result);

/* Fill err (which may be NULL) and return result, for "return cie_error_set(...)". */
enum cie_result cie_error_set(struct cie_error *err, enum cie_result result,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset err to CIE_OK with an empty detail. */
void cie_error_clear(struct cie_error *err);

#endif
