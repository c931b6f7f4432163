/*
 * scan.c - readers: loading one pause (by id, or by the path of its pause
 * file), deriving its state (pending, stale, resumed, timed_out,
 * aborted), listing pauses, and watching a run for its next pause.
 *
 * Lookups never walk the runs: a pause id of ours names its run, and
 * pending pauses are indexed in <dir>/pending/. Only "ls -a" walks every
 * run. Pauses of any other shape of id (0.1.1's bare UUIDs, in runs that
 * have neither pending/ entries nor catalog lines) are found by walking
 * only the runs the catalog does not know (lpi_pause_locate, collect).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read and parse pauses/<pause_id>.json, given the run's pauses/ dir;
 * st_out (may be NULL): the file read. */
static int load_in_pauses(lp_store *store, int pfd, const char *run_id, const char *pause_id,
			  int quiet, lp_json **doc, double *mtime, struct stat *st_out)
{
	char label[PATH_MAX], name[LP_ID_MAX + 8];
	snprintf(name, sizeof name, "%s.json", pause_id);
	if (quiet) /* a walk skips bad files: spare it the formatting */
		snprintf(label, sizeof label, "pause file");
	else
		snprintf(label, sizeof label, "pause file %s/runs/%s/pauses/%s", store->path,
			 run_id, name);
	char *text;
	size_t len;
	struct stat st;
	int rc = lpi_file_read_st(pfd, name, LP_CAP_PAUSE, label, &text, &len, &st);
	if (rc == LP_OK && mtime) /* the heartbeat of the file read, not of a later one */
		*mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	if (rc == LP_OK && st_out)
		*st_out = st;
	if (rc == LP_ENOTFOUND)
		return lpi_fail(
			LP_ENOTFOUND,
			"no pause '%s' in %s: list pending pauses with 'pytest-live-pause ls' (and pass the --pause-dir pytest used)",
			pause_id, store->path);
	if (rc)
		return rc;
	rc = lpj_parse_object_011(text, len, label, doc);
	free(text);
	if (rc)
		return rc;
	const char *pid = lpj_get_str(*doc, "pause_id");
	if (pid == NULL || strcmp(pid, pause_id) != 0) {
		lpj_free(*doc);
		*doc = NULL;
		return lpi_fail(LP_EBADCMD, "%s does not describe pause %s", label, pause_id);
	}
	return LP_OK;
}

static int load_in_run(lp_store *store, int run_fd, const char *run_id, const char *pause_id,
		       lp_json **doc, double *mtime)
{
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s/pauses", store->path, run_id);
	int pfd, rc = lpi_dir_open(run_fd, "pauses", 0, label, &pfd);
	if (rc)
		return rc;
	rc = load_in_pauses(store, pfd, run_id, pause_id, 0, doc, mtime, NULL);
	close(pfd);
	return rc;
}

/* ------------------------------------------------ ids of any shape */

/* The run of the last pause of another shape found by this thread (a
 * resume polls its pause file; a path names its run): checked again with
 * one fstatat before it is used, so a stale entry is never wrong. */
static __thread struct {
	const lp_store *store;
	char id[LP_ID_MAX + 1], run[LP_ID_MAX + 1];
} last_found;

static void remember(const lp_store *store, const char *id, const char *run)
{
	last_found.store = store;
	snprintf(last_found.id, sizeof last_found.id, "%s", id);
	snprintf(last_found.run, sizeof last_found.run, "%s", run);
}

/* Whether runs/<run>/pauses/<id>.json is a regular file (no symlink). */
static int has_pause_file(const lp_store *store, const char *run, const char *id)
{
	char rel[3 * LP_ID_MAX + 32];
	struct stat st;
	snprintf(rel, sizeof rel, "%s/pauses/%s.json", run, id);
	return fstatat(store->runs_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/*
 * Contract: find the run of a pause whose id is not of our shape, by
 * looking for runs/<run>/pauses/<id>.json in every run the catalog does
 * not know (every run when there is no catalog): our runs are catalogued
 * and their pause ids name their run, so a foreign pause can only be in
 * an uncatalogued run. Costs one readdir of runs/, the catalog's "R"
 * lines and one fstatat per uncatalogued run. LP_ENOTFOUND when no run
 * has it, LP_EINVAL when two runs do (the path of its pause file then
 * says which).
 */
static int search_runs(lp_store *store, const char *id, char run_id[LP_ID_MAX + 1])
{
	lpi_catalog *cat = NULL;
	if (lpi_catalog_load_runs(store, &cat) != LP_OK)
		cat = NULL; /* no usable catalog: every run may be foreign */
	lpi_error_clear();
	int fd = dup(store->runs_fd), found = 0, rc = LP_OK;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		lpi_catalog_free(cat);
		return lpi_fail_errno(LP_ERROR, errno, "cannot list %s/runs", store->path);
	}
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
		    lpi_run_id_validate(e->d_name) != LP_OK ||
		    lpi_catalog_has_run(cat, e->d_name) || !has_pause_file(store, e->d_name, id))
			continue;
		if (found++) {
			rc = lpi_fail(
				LP_EINVAL,
				"pause id '%s' is in two runs of %s (%s and %s): give the path of its pause file instead",
				id, store->path, run_id, e->d_name);
			break;
		}
		memcpy(run_id, e->d_name, strlen(e->d_name) + 1); /* validated: <= LP_ID_MAX */
	}
	closedir(d);
	lpi_catalog_free(cat);
	if (rc)
		return rc;
	lpi_error_clear(); /* of the names that are not run ids */
	if (!found)
		return lpi_fail(
			LP_ENOTFOUND,
			"no pause '%s' in %s: list pending pauses with 'pytest-live-pause ls' (and pass the --pause-dir pytest used)",
			id, store->path);
	remember(store, id, run_id);
	return LP_OK;
}

int lpi_pause_locate(lp_store *store, const char *pause_id, char run_id[LP_ID_MAX + 1])
{
	int rc = lpi_pause_id_run(pause_id, run_id);
	if (rc != LP_ENOTFOUND)
		return rc; /* ours (the id names its run), or not an id at all */
	lpi_error_clear();
	if (last_found.store == store && strcmp(last_found.id, pause_id) == 0 &&
	    has_pause_file(store, last_found.run, pause_id)) {
		snprintf(run_id, LP_ID_MAX + 1, "%s", last_found.run);
		return LP_OK;
	}
	return search_runs(store, pause_id, run_id);
}

int lpi_pause_load_at(lp_store *store, int pauses_fd, const char *run_id, const char *pause_id,
		      lp_json **doc, double *mtime, struct stat *st)
{
	*doc = NULL;
	return load_in_pauses(store, pauses_fd, run_id, pause_id, 0, doc, mtime, st);
}

int lpi_run_dirs_open_for(lp_store *store, const char *run_id, const char *pause_id, int *run_fd)
{
	int rc = lpi_run_dirs_open(store, run_id, run_fd);
	if (rc == LP_ENOTFOUND)
		return lpi_fail(
			LP_ENOTFOUND,
			"no pause '%s' in %s (its run %s does not exist there): list pauses with 'pytest-live-pause ls -a'",
			pause_id, store->path, run_id);
	return rc;
}

int lpi_pause_load(lp_store *store, const char *pause_id, lp_json **doc, double *mtime)
{
	*doc = NULL;
	char run_id[LP_ID_MAX + 1];
	int rc = lpi_pause_locate(store, pause_id, run_id);
	if (rc)
		return rc;
	int run_fd;
	if ((rc = lpi_run_dirs_open_for(store, run_id, pause_id, &run_fd)))
		return rc;
	rc = load_in_run(store, run_fd, run_id, pause_id, doc, mtime);
	close(run_fd);
	return rc;
}

const char *lpi_pause_state(const lp_json *doc, double mtime)
{
	const char *status = lpj_get_str(doc, "status");
	if (status == NULL)
		return "unknown";
	if (strcmp(status, "pending") != 0)
		return status;
	lpi_identity rec;
	lpj_get_identity(doc, &rec);
	double interval = lpj_get_real(doc, "heartbeat_interval", 0);
	return lpi_identity_judge(&rec, mtime, interval) == LP_LIVE_DEAD ? "stale" : "pending";
}

/* Fill the typed fields from the names. */
static void set_codes(lp_pause_info *i)
{
	if (lp_kind_parse(i->kind, &i->kind_code) != LP_OK)
		i->kind_code = LP_KIND_FAILURE; /* as 0.1.1 read a pause of no kind */
	i->state_code = lpi_state_parse(i->state);
	i->status_code = lpi_state_parse(i->status);
	if (i->status_code == LP_STATE_STALE)
		i->status_code = LP_STATE_UNKNOWN; /* never recorded */
}

static char *dup_field(const lp_json *doc, const char *key)
{
	const char *v = lpj_get_str(doc, key);
	return v ? lpi_strdup(v) : NULL;
}

/* The pause's "choices" (its string members; anything else in a file of
 * another writer is skipped). 0 when memory ran out. */
static int load_choices(lp_pause_info *i, const lp_json *a)
{
	size_t n = lpj_size(a);
	if (a == NULL || lpj_typeof(a) != LPJ_ARRAY || n == 0)
		return 1;
	i->choices = calloc(n + 1, sizeof *i->choices); /* NULL-terminated */
	if (i->choices == NULL)
		return 0;
	for (size_t k = 0; k < n; k++) {
		const char *ch = lpj_string_value(lpj_array_get(a, k));
		if (ch == NULL)
			continue;
		if ((i->choices[i->nchoices] = lpi_strdup(ch)) == NULL)
			return 0;
		i->nchoices++;
	}
	return 1;
}

int lpi_info_from_json(lp_store *store, const char *run_id, const char *pause_id, lp_json *doc,
		       double mtime, int with_json, lp_pause_info **out)
{
	*out = NULL;
	lp_pause_info *i = calloc(1, sizeof *i);
	if (i == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/runs/%s/pauses/%s.json", store->path, run_id, pause_id);
	const char *state = lpi_pause_state(doc, mtime);
	const char *kind = lpj_get_str(doc, "kind");
	i->pause_id = lpi_strdup(pause_id);
	i->run_id = lpi_strdup(run_id);
	i->kind = lpi_strdup(kind ? kind : "failure");
	i->status = dup_field(doc, "status");
	i->state = lpi_strdup(state);
	i->nodeid = lpi_strdup(lpj_get_str(doc, "nodeid") ? lpj_get_str(doc, "nodeid") : "");
	i->task = dup_field(doc, "task");
	i->original_failure = dup_field(doc, "original_failure");
	i->hostname = lpi_strdup(lpj_get_str(doc, "hostname") ? lpj_get_str(doc, "hostname") : "");
	i->cwd = lpi_strdup(lpj_get_str(doc, "cwd") ? lpj_get_str(doc, "cwd") : "");
	i->worker_id = dup_field(doc, "worker_id");
	i->path = lpi_strdup(path);
	i->pause_dir = lpi_strdup(store->path);
	i->resume_command = dup_field(doc, "resume_command");
	i->resolved_by = dup_field(doc, "resolved_by");
	i->failure_reason = dup_field(doc, "failure_reason");
	i->reason = dup_field(doc, "reason");
	lp_json *r = lpj_get(doc, "result");
	i->result = r == NULL || lpj_typeof(r) != LPJ_BOOL ? LP_RESULT_NONE
		    : lpj_is_true(r)                       ? LP_RESULT_TRUE
							   : LP_RESULT_FALSE;
	double fin = lpj_get_real(doc, "finished_at", 0);
	i->finished_at = fin > 0 ? fin : lpj_get_real(doc, "resolved_at", 0);
	i->created_at = lpj_get_real(doc, "created_at", 0);
	/* null: no timeout (JSON has no infinity) */
	i->timeout =
		lpj_is_null(doc, "timeout") ? LP_TIMEOUT_FOREVER : lpj_get_real(doc, "timeout", 0);
	i->pid = (long)lpj_get_int(doc, "pid", 0);
	i->protocol = (int)lpj_get_int(doc, "protocol", 0);
	i->question = dup_field(doc, "question");
	i->location = dup_field(doc, "location");
	i->value = dup_field(doc, "value");
	int choices_ok = load_choices(i, lpj_get(doc, "choices"));
	const lp_json *att = lpj_get(doc, "attachments");
	if (att && lpj_size(att) > 0) {
		char run_path[PATH_MAX];
		snprintf(run_path, sizeof run_path, "%s/runs/%s", store->path, run_id);
		if (lpi_attachments_parse(att, "pause file", 1, run_path, &i->attachments,
					  &i->nattachments))
			lpi_error_clear(); /* listed badly: shown as none */
	}
	if (with_json) /* doc is the caller's to change: the fields go in place */
		i->json = lpi_listing_json(doc, state, path);
	if (!i->pause_id || !i->run_id || !i->kind || !i->status || !i->state || !i->nodeid ||
	    !i->hostname || !i->cwd || !i->path || !i->pause_dir || (with_json && !i->json) ||
	    !choices_ok) {
		lp_pause_info_free(i);
		return lpi_fail(LP_EBADCMD, "pause file of %s is incomplete or memory ran out",
				pause_id);
	}
	set_codes(i);
	*out = i;
	return LP_OK;
}

void lp_pause_info_free(lp_pause_info *i)
{
	if (i == NULL)
		return;
	char *fields[] = {i->pause_id,       i->run_id,
			  i->kind,           i->status,
			  i->state,          i->nodeid,
			  i->task,           i->original_failure,
			  i->hostname,       i->cwd,
			  i->worker_id,      i->path,
			  i->pause_dir,      i->resume_command,
			  i->json,           i->resolved_by,
			  i->failure_reason, i->reason,
			  i->question,       i->location,
			  i->value};
	for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
		free(fields[k]);
	for (size_t k = 0; k < i->nchoices; k++)
		free(i->choices[k]);
	free(i->choices);
	lpi_attachments_free(i->attachments, i->nattachments);
	free(i);
}

/* A reference is a pause id, or the path .../runs/<run>/pauses/<id>.json,
 * whose pause directory may differ from `store`: then *other is opened. */
int lpi_ref_resolve(lp_store *store, const char *ref, lp_store **other, char id[LP_ID_MAX + 1])
{
	*other = NULL;
	if (ref == NULL || ref[0] == '\0')
		return lpi_fail(LP_EINVAL, "pause id is empty");
	if (strchr(ref, '/') == NULL && store == NULL)
		return lpi_fail(LP_EINVAL, "a pause id needs a pause directory");
	if (strchr(ref, '/') == NULL) {
		int rc = lp_id_validate(ref, "pause id");
		if (rc)
			return rc;
		snprintf(id, LP_ID_MAX + 1, "%s", ref);
		return LP_OK;
	}
	char buf[PATH_MAX];
	if (strlen(ref) >= sizeof buf)
		return lpi_fail(LP_EINVAL, "pause file path is too long");
	snprintf(buf, sizeof buf, "%s", ref);
	/* split: <root>/runs/<run>/pauses/<id>.json */
	char *parts[4];
	for (int k = 0; k < 4; k++) {
		char *slash = strrchr(buf, '/');
		if (slash == NULL)
			return lpi_fail(
				LP_EINVAL,
				"'%s' is not a pause file path of the form <dir>/runs/<run_id>/pauses/<pause_id>.json",
				ref);
		*slash = '\0';
		parts[k] = slash + 1;
	}
	size_t n = strlen(parts[0]);
	if (n < 6 || strcmp(parts[0] + n - 5, ".json") != 0 || strcmp(parts[1], "pauses") != 0 ||
	    strcmp(parts[3], "runs") != 0)
		return lpi_fail(
			LP_EINVAL,
			"'%s' is not a pause file path of the form <dir>/runs/<run_id>/pauses/<pause_id>.json",
			ref);
	parts[0][n - 5] = '\0';
	int rc = lp_id_validate(parts[0], "pause id");
	if (rc || (rc = lpi_run_id_validate(parts[2])))
		return rc;
	/* an id of ours names its run, which must be the directory's; an id
	 * of any other shape (0.1.1's) is in the run its path names */
	char run_of_id[LP_ID_MAX + 1];
	int shape = lpi_pause_id_run(parts[0], run_of_id);
	lpi_error_clear();
	if (shape == LP_OK && strcmp(run_of_id, parts[2]) != 0)
		return lpi_fail(LP_EINVAL, "pause file '%s' is not in the directory of its run",
				ref);
	snprintf(id, LP_ID_MAX + 1, "%s", parts[0]);
	const char *root = buf[0] ? buf : "/";
	struct stat a, b;
	if (!(store && stat(root, &a) == 0 && stat(store->path, &b) == 0 && a.st_dev == b.st_dev &&
	      a.st_ino == b.st_ino) &&
	    (rc = lp_store_open(other, root, 0)))
		return rc;
	if (shape != LP_OK)
		remember(*other ? *other : store, id, parts[2]);
	return LP_OK;
}

int lp_pause_info_load(lp_pause_info **out, lp_store *store, const char *ref)
{
	*out = NULL;
	lp_store *other;
	char id[LP_ID_MAX + 1], run_id[LP_ID_MAX + 1];
	int rc = lpi_ref_resolve(store, ref, &other, id);
	if (rc)
		return rc;
	lp_store *s = other ? other : store;
	lp_json *doc;
	double mtime = 0;
	rc = lpi_pause_load(s, id, &doc, &mtime);
	if (!rc) {
		if (!(rc = lpi_pause_locate(s, id, run_id))) /* found again at once */
			rc = lpi_info_from_json(s, run_id, id, doc, mtime, 1, out);
		lpj_free(doc);
	}
	lp_store_free(other);
	return rc;
}

/* ------------------------------------------------------------ listing */

typedef struct vec {
	lp_pause_info **v;
	size_t n, cap;
	/* the catalog's ended pauses are listed without copies: infos in
	 * `block` whose strings point into `cat` and `paths` (only their
	 * json is their own); freed with the vector */
	lpi_catalog *cat;
	lp_pause_info *block;
	size_t nblock;
	char *paths;
} vec;

/* Whether i is one of the vector's borrowing infos. */
static int borrowed(const vec *a, const lp_pause_info *i)
{
	uintptr_t p = (uintptr_t)i, b = (uintptr_t)a->block;
	return a->block && p >= b && p < b + a->nblock * sizeof *a->block;
}

static int vec_push(vec *a, lp_pause_info *i)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		lp_pause_info **nv = realloc(a->v, cap * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = i;
	return LP_OK;
}

static void vec_free(vec *a)
{
	for (size_t k = 0; k < a->n; k++) {
		if (borrowed(a, a->v[k]))
			free(a->v[k]->json);
		else
			lp_pause_info_free(a->v[k]);
	}
	free(a->v);
	free(a->block);
	free(a->paths);
	lpi_catalog_free(a->cat);
}

static int by_created(const void *x, const void *y)
{
	const lp_pause_info *a = *(lp_pause_info *const *)x, *b = *(lp_pause_info *const *)y;
	return (a->created_at > b->created_at) - (a->created_at < b->created_at);
}

/*
 * Contract: call fn(name, ud) for each entry of the directory dirfd (kept
 * open; read from its start, through a duplicate descriptor) whose name
 * does not start with '.' (temporary files, "." and ".."); stops at the
 * first non-zero fn() and returns it. LP_ERROR (message set) when the
 * directory cannot be read.
 */
int lpi_dir_each(int dirfd, int (*fn)(const char *name, void *ud), void *ud)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot list a directory");
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return lpi_fail_errno(LP_ERROR, errno, "cannot list a directory");
	}
	rewinddir(d);
	int rc = LP_OK;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((rc = fn(e->d_name, ud)) != 0)
			break;
	}
	closedir(d);
	return rc;
}

typedef struct list_ctx {
	lp_store *store;
	vec found;
	const char *run_prefix; /* only pauses of this run (watch) */
	int all;
	int with_json;
	int pauses_fd; /* while walking one run */
	const char *run_id;
} list_ctx;

static int add_loaded(list_ctx *c, const char *run_id, const char *id, lp_json *doc, double mtime)
{
	lp_pause_info *info;
	int rc = lpi_info_from_json(c->store, run_id, id, doc, mtime, c->with_json, &info);
	lpj_free(doc);
	if (rc)
		return LP_OK; /* unreadable entries are skipped, not fatal */
	if (!c->all && strcmp(info->state, "pending") != 0) {
		lp_pause_info_free(info);
		return LP_OK;
	}
	return vec_push(&c->found, info);
}

static int on_pending(const char *name, void *ud)
{
	list_ctx *c = ud;
	char run_id[LP_ID_MAX + 1];
	if (lpi_pause_id_run(name, run_id) != LP_OK)
		return LP_OK;
	if (c->run_prefix && strcmp(run_id, c->run_prefix) != 0)
		return LP_OK;
	lp_json *doc;
	double mtime = 0;
	int rc = lpi_pause_load(c->store, name, &doc, &mtime);
	if (rc == LP_EUNSAFE) /* another user's run or pause file: never shown */
		lpi_store_warn(c->store, lp_error_message());
	if (rc != LP_OK)
		return LP_OK; /* its run was removed: a dangling index entry */
	return add_loaded(c, run_id, name, doc, mtime);
}

static int on_pause_file(const char *name, void *ud)
{
	list_ctx *c = ud;
	size_t n = strlen(name);
	if (n <= 5 || strcmp(name + n - 5, ".json") != 0 || n - 5 > LP_ID_MAX)
		return LP_OK;
	char id[LP_ID_MAX + 1];
	memcpy(id, name, n - 5);
	id[n - 5] = '\0';
	if (lp_id_validate(id, "pause id") != LP_OK)
		return LP_OK;
	lp_json *doc;
	double mtime = 0;
	int rc = load_in_pauses(c->store, c->pauses_fd, c->run_id, id, 1, &doc, &mtime, NULL);
	if (rc == LP_EUNSAFE)
		lpi_store_warn(c->store, lp_error_message());
	if (rc != LP_OK)
		return LP_OK;
	return add_loaded(c, c->run_id, id, doc, mtime);
}

static int on_run(const char *name, void *ud)
{
	list_ctx *c = ud;
	if (lpi_run_id_validate(name) != LP_OK)
		return LP_OK;
	if (c->run_prefix && strcmp(name, c->run_prefix) != 0)
		return LP_OK;
	int run_fd, pfd;
	int rc = lpi_run_dirs_open(c->store, name, &run_fd);
	if (rc == LP_EUNSAFE)
		lpi_store_warn(c->store, lp_error_message());
	if (rc != LP_OK)
		return LP_OK;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s/pauses", c->store->path, name);
	rc = lpi_dir_open(run_fd, "pauses", 0, label, &pfd);
	if (rc == LP_OK) {
		c->pauses_fd = pfd;
		c->run_id = name;
		rc = lpi_dir_each(pfd, on_pause_file, c);
		close(pfd);
	} else {
		if (rc == LP_EUNSAFE)
			lpi_store_warn(c->store, lp_error_message());
		rc = LP_OK;
	}
	close(run_fd);
	return rc;
}

/* ---------------------------------------- every pause, by the catalog */

/* An ended pause as the catalog records it (no JSON, no failure text),
 * in the vector's next borrowing info: its strings are the catalog's,
 * its path is written at *paths (advanced past it). */
static lp_pause_info *info_from_catalog(vec *found, const lp_store *store,
					const lpi_catalog_pause *r, char **paths)
{
	lp_pause_info *i = &found->block[found->nblock++];
	memset(i, 0, sizeof *i);
	i->path = *paths;
	*paths +=
		sprintf(i->path, "%s/runs/%s/pauses/%s.json", store->path, r->run_id, r->pause_id) +
		1; /* sized by collect_by_catalog */
	i->pause_id = (char *)r->pause_id;
	i->run_id = (char *)r->run_id;
	i->kind = (char *)r->kind;
	i->status = (char *)r->status;
	i->state = (char *)r->status; /* final: no liveness to judge */
	i->nodeid = (char *)r->nodeid;
	i->task = (char *)r->task;
	i->hostname = (char *)r->hostname;
	i->cwd = (char *)r->cwd;
	i->worker_id = (char *)r->worker_id;
	i->pause_dir = (char *)store->path;
	i->created_at = r->created_at;
	i->timeout = r->timeout;
	i->pid = r->pid;
	i->result = LP_RESULT_NONE; /* the verdict is in the pause file only */
	i->finished_at = r->finished_at;
	set_codes(i);
	return i;
}

typedef struct cat_ctx {
	list_ctx *list;
	const lpi_catalog *cat;
} cat_ctx;

/* "<dir>/runs/" as lpj_dump writes it in a string (without quotes): the
 * start of every "path" of the listing; NULL when memory ran out. */
static char *json_runs_prefix(const lp_store *store)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/runs/", store->path);
	lp_json *o = lpj_object();
	char *t = o && lpj_set_str(o, "path", path) == LP_OK ? lpj_dump(o) : NULL;
	lpj_free(o);
	static const char head[] = "{\"path\":\"", tail[] = "\"}";
	size_t n = t ? strlen(t) : 0, h = strlen(head), e = strlen(tail);
	if (n < h + e || memcmp(t, head, h) != 0 || memcmp(t + n - e, tail, e) != 0) {
		free(t);
		return NULL;
	}
	memmove(t, t + h, n - h - e);
	t[n - h - e] = '\0';
	return t;
}

/* The listing object of an ended pause from its "J" line (json: the len
 * bytes of its pause file): what lpi_listing_json makes of that file,
 * with the tail written here (prefix: the directory as lpj_dump escapes
 * it; ids and final statuses need no escaping). NULL: out of memory. */
static char *listing_from_line(const char *json, size_t len, const char *prefix, const char *run_id,
			       const char *pause_id, const char *status)
{
	size_t p = strlen(prefix), r = strlen(run_id), i = strlen(pause_id), st = strlen(status);
	char *out = malloc(len + p + r + i + st + 64);
	if (out == NULL)
		return NULL;
	memcpy(out, json, len - 1); /* without its closing brace */
	size_t o = len - 1;
	o += (size_t)sprintf(out + o, "%s\"path\":\"%s%s/pauses/%s.json\",\"state\":\"%s\"}",
			     len > 2 ? "," : "", prefix, run_id, pause_id, status);
	return out;
}

/* runs/ entry: a run the catalog does not know is walked (older layout,
 * or its "R" line could not be written). */
static int on_run_uncatalogued(const char *name, void *ud)
{
	cat_ctx *cc = ud;
	return lpi_catalog_has_run(cc->cat, name) ? LP_OK : on_run(name, cc->list);
}

/* pending/ entry of a catalogued run: pending, stale, or ended but not
 * yet unindexed (its line may be in the catalog too: see dedupe). */
static int on_pending_catalogued(const char *name, void *ud)
{
	cat_ctx *cc = ud;
	char run_id[LP_ID_MAX + 1];
	if (lpi_pause_id_run(name, run_id) != LP_OK || !lpi_catalog_has_run(cc->cat, run_id))
		return LP_OK;
	return on_pending(name, cc->list);
}

static int by_id(const void *x, const void *y)
{
	const lp_pause_info *a = *(lp_pause_info *const *)x, *b = *(lp_pause_info *const *)y;
	return strcmp(a->pause_id, b->pause_id);
}

static int by_created_then_id(const void *x, const void *y)
{
	int c = by_created(x, y);
	return c ? c : by_id(x, y);
}

/* An ended pause of the catalog, with its listing object: from its "J"
 * line when it has a good one, else from its pause file (skipped when
 * that cannot be read, as a walk skips it). */
static int add_catalogued_json(list_ctx *c, const lpi_catalog_pause *r, const lpi_listing *l,
			       const char *prefix, char **paths)
{
	size_t len;
	const char *json = prefix ? lpi_listing_find(l, r->pause_id, &len) : NULL;
	if (json == NULL) {
		lp_json *doc;
		double mtime = 0;
		int rc = lpi_pause_load(c->store, r->pause_id, &doc, &mtime);
		if (rc == LP_EUNSAFE)
			lpi_store_warn(c->store, lp_error_message());
		if (rc != LP_OK)
			return LP_OK;
		return add_loaded(c, r->run_id, r->pause_id, doc, mtime);
	}
	char *text = listing_from_line(json, len, prefix, r->run_id, r->pause_id, r->status);
	if (text == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	lp_pause_info *info = info_from_catalog(&c->found, c->store, r, paths);
	info->json = text;
	int rc = vec_push(&c->found, info);
	if (rc) {
		free(text);
		info->json = NULL;
	}
	return rc;
}

/* Every pause without reading every pause file: the catalog's ended
 * pauses, pending/ for the catalogued runs, and a walk of the others;
 * with JSON, the listing objects of ended pauses from catalog-json.tsv. */
static int collect_by_catalog(list_ctx *c, const lpi_catalog *cat)
{
	cat_ctx cc = {c, cat};
	lpi_listing *listing = NULL;
	char *prefix = NULL;
	if (c->with_json) {
		int lrc = lpi_listing_load(c->store, &listing);
		if (lrc == LP_OK)
			prefix = json_runs_prefix(c->store);
		else if (lrc == LP_EUNSAFE) /* another user's: never used */
			lpi_store_warn(c->store, lp_error_message());
		lpi_error_clear(); /* none, or not usable: the pause files are read */
	}
	int rc = lpi_dir_each(c->store->runs_fd, on_run_uncatalogued, &cc);
	if (!rc && c->store->pending_fd >= 0)
		rc = lpi_dir_each(c->store->pending_fd, on_pending_catalogued, &cc);
	/* room for the catalog's pauses, their paths side by side */
	size_t bytes = 1, plen = strlen(c->store->path);
	for (size_t k = 0; k < cat->npauses; k++)
		bytes +=
			plen + strlen(cat->pauses[k].run_id) + strlen(cat->pauses[k].pause_id) + 24;
	char *paths = c->found.paths = malloc(bytes);
	c->found.block = calloc(cat->npauses ? cat->npauses : 1, sizeof *c->found.block);
	if (paths == NULL || c->found.block == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	/* what was read from pause files wins over the catalog's line (a
	 * pause can be in both between its line and its unindexing) */
	size_t from_files = c->found.n;
	if (from_files > 1)
		qsort(c->found.v, from_files, sizeof *c->found.v, by_id);
	for (size_t k = 0; !rc && k < cat->npauses; k++) {
		const lpi_catalog_pause *r = &cat->pauses[k];
		if (!lpi_catalog_has_run(cat, r->run_id))
			continue; /* its run was walked */
		lp_pause_info key = {.pause_id = (char *)r->pause_id}, *kp = &key;
		if (from_files && bsearch(&kp, c->found.v, from_files, sizeof kp, by_id))
			continue;
		if (c->with_json)
			rc = add_catalogued_json(c, r, listing, prefix, &paths);
		else
			rc = vec_push(&c->found, info_from_catalog(&c->found, c->store, r, &paths));
	}
	free(prefix);
	lpi_listing_free(listing);
	return rc;
}

/* Drop the second of two entries with one pause id (a pending pause of
 * an uncatalogued run of ours is both in pending/ and in its run). */
static void dedupe(vec *found)
{
	if (found->n < 2)
		return;
	qsort(found->v, found->n, sizeof *found->v, by_id);
	size_t w = 1;
	for (size_t k = 1; k < found->n; k++) {
		if (strcmp(found->v[k]->pause_id, found->v[w - 1]->pause_id) == 0)
			lp_pause_info_free(found->v[k]);
		else
			found->v[w++] = found->v[k];
	}
	found->n = w;
}

/*
 * Contract: every pause the listing asks for, oldest first, read at the
 * least cost:
 *   - one run (run_only, watch): its pending pauses from pending/, or its
 *     pause files when asked for every state, when the run is of another
 *     shape (walk_run: its run.json is not ours, so pending/ does not
 *     index it) or when there is no pending/;
 *   - pending pauses of every run: pending/, plus the pending pause files
 *     of the runs the catalog does not know (0.1.1's; all runs when there
 *     is no catalog);
 *   - every pause (LP_LIST_ALL): the catalog, pending/ and the runs it
 *     does not know; with LP_LIST_JSON the listing objects of ended
 *     pauses from catalog-json.tsv (their pause file when it lacks one);
 *     every pause file when there is no catalog.
 */
/*
 * Decide which pauses a listing shows and gather them, oldest first, into
 * *out (the caller frees it with vec_free):
 *   - pending only (no LP_LIST_ALL): pending/ (the index our processes
 *     keep), plus a walk of every run the catalog does not know (0.1.1's,
 *     which have no index); the catalog's "R" lines alone are read;
 *   - all states: the catalog's "P" lines, plus pending/,
 *     plus a walk of uncatalogued runs; a pause both in the catalog and
 *     pending is listed once;
 *     with JSON, an ended pause's listing object is its "J" line, or its
 *     pause file when the line is missing or fails its checks;
 *   - no usable catalog: a walk of every run.
 * run_only restricts it to one run (walk_run: read that run's pauses/
 * rather than pending/). Unreadable entries are skipped, never fatal; an
 * unsafe catalog is reported once (lpi_store_warn) and walked around.
 */
static int collect(lp_store *store, unsigned flags, const char *run_only, int walk_run, vec *out)
{
	list_ctx c = {.store = store,
		      .all = (flags & LP_LIST_ALL) != 0,
		      .with_json = (flags & LP_LIST_JSON) != 0,
		      .run_prefix = run_only};
	lpi_catalog *cat = NULL;
	int rc = LP_OK;
	if (run_only) {
		rc = walk_run || c.all || store->pending_fd < 0
			     ? on_run(run_only, &c)
			     : lpi_dir_each(store->pending_fd, on_pending, &c);
	} else if (!c.all && store->pending_fd >= 0) {
		rc = lpi_dir_each(store->pending_fd, on_pending, &c);
		int crc = lpi_catalog_load_runs(store, &cat);
		if (crc == LP_EUNSAFE)
			lpi_store_warn(store, lp_error_message());
		if (crc != LP_OK)
			cat = NULL; /* no usable catalog: any run may be foreign */
		lpi_error_clear();
		cat_ctx cc = {&c, cat};
		if (!rc)
			rc = lpi_dir_each(store->runs_fd, on_run_uncatalogued, &cc);
		lpi_catalog_free(cat);
		dedupe(&c.found);
	} else if (c.all && (rc = lpi_catalog_load(store, &cat)) == LP_OK) {
		c.found.cat = cat; /* the listing borrows its strings */
		rc = collect_by_catalog(&c, cat);
	} else { /* no usable catalog (none, an older one, unreadable): walk */
		if (c.all && run_only == NULL && rc == LP_EUNSAFE)
			lpi_store_warn(store, lp_error_message());
		lpi_error_clear();
		rc = lpi_dir_each(store->runs_fd, on_run, &c);
	}
	if (rc) {
		vec_free(&c.found);
		return rc;
	}
	/* the catalog's lines are mostly in that order already: checked
	 * first, in one pass (sorting 20,000 pointers costs ~50M instructions) */
	size_t k = 1;
	while (k < c.found.n && by_created_then_id(&c.found.v[k - 1], &c.found.v[k]) <= 0)
		k++;
	if (k < c.found.n)
		qsort(c.found.v, c.found.n, sizeof *c.found.v, by_created_then_id);
	*out = c.found;
	return LP_OK;
}

int lp_store_list(lp_store *store, unsigned flags, lp_store_list_cb cb, void *ud)
{
	vec found;
	int rc = collect(store, flags, NULL, 0, &found);
	if (rc)
		return rc;
	for (size_t k = 0; k < found.n && rc == 0; k++)
		rc = cb(found.v[k], ud);
	vec_free(&found);
	return rc;
}

/* ------------------------------------------------------------ watching */

/* A watcher belongs to its caller: nothing of it lives in the store, so
 * any number of threads may watch through one store. */
struct lp_watcher {
	lp_store *store;
	char run_id[LP_ID_MAX + 1];
	int run_fd;
	long owner;    /* the run's pid when on this host, else 0 */
	int walk;      /* a run of another shape (0.1.1's): its pauses are
			   read from its pauses/, which is watched too */
	int all;       /* report pauses in any state (lp_watcher_set_all) */
	int pauses_fd; /* its pauses/ while walked and waited on, else -1 */
	lpi_waiter *w; /* made at the first wait */
	char **seen;   /* pause ids already reported, to report each once */
	size_t nseen, capseen;
};

int lp_run_watch_open(lp_watcher **out, lp_store *store, const char *run_id)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_watch_open: out is NULL");
	*out = NULL;
	if (store == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_watch_open: store is NULL");
	lp_run_info *run;
	int rc = lp_run_info_load(&run, store, run_id);
	if (rc)
		return rc;
	lp_watcher *wt = calloc(1, sizeof *wt);
	if (wt == NULL) {
		lp_run_info_free(run);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	wt->store = store;
	snprintf(wt->run_id, sizeof wt->run_id, "%s", run_id);
	wt->owner = strcmp(run->hostname, lpi_hostname()) == 0 ? run->pid : 0;
	wt->pauses_fd = -1;
	/* a run.json without "protocol" was written by 0.1.1, which indexes
	 * nothing in pending/: that run's pause files are read instead */
	lp_json *doc = NULL;
	if (run->json &&
	    lpj_parse_object_011(run->json, strlen(run->json), "run.json", &doc) == LP_OK)
		wt->walk = !lpj_has(doc, "protocol");
	lpi_error_clear();
	lpj_free(doc);
	lp_run_info_free(run);
	if ((rc = lpi_run_dirs_open(store, run_id, &wt->run_fd))) {
		free(wt);
		return rc;
	}
	*out = wt;
	return LP_OK;
}

static int was_seen(const lp_watcher *wt, const char *id)
{
	for (size_t k = 0; k < wt->nseen; k++)
		if (strcmp(wt->seen[k], id) == 0)
			return 1;
	return 0;
}

static int mark_seen(lp_watcher *wt, const char *id)
{
	if (wt->nseen == wt->capseen) {
		size_t cap = wt->capseen ? wt->capseen * 2 : 8;
		char **nv = realloc(wt->seen, cap * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		wt->seen = nv;
		wt->capseen = cap;
	}
	if ((wt->seen[wt->nseen] = lpi_strdup(id)) == NULL)
		return LP_ERROR;
	wt->nseen++;
	return LP_OK;
}

/* The latest pending pause of the run this watcher has not reported yet
 * (taken out of found), or NULL. */
static lp_pause_info *take_unseen(lp_watcher *wt, vec *found)
{
	for (size_t k = found->n; k-- > 0;) {
		lp_pause_info *i = found->v[k];
		if (was_seen(wt, i->pause_id))
			continue;
		memmove(&found->v[k], &found->v[k + 1], (found->n - k - 1) * sizeof *found->v);
		found->n--;
		return i;
	}
	return NULL;
}

int lp_watcher_next(lp_pause_info **out, lp_watcher *wt, double timeout, const lp_wait_hooks *hooks)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_watcher_next: out is NULL");
	*out = NULL;
	if (wt == NULL)
		return lpi_fail(LP_EINVAL, "lp_watcher_next: watcher is NULL");
	lp_store *store = wt->store;
	int64_t deadline = timeout > 0 ? lpi_mono_ms() + (int64_t)(timeout * 1000.0) : -1;
	int rc;
	for (;;) {
		vec found;
		if ((rc = collect(store, LP_LIST_JSON | (wt->all ? LP_LIST_ALL : 0), wt->run_id,
				  wt->walk, &found)))
			return rc;
		lp_pause_info *next = take_unseen(wt, &found);
		vec_free(&found);
		if (next) {
			if ((rc = mark_seen(wt, next->pause_id))) {
				lp_pause_info_free(next);
				return rc;
			}
			*out = next;
			return LP_OK;
		}
		lp_run_info *run;
		if ((rc = lp_run_info_load(&run, store, wt->run_id)))
			return rc;
		if (strcmp(run->state, "active") != 0) {
			rc = strcmp(run->state, "ended") == 0
				     ? lpi_fail(LP_ERUNENDED, "run %s has ended", wt->run_id)
			     : strcmp(run->hostname, lpi_hostname()) != 0
				     ? lpi_fail(
					       LP_ERUNENDED,
					       "run %s: its pytest process (pid %ld on %s) is gone: its heartbeat (run.json's mtime) stopped",
					       wt->run_id, run->pid, run->hostname)
				     : lpi_fail(
					       LP_ERUNENDED,
					       "run %s: its pytest process (pid %ld on %s) is gone",
					       wt->run_id, run->pid, run->hostname);
			lp_run_info_free(run);
			return rc;
		}
		lp_run_info_free(run);
		/* The waiter is made only when there is something to wait for: an
		 * existing pause is reported without one (closing an inotify
		 * descriptor costs a kernel RCU grace period, ~8 ms here). */
		if (wt->w == NULL) {
			if ((rc = lpi_waiter_open(&wt->w)))
				return rc;
			/* pending/ announces new pauses; the run directory, a new
			 * run.json. Look once more before the first wait: a pause
			 * made before the watches were added has no event. */
			if (store->pending_fd >= 0)
				lpi_waiter_add_dir(wt->w, store->pending_fd, "pending");
			lpi_waiter_add_dir(wt->w, wt->run_fd, "run");
			/* a walked run: its pause files appear (0.1.1 renames
			 * them into place) and change (the end of a pause) */
			if ((wt->walk || wt->all) && lpi_dir_open(wt->run_fd, "pauses", 0, "pauses",
								  &wt->pauses_fd) == LP_OK)
				lpi_waiter_add_dir(wt->w, wt->pauses_fd, "pauses");
			lpi_error_clear();
			if (wt->owner > 0)
				lpi_waiter_add_pid(wt->w, wt->owner);
			continue;
		}
		rc = lpi_waiter_wait(wt->w, deadline, hooks);
		if (rc == LP_EWAITTIMEOUT)
			return lpi_fail(LP_EWAITTIMEOUT, "no pause in run %s within %gs",
					wt->run_id, timeout);
		if (rc < 0)
			return rc;
	}
}

int lp_watcher_set_all(lp_watcher *wt, int all)
{
	if (wt == NULL)
		return lpi_fail(LP_EINVAL, "lp_watcher_set_all: watcher is NULL");
	wt->all = all != 0;
	return LP_OK;
}

void lp_watcher_free(lp_watcher *wt)
{
	if (wt == NULL)
		return;
	lpi_waiter_free(wt->w);
	if (wt->run_fd >= 0)
		close(wt->run_fd);
	if (wt->pauses_fd >= 0)
		close(wt->pauses_fd);
	for (size_t k = 0; k < wt->nseen; k++)
		free(wt->seen[k]);
	free(wt->seen);
	free(wt);
}

int lp_run_watch(lp_pause_info **out, lp_store *store, const char *run_id, double timeout,
		 const lp_wait_hooks *hooks)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_watch: out is NULL");
	*out = NULL;
	lp_watcher *wt;
	int rc = lp_run_watch_open(&wt, store, run_id);
	if (rc)
		return rc;
	rc = lp_watcher_next(out, wt, timeout, hooks);
	lp_watcher_free(wt);
	return rc;
}
