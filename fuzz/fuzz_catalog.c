/*
 * fuzz_catalog.c - libFuzzer harness for the catalog reader (catalog.c):
 * whatever the bytes, parsing never reads out of bounds, and everything it
 * keeps is well formed: valid run and pause ids, a pause's run taken from
 * its id, only final statuses and known kinds, runs sorted for lookup.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char header[] = "pytest-live-pause catalog 1\n";
	/* half the inputs get the header, so that the lines are reached */
	size_t hlen = size > 0 && (data[0] & 1) ? strlen(header) : 0;
	char *text = malloc(hlen + size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, header, hlen);
	memcpy(text + hlen, data, size);
	text[hlen + size] = '\0';
	lp_catalog *cat;
	if (lp_catalog_parse(text, hlen + size, &cat) != LP_OK)
		return 0;
	for (size_t k = 0; k < cat->nruns; k++) {
		if (lp_run_id_validate(cat->runs[k]) != LP_OK || !lp_catalog_has_run(cat, cat->runs[k]))
			abort();
		if (k > 0 && strcmp(cat->runs[k - 1], cat->runs[k]) > 0)
			abort();
	}
	for (size_t k = 0; k < cat->npauses; k++) {
		const lp_catalog_pause *p = &cat->pauses[k];
		char run[LP_ID_MAX + 1];
		if (lp_id_validate(p->pause_id, "pause id") != LP_OK ||
		    lp_pause_id_run(p->pause_id, run) != LP_OK || strcmp(run, p->run_id) != 0)
			abort();
		if (strcmp(p->status, "resumed") && strcmp(p->status, "timed_out") &&
		    strcmp(p->status, "aborted"))
			abort();
		if (strcmp(p->kind, "failure") && strcmp(p->kind, "checkpoint"))
			abort();
		if (!p->hostname || !p->cwd || !p->nodeid || (p->task && !p->task[0]) ||
		    (p->worker_id && !p->worker_id[0]))
			abort();
	}
	lp_catalog_free(cat);
	return 0;
}
