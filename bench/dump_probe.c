/*
 * dump_probe.c - a probe (not product code; built with the unit tests:
 * build/dev/dump_probe [FILE]): what lpj_dump costs for one JSON object
 * (FILE, or a checkpoint's pending pause file as the runtime writes it),
 * against jansson's own dump of it (lpj_dump_by_jansson), warm (the same
 * dump again and again) and cache-cold (a 64 MiB sweep before each dump,
 * as after the minutes a paused process sleeps). p50 of 400 dumps each,
 * in microseconds; exit 1 if the two texts differ.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 400
#define SWEEP (64u << 20)

static const char sample[] =
	"{\"attachments\":[],\"boot_id\":\"fddb3ff1-396e-4582-b862-fd85668c2655\","
	"\"created_at\":1796231300.145243,\"cwd\":\"/tmp/lead/t1\",\"deadline_at\":1796231600.145243,"
	"\"failure_reason\":null,\"finished_at\":null,\"heartbeat_interval\":2.0,\"hostname\":\"vm\","
	"\"kind\":\"checkpoint\",\"location\":\"test_x.py:3\",\"nodeid\":\"test_x.py::test_a\","
	"\"original_failure\":\"\",\"pause_id\":\"6774ca1fa55b.a48e4977\",\"pid\":10103,"
	"\"pid_start_time\":\"85004\",\"protocol\":3,\"requests\":{\"actions\":[],\"eval\":false},"
	"\"resume_command\":\"pytest-live-pause resume 6774ca1fa55b.a48e4977 --result "
	"'true|false|none' --reason TEXT\",\"run_id\":\"6774ca1fa55b\",\"status\":\"pending\","
	"\"task\":\"look at the screen\",\"timeout\":300.0,\"worker_id\":null}";

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double p50(char *(*dump)(const lp_json *), const lp_json *doc, unsigned char *sweep)
{
	double t[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		if (sweep)
			for (size_t k = 0; k < SWEEP; k += 64)
				sweep[k]++;
		double t0 = now_us();
		char *s = dump(doc);
		t[i] = now_us() - t0;
		free(s);
	}
	qsort(t, ROUNDS, sizeof *t, by_value);
	return t[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	static char text[1 << 20];
	size_t n = strlen(sample);
	memcpy(text, sample, n + 1);
	if (argc > 1) {
		FILE *f = fopen(argv[1], "r");
		if (f == NULL) {
			perror(argv[1]);
			return 2;
		}
		n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	lp_json *doc;
	if (lpj_parse_object(text, n, argc > 1 ? argv[1] : "the sample", &doc) != LP_OK) {
		fprintf(stderr, "dump_probe: %s\n", lp_error_message());
		return 2;
	}
	char *a = lpj_dump(doc), *b = lpj_dump_by_jansson(doc);
	int same = a && b && strcmp(a, b) == 0;
	printf("object of %zu bytes dumped: %s\n", a ? strlen(a) : 0,
	       same ? "the same text both ways" : "THE TEXTS DIFFER");
	free(a);
	free(b);
	unsigned char *sweep = calloc(SWEEP, 1);
	if (sweep == NULL)
		return 2;
	printf("p50 (us)        warm   cold\n");
	printf("lpj_dump      %6.2f %6.2f\n", p50(lpj_dump, doc, NULL), p50(lpj_dump, doc, sweep));
	printf("jansson's     %6.2f %6.2f\n", p50(lpj_dump_by_jansson, doc, NULL),
	       p50(lpj_dump_by_jansson, doc, sweep));
	free(sweep);
	lpj_free(doc);
	return same ? 0 : 1;
}
