/* SPDX-License-Identifier: MIT */
/*
 * The control endpoints under /_control/: replace or list the fault rules,
 * switch the fixture directory, reset, read the request log.
 */
#define _POSIX_C_SOURCE 200809L

#include "control.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "ratelimit.h"
#include "reqlog.h"
#include "routes.h"
#include "state.h"

/* Set a JSON answer and release v. */
static int json_answer(struct answer *a, unsigned status, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = text ? answer_set(a, status, "application/json", text, strlen(text)) : -1;

	free(text);
	json_decref(v);
	return rc;
}

static int not_allowed(struct answer *a, const char *allow)
{
	if (answer_message(a, 405, "Method not allowed.") < 0)
		return -1;
	return answer_header(a, "Allow", allow);
}

static int set_faults(const struct buf *body, struct answer *a)
{
	char err[512];
	struct fault_list *l = faults_parse(body->data ? body->data : "", body->len, err, sizeof(err));
	struct fault_list *old;
	size_t n;

	if (!l)
		return answer_message(a, 400, err);
	n = l->n;
	pthread_mutex_lock(&g_state.lock);
	old = g_state.faults;
	g_state.faults = l;
	pthread_mutex_unlock(&g_state.lock);
	faults_free(old);
	return json_answer(a, 200, json_pack("{s:I}", "faults", (json_int_t)n));
}

static int list_faults(struct answer *a)
{
	json_t *v;

	pthread_mutex_lock(&g_state.lock);
	v = faults_json(g_state.faults);
	pthread_mutex_unlock(&g_state.lock);
	return json_answer(a, 200, v);
}

static int set_fixtures(const struct buf *body, struct answer *a)
{
	json_t *req = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	const char *dir = json_string_value(json_object_get(req, "dir"));
	struct route_table *t, *old;
	char err[1024];
	int rc;

	if (!dir || !*dir) {
		json_decref(req);
		return answer_message(a, 400, "body must be {\"dir\": \"/path/to/fixtures\"}");
	}
	t = routes_load(dir, g_state.page_size, err, sizeof(err));
	json_decref(req);
	if (!t)
		return answer_message(a, 400, err);
	pthread_mutex_lock(&g_state.lock);
	old = g_state.routes;
	g_state.routes = t;
	rc = json_answer(a, 200, json_pack("{s:s,s:I}", "dir", t->dir, "routes", (json_int_t)t->n));
	pthread_mutex_unlock(&g_state.lock);
	routes_free(old);
	return rc;
}

static int show_fixtures(struct answer *a)
{
	int rc;

	pthread_mutex_lock(&g_state.lock);
	rc = json_answer(a, 200, json_pack("{s:s,s:I}", "dir", g_state.routes->dir,
					   "routes", (json_int_t)g_state.routes->n));
	pthread_mutex_unlock(&g_state.lock);
	return rc;
}

static int reset(struct answer *a)
{
	struct fault_list *old;

	pthread_mutex_lock(&g_state.lock);
	old = g_state.faults;
	g_state.faults = NULL;
	pthread_mutex_unlock(&g_state.lock);
	faults_free(old);
	reqlog_clear();
	rl_refill();
	return answer_message(a, 200, "reset");
}

static int show_log(struct answer *a)
{
	char *text = reqlog_dump();
	int rc = text ? answer_set(a, 200, "application/json", text, strlen(text)) : -1;

	free(text);
	return rc;
}

int control_handle(const char *path, const char *method, const struct buf *body,
		   int too_large, struct answer *a)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (too_large)
		return answer_message(a, 413, "request body too large");
	if (strcmp(path, "/_control/faults") == 0)
		return post ? set_faults(body, a) : get ? list_faults(a) : not_allowed(a, "GET, POST");
	if (strcmp(path, "/_control/fixtures") == 0)
		return post ? set_fixtures(body, a) : get ? show_fixtures(a) : not_allowed(a, "GET, POST");
	if (strcmp(path, "/_control/reset") == 0)
		return post ? reset(a) : not_allowed(a, "POST");
	if (strcmp(path, "/_control/log") == 0)
		return get ? show_log(a) : not_allowed(a, "GET");
	return answer_message(a, 404, "Not found.");
}
