/*
 * fuzz_command.c - libFuzzer harness for the command-file parser: strict
 * JSON parsing (lpj_parse_object) and field-by-field validation
 * (lpj_command_validate) for both kinds of pause.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > LP_CAP_COMMAND)
		return 0; /* the runtime refuses larger files before parsing */
	lp_json *j;
	if (lpj_parse_object((const char *)data, size, "command", &j) != LP_OK)
		return 0;
	for (int kind = LP_KIND_FAILURE; kind <= LP_KIND_CHECKPOINT; kind++) {
		lp_command c;
		if (lpj_command_validate(j, (lp_kind)kind, &c) == LP_OK)
			lp_command_clear(&c);
	}
	lpj_free(j);
	return 0;
}
