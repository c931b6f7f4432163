/*
 * helpers.h - shared scaffolding of the C unit tests: a fixture owning a
 * fresh pause directory under /tmp (mkdtemp, removed afterwards), small
 * file utilities, and forked children that are reaped with a bound
 * (pidfd + poll) so a stuck child fails a test instead of hanging it.
 *
 * Children never call cmocka asserts: they report through their exit
 * code (the negated lp_error code, 0 for LP_OK, >= 100 for a helper
 * failure) and end with _exit(), so they run no atexit handlers and never
 * free (and so abort) a pause they inherited from the parent.
 */
#ifndef LP_TEST_HELPERS_H
#define LP_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "livepause.h"

/* Exit codes of children beyond the negated lp_error codes. */
#define CHILD_SETUP_FAILED 100
#define CHILD_KILLED 200 /* wait_child: the child did not end in time */

/* --------------------------------------------------------------- files */

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path (never follows symlinks). */
static inline void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh 0700 directory under /tmp; returns buf. */
static inline char *make_tmpdir(char buf[64])
{
	snprintf(buf, 64, "/tmp/lp-ctest-XXXXXX");
	char *d = mkdtemp(buf);
	assert_non_null(d);
	return buf;
}

/* Whole file as a NUL-terminated malloc'd string, or NULL. */
static inline char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return buf;
}

/* Write a file in one go (not atomically: for hand-made inputs). */
static inline int write_text(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

/* Set a file's mtime `ago` seconds into the past. */
static inline void backdate(const char *path, double ago)
{
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= (time_t)ago;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

static inline int count_substr(const char *hay, const char *needle)
{
	int n = 0;
	size_t k = strlen(needle);
	for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += k)
		n++;
	return n;
}

/* Number of entries of dir whose name starts with prefix. */
static inline int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static inline int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------- fixture */

typedef struct fx {
	char dir[64]; /* the pause directory (mkdtemp: 0700) */
	lp_store *store;
	lp_run *run; /* started by setup_run */
} fx;

static inline int fx_setup_store(void **state)
{
	fx *f = calloc(1, sizeof *f);
	make_tmpdir(f->dir);
	int rc = lp_store_open(&f->store, f->dir, LP_STORE_CREATE);
	if (rc != LP_OK) {
		fprintf(stderr, "lp_store_open: %s\n", lp_error_message());
		return -1;
	}
	*state = f;
	return 0;
}

static inline int fx_setup_run(void **state)
{
	if (fx_setup_store(state))
		return -1;
	fx *f = *state;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	if (lp_run_start(&f->run, f->store, &ro) != LP_OK) {
		fprintf(stderr, "lp_run_start: %s\n", lp_error_message());
		return -1;
	}
	return 0;
}

static inline int fx_teardown(void **state)
{
	fx *f = *state;
	if (f == NULL)
		return 0;
	lp_run_free(f->run);
	lp_store_free(f->store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* "<dir>/<fmt...>" into buf. */
static inline char *fx_path(const fx *f, char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline char *fx_path(const fx *f, char *buf, size_t size, const char *fmt, ...)
{
	int n = snprintf(buf, size, "%s/", f->dir);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

/* A pause of this fixture's run. */
static inline lp_pause *fx_pause(fx *f, lp_kind kind, double timeout)
{
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = kind;
	o.nodeid = "tests/test_x.py::test_y";
	o.timeout = timeout;
	if (kind == LP_KIND_CHECKPOINT)
		o.task = "approve the step";
	else
		o.original_failure = "AssertionError: 1 != 2";
	lp_pause *p = NULL;
	int rc = lp_pause_begin(&p, f->run, &o);
	if (rc != LP_OK)
		fprintf(stderr, "lp_pause_begin: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	return p;
}

/* The status recorded in a pause file (malloc'd), or NULL. */
static inline char *pause_status(lp_store *store, const char *id)
{
	lp_pause_info *info = NULL;
	if (lp_pause_info_load(&info, store, id) != LP_OK)
		return NULL;
	char *s = strdup(info->status);
	lp_pause_info_free(info);
	return s;
}

static inline void assert_pause_status(lp_store *store, const char *id, const char *want)
{
	char *s = pause_status(store, id);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

/* ------------------------------------------------------------ children */

/* Fork a child running fn(arg); its return value is the exit code. */
static inline pid_t fork_child(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int code = fn(arg);
		_exit(code & 0xff);
	}
	return pid;
}

/* Reap a child, waiting at most timeout_ms (then SIGKILL it): its exit
 * code, CHILD_KILLED if it had to be killed or died of a signal. */
static inline int wait_child(pid_t pid, int timeout_ms)
{
	int status = 0;
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		close(pfd);
		if (r == 0) {
			fprintf(stderr, "child %ld did not end within %d ms: killing it\n",
				(long)pid, timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return CHILD_KILLED;
		}
	}
#else
	(void)timeout_ms;
#endif
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return CHILD_KILLED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return CHILD_KILLED;
}

/* The lp_error code a child reported by exiting with -code. */
static inline int child_rc(int exit_code)
{
	return exit_code >= 0 && exit_code <= 20 ? -exit_code : 1000 + exit_code;
}

/* Block until a byte (or EOF) arrives on fd, at most timeout_ms. */
static inline int await_fd(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	char c;
	return read(fd, &c, 1) >= 0 ? 0 : -1;
}

/* Kill the whole test binary if it hangs (SIGALRM's default action). */
static inline void test_guard(unsigned seconds)
{
	alarm(seconds);
}

#endif
