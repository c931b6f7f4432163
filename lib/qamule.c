/*
 * qamule.c - QAMule compatibility: the request of a QAMule-mode pause (its
 * result directory, request id and result path) and the reading of the
 * result file an agent writes there before it sends the resume signal,
 * with QAMule's validation rules (docs/qamule.md).
 *
 * The result file is read like a command file: without following a
 * symlink, only a regular file owned by this user, size-capped before
 * parsing, strict JSON. Printing the QAMULE_* lines, catching the signal
 * and claiming the pause (lp_pause_claim: action resume, by "signal") are the
 * caller's.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define MSG_RESULT_TYPE \
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

int lp_qamule_request_new(const char *result_dir,
			  char request_id[LP_QAMULE_REQUEST_ID_LEN + 1], char **result_path)
{
	if (result_path)
		*result_path = NULL;
	if (request_id)
		request_id[0] = '\0';
	if (result_dir == NULL || result_dir[0] == '\0' || request_id == NULL ||
	    result_path == NULL)
		return lp_fail(LP_EINVAL, "lp_qamule_request_new: a result directory, request_id "
					  "and result_path are required");
	size_t n = strlen(result_dir);
	while (n > 1 && result_dir[n - 1] == '/')
		n--; /* "dir/" and "dir" name the same directory */
	if (n >= PATH_MAX - LP_QAMULE_REQUEST_ID_LEN - 8)
		return lp_fail(LP_EINVAL, "QAMule result directory is too long: %.80s...",
			       result_dir);
	char dir[PATH_MAX];
	memcpy(dir, result_dir, n);
	dir[n] = '\0';
	if (make_dirs(dir) < 0)
		return lp_fail_errno(LP_ERROR, errno, "cannot create the QAMule result directory %s",
				     dir);
	struct stat st;
	if (stat(dir, &st) < 0)
		return lp_fail_errno(LP_ERROR, errno, "cannot use the QAMule result directory %s",
				     dir);
	if (!S_ISDIR(st.st_mode))
		return lp_fail(LP_ERROR, "the QAMule result directory %s is not a directory", dir);
	char id[LP_QAMULE_REQUEST_ID_LEN + 1];
	int rc = lp_random_hex(id, LP_QAMULE_REQUEST_ID_LEN / 2);
	if (rc)
		return rc;
	size_t size = n + 1 + LP_QAMULE_REQUEST_ID_LEN + sizeof ".json";
	char *path = malloc(size);
	if (path == NULL)
		return lp_fail(LP_ERROR, "out of memory");
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
	out->message = lp_strdup(msg);
	if (out->message == NULL) {
		lp_qamule_result_clear(out);
		return LP_ERROR;
	}
	return (int)status;
}

/* Read the file: *text (malloc'd, NUL-terminated) on 0; otherwise the
 * verdict (>= 1) or a negative error, out filled accordingly. */
static int read_result_file(const char *path, lp_kind kind, lp_qamule_result *out,
			    char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return verdict(out, LP_QAMULE_MISSING_RESULT, "%s",
				       kind == LP_KIND_CHECKPOINT ? MSG_MISSING : MSG_MISSING_FAILURE);
		if (e == ELOOP)
			return verdict(out, LP_QAMULE_INVALID_RESULT,
				       "Pause result %s is a symlink; refusing to follow it", path);
		return verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s",
			       path, strerror(e));
	}
	struct stat st;
	int rc;
	if (fstat(fd, &st) < 0) {
		rc = verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s",
			     path, strerror(errno));
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
		rc = lp_fail(LP_ERROR, "out of memory");
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
			rc = verdict(out, LP_QAMULE_INVALID_RESULT, "Cannot read pause result %s: %s",
				     path, strerror(e));
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
	if (r != NULL && (out->reason = lp_strdup(r)) == NULL)
		return LP_ERROR;
	return LP_QAMULE_OK;
}

int lp_qamule_result_read(const char *path, lp_kind kind, lp_qamule_result *out)
{
	if (out == NULL)
		return lp_fail(LP_EINVAL, "lp_qamule_result_read: out is required");
	memset(out, 0, sizeof *out);
	out->result = LP_RESULT_NONE;
	if (path == NULL || path[0] == '\0')
		return lp_fail(LP_EINVAL, "lp_qamule_result_read: a result path is required");
	if (kind != LP_KIND_FAILURE && kind != LP_KIND_CHECKPOINT)
		return lp_fail(LP_EINVAL, "unknown pause kind %d", (int)kind);

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
		return lp_fail(rc, "cannot read pause result %s: out of memory", path);
	}
	out->status = (lp_qamule_status)rc;
	return rc;
}
