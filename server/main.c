/*
 * main.c - pytest-live-pause-serve, exec'd by `pytest-live-pause serve`:
 * the options (one table drives getopt_long and --help), the token (256
 * bits from getrandom(2)), the listening address (loopback unless
 * --allow-remote with TLS), the daemon (a thread per connection, with caps
 * on connections, per-connection memory and idle time), the start line and
 * serve.json, and the clean stop on SIGINT/SIGTERM (handled by sigwait in
 * this thread; every other thread has them blocked).
 */
#include <microhttpd.h>

#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_JSON "serve.json"

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,  /* cannot listen, cannot write serve.json, ... */
	EXIT_USAGE = 2,  /* a bad option or combination */
	EXIT_UNSAFE = 11 /* the pause directory is unsafe (as the CLI) */
};

enum { OPT_ALLOW_REMOTE = 256, OPT_TLS_CERT, OPT_TLS_KEY, OPT_PAUSE_DIR };

typedef struct opt_doc {
	struct option opt;
	const char *arg, *help;
} opt_doc;

static const opt_doc options[] = {
	{{"host", required_argument, NULL, 'H'},
	 "HOST",
	 "address to listen on (default 127.0.0.1; ::1 and localhost are loopback too)"},
	{{"port", required_argument, NULL, 'p'}, "PORT", "port (default 8765; 0 picks a free one)"},
	{{"pause-dir", required_argument, NULL, OPT_PAUSE_DIR},
	 "DIR",
	 "the pause directory pytest uses (default $" LP_ENV_DIR " or " LP_DEFAULT_DIR ")"},
	{{"json", no_argument, NULL, 'j'},
	 NULL,
	 "print the start line as one JSON object (url, host, port, token, pid)"},
	{{"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
	 NULL,
	 "allow a --host that is not loopback (needs --tls-cert and --tls-key)"},
	{{"tls-cert", required_argument, NULL, OPT_TLS_CERT}, "FILE", "PEM certificate (HTTPS)"},
	{{"tls-key", required_argument, NULL, OPT_TLS_KEY}, "FILE", "PEM private key (HTTPS)"},
	{{"help", no_argument, NULL, 'h'}, NULL, "print this help and exit"},
	{{"version", no_argument, NULL, 'V'}, NULL, "print the version and exit"},
};
#define NOPTS (sizeof options / sizeof *options)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--host HOST] [--port PORT] [--pause-dir DIR] [--json]\n"
		"       [--allow-remote --tls-cert FILE --tls-key FILE]\n\n"
		"Serve the dashboard and the JSON API of the pauses in a pause directory:\n"
		"see the paused tests of every run, answer them from a browser or over HTTP.\n"
		"Prints one line, '%s: http://HOST:PORT/?token=TOKEN': open it in a\n"
		"browser; API clients send 'Authorization: Bearer TOKEN'. The same is\n"
		"written to serve.json (mode 0600) in the pause directory while it runs.\n"
		"SIGINT or SIGTERM stops it.\n\n"
		"The page and the API answer a pause as the CLI does (the same checks,\n"
		"the same exclusive claim, recorded with by \"http\"):\n"
		"  GET  /api/pauses[?all=1]  /api/pauses/ID  /api/pauses/ID/attachments/SHA256\n"
		"  POST /api/pauses/ID/resume  {\"failure_reason\"} | {\"result\", \"reason\"}\n"
		"                              | {\"value\", \"reason\"} (a choice, an answer)\n"
		"  POST /api/pauses/ID/abort   {\"reason\"} (stops the run)\n"
		"  GET  /api/runs (with each live run's progress)  /api/events (SSE)  /openapi.json\n"
		"Remote mode (--allow-remote) serves HTTPS only: whoever has the token can\n"
		"answer every pause of the directory.\n\nOptions:\n",
		SRV_PROG, SRV_PROG);
	for (size_t k = 0; k < NOPTS; k++) {
		char left[64];
		const opt_doc *o = &options[k];
		if (o->opt.val < 256)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->opt.val, o->opt.name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->opt.name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "\nExit codes: 0 stopped by SIGINT/SIGTERM, 1 error (e.g. the port is taken),\n"
		   "2 bad option, 11 unsafe pause directory.\n"
		   "The API, the security model and remote mode: docs/server.md.\n");
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: error: ", SRV_PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

typedef struct args {
	const char *host, *pause_dir, *cert, *key;
	unsigned port;
	int json, allow_remote;
} args;

static int parse(int argc, char **argv, args *a)
{
	struct option long_opts[NOPTS + 1];
	for (size_t k = 0; k < NOPTS; k++)
		long_opts[k] = options[k].opt;
	memset(&long_opts[NOPTS], 0, sizeof long_opts[NOPTS]);
	*a = (args){.host = "127.0.0.1", .port = 8765};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:p:jhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'H': a->host = optarg; break;
		case 'p': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '\0' || optarg[0] == '-' || v > 65535)
				return fail(EXIT_USAGE, "--port must be 0..65535, not '%s'",
					    optarg);
			a->port = (unsigned)v;
			break;
		}
		case OPT_PAUSE_DIR:
			if (optarg[0] == '\0')
				return fail(EXIT_USAGE, "--pause-dir is empty");
			a->pause_dir = optarg;
			break;
		case 'j': a->json = 1; break;
		case OPT_ALLOW_REMOTE: a->allow_remote = 1; break;
		case OPT_TLS_CERT: a->cert = optarg; break;
		case OPT_TLS_KEY: a->key = optarg; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("%s %s\n", SRV_PROG, LP_VERSION); return -1;
		case ':':
			return fail(EXIT_USAGE, "option %s needs a value (see --help)",
				    argv[optind - 1]);
		default:
			return fail(EXIT_USAGE, "unknown option '%s' (see --help)",
				    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if ((a->cert == NULL) != (a->key == NULL))
		return fail(EXIT_USAGE, "--tls-cert and --tls-key go together");
	return 0;
}

/* The address to bind: an IP literal, or "localhost". */
static int resolve(const char *host, struct sockaddr_storage *ss, int *v6, int *loopback)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *lit = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
	if (inet_pton(AF_INET, lit, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		*v6 = 0;
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, lit, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*v6 = 1;
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		return 0;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return fail(EXIT_USAGE, "--host '%s' is not an address this machine can listen on",
			    host);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*v6 = res->ai_family == AF_INET6;
	*loopback = *v6 ? IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)
			: (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	freeaddrinfo(res);
	return 0;
}

static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		fail(EXIT_ERROR, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 20;
	char *p = malloc(cap + 1);
	size_t n = p ? fread(p, 1, cap, f) : 0;
	int big = p && n == cap;
	fclose(f);
	if (p == NULL || big || n == 0) {
		free(p);
		fail(EXIT_ERROR, "%s is empty or over 1 MiB: give a PEM file", path);
		return NULL;
	}
	p[n] = '\0';
	return p;
}

static srv server;

int srv_stopping(void *s)
{
	return __atomic_load_n(&((srv *)s)->stopping, __ATOMIC_ACQUIRE);
}

/* libmicrohttpd's messages: silent until the daemon runs (a failed start
 * gets one error line of ours), then one warning line each. */
static int daemon_started;

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (!__atomic_load_n(&daemon_started, __ATOMIC_ACQUIRE))
		return;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "%s: warning: libmicrohttpd: %s\n", SRV_PROG, msg);
}

static void mhd_panic(void *cls, const char *file, unsigned line, const char *reason)
{
	(void)cls;
	fprintf(stderr, "%s: error: libmicrohttpd failed at %s:%u: %s\n", SRV_PROG,
		file ? file : "?", line, reason ? reason : "");
	abort();
}

int main(int argc, char **argv)
{
	args a;
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	struct sockaddr_storage ss;
	int v6 = 0, loopback = 0;
	if ((rc = resolve(a.host, &ss, &v6, &loopback)))
		return rc;
	if (!loopback && !a.allow_remote)
		return fail(
			EXIT_USAGE,
			"--host %s is not a loopback address: anyone who can reach it could answer your pauses; add --allow-remote with --tls-cert and --tls-key to serve it anyway",
			a.host);
	if (!loopback && a.cert == NULL)
		return fail(
			EXIT_USAGE,
			"--allow-remote needs --tls-cert and --tls-key: the token must not cross the network in clear text");
	if (!loopback)
		fprintf(stderr,
			"%s: warning: serving on %s, which is not loopback: whoever has the token can answer every pause in %s\n",
			SRV_PROG, a.host, lp_store_default_path(a.pause_dir));

	/* a thread per connection: without a cap glibc gives each its own
	 * malloc arena, and 50 event streams hold 50 arenas' free memory */
	mallopt(M_ARENA_MAX, 2);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread */

	srv *s = &server;
	rc = lp_store_open(&s->store, lp_store_default_path(a.pause_dir), LP_STORE_CREATE);
	if (rc)
		return fail(rc == LP_EUNSAFE ? EXIT_UNSAFE : EXIT_ERROR, "%s", lp_error_message());
	if (lp_store_warm(s->store) != LP_OK) {
		/* the first resume's command file: without one it creates its own */
	}
	if ((rc = lp_feed_open(&s->feed, s->store))) {
		fail(EXIT_ERROR, "%s", lp_error_message());
		lp_store_free(s->store);
		return EXIT_ERROR;
	}
	unsigned char raw[SRV_TOKEN_BYTES];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return fail(EXIT_ERROR, "getrandom failed: %s", strerror(errno));
	for (size_t k = 0; k < sizeof raw; k++)
		snprintf(s->token + 2 * k, 3, "%02x", raw[k]);
	int wake[2];
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return fail(EXIT_ERROR, "cannot make a pipe: %s", strerror(errno));
	s->wake_fd = wake[0];
	s->stop_hooks = (lp_wait_hooks)LP_WAIT_HOOKS_INIT;
	s->stop_hooks.check = srv_stopping;
	s->stop_hooks.ud = s;
	s->stop_hooks.slice_ms = 100;
	s->tls = a.cert != NULL;

	char *cert = NULL, *key = NULL;
	if (s->tls && ((cert = read_pem(a.cert)) == NULL || (key = read_pem(a.key)) == NULL))
		return EXIT_ERROR;
	/* with MHD_OPTION_SOCK_ADDR the port is the address's, not the argument's */
	if (v6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)a.port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)a.port);
	if (srv_ready_open(s) || srv_fanout_start(s))
		return fail(EXIT_ERROR, "cannot start the event stream's thread: out of memory");
	MHD_set_panic_func(mhd_panic, NULL);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (s->tls ? MHD_USE_TLS : 0);
	struct MHD_OptionItem tls_opts[] = {
		{s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, key},
		{MHD_OPTION_END, 0, NULL},
	};
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, (uint16_t)a.port, NULL, NULL, srv_http_handler, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)30, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, srv_http_completed, s, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (d == NULL) {
		__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
		if (write(wake[1], "x", 1) == 1)
			srv_fanout_stop(s); /* else exit() ends its thread */
		/* the port is the likely cause; bind() again to name it */
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int e = fd >= 0 && bind(fd, (struct sockaddr *)&ss,
					v6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in)) < 0
				? errno
				: 0;
		if (fd >= 0)
			close(fd);
		return fail(EXIT_ERROR, "cannot listen on %s port %u%s%s%s", a.host, a.port,
			    e ? ": " : "", e ? strerror(e) : "",
			    e == EADDRINUSE ? " (choose another with --port, or --port 0)" : "");
	}
	__atomic_store_n(&daemon_started, 1, __ATOMIC_RELEASE);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : a.port;

	char hostpart[280];
	snprintf(hostpart, sizeof hostpart, v6 && strchr(a.host, ':') ? "[%s]" : "%s", a.host);
	const char *scheme = s->tls ? "https" : "http";
	snprintf(s->origin, sizeof s->origin, "%s://%s:%u", scheme, hostpart, port);
	const char *names[] = {hostpart, "127.0.0.1", "localhost", "[::1]"};
	size_t nhosts = 0;
	for (size_t k = 0; k < 4; k++) {
		if (k > 0 && !loopback)
			break; /* remote: only the name it was started with */
		if (k > 0 && strcasecmp(names[k], hostpart) == 0)
			continue;
		snprintf(s->hosts[nhosts++], sizeof s->hosts[0], "%s:%u", names[k], port);
	}
	/* the daemon runs already (the port of --port 0 is known only now):
	 * the names are published to its threads by this store (http.c reads
	 * nhosts first); a request before it is refused as of another host */
	__atomic_store_n(&s->nhosts, nhosts, __ATOMIC_RELEASE);
	char url[1024];
	int n = snprintf(url, sizeof url, "%s/?token=%s", s->origin, s->token);
	if (n < 0 || (size_t)n >= sizeof url)
		return fail(EXIT_USAGE, "--host is too long");
	json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:i}", "url", url, "host", a.host, "port",
				(int)port, "token", s->token, "pid", (int)getpid());
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	int exit_code = EXIT_OK;
	if (text == NULL || (rc = lp_store_publish(s->store, SERVE_JSON, text, strlen(text)))) {
		exit_code = fail(EXIT_ERROR, "cannot write %s: %s", SERVE_JSON,
				 text ? lp_error_message() : "out of memory");
	} else {
		if (a.json)
			printf("%s\n", text);
		else
			printf("%s: %s\n", SRV_PROG, url);
		fflush(stdout);
		int sig;
		while (sigwait(&sigs, &sig) != 0)
			;
		lp_store_unlink(s->store, SERVE_JSON);
	}
	free(text);
	__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
	if (write(wake[1], "x", 1) < 0) {
		/* the event streams still see `stopping` within a slice */
	}
	MHD_stop_daemon(d);
	srv_api_drain();
	srv_fanout_stop(s);
	srv_ready_close(s);
	lp_feed_free(s->feed);
	lp_store_free(s->store);
	free(cert);
	free(key);
	close(wake[0]);
	close(wake[1]);
	return exit_code;
}
