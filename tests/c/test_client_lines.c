/*
 * test_client_lines.c - what the runtime builds for its clients so that
 * the CLI needs nothing but livepause.h: the --json lines of gc (an item,
 * the summary) and of resume, and the one resume hint (when --pause-dir
 * is repeated). Each line is parsed back with jansson and compared field
 * by field; every function refuses NULL arguments with LP_EINVAL.
 */
#include "helpers.h"

#include <jansson.h>

static json_t *parse(const char *line)
{
	json_error_t err;
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", err.text, line);
	assert_true(json_is_object(j));
	return j;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_gc_item_lines(void **state)
{
	(void)state;
	lp_gc_item run = {"run", "4cc05064a097", "/tmp/d/runs/4cc05064a097", "stale", 1796124638.5};
	lp_gc_item pending = {"pending", "a.b", "/tmp/d/pending/a.b", NULL, 0};
	char *line = NULL;

	assert_int_equal(lp_gc_item_json(&line, &run, 0), LP_OK);
	assert_true(strncmp(line, "{\"event\":\"removed\",", 19) == 0); /* event first */
	json_t *j = parse(line);
	assert_string_equal(str(j, "what"), "run");
	assert_string_equal(str(j, "id"), "4cc05064a097");
	assert_string_equal(str(j, "path"), "/tmp/d/runs/4cc05064a097");
	assert_string_equal(str(j, "state"), "stale");
	assert_true(json_is_false(json_object_get(j, "dry_run")));
	assert_true(json_real_value(json_object_get(j, "ended_at")) == 1796124638.5);
	assert_int_equal(json_object_size(j), 7);
	json_decref(j);
	free(line);

	/* a dry run, and an item without a state: no state, no ended_at */
	assert_int_equal(lp_gc_item_json(&line, &pending, 1), LP_OK);
	j = parse(line);
	assert_string_equal(str(j, "event"), "would_remove");
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	assert_null(json_object_get(j, "state"));
	assert_null(json_object_get(j, "ended_at"));
	json_decref(j);
	free(line);
}

static void test_gc_item_line_escapes_hostile_paths(void **state)
{
	(void)state;
	/* a leftover's name comes from the directory: invalid UTF-8, LF,
	 * U+2028 stay inside one line of valid JSON */
	lp_gc_item odd = {"leftover", ".gc-x\n\xff", "/tmp/d/runs/.gc-x\n\xff\xe2\x80\xa8", NULL,
			  0};
	char *line = NULL;

	assert_int_equal(lp_gc_item_json(&line, &odd, 0), LP_OK);
	assert_null(strstr(line, "\xe2\x80\xa8"));
	json_t *j = parse(line);
	assert_non_null(strstr(str(j, "id"), ".gc-x\n"));
	json_decref(j);
	free(line);
}

static void test_gc_report_line(void **state)
{
	(void)state;
	lp_gc_report r = {.runs = 3,
			  .pending = 2,
			  .leftovers = 1,
			  .catalog_lines = 9,
			  .kept_active = 4,
			  .kept_young = 5,
			  .kept_pending = 6};
	lp_gc_options opts = LP_GC_OPTIONS_INIT;
	char *line = NULL;

	opts.older_than = 5400;
	opts.dry_run = 1;
	assert_int_equal(lp_gc_report_json(&line, &r, &opts), LP_OK);
	assert_true(strncmp(line, "{\"event\":\"summary\",", 19) == 0);
	json_t *j = parse(line);
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	assert_true(json_number_value(json_object_get(j, "older_than")) == 5400);
	assert_int_equal(num(j, "runs"), 3);
	assert_int_equal(num(j, "pending"), 2);
	assert_int_equal(num(j, "leftovers"), 1);
	assert_int_equal(num(j, "catalog_lines"), 9);
	json_t *kept = json_object_get(j, "kept");
	assert_true(json_is_object(kept));
	assert_int_equal(num(kept, "active"), 4);
	assert_int_equal(num(kept, "young"), 5);
	assert_int_equal(num(kept, "pending"), 6);
	json_decref(j);
	free(line);
}

static void test_resume_outcome_line(void **state)
{
	(void)state;
	lp_pause_info info;
	char *line = NULL;

	memset(&info, 0, sizeof(info));
	info.pause_id = "r1.p1";
	info.kind = "checkpoint";
	info.status = "resumed";
	info.run_id = "r1";
	info.nodeid = "t.py::test_\x1b[2J";
	assert_int_equal(lp_resume_outcome_json(&line, &info, "ignored", 0), LP_OK);
	assert_non_null(strstr(line, "{\"pause_id\":\"r1.p1\",\"kind\":\"checkpoint\","));
	assert_null(strchr(line, '\x1b')); /* escaped */
	json_t *j = parse(line);
	assert_string_equal(str(j, "status"), "resumed");
	assert_string_equal(str(j, "run_id"), "r1");
	assert_string_equal(str(j, "nodeid"), "t.py::test_\x1b[2J");
	assert_null(json_object_get(j, "attachments")); /* not asked for */
	json_decref(j);
	free(line);

	/* with attachments: those the resume gave, in order, not the test's */
	lp_attachment at[3];
	memset(at, 0, sizeof(at));
	at[0].name = "screen.png";
	strcpy(at[0].sha256, "aa");
	at[0].size = 10;
	at[0].source = "resume";
	at[1].name = "test.log";
	strcpy(at[1].sha256, "bb");
	at[1].source = "test";
	at[2].name = "notes\n.txt";
	strcpy(at[2].sha256, "cc");
	at[2].size = 3;
	at[2].source = "resume";
	info.attachments = at;
	info.nattachments = 3;
	assert_int_equal(lp_resume_outcome_json(&line, &info, NULL, 1), LP_OK);
	j = parse(line);
	json_t *arr = json_object_get(j, "attachments");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(str(json_array_get(arr, 0), "name"), "screen.png");
	assert_string_equal(str(json_array_get(arr, 0), "sha256"), "aa");
	assert_int_equal(num(json_array_get(arr, 0), "size"), 10);
	assert_string_equal(str(json_array_get(arr, 1), "name"), "notes\n.txt");
	json_decref(j);
	free(line);
	info.attachments = NULL;
	info.nattachments = 0;
	/* asked for, none given: an empty list */
	assert_int_equal(lp_resume_outcome_json(&line, &info, NULL, 1), LP_OK);
	assert_non_null(strstr(line, "\"attachments\":[]"));
	free(line);

	/* no info (the pause could not be read back): the ref, nulls */
	assert_int_equal(lp_resume_outcome_json(&line, NULL, "/x/pauses/r1.p1.json", 0), LP_OK);
	j = parse(line);
	assert_string_equal(str(j, "pause_id"), "/x/pauses/r1.p1.json");
	assert_true(json_is_null(json_object_get(j, "kind")));
	assert_true(json_is_null(json_object_get(j, "nodeid")));
	json_decref(j);
	free(line);
}

static void test_resume_hint_repeats_only_a_non_default_dir(void **state)
{
	(void)state;
	char *hint = NULL;

	setenv(LP_ENV_DIR, "/tmp/lp-hint-default", 1);
	/* the default directory, however spelled: no --pause-dir */
	const char *same[] = {NULL, "/tmp/lp-hint-default", "/tmp//lp-hint-default/",
			      "/tmp/./x/../lp-hint-default"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(lp_resume_hint(&hint, "r1.p1", LP_KIND_FAILURE, NULL, same[i]),
				 LP_OK);
		assert_string_equal(hint, "pytest-live-pause resume r1.p1 --failure-reason TEXT");
		free(hint);
	}
	/* another one: repeated, shell-quoted */
	assert_int_equal(lp_resume_hint(&hint, "r1.p1", LP_KIND_CHECKPOINT, NULL, "/tmp/my pauses"),
			 LP_OK);
	assert_string_equal(hint, "pytest-live-pause resume r1.p1 --pause-dir '/tmp/my pauses' "
				  "--result 'true|false|none' --reason TEXT");
	free(hint);
	/* a relative default never matches: a resumer elsewhere would miss it */
	setenv(LP_ENV_DIR, "rel-pauses", 1);
	assert_int_equal(lp_resume_hint(&hint, "r1.p1", LP_KIND_FAILURE, NULL, "/cwd/rel-pauses"),
			 LP_OK);
	assert_non_null(strstr(hint, "--pause-dir /cwd/rel-pauses"));
	free(hint);
	unsetenv(LP_ENV_DIR);
}

static void test_resume_hint_is_the_pause_files(void **state)
{
	(void)state;
	char dir[64];
	lp_store *store = NULL;
	lp_run *run = NULL;
	lp_pause *pause = NULL;
	lp_pause_info *info = NULL;
	lp_run_options ropts = LP_RUN_OPTIONS_INIT;
	lp_pause_options popts = LP_PAUSE_OPTIONS_INIT;
	char *hint = NULL;

	unsetenv(LP_ENV_DIR);
	make_tmpdir(dir);
	assert_int_equal(lp_store_open(&store, dir, LP_STORE_CREATE), LP_OK);
	assert_int_equal(lp_run_start(&run, store, &ropts), LP_OK);
	popts.nodeid = "t.py::test_a";
	assert_int_equal(lp_pause_begin(&pause, run, &popts), LP_OK);
	assert_int_equal(lp_pause_info_load(&info, store, lp_pause_id(pause)), LP_OK);
	/* the writer's hint, the file's and a reader's are one */
	assert_int_equal(
		lp_resume_hint(&hint, info->pause_id, info->kind_code, NULL, info->pause_dir),
		LP_OK);
	assert_string_equal(hint, lp_pause_resume_hint(pause));
	assert_string_equal(hint, info->resume_command);
	assert_non_null(strstr(hint, "--pause-dir"));
	free(hint);
	lp_pause_info_free(info);
	lp_pause_free(pause);
	lp_run_free(run);
	lp_store_free(store);
	rm_rf(dir);
}

static void test_resume_hint_of_a_pause_with_choices(void **state)
{
	(void)state;
	char dir[64];
	static const char *const choices[] = {"pass", "retry it", NULL};
	lp_store *store = NULL;
	lp_run *run = NULL;
	lp_pause *pause = NULL;
	lp_pause_info *info = NULL;
	lp_run_options ropts = LP_RUN_OPTIONS_INIT;
	lp_pause_options popts = LP_PAUSE_OPTIONS_INIT;
	char *hint = NULL;

	make_tmpdir(dir);
	setenv(LP_ENV_DIR, dir, 1); /* the default: no --pause-dir */
	assert_int_equal(lp_store_open(&store, dir, LP_STORE_CREATE), LP_OK);
	assert_int_equal(lp_run_start(&run, store, &ropts), LP_OK);
	popts.kind = LP_KIND_CHECKPOINT;
	popts.nodeid = "t.py::test_c";
	popts.task = "pick";
	popts.choices = choices;
	assert_int_equal(lp_pause_begin(&pause, run, &popts), LP_OK);
	assert_int_equal(lp_pause_info_load(&info, store, lp_pause_id(pause)), LP_OK);
	assert_int_equal(info->nchoices, 2);
	assert_null(info->choices[2]); /* NULL-terminated, as the hint takes it */
	assert_int_equal(lp_resume_hint(&hint, info->pause_id, info->kind_code,
					(const char *const *)info->choices, info->pause_dir),
			 LP_OK);
	assert_string_equal(hint, lp_pause_resume_hint(pause));
	assert_string_equal(hint, info->resume_command);
	assert_non_null(strstr(hint, "--value 'pass|retry it'"));
	assert_null(strstr(hint, "--pause-dir"));
	free(hint);
	unsetenv(LP_ENV_DIR);
	lp_pause_info_free(info);
	lp_pause_free(pause);
	lp_run_free(run);
	lp_store_free(store);
	rm_rf(dir);
}

static void test_null_arguments(void **state)
{
	(void)state;
	lp_gc_item item = {"run", "x", "/x", NULL, 0};
	lp_gc_report r;
	lp_gc_options opts = LP_GC_OPTIONS_INIT;
	char *line = (char *)"untouched";

	memset(&r, 0, sizeof(r));
	assert_int_equal(lp_gc_item_json(NULL, &item, 0), LP_EINVAL);
	assert_int_equal(lp_gc_item_json(&line, NULL, 0), LP_EINVAL);
	assert_int_equal(lp_gc_report_json(NULL, &r, &opts), LP_EINVAL);
	assert_int_equal(lp_gc_report_json(&line, NULL, &opts), LP_EINVAL);
	assert_int_equal(lp_gc_report_json(&line, &r, NULL), LP_EINVAL);
	assert_int_equal(lp_resume_outcome_json(NULL, NULL, "x", 0), LP_EINVAL);
	assert_int_equal(lp_resume_outcome_json(&line, NULL, NULL, 1), LP_EINVAL);
	assert_int_equal(lp_resume_hint(NULL, "x", LP_KIND_FAILURE, NULL, NULL), LP_EINVAL);
	assert_int_equal(lp_resume_hint(&line, NULL, LP_KIND_FAILURE, NULL, NULL), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "NULL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_item_lines),
		cmocka_unit_test(test_gc_item_line_escapes_hostile_paths),
		cmocka_unit_test(test_gc_report_line),
		cmocka_unit_test(test_resume_outcome_line),
		cmocka_unit_test(test_resume_hint_repeats_only_a_non_default_dir),
		cmocka_unit_test(test_resume_hint_is_the_pause_files),
		cmocka_unit_test(test_resume_hint_of_a_pause_with_choices),
		cmocka_unit_test(test_null_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
