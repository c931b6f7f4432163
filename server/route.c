/*
 * route.c - the routes of the server (which method and path name which
 * route, with its pause id and attachment hash) and the request bodies of
 * the two POST routes, parsed with jansson: each known field of the JSON
 * type it must have. Whether the fields fit the pause (its kind, its
 * choices, which fields go together) is the runtime's to say
 * (lp_pause_resume), as for the CLI. Nothing here touches the network or
 * libmicrohttpd, so fuzz/fuzz_http_route.c drives it directly.
 */
#include "serve.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixed_route {
	const char *path;
	srv_route_id id;
} fixed_route;

static const fixed_route fixed[] = {
	{"/", SRV_R_PAGE},
	{"/app.js", SRV_R_APP_JS},
	{"/app.css", SRV_R_APP_CSS},
	{"/openapi.json", SRV_R_OPENAPI},
	{"/api/pauses", SRV_R_PAUSES},
	{"/api/runs", SRV_R_RUNS},
	{"/api/events", SRV_R_EVENTS},
};

static int method_fits(const char *method, int post)
{
	return strcmp(method, post ? "POST" : "GET") == 0;
}

int srv_route_match(const char *method, const char *path, srv_route *out)
{
	memset(out, 0, sizeof *out);
	if (method == NULL || path == NULL)
		return SRV_ROUTE_NOTFOUND;
	for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) {
		if (strcmp(path, fixed[k].path) == 0) {
			out->id = fixed[k].id;
			return method_fits(method, 0) ? SRV_ROUTE_OK : SRV_ROUTE_METHOD;
		}
	}
	static const char prefix[] = "/api/pauses/";
	size_t np = sizeof prefix - 1;
	if (strncmp(path, prefix, np) != 0)
		return SRV_ROUTE_NOTFOUND;
	const char *id = path + np, *slash = strchr(id, '/');
	size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
	if (slash == NULL) {
		out->id = SRV_R_PAUSE;
	} else if (strcmp(slash, "/resume") == 0) {
		out->id = SRV_R_RESUME;
		out->post = 1;
	} else if (strcmp(slash, "/abort") == 0) {
		out->id = SRV_R_ABORT;
		out->post = 1;
	} else if (strncmp(slash, "/attachments/", 13) == 0 && slash[13] != '\0' &&
		   strchr(slash + 13, '/') == NULL) {
		out->id = SRV_R_ATTACHMENT;
		const char *sha = slash + 13;
		size_t n = strlen(sha);
		if (n != LP_SHA256_HEX || strspn(sha, "0123456789abcdef") != n)
			out->bad_sha = 1;
		else
			memcpy(out->sha256, sha, n + 1);
	} else {
		return SRV_ROUTE_NOTFOUND;
	}
	if (idlen == 0)
		return SRV_ROUTE_NOTFOUND;
	if (!method_fits(method, out->post))
		return SRV_ROUTE_METHOD;
	if (idlen > LP_ID_MAX)
		return SRV_ROUTE_BADID;
	memcpy(out->pause_id, id, idlen);
	out->pause_id[idlen] = '\0';
	if (lp_id_validate(out->pause_id, "pause id") != LP_OK)
		return SRV_ROUTE_BADID;
	return out->bad_sha ? SRV_ROUTE_BADSHA : SRV_ROUTE_OK;
}

void srv_body_clear(srv_body *b)
{
	if (b == NULL)
		return;
	free(b->failure_reason);
	free(b->reason);
	free(b->value);
	memset(b, 0, sizeof *b);
	b->result = LP_RESULT_NONE;
}

/* A string member (or null when nullable) copied into *dst. */
static int take_string(json_t *v, const char *key, int nullable, char **dst, char *err,
		       size_t errsize)
{
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errsize, "\"%s\" must be a string%s", key,
			 nullable ? " or null" : "");
		return -1;
	}
	*dst = strdup(json_string_value(v));
	if (*dst == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	return 0;
}

int srv_body_parse(const char *data, size_t len, int abort, srv_body *out, char *err,
		   size_t errsize)
{
	memset(out, 0, sizeof *out);
	out->result = LP_RESULT_NONE;
	json_error_t je;
	json_t *doc = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		snprintf(err, errsize, "the body is not valid JSON: %s (line %d, column %d)",
			 je.text, je.line, je.column);
		return -1;
	}
	int rc = 0;
	if (!json_is_object(doc)) {
		snprintf(err, errsize, "the body must be a JSON object");
		rc = -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v)
	{
		if (rc)
			break;
		if (!abort && strcmp(key, "failure_reason") == 0) {
			out->has_failure_reason = 1;
			rc = take_string(v, key, 0, &out->failure_reason, err, errsize);
		} else if (!abort && strcmp(key, "result") == 0) {
			out->has_result = 1;
			if (json_is_true(v))
				out->result = LP_RESULT_TRUE;
			else if (json_is_false(v))
				out->result = LP_RESULT_FALSE;
			else if (json_is_null(v))
				out->result = LP_RESULT_NONE;
			else {
				snprintf(err, errsize, "\"result\" must be true, false or null");
				rc = -1;
			}
		} else if (!abort && strcmp(key, "value") == 0) {
			rc = take_string(v, key, 0, &out->value, err, errsize);
		} else if (strcmp(key, "reason") == 0) {
			rc = take_string(v, key, 1, &out->reason, err, errsize);
		} else {
			snprintf(
				err, errsize,
				abort ? "unknown field \"%.64s\": an abort takes only \"reason\""
				      : "unknown field \"%.64s\": a resume takes \"failure_reason\" (failures), \"result\" and \"reason\" (checkpoints), or \"value\" and \"reason\" (choices, questions)",
				key);
			rc = -1;
		}
	}
	json_decref(doc);
	if (rc)
		srv_body_clear(out);
	return rc;
}
