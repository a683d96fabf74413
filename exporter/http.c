/* SPDX-License-Identifier: MIT */
/*
 * The HTTP endpoints on libmicrohttpd.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "snapshot.h"

/* How old the exporter's own metrics in an answer may be, in seconds. */
#define TAIL_MAX_AGE 1.0

#define CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_OPENMETRICS \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

struct cie_http {
	struct MHD_Daemon *daemon;
	char *metrics_path;
	bool (*ready)(void *ctx);
	void *ready_ctx;
	char landing[1024];
};

/* Media-range parsing: "type/subtype;param=v;q=0.5, ...". */

static double param_q(const char *params, size_t len)
{
	const char *q = NULL;

	for (size_t i = 0; i + 2 < len; i++) {
		if ((params[i] == ';' || params[i] == ' ') &&
		    strncasecmp(params + i + 1, "q=", 2) == 0)
			q = params + i + 3;
	}
	return q ? strtod(q, NULL) : 1.0;
}

static bool has_param(const char *params, size_t len, const char *param)
{
	size_t n = strlen(param);

	for (size_t i = 0; i + n <= len; i++) {
		if (strncasecmp(params + i, param, n) == 0)
			return true;
	}
	return false;
}

/* Quality of the best entry of header whose range starts with type. */
static double quality(const char *header, const char *type, const char *param)
{
	size_t type_len = strlen(type);
	double best = -1;
	const char *p = header;

	while (p && *p) {
		const char *end = strchr(p, ','), *semi;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		semi = memchr(p, ';', len);
		if (strncasecmp(p, type, type_len) == 0 &&
		    (p[type_len] == ';' || p[type_len] == ',' || p[type_len] == ' ' ||
		     p + type_len == p + len) &&
		    (!param || !semi || !has_param(semi, len - (size_t)(semi - p), "version=") ||
		     has_param(semi, len - (size_t)(semi - p), param))) {
			double q = semi ? param_q(semi, len - (size_t)(semi - p)) : 1.0;

			if (q > best)
				best = q;
		}
		p = end ? end + 1 : NULL;
	}
	return best;
}

bool cie_http_wants_openmetrics(const char *accept)
{
	double om, text;

	if (!accept)
		return false;
	om = quality(accept, "application/openmetrics-text", "version=1.0.0");
	text = quality(accept, "text/plain", NULL);
	return om > 0 && om >= text;
}

bool cie_http_accepts_gzip(const char *accept_encoding)
{
	return accept_encoding &&
	       quality(accept_encoding, "gzip", NULL) > 0;
}

/* Responses. */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *type, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void release_answer(void *cls)
{
	cie_answer_release(cls);
}

static enum MHD_Result send_metrics(struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ACCEPT);
	const char *encoding = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	enum cie_format fmt = cie_http_wants_openmetrics(accept) ?
				      CIE_FORMAT_OPENMETRICS : CIE_FORMAT_TEXT;
	bool gzip = cie_http_accepts_gzip(encoding);
	struct cie_part parts[CIE_ANSWER_PARTS];
	struct MHD_IoVec iov[CIE_ANSWER_PARTS];
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct cie_answer *a = cie_serve_acquire(TAIL_MAX_AGE);
	size_t n;

	if (!a)
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				 "No metrics yet.\n");
	n = cie_answer_parts(a, fmt, gzip, parts);
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = parts[i].data;
		iov[i].iov_len = parts[i].len;
	}
	/* The answer's bytes are sent in place; its reference ends with the response. */
	r = MHD_create_response_from_iovec(iov, (unsigned)n, release_answer, a);
	if (!r) {
		cie_answer_release(a);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				fmt == CIE_FORMAT_OPENMETRICS ?
					CONTENT_TYPE_OPENMETRICS : CONTENT_TYPE_TEXT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	if (gzip)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **request_ctx)
{
	static int first_call_marker;
	struct cie_http *h = cls;

	(void)version;
	(void)upload_data;
	/*
	 * The first call only announces the request; answering then would make
	 * libmicrohttpd close the connection, so answer on the second call,
	 * once any body (ignored) has been read.
	 */
	if (!*request_ctx) {
		*request_ctx = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				 "Method not allowed: use GET or HEAD.\n");
	if (strcmp(url, h->metrics_path) == 0)
		return send_metrics(c);
	if (strcmp(url, "/-/healthy") == 0)
		return send_text(c, MHD_HTTP_OK, "text/plain", "Healthy.\n");
	if (strcmp(url, "/-/ready") == 0) {
		if (h->ready(h->ready_ctx))
			return send_text(c, MHD_HTTP_OK, "text/plain", "Ready.\n");
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				 "Not ready: the first refresh of every project has not finished.\n");
	}
	if (strcmp(url, "/") == 0)
		return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", h->landing);
	return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "Not found.\n");
}

/* Resolve the listen address into addr; host "" means every address. */
static bool resolve(const char *host, unsigned port,
		    struct sockaddr_storage *addr, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *list = NULL;
	char service[8];

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &list) != 0 || !list)
		return false;
	memcpy(addr, list->ai_addr, list->ai_addrlen);
	*len = list->ai_addrlen;
	freeaddrinfo(list);
	return true;
}

static unsigned thread_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}

static struct MHD_Daemon *start_daemon(struct cie_http *h, const char *host,
				       unsigned port, struct cie_error *err)
{
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD;
	struct sockaddr_storage addr;
	socklen_t len = 0;

	if (*host) {
		if (!resolve(host, port, &addr, &len)) {
			cie_error_set(err, CIE_ERR_CONFIG,
				      "listen address: cannot resolve host \"%s\"", host);
			return NULL;
		}
		if (addr.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, h,
					MHD_OPTION_THREAD_POOL_SIZE, thread_count(),
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
					MHD_OPTION_CONNECTION_TIMEOUT, 60u,
					MHD_OPTION_END);
	}
	return MHD_start_daemon(flags | MHD_USE_DUAL_STACK, (uint16_t)port, NULL,
				NULL, handle, h, MHD_OPTION_THREAD_POOL_SIZE,
				thread_count(), MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				MHD_OPTION_END);
}

struct cie_http *cie_http_start(const struct cie_http_options *opt,
				struct cie_error *err)
{
	struct cie_http *h = calloc(1, sizeof(*h));
	char host[256];
	unsigned port;

	if (!h) {
		cie_error_set(err, CIE_ERR_NOMEM, "server");
		return NULL;
	}
	h->metrics_path = strdup(opt->metrics_path);
	h->ready = opt->ready;
	h->ready_ctx = opt->ready_ctx;
	snprintf(h->landing, sizeof(h->landing),
		 "<!DOCTYPE html>\n<html><head><title>CircleCI Insights Exporter</title></head>\n"
		 "<body><h1>CircleCI Insights Exporter</h1>\n<ul>\n"
		 "<li><a href=\"%s\">Metrics</a></li>\n"
		 "<li><a href=\"/-/healthy\">Health</a></li>\n"
		 "<li><a href=\"/-/ready\">Readiness</a></li>\n"
		 "</ul></body></html>\n", opt->metrics_path);
	if (!h->metrics_path ||
	    !cie_config_split_address(opt->listen_address, host, sizeof(host), &port)) {
		cie_error_set(err, CIE_ERR_CONFIG, "invalid listen address \"%s\"",
			      opt->listen_address);
		cie_http_stop(h);
		return NULL;
	}
	h->daemon = start_daemon(h, host, port, err);
	if (!h->daemon) {
		if (err && err->result == CIE_OK)
			cie_error_set(err, CIE_ERR_IO,
				      "cannot listen on \"%s\": the address may be in use or not local",
				      opt->listen_address);
		cie_http_stop(h);
		return NULL;
	}
	return h;
}

unsigned cie_http_port(const struct cie_http *h)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void cie_http_stop(struct cie_http *h)
{
	if (!h)
		return;
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	free(h->metrics_path);
	free(h);
}
