/*
 * liveness.c - who is alive: the identity of this process (host, pid,
 * process start time from /proc/<pid>/stat field 22, boot id) and the
 * judgement of a recorded identity, so that a reused pid or a reboot is
 * not mistaken for the paused process, and a pause or run on another
 * host is judged by its heartbeat; and the heartbeat thread that keeps a
 * run's run.json fresh while its pytest lives.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

const char *lpi_hostname(void)
{
	static __thread char host[256];
	if (host[0] == '\0' && gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "localhost");
	return host;
}

static const char *boot_id(void)
{
	static __thread char id[64];
	if (id[0] == '\0') {
		if (read_small("/proc/sys/kernel/random/boot_id", id, sizeof id) <= 0)
			snprintf(id, sizeof id, "unknown");
		id[strcspn(id, "\n")] = '\0';
	}
	return id;
}

/* Fields 3 (state) and 22 (start time) of /proc/<pid>/stat. */
static int proc_stat(long pid, char *state, unsigned long long *start);

int lpi_proc_start_time(long pid, unsigned long long *out)
{
	char state;
	return proc_stat(pid, &state, out);
}

static int proc_stat(long pid, char *state, unsigned long long *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (read_small(path, buf, sizeof buf) <= 0)
		return lpi_fail(LP_ENOTFOUND, "process %ld does not exist", pid);
	/* the command name (field 2) may hold spaces and ')': skip to the last ')' */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return lpi_fail(LP_ERROR, "cannot parse %s", path);
	p++;
	*state = p[0] == ' ' ? p[1] : '?';
	/* fields 3..22: the state is field 3, start time field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			return lpi_fail(LP_ERROR, "cannot parse %s", path);
	}
	*out = strtoull(p + 1, NULL, 10);
	return LP_OK;
}

int lpi_identity_self(lpi_identity *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->hostname, sizeof out->hostname, "%s", lpi_hostname());
	snprintf(out->boot_id, sizeof out->boot_id, "%s", boot_id());
	out->pid = (long)getpid();
	if (lpi_proc_start_time(out->pid, &out->start_time))
		out->start_time = 0; /* no /proc: judged by pid alone */
	return LP_OK;
}

/* Recorded on another host (judged by its heartbeat), or on this host
 * before a reboot (an unknown boot id is not evidence of one). */
static int other_host(const lpi_identity *rec)
{
	return rec->hostname[0] != '\0' && strcmp(rec->hostname, lpi_hostname()) != 0;
}

static int other_boot(const lpi_identity *rec)
{
	return rec->boot_id[0] != '\0' && strcmp(rec->boot_id, "unknown") != 0 &&
	       strcmp(rec->boot_id, boot_id()) != 0;
}

lpi_live lpi_identity_judge(const lpi_identity *rec, double heartbeat_mtime,
			    double heartbeat_interval)
{
	if (other_host(rec)) {
		if (heartbeat_mtime <= 0 || heartbeat_interval <= 0)
			return LP_LIVE_ALIVE;
		double age = lpi_now() - heartbeat_mtime;
		return age > heartbeat_interval * LP_HEARTBEAT_MISSES ? LP_LIVE_DEAD
								      : LP_LIVE_ALIVE;
	}
	if (rec->pid <= 0)
		return LP_LIVE_DEAD;
	if (other_boot(rec))
		return LP_LIVE_DEAD; /* recorded before a reboot */
	if (kill((pid_t)rec->pid, 0) < 0 && errno == ESRCH)
		return LP_LIVE_DEAD;
	unsigned long long now_start;
	char state;
	if (proc_stat(rec->pid, &state, &now_start) == LP_OK) {
		if (state == 'Z' || state == 'X')
			return LP_LIVE_DEAD; /* exited, not yet reaped by its parent */
		if (rec->start_time != 0 && now_start != rec->start_time)
			return LP_LIVE_DEAD; /* the pid was reused */
	}
	return LP_LIVE_ALIVE; /* alive, or no /proc to say otherwise */
}

int lpi_identity_hold(const lpi_identity *rec)
{
#ifdef SYS_pidfd_open
	if (other_host(rec) || rec->pid <= 0 || rec->start_time == 0 || other_boot(rec))
		return -1;
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)rec->pid, 0);
	if (fd < 0)
		return -1;
	/* opened first, checked second: the pid named the recorded process
	 * at a moment the pidfd already held whatever it named */
	unsigned long long start;
	char state;
	if (proc_stat(rec->pid, &state, &start) != LP_OK || start != rec->start_time ||
	    state == 'Z' || state == 'X' || lpi_hold_judge(fd) == LP_LIVE_DEAD) {
		lpi_error_clear();
		close(fd);
		return -1;
	}
	return fd; /* close-on-exec, as every pidfd */
#else
	(void)rec;
	return -1;
#endif
}

lpi_live lpi_hold_judge(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int n;
	while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR)
		;
	return n > 0 ? LP_LIVE_DEAD : LP_LIVE_ALIVE;
}

/* -------------------------------------------------------------- heartbeat */

struct lpi_beat {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int dirfd;
	char name[64];
	long interval_ms;
	pid_t pid; /* the process that started the thread */
};

static void *beat_main(void *arg)
{
	lpi_beat *b = arg;
	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += b->interval_ms / 1000;
		at.tv_nsec += (b->interval_ms % 1000) * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		int r = 0;
		while (!b->stop && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&b->cv, &b->mu, &at);
		if (b->stop)
			break;
		/* best effort: a missed beat only makes the run look older */
		utimensat(b->dirfd, b->name, NULL, AT_SYMLINK_NOFOLLOW);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int lpi_beat_start(lpi_beat **out, int dirfd, const char *name, double interval)
{
	*out = NULL;
	if (interval <= 0 || strlen(name) >= sizeof((lpi_beat *)0)->name)
		return lpi_fail(LP_EINVAL, "bad heartbeat of %s", name);
	lpi_beat *b = calloc(1, sizeof *b);
	if (b == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	b->dirfd = dirfd;
	snprintf(b->name, sizeof b->name, "%s", name);
	b->interval_ms = (long)(interval * 1000.0);
	b->pid = getpid();
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&b->mu, NULL);
	int rc = lpi_thread_start(&b->thread, 0, beat_main, b, "the heartbeat of the run");
	if (rc) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return rc;
	}
	*out = b;
	return LP_OK;
}

void lpi_beat_stop(lpi_beat *b)
{
	if (b == NULL)
		return;
	if (b->pid != getpid()) { /* a forked child: the thread is not here */
		free(b);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
