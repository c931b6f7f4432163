/*
 * replace.c - a probe of what replacing a pause file costs the thread that
 * does it (issue 11.8: the paused process publishes the final pause file
 * over the pending one, on the test's path). For N files it writes a
 * "pending" file (681 bytes, flushed, as a pause file is), then a final one
 * (888 bytes, not flushed) under a temporary name, and times only the
 * publishing call:
 *   rename   renameat() over the pending file (its inode released inside)
 *   exchange renameat2(RENAME_EXCHANGE), the replaced file left under the
 *            temporary name and removed after the timing (lib/store.c's
 *            lpi_file_replace; the settle thread removes it)
 * Usage: replace DIR [N]   (DIR: a scratch directory on the disk to
 * probe, created if missing; default N 200). Prints p50/p90/p99 of each.
 *   cc -O2 -o /tmp/replace bench/floor/replace.c && /tmp/replace /tmp/replace-probe
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int write_file(int dirfd, const char *name, const char *buf, size_t len, int flush)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int bad = write(fd, buf, len) != (ssize_t)len || (flush && fsync(fd) < 0);
	return close(fd) < 0 || bad ? -1 : 0;
}

static int probe(int dirfd, int exchange, int n, double *t)
{
	static char buf[888];
	memset(buf, 'x', sizeof buf);
	struct timespec gap = {0, 2000000}; /* let the journal settle between rounds */
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "p%d.json", i);
		if (write_file(dirfd, name, buf, 681, 1) < 0 || fsync(dirfd) < 0)
			return -1;
		nanosleep(&gap, NULL);
		if (write_file(dirfd, ".tmp", buf, sizeof buf, 0) < 0)
			return -1;
		double a = now_ms();
		int rc = exchange ? renameat2(dirfd, ".tmp", dirfd, name, RENAME_EXCHANGE)
				  : renameat(dirfd, ".tmp", dirfd, name);
		t[i] = now_ms() - a;
		if (rc < 0)
			return -1;
		if (exchange && unlinkat(dirfd, ".tmp", 0) < 0)
			return -1;
		if (unlinkat(dirfd, name, 0) < 0)
			return -1;
		nanosleep(&gap, NULL);
	}
	qsort(t, (size_t)n, sizeof *t, cmp);
	printf("%-8s p50 %.3f  p90 %.3f  p99 %.3f ms  (n=%d)\n", exchange ? "exchange" : "rename",
	       t[n / 2], t[n * 9 / 10], t[n * 99 / 100], n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: replace DIR [N]\n");
		return 2;
	}
	int n = argc == 3 ? atoi(argv[2]) : 200;
	if (n < 10) {
		fprintf(stderr, "replace: N must be at least 10\n");
		return 2;
	}
	mkdir(argv[1], 0700);
	int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	double *t = malloc((size_t)n * sizeof *t);
	if (dirfd < 0 || t == NULL) {
		perror(argv[1]);
		return 1;
	}
	for (int round = 0; round < 2; round++)
		for (int exchange = 0; exchange < 2; exchange++)
			if (probe(dirfd, exchange, n, t) < 0) {
				perror("replace");
				return 1;
			}
	free(t);
	return 0;
}
