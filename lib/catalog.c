/*
 * catalog.c - <dir>/catalog.tsv, the summary index that lets "ls -a" list
 * every pause without opening 10,000 run directories and parsing 20,000
 * pause files, and "runs -a" list every run without reading every
 * run.json. One tab-separated line per run started ("R"), per run ended
 * ("E") and per pause ended ("P"), each appended with a single write(2) on an O_APPEND
 * descriptor by the process that owns the fact (see docs/protocol.md,
 * "The catalog").
 *
 * The catalog is only an accelerator: correctness never depends on it.
 * A run with no "R" line is walked as before; a pause is unindexed from
 * pending/ only after its "P" line is durable, so every pause of a
 * catalogued run is in pending/ or in the catalog. A failed append is
 * reported to the caller, which then keeps the pause in pending/.
 *
 * Beside it, catalog-json.tsv holds the listing JSON of each ended pause
 * ("J" lines: what "ls -a --json" prints for it, written by the process
 * that ended it), so that listing reads one file, not 20,000: a line
 * missing or failing its checksum only means the pause file is read
 * (lpi_listing_*).
 *
 * gc compacts the files (lpi_catalog_compact): it takes an exclusive
 * flock(2) on it, reads it, and renames a filtered copy over it before
 * unlocking. Appenders write only under a shared flock of the file the
 * name designates at that moment, so no line is ever appended to a file
 * that was already read and replaced.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CATALOG_NAME "catalog.tsv"
#define CATALOG_HEADER "pytest-live-pause catalog 1\n"
#define CATALOG_CAP ((size_t)1 << 30) /* 1 GiB: millions of pauses */
#define P_FIELDS 13                   /* "P" and 12 values */
#define E_FIELDS 8                    /* "E" and 7 values */
#define CATALOG_LOCK_WAIT_MS 5000     /* appenders wait this long for a gc */
#define LISTING_NAME "catalog-json.tsv"
#define LISTING_HEADER "pytest-live-pause catalog-json 1\n"

/* escaping at most doubles a byte, and a JSON-encoded size is never
 * below the raw size: the bounded fields always fit a line */
_Static_assert(2 * (LP_CAP_NODEID + LP_CAP_TASK + LP_CAP_CWD + 2 * LP_CAP_HOSTNAME) + 4096 <
		       LP_CATALOG_LINE_CAP,
	       "a catalog line must hold every bounded field");

/* ------------------------------------------------------------ writing */

static int add_listing(lp_store *store, const lp_json *doc);

/* Append `s` escaped (\\ \t \n \r) to buf; returns the new length, or
 * (size_t)-1 when it does not fit. */
static size_t put_field(char *buf, size_t at, size_t cap, const char *s)
{
	for (; s && *s; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
				  : *s == '\t' ? "\\t"
				  : *s == '\n' ? "\\n"
				  : *s == '\r' ? "\\r"
					       : NULL;
		size_t need = esc ? 2 : 1;
		if (at + need + 2 > cap) /* room for the tab or LF, and a NUL */
			return (size_t)-1;
		if (esc) {
			buf[at++] = esc[0];
			buf[at++] = esc[1];
		} else {
			buf[at++] = *s;
		}
	}
	return at;
}

/* Whether fd is still the file named `name` (gc replaces it). */
static int is_current(lp_store *store, const char *name, int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && fstatat(store->fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* flock(fd, op) in a bounded wait: appenders wait at most
 * CATALOG_LOCK_WAIT_MS for a compaction (which holds the lock for the
 * few milliseconds of one rewrite), gc waits as long as it takes. */
static int lock_file(int fd, int op, int64_t wait_ms, const char *label)
{
	int64_t deadline = lpi_mono_ms() + wait_ms;
	struct timespec nap = {0, 1000000}; /* 1 ms, doubling to 16 ms */
	for (;;) {
		if (flock(fd, op | (wait_ms >= 0 ? LOCK_NB : 0)) == 0)
			return LP_OK;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || lpi_mono_ms() >= deadline)
			return lpi_fail_errno(LP_ERROR, errno, "cannot lock %s", label);
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 16000000)
			nap.tv_nsec *= 2;
	}
}

/*
 * Open `name` (catalog.tsv or catalog-json.tsv, whose first line is
 * `header`) and lock it (LOCK_SH for an append, LOCK_EX for a
 * compaction), creating it with its header if it does not exist. On
 * return *out is the locked descriptor of the file the name designates
 * now: a descriptor whose file was replaced before the lock was granted
 * is dropped and the name opened again (at least 16 times, and for as
 * long as wait_ms allows). So an append never lands in a
 * file that a compaction has already read and replaced (see
 * docs/protocol.md, "The catalog").
 */
static int open_locked(lp_store *store, const char *name, const char *header, int op,
		       int64_t wait_ms, int *out)
{
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/%s", store->path, name);
	/* a compaction may replace the file between our open and our lock:
	 * try again, for as long as the lock itself may be waited for (a
	 * count alone lost appends to a gc compacting in a loop) */
	int64_t until = lpi_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	for (int tries = 0; tries < 16 || lpi_mono_ms() < until; tries++) {
		/* O_RDWR: a shared lock over NFS is a read lock */
		int fd = openat(store->fd, name,
				O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT)
				return lpi_fail_errno(errno == ELOOP ? LP_EUNSAFE : LP_ERROR, errno,
						      "cannot append to %s", label);
			/* the first writer creates it, header first, atomically */
			int rc =
				lpi_file_publish(store->fd, name, header, strlen(header), 1, label);
			if (rc < 0)
				return rc;
			continue;
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return lpi_fail(LP_EUNSAFE, "%s is not a regular file", label);
		}
		int trc = lpi_fd_trust(fd, 0, label); /* another user's: never written to */
		if (trc) {
			close(fd);
			return trc;
		}
		int rc = lock_file(fd, op, wait_ms, label);
		if (rc) {
			close(fd);
			return rc;
		}
		if (is_current(store, name, fd)) {
			*out = fd;
			return LP_OK;
		}
		close(fd); /* replaced meanwhile: the new one */
	}
	return lpi_fail(LP_ERROR, "cannot open %s: it keeps being replaced", label);
}

/* Write one line (without its LF; line has room for one more byte) to
 * `name` with a single write(2), holding the shared lock. */
static int append_to(lp_store *store, const char *name, const char *header, char *line, size_t len,
		     int durable)
{
	int fd, rc = open_locked(store, name, header, LOCK_SH, CATALOG_LOCK_WAIT_MS, &fd);
	if (rc)
		return rc;
	line[len++] = '\n';
	ssize_t w;
	do
		w = write(fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot append to %s/%s", store->path, name);
	else if ((size_t)w != len)
		rc = lpi_fail(LP_ERROR, "short write to %s/%s (disk full?)", store->path, name);
	else if (durable && !lpi_fsync_disabled() && fdatasync(fd) < 0)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot flush %s/%s", store->path, name);
	close(fd); /* and unlock */
	return rc;
}

static int append_line(lp_store *store, char *line, size_t len, int durable)
{
	return append_to(store, CATALOG_NAME, CATALOG_HEADER, line, len, durable);
}

int lpi_catalog_add_run(lp_store *store, const char *run_id)
{
	char line[LP_ID_MAX + 8];
	int n = snprintf(line, sizeof line, "R\t%s", run_id);
	return append_line(store, line, (size_t)n, 0);
}

int lpi_catalog_add_end(lp_store *store, const lp_json *run)
{
	char num[4][40], line[4096];
	snprintf(num[0], sizeof num[0], "%.16g", lpj_get_real(run, "started_at", 0));
	snprintf(num[1], sizeof num[1], "%.16g", lpj_get_real(run, "ended_at", 0));
	snprintf(num[2], sizeof num[2], "%lld", lpj_get_int(run, "exitstatus", 0));
	snprintf(num[3], sizeof num[3], "%lld", lpj_get_int(run, "pid", 0));
	const char *fields[E_FIELDS] = {
		"E",
		lpj_get_str(run, "run_id"),
		num[0],
		num[1],
		num[2],
		num[3],
		lpj_get_str(run, "hostname"),
		lpj_get_str(run, "cwd"),
	};
	size_t at = 0;
	for (int k = 0; k < E_FIELDS && at != (size_t)-1; k++) {
		if (k > 0)
			line[at++] = '\t';
		at = put_field(line, at, sizeof line, fields[k]);
	}
	if (at == (size_t)-1)
		return lpi_fail(LP_ERROR, "catalog line of the end of run %s is too long",
				fields[1] ? fields[1] : "?");
	return append_line(store, line, at, 0);
}

int lpi_catalog_add_pause(lp_store *store, const lp_json *doc)
{
	/* The fields are bounded when the pause file is written (internal.h:
	 * nodeid, task, cwd, hostname), and catalog escaping at most doubles
	 * a byte: the line always fits. Were it not to, the append fails and
	 * the pause stays in pending/, where "ls -a" reads its file. */
	enum { CAP = LP_CATALOG_LINE_CAP };
	char *line = malloc(CAP);
	if (line == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	/* 16 digits, as lpj_dump writes the pause file: both read back the same */
	char num[4][40];
	snprintf(num[0], sizeof num[0], "%.16g", lpj_get_real(doc, "created_at", 0));
	snprintf(num[1], sizeof num[1], "%.16g", lpj_get_real(doc, "finished_at", 0));
	if (lpj_is_null(doc, "timeout"))
		snprintf(num[2], sizeof num[2], "inf"); /* no timeout; strtod reads it back */
	else
		snprintf(num[2], sizeof num[2], "%.16g", lpj_get_real(doc, "timeout", 0));
	snprintf(num[3], sizeof num[3], "%lld", lpj_get_int(doc, "pid", 0));
	const char *fields[P_FIELDS] = {
		"P",
		lpj_get_str(doc, "pause_id"),
		lpj_get_str(doc, "status"),
		lpj_get_str(doc, "kind"),
		num[0],
		num[1],
		num[2],
		num[3],
		lpj_get_str(doc, "worker_id"),
		lpj_get_str(doc, "hostname"),
		lpj_get_str(doc, "cwd"),
		lpj_get_str(doc, "nodeid"),
		lpj_get_str(doc, "task"),
	};
	size_t at = 0;
	for (int k = 0; k < P_FIELDS && at != (size_t)-1; k++) {
		if (k > 0)
			line[at++] = '\t';
		at = put_field(line, at, CAP, fields[k]);
	}
	int rc = at == (size_t)-1 ? lpi_fail(LP_ERROR, "catalog line of pause %s is too long",
					     fields[1] ? fields[1] : "?")
				  : append_line(store, line, at, 1);
	free(line);
	/* then its listing line: an accelerator of the accelerator, whose
	 * failure costs only the read of one pause file */
	if (rc == LP_OK && add_listing(store, doc) != LP_OK)
		lpi_error_clear();
	return rc;
}

/*
 * The listing object of a pause, what "ls --json" and GET /api/pauses
 * print for it: its pause file as lpj_dump writes it, then "path" and
 * "state" (in that order, last), so that the object of an ended pause is
 * its pause file's bytes and a tail (the "J" lines hold those bytes). A
 * pause file that already has either key (not ours) gets them set and is
 * dumped whole. The one definition: scan.c lists pause files with it, and
 * puts the same tail after the bytes of a "J" line.
 */
char *lpi_listing_json(lp_json *doc, const char *state, const char *path)
{
	if (lpj_has(doc, "state") || lpj_has(doc, "path")) {
		if (lpj_set_str(doc, "state", state) || lpj_set_str(doc, "path", path))
			return NULL;
		return lpj_dump(doc);
	}
	lp_json *t = lpj_object();
	char *body = lpj_dump(doc), *tail = NULL, *out = NULL;
	if (t && !lpj_set_str(t, "path", path) && !lpj_set_str(t, "state", state))
		tail = lpj_dump(t); /* {"path":...,"state":...}: sorted, as wanted */
	lpj_free(t);
	size_t b = body ? strlen(body) : 0, n = tail ? strlen(tail) : 0;
	if (b >= 2 && n >= 2 && body[0] == '{' && body[b - 1] == '}' &&
	    (out = malloc(b + n + 1)) != NULL) {
		memcpy(out, body, b - 1);
		size_t o = b - 1;
		if (b > 2)
			out[o++] = ',';       /* after the last member */
		memcpy(out + o, tail + 1, n); /* with its NUL */
	}
	free(body);
	free(tail);
	if (out == NULL)
		lpi_fail(LP_ERROR, "out of memory");
	return out;
}

/* The checksum of a "J" line's JSON: 64-bit words (little-endian),
 * each mixed in by a bijective step, so a changed word always changes
 * it; damage and cut lines are caught (it is no defence against a
 * forger, who can write pause files as well). */
static uint64_t checksum(const char *s, size_t n)
{
	const unsigned char *b = (const unsigned char *)s;
	uint64_t h = 0x6c70206c69737431ULL ^ n, w;
	size_t i = 0;
	for (;; i += 8) {
		size_t left = n - i < 8 ? n - i : 8;
		if (left == 8) {
			memcpy(&w, b + i, 8); /* one load */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			w = __builtin_bswap64(w);
#endif
		} else {
			w = 0;
			for (size_t k = 0; k < left; k++)
				w |= (uint64_t)b[i + k] << (8 * k);
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h = h << 29 | h >> 35;
		if (left < 8)
			return h;
	}
}

/* Append the "J" line of an ended pause (doc: its final pause file, just
 * published) to catalog-json.tsv: its id, the checksum and the pause
 * file's bytes, read back (not dumped again: the paused process pays one
 * small read and one append). Not flushed, and a failure is only
 * reported: without its line, readers read the pause file. */
static int add_listing(lp_store *store, const lp_json *doc)
{
	const char *id = lpj_get_str(doc, "pause_id");
	char run_id[LP_ID_MAX + 1], name[3 * LP_ID_MAX + 32];
	if (id == NULL || lpi_pause_id_run(id, run_id) != LP_OK || lpj_has(doc, "state") ||
	    lpj_has(doc, "path"))
		return lpi_fail(LP_EINVAL, "pause file of %s: no listing line", id ? id : "?");
	snprintf(name, sizeof name, "%s/pauses/%s.json", run_id, id);
	char *text, *line = NULL;
	size_t n;
	int rc = lpi_file_read(store->runs_fd, name, LP_CAP_PAUSE, "pause file", &text, &n);
	if (rc)
		return rc;
	/* our pause file: one object on one line (lpj_dump never writes a
	 * TAB, LF or CR), else no line */
	if (n < 2 || text[0] != '{' || text[n - 1] != '}' || memchr(text, '\n', n) ||
	    memchr(text, '\t', n) || memchr(text, '\r', n))
		rc = lpi_fail(LP_EINVAL, "pause file of %s: not one line", id);
	else if ((line = malloc(n + 128)) == NULL)
		rc = lpi_fail(LP_ERROR, "out of memory");
	if (!rc) {
		int k = snprintf(line, 128, "J\t%s\t%016llx\t", id,
				 (unsigned long long)checksum(text, n));
		memcpy(line + k, text, n);
		rc = append_to(store, LISTING_NAME, LISTING_HEADER, line, (size_t)k + n, 0);
	}
	free(line);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ reading */

/* Split the first `head` fields of a line in place (as split() does):
 * returns head when more follows the head-th field's tab (*rest: just
 * after it), or -n when the line ended after n fields. */
static int split_upto(char *line, char **fields, int head, char **rest)
{
	/* the bytes that end a run of plain ones: NUL, TAB, backslash */
	static const unsigned char stop[256] = {[0] = 1, ['\t'] = 1, ['\\'] = 1};
	int n = 0;
	char *s = line;
	for (;;) {
		fields[n++] = s;
		while (!stop[(unsigned char)*s]) /* a field without escapes stays in place */
			s++;
		char *out = s;
		for (; *s && *s != '\t'; s++) {
			if (*s != '\\') {
				*out++ = *s;
				continue;
			}
			char c = s[1];
			*out++ = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
			if (c)
				s++;
		}
		int more = *s == '\t';
		*out = '\0';
		if (!more)
			return -n;
		if (n == head) {
			*rest = s + 1;
			return head;
		}
		s++;
	}
}

/* Split a line in place at tabs and unescape each field; returns the
 * number of fields (at most max; max + 1: too many). */
static int split(char *line, char **fields, int max)
{
	char *rest;
	int n = split_upto(line, fields, max, &rest);
	return n < 0 ? -n : max + 1;
}

/* split() for the "counts" pass: the first `head` fields are split and
 * unescaped as split() does; the rest are only counted (at a tab that is
 * not escaped, exactly where split() would cut) and left as they are.
 * Returns the number of fields split() would return (max + 1: too many). */
static int split_head(char *line, char **fields, int head, int max)
{
	char *s;
	int n = split_upto(line, fields, head, &s);
	if (n <= 0)
		return -n; /* the line ended within the head */
	for (;;) {
		if (n == max)
			return max + 1;
		n++;
		for (;;) {
			s += strcspn(s, "\\\t");
			if (*s != '\\')
				break;
			s += s[1] ? 2 : 1;
		}
		if (*s != '\t')
			return n;
		s++;
	}
}

/* split_head() (head == max: split()) of a line with no backslash,
 * whose end (its NUL) is `end`: every tab cuts, so the tabs are found
 * with memchr, not byte by byte. The same fields, the same count. */
static int split_plain(char *line, char *end, char **fields, int head, int max)
{
	int n = 0;
	char *s = line;
	for (;;) {
		char *tab = memchr(s, '\t', (size_t)(end - s));
		if (n < head)
			fields[n] = s;
		n++;
		if (tab == NULL)
			return n;
		if (n == max)
			return max + 1; /* more follows the max-th field */
		if (n <= head)
			*tab = '\0';
		s = tab + 1;
	}
}

/* The fields of a line as split_head() cuts them, at memchr's pace when
 * the line has no escape (the usual case). */
static int split_line(char *line, char **fields, int head, int max)
{
	char *end = line + strlen(line); /* a NUL within the line ends it */
	if (memchr(line, '\\', (size_t)(end - line)) == NULL)
		return split_plain(line, end, fields, head, max);
	return head < max ? split_head(line, fields, head, max) : split(line, fields, max);
}

static int parse_real(const char *s, double *out);

/* Whether parse_real() would accept s, without its value: a plain
 * decimal (up to 15 digits, a dot, up to 17 digits: what the runtime
 * writes) is always accepted by strtod, so it is decided without it. */
static int real_ok(const char *s)
{
	size_t i = 0, d = 0, f = 0;
	while (s[i] >= '0' && s[i] <= '9' && d < 16)
		i++, d++;
	if (d > 0 && d < 16 && s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9' && f < 18)
			i++, f++;
	}
	if (d > 0 && d < 16 && f < 18 && s[i] == '\0' && (f > 0 || s[i - 1] != '.'))
		return 1;
	double v;
	return parse_real(s, &v);
}

/* parse_real's value of a plain decimal (digits, a dot, digits; what
 * the runtime writes) without strtod, when it is exactly strtod's: a
 * mantissa below 2^53 and at most 22 digits after the dot, so that both
 * the mantissa and the power of ten are exact doubles and the one
 * division rounds correctly (Clinger's fast path). 0: not such a
 * decimal (strtod decides). */
static int fast_real(const char *s, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
	static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	uint64_t m = 0;
	size_t i = 0, d = 0, f = 0;
	for (; s[i] >= '0' && s[i] <= '9' && d < 18; i++, d++)
		m = m * 10 + (uint64_t)(s[i] - '0');
	if (d > 0 && s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9' && d + f < 18; i++, f++)
			m = m * 10 + (uint64_t)(s[i] - '0');
	if (d == 0 || s[i] != '\0' || m >= (uint64_t)1 << 53)
		return 0;
	*out = (double)m / p10[f];
	return 1;
#else
	(void)s;
	(void)out;
	return 0;
#endif
}

static int parse_real(const char *s, double *out)
{
	if (fast_real(s, out))
		return 1;
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return *s && *end == '\0' && errno == 0;
}

/* strtol(s, end, 10), with plain digits (up to 18: no overflow, what
 * the runtime writes) read without it. */
static long parse_long(const char *s, char **end)
{
	long v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && i < 18; i++)
		v = v * 10 + (s[i] - '0');
	if (i > 0 && s[i] == '\0') {
		*end = (char *)s + i;
		return v;
	}
	return strtol(s, end, 10);
}

/* FNV-1a: the runs are an open-addressing set (10,000 runs: no sort,
 * one probe or two per lookup, what "ls" pays for every run directory). */
static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static int index_runs(lpi_catalog *cat)
{
	size_t size = 16, bytes = 0, used = 0;
	while (size < 2 * cat->nruns)
		size *= 2;
	for (size_t k = 0; k < cat->nruns; k++)
		bytes += strlen(cat->runs[k]) + 1;
	cat->run_set = calloc(size, sizeof *cat->run_set);
	/* the ids side by side: a lookup touches this, not the whole text */
	cat->run_arena = malloc(bytes ? bytes : 1);
	if (cat->run_set == NULL || cat->run_arena == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	cat->run_mask = size - 1;
	for (size_t k = 0; k < cat->nruns; k++) {
		size_t at = hash_str(cat->runs[k]) & cat->run_mask, n = strlen(cat->runs[k]) + 1;
		while (cat->run_set[at] && strcmp(cat->run_set[at], cat->runs[k]) != 0)
			at = (at + 1) & cat->run_mask;
		if (cat->run_set[at] == NULL) {
			cat->run_set[at] = memcpy(cat->run_arena + used, cat->runs[k], n);
			used += n;
		}
	}
	return LP_OK;
}

int lpi_catalog_has_run(const lpi_catalog *cat, const char *run_id)
{
	if (cat == NULL || cat->run_set == NULL)
		return 0;
	for (size_t at = hash_str(run_id) & cat->run_mask; cat->run_set[at];
	     at = (at + 1) & cat->run_mask)
		if (strcmp(cat->run_set[at], run_id) == 0)
			return 1;
	return 0;
}

static int keep_run(lpi_catalog *cat, char *id, size_t *cap)
{
	if (cat->nruns == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		char **nv = realloc(cat->runs, c * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		cat->runs = nv;
		*cap = c;
	}
	cat->runs[cat->nruns++] = id;
	return LP_OK;
}

/* head_only: only f[0..7] are split (the "counts" pass): the texts after
 * them (worker, host, cwd, nodeid, task) are not kept. */
static int keep_pause(lpi_catalog *cat, char **f, size_t *cap, int head_only)
{
	static const char *const final[] = {"resumed", "timed_out", "aborted"};
	static const lp_state codes[] = {LP_STATE_RESUMED, LP_STATE_TIMED_OUT, LP_STATE_ABORTED};
	int ok_status = 0;
	lpi_catalog_pause rec = {0};
	for (size_t k = 0; k < sizeof final / sizeof *final; k++)
		if (strcmp(f[2], final[k]) == 0) {
			ok_status = 1;
			rec.state = codes[k];
		}
	lp_kind kind;
	int numbers_ok = head_only ? real_ok(f[4]) && real_ok(f[5]) && real_ok(f[6])
				   : parse_real(f[4], &rec.created_at) &&
					     parse_real(f[5], &rec.finished_at) &&
					     parse_real(f[6], &rec.timeout);
	if (!ok_status || lp_kind_parse(f[3], &kind) != LP_OK ||
	    lpi_pause_id_run(f[1], rec.run_id) != LP_OK || !numbers_ok) /* it validates the id */
		return LP_OK; /* not ours or damaged: skipped (its run is walked) */
	char *end;
	rec.pid = parse_long(f[7], &end);
	if (*end != '\0')
		return LP_OK;
	if (cat->npauses == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		lpi_catalog_pause *nv = realloc(cat->pauses, c * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		cat->pauses = nv;
		*cap = c;
	}
	rec.pause_id = f[1];
	rec.status = f[2];
	rec.kind = f[3];
	if (!head_only) {
		rec.worker_id = f[8][0] ? f[8] : NULL;
		rec.hostname = f[9];
		rec.cwd = f[10];
		rec.nodeid = f[11];
		rec.task = f[12][0] ? f[12] : NULL;
	}
	cat->pauses[cat->npauses++] = rec;
	return LP_OK;
}

static int keep_end(lpi_catalog *cat, char **f, size_t *cap)
{
	lp_catalog_end rec = {0};
	char *end1, *end2;
	if (lpi_run_id_validate(f[1]) != LP_OK || !parse_real(f[2], &rec.started_at) ||
	    !parse_real(f[3], &rec.ended_at))
		return LP_OK; /* damaged: the run's run.json is read instead */
	rec.exitstatus = (int)parse_long(f[4], &end1);
	rec.pid = parse_long(f[5], &end2);
	if (!f[4][0] || *end1 != '\0' || !f[5][0] || *end2 != '\0')
		return LP_OK;
	if (cat->nends == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		lp_catalog_end *nv = realloc(cat->ends, c * sizeof *nv);
		if (nv == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		cat->ends = nv;
		*cap = c;
	}
	rec.run_id = f[1];
	rec.hostname = f[6];
	rec.cwd = f[7];
	cat->ends[cat->nends++] = rec;
	return LP_OK;
}

/* The "E" lines by run id (what "runs" looks up once per run): an
 * open-addressing set, built in one pass; the first line of a run wins. */
static int index_ends(lpi_catalog *cat)
{
	size_t size = 16;
	while (size < 2 * cat->nends)
		size *= 2;
	if ((cat->end_set = calloc(size, sizeof *cat->end_set)) == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	cat->end_mask = size - 1;
	for (size_t k = 0; k < cat->nends; k++) {
		size_t at = hash_str(cat->ends[k].run_id) & cat->end_mask;
		while (cat->end_set[at] &&
		       strcmp(cat->ends[cat->end_set[at] - 1].run_id, cat->ends[k].run_id) != 0)
			at = (at + 1) & cat->end_mask;
		if (cat->end_set[at] == 0)
			cat->end_set[at] = k + 1;
	}
	return LP_OK;
}

const lp_catalog_end *lpi_catalog_find_end(const lpi_catalog *cat, const char *run_id)
{
	if (cat == NULL || cat->end_set == NULL || run_id == NULL)
		return NULL;
	for (size_t at = hash_str(run_id) & cat->end_mask; cat->end_set[at];
	     at = (at + 1) & cat->end_mask)
		if (strcmp(cat->ends[cat->end_set[at] - 1].run_id, run_id) == 0)
			return &cat->ends[cat->end_set[at] - 1];
	return NULL;
}

enum { PARSE_FULL, PARSE_RUNS, PARSE_COUNTS };
static int load_runs(lp_store *store, const char *label, lpi_catalog **out);
static int parse(char *text, size_t len, lpi_catalog **out);
static int parse_counts(const char *text, size_t len, lpi_catalog **out);

static int load(lp_store *store, int mode, lpi_catalog **out)
{
	*out = NULL;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/%s", store->path, CATALOG_NAME);
	size_t len;
	int rc;
	if (mode == PARSE_COUNTS) {
		/* mapped, not read: the counts pass copies what it keeps (see
		 * parse_counts), so the 4 MB of 10,000 runs cost no fresh pages */
		const char *map;
		rc = lpi_file_map(store->fd, CATALOG_NAME, CATALOG_CAP, label, &map, &len);
		if (rc)
			return rc; /* LP_ENOTFOUND: no catalog (an older layout) */
		rc = parse_counts(map, len, out);
		lpi_file_unmap(map, len);
	} else if (mode == PARSE_RUNS) {
		return load_runs(store, label, out);
	} else {
		char *text;
		rc = lpi_file_read(store->fd, CATALOG_NAME, CATALOG_CAP, label, &text, &len);
		if (rc)
			return rc;
		rc = parse(text, len, out);
	}
	if (rc == LP_ENOTFOUND)
		return lpi_fail(LP_ENOTFOUND, "%s is not a catalog of this version", label);
	return rc;
}

int lpi_catalog_load(lp_store *store, lpi_catalog **out)
{
	return load(store, PARSE_FULL, out);
}

int lpi_catalog_load_counts(lp_store *store, lpi_catalog **out)
{
	return load(store, PARSE_COUNTS, out);
}

int lpi_catalog_load_runs(lp_store *store, lpi_catalog **out)
{
	return load(store, PARSE_RUNS, out);
}

int lpi_catalog_parse(char *text, size_t len, lpi_catalog **out)
{
	return parse(text, len, out);
}

int lpi_catalog_parse_counts(char *text, size_t len, lpi_catalog **out)
{
	int rc = parse_counts(text, len, out);
	free(text);
	return rc;
}

/* The lines of a catalog, split in place (the full load). The runs pass
 * is runs_line's, the counts pass parse_counts. */
static int parse(char *text, size_t len, lpi_catalog **out)
{
	*out = NULL;
	int rc = LP_OK;
	size_t hlen = strlen(CATALOG_HEADER);
	if (len < hlen || memcmp(text, CATALOG_HEADER, hlen) != 0) {
		free(text);
		return LP_ENOTFOUND;
	}
	lpi_catalog *cat = calloc(1, sizeof *cat);
	if (cat == NULL) {
		free(text);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	cat->text = text;
	size_t rcap = 0, pcap = 0, ecap = 0;
	char *line = text + hlen, *stop = text + len;
	while (line < stop) {
		char *lf = memchr(line, '\n', (size_t)(stop - line));
		if (lf == NULL)
			break; /* a line still being written, or cut: not a fact */
		*lf = '\0';
		char *f[P_FIELDS];
		int n = split_line(line, f, P_FIELDS, P_FIELDS);
		if (n == 2 && strcmp(f[0], "R") == 0 && lpi_run_id_validate(f[1]) == LP_OK)
			rc = keep_run(cat, f[1], &rcap);
		else if (n == P_FIELDS && strcmp(f[0], "P") == 0)
			rc = keep_pause(cat, f, &pcap, 0);
		else if (n == E_FIELDS && strcmp(f[0], "E") == 0)
			rc = keep_end(cat, f, &ecap);
		/* anything else: a later version's line, skipped */
		if (rc) {
			lpi_catalog_free(cat);
			return rc;
		}
		line = lf + 1;
	}
	if ((rc = index_runs(cat))) {
		lpi_catalog_free(cat);
		return rc;
	}
	if ((rc = index_ends(cat))) {
		lpi_catalog_free(cat);
		return rc;
	}
	*out = cat;
	return LP_OK;
}

/* Copies of the strings the counts pass keeps, in chunks that never move
 * (a kept pointer stays valid), freed with the catalog. NULL: memory. */
typedef struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
} arena_chunk;

static char *arena_dup(lpi_catalog *cat, const char *s)
{
	size_t n = strlen(s) + 1;
	arena_chunk *c = cat->arena;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		arena_chunk *nc = malloc(sizeof *nc + cap);
		if (nc == NULL)
			return NULL;
		nc->next = c;
		nc->used = 0;
		nc->cap = cap;
		cat->arena = c = nc;
	}
	char *p = memcpy(c->data + c->used, s, n);
	c->used += n;
	return p;
}

/*
 * The runs pass (what "ls" and GET /api/pauses need: which runs the
 * catalog knows, to walk the others), line by line: the header first,
 * then each "R" line's id copied into the catalog's arena; "P" and "E"
 * lines are skipped on their first byte (an escaped first byte is split,
 * as the full parse does). The id is kept unvalidated: it is only ever
 * compared with names already validated as run ids. Read from the file in
 * pieces (lpi_file_lines), never whole: the catalog grows by a line with
 * every pause that ends, and a listing every 2 ms in a soak read it whole
 * each time, serve's RSS growing with it.
 */
typedef struct runs_ctx {
	lpi_catalog *cat;
	size_t rcap;
	int header; /* the first line was the header */
	int seen;   /* a line was read */
} runs_ctx;

static int runs_line(char *line, size_t len, void *ud)
{
	runs_ctx *c = ud;
	c->seen = 1;
	if (!c->header) {
		c->header =
			len + 1 == strlen(CATALOG_HEADER) && memcmp(line, CATALOG_HEADER, len) == 0;
		return c->header ? LP_OK : LP_ENOTFOUND;
	}
	char *f[P_FIELDS];
	if ((line[0] != 'R' && line[0] != '\\') || split(line, f, P_FIELDS) != 2 ||
	    strcmp(f[0], "R") != 0)
		return LP_OK;
	char *id = arena_dup(c->cat, f[1]);
	return id ? keep_run(c->cat, id, &c->rcap) : lpi_fail(LP_ERROR, "out of memory");
}

/* The catalog of c's lines (rc: how reading them ended). */
static int runs_done(runs_ctx *c, int rc, lpi_catalog **out)
{
	if (!rc && !c->header)
		rc = LP_ENOTFOUND; /* empty, or no whole first line */
	if (!rc)
		rc = index_runs(c->cat);
	if (rc) {
		lpi_catalog_free(c->cat);
		return rc;
	}
	*out = c->cat;
	return LP_OK;
}

static int load_runs(lp_store *store, const char *label, lpi_catalog **out)
{
	*out = NULL;
	runs_ctx c = {calloc(1, sizeof(lpi_catalog)), 0, 0, 0};
	if (c.cat == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = lpi_file_lines(store->fd, CATALOG_NAME, CATALOG_CAP, label, runs_line, &c);
	if (rc == LP_ENOTFOUND && !c.seen) { /* no catalog (an older layout): said why */
		lpi_catalog_free(c.cat);
		return rc;
	}
	rc = runs_done(&c, rc, out);
	return rc == LP_ENOTFOUND
		       ? lpi_fail(LP_ENOTFOUND, "%s is not a catalog of this version", label)
		       : rc;
}

int lpi_catalog_parse_runs(char *text, size_t len, lpi_catalog **out)
{
	*out = NULL;
	runs_ctx c = {calloc(1, sizeof(lpi_catalog)), 0, 0, 0};
	int rc = c.cat ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	char *line = text, *stop = text + len, *lf;
	while (!rc && line < stop && (lf = memchr(line, '\n', (size_t)(stop - line))) != NULL) {
		*lf = '\0';
		rc = runs_line(line, (size_t)(lf - line), &c);
		line = lf + 1;
	}
	free(text);
	if (c.cat == NULL)
		return rc;
	return runs_done(&c, rc, out);
}

/*
 * Contract: the counts pass (PARSE_COUNTS) over len bytes of a catalog's
 * text that it never writes (a read-only mapping): each line is copied
 * into a scratch buffer and cut there exactly as parse() cuts it in place,
 * the same lines are kept by the same rules (keep_run, keep_pause head
 * only, keep_end), and the strings kept are copied into the catalog's
 * arena: a pause's id (its status and kind then point to the constant
 * names), a run's id, an end's id, host and cwd. LP_ENOTFOUND without
 * the header of version 1.
 */
static int parse_counts(const char *text, size_t len, lpi_catalog **out)
{
	*out = NULL;
	size_t hlen = strlen(CATALOG_HEADER);
	if (text == NULL || len < hlen || memcmp(text, CATALOG_HEADER, hlen) != 0)
		return LP_ENOTFOUND;
	lpi_catalog *cat = calloc(1, sizeof *cat);
	size_t scap = 4096;
	char *scratch = malloc(scap);
	if (cat == NULL || scratch == NULL) {
		free(cat);
		free(scratch);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	int rc = LP_OK;
	size_t rcap = 0, pcap = 0, ecap = 0;
	const char *line = text + hlen, *stop = text + len;
	while (!rc && line < stop) {
		const char *lf = memchr(line, '\n', (size_t)(stop - line));
		if (lf == NULL)
			break; /* a line still being written, or cut: not a fact */
		size_t n = (size_t)(lf - line);
		if (n + 1 > scap) {
			while (n + 1 > scap)
				scap *= 2;
			char *grown = realloc(scratch, scap);
			if (grown == NULL) {
				rc = lpi_fail(LP_ERROR, "out of memory");
				break;
			}
			scratch = grown;
		}
		memcpy(scratch, line, n);
		scratch[n] = '\0';
		line = lf + 1;
		char *f[P_FIELDS];
		int head = scratch[0] == 'P' || scratch[0] == '\\';
		int nf = split_line(scratch, f, head ? 8 : P_FIELDS, P_FIELDS);
		if (nf == 2 && strcmp(f[0], "R") == 0 && lpi_run_id_validate(f[1]) == LP_OK) {
			char *id = arena_dup(cat, f[1]);
			rc = id ? keep_run(cat, id, &rcap) : lpi_fail(LP_ERROR, "out of memory");
		} else if (nf == P_FIELDS && strcmp(f[0], "P") == 0) {
			size_t had = cat->npauses;
			rc = keep_pause(cat, f, &pcap, head);
			if (!rc && cat->npauses > had) {
				lpi_catalog_pause *rec = &cat->pauses[had];
				lp_kind kind = LP_KIND_FAILURE;
				(void)lp_kind_parse(f[3], &kind); /* keep_pause checked it */
				rec->status = lp_state_name(rec->state);
				rec->kind = lp_kind_name(kind);
				if ((rec->pause_id = arena_dup(cat, f[1])) == NULL)
					rc = lpi_fail(LP_ERROR, "out of memory");
			}
		} else if (nf == E_FIELDS && strcmp(f[0], "E") == 0) {
			size_t had = cat->nends;
			rc = keep_end(cat, f, &ecap);
			if (!rc && cat->nends > had) {
				lp_catalog_end *rec = &cat->ends[had];
				if ((rec->run_id = arena_dup(cat, f[1])) == NULL ||
				    (rec->hostname = arena_dup(cat, f[6])) == NULL ||
				    (rec->cwd = arena_dup(cat, f[7])) == NULL)
					rc = lpi_fail(LP_ERROR, "out of memory");
			}
		}
		/* anything else: a later version's line, skipped */
	}
	free(scratch);
	if (!rc)
		rc = index_runs(cat);
	if (!rc)
		rc = index_ends(cat);
	if (rc) {
		lpi_catalog_free(cat);
		return rc;
	}
	*out = cat;
	return LP_OK;
}

void lpi_catalog_free(lpi_catalog *cat)
{
	if (cat == NULL)
		return;
	free(cat->runs);
	free(cat->run_set);
	free(cat->run_arena);
	free(cat->pauses);
	free(cat->ends);
	free(cat->end_set);
	free(cat->text);
	for (arena_chunk *c = cat->arena, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(cat);
}

/* ------------------------------------------------- the listing lines */

struct lpi_listing {
	char *text; /* the file, split in place */
	struct listing_line {
		const char *pause_id, *json;
		size_t len;
		uint64_t sum;
	} *lines;
	size_t nlines;
	size_t *set; /* open addressing: 1 + index into lines, 0 empty */
	size_t mask;
};

/* 16 lowercase hex digits, else 0. */
static int parse_sum(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return s[16] == '\0';
}

int lpi_listing_parse(char *text, size_t len, lpi_listing **out)
{
	*out = NULL;
	size_t hlen = strlen(LISTING_HEADER);
	if (len < hlen || memcmp(text, LISTING_HEADER, hlen) != 0) {
		free(text);
		return LP_ENOTFOUND;
	}
	lpi_listing *l = calloc(1, sizeof *l);
	if (l == NULL) {
		free(text);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	l->text = text;
	size_t cap = 0;
	char *line = text + hlen, *stop = text + len;
	while (line < stop) {
		char *lf = memchr(line, '\n', (size_t)(stop - line));
		if (lf == NULL)
			break; /* a line still being written, or cut: not a fact */
		*lf = '\0';
		/* J <pause_id> <checksum> <json>: the JSON last and raw (it
		 * never holds a TAB, LF or CR); nothing is escaped */
		char *f[4], *s = line;
		int n = 0;
		for (; n < 3 && s; n++) {
			f[n] = s;
			if ((s = strchr(s, '\t')) != NULL)
				*s++ = '\0';
		}
		struct listing_line rec = {0};
		if (n == 3 && s && strcmp(f[0], "J") == 0 &&
		    lp_id_validate(f[1], "pause id") == LP_OK && parse_sum(f[2], &rec.sum)) {
			if (l->nlines == cap) {
				size_t c = cap ? cap * 2 : 256;
				struct listing_line *nv = realloc(l->lines, c * sizeof *nv);
				if (nv == NULL) {
					lpi_listing_free(l);
					return lpi_fail(LP_ERROR, "out of memory");
				}
				l->lines = nv;
				cap = c;
			}
			rec.pause_id = f[1];
			rec.json = s;
			rec.len = (size_t)(lf - s);
			l->lines[l->nlines++] = rec;
		}
		line = lf + 1;
	}
	lpi_error_clear(); /* of the ids that were not */
	size_t size = 16;
	while (size < 2 * l->nlines)
		size *= 2;
	if ((l->set = calloc(size, sizeof *l->set)) == NULL) {
		lpi_listing_free(l);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	l->mask = size - 1;
	for (size_t k = 0; k < l->nlines; k++) {
		size_t at = hash_str(l->lines[k].pause_id) & l->mask;
		while (l->set[at] &&
		       strcmp(l->lines[l->set[at] - 1].pause_id, l->lines[k].pause_id))
			at = (at + 1) & l->mask;
		if (l->set[at] == 0)
			l->set[at] = k + 1; /* the first line of an id is kept */
	}
	*out = l;
	return LP_OK;
}

int lpi_listing_load(lp_store *store, lpi_listing **out)
{
	*out = NULL;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/%s", store->path, LISTING_NAME);
	char *text;
	size_t len;
	int rc = lpi_file_read(store->fd, LISTING_NAME, CATALOG_CAP, label, &text, &len);
	if (rc)
		return rc;
	rc = lpi_listing_parse(text, len, out);
	if (rc == LP_ENOTFOUND)
		return lpi_fail(LP_ENOTFOUND, "%s is not a listing of this version", label);
	return rc;
}

const char *lpi_listing_find(const lpi_listing *l, const char *pause_id, size_t *len)
{
	if (l == NULL || l->set == NULL || pause_id == NULL)
		return NULL;
	size_t at = hash_str(pause_id) & l->mask;
	for (; l->set[at]; at = (at + 1) & l->mask) {
		const struct listing_line *r = &l->lines[l->set[at] - 1];
		if (strcmp(r->pause_id, pause_id) != 0)
			continue;
		/* the cheap checks: an object, no NUL, and the checksum */
		if (r->len < 2 || r->json[0] != '{' || r->json[r->len - 1] != '}' ||
		    memchr(r->json, '\0', r->len) || checksum(r->json, r->len) != r->sum)
			return NULL;
		*len = r->len;
		return r->json;
	}
	return NULL;
}

void lpi_listing_free(lpi_listing *l)
{
	if (l == NULL)
		return;
	free(l->lines);
	free(l->set);
	free(l->text);
	free(l);
}

/* ---------------------------------------------------------- compaction */

/* The run a line is about ("R"/"E": field 1; "P"/"J": the run of its
 * pause id), copied into run_id; 0 for a line of another kind. */
static int line_run(const char *line, size_t len, char run_id[LP_ID_MAX + 1])
{
	if (len < 3 || line[1] != '\t' ||
	    (line[0] != 'R' && line[0] != 'E' && line[0] != 'P' && line[0] != 'J'))
		return 0;
	const char *id = line + 2;
	size_t n = 0;
	while (2 + n < len && id[n] != '\t')
		n++;
	if (n == 0 || n > LP_ID_MAX)
		return 0;
	char buf[LP_ID_MAX + 1];
	memcpy(buf, id, n);
	buf[n] = '\0';
	if (line[0] == 'P' || line[0] == 'J')
		return lpi_pause_id_run(buf, run_id) == LP_OK;
	if (lpi_run_id_validate(buf) != LP_OK)
		return 0;
	memcpy(run_id, buf, n + 1);
	return 1;
}

/* Compact one file (catalog.tsv or catalog-json.tsv) as
 * lpi_catalog_compact says. */
static int compact_file(lp_store *store, const char *name, const char *header,
			int (*drop)(const char *run_id, void *ud), void *ud, int dry_run,
			size_t *dropped)
{
	*dropped = 0;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "%s/%s", store->path, name);
	struct stat st;
	if (fstatat(store->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return LP_OK; /* no file: nothing to compact */
	int fd, rc = open_locked(store, name, header, LOCK_EX, -1, &fd);
	if (rc)
		return rc;
	/* from here until close(fd) no appender writes: read, filter, and
	 * publish the new file over the name while still holding the lock */
	char *text = NULL;
	size_t len = 0;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > CATALOG_CAP) {
		close(fd);
		return lpi_fail(LP_ERROR, "cannot read %s (or it is over %zu bytes)", label,
				CATALOG_CAP);
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		close(fd);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = pread(fd, text + len, (size_t)st.st_size - len, (off_t)len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	size_t hlen = strlen(header);
	if (len < hlen || memcmp(text, header, hlen) != 0) {
		free(text);
		close(fd);
		return lpi_fail(LP_ERROR, "%s is not a catalog of this version: not compacted",
				label);
	}
	/* filter in place: kept lines move towards the start */
	size_t out = hlen;
	const char *line = text + hlen, *stop = text + len;
	while (line < stop) {
		const char *lf = memchr(line, '\n', (size_t)(stop - line));
		if (lf == NULL)
			break; /* a cut last line (a crashed writer): not a fact */
		size_t n = (size_t)(lf - line) + 1;
		char run_id[LP_ID_MAX + 1];
		if (line_run(line, n - 1, run_id) && drop(run_id, ud)) {
			(*dropped)++;
		} else {
			memmove(text + out, line, n);
			out += n;
		}
		line = lf + 1;
	}
	rc = LP_OK;
	if (!dry_run && (*dropped > 0 || out != len))
		rc = lpi_file_publish(store->fd, name, text, out, 0, label);
	free(text);
	close(fd); /* unlock: waiting appenders find the new file */
	return rc;
}

int lpi_catalog_compact(lp_store *store, int (*drop)(const char *run_id, void *ud), void *ud,
			int dry_run, size_t *dropped)
{
	/* catalog-json.tsv first: a "J" line is used only for the pause of a
	 * "P" line, so a gc that dies between the two leaves "P" lines whose
	 * pause files are read, never a "J" line that could outlive its run */
	size_t json_lines;
	*dropped = 0;
	if (compact_file(store, LISTING_NAME, LISTING_HEADER, drop, ud, dry_run, &json_lines)) {
		/* not ours (a damaged header) or unreadable: it is only an
		 * accelerator, so it goes rather than keep lines of old runs */
		lpi_error_clear();
		if (!dry_run)
			unlinkat(store->fd, LISTING_NAME, 0);
	}
	return compact_file(store, CATALOG_NAME, CATALOG_HEADER, drop, ud, dry_run, dropped);
}
