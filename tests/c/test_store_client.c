/*
 * test_store_client.c - what the runtime offers a client such as the
 * server: lp_store_publish / lp_store_unlink / lp_store_published (a 0600
 * file at the top of the pause directory, never a protocol name, never
 * outside it) and
 * lp_store_runs as the server lists runs (every run, oldest first, with
 * its JSON, damaged ones skipped).
 */
#include "helpers.h"

static void test_publish_and_unlink(void **state)
{
	fx *f = *state;
	char path[256];
	const char *text = "{\"port\":1}";
	assert_int_equal(lp_store_published(f->store, "serve.json"), 0);
	assert_int_equal(lp_store_publish(f->store, "serve.json", text, strlen(text)), LP_OK);
	assert_int_equal(lp_store_published(f->store, "serve.json"), 1);
	fx_path(f, path, sizeof path, "serve.json");
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *got = slurp(path);
	assert_string_equal(got, text);
	free(got);
	/* replaced atomically */
	assert_int_equal(lp_store_publish(f->store, "serve.json", "{}", 2), LP_OK);
	got = slurp(path);
	assert_string_equal(got, "{}");
	free(got);
	assert_int_equal(lp_store_unlink(f->store, "serve.json"), LP_OK);
	assert_false(exists(path));
	assert_int_equal(lp_store_published(f->store, "serve.json"), 0);
	assert_int_equal(lp_store_unlink(f->store, "serve.json"), LP_OK); /* absent: fine */
	/* bad names: nothing written */
	const char *bad[] = {"../x", "a/b", "", ".", "..", "runs", "pending", "catalog.tsv", NULL};
	for (int k = 0; bad[k]; k++) {
		assert_int_equal(lp_store_publish(f->store, bad[k], "x", 1), LP_EINVAL);
		assert_int_equal(lp_store_unlink(f->store, bad[k]), LP_EINVAL);
		assert_int_equal(lp_store_published(f->store, bad[k]), LP_EINVAL);
		assert_true(lp_error_message()[0] != '\0');
	}
	assert_int_equal(lp_store_publish(NULL, "serve.json", "x", 1), LP_EINVAL);
	assert_int_equal(lp_store_publish(f->store, "serve.json", NULL, 0), LP_EINVAL);
	assert_int_equal(lp_store_unlink(NULL, "serve.json"), LP_EINVAL);
	assert_true(exists(fx_path(f, path, sizeof path, "runs")));
}

typedef struct seen {
	char ids[8][LP_ID_MAX + 1];
	int n;
	int stop_at;
} seen;

static int collect_run(const lp_run_summary *info, void *ud)
{
	seen *s = ud;
	if (s->n < 8)
		snprintf(s->ids[s->n++], LP_ID_MAX + 1, "%s", info->run_id);
	assert_non_null(info->json);
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static void test_run_list(void **state)
{
	fx *f = *state; /* run r1, active */
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r2";
	lp_run *r2;
	assert_int_equal(lp_run_start(&r2, f->store, &ro), LP_OK);
	assert_int_equal(lp_run_end(r2, 0), LP_OK);
	/* a damaged run and a stray name are skipped */
	char path[256];
	mkdir(fx_path(f, path, sizeof path, "runs/broken"), 0700);
	write_text(fx_path(f, path, sizeof path, "runs/broken/run.json"), "{", 1);
	mkdir(fx_path(f, path, sizeof path, "runs/.hidden"), 0700);
	seen s = {.n = 0};
	assert_int_equal(lp_store_runs(f->store, LP_RUNS_ALL | LP_RUNS_JSON, collect_run, &s),
			 LP_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], "r1"); /* oldest first */
	assert_string_equal(s.ids[1], "r2");
	seen stop = {.n = 0, .stop_at = 1};
	assert_int_equal(lp_store_runs(f->store, LP_RUNS_ALL | LP_RUNS_JSON, collect_run, &stop),
			 7);
	assert_int_equal(stop.n, 1);
	assert_int_equal(lp_store_runs(NULL, LP_RUNS_ALL, collect_run, &s), LP_EINVAL);
	assert_int_equal(lp_store_runs(f->store, LP_RUNS_ALL, NULL, &s), LP_EINVAL);
	lp_run_free(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_and_unlink, fx_setup_store,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_run_list, fx_setup_run, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
