/*
 * fuzz_pause_file.c - libFuzzer harness for the pause file, both ways.
 * Reader: the input is written as a pause file into a scratch pause
 * directory and read back through the public readers (lp_pause_info_load,
 * lp_store_list), as `show` and `ls -a` do. Writer (inputs starting with '!'):
 * the rest, repeated up to 640 KiB (second byte: its low bit the kind,
 * its top five bits how many times, 2^0 to 2^31: log-uniform, so that
 * most runs are short and quick and some cross every cap), is the
 * nodeid, the task or failure text and the verdict of a pause written by
 * lp_pause_begin() and ended by a claim; every pause file written must be
 * within every reader's cap and readable, its catalog line written (the
 * pause leaves pending/) and read back.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static const char *run = "fuzzrun";
static const char *id = "fuzzrun.0000abcd";

static int count(const lp_pause_info *info, void *ud)
{
	(void)info;
	(*(int *)ud)++;
	return 0;
}

/* The writer's scratch directory and run, made once per process. */
static char wdir[64];
static lp_store *wstore;
static lp_run *wrun;

static char *amplify(const uint8_t *data, size_t size, size_t times)
{
	size_t n = size * times;
	if (n > 640u << 10) /* over every cap once escaped; more only slows the fuzzer */
		n = 640u << 10;
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	for (size_t k = 0; k < n; k++)
		s[k] = (char)(data[k % size] ? data[k % size] : 'z'); /* no NUL inside */
	s[n] = '\0';
	return s;
}

static void writer(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	if (wrun == NULL) {
		setenv("LP_UNSAFE_NO_FSYNC", "1", 1); /* scratch files: speed, not durability */
		snprintf(wdir, sizeof wdir, "/tmp/lp-fuzz-pause-w%ld", (long)getpid());
		lp_run_options ro = LP_RUN_OPTIONS_INIT;
		ro.run_id = "w";
		if (lp_store_open(&wstore, wdir, LP_STORE_CREATE) != LP_OK ||
		    lp_run_start(&wrun, wstore, &ro) != LP_OK)
			abort();
	}
	lp_kind kind = data[1] & 1 ? LP_KIND_CHECKPOINT : LP_KIND_FAILURE;
	char *text = amplify(data + 2, size - 2, (size_t)1 << (data[1] >> 3));
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = kind;
	o.nodeid = text;
	o.task = kind == LP_KIND_CHECKPOINT ? text : NULL;
	o.original_failure = kind == LP_KIND_FAILURE ? text : NULL;
	lp_pause *p;
	if (lp_pause_begin(&p, wrun, &o) != LP_OK)
		abort(); /* any text must make a pause */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/runs/w/pauses/%s.json", wdir, lp_pause_id(p));
	struct stat st;
	if (stat(path, &st) != 0 || st.st_size >= LP_CAP_PAUSE)
		abort();
	lp_pause_info *info;
	if (lp_pause_info_load(&info, wstore, lp_pause_id(p)) != LP_OK)
		abort();
	lp_pause_info_free(info);
	/* a verdict from the input, as long as a command may carry */
	lp_json *fields = lpj_object();
	char *reason = amplify(data + 2, size - 2, 1 + (LP_CAP_COMMAND / 8) / (size - 2));
	if (lpj_set_str(fields, kind == LP_KIND_CHECKPOINT ? "reason" : "failure_reason", reason))
		abort();
	char *ftext = lpj_dump(fields);
	lp_resolution res = {0};
	if (lp_pause_claim(&res, p, LP_ACTION_RESUME, "fuzz", ftext) == LP_OK)
		lp_resolution_clear(&res);
	else if (lp_pause_claim(&res, p, LP_ACTION_ABORT, "abort", NULL) == LP_OK)
		lp_resolution_clear(&res); /* a verdict too large for a command */
	else
		abort();
	free(ftext);
	lpj_free(fields);
	free(reason);
	if (stat(path, &st) != 0 || st.st_size >= LP_CAP_PAUSE)
		abort();
	if (lp_pause_info_load(&info, wstore, lp_pause_id(p)) != LP_OK)
		abort();
	lp_pause_info_free(info);
	/* its catalog line was written (it left pending/) and reads back,
	 * once the run's settle thread has done its part (settle.c) */
	if (lpi_pause_settle(p) != LP_OK)
		abort();
	char pend[PATH_MAX];
	snprintf(pend, sizeof pend, "%s/pending/%s", wdir, lp_pause_id(p));
	if (access(pend, F_OK) == 0)
		abort();
	lpi_catalog *cat;
	if (lpi_catalog_load(wstore, &cat) != LP_OK || cat->npauses != 1)
		abort();
	lpi_catalog_free(cat);
	/* keep the scratch directory small: one pause at a time */
	unlink(path);
	snprintf(path, sizeof path, "%s/runs/w/commands/%s.resume.json", wdir, lp_pause_id(p));
	unlink(path);
	lp_pause_free(p);
	snprintf(path, sizeof path, "%s/catalog.tsv", wdir);
	unlink(path); /* each append opens the catalog afresh (catalog.c) */
	if (ftruncate(wrun->events_fd, 0) != 0)
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == '!') {
		writer(data, size);
		return 0;
	}
	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/lp-fuzz-pause-%ld", (long)getpid());
		mkdir(dir, 0700);
		char p[128];
		snprintf(p, sizeof p, "%s/runs", dir);
		mkdir(p, 0700);
		snprintf(p, sizeof p, "%s/runs/%s", dir, run);
		mkdir(p, 0700);
		snprintf(p, sizeof p, "%s/runs/%s/pauses", dir, run);
		mkdir(p, 0700);
	}
	char path[160];
	snprintf(path, sizeof path, "%s/runs/%s/pauses/%s.json", dir, run, id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	lp_store *store;
	if (lp_store_open(&store, dir, 0) != LP_OK)
		return 0;
	lp_pause_info *info;
	if (lp_pause_info_load(&info, store, id) == LP_OK) {
		if (info->json == NULL || info->state == NULL)
			abort();
		lp_pause_info_free(info);
	}
	int n = 0;
	lp_store_list(store, LP_LIST_ALL, count, &n);
	lp_store_free(store);
	return 0;
}
