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
	/* 1: [A-Za-z0-9_-], 2: '.' (a table: the listings check 50,000 ids) */
	static const unsigned char cls[256] = {
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
		['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
		['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
		['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
		['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
		['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
		['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
		['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
		['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['_'] = 1,
		['-'] = 1, ['.'] = 2,
	};
	unsigned char accept = allow_dot ? 3 : 1;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		int ok = (cls[(unsigned char)c] & accept) != 0;
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
