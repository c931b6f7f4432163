/*
 * quota.c - --pause-max: the run's budget of failure pauses, shared by
 * every process of the run (an xdist controller and its workers).
 *
 * The count lives in the run's directory, runs/<run_id>/failure_pauses: a
 * decimal number, the failures that asked to pause so far. Each ask takes
 * the file's exclusive flock(2), reads the count, writes it plus one and
 * unlocks, so that asks from several processes are counted once each in
 * some order. The first `max` asks may pause; the ask just after them is
 * told that it is the first refused, so that exactly one process says so.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTA_FILE "failure_pauses"

int lp_run_failure_quota(int *allowed, int *first_refused, lp_run *run, long max)
{
	if (allowed)
		*allowed = 0;
	if (first_refused)
		*first_refused = 0;
	if (run == NULL || allowed == NULL || max < 0)
		return lpi_fail(LP_EINVAL,
				"lp_run_failure_quota: a run, allowed and max >= 0 are required");
	int fd = openat(run->fd, QUOTA_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot open %s of run %s", QUOTA_FILE,
				      run->id);
	int rc = lpi_fd_trust(fd, 0, QUOTA_FILE);
	if (rc) {
		close(fd);
		return rc;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot lock %s of run %s", QUOTA_FILE,
					    run->id);
			close(fd);
			return rc;
		}
	}
	char buf[32];
	ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
	long count = 0;
	if (got > 0) {
		buf[got] = '\0';
		char *end;
		count = strtol(buf, &end, 10);
		if (count < 0 || (*end != '\0' && *end != '\n'))
			count = max; /* damaged: pause no more rather than without end */
	}
	int len = snprintf(buf, sizeof buf, "%ld\n", count + 1);
	if (pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot count a failure pause in %s of run %s",
				    QUOTA_FILE, run->id);
	flock(fd, LOCK_UN);
	close(fd);
	if (rc)
		return rc;
	*allowed = count < max;
	if (first_refused)
		*first_refused = count == max;
	return LP_OK;
}
