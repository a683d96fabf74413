/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/ratelimit.c: the shared token bucket, its pause
 * after a 429, the halved rate and its recovery. Times are made-up
 * monotonic seconds, so nothing here waits.
 */
#include "check.h"
#include "ratelimit.h"

#define T0 1000.0

/* Take tokens while no delay is due; returns how many were taken. */
static int drain(struct cie_bucket *b, double now, int max)
{
	int tokens_taken = 0;

	while (tokens_taken < max && cie_bucket_delay(b, now) == 0) {
		cie_bucket_take(b, now);
		tokens_taken++;
	}
	return tokens_taken;
}

static void test_ratelimit_starts_with_burst(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	CHECK_DOUBLE_EQ(b.tokens, 5);
	CHECK_DOUBLE_EQ(b.rate, 2);
	CHECK_DOUBLE_EQ(b.configured, 2);
	CHECK_INT_EQ(drain(&b, T0, 100), 5);
}

static void test_ratelimit_delay_after_burst(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	drain(&b, T0, 5);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0), 0.5);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 0.25), 0.25);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 0.5), 0);
	cie_bucket_take(&b, T0 + 0.5);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 0.5), 0.5);
	/* A long idle time refills to the burst, not beyond. */
	CHECK_INT_EQ(drain(&b, T0 + 100, 100), 5);
}

static void test_ratelimit_fractional_rate(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 0.2, 1, T0);
	CHECK_INT_EQ(drain(&b, T0, 10), 1);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0), 5);
}

static void test_ratelimit_throttled_pauses_halves(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, 10), 10);
	CHECK_DOUBLE_EQ(b.rate, 1);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0), 10);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 4), 6);
	/* After the pause the bucket starts empty, at the halved rate. */
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 10), 1);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 11), 0);
}

static void test_ratelimit_backoff_without_hint(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, -1), 1);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, -1), 2);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, -1), 4);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0), 4);
	/* A success ends the run of 429s, so the next pause starts at 1 s again. */
	cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, -1), 1);
}

static void test_ratelimit_pause_capped(void)
{
	struct cie_bucket b;
	double pause = 0;

	cie_bucket_init(&b, 2, 5, T0);
	CHECK_DOUBLE_EQ(cie_bucket_throttled(&b, T0, 3600), 300);
	for (int i = 0; i < 20; i++)
		pause = cie_bucket_throttled(&b, T0, -1);
	CHECK_DOUBLE_EQ(pause, 300);
}

static void test_ratelimit_rate_floor(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	for (int i = 0; i < 20; i++)
		cie_bucket_throttled(&b, T0, 1);
	CHECK_DOUBLE_EQ(b.rate, 2.0 / 32);
}

static void test_ratelimit_recovers_after_successes(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	cie_bucket_throttled(&b, T0, 1);
	CHECK_DOUBLE_EQ(b.rate, 1);
	for (int i = 0; i < 19; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 1);
	cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 1.25);
	for (int i = 0; i < 20; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 1.5625);
	for (int i = 0; i < 20; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 1.953125);
	/* The next step would pass 2.44: the rate stops at the configured one. */
	for (int i = 0; i < 20; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 2);
	for (int i = 0; i < 100; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 2);
}

static void test_ratelimit_429_resets_recovery(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	cie_bucket_throttled(&b, T0, 1);
	for (int i = 0; i < 15; i++)
		cie_bucket_success(&b);
	cie_bucket_throttled(&b, T0 + 1, 1);
	CHECK_DOUBLE_EQ(b.rate, 0.5);
	for (int i = 0; i < 19; i++)
		cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 0.5);
	cie_bucket_success(&b);
	CHECK_DOUBLE_EQ(b.rate, 0.625);
}

static void test_ratelimit_configure_keeps_pause(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	cie_bucket_throttled(&b, T0, 30);
	cie_bucket_configure(&b, 4, 10, T0 + 1);
	CHECK_DOUBLE_EQ(b.configured, 4);
	CHECK_DOUBLE_EQ(b.burst, 10);
	CHECK_DOUBLE_EQ(b.pause_until, T0 + 30);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0 + 1), 29);
	/* The halved rate is kept, since it is below the new configured rate. */
	CHECK_DOUBLE_EQ(b.rate, 1);
}

static void test_ratelimit_configure_lowers_rate(void)
{
	struct cie_bucket b;

	cie_bucket_init(&b, 2, 5, T0);
	cie_bucket_configure(&b, 1, 2, T0);
	CHECK_DOUBLE_EQ(b.rate, 1);
	CHECK_DOUBLE_EQ(b.configured, 1);
	CHECK_DOUBLE_EQ(b.tokens, 2);
	CHECK_INT_EQ(drain(&b, T0, 100), 2);
	CHECK_DOUBLE_EQ(cie_bucket_delay(&b, T0), 1);
}

int main(void)
{
	RUN(test_ratelimit_starts_with_burst);
	RUN(test_ratelimit_delay_after_burst);
	RUN(test_ratelimit_fractional_rate);
	RUN(test_ratelimit_throttled_pauses_halves);
	RUN(test_ratelimit_backoff_without_hint);
	RUN(test_ratelimit_pause_capped);
	RUN(test_ratelimit_rate_floor);
	RUN(test_ratelimit_recovers_after_successes);
	RUN(test_ratelimit_429_resets_recovery);
	RUN(test_ratelimit_configure_keeps_pause);
	RUN(test_ratelimit_configure_lowers_rate);
	return check_summary();
}
