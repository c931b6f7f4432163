/*
 * wait.c - the waiting half of the round trip's physical floor
 * (bench/scenario_roundtrip.py, issue 11.8): an inotify waiter on DIR that
 * takes CLOCK_MONOTONIC as soon as it wakes for each file created there
 * and writes one timestamp per line to OUT (flushed per line, so the
 * driver can step on it). Exits after N files.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: wait DIR N OUT\n");
		return 2;
	}
	long n = strtol(argv[2], NULL, 10);
	FILE *out = fopen(argv[3], "w");
	int fd = inotify_init1(IN_CLOEXEC);
	if (!out || fd < 0 || inotify_add_watch(fd, argv[1], IN_CREATE | IN_MOVED_TO) < 0) {
		perror("wait");
		return 1;
	}
	fputs("ready\n", out);
	fflush(out);
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
	for (long seen = 0; seen < n;) {
		ssize_t len = read(fd, buf, sizeof buf);
		if (len <= 0) {
			perror("read");
			return 1;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			fprintf(out, "%ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
			fflush(out);
			seen++;
			p += sizeof *ev + ev->len;
		}
	}
	return fclose(out) == 0 ? 0 : 1;
}
