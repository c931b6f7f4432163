/*
 * feed.c - the store-wide change feed: runs started and ended, pauses
 * created and ended, in every run of a pause directory, numbered in the
 * order observed and kept (LP_FEED_KEEP events, LP_FEED_KEEP_BYTES of
 * their JSON at most, on one tape written round) so that a
 * reader resumes from a recent position (a server's Last-Event-ID).
 *
 * The feed derives events by comparing what it reads with what it saw,
 * and each read costs what changed, not what the store holds: the names
 * in runs/, each active run's events.jsonl from where the last read
 * stopped (its pause_created lines name the new pauses: a tail), the
 * pending/ index (pauses whose line a tail cannot give: of runs that
 * ended, or whose log cannot be followed), the files of the pauses still
 * open and run.json of the active runs. What it remembers is bounded the
 * same way: the open pauses, the pauses reported that are still in
 * pending/ (so that none is reported twice), and the runs. Reads happen
 * after an inotify event on one of those directories or logs, or after a
 * backstop of at most FEED_BACKSTOP_MS (NFS, a lost event, an owner that
 * died without writing anything). Only one thread reads the directory at
 * a time (the "pump"); threads that call lp_feed_next() meanwhile wait on
 * a condition variable for what it finds. The pump's state is touched
 * only by the thread holding the pump, handed over under the mutex.
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
/* The JSON of the events kept, at most (LP_FEED_KEEP events, fewer when
 * they are large): one buffer, written round like a tape, so that the
 * kept events cost the same memory however long the feed runs (4,096
 * strings of their own, each freed as its slot came round, fragmented
 * glibc's heap: serve's RSS crept up ~6 KiB/s in a soak while the bytes
 * in use stayed flat). Holds at least two of the largest pause. */
#define FEED_BYTES LP_FEED_KEEP_BYTES
_Static_assert(FEED_BYTES >= 2 * (2 * (size_t)LP_CAP_PAUSE), "the tape holds two of the largest");

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

/* Keep in s only the ids also in keep (both sorted). */
static void idset_keep(idset *s, const idset *keep)
{
	size_t w = 0, k = 0;
	for (size_t r = 0; r < s->n; r++) {
		int c = 1;
		while (k < keep->n && (c = strcmp(keep->v[k], s->v[r])) < 0)
			k++;
		if (k < keep->n && c == 0)
			s->v[w++] = s->v[r];
		else
			free(s->v[r]);
	}
	s->n = w;
}

static void idset_free(idset *s)
{
	for (size_t k = 0; k < s->n; k++)
		free(s->v[k]);
	free(s->v);
	*s = (idset){0};
}

static int on_name(const char *entry, void *ud)
{
	idset *out = ud;
	if (strlen(entry) > LP_ID_MAX)
		return 0;
	return idset_insert(out, out->n, entry); /* sorted by list_dir */
}

/* The names of a directory (not starting with '.'), sorted. */
static int list_dir(int dirfd, idset *out)
{
	*out = (idset){0};
	int rc = lpi_dir_each(dirfd, on_name, out);
	if (rc)
		idset_free(out);
	else if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
	return rc;
}

/* An event kept: its JSON is tape[off..off + len) (len 0: none). */
typedef struct feed_slot {
	lp_feed_event ev; /* ev.json unused */
	size_t off, len;
} feed_slot;

/* An active run, followed through its event log. */
typedef struct tail {
	char run_id[LP_ID_MAX + 1];
	lpi_events_tail *log; /* NULL: no log yet (opened from its start when
				 it appears), or broken */
	int broken;           /* the log cannot be followed: the run's pauses
				 are found in pending/ instead */
	idset early;          /* its pauses recorded at open whose line the
				 log may still hold: skipped once */
} tail;

struct lp_feed {
	lp_store *store;
	char name[17];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	feed_slot *ring;         /* event seq lives at ring[seq % LP_FEED_KEEP] */
	char *tape;              /* FEED_BYTES: the JSON of events tail..head */
	size_t wpos;             /* where the next event's JSON goes */
	unsigned long long head; /* the last event (0: none) */
	unsigned long long tail; /* the oldest kept (head + 1: none) */
	int pumping;
	/* the pump's state: only the thread that holds the pump uses it */
	idset runs;  /* run ids whose run.json was read */
	tail *tails; /* the runs active when last read */
	size_t ntails;
	idset open;     /* pauses reported created, not reported ended */
	idset reported; /* pauses reported created (or present at open) that
			    were in pending/ at the last read, or since, or
			    are in a tail's early */
	idset pending;  /* this read's listing of pending/ */
	lpi_waiter *w;  /* NULL: to be made (again) for the active runs */
	int quiet;      /* the first read, at open: record, report nothing */
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

/* With the mutex held: where len bytes of JSON go on the tape, the
 * oldest events given up until they fit (see FEED_BYTES). */
static size_t tape_room(lp_feed *f, size_t len)
{
	for (;;) {
		if (f->tail > f->head) { /* nothing kept */
			f->wpos = 0;
			return 0;
		}
		size_t start = f->ring[f->tail % LP_FEED_KEEP].off;
		if (f->wpos > start) { /* kept: [start, wpos) */
			if (FEED_BYTES - f->wpos >= len)
				return f->wpos;
			if (start >= len)
				return 0;
		} else if (start - f->wpos >= len) { /* kept: [start, end) and [0, wpos) */
			return f->wpos;
		}
		f->tail++;
	}
}

/* Record one event (json taken: copied to the tape, freed) and wake the
 * readers. */
static int emit(lp_feed *f, lp_feed_kind kind, const char *run_id, const char *pause_id, char *json)
{
	if (f->quiet) {
		free(json);
		return LP_OK;
	}
	size_t len = json ? strlen(json) : 0;
	if (len > FEED_BYTES / 2) { /* larger than any pause file: not kept whole */
		free(json);
		json = NULL;
		len = 0;
	}
	pthread_mutex_lock(&f->mu);
	unsigned long long seq = f->head + 1;
	if (f->tail + LP_FEED_KEEP <= seq) /* its slot's event goes */
		f->tail = seq - LP_FEED_KEEP + 1;
	size_t at = len ? tape_room(f, len) : f->wpos; /* before head counts seq in */
	f->head = seq;
	feed_slot *slot = &f->ring[seq % LP_FEED_KEEP];
	memcpy(f->tape + at, json, len);
	f->wpos = at + len;
	slot->off = at;
	slot->len = len;
	lp_feed_event *ev = &slot->ev;
	ev->seq = seq;
	ev->missed = 0;
	ev->kind = kind;
	ev->json = NULL;
	snprintf(ev->run_id, sizeof ev->run_id, "%s", run_id);
	snprintf(ev->pause_id, sizeof ev->pause_id, "%s", pause_id ? pause_id : "");
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	free(json);
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

static int is_known(const lp_feed *f, const char *id)
{
	return idset_has(&f->open, id) || idset_has(&f->reported, id);
}

/* A pause not reported yet: created, and ended too if it already has. Of
 * run_id only, when given (a log line that names another run's pause is
 * not that run's). Unreadable (being written, or removed): not reported,
 * so that pending/ offers it again. */
static int pause_new(lp_feed *f, const char *id, const char *run_id)
{
	lp_pause_info *info;
	if (lp_pause_info_load(&info, f->store, id) != LP_OK) {
		lpi_error_clear();
		return LP_OK;
	}
	int rc = LP_OK;
	if (run_id && strcmp(info->run_id, run_id) != 0)
		goto done;
	rc = idset_add(&f->reported, id);
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
done:
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

static tail *tail_find(lp_feed *f, const char *run_id)
{
	for (size_t k = 0; k < f->ntails; k++)
		if (strcmp(f->tails[k].run_id, run_id) == 0)
			return &f->tails[k];
	return NULL;
}

/* The tail of the run of a pause id of our shape ("<run>.<hex>"), if it
 * follows that run's log (not broken); else NULL. */
static tail *followed(lp_feed *f, const char *pause_id)
{
	char rid[LP_ID_MAX + 1];
	if (lpi_pause_id_run(pause_id, rid) != LP_OK) {
		lpi_error_clear();
		return NULL;
	}
	tail *t = tail_find(f, rid);
	return t && !t->broken ? t : NULL;
}

/* Open t's log: from its start, or (from_end) from the end of what it
 * holds now. No log yet: left for the next read; one that cannot be
 * followed: the run is broken (its pauses found in pending/). */
static void tail_open(lp_feed *f, tail *t, int from_end)
{
	int run_fd;
	int rc = lpi_run_dirs_open(f->store, t->run_id, &run_fd);
	if (!rc) {
		rc = lpi_events_tail_open(&t->log, run_fd, t->run_id, from_end);
		close(run_fd);
	}
	if (rc && rc != LP_ENOTFOUND)
		t->broken = 1;
	if (t->log) { /* watched from now on */
		lpi_waiter_free(f->w);
		f->w = NULL;
	}
	lpi_error_clear();
}

typedef struct line_ctx {
	lp_feed *f;
	tail *t;
} line_ctx;

/* A pause_created line of a run's log: the pause, unless already known. */
static int on_created(const lp_json *ev, void *ud)
{
	line_ctx *c = ud;
	const char *event = lpj_get_str(ev, "event"), *id = lpj_get_str(ev, "pause_id");
	if (event == NULL || strcmp(event, "pause_created") != 0 || id == NULL ||
	    lp_id_validate(id, "pause id") != LP_OK) {
		lpi_error_clear();
		return LP_OK;
	}
	if (idset_has(&c->t->early, id)) { /* recorded at open: its line now */
		idset_del(&c->t->early, id);
		return LP_OK;
	}
	return is_known(c->f, id) ? LP_OK : pause_new(c->f, id, c->t->run_id);
}

/* Read what t's log gained since the last read. */
static int tail_follow(lp_feed *f, tail *t)
{
	if (t->broken)
		return LP_OK;
	if (t->log == NULL)
		tail_open(f, t, 0);
	if (t->log == NULL)
		return LP_OK;
	line_ctx c = {f, t};
	int rc = lpi_events_tail_read(t->log, "\"pause_created\"", on_created, &c);
	if (rc == LP_EBADCMD) { /* unreadable, or cut short: pending/ instead */
		lpi_events_tail_free(t->log);
		t->log = NULL;
		t->broken = 1;
		lpi_error_clear();
		rc = LP_OK;
	}
	return rc;
}

/* Follow run_id from now on: from its log's start, or (from_end, at
 * open) from the end of what it holds now. */
static int tail_add(lp_feed *f, const char *run_id, int from_end)
{
	tail *nv = realloc(f->tails, (f->ntails + 1) * sizeof *nv);
	if (nv == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	f->tails = nv;
	tail *t = &f->tails[f->ntails++];
	*t = (tail){0};
	snprintf(t->run_id, sizeof t->run_id, "%s", run_id);
	tail_open(f, t, from_end);
	lpi_waiter_free(f->w); /* rebuilt with this run's directories */
	f->w = NULL;
	return LP_OK;
}

/* Stop following t (its run ended or was removed): what was recorded at
 * open of its pauses can no longer come from its log. */
static void tail_drop(lp_feed *f, tail *t)
{
	idset_free(&t->early);
	lpi_events_tail_free(t->log);
	*t = f->tails[--f->ntails];
	lpi_waiter_free(f->w);
	f->w = NULL;
}

typedef struct listing_ctx {
	lp_feed *f;
	const char *run_id;
	tail *foreign_only; /* at open: only pauses that pending/ does not
			       index, recorded in this tail's early */
	int rc;
} listing_ctx;

static int on_pause_name(const char *entry, void *ud)
{
	listing_ctx *c = ud;
	char id[LP_ID_MAX + 1], rid[LP_ID_MAX + 1];
	size_t n = strlen(entry);
	if (n <= 5 || n - 5 > LP_ID_MAX || strcmp(entry + n - 5, ".json") != 0)
		return 0;
	memcpy(id, entry, n - 5);
	id[n - 5] = '\0';
	if (lp_id_validate(id, "pause id") != LP_OK || is_known(c->f, id)) {
		lpi_error_clear();
		return 0;
	}
	int indexed = lpi_pause_id_run(id, rid) == LP_OK;
	lpi_error_clear();
	if (c->foreign_only && indexed)
		return 0;
	if (c->foreign_only && (c->rc = idset_add(&c->foreign_only->early, id)))
		return c->rc;
	return (c->rc = pause_new(c->f, id, c->run_id));
}

/* Every pause file of a run not known yet, once: a run that started and
 * ended between two reads; at open, an active run's pauses that pending/
 * does not index (0.1.1's), recorded as seen before their line. */
static int run_listing(lp_feed *f, const char *run_id, tail *foreign_only)
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
	listing_ctx c = {f, run_id, foreign_only, LP_OK};
	rc = lpi_dir_each(pfd, on_pause_name, &c);
	close(pfd);
	return c.rc ? c.rc : (lpi_error_clear(), LP_OK);
}

typedef struct new_run {
	lp_run_info *info;
} new_run;

static int by_started(const void *a, const void *b)
{
	const lp_run_info *x = ((const new_run *)a)->info, *y = ((const new_run *)b)->info;
	return (x->started_at > y->started_at) - (x->started_at < y->started_at);
}

/* New names in runs/: runs started (in the order they started). */
static int scan_runs(lp_feed *f)
{
	idset names;
	int rc = list_dir(f->store->runs_fd, &names);
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
	lpi_error_clear(); /* of a name that is not a run id */
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
				rc = tail_add(f, info->run_id, f->quiet);
			if (!rc && active && f->quiet)
				rc = run_listing(f, info->run_id, &f->tails[f->ntails - 1]);
			if (!rc && !active && !f->quiet) /* started and ended between two reads */
				rc = run_listing(f, info->run_id, NULL);
			if (!rc && !active)
				rc = emit(f, LP_FEED_RUN_ENDED, info->run_id, NULL,
					  take_json(&info->json));
		}
		lp_run_info_free(info);
	}
	free(fresh);
	return rc;
}

/* The pauses in pending/ that no tail gives (or, at open, every one):
 * of runs that ended or whose log cannot be followed, and those that
 * pending/ names before their run's log does. only_run: of that run. */
static int scan_pending(lp_feed *f, const char *only_run)
{
	int rc = LP_OK;
	char rid[LP_ID_MAX + 1];
	for (size_t k = 0; !rc && k < f->pending.n; k++) {
		const char *id = f->pending.v[k];
		if (is_known(f, id) || lp_id_validate(id, "pause id") != LP_OK)
			continue;
		if (only_run && (lpi_pause_id_run(id, rid) != LP_OK || strcmp(rid, only_run) != 0))
			continue;
		tail *t = only_run ? NULL : followed(f, id);
		if (t && !f->quiet)
			continue; /* its line will name it */
		if (t && (rc = idset_add(&t->early, id)))
			break;
		rc = pause_new(f, id, NULL);
	}
	lpi_error_clear();
	return rc;
}

/* A followed run that ended: the rest of its log, its pauses pending/
 * names that no line did (a crash between the two), and the end of those
 * still open, before the run's end is reported. */
static int run_settle(lp_feed *f, tail *t)
{
	int rc = tail_follow(f, t);
	if (!rc)
		rc = scan_pending(f, t->run_id);
	idset mine = {0};
	char rid[LP_ID_MAX + 1];
	for (size_t k = 0; !rc && k < f->open.n; k++)
		if (lpi_pause_id_run(f->open.v[k], rid) == LP_OK && strcmp(rid, t->run_id) == 0)
			rc = idset_add(&mine, f->open.v[k]);
	for (size_t k = 0; !rc && k < mine.n; k++)
		rc = pause_recheck(f, mine.v[k]);
	idset_free(&mine);
	lpi_error_clear(); /* of a pause that could not be read */
	return rc;
}

/* One read of the directory: report every difference from the last. */
static int scan(lp_feed *f)
{
	/* pending/ first: a pause reported that is no longer there never
	 * comes back to it, and is forgotten */
	idset_free(&f->pending);
	int rc = f->store->pending_fd >= 0 ? list_dir(f->store->pending_fd, &f->pending) : LP_OK;
	if (rc)
		return rc;
	idset keep = {0};
	for (size_t k = 0; !rc && k < f->reported.n; k++) {
		const char *id = f->reported.v[k];
		int in = idset_has(&f->pending, id);
		for (size_t i = 0; !in && i < f->ntails; i++)
			in = idset_has(&f->tails[i].early, id);
		if (in)
			rc = idset_add(&keep, id);
	}
	if (!rc)
		idset_keep(&f->reported, &keep);
	idset_free(&keep);
	if (!rc)
		rc = scan_runs(f);
	if (!rc && f->quiet) {
		/* at open, pending/ again after the logs were opened at their
		 * end: a pause whose line came before that end is listed */
		idset_free(&f->pending);
		if (f->store->pending_fd >= 0)
			rc = list_dir(f->store->pending_fd, &f->pending);
	}
	for (size_t k = 0; !rc && k < f->ntails; k++)
		rc = tail_follow(f, &f->tails[k]);
	if (!rc)
		rc = scan_pending(f, NULL);
	/* the open pauses: ended? (a copy: pause_recheck removes from open) */
	idset open = {0};
	for (size_t k = 0; !rc && k < f->open.n; k++)
		rc = idset_add(&open, f->open.v[k]);
	for (size_t k = 0; !rc && k < open.n; k++)
		rc = pause_recheck(f, open.v[k]);
	idset_free(&open);
	/* the active runs: ended, or their owner gone? */
	for (size_t k = 0; !rc && k < f->ntails;) {
		tail *t = &f->tails[k];
		lp_run_info *info;
		int r = lp_run_info_load(&info, f->store, t->run_id);
		if (r) {
			lpi_error_clear();
			if (r == LP_ENOTFOUND) /* removed */
				tail_drop(f, t);
			else
				k++;
			continue;
		}
		if (strcmp(info->state, "active") == 0) {
			lp_run_info_free(info);
			k++;
			continue;
		}
		/* its pauses ended before it did: report them first (read after
		 * run.json, their files are final by now) */
		rc = run_settle(f, t);
		tail_drop(f, t);
		if (!rc)
			rc = emit(f, LP_FEED_RUN_ENDED, info->run_id, NULL, take_json(&info->json));
		lp_run_info_free(info);
	}
	return rc;
}

/* The waiter on runs/, pending/, and each active run's directory, its
 * pauses/ and its log (made again whenever the set of active runs or
 * their logs change). */
static int make_waiter(lp_feed *f)
{
	int rc = lpi_waiter_open(&f->w);
	if (rc)
		return rc;
	lpi_waiter_add_dir(f->w, f->store->runs_fd, "runs");
	if (f->store->pending_fd >= 0)
		lpi_waiter_add_dir(f->w, f->store->pending_fd, "pending");
	for (size_t k = 0; k < f->ntails; k++) {
		int run_fd, pfd;
		if (f->tails[k].log)
			lpi_waiter_add_file(f->w, lpi_events_tail_fd(f->tails[k].log));
		if (lpi_run_dirs_open(f->store, f->tails[k].run_id, &run_fd) != LP_OK) {
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
	if (f == NULL || (f->ring = calloc(LP_FEED_KEEP, sizeof *f->ring)) == NULL ||
	    (f->tape = malloc(FEED_BYTES)) == NULL) {
		if (f)
			free(f->ring);
		free(f);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	f->store = store;
	f->tail = 1; /* nothing kept */
	int rc = lpi_random_hex(f->name, 8);
	if (rc) {
		free(f->ring);
		free(f->tape);
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
	unsigned long long want = after + 1, missed = 0;
	if (want < f->tail) {
		missed = f->tail - want;
		want = f->tail;
	}
	const feed_slot *slot = &f->ring[want % LP_FEED_KEEP];
	*out = slot->ev;
	out->missed = missed;
	out->json = NULL;
	if (slot->len) {
		if ((out->json = malloc(slot->len + 1)) == NULL) {
			*out = (lp_feed_event){0};
			return lpi_fail(LP_ERROR, "out of memory");
		}
		memcpy(out->json, f->tape + slot->off, slot->len);
		out->json[slot->len] = '\0';
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
	free(f->ring);
	free(f->tape);
	idset_free(&f->runs);
	while (f->ntails)
		tail_drop(f, &f->tails[0]);
	free(f->tails);
	idset_free(&f->open);
	idset_free(&f->reported);
	idset_free(&f->pending);
	lpi_waiter_free(f->w);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

size_t lpi_feed_remembered(lp_feed *f)
{
	pthread_mutex_lock(&f->mu);
	while (f->pumping) /* the pump's state is its own while it reads */
		pthread_cond_wait(&f->cv, &f->mu);
	size_t n = f->open.n + f->reported.n;
	for (size_t k = 0; k < f->ntails; k++)
		n += f->tails[k].early.n;
	pthread_mutex_unlock(&f->mu);
	return n;
}
