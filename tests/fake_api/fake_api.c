/* SPDX-License-Identifier: MIT */
/*
 * fake-circleci-api: a fake CircleCI API v2 for the exporter's tests and
 * demo. Serves recorded answers from a fixture directory on 127.0.0.1,
 * with paging, a token check, its own rate limit and injectable faults.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ratelimit.h"
#include "reqlog.h"
#include "routes.h"
#include "server.h"
#include "state.h"

struct opts {
	const char *listen;
	const char *fixtures;
	const char *token;
	const char *log;
	const char *port_file;
	const char *page_size;
	const char *rate;
	const char *burst;
};

static const char usage[] =
	"usage: fake-circleci-api --listen=127.0.0.1:PORT --fixtures=DIR [--token=TOKEN]\n"
	"                         [--page-size=N] [--rate=R --burst=B] [--log=FILE]\n"
	"                         [--port-file=FILE]\n";

static int set_opt(struct opts *o, const char *arg)
{
	static const char *const names[] = {
		"--listen=", "--fixtures=", "--token=", "--log=", "--port-file=",
		"--page-size=", "--rate=", "--burst=",
	};
	const char **slots[] = {
		&o->listen, &o->fixtures, &o->token, &o->log, &o->port_file,
		&o->page_size, &o->rate, &o->burst,
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(arg, names[i], strlen(names[i])) == 0) {
			*slots[i] = arg + strlen(names[i]);
			return 0;
		}
	}
	fprintf(stderr, "fake-circleci-api: unknown argument \"%s\"\n%s", arg, usage);
	return -1;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -1;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	*out = strtod(s, &end);
	return *end || !isfinite(*out) || *out <= 0 ? -1 : 0;
}

static int bad(const char *what, const char *value)
{
	fprintf(stderr, "fake-circleci-api: invalid %s \"%s\"\n", what, value ? value : "");
	return -1;
}

/* Validate the options; fills port, page size, rate and burst. */
static int check_opts(const struct opts *o, unsigned short *port, size_t *page_size,
		      double *rate, double *burst)
{
	static const char host[] = "127.0.0.1:";
	unsigned long v = 0;

	if (!o->listen || strncmp(o->listen, host, strlen(host)) != 0 ||
	    parse_ulong(o->listen + strlen(host), 65535, &v) < 0)
		return bad("--listen (only 127.0.0.1:PORT is allowed)", o->listen);
	*port = (unsigned short)v;
	if (!o->fixtures || !*o->fixtures)
		return bad("--fixtures", o->fixtures);
	if (o->page_size && parse_ulong(o->page_size, 1000000, &v) < 0)
		return bad("--page-size", o->page_size);
	*page_size = o->page_size ? (size_t)v : 0;
	if ((o->burst && !o->rate) || (o->rate && parse_double(o->rate, rate) < 0))
		return bad("--rate (needed with --burst, > 0)", o->rate);
	if (o->burst && (parse_double(o->burst, burst) < 0 || *burst < 1))
		return bad("--burst (>= 1)", o->burst);
	if (o->rate && !o->burst)
		*burst = *rate < 1 ? 1 : *rate;
	if (o->token && !*o->token)
		return bad("--token", o->token);
	return 0;
}

static int open_listener(unsigned short port, unsigned short *bound)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		fprintf(stderr, "fake-circleci-api: cannot listen on 127.0.0.1:%u: %s\n",
			port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* Write the port to a temporary name, then rename it into place. */
static int write_port_file(const char *path, unsigned short port)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	FILE *f;
	int rc = -1;

	if (!tmp)
		return -1;
	snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (f && fprintf(f, "%u\n", port) > 0 && fclose(f) == 0) {
		f = NULL;
		rc = rename(tmp, path);
	}
	if (f)
		fclose(f);
	if (rc < 0) {
		fprintf(stderr, "fake-circleci-api: %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* libmicrohttpd's messages, minus those that drop and truncate faults cause. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "pplication reported"))
		return;
	fprintf(stderr, "fake-circleci-api: libmicrohttpd: %s%s", msg,
		msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

static struct MHD_Daemon *start_daemon(int fd)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	return MHD_start_daemon(flags, 0, NULL, NULL, server_handler, NULL,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_URI_LOG_CALLBACK, server_uri_cb, NULL,
				MHD_OPTION_NOTIFY_COMPLETED, server_done_cb, NULL,
				MHD_OPTION_UNESCAPE_CALLBACK, server_unescape_cb, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
				MHD_OPTION_END);
}

/* Load the first fixture directory and the logs. 0, or -1 with a message. */
static int load_state(const struct opts *o, size_t page_size, double rate, double burst)
{
	char err[1024];

	g_state.token = o->token;
	g_state.page_size = page_size;
	g_state.routes = routes_load(o->fixtures, page_size, err, sizeof(err));
	if (!g_state.routes) {
		fprintf(stderr, "fake-circleci-api: %s\n", err);
		return -1;
	}
	if (reqlog_open(o->log) < 0) {
		fprintf(stderr, "fake-circleci-api: %s: %s\n", o->log ? o->log : "log",
			strerror(errno));
		return -1;
	}
	rl_init(o->rate ? rate : 0, burst);
	return server_init();
}

/* Block SIGTERM and SIGINT here, before any thread exists, so that every
 * thread inherits the mask and only sigwait() in the main thread sees them. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Serve until SIGTERM or SIGINT. */
static int serve(const struct opts *o, unsigned short port)
{
	struct MHD_Daemon *d;
	sigset_t set;
	int fd, sig = 0;

	block_signals(&set);
	fd = open_listener(port, &port);
	if (fd < 0)
		return 1;
	d = start_daemon(fd);
	if (!d) {
		fprintf(stderr, "fake-circleci-api: cannot start the HTTP server\n");
		close(fd);
		return 1;
	}
	if (o->port_file && write_port_file(o->port_file, port) < 0) {
		MHD_stop_daemon(d);
		return 1;
	}
	printf("listening on 127.0.0.1:%u\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	server_stop_sleepers();
	MHD_stop_daemon(d);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	unsigned short port = 0;
	size_t page_size = 0;
	double rate = 0, burst = 1;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (set_opt(&o, argv[i]) < 0)
			return 2;
	}
	if (check_opts(&o, &port, &page_size, &rate, &burst) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (load_state(&o, page_size, rate, burst) < 0)
		return 1;
	rc = serve(&o, port);
	routes_free(g_state.routes);
	faults_free(g_state.faults);
	reqlog_close();
	return rc;
}
