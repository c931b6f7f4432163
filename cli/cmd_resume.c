/*
 * cmd_resume.c - `pytest-live-pause resume`: validate the verdict locally,
 * then hand it to lp_pause_resume(), which refuses options of the wrong kind and
 * ended or stale pauses before writing, claims the pause and waits until
 * the paused process has taken the command. The reasons may come from a
 * file or standard input (--reason-file, --failure-reason-file), out of
 * sight of other users' /proc/<pid>/cmdline. Ctrl-C (or SIGTERM) while
 * waiting for the take says plainly that the command stands (exit 8).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "resume"

static const struct cli_option options[] = {
	{"failure-reason", CLI_KEY_FAILURE_REASON, required_argument, "TEXT",
	 "failure pauses: an explanation added to the\npytest failure report"},
	{"failure-reason-file", CLI_KEY_FAILURE_REASON_FILE, required_argument, "FILE",
	 "--failure-reason read from FILE ('-': standard\ninput; one "
	 "trailing newline removed)"},
	{"result", CLI_KEY_RESULT, required_argument, "true|false|none",
	 "checkpoints: the verdict the test receives"},
	{"reason", CLI_KEY_REASON, required_argument, "TEXT",
	 "checkpoints: why (the test receives it)"},
	{"value", CLI_KEY_VALUE, required_argument, "TEXT",
	 "checkpoints with choices: one of them; questions:\nthe answer "
	 "(the test receives it)"},
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
	.usage = "resume <pause_id | pause file>\n"
		 "         [--failure-reason TEXT | --failure-reason-file FILE]\n"
		 "         [--result true|false|none] "
		 "[--reason TEXT | --reason-file FILE]\n"
		 "         [--value TEXT]\n"
		 "         [--attach FILE]... [--max-attachment-size BYTES]\n"
		 "         [--take-timeout SECONDS] [--json] [--pause-dir DIR]",
	.about = "Resume a paused test with a verdict. The pause is named by its "
		 "pause_id\n(as printed by watch and ls) or by the path of its "
		 "pause file.\n\n"
		 "A failure pause takes --failure-reason (optional); a "
		 "checkpoint takes\n--result and --reason (both optional; no "
		 "--result means none), and a\ncheckpoint with choices also "
		 "--value, one of its choices (ls, show and\nwatch print them); "
		 "a question (live_pause.ask) takes --value, the answer,\nand "
		 "--reason, not --result. Giving the other kind's options, or a "
		 "--value\nthat is not one of the choices, is a usage error "
		 "(exit 2), and nothing is\nwritten. A pause that is stale "
		 "(its process is gone), already resumed, timed out or\n"
		 "aborted is refused. Exactly one resume wins: a second one "
		 "exits 5, and so\ndoes one whose command was replaced by "
		 "another writer before it was\ntaken. A verdict larger than "
		 "the paused process accepts (64 KiB\nencoded) is refused with "
		 "exit 2 before anything is written.\n\n"
		 "--reason-file and --failure-reason-file keep the text out of "
		 "the\nprocess list; each excludes its inline option.\n\n"
		 "--attach FILE gives the paused test evidence (a screenshot, a "
		 "log): each\nfile is copied into the run's blob store, by its "
		 "SHA-256, before the\ncommand is written, and the test receives "
		 "its path. A file that is\nmissing, unreadable, a symlink, a "
		 "FIFO, a device or a directory, over\n--max-attachment-size, or "
		 "beyond the pause's caps (32 files, 256 MiB)\nis refused with "
		 "exit 2 before anything is written. A copy that fails\n(disk "
		 "full) leaves no command and no partial blob (exit 1).\n\n"
		 "Ctrl-C or SIGTERM while waiting for the take: the command "
		 "stands and\nwill be taken (exit 8, said on stderr); before it "
		 "is written: nothing\nis written (exit 130).\n\n"
		 "On success prints: resumed <pause_id> (<kind>, <nodeid>)\n",
	.opts = options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = "print one JSON object: pause_id, kind, status,\n"
		     "run_id, nodeid (and attachments with --attach)",
	.exits = exits,
	.examples = "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --failure-reason "
		    "\"no Wi-Fi\"\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --result true "
		    "--reason \"ok\"\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --result none\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --value retry   "
		    "# choices\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.1f0c2d3e --value \"4.2.1\"   "
		    "# a question\n"
		    "  " CLI_PROG " resume 27be4cbca5ab.79688e30 --failure-reason "
		    "\"see photo\" \\\n"
		    "      --attach photo.jpg --attach adb-logcat.txt\n"
		    "  " CLI_PROG " resume --failure-reason \"manually confirmed\" "
		    "\\\n"
		    "      /tmp/pytest-live-pause/runs/27be4cbca5ab/pauses/"
		    "27be4cbca5ab.79688e30.json\n",
};

struct resume_args {
	const char *ref;
	struct cli_common c; /* --pause-dir, --json */
	lp_resume_options opts;
	struct cli_attach attach;
	char *owned[2]; /* texts read by --*-reason-file */
};

/* Largest --*-reason-file read; the runtime then applies the paused
 * process's own cap (64 KiB encoded) with a precise message. */
#define REASON_FILE_CAP (1024 * 1024)

/* Read a reason from path ("-": standard input): one trailing newline
 * removed; a NUL byte, or more than REASON_FILE_CAP bytes, refused.
 * 0 with *out malloc'd, or an exit code (cli.h). */
int cli_read_reason_file(const char *cmd, const char *opt, const char *path, char **out)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (fp == NULL)
		return cli_error(cmd, CLI_EXIT_USAGE, "%s: cannot read '%s': %s", opt, path,
				 strerror(errno));
	buf = malloc(REASON_FILE_CAP + 2);
	if (buf == NULL) {
		if (fp != stdin)
			fclose(fp);
		return cli_error(cmd, CLI_EXIT_ERROR, "out of memory");
	}
	n = fread(buf, 1, REASON_FILE_CAP + 1, fp);
	if (ferror(fp)) {
		int err = errno;

		if (fp != stdin)
			fclose(fp);
		free(buf);
		return cli_error(cmd, CLI_EXIT_USAGE, "%s: cannot read '%s': %s", opt, path,
				 strerror(err));
	}
	if (fp != stdin)
		fclose(fp);
	if (n > REASON_FILE_CAP) {
		free(buf);
		return cli_error(cmd, CLI_EXIT_USAGE,
				 "%s: '%s' is over %d bytes; a verdict must fit "
				 "in 64 KiB",
				 opt, path, REASON_FILE_CAP);
	}
	if (memchr(buf, '\0', n) != NULL) {
		free(buf);
		return cli_error(cmd, CLI_EXIT_USAGE,
				 "%s: '%s' contains a NUL byte; a reason is text", opt, path);
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* --X and --X-file both given: a usage error. */
static int both(const char *name)
{
	return cli_error(CMD, CLI_EXIT_USAGE,
			 "--%s and --%s-file are exclusive: give the text "
			 "inline or in a file, not both",
			 name, name);
}

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
	if (cli_command_init(&p, &spec, &a->c, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		rc = 0;
		switch (key) {
		case CLI_KEY_FAILURE_REASON:
			if (a->owned[0])
				return both("failure-reason");
			a->opts.failure_reason = arg;
			break;
		case CLI_KEY_FAILURE_REASON_FILE:
			if (a->opts.failure_reason)
				return both("failure-reason");
			rc = cli_read_reason_file(CMD, "--failure-reason-file", arg, &a->owned[0]);
			a->opts.failure_reason = a->owned[0];
			break;
		case CLI_KEY_REASON_FILE:
			if (a->opts.reason)
				return both("reason");
			rc = cli_read_reason_file(CMD, "--reason-file", arg, &a->owned[1]);
			a->opts.reason = a->owned[1];
			break;
		case CLI_KEY_RESULT:
			a->opts.has_result = 1;
			rc = parse_result(arg, &a->opts.result);
			break;
		case CLI_KEY_REASON:
			if (a->owned[1])
				return both("reason");
			a->opts.reason = arg;
			break;
		case CLI_KEY_VALUE: a->opts.value = arg; break;
		case CLI_KEY_TAKE_TIMEOUT:
			rc = cli_parse_seconds(CMD, "--take-timeout", arg, &take);
			/* ours: 0 means "do not wait"; the runtime's is < 0 */
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
	if (a->opts.failure_reason && (a->opts.has_result || a->opts.reason || a->opts.value))
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "--failure-reason is for failure pauses; "
				 "--result/--reason/--value for checkpoints and "
				 "questions: use one kind");
	a->opts.attach = a->attach.paths;
	a->opts.nattach = a->attach.n;
	a->opts.max_attachment_size = a->attach.max_size;
	return 0;
}

static const char *result_name(const lp_pause_info *info, const char *ref)
{
	return info && info->pause_id ? info->pause_id : ref;
}

/* The runtime's line: {"pause_id","kind","status","run_id","nodeid"} and,
 * with --attach, "attachments":[{"name","sha256","size"}, ...] */
static int print_json(const lp_pause_info *info, const char *ref, int attached)
{
	char *line = NULL;

	if (lp_resume_outcome_json(&line, info, ref, attached) != LP_OK)
		return -1;
	cli_print_line(stdout, line); /* U+2028 etc. as \uHHHH: still the same JSON */
	free(line);
	return 0;
}

static void print_human(const char *cmd, const lp_pause_info *info, const char *ref, int waited)
{
	const char *kind = info && info->kind ? info->kind : "?";
	const char *nodeid = info && info->nodeid ? info->nodeid : "?";
	int abort = strcmp(cmd, "abort") == 0;

	/* the node id is a test's text: escaped for the terminal */
	if (waited)
		printf("%s %s (%s, ", abort ? "aborted" : "resumed", result_name(info, ref), kind);
	else
		printf("%s command written for %s (%s, ", cmd, result_name(info, ref), kind);
	cli_put_safe(stdout, nodeid);
	printf(waited ? ")\n" : "); not waiting for it to be taken\n");
}

/* Set by SIGINT/SIGTERM; lp_pause_resume's check hook reads it. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static int check_interrupted(void *ud)
{
	(void)ud;
	return interrupted != 0;
}

/* SIGINT/SIGTERM set the flag (no SA_RESTART: sleeps end early). */
static void catch_signals(struct sigaction old[2])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

int cli_resume_run(const char *cmd, const char *ref, const char *pause_dir, int json,
		   lp_resume_options *opts)
{
	lp_pause_info *info = NULL;
	lp_store *store = NULL;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	struct sigaction old[2];
	const char *dir;
	int rc, exit_code = CLI_EXIT_OK;

	hooks.check = check_interrupted;
	hooks.slice_ms = 20;
	opts->hooks = &hooks;
	catch_signals(old);
	rc = cli_store_open_for_ref(pause_dir, ref, &store, &dir);
	if (rc == LP_OK)
		rc = lp_pause_resume(&info, store, ref, opts);
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	opts->hooks = NULL;
	if (rc != LP_OK)
		exit_code = cli_lp_error(cmd, rc);
	else if (json && print_json(info, ref, opts->nattach > 0) != 0)
		exit_code = cli_error(cmd, CLI_EXIT_ERROR, "cannot build the JSON output");
	else if (!json)
		print_human(cmd, info, ref, opts->take_timeout >= 0);
	lp_pause_info_free(info);
	lp_store_free(store);
	return exit_code;
}

int cmd_resume(int argc, char **argv)
{
	struct resume_args a;
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc == 0)
		rc = cli_resume_run(CMD, a.ref, a.c.pause_dir, a.c.json, &a.opts);
	free(a.owned[0]);
	free(a.owned[1]);
	cli_attach_free(&a.attach);
	return cli_finish(CMD, rc < 0 ? CLI_EXIT_OK : rc);
}
