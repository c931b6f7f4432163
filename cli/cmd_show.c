/*
 * cmd_show.c - `pytest-live-pause show`: everything recorded about one
 * pause (lp_pause_info_load), as "key: value" lines or as its JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "show"

static const struct cli_option options[] = {
	CLI_OPT_JSON("print the pause file plus its derived \"state\"\nas one "
		     "JSON object (each attachment with its \"blob\"\nstate)"),
	CLI_OPT_PAUSE_DIR,
	CLI_OPT_HELP,
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND,
	CLI_EXIT_UNSAFE, -1,
};

static const struct cli_help help = {
	.usage = "show <pause_id | pause file> [--json] "
		 "[--pause-dir DIR]",
	.about = "Print everything recorded about one pause, in any state, one "
		 "\"key: value\"\nper line: pause_id, kind, run_id, nodeid, "
		 "state (derived: the status, or\n\"stale\" when the paused "
		 "process is gone), status (as recorded), pid,\nworker_id "
		 "(xdist workers only), hostname, cwd, created_at (ISO-8601 "
		 "local\ntime, then the recorded seconds since the epoch), "
		 "timeout (seconds),\ntask (checkpoints) or original_failure "
		 "(failures) in full, further lines\nindented by two spaces; "
		 "once ended, the verdict: resolved_by (cli, timeout,\nabort, "
		 "signal, file...), finished_at, and result (true|false|none) "
		 "and reason\n(checkpoints) or failure_reason (failures); "
		 "one attachment line per file attached (name, content type, "
		 "size,\nsource: test, capture or resume, sha256, and blob=ok, "
		 "missing or corrupt:\neach blob is read and its SHA-256 "
		 "checked; write one out with\n'" CLI_PROG " attachment'); "
		 "pause_file; and while pending,\nresume: the command that "
		 "resumes it, then eval (allowed or off) and actions (the names\n`do` takes). Every text from a test or a resumer is\nescaped "
		 "for the terminal (see the README).\n",
	.opts = options,
	.exits = exits,
	.examples = "  " CLI_PROG " show 27be4cbca5ab.79688e30\n"
		    "  " CLI_PROG " show --json \\\n"
		    "      /tmp/pytest-live-pause/runs/27be4cbca5ab/pauses/"
		    "27be4cbca5ab.79688e30.json\n",
};

/* What a pending pause takes besides resume (eval, exec, do). */
static void print_offers(const lp_pause_info *info)
{
	int allow_eval;
	char *actions = NULL;
	if (info->state_code != LP_STATE_PENDING ||
	    lp_pause_offers(info, &allow_eval, &actions) != LP_OK)
		return;
	printf("eval: %s\n", allow_eval ? "allowed (eval, exec)" : "off (needs pytest --pause-allow-eval)");
	fputs("actions: ", stdout);
	cli_print_line(stdout, actions[0] ? actions : "none");
	free(actions);
}

int cmd_show(int argc, char **argv)
{
	struct cli_parser p;
	const char *arg, *pause_dir = NULL, *dir;
	lp_pause_info *info = NULL;
	lp_store *store = NULL;
	int key, json = 0, rc, exit_code = CLI_EXIT_OK;

	if (cli_parser_init(&p, CMD, options, argc, argv, 0) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case 'h':
			cli_print_help(stdout, &help);
			return cli_finish(CMD, CLI_EXIT_OK);
		case CLI_KEY_JSON:
			json = 1;
			break;
		case CLI_KEY_PAUSE_DIR:
			pause_dir = arg;
			if (cli_check_pause_dir(CMD, arg))
				return CLI_EXIT_USAGE;
			break;
		}
	}
	if (key < 0 || cli_check_positionals(CMD, argc, argv, optind, 1,
					     "<pause_id | pause file> "
					     "argument"))
		return CLI_EXIT_USAGE;
	if (!*argv[optind])
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "the pause id or pause file is empty");
	rc = cli_store_open_for_ref(pause_dir, argv[optind], &store, &dir);
	if (rc == LP_OK)
		rc = lp_pause_info_load(&info, store, argv[optind]);
	if (rc == LP_OK)
		rc = lp_pause_info_check_attachments(info);
	if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else if (json)
		cli_print_line(stdout, info->json ? info->json : "{}");
	else {
		cli_print_pause(stdout, info, cli_hint_pause_dir(dir ? dir : info->pause_dir, store),
				CLI_PAUSE_DETAILS);
		print_offers(info);
	}
	lp_pause_info_free(info);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
