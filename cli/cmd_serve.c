/*
 * cmd_serve.c - `pytest-live-pause serve`: replaces this process with
 * pytest-live-pause-serve (the HTTP server and dashboard, server/), found
 * beside this executable or else on PATH, with the same arguments. The
 * server is a program of its own so that the CLI never loads
 * libmicrohttpd: its start time and memory stay a small C program's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "serve"
#define SERVE_PROG "pytest-live-pause-serve"

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX], path[PATH_MAX + sizeof SERVE_PROG];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	argv[0] = SERVE_PROG;
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/%s", self, SERVE_PROG);
			execv(path, argv);
		}
	}
	execvp(SERVE_PROG, argv);
	return cli_error(CMD, CLI_EXIT_ERROR,
			 "cannot run %s (%s): it is built only where libmicrohttpd is "
			 "installed (Debian: apt-get install libmicrohttpd-dev, then "
			 "reinstall pytest-live-pause)",
			 SERVE_PROG, strerror(errno));
}
