/*
 * cmd_ls.c - `pytest-live-pause ls`: list the pending pauses of every run
 * in the pause directory (every pause with -a) through lp_store_list(): an
 * aligned table on a terminal, 0.1.1's tab-separated lines into a pipe or
 * a file, or JSON lines. A missing directory simply has no pauses.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "ls"

static const struct cli_option options[] = {
	{"all", 'a', no_argument, NULL,
	 "every pause: also stale, resumed, timed_out and\naborted ones"},
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "ls [-a|--all] [--json] [--pause-dir DIR]",
	.about = "List the pauses of every run in the pause directory, oldest "
		 "first. By\ndefault only pending pauses whose process is alive "
		 "(the ones resume can\nresume); -a adds every other state. "
		 "Columns:\n"
		 "  PAUSE_ID  STATE (pending|stale|resumed|timed_out|aborted)  "
		 "KIND\n"
		 "  AGE (since the pause began: 12s, 5m, 3h, 2d)  PID  "
		 "WORKER (xdist, or -)\n"
		 "  NODEID (last, never truncated; a question's question and a "
		 "pause's\n  choices follow it: [question: ...] [choices: a|b])\n"
		 "With -a, ended pauses are read from the directory's summary "
		 "index,\ncatalog.tsv (fast with thousands of runs); with -a "
		 "--json, their objects\nfrom catalog-json.tsv (a pause file "
		 "when it lacks one).\n"
		 "With no pauses (or no pause directory) prints \"no pending "
		 "pauses in <dir>\"\n(\"no pauses in <dir>\" with -a) and exits "
		 "0.\n\n"
		 "When standard output is not a terminal (a pipe, a file), prints "
		 "0.1.1's\ntab-separated lines instead, no header and nothing when "
		 "there are none,\nsorted by state, then oldest first:\n"
		 "  STATE<TAB>PAUSE_ID<TAB>NODEID<TAB>pid=PID<TAB>worker=WORKER"
		 "<TAB>PAUSE_FILE\n"
		 "(`cut -f2` gives the pause ids). Every text field is escaped "
		 "for a terminal\n(a TAB in it as \\t), so the columns never "
		 "split.\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "one JSON object per line per pause (the pause\nfile plus "
		     "its derived \"state\"); nothing when none",
	.exits = exits,
	.examples = "  " CLI_PROG " ls\n"
		    "  " CLI_PROG " ls -a --pause-dir /tmp/my-pauses\n"
		    "  " CLI_PROG " ls --json | jq -r .pause_id\n"
		    "  " CLI_PROG " ls | cut -f2\n",
};

/* A line of the tab-separated output: its sort keys and the text. */
struct tsv_line {
	char *state;
	double created_at;
	char *text;
};

struct ls_state {
	int json;
	int tsv; /* stdout is not a terminal: 0.1.1's lines */
	struct cli_table table;
	struct tsv_line *lines;
	size_t nlines, cap;
};

/* A field made safe for the terminal and for `cut` (TAB escaped). */
static char *tsv_field(const char *text)
{
	char *safe = NULL;

	if (lp_text_terminal_safe(&safe, text, text ? strlen(text) : 0, 0) != LP_OK)
		return NULL;
	return safe;
}

/* 0.1.1's line: status, pause_id, nodeid, pid=N, worker=W, pause_file. */
static int add_tsv(struct ls_state *st, const lp_pause_info *info)
{
	char *f[5] = {tsv_field(info->state), tsv_field(info->pause_id), tsv_field(info->nodeid),
		      tsv_field(info->worker_id ? info->worker_id : "-"), tsv_field(info->path)};
	struct tsv_line *l;
	size_t size;
	int rc = -1, i;

	for (i = 0; i < 5; i++)
		if (!f[i])
			goto out;
	if (st->nlines == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct tsv_line *grown = realloc(st->lines, cap * sizeof(*grown));

		if (!grown)
			goto out;
		st->lines = grown;
		st->cap = cap;
	}
	size = strlen(f[0]) + strlen(f[1]) + strlen(f[2]) + strlen(f[3]) + strlen(f[4]) + 64;
	l = &st->lines[st->nlines];
	l->text = malloc(size);
	if (!l->text)
		goto out;
	snprintf(l->text, size, "%s\t%s\t%s\tpid=%ld\tworker=%s\t%s", f[0], f[1], f[2], info->pid,
		 f[3], f[4]);
	l->state = f[0];
	f[0] = NULL;
	l->created_at = info->created_at;
	st->nlines++;
	rc = 0;
out:
	for (i = 0; i < 5; i++)
		free(f[i]);
	return rc;
}

/* 0.1.1's order: by state name, then oldest first (a stable sort of rows
 * that are already oldest first). */
static int by_state(const void *x, const void *y)
{
	const struct tsv_line *a = x, *b = y;
	int c = strcmp(a->state, b->state);

	if (c)
		return c;
	return (a->created_at > b->created_at) - (a->created_at < b->created_at);
}

static void print_tsv(struct ls_state *st)
{
	size_t i;

	if (st->nlines > 1)
		qsort(st->lines, st->nlines, sizeof(*st->lines), by_state);
	for (i = 0; i < st->nlines; i++)
		printf("%s\n", st->lines[i].text);
}

static void free_tsv(struct ls_state *st)
{
	size_t i;

	for (i = 0; i < st->nlines; i++) {
		free(st->lines[i].state);
		free(st->lines[i].text);
	}
	free(st->lines);
}

/* lp_store_list() callback: 1 stops the listing on a memory error. */
static int on_pause(const lp_pause_info *info, void *ud)
{
	struct ls_state *st = ud;
	char age[32], pid[32];
	const char *row[7];

	if (st->json) {
		cli_print_line(stdout, info->json ? info->json : "{}");
		return 0;
	}
	if (st->tsv)
		return add_tsv(st, info) == 0 ? 0 : 1;
	cli_format_age(age, sizeof(age), info->created_at);
	snprintf(pid, sizeof(pid), "%ld", info->pid);
	row[0] = info->pause_id;
	row[1] = info->state;
	row[2] = info->kind;
	row[3] = age;
	row[4] = pid;
	row[5] = info->worker_id;
	row[6] = info->nodeid;
	if (info->question || info->nchoices) {
		/* what it asks, after the node id: "[question: ...] [choices: a|b]" */
		size_t size =
			strlen(info->nodeid) + 32 + (info->question ? strlen(info->question) : 0);
		for (size_t i = 0; i < info->nchoices; i++)
			size += strlen(info->choices[i]) + 1;
		char *cell = malloc(size);
		if (!cell)
			return 1;
		size_t n = (size_t)snprintf(cell, size, "%s", info->nodeid);
		if (info->question)
			n += (size_t)snprintf(cell + n, size - n, " [question: %s]",
					      info->question);
		for (size_t i = 0; i < info->nchoices; i++)
			n += (size_t)snprintf(cell + n, size - n, "%s%s",
					      i ? "|" : " [choices: ", info->choices[i]);
		if (info->nchoices)
			snprintf(cell + n, size - n, "]");
		row[6] = cell;
		int rc = cli_table_add(&st->table, row) == 0 ? 0 : 1;
		free(cell);
		return rc;
	}
	return cli_table_add(&st->table, row) == 0 ? 0 : 1;
}

static int list(lp_store *store, const char *dir, int all, struct ls_state *st)
{
	static const char *const header[7] = {
		"PAUSE_ID", "STATE", "KIND", "AGE", "PID", "WORKER", "NODEID",
	};
	int rc;

	if (cli_table_init(&st->table, 7) != 0 || cli_table_add(&st->table, header) != 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	rc = store ? lp_store_list(store, (all ? LP_LIST_ALL : 0) | (st->json ? LP_LIST_JSON : 0),
				   on_pause, st)
		   : 0;
	if (rc > 0)
		return cli_error(CMD, CLI_EXIT_ERROR, "out of memory");
	if (rc < 0)
		return cli_lp_error(CMD, rc);
	if (st->json)
		return CLI_EXIT_OK;
	if (st->tsv) {
		print_tsv(st);
		return CLI_EXIT_OK;
	}
	if (st->table.nrows > 1)
		cli_table_print(stdout, &st->table);
	else
		printf("no %spauses in %s\n", all ? "" : "pending ", dir);
	return CLI_EXIT_OK;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_state st;
	struct cli_parser p;
	struct cli_common common;
	const char *arg, *dir;
	lp_store *store = NULL;
	int key, all = 0, rc;

	memset(&st, 0, sizeof(st));
	st.tsv = !isatty(STDOUT_FILENO);
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
	if (rc == LP_ENOTFOUND) /* no directory yet: no pauses */
		rc = list(NULL, dir, all, &st);
	else if (rc == LP_OK)
		rc = list(store, dir, all, &st);
	else
		rc = cli_lp_error(CMD, rc);
	cli_table_free(&st.table);
	free_tsv(&st);
	lp_store_free(store);
	return cli_finish(CMD, rc);
}
