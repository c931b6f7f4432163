/*
 * checkpoint.c - a C program that checkpoints through liblivepause, the
 * runtime of pytest-live-pause, using nothing but livepause.h: it starts
 * a run in a pause directory, opens one checkpoint with the task
 * "from C", prints its pause id and waits until a person or an agent
 * resumes it (`pytest-live-pause resume <id> --result true`) or its
 * timeout passes.
 *
 * Build it against an installed liblivepause (README, "Use it from C"):
 *   cc examples/c/checkpoint.c $(pkg-config --cflags --libs livepause) -o checkpoint
 *
 * Contract:
 *   checkpoint [--pause-dir DIR] [--timeout SECONDS] [--help]
 *   DIR: as for pytest-live-pause (--pause-dir, $PYTEST_LIVE_PAUSE_DIR,
 *   then <temp>/pytest-live-pause); the timeout: seconds or "inf" (the
 *   default: wait until resumed).
 *   stdout: "pause_id: <id>" and "resume: <command>", flushed once the
 *   pause is open; then "result: <true|false|none>" or "outcome: <...>".
 *   Exit codes:
 *     0  resumed with --result true
 *     1  resumed with --result false
 *     2  resumed with --result none, or the timeout passed
 *     3  aborted (Ctrl-C or SIGTERM here, or an abort command)
 *     4  a bad option, or an error of the runtime (one line on stderr)
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <livepause.h>

enum {
	EXIT_TRUE = 0,
	EXIT_FALSE = 1,
	EXIT_NONE = 2,
	EXIT_ABORTED = 3,
	EXIT_FAILED = 4,
};

static volatile sig_atomic_t interrupted; /* the signal that asked us to stop */

static void on_signal(int sig)
{
	interrupted = sig;
}

/* The wait's check hook: non-zero stops lp_pause_wait() with LP_EINTR. */
static int check_interrupted(void *ud)
{
	(void)ud;
	return interrupted != 0;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "checkpoint: %s: %s (%s)\n", what, lp_error_message(), lp_error_name(rc));
	return EXIT_FAILED;
}

static void usage(FILE *fp)
{
	fputs("usage: checkpoint [--pause-dir DIR] [--timeout SECONDS|inf]\n"
	      "Open one checkpoint (task \"from C\") in DIR, print its pause id "
	      "and wait\nuntil `pytest-live-pause resume <id> --result "
	      "true|false|none`.\n"
	      "Exit: 0 true, 1 false, 2 none or timed out, 3 aborted, 4 error.\n",
	      fp);
}

/* Map the verdict to the exit codes of the contract above. */
static int exit_code(const lp_resolution *res)
{
	if (res->outcome == LP_OUTCOME_ABORTED)
		return EXIT_ABORTED;
	if (res->outcome == LP_OUTCOME_TIMED_OUT)
		return EXIT_NONE;
	if (res->result == LP_RESULT_TRUE)
		return EXIT_TRUE;
	return res->result == LP_RESULT_FALSE ? EXIT_FALSE : EXIT_NONE;
}

/* Open the store, start the run, hold one checkpoint until it ends. */
static int checkpoint(const char *dir, double timeout)
{
	lp_store *store = NULL;
	lp_run *run = NULL;
	lp_pause *pause = NULL;
	lp_run_options ropts = LP_RUN_OPTIONS_INIT;
	lp_pause_options popts = LP_PAUSE_OPTIONS_INIT;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	lp_resolution res;
	int rc, code = EXIT_FAILED;

	memset(&res, 0, sizeof(res));
	rc = lp_store_open(&store, dir, LP_STORE_CREATE);
	if (rc != LP_OK) {
		code = fail("cannot open the pause directory", rc);
		goto out;
	}
	rc = lp_run_start(&run, store, &ropts);
	if (rc != LP_OK) {
		code = fail("cannot start a run", rc);
		goto out;
	}
	popts.kind = LP_KIND_CHECKPOINT;
	popts.nodeid = "examples/c/checkpoint.c";
	popts.task = "from C";
	popts.timeout = timeout;
	rc = lp_pause_begin(&pause, run, &popts);
	if (rc != LP_OK) {
		code = fail("cannot open the checkpoint", rc);
		goto out;
	}
	printf("pause_id: %s\nresume: %s\n", lp_pause_id(pause), lp_pause_resume_hint(pause));
	fflush(stdout);

	hooks.check = check_interrupted;
	rc = lp_pause_wait(&res, pause, &hooks);
	if (rc == LP_EINTR) /* Ctrl-C: end the pause as aborted */
		rc = lp_pause_abort(&res, pause, interrupted == SIGINT ? "SIGINT" : "SIGTERM");
	if (rc != LP_OK) {
		code = fail("waiting for the verdict failed", rc);
		goto out;
	}
	if (res.outcome == LP_OUTCOME_RESUMED)
		printf("result: %s\n", res.result == LP_RESULT_TRUE    ? "true"
				       : res.result == LP_RESULT_FALSE ? "false"
								       : "none");
	else
		printf("outcome: %s\n", lp_outcome_name(res.outcome));
	code = exit_code(&res);
out:
	lp_resolution_clear(&res);
	lp_pause_free(pause);
	if (run && lp_run_end(run, code) != LP_OK)
		code = fail("cannot end the run", lp_error_last());
	lp_run_free(run);
	lp_store_free(store);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pause-dir", required_argument, NULL, 'd'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	double timeout = LP_TIMEOUT_FOREVER;
	struct sigaction sa;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't':
			if (lp_timeout_parse(&timeout, optarg, "--timeout") != LP_OK) {
				fprintf(stderr, "checkpoint: %s\n", lp_error_message());
				return EXIT_FAILED;
			}
			break;
		case 'h': usage(stdout); return EXIT_TRUE;
		default: /* getopt_long said what was wrong */ usage(stderr); return EXIT_FAILED;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "checkpoint: unexpected argument '%s'\n", argv[optind]);
		return EXIT_FAILED;
	}
	if (dir != NULL && *dir == '\0') {
		fputs("checkpoint: --pause-dir must not be empty\n", stderr);
		return EXIT_FAILED;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the wait sees it at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return checkpoint(lp_store_default_path(dir), timeout);
}
