/*
 * runs.c - every run of a pause directory: the listing behind
 * "pytest-live-pause runs" (and a server's GET /api/runs), with each
 * run's state and its pauses counted by state, and the watch of every
 * run at once ("watch --all-runs") on the store-wide change feed.
 *
 * The listing reads catalog.tsv once (its "E" lines say which runs ended,
 * when and how), pending/ once and the names in runs/ once; it reads
 * run.json only for runs the catalog has not seen end (active, stale, or
 * ended without an "E" line) and pause files only for pauses in pending/
 * and for runs the catalog does not know. Pauses are counted by the same
 * rules by which lp_store_list(LP_LIST_ALL) lists them (scan.c), so "runs -a"
 * and "ls -a" agree.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct row {
	lp_run_summary s;
	char id[LP_ID_MAX + 1];
	int catalogued;    /* the catalog has its "R" line */
	lp_run_info *info; /* run.json, when it was read */
} row;

typedef struct rows {
	row *v;
	size_t n, cap;
	uint32_t *set; /* open addressing by id: 1 + index into v, 0 empty */
	size_t mask;
} rows;

/* FNV-1a of a run id. */
static size_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* The rows by id in a hash set (a lookup touches one slot and one row,
 * not the 14 rows of a binary search: each a cache miss at 10,000 runs),
 * built once the rows no longer move. */
static int index_rows(rows *r)
{
	size_t size = 16;
	while (size < 2 * r->n)
		size *= 2;
	if ((r->set = calloc(size, sizeof *r->set)) == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	r->mask = size - 1;
	for (size_t k = 0; k < r->n; k++) {
		size_t at = hash_id(r->v[k].id) & r->mask;
		while (r->set[at]) /* the names of a directory are distinct */
			at = (at + 1) & r->mask;
		r->set[at] = (uint32_t)(k + 1);
	}
	return LP_OK;
}

static row *find_row(const rows *r, const char *run_id)
{
	if (r->set == NULL)
		return NULL;
	for (size_t at = hash_id(run_id) & r->mask; r->set[at]; at = (at + 1) & r->mask)
		if (strcmp(r->v[r->set[at] - 1].id, run_id) == 0)
			return &r->v[r->set[at] - 1];
	return NULL;
}

/* Oldest first, then by id: sorted as small keys, not as pointers to the
 * larger rows (each comparison would be two cache misses). */
typedef struct order_key {
	double started_at;
	const char *id;
	row *r;
} order_key;

static int cmp_key_started(const void *a, const void *b)
{
	const order_key *x = a, *y = b;
	if (x->started_at != y->started_at)
		return x->started_at < y->started_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The valid run ids in runs/, one row each (not filled yet), in the
 * order of the directory. */
static int read_names(lp_store *store, rows *out)
{
	int fd = dup(store->runs_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lpi_fail_errno(LP_ERROR, e, "cannot list %s/runs", store->path);
	}
	rewinddir(d);
	int rc = LP_OK;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n > LP_ID_MAX || lpi_run_id_validate(e->d_name) != LP_OK)
			continue;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 256;
			row *nv = realloc(out->v, cap * sizeof *nv);
			if (nv == NULL) {
				rc = lpi_fail(LP_ERROR, "out of memory");
				break;
			}
			out->v = nv;
			out->cap = cap;
		}
		row *r = &out->v[out->n++];
		memset(r, 0, sizeof *r);
		memcpy(r->id, e->d_name, n + 1);
	}
	if (!rc)
		lpi_error_clear(); /* lpi_run_id_validate() of names that are not runs */
	closedir(d);
	return rc;
}

/* Count one pause of a run by its state. */
static void count_code(row *r, lp_state state)
{
	switch (state) {
	case LP_STATE_PENDING: r->s.pending++; break;
	case LP_STATE_STALE: r->s.stale++; break;
	case LP_STATE_RESUMED: r->s.resumed++; break;
	case LP_STATE_TIMED_OUT: r->s.timed_out++; break;
	case LP_STATE_ABORTED: r->s.aborted++; break;
	default: break;
	}
}

static void count(row *r, const char *state)
{
	for (int k = LP_STATE_PENDING; k < LP_STATE_UNKNOWN; k++)
		if (strcmp(state, lp_state_name((lp_state)k)) == 0) {
			count_code(r, (lp_state)k);
			return;
		}
}

/* Count a pause by the state its pause file says now (unreadable: not
 * counted, as lp_store_list() skips it). */
static int count_from_file(lp_store *store, row *r, const char *pause_id)
{
	lp_json *doc;
	double mtime = 0;
	if (lpi_pause_load(store, pause_id, &doc, &mtime) != LP_OK) {
		lpi_error_clear();
		return 0;
	}
	count(r, lpi_pause_state(doc, mtime)); /* may point into doc */
	lpj_free(doc);
	return 1;
}

/* A run the catalog does not know: every pause file in its pauses/. */
static int count_walked(lp_store *store, row *r)
{
	int run_fd, pfd;
	if (lpi_run_dirs_open(store, r->id, &run_fd) != LP_OK) {
		lpi_error_clear();
		return LP_OK;
	}
	int rc = lpi_dir_open(run_fd, "pauses", 0, "pauses", &pfd);
	close(run_fd);
	if (rc) {
		lpi_error_clear();
		return LP_OK;
	}
	DIR *d = fdopendir(pfd);
	if (d == NULL) {
		close(pfd);
		return LP_OK;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= 5 || n - 5 > LP_ID_MAX ||
		    strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		char id[LP_ID_MAX + 1], run_of[LP_ID_MAX + 1];
		memcpy(id, e->d_name, n - 5);
		id[n - 5] = '\0';
		if (lpi_pause_id_run(id, run_of) != LP_OK || strcmp(run_of, r->id) != 0) {
			lpi_error_clear();
			continue;
		}
		(void)count_from_file(store, r, id);
	}
	closedir(d);
	return LP_OK;
}

typedef struct idlist {
	char **v;
	size_t n, cap;
} idlist;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void idlist_free(idlist *l)
{
	for (size_t k = 0; k < l->n; k++)
		free(l->v[k]);
	free(l->v);
}

/* pending/ entries of catalogued runs: counted from their pause files,
 * and remembered, so that their "P" line (a pause can have both for a
 * moment) is not counted again. */
static int count_pending(lp_store *store, rows *rs, idlist *from_files)
{
	if (store->pending_fd < 0)
		return LP_OK;
	int fd = dup(store->pending_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lpi_fail_errno(LP_ERROR, e, "cannot list %s/pending", store->path);
	}
	rewinddir(d);
	int rc = LP_OK;
	struct dirent *e;
	while (!rc && (e = readdir(d)) != NULL) {
		char run_id[LP_ID_MAX + 1];
		if (e->d_name[0] == '.' || strlen(e->d_name) > LP_ID_MAX ||
		    lpi_pause_id_run(e->d_name, run_id) != LP_OK) {
			lpi_error_clear();
			continue;
		}
		row *r = find_row(rs, run_id);
		if (r == NULL || !r->catalogued)
			continue; /* walked (or gone) */
		if (!count_from_file(store, r, e->d_name))
			continue;
		if (from_files->n == from_files->cap) {
			size_t cap = from_files->cap ? from_files->cap * 2 : 16;
			char **nv = realloc(from_files->v, cap * sizeof *nv);
			if (nv == NULL) {
				rc = lpi_fail(LP_ERROR, "out of memory");
				break;
			}
			from_files->v = nv;
			from_files->cap = cap;
		}
		if ((from_files->v[from_files->n] = lpi_strdup(e->d_name)) == NULL)
			rc = LP_ERROR;
		else
			from_files->n++;
	}
	closedir(d);
	if (!rc && from_files->n > 1)
		qsort(from_files->v, from_files->n, sizeof *from_files->v, cmp_str);
	return rc;
}

/* The run's own facts: from its "E" line, else from run.json. 1 when the
 * run is to be listed, 0 when not (not wanted, or no run.json yet). */
static int fill_row(lp_store *store, const lpi_catalog *cat, unsigned flags, row *r)
{
	r->catalogued = lpi_catalog_has_run(cat, r->id);
	const lp_catalog_end *end = r->catalogued ? lpi_catalog_find_end(cat, r->id) : NULL;
	if (end) {
		if (!(flags & LP_RUNS_ALL))
			return 0;
		r->s.state = "ended";
		r->s.hostname = end->hostname;
		r->s.cwd = end->cwd;
		r->s.pid = end->pid;
		r->s.started_at = end->started_at;
		r->s.ended_at = end->ended_at;
		r->s.has_exitstatus = 1;
		r->s.exitstatus = end->exitstatus;
		return 1;
	}
	if (lp_run_info_load(&r->info, store, r->id) != LP_OK) {
		lpi_error_clear(); /* being created, or not a run of ours */
		return 0;
	}
	if (!(flags & LP_RUNS_ALL) && strcmp(r->info->state, "active") != 0)
		return 0;
	r->s.state = r->info->state;
	r->s.hostname = r->info->hostname;
	r->s.cwd = r->info->cwd;
	r->s.pid = r->info->pid;
	r->s.started_at = r->info->started_at;
	r->s.ended_at = strcmp(r->info->state, "ended") == 0 ? r->info->ended_at : 0;
	r->s.has_exitstatus = r->info->has_exitstatus;
	r->s.exitstatus = r->info->exitstatus;
	return 1;
}

/* The run as one JSON object, what lpj_dump of {run_id, state, pid,
 * hostname, cwd, started_at, ended_at, exitstatus, pauses: {pending,
 * stale, resumed, timed_out, aborted}} gives (keys sorted), written into
 * b (emptied first) without building the object: 10,000 runs. LP_OK, or
 * LP_ERROR as lpj_dump fails (memory; a real that is not finite). */
static int row_json(lpj_buf *b, const row *r)
{
	const lp_run_summary *s = &r->s;
	b->len = 0;
	lpj_buf_lit(b, "{\"cwd\":");
	lpj_buf_str(b, s->cwd);
	lpj_buf_lit(b, ",\"ended_at\":");
	if (s->ended_at > 0)
		lpj_buf_real(b, s->ended_at);
	else
		lpj_buf_lit(b, "null");
	lpj_buf_lit(b, ",\"exitstatus\":");
	if (s->has_exitstatus)
		lpj_buf_int(b, s->exitstatus);
	else
		lpj_buf_lit(b, "null");
	lpj_buf_lit(b, ",\"hostname\":");
	lpj_buf_str(b, s->hostname);
	lpj_buf_lit(b, ",\"pauses\":{\"aborted\":");
	lpj_buf_int(b, (long long)s->aborted);
	lpj_buf_lit(b, ",\"pending\":");
	lpj_buf_int(b, (long long)s->pending);
	lpj_buf_lit(b, ",\"resumed\":");
	lpj_buf_int(b, (long long)s->resumed);
	lpj_buf_lit(b, ",\"stale\":");
	lpj_buf_int(b, (long long)s->stale);
	lpj_buf_lit(b, ",\"timed_out\":");
	lpj_buf_int(b, (long long)s->timed_out);
	lpj_buf_lit(b, "},\"pid\":");
	lpj_buf_int(b, s->pid);
	lpj_buf_lit(b, ",\"run_id\":");
	lpj_buf_str(b, s->run_id);
	lpj_buf_lit(b, ",\"started_at\":");
	lpj_buf_real(b, s->started_at);
	lpj_buf_lit(b, ",\"state\":");
	lpj_buf_str(b, s->state);
	lpj_buf_lit(b, "}");
	return b->failed ? lpi_fail(LP_ERROR, "cannot serialise run %s (out of memory)", r->id)
			 : LP_OK;
}

int lp_store_runs(lp_store *store, unsigned flags, lp_runs_cb cb, void *ud)
{
	if (store == NULL || cb == NULL)
		return lpi_fail(LP_EINVAL, "lp_store_runs: store and cb are required");
	rows rs = {0};
	idlist from_files = {0};
	lpi_catalog *cat = NULL;
	int rc = read_names(store, &rs);
	if (!rc && lpi_catalog_load_counts(store, &cat) != LP_OK) {
		cat = NULL; /* none, an older one, unreadable: every run is walked */
		lpi_error_clear();
	}
	/* keep only the runs to list; a row's
	 * strings point into its run.json (info) or the catalog, never into
	 * the row itself, so rows may move */
	size_t keep = 0;
	for (size_t k = 0; !rc && k < rs.n; k++) {
		row r = rs.v[k];
		if (fill_row(store, cat, flags, &r))
			rs.v[keep++] = r;
		else
			lp_run_info_free(r.info);
	}
	if (!rc) {
		rs.n = keep;
		rc = index_rows(&rs);
	}
	for (size_t k = 0; !rc && k < rs.n; k++)
		if (!rs.v[k].catalogued)
			rc = count_walked(store, &rs.v[k]);
	if (!rc)
		rc = count_pending(store, &rs, &from_files);
	row *last = NULL; /* a run's pauses mostly end one after the other */
	for (size_t k = 0; !rc && cat && k < cat->npauses; k++) {
		const lpi_catalog_pause *p = &cat->pauses[k];
		row *r = last && strcmp(last->id, p->run_id) == 0 ? last : find_row(&rs, p->run_id);
		last = r;
		if (r == NULL || !r->catalogued)
			continue;
		const char *id = p->pause_id;
		if (from_files.n &&
		    bsearch(&id, from_files.v, from_files.n, sizeof *from_files.v, cmp_str))
			continue;
		count_code(r, p->state);
	}
	/* oldest first: small keys are sorted, not the rows */
	order_key *order = NULL;
	lpj_buf json = {0};
	if (!rc && rs.n > 0 && (order = malloc(rs.n * sizeof *order)) == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	for (size_t k = 0; !rc && k < rs.n; k++)
		order[k] = (order_key){rs.v[k].s.started_at, rs.v[k].id, &rs.v[k]};
	if (!rc && rs.n > 1)
		qsort(order, rs.n, sizeof *order, cmp_key_started);
	for (size_t k = 0; !rc && k < rs.n; k++) {
		row *r = order[k].r;
		r->s.run_id = r->id;
		if (flags & LP_RUNS_JSON) {
			if ((rc = row_json(&json, r)) != LP_OK)
				break;
			r->s.json = json.s; /* until the next row */
		}
		rc = cb(&r->s, ud);
	}
	free(order);
	free(json.s);
	for (size_t k = 0; k < rs.n; k++)
		lp_run_info_free(rs.v[k].info);
	free(rs.v);
	free(rs.set);
	idlist_free(&from_files);
	lpi_catalog_free(cat);
	return rc;
}

/* ------------------------------------------------ watching every run */

typedef struct first_pending {
	char id[LP_ID_MAX + 1];
} first_pending;

static int take_first(const lp_pause_info *info, void *ud)
{
	first_pending *f = ud;
	snprintf(f->id, sizeof f->id, "%s", info->pause_id);
	return 1; /* oldest first: the first is the one */
}

/* Load a pause and keep it only while it is pending: LP_OK with *out
 * set, or with *out NULL when it is not (any more). */
static int load_if_pending(lp_store *store, const char *pause_id, lp_pause_info **out)
{
	*out = NULL;
	lp_pause_info *info;
	int rc = lp_pause_info_load(&info, store, pause_id);
	if (rc) {
		lpi_error_clear(); /* removed meanwhile */
		return LP_OK;
	}
	if (strcmp(info->state, "pending") == 0)
		*out = info;
	else
		lp_pause_info_free(info);
	return LP_OK;
}

int lp_store_watch(lp_pause_info **out, lp_store *store, double timeout, const lp_wait_hooks *hooks)
{
	if (out == NULL || store == NULL)
		return lpi_fail(LP_EINVAL, "lp_store_watch: store and out are required");
	*out = NULL;
	int64_t deadline = timeout > 0 ? lpi_mono_ms() + (int64_t)(timeout * 1000.0) : -1;
	/* the feed first: a pause that begins after the look below is then
	 * one of its events */
	lp_feed *feed;
	int rc = lp_feed_open(&feed, store);
	if (rc)
		return rc;
	unsigned long long after = lp_feed_head(feed);
	first_pending first = {{0}};
	rc = lp_store_list(store, 0, take_first, &first);
	if (rc == 1)
		rc = LP_OK;
	if (!rc && first.id[0])
		rc = load_if_pending(store, first.id, out);
	while (!rc && *out == NULL) {
		double left = -1;
		if (deadline >= 0) {
			int64_t ms = deadline - lpi_mono_ms();
			if (ms <= 0) {
				rc = LP_EWAITTIMEOUT;
				break;
			}
			left = (double)ms / 1000.0;
		}
		lp_feed_event ev;
		rc = lp_feed_next(&ev, feed, after, left, hooks);
		if (rc)
			break;
		after = ev.seq;
		if (ev.kind == LP_FEED_PAUSE_CREATED)
			rc = load_if_pending(store, ev.pause_id, out);
		lp_feed_event_clear(&ev);
	}
	lp_feed_free(feed);
	if (rc == LP_EWAITTIMEOUT)
		return lpi_fail(LP_EWAITTIMEOUT, "no pause in any run of %s within %gs",
				store->path, timeout);
	return rc;
}
