/* SPDX-License-Identifier: MIT */
/*
 * The fake API's own rate limit: one token bucket over all /api/v2
 * requests, refilled continuously from the monotonic clock.
 */
#define _POSIX_C_SOURCE 200809L

#include "ratelimit.h"

#include <math.h>
#include <pthread.h>

#include "util.h"

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static double rl_rate, rl_burst, rl_tokens, rl_last;

void rl_init(double rate, double burst)
{
	rl_rate = rate;
	rl_burst = burst;
	rl_tokens = burst;
	rl_last = now_monotonic();
}

int rl_enabled(void)
{
	return rl_rate > 0;
}

int rl_take(long *remaining, long *retry_after)
{
	double now = now_monotonic();
	int ok;

	pthread_mutex_lock(&rl_lock);
	rl_tokens = fmin(rl_burst, rl_tokens + (now - rl_last) * rl_rate);
	rl_last = now;
	ok = rl_tokens >= 1.0;
	if (ok)
		rl_tokens -= 1.0;
	*remaining = (long)floor(rl_tokens);
	*retry_after = ok ? 0 : (long)ceil((1.0 - rl_tokens) / rl_rate);
	pthread_mutex_unlock(&rl_lock);
	if (!ok && *retry_after < 1)
		*retry_after = 1;
	return ok;
}

void rl_refill(void)
{
	pthread_mutex_lock(&rl_lock);
	rl_tokens = rl_burst;
	rl_last = now_monotonic();
	pthread_mutex_unlock(&rl_lock);
}
