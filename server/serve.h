/*
 * serve.h - declarations shared by the files of pytest-live-pause-serve,
 * the HTTP server and dashboard (server/). The server is a client of
 * livepause.h only: everything that reads, decides or writes a pause is
 * the runtime's; this program maps HTTP onto it.
 *
 *   main.c   options, the token, start and clean stop, serve.json
 *   http.c   the libmicrohttpd handler: checks every request (Host,
 *            duplicate headers, method, token, Content-Type, Origin, body
 *            cap) before it reaches a route, and the response headers
 *   route.c  which route a method and path name, and the request bodies
 *            (no libmicrohttpd: fuzzed by fuzz/fuzz_http_route.c)
 *   api.c    the JSON API and the event stream, on the runtime (one
 *            reader of the change feed makes each event's frame once for
 *            every client)
 *   ready.c  the pending pauses made ready to resume (lp_pause_prepare)
 *            by that reader, taken by a resume or an abort
 *   assets   the page (index.html, app.js, app.css) and openapi.json,
 *            compiled in (server_assets.c, generated in the build
 *            directory by server/embed.cmake)
 */
#ifndef LP_SERVE_H
#define LP_SERVE_H

#include <stddef.h>

#include "livepause.h"

#define SRV_PROG "pytest-live-pause serve"
#define SRV_BODY_CAP (64 * 1024) /* largest request body, bytes */
#define SRV_TOKEN_BYTES 32       /* 256 bits from getrandom(2) */
#define SRV_KEEPALIVE_S 10.0     /* event stream comment at least this often */

/* ------------------------------------------------------------ main.c */

struct MHD_Connection;
typedef struct srv_fanout srv_fanout;
typedef struct srv_ready srv_ready;

/* The server's state, made by main.c before the daemon starts and
 * read-only after (but `stopping`, set once by the signal thread, and the
 * Host names, published once the daemon's port is known: `nhosts`). */
typedef struct srv {
	lp_store *store; /* shared by every connection's thread */
	lp_feed *feed;   /* shared too: the change feed */
	char token[2 * SRV_TOKEN_BYTES + 1];
	char origin[300];   /* "http://HOST:PORT" (https with TLS) */
	char hosts[4][300]; /* Host header values accepted */
	size_t nhosts;      /* set last, after the daemon started (atomic) */
	int tls;
	int stopping;             /* atomic: set when SIGINT/SIGTERM came */
	int wake_fd;              /* readable once stopping (O_NONBLOCK) */
	lp_wait_hooks stop_hooks; /* check() = srv_stopping: waits end on a stop */
	srv_fanout *fan;          /* the event stream's frames (api.c) */
	srv_ready *ready;         /* the pauses made ready to resume (ready.c) */
} srv;

/* Whether the server is stopping (a wait hook: non-zero stops a wait). */
int srv_stopping(void *s);

/* ------------------------------------------------------------ http.c */

#ifdef MHD_VERSION /* files that include <microhttpd.h> first */
/* The libmicrohttpd access handler and request-completed callback. */
enum MHD_Result srv_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls);
void srv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			enum MHD_RequestTerminationCode toe);
/* Queue r (destroyed here) with the security headers of every response. */
int srv_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);
#endif
/* Queue a response with the headers every response has (CSP, nosniff,
 * no-referrer, frame denial, no-store). body is copied. */
int srv_respond(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
		size_t len);
/* {"error": {"code": code, "message": ...}} with `extra_json` (NULL or the
 * text of more members, e.g. "\"state\":\"resumed\"") inside "error". */
int srv_respond_error(struct MHD_Connection *conn, unsigned status, const char *code,
		      const char *extra_json, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------------- api.c */

int srv_api_pauses(srv *s, struct MHD_Connection *conn, int all);
int srv_api_pause(srv *s, struct MHD_Connection *conn, const char *pause_id);
int srv_api_resume(srv *s, struct MHD_Connection *conn, const char *pause_id, const char *body,
		   size_t len);
int srv_api_abort(srv *s, struct MHD_Connection *conn, const char *pause_id, const char *body,
		  size_t len);
int srv_api_attachment(srv *s, struct MHD_Connection *conn, const char *pause_id,
		       const char *sha256);
int srv_api_runs(srv *s, struct MHD_Connection *conn);
int srv_api_events(srv *s, struct MHD_Connection *conn);
/* The event stream's reader thread (one for every client): started once
 * the feed is open, before the daemon; stopped after the daemon, once
 * `stopping` is set and wake_fd written. 0, or -1 (out of memory, no
 * thread). */
int srv_fanout_start(srv *s);
void srv_fanout_stop(srv *s);
/* Wait (at most 10 s) for the streamed listings' threads to end: after
 * the daemon stopped, before the store is freed. */
void srv_api_drain(void);

/* ----------------------------------------------------------- ready.c */

/* Made before the event stream's reader starts (0, or -1: out of
 * memory), closed after it stopped (every pause kept is released). */
int srv_ready_open(srv *s);
void srv_ready_close(srv *s);
/* The reader, on pause_created: prepare the pause and keep it (nothing
 * when the table is full or it cannot be read: a resume then reads it). */
void srv_ready_add(srv *s, const char *pause_id);
/* On run_ended: release every pause of run_id kept (on pause_ended, the
 * reader takes the pause and frees it). */
void srv_ready_drop_run(srv *s, const char *run_id);
/* A resume or an abort: the pause made ready, taken out (the caller's
 * now: it gives it back with srv_ready_put or frees it), or NULL. */
lp_prepared *srv_ready_take(srv *s, const char *pause_id);
/* Give back a pause taken that is still pending (a refused request
 * wrote nothing); freed when there is no room. */
void srv_ready_put(srv *s, lp_prepared *p);

/* ----------------------------------------------------------- route.c */

typedef enum srv_route_id {
	SRV_R_PAGE = 0,   /* GET /            the dashboard (and the login) */
	SRV_R_APP_JS,     /* GET /app.js */
	SRV_R_APP_CSS,    /* GET /app.css */
	SRV_R_OPENAPI,    /* GET /openapi.json */
	SRV_R_PAUSES,     /* GET /api/pauses */
	SRV_R_PAUSE,      /* GET /api/pauses/{pause_id} */
	SRV_R_RESUME,     /* POST /api/pauses/{pause_id}/resume */
	SRV_R_ABORT,      /* POST /api/pauses/{pause_id}/abort */
	SRV_R_ATTACHMENT, /* GET /api/pauses/{pause_id}/attachments/{sha256} */
	SRV_R_RUNS,       /* GET /api/runs */
	SRV_R_EVENTS,     /* GET /api/events */
} srv_route_id;

typedef struct srv_route {
	srv_route_id id;
	int post;                       /* the route takes POST (else GET) */
	char pause_id[LP_ID_MAX + 1];   /* routes with {pause_id} */
	char sha256[LP_SHA256_HEX + 1]; /* SRV_R_ATTACHMENT: 64 lowercase hex */
	int bad_sha;                    /* ... and it was not */
} srv_route;

/* What srv_route_match() says. */
enum {
	SRV_ROUTE_OK = 0,
	SRV_ROUTE_NOTFOUND = 1, /* 404: no such path */
	SRV_ROUTE_METHOD = 2,   /* 405: the path exists, not with this method */
	SRV_ROUTE_BADID = 3,    /* 400: {pause_id} is not a valid id */
	SRV_ROUTE_BADSHA = 4,   /* 400: {sha256} is not 64 lowercase hex digits */
};
/* Match a method and a path (without the query) to a route. */
int srv_route_match(const char *method, const char *path, srv_route *out);

/* A POST body, parsed strictly (jansson: an object, no duplicate keys,
 * UTF-8, known fields of the right types only). Strings are owned. */
typedef struct srv_body {
	int has_failure_reason;
	char *failure_reason;
	int has_result;
	lp_result result;
	char *reason;
	char *value;
} srv_body;
/* For resume: failure_reason (string), result (true|false|null), reason
 * (string|null), value (string); which of them fit the pause is the
 * runtime's check. For abort (abort != 0): reason (string|null) only. 0,
 * or -1 with a message for the user in err (size errsize). */
int srv_body_parse(const char *data, size_t len, int abort, srv_body *out, char *err,
		   size_t errsize);
void srv_body_clear(srv_body *b);

/* ----------------------------------------------------------- assets.c */
typedef struct srv_asset {
	const char *name; /* "index.html", "app.js", ... */
	const unsigned char *data;
	size_t len;
} srv_asset;
/* The compiled-in file of that name, or NULL. */
const srv_asset *srv_asset_get(const char *name);

#endif
