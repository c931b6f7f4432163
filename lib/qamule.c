/*
 * qamule.c - QAMule compatibility: the request of a QAMule-mode pause (its
 * result directory, request id and result path) and the reading of the
 * result file an agent writes there before it sends the resume signal,
 * with QAMule's validation rules (docs/qamule.md).
 *
 * The result directory gets the pause directory's trust rules: created
 * 0700, refused when it is a symlink, another user's or writable by group
 * or others (and, inside a world-writable directory such as /tmp, open to
 * group or others at all), and every result file is opened relative to
 * its verified descriptor with O_NOFOLLOW. A result file is consumed as
 * it is read: renamed aside first (so what is read is exactly what was
 * there at the signal, and a later file is a new one), then removed, so
 * that an older result can never be read again in place of a newer one.
 * It is read like a command file: only a regular file owned by this
 * user, size-capped before parsing, strict JSON.
 *
 * It also owns QAMule mode's decisions: how the signal plus the result
 * file becomes the claim (lp_qamule_claim: action resume, by "signal"),
 * how any ending reads in QAMule's terms (lp_qamule_ending_from: its
 * outcome, has_result, agent_checkpoint()'s value), and the QAMULE_*
 * machine lines, written as QAMule's plugin printed them (Python's
 * json.dumps with sorted keys). Catching the signal and printing are the
 * caller's.
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
#include <unistd.h>

/* The messages of QAMule's plugin, kept word for word: agents may show or
 * match them. */
#define MSG_MISSING "Checkpoint resumed without a result payload."
#define MSG_MISSING_FAILURE "Pause resumed without a result payload."
#define MSG_INVALID_JSON "Invalid pause result JSON: "
#define MSG_NOT_OBJECT "Pause result must be a JSON object."
#define MSG_RESULT_TYPE                                                                            \
	"Agent checkpoint result must be JSON like {'result': true|false, 'reason': '...'}."
#define MSG_REASON_TYPE "Agent checkpoint result field 'reason' must be a string."
#define MSG_EXTRA_KEYS "Agent checkpoint result JSON only accepts 'result' and 'reason'."

const char *lp_qamule_status_name(lp_qamule_status status)
{
	switch (status) {
	case LP_QAMULE_MISSING_RESULT: return "missing_result";
	case LP_QAMULE_INVALID_RESULT: return "invalid_result";
	default: return "ok";
	}
}

void lp_qamule_result_clear(lp_qamule_result *res)
{
	if (res == NULL)
		return;
	free(res->message);
	free(res->reason);
	free(res->payload_json);
	memset(res, 0, sizeof *res);
	res->result = LP_RESULT_NONE;
}

/* ------------------------------------------------------------ request */

/* mkdir -p: the missing components are made 0700. */
static int make_dirs(char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return -1;
	*slash = '\0';
	int rc = make_dirs(path);
	*slash = '/';
	if (rc < 0)
		return -1;
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Copy result_dir without its trailing slashes into dir (PATH_MAX). */
static int dir_name(const char *result_dir, char dir[PATH_MAX])
{
	if (result_dir == NULL || result_dir[0] == '\0')
		return lpi_fail(
			LP_EINVAL,
			"the QAMule result directory is empty: pass --pause-result-dir DIR");
	size_t n = strlen(result_dir);
	while (n > 1 && result_dir[n - 1] == '/')
		n--; /* "dir/" and "dir" name the same directory */
	if (n >= PATH_MAX - LP_QAMULE_REQUEST_ID_LEN - 32)
		return lpi_fail(LP_EINVAL, "QAMule result directory is too long: %.80s...",
				result_dir);
	memcpy(dir, result_dir, n);
	dir[n] = '\0';
	return LP_OK;
}

/* Whether the directory holding path is world-writable (a shared
 * directory such as /tmp, where others may look or plant). */
static int in_shared_dir(const char *path)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash == NULL)
		snprintf(parent, sizeof parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	return stat(parent, &st) == 0 && (st.st_mode & S_IWOTH);
}

/* Open the result directory dir, verified by the trust rule: *fd on
 * LP_OK; LP_ENOTFOUND when it does not exist (and create is 0);
 * LP_EUNSAFE with a message naming the fix when it is a symlink, not a
 * directory, another user's, writable by group or others, or, in a
 * world-writable parent, open to group or others at all. create makes it
 * first (0700, with its missing parents). */
static int result_dir_open(const char *dir, int create, int *fd)
{
	*fd = -1;
	if (create && make_dirs((char *)dir) < 0 && errno != EEXIST)
		return lpi_fail_errno(
			LP_ERROR, errno,
			"cannot create the QAMule result directory %s (pass --pause-result-dir DIR)",
			dir);
	char q[PATH_MAX * 2 + 16], *quoted = NULL;
	snprintf(q, sizeof q, "%s", lp_shell_quote(&quoted, dir) == LP_OK ? quoted : dir);
	free(quoted);
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0) {
		int e = errno;
		if (e == ENOENT)
			return lpi_fail(LP_ENOTFOUND,
					"the QAMule result directory %s does not exist", dir);
		struct stat lst;
		if (e == ELOOP || (e == ENOTDIR && lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode)))
			return lpi_fail(
				LP_EUNSAFE,
				"the QAMule result directory %s is a symlink; refusing to follow it: remove it (rm %s) or pass --pause-result-dir DIR",
				dir, q);
		if (e == ENOTDIR)
			return lpi_fail(
				LP_EUNSAFE,
				"the QAMule result directory %s is not a directory: remove it or pass --pause-result-dir DIR",
				dir);
		return lpi_fail_errno(LP_ERROR, e, "cannot open the QAMule result directory %s",
				      dir);
	}
	struct stat st;
	if (fstat(d, &st) < 0) {
		int e = errno;
		close(d);
		return lpi_fail_errno(LP_ERROR, e, "cannot inspect the QAMule result directory %s",
				      dir);
	}
	mode_t forbidden = in_shared_dir(dir) ? 077 : 022;
	char why[96];
	if (lpi_trust_why(&st, 1, forbidden, why, sizeof why)) {
		close(d);
		if (st.st_uid != geteuid())
			return lpi_fail(
				LP_EUNSAFE,
				"the QAMule result directory %s %s: that user could read, delete or replace the results; refusing it: pass --pause-result-dir DIR (a directory of your own)",
				dir, why);
		return lpi_fail(
			LP_EUNSAFE,
			"the QAMule result directory %s %s: others could read or replace the results; refusing it: run 'chmod 700 %s' or pass --pause-result-dir DIR",
			dir, why, q);
	}
	*fd = d;
	return LP_OK;
}

int lp_qamule_dir_prepare(const char *result_dir)
{
	char dir[PATH_MAX];
	int fd, rc = dir_name(result_dir, dir);
	if (rc || (rc = result_dir_open(dir, 1, &fd)))
		return rc;
	close(fd);
	return LP_OK;
}

int lp_qamule_request_new(const char *result_dir, char request_id[LP_QAMULE_REQUEST_ID_LEN + 1],
			  char **result_path)
{
	if (result_path)
		*result_path = NULL;
	if (request_id)
		request_id[0] = '\0';
	if (result_dir == NULL || result_dir[0] == '\0' || request_id == NULL ||
	    result_path == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_request_new: a result directory, request_id "
					   "and result_path are required");
	char dir[PATH_MAX];
	int rc = lp_qamule_dir_prepare(result_dir);
	if (rc || (rc = dir_name(result_dir, dir)))
		return rc;
	size_t n = strlen(dir);
	char id[LP_QAMULE_REQUEST_ID_LEN + 1];
	if ((rc = lpi_random_hex(id, LP_QAMULE_REQUEST_ID_LEN / 2)))
		return rc;
	size_t size = n + 1 + LP_QAMULE_REQUEST_ID_LEN + sizeof ".json";
	char *path = malloc(size);
	if (path == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	/* "/" as the directory gives "/<id>.json", not "//<id>.json" */
	size_t at = n;
	memcpy(path, dir, n);
	if (strcmp(dir, "/") != 0)
		path[at++] = '/';
	memcpy(path + at, id, LP_QAMULE_REQUEST_ID_LEN);
	memcpy(path + at + LP_QAMULE_REQUEST_ID_LEN, ".json", sizeof ".json");
	memcpy(request_id, id, sizeof id);
	*result_path = path;
	return LP_OK;
}

/* --------------------------------------------------------------- read */

/* Set the outcome class and its message; returns the status, or
 * LP_ERROR when the message cannot be stored. */
static int verdict(lp_qamule_result *out, lp_qamule_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verdict(lp_qamule_result *out, lp_qamule_status status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lp_qamule_result_clear(out);
	out->status = status;
	out->message = lpi_strdup(msg);
	if (out->message == NULL) {
		lp_qamule_result_clear(out);
		return LP_ERROR;
	}
	return (int)status;
}

static int read_open_file(int fd, const char *path, lp_qamule_result *out, char **text,
			  size_t *len);

/* Take the result file at path: verify its directory, rename the file
 * aside (a dot name of our own in the same directory) and open that,
 * never following a symlink. On 0, *fd is open and *dirfd and aside
 * name the entry for the caller to remove; otherwise the verdict (>= 1)
 * or a negative error. */
static int take_result_file(const char *path, lp_kind kind, lp_qamule_result *out, int *dirfd,
			    char *aside, size_t aside_size, int *fd)
{
	*fd = *dirfd = -1;
	aside[0] = '\0';
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) >= sizeof dir)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Pause result path is too long");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Pause result %s is not a file name",
			       path);
	int rc = result_dir_open(dir, 0, dirfd);
	if (rc == LP_ENOTFOUND)
		return verdict(out, LP_QAMULE_MISSING_RESULT, "%s",
			       kind == LP_KIND_CHECKPOINT ? MSG_MISSING : MSG_MISSING_FAILURE);
	if (rc)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Pause result %s not read: %s", path,
			       lp_error_message());
	char rnd[17];
	if ((rc = lpi_random_hex(rnd, 8)))
		return rc;
	snprintf(aside, aside_size, ".%.200s.taken.%s", name, rnd);
	if (renameat(*dirfd, name, *dirfd, aside) < 0) {
		int e = errno;
		aside[0] = '\0';
		if (e == ENOENT || e == ENOTDIR)
			return verdict(out, LP_QAMULE_MISSING_RESULT, "%s",
				       kind == LP_KIND_CHECKPOINT ? MSG_MISSING
								  : MSG_MISSING_FAILURE);
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s",
			       path, strerror(e));
	}
	*fd = openat(*dirfd, aside, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return verdict(out, LP_QAMULE_INVALID_RESULT,
				       "Pause result %s is a symlink; refusing to follow it", path);
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s",
			       path, strerror(e));
	}
	return 0;
}

/* Read the file: *text (malloc'd, NUL-terminated) on 0; otherwise the
 * verdict (>= 1) or a negative error, out filled accordingly. Either way
 * the file is consumed: removed from the result directory. */
static int read_result_file(const char *path, lp_kind kind, lp_qamule_result *out, char **text,
			    size_t *len)
{
	*text = NULL;
	*len = 0;
	int dirfd, fd;
	char aside[256];
	int rc = take_result_file(path, kind, out, &dirfd, aside, sizeof aside, &fd);
	if (rc != 0 || fd < 0) {
		if (aside[0] != '\0' && unlinkat(dirfd, aside, 0) < 0 && errno == EISDIR)
			unlinkat(dirfd, aside, AT_REMOVEDIR);
		if (dirfd >= 0)
			close(dirfd);
		return rc;
	}
	rc = read_open_file(fd, path, out, text, len);
	if (unlinkat(dirfd, aside, 0) < 0 && errno == EISDIR)
		unlinkat(dirfd, aside, AT_REMOVEDIR); /* an empty directory planted there */
	close(dirfd);
	return rc;
}

/* Check and read the open result file fd (closed here). */
static int read_open_file(int fd, const char *path, lp_qamule_result *out, char **text, size_t *len)
{
	struct stat st;
	int rc;
	if (fstat(fd, &st) < 0) {
		rc = verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s", path,
			     strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = verdict(out, LP_QAMULE_INVALID_RESULT,
			     "Pause result %s is not a regular file; refusing it", path);
		goto done;
	}
	if (st.st_uid != geteuid()) {
		rc = verdict(out, LP_QAMULE_INVALID_RESULT,
			     "Pause result %s is owned by uid %ld, not by this user (uid %ld); "
			     "refusing it",
			     path, (long)st.st_uid, (long)geteuid());
		goto done;
	}
	if (st.st_size > LP_QAMULE_RESULT_CAP) {
		rc = verdict(out, LP_QAMULE_INVALID_RESULT,
			     "Pause result %s is %lld bytes, over the limit of %d bytes", path,
			     (long long)st.st_size, LP_QAMULE_RESULT_CAP);
		goto done;
	}
	/* one byte more than the cap tells a file that grew past it */
	char *buf = malloc(LP_QAMULE_RESULT_CAP + 2);
	if (buf == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	size_t got = 0;
	while (got < LP_QAMULE_RESULT_CAP + 1) {
		ssize_t r = read(fd, buf + got, LP_QAMULE_RESULT_CAP + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			rc = verdict(out, LP_QAMULE_INVALID_RESULT,
				     "Cannot read pause result %s: %s", path, strerror(e));
			goto done;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > LP_QAMULE_RESULT_CAP) {
		free(buf);
		rc = verdict(out, LP_QAMULE_INVALID_RESULT,
			     "Pause result %s is over the limit of %d bytes", path,
			     LP_QAMULE_RESULT_CAP);
		goto done;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	rc = 0;
done:
	close(fd);
	return rc;
}

/* Checkpoints: {"result": true|false, "reason": "..."|null}, nothing else,
 * checked in QAMule's order (result, then reason, then other keys). */
static int check_checkpoint(const lp_json *obj, lp_qamule_result *out)
{
	static const char *const allowed[] = {"result", "reason", NULL};
	lp_json *result = lpj_get(obj, "result");
	if (result == NULL || lpj_typeof(result) != LPJ_BOOL)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "%s", MSG_RESULT_TYPE);
	lp_json *reason = lpj_get(obj, "reason");
	if (reason != NULL && lpj_typeof(reason) != LPJ_NULL && lpj_typeof(reason) != LPJ_STRING)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "%s", MSG_REASON_TYPE);
	if (lpj_unknown_key(obj, allowed) != NULL)
		return verdict(out, LP_QAMULE_INVALID_RESULT, "%s", MSG_EXTRA_KEYS);
	out->result = lpj_is_true(result) ? LP_RESULT_TRUE : LP_RESULT_FALSE;
	const char *r = reason ? lpj_string_value(reason) : NULL;
	if (r != NULL && (out->reason = lpi_strdup(r)) == NULL)
		return LP_ERROR;
	return LP_QAMULE_OK;
}

int lp_qamule_result_read(const char *path, lp_kind kind, lp_qamule_result *out)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_result_read: out is required");
	memset(out, 0, sizeof *out);
	out->result = LP_RESULT_NONE;
	if (path == NULL || path[0] == '\0')
		return lpi_fail(LP_EINVAL, "lp_qamule_result_read: a result path is required");
	if (kind != LP_KIND_FAILURE && kind != LP_KIND_CHECKPOINT)
		return lpi_fail(LP_EINVAL, "unknown pause kind %d", (int)kind);

	char *text;
	size_t len;
	int rc = read_result_file(path, kind, out, &text, &len);
	if (rc != 0)
		return rc;
	lp_json *doc = NULL;
	rc = lpj_parse_any(text, len, &doc);
	free(text);
	if (rc == LP_EBADCMD)
		return verdict(out, LP_QAMULE_INVALID_RESULT, MSG_INVALID_JSON "%s",
			       lp_error_message());
	if (rc)
		return rc;
	if (lpj_typeof(doc) != LPJ_OBJECT) {
		lpj_free(doc);
		return verdict(out, LP_QAMULE_INVALID_RESULT, "%s", MSG_NOT_OBJECT);
	}
	rc = kind == LP_KIND_CHECKPOINT ? check_checkpoint(doc, out) : LP_QAMULE_OK;
	if (rc == LP_QAMULE_OK && (out->payload_json = lpj_dump_exact(doc)) == NULL)
		rc = LP_ERROR;
	lpj_free(doc);
	/* The payload goes into the claim's command, capped too: a file whose
	 * numbers grow when written out ("1e5" -> "100000.0") must still fit. */
	if (rc == LP_QAMULE_OK && strlen(out->payload_json) > LP_QAMULE_RESULT_CAP)
		return verdict(out, LP_QAMULE_INVALID_RESULT,
			       "Pause result %s is over the limit of %d bytes once written out",
			       path, LP_QAMULE_RESULT_CAP);
	if (rc < 0) {
		lp_qamule_result_clear(out);
		return lpi_fail(rc, "cannot read pause result %s: out of memory", path);
	}
	out->status = (lp_qamule_status)rc;
	return rc;
}

/* ---------------------------------------------------------- decisions */

/* The most of a result recorded in the claim (a command is capped at
 * 64 KiB): a larger one (result files go up to LP_QAMULE_RESULT_CAP, as
 * QAMule delivered them) is recorded cut or by size, and the test and
 * the report still get all of it. */
#define CLAIM_PAYLOAD_ROOM (48 * 1024)

void lp_qamule_ending_clear(lp_qamule_ending *e)
{
	if (e == NULL)
		return;
	lp_resolution_clear(&e->resolution);
	free(e->outcome);
	free(e->message);
	free(e->payload_json);
	free(e->lines);
	free(e->checkpoint_outcome);
	free(e->reason);
	memset(e, 0, sizeof *e);
	e->result = LP_RESULT_NONE;
	e->resolution.result = LP_RESULT_NONE;
}

static int request_check(const lp_qamule_request *req, const char *what)
{
	if (req == NULL || req->nodeid == NULL || req->request_id == NULL ||
	    req->result_path == NULL || req->signal == NULL)
		return lpi_fail(LP_EINVAL,
				"%s: a request with nodeid, request_id, result_path "
				"and signal is required",
				what);
	if (req->kind != LP_KIND_FAILURE && req->kind != LP_KIND_CHECKPOINT)
		return lpi_fail(LP_EINVAL, "%s: unknown pause kind %d", what, (int)req->kind);
	return LP_OK;
}

/* "<prefix> <json>" of obj (freed here); appended to *text after a
 * newline when *text is set. */
static int add_line(char **text, const char *prefix, lp_json *obj)
{
	char *json = obj ? lpj_dump_python(obj) : NULL;
	lpj_free(obj);
	if (json == NULL)
		return lpi_fail(LP_ERROR, "cannot write a QAMule line: out of memory");
	size_t old = *text ? strlen(*text) : 0;
	size_t need = old + 1 + strlen(prefix) + 1 + strlen(json) + 1;
	char *buf = realloc(*text, need);
	if (buf == NULL) {
		free(json);
		return lpi_fail(LP_ERROR, "cannot write a QAMule line: out of memory");
	}
	snprintf(buf + old, need - old, "%s%s %s", old ? "\n" : "", prefix, json);
	free(json);
	*text = buf;
	return LP_OK;
}

int lp_qamule_pause_fields(char **out, const lp_qamule_request *req)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_pause_fields: out is required");
	*out = NULL;
	int rc = request_check(req, "lp_qamule_pause_fields");
	if (rc)
		return rc;
	const char *keys[] = {"request_id", "result_path", "signal"};
	const char *values[] = {req->request_id, req->result_path, req->signal};
	return lp_json_object_line(out, keys, values, 3);
}

int lp_qamule_event_line(char **out, const lp_qamule_request *req, const char *details,
			 double timeout)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_event_line: out is required");
	*out = NULL;
	int rc = request_check(req, "lp_qamule_event_line");
	if (rc)
		return rc;
	lp_json *ev = lpj_object(), *ctx = lpj_object();
	if (ev == NULL || ctx == NULL) {
		lpj_free(ev);
		lpj_free(ctx);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	if (req->kind == LP_KIND_CHECKPOINT) {
		rc = lpj_set_str(ctx, "task", details && details[0] ? details : NULL);
	} else {
		rc = lpj_set_str(ctx, "longrepr", details ? details : "");
		if (!rc)
			rc = lpj_set_str(ctx, "outcome", "failed");
		if (!rc)
			rc = lpj_set_str(ctx, "when", "call");
	}
	if (!rc)
		rc = lpj_set_json(ev, "context", ctx);
	else
		lpj_free(ctx);
	if (!rc)
		rc = lpj_set_str(ev, "event", "qamule.pause");
	if (!rc)
		rc = lpj_set_str(ev, "nodeid", req->nodeid);
	if (!rc)
		rc = lpj_set_int(ev, "pid", req->pid);
	if (!rc)
		rc = lpj_set_str(ev, "reason", lp_kind_name(req->kind));
	if (!rc)
		rc = lpj_set_str(ev, "request_id", req->request_id);
	if (!rc)
		rc = lpj_set_str(ev, "result_path", req->result_path);
	if (!rc)
		rc = lpj_set_str(ev, "signal", req->signal);
	if (!rc) {
		if (isinf(timeout))
			rc = lpj_set_null(ev, "timeout_sec");
		else if (timeout == (double)(long long)timeout)
			rc = lpj_set_int(ev, "timeout_sec", (long long)timeout);
		else
			rc = lpj_set_real(ev, "timeout_sec", timeout);
	}
	if (rc) {
		lpj_free(ev);
		return rc;
	}
	return add_line(out, "QAMULE_PAUSE_EVENT", ev);
}

static int set_dup(char **field, const char *value)
{
	if (value == NULL)
		return LP_OK;
	*field = lpi_strdup(value);
	return *field ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
}

/* The lines of an ending (QAMULE_PAUSE_RESUME, WARNING or RESULT). */
static int ending_lines(lp_qamule_ending *e, const lp_qamule_request *req)
{
	const char *kind = lp_kind_name(req->kind);
	lp_json *o = lpj_object();
	int rc = o ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc)
		rc = lpj_set_str(o, "event", "qamule.resume");
	if (!rc)
		rc = lpj_set_bool(o, "has_result", e->has_result);
	if (!rc)
		rc = lpj_set_str(o, "nodeid", req->nodeid);
	if (!rc)
		rc = lpj_set_str(o, "outcome", e->outcome);
	if (!rc)
		rc = lpj_set_str(o, "reason", kind);
	if (!rc)
		rc = lpj_set_str(o, "request_id", req->request_id);
	if (!rc)
		rc = lpj_set_str(o, "result_path", req->result_path);
	if (!rc)
		rc = lpj_set_str(o, "signal", req->signal);
	if (rc) {
		lpj_free(o);
		return rc;
	}
	if ((rc = add_line(&e->lines, "QAMULE_PAUSE_RESUME", o)) || !e->has_status)
		return rc;
	int warn = e->status == LP_QAMULE_INVALID_RESULT ||
		   (e->status == LP_QAMULE_MISSING_RESULT && req->kind == LP_KIND_CHECKPOINT);
	if (warn) {
		o = lpj_object();
		rc = o ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
		if (!rc)
			rc = lpj_set_str(o, "event", "qamule.pause_warning");
		if (!rc)
			rc = lpj_set_str(o, "outcome", lp_qamule_status_name(e->status));
		if (!rc)
			rc = lpj_set_str(o, "pause_reason", kind);
		if (!rc)
			rc = lpj_set_str(o, "reason", e->message);
		if (!rc)
			rc = lpj_set_str(o, "request_id", req->request_id);
		if (!rc)
			rc = lpj_set_str(o, "result_path", req->result_path);
		if (rc) {
			lpj_free(o);
			return rc;
		}
		return add_line(&e->lines, "QAMULE_PAUSE_WARNING", o);
	}
	if (e->status != LP_QAMULE_OK || req->kind != LP_KIND_FAILURE || e->payload_json == NULL)
		return LP_OK;
	lp_json *payload = NULL;
	if ((rc = lpj_parse_any(e->payload_json, strlen(e->payload_json), &payload)))
		return rc;
	o = lpj_object();
	rc = o ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc)
		rc = lpj_set_str(o, "event", "qamule.pause_result");
	if (!rc)
		rc = lpj_set_str(o, "nodeid", req->nodeid);
	if (!rc) {
		rc = lpj_set_json(o, "payload", payload);
		payload = NULL;
	}
	if (!rc)
		rc = lpj_set_str(o, "reason", "failure");
	if (!rc)
		rc = lpj_set_str(o, "request_id", req->request_id);
	lpj_free(payload);
	if (rc) {
		lpj_free(o);
		return rc;
	}
	return add_line(&e->lines, "QAMULE_PAUSE_RESULT", o);
}

int lp_qamule_ending_from(lp_qamule_ending *out, const lp_qamule_request *req, lp_resolution *res,
			  const lp_qamule_result *reading)
{
	if (out == NULL || res == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_ending_from: out and res are required");
	memset(out, 0, sizeof *out);
	out->result = LP_RESULT_NONE;
	int rc = request_check(req, "lp_qamule_ending_from");
	if (rc)
		return rc;
	out->resolution = *res;
	memset(res, 0, sizeof *res);
	res->result = LP_RESULT_NONE;
	const lp_resolution *r = &out->resolution;
	/* the action decides timeout and abort; a resume is named by its
	 * provenance */
	const char *outcome = r->action == LP_ACTION_TIMEOUT ? "timeout"
			      : r->action == LP_ACTION_ABORT ? "abort"
			      : r->by && r->by[0]            ? r->by
							     : "file";
	rc = set_dup(&out->outcome, outcome);
	int by_signal = strcmp(outcome, "signal") == 0;
	if (!rc && by_signal && reading != NULL) {
		out->has_status = 1;
		out->status = reading->status;
		rc = set_dup(&out->message, reading->message);
		if (!rc && reading->status == LP_QAMULE_OK && reading->payload_json) {
			lp_json *p = NULL;
			rc = lpj_parse_any(reading->payload_json, strlen(reading->payload_json),
					   &p);
			if (!rc && (out->payload_json = lpj_dump_python(p)) == NULL)
				rc = LP_ERROR;
			lpj_free(p);
		}
	}
	if (!rc) {
		if (out->has_status)
			out->has_result = out->status != LP_QAMULE_MISSING_RESULT;
		else if (by_signal || strcmp(outcome, "timeout") == 0)
			out->has_result = 0;
		else if (req->kind == LP_KIND_CHECKPOINT)
			out->has_result = r->result != LP_RESULT_NONE;
		else
			out->has_result = r->failure_reason != NULL;
	}
	if (!rc && req->kind == LP_KIND_CHECKPOINT) {
		const char *cp = out->has_status && out->status != LP_QAMULE_OK
					 ? lp_qamule_status_name(out->status)
					 : outcome;
		rc = set_dup(&out->checkpoint_outcome, cp);
		if (!rc && strcmp(outcome, "timeout") != 0) {
			out->result = r->result;
			const char *reason = r->reason;
			if (out->has_status && reading->status == LP_QAMULE_OK)
				reason = reading->reason; /* uncut (the claim's may be cut) */
			rc = set_dup(&out->reason, reason);
		}
	}
	if (!rc)
		rc = ending_lines(out, req);
	if (rc) {
		lp_qamule_ending_clear(out);
		return rc;
	}
	return LP_OK;
}

/* The claim's fields after the signal, from the result file's reading. */
static int claim_fields(const lp_qamule_request *req, const lp_qamule_result *reading, char **out)
{
	*out = NULL;
	lp_json *f = lpj_object();
	int rc = f ? lpj_set_str(f, "signal", req->signal) : lpi_fail(LP_ERROR, "out of memory");
	if (!rc && req->kind == LP_KIND_CHECKPOINT) {
		if (reading->status == LP_QAMULE_OK) {
			rc = lpj_set_result(f, "result", reading->result);
			const char *reason = reading->reason;
			size_t n = reason ? strlen(reason) : 0;
			if (!rc && n > CLAIM_PAYLOAD_ROOM) {
				/* recorded cut, at a character boundary */
				size_t k = CLAIM_PAYLOAD_ROOM;
				while (k > 0 && ((unsigned char)reason[k] & 0xC0) == 0x80)
					k--;
				char *cut = malloc(k + 48);
				if (cut == NULL)
					rc = lpi_fail(LP_ERROR, "out of memory");
				else {
					snprintf(cut, k + 48, "%.*s [cut: %zu bytes]", (int)k,
						 reason, n);
					rc = lpj_set_str(f, "reason", cut);
					free(cut);
				}
			} else if (!rc) {
				rc = lpj_set_str(f, "reason", reason);
			}
		} else {
			rc = lpj_set_null(f, "result");
			if (!rc)
				rc = lpj_set_str(f, "reason", reading->message);
		}
	} else if (!rc) {
		lp_json *p = NULL;
		if (reading->status == LP_QAMULE_OK && reading->payload_json) {
			size_t n = strlen(reading->payload_json);
			if (n > CLAIM_PAYLOAD_ROOM) { /* the test and report still get it */
				p = lpj_object();
				rc = p ? lpj_set_int(p, "omitted_bytes", (long long)n)
				       : lpi_fail(LP_ERROR, "out of memory");
				if (!rc)
					rc = lpj_set_str(p, "result_path", req->result_path);
			} else {
				rc = lpj_parse_any(reading->payload_json, n, &p);
			}
		}
		if (!rc && p != NULL) {
			rc = lpj_set_json(f, "payload", p);
			p = NULL;
		} else if (!rc) {
			rc = lpj_set_null(f, "payload");
		}
		lpj_free(p);
	}
	if (!rc && (*out = lpj_dump(f)) == NULL)
		rc = LP_ERROR;
	lpj_free(f);
	return rc;
}

int lp_qamule_claim(lp_qamule_ending *out, lp_pause *pause, const lp_qamule_request *req)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_claim: out is required");
	memset(out, 0, sizeof *out);
	out->result = LP_RESULT_NONE;
	int rc = request_check(req, "lp_qamule_claim");
	if (rc)
		return rc;
	if (pause == NULL)
		return lpi_fail(LP_EINVAL, "lp_qamule_claim: a pause is required");
	lp_qamule_result reading;
	rc = lp_qamule_result_read(req->result_path, req->kind, &reading);
	if (rc < 0)
		return rc;
	char *fields = NULL;
	lp_resolution res;
	memset(&res, 0, sizeof res);
	res.result = LP_RESULT_NONE;
	rc = claim_fields(req, &reading, &fields);
	if (!rc)
		rc = lp_pause_claim(&res, pause, LP_ACTION_RESUME, "signal", fields);
	free(fields);
	if (!rc)
		rc = lp_qamule_ending_from(out, req, &res, &reading);
	lp_resolution_clear(&res);
	lp_qamule_result_clear(&reading);
	return rc;
}
