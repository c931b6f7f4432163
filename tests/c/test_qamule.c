/*
 * test_qamule.c - qamule.c: the request of a QAMule-mode pause
 * (lp_qamule_request_new: result directory made 0700, request id, result
 * path) and the reading of a result file with QAMule's rules
 * (lp_qamule_result_read: missing, invalid JSON, not an object, the
 * checkpoint fields, the safety refusals: symlink, FIFO, directory, size,
 * another user's file), plus the JSON helpers json.c gained for it.
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
				   "{\"result\": true, \"reason\": \"looks right \xc3\xa9\"}\n", &r),
			 LP_QAMULE_OK);
	assert_int_equal(r.status, LP_QAMULE_OK);
	assert_null(r.message);
	assert_int_equal(r.result, LP_RESULT_TRUE);
	assert_string_equal(r.reason, "looks right \xc3\xa9");
	assert_string_equal(r.payload_json, "{\"reason\":\"looks right \xc3\xa9\",\"result\":true}");
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
		"", "   ", "{", "{\"result\": true", "{'result': true}", "{\"result\": tru}",
		"{\"result\": true} x", "{}{}", "{\"result\": true,}", "{\"result\": NaN}",
		"{\"result\": true, \"result\": false}", /* duplicate keys */
		"{\"result\": true, \"reason\": \"\xff\"}", /* invalid UTF-8 */
		"\xef\xbb\xbf{\"result\": true}",          /* a BOM */
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
		assert_invalid(q, LP_KIND_CHECKPOINT, bad[i], "Pause result must be a JSON object.");
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
	assert_int_equal(read_text(q, LP_KIND_FAILURE,
				   "{\"status\": \"confirmed\", \"reason\": \"observed\", "
				   "\"n\": 0.1, \"big\": 12345678901, \"list\": [1, {\"z\": null, \"a\": true}]}",
				   &r),
			 LP_QAMULE_OK);
	assert_null(r.message);
	assert_int_equal(r.result, LP_RESULT_NONE);
	assert_null(r.reason); /* the payload of a failure is not a verdict */
	assert_string_equal(r.payload_json,
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
	assert_int_equal(lp_qamule_result_read(dir, LP_KIND_FAILURE, &r),
			 LP_QAMULE_INVALID_RESULT);
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
	};
	return cmocka_run_group_tests_name("qamule", tests, NULL, NULL);
}
