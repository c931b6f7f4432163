/*
 * fuzz_cli_args.c - libFuzzer harness for the CLI's argument handling:
 * the input, split at NUL bytes, is the argument vector of a whole
 * `pytest-live-pause` command line (cli_main), run against a scratch
 * pause directory. Arguments that could reach outside the scratch
 * directory (absolute paths, "..") are not tried. The output is discarded
 * by libFuzzer's -close_fd_mask=3 (scripts/fuzz.sh).
 */
#include "cli.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		char dir[64];
		snprintf(dir, sizeof dir, "/tmp/lp-fuzz-cli-%ld", (long)getpid());
		mkdir(dir, 0700);
		if (chdir(dir) != 0)
			abort();
		setenv("PYTEST_LIVE_PAUSE_DIR", "pd", 1);
		ready = 1;
	}
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = "pytest-live-pause";
	for (char *p = buf; p < buf + size && argc <= MAX_ARGS; p += strlen(p) + 1) {
		if (p[0] == '/' || strstr(p, "=/") || strstr(p, "..") || strcmp(p, "serve") == 0)
			goto out; /* serve execs the server: not this harness's */
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	optind = 0; /* full re-initialisation of getopt_long */
	cli_main(argc, argv);
out:
	free(buf);
	return 0;
}
