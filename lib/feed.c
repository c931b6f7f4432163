/*
 * feed.c - the store-wide change feed: runs started and ended, pauses
 * created and ended, in every run of a pause directory, numbered in the
 * order observed and kept in a ring of LP_FEED_KEEP events so that a
 * reader resumes from a recent position (a server's Last-Event-ID).
 *
 * The feed derives events by comparing what it reads with what it saw:
 * the names in runs/, the pauses/ of each active run, the pending/ index,
 * the files of the pauses still open and run.json of the active runs.
 * Reads happen after an inotify event on one of those directories, or
 * after a backstop of at most FEED_BACKSTOP_MS (NFS, a lost event, an
 * owner that died without writing anything). Only one thread reads the
 * directory at a time (the "pump"); threads that call lp_feed_next()
 * meanwhile wait on a condition variable for what it finds. The pump's
 * state is touched only by the thread holding the pump, handed over under
 * the mutex.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FEED_BACKSTOP_MS 1000

/* A sorted set of ids. */
typedef struct idset {
	char **v;
	size_t n, cap;
} idset;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t idset_find(const idset *s, const char *id, int *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid], id);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int idset_has(const idset *s, const char *id)
{
	int found;
	idset_find(s, id, &found);
	return found;
}

/* A copy of id at position at (0..n), the set grown as needed. */
static int idset_insert(idset *s, size_t at, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, cap * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		s->v = nv;
		s->cap = cap;
	}
	char *d = lpi_strdup(id);
	if (d == NULL)
		return LP_ERROR;
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof *s->v);
	s->v[at] = d;
	s->n++;
	return LP_OK;
}

static int idset_add(idset *s, const char *id)
{
	int found;
	size_t at = idset_find(s, id, &found);
	return found ? LP_OK : idset_insert(s, at, id);
}

static void idset_del(idset *s, const char *id)
{
	int found;
	size_t at = idset_find(s, id, &found);
	if (!found)
		return;
	free(s->v[at]);
	memmove(&s->v[at], &s->v[at + 1], (s->n - at - 1) * sizeof *s->v);
	s->n--;
}

static void idset_free(idset *s)
{
	for (size_t k = 0; k < s->n; k++)
		free(s->v[k]);
	free(s->v);
	*s = (idset){0};
}

typedef struct names_ctx {
	idset *out;
	int strip;
} names_ctx;

static int on_name(const char *entry, void *ud)
{
	names_ctx *c = ud;
	idset *out = c->out;
	char name[LP_ID_MAX + 1];
	size_t n = strlen(entry);
	if (c->strip) {
		if (n <= 5 || n - 5 > LP_ID_MAX || strcmp(entry + n - 5, ".json") != 0)
			return 0;
		memcpy(name, entry, n - 5);
		name[n - 5] = '\0';
	} else {
		if (n > LP_ID_MAX)
			return 0;
		memcpy(name, entry, n + 1);
	}
	return idset_insert(out, out->n, name); /* sorted by list_dir */
}

/* The names of a directory (not starting with '.'), sorted; with strip,
 * only "<id>.json" names, without the suffix. */
static int list_dir(int dirfd, int strip, idset *out)
{
	*out = (idset){0};
	names_ctx c = {.out = out, .strip = strip};
	int rc = lpi_dir_each(dirfd, on_name, &c);
	if (rc)
		idset_free(out);
	else if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
	return rc;
}

struct lp_feed {
	lp_store *store;
	char name[17];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	lp_feed_event *ring; /* event seq lives at ring[seq % LP_FEED_KEEP] */
	unsigned long long head;
	int pumping;
	/* the pump's state: only the thread that holds the pump uses it */
	idset runs;    /* run ids whose run.json was read */
	idset active;  /* runs active when last read */
	idset seen;    /* pauses reported created, or present at open */
	idset open;    /* of those, the ones not reported ended */
	lpi_waiter *w; /* NULL: to be made (again) for the active runs */
	int quiet;     /* the first read, at open: record, report nothing */
};

const char *lp_feed_kind_name(lp_feed_kind kind)
{
	switch (kind) {
	case LP_FEED_RUN_STARTED: return "run_started";
	case LP_FEED_RUN_ENDED: return "run_ended";
	case LP_FEED_PAUSE_CREATED: return "pause_created";
	case LP_FEED_PAUSE_ENDED: return "pause_ended";
	}
	return "unknown";
}

void lp_feed_event_clear(lp_feed_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->json);
	*ev = (lp_feed_event){0};
}

/* Record one event (json taken) and wake the readers. */
static int emit(lp_feed *f, lp_feed_kind kind, const char *run_id, const char *pause_id, char *json)
{
	if (f->quiet) {
		free(json);
		return LP_OK;
	}
	pthread_mutex_lock(&f->mu);
	unsigned long long seq = ++f->head;
	lp_feed_event *slot = &f->ring[seq % LP_FEED_KEEP];
	free(slot->json);
	slot->seq = seq;
	slot->missed = 0;
	slot->kind = kind;
	snprintf(slot->run_id, sizeof slot->run_id, "%s", run_id);
	snprintf(slot->pause_id, sizeof slot->pause_id, "%s", pause_id ? pause_id : "");
	slot->json = json;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return LP_OK;
}

static int is_final(const char *state)
{
	return strcmp(state, "resumed") == 0 || strcmp(state, "timed_out") == 0 ||
	       strcmp(state, "aborted") == 0 || strcmp(state, "stale") == 0;
}

static char *take_json(char **p)
{
	char *j = *p;
	*p = NULL;
	return j;
}

/* A pause seen for the first time: created, and ended too if it already
 * has. Unreadable (being written, or removed): left for the next read. */
static int pause_new(lp_feed *f, const char *id)
{
	lp_pause_info *info;
	if (lp_pause_info_load(&info, f->store, id) != LP_OK) {
		lpi_error_clear();
		return LP_OK;
	}
	int rc = idset_add(&f->seen, id);
	int final = is_final(info->state);
	if (!rc && final && !f->quiet) {
		/* the created event carries the pause as it was written */
		char *created = lpi_strdup(info->json);
		rc = created ? emit(f, LP_FEED_PAUSE_CREATED, info->run_id, id, created) : LP_ERROR;
		if (!rc)
			rc = emit(f, LP_FEED_PAUSE_ENDED, info->run_id, id, take_json(&info->json));
	} else if (!rc && !final) {
		rc = idset_add(&f->open, id);
		if (!rc)
			rc = emit(f, LP_FEED_PAUSE_CREATED, info->run_id, id,
				  take_json(&info->json));
	}
	lp_pause_info_free(info);
	return rc;
}

/* A pause reported open: ended now? */
static int pause_recheck(lp_feed *f, const char *id)
{
	lp_pause_info *info;
	int rc = lp_pause_info_load(&info, f->store, id);
	if (rc == LP_ENOTFOUND) { /* its run was removed */
		lpi_error_clear();
		idset_del(&f->open, id);
		return LP_OK;
	}
	if (rc) {
		lpi_error_clear();
		return LP_OK;
	}
	if (is_final(info->state)) {
		idset_del(&f->open, id);
		rc = emit(f, LP_FEED_PAUSE_ENDED, info->run_id, id, take_json(&info->json));
	}
	lp_pause_info_free(info);
	return rc;
}

/* The pauses/ of an active run: any file not seen yet is a new pause. */
static int scan_run_pauses(lp_feed *f, const char *run_id)
{
	int run_fd, pfd;
	if (lpi_run_dirs_open(f->store, run_id, &run_fd) != LP_OK) {
		lpi_error_clear();
		return LP_OK;
	}
	int rc = lpi_dir_open(run_fd, "pauses", 0, "pauses", &pfd);
	close(run_fd);
	if (rc) {
		lpi_error_clear();
		return LP_OK;
	}
	idset names;
	rc = list_dir(pfd, 1, &names);
	close(pfd);
	for (size_t k = 0; !rc && k < names.n; k++)
		if (!idset_has(&f->seen, names.v[k]) &&
		    lp_id_validate(names.v[k], "pause id") == LP_OK)
			rc = pause_new(f, names.v[k]);
	idset_free(&names);
	return rc;
}

typedef struct new_run {
	lp_run_info *info;
} new_run;

static int by_started(const void *a, const void *b)
{
	const lp_run_info *x = ((const new_run *)a)->info, *y = ((const new_run *)b)->info;
	return (x->started_at > y->started_at) - (x->started_at < y->started_at);
}

static int run_add_active(lp_feed *f, const char *id)
{
	lpi_waiter_free(f->w); /* rebuilt with this run's directories */
	f->w = NULL;
	return idset_add(&f->active, id);
}

/* New names in runs/: runs started (in the order they started). */
static int scan_runs(lp_feed *f)
{
	idset names;
	int rc = list_dir(f->store->runs_fd, 0, &names);
	if (rc)
		return rc;
	new_run *fresh = NULL;
	size_t nfresh = 0;
	for (size_t k = 0; !rc && k < names.n; k++) {
		if (idset_has(&f->runs, names.v[k]) || lpi_run_id_validate(names.v[k]) != LP_OK)
			continue;
		lp_run_info *info;
		if (lp_run_info_load(&info, f->store, names.v[k]) != LP_OK) {
			lpi_error_clear(); /* run.json not written yet: next time */
			continue;
		}
		new_run *nv = realloc(fresh, (nfresh + 1) * sizeof *nv);
		if (nv == NULL) {
			lp_run_info_free(info);
			rc = lpi_fail(LP_ERROR, "out of memory");
			break;
		}
		fresh = nv;
		fresh[nfresh++].info = info;
	}
	idset_free(&names);
	if (nfresh > 1)
		qsort(fresh, nfresh, sizeof *fresh, by_started);
	for (size_t k = 0; k < nfresh; k++) {
		lp_run_info *info = fresh[k].info;
		if (!rc)
			rc = idset_add(&f->runs, info->run_id);
		if (!rc) {
			int active = strcmp(info->state, "active") == 0;
			char *json = f->quiet ? NULL : lpi_strdup(info->json);
			rc = f->quiet || json
				     ? emit(f, LP_FEED_RUN_STARTED, info->run_id, NULL, json)
				     : LP_ERROR;
			if (!rc && active)
				rc = run_add_active(f, info->run_id);
			if (!rc && !active) /* started and ended between two reads */
				rc = scan_run_pauses(f, info->run_id);
			if (!rc && !active)
				rc = emit(f, LP_FEED_RUN_ENDED, info->run_id, NULL,
					  take_json(&info->json));
		}
		lp_run_info_free(info);
	}
	free(fresh);
	return rc;
}

/* Before a run's end is reported: its pauses not seen yet, and the end of
 * those still open. */
static int run_pauses_settle(lp_feed *f, const char *run_id)
{
	int rc = scan_run_pauses(f, run_id);
	idset mine = {0};
	for (size_t k = 0; !rc && k < f->open.n; k++) {
		char rid[LP_ID_MAX + 1];
		if (lpi_pause_id_run(f->open.v[k], rid) == LP_OK && strcmp(rid, run_id) == 0)
			rc = idset_add(&mine, f->open.v[k]);
	}
	for (size_t k = 0; !rc && k < mine.n; k++)
		rc = pause_recheck(f, mine.v[k]);
	idset_free(&mine);
	if (!rc)
		lpi_error_clear(); /* of a pause that could not be read */
	return rc;
}

/* One read of the directory: report every difference from the last. */
static int scan(lp_feed *f)
{
	int rc = scan_runs(f);
	/* new pauses of the active runs, then any other pending one */
	for (size_t k = 0; !rc && k < f->active.n; k++)
		rc = scan_run_pauses(f, f->active.v[k]);
	if (!rc && f->store->pending_fd >= 0) {
		idset pending;
		if (!(rc = list_dir(f->store->pending_fd, 0, &pending))) {
			for (size_t k = 0; !rc && k < pending.n; k++)
				if (!idset_has(&f->seen, pending.v[k]) &&
				    lp_id_validate(pending.v[k], "pause id") == LP_OK)
					rc = pause_new(f, pending.v[k]);
			idset_free(&pending);
		}
	}
	/* the open pauses: ended? (a copy: pause_recheck removes from open) */
	idset open = {0};
	for (size_t k = 0; !rc && k < f->open.n; k++)
		rc = idset_add(&open, f->open.v[k]);
	for (size_t k = 0; !rc && k < open.n; k++)
		rc = pause_recheck(f, open.v[k]);
	idset_free(&open);
	/* the active runs: ended, or their owner gone? */
	idset active = {0};
	for (size_t k = 0; !rc && k < f->active.n; k++)
		rc = idset_add(&active, f->active.v[k]);
	for (size_t k = 0; !rc && k < active.n; k++) {
		lp_run_info *info;
		int r = lp_run_info_load(&info, f->store, active.v[k]);
		if (r) {
			lpi_error_clear();
			if (r == LP_ENOTFOUND) { /* removed */
				idset_del(&f->active, active.v[k]);
				lpi_waiter_free(f->w);
				f->w = NULL;
			}
			continue;
		}
		if (strcmp(info->state, "active") != 0) {
			idset_del(&f->active, active.v[k]);
			lpi_waiter_free(f->w);
			f->w = NULL;
			/* its pauses ended before it did: report them first (read
			 * after run.json, their files are final by now) */
			rc = run_pauses_settle(f, info->run_id);
			if (!rc)
				rc = emit(f, LP_FEED_RUN_ENDED, info->run_id, NULL,
					  take_json(&info->json));
		}
		lp_run_info_free(info);
	}
	idset_free(&active);
	return rc;
}

/* The waiter on runs/, pending/ and each active run's directory and
 * pauses/ (made again whenever the set of active runs changes). */
static int make_waiter(lp_feed *f)
{
	int rc = lpi_waiter_open(&f->w);
	if (rc)
		return rc;
	lpi_waiter_add_dir(f->w, f->store->runs_fd, "runs");
	if (f->store->pending_fd >= 0)
		lpi_waiter_add_dir(f->w, f->store->pending_fd, "pending");
	for (size_t k = 0; k < f->active.n; k++) {
		int run_fd, pfd;
		if (lpi_run_dirs_open(f->store, f->active.v[k], &run_fd) != LP_OK) {
			lpi_error_clear();
			continue;
		}
		lpi_waiter_add_dir(f->w, run_fd, "run");
		if (lpi_dir_open(run_fd, "pauses", 0, "pauses", &pfd) == LP_OK) {
			lpi_waiter_add_dir(f->w, pfd, "pauses"); /* the watch outlives the fd */
			close(pfd);
		} else {
			lpi_error_clear();
		}
		close(run_fd);
	}
	return LP_OK;
}

/* Holding the pump: wait for a change (until deadline_ms, at most the
 * backstop; < 0 for none: only read), then read. */
static int pump(lp_feed *f, int64_t deadline_ms, int wait, const lp_wait_hooks *hooks)
{
	int rc;
	if (wait) {
		if (f->w == NULL && (rc = make_waiter(f)))
			return rc;
		int64_t until = lpi_mono_ms() + FEED_BACKSTOP_MS;
		if (deadline_ms >= 0 && deadline_ms < until)
			until = deadline_ms;
		lp_wait_hooks h = LP_WAIT_HOOKS_INIT;
		if (hooks)
			h = *hooks;
		h.slice_ms = FEED_BACKSTOP_MS; /* a wake_fd, not a slice, ends it early */
		rc = lpi_waiter_wait(f->w, until, &h);
		if (rc == LP_EINTR || (rc < 0 && rc != LP_EWAITTIMEOUT))
			return rc;
	}
	return scan(f);
}

int lp_feed_open(lp_feed **out, lp_store *store)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_feed_open: out is NULL");
	*out = NULL;
	if (store == NULL)
		return lpi_fail(LP_EINVAL, "lp_feed_open: store is NULL");
	lp_feed *f = calloc(1, sizeof *f);
	if (f == NULL || (f->ring = calloc(LP_FEED_KEEP, sizeof *f->ring)) == NULL) {
		free(f);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	f->store = store;
	int rc = lpi_random_hex(f->name, 8);
	if (rc) {
		free(f->ring);
		free(f);
		return rc;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->quiet = 1;
	rc = scan(f);
	f->quiet = 0;
	if (rc) {
		lp_feed_free(f);
		return rc;
	}
	*out = f;
	return LP_OK;
}

const char *lp_feed_name(const lp_feed *feed)
{
	return feed ? feed->name : "";
}

unsigned long long lp_feed_head(lp_feed *feed)
{
	if (feed == NULL)
		return 0;
	pthread_mutex_lock(&feed->mu);
	unsigned long long h = feed->head;
	pthread_mutex_unlock(&feed->mu);
	return h;
}

/* With the mutex held and after < head: copy the next event out. */
static int copy_next(lp_feed *f, unsigned long long after, lp_feed_event *out)
{
	unsigned long long oldest = f->head >= LP_FEED_KEEP ? f->head - LP_FEED_KEEP + 1 : 1;
	unsigned long long want = after + 1, missed = 0;
	if (want < oldest) {
		missed = oldest - want;
		want = oldest;
	}
	const lp_feed_event *ev = &f->ring[want % LP_FEED_KEEP];
	*out = *ev;
	out->missed = missed;
	out->json = ev->json ? lpi_strdup(ev->json) : NULL;
	if (ev->json && out->json == NULL) {
		*out = (lp_feed_event){0};
		return LP_ERROR;
	}
	return LP_OK;
}

int lp_feed_next(lp_feed_event *out, lp_feed *f, unsigned long long after, double timeout,
		 const lp_wait_hooks *hooks)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_feed_next: out is NULL");
	*out = (lp_feed_event){0};
	if (f == NULL)
		return lpi_fail(LP_EINVAL, "lp_feed_next: feed is NULL");
	int64_t deadline = timeout > 0 ? lpi_mono_ms() + (int64_t)(timeout * 1000.0) : -1;
	int rc = LP_OK, read_once = 0;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		if (after < f->head) {
			rc = copy_next(f, after, out);
			break;
		}
		int64_t now = lpi_mono_ms();
		if ((timeout == 0 && read_once) || (deadline >= 0 && now >= deadline)) {
			rc = lpi_fail(LP_EWAITTIMEOUT, "no change in %s within %gs", f->store->path,
				      timeout);
			break;
		}
		if (!f->pumping && hooks && hooks->check) {
			/* asked to stop? (the wake_fd may have been drained by
			 * the thread that read before) */
			pthread_mutex_unlock(&f->mu);
			int stop = hooks->check(hooks->ud);
			pthread_mutex_lock(&f->mu);
			if (stop) {
				rc = lpi_fail(LP_EINTR, "interrupted");
				break;
			}
			if (after < f->head || f->pumping)
				continue;
		}
		if (!f->pumping) {
			f->pumping = 1;
			pthread_mutex_unlock(&f->mu);
			rc = pump(f, deadline, timeout != 0, hooks);
			pthread_mutex_lock(&f->mu);
			f->pumping = 0;
			pthread_cond_broadcast(&f->cv);
			read_once = 1;
			if (rc)
				break;
			continue;
		}
		if (timeout == 0) {
			read_once = 1; /* another thread is reading: what it has */
			continue;
		}
		/* another thread reads: wait for it (in slices, for check()) */
		int64_t until =
			now + (hooks && hooks->check ? (hooks->slice_ms > 0 ? hooks->slice_ms
									    : LP_DEFAULT_SLICE_MS)
						     : FEED_BACKSTOP_MS);
		if (deadline >= 0 && deadline < until)
			until = deadline;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ms = until - now;
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		if (hooks && hooks->check && after >= f->head) {
			pthread_mutex_unlock(&f->mu);
			int stop = hooks->check(hooks->ud);
			pthread_mutex_lock(&f->mu);
			if (stop) {
				rc = lpi_fail(LP_EINTR, "interrupted");
				break;
			}
		}
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

void lp_feed_free(lp_feed *f)
{
	if (f == NULL)
		return;
	for (size_t k = 0; k < LP_FEED_KEEP; k++)
		free(f->ring[k].json);
	free(f->ring);
	idset_free(&f->runs);
	idset_free(&f->active);
	idset_free(&f->seen);
	idset_free(&f->open);
	lpi_waiter_free(f->w);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
