/*
 * cmd_resume.c - `pytest-live-pause resume`: validate the verdict locally,
 * then hand it to lp_resume(), which refuses options of the wrong kind and
 * ended or stale pauses before writing, claims the pause and waits until
 * the paused process has taken the command.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define CMD "resume"

static const struct cli_option options[] = {
	{"failure-reason", CLI_KEY_FAILURE_REASON, required_argument, "TEXT",
	 "failure pauses: an explanation added to the\npytest failure report"},
	{"result", CLI_KEY_RESULT, required_argument, "true|false|none",
	 "checkpoints: the verdict the test receives"},
	{"reason", CLI_KEY_REASON, required_argument, "TEXT",
	 "checkpoints: why (the test receives it)"},
	{"take-timeout", CLI_KEY_TAKE_TIMEOUT, required_argument, "SECONDS",
	 "wait this long for the paused process to take\nthe command "
	 "(default 5; 0: do not wait)"},
	CLI_OPT_JSON("print one JSON object: pause_id, kind, status,\n"
		     "run_id, nodeid"),
	CLI_OPT_PAUSE_DIR,
	CLI_OPT_HELP,
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND,
	CLI_EXIT_STALE, CLI_EXIT_RESUMED, CLI_EXIT_TIMEDOUT, CLI_EXIT_ABORTED,
	CLI_EXIT_NOTTAKEN, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_help help = {
	.usage = "resume <pause_id | pause file> [--failure-reason TEXT]\n"
		 "         [--result true|false|none] [--reason TEXT] "
		 "[--take-timeout SECONDS]\n"
		 "         [--json] [--pause-dir DIR]",
	.about = "Resume a paused test with a verdict. The pause is named by its "
		 "pause_id\n(as printed by watch and ls) or by the path of its "
		 "pause file.\n\n"
		 "A failure pause takes --failure-reason (optional); a "
		 "checkpoint takes\n--result and --reason (both optional; no "
		 "--result means none). Giving the\nother kind's options is a "
		 "usage error, and nothing is written. A pause\nthat is stale "
		 "(its process is gone), already resumed, timed out or\n"
		 "aborted is refused. Exactly one resume wins: a second one "
		 "exits 5.\n\n"
		 "On success prints: resumed <pause_id> (<kind>, <nodeid>)\n",
	.opts = options,
	.exits = exits,
	.examples = "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --failure-reason "
		    "\"no Wi-Fi\"\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --result true "
		    "--reason \"ok\"\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --result none\n"
		    "  " CLI_PROG " resume --failure-reason \"manually confirmed\" "
		    "\\\n"
		    "      /tmp/pytest-live-pause/runs/27be4cbca5ab/pauses/"
		    "27be4cbca5ab.79688e30.json\n",
};

struct resume_args {
	const char *ref;
	const char *pause_dir;
	int json;
	lp_resume_options opts;
};

static int parse_result(const char *text, lp_result *out)
{
	if (strcmp(text, "true") == 0)
		*out = LP_RESULT_TRUE;
	else if (strcmp(text, "false") == 0)
		*out = LP_RESULT_FALSE;
	else if (strcmp(text, "none") == 0)
		*out = LP_RESULT_NONE;
	else
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "invalid --result value '%s': use true, false "
				 "or none",
				 text);
	return 0;
}

/* Parse and validate everything; 0, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct resume_args *a)
{
	lp_resume_options init = LP_RESUME_OPTIONS_INIT;
	struct cli_parser p;
	const char *arg;
	double take;
	int key, rc;

	memset(a, 0, sizeof(*a));
	a->opts = init;
	if (cli_parser_init(&p, CMD, options, argc, argv, 0) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		rc = 0;
		switch (key) {
		case 'h':
			cli_print_help(stdout, &help);
			return -1;
		case CLI_KEY_FAILURE_REASON:
			a->opts.failure_reason = arg;
			break;
		case CLI_KEY_RESULT:
			a->opts.has_result = 1;
			rc = parse_result(arg, &a->opts.result);
			break;
		case CLI_KEY_REASON:
			a->opts.reason = arg;
			break;
		case CLI_KEY_TAKE_TIMEOUT:
			rc = cli_parse_seconds(CMD, "--take-timeout", arg, &take);
			/* ours: 0 means "do not wait"; the runtime's is < 0 */
			a->opts.take_timeout = take > 0 ? take : -1.0;
			break;
		case CLI_KEY_JSON:
			a->json = 1;
			break;
		case CLI_KEY_PAUSE_DIR:
			a->pause_dir = arg;
			rc = cli_check_pause_dir(CMD, arg);
			break;
		}
		if (rc)
			return rc;
	}
	if (key < 0)
		return CLI_EXIT_USAGE;
	rc = cli_check_positionals(CMD, argc, argv, optind, 1,
				   "<pause_id | pause file> argument");
	if (rc)
		return rc;
	a->ref = argv[optind];
	if (!*a->ref)
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "the pause id or pause file is empty");
	if (a->opts.failure_reason && (a->opts.has_result || a->opts.reason))
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "--failure-reason is for failure pauses; "
				 "--result/--reason for checkpoints: use one "
				 "kind");
	return 0;
}

static const char *result_name(const lp_pause_info *info, const char *ref)
{
	return info && info->pause_id ? info->pause_id : ref;
}

/* {"pause_id":..,"kind":..,"status":..,"run_id":..,"nodeid":..} */
static int print_json(const lp_pause_info *info, const char *ref)
{
	const char *keys[] = {"pause_id", "kind", "status", "run_id", "nodeid"};
	const char *values[5] = {result_name(info, ref), NULL, NULL, NULL, NULL};
	json_t *obj = json_object();
	char *text = NULL;
	size_t i;
	int rc = -1;

	if (info) {
		values[1] = info->kind;
		values[2] = info->status;
		values[3] = info->run_id;
		values[4] = info->nodeid;
	}
	if (!obj)
		goto out;
	for (i = 0; i < 5; i++) {
		json_t *v = values[i] ? json_string(values[i]) : json_null();

		if (json_object_set_new(obj, keys[i], v ? v : json_null()) != 0)
			goto out;
	}
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		goto out;
	puts(text);
	rc = 0;
out:
	free(text);
	json_decref(obj);
	return rc;
}

static void print_human(const lp_pause_info *info, const char *ref,
			int waited)
{
	const char *kind = info && info->kind ? info->kind : "?";
	const char *nodeid = info && info->nodeid ? info->nodeid : "?";

	if (waited)
		printf("resumed %s (%s, %s)\n", result_name(info, ref), kind,
		       nodeid);
	else
		printf("resume command written for %s (%s, %s); not waiting "
		       "for it to be taken\n",
		       result_name(info, ref), kind, nodeid);
}

int cmd_resume(int argc, char **argv)
{
	struct resume_args a;
	lp_pause_info *info = NULL;
	lp_store *store = NULL;
	const char *dir;
	int rc, exit_code = CLI_EXIT_OK;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? cli_finish(CMD, CLI_EXIT_OK) : rc;
	rc = cli_store_open_for_ref(a.pause_dir, a.ref, &store, &dir);
	if (rc == LP_OK)
		rc = lp_resume(store, a.ref, &a.opts, &info);
	if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else if (a.json && print_json(info, a.ref) != 0)
		exit_code = cli_error(CMD, CLI_EXIT_ERROR,
				      "cannot build the JSON output");
	else if (!a.json)
		print_human(info, a.ref, a.opts.take_timeout >= 0);
	lp_pause_info_free(info);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
