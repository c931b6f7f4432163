/*
 * fault.c - crash points for the fault-injection tests: when the
 * environment variable LP_TEST_KILL_AT names a step ("step", or "step@N"
 * for its N-th time), the process sends itself SIGKILL (a real kill -9:
 * no cleanup, no flush) on reaching it.
 * Unset, a crash point costs one cached comparison. The steps are listed
 * in docs/reliability.md and exercised by tests/python/test_crash_points.py.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *target;
static size_t target_len;
static long nth = 1, seen;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static void load_target(void)
{
	/* "step" (the first time) or "step@N" (the N-th time) */
	target = getenv("LP_TEST_KILL_AT");
	if (target != NULL) {
		const char *at = strchr(target, '@');
		target_len = at ? (size_t)(at - target) : strlen(target);
		if (at)
			nth = strtol(at + 1, NULL, 10);
	}
}

void lpi_crash_point(const char *step)
{
	pthread_once(&loaded, load_target); /* threads may reach one first */
	if (target == NULL || strlen(step) != target_len || strncmp(target, step, target_len) != 0)
		return;
	if (__atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED) == nth)
		kill(getpid(), SIGKILL);
}
