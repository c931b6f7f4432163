/*
 * test_ids.c - ids.c: validation of pause, run and worker ids (the only
 * gate between a user's string and a file name), the split of a pause id
 * into its run id, and the generation of unique, valid ids.
 */
#include "helpers.h"

static void assert_invalid(const char *id)
{
	lpi_error_clear();
	assert_int_equal(lp_id_validate(id, "pause id"), LP_EINVAL);
	assert_int_equal(lp_error_last(), LP_EINVAL);
	assert_true(strlen(lp_error_message()) > 0);
	assert_int_equal(lpi_run_id_validate(id), LP_EINVAL);
}

static void test_empty_and_null(void **state)
{
	(void)state;
	assert_invalid("");
	assert_int_equal(lp_id_validate(NULL, "pause id"), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "pause id"));
	assert_int_equal(lpi_run_id_validate(NULL), LP_EINVAL);
}

static void test_length_bound(void **state)
{
	(void)state;
	char id[LP_ID_MAX + 2];
	memset(id, 'a', LP_ID_MAX);
	id[LP_ID_MAX] = '\0';
	assert_int_equal(lp_id_validate(id, "pause id"), LP_OK); /* 64: the maximum */
	assert_int_equal(lpi_run_id_validate(id), LP_OK);
	id[LP_ID_MAX] = 'a';
	id[LP_ID_MAX + 1] = '\0'; /* 65 */
	assert_invalid(id);
	assert_non_null(strstr(lp_error_message(), "longer"));
}

static void test_slash_and_dots(void **state)
{
	(void)state;
	assert_invalid("a/b");
	assert_invalid("/etc");
	assert_invalid("../x");
	assert_int_equal(lp_id_validate("a/b", "pause id"), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "'/'"));
	assert_invalid(".");
	assert_invalid("..");
	assert_invalid(".hidden");
	assert_invalid(".tmp.123.abc");
}

static void test_bad_bytes(void **state)
{
	(void)state;
	/* NUL cannot be in a C string; bytes >127 (UTF-8, Latin-1) can */
	assert_invalid("caf\xc3\xa9");
	assert_invalid("\xff");
	assert_invalid("a\x80z");
	assert_invalid("a b");
	assert_invalid("a\nb");
	assert_invalid("a\\b");
	assert_invalid("a:b");
	assert_invalid("a*");
	assert_invalid("a%2fb");
}

static void test_allowed_charset(void **state)
{
	(void)state;
	const char *ok = "AZaz09_-";
	assert_int_equal(lp_id_validate(ok, "pause id"), LP_OK);
	assert_int_equal(lpi_run_id_validate(ok), LP_OK);
	assert_int_equal(lp_id_validate("run-1.abcdef01", "pause id"), LP_OK);
	assert_int_equal(lp_id_validate("a..b", "pause id"), LP_OK); /* not a path component */
	assert_int_equal(lp_id_validate("x", NULL), LP_OK);
	assert_int_equal(lp_id_validate("gw0", "worker id"), LP_OK);
	/* every byte outside the charset is refused */
	for (int c = 1; c < 256; c++) {
		char id[3] = {'a', (char)c, '\0'};
		int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
		assert_int_equal(lp_id_validate(id, "pause id"), want ? LP_OK : LP_EINVAL);
	}
}

static void test_run_ids_refuse_dot(void **state)
{
	(void)state;
	assert_int_equal(lpi_run_id_validate("a.b"), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "run id"));
	assert_int_equal(lpi_run_id_validate("ab."), LP_EINVAL);
	assert_int_equal(lpi_run_id_validate("r1"), LP_OK);
}

static void test_message_names_what(void **state)
{
	(void)state;
	assert_int_equal(lp_id_validate("a/b", "worker id"), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "worker id"));
	assert_int_equal(lp_id_validate("", "worker id"), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "worker id"));
}

static void test_pause_id_run(void **state)
{
	(void)state;
	char run[LP_ID_MAX + 1];
	assert_int_equal(lpi_pause_id_run("r1.0a1b2c3d", run), LP_OK);
	assert_string_equal(run, "r1");
	assert_int_equal(lpi_pause_id_run("run-x_y.a.b", run), LP_OK);
	assert_string_equal(run, "run-x_y"); /* split at the first '.' */
	/* no '.': refused (internal.h documents LP_EINVAL; the code says
	 * LP_ENOTFOUND, which lpi_pause_load relies on) */
	assert_int_not_equal(lpi_pause_id_run("nodot", run), LP_OK);
	assert_int_equal(lpi_pause_id_run("a/b.c", run), LP_EINVAL);
	assert_int_equal(lpi_pause_id_run(".x", run), LP_EINVAL);
	assert_int_equal(lpi_pause_id_run("", run), LP_EINVAL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void test_generated_ids(void **state)
{
	(void)state;
	enum { N = 2000 };
	static char runs[N][LP_ID_MAX + 1], pauses[N][LP_ID_MAX + 1];
	for (int k = 0; k < N; k++) {
		assert_int_equal(lpi_new_run_id(runs[k]), LP_OK);
		assert_int_equal(lpi_run_id_validate(runs[k]), LP_OK);
		assert_int_equal(lpi_new_pause_id("r1", pauses[k]), LP_OK);
		assert_int_equal(lp_id_validate(pauses[k], "pause id"), LP_OK);
		char run[LP_ID_MAX + 1];
		assert_int_equal(lpi_pause_id_run(pauses[k], run), LP_OK);
		assert_string_equal(run, "r1");
	}
	qsort(runs, N, sizeof runs[0], cmp_str);
	qsort(pauses, N, sizeof pauses[0], cmp_str);
	for (int k = 1; k < N; k++) {
		assert_string_not_equal(runs[k - 1], runs[k]);
		assert_string_not_equal(pauses[k - 1], pauses[k]);
	}
}

static void test_pause_id_of_long_run(void **state)
{
	(void)state;
	char run[LP_ID_MAX + 1], id[LP_ID_MAX + 1];
	memset(run, 'r', sizeof run);
	run[LP_ID_MAX - 9] = '\0'; /* 55: the longest that leaves room */
	assert_int_equal(lpi_new_pause_id(run, id), LP_OK);
	assert_int_equal(strlen(id), LP_ID_MAX);
	assert_int_equal(lp_id_validate(id, "pause id"), LP_OK);
	run[LP_ID_MAX - 9] = 'r';
	run[LP_ID_MAX - 8] = '\0'; /* 56 */
	assert_int_equal(lpi_new_pause_id(run, id), LP_EINVAL);
}

static void test_random_hex(void **state)
{
	(void)state;
	char buf[65];
	assert_int_equal(lpi_random_hex(buf, 32), LP_OK);
	assert_int_equal(strlen(buf), 64);
	assert_int_equal(strspn(buf, "0123456789abcdef"), 64);
	assert_int_equal(lpi_random_hex(buf, 33), LP_EINVAL);
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(lp_error_name(LP_OK), "LP_OK");
	assert_string_equal(lp_error_name(LP_ESTALE), "LP_ESTALE");
	assert_string_equal(lp_error_name(LP_EKIND), "LP_EKIND");
	assert_string_equal(lp_error_name(12345), "LP_UNKNOWN");
	lpi_error_clear();
	assert_non_null(lp_error_message());
	assert_string_equal(lp_error_message(), "");
	assert_int_equal(lp_error_last(), LP_OK);
}

int main(void)
{
	test_guard(60);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_length_bound),
		cmocka_unit_test(test_slash_and_dots),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_allowed_charset),
		cmocka_unit_test(test_run_ids_refuse_dot),
		cmocka_unit_test(test_message_names_what),
		cmocka_unit_test(test_pause_id_run),
		cmocka_unit_test(test_generated_ids),
		cmocka_unit_test(test_pause_id_of_long_run),
		cmocka_unit_test(test_random_hex),
		cmocka_unit_test(test_error_names),
	};
	return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
