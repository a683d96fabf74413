/* SPDX-License-Identifier: MIT */
/*
 * Snapshots and scrape responses. A snapshot is the immutable, reference-
 * counted exposition of the CircleCI series, in text and as the body of a
 * gzip member whose deflate stream ends on a byte boundary. A scrape response
 * joins the current snapshot with a short tail of the exporter's own
 * metrics, rebuilt at most once a second and shared by concurrent scrapes,
 * so a scrape copies and compresses nothing large.
 */
#ifndef CIE_SNAPSHOT_H
#define CIE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <stdio.h>

#include "stats.h"

struct cie_project_data;
struct cie_fragment;
struct cie_snapshot;
struct cie_answer;

/*
 * Assemble a snapshot from the rendered fragments of projects[0..count),
 * family by family, with memcpy. Returns NULL when out of memory.
 */
struct cie_snapshot *cie_snapshot_build(struct cie_project_data *const *projects,
					size_t count);

/*
 * Assemble a snapshot from fragments[0..count) (borrowed), family by
 * family in fragment order: the projects' fragments first, then the
 * organizations'. Returns NULL when out of memory.
 */
struct cie_snapshot *cie_snapshot_build_fragments(const struct cie_fragment *const *fragments,
						  size_t count);

/* Number of series in the snapshot. */
size_t cie_snapshot_series(const struct cie_snapshot *s);

void cie_snapshot_unref(struct cie_snapshot *s);

/* Make s (ownership passes) the snapshot that scrapes get from now on. */
void cie_serve_publish(struct cie_snapshot *s);

/* A byte range of a response. */
struct cie_part {
	const void *data;
	size_t len;
};

#define CIE_ANSWER_PARTS 4

/*
 * Return the current response with a reference held, rebuilding its tail
 * when older than max_age seconds or made for an older snapshot. NULL
 * before the first publish or when out of memory.
 */
struct cie_answer *cie_serve_acquire(double max_age);

/*
 * Fill parts with the bytes of the response in format fmt, gzip-compressed
 * or not, and return how many parts there are. The bytes stay valid until
 * cie_answer_release().
 */
size_t cie_answer_parts(const struct cie_answer *a, enum cie_format fmt,
			bool gzip, struct cie_part parts[CIE_ANSWER_PARTS]);

void cie_answer_release(struct cie_answer *a);

/*
 * Write the plain text of the current snapshot and a tail without the
 * process_* metrics to out (for --once). Returns false on a write error.
 */
bool cie_serve_write_once(FILE *out);

/* Drop the published snapshot and the current response (at exit). */
void cie_serve_shutdown(void);

#endif
