/*
 * test_scan.c - scan.c (and the run info of run.c): listing pauses
 * (pending only, from the pending/ index; or all, by the catalog or walking
 * the runs),
 * loading one pause by id, by the path of its pause file, or by a path in
 * another pause directory, and lp_run_watch: an existing pending pause at
 * once, LP_ERUNENDED, LP_EWAITTIMEOUT, LP_ENOTFOUND, LP_EINTR, and waking for
 * a pause that another process creates while it waits.
 */
#include "helpers.h"

/* ------------------------------------------------------------ helpers */

typedef struct seen {
	int n;
	char ids[32][LP_ID_MAX + 1];
	char states[32][16];
	char statuses[32][16];
	double created[32];
	int stop_at; /* return 7 at this call (1-based); 0: never */
} seen;

static int collect_cb(const lp_pause_info *info, void *ud)
{
	seen *s = ud;
	if (s->n < 32) {
		snprintf(s->ids[s->n], sizeof s->ids[0], "%s", info->pause_id);
		snprintf(s->states[s->n], sizeof s->states[0], "%s", info->state);
		snprintf(s->statuses[s->n], sizeof s->statuses[0], "%s", info->status);
		s->created[s->n] = info->created_at;
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static int index_of(const seen *s, const char *id)
{
	for (int k = 0; k < s->n && k < 32; k++)
		if (strcmp(s->ids[k], id) == 0)
			return k;
	return -1;
}

static void list(lp_store *store, unsigned flags, seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(lp_store_list(store, flags, collect_cb, s), 0);
	for (int k = 1; k < s->n && k < 32; k++)
		assert_true(s->created[k - 1] <= s->created[k]); /* oldest first */
}

static void claim(lp_pause *p, lp_action action, const char *fields)
{
	lp_resolution res = {0};
	const char *by = action == LP_ACTION_RESUME ? "cli" : lp_action_name(action);
	assert_int_equal(lp_pause_claim(&res, p, action, by, fields), LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(lpi_pause_settle(p), LP_OK); /* out of pending/ in its own thread */
}

static lp_run *start_run(lp_store *store, const char *id)
{
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = id;
	lp_run *run = NULL;
	assert_int_equal(lp_run_start(&run, store, &ro), LP_OK);
	return run;
}

static lp_pause *begin(lp_run *run)
{
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = "t.py::t";
	o.timeout = 30;
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, run, &o), LP_OK);
	return p;
}

/* ------------------------------------------------------------ listing */

static void test_list_counts(void **state)
{
	fx *f = *state;
	lp_pause *p[4];
	for (int k = 0; k < 4; k++)
		p[k] = begin(f->run);
	lp_run *r2 = start_run(f->store, "r2");
	lp_pause *q = begin(r2);

	seen s;
	list(f->store, 0, &s);
	assert_int_equal(s.n, 5);
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 5);

	claim(p[1], LP_ACTION_RESUME, "{\"failure_reason\":\"done\"}");
	claim(p[2], LP_ACTION_TIMEOUT, NULL);
	claim(q, LP_ACTION_ABORT, NULL);

	list(f->store, 0, &s);
	assert_int_equal(s.n, 2);
	assert_true(index_of(&s, lp_pause_id(p[0])) >= 0);
	assert_true(index_of(&s, lp_pause_id(p[3])) >= 0);
	for (int k = 0; k < s.n; k++)
		assert_string_equal(s.states[k], "pending");
	assert_true(index_of(&s, lp_pause_id(p[0])) < index_of(&s, lp_pause_id(p[3])));

	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.states[index_of(&s, lp_pause_id(p[1]))], "resumed");
	assert_string_equal(s.states[index_of(&s, lp_pause_id(p[2]))], "timed_out");
	assert_string_equal(s.states[index_of(&s, lp_pause_id(q))], "aborted");
	assert_string_equal(s.states[index_of(&s, lp_pause_id(p[0]))], "pending");

	for (int k = 0; k < 4; k++) {
		if (k == 0 || k == 3)
			claim(p[k], LP_ACTION_ABORT, NULL);
		lp_pause_free(p[k]);
	}
	lp_pause_free(q);
	lp_run_free(r2);
	list(f->store, 0, &s);
	assert_int_equal(s.n, 0);
	char d[256];
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "pending"), ""), 0);
}

static void test_list_reads_only_index(void **state)
{
	fx *f = *state;
	lp_pause *a = begin(f->run), *b = begin(f->run);
	/* a pending pause missing from the index is not seen by a plain
	 * listing, which never walks the runs ... */
	char d[256];
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "pending/%s", lp_pause_id(b))), 0);
	/* ... and index entries without a pause, or not ids, are skipped */
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/r1.00000000"), "", 0), 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/nosuchrun.00000000"), "", 0),
			 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/junk"), "", 0), 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/.hidden"), "", 0), 0);
	seen s;
	list(f->store, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], lp_pause_id(a));
	/* a full listing of a catalogued run trusts pending/ and the
	 * catalog too (test_catalog.c), with JSON as without */
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 1);
	list(f->store, LP_LIST_ALL | LP_LIST_JSON, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], lp_pause_id(a));
	/* without a catalog every run is walked: b is found */
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "catalog.tsv")), 0);
	list(f->store, LP_LIST_ALL | LP_LIST_JSON, &s);
	assert_int_equal(s.n, 2);
	assert_true(index_of(&s, lp_pause_id(b)) >= 0);
	claim(a, LP_ACTION_ABORT, NULL);
	claim(b, LP_ACTION_ABORT, NULL);
	lp_pause_free(a);
	lp_pause_free(b);
}

static void test_list_skips_bad_files(void **state)
{
	fx *f = *state;
	lp_pause *a = begin(f->run);
	char d[256];
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "runs/r1/pauses/r1.0badf00d.json"),
				    "not json", 8),
			 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/r1.0badf00d"), "", 0), 0);
	/* a pause file that names another pause */
	char *text = slurp(lp_pause_path(a));
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "runs/r1/pauses/r1.1badf00d.json"),
				    text, strlen(text)),
			 0);
	free(text);
	assert_int_equal(symlink(lp_pause_path(a),
				 fx_path(f, d, sizeof d, "runs/r1/pauses/r1.2badf00d.json")),
			 0);
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "runs/r1/pauses/notes.txt"), "x", 1),
			 0);
	assert_int_equal(mkdir(fx_path(f, d, sizeof d, "runs/not.a.run"), 0700), 0);
	seen s;
	list(f->store, 0, &s);
	assert_int_equal(s.n, 1);
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 1);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, "r1.0badf00d"), LP_EBADCMD);
	assert_int_equal(lp_pause_info_load(&info, f->store, "r1.1badf00d"), LP_EBADCMD);
	assert_int_equal(lp_pause_info_load(&info, f->store, "r1.2badf00d"), LP_EUNSAFE);
	assert_null(info);
	claim(a, LP_ACTION_ABORT, NULL);
	lp_pause_free(a);
}

static void test_list_callback_stops(void **state)
{
	fx *f = *state;
	lp_pause *p[3] = {begin(f->run), begin(f->run), begin(f->run)};
	seen s = {.stop_at = 2};
	assert_int_equal(lp_store_list(f->store, 0, collect_cb, &s), 7);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof s);
	s.stop_at = 1;
	assert_int_equal(lp_store_list(f->store, LP_LIST_ALL, collect_cb, &s), 7);
	assert_int_equal(s.n, 1);
	for (int k = 0; k < 3; k++) {
		claim(p[k], LP_ACTION_ABORT, NULL);
		lp_pause_free(p[k]);
	}
}

/* ------------------------------------------------------------ loading */

static void test_info_load(void **state)
{
	fx *f = *state;
	lp_pause *p = begin(f->run);
	const char *id = lp_pause_id(p);
	lp_pause_info *a = NULL, *b = NULL;
	assert_int_equal(lp_pause_info_load(&a, f->store, id), LP_OK);
	assert_string_equal(a->pause_id, id);
	assert_string_equal(a->run_id, "r1");
	assert_string_equal(a->path, lp_pause_path(p));
	assert_string_equal(a->state, "pending");
	assert_int_equal(lp_pause_info_load(&b, f->store, lp_pause_path(p)), LP_OK);
	assert_string_equal(b->pause_id, id);
	assert_string_equal(b->path, a->path);
	assert_string_equal(b->pause_dir, f->dir);
	lp_pause_info_free(b);
	/* a path needs no store */
	assert_int_equal(lp_pause_info_load(&b, NULL, lp_pause_path(p)), LP_OK);
	assert_string_equal(b->pause_id, id);
	lp_pause_info_free(b);
	lp_pause_info_free(a);
	lp_pause_info_free(NULL);

	/* refused references */
	char ref[512];
	assert_int_equal(lp_pause_info_load(&a, f->store, "r1.00000000"), LP_ENOTFOUND);
	assert_null(a);
	assert_int_equal(lp_pause_info_load(&a, f->store, "zz.00000000"), LP_ENOTFOUND);
	assert_int_equal(lp_pause_info_load(&a, f->store, ""), LP_EINVAL);
	assert_int_equal(lp_pause_info_load(&a, NULL, id), LP_EINVAL);
	snprintf(ref, sizeof ref, "%s/runs/r1/pauses/%s.txt", f->dir, id);
	assert_int_equal(lp_pause_info_load(&a, f->store, ref), LP_EINVAL);
	snprintf(ref, sizeof ref, "%s/runs/r2/pauses/%s.json", f->dir, id); /* not its run */
	assert_int_equal(lp_pause_info_load(&a, f->store, ref), LP_EINVAL);
	snprintf(ref, sizeof ref, "%s/runs/r1/other/%s.json", f->dir, id);
	assert_int_equal(lp_pause_info_load(&a, f->store, ref), LP_EINVAL);
	snprintf(ref, sizeof ref, "%s/runs/r1/pauses/..json", f->dir);
	assert_int_equal(lp_pause_info_load(&a, f->store, ref), LP_EINVAL);
	assert_null(a);
	claim(p, LP_ACTION_ABORT, NULL);
	lp_pause_free(p);
}

static void test_info_load_other_dir(void **state)
{
	fx *f = *state;
	char other[64];
	make_tmpdir(other);
	lp_store *s2 = NULL;
	assert_int_equal(lp_store_open(&s2, other, LP_STORE_CREATE), LP_OK);
	lp_run *r = start_run(s2, "elsewhere");
	lp_pause *p = begin(r);
	lp_pause_info *info = NULL;
	/* by path, through the fixture's store: found in its own directory */
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_path(p)), LP_OK);
	assert_string_equal(info->pause_id, lp_pause_id(p));
	assert_string_equal(info->pause_dir, other);
	assert_string_equal(info->path, lp_pause_path(p));
	lp_pause_info_free(info);
	/* by id, it is not in the fixture's store */
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_ENOTFOUND);
	/* resumable by path too */
	char path[512];
	snprintf(path, sizeof path, "%s", lp_pause_path(p));
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.take_timeout = -1;
	o.failure_reason = "from afar";
	lp_resume_options wrong = o;
	wrong.failure_reason = NULL;
	wrong.has_result = 1;
	assert_int_equal(lp_pause_resume(NULL, NULL, path, &wrong), LP_EKIND); /* no store needed */
	assert_int_equal(lp_pause_resume(NULL, NULL, lp_pause_id(p), &o),
			 LP_EINVAL); /* an id does */
	assert_int_equal(lp_pause_resume(NULL, f->store, path, &o), LP_OK);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_string_equal(res.failure_reason, "from afar");
	lp_resolution_clear(&res);
	lp_pause_free(p);
	/* an unsafe other directory is refused, not read */
	assert_int_equal(chmod(other, 0777), 0);
	assert_int_equal(lp_pause_info_load(&info, f->store, path), LP_EUNSAFE);
	assert_null(info);
	assert_int_equal(lp_pause_resume(NULL, f->store, path, &o), LP_EUNSAFE);
	lp_run_free(r);
	lp_store_free(s2);
	rm_rf(other);
}

/* ----------------------------------------------------------- run info */

typedef struct starter {
	const char *dir;
	const char *run_id;
	int hold_fd; /* -1: exit at once; else exit when it reads EOF */
	int close_fd;
	int ready_fd; /* -1, or written to once the run is started */
} starter;

/* Start a run (and leave it active), then exit. */
static int start_run_child(void *arg)
{
	starter *st = arg;
	if (st->close_fd >= 0)
		close(st->close_fd);
	lp_store *s;
	lp_run *run;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = st->run_id;
	if (lp_store_open(&s, st->dir, 0) || lp_run_start(&run, s, &ro))
		return CHILD_SETUP_FAILED;
	if (st->ready_fd >= 0 && write(st->ready_fd, "r", 1) != 1)
		return CHILD_SETUP_FAILED;
	if (st->hold_fd >= 0)
		await_fd(st->hold_fd, 15000);
	lp_run_free(run); /* not ended: the run is left active */
	lp_store_free(s);
	return 0;
}

static void test_run_info(void **state)
{
	fx *f = *state;
	lp_run_info *ri = NULL;
	assert_int_equal(lp_run_info_load(&ri, f->store, "r1"), LP_OK);
	assert_string_equal(ri->run_id, "r1");
	assert_string_equal(ri->state, "active");
	assert_int_equal(ri->pid, (long)getpid());
	assert_string_equal(ri->hostname, lpi_hostname());
	assert_true(ri->started_at > 0);
	assert_non_null(strstr(ri->json, "\"state\":\"active\""));
	lp_run_info_free(ri);
	assert_int_equal(lp_run_end(f->run, 3), LP_OK);
	assert_int_equal(lp_run_info_load(&ri, f->store, "r1"), LP_OK);
	assert_string_equal(ri->state, "ended");
	assert_non_null(strstr(ri->json, "\"exitstatus\":3"));
	lp_run_info_free(ri);
	lp_run_info_free(NULL);
	assert_int_equal(lp_run_info_load(&ri, f->store, "nope"), LP_ENOTFOUND);
	assert_int_equal(lp_run_info_load(&ri, f->store, "../r1"), LP_EINVAL);
	assert_int_equal(lp_run_info_load(&ri, f->store, "r1.x"), LP_EINVAL);

	/* a run whose process is gone */
	starter st = {
		.dir = f->dir, .run_id = "gone", .hold_fd = -1, .close_fd = -1, .ready_fd = -1};
	assert_int_equal(wait_child(fork_child(start_run_child, &st), 15000), 0);
	assert_int_equal(lp_run_info_load(&ri, f->store, "gone"), LP_OK);
	assert_string_equal(ri->state, "stale");
	lp_run_info_free(ri);
}

/* ----------------------------------------------------------- watching */

static void test_watch_existing(void **state)
{
	fx *f = *state;
	lp_pause *a = begin(f->run), *b = begin(f->run);
	lp_run *r2 = start_run(f->store, "r2");
	lp_pause *c = begin(r2); /* another run's, and newer */
	lp_pause_info *info = NULL;
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 5, NULL), LP_OK);
	assert_non_null(info);
	assert_string_equal(info->pause_id, lp_pause_id(b)); /* the latest of r1 */
	lp_pause_info_free(info);
	claim(b, LP_ACTION_ABORT, NULL);
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 5, NULL), LP_OK);
	assert_string_equal(info->pause_id, lp_pause_id(a));
	lp_pause_info_free(info);
	claim(a, LP_ACTION_ABORT, NULL);
	claim(c, LP_ACTION_ABORT, NULL);
	lp_pause_free(a);
	lp_pause_free(b);
	lp_pause_free(c);
	lp_run_free(r2);
}

typedef struct ender {
	lp_run *run;
	int ended;
} ender;

/* The check hook runs while lp_run_watch waits: end the run then. */
static int end_run_once(void *ud)
{
	ender *e = ud;
	if (!e->ended) {
		e->ended = 1;
		assert_int_equal(lp_run_end(e->run, 0), LP_OK);
	}
	return 0;
}

static void test_watch_run_ends_while_waiting(void **state)
{
	fx *f = *state;
	ender e = {.run = f->run};
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.check = end_run_once;
	hooks.ud = &e;
	lp_pause_info *info = NULL;
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 15, &hooks), LP_ERUNENDED);
	assert_true(e.ended);
	assert_null(info);
}

static void test_watch_run_ended(void **state)
{
	fx *f = *state;
	lp_pause_info *info = (lp_pause_info *)1;
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 5, NULL), LP_ERUNENDED);
	assert_null(info);
	assert_non_null(strstr(lp_error_message(), "r1"));
	/* a run whose owner died */
	starter st = {
		.dir = f->dir, .run_id = "gone", .hold_fd = -1, .close_fd = -1, .ready_fd = -1};
	assert_int_equal(wait_child(fork_child(start_run_child, &st), 15000), 0);
	assert_int_equal(lp_run_watch(&info, f->store, "gone", 5, NULL), LP_ERUNENDED);
}

/* The owner of a watched run dies while lp_run_watch waits. */
static void test_watch_owner_dies(void **state)
{
	fx *f = *state;
	int hold[2], ready[2];
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	starter st = {.dir = f->dir,
		      .run_id = "dying",
		      .hold_fd = hold[0],
		      .close_fd = hold[1],
		      .ready_fd = ready[1]};
	pid_t pid = fork_child(start_run_child, &st);
	close(hold[0]);
	close(ready[1]);
	assert_int_equal(await_fd(ready[0], 15000), 0); /* the run exists */
	close(ready[0]);
	lp_run_info *ri = NULL;
	assert_int_equal(lp_run_info_load(&ri, f->store, "dying"), LP_OK);
	assert_string_equal(ri->state, "active");
	lp_run_info_free(ri);
	close(hold[1]); /* the owner exits */
	/* reap it as soon as it exits, so it is not a zombie for long */
	assert_int_equal(wait_child(pid, 15000), 0);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_run_watch(&info, f->store, "dying", 10, NULL), LP_ERUNENDED);
	assert_non_null(strstr(lp_error_message(), "gone"));
}

/* The owner of the run has exited but is not reaped yet (a zombie, as
 * when an agent spawned pytest and has not waited for it): the run is
 * over. (The runtime judged a zombie alive; with a pidfd that stays
 * readable, lp_run_watch then spun at full CPU until its timeout, or forever
 * without one.) */
static void test_watch_owner_zombie(void **state)
{
	fx *f = *state;
	int ready[2];
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	starter st = {.dir = f->dir,
		      .run_id = "zombie",
		      .hold_fd = -1,
		      .close_fd = -1,
		      .ready_fd = ready[1]};
	pid_t pid = fork_child(start_run_child, &st);
	close(ready[1]);
	int started = await_fd(ready[0], 15000);
	close(ready[0]);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT); /* exited, not reaped */
	lp_pause_info *info = NULL;
	int rc = lp_run_watch(&info, f->store, "zombie", 2, NULL);
	lp_run_info *ri = NULL;
	char state_[16] = "";
	if (lp_run_info_load(&ri, f->store, "zombie") == LP_OK)
		snprintf(state_, sizeof state_, "%s", ri->state);
	lp_run_info_free(ri);
	assert_int_equal(wait_child(pid, 15000), 0);
	assert_int_equal(started, 0);
	assert_int_equal(w, 0);
	assert_string_equal(state_, "stale");
	assert_int_equal(rc, LP_ERUNENDED);
	assert_null(info);
}

static void test_watch_timeout_and_unknown(void **state)
{
	fx *f = *state;
	lp_pause_info *info = (lp_pause_info *)1;
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 0.2, NULL), LP_EWAITTIMEOUT);
	assert_null(info);
	assert_int_equal(lp_run_watch(&info, f->store, "nosuchrun", 0.2, NULL), LP_ENOTFOUND);
	assert_int_equal(lp_run_watch(&info, f->store, "../x", 0.2, NULL), LP_EINVAL);
	assert_int_equal(lp_run_watch(&info, f->store, "r1.x", 0.2, NULL), LP_EINVAL);
	/* a pause that ended is not reported */
	lp_pause *p = begin(f->run);
	claim(p, LP_ACTION_RESUME, NULL);
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 0.2, NULL), LP_EWAITTIMEOUT);
	lp_pause_free(p);
}

static int stop_check(void *ud)
{
	(*(int *)ud)++;
	return 1;
}

static void test_watch_check_hook(void **state)
{
	fx *f = *state;
	int calls = 0;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 10;
	hooks.check = stop_check;
	hooks.ud = &calls;
	lp_pause_info *info = NULL;
	assert_int_equal(lp_run_watch(&info, f->store, "r1", 10, &hooks), LP_EINTR);
	assert_int_equal(calls, 1);
	assert_null(info);
}

/* A forked child joins the run and pauses once the watch is waiting. */
typedef struct pauser {
	const char *dir;
	int go_fd, go_close;     /* start when a byte arrives */
	int done_fd, done_close; /* leave when EOF arrives */
	int id_fd;               /* the pause id goes here */
} pauser;

static int pauser_main(void *arg)
{
	pauser *pz = arg;
	close(pz->go_close);
	close(pz->done_close);
	if (await_fd(pz->go_fd, 15000) < 0)
		return CHILD_SETUP_FAILED;
	lp_store *s;
	lp_run *run;
	lp_pause *p;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = "gw0";
	lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
	po.kind = LP_KIND_CHECKPOINT;
	po.task = "look";
	po.timeout = 30;
	if (lp_store_open(&s, pz->dir, 0) || lp_run_join(&run, s, &ro) ||
	    lp_pause_begin(&p, run, &po))
		return CHILD_SETUP_FAILED;
	const char *id = lp_pause_id(p);
	if (write(pz->id_fd, id, strlen(id)) != (ssize_t)strlen(id))
		return CHILD_SETUP_FAILED;
	await_fd(pz->done_fd, 15000);
	lp_resolution res = {0};
	if (lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL) != LP_OK)
		return CHILD_SETUP_FAILED + 1;
	lp_resolution_clear(&res);
	lp_pause_free(p);
	lp_run_free(run);
	lp_store_free(s);
	return 0;
}

typedef struct go_ctx {
	int fd;
	int sent;
} go_ctx;

/* The check hook runs while lp_run_watch waits: tell the child to pause. */
static int send_go(void *ud)
{
	go_ctx *g = ud;
	if (!g->sent && write(g->fd, "g", 1) == 1)
		g->sent = 1;
	return 0;
}

static void test_watch_wakes_for_new_pause(void **state)
{
	fx *f = *state;
	int go[2], done[2], ids[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(done, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ids, O_CLOEXEC), 0);
	pauser pz = {.dir = f->dir,
		     .go_fd = go[0],
		     .go_close = go[1],
		     .done_fd = done[0],
		     .done_close = done[1],
		     .id_fd = ids[1]};
	pid_t pid = fork_child(pauser_main, &pz);
	close(go[0]);
	close(done[0]);
	close(ids[1]);
	go_ctx g = {.fd = go[1]};
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.check = send_go;
	hooks.ud = &g;
	lp_pause_info *info = NULL;
	int rc = lp_run_watch(&info, f->store, "r1", 15, &hooks);
	assert_int_equal(rc, LP_OK);
	assert_true(g.sent); /* the pause came after the watch began waiting */
	char id[LP_ID_MAX + 1] = "";
	ssize_t n = read(ids[0], id, LP_ID_MAX);
	assert_true(n > 0);
	id[n] = '\0';
	assert_string_equal(info->pause_id, id);
	assert_string_equal(info->kind, "checkpoint");
	assert_string_equal(info->task, "look");
	assert_string_equal(info->worker_id, "gw0");
	assert_string_equal(info->state, "pending");
	lp_pause_info_free(info);
	close(done[1]);
	close(go[1]);
	close(ids[0]);
	assert_int_equal(wait_child(pid, 15000), 0);
	assert_pause_status(f->store, id, "aborted");
}

/* A pause directory without the pending/ index (an older layout): lp_store_list
 * and lp_run_watch fall back to walking the runs; a watch of one run must
 * still report only that run's pauses. */
static void test_no_pending_index(void **state)
{
	fx *f = *state;
	lp_run *r2 = start_run(f->store, "r2");
	lp_pause *other = begin(r2);
	char d[256];
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "pending/%s", lp_pause_id(other))), 0);
	assert_int_equal(rmdir(fx_path(f, d, sizeof d, "pending")), 0);
	lp_store *old = NULL;
	assert_int_equal(lp_store_open(&old, f->dir, 0), LP_OK);
	seen s;
	list(old, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], lp_pause_id(other));
	lp_pause_info *info = NULL;
	int rc = lp_run_watch(&info, old, "r1", 0.2, NULL);
	if (rc == LP_OK)
		fprintf(stderr, "watch of r1 reported %s\n", info->pause_id);
	lp_pause_info_free(info);
	claim(other, LP_ACTION_ABORT, NULL);
	lp_pause_free(other);
	lp_run_free(r2);
	lp_store_free(old);
	assert_int_equal(rc, LP_EWAITTIMEOUT);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_list_counts),
		T(test_list_reads_only_index),
		T(test_list_skips_bad_files),
		T(test_list_callback_stops),
		T(test_info_load),
		T(test_info_load_other_dir),
		T(test_run_info),
		T(test_watch_existing),
		T(test_watch_run_ended),
		T(test_watch_run_ends_while_waiting),
		T(test_watch_owner_dies),
		T(test_watch_owner_zombie),
		T(test_watch_timeout_and_unknown),
		T(test_watch_check_hook),
		T(test_watch_wakes_for_new_pause),
		T(test_no_pending_index),
	};
	return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
