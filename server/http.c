/*
 * http.c - the gate of every request. In this order, before any route
 * runs: exactly one Host header naming this server (else 403, the defence
 * against DNS rebinding), no duplicate Content-Length or Transfer-Encoding
 * (400), a known route (404) and a method it takes (405 with Allow;
 * OPTIONS too: no CORS), the token (Bearer header, or the cookie the page
 * got from /?token=; else 401), and for POST a JSON Content-Type (415), an Origin
 * equal to ours when one is sent and always when the cookie is used (403),
 * and a body within SRV_BODY_CAP (413). Bodies are gathered here and
 * parsed by route.c; libmicrohttpd's form post-processor is never used.
 * Every response carries the same security headers (srv_respond()).
 */
#include <microhttpd.h>

#include "serve.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COOKIE_NAME "lp_token"

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
			  "form-action 'none'; frame-ancestors 'none'";

static void secure_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

int srv_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
	if (r == NULL)
		return MHD_NO;
	secure_headers(r);
	enum MHD_Result ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

int srv_respond(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
		size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	return srv_queue(conn, status, r);
}

/* The body of an error: {"error": {"code", "message", ...extra}}. */
static char *error_text(const char *code, const char *extra_json, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static char *error_text(const char *code, const char *extra_json, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* jansson escapes the message (it may quote what a client sent) */
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && extra_json) {
		char wrapped[4096];
		snprintf(wrapped, sizeof wrapped, "{%s}", extra_json);
		json_t *more = json_loads(wrapped, 0, NULL);
		if (more)
			json_object_update(err, more);
		json_decref(more);
	}
	json_t *doc = err ? json_pack("{s:o}", "error", err) : NULL;
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return text;
}

int srv_respond_error(struct MHD_Connection *conn, unsigned status, const char *code,
		      const char *extra_json, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = error_text(code, extra_json, fmt, ap);
	va_end(ap);
	if (text == NULL)
		return MHD_NO;
	int ok = srv_respond(conn, status, "application/json", text, strlen(text));
	free(text);
	return ok;
}

/* 405 with the Allow header naming the method the route takes. */
static int respond_405(struct MHD_Connection *conn, const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int respond_405(struct MHD_Connection *conn, const char *allow, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = error_text("method_not_allowed", NULL, fmt, ap);
	va_end(ap);
	struct MHD_Response *r =
		text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
		     : NULL;
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Allow", allow);
	return srv_queue(conn, 405, r);
}

/* ---------------------------------------------------------------- gate */

typedef struct header_count {
	int host, content_length, transfer_encoding;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	(void)value;
	header_count *c = cls;
	if (strcasecmp(key, "Host") == 0)
		c->host++;
	else if (strcasecmp(key, "Content-Length") == 0)
		c->content_length++;
	else if (strcasecmp(key, "Transfer-Encoding") == 0)
		c->transfer_encoding++;
	return MHD_YES;
}

static int host_allowed(const srv *s, const char *host)
{
	size_t n = __atomic_load_n(&s->nhosts, __ATOMIC_ACQUIRE); /* main.c publishes them */
	for (size_t k = 0; host && k < n; k++)
		if (strcasecmp(host, s->hosts[k]) == 0)
			return 1;
	return 0;
}

/* Compare without leaking the position of the first difference. */
static int token_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	size_t na = strlen(a), nb = strlen(b);
	unsigned char diff = na != nb;
	for (size_t k = 0; k < nb; k++)
		diff |= (unsigned char)(k < na ? a[k] : 0) ^ (unsigned char)b[k];
	return diff == 0;
}

/* 0: not authenticated; 1: by the Bearer header; 2: by the cookie. */
static int authenticated(const srv *s, struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, s->token))
		return 1;
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_NAME);
	if (token_equal(cookie, s->token))
		return 2;
	return 0;
}

static int json_content_type(const char *ct)
{
	if (ct == NULL)
		return 0;
	static const char want[] = "application/json";
	size_t n = sizeof want - 1;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	const char *rest = ct + n;
	while (*rest == ' ')
		rest++;
	return *rest == '\0' || *rest == ';';
}

/* GET /?token=T: set the cookie and send the browser to / without the
 * token in its address bar (or history, or a Referer). */
static int login(const srv *s, struct MHD_Connection *conn, const char *token)
{
	if (!token_equal(token, s->token))
		return srv_respond_error(
			conn, 401, "unauthorized", NULL,
			"the token in this address is not this server's: open the address that 'pytest-live-pause serve' printed when it started");
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	char cookie[200];
	snprintf(cookie, sizeof cookie, COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict%s",
		 s->token, s->tls ? "; Secure" : "");
	MHD_add_response_header(r, "Set-Cookie", cookie);
	MHD_add_response_header(r, "Location", "/");
	return srv_queue(conn, 303, r);
}

static int asset(struct MHD_Connection *conn, const char *name, const char *type)
{
	const srv_asset *a = srv_asset_get(name);
	if (a == NULL)
		return srv_respond_error(conn, 500, "internal", NULL,
					 "%s is missing from this build", name);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	return srv_queue(conn, 200, r);
}

/* What a request gathers across the handler's calls. */
typedef struct request {
	srv_route route;
	char *body;
	size_t len;
	int too_big;
} request;

static int dispatch(srv *s, struct MHD_Connection *conn, request *req)
{
	switch (req->route.id) {
	case SRV_R_PAGE: return asset(conn, "index.html", "text/html; charset=utf-8");
	case SRV_R_APP_JS: return asset(conn, "app.js", "text/javascript; charset=utf-8");
	case SRV_R_APP_CSS: return asset(conn, "app.css", "text/css; charset=utf-8");
	case SRV_R_OPENAPI: return asset(conn, "openapi.json", "application/json");
	case SRV_R_PAUSES: {
		const char *all = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "all");
		if (all && strcmp(all, "1") != 0 && strcmp(all, "0") != 0)
			return srv_respond_error(conn, 400, "bad_request", NULL,
						 "all must be 1 (every state) or 0 (pending only)");
		return srv_api_pauses(s, conn, all && strcmp(all, "1") == 0);
	}
	case SRV_R_PAUSE: return srv_api_pause(s, conn, req->route.pause_id);
	case SRV_R_RESUME: return srv_api_resume(s, conn, req->route.pause_id, req->body, req->len);
	case SRV_R_ABORT: return srv_api_abort(s, conn, req->route.pause_id, req->body, req->len);
	case SRV_R_ATTACHMENT:
		return srv_api_attachment(s, conn, req->route.pause_id, req->route.sha256);
	case SRV_R_RUNS: return srv_api_runs(s, conn);
	case SRV_R_EVENTS: return srv_api_events(s, conn);
	}
	return srv_respond_error(conn, 404, "not_found", NULL, "no such route");
}

/* The first call of a request: every check before the body. Returns
 * MHD_YES with *done = 0 to go on, or the result of a queued refusal. */
static int gate(srv *s, struct MHD_Connection *conn, const char *url, const char *method,
		srv_route *route, int *done)
{
	*done = 1;
	header_count hc = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hc);
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	if (hc.host != 1 || !host_allowed(s, host))
		return srv_respond_error(conn, 403, "bad_host", NULL,
					 hc.host > 1 ? "more than one Host header"
						     : "the Host header must name this server (%s)",
					 __atomic_load_n(&s->nhosts, __ATOMIC_ACQUIRE)
						 ? s->hosts[0]
						 : "which is starting");
	if (hc.content_length > 1 || hc.transfer_encoding > 1)
		return srv_respond_error(conn, 400, "bad_request", NULL,
					 "duplicate Content-Length or Transfer-Encoding header");
	int m = srv_route_match(method, url, route);
	if (m == SRV_ROUTE_NOTFOUND)
		return srv_respond_error(conn, 404, "not_found", NULL,
					 "no such route: see /openapi.json for the API");
	if (m == SRV_ROUTE_METHOD) /* OPTIONS too: no CORS preflight */
		return respond_405(conn, route->post ? "POST" : "GET",
				   "method %.16s is not allowed on this route (%s is; no CORS)",
				   method, route->post ? "POST" : "GET");
	/* the login: the page's only route that takes the token in its URL */
	const char *token =
		route->id == SRV_R_PAGE
			? MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token")
			: NULL;
	if (token)
		return login(s, conn, token);
	int auth = authenticated(s, conn);
	if (!auth) {
		if (route->id == SRV_R_PAGE) {
			static const char page[] =
				"pytest-live-pause serve: open the address it printed when it started (it ends with ?token=...).\n";
			return srv_respond(conn, 401, "text/plain; charset=utf-8", page,
					   sizeof page - 1);
		}
		return srv_respond_error(
			conn, 401, "unauthorized", NULL,
			"send 'Authorization: Bearer TOKEN' with the token that 'pytest-live-pause serve' printed (also in serve.json in the pause directory)");
	}
	if (m == SRV_ROUTE_BADID)
		return srv_respond_error(conn, 400, "LP_EINVAL", NULL,
					 "a pause id is 1..%d characters of [A-Za-z0-9._-]",
					 LP_ID_MAX);
	if (m == SRV_ROUTE_BADSHA)
		return srv_respond_error(
			conn, 400, "LP_EINVAL", NULL,
			"an attachment is named by its sha256: %d lowercase hex digits",
			LP_SHA256_HEX);
	if (route->post) {
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		if (!json_content_type(ct))
			return srv_respond_error(conn, 415, "unsupported_media_type", NULL,
						 "a POST must have Content-Type: application/json");
		/* the origin of the page this server serves at the Host asked */
		char ours[sizeof s->hosts[0] + 16];
		snprintf(ours, sizeof ours, "%s://%s", s->tls ? "https" : "http", host);
		const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
		if ((origin || auth == 2) && (origin == NULL || strcasecmp(origin, ours) != 0))
			return srv_respond_error(
				conn, 403, "bad_origin", NULL,
				"a change from a browser must come from this server's page (Origin %s)",
				ours);
		const char *cl =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > SRV_BODY_CAP)
			return srv_respond_error(conn, 413, "payload_too_large", NULL,
						 "the body is over %d bytes", SRV_BODY_CAP);
	}
	*done = 0;
	return MHD_YES;
}

enum MHD_Result srv_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	(void)version;
	srv *s = cls;
	request *req = *con_cls;
	if (req == NULL) {
		srv_route route;
		int done;
		int ok = gate(s, conn, url, method, &route, &done);
		if (done)
			return ok ? MHD_YES : MHD_NO;
		if ((req = calloc(1, sizeof *req)) == NULL)
			return MHD_NO;
		req->route = route;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (!req->route.post)
			return MHD_YES; /* a GET's body is read and dropped */
		if (req->too_big || req->len + n > SRV_BODY_CAP) {
			req->too_big = 1; /* read and dropped; refused at the end */
			return MHD_YES;
		}
		char *nb = realloc(req->body, req->len + n + 1);
		if (nb == NULL)
			return MHD_NO;
		memcpy(nb + req->len, upload_data, n);
		req->body = nb;
		req->len += n;
		req->body[req->len] = '\0';
		return MHD_YES;
	}
	if (req->too_big)
		return srv_respond_error(conn, 413, "payload_too_large", NULL,
					 "the body is over %d bytes", SRV_BODY_CAP)
			       ? MHD_YES
			       : MHD_NO;
	return dispatch(s, conn, req) ? MHD_YES : MHD_NO;
}

void srv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			enum MHD_RequestTerminationCode toe)
{
	srv *s = cls;
	(void)conn;
	(void)toe;
	request *req = *con_cls;
	/* the next command's file made now, its response sent: off the path
	 * of the next resume (lp_store_warm); a failure only costs that
	 * resume the creation */
	if (req && (req->route.id == SRV_R_RESUME || req->route.id == SRV_R_ABORT) &&
	    lp_store_warm(s->store) != LP_OK) {
		/* nothing kept: the next resume creates its file, as the CLI does */
	}
	if (req) {
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}
