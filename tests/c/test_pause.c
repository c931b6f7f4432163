/*
 * test_pause.c - pause.c and command.c: the life of a pause, with this
 * process as the paused one and forked children as resumers. Checkpoints
 * resumed true/false/none with a reason; failures with a failure reason;
 * timeouts (outcome timed_out, a command file by "timeout"); refusals
 * (LP_EKIND with nothing written, LP_ERESUMED, LP_ETIMEDOUT, LP_EABORTED,
 * LP_ESTALE, LP_ENOTTAKEN); garbage command files moved aside while the
 * pause keeps waiting; the check hook (LP_EINTR, pause still pending) and
 * lp_pause_claim; lp_pause_free of a pending pause.
 */
#include "helpers.h"

#include <math.h>
#include <sys/inotify.h>

/* ------------------------------------------------------------ helpers */

typedef struct resumer {
	const char *dir;
	const char *ref;
	lp_resume_options o;
	int go_fd; /* -1: start at once */
} resumer;

static int resume_child(void *arg)
{
	resumer *r = arg;
	if (r->go_fd >= 0 && await_fd(r->go_fd, 10000) < 0)
		return CHILD_SETUP_FAILED;
	lp_store *s;
	if (lp_store_open(&s, r->dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	int rc = lp_pause_resume(NULL, s, r->ref, &r->o);
	if (rc != LP_OK)
		fprintf(stderr, "[resumer] %s: %s\n", lp_error_name(rc), lp_error_message());
	lp_store_free(s);
	return -rc;
}

/* Pause p waits while a forked child resumes it with o: the child's rc. */
static int wait_resumed_by_child(fx *f, lp_pause *p, const lp_resume_options *o, lp_resolution *res)
{
	resumer r = {.dir = f->dir, .ref = lp_pause_id(p), .o = *o, .go_fd = -1};
	pid_t pid = fork_child(resume_child, &r);
	int rc = lp_pause_wait(res, p, NULL);
	if (rc != LP_OK)
		fprintf(stderr, "lp_pause_wait: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	return child_rc(wait_child(pid, 15000));
}

static char *events_of(fx *f)
{
	char p[256];
	char *t = slurp(fx_path(f, p, sizeof p, "runs/%s/events.jsonl", lp_run_id(f->run)));
	assert_non_null(t);
	return t;
}

static int n_commands(fx *f, const char *prefix)
{
	char p[256];
	return count_entries(fx_path(f, p, sizeof p, "runs/%s/commands", lp_run_id(f->run)),
			     prefix);
}

static char *command_path(fx *f, lp_pause *p, char *buf, size_t size)
{
	return fx_path(f, buf, size, "runs/%s/commands/%s.resume.json", lp_run_id(f->run),
		       lp_pause_id(p));
}

/* Whether id is in pending/ once the run's ended pauses have settled
 * (settle.c unindexes them in its own thread). */
static int indexed_pending(fx *f, const char *id)
{
	char p[256];
	assert_int_equal(lpi_settle_drain(f->run), LP_OK);
	return exists(fx_path(f, p, sizeof p, "pending/%s", id));
}

static lp_resume_options no_wait(void)
{
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.take_timeout = -1; /* the paused process is this one: do not wait */
	return o;
}

/* End a pause that a test left pending, then free it. */
static void end_and_free(lp_pause *p)
{
	lp_resolution res = {0};
	if (lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL) == LP_OK)
		lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* --------------------------------------------------------------- begin */

static void test_begin_writes_pending(void **state)
{
	fx *f = *state;
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = LP_KIND_CHECKPOINT;
	o.nodeid = "t.py::t";
	o.task = "approve";
	o.timeout = 30;
	o.extra_json = "{\"custom\":\"kept\",\"status\":\"resumed\"}";
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_OK);
	const char *id = lp_pause_id(p);
	char run[LP_ID_MAX + 1];
	assert_int_equal(lpi_pause_id_run(id, run), LP_OK);
	assert_string_equal(run, "r1");

	char want[256];
	fx_path(f, want, sizeof want, "runs/r1/pauses/%s.json", id);
	assert_string_equal(lp_pause_path(p), want);
	struct stat st;
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(indexed_pending(f, id));

	const char *hint = lp_pause_resume_hint(p);
	assert_non_null(strstr(hint, id));
	assert_non_null(strstr(hint, f->dir)); /* not the default directory */
	assert_non_null(strstr(hint, "--result"));

	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, id), LP_OK);
	assert_string_equal(info->status, "pending"); /* extra_json cannot override it */
	assert_string_equal(info->state, "pending");
	assert_string_equal(info->kind, "checkpoint");
	assert_string_equal(info->nodeid, "t.py::t");
	assert_string_equal(info->task, "approve");
	assert_string_equal(info->original_failure, ""); /* 0.1.1's value for checkpoints */
	assert_null(info->worker_id);
	assert_int_equal(info->pid, (long)getpid());
	assert_string_equal(info->hostname, lpi_hostname());
	assert_true(info->timeout == 30);
	assert_true(info->created_at > 0);
	assert_string_equal(info->path, want);
	assert_string_equal(info->pause_dir, f->dir);
	assert_non_null(info->resume_command);
	assert_string_equal(info->resume_command, hint);
	assert_non_null(strstr(info->json, "\"custom\":\"kept\""));
	assert_non_null(strstr(info->json, "\"state\":\"pending\""));
	lp_pause_info_free(info);

	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"run_started\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_created\""), 1);
	assert_non_null(strstr(ev, id));
	free(ev);
	end_and_free(p);
}

static void test_begin_bad_options(void **state)
{
	fx *f = *state;
	lp_pause *p = (lp_pause *)1;
	assert_int_equal(lp_pause_begin(&p, f->run, NULL), LP_EINVAL);
	assert_null(p);
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.version = 99;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o = (lp_pause_options)LP_PAUSE_OPTIONS_INIT;
	o.kind = (lp_kind)7;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o = (lp_pause_options)LP_PAUSE_OPTIONS_INIT;
	o.timeout = NAN;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o.timeout = -1;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o.timeout = 1e10;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o.timeout = -INFINITY;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	o = (lp_pause_options)LP_PAUSE_OPTIONS_INIT;
	o.extra_json = "[1]";
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	assert_null(p);
	char d[256];
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "runs/r1/pauses"), ""), 0);
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "pending"), ""), 0);
}

/* original_failure is cut at LP_CAP_FAILURE_TEXT bytes; a cut inside a
 * multi-byte UTF-8 character must not make the pause file unwritable. */
static void test_begin_long_failure_text(void **state)
{
	fx *f = *state;
	size_t n = LP_CAP_FAILURE_TEXT + 4096;
	char *text = malloc(n + 1);
	text[0] = 'E';
	for (size_t k = 1; k + 1 < n; k += 2) {
		text[k] = (char)0xc3; /* U+00E9 */
		text[k + 1] = (char)0xa9;
	}
	text[n - 1] = '.';
	text[n] = '\0';
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.original_failure = text;
	o.timeout = 30;
	lp_pause *p = NULL;
	int rc = lp_pause_begin(&p, f->run, &o);
	free(text);
	if (rc != LP_OK)
		fprintf(stderr, "lp_pause_begin: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_non_null(info->original_failure);
	assert_true(strlen(info->original_failure) <= LP_CAP_FAILURE_TEXT + 64);
	assert_non_null(strstr(info->original_failure, "cut by pytest-live-pause"));
	lp_pause_info_free(info);
	end_and_free(p);
}

/* ----------------------------------------------------- resumed by a child */

static void test_checkpoint_true(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	o.reason = "looks right";
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_int_equal(res.result, LP_RESULT_TRUE);
	assert_string_equal(res.reason, "looks right");
	assert_string_equal(res.by, "cli");
	assert_null(res.failure_reason);
	assert_non_null(res.command_json);
	assert_non_null(strstr(res.command_json, "\"result\":true"));

	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_string_equal(info->status, "resumed");
	assert_string_equal(info->state, "resumed");
	assert_non_null(strstr(info->json, "\"result\":true"));
	assert_non_null(strstr(info->json, "\"reason\":\"looks right\""));
	assert_non_null(strstr(info->json, "\"resolved_by\":\"cli\""));
	lp_pause_info_free(info);
	assert_false(indexed_pending(f, lp_pause_id(p)));

	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_resumed\""), 1);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_finished\""), 1); /* 0.1.1's */
	assert_int_equal(count_substr(ev, "\"outcome\":\"resumed\""), 2);
	free(ev);

	/* ended: no second wait or claim */
	lp_resolution again = {0};
	assert_int_equal(lp_pause_wait(&again, p, NULL), LP_EINVAL);
	assert_int_equal(lp_pause_claim(&again, p, LP_ACTION_ABORT, "abort", NULL), LP_EINVAL);
	lp_resolution_clear(&res);
	char id[LP_ID_MAX + 1];
	snprintf(id, sizeof id, "%s", lp_pause_id(p));
	lp_pause_free(p);
	assert_pause_status(f->store, id, "resumed"); /* free leaves it as it was */
}

static void test_checkpoint_false(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_FALSE;
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_int_equal(res.result, LP_RESULT_FALSE);
	assert_null(res.reason);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_non_null(strstr(info->json, "\"result\":false"));
	lp_pause_info_free(info);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static void test_checkpoint_none(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_NONE;
	o.reason = "cannot tell";
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_int_equal(res.result, LP_RESULT_NONE);
	assert_string_equal(res.reason, "cannot tell");
	lp_resolution_clear(&res);
	lp_pause_free(p);

	/* no result given at all: none */
	p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	o = (lp_resume_options)LP_RESUME_OPTIONS_INIT;
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_int_equal(res.result, LP_RESULT_NONE);
	assert_null(res.reason);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static void test_failure_reason(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 10);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.failure_reason = "the network was down";
	o.by = "agent";
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(res.failure_reason, "the network was down");
	assert_string_equal(res.by, "agent");
	assert_null(res.reason);
	assert_int_equal(res.result, LP_RESULT_NONE);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_string_equal(info->status, "resumed");
	assert_non_null(strstr(info->json, "\"failure_reason\":\"the network was down\""));
	lp_pause_info_free(info);
	lp_resolution_clear(&res);
	lp_pause_free(p);

	/* a failure resumed without a reason */
	p = fx_pause(f, LP_KIND_FAILURE, 10);
	o = (lp_resume_options)LP_RESUME_OPTIONS_INIT;
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_null(res.failure_reason);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static void test_resume_by_path(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 10);
	resumer r = {.dir = f->dir, .ref = lp_pause_path(p), .go_fd = -1};
	r.o = (lp_resume_options)LP_RESUME_OPTIONS_INIT;
	r.o.failure_reason = "by path";
	pid_t pid = fork_child(resume_child, &r);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(child_rc(wait_child(pid, 15000)), LP_OK);
	assert_string_equal(res.failure_reason, "by path");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* lp_pause_resume returns info_out with the pause as last read */
static void test_resume_info_out(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_resume_options o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_resume(&info, f->store, lp_pause_id(p), &o), LP_OK);
	assert_non_null(info);
	assert_string_equal(info->pause_id, lp_pause_id(p));
	assert_string_equal(info->kind, "checkpoint");
	lp_pause_info_free(info);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.result, LP_RESULT_TRUE);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* ------------------------------------------------------------- timeout */

static void test_timeout(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 0.1);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	assert_string_equal(res.by, "timeout");
	assert_int_equal(res.result, LP_RESULT_NONE);
	assert_pause_status(f->store, lp_pause_id(p), "timed_out");
	assert_false(indexed_pending(f, lp_pause_id(p)));

	/* the claim is a command file, by "timeout" */
	char c[256];
	char *cmd = slurp(command_path(f, p, c, sizeof c));
	assert_non_null(cmd);
	assert_non_null(strstr(cmd, "\"by\":\"timeout\""));
	assert_string_equal(cmd, res.command_json);
	free(cmd);
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_timed_out\""), 1);
	free(ev);

	/* too late */
	lp_resume_options o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_ETIMEDOUT);
	assert_non_null(strstr(lp_error_message(), "timed out"));
	o.take_timeout = 0;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_ETIMEDOUT);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* ----------------------------------------------------------- refusals */

static void test_resume_wrong_kind(void **state)
{
	fx *f = *state;
	lp_pause *cp = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_pause *fp = fx_pause(f, LP_KIND_FAILURE, 10);
	lp_resume_options o = no_wait();
	o.failure_reason = "x";
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(cp), &o), LP_EKIND);
	assert_non_null(strstr(lp_error_message(), "checkpoint"));
	o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(fp), &o), LP_EKIND);
	o = no_wait();
	o.reason = "why";
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(fp), &o), LP_EKIND);
	/* nothing was written */
	assert_int_equal(n_commands(f, ""), 0);
	assert_pause_status(f->store, lp_pause_id(cp), "pending");
	assert_pause_status(f->store, lp_pause_id(fp), "pending");

	/* options that fit no kind, or of an unknown version */
	o = no_wait();
	o.failure_reason = "x";
	o.has_result = 1;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(fp), &o), LP_EINVAL);
	o = no_wait();
	o.has_result = 1;
	o.result = (lp_result)5;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(cp), &o), LP_EINVAL);
	o = no_wait();
	o.version = 0;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(cp), &o), LP_EINVAL);
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(cp), NULL), LP_EINVAL);
	assert_int_equal(n_commands(f, ""), 0);
	end_and_free(cp);
	end_and_free(fp);
}

static void test_resume_unknown(void **state)
{
	fx *f = *state;
	lp_resume_options o = no_wait();
	assert_int_equal(lp_pause_resume(NULL, f->store, "r1.deadbeef", &o), LP_ENOTFOUND);
	assert_int_equal(lp_pause_resume(NULL, f->store, "nosuchrun.deadbeef", &o), LP_ENOTFOUND);
	assert_int_equal(lp_pause_resume(NULL, f->store, "nodot", &o), LP_ENOTFOUND);
	assert_int_equal(lp_pause_resume(NULL, f->store, "", &o), LP_EINVAL);
	assert_int_equal(lp_pause_resume(NULL, f->store, NULL, &o), LP_EINVAL);
	assert_int_equal(lp_pause_resume(NULL, f->store, "..", &o), LP_EINVAL);
	assert_int_equal(lp_pause_resume(NULL, f->store, "/etc/passwd", &o), LP_EINVAL);
	/* an id of ours must be in the directory of its run */
	assert_int_equal(
		lp_pause_resume(NULL, f->store, "../../runs/r2/pauses/r1.deadbeef.json", &o),
		LP_EINVAL);
	/* an id of another shape (0.1.1's) is looked for where the path says */
	assert_int_equal(lp_pause_resume(NULL, f->store, "../../runs/r1/pauses/x.json", &o),
			 LP_ENOTFOUND);
}

static void test_resume_twice(void **state)
{
	fx *f = *state;
	/* a child resumes; once the pause has taken it, a second resume is
	 * refused and says so */
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	lp_resolution_clear(&res);
	lp_resume_options o2 = no_wait();
	o2.has_result = 1;
	o2.result = LP_RESULT_FALSE;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o2), LP_ERESUMED);
	assert_non_null(strstr(lp_error_message(), "already resumed"));
	resumer r = {.dir = f->dir, .ref = lp_pause_id(p), .o = o2, .go_fd = -1};
	assert_int_equal(child_rc(wait_child(fork_child(resume_child, &r), 15000)), LP_ERESUMED);
	lp_pause_free(p);

	/* two resumes before the pause looks: the first wins, the second is
	 * told it lost, and the pause takes the first verdict */
	p = fx_pause(f, LP_KIND_CHECKPOINT, 10);
	o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	o.reason = "first";
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_OK);
	o2.reason = "second";
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o2), LP_ERESUMED);
	assert_non_null(strstr(lp_error_message(), "already resumed"));
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.result, LP_RESULT_TRUE);
	assert_string_equal(res.reason, "first");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static int write_byte_child(void *arg)
{
	/* a resumer that waits too little for the take */
	resumer *r = arg;
	return resume_child(r);
}

static void test_not_taken(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 10);
	resumer r = {.dir = f->dir, .ref = lp_pause_id(p), .go_fd = -1};
	r.o = (lp_resume_options)LP_RESUME_OPTIONS_INIT;
	r.o.failure_reason = "late";
	r.o.take_timeout = 0.2;
	/* this process does not look until the child has given up */
	assert_int_equal(child_rc(wait_child(fork_child(write_byte_child, &r), 15000)),
			 LP_ENOTTAKEN);
	/* the command stands: taken at the next look */
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_string_equal(res.failure_reason, "late");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* ------------------------------------------------------- bad commands */

typedef struct chain {
	fx *f;
	char cmd[256];
	int n;
	char msgs[16][512];
} chain;

enum { N_GARBAGE = 7 };

/* The k-th bad command (k >= 1; 0 is written before the wait), or the
 * valid one after the last. Each is written by hand, as a careless
 * writer would, once the previous one was moved aside. */
static void write_command(chain *c, int k)
{
	char big[100 * 1024];
	switch (k) {
	case 1: /* a wrong type in a typed command (a seed-format one would
		 * read it as null, as 0.1.1 did) */
		assert_int_equal(
			write_text(c->cmd, "{\"action\":\"resume\",\"failure_reason\": 5}", 39), 0);
		backdate(c->cmd, 10);
		break;
	case 2: /* a JSON array: parses, but not an object */
		assert_int_equal(write_text(c->cmd, "[\"failure_reason\"]", 18), 0);
		backdate(c->cmd, 10);
		break;
	case 3: /* 100 KB, over the cap */
		memset(big, 'x', sizeof big);
		memcpy(big, "{\"failure_reason\":\"", 19);
		memcpy(big + sizeof big - 2, "\"}", 2);
		assert_int_equal(write_text(c->cmd, big, sizeof big), 0);
		break;
	case 4: /* a symlink */ assert_int_equal(symlink("/etc/hostname", c->cmd), 0); break;
	case 5: /* a FIFO */ assert_int_equal(mkfifo(c->cmd, 0600), 0); break;
	case 6: /* an unknown action (an unknown field would be ignored) */
		assert_int_equal(
			write_text(c->cmd, "{\"failure_reason\":\"x\",\"action\":\"rm\"}", 36), 0);
		backdate(c->cmd, 10);
		break;
	default:
		assert_int_equal(
			write_text(c->cmd, "{\"failure_reason\":\"finally\",\"by\":\"hand\"}", 40),
			0);
		break;
	}
}

static void on_rejected(void *ud, const char *message)
{
	chain *c = ud;
	assert_true(c->n < 16);
	snprintf(c->msgs[c->n], sizeof c->msgs[0], "%s", message);
	c->n++;
	assert_false(exists(c->cmd)); /* moved aside before we are told */
	write_command(c, c->n);
}

static void test_garbage_commands(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	chain c = {.f = f};
	command_path(f, p, c.cmd, sizeof c.cmd);
	/* not JSON, and fresh: the pause gives a writer a moment to finish,
	 * then moves it aside */
	assert_int_equal(write_text(c.cmd, "this is not json", 16), 0);
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.on_rejected = on_rejected;
	hooks.ud = &c;
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, &hooks), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(res.by, "hand");
	assert_string_equal(res.failure_reason, "finally");
	assert_int_equal(c.n, N_GARBAGE);
	for (int k = 0; k < c.n; k++)
		assert_true(strlen(c.msgs[k]) > 0);
	assert_non_null(strstr(c.msgs[0], "not valid JSON"));
	assert_non_null(strstr(c.msgs[1], "failure_reason"));
	assert_non_null(strstr(c.msgs[2], "not a JSON object"));
	assert_non_null(strstr(c.msgs[3], "limit"));
	assert_non_null(strstr(c.msgs[6], "rm"));

	char prefix[LP_ID_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s.resume.json.rejected.", lp_pause_id(p));
	assert_int_equal(n_commands(f, prefix), N_GARBAGE);
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"command_rejected\""), N_GARBAGE);
	free(ev);
	assert_pause_status(f->store, lp_pause_id(p), "resumed");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* A resumer meeting a garbage file waits for it to be moved aside, then
 * claims the pause. */
static void test_resume_past_garbage(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	char cmd[256];
	command_path(f, p, cmd, sizeof cmd);
	assert_int_equal(write_text(cmd, "{\"action\":\"bogus\"}", 18), 0);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.failure_reason = "after garbage";
	lp_resolution res = {0};
	assert_int_equal(wait_resumed_by_child(f, p, &o, &res), LP_OK);
	assert_string_equal(res.failure_reason, "after garbage");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

/* -------------------------------------------------- check hook, claim */

static int stop_now(void *ud)
{
	(*(int *)ud)++;
	return 1;
}

static void test_check_hook_then_abort(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	int calls = 0;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 10;
	hooks.check = stop_now;
	hooks.ud = &calls;
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, &hooks), LP_EINTR);
	assert_int_equal(calls, 1);
	assert_pause_status(f->store, lp_pause_id(p), "pending");
	assert_true(indexed_pending(f, lp_pause_id(p)));
	assert_int_equal(n_commands(f, ""), 0);

	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
	assert_string_equal(res.by, "abort");
	assert_pause_status(f->store, lp_pause_id(p), "aborted");
	assert_false(indexed_pending(f, lp_pause_id(p)));
	char *ev = events_of(f);
	assert_int_equal(count_substr(ev, "\"event\":\"pause_aborted\""), 1);
	free(ev);
	lp_resolution_clear(&res);

	lp_resume_options o = no_wait();
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_EABORTED);
	lp_pause_free(p);
}

static void test_wake_fd(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	int fds[2];
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(write(fds[1], "xyz", 3), 3);
	int calls = 0;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.wake_fd = fds[0];
	hooks.slice_ms = 60000; /* only the wake-up can call check in time */
	hooks.check = stop_now;
	hooks.ud = &calls;
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, &hooks), LP_EINTR);
	assert_int_equal(calls, 1);
	char buf[8];
	assert_int_equal(read(fds[0], buf, sizeof buf), -1); /* drained */
	assert_int_equal(errno, EAGAIN);
	close(fds[0]);
	close(fds[1]);
	assert_pause_status(f->store, lp_pause_id(p), "pending");
	end_and_free(p);
}

static void test_claim_takes_earlier_command(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	lp_resume_options o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	o.reason = "won";
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_OK);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(res.by, "cli");
	assert_int_equal(res.result, LP_RESULT_TRUE);
	assert_string_equal(res.reason, "won");
	assert_pause_status(f->store, lp_pause_id(p), "resumed");
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static void test_claim_kinds(void **state)
{
	fx *f = *state;
	lp_resolution res = {0};
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_TIMEOUT, "timeout", NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	assert_pause_status(f->store, lp_pause_id(p), "timed_out");
	lp_resolution_clear(&res);
	lp_pause_free(p);

	p = fx_pause(f, LP_KIND_FAILURE, 20);
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, "plugin",
					"{\"failure_reason\":\"mocked\"}"),
			 LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(res.by, "plugin");
	assert_string_equal(res.failure_reason, "mocked");
	lp_resolution_clear(&res);
	lp_pause_free(p);

	p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	assert_int_equal(
		lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", "{\"signal\":\"SIGTERM\"}"),
		LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
	lp_resolution_clear(&res);
	lp_pause_free(p);

	p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, NULL, NULL), LP_EINVAL);
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", "[1]"), LP_EINVAL);
	assert_int_equal(lp_pause_wait(&res, NULL, NULL), LP_EINVAL);
	end_and_free(p);
	lp_pause_free(NULL);
	lp_resolution_clear(NULL);
}

/* A claim whose fields would make an invalid command is refused before
 * anything is written (like lp_pause_resume's LP_EKIND), and the pause can still
 * be claimed. */
static void test_claim_bad_fields(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	lp_resolution res = {0};
	int rc1 = lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", "{\"bogus\":1}");
	char msg[1024];
	snprintf(msg, sizeof msg, "%s", lp_error_message());
	int rc2 = lp_pause_claim(&res, p, LP_ACTION_RESUME, "cli", "{\"result\":true}");
	char *status = pause_status(f->store, lp_pause_id(p));
	int files = n_commands(f, "");
	char *ev = events_of(f);
	int rejected = count_substr(ev, "\"event\":\"command_rejected\"");
	free(ev);
	int rc3 = lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL);
	lp_outcome oc = res.outcome;
	lp_resolution_clear(&res);
	lp_pause_free(p);
	assert_int_not_equal(rc1, LP_OK);
	assert_int_not_equal(rc2, LP_OK);
	assert_string_equal(status, "pending");
	free(status);
	assert_int_equal(rc3, LP_OK);
	assert_int_equal(oc, LP_OUTCOME_ABORTED);
	if (files != 0 || rejected != 0)
		fprintf(stderr, "bad claims left %d files and %d command_rejected events\n", files,
			rejected);
	assert_int_equal(rejected, 0);
	assert_int_equal(files, 0);
	/* the message says what was wrong, once and legibly (the claim
	 * re-formatted lp_error_message() into its own buffer, garbling it) */
	assert_int_equal(rc1, LP_EINVAL);
	if (!strstr(msg, "'bogus'") || count_substr(msg, "cannot claim") != 1)
		fprintf(stderr, "claim message: %s\n", msg);
	assert_non_null(strstr(msg, "'bogus'"));
	assert_int_equal(count_substr(msg, "cannot claim"), 1);
}

/* lp_pause_free of a pending pause ends it as aborted: never left pending,
 * and no command of its own refused on the way. */
static void test_free_pending_aborts(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	char id[LP_ID_MAX + 1];
	snprintf(id, sizeof id, "%s", lp_pause_id(p));
	lp_pause_free(p);
	assert_pause_status(f->store, id, "aborted");
	assert_false(indexed_pending(f, id));
	char prefix[LP_ID_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s.resume.json.rejected.", id);
	assert_int_equal(n_commands(f, prefix), 0);
	lp_resume_options o = no_wait();
	assert_int_equal(lp_pause_resume(NULL, f->store, id, &o), LP_EABORTED);
}

/* --------------------------------------------------------------- stale */

typedef struct orphan {
	const char *dir;
	int out_fd; /* the pause id is written here */
	int in_fd;  /* > 0: it lingers until EOF here first */
	int in_w;   /* ... and closes this, the other end, in the child */
} orphan;

/* Join run r1, pause, report the pause id, (with in_fd, wait for EOF)
 * and die without resolving. */
static int orphan_child(void *arg)
{
	orphan *o = arg;
	if (o->in_fd > 0)
		close(o->in_w);
	/* static: still reachable at _exit (quiet under valgrind) */
	static lp_store *s;
	static lp_run *run;
	static lp_pause *p;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = "gw1";
	lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
	po.nodeid = "t.py::orphan";
	if (lp_store_open(&s, o->dir, 0) || lp_run_join(&run, s, &ro) ||
	    lp_pause_begin(&p, run, &po))
		return CHILD_SETUP_FAILED;
	const char *id = lp_pause_id(p);
	if (write(o->out_fd, id, strlen(id)) != (ssize_t)strlen(id))
		return CHILD_SETUP_FAILED;
	if (o->in_fd > 0)
		await_fd(o->in_fd, 15000);
	return 0; /* _exit: the pause stays pending, its process gone */
}

typedef struct lister {
	const char *id;
	int seen;
	char state[32];
	char status[32];
} lister;

static int find_cb(const lp_pause_info *info, void *ud)
{
	lister *l = ud;
	if (strcmp(info->pause_id, l->id) == 0) {
		l->seen++;
		snprintf(l->state, sizeof l->state, "%s", info->state);
		snprintf(l->status, sizeof l->status, "%s", info->status);
	}
	return 0;
}

static void assert_stale(fx *f, const char *id)
{
	lp_resume_options o = no_wait();
	o.failure_reason = "too late";
	assert_int_equal(lp_pause_resume(NULL, f->store, id, &o), LP_ESTALE);
	assert_non_null(strstr(lp_error_message(), "stale"));
	o.take_timeout = 0;
	assert_int_equal(lp_pause_resume(NULL, f->store, id, &o), LP_ESTALE);
	char c[256];
	assert_false(exists(fx_path(f, c, sizeof c, "runs/r1/commands/%s.resume.json", id)));

	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, id), LP_OK);
	assert_string_equal(info->status, "pending");
	assert_string_equal(info->state, "stale");
	assert_non_null(strstr(info->json, "\"state\":\"stale\""));
	lp_pause_info_free(info);

	lister l = {.id = id};
	assert_int_equal(lp_store_list(f->store, 0, find_cb, &l), 0);
	assert_int_equal(l.seen, 0);
	assert_int_equal(lp_store_list(f->store, LP_LIST_ALL, find_cb, &l), 0);
	assert_int_equal(l.seen, 1);
	assert_string_equal(l.state, "stale");
	assert_string_equal(l.status, "pending");
}

static void test_stale_owner_gone(void **state)
{
	fx *f = *state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	orphan o = {.dir = f->dir, .out_fd = fds[1]};
	pid_t pid = fork_child(orphan_child, &o);
	close(fds[1]);
	assert_int_equal(wait_child(pid, 15000), 0); /* reaped: not even a zombie */
	char id[LP_ID_MAX + 1] = "";
	ssize_t n = read(fds[0], id, LP_ID_MAX);
	close(fds[0]);
	assert_true(n > 0);
	id[n] = '\0';
	assert_stale(f, id);
}

/* The paused process has exited but is not reaped yet (a zombie): the
 * pause is stale, and lp_pause_resume says so rather than writing a command and
 * waiting for a take that cannot come. */
static void test_stale_owner_zombie(void **state)
{
	fx *f = *state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	orphan o = {.dir = f->dir, .out_fd = fds[1]};
	pid_t pid = fork_child(orphan_child, &o);
	close(fds[1]);
	char id[LP_ID_MAX + 1] = "";
	ssize_t n = read(fds[0], id, LP_ID_MAX);
	close(fds[0]);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT); /* exited, not reaped */
	lp_resume_options o2 = LP_RESUME_OPTIONS_INIT;
	o2.failure_reason = "too late";
	o2.take_timeout = 1;
	int rc = n > 0 ? (id[n] = '\0', lp_pause_resume(NULL, f->store, id, &o2)) : LP_ERROR;
	char c[256];
	int written =
		n > 0 && exists(fx_path(f, c, sizeof c, "runs/r1/commands/%s.resume.json", id));
	assert_int_equal(wait_child(pid, 15000), 0);
	assert_true(n > 0);
	assert_int_equal(w, 0);
	if (rc != LP_ESTALE)
		fprintf(stderr, "lp_pause_resume: %s: %s\n", lp_error_name(rc), lp_error_message());
	assert_int_equal(rc, LP_ESTALE);
	assert_false(written);
}

/* The pid of the pause is alive (ours) but was recorded with another
 * start time: the process that paused is gone and the pid reused. */
static void test_stale_pid_reused(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
	char *text = slurp(lp_pause_path(p));
	assert_non_null(text);
	char *st = strstr(text, "\"pid_start_time\":\"");
	assert_non_null(st);
	st += strlen("\"pid_start_time\":\"");
	assert_true(*st >= '1' && *st <= '9');
	*st = *st == '1' ? '2' : '1';
	assert_int_equal(write_text(lp_pause_path(p), text, strlen(text)), 0);
	free(text);
	char id[LP_ID_MAX + 1];
	snprintf(id, sizeof id, "%s", lp_pause_id(p));
	assert_stale(f, id);
	end_and_free(p);
}

/* ------------------------------------------- a pause made ready to resume */

/* Made ready, then looked at again by each resume: resumed as by
 * lp_pause_resume (the heartbeat's mtime changes nothing), and once ended
 * (its file replaced) refused as ended, however many times. */
static void test_prepared_resume(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	lp_prepared *pp = NULL;
	assert_int_equal(lp_pause_prepare(&pp, f->store, lp_pause_id(p)), LP_OK);
	assert_string_equal(lp_prepared_pause_id(pp), lp_pause_id(p));
	assert_string_equal(lp_prepared_run_id(pp), "r1");
	char c[256];
	assert_int_equal(utimensat(AT_FDCWD, lp_pause_path(p), NULL, 0), 0); /* a heartbeat */
	lp_resume_options o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_FALSE;
	o.reason = "made ready";
	assert_int_equal(lp_pause_resume_prepared(NULL, pp, &o), LP_OK);
	assert_true(exists(command_path(f, p, c, sizeof c)));
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.result, LP_RESULT_FALSE);
	assert_string_equal(res.reason, "made ready");
	lp_resolution_clear(&res);
	lp_pause_info *info = NULL;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(lp_pause_resume_prepared(&info, pp, &o), LP_ERESUMED);
		assert_non_null(info);
		assert_string_equal(info->status, "resumed");
		lp_pause_info_free(info);
	}
	/* the options are checked as lp_pause_resume checks them */
	lp_resume_options bad = no_wait();
	bad.failure_reason = "not a failure";
	bad.has_result = 1;
	assert_int_equal(lp_pause_resume_prepared(NULL, pp, &bad), LP_EINVAL);
	assert_int_equal(lp_pause_resume_prepared(NULL, NULL, &o), LP_EINVAL);
	lp_prepared_free(pp);
	lp_prepared_free(NULL);
	lp_pause_free(p);
	assert_int_equal(lp_pause_prepare(&pp, f->store, "r1.00000000"), LP_ENOTFOUND);
	assert_null(pp);
}

/* Replace pause p's file, by a rename as every writer does, with its
 * text where `from` is replaced by `to` (the same length or not). */
static void replace_pause_file(lp_pause *p, const char *from, const char *to)
{
	char *text = slurp(lp_pause_path(p));
	assert_non_null(text);
	char *at = strstr(text, from);
	assert_non_null(at);
	size_t n = strlen(text) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);
	assert_non_null(out);
	snprintf(out, n + 1, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.tmp", lp_pause_path(p));
	assert_int_equal(write_text(tmp, out, n), 0);
	assert_int_equal(rename(tmp, lp_pause_path(p)), 0);
	free(text);
	free(out);
}

/* The pause file made ready is replaced (ended without a claim, as when
 * commands/ cannot be written; or its kind changed): the next resume reads
 * the new file and judges that, writing nothing. */
static void test_prepared_sees_a_new_pause_file(void **state)
{
	fx *f = *state;
	static const struct {
		const char *from, *to;
		int rc;
	} cases[] = {
		{"\"status\":\"pending\"", "\"status\":\"timed_out\"", LP_ETIMEDOUT},
		{"\"status\":\"pending\"", "\"status\":\"aborted\"", LP_EABORTED},
		{"\"kind\":\"checkpoint\"", "\"kind\":\"question\"", LP_EKIND},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
		lp_prepared *pp = NULL;
		assert_int_equal(lp_pause_prepare(&pp, f->store, lp_pause_id(p)), LP_OK);
		replace_pause_file(p, cases[k].from, cases[k].to);
		lp_resume_options o = no_wait();
		o.has_result = 1;
		o.result = LP_RESULT_TRUE;
		int rc = lp_pause_resume_prepared(NULL, pp, &o);
		if (rc != cases[k].rc)
			fprintf(stderr, "case %zu: %s: %s\n", k, lp_error_name(rc),
				lp_error_message());
		assert_int_equal(rc, cases[k].rc);
		char c[256];
		assert_false(exists(command_path(f, p, c, sizeof c)));
		lp_prepared_free(pp);
		end_and_free(p);
	}
}

/* Made ready while its process lived; the process then dies (reaped, or
 * a zombie): the resume says stale and writes nothing, judged by the hold
 * on the process. */
static void test_prepared_sees_its_process_die(void **state)
{
	fx *f = *state;
	for (int zombie = 0; zombie < 2; zombie++) {
		int out[2], in[2];
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
		orphan l = {.dir = f->dir, .out_fd = out[1], .in_fd = in[0], .in_w = in[1]};
		pid_t pid = fork_child(orphan_child, &l);
		close(out[1]);
		close(in[0]);
		char id[LP_ID_MAX + 1] = "";
		ssize_t n = read(out[0], id, LP_ID_MAX);
		close(out[0]);
		assert_true(n > 0);
		id[n] = '\0';
		lp_prepared *pp = NULL;
		assert_int_equal(lp_pause_prepare(&pp, f->store, id), LP_OK);
		close(in[1]); /* it exits */
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (zombie)
			assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
		else
			assert_int_equal(wait_child(pid, 15000), 0);
		lp_resume_options o = LP_RESUME_OPTIONS_INIT;
		o.failure_reason = "too late";
		o.take_timeout = 1;
		int rc = lp_pause_resume_prepared(NULL, pp, &o);
		char c[256];
		int written =
			exists(fx_path(f, c, sizeof c, "runs/r1/commands/%s.resume.json", id));
		if (zombie)
			assert_int_equal(wait_child(pid, 15000), 0);
		lp_prepared_free(pp);
		if (rc != LP_ESTALE)
			fprintf(stderr, "resume: %s: %s\n", lp_error_name(rc), lp_error_message());
		assert_int_equal(rc, LP_ESTALE);
		assert_false(written);
	}
}

/* ------------------------------------------------ settle.c (issue 11.8) */

static void claim_resume(lp_pause *p)
{
	lp_resolution res = {0};
	assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, "cli", "{\"result\":true}"),
			 LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	lp_resolution_clear(&res);
}

/* The outcome is in the pause file when the claim returns (before the
 * settle thread ran); lp_run_end settles every ended pause (catalogued,
 * out of pending/) before the run's "E" line, whatever their number. */
static void test_settle_before_run_end(void **state)
{
	fx *f = *state;
	enum { N = 5 };
	lp_pause *ps[N];
	char ids[N][LP_ID_MAX + 1];
	for (int i = 0; i < N; i++) {
		ps[i] = fx_pause(f, LP_KIND_CHECKPOINT, 30);
		snprintf(ids[i], sizeof ids[i], "%s", lp_pause_id(ps[i]));
		claim_resume(ps[i]);
		assert_pause_status(f->store, ids[i], "resumed"); /* visible at once */
		lp_pause_free(ps[i]);
	}
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	char d[256];
	for (int i = 0; i < N; i++)
		assert_false(exists(fx_path(f, d, sizeof d, "pending/%s", ids[i])));
	/* each final file replaced its pending one by exchange; the settle
	 * thread removed every replaced one: only the N final files are left */
	fx_path(f, d, sizeof d, "runs/%s/pauses", lp_run_id(f->run));
	assert_int_equal(count_entries(d, ".tmp"), 0);
	assert_int_equal(count_entries(d, ""), N);
	char *cat = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_non_null(cat);
	const char *end = strstr(cat, "\nE\t");
	assert_non_null(end);
	for (int i = 0; i < N; i++) {
		const char *line = strstr(cat, ids[i]);
		assert_non_null(line);
		assert_true(line < end); /* every "P" line before the run's "E" line */
	}
	free(cat);
}

/* lp_run_free settles too (a run freed without lp_run_end), for a timeout
 * as for a resume. */
static void test_settle_before_run_free(void **state)
{
	fx *f = *state;
	lp_pause *a = fx_pause(f, LP_KIND_CHECKPOINT, 30), *b = fx_pause(f, LP_KIND_FAILURE, 0.05);
	char ia[LP_ID_MAX + 1], ib[LP_ID_MAX + 1];
	snprintf(ia, sizeof ia, "%s", lp_pause_id(a));
	snprintf(ib, sizeof ib, "%s", lp_pause_id(b));
	claim_resume(a);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, b, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	lp_resolution_clear(&res);
	lp_pause_free(a);
	lp_pause_free(b);
	char d[256], pauses[256];
	fx_path(f, pauses, sizeof pauses, "runs/%s/pauses", lp_run_id(f->run));
	lp_run_free(f->run);
	f->run = NULL;
	assert_int_equal(count_entries(pauses, ".tmp"), 0); /* the replaced files removed */
	assert_int_equal(count_entries(pauses, ""), 2);
	assert_false(exists(fx_path(f, d, sizeof d, "pending/%s", ia)));
	assert_false(exists(fx_path(f, d, sizeof d, "pending/%s", ib)));
	assert_pause_status(f->store, ia, "resumed");
	assert_pause_status(f->store, ib, "timed_out");
}

/* A child forked after the settle thread started (it has no such thread)
 * frees its copy of the run without waiting for it, and the parent's
 * pauses still settle. */
static void test_settle_fork_child_does_not_wait(void **state)
{
	fx *f = *state;
	lp_pause *a = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	claim_resume(a); /* the settle thread exists now */
	assert_int_equal(lpi_pause_settle(a), LP_OK);
	lp_pause *b = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(10); /* a child that waited for a thread it lacks would hang */
		lp_run_free(f->run);
		_exit(0);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	claim_resume(b);
	assert_false(indexed_pending(f, lp_pause_id(b)));
	assert_false(indexed_pending(f, lp_pause_id(a)));
	lp_pause_free(a);
	lp_pause_free(b);
}

/* The fork gate: a child forked the moment a pause ended (its settle job
 * queued, maybe half done) finds it settled: catalogued and out of
 * pending/, for each of several pauses in a row (without the gate the
 * child copies the job before its fsync is over, and sees it pending). */
static void test_fork_waits_for_settle(void **state)
{
	fx *f = *state;
	enum { N = 4 };
	for (int i = 0; i < N; i++) {
		lp_pause *p = fx_pause(f, i % 2 ? LP_KIND_FAILURE : LP_KIND_CHECKPOINT, 30);
		char id[LP_ID_MAX + 1], d[256];
		snprintf(id, sizeof id, "%s", lp_pause_id(p));
		lp_resolution res = {0};
		assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL), LP_OK);
		lp_resolution_clear(&res);
		fx_path(f, d, sizeof d, "pending/%s", id);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char cat[256];
			char *text = slurp(fx_path(f, cat, sizeof cat, "catalog.tsv"));
			int ok = !exists(d) && text && strstr(text, id);
			free(text);
			_exit(ok ? 0 : 1);
		}
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		lp_pause_free(p);
	}
}

/* A signal meant for the process is never taken by one of the library's
 * threads (the heartbeat, the settle thread): a caller that blocks it and
 * waits for it with sigtimedwait gets it, for a signal whose default
 * action kills (SIGUSR1) and for one whose default is to drop it
 * (SIGCHLD), each sent while both threads run. */
static void test_threads_take_no_signal(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	claim_resume(p); /* the settle thread exists now, beside the heartbeat */
	lp_pause_free(p);
	const int sigs[] = {SIGUSR1, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		sigset_t one, old;
		sigemptyset(&one);
		sigaddset(&one, sigs[i]);
		assert_int_equal(pthread_sigmask(SIG_BLOCK, &one, &old), 0);
		assert_int_equal(kill(getpid(), sigs[i]), 0);
		struct timespec ts = {10, 0};
		int got = sigtimedwait(&one, NULL, &ts);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		assert_int_equal(got, sigs[i]);
	}
}

typedef struct spare_resumer {
	const char *dir, *run_id, *id;
	int kind_failure;
} spare_resumer;

/* The temporary in pauses/ (a dot-name) the pause made: its
 * inode, or 0 while there is none (looked for at most 10 s). */
static ino_t await_spare(const char *pauses)
{
	for (int64_t until = lpi_mono_ms() + 10000; lpi_mono_ms() < until;) {
		DIR *d = opendir(pauses);
		struct dirent *e;
		ino_t ino = 0;
		while (d && (e = readdir(d)))
			if (strncmp(e->d_name, ".tmp.", 5) == 0)
				ino = e->d_ino;
		if (d)
			closedir(d);
		if (ino)
			return ino;
		struct timespec nap = {0, 1000000};
		nanosleep(&nap, NULL);
	}
	return 0;
}

/* In a child: wait for the pause's spare, resume it, then check that the
 * final pause file is that very inode. 0 when it is. */
static int spare_child(void *arg)
{
	spare_resumer *r = arg;
	char pauses[512], final[600];
	snprintf(pauses, sizeof pauses, "%s/runs/%s/pauses", r->dir, r->run_id);
	snprintf(final, sizeof final, "%s/%s.json", pauses, r->id);
	ino_t spare = await_spare(pauses);
	if (!spare)
		return 10;
	lp_store *s;
	if (lp_store_open(&s, r->dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	if (r->kind_failure)
		o.failure_reason = "seen";
	else
		o.has_result = 1, o.result = LP_RESULT_TRUE;
	int rc = lp_pause_resume(NULL, s, r->id, &o);
	lp_store_free(s);
	struct stat st;
	if (rc != LP_OK)
		return 11;
	return stat(final, &st) == 0 && st.st_ino == spare ? 0 : 12;
}

/* A pause makes its final file's temporary as it begins, and the take
 * writes into it (the final file is that inode: no file created between
 * the command and the decision); after the run settled no temporary is
 * left, for a checkpoint and a failure. */
static void test_pause_makes_its_final_file_ahead(void **state)
{
	fx *f = *state;
	for (int k = 0; k < 2; k++) {
		lp_pause *p = fx_pause(f, k ? LP_KIND_FAILURE : LP_KIND_CHECKPOINT, 30);
		spare_resumer r = {.dir = f->dir,
				   .run_id = lp_run_id(f->run),
				   .id = lp_pause_id(p),
				   .kind_failure = k};
		pid_t pid = fork_child(spare_child, &r);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
		lp_resolution_clear(&res);
		assert_int_equal(child_rc(wait_child(pid, 15000)), 0);
		lp_pause_free(p);
	}
	assert_int_equal(lpi_settle_drain(f->run), LP_OK);
	char d[256];
	fx_path(f, d, sizeof d, "runs/%s/pauses", lp_run_id(f->run));
	assert_int_equal(count_entries(d, ".tmp"), 0);
	assert_int_equal(count_entries(d, ""), 2);
}

/* A pause that times out while waiting ends by its own claim, through the
 * spare it made: no temporary is left behind. */
static void test_timeout_leaves_no_spare(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 0.05);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK); /* times out */
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	lp_resolution_clear(&res);
	lp_pause_free(p);
	assert_int_equal(lpi_settle_drain(f->run), LP_OK);
	char d[256];
	fx_path(f, d, sizeof d, "runs/%s/pauses", lp_run_id(f->run));
	assert_int_equal(count_entries(d, ".tmp"), 0);
}

/* Names created in dir (IN_CREATE) since the watch began, joined by ' '. */
static void created_names(int ifd, char *out, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	out[0] = '\0';
	ssize_t n;
	while ((n = read(ifd, buf, sizeof buf)) > 0)
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			if ((e->mask & IN_CREATE) && e->len) {
				strncat(out, e->name, size - strlen(out) - 2);
				strncat(out, " ", size - strlen(out) - 1);
			}
			q += sizeof *e + e->len;
		}
}

/* A warmed store (lp_store_warm, as the server keeps it) writes a command
 * by linking the file it made ahead: the only name ever created in
 * commands/ is the command's own (no temporary), the file kept is used
 * up, and the paused process takes the command; warming again keeps one
 * file, not two; a store never warmed writes as before (a temporary). */
static void test_warm_store_writes_without_a_temporary(void **state)
{
	fx *f = *state;
	char cdir[256];
	fx_path(f, cdir, sizeof cdir, "runs/%s/commands", lp_run_id(f->run));
	for (int warm = 1; warm >= 0; warm--) {
		lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
		if (warm) {
			assert_int_equal(lp_store_warm(f->store), LP_OK);
			int kept = f->store->spare_fd;
			assert_true(kept >= 0);
			assert_int_equal(lp_store_warm(f->store), LP_OK);
			assert_int_equal(f->store->spare_fd, kept); /* one, not two */
		}
		int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		assert_true(ifd >= 0);
		assert_true(inotify_add_watch(ifd, cdir, IN_CREATE) >= 0);
		lp_resume_options o = no_wait();
		o.has_result = 1;
		o.result = LP_RESULT_FALSE;
		assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_OK);
		assert_int_equal(f->store->spare_fd, -1);
		char names[1024], want[LP_ID_MAX + 32];
		created_names(ifd, names, sizeof names);
		close(ifd);
		snprintf(want, sizeof want, "%s.resume.json ", lp_pause_id(p));
		if (warm)
			assert_string_equal(names, want);
		else
			assert_non_null(strstr(names, ".tmp."));
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
		assert_int_equal(res.result, LP_RESULT_FALSE);
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
}

/* A warmed store whose command loses the claim (the name is taken) says
 * so as without a kept file, and the kept file is used up, not leaked. */
static void test_warm_store_loses_the_claim(void **state)
{
	fx *f = *state;
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	lp_resume_options o = no_wait();
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_OK);
	assert_int_equal(lp_store_warm(f->store), LP_OK);
	int rc = lp_pause_resume(NULL, f->store, lp_pause_id(p), &o);
	assert_int_not_equal(rc, LP_OK);
	assert_int_equal(f->store->spare_fd, -1);
	assert_int_equal(n_commands(f, ""), 1);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.result, LP_RESULT_TRUE);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_begin_writes_pending),
		T(test_begin_bad_options),
		T(test_begin_long_failure_text),
		T(test_checkpoint_true),
		T(test_checkpoint_false),
		T(test_checkpoint_none),
		T(test_failure_reason),
		T(test_resume_by_path),
		T(test_resume_info_out),
		T(test_timeout),
		T(test_resume_wrong_kind),
		T(test_resume_unknown),
		T(test_resume_twice),
		T(test_not_taken),
		T(test_garbage_commands),
		T(test_resume_past_garbage),
		T(test_check_hook_then_abort),
		T(test_wake_fd),
		T(test_claim_takes_earlier_command),
		T(test_claim_kinds),
		T(test_claim_bad_fields),
		T(test_free_pending_aborts),
		T(test_stale_owner_gone),
		T(test_stale_owner_zombie),
		T(test_stale_pid_reused),
		T(test_prepared_resume),
		T(test_prepared_sees_a_new_pause_file),
		T(test_prepared_sees_its_process_die),
		T(test_settle_before_run_end),
		T(test_settle_before_run_free),
		T(test_settle_fork_child_does_not_wait),
		T(test_fork_waits_for_settle),
		T(test_threads_take_no_signal),
		T(test_pause_makes_its_final_file_ahead),
		T(test_timeout_leaves_no_spare),
		T(test_warm_store_writes_without_a_temporary),
		T(test_warm_store_loses_the_claim),
	};
	return cmocka_run_group_tests_name("pause", tests, NULL, NULL);
}
