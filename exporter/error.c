/* SPDX-License-Identifier: MIT */
/*
 * Error codes and the error detail struct.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *cie_strerror(enum cie_result result)
{
	switch (result) {
	case CIE_OK:
		return "success";
	case CIE_ERR_NOMEM:
		return "out of memory";
	case CIE_ERR_IO:
		return "I/O error";
	case CIE_ERR_CONFIG:
		return "invalid config";
	case CIE_ERR_TRANSPORT:
		return "transport error";
	case CIE_ERR_HTTP:
		return "HTTP error status";
	case CIE_ERR_PARSE:
		return "unexpected response body";
	case CIE_ERR_LIMIT:
		return "limit reached";
	}
	return "unknown error";
}

enum cie_result cie_error_set(struct cie_error *err, enum cie_result result,
			      const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return result;
	err->result = result;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return result;
}

void cie_error_clear(struct cie_error *err)
{
	if (!err)
		return;
	err->result = CIE_OK;
	err->http_status = 0;
	err->detail[0] = '\0';
}
