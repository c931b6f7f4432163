/*
 * thread.c - how the library starts a thread of its own (the run's
 * heartbeat, its settle thread, the --pause-notify reaper): with every
 * signal blocked, and only once it runs.
 *
 *   - Signals: a signal meant for the process (Ctrl-C and SIGTERM for
 *     Python's handlers, a SIGCHLD or SIGUSR1 a caller waits for with
 *     sigwait or blocks for a moment) must never be taken by one of our
 *     threads, where its default action could kill the process and no
 *     handler of the caller would see it.
 *   - Start-up: lpi_thread_start returns only once the new thread runs its
 *     function, so that a fork(2) right after (a test, a forking worker)
 *     never copies a thread still inside its start-up, where a sanitizer's
 *     allocator holds a lock the child would then wait for forever
 *     (GCC 12's AddressSanitizer: tests/c/test_race.c's lanes hung on it).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

typedef struct {
	void *(*fn)(void *);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;
} start;

static void *trampoline(void *p)
{
	start *st = p;
	void *(*fn)(void *) = st->fn;
	void *arg = st->arg;
	pthread_mutex_lock(&st->mu);
	st->running = 1;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu); /* st is the creator's: not touched after this */
	return fn(arg);
}

/*
 * Contract: start fn(arg) in a new thread, detached or not, with every
 * signal blocked in it, and wait until it runs. LP_OK with *t set, or
 * LP_ERROR (message set: what) when the thread cannot be made.
 */
int lpi_thread_start(pthread_t *t, int detached, void *(*fn)(void *), void *arg, const char *what)
{
	start st = {.fn = fn, .arg = arg, .running = 0};
	pthread_attr_t ta;
	int e = pthread_attr_init(&ta);
	if (e)
		return lpi_fail_errno(LP_ERROR, e, "cannot start %s", what);
	if (detached)
		e = pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	pthread_mutex_init(&st.mu, NULL);
	pthread_cond_init(&st.cv, NULL);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the mask the thread inherits */
	if (!e)
		e = pthread_create(t, &ta, trampoline, &st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&ta);
	if (!e) {
		pthread_mutex_lock(&st.mu);
		while (!st.running)
			pthread_cond_wait(&st.cv, &st.mu);
		pthread_mutex_unlock(&st.mu);
	}
	pthread_cond_destroy(&st.cv);
	pthread_mutex_destroy(&st.mu);
	if (e)
		return lpi_fail_errno(LP_ERROR, e, "cannot start %s", what);
	return LP_OK;
}
