/*
 * fuzz_catalog.c - libFuzzer harness for the catalog reader (catalog.c):
 * whatever the bytes, parsing never reads out of bounds, and everything it
 * keeps is well formed: valid run and pause ids, a pause's run taken from
 * its id, only final statuses and known kinds, every run found by
 * lpi_catalog_has_run; and the runs-only pass of "ls" (lpi_catalog_parse_runs)
 * knows every run the full parse keeps, and nothing the full parse would
 * refuse is a valid run id it knows but the full parse does not; the
 * counts pass of "runs" (lpi_catalog_parse_counts) keeps exactly the
 * pauses (id, run, status, kind), runs and ends of the full parse, and
 * every end is found by its run id (lpi_catalog_find_end). The
 * same bytes as catalog-json.tsv (lpi_listing_parse): what is found for
 * a "J" line's id is one line within the text, from '{' to '}'.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The bytes as catalog-json.tsv: what lpi_listing_find gives is sound. */
static void listing(const uint8_t *data, size_t size, int with_header)
{
	static const char header[] = "pytest-live-pause catalog-json 1\n";
	size_t hlen = with_header ? strlen(header) : 0;
	char *text = malloc(hlen + size + 1), *ids = malloc(size + 1);
	if (text == NULL || ids == NULL) {
		free(text);
		free(ids);
		return;
	}
	memcpy(text, header, hlen);
	memcpy(text + hlen, data, size);
	text[hlen + size] = '\0';
	memcpy(ids, data, size); /* the second field of every line, as ids to look up */
	ids[size] = '\0';
	lpi_listing *l;
	if (lpi_listing_parse(text, hlen + size, &l) != LP_OK) {
		free(ids); /* text taken */
		return;
	}
	for (char *line = ids; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *id = strchr(line, '\t');
		if (id) {
			char *end = strchr(++id, '\t');
			if (end)
				*end = '\0';
			size_t len;
			const char *json = lpi_listing_find(l, id, &len);
			if (json && (len < 2 || json[0] != '{' || json[len - 1] != '}' ||
				     memchr(json, '\n', len) || memchr(json, '\0', len)))
				abort();
		}
		line = next;
	}
	lpi_listing_free(l);
	free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	listing(data, size, size > 0 && (data[0] & 2));
	static const char header[] = "pytest-live-pause catalog 1\n";
	/* half the inputs get the header, so that the lines are reached */
	size_t hlen = size > 0 && (data[0] & 1) ? strlen(header) : 0;
	char *text = malloc(hlen + size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, header, hlen);
	memcpy(text + hlen, data, size);
	text[hlen + size] = '\0';
	char *copy = malloc(hlen + size + 1);
	if (copy == NULL) {
		free(text);
		return 0;
	}
	memcpy(copy, text, hlen + size + 1);
	char *copy2 = malloc(hlen + size + 1);
	if (copy2 == NULL) {
		free(text);
		free(copy);
		return 0;
	}
	memcpy(copy2, text, hlen + size + 1);
	lpi_catalog *cat, *runs = NULL, *counts = NULL;
	if (lpi_catalog_parse_counts(copy2, hlen + size, &counts) != LP_OK)
		counts = NULL;
	if (lpi_catalog_parse_runs(copy, hlen + size, &runs) != LP_OK)
		runs = NULL;
	if (lpi_catalog_parse(text, hlen + size, &cat) != LP_OK) {
		if (counts != NULL)
			abort(); /* both accept the same headers */
		lpi_catalog_free(runs);
		return 0;
	}
	/* the counts pass (runs) keeps exactly the pauses, runs and ends of the full parse */
	if (counts == NULL || counts->npauses != cat->npauses || counts->nruns != cat->nruns ||
	    counts->nends != cat->nends)
		abort();
	for (size_t k = 0; k < cat->npauses; k++)
		if (strcmp(counts->pauses[k].pause_id, cat->pauses[k].pause_id) ||
		    strcmp(counts->pauses[k].status, cat->pauses[k].status) ||
		    strcmp(counts->pauses[k].run_id, cat->pauses[k].run_id) ||
		    strcmp(counts->pauses[k].kind, cat->pauses[k].kind))
			abort();
	for (size_t k = 0; k < cat->nends; k++) /* and the same ends, copied out of the text */
		if (strcmp(counts->ends[k].run_id, cat->ends[k].run_id) ||
		    strcmp(counts->ends[k].hostname, cat->ends[k].hostname) ||
		    strcmp(counts->ends[k].cwd, cat->ends[k].cwd) ||
		    counts->ends[k].pid != cat->ends[k].pid ||
		    counts->ends[k].exitstatus != cat->ends[k].exitstatus ||
		    memcmp(&counts->ends[k].started_at, &cat->ends[k].started_at, sizeof(double)) ||
		    memcmp(&counts->ends[k].ended_at, &cat->ends[k].ended_at, sizeof(double)))
			abort();
	for (size_t k = 0; k < cat->nruns; k++)
		if (strcmp(counts->runs[k], cat->runs[k]))
			abort();
	lpi_catalog_free(counts);
	if (runs == NULL)
		abort(); /* both accept the same headers */
	for (size_t k = 0; k < cat->nruns; k++) {
		if (lpi_run_id_validate(cat->runs[k]) != LP_OK ||
		    !lpi_catalog_has_run(cat, cat->runs[k]))
			abort();
		if (!lpi_catalog_has_run(runs, cat->runs[k]))
			abort();
	}
	for (size_t k = 0; k < runs->nruns; k++)
		if (lpi_run_id_validate(runs->runs[k]) == LP_OK &&
		    !lpi_catalog_has_run(cat, runs->runs[k]))
			abort();
	lpi_catalog_free(runs);
	for (size_t k = 0; k < cat->npauses; k++) {
		const lpi_catalog_pause *p = &cat->pauses[k];
		char run[LP_ID_MAX + 1];
		if (lp_id_validate(p->pause_id, "pause id") != LP_OK ||
		    lpi_pause_id_run(p->pause_id, run) != LP_OK || strcmp(run, p->run_id) != 0)
			abort();
		if (strcmp(p->status, "resumed") && strcmp(p->status, "timed_out") &&
		    strcmp(p->status, "aborted"))
			abort();
		if (strcmp(p->kind, "failure") && strcmp(p->kind, "checkpoint") &&
		    strcmp(p->kind, "question"))
			abort();
		if (!p->hostname || !p->cwd || !p->nodeid || (p->task && !p->task[0]) ||
		    (p->worker_id && !p->worker_id[0]))
			abort();
	}
	/* every "E" line's run is found by its id (the hash set of ends) */
	for (size_t k = 0; k < cat->nends; k++) {
		const lp_catalog_end *e = lpi_catalog_find_end(cat, cat->ends[k].run_id);
		if (e == NULL || strcmp(e->run_id, cat->ends[k].run_id) != 0)
			abort();
	}
	lpi_catalog_free(cat);
	return 0;
}
