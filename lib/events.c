/*
 * events.c - the run's event log, events.jsonl: one JSON object per line,
 * appended with a single write(2) on an O_APPEND descriptor so that lines
 * from several processes of one run (xdist workers) never interleave; the
 * lines of one step (a pause's end and 0.1.1's end event) in one write;
 * and its reading from where the last read stopped (a tail), for the
 * change feed: each whole line once, whatever was appended meanwhile.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One line (no newline) of an event: its fields (NULL: none) and event,
 * ts and run_id over them, in a malloc'd string; NULL on error (message
 * set). */
static char *event_line(const char *run_id, const char *event, lp_json *fields)
{
	lp_json *own = lpj_object();
	int rc = own ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc)
		rc = lpj_set_str(own, "event", event);
	if (!rc)
		rc = lpj_set_real(own, "ts", lpi_now());
	if (!rc)
		rc = lpj_set_str(own, "run_id", run_id);
	char *text = rc ? NULL : fields ? lpj_dump_merged(fields, own) : lpj_dump(own);
	lpj_free(own);
	return text;
}

int lpi_events_append_n(int events_fd, const char *run_id, const lpi_event *evs, size_t n)
{
	char *lines[4];
	size_t lens[4], total = 0;
	if (n == 0 || n > sizeof lines / sizeof *lines)
		return lpi_fail(LP_EINVAL, "lpi_events_append_n: 1 to 4 events");
	int rc = LP_OK;
	size_t made = 0;
	for (; made < n; made++) {
		if (!(lines[made] = event_line(run_id, evs[made].event, evs[made].fields))) {
			rc = LP_ERROR;
			break;
		}
		lens[made] = strlen(lines[made]);
		total += lens[made] + 1;
	}
	char *buf = rc ? NULL : malloc(total);
	if (!rc && buf == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0, at = 0; i < made; i++) {
		if (buf) {
			memcpy(buf + at, lines[i], lens[i]);
			buf[at + lens[i]] = '\n';
			at += lens[i] + 1;
		}
		free(lines[i]);
	}
	if (rc)
		return rc;
	ssize_t w;
	do
		w = write(events_fd, buf, total);
	while (w < 0 && errno == EINTR);
	int e = errno;
	free(buf);
	if (w < 0)
		return lpi_fail_errno(LP_ERROR, e, "cannot append to events.jsonl of run %s",
				      run_id);
	if ((size_t)w != total)
		return lpi_fail(LP_ERROR, "short write to events.jsonl of run %s (disk full?)",
				run_id);
	return LP_OK;
}

int lpi_events_append(int events_fd, const char *run_id, const char *event, lp_json *fields)
{
	lpi_event ev = {event, fields};
	return lpi_events_append_n(events_fd, run_id, &ev, 1);
}

/* ------------------------------------------------------------ reading */

/* The longest line a tail parses: a pause_created line holds a nodeid
 * (LP_CAP_NODEID) and a worker_id that JSON escaping may make six times
 * longer; any longer line is skipped unread. */
#define TAIL_LINE_MAX ((size_t)1024 * 1024)

struct lpi_events_tail {
	int fd;
	off_t off;    /* bytes consumed: the end of the last whole line */
	int skipping; /* inside a line to skip (too long, or cut at open) */
	char *buf;
	size_t cap;
	char label[96];
};

int lpi_events_tail_open(lpi_events_tail **out, int run_fd, const char *run_id, int from_end)
{
	*out = NULL;
	lpi_events_tail *t = calloc(1, sizeof *t);
	if (t == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	snprintf(t->label, sizeof t->label, "events.jsonl of run %s", run_id);
	t->fd = openat(run_fd, "events.jsonl", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		int e = errno;
		free(t);
		return e == ENOENT
			       ? lpi_fail(LP_ENOTFOUND, "run %s has no events.jsonl yet", run_id)
			       : lpi_fail_errno(LP_ERROR, e, "cannot open events.jsonl of run %s",
						run_id);
	}
	struct stat st;
	int rc = fstat(t->fd, &st) < 0
			 ? lpi_fail_errno(LP_ERROR, errno, "cannot inspect %s", t->label)
			 : lpi_fd_trust_st(t->fd, &st, 0, t->label);
	if (!rc && !S_ISREG(st.st_mode))
		rc = lpi_fail(LP_EUNSAFE, "%s is not a regular file", t->label);
	if (!rc && from_end && st.st_size > 0) {
		/* a last line without its newline is still being written: its
		 * end is where reading starts */
		char last;
		t->off = st.st_size;
		t->skipping = pread(t->fd, &last, 1, st.st_size - 1) != 1 || last != '\n';
	}
	if (rc) {
		lpi_events_tail_free(t);
		return rc;
	}
	*out = t;
	return LP_OK;
}

int lpi_events_tail_fd(const lpi_events_tail *t)
{
	return t->fd;
}

/* Hand each whole line in t->buf[at..end) to the caller; the bytes used. */
static size_t tail_lines(lpi_events_tail *t, size_t at, size_t end, const char *filter,
			 int (*fn)(const lp_json *ev, void *ud), void *ud, int *rc)
{
	size_t start = at;
	char *nl;
	while (*rc == LP_OK && (nl = memchr(t->buf + at, '\n', end - at)) != NULL) {
		size_t len = (size_t)(nl - (t->buf + at));
		const char *line = t->buf + at;
		at += len + 1;
		if (t->skipping) {
			t->skipping = 0;
			continue;
		}
		if (filter && memmem(line, len, filter, strlen(filter)) == NULL)
			continue;
		lp_json *ev;
		if (lpj_parse_object(line, len, t->label, &ev) != LP_OK) {
			lpi_error_clear(); /* not a line of ours: skipped */
			continue;
		}
		*rc = fn(ev, ud);
		lpj_free(ev);
	}
	return at - start;
}

int lpi_events_tail_read(lpi_events_tail *t, const char *filter,
			 int (*fn)(const lp_json *ev, void *ud), void *ud)
{
	int rc = LP_OK;
	for (;;) {
		if (t->buf == NULL) {
			t->cap = 16 * 1024;
			if ((t->buf = malloc(t->cap)) == NULL) {
				t->cap = 0;
				return lpi_fail(LP_ERROR, "out of memory");
			}
		}
		/* from the newline that ended the last line read, when it did:
		 * a log cut short, or cut and written again past where the
		 * reader was, no longer has it there */
		size_t check = t->off > 0 && !t->skipping;
		ssize_t n = pread(t->fd, t->buf, t->cap, t->off - (off_t)check);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lpi_fail_errno(LP_EBADCMD, errno, "cannot read %s", t->label);
		if ((size_t)n < check || (check && t->buf[0] != '\n'))
			return lpi_fail(LP_EBADCMD,
					"%s was cut short or rewritten under its reader", t->label);
		if ((size_t)n == check) { /* nothing new: still as long as read? */
			struct stat st;
			if (fstat(t->fd, &st) == 0 && st.st_size < t->off)
				return lpi_fail(LP_EBADCMD, "%s was cut short under its reader",
						t->label);
			return LP_OK;
		}
		size_t used = tail_lines(t, check, (size_t)n, filter, fn, ud, &rc);
		t->off += (off_t)used;
		if (rc)
			return rc;
		if ((size_t)n < t->cap)
			return LP_OK; /* at the end; what is left is a line being written */
		if (used == 0) {
			/* one line fills the buffer: a bigger one, or skip it */
			if (!t->skipping && t->cap < TAIL_LINE_MAX) {
				char *nb = realloc(t->buf, t->cap * 2);
				if (nb == NULL)
					return lpi_fail(LP_ERROR, "out of memory");
				t->buf = nb;
				t->cap *= 2;
			} else {
				t->skipping = 1;
				t->off += n - (ssize_t)check;
			}
		}
	}
}

void lpi_events_tail_free(lpi_events_tail *t)
{
	if (t == NULL)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->buf);
	free(t);
}
