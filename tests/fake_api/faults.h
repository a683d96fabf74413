/* SPDX-License-Identifier: MIT */
/*
 * Fault rules set at run time through POST /_control/faults: parsing and
 * validation, and picking the rule that applies to one API request.
 * Not thread-safe: the caller holds the server lock.
 */
#ifndef FAKE_FAULTS_H
#define FAKE_FAULTS_H

#include <jansson.h>
#include <regex.h>
#include <stddef.h>

#include "answer.h"

#define FAULTS_MAX_RULES 1000u
#define FAULTS_MAX_DELAY_MS 600000L

enum fault_kind {
	FAULT_NONE,	/* delay only: then the real answer */
	FAULT_STATUS,	/* status, body, headers as given */
	FAULT_TRUNCATE,	/* the real answer cut short */
	FAULT_DROP,	/* connection closed, no answer */
	FAULT_GARBAGE	/* 200 text/html from a "proxy" */
};

struct fault {
	char *prefix;		/* on the raw path relative to /api/v2; NULL: any */
	regex_t re;		/* path_regex, if has_re */
	int has_re;
	regex_t qre;		/* query_regex on the raw query string, if has_qre */
	int has_qre;
	long count;		/* remaining; -1 forever */
	unsigned long hits;
	enum fault_kind kind;
	unsigned status;
	char *body;
	size_t body_len;
	char *content_type;
	struct hdr *h;
	size_t nh;
	long delay_ms;
	size_t truncate;
	json_t *spec;		/* the rule as posted, for GET /_control/faults */
};

struct fault_list {
	struct fault *v;
	size_t n;
};

/* What to do with one request; owns its answer. */
struct fault_action {
	enum fault_kind kind;
	const char *name;	/* for the request log; NULL: no fault */
	long delay_ms;
	size_t truncate;
	struct answer ans;	/* STATUS and GARBAGE: the whole answer; others: extra headers */
};

/* Parse a JSON array of rules. Returns a new list, or NULL with err set. */
struct fault_list *faults_parse(const char *text, size_t len, char *err, size_t errlen);
void faults_free(struct fault_list *l);

/*
 * Find the first rule with remaining count matching path (raw, relative to
 * /api/v2) and query (raw); consume one count. 1 with *act filled, 0 when no
 * rule applies, -1 on OOM.
 */
int faults_take(struct fault_list *l, const char *path, const char *query,
		struct fault_action *act);
void fault_action_free(struct fault_action *act);

/* The rules with their remaining counts and hits, as a new JSON array. */
json_t *faults_json(const struct fault_list *l);

#endif
