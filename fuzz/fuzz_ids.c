/*
 * fuzz_ids.c - libFuzzer harness for id validation and pause-file path
 * references: whatever the input, an accepted id never contains '/', never
 * starts with '.', and is at most LP_ID_MAX bytes.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lp_id_validate(s, "id") == LP_OK) {
		if (strchr(s, '/') || s[0] == '.' || strlen(s) > LP_ID_MAX)
			abort();
		char run[LP_ID_MAX + 1];
		if (lpi_pause_id_run(s, run) == LP_OK &&
		    (strchr(run, '.') || strlen(run) >= strlen(s)))
			abort();
	}
	if (lpi_run_id_validate(s) == LP_OK && strchr(s, '.'))
		abort();
	free(s);
	return 0;
}
