/* SPDX-License-Identifier: MIT */
/*
 * The libmicrohttpd callbacks of the fake API: per-request context from the
 * raw URI, dispatch to /api/v2 (faults, rate limit, token, routes) and to
 * the /_control/ endpoints, and the request log.
 */
#ifndef FAKE_SERVER_H
#define FAKE_SERVER_H

#include <microhttpd.h>
#include <stddef.h>

/* Prefix of every API route on the wire. */
#define API_PREFIX "/api/v2"

/* Set up what the callbacks need. 0, or -1. */
int server_init(void);
/* Wake delayed requests so that the daemon can stop at once. */
void server_stop_sleepers(void);

/* MHD_OPTION_URI_LOG_CALLBACK: creates the request context from the raw URI. */
void *server_uri_cb(void *cls, const char *uri, struct MHD_Connection *c);
/* MHD_OPTION_NOTIFY_COMPLETED: frees it. */
void server_done_cb(void *cls, struct MHD_Connection *c, void **req_cls,
		    enum MHD_RequestTerminationCode toe);
/* MHD_OPTION_UNESCAPE_CALLBACK: leaves paths and arguments raw. */
size_t server_unescape_cb(void *cls, struct MHD_Connection *c, char *s);
/* The access handler. */
enum MHD_Result server_handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_data_size,
			       void **req_cls);

#endif
