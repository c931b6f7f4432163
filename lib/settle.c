/*
 * settle.c - the durable half of a pause's end, done off the paused
 * thread so that the test has its decision as soon as the outcome is
 * visible (issue 11.8: the resume round trip).
 *
 * finalize() (pause.c) publishes the final pause file at once, without
 * waiting for the disk, and hands the rest to this module: fsync of that
 * file and of pauses/, then the catalog's "P" line, then the unindexing
 * from pending/, in that order (the order the catalog's invariant needs:
 * a pause leaves pending/ only once its final file and its "P" line are
 * durable). One thread per run (started at its first job) does the jobs
 * in the order they were handed over; lpi_settle_drain() waits until all
 * are done, and the run drains before it ends and before it is freed.
 *
 * A fork(2) waits until every settler of the process is idle (the fork
 * gate, a pthread_atfork handler): a child never copies a job half done
 * (the catalog's flock held through a descriptor it inherits, an
 * allocator's lock held by the thread it does not have), and it finds
 * every pause that ended before the fork settled.
 *
 * A process that dies before a job ran leaves the pause final in its file
 * (published, so it survives the process) and still in pending/, which
 * every reader already handles: "ls -a" finds it there, with its final
 * state. Only a power loss within those milliseconds can lose the final
 * state; the pause is then judged "stale" (docs/reliability.md).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_DRAIN_MS 10000 /* a run waits this long for its disk at most */

typedef struct job {
	struct job *next;
	char *file;     /* pauses/<file> */
	char *pause_id; /* pending/<pause_id> */
	lp_json *doc;   /* the final pause file (owned: a deep copy) */
	char *replaced; /* pauses/<replaced>: the pending file it replaced, or NULL */
} job;

struct lpi_settler {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	job *head, *tail;
	int busy, stop;
	pid_t owner; /* the process whose thread it is (a fork's child has none) */
	pthread_t thread;
	lp_run *run;
	lpi_settler *next_live; /* this process's settlers: the fork gate */
	int gated;              /* held by the fork gate across a fork */
};

static void job_free(job *j)
{
	if (!j)
		return;
	free(j->file);
	free(j->pause_id);
	free(j->replaced);
	lpj_free(j->doc);
	free(j);
}

/* The job itself: durable file, then the catalog, then pending/. Errors
 * only leave the pause in pending/ (final), which is a correct state. */
static void settle_durable(lp_run *run, const job *j)
{
	if (lpi_file_flush(run->pauses_fd, j->file) != LP_OK) {
		lpi_error_clear();
		return; /* not durable: stays indexed */
	}
	lpi_crash_point("take:recorded"); /* pause file final and durable, still indexed */
	lp_store *store = run->store;
	if (store->pending_fd < 0)
		return;
	if (lpi_catalog_add_pause(store, j->doc) != LP_OK) {
		lpi_error_clear();
		return;
	}
	lpi_crash_point("take:catalogued"); /* in the catalog and in pending/ */
	unlinkat(store->pending_fd, j->pause_id, 0);
	lpi_crash_point("take:unindexed"); /* settled */
}

/* The durable half, then the removal of the pending file the final one
 * replaced (a dot-name no reader lists; releasing its inode is what
 * rename(2) over it would have cost the paused thread). */
static void settle_one(lp_run *run, const job *j)
{
	settle_durable(run, j);
	if (j->replaced)
		unlinkat(run->pauses_fd, j->replaced, 0);
}

static void *settle_main(void *arg)
{
	lpi_settler *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break; /* stopped, and nothing left */
		job *j = s->head;
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->busy = 1;
		pthread_mutex_unlock(&s->mu);
		settle_one(s->run, j);
		job_free(j);
		pthread_mutex_lock(&s->mu);
		s->busy = 0;
		if (!s->head)
			pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The bound of a wait for a settler to be idle: SETTLE_DRAIN_MS from now. */
static void idle_deadline(struct timespec *until)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_sec += SETTLE_DRAIN_MS / 1000;
}

/* With s->mu held: wait until s has no job queued or running, at most
 * until `until`. LP_OK, or LP_EWAITTIMEOUT. */
static int idle_locked(lpi_settler *s, const struct timespec *until)
{
	while (s->head || s->busy)
		if (pthread_cond_timedwait(&s->idle, &s->mu, until) == ETIMEDOUT)
			return LP_EWAITTIMEOUT;
	return LP_OK;
}

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static lpi_settler *live; /* this process's settlers, newest first */
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;

/* The fork gate's prepare handler: every settler of this process idle
 * (each waited for at most SETTLE_DRAIN_MS: a disk that hangs longer does
 * not hang the fork) and held so until the fork returned. */
static void gate_close(void)
{
	pthread_mutex_lock(&live_mu);
	struct timespec until;
	idle_deadline(&until);
	pid_t me = getpid();
	for (lpi_settler *s = live; s; s = s->next_live) {
		if (s->owner != me)
			continue; /* a parent's, copied into this process: no thread */
		pthread_mutex_lock(&s->mu);
		s->gated = 1;
		(void)idle_locked(s, &until); /* past the bound, the fork goes on */
	}
}

/* After the fork, in the parent and in the child (whose one thread is the
 * one that held them). */
static void gate_open(void)
{
	for (lpi_settler *s = live; s; s = s->next_live)
		if (s->gated) {
			s->gated = 0;
			pthread_mutex_unlock(&s->mu);
		}
	pthread_mutex_unlock(&live_mu);
}

static void gate_install(void)
{
	(void)pthread_atfork(gate_close, gate_open, gate_open); /* ENOMEM: no gate */
}

/* The run's settler, made (and its thread started) on first use; NULL
 * when that is not possible (then the caller settles in its own thread). */
static lpi_settler *settler(lp_run *run)
{
	lpi_settler *s = run->settler;
	if (s)
		return s->owner == getpid() ? s : NULL;
	pthread_once(&gate_once, gate_install);
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->idle, &ca);
	pthread_condattr_destroy(&ca);
	s->run = run;
	s->owner = getpid();
	if (lpi_thread_start(&s->thread, 0, settle_main, s, "the settle thread") != LP_OK) {
		lpi_error_clear();
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->work);
		pthread_cond_destroy(&s->idle);
		free(s);
		return NULL;
	}
	pthread_mutex_lock(&live_mu);
	s->next_live = live;
	live = s;
	pthread_mutex_unlock(&live_mu);
	run->settler = s;
	return s;
}

/*
 * Hand over the durable half of pause_id's end (its final file
 * pauses/<file>, already published, as doc) and the removal of
 * pauses/<replaced>, the pending file it replaced (NULL or "": none).
 * Takes copies. Never fails: without memory or a thread it is done here
 * and now instead.
 */
void lpi_settle_pause(lp_run *run, const char *file, const char *pause_id, const lp_json *doc,
		      const char *replaced)
{
	job *j = calloc(1, sizeof *j);
	int has_replaced = replaced && replaced[0];
	if (j) {
		j->file = lpi_strdup(file);
		j->pause_id = lpi_strdup(pause_id);
		j->doc = lpj_copy(doc);
		j->replaced = has_replaced ? lpi_strdup(replaced) : NULL;
	}
	lpi_settler *s = j && j->file && j->pause_id && j->doc && (!has_replaced || j->replaced)
				 ? settler(run)
				 : NULL;
	if (!s) {
		/* the caller's own values serve: they live until it returns */
		job now = {.file = (char *)file,
			   .pause_id = (char *)pause_id,
			   .doc = (lp_json *)doc,
			   .replaced = has_replaced ? (char *)replaced : NULL};
		settle_one(run, &now);
		job_free(j);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Wait until every job handed over so far is done, at most
 * SETTLE_DRAIN_MS (a disk that hangs longer leaves the rest in pending/,
 * a correct state). Returns LP_OK, or LP_EWAITTIMEOUT.
 */
int lpi_settle_drain(lp_run *run)
{
	lpi_settler *s = run ? run->settler : NULL;
	if (!s || s->owner != getpid())
		return LP_OK;
	struct timespec until;
	idle_deadline(&until);
	pthread_mutex_lock(&s->mu);
	int rc = idle_locked(s, &until);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Drain, stop the thread and free the settler (lp_run_free, before the
 * run's descriptors close). Jobs still queued after the drain's bound are
 * dropped (their pauses stay in pending/, final); the one in progress is
 * waited for, as the paused thread itself would have waited. In a fork's
 * child, whose thread does not exist, only forgets it. */
void lpi_settle_stop(lp_run *run)
{
	lpi_settler *s = run->settler;
	if (!s)
		return;
	if (s->owner != getpid()) {
		run->settler = NULL; /* the parent's: not ours to join or free */
		return;
	}
	(void)lpi_settle_drain(run);
	run->settler = NULL;
	pthread_mutex_lock(&live_mu); /* out of the fork gate's sight first */
	for (lpi_settler **at = &live; *at; at = &(*at)->next_live)
		if (*at == s) {
			*at = s->next_live;
			break;
		}
	pthread_mutex_unlock(&live_mu);
	pthread_mutex_lock(&s->mu);
	job *left = s->head;
	s->head = s->tail = NULL;
	s->stop = 1;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	while (left) {
		job *next = left->next;
		job_free(left);
		left = next;
	}
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->idle);
	free(s);
}
