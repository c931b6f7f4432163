/*
 * test_blob.c - blob.c and the attachments of pause.c, command.c and
 * claim.c: content types and names; a file copied in by its SHA-256
 * (once per content); every refused source (missing, symlink, FIFO,
 * directory, device, over the cap) leaves nothing in the blob store; a
 * copy that fails (RLIMIT_FSIZE: the disk full) leaves no blob and no
 * temporary file; the caps per pause; a test's attachments listed in the
 * pause file; a resumer's attachments (lp_pause_resume) taken by the paused
 * process with verified paths; a command naming a missing or damaged
 * blob refused while the pause keeps waiting; a damaged or missing blob
 * reported by the check and never exported; the seal of a resumer's
 * blob (lpi_blob_put_entry): taken without hashing again while the blob
 * is unchanged, and any change since (in place, replaced) hashed and
 * refused; a seal breaking the schema refused.
 */
#include "helpers.h"

#include <sched.h>
#include <sys/resource.h>

/* sha256("hello\n") */
#define HELLO_SHA "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static char *tmpfile_with(fx *f, const char *name, const char *data, size_t len, char *buf,
			  size_t size)
{
	fx_path(f, buf, size, "%s", name);
	assert_int_equal(write_text(buf, data, len), 0);
	return buf;
}

static int blobs_entries(fx *f)
{
	char p[256];
	int n = count_entries(fx_path(f, p, sizeof p, "runs/r1/blobs"), "");
	return n < 0 ? 0 : n; /* no blobs/ yet: none */
}

static void test_content_types(void **state)
{
	(void)state;
	assert_string_equal(lp_content_type("screen.png"), "image/png");
	assert_string_equal(lp_content_type("PHOTO.JPG"), "image/jpeg");
	assert_string_equal(lp_content_type("logcat.txt"), "text/plain");
	assert_string_equal(lp_content_type("ui.xml"), "application/xml");
	assert_string_equal(lp_content_type("noext"), "application/octet-stream");
	assert_string_equal(lp_content_type(".bashrc"), "application/octet-stream");
	assert_string_equal(lp_content_type(NULL), "application/octet-stream");
}

static void test_names(void **state)
{
	(void)state;
	char longname[LP_ATTACH_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	const char *bad[] = {"",          "a/b",  ".",        "..",
			     "tab\there", "nl\n", "\xff.png", "bidi\xe2\x80\xae.png",
			     longname};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(lp_attachment_name_check(bad[i]), LP_EINVAL);
	assert_int_equal(lp_attachment_name_check("screen shot (1).png"), LP_OK);
	assert_int_equal(lp_attachment_name_check("caf\xc3\xa9.txt"), LP_OK);
}

static void test_copy_in_by_content(void **state)
{
	fx *f = *state;
	char a[256], b[256];
	tmpfile_with(f, "hello.txt", "hello\n", 6, a, sizeof a);
	tmpfile_with(f, "again.log", "hello\n", 6, b, sizeof b);
	lp_attachment x, y;
	assert_int_equal(lp_run_attach(f->run, a, NULL, "test", 0, &x), LP_OK);
	assert_string_equal(x.sha256, HELLO_SHA);
	assert_int_equal(x.size, 6);
	assert_string_equal(x.name, "hello.txt");
	assert_string_equal(x.content_type, "text/plain");
	assert_string_equal(x.source, "test");
	char *text = slurp(x.path);
	assert_string_equal(text, "hello\n");
	free(text);
	assert_int_equal(lp_run_attach(f->run, b, "named.bin", "capture", 0, &y), LP_OK);
	assert_string_equal(y.sha256, HELLO_SHA);
	assert_string_equal(y.name, "named.bin");
	assert_string_equal(y.content_type, "application/octet-stream");
	assert_int_equal(blobs_entries(f), 1); /* one file per content, no temporary */
	struct stat st;
	assert_int_equal(stat(x.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	lp_attachment_clear(&x);
	lp_attachment_clear(&y);
	/* the source "resume" is the resumer's (lp_pause_resume) */
	assert_int_equal(lp_run_attach(f->run, a, NULL, "resume", 0, &x), LP_EINVAL);
}

static void test_refused_sources_write_nothing(void **state)
{
	fx *f = *state;
	char reg[256], link[256], fifo[256], dir[256], missing[256];
	tmpfile_with(f, "big.bin", "0123456789", 10, reg, sizeof reg);
	fx_path(f, link, sizeof link, "link.png");
	assert_int_equal(symlink(reg, link), 0);
	fx_path(f, fifo, sizeof fifo, "fifo.txt");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fx_path(f, dir, sizeof dir, "adir");
	assert_int_equal(mkdir(dir, 0700), 0);
	fx_path(f, missing, sizeof missing, "missing.png");
	struct {
		const char *path;
		unsigned long long max;
		const char *says;
	} cases[] = {
		{link, 0, "symlink"},         {fifo, 0, "a FIFO"},
		{dir, 0, "a directory"},      {"/dev/null", 0, "a device"},
		{missing, 0, "No such file"}, {reg, 9, "over the limit of 9 bytes"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lp_attachment a;
		assert_int_equal(
			lp_run_attach(f->run, cases[i].path, NULL, "test", cases[i].max, &a),
			LP_EINVAL);
		if (strstr(lp_error_message(), cases[i].says) == NULL)
			fail_msg("%s: %s", cases[i].path, lp_error_message());
		assert_non_null(strstr(lp_error_message(), cases[i].path));
	}
	assert_int_equal(blobs_entries(f), 0);
	/* exactly at the cap: taken */
	lp_attachment a;
	assert_int_equal(lp_run_attach(f->run, reg, NULL, "test", 10, &a), LP_OK);
	lp_attachment_clear(&a);
}

/* The disk fills up while a blob is copied (RLIMIT_FSIZE in a child):
 * LP_ERROR, no blob and no temporary file left. */
static int attach_limited(void *arg)
{
	fx *f = arg;
	struct rlimit rl = {64 * 1024, 64 * 1024};
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return CHILD_SETUP_FAILED;
	char p[256];
	lp_attachment a;
	int rc = lp_run_attach(f->run, fx_path(f, p, sizeof p, "large.bin"), NULL, "test", 0, &a);
	if (rc == LP_ERROR && strstr(lp_error_message(), "nothing of it was kept") == NULL)
		return CHILD_SETUP_FAILED + 1;
	return -rc;
}

static void test_disk_full_leaves_no_blob(void **state)
{
	fx *f = *state;
	char p[256];
	size_t n = 512 * 1024;
	char *data = malloc(n);
	memset(data, 'x', n);
	tmpfile_with(f, "large.bin", data, n, p, sizeof p);
	free(data);
	int rc = child_rc(wait_child(fork_child(attach_limited, f), 15000));
	assert_int_equal(rc, LP_ERROR);
	assert_int_equal(blobs_entries(f), 0);
	char tmp[256];
	assert_int_equal(count_entries(fx_path(f, tmp, sizeof tmp, "runs/r1/blobs"), ".tmp"), 0);
}

static void test_caps_per_pause(void **state)
{
	(void)state;
	lp_attachment list[LP_ATTACH_COUNT_MAX + 1];
	memset(list, 0, sizeof list);
	for (size_t i = 0; i < LP_ATTACH_COUNT_MAX + 1; i++)
		list[i].name = "x", list[i].size = 1;
	char *why;
	assert_int_equal(lp_attachments_fit(list, LP_ATTACH_COUNT_MAX, &why), LP_ATTACH_COUNT_MAX);
	assert_null(why);
	assert_int_equal(lp_attachments_fit(list, LP_ATTACH_COUNT_MAX + 1, &why),
			 LP_ATTACH_COUNT_MAX);
	assert_non_null(strstr(why, "attachments per pause"));
	free(why);
	list[0].size = LP_ATTACH_TOTAL_MAX;
	assert_int_equal(lp_attachments_fit(list, 3, &why), 1);
	assert_non_null(strstr(why, "MiB per pause"));
	free(why);
}

static lp_pause *pause_with(fx *f, const lp_attachment *a, size_t n, double timeout)
{
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = LP_KIND_CHECKPOINT;
	o.nodeid = "t::x";
	o.task = "look";
	o.timeout = timeout;
	o.attachments = a;
	o.nattachments = n;
	lp_pause *p = NULL;
	int rc = lp_pause_begin(&p, f->run, &o);
	if (rc)
		fprintf(stderr, "lp_pause_begin: %s\n", lp_error_message());
	assert_int_equal(rc, LP_OK);
	return p;
}

typedef struct resumer {
	const char *dir, *ref;
	const char *files[2];
	size_t n;
} resumer;

static int resume_child(void *arg)
{
	resumer *r = arg;
	lp_store *s;
	if (lp_store_open(&s, r->dir, 0) != LP_OK)
		return CHILD_SETUP_FAILED;
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.has_result = 1;
	o.result = LP_RESULT_TRUE;
	o.attach = r->files;
	o.nattach = r->n;
	int rc = lp_pause_resume(NULL, s, r->ref, &o);
	if (rc)
		fprintf(stderr, "[resumer] %s\n", lp_error_message());
	lp_store_free(s);
	return -rc;
}

static void test_both_ways(void **state)
{
	fx *f = *state;
	char a[256], b[256];
	tmpfile_with(f, "screen.png", "PNG!", 4, a, sizeof a);
	tmpfile_with(f, "answer.txt", "hello\n", 6, b, sizeof b);
	lp_attachment mine;
	assert_int_equal(lp_run_attach(f->run, a, NULL, "test", 0, &mine), LP_OK);
	lp_pause *p = pause_with(f, &mine, 1, LP_TIMEOUT_FOREVER);
	resumer r = {.dir = f->dir, .ref = lp_pause_id(p), .files = {b}, .n = 1};
	pid_t pid = fork_child(resume_child, &r);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(child_rc(wait_child(pid, 15000)), LP_OK);
	assert_int_equal(res.nattachments, 1);
	assert_string_equal(res.attachments[0].name, "answer.txt");
	assert_string_equal(res.attachments[0].source, "resume");
	assert_string_equal(res.attachments[0].sha256, HELLO_SHA);
	assert_int_equal(res.attachments[0].blob, LP_BLOB_OK);
	char *text = slurp(res.attachments[0].path);
	assert_string_equal(text, "hello\n");
	free(text);
	/* the pause file lists both, with their sources */
	lp_pause_info *info;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_int_equal(info->nattachments, 2);
	assert_string_equal(info->attachments[0].source, "test");
	assert_string_equal(info->attachments[1].source, "resume");
	assert_int_equal(lp_pause_info_check_attachments(info), LP_OK);
	assert_int_equal(info->attachments[0].blob, LP_BLOB_OK);
	assert_non_null(strstr(info->json, "\"blob\":\"ok\""));
	/* export by name and by sha256 */
	char out[256];
	fx_path(f, out, sizeof out, "out.png");
	lp_attachment got;
	assert_int_equal(
		lp_attachment_export(f->store, lp_pause_id(p), "screen.png", out, -1, &got), LP_OK);
	text = slurp(out);
	assert_string_equal(text, "PNG!");
	free(text);
	lp_attachment_clear(&got);
	assert_int_equal(lp_attachment_export(f->store, lp_pause_id(p), HELLO_SHA, out, -1, NULL),
			 LP_OK);
	assert_int_equal(lp_attachment_export(f->store, lp_pause_id(p), "nope.png", out, -1, NULL),
			 LP_ENOTFOUND);
	/* a damaged blob: reported, never exported */
	assert_int_equal(write_text(mine.path, "PNG?", 4), 0);
	assert_int_equal(unlink(out), 0);
	assert_int_equal(
		lp_attachment_export(f->store, lp_pause_id(p), "screen.png", out, -1, NULL),
		LP_EBADCMD);
	assert_false(exists(out));
	assert_int_equal(
		lp_attachment_export(f->store, lp_pause_id(p), "screen.png", NULL, 1, NULL),
		LP_EBADCMD);
	lp_pause_info_free(info);
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_int_equal(lp_pause_info_check_attachments(info), LP_OK);
	assert_int_equal(info->attachments[0].blob, LP_BLOB_CORRUPT);
	assert_int_equal(info->attachments[1].blob, LP_BLOB_OK);
	assert_non_null(strstr(info->json, "\"blob\":\"corrupt\""));
	lp_pause_info_free(info);
	/* a missing one */
	assert_int_equal(unlink(res.attachments[0].path), 0);
	assert_int_equal(lp_attachment_export(f->store, lp_pause_id(p), HELLO_SHA, out, -1, NULL),
			 LP_ENOTFOUND);
	lp_resolution_clear(&res);
	lp_attachment_clear(&mine);
	lp_pause_free(p);
}

/* A command naming a blob that is missing or damaged is refused (moved
 * aside, command_rejected logged) and the pause keeps waiting. */
static void test_command_with_bad_blob_refused(void **state)
{
	fx *f = *state;
	char a[256];
	tmpfile_with(f, "a.txt", "hello\n", 6, a, sizeof a);
	lp_attachment good;
	assert_int_equal(lp_run_attach(f->run, a, NULL, "test", 0, &good), LP_OK);
	const char *cmds[] = {
		/* missing blob */
		"{\"action\":\"resume\",\"result\":true,\"by\":\"cli\",\"attachments\":[{\"name\":\"x.txt\","
		"\"sha256\":\""
		"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"size\":6,\"content_type\":\"text/plain\"}]}",
		/* the right blob, the wrong size */
		"{\"action\":\"resume\",\"result\":true,\"by\":\"cli\",\"attachments\":[{\"name\":\"x.txt\","
		"\"sha256\":\"" HELLO_SHA "\",\"size\":7,\"content_type\":\"text/plain\"}]}",
		/* not an array */
		"{\"action\":\"resume\",\"result\":true,\"by\":\"cli\",\"attachments\":{}}",
		/* a name that is a path */
		"{\"action\":\"resume\",\"result\":true,\"by\":\"cli\",\"attachments\":[{\"name\":\"../x\","
		"\"sha256\":\"" HELLO_SHA "\",\"size\":6,\"content_type\":\"text/plain\"}]}",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		lp_pause *p = pause_with(f, NULL, 0, 0.3);
		char cp[256];
		fx_path(f, cp, sizeof cp, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
		assert_int_equal(write_text(cp, cmds[i], strlen(cmds[i])), 0);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_TIMED_OUT); /* the bad one was not taken */
		assert_int_equal(res.nattachments, 0);
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
	char ep[256];
	char *events = slurp(fx_path(f, ep, sizeof ep, "runs/r1/events.jsonl"));
	assert_int_equal(count_substr(events, "\"command_rejected\""), 4);
	free(events);
	/* the same command with the right size is taken */
	lp_pause *p = pause_with(f, NULL, 0, 30);
	char cp[256];
	const char *ok =
		"{\"action\":\"resume\",\"result\":true,\"by\":\"cli\",\"attachments\":[{\"name\":\"x.txt\","
		"\"sha256\":\"" HELLO_SHA "\",\"size\":6,\"content_type\":\"text/plain\"}]}";
	fx_path(f, cp, sizeof cp, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
	assert_int_equal(write_text(cp, ok, strlen(ok)), 0);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_int_equal(res.nattachments, 1);
	assert_string_equal(res.attachments[0].name, "x.txt");
	lp_resolution_clear(&res);
	lp_pause_free(p);
	lp_attachment_clear(&good);
}

/* The command that resumes with `entry` as its one attachment, written
 * for pause p; the pause waits `timeout` s: its outcome. */
static lp_outcome resume_with_entry(fx *f, const lp_json *entry, double timeout)
{
	lp_pause *p = pause_with(f, NULL, 0, timeout);
	lp_json *cmd = lpj_object(), *list = lpj_array();
	assert_non_null(cmd);
	assert_int_equal(lpj_set_str(cmd, "action", "resume"), 0);
	assert_int_equal(lpj_set_bool(cmd, "result", 1), 0);
	assert_int_equal(lpj_set_str(cmd, "by", "cli"), 0);
	assert_int_equal(lpj_array_append(list, lpj_copy(entry)), 0);
	assert_int_equal(lpj_set_json(cmd, "attachments", list), 0);
	char *text = lpj_dump(cmd), cp[256];
	fx_path(f, cp, sizeof cp, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
	assert_int_equal(write_text(cp, text, strlen(text)), 0);
	free(text);
	lpj_free(cmd);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	lp_outcome o = res.outcome;
	if (o == LP_OUTCOME_RESUMED)
		assert_int_equal(res.nattachments, 1);
	lp_resolution_clear(&res);
	lp_pause_free(p);
	return o;
}

/* Until the coarse clock (the one a file's change time may come from)
 * is past t: a write after it gets a later change time on any kernel. */
static void past(const struct timespec *t)
{
	for (int i = 0; i < 1000000; i++) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec))
			return;
		sched_yield();
	}
	fail_msg("the clock did not move");
}

/* A resumer's blob carries a seal (its inode and change time once
 * published): the paused process takes it while it is unchanged, and
 * hashes (and refuses) one changed since, in place or replaced. */
static void test_sealed_blob(void **state)
{
	fx *f = *state;
	char src[256], run_path[256], blob[256];
	fx_path(f, run_path, sizeof run_path, "runs/r1");
	tmpfile_with(f, "answer.txt", "hello\n", 6, src, sizeof src);
	lp_json *e = NULL;
	assert_int_equal(lpi_blob_put_entry(f->run->fd, run_path, src, 0, &e), LP_OK);
	assert_string_equal(lpj_get_str(e, "sha256"), HELLO_SHA);
	lp_json *seal = lpj_get(e, "seal");
	assert_non_null(seal);
	struct stat st;
	fx_path(f, blob, sizeof blob, "runs/r1/blobs/" HELLO_SHA);
	assert_int_equal(stat(blob, &st), 0);
	assert_int_equal(lpj_get_int(seal, "ino", -1), (long long)st.st_ino);
	assert_int_equal(lpj_get_int(seal, "ctime_ns", -1),
			 (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
	assert_int_equal(lpi_blob_verify_entry(f->run->fd, e), LP_OK);
	assert_int_equal(resume_with_entry(f, e, 30), LP_OUTCOME_RESUMED);

	/* changed in place, same size, after the seal: hashed, refused */
	past(&st.st_ctim);
	int fd = open(blob, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "J", 1, 0), 1);
	close(fd);
	assert_int_equal(lpi_blob_verify_entry(f->run->fd, e), LP_EBADCMD);
	assert_non_null(strstr(lp_error_message(), "does not match its SHA-256"));
	assert_int_equal(resume_with_entry(f, e, 0.3), LP_OUTCOME_TIMED_OUT);

	/* put again (repaired), then replaced by another file of the same
	 * size: another inode, hashed, refused */
	lpj_free(e);
	assert_int_equal(lpi_blob_put_entry(f->run->fd, run_path, src, 0, &e), LP_OK);
	assert_int_equal(lpi_blob_verify_entry(f->run->fd, e), LP_OK);
	char other[256];
	tmpfile_with(f, "other.txt", "HELLO\n", 6, other, sizeof other);
	assert_int_equal(rename(other, blob), 0);
	assert_int_equal(lpi_blob_verify_entry(f->run->fd, e), LP_EBADCMD);
	assert_int_equal(resume_with_entry(f, e, 0.3), LP_OUTCOME_TIMED_OUT);
	/* what the seal saves: a seal of the blob as it is now is taken
	 * without reading it (the command's writer is trusted for it, as
	 * for its verdict), so these bytes are not hashed */
	assert_int_equal(stat(blob, &st), 0);
	assert_int_equal(lpj_set_int(seal = lpj_get(e, "seal"), "ino", (long long)st.st_ino), 0);
	assert_int_equal(
		lpj_set_int(seal, "ctime_ns",
			    (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec),
		0);
	assert_int_equal(lpi_blob_verify_entry(f->run->fd, e), LP_OK);

	/* a seal that breaks the schema: the command is refused */
	const char *bad[] = {"\"x\"", "{\"ino\":-1,\"ctime_ns\":1}", "{\"ino\":1}",
			     "{\"ino\":1,\"ctime_ns\":1,\"mtime\":2}",
			     "{\"ino\":1.5,\"ctime_ns\":1}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lp_json *v = NULL, *c = lpj_copy(e);
		assert_int_equal(lpj_parse_any(bad[i], strlen(bad[i]), &v), LP_OK);
		assert_int_equal(lpj_set_json(c, "seal", v), LP_OK);
		lp_json *list = lpj_array();
		assert_int_equal(lpj_array_append(list, c), 0);
		size_t n;
		assert_int_equal(lpi_attachments_parse(list, "command", 0, NULL, NULL, &n),
				 LP_EBADCMD);
		assert_non_null(strstr(lp_error_message(), "'seal'"));
		lpj_free(list);
	}
	/* a pause file's entry never has one */
	lp_json *c = lpj_copy(e), *list = lpj_array();
	assert_int_equal(lpj_set_str(c, "source", "resume"), 0);
	assert_int_equal(lpj_array_append(list, c), 0);
	size_t n;
	assert_int_equal(lpi_attachments_parse(list, "pause file", 1, NULL, NULL, &n), LP_EBADCMD);
	lpj_free(list);
	lpj_free(e);
	char ep[256];
	char *events = slurp(fx_path(f, ep, sizeof ep, "runs/r1/events.jsonl"));
	assert_int_equal(count_substr(events, "\"command_rejected\""), 2);
	free(events);
}

/* lp_pause_begin refuses a list over the caps, or naming a blob the
 * store lacks, and writes no pause. */
static void test_pause_begin_refuses(void **state)
{
	fx *f = *state;
	lp_attachment fake = {
		.name = "x.png", .size = 3, .content_type = "image/png", .source = "test"};
	memset(fake.sha256, 'a', LP_SHA256_HEX);
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = "t::x";
	o.attachments = &fake;
	o.nattachments = 1;
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "not in the run's blob store"));
	char pp[256];
	assert_int_equal(count_entries(fx_path(f, pp, sizeof pp, "runs/r1/pauses"), ""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_caps_per_pause),
		cmocka_unit_test_setup_teardown(test_copy_in_by_content, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refused_sources_write_nothing, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_leaves_no_blob, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_both_ways, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_command_with_bad_blob_refused, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_pause_begin_refuses, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_sealed_blob, fx_setup_run, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
