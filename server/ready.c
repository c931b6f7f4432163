/*
 * ready.c - the pending pauses made ready to resume (lp_pause_prepare):
 * the event stream's reader prepares each pause its feed reports created,
 * a resume or an abort takes its pause out to use it (and nothing else can
 * while it does), and the reader drops a pause that ended and every pause
 * of a run that ended. So a resume from the page or the API only looks
 * whether the pause changed before it claims it, instead of finding its
 * run, opening three directories, reading and parsing its file and
 * reading /proc (docs/server.md, "Performance"). A pause that is not here
 * (the table was full, its event not yet read, another request has it)
 * is resumed by lp_pause_resume(), with the same results.
 */
#include "serve.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* At most this many pauses are kept ready (five descriptors each). */
#define SRV_READY_MAX 32

struct srv_ready {
	pthread_mutex_t mu;
	lp_prepared *p[SRV_READY_MAX];
};

int srv_ready_open(srv *s)
{
	srv_ready *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	s->ready = r;
	return 0;
}

void srv_ready_close(srv *s)
{
	srv_ready *r = s->ready;
	if (r == NULL)
		return;
	for (size_t k = 0; k < SRV_READY_MAX; k++)
		lp_prepared_free(r->p[k]);
	pthread_mutex_destroy(&r->mu);
	free(r);
	s->ready = NULL;
}

/* With the mutex held: the slot of pause_id, or -1. */
static int find_locked(srv_ready *r, const char *pause_id)
{
	for (int k = 0; k < SRV_READY_MAX; k++)
		if (r->p[k] && strcmp(lp_prepared_pause_id(r->p[k]), pause_id) == 0)
			return k;
	return -1;
}

/* With the mutex held: a free slot for pause_id, or -1 (none free, or
 * pause_id is there already). */
static int room_locked(srv_ready *r, const char *pause_id)
{
	if (find_locked(r, pause_id) >= 0)
		return -1;
	for (int k = 0; k < SRV_READY_MAX; k++)
		if (r->p[k] == NULL)
			return k;
	return -1;
}

/* Keep p ready; freed when there is no room or its pause is there. */
static void keep(srv_ready *r, lp_prepared *p)
{
	pthread_mutex_lock(&r->mu);
	int k = room_locked(r, lp_prepared_pause_id(p));
	if (k >= 0) {
		r->p[k] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	lp_prepared_free(p);
}

void srv_ready_add(srv *s, const char *pause_id)
{
	srv_ready *r = s->ready;
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	int room = room_locked(r, pause_id) >= 0; /* else spare the reading */
	pthread_mutex_unlock(&r->mu);
	lp_prepared *p;
	if (!room || lp_pause_prepare(&p, s->store, pause_id) != LP_OK)
		return; /* gone already, or unreadable: a resume says why */
	keep(r, p);
}

lp_prepared *srv_ready_take(srv *s, const char *pause_id)
{
	srv_ready *r = s->ready;
	if (r == NULL)
		return NULL;
	pthread_mutex_lock(&r->mu);
	int k = find_locked(r, pause_id);
	lp_prepared *p = k >= 0 ? r->p[k] : NULL;
	if (k >= 0)
		r->p[k] = NULL;
	pthread_mutex_unlock(&r->mu);
	return p;
}

void srv_ready_put(srv *s, lp_prepared *p)
{
	if (p && s->ready)
		keep(s->ready, p);
	else
		lp_prepared_free(p);
}

void srv_ready_drop_run(srv *s, const char *run_id)
{
	srv_ready *r = s->ready;
	if (r == NULL)
		return;
	lp_prepared *gone[SRV_READY_MAX];
	size_t n = 0;
	pthread_mutex_lock(&r->mu);
	for (int k = 0; k < SRV_READY_MAX; k++)
		if (r->p[k] && strcmp(lp_prepared_run_id(r->p[k]), run_id) == 0) {
			gone[n++] = r->p[k];
			r->p[k] = NULL;
		}
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n; i++) /* its descriptors closed outside the lock */
		lp_prepared_free(gone[i]);
}
