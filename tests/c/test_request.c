/*
 * test_request.c - request.c: eval, exec and actions sent to a paused
 * process. This process is the paused one (lp_pause_wait with an
 * on_request hook that echoes what it got); forked children send requests
 * with lp_request_send() and check the answers, then resume. Refusals
 * before anything is written (eval not allowed, unknown action, bad
 * arguments, an ended pause), refusals by the paused process itself (a
 * hand-written request it does not offer, no hook), garbage moved aside,
 * a hook that stops the wait, the parsers of both files, and the events.
 */
#include "helpers.h"

/* ------------------------------------------------------------ helpers */

static int echo_calls;

/* The paused side: repr "<type>:<code|action>", stdout "out", an action's
 * data its arguments as an object; code "boom" fails, "stop" stops. */
static int echo(void *ud, const lp_request *req, lp_answer *ans)
{
	(void)ud;
	echo_calls++;
	const char *what = req->code ? req->code : req->action;
	if (req->code && strcmp(req->code, "stop") == 0)
		return 1;
	char buf[256];
	snprintf(buf, sizeof buf, "%s:%s", lp_request_type_name(req->type), what);
	ans->out_text = strdup("out");
	if (req->code && strcmp(req->code, "boom") == 0) {
		ans->error = strdup("Traceback ...\nValueError: boom");
		return 0;
	}
	ans->ok = 1;
	ans->repr = strdup(buf);
	if (req->type == LP_REQUEST_ACTION) {
		char data[512] = "{";
		for (size_t i = 0; i < req->nargs; i++)
			snprintf(data + strlen(data), sizeof data - strlen(data), "%s\"%s\":\"%s\"",
				 i ? "," : "", req->arg_keys[i], req->arg_values[i]);
		strcat(data, "}");
		ans->data_json = strdup(data);
		ans->files = calloc(2, sizeof *ans->files);
		ans->files[0] = strdup("/tmp/shot.png");
		ans->nfiles = 1;
	}
	return 0;
}

typedef struct asker {
	const char *dir;
	char id[LP_ID_MAX + 1];
	int (*fn)(lp_store *s, const char *id);
} asker;

static int ask_child(void *arg)
{
	asker *a = arg;
	lp_store *s;
	if (lp_store_open(&s, a->dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	int rc = a->fn(s, a->id);
	lp_resume_options ro = LP_RESUME_OPTIONS_INIT;
	if (lp_pause_resume(NULL, s, a->id, &ro) != LP_OK && rc == 0)
		rc = 99;
	lp_store_free(s);
	return rc;
}

static int send_one(lp_store *s, const char *id, lp_request_type type, const char *what,
		    const char *const *args, lp_answer *ans)
{
	lp_request_options o = LP_REQUEST_OPTIONS_INIT;
	o.type = type;
	if (type == LP_REQUEST_ACTION)
		o.action = what;
	else
		o.code = what;
	o.args = args;
	int rc = lp_request_send(ans, s, id, &o);
	if (rc != LP_OK)
		fprintf(stderr, "[asker] %s: %s\n", lp_error_name(rc), lp_error_message());
	return rc;
}

/* Run fn in a child while this process waits (with the echo hook, or
 * none) until the child resumes: returns the child's exit code. */
static int serve_while(fx *f, lp_pause *p, int (*fn)(lp_store *, const char *), int hook)
{
	asker a = {.dir = f->dir, .fn = fn};
	snprintf(a.id, sizeof a.id, "%s", lp_pause_id(p));
	pid_t pid = fork_child(ask_child, &a);
	lp_wait_hooks h = LP_WAIT_HOOKS_INIT;
	if (hook)
		h.on_request = echo;
	lp_resolution res = {0};
	int rc = lp_pause_wait(&res, p, &h);
	assert_int_equal(rc, LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	lp_resolution_clear(&res);
	return wait_child(pid, 30000);
}

static char *events_of(fx *f)
{
	char path[256];
	char *t = slurp(fx_path(f, path, sizeof path, "runs/r1/events.jsonl"));
	assert_non_null(t);
	return t;
}

static const char *const actions[] = {"screenshot", "logcat", NULL};

/* -------------------------------------------------------------- tests */

static int ask_all(lp_store *s, const char *id)
{
	lp_answer a = {0};
	if (send_one(s, id, LP_REQUEST_EVAL, "1+1", NULL, &a) != LP_OK)
		return 10;
	int bad = !a.ok || !a.repr || strcmp(a.repr, "eval:1+1") != 0 || !a.out_text ||
		  strcmp(a.out_text, "out") != 0 || !a.json || !strstr(a.json, "\"duration_ms\"");
	lp_answer_clear(&a);
	if (bad)
		return 11;
	if (send_one(s, id, LP_REQUEST_EXEC, "x = 1", NULL, &a) != LP_OK)
		return 12;
	bad = !a.ok || strcmp(a.repr, "exec:x = 1") != 0;
	lp_answer_clear(&a);
	if (bad)
		return 13;
	const char *args[] = {"lines=200", "tag=a=b", NULL};
	if (send_one(s, id, LP_REQUEST_ACTION, "logcat", args, &a) != LP_OK)
		return 14;
	bad = !a.ok || !a.data_json ||
	      strcmp(a.data_json, "{\"lines\":\"200\",\"tag\":\"a=b\"}") != 0 || a.nfiles != 1 ||
	      strcmp(a.files[0], "/tmp/shot.png") != 0;
	lp_answer_clear(&a);
	if (bad)
		return 15;
	if (send_one(s, id, LP_REQUEST_EVAL, "boom", NULL, &a) != LP_OK)
		return 16;
	bad = a.ok || !a.error || !strstr(a.error, "ValueError: boom");
	lp_answer_clear(&a);
	return bad ? 17 : 0;
}

static void test_round_trip(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_set_requests(f->run, 1, actions), LP_OK);
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	char *doc = slurp(lp_pause_path(p));
	assert_non_null(strstr(
		doc, "\"requests\":{\"actions\":[\"screenshot\",\"logcat\"],\"eval\":true}"));
	free(doc);
	echo_calls = 0;
	assert_int_equal(serve_while(f, p, ask_all, 1), 0);
	assert_int_equal(echo_calls, 4);
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"request\""), 4);
	assert_non_null(strstr(ev, "\"code\":\"1+1\""));
	assert_non_null(strstr(ev, "\"action\":\"logcat\""));
	assert_non_null(strstr(ev, "\"args\":[\"lines\",\"tag\"]"));
	assert_null(strstr(ev, "eval:1+1")); /* never the value */
	/* nor an argument's value (as the JSON string it would be: a bare
	 * "200" can be part of a timestamp or a random id) */
	assert_null(strstr(ev, "\"200\""));
	assert_null(strstr(ev, "a=b"));
	free(ev);
	char dir[256];
	fx_path(f, dir, sizeof dir, "runs/r1/commands");
	char pre[LP_ID_MAX + 16];
	snprintf(pre, sizeof pre, "%s.request", lp_pause_id(p));
	assert_int_equal(count_entries(dir, pre), 0);
	snprintf(pre, sizeof pre, "%s.answer", lp_pause_id(p));
	assert_int_equal(count_entries(dir, pre), 0);
	lp_pause_free(p);
}

static int ask_refused(lp_store *s, const char *id)
{
	lp_answer a = {0};
	if (send_one(s, id, LP_REQUEST_EVAL, "1+1", NULL, &a) != LP_ENOEVAL ||
	    !strstr(lp_error_message(), "--pause-allow-eval"))
		return 10;
	if (send_one(s, id, LP_REQUEST_EXEC, "x=1", NULL, &a) != LP_ENOEVAL)
		return 11;
	if (send_one(s, id, LP_REQUEST_ACTION, "nope", NULL, &a) != LP_ENOACTION ||
	    !strstr(lp_error_message(), "screenshot, logcat"))
		return 12;
	const char *bad1[] = {"novalue", NULL}, *bad2[] = {"=v", NULL},
		   *bad3[] = {"a=1", "a=2", NULL}, *bad4[] = {"1a=x", NULL};
	const char *const *bads[] = {bad1, bad2, bad3, bad4};
	for (int i = 0; i < 4; i++)
		if (send_one(s, id, LP_REQUEST_ACTION, "logcat", bads[i], &a) != LP_EINVAL)
			return 13 + i;
	return 0;
}

static void test_refused_before_writing(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_set_requests(f->run, 0, actions), LP_OK);
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, LP_TIMEOUT_FOREVER);
	echo_calls = 0;
	assert_int_equal(serve_while(f, p, ask_refused, 1), 0);
	assert_int_equal(echo_calls, 0);
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"request\""), 0);
	free(ev);
	lp_pause_free(p);
}

/* A request written by hand for what the pause does not offer is
 * answered as refused by the paused process itself. */
/* The request was written by hand before the pause's wait began: resume
 * only once the paused process has answered it (else the resume may be
 * taken first, the request never served, and the test would race). */
static int ask_by_hand(lp_store *s, const char *id)
{
	char path[512];
	snprintf(path, sizeof path, "%s/runs/r1/commands/%s.answer.abc.json", lp_store_path(s), id);
	for (int i = 0; i < 2000 && !exists(path); i++) { /* 10 s at most */
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return exists(path) ? 0 : 20;
}

static void test_refused_by_paused_process(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_set_requests(f->run, 0, NULL), LP_OK);
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	char path[512], body[512];
	snprintf(body, sizeof body,
		 "{\"request_id\":\"abc\",\"type\":\"eval\",\"code\":\"1+1\",\"by\":\"hand\"}");
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.request.json", lp_pause_id(p));
	assert_int_equal(write_text(path, body, strlen(body)), 0);
	echo_calls = 0;
	assert_int_equal(serve_while(f, p, ask_by_hand, 1), 0);
	assert_int_equal(echo_calls, 0);
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.answer.abc.json", lp_pause_id(p));
	char *ans = slurp(path);
	assert_non_null(ans);
	assert_non_null(strstr(ans, "\"ok\":false"));
	assert_non_null(strstr(ans, "--pause-allow-eval"));
	lp_answer parsed;
	assert_int_equal(lpi_answer_parse(ans, strlen(ans), "answer", &parsed), LP_OK);
	assert_false(parsed.ok);
	lp_answer_clear(&parsed);
	free(ans);
	char *ev = events_of(f);
	assert_non_null(strstr(ev, "\"refused\":\"eval and exec are off"));
	free(ev);
	lp_pause_free(p);
}

static int ask_no_hook(lp_store *s, const char *id)
{
	lp_answer a = {0};
	if (send_one(s, id, LP_REQUEST_EVAL, "1+1", NULL, &a) != LP_OK)
		return 10;
	int bad = a.ok || !a.error || !strstr(a.error, "takes no requests");
	lp_answer_clear(&a);
	return bad ? 11 : 0;
}

static void test_no_hook(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_set_requests(f->run, 1, NULL), LP_OK);
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	assert_int_equal(serve_while(f, p, ask_no_hook, 0), 0);
	lp_pause_free(p);
}

static void test_ended_and_offerless(void **state)
{
	fx *f = *state;
	/* no lp_run_set_requests: the pause offers nothing */
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	lp_answer a = {0};
	assert_int_equal(send_one(f->store, lp_pause_id(p), LP_REQUEST_EVAL, "1", NULL, &a),
			 LP_ENOEVAL);
	assert_non_null(strstr(lp_error_message(), "takes no eval"));
	assert_int_equal(send_one(f->store, lp_pause_id(p), LP_REQUEST_ACTION, "x", NULL, &a),
			 LP_ENOACTION);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, "test", NULL), LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(send_one(f->store, lp_pause_id(p), LP_REQUEST_EVAL, "1", NULL, &a),
			 LP_ERESUMED);
	assert_non_null(strstr(lp_error_message(), "has ended"));
	assert_int_equal(send_one(f->store, "r1.nosuch", LP_REQUEST_EVAL, "1", NULL, &a),
			 LP_ENOTFOUND);
	lp_request_options o = LP_REQUEST_OPTIONS_INIT;
	o.code = "";
	assert_int_equal(lp_request_send(&a, f->store, lp_pause_id(p), &o), LP_EINVAL);
	o.code = "1";
	o.timeout = -1;
	assert_int_equal(lp_request_send(&a, f->store, lp_pause_id(p), &o), LP_EINVAL);
	lp_pause_free(p);
}

static void test_garbage_and_stop(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_set_requests(f->run, 1, NULL), LP_OK);
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, LP_TIMEOUT_FOREVER);
	char path[512];
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.request.json", lp_pause_id(p));
	assert_int_equal(write_text(path, "{not json", 9), 0);
	backdate(path, 5); /* not a writer's partial file */
	/* then a request whose hook asks to stop */
	const char *stop = "{\"request_id\":\"s1\",\"type\":\"exec\",\"code\":\"stop\"}";
	lp_wait_hooks h = LP_WAIT_HOOKS_INIT;
	h.on_request = echo;
	h.slice_ms = 10;
	lp_resolution res = {0};
	char dir[256];
	fx_path(f, dir, sizeof dir, "runs/r1/commands");
	/* serve the garbage: returns after moving it; then publish the stop */
	assert_int_equal(lpi_request_serve(f->run, lp_pause_id(p), NULL, &h, NULL, NULL), 1);
	char pre[LP_ID_MAX + 32];
	snprintf(pre, sizeof pre, "%s.request.json.rejected.", lp_pause_id(p));
	assert_int_equal(count_entries(dir, pre), 1);
	assert_int_equal(write_text(path, stop, strlen(stop)), 0);
	int rc = lp_pause_wait(&res, p, &h);
	assert_int_equal(rc, LP_EINTR);
	assert_pause_status(f->store, lp_pause_id(p), "pending");
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.answer.s1.json", lp_pause_id(p));
	char *ans = slurp(path);
	assert_non_null(ans);
	assert_non_null(strstr(ans, "interrupted"));
	free(ans);
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"request_rejected\""), 1);
	free(ev);
	lp_pause_free(p);
}

static void test_parsers(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"type\":\"eval\",\"code\":\"1\"}",                        /* no id */
		"{\"request_id\":\"a.b\",\"type\":\"eval\",\"code\":\"1\"}", /* '.' */
		"{\"request_id\":\"a\",\"type\":\"run\",\"code\":\"1\"}",    /* type */
		"{\"request_id\":\"a\",\"type\":\"eval\"}",                  /* no code */
		"{\"request_id\":\"a\",\"type\":\"eval\",\"code\":\"\"}",
		"{\"request_id\":\"a\",\"type\":\"eval\",\"code\":\"1\",\"timeout\":0}",
		"{\"request_id\":\"a\",\"type\":\"eval\",\"code\":\"1\",\"timeout\":\"5\"}",
		"{\"request_id\":\"a\",\"type\":\"action\"}",
		"{\"request_id\":\"a\",\"type\":\"action\",\"action\":\"../x\"}",
		"{\"request_id\":\"a\",\"type\":\"action\",\"action\":\"x\",\"args\":[]}",
		"{\"request_id\":\"a\",\"type\":\"action\",\"action\":\"x\",\"args\":{\"k\":1}}",
		"{\"request_id\":\"a\",\"type\":\"action\",\"action\":\"x\",\"args\":{\"a-b\":\"1\"}}",
		"{\"request_id\":\"a\",\"request_id\":\"b\",\"type\":\"eval\",\"code\":\"1\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lpi_request_parsed r;
		char *rid = NULL;
		int rc = lpi_request_parse(bad[i], strlen(bad[i]), "request", &r, &rid);
		if (rc != LP_EBADCMD)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(rc, LP_EBADCMD);
		assert_true(strlen(lp_error_message()) > 0);
		free(rid);
	}
	const char *good = "{\"request_id\":\"a1\",\"type\":\"action\",\"action\":\"shot\","
			   "\"args\":{\"k\":\"v\",\"n\":\"2\"},\"timeout\":2.5,\"future\":1}";
	lpi_request_parsed r;
	assert_int_equal(lpi_request_parse(good, strlen(good), "request", &r, NULL), LP_OK);
	assert_int_equal(r.req.type, LP_REQUEST_ACTION);
	assert_string_equal(r.req.action, "shot");
	assert_int_equal(r.req.nargs, 2);
	assert_true(r.req.timeout == 2.5);
	lpi_request_parsed_clear(&r);
	lp_answer a;
	assert_int_equal(lpi_answer_parse("{\"ok\":1}", 8, "answer", &a), LP_EBADCMD);
	assert_int_equal(lpi_answer_parse("{\"ok\":true}", 11, "answer", &a), LP_EBADCMD);
	const char *ans = "{\"ok\":true,\"request_id\":\"a\",\"repr\":\"2\",\"files\":[\"/x\",3]}";
	assert_int_equal(lpi_answer_parse(ans, strlen(ans), "answer", &a), LP_OK);
	assert_string_equal(a.repr, "2");
	assert_int_equal(a.nfiles, 1);
	lp_answer_clear(&a);
}

static void test_set_requests_bad(void **state)
{
	fx *f = *state;
	const char *bad[] = {"ok", "../x", NULL};
	assert_int_equal(lp_run_set_requests(f->run, 1, bad), LP_EINVAL);
	assert_int_equal(lp_run_set_requests(NULL, 1, NULL), LP_EINVAL);
	lp_answer_clear(NULL);
	lpi_request_parsed_clear(NULL);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_refused_before_writing),
		T(test_refused_by_paused_process),
		T(test_no_hook),
		T(test_ended_and_offerless),
		T(test_garbage_and_stop),
		T(test_parsers),
		T(test_set_requests_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
