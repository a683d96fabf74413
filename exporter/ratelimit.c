/* SPDX-License-Identifier: MIT */
/*
 * Token bucket with pause and adaptive rate.
 */
#include "ratelimit.h"

/* The rate never drops below this share of the configured one. */
#define MIN_RATE_SHARE (1.0 / 32)
/* Successes in a row before the rate grows by RECOVERY_STEP. */
#define RECOVERY_RUN 20
#define RECOVERY_STEP 1.25
#define MAX_PAUSE 300.0

static void refill(struct cie_bucket *b, double now)
{
	if (now > b->updated) {
		b->tokens += (now - b->updated) * b->rate;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->updated = now;
	}
}

void cie_bucket_init(struct cie_bucket *b, double rate, double burst, double now)
{
	b->configured = rate;
	b->rate = rate;
	b->burst = burst;
	b->tokens = burst;
	b->updated = now;
	b->pause_until = 0;
	b->successes = 0;
	b->penalties = 0;
}

void cie_bucket_configure(struct cie_bucket *b, double rate, double burst,
			  double now)
{
	refill(b, now);
	b->configured = rate;
	b->burst = burst;
	if (b->rate > rate)
		b->rate = rate;
	if (b->tokens > burst)
		b->tokens = burst;
}

double cie_bucket_delay(struct cie_bucket *b, double now)
{
	double wait = 0;

	if (now < b->pause_until)
		return b->pause_until - now;
	refill(b, now);
	if (b->tokens < 1)
		wait = (1 - b->tokens) / b->rate;
	return wait;
}

void cie_bucket_take(struct cie_bucket *b, double now)
{
	refill(b, now);
	b->tokens -= 1;
}

double cie_bucket_throttled(struct cie_bucket *b, double now, double pause)
{
	double floor = b->configured * MIN_RATE_SHARE;

	if (pause < 0) {
		pause = 1;
		for (unsigned i = 0; i < b->penalties && pause < MAX_PAUSE; i++)
			pause *= 2;
	}
	if (pause > MAX_PAUSE)
		pause = MAX_PAUSE;
	b->penalties++;
	if (now + pause > b->pause_until)
		b->pause_until = now + pause;
	refill(b, now);
	/* Start from empty after the pause, so requests resume at the rate. */
	b->tokens = 0;
	b->updated = b->pause_until;
	b->rate = b->rate / 2 > floor ? b->rate / 2 : floor;
	b->successes = 0;
	return pause;
}

void cie_bucket_success(struct cie_bucket *b)
{
	b->penalties = 0;
	if (b->rate >= b->configured)
		return;
	if (++b->successes < RECOVERY_RUN)
		return;
	b->successes = 0;
	b->rate *= RECOVERY_STEP;
	if (b->rate > b->configured)
		b->rate = b->configured;
}
