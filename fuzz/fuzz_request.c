/*
 * fuzz_request.c - libFuzzer harness for the request and answer files
 * (request.c): lpi_request_parse and lpi_answer_parse on any bytes, and for
 * what they accept, the invariants serving relies on: a request id is a
 * safe file-name part, the type is known, code is non-empty and within its
 * cap, an action's name is a valid id and its arguments are identifiers
 * with string values; an answer's --json view is one JSON object.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > LP_CAP_REQUEST + 16)
		return 0; /* over the cap: refused before parsing (tested once) */
	lpi_request_parsed r;
	char *rid = NULL;
	if (lpi_request_parse((const char *)data, size, "request", &r, &rid) == LP_OK) {
		const lp_request *q = &r.req;
		if (q->request_id == NULL || strchr(q->request_id, '.') ||
		    strchr(q->request_id, '/') ||
		    lp_id_validate(q->request_id, "request id") != LP_OK)
			abort();
		if (q->type != LP_REQUEST_EVAL && q->type != LP_REQUEST_EXEC &&
		    q->type != LP_REQUEST_ACTION)
			abort();
		if (q->type == LP_REQUEST_ACTION) {
			if (q->code || lp_id_validate(q->action, "action") != LP_OK)
				abort();
			if (q->nargs > LP_REQUEST_ARGS_MAX)
				abort();
			for (size_t i = 0; i < q->nargs; i++)
				if (!q->arg_keys[i] || !q->arg_values[i] ||
				    strchr(q->arg_keys[i], '-'))
					abort();
		} else if (!q->code || !q->code[0] || strlen(q->code) > LP_REQUEST_CODE_MAX) {
			abort();
		}
		if (!(q->timeout > 0) || q->timeout > LP_REQUEST_TIMEOUT_MAX || !q->by)
			abort();
		lpi_request_parsed_clear(&r);
	}
	free(rid);
	lp_answer a;
	if (lpi_answer_parse((const char *)data, size, "answer", &a) == LP_OK) {
		if (a.json == NULL || a.json[0] != '{')
			abort();
		for (size_t i = 0; i < a.nfiles; i++)
			if (a.files[i] == NULL)
				abort();
		lp_answer_clear(&a);
	}
	return 0;
}
