/* SPDX-License-Identifier: MIT */
/*
 * The exporter's configuration: loaded from YAML with libcyaml, ${VAR}
 * references expanded, defaults filled and every value validated. The
 * result is one immutable struct; a reload builds a new one.
 */
#ifndef CIE_CONFIG_H
#define CIE_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* Insights reporting windows, in the order they are rendered. */
enum cie_window {
	CIE_WINDOW_24H,
	CIE_WINDOW_7D,
	CIE_WINDOW_30D,
	CIE_WINDOW_60D,
	CIE_WINDOW_90D,
	CIE_WINDOW_COUNT,
};

/* Return the API name of a window, e.g. "last-7-days". */
const char *cie_window_name(enum cie_window w);

/* A workflow filter: POSIX extended regular expressions, searched anywhere. */
struct cie_name_filter {
	char *include;       /* owned; NULL when absent */
	char *exclude;       /* owned; NULL or "" excludes nothing */
	regex_t include_re;  /* valid when include is not NULL */
	regex_t exclude_re;  /* valid when exclude is not NULL or "" */
};

/* Return true when name passes the filter. */
bool cie_name_filter_match(const struct cie_name_filter *f, const char *name);

/* Polling settings of a project, filled from `defaults` and the project entry. */
struct cie_poll_settings {
	double interval;        /* seconds between refreshes, >= 1 */
	unsigned windows;       /* bit set of 1 << enum cie_window, not empty */
	char **branches;        /* owned; empty = the default branch, "*" = all */
	size_t branch_count;
	bool jobs;              /* per-job metrics */
	bool last_runs;         /* newest run of each workflow per branch */
	bool flaky_tests;       /* GET /insights/{slug}/flaky-tests */
	bool trends;            /* GET .../workflows/{name}/summary */
	bool test_metrics;      /* GET .../workflows/{name}/test-metrics */
	struct cie_name_filter workflows;
};

struct cie_project_config {
	char *slug;             /* as configured, e.g. "gh/acme/api" */
	struct cie_poll_settings poll;
};

/* An organization: its summary, and optionally its projects discovered. */
struct cie_org_config {
	char *slug;                       /* "gh/acme" or "circleci/ORG-UUID" */
	struct cie_poll_settings poll;    /* windows of the summary; settings of discovered projects */
	bool discover_projects;
	struct cie_name_filter projects;  /* include/exclude on project names */
};

struct cie_config {
	struct {
		char *url;              /* without a trailing slash */
		char *token;            /* owned; never logged */
		char *token_file;       /* where the token came from, or NULL */
		double timeout;         /* seconds per request */
		unsigned max_retries;
		unsigned max_concurrency;
		double requests_per_second;
		double burst;
		size_t max_response_bytes;
		unsigned max_pages;
	} circleci;
	struct {
		char *listen_address;   /* "host:port", ":port" or "[v6]:port" */
		char *metrics_path;     /* starts with '/' */
		unsigned max_connections;
		unsigned max_connections_per_ip;
		double idle_timeout;    /* seconds */
		size_t max_request_bytes;
		char *tls_cert_file;    /* both or neither set */
		char *tls_key_file;
		char *basic_auth_username;       /* both or neither set */
		char *basic_auth_password_file;
		char *basic_auth_hash;  /* bcrypt hash read from the file */
	} server;
	struct {
		unsigned max_series_per_project;
		unsigned max_series_per_org;
		unsigned max_flaky_tests_per_project;
		unsigned max_branches_per_project;
	} limits;
	struct {
		unsigned total;         /* >= 1 */
		unsigned index;         /* < total */
	} sharding;
	struct cie_project_config *projects;
	size_t project_count;
	struct cie_org_config *orgs;
	size_t org_count;
};

/*
 * Load and validate the YAML text data (size bytes). On success *out is a
 * new config the caller frees with cie_config_free(). On failure *out is
 * untouched and err names the key and the bad value (CIE_ERR_CONFIG), or
 * the file (CIE_ERR_IO).
 */
enum cie_result cie_config_load_data(const char *data, size_t size,
				     struct cie_config **out,
				     struct cie_error *err);

/* Read the file at path and load it as cie_config_load_data() does. */
enum cie_result cie_config_load_file(const char *path, struct cie_config **out,
				     struct cie_error *err);

/* Free a config; NULL is allowed. */
void cie_config_free(struct cie_config *cfg);

/* Print what would be polled, without the token, for --check-config. */
void cie_config_describe(const struct cie_config *cfg, FILE *out);

/*
 * Split a listen address into host (empty for all addresses) and port.
 * Returns false when it is not "HOST:PORT", ":PORT" or "[V6]:PORT" with
 * PORT from 0 to 65535.
 */
bool cie_config_split_address(const char *addr, char *host, size_t host_size,
			      unsigned *port);

/*
 * Check an organization slug: "gh|github|bb|bitbucket/ORG" or
 * "circleci/ORG-UUID". On failure, why describes what is wrong.
 */
bool cie_config_valid_org_slug(const char *slug, const char **why);

/*
 * Check a project slug: "gh|github|bb|bitbucket/ORG/REPO" or
 * "circleci/ORG-UUID/PROJECT-UUID". On failure, why describes what is wrong.
 */
bool cie_config_valid_slug(const char *slug, const char **why);

#endif
