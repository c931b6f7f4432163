/*
 * events.c - the run's event log, events.jsonl: one JSON object per line,
 * appended with a single write(2) on an O_APPEND descriptor so that lines
 * from several processes of one run (xdist workers) never interleave.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lpi_events_append(int events_fd, const char *run_id, const char *event, lp_json *fields)
{
	lp_json *line = fields ? lpj_copy(fields) : lpj_object();
	if (line == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpj_set_str(line, "event", event);
	if (!rc)
		rc = lpj_set_real(line, "ts", lpi_now());
	if (!rc)
		rc = lpj_set_str(line, "run_id", run_id);
	char *text = rc ? NULL : lpj_dump(line);
	lpj_free(line);
	if (text == NULL)
		return rc ? rc : LP_ERROR;
	size_t n = strlen(text);
	char *buf = malloc(n + 2);
	if (buf == NULL) {
		free(text);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	memcpy(buf, text, n);
	buf[n] = '\n';
	free(text);
	ssize_t w;
	do
		w = write(events_fd, buf, n + 1);
	while (w < 0 && errno == EINTR);
	int e = errno;
	free(buf);
	if (w < 0)
		return lpi_fail_errno(LP_ERROR, e, "cannot append to events.jsonl of run %s",
				      run_id);
	if ((size_t)w != n + 1)
		return lpi_fail(LP_ERROR, "short write to events.jsonl of run %s (disk full?)",
				run_id);
	return LP_OK;
}
