/*
 * cmd_ls.c - `pytest-live-pause ls`: list the pending pauses of every run
 * in the pause directory (every pause with -a) through lp_list(), as a
 * table or as JSON lines. A missing directory simply has no pauses.
 */
#include <string.h>

#include "cli.h"

#define CMD "ls"

static const struct cli_option options[] = {
	{"all", 'a', no_argument, NULL,
	 "every pause: also stale, resumed, timed_out and\naborted ones"},
	CLI_OPT_JSON("one JSON object per line per pause (the pause\nfile plus "
		     "its derived \"state\"); nothing when none"),
	CLI_OPT_PAUSE_DIR,
	CLI_OPT_HELP,
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_help help = {
	.usage = "ls [-a|--all] [--json] [--pause-dir DIR]",
	.about = "List the pauses of every run in the pause directory, oldest "
		 "first. By\ndefault only pending pauses whose process is alive "
		 "(the ones resume can\nresume); -a adds every other state. "
		 "Columns:\n"
		 "  PAUSE_ID  STATE (pending|stale|resumed|timed_out|aborted)  "
		 "KIND\n"
		 "  AGE (since the pause began: 12s, 5m, 3h, 2d)  PID  "
		 "WORKER (xdist, or -)\n"
		 "  NODEID (last, never truncated)\n"
		 "With -a, ended pauses are read from the directory's summary "
		 "index,\ncatalog.tsv (fast with thousands of runs); -a --json "
		 "reads every pause file.\n"
		 "With no pauses (or no pause directory) prints \"no pending "
		 "pauses in <dir>\"\n(\"no pauses in <dir>\" with -a) and exits "
		 "0.\n",
	.opts = options,
	.exits = exits,
	.examples = "  " CLI_PROG " ls\n"
		    "  " CLI_PROG " ls -a --pause-dir /tmp/my-pauses\n"
		    "  " CLI_PROG " ls --json | jq -r .pause_id\n",
};

struct ls_state {
	int json;
	struct cli_table table;
};

/* lp_list() callback: 1 stops the listing on a memory error. */
static int on_pause(const lp_pause_info *info, void *ud)
{
	struct ls_state *st = ud;
	char age[32], pid[32];
	const char *row[7];

	if (st->json) {
		cli_print_line(stdout, info->json ? info->json : "{}");
		return 0;
	}
	cli_format_age(age, sizeof(age), info->created_at);
	snprintf(pid, sizeof(pid), "%ld", info->pid);
	row[0] = info->pause_id;
	row[1] = info->state;
	row[2] = info->kind;
	row[3] = age;
	row[4] = pid;
	row[5] = info->worker_id;
	row[6] = info->nodeid;
	return cli_table_add(&st->table, row) == 0 ? 0 : 1;
}

static int list(lp_store *store, const char *dir, int all,
		struct ls_state *st)
{
	static const char *const header[7] = {
		"PAUSE_ID", "STATE", "KIND", "AGE", "PID", "WORKER", "NODEID",
	};
	int rc;

	if (cli_table_init(&st->table, 7) != 0 ||
	    cli_table_add(&st->table, header) != 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	rc = store ? lp_list(store, (all ? LP_LIST_ALL : 0) | (st->json ? LP_LIST_JSON : 0),
			    on_pause, st)
		   : 0;
	if (rc > 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	if (rc < 0)
		return cli_lp_error(CMD, rc);
	if (st->json)
		return CLI_EXIT_OK;
	if (st->table.nrows > 1)
		cli_table_print(stdout, &st->table);
	else
		printf("no %spauses in %s\n", all ? "" : "pending ", dir);
	return CLI_EXIT_OK;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_state st = {0, {0, 0, 0, NULL}};
	struct cli_parser p;
	const char *arg, *pause_dir = NULL, *dir;
	lp_store *store = NULL;
	int key, all = 0, rc;

	if (cli_parser_init(&p, CMD, options, argc, argv, 0) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case 'h':
			cli_print_help(stdout, &help);
			return cli_finish(CMD, CLI_EXIT_OK);
		case 'a':
			all = 1;
			break;
		case CLI_KEY_JSON:
			st.json = 1;
			break;
		case CLI_KEY_PAUSE_DIR:
			pause_dir = arg;
			if (cli_check_pause_dir(CMD, arg))
				return CLI_EXIT_USAGE;
			break;
		}
	}
	if (key < 0 || cli_check_positionals(CMD, argc, argv, optind, 0, ""))
		return CLI_EXIT_USAGE;
	rc = cli_store_open(pause_dir, &store, &dir);
	if (rc == LP_ENOTFOUND) /* no directory yet: no pauses */
		rc = list(NULL, dir, all, &st);
	else if (rc == LP_OK)
		rc = list(store, dir, all, &st);
	else
		rc = cli_lp_error(CMD, rc);
	cli_table_free(&st.table);
	lp_store_free(store);
	return cli_finish(CMD, rc);
}
