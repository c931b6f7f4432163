/*
 * test_trust.c - the trust rule inside the pause directory and in QAMule's
 * result directory (issue 10, points 2 and 8): every directory and file
 * opened inside the store must be ours, not a symlink and not writable by
 * group or others (lpi_dir_open, lpi_file_read, the readers' skips and their
 * warnings, messages that name the path and a fix that works), and the
 * result directory is created 0700, verified at every use, and each result
 * file is consumed as it is read. Another user's entries are made with
 * chown(2) to uid 65534 when running as root; those tests skip otherwise.
 * And run liveness (point 13): a run's owner refreshes run.json's mtime
 * from a heartbeat thread, and a run recorded on another host is judged
 * by it (active while fresh, stale after 4 missed beats).
 */
#include "helpers.h"

#include <sys/inotify.h>

#define OTHER_UID 65534

static int is_root(void)
{
	return geteuid() == 0;
}

/* Give path to the other user (root only). */
static void give_away(const char *path)
{
	assert_int_equal(lchown(path, OTHER_UID, OTHER_UID), 0);
}

typedef struct warns {
	int n;
	char last[1024];
} warns;

static void on_warn(void *ud, const char *msg)
{
	warns *w = ud;
	w->n++;
	snprintf(w->last, sizeof w->last, "%s", msg);
}

static int count_cb(const lp_pause_info *info, void *ud)
{
	(void)info;
	(*(int *)ud)++;
	return 0;
}

/* A run "r1" with one pending pause; its id in id. */
static lp_pause *pending_pause(fx *f, char id[LP_ID_MAX + 1])
{
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 0);
	snprintf(id, LP_ID_MAX + 1, "%s", lp_pause_id(p));
	return p;
}

/* ------------------------------------------------- the store's entries */

/* A subdirectory of the store that is writable by others (ours) is
 * refused by name with the fix; after the fix (chmod go-w) it opens. */
static void test_writable_subdirs_refused_with_a_fix_that_works(void **state)
{
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256];
	lp_pause *p = pending_pause(f, id);
	const char *subs[] = {"runs", "pending", "runs/r1", "runs/r1/pauses"};
	for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
		fx_path(f, path, sizeof path, "%s", subs[k]);
		assert_int_equal(chmod(path, 0777), 0);
		lp_store *s = NULL;
		lp_pause_info *info = NULL;
		int rc = lp_store_open(&s, f->dir, 0);
		if (rc == LP_OK)
			rc = lp_pause_info_load(&info, s, id);
		assert_int_equal(rc, LP_EUNSAFE);
		assert_non_null(strstr(lp_error_message(), path));
		assert_non_null(strstr(lp_error_message(), "writable by group or others"));
		char fix[300];
		snprintf(fix, sizeof fix, "chmod go-w %s", path);
		assert_non_null(strstr(lp_error_message(), fix));
		assert_int_equal(chmod(path, 0755), 0); /* the fix */
		if (s == NULL)
			assert_int_equal(lp_store_open(&s, f->dir, 0), LP_OK);
		assert_int_equal(lp_pause_info_load(&info, s, id), LP_OK);
		lp_pause_info_free(info);
		lp_store_free(s);
	}
	lp_pause_free(p);
}

/* Another user's runs/, pending/, run directory, pauses/ and commands/:
 * refused, the message naming the path, rm -rf and mv as the fix. */
static void test_foreign_subdirs_refused(void **state)
{
	if (!is_root())
		skip();
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256];
	lp_pause *p = pending_pause(f, id);
	lp_pause_free(p); /* aborted: a final pause file is still read */
	const char *subs[] = {"runs", "pending", "runs/r1", "runs/r1/pauses"};
	for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
		fx_path(f, path, sizeof path, "%s", subs[k]);
		give_away(path);
		lp_store *s = NULL;
		lp_pause_info *info = NULL;
		int rc = lp_store_open(&s, f->dir, 0);
		if (rc == LP_OK)
			rc = lp_pause_info_load(&info, s, id);
		assert_int_equal(rc, LP_EUNSAFE);
		assert_non_null(strstr(lp_error_message(), path));
		assert_non_null(strstr(lp_error_message(), "belongs to uid 65534"));
		assert_non_null(strstr(lp_error_message(), "rm -rf "));
		assert_non_null(strstr(lp_error_message(), ".untrusted"));
		lp_store_free(s);
		assert_int_equal(chown(path, 0, 0), 0);
	}
	/* commands/ of a pending pause: resume refuses to write into it */
	lp_pause *q = pending_pause(f, id);
	fx_path(f, path, sizeof path, "runs/r1/commands");
	give_away(path);
	lp_resume_options ro = LP_RESUME_OPTIONS_INIT;
	ro.has_result = 1;
	ro.result = LP_RESULT_TRUE;
	assert_int_equal(lp_pause_resume(NULL, f->store, id, &ro), LP_EUNSAFE);
	assert_non_null(strstr(lp_error_message(), path));
	assert_int_equal(count_entries(path, id), 0);
	assert_int_equal(chown(path, 0, 0), 0);
	lp_pause_free(q);
}

/* A symlink planted as pauses/ or as a run directory is refused. */
static void test_symlinked_dirs_refused(void **state)
{
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256], aside[300];
	lp_pause *p = pending_pause(f, id);
	const char *subs[] = {"runs/r1/pauses", "runs/r1"};
	for (size_t k = 0; k < 2; k++) {
		fx_path(f, path, sizeof path, "%s", subs[k]);
		snprintf(aside, sizeof aside, "%s.real", path);
		assert_int_equal(rename(path, aside), 0);
		assert_int_equal(symlink(aside, path), 0);
		lp_pause_info *info = NULL;
		assert_int_equal(lp_pause_info_load(&info, f->store, id), LP_EUNSAFE);
		assert_int_equal(unlink(path), 0);
		assert_int_equal(rename(aside, path), 0);
	}
	lp_pause_free(p);
}

/* Files: a pause file, run.json and catalog.tsv that are writable by
 * others or another user's are refused (readers) and named with the fix. */
static void test_untrusted_files(void **state)
{
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256];
	lp_pause *p = pending_pause(f, id);
	char name[128];
	snprintf(name, sizeof name, "runs/r1/pauses/%s.json", id);
	const char *files[] = {name, "runs/r1/run.json"};
	for (size_t k = 0; k < 2; k++) {
		fx_path(f, path, sizeof path, "%s", files[k]);
		assert_int_equal(chmod(path, 0666), 0);
		lp_pause_info *info = NULL;
		lp_run_info *run = NULL;
		int rc = k == 0 ? lp_pause_info_load(&info, f->store, id)
				: lp_run_info_load(&run, f->store, "r1");
		assert_int_equal(rc, LP_EUNSAFE);
		assert_non_null(strstr(lp_error_message(), path));
		assert_non_null(strstr(lp_error_message(), "chmod go-w"));
		assert_int_equal(chmod(path, 0600), 0);
		if (is_root()) {
			give_away(path);
			rc = k == 0 ? lp_pause_info_load(&info, f->store, id)
				    : lp_run_info_load(&run, f->store, "r1");
			assert_int_equal(rc, LP_EUNSAFE);
			assert_non_null(strstr(lp_error_message(), "rm -f "));
			assert_int_equal(chown(path, 0, 0), 0);
		}
		rc = k == 0 ? lp_pause_info_load(&info, f->store, id)
			    : lp_run_info_load(&run, f->store, "r1");
		assert_int_equal(rc, LP_OK);
		lp_pause_info_free(info);
		lp_run_info_free(run);
	}
	lp_pause_free(p);
}

/* Listings skip what is untrusted and say so through the hook. */
static void test_listing_skips_and_warns_once(void **state)
{
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256];
	lp_pause *p = pending_pause(f, id);
	warns w = {0};
	lp_store_set_warn(f->store, on_warn, &w);
	int n = 0;
	assert_int_equal(lp_store_list(f->store, 0, count_cb, &n), LP_OK);
	assert_int_equal(n, 1);
	assert_int_equal(w.n, 0);
	fx_path(f, path, sizeof path, "runs/r1/pauses/%s.json", id);
	assert_int_equal(chmod(path, 0646), 0);
	for (unsigned flags = 0; flags <= (LP_LIST_ALL | LP_LIST_JSON); flags++) {
		n = 0;
		assert_int_equal(lp_store_list(f->store, flags, count_cb, &n), LP_OK);
		assert_int_equal(n, 0);
	}
	assert_int_equal(w.n, 4); /* once per listing that met it */
	assert_non_null(strstr(w.last, path));
	/* a whole run directory of others' making: skipped by the walk */
	fx_path(f, path, sizeof path, "runs/r1");
	assert_int_equal(chmod(path, 0777), 0);
	n = 0;
	assert_int_equal(lp_store_list(f->store, LP_LIST_ALL | LP_LIST_JSON, count_cb, &n), LP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(w.n, 5);
	assert_non_null(strstr(w.last, path));
	assert_int_equal(chmod(path, 0700), 0);
	fx_path(f, path, sizeof path, "runs/r1/pauses/%s.json", id);
	assert_int_equal(chmod(path, 0600), 0);
	lp_pause_free(p);
}

/* A command file that is writable by others is rejected (moved aside),
 * not taken; the pause keeps waiting for a valid one. */
static void test_untrusted_command_rejected(void **state)
{
	fx *f = *state;
	char id[LP_ID_MAX + 1], path[256];
	lp_pause *p = pending_pause(f, id);
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.resume.json", id);
	const char *cmd = "{\"result\": true, \"reason\": \"forged\"}";
	assert_int_equal(write_text(path, cmd, strlen(cmd)), 0);
	assert_int_equal(chmod(path, 0622), 0);
	/* the claim of its own end finds the file, refuses it, then wins */
	lp_pause_free(p);
	assert_pause_status(f->store, id, "aborted");
	char dir[256];
	fx_path(f, dir, sizeof dir, "runs/r1/commands");
	char rejected[128];
	snprintf(rejected, sizeof rejected, "%s.resume.json.rejected.", id);
	assert_int_equal(count_entries(dir, rejected), 1);
}

/* ------------------------------------------------ QAMule result directory */

typedef struct qfx {
	char dir[64]; /* mkdtemp: 0700, ours */
} qfx;

static int q_setup(void **state)
{
	qfx *q = calloc(1, sizeof *q);
	make_tmpdir(q->dir);
	*state = q;
	return 0;
}

static int q_teardown(void **state)
{
	qfx *q = *state;
	char shared[128];
	snprintf(shared, sizeof shared, "%s/shared", q->dir);
	chmod(shared, 0700);
	rm_rf(q->dir);
	free(q);
	return 0;
}

static void test_result_dir_made_private(void **state)
{
	qfx *q = *state;
	char dir[128], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = NULL;
	snprintf(dir, sizeof dir, "%s/a/qamule-pauses", q->dir);
	assert_int_equal(lp_qamule_dir_prepare(dir), LP_OK);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_OK);
	free(path);
}

/* symlink, writable by others, open to others inside a world-writable
 * parent (like /tmp), another user's: each refused with its fix. */
static void test_result_dir_refused(void **state)
{
	qfx *q = *state;
	char shared[128], dir[192], real[192], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = NULL;
	snprintf(shared, sizeof shared, "%s/shared", q->dir);
	assert_int_equal(mkdir(shared, 0700), 0);
	assert_int_equal(chmod(shared, 01777), 0); /* a /tmp of its own */
	snprintf(dir, sizeof dir, "%s/qamule-pauses", shared);

	/* a symlink to a directory of ours */
	snprintf(real, sizeof real, "%s/real", q->dir);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, dir), 0);
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_EUNSAFE);
	assert_null(path);
	assert_non_null(strstr(lp_error_message(), "is a symlink"));
	assert_non_null(strstr(lp_error_message(), "--pause-result-dir"));
	assert_int_equal(unlink(dir), 0);

	/* ours but writable by others, then only readable by others */
	mode_t modes[] = {0777, 0733, 0755, 0750};
	for (size_t k = 0; k < 4; k++) {
		assert_int_equal(mkdir(dir, 0700), 0);
		assert_int_equal(chmod(dir, modes[k]), 0);
		assert_int_equal(lp_qamule_dir_prepare(dir), LP_EUNSAFE);
		char fix[256];
		snprintf(fix, sizeof fix, "chmod 700 %s", dir);
		assert_non_null(strstr(lp_error_message(), fix));
		assert_int_equal(chmod(dir, 0700), 0); /* the fix works */
		assert_int_equal(lp_qamule_dir_prepare(dir), LP_OK);
		assert_int_equal(rmdir(dir), 0);
	}
	/* readable by others is fine outside a shared parent */
	snprintf(dir, sizeof dir, "%s/mine", q->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(lp_qamule_dir_prepare(dir), LP_OK);
	assert_int_equal(chmod(dir, 0775), 0);
	assert_int_equal(lp_qamule_dir_prepare(dir), LP_EUNSAFE);

	if (!is_root())
		return;
	snprintf(dir, sizeof dir, "%s/qamule-pauses", shared);
	assert_int_equal(mkdir(dir, 0700), 0);
	give_away(dir);
	assert_int_equal(lp_qamule_dir_prepare(dir), LP_EUNSAFE);
	assert_non_null(strstr(lp_error_message(), "belongs to uid 65534"));
	assert_non_null(strstr(lp_error_message(), "--pause-result-dir DIR"));
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_EUNSAFE);
	assert_null(path);
	assert_int_equal(chown(dir, 0, 0), 0);
}

/* Each result file is read once: removed after reading, whatever it was;
 * nothing is left in the directory. */
static void test_result_consumed(void **state)
{
	qfx *q = *state;
	char dir[128], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = NULL;
	snprintf(dir, sizeof dir, "%s/res", q->dir);
	const char *texts[] = {"{\"result\": true, \"reason\": \"approve\"}", "not json", "[1]",
			       "{\"result\": \"yes\"}"};
	int want[] = {LP_QAMULE_OK, LP_QAMULE_INVALID_RESULT, LP_QAMULE_INVALID_RESULT,
		      LP_QAMULE_INVALID_RESULT};
	for (size_t k = 0; k < 4; k++) {
		assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_OK);
		assert_int_equal(write_text(path, texts[k], strlen(texts[k])), 0);
		lp_qamule_result r;
		assert_int_equal(lp_qamule_result_read(path, LP_KIND_CHECKPOINT, &r), want[k]);
		lp_qamule_result_clear(&r);
		assert_false(exists(path));
		assert_int_equal(count_entries(dir, ""), 0);
		/* read again: it is gone, an old approval cannot come back */
		assert_int_equal(lp_qamule_result_read(path, LP_KIND_CHECKPOINT, &r),
				 LP_QAMULE_MISSING_RESULT);
		lp_qamule_result_clear(&r);
		free(path);
	}
	/* a symlink planted at the result path: refused and removed, its
	 * target untouched */
	char target[192];
	snprintf(target, sizeof target, "%s/target.json", q->dir);
	assert_int_equal(write_text(target, texts[0], strlen(texts[0])), 0);
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_OK);
	assert_int_equal(symlink(target, path), 0);
	lp_qamule_result r;
	assert_int_equal(lp_qamule_result_read(path, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "symlink"));
	lp_qamule_result_clear(&r);
	assert_false(exists(path));
	assert_true(exists(target));
	assert_int_equal(count_entries(dir, ""), 0);
	free(path);
}

/* The directory is verified again when the result is read: made
 * writable by others (or replaced by a symlink) after the request, the
 * result is not used. */
static void test_result_dir_checked_at_read(void **state)
{
	qfx *q = *state;
	char dir[128], real[128], id[LP_QAMULE_REQUEST_ID_LEN + 1], *path = NULL;
	snprintf(dir, sizeof dir, "%s/res", q->dir);
	assert_int_equal(lp_qamule_request_new(dir, id, &path), LP_OK);
	const char *ok = "{\"result\": true}";
	assert_int_equal(write_text(path, ok, strlen(ok)), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	lp_qamule_result r;
	assert_int_equal(lp_qamule_result_read(path, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "writable by group or others"));
	assert_int_equal(r.result, LP_RESULT_NONE);
	lp_qamule_result_clear(&r);
	assert_int_equal(chmod(dir, 0700), 0);

	snprintf(real, sizeof real, "%s/real", q->dir);
	assert_int_equal(rename(dir, real), 0);
	assert_int_equal(symlink(real, dir), 0);
	assert_int_equal(lp_qamule_result_read(path, LP_KIND_CHECKPOINT, &r),
			 LP_QAMULE_INVALID_RESULT);
	assert_non_null(strstr(r.message, "symlink"));
	lp_qamule_result_clear(&r);
	free(path);
}

/* ------------------------------------------------------- run liveness */

/* The owner's heartbeat thread refreshes run.json's mtime: seen as an
 * IN_ATTRIB event on it after it was set an hour back. */
static void test_run_heartbeat_refreshes_run_json(void **state)
{
	fx *f = *state;
	char path[256];
	fx_path(f, path, sizeof path, "runs/r1/run.json");
	char *doc = slurp(path);
	assert_non_null(strstr(doc, "\"heartbeat_interval\":"));
	free(doc);
	int ino = inotify_init1(IN_CLOEXEC);
	assert_true(ino >= 0);
	assert_true(inotify_add_watch(ino, path, IN_ATTRIB) >= 0);
	backdate(path, 3600);
	struct stat st;
	int refreshed = 0;
	for (int k = 0; k < 8 && !refreshed; k++) { /* the backdate's own event first */
		struct pollfd pf = {.fd = ino, .events = POLLIN};
		assert_int_equal(poll(&pf, 1, (int)(LP_HEARTBEAT_INTERVAL * 1000) * 5), 1);
		char buf[4096];
		assert_true(read(ino, buf, sizeof buf) > 0);
		assert_int_equal(stat(path, &st), 0);
		refreshed = lpi_now() - (double)st.st_mtim.tv_sec < 60;
	}
	assert_true(refreshed);
	close(ino);
	/* ended: the thread is stopped (joined), the status decides */
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	lp_run_info *info;
	assert_int_equal(lp_run_info_load(&info, f->store, "r1"), LP_OK);
	assert_string_equal(info->state, "ended");
	lp_run_info_free(info);
}

/* A run.json as a run on another host leaves it (shared filesystem). */
static void write_foreign_run(fx *f, const char *run_id, const char *interval)
{
	char path[256];
	fx_path(f, path, sizeof path, "runs/%s", run_id);
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof path, "runs/%s/pauses", run_id);
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof path, "runs/%s/run.json", run_id);
	char doc[1024];
	snprintf(
		doc, sizeof doc,
		"{\"protocol\": 1, \"run_id\": \"%s\", \"pid\": 1, \"hostname\": "
		"\"build-7.other.example\", \"boot_id\": \"0a1b2c3d-0000-4000-8000-000000000000\", "
		"\"pid_start_time\": \"12345\", \"cwd\": \"/src\", \"worker_id\": null, "
		"\"started_at\": 1.0, \"status\": \"active\", \"ended_at\": null, "
		"\"exitstatus\": null%s%s}",
		run_id, interval ? ", \"heartbeat_interval\": " : "", interval ? interval : "");
	assert_int_equal(write_text(path, doc, strlen(doc)), 0);
}

static const char *run_state(fx *f, const char *run_id, char *buf, size_t size)
{
	lp_run_info *info;
	assert_int_equal(lp_run_info_load(&info, f->store, run_id), LP_OK);
	snprintf(buf, size, "%s", info->state);
	lp_run_info_free(info);
	return buf;
}

static void test_foreign_run_judged_by_heartbeat(void **state)
{
	fx *f = *state;
	char path[256], st[32];
	write_foreign_run(f, "far", "2.0");
	fx_path(f, path, sizeof path, "runs/far/run.json");
	assert_string_equal(run_state(f, "far", st, sizeof st), "active"); /* fresh */
	backdate(path, 2.0 * LP_HEARTBEAT_MISSES - 3);
	assert_string_equal(run_state(f, "far", st, sizeof st), "active"); /* 3 missed */
	backdate(path, 2.0 * LP_HEARTBEAT_MISSES + 3);
	assert_string_equal(run_state(f, "far", st, sizeof st), "stale"); /* 5 missed */
	/* the recorded interval decides, not ours */
	write_foreign_run(f, "slow", "60.0");
	fx_path(f, path, sizeof path, "runs/slow/run.json");
	backdate(path, 120);
	assert_string_equal(run_state(f, "slow", st, sizeof st), "active");
	/* a writer without a heartbeat (0.1.1, or before this change): it
	 * cannot be judged from here, so it is taken as alive */
	write_foreign_run(f, "old", NULL);
	fx_path(f, path, sizeof path, "runs/old/run.json");
	backdate(path, 3600);
	assert_string_equal(run_state(f, "old", st, sizeof st), "active");
}

/* watch of a foreign run: ends with LP_ERUNENDED once the heartbeat is
 * stale; times out (still active) while it is fresh. */
static void test_watch_foreign_run(void **state)
{
	fx *f = *state;
	char path[256];
	write_foreign_run(f, "far", "2.0");
	fx_path(f, path, sizeof path, "runs/far/run.json");
	lp_pause_info *info = NULL;
	assert_int_equal(lp_run_watch(&info, f->store, "far", 0.3, NULL), LP_EWAITTIMEOUT);
	backdate(path, 60);
	assert_int_equal(lp_run_watch(&info, f->store, "far", 30, NULL), LP_ERUNENDED);
	assert_non_null(strstr(lp_error_message(), "heartbeat"));
	assert_null(info);
}

int main(void)
{
	test_guard(120);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writable_subdirs_refused_with_a_fix_that_works,
						fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_subdirs_refused, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_dirs_refused, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_files, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listing_skips_and_warns_once, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_command_rejected, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_result_dir_made_private, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_result_dir_refused, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_result_consumed, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_result_dir_checked_at_read, q_setup,
						q_teardown),
		cmocka_unit_test_setup_teardown(test_run_heartbeat_refreshes_run_json, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_run_judged_by_heartbeat, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_watch_foreign_run, fx_setup_run, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
