/*
 * test_json.c - json.c: strict parsing of objects (lpj_parse_object:
 * duplicates, non-objects, empty input, invalid UTF-8, NUL bytes,
 * trailing garbage, nesting) and the object helpers (merge, dump,
 * getters); the command's schema is tested in test_claim.c. Bounded
 * text (lpj_encoded_size, lpj_text_fit, lpj_set_text, lpj_bound_strings):
 * cut by the encoded size, on a character boundary, marked.
 */
#include "helpers.h"

#include <limits.h>
#include <math.h>

static int parse(const char *text, lp_json **out)
{
	return lpj_parse_object(text, strlen(text), "test input", out);
}

static void assert_rejected(const char *text, size_t len)
{
	lp_json *j = (lp_json *)1;
	lpi_error_clear();
	assert_int_equal(lpj_parse_object(text, len, "test input", &j), LP_EBADCMD);
	assert_null(j);
	assert_non_null(strstr(lp_error_message(), "test input")); /* names what */
}

static void test_parse_ok(void **state)
{
	(void)state;
	lp_json *j = NULL;
	assert_int_equal(parse(" {\"a\": \"x\", \"b\": 2, \"c\": [1, {\"d\": null}]}\n", &j),
			 LP_OK);
	assert_string_equal(lpj_get_str(j, "a"), "x");
	assert_int_equal(lpj_get_int(j, "b", -1), 2);
	assert_true(lpj_has(j, "c"));
	assert_false(lpj_has(j, "zz"));
	lpj_free(j);
	assert_int_equal(parse("{}", &j), LP_OK);
	lpj_free(j);
}

static void test_parse_011_nonfinite_tokens(void **state)
{
	(void)state;
	lp_json *j = NULL;
	/* 0.1.1's json.dump of inf, -inf and nan: read as null, 0 and 0 */
	const char *text = "{\n  \"timeout\": Infinity,\n  \"a\": [-Infinity, NaN],"
			   " \"s\": \"Infinity NaN\", \"b\": NaN}";
	assert_int_equal(lpj_parse_object(text, strlen(text), "pause file", &j), LP_EBADCMD);
	assert_int_equal(lpj_parse_object_011(text, strlen(text), "pause file", &j), LP_OK);
	assert_true(lpj_has(j, "timeout"));
	assert_true(lpj_get_real(j, "timeout", -1) < 0); /* null: the default */
	assert_int_equal(lpj_get_int(j, "b", -1), 0);
	assert_string_equal(lpj_get_str(j, "s"), "Infinity NaN"); /* strings untouched */
	lpj_free(j);
	/* a plain file is read as by lpj_parse_object */
	assert_int_equal(lpj_parse_object_011("{\"x\": 1}", 8, "f", &j), LP_OK);
	assert_int_equal(lpj_get_int(j, "x", -1), 1);
	lpj_free(j);
	/* not Python's tokens: refused with jansson's message */
	const char *bad[] = {"{\"t\": Infinityx}",
			     "{\"t\": -Infinityx}",
			     "{\"t\": infinity}",
			     "{\"t\": Nan}",
			     "{\"t\": NaN",
			     "[Infinity]",
			     "{\"t\": Infinity Infinity}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		j = (lp_json *)1;
		assert_int_equal(lpj_parse_object_011(bad[i], strlen(bad[i]), "pause file", &j),
				 LP_EBADCMD);
		assert_null(j);
		assert_non_null(strstr(lp_error_message(), "pause file"));
	}
	/* the bound: 16 tokens are patched, a 17th is refused */
	char many[512];
	for (int n = 16; n <= 17; n++) {
		size_t k = (size_t)snprintf(many, sizeof many, "{\"t\": [");
		for (int i = 0; i < n; i++)
			k += (size_t)snprintf(many + k, sizeof many - k, "%sNaN", i ? "," : "");
		snprintf(many + k, sizeof many - k, "]}");
		assert_int_equal(lpj_parse_object_011(many, strlen(many), "f", &j),
				 n == 16 ? LP_OK : LP_EBADCMD);
		lpj_free(j);
		j = NULL;
	}
}

static void test_parse_rejects(void **state)
{
	(void)state;
	const char *bad[] = {
		"{\"a\":1,\"a\":2}",         /* duplicate keys */
		"{\"a\":{\"b\":1,\"b\":1}}", /* nested duplicates */
		"[1,2]",                     /* arrays */
		"[]",
		"\"text\"",
		"42",
		"null",
		"true",
		"   ",         /* whitespace only */
		"{\"a\":1} x", /* trailing garbage */
		"{}{}",
		"{\"a\":1}}",
		"{\"a\":1", /* truncated */
		"{'a':1}",
		"{\"a\":1,}",
		"{\"a\":NaN}",
		"{\"a\":\"\xff\"}",     /* invalid UTF-8 */
		"{\"a\":\"\xc3\"}",     /* truncated sequence */
		"{\"\xed\xa0\x80\":1}", /* an encoded surrogate */
		"{\"a\":\"\\u0000\"}",  /* NUL in a string */
		"\xef\xbb\xbf{}",       /* a byte-order mark */
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		assert_rejected(bad[k], strlen(bad[k]));
	assert_rejected("", 0);
	assert_non_null(strstr(lp_error_message(), "empty"));
	assert_rejected("{}\0", 3);              /* a raw NUL after the object */
	assert_rejected("{\"a\":\"b\0c\"}", 11); /* a raw NUL inside */
}

static char *nested(int depth, const char *open, const char *close_, const char *inner)
{
	size_t no = strlen(open), nc = strlen(close_), ni = strlen(inner);
	char *s = malloc(depth * (no + nc) + ni + 16);
	size_t n = 0;
	memcpy(s + n, "{\"a\":", 5);
	n += 5;
	for (int k = 0; k < depth; k++, n += no)
		memcpy(s + n, open, no);
	memcpy(s + n, inner, ni);
	n += ni;
	for (int k = 0; k < depth; k++, n += nc)
		memcpy(s + n, close_, nc);
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

static void test_nesting(void **state)
{
	(void)state;
	lp_json *j = NULL;
	/* reasonable nesting is fine */
	char *s = nested(100, "[", "]", "1");
	assert_int_equal(parse(s, &j), LP_OK);
	lpj_free(j);
	free(s);
	/* nesting as deep as a command file's cap allows is refused (by the
	 * parser's depth limit), without exhausting the stack */
	s = nested(LP_CAP_COMMAND / 2 - 8, "[", "]", "1");
	assert_true(strlen(s) <= LP_CAP_COMMAND);
	assert_rejected(s, strlen(s));
	free(s);
	s = nested(LP_CAP_COMMAND / 7, "{\"b\":", "}", "1");
	assert_true(strlen(s) <= LP_CAP_COMMAND);
	assert_rejected(s, strlen(s));
	free(s);
}

static void test_builders_and_dump(void **state)
{
	(void)state;
	lp_json *o = lpj_object();
	assert_non_null(o);
	assert_int_equal(lpj_set_str(o, "z", "last"), LP_OK);
	assert_int_equal(lpj_set_int(o, "a", 7), LP_OK);
	assert_int_equal(lpj_set_bool(o, "m", 1), LP_OK);
	assert_int_equal(lpj_set_null(o, "n"), LP_OK);
	assert_int_equal(lpj_set_str(o, "s", NULL), LP_OK);
	assert_int_equal(lpj_set_real(o, "r", 1.5), LP_OK);
	assert_int_equal(lpj_set_result(o, "t", LP_RESULT_TRUE), LP_OK);
	assert_int_equal(lpj_set_result(o, "f", LP_RESULT_FALSE), LP_OK);
	assert_int_equal(lpj_set_result(o, "u", LP_RESULT_NONE), LP_OK);
	char *text = lpj_dump(o);
	assert_string_equal(text, "{\"a\":7,\"f\":false,\"m\":true,\"n\":null,\"r\":1.5,\"s\":null,"
				  "\"t\":true,\"u\":null,\"z\":\"last\"}");
	free(text);
	assert_true(lpj_is_null(o, "n"));
	assert_null(lpj_get_str(o, "n"));
	assert_null(lpj_get_str(o, "a")); /* not a string */
	assert_true(lpj_get_real(o, "r", 0) == 1.5);
	assert_true(lpj_get_real(o, "missing", -2) == -2);
	assert_int_equal(lpj_get_int(o, "r", 0), 1);
	assert_int_equal(lpj_get_int(o, "z", 9), 9);
	lp_json *c = lpj_copy(o);
	lpj_free(o);
	assert_string_equal(lpj_get_str(c, "z"), "last");
	lpj_free(c);
}

static void test_merge(void **state)
{
	(void)state;
	lp_json *o = lpj_object();
	lpj_set_str(o, "keep", "mine");
	assert_int_equal(lpj_merge_text(o, "{\"keep\":\"theirs\",\"new\":1}", 0, "extra"), LP_OK);
	assert_string_equal(lpj_get_str(o, "keep"), "mine");
	assert_int_equal(lpj_get_int(o, "new", 0), 1);
	assert_int_equal(lpj_merge_text(o, "{\"keep\":\"theirs\"}", 1, "extra"), LP_OK);
	assert_string_equal(lpj_get_str(o, "keep"), "theirs");
	assert_int_equal(lpj_merge_text(o, NULL, 1, "extra"), LP_OK);
	assert_int_equal(lpj_merge_text(o, "", 1, "extra"), LP_OK);
	assert_int_equal(lpj_merge_text(o, "[1]", 1, "extra"), LP_EINVAL);
	assert_int_equal(lpj_merge_text(o, "{\"a\":1,\"a\":2}", 1, "extra"), LP_EINVAL);
	assert_int_equal(lpj_merge_text(o, "{", 1, "extra"), LP_EINVAL);
	assert_false(lpj_has(o, "a"));
	lpj_free(o);
}

/* The message of a refused merge says what was wrong. (lpj_merge_text
 * re-formats lp_error_message() into the same thread-local buffer it
 * reads from; the message came out empty.) */
static void test_merge_error_message(void **state)
{
	(void)state;
	lp_json *o = lpj_object();
	char m1[1024], m2[1024];
	int rc1 = lpj_merge_text(o, "[1]", 1, "extra fields");
	snprintf(m1, sizeof m1, "%s", lp_error_message());
	int rc2 = lpj_merge_text(o, "{\"a\":", 1, "extra fields");
	snprintf(m2, sizeof m2, "%s", lp_error_message());
	lpj_free(o);
	assert_int_equal(rc1, LP_EINVAL);
	assert_int_equal(rc2, LP_EINVAL);
	if (!strstr(m1, "extra fields") || !strstr(m2, "extra fields"))
		fprintf(stderr, "messages: '%s', '%s'\n", m1, m2);
	assert_non_null(strstr(m1, "extra fields"));
	assert_non_null(strstr(m1, "not a JSON object"));
	assert_non_null(strstr(m2, "extra fields"));
}

static void test_identity_fields(void **state)
{
	(void)state;
	lp_json *j = NULL;
	assert_int_equal(parse("{\"hostname\":\"h\",\"boot_id\":\"b\",\"pid\":42,"
			       "\"pid_start_time\":\"18446744073709551615\"}",
			       &j),
			 LP_OK);
	lpi_identity id;
	lpj_get_identity(j, &id);
	assert_string_equal(id.hostname, "h");
	assert_string_equal(id.boot_id, "b");
	assert_int_equal(id.pid, 42);
	assert_true(id.start_time == 18446744073709551615ULL);
	lpj_free(j);
	assert_int_equal(parse("{\"pid_start_time\":123}", &j), LP_OK);
	lpj_get_identity(j, &id);
	assert_true(id.start_time == 123);
	assert_int_equal(id.pid, 0);
	assert_string_equal(id.hostname, "");
	lpj_free(j);
}

static void test_set_str_invalid_utf8(void **state)
{
	(void)state;
	/* a string that is not UTF-8 is kept (not lost) ... */
	lp_json *o = lpj_object();
	assert_int_equal(lpj_set_str(o, "s", "caf\xe9"), LP_OK);
	assert_non_null(lpj_get_str(o, "s"));
	lpj_free(o);
}

/* lpj_buf_* writes each value as jansson writes it in an object: the
 * one-member object {"k": v} dumped by jansson (lpj_dump_by_jansson,
 * since lpj_dump itself writes through lpj_buf_*), against "{\"k\":" +
 * the buffer + "}". */
static void assert_buf_like_dump(lp_json *o, const lpj_buf *b)
{
	char *want = lpj_dump_by_jansson(o), got[512];
	assert_non_null(want);
	assert_false(b->failed);
	snprintf(got, sizeof got, "{\"k\":%s}", b->s);
	assert_string_equal(got, want);
	free(want);
	lpj_free(o);
}

static void test_buf_writes_values_as_dump_does(void **state)
{
	(void)state;
	static const char *const strs[] = {
		"plain text",
		"",
		"with \"quotes\" and \\back",
		"tab\there\nnew",
		"caf\xc3\xa9",
		"caf\xe9" /* not UTF-8 */,
		"\x1b[2Jclear",
		"line\xe2\x80\xa8sep",
		"del\x7f",
		"c1 \xc2\x9b"
		"1m",
		"bidi \xe2\x80\xae",
		"/slash/",
		NULL,
	};
	for (size_t k = 0; k < sizeof strs / sizeof *strs; k++) {
		lp_json *o = lpj_object();
		assert_int_equal(lpj_set_str(o, "k", strs[k]), LP_OK);
		lpj_buf b = {0};
		lpj_buf_str(&b, strs[k]);
		assert_buf_like_dump(o, &b);
		free(b.s);
	}
	static const double reals[] = {
		1793557549.0, 1764612345.1234567,
		0.0,          -0.0,
		1.5,          -3.0,
		1e15 - 1,     1e15,
		1e16,         123456789012345678.0,
		1e300,        5e-324,
		-1e-7,        0.1,
		2.5e-5,       4503599627370497.0,
	};
	for (size_t k = 0; k < sizeof reals / sizeof *reals; k++) {
		lp_json *o = lpj_object();
		assert_int_equal(lpj_set_real(o, "k", reals[k]), LP_OK);
		lpj_buf b = {0};
		lpj_buf_real(&b, reals[k]);
		assert_buf_like_dump(o, &b);
		free(b.s);
	}
	static const long long ints[] = {0, 1, -1, 9788, LLONG_MAX, LLONG_MIN};
	for (size_t k = 0; k < sizeof ints / sizeof *ints; k++) {
		lp_json *o = lpj_object();
		assert_int_equal(lpj_set_int(o, "k", ints[k]), LP_OK);
		lpj_buf b = {0};
		lpj_buf_int(&b, ints[k]);
		assert_buf_like_dump(o, &b);
		free(b.s);
	}
	/* what lpj_set_real refuses, the buffer refuses too */
	lpj_buf b = {0};
	lpj_buf_real(&b, NAN);
	assert_true(b.failed);
	free(b.s);
	/* many values: the buffer grows, the text stays whole */
	lpj_buf big = {0};
	for (int k = 0; k < 1000; k++)
		lpj_buf_lit(&big, "0123456789");
	assert_int_equal(big.len, 10000);
	assert_int_equal(strlen(big.s), 10000);
	free(big.s);
}

/* The text of one real as lpj_dump writes it and as lpj_buf_real does. */
static void assert_real_like_dump(double v)
{
	lp_json *o = lpj_object();
	assert_int_equal(lpj_set_real(o, "k", v), LP_OK);
	lpj_buf b = {0};
	lpj_buf_real(&b, v);
	char *want = lpj_dump_by_jansson(o), got[128];
	snprintf(got, sizeof got, "{\"k\":%s}", b.s);
	if (strcmp(got, want) != 0)
		fail_msg("%.17g: %s, lpj_dump: %s", v, got, want);
	free(want);
	free(b.s);
	lpj_free(o);
}

/* lpj_buf_real writes reals from 1 to 1e15 without printf: the same text
 * as jansson's for timestamps with microseconds, random doubles of every
 * size, exact ties at the 16th digit (to even), and values that round up
 * to the next power of ten. */
static void test_buf_real_matches_jansson(void **state)
{
	(void)state;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double ts = 1.7e9 + (double)(x % 300000000) + (double)((x >> 32) % 1000000) / 1e6;
		assert_real_like_dump(ts);
		assert_real_like_dump(ts + (double)(x >> 40) / 1e12);
		uint64_t bits = (x >> 12) | ((uint64_t)(1023 + (x % 50)) << 52); /* 1 .. 2^50 */
		double r;
		memcpy(&r, &bits, sizeof r);
		assert_real_like_dump(r);
	}
	for (int k = 1; k <= 20; k++) /* i + j / 2^k: exact ties when 16 - D < k */
		for (int j = 1; j < 8; j += 2) {
			assert_real_like_dump(1 + j / (double)(1 << k));
			assert_real_like_dump(12345 + j / (double)(1 << k));
		}
	static const double edges[] = {
		1.0000152587890625,
		1.0000457763671875,
		9.9999999999999982,
		9.999999999999998,
		99999.999999999985,
		999999999999999.9,
		999999999999999.8,
		1e15 - 0.5,
		1.5,
		1.0000000000000002,
		10.000000000000002,
		0.99999999999999989,
		1e-5,
		1e15 + 0.5,
	};
	for (size_t k = 0; k < sizeof edges / sizeof *edges; k++)
		assert_real_like_dump(edges[k]);
}

/* A string of n copies of unit. */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	for (size_t k = 0; k < n; k++)
		memcpy(s + k * u, unit, u);
	s[u * n] = '\0';
	return s;
}

/* What a string takes in a dumped object: the dump of {"k":s} minus
 * {"k":""}. */
static size_t dumped_size(const char *s)
{
	lp_json *o = lpj_object();
	assert_int_equal(lpj_set_str(o, "k", s), LP_OK);
	char *text = lpj_dump(o);
	size_t n = strlen(text) - strlen("{\"k\":\"\"}");
	free(text);
	lpj_free(o);
	return n;
}

/* The size is counted from above, never below what a dump writes, and
 * exactly for plain text, escapes and multi-byte characters. */
static void test_encoded_size(void **state)
{
	(void)state;
	const char *texts[] = {"plain",           "tab\tnl\nquote\"back\\",
			       "\x01\x1f\x1b[2J", "caf\xc3\xa9 \xf0\x9f\x98\x80",
			       "\x7f del",        "\xe2\x80\xa8 sep",
			       "\xc2\x85 nel",    ""};
	for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
		assert_true(lpj_encoded_size(texts[k]) >= dumped_size(texts[k]));
		assert_int_equal(lpj_encoded_size(texts[k]), dumped_size(texts[k]));
	}
	assert_int_equal(lpj_encoded_size("\x01"), 6);
	assert_int_equal(lpj_encoded_size("\xf0\x9f\x98\x80"), 4);
	assert_int_equal(lpj_encoded_size("\xff"), 3); /* written as U+FFFD */
}

/* Each instance: a unit repeated past the cap. The result fits the cap
 * once dumped, ends with the marker, keeps whole characters only. */
static void test_text_fit_cuts_by_encoded_size(void **state)
{
	(void)state;
	const char *units[] = {"\x01",         "\x1b[2J", "\xf0\x9f\x98\x80", "a\"", "\xe2\x80\xa8",
			       "\xc3\xa9\x02", "x"};
	size_t caps[] = {64, 1000, 4097, 65536};
	for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
		for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
			char *big = repeat(units[u], caps[c] + 1);
			int cut = 0;
			char *fit = lpj_text_fit(big, caps[c], c % 2, &cut);
			assert_non_null(fit);
			assert_true(cut);
			assert_true(dumped_size(fit) <= caps[c]);
			assert_true(lpj_encoded_size(fit) <= caps[c]);
			const char *marker = c % 2 ? "\n" LP_CUT_MARKER : LP_CUT_MARKER;
			size_t kept = strlen(fit) - strlen(marker);
			assert_string_equal(fit + kept, marker);
			assert_memory_equal(fit, big, kept); /* a prefix of the text */
			/* whole characters: the kept prefix is valid UTF-8 */
			lp_json *o = lpj_object();
			char *prefix = strndup(fit, kept);
			assert_int_equal(lpj_set_str(o, "k", prefix), LP_OK);
			assert_string_equal(lpj_get_str(o, "k"), prefix);
			free(prefix);
			lpj_free(o);
			free(fit);
			free(big);
		}
	}
	/* within the cap: unchanged, not cut */
	int cut = 1;
	char *same = lpj_text_fit("short \x01", 64, 1, &cut);
	assert_false(cut);
	assert_string_equal(same, "short \x01");
	free(same);
	/* invalid UTF-8 repaired, never split */
	char *bad = repeat("\xff", 100);
	char *fit = lpj_text_fit(bad, 60, 0, &cut);
	assert_true(cut);
	assert_true(dumped_size(fit) <= 60);
	assert_int_equal(strncmp(fit, "\xef\xbf\xbd", 3), 0);
	free(fit);
	free(bad);
}

static void test_set_text_names_the_cut_fields(void **state)
{
	(void)state;
	lp_json *o = lpj_object();
	char *big = repeat("\x05", 1000);
	assert_int_equal(lpj_set_text(o, "task", big, 100, 1), LP_OK);
	assert_int_equal(lpj_set_text(o, "task", big, 100, 1), LP_OK); /* named once */
	assert_int_equal(lpj_set_text(o, "nodeid", "short", 100, 0), LP_OK);
	assert_int_equal(lpj_set_text(o, "none", NULL, 100, 0), LP_OK);
	assert_true(lpj_is_null(o, "none"));
	char *text = lpj_dump(o);
	assert_non_null(strstr(text, "\"cut\":[\"task\"]"));
	free(text);
	/* every string member of an object */
	lp_json *m = lpj_object();
	assert_int_equal(lpj_set_str(m, "a", big), LP_OK);
	assert_int_equal(lpj_set_str(m, "b", "small"), LP_OK);
	assert_int_equal(lpj_set_int(m, "n", 3), LP_OK);
	assert_int_equal(lpj_bound_strings(m, 64), LP_OK);
	assert_true(dumped_size(lpj_get_str(m, "a")) <= 64);
	assert_string_equal(lpj_get_str(m, "b"), "small");
	assert_int_equal(lpj_get_int(m, "n", 0), 3);
	text = lpj_dump(m);
	assert_non_null(strstr(text, "\"cut\":[\"a\"]"));
	free(text);
	lpj_free(m);
	free(big);
	lpj_free(o);
}

/* A random value for test_dump_matches_jansson: objects (up to 12 keys,
 * from a pool that sorts in every way: prefixes, case, digits, non-ASCII),
 * arrays, and every kind of scalar, strings and reals included. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static lp_json *random_value(uint64_t *x, int depth);

static lp_json *random_object(uint64_t *x, int depth)
{
	static const char *const keys[] = {
		"a",       "ab",       "abc",   "b",    "B",   "_x",          "status",
		"statu",   "status_2", "z9",    "z10",  "",    "caf\xc3\xa9", "bidi\xe2\x80\xae",
		"q\"uote", "back\\sl", "tab\t", "\x7f", "pid", "resolved_at", "resolved_by",
	};
	lp_json *o = lpj_object();
	int n = (int)(rnd(x) % 13);
	for (int i = 0; i < n; i++) {
		const char *k = keys[rnd(x) % (sizeof keys / sizeof *keys)];
		lp_json *v = random_value(x, depth + 1);
		assert_int_equal(lpj_set_json(o, k, v), LP_OK);
	}
	return o;
}

static lp_json *random_value(uint64_t *x, int depth)
{
	static const char *const strs[] = {
		"plain",
		"",
		"with \"quotes\" and \\back",
		"tab\there\nnew",
		"caf\xc3\xa9",
		"caf\xe9",
		"\x1b[2Jclear",
		"line\xe2\x80\xa8sep",
		"del\x7f",
		"c1 \xc2\x9b",
		"bidi \xe2\x80\xae",
		"/slash/",
		"emoji \xf0\x9f\x98\x80",
		"\x01\x1f",
	};
	static const double reals[] = {
		1796231300.145243, 0.0, -0.0, 1.5, 1e15, 1e16, 1e300, 5e-324, -1e-7, 0.1, 2.0,
		4503599627370497.0};
	uint64_t r = rnd(x);
	int pick = depth > 5 ? (int)(r % 6) + 2 : (int)(r % 8);
	lp_json *a = NULL;
	switch (pick) {
	case 0: return random_object(x, depth);
	case 1:
		a = lpj_array();
		for (int i = (int)(rnd(x) % 5); i > 0; i--)
			assert_int_equal(lpj_array_append(a, random_value(x, depth + 1)), LP_OK);
		return a;
	default: break;
	}
	lp_json *o = lpj_object(); /* a scalar, taken out of a one-member object */
	switch (pick) {
	case 2: lpj_set_str(o, "v", strs[rnd(x) % (sizeof strs / sizeof *strs)]); break;
	case 3: lpj_set_int(o, "v", (long long)rnd(x) * ((r & 1) ? 1 : -1)); break;
	case 4:
		lpj_set_real(o, "v",
			     (r & 2) ? reals[rnd(x) % (sizeof reals / sizeof *reals)]
				     : 1.7e9 + (double)(rnd(x) % 1000000000) / 1e6);
		break;
	case 5: lpj_set_bool(o, "v", (int)(r & 1)); break;
	case 6: lpj_set_null(o, "v"); break;
	default: lpj_set_real(o, "v", (double)(rnd(x) % 100000) / 7.0); break;
	}
	lp_json *v = lpj_copy(lpj_get(o, "v"));
	lpj_free(o);
	return v;
}

static int merge_one(const char *key, const lp_json *val, void *ud)
{
	return lpj_set_json(ud, key, lpj_copy(val));
}

/* lpj_dump writes objects itself: byte for byte the text jansson gives
 * (lpj_dump_by_jansson), for thousands of random objects and arrays, the
 * cases it leaves to jansson (more than 64 members, deep nesting), a
 * non-container (refused by both), and a real pause file; and
 * lpj_dump_merged against jansson's text of the merged copy. */
static void test_dump_matches_jansson(void **state)
{
	(void)state;
	uint64_t x = 0x2545F4914F6CDD1DULL;
	for (int i = 0; i < 3000; i++) {
		lp_json *o = (i % 7 == 0) ? random_value(&x, 0) : random_object(&x, 0);
		char *got = lpj_dump(o), *want = lpj_dump_by_jansson(o);
		if (want == NULL) {
			assert_null(got); /* a scalar at the top: refused by both */
		} else {
			assert_non_null(got);
			if (strcmp(got, want) != 0)
				fail_msg("object %d:\n lpj_dump:    %s\n jansson's:   %s", i, got,
					 want);
		}
		free(got);
		free(want);
		lpj_free(o);
	}
	/* merged: extra's members over o's (shared keys included), o unchanged */
	for (int i = 0; i < 1000; i++) {
		lp_json *o = random_object(&x, 0), *extra = random_object(&x, 0);
		char *before = lpj_dump_by_jansson(o);
		lp_json *both = lpj_copy(o);
		lpj_foreach(extra, merge_one, both);
		char *got = lpj_dump_merged(o, extra), *want = lpj_dump_by_jansson(both);
		char *after = lpj_dump_by_jansson(o);
		assert_non_null(got);
		if (strcmp(got, want) != 0)
			fail_msg("merged %d:\n lpj_dump_merged: %s\n jansson's:       %s", i, got,
				 want);
		assert_string_equal(before, after);
		free(got);
		free(want);
		free(before);
		free(after);
		lpj_free(both);
		lpj_free(o);
		lpj_free(extra);
	}
	lp_json *arr = lpj_array(), *obj = lpj_object();
	assert_null(lpj_dump_merged(arr, obj)); /* two objects only */
	assert_null(lpj_dump_merged(obj, arr));
	lpj_free(arr);
	lpj_free(obj);
	lp_json *wide = lpj_object(), *deep = lpj_object();
	char key[16];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%03d", (i * 37) % 100);
		lpj_set_int(wide, key, i);
	}
	for (int i = 0; i < 40; i++) {
		lp_json *outer = lpj_object();
		lpj_set_json(outer, (i & 1) ? "b" : "a", deep);
		deep = outer;
	}
	lp_json *both[] = {wide, deep};
	for (size_t k = 0; k < 2; k++) {
		char *got = lpj_dump(both[k]), *want = lpj_dump_by_jansson(both[k]);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
		free(want);
		lpj_free(both[k]);
	}
	lp_json *doc = NULL;
	assert_int_equal(
		parse("{\"task\":\"look at the screen\",\"pid\":10103,\"created_at\":1796231300.145243,"
		      "\"requests\":{\"eval\":false,\"actions\":[]},\"attachments\":[],"
		      "\"worker_id\":null,\"timeout\":300.0,\"kind\":\"checkpoint\"}",
		      &doc),
		LP_OK);
	char *got = lpj_dump(doc);
	assert_string_equal(
		got, "{\"attachments\":[],\"created_at\":1796231300.145243,\"kind\":\"checkpoint\","
		     "\"pid\":10103,\"requests\":{\"actions\":[],\"eval\":false},"
		     "\"task\":\"look at the screen\",\"timeout\":300.0,\"worker_id\":null}");
	free(got);
	lpj_free(doc);
}

int main(void)
{
	test_guard(60);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_builders_and_dump),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_error_message),
		cmocka_unit_test(test_identity_fields),
		cmocka_unit_test(test_set_str_invalid_utf8),
		cmocka_unit_test(test_buf_writes_values_as_dump_does),
		cmocka_unit_test(test_buf_real_matches_jansson),
		cmocka_unit_test(test_dump_matches_jansson),
		cmocka_unit_test(test_parse_011_nonfinite_tokens),
		cmocka_unit_test(test_encoded_size),
		cmocka_unit_test(test_text_fit_cuts_by_encoded_size),
		cmocka_unit_test(test_set_text_names_the_cut_fields),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
