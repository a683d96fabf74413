/* SPDX-License-Identifier: MIT */
/*
 * Config loading: libcyaml reads every scalar as a string into the raw
 * structs below, so that ${VAR} references can be expanded before any
 * value is converted; then each value is converted and checked, and the
 * error names the key path (for example "projects[1].windows[0]").
 */
#include "config.h"

#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "shard.h"
#include "timeutil.h"

#define CONFIG_FILE_MAX (4u << 20)
#define TOKEN_FILE_MAX 4096
#define KEY_MAX 128

static const char *const window_names[CIE_WINDOW_COUNT] = {
	"last-24-hours", "last-7-days", "last-30-days", "last-60-days",
	"last-90-days",
};

const char *cie_window_name(enum cie_window w)
{
	return (unsigned)w < CIE_WINDOW_COUNT ? window_names[w] : "unknown";
}

/*
 * Format a key path for error messages. A path longer than size is cut,
 * which only shortens a message.
 */
static void key_printf(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void key_printf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

/* Raw structs: what libcyaml fills, every scalar still text. */

struct raw_filter {
	char *include;
	char *exclude;
};

struct raw_settings {
	char *interval;
	char **windows;
	unsigned windows_count;
	char **branches;
	unsigned branches_count;
	char *jobs;
	char *last_runs;
	char *flaky_tests;
	char *trends;
	char *test_metrics;
	struct raw_filter *workflows;
};

struct raw_project {
	char *slug;
	struct raw_settings s;
};

struct raw_org {
	char *slug;
	char *discover_projects;
	char *include;
	char *exclude;
	struct raw_settings s;
};

struct raw_rate_limit {
	char *requests_per_second;
	char *burst;
};

struct raw_circleci {
	char *url;
	char *token;
	char *token_file;
	char *timeout;
	char *max_retries;
	char *max_concurrency;
	char *max_response_bytes;
	char *max_pages;
	struct raw_rate_limit *rate_limit;
};

struct raw_tls {
	char *cert_file;
	char *key_file;
};

struct raw_basic_auth {
	char *username;
	char *password_file;
};

struct raw_server {
	char *listen_address;
	char *metrics_path;
	char *max_connections;
	char *max_connections_per_ip;
	char *idle_timeout;
	char *max_request_bytes;
	struct raw_tls *tls;
	struct raw_basic_auth *basic_auth;
};

struct raw_limits {
	char *max_series_per_project;
	char *max_series_per_org;
	char *max_flaky_tests_per_project;
	char *max_branches_per_project;
};

struct raw_sharding {
	char *total;
	char *index;
};

struct raw_config {
	struct raw_circleci *circleci;
	struct raw_server *server;
	struct raw_limits *limits;
	struct raw_sharding *sharding;
	struct raw_settings *defaults;
	struct raw_project *projects;
	unsigned projects_count;
	struct raw_org *organizations;
	unsigned organizations_count;
};

/* Schema. */

#define OPT_STRING(key, type, member) \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, \
			       type, member, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t filter_fields[] = {
	OPT_STRING("include", struct raw_filter, include),
	OPT_STRING("exclude", struct raw_filter, exclude),
	CYAML_FIELD_END
};

#define SETTINGS_FIELDS(type, prefix) \
	OPT_STRING("interval", type, prefix interval), \
	/* libcyaml gives NULL for an empty list as for an absent one, so an
	 * empty list of windows is rejected here, with min 1. */ \
	CYAML_FIELD_SEQUENCE("windows", \
			     CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, \
			     prefix windows, &string_entry, 1, CYAML_UNLIMITED), \
	CYAML_FIELD_SEQUENCE("branches", \
			     CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, \
			     prefix branches, &string_entry, 0, CYAML_UNLIMITED), \
	OPT_STRING("jobs", type, prefix jobs), \
	OPT_STRING("last_runs", type, prefix last_runs), \
	OPT_STRING("flaky_tests", type, prefix flaky_tests), \
	OPT_STRING("trends", type, prefix trends), \
	OPT_STRING("test_metrics", type, prefix test_metrics), \
	CYAML_FIELD_MAPPING_PTR("workflows", \
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, \
				prefix workflows, filter_fields)

static const cyaml_schema_field_t settings_fields[] = {
	SETTINGS_FIELDS(struct raw_settings, ),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t project_fields[] = {
	CYAML_FIELD_STRING_PTR("slug", CYAML_FLAG_POINTER, struct raw_project,
			       slug, 0, CYAML_UNLIMITED),
	SETTINGS_FIELDS(struct raw_project, s.),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t project_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_project,
			    project_fields),
};

static const cyaml_schema_field_t org_fields[] = {
	CYAML_FIELD_STRING_PTR("slug", CYAML_FLAG_POINTER, struct raw_org,
			       slug, 0, CYAML_UNLIMITED),
	OPT_STRING("discover_projects", struct raw_org, discover_projects),
	OPT_STRING("include", struct raw_org, include),
	OPT_STRING("exclude", struct raw_org, exclude),
	SETTINGS_FIELDS(struct raw_org, s.),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t org_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_org, org_fields),
};

static const cyaml_schema_field_t rate_limit_fields[] = {
	OPT_STRING("requests_per_second", struct raw_rate_limit,
		   requests_per_second),
	OPT_STRING("burst", struct raw_rate_limit, burst),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t circleci_fields[] = {
	OPT_STRING("url", struct raw_circleci, url),
	OPT_STRING("token", struct raw_circleci, token),
	OPT_STRING("token_file", struct raw_circleci, token_file),
	OPT_STRING("timeout", struct raw_circleci, timeout),
	OPT_STRING("max_retries", struct raw_circleci, max_retries),
	OPT_STRING("max_concurrency", struct raw_circleci, max_concurrency),
	OPT_STRING("max_response_bytes", struct raw_circleci,
		   max_response_bytes),
	OPT_STRING("max_pages", struct raw_circleci, max_pages),
	CYAML_FIELD_MAPPING_PTR("rate_limit",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_circleci, rate_limit,
				rate_limit_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t tls_fields[] = {
	OPT_STRING("cert_file", struct raw_tls, cert_file),
	OPT_STRING("key_file", struct raw_tls, key_file),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t basic_auth_fields[] = {
	OPT_STRING("username", struct raw_basic_auth, username),
	OPT_STRING("password_file", struct raw_basic_auth, password_file),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t server_fields[] = {
	OPT_STRING("listen_address", struct raw_server, listen_address),
	OPT_STRING("metrics_path", struct raw_server, metrics_path),
	OPT_STRING("max_connections", struct raw_server, max_connections),
	OPT_STRING("max_connections_per_ip", struct raw_server,
		   max_connections_per_ip),
	OPT_STRING("idle_timeout", struct raw_server, idle_timeout),
	OPT_STRING("max_request_bytes", struct raw_server, max_request_bytes),
	CYAML_FIELD_MAPPING_PTR("tls", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_server, tls, tls_fields),
	CYAML_FIELD_MAPPING_PTR("basic_auth",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_server, basic_auth, basic_auth_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t limits_fields[] = {
	OPT_STRING("max_series_per_project", struct raw_limits,
		   max_series_per_project),
	OPT_STRING("max_series_per_org", struct raw_limits, max_series_per_org),
	OPT_STRING("max_flaky_tests_per_project", struct raw_limits,
		   max_flaky_tests_per_project),
	OPT_STRING("max_branches_per_project", struct raw_limits,
		   max_branches_per_project),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t sharding_fields[] = {
	OPT_STRING("total", struct raw_sharding, total),
	OPT_STRING("index", struct raw_sharding, index),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING_PTR("circleci",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, circleci, circleci_fields),
	CYAML_FIELD_MAPPING_PTR("server",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, server, server_fields),
	CYAML_FIELD_MAPPING_PTR("limits",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, limits, limits_fields),
	CYAML_FIELD_MAPPING_PTR("sharding",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, sharding, sharding_fields),
	CYAML_FIELD_MAPPING_PTR("defaults",
				CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, defaults, settings_fields),
	CYAML_FIELD_SEQUENCE("projects",
			     CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct raw_config, projects, &project_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("organizations",
			     CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct raw_config, organizations, &org_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, top_fields),
};

/* libcyaml reports problems through a log callback; keep its error lines. */
static void collect_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt,
			      va_list args)
{
	struct cie_buf *messages = ctx;
	size_t start = messages->len;

	if (level < CYAML_LOG_ERROR)
		return;
	if (messages->len)
		cie_buf_puts(messages, "; ");
	cie_buf_vprintf(messages, fmt, args);
	/* Fold its multi-line backtrace into one line. */
	for (size_t i = start; i < messages->len; i++) {
		if (messages->data[i] == '\n' || messages->data[i] == '\t')
			messages->data[i] = ' ';
	}
	while (messages->len && messages->data[messages->len - 1] == ' ')
		messages->data[--messages->len] = '\0';
}

/*
 * Build the key path ("projects[1].windows") from libcyaml's backtrace,
 * whose entries run from the innermost outwards; skip drops that many
 * innermost mapping fields.
 */
static void backtrace_path(const char *text, int skip, char *out, size_t size)
{
	const char *entries[32];
	int n = 0;
	size_t len = 0;

	for (const char *p = text; n < 32 && (p = strstr(p, "in ")) != NULL; p += 3) {
		if (strncmp(p, "in mapping field '", 18) == 0 ||
		    strncmp(p, "in sequence entry '", 19) == 0)
			entries[n++] = p;
	}
	out[0] = '\0';
	for (int i = n - 1; i >= 0; i--) {
		bool field = entries[i][3] == 'm';
		const char *name = strchr(entries[i], '\'') + 1;
		int name_len = (int)(strchr(name, '\'') - name);

		if (field && i < skip)
			continue;
		if (field)
			len += (size_t)snprintf(out + len, size - len, "%s%.*s",
						len ? "." : "", name_len, name);
		else if (strtol(name, NULL, 10) > 0)
			len += (size_t)snprintf(out + len, size - len, "[%ld]",
						strtol(name, NULL, 10) - 1);
		if (len >= size)
			return;
	}
}

/*
 * Find where key is written as a mapping key in the YAML text, for an
 * "unknown key" error: libcyaml reports the position of the value before
 * it. Writes " (line L)" into where, or nothing when not found.
 */
static void find_key_line(const char *data, size_t size, const char *key,
			  size_t key_len, char *where, size_t where_size)
{
	const char *line = data, *end = data + size;

	for (int number = 1; line < end; number++) {
		const char *p = line, *next = memchr(line, '\n', (size_t)(end - line));

		next = next ? next + 1 : end;
		while (p < next && (*p == ' ' || *p == '-' || *p == '\t'))
			p++;
		if ((size_t)(next - p) > key_len && memcmp(p, key, key_len) == 0 &&
		    (p[key_len] == ':' || p[key_len] == ' ')) {
			snprintf(where, where_size, " (line %d)", number);
			return;
		}
		line = next;
	}
}

/* The YAML node kinds of libcyaml's "Expecting X, got event: Y" in words. */
static const char *yaml_kind(const char *text)
{
	if (strncmp(text, "SEQUENCE", 8) == 0)
		return "a list";
	if (strncmp(text, "MAPPING", 7) == 0)
		return "a mapping of keys to values";
	if (strncmp(text, "STRING", 6) == 0 || strncmp(text, "SCALAR", 6) == 0)
		return "a single value";
	return "another kind of value";
}

/* Turn libcyaml's error lines into one message that names the key. */
static void describe_yaml_error(const char *messages, cyaml_err_t rc,
				const char *data, size_t size,
				struct cie_error *err)
{
	char path[KEY_MAX * 2], where[64] = "";
	const char *line = strstr(messages, "(line: ");
	const char *problem = strstr(messages, "Load: ");
	const char *got;
	int l, c;

	if (line && sscanf(line, "(line: %d, column: %d)", &l, &c) == 2)
		snprintf(where, sizeof(where), " (line %d, column %d)", l, c);
	problem = problem ? problem + 6 : messages;
	if (strncmp(problem, "Unexpected key: ", 16) == 0) {
		size_t key_len = strcspn(problem + 16, ";");

		where[0] = '\0';
		find_key_line(data, size, problem + 16, key_len, where, sizeof(where));
		backtrace_path(messages, 0, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG,
			      "%s%sunknown key \"%.*s\"%s; check its spelling and place against config/example.yml",
			      path, *path ? ": " : "", (int)key_len, problem + 16, where);
	} else if (strncmp(problem, "Missing required mapping field: ", 32) == 0) {
		backtrace_path(messages, 1, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG, "%s%smissing required key \"%.*s\"%s",
			      path, *path ? ": " : "", (int)strcspn(problem + 32, ";"),
			      problem + 32, where);
	} else if (strncmp(problem, "Insufficient entries", 20) == 0) {
		backtrace_path(messages, 0, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG,
			      "%s: empty list%s; name at least one value or leave the key out",
			      path, where);
	} else if (strncmp(problem, "Expecting ", 10) == 0 &&
		   (got = strstr(problem, "got event: ")) != NULL) {
		backtrace_path(messages, 0, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG,
			      "%s: expected %s, got %s%s; compare with config/example.yml",
			      *path ? path : "config", yaml_kind(problem + 10),
			      yaml_kind(got + 11), where);
	} else if (strncmp(problem, "Mapping field already seen: ", 28) == 0) {
		backtrace_path(messages, 0, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG,
			      "%s%skey \"%.*s\" is given twice%s; keep one",
			      path, *path ? ": " : "", (int)strcspn(problem + 28, ";"),
			      problem + 28, where);
	} else if (strstr(messages, "libyaml")) {
		cie_error_set(err, CIE_ERR_CONFIG, "invalid YAML: %.*s%s",
			      (int)strcspn(problem, ";"), problem, where);
	} else {
		backtrace_path(messages, 0, path, sizeof(path));
		cie_error_set(err, CIE_ERR_CONFIG, "%s%s%s: %.*s%s", path,
			      *path ? ": " : "", cyaml_strerror(rc),
			      (int)strcspn(problem, ";"), problem, where);
	}
}

/* ${VAR} expansion, applied to every string of the raw tree. */

static enum cie_result expand_string(char **value, const char *key,
				     struct cie_error *err)
{
	struct cie_buf out;
	const char *p = *value, *end;
	char name[KEY_MAX];
	const char *env;
	size_t n;

	if (!strstr(p, "${"))
		return CIE_OK;
	cie_buf_init(&out, CONFIG_FILE_MAX);
	while (*p) {
		if (p[0] != '$' || p[1] != '{') {
			cie_buf_putc(&out, *p++);
			continue;
		}
		end = strchr(p + 2, '}');
		n = end ? (size_t)(end - p - 2) : 0;
		if (!end || n == 0 || n >= sizeof(name)) {
			cie_buf_cleanup(&out);
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s: malformed variable reference in \"%s\"; write ${NAME}",
					     key, *value);
		}
		memcpy(name, p + 2, n);
		name[n] = '\0';
		env = getenv(name);
		if (!env) {
			cie_buf_cleanup(&out);
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s: environment variable %s is not set; set it or change the value",
					     key, name);
		}
		cie_buf_puts(&out, env);
		p = end + 1;
	}
	if (!out.data)
		cie_buf_puts(&out, "");
	free(*value);
	*value = cie_buf_detach(&out, NULL);
	return *value ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
}

#define EXPAND(field, key) \
	do { \
		if ((field) && (result = expand_string(&(field), key, err)) != CIE_OK) \
			return result; \
	} while (0)

static enum cie_result expand_list(char **items, unsigned count,
				   const char *key, struct cie_error *err)
{
	char path[KEY_MAX * 4];
	enum cie_result result;

	for (unsigned i = 0; i < count; i++) {
		key_printf(path, sizeof(path), "%s[%u]", key, i);
		EXPAND(items[i], path);
	}
	return CIE_OK;
}

static enum cie_result expand_settings(struct raw_settings *s, const char *key,
				       struct cie_error *err)
{
	char path[KEY_MAX * 4];
	enum cie_result result;

#define SUBKEY(name) (key_printf(path, sizeof(path), "%s.%s", key, name), path)
	EXPAND(s->interval, SUBKEY("interval"));
	EXPAND(s->jobs, SUBKEY("jobs"));
	EXPAND(s->last_runs, SUBKEY("last_runs"));
	EXPAND(s->flaky_tests, SUBKEY("flaky_tests"));
	EXPAND(s->trends, SUBKEY("trends"));
	EXPAND(s->test_metrics, SUBKEY("test_metrics"));
	if ((result = expand_list(s->windows, s->windows_count,
				  SUBKEY("windows"), err)) != CIE_OK)
		return result;
	if ((result = expand_list(s->branches, s->branches_count,
				  SUBKEY("branches"), err)) != CIE_OK)
		return result;
	if (s->workflows) {
		EXPAND(s->workflows->include, SUBKEY("workflows.include"));
		EXPAND(s->workflows->exclude, SUBKEY("workflows.exclude"));
	}
#undef SUBKEY
	return CIE_OK;
}

static enum cie_result expand_server(struct raw_server *srv,
				     struct cie_error *err)
{
	enum cie_result result;

	if (!srv)
		return CIE_OK;
	EXPAND(srv->listen_address, "server.listen_address");
	EXPAND(srv->metrics_path, "server.metrics_path");
	EXPAND(srv->max_connections, "server.max_connections");
	EXPAND(srv->max_connections_per_ip, "server.max_connections_per_ip");
	EXPAND(srv->idle_timeout, "server.idle_timeout");
	EXPAND(srv->max_request_bytes, "server.max_request_bytes");
	if (srv->tls) {
		EXPAND(srv->tls->cert_file, "server.tls.cert_file");
		EXPAND(srv->tls->key_file, "server.tls.key_file");
	}
	if (srv->basic_auth) {
		EXPAND(srv->basic_auth->username, "server.basic_auth.username");
		EXPAND(srv->basic_auth->password_file,
		       "server.basic_auth.password_file");
	}
	return CIE_OK;
}

static enum cie_result expand_raw(struct raw_config *raw, struct cie_error *err)
{
	char key[KEY_MAX];
	enum cie_result result;
	struct raw_circleci *c = raw->circleci;

	if (c) {
		EXPAND(c->url, "circleci.url");
		EXPAND(c->token, "circleci.token");
		EXPAND(c->token_file, "circleci.token_file");
		EXPAND(c->timeout, "circleci.timeout");
		EXPAND(c->max_retries, "circleci.max_retries");
		EXPAND(c->max_concurrency, "circleci.max_concurrency");
		EXPAND(c->max_response_bytes, "circleci.max_response_bytes");
		EXPAND(c->max_pages, "circleci.max_pages");
		if (c->rate_limit) {
			EXPAND(c->rate_limit->requests_per_second,
			       "circleci.rate_limit.requests_per_second");
			EXPAND(c->rate_limit->burst, "circleci.rate_limit.burst");
		}
	}
	if ((result = expand_server(raw->server, err)) != CIE_OK)
		return result;
	if (raw->limits) {
		EXPAND(raw->limits->max_series_per_project,
		       "limits.max_series_per_project");
		EXPAND(raw->limits->max_series_per_org, "limits.max_series_per_org");
		EXPAND(raw->limits->max_flaky_tests_per_project,
		       "limits.max_flaky_tests_per_project");
		EXPAND(raw->limits->max_branches_per_project,
		       "limits.max_branches_per_project");
	}
	if (raw->sharding) {
		EXPAND(raw->sharding->total, "sharding.total");
		EXPAND(raw->sharding->index, "sharding.index");
	}
	for (unsigned i = 0; i < raw->organizations_count; i++) {
		struct raw_org *o = &raw->organizations[i];

		key_printf(key, sizeof(key), "organizations[%u].slug", i);
		EXPAND(o->slug, key);
		key_printf(key, sizeof(key), "organizations[%u].discover_projects", i);
		EXPAND(o->discover_projects, key);
		key_printf(key, sizeof(key), "organizations[%u].include", i);
		EXPAND(o->include, key);
		key_printf(key, sizeof(key), "organizations[%u].exclude", i);
		EXPAND(o->exclude, key);
		key_printf(key, sizeof(key), "organizations[%u]", i);
		if ((result = expand_settings(&o->s, key, err)) != CIE_OK)
			return result;
	}
	if (raw->defaults &&
	    (result = expand_settings(raw->defaults, "defaults", err)) != CIE_OK)
		return result;
	for (unsigned i = 0; i < raw->projects_count; i++) {
		key_printf(key, sizeof(key), "projects[%u].slug", i);
		EXPAND(raw->projects[i].slug, key);
		key_printf(key, sizeof(key), "projects[%u]", i);
		if ((result = expand_settings(&raw->projects[i].s, key, err)) != CIE_OK)
			return result;
	}
	return CIE_OK;
}

/* Scalar conversion, each naming the key in its error. */

static enum cie_result parse_bool(const char *text, const char *key, bool *out,
				  struct cie_error *err)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 ||
	    strcmp(text, "on") == 0) {
		*out = true;
	} else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
		   strcmp(text, "off") == 0) {
		*out = false;
	} else {
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: invalid boolean \"%s\"; use true or false",
				     key, text);
	}
	return CIE_OK;
}

static enum cie_result parse_uint(const char *text, const char *key,
				  unsigned long long min, unsigned long long max,
				  unsigned long long *out, struct cie_error *err)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno == ERANGE ||
	    v < min || v > max)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: invalid value \"%s\"; use a whole number from %llu to %llu",
				     key, text, min, max);
	*out = v;
	return CIE_OK;
}

static enum cie_result parse_unsigned(const char *text, const char *key,
				      unsigned min, unsigned max, unsigned *out,
				      struct cie_error *err)
{
	unsigned long long v;
	enum cie_result result = parse_uint(text, key, min, max, &v, err);

	if (result == CIE_OK)
		*out = (unsigned)v;
	return result;
}

static enum cie_result parse_real(const char *text, const char *key,
				  double min, double max, double *out,
				  struct cie_error *err)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    v < min || v > max)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: invalid value \"%s\"; use a number from %g to %g",
				     key, text, min, max);
	*out = v;
	return CIE_OK;
}

static enum cie_result parse_duration(const char *text, const char *key,
				      double min, double max, double *out,
				      struct cie_error *err)
{
	double v;

	if (!cie_duration_parse(text, &v) || v < min || v > max)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: invalid duration \"%s\"; use a number with unit s, m or h (for example 30s or 15m), from %gs to %gs",
				     key, text, min, max);
	*out = v;
	return CIE_OK;
}

/* Slugs and addresses. */

static bool valid_name_part(const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static bool valid_uuid(const char *p, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? p[i] != '-' : !isxdigit((unsigned char)p[i]))
			return false;
	}
	return true;
}

bool cie_config_valid_slug(const char *slug, const char **why)
{
	const char *a = strchr(slug, '/'), *b;
	size_t vcs_len;

	*why = "use VCS/ORG/REPO with VCS one of gh, github, bb, bitbucket, or circleci/ORG-ID/PROJECT-ID";
	if (!a)
		return false;
	b = strchr(a + 1, '/');
	if (!b || strchr(b + 1, '/'))
		return false;
	vcs_len = (size_t)(a - slug);
	if (vcs_len == 8 && strncmp(slug, "circleci", 8) == 0) {
		*why = "a circleci/ slug takes the organization ID and the project ID, both UUIDs (see the project's settings page)";
		return valid_uuid(a + 1, (size_t)(b - a - 1)) &&
		       valid_uuid(b + 1, strlen(b + 1));
	}
	if (!((vcs_len == 2 && (strncmp(slug, "gh", 2) == 0 ||
				strncmp(slug, "bb", 2) == 0)) ||
	      (vcs_len == 6 && strncmp(slug, "github", 6) == 0) ||
	      (vcs_len == 9 && strncmp(slug, "bitbucket", 9) == 0)))
		return false;
	*why = "organization and repository names may contain letters, digits, '-', '_' and '.'";
	return valid_name_part(a + 1, (size_t)(b - a - 1)) &&
	       valid_name_part(b + 1, strlen(b + 1));
}

bool cie_config_valid_org_slug(const char *slug, const char **why)
{
	const char *a = strchr(slug, '/');
	size_t vcs_len;

	*why = "use VCS/ORG with VCS one of gh, github, bb, bitbucket, or circleci/ORG-ID";
	if (!a || strchr(a + 1, '/'))
		return false;
	vcs_len = (size_t)(a - slug);
	if (vcs_len == 8 && strncmp(slug, "circleci", 8) == 0) {
		*why = "a circleci/ organization slug takes the organization ID, a UUID";
		return valid_uuid(a + 1, strlen(a + 1));
	}
	if (!((vcs_len == 2 && (strncmp(slug, "gh", 2) == 0 ||
				strncmp(slug, "bb", 2) == 0)) ||
	      (vcs_len == 6 && strncmp(slug, "github", 6) == 0) ||
	      (vcs_len == 9 && strncmp(slug, "bitbucket", 9) == 0)))
		return false;
	*why = "organization names may contain letters, digits, '-', '_' and '.'";
	return valid_name_part(a + 1, strlen(a + 1));
}

bool cie_config_split_address(const char *addr, char *host, size_t host_size,
			      unsigned *port)
{
	const char *colon;
	size_t n;
	char *end;
	unsigned long v;

	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		if (!colon)
			return false;
		n = (size_t)(colon - addr - 1);
		addr++;
		colon++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return false;
		n = (size_t)(colon - addr);
		if (memchr(addr, ':', n))
			return false;
	}
	if (n >= host_size)
		return false;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (!isdigit((unsigned char)colon[1]))
		return false;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno || v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* Building the validated config. */

/*
 * Estimate how many elements a POSIX ERE expands to once its repetitions
 * are unrolled, as glibc's regcomp() does for bounds and nested
 * quantifiers ("a++++", "((a{99}){99}){99}"), whose memory grows with the
 * product of the repetitions. Each quantifier counts as its bound, or as
 * two for *, + and ?. Returns a number above limit as soon as it passes it.
 */
static double regex_size(const char *p, double limit)
{
	double stack[64], total = 0, last = 0;
	int depth = 0;
	char *end;

	for (; *p; p++) {
		double count = 2;

		switch (*p) {
		case '\\':
			if (p[1])
				p++;
			last = 1;
			total += last;
			break;
		case '[':
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				return total;
			last = 1;
			total += last;
			break;
		case '(':
			if (depth == 64)
				return limit + 1;
			stack[depth++] = total;
			total = 0;
			break;
		case ')':
			last = total;
			total = depth ? stack[--depth] + last : last;
			break;
		case '{':
			/* {m}, {m,} and {m,n}: count the larger bound, m + 1 if open. */
			count = strtod(p + 1, &end);
			if (*end == ',')
				count = isdigit((unsigned char)end[1]) ?
						strtod(end + 1, NULL) : count + 1;
			p = strchr(p, '}');
			if (!p)
				return total;
			count = count < 2 ? 2 : count;
			/* fall through */
		case '*':
		case '+':
		case '?':
			total += last * (count - 1);
			last *= count;
			break;
		default:
			last = 1;
			total += last;
			break;
		}
		if (total > limit || last > limit)
			return limit + 1;
	}
	return total;
}

#define REGEX_MAX_SIZE 10000

static enum cie_result compile_regex(regex_t *re, const char *pattern,
				     const char *key, struct cie_error *err)
{
	char message[256];
	int rc;

	if (regex_size(pattern, REGEX_MAX_SIZE) > REGEX_MAX_SIZE)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: regular expression \"%s\" is too complex: its repetitions unroll to more than %d elements; simplify it",
				     key, pattern, REGEX_MAX_SIZE);
	rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, re, message, sizeof(message));
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: invalid regular expression \"%s\": %s",
				     key, pattern, message);
	}
	return CIE_OK;
}

bool cie_name_filter_match(const struct cie_name_filter *f, const char *name)
{
	if (f->include && regexec(&f->include_re, name, 0, NULL, 0) != 0)
		return false;
	if (f->exclude && *f->exclude &&
	    regexec(&f->exclude_re, name, 0, NULL, 0) == 0)
		return false;
	return true;
}

static void filter_cleanup(struct cie_name_filter *f)
{
	if (f->include)
		regfree(&f->include_re);
	if (f->exclude && *f->exclude)
		regfree(&f->exclude_re);
	free(f->include);
	free(f->exclude);
	f->include = NULL;
	f->exclude = NULL;
}

static enum cie_result filter_init(struct cie_name_filter *f,
				   const char *include, const char *exclude,
				   const char *key, struct cie_error *err)
{
	char path[KEY_MAX * 8];
	enum cie_result result;

	memset(f, 0, sizeof(*f));
	if (include) {
		key_printf(path, sizeof(path), "%s.include", key);
		if ((result = compile_regex(&f->include_re, include, path, err)) != CIE_OK)
			return result;
		f->include = strdup(include);
	}
	if (exclude && *exclude) {
		key_printf(path, sizeof(path), "%s.exclude", key);
		if ((result = compile_regex(&f->exclude_re, exclude, path, err)) != CIE_OK) {
			filter_cleanup(f);
			return result;
		}
		f->exclude = strdup(exclude);
	}
	return CIE_OK;
}

static void settings_cleanup(struct cie_poll_settings *s)
{
	for (size_t i = 0; i < s->branch_count; i++)
		free(s->branches[i]);
	free(s->branches);
	s->branches = NULL;
	s->branch_count = 0;
	filter_cleanup(&s->workflows);
}

static enum cie_result parse_windows(char **items, unsigned count,
				     const char *key, unsigned *out,
				     struct cie_error *err)
{
	unsigned set = 0;
	int found;

	if (count == 0)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: empty list; name at least one window, for example [last-7-days]",
				     key);
	for (unsigned i = 0; i < count; i++) {
		found = -1;
		for (int w = 0; w < CIE_WINDOW_COUNT; w++) {
			if (strcmp(items[i], window_names[w]) == 0)
				found = w;
		}
		if (found < 0)
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s[%u]: invalid window \"%s\"; use last-24-hours, last-7-days, last-30-days, last-60-days or last-90-days",
					     key, i, items[i]);
		set |= 1u << found;
	}
	*out = set;
	return CIE_OK;
}

static bool has_branch(const struct cie_poll_settings *s, const char *name)
{
	for (size_t i = 0; i < s->branch_count; i++) {
		if (strcmp(s->branches[i], name) == 0)
			return true;
	}
	return false;
}

static enum cie_result parse_branches(char **items, unsigned count,
				      const char *key,
				      struct cie_poll_settings *s,
				      struct cie_error *err)
{
	s->branches = calloc(count ? count : 1, sizeof(char *));
	if (!s->branches)
		return cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
	for (unsigned i = 0; i < count; i++) {
		const char *b = items[i];

		if (*b == '\0')
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s[%u]: empty branch name", key, i);
		if (has_branch(s, b))
			continue;
		s->branches[s->branch_count] = strdup(b);
		if (!s->branches[s->branch_count])
			return cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
		s->branch_count++;
	}
	return CIE_OK;
}

/*
 * Fill out from the raw settings r (which may be NULL), falling back to base
 * (NULL for the built-in defaults). key is the path used in errors.
 */
static enum cie_result build_settings(const struct raw_settings *r,
				      const struct cie_poll_settings *base,
				      const char *key,
				      struct cie_poll_settings *out,
				      struct cie_error *err)
{
	static const struct raw_settings none;
	char path[KEY_MAX * 4];
	enum cie_result result;
	const char *include, *exclude;

	if (!r)
		r = &none;
	memset(out, 0, sizeof(*out));
	out->interval = base ? base->interval : 15 * 60;
	out->windows = base ? base->windows : 1u << CIE_WINDOW_7D;
	out->jobs = base ? base->jobs : true;
	out->last_runs = base ? base->last_runs : true;
	out->flaky_tests = base ? base->flaky_tests : false;
	out->trends = base ? base->trends : false;
	out->test_metrics = base ? base->test_metrics : false;

#define SUBKEY(name) (key_printf(path, sizeof(path), "%s.%s", key, name), path)
	if (r->interval &&
	    (result = parse_duration(r->interval, SUBKEY("interval"), 1,
				     7 * 24 * 3600, &out->interval, err)) != CIE_OK)
		return result;
	if (r->windows &&
	    (result = parse_windows(r->windows, r->windows_count,
				    SUBKEY("windows"), &out->windows, err)) != CIE_OK)
		return result;
	if (r->jobs && (result = parse_bool(r->jobs, SUBKEY("jobs"), &out->jobs,
					    err)) != CIE_OK)
		return result;
	if (r->last_runs &&
	    (result = parse_bool(r->last_runs, SUBKEY("last_runs"),
				 &out->last_runs, err)) != CIE_OK)
		return result;
	if (r->flaky_tests &&
	    (result = parse_bool(r->flaky_tests, SUBKEY("flaky_tests"),
				 &out->flaky_tests, err)) != CIE_OK)
		return result;
	if (r->trends &&
	    (result = parse_bool(r->trends, SUBKEY("trends"), &out->trends,
				 err)) != CIE_OK)
		return result;
	if (r->test_metrics &&
	    (result = parse_bool(r->test_metrics, SUBKEY("test_metrics"),
				 &out->test_metrics, err)) != CIE_OK)
		return result;
	if (r->branches)
		result = parse_branches(r->branches, r->branches_count,
					SUBKEY("branches"), out, err);
	else if (base)
		result = parse_branches(base->branches, (unsigned)base->branch_count,
					SUBKEY("branches"), out, err);
	else
		result = parse_branches(NULL, 0, SUBKEY("branches"), out, err);
	if (result != CIE_OK)
		return result;

	include = base ? base->workflows.include : NULL;
	exclude = base ? base->workflows.exclude : NULL;
	if (r->workflows) {
		include = r->workflows->include ? r->workflows->include : include;
		exclude = r->workflows->exclude ? r->workflows->exclude : exclude;
	}
	result = filter_init(&out->workflows, include, exclude,
			     SUBKEY("workflows"), err);
#undef SUBKEY
	return result;
}

static enum cie_result read_token_file(const char *path, char **out,
				       struct cie_error *err)
{
	struct stat st;
	char buf[TOKEN_FILE_MAX + 1];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.token_file: cannot open \"%s\": %s",
				     path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
		cie_log(CIE_LOG_WARN,
			"token file is readable or writable by other users; run chmod 600 on it",
			"file", path, NULL);
	n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
	fclose(f);
	if (n > TOKEN_FILE_MAX)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.token_file: \"%s\" is larger than %d bytes; it must hold only the token",
				     path, TOKEN_FILE_MAX);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "token");
}

/* Check the token; source names where it came from, for the message. */
static enum cie_result check_token(const char *token, const char *source,
				   struct cie_error *err)
{
	if (*token == '\0')
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: the token is empty; set it to a CircleCI personal API token",
				     source);
	for (const char *p = token; *p; p++) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s: the token contains white space or control characters; a token file may end with a newline, nothing else",
					     source);
	}
	return CIE_OK;
}

static enum cie_result build_token(const struct raw_circleci *c,
				   struct cie_config *cfg,
				   struct cie_error *err)
{
	char source[KEY_MAX * 4];
	enum cie_result result;

	if (c && c->token && c->token_file)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.token: token and token_file are mutually exclusive; keep one");
	if (!c || (!c->token && !c->token_file))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.token: missing; set circleci.token (for example token: ${CIRCLECI_TOKEN}) or circleci.token_file");
	if (c->token) {
		cfg->circleci.token = strdup(c->token);
		if (!cfg->circleci.token)
			return cie_error_set(err, CIE_ERR_NOMEM, "token");
	} else {
		cfg->circleci.token_file = strdup(c->token_file);
		result = read_token_file(c->token_file, &cfg->circleci.token, err);
		if (result != CIE_OK)
			return result;
	}
	if (c->token)
		return check_token(cfg->circleci.token, "circleci.token", err);
	key_printf(source, sizeof(source), "circleci.token_file \"%s\"",
		   c->token_file);
	return check_token(cfg->circleci.token, source, err);
}

static enum cie_result build_url(const char *text, struct cie_config *cfg,
				 struct cie_error *err)
{
	size_t n = strlen(text);

	const char *authority = strstr(text, "://");
	size_t authority_len = authority ? strcspn(authority + 3, "/") : 0;

	/* Credentials in the URL would be printed and logged: never accept them. */
	if (authority && memchr(authority + 3, '@', authority_len))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.url: the URL contains a user name or password; remove it and set circleci.token");
	if ((strncmp(text, "https://", 8) != 0 && strncmp(text, "http://", 7) != 0) ||
	    strchr(text, '?') || strchr(text, '#') || strchr(text, ' '))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "circleci.url: invalid URL \"%s\"; use https://HOST/api/v2",
				     text);
	while (n > 0 && text[n - 1] == '/')
		n--;
	cfg->circleci.url = strndup(text, n);
	return cfg->circleci.url ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "url");
}

static enum cie_result build_circleci(const struct raw_circleci *c,
				      struct cie_config *cfg,
				      struct cie_error *err)
{
	unsigned long long bytes;
	enum cie_result result;

	cfg->circleci.timeout = 30;
	cfg->circleci.max_retries = 5;
	cfg->circleci.max_concurrency = 4;
	cfg->circleci.requests_per_second = 2;
	cfg->circleci.burst = 5;
	cfg->circleci.max_response_bytes = 32u << 20;
	cfg->circleci.max_pages = 100;

	result = build_url(c && c->url ? c->url : "https://circleci.com/api/v2",
			   cfg, err);
	if (result != CIE_OK)
		return result;
	if ((result = build_token(c, cfg, err)) != CIE_OK || !c)
		return result;
	if (c->timeout &&
	    (result = parse_duration(c->timeout, "circleci.timeout", 0.1, 600,
				     &cfg->circleci.timeout, err)) != CIE_OK)
		return result;
	if (c->max_retries &&
	    (result = parse_unsigned(c->max_retries, "circleci.max_retries", 0,
				     20, &cfg->circleci.max_retries, err)) != CIE_OK)
		return result;
	if (c->max_concurrency &&
	    (result = parse_unsigned(c->max_concurrency,
				     "circleci.max_concurrency", 1, 64,
				     &cfg->circleci.max_concurrency, err)) != CIE_OK)
		return result;
	if (c->max_pages &&
	    (result = parse_unsigned(c->max_pages, "circleci.max_pages", 1,
				     10000, &cfg->circleci.max_pages, err)) != CIE_OK)
		return result;
	if (c->max_response_bytes) {
		result = parse_uint(c->max_response_bytes,
				    "circleci.max_response_bytes", 1024,
				    1ull << 30, &bytes, err);
		if (result != CIE_OK)
			return result;
		cfg->circleci.max_response_bytes = (size_t)bytes;
	}
	if (c->rate_limit && c->rate_limit->requests_per_second &&
	    (result = parse_real(c->rate_limit->requests_per_second,
				 "circleci.rate_limit.requests_per_second",
				 0.001, 1000,
				 &cfg->circleci.requests_per_second, err)) != CIE_OK)
		return result;
	if (c->rate_limit && c->rate_limit->burst &&
	    (result = parse_real(c->rate_limit->burst,
				 "circleci.rate_limit.burst", 1, 10000,
				 &cfg->circleci.burst, err)) != CIE_OK)
		return result;
	return CIE_OK;
}

static enum cie_result check_readable(const char *path, const char *key,
				      struct cie_error *err)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s: cannot open \"%s\": %s", key, path,
				     strerror(errno));
	fclose(f);
	return CIE_OK;
}

static enum cie_result build_tls(const struct raw_tls *t, struct cie_config *cfg,
				 struct cie_error *err)
{
	enum cie_result result;

	if (!t)
		return CIE_OK;
	if (!t->cert_file || !t->key_file)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.tls: set both cert_file and key_file, or remove server.tls");
	if ((result = check_readable(t->cert_file, "server.tls.cert_file", err)) != CIE_OK ||
	    (result = check_readable(t->key_file, "server.tls.key_file", err)) != CIE_OK)
		return result;
	cfg->server.tls_cert_file = strdup(t->cert_file);
	cfg->server.tls_key_file = strdup(t->key_file);
	if (!cfg->server.tls_cert_file || !cfg->server.tls_key_file)
		return cie_error_set(err, CIE_ERR_NOMEM, "tls");
	return CIE_OK;
}

/* Read the bcrypt hash of the basic-auth password file. */
static enum cie_result read_password_hash(const char *path, char **out,
					  struct cie_error *err)
{
	char line[256];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.basic_auth.password_file: cannot open \"%s\": %s",
				     path, strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	if (n < 59 || line[0] != '$' || line[1] != '2' ||
	    (line[2] != 'a' && line[2] != 'b' && line[2] != 'y') || line[3] != '$')
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.basic_auth.password_file: \"%s\" does not hold a bcrypt hash; create one with htpasswd -nbBC 10 USER PASSWORD and keep the part after the colon",
				     path);
	*out = strdup(line);
	return *out ? CIE_OK : cie_error_set(err, CIE_ERR_NOMEM, "password");
}

static enum cie_result build_basic_auth(const struct raw_basic_auth *a,
					struct cie_config *cfg,
					struct cie_error *err)
{
	if (!a)
		return CIE_OK;
	if (!a->username || !a->password_file || !*a->username)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.basic_auth: set both username and password_file, or remove server.basic_auth");
	if (strchr(a->username, ':'))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.basic_auth.username: \"%s\" contains ':', which basic auth cannot carry",
				     a->username);
	cfg->server.basic_auth_username = strdup(a->username);
	cfg->server.basic_auth_password_file = strdup(a->password_file);
	if (!cfg->server.basic_auth_username || !cfg->server.basic_auth_password_file)
		return cie_error_set(err, CIE_ERR_NOMEM, "basic_auth");
	return read_password_hash(a->password_file, &cfg->server.basic_auth_hash,
				  err);
}

static enum cie_result build_server_limits(const struct raw_server *s,
					   struct cie_config *cfg,
					   struct cie_error *err)
{
	unsigned long long bytes;
	enum cie_result result;

	cfg->server.max_connections = 256;
	cfg->server.max_connections_per_ip = 32;
	cfg->server.idle_timeout = 60;
	cfg->server.max_request_bytes = 32 * 1024;
	if (!s)
		return CIE_OK;
	if (s->max_connections &&
	    (result = parse_unsigned(s->max_connections, "server.max_connections",
				     1, 100000, &cfg->server.max_connections,
				     err)) != CIE_OK)
		return result;
	if (s->max_connections_per_ip &&
	    (result = parse_unsigned(s->max_connections_per_ip,
				     "server.max_connections_per_ip", 1, 100000,
				     &cfg->server.max_connections_per_ip,
				     err)) != CIE_OK)
		return result;
	if (s->idle_timeout &&
	    (result = parse_duration(s->idle_timeout, "server.idle_timeout", 1,
				     3600, &cfg->server.idle_timeout, err)) != CIE_OK)
		return result;
	if (s->max_request_bytes) {
		result = parse_uint(s->max_request_bytes, "server.max_request_bytes",
				    4096, 1 << 20, &bytes, err);
		if (result != CIE_OK)
			return result;
		cfg->server.max_request_bytes = (size_t)bytes;
	}
	if ((result = build_tls(s->tls, cfg, err)) != CIE_OK)
		return result;
	return build_basic_auth(s->basic_auth, cfg, err);
}

static enum cie_result build_limits(const struct raw_limits *l,
				    struct cie_config *cfg,
				    struct cie_error *err)
{
	enum cie_result result = CIE_OK;

	cfg->limits.max_series_per_project = 100000;
	cfg->limits.max_series_per_org = 1000000;
	cfg->limits.max_flaky_tests_per_project = 100;
	cfg->limits.max_branches_per_project = 50;
	if (!l)
		return CIE_OK;
	if (l->max_series_per_project)
		result = parse_unsigned(l->max_series_per_project,
					"limits.max_series_per_project", 1,
					100000000, &cfg->limits.max_series_per_project,
					err);
	if (result == CIE_OK && l->max_series_per_org)
		result = parse_unsigned(l->max_series_per_org,
					"limits.max_series_per_org", 1, 100000000,
					&cfg->limits.max_series_per_org, err);
	if (result == CIE_OK && l->max_flaky_tests_per_project)
		result = parse_unsigned(l->max_flaky_tests_per_project,
					"limits.max_flaky_tests_per_project", 0,
					100000, &cfg->limits.max_flaky_tests_per_project,
					err);
	if (result == CIE_OK && l->max_branches_per_project)
		result = parse_unsigned(l->max_branches_per_project,
					"limits.max_branches_per_project", 1, 10000,
					&cfg->limits.max_branches_per_project, err);
	return result;
}

static enum cie_result build_sharding(const struct raw_sharding *sh,
				      struct cie_config *cfg,
				      struct cie_error *err)
{
	enum cie_result result;

	cfg->sharding.total = 1;
	cfg->sharding.index = 0;
	if (!sh)
		return CIE_OK;
	if (sh->total &&
	    (result = parse_unsigned(sh->total, "sharding.total", 1, 1024,
				     &cfg->sharding.total, err)) != CIE_OK)
		return result;
	if (sh->index &&
	    (result = parse_unsigned(sh->index, "sharding.index", 0, 1023,
				     &cfg->sharding.index, err)) != CIE_OK)
		return result;
	if (cfg->sharding.index >= cfg->sharding.total)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "sharding.index: %u is not below sharding.total %u; use 0 to %u",
				     cfg->sharding.index, cfg->sharding.total,
				     cfg->sharding.total - 1);
	return CIE_OK;
}

static enum cie_result build_org(const struct raw_org *ro, unsigned i,
				 const struct cie_poll_settings *defaults,
				 struct cie_org_config *o, struct cie_error *err)
{
	char key[KEY_MAX];
	const char *why;
	enum cie_result result;

	key_printf(key, sizeof(key), "organizations[%u]", i);
	if (!cie_config_valid_org_slug(ro->slug, &why))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "%s.slug: invalid organization slug \"%s\"; %s",
				     key, ro->slug, why);
	o->slug = strdup(ro->slug);
	if (!o->slug)
		return cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
	result = build_settings(&ro->s, defaults, key, &o->poll, err);
	if (result == CIE_OK && ro->discover_projects) {
		key_printf(key, sizeof(key), "organizations[%u].discover_projects", i);
		result = parse_bool(ro->discover_projects, key, &o->discover_projects,
				    err);
	}
	if (result == CIE_OK && o->discover_projects &&
	    strncmp(o->slug, "circleci/", 9) == 0)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "organizations[%u].discover_projects: \"%s\" is a circleci/ organization, whose project list gives names but not the project IDs its slugs need; set discover_projects: false (the organization summary still works) and list its projects under projects:",
				     i, o->slug);
	if (result == CIE_OK) {
		key_printf(key, sizeof(key), "organizations[%u]", i);
		filter_cleanup(&o->projects);
		result = filter_init(&o->projects, ro->include, ro->exclude, key, err);
	}
	return result;
}

static enum cie_result build_orgs(const struct raw_config *raw,
				  const struct cie_poll_settings *defaults,
				  struct cie_config *cfg, struct cie_error *err)
{
	enum cie_result result;

	cfg->orgs = calloc(raw->organizations_count + 1, sizeof(*cfg->orgs));
	if (!cfg->orgs)
		return cie_error_set(err, CIE_ERR_NOMEM, "organizations");
	for (unsigned i = 0; i < raw->organizations_count; i++) {
		cfg->org_count = i + 1;
		result = build_org(&raw->organizations[i], i, defaults,
				   &cfg->orgs[i], err);
		if (result != CIE_OK)
			return result;
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(cfg->orgs[j].slug, cfg->orgs[i].slug) == 0)
				return cie_error_set(err, CIE_ERR_CONFIG,
						     "organizations[%u].slug: organization \"%s\" is listed twice; merge the entries",
						     i, cfg->orgs[i].slug);
		}
	}
	return CIE_OK;
}

static enum cie_result build_server(const struct raw_server *s,
				    struct cie_config *cfg,
				    struct cie_error *err)
{
	const char *addr = s && s->listen_address ? s->listen_address : ":9904";
	const char *path = s && s->metrics_path ? s->metrics_path : "/metrics";
	char host[256];
	unsigned port;

	if (!cie_config_split_address(addr, host, sizeof(host), &port))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.listen_address: invalid address \"%s\"; use HOST:PORT or :PORT",
				     addr);
	if (strcmp(path, "/") == 0 || strncmp(path, "/-/", 3) == 0)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.metrics_path: \"%s\" is reserved for the landing page and /-/healthy, /-/ready; use a path such as /metrics",
				     path);
	if (path[0] != '/' || strpbrk(path, " ?#"))
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "server.metrics_path: invalid path \"%s\"; use a path such as /metrics",
				     path);
	cfg->server.listen_address = strdup(addr);
	cfg->server.metrics_path = strdup(path);
	if (!cfg->server.listen_address || !cfg->server.metrics_path)
		return cie_error_set(err, CIE_ERR_NOMEM, "server");
	return build_server_limits(s, cfg, err);
}

static enum cie_result build_projects(const struct raw_config *raw,
				      const struct cie_poll_settings *defaults,
				      struct cie_config *cfg,
				      struct cie_error *err)
{
	char key[KEY_MAX];
	const char *why;
	enum cie_result result;

	cfg->projects = calloc(raw->projects_count ? raw->projects_count : 1,
			       sizeof(*cfg->projects));
	if (!cfg->projects)
		return cie_error_set(err, CIE_ERR_NOMEM, "projects");
	for (unsigned i = 0; i < raw->projects_count; i++) {
		const struct raw_project *rp = &raw->projects[i];
		struct cie_project_config *p = &cfg->projects[i];

		key_printf(key, sizeof(key), "projects[%u]", i);
		if (!cie_config_valid_slug(rp->slug, &why))
			return cie_error_set(err, CIE_ERR_CONFIG,
					     "%s.slug: invalid project slug \"%s\"; %s",
					     key, rp->slug, why);
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(cfg->projects[j].slug, rp->slug) == 0)
				return cie_error_set(err, CIE_ERR_CONFIG,
						     "%s.slug: project \"%s\" is listed twice; merge the entries",
						     key, rp->slug);
		}
		p->slug = strdup(rp->slug);
		cfg->project_count = i + 1;
		if (!p->slug)
			return cie_error_set(err, CIE_ERR_NOMEM, "%s", key);
		result = build_settings(&rp->s, defaults, key, &p->poll, err);
		if (result != CIE_OK)
			return result;
	}
	if (raw->projects_count == 0 && raw->organizations_count == 0)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "projects: no project or organization configured; add a project entry with a slug such as gh/ORG/REPO, or an organization under organizations:");
	return CIE_OK;
}

static enum cie_result build_config(const struct raw_config *raw,
				    struct cie_config *cfg,
				    struct cie_error *err)
{
	struct cie_poll_settings defaults;
	enum cie_result result;

	result = build_circleci(raw->circleci, cfg, err);
	if (result == CIE_OK)
		result = build_server(raw->server, cfg, err);
	if (result == CIE_OK)
		result = build_limits(raw->limits, cfg, err);
	if (result == CIE_OK)
		result = build_sharding(raw->sharding, cfg, err);
	if (result != CIE_OK)
		return result;

	result = build_settings(raw->defaults, NULL, "defaults", &defaults, err);
	if (result == CIE_OK)
		result = build_projects(raw, &defaults, cfg, err);
	if (result == CIE_OK)
		result = build_orgs(raw, &defaults, cfg, err);
	settings_cleanup(&defaults);
	return result;
}

enum cie_result cie_config_load_data(const char *data, size_t size,
				     struct cie_config **out,
				     struct cie_error *err)
{
	struct cie_buf messages;
	struct raw_config *raw = NULL;
	struct cie_config *cfg;
	cyaml_err_t rc;
	enum cie_result result;
	cyaml_config_t yaml = {
		.log_fn = collect_cyaml_log,
		.log_ctx = &messages,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};

	cie_buf_init(&messages, 1024);
	rc = cyaml_load_data((const uint8_t *)data, size, &yaml, &top_schema,
			     (cyaml_data_t **)&raw, NULL);
	if (rc != CYAML_OK) {
		describe_yaml_error(messages.data ? messages.data : "", rc, data, size,
				    err);
		cie_buf_cleanup(&messages);
		return CIE_ERR_CONFIG;
	}
	cie_buf_cleanup(&messages);
	/* An empty document (no text, only comments, "---" or "~") loads as NULL. */
	if (!raw)
		return cie_error_set(err, CIE_ERR_CONFIG,
				     "the config is empty; set at least circleci.token and projects");

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		result = cie_error_set(err, CIE_ERR_NOMEM, "config");
	else if ((result = expand_raw(raw, err)) == CIE_OK)
		result = build_config(raw, cfg, err);
	cyaml_free(&yaml, &top_schema, raw, 0);

	if (result != CIE_OK) {
		cie_config_free(cfg);
		return result;
	}
	*out = cfg;
	return CIE_OK;
}

enum cie_result cie_config_load_file(const char *path, struct cie_config **out,
				     struct cie_error *err)
{
	struct cie_buf text;
	char chunk[8192];
	size_t n;
	enum cie_result result;
	FILE *f = fopen(path, "r");

	if (!f)
		return cie_error_set(err, CIE_ERR_IO,
				     "cannot open config file \"%s\": %s; check the path given with --config.file",
				     path, strerror(errno));
	cie_buf_init(&text, CONFIG_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (!cie_buf_append(&text, chunk, n)) {
			fclose(f);
			cie_buf_cleanup(&text);
			return cie_error_set(err, CIE_ERR_IO,
					     "config file \"%s\" is larger than %u bytes",
					     path, CONFIG_FILE_MAX);
		}
	}
	fclose(f);
	result = cie_config_load_data(text.data ? text.data : "", text.len, out,
				      err);
	cie_buf_cleanup(&text);
	return result;
}

void cie_config_free(struct cie_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->circleci.url);
	if (cfg->circleci.token) {
		explicit_bzero(cfg->circleci.token, strlen(cfg->circleci.token));
		free(cfg->circleci.token);
	}
	free(cfg->circleci.token_file);
	free(cfg->server.listen_address);
	free(cfg->server.metrics_path);
	free(cfg->server.tls_cert_file);
	free(cfg->server.tls_key_file);
	free(cfg->server.basic_auth_username);
	free(cfg->server.basic_auth_password_file);
	free(cfg->server.basic_auth_hash);
	for (size_t i = 0; cfg->orgs && i < cfg->org_count; i++) {
		free(cfg->orgs[i].slug);
		settings_cleanup(&cfg->orgs[i].poll);
		filter_cleanup(&cfg->orgs[i].projects);
	}
	free(cfg->orgs);
	for (size_t i = 0; i < cfg->project_count; i++) {
		free(cfg->projects[i].slug);
		settings_cleanup(&cfg->projects[i].poll);
	}
	free(cfg->projects);
	free(cfg);
}

static void describe_settings(const struct cie_poll_settings *s, FILE *out)
{
	fprintf(out, "    interval: %gs\n    windows:", s->interval);
	for (int w = 0; w < CIE_WINDOW_COUNT; w++) {
		if (s->windows & (1u << w))
			fprintf(out, " %s", window_names[w]);
	}
	fprintf(out, "\n    branches:");
	if (s->branch_count == 0)
		fprintf(out, " (default branch)");
	for (size_t i = 0; i < s->branch_count; i++)
		fprintf(out, " %s", s->branches[i]);
	fprintf(out, "\n    jobs: %s\n    last_runs: %s\n",
		s->jobs ? "true" : "false", s->last_runs ? "true" : "false");
	fprintf(out, "    flaky_tests: %s\n    trends: %s\n    test_metrics: %s\n",
		s->flaky_tests ? "true" : "false", s->trends ? "true" : "false",
		s->test_metrics ? "true" : "false");
	if (s->workflows.include || s->workflows.exclude)
		fprintf(out, "    workflows: include \"%s\" exclude \"%s\"\n",
			s->workflows.include ? s->workflows.include : "",
			s->workflows.exclude ? s->workflows.exclude : "");
}

void cie_config_describe(const struct cie_config *cfg, FILE *out)
{
	fprintf(out, "api: %s\n", cfg->circleci.url);
	fprintf(out, "token: %s\n",
		cfg->circleci.token_file ? "read from circleci.token_file" :
					   "set in circleci.token");
	fprintf(out, "rate limit: %g requests/s, burst %g, max %u in flight, %u retries\n",
		cfg->circleci.requests_per_second, cfg->circleci.burst,
		cfg->circleci.max_concurrency, cfg->circleci.max_retries);
	fprintf(out, "listen: %s%s\n", cfg->server.listen_address,
		cfg->server.metrics_path);
	fprintf(out, "projects: %zu\n", cfg->project_count);
	for (size_t i = 0; i < cfg->project_count; i++) {
		const char *slug = cfg->projects[i].slug;

		if (!cie_shard_owns(cfg->sharding.total, cfg->sharding.index, slug)) {
			fprintf(out, "  - %s (shard %u, polled by another exporter)\n",
				slug,
				(unsigned)(cie_shard_hash(slug) % cfg->sharding.total));
			continue;
		}
		fprintf(out, "  - %s\n", slug);
		describe_settings(&cfg->projects[i].poll, out);
	}
	fprintf(out, "organizations: %zu\n", cfg->org_count);
	for (size_t i = 0; i < cfg->org_count; i++) {
		const struct cie_org_config *o = &cfg->orgs[i];

		fprintf(out, "  - %s\n    discover_projects: %s\n", o->slug,
			o->discover_projects ? "true" : "false");
		if (o->projects.include || o->projects.exclude)
			fprintf(out, "    projects: include \"%s\" exclude \"%s\"\n",
				o->projects.include ? o->projects.include : "",
				o->projects.exclude ? o->projects.exclude : "");
		describe_settings(&o->poll, out);
	}
	if (cfg->sharding.total > 1)
		fprintf(out, "sharding: shard %u of %u\n", cfg->sharding.index,
			cfg->sharding.total);
	if (cfg->server.tls_cert_file)
		fprintf(out, "tls: on\n");
	if (cfg->server.basic_auth_username)
		fprintf(out, "basic auth: user %s\n", cfg->server.basic_auth_username);
}
