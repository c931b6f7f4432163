/*
 * test_threads.c - one store shared by many threads (livepause.h: a store
 * is immutable after open). Two writer threads each start a run on the
 * shared store at once (racing to open the catalog) and pause N times;
 * resumer threads list, show and resume through the same store (one
 * winner per pause); watcher threads each own a watcher on a run; two
 * threads read one shared change feed; a lister lists everything. Run
 * under ThreadSanitizer by `make tsan` (part of `make test`).
 * Assertions: every pause resumed exactly once, each feed reader saw
 * every pause created and ended and both runs start and end, each watcher
 * saw its run end. Nothing asserts on timing.
 */
#include "helpers.h"

#include <pthread.h>

enum { N_WRITERS = 2, N_PAUSES = 12, N_RESUMERS = 3, N_FEEDERS = 2 };

typedef struct shared {
	lp_store *store;
	int writers_done; /* atomic */
	int resumed_ok;   /* atomic: lp_pause_resume LP_OK */
	int writer_rc[N_WRITERS];
	int outcomes_ok[N_WRITERS];
	char run_ids[N_WRITERS][16];
	lp_feed *feed;
	int runs_started; /* atomic: writers that have started their run */
} shared;

typedef struct writer_arg {
	shared *sh;
	int index;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *a = p;
	shared *sh = a->sh;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = sh->run_ids[a->index];
	lp_run *run;
	int rc = lp_run_start(&run, sh->store, &ro);
	__atomic_add_fetch(&sh->runs_started, 1, __ATOMIC_SEQ_CST);
	if (rc) {
		sh->writer_rc[a->index] = rc;
		return NULL;
	}
	for (int k = 0; k < N_PAUSES && rc == LP_OK; k++) {
		lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
		po.kind = k % 2 ? LP_KIND_CHECKPOINT : LP_KIND_FAILURE;
		po.nodeid = "test_threads.py::test_x";
		po.task = k % 2 ? "judge" : NULL;
		po.original_failure = k % 2 ? NULL : "assert 1 == 2";
		po.timeout = 60;
		lp_pause *pause;
		if ((rc = lp_pause_begin(&pause, run, &po)))
			break;
		lp_resolution res = {0};
		rc = lp_pause_wait(&res, pause, NULL);
		if (rc == LP_OK && res.outcome == LP_OUTCOME_RESUMED)
			sh->outcomes_ok[a->index]++;
		lp_resolution_clear(&res);
		lp_pause_free(pause);
	}
	int end = lp_run_end(run, 0);
	sh->writer_rc[a->index] = rc ? rc : end;
	lp_run_free(run);
	__atomic_add_fetch(&sh->writers_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int done(shared *sh)
{
	return __atomic_load_n(&sh->writers_done, __ATOMIC_SEQ_CST) == N_WRITERS;
}

typedef struct ids {
	char v[64][LP_ID_MAX + 1];
	int n;
} ids;

static int collect_id(const lp_pause_info *info, void *ud)
{
	ids *l = ud;
	if (l->n < 64)
		snprintf(l->v[l->n++], LP_ID_MAX + 1, "%s", info->pause_id);
	return 0;
}

/* List pending pauses, show each, resume it (one winner per pause). */
static void *resumer_main(void *p)
{
	shared *sh = p;
	while (!done(sh)) {
		ids l = {.n = 0};
		if (lp_store_list(sh->store, 0, collect_id, &l) != LP_OK)
			continue;
		for (int k = 0; k < l.n; k++) {
			lp_pause_info *info;
			if (lp_pause_info_load(&info, sh->store, l.v[k]) != LP_OK)
				continue;
			lp_resume_options o = LP_RESUME_OPTIONS_INIT;
			int checkpoint = strcmp(info->kind, "checkpoint") == 0;
			if (checkpoint) {
				o.has_result = 1;
				o.result = LP_RESULT_TRUE;
				o.reason = "ok";
			} else {
				o.failure_reason = "known";
			}
			o.take_timeout = 30;
			lp_pause_info_free(info);
			if (lp_pause_resume(NULL, sh->store, l.v[k], &o) == LP_OK)
				__atomic_add_fetch(&sh->resumed_ok, 1, __ATOMIC_SEQ_CST);
		}
		/* wait for the next pause through the store's pending/ index */
		struct pollfd none = {.fd = -1};
		poll(&none, 0, 5);
	}
	return NULL;
}

typedef struct watcher_arg {
	shared *sh;
	const char *run_id;
	int rc; /* how the watch ended */
	int reported;
} watcher_arg;

static void *watcher_main(void *p)
{
	watcher_arg *a = p;
	lp_watcher *w = NULL;
	int rc;
	/* the run may not exist yet */
	while ((rc = lp_run_watch_open(&w, a->sh->store, a->run_id)) == LP_ENOTFOUND &&
	       !done(a->sh))
		poll(NULL, 0, 5);
	for (int k = 0; rc == LP_OK && k < 10000; k++) {
		lp_pause_info *info;
		rc = lp_watcher_next(&info, w, 30, NULL);
		if (rc == LP_OK)
			a->reported++;
		lp_pause_info_free(info);
	}
	a->rc = rc;
	lp_watcher_free(w);
	return NULL;
}

typedef struct feeder_arg {
	shared *sh;
	int created, ended, runs_started, runs_ended, rc;
} feeder_arg;

static void *feeder_main(void *p)
{
	feeder_arg *a = p;
	unsigned long long pos = 0;
	while (a->runs_ended < N_WRITERS) {
		lp_feed_event ev;
		int rc = lp_feed_next(&ev, a->sh->feed, pos, 30, NULL);
		if (rc) {
			a->rc = rc;
			return NULL;
		}
		if (ev.seq != pos + 1 || ev.missed || ev.json == NULL || ev.json[0] != '{')
			a->rc = LP_ERROR;
		pos = ev.seq;
		switch (ev.kind) {
		case LP_FEED_PAUSE_CREATED: a->created++; break;
		case LP_FEED_PAUSE_ENDED: a->ended++; break;
		case LP_FEED_RUN_STARTED: a->runs_started++; break;
		case LP_FEED_RUN_ENDED: a->runs_ended++; break;
		}
		lp_feed_event_clear(&ev);
	}
	return NULL;
}

static int count_cb(const lp_pause_info *info, void *ud)
{
	(void)info;
	++*(int *)ud;
	return 0;
}

static void *lister_main(void *p)
{
	shared *sh = p;
	while (!done(sh)) {
		int n = 0;
		lp_store_list(sh->store, LP_LIST_ALL | LP_LIST_JSON, count_cb, &n);
		lp_store_list(sh->store, LP_LIST_ALL, count_cb, &n);
		poll(NULL, 0, 2);
	}
	return NULL;
}

static void test_one_store_many_threads(void **state)
{
	fx *f = *state;
	shared sh = {.store = f->store};
	assert_int_equal(lp_feed_open(&sh.feed, f->store), LP_OK);
	assert_int_equal(lp_feed_head(sh.feed), 0);
	assert_int_equal(strlen(lp_feed_name(sh.feed)), 16);
	pthread_t wt[N_WRITERS], rt[N_RESUMERS], ft[N_FEEDERS], wa[N_WRITERS], lt;
	writer_arg wargs[N_WRITERS];
	watcher_arg watchers[N_WRITERS];
	feeder_arg feeders[N_FEEDERS];
	memset(feeders, 0, sizeof feeders);
	for (int k = 0; k < N_FEEDERS; k++) {
		feeders[k].sh = &sh;
		assert_int_equal(pthread_create(&ft[k], NULL, feeder_main, &feeders[k]), 0);
	}
	for (int k = 0; k < N_WRITERS; k++) {
		snprintf(sh.run_ids[k], sizeof sh.run_ids[k], "thr%d", k);
		wargs[k] = (writer_arg){&sh, k};
		watchers[k] = (watcher_arg){.sh = &sh, .run_id = sh.run_ids[k]};
	}
	for (int k = 0; k < N_WRITERS; k++)
		assert_int_equal(pthread_create(&wt[k], NULL, writer_main, &wargs[k]), 0);
	for (int k = 0; k < N_WRITERS; k++)
		assert_int_equal(pthread_create(&wa[k], NULL, watcher_main, &watchers[k]), 0);
	for (int k = 0; k < N_RESUMERS; k++)
		assert_int_equal(pthread_create(&rt[k], NULL, resumer_main, &sh), 0);
	assert_int_equal(pthread_create(&lt, NULL, lister_main, &sh), 0);

	for (int k = 0; k < N_WRITERS; k++)
		pthread_join(wt[k], NULL);
	for (int k = 0; k < N_RESUMERS; k++)
		pthread_join(rt[k], NULL);
	pthread_join(lt, NULL);
	for (int k = 0; k < N_WRITERS; k++)
		pthread_join(wa[k], NULL);
	for (int k = 0; k < N_FEEDERS; k++)
		pthread_join(ft[k], NULL);

	for (int k = 0; k < N_WRITERS; k++) {
		assert_int_equal(sh.writer_rc[k], LP_OK);
		assert_int_equal(sh.outcomes_ok[k], N_PAUSES);
		assert_int_equal(watchers[k].rc, LP_ERUNENDED);
		assert_true(watchers[k].reported <= N_PAUSES);
	}
	/* exactly one winner per pause */
	assert_int_equal(sh.resumed_ok, N_WRITERS * N_PAUSES);
	for (int k = 0; k < N_FEEDERS; k++) {
		assert_int_equal(feeders[k].rc, LP_OK);
		assert_int_equal(feeders[k].runs_started, N_WRITERS);
		assert_int_equal(feeders[k].runs_ended, N_WRITERS);
		assert_int_equal(feeders[k].created, N_WRITERS * N_PAUSES);
		assert_int_equal(feeders[k].ended, N_WRITERS * N_PAUSES);
	}
	/* the catalog has both runs: one descriptor won, none was lost */
	char path[256];
	char *cat = slurp(fx_path(f, path, sizeof path, "catalog.tsv"));
	assert_non_null(cat);
	assert_int_equal(count_substr(cat, "R\tthr"), N_WRITERS);
	assert_int_equal(count_substr(cat, "\nP\t"), N_WRITERS * N_PAUSES);
	free(cat);
	lp_feed_free(sh.feed);
}

/* A feed resumes from a position and reports what it dropped. */
static void test_feed_positions(void **state)
{
	fx *f = *state;
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	lp_feed_event ev;
	/* nothing changed: a zero timeout reads once and returns */
	assert_int_equal(lp_feed_next(&ev, feed, 0, 0, NULL), LP_EWAITTIMEOUT);
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "pos";
	lp_run *run;
	assert_int_equal(lp_run_start(&run, f->store, &ro), LP_OK);
	lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
	po.nodeid = "t::x";
	po.original_failure = "boom";
	lp_pause *pause;
	assert_int_equal(lp_pause_begin(&pause, run, &po), LP_OK);
	assert_int_equal(lp_feed_next(&ev, feed, 0, 10, NULL), LP_OK);
	assert_int_equal(ev.seq, 1);
	assert_int_equal(ev.kind, LP_FEED_RUN_STARTED);
	assert_string_equal(ev.run_id, "pos");
	assert_string_equal(lp_feed_kind_name(ev.kind), "run_started");
	lp_feed_event_clear(&ev);
	assert_int_equal(lp_feed_next(&ev, feed, 1, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_PAUSE_CREATED);
	assert_string_equal(ev.pause_id, lp_pause_id(pause));
	assert_non_null(strstr(ev.json, "\"state\":\"pending\""));
	lp_feed_event_clear(&ev);
	/* the same position again: the same event (resumable) */
	assert_int_equal(lp_feed_next(&ev, feed, 1, 10, NULL), LP_OK);
	assert_int_equal(ev.seq, 2);
	lp_feed_event_clear(&ev);
	lp_resume_options ro2 = LP_RESUME_OPTIONS_INIT;
	ro2.failure_reason = "r";
	ro2.take_timeout = -1; /* taken below, by this thread */
	assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(pause), &ro2), LP_OK);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, pause, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	lp_resolution_clear(&res);
	assert_int_equal(lp_feed_next(&ev, feed, 2, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_PAUSE_ENDED);
	assert_non_null(strstr(ev.json, "\"state\":\"resumed\""));
	lp_feed_event_clear(&ev);
	lp_pause_free(pause);
	assert_int_equal(lp_run_end(run, 0), LP_OK);
	assert_int_equal(lp_feed_next(&ev, feed, 3, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_RUN_ENDED);
	lp_feed_event_clear(&ev);
	assert_int_equal(lp_feed_head(feed), 4);
	/* caught up: a short wait times out */
	assert_int_equal(lp_feed_next(&ev, feed, 4, 0.05, NULL), LP_EWAITTIMEOUT);
	lp_run_free(run);
	/* NULL-safe */
	assert_int_equal(lp_feed_next(&ev, NULL, 0, 0, NULL), LP_EINVAL);
	assert_int_equal(lp_feed_next(NULL, feed, 0, 0, NULL), LP_EINVAL);
	assert_int_equal(lp_feed_open(NULL, f->store), LP_EINVAL);
	lp_feed_event_clear(NULL);
	lp_feed_free(NULL);
	lp_feed_free(feed);
}

/* A second feed opened later sees the present state as its start. */
static void test_feed_starts_at_present(void **state)
{
	fx *f = *state; /* has run r1 */
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	lp_feed_event ev;
	assert_int_equal(lp_feed_next(&ev, feed, 0, 0.05, NULL), LP_EWAITTIMEOUT);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	assert_int_equal(lp_feed_next(&ev, feed, 0, 10, NULL), LP_OK);
	assert_int_equal(ev.kind, LP_FEED_RUN_ENDED);
	assert_string_equal(ev.run_id, "r1");
	lp_feed_event_clear(&ev);
	lp_feed_free(feed);
}

/* A watcher reports each pause once, and its run's end. */
static void test_watcher_reports_each_once(void **state)
{
	fx *f = *state;
	lp_watcher *w;
	assert_int_equal(lp_run_watch_open(&w, f->store, "nosuch"), LP_ENOTFOUND);
	assert_null(w);
	assert_int_equal(lp_run_watch_open(&w, f->store, "../x"), LP_EINVAL);
	assert_int_equal(lp_run_watch_open(&w, f->store, "r1"), LP_OK);
	lp_pause_options po = LP_PAUSE_OPTIONS_INIT;
	po.nodeid = "t::a";
	lp_pause *a, *b;
	assert_int_equal(lp_pause_begin(&a, f->run, &po), LP_OK);
	lp_pause_info *info;
	assert_int_equal(lp_watcher_next(&info, w, 5, NULL), LP_OK);
	assert_string_equal(info->pause_id, lp_pause_id(a));
	lp_pause_info_free(info);
	/* a is still pending but reported: the next call waits */
	assert_int_equal(lp_watcher_next(&info, w, 0.1, NULL), LP_EWAITTIMEOUT);
	assert_null(info);
	po.nodeid = "t::b";
	assert_int_equal(lp_pause_begin(&b, f->run, &po), LP_OK);
	assert_int_equal(lp_watcher_next(&info, w, 5, NULL), LP_OK);
	assert_string_equal(info->pause_id, lp_pause_id(b));
	lp_pause_info_free(info);
	lp_pause_free(a);
	lp_pause_free(b);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	assert_int_equal(lp_watcher_next(&info, w, 5, NULL), LP_ERUNENDED);
	assert_int_equal(lp_watcher_next(&info, NULL, 5, NULL), LP_EINVAL);
	lp_watcher_free(w);
	lp_watcher_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_store_many_threads, fx_setup_store,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_feed_positions, fx_setup_store, fx_teardown),
		cmocka_unit_test_setup_teardown(test_feed_starts_at_present, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_watcher_reports_each_once, fx_setup_run,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
