/* SPDX-License-Identifier: MIT */
/*
 * The CircleCI API client (libcurl multi): several requests in flight over
 * reused connections, the Circle-Token header (never a query parameter),
 * timeouts, a response size cap, and the rate-limit headers of each response.
 * Driven by one thread, the scheduler's.
 */
#ifndef CIE_API_H
#define CIE_API_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "stats.h"

struct cie_api;

/* One HTTP exchange. The caller owns it; the client only borrows it. */
struct cie_request {
	char *url;                   /* owned, set by the caller */
	enum cie_endpoint endpoint;
	void *owner;                 /* the caller's context */

	/* Results, valid once the request is done. */
	long status;                 /* HTTP status, 0 on transport failure */
	CURLcode curl_result;
	char curl_message[CURL_ERROR_SIZE];
	bool too_large;              /* the body exceeded max_response_bytes */
	struct cie_buf body;
	double retry_after;          /* seconds from now; < 0 when absent */
	double rate_limit_reset;     /* seconds from now; < 0 when absent */
	double rate_limit_remaining; /* < 0 when absent */
	double started;              /* monotonic seconds */
	double duration;             /* seconds */

	CURL *easy;                  /* private */
	bool active;                 /* private: added to the multi handle */
	struct curl_slist *headers;  /* private */
};

/*
 * Create a client for cfg's URL, token, timeout and response size cap.
 * The token is copied. Returns NULL with err set on failure.
 */
struct cie_api *cie_api_new(const struct cie_config *cfg, const char *version,
			    struct cie_error *err);
void cie_api_free(struct cie_api *api);

/* Start req (its url set); false when libcurl cannot set it up. */
bool cie_api_start(struct cie_api *api, struct cie_request *req);

/*
 * Wait up to timeout_ms for transfers, or for wake_fd (-1 for none) to be
 * readable, then drive the transfers. Returns the requests that finished,
 * linked through *done_count entries of done (at most max_done).
 */
size_t cie_api_run(struct cie_api *api, int timeout_ms, int wake_fd,
		   struct cie_request **done, size_t max_done);

/* Number of requests in flight. */
size_t cie_api_in_flight(const struct cie_api *api);

/* Abandon a request in flight (or not started); it is not returned by run. */
void cie_api_cancel(struct cie_api *api, struct cie_request *req);

/* Release the request's buffers and handle; the struct itself stays. */
void cie_request_cleanup(struct cie_request *req);

/*
 * Append s percent-encoded for a URL path segment or query value: every
 * byte except ALPHA, DIGIT, '-', '.', '_' and '~' becomes %XX.
 */
bool cie_percent_encode(struct cie_buf *out, const char *s);

#endif
