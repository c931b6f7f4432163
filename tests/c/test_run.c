/*
 * test_run.c - run.c and events.c: starting a run (run.json, directories,
 * generated or given ids, options checked before anything is made),
 * joining it as an xdist worker, ending it, and the event log: one valid
 * JSON object per line, lines from several processes never interleaved;
 * the run's test progress (progress.json) written and read back.
 */
#include "helpers.h"

static char *run_file(fx *f, const char *run_id, const char *name)
{
	char p[256];
	return slurp(fx_path(f, p, sizeof p, "runs/%s/%s", run_id, name));
}

/* Every line of events.jsonl parses as an object with event, ts, run_id;
 * returns the number of lines. */
static int check_events(const char *text, const char *run_id)
{
	int n = 0;
	const char *line = text;
	while (*line) {
		const char *nl = strchr(line, '\n');
		assert_non_null(nl); /* every line is terminated */
		lp_json *j = NULL;
		int rc = lpj_parse_object(line, (size_t)(nl - line), "event line", &j);
		if (rc != LP_OK)
			fprintf(stderr, "bad line: %.*s\n",
				(int)(nl - line > 200 ? 200 : nl - line), line);
		assert_int_equal(rc, LP_OK);
		assert_non_null(lpj_get_str(j, "event"));
		assert_string_equal(lpj_get_str(j, "run_id"), run_id);
		assert_true(lpj_get_real(j, "ts", 0) > 0);
		lpj_free(j);
		n++;
		line = nl + 1;
	}
	return n;
}

static void test_start_generated(void **state)
{
	fx *f = *state;
	lp_run *run = NULL;
	assert_int_equal(lp_run_start(&run, f->store, NULL), LP_OK);
	const char *id = lp_run_id(run);
	assert_int_equal(strlen(id), 12);
	assert_int_equal(lpi_run_id_validate(id), LP_OK);
	char p[256];
	struct stat st;
	const char *dirs[] = {"", "/pauses", "/commands"};
	for (int k = 0; k < 3; k++) {
		assert_int_equal(stat(fx_path(f, p, sizeof p, "runs/%s%s", id, dirs[k]), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	char *doc = run_file(f, id, "run.json");
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"status\":\"active\""));
	assert_non_null(strstr(doc, "\"protocol\":3"));
	assert_non_null(strstr(doc, "\"worker_id\":null"));
	assert_non_null(strstr(doc, "\"ended_at\":null"));
	free(doc);
	lp_run_free(run);
	lp_run_free(NULL);
	assert_string_equal(lp_run_id(NULL), "");
}

static void test_start_options(void **state)
{
	fx *f = *state;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "given";
	ro.cwd = "/some/where";
	ro.extra_json = "{\"plugin\":\"0.2\",\"status\":\"forged\",\"run_id\":\"forged\"}";
	lp_run *run = NULL;
	assert_int_equal(lp_run_start(&run, f->store, &ro), LP_OK);
	assert_string_equal(lp_run_id(run), "given");
	char *doc = run_file(f, "given", "run.json");
	assert_non_null(strstr(doc, "\"plugin\":\"0.2\""));
	assert_non_null(strstr(doc, "\"status\":\"active\""));
	assert_non_null(strstr(doc, "\"run_id\":\"given\""));
	assert_non_null(strstr(doc, "\"cwd\":\"/some/where\""));
	free(doc);
	/* the same id again */
	lp_run *again = (lp_run *)1;
	assert_int_equal(lp_run_start(&again, f->store, &ro), LP_EINVAL);
	assert_null(again);
	assert_non_null(strstr(lp_error_message(), "already exists"));
	lp_run_free(run);
}

/* Bad options are refused before anything is created. */
static void test_start_refused(void **state)
{
	fx *f = *state;
	char runs[256];
	fx_path(f, runs, sizeof runs, "runs");
	int before = count_entries(runs, "");
	lp_run *run = (lp_run *)1;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	const char *bad_ids[] = {"a.b", "../x", "", "a/b", ".x"};
	for (size_t k = 0; k < sizeof bad_ids / sizeof bad_ids[0]; k++) {
		ro.run_id = bad_ids[k];
		assert_int_equal(lp_run_start(&run, f->store, &ro), LP_EINVAL);
		assert_null(run);
	}
	ro = (lp_run_options)LP_RUN_OPTIONS_INIT;
	ro.version = 42;
	assert_int_equal(lp_run_start(&run, f->store, &ro), LP_EINVAL);
	ro = (lp_run_options)LP_RUN_OPTIONS_INIT;
	ro.worker_id = "gw/0";
	assert_int_equal(lp_run_start(&run, f->store, &ro), LP_EINVAL);
	assert_int_equal(count_entries(runs, ""), before);

	/* a bad extra_json is an option like the others: no half-made run
	 * is left behind, and the id stays usable */
	ro = (lp_run_options)LP_RUN_OPTIONS_INIT;
	ro.run_id = "extra";
	ro.extra_json = "[1]";
	assert_int_equal(lp_run_start(&run, f->store, &ro), LP_EINVAL);
	assert_null(run);
	int after = count_entries(runs, "");
	ro.extra_json = NULL;
	int rc = lp_run_start(&run, f->store, &ro);
	if (rc != LP_OK)
		fprintf(stderr, "second start: %s\n", lp_error_message());
	lp_run_free(rc == LP_OK ? run : NULL);
	assert_int_equal(after, before);
	assert_int_equal(rc, LP_OK);
}

static void test_join_and_end(void **state)
{
	fx *f = *state;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = "gw3";
	lp_run *w = NULL;
	assert_int_equal(lp_run_join(&w, f->store, &ro), LP_OK);
	assert_string_equal(lp_run_id(w), "r1");
	assert_int_equal(lp_run_event(w, "custom", "{\"k\":1}"), LP_OK);
	assert_int_equal(lp_run_end(w, 1), LP_OK); /* a worker does not end the run */
	char *doc = run_file(f, "r1", "run.json");
	assert_non_null(strstr(doc, "\"status\":\"active\""));
	free(doc);
	lp_run_free(w);

	assert_int_equal(lp_run_end(f->run, 2), LP_OK);
	doc = run_file(f, "r1", "run.json");
	assert_non_null(strstr(doc, "\"status\":\"ended\""));
	assert_non_null(strstr(doc, "\"exitstatus\":2"));
	assert_null(strstr(doc, "\"ended_at\":null"));
	free(doc);

	char *ev = run_file(f, "r1", "events.jsonl");
	assert_int_equal(check_events(ev, "r1"), 5);
	assert_int_equal(count_substr(ev, "\"event\":\"run_started\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"worker_joined\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"custom\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"worker_ended\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"run_ended\""), 1);
	assert_int_equal(count_substr(ev, "\"worker_id\":\"gw3\""), 3);
	free(ev);

	lp_run *x = (lp_run *)1;
	ro.run_id = "nosuchrun";
	assert_int_equal(lp_run_join(&x, f->store, &ro), LP_ENOTFOUND);
	assert_null(x);
	ro.run_id = NULL;
	assert_int_equal(lp_run_join(&x, f->store, &ro), LP_EINVAL);
	assert_int_equal(lp_run_join(&x, f->store, NULL), LP_EINVAL);
	ro.run_id = "r1.x";
	assert_int_equal(lp_run_join(&x, f->store, &ro), LP_EINVAL);
}

static void test_run_event(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_event(f->run, "checkpoint_mocked",
				      "{\"nodeid\":\"t.py::t\",\"result\":true}"),
			 LP_OK);
	assert_int_equal(lp_run_event(f->run, "bare", NULL), LP_OK);
	/* the reserved fields are the runtime's */
	assert_int_equal(lp_run_event(f->run, "mine", "{\"event\":\"forged\",\"run_id\":\"x\"}"),
			 LP_OK);
	assert_int_equal(lp_run_event(f->run, "", NULL), LP_EINVAL);
	assert_int_equal(lp_run_event(f->run, NULL, NULL), LP_EINVAL);
	assert_int_equal(lp_run_event(f->run, "bad", "[1]"), LP_EINVAL);
	assert_int_equal(lp_run_event(f->run, "bad", "{\"a\":"), LP_EINVAL);
	char *ev = run_file(f, "r1", "events.jsonl");
	assert_int_equal(check_events(ev, "r1"), 4);
	assert_int_equal(count_substr(ev, "\"event\":\"checkpoint_mocked\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"mine\""), 1);
	assert_int_equal(count_substr(ev, "forged"), 0);
	assert_int_equal(count_substr(ev, "\"event\":\"bad\""), 0);
	free(ev);
}

enum { N_WRITERS = 4, N_EVENTS = 100, PAYLOAD = 3000 };

typedef struct writer {
	const char *dir;
	int index;
} writer;

static int writer_main(void *arg)
{
	writer *w = arg;
	lp_store *s;
	lp_run *run;
	char wid[16];
	snprintf(wid, sizeof wid, "gw%d", w->index);
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = wid;
	if (lp_store_open(&s, w->dir, 0) || lp_run_join(&run, s, &ro))
		return CHILD_SETUP_FAILED;
	static char fields[PAYLOAD + 64];
	int n = snprintf(fields, sizeof fields, "{\"pad\":\"");
	memset(fields + n, 'a' + w->index, PAYLOAD);
	snprintf(fields + n + PAYLOAD, sizeof fields - (size_t)n - PAYLOAD, "\"}");
	for (int k = 0; k < N_EVENTS; k++)
		if (lp_run_event(run, "bulk", fields))
			return 1;
	lp_run_free(run);
	lp_store_free(s);
	return 0;
}

/* Workers append at once: every line is whole. */
static void test_events_concurrent(void **state)
{
	fx *f = *state;
	pid_t pids[N_WRITERS];
	for (int k = 0; k < N_WRITERS; k++) {
		writer w = {.dir = f->dir, .index = k};
		pids[k] = fork_child(writer_main, &w);
	}
	for (int k = 0; k < N_WRITERS; k++)
		assert_int_equal(wait_child(pids[k], 30000), 0);
	char *ev = run_file(f, "r1", "events.jsonl");
	assert_int_equal(check_events(ev, "r1"), 1 + N_WRITERS + N_WRITERS * N_EVENTS);
	assert_int_equal(count_substr(ev, "\"event\":\"bulk\""), N_WRITERS * N_EVENTS);
	free(ev);
}

static void test_progress(void **state)
{
	fx *f = *state;
	lp_run *run = f->run; /* r1 */
	char *json = NULL;
	/* none yet */
	assert_int_equal(lp_run_progress_load(&json, f->store, "r1"), LP_ENOTFOUND);
	assert_null(json);
	assert_int_equal(lp_run_progress(run, NULL), LP_EINVAL);
	lp_progress bad = LP_PROGRESS_INIT;
	bad.version = 99;
	assert_int_equal(lp_run_progress(run, &bad), LP_EINVAL);
	lp_progress p = LP_PROGRESS_INIT;
	p.passed = 3;
	p.failed = 1;
	assert_int_equal(lp_run_progress(run, &p), LP_OK);
	assert_int_equal(lp_run_progress_load(&json, f->store, "r1"), LP_OK);
	lp_json *j = NULL;
	assert_int_equal(lpj_parse_object(json, strlen(json), "progress", &j), LP_OK);
	assert_int_equal(lpj_get_int(j, "passed", -1), 3);
	assert_int_equal(lpj_get_int(j, "failed", -1), 1);
	assert_int_equal(lpj_get_int(j, "skipped", -1), 0);
	assert_true(lpj_is_null(j, "collected"));
	assert_true(lpj_get_real(j, "updated_at", 0) > 0);
	lpj_free(j);
	free(json);
	/* replaced, not appended */
	p.passed = 10;
	p.collected = 12;
	assert_int_equal(lp_run_progress(run, &p), LP_OK);
	assert_int_equal(lp_run_progress_load(&json, f->store, "r1"), LP_OK);
	assert_non_null(strstr(json, "\"passed\":10"));
	assert_non_null(strstr(json, "\"collected\":12"));
	free(json);
	/* a file with other fields or bad values: only the protocol's, >= 0 */
	char path[256];
	fx_path(f, path, sizeof path, "runs/r1/progress.json");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"passed\": -4, \"failed\": 2, \"evil\": \"<script>\"}", fp);
	fclose(fp);
	assert_int_equal(lp_run_progress_load(&json, f->store, "r1"), LP_OK);
	assert_null(strstr(json, "evil"));
	assert_non_null(strstr(json, "\"passed\":0"));
	assert_non_null(strstr(json, "\"failed\":2"));
	free(json);
	/* not an object: an error naming the file */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[1]", fp);
	fclose(fp);
	assert_int_not_equal(lp_run_progress_load(&json, f->store, "r1"), LP_OK);
	assert_non_null(strstr(lp_error_message(), "progress.json"));
	assert_int_equal(lp_run_progress_load(&json, f->store, "nosuchrun"), LP_ENOTFOUND);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_start_generated), T(test_start_options), T(test_start_refused),
		T(test_join_and_end),    T(test_run_event),     T(test_events_concurrent),
		T(test_progress),
	};
	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
