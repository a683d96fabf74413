/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server (libmicrohttpd, epoll with a thread pool): /metrics from
 * the current snapshot, /-/healthy, /-/ready and a landing page. A scrape
 * never waits on the CircleCI API.
 */
#ifndef CIE_HTTP_H
#define CIE_HTTP_H

#include <stdbool.h>

#include "error.h"

struct cie_http;

struct cie_http_options {
	const char *listen_address;   /* "HOST:PORT", ":PORT" or "[V6]:PORT" */
	const char *metrics_path;     /* e.g. "/metrics"; copied */
	bool (*ready)(void *ctx);     /* whether /-/ready answers 200 */
	void *ready_ctx;
};

/* Start serving; returns NULL with err set when the address cannot be bound. */
struct cie_http *cie_http_start(const struct cie_http_options *opt,
				struct cie_error *err);

/* The port actually bound (useful with port 0). */
unsigned cie_http_port(const struct cie_http *h);

/* Stop accepting, close connections and free the server; NULL is allowed. */
void cie_http_stop(struct cie_http *h);

/*
 * Content negotiation, exposed for tests: whether an Accept header value
 * prefers OpenMetrics 1.0.0 to the 0.0.4 text format, and whether an
 * Accept-Encoding header value allows gzip.
 */
bool cie_http_wants_openmetrics(const char *accept);
bool cie_http_accepts_gzip(const char *accept_encoding);

#endif
