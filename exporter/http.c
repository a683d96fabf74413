/* SPDX-License-Identifier: MIT */
/*
 * The HTTP endpoints on libmicrohttpd, with the server's limits, TLS and
 * basic auth.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "snapshot.h"
#include "timeutil.h"

/* Maximum age, in seconds, of the exporter's own metrics in a response. */
#define TAIL_MAX_AGE 1.0

#define CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_OPENMETRICS \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

#define AUTH_REALM "circleci-insights-exporter"

/* Defaults of the limits, the same as those of the config keys. */
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_MAX_CONNECTIONS_PER_IP 32
#define DEFAULT_IDLE_TIMEOUT 60
#define DEFAULT_MAX_REQUEST_BYTES (32 * 1024)

/* A certificate chain or key file larger than this is rejected. */
#define TLS_FILE_MAX (1024 * 1024)

/* TLS 1.2 and 1.3 only, in GnuTLS priority syntax. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* At most one log line about failed logins per this many seconds. */
#define AUTH_LOG_INTERVAL 10.0

struct cie_http {
	struct MHD_Daemon *daemon;
	char *metrics_path;
	bool (*ready)(void *ctx);
	void *ready_ctx;
	char landing[1024];
	size_t max_request_bytes;

	char *tls_cert;               /* PEM text, kept while the daemon runs */
	char *tls_key;                /* PEM text; wiped when freed */
	struct cie_auth *auth;        /* NULL: no basic auth */

	pthread_mutex_t log_lock;     /* guards the two fields below */
	double auth_logged;           /* monotonic time of the last such line */
	unsigned long auth_suppressed;

	atomic_bool starting;         /* libmicrohttpd messages go to start_error */
	char start_error[256];
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
	double q;

	if (!accept_encoding)
		return false;
	q = quality(accept_encoding, "gzip", NULL);
	/* "*" covers gzip unless gzip is listed on its own. */
	if (q < 0)
		q = quality(accept_encoding, "*", NULL);
	return q > 0;
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
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
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
	/* The bytes are sent in place; the reference ends with the MHD response. */
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

/* Basic auth. */

static enum MHD_Result send_unauthorized(struct MHD_Connection *c)
{
	static const char text[] = "Unauthorized: this server needs HTTP basic auth.\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(text) - 1, (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	/* Adds WWW-Authenticate: Basic realm="..." and queues 401. */
	ret = MHD_queue_basic_auth_fail_response(c, AUTH_REALM, r);
	MHD_destroy_response(r);
	return ret;
}

static void client_address(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	snprintf(out, size, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  out, (socklen_t)size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)size);
}

/*
 * Log a request with wrong credentials, at most once per
 * AUTH_LOG_INTERVAL with the number not logged since. The username and
 * password are never logged: a user may have typed the password into the
 * wrong field. A request without credentials is normal (a browser's
 * first try) and logged at debug level only.
 */
static void log_auth_failure(struct cie_http *h, struct MHD_Connection *c,
			     const char *url, bool had_credentials)
{
	double now = cie_time_mono();
	char remote[INET6_ADDRSTRLEN + 1], path[128], suppressed[24];

	if (!had_credentials && !cie_log_enabled(CIE_LOG_DEBUG))
		return;
	if (had_credentials) {
		pthread_mutex_lock(&h->log_lock);
		if (h->auth_logged > 0 && now - h->auth_logged < AUTH_LOG_INTERVAL) {
			h->auth_suppressed++;
			pthread_mutex_unlock(&h->log_lock);
			return;
		}
		snprintf(suppressed, sizeof(suppressed), "%lu", h->auth_suppressed);
		h->auth_logged = now;
		h->auth_suppressed = 0;
		pthread_mutex_unlock(&h->log_lock);
	}

	client_address(c, remote, sizeof(remote));
	snprintf(path, sizeof(path), "%s", url);
	if (had_credentials)
		cie_log(CIE_LOG_WARN, "basic auth failed: wrong username or password",
			"remote", remote, "path", path, "not_logged_since_last",
			suppressed, NULL);
	else
		cie_log(CIE_LOG_DEBUG, "basic auth failed: no credentials sent",
			"remote", remote, "path", path, NULL);
}

/* Check the credentials; returns true, or false with a 401 or 503 queued in *ret. */
static bool authorize(struct cie_http *h, struct MHD_Connection *c,
		      const char *url, enum MHD_Result *ret)
{
	char *password = NULL;
	char *username = MHD_basic_auth_get_username_password(c, &password);
	enum cie_auth_result result = cie_auth_check(h->auth, username, password);
	bool had_credentials = username != NULL;

	if (password) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (username)
		MHD_free(username);
	if (result == CIE_AUTH_OK)
		return true;
	if (result == CIE_AUTH_BUSY) {
		*ret = send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				 "Too many password checks at once; retry in a second.\n");
		return false;
	}
	log_auth_failure(h, c, url, had_credentials);
	*ret = send_unauthorized(c);
	return false;
}

/* Requests. */

/*
 * The request context counts the body bytes seen plus one, stored in the
 * pointer itself, so that nothing needs freeing when the request ends.
 */
static size_t body_bytes(void *const *request_ctx)
{
	return (size_t)((uintptr_t)*request_ctx - 1);
}

/* First call for a request: its headers are in, its body (if any) is not. */
static enum MHD_Result start_request(struct cie_http *h,
				     struct MHD_Connection *c,
				     const char *method, void **request_ctx)
{
	const char *length = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	*request_ctx = (void *)(uintptr_t)1;
	/*
	 * A response queued now makes libmicrohttpd close the connection after
	 * sending it when a body was announced, instead of reading that body.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				 "Method not allowed: use GET or HEAD.\n");
	if (length && strtoull(length, NULL, 10) > h->max_request_bytes)
		return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
				 "Request body too large.\n");
	return MHD_YES;
}

/* A body on GET or HEAD means nothing here: count it and drop it. */
static enum MHD_Result discard_body(struct cie_http *h, size_t *upload_size,
				    void **request_ctx)
{
	size_t seen = body_bytes(request_ctx) + *upload_size;

	/* A chunked body has no Content-Length to check up front. */
	if (seen > h->max_request_bytes)
		return MHD_NO;
	*request_ctx = (void *)(uintptr_t)(seen + 1);
	*upload_size = 0;
	return MHD_YES;
}

static enum MHD_Result route(struct cie_http *h, struct MHD_Connection *c,
			     const char *url)
{
	enum MHD_Result ret;

	if (strcmp(url, "/-/healthy") == 0)
		return send_text(c, MHD_HTTP_OK, "text/plain", "Healthy.\n");
	/* Every other path, unknown ones too, needs the credentials. */
	if (h->auth && !authorize(h, c, url, &ret))
		return ret;
	if (strcmp(url, h->metrics_path) == 0)
		return send_metrics(c);
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **request_ctx)
{
	struct cie_http *h = cls;

	(void)version;
	(void)upload_data;
	if (!*request_ctx)
		return start_request(h, c, method, request_ctx);
	if (*upload_size)
		return discard_body(h, upload_size, request_ctx);
	return route(h, c, url);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode %XX escapes of the path and query, except %00: a NUL would cut
 * the path short, so "/metrics%00.txt" would be served as "/metrics".
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *out = s;

	(void)cls;
	(void)c;
	for (const char *in = s; *in; in++) {
		int high = in[0] == '%' ? hex_digit(in[1]) : -1;
		int low = high >= 0 ? hex_digit(in[2]) : -1;

		if (low >= 0 && (high | low) != 0) {
			*out++ = (char)(high * 16 + low);
			in += 2;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* libmicrohttpd's messages: kept as the reason while starting, else debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct cie_http *h = cls;
	char text[256];
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (h->starting)
		snprintf(h->start_error, sizeof(h->start_error), "%s", text);
	if (cie_log_enabled(CIE_LOG_DEBUG))
		cie_log(CIE_LOG_DEBUG, "libmicrohttpd", "detail", text, NULL);
}

/* TLS. */

/* Read a whole PEM file into a new NUL-terminated string. */
static char *read_pem(const char *path, const char *key, struct cie_error *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n = 0;

	if (!f) {
		cie_error_set(err, CIE_ERR_IO, "%s: cannot open \"%s\": %s", key,
			      path, strerror(errno));
		return NULL;
	}
	text = malloc(TLS_FILE_MAX + 1);
	if (text)
		n = fread(text, 1, TLS_FILE_MAX + 1, f);
	fclose(f);
	if (!text) {
		cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
		return NULL;
	}
	if (n == 0 || n > TLS_FILE_MAX || memchr(text, '\0', n)) {
		explicit_bzero(text, n);
		free(text);
		cie_error_set(err, CIE_ERR_CONFIG,
			      "%s: \"%s\" is empty, larger than %d bytes or not PEM text",
			      key, path, TLS_FILE_MAX);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/*
 * Load the certificate and key into GnuTLS once before libmicrohttpd does,
 * because libmicrohttpd only reports that it failed, not why.
 */
static bool check_tls_pair(const struct cie_http *h,
			   const struct cie_http_options *opt,
			   struct cie_error *err)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = { (unsigned char *)h->tls_cert,
				(unsigned)strlen(h->tls_cert) };
	gnutls_datum_t key = { (unsigned char *)h->tls_key,
			       (unsigned)strlen(h->tls_key) };
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		cie_error_set(err, CIE_ERR_NOMEM, "TLS credentials");
		return false;
	}
	rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key,
						 GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0) {
		cie_error_set(err, CIE_ERR_CONFIG,
			      "server.tls: cannot use certificate \"%s\" with key \"%s\": %s; both must be PEM, the key unencrypted and matching the certificate",
			      opt->tls_cert_file, opt->tls_key_file,
			      gnutls_strerror(rc));
		return false;
	}
	return true;
}

static bool setup_tls(struct cie_http *h, const struct cie_http_options *opt,
		      struct cie_error *err)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		cie_error_set(err, CIE_ERR_CONFIG,
			      "server.tls: this libmicrohttpd is built without TLS; remove server.tls and serve HTTPS from a reverse proxy, or install a libmicrohttpd built with GnuTLS");
		return false;
	}
	h->tls_cert = read_pem(opt->tls_cert_file, "server.tls.cert_file", err);
	if (!h->tls_cert)
		return false;
	h->tls_key = read_pem(opt->tls_key_file, "server.tls.key_file", err);
	return h->tls_key && check_tls_pair(h, opt, err);
}

bool cie_http_check_tls(const char *cert_file, const char *key_file,
			struct cie_error *err)
{
	struct cie_http_options opt = { .tls_cert_file = cert_file,
					.tls_key_file = key_file };
	struct cie_http h;
	bool ok;

	memset(&h, 0, sizeof(h));
	ok = setup_tls(&h, &opt, err);
	if (h.tls_key) {
		explicit_bzero(h.tls_key, strlen(h.tls_key));
		free(h.tls_key);
	}
	free(h.tls_cert);
	return ok;
}

/* Starting and stopping. */

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

/* Threads of the pool: one per core within 2 to 16, and no more than connections. */
static unsigned thread_count(unsigned max_connections)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = 2;

	if (cores > 16)
		threads = 16;
	else if (cores > 2)
		threads = (unsigned)cores;
	return threads < max_connections ? threads : max_connections;
}

static unsigned or_default(unsigned value, unsigned fallback)
{
	return value ? value : fallback;
}

/* Fill items with the limits and TLS options; returns the count. */
static size_t daemon_options(const struct cie_http *h,
			     const struct cie_http_options *opt,
			     struct sockaddr *addr, struct MHD_OptionItem *items)
{
	unsigned max_connections = or_default(opt->max_connections,
					      DEFAULT_MAX_CONNECTIONS);
	size_t n = 0;

	items[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
		(intptr_t)thread_count(max_connections), NULL };
	/* libmicrohttpd splits this limit evenly over the pool's threads. */
	items[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
		(intptr_t)max_connections, NULL };
	items[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(intptr_t)or_default(opt->max_connections_per_ip,
				     DEFAULT_MAX_CONNECTIONS_PER_IP), NULL };
	items[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
		(intptr_t)or_default(opt->idle_timeout, DEFAULT_IDLE_TIMEOUT), NULL };
	/* The request line and headers must fit in this per-connection pool. */
	items[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(intptr_t)h->max_request_bytes, NULL };
	if (addr)
		items[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, addr };
	if (h->tls_cert) {
		items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
			0, h->tls_cert };
		items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY,
			0, h->tls_key };
		items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
			0, (void *)(uintptr_t)TLS_PRIORITIES };
	}
	items[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return n;
}

static struct MHD_Daemon *start_daemon(struct cie_http *h,
				       const struct cie_http_options *opt,
				       const char *host, unsigned port,
				       struct cie_error *err)
{
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem items[12];
	struct sockaddr_storage addr;
	socklen_t len = 0;
	struct MHD_Daemon *d;

	if (h->tls_cert)
		flags |= MHD_USE_TLS;
	if (*host) {
		if (!resolve(host, port, &addr, &len)) {
			cie_error_set(err, CIE_ERR_CONFIG,
				      "listen address: cannot resolve host \"%s\"", host);
			return NULL;
		}
		if (addr.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
	} else {
		flags |= MHD_USE_DUAL_STACK;
	}
	daemon_options(h, opt, *host ? (struct sockaddr *)&addr : NULL, items);
	h->starting = true;
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, h,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
			     MHD_OPTION_ARRAY, items,
			     MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
			     MHD_OPTION_END);
	h->starting = false;
	return d;
}

static unsigned auth_threads(unsigned max_connections)
{
	unsigned threads = thread_count(or_default(max_connections,
						   DEFAULT_MAX_CONNECTIONS));

	/* Keep one thread free of bcrypt for scrapes whose login is cached. */
	return threads > 1 ? threads - 1 : 1;
}

static void set_landing(struct cie_http *h, const char *metrics_path)
{
	snprintf(h->landing, sizeof(h->landing),
		 "<!DOCTYPE html>\n<html><head><title>CircleCI Insights Exporter</title></head>\n"
		 "<body><h1>CircleCI Insights Exporter</h1>\n<ul>\n"
		 "<li><a href=\"%s\">Metrics</a></li>\n"
		 "<li><a href=\"/-/healthy\">Health</a></li>\n"
		 "<li><a href=\"/-/ready\">Readiness</a></li>\n"
		 "</ul></body></html>\n", metrics_path);
}

/* Everything but the daemon: paths, limits, TLS material, basic auth. */
static bool setup(struct cie_http *h, const struct cie_http_options *opt,
		  char *host, size_t host_size, unsigned *port,
		  struct cie_error *err)
{
	h->metrics_path = strdup(opt->metrics_path);
	h->ready = opt->ready;
	h->ready_ctx = opt->ready_ctx;
	h->max_request_bytes = opt->max_request_bytes ? opt->max_request_bytes :
							 DEFAULT_MAX_REQUEST_BYTES;
	set_landing(h, opt->metrics_path);
	if (!h->metrics_path ||
	    !cie_config_split_address(opt->listen_address, host, host_size, port)) {
		cie_error_set(err, CIE_ERR_CONFIG, "invalid listen address \"%s\"",
			      opt->listen_address);
		return false;
	}
	if (opt->tls_cert_file && opt->tls_key_file && !setup_tls(h, opt, err))
		return false;
	if (opt->basic_auth_username && opt->basic_auth_hash) {
		h->auth = cie_auth_new(opt->basic_auth_username,
				       opt->basic_auth_hash,
				       auth_threads(opt->max_connections), err);
		if (!h->auth)
			return false;
	}
	return true;
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
	pthread_mutex_init(&h->log_lock, NULL);
	if (!setup(h, opt, host, sizeof(host), &port, err)) {
		cie_http_stop(h);
		return NULL;
	}
	h->daemon = start_daemon(h, opt, host, port, err);
	if (!h->daemon) {
		if (err && err->result == CIE_OK)
			cie_error_set(err, CIE_ERR_IO,
				      "cannot listen on \"%s\": %s; choose another address with --web.listen-address",
				      opt->listen_address,
				      h->start_error[0] ? h->start_error :
				      "the address may be in use or not local");
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

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void cie_http_stop(struct cie_http *h)
{
	if (!h)
		return;
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	cie_auth_free(h->auth);
	free_secret(h->tls_key);
	free(h->tls_cert);
	free(h->metrics_path);
	pthread_mutex_destroy(&h->log_lock);
	free(h);
}
