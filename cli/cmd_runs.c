/*
 * cmd_runs.c - `pytest-live-pause runs`: list the active runs of the
 * pause directory (every run with -a) through lp_store_runs(), with each
 * run's pauses counted by state, as a table or as JSON lines. A missing
 * directory simply has no runs.
 */
#include <string.h>

#include "cli.h"

#define CMD "runs"

static const struct cli_option options[] = {
	{"all", 'a', no_argument, NULL, "every run: also ended and stale ones"},
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "runs [-a|--all] [--json] [--pause-dir DIR]",
	.about = "List the runs (pytest sessions) of the pause directory, "
		 "oldest first. By\ndefault only active ones; -a adds ended "
		 "runs and stale ones (their pytest\nprocess is gone without "
		 "ending the run: killed, or its machine rebooted).\nColumns:\n"
		 "  RUN_ID  STATE (active|ended|stale)  PID  STARTED (age: 12s, "
		 "5m, 3h, 2d)\n"
		 "  ENDED (age, or -)  EXIT (pytest's exit status, or -)\n"
		 "  PENDING STALE RESUMED TIMED_OUT ABORTED (its pauses by "
		 "state, as\n  'ls -a' lists them)  HOST (last)\n"
		 "--json prints one object per run: run_id, state, pid, "
		 "hostname, cwd,\nstarted_at, ended_at, exitstatus (null when "
		 "unknown) and pauses: {pending,\nstale, resumed, timed_out, "
		 "aborted}.\n"
		 "With no runs (or no pause directory) prints \"no active runs "
		 "in <dir>\"\n(\"no runs in <dir>\" with -a) and exits 0. Fast "
		 "with thousands of runs:\nended runs are read from the "
		 "directory's summary index, catalog.tsv.\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "one JSON object per line per run; nothing when\nnone",
	.exits = exits,
	.examples = "  " CLI_PROG " runs\n"
		    "  " CLI_PROG " runs -a --pause-dir /tmp/my-pauses\n"
		    "  " CLI_PROG " runs --json | jq -r .run_id\n",
};

#define NCOLS 12

struct runs_state {
	int json;
	double now; /* the ages are of this one moment */
	struct cli_table table;
};

/* Decimal of v into buf (at least 24 bytes): snprintf costs a third of
 * the listing of 10,000 runs, for 9 small numbers a row. */
static const char *fmt_long(char *buf, long v)
{
	char *p = buf + 23;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	*p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--p = '-';
	return p;
}

/* lp_store_runs() callback: 1 stops the listing on a memory error. */
static int on_run(const lp_run_summary *run, void *ud)
{
	struct runs_state *st = ud;
	char pid[32], started[32], ended[32], exitst[32], n[5][32];
	const char *row[NCOLS];

	if (st->json) {
		cli_print_line(stdout, run->json ? run->json : "{}");
		return 0;
	}
	cli_format_age_at(started, sizeof(started), run->started_at, st->now);
	if (run->ended_at > 0)
		cli_format_age_at(ended, sizeof(ended), run->ended_at, st->now);
	row[0] = run->run_id;
	row[1] = run->state;
	row[2] = fmt_long(pid, run->pid);
	row[3] = started;
	row[4] = run->ended_at > 0 ? ended : NULL;
	row[5] = run->has_exitstatus ? fmt_long(exitst, run->exitstatus) : NULL;
	row[6] = fmt_long(n[0], (long)run->pending);
	row[7] = fmt_long(n[1], (long)run->stale);
	row[8] = fmt_long(n[2], (long)run->resumed);
	row[9] = fmt_long(n[3], (long)run->timed_out);
	row[10] = fmt_long(n[4], (long)run->aborted);
	row[11] = run->hostname; /* every cell is escaped (cli_table_add) */
	return cli_table_add(&st->table, row) == 0 ? 0 : 1;
}

static int list(lp_store *store, const char *dir, int all, struct runs_state *st)
{
	static const char *const header[NCOLS] = {
		"RUN_ID",  "STATE", "PID",     "STARTED",   "ENDED",   "EXIT",
		"PENDING", "STALE", "RESUMED", "TIMED_OUT", "ABORTED", "HOST",
	};
	int rc;

	if (cli_table_init(&st->table, NCOLS) != 0 || cli_table_add(&st->table, header) != 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	st->now = cli_now();
	rc = store ? lp_store_runs(store, (all ? LP_RUNS_ALL : 0) | (st->json ? LP_RUNS_JSON : 0),
				   on_run, st)
		   : 0;
	if (rc > 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	if (rc < 0)
		return cli_lp_error(CMD, rc);
	if (st->json)
		return CLI_EXIT_OK;
	if (st->table.nrows > 1) {
		cli_table_print(stdout, &st->table);
	} else {
		printf("no %sruns in ", all ? "" : "active ");
		cli_print_line(stdout, dir);
	}
	return CLI_EXIT_OK;
}

int cmd_runs(int argc, char **argv)
{
	struct runs_state st;
	struct cli_parser p;
	struct cli_common common;
	const char *arg, *dir;
	lp_store *store = NULL;
	int key, all = 0, rc;

	memset(&st, 0, sizeof(st));
	if (cli_command_init(&p, &spec, &common, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0)
		if (key == 'a')
			all = 1;
	if (key < 0)
		return cli_finish(CMD, p.exit_code);
	if (cli_check_positionals(CMD, argc, argv, optind, 0, ""))
		return CLI_EXIT_USAGE;
	st.json = common.json;
	rc = cli_store_open(common.pause_dir, &store, &dir);
	if (rc == LP_ENOTFOUND) /* no directory yet: no runs */
		rc = list(NULL, dir, all, &st);
	else if (rc == LP_OK)
		rc = list(store, dir, all, &st);
	else
		rc = cli_lp_error(CMD, rc);
	cli_table_free(&st.table);
	lp_store_free(store);
	return cli_finish(CMD, rc);
}
