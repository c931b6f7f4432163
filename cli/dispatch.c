/*
 * dispatch.c - the pytest-live-pause command: global options (--help,
 * --version) and dispatch to a subcommand from the table below. Nothing
 * else lives here.
 */
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{"watch", cmd_watch,
	 "wait for the next pause of a run; print it and how "
	 "to resume it"},
	{"resume", cmd_resume, "resume a paused test with a verdict"},
	{"abort", cmd_abort, "end a pause and stop its run (the test fails)"},
	{"ls", cmd_ls, "list pending pauses (every pause with -a)"},
	{"show", cmd_show, "print everything recorded about one pause"},
	{"serve", cmd_serve,
	 "serve a live dashboard and an HTTP API to see "
	 "and answer pauses"},
	{"runs", cmd_runs, "list active runs (every run with -a)"},
	{"gc", cmd_gc, "remove runs that ended longer ago than a duration"},
	{"attachment", cmd_attachment,
	 "write out one attachment of a pause "
	 "(its hash verified)"},
	{"eval", cmd_eval,
	 "evaluate a Python expression in a paused test "
	 "(--pause-allow-eval)"},
	{"exec", cmd_exec,
	 "run Python statements in a paused test "
	 "(--pause-allow-eval)"},
	{"do", cmd_do, "run a named action of the test suite in a paused test"},
};

static const struct cli_option main_options[] = {
	CLI_OPT_HELP,
	{"version", 'V', no_argument, NULL, "print the version and protocol version and exit"},
	CLI_OPT_END,
};

static void print_main_help(void)
{
	size_t i;

	printf("usage: %s [--help] [--version] <command> [<args>]\n\n"
	       "Find and resume tests paused by pytest-live-pause (a failure "
	       "under\n`pytest --pause-on-failure`, or a checkpoint() in a "
	       "test) from another\nterminal, a script or an AI agent.\n\n"
	       "Commands:\n",
	       CLI_PROG);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nRun '%s <command> --help' for the options, exit codes "
	       "and\nexamples of a command.\n\nGlobal options:\n",
	       CLI_PROG);
	cli_print_options(stdout, main_options);
	printf("\nPause directory (every command takes --pause-dir DIR); the "
	       "first that is set:\n"
	       "  1. --pause-dir DIR\n"
	       "  2. $%s\n"
	       "  3. <temp>/pytest-live-pause: %s unless $TMPDIR, $TEMP\n"
	       "     or $TMP names a usable directory (as Python's tempfile picks\n"
	       "     <temp>); when it belongs to another user,\n"
	       "     <temp>/pytest-live-pause-<uid> instead (said once on stderr)\n"
	       "No command creates it. One that is a symlink, owned by another "
	       "user, or\nwritable by group or others is refused (exit 11); the "
	       "default one, left\nreadable by others (0.1.1 made it 0755), is "
	       "made 0700.\n\n"
	       "Output: results on stdout (with --json, one JSON object per "
	       "line); an\nerror is one line on stderr: "
	       "\"%s <command>: error: <message>\".\nA command that fails "
	       "validation writes nothing.\n\nExit codes:\n",
	       LP_ENV_DIR, LP_DEFAULT_DIR, CLI_PROG);
	cli_print_exit_codes(stdout, NULL);
	printf("\nThe loop of an agent or a person:\n"
	       "  pytest --pause-on-failure ...   # prints "
	       "\"pytest-live-pause: run_id=<run_id>\"\n"
	       "  %s watch --run-id <run_id>\n"
	       "  # a failure pause:\n"
	       "  %s resume <pause_id> --failure-reason \"device lost "
	       "Wi-Fi\"\n"
	       "  # a checkpoint:\n"
	       "  %s resume <pause_id> --result true --reason \"approved\"\n"
	       "  ... and watch again, until watch exits 9 (run is no longer "
	       "active).\n",
	       CLI_PROG, CLI_PROG, CLI_PROG);
}

int cli_main(int argc, char **argv)
{
	struct cli_parser p;
	const char *arg;
	size_t i;
	int key;

	if (cli_parser_init(&p, NULL, main_options, argc, argv, 1) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case 'h': print_main_help(); return cli_finish(NULL, CLI_EXIT_OK);
		case 'V':
			printf("%s %s (protocol %d)\n", CLI_PROG, LP_VERSION, LP_PROTOCOL_VERSION);
			return cli_finish(NULL, CLI_EXIT_OK);
		}
	}
	if (key < 0)
		return CLI_EXIT_USAGE;
	if (optind >= argc)
		return cli_error(NULL, CLI_EXIT_USAGE, "missing command");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(argc - optind, argv + optind);
	return cli_error(NULL, CLI_EXIT_USAGE, "unknown command '%s'", argv[optind]);
}
