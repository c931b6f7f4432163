/*
 * claim.c - the command file, commands/<pause_id>.resume.json (the
 * claim), end to end: its schema (built and parsed here only), the
 * exclusive publish, and reading the entry at its name whatever it is
 * (the names of kinds, actions and outcomes are names.c's).
 * docs/protocol.md, "The command file", is the normative text.
 *
 * Two formats share one name:
 *   - typed (protocol >= 2): the command has "action"; every known field
 *     must have its type and fit the pause's kind, else it is refused;
 *   - seed (0.1.1's, and any foreign writer's): no "action"; read as 0.1.1
 *     read it: a known field of the wrong type or of the other kind is
 *     ignored (counts as null), so every file 0.1.1 took is taken.
 * In both, unknown fields are ignored and recorded (lpi_command.ignored),
 * so an older paused process takes a newer writer's command. The action
 * alone decides the outcome; "by" is provenance and decides nothing.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BY_MAX 64 /* bytes of a "by" (provenance) */

void lpi_command_clear(lpi_command *c)
{
	if (c == NULL)
		return;
	free(c->by);
	free(c->token);
	free(c->failure_reason);
	free(c->reason);
	free(c->value);
	lpj_free(c->ignored);
	lpj_free(c->attachments);
	memset(c, 0, sizeof *c);
	c->result = LP_RESULT_NONE;
}

/* ------------------------------------------------------------ parsing */

/* Token: 1..64 bytes of [A-Za-z0-9._-] (ours are 32 hex digits). */
static int token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > LP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

struct walk {
	lp_kind kind;
	lpi_command *c;
	const char *label;
};

static int ignore(struct walk *w, const char *key)
{
	return lpj_array_append_str(w->c->ignored, key);
}

/* A field of the wrong type: refused in a typed command, ignored in a
 * seed-format one (0.1.1 read such a value as null). */
static int wrong_type(struct walk *w, const char *key, const char *want)
{
	if (!w->c->typed)
		return ignore(w, key);
	return lpi_fail(LP_EBADCMD, "%s: command field '%s' must be %s", w->label, key, want);
}

static int take_string(struct walk *w, const char *key, const lp_json *v, char **dst)
{
	if (lpj_typeof(v) == LPJ_NULL)
		return LP_OK;
	if (lpj_typeof(v) != LPJ_STRING)
		return wrong_type(w, key, "a string or null");
	*dst = lpi_strdup(lpj_string_value(v));
	return *dst ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
}

/* Whether verdict field `key` fits a pause of `kind` under `action`:
 * failure_reason for failures; result for checkpoints; value for
 * checkpoints (with choices: checked by lpi_command_fits) and questions;
 * reason for checkpoints, questions, and any kind's abort. */
static int fits_kind(const char *key, lp_kind kind, lp_action action)
{
	if (strcmp(key, "failure_reason") == 0)
		return kind == LP_KIND_FAILURE;
	if (strcmp(key, "result") == 0)
		return kind == LP_KIND_CHECKPOINT;
	if (strcmp(key, "value") == 0)
		return kind != LP_KIND_FAILURE;
	return kind != LP_KIND_FAILURE || action == LP_ACTION_ABORT; /* reason */
}

static const char *fields_of(lp_kind kind)
{
	switch (kind) {
	case LP_KIND_CHECKPOINT: return "use 'result', 'reason' (and 'value' with choices)";
	case LP_KIND_QUESTION: return "use 'value' and 'reason'";
	default: return "use 'failure_reason'";
	}
}

/* One member of the command. The verdict fields are checked against the
 * kind; metadata by type; anything else is ignored and recorded. */
static int field(const char *key, const lp_json *v, void *ud)
{
	struct walk *w = ud;
	lpi_command *c = w->c;
	lpj_type t = lpj_typeof(v);
	if (strcmp(key, "action") == 0)
		return LP_OK; /* read first, in lpi_command_parse */
	if (strcmp(key, "failure_reason") == 0 || strcmp(key, "result") == 0 ||
	    strcmp(key, "reason") == 0 || strcmp(key, "value") == 0) {
		if (!fits_kind(key, w->kind, c->action)) {
			if (t == LPJ_NULL)
				return LP_OK;
			if (!c->typed)
				return ignore(w, key);
			return lpi_fail(LP_EBADCMD,
					"%s: command has '%s' but the pause is a %s: %s", w->label,
					key, lp_kind_name(w->kind), fields_of(w->kind));
		}
		if (key[0] == 'f')
			return take_string(w, key, v, &c->failure_reason);
		if (strcmp(key, "reason") == 0)
			return take_string(w, key, v, &c->reason);
		if (key[0] == 'v')
			return take_string(w, key, v, &c->value);
		c->has_result = 1;
		if (t == LPJ_BOOL)
			c->result = lpj_is_true(v) ? LP_RESULT_TRUE : LP_RESULT_FALSE;
		else if (t != LPJ_NULL)
			return wrong_type(w, key, "true, false or null");
		return LP_OK;
	}
	if (strcmp(key, "by") == 0) {
		if (t != LPJ_STRING || lpj_string_value(v)[0] == '\0' ||
		    strlen(lpj_string_value(v)) > BY_MAX)
			return wrong_type(w, key, "a string of 1 to 64 bytes");
		return take_string(w, key, v, &c->by);
	}
	if (strcmp(key, "token") == 0) {
		if (t != LPJ_STRING || !token_ok(lpj_string_value(v)))
			return wrong_type(w, key, "1 to 64 characters of [A-Za-z0-9._-]");
		return take_string(w, key, v, &c->token);
	}
	if (strcmp(key, "pid") == 0 || strcmp(key, "protocol") == 0)
		return lpj_is_integer(v) ? LP_OK : wrong_type(w, key, "an integer");
	if (strcmp(key, "created_at") == 0)
		return t == LPJ_NUMBER ? LP_OK : wrong_type(w, key, "a number");
	if (strcmp(key, "hostname") == 0)
		return t == LPJ_STRING ? LP_OK : wrong_type(w, key, "a string");
	if (strcmp(key, "signal") == 0)
		return t == LPJ_STRING || t == LPJ_NULL ? LP_OK
							: wrong_type(w, key, "a string or null");
	if (strcmp(key, "payload") == 0 || strcmp(key, "user") == 0)
		return LP_OK; /* any value */
	if (strcmp(key, "attachments") == 0) {
		size_t n;
		if (t == LPJ_NULL)
			return LP_OK;
		if (lpi_attachments_parse(v, w->label, 0, NULL, NULL, &n))
			return c->typed ? LP_EBADCMD : ignore(w, key);
		c->attachments = lpj_copy(v);
		return c->attachments ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	}
	return ignore(w, key); /* a newer writer's field: forward compatible */
}

/* lpi_command_parse; *json_bad says whether the text failed as JSON (a
 * writer's partial file looks like that) rather than as a command. */
static int command_parse(const char *text, size_t len, lp_kind kind, const char *label,
			 lpi_command *c, int *json_bad)
{
	*json_bad = 0;
	memset(c, 0, sizeof *c);
	c->result = LP_RESULT_NONE;
	if (len > LP_CAP_COMMAND)
		return lpi_fail(LP_EBADCMD, "%s is %zu bytes, over the limit of %d bytes", label,
				len, LP_CAP_COMMAND);
	lp_json *j;
	int rc = lpj_parse_object(text, len, label, &j);
	if (rc) {
		*json_bad = 1;
		return rc;
	}
	c->ignored = lpj_array();
	if (c->ignored == NULL) {
		lpj_free(j);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	lp_json *a = lpj_get(j, "action");
	if (a != NULL) {
		c->typed = 1;
		const char *name = lpj_string_value(a);
		if (name == NULL)
			rc = lpi_fail(LP_EBADCMD, "%s: command field 'action' must be a string",
				      label);
		else if (lpi_action_parse(name, &c->action))
			rc = lpi_fail(
				LP_EBADCMD,
				"%s: unknown action '%.60s'; this paused process (protocol %d) takes resume, abort or timeout",
				label, name, LP_PROTOCOL_VERSION);
	}
	struct walk w = {kind, c, label};
	if (!rc)
		rc = lpj_foreach(j, field, &w);
	lpj_free(j);
	if (rc)
		lpi_command_clear(c);
	return rc;
}

int lpi_command_parse(const char *text, size_t len, lp_kind kind, const char *label, lpi_command *c)
{
	int json_bad;
	return command_parse(text, len, kind, label, c, &json_bad);
}

int lpi_choices_has(const lp_json *choices, const char *value)
{
	for (size_t i = 0; i < lpj_size(choices); i++) {
		const char *ch = lpj_string_value(lpj_array_get(choices, i));
		if (ch && strcmp(ch, value) == 0)
			return 1;
	}
	return 0;
}

void lpi_choices_list(char *buf, size_t size, const lp_json *choices)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < lpj_size(choices) && n + 1 < size; i++) {
		const char *ch = lpj_string_value(lpj_array_get(choices, i));
		int k = snprintf(buf + n, size - n, "%s'%.40s'", i ? ", " : "", ch ? ch : "?");
		if (k < 0)
			break;
		n += (size_t)k;
	}
}

int lpi_command_fits(const lpi_command *c, lp_kind kind, const lp_json *choices, const char *label)
{
	if (c->value == NULL || c->action != LP_ACTION_RESUME)
		return LP_OK;
	int has = choices != NULL && lpj_size(choices) > 0;
	if (kind == LP_KIND_CHECKPOINT && !has)
		return lpi_fail(
			LP_EBADCMD,
			"%s: command has 'value' but the checkpoint has no choices: use 'result' and 'reason'",
			label);
	if (has && !lpi_choices_has(choices, c->value)) {
		char list[512];
		lpi_choices_list(list, sizeof list, choices);
		return lpi_fail(LP_EBADCMD, "%s: value '%.60s' is not one of the choices %s", label,
				c->value, list);
	}
	return LP_OK;
}

/* ----------------------------------------------------------- building */

static const char *const extra_keys[] = {"failure_reason", "result",  "reason", "value",
					 "signal",         "payload", "user",   NULL};

int lpi_command_build(lp_kind kind, const lpi_command_spec *s, char token[LP_TOKEN_HEX + 1],
		      char **text)
{
	*text = NULL;
	token[0] = '\0';
	const char *id = s->pause_id ? s->pause_id : "?";
	int typed = s->pause_protocol >= LP_PROTOCOL_TYPED;
	if (s->by == NULL || s->by[0] == '\0' || strlen(s->by) > BY_MAX)
		return lpi_fail(LP_EINVAL, "a command's 'by' must be 1 to %d bytes", BY_MAX);
	if (!typed && s->action != LP_ACTION_RESUME)
		return lpi_fail(
			LP_EINVAL,
			"pause %s was made by an older pytest-live-pause (protocol %d) that takes no '%s' command; only resume; nothing written",
			id, s->pause_protocol, lp_action_name(s->action));
	if (s->pause_protocol < LP_PROTOCOL_ANSWERS && s->action == LP_ACTION_ABORT)
		return lpi_fail(
			LP_EINVAL,
			"pause %s was made by an older pytest-live-pause (protocol %d) that cannot stop its run on abort (protocol %d can); nothing written",
			id, s->pause_protocol, LP_PROTOCOL_ANSWERS);
	if (s->pause_protocol < LP_PROTOCOL_ANSWERS && s->value)
		return lpi_fail(
			LP_EINVAL,
			"pause %s was made by an older pytest-live-pause (protocol %d) that takes no --value (protocol %d does); nothing written",
			id, s->pause_protocol, LP_PROTOCOL_ANSWERS);
	lp_json *c = lpj_object();
	if (c == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = LP_OK;
	if (s->fields_json) {
		lp_json *extra;
		rc = lpj_parse_object(s->fields_json, strlen(s->fields_json), "command fields",
				      &extra);
		if (rc) {
			lpj_free(c);
			return lpi_fail(LP_EINVAL, "%s", lp_error_message());
		}
		const char *bad = lpj_unknown_key(extra, extra_keys);
		if (bad)
			rc = lpi_fail(
				LP_EINVAL,
				"command field '%.60s' cannot be set here; allowed: failure_reason, result, reason, value, signal, payload, user",
				bad);
		lpj_free(c);
		c = extra; /* starts from them; the fields below are ours */
	}
	if (!rc && typed && !(rc = lpi_random_hex(token, LP_TOKEN_HEX / 2)))
		if (!(rc = lpj_set_str(c, "action", lp_action_name(s->action))))
			rc = lpj_set_str(c, "token", token);
	/* the verdict: the spec's, unless fields_json gave it (checked below) */
	if (!rc && s->action == LP_ACTION_RESUME) {
		if (kind == LP_KIND_FAILURE) {
			if (!lpj_has(c, "failure_reason"))
				rc = lpj_set_str(c, "failure_reason", s->failure_reason);
		} else {
			if (kind == LP_KIND_CHECKPOINT && !lpj_has(c, "result"))
				rc = lpj_set_result(c, "result", s->result);
			if (!rc && !lpj_has(c, "reason"))
				rc = lpj_set_str(c, "reason", s->reason);
			if (!rc && s->value && !lpj_has(c, "value"))
				rc = lpj_set_str(c, "value", s->value);
		}
	} else if (!rc && s->action == LP_ACTION_ABORT && s->reason && !lpj_has(c, "reason")) {
		rc = lpj_set_str(c, "reason", s->reason); /* why the run is stopped */
	}
	if (!rc && s->attachments)
		rc = lpj_set_json(c, "attachments", lpj_copy(s->attachments));
	if (!rc && !(rc = lpj_set_str(c, "by", s->by)) &&
	    !(rc = lpj_set_int(c, "pid", (long long)getpid())) &&
	    !(rc = lpj_set_str(c, "hostname", lpi_hostname())) &&
	    !(rc = lpj_set_real(c, "created_at", lpi_now())) && typed)
		rc = lpj_set_int(c, "protocol", LP_PROTOCOL_VERSION);
	char *out = rc ? NULL : lpj_dump(c);
	lpj_free(c);
	if (out == NULL)
		return rc ? rc : LP_ERROR;
	/* the paused process's own rules and caps, before anything is written */
	size_t len = strlen(out);
	lpi_command check;
	if (len > LP_CAP_COMMAND)
		rc = lpi_fail(
			LP_EINVAL,
			"the command for pause %s would be %zu bytes, over the %d bytes its process accepts; shorten the reason; nothing written",
			id, len, LP_CAP_COMMAND);
	else if ((rc = lpi_command_parse(out, len, kind, "command", &check)))
		rc = lpi_fail(LP_EINVAL, "pause %s cannot take this command: %s; nothing written",
			      id, lp_error_message());
	else {
		if ((rc = lpi_command_fits(&check, kind, s->choices, "command")))
			rc = lpi_fail(LP_EINVAL,
				      "pause %s cannot take this command: %s; nothing written", id,
				      lp_error_message());
		lpi_command_clear(&check);
	}
	if (rc) {
		free(out);
		return rc;
	}
	*text = out;
	return LP_OK;
}

/* ------------------------------------------------ publishing, reading */

int lpi_claim_publish(lp_store *store, int commands_fd, const char *name, const char *text,
		      const char *label)
{
	/* visible at once and not flushed: the paused process takes it with
	 * no disk flush of ours in its way (a flush here held its rename of
	 * the final pause file in the journal, issue 11.8); lpi_claim_flush
	 * makes it durable when the take is not seen. Through the store's
	 * file made ahead (lp_store_warm) where it keeps one: no file is
	 * created on the way to the paused process. */
	int rc = lpi_store_link_spare(store, commands_fd, name, text, strlen(text));
	if (rc >= 0)
		return rc;
	return lpi_file_publish(commands_fd, name, text, strlen(text),
				LP_PUBLISH_EXCLUSIVE | LP_PUBLISH_VOLATILE, label);
}

/*
 * Contract: flush commands/<name> and the directory, best effort (the
 * command is published whatever this does, so a failed flush changes
 * nothing a reader sees). Called by the resumer when its command stands
 * untaken: with --no-wait, or when the wait for the take ended first
 * (timeout, interruption, a dead process), so that the command survives a
 * power loss for the process that takes it later. After a take it is not
 * called: the pause's final file, made durable by the paused process's
 * settle thread, records the verdict, and the command has served.
 */
void lpi_claim_flush(int commands_fd, const char *name)
{
	lpi_crash_point("claim:flush"); /* published, untaken, not flushed */
	if (lpi_file_flush(commands_fd, name) != LP_OK)
		lpi_error_clear(); /* best effort, as said above */
}

static const char *type_name(mode_t m)
{
	if (S_ISSOCK(m))
		return "a UNIX socket";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symlink";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

static int transient(int e)
{
	return e == EMFILE || e == ENFILE || e == EINTR || e == ENOMEM || e == EAGAIN ||
	       e == ENOBUFS;
}

int lpi_claim_read(int commands_fd, const char *name, lp_kind kind, const char *label, int patient,
		   lpi_command *c, char **text, struct stat *st_out)
{
	memset(c, 0, sizeof *c);
	c->result = LP_RESULT_NONE;
	*text = NULL;
	/* read first (the stat of the descriptor read is the entry's), and
	 * only when that fails look at what the name holds: no lstat before
	 * every read of a command on the way to the test */
	struct stat st;
	size_t len;
	int rc = lpi_file_read_st(commands_fd, name, LP_CAP_COMMAND, label, text, &len, &st);
	int e = errno;
	if (rc == LP_ENOTFOUND)
		return LP_CLAIM_NONE;
	if (rc == LP_ERROR && transient(e))
		return LP_CLAIM_RETRY;
	if (rc) {
		char why[1024];
		snprintf(why, sizeof why, "%s", lp_error_message());
		struct stat lst;
		if (fstatat(commands_fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return LP_CLAIM_NONE; /* gone meanwhile */
			if (transient(errno))
				return LP_CLAIM_RETRY;
			lpi_fail_errno(LP_EBADCMD, errno, "cannot inspect %s", label);
			return LP_CLAIM_BAD;
		}
		if (st_out)
			*st_out = lst;
		if (!S_ISREG(lst.st_mode))
			lpi_fail(LP_EBADCMD, "%s is %s, not a regular file", label,
				 type_name(lst.st_mode));
		else
			lpi_fail(LP_EBADCMD, "%s", why);
		return LP_CLAIM_BAD;
	}
	if (st_out)
		*st_out = st;
	int json_bad;
	rc = command_parse(*text, len, kind, label, c, &json_bad);
	if (rc == LP_OK)
		return LP_CLAIM_TAKEN;
	free(*text);
	*text = NULL;
	if (rc == LP_ERROR) /* out of memory */
		return LP_CLAIM_RETRY;
	if (patient && json_bad &&
	    lpi_now() - ((double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9) < 0.5)
		return LP_CLAIM_RETRY; /* maybe a writer's partial file */
	return LP_CLAIM_BAD;
}
