/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of exporter/config.c: loading YAML from memory, defaults,
 * ${VAR} expansion, token files, validation errors that name the key path
 * and the bad value, workflow filters, slugs and listen addresses.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

/* config/example.yml of the source tree, from argv[1]. */
static const char *example_file;

#define SLUG_UUID "circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57"

/* The example config of the design, comments shortened. */
static const char example_config[] =
	"circleci:\n"
	"  url: https://circleci.com/api/v2        # CircleCI server: https://HOST/api/v2\n"
	"  token: ${CIRCLECI_TOKEN}                # or token_file: /run/secrets/circleci-token\n"
	"  timeout: 30s\n"
	"  max_retries: 5\n"
	"  max_concurrency: 4                      # requests in flight at once\n"
	"  rate_limit:\n"
	"    requests_per_second: 2                # sustained rate; fractions allowed\n"
	"    burst: 5\n"
	"server:\n"
	"  listen_address: \":9904\"\n"
	"  metrics_path: /metrics\n"
	"defaults:                                 # apply to every project unless overridden\n"
	"  interval: 15m\n"
	"  windows: [last-7-days]\n"
	"  branches: []                            # [] = the project's default branch\n"
	"  jobs: true\n"
	"  last_runs: true\n"
	"  workflows:\n"
	"    include: \".*\"\n"
	"    exclude: \"\"\n"
	"projects:\n"
	"  - slug: gh/acme/api\n"
	"  - slug: " SLUG_UUID "\n"
	"    branches: [main, \"release/*\"]        # a glob, matched against the branch list\n"
	"    windows: [last-24-hours, last-7-days]\n"
	"    interval: 30m\n";

/* Set the variables the tests use, so that no test depends on the caller's environment. */
static void set_test_env(void)
{
	setenv("CIRCLECI_TOKEN", "ccipat_test_0123456789", 1);
	setenv("CIE_TEST_ORG", "acme", 1);
	setenv("CIE_TEST_MIDDLE", "mid", 1);
	unsetenv("CIE_TEST_UNSET_VARIABLE");
}

static enum cie_result load(const char *yaml, struct cie_config **cfg,
			    struct cie_error *err)
{
	*cfg = NULL;
	cie_error_clear(err);
	return cie_config_load_data(yaml, strlen(yaml), cfg, err);
}

/*
 * Check that yaml is rejected with CIE_ERR_CONFIG and that the detail
 * contains the key path and the bad value (either may be NULL). line is
 * the caller's, so that a failure points at the case.
 */
static void expect_config_error(int line, const char *yaml, const char *key,
				const char *value)
{
	struct cie_config *cfg;
	struct cie_error err;
	enum cie_result result = load(yaml, &cfg, &err);

	check_report(result == CIE_ERR_CONFIG, __FILE__, line,
		     "result: expected CIE_ERR_CONFIG (%d), got %d (detail \"%s\")",
		     CIE_ERR_CONFIG, result, err.detail);
	check_report(cfg == NULL, __FILE__, line,
		     "config: expected NULL after an error, got a config");
	if (key)
		check_report(strstr(err.detail, key) != NULL, __FILE__, line,
			     "detail: expected the key \"%s\", got \"%s\"", key,
			     err.detail);
	if (value)
		check_report(strstr(err.detail, value) != NULL, __FILE__, line,
			     "detail: expected the value \"%s\", got \"%s\"", value,
			     err.detail);
	cie_config_free(cfg);
}

#define EXPECT_CONFIG_ERROR(yaml, key, value) \
	expect_config_error(__LINE__, (yaml), (key), (value))

/* Pieces of a minimal valid config, which tests combine with the settings under test. */
#define TOKEN_ONLY "circleci:\n  token: t0ken\n"
#define ONE_PROJECT "projects:\n  - slug: gh/acme/api\n"

static void test_config_example_loads(void)
{
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_poll_settings *a, *b;

	set_test_env();
	if (!CHECK(load(example_config, &cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_STR_EQ(cfg->circleci.url, "https://circleci.com/api/v2");
	CHECK_STR_EQ(cfg->circleci.token, "ccipat_test_0123456789");
	CHECK(cfg->circleci.token_file == NULL,
	      "token_file: expected NULL, got \"%s\"", cfg->circleci.token_file);
	CHECK_DOUBLE_EQ(cfg->circleci.timeout, 30);
	CHECK_INT_EQ(cfg->circleci.max_retries, 5);
	CHECK_INT_EQ(cfg->circleci.max_concurrency, 4);
	CHECK_DOUBLE_EQ(cfg->circleci.requests_per_second, 2);
	CHECK_DOUBLE_EQ(cfg->circleci.burst, 5);
	CHECK_STR_EQ(cfg->server.listen_address, ":9904");
	CHECK_STR_EQ(cfg->server.metrics_path, "/metrics");
	if (!CHECK_INT_EQ(cfg->project_count, 2))
		goto out;

	a = &cfg->projects[0].poll;
	CHECK_STR_EQ(cfg->projects[0].slug, "gh/acme/api");
	CHECK_DOUBLE_EQ(a->interval, 900);
	CHECK_INT_EQ(a->windows, 1u << CIE_WINDOW_7D);
	CHECK_INT_EQ(a->branch_count, 0);
	CHECK(a->jobs, "projects[0].jobs: expected true, got false");
	CHECK(a->last_runs, "projects[0].last_runs: expected true, got false");
	CHECK_STR_EQ(a->workflows.include, ".*");

	b = &cfg->projects[1].poll;
	CHECK_STR_EQ(cfg->projects[1].slug, SLUG_UUID);
	CHECK_DOUBLE_EQ(b->interval, 1800);
	CHECK_INT_EQ(b->windows, (1u << CIE_WINDOW_24H) | (1u << CIE_WINDOW_7D));
	if (CHECK_INT_EQ(b->branch_count, 2)) {
		CHECK_STR_EQ(b->branches[0], "main");
		CHECK_STR_EQ(b->branches[1], "release/*");
	}
	CHECK(b->jobs, "projects[1].jobs: expected true, got false");
	CHECK(b->last_runs, "projects[1].last_runs: expected true, got false");
out:
	cie_config_free(cfg);
}

static void test_config_defaults_filled(void)
{
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_poll_settings *s;

	if (!CHECK(load(TOKEN_ONLY ONE_PROJECT, &cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_STR_EQ(cfg->circleci.url, "https://circleci.com/api/v2");
	CHECK_DOUBLE_EQ(cfg->circleci.timeout, 30);
	CHECK_INT_EQ(cfg->circleci.max_retries, 5);
	CHECK_INT_EQ(cfg->circleci.max_concurrency, 4);
	CHECK_DOUBLE_EQ(cfg->circleci.requests_per_second, 2);
	CHECK_DOUBLE_EQ(cfg->circleci.burst, 5);
	CHECK_STR_EQ(cfg->server.listen_address, ":9904");
	CHECK_STR_EQ(cfg->server.metrics_path, "/metrics");
	if (CHECK_INT_EQ(cfg->project_count, 1)) {
		s = &cfg->projects[0].poll;
		CHECK_DOUBLE_EQ(s->interval, 900);
		CHECK_INT_EQ(s->windows, 1u << CIE_WINDOW_7D);
		CHECK_INT_EQ(s->branch_count, 0);
		CHECK(s->jobs, "jobs: expected true, got false");
		CHECK(s->last_runs, "last_runs: expected true, got false");
		CHECK(!s->flaky_tests, "flaky_tests: expected false, got true");
		CHECK(!s->trends, "trends: expected false, got true");
		CHECK(!s->test_metrics, "test_metrics: expected false, got true");
		CHECK(s->workflows.include == NULL,
		      "workflows.include: expected NULL, got \"%s\"",
		      s->workflows.include);
	}
	cie_config_free(cfg);
}

static void test_config_url_trailing_slash(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	if (!CHECK(load("circleci:\n  url: http://127.0.0.1:8080/api/v2/\n"
			"  token: t0ken\n" ONE_PROJECT, &cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_STR_EQ(cfg->circleci.url, "http://127.0.0.1:8080/api/v2");
	cie_config_free(cfg);
}

static void test_config_invalid_window(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    windows: [last-8-days]\n",
			    "projects[0].windows[0]", "last-8-days");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    windows: [last-7-days, 7d]\n",
			    "projects[0].windows[1]", "\"7d\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  windows: [weekly]\n" ONE_PROJECT,
			    "defaults.windows[0]", "weekly");
}

static void test_config_invalid_slugs(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/only-org\n",
			    "projects[0].slug", "\"gh/only-org\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/a/b/c\n",
			    "projects[0].slug", "\"gh/a/b/c\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: xx/a/b\n",
			    "projects[0].slug", "\"xx/a/b\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: circleci/not-a-uuid/x\n",
			    "projects[0].slug", "\"circleci/not-a-uuid/x\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: \"\"\n",
			    "projects[0].slug", "\"\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "  - slug: gh/acme/bad repo\n",
			    "projects[1].slug", "\"gh/acme/bad repo\"");
}

static void test_config_unknown_key_top(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "colour: red\n" ONE_PROJECT, "colour", NULL);
}

static void test_config_unknown_key_nested(void)
{
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  tokne: x\n" ONE_PROJECT,
			    "tokne", "circleci");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    windoes: [last-7-days]\n",
			    "windoes", "projects");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  workflows:\n    includ: x\n"
			    ONE_PROJECT, "includ", "workflows");
}

static void test_config_missing_token(void)
{
	EXPECT_CONFIG_ERROR(ONE_PROJECT, "circleci.token", "missing");
	EXPECT_CONFIG_ERROR("circleci:\n  timeout: 10s\n" ONE_PROJECT,
			    "circleci.token", "missing");
	EXPECT_CONFIG_ERROR("circleci:\n  token: \"\"\n" ONE_PROJECT,
			    "circleci.token", "empty");
}

static void test_config_token_and_token_file(void)
{
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n"
			    "  token_file: /nonexistent/token\n" ONE_PROJECT,
			    "token_file", "circleci.token");
}

static void test_config_unset_variable(void)
{
	set_test_env();
	EXPECT_CONFIG_ERROR("circleci:\n  token: ${CIE_TEST_UNSET_VARIABLE}\n"
			    ONE_PROJECT,
			    "circleci.token", "CIE_TEST_UNSET_VARIABLE");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n"
			    "  - slug: gh/${CIE_TEST_UNSET_VARIABLE}/api\n",
			    "projects[0].slug", "CIE_TEST_UNSET_VARIABLE");
}

static void test_config_malformed_reference(void)
{
	set_test_env();
	EXPECT_CONFIG_ERROR("circleci:\n  token: abc${\n" ONE_PROJECT,
			    "circleci.token", "malformed");
	EXPECT_CONFIG_ERROR("circleci:\n  token: ${CIRCLECI_TOKEN\n" ONE_PROJECT,
			    "circleci.token", "malformed");
	EXPECT_CONFIG_ERROR("circleci:\n  token: x${}y\n" ONE_PROJECT,
			    "circleci.token", "malformed");
}

static void test_config_bad_duration(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  interval: 10x\n" ONE_PROJECT,
			    "defaults.interval", "\"10x\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  interval: 0s\n" ONE_PROJECT,
			    "defaults.interval", "\"0s\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  interval: \"\"\n" ONE_PROJECT,
			    "defaults.interval", "\"\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    interval: 15\n",
			    "projects[0].interval", "\"15\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  timeout: 5d\n" ONE_PROJECT,
			    "circleci.timeout", "\"5d\"");
}

static void test_config_bad_numbers(void)
{
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  max_concurrency: 0\n"
			    ONE_PROJECT, "circleci.max_concurrency", "\"0\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  rate_limit:\n"
			    "    requests_per_second: 0\n" ONE_PROJECT,
			    "circleci.rate_limit.requests_per_second", "\"0\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  rate_limit:\n"
			    "    requests_per_second: -2\n" ONE_PROJECT,
			    "circleci.rate_limit.requests_per_second", "\"-2\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  max_retries: -1\n"
			    ONE_PROJECT, "circleci.max_retries", "\"-1\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  max_concurrency: four\n"
			    ONE_PROJECT, "circleci.max_concurrency", "\"four\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  rate_limit:\n"
			    "    burst: many\n" ONE_PROJECT,
			    "circleci.rate_limit.burst", "\"many\"");
	EXPECT_CONFIG_ERROR("circleci:\n  token: t0ken\n  max_retries: 2.5\n"
			    ONE_PROJECT, "circleci.max_retries", "\"2.5\"");
}

static void test_config_fractional_rate(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	if (!CHECK(load("circleci:\n  token: t0ken\n  rate_limit:\n"
			"    requests_per_second: 0.2\n" ONE_PROJECT,
			&cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_DOUBLE_EQ(cfg->circleci.requests_per_second, 0.2);
	cie_config_free(cfg);
}

static void test_config_bad_booleans(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  jobs: maybe\n" ONE_PROJECT,
			    "defaults.jobs", "\"maybe\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    last_runs: 2\n",
			    "projects[0].last_runs", "\"2\"");
}

static void test_config_bad_regex(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "defaults:\n  workflows:\n"
			    "    include: \"(unclosed\"\n" ONE_PROJECT,
			    "defaults.workflows.include", "(unclosed");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    workflows:\n      exclude: \"[z-a]\"\n",
			    "projects[0].workflows.exclude", "[z-a]");
}

static void test_config_regex_too_complex(void)
{
	/* glibc's regcomp() unrolls repetitions: these would take gigabytes. */
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    workflows:\n      exclude: \"a++++++++++++++++\"\n",
			    "projects[0].workflows.exclude", "too complex");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "    workflows:\n      include: \"((a{99}){99}){99}\"\n",
			    "projects[0].workflows.include", "too complex");
}

static void test_config_regex_bounds_accepted(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	CHECK(load(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
		   "    workflows:\n      include: \"^(build|deploy)-[a-z]{2,8}x?$\"\n",
		   &cfg, &err) == CIE_OK,
	      "result: expected CIE_OK, got an error: %s", err.detail);
	cie_config_free(cfg);
}

static void test_config_branch_glob_kept(void)
{
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_poll_settings *s;

	if (!CHECK(load(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			"    branches: [\"release/*\", main, \"release/*\"]\n",
			&cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	/* The pattern is kept as written, to be matched against the project's branch list. */
	s = &cfg->projects[0].poll;
	if (CHECK_INT_EQ(s->branch_count, 2)) {
		CHECK_STR_EQ(s->branches[0], "release/*");
		CHECK_STR_EQ(s->branches[1], "main");
	}
	cie_config_free(cfg);
}

static void test_config_documented_example_loads(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	if (!CHECK(example_file != NULL,
		   "example file: expected its path as argv[1], got none"))
		return;
	set_test_env();
	cie_error_clear(&err);
	if (!CHECK(cie_config_load_file(example_file, &cfg, &err) == CIE_OK,
		   "%s: expected CIE_OK, got an error: %s", example_file, err.detail))
		return;
	CHECK_STR_EQ(cfg->circleci.token, "ccipat_test_0123456789");
	CHECK(cfg->project_count >= 1, "project_count: expected at least 1, got %zu",
	      cfg->project_count);
	cie_config_free(cfg);
}

static void test_config_duplicate_project(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			    "  - slug: gh/acme/web\n  - slug: gh/acme/api\n",
			    "projects[2].slug", "\"gh/acme/api\"");
}

static void test_config_no_projects(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY, "projects", NULL);
}

static void test_config_invalid_url(void)
{
	EXPECT_CONFIG_ERROR("circleci:\n  url: ftp://circleci.com/api/v2\n"
			    "  token: t0ken\n" ONE_PROJECT,
			    "circleci.url", "\"ftp://circleci.com/api/v2\"");
	EXPECT_CONFIG_ERROR("circleci:\n  url: circleci.com/api/v2\n"
			    "  token: t0ken\n" ONE_PROJECT,
			    "circleci.url", "\"circleci.com/api/v2\"");
	EXPECT_CONFIG_ERROR("circleci:\n  url: \"https://circleci.com/api/v2?x=1\"\n"
			    "  token: t0ken\n" ONE_PROJECT,
			    "circleci.url", "?x=1");
}

static void test_config_invalid_listen_address(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "server:\n  listen_address: \"9904\"\n"
			    ONE_PROJECT, "server.listen_address", "\"9904\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "server:\n  listen_address: \":99999\"\n"
			    ONE_PROJECT, "server.listen_address", "\":99999\"");
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "server:\n  listen_address: \"localhost:\"\n"
			    ONE_PROJECT, "server.listen_address", "\"localhost:\"");
}

static void test_config_invalid_metrics_path(void)
{
	EXPECT_CONFIG_ERROR(TOKEN_ONLY "server:\n  metrics_path: metrics\n"
			    ONE_PROJECT, "server.metrics_path", "\"metrics\"");
}

static void test_config_env_inside_scalar(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	set_test_env();
	if (!CHECK(load("circleci:\n  token: prefix-${CIE_TEST_MIDDLE}-suffix\n"
			"projects:\n  - slug: gh/${CIE_TEST_ORG}/api\n",
			&cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_STR_EQ(cfg->circleci.token, "prefix-mid-suffix");
	if (CHECK_INT_EQ(cfg->project_count, 1))
		CHECK_STR_EQ(cfg->projects[0].slug, "gh/acme/api");
	cie_config_free(cfg);
}

static void test_config_token_file_read(void)
{
	char path[] = "/tmp/cie-test-token-XXXXXX";
	char yaml[256];
	struct cie_config *cfg;
	struct cie_error err;
	int fd = mkstemp(path);

	if (!CHECK(fd >= 0, "mkstemp: expected a file descriptor, got %d", fd))
		return;
	CHECK(write(fd, "s3cret-token\n", 13) == 13,
	      "write: expected 13 bytes written");
	close(fd);
	chmod(path, 0600);
	snprintf(yaml, sizeof(yaml), "circleci:\n  token_file: %s\n" ONE_PROJECT,
		 path);
	if (CHECK(load(yaml, &cfg, &err) == CIE_OK,
		  "result: expected CIE_OK, got an error: %s", err.detail)) {
		CHECK_STR_EQ(cfg->circleci.token, "s3cret-token");
		CHECK_STR_EQ(cfg->circleci.token_file, path);
		cie_config_free(cfg);
	}
	unlink(path);
}

static void test_config_token_file_missing(void)
{
	EXPECT_CONFIG_ERROR("circleci:\n  token_file: /nonexistent/cie-token\n"
			    ONE_PROJECT,
			    "circleci.token_file", "\"/nonexistent/cie-token\"");
}

static void test_config_defaults_inherited(void)
{
	static const char yaml[] =
		TOKEN_ONLY
		"defaults:\n"
		"  interval: 5m\n"
		"  windows: [last-30-days]\n"
		"  branches: [main]\n"
		"  jobs: false\n"
		"  last_runs: false\n"
		"  workflows:\n"
		"    include: ^deploy\n"
		"projects:\n"
		"  - slug: gh/acme/api\n"
		"  - slug: bb/acme/billing\n"
		"    interval: 10s\n"
		"    windows: [last-24-hours]\n"
		"    branches: [\"*\"]\n"
		"    jobs: true\n"
		"    last_runs: yes\n"
		"    workflows:\n"
		"      exclude: nightly\n";
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_poll_settings *a, *b;

	if (!CHECK(load(yaml, &cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (!CHECK_INT_EQ(cfg->project_count, 2))
		goto out;

	a = &cfg->projects[0].poll;
	CHECK_DOUBLE_EQ(a->interval, 300);
	CHECK_INT_EQ(a->windows, 1u << CIE_WINDOW_30D);
	if (CHECK_INT_EQ(a->branch_count, 1))
		CHECK_STR_EQ(a->branches[0], "main");
	CHECK(!a->jobs, "projects[0].jobs: expected false, got true");
	CHECK(!a->last_runs, "projects[0].last_runs: expected false, got true");
	CHECK_STR_EQ(a->workflows.include, "^deploy");
	CHECK(a->workflows.exclude == NULL,
	      "projects[0].workflows.exclude: expected NULL, got \"%s\"",
	      a->workflows.exclude);

	b = &cfg->projects[1].poll;
	CHECK_DOUBLE_EQ(b->interval, 10);
	CHECK_INT_EQ(b->windows, 1u << CIE_WINDOW_24H);
	if (CHECK_INT_EQ(b->branch_count, 1))
		CHECK_STR_EQ(b->branches[0], "*");
	CHECK(b->jobs, "projects[1].jobs: expected true, got false");
	CHECK(b->last_runs, "projects[1].last_runs: expected true, got false");
	/* Only exclude is overridden, so include still comes from defaults. */
	CHECK_STR_EQ(b->workflows.include, "^deploy");
	CHECK_STR_EQ(b->workflows.exclude, "nightly");
	CHECK(cie_name_filter_match(&b->workflows, "deploy-prod"),
	      "filter: expected \"deploy-prod\" to pass, got rejected");
	CHECK(!cie_name_filter_match(&b->workflows, "deploy-nightly"),
	      "filter: expected \"deploy-nightly\" to be excluded, got passed");
out:
	cie_config_free(cfg);
}

static void test_config_workflow_filter_semantics(void)
{
	static const char yaml[] =
		TOKEN_ONLY
		"projects:\n"
		"  - slug: gh/acme/api\n"
		"    workflows:\n"
		"      include: test\n"
		"      exclude: \"\"\n"
		"  - slug: gh/acme/web\n"
		"    workflows:\n"
		"      exclude: \"^nightly$\"\n"
		"  - slug: gh/acme/cli\n";
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_name_filter *f;

	if (!CHECK(load(yaml, &cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	if (!CHECK_INT_EQ(cfg->project_count, 3))
		goto out;

	/* include is searched anywhere in the name, as grep -E does. */
	f = &cfg->projects[0].poll.workflows;
	CHECK(cie_name_filter_match(f, "unit-tests-linux"),
	      "include \"test\": expected \"unit-tests-linux\" to pass, got rejected");
	CHECK(cie_name_filter_match(f, "test"),
	      "include \"test\": expected \"test\" to pass, got rejected");
	CHECK(!cie_name_filter_match(f, "build"),
	      "include \"test\": expected \"build\" to be rejected, got passed");

	/* An exclude without include keeps everything else. */
	f = &cfg->projects[1].poll.workflows;
	CHECK(!cie_name_filter_match(f, "nightly"),
	      "exclude \"^nightly$\": expected \"nightly\" to be excluded, got passed");
	CHECK(cie_name_filter_match(f, "nightly-build"),
	      "exclude \"^nightly$\": expected \"nightly-build\" to pass, got rejected");

	/* No filter at all: every name passes, the empty one too. */
	f = &cfg->projects[2].poll.workflows;
	CHECK(cie_name_filter_match(f, "anything"),
	      "no filter: expected \"anything\" to pass, got rejected");
	CHECK(cie_name_filter_match(f, ""),
	      "no filter: expected \"\" to pass, got rejected");
out:
	cie_config_free(cfg);
}

static void test_config_empty_exclude_keeps_all(void)
{
	struct cie_name_filter f = { 0 };

	f.exclude = (char *)"";
	CHECK(cie_name_filter_match(&f, "build"),
	      "exclude \"\": expected \"build\" to pass, got excluded");
	CHECK(cie_name_filter_match(&f, ""),
	      "exclude \"\": expected \"\" to pass, got excluded");
}

static void test_config_windows_deduplicated(void)
{
	struct cie_config *cfg;
	struct cie_error err;

	if (!CHECK(load(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			"    windows: [last-7-days, last-24-hours, last-7-days]\n",
			&cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	CHECK_INT_EQ(cfg->projects[0].poll.windows,
		     (1u << CIE_WINDOW_24H) | (1u << CIE_WINDOW_7D));
	cie_config_free(cfg);
}

static void test_config_branches_deduplicated(void)
{
	struct cie_config *cfg;
	struct cie_error err;
	const struct cie_poll_settings *s;

	if (!CHECK(load(TOKEN_ONLY "projects:\n  - slug: gh/acme/api\n"
			"    branches: [main, develop, main, develop, \"*\"]\n",
			&cfg, &err) == CIE_OK,
		   "result: expected CIE_OK, got an error: %s", err.detail))
		return;
	s = &cfg->projects[0].poll;
	if (CHECK_INT_EQ(s->branch_count, 3)) {
		CHECK_STR_EQ(s->branches[0], "main");
		CHECK_STR_EQ(s->branches[1], "develop");
		CHECK_STR_EQ(s->branches[2], "*");
	}
	cie_config_free(cfg);
}

static void test_config_valid_slug_forms(void)
{
	static const char *const valid[] = {
		"gh/acme/api",
		"github/CircleCI-Public/api-preview-docs",
		"bb/acme/billing",
		"bitbucket/acme/billing.service_v2",
		SLUG_UUID,
	};
	static const char *const invalid[] = {
		"gh/only-org", "gh/a/b/c", "xx/a/b", "circleci/not-a-uuid/x", "",
		"gh//api", "gh/acme/", "/acme/api", "gh/acme/a b", "gh/../api",
		"gitlab/acme/api",
		"circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/4c7a1f93",
		"circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b1z/4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57",
	};
	const char *why;

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		why = NULL;
		CHECK(cie_config_valid_slug(valid[i], &why),
		      "slug \"%s\": expected valid, got invalid (%s)", valid[i],
		      why ? why : "no reason");
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		why = NULL;
		CHECK(!cie_config_valid_slug(invalid[i], &why),
		      "slug \"%s\": expected invalid, got valid", invalid[i]);
		if (CHECK(why != NULL, "slug \"%s\": expected a reason, got NULL",
			  invalid[i]))
			CHECK(*why != '\0', "slug \"%s\": expected a reason, got \"\"",
			      invalid[i]);
	}
}

static void test_config_split_address_forms(void)
{
	char host[64];
	unsigned port;

	if (CHECK(cie_config_split_address(":9904", host, sizeof(host), &port),
		  "\":9904\": expected valid, got invalid")) {
		CHECK_STR_EQ(host, "");
		CHECK_INT_EQ(port, 9904);
	}
	if (CHECK(cie_config_split_address("127.0.0.1:0", host, sizeof(host), &port),
		  "\"127.0.0.1:0\": expected valid, got invalid")) {
		CHECK_STR_EQ(host, "127.0.0.1");
		CHECK_INT_EQ(port, 0);
	}
	if (CHECK(cie_config_split_address("[::1]:9904", host, sizeof(host), &port),
		  "\"[::1]:9904\": expected valid, got invalid")) {
		CHECK_STR_EQ(host, "::1");
		CHECK_INT_EQ(port, 9904);
	}
	if (CHECK(cie_config_split_address("localhost:65535", host, sizeof(host), &port),
		  "\"localhost:65535\": expected valid, got invalid")) {
		CHECK_STR_EQ(host, "localhost");
		CHECK_INT_EQ(port, 65535);
	}
}

static void test_config_split_address_bad(void)
{
	static const char *const bad[] = {
		"", "9904", ":", "host:", ":abc", ":65536", ":-1", ":99x",
		"::1:9904", "[::1]9904", "[::1:9904", "host:80:81",
		"averyveryveryveryveryveryveryveryveryveryveryveryveryverylonghostname:80",
	};
	char host[64];
	unsigned port;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!cie_config_split_address(bad[i], host, sizeof(host), &port),
		      "\"%s\": expected invalid, got host \"%s\" port %u", bad[i],
		      host, port);
}

int main(int argc, char **argv)
{
	example_file = argc > 1 ? argv[1] : NULL;
	RUN(test_config_example_loads);
	RUN(test_config_defaults_filled);
	RUN(test_config_url_trailing_slash);
	RUN(test_config_invalid_window);
	RUN(test_config_invalid_slugs);
	RUN(test_config_unknown_key_top);
	RUN(test_config_unknown_key_nested);
	RUN(test_config_missing_token);
	RUN(test_config_token_and_token_file);
	RUN(test_config_unset_variable);
	RUN(test_config_malformed_reference);
	RUN(test_config_bad_duration);
	RUN(test_config_bad_numbers);
	RUN(test_config_fractional_rate);
	RUN(test_config_bad_booleans);
	RUN(test_config_bad_regex);
	RUN(test_config_regex_too_complex);
	RUN(test_config_regex_bounds_accepted);
	RUN(test_config_branch_glob_kept);
	RUN(test_config_documented_example_loads);
	RUN(test_config_duplicate_project);
	RUN(test_config_no_projects);
	RUN(test_config_invalid_url);
	RUN(test_config_invalid_listen_address);
	RUN(test_config_invalid_metrics_path);
	RUN(test_config_env_inside_scalar);
	RUN(test_config_token_file_read);
	RUN(test_config_token_file_missing);
	RUN(test_config_defaults_inherited);
	RUN(test_config_workflow_filter_semantics);
	RUN(test_config_empty_exclude_keeps_all);
	RUN(test_config_windows_deduplicated);
	RUN(test_config_branches_deduplicated);
	RUN(test_config_valid_slug_forms);
	RUN(test_config_split_address_forms);
	RUN(test_config_split_address_bad);
	return check_summary();
}
