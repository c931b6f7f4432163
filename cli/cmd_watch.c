/*
 * cmd_watch.c - `pytest-live-pause watch`: wait through lp_watcher_next() for the
 * latest pending pause of one run and print it with the command that
 * resumes it. Owns the only global state of the CLI: the flag and the
 * self-pipe that SIGINT/SIGTERM set so that a wait stops at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "watch"

static const struct cli_option options[] = {
	{"run-id", CLI_KEY_RUN_ID, required_argument, "ID",
	 "the run to watch (pytest prints\n"
	 "\"pytest-live-pause: run_id=<ID>\" when it starts)"},
	{"all-runs", CLI_KEY_ALL_RUNS, no_argument, NULL,
	 "instead of --run-id: the next pending pause of\nany run (the oldest "
	 "pending one first); never\nexits 9"},
	{"timeout", CLI_KEY_TIMEOUT, required_argument, "SECONDS",
	 "give up after this long (exit 10); default 0:\nwait as long as the "
	 "run is active"},
	{"all", 'a', no_argument, NULL,
	 "report the run's latest pause in any state\n(stale, resumed, "
	 "timed_out, aborted too), as\n0.1.1's watch -a"},
	{"interval", CLI_KEY_INTERVAL, required_argument, "SECONDS",
	 "the longest time between two looks when no\nevent comes (default "
	 "0.05); events (a pause\nwritten, the run ending) wake watch at once"},
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK,       CLI_EXIT_ERROR,       CLI_EXIT_USAGE,
	CLI_EXIT_NOTFOUND, CLI_EXIT_RUNENDED,    CLI_EXIT_WATCH_TIMEOUT,
	CLI_EXIT_UNSAFE,   CLI_EXIT_INTERRUPTED, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "watch (--run-id ID | --all-runs) [-a|--all] [--timeout SECONDS]\n"
		 "         [--interval SECONDS] [--json] [--pause-dir DIR]",
	.about = "Report the latest pending pause of a run at once, or wait for "
		 "the next one,\nthen print it and exit. Output, one \"key: "
		 "value\" per line, in this order:\n"
		 "  pause detected: <pause_id> (the first line, as in 0.1.1),\n"
		 "  pause_id, kind (failure|checkpoint), run_id, nodeid, state, "
		 "pid,\n"
		 "  worker_id (xdist workers only), task (checkpoints) or "
		 "original_failure\n"
		 "  (failures; further lines indented by two spaces), "
		 "pause_file, and\n"
		 "  resume: the command that resumes this pause.\n"
		 "When the run ends (or its process dies) prints \"run is no "
		 "longer active:\n<why>\" on stdout and exits 9; after --timeout "
		 "prints \"timed out after\n<S>s waiting for a pause in run "
		 "<ID>\" on stdout and exits 10. With --json\nthese two are JSON "
		 "objects too, with \"event\": \"run_ended\" or \"timeout\".\n"
		 "Resume the pause, then watch again to wait for the next "
		 "one.\n\n"
		 "watch is event driven (inotify on pending/ and the run, and the "
		 "run's\nprocess): it sees a pause as soon as it is written. "
		 "--interval (0.1.1's\npolling period) bounds the time between two "
		 "looks when no event arrives.\n"
		 "Pauses of runs written by 0.1.1 are watched too (their pauses/ "
		 "directory).\n"
		 "With --all-runs, every run of the directory is watched: a "
		 "pause already\npending is reported at once (the oldest "
		 "first), else the next one to\nbegin in any run, old or new. "
		 "It waits until --timeout (exit 10) or for\never. (Not with -a:\n"
		 "only pending pauses are reported.)\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "print the pause as one JSON object (the pause\nfile plus "
		     "its derived \"state\")",
	.exits = exits,
	.examples = "  " CLI_PROG " watch --run-id 27be4cbca5ab\n"
		    "  " CLI_PROG " watch --run-id 27be4cbca5ab "
		    "--timeout 30 --json\n"
		    "  " CLI_PROG " watch -a --run-id 27be4cbca5ab\n"
		    "  " CLI_PROG " watch --all-runs --timeout 600\n",
};

/* Set by the signal handler; read by check(). */
static volatile sig_atomic_t interrupted;
/* Self-pipe: the handler writes a byte, the wait wakes on the read end. */
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	interrupted = sig;
	n = write(wake_pipe[1], "x", 1); /* non-blocking; a full pipe is fine */
	(void)n;
	errno = saved;
}

static int check_interrupted(void *ud)
{
	(void)ud;
	return interrupted != 0;
}

struct signals {
	struct sigaction old_int, old_term;
	int have_int, have_term;
};

static void signals_restore(struct signals *s)
{
	if (s->have_term)
		sigaction(SIGTERM, &s->old_term, NULL);
	if (s->have_int)
		sigaction(SIGINT, &s->old_int, NULL);
	s->have_int = s->have_term = 0;
	for (int i = 0; i < 2; i++) {
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
		wake_pipe[i] = -1;
	}
}

/* Install SIGINT/SIGTERM handlers (no SA_RESTART) and the self-pipe;
 * 0, or an exit code with nothing left installed. */
static int signals_install(struct signals *s)
{
	struct sigaction sa;

	memset(s, 0, sizeof(*s));
	interrupted = 0;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	s->have_int = sigaction(SIGINT, &sa, &s->old_int) == 0;
	s->have_term = s->have_int && sigaction(SIGTERM, &sa, &s->old_term) == 0;
	if (!s->have_term) {
		int err = errno;

		signals_restore(s);
		return cli_error(CMD, CLI_EXIT_ERROR, "sigaction: %s", strerror(err));
	}
	return 0;
}

struct watch_args {
	struct cli_common c; /* --pause-dir, --json */
	const char *run_id;
	double timeout;
	double interval; /* 0: the runtime's default slice */
	int all;
	int all_runs;
};

/* 0, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct watch_args *a)
{
	struct cli_parser p;
	const char *arg;
	int key, rc;

	memset(a, 0, sizeof(*a));
	if (cli_command_init(&p, &spec, &a->c, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		rc = 0;
		switch (key) {
		case CLI_KEY_RUN_ID: a->run_id = arg; break;
		case CLI_KEY_ALL_RUNS: a->all_runs = 1; break;
		case CLI_KEY_TIMEOUT:
			rc = cli_parse_seconds(CMD, "--timeout", arg, &a->timeout);
			break;
		case CLI_KEY_INTERVAL:
			rc = cli_parse_seconds(CMD, "--interval", arg, &a->interval);
			if (!rc && (a->interval < 0.001 || a->interval > 3600))
				rc = cli_error(CMD, CLI_EXIT_USAGE,
					       "invalid --interval value '%s': give "
					       "seconds from 0.001 to 3600",
					       arg);
			break;
		case 'a': a->all = 1; break;
		}
		if (rc)
			return rc;
	}
	if (key < 0)
		return p.exit_code == CLI_EXIT_OK ? -1 : p.exit_code;
	if (cli_check_positionals(CMD, argc, argv, optind, 0, ""))
		return CLI_EXIT_USAGE;
	if (a->all_runs && a->run_id)
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "--run-id and --all-runs exclude each other: "
				 "give one");
	if (a->all_runs && a->all)
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "-a does not apply to --all-runs, which reports "
				 "pending pauses only: drop one");
	if (a->all_runs)
		return 0;
	if (!a->run_id)
		return cli_error(CMD, CLI_EXIT_USAGE, "--run-id is required (or give --all-runs)");
	rc = lp_id_validate(a->run_id, "run id");
	if (rc != LP_OK)
		return cli_lp_error(CMD, rc);
	return 0;
}

/* Print the end of a watch that found no pause: on stdout, where agents
 * read it (with --json as {"event":..,"run_id":..,"message":..}). Returns
 * the exit code of `rc`. */
static int print_no_pause(const struct watch_args *a, int rc)
{
	char text[4096];
	const char *keys[] = {"event", "run_id", "message"};
	const char *values[3];
	char *line = NULL;

	if (rc == LP_ERUNENDED)
		snprintf(text, sizeof(text), "run is no longer active: %s", lp_error_message());
	else if (a->all_runs)
		snprintf(text, sizeof(text), "timed out after %gs waiting for a pause in any run",
			 a->timeout);
	else
		snprintf(text, sizeof(text), "timed out after %gs waiting for a pause in run %s",
			 a->timeout, a->run_id);
	if (!a->c.json) {
		cli_print_line(stdout, text);
		return cli_exit_code(rc);
	}
	values[0] = rc == LP_ERUNENDED ? "run_ended" : "timeout";
	values[1] = a->run_id;
	values[2] = text;
	if (lp_json_object_line(&line, keys, values, 3) != LP_OK)
		return cli_error(CMD, CLI_EXIT_ERROR, "cannot build the JSON output");
	puts(line);
	free(line);
	return cli_exit_code(rc);
}

int cmd_watch(int argc, char **argv)
{
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	struct watch_args a;
	struct signals sigs;
	lp_pause_info *info = NULL;
	lp_store *store = NULL;
	lp_watcher *watcher = NULL;
	const char *dir;
	int rc, exit_code;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? cli_finish(CMD, CLI_EXIT_OK) : rc;
	rc = signals_install(&sigs);
	if (rc)
		return rc;
	hooks.wake_fd = wake_pipe[0];
	hooks.check = check_interrupted;
	if (a.interval > 0)
		hooks.slice_ms = (int)(a.interval * 1000.0 + 0.5);
	rc = cli_store_open(a.c.pause_dir, &store, &dir);
	if (rc == LP_OK && a.all_runs)
		rc = lp_store_watch(&info, store, a.timeout, &hooks);
	else if (rc == LP_OK)
		rc = lp_run_watch_open(&watcher, store, a.run_id);
	if (rc == LP_OK && a.all && !a.all_runs)
		rc = lp_watcher_set_all(watcher, 1);
	if (rc == LP_OK && !a.all_runs)
		rc = lp_watcher_next(&info, watcher, a.timeout, &hooks);
	if (rc == LP_OK && !info)
		rc = LP_ERROR;
	if (rc == LP_OK) {
		if (a.c.json)
			cli_print_line(stdout, info->json ? info->json : "{}");
		else {
			/* the first line of 0.1.1's watch, which agents grep for */
			printf("pause detected: %s\n", info->pause_id);
			cli_print_pause(stdout, info, 0);
		}
		/* the reader gets the pause now, not after lp_watcher_free()
		 * closes the waiter (an inotify close costs 8-16 ms here) */
		fflush(stdout);
		exit_code = CLI_EXIT_OK;
	} else if (rc == LP_ERUNENDED || rc == LP_EWAITTIMEOUT) {
		exit_code = print_no_pause(&a, rc);
	} else if (rc == LP_EINTR) {
		exit_code = cli_error(CMD, CLI_EXIT_INTERRUPTED, "interrupted");
	} else {
		exit_code = cli_lp_error(CMD, rc);
	}
	lp_pause_info_free(info);
	lp_watcher_free(watcher);
	lp_store_free(store);
	signals_restore(&sigs);
	return cli_finish(CMD, exit_code);
}
