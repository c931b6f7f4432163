/*
 * fuzz_pause_file.c - libFuzzer harness for the pause-file reader: the
 * input is written as a pause file into a scratch pause directory and read
 * back through the public readers (lp_pause_info_load, lp_list), as `show`
 * and `ls -a` do.
 */
#include "internal.h"

#include <fcntl.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	if (lp_pause_info_load(store, id, &info) == LP_OK) {
		if (info->json == NULL || info->state == NULL)
			abort();
		lp_pause_info_free(info);
	}
	int n = 0;
	lp_list(store, LP_LIST_ALL, count, &n);
	lp_store_free(store);
	return 0;
}
