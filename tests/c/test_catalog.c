/*
 * test_catalog.c - catalog.c and the "ls -a" listing built on it: the
 * "R" and "P" lines written by lp_run_start and by the end of a pause,
 * escaping, the listing read from the catalog (not from pause files),
 * the walk of runs the catalog does not know, a pause kept in pending/
 * when its line cannot be written, one pause listed once when it is in
 * both, and damaged lines skipped.
 */
#include "helpers.h"

#include <signal.h>
#include <sys/resource.h>

typedef struct row {
	char id[LP_ID_MAX + 1], state[16], kind[16], nodeid[128], task[128], worker[16];
	double created;
	long pid;
} row;

typedef struct rows {
	int n;
	row r[16];
} rows;

static int collect_cb(const lp_pause_info *info, void *ud)
{
	rows *s = ud;
	if (s->n < 16) {
		row *r = &s->r[s->n];
		snprintf(r->id, sizeof r->id, "%s", info->pause_id);
		snprintf(r->state, sizeof r->state, "%s", info->state);
		snprintf(r->kind, sizeof r->kind, "%s", info->kind);
		snprintf(r->nodeid, sizeof r->nodeid, "%s", info->nodeid);
		snprintf(r->task, sizeof r->task, "%s", info->task ? info->task : "(none)");
		snprintf(r->worker, sizeof r->worker, "%s",
			 info->worker_id ? info->worker_id : "-");
		r->created = info->created_at;
		r->pid = info->pid;
	}
	s->n++;
	return 0;
}

static void list(lp_store *store, unsigned flags, rows *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(lp_store_list(store, flags, collect_cb, s), LP_OK);
}

static const row *find(const rows *s, const char *id)
{
	for (int k = 0; k < s->n && k < 16; k++)
		if (strcmp(s->r[k].id, id) == 0)
			return &s->r[k];
	return NULL;
}

static lp_pause *begin_cp(lp_run *run, const char *nodeid, const char *task)
{
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = LP_KIND_CHECKPOINT;
	o.nodeid = nodeid;
	o.task = task;
	o.timeout = 30;
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, run, &o), LP_OK);
	return p;
}

static void claim(lp_pause *p, lp_action action)
{
	lp_resolution res = {0};
	const char *by = action == LP_ACTION_RESUME ? "cli" : lp_action_name(action);
	assert_int_equal(lp_pause_claim(&res, p, action, by, NULL), LP_OK);
	lp_resolution_clear(&res);
	assert_int_equal(lpi_pause_settle(p), LP_OK); /* catalogued in its own thread */
}

/* A checkpoint of the fixture's run, resumed: in the catalog, not pending. */
static lp_pause *resumed_checkpoint(fx *f)
{
	lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	claim(p, LP_ACTION_RESUME);
	return p;
}

static void remove_pause_file(fx *f, const char *id)
{
	char d[256];
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "runs/r1/pauses/%s.json", id)), 0);
}

/* ---------------------------------------------------------------- tests */

static void test_lines_written(void **state)
{
	fx *f = *state;
	lp_pause *a = fx_pause(f, LP_KIND_FAILURE, 30), *b = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	char d[256];
	char *text = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_non_null(text);
	assert_true(strncmp(text, "pytest-live-pause catalog 1\nR\tr1\n", 33) == 0);
	assert_int_equal(count_substr(text, "\nP\t"), 0); /* nothing ended yet */
	free(text);
	claim(a, LP_ACTION_TIMEOUT);
	claim(b, LP_ACTION_ABORT);
	text = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_int_equal(count_substr(text, "\nP\t"), 2);
	assert_true(strstr(text, lp_pause_id(a)) < strstr(text, lp_pause_id(b)));
	assert_non_null(strstr(text, "\ttimed_out\tfailure\t"));
	assert_non_null(strstr(text, "\taborted\tcheckpoint\t"));
	free(text);
	/* both left pending/ once catalogued */
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "pending"), ""), 0);
	lp_pause_free(a);
	lp_pause_free(b);
}

static void test_listing_reads_the_catalog(void **state)
{
	fx *f = *state;
	const char *odd = "t.py::t[a\tb\nc\\d\re]";
	lp_pause *a = begin_cp(f->run, odd, "look\tat\\it\n");
	lp_pause *b = fx_pause(f, LP_KIND_FAILURE, 30);
	lp_pause *c = fx_pause(f, LP_KIND_CHECKPOINT, 30); /* stays pending */
	rows before;
	list(f->store, LP_LIST_ALL | LP_LIST_JSON, &before); /* from the pause files */
	claim(a, LP_ACTION_RESUME);
	claim(b, LP_ACTION_TIMEOUT);
	/* the ended pause files are gone: only the catalog can list them */
	remove_pause_file(f, lp_pause_id(a));
	remove_pause_file(f, lp_pause_id(b));
	rows s;
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 3);
	const row *ra = find(&s, lp_pause_id(a)), *rb = find(&s, lp_pause_id(b)),
		  *rc = find(&s, lp_pause_id(c));
	assert_non_null(ra);
	assert_non_null(rb);
	assert_non_null(rc);
	assert_string_equal(ra->state, "resumed");
	assert_string_equal(ra->kind, "checkpoint");
	assert_string_equal(ra->nodeid, odd); /* escaping round-trips */
	assert_string_equal(ra->task, "look\tat\\it\n");
	assert_string_equal(rb->state, "timed_out");
	assert_string_equal(rb->task,
			    "Inspect the failure and then resume the test."); /* 0.1.1's */
	assert_string_equal(rb->worker, "-");
	assert_string_equal(rc->state, "pending");
	/* the catalog keeps what the pause file said, to the last bit */
	assert_true(find(&before, lp_pause_id(a))->created == ra->created);
	assert_true(find(&before, lp_pause_id(b))->created == rb->created);
	assert_int_equal(ra->pid, (long)getpid());
	/* oldest first */
	assert_true(s.r[0].created <= s.r[1].created && s.r[1].created <= s.r[2].created);
	/* JSON of ended pauses comes from catalog-json.tsv: no pause file
	 * needed either */
	list(f->store, LP_LIST_ALL | LP_LIST_JSON, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(find(&s, lp_pause_id(a))->state, "resumed");
	/* without it, the pause files are read: a and b are gone */
	char d[256];
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "catalog-json.tsv")), 0);
	list(f->store, LP_LIST_ALL | LP_LIST_JSON, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].id, lp_pause_id(c));
	claim(c, LP_ACTION_ABORT);
	lp_pause_free(a);
	lp_pause_free(b);
	lp_pause_free(c);
}

static void test_uncatalogued_runs_are_walked(void **state)
{
	fx *f = *state;
	lp_pause *a = fx_pause(f, LP_KIND_CHECKPOINT, 30), *b = fx_pause(f, LP_KIND_FAILURE, 30);
	claim(a, LP_ACTION_RESUME);
	char d[256];
	/* a catalog that does not know run r1 (written before it, say) */
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "catalog.tsv"),
				    "pytest-live-pause catalog 1\n", 28),
			 0);
	rows s;
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(find(&s, lp_pause_id(a))->state, "resumed");
	assert_string_equal(find(&s, lp_pause_id(b))->state, "pending");
	/* no catalog at all (an older pause directory): the same, by walking */
	assert_int_equal(unlink(d), 0);
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 2);
	/* a catalog of another version, or not a file: walked too */
	assert_int_equal(write_text(d, "pytest-live-pause catalog 999\n", 30), 0);
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(unlink(d), 0);
	assert_int_equal(mkdir(d, 0700), 0);
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(rmdir(d), 0);
	claim(b, LP_ACTION_ABORT);
	lp_pause_free(a);
	lp_pause_free(b);
}

static void test_unwritable_catalog_keeps_the_pause_in_pending(void **state)
{
	fx *f = *state;
	char d[256], p[256];
	fx_path(f, d, sizeof d, "catalog.tsv");
	char *saved = slurp(d); /* "R r1" is in it */
	assert_non_null(saved);
	/* a second process of the run (an xdist worker) cannot append */
	assert_int_equal(unlink(d), 0);
	assert_int_equal(mkdir(d, 0700), 0);
	lp_store *s2 = NULL;
	assert_int_equal(lp_store_open(&s2, f->dir, 0), LP_OK);
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = "gw0";
	lp_run *w = NULL;
	assert_int_equal(lp_run_join(&w, s2, &ro), LP_OK);
	lp_pause *a = begin_cp(w, "t.py::w", NULL);
	claim(a, LP_ACTION_RESUME); /* the outcome is recorded all the same */
	assert_true(exists(fx_path(f, p, sizeof p, "pending/%s", lp_pause_id(a))));
	assert_int_equal(rmdir(d), 0);
	assert_int_equal(write_text(d, saved, strlen(saved)), 0);
	free(saved);
	rows s;
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].id, lp_pause_id(a));
	assert_string_equal(s.r[0].state, "resumed");
	assert_string_equal(s.r[0].worker, "gw0");
	list(f->store, 0, &s); /* not resumable: not in a plain listing */
	assert_int_equal(s.n, 0);
	lp_pause_free(a);
	lp_run_free(w);
	lp_store_free(s2);
}

static void test_in_catalog_and_pending_is_listed_once(void **state)
{
	fx *f = *state;
	lp_pause *a = resumed_checkpoint(f);
	/* as if killed between its catalog line and its unindexing */
	char d[256];
	assert_int_equal(write_text(fx_path(f, d, sizeof d, "pending/%s", lp_pause_id(a)), "", 0),
			 0);
	rows s;
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].state, "resumed");
	lp_pause_free(a);
}

static void test_damaged_lines_are_skipped(void **state)
{
	fx *f = *state;
	lp_pause *a = resumed_checkpoint(f);
	char d[256];
	fx_path(f, d, sizeof d, "catalog.tsv");
	FILE *fp = fopen(d, "a");
	assert_non_null(fp);
	fputs("P\tbad\n"                                                       /* too few fields */
	      "X\tsomething from a later version\n"                            /* unknown line */
	      "R\tnot/a/run\n"                                                 /* bad run id */
	      "P\tr1.0000beef\tpending\tcheckpoint\t1\t1\t1\t1\t\th\tc\tn\t\n" /* not final */
	      "P\tr1.0000bee2\tresumed\tweird\t1\t1\t1\t1\t\th\tc\tn\t\n"      /* bad kind */
	      "P\tr1.0000bee3\tresumed\tfailure\tx\t1\t1\t1\t\th\tc\tn\t\n"    /* bad number */
	      "P\tr1.0000bee4\tresumed\tfailure\t1\t1\t1\t1x\t\th\tc\tn\t\n"   /* bad pid */
	      "P\tr9.0000bee5\tresumed\tfailure\t1\t1\t1\t1\t\th\tc\tn\t\n"    /* unknown run */
	      "P\tr1.0000bee6\tresumed\tfailure\t1\t1\t1\t1\t\th\tc\tn\t",     /* no LF: cut */
	      fp);
	fclose(fp);
	rows s;
	list(f->store, LP_LIST_ALL, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].id, lp_pause_id(a));
	lp_pause_free(a);
}

static void test_failed_publish_leaves_no_index_entry(void **state)
{
	fx *f = *state;
	/* files over 64 bytes cannot be written: the pause file fails */
	struct rlimit old, small = {64, 64};
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = "t.py::t";
	lp_pause *p = NULL;
	int rc = lp_pause_begin(&p, f->run, &o);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(rc, LP_ERROR);
	assert_null(p);
	char d[256];
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "pending"), ""), 0);
	assert_int_equal(count_entries(fx_path(f, d, sizeof d, "runs/r1/pauses"), "r1."), 0);
}

/* The counts pass of "runs" keeps exactly the pauses the full parse keeps:
 * texts after the 8th field are only counted (escaped tabs are not cuts),
 * numbers only checked. */
static void test_counts_pass_keeps_what_the_full_parse_keeps(void **state)
{
	(void)state;
	static const char text[] =
		"pytest-live-pause catalog 1\n"
		"R\tr1\n"
		"P\tr1.0000000a\tresumed\tfailure\t1764590000.5\t1764590001.25\t600\t12\t\th\t/c\tt.py::a\t\n"
		"P\tr1.0000000b\ttimed_out\tcheckpoint\t1.5e9\t1.5e9\tinf\t12\tgw0\th\t/c\tn\\\tx\ttask\\\n"
		"P\tr1.0000000c\taborted\tquestion\t1764590000.\t0\t0\t12\tgw0\th\t/c\tn\tq\n"
		"P\tr1.0000000d\tresumed\tfailure\t1x\t0\t0\t12\t\th\t/c\tn\t\n" /* bad number */
		"P\tr1.0000000e\tresumed\tfailure\t1\t0\t0\t12\t\th\t/c\tn\t\textra\n" /* 14 fields */
		"P\tr1.0000000f\tresumed\tfailure\t1\t0\t0\t12\t\th\t/c\tn\n" /* 12 fields */
		"P\tr1.00000010\tresumed\tfailure\t1234567890123456.5\t0\t0\t12\t\th\t/c\tn\t\n"
		"\\P\tr1.00000011\tresumed\tfailure\t.5\t-1\tnan\t12\t\th\t/c\tn\t\n"
		"E\tr1\t1\t2\t0\t12\th\t/c\n";
	char *a = strdup(text), *b = strdup(text);
	lpi_catalog *full, *counts;
	assert_int_equal(lpi_catalog_parse(a, strlen(text), &full), LP_OK);
	assert_int_equal(lpi_catalog_parse_counts(b, strlen(text), &counts), LP_OK);
	assert_int_equal(full->npauses, 5); /* a, b, c, 10 and 11 (its first byte escaped) */
	assert_string_equal(full->pauses[4].pause_id, "r1.00000011");
	assert_int_equal(counts->npauses, full->npauses);
	for (size_t k = 0; k < full->npauses; k++) {
		assert_string_equal(counts->pauses[k].pause_id, full->pauses[k].pause_id);
		assert_string_equal(counts->pauses[k].status, full->pauses[k].status);
		assert_null(counts->pauses[k].nodeid); /* not split */
	}
	assert_string_equal(full->pauses[1].nodeid, "n\tx"); /* the escaped tab is no cut */
	assert_string_equal(full->pauses[1].task,
			    "task"); /* a lone backslash at the end: dropped */
	/* a line with no escape is cut at every tab (split at memchr's pace) */
	assert_null(full->pauses[0].worker_id);
	assert_string_equal(full->pauses[0].hostname, "h");
	assert_string_equal(full->pauses[0].cwd, "/c");
	assert_string_equal(full->pauses[0].nodeid, "t.py::a");
	assert_null(full->pauses[0].task);
	assert_string_equal(full->pauses[2].worker_id, "gw0");
	assert_string_equal(full->pauses[2].task, "q");
	assert_int_equal(full->pauses[2].pid, 12);
	assert_int_equal(full->pauses[0].state, LP_STATE_RESUMED);
	assert_int_equal(full->pauses[1].state, LP_STATE_TIMED_OUT);
	assert_int_equal(full->pauses[2].state, LP_STATE_ABORTED);
	assert_int_equal(full->nends, 1);
	assert_string_equal(full->ends[0].hostname, "h");
	assert_string_equal(full->ends[0].cwd, "/c");
	assert_int_equal(full->ends[0].pid, 12);
	assert_int_equal(counts->nruns, full->nruns);
	assert_int_equal(counts->nends, full->nends);
	lpi_catalog_free(full);
	lpi_catalog_free(counts);
}

/* The JSON listing of every pause, one string per pause in order. */
typedef struct jrows {
	int n;
	char *json[16];
} jrows;

static int json_cb(const lp_pause_info *info, void *ud)
{
	jrows *s = ud;
	if (s->n < 16)
		s->json[s->n] = strdup(info->json ? info->json : "(null)");
	s->n++;
	return 0;
}

static void list_json(lp_store *store, jrows *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(lp_store_list(store, LP_LIST_ALL | LP_LIST_JSON, json_cb, s), LP_OK);
}

static void jrows_equal(const jrows *a, const jrows *b)
{
	assert_int_equal(a->n, b->n);
	for (int k = 0; k < a->n && k < 16; k++)
		assert_string_equal(a->json[k], b->json[k]);
}

static void jrows_free(jrows *s)
{
	for (int k = 0; k < s->n && k < 16; k++)
		free(s->json[k]);
}

/* The "J" line of an ended pause: its id, where "path" goes, a checksum,
 * and the listing object with "path" empty; the listing made from it is
 * exactly the one made from the pause file, and a damaged, cut or missing
 * line means the pause file is read. */
static void test_listing_lines(void **state)
{
	fx *f = *state;
	lp_pause *a = begin_cp(f->run, "t.py::a[\"path\":\"\"]", "path\t\"x\"\n\\ \xc3\xbc");
	lp_pause *b = fx_pause(f, LP_KIND_FAILURE, 30), *c = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	claim(a, LP_ACTION_RESUME);
	claim(b, LP_ACTION_TIMEOUT); /* c stays pending: listed from its file */
	char d[256];
	char *text = slurp(fx_path(f, d, sizeof d, "catalog-json.tsv"));
	assert_non_null(text);
	assert_true(strncmp(text, "pytest-live-pause catalog-json 1\nJ\t", 35) == 0);
	assert_int_equal(count_substr(text, "\nJ\t"), 2);
	assert_null(strchr(strchr(text, '\n') + 1, '\r'));
	/* the catalog itself holds no JSON: "ls" scans it */
	char *cat = slurp(fx_path(f, d, sizeof d, "catalog.tsv"));
	assert_null(strchr(cat, '{'));
	free(cat);
	/* parsed: both found, each line the bytes of its pause file */
	char *copy = strdup(text);
	lpi_listing *l;
	assert_int_equal(lpi_listing_parse(copy, strlen(text), &l), LP_OK);
	size_t len;
	const char *json = lpi_listing_find(l, lp_pause_id(a), &len);
	assert_non_null(json);
	char *file = slurp(fx_path(f, d, sizeof d, "runs/r1/pauses/%s.json", lp_pause_id(a)));
	assert_int_equal(len, strlen(file));
	assert_memory_equal(json, file, len);
	free(file);
	assert_non_null(lpi_listing_find(l, lp_pause_id(b), &len));
	assert_null(lpi_listing_find(l, lp_pause_id(c), &len));
	assert_null(lpi_listing_find(l, "r1.ffffffff", &len));
	lpi_listing_free(l);

	jrows fast, slow, again;
	list_json(f->store, &fast);
	assert_int_equal(fast.n, 3);
	assert_int_equal(unlink(fx_path(f, d, sizeof d, "catalog-json.tsv")), 0);
	list_json(f->store, &slow); /* every pause file read */
	jrows_equal(&fast, &slow);
	/* damaged: a changed byte (the checksum fails), a JSON that is no
	 * object, a cut line, a bad checksum field, another header, missing */
	const char *fst = strstr(text, "\nJ\t") + 1, *snd = strstr(fst, "\nJ\t") + 1;
	size_t hlen = (size_t)(fst - text), n1 = (size_t)(snd - fst);
	char *bad = malloc(strlen(text) + 64);
	for (int variant = 0; variant < 6; variant++) {
		memcpy(bad, text, strlen(text) + 1);
		char *line = bad + hlen, *tab = strchr(strchr(line, '\t') + 1, '\t');
		switch (variant) {
		case 0: line[n1 - 3] ^= 1; break;           /* in the JSON */
		case 1: line[n1 - 2] = ']'; break;          /* its closing brace */
		case 2: bad[strlen(bad) - 1] = '\0'; break; /* the last line cut */
		case 3: tab[1] = 'g'; break;                /* not hex */
		case 4: bad[hlen - 2] = '2'; break;         /* version 2 */
		case 5: memmove(line, snd - text + bad, strlen(snd) + 1); break; /* missing */
		}
		assert_int_equal(
			write_text(fx_path(f, d, sizeof d, "catalog-json.tsv"), bad, strlen(bad)),
			0);
		list_json(f->store, &again);
		jrows_equal(&fast, &again);
		jrows_free(&again);
	}
	/* the line alone lists an ended pause whose file is gone */
	assert_int_equal(
		write_text(fx_path(f, d, sizeof d, "catalog-json.tsv"), text, strlen(text)), 0);
	remove_pause_file(f, lp_pause_id(a));
	list_json(f->store, &again);
	jrows_equal(&fast, &again);
	jrows_free(&again);
	free(bad);
	free(text);
	jrows_free(&fast);
	jrows_free(&slow);
	claim(c, LP_ACTION_ABORT);
	lp_pause_free(a);
	lp_pause_free(b);
	lp_pause_free(c);
}

/* The runs pass reads the catalog in pieces (lpi_file_lines), never whole:
 * "R" lines at many offsets, and across every multiple of 64 KiB, a "P"
 * line longer than a piece (skipped, and the "R" line after it kept), a
 * last line without its newline (not kept); the same runs as the pass
 * over the whole text. A wrong header or an empty file: not a catalog. */
static void test_runs_pass_reads_in_pieces(void **state)
{
	fx *f = *state;
	size_t cap = 600 * 1024, n = 0;
	char *text = malloc(cap);
	n += (size_t)sprintf(text, "pytest-live-pause catalog 1\n");
	int want = 0;
	for (int k = 0; n < 400 * 1024; k++) {
		/* P lines of 97 to 3,000 bytes: the R lines fall at every offset */
		size_t pad = 97 + (size_t)(k * 389) % 2900;
		size_t head = (size_t)sprintf(
			text + n, "P\tr%d.0000000a\tresumed\tfailure\t1\t2\t0\t1\t\th\t/c\t", k);
		/* the R line across the next multiple of 64 KiB when it is near */
		size_t edge = (n / 65536 + 1) * 65536, r_at = n + head + pad + 2;
		if (r_at + 3 >= edge && n + head + 2 + 1 < edge - 3)
			pad = edge - 3 - (n + head + 2);
		n += head;
		memset(text + n, 'x', pad);
		n += pad;
		n += (size_t)sprintf(text + n, "\t\nR\trun%d\n", k);
		want++;
		if (k == 40) { /* a line longer than a piece, then a run */
			text[n++] = 'P';
			memset(text + n, 'y', 70 * 1024);
			n += 70 * 1024;
			n += (size_t)sprintf(text + n, "\nR\tafterlong\n");
			want++;
		}
	}
	n += (size_t)sprintf(text + n, "R\tcut");
	char path[512];
	assert_int_equal(write_text(fx_path(f, path, sizeof path, "catalog.tsv"), text, n), 0);
	lpi_catalog *pieces, *whole;
	assert_int_equal(lpi_catalog_load_runs(f->store, &pieces), LP_OK);
	assert_int_equal(lpi_catalog_parse_runs(text, n, &whole), LP_OK); /* takes text */
	assert_int_equal((int)pieces->nruns, want);
	assert_int_equal(pieces->nruns, whole->nruns);
	for (size_t k = 0; k < whole->nruns; k++)
		assert_string_equal(pieces->runs[k], whole->runs[k]);
	assert_true(lpi_catalog_has_run(pieces, "afterlong"));
	assert_true(lpi_catalog_has_run(pieces, "run0"));
	assert_false(lpi_catalog_has_run(pieces, "cut"));
	lpi_catalog_free(pieces);
	lpi_catalog_free(whole);
	/* not a catalog: a wrong header, an empty file, no whole first line */
	const char *bad[] = {"pytest-live-pause catalog 2\nR\tr1\n", "",
			     "pytest-live-pause catalog 1"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(write_text(path, bad[i], strlen(bad[i])), 0);
		assert_int_equal(lpi_catalog_load_runs(f->store, &pieces), LP_ENOTFOUND);
		assert_null(pieces);
	}
	lpi_error_clear();
}

int main(void)
{
	test_guard(120);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_run, fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_pass_keeps_what_the_full_parse_keeps),
		T(test_lines_written),
		T(test_listing_reads_the_catalog),
		T(test_uncatalogued_runs_are_walked),
		T(test_unwritable_catalog_keeps_the_pause_in_pending),
		T(test_in_catalog_and_pending_is_listed_once),
		T(test_damaged_lines_are_skipped),
		T(test_failed_publish_leaves_no_index_entry),
		T(test_listing_lines),
		T(test_runs_pass_reads_in_pieces),
	};
	return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
