/*
 * clock.c - the two clocks of the runtime: wall time for what is recorded
 * in files, monotonic time for deadlines.
 */
#include "internal.h"

#include <time.h>

double lpi_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t lpi_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
