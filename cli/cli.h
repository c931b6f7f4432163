/*
 * cli.h - declarations shared by the files of the pytest-live-pause command:
 * the exit codes, the subcommand and option tables, and the helpers of
 * options.c (parsing, help) and output.c (printing, errors).
 *
 * The CLI is a client of liblivepause: it includes livepause.h and nothing
 * else of the runtime.
 */
#ifndef LP_CLI_H
#define LP_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "livepause.h"

#define CLI_PROG "pytest-live-pause"

/* Exit codes of every command; cli_exit_code() maps runtime errors here. */
enum cli_exit {
	CLI_EXIT_OK = 0,             /* success */
	CLI_EXIT_ERROR = 1,          /* I/O or other runtime error */
	CLI_EXIT_USAGE = 2,          /* bad option, value or combination */
	CLI_EXIT_NOTFOUND = 3,       /* no such pause, run or directory */
	CLI_EXIT_STALE = 4,          /* pending, but its process is gone */
	CLI_EXIT_RESUMED = 5,        /* already resumed by another command */
	CLI_EXIT_TIMEDOUT = 6,       /* the pause already timed out */
	CLI_EXIT_ABORTED = 7,        /* the pause was aborted */
	CLI_EXIT_NOTTAKEN = 8,       /* command written, not taken in time */
	CLI_EXIT_RUNENDED = 9,       /* watch: the run is no longer active */
	CLI_EXIT_WATCH_TIMEOUT = 10, /* watch: no pause before --timeout */
	CLI_EXIT_UNSAFE = 11,        /* the pause directory is unsafe */
	CLI_EXIT_NOEVAL = 20,        /* eval/exec: the run lacks --pause-allow-eval */
	CLI_EXIT_NOACTION = 21,      /* do: no such action at that pause */
	CLI_EXIT_RAISED = 22,        /* eval/exec/do: the code raised (answer printed) */
	CLI_EXIT_REQ_TIMEOUT = 23,   /* eval/exec/do: stopped by its --timeout */
	CLI_EXIT_INTERRUPTED = 130,  /* SIGINT or SIGTERM */
};

/* The one mapping from an lp_error code to an exit code. */
int cli_exit_code(int lp_code);

/* ------------------------------------------------------------ commands */

/* A subcommand: argv[0] is its name; returns an exit code. */
typedef int (*cli_handler)(int argc, char **argv);

struct cli_command {
	const char *name;
	cli_handler run;
	const char *summary; /* one line, for the main --help */
};

int cmd_resume(int argc, char **argv);
int cmd_abort(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* execs pytest-live-pause-serve */
int cmd_runs(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_attachment(int argc, char **argv);
int cmd_eval(int argc, char **argv); /* cmd_eval.c: eval, exec and do */
int cmd_exec(int argc, char **argv);
int cmd_do(int argc, char **argv);

/* ------------------------------------------------------------- options */

/* Keys of long-only options (short options use their character). */
enum cli_key {
	CLI_KEY_PAUSE_DIR = 256,
	CLI_KEY_JSON,
	CLI_KEY_RUN_ID,
	CLI_KEY_TIMEOUT,
	CLI_KEY_FAILURE_REASON,
	CLI_KEY_RESULT,
	CLI_KEY_REASON,
	CLI_KEY_TAKE_TIMEOUT,
	CLI_KEY_INTERVAL,
	CLI_KEY_ALL_RUNS,
	CLI_KEY_OLDER_THAN,
	CLI_KEY_DRY_RUN,
	CLI_KEY_FAILURE_REASON_FILE,
	CLI_KEY_REASON_FILE,
	CLI_KEY_VALUE,
	CLI_KEY_ATTACH,
	CLI_KEY_MAX_ATTACHMENT_SIZE,
	CLI_KEY_ARG,
};

/* One row of an option table; a table ends with a row whose name is NULL. */
struct cli_option {
	const char *name;    /* long name, without "--" */
	int key;             /* short option character, or a cli_key */
	int has_arg;         /* no_argument or required_argument */
	const char *metavar; /* argument name in the help, NULL if none */
	const char *help;    /* may hold '\n' for continuation lines */
};

/* Rows of the common options, used by the one table of them in options.c
 * (a subcommand never lists them: struct cli_spec) and by the main
 * command's table (--help). */
#define CLI_OPT_HELP {"help", 'h', no_argument, NULL, "show this help and exit"}
#define CLI_OPT_PAUSE_DIR                                                                          \
	{"pause-dir", CLI_KEY_PAUSE_DIR, required_argument, "DIR",                                 \
	 "pause directory (default: $" LP_ENV_DIR ",\nthen $TMPDIR/pytest-live-pause)"}
/* The resumer's attachments (resume, abort): see cli_attach_add(). */
#define CLI_OPT_ATTACH                                                                             \
	{"attach", CLI_KEY_ATTACH, required_argument, "FILE",                                      \
	 "attach FILE (repeatable): copied into the run's\nblob store before the command is written"}
#define CLI_OPT_MAX_ATTACHMENT_SIZE                                                                \
	{"max-attachment-size", CLI_KEY_MAX_ATTACHMENT_SIZE, required_argument, "BYTES",           \
	 "refuse an --attach file over BYTES (suffix K, M\nor G: KiB, MiB, GiB; default 64M)"}
#define CLI_OPT_END {NULL, 0, 0, NULL, NULL}

#define CLI_OPTIONS_MAX 16

/* The options every subcommand may take besides its own, in one table
 * (options.c) that cli_command_init() merges into the command's
 * getopt_long table after its own rows, and handled there, never by the
 * command: -h/--help (always: prints the help), --pause-dir DIR (checked
 * non-empty) and --json. */
enum {
	CLI_COMMON_PAUSE_DIR = 1 << 0,
	CLI_COMMON_JSON = 1 << 1,
};

/* What the common options gave. */
struct cli_common {
	const char *pause_dir; /* --pause-dir DIR, or NULL */
	int json;              /* --json was given */
};

/* A subcommand's command line: its own options, the common ones it
 * takes, and what its --help says around the generated option list.
 * A new subcommand (about 60 lines; cmd_show.c is one): a cli_spec, a
 * handler that calls cli_command_init(), takes its own keys from
 * cli_parser_next() (on -1 it returns cli_finish(name, p.exit_code)), its
 * positionals (cli_ref_argument), opens the store with
 * cli_store_open(common.pause_dir, ...), calls the runtime, prints and
 * returns through cli_finish(); plus one row in dispatch.c. */
struct cli_spec {
	const char *name;              /* "resume" (error messages) */
	const char *usage;             /* after "usage: pytest-live-pause " */
	const char *about;             /* paragraphs, each line ending in '\n' */
	const struct cli_option *opts; /* its own options, or NULL */
	unsigned common;               /* CLI_COMMON_* it takes (--help: always) */
	const char *json_help;         /* with CLI_COMMON_JSON: what --json prints */
	const int *exits;              /* exit codes that apply, ending with -1 */
	const char *examples;          /* lines ending in '\n' */
};

/* getopt_long state built from an option table. */
struct cli_parser {
	const char *cmd; /* for error messages: "resume", or NULL for main */
	int argc;
	char **argv;
	const struct cli_spec *spec; /* cli_command_init(): handles the common options */
	struct cli_common *common;
	int exit_code; /* after cli_parser_next() returned -1 */
	struct option longopts[CLI_OPTIONS_MAX + 1];
	char shortopts[3 + 2 * CLI_OPTIONS_MAX];
};

/* Start parsing a subcommand's argv (argv[0] is its name): the getopt_long
 * table of spec->opts and the common options spec->common names, *common
 * cleared. cli_parser_next() then returns only the command's own options.
 * Returns 0, or -1 if the table is too big (a bug: CLI_OPTIONS_MAX). */
int cli_command_init(struct cli_parser *p, const struct cli_spec *spec, struct cli_common *common,
		     int argc, char **argv);
/* The one positional argument <pause_id | pause file> of show, resume...:
 * 0 with *ref set, else a usage error printed and CLI_EXIT_USAGE (missing,
 * empty, or more than one). Call after cli_parser_next() returned 0. */
int cli_ref_argument(const struct cli_parser *p, const char **ref);
/* A subcommand's --help: usage, about, its options then the common ones,
 * exit codes, examples. */
void cli_print_spec_help(FILE *fp, const struct cli_spec *spec);

/* Build the getopt_long tables of `opts` and reset getopt. With
 * stop_at_command, parsing stops at the first non-option (the main
 * command's subcommand name). Returns 0, or -1 if the table is too big. */
int cli_parser_init(struct cli_parser *p, const char *cmd, const struct cli_option *opts, int argc,
		    char **argv, int stop_at_command);
/* The next option: its key (> 0) with *arg its argument or NULL; 0 when
 * the options are done (positional arguments are argv[optind..argc-1]);
 * -1 when the command must stop and exit with p->exit_code:
 * CLI_EXIT_USAGE after printing a usage error, or (cli_command_init
 * parsers) CLI_EXIT_OK after printing --help. The common options of a
 * cli_command_init() parser are handled here and never returned. */
int cli_parser_next(struct cli_parser *p, const char **arg);

/* The option list alone (used by the main --help). */
void cli_print_options(FILE *fp, const struct cli_option *opts);

/* Parse SECONDS: a finite number >= 0. On a bad value prints a usage error
 * naming `option` and returns CLI_EXIT_USAGE; 0 on success. */
int cli_parse_seconds(const char *cmd, const char *option, const char *text, double *out);

/* Parse BYTES: digits with an optional K, M or G suffix (KiB, MiB,
 * GiB), at least 1. On a bad value prints a usage error naming `option`
 * and returns CLI_EXIT_USAGE; 0 on success. */
int cli_parse_size(const char *cmd, const char *option, const char *text, unsigned long long *out);

/* The files of --attach, in order (argv's strings, borrowed). */
struct cli_attach {
	const char **paths;
	size_t n;
	unsigned long long max_size; /* --max-attachment-size; 0: default */
};
/* Add one --attach FILE; 0, or an exit code after printing the error
 * (more than LP_ATTACH_COUNT_MAX files, out of memory). */
int cli_attach_add(const char *cmd, struct cli_attach *a, const char *path);
void cli_attach_free(struct cli_attach *a);

/* Check a --pause-dir value (non-empty); 0 or CLI_EXIT_USAGE. */
int cli_check_pause_dir(const char *cmd, const char *dir);

/* Usage errors for positional arguments: 0 when argv[first..argc-1] has
 * exactly `want` entries, else prints the error and returns
 * CLI_EXIT_USAGE. `what` names the missing argument. */
int cli_check_positionals(const char *cmd, int argc, char **argv, int first, int want,
			  const char *what);

/* Open the pause directory for reading (never created): dir_opt is the
 * --pause-dir value or NULL. *dir_out is the resolved path. Returns an
 * lp_error code. */
int cli_store_open(const char *dir_opt, lp_store **out, const char **dir_out);
/* Like cli_store_open, but a REF that is a path without --pause-dir needs
 * no store (*out = NULL, *dir_out = NULL). */
int cli_store_open_for_ref(const char *dir_opt, const char *ref, lp_store **out,
			   const char **dir_out);

/* ------------------------------------------------- resume and abort */

/* Read a reason from path ("-": standard input) for option `opt` of
 * command `cmd`: one trailing newline removed; a NUL byte or more than
 * 1 MiB refused. 0 with *out malloc'd, or an exit code (cmd_resume.c). */
int cli_read_reason_file(const char *cmd, const char *opt, const char *path, char **out);
/* Hand opts to lp_pause_resume() for pause `ref` (Ctrl-C and SIGTERM stop the
 * wait for the take), then print the outcome: "resumed|aborted <id>
 * (<kind>, <nodeid>)" or with json one object {pause_id, kind, status,
 * run_id, nodeid}. Returns the exit code (cmd_resume.c). */
int cli_resume_run(const char *cmd, const char *ref, const char *pause_dir, int json,
		   lp_resume_options *opts);

/* -------------------------------------------------------------- output */

/* Write text escaped for the terminal (lp_text_terminal_safe), on one
 * line. */
void cli_put_safe(FILE *fp, const char *text);

/* The store's warn hook (lp_store_set_warn): one line on stderr,
 * "pytest-live-pause: warning: MESSAGE", for what a reader skipped. */
void cli_warning(void *ud, const char *message);

/* "pytest-live-pause <cmd>: error: <message>" on one stderr line, with
 * " (see 'pytest-live-pause <cmd> --help')" when exit_code is
 * CLI_EXIT_USAGE. cmd may be NULL (the main command). Returns exit_code. */
int cli_error(const char *cmd, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The runtime's last error for `lp_code`; returns cli_exit_code(lp_code). */
int cli_lp_error(const char *cmd, int lp_code);

/* Flush stdout; on a write error print it and return CLI_EXIT_ERROR,
 * else return exit_code. Every command returns through this. */
int cli_finish(const char *cmd, int exit_code);

/* Print the exit-code table rows for `codes` (ending with -1), or every
 * row when codes is NULL. */
void cli_print_exit_codes(FILE *fp, const int *codes);

/* Print `text` on one line, made safe for a terminal (lp_text_terminal_safe:
 * raw newlines and every other control character escaped visibly). A
 * compact JSON line stays the same JSON: jansson escapes C0 controls and
 * emits valid UTF-8, and the \uHHHH this adds for C1, U+2028, U+2029 and
 * bidi controls are JSON escapes of the same characters. */
void cli_print_line(FILE *fp, const char *text);
/* Print `text` as lines made safe for a terminal (LF and TAB kept, every
 * other control escaped visibly), ending with a newline. */
void cli_print_text(FILE *fp, const char *text);

enum {
	CLI_PAUSE_DETAILS = 1 << 0, /* show: created_at, timeout, host... */
};
/* A pause as "key: value" lines, in this order: pause_id, kind, run_id,
 * nodeid, state, [status], pid, worker_id (if any), [hostname, cwd,
 * created_at, timeout], task (checkpoints), question (questions) or
 * original_failure (failures; continuation lines indented by two
 * spaces), choices (if any: "a | b"), location (checkpoints and
 * questions: file:line), once ended the verdict (resolved_by,
 * finished_at, then result (checkpoints), value (questions, choices),
 * reason (checkpoints, questions, an abort of any kind) and
 * failure_reason (failures)), pause_file, resume (the command to run;
 * only while pending). The [keys] come with CLI_PAUSE_DETAILS. Every
 * text is escaped for the terminal. The resume command is
 * lp_resume_hint() for info->pause_dir, as the runtime writes it. Write
 * errors are caught by cli_finish(). */
void cli_print_pause(FILE *fp, const lp_pause_info *info, unsigned flags);

/* Age of a pause for tables: "12s", "5m", "3h", "2d". */
void cli_format_age(char *buf, size_t size, double created_at);
/* The same at a given time `now` (cli_now(): the wall clock in seconds
 * since the epoch, 0 when unknown), for a table of many rows. */
void cli_format_age_at(char *buf, size_t size, double created_at, double now);
double cli_now(void);

/* A text table: the first row added is the header; every column but the
 * last is padded to its widest cell. */
#define CLI_TABLE_MAX_COLS 16
struct cli_table {
	size_t ncols;
	size_t nrows;
	size_t width[CLI_TABLE_MAX_COLS]; /* of each column's widest cell */
	char *text;                       /* the cells, escaped, each NUL-terminated, row by row */
	size_t len, cap;
};
/* 0, or -1 when ncols is 0 or above CLI_TABLE_MAX_COLS. */
int cli_table_init(struct cli_table *t, size_t ncols);
/* Copy a row of ncols cells (NULL prints as "-"), each made safe for a
 * terminal (lp_text_terminal_safe, one line); 0 or -1 (memory). */
int cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(FILE *fp, const struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* The whole command line: parse global options, dispatch to a command,
 * return the exit code (dispatch.c; main.c only calls it). */
int cli_main(int argc, char **argv);

#endif /* LP_CLI_H */
