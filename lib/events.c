/*
 * events.c - the run's event log, events.jsonl: one JSON object per line,
 * appended with a single write(2) on an O_APPEND descriptor so that lines
 * from several processes of one run (xdist workers) never interleave; the
 * lines of one step (a pause's end and 0.1.1's end event) in one write.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
