/*
 * command.c - resuming a pause from another process (the CLI, or any
 * client of the runtime): check that the verdict fits the pause's kind
 * and that the pause can still be resumed, claim it by creating its
 * command file exclusively, and wait until the paused process has taken
 * the command. The loser of a race is told who won.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The pause was aborted: by its own process (by "abort": Ctrl-C,
 * SIGTERM, an error while paused) or by an abort command. */
static int aborted(const char *id, const char *by, const char *reason)
{
	if (by == NULL || strcmp(by, "abort") == 0)
		return lpi_fail(
			LP_EABORTED,
			"pause %s was aborted (Ctrl-C, SIGTERM or an error in its pytest process)",
			id);
	return lpi_fail(LP_EABORTED, "pause %s was aborted (by %s: %.200s); its run was stopped",
			id, by, reason ? reason : "no reason given");
}

/* Say why a pause that is not pending cannot be resumed. */
static int refuse_ended(const char *id, const lp_json *doc, const char *state)
{
	const char *by = lpj_get_str(doc, "resolved_by");
	if (strcmp(state, "resumed") == 0)
		return lpi_fail(LP_ERESUMED, "pause %s was already resumed (by %s); nothing to do",
				id, by ? by : "another command");
	if (strcmp(state, "timed_out") == 0)
		return lpi_fail(LP_ETIMEDOUT,
				"pause %s already timed out; the test went on without a verdict",
				id);
	if (strcmp(state, "aborted") == 0)
		return aborted(id, by, lpj_get_str(doc, "reason"));
	if (strcmp(state, "stale") == 0) {
		lpi_identity rec;
		lpj_get_identity(doc, &rec);
		return lpi_fail(
			LP_ESTALE,
			"pause %s is stale: its pytest process (pid %ld on %s) is gone, so there is nothing to resume",
			id, rec.pid, rec.hostname);
	}
	return lpi_fail(LP_EBADCMD, "pause %s has an unknown status '%s'", id, state);
}

/* Say who won from the action of the command that did. */
static int report_action(const char *id, lp_action action, const char *by, long pid)
{
	if (action == LP_ACTION_TIMEOUT)
		return lpi_fail(LP_ETIMEDOUT,
				"pause %s already timed out; the test went on without a verdict",
				id);
	if (action == LP_ACTION_ABORT)
		return aborted(id, by, NULL);
	if (pid)
		return lpi_fail(LP_ERESUMED,
				"pause %s was already resumed by another command (by %s, pid %ld)",
				id, by, pid);
	return lpi_fail(LP_ERESUMED, "pause %s was already resumed by another command (by %s)", id,
			by);
}

/* The claim's name is taken: say who claimed the pause first. Returns 1
 * if the entry there is not a valid command (the paused process will
 * move it aside, so try again). */
static int report_winner(int commands_fd, const char *id, const char *name, lp_kind kind)
{
	lpi_command c;
	char *text;
	if (lpi_claim_read(commands_fd, name, kind, "command file", 0, &c, &text, NULL) !=
	    LP_CLAIM_TAKEN)
		return 1;
	lp_json *j = NULL;
	long pid = 0;
	if (lpj_parse_object(text, strlen(text), "command file", &j) == LP_OK)
		pid = (long)lpj_get_int(j, "pid", 0);
	lpj_free(j);
	free(text);
	int rc = report_action(id, c.action, c.by ? c.by : "file", pid);
	lpi_command_clear(&c);
	return rc;
}

/* The value of the options (version 2 on). */
static const char *value_of(const lp_resume_options *o)
{
	return o->version >= 2 ? o->value : NULL;
}

static int check_options(const lp_resume_options *o)
{
	if (o == NULL || o->version < 1 || o->version > LP_RESUME_OPTIONS_VERSION)
		return lpi_fail(LP_EINVAL, "lp_resume_options missing or of an unknown version");
	const char *value = value_of(o);
	if (o->action == LP_ACTION_ABORT && (o->failure_reason || o->has_result || value))
		return lpi_fail(
			LP_EINVAL,
			"an abort takes a reason only (--reason TEXT), no verdict: --failure-reason, --result and --value are for resume");
	if (o->action == LP_ACTION_RESUME && o->failure_reason &&
	    (o->has_result || o->reason || value))
		return lpi_fail(
			LP_EINVAL,
			"--failure-reason is for failure pauses and --result/--reason/--value for checkpoints and questions: give one kind");
	if (o->has_result && o->result != LP_RESULT_TRUE && o->result != LP_RESULT_FALSE &&
	    o->result != LP_RESULT_NONE)
		return lpi_fail(LP_EINVAL, "result must be true, false or none");
	if (o->action != LP_ACTION_RESUME && o->action != LP_ACTION_ABORT &&
	    o->action != LP_ACTION_TIMEOUT)
		return lpi_fail(LP_EINVAL, "unknown action %d", (int)o->action);
	if (o->version >= 3 && o->nattach && o->attach == NULL)
		return lpi_fail(LP_EINVAL, "lp_resume_options: nattach without attach");
	return LP_OK;
}

/* The resumer's files: every one checked (type, size) and the pause's
 * caps (count, total with what it lists already) before the first is
 * copied; then each copied into the run's blob store. On LP_OK *out is
 * the command's "attachments" array (NULL: none). A file refused is
 * LP_EINVAL with nothing written; a copy that fails (disk full) leaves
 * no partial blob, and no command is written after it. */
static int store_attachments(const lp_resume_options *o, const lp_json *doc, int run_fd,
			     const char *run_path, const char *id, lp_json **out)
{
	*out = NULL;
	if (o->version < 3 || o->nattach == 0)
		return LP_OK;
	if (lpj_get_int(doc, "protocol", 0) < LP_PROTOCOL_ANSWERS)
		return lpi_fail(
			LP_EINVAL,
			"pause %s was made by an older pytest-live-pause (protocol < %d) that takes no attachments; nothing written",
			id, LP_PROTOCOL_ANSWERS);
	unsigned long long max =
		o->max_attachment_size ? o->max_attachment_size : LP_ATTACH_SIZE_DEFAULT;
	lp_attachment *have = NULL;
	size_t nhave = 0;
	const lp_json *listed = lpj_get(doc, "attachments");
	if (listed && lpj_typeof(listed) != LPJ_NULL &&
	    lpi_attachments_parse(listed, "pause file", 1, NULL, &have, &nhave))
		lpi_error_clear(); /* a pause file we cannot read counts as none */
	size_t n = nhave + o->nattach;
	lp_attachment *all = calloc(n, sizeof *all);
	if (all == NULL) {
		lpi_attachments_free(have, nhave);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	for (size_t i = 0; i < nhave; i++)
		all[i].size = have[i].size, all[i].name = have[i].name;
	int rc = LP_OK;
	for (size_t i = 0; !rc && i < o->nattach; i++) {
		rc = lpi_blob_source_check(o->attach[i], max, &all[nhave + i].size);
		all[nhave + i].name = (char *)o->attach[i];
	}
	char *why = NULL;
	if (!rc && lp_attachments_fit(all, n, &why) < n)
		rc = lpi_fail(LP_EINVAL, "pause %s: %s; nothing written", id,
			      why ? why : "too many");
	free(why);
	free(all); /* its names were borrowed */
	lpi_attachments_free(have, nhave);
	lp_json *arr = rc ? NULL : lpj_array();
	if (!rc && arr == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; !rc && i < o->nattach; i++) {
		lp_json *e;
		if ((rc = lpi_blob_put_entry(run_fd, run_path, o->attach[i], max, &e)))
			break;
		rc = lpj_array_append(arr, e);
	}
	if (rc) {
		lpj_free(arr);
		return rc;
	}
	*out = arr;
	return LP_OK;
}

/* The wait's hook says stop (Ctrl-C). */
static int interrupted(const lp_resume_options *o)
{
	return o->hooks && o->hooks->check && o->hooks->check(o->hooks->ud);
}

/* The options against the pause's kind and choices, before anything is
 * written: LP_EKIND (a usage error) with what to give instead. */
static int check_kind(const char *id, lp_kind kind, const lp_json *choices,
		      const lp_resume_options *o)
{
	const char *value = value_of(o);
	int has_choices = lpj_size(choices) > 0;
	if (o->action != LP_ACTION_RESUME)
		return LP_OK; /* an abort's reason fits every kind */
	if (kind == LP_KIND_FAILURE && (o->has_result || o->reason || value))
		return lpi_fail(
			LP_EKIND,
			"pause %s is a failure pause: --result and --reason are only for checkpoints (--value for checkpoints with choices and questions); use --failure-reason TEXT",
			id);
	if (kind != LP_KIND_FAILURE && o->failure_reason)
		return lpi_fail(
			LP_EKIND,
			"pause %s is a %s: --failure-reason is only for failure pauses; use %s", id,
			lp_kind_name(kind),
			kind == LP_KIND_QUESTION ? "--value TEXT [--reason TEXT]"
						 : "--result true|false|none [--reason TEXT]");
	if (kind == LP_KIND_QUESTION && o->has_result)
		return lpi_fail(
			LP_EKIND,
			value ? "pause %s is a question: --value answers it, --result is only for checkpoints; give --value TEXT without --result"
			      : "pause %s is a question: --result is only for checkpoints; answer it with --value TEXT",
			id);
	if (kind == LP_KIND_CHECKPOINT && value && !has_choices)
		return lpi_fail(
			LP_EKIND,
			"pause %s is a checkpoint without choices: --value is only for a checkpoint with choices and for a question; use --result true|false|none",
			id);
	if (value && has_choices && !lpi_choices_has(choices, value)) {
		char list[600];
		lpi_choices_list(list, sizeof list, choices);
		return lpi_fail(LP_EKIND, "pause %s takes --value %s, not '%.60s'; nothing written",
				id, list, value);
	}
	return LP_OK;
}

/* ------------------------------------------------- a pause made ready */

/*
 * What a resume reads before it writes, kept so that another resume of
 * the same pause later only checks it: the run's directories, the pause
 * file as read (its document, and an O_PATH descriptor of that very file:
 * while it is held its inode cannot be freed and given to another file),
 * and a hold on its process (lpi_identity_hold). One thread at a time.
 */
struct lp_prepared {
	lp_store *other; /* the store a pause-file path named (owned); or NULL */
	lp_store *s;     /* the pause's store */
	char id[LP_ID_MAX + 1], run_id[LP_ID_MAX + 1];
	char file[LP_ID_MAX + 8]; /* "<id>.json" in pauses/ */
	lp_run dirs;              /* .fd, .pauses_fd, .commands_fd */
	lp_json *doc;             /* the pause file as last read */
	double mtime;             /* its heartbeat, as last looked at */
	int file_fd;              /* O_PATH: the file doc was read from; -1: none held */
	struct stat st;           /* that file's stat when read */
	int pidfd;                /* the hold on its process; -1: judged by lpi_identity_judge */
};

static void prepared_init(lp_prepared *p)
{
	memset(p, 0, sizeof *p);
	p->dirs.fd = p->dirs.pauses_fd = p->dirs.commands_fd = p->dirs.events_fd = -1;
	p->file_fd = p->pidfd = -1;
}

static void prepared_clear(lp_prepared *p)
{
	int fds[] = {p->dirs.fd, p->dirs.pauses_fd, p->dirs.commands_fd, p->file_fd, p->pidfd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	lpj_free(p->doc);
	lp_store_free(p->other);
	prepared_init(p);
}

/* Read the pause file again (doc, mtime, the O_PATH hold on it). The
 * hold is taken after the read and kept only if it names the file read:
 * otherwise the next look reads again. */
static int prepared_read(lp_prepared *p)
{
	if (p->file_fd >= 0)
		close(p->file_fd);
	p->file_fd = -1;
	lp_json *doc;
	double mtime = 0;
	struct stat st;
	int rc = lpi_pause_load_at(p->s, p->dirs.pauses_fd, p->run_id, p->id, &doc, &mtime, &st);
	if (rc)
		return rc;
	lpj_free(p->doc);
	p->doc = doc;
	p->mtime = mtime;
	p->st = st;
	int fd = openat(p->dirs.pauses_fd, p->file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat held;
	if (fd >= 0 &&
	    (fstat(fd, &held) < 0 || held.st_dev != st.st_dev || held.st_ino != st.st_ino)) {
		close(fd);
		fd = -1;
	}
	p->file_fd = fd;
	return LP_OK;
}

/*
 * Contract: p->doc is the pause file as it is now. One fstatat(2) when
 * nothing changed: the name still names the held file (same device and
 * inode: not reused while held) with the same size, owner and mode, and
 * every writer of a pause file of ours replaces it with a new one (a
 * rewrite in place happens only after a take, when the disk is full, and
 * makes it longer); the heartbeat (mtime) is taken from that stat. A
 * pause file of an older protocol (< LP_PROTOCOL_REPLACED: 0.1.1's Python
 * may rewrite it in place) is read again every time, as is one that
 * changed.
 */
static int prepared_look(lp_prepared *p)
{
	if (p->file_fd < 0 || lpj_get_int(p->doc, "protocol", 0) < LP_PROTOCOL_REPLACED)
		return prepared_read(p);
	struct stat st;
	if (fstatat(p->dirs.pauses_fd, p->file, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != p->st.st_dev || st.st_ino != p->st.st_ino || st.st_size != p->st.st_size ||
	    st.st_uid != p->st.st_uid || st.st_mode != p->st.st_mode)
		return prepared_read(p);
	p->mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	return LP_OK;
}

/* lpi_pause_state of p->doc, its process judged by the hold when there
 * is one (one poll(2), not kill(2) and a read of /proc). */
static const char *prepared_state(const lp_prepared *p)
{
	const char *status = lpj_get_str(p->doc, "status");
	if (p->pidfd < 0 || status == NULL || strcmp(status, "pending") != 0)
		return lpi_pause_state(p->doc, p->mtime);
	return lpi_hold_judge(p->pidfd) == LP_LIVE_DEAD ? "stale" : "pending";
}

/* Contract: everything lp_pause_resume reads before it writes, into p
 * (cleared by prepared_clear whatever happens): the pause named by ref,
 * its run's directories, its pause file, the hold on its process. */
static int prepare(lp_prepared *p, lp_store *store, const char *ref)
{
	prepared_init(p);
	int rc = lpi_ref_resolve(store, ref, &p->other, p->id);
	if (rc)
		return rc;
	p->s = p->other ? p->other : store;
	p->dirs.store = p->s;
	snprintf(p->file, sizeof p->file, "%s.json", p->id);
	char label[PATH_MAX];
	if ((rc = lpi_pause_locate(p->s, p->id, p->run_id))) /* any shape of id */
		return rc;
	if ((rc = lpi_run_dirs_open_for(p->s, p->run_id, p->id, &p->dirs.fd)))
		return rc;
	snprintf(label, sizeof label, "%s/runs/%s/pauses", p->s->path, p->run_id);
	if ((rc = lpi_dir_open(p->dirs.fd, "pauses", 0, label, &p->dirs.pauses_fd)) ||
	    (rc = prepared_read(p)))
		return rc;
	snprintf(label, sizeof label, "%s/runs/%s/commands", p->s->path, p->run_id);
	if ((rc = lpi_dir_open(p->dirs.fd, "commands", 0, label, &p->dirs.commands_fd)))
		return rc;
	lpi_identity rec;
	lpj_get_identity(p->doc, &rec);
	const char *status = lpj_get_str(p->doc, "status");
	if (status && strcmp(status, "pending") == 0)
		p->pidfd = lpi_identity_hold(&rec);
	return LP_OK;
}

/* Wait until the pause file shows the pause is no longer pending. The
 * paused process takes a command within a millisecond or two, so this
 * looks again after a short, doubling delay (0.1 ms up to 20 ms) rather
 * than through inotify: closing an inotify descriptor costs a kernel RCU
 * grace period (~8 ms here), more than the whole wait. Each look is one
 * fstatat(2) until the file changes (prepared_look). */
static int wait_taken(lp_prepared *p, double take_timeout, const lp_resume_options *o)
{
	lpi_identity rec;
	lpj_get_identity(p->doc, &rec);
	const char *id = p->id;
	int64_t deadline = lpi_mono_ms() + (int64_t)(take_timeout * 1000.0);
	long delay_us = 100;
	for (;;) {
		int rc = prepared_look(p);
		if (rc)
			return rc;
		const char *status = lpj_get_str(p->doc, "status");
		if (status && strcmp(status, "pending") != 0)
			return LP_OK;
		if (strcmp(prepared_state(p), "stale") == 0)
			return lpi_fail(
				LP_ESTALE,
				"pause %s: its pytest process (pid %ld) died before taking the command",
				id, rec.pid);
		if (interrupted(o))
			return lpi_fail(
				LP_ENOTTAKEN,
				"interrupted while pause %s had not yet taken the command: the command stands, and its pytest process (pid %ld) will take it when it looks again",
				id, rec.pid);
		if (lpi_mono_ms() >= deadline)
			return lpi_fail(
				LP_ENOTTAKEN,
				"the command for pause %s was written, but its pytest process (pid %ld) has not taken it within %gs; it will be taken when that process looks again",
				id, rec.pid, take_timeout);
		struct timespec ts = {0, delay_us * 1000};
		nanosleep(&ts, NULL);
		if (delay_us < 20000)
			delay_us *= 2;
	}
}

/* The pause file is final: confirm that the command it took is ours (its
 * token), not one that replaced our claim; say who won otherwise. A pause
 * that records no token (its protocol predates tokens) is judged by its
 * status alone. */
static int confirm_own(const char *id, const lp_json *final, const char *token, lp_action action)
{
	const char *status = lpj_get_str(final, "status");
	const char *taken = lpj_get_str(final, "resolved_token");
	const char *by = lpj_get_str(final, "resolved_by");
	int typed = lpj_get_int(final, "protocol", 0) >= LP_PROTOCOL_TYPED;
	if (token[0] && typed) {
		if (taken && strcmp(taken, token) == 0)
			return LP_OK;
		lp_action won = LP_ACTION_RESUME;
		const char *a = lpj_get_str(final, "resolved_action");
		if ((a && strcmp(a, "abort") == 0) || (status && strcmp(status, "aborted") == 0))
			won = LP_ACTION_ABORT;
		else if ((a && strcmp(a, "timeout") == 0) ||
			 (status && strcmp(status, "timed_out") == 0))
			won = LP_ACTION_TIMEOUT;
		int rc = report_action(id, won, by ? by : "file", 0);
		if (won == LP_ACTION_RESUME)
			rc = lpi_fail(
				rc,
				"pause %s took another command than this one (by %s): its claim was replaced; the verdict recorded is that command's",
				id, by ? by : "file");
		return rc;
	}
	if (status && strcmp(status, lp_outcome_name(lp_action_outcome(action))) == 0)
		return LP_OK;
	return refuse_ended(id, final, status ? status : "?");
}

/* Contract: lp_pause_resume on a pause made ready (p): looked at again
 * (prepared_look) unless `fresh` (prepare() read it just now), then
 * judged, claimed and waited for as there. */
static int resume_prepared(lp_pause_info **info_out, lp_prepared *p, const lp_resume_options *o,
			   int fresh)
{
	lp_store *s = p->s;
	const char *id = p->id, *run_id = p->run_id;
	lp_json *attached = NULL;
	char *cmd = NULL;
	char label[PATH_MAX], name[LP_ID_MAX + 16], plabel[PATH_MAX];
	int rc = fresh ? LP_OK : prepared_look(p);
	if (rc)
		goto done;
	const lp_json *doc = p->doc;
	const char *k = lpj_get_str(doc, "kind");
	lp_kind kind = LP_KIND_FAILURE; /* 0.1.1 wrote no kind for failures */
	if (k && lp_kind_parse(k, &kind) != LP_OK) {
		rc = lpi_fail(
			LP_EBADCMD,
			"pause %s is of kind '%.40s', which this pytest-live-pause (protocol %d) does not know: use a newer one",
			id, k, LP_PROTOCOL_VERSION);
		goto done;
	}
	const lp_json *choices = lpj_get(doc, "choices");
	if (choices && lpj_typeof(choices) != LPJ_ARRAY)
		choices = NULL;
	if ((rc = check_kind(id, kind, choices, o)))
		goto done;
	const char *state = prepared_state(p);
	if (strcmp(state, "pending") != 0) {
		rc = refuse_ended(id, doc, state);
		goto done;
	}
	char token[LP_TOKEN_HEX + 1];
	lpi_command_spec spec = {.action = o->action,
				 .by = o->by ? o->by : "cli",
				 .failure_reason = o->failure_reason,
				 .result = o->has_result ? o->result : LP_RESULT_NONE,
				 .reason = o->reason,
				 .pause_protocol = (int)lpj_get_int(doc, "protocol", 0),
				 .pause_id = id,
				 .value = value_of(o),
				 .choices = choices};
	/* checked as the command will be, before any attachment is copied */
	if ((rc = lpi_command_build(kind, &spec, token, &cmd)))
		goto done;
	snprintf(name, sizeof name, "%s.resume.json", id);
	snprintf(plabel, sizeof plabel, "%s/runs/%s", s->path, run_id);
	if ((rc = store_attachments(o, doc, p->dirs.fd, plabel, id, &attached)))
		goto done;
	if (attached) {
		spec.attachments = attached;
		free(cmd);
		cmd = NULL;
		if ((rc = lpi_command_build(kind, &spec, token, &cmd)))
			goto done;
	}
	if (interrupted(o)) {
		rc = lpi_fail(
			LP_EINTR,
			"interrupted before the command for pause %s was written; nothing written",
			id);
		goto done;
	}
	double take_timeout = o->take_timeout == 0 ? LP_DEFAULT_TAKE_TIMEOUT : o->take_timeout;
	int64_t claim_deadline =
		lpi_mono_ms() + (int64_t)((take_timeout > 0 ? take_timeout : 1) * 1000);
	int commands_fd = p->dirs.commands_fd;
	for (;;) {
		snprintf(label, sizeof label, "command file %s/runs/%s/commands/%s", s->path,
			 run_id, name);
		rc = lpi_claim_publish(s, commands_fd, name, cmd, label);
		if (rc <= 0)
			break;
		/* someone claimed it first */
		rc = report_winner(commands_fd, id, name, kind);
		if (rc != 1) {
			/* the loser too returns only once the pause file is final,
			 * so that a watch started next never sees it pending */
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", lp_error_message());
			if (take_timeout > 0)
				wait_taken(p, take_timeout, o);
			lpi_fail(rc, "%s", msg);
			goto done;
		}
		if (lpi_mono_ms() >= claim_deadline) {
			rc = lpi_fail(
				LP_ENOTTAKEN,
				"pause %s has an unreadable command file that its process has not cleared; try again",
				id);
			goto done;
		}
		if (interrupted(o)) {
			rc = lpi_fail(
				LP_EINTR,
				"interrupted before the command for pause %s was written; nothing written",
				id);
			goto done;
		}
		lpi_waiter *w;
		if ((rc = lpi_waiter_open(&w)))
			goto done;
		lpi_waiter_add_dir(w, commands_fd, "commands");
		lpi_waiter_wait(w, claim_deadline, o->hooks);
		lpi_waiter_free(w);
	}
	if (rc)
		goto done;
	/* published, not flushed (lpi_claim_publish): flushed only if it is
	 * left standing untaken, for the process that takes it later */
	if (take_timeout < 0) {
		lpi_claim_flush(commands_fd, name);
		rc = LP_OK;
		goto done;
	}
	if ((rc = wait_taken(p, take_timeout, o))) {
		lpi_claim_flush(commands_fd, name);
		goto done;
	}
	rc = confirm_own(id, p->doc, token, o->action);
done:
	if (info_out && p->doc)
		lpi_info_from_json(s, run_id, id, p->doc, p->mtime, 1, info_out);
	lpj_free(attached);
	free(cmd);
	return rc;
}

int lp_pause_resume(lp_pause_info **info_out, lp_store *store, const char *ref,
		    const lp_resume_options *o)
{
	if (info_out)
		*info_out = NULL;
	int rc = check_options(o);
	if (rc)
		return rc;
	lp_prepared p;
	if ((rc = prepare(&p, store, ref)) == LP_OK)
		rc = resume_prepared(info_out, &p, o, 1);
	prepared_clear(&p);
	return rc;
}

int lp_pause_prepare(lp_prepared **out, lp_store *store, const char *ref)
{
	if (out == NULL || ref == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_prepare: out and ref are required");
	*out = NULL;
	lp_prepared *p = malloc(sizeof *p);
	if (p == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = prepare(p, store, ref);
	if (rc) {
		prepared_clear(p);
		free(p);
		return rc;
	}
	*out = p;
	return LP_OK;
}

int lp_pause_resume_prepared(lp_pause_info **info_out, lp_prepared *p, const lp_resume_options *o)
{
	if (info_out)
		*info_out = NULL;
	if (p == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_resume_prepared: no pause");
	int rc = check_options(o);
	return rc ? rc : resume_prepared(info_out, p, o, 0);
}

const char *lp_prepared_pause_id(const lp_prepared *p)
{
	return p ? p->id : NULL;
}

const char *lp_prepared_run_id(const lp_prepared *p)
{
	return p ? p->run_id : NULL;
}

void lp_prepared_free(lp_prepared *p)
{
	if (p == NULL)
		return;
	prepared_clear(p);
	free(p);
}

/* "attachments": [{"name", "sha256", "size"}, ...] of the attachments a
 * resume gave (source "resume"), in the pause's order. */
static int set_resume_attachments(lp_json *o, const lp_pause_info *info)
{
	lp_json *arr = lpj_array();
	int rc = arr ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; !rc && info && i < info->nattachments; i++) {
		const lp_attachment *at = &info->attachments[i];
		if (at->source == NULL || strcmp(at->source, "resume") != 0)
			continue;
		lp_json *e = lpj_object();
		if (e == NULL)
			rc = lpi_fail(LP_ERROR, "out of memory");
		if (!rc)
			rc = lpj_set_str(e, "name", at->name);
		if (!rc)
			rc = lpj_set_str(e, "sha256", at->sha256);
		if (!rc)
			rc = lpj_set_int(e, "size", (long long)at->size);
		if (rc)
			lpj_free(e);
		else
			rc = lpj_array_append(arr, e);
	}
	if (rc) {
		lpj_free(arr);
		return rc;
	}
	return lpj_set_json(o, "attachments", arr);
}

/*
 * Contract: *out gets {"pause_id", "kind", "status", "run_id", "nodeid"}
 * of the pause lp_pause_resume() resumed, from info (the pause as last read),
 * and with with_attachments "attachments": [{"name", "sha256", "size"}]
 * of those the resume gave; pause_id is `ref` when info (or its id) is
 * missing, and a missing field is null. One line, escaped as every JSON
 * line of the runtime. LP_EINVAL for a NULL out or both info and ref
 * NULL; LP_ERROR when memory runs out.
 */
int lp_resume_outcome_json(char **out, const lp_pause_info *info, const char *ref,
			   int with_attachments)
{
	static const char *const keys[] = {"pause_id", "kind", "status", "run_id", "nodeid"};
	const char *values[5] = {info && info->pause_id ? info->pause_id : ref, NULL, NULL, NULL,
				 NULL};
	if (out == NULL || values[0] == NULL)
		return lpi_fail(LP_EINVAL, "lp_resume_outcome_json: NULL argument");
	*out = NULL;
	if (info) {
		values[1] = info->kind;
		values[2] = info->status;
		values[3] = info->run_id;
		values[4] = info->nodeid;
	}
	lp_json *o = lpj_object();
	int rc = o ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; i < 5 && !rc; i++)
		rc = lpj_set_str(o, keys[i], values[i]);
	if (!rc && with_attachments)
		rc = set_resume_attachments(o, info);
	if (!rc && (*out = lpj_dump_ordered(o)) == NULL)
		rc = LP_ERROR;
	lpj_free(o);
	return rc;
}
