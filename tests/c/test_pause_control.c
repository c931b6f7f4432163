/*
 * test_pause_control.c - issue 12.4's runtime parts: notify.c
 * (lp_notify_spawn: no shell, the pause's environment, a command that
 * fails, is not found, or hangs past its bound and is killed and reaped)
 * and quota.c (lp_run_failure_quota: the run's budget of failure pauses,
 * shared by processes, the first refusal told once).
 */
#include "helpers.h"

#include <sys/wait.h>

/* Poll n until it is no longer running (bounded: 60 s). */
static lp_notify_state settle(lp_notify *n, char **message)
{
	for (int i = 0; i < 6000; i++) {
		lp_notify_state s = lp_notify_poll(message, n);
		if (s != LP_NOTIFY_RUNNING)
			return s;
		usleep(10 * 1000);
	}
	return LP_NOTIFY_RUNNING;
}

static const lp_notify_env ENV = {"r1.abc", "failure", "t.py::test_x", "r1", "/tmp/pd"};

static void test_notify_runs_without_a_shell_with_the_pause_env(void **state)
{
	(void)state;
	char dir[64], out[128], script[512];
	make_tmpdir(dir);
	snprintf(out, sizeof out, "%s/env.txt", dir);
	/* the argv is passed as is: "$X" here is sh's, not a shell of ours */
	snprintf(
		script, sizeof script,
		"printf '%%s|%%s|%%s|%%s|%%s|%%s' \"$PYTEST_LIVE_PAUSE_ID\" \"$PYTEST_LIVE_PAUSE_KIND\" "
		"\"$PYTEST_LIVE_PAUSE_NODEID\" \"$PYTEST_LIVE_PAUSE_RUN_ID\" \"$PYTEST_LIVE_PAUSE_DIR\" "
		"\"$1\" > %s",
		out);
	const char *argv[] = {"sh", "-c", script, "sh", "a b;$(c)", NULL};
	lp_notify *n = NULL;
	assert_int_equal(lp_notify_spawn(&n, argv, &ENV, 30), LP_OK);
	assert_true(lp_notify_pid(n) > 0);
	char *msg = NULL;
	assert_int_equal(settle(n, &msg), LP_NOTIFY_OK);
	assert_null(msg);
	char *got = slurp(out);
	assert_string_equal(got, "r1.abc|failure|t.py::test_x|r1|/tmp/pd|a b;$(c)");
	free(got);
	lp_notify_free(n);
	rm_rf(dir);
}

static void test_notify_failure_is_reported(void **state)
{
	(void)state;
	const char *argv[] = {"sh", "-c", "exit 3", NULL};
	lp_notify *n = NULL;
	assert_int_equal(lp_notify_spawn(&n, argv, &ENV, 30), LP_OK);
	char *msg = NULL;
	assert_int_equal(settle(n, &msg), LP_NOTIFY_FAILED);
	assert_non_null(strstr(msg, "exited with status 3"));
	assert_non_null(strstr(msg, "sh"));
	free(msg);
	lp_notify_free(n);

	const char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
	assert_int_equal(lp_notify_spawn(&n, killed, &ENV, 30), LP_OK);
	assert_int_equal(settle(n, &msg), LP_NOTIFY_FAILED);
	assert_non_null(strstr(msg, "killed by signal 9"));
	free(msg);
	lp_notify_free(n);
}

static void test_notify_not_found_or_empty_is_refused(void **state)
{
	(void)state;
	lp_notify *n = (lp_notify *)1;
	const char *argv[] = {"no-such-notify-command-xyz", "x", NULL};
	assert_int_equal(lp_notify_spawn(&n, argv, &ENV, 5), LP_EINVAL);
	assert_null(n);
	assert_non_null(strstr(lp_error_message(), "no-such-notify-command-xyz"));
	assert_non_null(strstr(lp_error_message(), "No such file"));
	const char *dir[] = {"/", NULL};
	assert_int_equal(lp_notify_spawn(&n, dir, &ENV, 5), LP_EINVAL);
	const char *empty[] = {"", NULL};
	assert_int_equal(lp_notify_spawn(&n, empty, &ENV, 5), LP_EINVAL);
	const char *none[] = {NULL};
	assert_int_equal(lp_notify_spawn(&n, none, &ENV, 5), LP_EINVAL);
	assert_int_equal(lp_notify_spawn(&n, NULL, &ENV, 5), LP_EINVAL);
	const char *ok[] = {"true", NULL};
	assert_int_equal(lp_notify_spawn(&n, ok, NULL, 5), LP_EINVAL);
	assert_int_equal(lp_notify_spawn(&n, ok, &ENV, 0), LP_EINVAL);
	assert_int_equal(lp_notify_spawn(&n, ok, &ENV, -1), LP_EINVAL);
	assert_int_equal(lp_notify_spawn(NULL, ok, &ENV, 5), LP_EINVAL);
	assert_int_equal(lp_notify_poll(NULL, NULL), LP_NOTIFY_RUNNING);
	assert_int_equal(lp_notify_pid(NULL), 0);
	lp_notify_free(NULL);
}

static void test_notify_that_hangs_is_killed_with_its_group(void **state)
{
	(void)state;
	/* a child of the command hangs too: the whole group goes */
	const char *argv[] = {"sh", "-c", "sleep 300 & sleep 300", NULL};
	lp_notify *n = NULL;
	assert_int_equal(lp_notify_spawn(&n, argv, &ENV, 0.3), LP_OK);
	pid_t pgid = (pid_t)lp_notify_pid(n);
	char *msg = NULL;
	assert_int_equal(settle(n, &msg), LP_NOTIFY_FAILED);
	assert_non_null(strstr(msg, "did not finish within 0.3 s: killed"));
	free(msg);
	/* reaped: no zombie of that pid is ours; the group is gone */
	assert_int_equal(waitpid(pgid, NULL, WNOHANG), -1);
	int gone = 0;
	for (int i = 0; i < 3000 && !gone; i++) {
		gone = kill(-pgid, 0) < 0 && errno == ESRCH;
		if (!gone)
			usleep(10 * 1000);
	}
	assert_true(gone);
	lp_notify_free(n);
}

static void test_notify_freed_while_running_is_still_bounded(void **state)
{
	(void)state;
	const char *argv[] = {"sleep", "300", NULL};
	lp_notify *n = NULL;
	assert_int_equal(lp_notify_spawn(&n, argv, &ENV, 0.2), LP_OK);
	pid_t pid = (pid_t)lp_notify_pid(n);
	lp_notify_free(n); /* the runtime's thread keeps the bound */
	int gone = 0;
	for (int i = 0; i < 3000 && !gone; i++) {
		gone = kill(pid, 0) < 0 && errno == ESRCH;
		if (!gone)
			usleep(10 * 1000);
	}
	assert_true(gone);
}

/* ------------------------------------------------------------ quota */

static int ask_in_child(void *arg)
{
	lp_run *run = arg;
	int allowed = 0, first = 0;
	if (lp_run_failure_quota(&allowed, &first, run, 3) != LP_OK)
		return 9;
	return allowed ? 1 : first ? 2 : 3;
}

static void test_quota_counts_per_run_across_processes(void **state)
{
	fx *f = *state;
	int allowed = -1, first = -1;
	assert_int_equal(lp_run_failure_quota(&allowed, &first, f->run, 3), LP_OK);
	assert_true(allowed);
	assert_false(first);
	/* two more asks from other processes of the run */
	int kinds[5] = {0};
	for (int i = 0; i < 4; i++) {
		pid_t pid = fork_child(ask_in_child, f->run);
		int rc = wait_child(pid, 30000);
		assert_true(rc >= 1 && rc <= 3);
		kinds[rc]++;
	}
	/* 1 + 2 allowed, then exactly one first refusal, then plain refusals */
	assert_int_equal(kinds[1], 2);
	assert_int_equal(kinds[2], 1);
	assert_int_equal(kinds[3], 1);
	assert_int_equal(lp_run_failure_quota(&allowed, &first, f->run, 3), LP_OK);
	assert_false(allowed);
	assert_false(first);
	char p[256];
	char *count = slurp(fx_path(f, p, sizeof p, "runs/r1/failure_pauses"));
	assert_string_equal(count, "6\n");
	free(count);

	/* max 0: nothing pauses, and the first ask is the first refusal */
	lp_run *other = NULL;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r2";
	assert_int_equal(lp_run_start(&other, f->store, &ro), LP_OK);
	assert_int_equal(lp_run_failure_quota(&allowed, &first, other, 0), LP_OK);
	assert_false(allowed);
	assert_true(first);
	lp_run_free(other);

	assert_int_equal(lp_run_failure_quota(&allowed, &first, NULL, 1), LP_EINVAL);
	assert_int_equal(lp_run_failure_quota(&allowed, &first, f->run, -1), LP_EINVAL);
	assert_int_equal(lp_run_failure_quota(NULL, &first, f->run, 1), LP_EINVAL);
}

static void test_quota_refuses_a_planted_file(void **state)
{
	fx *f = *state;
	char p[256], target[256];
	fx_path(f, target, sizeof target, "elsewhere");
	assert_int_equal(write_text(target, "0\n", 2), 0);
	assert_int_equal(symlink(target, fx_path(f, p, sizeof p, "runs/r1/failure_pauses")), 0);
	int allowed = 1;
	assert_int_not_equal(lp_run_failure_quota(&allowed, NULL, f->run, 5), LP_OK);
	assert_false(allowed);
	char *kept = slurp(target);
	assert_string_equal(kept, "0\n"); /* not written through the link */
	free(kept);
}

int main(void)
{
	test_guard(300);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_runs_without_a_shell_with_the_pause_env),
		cmocka_unit_test(test_notify_failure_is_reported),
		cmocka_unit_test(test_notify_not_found_or_empty_is_refused),
		cmocka_unit_test(test_notify_that_hangs_is_killed_with_its_group),
		cmocka_unit_test(test_notify_freed_while_running_is_still_bounded),
		cmocka_unit_test_setup_teardown(test_quota_counts_per_run_across_processes,
						fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_quota_refuses_a_planted_file, fx_setup_run,
						fx_teardown),
	};
	return cmocka_run_group_tests_name("pause_control", tests, NULL, NULL);
}
