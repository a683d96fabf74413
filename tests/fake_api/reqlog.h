/* SPDX-License-Identifier: MIT */
/*
 * The request log: every request outside /_control/ is recorded in memory
 * (for GET /_control/log) and, with --log=FILE, appended to FILE as one JSON
 * object per line. Thread-safe.
 */
#ifndef FAKE_REQLOG_H
#define FAKE_REQLOG_H

#include <stddef.h>

/* Entries kept in memory; later ones are counted but not kept. */
#define REQLOG_MAX_ENTRIES 200000u

struct logrec {
	double t;		/* arrival, Unix seconds (CLOCK_REALTIME) */
	const char *method;
	const char *path;	/* raw */
	const char *query;	/* raw, without '?' */
	unsigned status;	/* 0: connection dropped */
	const char *fault;	/* kind, or NULL */
	const char *user_agent;	/* NULL if absent */
	const char *accept;	/* NULL if absent */
};

/* Open FILE for appending (NULL: memory only). 0, or -1 with errno. */
int reqlog_open(const char *file);
void reqlog_add(const struct logrec *r);
/* The log as a JSON array text (malloc'd), or NULL on OOM. */
char *reqlog_dump(void);
void reqlog_clear(void);
void reqlog_close(void);

#endif
