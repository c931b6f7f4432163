/*
 * test_race.c - exactly one outcome per pause, under races between
 * processes: N forked resumers claiming one pause at once (one LP_OK, the
 * others LP_ERESUMED); resumers racing the pause's own abort; and a
 * resumer racing the deadline (the outcome the paused process reports is
 * the one recorded, and exactly one of "resumer won" and "timed out").
 * Trials repeat to give the schedulers a chance to interleave; nothing
 * asserts on timing.
 */
#include "helpers.h"

#include <time.h>

enum { N_RESUMERS = 8, N_TRIALS = 50, N_ABORT_TRIALS = 20, N_LANES = 5 };

typedef struct racer {
	const char *dir;
	const char *id;
	int go_fd;
	int close_fd; /* the write end of the go pipe, closed in the child */
	int index;
	int64_t at_ms; /* monotonic time to resume at; 0: at once */
} racer;

/* Wait for the start signal (EOF on go_fd), then resume as "child-<i>". */
static int racer_main(void *arg)
{
	racer *r = arg;
	close(r->close_fd);
	if (await_fd(r->go_fd, 10000) < 0)
		return CHILD_SETUP_FAILED;
	lp_store *s;
	if (lp_store_open(&s, r->dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	char by[32], reason[32];
	snprintf(by, sizeof by, "child-%d", r->index);
	snprintf(reason, sizeof reason, "reason-%d", r->index);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.failure_reason = reason;
	o.by = by;
	if (r->at_ms > 0) {
		struct timespec ts = {.tv_sec = (time_t)(r->at_ms / 1000),
				      .tv_nsec = (long)(r->at_ms % 1000) * 1000000L};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	int rc = lp_pause_resume(NULL, s, r->id, &o);
	lp_store_free(s);
	return -rc;
}

/* Fork n racers on pause id, held until *release is called. */
static void start_racers(const char *dir, const char *id, int n, pid_t *pids, int *go_write)
{
	int go[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	for (int k = 0; k < n; k++) {
		racer r = {.dir = dir, .id = id, .go_fd = go[0], .close_fd = go[1], .index = k};
		pids[k] = fork_child(racer_main, &r);
	}
	close(go[0]);
	*go_write = go[1];
}

static void test_concurrent_resumers(void **state)
{
	fx *f = *state;
	int by_winner[N_RESUMERS] = {0};
	for (int trial = 0; trial < N_TRIALS; trial++) {
		lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
		pid_t pids[N_RESUMERS];
		int go;
		start_racers(f->dir, lp_pause_id(p), N_RESUMERS, pids, &go);
		close(go); /* EOF: all start at once */
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		int ok = 0, lost = 0, winner = -1;
		for (int k = 0; k < N_RESUMERS; k++) {
			int rc = child_rc(wait_child(pids[k], 15000));
			if (rc == LP_OK) {
				ok++;
				winner = k;
			} else if (rc == LP_ERESUMED) {
				lost++;
			} else {
				fprintf(stderr, "trial %d: child %d got %s\n", trial, k,
					lp_error_name(rc));
			}
		}
		assert_int_equal(ok, 1);
		assert_int_equal(lost, N_RESUMERS - 1);
		/* the verdict taken is the winner's */
		char want[32];
		snprintf(want, sizeof want, "child-%d", winner);
		assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
		assert_string_equal(res.by, want);
		snprintf(want, sizeof want, "reason-%d", winner);
		assert_string_equal(res.failure_reason, want);
		assert_pause_status(f->store, lp_pause_id(p), "resumed");
		by_winner[winner]++;
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
	fprintf(stderr, "wins by child index:");
	for (int k = 0; k < N_RESUMERS; k++)
		fprintf(stderr, " %d", by_winner[k]);
	fprintf(stderr, "\n");
}

static void test_resumers_race_abort(void **state)
{
	fx *f = *state;
	int aborted = 0, resumed = 0;
	for (int trial = 0; trial < N_ABORT_TRIALS; trial++) {
		lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 20);
		pid_t pids[N_RESUMERS];
		int go;
		start_racers(f->dir, lp_pause_id(p), N_RESUMERS, pids, &go);
		close(go);
		/* Ctrl-C in the paused process, while the resumers run */
		lp_resolution res = {0};
		assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL), LP_OK);
		int ok = 0, lost = 0, told_aborted = 0;
		for (int k = 0; k < N_RESUMERS; k++) {
			int rc = child_rc(wait_child(pids[k], 15000));
			ok += rc == LP_OK;
			lost += rc == LP_ERESUMED;
			told_aborted += rc == LP_EABORTED;
		}
		assert_pause_status(f->store, lp_pause_id(p), lp_outcome_name(res.outcome));
		if (res.outcome == LP_OUTCOME_ABORTED) {
			aborted++;
			assert_int_equal(told_aborted, N_RESUMERS);
		} else {
			resumed++;
			assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
			assert_int_equal(ok, 1);
			assert_int_equal(lost, N_RESUMERS - 1);
		}
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
	fprintf(stderr, "abort race: %d aborted, %d resumed\n", aborted, resumed);
}

/* ------------------------------------------------------- deadline race */

/* One lane: trials of a pause with a 0.2 s timeout and a resumer aiming
 * at the deadline. Lanes are processes, run side by side to keep the
 * test short; a lane reports "<won> <timed_out>" on out_fd and exits
 * non-zero (after saying why on stderr) on any inconsistency. */
typedef struct lane {
	const char *dir;
	int index, trials, out_fd;
} lane;

static int lane_fail(int trial, const char *why, const char *detail)
{
	fprintf(stderr, "deadline race, trial %d: %s %s\n", trial, why, detail ? detail : "");
	return 1;
}

static int lane_main(void *arg)
{
	lane *l = arg;
	lp_store *s;
	lp_run *run;
	char run_id[16];
	snprintf(run_id, sizeof run_id, "lane%d", l->index);
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = run_id;
	if (lp_store_open(&s, l->dir, 0) || lp_run_start(&run, s, &ro))
		return CHILD_SETUP_FAILED;
	int won = 0, timed_out = 0, bad = 0;
	for (int t = 0; t < l->trials && !bad; t++) {
		lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
		po.timeout = 0.2;
		lp_pause *p;
		if (lp_pause_begin(&p, run, &po))
			return CHILD_SETUP_FAILED;
		int64_t t0 = lpi_mono_ms();
		int go[2];
		if (pipe2(go, O_CLOEXEC))
			return CHILD_SETUP_FAILED;
		/* aim from 30 ms early to 30 ms late, varying by trial */
		int jitter = ((t * 7 + l->index * 13) % 61) - 30;
		racer r = {.dir = l->dir,
			   .id = lp_pause_id(p),
			   .go_fd = go[0],
			   .close_fd = go[1],
			   .index = 0,
			   .at_ms = t0 + 200 + jitter};
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return CHILD_SETUP_FAILED;
		if (pid == 0)
			_exit(racer_main(&r) & 0xff);
		close(go[0]);
		close(go[1]);
		lp_resolution res = {0};
		int rc = lp_pause_wait(&res, p, NULL);
		int child = child_rc(wait_child(pid, 15000));
		if (rc != LP_OK) {
			bad = lane_fail(t, "lp_pause_wait:", lp_error_message());
			goto next;
		}
		lp_pause_info *info = NULL;
		if (lp_pause_info_load(&info, s, lp_pause_id(p)) != LP_OK) {
			bad = lane_fail(t, "cannot load the pause:", lp_error_message());
			goto next;
		}
		if (strcmp(info->status, lp_outcome_name(res.outcome)) != 0)
			bad = lane_fail(t, "the pause file says", info->status);
		lp_pause_info_free(info);
		int child_won = child == LP_OK;
		int was_timeout = res.outcome == LP_OUTCOME_TIMED_OUT;
		if (child_won == was_timeout)
			bad = lane_fail(t,
					was_timeout ? "both the resumer and the timeout won"
						    : "neither the resumer nor the timeout won",
					lp_error_name(child));
		else if (!child_won && child != LP_ETIMEDOUT)
			bad = lane_fail(t, "the resumer lost with", lp_error_name(child));
		else if (child_won &&
			 (res.outcome != LP_OUTCOME_RESUMED || strcmp(res.by, "child-0") != 0))
			bad = lane_fail(t, "resumed, but by", res.by);
		won += child_won;
		timed_out += was_timeout;
	next:
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
	char line[32];
	int n = snprintf(line, sizeof line, "%d %d\n", won, timed_out);
	if (write(l->out_fd, line, (size_t)n) != n)
		return CHILD_SETUP_FAILED;
	lp_run_end(run, 0);
	lp_run_free(run);
	lp_store_free(s);
	return bad;
}

static void test_deadline_race(void **state)
{
	fx *f = *state;
	int out[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	pid_t pids[N_LANES];
	for (int k = 0; k < N_LANES; k++) {
		lane l = {
			.dir = f->dir, .index = k, .trials = N_TRIALS / N_LANES, .out_fd = out[1]};
		pids[k] = fork_child(lane_main, &l);
	}
	close(out[1]);
	int failed = 0;
	for (int k = 0; k < N_LANES; k++) {
		int code = wait_child(pids[k], 60000);
		if (code != 0)
			fprintf(stderr, "lane %d exited with %d\n", k, code);
		failed += code != 0;
	}
	char buf[512] = "";
	ssize_t n = read(out[0], buf, sizeof buf - 1);
	close(out[0]);
	buf[n > 0 ? n : 0] = '\0';
	int won = 0, timed_out = 0, a, b;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "%d %d", &a, &b) == 2) {
			won += a;
			timed_out += b;
		}
	fprintf(stderr, "deadline race: %d resumed by the child, %d timed out\n", won, timed_out);
	assert_int_equal(failed, 0);
	assert_int_equal(won + timed_out, N_TRIALS);
}

int main(void)
{
	test_guard(300);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_concurrent_resumers),
		T(test_resumers_race_abort),
		T(test_deadline_race),
	};
	return cmocka_run_group_tests_name("race", tests, NULL, NULL);
}
