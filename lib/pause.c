/*
 * pause.c - a pause, from the paused process's side: writing the pause
 * file, waiting for a command, taking it (or rejecting a bad one, which
 * is moved aside so the pause keeps waiting), claiming the pause itself on
 * timeout, abort or signal, and recording the outcome.
 *
 * The claim: every resolver creates commands/<pause_id>.resume.json
 * exclusively (lpi_file_publish with exclusive = 1). The first file there
 * decides the outcome; only this process then rewrites the pause file.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the bounded fields of a pause file, with its extra fields and the
 * command's verdict, stay far within the readers' cap */
_Static_assert(LP_CAP_FAILURE_TEXT + LP_CAP_TASK + LP_CAP_NODEID + LP_CAP_CWD +
			       3 * LP_CAP_HOSTNAME + LP_CAP_REASON + LP_CAP_HINT + LP_CAP_EXTRA +
			       /* question, location, choices, value */
			       LP_CAP_TASK + LP_CAP_NODEID + LP_CHOICES_MAX * (LP_CAP_CHOICE + 8) +
			       LP_CAP_COMMAND +
			       /* attachments: name, hash, size, type, source, keys */
			       LP_ATTACH_COUNT_MAX * (LP_ATTACH_NAME_MAX + LP_SHA256_HEX + 256) +
			       8192 <
		       LP_CAP_PAUSE,
	       "a pause file must fit LP_CAP_PAUSE");

struct lp_pause {
	lp_run *run;
	char id[LP_ID_MAX + 1];
	char file[LP_ID_MAX + 8]; /* <id>.json */
	char cmd[LP_ID_MAX + 16]; /* <id>.resume.json */
	char *path, *hint;
	lp_kind kind;
	lp_json *doc;
	int64_t deadline_ms; /* -1: none */
	int64_t next_beat_ms;
	int done;
	int published;      /* the pause file exists: free() must not leave it pending */
	lpi_waiter *waiter; /* the run's, borrowed */
	/* the last bad entry at the claim's name that could not be moved
	 * aside: reported once, not at every look */
	struct stat unmovable;
	int has_unmovable;
	/* the final pause file's temporary, made as the pause begins (fd -1:
	 * none), so that the take writes and exchanges but creates no file:
	 * a creation is most of what the take costs on ext4 */
	lpi_spare spare;
};

void lp_resolution_clear(lp_resolution *res)
{
	if (res == NULL)
		return;
	free(res->by);
	free(res->reason);
	free(res->failure_reason);
	free(res->command_json);
	free(res->token);
	free(res->ignored_json);
	free(res->warning);
	free(res->value);
	lpi_attachments_free(res->attachments, res->nattachments);
	memset(res, 0, sizeof *res);
	res->result = LP_RESULT_NONE;
}

/* Publish the pause file; `flags` as lpi_file_publish's (0: durable
 * before it returns; LP_PUBLISH_VOLATILE: visible at once, made durable
 * later by settle.c). With replaced (the final pause file), by exchange
 * with the pending one, which is left under the name put there for
 * settle.c to remove (lpi_file_replace). */
static int publish_doc(lp_pause *p, int flags, char *replaced)
{
	char *text = lpj_dump(p->doc);
	if (text == NULL)
		return LP_ERROR;
	size_t len = strlen(text);
	int rc = replaced ? lpi_file_replace(p->run->pauses_fd, p->file, text, len, flags, p->path,
					     replaced, &p->spare)
			  : lpi_file_publish(p->run->pauses_fd, p->file, text, len, flags, p->path);
	free(text);
	return rc;
}

/* The fields every event of a pause has. */
static int pause_fields(lp_pause *p, lp_json *fields)
{
	int rc = lpj_set_str(fields, "pause_id", p->id);
	return rc ? rc : lpj_set_str(fields, "worker_id", p->run->worker_id);
}

static int pause_event(lp_pause *p, const char *event, lp_json *fields)
{
	int rc = pause_fields(p, fields);
	return rc ? rc : lpi_events_append(p->run->events_fd, p->run->id, event, fields);
}

static char *make_hint(const lp_pause *p, const char *const *choices)
{
	char *hint;
	int rc = lp_resume_hint(&hint, p->id, p->kind, choices, p->run->store->path);
	return rc == LP_OK ? hint : NULL;
}

/* "choices": 1..LP_CHOICES_MAX distinct non-empty strings of at most
 * LP_CAP_CHOICE bytes, kept as given (a value must match one exactly, so
 * none is cut); else LP_EINVAL, nothing written. */
static int set_choices(lp_json *d, const char *const *choices)
{
	lp_json *a = lpj_array();
	if (a == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = LP_OK;
	size_t n = 0;
	for (; !rc && choices[n]; n++) {
		const char *ch = choices[n];
		if (n == LP_CHOICES_MAX)
			rc = lpi_fail(LP_EINVAL, "a pause takes at most %d choices",
				      LP_CHOICES_MAX);
		else if (ch[0] == '\0' || lpj_encoded_size(ch) > LP_CAP_CHOICE)
			rc = lpi_fail(
				LP_EINVAL,
				"choice %zu is empty or over %d bytes: give short words such as 'pass', 'retry', 'skip'",
				n + 1, LP_CAP_CHOICE);
		for (size_t k = 0; !rc && k < n; k++)
			if (strcmp(choices[k], ch) == 0)
				rc = lpi_fail(LP_EINVAL, "choice '%.60s' is given twice", ch);
		if (!rc && lpj_array_append_str(a, ch))
			rc = lpi_fail(LP_EINVAL, "choice %zu is not valid UTF-8 text", n + 1);
	}
	if (!rc && n == 0)
		rc = lpi_fail(LP_EINVAL,
			      "choices is empty: give at least one, or no choices at all");
	if (rc) {
		lpj_free(a);
		return rc;
	}
	return lpj_set_json(d, "choices", a);
}

/* The pending pause file: 0.1.1's fields in their types (docs/protocol.md)
 * and ours. Every text is bounded by its encoded size (lpj_set_text), so
 * that the file, its events and its catalog line fit every reader's cap. */
static int fill_doc(lp_pause *p, const lp_pause_options *o)
{
	lp_run *run = p->run;
	lp_json *d = p->doc;
	char st[32];
	snprintf(st, sizeof st, "%llu", run->self.start_time);
	const char *task = o->task ? o->task : p->kind == LP_KIND_FAILURE ? LP_FAILURE_TASK : "";
	double now = lpi_now();
	int forever = isinf(o->timeout);
	int rc;
	if ((rc = lpj_set_int(d, "protocol", LP_PROTOCOL_VERSION)) ||
	    (rc = lpj_set_str(d, "pause_id", p->id)) || (rc = lpj_set_str(d, "run_id", run->id)) ||
	    (rc = lpj_set_str(d, "kind", lp_kind_name(p->kind))) ||
	    (rc = lpj_set_text(d, "nodeid", o->nodeid ? o->nodeid : "", LP_CAP_NODEID, 0)) ||
	    /* JSON has no infinity: null is "no timeout" (0.1.1 writes Infinity) */
	    (rc = forever ? lpj_set_null(d, "timeout") : lpj_set_real(d, "timeout", o->timeout)) ||
	    (rc = lpj_set_text(d, "original_failure",
			       o->original_failure ? o->original_failure : "", LP_CAP_FAILURE_TEXT,
			       1)) ||
	    (rc = lpj_set_text(d, "task", task, LP_CAP_TASK, 1)) ||
	    (rc = lpj_set_str(d, "status", "pending")) ||
	    /* 0.1.1 writes these as null while pending; set when it ends */
	    (rc = lpj_set_null(d, "finished_at")) || (rc = lpj_set_null(d, "failure_reason")) ||
	    (rc = lpj_set_real(d, "created_at", now)) ||
	    (rc = forever ? lpj_set_null(d, "deadline_at")
			  : lpj_set_real(d, "deadline_at", now + o->timeout)) ||
	    (rc = lpj_set_int(d, "pid", run->self.pid)) ||
	    (rc = lpj_set_text(d, "hostname", run->self.hostname, LP_CAP_HOSTNAME, 0)) ||
	    (rc = lpj_set_text(d, "cwd", run->cwd, LP_CAP_CWD, 0)) ||
	    (rc = lpj_set_text(d, "worker_id", run->worker_id, LP_CAP_HOSTNAME, 0)) ||
	    (rc = lpj_set_str(d, "boot_id", run->self.boot_id)) ||
	    (rc = lpj_set_str(d, "pid_start_time", st)) ||
	    (rc = lpj_set_real(d, "heartbeat_interval", LP_HEARTBEAT_INTERVAL)) ||
	    (rc = lpj_set_text(d, "resume_command", p->hint, LP_CAP_HINT, 0)))
		return rc;
	if (p->kind == LP_KIND_QUESTION && (rc = lpj_set_text(d, "question", task, LP_CAP_TASK, 1)))
		return rc;
	if (o->version >= 2 && o->location &&
	    (rc = lpj_set_text(d, "location", o->location, LP_CAP_NODEID, 0)))
		return rc;
	/* what requests it takes (lib/request.c) */
	if (run->requests && (rc = lpj_set_json(d, "requests", lpj_copy(run->requests))))
		return rc;
	return o->version >= 2 && o->choices ? set_choices(d, o->choices) : LP_OK;
}

/* The test's attachments (options version 3), checked against the
 * pause's caps and their blobs (present, of their size), as the pause
 * file's "attachments" (always there: [] for none). */
static int list_attachments(lp_pause *p, const lp_pause_options *o)
{
	const lp_attachment *a = o->version >= 3 ? o->attachments : NULL;
	size_t n = a ? o->nattachments : 0;
	char *why = NULL;
	if (lp_attachments_fit(a, n, &why) < n) {
		int rc = lpi_fail(LP_EINVAL, "%s", why ? why : "too many attachments");
		free(why);
		return rc;
	}
	lp_json *arr = lpj_array();
	int rc = arr ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		struct stat st;
		char name[LP_SHA256_HEX + 8];
		snprintf(name, sizeof name, "blobs/%s", a[i].sha256);
		if (a[i].source == NULL || strcmp(a[i].source, "resume") == 0 ||
		    lp_attachment_name_check(a[i].name))
			rc = lpi_fail(
				LP_EINVAL,
				"attachment %zu: a test's attachment needs a name and the source test or capture",
				i);
		else if (fstatat(p->run->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			 !S_ISREG(st.st_mode) || (unsigned long long)st.st_size != a[i].size)
			rc = lpi_fail(
				LP_EINVAL,
				"attachment '%s': its blob %s is not in the run's blob store (store it with lp_run_attach)",
				a[i].name, a[i].sha256);
		else
			rc = lpj_array_append(arr, lpi_attachment_to_json(&a[i], 1));
	}
	if (!rc)
		return lpj_set_json(p->doc, "attachments", arr);
	lpj_free(arr);
	return rc;
}

#define TIMEOUT_RULE                                                                               \
	"must be a number of seconds from 0 (times out at once) to %g, or inf (waits until resumed)"

int lp_timeout_check(double seconds, const char *what)
{
	if (isnan(seconds) || seconds < 0 || (seconds > LP_TIMEOUT_MAX && !isinf(seconds)))
		return lpi_fail(LP_EINVAL, "%s " TIMEOUT_RULE ", not %g", what, LP_TIMEOUT_MAX,
				seconds);
	return LP_OK;
}

int lp_timeout_parse(double *out, const char *text, const char *what)
{
	char *end = NULL;
	errno = 0;
	double v = text ? strtod(text, &end) : NAN;
	if (text)
		while (*end == ' ' || *end == '\t')
			end++;
	if (text == NULL || end == text || *end != '\0' || lp_timeout_check(v, what) != LP_OK)
		return lpi_fail(LP_EINVAL, "%s " TIMEOUT_RULE ", not '%.40s'", what, LP_TIMEOUT_MAX,
				text ? text : "");
	*out = v;
	return LP_OK;
}

int lp_pause_begin(lp_pause **out, lp_run *run, const lp_pause_options *o)
{
	*out = NULL;
	if (o == NULL || o->version < 1 || o->version > LP_PAUSE_OPTIONS_VERSION)
		return lpi_fail(LP_EINVAL, "lp_pause_options missing or of an unknown version");
	if (o->kind != LP_KIND_FAILURE && o->kind != LP_KIND_CHECKPOINT &&
	    o->kind != LP_KIND_QUESTION)
		return lpi_fail(LP_EINVAL, "unknown pause kind %d", (int)o->kind);
	if (o->version >= 2 && o->choices && o->kind == LP_KIND_FAILURE)
		return lpi_fail(LP_EINVAL, "a failure pause takes no choices");
	int rc = lp_timeout_check(o->timeout, "pause timeout");
	if (rc)
		return rc;
	lp_pause *p = calloc(1, sizeof *p);
	if (p == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	p->run = run;
	p->kind = o->kind;
	p->spare.fd = -1;
	rc = lpi_new_pause_id(run->id, p->id);
	if (rc)
		goto fail;
	snprintf(p->file, sizeof p->file, "%s.json", p->id);
	snprintf(p->cmd, sizeof p->cmd, "%s.resume.json", p->id);
	/* the final file's temporary, made before the pause is visible (so
	 * that whoever sees the pause sees it too), off the path from a
	 * command to the test's decision; without one the take makes its own */
	if (lpi_file_spare(run->pauses_fd, &p->spare, "the pause's final file") != LP_OK)
		lpi_error_clear();
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/runs/%s/pauses/%s", run->store->path, run->id, p->file);
	p->path = lpi_strdup(path);
	p->hint = make_hint(p, o->version >= 2 ? o->choices : NULL);
	p->doc = lpj_object();
	if (!p->path || !p->hint || !p->doc) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto fail;
	}
	if (o->extra_json && strlen(o->extra_json) > LP_CAP_EXTRA) {
		rc = lpi_fail(LP_EINVAL, "extra pause fields are over %d KiB", LP_CAP_EXTRA / 1024);
		goto fail;
	}
	if ((rc = lpj_merge_text(p->doc, o->extra_json, 0, "extra pause fields")) ||
	    (rc = lpj_bound_strings(p->doc, LP_CAP_EXTRA_STRING)) || (rc = fill_doc(p, o)) ||
	    (rc = list_attachments(p, o)))
		goto fail;
	if ((rc = lpi_run_commands_waiter(run, &p->waiter)))
		goto fail;
	/* Indexed in pending/ before the pause file exists, so that every
	 * pause file is in pending/ or in the catalog (see catalog.c). The
	 * entry is closed after the pause file is published: that close is
	 * the event watchers of pending/ wake on to find the file. */
	int ifd = -1;
	if (run->store->pending_fd >= 0) {
		ifd = openat(run->store->pending_fd, p->id,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (ifd < 0) {
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot index pause %s in %s/pending",
					    p->id, run->store->path);
			goto fail;
		}
	}
	lpi_crash_point("begin:indexed"); /* indexed, no pause file */
	char *text = lpj_dump(p->doc);
	rc = text ? lpi_file_publish(run->pauses_fd, p->file, text, strlen(text), 1, p->path)
		  : LP_ERROR;
	free(text);
	if (rc == 1)
		rc = lpi_fail(LP_ERROR, "pause id %s collides with an existing pause", p->id);
	if (ifd >= 0) {
		close(ifd);
		if (rc)
			unlinkat(run->store->pending_fd, p->id, 0);
	}
	if (rc)
		goto fail;
	p->published = 1;
	lpi_crash_point("begin:pause_file"); /* pause file, no pause_created event */
	lp_json *ev = lpj_object();
	if (ev == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto fail;
	}
	if (!(rc = lpj_set_str(ev, "kind", lp_kind_name(p->kind))) &&
	    !(rc = lpj_set_str(ev, "nodeid", lpj_get_str(p->doc, "nodeid"))) &&
	    !(rc = lpj_set_int(ev, "pid", run->self.pid)) &&
	    !(rc = lpj_set_json(ev, "timeout", lpj_copy(lpj_get(p->doc, "timeout")))))
		rc = pause_event(p, "pause_created", ev);
	lpj_free(ev);
	if (rc)
		goto fail;
	int64_t now = lpi_mono_ms();
	/* 0: the deadline is now, the first look times out (as in 0.1.1) */
	p->deadline_ms = isinf(o->timeout) ? -1 : now + (int64_t)(o->timeout * 1000.0);
	p->next_beat_ms = now + (int64_t)(LP_HEARTBEAT_INTERVAL * 1000);
	*out = p;
	return LP_OK;
fail:
	lp_pause_free(p);
	return rc;
}

const char *lp_pause_id(const lp_pause *p)
{
	return p ? p->id : "";
}
const char *lp_pause_path(const lp_pause *p)
{
	return p ? p->path : "";
}
const char *lp_pause_resume_hint(const lp_pause *p)
{
	return p ? p->hint : "";
}

/* The verdict fields of both kinds, as 0.1.1 writes them at the end of
 * every pause: failure_reason, result and reason, null where they do not
 * apply to the pause's kind. */
static int verdict_fields(lp_json *o, lp_kind kind, const lpi_command *c)
{
	int failure = kind == LP_KIND_FAILURE;
	int rc = lpj_set_text(o, "failure_reason", failure ? c->failure_reason : NULL,
			      LP_CAP_REASON, 1);
	if (!rc)
		rc = lpj_set_result(o, "result",
				    kind == LP_KIND_CHECKPOINT ? c->result : LP_RESULT_NONE);
	/* an abort's reason is recorded for every kind: why the run stopped */
	if (!rc)
		rc = lpj_set_text(o, "reason",
				  failure && c->action != LP_ACTION_ABORT ? NULL : c->reason,
				  LP_CAP_REASON, 1);
	/* a value matches a choice exactly: never cut (the command's cap
	 * bounds it) */
	if (!rc && (c->value || !failure))
		rc = lpj_set_str(o, "value", failure ? NULL : c->value);
	return rc;
}

/* Append "; " and a formatted note to *warning (malloc'd, may be NULL). */
__attribute__((format(printf, 2, 3))) static void warn(char **warning, const char *fmt, ...)
{
	char note[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note, sizeof note, fmt, ap);
	va_end(ap);
	size_t old = *warning ? strlen(*warning) : 0;
	char *w = realloc(*warning, old + strlen(note) + 3);
	if (w == NULL)
		return;
	if (old)
		memcpy(w + old, "; ", 3);
	else
		w[0] = '\0';
	strcat(w, note);
	*warning = w;
}

/* The pause file could not be replaced atomically (disk full): rewrite it
 * in place, within the blocks it already has, so that the outcome is still
 * recorded. A reader may see a torn file for that moment. */
static int rewrite_in_place(lp_pause *p)
{
	char *text = lpj_dump(p->doc);
	if (text == NULL)
		return LP_ERROR;
	size_t len = strlen(text);
	int fd = openat(p->run->pauses_fd, p->file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	int ok = fd >= 0 && pwrite(fd, text, len, 0) == (ssize_t)len &&
		 ftruncate(fd, (off_t)len) == 0 && (lpi_fsync_disabled() || fsync(fd) == 0);
	int e = errno;
	if (fd >= 0)
		close(fd);
	free(text);
	return ok ? LP_OK : lpi_fail_errno(LP_ERROR, e, "cannot rewrite %s in place", p->path);
}

/* The resumer's attachments of command c (checked by check_attachments)
 * in out and appended to the pause file's list with source "resume". */
static int take_attachments(lp_pause *p, const lpi_command *c, lp_resolution *out)
{
	char run_path[PATH_MAX];
	snprintf(run_path, sizeof run_path, "%s/runs/%s", p->run->store->path, p->run->id);
	int rc = lpi_attachments_parse(c->attachments, "command", 0, run_path, &out->attachments,
				       &out->nattachments);
	lp_json *list = lpj_get(p->doc, "attachments");
	if (!rc && list == NULL) {
		if ((rc = lpj_set_json(p->doc, "attachments", lpj_array())) == LP_OK)
			list = lpj_get(p->doc, "attachments");
	}
	for (size_t i = 0; !rc && i < out->nattachments; i++) {
		out->attachments[i].blob = LP_BLOB_OK;
		rc = lpj_array_append(list, lpi_attachment_to_json(&out->attachments[i], 1));
	}
	return rc;
}

/* Before a command with attachments is taken: every blob it names is
 * there and matches its SHA-256, and with the pause's own they fit the
 * caps. LP_OK, or LP_EBADCMD saying why (the command is refused). */
static int check_attachments(lp_pause *p, const lpi_command *c, const char *label)
{
	lp_attachment *mine = NULL, *theirs = NULL;
	size_t nmine = 0, ntheirs = 0;
	const lp_json *listed = lpj_get(p->doc, "attachments");
	int rc = lpi_attachments_parse(c->attachments, label, 0, NULL, &theirs, &ntheirs);
	if (!rc && listed)
		rc = lpi_attachments_parse(listed, "pause file", 1, NULL, &mine, &nmine);
	lp_attachment *all = rc ? NULL : calloc(nmine + ntheirs + 1, sizeof *all);
	if (!rc && all == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; !rc && i < nmine + ntheirs; i++)
		all[i] = i < nmine ? mine[i] : theirs[i - nmine]; /* borrowed */
	char *why = NULL;
	if (!rc && lp_attachments_fit(all, nmine + ntheirs, &why) < nmine + ntheirs)
		rc = lpi_fail(LP_EBADCMD, "%s: %s", label, why ? why : "too many attachments");
	free(why);
	free(all);
	for (size_t i = 0; !rc && i < ntheirs; i++) {
		int v = lpi_blob_verify_entry(p->run->fd, lpj_array_get(c->attachments, i));
		if (v)
			rc = lpi_fail(LP_EBADCMD, "%s: attachment '%s': %s", label, theirs[i].name,
				      lp_error_message());
	}
	lpi_attachments_free(mine, nmine);
	lpi_attachments_free(theirs, ntheirs);
	return rc;
}

/*
 * Record the outcome decided by command c (its text as taken): the
 * resolution first, so the caller gets the verdict whatever happens next;
 * then the pause file, the catalog, pending/ and the event, each where
 * possible. What could not be recorded is added to *warning (handed to
 * out->warning). Returns LP_OK, or LP_ERROR when out of memory.
 */
static int finalize(lp_pause *p, const char *cmd_text, const lpi_command *c, int foreign,
		    char *warning, lp_resolution *out)
{
	const char *by = c->by ? c->by : "file";
	lp_outcome oc = lp_action_outcome(c->action);
	memset(out, 0, sizeof *out);
	out->outcome = oc;
	out->action = c->action;
	out->result = p->kind == LP_KIND_CHECKPOINT ? c->result : LP_RESULT_NONE;
	out->value = c->value && p->kind != LP_KIND_FAILURE ? lpi_strdup(c->value) : NULL;
	out->by = lpi_strdup(by);
	out->reason = c->reason ? lpi_strdup(c->reason) : NULL;
	out->failure_reason = c->failure_reason ? lpi_strdup(c->failure_reason) : NULL;
	out->command_json = lpi_strdup(cmd_text);
	out->token = c->token ? lpi_strdup(c->token) : NULL;
	out->ignored_json = lpj_dump(c->ignored);
	p->done = 1; /* decided: nothing else is taken, whatever is recorded */
	/* An abort command of another process stops the run, recorded before
	 * the pause file is final: once `abort` returns, no process of the
	 * run (another xdist worker resumed next) starts a test. */
	if (foreign && c->action == LP_ACTION_ABORT &&
	    lp_run_abort(p->run, p->id, lpj_get_str(p->doc, "nodeid"), c->reason) != LP_OK)
		warn(&warning, "the run could not be marked aborted: %s", lp_error_message());
	if (!out->by || (c->reason && !out->reason) ||
	    (c->failure_reason && !out->failure_reason) || !out->command_json ||
	    (c->token && !out->token) || !out->ignored_json ||
	    (c->value && p->kind != LP_KIND_FAILURE && !out->value)) {
		free(warning);
		lp_resolution_clear(out);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	lp_json *d = p->doc;
	int rc;
	if (c->attachments && (rc = take_attachments(p, c, out)))
		goto recorded;
	if ((rc = lpj_set_str(d, "status", lp_outcome_name(oc))) ||
	    (rc = lpj_set_real(d, "resolved_at", lpi_now())) ||
	    (rc = lpj_set_real(d, "finished_at", lpj_get_real(d, "resolved_at", 0))) ||
	    (rc = lpj_set_str(d, "resolved_by", by)) ||
	    (rc = lpj_set_str(d, "resolved_action", lp_action_name(c->action))) ||
	    (rc = lpj_set_str(d, "resolved_token", c->token)) ||
	    (rc = lpj_set_json(d, "resolved_ignored", lpj_copy(c->ignored))))
		goto recorded;
	rc = verdict_fields(d, p->kind, c);
	lpi_crash_point("take:decided"); /* command read and valid, not recorded */
	/* visible at once, durable in settle.c's thread: the test has its
	 * decision without waiting for the disk (the command that decided it
	 * was published unflushed, and has served: lpi_claim_flush) */
	char replaced[LPI_KEPT_MAX] = "";
	if (!rc && (rc = publish_doc(p, LP_PUBLISH_VOLATILE, replaced)) &&
	    rewrite_in_place(p) == LP_OK) {
		warn(&warning, "%s was rewritten in place (no room for a new copy)", p->path);
		rc = LP_OK;
	}
recorded:
	if (rc)
		warn(&warning, "the outcome could not be recorded in %s: %s", p->path,
		     lp_error_message());
	int recorded = rc == LP_OK;
	/* the end event and then 0.1.1's one end event (0.1.1's fields, and
	 * by), in one write */
	lp_json *ev = lpj_object(), *fin = lpj_object();
	rc = ev && fin ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc && !(rc = lpj_set_str(ev, "by", by)) &&
	    !(rc = lpj_set_str(ev, "outcome", lp_outcome_name(oc))) &&
	    !(rc = lpj_set_str(ev, "action", lp_action_name(c->action))) &&
	    !(rc = lpj_set_str(ev, "token", c->token)))
		rc = lpj_set_json(ev, "ignored", lpj_copy(c->ignored));
	if (!rc)
		rc = verdict_fields(ev, p->kind, c);
	if (!rc && warning)
		rc = lpj_set_text(ev, "warning", warning, LP_CAP_REASON, 0);
	if (!rc && !(rc = lpj_set_str(fin, "by", by)) &&
	    !(rc = lpj_set_str(fin, "outcome", lp_outcome_name(oc))))
		rc = verdict_fields(fin, p->kind, c);
	if (!rc && !(rc = pause_fields(p, ev)))
		rc = pause_fields(p, fin);
	char name[32];
	snprintf(name, sizeof name, "pause_%s", lp_outcome_name(oc));
	lpi_event both[] = {{name, ev}, {"pause_finished", fin}};
	if (!rc)
		rc = lpi_events_append_n(p->run->events_fd, p->run->id, both, 2);
	lpj_free(ev);
	lpj_free(fin);
	if (rc)
		warn(&warning, "the %s event could not be logged: %s", name, lp_error_message());
	/* fsync, catalog, pending/ (and the replaced pending file): in that
	 * order, in settle.c's thread; handed over after the events, whose
	 * append would otherwise wait behind that thread's fsync (ext4's
	 * journal) on the test's path */
	if (recorded)
		lpi_settle_pause(p->run, p->file, p->id, d, replaced);
	out->warning = warning;
	lpi_error_clear();
	return LP_OK;
}

static int same_entry(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Move a refused entry aside so the name is free for a valid one, and
 * report it (terminal hook and a command_rejected event). One that cannot
 * be moved aside is reported once per distinct entry (st: its lstat). */
static void reject(lp_pause *p, const char *why, const lp_wait_hooks *hooks, const struct stat *st)
{
	char msg[PATH_MAX + 1400], aside[LP_ID_MAX + 64], rnd[9];
	snprintf(msg, sizeof msg, "%s", why);
	if (lpi_random_hex(rnd, 4))
		memcpy(rnd, "00000000", 9);
	snprintf(aside, sizeof aside, "%s.rejected.%s", p->cmd, rnd);
	int moved = renameat(p->run->commands_fd, p->cmd, p->run->commands_fd, aside) == 0;
	if (!moved) {
		int e = errno;
		if (e == ENOENT)
			return; /* gone already (moved by another look, or its writer) */
		if (st && p->has_unmovable && same_entry(st, &p->unmovable))
			return; /* reported already */
		if (st) {
			p->unmovable = *st;
			p->has_unmovable = 1;
		}
		size_t n = strlen(msg);
		snprintf(
			msg + n, sizeof msg - n,
			"; it cannot be moved aside (%s): remove it to free the name (reported once)",
			strerror(e));
	}
	lp_json *ev = lpj_object();
	if (ev) {
		if (!lpj_set_str(ev, "error", msg) &&
		    !(moved ? lpj_set_str(ev, "moved_to", aside) : lpj_set_null(ev, "moved_to")))
			pause_event(p, "command_rejected", ev);
		lpj_free(ev);
	}
	lpi_error_clear();
	if (hooks && hooks->on_rejected)
		hooks->on_rejected(hooks->ud, msg);
}

/* Take the command at the claim's name if there is a valid one: LP_OK
 * (outcome recorded in out), 1 (none yet, a transient error, or a bad
 * entry, moved aside and reported), or LP_ERROR (out of memory). A
 * file that fails to parse while younger than 500 ms may be a writer's
 * partial file: it is left for the next look unless patient is 0.
 * own_token: the token of this process's own claim (NULL: none); a
 * command without it is another process's (an abort of theirs stops the
 * run). */
static int take(lp_pause *p, const lp_wait_hooks *hooks, int patient, const char *own_token,
		lp_resolution *out)
{
	char label[PATH_MAX + 64], *text;
	snprintf(label, sizeof label, "command file %s/runs/%s/commands/%s", p->run->store->path,
		 p->run->id, p->cmd);
	lpi_command c;
	struct stat st;
	memset(&st, 0, sizeof st);
	int r = lpi_claim_read(p->run->commands_fd, p->cmd, p->kind, label, patient, &c, &text,
			       &st);
	if (r == LP_CLAIM_NONE || r == LP_CLAIM_RETRY)
		return 1;
	if (r == LP_CLAIM_TAKEN &&
	    lpi_command_fits(&c, p->kind, lpj_get(p->doc, "choices"), label) != LP_OK) {
		lpi_command_clear(&c); /* a value that is not one of the choices */
		free(text);
		r = LP_CLAIM_BAD;
	}
	if (r == LP_CLAIM_BAD) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", lp_error_message());
		reject(p, msg, hooks, &st);
		return 1;
	}
	if (c.attachments && check_attachments(p, &c, label)) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", lp_error_message());
		lpi_command_clear(&c);
		free(text);
		reject(p, msg, hooks, &st);
		return 1;
	}
	int foreign = own_token == NULL || c.token == NULL || strcmp(c.token, own_token) != 0;
	int rc = finalize(p, text, &c, foreign, NULL, out);
	lpi_command_clear(&c);
	free(text);
	return rc;
}

static int heartbeat(lp_pause *p)
{
	/* the pause file's mtime is the heartbeat readers on other hosts judge */
	utimensat(p->run->pauses_fd, p->file, NULL, AT_SYMLINK_NOFOLLOW);
	p->next_beat_ms = lpi_mono_ms() + (int64_t)(LP_HEARTBEAT_INTERVAL * 1000);
	return LP_OK;
}

/* The claim could not be made (commands/ unwritable, the directory gone,
 * its name held by an entry that cannot be moved aside): end the pause
 * with our own command all the same, unclaimed, and say so. */
static int end_unclaimed(lp_pause *p, const char *text, const char *why, lp_resolution *out)
{
	lpi_command c;
	int rc = lpi_command_parse(text, strlen(text), p->kind, "command", &c);
	if (rc)
		return rc; /* cannot happen: lpi_command_build checked it */
	char *warning = NULL;
	warn(&warning, "pause %s ended %s without a claim file: %s", p->id,
	     lp_outcome_name(lp_action_outcome(c.action)), why);
	rc = finalize(p, text, &c, 0, warning, out);
	if (rc == LP_OK)
		out->own = 1;
	lpi_command_clear(&c);
	return rc;
}

int lpi_pause_settle(lp_pause *p)
{
	return p ? lpi_settle_drain(p->run) : LP_OK;
}

/* lpi_request_serve's hook: the pause file again, after an action's files
 * were added to its attachments. */
static int republish(void *ud)
{
	return publish_doc(ud, 0, NULL);
}

int lp_pause_wait(lp_resolution *out, lp_pause *p, const lp_wait_hooks *hooks)
{
	if (p == NULL || out == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_wait: pause and out are required");
	if (p->done)
		return lpi_fail(LP_EINVAL, "pause %s has already ended", p->id);
	for (;;) {
		int rc = take(p, hooks, 1, NULL, out);
		if (rc <= 0)
			return rc;
		int64_t now = lpi_mono_ms();
		if (p->deadline_ms >= 0 && now >= p->deadline_ms)
			return lp_pause_claim(out, p, LP_ACTION_TIMEOUT, "timeout", NULL);
		if (now >= p->next_beat_ms)
			heartbeat(p);
		/* a request (eval, exec, an action) is served, then look again */
		if ((rc = lpi_request_serve(p->run, p->id, p->doc, hooks, republish, p)) < 0)
			return rc;
		if (rc == 1)
			continue;
		int64_t wake = p->next_beat_ms;
		if (p->deadline_ms >= 0 && p->deadline_ms < wake)
			wake = p->deadline_ms;
		rc = lpi_waiter_wait(p->waiter, wake, hooks);
		if (rc == LP_EINTR || rc == LP_ERROR)
			return rc;
	}
}

/*
 * Claim the pause from its own process and take whichever command won:
 * build ours (checked as the take would check it: the verdict fields of
 * fields_json must fit the kind, LP_EINVAL otherwise), publish it
 * exclusively, then take what is at the name. A bad entry there is moved
 * aside and the claim tried again; when the claim cannot be published,
 * or its name stays held by an entry that cannot be moved, the pause ends
 * with our command unclaimed (out->warning). out->own says whether the
 * command taken is ours (its token).
 */
int lp_pause_claim(lp_resolution *out, lp_pause *p, lp_action action, const char *by,
		   const char *fields_json)
{
	if (p == NULL || by == NULL || out == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_claim: pause, by and out are required");
	if (p->done)
		return lpi_fail(LP_EINVAL, "pause %s has already ended", p->id);
	lpi_command_spec spec = {.action = action,
				 .by = by,
				 .result = LP_RESULT_NONE,
				 .fields_json = fields_json,
				 .pause_protocol = LP_PROTOCOL_VERSION,
				 .pause_id = p->id};
	int rc = LP_OK;
	for (int attempt = 0; !rc && attempt < 8; attempt++) {
		char token[LP_TOKEN_HEX + 1], *text, label[PATH_MAX];
		if ((rc = lpi_command_build(p->kind, &spec, token, &text))) {
			rc = lpi_fail(rc, "cannot claim pause %s: %s", p->id, lp_error_message());
			break;
		}
		snprintf(label, sizeof label, "command file of pause %s", p->id);
		rc = lpi_claim_publish(p->run->store, p->run->commands_fd, p->cmd, text, label);
		if (rc < 0) {
			char why[1024];
			snprintf(why, sizeof why, "%s", lp_error_message());
			rc = end_unclaimed(p, text, why, out);
			free(text);
			break;
		}
		rc = take(p, NULL, 0, token, out);
		if (rc <= 0) {
			if (rc == LP_OK)
				out->own = out->token && strcmp(out->token, token) == 0;
			free(text);
			break;
		}
		rc = LP_OK;
		if (attempt == 7) /* the name stays held: end it all the same */
			rc = end_unclaimed(
				p, text, "its name is held by an entry that cannot be moved aside",
				out);
		free(text);
		if (attempt == 7)
			break;
	}
	return rc;
}

int lp_pause_abort(lp_resolution *out, lp_pause *p, const char *signal_name)
{
	char fields[96];
	if (signal_name && strlen(signal_name) < 32 &&
	    lp_id_validate(signal_name, "signal") == LP_OK)
		snprintf(fields, sizeof fields, "{\"signal\":\"%s\"}", signal_name);
	else
		snprintf(fields, sizeof fields, "{\"signal\":null}");
	return lp_pause_claim(out, p, LP_ACTION_ABORT, "abort", fields);
}

void lp_pause_free(lp_pause *p)
{
	if (p == NULL)
		return;
	if (p->published && !p->done) {
		/* never leave a pause pending behind: end it as aborted */
		lp_resolution res = {0};
		if (lp_pause_abort(&res, p, NULL) == LP_OK)
			lp_resolution_clear(&res);
	}
	lpi_spare_drop(p->run->pauses_fd, &p->spare);
	lpj_free(p->doc);
	free(p->path);
	free(p->hint);
	free(p);
}
