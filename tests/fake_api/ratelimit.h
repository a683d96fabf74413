/* SPDX-License-Identifier: MIT */
/*
 * The fake API's own rate limit: one token bucket over all /api/v2
 * requests (--rate, --burst). Thread-safe.
 */
#ifndef FAKE_RATELIMIT_H
#define FAKE_RATELIMIT_H

/* rate in requests per second (0: off), burst in requests (>= 1). */
void rl_init(double rate, double burst);
int rl_enabled(void);

/*
 * Take one token. Returns 1 and the whole tokens left in *remaining, or 0
 * when the bucket is empty, with *retry_after the ceiling of the seconds
 * until one token is back (at least 1) and *remaining 0.
 */
int rl_take(long *remaining, long *retry_after);

/* Fill the bucket (POST /_control/reset). */
void rl_refill(void);

#endif
