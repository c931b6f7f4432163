/*
 * test_gc.c - gc.c and the catalog's compaction: no line appended by
 * another process is lost while the catalog is compacted again and again
 * (the race that the flock protocol of catalog.c closes), "E" lines, and
 * lp_store_gc() removing an ended run with everything in it (a symlink as a
 * link, its target untouched) while it keeps a run with a pending pause,
 * a dry run reporting exactly what the real one removes.
 */
#include "helpers.h"

#define CHILDREN 4
#define LINES_PER_CHILD 1500

static int drop_victims(const char *run_id, void *ud)
{
	(void)ud;
	return run_id[0] == 'v';
}

/* A child: its own store (another process, as a pytest session is),
 * appending LINES_PER_CHILD "R" lines c<k>x<i>. */
static int appender(void *arg)
{
	const char *dir = ((const char **)arg)[0];
	int k = (int)(long)((const char **)arg)[1];
	lp_store *store;
	if (lp_store_open(&store, dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	int rc = LP_OK;
	for (int i = 0; i < LINES_PER_CHILD && rc == LP_OK; i++) {
		char id[32];
		snprintf(id, sizeof id, "c%dx%d", k, i);
		rc = lpi_catalog_add_run(store, id);
	}
	if (rc != LP_OK) /* why, for the failing assertion below */
		fprintf(stderr, "appender %d: %s\n", k, lp_error_message());
	lp_store_free(store);
	return -rc;
}

static void test_compaction_loses_no_concurrent_line(void **state)
{
	fx *f = *state;
	pid_t kids[CHILDREN];
	const char *args[CHILDREN][2];
	for (int k = 0; k < CHILDREN; k++) {
		args[k][0] = f->dir;
		args[k][1] = (const char *)(long)k;
		kids[k] = fork_child(appender, args[k]);
	}
	/* compact while they append, each time with new lines to drop */
	int compactions = 0, alive = CHILDREN;
	while (alive > 0) {
		char id[32];
		snprintf(id, sizeof id, "v%d", compactions);
		assert_int_equal(lpi_catalog_add_run(f->store, id), LP_OK);
		size_t dropped = 0;
		assert_int_equal(lpi_catalog_compact(f->store, drop_victims, NULL, 0, &dropped),
				 LP_OK);
		assert_true(dropped >= 1);
		compactions++;
		alive = 0;
		for (int k = 0; k < CHILDREN; k++) {
			int status;
			if (kids[k] < 0)
				continue;
			pid_t r = waitpid(kids[k], &status, WNOHANG);
			if (r == 0) {
				alive++;
				continue;
			}
			assert_true(r == kids[k] && WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			kids[k] = -1;
		}
	}
	char d[256];
	char *text = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_non_null(text);
	assert_int_equal(count_substr(text, "\nv"), 0);
	assert_true(strncmp(text, "pytest-live-pause catalog 1\n", 28) == 0);
	for (int k = 0; k < CHILDREN; k++)
		for (int i = 0; i < LINES_PER_CHILD; i++) {
			char line[40];
			snprintf(line, sizeof line, "\nR\tc%dx%d\n", k, i);
			if (count_substr(text, line) != 1) {
				fprintf(stderr, "line c%dx%d: %d times after %d compactions\n", k,
					i, count_substr(text, line), compactions);
				fail();
			}
		}
	free(text);
}

static void test_end_line_written_and_read(void **state)
{
	fx *f = *state;
	assert_int_equal(lp_run_end(f->run, 3), LP_OK);
	lpi_catalog *cat;
	assert_int_equal(lpi_catalog_load(f->store, &cat), LP_OK);
	const lp_catalog_end *e = lpi_catalog_find_end(cat, "r1");
	assert_non_null(e);
	assert_int_equal(e->exitstatus, 3);
	assert_int_equal(e->pid, (long)getpid());
	assert_true(e->ended_at >= e->started_at && e->started_at > 0);
	assert_null(lpi_catalog_find_end(cat, "r2"));
	lpi_catalog_free(cat);
}

typedef struct seen {
	char items[16][300];
	int n;
} seen;

static int on_item(const lp_gc_item *item, void *ud)
{
	seen *s = ud;
	if (s->n < 16)
		snprintf(s->items[s->n], sizeof s->items[0], "%s %s %s", item->what, item->id,
			 item->path);
	s->n++;
	return 0;
}

static void test_gc_removes_an_ended_run_and_keeps_a_pending_one(void **state)
{
	fx *f = *state;
	char d[256], outside[64], target[128];
	/* r1 ends; r2 stays active with a pending pause */
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r2";
	lp_run *r2;
	assert_int_equal(lp_run_start(&r2, f->store, &ro), LP_OK);
	lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
	po.nodeid = "t.py::t";
	lp_pause *p;
	assert_int_equal(lp_pause_begin(&p, r2, &po), LP_OK);
	/* links in r1 pointing out of the pause directory */
	make_tmpdir(outside);
	snprintf(target, sizeof target, "%s/precious", outside);
	assert_int_equal(write_text(target, "keep", 4), 0);
	assert_int_equal(symlink(outside, fx_path(f, d, sizeof d, "runs/r1/dirlink")), 0);
	assert_int_equal(symlink(target, fx_path(f, d, sizeof d, "runs/r1/pauses/x.json")), 0);
	assert_int_equal(mkdir(fx_path(f, d, sizeof d, "runs/r1/blobs"), 0700), 0);
	assert_int_equal(mkdir(fx_path(f, d, sizeof d, "runs/r1/blobs/a"), 0700), 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "runs/r1/blobs/a/b"), "x", 1), 0);

	lp_gc_options o = LP_GC_OPTIONS_INIT;
	seen dry = {0}, real = {0};
	lp_gc_report rd, rr;
	o.dry_run = 1;
	o.on_item = on_item;
	o.ud = &dry;
	assert_int_equal(lp_store_gc(&rd, f->store, &o), LP_OK);
	assert_true(exists(fx_path(f, d, sizeof d, "runs/r1/run.json")));
	o.dry_run = 0;
	o.ud = &real;
	assert_int_equal(lp_store_gc(&rr, f->store, &o), LP_OK);
	assert_int_equal(dry.n, 1);
	assert_int_equal(real.n, 1);
	assert_string_equal(dry.items[0], real.items[0]);
	assert_int_equal(rr.runs, 1);
	assert_int_equal(rr.kept_active, 1);
	assert_int_equal(rd.catalog_lines, rr.catalog_lines);
	assert_true(rr.catalog_lines >= 2); /* r1's R and E lines */
	assert_false(exists(fx_path(f, d, sizeof d, "runs/r1")));
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "runs"), ".gc-"), 0);
	char *kept = slurp(target);
	assert_non_null(kept);
	assert_string_equal(kept, "keep");
	free(kept);
	/* r2 and its pending pause are untouched */
	lp_pause_info *info;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_string_equal(info->state, "pending");
	lp_pause_info_free(info);
	char *text = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_non_null(text);
	assert_int_equal(count_substr(text, "\tr1"), 0);
	assert_int_equal(count_substr(text, "R\tr2\n"), 1);
	free(text);
	/* ended, but with a pause still pending: kept */
	assert_int_equal(lp_run_end(r2, 0), LP_OK);
	o.on_item = NULL;
	assert_int_equal(lp_store_gc(&rr, f->store, &o), LP_OK);
	assert_int_equal(rr.runs, 0);
	assert_int_equal(rr.kept_pending, 1);
	/* an age not reached keeps everything */
	o.older_than = 3600;
	assert_int_equal(lp_store_gc(&rr, f->store, &o), LP_OK);
	assert_int_equal(rr.runs, 0);
	assert_int_equal(rr.kept_young, 1);
	assert_true(exists(fx_path(f, d, sizeof d, "runs/r2/run.json")));
	o.older_than = -1;
	assert_int_equal(lp_store_gc(&rr, f->store, &o), LP_EINVAL);
	lp_pause_free(p);
	lp_run_free(r2);
	rm_rf(outside);
}

int main(void)
{
	test_guard(180);
	setenv("LP_UNSAFE_NO_FSYNC", "1", 1); /* many compactions: no disk flushes */
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_compaction_loses_no_concurrent_line),
		T(test_end_line_written_and_read),
		T(test_gc_removes_an_ended_run_and_keeps_a_pending_one),
	};
	return cmocka_run_group_tests_name("gc", tests, NULL, NULL);
}
