/*
 * cmd_gc.c - `pytest-live-pause gc`: remove the runs that ended (or went
 * stale) more than --older-than ago, through lp_store_gc(), printing each
 * thing removed (or, with --dry-run, that would be) and a summary. Owns
 * the parsing of a DURATION (7d, 12h, 30m, 0s).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "gc"

static const struct cli_option options[] = {
	{"older-than", CLI_KEY_OLDER_THAN, required_argument, "DURATION",
	 "remove runs that ended longer ago than this\n(required): a number "
	 "and a unit, s m h or d:\n7d, 12h, 30m, 1.5h, 0s (every ended run)"},
	{"dry-run", CLI_KEY_DRY_RUN, no_argument, NULL,
	 "print what would be removed; remove nothing"},
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
	.usage = "gc --older-than DURATION [--dry-run] [--json] "
		 "[--pause-dir DIR]",
	.about = "Remove old runs from the pause directory: every run that "
		 "ended, or went\nstale (its pytest process is gone), longer "
		 "than DURATION ago, with\neverything in runs/<run_id>/, its "
		 "entries in pending/, and its lines in\ncatalog.tsv (rewritten "
		 "atomically). A stale run's end is the last change\nin its "
		 "directory. Also removes pending/ entries of runs that no "
		 "longer\nexist and what an interrupted gc left.\n"
		 "Never removes a run whose process is alive, a run with a "
		 "pending pause,\nor anything outside the pause directory "
		 "(symlinks are removed as links,\nnever followed). Safe while "
		 "pytest sessions start, pause and end in the\ndirectory. One "
		 "gc at a time: a second one says so on stderr and waits.\n"
		 "Output, one line each: \"removed run <run_id> (<state> <age> "
		 "ago) <path>\",\n\"removed pending <pause_id> <path>\", "
		 "\"removed leftover <name> <path>\"\n(\"would remove ...\" "
		 "with --dry-run), then a summary line \"gc: ...\".\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "one JSON object per line per thing removed,\nthen one "
		     "summary object",
	.exits = exits,
	.examples = "  " CLI_PROG " gc --older-than 7d --dry-run\n"
		    "  " CLI_PROG " gc --older-than 12h\n"
		    "  " CLI_PROG " gc --older-than 0s --json "
		    "--pause-dir /tmp/my-pauses\n",
};

/* DURATION: a decimal number >= 0 (digits first) and one unit of s, m, h
 * or d. On a bad value prints a usage error and returns CLI_EXIT_USAGE. */
static int parse_duration(const char *text, double *out)
{
	static const struct {
		char unit;
		double seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end = NULL;
	double v = 0;
	size_t i, digits = strspn(text, "0123456789");

	/* digits, optionally '.' and digits: no sign, exponent, hex, space */
	if (text[digits] == '.')
		digits += 1 + strspn(text + digits + 1, "0123456789");
	if (isdigit((unsigned char)text[0]) && text[digits] != '\0' && text[digits + 1] == '\0')
		v = strtod(text, &end);
	if (end != text + digits)
		end = NULL;
	if (end && isfinite(v))
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].unit && isfinite(v * units[i].seconds)) {
				*out = v * units[i].seconds;
				return 0;
			}
	return cli_error(CMD, CLI_EXIT_USAGE,
			 "invalid --older-than value '%s': give a duration "
			 ">= 0 as a number and a unit, like 7d, 12h, 30m or 0s",
			 text);
}

struct gc_args {
	struct cli_common c; /* --pause-dir, --json */
	const char *older_text;
	double older_than;
	int dry_run;
};

/* 0, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct gc_args *a)
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
		case CLI_KEY_OLDER_THAN:
			a->older_text = arg;
			rc = parse_duration(arg, &a->older_than);
			break;
		case CLI_KEY_DRY_RUN: a->dry_run = 1; break;
		}
		if (rc)
			return rc;
	}
	if (key < 0)
		return p.exit_code == CLI_EXIT_OK ? -1 : p.exit_code;
	if (cli_check_positionals(CMD, argc, argv, optind, 0, ""))
		return CLI_EXIT_USAGE;
	if (!a->older_text)
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "--older-than is required: give an age like "
				 "7d (remove runs that ended over 7 days ago)");
	return 0;
}

struct gc_out {
	const struct gc_args *a;
	const char *dir;
	int failed; /* the JSON output could not be built */
};

/* lp_store_gc() found another gc holding the lock: say so, then it waits. */
static void on_wait(void *ud)
{
	const struct gc_out *o = ud;

	fflush(stdout);
	fputs(CLI_PROG " gc: another gc is running in ", stderr);
	cli_print_line(stderr, o->dir);
	fputs(CLI_PROG " gc: waiting for it to finish\n", stderr);
	fflush(stderr);
}

/* Print a line the runtime built (rc its return); 0, or 1 if it could
 * not be built. */
static int print_json(int rc, char *line)
{
	if (rc != LP_OK || !line) {
		free(line);
		return 1;
	}
	cli_print_line(stdout, line);
	free(line);
	return 0;
}

static int on_item(const lp_gc_item *item, void *ud)
{
	struct gc_out *o = ud;
	const char *verb = o->a->dry_run ? "would remove" : "removed";
	char age[32];

	if (o->a->c.json) {
		char *line = NULL;
		int rc = lp_gc_item_json(&line, item, o->a->dry_run);

		if (print_json(rc, line)) {
			o->failed = 1;
			return 1;
		}
		return 0;
	}
	printf("%s %s %s ", verb, item->what, item->id);
	if (item->state) {
		cli_format_age(age, sizeof(age), item->ended_at);
		printf("(%s %s ago) ", item->state, age);
	}
	cli_print_line(stdout, item->path);
	return 0;
}

static int print_summary(const struct gc_args *a, const lp_gc_options *opts, const lp_gc_report *r)
{
	if (a->c.json) {
		char *line = NULL;
		int rc = lp_gc_report_json(&line, r, opts);

		return print_json(rc, line)
			       ? cli_error(CMD, CLI_EXIT_ERROR, "cannot build the JSON output")
			       : CLI_EXIT_OK;
	}
	printf("gc: %s %zu run(s), %zu pending entr%s, %zu leftover(s); "
	       "%zu catalog line(s) dropped; kept %zu active, %zu younger "
	       "than %s, %zu with a pending pause\n",
	       a->dry_run ? "would remove" : "removed", r->runs, r->pending,
	       r->pending == 1 ? "y" : "ies", r->leftovers, r->catalog_lines, r->kept_active,
	       r->kept_young, a->older_text, r->kept_pending);
	return CLI_EXIT_OK;
}

int cmd_gc(int argc, char **argv)
{
	lp_gc_options opts = LP_GC_OPTIONS_INIT;
	lp_gc_report report;
	struct gc_args a;
	struct gc_out out;
	lp_store *store = NULL;
	const char *dir;
	int rc, exit_code;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? cli_finish(CMD, CLI_EXIT_OK) : rc;
	rc = cli_store_open(a.c.pause_dir, &store, &dir);
	if (rc != LP_OK) {
		exit_code = cli_lp_error(CMD, rc);
		lp_store_free(store);
		return cli_finish(CMD, exit_code);
	}
	out.a = &a;
	out.dir = dir;
	out.failed = 0;
	opts.older_than = a.older_than;
	opts.dry_run = a.dry_run;
	opts.on_wait = on_wait;
	opts.on_item = on_item;
	opts.ud = &out;
	rc = lp_store_gc(&report, store, &opts);
	if (out.failed)
		exit_code = cli_error(CMD, CLI_EXIT_ERROR, "cannot build the JSON output");
	else if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else
		exit_code = print_summary(&a, &opts, &report);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
