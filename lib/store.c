/*
 * store.c - the pause directory: opening it safely (refusing symlinks,
 * foreign owners and group/other-writable modes), the trust rule every
 * directory and file inside it is held to (lpi_trust_why: ours, not a
 * symlink, not writable by group or others), subdirectories opened
 * relative to verified descriptors with O_NOFOLLOW, atomic publication of
 * files (temporary name, fsync, rename or link, fsync of the directory),
 * size-capped reads of verified files, and the readers' warnings about
 * what they skip.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

char *lpi_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		lpi_fail(LP_ERROR, "out of memory");
	return d;
}

char *lpi_path_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p = malloc(na + nb + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, a, na);
	p[na] = '/';
	memcpy(p + na + 1, b, nb + 1);
	return p;
}

int lpi_fsync_disabled(void)
{
	/* relaxed atomics: threads may race to compute the same value */
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *e = getenv("LP_UNSAFE_NO_FSYNC");
		v = e != NULL && strcmp(e, "1") == 0;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* Whether dir is a directory this process may create entries in (what
 * tempfile.gettempdir() tries before it picks one). */
static int usable_temp_dir(const char *dir)
{
	struct stat st;
	return dir != NULL && dir[0] != '\0' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       access(dir, W_OK | X_OK) == 0;
}

/* The system's temporary directory, picked as 0.1.1 picks it (Python's
 * tempfile.gettempdir()): the first of $TMPDIR, $TEMP, $TMP, /tmp,
 * /var/tmp, /usr/tmp that is a usable directory; /tmp if none is. */
static const char *temp_dir(void)
{
	static const char *const vars[] = {"TMPDIR", "TEMP", "TMP"};
	static const char *const dirs[] = {"/tmp", "/var/tmp", "/usr/tmp"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = getenv(vars[i]);
		if (usable_temp_dir(v))
			return v;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (usable_temp_dir(dirs[i]))
			return dirs[i];
	return "/tmp";
}

/* Make an absolute path lexically normal in place, as Python's
 * os.path.abspath does: "//" and "/./" collapse, "x/.." goes, no trailing
 * '/'. (0.1.1 and our plugin name the directory so; the CLI must reach
 * the same string, and "/tmp//pytest-live-pause" is the default too.) */
static void normalize(char *path)
{
	char *out = path; /* path[0] == '/' */
	const char *in = path;
	while (*in) {
		while (*in == '/')
			in++;
		const char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > path && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

/* The default pause directory: shared = <temp>/pytest-live-pause; chosen =
 * shared, or <temp>/pytest-live-pause-<uid> when shared exists and belongs
 * to another user (who may have made it to deny it to others: 10.14).
 * *owner is shared's owner (or our uid). Paths are normalized. */
static void default_dirs(char shared[PATH_MAX], char chosen[PATH_MAX], unsigned *owner)
{
	const char *tmp = temp_dir();
	char cwd[PATH_MAX] = "";
	if (tmp[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
		cwd[0] = '\0';
	snprintf(shared, PATH_MAX, "%s/%s/pytest-live-pause", cwd, tmp);
	normalize(shared);
	struct stat st;
	*owner = (unsigned)geteuid();
	if (lstat(shared, &st) == 0 && st.st_uid != geteuid()) {
		*owner = (unsigned)st.st_uid;
		snprintf(chosen, PATH_MAX, "%s-%u", shared, (unsigned)geteuid());
	} else {
		snprintf(chosen, PATH_MAX, "%s", shared);
	}
}

const char *lp_store_default_path(const char *explicit_path)
{
	if (explicit_path != NULL && explicit_path[0] != '\0')
		return explicit_path;
	const char *env = getenv(LP_ENV_DIR);
	if (env != NULL && env[0] != '\0')
		return env;
	static __thread char chosen[PATH_MAX];
	char shared[PATH_MAX];
	unsigned owner;
	default_dirs(shared, chosen, &owner);
	return chosen;
}

/*
 * Contract: the resume hint of a pause, the one rule for every hint (the
 * pause file's resume_command, what show and watch print): with choices
 * (a NULL-terminated list, not empty) "--value 'a|b|c'", else the verdict
 * options of `kind` (lp_pause_resume_command); --pause-dir pause_dir, left out
 * when pause_dir is NULL or is the directory a command picks without it
 * (lp_store_default_path(NULL), compared lexically normal). A relative
 * $PYTEST_LIVE_PAUSE_DIR never matches: a resumer in another working
 * directory would find another directory. Errors as lp_pause_resume_command.
 */
int lp_resume_hint(char **out, const char *pause_id, lp_kind kind, const char *const *choices,
		   const char *pause_dir)
{
	const char *def = lp_store_default_path(NULL);
	char a[PATH_MAX], b[PATH_MAX];
	int omit = pause_dir == NULL;
	if (out == NULL || pause_id == NULL)
		return lpi_fail(LP_EINVAL, "lp_resume_hint: NULL argument");
	if (!omit && def[0] == '/' && pause_dir[0] == '/' && strlen(def) < sizeof a &&
	    strlen(pause_dir) < sizeof b) {
		strcpy(a, def);
		strcpy(b, pause_dir);
		normalize(a);
		normalize(b);
		omit = strcmp(a, b) == 0;
	}
	if (omit)
		pause_dir = NULL;
	if (choices && choices[0])
		return lpi_resume_command_choices(out, pause_id, pause_dir, choices);
	return lp_pause_resume_command(out, pause_id, kind, pause_dir);
}

/* Make path absolute (without resolving symlinks: the last component is
 * checked by lstat, and must not be one). */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return lpi_strdup(path);
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) == NULL) {
		lpi_fail_errno(LP_ERROR, errno, "cannot resolve pause directory %s", path);
		return NULL;
	}
	char *p = lpi_path_join(cwd, path);
	if (p == NULL)
		lpi_fail(LP_ERROR, "out of memory");
	return p;
}

/* Add a line to the store's notice ("; " between two). */
static void add_notice(lp_store *s, const char *line)
{
	size_t had = s->notice ? strlen(s->notice) : 0;
	char *n = realloc(s->notice, had + strlen(line) + 3);
	if (n == NULL)
		return; /* a notice is not worth failing for */
	if (had)
		strcpy(n + had, "; "), had += 2;
	strcpy(n + had, line);
	s->notice = n;
}

/* mkdir -p of the parents of path (0700 for those we create). */
static int make_parents(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int r = mkdir(path, 0700);
		int e = errno;
		*s = '/';
		if (r < 0 && e != EEXIST)
			return lpi_fail(
				LP_ERROR,
				"cannot create pause directory: its parent %s could not be made (%s); choose another with --pause-dir",
				path, strerror(e));
	}
	return LP_OK;
}

/* Whether the top directory may be used: LP_OK, 1 when it is the default
 * directory and only readable (not writable) by group or others, which
 * the caller then tightens to 0700 (0.1.1 made it 0755: 9.3), or
 * LP_EUNSAFE with the fix named. strict: the default directory, which
 * must be 0700; any other only not writable by group or others. */
static int check_mode(const char *path, const struct stat *st, int strict)
{
	if (S_ISLNK(st->st_mode))
		return lpi_fail(
			LP_EUNSAFE,
			"pause directory %s is a symlink; refusing to follow it: remove it or choose another directory with --pause-dir",
			path);
	if (!S_ISDIR(st->st_mode))
		return lpi_fail(
			LP_EUNSAFE,
			"pause directory %s is not a directory: remove it or choose another with --pause-dir",
			path);
	if (st->st_uid != geteuid())
		return lpi_fail(
			LP_EUNSAFE,
			"pause directory %s belongs to uid %u, not to you (uid %u): another user may forge commands there; choose another with --pause-dir",
			path, (unsigned)st->st_uid, (unsigned)geteuid());
	mode_t bad = strict ? 077 : 022;
	if (strict && (st->st_mode & 077) && !(st->st_mode & 022))
		return 1; /* readable by others only, as 0.1.1 left it: tighten */
	if (st->st_mode & bad)
		return lpi_fail(
			LP_EUNSAFE,
			"pause directory %s is open to %s (mode %04o): run 'chmod 700 %s' or choose another with --pause-dir",
			path, strict ? "group or others" : "writes by group or others",
			(unsigned)(st->st_mode & 07777), path);
	return LP_OK;
}

/* ---------------------------------------------------------------- trust */

int lpi_trust_why(const struct stat *st, int want_dir, mode_t forbidden, char *why, size_t size)
{
	if (S_ISLNK(st->st_mode))
		snprintf(why, size, "is a symlink");
	else if (want_dir && !S_ISDIR(st->st_mode))
		snprintf(why, size, "is not a directory");
	else if (!want_dir && !S_ISREG(st->st_mode))
		snprintf(why, size, "is not a regular file");
	else if (st->st_uid != geteuid())
		snprintf(why, size, "belongs to uid %u, not to you (uid %u)", (unsigned)st->st_uid,
			 (unsigned)geteuid());
	else if (st->st_mode & forbidden)
		snprintf(why, size, "is %s group or others (mode %04o)",
			 (forbidden & 044) ? "open to" : "writable by",
			 (unsigned)(st->st_mode & 07777));
	else
		return 0;
	return 1;
}

/* The path of an open descriptor, for a message that names a fix; the
 * label when /proc cannot say. */
static void fd_path(int fd, const char *label, char *buf, size_t size)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, size - 1);
	if (n <= 0 || (size_t)n >= size - 1) {
		snprintf(buf, size, "%s", label);
		return;
	}
	buf[n] = '\0';
}

/* Refuse (LP_EUNSAFE) an open directory or file inside the store that
 * does not meet the trust rule; the message names the path and a fix that
 * works where it stands: a directory of ours is made private again with
 * chmod (what it holds is then checked in turn when opened), another
 * user's entry is removed, or moved aside when its contents are not ours
 * to remove. */
int lpi_fd_trust(int fd, int want_dir, const char *label)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot inspect %s", label);
	return lpi_fd_trust_st(fd, &st, want_dir, label);
}

int lpi_fd_trust_st(int fd, const struct stat *stp, int want_dir, const char *label)
{
	const struct stat st = *stp;
	char why[96];
	if (!lpi_trust_why(&st, want_dir, 022, why, sizeof why))
		return LP_OK;
	char path[PATH_MAX];
	fd_path(fd, label, path, sizeof path);
	char *quoted = NULL;
	if (lp_shell_quote(&quoted, path) != LP_OK)
		quoted = NULL;
	const char *q = quoted ? quoted : path;
	int foreign = st.st_uid != geteuid();
	int rc;
	if (want_dir && foreign)
		rc = lpi_fail(
			LP_EUNSAFE,
			"%s %s: another user may have planted it to forge pauses; refusing it: remove it (rm -rf %s; if that is refused, mv %s %s.untrusted)",
			path, why, q, q, q);
	else if (want_dir)
		rc = lpi_fail(
			LP_EUNSAFE,
			"%s %s: another user may have planted files in it; refusing it: run 'chmod go-w %s' (what it holds is then checked in turn) or remove it (rm -rf %s)",
			path, why, q, q);
	else if (foreign)
		rc = lpi_fail(
			LP_EUNSAFE,
			"%s %s: another user may have planted it; refusing it: remove it (rm -f %s)",
			path, why, q);
	else
		rc = lpi_fail(LP_EUNSAFE,
			      "%s %s; refusing it: run 'chmod go-w %s' or remove it (rm -f %s)",
			      path, why, q, q);
	free(quoted);
	return rc;
}

int lpi_dir_open(int dirfd, const char *name, int create, const char *label, int *out)
{
	if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return lpi_fail_errno(LP_ERROR, errno, "cannot create %s", label);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return lpi_fail(LP_ENOTFOUND, "%s does not exist", label);
		if (e == ELOOP || e == ENOTDIR) {
			char *q = NULL;
			if (lp_shell_quote(&q, label) != LP_OK)
				q = NULL;
			int rc = lpi_fail(
				LP_EUNSAFE,
				"%s is a symlink or not a directory; refusing it: remove it (rm %s)",
				label, q ? q : label);
			free(q);
			return rc;
		}
		return lpi_fail_errno(LP_ERROR, e, "cannot open %s", label);
	}
	int rc = lpi_fd_trust(fd, 1, label);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return LP_OK;
}

void lp_store_set_warn(lp_store *store, lp_warn_fn fn, void *ud)
{
	if (store == NULL)
		return;
	store->warn_fn = fn;
	store->warn_ud = ud;
}

void lpi_store_warn(lp_store *store, const char *message)
{
	if (store != NULL && store->warn_fn != NULL)
		store->warn_fn(store->warn_ud, message);
}

int lp_store_open(lp_store **out, const char *path, unsigned flags)
{
	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return lpi_fail(LP_EINVAL, "pause directory is empty");
	int create = (flags & LP_STORE_CREATE) != 0;
	lp_store *s = calloc(1, sizeof *s);
	if (s == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	s->fd = s->runs_fd = s->pending_fd = s->spare_fd = -1;
	int rc = LP_ERROR, tighten = 0;
	s->path = absolute(path);
	if (s->path == NULL)
		goto fail;
	normalize(s->path);
	char shared[PATH_MAX], chosen[PATH_MAX];
	unsigned shared_owner;
	default_dirs(shared, chosen, &shared_owner);
	struct stat st, dst;
	/* the default by any spelling or any link to it (10.16) */
	s->is_default = strcmp(s->path, chosen) == 0 ||
			(lstat(chosen, &dst) == 0 && lstat(s->path, &st) == 0 &&
			 st.st_dev == dst.st_dev && st.st_ino == dst.st_ino);
	if (s->is_default && strcmp(chosen, shared) != 0) {
		char line[3 * PATH_MAX];
		snprintf(
			line, sizeof line,
			"the shared default pause directory %s belongs to uid %u: using your own %s instead (--pause-dir or $%s choose another)",
			shared, shared_owner, chosen, LP_ENV_DIR);
		add_notice(s, line);
	}

	if (lstat(s->path, &st) < 0) {
		if (errno != ENOENT) {
			rc = lpi_fail(
				LP_ERROR,
				"cannot use pause directory %s (%s): choose another with --pause-dir",
				s->path, strerror(errno));
			goto fail;
		}
		if (!create) {
			rc = lpi_fail(
				LP_ENOTFOUND,
				"pause directory %s does not exist: no pytest run has paused there (pass --pause-dir or set %s to the directory pytest used)",
				s->path, LP_ENV_DIR);
			goto fail;
		}
		if ((rc = make_parents(s->path)))
			goto fail;
		if (mkdir(s->path, 0700) < 0 && errno != EEXIST) {
			rc = lpi_fail(
				LP_ERROR,
				"cannot create pause directory %s (%s): choose another with --pause-dir",
				s->path, strerror(errno));
			goto fail;
		}
		if (lstat(s->path, &st) < 0) {
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot inspect pause directory %s",
					    s->path);
			goto fail;
		}
	}
	rc = check_mode(s->path, &st, s->is_default);
	if (rc == 1)
		tighten = 1, rc = LP_OK;
	if (rc)
		goto fail;
	s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->fd < 0) {
		rc = lpi_fail_errno(errno == ELOOP ? LP_EUNSAFE : LP_ERROR, errno,
				    "cannot open pause directory %s", s->path);
		goto fail;
	}
	struct stat st2;
	if (fstat(s->fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		rc = lpi_fail(LP_EUNSAFE,
			      "pause directory %s changed while it was opened; try again", s->path);
		goto fail;
	}
	if (tighten) {
		if (fchmod(s->fd, 0700) < 0) {
			rc = lpi_fail_errno(
				LP_EUNSAFE, errno,
				"pause directory %s is open to group or others (mode %04o) and could not be made 0700; choose another with --pause-dir",
				s->path, (unsigned)(st.st_mode & 07777));
			goto fail;
		}
		char line[PATH_MAX + 128];
		snprintf(
			line, sizeof line,
			"pause directory %s had mode %04o (as pytest-live-pause 0.1.1 made it): tightened to 0700",
			s->path, (unsigned)(st.st_mode & 07777));
		add_notice(s, line);
	}
	if (create && faccessat(s->fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		rc = lpi_fail(
			LP_ERROR,
			"pause directory %s is not writable: fix its permissions or choose another with --pause-dir",
			s->path);
		goto fail;
	}
	char label[PATH_MAX + 16];
	snprintf(label, sizeof label, "%s/runs", s->path);
	rc = lpi_dir_open(s->fd, "runs", create, label, &s->runs_fd);
	if (rc == LP_ENOTFOUND && !create) {
		rc = lpi_fail(LP_ENOTFOUND, "pause directory %s has no runs yet", s->path);
		goto fail;
	}
	if (rc)
		goto fail;
	snprintf(label, sizeof label, "%s/pending", s->path);
	rc = lpi_dir_open(s->fd, "pending", create, label, &s->pending_fd);
	if (rc == LP_ENOTFOUND && !create) {
		/* written by an older layout: an empty index */
		s->pending_fd = -1;
		rc = LP_OK;
	}
	if (rc)
		goto fail;
	*out = s;
	return LP_OK;
fail:
	lp_store_free(s);
	return rc;
}

const char *lp_store_path(const lp_store *store)
{
	return store ? store->path : "";
}

const char *lp_store_notice(const lp_store *store)
{
	return store && store->notice ? store->notice : "";
}

/* Write all of data at offset off (off < 0: at the file's offset),
 * through short writes and EINTR; 0, or -1 with errno set. */
static int write_at(int fd, const char *data, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = off < 0 ? write(fd, data, len) : pwrite(fd, data, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += w;
		len -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

/* Write data at offset 0 of a file made ahead, whose one byte (written
 * when it was made by reserve(): what reserves its block, 60 us of a
 * first write here) is covered by any data; 0, or -1 with errno set. */
static int write_over(int fd, const char *data, size_t len)
{
	return len == 0 ? ftruncate(fd, 0) : write_at(fd, data, len, 0);
}

/* The one byte a file made ahead holds (see write_over). */
static int reserve(int fd)
{
	return write_at(fd, "\n", 1, -1);
}

void lp_store_free(lp_store *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->runs_fd >= 0)
		close(s->runs_fd);
	if (s->pending_fd >= 0)
		close(s->pending_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd); /* unnamed: it goes with its descriptor */
	free(s->path);
	free(s->notice);
	free(s);
}

int lp_store_warm(lp_store *store)
{
	if (store == NULL)
		return lpi_fail(LP_EINVAL, "lp_store_warm: NULL store");
	if (__atomic_load_n(&store->spare_fd, __ATOMIC_ACQUIRE) >= 0)
		return LP_OK;
	int fd = openat(store->runs_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT)
			return LP_OK; /* no unnamed files here: commands are written as before */
		return lpi_fail_errno(LP_ERROR, errno, "cannot prepare a command file in %s/runs",
				      store->path);
	}
	if (reserve(fd) < 0) {
		int e = errno;
		close(fd);
		return lpi_fail_errno(LP_ERROR, e, "cannot prepare a command file in %s/runs",
				      store->path);
	}
	int none = -1;
	if (!__atomic_compare_exchange_n(&store->spare_fd, &none, fd, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		close(fd); /* another thread kept one first */
	return LP_OK;
}

int lpi_store_link_spare(lp_store *store, int dirfd, const char *name, const char *data, size_t len)
{
	int fd = store ? __atomic_exchange_n(&store->spare_fd, -1, __ATOMIC_ACQ_REL) : -1;
	if (fd < 0)
		return -1;
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int rc = -1;
	if (write_over(fd, data, len) == 0) {
		if (linkat(AT_FDCWD, self, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
			rc = LP_OK;
		else if (errno == EEXIST)
			rc = 1;
		/* else (no /proc, another filesystem): -1, the usual way */
	}
	close(fd); /* linked, or freed with its last descriptor */
	return rc;
}

/* Contract: write all len bytes of data to fd, retrying short writes and
 * EINTR; 0, or -1 with errno set (the caller names the file). */
int lpi_write_all(int fd, const char *data, size_t len)
{
	return write_at(fd, data, len, -1);
}

/* A fresh, empty temporary file in dirfd: its name (".tmp.<pid>.<hex>",
 * a dot-name no reader lists) in tmp, its descriptor in *fd. */
static int make_temp(int dirfd, char tmp[LPI_KEPT_MAX], int *fd, const char *label)
{
	char rnd[17];
	int rc = lpi_random_hex(rnd, 8);
	if (rc)
		return rc;
	snprintf(tmp, LPI_KEPT_MAX, ".tmp.%ld.%s", (long)getpid(), rnd);
	*fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot write %s", label);
	return LP_OK;
}

int lpi_file_spare(int dirfd, lpi_spare *out, const char *label)
{
	out->fd = -1;
	out->name[0] = '\0';
	int rc = make_temp(dirfd, out->name, &out->fd, label);
	if (rc) {
		out->name[0] = '\0';
		return rc;
	}
	if (reserve(out->fd) < 0) {
		int e = errno;
		lpi_spare_drop(dirfd, out);
		return lpi_fail_errno(LP_ERROR, e, "cannot write %s", label);
	}
	return LP_OK;
}

void lpi_spare_drop(int dirfd, lpi_spare *s)
{
	if (s->fd < 0)
		return;
	close(s->fd);
	unlinkat(dirfd, s->name, 0);
	s->fd = -1;
	s->name[0] = '\0';
}

/* lpi_file_publish and lpi_file_replace: kept (LPI_KEPT_MAX bytes, or
 * NULL) gets the temporary name under which a file replaced by exchange
 * was left, "" when none was; spare: a temporary made ahead
 * (lpi_file_spare) to write into instead of a new one, consumed whatever
 * happens (NULL or fd -1: make one now). */
static int publish(int dirfd, const char *name, const char *data, size_t len, int exclusive,
		   const char *label, char *kept, lpi_spare *spare)
{
	char tmp[LPI_KEPT_MAX];
	if (kept)
		kept[0] = '\0';
	int fd = -1, ahead = spare && spare->fd >= 0;
	if (ahead) {
		fd = spare->fd;
		snprintf(tmp, sizeof tmp, "%s", spare->name);
		spare->fd = -1;
		spare->name[0] = '\0';
	} else {
		int rc = make_temp(dirfd, tmp, &fd, label);
		if (rc)
			return rc;
	}
	int durable = !(exclusive & LP_PUBLISH_VOLATILE) && !lpi_fsync_disabled();
	exclusive &= LP_PUBLISH_EXCLUSIVE;
	int bad = (ahead ? write_over(fd, data, len) : lpi_write_all(fd, data, len)) < 0 ||
		  (durable && fsync(fd) < 0);
	int e = errno;
	if (close(fd) < 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (bad) {
		unlinkat(dirfd, tmp, 0);
		return lpi_fail_errno(LP_ERROR, e, "cannot write %s", label);
	}
	lpi_crash_point("publish:written"); /* temporary file only */
	int published = 0, tmp_gone = 0;
	if (!exclusive && kept && renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0) {
		/* the replaced file now has the temporary name: the caller
		 * removes it, where its inode's release costs no one's wait */
		published = tmp_gone = 1;
		snprintf(kept, LPI_KEPT_MAX, "%s", tmp);
	} else if (!exclusive) {
		/* nothing to replace (ENOENT), or no exchange on this filesystem */
		if (renameat(dirfd, tmp, dirfd, name) == 0)
			published = tmp_gone = 1;
		else
			e = errno;
	} else if (linkat(dirfd, tmp, dirfd, name, 0) == 0) {
		published = 1;
	} else if (errno == EEXIST) {
		e = EEXIST;
	} else if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0) {
		published = tmp_gone = 1; /* a filesystem without hard links */
	} else {
		e = errno;
	}
	if (!tmp_gone)
		unlinkat(dirfd, tmp, 0);
	if (!published) {
		if (e == EEXIST && exclusive)
			return 1;
		return lpi_fail_errno(LP_ERROR, e, "cannot publish %s", label);
	}
	lpi_crash_point("publish:published"); /* before the directory's fsync */
	if (durable)
		fsync(dirfd); /* best effort: the file itself is already durable */
	return LP_OK;
}

void lpi_populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	if (n < LPI_POPULATE_MIN)
		return;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p, b = a + n;
	a = (a + page - 1) & ~(page - 1);
	b &= ~(page - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE); /* advice: may fail */
#else
	(void)p;
	(void)n;
#endif
}

/* Open a regular file for lpi_file_read and lpi_file_map: never through
 * a symlink, never a FIFO, never one that fails the trust rule, none over
 * cap bytes. LP_OK with *fd open and *st its status. */
static int open_checked(int dirfd, const char *name, size_t cap, const char *label, int *fd_out,
			struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return lpi_fail(LP_ENOTFOUND, "%s does not exist", label);
		if (e == ELOOP)
			return lpi_fail(LP_EUNSAFE, "%s is a symlink; refusing to follow it",
					label);
		lpi_fail_errno(LP_ERROR, e, "cannot read %s", label);
		errno = e; /* kept for callers that retry transient errors (claim.c) */
		return LP_ERROR;
	}
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return lpi_fail_errno(LP_ERROR, e, "cannot read %s", label);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return lpi_fail(LP_EUNSAFE, "%s is not a regular file; refusing it", label);
	}
	int trc = lpi_fd_trust_st(fd, st, 0, label); /* st: this very descriptor's */
	if (trc) {
		close(fd);
		return trc;
	}
	if ((size_t)st->st_size > cap) {
		close(fd);
		return lpi_fail(LP_EBADCMD, "%s is %lld bytes, over the limit of %zu bytes", label,
				(long long)st->st_size, cap);
	}
	*fd_out = fd;
	return LP_OK;
}

int lpi_file_lines(int dirfd, const char *name, size_t cap, const char *label,
		   int (*fn)(char *line, size_t len, void *ud), void *ud)
{
	int fd;
	struct stat st;
	int rc = open_checked(dirfd, name, cap, label, &fd, &st);
	if (rc)
		return rc;
	char *buf = malloc(LPI_LINES_PIECE);
	if (buf == NULL) {
		close(fd);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	size_t have = 0, total = 0;
	int skipping = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, LPI_LINES_PIECE - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot read %s", label);
			break;
		}
		if (r == 0 || (total += (size_t)r) > cap)
			break; /* the end; a last line without its newline is no line */
		have += (size_t)r;
		size_t at = 0;
		char *lf;
		while ((lf = memchr(buf + at, '\n', have - at)) != NULL) {
			size_t len = (size_t)(lf - (buf + at));
			*lf = '\0';
			if (!skipping && (rc = fn(buf + at, len, ud)))
				break;
			skipping = 0;
			at += len + 1;
		}
		if (rc)
			break;
		if (at == 0 && have == LPI_LINES_PIECE) { /* a line longer than a piece */
			skipping = 1;
			have = 0;
			continue;
		}
		memmove(buf, buf + at, have - at);
		have -= at;
	}
	free(buf);
	close(fd);
	return rc;
}

int lpi_file_map(int dirfd, const char *name, size_t cap, const char *label, const char **out,
		 size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = -1; /* set by open_checked on LP_OK (gcc -O3 cannot see it) */
	struct stat st;
	int rc = open_checked(dirfd, name, cap, label, &fd, &st);
	if (rc)
		return rc;
	if (st.st_size == 0) {
		close(fd);
		return LP_OK; /* nothing to map */
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return lpi_fail_errno(LP_ERROR, e, "cannot read %s", label);
	*out = p;
	*len = (size_t)st.st_size;
	return LP_OK;
}

void lpi_file_unmap(const char *p, size_t len)
{
	if (p != NULL && len > 0)
		munmap((void *)p, len);
}

/*
 * Contract: make dirfd/name durable after the fact: fsync of the file
 * (opened never through a symlink, never blocking on a FIFO), then of the
 * directory (best effort, as after every publish). LP_OK, or LP_ERROR
 * (message set) when the file cannot be opened or flushed; nothing is
 * done, LP_OK, under LP_UNSAFE_NO_FSYNC. For a file published with
 * LP_PUBLISH_VOLATILE: a pause's final file (settle.c), a command left
 * untaken (claim.c).
 */
int lpi_file_flush(int dirfd, const char *name)
{
	if (lpi_fsync_disabled())
		return LP_OK;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return lpi_fail_errno(LP_ERROR, errno, "cannot open %s to flush it", name);
	int bad = fsync(fd) < 0;
	int e = errno;
	close(fd);
	if (bad)
		return lpi_fail_errno(LP_ERROR, e, "cannot flush %s", name);
	fsync(dirfd);
	return LP_OK;
}

int lpi_file_publish(int dirfd, const char *name, const char *data, size_t len, int exclusive,
		     const char *label)
{
	return publish(dirfd, name, data, len, exclusive, label, NULL, NULL);
}

/*
 * Contract: replace dirfd/name with data as lpi_file_publish(flags, not
 * exclusive) does, but by exchange (renameat2 RENAME_EXCHANGE) where the
 * filesystem has it and name exists: the file it replaced is then left
 * whole under the temporary name put in kept (a dot-name no reader lists),
 * and the caller must remove it; kept is "" when nothing was left (no
 * file to replace, or a filesystem without exchange: a plain rename).
 * Why: on ext4, renaming over a file releases its inode inside rename(2),
 * 0.45 ms p50 here (bench/floor/replace.c, docs/performance.md), on the resume path;
 * the settle thread removes it instead. spare (or NULL): a temporary made
 * ahead with lpi_file_spare, written into instead of a new one (creating
 * a file is what costs most here: 0.1-0.3 ms on ext4, bench/floor/), and
 * consumed whatever happens.
 */
int lpi_file_replace(int dirfd, const char *name, const char *data, size_t len, int flags,
		     const char *label, char kept[LPI_KEPT_MAX], lpi_spare *spare)
{
	return publish(dirfd, name, data, len, flags & ~LP_PUBLISH_EXCLUSIVE, label, kept, spare);
}

int lpi_file_read(int dirfd, const char *name, size_t cap, const char *label, char **out,
		  size_t *len)
{
	return lpi_file_read_st(dirfd, name, cap, label, out, len, NULL);
}

int lpi_file_read_st(int dirfd, const char *name, size_t cap, const char *label, char **out,
		     size_t *len, struct stat *st_out)
{
	*out = NULL;
	if (len)
		*len = 0;
	int fd = -1; /* set by open_checked on LP_OK (gcc -O3 cannot see it) */
	struct stat st;
	int rc = open_checked(dirfd, name, cap, label, &fd, &st);
	if (rc)
		return rc;
	if (st_out)
		*st_out = st;
	/* room for the size seen plus a little growth, never past the cap */
	size_t want = (size_t)st.st_size + 4096;
	size_t size = (want < cap ? want : cap) + 2;
	char *buf = malloc(size);
	if (buf == NULL) {
		close(fd);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	lpi_populate(buf, size);
	size_t got = 0;
	for (;;) {
		if (got == size - 1)
			break;
		size_t asked = size - 1 - got;
		ssize_t r = read(fd, buf + got, asked);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			lpi_fail_errno(LP_ERROR, e, "cannot read %s", label);
			errno = e;
			return LP_ERROR;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		/* a regular file read short at or past the size fstat saw is
		 * at its end: no second read(2) to be told so */
		if ((size_t)r < asked && got >= (size_t)st.st_size)
			break;
	}
	close(fd);
	if (got > cap) {
		free(buf);
		return lpi_fail(LP_EBADCMD, "%s is over the limit of %zu bytes", label, cap);
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return LP_OK;
}

static int client_name_check(const lp_store *store, const char *name)
{
	if (store == NULL)
		return lpi_fail(LP_EINVAL, "no pause directory");
	int rc = lp_id_validate(name, "file name");
	if (rc)
		return rc;
	static const char *const ours[] = {"runs", "pending", "catalog.tsv"};
	for (size_t k = 0; k < sizeof ours / sizeof *ours; k++)
		if (strcmp(name, ours[k]) == 0)
			return lpi_fail(LP_EINVAL, "'%s' is a name of the protocol; choose another",
					name);
	return LP_OK;
}

int lp_store_publish(lp_store *store, const char *name, const char *data, size_t len)
{
	int rc = client_name_check(store, name);
	if (rc)
		return rc;
	if (data == NULL)
		return lpi_fail(LP_EINVAL, "lp_store_publish: data is NULL");
	char label[PATH_MAX + LP_ID_MAX + 2];
	snprintf(label, sizeof label, "%s/%s", store->path, name);
	return lpi_file_publish(store->fd, name, data, len, 0, label);
}

int lp_store_published(lp_store *store, const char *name)
{
	int rc = client_name_check(store, name);
	if (rc)
		return rc;
	struct stat st;
	return fstatat(store->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 1 : 0;
}

int lp_store_unlink(lp_store *store, const char *name)
{
	int rc = client_name_check(store, name);
	if (rc)
		return rc;
	if (unlinkat(store->fd, name, 0) < 0 && errno != ENOENT)
		return lpi_fail_errno(LP_ERROR, errno, "cannot remove %s/%s", store->path, name);
	return LP_OK;
}
