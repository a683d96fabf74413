/* SPDX-License-Identifier: MIT */
/*
 * The control endpoints under /_control/: fault rules, fixture directory
 * switch, reset and the request log. No token needed, never logged.
 */
#ifndef FAKE_CONTROL_H
#define FAKE_CONTROL_H

#include "answer.h"
#include "util.h"

/* Largest request body accepted by a control endpoint. */
#define CONTROL_MAX_BODY (1024u * 1024u)

/*
 * Answer one control request into a. too_large: the body was cut at
 * CONTROL_MAX_BODY. 0, or -1 on OOM (a may be half set).
 */
int control_handle(const char *path, const char *method, const struct buf *body,
		   int too_large, struct answer *a);

#endif
