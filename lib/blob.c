/*
 * blob.c - attachments: the blob store of a run (runs/<run_id>/blobs/,
 * one file per content, named by its SHA-256), copying a file in while
 * hashing it, verifying a blob before it is handed out, the content type
 * of a name, and the one schema of an attachment entry as the pause file
 * and the command file list it. docs/protocol.md, "Attachments", is the
 * normative text. SHA-256 is nettle's (GnuTLS's crypto library).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#define COPY_CHUNK (256 * 1024)
#define CONTENT_TYPE_MAX 127

void lp_attachment_clear(lp_attachment *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->content_type);
	free(a->source);
	free(a->path);
	memset(a, 0, sizeof *a);
}

void lpi_attachments_free(lp_attachment *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		lp_attachment_clear(&list[i]);
	free(list);
}

int lpi_attachment_dup(lp_attachment *dst, const lp_attachment *src)
{
	*dst = *src;
	dst->name = lpi_strdup(src->name);
	dst->content_type = lpi_strdup(src->content_type);
	dst->source = lpi_strdup(src->source);
	dst->path = src->path ? lpi_strdup(src->path) : NULL;
	if (!dst->name || !dst->content_type || !dst->source || (src->path && !dst->path)) {
		lp_attachment_clear(dst);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	return LP_OK;
}

lp_attachment *lpi_attachments_copy(const lp_attachment *list, size_t n)
{
	if (n == 0)
		return NULL;
	lp_attachment *out = calloc(n, sizeof *out);
	for (size_t i = 0; out && i < n; i++)
		if (lpi_attachment_dup(&out[i], &list[i])) {
			lpi_attachments_free(out, i);
			return NULL;
		}
	return out;
}

/* ------------------------------------------------------- content types */

static const struct {
	const char *ext, *type;
} types[] = {
	{"png", "image/png"},         {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
	{"gif", "image/gif"},         {"webp", "image/webp"},       {"bmp", "image/bmp"},
	{"svg", "image/svg+xml"},     {"txt", "text/plain"},        {"log", "text/plain"},
	{"csv", "text/csv"},          {"md", "text/markdown"},      {"html", "text/html"},
	{"htm", "text/html"},         {"json", "application/json"}, {"xml", "application/xml"},
	{"pdf", "application/pdf"},   {"zip", "application/zip"},   {"gz", "application/gzip"},
	{"tar", "application/x-tar"}, {"mp4", "video/mp4"},         {"webm", "video/webm"},
	{"har", "application/json"},
};

const char *lp_content_type(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (dot && dot != name)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* ----------------------------------------------------------- the schema */

int lp_attachment_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > LP_ATTACH_NAME_MAX)
		return lpi_fail(LP_EINVAL,
				"an attachment name must be 1 to %d bytes; give another name",
				LP_ATTACH_NAME_MAX);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
		return lpi_fail(
			LP_EINVAL,
			"attachment name '%.80s' is a path, not a file name: give a name without '/'",
			name);
	const unsigned char *s = (const unsigned char *)name;
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t k = lpi_utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f || lpi_text_unsafe_cp(cp))
			return lpi_fail(
				LP_EINVAL,
				"attachment name has a control character or invalid UTF-8 at byte %zu: give a plain file name",
				i);
		i += k;
	}
	return LP_OK;
}

static int hex_ok(const char *s)
{
	if (s == NULL || strlen(s) != LP_SHA256_HEX)
		return 0;
	for (const char *c = s; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return 0;
	return 1;
}

static int source_ok(const char *s)
{
	return s &&
	       (strcmp(s, "test") == 0 || strcmp(s, "capture") == 0 || strcmp(s, "resume") == 0);
}

lp_json *lpi_attachment_to_json(const lp_attachment *a, int with_source)
{
	lp_json *o = lpj_object();
	if (o == NULL)
		return NULL;
	if (lpj_set_str(o, "name", a->name) || lpj_set_str(o, "sha256", a->sha256) ||
	    lpj_set_int(o, "size", (long long)a->size) ||
	    lpj_set_str(o, "content_type", a->content_type) ||
	    (with_source && lpj_set_str(o, "source", a->source))) {
		lpj_free(o);
		return NULL;
	}
	return o;
}

static char *blob_path(const char *run_path, const char *sha)
{
	size_t n = strlen(run_path) + LP_SHA256_HEX + 8;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/blobs/%s", run_path, sha);
	return p;
}

static const char *const entry_keys[] = {"name",   "sha256", "size", "content_type",
					 "source", "blob",   "seal", NULL};
static const char *const seal_keys[] = {"ino", "ctime_ns", NULL};

/* A command entry's "seal" (docs/protocol.md "Attachments"), or NULL if
 * it has none; LP_EBADCMD if it breaks the schema: an object of exactly
 * two integers >= 0, "ino" and "ctime_ns". */
static int seal_of(const lp_json *e, const char *label, size_t i, unsigned long long *ino,
		   long long *ctime_ns, int *has)
{
	lp_json *s = lpj_get(e, "seal");
	*has = 0;
	if (s == NULL)
		return LP_OK;
	lp_json *a = lpj_get(s, "ino"), *c = lpj_get(s, "ctime_ns");
	if (lpj_typeof(s) != LPJ_OBJECT || lpj_unknown_key(s, seal_keys) || !a || !c ||
	    !lpj_is_integer(a) || !lpj_is_integer(c) || lpj_get_int(s, "ino", -1) < 0 ||
	    lpj_get_int(s, "ctime_ns", -1) < 0)
		return lpi_fail(
			LP_EBADCMD,
			"%s: attachment %zu: 'seal' must be {\"ino\": int >= 0, \"ctime_ns\": int >= 0}",
			label, i);
	*ino = (unsigned long long)lpj_get_int(s, "ino", 0);
	*ctime_ns = lpj_get_int(s, "ctime_ns", 0);
	*has = 1;
	return LP_OK;
}

static int parse_entry(const lp_json *e, const char *label, size_t i, int with_source,
		       const char *run_path, lp_attachment *out)
{
	if (lpj_typeof(e) != LPJ_OBJECT)
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu is not an object", label, i);
	const char *name = lpj_get_str(e, "name"), *sha = lpj_get_str(e, "sha256");
	const char *ct = lpj_get_str(e, "content_type"), *src = lpj_get_str(e, "source");
	lp_json *size = lpj_get(e, "size");
	const char *bad = lpj_unknown_key(e, entry_keys);
	if (bad)
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu has an unknown field '%.60s'",
				label, i, bad);
	if (name == NULL || lp_attachment_name_check(name))
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu: 'name' must be a file name (%s)",
				label, i, name ? lp_error_message() : "missing");
	if (!hex_ok(sha))
		return lpi_fail(LP_EBADCMD,
				"%s: attachment %zu: 'sha256' must be 64 lowercase hex digits",
				label, i);
	long long sz = size && lpj_is_integer(size) ? lpj_get_int(e, "size", -1) : -1;
	if (sz < 0)
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu: 'size' must be an integer >= 0",
				label, i);
	if (ct == NULL || ct[0] == '\0' || strlen(ct) > CONTENT_TYPE_MAX)
		return lpi_fail(
			LP_EBADCMD,
			"%s: attachment %zu: 'content_type' must be a string of 1 to %d bytes",
			label, i, CONTENT_TYPE_MAX);
	if (with_source ? !source_ok(src)
			: (lpj_has(e, "source") && (src == NULL || strcmp(src, "resume") != 0)))
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu: 'source' must be %s", label, i,
				with_source ? "test, capture or resume" : "resume (or absent)");
	unsigned long long ino;
	long long ctime_ns;
	int sealed;
	if (with_source && lpj_has(e, "seal"))
		return lpi_fail(LP_EBADCMD, "%s: attachment %zu: 'seal' is a command's field",
				label, i);
	if (seal_of(e, label, i, &ino, &ctime_ns, &sealed))
		return LP_EBADCMD;
	if (out == NULL)
		return LP_OK;
	memset(out, 0, sizeof *out);
	snprintf(out->sha256, sizeof out->sha256, "%s", sha);
	out->size = (unsigned long long)sz;
	out->name = lpi_strdup(name);
	out->content_type = lpi_strdup(ct);
	out->source = lpi_strdup(with_source ? src : "resume");
	out->path = run_path ? blob_path(run_path, sha) : NULL;
	if (!out->name || !out->content_type || !out->source || (run_path && !out->path)) {
		lp_attachment_clear(out);
		return lpi_fail(LP_ERROR, "out of memory");
	}
	return LP_OK;
}

int lpi_attachments_parse(const lp_json *v, const char *label, int with_source,
			  const char *run_path, lp_attachment **out, size_t *n)
{
	if (out)
		*out = NULL;
	*n = 0;
	if (lpj_typeof(v) != LPJ_ARRAY)
		return lpi_fail(LP_EBADCMD, "%s: 'attachments' must be an array", label);
	size_t count = lpj_size(v);
	if (count > LP_ATTACH_COUNT_MAX)
		return lpi_fail(LP_EBADCMD, "%s: %zu attachments, over the limit of %d", label,
				count, LP_ATTACH_COUNT_MAX);
	lp_attachment *list = out && count ? calloc(count, sizeof *list) : NULL;
	if (out && count && list == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	for (size_t i = 0; i < count; i++) {
		int rc = parse_entry(lpj_array_get(v, i), label, i, with_source, run_path,
				     list ? &list[i] : NULL);
		if (rc) {
			lpi_attachments_free(list, i);
			return rc;
		}
	}
	if (out)
		*out = list;
	*n = count;
	return LP_OK;
}

size_t lp_attachments_fit(const lp_attachment *list, size_t n, char **why)
{
	if (why)
		*why = NULL;
	unsigned long long total = 0;
	char msg[512];
	for (size_t i = 0; i < n; i++) {
		msg[0] = '\0';
		if (i >= LP_ATTACH_COUNT_MAX)
			snprintf(
				msg, sizeof msg,
				"attachment '%.200s' would be number %zu of the pause, over the limit of %d attachments per pause",
				list[i].name, i + 1, LP_ATTACH_COUNT_MAX);
		else if (total + list[i].size > LP_ATTACH_TOTAL_MAX)
			snprintf(
				msg, sizeof msg,
				"attachment '%.200s' (%llu bytes) would bring the pause's attachments to %llu bytes, over the limit of %llu MiB per pause",
				list[i].name, list[i].size, total + list[i].size,
				LP_ATTACH_TOTAL_MAX / (1024 * 1024));
		if (msg[0]) {
			if (why)
				*why = lpi_strdup(msg);
			return i;
		}
		total += list[i].size;
	}
	return n;
}

/* ------------------------------------------------------ reading a source */

static const char *kind_of(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISLNK(m))
		return "a symlink";
	return "not a regular file";
}

static int refuse_type(const char *path, mode_t m)
{
	if (S_ISLNK(m))
		return lpi_fail(LP_EINVAL,
				"cannot attach '%s': it is a symlink; attach the file it points to",
				path);
	return lpi_fail(LP_EINVAL, "cannot attach '%s': it is %s; attach a regular file", path,
			kind_of(m));
}

static int refuse_size(const char *path, unsigned long long size, unsigned long long max)
{
	return lpi_fail(
		LP_EINVAL,
		"cannot attach '%s': it is %llu bytes, over the limit of %llu bytes per file (raise it with --max-attachment-size)",
		path, size, max);
}

/* Open the source for reading: lstat first (a FIFO or device is never
 * opened), then open without following a symlink and check it is the
 * same regular file. */
static int source_open(const char *path, unsigned long long max, int *fd_out,
		       unsigned long long *size)
{
	struct stat st, fst;
	if (path == NULL || path[0] == '\0')
		return lpi_fail(LP_EINVAL, "cannot attach a file with an empty name");
	if (max == 0)
		max = LP_ATTACH_SIZE_DEFAULT;
	if (lstat(path, &st) < 0)
		return lpi_fail_errno(LP_EINVAL, errno, "cannot attach '%s'", path);
	if (!S_ISREG(st.st_mode))
		return refuse_type(path, st.st_mode);
	if ((unsigned long long)st.st_size > max)
		return refuse_size(path, (unsigned long long)st.st_size, max);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return refuse_type(path, S_IFLNK);
		return lpi_fail_errno(LP_EINVAL, e, "cannot attach '%s'", path);
	}
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev) {
		close(fd);
		return lpi_fail(LP_EINVAL,
				"cannot attach '%s': it changed while it was opened; try again",
				path);
	}
	*fd_out = fd;
	*size = (unsigned long long)fst.st_size;
	return LP_OK;
}

/* The name an attachment of `path` gets (given, or its base name),
 * checked: LP_EINVAL naming the file. */
static int name_for(const char *path, const char **name)
{
	if (*name == NULL && path) {
		const char *slash = strrchr(path, '/');
		*name = slash ? slash + 1 : path;
	}
	if (lp_attachment_name_check(*name) == LP_OK)
		return LP_OK;
	char why[512];
	snprintf(why, sizeof why, "%s", lp_error_message());
	return lpi_fail(LP_EINVAL, "cannot attach '%s': %s", path ? path : "", why);
}

int lpi_blob_source_check(const char *path, unsigned long long max_size, unsigned long long *size)
{
	int fd = -1;
	const char *name = NULL;
	/* the file first: "." is a directory before it is a bad name */
	int rc = source_open(path, max_size, &fd, size);
	if (rc)
		return rc;
	close(fd);
	return name_for(path, &name);
}

static void hex(const uint8_t *d, char out[LP_SHA256_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[LP_SHA256_HEX] = '\0';
}

/* The one copy loop of blobs, in and out (contract: internal.h). */
int lpi_blob_copy(int fd, int out_fd, int flush, unsigned long long cap, const char *label,
		  char sha[LP_SHA256_HEX + 1], unsigned long long *total, int *werr)
{
	flush = flush && out_fd >= 0 && !lpi_fsync_disabled();
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	char *buf = malloc(COPY_CHUNK);
	if (buf == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	*total = 0;
	*werr = 0;
	int rc = LP_OK;
	for (;;) {
		ssize_t r = read(fd, buf, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = lpi_fail_errno(LP_ERROR, errno, "cannot read %s", label);
			break;
		}
		if (r == 0)
			break;
		*total += (unsigned long long)r;
		if (*total > cap) {
			rc = lpi_fail(LP_EINVAL,
				      "%s grew past the limit of %llu bytes while it was copied",
				      label, cap);
			break;
		}
		sha256_update(&ctx, (size_t)r, (const uint8_t *)buf);
		if (out_fd >= 0 && lpi_write_all(out_fd, buf, (size_t)r) < 0) {
			*werr = errno;
			rc = LP_ERROR;
			break;
		}
#ifdef SYNC_FILE_RANGE_WRITE
		/* start writing this chunk to the disk now, so that the fsync
		 * that follows the copy waits for the last chunks only (errors
		 * are the fsync's to report) */
		if (out_fd >= 0 && flush)
			(void)sync_file_range(out_fd, (off_t)(*total - (unsigned long long)r), r,
					      SYNC_FILE_RANGE_WRITE);
#endif
	}
	free(buf);
	if (rc == LP_OK) {
		uint8_t digest[SHA256_DIGEST_SIZE];
		sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
		hex(digest, sha);
	}
	return rc;
}

/* lpi_blob_put, and with `sealed` non-NULL the blob's fstat as it is
 * once published (after the rename, which sets its change time): what a
 * command's "seal" records. */
static int blob_store(int run_fd, const char *run_path, const char *path, const char *name,
		      const char *source, unsigned long long max_size, lp_attachment *out,
		      struct stat *sealed)
{
	memset(out, 0, sizeof *out);
	if (!source_ok(source))
		return lpi_fail(LP_EINVAL, "attachment source must be test, capture or resume");
	if (max_size == 0)
		max_size = LP_ATTACH_SIZE_DEFAULT;
	int src, blobs = -1, tmpfd = -1;
	unsigned long long size;
	int rc = source_open(path, max_size, &src, &size);
	if (rc)
		return rc;
	if ((rc = name_for(path, &name))) {
		close(src);
		return rc;
	}
	char label[PATH_MAX], tmp[64], rnd[17];
	snprintf(label, sizeof label, "%s/blobs", run_path);
	if ((rc = lpi_dir_open(run_fd, "blobs", 1, label, &blobs)) || (rc = lpi_random_hex(rnd, 8)))
		goto done;
	snprintf(tmp, sizeof tmp, ".tmp.%ld.%s", (long)getpid(), rnd);
	tmpfd = openat(blobs, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tmpfd < 0) {
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot store attachment '%s' in %s", name,
				    label);
		goto done;
	}
	char sha[LP_SHA256_HEX + 1], what[PATH_MAX + 16];
	snprintf(what, sizeof what, "'%s'", path);
	int werr = 0;
	rc = lpi_blob_copy(src, tmpfd, 1, max_size, what, sha, &size, &werr);
	if (rc == LP_OK && !lpi_fsync_disabled() && fsync(tmpfd) < 0)
		werr = errno;
	struct stat mine;
	if (sealed && fstat(tmpfd, &mine) < 0)
		sealed = NULL;
	if (close(tmpfd) < 0 && !werr && rc == LP_OK)
		werr = errno;
	tmpfd = -1;
	if (rc == LP_OK && werr)
		rc = LP_ERROR;
	if (rc == LP_ERROR && werr)
		lpi_fail_errno(LP_ERROR, werr,
			       "cannot store attachment '%s' in %s (nothing of it was kept)", name,
			       label);
	lpi_crash_point("blob:written"); /* the temporary file only */
	/* the same content is the same file: renaming over one already there
	 * replaces it by identical bytes (and repairs one that was damaged) */
	if (rc == LP_OK && renameat(blobs, tmp, blobs, sha) < 0)
		rc = lpi_fail_errno(LP_ERROR, errno, "cannot publish attachment '%s' in %s", name,
				    label);
	if (rc) {
		unlinkat(blobs, tmp, 0);
		goto done;
	}
	if (!lpi_fsync_disabled())
		fsync(blobs);
	/* the seal: our inode, now at the blob's name, with the change time
	 * the rename gave it (another writer's inode there: no seal) */
	if (sealed && (fstatat(blobs, sha, sealed, AT_SYMLINK_NOFOLLOW) < 0 ||
		       sealed->st_ino != mine.st_ino || sealed->st_dev != mine.st_dev))
		sealed->st_ino = 0;
	snprintf(out->sha256, sizeof out->sha256, "%s", sha);
	out->size = size;
	out->name = lpi_strdup(name);
	out->content_type = lpi_strdup(lp_content_type(name));
	out->source = lpi_strdup(source);
	out->path = blob_path(run_path, sha);
	out->blob = LP_BLOB_OK;
	if (!out->name || !out->content_type || !out->source || !out->path) {
		lp_attachment_clear(out);
		rc = lpi_fail(LP_ERROR, "out of memory");
	}
done:
	close(src);
	if (blobs >= 0)
		close(blobs);
	return rc;
}

int lpi_blob_put(int run_fd, const char *run_path, const char *path, const char *name,
		 const char *source, unsigned long long max_size, lp_attachment *out)
{
	return blob_store(run_fd, run_path, path, name, source, max_size, out, NULL);
}

int lpi_blob_put_entry(int run_fd, const char *run_path, const char *path,
		       unsigned long long max_size, lp_json **entry)
{
	*entry = NULL;
	lp_attachment a;
	struct stat st;
	memset(&st, 0, sizeof st);
	int rc = blob_store(run_fd, run_path, path, NULL, "resume", max_size, &a, &st);
	if (rc)
		return rc;
	lp_json *e = lpi_attachment_to_json(&a, 0), *seal = NULL;
	lp_attachment_clear(&a);
	long long ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	if (e && st.st_ino != 0 && st.st_ino <= (unsigned long long)LLONG_MAX && ns > 0) {
		seal = lpj_object();
		if (seal == NULL || lpj_set_int(seal, "ino", (long long)st.st_ino) ||
		    lpj_set_int(seal, "ctime_ns", ns)) {
			lpj_free(seal);
			seal = NULL;
		}
		if (seal == NULL || lpj_set_json(e, "seal", seal)) {
			lpj_free(e);
			e = NULL;
		}
	}
	if (e == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	*entry = e;
	return LP_OK;
}

/* lpi_blob_verify; with a seal (has_seal), a blob that is still the
 * sealed inode with the sealed change time is not read again. */
static int verify(int run_fd, const char *sha256, unsigned long long size, int has_seal,
		  unsigned long long ino, long long ctime_ns, int *fd_out)
{
	if (fd_out)
		*fd_out = -1;
	if (!hex_ok(sha256))
		return lpi_fail(LP_EBADCMD, "'%.80s' is not a blob name (64 hex digits)", sha256);
	int blobs = openat(run_fd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (blobs < 0)
		return errno == ENOENT
			       ? lpi_fail(LP_ENOTFOUND, "blob %s does not exist", sha256)
			       : lpi_fail_errno(LP_ERROR, errno, "cannot open the blob store");
	int rc = lpi_fd_trust(blobs, 1, "the blob store");
	int fd = -1;
	if (rc == LP_OK) {
		fd = openat(blobs, sha256, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			rc = errno == ENOENT || errno == ELOOP
				     ? lpi_fail(LP_ENOTFOUND, "blob %s does not exist", sha256)
				     : lpi_fail_errno(LP_ERROR, errno, "cannot read blob %s",
						      sha256);
	}
	close(blobs);
	struct stat st;
	if (rc == LP_OK && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
		rc = lpi_fail(LP_ENOTFOUND, "blob %s is not a regular file", sha256);
	if (rc == LP_OK)
		rc = lpi_fd_trust(fd, 0, "a blob");
	if (rc == LP_OK && (unsigned long long)st.st_size != size)
		rc = lpi_fail(
			LP_EBADCMD,
			"blob %s is %lld bytes, not the %llu listed: its bytes changed; refusing it",
			sha256, (long long)st.st_size, size);
	/* sealed and unchanged since: its bytes are the ones its writer
	 * hashed just before (any write since sets a later change time) */
	long long ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	if (rc == LP_OK && has_seal && (unsigned long long)st.st_ino == ino && ns == ctime_ns) {
		if (fd_out) {
			*fd_out = fd;
			return LP_OK;
		}
		close(fd);
		return LP_OK;
	}
	char got[LP_SHA256_HEX + 1];
	unsigned long long total;
	int werr;
	if (rc == LP_OK &&
	    (rc = lpi_blob_copy(fd, -1, 0, size, "a blob", got, &total, &werr)) == LP_EINVAL)
		rc = lpi_fail(LP_EBADCMD, "blob %s grew past its listed size; refusing it", sha256);
	if (rc == LP_OK && strcmp(got, sha256) != 0)
		rc = lpi_fail(LP_EBADCMD,
			      "blob %s does not match its SHA-256 (its bytes changed); refusing it",
			      sha256);
	if (rc == LP_OK && fd_out && lseek(fd, 0, SEEK_SET) == 0) {
		*fd_out = fd;
		return LP_OK;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int lpi_blob_verify(int run_fd, const char *sha256, unsigned long long size, int *fd_out)
{
	return verify(run_fd, sha256, size, 0, 0, 0, fd_out);
}

int lpi_blob_verify_entry(int run_fd, const lp_json *entry)
{
	unsigned long long ino = 0;
	long long ctime_ns = 0;
	int sealed = 0;
	long long size = lpj_get_int(entry, "size", -1);
	if (seal_of(entry, "command", 0, &ino, &ctime_ns, &sealed) || size < 0)
		return lpi_fail(LP_EBADCMD, "an attachment entry breaks the schema");
	return verify(run_fd, lpj_get_str(entry, "sha256"), (unsigned long long)size, sealed, ino,
		      ctime_ns, NULL);
}

int lp_run_attach(lp_run *run, const char *path, const char *name, const char *source,
		  unsigned long long max_size, lp_attachment *out)
{
	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_attach: out is required");
	memset(out, 0, sizeof *out);
	if (run == NULL)
		return lpi_fail(LP_EINVAL, "lp_run_attach: run is required");
	if (source == NULL || strcmp(source, "resume") == 0)
		return lpi_fail(LP_EINVAL, "a test's attachment source is test or capture");
	char run_path[PATH_MAX];
	snprintf(run_path, sizeof run_path, "%s/runs/%s", run->store->path, run->id);
	return lpi_blob_put(run->fd, run_path, path, name, source, max_size, out);
}
