/*
 * test_files.c - what the runtime writes to disk: 0.1.1's fields and value
 * conventions in the pause file (pending and ended, both kinds), events
 * and run.json; the timeout rule (0 times out at once, inf waits and is
 * written as null); and every text bounded by its encoded size, so that
 * every file stays within every reader's cap (pause file, run.json,
 * catalog line) with control characters, 4-byte UTF-8 and huge texts.
 */
#include "helpers.h"

#include <math.h>

static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	assert_non_null(s);
	for (size_t k = 0; k < n; k++)
		memcpy(s + k * u, unit, u);
	s[u * n] = '\0';
	return s;
}

/* runs/<run_id>/<name> of the fixture's directory */
static char *run_path(fx *f, const char *run_id, const char *name, char *buf, size_t size)
{
	return fx_path(f, buf, size, "runs/%s/%s", run_id, name);
}

static char *run_file(fx *f, const char *run_id, const char *name)
{
	char p[512];
	char *t = slurp(run_path(f, run_id, name, p, sizeof p));
	assert_non_null(t);
	return t;
}

static char *pause_name(lp_pause *p, char *buf, size_t size)
{
	snprintf(buf, size, "pauses/%s.json", lp_pause_id(p));
	return buf;
}

static char *pause_text(fx *f, lp_run *run, lp_pause *p)
{
	char name[128];
	return run_file(f, lp_run_id(run), pause_name(p, name, sizeof name));
}

static void claim(lp_pause *p, lp_action action, const char *by, const char *fields)
{
	lp_resolution res = {0};
	int rc = lp_pause_claim(&res, p, action, by, fields);
	if (rc != LP_OK)
		fprintf(stderr, "lp_pause_claim: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	lp_resolution_clear(&res);
	/* the catalog and pending/ are settled by the run's settle thread */
	assert_int_equal(lpi_pause_settle(p), LP_OK);
}

/* ------------------------------------------------ 0.1.1's fields */

static void test_pending_and_ended_fields(void **state)
{
	fx *f = *state;
	for (int kind = 0; kind < 2; kind++) {
		lp_pause *p = fx_pause(f, kind ? LP_KIND_CHECKPOINT : LP_KIND_FAILURE, 30);
		char *t = pause_text(f, f->run, p);
		/* while pending, 0.1.1 writes these as null */
		assert_non_null(strstr(t, "\"finished_at\":null"));
		assert_non_null(strstr(t, "\"failure_reason\":null"));
		assert_non_null(strstr(t, "\"timeout\":30.0"));
		if (kind) {
			assert_non_null(strstr(t, "\"original_failure\":\"\""));
			assert_non_null(strstr(t, "\"task\":\"approve the step\""));
		} else {
			assert_non_null(strstr(t, "\"task\":\"" LP_FAILURE_TASK "\""));
		}
		free(t);
		claim(p, LP_ACTION_RESUME, "cli",
		      kind ? "{\"result\":false,\"reason\":\"no\"}"
			   : "{\"failure_reason\":\"why\"}");
		t = pause_text(f, f->run, p);
		/* the verdict fields of both kinds, null where they do not apply */
		if (kind)
			assert_non_null(strstr(t, "\"failure_reason\":null"));
		else
			assert_non_null(strstr(t, "\"failure_reason\":\"why\""));
		assert_non_null(strstr(t, kind ? "\"result\":false" : "\"result\":null"));
		assert_non_null(strstr(t, kind ? "\"reason\":\"no\"" : "\"reason\":null"));
		assert_null(strstr(t, "\"finished_at\":null"));
		free(t);
		lp_pause_free(p);
	}
	char *ev = run_file(f, "r1", "events.jsonl");
	assert_int_equal(count_substr(ev, "\"event\":\"pause_finished\""), 2);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_resumed\""), 2);
	assert_int_equal(count_substr(ev, "\"timeout\":30.0"), 2); /* pause_created */
	assert_int_equal(count_substr(ev, "\"failure_reason\":null"), 2);
	assert_int_equal(count_substr(ev, "\"result\":null"), 2);
	assert_non_null(strstr(ev, "\"event\":\"run_started\""));
	assert_non_null(strstr(ev, "\"worker_id\":null"));
	free(ev);
}

/* ---------------------------------------------------------- timeouts */

static void test_timeout_zero_times_out_at_once(void **state)
{
	fx *f = *state;
	for (int kind = 0; kind < 2; kind++) {
		lp_pause *p = fx_pause(f, kind ? LP_KIND_CHECKPOINT : LP_KIND_FAILURE, 0);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
		assert_string_equal(res.by, "timeout");
		lp_resolution_clear(&res);
		char *t = pause_text(f, f->run, p);
		assert_non_null(strstr(t, "\"timeout\":0.0"));
		assert_non_null(strstr(t, "\"status\":\"timed_out\""));
		free(t);
		lp_pause_free(p);
	}
}

static int stop_at_second_look(void *ud)
{
	return ++*(int *)ud >= 2;
}

static void test_timeout_inf_waits_and_is_null(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, LP_TIMEOUT_FOREVER);
	char *t = pause_text(f, f->run, p);
	assert_non_null(strstr(t, "\"timeout\":null"));
	assert_non_null(strstr(t, "\"deadline_at\":null"));
	free(t);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_true(isinf(info->timeout));
	lp_pause_info_free(info);
	/* no deadline: it is still waiting when the hook stops it */
	int looks = 0;
	lp_wait_hooks h = LP_WAIT_HOOKS_INIT;
	h.slice_ms = 10;
	h.check = stop_at_second_look;
	h.ud = &looks;
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, &h), LP_EINTR);
	claim(p, LP_ACTION_RESUME, "cli", "{\"result\":true}");
	lp_pause_free(p);
	/* the catalog keeps "no timeout" */
	lpi_catalog *cat = NULL;
	assert_int_equal(lpi_catalog_load(f->store, &cat), LP_OK);
	assert_int_equal(cat->npauses, 1);
	assert_true(isinf(cat->pauses[0].timeout));
	lpi_catalog_free(cat);
}

static void test_timeout_rule(void **state)
{
	(void)state;
	const double ok[] = {0, 0.001, 300, LP_TIMEOUT_MAX, LP_TIMEOUT_FOREVER};
	for (size_t k = 0; k < sizeof ok / sizeof *ok; k++)
		assert_int_equal(lp_timeout_check(ok[k], "t"), LP_OK);
	const double bad[] = {-1, -0.001, 1e10, NAN, -INFINITY};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		assert_int_equal(lp_timeout_check(bad[k], "--pause-timeout"), LP_EINVAL);
		assert_non_null(strstr(lp_error_message(), "--pause-timeout"));
		assert_non_null(strstr(lp_error_message(), "inf"));
		assert_null(strchr(lp_error_message(), '\n'));
	}
	double v = -5;
	const char *texts[] = {"0", " 2.5 ", "inf", "infinity", "1e9"};
	const double want[] = {0, 2.5, INFINITY, INFINITY, 1e9};
	for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
		assert_int_equal(lp_timeout_parse(&v, texts[k], "t"), LP_OK);
		assert_true(v == want[k]);
	}
	const char *bad_texts[] = {"", "abc", "1e10", "nan", "-1", "5s", "-inf"};
	for (size_t k = 0; k < sizeof bad_texts / sizeof *bad_texts; k++) {
		v = -5;
		assert_int_equal(lp_timeout_parse(&v, bad_texts[k], "ini option pause_timeout"),
				 LP_EINVAL);
		assert_true(v == -5); /* untouched */
		char quoted[64];
		snprintf(quoted, sizeof quoted, "'%s'", bad_texts[k]);
		assert_non_null(strstr(lp_error_message(), quoted));
	}
}

/* ------------------------------------------------------------ sizes */

static void assert_file_under(fx *f, const char *run_id, const char *name, size_t cap)
{
	char p[512];
	struct stat st;
	assert_int_equal(stat(run_path(f, run_id, name, p, sizeof p), &st), 0);
	assert_true((size_t)st.st_size < cap);
}

/* Every field at once, far over every cap, of the kinds of text that grow
 * when escaped: the pause file stays within LP_CAP_PAUSE, each field is
 * cut and marked, the catalog line is written (the pause leaves
 * pending/), and every reader reads it. */
static void test_oversized_fields_fit_every_reader(void **state)
{
	fx *f = *state;
	const char *units[] = {"\x01", "\xf0\x9f\x98\x80", "\x1b[2J\\\"", "\xe2\x80\xa8"};
	for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
		char *cwd = repeat(units[u], 100000);
		char *nodeid = repeat(units[u], 100000);
		char *task = repeat(units[u], 300000);
		char *failure = repeat(units[u], 1000000);
		char rid[16];
		snprintf(rid, sizeof rid, "big%zu", u);
		lp_run_options ro = LP_RUN_OPTIONS_INIT;
		ro.run_id = rid;
		ro.cwd = cwd;
		lp_run *run = NULL;
		assert_int_equal(lp_run_start(&run, f->store, &ro), LP_OK);
		for (int kind = 0; kind < 2; kind++) {
			lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
			o.kind = kind ? LP_KIND_CHECKPOINT : LP_KIND_FAILURE;
			o.nodeid = nodeid;
			o.task = kind ? task : NULL;
			o.original_failure = kind ? NULL : failure;
			o.timeout = 30;
			lp_pause *p = NULL;
			assert_int_equal(lp_pause_begin(&p, run, &o), LP_OK);
			char pf[128];
			pause_name(p, pf, sizeof pf);
			assert_file_under(f, rid, pf, LP_CAP_PAUSE);
			lp_pause_info *info = NULL;
			assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)),
					 LP_OK);
			assert_non_null(strstr(info->nodeid, LP_CUT_MARKER));
			assert_non_null(strstr(info->cwd, LP_CUT_MARKER));
			assert_non_null(
				strstr(kind ? info->task : info->original_failure, LP_CUT_MARKER));
			assert_non_null(strstr(info->json, "\"cut\":["));
			lp_pause_info_free(info);
			/* a long verdict too */
			char *reason = repeat(units[u], 5000);
			lp_json *fields = lpj_object();
			assert_int_equal(
				lpj_set_str(fields, kind ? "reason" : "failure_reason", reason),
				LP_OK);
			char *ftext = lpj_dump(fields);
			claim(p, LP_ACTION_RESUME, "cli", ftext);
			free(ftext);
			lpj_free(fields);
			free(reason);
			assert_file_under(f, rid, pf, LP_CAP_PAUSE);
			char pend[512];
			fx_path(f, pend, sizeof pend, "pending/%s", lp_pause_id(p));
			assert_false(exists(pend)); /* its catalog line was written */
			lp_pause_free(p);
		}
		lp_run_info *ri = NULL;
		assert_int_equal(lp_run_info_load(&ri, f->store, rid), LP_OK);
		assert_non_null(strstr(ri->cwd, LP_CUT_MARKER));
		lp_run_info_free(ri);
		assert_int_equal(lp_run_end(run, 0), LP_OK);
		lp_run_free(run);
		free(cwd);
		free(nodeid);
		free(task);
		free(failure);
	}
	/* ls -a from the catalog lists all eight */
	lpi_catalog *cat = NULL;
	assert_int_equal(lpi_catalog_load(f->store, &cat), LP_OK);
	assert_int_equal(cat->npauses, 8);
	for (size_t k = 0; k < cat->npauses; k++)
		assert_non_null(strstr(cat->pauses[k].nodeid, LP_CUT_MARKER));
	lpi_catalog_free(cat);
}

/* run.json with thousands of arguments stays within LP_CAP_RUN; argv
 * stays a list of strings, cut with a last element saying how many. */
static void test_run_json_bounds_argv(void **state)
{
	fx *f = *state;
	const char *units[] = {"x", "\x01", "\xf0\x9f\x98\x80"};
	for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
		size_t n = 3400;
		char **argv = calloc(n + 1, sizeof *argv);
		for (size_t k = 0; k < n; k++)
			argv[k] = repeat(units[u], k == 7 ? 100000 : 60);
		char rid[16];
		snprintf(rid, sizeof rid, "argv%zu", u);
		lp_run_options ro = LP_RUN_OPTIONS_INIT;
		ro.run_id = rid;
		ro.argv = (const char *const *)argv;
		lp_run *run = NULL;
		assert_int_equal(lp_run_start(&run, f->store, &ro), LP_OK);
		assert_file_under(f, rid, "run.json", LP_CAP_RUN);
		lp_run_info *ri = NULL;
		assert_int_equal(lp_run_info_load(&ri, f->store, rid), LP_OK);
		assert_non_null(strstr(ri->json, "\"argc\":3400"));
		assert_non_null(strstr(ri->json, "more arguments cut by pytest-live-pause]\"]"));
		assert_non_null(strstr(ri->json, LP_CUT_MARKER)); /* the long one, cut */
		lp_run_info_free(ri);
		lp_run_free(run);
		for (size_t k = 0; k < n; k++)
			free(argv[k]);
		free(argv);
	}
	/* version 1 of the options (no argv): an empty list */
	lp_run_options v1 = LP_RUN_OPTIONS_INIT;
	v1.version = 1;
	v1.run_id = "v1";
	lp_run *run = NULL;
	assert_int_equal(lp_run_start(&run, f->store, &v1), LP_OK);
	char *t = run_file(f, "v1", "run.json");
	assert_non_null(strstr(t, "\"argv\":[]"));
	free(t);
	lp_run_free(run);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pending_and_ended_fields),          T(test_timeout_zero_times_out_at_once),
		T(test_timeout_inf_waits_and_is_null),     cmocka_unit_test(test_timeout_rule),
		T(test_oversized_fields_fit_every_reader), T(test_run_json_bounds_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
