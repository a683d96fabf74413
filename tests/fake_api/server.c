/* SPDX-License-Identifier: MIT */
/*
 * The libmicrohttpd callbacks of the fake API. Each request keeps its raw
 * path and query; /api/v2 requests go through faults, the rate limit, the
 * token check and the route table, in that order.
 */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "answer.h"
#include "control.h"
#include "faults.h"
#include "ratelimit.h"
#include "reqlog.h"
#include "routes.h"
#include "state.h"
#include "util.h"

#define API_PREFIX_LEN (sizeof(API_PREFIX) - 1)

struct state g_state = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* One request, from its raw request line to its completion. */
struct req {
	char *path;		/* raw, without the query */
	char *query;		/* raw, without '?'; "" when none */
	double t;		/* arrival, CLOCK_REALTIME */
	int seen;		/* the handler ran once already */
	struct buf body;	/* kept up to CONTROL_MAX_BODY */
	int too_large;
};

/* A body that stops after cut bytes while Content-Length says more. */
struct cut_body {
	char *data;
	size_t cut;
};

static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond;
static int stopping;

int server_init(void)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&sleep_cond, &attr) == 0 ? 0 : -1;
	pthread_condattr_destroy(&attr);
	return rc;
}

void server_stop_sleepers(void)
{
	pthread_mutex_lock(&sleep_lock);
	stopping = 1;
	pthread_cond_broadcast(&sleep_cond);
	pthread_mutex_unlock(&sleep_lock);
}

/* Sleep ms milliseconds unless the server stops. Returns 1 when stopping. */
static int sleep_ms(long ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sleep_lock);
	while (!stopping && pthread_cond_timedwait(&sleep_cond, &sleep_lock, &until) != ETIMEDOUT)
		;
	stop = stopping;
	pthread_mutex_unlock(&sleep_lock);
	return stop;
}

static void req_free(struct req *rq)
{
	if (!rq)
		return;
	free(rq->path);
	free(rq->query);
	buf_free(&rq->body);
	free(rq);
}

void *server_uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *rq = calloc(1, sizeof(*rq));
	const char *q = strchr(uri, '?');

	(void)cls;
	(void)c;
	if (!rq)
		return NULL;
	rq->t = now_realtime();
	rq->path = strndup(uri, q ? (size_t)(q - uri) : strlen(uri));
	rq->query = strdup(q ? q + 1 : "");
	if (!rq->path || !rq->query) {
		req_free(rq);
		return NULL;
	}
	return rq;
}

void server_done_cb(void *cls, struct MHD_Connection *c, void **req_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*req_cls);
	*req_cls = NULL;
}

size_t server_unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void log_req(struct MHD_Connection *c, const struct req *rq, const char *method,
		    unsigned status, const char *fault)
{
	struct logrec r = {
		rq->t, method, rq->path, rq->query, status, fault,
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
	};

	reqlog_add(&r);
}

static ssize_t cut_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	const struct cut_body *b = cls;
	size_t n;

	if (pos >= b->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = b->cut - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(out, b->data + pos, n);
	return (ssize_t)n;
}

static void cut_free(void *cls)
{
	struct cut_body *b = cls;

	free(b->data);
	free(b);
}

/* The body of a, or only its first cut bytes under the full Content-Length. */
static struct MHD_Response *make_response(struct answer *a, size_t cut)
{
	static char empty[1];
	struct cut_body *b;
	struct MHD_Response *r;

	if (cut >= a->body.len)
		return MHD_create_response_from_buffer(a->body.len, a->body.data ? a->body.data : empty,
						       MHD_RESPMEM_MUST_COPY);
	b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->data = a->body.data;
	b->cut = cut;
	r = MHD_create_response_from_callback(a->body.len, 4096, cut_reader, b, cut_free);
	if (!r) {
		free(b);
		return NULL;
	}
	a->body.data = NULL;	/* now owned by the response */
	buf_free(&a->body);
	return r;
}

static enum MHD_Result send_answer(struct MHD_Connection *c, struct answer *a, size_t cut)
{
	struct MHD_Response *r = make_response(a, cut);
	enum MHD_Result ret;
	size_t i;

	if (!r)
		return MHD_NO;
	if (a->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	for (i = 0; i < a->nh; i++)
		MHD_add_response_header(r, a->h[i].name, a->h[i].value);
	ret = MHD_queue_response(c, a->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_logged(struct MHD_Connection *c, const struct req *rq,
				   const char *method, struct answer *a, const char *fault,
				   size_t cut)
{
	if (a->status == 0 && answer_message(a, 500, "Internal error.") < 0)
		return MHD_NO;
	log_req(c, rq, method, a->status, fault);
	return send_answer(c, a, cut);
}

static int token_ok(struct MHD_Connection *c)
{
	const char *got;

	if (!g_state.token)
		return 1;
	got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Circle-Token");
	return got && strcmp(got, g_state.token) == 0;
}

static void route_lookup(const char *path, const struct query *q, struct answer *a)
{
	struct query rest = { calloc(q->n + 1, sizeof(struct qparam)), 0 };
	const char *page_token = NULL;
	size_t i, tokens = 0;
	long idx;
	int rc = -2;

	for (i = 0; rest.v && i < q->n; i++) {
		if (strcmp(q->v[i].name, "page-token") == 0) {
			page_token = q->v[i].value;
			tokens++;
		} else {
			rest.v[rest.n++] = q->v[i];	/* borrowed strings */
		}
	}
	if (rest.v && tokens > 1) {
		answer_message(a, 400, "invalid page token");
	} else if (rest.v) {
		pthread_mutex_lock(&g_state.lock);
		idx = routes_find(g_state.routes, path, &rest);
		rc = idx < 0 ? 1 : routes_answer(g_state.routes, (size_t)idx, page_token, a);
		pthread_mutex_unlock(&g_state.lock);
		if (rc == 1)
			answer_message(a, 404, "Not found.");
		else if (rc == -1)
			answer_message(a, 400, "invalid page token");
	}
	free(rest.v);
}

static int has_param(const struct query *q, const char *name)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		if (strcasecmp(q->v[i].name, name) == 0)
			return 1;
	}
	return 0;
}

static void api_answer(struct MHD_Connection *c, const struct req *rq, const char *method,
		       struct answer *a)
{
	struct query q;

	if (query_parse(rq->query, &q) < 0) {
		answer_message(a, 400, "malformed query string");
		return;
	}
	if (has_param(&q, "circle-token")) {
		answer_message(a, 400, "token must not be sent in the query string");
	} else if (!token_ok(c)) {
		answer_message(a, 401, "You must log in first.");
	} else if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
		answer_message(a, 405, "Method not allowed.");
		answer_header(a, "Allow", "GET");
	} else {
		route_lookup(rq->path + API_PREFIX_LEN, &q, a);
	}
	query_free(&q);
}

/* The answer of the API itself: rate limit first, then api_answer. */
static void real_answer(struct MHD_Connection *c, const struct req *rq, const char *method,
			struct answer *a)
{
	long remaining = 0, retry = 0;
	char num[32];

	if (rl_enabled() && !rl_take(&remaining, &retry)) {
		answer_set(a, 429, "text/plain", "Rate limited.", strlen("Rate limited."));
		snprintf(num, sizeof(num), "%ld", retry);
		answer_header(a, "Retry-After", num);
	} else {
		api_answer(c, rq, method, a);
	}
	if (rl_enabled()) {
		snprintf(num, sizeof(num), "%ld", remaining);
		answer_header(a, "X-RateLimit-Remaining", num);
	}
}

static enum MHD_Result handle_api(struct MHD_Connection *c, struct req *rq, const char *method)
{
	struct fault_action fa = { .kind = FAULT_NONE };
	struct answer a = { 0 };
	enum MHD_Result ret;
	size_t i, cut = SIZE_MAX;

	pthread_mutex_lock(&g_state.lock);
	if (faults_take(g_state.faults, rq->path + API_PREFIX_LEN, rq->query, &fa) < 0)
		fault_action_free(&fa);
	pthread_mutex_unlock(&g_state.lock);
	if (fa.delay_ms > 0 && sleep_ms(fa.delay_ms))
		fa.kind = FAULT_DROP;	/* shutting down */

	if (fa.kind == FAULT_DROP) {
		log_req(c, rq, method, 0, fa.name);
		ret = MHD_NO;
	} else if (fa.kind == FAULT_STATUS || fa.kind == FAULT_GARBAGE) {
		ret = send_logged(c, rq, method, &fa.ans, fa.name, SIZE_MAX);
	} else {
		real_answer(c, rq, method, &a);
		for (i = 0; i < fa.ans.nh; i++)
			answer_header(&a, fa.ans.h[i].name, fa.ans.h[i].value);
		if (fa.kind == FAULT_TRUNCATE)
			cut = fa.truncate;
		ret = send_logged(c, rq, method, &a, fa.name, cut);
	}
	answer_free(&a);
	fault_action_free(&fa);
	return ret;
}

static enum MHD_Result handle_control(struct MHD_Connection *c, struct req *rq,
				      const char *method)
{
	struct answer a = { 0 };
	enum MHD_Result ret;

	if (control_handle(rq->path, method, &rq->body, rq->too_large, &a) < 0)
		answer_free(&a);
	if (a.status == 0 && answer_message(&a, 500, "Internal error.") < 0)
		return MHD_NO;
	ret = send_answer(c, &a, SIZE_MAX);
	answer_free(&a);
	return ret;
}

static enum MHD_Result handle_other(struct MHD_Connection *c, struct req *rq, const char *method)
{
	struct answer a = { 0 };
	enum MHD_Result ret;

	answer_message(&a, 404, "Not found.");
	ret = send_logged(c, rq, method, &a, NULL, SIZE_MAX);
	answer_free(&a);
	return ret;
}

static int is_api(const char *path)
{
	return strncmp(path, API_PREFIX, API_PREFIX_LEN) == 0 &&
	       (path[API_PREFIX_LEN] == '/' || path[API_PREFIX_LEN] == '\0');
}

enum MHD_Result server_handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_data_size,
			       void **req_cls)
{
	struct req *rq = *req_cls;

	(void)cls;
	(void)url;
	(void)version;
	if (!rq)
		return MHD_NO;
	if (*upload_data_size > 0) {
		if (!rq->too_large &&
		    buf_append(&rq->body, upload_data, *upload_data_size, CONTROL_MAX_BODY) < 0)
			rq->too_large = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!rq->seen) {
		rq->seen = 1;
		return MHD_YES;
	}
	if (strncmp(rq->path, "/_control/", 10) == 0)
		return handle_control(c, rq, method);
	if (is_api(rq->path))
		return handle_api(c, rq, method);
	return handle_other(c, rq, method);
}
