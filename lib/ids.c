/*
 * ids.c - run and pause identifiers: validation (the only gate between a
 * string from a user or a file and a file name) and generation.
 *
 * A run id is [A-Za-z0-9_-]{1,64}; a pause id is "<run_id>.<suffix>" of
 * [A-Za-z0-9._-] so that the run of a pause is known without a search.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static int id_check(const char *id, const char *what, int allow_dot)
{
	if (id == NULL || id[0] == '\0')
		return lpi_fail(LP_EINVAL, "%s is empty", what);
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-' || (allow_dot && c == '.');
		if (n >= LP_ID_MAX)
			return lpi_fail(LP_EINVAL, "%s is longer than %d characters", what,
					LP_ID_MAX);
		if (!ok) {
			if (c == '/' && allow_dot)
				return lpi_fail(
					LP_EINVAL,
					"%s '%.80s' contains '/': give a pause id, or the path of a pause file",
					what, id);
			return lpi_fail(LP_EINVAL, "%s '%.80s' has a character outside %s", what,
					id, allow_dot ? "[A-Za-z0-9._-]" : "[A-Za-z0-9_-]");
		}
	}
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || id[0] == '.')
		return lpi_fail(LP_EINVAL, "%s '%s' may not start with '.'", what, id);
	return LP_OK;
}

int lp_id_validate(const char *id, const char *what)
{
	return id_check(id, what ? what : "id", 1);
}

int lpi_run_id_validate(const char *id)
{
	return id_check(id, "run id", 0);
}

int lpi_random_hex(char *buf, size_t nbytes)
{
	unsigned char raw[32];
	if (nbytes > sizeof raw)
		return lpi_fail(LP_EINVAL, "internal: too many random bytes");
	size_t got = 0;
	while (got < nbytes) {
		ssize_t r = getrandom(raw + got, nbytes - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return lpi_fail_errno(LP_ERROR, errno, "cannot read random bytes");
		}
		got += (size_t)r;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[2 * nbytes] = '\0';
	return LP_OK;
}

int lpi_new_run_id(char out[LP_ID_MAX + 1])
{
	/* 48 random bits: unique among the runs of one directory. */
	return lpi_random_hex(out, 6);
}

int lpi_new_pause_id(const char *run_id, char out[LP_ID_MAX + 1])
{
	char suffix[17];
	int rc = lpi_random_hex(suffix, 4);
	if (rc)
		return rc;
	size_t n = strlen(run_id);
	if (n + 1 + 8 > LP_ID_MAX)
		return lpi_fail(LP_EINVAL, "run id '%s' is too long to make pause ids (%d at most)",
				run_id, LP_ID_MAX - 9);
	memcpy(out, run_id, n);
	out[n] = '.';
	memcpy(out + n + 1, suffix, 9);
	return LP_OK;
}

int lpi_pause_id_run(const char *pause_id, char run_id[LP_ID_MAX + 1])
{
	int rc = lp_id_validate(pause_id, "pause id");
	if (rc)
		return rc;
	const char *dot = strchr(pause_id, '.');
	if (dot == NULL || dot == pause_id)
		return lpi_fail(
			LP_ENOTFOUND,
			"pause id '%s' is not of the form <run_id>.<suffix>; copy it from 'pytest-live-pause ls'",
			pause_id);
	size_t n = (size_t)(dot - pause_id);
	memcpy(run_id, pause_id, n);
	run_id[n] = '\0';
	return LP_OK;
}
