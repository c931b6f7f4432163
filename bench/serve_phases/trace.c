/*
 * trace.c - an LD_PRELOAD shim for bench/scenario_serve.py --phases (not
 * product code): it timestamps (CLOCK_MONOTONIC, the clock of Python's
 * time.monotonic()) the few system calls that mark where a resume round
 * trip is, one line each in $LPTRACE_DIR/<pid>.log:
 *   recv     the server read a request naming "resume"
 *   linkat   the server starts to link the command file (the claim;
 *            the paused process may see it before linkat returns)
 *   open     a process opened a command file (the paused one: its take)
 *   renameat a process starts to rename (or exchange: renameat2) a pause
 *            file into place (the paused one: its final state over the
 *            pending one), and
 *   renamed  when that call returned
 *   sendmsg  the server sent a response
 *   tmp      a process created a temporary file (the paused one makes
 *            its final pause file's while it waits, since this stop)
 *   events   a process starts to append a pause's end events, and
 *   evdone   when that write(2) returned
 *   say      a process writes a "RESUMED (" line (the paused one's
 *            terminal, after its decision is in Python)
 * Each line: "<seconds> <tid> <call> <name>".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int logfd = -2;

static void note(const char *what, const char *name)
{
	if (logfd == -2) {
		const char *d = getenv("LPTRACE_DIR");
		char p[512];
		snprintf(p, sizeof p, "%s/%d.log", d ? d : "/nonexistent", getpid());
		logfd = (int)syscall(SYS_openat, AT_FDCWD, p,
				     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	if (logfd < 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char b[600];
	int k = snprintf(b, sizeof b, "%ld.%09ld %ld %s %s\n", (long)ts.tv_sec, ts.tv_nsec,
			 (long)syscall(SYS_gettid), what, name ? name : "-");
	if (k > 0 && syscall(SYS_write, logfd, b, (size_t)k) < 0)
		logfd = -1;
}

#define REAL(f)                                                                                    \
	static __typeof__(f) *real_##f;                                                            \
	if (!real_##f)                                                                             \
	real_##f = (__typeof__(f) *)dlsym(RTLD_NEXT, #f)

int linkat(int a, const char *o, int b, const char *n, int fl)
{
	REAL(linkat);
	if (strstr(n, ".resume.json"))
		note("linkat", n);
	return real_linkat(a, o, b, n, fl);
}

int renameat(int a, const char *o, int b, const char *n)
{
	REAL(renameat);
	if (strstr(n, ".json"))
		note("renameat", n);
	int r = real_renameat(a, o, b, n);
	if (strstr(n, ".json"))
		note("renamed", n);
	return r;
}

/* the same for renameat2 (an exchange: RENAME_EXCHANGE, since 59e54a1) */
int renameat2(int a, const char *o, int b, const char *n, unsigned fl)
{
	REAL(renameat2);
	if (strstr(n, ".json"))
		note("renameat", n);
	int r = real_renameat2(a, o, b, n, fl);
	if (strstr(n, ".json"))
		note("renamed", n);
	return r;
}

int openat(int d, const char *p, int fl, ...)
{
	REAL(openat);
	va_list ap;
	va_start(ap, fl);
	int mode = va_arg(ap, int);
	va_end(ap);
	int r = real_openat(d, p, fl, mode);
	if (r >= 0 && strstr(p, ".resume.json") && !strstr(p, ".tmp."))
		note("open", p);
	else if (r >= 0 && (fl & O_CREAT) && strstr(p, ".tmp."))
		note("tmp", p);
	return r;
}

ssize_t write(int fd, const void *b, size_t n)
{
	REAL(write);
	static const char fin[] = "\"event\":\"pause_finished\"";
	int ev = memmem(b, n, fin, sizeof fin - 1) != NULL;
	if (ev)
		note("events", NULL);
	else if (n > 10 && memmem(b, n < 64 ? n : 64, "RESUMED (", 9))
		note("say", NULL);
	ssize_t r = real_write(fd, b, n);
	if (ev)
		note("evdone", NULL);
	return r;
}

ssize_t recv(int fd, void *b, size_t n, int f)
{
	REAL(recv);
	ssize_t r = real_recv(fd, b, n, f);
	if (r > 0 && memmem(b, (size_t)r, "/resume ", 8))
		note("recv", NULL);
	return r;
}

ssize_t sendmsg(int fd, const struct msghdr *m, int f)
{
	REAL(sendmsg);
	ssize_t r = real_sendmsg(fd, m, f);
	if (r > 0 && m->msg_iovlen > 1 && m->msg_iov[1].iov_len > 11 &&
	    memcmp(m->msg_iov[1].iov_base, "{\"outcome\":", 11) == 0)
		note("sendmsg", NULL);
	return r;
}
