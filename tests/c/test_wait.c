/*
 * test_wait.c - wait.c: the waiter wakes for an entry created in a watched
 * directory (inotify), for the exit of a watched process (pidfd), for the
 * wake fd (then calls the check hook), empties a burst of either in one
 * wake-up, stops with LP_EINTR when the check
 * hook says so and with LP_EWAITTIMEOUT at its deadline; with
 * LP_WAIT_BACKEND=poll the backstop slice alone drives a whole pause.
 * The waits are bounded by generous deadlines; a wake-up is recognised by
 * its return code, never by how long it took.
 */
#include "helpers.h"

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_deadline_passed(void **state)
{
	(void)state;
	lpi_waiter *w = NULL;
	assert_int_equal(lpi_waiter_open(&w), LP_OK);
	assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() - 1, NULL), LP_EWAITTIMEOUT);
	assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 20, NULL), LP_EWAITTIMEOUT);
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 5;
	assert_int_equal(lpi_waiter_wait(w, -1, &hooks), LP_OK); /* a slice, no deadline */
	lpi_waiter_free(w);
	lpi_waiter_free(NULL);
}

static void test_dir_event(void **state)
{
	(void)state;
	char dir[64], p[128];
	make_tmpdir(dir);
	int dfd = open_dir(dir);
	lpi_waiter *w = NULL;
	assert_int_equal(lpi_waiter_open(&w), LP_OK);
	assert_int_equal(lpi_waiter_add_dir(w, dfd, "dir"), LP_OK);
	snprintf(p, sizeof p, "%s/new", dir);
	assert_int_equal(write_text(p, "x", 1), 0);
	/* the slice is a minute and the deadline 10 s: LP_OK means woken */
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 60000;
	assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 10000, &hooks), LP_OK);
	lpi_waiter_free(w);
	close(dfd);
	rm_rf(dir);
}

/* A burst of events larger than one read (here ~60 KiB of inotify events,
 * and 6000 bytes in the wake pipe) is emptied by one wake-up: the next wait
 * blocks until its deadline. A single small event the same. */
static void test_burst_drained(void **state)
{
	(void)state;
	char dir[64], p[512], tail[193];
	memset(tail, 'n', sizeof tail - 1);
	tail[sizeof tail - 1] = '\0';
	make_tmpdir(dir);
	int dfd = open_dir(dir), fds[2];
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 60000;
	hooks.wake_fd = fds[0];
	for (int files = 1; files <= 120; files += 119) {
		lpi_waiter *w = NULL;
		assert_int_equal(lpi_waiter_open(&w), LP_OK);
		assert_int_equal(lpi_waiter_add_dir(w, dfd, "dir"), LP_OK);
		for (int i = 0; i < files; i++) { /* names of 200 bytes */
			snprintf(p, sizeof p, "%s/%03d-%03d-%s", dir, files, i, tail);
			assert_int_equal(write_text(p, "x", 1), 0);
		}
		char bytes[6000] = {0};
		size_t nbytes = files > 1 ? sizeof bytes : 1;
		assert_int_equal(write(fds[1], bytes, nbytes), (ssize_t)nbytes);
		assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 10000, &hooks), LP_OK);
		assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 200, &hooks), LP_EWAITTIMEOUT);
		char c;
		assert_int_equal(read(fds[0], &c, 1), -1); /* the pipe too */
		lpi_waiter_free(w);
	}
	close(fds[0]);
	close(fds[1]);
	close(dfd);
	rm_rf(dir);
}

static int wait_for_eof(void *arg)
{
	int *fds = arg;
	close(fds[1]);
	await_fd(fds[0], 15000);
	return 0;
}

static void test_pid_exit(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork_child(wait_for_eof, fds);
	close(fds[0]);
	lpi_waiter *w = NULL;
	assert_int_equal(lpi_waiter_open(&w), LP_OK);
	assert_int_equal(lpi_waiter_add_pid(w, pid), LP_OK);
	close(fds[1]); /* the child exits */
	int64_t deadline = lpi_mono_ms() + 10000;
	int rc;
	do
		rc = lpi_waiter_wait(w, deadline, NULL);
	while (rc == LP_OK);
	assert_int_equal(rc, 1);
	lpi_waiter_free(w);
	assert_int_equal(wait_child(pid, 10000), 0);
}

static int count_and_stop(void *ud)
{
	int *n = ud;
	return ++*n >= 3;
}

static void test_check_hook(void **state)
{
	(void)state;
	lpi_waiter *w = NULL;
	assert_int_equal(lpi_waiter_open(&w), LP_OK);
	int calls = 0;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.slice_ms = 5;
	hooks.check = count_and_stop;
	hooks.ud = &calls;
	int64_t deadline = lpi_mono_ms() + 10000;
	int rc;
	do
		rc = lpi_waiter_wait(w, deadline, &hooks);
	while (rc == LP_OK);
	assert_int_equal(rc, LP_EINTR);
	assert_int_equal(calls, 3);
	lpi_waiter_free(w);
}

static int always_stop(void *ud)
{
	(*(int *)ud)++;
	return 1;
}

static void test_wake_fd(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	lpi_waiter *w = NULL;
	assert_int_equal(lpi_waiter_open(&w), LP_OK);
	int calls = 0;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.wake_fd = fds[0];
	hooks.slice_ms = 60000;
	hooks.check = always_stop;
	hooks.ud = &calls;
	assert_int_equal(write(fds[1], "ab", 2), 2);
	assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 10000, &hooks), LP_EINTR);
	assert_int_equal(calls, 1);
	char c;
	assert_int_equal(read(fds[0], &c, 1), -1); /* drained */
	/* a wake-up without a check hook just returns */
	hooks.check = NULL;
	assert_int_equal(write(fds[1], "c", 1), 1);
	assert_int_equal(lpi_waiter_wait(w, lpi_mono_ms() + 10000, &hooks), LP_OK);
	lpi_waiter_free(w);
	close(fds[0]);
	close(fds[1]);
}

/* With the poll backend (no inotify), a pause still takes its command and
 * still times out: the slice alone drives it. */
static void test_poll_backend_pause(void **state)
{
	fx *f = *state;
	setenv("LP_WAIT_BACKEND", "poll", 1);
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 20);
	lp_pause *q = fx_pause(f, LP_KIND_CHECKPOINT, 0.1);
	unsetenv("LP_WAIT_BACKEND");
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.take_timeout = -1;
	o.has_result = 1;
	o.result = LP_RESULT_FALSE;
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(p), &o), LP_OK);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_int_equal(res.result, LP_RESULT_FALSE);
	lp_resolution_clear(&res);
	assert_int_equal(lp_pause_wait(&res, q, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	lp_resolution_clear(&res);
	lp_pause_free(p);
	lp_pause_free(q);
}

int main(void)
{
	test_guard(60);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_passed),
		cmocka_unit_test(test_dir_event),
		cmocka_unit_test(test_pid_exit),
		cmocka_unit_test(test_check_hook),
		cmocka_unit_test(test_wake_fd),
		cmocka_unit_test(test_burst_drained),
		cmocka_unit_test_setup_teardown(test_poll_backend_pause, fx_setup_run, fx_teardown),
	};
	return cmocka_run_group_tests_name("wait", tests, NULL, NULL);
}
