/*
 * cmd_eval.c - `pytest-live-pause eval`, `exec` and `do`: run code or a
 * named action inside a paused test, through lp_request_send(), which
 * checks everything (the pause is pending, eval is allowed in its run, the
 * action exists, the arguments are well formed) before writing, and waits
 * for the answer. The pause stays pending; `resume` ends it. This file
 * parses the command line and prints the answer.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_option code_options[] = {
	{"timeout", CLI_KEY_TIMEOUT, required_argument, "SECONDS",
	 "stop the code after this long (default 10, at\nmost 3600); the test "
	 "keeps waiting"},
	CLI_OPT_END,
};

static const struct cli_option do_options[] = {
	{"arg", CLI_KEY_ARG, required_argument, "NAME=VALUE",
	 "a keyword argument of the action (a string;\nrepeatable)"},
	{"timeout", CLI_KEY_TIMEOUT, required_argument, "SECONDS",
	 "stop the action after this long (default 10)"},
	CLI_OPT_END,
};

#define CODE_JSON_HELP                                                                             \
	"print one JSON object: ok, repr, stdout, stderr,\nerror, duration_ms, timed_out, ..."
#define DO_JSON_HELP                                                                               \
	"print one JSON object: ok, data, files, stdout,\nstderr, error, duration_ms, ..."

static const int code_exits[] = {
	CLI_EXIT_OK,          CLI_EXIT_ERROR,       CLI_EXIT_USAGE,
	CLI_EXIT_NOTFOUND,    CLI_EXIT_STALE,       CLI_EXIT_RESUMED,
	CLI_EXIT_TIMEDOUT,    CLI_EXIT_ABORTED,     CLI_EXIT_NOTTAKEN,
	CLI_EXIT_UNSAFE,      CLI_EXIT_NOEVAL,      CLI_EXIT_RAISED,
	CLI_EXIT_REQ_TIMEOUT, CLI_EXIT_INTERRUPTED, -1,
};

static const int do_exits[] = {
	CLI_EXIT_OK,          CLI_EXIT_ERROR,       CLI_EXIT_USAGE,
	CLI_EXIT_NOTFOUND,    CLI_EXIT_STALE,       CLI_EXIT_RESUMED,
	CLI_EXIT_TIMEDOUT,    CLI_EXIT_ABORTED,     CLI_EXIT_NOTTAKEN,
	CLI_EXIT_UNSAFE,      CLI_EXIT_NOACTION,    CLI_EXIT_RAISED,
	CLI_EXIT_REQ_TIMEOUT, CLI_EXIT_INTERRUPTED, -1,
};

#define CODE_ABOUT_COMMON                                                                                                \
	"The pause stays pending: eval, exec and do are a conversation, and "                                            \
	"resume\nstill ends it. Only a pytest run started with "                                                         \
	"--pause-allow-eval (ini\npause_allow_eval = true) runs code: "                                                  \
	"otherwise the command is refused\n(exit 20) and nothing is written. "                                           \
	"The code runs on the paused process's\nmain thread, in the test's "                                             \
	"frame: for a failure pause the failing test\nfunction's (its locals, "                                          \
	"its fixtures by name), for a checkpoint its caller's;\n`item` and "                                             \
	"`request` are there too. Names bound by exec stay for the later\n"                                              \
	"eval and exec of the same pause. What it prints on sys.stdout and\n"                                            \
	"sys.stderr is shown (each text capped at 1 MiB, marked when cut). An "                                          \
	"exception\nis printed as its traceback (exit 22) and never ends the "                                           \
	"test; code that\nruns past --timeout is interrupted (exit 23). CODE "                                           \
	"'-' reads it from\nstandard input; put -- before an EXPR that starts with '-'. Every request is logged in the " \
	"run's events.jsonl (the\ncode, who, ok, duration; never the value).\n"

static const struct cli_spec eval_help = {
	.name = "eval",
	.usage = "eval <pause_id | pause file> EXPR [--timeout SECONDS] [--json]\n"
		 "         [--pause-dir DIR]",
	.about = "Evaluate a Python expression in a paused test and print its "
		 "repr.\n\n" CODE_ABOUT_COMMON,
	.opts = code_options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = CODE_JSON_HELP,
	.exits = code_exits,
	.examples = "  " CLI_PROG " eval 27be4cbca5ab.79688e30 'response.status_code'\n"
		    "  " CLI_PROG " eval 27be4cbca5ab.79688e30 'device.battery()' --json\n"
		    "  " CLI_PROG " eval 27be4cbca5ab.79688e30 'sorted(item.fixturenames)'\n",
};

static const struct cli_spec exec_help = {
	.name = "exec",
	.usage = "exec <pause_id | pause file> CODE [--timeout SECONDS] [--json]\n"
		 "         [--pause-dir DIR]",
	.about = "Run Python statements in a paused test (assignments stay for "
		 "later eval\nand exec of the same pause).\n\n" CODE_ABOUT_COMMON,
	.opts = code_options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = CODE_JSON_HELP,
	.exits = code_exits,
	.examples = "  " CLI_PROG " exec 27be4cbca5ab.79688e30 'r = client.get(\"/health\")'\n"
		    "  " CLI_PROG " eval 27be4cbca5ab.79688e30 'r.json()'\n"
		    "  " CLI_PROG " exec 27be4cbca5ab.79688e30 - < inspect.py\n",
};

static const struct cli_spec do_help = {
	.name = "do",
	.usage = "do <pause_id | pause file> ACTION [--arg NAME=VALUE ...]\n"
		 "         [--timeout SECONDS] [--json] [--pause-dir DIR]",
	.about = "Run a named action in a paused test: a function the test "
		 "suite registered\nwith @pytest_live_pause.action(\"NAME\") (in a "
		 "conftest.py), called with the\npaused item and the --arg "
		 "values as keyword arguments (strings). It needs\nno "
		 "--pause-allow-eval. `show <pause_id>` lists the actions a pause "
		 "offers;\nanother name is refused (exit 21) and nothing is "
		 "written. Prints the\naction's result as one JSON line, then a "
		 "line \"file: PATH\" for each file it\nreturned. The pause stays "
		 "pending; an exception is printed as its\ntraceback (exit 22) and "
		 "an action past --timeout is interrupted (exit 23).\n",
	.opts = do_options,
	.common = CLI_COMMON_JSON | CLI_COMMON_PAUSE_DIR,
	.json_help = DO_JSON_HELP,
	.exits = do_exits,
	.examples = "  " CLI_PROG " do 27be4cbca5ab.79688e30 screenshot\n"
		    "  " CLI_PROG " do 27be4cbca5ab.79688e30 logcat --arg lines=200 --json\n",
};

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

/* Read all of standard input (CODE '-'), at most LP_REQUEST_CODE_MAX + 1
 * bytes (one more is refused by the runtime as too long). NULL on error. */
static char *read_stdin(const char *cmd)
{
	size_t cap = LP_REQUEST_CODE_MAX + 1, len = 0;
	char *buf = malloc(cap + 1);
	if (buf == NULL) {
		cli_error(cmd, CLI_EXIT_ERROR, "out of memory");
		return NULL;
	}
	while (len < cap) {
		size_t n = fread(buf + len, 1, cap - len, stdin);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(stdin)) {
		free(buf);
		cli_error(cmd, CLI_EXIT_ERROR, "cannot read the code from standard input");
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* The last non-empty line of a traceback: "ValueError: bad". */
static void last_line(const char *text, char *buf, size_t size)
{
	const char *end = text + strlen(text), *start;
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	snprintf(buf, size, "%.*s", (int)(end - start), start);
}

static int print_answer(const char *cmd, const char *id, lp_request_type type, const lp_answer *a,
			int json)
{
	if (json) {
		cli_print_line(stdout, a->json ? a->json : "{}");
	} else {
		if (a->out_text && *a->out_text)
			cli_print_text(stdout, a->out_text);
		if (a->err_text && *a->err_text) {
			fflush(stdout);
			cli_print_text(stderr, a->err_text);
		}
		if (a->ok && type == LP_REQUEST_EVAL)
			cli_print_text(stdout, a->repr ? a->repr : "");
		if (a->ok && type == LP_REQUEST_ACTION) {
			cli_print_line(stdout, a->data_json ? a->data_json : "null");
			for (size_t i = 0; i < a->nfiles; i++) {
				fputs("file: ", stdout);
				cli_print_line(stdout, a->files[i]);
			}
		}
		if (!a->ok && a->error && !a->timed_out) {
			fflush(stdout);
			cli_print_text(stderr, a->error);
		}
	}
	if (a->ok)
		return CLI_EXIT_OK;
	const char *what = type == LP_REQUEST_ACTION ? "the action"
			   : type == LP_REQUEST_EXEC ? "the code"
						     : "the expression";
	if (a->timed_out)
		return cli_error(
			cmd, CLI_EXIT_REQ_TIMEOUT,
			"%s ran past its --timeout in pause %s and was interrupted; the test keeps waiting",
			what, id);
	char last[512];
	last_line(a->error ? a->error : "", last, sizeof last);
	return cli_error(cmd, CLI_EXIT_RAISED, "%s failed in pause %s: %s; the test keeps waiting",
			 what, id, last[0] ? last : "(no message)");
}

static int run(lp_request_type type, const struct cli_spec *spec, int argc, char **argv)
{
	const char *cmd = spec->name;
	struct cli_parser p;
	struct cli_common common;
	const char *arg, *dir;
	lp_request_options o = LP_REQUEST_OPTIONS_INIT;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	lp_answer answer = {0};
	lp_store *store = NULL;
	char *code = NULL;
	const char **args = calloc((size_t)argc + 1, sizeof *args);
	size_t nargs = 0;
	int key, rc, exit_code;

	if (args == NULL)
		return cli_error(cmd, CLI_EXIT_ERROR, "out of memory");
	o.type = type;
	if (cli_command_init(&p, spec, &common, argc, argv) != 0) {
		free(args);
		return CLI_EXIT_ERROR;
	}
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case CLI_KEY_ARG: args[nargs++] = arg; break;
		case CLI_KEY_TIMEOUT:
			if (cli_parse_seconds(cmd, "--timeout", arg, &o.timeout) ||
			    (o.timeout == 0 &&
			     cli_error(cmd, CLI_EXIT_USAGE, "--timeout must be above 0"))) {
				free(args);
				return CLI_EXIT_USAGE;
			}
			break;
		}
	}
	if (key < 0) {
		free(args);
		return cli_finish(cmd, p.exit_code);
	}
	if (cli_check_positionals(cmd, argc, argv, optind, 2,
				  type == LP_REQUEST_ACTION ? "<pause_id> and ACTION arguments"
				  : type == LP_REQUEST_EXEC ? "<pause_id> and CODE arguments"
							    : "<pause_id> and EXPR arguments")) {
		free(args);
		return CLI_EXIT_USAGE;
	}
	const char *ref = argv[optind], *what = argv[optind + 1];
	if (!*ref) {
		free(args);
		return cli_error(cmd, CLI_EXIT_USAGE, "the pause id or pause file is empty");
	}
	if (type == LP_REQUEST_ACTION) {
		o.action = what;
		o.args = args;
	} else if (strcmp(what, "-") == 0) {
		if ((code = read_stdin(cmd)) == NULL) {
			free(args);
			return CLI_EXIT_ERROR;
		}
		o.code = code;
	} else {
		o.code = what;
	}
	if (type != LP_REQUEST_ACTION && nargs) {
		free(args);
		free(code);
		return cli_error(cmd, CLI_EXIT_USAGE, "--arg is for do");
	}
	struct sigaction sa, old[2];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	hooks.check = check_interrupted;
	hooks.slice_ms = 50;
	o.hooks = &hooks;
	rc = cli_store_open_for_ref(common.pause_dir, ref, &store, &dir);
	if (rc == LP_OK)
		rc = lp_request_send(&answer, store, ref, &o);
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	if (rc != LP_OK)
		exit_code = cli_lp_error(cmd, rc);
	else
		exit_code = print_answer(cmd, ref, type, &answer, common.json);
	lp_answer_clear(&answer);
	lp_store_free(store);
	free(code);
	free(args);
	return cli_finish(cmd, exit_code);
}

int cmd_eval(int argc, char **argv)
{
	return run(LP_REQUEST_EVAL, &eval_help, argc, argv);
}

int cmd_exec(int argc, char **argv)
{
	return run(LP_REQUEST_EXEC, &exec_help, argc, argv);
}

int cmd_do(int argc, char **argv)
{
	return run(LP_REQUEST_ACTION, &do_help, argc, argv);
}
