/*
 * fuzz_command.c - libFuzzer harness for the command file (claim.c): the
 * parser and validator lpi_command_parse for every kind of pause (strict
 * JSON, the typed and the seed format, action, token, value, an abort's
 * reason, attachments, unknown fields), and, for what it accepts, the invariants the
 * take relies on: a typed command's action is one it knows, a token is a
 * safe name, no verdict field of another kind is taken, a value that
 * lpi_command_fits accepts is one of the choices, the list of ignored
 * fields serialises, the attachments it names are well-formed entries.
 * And for any input that parses as a JSON object or array (lpj_parse_any),
 * lpj_dump's own text is byte for byte jansson's (lpj_dump_by_jansson).
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > LP_CAP_COMMAND + 16)
		return 0; /* over the cap: refused before parsing (tested once) */
	lp_json *any = NULL;
	if (lpj_parse_any((const char *)data, size, &any) == LP_OK) {
		char *mine = lpj_dump(any), *ref = lpj_dump_by_jansson(any);
		if ((mine == NULL) != (ref == NULL) || (mine && strcmp(mine, ref) != 0))
			abort(); /* lpj_dump writes what jansson writes */
		free(mine);
		free(ref);
		lpj_free(any);
	}
	lp_json *choices = NULL;
	if (lpj_parse_any("[\"pass\",\"retry\",\"skip\"]", 23, &choices) != LP_OK)
		abort();
	for (int kind = LP_KIND_FAILURE; kind <= LP_KIND_QUESTION; kind++) {
		lpi_command c;
		if (lpi_command_parse((const char *)data, size, (lp_kind)kind, "command", &c) !=
		    LP_OK)
			continue;
		if (c.action != LP_ACTION_RESUME && c.action != LP_ACTION_ABORT &&
		    c.action != LP_ACTION_TIMEOUT)
			abort();
		if (c.token && lp_id_validate(c.token, "token") != LP_OK && c.token[0] != '.')
			abort();
		if (!c.typed && c.action != LP_ACTION_RESUME)
			abort(); /* a seed-format command only resumes */
		if (kind == LP_KIND_FAILURE &&
		    (c.has_result || c.value || (c.reason && c.action != LP_ACTION_ABORT)))
			abort(); /* a verdict of the other kind is never taken */
		if (kind != LP_KIND_FAILURE && c.failure_reason)
			abort();
		if (kind == LP_KIND_QUESTION && c.has_result)
			abort();
		if (lpi_command_fits(&c, (lp_kind)kind, choices, "command") == LP_OK && c.value &&
		    c.action == LP_ACTION_RESUME && kind == LP_KIND_CHECKPOINT &&
		    strcmp(c.value, "pass") != 0 && strcmp(c.value, "retry") != 0 &&
		    strcmp(c.value, "skip") != 0)
			abort(); /* only a choice fits */
		if (c.attachments) {
			/* a command taken names only well-formed entries: file
			 * names, 64 hex digits, sizes, at most the cap */
			lp_attachment *list;
			size_t n;
			if (lpi_attachments_parse(c.attachments, "command", 0, "/r", &list, &n) !=
				    LP_OK ||
			    n > LP_ATTACH_COUNT_MAX)
				abort();
			for (size_t k = 0; k < n; k++)
				if (lp_attachment_name_check(list[k].name) != LP_OK ||
				    strlen(list[k].sha256) != LP_SHA256_HEX ||
				    strcmp(list[k].source, "resume") != 0)
					abort();
			lpi_attachments_free(list, n);
		}
		char *ignored = lpj_dump(c.ignored);
		if (ignored == NULL)
			abort();
		free(ignored);
		lpi_command_clear(&c);
	}
	lpj_free(choices);
	return 0;
}
