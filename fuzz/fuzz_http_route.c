/*
 * fuzz_http_route.c - libFuzzer harness for the server's request routing
 * and body parsing (server/route.c): the first byte picks what the rest
 * is: a method and a path separated by a NUL (srv_route_match), or a
 * resume or abort body (srv_body_parse). Checks the contracts: a matched
 * route's pause id is a valid id and an attachment route's sha256 is 64
 * lowercase hex digits (anything else is SRV_ROUTE_BADSHA); a parsed body
 * has a result in range, an abort body only a reason (never a verdict or
 * a value), and every string it kept is the JSON's (a C string of the
 * same bytes: no NUL inside).
 */
#include "serve.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 70000)
		return 0;
	char *buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: {
		const char *method = buf;
		size_t n = strlen(method);
		const char *path = n + 1 < size - 1 ? buf + n + 1 : "";
		srv_route r;
		int m = srv_route_match(method, path, &r);
		if (m == SRV_ROUTE_OK &&
		    (r.id == SRV_R_PAUSE || r.id == SRV_R_RESUME || r.id == SRV_R_ABORT ||
		     r.id == SRV_R_ATTACHMENT) &&
		    lp_id_validate(r.pause_id, "pause id") != LP_OK)
			abort();
		if (m == SRV_ROUTE_OK && r.id == SRV_R_ATTACHMENT &&
		    (strlen(r.sha256) != LP_SHA256_HEX ||
		     strspn(r.sha256, "0123456789abcdef") != LP_SHA256_HEX))
			abort();
		if (m == SRV_ROUTE_BADSHA && r.id != SRV_R_ATTACHMENT)
			abort();
		if (m == SRV_ROUTE_OK && r.post != (strcmp(method, "POST") == 0))
			abort();
		break;
	}
	default: {
		srv_body b;
		char err[512];
		int abort_body = data[0] % 3 == 2;
		if (srv_body_parse(buf, size - 1, abort_body, &b, err, sizeof err) == 0) {
			if (b.result < LP_RESULT_NONE || b.result > LP_RESULT_TRUE)
				abort();
			if (abort_body && (b.has_failure_reason || b.has_result || b.value))
				abort();
			if (b.has_failure_reason != (b.failure_reason != NULL))
				abort();
		} else if (err[0] == '\0') {
			abort(); /* a refusal always says why */
		}
		srv_body_clear(&b);
	}
	}
	free(buf);
	return 0;
}
