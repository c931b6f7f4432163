/*
 * livepause.h - the one public header of liblivepause, the pytest-live-pause
 * runtime.
 *
 * The runtime owns the pause directory and its protocol (docs/protocol.md):
 * creating runs and pauses, writing and validating resume commands, waiting
 * for a command, deciding liveness, appending events and listing pauses. It
 * knows nothing of pytest or Python; the CLI and the CPython extension are
 * both clients of this header only.
 *
 * Conventions (after libgit2):
 *   - every name starts with lp_ / LP_;
 *   - a function that can fail returns int: LP_OK (0) or a negative
 *     lp_error code; the message of the last error of this thread is
 *     lp_error_message() and is never NULL;
 *   - handles are opaque and their _free() accepts NULL;
 *   - option structs start with a version field; initialise them with the
 *     matching _INIT macro;
 *   - every function of the API is declared LP_API: liblivepause.so is
 *     built with hidden visibility, so what is not LP_API is not exported
 *     (the ABI rule at 0.x is in docs/library.md);
 *   - names are noun_verb: the object first, then what is done to it
 *     (lp_store_list, lp_pause_resume, lp_run_watch, lp_store_gc);
 *   - out-parameters come first (lp_pause_info_load(&info, store, ref)),
 *     then the object, then the inputs;
 *   - error codes name distinct things: LP_ETIMEDOUT is a pause that
 *     timed out, LP_EWAITTIMEOUT a wait of ours that ran out of time;
 *   - the runtime's internal functions and types (lib/internal.h) are
 *     named lpi_ (JSON helpers lpj_): nothing named lp_ is internal.
 */
#ifndef LIVEPAUSE_H
#define LIVEPAUSE_H

#include <math.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a function exported by liblivepause.so (the rest of the library
 * is compiled with -fvisibility=hidden). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define LP_API __attribute__((visibility("default")))
#else
#define LP_API
#endif

#define LP_VERSION "0.2.0"
/* 2: typed commands (action, token), unknown command fields ignored.
 * 3: typed answers (a command's "value", a pause's "choices", the kind
 *    "question"), an abort's "reason" and the run stopped on abort
 *    (docs/protocol.md). */
#define LP_PROTOCOL_VERSION 3

/* Default pause directory and the environment variable that overrides it. */
#define LP_DEFAULT_DIR "/tmp/pytest-live-pause"
#define LP_ENV_DIR "PYTEST_LIVE_PAUSE_DIR"

/* Bounds on identifiers: see lp_id_validate(). */
#define LP_ID_MAX 64

/* ------------------------------------------------------------------ errors */

typedef enum lp_error {
	LP_OK = 0,
	LP_ERROR = -1,        /* I/O or system error (message names the path) */
	LP_EINVAL = -2,       /* a bad argument: id, option value, combination */
	LP_ENOTFOUND = -3,    /* no such pause or run */
	LP_EUNSAFE = -4,      /* the pause directory is not safe to use */
	LP_ESTALE = -5,       /* pending, but the paused process is gone */
	LP_ERESUMED = -6,     /* already resumed (by another command) */
	LP_ETIMEDOUT = -7,    /* the pause already timed out */
	LP_EABORTED = -8,     /* the pause was aborted (Ctrl-C, SIGTERM) */
	LP_EWAITTIMEOUT = -9, /* a wait of ours ran out of time */
	LP_EINTR = -10,       /* a wait stopped because the check hook said so */
	LP_EBADCMD = -11,     /* a command or pause file is malformed */
	LP_ERUNENDED = -12,   /* the run is no longer active */
	LP_ENOTTAKEN = -13,   /* command written, not taken in time */
	LP_EKIND = -14,       /* option does not fit the pause's kind */
	LP_ENOEVAL = -20,     /* eval/exec refused: the run lacks --pause-allow-eval */
	LP_ENOACTION = -21,   /* no such named action at that pause */
} lp_error;

/* Message of the last error on this thread; never NULL ("" if none). */
LP_API const char *lp_error_message(void);
/* Code of the last error on this thread (LP_OK if none). */
LP_API int lp_error_last(void);
/* Short stable name of a code, e.g. "LP_ESTALE". */
LP_API const char *lp_error_name(int code);

/* --------------------------------------------------------------- ids */

/* Validate an id: 1..LP_ID_MAX bytes of [A-Za-z0-9._-], not "." or "..".
 * what names the id in the error message ("pause id", "run id"). */
LP_API int lp_id_validate(const char *id, const char *what);

/* ------------------------------------------------- text for people */

/*
 * Text that came from a test or a resumer (node ids, tasks, failure
 * texts, reasons, host names, paths) is data: print it only through
 * lp_text_terminal_safe(). It replaces, with visible ASCII escapes,
 * everything that could drive a terminal or split a line for a reader:
 * TAB, LF, CR as \t \n \r; other C0 controls and DEL as \xHH; C1
 * controls (U+0080..U+009F), U+2028, U+2029 and the bidirectional
 * controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) as
 * \uHHHH; each byte of invalid UTF-8 as \xHH. Anything else, including
 * a backslash, is unchanged. With LP_TEXT_MULTILINE, LF and TAB are
 * kept (the caller indents continuation lines). text may hold NULs
 * (len bytes are read) and may be NULL when len is 0. *out is
 * malloc'd; free() it.
 */
enum {
	LP_TEXT_MULTILINE = 1 << 0, /* keep LF and TAB */
};
LP_API int lp_text_terminal_safe(char **out, const char *text, size_t len, unsigned flags);
/* 1 when lp_text_terminal_safe() would give the len bytes at text back
 * unchanged (nothing in them is escaped), else 0: a caller that holds
 * the text already keeps it instead of a copy. */
LP_API int lp_text_is_terminal_safe(const char *text, size_t len, unsigned flags);

/* Quote `word` for a POSIX shell: unchanged when non-empty and only
 * [A-Za-z0-9@%+:,./_-], else single-quoted with each ' as '\''.
 * *out is malloc'd; free() it. */
LP_API int lp_shell_quote(char **out, const char *word);

/* One compact JSON object line of n string members, keys in the order
 * given (a NULL value is null), with every character that could split a
 * line or drive a terminal escaped (as in every JSON the runtime dumps:
 * U+0085, U+2028, U+2029, C1 and bidirectional controls, DEL). *out is
 * malloc'd; free() it. */
LP_API int lp_json_object_line(char **out, const char *const *keys, const char *const *values,
			       size_t n);

/* ------------------------------------------------------------- store */

typedef struct lp_store lp_store;

enum {
	LP_STORE_CREATE = 1 << 0, /* create the directory (0700) if missing */
};

/* Resolve the pause directory: explicit (may be NULL) > $PYTEST_LIVE_PAUSE_DIR
 * > the default directory, <temp>/pytest-live-pause, where <temp> is the
 * first usable of $TMPDIR, $TEMP, $TMP, /tmp, /var/tmp, /usr/tmp (as
 * Python's tempfile.gettempdir(), which 0.1.1 uses); when that directory
 * exists and belongs to another user, <temp>/pytest-live-pause-<uid>
 * instead (LP_DEFAULT_DIR is the usual value). Returns the given string or
 * a thread-local buffer valid until the next call on this thread. */
LP_API const char *lp_store_default_path(const char *explicit_path);

/* Open (and with LP_STORE_CREATE, create) a pause directory. Refuses,
 * with LP_EUNSAFE and a message naming the fix, a directory that is a
 * symlink, is owned by another user, or is writable by group or others.
 * The default directory (by any spelling of its path) must be 0700: one
 * of ours that is only readable by others (0.1.1 made it 0755) is
 * tightened to 0700, and lp_store_notice() says so. */
LP_API int lp_store_open(lp_store **out, const char *path, unsigned flags);
LP_API const char *lp_store_path(const lp_store *store);
/* "" or one line to show the user once: the default directory was
 * tightened to 0700, or the per-user default is used because the shared
 * one belongs to another user. */
LP_API const char *lp_store_notice(const lp_store *store);
LP_API void lp_store_free(lp_store *store);
/* Publish a small file of a client at the top of the pause directory
 * (e.g. "serve.json"): mode 0600, written to a temporary name, flushed,
 * renamed over `name`. name must be a valid id (lp_id_validate) and not
 * one of the protocol's own names (runs, pending, catalog.tsv): else
 * LP_EINVAL. lp_store_unlink() removes it (LP_OK if it was absent). */
LP_API int lp_store_publish(lp_store *store, const char *name, const char *data, size_t len);
LP_API int lp_store_unlink(lp_store *store, const char *name);
/* For a client that resumes many pauses (the server): make ahead the
 * file the next command will be written into, if none is kept yet (an
 * unnamed file, O_TMPFILE, in the store's filesystem), so that writing a
 * command creates no file on the way to the paused process (creating a
 * file is most of what a resume costs on ext4). lp_pause_resume() uses
 * the kept one and keeps none; call this again after each resume, off
 * the path that waits (the server: once its response is sent). Cheap when
 * one is kept; safe from any thread. LP_OK (also where the filesystem has
 * no unnamed files: then nothing is kept), LP_ERROR (message set). */
LP_API int lp_store_warm(lp_store *store);
/* Whether a client file of that name is published now: 1 or 0 (one
 * fstatat), LP_EINVAL for a name lp_store_publish() refuses. The plugin
 * asks it for "serve.json" before it writes a run's progress after tests:
 * with no dashboard running, nothing is written. */
LP_API int lp_store_published(lp_store *store, const char *name);

/* Readers (lp_store_list, lp_run_watch) skip a run directory, pause file or catalog
 * inside the store that fails the trust rule (another user's, a symlink,
 * writable by group or others: docs/protocol.md "Trust") instead of
 * failing. With a hook set, each skip is reported to it, as a message
 * naming the path and the fix, every time it happens (a watch looks
 * again and again: the hook decides what to repeat); fn may be NULL (the
 * default: silent). Set it before the store is shared between threads;
 * fn is then called from any of them. */
typedef void (*lp_warn_fn)(void *ud, const char *message);
LP_API void lp_store_set_warn(lp_store *store, lp_warn_fn fn, void *ud);

/* --------------------------------------------------------------- runs */

typedef struct lp_run lp_run;

typedef struct lp_run_options {
	unsigned version;
	const char *run_id;     /* NULL: generate one */
	const char *worker_id;  /* NULL unless a worker (pytest-xdist) */
	const char *cwd;        /* NULL: getcwd() */
	const char *extra_json; /* NULL or a JSON object merged into run.json */
	/* version 2: NULL, or the program's arguments, NULL-terminated,
	 * recorded (bounded, see docs/protocol.md) as run.json's "argv" */
	const char *const *argv;
	/* version 3: pytest's rootdir (NULL: not recorded) and whether the
	 * run's pauses may run code (--pause-allow-eval), recorded as
	 * run.json's "rootdir" and "allow_eval" */
	const char *rootdir;
	int allow_eval;
} lp_run_options;
#define LP_RUN_OPTIONS_VERSION 3
#define LP_RUN_OPTIONS_INIT {LP_RUN_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0}

/* Create runs/<run_id>/ with run.json, events.jsonl, pauses/ and commands/,
 * owned by this process, and log "run_started". */
LP_API int lp_run_start(lp_run **out, lp_store *store, const lp_run_options *opts);
/* Join a run started by another process of the same session (an xdist
 * worker joining its controller's run); logs "worker_joined". */
LP_API int lp_run_join(lp_run **out, lp_store *store, const lp_run_options *opts);
LP_API const char *lp_run_id(const lp_run *run);
/* Mark the run ended in run.json (owner only) and log "run_ended". */
LP_API int lp_run_end(lp_run *run, int exitstatus);
/* Append an event of type `event` with the fields of `fields_json` (a JSON
 * object text, or NULL) to events.jsonl. */
LP_API int lp_run_event(lp_run *run, const char *event, const char *fields_json);
/* Stop the run (a pause took an abort command of another process: the
 * runtime calls this then, before the pause file is final): record
 * runs/<run_id>/aborted.json {pause_id, nodeid, reason, worker_id, pid,
 * aborted_at}, created exclusively (the first abort of a run is kept; a
 * later one is LP_OK and changes nothing), and log "run_aborted". Every
 * process of the run (xdist workers too) then sees it with
 * lp_run_aborted() and starts no further test. reason may be NULL. */
LP_API int lp_run_abort(lp_run *run, const char *pause_id, const char *nodeid, const char *reason);
/* Whether the run was stopped by lp_run_abort() (in any of its
 * processes): 0 (one fstatat), or 1 with *nodeid and *reason (NULL if
 * none) malloc'd, free() them; or a negative lp_error. */
LP_API int lp_run_aborted(lp_run *run, char **nodeid, char **reason);
/* A run's tests so far, as its pytest counted the reports (the
 * dashboard's live progress, docs/protocol.md "progress.json"). */
typedef struct lp_progress {
	unsigned version;
	unsigned long passed, failed, errors, skipped, xfailed, xpassed;
	long collected; /* tests collected; -1: unknown */
} lp_progress;
#define LP_PROGRESS_VERSION 1
#define LP_PROGRESS_INIT {LP_PROGRESS_VERSION, 0, 0, 0, 0, 0, 0, -1}
/* Record p, with the time, as runs/<run_id>/progress.json: replaced
 * atomically but not flushed (advisory: a crash may lose the last one).
 * How often is the caller's choice (the plugin: at most once a second,
 * when a pause begins and at the end of the session). LP_EINVAL for a
 * NULL or unknown-version p. */
LP_API int lp_run_progress(lp_run *run, const lp_progress *p);
/* The last progress a run recorded, as one compact JSON object {"passed",
 * "failed", "errors", "skipped", "xfailed", "xpassed", "collected",
 * "updated_at"} in *json (malloc'd; free() it); LP_ENOTFOUND when it
 * recorded none (a run of an older version, or no test ended yet). */
LP_API int lp_run_progress_load(char **json, lp_store *store, const char *run_id);
LP_API void lp_run_free(lp_run *run);

/* ------------------------------------------------------------- pauses */

typedef enum lp_kind {
	LP_KIND_FAILURE = 0,
	LP_KIND_CHECKPOINT = 1,
	LP_KIND_QUESTION = 2, /* protocol 3: a question, answered by a value */
} lp_kind;

/* A checkpoint verdict: true, false, or none. */
typedef enum lp_result {
	LP_RESULT_NONE = -1,
	LP_RESULT_FALSE = 0,
	LP_RESULT_TRUE = 1,
} lp_result;

typedef enum lp_outcome {
	LP_OUTCOME_RESUMED = 0,
	LP_OUTCOME_TIMED_OUT = 1,
	LP_OUTCOME_ABORTED = 2,
} lp_outcome;

/* What a command asks for: the action alone decides the outcome (the
 * command's "by" is provenance only). docs/protocol.md, "The command file". */
typedef enum lp_action {
	LP_ACTION_RESUME = 0,  /* resume with the verdict: resumed */
	LP_ACTION_ABORT = 1,   /* end without a verdict: aborted */
	LP_ACTION_TIMEOUT = 2, /* the deadline's own claim: timed_out */
} lp_action;

LP_API const char *lp_kind_name(lp_kind kind); /* "failure", "checkpoint", "question" */
/* The kind of a name: LP_OK, or LP_EINVAL (no message) for another. */
LP_API int lp_kind_parse(const char *name, lp_kind *out);
LP_API const char *lp_outcome_name(lp_outcome outcome); /* "resumed", ... */
LP_API const char *lp_action_name(lp_action action);    /* "resume", "abort", "timeout" */
/* The outcome an action gives: resume -> resumed, abort -> aborted,
 * timeout -> timed_out. */
LP_API lp_outcome lp_action_outcome(lp_action action);

/* The command a person or agent runs to resume a pause of `kind`:
 * "pytest-live-pause resume <id> [--pause-dir <dir>] <verdict options>",
 * words shell-quoted; pause_dir NULL leaves --pause-dir out (the
 * default directory). *out is malloc'd; free() it. */
LP_API int lp_pause_resume_command(char **out, const char *pause_id, lp_kind kind,
				   const char *pause_dir);
/* The resume hint every reader shows for a pause (the pause file's
 * resume_command, `show`, `watch`): for a pause with choices (NULL, or a
 * NULL-terminated list such as lp_pause_info.choices) "--value 'a|b|c'",
 * else the verdict options of `kind` as lp_pause_resume_command() gives
 * them; --pause-dir pause_dir (e.g. lp_pause_info.pause_dir) unless
 * pause_dir is NULL or is the directory a command picks without
 * --pause-dir (lp_store_default_path(NULL) when absolute; compared
 * lexically normal). *out is malloc'd; free() it. */
LP_API int lp_resume_hint(char **out, const char *pause_id, lp_kind kind,
			  const char *const *choices, const char *pause_dir);

/* Log "checkpoint_mocked" with the checkpoint's nodeid, task and the
 * mocked result (a checkpoint --pause-checkpoint-mock answered at once;
 * texts bounded as lp_run_event()'s). */
LP_API int lp_run_checkpoint_mocked(lp_run *run, const char *nodeid, const char *task,
				    lp_result result);
/* Contract: --pause-max. Count one failure that asks to pause against the
 * run's budget of `max` (>= 0) failure pauses, shared by every process of
 * the run (runs/<run_id>/failure_pauses, under an exclusive flock).
 * *allowed: 1 for the first max asks of the run, else 0; *first_refused
 * (may be NULL): 1 for the one ask right after them, so that one process
 * says that failures no longer pause. LP_EINVAL for a NULL run or
 * allowed or a negative max; LP_ERROR (I/O), LP_EUNSAFE (not our file). */
LP_API int lp_run_failure_quota(int *allowed, int *first_refused, lp_run *run, long max);

/* Threads: a store is immutable after lp_store_open() and may be shared
 * by any number of threads for every call that takes it (listing,
 * loading, resuming, watchers, feeds); a watcher or feed belongs to the
 * caller that opened it (a feed may also be shared, see lp_feed_next()).
 * A run and its pauses may be used from several threads only if calls on
 * one pause are not concurrent. A run outlives its pauses;
 * lp_pause_free() of a pause still pending ends it as aborted. */
typedef struct lp_pause lp_pause;
/* An attachment of a pause (see "attachments" below). */
typedef struct lp_attachment lp_attachment;

typedef struct lp_pause_options {
	unsigned version;
	lp_kind kind;
	const char *nodeid;           /* pytest node id, or any test name */
	const char *task;             /* checkpoint task, NULL for failures */
	const char *original_failure; /* failure text, NULL for checkpoints */
	double timeout;               /* seconds (see lp_timeout_check): 0 times
	                                 out at once, LP_TIMEOUT_FOREVER waits
	                                 until resumed */
	const char *extra_json;       /* NULL or JSON object merged in */
	/* version 2 */
	const char *const *choices; /* NULL, or a NULL-terminated list of
	                                 1..LP_CHOICES_MAX distinct non-empty
	                                 strings: the values a resume may give
	                                 (checkpoints, questions) */
	const char *location;       /* NULL, or the caller's "file:line" */
	/* version 3: files of the test already stored by lp_run_attach(),
	 * listed in the pause file (each blob must exist; at most
	 * LP_ATTACH_COUNT_MAX and LP_ATTACH_TOTAL_MAX bytes: else LP_EINVAL) */
	const lp_attachment *attachments;
	size_t nattachments;
} lp_pause_options;
#define LP_PAUSE_OPTIONS_VERSION 3
#define LP_PAUSE_OPTIONS_INIT                                                                      \
	{LP_PAUSE_OPTIONS_VERSION,                                                                 \
	 LP_KIND_FAILURE,                                                                          \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 LP_TIMEOUT_FOREVER,                                                                       \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 0}
#define LP_CHOICES_MAX 64 /* choices of one pause, each at most 1 KiB */

/* Pause timeouts, as 0.1.1 reads them: the deadline is created_at +
 * timeout, so 0 means the pause times out at once; waiting until resumed
 * is spelled inf. */
#define LP_TIMEOUT_FOREVER ((double)INFINITY)
#define LP_TIMEOUT_MAX 1e9 /* seconds (31 years); more is surely a mistake */
/* The one rule for a pause timeout, applied by lp_pause_begin() and by
 * the plugin at start: LP_OK for 0..LP_TIMEOUT_MAX seconds or
 * LP_TIMEOUT_FOREVER; LP_EINVAL (one-line message naming `what`) for a
 * negative, larger or NaN value. */
LP_API int lp_timeout_check(double seconds, const char *what);
/* Parse a timeout text ("300", "0.5", "0", "inf") by the same rule:
 * surrounding blanks allowed, nothing else after the number. */
LP_API int lp_timeout_parse(double *out, const char *text, const char *what);

/* What ended a pause. Strings are owned by the struct; release them with
 * lp_resolution_clear(), which is safe on a zeroed struct. The struct is
 * filled only when the call returns LP_OK. */
typedef struct lp_resolution {
	lp_outcome outcome;   /* decided by the action of the command taken */
	char *by;             /* provenance: "cli", "timeout", "abort", "signal",
	                         "file" (a command without "by") ... */
	lp_result result;     /* checkpoints */
	char *reason;         /* checkpoints; NULL if none */
	char *failure_reason; /* failures; NULL if none */
	char *command_json;   /* the command file as taken, NULL on none */
	lp_action action;     /* the action of the command taken */
	char *token;          /* its token; NULL if it had none */
	char *ignored_json;   /* JSON array of the command fields not used */
	int own;              /* lp_pause_claim: the command taken is this
	                         call's own (0: another resolver won) */
	char *warning;        /* NULL, or what could not be recorded (disk
	                         full, directory gone): the outcome stands */
	char *value;          /* checkpoints with choices, questions: the
	                         value given; NULL if none */
	/* the resumer's attachments (source "resume"), each blob verified
	 * (present, its bytes match its sha256) before the command was taken */
	lp_attachment *attachments;
	size_t nattachments;
} lp_resolution;
LP_API void lp_resolution_clear(lp_resolution *res);

/* Write pauses/<pause_id>.json (status "pending"), index it as pending and
 * log "pause_started". */
LP_API int lp_pause_begin(lp_pause **out, lp_run *run, const lp_pause_options *opts);
LP_API const char *lp_pause_id(const lp_pause *pause);
/* Absolute path of the pause file. */
LP_API const char *lp_pause_path(const lp_pause *pause);
/* The resume command a person or agent should run for this pause. */
LP_API const char *lp_pause_resume_hint(const lp_pause *pause);

struct lp_request;
struct lp_answer;
/* Hooks of a wait, always called on the waiting thread. check() is called when wake_fd becomes readable (after
 * the fd is drained), when a system call is interrupted, and at least every
 * slice_ms; a non-zero return stops the wait with LP_EINTR. on_rejected()
 * reports a command that was refused (the pause keeps waiting). */
typedef struct lp_wait_hooks {
	unsigned version;
	int wake_fd;  /* -1: none; must be O_NONBLOCK (it is drained) */
	int slice_ms; /* 0: default (50 ms) */
	int (*check)(void *ud);
	void (*on_rejected)(void *ud, const char *message);
	void *ud;
	/* version 2: lp_pause_wait() hands each request to the paused
	 * process (eval, exec, a named action: lib/request.c) to this hook,
	 * then goes on waiting. It fills *answer and returns 0; non-zero
	 * stops the wait (LP_EINTR) as check() does, the request answered
	 * as interrupted. NULL: requests are answered "not taken here". */
	int (*on_request)(void *ud, const struct lp_request *request, struct lp_answer *answer);
} lp_wait_hooks;
#define LP_WAIT_HOOKS_VERSION 2
#define LP_WAIT_HOOKS_INIT {LP_WAIT_HOOKS_VERSION, -1, 0, NULL, NULL, NULL, NULL}

/* Block until a valid resume command is taken or the pause's deadline
 * passes (then the pause is claimed as timed out). On LP_OK `out` holds
 * the outcome and the pause file and events record it. Returns LP_EINTR,
 * the pause still pending, when hooks->check() asked to stop; the caller
 * then ends it with lp_pause_claim(). hooks may be NULL. */
LP_API int lp_pause_wait(lp_resolution *out, lp_pause *pause, const lp_wait_hooks *hooks);

/* End the pause from its own process: claim it with a command of
 * `action` (which alone decides the outcome), provenance `by` ("signal",
 * "abort", "timeout", ...; required) and the fields of fields_json (NULL
 * or an object: failure_reason for failures, result and reason for
 * checkpoints, and signal, payload, user; anything else is LP_EINVAL,
 * nothing written). LP_EINVAL too once the pause has ended. If another
 * resolver already claimed it, that command is taken instead (out->own
 * is 0). Either way `out` says what happened; if the claim cannot be
 * written (commands/ unwritable, the directory deleted), the pause ends
 * with this action unclaimed and out->warning says so. */
LP_API int lp_pause_claim(lp_resolution *out, lp_pause *pause, lp_action action, const char *by,
			  const char *fields_json);
/* The abort fallback (Ctrl-C, SIGTERM, an exception while paused):
 * lp_pause_claim(out, pause, LP_ACTION_ABORT, "abort", {"signal": signal_name})
 * where signal_name ("SIGINT", "SIGTERM") may be NULL. */
LP_API int lp_pause_abort(lp_resolution *out, lp_pause *pause, const char *signal_name);
LP_API void lp_pause_free(lp_pause *pause);

/* ---------------------------------------------- reading pauses (readers) */

/* The state of a pause as readers see it: its recorded status, or stale
 * (pending, but the paused process is gone). LP_STATE_UNKNOWN for a
 * status this version does not know (a file of a later version). */
typedef enum lp_state {
	LP_STATE_PENDING = 0,
	LP_STATE_STALE = 1,
	LP_STATE_RESUMED = 2,
	LP_STATE_TIMED_OUT = 3,
	LP_STATE_ABORTED = 4,
	LP_STATE_UNKNOWN = 5,
} lp_state;
/* "pending", "stale", "resumed", "timed_out", "aborted", "unknown". */
LP_API const char *lp_state_name(lp_state state);

/* One pause as read. The typed fields (kind_code, state_code,
 * status_code, result) are the facts; kind, state and status are their
 * names as written in the file (kept for printing). The verdict is set
 * once the pause has ended and is read from its pause file (a pause
 * listed from the catalog by lp_store_list(LP_LIST_ALL) has none: NULL, 0;
 * with LP_LIST_JSON its json has them, and so has every listing object). */
typedef struct lp_pause_info {
	char *pause_id;
	char *run_id;
	char *kind;           /* "failure" | "checkpoint" */
	char *status;         /* as recorded: pending|resumed|timed_out|aborted */
	char *state;          /* derived: status, or "stale" */
	lp_kind kind_code;    /* typed kind */
	lp_state state_code;  /* typed state */
	lp_state status_code; /* typed recorded status (never STALE) */
	/* the verdict, once ended */
	char *resolved_by;    /* "cli", "timeout", "abort", "signal", "file", ...; NULL if none */
	char *failure_reason; /* failures: the reason given; NULL if none */
	lp_result result;     /* checkpoints: the verdict; LP_RESULT_NONE if none */
	char *reason;         /* checkpoints: the reason; NULL if none */
	double finished_at;   /* seconds since the epoch; 0 while pending */
	char *nodeid;
	char *task;             /* NULL if none */
	char *original_failure; /* NULL if none */
	char *hostname;
	char *cwd;
	char *worker_id;      /* NULL if none */
	char *path;           /* absolute path of the pause file */
	char *pause_dir;      /* absolute path of its pause directory */
	char *resume_command; /* the command to resume it (NULL if unknown) */
	double created_at;
	double timeout;
	long pid;
	char *json;     /* the pause file, re-serialised, plus "state" and
	                           "path" (one line); NULL from lp_store_list()
	                           without LP_LIST_JSON */
	char *question; /* questions: the question; NULL otherwise */
	char **choices; /* nchoices values a resume may give, then NULL;
	                           NULL if none */
	size_t nchoices;
	char *location; /* the caller's "file:line"; NULL if unknown */
	char *value;    /* once ended: the value given; NULL if none */
	int protocol;   /* the paused process's protocol (0: 0.1.1) */
	/* the pause file's "attachments" (every source), as listed: blobs
	 * not checked (see lp_pause_info_check_attachments) */
	lp_attachment *attachments;
	size_t nattachments;
} lp_pause_info;

/* Load one pause by id or by the path of its pause file. With a path,
 * store may be NULL: the path names its own pause directory. Ids of any
 * shape are found: ours name their run; any other (0.1.1's bare UUIDs)
 * is looked for in the runs the catalog does not know. */
LP_API int lp_pause_info_load(lp_pause_info **out, lp_store *store, const char *ref);
LP_API void lp_pause_info_free(lp_pause_info *info);

enum {
	LP_LIST_ALL = 1 << 0,  /* all states, not only resumable pending ones */
	LP_LIST_JSON = 1 << 1, /* fill info->json (else NULL: cheaper) */
};
/* Call cb for each pause, oldest first; `info` is valid only during the
 * call. A non-zero cb return (use positive values, distinct from lp_error
 * codes) stops the listing and is returned. Without LP_LIST_ALL only the pending index is
 * read, so the cost does not grow with the number of old runs. */
typedef int (*lp_store_list_cb)(const lp_pause_info *info, void *ud);
LP_API int lp_store_list(lp_store *store, unsigned flags, lp_store_list_cb cb, void *ud);

/* ----------------------------------------------------- resuming (writers) */

typedef struct lp_resume_options {
	unsigned version;
	const char *failure_reason; /* failures only */
	int has_result;             /* checkpoints: result was given */
	lp_result result;
	const char *reason;         /* checkpoints, questions; with
	                               LP_ACTION_ABORT, any kind: why */
	double take_timeout;        /* seconds to wait for the take; 0 means
	                               the default (5 s); < 0: do not wait */
	const char *by;             /* provenance; NULL: "cli" */
	lp_action action;           /* LP_ACTION_RESUME; others need a pause
	                               of protocol >= 2 (else LP_EINVAL) */
	const lp_wait_hooks *hooks; /* NULL, or check() to stop the wait for
	                               the take (Ctrl-C): see lp_pause_resume */
	/* version 2 */
	const char *value; /* checkpoints with choices (one of them),
	                               questions; needs protocol >= 3 */
	/* version 3: files to attach (source "resume"), copied into the
	 * run's blob store before the command is published; each at most
	 * max_attachment_size bytes (0: LP_ATTACH_SIZE_DEFAULT), and with the
	 * pause's own within LP_ATTACH_COUNT_MAX and LP_ATTACH_TOTAL_MAX:
	 * else LP_EINVAL, nothing written */
	const char *const *attach;
	size_t nattach;
	unsigned long long max_attachment_size;
} lp_resume_options;
#define LP_RESUME_OPTIONS_VERSION 3
#define LP_RESUME_OPTIONS_INIT                                                                     \
	{LP_RESUME_OPTIONS_VERSION, NULL, 0,    LP_RESULT_NONE, NULL, 0.0, NULL,                   \
	 LP_ACTION_RESUME,          NULL, NULL, NULL,           0,    0}

/* Resume a pause by id or pause-file path (with a path, store may be
 * NULL: the path names its own pause directory): check the options fit its kind
 * (LP_EKIND, nothing written), refuse stale (LP_ESTALE) or already ended
 * pauses (LP_ERESUMED, LP_ETIMEDOUT, LP_EABORTED: the message says who
 * won), build the command and check it against the paused process's own
 * rules and caps (LP_EINVAL, nothing written: too large, or an action the
 * pause's protocol lacks), claim it by creating its command file
 * exclusively with a unique token, then wait until the paused process has
 * taken it (LP_ENOTTAKEN if not in time) and confirm that the verdict it
 * recorded carries that token: if another command was taken (the claim
 * was replaced), LP_ERESUMED (or LP_ETIMEDOUT, LP_EABORTED) saying so.
 * opts->hooks->check() returning non-zero stops the wait: LP_EINTR if
 * nothing was written yet, LP_ENOTTAKEN (the command stands and will be
 * taken) after. On return *info_out (may be NULL) holds the pause as last
 * read. */
LP_API int lp_pause_resume(lp_pause_info **info_out, lp_store *store, const char *ref,
			   const lp_resume_options *opts);
/*
 * A pause made ready to resume, for a client that resumes pauses it has
 * seen come (the server: on each pause_created of its feed): what
 * lp_pause_resume() reads before it writes (the run's directories, the
 * pause file, a hold on the paused process: a pidfd), read once by
 * lp_pause_prepare(), so that lp_pause_resume_prepared() later only
 * looks whether it changed (one fstatat(2); the file is read again if it
 * did) and whether the process still lives (one poll(2)), then does
 * exactly what lp_pause_resume() does, with the same results. It holds
 * five descriptors until lp_prepared_free(). Use one from one thread at a
 * time; it may be resumed again (an ended pause then says so).
 * lp_pause_prepare's errors are lp_pause_resume's before it writes
 * (LP_ENOTFOUND, LP_EBADCMD, ...).
 */
typedef struct lp_prepared lp_prepared;
LP_API int lp_pause_prepare(lp_prepared **out, lp_store *store, const char *ref);
LP_API int lp_pause_resume_prepared(lp_pause_info **info_out, lp_prepared *p,
				    const lp_resume_options *opts);
/* The pause's id (as lp_pause_prepare resolved ref), and its run's. */
LP_API const char *lp_prepared_pause_id(const lp_prepared *p);
LP_API const char *lp_prepared_run_id(const lp_prepared *p);
LP_API void lp_prepared_free(lp_prepared *p);
/* The line `resume --json` (and `abort --json`) prints for a pause it
 * resumed (one compact JSON object): {"pause_id", "kind", "status",
 * "run_id", "nodeid"} of info as lp_pause_resume() returned it, and with
 * with_attachments "attachments": [{"name", "sha256", "size"}, ...] of
 * the attachments the resume gave (source "resume"); with info NULL,
 * pause_id is `ref` and the others are null. *out is malloc'd; free() it. */
LP_API int lp_resume_outcome_json(char **out, const lp_pause_info *info, const char *ref,
				  int with_attachments);

/* ------------------------------------------------------------ watching */

typedef struct lp_run_info {
	char *run_id;
	char *state; /* "active" | "ended" | "stale" (owner gone) */
	char *hostname;
	char *cwd;
	long pid;
	double started_at;
	char *json;
	double ended_at;    /* 0 while not ended */
	int has_exitstatus; /* exitstatus was recorded */
	int exitstatus;
} lp_run_info;
LP_API int lp_run_info_load(lp_run_info **out, lp_store *store, const char *run_id);
LP_API void lp_run_info_free(lp_run_info *info);
/* Every run of a store: lp_store_runs() (lib/runs.c). */

/* Watching one run. A watcher belongs to its caller (nothing of it is
 * kept in the store); free it with lp_watcher_free(), which accepts NULL.
 * lp_run_watch_open(): LP_ENOTFOUND for an unknown run, LP_EINVAL for a
 * bad id or a NULL argument. */
typedef struct lp_watcher lp_watcher;
LP_API int lp_run_watch_open(lp_watcher **out, lp_store *store, const char *run_id);
/* Report the latest pending pause of the run that this watcher has not
 * reported yet at once, or wait (event driven, bounded) for the next one.
 * LP_OK with *out set (free it); LP_ERUNENDED when the run ends or its
 * owner dies; LP_EWAITTIMEOUT after `timeout` seconds (<= 0: no limit);
 * LP_EINTR if hooks->check() says so. */
LP_API int lp_watcher_next(lp_pause_info **out, lp_watcher *w, double timeout,
			   const lp_wait_hooks *hooks);
/* With all set, lp_watcher_next() reports pauses in any state (stale,
 * resumed, timed_out, aborted too), latest first: 0.1.1's `watch -a`.
 * LP_EINVAL for a NULL watcher. */
LP_API int lp_watcher_set_all(lp_watcher *w, int all);
/* Closing a watcher that waited costs a kernel RCU grace period (~8 ms):
 * print what it reported first. */
LP_API void lp_watcher_free(lp_watcher *w);

/* One-shot lp_run_watch_open() + lp_watcher_next() + lp_watcher_free(). */
LP_API int lp_run_watch(lp_pause_info **out, lp_store *store, const char *run_id, double timeout,
			const lp_wait_hooks *hooks);

/* ---------------------------------------------------- the change feed */

/*
 * A store-wide change feed: every run started or ended and every pause
 * created or ended, in any run, numbered 1, 2, ... in the order this feed
 * observed them. It is event driven (inotify on runs/, pending/ and the
 * active runs, with a bounded backstop read every second for NFS, a lost
 * event or an owner that died) and keeps the last LP_FEED_KEEP events
 * (fewer when their JSON passes LP_FEED_KEEP_BYTES), so a reader resumes
 * from any recent position; an older one gets the oldest kept, with
 * `missed` saying how many it skipped. New pauses are found in
 * each active run's events.jsonl, read from where the last read stopped
 * (its pause_created lines; 0.1.1 processes write them too), and in the
 * pending/ index for runs whose log cannot be followed. A read costs what
 * changed since the last one, and what a feed remembers is bounded by
 * the pauses open and pending, not by how many a run has had.
 */
typedef struct lp_feed lp_feed;

#define LP_FEED_KEEP 4096
#define LP_FEED_KEEP_BYTES ((size_t)4 << 20)

typedef enum lp_feed_kind {
	LP_FEED_RUN_STARTED = 0,
	LP_FEED_RUN_ENDED = 1, /* ended, or its owner is gone ("stale") */
	LP_FEED_PAUSE_CREATED = 2,
	LP_FEED_PAUSE_ENDED = 3, /* resumed, timed out or aborted */
} lp_feed_kind;
/* "run_started", "run_ended", "pause_created", "pause_ended". */
LP_API const char *lp_feed_kind_name(lp_feed_kind kind);

/* One event; release its strings with lp_feed_event_clear() (safe on a
 * zeroed struct). */
typedef struct lp_feed_event {
	unsigned long long seq;    /* its position (>= 1) */
	unsigned long long missed; /* events between the position asked for
				      and this one that were no longer kept */
	lp_feed_kind kind;
	char run_id[LP_ID_MAX + 1];
	char pause_id[LP_ID_MAX + 1]; /* "" for run events */
	char *json;                   /* pauses: the object of lp_pause_info.json as read when
		       observed; runs: lp_run_info.json */
} lp_feed_event;
LP_API void lp_feed_event_clear(lp_feed_event *ev);

/* Open a feed on store (which must outlive it) at the store's present
 * state: what exists now is not reported, only what changes after. */
LP_API int lp_feed_open(lp_feed **out, lp_store *store);
/* The position of the last event observed so far (0: none yet). */
LP_API unsigned long long lp_feed_head(lp_feed *feed);
/* A random name of this feed (16 hex digits), so that a position kept by
 * a client can be recognised as one of this feed's. */
LP_API const char *lp_feed_name(const lp_feed *feed);
/* The first event after position `after`, waiting for it up to `timeout`
 * seconds (0: do not wait; < 0: no limit). LP_OK with *out filled;
 * LP_EWAITTIMEOUT when none came in time; LP_EINTR if hooks->check() says so.
 * Any number of threads may call this at once on one feed: one of them
 * reads the directory, the others wait for what it finds. hooks->check()
 * is called before each read and at least every slice_ms while waiting
 * for another thread; the reading thread waits for hooks->wake_fd or the
 * backstop (1 s) only. */
LP_API int lp_feed_next(lp_feed_event *out, lp_feed *feed, unsigned long long after, double timeout,
			const lp_wait_hooks *hooks);
LP_API void lp_feed_free(lp_feed *feed);

/* ------------------------------------------------ every run (lib/runs.c) */

/* One run as "runs" lists it. Strings are owned by the listing and valid
 * only during the callback. */
typedef struct lp_run_summary {
	const char *run_id;
	const char *state; /* "active" | "ended" | "stale" (owner gone) */
	const char *hostname;
	const char *cwd;
	long pid; /* the run's controller */
	double started_at;
	double ended_at;    /* 0: not ended (active, or stale) */
	int has_exitstatus; /* ended with a recorded exit status */
	int exitstatus;
	/* its pauses by state, counted as "ls -a" lists them */
	size_t pending, stale, resumed, timed_out, aborted;
	const char *json; /* with LP_RUNS_JSON: the run as one JSON object,
				 {"run_id","state","pid","hostname","cwd",
				 "started_at","ended_at","exitstatus","pauses":
				 {"pending",..,"aborted"}}, else NULL; valid
				 until the callback returns */
} lp_run_summary;

enum {
	LP_RUNS_ALL = 1 << 0,  /* also ended and stale runs */
	LP_RUNS_JSON = 1 << 1, /* fill lp_run_summary.json */
};
typedef int (*lp_runs_cb)(const lp_run_summary *run, void *ud);
/* Call cb for each run of the directory (only active ones without
 * LP_RUNS_ALL), oldest first. Reads catalog.tsv, pending/ and runs/
 * once; run.json only for runs the catalog has not seen end, and the
 * pause files only of runs it does not know (as lp_store_list() does), so the
 * cost of 10,000 ended runs is one pass over the catalog. A non-zero cb
 * return stops the listing and is returned. */
LP_API int lp_store_runs(lp_store *store, unsigned flags, lp_runs_cb cb, void *ud);

/* Report the next pending pause of any run: at once the oldest one
 * pending now, else wait (on the change feed, event driven) for one to
 * begin. LP_OK with *out set (free it); LP_EWAITTIMEOUT after `timeout`
 * seconds (<= 0: no limit); LP_EINTR if hooks->check() says so. */
LP_API int lp_store_watch(lp_pause_info **out, lp_store *store, double timeout,
			  const lp_wait_hooks *hooks);

/* ---------------------------------------------- removing old runs (lib/gc.c) */

/* One thing gc removed (or, in a dry run, would remove). */
typedef struct lp_gc_item {
	const char *what;  /* "run" (runs/<id>/ and all in it), "pending" (a
			      pending/ entry of no live pause), "leftover" (a
			      directory an interrupted gc left in runs/) */
	const char *id;    /* run id, pause id, or the leftover's name */
	const char *path;  /* absolute */
	const char *state; /* runs: "ended" or "stale"; else NULL */
	double ended_at;   /* runs: when it ended (stale: its last change) */
} lp_gc_item;

typedef struct lp_gc_options {
	unsigned version;
	double older_than; /* seconds >= 0: runs that ended before now - this */
	int dry_run;       /* decide and report, remove nothing */
	/* called once if another gc holds the directory's gc lock, before
	 * waiting for it; may be NULL */
	void (*on_wait)(void *ud);
	/* called for each item, after it is removed (dry run: when decided);
	 * a non-zero return stops gc */
	int (*on_item)(const lp_gc_item *item, void *ud);
	void *ud;
} lp_gc_options;
#define LP_GC_OPTIONS_VERSION 1
#define LP_GC_OPTIONS_INIT {LP_GC_OPTIONS_VERSION, 0.0, 0, NULL, NULL, NULL}

typedef struct lp_gc_report {
	size_t runs, pending, leftovers;              /* removed (dry run: would be) */
	size_t catalog_lines;                         /* catalog lines dropped */
	size_t kept_active, kept_young, kept_pending; /* runs kept, and why */
} lp_gc_report;

/* Remove the runs that ended (or went stale) more than older_than seconds
 * ago, their pending/ entries, and their lines of catalog.tsv (see
 * docs/protocol.md, "gc"). Never a run whose process is alive, a run
 * with a pending pause, or anything outside the pause directory:
 * everything is removed relative to verified descriptors, without
 * following symlinks (a symlink is removed as a link) or crossing a
 * mount point. One gc at a time per directory (a lock file, gc.lock: a
 * second waits). Safe while pytest processes start, pause and end in the
 * directory. LP_EINVAL for a bad older_than; report may be NULL. */
LP_API int lp_store_gc(lp_gc_report *report, lp_store *store, const lp_gc_options *opts);
/* The lines of `gc --json`, one compact JSON object each (*out malloc'd;
 * free() it): an item, {"event": "removed" | "would_remove", "what",
 * "id", "path", "dry_run"[, "state", "ended_at"]}; and the summary,
 * {"event": "summary", "dry_run", "older_than", "runs", "pending",
 * "leftovers", "catalog_lines", "kept": {"active", "young", "pending"}},
 * of a report and the options lp_store_gc() ran with. */
LP_API int lp_gc_item_json(char **out, const lp_gc_item *item, int dry_run);
LP_API int lp_gc_report_json(char **out, const lp_gc_report *report, const lp_gc_options *opts);

/* ---------------------------------------- attachments (lib/blob.c) */

/*
 * Evidence next to a verdict: files of the test ("test"), of a capture
 * hook ("capture") or of the resumer ("resume"), each stored once by
 * content in its run's blob store, runs/<run_id>/blobs/<sha256>, and
 * listed in the pause file as "attachments" (docs/protocol.md,
 * "Attachments"). A blob is published like every protocol file
 * (temporary name, fsync, rename) and verified (size and SHA-256) before
 * it is handed to a test or written out: one whose bytes do not match is
 * never served.
 */
#define LP_ATTACH_SIZE_DEFAULT (64ULL * 1024 * 1024) /* per file */
#define LP_ATTACH_COUNT_MAX 32                       /* per pause, all sources */
#define LP_ATTACH_TOTAL_MAX (256ULL * 1024 * 1024)   /* bytes per pause */
#define LP_ATTACH_NAME_MAX 255                       /* bytes of a name */
#define LP_SHA256_HEX 64

typedef enum lp_blob_state {
	LP_BLOB_UNCHECKED = 0,
	LP_BLOB_OK = 1,      /* present, size and SHA-256 match */
	LP_BLOB_MISSING = 2, /* no such blob (or not a regular file of ours) */
	LP_BLOB_CORRUPT = 3, /* its bytes do not match: never served */
} lp_blob_state;
/* "unchecked", "ok", "missing", "corrupt". */
LP_API const char *lp_blob_state_name(lp_blob_state state);

/* One attachment. Strings are owned by the struct; release them with
 * lp_attachment_clear() (safe on a zeroed struct). */
struct lp_attachment {
	char *name;                     /* the file's base name, or the name given */
	char sha256[LP_SHA256_HEX + 1]; /* lowercase hex: the blob's name */
	unsigned long long size;
	char *content_type; /* from the name's extension (lp_content_type) */
	char *source;       /* "test", "capture" or "resume" */
	char *path;         /* absolute path of its blob */
	lp_blob_state blob; /* set by the checks that read the blob */
};
LP_API void lp_attachment_clear(lp_attachment *a);

/* The content type for a file name, by its extension (case-insensitive;
 * a small table: images, text, logs, JSON, XML, HTML, video, archives);
 * "application/octet-stream" for any other. Never NULL. */
LP_API const char *lp_content_type(const char *name);

/* Check an attachment name: 1..LP_ATTACH_NAME_MAX bytes of valid UTF-8,
 * no '/', no control character, not "." or "..". LP_EINVAL naming it. */
LP_API int lp_attachment_name_check(const char *name);

/* Store the file at `path` in run's blob store as an attachment of
 * `source` ("test" or "capture") named `name` (NULL: its base name),
 * for a pause of this run to list (lp_pause_options.attachments).
 * The file is refused before anything is written (LP_EINVAL, one line
 * naming it and what to do) when it is missing, unreadable, a symlink,
 * a FIFO, a socket, a device or a directory, or over max_size bytes
 * (0: LP_ATTACH_SIZE_DEFAULT); it is read once, hashed as it is copied
 * to a temporary name, flushed and renamed to blobs/<sha256>. An error
 * while copying (disk full: LP_ERROR) leaves no blob behind. On LP_OK
 * *out is filled (clear it with lp_attachment_clear). */
LP_API int lp_run_attach(lp_run *run, const char *path, const char *name, const char *source,
			 unsigned long long max_size, lp_attachment *out);

/* How many of the first n attachments fit one pause together
 * (LP_ATTACH_COUNT_MAX, LP_ATTACH_TOTAL_MAX); when not all do, *why
 * (may be NULL; malloc'd, free() it) says which cap the next one
 * breaks. */
LP_API size_t lp_attachments_fit(const lp_attachment *list, size_t n, char **why);

/* Read every blob info lists (size, SHA-256) and set each attachment's
 * blob state; info->json, when present, gets "blob": "<state>" in each
 * of its attachments. LP_OK, or LP_ERROR (memory). */
LP_API int lp_pause_info_check_attachments(lp_pause_info *info);

/* Write one attachment of a pause (by id or pause-file path), chosen by
 * `which`: its sha256 (64 hex digits) or its name (LP_EINVAL when the
 * name is ambiguous: give the sha256). The blob is verified as it is
 * copied: with out_path, into a temporary file beside out_path, renamed
 * over it only when every byte matched (never following a symlink at
 * out_path's temporary name); else to out_fd, after a first pass that
 * verified it. A blob that is missing is LP_ENOTFOUND; one whose bytes
 * do not match is LP_EBADCMD and nothing of it is written. *found (may
 * be NULL) gets the attachment (clear it). */
LP_API int lp_attachment_export(lp_store *store, const char *ref, const char *which,
				const char *out_path, int out_fd, lp_attachment *found);
/* ------------------------- code and actions in a paused test (lib/request.c) */

/*
 * A request asks a paused process to run something while it stays paused
 * (docs/protocol.md, "Requests"): evaluate an expression or run
 * statements (only in a run started with --pause-allow-eval), or run a
 * named action its test suite registered. The request and its answer are
 * files in the run's commands/ directory, published exclusively and
 * atomically; the paused process takes them in its wait (lp_pause_wait,
 * through lp_wait_hooks.on_request, on the waiting thread), answers, logs
 * a "request" event (never the value) and goes on waiting: the pause
 * stays pending.
 */
typedef enum lp_request_type {
	LP_REQUEST_EVAL = 0,   /* an expression: its repr */
	LP_REQUEST_EXEC = 1,   /* statements */
	LP_REQUEST_ACTION = 2, /* a named action with keyword arguments */
} lp_request_type;
/* "eval", "exec", "action". */
LP_API const char *lp_request_type_name(lp_request_type type);

#define LP_REQUEST_TIMEOUT_DEFAULT 10.0 /* seconds */
#define LP_REQUEST_TIMEOUT_MAX 3600.0
#define LP_REQUEST_CODE_MAX (64 * 1024)     /* bytes of code */
#define LP_REQUEST_ARGS_MAX 32              /* keyword arguments of an action */
#define LP_REQUEST_OUTPUT_CAP (1024 * 1024) /* each text of an answer, encoded */

/* A request as the paused process's hook sees it (valid during the call). */
typedef struct lp_request {
	lp_request_type type;
	const char *request_id;
	const char *code;   /* eval, exec; NULL for an action */
	const char *action; /* an action's name; NULL otherwise */
	size_t nargs;       /* an action's keyword arguments (string values) */
	const char *const *arg_keys;
	const char *const *arg_values;
	double timeout; /* seconds the code may run */
	const char *by; /* provenance ("cli") */
} lp_request;

/* An answer. The hook fills it with malloc'd strings (NULL where none),
 * which the runtime frees; lp_request_send() fills it from the answer
 * file. Release with lp_answer_clear() (safe on a zeroed struct). */
typedef struct lp_answer {
	int ok;          /* ran to the end (eval: and its repr was made) */
	int timed_out;   /* stopped by the request's timeout */
	char *repr;      /* eval: repr() of the value */
	char *out_text;  /* what it printed on sys.stdout */
	char *err_text;  /* ... on sys.stderr */
	char *error;     /* not ok: the traceback or why */
	char *data_json; /* an action's result as a JSON text */
	char **files;    /* an action's files (paths), nfiles of them */
	size_t nfiles;
	double duration_ms; /* read side: how long it ran */
	char *json;         /* read side: the answer as one JSON object line
			       (ok, repr, stdout, stderr, error, duration_ms,
			       timed_out, type, pause_id, request_id; actions:
			       data, files; "cut" names the texts cut) */
} lp_answer;
LP_API void lp_answer_clear(lp_answer *answer);

/* What this process's pauses offer: code (eval, exec) only with
 * allow_eval, and the named actions (NULL-terminated valid ids; may be
 * NULL). Recorded as the "requests" object of every pause file begun
 * after the call; without a call a pause offers nothing. */
LP_API int lp_run_set_requests(lp_run *run, int allow_eval, const char *const *actions);

/* What a pause (as loaded: info->json) offers: *allow_eval, and
 * *actions, a malloc'd "a, b" list of its action names ("" for none;
 * free() it). LP_ENOTFOUND when the pause records no "requests" (made
 * by a process that takes none); LP_EINVAL without info->json. */
LP_API int lp_pause_offers(int *allow_eval, char **actions, const lp_pause_info *info);

typedef struct lp_request_options {
	unsigned version;
	lp_request_type type;
	const char *code;           /* eval, exec: required, <= LP_REQUEST_CODE_MAX */
	const char *action;         /* action: its name */
	const char *const *args;    /* action: "key=value" texts (key a Python
				    identifier), NULL-terminated; may be NULL */
	double timeout;             /* seconds; 0: LP_REQUEST_TIMEOUT_DEFAULT */
	const char *by;             /* provenance; NULL: "cli" */
	const lp_wait_hooks *hooks; /* NULL, or check() to stop waiting (Ctrl-C) */
} lp_request_options;
#define LP_REQUEST_OPTIONS_VERSION 1
#define LP_REQUEST_OPTIONS_INIT                                                                    \
	{LP_REQUEST_OPTIONS_VERSION, LP_REQUEST_EVAL, NULL, NULL, NULL, 0.0, NULL, NULL}

/* Send a request to a pending pause (by id or pause-file path) and wait
 * for its answer: the options are checked first (LP_EINVAL: a bad
 * argument, code too long, a bad "key=value"), then the pause (ended:
 * LP_ERESUMED, LP_ETIMEDOUT, LP_EABORTED, LP_ESTALE; eval or exec where
 * its run does not allow eval: LP_ENOEVAL; an action it does not offer:
 * LP_ENOACTION), all before anything is written. Then the request file
 * is published exclusively (one request at a time per pause: a second
 * waits its turn) and the answer awaited, event driven and bounded by
 * the timeout plus LP_DEFAULT take time: LP_ENOTTAKEN if none came (the
 * request is withdrawn if still untaken); the pause ending or its process
 * dying first is reported as above. LP_OK with *out filled when answered,
 * whether the code succeeded or not (out->ok). */
LP_API int lp_request_send(lp_answer *out, lp_store *store, const char *ref,
			   const lp_request_options *opts);

/* ------------------------------------------------- QAMule compatibility */

/*
 * QAMule's signal-based pause protocol (docs/qamule.md), on top of the
 * pauses above: a QAMule-mode pause is an ordinary pause that also prints
 * a request (request_id, result_path, signal). The agent may write a JSON
 * object to result_path and then sends the signal; the paused process
 * reads that file with lp_qamule_result_read() and claims its pause with
 * lp_pause_claim(out, pause, ..., "signal", ...). Printing the QAMULE_* lines and
 * catching the signal are the caller's job.
 */

/* Length of a request id: 32 lowercase hex digits. */
#define LP_QAMULE_REQUEST_ID_LEN 32
/* Largest result file read, in bytes (it must fit in a claim's command). */
#define LP_QAMULE_RESULT_CAP (1024 * 1024) /* as upstream delivered (9.12) */

/* What a result file gave; the values are QAMule's outcome classes. */
typedef enum lp_qamule_status {
	LP_QAMULE_OK = 0,             /* a usable result */
	LP_QAMULE_MISSING_RESULT = 1, /* no file at result_path */
	LP_QAMULE_INVALID_RESULT = 2, /* unreadable, not JSON, not an object,
	                                 or (checkpoints) not {result, reason} */
} lp_qamule_status;

/* "ok", "missing_result", "invalid_result". */
LP_API const char *lp_qamule_status_name(lp_qamule_status status);

/* The reading of one result file. Strings are owned by the struct;
 * release them with lp_qamule_result_clear(), safe on a zeroed struct. */
typedef struct lp_qamule_result {
	lp_qamule_status status;
	char *message;      /* missing / invalid: why, in QAMule's words
	                       (the parse message for bad JSON); NULL if ok */
	lp_result result;   /* checkpoints, ok: LP_RESULT_TRUE or _FALSE;
	                       otherwise LP_RESULT_NONE */
	char *reason;       /* checkpoints, ok: "reason", NULL if absent/null */
	char *payload_json; /* ok: the object, compact, sorted keys, reals
	                       exact (17 digits); NULL otherwise */
} lp_qamule_result;
LP_API void lp_qamule_result_clear(lp_qamule_result *res);

/* Make result_dir ready for results: create it (mode 0700, with missing
 * parents) if it does not exist, then verify it by the pause directory's
 * trust rules: LP_EUNSAFE, with a message naming the fix, when it is a
 * symlink, another user's, writable by group or others, or, when its
 * parent is world-writable (a shared directory such as /tmp), open to
 * group or others at all. LP_EINVAL for an empty result_dir, LP_ERROR if
 * it cannot be made or opened. Called at the start of a QAMule-mode
 * session, so that a bad directory is refused before any test runs. */
LP_API int lp_qamule_dir_prepare(const char *result_dir);

/* Create a request: lp_qamule_dir_prepare(result_dir) (its errors), then
 * draw a fresh request id (LP_QAMULE_REQUEST_ID_LEN hex digits and a NUL
 * in request_id) and set *result_path to "<result_dir>/<request_id>.json"
 * (malloc'd; free() it). */
LP_API int lp_qamule_request_new(const char *result_dir,
				 char request_id[LP_QAMULE_REQUEST_ID_LEN + 1], char **result_path);

/* Read, validate and consume the result file at path for a pause of
 * `kind`, after its resume signal. Its directory must pass the checks of
 * lp_qamule_dir_prepare() again (else LP_QAMULE_INVALID_RESULT saying
 * why; a directory that is gone means no file). The file is renamed
 * aside within that verified directory, opened from there without
 * following a symlink, and removed once read, whatever it held: a result
 * is read at most once, so an older one can never stand in for a newer.
 * It must be a regular file owned by this user and at most
 * LP_QAMULE_RESULT_CAP bytes, and is parsed strictly (UTF-8, no duplicate
 * keys). Rules:
 *   - no file: LP_QAMULE_MISSING_RESULT;
 *   - anything refused above, invalid JSON, or a value that is not an
 *     object: LP_QAMULE_INVALID_RESULT;
 *   - failures: any object is LP_QAMULE_OK (payload_json);
 *   - checkpoints: "result" must be a JSON boolean, "reason" (optional) a
 *     string or null, and no other key: else LP_QAMULE_INVALID_RESULT.
 * Returns the status (>= 0, also in out->status), or a negative lp_error
 * (out of memory, bad arguments) with out cleared. */
LP_API int lp_qamule_result_read(const char *path, lp_kind kind, lp_qamule_result *out);

/* One QAMule-mode pause's request: what its lines print and its claim
 * uses. The strings are the caller's. */
typedef struct lp_qamule_request {
	lp_kind kind;
	const char *nodeid;
	const char *request_id;  /* from lp_qamule_request_new() */
	const char *result_path; /* from lp_qamule_request_new() */
	const char *signal;      /* the resume signal's name, "SIGUSR1" */
	long pid;                /* the paused process */
} lp_qamule_request;

/* The fields a QAMule-mode pause adds to its pause file, as the
 * extra_json of lp_pause_options: {"request_id", "result_path",
 * "signal"}. *out is malloc'd; free() it. */
LP_API int lp_qamule_pause_fields(char **out, const lp_qamule_request *req);

/* The QAMULE_PAUSE_EVENT line (no newline) that announces the pause:
 * context (checkpoints: {"task": details}; failures: {"longrepr":
 * details, "outcome": "failed", "when": "call"}), event "qamule.pause",
 * nodeid, pid, reason (the kind), request_id, result_path, signal and
 * timeout_sec (null for LP_TIMEOUT_FOREVER, an integer when whole). Every
 * QAMULE_* line is its prefix, a space and one JSON object as Python's
 * json.dumps(sort_keys=True, ensure_ascii=False) writes it, with the
 * characters that could split a line or drive a terminal escaped.
 * *out is malloc'd; free() it. */
LP_API int lp_qamule_event_line(char **out, const lp_qamule_request *req, const char *details,
				double timeout);

/* How a QAMule-mode pause ended, in QAMule's terms. Release it with
 * lp_qamule_ending_clear(), safe on a zeroed struct. */
typedef struct lp_qamule_ending {
	lp_resolution resolution; /* the runtime's */
	char *outcome;            /* who ended it: "timeout", "abort", or the
	                       resolver's provenance ("signal", "cli", "http",
	                       ...; "file" when it named none) */
	int has_status;           /* outcome "signal": the result file was read */
	lp_qamule_status status;  /* ... and what it gave */
	char *message;            /* ... why it is missing or invalid; NULL if ok */
	char *payload_json;       /* ... ok: the object (uncut), Python's json.dumps
	                       form, for the failure report; NULL otherwise */
	int has_result;           /* QAMULE_PAUSE_RESUME's has_result */
	char *lines;              /* the lines to print, '\n'-separated, no final
	                       newline: QAMULE_PAUSE_RESUME, then after the
	                       signal QAMULE_PAUSE_WARNING (a result that cannot
	                       be used) or, for a failure, QAMULE_PAUSE_RESULT */
	/* agent_checkpoint()'s value (checkpoints) */
	char *checkpoint_outcome; /* outcome, or after the signal the status
	                             when not ok ("missing_result", ...) */
	lp_result result;         /* the verdict; LP_RESULT_NONE after a timeout */
	char *reason;             /* after the signal: the result file's, uncut */
} lp_qamule_ending;
LP_API void lp_qamule_ending_clear(lp_qamule_ending *ending);

/* Contract: end a QAMule-mode pause after its resume signal. Reads and
 * consumes the result file (lp_qamule_result_read), then claims the pause
 * (lp_pause_claim: action resume, by "signal") with the verdict: for a
 * checkpoint the file's result and reason (a reason over 48 KiB is
 * recorded cut, " [cut: N bytes]"; the ending keeps all of it), or for an
 * unusable file result none and the file's message as the reason; for a
 * failure the file's object as "payload" (one over 48 KiB is recorded as
 * {"omitted_bytes": N, "result_path": ...}). If another resolver claimed
 * the pause first, its decision is taken and reported instead. Fills
 * `out` (lp_qamule_ending_from) on LP_OK; flushes files: may block. */
LP_API int lp_qamule_claim(lp_qamule_ending *out, lp_pause *pause, const lp_qamule_request *req);

/* Contract: the ending of a QAMule-mode pause that `res` ended (a wait
 * that returned, or lp_qamule_claim's claim). The outcome is decided by
 * the action (timeout, abort), else named by the provenance; a result
 * file's reading (`reading`, NULL unless the signal won) counts only when
 * the outcome is "signal". Moves res into out->resolution (res is left
 * zeroed). */
LP_API int lp_qamule_ending_from(lp_qamule_ending *out, const lp_qamule_request *req,
				 lp_resolution *res, const lp_qamule_result *reading);

/* ------------------------------------------ --pause-notify (lib/notify.c) */

/* A command run when a pause begins (--pause-notify): spawned without a
 * shell, in a process group of its own, stdin and stdout on /dev/null,
 * stderr inherited, never waited for by the caller. */
typedef struct lp_notify lp_notify;

/* What it gets in its environment (each NULL gives ""). */
typedef struct lp_notify_env {
	const char *pause_id;  /* PYTEST_LIVE_PAUSE_ID */
	const char *kind;      /* PYTEST_LIVE_PAUSE_KIND: failure, checkpoint */
	const char *nodeid;    /* PYTEST_LIVE_PAUSE_NODEID */
	const char *run_id;    /* PYTEST_LIVE_PAUSE_RUN_ID */
	const char *pause_dir; /* PYTEST_LIVE_PAUSE_DIR */
} lp_notify_env;

typedef enum lp_notify_state {
	LP_NOTIFY_RUNNING = 0, /* still running (or not yet reaped) */
	LP_NOTIFY_OK = 1,      /* exited with status 0 */
	LP_NOTIFY_FAILED = 2,  /* exited non-zero, killed, or ran past the bound */
} lp_notify_state;

/* Contract: spawn argv (argv[0] looked up on PATH, posix_spawnp) with env
 * added to this process's environment, and return at once. A thread of
 * the runtime waits for it: after `bound` seconds (> 0) it kills its
 * process group (SIGKILL) and reaps it, so no command outlives its bound
 * or stays a zombie. LP_EINVAL (one line naming the command and the
 * cause, nothing started) for an empty argv, a bad bound or a command
 * that cannot be run (not found, not executable); LP_ERROR without
 * memory or threads. */
LP_API int lp_notify_spawn(lp_notify **out, const char *const *argv, const lp_notify_env *env,
			   double bound);
/* What became of it so far, without waiting; for LP_NOTIFY_FAILED
 * *message (may be NULL; malloc'd, free() it) says what, in one line
 * naming argv[0]. NULL n: LP_NOTIFY_RUNNING. */
LP_API lp_notify_state lp_notify_poll(char **message, lp_notify *n);
/* The command's process id (its process group's too); 0 for NULL. */
LP_API long lp_notify_pid(const lp_notify *n);
/* Release the handle; the runtime's thread still kills the command at its
 * bound and reaps it. Accepts NULL. */
LP_API void lp_notify_free(lp_notify *n);

#ifdef __cplusplus
}
#endif
#endif /* LIVEPAUSE_H */
