/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: decides when each project is refreshed, turns a refresh
 * into API requests, paces them with the shared token bucket, retries
 * what may be retried, hands responses to the parser and the store, and
 * publishes a new snapshot whenever a project's refresh finishes.
 *
 * Runs on one thread: the caller's, through cie_scheduler_step().
 */
#ifndef CIE_SCHEDULER_H
#define CIE_SCHEDULER_H

#include <stdbool.h>

#include "config.h"
#include "error.h"

struct cie_scheduler;

/*
 * Create a scheduler for cfg, which it takes over (freed with the
 * scheduler or on reload). Returns NULL with err set on failure.
 */
struct cie_scheduler *cie_scheduler_new(struct cie_config *cfg,
					const char *version,
					struct cie_error *err);
void cie_scheduler_free(struct cie_scheduler *s);

/*
 * Run one round: start the refreshes and requests that are due, wait for
 * responses until the next deadline, at most max_wait seconds, or until
 * wake_fd (-1 for none) is readable, and process what arrived.
 */
void cie_scheduler_step(struct cie_scheduler *s, double max_wait, int wake_fd);

/*
 * Apply a new config (taken over): new projects are added, removed ones
 * dropped with their series, kept ones keep their values and schedule.
 * Returns false with err set when the new config cannot be applied; the
 * old one then stays and cfg is freed.
 */
bool cie_scheduler_reload(struct cie_scheduler *s, struct cie_config *cfg,
			  struct cie_error *err);

/* True once every project of the first config finished one refresh. Thread-safe. */
bool cie_scheduler_ready(const struct cie_scheduler *s);

/* True when every project's last refresh succeeded. */
bool cie_scheduler_all_up(const struct cie_scheduler *s);

#endif
