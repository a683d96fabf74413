/* SPDX-License-Identifier: MIT */
/*
 * The token bucket shared by every request the exporter makes, retries
 * included. After a 429 it pauses all requests and halves its rate; the
 * rate then recovers step by step after runs of successful requests.
 * Times are monotonic seconds. Not thread-safe: the scheduler owns it.
 */
#ifndef CIE_RATELIMIT_H
#define CIE_RATELIMIT_H

struct cie_bucket {
	double configured;    /* requests per second from the config */
	double rate;          /* current rate, <= configured */
	double burst;         /* bucket size in tokens */
	double tokens;
	double updated;       /* when tokens was last brought up to date */
	double pause_until;   /* no request before this time */
	unsigned successes;   /* successful requests since the last change */
	unsigned penalties;   /* 429s in a row, for the backoff without headers */
};

/* Start full, at the configured rate. */
void cie_bucket_init(struct cie_bucket *b, double rate, double burst, double now);

/* Change the configured rate and burst (reload), keeping any pause. */
void cie_bucket_configure(struct cie_bucket *b, double rate, double burst,
			  double now);

/* Seconds until a request may start (0 when one may start now). */
double cie_bucket_delay(struct cie_bucket *b, double now);

/* Take one token; call only when cie_bucket_delay() returned 0. */
void cie_bucket_take(struct cie_bucket *b, double now);

/*
 * Record a 429: pause every request for pause seconds, empty the bucket
 * and halve the rate. A negative pause means the API gave no hint, so the
 * pause doubles with each 429 in a row, from 1 s up to 5 minutes.
 * Returns the pause applied.
 */
double cie_bucket_throttled(struct cie_bucket *b, double now, double pause);

/* Record a response that was not a 429; after a run of them the rate grows. */
void cie_bucket_success(struct cie_bucket *b);

#endif
