/* SPDX-License-Identifier: MIT */
/*
 * circleci-insights-exporter: command line, signals and the main loop.
 * The main thread runs the scheduler; libmicrohttpd's threads serve.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "scheduler.h"
#include "snapshot.h"
#include "stats.h"

#ifndef CIE_VERSION
#define CIE_VERSION "0.0.0"
#endif
#ifndef CIE_REVISION
#define CIE_REVISION "unknown"
#endif

#define EXIT_USAGE 2

struct options {
	const char *config_file;
	const char *listen_address;   /* NULL: from the config */
	const char *metrics_path;     /* NULL: from the config */
	enum cie_log_level level;
	enum cie_log_format format;
	bool once;
	bool check_config;
};

static void print_help(FILE *out)
{
	fputs("Usage: circleci-insights-exporter [FLAGS]\n"
	      "\n"
	      "Polls the CircleCI API v2 Insights endpoints and serves the values as\n"
	      "Prometheus metrics.\n"
	      "\n"
	      "  --config.file=PATH          config file (default circleci-insights-exporter.yml)\n"
	      "  --web.listen-address=ADDR   address to serve on, HOST:PORT or :PORT;\n"
	      "                              overrides server.listen_address (default :9904)\n"
	      "  --web.telemetry-path=PATH   path of the metrics; overrides\n"
	      "                              server.metrics_path (default /metrics)\n"
	      "  --log.level=LEVEL           debug, info, warn or error (default info)\n"
	      "  --log.format=FORMAT         logfmt or json (default logfmt)\n"
	      "  --once                      refresh every project once, print the metrics\n"
	      "                              without process_* to stdout and exit: 0 when\n"
	      "                              every project refreshed, 1 otherwise\n"
	      "  --check-config              validate the config, print what would be\n"
	      "                              polled and exit: 0 when valid, 2 otherwise\n"
	      "  --version                   print the version and exit\n"
	      "  --help                      print this help and exit\n"
	      "\n"
	      "Signals: SIGHUP reloads the config; SIGTERM and SIGINT stop.\n"
	      "Exit codes: 0 success, 1 runtime failure, 2 invalid usage or config.\n",
	      out);
}

/* Match "--name=value" or "--name value"; advances *i over a separate value. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int usage_error(const char *message, const char *value)
{
	fprintf(stderr, "circleci-insights-exporter: %s \"%s\"; see --help\n",
		message, value);
	return EXIT_USAGE;
}

/* Parse argv into opt; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	const char *v;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			print_help(stdout);
			return 0;
		} else if (strcmp(arg, "--version") == 0) {
			printf("circleci-insights-exporter %s (revision %s, %s)\n",
			       CIE_VERSION, CIE_REVISION, curl_version());
			return 0;
		} else if (strcmp(arg, "--once") == 0) {
			opt->once = true;
		} else if (strcmp(arg, "--check-config") == 0) {
			opt->check_config = true;
		} else if ((v = flag_value(argc, argv, &i, "--config.file"))) {
			opt->config_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--web.listen-address"))) {
			opt->listen_address = v;
		} else if ((v = flag_value(argc, argv, &i, "--web.telemetry-path"))) {
			opt->metrics_path = v;
		} else if ((v = flag_value(argc, argv, &i, "--log.level"))) {
			if (!cie_log_parse_level(v, &opt->level))
				return usage_error("invalid --log.level (use debug, info, warn or error):", v);
		} else if ((v = flag_value(argc, argv, &i, "--log.format"))) {
			if (!cie_log_parse_format(v, &opt->format))
				return usage_error("invalid --log.format (use logfmt or json):", v);
		} else {
			return usage_error("unknown flag or missing value:", arg);
		}
	}
	return -1;
}

/* Replace a config string with a flag's value. */
static bool override(char **field, const char *value)
{
	char *copy;

	if (!value)
		return true;
	copy = strdup(value);
	if (!copy)
		return false;
	free(*field);
	*field = copy;
	return true;
}

/* Load the config and apply the flags that override its keys. */
static struct cie_config *load_config(const struct options *opt,
				      struct cie_error *err)
{
	struct cie_config *cfg = NULL;
	char host[256];
	unsigned port;

	if (cie_config_load_file(opt->config_file, &cfg, err) != CIE_OK)
		return NULL;
	if (opt->listen_address &&
	    !cie_config_split_address(opt->listen_address, host, sizeof(host), &port)) {
		cie_error_set(err, CIE_ERR_CONFIG,
			      "--web.listen-address: invalid address \"%s\"; use HOST:PORT or :PORT",
			      opt->listen_address);
		cie_config_free(cfg);
		return NULL;
	}
	if (opt->metrics_path && (opt->metrics_path[0] != '/' ||
				  strcmp(opt->metrics_path, "/") == 0)) {
		cie_error_set(err, CIE_ERR_CONFIG,
			      "--web.telemetry-path: invalid path \"%s\"; use a path such as /metrics",
			      opt->metrics_path);
		cie_config_free(cfg);
		return NULL;
	}
	if (!override(&cfg->server.listen_address, opt->listen_address) ||
	    !override(&cfg->server.metrics_path, opt->metrics_path)) {
		cie_error_set(err, CIE_ERR_NOMEM, "config");
		cie_config_free(cfg);
		return NULL;
	}
	return cfg;
}

static bool ready(void *ctx)
{
	return cie_scheduler_ready(ctx);
}

/* Block the signals the main loop reads through a signalfd. */
static int setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*
 * The server settings as one string, to tell whether a reload changed
 * them: the server keeps those it started with. NULL when out of memory.
 */
static char *server_settings(const struct cie_config *cfg)
{
	const char *none = "(none)";
	char *text = NULL;

	if (asprintf(&text, "%s|%s|%u|%u|%g|%zu|%s|%s|%s|%s",
		     cfg->server.listen_address, cfg->server.metrics_path,
		     cfg->server.max_connections, cfg->server.max_connections_per_ip,
		     cfg->server.idle_timeout, cfg->server.max_request_bytes,
		     cfg->server.tls_cert_file ? cfg->server.tls_cert_file : none,
		     cfg->server.tls_key_file ? cfg->server.tls_key_file : none,
		     cfg->server.basic_auth_username ? cfg->server.basic_auth_username : none,
		     cfg->server.basic_auth_hash ? cfg->server.basic_auth_hash : none) < 0)
		return NULL;
	return text;
}

/* Reload on SIGHUP; the server keeps the settings it started with. */
static void reload(struct cie_scheduler *s, const struct options *opt,
		   const char *running_settings)
{
	struct cie_error err = { 0 };
	struct cie_config *cfg = load_config(opt, &err);
	char *settings;

	if (!cfg) {
		cie_log(CIE_LOG_ERROR, "config reload failed; keeping the running config",
			"file", opt->config_file, "err", err.detail, NULL);
		return;
	}
	settings = server_settings(cfg);
	if (!settings || strcmp(settings, running_settings) != 0)
		cie_log(CIE_LOG_WARN,
			"server settings changed (server.*, --web.listen-address or --web.telemetry-path); they take effect after a restart",
			NULL);
	free(settings);
	cie_log_set_secret(cfg->circleci.token);
	if (!cie_scheduler_reload(s, cfg, &err)) {
		cie_log(CIE_LOG_ERROR, "config reload failed; keeping the running config",
			"err", err.detail, NULL);
		return;
	}
	cie_log(CIE_LOG_INFO, "config reloaded", "file", opt->config_file, NULL);
}

/* Seconds as the whole number libmicrohttpd takes, rounded up. */
static unsigned whole_seconds(double seconds)
{
	unsigned whole = (unsigned)seconds;

	return (double)whole < seconds ? whole + 1 : whole;
}

static struct cie_http *start_http(const struct cie_config *cfg,
				   struct cie_scheduler *s,
				   struct cie_error *err)
{
	struct cie_http_options http_opt = {
		.listen_address = cfg->server.listen_address,
		.metrics_path = cfg->server.metrics_path,
		.ready = ready,
		.ready_ctx = s,
		.max_connections = cfg->server.max_connections,
		.max_connections_per_ip = cfg->server.max_connections_per_ip,
		.idle_timeout = whole_seconds(cfg->server.idle_timeout),
		.max_request_bytes = cfg->server.max_request_bytes,
		.tls_cert_file = cfg->server.tls_cert_file,
		.tls_key_file = cfg->server.tls_key_file,
		.basic_auth_username = cfg->server.basic_auth_username,
		.basic_auth_hash = cfg->server.basic_auth_hash,
	};

	return cie_http_start(&http_opt, err);
}

/* Run until SIGTERM or SIGINT; returns the exit code. */
static int serve(struct cie_scheduler *s, struct cie_config *cfg,
		 const struct options *opt, int signal_fd)
{
	struct cie_error err = { 0 };
	struct signalfd_siginfo info;
	struct cie_http *http = start_http(cfg, s, &err);
	char port[16];
	/* The scheduler owns cfg and frees it on reload: keep a copy. */
	char *settings = server_settings(cfg);

	if (!http || !settings) {
		free(settings);
		cie_http_stop(http);
		cie_log(CIE_LOG_ERROR, "cannot start the HTTP server", "address",
			cfg->server.listen_address, "err", err.detail, NULL);
		return EXIT_FAILURE;
	}
	snprintf(port, sizeof(port), "%u", cie_http_port(http));
	cie_log(CIE_LOG_INFO, "listening", "address", cfg->server.listen_address,
		"port", port, "metrics_path", cfg->server.metrics_path, "tls",
		cfg->server.tls_cert_file ? "on" : "off", "basic_auth",
		cfg->server.basic_auth_hash ? "on" : "off", NULL);

	for (;;) {
		cie_scheduler_step(s, 1.0, signal_fd);
		while (read(signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
			if (info.ssi_signo == SIGHUP) {
				reload(s, opt, settings);
				continue;
			}
			cie_log(CIE_LOG_INFO, "stopping", "signal",
				strsignal((int)info.ssi_signo), NULL);
			cie_http_stop(http);
			free(settings);
			return EXIT_SUCCESS;
		}
	}
}

static int run_once(struct cie_scheduler *s)
{
	while (!cie_scheduler_ready(s))
		cie_scheduler_step(s, 1.0, -1);
	if (!cie_serve_write_once(stdout)) {
		cie_log(CIE_LOG_ERROR, "cannot write the metrics to stdout", NULL);
		return EXIT_FAILURE;
	}
	return cie_scheduler_all_up(s) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Whether this is an AddressSanitizer build (gcc or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

/*
 * Keep the API token out of core dumps and away from debuggers of the
 * same user. The config, the log redaction, the API client and libcurl's
 * header lists each copy the token, so marking single pages with
 * MADV_DONTDUMP would miss copies. Instead the whole process is made
 * non-dumpable and its core size limit set to 0. Non-dumpable means no
 * core file, no ptrace attach without CAP_SYS_PTRACE, and /proc/PID files
 * owned by root.
 */
static void protect_secrets(void)
{
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);
#ifndef ASAN_BUILD
	/* LeakSanitizer stops the process with ptrace, which this would block. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		cie_log(CIE_LOG_WARN, "cannot disable core dumps",
			"err", strerror(errno), NULL);
#endif
}

int main(int argc, char **argv)
{
	struct options opt = {
		.config_file = "circleci-insights-exporter.yml",
		.level = CIE_LOG_INFO,
		.format = CIE_LOG_LOGFMT,
	};
	struct cie_error err = { 0 };
	struct cie_config *cfg;
	struct cie_scheduler *s;
	int code = parse_args(argc, argv, &opt), signal_fd;

	if (code >= 0)
		return code;
	cie_log_setup(opt.level, opt.format);
	protect_secrets();
	cfg = load_config(&opt, &err);
	if (!cfg) {
		fprintf(stderr, "circleci-insights-exporter: %s\n", err.detail);
		return err.result == CIE_ERR_NOMEM ? EXIT_FAILURE : EXIT_USAGE;
	}
	cie_log_set_secret(cfg->circleci.token);
	if (opt.check_config) {
		/* Check the TLS files as a start would, so that OK means it starts. */
		if (cfg->server.tls_cert_file &&
		    !cie_http_check_tls(cfg->server.tls_cert_file,
					cfg->server.tls_key_file, &err)) {
			fprintf(stderr, "circleci-insights-exporter: %s\n", err.detail);
			cie_config_free(cfg);
			return EXIT_USAGE;
		}
		cie_config_describe(cfg, stdout);
		printf("config OK\n");
		cie_config_free(cfg);
		return EXIT_SUCCESS;
	}

	signal_fd = setup_signals();
	if (signal_fd < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "circleci-insights-exporter: cannot set up signals or libcurl\n");
		return EXIT_FAILURE;
	}
	cie_stats_init(CIE_VERSION, CIE_REVISION);
	cie_log(CIE_LOG_INFO, "starting", "version", CIE_VERSION, "config",
		opt.config_file, NULL);
	s = cie_scheduler_new(cfg, CIE_VERSION, &err);
	if (!s) {
		cie_log(CIE_LOG_ERROR, "cannot start", "err", err.detail, NULL);
		return EXIT_FAILURE;
	}
	code = opt.once ? run_once(s) : serve(s, cfg, &opt, signal_fd);
	cie_scheduler_free(s);
	cie_serve_shutdown();
	curl_global_cleanup();
	close(signal_fd);
	return code;
}
