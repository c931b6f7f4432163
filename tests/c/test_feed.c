/*
 * test_feed.c - the change feed's reads cost what changed, and what it
 * remembers is bounded by the store's present, not its history: after
 * hundreds of pauses created and ended in one active run (read one by
 * one, and many between two reads), it remembers none of them, and each
 * was reported created and ended exactly once. The active run's log is
 * what names new pauses: a pause_created line longer than the reader's
 * first buffer, a line that names another run's pause, lines that are
 * not JSON; a log cut short under the feed (it falls back to pending/);
 * a feed opened while pauses are pending (their end reported, no
 * creation twice). The events kept for positions asked again: whole,
 * by bytes (4 MiB of JSON) and by count (4,096). Nothing asserts on
 * timing.
 */
#include "helpers.h"

/* How often each pause id was reported created and ended. */
typedef struct tally {
	int n;
	char id[512][LP_ID_MAX + 1];
	int created[512], ended[512];
	int runs_ended;
} tally;

static int tally_slot(tally *t, const char *id)
{
	for (int k = 0; k < t->n; k++)
		if (strcmp(t->id[k], id) == 0)
			return k;
	assert_true(t->n < 512);
	snprintf(t->id[t->n], sizeof t->id[0], "%s", id);
	return t->n++;
}

/* Count one event. */
static void count(tally *t, const lp_feed_event *ev)
{
	if (ev->kind == LP_FEED_PAUSE_CREATED)
		t->created[tally_slot(t, ev->pause_id)]++;
	else if (ev->kind == LP_FEED_PAUSE_ENDED)
		t->ended[tally_slot(t, ev->pause_id)]++;
	else if (ev->kind == LP_FEED_RUN_ENDED)
		t->runs_ended++;
}

/* Read the feed from *pos until it has nothing within `wait` seconds. */
static void drain_feed(lp_feed *feed, unsigned long long *pos, tally *t, double wait)
{
	lp_feed_event ev;
	while (lp_feed_next(&ev, feed, *pos, wait, NULL) == LP_OK) {
		assert_int_equal(ev.missed, 0);
		*pos = ev.seq;
		count(t, &ev);
		lp_feed_event_clear(&ev);
	}
	lpi_error_clear();
}

/* Read until pause id was reported ended (bounded). */
static void await_ended(lp_feed *feed, unsigned long long *pos, tally *t, const char *id)
{
	for (int tries = 0; tries < 200; tries++) {
		int k = tally_slot(t, id);
		if (t->ended[k])
			return;
		lp_feed_event ev;
		int rc = lp_feed_next(&ev, feed, *pos, 5, NULL);
		assert_int_equal(rc, LP_OK);
		*pos = ev.seq;
		count(t, &ev);
		lp_feed_event_clear(&ev);
	}
	fail_msg("pause %s was not reported ended", id);
}

/* A pause of f's run that times out at once (timeout 0), ended. */
static void pause_and_end(fx *f, char id[LP_ID_MAX + 1])
{
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 0);
	snprintf(id, LP_ID_MAX + 1, "%s", lp_pause_id(p));
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT);
	lp_resolution_clear(&res);
	lp_pause_free(p);
}

static void assert_each_once(const tally *t, int want)
{
	assert_int_equal(t->n, want);
	for (int k = 0; k < t->n; k++) {
		if (t->created[k] != 1 || t->ended[k] != 1)
			fail_msg("pause %s: created %d times, ended %d times", t->id[k],
				 t->created[k], t->ended[k]);
	}
}

static void run_history(fx *f, int batch, int total)
{
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	unsigned long long pos = 0;
	tally *t = calloc(1, sizeof *t);
	char id[LP_ID_MAX + 1];
	for (int done = 0; done < total;) {
		for (int k = 0; k < batch && done < total; k++, done++)
			pause_and_end(f, id);
		await_ended(feed, &pos, t, id);
	}
	/* the durable half of their ends (pending/ unindexed) */
	assert_int_equal(lpi_settle_drain(f->run), LP_OK);
	drain_feed(feed, &pos, t, 0.05);
	assert_each_once(t, total);
	/* one more read after pending/ emptied: nothing of them is kept */
	lp_feed_event ev;
	assert_int_equal(lp_feed_next(&ev, feed, pos, 0, NULL), LP_EWAITTIMEOUT);
	lpi_error_clear();
	assert_int_equal(lpi_feed_remembered(feed), 0);
	/* and the run is still followed: one more pause, reported */
	pause_and_end(f, id);
	await_ended(feed, &pos, t, id);
	assert_each_once(t, total + 1);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	drain_feed(feed, &pos, t, 0.5);
	assert_int_equal(t->runs_ended, 1);
	assert_int_equal(lpi_feed_remembered(feed), 0);
	free(t);
	lp_feed_free(feed);
}

/* Each pause read before the next is made. */
static void test_forgets_pauses_read_one_by_one(void **state)
{
	run_history(*state, 1, 300);
}

/* Fifty pauses created and ended between two reads: only the log names
 * them (none is in pending/ when the feed reads). */
static void test_forgets_pauses_made_between_reads(void **state)
{
	run_history(*state, 50, 400);
}

/* A pause of f's run with this nodeid, pending. */
static lp_pause *pause_named(fx *f, const char *nodeid)
{
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = nodeid;
	o.original_failure = "boom";
	o.timeout = 30;
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_OK);
	return p;
}

static void append_log(fx *f, const char *run, const char *text)
{
	char path[512];
	fx_path(f, path, sizeof path, "runs/%s/events.jsonl", run);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Wait for the next pause_created and return its id (bounded). */
static void next_created(lp_feed *feed, unsigned long long *pos, char out[LP_ID_MAX + 1])
{
	for (;;) {
		lp_feed_event ev;
		assert_int_equal(lp_feed_next(&ev, feed, *pos, 5, NULL), LP_OK);
		*pos = ev.seq;
		int hit = ev.kind == LP_FEED_PAUSE_CREATED;
		if (hit)
			snprintf(out, LP_ID_MAX + 1, "%s", ev.pause_id);
		lp_feed_event_clear(&ev);
		if (hit)
			return;
	}
}

/* pause_created lines longer than the reader's first 16 KiB buffer (a
 * nodeid of quotes, each escaped to two bytes), of 40 and 100 KiB. */
static void test_long_created_lines(void **state)
{
	fx *f = *state;
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	unsigned long long pos = 0;
	size_t sizes[] = {20 * 1024, LP_CAP_NODEID - 16};
	for (size_t i = 0; i < 2; i++) {
		char *nodeid = malloc(sizes[i] + 1);
		memset(nodeid, i ? '\x01' : '"', sizes[i]);
		memcpy(nodeid, "t.py::", 6);
		nodeid[sizes[i]] = '\0';
		lp_pause *p = pause_named(f, nodeid);
		char got[LP_ID_MAX + 1];
		next_created(feed, &pos, got);
		assert_string_equal(got, lp_pause_id(p));
		lp_pause_free(p);
		free(nodeid);
	}
	lp_feed_free(feed);
}

/* Lines the feed must not take as a pause of this run: not JSON, a
 * pause_created naming another run's pause, one naming no pause that
 * exists, a cut one; the real pauses after them are each reported once. */
static void test_lines_that_name_no_pause_of_the_run(void **state)
{
	fx *f = *state;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r2";
	lp_run *r2;
	assert_int_equal(lp_run_start(&r2, f->store, &ro), LP_OK);
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	unsigned long long pos = 0;
	/* a pause of r2, created, ended and gone from pending/ */
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = "t.py::other";
	o.original_failure = "x";
	o.timeout = 0;
	lp_pause *other;
	assert_int_equal(lp_pause_begin(&other, r2, &o), LP_OK);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, other, NULL), LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(lpi_settle_drain(r2), LP_OK);
	tally *t = calloc(1, sizeof *t);
	await_ended(feed, &pos, t, lp_pause_id(other));
	assert_int_equal(t->created[tally_slot(t, lp_pause_id(other))], 1);
	lp_feed_event ev;
	assert_int_equal(lp_feed_next(&ev, feed, pos, 0, NULL), LP_EWAITTIMEOUT);
	lpi_error_clear();
	char got[LP_ID_MAX + 1], line[512];
	snprintf(line, sizeof line,
		 "not json \"pause_created\"\n"
		 "{\"event\":\"pause_created\",\"pause_id\":\"%s\"}\n"
		 "{\"event\":\"pause_created\",\"pause_id\":\"r1.00000000\"}\n"
		 "{\"event\":\"pause_created\",\"pause_id\":\"../../x\"}\n",
		 lp_pause_id(other));
	append_log(f, "r1", line);
	lp_pause *mine = pause_named(f, "t.py::mine");
	next_created(feed, &pos, got);
	assert_string_equal(got, lp_pause_id(mine));
	t->created[tally_slot(t, got)]++;
	lp_pause_free(mine);
	lp_pause_free(other);
	assert_int_equal(lp_run_end(r2, 0), LP_OK);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	drain_feed(feed, &pos, t, 0.5);
	/* each pause created once (other's not again from r1's log) */
	assert_int_equal(t->n, 2);
	for (int k = 0; k < t->n; k++)
		assert_int_equal(t->created[k], 1);
	assert_int_equal(t->runs_ended, 2);
	lp_run_free(r2);
	free(t);
	lp_feed_free(feed);
}

/* The log cut short under the feed (emptied, or cut mid-way): what it
 * had read is gone, so it stops following it and finds the run's pauses
 * in pending/, each once. */
static void cut_log(int keep_half)
{
	void *fxs = NULL;
	assert_int_equal(fx_setup_run(&fxs), 0);
	fx *f = fxs;
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	unsigned long long pos = 0;
	lp_pause *a = pause_named(f, "t.py::a");
	char got[LP_ID_MAX + 1], path[512];
	next_created(feed, &pos, got);
	assert_string_equal(got, lp_pause_id(a));
	fx_path(f, path, sizeof path, "runs/r1/events.jsonl");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, keep_half ? st.st_size / 2 : 0), 0);
	lp_pause *b = pause_named(f, "t.py::b");
	next_created(feed, &pos, got);
	assert_string_equal(got, lp_pause_id(b));
	lp_pause_free(a);
	lp_pause_free(b);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	tally *t = calloc(1, sizeof *t);
	drain_feed(feed, &pos, t, 0.5);
	for (int k = 0; k < t->n; k++)
		assert_int_equal(t->created[k], 0);
	assert_int_equal(t->runs_ended, 1);
	free(t);
	lp_feed_free(feed);
	fx_teardown(&fxs);
}

static void test_log_emptied(void **state)
{
	(void)state;
	cut_log(0);
}

static void test_log_cut_midway(void **state)
{
	(void)state;
	cut_log(1);
}

/* Opened while two pauses are pending: their ends are reported, their
 * creation never (it came before the feed), and a later pause once. */
static void test_opened_while_pending(void **state)
{
	fx *f = *state;
	lp_pause *a = pause_named(f, "t.py::a"), *b = pause_named(f, "t.py::b");
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	assert_int_equal(lpi_feed_remembered(feed) >= 2, 1);
	unsigned long long pos = 0;
	lp_resume_options ro = LP_RESUME_OPTIONS_INIT;
	ro.failure_reason = "r";
	ro.take_timeout = -1;
	lp_pause *both[] = {a, b};
	tally *t = calloc(1, sizeof *t);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lp_pause_resume(NULL, f->store, lp_pause_id(both[i]), &ro), LP_OK);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, both[i], NULL), LP_OK);
		lp_resolution_clear(&res);
		await_ended(feed, &pos, t, lp_pause_id(both[i]));
	}
	char id[LP_ID_MAX + 1];
	pause_and_end(f, id);
	await_ended(feed, &pos, t, id);
	assert_int_equal(lpi_settle_drain(f->run), LP_OK);
	assert_int_equal(lp_run_end(f->run, 0), LP_OK);
	drain_feed(feed, &pos, t, 0.5);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->created[tally_slot(t, lp_pause_id(a))], 0);
	assert_int_equal(t->created[tally_slot(t, lp_pause_id(b))], 0);
	assert_int_equal(t->created[tally_slot(t, id)], 1);
	for (int k = 0; k < t->n; k++)
		assert_int_equal(t->ended[k], 1);
	assert_int_equal(lpi_feed_remembered(feed), 0);
	lp_pause_free(a);
	lp_pause_free(b);
	free(t);
	lp_feed_free(feed);
}

/* Every position asked for, after pauses whose events total several
 * times the feed's 4 MiB of JSON kept (failure texts of 1 to 250 KiB, so
 * the tape wraps at every offset), or more than its 4,096 events: a
 * position still kept gives that event whole (its JSON names its pause),
 * an older one the oldest kept, with `missed` counting the ones skipped. */
static void check_positions(lp_feed *feed, unsigned long long head, int want_missed)
{
	unsigned long long oldest = 0;
	for (unsigned long long p = 1; p <= head; p++) {
		lp_feed_event ev;
		assert_int_equal(lp_feed_next(&ev, feed, p - 1, 0, NULL), LP_OK);
		if (oldest == 0)
			oldest = ev.seq;
		if (p < oldest) {
			assert_int_equal(ev.seq, oldest);
			assert_int_equal(ev.missed, oldest - p);
		} else {
			assert_int_equal(ev.seq, p);
			assert_int_equal(ev.missed, 0);
		}
		if (ev.kind == LP_FEED_PAUSE_CREATED || ev.kind == LP_FEED_PAUSE_ENDED) {
			char needle[LP_ID_MAX + 32];
			snprintf(needle, sizeof needle, "\"pause_id\":\"%s\"", ev.pause_id);
			assert_non_null(ev.json);
			assert_non_null(strstr(ev.json, needle));
			lp_json *doc;
			assert_int_equal(lpj_parse_object(ev.json, strlen(ev.json), "event", &doc),
					 LP_OK);
			lpj_free(doc);
		}
		lp_feed_event_clear(&ev);
	}
	if (want_missed)
		assert_true(oldest > 1);
	assert_true(head - oldest + 1 <= LP_FEED_KEEP);
}

static void test_positions_kept_by_bytes(void **state)
{
	fx *f = *state;
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	static const size_t kib[] = {1, 250, 40, 180, 3, 120, 250, 7};
	char *text = malloc(251 * 1024);
	unsigned long long pos = 0;
	tally *t = calloc(1, sizeof *t);
	for (int k = 0; k < 96; k++) {
		size_t n = kib[k % 8] * 1024;
		memset(text, 'a' + k % 26, n);
		text[n] = '\0';
		lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
		o.nodeid = "t.py::big";
		o.original_failure = text;
		o.timeout = 0;
		lp_pause *p;
		assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_OK);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		lp_resolution_clear(&res);
		await_ended(feed, &pos, t, lp_pause_id(p));
		lp_pause_free(p);
	}
	check_positions(feed, lp_feed_head(feed), 1);
	free(text);
	free(t);
	lp_feed_free(feed);
}

static void test_positions_kept_by_count(void **state)
{
	fx *f = *state;
	lp_feed *feed;
	assert_int_equal(lp_feed_open(&feed, f->store), LP_OK);
	unsigned long long pos = 0;
	tally *t = calloc(1, sizeof *t);
	char id[LP_ID_MAX + 1];
	for (int k = 0; k < 2100; k++) {
		pause_and_end(f, id);
		if (k % 50 == 49) {
			await_ended(feed, &pos, t, id);
			memset(t, 0, sizeof *t); /* only the last one is looked for */
		}
	}
	unsigned long long head = lp_feed_head(feed); /* 2 x 2100: r1 started before the feed */
	assert_true(head > LP_FEED_KEEP);
	lp_feed_event ev;
	assert_int_equal(lp_feed_next(&ev, feed, 0, 0, NULL), LP_OK);
	assert_int_equal(ev.seq, head - LP_FEED_KEEP + 1);
	assert_int_equal(ev.missed, head - LP_FEED_KEEP);
	lp_feed_event_clear(&ev);
	check_positions(feed, head, 1);
	free(t);
	lp_feed_free(feed);
}

int main(void)
{
	setenv("LP_UNSAFE_NO_FSYNC", "1", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forgets_pauses_read_one_by_one, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_forgets_pauses_made_between_reads,
						fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_long_created_lines, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lines_that_name_no_pause_of_the_run,
						fx_setup_run, fx_teardown),
		cmocka_unit_test(test_log_emptied),
		cmocka_unit_test(test_log_cut_midway),
		cmocka_unit_test_setup_teardown(test_opened_while_pending, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_positions_kept_by_bytes, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_positions_kept_by_count, fx_setup_run,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
