/*
 * test_store.c - store.c: opening the pause directory safely (created
 * 0700; a symlink, a non-directory, a directory open to group/other writes
 * or owned by another user refused with LP_EUNSAFE and a message naming
 * the path and the fix; a missing one without LP_STORE_CREATE is
 * LP_ENOTFOUND), the precedence of lp_store_default_path, atomic and
 * exclusive publication (lpi_file_publish) and capped, symlink- and
 * FIFO-refusing reads (lpi_file_read).
 */
#include "helpers.h"

typedef struct tfx {
	char root[64];
	char path[128];
} tfx;

static int setup(void **state)
{
	tfx *t = calloc(1, sizeof *t);
	make_tmpdir(t->root);
	snprintf(t->path, sizeof t->path, "%s/pd", t->root);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tfx *t = *state;
	rm_rf(t->root);
	free(t);
	return 0;
}

static void assert_mode(const char *path, mode_t want)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, want);
}

static void test_creates_0700(void **state)
{
	tfx *t = *state;
	char p[256];
	snprintf(p, sizeof p, "%s/a/b/pd", t->root); /* parents are made too */
	mode_t old = umask(0);
	lp_store *s = NULL;
	int rc = lp_store_open(&s, p, LP_STORE_CREATE);
	umask(old);
	assert_int_equal(rc, LP_OK);
	assert_string_equal(lp_store_path(s), p);
	assert_mode(p, 0700);
	char sub[300];
	snprintf(sub, sizeof sub, "%s/runs", p);
	assert_mode(sub, 0700);
	snprintf(sub, sizeof sub, "%s/pending", p);
	assert_mode(sub, 0700);
	snprintf(sub, sizeof sub, "%s/a", t->root);
	assert_mode(sub, 0700);
	lp_store_free(s);
	/* opening again (no create) works */
	assert_int_equal(lp_store_open(&s, p, 0), LP_OK);
	lp_store_free(s);
	lp_store_free(NULL);
}

static void test_relative_and_trailing_slash(void **state)
{
	tfx *t = *state;
	char cwd[4096], p[256];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(t->root), 0);
	lp_store *s = NULL;
	int rc = lp_store_open(&s, "pd//", LP_STORE_CREATE);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, LP_OK);
	snprintf(p, sizeof p, "%s/pd", t->root);
	assert_string_equal(lp_store_path(s), p); /* absolute, no trailing '/' */
	lp_store_free(s);
}

static void test_missing_without_create(void **state)
{
	tfx *t = *state;
	lp_store *s = (lp_store *)1;
	assert_int_equal(lp_store_open(&s, t->path, 0), LP_ENOTFOUND);
	assert_null(s);
	assert_non_null(strstr(lp_error_message(), t->path));
	assert_false(exists(t->path)); /* nothing created */
	assert_int_equal(lp_store_open(&s, "", LP_STORE_CREATE), LP_EINVAL);
	/* an existing directory with no runs yet */
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_int_equal(lp_store_open(&s, t->path, 0), LP_ENOTFOUND);
	assert_null(s);
}

static void assert_unsafe(const char *path, unsigned flags, const char *word)
{
	lp_store *s = (lp_store *)1;
	int rc = lp_store_open(&s, path, flags);
	assert_int_equal(rc, LP_EUNSAFE);
	assert_null(s);
	const char *m = lp_error_message();
	assert_non_null(strstr(m, path));          /* names the path */
	assert_non_null(strstr(m, "--pause-dir")); /* and a fix */
	if (word)
		assert_non_null(strstr(m, word));
}

static void test_refuses_symlink(void **state)
{
	tfx *t = *state;
	char target[128];
	snprintf(target, sizeof target, "%s/real", t->root);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, t->path), 0);
	assert_unsafe(t->path, 0, "symlink");
	assert_unsafe(t->path, LP_STORE_CREATE, "symlink");
	/* a dangling symlink is not created through either */
	char dangling[128];
	snprintf(dangling, sizeof dangling, "%s/dangling", t->root);
	char nowhere[160];
	snprintf(nowhere, sizeof nowhere, "%s/nowhere", t->root);
	assert_int_equal(symlink(nowhere, dangling), 0);
	assert_unsafe(dangling, LP_STORE_CREATE, "symlink");
	assert_false(exists(nowhere));
}

static void test_refuses_open_modes(void **state)
{
	tfx *t = *state;
	lp_store *s = NULL;
	assert_int_equal(lp_store_open(&s, t->path, LP_STORE_CREATE), LP_OK);
	lp_store_free(s);
	const mode_t bad[] = {0777, 0722, 0770, 0702, 0720};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		assert_int_equal(chmod(t->path, bad[k]), 0);
		assert_unsafe(t->path, 0, "chmod 700");
		assert_unsafe(t->path, LP_STORE_CREATE, "chmod 700");
	}
	/* readable by others is not a forgery risk outside the default dir */
	assert_int_equal(chmod(t->path, 0755), 0);
	assert_int_equal(lp_store_open(&s, t->path, 0), LP_OK);
	lp_store_free(s);
}

static void test_refuses_non_directory(void **state)
{
	tfx *t = *state;
	assert_int_equal(write_text(t->path, "x", 1), 0);
	assert_unsafe(t->path, 0, "not a directory");
	assert_unsafe(t->path, LP_STORE_CREATE, "not a directory");
}

static void test_refuses_foreign_owner(void **state)
{
	tfx *t = *state;
	lp_store *s = NULL;
	assert_int_equal(lp_store_open(&s, t->path, LP_STORE_CREATE), LP_OK);
	lp_store_free(s);
	if (geteuid() != 0) {
		/* cannot give a directory away without root */
		skip();
	}
	assert_int_equal(chown(t->path, 65534, 65534), 0);
	assert_unsafe(t->path, 0, "65534");
	assert_unsafe(t->path, LP_STORE_CREATE, "uid");
}

static void test_unsafe_subdirectory(void **state)
{
	tfx *t = *state;
	/* runs/ replaced by a symlink: refused, not followed */
	char real[128], runs[160];
	snprintf(real, sizeof real, "%s/elsewhere", t->root);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(mkdir(t->path, 0700), 0);
	snprintf(runs, sizeof runs, "%s/runs", t->path);
	assert_int_equal(symlink(real, runs), 0);
	lp_store *s = NULL;
	assert_int_equal(lp_store_open(&s, t->path, 0), LP_EUNSAFE);
	assert_int_equal(lp_store_open(&s, t->path, LP_STORE_CREATE), LP_EUNSAFE);
	assert_null(s);
}

static void test_default_path_precedence(void **state)
{
	(void)state;
	const char *saved = getenv(LP_ENV_DIR);
	char *copy = saved ? strdup(saved) : NULL;
	unsetenv(LP_ENV_DIR);
	assert_string_equal(lp_store_default_path(NULL), LP_DEFAULT_DIR);
	assert_string_equal(lp_store_default_path(""), LP_DEFAULT_DIR);
	assert_string_equal(lp_store_default_path("/x/explicit"), "/x/explicit");
	setenv(LP_ENV_DIR, "/x/env", 1);
	assert_string_equal(lp_store_default_path(NULL), "/x/env");
	assert_string_equal(lp_store_default_path(""), "/x/env");
	assert_string_equal(lp_store_default_path("/x/explicit"), "/x/explicit");
	setenv(LP_ENV_DIR, "", 1);
	assert_string_equal(lp_store_default_path(NULL), LP_DEFAULT_DIR);
	if (copy) {
		setenv(LP_ENV_DIR, copy, 1);
		free(copy);
	} else {
		unsetenv(LP_ENV_DIR);
	}
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_publish(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	char f[160];
	snprintf(f, sizeof f, "%s/a.json", t->path);

	assert_int_equal(lpi_file_publish(dfd, "a.json", "first", 5, 1, "a.json"), LP_OK);
	char *text = slurp(f);
	assert_string_equal(text, "first");
	free(text);
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* exclusive: the name exists -> 1, the existing file intact */
	assert_int_equal(lpi_file_publish(dfd, "a.json", "second", 6, 1, "a.json"), 1);
	text = slurp(f);
	assert_string_equal(text, "first");
	free(text);

	/* not exclusive: replaced */
	assert_int_equal(lpi_file_publish(dfd, "a.json", "third", 5, 0, "a.json"), LP_OK);
	text = slurp(f);
	assert_string_equal(text, "third");
	free(text);

	/* empty content is fine */
	assert_int_equal(lpi_file_publish(dfd, "empty", "", 0, 1, "empty"), LP_OK);

	/* no temporary file is left behind, by either path */
	assert_int_equal(count_entries(t->path, ".tmp"), 0);
	assert_int_equal(count_entries(t->path, ""), 2);
	close(dfd);
}

/* lpi_file_replace: the replaced file is left whole under the kept name
 * (the filesystem of the test directory has RENAME_EXCHANGE: ext4, tmpfs,
 * xfs, btrfs); nothing to replace, or an exclusive flag, gives "". */
static void test_replace_keeps_the_replaced_file(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	char f[160], kept[LPI_KEPT_MAX], old[LPI_KEPT_MAX + 200];
	snprintf(f, sizeof f, "%s/p.json", t->path);

	/* nothing there yet: a plain rename, nothing kept */
	assert_int_equal(lpi_file_replace(dfd, "p.json", "pending", 7, 0, "p.json", kept, NULL),
			 LP_OK);
	assert_string_equal(kept, "");
	char *text = slurp(f);
	assert_string_equal(text, "pending");
	free(text);
	assert_int_equal(count_entries(t->path, ".tmp"), 0);

	/* two replacements in a row, each keeping the one it replaced */
	const char *next[] = {"resumed", "resumed again"};
	const char *before[] = {"pending", "resumed"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lpi_file_replace(dfd, "p.json", next[i], strlen(next[i]),
						  LP_PUBLISH_VOLATILE | LP_PUBLISH_EXCLUSIVE,
						  "p.json", kept, NULL),
				 LP_OK);
		assert_true(strncmp(kept, ".tmp.", 5) == 0);
		text = slurp(f);
		assert_string_equal(text, next[i]);
		free(text);
		snprintf(old, sizeof old, "%s/%s", t->path, kept);
		text = slurp(old);
		assert_string_equal(text, before[i]);
		free(text);
		assert_int_equal(unlinkat(dfd, kept, 0), 0);
	}
	assert_int_equal(count_entries(t->path, ".tmp"), 0);
	assert_int_equal(count_entries(t->path, ""), 1);
	close(dfd);
}

/* A spare made ahead (one byte in it, which reserves its block) becomes
 * the published file with exactly the data (same inode: the publish
 * created no file), is consumed, and leaves nothing behind; one dropped
 * unused is removed; a replace without a spare still makes its own. */
static void test_replace_with_a_spare(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	char f[160], kept[LPI_KEPT_MAX];
	snprintf(f, sizeof f, "%s/p.json", t->path);
	assert_int_equal(lpi_file_replace(dfd, "p.json", "pending", 7, 0, "p.json", kept, NULL),
			 LP_OK);
	const char *next[] = {"resumed", "x"}; /* longer than its one byte, and as long */
	for (int i = 0; i < 2; i++) {
		lpi_spare sp;
		assert_int_equal(lpi_file_spare(dfd, &sp, "p.json"), LP_OK);
		assert_true(sp.fd >= 0);
		assert_true(strncmp(sp.name, ".tmp.", 5) == 0);
		struct stat made, final;
		assert_int_equal(fstat(sp.fd, &made), 0);
		assert_int_equal(lpi_file_replace(dfd, "p.json", next[i], strlen(next[i]),
						  LP_PUBLISH_VOLATILE, "p.json", kept, &sp),
				 LP_OK);
		assert_int_equal(sp.fd, -1); /* consumed */
		assert_int_equal(stat(f, &final), 0);
		assert_int_equal(final.st_ino, made.st_ino);
		char *text = slurp(f);
		assert_string_equal(text, next[i]);
		free(text);
		assert_int_equal(unlinkat(dfd, kept, 0), 0); /* the replaced one */
		assert_int_equal(count_entries(t->path, ".tmp"), 0);
	}
	lpi_spare unused;
	assert_int_equal(lpi_file_spare(dfd, &unused, "p.json"), LP_OK);
	assert_int_equal(count_entries(t->path, ".tmp"), 1);
	lpi_spare_drop(dfd, &unused);
	assert_int_equal(unused.fd, -1);
	assert_int_equal(count_entries(t->path, ".tmp"), 0);
	lpi_spare_drop(dfd, &unused); /* twice: nothing */
	assert_int_equal(count_entries(t->path, ""), 1);
	close(dfd);
}

static void test_publish_exclusive_over_symlink(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	char link[160], target[160];
	snprintf(target, sizeof target, "%s/target", t->root);
	snprintf(link, sizeof link, "%s/cmd", t->path);
	assert_int_equal(symlink(target, link), 0); /* dangling */
	/* a name taken by a symlink counts as taken; nothing is written
	 * through it */
	assert_int_equal(lpi_file_publish(dfd, "cmd", "x", 1, 1, "cmd"), 1);
	assert_false(exists(target));
	assert_int_equal(count_entries(t->path, ".tmp"), 0);
	close(dfd);
}

static void test_read(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	char p[200];
	char *out = (char *)1;
	size_t len = 99;

	assert_int_equal(lpi_file_read(dfd, "missing", 100, "missing file", &out, &len),
			 LP_ENOTFOUND);
	assert_null(out);
	assert_non_null(strstr(lp_error_message(), "missing file"));

	snprintf(p, sizeof p, "%s/ok", t->path);
	assert_int_equal(write_text(p, "{\"a\":1}", 7), 0);
	assert_int_equal(lpi_file_read(dfd, "ok", 7, "ok", &out, &len),
			 LP_OK); /* exactly the cap */
	assert_int_equal(len, 7);
	assert_string_equal(out, "{\"a\":1}");
	free(out);
	assert_int_equal(lpi_file_read(dfd, "ok", 100, "ok", &out, NULL), LP_OK);
	free(out);

	/* over the cap */
	assert_int_equal(lpi_file_read(dfd, "ok", 6, "capped file", &out, &len), LP_EBADCMD);
	assert_null(out);
	assert_non_null(strstr(lp_error_message(), "capped file"));

	/* a symlink, even to a good file */
	snprintf(p, sizeof p, "%s/link", t->path);
	assert_int_equal(symlink("ok", p), 0);
	assert_int_equal(lpi_file_read(dfd, "link", 100, "link", &out, &len), LP_EUNSAFE);
	assert_null(out);

	/* a FIFO with no writer: refused, and the read does not block (the
	 * test binary's alarm would kill it) */
	snprintf(p, sizeof p, "%s/fifo", t->path);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(lpi_file_read(dfd, "fifo", 100, "fifo", &out, &len), LP_EUNSAFE);
	assert_null(out);

	/* a directory */
	snprintf(p, sizeof p, "%s/dir", t->path);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_not_equal(lpi_file_read(dfd, "dir", 100, "dir", &out, &len), LP_OK);
	assert_null(out);
	close(dfd);
}

static void test_read_big(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path);
	size_t n = 3 * LP_CAP_COMMAND;
	char *big = malloc(n);
	memset(big, ' ', n);
	char p[200];
	snprintf(p, sizeof p, "%s/big", t->path);
	assert_int_equal(write_text(p, big, n), 0);
	char *out = NULL;
	assert_int_equal(lpi_file_read(dfd, "big", LP_CAP_COMMAND, "big", &out, NULL), LP_EBADCMD);
	assert_null(out);
	assert_int_equal(lpi_file_read(dfd, "big", n, "big", &out, NULL), LP_OK);
	assert_int_equal(strlen(out), n);
	free(out);
	free(big);
	close(dfd);
}

static void test_dir_open(void **state)
{
	tfx *t = *state;
	assert_int_equal(mkdir(t->path, 0700), 0);
	int dfd = open_dir(t->path), fd = -1;
	assert_int_equal(lpi_dir_open(dfd, "sub", 0, "sub", &fd), LP_ENOTFOUND);
	assert_int_equal(lpi_dir_open(dfd, "sub", 1, "sub", &fd), LP_OK);
	assert_true(fd >= 0);
	close(fd);
	char p[200];
	snprintf(p, sizeof p, "%s/sub", t->path);
	assert_mode(p, 0700);
	snprintf(p, sizeof p, "%s/ln", t->path);
	assert_int_equal(symlink("sub", p), 0);
	assert_int_equal(lpi_dir_open(dfd, "ln", 0, "ln", &fd), LP_EUNSAFE);
	assert_int_equal(lpi_dir_open(dfd, "ln", 1, "ln", &fd), LP_EUNSAFE);
	snprintf(p, sizeof p, "%s/file", t->path);
	assert_int_equal(write_text(p, "", 0), 0);
	assert_int_equal(lpi_dir_open(dfd, "file", 0, "file", &fd), LP_EUNSAFE);
	close(dfd);
}

static void test_path_join(void **state)
{
	(void)state;
	char *p = lpi_path_join("/a/b", "c.json");
	assert_string_equal(p, "/a/b/c.json");
	free(p);
	assert_null(lpi_strdup(NULL));
}

int main(void)
{
	test_guard(60);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_creates_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_and_trailing_slash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_open_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_non_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_subdirectory, setup, teardown),
		cmocka_unit_test(test_default_path_precedence),
		cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_keeps_the_replaced_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replace_with_a_spare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_exclusive_over_symlink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_open, setup, teardown),
		cmocka_unit_test(test_path_join),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
