/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server (libmicrohttpd, epoll with a thread pool): /metrics from
 * the current snapshot, /-/healthy, /-/ready and a landing page. A scrape
 * never waits on the CircleCI API. Optional TLS and basic auth; connection,
 * per-address, idle-time and request-size limits.
 */
#ifndef CIE_HTTP_H
#define CIE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct cie_http;

/*
 * Server settings. Strings are read during cie_http_start() only. A limit
 * left at 0 takes the default of the config key it comes from:
 * server.max_connections 256, server.max_connections_per_ip 32,
 * server.idle_timeout 60 s, server.max_request_bytes 32 KiB.
 */
struct cie_http_options {
	const char *listen_address;   /* "HOST:PORT", ":PORT" or "[V6]:PORT" */
	const char *metrics_path;     /* e.g. "/metrics"; copied */
	bool (*ready)(void *ctx);     /* whether /-/ready returns 200 */
	void *ready_ctx;

	unsigned max_connections;        /* open connections at once */
	unsigned max_connections_per_ip; /* from one client address */
	unsigned idle_timeout;           /* seconds before an idle connection is closed */
	size_t max_request_bytes;        /* request line and headers; larger gets 414/431 */

	const char *tls_cert_file;       /* PEM; with tls_key_file, serve HTTPS */
	const char *tls_key_file;        /* PEM, unencrypted */

	/*
	 * With both set, every path except /-/healthy needs HTTP basic auth
	 * with this username and a password matching the bcrypt hash.
	 */
	const char *basic_auth_username;
	const char *basic_auth_hash;
};

/*
 * Start serving. Returns NULL with err set when the address cannot be
 * bound, the TLS certificate or key cannot be loaded (or this
 * libmicrohttpd has no TLS), or memory runs out.
 */
struct cie_http *cie_http_start(const struct cie_http_options *opt,
				struct cie_error *err);

/*
 * Check that the TLS certificate and key files can be read and used
 * together, as cie_http_start() would, for --check-config. Returns false
 * with err set (CIE_ERR_CONFIG or CIE_ERR_IO) when they cannot.
 */
bool cie_http_check_tls(const char *cert_file, const char *key_file,
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
