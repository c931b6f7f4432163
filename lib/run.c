/*
 * run.c - the life of a run: runs/<run_id>/ with run.json, events.jsonl,
 * pauses/ and commands/. The process that starts a run owns run.json;
 * xdist workers join the run of their controller and only append events
 * and write their own pauses.
 */
#include "internal.h"

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lpi_run_dirs_open(lp_store *store, const char *run_id, int *run_fd)
{
	int rc = lpi_run_id_validate(run_id);
	if (rc)
		return rc;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s", store->path, run_id);
	rc = lpi_dir_open(store->runs_fd, run_id, 0, label, run_fd);
	if (rc == LP_ENOTFOUND)
		return lpi_fail(
			LP_ENOTFOUND,
			"no run '%s' in %s: copy the run id from pytest's header line 'pytest-live-pause: run_id=...', and pass the --pause-dir pytest used",
			run_id, store->path);
	return rc;
}

static int open_parts(lp_run *run, int create)
{
	char label[PATH_MAX];
	int rc;
	snprintf(label, sizeof label, "%s/runs/%s/pauses", run->store->path, run->id);
	if ((rc = lpi_dir_open(run->fd, "pauses", create, label, &run->pauses_fd)))
		return rc;
	snprintf(label, sizeof label, "%s/runs/%s/commands", run->store->path, run->id);
	if ((rc = lpi_dir_open(run->fd, "commands", create, label, &run->commands_fd)))
		return rc;
	run->events_fd = openat(run->fd, "events.jsonl",
				O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (run->events_fd < 0)
		return lpi_fail_errno(errno == ELOOP ? LP_EUNSAFE : LP_ERROR, errno,
				      "cannot open %s/runs/%s/events.jsonl", run->store->path,
				      run->id);
	snprintf(label, sizeof label, "%s/runs/%s/events.jsonl", run->store->path, run->id);
	return lpi_fd_trust(run->events_fd, 0, label);
}

static lp_run *run_new(lp_store *store, const lp_run_options *opts)
{
	lp_run *run = calloc(1, sizeof *run);
	if (run == NULL) {
		lpi_fail(LP_ERROR, "out of memory");
		return NULL;
	}
	run->store = store;
	run->fd = run->pauses_fd = run->commands_fd = run->events_fd = -1;
	lpi_identity_self(&run->self);
	char cwd[PATH_MAX];
	const char *c = opts && opts->cwd ? opts->cwd : getcwd(cwd, sizeof cwd);
	run->cwd = lpi_strdup(c ? c : "");
	if (opts && opts->worker_id)
		run->worker_id = lpi_strdup(opts->worker_id);
	if (run->cwd == NULL || (opts && opts->worker_id && run->worker_id == NULL)) {
		lp_run_free(run);
		return NULL;
	}
	return run;
}

static int check_opts(const lp_run_options *opts)
{
	if (opts && (opts->version < 1 || opts->version > LP_RUN_OPTIONS_VERSION))
		return lpi_fail(LP_EINVAL, "lp_run_options version %u is not supported",
				opts->version);
	if (opts && opts->extra_json && strlen(opts->extra_json) > LP_CAP_RUN_EXTRA)
		return lpi_fail(LP_EINVAL, "extra run fields are over %d KiB",
				LP_CAP_RUN_EXTRA / 1024);
	if (opts && opts->worker_id) {
		int rc = lp_id_validate(opts->worker_id, "worker id");
		if (rc)
			return rc;
	}
	return LP_OK;
}

static int identity_fields(lp_json *o, const lpi_identity *self)
{
	char st[32];
	snprintf(st, sizeof st, "%llu", self->start_time);
	int rc = lpj_set_int(o, "pid", self->pid);
	if (!rc)
		rc = lpj_set_text(o, "hostname", self->hostname, LP_CAP_HOSTNAME, 0);
	if (!rc)
		rc = lpj_set_str(o, "boot_id", self->boot_id);
	if (!rc)
		rc = lpj_set_str(o, "pid_start_time", st);
	return rc;
}

/* run.json's "rootdir" and "allow_eval" (lp_run_options version 3). */
static int set_pytest_fields(lp_json *doc, const lp_run_options *opts)
{
	if (opts == NULL || opts->version < 3)
		return LP_OK;
	int rc = LP_OK;
	if (opts->rootdir)
		rc = lpj_set_text(doc, "rootdir", opts->rootdir, LP_CAP_CWD, 0);
	if (!rc)
		rc = lpj_set_bool(doc, "allow_eval", opts->allow_eval != 0);
	return rc;
}

/* run.json's "argv": 0.1.1's list of strings, bounded so that run.json
 * always fits its readers' cap (LP_CAP_RUN) however many arguments pytest
 * got: each element is cut at LP_CAP_ARG encoded bytes, and once the list
 * reaches LP_CAP_ARGV the rest is replaced by one last element
 * "[... N more arguments cut by pytest-live-pause]". "argc" is the number
 * of arguments given. */
static int set_argv(lp_json *doc, const char *const *argv)
{
	size_t argc = 0;
	while (argv && argv[argc])
		argc++;
	lp_json *holder = lpj_object(), *list = holder ? lpj_array() : NULL;
	if (list == NULL) {
		lpj_free(holder);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	int rc = LP_OK;
	size_t used = 0, k;
	for (k = 0; k < argc && !rc; k++) {
		rc = lpj_set_text(holder, "arg", argv[k], LP_CAP_ARG, 0);
		if (rc)
			break;
		size_t need = lpj_encoded_size(lpj_get_str(holder, "arg")) + 3; /* "", */
		if (used + need > LP_CAP_ARGV)
			break;
		used += need;
		rc = lpj_array_append_str(list, lpj_get_str(holder, "arg"));
	}
	if (!rc && k < argc) {
		char more[96];
		snprintf(more, sizeof more, "[... %zu more arguments cut by pytest-live-pause]",
			 argc - k);
		rc = lpj_array_append_str(list, more);
	}
	lpj_free(holder);
	if (rc) {
		lpj_free(list);
		return rc;
	}
	if ((rc = lpj_set_json(doc, "argv", list)))
		return rc;
	return lpj_set_int(doc, "argc", (long long)argc);
}

static int publish_run(lp_run *run)
{
	char *text = lpj_dump(run->doc);
	if (text == NULL)
		return LP_ERROR;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s/run.json", run->store->path, run->id);
	int rc = lpi_file_publish(run->fd, "run.json", text, strlen(text), 0, label);
	free(text);
	return rc;
}

static int run_event(lp_run *run, const char *event, lp_json *fields)
{
	return lpi_events_append(run->events_fd, run->id, event, fields);
}

/* Log `event` with this process's identity, its worker_id (null for the
 * controller, as 0.1.1's run_started) and its cwd. */
static int identity_event(lp_run *run, const char *event)
{
	lp_json *ev = lpj_object();
	if (ev == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = identity_fields(ev, &run->self);
	if (!rc)
		rc = lpj_set_text(ev, "cwd", run->cwd, LP_CAP_CWD, 0);
	if (!rc)
		rc = lpj_set_str(ev, "worker_id", run->worker_id);
	if (!rc)
		rc = run_event(run, event, ev);
	lpj_free(ev);
	return rc;
}

int lp_run_start(lp_run **out, lp_store *store, const lp_run_options *opts)
{
	*out = NULL;
	int rc = check_opts(opts);
	if (rc)
		return rc;
	lp_run *run = run_new(store, opts);
	if (run == NULL)
		return LP_ERROR;
	run->owner = 1;
	/* check what can be refused before anything is created on disk */
	run->doc = lpj_object();
	if (run->doc == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto fail;
	}
	if ((rc = lpj_merge_text(run->doc, opts ? opts->extra_json : NULL, 0,
				 "extra run fields")) ||
	    (rc = lpj_bound_strings(run->doc, LP_CAP_ARG)))
		goto fail;
	if (opts && opts->run_id) {
		if ((rc = lpi_run_id_validate(opts->run_id)))
			goto fail;
		snprintf(run->id, sizeof run->id, "%s", opts->run_id);
	} else if ((rc = lpi_new_run_id(run->id))) {
		goto fail;
	}
	/* Catalogued before it exists: "ls -a" then trusts the catalog and
	 * pending/ for this run instead of walking it. A failed append only
	 * costs that speed, so it is not an error. */
	if (store->pending_fd >= 0 && lpi_catalog_add_run(store, run->id) != LP_OK)
		lpi_error_clear();
	if (mkdirat(store->runs_fd, run->id, 0700) < 0) {
		rc = errno == EEXIST
			     ? lpi_fail(LP_EINVAL,
					"run '%s' already exists in %s: choose another run id",
					run->id, store->path)
			     : lpi_fail_errno(LP_ERROR, errno, "cannot create run %s in %s/runs",
					      run->id, store->path);
		goto fail;
	}
	if ((rc = lpi_run_dirs_open(store, run->id, &run->fd)) || (rc = open_parts(run, 1)))
		goto fail;
	if ((rc = lpj_set_int(run->doc, "protocol", LP_PROTOCOL_VERSION)) ||
	    (rc = lpj_set_str(run->doc, "run_id", run->id)) ||
	    (rc = identity_fields(run->doc, &run->self)) ||
	    (rc = lpj_set_text(run->doc, "cwd", run->cwd, LP_CAP_CWD, 0)) ||
	    (rc = lpj_set_str(run->doc, "worker_id", run->worker_id)) ||
	    (rc = set_argv(run->doc, opts && opts->version >= 2 ? opts->argv : NULL)) ||
	    (rc = set_pytest_fields(run->doc, opts)) ||
	    (rc = lpj_set_real(run->doc, "started_at", lpi_now())) ||
	    (rc = lpj_set_str(run->doc, "status", "active")) ||
	    (rc = lpj_set_null(run->doc, "ended_at")) ||
	    (rc = lpj_set_null(run->doc, "exitstatus")) ||
	    (rc = lpj_set_real(run->doc, "heartbeat_interval", LP_HEARTBEAT_INTERVAL)))
		goto fail;
	if ((rc = publish_run(run)))
		goto fail;
	/* run.json's mtime is refreshed while this process lives: readers on
	 * another host judge the run by it (docs/protocol.md "Liveness") */
	if ((rc = lpi_beat_start(&run->beat, run->fd, "run.json", LP_HEARTBEAT_INTERVAL)))
		goto fail;
	if ((rc = identity_event(run, "run_started")))
		goto fail;
	*out = run;
	return LP_OK;
fail:
	lp_run_free(run);
	return rc;
}

int lp_run_join(lp_run **out, lp_store *store, const lp_run_options *opts)
{
	*out = NULL;
	int rc = check_opts(opts);
	if (rc)
		return rc;
	if (opts == NULL || opts->run_id == NULL)
		return lpi_fail(LP_EINVAL, "joining a run needs its run id");
	if ((rc = lpi_run_id_validate(opts->run_id)))
		return rc;
	lp_run *run = run_new(store, opts);
	if (run == NULL)
		return LP_ERROR;
	snprintf(run->id, sizeof run->id, "%s", opts->run_id);
	if ((rc = lpi_run_dirs_open(store, run->id, &run->fd)) || (rc = open_parts(run, 0)))
		goto fail;
	if ((rc = identity_event(run, "worker_joined")))
		goto fail;
	*out = run;
	return LP_OK;
fail:
	lp_run_free(run);
	return rc;
}

const char *lp_run_id(const lp_run *run)
{
	return run ? run->id : "";
}

int lp_run_end(lp_run *run, int exitstatus)
{
	lp_json *ev = lpj_object();
	if (ev == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	/* every pause's "P" line before the run's "E" line (and gc, which
	 * trusts an ended run to have settled); a disk that hangs past the
	 * bound leaves those pauses in pending/, final */
	(void)lpi_settle_drain(run);
	int rc = lpj_set_int(ev, "exitstatus", exitstatus);
	if (!rc)
		rc = lpj_set_str(ev, "worker_id", run->worker_id);
	if (!rc && run->owner) {
		lpi_beat_stop(run->beat); /* an ended run is judged by its status */
		run->beat = NULL;
		if (!(rc = lpj_set_str(run->doc, "status", "ended")) &&
		    !(rc = lpj_set_real(run->doc, "ended_at", lpi_now())) &&
		    !(rc = lpj_set_int(run->doc, "exitstatus", exitstatus))) {
			/* The "E" line goes first: gc removes a run (and its
			 * lines) only once run.json says it ended, so no line
			 * of it can come after. A failed append only costs
			 * "runs -a" a read of run.json: not an error. */
			if (run->store->pending_fd >= 0 &&
			    lpi_catalog_add_end(run->store, run->doc) != LP_OK)
				lpi_error_clear();
			rc = publish_run(run);
		}
	}
	if (!rc)
		rc = run_event(run, run->owner ? "run_ended" : "worker_ended", ev);
	lpj_free(ev);
	return rc;
}

int lp_run_event(lp_run *run, const char *event, const char *fields_json)
{
	if (event == NULL || event[0] == '\0')
		return lpi_fail(LP_EINVAL, "event name is empty");
	lp_json *f = lpj_object();
	if (f == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpj_merge_text(f, fields_json, 1, "event fields");
	/* a caller's texts (checkpoint_mocked: nodeid, task) are bounded as
	 * a pause file's, so that every event line stays readable */
	if (!rc)
		rc = lpj_bound_strings(f, LP_CAP_TASK);
	if (!rc && run->worker_id && !lpj_has(f, "worker_id"))
		rc = lpj_set_str(f, "worker_id", run->worker_id);
	if (!rc)
		rc = run_event(run, event, f);
	lpj_free(f);
	return rc;
}

int lp_run_checkpoint_mocked(lp_run *run, const char *nodeid, const char *task, lp_result result)
{
	if (run == NULL || nodeid == NULL || task == NULL)
		return lpi_fail(LP_EINVAL,
				"lp_run_checkpoint_mocked: a run, nodeid and task are required");
	lp_json *f = lpj_object();
	if (f == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpj_set_str(f, "nodeid", nodeid);
	if (!rc)
		rc = lpj_set_str(f, "task", task);
	if (!rc)
		rc = lpj_set_result(f, "result", result);
	char *text = rc ? NULL : lpj_dump(f);
	lpj_free(f);
	if (text == NULL)
		return rc ? rc : lpi_fail(LP_ERROR, "out of memory");
	rc = lp_run_event(run, "checkpoint_mocked", text);
	free(text);
	return rc;
}

/* ------------------------------------------------ stopping the run */

#define ABORTED_FILE "aborted.json"

/* Read and parse the run's small JSON file `name` (aborted.json,
 * progress.json: at most LP_CAP_RUN bytes, an object) from its directory
 * run_fd; messages name <dir>/runs/<run_id>/<name>. LP_OK with *out set
 * (lpj_free it); LP_ENOTFOUND when there is no such file, else as
 * lpi_file_read() and lpj_parse_object() fail (*out NULL). */
static int read_run_json(int run_fd, const char *store_path, const char *run_id, const char *name,
			 lp_json **out)
{
	char label[PATH_MAX], *text;
	size_t len;
	*out = NULL;
	snprintf(label, sizeof label, "%s/runs/%s/%s", store_path, run_id, name);
	int rc = lpi_file_read(run_fd, name, LP_CAP_RUN, label, &text, &len);
	if (rc)
		return rc;
	rc = lpj_parse_object(text, len, label, out);
	free(text);
	return rc;
}

int lp_run_abort(lp_run *run, const char *pause_id, const char *nodeid, const char *reason)
{
	if (run == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_abort: run is required");
	lp_json *doc = lpj_object();
	if (doc == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc;
	if ((rc = lpj_set_str(doc, "pause_id", pause_id)) ||
	    (rc = lpj_set_text(doc, "nodeid", nodeid, LP_CAP_NODEID, 0)) ||
	    (rc = lpj_set_text(doc, "reason", reason, LP_CAP_REASON, 1)) ||
	    (rc = lpj_set_str(doc, "worker_id", run->worker_id)) ||
	    (rc = lpj_set_int(doc, "pid", run->self.pid)) ||
	    (rc = lpj_set_real(doc, "aborted_at", lpi_now()))) {
		lpj_free(doc);
		return rc;
	}
	char *text = lpj_dump(doc);
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s/" ABORTED_FILE, run->store->path, run->id);
	rc = text ? lpi_file_publish(run->fd, ABORTED_FILE, text, strlen(text), 1, label)
		  : LP_ERROR;
	free(text);
	if (rc == LP_OK) /* the first abort of the run: log it once */
		rc = run_event(run, "run_aborted", doc);
	else if (rc == 1) /* another pause of the run stopped it first */
		rc = LP_OK;
	lpj_free(doc);
	return rc;
}

int lp_run_aborted(lp_run *run, char **nodeid, char **reason)
{
	if (run == NULL || nodeid == NULL || reason == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_aborted: run, nodeid and reason are required");
	*nodeid = *reason = NULL;
	struct stat st;
	if (fstatat(run->fd, ABORTED_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : lpi_fail_errno(LP_ERROR, errno,
							"cannot inspect %s/runs/%s/" ABORTED_FILE,
							run->store->path, run->id);
	lp_json *doc;
	int rc = read_run_json(run->fd, run->store->path, run->id, ABORTED_FILE, &doc);
	if (rc)
		return rc;
	const char *n = lpj_get_str(doc, "nodeid"), *r = lpj_get_str(doc, "reason");
	*nodeid = lpi_strdup(n ? n : "");
	*reason = r ? lpi_strdup(r) : NULL;
	lpj_free(doc);
	if (*nodeid == NULL || (r && *reason == NULL)) {
		free(*nodeid);
		free(*reason);
		*nodeid = *reason = NULL;
		return lpi_fail(LP_ERROR, "out of memory");
	}
	return 1;
}

/* ------------------------------------------------ test progress */

#define PROGRESS_FILE "progress.json"

static long long at_least_0(long long v)
{
	return v < 0 ? 0 : v;
}

static const char *const progress_keys[] = {"passed",  "failed",  "errors",
					    "skipped", "xfailed", "xpassed"};

int lp_run_progress(lp_run *run, const lp_progress *p)
{
	if (run == NULL || p == NULL || p->version != LP_PROGRESS_VERSION)
		return lpi_fail(LP_EINVAL, "lp_run_progress: run and a version-%d lp_progress",
				LP_PROGRESS_VERSION);
	const unsigned long n[] = {p->passed,  p->failed,  p->errors,
				   p->skipped, p->xfailed, p->xpassed};
	lp_json *doc = lpj_object();
	int rc = doc ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	for (size_t k = 0; !rc && k < sizeof n / sizeof *n; k++)
		rc = lpj_set_int(doc, progress_keys[k], (long long)n[k]);
	if (!rc)
		rc = p->collected >= 0 ? lpj_set_int(doc, "collected", p->collected)
				       : lpj_set_null(doc, "collected");
	if (!rc)
		rc = lpj_set_real(doc, "updated_at", lpi_now());
	char *text = rc ? NULL : lpj_dump(doc);
	lpj_free(doc);
	if (rc || text == NULL)
		return rc ? rc : lpi_fail(LP_ERROR, "out of memory");
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/runs/%s/" PROGRESS_FILE, run->store->path, run->id);
	rc = lpi_file_publish(run->fd, PROGRESS_FILE, text, strlen(text), LP_PUBLISH_VOLATILE,
			      label);
	free(text);
	return rc;
}

int lp_run_progress_load(char **json, lp_store *store, const char *run_id)
{
	if (json == NULL || store == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_progress_load: json and store are required");
	*json = NULL;
	int run_fd, rc = lpi_run_dirs_open(store, run_id, &run_fd);
	if (rc)
		return rc;
	lp_json *doc;
	rc = read_run_json(run_fd, store->path, run_id, PROGRESS_FILE, &doc);
	close(run_fd);
	if (rc)
		return rc;
	/* only the fields of the protocol, of their types: nothing else of
	 * the file reaches a reader */
	lp_json *out = lpj_object();
	rc = out ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	for (size_t k = 0; !rc && k < sizeof progress_keys / sizeof *progress_keys; k++)
		rc = lpj_set_int(out, progress_keys[k],
				 at_least_0(lpj_get_int(doc, progress_keys[k], 0)));
	if (!rc) {
		long long c = lpj_get_int(doc, "collected", -1);
		rc = c >= 0 ? lpj_set_int(out, "collected", c) : lpj_set_null(out, "collected");
	}
	if (!rc)
		rc = lpj_set_real(out, "updated_at", lpj_get_real(doc, "updated_at", 0));
	lpj_free(doc);
	*json = rc ? NULL : lpj_dump(out);
	lpj_free(out);
	if (!rc && *json == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	return rc;
}

int lpi_run_commands_waiter(lp_run *run, lpi_waiter **out)
{
	/* made once per run; threads pausing at once race to publish theirs
	 * with a compare-and-swap, and the losers free their own */
	lpi_waiter *cur = __atomic_load_n(&run->commands_waiter, __ATOMIC_ACQUIRE);
	if (cur == NULL) {
		lpi_waiter *w;
		int rc = lpi_waiter_open(&w);
		if (!rc)
			rc = lpi_waiter_add_dir(w, run->commands_fd, "commands");
		if (rc) {
			lpi_waiter_free(w);
			return rc;
		}
		if (__atomic_compare_exchange_n(&run->commands_waiter, &cur, w, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			cur = w;
		else
			lpi_waiter_free(w);
	}
	*out = cur;
	return LP_OK;
}

void lp_run_free(lp_run *run)
{
	if (run == NULL)
		return;
	lpi_settle_stop(run);     /* its pauses' ends durable, before the fds close */
	lpi_beat_stop(run->beat); /* before run->fd, which it uses, is closed */
	lpi_waiter_free(run->commands_waiter);
	int fds[] = {run->fd, run->pauses_fd, run->commands_fd, run->events_fd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	lpj_free(run->doc);
	lpj_free(run->requests);
	free(run->worker_id);
	free(run->cwd);
	free(run);
}

int lp_run_info_load(lp_run_info **out, lp_store *store, const char *run_id)
{
	*out = NULL;
	int fd, rc = lpi_run_dirs_open(store, run_id, &fd);
	if (rc)
		return rc;
	char label[PATH_MAX], *text;
	snprintf(label, sizeof label, "%s/runs/%s/run.json", store->path, run_id);
	rc = lpi_file_read(fd, "run.json", LP_CAP_RUN, label, &text, NULL);
	struct stat st;
	double mtime = rc == LP_OK && fstatat(fd, "run.json", &st, AT_SYMLINK_NOFOLLOW) == 0
			       ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9
			       : 0;
	close(fd);
	if (rc)
		return rc;
	lp_json *doc;
	rc = lpj_parse_object_011(text, strlen(text), label, &doc);
	free(text);
	if (rc)
		return rc;
	lp_run_info *info = calloc(1, sizeof *info);
	if (info == NULL) {
		lpj_free(doc);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	lpi_identity rec;
	lpj_get_identity(doc, &rec);
	const char *status = lpj_get_str(doc, "status");
	/* on another host, judged by the heartbeat: run.json's mtime */
	double interval = lpj_get_real(doc, "heartbeat_interval", 0);
	const char *state = status && strcmp(status, "ended") == 0                      ? "ended"
			    : lpi_identity_judge(&rec, mtime, interval) == LP_LIVE_DEAD ? "stale"
											: "active";
	info->run_id = lpi_strdup(run_id);
	info->state = lpi_strdup(state);
	info->hostname = lpi_strdup(rec.hostname);
	info->cwd = lpi_strdup(lpj_get_str(doc, "cwd") ? lpj_get_str(doc, "cwd") : "");
	info->pid = rec.pid;
	info->started_at = lpj_get_real(doc, "started_at", 0);
	info->ended_at = lpj_get_real(doc, "ended_at", 0);
	info->has_exitstatus = lpj_has(doc, "exitstatus") && !lpj_is_null(doc, "exitstatus");
	info->exitstatus = (int)lpj_get_int(doc, "exitstatus", 0);
	lpj_set_str(doc, "state", state);
	info->json = lpj_dump(doc);
	lpj_free(doc);
	if (!info->run_id || !info->state || !info->hostname || !info->cwd || !info->json) {
		lp_run_info_free(info);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	*out = info;
	return LP_OK;
}

void lp_run_info_free(lp_run_info *info)
{
	if (info == NULL)
		return;
	free(info->run_id);
	free(info->state);
	free(info->hostname);
	free(info->cwd);
	free(info->json);
	free(info);
}
