/*
 * cmd_show.c - `pytest-live-pause show`: everything recorded about one
 * pause (lp_pause_info_load), as "key: value" lines or as its JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "show"

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "show <pause_id | pause file> [--json] "
		 "[--pause-dir DIR]",
	.about =
		"Print everything recorded about one pause, in any state, one "
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
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "print the pause file plus its derived \"state\"\nas one "
		     "JSON object (each attachment with its \"blob\"\nstate)",
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
	    lp_pause_offers(&allow_eval, &actions, info) != LP_OK)
		return;
	printf("eval: %s\n",
	       allow_eval ? "allowed (eval, exec)" : "off (needs pytest --pause-allow-eval)");
	fputs("actions: ", stdout);
	cli_print_line(stdout, actions[0] ? actions : "none");
	free(actions);
}

int cmd_show(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_common common;
	const char *arg, *ref, *dir;
	lp_pause_info *info = NULL;
	lp_store *store = NULL;
	int key, rc, exit_code = CLI_EXIT_OK;

	if (cli_command_init(&p, &spec, &common, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0)
		; /* no options of its own */
	if (key < 0)
		return cli_finish(CMD, p.exit_code);
	if ((rc = cli_ref_argument(&p, &ref)) != 0)
		return rc;
	rc = cli_store_open_for_ref(common.pause_dir, ref, &store, &dir);
	if (rc == LP_OK)
		rc = lp_pause_info_load(&info, store, ref);
	if (rc == LP_OK)
		rc = lp_pause_info_check_attachments(info);
	if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else if (common.json)
		cli_print_line(stdout, info->json ? info->json : "{}");
	else {
		cli_print_pause(stdout, info, CLI_PAUSE_DETAILS);
		print_offers(info);
	}
	lp_pause_info_free(info);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
