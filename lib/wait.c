/*
 * wait.c - event-driven, bounded waiting. A waiter watches directories
 * with inotify (one descriptor, woken by entries created, moved in or
 * closed after writing, and by appends to a watched file) and a process
 * with a pidfd (readable when it exits). Every wait is also bounded by a
 * backstop slice (default 50 ms), after which the caller re-checks by
 * reading: inotify misses changes made over NFS and can overflow, and
 * where inotify is unavailable (or LP_WAIT_BACKEND=poll is set) the slice
 * alone is the mechanism.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

struct lpi_waiter {
	int ino_fd;         /* -1: poll backend */
	int pid_fd;         /* -1: none */
	long pid;           /* watched process, checked by kill() without a pidfd */
	int64_t last_check; /* monotonic ms of the last hooks->check() */
};

int lpi_waiter_open(lpi_waiter **out)
{
	lpi_waiter *w = calloc(1, sizeof *w);
	if (w == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	w->ino_fd = w->pid_fd = -1;
	const char *backend = getenv("LP_WAIT_BACKEND");
	if (backend == NULL || strcmp(backend, "poll") != 0)
		w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* -1: poll only */
	*out = w;
	return LP_OK;
}

int lpi_waiter_add_dir(lpi_waiter *w, int dirfd, const char *label)
{
	if (w->ino_fd < 0)
		return LP_OK;
	char path[64];
	/* watch the verified descriptor, not a path that could be swapped */
	snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd);
	if (inotify_add_watch(w->ino_fd, path,
			      IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE |
				      IN_DELETE_SELF | IN_ONLYDIR) < 0) {
		/* out of watches or no /proc: fall back to the backstop */
		(void)label;
		close(w->ino_fd);
		w->ino_fd = -1;
	}
	return LP_OK;
}

int lpi_waiter_add_file(lpi_waiter *w, int fd)
{
	if (w->ino_fd < 0)
		return LP_OK;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (inotify_add_watch(w->ino_fd, path, IN_MODIFY | IN_DELETE_SELF) < 0) {
		close(w->ino_fd); /* as lpi_waiter_add_dir: the backstop alone */
		w->ino_fd = -1;
	}
	return LP_OK;
}

int lpi_waiter_add_pid(lpi_waiter *w, long pid)
{
	w->pid = pid;
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd >= 0)
		w->pid_fd = fd;
#endif
	return LP_OK;
}

/* Empty fd (the inotify descriptor, or the wake pipe; both non-blocking).
 * A read that left room for one more inotify event of the longest name
 * emptied it (a read returns every whole event, and every byte of a pipe,
 * that fits), so it stops there without a read that fails with EAGAIN: one
 * syscall fewer on the way from a command's link to its take. What
 * arrives after is no loss: the descriptor stays readable and the next
 * poll(2) returns at once. */
static void drain(int fd)
{
	char buf[4096];
	ssize_t got;
	while ((got = read(fd, buf, sizeof buf)) > 0 &&
	       (size_t)got > sizeof buf - (sizeof(struct inotify_event) + NAME_MAX + 1))
		;
}

int lpi_waiter_wait(lpi_waiter *w, int64_t deadline_ms, const lp_wait_hooks *hooks)
{
	int slice = hooks && hooks->slice_ms > 0 ? hooks->slice_ms : LP_DEFAULT_SLICE_MS;
	int64_t now = lpi_mono_ms();
	if (deadline_ms >= 0 && now >= deadline_ms)
		return LP_EWAITTIMEOUT;
	int64_t timeout = slice;
	if (deadline_ms >= 0 && deadline_ms - now < timeout)
		timeout = deadline_ms - now;

	struct pollfd fds[3];
	int n = 0, i_ino = -1, i_pid = -1, i_wake = -1;
	if (w->ino_fd >= 0) {
		i_ino = n;
		fds[n++] = (struct pollfd){.fd = w->ino_fd, .events = POLLIN};
	}
	if (w->pid_fd >= 0) {
		i_pid = n;
		fds[n++] = (struct pollfd){.fd = w->pid_fd, .events = POLLIN};
	}
	if (hooks && hooks->wake_fd >= 0) {
		i_wake = n;
		fds[n++] = (struct pollfd){.fd = hooks->wake_fd, .events = POLLIN};
	}
	int r = poll(fds, (nfds_t)n, (int)timeout);
	int interrupted = r < 0 && errno == EINTR;
	if (r < 0 && !interrupted)
		return lpi_fail_errno(LP_ERROR, errno, "cannot wait for events");
	int woke = interrupted;
	if (r > 0 && i_wake >= 0 && fds[i_wake].revents) {
		drain(hooks->wake_fd);
		woke = 1;
	}
	if (r > 0 && i_ino >= 0 && fds[i_ino].revents)
		drain(w->ino_fd);
	/* the check hook runs on a wake-up and at least every slice */
	int64_t after = lpi_mono_ms();
	if (w->last_check == 0)
		w->last_check = now;
	if (hooks && hooks->check && (woke || after - w->last_check >= slice)) {
		w->last_check = after;
		if (hooks->check(hooks->ud))
			return LP_EINTR;
	}
	if (r > 0 && i_pid >= 0 && fds[i_pid].revents)
		return 1;
	if (w->pid_fd < 0 && w->pid > 0 && r == 0) {
		lpi_identity rec = {.pid = w->pid};
		if (lpi_identity_judge(&rec, 0, 0) == LP_LIVE_DEAD)
			return 1;
	}
	if (deadline_ms >= 0 && lpi_mono_ms() >= deadline_ms)
		return LP_EWAITTIMEOUT;
	return LP_OK;
}

void lpi_waiter_free(lpi_waiter *w)
{
	if (w == NULL)
		return;
	if (w->ino_fd >= 0)
		close(w->ino_fd);
	if (w->pid_fd >= 0)
		close(w->pid_fd);
	free(w);
}
