/*
 * output.c - everything the CLI prints: the exit-code table and the one
 * mapping from lp_error codes to it, one-line errors, pauses as
 * "key: value" lines, JSON lines, and aligned text tables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ------------------------------------------------------------ exit codes */

int cli_exit_code(int lp_code)
{
	switch (lp_code) {
	case LP_OK: return CLI_EXIT_OK;
	case LP_EINVAL:
	case LP_EKIND: return CLI_EXIT_USAGE;
	case LP_ENOTFOUND: return CLI_EXIT_NOTFOUND;
	case LP_ESTALE: return CLI_EXIT_STALE;
	case LP_ERESUMED: return CLI_EXIT_RESUMED;
	case LP_ETIMEDOUT: return CLI_EXIT_TIMEDOUT;
	case LP_EABORTED: return CLI_EXIT_ABORTED;
	case LP_ENOTTAKEN: return CLI_EXIT_NOTTAKEN;
	case LP_ERUNENDED: return CLI_EXIT_RUNENDED;
	case LP_EWAITTIMEOUT: return CLI_EXIT_WATCH_TIMEOUT;
	case LP_EUNSAFE: return CLI_EXIT_UNSAFE;
	case LP_EINTR: return CLI_EXIT_INTERRUPTED;
	case LP_ENOEVAL: return CLI_EXIT_NOEVAL;
	case LP_ENOACTION: return CLI_EXIT_NOACTION;
	default: return CLI_EXIT_ERROR; /* LP_ERROR, LP_EBADCMD, unknown */
	}
}

static const struct {
	int code;
	const char *text;
} exit_texts[] = {
	{CLI_EXIT_OK, "success (resume or abort taken, watch found a pause, ls,\n show)"},
	{CLI_EXIT_ERROR, "I/O or other runtime error; malformed pause or "
			 "command file"},
	{CLI_EXIT_USAGE, "usage error: bad option, value or combination, or "
			 "an option\n that does not fit the pause's kind "
			 "(nothing was written)"},
	{CLI_EXIT_NOTFOUND, "pause, run or pause directory not found"},
	{CLI_EXIT_STALE, "the pause is stale: its process is gone"},
	{CLI_EXIT_RESUMED, "the pause was already resumed by another command\n"
			   " (or this command was replaced before it was "
			   "taken)"},
	{CLI_EXIT_TIMEDOUT, "the pause already timed out"},
	{CLI_EXIT_ABORTED, "the pause was aborted (by abort, or Ctrl-C or "
			   "SIGTERM in pytest)"},
	{CLI_EXIT_NOTTAKEN, "resume, abort: command written, but the paused process "
			    "did not take it in time\n (or resume was "
			    "interrupted): it stands and will be taken"},
	{CLI_EXIT_RUNENDED, "watch: the run is no longer active"},
	{CLI_EXIT_WATCH_TIMEOUT, "watch: timed out waiting for a pause"},
	{CLI_EXIT_UNSAFE, "the pause directory is unsafe (symlink, other "
			  "owner, or open to\n group/others)"},
	{CLI_EXIT_NOEVAL, "eval, exec: refused, the pause's pytest run was not "
			  "started with\n --pause-allow-eval (nothing was written)"},
	{CLI_EXIT_NOACTION, "do: the pause offers no action of that name "
			    "(nothing was written)"},
	{CLI_EXIT_RAISED, "eval, exec, do: the code raised an exception (its "
			  "traceback is\n printed; the test keeps waiting)"},
	{CLI_EXIT_REQ_TIMEOUT, "eval, exec, do: stopped by --timeout (the test "
			       "keeps waiting)"},
	{CLI_EXIT_INTERRUPTED, "interrupted (SIGINT or SIGTERM)"},
};

#define EXIT_COLUMN 7

static void print_exit_row(FILE *fp, size_t i)
{
	const char *t;

	fprintf(fp, "  %-*d", EXIT_COLUMN - 2, exit_texts[i].code);
	for (t = exit_texts[i].text; *t; t++) {
		fputc(*t, fp);
		if (*t == '\n')
			fprintf(fp, "%*s", EXIT_COLUMN - 1, "");
	}
	fputc('\n', fp);
}

void cli_print_exit_codes(FILE *fp, const int *codes)
{
	size_t n = sizeof(exit_texts) / sizeof(exit_texts[0]), i;

	for (i = 0; i < n; i++) {
		const int *c = codes;

		while (c && *c >= 0 && *c != exit_texts[i].code)
			c++;
		if (!codes || *c >= 0)
			print_exit_row(fp, i);
	}
}

/* ---------------------------------------------------------------- errors */

/* The length of text's first run of printable ASCII (0x20..0x7E: what
 * lp_text_terminal_safe passes unchanged), 8 bytes at a time. */
static size_t plain_ascii(const char *text)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	size_t len = strlen(text), n = 0;

	while (len - n >= 8) {
		uint64_t w;

		memcpy(&w, text + n, 8);
		/* any byte below 0x20, any byte above 0x7E (exact tests) */
		if (((w - 0x20 * ones) & ~w & highs) | (((w + ones) | w) & highs))
			break;
		n += 8;
	}
	while (n < len && (unsigned char)text[n] >= 0x20 && (unsigned char)text[n] < 0x7F)
		n++;
	return n;
}

/* Write text made safe for a terminal (lp_text_terminal_safe): every
 * control character, line separator and invalid byte as a visible
 * escape. With multiline, LF is kept and every further line is indented
 * by two spaces, so that a line starting at column 0 is always one the
 * CLI wrote. "?" when memory runs out. */
static void put_safe(FILE *fp, const char *text, int multiline)
{
	char *safe = NULL;
	const char *p;
	size_t plain = 0;

	/* printable ASCII only (a JSON line, mostly): nothing to escape */
	plain = text ? plain_ascii(text) : 0;
	if (!text || text[plain] == '\0') {
		fwrite(text ? text : "", 1, plain, fp);
		return;
	}
	if (lp_text_terminal_safe(&safe, text, text ? strlen(text) : 0,
				  multiline ? LP_TEXT_MULTILINE : 0) != LP_OK) {
		fputc('?', fp);
		return;
	}
	for (p = safe; *p;) { /* each line at once, then the indent */
		size_t n = strcspn(p, "\n");
		fwrite(p, 1, n, fp);
		p += n;
		if (*p == '\n') {
			fputs("\n  ", fp);
			p++;
		}
	}
	free(safe);
}

static void put_one_line(FILE *fp, const char *text)
{
	put_safe(fp, text, 0);
}

void cli_put_safe(FILE *fp, const char *text)
{
	put_one_line(fp, text);
}

int cli_error(const char *cmd, int exit_code, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "%s%s%s: error: ", CLI_PROG, cmd ? " " : "", cmd ? cmd : "");
	put_one_line(stderr, msg);
	if (exit_code == CLI_EXIT_USAGE)
		fprintf(stderr, " (see '%s%s%s --help')", CLI_PROG, cmd ? " " : "", cmd ? cmd : "");
	fputc('\n', stderr);
	return exit_code;
}

void cli_warning(void *ud, const char *message)
{
	/* once per distinct message: watch looks again 20 times a second */
	static uint64_t seen[64];
	static size_t nseen;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *c = message; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	for (size_t k = 0; k < nseen && k < sizeof seen / sizeof seen[0]; k++)
		if (seen[k] == h)
			return;
	seen[nseen++ % (sizeof seen / sizeof seen[0])] = h;
	(void)ud;
	fflush(stdout);
	fprintf(stderr, "%s: warning: ", CLI_PROG);
	put_one_line(stderr, message);
	fputc('\n', stderr);
}

int cli_lp_error(const char *cmd, int lp_code)
{
	const char *msg = lp_error_message();

	if (!msg || !*msg)
		msg = lp_error_name(lp_code);
	return cli_error(cmd, cli_exit_code(lp_code), "%s", msg);
}

int cli_finish(const char *cmd, int exit_code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(cmd, CLI_EXIT_ERROR, "cannot write to standard output: %s",
			  strerror(errno));
		return exit_code ? exit_code : CLI_EXIT_ERROR;
	}
	return exit_code;
}

void cli_print_line(FILE *fp, const char *text)
{
	put_one_line(fp, text);
	fputc('\n', fp);
}

void cli_print_text(FILE *fp, const char *text)
{
	char *safe = NULL;
	if (lp_text_terminal_safe(&safe, text, text ? strlen(text) : 0, LP_TEXT_MULTILINE) !=
	    LP_OK) {
		fputs("?\n", fp);
		return;
	}
	fputs(safe, fp);
	if (!*safe || safe[strlen(safe) - 1] != '\n')
		fputc('\n', fp);
	free(safe);
}

/* ---------------------------------------------------------------- pauses */

/* "key: value" on one line; "-" for NULL. */
static void put_safe_line(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, "%s: ", key);
	put_safe(fp, value ? value : "-", 0);
	fputc('\n', fp);
}

static void put_value(FILE *fp, const char *key, const char *value)
{
	put_safe_line(fp, key, value);
}

/* Multi-line text: the first line after the key, the others indented by
 * two spaces; trailing line ends are dropped. */
static void put_text(FILE *fp, const char *key, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	char *copy;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	fprintf(fp, "%s: ", key);
	copy = strndup(text ? text : "", len);
	put_safe(fp, copy ? copy : "?", 1);
	free(copy);
	fputc('\n', fp);
}

/* "key: <ISO-8601 local time> (<seconds since the epoch>)". */
static void put_time(FILE *fp, const char *key, double when_s)
{
	time_t t = (time_t)when_s; /* no libm: the CLI does not link it */
	struct tm tm;
	char when[64];
	long off;

	if (!localtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm)) {
		fprintf(fp, "%s: %.6f\n", key, when_s);
		return;
	}
	off = tm.tm_gmtoff / 60;
	fprintf(fp, "%s: %s%c%02ld:%02ld (%.6f)\n", key, when, off < 0 ? '-' : '+', labs(off) / 60,
		labs(off) % 60, when_s);
}

/* How an ended pause ended: who resolved it, when, and the verdict, each
 * text escaped. */
static void put_verdict(FILE *fp, const lp_pause_info *info)
{
	if (info->resolved_by)
		put_value(fp, "resolved_by", info->resolved_by);
	if (info->finished_at > 0)
		put_time(fp, "finished_at", info->finished_at);
	if (info->kind_code == LP_KIND_CHECKPOINT)
		fprintf(fp, "result: %s\n",
			info->result == LP_RESULT_TRUE    ? "true"
			: info->result == LP_RESULT_FALSE ? "false"
							  : "none");
	if (info->kind_code != LP_KIND_FAILURE &&
	    (info->kind_code == LP_KIND_QUESTION || info->nchoices > 0))
		put_value(fp, "value", info->value);
	if (info->kind_code != LP_KIND_FAILURE ||
	    info->state_code == LP_STATE_ABORTED) /* an abort's reason */
		put_text(fp, "reason", info->reason ? info->reason : "-");
	if (info->kind_code == LP_KIND_FAILURE)
		put_text(fp, "failure_reason", info->failure_reason ? info->failure_reason : "-");
}

/* "choices: a | b | c", each escaped. */
static void put_choices(FILE *fp, const lp_pause_info *info)
{
	fputs("choices: ", fp);
	for (size_t i = 0; i < info->nchoices; i++) {
		if (i)
			fputs(" | ", fp);
		put_safe(fp, info->choices[i], 0);
	}
	fputc('\n', fp);
}

/* One line per attachment: "attachment: <name> (<content type>, <size>
 * bytes, from <source>) sha256=<hex>[ blob=<state>]", the name escaped;
 * the blob's state once checked (lp_pause_info_check_attachments). */
static void put_attachments(FILE *fp, const lp_pause_info *info)
{
	size_t i;

	for (i = 0; i < info->nattachments; i++) {
		const lp_attachment *a = &info->attachments[i];

		fputs("attachment: ", fp);
		put_one_line(fp, a->name);
		fputs(" (", fp);
		put_one_line(fp, a->content_type);
		fprintf(fp, ", %llu bytes, from %s) sha256=%s", a->size, a->source, a->sha256);
		if (a->blob != LP_BLOB_UNCHECKED)
			fprintf(fp, " blob=%s", lp_blob_state_name(a->blob));
		fputc('\n', fp);
	}
}

/* The hint the runtime writes too (lp_resume_hint: the choices of a pause
 * that has them, --pause-dir unless it is the default directory). */
static void put_resume_hint(FILE *fp, const lp_pause_info *info)
{
	char *cmd = NULL;
	if (lp_resume_hint(&cmd, info->pause_id, info->kind_code,
			   (const char *const *)info->choices, info->pause_dir) != LP_OK) {
		fputs("resume: -\n", fp); /* out of memory */
		return;
	}
	put_safe_line(fp, "resume", cmd);
	free(cmd);
}

void cli_print_pause(FILE *fp, const lp_pause_info *info, unsigned flags)
{
	int details = (flags & CLI_PAUSE_DETAILS) != 0;
	int checkpoint = info->kind_code == LP_KIND_CHECKPOINT;
	int pending = info->state_code == LP_STATE_PENDING;
	int ended = info->state_code == LP_STATE_RESUMED ||
		    info->state_code == LP_STATE_TIMED_OUT || info->state_code == LP_STATE_ABORTED;

	put_value(fp, "pause_id", info->pause_id);
	put_value(fp, "kind", info->kind);
	put_value(fp, "run_id", info->run_id);
	put_value(fp, "nodeid", info->nodeid);
	put_value(fp, "state", info->state);
	if (details)
		put_value(fp, "status", info->status);
	fprintf(fp, "pid: %ld\n", info->pid);
	if (info->worker_id)
		put_value(fp, "worker_id", info->worker_id);
	if (details) {
		put_value(fp, "hostname", info->hostname);
		put_value(fp, "cwd", info->cwd);
		put_time(fp, "created_at", info->created_at);
		if (isinf(info->timeout))
			fputs("timeout: inf (waits until resumed)\n", fp);
		else
			fprintf(fp, "timeout: %g\n", info->timeout);
	}
	if (info->kind_code == LP_KIND_QUESTION)
		put_text(fp, "question", info->question ? info->question : info->task);
	else if (checkpoint)
		put_text(fp, "task", info->task);
	else
		put_text(fp, "original_failure", info->original_failure);
	if (info->nchoices > 0)
		put_choices(fp, info);
	if (info->location)
		put_value(fp, "location", info->location);
	if (ended)
		put_verdict(fp, info);
	put_attachments(fp, info);
	put_value(fp, "pause_file", info->path);
	if (pending)
		put_resume_hint(fp, info);
}

double cli_now(void)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;
	return (double)now.tv_sec + now.tv_nsec / 1e9;
}

void cli_format_age_at(char *buf, size_t size, double created_at, double now)
{
	char tmp[32], *p = tmp + sizeof(tmp);
	double age = now - created_at;
	unsigned long v;
	char unit;
	size_t n;

	if (!(age > 0) || now <= 0)
		age = 0;
	if (age < 60)
		v = (unsigned long)(int)age, unit = 's';
	else if (age < 3600)
		v = (unsigned long)(int)(age / 60), unit = 'm';
	else if (age < 86400)
		v = (unsigned long)(int)(age / 3600), unit = 'h';
	else
		v = (unsigned long)(long)(age / 86400), unit = 'd';
	*--p = '\0';
	*--p = unit;
	do /* snprintf would be most of a listing's ages */
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (size == 0)
		return;
	n = (size_t)(tmp + sizeof(tmp) - 1 - p);
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

void cli_format_age(char *buf, size_t size, double created_at)
{
	cli_format_age_at(buf, size, created_at, cli_now());
}

/* ---------------------------------------------------------------- tables */

int cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > CLI_TABLE_MAX_COLS)
		return -1;
	t->ncols = ncols;
	return 0;
}

/* Room for n more bytes in the table's text; 0 or -1 (memory). */
static int table_reserve(struct cli_table *t, size_t n)
{
	size_t cap;
	char *grown;

	if (t->cap - t->len >= n)
		return 0;
	for (cap = t->cap ? t->cap : 4096; cap - t->len < n; cap *= 2)
		if (cap > ((size_t)-1) / 4)
			return -1;
	grown = realloc(t->text, cap);
	if (!grown)
		return -1;
	t->text = grown;
	t->cap = cap;
	return 0;
}

/* Append one cell, NUL-terminated, made safe for a terminal: a cell of
 * printable ASCII only (what lp_text_terminal_safe passes unchanged) is
 * copied as it is while it is checked; any other is escaped by
 * lp_text_terminal_safe. Its width is that of what is printed. */
static int table_put(struct cli_table *t, size_t col, const char *cell)
{
	size_t len = strlen(cell), i;
	char *out;

	if (table_reserve(t, len + 1) != 0)
		return -1;
	out = t->text + t->len;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cell[i];

		if (c < 0x20 || c > 0x7E)
			break;
		out[i] = (char)c;
	}
	if (i < len) { /* something to escape: the whole cell, by the library */
		char *safe = NULL;

		if (lp_text_terminal_safe(&safe, cell, len, 0) != LP_OK)
			return -1;
		len = strlen(safe);
		if (table_reserve(t, len + 1) != 0) {
			free(safe);
			return -1;
		}
		memcpy(t->text + t->len, safe, len);
		free(safe);
	}
	t->text[t->len + len] = '\0';
	t->len += len + 1;
	if (len > t->width[col])
		t->width[col] = len;
	return 0;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	size_t i, mark = t->len;

	for (i = 0; i < t->ncols; i++)
		if (table_put(t, i, cells[i] ? cells[i] : "-") != 0) {
			t->len = mark; /* the row is not added (widths may have grown) */
			return -1;
		}
	t->nrows++;
	return 0;
}

/* The rows go out through one buffer of whole lines (fwrite per 64 KiB),
 * each cell but the last padded to its column's width, then two spaces. */
void cli_table_print(FILE *fp, const struct cli_table *t)
{
	char buf[65536];
	size_t used = 0, r, c;
	const char *p = t->text;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t n = strlen(p);
			size_t need = c + 1 < t->ncols ? t->width[c] + 2 : n + 1;

			if (sizeof(buf) - used < need) {
				fwrite(buf, 1, used, fp);
				used = 0;
			}
			if (need > sizeof(buf)) { /* a cell longer than the buffer */
				fwrite(p, 1, n, fp);
				for (; n < need - 1; n++)
					fputc(' ', fp);
				fputc(c + 1 < t->ncols ? ' ' : '\n', fp);
			} else {
				memcpy(buf + used, p, n);
				if (c + 1 < t->ncols)
					memset(buf + used + n, ' ', need - n);
				else
					buf[used + n] = '\n';
				used += need;
			}
			p += n + 1;
		}
	}
	fwrite(buf, 1, used, fp);
}

void cli_table_free(struct cli_table *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}
