/*
 * test_foreign.c - pauses whose ids are not of our shape (0.1.1's bare
 * 32-hex UUIDs for runs and pauses, no pending/ entry, no catalog line),
 * in a pause directory our runtime also uses: listed by lp_store_list (pending
 * and all), loaded by id and by path, reported by lp_run_watch (and woken
 * for when one appears), resumed by lp_pause_resume, followed by the change
 * feed through the run's events.jsonl; two runs holding one id are refused
 * with a message naming both.
 */
#include "helpers.h"

#define FRUN "0123456789abcdef0123456789abcdef"
#define FPAUSE "fedcba9876543210fedcba9876543210"

/* A run and a pending pause written as 0.1.1 writes them (0755 dirs). */
static void write_v011(const fx *f, const char *run, const char *pause, const char *status,
		       long pid, double created)
{
	char p[512], doc[2048];
	fx_path(f, p, sizeof p, "runs/%s", run);
	mkdir(p, 0755);
	fx_path(f, p, sizeof p, "runs/%s/pauses", run);
	mkdir(p, 0755);
	fx_path(f, p, sizeof p, "runs/%s/commands", run);
	mkdir(p, 0755);
	fx_path(f, p, sizeof p, "runs/%s/run.json", run);
	snprintf(doc, sizeof doc,
		 "{\"run_id\": \"%s\", \"pid\": %ld, \"hostname\": \"%s\", \"cwd\": \"/w\", "
		 "\"argv\": [\"pytest\"], \"started_at\": %f, \"worker_id\": null}",
		 run, pid, lpi_hostname(), created - 1);
	assert_int_equal(write_text(p, doc, strlen(doc)), 0);
	if (pause == NULL)
		return;
	fx_path(f, p, sizeof p, "runs/%s/pauses/%s.json", run, pause);
	snprintf(doc, sizeof doc,
		 "{\"pause_id\": \"%s\", \"run_id\": \"%s\", \"kind\": \"checkpoint\", "
		 "\"nodeid\": \"t.py::v011\", \"task\": \"approve\", \"timeout\": 600.0, "
		 "\"original_failure\": \"\", \"status\": \"%s\", \"created_at\": %f, "
		 "\"pid\": %ld, \"hostname\": \"%s\", \"cwd\": \"/w\", \"worker_id\": null, "
		 "\"finished_at\": null, \"failure_reason\": null}",
		 pause, run, status, created, pid, lpi_hostname());
	assert_int_equal(write_text(p, doc, strlen(doc)), 0);
}

typedef struct ids {
	int n;
	char id[16][LP_ID_MAX + 1];
	char state[16][16];
} ids;

static int on_info(const lp_pause_info *info, void *ud)
{
	ids *s = ud;
	if (s->n < 16) {
		snprintf(s->id[s->n], sizeof s->id[0], "%s", info->pause_id);
		snprintf(s->state[s->n], sizeof s->state[0], "%s", info->state);
	}
	s->n++;
	return 0;
}

static int find(const ids *s, const char *id)
{
	for (int k = 0; k < s->n && k < 16; k++)
		if (strcmp(s->id[k], id) == 0)
			return k;
	return -1;
}

static void test_listed_beside_ours(void **state)
{
	fx *f = *state;
	lp_pause *ours = fx_pause(f, LP_KIND_CHECKPOINT, 30); /* pending/ and the catalog exist */
	write_v011(f, FRUN, FPAUSE, "pending", (long)getpid(), lpi_now());
	write_v011(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		   "resumed", (long)getpid(), lpi_now());
	ids s = {0};
	assert_int_equal(lp_store_list(f->store, 0, on_info, &s), 0);
	assert_int_equal(s.n, 2); /* both pending ones, the resumed one not */
	assert_true(find(&s, lp_pause_id(ours)) >= 0 && find(&s, FPAUSE) >= 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(lp_store_list(f->store, LP_LIST_ALL, on_info, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.state[find(&s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")], "resumed");
	memset(&s, 0, sizeof s);
	assert_int_equal(lp_store_list(f->store, LP_LIST_ALL | LP_LIST_JSON, on_info, &s), 0);
	assert_int_equal(s.n, 3);
	lp_pause_free(ours);
}

static void test_load_by_id_and_path(void **state)
{
	fx *f = *state;
	write_v011(f, FRUN, FPAUSE, "pending", (long)getpid(), lpi_now());
	lp_pause_info *i = NULL;
	assert_int_equal(lp_pause_info_load(&i, f->store, FPAUSE), LP_OK);
	assert_string_equal(i->run_id, FRUN);
	assert_string_equal(i->state, "pending");
	assert_string_equal(i->kind, "checkpoint");
	char path[512];
	fx_path(f, path, sizeof path, "runs/%s/pauses/%s.json", FRUN, FPAUSE);
	assert_string_equal(i->path, path);
	lp_pause_info_free(i);
	/* by path, with and without a store */
	assert_int_equal(lp_pause_info_load(&i, f->store, path), LP_OK);
	assert_string_equal(i->run_id, FRUN);
	lp_pause_info_free(i);
	assert_int_equal(lp_pause_info_load(&i, NULL, path), LP_OK);
	assert_string_equal(i->pause_id, FPAUSE);
	lp_pause_info_free(i);
	/* unknown ids of that shape */
	assert_int_equal(lp_pause_info_load(&i, f->store, "ffffffffffffffffffffffffffffffff"),
			 LP_ENOTFOUND);
	assert_non_null(strstr(lp_error_message(), "pytest-live-pause ls"));
	/* the same id in two runs: refused, naming both; the path still works */
	write_v011(f, "cccccccccccccccccccccccccccccccc", FPAUSE, "pending", (long)getpid(),
		   lpi_now());
	assert_int_equal(lp_pause_info_load(&i, f->store, FPAUSE), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), FRUN));
	assert_non_null(strstr(lp_error_message(), "cccccccccccccccccccccccccccccccc"));
	assert_int_equal(lp_pause_info_load(&i, f->store, path), LP_OK);
	assert_string_equal(i->run_id, FRUN);
	lp_pause_info_free(i);
}

static void test_watch_reports_and_wakes(void **state)
{
	fx *f = *state;
	write_v011(f, FRUN, NULL, NULL, (long)getpid(), lpi_now());
	lp_pause_info *i = NULL;
	/* nothing yet: times out */
	assert_int_equal(lp_run_watch(&i, f->store, FRUN, 0.2, NULL), LP_EWAITTIMEOUT);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL); /* the parent is waiting by then, or finds it at once */
		char p[512], tmp[512];
		fx_path(f, tmp, sizeof tmp, "runs/%s/pauses/%s.json.tmp", FRUN, FPAUSE);
		fx_path(f, p, sizeof p, "runs/%s/pauses/%s.json", FRUN, FPAUSE);
		char doc[1024];
		snprintf(doc, sizeof doc,
			 "{\"pause_id\": \"%s\", \"run_id\": \"%s\", \"kind\": \"failure\", "
			 "\"nodeid\": \"t.py::f\", \"status\": \"pending\", \"created_at\": %f, "
			 "\"pid\": %ld, \"hostname\": \"%s\"}",
			 FPAUSE, FRUN, lpi_now(), (long)getppid(), lpi_hostname());
		if (write_text(tmp, doc, strlen(doc)) != 0 || rename(tmp, p) != 0)
			_exit(CHILD_SETUP_FAILED);
		_exit(0);
	}
	int rc = lp_run_watch(&i, f->store, FRUN, 20, NULL);
	assert_int_equal(wait_child(pid, 10000), 0);
	assert_int_equal(rc, LP_OK);
	assert_string_equal(i->pause_id, FPAUSE);
	assert_string_equal(i->kind, "failure");
	lp_pause_info_free(i);
	/* at once, now that it exists */
	assert_int_equal(lp_run_watch(&i, f->store, FRUN, 5, NULL), LP_OK);
	assert_string_equal(i->pause_id, FPAUSE);
	lp_pause_info_free(i);
}

static void test_watch_all_reports_ended(void **state)
{
	fx *f = *state;
	write_v011(f, FRUN, FPAUSE, "resumed", (long)getpid(), lpi_now());
	lp_watcher *w = NULL;
	lp_pause_info *i = NULL;
	assert_int_equal(lp_run_watch_open(&w, f->store, FRUN), LP_OK);
	assert_int_equal(lp_watcher_next(&i, w, 0.2, NULL), LP_EWAITTIMEOUT);
	assert_int_equal(lp_watcher_set_all(w, 1), LP_OK);
	assert_int_equal(lp_watcher_next(&i, w, 5, NULL), LP_OK);
	assert_string_equal(i->pause_id, FPAUSE);
	assert_string_equal(i->state, "resumed");
	lp_pause_info_free(i);
	lp_watcher_free(w);
	assert_int_equal(lp_watcher_set_all(NULL, 1), LP_EINVAL);
	/* ours too: an ended pause of our run */
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, "cli", NULL), LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(lp_run_watch_open(&w, f->store, "r1"), LP_OK);
	assert_int_equal(lp_watcher_set_all(w, 1), LP_OK);
	assert_int_equal(lp_watcher_next(&i, w, 5, NULL), LP_OK);
	assert_string_equal(i->pause_id, lp_pause_id(p));
	assert_string_equal(i->state, "resumed");
	lp_pause_info_free(i);
	lp_watcher_free(w);
	lp_pause_free(p);
}

/* The paused side of 0.1.1, in a child: wait for the command, take it
 * (read, unlink) and write the final pause file. */
static int v011_take(void *arg)
{
	const fx *f = arg;
	char cmd[512], p[512], tmp[512];
	fx_path(f, cmd, sizeof cmd, "runs/%s/commands/%s.resume.json", FRUN, FPAUSE);
	fx_path(f, p, sizeof p, "runs/%s/pauses/%s.json", FRUN, FPAUSE);
	fx_path(f, tmp, sizeof tmp, "runs/%s/pauses/%s.json.tmp", FRUN, FPAUSE);
	for (int k = 0; k < 1000 && !exists(cmd); k++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	char *text = slurp(cmd);
	if (text == NULL || strstr(text, "\"result\":true") == NULL || unlink(cmd) != 0)
		return 1;
	free(text);
	char doc[1024];
	snprintf(doc, sizeof doc,
		 "{\"pause_id\": \"%s\", \"run_id\": \"%s\", \"kind\": \"checkpoint\", "
		 "\"nodeid\": \"t.py::v011\", \"status\": \"resumed\", \"created_at\": 1.0, "
		 "\"pid\": %ld, \"hostname\": \"%s\", \"finished_at\": 2.0, \"result\": true}",
		 FPAUSE, FRUN, (long)getppid(), lpi_hostname());
	return write_text(tmp, doc, strlen(doc)) == 0 && rename(tmp, p) == 0 ? 0 : 2;
}

static void test_resume_by_id(void **state)
{
	fx *f = *state;
	write_v011(f, FRUN, FPAUSE, "pending", (long)getpid(), lpi_now());
	pid_t child = fork_child(v011_take, f);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	o.take_timeout = 20;
	lp_pause_info *i = NULL;
	int rc = lp_pause_resume(&i, f->store, FPAUSE, &o);
	assert_int_equal(wait_child(child, 20000), 0);
	if (rc != LP_OK)
		fprintf(stderr, "lp_pause_resume: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	assert_string_equal(i->status, "resumed");
	lp_pause_info_free(i);
	/* a second resume is refused as already resumed */
	assert_int_equal(lp_pause_resume(NULL, f->store, FPAUSE, &o), LP_ERESUMED);
}

static void test_typed_info_and_verdict(void **state)
{
	fx *f = *state;
	assert_string_equal(lp_state_name(LP_STATE_PENDING), "pending");
	assert_string_equal(lp_state_name(LP_STATE_STALE), "stale");
	assert_string_equal(lp_state_name(LP_STATE_RESUMED), "resumed");
	assert_string_equal(lp_state_name(LP_STATE_TIMED_OUT), "timed_out");
	assert_string_equal(lp_state_name(LP_STATE_ABORTED), "aborted");
	assert_string_equal(lp_state_name((lp_state)99), "unknown");
	/* ours, pending then resumed with a verdict */
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	lp_pause_info *i = NULL;
	assert_int_equal(lp_pause_info_load(&i, f->store, lp_pause_id(p)), LP_OK);
	assert_int_equal(i->kind_code, LP_KIND_CHECKPOINT);
	assert_int_equal(i->state_code, LP_STATE_PENDING);
	assert_int_equal(i->status_code, LP_STATE_PENDING);
	assert_null(i->resolved_by);
	assert_int_equal(i->result, LP_RESULT_NONE);
	assert_true(i->finished_at == 0);
	lp_pause_info_free(i);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, "cli",
					"{\"result\": true, \"reason\": \"ok\\u2028x\"}"),
			 LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(lp_pause_info_load(&i, f->store, lp_pause_id(p)), LP_OK);
	assert_int_equal(i->state_code, LP_STATE_RESUMED);
	assert_int_equal(i->status_code, LP_STATE_RESUMED);
	assert_string_equal(i->resolved_by, "cli");
	assert_int_equal(i->result, LP_RESULT_TRUE);
	assert_string_equal(i->reason, "ok\xe2\x80\xa8x");
	assert_null(i->failure_reason);
	assert_true(i->finished_at >= i->created_at && i->finished_at > 0);
	lp_pause_info_free(i);
	lp_pause_free(p);
	/* 0.1.1's: a failure resumed with a reason, and a stale one */
	write_v011(f, FRUN, FPAUSE, "pending", 999999999L, lpi_now());
	assert_int_equal(lp_pause_info_load(&i, f->store, FPAUSE), LP_OK);
	assert_int_equal(i->state_code, LP_STATE_STALE);
	assert_int_equal(i->status_code, LP_STATE_PENDING);
	lp_pause_info_free(i);
	char path[512], doc[1024];
	fx_path(f, path, sizeof path, "runs/%s/pauses/%s.json", FRUN, FPAUSE);
	snprintf(doc, sizeof doc,
		 "{\"pause_id\": \"%s\", \"run_id\": \"%s\", \"kind\": \"failure\", "
		 "\"status\": \"resumed\", \"created_at\": 10.0, \"finished_at\": 12.5, "
		 "\"failure_reason\": \"wifi\", \"result\": null, \"reason\": null, \"pid\": 1}",
		 FPAUSE, FRUN);
	assert_int_equal(write_text(path, doc, strlen(doc)), 0);
	assert_int_equal(lp_pause_info_load(&i, f->store, FPAUSE), LP_OK);
	assert_int_equal(i->kind_code, LP_KIND_FAILURE);
	assert_int_equal(i->state_code, LP_STATE_RESUMED);
	assert_null(i->resolved_by); /* 0.1.1 does not record it */
	assert_string_equal(i->failure_reason, "wifi");
	assert_int_equal(i->result, LP_RESULT_NONE);
	assert_true(i->finished_at == 12.5);
	lp_pause_info_free(i);
	/* a status of a later version */
	snprintf(doc, sizeof doc,
		 "{\"pause_id\": \"%s\", \"run_id\": \"%s\", \"status\": \"paused_elsewhere\"}",
		 FPAUSE, FRUN);
	assert_int_equal(write_text(path, doc, strlen(doc)), 0);
	assert_int_equal(lp_pause_info_load(&i, f->store, FPAUSE), LP_OK);
	assert_int_equal(i->state_code, LP_STATE_UNKNOWN);
	assert_int_equal(i->status_code, LP_STATE_UNKNOWN);
	lp_pause_info_free(i);
}

/* The change feed follows an active 0.1.1 run through its events.jsonl
 * (0.1.1's lines, with its spacing): a pause pending when the feed opened
 * is not reported created but its end is; one written after is reported
 * created, once, though pending/ never indexes it. */
static void test_feed_follows_v011_run(void **state)
{
	fx *f = *state;
	write_v011(f, FRUN, FPAUSE, "pending", (long)getpid(), lpi_now());
	char log[512], line[512];
	fx_path(f, log, sizeof log, "runs/%s/events.jsonl", FRUN);
	snprintf(line, sizeof line,
		 "{\"event\": \"run_started\", \"run_id\": \"%s\"}\n"
		 "{\"event\": \"pause_created\", \"kind\": \"checkpoint\", \"pause_id\": \"%s\"}\n",
		 FRUN, FPAUSE);
	assert_int_equal(write_text(log, line, strlen(line)), 0);
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	/* a second pause: its file, then its line (as 0.1.1 writes them) */
	const char *second = "cccccccccccccccccccccccccccccccc";
	write_v011(f, FRUN, second, "pending", (long)getpid(), lpi_now());
	snprintf(
		line, sizeof line,
		"{\"event\": \"pause_created\", \"kind\": \"checkpoint\", \"pause_id\": \"%s\", "
		"\"nodeid\": \"t.py::v011\", \"timeout\": 600.0, \"pid\": %ld, \"worker_id\": null}\n",
		second, (long)getpid());
	int fd = open(log, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	lp_feed_event ev;
	unsigned long long pos = 0;
	assert_int_equal(lp_feed_next(&ev, feed, pos, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_PAUSE_CREATED);
	assert_string_equal(ev.pause_id, second);
	pos = ev.seq;
	lp_feed_event_clear(&ev);
	/* the first one ends: reported ended, never created */
	write_v011(f, FRUN, FPAUSE, "resumed", (long)getpid(), lpi_now());
	assert_int_equal(write(fd, "{\"event\": \"pause_finished\"}\n", 29), 29);
	close(fd);
	assert_int_equal(lp_feed_next(&ev, feed, pos, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_PAUSE_ENDED);
	assert_string_equal(ev.pause_id, FPAUSE);
	pos = ev.seq;
	lp_feed_event_clear(&ev);
	assert_int_equal(lp_feed_next(&ev, feed, pos, 0.3, NULL), LP_EWAITTIMEOUT);
	lpi_error_clear();
	lp_feed_free(feed);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_listed_beside_ours),
		T(test_load_by_id_and_path),
		T(test_watch_reports_and_wakes),
		T(test_watch_all_reports_ended),
		T(test_resume_by_id),
		T(test_typed_info_and_verdict),
		T(test_feed_follows_v011_run),
	};
	return cmocka_run_group_tests_name("foreign ids", tests, NULL, NULL);
}
