/*
 * gc.c - removing old runs ("pytest-live-pause gc"): which runs may go
 * (ended or stale before a cutoff, no pending pause), removing them with
 * everything in them and their pending/ entries without ever leaving the
 * pause directory, and the order that keeps every reader right while
 * pytest processes start, pause and end meanwhile (docs/protocol.md,
 * "gc").
 *
 * The order, for each run that goes:
 *   1. its lines leave catalog.tsv (lpi_catalog_compact, under the
 *      catalog's lock): readers then walk the run as an uncatalogued one,
 *      which is always correct;
 *   2. runs/<id> is renamed to runs/.gc-<id>-<hex>: it leaves every
 *      listing at once (names starting with '.' are not runs);
 *   3. its pending/ entries are removed (nothing refers to them now);
 *   4. the renamed directory is removed, depth first.
 * A gc that dies midway leaves either an uncatalogued run (removed by the
 * next gc) or a .gc-* directory (likewise).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_LOCK_NAME "gc.lock"
#define GC_TRASH_PREFIX ".gc-"
#define GC_MAX_DEPTH 32

typedef struct victim {
	char id[LP_ID_MAX + 1];
	const char *state; /* static */
	double ended_at;
} victim;

typedef struct gc_ctx {
	lp_store *store;
	const lp_gc_options *opts;
	lp_gc_report rep;
	dev_t dev; /* the pause directory's filesystem: never crossed */
	double cutoff;
	victim *v;
	size_t n, cap;
} gc_ctx;

static int cmp_victim(const void *a, const void *b)
{
	return strcmp(((const victim *)a)->id, ((const victim *)b)->id);
}

static int cmp_key_victim(const void *key, const void *elem)
{
	return strcmp(key, ((const victim *)elem)->id);
}

static const victim *find_victim(const gc_ctx *c, const char *run_id)
{
	return c->n ? bsearch(run_id, c->v, c->n, sizeof *c->v, cmp_key_victim) : NULL;
}

static int drop_line(const char *run_id, void *ud)
{
	return find_victim(ud, run_id) != NULL;
}

static double mtime_of(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
}

/* The last sign of life of a run whose process is gone: the latest
 * change to its directory, run.json, events.jsonl, pauses/ or commands/. */
static double last_change(int run_fd)
{
	static const char *const names[] = {".", "run.json", "events.jsonl", "pauses", "commands"};
	double last = 0;
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		double m = mtime_of(run_fd, names[k]);
		if (m > last)
			last = m;
	}
	return last;
}

/* Whether any pause of the run is pending with its process alive (every
 * pause file is read: a pause of a writer without pending/ counts too). */
static int has_live_pause(lp_store *store, int run_fd, const char *run_id)
{
	int pfd;
	if (lpi_dir_open(run_fd, "pauses", 0, "pauses", &pfd) != LP_OK) {
		lpi_error_clear();
		return 0;
	}
	DIR *d = fdopendir(pfd);
	if (d == NULL) {
		close(pfd);
		return 1; /* cannot tell: keep the run */
	}
	int live = 0;
	struct dirent *e;
	while (!live && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= 5 || n - 5 > LP_ID_MAX ||
		    strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		char id[LP_ID_MAX + 1], run_of[LP_ID_MAX + 1];
		memcpy(id, e->d_name, n - 5);
		id[n - 5] = '\0';
		if (lpi_pause_id_run(id, run_of) != LP_OK || strcmp(run_of, run_id) != 0) {
			lpi_error_clear();
			continue;
		}
		lp_json *doc;
		double mtime = 0;
		if (lpi_pause_load(store, id, &doc, &mtime) != LP_OK) {
			lpi_error_clear(); /* damaged or being replaced: not pending */
			continue;
		}
		live = strcmp(lpi_pause_state(doc, mtime), "pending") == 0;
		lpj_free(doc);
	}
	closedir(d);
	return live;
}

/* Judge one entry of runs/: a victim, or kept (and counted why). */
static int judge_run(gc_ctx *c, const char *name)
{
	lp_store *store = c->store;
	lp_run_info *info;
	if (lp_run_info_load(&info, store, name) != LP_OK) {
		lpi_error_clear(); /* no run.json (being created) or not a run: kept */
		return LP_OK;
	}
	int rc = LP_OK, run_fd = -1;
	double ended = 0;
	const char *state = strcmp(info->state, "ended") == 0   ? "ended"
			    : strcmp(info->state, "stale") == 0 ? "stale"
								: NULL;
	if (state == NULL) {
		c->rep.kept_active++;
		goto out;
	}
	if (lpi_run_dirs_open(store, name, &run_fd) != LP_OK) {
		lpi_error_clear();
		goto out;
	}
	ended = strcmp(state, "ended") == 0 && info->ended_at > 0 ? info->ended_at
								  : last_change(run_fd);
	if (ended >= c->cutoff) {
		c->rep.kept_young++;
		goto out;
	}
	if (has_live_pause(store, run_fd, name)) {
		c->rep.kept_pending++;
		goto out;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		victim *nv = realloc(c->v, cap * sizeof *nv);
		if (nv == NULL) {
			rc = lpi_fail(LP_ERROR, "out of memory");
			goto out;
		}
		c->v = nv;
		c->cap = cap;
	}
	victim *v = &c->v[c->n++];
	snprintf(v->id, sizeof v->id, "%s", name);
	v->state = state;
	v->ended_at = ended;
out:
	if (run_fd >= 0)
		close(run_fd);
	lp_run_info_free(info);
	return rc;
}

/* The names of a directory (not "." or ".."), for a pass that changes it. */
static int names_of(int dirfd, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lpi_fail_errno(LP_ERROR, e, "cannot list a directory");
	}
	rewinddir(d);
	size_t cap = 0;
	int rc = LP_OK;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(*out, cap * sizeof *nv);
			if (nv == NULL) {
				rc = lpi_fail(LP_ERROR, "out of memory");
				break;
			}
			*out = nv;
		}
		if (((*out)[*n] = lpi_strdup(e->d_name)) == NULL) {
			rc = LP_ERROR;
			break;
		}
		(*n)++;
	}
	closedir(d);
	return rc;
}

static void names_free(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

/*
 * Remove dirfd/name and everything under it. Directories are opened with
 * O_NOFOLLOW relative to their parent's descriptor, so a symlink is never
 * followed: it is unlinked as a link. A directory on another filesystem
 * (a mount point) is refused, and so is a depth past GC_MAX_DEPTH.
 */
static int remove_tree(gc_ctx *c, int dirfd, const char *name, int depth, const char *label)
{
	if (depth > GC_MAX_DEPTH)
		return lpi_fail(LP_ERROR, "%s is nested too deeply; not removed", label);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return LP_OK;
		if ((errno == ELOOP || errno == ENOTDIR) && unlinkat(dirfd, name, 0) == 0)
			return LP_OK; /* a symlink or a file after all */
		return lpi_fail_errno(LP_ERROR, errno, "cannot remove %s", label);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != c->dev) {
		close(fd);
		return lpi_fail(LP_ERROR,
				"%s is on another filesystem (a mount point?); not removed", label);
	}
	char **names;
	size_t n;
	int rc = names_of(fd, &names, &n);
	for (size_t k = 0; !rc && k < n; k++) {
		if (unlinkat(fd, names[k], 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM)
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot remove %s/%s", label,
					    names[k]);
		else
			rc = remove_tree(c, fd, names[k], depth + 1, label);
	}
	names_free(names, n);
	close(fd);
	if (!rc && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot remove %s", label);
	return rc;
}

static int report(gc_ctx *c, const char *what, const char *id, const char *path, const char *state,
		  double ended_at)
{
	if (c->opts->on_item == NULL)
		return LP_OK;
	lp_gc_item item = {what, id, path, state, ended_at};
	return c->opts->on_item(&item, c->opts->ud);
}

/* Steps 2-4 for one victim (step 1, the catalog, is done for all first). */
static int remove_run(gc_ctx *c, const victim *v, char **pending, size_t npending)
{
	lp_store *store = c->store;
	char path[PATH_MAX], trash[LP_ID_MAX + 32], rnd[9];
	snprintf(path, sizeof path, "%s/runs/%s", store->path, v->id);
	int rc = LP_OK;
	if (!c->opts->dry_run) {
		if ((rc = lpi_random_hex(rnd, 4)))
			return rc;
		snprintf(trash, sizeof trash, GC_TRASH_PREFIX "%s-%s", v->id, rnd);
		if (renameat(store->runs_fd, v->id, store->runs_fd, trash) < 0)
			return errno == ENOENT
				       ? LP_OK /* another remover's */
				       : lpi_fail_errno(LP_ERROR, errno, "cannot remove %s", path);
	}
	for (size_t k = 0; !rc && k < npending; k++) {
		char run_of[LP_ID_MAX + 1];
		if (lpi_pause_id_run(pending[k], run_of) != LP_OK || strcmp(run_of, v->id) != 0)
			continue;
		char ppath[PATH_MAX];
		snprintf(ppath, sizeof ppath, "%s/pending/%s", store->path, pending[k]);
		if (!c->opts->dry_run && unlinkat(store->pending_fd, pending[k], 0) < 0) {
			if (errno == ENOENT)
				continue;
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot remove %s", ppath);
			break;
		}
		c->rep.pending++;
		rc = report(c, "pending", pending[k], ppath, NULL, 0);
	}
	lpi_error_clear();
	if (!rc && !c->opts->dry_run)
		rc = remove_tree(c, store->runs_fd, trash, 0, path);
	if (!rc) {
		c->rep.runs++;
		rc = report(c, "run", v->id, path, v->state, v->ended_at);
	}
	return rc;
}

/* A pending/ entry whose run does not exist (removed by hand): removed
 * once it is older than the cutoff. */
static int remove_dangling(gc_ctx *c, const char *name)
{
	lp_store *store = c->store;
	char run_id[LP_ID_MAX + 1];
	struct stat st;
	if (lpi_pause_id_run(name, run_id) != LP_OK) {
		lpi_error_clear();
		return LP_OK; /* not ours */
	}
	if (find_victim(c, run_id) ||
	    fstatat(store->runs_fd, run_id, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return LP_OK;
	if (mtime_of(store->pending_fd, name) >= c->cutoff)
		return LP_OK;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/pending/%s", store->path, name);
	if (!c->opts->dry_run && unlinkat(store->pending_fd, name, 0) < 0)
		return errno == ENOENT ? LP_OK
				       : lpi_fail_errno(LP_ERROR, errno, "cannot remove %s", path);
	c->rep.pending++;
	return report(c, "pending", name, path, NULL, 0);
}

/* Take the directory's gc lock (waiting for another gc); *fd to close. */
static int lock_gc(gc_ctx *c, int *fd)
{
	lp_store *store = c->store;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/%s", store->path, GC_LOCK_NAME);
	/* a dry run writes nothing, not even the lock file: without one, no
	 * gc is running (one that starts meanwhile only makes a dry run's
	 * report stale, as any later change would) */
	int create = c->opts->dry_run ? 0 : O_CREAT;
	*fd = openat(store->fd, GC_LOCK_NAME, O_RDWR | create | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0 && errno == ENOENT && !create)
		return LP_OK;
	if (*fd < 0)
		return lpi_fail_errno(errno == ELOOP ? LP_EUNSAFE : LP_ERROR, errno,
				      "cannot open %s", label);
	struct stat st;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return lpi_fail(LP_EUNSAFE, "%s is not a regular file; remove it", label);
	}
	int waited = 0;
	for (;;) {
		if (flock(*fd, LOCK_EX | (waited ? 0 : LOCK_NB)) == 0)
			return LP_OK;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || waited) {
			int e = errno;
			close(*fd);
			*fd = -1;
			return lpi_fail_errno(LP_ERROR, e, "cannot lock %s", label);
		}
		waited = 1;
		if (c->opts->on_wait)
			c->opts->on_wait(c->opts->ud);
	}
}

int lp_store_gc(lp_gc_report *out, lp_store *store, const lp_gc_options *opts)
{
	if (out)
		memset(out, 0, sizeof *out);
	if (store == NULL || opts == NULL || opts->version != LP_GC_OPTIONS_VERSION)
		return lpi_fail(LP_EINVAL,
				"lp_store_gc: store and options of version %d are required",
				LP_GC_OPTIONS_VERSION);
	if (!isfinite(opts->older_than) || opts->older_than < 0)
		return lpi_fail(LP_EINVAL, "gc: the age must be a finite number of seconds >= 0");
	gc_ctx c = {.store = store, .opts = opts};
	struct stat st;
	if (fstat(store->fd, &st) < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot inspect %s", store->path);
	c.dev = st.st_dev;
	int lock_fd, rc = lock_gc(&c, &lock_fd);
	if (rc)
		return rc;
	/* the cutoff is taken with the lock held: a gc that waited judges
	 * the directory as it finds it */
	c.cutoff = lpi_now() - opts->older_than;
	char **runs = NULL, **pending = NULL;
	size_t nruns = 0, npending = 0;
	rc = names_of(store->runs_fd, &runs, &nruns);
	for (size_t k = 0; !rc && k < nruns; k++)
		if (runs[k][0] != '.' && lpi_run_id_validate(runs[k]) == LP_OK)
			rc = judge_run(&c, runs[k]);
	lpi_error_clear();
	if (!rc && c.n > 1)
		qsort(c.v, c.n, sizeof *c.v, cmp_victim);
	if (!rc && store->pending_fd >= 0)
		rc = names_of(store->pending_fd, &pending, &npending);
	/* 1. the catalog, for every victim at once */
	if (!rc && c.n > 0)
		rc = lpi_catalog_compact(store, drop_line, &c, opts->dry_run, &c.rep.catalog_lines);
	/* 2-4. each victim */
	for (size_t k = 0; !rc && k < c.n; k++)
		rc = remove_run(&c, &c.v[k], pending, npending);
	/* pending/ entries of runs that no longer exist */
	for (size_t k = 0; !rc && k < npending; k++)
		if (pending[k][0] != '.')
			rc = remove_dangling(&c, pending[k]);
	/* what an interrupted gc left */
	for (size_t k = 0; !rc && k < nruns; k++) {
		if (strncmp(runs[k], GC_TRASH_PREFIX, strlen(GC_TRASH_PREFIX)) != 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/runs/%s", store->path, runs[k]);
		if (!opts->dry_run && (rc = remove_tree(&c, store->runs_fd, runs[k], 0, path)))
			break;
		c.rep.leftovers++;
		rc = report(&c, "leftover", runs[k], path, NULL, 0);
	}
	names_free(runs, nruns);
	names_free(pending, npending);
	free(c.v);
	if (lock_fd >= 0)
		close(lock_fd); /* unlock */
	if (out)
		*out = c.rep;
	return rc;
}

/*
 * Contract: *out gets the line `gc --json` prints for one item, members
 * in this order: {"event": "removed" | "would_remove" (dry_run), "what",
 * "id", "path", "dry_run"} and, for runs, "state" and "ended_at". Every
 * text escaped as every JSON line of the runtime. LP_EINVAL for a NULL
 * argument, LP_ERROR when memory runs out.
 */
int lp_gc_item_json(char **out, const lp_gc_item *item, int dry_run)
{
	if (out == NULL || item == NULL)
		return lpi_fail(LP_EINVAL, "lp_gc_item_json: NULL argument");
	*out = NULL;
	lp_json *o = lpj_object();
	if (o == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpj_set_str(o, "event", dry_run ? "would_remove" : "removed");
	if (!rc)
		rc = lpj_set_str(o, "what", item->what);
	if (!rc)
		rc = lpj_set_str(o, "id", item->id);
	if (!rc)
		rc = lpj_set_str(o, "path", item->path);
	if (!rc)
		rc = lpj_set_bool(o, "dry_run", dry_run);
	if (!rc && item->state)
		rc = lpj_set_str(o, "state", item->state);
	if (!rc && item->state)
		rc = lpj_set_real(o, "ended_at", item->ended_at);
	if (!rc && (*out = lpj_dump_ordered(o)) == NULL)
		rc = LP_ERROR;
	lpj_free(o);
	return rc;
}

/*
 * Contract: *out gets the summary line `gc --json` prints last:
 * {"event": "summary", "dry_run", "older_than", "runs", "pending",
 * "leftovers", "catalog_lines", "kept": {"active", "young", "pending"}}
 * from the report and the options gc ran with. LP_EINVAL for a NULL
 * argument, LP_ERROR when memory runs out.
 */
int lp_gc_report_json(char **out, const lp_gc_report *report, const lp_gc_options *opts)
{
	if (out == NULL || report == NULL || opts == NULL)
		return lpi_fail(LP_EINVAL, "lp_gc_report_json: NULL argument");
	*out = NULL;
	lp_json *o = lpj_object(), *kept = lpj_object();
	int rc = o && kept ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc)
		rc = lpj_set_int(kept, "active", (long long)report->kept_active);
	if (!rc)
		rc = lpj_set_int(kept, "young", (long long)report->kept_young);
	if (!rc)
		rc = lpj_set_int(kept, "pending", (long long)report->kept_pending);
	if (!rc)
		rc = lpj_set_str(o, "event", "summary");
	if (!rc)
		rc = lpj_set_bool(o, "dry_run", opts->dry_run);
	if (!rc)
		rc = lpj_set_real(o, "older_than", opts->older_than);
	if (!rc)
		rc = lpj_set_int(o, "runs", (long long)report->runs);
	if (!rc)
		rc = lpj_set_int(o, "pending", (long long)report->pending);
	if (!rc)
		rc = lpj_set_int(o, "leftovers", (long long)report->leftovers);
	if (!rc)
		rc = lpj_set_int(o, "catalog_lines", (long long)report->catalog_lines);
	if (!rc) {
		rc = lpj_set_json(o, "kept", kept);
		kept = NULL; /* stolen */
	}
	if (!rc && (*out = lpj_dump_ordered(o)) == NULL)
		rc = LP_ERROR;
	lpj_free(kept);
	lpj_free(o);
	return rc;
}
