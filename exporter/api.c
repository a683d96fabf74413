/* SPDX-License-Identifier: MIT */
/*
 * The CircleCI API client on libcurl's multi interface.
 */
#include "api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "timeutil.h"

struct cie_api {
	CURLM *multi;
	char *token_header;      /* "Circle-Token: ..." */
	char *user_agent;
	long timeout_ms;
	size_t max_response_bytes;
	size_t in_flight;
};

struct cie_api *cie_api_new(const struct cie_config *cfg, const char *version,
			    struct cie_error *err)
{
	struct cie_api *api = calloc(1, sizeof(*api));
	struct cie_buf header;

	if (!api) {
		cie_error_set(err, CIE_ERR_NOMEM, "API client");
		return NULL;
	}
	cie_buf_init(&header, 0);
	cie_buf_printf(&header, "Circle-Token: %s", cfg->circleci.token);
	api->token_header = cie_buf_detach(&header, NULL);
	cie_buf_printf(&header, "circleci-insights-exporter/%s", version);
	api->user_agent = cie_buf_detach(&header, NULL);
	api->multi = curl_multi_init();
	api->timeout_ms = (long)(cfg->circleci.timeout * 1000);
	api->max_response_bytes = cfg->circleci.max_response_bytes;
	if (!api->multi || !api->token_header || !api->user_agent) {
		cie_api_free(api);
		cie_error_set(err, CIE_ERR_NOMEM, "API client");
		return NULL;
	}
	curl_multi_setopt(api->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)cfg->circleci.max_concurrency);
	return api;
}

void cie_api_free(struct cie_api *api)
{
	if (!api)
		return;
	if (api->multi)
		curl_multi_cleanup(api->multi);
	if (api->token_header) {
		explicit_bzero(api->token_header, strlen(api->token_header));
		free(api->token_header);
	}
	free(api->user_agent);
	free(api);
}

static size_t on_body(char *data, size_t size, size_t count, void *ctx)
{
	struct cie_request *req = ctx;
	size_t n = size * count;

	if (!cie_buf_append(&req->body, data, n)) {
		/* Returning less than n makes libcurl abort the transfer. */
		req->too_large = req->body.overflow;
		return 0;
	}
	return n;
}

/* Value of header line "Name: value" when its name is name, else NULL. */
static const char *header_value(const char *line, size_t len, const char *name,
				char *out, size_t size)
{
	size_t n = strlen(name), v;

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	v = len < size - 1 ? len : size - 1;
	memcpy(out, line, v);
	out[v] = '\0';
	return out;
}

/* A reset header contains seconds from now, or Unix seconds when above 1e9. */
static double reset_delay(const char *value)
{
	double v = strtod(value, NULL), now = cie_time_now();

	if (v > 1e9)
		return v > now ? v - now : 0;
	return v >= 0 ? v : -1;
}

static size_t on_header(char *line, size_t size, size_t count, void *ctx)
{
	struct cie_request *req = ctx;
	size_t n = size * count;
	char value[128];
	double delay;

	if (header_value(line, n, "Retry-After", value, sizeof(value))) {
		if (cie_time_parse_retry_after(value, cie_time_now(), &delay))
			req->retry_after = delay;
	} else if (header_value(line, n, "RateLimit-Remaining", value, sizeof(value)) ||
		   header_value(line, n, "X-RateLimit-Remaining", value, sizeof(value))) {
		if (isdigit((unsigned char)value[0]))
			req->rate_limit_remaining = strtod(value, NULL);
	} else if (header_value(line, n, "RateLimit-Reset", value, sizeof(value)) ||
		   header_value(line, n, "X-RateLimit-Reset", value, sizeof(value))) {
		if (isdigit((unsigned char)value[0]))
			req->rate_limit_reset = reset_delay(value);
	}
	return n;
}

static bool setup_easy(struct cie_api *api, struct cie_request *req)
{
	CURL *e = req->easy;
	long connect_ms = api->timeout_ms < 10000 ? api->timeout_ms : 10000;

	req->headers = curl_slist_append(NULL, api->token_header);
	if (req->headers)
		req->headers = curl_slist_append(req->headers,
						 "Accept: application/json");
	if (!req->headers)
		return false;
	/* The token travels in a header; verbose output stays off. */
	return curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_USERAGENT, api->user_agent) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_WRITEDATA, req) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_HEADERDATA, req) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_PRIVATE, req) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->curl_message) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, api->timeout_ms) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
}

bool cie_api_start(struct cie_api *api, struct cie_request *req)
{
	req->status = 0;
	req->curl_result = CURLE_OK;
	req->curl_message[0] = '\0';
	req->too_large = false;
	req->retry_after = -1;
	req->rate_limit_reset = -1;
	req->rate_limit_remaining = -1;
	cie_buf_cleanup(&req->body);
	cie_buf_init(&req->body, api->max_response_bytes);
	req->easy = curl_easy_init();
	if (!req->easy || !setup_easy(api, req) ||
	    curl_multi_add_handle(api->multi, req->easy) != CURLM_OK) {
		cie_request_cleanup(req);
		return false;
	}
	req->started = cie_time_mono();
	req->active = true;
	api->in_flight++;
	return true;
}

static void finish(struct cie_request *req, CURLcode result)
{
	req->curl_result = result;
	req->duration = cie_time_mono() - req->started;
	if (result == CURLE_OK)
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
	else
		req->status = 0;
	if (result != CURLE_OK && !req->curl_message[0])
		snprintf(req->curl_message, sizeof(req->curl_message), "%s",
			 curl_easy_strerror(result));
}

size_t cie_api_run(struct cie_api *api, int timeout_ms, int wake_fd,
		   struct cie_request **done, size_t max_done)
{
	struct curl_waitfd wake = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };
	struct cie_request *req;
	CURLMsg *msg;
	int running, left;
	size_t n = 0;

	curl_multi_poll(api->multi, wake_fd >= 0 ? &wake : NULL,
			wake_fd >= 0 ? 1 : 0, timeout_ms, NULL);
	curl_multi_perform(api->multi, &running);
	while (n < max_done && (msg = curl_multi_info_read(api->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
		finish(req, msg->data.result);
		curl_multi_remove_handle(api->multi, req->easy);
		req->active = false;
		api->in_flight--;
		done[n++] = req;
	}
	return n;
}

size_t cie_api_in_flight(const struct cie_api *api)
{
	return api->in_flight;
}

void cie_api_cancel(struct cie_api *api, struct cie_request *req)
{
	if (req->active) {
		curl_multi_remove_handle(api->multi, req->easy);
		req->active = false;
		api->in_flight--;
	}
	cie_request_cleanup(req);
}

void cie_request_cleanup(struct cie_request *req)
{
	if (req->easy) {
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	curl_slist_free_all(req->headers);
	req->headers = NULL;
	cie_buf_cleanup(&req->body);
}

bool cie_percent_encode(struct cie_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	bool ok = true;

	for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			ok = cie_buf_putc(out, (char)*p);
		} else {
			char enc[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			ok = cie_buf_append(out, enc, 3);
		}
	}
	return ok;
}
