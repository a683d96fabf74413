/* SPDX-License-Identifier: MIT */
/*
 * The renderer: Prometheus text of the CircleCI series. Each project keeps
 * a fragment, its samples grouped by family, in text and as independently
 * deflated pieces; a snapshot is assembled from the fragments with memcpy,
 * so that re-rendering after one project's refresh costs in proportion to
 * that project. The CircleCI families are all gauges, so the same bytes
 * serve the 0.0.4 text format and OpenMetrics.
 */
#ifndef CIE_RENDER_H
#define CIE_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "buf.h"
#include "parse.h"

/* The families of the snapshot, in output order. */
enum cie_family {
	CIE_FAM_WF_RUNS,
	CIE_FAM_WF_SUCCESSFUL_RUNS,
	CIE_FAM_WF_FAILED_RUNS,
	CIE_FAM_WF_SUCCESS_RATIO,
	CIE_FAM_WF_THROUGHPUT,
	CIE_FAM_WF_MTTR,
	CIE_FAM_WF_RECOVERIES,
	CIE_FAM_WF_DURATION_FIRST,
	CIE_FAM_WF_DURATION_LAST = CIE_FAM_WF_DURATION_FIRST + CIE_DUR_COUNT - 1,
	CIE_FAM_WF_CREDITS,
	CIE_FAM_WF_WINDOW_START,
	CIE_FAM_WF_WINDOW_END,
	CIE_FAM_JOB_RUNS,
	CIE_FAM_JOB_SUCCESSFUL_RUNS,
	CIE_FAM_JOB_FAILED_RUNS,
	CIE_FAM_JOB_SUCCESS_RATIO,
	CIE_FAM_JOB_THROUGHPUT,
	CIE_FAM_JOB_DURATION_FIRST,
	CIE_FAM_JOB_DURATION_LAST = CIE_FAM_JOB_DURATION_FIRST + CIE_DUR_COUNT - 1,
	CIE_FAM_JOB_CREDITS,
	CIE_FAM_JOB_WINDOW_START,
	CIE_FAM_JOB_WINDOW_END,
	CIE_FAM_LAST_RUN_STATUS,
	CIE_FAM_LAST_RUN_DURATION,
	CIE_FAM_LAST_RUN_CREDITS,
	CIE_FAM_LAST_RUN_TIMESTAMP,
	CIE_FAM_FLAKY_TESTS,
	CIE_FAM_FLAKY_RUNS,
	CIE_FAM_FLAKY_TIME_WASTED,
	CIE_FAM_TREND_FIRST,
	CIE_FAM_TREND_LAST = CIE_FAM_TREND_FIRST + CIE_TREND_COUNT - 1,
	CIE_FAM_TEST_RUNS,
	CIE_FAM_TESTS_PER_RUN,
	CIE_FAM_MOST_FAILED_TESTS,
	CIE_FAM_SLOWEST_TESTS,
	CIE_FAM_ORG_RUNS,              /* organization families: org fragments only */
	CIE_FAM_ORG_SUCCESS_RATIO,
	CIE_FAM_ORG_THROUGHPUT,
	CIE_FAM_ORG_DURATION,
	CIE_FAM_ORG_CREDITS,
	CIE_FAM_ORG_PROJECT_RUNS,
	CIE_FAM_ORG_PROJECT_SUCCESS_RATIO,
	CIE_FAM_ORG_PROJECT_DURATION,
	CIE_FAM_ORG_PROJECT_CREDITS,
	CIE_FAM_PROJECT_INFO,
	CIE_FAM_PROJECT_UP,
	CIE_FAM_LAST_REFRESH,
	CIE_FAM_REFRESH_DURATION,
	CIE_FAM_NEXT_REFRESH,
	CIE_FAM_COUNT,
};

/*
 * Deflated pieces: independent raw deflate streams, each ending on a byte
 * boundary (sync flush), so that they concatenate into one stream.
 */
struct cie_piece_list {
	struct cie_buf data;              /* all pieces back to back */
	size_t offset[CIE_FAM_COUNT + 1]; /* piece f is [offset[f], offset[f+1]) */
	uint32_t crc[CIE_FAM_COUNT];      /* CRC-32 of the text of piece f */
};

/* One project's or organization's rendered families. */
struct cie_fragment {
	struct cie_buf text;
	size_t offset[CIE_FAM_COUNT + 1]; /* family f is [offset[f], offset[f+1]) */
	struct cie_piece_list gz;
	size_t max_series;                /* cap on series; SIZE_MAX = none */
	size_t dropped;                   /* series left out by the cap */
	size_t series;                    /* CircleCI samples, not the exporter's gauges */
};

struct cie_project_data;
struct cie_org_data;

/* Set up an empty fragment with unbounded buffers. */
void cie_fragment_init(struct cie_fragment *f);

/* Release a fragment's buffers. */
void cie_fragment_cleanup(struct cie_fragment *f);

/*
 * Render the project's families into its fragment, in text and deflated
 * with stream (raw deflate, reset before each piece). With
 * p->series_limited, once p->max_series series are rendered the rest are
 * left out and counted in fragment.dropped; the exporter's own gauges are
 * never left out. Returns false when out of memory; the old fragment is
 * then kept.
 */
bool cie_render_project(struct cie_project_data *p, z_stream *stream);

/* Render the organization's families into its fragment, as above. */
bool cie_render_org(struct cie_org_data *o, z_stream *stream);

/*
 * Write the shortest decimal text that reads back as v ("0.5975609756097561",
 * "3489", "NaN", "+Inf") into out (at least 32 bytes).
 */
void cie_format_double(double v, char *out, size_t size);

/* Write a cie_num: integers exactly, reals as cie_format_double(). */
void cie_format_num(const struct cie_num *n, char *out, size_t size);

/* Append a label value escaped for the text formats (\\, \", \n). */
bool cie_render_escape_label(struct cie_buf *b, const char *value);

/*
 * Set up a deflate stream for pieces (raw deflate, the level chosen for
 * speed). Returns false on failure.
 */
bool cie_render_stream_init(z_stream *stream);

/*
 * Deflate text as one piece into out (appending) and return its CRC-32 in
 * *crc. finish ends the deflate stream (the last piece of a response);
 * otherwise the piece ends on a sync flush, byte-aligned.
 */
bool cie_render_deflate_piece(z_stream *stream, const void *text, size_t len,
			      bool finish, struct cie_buf *out, uint32_t *crc);

/* HELP and TYPE of a family, as text, e.g. "# HELP ...\n# TYPE ...\n". */
const char *cie_render_family_header(enum cie_family f);

#endif
