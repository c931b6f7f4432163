/*
 * cmd_abort.c - `pytest-live-pause abort`: end a pause with the action
 * abort and a reason, through the same lp_pause_resume() as `resume` (the claim
 * decides between it, any resume and the deadline; an ended pause gets
 * the same exit codes). The paused pytest run then stops: a failure's
 * report is kept with "aborted: <reason>", a checkpoint raises
 * pytest_live_pause.Aborted, and no further test starts.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "abort"

static const struct cli_option options[] = {
	{"reason", CLI_KEY_REASON, required_argument, "TEXT",
	 "why the run is stopped (in the test's report and\n"
	 "pytest's last line)"},
	{"reason-file", CLI_KEY_REASON_FILE, required_argument, "FILE",
	 "--reason read from FILE ('-': standard input;\none trailing newline "
	 "removed)"},
	{"take-timeout", CLI_KEY_TAKE_TIMEOUT, required_argument, "SECONDS",
	 "wait this long for the paused process to take\nthe command "
	 "(default 5; 0: do not wait)"},
	CLI_OPT_ATTACH,
	CLI_OPT_MAX_ATTACHMENT_SIZE,
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK,       CLI_EXIT_ERROR,   CLI_EXIT_USAGE,       CLI_EXIT_NOTFOUND,
	CLI_EXIT_STALE,    CLI_EXIT_RESUMED, CLI_EXIT_TIMEDOUT,    CLI_EXIT_ABORTED,
	CLI_EXIT_NOTTAKEN, CLI_EXIT_UNSAFE,  CLI_EXIT_INTERRUPTED, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "abort <pause_id | pause file> [--reason TEXT | --reason-file "
		 "FILE]\n"
		 "         [--attach FILE]... [--max-attachment-size BYTES]\n"
		 "         [--take-timeout SECONDS] [--json] [--pause-dir DIR]",
	.about = "Stop a paused pytest run: the device is gone, the environment "
		 "is broken,\nnothing more is worth running. The pause, of any "
		 "kind, ends aborted:\n"
		 "  - a failure pause: its teardown runs and the test's failure "
		 "report is\n    kept, with \"aborted: <reason>\" in it;\n"
		 "  - a checkpoint or question: checkpoint() (ask()) raises\n"
		 "    pytest_live_pause.Aborted, so the test fails with the "
		 "reason and its\n    teardown runs.\n"
		 "Then the run stops: no further test starts (xdist workers "
		 "included),\npytest prints \"live-pause: run aborted at "
		 "<nodeid>: <reason>\" and exits\nwith status 2 (interrupted).\n\n"
		 "Exactly one command wins, as for resume: an abort of a pause "
		 "that already\nended exits as resume would (5 resumed, 6 timed "
		 "out, 7 aborted, 4 stale),\nand a resume of an aborted pause "
		 "exits 7. A pause made by an older\npytest-live-pause (protocol "
		 "< 3), which cannot stop its run, is refused\nwith exit 2 "
		 "before anything is written.\n\n"
		 "On success prints: aborted <pause_id> (<kind>, <nodeid>)\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "print one JSON object: pause_id, kind, status,\n"
		     "run_id, nodeid (and attachments with --attach)",
	.exits = exits,
	.examples = "  " CLI_PROG " abort 27be4cbca5ab.79688e30 --reason "
		    "\"device lost\"\n"
		    "  " CLI_PROG " abort 27be4cbca5ab.79688e30\n"
		    "  echo \"lab power cut\" | " CLI_PROG " abort "
		    "27be4cbca5ab.79688e30 --reason-file -\n"
		    "  " CLI_PROG " abort --json \\\n"
		    "      /tmp/pytest-live-pause/runs/27be4cbca5ab/pauses/"
		    "27be4cbca5ab.79688e30.json\n",
};

struct abort_args {
	const char *ref;
	struct cli_common c; /* --pause-dir, --json */
	lp_resume_options opts;
	struct cli_attach attach;
	char *owned; /* the text read by --reason-file */
};

/* Parse and validate everything; 0, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct abort_args *a)
{
	lp_resume_options init = LP_RESUME_OPTIONS_INIT;
	struct cli_parser p;
	const char *arg;
	double take;
	int key, rc;

	memset(a, 0, sizeof(*a));
	a->opts = init;
	a->opts.action = LP_ACTION_ABORT;
	if (cli_command_init(&p, &spec, &a->c, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		rc = 0;
		switch (key) {
		case CLI_KEY_REASON:
			if (a->owned)
				return cli_error(CMD, CLI_EXIT_USAGE,
						 "--reason and --reason-file are "
						 "exclusive: give the text inline or "
						 "in a file, not both");
			a->opts.reason = arg;
			break;
		case CLI_KEY_REASON_FILE:
			if (a->opts.reason)
				return cli_error(CMD, CLI_EXIT_USAGE,
						 "--reason and --reason-file are "
						 "exclusive: give the text inline or "
						 "in a file, not both");
			rc = cli_read_reason_file(CMD, "--reason-file", arg, &a->owned);
			a->opts.reason = a->owned;
			break;
		case CLI_KEY_TAKE_TIMEOUT:
			rc = cli_parse_seconds(CMD, "--take-timeout", arg, &take);
			a->opts.take_timeout = take > 0 ? take : -1.0;
			break;
		case CLI_KEY_ATTACH: rc = cli_attach_add(CMD, &a->attach, arg); break;
		case CLI_KEY_MAX_ATTACHMENT_SIZE:
			rc = cli_parse_size(CMD, "--max-attachment-size", arg, &a->attach.max_size);
			break;
		}
		if (rc)
			return rc;
	}
	if (key < 0)
		return p.exit_code == CLI_EXIT_OK ? -1 : p.exit_code;
	if ((rc = cli_ref_argument(&p, &a->ref)) != 0)
		return rc;
	a->opts.attach = a->attach.paths;
	a->opts.nattach = a->attach.n;
	a->opts.max_attachment_size = a->attach.max_size;
	return 0;
}

int cmd_abort(int argc, char **argv)
{
	struct abort_args a;
	int rc = parse_args(argc, argv, &a);

	if (rc == 0)
		rc = cli_resume_run(CMD, a.ref, a.c.pause_dir, a.c.json, &a.opts);
	free(a.owned);
	cli_attach_free(&a.attach);
	return cli_finish(CMD, rc < 0 ? CLI_EXIT_OK : rc);
}
