/*
 * serve_floor.c - the physical floor of an HTTP resume on this machine
 * (issue 14.6, bench/scenario_serve.py --floor): the same steps as
 * `pytest-live-pause serve` and a paused process, with nothing of ours in
 * them (no HTTP parsing, no JSON, no checks, no Python), in three
 * processes as in the real thing:
 *   client  sends a small request on a kept-alive loopback TCP socket
 *           (after the same quiet as the benchmark: 20 ms, or the third
 *           argument's milliseconds), then reads the reply;
 *   server  recv(2)s it, writes a command into a file made ahead
 *           (O_TMPFILE, one byte in it, as lp_store_warm) and links it
 *           into commands/ (the claim), replies, makes the next file;
 *   waiter  (the paused process) sleeps in poll(2) on an inotify watch of
 *           commands/, opens and reads the command, writes the final
 *           file into its temporary made ahead and exchanges it with the
 *           pending file (renameat2 RENAME_EXCHANGE): then it "has the
 *           decision" and takes CLOCK_MONOTONIC; then it sets up the next
 *           round (new pending file and temporary, command removed).
 * Prints one line per round: the microseconds from the request's send to
 * the waiter's decision. Not product code.
 *
 *     cc -O2 -o serve_floor serve_floor.c && ./serve_floor DIR N [QUIET_MS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what)
{
	perror(what);
	_exit(1);
}

static int made_ahead(int dirfd)
{
	int fd = openat(dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "\n", 1) != 1)
		die("O_TMPFILE");
	return fd;
}

static void server(int lfd, int cdir)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		die("accept");
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char req[512], self[64];
	const char cmd[] = "{\"action\":\"resume\",\"by\":\"http\",\"result\":true}";
	int spare = made_ahead(cdir);
	for (;;) {
		ssize_t n = recv(c, req, sizeof req, 0);
		if (n <= 0)
			_exit(0);
		if (pwrite(spare, cmd, sizeof cmd - 1, 0) < 0)
			die("pwrite");
		snprintf(self, sizeof self, "/proc/self/fd/%d", spare);
		if (linkat(AT_FDCWD, self, cdir, "p.resume.json", AT_SYMLINK_FOLLOW) < 0)
			die("linkat");
		close(spare);
		if (send(c, "ok", 2, 0) != 2)
			die("send");
		spare = made_ahead(cdir);
	}
}

static void setup_round(int pdir, int *tmp)
{
	int fd = openat(pdir, "p.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "{\"status\":\"pending\"}", 20) != 20)
		die("pending");
	close(fd);
	*tmp = openat(pdir, ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*tmp < 0 || write(*tmp, "\n", 1) != 1)
		die("temporary");
}

static void waiter(int cdir, int pdir, const char *cpath, int rounds, double *done, int ready)
{
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, cpath, IN_CREATE | IN_MOVED_TO) < 0)
		die("inotify");
	char buf[4096], text[512];
	const char fin[] = "{\"status\":\"resumed\",\"resolved_by\":\"http\",\"result\":true}";
	for (int r = 0; r < rounds; r++) {
		int tmp;
		setup_round(pdir, &tmp);
		if (write(ready, "r", 1) != 1)
			die("ready");
		for (;;) {
			struct pollfd p = {.fd = ino, .events = POLLIN};
			if (poll(&p, 1, 50) < 0)
				die("poll");
			while (read(ino, buf, sizeof buf) > 0)
				;
			int fd = openat(cdir, "p.resume.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue; /* not yet: the 50 ms look of the real waiter */
			if (read(fd, text, sizeof text) <= 0)
				die("read");
			close(fd);
			break;
		}
		if (pwrite(tmp, fin, sizeof fin - 1, 0) < 0)
			die("pwrite");
		close(tmp);
		if (renameat2(pdir, ".tmp", pdir, "p.json", RENAME_EXCHANGE) < 0)
			die("exchange");
		done[r] = now_us(); /* the waiter has its decision */
		unlinkat(pdir, ".tmp", 0);
		unlinkat(cdir, "p.resume.json", 0);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: serve_floor DIR ROUNDS [QUIET_MS]\n");
		return 2;
	}
	int rounds = atoi(argv[2]);
	long quiet_us = (long)((argc == 4 ? atof(argv[3]) : 20.0) * 1000); /* the benchmark's */
	char cpath[PATH_MAX], ppath[PATH_MAX];
	snprintf(cpath, sizeof cpath, "%s/commands", argv[1]);
	snprintf(ppath, sizeof ppath, "%s/pauses", argv[1]);
	mkdir(cpath, 0700);
	mkdir(ppath, 0700);
	int cdir = open(cpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int pdir = open(ppath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	double *done = mmap(NULL, sizeof(double) * (size_t)rounds, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (cdir < 0 || pdir < 0 || done == MAP_FAILED || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		die("setup");
	int ready[2];
	if (pipe(ready) < 0)
		die("pipe");
	pid_t s = fork();
	if (s == 0)
		server(lfd, cdir);
	pid_t w = fork();
	if (w == 0)
		waiter(cdir, pdir, cpath, rounds, done, ready[1]);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	const char req[] = "POST /api/pauses/p/resume HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			   "Content-Length: 15\r\n\r\n{\"result\":true}";
	double *sent = calloc((size_t)rounds, sizeof *sent);
	char b[8];
	for (int r = 0; r < rounds; r++) {
		if (read(ready[0], b, 1) != 1)
			die("ready");
		struct timespec quiet = {quiet_us / 1000000, quiet_us % 1000000 * 1000};
		nanosleep(&quiet, NULL);
		sent[r] = now_us();
		if (send(c, req, sizeof req - 1, 0) < 0 || recv(c, b, sizeof b, 0) <= 0)
			die("request");
	}
	close(c);
	waitpid(w, NULL, 0);
	waitpid(s, NULL, 0);
	for (int r = 0; r < rounds; r++)
		printf("%.1f\n", done[r] - sent[r]);
	return 0;
}
