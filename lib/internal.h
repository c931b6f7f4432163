/*
 * internal.h - declarations shared by the runtime's modules (the files of lib/), not
 * part of the public API. Each section names the file that owns it.
 */
#ifndef LP_INTERNAL_H
#define LP_INTERNAL_H

#include "livepause.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Size caps applied before parsing (bytes). */
#define LP_CAP_COMMAND (64 * 1024)
#define LP_CAP_PAUSE (1024 * 1024)
#define LP_CAP_RUN (64 * 1024)
/* Caps on what we write, in bytes once JSON-encoded (lpj_encoded_size),
 * chosen so that every pause file stays far within LP_CAP_PAUSE, run.json
 * within LP_CAP_RUN and every catalog line within its limit (catalog.c):
 * see docs/protocol.md, "Sizes". */
#define LP_CAP_FAILURE_TEXT (256 * 1024) /* original_failure */
#define LP_CAP_TASK (32 * 1024)          /* also a question */
#define LP_CAP_CHOICE 1024               /* each of a pause's choices */
#define LP_CAP_NODEID (16 * 1024)
#define LP_CAP_CWD (16 * 1024)
#define LP_CAP_HOSTNAME 1024            /* also worker_id */
#define LP_CAP_REASON (64 * 1024)       /* failure_reason, reason, errors */
#define LP_CAP_HINT (32 * 1024)         /* resume_command */
#define LP_CAP_EXTRA (64 * 1024)        /* extra_json text of a pause */
#define LP_CAP_RUN_EXTRA (16 * 1024)    /* extra_json text of a run */
#define LP_CAP_EXTRA_STRING (16 * 1024) /* each string of extra fields, events */
#define LP_CAP_ARG (4 * 1024)           /* one element of run.json's argv */
#define LP_CAP_ARGV (16 * 1024)         /* all of run.json's argv */
/* A catalog "P" line: 2 * (nodeid + task + cwd + hostname + worker) and
 * the short fields fit with room to spare. */
#define LP_CATALOG_LINE_CAP (256 * 1024)
/* What ends a text that was cut (after a newline in multi-line texts). */
#define LP_CUT_MARKER "[... cut by pytest-live-pause]"
/* 0.1.1's task of every failure pause. */
#define LP_FAILURE_TASK "Inspect the failure and then resume the test."
#define LP_HEARTBEAT_INTERVAL 2.0 /* seconds */
#define LP_HEARTBEAT_MISSES 4     /* stale after this many missed */
#define LP_DEFAULT_SLICE_MS 50
#define LP_DEFAULT_TAKE_TIMEOUT 5.0

/* ---------------------------------------------------------- error.c */
int lpi_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like lpi_fail, appending ": <strerror(errnum)>". */
int lpi_fail_errno(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lpi_error_clear(void);

/* ---------------------------------------------------------- fault.c */
/* kill -9 this process here if $LP_TEST_KILL_AT names `step` (tests). */
void lpi_crash_point(const char *step);

/* ------------------------------------------------------------ ids.c */
/* Run ids: like lp_id_validate but without '.', which separates the run
 * id from the rest of a pause id ("<run_id>.<suffix>"). */
int lpi_run_id_validate(const char *id);
/* Fill buf with 2*nbytes random lowercase hex digits and a NUL. */
int lpi_random_hex(char *buf, size_t nbytes);
int lpi_new_run_id(char out[LP_ID_MAX + 1]);
int lpi_new_pause_id(const char *run_id, char out[LP_ID_MAX + 1]);
/* Split "<run_id>.<suffix>": copy the run id; LP_EINVAL for an invalid
 * id, LP_ENOTFOUND if it has no '.' (no pause of ours has such an id). */
int lpi_pause_id_run(const char *pause_id, char run_id[LP_ID_MAX + 1]);

/* ----------------------------------------------------------- text.c */
/* Decode the UTF-8 sequence at s (left bytes available): its length
 * (1..4) with *cp set, or 0 when it is not valid UTF-8 (overlong forms,
 * surrogates and values above U+10FFFF are invalid). */
size_t lpi_utf8_decode(const unsigned char *s, size_t left, unsigned *cp);
/* Whether a code point above U+007F is unsafe for terminals and line
 * readers (C1 controls, U+2028, U+2029, bidirectional controls): the one
 * list, used by lp_text_terminal_safe() and by every JSON dump. */
int lpi_text_unsafe_cp(unsigned cp);

/* lp_pause_resume_command() of a pause with choices: "... --value 'a|b|c'"
 * (the choices joined by '|', shell-quoted as one word). */
int lpi_resume_command_choices(char **out, const char *pause_id, const char *pause_dir,
			       const char *const *choices);

/* ------------------------------------------------------------ time */
double lpi_now(void);      /* wall clock, seconds since the epoch */
int64_t lpi_mono_ms(void); /* monotonic clock, milliseconds */

/* ---------------------------------------------------------- store.c */
struct lp_store {
	int fd;         /* the verified pause directory */
	int runs_fd;    /* runs/ */
	int pending_fd; /* pending/ : one empty file per pending pause */
	char *path;     /* absolute, normalized */
	int is_default;
	char *notice;       /* NULL or what lp_store_notice() says */
	lp_warn_fn warn_fn; /* readers' notes on what they skip (lp_store_set_warn) */
	void *warn_ud;
	int spare_fd; /* -1, or an unnamed file for the next command (lp_store_warm) */
};
/* Publish data as dirfd/name exclusively, by linking the store's kept
 * unnamed file (lp_store_warm) there: LP_OK, 1 (name exists: nothing
 * written), or -1 when no file is kept or it cannot serve (the caller
 * publishes the usual way). Not flushed. */
int lpi_store_link_spare(lp_store *store, int dirfd, const char *name, const char *data,
			 size_t len);

/* The trust rule of everything inside the store (and of QAMule's result
 * directory): not a symlink, a directory (want_dir) or a regular file,
 * owned by this user, none of the `forbidden` mode bits (022: not
 * writable by group or others). 0 if trusted; else 1 with the reason
 * ("belongs to uid 1001, not to you (uid 0)") in why. */
int lpi_trust_why(const struct stat *st, int want_dir, mode_t forbidden, char *why, size_t size);
/* Check an open descriptor inside the store by that rule: LP_OK, or
 * LP_EUNSAFE with a message naming its path and a fix that works. */
int lpi_fd_trust(int fd, int want_dir, const char *label);
/* The same with the descriptor's status already at hand (one fstat less). */
int lpi_fd_trust_st(int fd, const struct stat *st, int want_dir, const char *label);
/* Tell the store's warn hook (if any) about something a reader skipped
 * (each time it is skipped: the hook decides what to repeat). */
void lpi_store_warn(lp_store *store, const char *message);

/* Open a subdirectory of dirfd without following symlinks; create it
 * (0700) first when create is set. The directory must meet the trust
 * rule (lpi_trust_why), else LP_EUNSAFE naming its path and the fix. */
int lpi_dir_open(int dirfd, const char *name, int create, const char *label, int *out);
/* Publish a file atomically: written under a temporary name, flushed,
 * then renamed over `name` (exclusive = 0) or linked to `name` only if it
 * does not exist (exclusive = 1: returns 1 if it exists, nothing written).
 * The directory is flushed after. label names the file in errors. */
int lpi_file_publish(int dirfd, const char *name, const char *data, size_t len, int exclusive,
		     const char *label);
/* Bits of lpi_file_publish's `exclusive`: 1 as above; LP_PUBLISH_VOLATILE
 * skips both fsyncs (a file that matters only while its writer and
 * reader live: requests and answers, lib/request.c; or one made durable
 * later: a pause's final file by settle.c, a command left untaken by
 * lpi_claim_flush). */
enum { LP_PUBLISH_EXCLUSIVE = 1, LP_PUBLISH_VOLATILE = 2 };
/* fsync dirfd/name, then dirfd: for a file published volatile (store.c). */
int lpi_file_flush(int dirfd, const char *name);
/* Replace a file by exchange: the replaced one is left under the name put
 * in kept ("" if none), which the caller removes (store.c). */
#define LPI_KEPT_MAX (LP_ID_MAX * 2 + 64)
/* A temporary file made ahead of a publish that must be quick (a pause's
 * final file): empty, open, under a dot-name. lpi_spare_drop closes and
 * removes one left unused (fd -1: nothing). */
typedef struct {
	int fd;
	char name[LPI_KEPT_MAX];
} lpi_spare;
int lpi_file_spare(int dirfd, lpi_spare *out, const char *label);
void lpi_spare_drop(int dirfd, lpi_spare *s);
int lpi_file_replace(int dirfd, const char *name, const char *data, size_t len, int flags,
		     const char *label, char kept[LPI_KEPT_MAX], lpi_spare *spare);
/* Fault in the pages of a fresh buffer of n bytes at once
 * (madvise(MADV_POPULATE_WRITE), Linux 5.14; an advice: nothing when it
 * fails or for a buffer under LPI_POPULATE_MIN): a page faulted one by
 * one costs about 5 us on a virtual machine, and a listing of 10,000
 * runs touches 3,000 of them (the catalog alone 930). */
#define LPI_POPULATE_MIN ((size_t)256 * 1024)
void lpi_populate(void *p, size_t n);
/* The file as lpi_file_read checks it, mapped read-only (its pages are
 * the page cache's: no copy, no fresh page), *len bytes, not
 * NUL-terminated (*out NULL when empty); lpi_file_unmap it. A file that
 * is replaced meanwhile (renamed over) stays mapped as it was. */
int lpi_file_map(int dirfd, const char *name, size_t cap, const char *label, const char **out,
		 size_t *len);
void lpi_file_unmap(const char *p, size_t len);
/* Each whole line of a file (opened and checked as lpi_file_read does)
 * to fn(), NUL-terminated in place (fn may cut it up), read in pieces of
 * LPI_LINES_PIECE bytes so that the memory it takes is the same however
 * long the file grows: a longer line is skipped, as is a last line
 * without its newline (being written). fn returns non-zero to stop; that
 * is returned. */
#define LPI_LINES_PIECE ((size_t)64 * 1024)
int lpi_file_lines(int dirfd, const char *name, size_t cap, const char *label,
		   int (*fn)(char *line, size_t len, void *ud), void *ud);
/* Read a regular file (never through a symlink, never a FIFO, never one
 * that fails the trust rule: LP_EUNSAFE), refusing one over cap bytes. *out is NUL-terminated, free() it. LP_ENOTFOUND if
 * it does not exist. */
int lpi_file_read(int dirfd, const char *name, size_t cap, const char *label, char **out,
		  size_t *len);
/* The same, and (st_out not NULL) the status of the file read, from the
 * descriptor it was read through (its mtime: a pause's heartbeat). */
int lpi_file_read_st(int dirfd, const char *name, size_t cap, const char *label, char **out,
		     size_t *len, struct stat *st_out);
/* write(2) all of data, through short writes and EINTR: 0, or -1 and errno. */
int lpi_write_all(int fd, const char *data, size_t len);
/* Each name of directory dirfd not starting with '.' to fn() (scan.c). */
int lpi_dir_each(int dirfd, int (*fn)(const char *name, void *ud), void *ud);
/* Build "<dir path>/<name>" paths for messages; returns malloc'd string. */
char *lpi_path_join(const char *a, const char *b);
char *lpi_strdup(const char *s);
/* Whether fsync is skipped (LP_UNSAFE_NO_FSYNC=1, for benchmarks only). */
int lpi_fsync_disabled(void);

/* ------------------------------------------------------- liveness.c */
typedef struct lpi_identity {
	char hostname[256];
	char boot_id[64];
	long pid;
	unsigned long long start_time; /* /proc/<pid>/stat field 22 */
} lpi_identity;

int lpi_identity_self(lpi_identity *out);
int lpi_proc_start_time(long pid, unsigned long long *out);
const char *lpi_hostname(void);

typedef enum { LP_LIVE_ALIVE = 0, LP_LIVE_DEAD = 1 } lpi_live;
/* Judge a recorded process. Same host: pid alive with the same start
 * time and boot id. Other host: the heartbeat (mtime, seconds) is fresh.
 * heartbeat <= 0 with another host: assumed alive. */
lpi_live lpi_identity_judge(const lpi_identity *rec, double heartbeat_mtime,
			    double heartbeat_interval);
/* A hold on a recorded process that lpi_identity_judge would judge by its
 * pid (this host, this boot) and finds alive: a pidfd (pidfd_open(2)),
 * opened and then checked against the recorded start time, so that it
 * never holds a process that reused the pid. -1 when there is none
 * (another host, no pidfd on this kernel, not alive): judge it with
 * lpi_identity_judge each time. */
int lpi_identity_hold(const lpi_identity *rec);
/* The process a hold holds: LP_LIVE_DEAD once it has exited (a zombie
 * included), one poll(2) that does not wait. */
lpi_live lpi_hold_judge(int pidfd);

/* A heartbeat: a thread of its own (all signals blocked) that refreshes
 * the mtime of dirfd/name (never following a symlink) every interval
 * seconds, so that readers on another host can tell a live process from
 * a dead one (docs/protocol.md "Liveness") without any cost per test.
 * lpi_beat_stop() stops and joins it (safe on NULL; in a forked child,
 * where the thread does not exist, it only frees). */
typedef struct lpi_beat lpi_beat;
int lpi_beat_start(lpi_beat **out, int dirfd, const char *name, double interval);
void lpi_beat_stop(lpi_beat *beat);

/* ----------------------------------------------------------- json.c */
/* A thin wrapper over jansson so that only json.c includes it. */
typedef struct lp_json lp_json;

lp_json *lpj_object(void);
void lpj_free(lp_json *j);
int lpj_set_str(lp_json *o, const char *key, const char *val); /* NULL -> null */
int lpj_set_real(lp_json *o, const char *key, double val);
int lpj_set_int(lp_json *o, const char *key, long long val);
int lpj_set_bool(lp_json *o, const char *key, int val);
int lpj_set_null(lp_json *o, const char *key);
int lpj_set_result(lp_json *o, const char *key, lp_result r);
int lpj_set_json(lp_json *o, const char *key, lp_json *val); /* steals val */
/* Merge the members of a JSON object text into o (existing keys kept
 * unless overwrite). LP_EINVAL if text is not a JSON object. */
int lpj_merge_text(lp_json *o, const char *text, int overwrite, const char *what);
/* Compact serialisation with sorted keys; malloc'd, NULL on failure. */
char *lpj_dump(const lp_json *j);
/* The same text, by jansson alone: lpj_dump's reference and fallback. */
char *lpj_dump_by_jansson(const lp_json *j);
/* lpj_dump of o with extra's members set over it, o unchanged. */
char *lpj_dump_merged(const lp_json *o, const lp_json *extra);
/* The same, members in the order they were set, reals in 17 digits: the
 * lines of a CLI's --json output (e.g. gc's). */
char *lpj_dump_ordered(const lp_json *j);
/* An object's text written member by member, for a listing of thousands
 * of objects of one shape (lp_store_runs): each value is written as
 * lpj_dump writes it (jansson's text, through the same escaping of unsafe
 * characters; plain ASCII strings and whole numbers directly), and the
 * caller writes the keys, in lpj_dump's sorted order, and punctuation.
 * b->s is NUL-terminated; b->failed once memory ran out or a value was
 * refused (a real that is not finite, as lpj_set_real refuses it). */
typedef struct lpj_buf {
	char *s;
	size_t len, cap;
	int failed;
} lpj_buf;
void lpj_buf_raw(lpj_buf *b, const char *text); /* as it is */
void lpj_buf_grow_add(lpj_buf *b, const char *text, size_t n);
static inline void lpj_buf_add(lpj_buf *b, const char *text, size_t n)
{
	if (b->cap - b->len > n && !b->failed) { /* the usual case, inline */
		memcpy(b->s + b->len, text, n);
		b->len += n;
		b->s[b->len] = '\0';
	} else {
		lpj_buf_grow_add(b, text, n);
	}
}
#define lpj_buf_lit(b, literal) lpj_buf_add((b), "" literal, sizeof(literal) - 1)
void lpj_buf_str(lpj_buf *b, const char *val); /* NULL: null */
void lpj_buf_int(lpj_buf *b, long long v);
void lpj_buf_real(lpj_buf *b, double v);
/* Parse a JSON object: duplicates rejected, must be an object. The error
 * message names `what` and the position. */
int lpj_parse_object(const char *buf, size_t len, const char *what, lp_json **out);
/* The same for files 0.1.1 may have written: its non-JSON tokens Infinity
 * (read as null), -Infinity and NaN (read as 0) are accepted where
 * jansson's lexer meets them, outside strings only. */
int lpj_parse_object_011(const char *buf, size_t len, const char *what, lp_json **out);
lp_json *lpj_copy(const lp_json *j);

/* Accessors; *_str returns NULL when missing, null or not a string. */
const char *lpj_get_str(const lp_json *o, const char *key);
int lpj_has(const lp_json *o, const char *key);
int lpj_is_null(const lp_json *o, const char *key);
double lpj_get_real(const lp_json *o, const char *key, double dflt);
long long lpj_get_int(const lp_json *o, const char *key, long long dflt);
lp_json *lpj_get(const lp_json *o, const char *key); /* borrowed */

/* Read the identity fields of a pause or run file. */
void lpj_get_identity(const lp_json *o, lpi_identity *out);

/* --- json.c: bounded text --- */
/* Bytes s takes in lpj_dump's output (quotes excluded), counted from
 * above (see json.c); invalid UTF-8 bytes count as U+FFFD. */
size_t lpj_encoded_size(const char *s);
/* A malloc'd copy of s, invalid UTF-8 replaced by U+FFFD, that takes at
 * most cap encoded bytes: cut on a character boundary and ended by
 * LP_CUT_MARKER (after a newline if multiline) when it did not fit;
 * *was_cut says so. NULL when out of memory. */
char *lpj_text_fit(const char *s, size_t cap, int multiline, int *was_cut);
/* lpj_set_str of lpj_text_fit(val, cap, ...); a cut field is also named
 * in the object's "cut" array. NULL val: null. */
int lpj_set_text(lp_json *o, const char *key, const char *val, size_t cap, int multiline);
/* Cut every string member of object o to cap encoded bytes. */
int lpj_bound_strings(lp_json *o, size_t cap);

/* --- json.c: any JSON value (for qamule.c) --- */
typedef enum lpj_type {
	LPJ_NULL,
	LPJ_BOOL,
	LPJ_NUMBER,
	LPJ_STRING,
	LPJ_ARRAY,
	LPJ_OBJECT
} lpj_type;
/* Parse one JSON value of any type, strictly (UTF-8, duplicate keys
 * rejected, nothing after it). LP_EBADCMD with the parser's message and
 * position ("... (line L, column C)") when it is not valid JSON. */
int lpj_parse_any(const char *buf, size_t len, lp_json **out);
lpj_type lpj_typeof(const lp_json *j);
int lpj_is_true(const lp_json *j);
const char *lpj_string_value(const lp_json *j); /* NULL unless a string */
/* The first key of object o that is not in the NULL-terminated list
 * allowed, or NULL when there is none. */
const char *lpj_unknown_key(const lp_json *o, const char *const allowed[]);
/* Compact, sorted keys, reals with 17 digits (they read back exactly);
 * any value. malloc'd, NULL on failure. */
char *lpj_dump_exact(const lp_json *j);
/* Python's json.dumps(j, sort_keys=True, ensure_ascii=False) form (QAMule's
 * machine lines), escaped as every dump; any value. malloc'd, NULL on
 * failure. */
char *lpj_dump_python(const lp_json *j);
/* Arrays and iteration (for claim.c). */
lp_json *lpj_array(void);
int lpj_array_append_str(lp_json *a, const char *val);
int lpj_array_append(lp_json *a, lp_json *val);     /* steals val (also on error) */
lp_json *lpj_array_get(const lp_json *a, size_t i); /* borrowed; NULL past the end */
size_t lpj_size(const lp_json *j);                  /* members of an object or array, else 0 */
lp_json *lpj_array_get(const lp_json *a, size_t i); /* borrowed; NULL out of range */
/* Call cb for each member of object o in order; a non-zero return stops
 * the walk and is returned. */
int lpj_foreach(const lp_json *o, int (*cb)(const char *key, const lp_json *val, void *ud),
		void *ud);
int lpj_is_integer(const lp_json *j);

/* ---------------------------------------------------------- claim.c */
/* The command file (the claim): its schema, built and parsed here only;
 * its exclusive publish; who won. docs/protocol.md, "The command file". */

/* The first protocol whose paused processes take typed commands (action,
 * token) and ignore unknown fields; older ones (protocol 1 of ours, and
 * 0.1.1, which writes no protocol) only take the seed format. */
#define LP_PROTOCOL_TYPED 2
/* The first protocol whose paused processes take a "value" (choices,
 * questions) and an abort's "reason", and stop their run on an abort. */
#define LP_PROTOCOL_ANSWERS 3
/* The first protocol whose pending pause files are never rewritten in
 * place, only replaced by a new file (docs/protocol.md, "Trust"): a
 * reader holding the file it read knows it unchanged. */
#define LP_PROTOCOL_REPLACED 2
#define LP_TOKEN_HEX 32 /* a command's token: 32 random hex digits */

/* names.c: the parse of a command's "action" (LP_EBADCMD: none of ours)
 * and of a state's name (NULL or any other name: LP_STATE_UNKNOWN). */
int lpi_action_parse(const char *s, lp_action *out);
lp_state lpi_state_parse(const char *name);

/* A command as read, validated against the kind of its pause. */
typedef struct lpi_command {
	lp_action action;     /* LP_ACTION_RESUME when the command has none */
	int typed;            /* it has "action": checked strictly */
	char *by;             /* provenance; NULL: a foreign writer ("file") */
	char *token;          /* NULL: none (a seed-format writer) */
	char *failure_reason; /* failures */
	int has_result;
	lp_result result;     /* checkpoints */
	char *reason;         /* checkpoints, questions; any kind's abort */
	char *value;          /* checkpoints with choices, questions; NULL: none */
	lp_json *ignored;     /* array of the names of fields not used */
	lp_json *attachments; /* NULL, or the resumer's entries (blob.c's schema) */
} lpi_command;
void lpi_command_clear(lpi_command *c);

/* Parse and validate a command's text for a pause of `kind`: strict JSON
 * (cap, UTF-8, duplicates, an object), then the fields (see claim.c).
 * LP_EBADCMD with a message naming `label` and the field. */
int lpi_command_parse(const char *text, size_t len, lp_kind kind, const char *label,
		      lpi_command *out);
/* The checks of a parsed command that need the pause itself: a value must
 * be one of the pause's choices (an array of strings, NULL: none), and a
 * checkpoint without choices takes no value. LP_EBADCMD naming `label`,
 * the value and the choices. */
int lpi_command_fits(const lpi_command *c, lp_kind kind, const lp_json *choices, const char *label);
/* Whether value is one of choices (a pause's "choices" array; NULL:
 * none), and the choices as "'a', 'b', 'c'" in buf (cut to size). */
int lpi_choices_has(const lp_json *choices, const char *value);
void lpi_choices_list(char *buf, size_t size, const lp_json *choices);

/* What a resolver wants written. */
typedef struct lpi_command_spec {
	lp_action action;
	const char *by;             /* provenance, required */
	const char *failure_reason; /* failures */
	lp_result result;           /* checkpoints */
	const char *reason;         /* checkpoints, questions; an abort's reason */
	const char *fields_json;    /* NULL or an object of signal, payload, user */
	int pause_protocol;         /* the target pause's "protocol" (0: none) */
	const char *pause_id;       /* for messages */
	const char *value;          /* checkpoints with choices, questions; NULL */
	const lp_json *choices;     /* the target pause's choices (NULL: none) */
	const lp_json *attachments; /* NULL or the resumer's entries (blobs stored) */
} lpi_command_spec;
/* Build the command text for a pause of `kind` (token: LP_TOKEN_HEX hex
 * digits and a NUL, "" for a seed-format command) and check it with
 * lpi_command_parse, the paused process's own rules and caps, before
 * anything is written. LP_EINVAL with a message fit for a user when the
 * pause cannot take it (too large; an action its protocol lacks; bad
 * fields_json). */
int lpi_command_build(lp_kind kind, const lpi_command_spec *spec, char token[LP_TOKEN_HEX + 1],
		      char **text);

/* Create commands/<name> exclusively with text: LP_OK (the claim is
 * ours), 1 (an entry is there already: someone else's claim), or an
 * error (nothing published). */
int lpi_claim_publish(lp_store *store, int commands_fd, const char *name, const char *text,
		      const char *label);
/* Flush a published claim (file, then directory), best effort: for a
 * command its resumer leaves untaken (see claim.c). */
void lpi_claim_flush(int commands_fd, const char *name);

/* Outcome of reading the entry at a claim's name. */
enum {
	LP_CLAIM_TAKEN = 0, /* a valid command (c and *text filled) */
	LP_CLAIM_NONE = 1,  /* nothing there */
	LP_CLAIM_RETRY = 2, /* a transient error (EMFILE, ENFILE, EINTR,
			       ENOMEM) or a young partial file: look again */
	LP_CLAIM_BAD = 3,   /* not a valid command (socket, FIFO, directory,
			       unreadable, oversized, bad JSON or fields):
			       the message says why; move it aside */
};
/* Read and validate the claim at commands/<name> for a pause of kind.
 * patient: a file that fails to parse while younger than 500 ms is
 * LP_CLAIM_RETRY (a foreign writer may still be writing it). *st_out
 * (may be NULL) gets the entry's lstat, for reporting a bad entry once.
 * Never returns an lp_error: every failure is one of the above. */
int lpi_claim_read(int commands_fd, const char *name, lp_kind kind, const char *label, int patient,
		   lpi_command *c, char **text, struct stat *st_out);

/* ----------------------------------------------------------- blob.c */
/* The blob store of a run, runs/<run_id>/blobs/, and the one schema of
 * an attachment entry (docs/protocol.md "Attachments"). run_fd is the
 * run's verified directory, run_path its absolute path (for messages and
 * lp_attachment.path). */

/* Check a file the resumer names before anything is written: a regular
 * file of at most max_size bytes (not a symlink, FIFO, socket, device or
 * directory). LP_EINVAL with one line naming it and what to do; *size
 * gets its size. */
int lpi_blob_source_check(const char *path, unsigned long long max_size, unsigned long long *size);
/* Copy the file at path into blobs/ (created 0700), hashing it as it is
 * read, under a temporary name that is flushed and renamed to its
 * sha256: no partial blob is ever at a blob's name, and a failed copy
 * (disk full) leaves none. Fills *out (name, sha256, size, content_type,
 * source, path); LP_EINVAL for a refused file (lpi_blob_source_check),
 * LP_ERROR for an I/O error. */
int lpi_blob_put(int run_fd, const char *run_path, const char *path, const char *name,
		 const char *source, unsigned long long max_size, lp_attachment *out);
/* Verify blobs/<sha256>: a regular file of ours of `size` bytes whose
 * SHA-256 is sha256. LP_OK (with fd_out non-NULL: an open descriptor of
 * it at offset 0, the caller's to close), LP_ENOTFOUND (missing),
 * LP_EBADCMD (its bytes do not match), LP_ERROR. */
int lpi_blob_verify(int run_fd, const char *sha256, unsigned long long size, int *fd_out);
/* The resumer's blob: lpi_blob_put, then its command entry {name,
 * sha256, size, content_type, seal} in *entry (the caller's): "seal" is
 * the blob's inode and change time once published, so that the paused
 * process need not hash again bytes that nobody changed since. */
int lpi_blob_put_entry(int run_fd, const char *run_path, const char *path,
		       unsigned long long max_size, lp_json **entry);
/* lpi_blob_verify of a command's entry (checked by lpi_attachments_parse):
 * a blob still the inode its "seal" names, with the same change time, is
 * not read again; any other (no seal, replaced, written since) is hashed. */
int lpi_blob_verify_entry(int run_fd, const lp_json *entry);
/* An attachment as its JSON entry {name, sha256, size, content_type[,
 * source]}; NULL when out of memory. */
lp_json *lpi_attachment_to_json(const lp_attachment *a, int with_source);
/* Parse an "attachments" value strictly: an array of at most
 * LP_ATTACH_COUNT_MAX entries of the schema above (with_source: "source"
 * required, one of test, capture, resume; without: absent or "resume").
 * LP_EBADCMD naming label and the entry. *out (may be NULL: only check)
 * gets a malloc'd list of *n (each path under run_path/blobs; free with
 * lpi_attachments_free). */
int lpi_attachments_parse(const lp_json *v, const char *label, int with_source,
			  const char *run_path, lp_attachment **out, size_t *n);
void lpi_attachments_free(lp_attachment *list, size_t n);
/* Copy a list (deep); NULL when out of memory (n 0: NULL too). */
lp_attachment *lpi_attachments_copy(const lp_attachment *list, size_t n);
/* One attachment copied (deep) into *dst; LP_ERROR when out of memory
 * (*dst then cleared). */
int lpi_attachment_dup(lp_attachment *dst, const lp_attachment *src);
/* Read fd to its end, hashing, and (out_fd >= 0) writing what was read
 * (one pass: read, hash, write), starting the write-back of each chunk as
 * it goes when the caller will fsync (flush); at most cap bytes (more:
 * LP_EINVAL). sha gets the hex digest, *total the bytes read; *werr says
 * a write failed (then LP_ERROR). For export.c's copies out. */
int lpi_blob_copy(int fd, int out_fd, int flush, unsigned long long cap, const char *label,
		  char sha[LP_SHA256_HEX + 1], unsigned long long *total, int *werr);

/* -------------------------------------------------------- catalog.c */
/* <dir>/catalog.tsv: "R" lines (runs started), "E" lines (runs ended)
 * and "P" lines (pauses ended), for "ls -a" and "runs". Appends are single
 * write(2)s under a shared flock of the file the name designates (gc
 * compacts under an exclusive one); a pause's line is flushed
 * (fdatasync) before the pause leaves pending/. */
int lpi_catalog_add_run(lp_store *store, const char *run_id);
int lpi_catalog_add_pause(lp_store *store, const lp_json *doc); /* the final pause file */
/* "E" line: run (run.json as ended) ended; not flushed (run.json says it). */
int lpi_catalog_add_end(lp_store *store, const lp_json *run);

typedef struct lpi_catalog_pause {
	char run_id[LP_ID_MAX + 1];
	const char *pause_id, *status, *kind, *worker_id, *hostname, *cwd, *nodeid, *task;
	double created_at, finished_at, timeout;
	long pid;
	lp_state state; /* status as a code: LP_STATE_RESUMED, _TIMED_OUT or _ABORTED */
} lpi_catalog_pause;
typedef struct lp_catalog_end {
	const char *run_id, *hostname, *cwd;
	double started_at, ended_at;
	long pid;
	int exitstatus;
} lp_catalog_end;
typedef struct lpi_catalog {
	char **runs; /* in the order they started */
	size_t nruns;
	char **run_set;  /* open-addressing hash set of runs, for lpi_catalog_has_run */
	char *run_arena; /* the ids of run_set, side by side */
	size_t run_mask;
	lpi_catalog_pause *pauses; /* in the order they ended */
	size_t npauses;
	lp_catalog_end *ends; /* in the order they ended */
	size_t nends;
	size_t *end_set; /* open addressing by run id: 1 + index into ends, 0 empty */
	size_t end_mask;
	char *text;  /* the file, split in place: every string points into it */
	void *arena; /* the counts pass: copies of the strings it keeps instead */
} lpi_catalog;
/* LP_ENOTFOUND when the directory has no catalog (an older layout). */
int lpi_catalog_load(lp_store *store, lpi_catalog **out);
/* The same with the "R" lines only (runs; no pauses): what "ls" and a
 * search for a pause of another shape need to know which runs to walk. */
/* The catalog for counting pauses ("runs"): every line the full load
 * keeps, but a pause's texts (worker_id, hostname, cwd, nodeid, task) are
 * NULL (not split) and its numbers (created_at, finished_at, timeout) 0
 * (checked as the full load checks them, not converted). */
int lpi_catalog_load_counts(lp_store *store, lpi_catalog **out);
int lpi_catalog_parse_counts(char *text, size_t len, lpi_catalog **out);
int lpi_catalog_load_runs(lp_store *store, lpi_catalog **out);
/* Parse a catalog's text (NUL-terminated at len; taken, freed with the
 * catalog or on error). LP_ENOTFOUND without the header of version 1. */
int lpi_catalog_parse(char *text, size_t len, lpi_catalog **out);
/* The same, "R" lines only, their ids not validated (they are only
 * compared with validated names): lpi_catalog_load_runs's pass. */
int lpi_catalog_parse_runs(char *text, size_t len, lpi_catalog **out);
int lpi_catalog_has_run(const lpi_catalog *cat, const char *run_id);
/* The "E" line of a run, or NULL. */
const lp_catalog_end *lpi_catalog_find_end(const lpi_catalog *cat, const char *run_id);
void lpi_catalog_free(lpi_catalog *cat);
/* catalog-json.tsv, the "J" lines: the pause file of each ended pause,
 * as its process wrote it. lpi_listing_find gives those bytes (len, not
 * NUL-terminated) for a pause whose line passes the cheap checks, else
 * NULL (read its pause file). lpi_listing_json: the listing object of a
 * pause ("ls --json": the pause file, then "path" and "state"), the one
 * definition (sets the keys on doc only for a file that has them). */
typedef struct lpi_listing lpi_listing;
int lpi_listing_load(lp_store *store, lpi_listing **out);
int lpi_listing_parse(char *text, size_t len, lpi_listing **out); /* takes text */
const char *lpi_listing_find(const lpi_listing *l, const char *pause_id, size_t *len);
void lpi_listing_free(lpi_listing *l);
char *lpi_listing_json(lp_json *doc, const char *state, const char *path);
/* gc: drop every line about a run for which drop() returns non-zero,
 * under the exclusive lock, by renaming a filtered copy over the file
 * (with dry_run, only count). *dropped: the lines dropped. No catalog:
 * LP_OK, nothing dropped. */
int lpi_catalog_compact(lp_store *store, int (*drop)(const char *run_id, void *ud), void *ud,
			int dry_run, size_t *dropped);

/* --------------------------------------------------------- events.c */
/* Append one line {"ts":..,"event":..,"run_id":.., ...fields} with a single
 * write(2) on an O_APPEND descriptor. */
int lpi_events_append(int events_fd, const char *run_id, const char *event, lp_json *fields);
/* Up to 4 such lines with one write(2), in order (no other process's
 * line between them). */
typedef struct {
	const char *event;
	lp_json *fields;
} lpi_event;
int lpi_events_append_n(int events_fd, const char *run_id, const lpi_event *evs, size_t n);
/* A reader of a run's events.jsonl that hands over each whole line once.
 * lpi_events_tail_open(): from the start, or (from_end) from the end of
 * the lines there now; LP_ENOTFOUND while the run has no log, LP_EUNSAFE
 * for one that fails the trust rule (or is not a regular file). */
typedef struct lpi_events_tail lpi_events_tail;
int lpi_events_tail_open(lpi_events_tail **out, int run_fd, const char *run_id, int from_end);
int lpi_events_tail_fd(const lpi_events_tail *t); /* for a waiter's watch */
/* Each whole line appended since the last read that contains filter (NULL:
 * every line) and parses as an object, to fn(), which may stop it by
 * returning non-zero (returned). A line still being written waits for the
 * next read; one over 1 MiB is skipped. LP_EBADCMD when the log cannot
 * be read or was cut short under the reader (what it read is gone): the
 * caller stops following it. */
int lpi_events_tail_read(lpi_events_tail *t, const char *filter,
			 int (*fn)(const lp_json *ev, void *ud), void *ud);
void lpi_events_tail_free(lpi_events_tail *t);

/* ----------------------------------------------------------- feed.c */
/* How many pause ids the feed remembers now (open, reported and still in
 * pending/, recorded at open): what must stay bounded by the store's
 * present, not its history (tests). */
size_t lpi_feed_remembered(lp_feed *f);

/* ------------------------------------------------------------ run.c */
struct lp_run {
	lp_store *store;
	char id[LP_ID_MAX + 1];
	char *worker_id;
	char *cwd;
	int fd, pauses_fd, commands_fd, events_fd;
	int owner;    /* started by this process */
	lp_json *doc; /* run.json as written (owner) */
	lpi_identity self;
	/* watches commands/ for this process's pauses; made at the first
	 * pause and kept: closing an inotify descriptor costs a kernel RCU
	 * grace period (~8 ms here), which a pause must not pay each time */
	struct lpi_waiter *commands_waiter;
	lpi_beat *beat;              /* owner: refreshes run.json's mtime until the run ends */
	lp_json *requests;           /* NULL, or what its pauses offer (lp_run_set_requests) */
	struct lpi_settler *settler; /* the durable half of its pauses' ends (settle.c) */
};
/* The run's commands/ waiter, made on first use. */
int lpi_run_commands_waiter(lp_run *run, struct lpi_waiter **out);
int lpi_run_dirs_open(lp_store *store, const char *run_id, int *run_fd);

/* --------------------------------------------------------- thread.c */
/* Start fn(arg) in a thread of the library's: every signal blocked in it,
 * and returned only once it runs (no fork copies it in its start-up).
 * LP_OK, or LP_ERROR ("cannot start <what>: ..."). */
int lpi_thread_start(pthread_t *t, int detached, void *(*fn)(void *), void *arg, const char *what);

/* --------------------------------------------------------- settle.c */
/* The durable half of a pause's end, off the paused thread: fsync of the
 * final pause file (already published) and of pauses/, the catalog's "P"
 * line, unindexing from pending/, in that order, by one thread per run. */
typedef struct lpi_settler lpi_settler;
void lpi_settle_pause(lp_run *run, const char *file, const char *pause_id, const lp_json *doc,
		      const char *replaced);
int lpi_settle_drain(lp_run *run); /* LP_OK, or LP_EWAITTIMEOUT after its bound */
void lpi_settle_stop(lp_run *run); /* drain, join, free (lp_run_free) */
int lpi_pause_settle(lp_pause *p); /* lpi_settle_drain of p's run (pause.c) */

/* ----------------------------------------------------------- wait.c */
typedef struct lpi_waiter lpi_waiter;
int lpi_waiter_open(lpi_waiter **out);
/* Watch entries created, moved in or closed after writing in dirfd. */
int lpi_waiter_add_dir(lpi_waiter *w, int dirfd, const char *label);
/* Watch a regular file (fd) for data written to it: a log's appends. */
int lpi_waiter_add_file(lpi_waiter *w, int fd);
/* Wake when process pid (on this host) exits; pidfd where available. */
int lpi_waiter_add_pid(lpi_waiter *w, long pid);
/* Block until something may have changed: an event on a watched
 * directory, the watched process exiting (returns 1), the backstop slice
 * elapsing (LP_OK), deadline_ms (monotonic, < 0 none) passing
 * (LP_EWAITTIMEOUT), or hooks->check() asking to stop (LP_EINTR). */
int lpi_waiter_wait(lpi_waiter *w, int64_t deadline_ms, const lp_wait_hooks *hooks);
void lpi_waiter_free(lpi_waiter *w);

/* -------------------------------------------------------- request.c */
/* The request slot of a pause, commands/<pause_id>.request.json, and its
 * answers, commands/<pause_id>.answer.<request_id>.json. */
#define LP_CAP_REQUEST (LP_REQUEST_CODE_MAX + 64 * 1024) /* a request file */
#define LP_CAP_ANSWER (6 * LP_REQUEST_OUTPUT_CAP)        /* an answer file */
/* A request as parsed (strings owned; lpi_request_parsed_clear). */
typedef struct lpi_request_parsed {
	lp_request req; /* points into the fields below */
	char *request_id, *code, *action, *by;
	char **keys, **values;
	long pid; /* the requester's, 0 if none */
} lpi_request_parsed;
/* Parse a request file's text strictly (docs/protocol.md, "Requests"):
 * LP_EBADCMD with a message naming label and the field. *id_out (may be
 * NULL) gets a malloc'd copy of its request_id whenever one valid was
 * there, even if the rest is bad, so that the refusal can be answered. */
int lpi_request_parse(const char *text, size_t len, const char *label, lpi_request_parsed *out,
		      char **id_out);
void lpi_request_parsed_clear(lpi_request_parsed *r);
/* Parse an answer file's text into out (its json made): LP_EBADCMD if it
 * is not a valid answer. */
int lpi_answer_parse(const char *text, size_t len, const char *label, lp_answer *out);
/* lp_pause_wait's share, on the waiting thread: serve the request at the
 * pause's slot if there is one (doc: the pause file, whose "requests"
 * says what the pause offers). When an action's files were attached to
 * doc ("attachments"), republish(ud) writes the pause file before the
 * answer is published. 0: none; 1: one was answered (or a bad one moved
 * aside), look again; LP_EINTR: hooks->on_request asked to stop (the
 * request answered as interrupted); LP_ERROR: out of memory. */
int lpi_request_serve(lp_run *run, const char *pause_id, lp_json *doc, const lp_wait_hooks *hooks,
		      int (*republish)(void *ud), void *ud);

/* ----------------------------------------------------------- scan.c */
/* Load pause info from an open store by pause id (run derived from id). */
int lpi_info_from_json(lp_store *store, const char *run_id, const char *pause_id, lp_json *doc,
		       double mtime, int with_json, lp_pause_info **out);
/* The state of a pause as readers see it: its status, or "stale". */
const char *lpi_pause_state(const lp_json *doc, double mtime);
int lpi_ref_resolve(lp_store *store, const char *ref, lp_store **other, char id[LP_ID_MAX + 1]);
/* lpi_pause_load given the run's pauses/ (and its id, for messages);
 * st (may be NULL) gets the stat of the file read. */
int lpi_pause_load_at(lp_store *store, int pauses_fd, const char *run_id, const char *pause_id,
		      lp_json **doc, double *mtime, struct stat *st);
/* lpi_run_dirs_open for a pause of that run: LP_ENOTFOUND says the pause
 * is not there. */
int lpi_run_dirs_open_for(lp_store *store, const char *run_id, const char *pause_id, int *run_fd);
int lpi_pause_load(lp_store *store, const char *pause_id, lp_json **doc, double *mtime);
/* The run of a pause: named by an id of ours ("<run_id>.<suffix>");
 * for an id of any other shape (0.1.1's bare UUIDs), found in the runs
 * the catalog does not know. LP_ENOTFOUND when no run has it. */
int lpi_pause_locate(lp_store *store, const char *pause_id, char run_id[LP_ID_MAX + 1]);

#endif
