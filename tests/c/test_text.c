/*
 * test_text.c - text.c and the JSON dump's escaping: terminal escaping of
 * hostile text (every class: C0, C1, DEL, line separators, bidirectional
 * controls, invalid UTF-8, NUL), POSIX shell quoting (checked by running
 * /bin/sh on the quoted word), the resume command, and U+2028/U+2029/C1
 * escaped in every dumped JSON.
 */
#include "helpers.h"

static char *safe(const char *text, size_t len, unsigned flags)
{
	char *out = NULL;
	assert_int_equal(lp_text_terminal_safe(&out, text, len, flags), LP_OK);
	assert_non_null(out);
	return out;
}

static void expect(const char *in, size_t len, unsigned flags, const char *want)
{
	char *got = safe(in, len, flags);
	assert_string_equal(got, want);
	free(got);
}

#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, 0, want)

/* No byte of the result may be a control character, and no U+0085,
 * U+2028, U+2029 or C1 may survive. */
static void assert_inert(const char *s, int multiline)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (multiline && (*p == '\n' || *p == '\t'))
			continue;
		assert_false(*p < 0x20 || *p == 0x7F);
		assert_false(p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F);
		assert_false(p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9));
	}
}

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	EXPECT("tests/test_a.py::test_x[1-2]", "tests/test_a.py::test_x[1-2]");
	EXPECT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	EXPECT("back\\slash \\x1b", "back\\slash \\x1b");
	EXPECT("", "");
	expect(NULL, 0, 0, "");
}

static void test_c0_and_del(void **state)
{
	(void)state;
	EXPECT("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"); /* clear screen, home */
	EXPECT("a\rb", "a\\rb");
	EXPECT("a\vb\fc", "a\\x0bb\\x0cc");
	EXPECT("a\nb\tc", "a\\nb\\tc");
	EXPECT("\x07\x08\x1c\x1d\x1e\x7f", "\\x07\\x08\\x1c\\x1d\\x1e\\x7f");
	expect("a\0b", 3, 0, "a\\x00b"); /* NUL is data: len counts */
	/* multiline keeps LF and TAB only */
	expect("a\nb\tc\rd\x0b", 8, LP_TEXT_MULTILINE, "a\nb\tc\\rd\\x0b");
}

static void test_c1_and_separators(void **state)
{
	(void)state;
	EXPECT("a\xc2\x85"
	       "b",
	       "a\\u0085b"); /* NEL */
	EXPECT("\xc2\x9b"
	       "31m",
	       "\\u009b31m"); /* 8-bit CSI */
	EXPECT("\xc2\x80\xc2\x9f", "\\u0080\\u009f");
	EXPECT("a\xe2\x80\xa8"
	       "b\xe2\x80\xa9"
	       "c",
	       "a\\u2028b\\u2029c");
	EXPECT("\xe2\x80\xae"
	       "txt",
	       "\\u202etxt"); /* RLO */
	EXPECT("\xe2\x81\xa6\xe2\x81\xa9", "\\u2066\\u2069");
	EXPECT("\xe2\x80\x8e\xd8\x9c", "\\u200e\\u061c");
	/* neighbours stay: U+00A0, U+2027, U+202F */
	EXPECT("\xc2\xa0\xe2\x80\xa7\xe2\x80\xaf", "\xc2\xa0\xe2\x80\xa7\xe2\x80\xaf");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	EXPECT("\xff\xfe", "\\xff\\xfe");
	EXPECT("caf\xe9", "caf\\xe9");                      /* Latin-1 */
	EXPECT("\xc0\x8a", "\\xc0\\x8a");                   /* overlong LF */
	EXPECT("\xe0\x80\x8a", "\\xe0\\x80\\x8a");          /* overlong LF, 3 bytes */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");          /* encoded surrogate */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
	EXPECT("\xe2\x80", "\\xe2\\x80");                   /* cut sequence */
	EXPECT("\xc2", "\\xc2");
}

static void test_forged_lines(void **state)
{
	(void)state;
	const char *hostile[] = {
		"x\npause_id: forged",
		"x\rpause_id: forged",
		"x\x0bstate: resumed",
		"x\x0cstate: resumed",
		"x\xc2\x85pause_id: forged",
		"x\xe2\x80\xa8pause_id: f",
		"x\xe2\x80\xa9state: resumed",
		"x\x1c\x1d\x1estate: y",
		"\x1b]0;title\x07",
	};
	for (size_t k = 0; k < sizeof hostile / sizeof hostile[0]; k++) {
		char *s = safe(hostile[k], strlen(hostile[k]), 0);
		assert_inert(s, 0);
		free(s);
		s = safe(hostile[k], strlen(hostile[k]), LP_TEXT_MULTILINE);
		assert_inert(s, 1);
		free(s);
	}
}

static void test_every_byte_pair_is_inert(void **state)
{
	(void)state;
	unsigned char in[3] = {0, 0, 'z'};
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			in[0] = (unsigned char)a;
			in[1] = (unsigned char)b;
			char *s = safe((const char *)in, 3, 0);
			assert_inert(s, 0);
			assert_true(strlen(s) <= 6 * 3);
			free(s);
		}
}

/* lp_text_is_terminal_safe is 1 exactly when the escape gives the text
 * back: for every pair of bytes before and after 6 printable ones (the
 * 8-byte path and the byte path), both modes, and NULL. */
static void test_is_terminal_safe_matches_the_escape(void **state)
{
	(void)state;
	unsigned char in[9] = {0, 'a', 'b', 'c', 'd', 'e', 'f', 0, 0};
	int kept = 0, escaped = 0;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			in[0] = (unsigned char)a;
			in[7] = (unsigned char)b;
			in[8] = (unsigned char)(a ^ b);
			for (unsigned flags = 0; flags <= LP_TEXT_MULTILINE; flags++) {
				for (size_t len = 1; len <= 9; len += 8) {
					char *s = NULL;
					assert_int_equal(lp_text_terminal_safe(&s, (const char *)in,
									       len, flags),
							 LP_OK);
					int same = strlen(s) == len && memcmp(s, in, len) == 0;
					assert_int_equal(lp_text_is_terminal_safe((const char *)in,
										  len, flags),
							 same);
					same ? kept++ : escaped++;
					free(s);
				}
			}
		}
	assert_true(kept > 1000 && escaped > 1000); /* both answers were tested */
	assert_int_equal(lp_text_is_terminal_safe("caf\xc3\xa9", 5, 0), 1);
	assert_int_equal(lp_text_is_terminal_safe("bidi \xe2\x80\xae", 8, 0), 0);
	assert_int_equal(lp_text_is_terminal_safe("two\nlines", 9, 0), 0);
	assert_int_equal(lp_text_is_terminal_safe("two\nlines", 9, LP_TEXT_MULTILINE), 1);
	assert_int_equal(lp_text_is_terminal_safe(NULL, 0, 0), 1);
	assert_int_equal(lp_text_is_terminal_safe(NULL, 3, 0), 0);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	char *out = (char *)1;
	assert_int_equal(lp_text_terminal_safe(&out, NULL, 3, 0), LP_EINVAL);
	assert_null(out);
	assert_int_equal(lp_text_terminal_safe(NULL, "a", 1, 0), LP_EINVAL);
	assert_int_equal(lp_shell_quote(NULL, "a"), LP_EINVAL);
	assert_int_equal(lp_shell_quote(&out, NULL), LP_EINVAL);
	assert_int_equal(lp_pause_resume_command(&out, NULL, LP_KIND_FAILURE, NULL), LP_EINVAL);
}

/* ------------------------------------------------------------ shell */

/* What /bin/sh makes of `quoted` as one argument: printf '%s' <quoted>. */
static char *sh_read_back(const char *quoted)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		size_t n = strlen(quoted) + 64;
		char *script = malloc(n);
		if (script == NULL)
			_exit(CHILD_SETUP_FAILED);
		snprintf(script, n, "set -f; printf '%%s' %s", quoted);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(CHILD_SETUP_FAILED);
	}
	close(fds[1]);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	ssize_t r;
	while ((r = read(fds[0], buf + len, cap - len - 1)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return buf;
}

static void test_shell_quote_round_trip(void **state)
{
	(void)state;
	const char *words[] = {
		"plain",
		"/tmp/pytest-live-pause",
		"it's",
		"'",
		"''",
		"a'b'c",
		"$(touch /tmp/lp-pwned)",
		"`id`",
		"$HOME",
		"a b",
		"*",
		"~root",
		"=ls",
		"a\nb",
		"-n",
		"\\",
		"\"q\"",
		"!x",
		"a;b&c|d",
		"{a,b}",
		"'$(id)'",
		"caf\xc3\xa9",
		"#comment",
		"\x1b[2J",
		"%s%n",
	};
	for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
		char *q = NULL;
		assert_int_equal(lp_shell_quote(&q, words[k]), LP_OK);
		char *back = sh_read_back(q);
		assert_string_equal(back, words[k]);
		free(back);
		free(q);
	}
	char *q = NULL;
	assert_int_equal(lp_shell_quote(&q, ""), LP_OK);
	assert_string_equal(q, "''");
	free(q);
	assert_int_equal(lp_shell_quote(&q, "27be4cbca5ab.79688e30"), LP_OK);
	assert_string_equal(q, "27be4cbca5ab.79688e30"); /* safe words stay bare */
	free(q);
	assert_int_equal(lp_shell_quote(&q, "it's"), LP_OK);
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	assert_int_equal(access("/tmp/lp-pwned", F_OK), -1);
}

static void test_resume_command(void **state)
{
	(void)state;
	char *c = NULL;
	assert_int_equal(lp_pause_resume_command(&c, "ab12.cd34ef56", LP_KIND_FAILURE, NULL),
			 LP_OK);
	assert_string_equal(c, "pytest-live-pause resume ab12.cd34ef56 --failure-reason TEXT");
	free(c);
	assert_int_equal(lp_pause_resume_command(&c, "0123456789abcdef0123456789abcdef",
						 LP_KIND_CHECKPOINT, "/tmp/x y/'$(id)'"),
			 LP_OK);
	assert_string_equal(c, "pytest-live-pause resume 0123456789abcdef0123456789abcdef "
			       "--pause-dir '/tmp/x y/'\\''$(id)'\\''' "
			       "--result 'true|false|none' --reason TEXT");
	free(c);
}

/* ------------------------------------------------------------- JSON */

static void test_json_dump_escapes_line_breaks(void **state)
{
	(void)state;
	lp_json *o = lpj_object();
	assert_non_null(o);
	assert_int_equal(lpj_set_str(o, "a", "x\xe2\x80\xa8y\xe2\x80\xa9z\xc2\x85w"), LP_OK);
	assert_int_equal(lpj_set_str(o, "b",
				     "\xc2\x9b"
				     "2J\x7f\x1b\xe2\x80\xae"),
			 LP_OK);
	assert_int_equal(lpj_set_str(o, "c", "caf\xc3\xa9 \xe2\x82\xac"), LP_OK);
	char *s = lpj_dump(o);
	assert_non_null(s);
	assert_string_equal(s, "{\"a\":\"x\\u2028y\\u2029z\\u0085w\","
			       "\"b\":\"\\u009B2J\\u007F\\u001B\\u202E\","
			       "\"c\":\"caf\xc3\xa9 \xe2\x82\xac\"}");
	/* and it reads back equal */
	lp_json *back;
	assert_int_equal(lpj_parse_object(s, strlen(s), "dump", &back), LP_OK);
	assert_string_equal(lpj_get_str(back, "a"), "x\xe2\x80\xa8y\xe2\x80\xa9z\xc2\x85w");
	assert_string_equal(lpj_get_str(back, "b"), "\xc2\x9b"
						    "2J\x7f\x1b\xe2\x80\xae");
	char *exact = lpj_dump_exact(back);
	assert_non_null(exact);
	assert_string_equal(exact, s);
	free(exact);
	lpj_free(back);
	free(s);
	lpj_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_c0_and_del),
		cmocka_unit_test(test_c1_and_separators),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_forged_lines),
		cmocka_unit_test(test_every_byte_pair_is_inert),
		cmocka_unit_test(test_is_terminal_safe_matches_the_escape),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_shell_quote_round_trip),
		cmocka_unit_test(test_resume_command),
		cmocka_unit_test(test_json_dump_escapes_line_breaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
