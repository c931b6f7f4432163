/*
 * request.c - requests to a paused process and their answers, end to end
 * (docs/protocol.md, "Requests", is the normative text):
 *   - what a pause offers: the "requests" object of its pause file
 *     ({"eval": bool, "actions": [names]}, lp_run_set_requests);
 *   - the request file commands/<pause_id>.request.json (the slot: one
 *     request at a time per pause, created exclusively and atomically)
 *     and the answer commands/<pause_id>.answer.<request_id>.json: their
 *     schema, built and parsed here only;
 *   - serving a request in the paused process's wait (lpi_request_serve,
 *     called by lp_pause_wait on the waiting thread): take it, refuse what
 *     the pause does not offer, hand the rest to the wait's on_request
 *     hook, publish the answer, log a "request" event (never the value);
 *   - sending one and waiting for its answer (lp_request_send, the CLI's).
 * Requests and answers live only while their writer and reader do: they
 * are published without fsync (LP_PUBLISH_VOLATILE).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_PROTOCOL 1
#define RID_HEX 32      /* request ids we make: 32 hex digits */
#define ACTIONS_MAX 256 /* actions a pause may offer */
#define ARG_VALUE_MAX (16 * 1024)
#define FILES_MAX 64 /* files of an action's answer */
#define FILE_PATH_MAX 4096
#define EVENT_CODE_CAP 4096 /* code as logged in events.jsonl */
#define FAST_POLL_MS 30     /* answers this quick are polled, not watched */

const char *lp_request_type_name(lp_request_type t)
{
	switch (t) {
	case LP_REQUEST_EXEC: return "exec";
	case LP_REQUEST_ACTION: return "action";
	default: return "eval";
	}
}

static int type_parse(const char *s, lp_request_type *out)
{
	static const lp_request_type all[] = {LP_REQUEST_EVAL, LP_REQUEST_EXEC, LP_REQUEST_ACTION};
	for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(s, lp_request_type_name(all[i])) == 0) {
			*out = all[i];
			return LP_OK;
		}
	return LP_EBADCMD;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void lp_answer_clear(lp_answer *a)
{
	if (a == NULL)
		return;
	free(a->repr);
	free(a->out_text);
	free(a->err_text);
	free(a->error);
	free(a->data_json);
	for (size_t i = 0; i < a->nfiles; i++)
		free(a->files[i]);
	free(a->files);
	free(a->json);
	memset(a, 0, sizeof *a);
}

void lpi_request_parsed_clear(lpi_request_parsed *r)
{
	if (r == NULL)
		return;
	free(r->request_id);
	free(r->code);
	free(r->action);
	free(r->by);
	for (size_t i = 0; i < r->req.nargs; i++) {
		free(r->keys[i]);
		free(r->values[i]);
	}
	free(r->keys);
	free(r->values);
	memset(r, 0, sizeof *r);
}

/* A Python identifier of ASCII letters, digits and '_', 1..64 bytes: an
 * action's keyword argument. */
static int identifier_ok(const char *s, size_t n)
{
	if (n == 0 || n > LP_ID_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* A request id: 1..64 bytes of [A-Za-z0-9_-] (no '.': it is part of a
 * file name). */
static int rid_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > LP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void slot_name(char *buf, size_t size, const char *pause_id)
{
	snprintf(buf, size, "%s.request.json", pause_id);
}

static void answer_name(char *buf, size_t size, const char *pause_id, const char *rid)
{
	snprintf(buf, size, "%s.answer.%s.json", pause_id, rid);
}

/* ------------------------------------------------------- what is offered */

int lp_run_set_requests(lp_run *run, int allow_eval, const char *const *actions)
{
	if (run == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_set_requests: run is required");
	lp_json *o = lpj_object(), *list = lpj_array();
	int rc = o && list ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	size_t n = 0;
	for (; !rc && actions && actions[n]; n++) {
		if (n == ACTIONS_MAX)
			rc = lpi_fail(LP_EINVAL, "more than %d named actions", ACTIONS_MAX);
		else if (!(rc = lp_id_validate(actions[n], "action name")))
			rc = lpj_array_append_str(list, actions[n]);
	}
	if (!rc && !(rc = lpj_set_bool(o, "eval", allow_eval != 0))) {
		rc = lpj_set_json(o, "actions", list);
		list = NULL;
	}
	lpj_free(list);
	if (rc) {
		lpj_free(o);
		return rc;
	}
	lpj_free(run->requests);
	run->requests = o;
	return LP_OK;
}

static int offers_eval(const lp_json *offer)
{
	return offer && lpj_typeof(lpj_get(offer, "eval")) == LPJ_BOOL &&
	       lpj_is_true(lpj_get(offer, "eval"));
}

static int offers_action(const lp_json *offer, const char *name)
{
	const lp_json *list = offer ? lpj_get(offer, "actions") : NULL;
	for (size_t i = 0; list && i < lpj_size(list); i++) {
		const char *s = lpj_string_value(lpj_array_get(list, i));
		if (s && strcmp(s, name) == 0)
			return 1;
	}
	return 0;
}

/* "a, b, c" of the actions offered, or "none" (malloc'd). */
static char *offered_names(const lp_json *offer)
{
	const lp_json *list = offer ? lpj_get(offer, "actions") : NULL;
	size_t n = list ? lpj_size(list) : 0, len = 8;
	for (size_t i = 0; i < n; i++) {
		const char *s = lpj_string_value(lpj_array_get(list, i));
		len += (s ? strlen(s) : 0) + 2;
	}
	char *out = malloc(len);
	if (out == NULL)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *s = lpj_string_value(lpj_array_get(list, i));
		if (s == NULL)
			continue;
		if (out[0])
			strcat(out, ", ");
		strcat(out, s);
	}
	if (!out[0])
		strcpy(out, "none");
	return out;
}

int lp_pause_offers(int *allow_eval, char **actions, const lp_pause_info *info)
{
	*allow_eval = 0;
	*actions = NULL;
	if (info == NULL || info->json == NULL)
		return lpi_fail(LP_EINVAL,
				"lp_pause_offers: a pause loaded with its JSON is required");
	lp_json *j;
	int rc = lpj_parse_object(info->json, strlen(info->json), "pause file", &j);
	if (rc)
		return rc;
	const lp_json *offer = lpj_get(j, "requests");
	if (offer == NULL || lpj_typeof(offer) != LPJ_OBJECT) {
		lpj_free(j);
		return lpi_fail(LP_ENOTFOUND, "pause %s records no requests", info->pause_id);
	}
	*allow_eval = offers_eval(offer);
	*actions = offered_names(offer);
	if (*actions && strcmp(*actions, "none") == 0)
		(*actions)[0] = '\0';
	lpj_free(j);
	return *actions ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
}

/* ---------------------------------------------------------- request file */

struct req_walk {
	lpi_request_parsed *r;
	const char *label;
};

static int arg_member(const char *key, const lp_json *v, void *ud)
{
	struct req_walk *w = ud;
	lpi_request_parsed *r = w->r;
	const char *s = lpj_string_value(v);
	if (!identifier_ok(key, strlen(key)))
		return lpi_fail(LP_EBADCMD, "%s: argument name '%.64s' is not an identifier",
				w->label, key);
	if (s == NULL || strlen(s) > ARG_VALUE_MAX)
		return lpi_fail(LP_EBADCMD,
				"%s: argument '%s' must be a string of at most %d bytes", w->label,
				key, ARG_VALUE_MAX);
	size_t i = r->req.nargs;
	r->keys[i] = lpi_strdup(key);
	r->values[i] = lpi_strdup(s);
	r->req.nargs++; /* counted now: cleared with the rest on failure */
	if (!r->keys[i] || !r->values[i])
		return lpi_fail(LP_ERROR, "out of memory");
	return LP_OK;
}

int lpi_request_parse(const char *text, size_t len, const char *label, lpi_request_parsed *r,
		      char **id_out)
{
	memset(r, 0, sizeof *r);
	if (id_out)
		*id_out = NULL;
	if (len > LP_CAP_REQUEST)
		return lpi_fail(LP_EBADCMD, "%s is %zu bytes, over the limit of %d bytes", label,
				len, LP_CAP_REQUEST);
	lp_json *j;
	int rc = lpj_parse_object(text, len, label, &j);
	if (rc)
		return rc == LP_ERROR ? rc : LP_EBADCMD;
	const char *rid = lpj_get_str(j, "request_id");
	const char *type = lpj_get_str(j, "type");
	const char *by = lpj_get_str(j, "by");
	lp_json *timeout = lpj_get(j, "timeout"), *args = lpj_get(j, "args");
	if (!rid_ok(rid)) {
		rc = lpi_fail(LP_EBADCMD,
			      "%s: request_id must be 1 to 64 characters of [A-Za-z0-9_-]", label);
		goto done;
	}
	if (id_out && (*id_out = lpi_strdup(rid)) == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	r->request_id = lpi_strdup(rid);
	r->by = lpi_strdup(by && by[0] && strlen(by) <= 64 ? by : "file");
	r->pid = lpj_is_integer(lpj_get(j, "pid")) ? (long)lpj_get_int(j, "pid", 0) : 0;
	if (!r->request_id || !r->by) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	if (type_parse(type, &r->req.type)) {
		rc = lpi_fail(LP_EBADCMD, "%s: type must be eval, exec or action, not '%.40s'",
			      label, type ? type : "(missing)");
		goto done;
	}
	r->req.timeout = LP_REQUEST_TIMEOUT_DEFAULT;
	if (timeout && lpj_typeof(timeout) != LPJ_NULL) {
		double t = lpj_get_real(j, "timeout", -1);
		if (lpj_typeof(timeout) != LPJ_NUMBER || !(t > 0) || t > LP_REQUEST_TIMEOUT_MAX) {
			rc = lpi_fail(LP_EBADCMD,
				      "%s: timeout must be a number of seconds above 0, at most %g",
				      label, LP_REQUEST_TIMEOUT_MAX);
			goto done;
		}
		r->req.timeout = t;
	}
	if (r->req.type != LP_REQUEST_ACTION) {
		const char *code = lpj_get_str(j, "code");
		if (code == NULL || code[0] == '\0' || strlen(code) > LP_REQUEST_CODE_MAX) {
			rc = lpi_fail(LP_EBADCMD,
				      "%s: code must be a non-empty string of at most %d bytes",
				      label, LP_REQUEST_CODE_MAX);
			goto done;
		}
		if ((r->code = lpi_strdup(code)) == NULL)
			rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	const char *action = lpj_get_str(j, "action");
	if (action == NULL || lp_id_validate(action, "action name") != LP_OK) {
		rc = lpi_fail(LP_EBADCMD,
			      "%s: action must be a name of 1 to %d characters of [A-Za-z0-9._-]",
			      label, LP_ID_MAX);
		goto done;
	}
	if ((r->action = lpi_strdup(action)) == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	if (args && lpj_typeof(args) != LPJ_NULL) {
		if (lpj_typeof(args) != LPJ_OBJECT || lpj_size(args) > LP_REQUEST_ARGS_MAX) {
			rc = lpi_fail(LP_EBADCMD,
				      "%s: args must be an object of at most %d string values",
				      label, LP_REQUEST_ARGS_MAX);
			goto done;
		}
		size_t n = lpj_size(args);
		r->keys = calloc(n + 1, sizeof *r->keys);
		r->values = calloc(n + 1, sizeof *r->values);
		if (!r->keys || !r->values) {
			rc = lpi_fail(LP_ERROR, "out of memory");
			goto done;
		}
		struct req_walk w = {r, label};
		rc = lpj_foreach(args, arg_member, &w);
	}
done:
	lpj_free(j);
	if (rc) {
		lpi_request_parsed_clear(r);
		return rc;
	}
	r->req.request_id = r->request_id;
	r->req.code = r->code;
	r->req.action = r->action;
	r->req.arg_keys = (const char *const *)r->keys;
	r->req.arg_values = (const char *const *)r->values;
	r->req.by = r->by;
	return LP_OK;
}

/* The request text for opts (checked as the paused process will check
 * it), with request id rid. LP_EINVAL with a message fit for a user. */
static int request_build(const lp_request_options *o, const char *rid, char **out)
{
	*out = NULL;
	lp_json *j = lpj_object(), *args = NULL;
	if (j == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	double timeout = o->timeout == 0 ? LP_REQUEST_TIMEOUT_DEFAULT : o->timeout;
	int rc;
	if ((rc = lpj_set_int(j, "protocol", REQUEST_PROTOCOL)) ||
	    (rc = lpj_set_str(j, "request_id", rid)) ||
	    (rc = lpj_set_str(j, "type", lp_request_type_name(o->type))) ||
	    (rc = lpj_set_real(j, "timeout", timeout)) ||
	    (rc = lpj_set_str(j, "by", o->by ? o->by : "cli")) ||
	    (rc = lpj_set_int(j, "pid", (long long)getpid())) ||
	    (rc = lpj_set_str(j, "hostname", lpi_hostname())) ||
	    (rc = lpj_set_real(j, "created_at", lpi_now())))
		goto done;
	if (o->type != LP_REQUEST_ACTION) {
		rc = lpj_set_str(j, "code", o->code);
		goto done;
	}
	if ((rc = lpj_set_str(j, "action", o->action)))
		goto done;
	args = lpj_object();
	if (args == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	for (size_t i = 0; o->args && o->args[i]; i++) {
		const char *kv = o->args[i], *eq = strchr(kv, '=');
		if (i == LP_REQUEST_ARGS_MAX) {
			rc = lpi_fail(LP_EINVAL, "more than %d --arg; nothing written",
				      LP_REQUEST_ARGS_MAX);
			goto done;
		}
		if (eq == NULL || !identifier_ok(kv, (size_t)(eq - kv))) {
			rc = lpi_fail(
				LP_EINVAL,
				"bad --arg '%.80s': give NAME=VALUE, NAME a Python identifier (letters, digits, _); nothing written",
				kv);
			goto done;
		}
		char key[LP_ID_MAX + 1];
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		if (lpj_has(args, key)) {
			rc = lpi_fail(LP_EINVAL, "--arg %s is given twice; nothing written", key);
			goto done;
		}
		if (strlen(eq + 1) > ARG_VALUE_MAX) {
			rc = lpi_fail(LP_EINVAL, "--arg %s is over %d bytes; nothing written", key,
				      ARG_VALUE_MAX);
			goto done;
		}
		if ((rc = lpj_set_str(args, key, eq + 1))) {
			rc = lpi_fail(LP_EINVAL, "--arg %s is not valid UTF-8; nothing written",
				      key);
			goto done;
		}
	}
	rc = lpj_set_json(j, "args", args);
	args = NULL;
done:
	lpj_free(args);
	char *text = rc ? NULL : lpj_dump(j);
	lpj_free(j);
	if (rc)
		return rc;
	if (text == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	/* the paused process's own rules, before anything is written */
	lpi_request_parsed check;
	rc = lpi_request_parse(text, strlen(text), "request", &check, NULL);
	if (rc) {
		rc = lpi_fail(LP_EINVAL, "%s; nothing written", lp_error_message());
		free(text);
		return rc;
	}
	lpi_request_parsed_clear(&check);
	*out = text;
	return LP_OK;
}

/* ----------------------------------------------------------- answer file */

/* The answer text for request (type, rid) of pause_id. A data_json that
 * is not JSON or too large makes the answer not ok, saying why. */
static char *answer_build(const char *pause_id, const char *rid, lp_request_type type,
			  const lp_answer *a, double ms, const lp_json *attached)
{
	lp_json *j = lpj_object(), *data = NULL, *files = lpj_array();
	int ok = a->ok != 0;
	const char *error = a->error;
	char why[160];
	if (a->data_json) {
		if (strlen(a->data_json) > LP_REQUEST_OUTPUT_CAP) {
			snprintf(why, sizeof why,
				 "the action's result is %zu bytes of JSON, over the limit of %d",
				 strlen(a->data_json), LP_REQUEST_OUTPUT_CAP);
			ok = 0;
			error = why;
		} else if (lpj_parse_any(a->data_json, strlen(a->data_json), &data) != LP_OK) {
			snprintf(why, sizeof why, "the action's result is not JSON");
			ok = 0;
			error = why;
		}
		lpi_error_clear();
	}
	int rc = j && files ? LP_OK : LP_ERROR;
	for (size_t i = 0; !rc && i < a->nfiles && i < FILES_MAX; i++)
		if (a->files[i]) {
			int cut;
			char *p = lpj_text_fit(a->files[i], FILE_PATH_MAX, 0, &cut);
			rc = p ? lpj_array_append_str(files, p) : LP_ERROR;
			free(p);
		}
	if (rc || (rc = lpj_set_int(j, "protocol", REQUEST_PROTOCOL)) ||
	    (rc = lpj_set_str(j, "request_id", rid)) ||
	    (rc = lpj_set_str(j, "pause_id", pause_id)) ||
	    (rc = lpj_set_str(j, "type", lp_request_type_name(type))) ||
	    (rc = lpj_set_bool(j, "ok", ok)) ||
	    (rc = lpj_set_bool(j, "timed_out", a->timed_out != 0)) ||
	    (rc = lpj_set_text(j, "repr", a->repr, LP_REQUEST_OUTPUT_CAP, 1)) ||
	    (rc = lpj_set_text(j, "stdout", a->out_text ? a->out_text : "", LP_REQUEST_OUTPUT_CAP,
			       1)) ||
	    (rc = lpj_set_text(j, "stderr", a->err_text ? a->err_text : "", LP_REQUEST_OUTPUT_CAP,
			       1)) ||
	    (rc = lpj_set_text(j, "error",
			       ok      ? NULL
			       : error ? error
				       : "failed",
			       LP_REQUEST_OUTPUT_CAP, 1)) ||
	    (rc = lpj_set_real(j, "duration_ms", ms)) ||
	    (rc = lpj_set_int(j, "pid", (long long)getpid())) ||
	    (rc = lpj_set_real(j, "created_at", lpi_now())))
		goto fail;
	if (type == LP_REQUEST_ACTION) {
		rc = data ? lpj_set_json(j, "data", data) : lpj_set_null(j, "data");
		data = NULL;
		if (rc || (rc = lpj_set_json(j, "files", files)))
			goto fail;
		files = NULL;
		if ((rc = attached ? lpj_set_json(j, "attachments", lpj_copy(attached))
				   : lpj_set_json(j, "attachments", lpj_array())))
			goto fail;
	}
	char *text = lpj_dump(j);
	lpj_free(j);
	lpj_free(data);
	lpj_free(files);
	return text;
fail:
	lpj_free(j);
	lpj_free(data);
	lpj_free(files);
	return NULL;
}

static char *dup_str_or_null(const lp_json *o, const char *key)
{
	const char *s = lpj_get_str(o, key);
	return s ? lpi_strdup(s) : NULL;
}

int lpi_answer_parse(const char *text, size_t len, const char *label, lp_answer *out)
{
	memset(out, 0, sizeof *out);
	lp_json *j, *view = NULL;
	int rc = lpj_parse_object(text, len, label, &j);
	if (rc)
		return rc == LP_ERROR ? rc : LP_EBADCMD;
	lp_json *ok = lpj_get(j, "ok"), *files = lpj_get(j, "files"), *data = lpj_get(j, "data");
	if (ok == NULL || lpj_typeof(ok) != LPJ_BOOL || !rid_ok(lpj_get_str(j, "request_id"))) {
		rc = lpi_fail(LP_EBADCMD, "%s: not an answer (ok and request_id are required)",
			      label);
		goto done;
	}
	out->ok = lpj_is_true(ok);
	out->timed_out = lpj_is_true(lpj_get(j, "timed_out"));
	out->duration_ms = lpj_get_real(j, "duration_ms", 0);
	out->repr = dup_str_or_null(j, "repr");
	out->out_text = dup_str_or_null(j, "stdout");
	out->err_text = dup_str_or_null(j, "stderr");
	out->error = dup_str_or_null(j, "error");
	if (data && lpj_typeof(data) != LPJ_NULL &&
	    (out->data_json = lpj_dump_exact(data)) == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	size_t n = files && lpj_typeof(files) == LPJ_ARRAY ? lpj_size(files) : 0;
	if (n > FILES_MAX)
		n = FILES_MAX;
	out->files = calloc(n + 1, sizeof *out->files);
	for (size_t i = 0; out->files && i < n; i++) {
		const char *s = lpj_string_value(lpj_array_get(files, i));
		if (s && (out->files[out->nfiles] = lpi_strdup(s)) != NULL)
			out->nfiles++;
	}
	/* what --json prints: the answer less the file's bookkeeping */
	static const char *const keep[] = {"ok",          "timed_out",  "repr",        "stdout",
					   "stderr",      "error",      "duration_ms", "type",
					   "pause_id",    "request_id", "data",        "files",
					   "attachments", "cut",        NULL};
	view = lpj_object();
	for (size_t i = 0; view && keep[i]; i++) {
		lp_json *v = lpj_get(j, keep[i]);
		if (v && (rc = lpj_set_json(view, keep[i], lpj_copy(v))))
			goto done;
	}
	out->json = view ? lpj_dump(view) : NULL;
	if (!out->files || !out->json)
		rc = lpi_fail(LP_ERROR, "out of memory");
done:
	lpj_free(j);
	lpj_free(view);
	if (rc)
		lp_answer_clear(out);
	return rc;
}

/* -------------------------------------------------- the paused process */

static int transient(int e)
{
	return e == EMFILE || e == ENFILE || e == EINTR || e == ENOMEM || e == EAGAIN ||
	       e == ENOBUFS;
}

/* The "request" event: what was asked (the code, bounded, or the action
 * and its argument names), by whom, ok, how long; never the value. */
static void log_request(lp_run *run, const char *pause_id, const lpi_request_parsed *r,
			const char *rid, const lp_answer *a, double ms, const char *refused)
{
	lp_json *ev = lpj_object(), *names = lpj_array();
	int rc = ev && names ? LP_OK : LP_ERROR;
	for (size_t i = 0; !rc && r && i < r->req.nargs; i++)
		rc = lpj_array_append_str(names, r->keys[i]);
	if (!rc && !(rc = lpj_set_str(ev, "pause_id", pause_id)) &&
	    !(rc = lpj_set_str(ev, "worker_id", run->worker_id)) &&
	    !(rc = lpj_set_str(ev, "request_id", rid)) &&
	    !(rc = lpj_set_str(ev, "type", r ? lp_request_type_name(r->req.type) : NULL)) &&
	    !(rc = lpj_set_str(ev, "by", r ? r->by : NULL)) &&
	    !(rc = lpj_set_int(ev, "requester_pid", r ? r->pid : 0)) &&
	    !(rc = lpj_set_bool(ev, "ok", a->ok)) &&
	    !(rc = lpj_set_bool(ev, "timed_out", a->timed_out)) &&
	    !(rc = lpj_set_real(ev, "duration_ms", ms)) &&
	    !(rc = lpj_set_text(ev, "refused", refused, LP_CAP_REASON, 0))) {
		if (r && r->code)
			rc = lpj_set_text(ev, "code", r->code, EVENT_CODE_CAP, 1);
		else if (r && r->action && !(rc = lpj_set_str(ev, "action", r->action))) {
			rc = lpj_set_json(ev, "args", names);
			names = NULL;
		}
	}
	if (!rc)
		lpi_events_append(run->events_fd, run->id, "request", ev);
	lpj_free(ev);
	lpj_free(names);
	lpi_error_clear(); /* the answer stands whether or not it was logged */
}

/* Move a request that cannot be served aside and log why. */
static void reject(lp_run *run, const char *pause_id, const char *slot, const char *why)
{
	char aside[LP_ID_MAX + 64], rnd[9];
	if (lpi_random_hex(rnd, 4))
		memcpy(rnd, "00000000", 9);
	snprintf(aside, sizeof aside, "%s.rejected.%s", slot, rnd);
	int moved = renameat(run->commands_fd, slot, run->commands_fd, aside) == 0;
	if (!moved)
		unlinkat(run->commands_fd, slot, 0);
	lp_json *ev = lpj_object();
	if (ev && !lpj_set_str(ev, "pause_id", pause_id) &&
	    !lpj_set_str(ev, "worker_id", run->worker_id) &&
	    !lpj_set_text(ev, "error", why, LP_CAP_REASON, 0) &&
	    !(moved ? lpj_set_str(ev, "moved_to", aside) : lpj_set_null(ev, "moved_to")))
		lpi_events_append(run->events_fd, run->id, "request_rejected", ev);
	lpj_free(ev);
	lpi_error_clear();
}

static void answer_publish(lp_run *run, const char *pause_id, const char *rid, lp_request_type type,
			   const lp_answer *a, double ms, const lp_json *attached)
{
	char name[2 * LP_ID_MAX + 32], label[PATH_MAX + 64];
	answer_name(name, sizeof name, pause_id, rid);
	snprintf(label, sizeof label, "answer %s/runs/%s/commands/%s", run->store->path, run->id,
		 name);
	char *text = answer_build(pause_id, rid, type, a, ms, attached);
	if (text)
		lpi_file_publish(run->commands_fd, name, text, strlen(text),
				 LP_PUBLISH_EXCLUSIVE | LP_PUBLISH_VOLATILE, label);
	free(text);
	lpi_error_clear(); /* a requester that finds no answer says so */
}

static int set_error(lp_answer *a, const char *prefix, const char *text)
{
	size_t n = strlen(prefix) + strlen(text) + 1;
	free(a->error);
	a->error = malloc(n);
	if (a->error)
		snprintf(a->error, n, "%s%s", prefix, text);
	a->ok = 0;
	return a->error ? LP_OK : LP_ERROR;
}

/* An action's files become attachments of its pause (source "capture",
 * docs/protocol.md "Attachments"): each is stored in the run's blob store
 * and its entry appended to the pause file's "attachments" (doc) and to
 * *attached (the answer's). A file refused (missing, a directory, over
 * the caps of a pause) is skipped and said in a_note (appended to the
 * answer's stderr). Returns 1 when doc changed. */
static int attach_files(lp_run *run, lp_json *doc, const lp_answer *a, lp_json **attached,
			char **note)
{
	char run_path[PATH_MAX];
	snprintf(run_path, sizeof run_path, "%s/runs/%s", run->store->path, run->id);
	lp_json *list = lpj_get(doc, "attachments");
	lp_attachment *have = NULL;
	size_t n = 0;
	unsigned long long total = 0;
	if (list && lpi_attachments_parse(list, "pause file", 1, run_path, &have, &n) != LP_OK)
		n = LP_ATTACH_COUNT_MAX; /* unreadable: attach nothing more */
	for (size_t i = 0; have && i < n; i++)
		total += have[i].size;
	lpi_attachments_free(have, have ? n : 0);
	int changed = 0;
	*attached = lpj_array();
	if (*attached == NULL)
		return 0;
	for (size_t i = 0; i < a->nfiles && a->files[i]; i++) {
		char why[1200] = "";
		lp_attachment att;
		if (n >= LP_ATTACH_COUNT_MAX) {
			snprintf(why, sizeof why, "the pause has %d attachments already",
				 LP_ATTACH_COUNT_MAX);
		} else if (lpi_blob_put(run->fd, run_path, a->files[i], NULL, "capture", 0, &att) !=
			   LP_OK) {
			snprintf(why, sizeof why, "%s", lp_error_message());
		} else if (total + att.size > LP_ATTACH_TOTAL_MAX) {
			snprintf(why, sizeof why, "the pause's attachments would be over %llu MiB",
				 LP_ATTACH_TOTAL_MAX >> 20);
			lp_attachment_clear(&att);
		} else {
			if (list == NULL && lpj_set_json(doc, "attachments", lpj_array()) == LP_OK)
				list = lpj_get(doc, "attachments");
			lp_json *e = lpi_attachment_to_json(&att, 1),
				*mine = lpi_attachment_to_json(&att, 0);
			if (list && e && mine && lpj_array_append(list, e) == LP_OK) {
				e = NULL;
				lpj_set_str(mine, "path", att.path);
				lpj_array_append(*attached, mine);
				mine = NULL;
				n++;
				total += att.size;
				changed = 1;
			}
			lpj_free(e);
			lpj_free(mine);
			lp_attachment_clear(&att);
		}
		if (why[0]) {
			size_t old = *note ? strlen(*note) : 0;
			size_t add = strlen(a->files[i]) + strlen(why) + 64;
			char *w = realloc(*note, old + add);
			if (w) {
				snprintf(w + old, add, "pytest-live-pause: not attached: %s: %s\n",
					 a->files[i], why);
				*note = w;
			}
		}
	}
	lpi_error_clear();
	return changed;
}

int lpi_request_serve(lp_run *run, const char *pause_id, lp_json *doc, const lp_wait_hooks *hooks,
		      int (*republish)(void *ud), void *ud)
{
	char slot[LP_ID_MAX + 32], label[PATH_MAX + 64];
	slot_name(slot, sizeof slot, pause_id);
	struct stat st;
	if (fstatat(run->commands_fd, slot, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* none (or a transient error: the next look sees it) */
	snprintf(label, sizeof label, "request file %s/runs/%s/commands/%s", run->store->path,
		 run->id, slot);
	char *text = NULL, *rid = NULL;
	size_t len = 0;
	int rc = S_ISREG(st.st_mode)
			 ? lpi_file_read(run->commands_fd, slot, LP_CAP_REQUEST, label, &text, &len)
			 : lpi_fail(LP_EBADCMD, "%s is not a regular file", label);
	if (rc == LP_ENOTFOUND || (rc == LP_ERROR && transient(errno))) {
		lpi_error_clear();
		return 0;
	}
	lpi_request_parsed r;
	memset(&r, 0, sizeof r);
	if (!rc)
		rc = lpi_request_parse(text, len, label, &r, &rid);
	free(text);
	if (rc == LP_ERROR) { /* out of memory: look again later */
		free(rid);
		return 0;
	}
	if (rc) {
		double age = lpi_now() - ((double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
		if (rid == NULL && age < 0.5) {
			lpi_error_clear();
			return 0; /* maybe a foreign writer's partial file */
		}
		char why[1024];
		snprintf(why, sizeof why, "%s", lp_error_message());
		reject(run, pause_id, slot, why);
		if (rid) { /* its requester learns why at once */
			lp_answer a = {0};
			if (set_error(&a, "refused: ", why) == LP_OK)
				answer_publish(run, pause_id, rid, LP_REQUEST_EVAL, &a, 0, NULL);
			log_request(run, pause_id, NULL, rid, &a, 0, why);
			lp_answer_clear(&a);
		}
		free(rid);
		return 1;
	}
	free(rid);
	/* taken: whoever unlinks the slot owns the request (a requester that
	 * gave up withdraws it the same way) */
	if (unlinkat(run->commands_fd, slot, 0) < 0) {
		lpi_request_parsed_clear(&r);
		return errno == ENOENT ? 1 : 0;
	}
	lpi_crash_point("request:taken");
	const lp_json *offer = lpj_get(doc, "requests");
	lp_answer a = {0};
	char refused[1024] = "";
	int stopped = 0;
	if (r.req.type != LP_REQUEST_ACTION && !offers_eval(offer)) {
		snprintf(
			refused, sizeof refused,
			"eval and exec are off in this pytest run: start pytest with --pause-allow-eval (ini pause_allow_eval = true) to allow them");
	} else if (r.req.type == LP_REQUEST_ACTION && !offers_action(offer, r.action)) {
		char *names = offered_names(offer);
		snprintf(refused, sizeof refused, "pause %s has no action '%s'; it offers: %s",
			 pause_id, r.action, names ? names : "?");
		free(names);
	} else if (hooks == NULL || hooks->version < 2 || hooks->on_request == NULL) {
		snprintf(refused, sizeof refused,
			 "the process of pause %s takes no requests in this wait", pause_id);
	}
	int64_t t0 = mono_us();
	if (refused[0]) {
		rc = set_error(&a, "", refused);
	} else if (hooks->on_request(hooks->ud, &r.req, &a) != 0) {
		stopped = 1;
		lp_answer_clear(&a);
		rc = set_error(
			&a, "",
			"the paused process was interrupted (Ctrl-C, SIGTERM) while running the request; its pause is ending");
	}
	double ms = (double)(mono_us() - t0) / 1000.0;
	lp_json *attached = NULL;
	int changed = 0;
	if (rc == LP_OK && a.ok && a.nfiles && !stopped) {
		char *note = NULL;
		changed = attach_files(run, doc, &a, &attached, &note);
		if (note) {
			size_t old = a.err_text ? strlen(a.err_text) : 0;
			char *e = realloc(a.err_text, old + strlen(note) + 1);
			if (e) {
				if (!old)
					e[0] = '\0';
				strcat(e, note);
				a.err_text = e;
			}
			free(note);
		}
	}
	/* the pause file lists the attachments before the answer says so */
	if (changed && republish && republish(ud) != LP_OK)
		lpi_error_clear(); /* the answer still has them */
	if (rc == LP_OK)
		answer_publish(run, pause_id, r.request_id, r.req.type, &a, ms, attached);
	lpj_free(attached);
	log_request(run, pause_id, &r, r.request_id, &a, ms, refused[0] ? refused : NULL);
	lp_answer_clear(&a);
	lpi_request_parsed_clear(&r);
	if (rc)
		return lpi_fail(LP_ERROR, "out of memory");
	return stopped ? lpi_fail(LP_EINTR, "a request's hook asked to stop the wait") : 1;
}

/* ------------------------------------------------------- the requester */

static int refuse_state(const char *id, const lp_json *doc, const char *state)
{
	const char *by = lpj_get_str(doc, "resolved_by");
	if (strcmp(state, "resumed") == 0)
		return lpi_fail(
			LP_ERESUMED,
			"pause %s has ended (resumed by %s): there is no paused test to ask any more",
			id, by ? by : "another command");
	if (strcmp(state, "timed_out") == 0)
		return lpi_fail(
			LP_ETIMEDOUT,
			"pause %s has ended (timed out): there is no paused test to ask any more",
			id);
	if (strcmp(state, "aborted") == 0)
		return lpi_fail(
			LP_EABORTED,
			"pause %s has ended (aborted): there is no paused test to ask any more",
			id);
	if (strcmp(state, "stale") == 0)
		return lpi_fail(LP_ESTALE, "pause %s is stale: its pytest process is gone", id);
	return lpi_fail(LP_EBADCMD, "pause %s has an unknown status '%s'", id, state);
}

static int check_options(const lp_request_options *o)
{
	if (o == NULL || o->version != LP_REQUEST_OPTIONS_VERSION)
		return lpi_fail(LP_EINVAL, "lp_request_options missing or of an unknown version");
	if (o->type != LP_REQUEST_EVAL && o->type != LP_REQUEST_EXEC &&
	    o->type != LP_REQUEST_ACTION)
		return lpi_fail(LP_EINVAL, "unknown request type %d", (int)o->type);
	if (isnan(o->timeout) || o->timeout < 0 || o->timeout > LP_REQUEST_TIMEOUT_MAX)
		return lpi_fail(LP_EINVAL,
				"--timeout must be a number of seconds above 0, at most %g",
				LP_REQUEST_TIMEOUT_MAX);
	if (o->type == LP_REQUEST_ACTION) {
		if (o->action == NULL || lp_id_validate(o->action, "action name") != LP_OK)
			return lpi_fail(
				LP_EINVAL,
				"the action name must be 1 to %d characters of [A-Za-z0-9._-]",
				LP_ID_MAX);
		return LP_OK;
	}
	if (o->code == NULL || o->code[0] == '\0')
		return lpi_fail(LP_EINVAL, "the code to run is empty");
	if (strlen(o->code) > LP_REQUEST_CODE_MAX)
		return lpi_fail(LP_EINVAL,
				"the code is %zu bytes, over the limit of %d; nothing written",
				strlen(o->code), LP_REQUEST_CODE_MAX);
	return LP_OK;
}

/* Take our request back if it is still in the slot untaken: moved to a
 * name of our own, then checked (another requester's is put back). */
static void withdraw(int cfd, const char *slot, const char *rid)
{
	char mine[2 * LP_ID_MAX + 48];
	snprintf(mine, sizeof mine, "%s.withdrawn.%s", slot, rid);
	if (renameat(cfd, slot, cfd, mine) < 0)
		return;
	char *text = NULL;
	lpi_request_parsed r;
	int ours = lpi_file_read(cfd, mine, LP_CAP_REQUEST, "request", &text, NULL) == LP_OK &&
		   lpi_request_parse(text, strlen(text), "request", &r, NULL) == LP_OK;
	if (ours) {
		ours = strcmp(r.request_id, rid) == 0;
		lpi_request_parsed_clear(&r);
	}
	free(text);
	if (ours || renameat2(cfd, mine, cfd, slot, RENAME_NOREPLACE) < 0)
		unlinkat(cfd, mine, 0);
	lpi_error_clear();
}

/* The pause is still pending and its process alive: LP_OK, else why not. */
static int still_pending(lp_store *s, const char *id)
{
	lp_json *now = NULL;
	double mtime = 0;
	int rc = lpi_pause_load(s, id, &now, &mtime);
	if (rc == LP_OK) {
		const char *state = lpi_pause_state(now, mtime);
		if (strcmp(state, "pending") != 0)
			rc = refuse_state(id, now, state);
	}
	lpj_free(now);
	return rc;
}

/* Read our answer if it is there: LP_OK (out filled, file removed),
 * 1 (not yet), or an error. */
static int collect(int cfd, const char *name, const char *label, lp_answer *out)
{
	char *text = NULL;
	size_t len = 0;
	int rc = lpi_file_read(cfd, name, LP_CAP_ANSWER, label, &text, &len);
	if (rc == LP_ENOTFOUND) {
		lpi_error_clear();
		return 1;
	}
	if (rc == LP_OK)
		rc = lpi_answer_parse(text, len, label, out);
	free(text);
	unlinkat(cfd, name, 0);
	return rc;
}

static int interrupted(const lp_request_options *o)
{
	return o->hooks && o->hooks->check && o->hooks->check(o->hooks->ud);
}

int lp_request_send(lp_answer *out, lp_store *store, const char *ref, const lp_request_options *o)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_request_send: out is required");
	memset(out, 0, sizeof *out);
	int rc = check_options(o);
	if (rc)
		return rc;
	lp_store *other = NULL;
	char id[LP_ID_MAX + 1], run_id[LP_ID_MAX + 1], rid[RID_HEX + 1];
	if ((rc = lpi_ref_resolve(store, ref, &other, id)))
		return rc;
	lp_store *s = other ? other : store;
	lp_json *doc = NULL;
	char *text = NULL;
	int run_fd = -1, cfd = -1;
	lpi_waiter *w = NULL;
	double mtime = 0;
	if ((rc = lpi_pause_load(s, id, &doc, &mtime)) || (rc = lpi_pause_locate(s, id, run_id)))
		goto done;
	const char *state = lpi_pause_state(doc, mtime);
	if (strcmp(state, "pending") != 0) {
		rc = refuse_state(id, doc, state);
		goto done;
	}
	const lp_json *offer = lpj_get(doc, "requests");
	if (o->type != LP_REQUEST_ACTION && !offers_eval(offer)) {
		rc = lpi_fail(
			LP_ENOEVAL,
			offer ? "pause %s: eval and exec are off in its pytest run; start pytest with --pause-allow-eval (ini pause_allow_eval = true) to allow them; nothing written"
			      : "pause %s takes no eval (its process predates requests or is not a pytest run with --pause-allow-eval); nothing written",
			id);
		goto done;
	}
	if (o->type == LP_REQUEST_ACTION && !offers_action(offer, o->action)) {
		char *names = offered_names(offer);
		rc = lpi_fail(
			LP_ENOACTION,
			"pause %s has no action '%s'; it offers: %s (see 'pytest-live-pause show %s'); nothing written",
			id, o->action, names ? names : "?", id);
		free(names);
		goto done;
	}
	if ((rc = lpi_random_hex(rid, RID_HEX / 2)) || (rc = request_build(o, rid, &text)))
		goto done;
	char label[PATH_MAX + 64], slot[LP_ID_MAX + 32], name[2 * LP_ID_MAX + 32];
	snprintf(label, sizeof label, "%s/runs/%s/commands", s->path, run_id);
	if ((rc = lpi_run_dirs_open(s, run_id, &run_fd)) ||
	    (rc = lpi_dir_open(run_fd, "commands", 0, label, &cfd)))
		goto done;
	slot_name(slot, sizeof slot, id);
	answer_name(name, sizeof name, id, rid);
	double timeout = o->timeout == 0 ? LP_REQUEST_TIMEOUT_DEFAULT : o->timeout;
	int64_t deadline = lpi_mono_ms() + (int64_t)((timeout + LP_DEFAULT_TAKE_TIMEOUT) * 1000);
	if ((rc = lpi_waiter_open(&w)))
		goto done;
	lpi_waiter_add_dir(w, cfd, "commands");
	lpi_identity rec;
	lpj_get_identity(doc, &rec);
	if (rec.pid > 0 && strcmp(rec.hostname, lpi_hostname()) == 0)
		lpi_waiter_add_pid(w, rec.pid);
	/* one request at a time: wait for the slot to be free */
	for (;;) {
		snprintf(label, sizeof label, "request file %s/runs/%s/commands/%s", s->path,
			 run_id, slot);
		rc = lpi_file_publish(cfd, slot, text, strlen(text),
				      LP_PUBLISH_EXCLUSIVE | LP_PUBLISH_VOLATILE, label);
		if (rc <= 0)
			break;
		if ((rc = still_pending(s, id)))
			goto done;
		if (interrupted(o)) {
			rc = lpi_fail(
				LP_EINTR,
				"interrupted while waiting to send a request to pause %s; nothing written",
				id);
			goto done;
		}
		int wr = lpi_waiter_wait(w, deadline, o->hooks);
		if (wr == LP_EWAITTIMEOUT) {
			rc = lpi_fail(
				LP_ENOTTAKEN,
				"pause %s is still busy with another request after %gs; nothing written, try again",
				id, timeout + LP_DEFAULT_TAKE_TIMEOUT);
			goto done;
		}
		if (wr == LP_EINTR || wr == LP_ERROR) {
			rc = wr;
			goto done;
		}
	}
	if (rc)
		goto done;
	snprintf(label, sizeof label, "answer %s/runs/%s/commands/%s", s->path, run_id, name);
	/* a quick answer is looked for after short, doubling delays; then the
	 * wait is event driven (inotify on commands/, the process's pidfd) */
	int64_t fast_end = lpi_mono_ms() + FAST_POLL_MS;
	long delay_us = 50;
	for (;;) {
		rc = collect(cfd, name, label, out);
		if (rc <= 0)
			goto done;
		if (lpi_mono_ms() < fast_end && !interrupted(o)) {
			struct timespec ts = {0, delay_us * 1000};
			nanosleep(&ts, NULL);
			if (delay_us < 400) /* fine steps: an answer takes ~1-2 ms */
				delay_us *= 2;
			continue;
		}
		if ((rc = still_pending(s, id))) {
			if (collect(cfd, name, label, out) == LP_OK) { /* answered, then ended */
				rc = LP_OK;
				goto done;
			}
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", lp_error_message());
			withdraw(cfd, slot, rid);
			rc = lpi_fail(rc, "%s (the request was not answered)", msg);
			goto done;
		}
		if (interrupted(o)) {
			withdraw(cfd, slot, rid);
			rc = lpi_fail(LP_EINTR,
				      "interrupted while waiting for the answer of pause %s", id);
			goto done;
		}
		int wr = lpi_waiter_wait(w, deadline, o->hooks);
		if (wr == LP_EWAITTIMEOUT) {
			if (collect(cfd, name, label, out) == LP_OK) {
				rc = LP_OK;
				goto done;
			}
			withdraw(cfd, slot, rid);
			rc = lpi_fail(
				LP_ENOTTAKEN,
				"pause %s did not answer within %gs: its process (pid %ld) may be busy or stuck in code that ignores the timeout; the test keeps waiting",
				id, timeout + LP_DEFAULT_TAKE_TIMEOUT, rec.pid);
			goto done;
		}
		if (wr == LP_EINTR || wr == LP_ERROR) {
			withdraw(cfd, slot, rid);
			rc = wr;
			goto done;
		}
	}
done:
	lpi_waiter_free(w);
	if (cfd >= 0)
		close(cfd);
	if (run_fd >= 0)
		close(run_fd);
	free(text);
	lpj_free(doc);
	lp_store_free(other);
	return rc;
}
