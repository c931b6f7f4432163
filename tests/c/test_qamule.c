/*
 * test_qamule.c - qamule.c: the request of a QAMule-mode pause
 * (lp_qamule_request_new: result directory made 0700, request id, result
 * path) and the reading of a result file with QAMule's rules
 * (lp_qamule_result_read: missing, invalid JSON, not an object, the
 * checkpoint fields, the safety refusals: symlink, FIFO, directory, size,
 * another user's file), plus the JSON helpers json.c gained for it;
 * and QAMule mode's decisions: lp_qamule_claim (cut to its room; losing to the CLI, the signal plus the file
 * becomes the claim),
 * lp_qamule_ending_from (timeout, abort) and the QAMULE_* lines exactly as
 * Python's json.dumps(sort_keys=True, ensure_ascii=False) writes them.
 */
#include "helpers.h"

#include <ctype.h>

typedef struct qfx {
	char dir[64];
} qfx;

static int setup(void **state)
{
	qfx *q = calloc(1, sizeof *q);
	make_tmpdir(q->dir);
	*state = q;
	return 0;
}

static int teardown(void **state)
{
	qfx *q = *state;
	rm_rf(q->dir);
	free(q);
	return 0;
}

static char *qpath(const qfx *q, char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", q->dir, name);
	return buf;
}

/* Write `text` to <dir>/result.json and read it as a pause of `kind`. */
static int read_text(const qfx *q, lp_kind kind, const char *text, lp_qamule_result *out)
{
	char p[256];
	qpath(q, p, sizeof p, "result.json");
	assert_int_equal(write_text(p, text, strlen(text)), 0);
	return lp_qamule_result_read(p, kind, out);
}

static void assert_invalid(const qfx *q, lp_kind kind, const char *text, const char *msg_start)
{
	lp_qamule_result r;
	int rc = read_text(q, kind, text, &r);
	if (rc != LP_QAMULE_INVALID_RESULT)
		fprintf(stderr, "input %s: status %d, message %s\n", text, rc,
			r.message ? r.message : "(none)");
	assert_int_equal(rc, LP_QAMULE_INVALID_RESULT);
	assert_int_equal(r.status, LP_QAMULE_INVALID_RESULT);
	assert_int_equal(r.result, LP_RESULT_NONE);
	assert_null(r.reason);
	assert_null(r.payload_json);
	assert_non_null(r.message);
	if (strncmp(r.message, msg_start, strlen(msg_start)) != 0)
		fprintf(stderr, "input %s: message %s\n", text, r.message);
	assert_int_equal(strncmp(r.message, msg_start, strlen(msg_start)), 0);
	lp_qamule_result_clear(&r);
}

/* ------------------------------------------------------------ request */

static void test_request_makes_dir(void **state)
{
	qfx *q = *state;
	char dir[256], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = NULL;
	snprintf(dir, sizeof dir, "%s/a/b/qamule-pauses", q->dir);
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_OK);
	assert_int_equal(strlen(id), LP_QAMULE_REQUEST_ID_LEN);
	for (const char *c = id; *c; c++)
		assert_true(isxdigit((unsigned char)*c) && !isupper((unsigned char)*c));
	char want[512];
	snprintf(want, sizeof want, "%s/%s.json", dir, id);
	assert_string_equal(path, want);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_false(exists(path)); /* the agent writes it, not us */
	free(path);

	/* an existing directory, named with a trailing slash: same place,
	 * and every request has its own id */
	char again[300], id2[LP_QAMULE_REQUEST_ID_LEN + 1], *path2 = NULL;
	snprintf(again, sizeof again, "%s/", dir);
	assert_int_equal(lp_qamule_request_new(again, id2, &path2), LP_OK);
	assert_string_not_equal(id, id2);
	snprintf(want, sizeof want, "%s/%s.json", dir, id2);
	assert_string_equal(path2, want);
	free(path2);
}

static void test_request_refuses(void **state)
{
	qfx *q = *state;
	char file[256], under[300], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = (char *)1;
	assert_int_equal(lp_qamule_request_new("", id, &path), LP_EINVAL);
	assert_null(path);
	assert_int_equal(lp_qamule_request_new(NULL, id, &path), LP_EINVAL);

	qpath(q, file, sizeof file, "plain-file");
	assert_int_equal(write_text(file, "x", 1), 0);
	assert_int_equal(lp_qamule_request_new(file, id, &path), LP_EUNSAFE);
	assert_null(path);
	assert_non_null(strstr(lp_error_message(), "not a directory"));
	snprintf(under, sizeof under, "%s/sub", file);
	assert_int_equal(lp_qamule_request_new(under, id, &path), LP_ERROR);
	assert_non_null(strstr(lp_error_message(), under));
}

/* -------------------------------------------------------- checkpoints */

static void test_checkpoint_true_false(void **state)
{
	qfx *q = *state;
	lp_qamule_result r;
	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT,
				   "{\"result\": true, \"reason\": \"looks right \xc3\xa9\"}\n",
				   &r),
			 LP_QAMULE_OK);
	assert_int_equal(r.status, LP_QAMULE_OK);
	assert_null(r.message);
	assert_int_equal(r.result, LP_RESULT_TRUE);
	assert_string_equal(r.reason, "looks right \xc3\xa9");
	assert_string_equal(r.payload_json,
			    "{\"reason\":\"looks right \xc3\xa9\",\"result\":true}");
	lp_qamule_result_clear(&r);

	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT, "{\"result\":false}", &r), LP_QAMULE_OK);
	assert_int_equal(r.result, LP_RESULT_FALSE);
	assert_null(r.reason);
	lp_qamule_result_clear(&r);

	/* reason null is "no reason", as in QAMule */
	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT, "{\"reason\":null,\"result\":true}", &r),
			 LP_QAMULE_OK);
	assert_int_equal(r.result, LP_RESULT_TRUE);
	assert_null(r.reason);
	lp_qamule_result_clear(&r);
	lp_qamule_result_clear(&r); /* twice is fine */
}

static void test_checkpoint_missing(void **state)
{
	qfx *q = *state;
	char p[256];
	lp_qamule_result r;
	qpath(q, p, sizeof p, "nothing-here.json");
	assert_int_equal(lp_qamule_result_read(p, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_MISSING_RESULT);
	assert_int_equal(r.status, LP_QAMULE_MISSING_RESULT);
	assert_string_equal(r.message, "Checkpoint resumed without a result payload.");
	assert_int_equal(r.result, LP_RESULT_NONE);
	assert_null(r.reason);
	assert_null(r.payload_json);
	lp_qamule_result_clear(&r);
	/* a result directory that is gone is a missing result too */
	qpath(q, p, sizeof p, "gone/x.json");
	assert_int_equal(lp_qamule_result_read(p, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_MISSING_RESULT);
	lp_qamule_result_clear(&r);
}

static void test_checkpoint_invalid_json(void **state)
{
	qfx *q = *state;
	const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"result\": true",
		"{'result': true}",
		"{\"result\": tru}",
		"{\"result\": true} x",
		"{}{}",
		"{\"result\": true,}",
		"{\"result\": NaN}",
		"{\"result\": true, \"result\": false}",    /* duplicate keys */
		"{\"result\": true, \"reason\": \"\xff\"}", /* invalid UTF-8 */
		"\xef\xbb\xbf{\"result\": true}",           /* a BOM */
		NULL,
	};
	for (int i = 0; bad[i]; i++)
		assert_invalid(q, LP_KIND_CHECKPOINT, bad[i], "Invalid pause result JSON: ");
	/* the parse message says where */
	lp_qamule_result r;
	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT, "{\"result\": tru}", &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "line 1, column"));
	lp_qamule_result_clear(&r);
}

static void test_checkpoint_not_object(void **state)
{
	qfx *q = *state;
	const char *const bad[] = {"[true]", "true", "3", "\"result\"", "null", "[]", NULL};
	for (int i = 0; bad[i]; i++)
		assert_invalid(q, LP_KIND_CHECKPOINT, bad[i],
			       "Pause result must be a JSON object.");
}

static void test_checkpoint_fields(void **state)
{
	qfx *q = *state;
	const char *result_msg = "Agent checkpoint result must be JSON like";
	assert_invalid(q, LP_KIND_CHECKPOINT, "{}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"reason\": \"no result\"}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": null}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": 1}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": \"true\"}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": [true]}", result_msg);
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": true, \"reason\": 5}",
		       "Agent checkpoint result field 'reason' must be a string.");
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": true, \"reason\": {\"a\": 1}}",
		       "Agent checkpoint result field 'reason' must be a string.");
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": true, \"status\": \"ok\"}",
		       "Agent checkpoint result JSON only accepts 'result' and 'reason'.");
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": true, \"reason\": \"r\", \"x\": null}",
		       "Agent checkpoint result JSON only accepts 'result' and 'reason'.");
	/* QAMule's order: a bad result is reported before extra keys */
	assert_invalid(q, LP_KIND_CHECKPOINT, "{\"result\": 1, \"x\": 2}", result_msg);
}

/* ----------------------------------------------------------- failures */

static void test_failure_payload(void **state)
{
	qfx *q = *state;
	lp_qamule_result r;
	assert_int_equal(
		read_text(
			q, LP_KIND_FAILURE,
			"{\"status\": \"confirmed\", \"reason\": \"observed\", "
			"\"n\": 0.1, \"big\": 12345678901, \"list\": [1, {\"z\": null, \"a\": true}]}",
			&r),
		LP_QAMULE_OK);
	assert_null(r.message);
	assert_int_equal(r.result, LP_RESULT_NONE);
	assert_null(r.reason); /* the payload of a failure is not a verdict */
	assert_string_equal(
		r.payload_json,
		"{\"big\":12345678901,\"list\":[1,{\"a\":true,\"z\":null}],\"n\":"
		"0.10000000000000001,\"reason\":\"observed\",\"status\":\"confirmed\"}");
	/* it reads back as an object */
	lp_json *j = NULL;
	assert_int_equal(lpj_parse_object(r.payload_json, strlen(r.payload_json), "payload", &j),
			 LP_OK);
	assert_string_equal(lpj_get_str(j, "status"), "confirmed");
	lpj_free(j);
	lp_qamule_result_clear(&r);

	/* any object: the checkpoint rules do not apply */
	assert_int_equal(read_text(q, LP_KIND_FAILURE, "{\"result\": 1, \"x\": 2}", &r),
			 LP_QAMULE_OK);
	assert_string_equal(r.payload_json, "{\"result\":1,\"x\":2}");
	lp_qamule_result_clear(&r);
	assert_int_equal(read_text(q, LP_KIND_FAILURE, "{}", &r), LP_QAMULE_OK);
	assert_string_equal(r.payload_json, "{}");
	lp_qamule_result_clear(&r);

	assert_invalid(q, LP_KIND_FAILURE, "[1, 2]", "Pause result must be a JSON object.");
	assert_invalid(q, LP_KIND_FAILURE, "{\"a\": 1", "Invalid pause result JSON: ");

	char p[256];
	qpath(q, p, sizeof p, "none.json");
	assert_int_equal(lp_qamule_result_read(p, LP_KIND_FAILURE, &r), LP_QAMULE_MISSING_RESULT);
	assert_non_null(r.message);
	lp_qamule_result_clear(&r);
}

/* ------------------------------------------------------------- safety */

static void test_refuses_symlink_fifo_dir(void **state)
{
	qfx *q = *state;
	char target[256], link[256], fifo[256], dir[256];
	lp_qamule_result r;
	qpath(q, target, sizeof target, "target.json");
	qpath(q, link, sizeof link, "link.json");
	assert_int_equal(write_text(target, "{\"result\": true}", 16), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(lp_qamule_result_read(link, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "symlink"));
	assert_int_equal(r.result, LP_RESULT_NONE);
	lp_qamule_result_clear(&r);

	qpath(q, fifo, sizeof fifo, "fifo.json");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	test_guard(20); /* a FIFO must not block the read */
	assert_int_equal(lp_qamule_result_read(fifo, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	alarm(0);
	assert_non_null(strstr(r.message, "not a regular file"));
	lp_qamule_result_clear(&r);

	qpath(q, dir, sizeof dir, "dir.json");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(lp_qamule_result_read(dir, LP_KIND_FAILURE, &r), LP_QAMULE_INVALID_RESULT);
	lp_qamule_result_clear(&r);
}

static void test_size_cap(void **state)
{
	qfx *q = *state;
	/* {"result":true,"reason":"aaa..."} of exactly the cap: read */
	size_t cap = LP_QAMULE_RESULT_CAP;
	char *text = malloc(cap + 2);
	const char *head = "{\"result\":true,\"reason\":\"";
	size_t h = strlen(head);
	memcpy(text, head, h);
	memset(text + h, 'a', cap - h - 2);
	memcpy(text + cap - 2, "\"}", 3);
	assert_int_equal(strlen(text), cap);
	lp_qamule_result r;
	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT, text, &r), LP_QAMULE_OK);
	assert_int_equal(strlen(r.reason), cap - h - 2);
	lp_qamule_result_clear(&r);
	/* within the cap, but over it once written out: refused too */
	char *nums = malloc(cap + 1);
	size_t at = 0;
	nums[at++] = '{';
	memcpy(nums + at, "\"n\":[", 5);
	at += 5;
	while (at + 8 < cap) {
		memcpy(nums + at, "1e5,", 4);
		at += 4;
	}
	memcpy(nums + at, "1]}", 4);
	assert_true(strlen(nums) <= cap);
	assert_int_equal(read_text(q, LP_KIND_FAILURE, nums, &r), LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "once written out"));
	assert_null(r.payload_json);
	lp_qamule_result_clear(&r);
	free(nums);
	/* one byte more: refused before parsing */
	memcpy(text + cap - 2, " \"}", 4);
	assert_int_equal(read_text(q, LP_KIND_CHECKPOINT, text, &r), LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "over the limit"));
	lp_qamule_result_clear(&r);
	free(text);
}

static void test_refuses_foreign_owner(void **state)
{
	qfx *q = *state;
	if (geteuid() != 0) {
		skip(); /* only root can give a file away */
		return;
	}
	char p[256];
	qpath(q, p, sizeof p, "foreign.json");
	assert_int_equal(write_text(p, "{\"result\": true}", 16), 0);
	assert_int_equal(chown(p, 65534, 65534), 0);
	lp_qamule_result r;
	assert_int_equal(lp_qamule_result_read(p, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "owned by uid 65534"));
	lp_qamule_result_clear(&r);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	lp_qamule_result r;
	assert_int_equal(lp_qamule_result_read(NULL, LP_KIND_CHECKPOINT, &r), LP_EINVAL);
	assert_int_equal(lp_qamule_result_read("", LP_KIND_CHECKPOINT, &r), LP_EINVAL);
	assert_int_equal(lp_qamule_result_read("/x", (lp_kind)7, &r), LP_EINVAL);
	assert_int_equal(lp_qamule_result_read("/x", LP_KIND_FAILURE, NULL), LP_EINVAL);
	assert_null(r.message);
	lp_qamule_result zero;
	memset(&zero, 0, sizeof zero);
	lp_qamule_result_clear(&zero);
	lp_qamule_result_clear(NULL);
	assert_string_equal(lp_qamule_status_name(LP_QAMULE_OK), "ok");
	assert_string_equal(lp_qamule_status_name(LP_QAMULE_MISSING_RESULT), "missing_result");
	assert_string_equal(lp_qamule_status_name(LP_QAMULE_INVALID_RESULT), "invalid_result");
}

/* ------------------------------------------------ the json.c helpers */

static void test_json_any(void **state)
{
	(void)state;
	lp_json *j = NULL;
	assert_int_equal(lpj_parse_any("[1, 2]", 6, &j), LP_OK);
	assert_int_equal(lpj_typeof(j), LPJ_ARRAY);
	char *s = lpj_dump_exact(j);
	assert_string_equal(s, "[1,2]");
	free(s);
	lpj_free(j);
	assert_int_equal(lpj_parse_any("\"x\"", 3, &j), LP_OK);
	assert_int_equal(lpj_typeof(j), LPJ_STRING);
	assert_string_equal(lpj_string_value(j), "x");
	lpj_free(j);
	assert_int_equal(lpj_parse_any("false", 5, &j), LP_OK);
	assert_int_equal(lpj_typeof(j), LPJ_BOOL);
	assert_false(lpj_is_true(j));
	assert_null(lpj_string_value(j));
	lpj_free(j);
	assert_int_equal(lpj_parse_any("null", 4, &j), LP_OK);
	assert_int_equal(lpj_typeof(j), LPJ_NULL);
	lpj_free(j);
	assert_int_equal(lpj_parse_any("2.5", 3, &j), LP_OK);
	assert_int_equal(lpj_typeof(j), LPJ_NUMBER);
	lpj_free(j);
	assert_int_equal(lpj_parse_any("", 0, &j), LP_EBADCMD);
	assert_null(j);
	assert_int_equal(lpj_parse_any("{\"a\":1,\"a\":1}", 13, &j), LP_EBADCMD);
	assert_non_null(strstr(lp_error_message(), "line 1"));

	static const char *const allowed[] = {"a", "b", NULL};
	assert_int_equal(lpj_parse_any("{\"a\":1,\"c\":2}", 13, &j), LP_OK);
	assert_string_equal(lpj_unknown_key(j, allowed), "c");
	lpj_free(j);
	assert_int_equal(lpj_parse_any("{\"b\":1}", 7, &j), LP_OK);
	assert_null(lpj_unknown_key(j, allowed));
	lpj_free(j);
}

/* ---------------------------------------------------------- decisions */

/* A run in its pause directory and a result directory beside it. */
typedef struct dfx {
	fx f;
	char results[128];
	char request_id[LP_QAMULE_REQUEST_ID_LEN + 1];
	char *result_path;
	lp_pause *pause;
	lp_qamule_request req;
} dfx;

static dfx *dfx_open(void **state, lp_kind kind)
{
	void *fstate = NULL;
	assert_int_equal(fx_setup_run(&fstate), 0);
	dfx *d = calloc(1, sizeof *d);
	d->f = *(fx *)fstate;
	free(fstate);
	snprintf(d->results, sizeof d->results, "%s/results", d->f.dir);
	assert_int_equal(lp_qamule_request_new(d->results, d->request_id, &d->result_path), LP_OK);
	d->pause = fx_pause(&d->f, kind, LP_TIMEOUT_FOREVER);
	d->req.kind = kind;
	d->req.nodeid = "tests/test_x.py::test_y";
	d->req.request_id = d->request_id;
	d->req.result_path = d->result_path;
	d->req.signal = "SIGUSR1";
	d->req.pid = 42;
	*state = d;
	return d;
}

static void dfx_close(dfx *d)
{
	lp_pause_free(d->pause);
	free(d->result_path);
	fx *f = calloc(1, sizeof *f);
	*f = d->f;
	void *fstate = f;
	fx_teardown(&fstate);
	free(d);
}

static void write_result(const dfx *d, const char *text)
{
	assert_int_equal(write_text(d->result_path, text, strlen(text)), 0);
}

/* The n-th line (0-based) of e->lines, in buf. */
static const char *line_of(const lp_qamule_ending *e, int n, char *buf, size_t size)
{
	const char *s = e->lines;
	for (int i = 0; i < n && s; i++) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	if (s == NULL)
		return NULL;
	size_t len = strcspn(s, "\n");
	snprintf(buf, size, "%.*s", (int)len, s);
	return buf;
}

static void test_claim_checkpoint_ok(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_CHECKPOINT);
	write_result(d, "{\"result\": true, \"reason\": \"seen \\u00e9\"}");
	lp_qamule_ending e;
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_string_equal(e.outcome, "signal");
	assert_true(e.has_status);
	assert_int_equal(e.status, LP_QAMULE_OK);
	assert_true(e.has_result);
	assert_string_equal(e.checkpoint_outcome, "signal");
	assert_int_equal(e.result, LP_RESULT_TRUE);
	assert_string_equal(e.reason, "seen \xc3\xa9");
	assert_int_equal(e.resolution.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(e.resolution.by, "signal");
	assert_true(e.resolution.own);
	assert_int_equal(count_substr(e.lines, "\n"), 0);
	char want[1024];
	snprintf(want, sizeof want,
		 "QAMULE_PAUSE_RESUME {\"event\": \"qamule.resume\", \"has_result\": true, "
		 "\"nodeid\": \"tests/test_x.py::test_y\", \"outcome\": \"signal\", "
		 "\"reason\": \"checkpoint\", \"request_id\": \"%s\", \"result_path\": \"%s\", "
		 "\"signal\": \"SIGUSR1\"}",
		 d->request_id, d->result_path);
	assert_string_equal(e.lines, want);
	assert_false(exists(d->result_path)); /* consumed */
	assert_pause_status(d->f.store, lp_pause_id(d->pause), "resumed");
	lp_qamule_ending_clear(&e);
	lp_qamule_ending_clear(&e); /* twice: safe */
	dfx_close(d);
}

static void test_claim_checkpoint_missing_and_invalid(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_CHECKPOINT);
	lp_qamule_ending e;
	char buf[2048];
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.status, LP_QAMULE_MISSING_RESULT);
	assert_false(e.has_result);
	assert_string_equal(e.checkpoint_outcome, "missing_result");
	assert_int_equal(e.result, LP_RESULT_NONE);
	assert_string_equal(e.reason, "Checkpoint resumed without a result payload.");
	assert_non_null(line_of(&e, 1, buf, sizeof buf));
	assert_int_equal(
		strncmp(buf,
			"QAMULE_PAUSE_WARNING {\"event\": \"qamule.pause_warning\", "
			"\"outcome\": \"missing_result\", \"pause_reason\": \"checkpoint\", "
			"\"reason\": \"Checkpoint resumed without a result payload.\"",
			160),
		0);
	assert_null(line_of(&e, 2, buf, sizeof buf));
	lp_qamule_ending_clear(&e);
	lp_pause_free(d->pause);

	/* a file that is not {result, reason}: invalid, and its message */
	d->pause = fx_pause(&d->f, LP_KIND_CHECKPOINT, LP_TIMEOUT_FOREVER);
	write_result(d, "{\"result\": \"yes\"}");
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.status, LP_QAMULE_INVALID_RESULT);
	assert_true(e.has_result); /* QAMule's: a file was there */
	assert_string_equal(e.checkpoint_outcome, "invalid_result");
	assert_non_null(strstr(e.reason, "must be JSON like"));
	assert_non_null(strstr(e.lines, "\"outcome\": \"invalid_result\""));
	lp_qamule_ending_clear(&e);
	dfx_close(d);
}

static void test_claim_failure_payload(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_FAILURE);
	write_result(
		d, "{\"n\": 1.5, \"a\": \"\\u00e9\", \"x\": 0.1, \"h\": 100.0, \"l\": [1, null]}");
	lp_qamule_ending e;
	char buf[2048], want[2048];
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.status, LP_QAMULE_OK);
	/* Python's json.dumps(sort_keys=True, ensure_ascii=False) */
	const char *payload =
		"{\"a\": \"\xc3\xa9\", \"h\": 100.0, \"l\": [1, null], \"n\": 1.5, \"x\": 0.1}";
	assert_string_equal(e.payload_json, payload);
	assert_non_null(line_of(&e, 1, buf, sizeof buf));
	snprintf(want, sizeof want,
		 "QAMULE_PAUSE_RESULT {\"event\": \"qamule.pause_result\", \"nodeid\": "
		 "\"tests/test_x.py::test_y\", \"payload\": %s, \"reason\": \"failure\", "
		 "\"request_id\": \"%s\"}",
		 payload, d->request_id);
	assert_string_equal(buf, want);
	assert_null(e.checkpoint_outcome); /* not a checkpoint */
	/* the claim recorded the payload in the command */
	assert_non_null(strstr(e.resolution.command_json, "\"payload\""));
	lp_qamule_ending_clear(&e);
	lp_pause_free(d->pause);

	/* a failure without a file: missing, no warning (QAMule's) */
	d->pause = fx_pause(&d->f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.status, LP_QAMULE_MISSING_RESULT);
	assert_null(strchr(e.lines, '\n'));
	assert_null(e.payload_json);
	lp_qamule_ending_clear(&e);
	dfx_close(d);
}

static void test_claim_big_result_is_cut_in_the_claim_only(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_CHECKPOINT);
	size_t n = 60 * 1024;
	char *text = malloc(n + 64);
	strcpy(text, "{\"result\": false, \"reason\": \"");
	size_t at = strlen(text);
	for (size_t i = 0; i < n; i++)
		text[at + i] = 'r';
	strcpy(text + at + n, "\"}");
	write_result(d, text);
	free(text);
	lp_qamule_ending e;
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.result, LP_RESULT_FALSE);
	assert_int_equal(strlen(e.reason), n); /* the test gets all of it */
	char tail[64];
	snprintf(tail, sizeof tail, " [cut: %zu bytes]", n);
	assert_non_null(strstr(e.resolution.reason, tail)); /* the record is cut */
	lp_qamule_ending_clear(&e);
	lp_pause_free(d->pause);

	/* a failure payload over the room is recorded by size */
	d->pause = fx_pause(&d->f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	d->req.kind = LP_KIND_FAILURE;
	text = malloc(n + 64);
	strcpy(text, "{\"log\": \"");
	at = strlen(text);
	memset(text + at, 'x', n);
	strcpy(text + at + n, "\"}");
	write_result(d, text);
	free(text);
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_int_equal(e.status, LP_QAMULE_OK);
	assert_true(strlen(e.payload_json) > n);
	assert_non_null(strstr(e.resolution.command_json, "\"omitted_bytes\""));
	lp_qamule_ending_clear(&e);
	dfx_close(d);
}

static void test_claim_loses_to_the_cli(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_CHECKPOINT);
	lp_resume_options ro = LP_RESUME_OPTIONS_INIT;
	ro.has_result = 1;
	ro.result = LP_RESULT_FALSE;
	ro.reason = "from the cli";
	ro.take_timeout = -1; /* written, not waited for */
	assert_int_equal(lp_pause_resume(NULL, d->f.store, lp_pause_id(d->pause), &ro), LP_OK);
	write_result(d, "{\"result\": true}");
	lp_qamule_ending e;
	assert_int_equal(lp_qamule_claim(&e, d->pause, &d->req), LP_OK);
	assert_false(e.resolution.own);
	assert_string_equal(e.outcome, "cli");
	assert_false(e.has_status); /* the file's reading does not count */
	assert_true(e.has_result);
	assert_string_equal(e.checkpoint_outcome, "cli");
	assert_int_equal(e.result, LP_RESULT_FALSE);
	assert_string_equal(e.reason, "from the cli");
	assert_null(strchr(e.lines, '\n'));
	assert_non_null(strstr(e.lines, "\"outcome\": \"cli\""));
	lp_qamule_ending_clear(&e);
	dfx_close(d);
}

static void test_ending_from_timeout_and_abort(void **state)
{
	dfx *d = dfx_open(state, LP_KIND_CHECKPOINT);
	lp_resolution res;
	lp_qamule_ending e;
	assert_int_equal(lp_pause_abort(&res, d->pause, "SIGINT"), LP_OK);
	assert_int_equal(lp_qamule_ending_from(&e, &d->req, &res, NULL), LP_OK);
	assert_null(res.by); /* moved */
	assert_string_equal(e.outcome, "abort");
	assert_false(e.has_result);
	assert_string_equal(e.checkpoint_outcome, "abort");
	lp_qamule_ending_clear(&e);
	lp_pause_free(d->pause);

	d->pause = fx_pause(&d->f, LP_KIND_CHECKPOINT, 0); /* times out at once */
	assert_int_equal(lp_pause_wait(&res, d->pause, NULL), LP_OK);
	/* a reading passed without the signal winning does not count */
	lp_qamule_result reading;
	memset(&reading, 0, sizeof reading);
	reading.status = LP_QAMULE_OK;
	reading.result = LP_RESULT_TRUE;
	assert_int_equal(lp_qamule_ending_from(&e, &d->req, &res, &reading), LP_OK);
	assert_string_equal(e.outcome, "timeout");
	assert_false(e.has_status);
	assert_false(e.has_result);
	assert_int_equal(e.result, LP_RESULT_NONE);
	assert_null(e.reason);
	assert_string_equal(e.checkpoint_outcome, "timeout");
	lp_qamule_ending_clear(&e);
	dfx_close(d);
}

static void test_event_line_and_fields(void **state)
{
	(void)state;
	lp_qamule_request req = {LP_KIND_CHECKPOINT,
				 "t.py::x\x1b[2J\xe2\x80\xa8",
				 "ab",
				 "/r/ab.json",
				 "SIGUSR2",
				 42};
	char *line = NULL;
	assert_int_equal(lp_qamule_event_line(&line, &req, "look", 600), LP_OK);
	assert_string_equal(
		line, "QAMULE_PAUSE_EVENT {\"context\": {\"task\": \"look\"}, \"event\": "
		      "\"qamule.pause\", \"nodeid\": \"t.py::x\\u001b[2J\\u2028\", \"pid\": 42, "
		      "\"reason\": \"checkpoint\", \"request_id\": \"ab\", \"result_path\": "
		      "\"/r/ab.json\", \"signal\": \"SIGUSR2\", \"timeout_sec\": 600}");
	free(line);
	req.kind = LP_KIND_FAILURE;
	req.nodeid = "t.py::x";
	assert_int_equal(lp_qamule_event_line(&line, &req, "E  1 != 2\n", LP_TIMEOUT_FOREVER),
			 LP_OK);
	assert_non_null(strstr(line, "{\"context\": {\"longrepr\": \"E  1 != 2\\n\", \"outcome\": "
				     "\"failed\", \"when\": \"call\"}"));
	assert_non_null(strstr(line, "\"timeout_sec\": null}"));
	free(line);
	assert_int_equal(lp_qamule_event_line(&line, &req, NULL, 0.5), LP_OK);
	assert_non_null(strstr(line, "\"timeout_sec\": 0.5}"));
	free(line);
	assert_int_equal(lp_qamule_pause_fields(&line, &req), LP_OK);
	assert_string_equal(line, "{\"request_id\":\"ab\",\"result_path\":\"/r/ab.json\","
				  "\"signal\":\"SIGUSR2\"}");
	free(line);

	/* bad arguments: LP_EINVAL, nothing made */
	lp_qamule_request bad = req;
	bad.signal = NULL;
	line = (char *)"unchanged";
	assert_int_equal(lp_qamule_event_line(&line, &bad, "x", 1), LP_EINVAL);
	assert_null(line);
	assert_int_equal(lp_qamule_event_line(NULL, &req, "x", 1), LP_EINVAL);
	assert_int_equal(lp_qamule_pause_fields(&line, NULL), LP_EINVAL);
	bad = req;
	bad.kind = (lp_kind)9;
	assert_int_equal(lp_qamule_pause_fields(&line, &bad), LP_EINVAL);
	lp_qamule_ending e;
	assert_int_equal(lp_qamule_claim(&e, NULL, &req), LP_EINVAL);
	assert_null(e.lines);
	assert_int_equal(lp_qamule_claim(NULL, NULL, &req), LP_EINVAL);
	lp_resolution res;
	memset(&res, 0, sizeof res);
	assert_int_equal(lp_qamule_ending_from(&e, NULL, &res, NULL), LP_EINVAL);
	assert_int_equal(lp_qamule_ending_from(&e, &req, NULL, NULL), LP_EINVAL);
	lp_qamule_ending_clear(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_makes_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_true_false, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_invalid_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_not_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_symlink_fifo_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_owner, setup, teardown),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_json_any),
		cmocka_unit_test(test_claim_checkpoint_ok),
		cmocka_unit_test(test_claim_checkpoint_missing_and_invalid),
		cmocka_unit_test(test_claim_failure_payload),
		cmocka_unit_test(test_claim_big_result_is_cut_in_the_claim_only),
		cmocka_unit_test(test_claim_loses_to_the_cli),
		cmocka_unit_test(test_ending_from_timeout_and_abort),
		cmocka_unit_test(test_event_line_and_fields),
	};
	return cmocka_run_group_tests_name("qamule", tests, NULL, NULL);
}
