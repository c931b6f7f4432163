/*
 * notify.c - --pause-notify: run a person's command when a pause begins,
 * without a shell, bounded in time, never blocking the pause.
 *
 * The command is spawned with posix_spawnp (the argv as given, the program
 * looked up on PATH) in a process group of its own, stdin and stdout on
 * /dev/null, stderr inherited, default signal dispositions and an empty
 * signal mask, and the pause's facts in its environment
 * (PYTEST_LIVE_PAUSE_ID, _KIND, _NODEID, _RUN_ID, _DIR). A detached thread
 * of ours waits for it (on a pidfd where the kernel has them, else polling
 * every 20 ms); once the bound passes it kills the group (SIGKILL) and
 * reaps it. Nothing waits for the command: lp_notify_poll() says what
 * became of it so far, and lp_notify_free() leaves the thread to finish on
 * its own (kill at the bound, reap).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct lp_notify {
	pthread_mutex_t lock;
	int refs; /* the caller's and the thread's */
	pid_t pid;
	int pidfd; /* -1: poll with waitpid(WNOHANG) */
	int64_t deadline_ms;
	double bound;
	lp_notify_state state;
	char *message; /* once ended badly: what became of it */
	char *name;    /* argv[0], for messages */
};

static void notify_unref(lp_notify *n)
{
	pthread_mutex_lock(&n->lock);
	int left = --n->refs;
	pthread_mutex_unlock(&n->lock);
	if (left > 0)
		return;
	if (n->pidfd >= 0)
		close(n->pidfd);
	pthread_mutex_destroy(&n->lock);
	free(n->message);
	free(n->name);
	free(n);
}

/* Record how the command ended (status from waitpid, or timed_out). */
static void notify_ended(lp_notify *n, int status, int timed_out)
{
	char msg[512];
	lp_notify_state state = LP_NOTIFY_FAILED;
	if (timed_out)
		snprintf(msg, sizeof msg,
			 "--pause-notify command %.200s did not finish within %g s: killed",
			 n->name, n->bound);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		state = LP_NOTIFY_OK, msg[0] = '\0';
	else if (WIFEXITED(status))
		snprintf(msg, sizeof msg, "--pause-notify command %.200s exited with status %d",
			 n->name, WEXITSTATUS(status));
	else
		snprintf(msg, sizeof msg, "--pause-notify command %.200s was killed by signal %d",
			 n->name, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	pthread_mutex_lock(&n->lock);
	n->state = state;
	if (state == LP_NOTIFY_FAILED)
		n->message = lpi_strdup(msg); /* NULL without memory: poll says so */
	pthread_mutex_unlock(&n->lock);
}

/* The thread: wait for the command up to the deadline, then kill and reap. */
static void *notify_reaper(void *arg)
{
	lp_notify *n = arg;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(n->pid, &status, WNOHANG);
		if (r == n->pid || (r < 0 && errno != EINTR)) {
			notify_ended(n, r == n->pid ? status : 0, 0);
			break;
		}
		int64_t left = n->deadline_ms - lpi_mono_ms();
		if (left <= 0) {
			kill(-n->pid, SIGKILL); /* its whole group */
			kill(n->pid, SIGKILL);
			while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
				;
			notify_ended(n, status, 1);
			break;
		}
		if (n->pidfd >= 0) {
			struct pollfd p = {n->pidfd, POLLIN, 0};
			(void)poll(&p, 1, left > 1000 ? 1000 : (int)left);
		} else {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	notify_unref(n);
	return NULL;
}

/* environ with the pause's five variables set (replacing any of the same
 * names); the strings of `own` are malloc'd, the array too. */
static char **notify_env(const lp_notify_env *env, char *own[5])
{
	static const char *const names[5] = {
		"PYTEST_LIVE_PAUSE_ID=", "PYTEST_LIVE_PAUSE_KIND=", "PYTEST_LIVE_PAUSE_NODEID=",
		"PYTEST_LIVE_PAUSE_RUN_ID=", "PYTEST_LIVE_PAUSE_DIR="};
	const char *values[5] = {env->pause_id, env->kind, env->nodeid, env->run_id,
				 env->pause_dir};
	size_t count = 0;
	while (environ && environ[count])
		count++;
	char **envp = calloc(count + 6, sizeof *envp);
	if (envp == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < count; i++) {
		int ours = 0;
		for (int k = 0; k < 5 && !ours; k++)
			ours = strncmp(environ[i], names[k], strlen(names[k])) == 0;
		if (!ours)
			envp[o++] = environ[i];
	}
	for (int k = 0; k < 5; k++) {
		const char *v = values[k] ? values[k] : "";
		size_t len = strlen(names[k]) + strlen(v) + 1;
		own[k] = malloc(len);
		if (own[k] == NULL) {
			for (int j = 0; j < k; j++)
				free(own[j]);
			free(envp);
			return NULL;
		}
		snprintf(own[k], len, "%s%s", names[k], v);
		envp[o++] = own[k];
	}
	envp[o] = NULL;
	return envp;
}

int lp_notify_spawn(lp_notify **out, const char *const *argv, const lp_notify_env *env,
		    double bound)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_notify_spawn: out is required");
	*out = NULL;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return lpi_fail(LP_EINVAL,
				"--pause-notify needs a command: give --pause-notify 'CMD ARGS'");
	if (env == NULL)
		return lpi_fail(LP_EINVAL, "lp_notify_spawn: env is required");
	if (!(bound > 0) || bound > LP_TIMEOUT_MAX)
		return lpi_fail(
			LP_EINVAL,
			"the --pause-notify bound must be a number of seconds above 0, not %g",
			bound);
	lp_notify *n = calloc(1, sizeof *n);
	if (n == NULL || (n->name = lpi_strdup(argv[0])) == NULL) {
		free(n);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	pthread_mutex_init(&n->lock, NULL);
	n->refs = 1;
	n->pidfd = -1;
	n->bound = bound;
	n->state = LP_NOTIFY_RUNNING;

	char *own[5] = {NULL, NULL, NULL, NULL, NULL};
	char **envp = notify_env(env, own);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok = posix_spawn_file_actions_init(&fa) == 0;
	int attr_ok = posix_spawnattr_init(&attr) == 0;
	int e = envp && fa_ok && attr_ok ? 0 : ENOMEM;
	if (!e)
		e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!e)
		e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	sigset_t none, defaults;
	sigemptyset(&none);
	sigfillset(&defaults);
	sigdelset(&defaults, SIGKILL);
	sigdelset(&defaults, SIGSTOP);
	if (!e)
		e = posix_spawnattr_setsigmask(&attr, &none);
	if (!e)
		e = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (!e)
		e = posix_spawnattr_setpgroup(&attr, 0);
	if (!e)
		e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
							    POSIX_SPAWN_SETSIGDEF);
	if (!e)
		e = posix_spawnp(&n->pid, argv[0], &fa, &attr, (char *const *)argv, envp);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (int k = 0; k < 5; k++)
		free(own[k]);
	free(envp);
	if (e) {
		int rc = lpi_fail(e == ENOMEM ? LP_ERROR : LP_EINVAL,
				  "cannot run the --pause-notify command %.200s: %s%s", argv[0],
				  strerror(e),
				  e == ENOENT ? " (not found on PATH: give its full path)" : "");
		notify_unref(n);
		return rc;
	}
	n->deadline_ms = lpi_mono_ms() + (int64_t)(bound * 1000.0);
#ifdef SYS_pidfd_open
	n->pidfd = (int)syscall(SYS_pidfd_open, n->pid, 0);
	if (n->pidfd < 0)
		n->pidfd = -1;
#endif
	n->refs = 2;
	pthread_t t;
	if (lpi_thread_start(&t, 1, notify_reaper, n, "the --pause-notify watcher")) {
		char why[512];
		snprintf(why, sizeof why, "%s", lp_error_message());
		/* no thread to wait: end it now rather than leave it unreaped */
		kill(-n->pid, SIGKILL);
		kill(n->pid, SIGKILL);
		while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
			;
		n->refs = 1;
		notify_unref(n);
		return lpi_fail(LP_ERROR, "cannot watch the --pause-notify command: %s", why);
	}
	*out = n;
	return LP_OK;
}

lp_notify_state lp_notify_poll(char **message, lp_notify *n)
{
	if (message)
		*message = NULL;
	if (n == NULL)
		return LP_NOTIFY_RUNNING;
	pthread_mutex_lock(&n->lock);
	lp_notify_state s = n->state;
	if (s == LP_NOTIFY_FAILED && message)
		*message = lpi_strdup(n->message ? n->message : "--pause-notify command failed");
	pthread_mutex_unlock(&n->lock);
	return s;
}

long lp_notify_pid(const lp_notify *n)
{
	return n ? (long)n->pid : 0;
}

void lp_notify_free(lp_notify *n)
{
	if (n != NULL)
		notify_unref(n);
}
