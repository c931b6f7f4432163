/*
 * json.c - the only file that includes jansson: a small object and array
 * API for the other modules, strict parsing (objects only, duplicate
 * keys rejected), and the text of what they write (lpj_dump: jansson's
 * compact, sorted text, written member by member; lpj_buf for a caller
 * that writes an object itself). It knows no protocol file: the
 * command's schema is claim.c's, the pause file's pause.c's.
 */
#include "internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define J(x) ((json_t *)(x))
#define L(x) ((lp_json *)(x))

lp_json *lpj_object(void)
{
	return L(json_object());
}
void lpj_free(lp_json *j)
{
	json_decref(J(j));
}
lp_json *lpj_copy(const lp_json *j)
{
	return L(json_deep_copy(J(j)));
}

static int set(lp_json *o, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(J(o), key, v) < 0)
		return lpi_fail(LP_ERROR, "out of memory (or invalid UTF-8) setting '%s'", key);
	return LP_OK;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned cp;
	return lpi_utf8_decode(s, left, &cp);
}

/* A copy of s with each invalid UTF-8 byte replaced by U+FFFD. */
static char *utf8_repair(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

int lpj_set_str(lp_json *o, const char *key, const char *val)
{
	if (val == NULL)
		return set(o, key, json_null());
	json_t *s = json_string(val);
	if (s == NULL) {
		/* not UTF-8 (a test name, a path, captured output): keep it
		 * readable with U+FFFD for the bad bytes, rather than lose it */
		char *fixed = utf8_repair(val);
		if (fixed == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		s = json_string(fixed);
		free(fixed);
	}
	return set(o, key, s);
}
int lpj_set_real(lp_json *o, const char *key, double val)
{
	return set(o, key, json_real(val));
}
int lpj_set_int(lp_json *o, const char *key, long long val)
{
	return set(o, key, json_integer(val));
}
int lpj_set_bool(lp_json *o, const char *key, int val)
{
	return set(o, key, json_boolean(val));
}
int lpj_set_null(lp_json *o, const char *key)
{
	return set(o, key, json_null());
}
int lpj_set_json(lp_json *o, const char *key, lp_json *val)
{
	return set(o, key, J(val));
}

int lpj_set_result(lp_json *o, const char *key, lp_result r)
{
	if (r == LP_RESULT_NONE)
		return set(o, key, json_null());
	return set(o, key, json_boolean(r == LP_RESULT_TRUE));
}

/*
 * 0.1.1 writes Python's json tokens Infinity, -Infinity and NaN (for
 * --pause-timeout inf or nan), which are not JSON. When jansson's own lexer
 * stops at exactly such a token (its error names the token and its end
 * position, so a token inside a string is never touched), overwrite it in
 * place with a JSON value of the same length: Infinity -> null (no
 * timeout), -Infinity and NaN -> 0 (0.1.1's deadline is then already
 * past). Returns 1 when patched, 0 when the error is something else.
 */
static int nonfinite_patch(char *buf, size_t len, const json_error_t *err)
{
	static const struct {
		const char *near, *token, *value;
		size_t back; /* bytes from the token's start to err->position */
	} known[] = {
		{"invalid token near 'Infinity'", "Infinity", "null    ", 8},
		{"invalid token near 'NaN'", "NaN", "0  ", 3},
		{"invalid token near '-'", "-Infinity", "0        ", 1},
	};
	size_t pos = (size_t)err->position;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		size_t n = strlen(known[i].token);
		if (strcmp(err->text, known[i].near) != 0 || pos < known[i].back)
			continue;
		size_t start = pos - known[i].back;
		if (start + n > len || memcmp(buf + start, known[i].token, n) != 0)
			continue;
		if (start + n < len &&
		    (isalnum((unsigned char)buf[start + n]) || buf[start + n] == '_'))
			continue; /* -Infinityx: not Python's token */
		memcpy(buf + start, known[i].value, n);
		return 1;
	}
	return 0;
}

/* The checks every parse makes, on jansson's answer (j NULL: err). */
static int object_or_fail(json_t *j, const json_error_t *err, size_t len, const char *what,
			  lp_json **out)
{
	if (j == NULL) {
		if (len == 0)
			return lpi_fail(LP_EBADCMD, "%s is empty: expected a JSON object", what);
		return lpi_fail(LP_EBADCMD, "%s is not valid JSON (line %d, column %d): %s", what,
				err->line, err->column, err->text);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return lpi_fail(LP_EBADCMD, "%s is not a JSON object", what);
	}
	*out = L(j);
	return LP_OK;
}

int lpj_parse_object_011(const char *buf, size_t len, const char *what, lp_json **out)
{
	*out = NULL;
	json_error_t err;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL && (memchr(buf, 'I', len) || memchr(buf, 'N', len))) {
		char *copy = malloc(len);
		if (copy == NULL)
			return lpi_fail(LP_ERROR, "out of memory");
		memcpy(copy, buf, len);
		/* a pause file has one such token; the bound keeps a hostile file cheap */
		for (int tries = 0; j == NULL && tries < 16 && nonfinite_patch(copy, len, &err);
		     tries++)
			j = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &err);
		free(copy);
	}
	return object_or_fail(j, &err, len, what, out);
}

int lpj_parse_object(const char *buf, size_t len, const char *what, lp_json **out)
{
	*out = NULL;
	json_error_t err;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	return object_or_fail(j, &err, len, what, out);
}

int lpj_merge_text(lp_json *o, const char *text, int overwrite, const char *what)
{
	if (text == NULL || text[0] == '\0')
		return LP_OK;
	lp_json *m;
	int rc = lpj_parse_object(text, strlen(text), what, &m);
	if (rc)
		return lpi_fail(LP_EINVAL, "%s", lp_error_message()); /* same text, new code */
	rc = overwrite ? json_object_update(J(o), J(m)) : json_object_update_missing(J(o), J(m));
	lpj_free(m);
	return rc < 0 ? lpi_fail(LP_ERROR, "cannot merge %s", what) : LP_OK;
}

/*
 * Contract: the one exit of serialised JSON. jansson escapes C0 controls
 * but leaves DEL and every non-ASCII character raw, so U+0085, U+2028
 * and U+2029 (which line-oriented readers such as Python's
 * str.splitlines split on), C1 controls and bidirectional controls
 * (lpi_text_unsafe_cp) would reach readers and terminals: each becomes its
 * \uHHHH escape, so a dumped object is always one inert line. Such
 * characters occur only inside strings, so the JSON stays valid and
 * equal. Takes s (malloc'd by jansson, valid UTF-8), returns it or its
 * replacement; NULL when memory runs out.
 */
static char *escape_unsafe(char *s)
{
	size_t n = strlen(s), extra = 0, o = 0, i, k;
	unsigned cp;
	for (i = 0; i < n; i += k) {
		const unsigned char *p = (const unsigned char *)s + i;
		k = p[0] < 0x80 ? 1 : lpi_utf8_decode(p, n - i, &cp);
		if (k == 0)
			k = 1; /* not from jansson: left as it is */
		else if (p[0] == 0x7F || (p[0] >= 0x80 && lpi_text_unsafe_cp(cp)))
			extra += 6 - k;
	}
	if (extra == 0)
		return s;
	char *out = malloc(n + extra + 1);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	for (i = 0; i < n; i += k) {
		const unsigned char *p = (const unsigned char *)s + i;
		k = p[0] < 0x80 ? 1 : lpi_utf8_decode(p, n - i, &cp);
		if (k == 0)
			k = 1;
		else if (p[0] == 0x7F || (p[0] >= 0x80 && lpi_text_unsafe_cp(cp))) {
			o += (size_t)snprintf(out + o, 7, "\\u%04X", p[0] == 0x7F ? 0x7Fu : cp);
			continue;
		}
		memcpy(out + o, p, k);
		o += k;
	}
	out[o] = '\0';
	free(s);
	return out;
}

static char *dump(const lp_json *j, size_t flags)
{
	char *s = json_dumps(J(j), flags);
	if (s != NULL)
		s = escape_unsafe(s);
	if (s == NULL)
		lpi_fail(LP_ERROR, "cannot serialise JSON (out of memory)");
	return s;
}

/* lpj_dump's flags: jansson's text of what lpj_dump cannot write itself,
 * the reference its own text is tested against, and (with
 * JSON_ENCODE_ANY) each scalar the lpj_buf writers ask jansson for. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(16))

char *lpj_dump_by_jansson(const lp_json *j)
{
	return dump(j, DUMP_FLAGS);
}

/* ------------------------------------------- writing an object's text */

void lpj_buf_grow_add(lpj_buf *b, const char *text, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len <= n)
			cap *= 2;
		char *grown = realloc(b->s, cap);
		if (grown == NULL) {
			b->failed = 1;
			return;
		}
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->len, text, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void lpj_buf_raw(lpj_buf *b, const char *text)
{
	lpj_buf_add(b, text, strlen(text));
}

/* jansson's text of one value, through the same exit as lpj_dump's. */
static void jbuf_dump(lpj_buf *b, json_t *v)
{
	char *text = v ? json_dumps(v, DUMP_FLAGS | JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (text != NULL)
		text = escape_unsafe(text);
	if (text == NULL) {
		b->failed = 1;
		return;
	}
	lpj_buf_add(b, text, strlen(text));
	free(text);
}

void lpj_buf_str(lpj_buf *b, const char *val)
{
	if (val == NULL) {
		lpj_buf_add(b, "null", 4);
		return;
	}
	size_t n = 0;
	/* printable ASCII but '"' and '\\': jansson writes it as it is */
	for (; val[n] >= 0x20 && val[n] < 0x7F && val[n] != '"' && val[n] != '\\'; n++)
		;
	if (val[n] == '\0') {
		lpj_buf_add(b, "\"", 1);
		lpj_buf_add(b, val, n);
		lpj_buf_add(b, "\"", 1);
		return;
	}
	json_t *v = json_string(val);
	if (v == NULL) { /* not UTF-8: as lpj_set_str keeps it */
		char *fixed = utf8_repair(val);
		v = fixed ? json_string(fixed) : NULL;
		free(fixed);
	}
	jbuf_dump(b, v);
}

/* Decimal of v into the end of buf[24]; returns where it starts. */
static char *jbuf_digits(char *buf, long long v)
{
	char *p = buf + 23;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	*p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--p = '-';
	return p;
}

void lpj_buf_int(lpj_buf *b, long long v)
{
	char buf[24];
	lpj_buf_raw(b, jbuf_digits(buf, v)); /* jansson's "%lld" */
}

/*
 * Contract: jansson's text of a real (JSON_REAL_PRECISION(16): "%.16g",
 * then ".0" when that has neither '.' nor 'e') for 1 <= v < 1e15, which
 * holds every timestamp, written into out[32] without printf: 1 when
 * written, 0 when v is outside that range or the rounding reaches the
 * next power of ten (the caller asks jansson). With D digits before the
 * point, %.16g writes v rounded to 16 - D decimals, to nearest, ties to
 * even, from the exact binary value m * 2^e; m * 5^k * 2^(k + e) is that
 * value times 10^k, exact in 128 bits (m < 2^53, 5^15 < 2^35). Trailing
 * zeros are dropped, as %g does.
 */
static int real_text(double v, char out[32])
{
#ifdef __SIZEOF_INT128__
	if (!(v >= 1 && v < 1e15))
		return 0;
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	int e = (int)((bits >> 52) & 0x7FF) - 1075;
	uint64_t m = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
	uint64_t ip = (uint64_t)v;
	int d = 1;
	for (uint64_t t = ip; t >= 10; t /= 10)
		d++;
	int k = 16 - d;
	unsigned __int128 n = m;
	for (int i = 0; i < k; i++)
		n *= 5;
	int shift = -(k + e);
	if (shift <= 0) {
		n <<= -shift; /* v * 10^k is a whole number: no rounding */
	} else {
		unsigned __int128 half = (unsigned __int128)1 << (shift - 1);
		unsigned __int128 rest = n & ((half << 1) - 1);
		n >>= shift;
		if (rest > half || (rest == half && (n & 1)))
			n++;
	}
	if (n >= (unsigned __int128)10000000000000000ULL)
		return 0; /* rounded up to 10^D: %g's exponent changes */
	char digits[16];
	uint64_t u = (uint64_t)n;
	for (int i = 15; i >= 0; i--, u /= 10)
		digits[i] = (char)('0' + u % 10);
	int last = 15; /* the last fractional digit kept */
	while (last >= d && digits[last] == '0')
		last--;
	memcpy(out, digits, (size_t)d);
	size_t o = (size_t)d;
	out[o++] = '.';
	if (last < d) {
		out[o++] = '0'; /* "%.16g" gave digits only: jansson adds ".0" */
	} else {
		memcpy(out + o, digits + d, (size_t)(last - d + 1));
		o += (size_t)(last - d + 1);
	}
	out[o] = '\0';
	return 1;
#else
	(void)v;
	(void)out;
	return 0;
#endif
}

void lpj_buf_real(lpj_buf *b, double v)
{
	char text[32];
	/* a whole number below 1e15 (not -0): %.16g gives its digits, and
	 * jansson adds ".0"; from 1 to 1e15, real_text; any other through
	 * jansson */
	if (v != 0 && v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		char buf[24];
		lpj_buf_raw(b, jbuf_digits(buf, (long long)v));
		lpj_buf_add(b, ".0", 2);
		return;
	}
	if (real_text(v, text)) {
		lpj_buf_raw(b, text);
		return;
	}
	jbuf_dump(b, json_real(v));
}

/* ------------------------------------------- lpj_dump, written directly */

/* Objects with more members, or deeper nesting, go to jansson. */
#define WRITE_MEMBERS_MAX 64
#define WRITE_DEPTH_MAX 16

static int write_value(lpj_buf *b, json_t *v, int depth);

/* {"key":value,...} of the members of o and of extra (which wins where
 * both have a key; NULL: none), the keys in strcmp order, as
 * JSON_SORT_KEYS sorts them (jansson compares the keys' bytes, and no key
 * holds a NUL: its parser refuses one and lpj_set_* take C strings). -1:
 * left to jansson. */
static int write_members(lpj_buf *b, json_t *o, json_t *extra, int depth)
{
	struct {
		const char *key;
		json_t *v;
	} m[WRITE_MEMBERS_MAX], t;
	size_t n = 0;
	const char *key;
	json_t *v;
	json_t *from[2] = {o, extra};
	if (json_object_size(o) + (extra ? json_object_size(extra) : 0) > WRITE_MEMBERS_MAX)
		return -1;
	for (int f = 0; f < 2 && from[f]; f++) {
		json_object_foreach(from[f], key, v)
		{
			if (f == 0 && extra && json_object_get(extra, key))
				continue; /* extra's instead */
			/* insertion sort: a few dozen keys, mostly in order already */
			size_t k = n++;
			for (; k > 0 && strcmp(m[k - 1].key, key) > 0; k--)
				m[k] = m[k - 1];
			t.key = key;
			t.v = v;
			m[k] = t;
		}
	}
	lpj_buf_lit(b, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			lpj_buf_lit(b, ",");
		lpj_buf_str(b, m[i].key);
		lpj_buf_lit(b, ":");
		if (write_value(b, m[i].v, depth + 1))
			return -1;
	}
	lpj_buf_lit(b, "}");
	return 0;
}

/* v as jansson writes it with DUMP_FLAGS, then escape_unsafe: each
 * scalar through the lpj_buf writers (which give jansson's text, or ask
 * it). -1: left to jansson (see write_members; a string holding a NUL). */
static int write_value(lpj_buf *b, json_t *v, int depth)
{
	if (depth > WRITE_DEPTH_MAX)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: return write_members(b, v, NULL, depth);
	case JSON_ARRAY:
		lpj_buf_lit(b, "[");
		for (size_t i = 0, n = json_array_size(v); i < n; i++) {
			if (i)
				lpj_buf_lit(b, ",");
			if (write_value(b, json_array_get(v, i), depth + 1))
				return -1;
		}
		lpj_buf_lit(b, "]");
		return 0;
	case JSON_STRING:
		if (strlen(json_string_value(v)) != json_string_length(v))
			return -1;
		lpj_buf_str(b, json_string_value(v));
		return 0;
	case JSON_INTEGER: lpj_buf_int(b, json_integer_value(v)); return 0;
	case JSON_REAL: lpj_buf_real(b, json_real_value(v)); return 0;
	case JSON_TRUE: lpj_buf_lit(b, "true"); return 0;
	case JSON_FALSE: lpj_buf_lit(b, "false"); return 0;
	case JSON_NULL: lpj_buf_lit(b, "null"); return 0;
	}
	return -1;
}

/* The text of o (and extra's members over it) written into one buffer;
 * NULL when it must go to jansson. */
static char *write_text(json_t *o, json_t *extra)
{
	lpj_buf b = {.s = malloc(1024), .cap = 1024};
	if (b.s == NULL)
		return NULL;
	b.s[0] = '\0';
	int rc = json_is_object(o) ? write_members(&b, o, extra, 0) : write_value(&b, o, 0);
	if (rc == 0 && !b.failed)
		return b.s;
	free(b.s);
	return NULL;
}

/*
 * Contract: the text lpj_dump_by_jansson gives (test_json.c and
 * fuzz_command compare the two), written member by member into one
 * buffer: jansson's dump sorts by looking up every key again, writes into
 * a growing buffer, and escape_unsafe then reads the whole text once
 * more, ~6x the time for a pause file (docs/performance.md). What it
 * cannot write (see write_value) goes to jansson. NULL (lp_fail set) when
 * memory runs out.
 */
char *lpj_dump(const lp_json *j)
{
	if (!json_is_object(J(j)) && !json_is_array(J(j)))
		return lpj_dump_by_jansson(j); /* which refuses it */
	char *text = write_text(J(j), NULL);
	return text ? text : lpj_dump_by_jansson(j);
}

/*
 * Contract: lpj_dump of o with every member of extra set over it (both
 * objects; o is not changed), without making that object: an event's
 * line is its fields and three members more (events.c). NULL (lp_fail
 * set) when memory runs out or either is not an object.
 */
char *lpj_dump_merged(const lp_json *o, const lp_json *extra)
{
	if (!json_is_object(J(o)) || !json_is_object(J(extra))) {
		lpi_fail(LP_EINVAL, "lpj_dump_merged: two objects are required");
		return NULL;
	}
	char *text = write_text(J(o), J(extra));
	if (text != NULL)
		return text;
	json_t *both = json_copy(J(o)); /* shallow: the values are shared */
	if (both == NULL || json_object_update(both, J(extra)) != 0) {
		json_decref(both);
		lpi_fail(LP_ERROR, "cannot serialise JSON (out of memory)");
		return NULL;
	}
	text = lpj_dump_by_jansson(L(both));
	json_decref(both);
	return text;
}

char *lpj_dump_ordered(const lp_json *j)
{
	return dump(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

const char *lpj_get_str(const lp_json *o, const char *key)
{
	json_t *v = json_object_get(J(o), key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}
int lpj_has(const lp_json *o, const char *key)
{
	return json_object_get(J(o), key) != NULL;
}
int lpj_is_null(const lp_json *o, const char *key)
{
	return json_is_null(json_object_get(J(o), key));
}
lp_json *lpj_get(const lp_json *o, const char *key)
{
	return L(json_object_get(J(o), key));
}

double lpj_get_real(const lp_json *o, const char *key, double dflt)
{
	json_t *v = json_object_get(J(o), key);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

long long lpj_get_int(const lp_json *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(J(o), key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return dflt;
}

void lpj_get_identity(const lp_json *o, lpi_identity *out)
{
	memset(out, 0, sizeof *out);
	const char *h = lpj_get_str(o, "hostname");
	const char *b = lpj_get_str(o, "boot_id");
	if (h)
		snprintf(out->hostname, sizeof out->hostname, "%s", h);
	if (b)
		snprintf(out->boot_id, sizeof out->boot_id, "%s", b);
	out->pid = (long)lpj_get_int(o, "pid", 0);
	const char *st = lpj_get_str(o, "pid_start_time");
	out->start_time = st ? strtoull(st, NULL, 10)
			     : (unsigned long long)lpj_get_int(o, "pid_start_time", 0);
}

/* ------------------------------------------------------------------------
 * Any JSON value (used by qamule.c for QAMule result files, which may hold
 * a value that is not an object and must say so).
 * ---------------------------------------------------------------------- */

int lpj_parse_any(const char *buf, size_t len, lp_json **out)
{
	*out = NULL;
	json_error_t err;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (j == NULL) {
		if (len == 0)
			return lpi_fail(LP_EBADCMD, "empty file (line 1, column 0)");
		return lpi_fail(LP_EBADCMD, "%s (line %d, column %d)", err.text, err.line,
				err.column);
	}
	*out = L(j);
	return LP_OK;
}

lpj_type lpj_typeof(const lp_json *j)
{
	switch (json_typeof(J(j))) {
	case JSON_OBJECT: return LPJ_OBJECT;
	case JSON_ARRAY: return LPJ_ARRAY;
	case JSON_STRING: return LPJ_STRING;
	case JSON_INTEGER:
	case JSON_REAL: return LPJ_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE: return LPJ_BOOL;
	default: return LPJ_NULL;
	}
}

int lpj_is_true(const lp_json *j)
{
	return json_is_true(J(j));
}

const char *lpj_string_value(const lp_json *j)
{
	return json_is_string(J(j)) ? json_string_value(J(j)) : NULL;
}

const char *lpj_unknown_key(const lp_json *o, const char *const allowed[])
{
	const char *key;
	json_t *val;
	json_object_foreach(J(o), key, val)
	{
		(void)val;
		int known = 0;
		for (int i = 0; allowed[i] && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (!known)
			return key;
	}
	return NULL;
}

char *lpj_dump_exact(const lp_json *j)
{
	return dump(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* The fewest significant digits (1..17) with which %.*g gives back r
 * exactly, and at least its integer digits below 1e16, so that %g writes
 * it as Python's repr() does ("100.0", not "1e+02"). */
static int real_digits(double r)
{
	char buf[40];
	int p = 1;
	for (; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, r);
		if (strtod(buf, NULL) == r)
			break;
	}
	double a = r < 0 ? -r : r;
	if (a >= 1.0 && a < 1e16) {
		int digits = 1;
		for (double t = 10.0; t <= a; t *= 10.0)
			digits++;
		if (digits > p)
			p = digits;
	}
	return p;
}

/* The most digits any real in j needs (real_digits), 1 if none. */
static int max_real_digits(json_t *j)
{
	int p = 1, q;
	size_t i;
	const char *key;
	json_t *v;
	switch (json_typeof(j)) {
	case JSON_REAL: return real_digits(json_real_value(j));
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
		{
			if ((q = max_real_digits(v)) > p)
				p = q;
		}
		return p;
	case JSON_OBJECT:
		json_object_foreach(j, key, v)
		{
			(void)key;
			if ((q = max_real_digits(v)) > p)
				p = q;
		}
		return p;
	default: return p;
	}
}

/*
 * Contract: j as Python's json.dumps(j, sort_keys=True,
 * ensure_ascii=False) writes it, which is how QAMule prints its machine
 * lines: ", " and ": " separators, keys sorted, non-ASCII raw, C0 controls
 * as lowercase \u00xx; plus the unsafe characters escaped as in every
 * dump (escape_unsafe), lowercase too. Reals are written with the digits
 * the longest of them needs to read back exactly (one real: Python's
 * repr). NULL (lp_fail set) when memory runs out.
 */
char *lpj_dump_python(const lp_json *j)
{
	int p = max_real_digits(J(j));
	char *s = dump(j, JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
	if (s == NULL)
		return NULL;
	/* jansson's and escape_unsafe's \uXXXX are upper case; Python's lower */
	for (char *c = s; *c; c++) {
		if (c[0] != '\\' || c[1] == '\0')
			continue;
		if (c[1] == 'u')
			for (int k = 2; k < 6 && c[k]; k++)
				c[k] = (char)tolower((unsigned char)c[k]);
		c++; /* skip the escaped character */
	}
	return s;
}

/*
 * Contract: *out gets one compact JSON object line of n string members,
 * keys in the order given, a NULL value as null, escaped like every dump
 * (escape_unsafe: one inert line). Invalid UTF-8 in a value is repaired
 * with U+FFFD. LP_EINVAL for NULL arrays with n > 0, a NULL out or key;
 * LP_ERROR when memory runs out.
 */
int lp_json_object_line(char **out, const char *const *keys, const char *const *values, size_t n)
{
	if (out == NULL || (n > 0 && (keys == NULL || values == NULL)))
		return lpi_fail(LP_EINVAL, "lp_json_object_line: NULL argument");
	*out = NULL;
	lp_json *o = lpj_object();
	if (o == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	int rc = LP_OK;
	for (size_t i = 0; i < n && rc == LP_OK; i++)
		rc = keys[i] ? lpj_set_str(o, keys[i], values[i])
			     : lpi_fail(LP_EINVAL, "lp_json_object_line: NULL key");
	if (rc == LP_OK) {
		*out = dump(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (*out == NULL)
			rc = LP_ERROR;
	}
	lpj_free(o);
	return rc;
}

lp_json *lpj_array(void)
{
	return L(json_array());
}

int lpj_array_append_str(lp_json *a, const char *val)
{
	json_t *s = json_string(val);
	if (s == NULL || json_array_append_new(J(a), s) < 0)
		return lpi_fail(LP_ERROR, "out of memory (or invalid UTF-8) in a JSON array");
	return LP_OK;
}

lp_json *lpj_array_get(const lp_json *a, size_t i)
{
	return L(json_array_get(J(a), i));
}

int lpj_array_append(lp_json *a, lp_json *val)
{
	if (val == NULL || json_array_append_new(J(a), J(val)) < 0)
		return lpi_fail(LP_ERROR, "out of memory in a JSON array");
	return LP_OK;
}

size_t lpj_size(const lp_json *j)
{
	if (json_is_array(J(j)))
		return json_array_size(J(j));
	return json_is_object(J(j)) ? json_object_size(J(j)) : 0;
}

int lpj_foreach(const lp_json *o, int (*cb)(const char *key, const lp_json *val, void *ud),
		void *ud)
{
	const char *key;
	json_t *val;
	json_object_foreach(J(o), key, val)
	{
		int rc = cb(key, L(val), ud);
		if (rc)
			return rc;
	}
	return 0;
}

int lpj_is_integer(const lp_json *j)
{
	return json_is_integer(J(j));
}

/* ------------------------------------------------------------------------
 * Bounded text: every text we write into a pause file, run.json, an event
 * or the catalog is cut by the size it takes once JSON-encoded (what every
 * reader's cap counts), on a character boundary, with a visible marker.
 * ---------------------------------------------------------------------- */

/* Bytes lpj_dump writes for the character at s (n bytes of valid UTF-8),
 * counted from above: '"' and '\' and the C0 controls with a short escape
 * take 2, the other C0 controls "\u00XX" 6, and so do DEL and what
 * escape_unsafe() escapes (C1, U+2028/U+2029, bidirectional controls). */
static size_t encoded_len(const unsigned char *s, size_t n)
{
	unsigned cp;
	if (n > 1) /* escape_unsafe() writes the unsafe ones as \uHHHH */
		return lpi_utf8_decode(s, n, &cp) == n && lpi_text_unsafe_cp(cp) ? 6 : n;
	unsigned c = s[0];
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
		return 2;
	return c < 0x20 || c == 0x7F ? 6 : 1;
}

size_t lpj_encoded_size(const char *s)
{
	size_t len = strlen(s), total = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);
		total += n ? encoded_len((const unsigned char *)s + i, n) : 3; /* U+FFFD */
		i += n ? n : 1;
	}
	return total;
}

char *lpj_text_fit(const char *s, size_t cap, int multiline, int *was_cut)
{
	const char *marker = multiline ? "\n" LP_CUT_MARKER : LP_CUT_MARKER;
	size_t mlen = strlen(marker), menc = lpj_encoded_size(marker);
	size_t len = strlen(s);
	*was_cut = lpj_encoded_size(s) > cap;
	size_t budget = *was_cut ? (cap > menc ? cap - menc : 0) : (size_t)-1;
	/* invalid bytes become U+FFFD (3 bytes from 1) */
	char *out = malloc(len * 3 + mlen + 1);
	if (out == NULL) {
		lpi_fail(LP_ERROR, "out of memory");
		return NULL;
	}
	size_t o = 0, used = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);
		size_t e = n ? encoded_len((const unsigned char *)s + i, n) : 3;
		if (used + e > budget)
			break;
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
		used += e;
	}
	if (*was_cut) {
		memcpy(out + o, marker, mlen);
		o += mlen;
	}
	out[o] = '\0';
	return out;
}

int lpj_set_text(lp_json *o, const char *key, const char *val, size_t cap, int multiline)
{
	if (val == NULL)
		return lpj_set_null(o, key);
	int cut;
	char *fitted = lpj_text_fit(val, cap, multiline, &cut);
	if (fitted == NULL)
		return LP_ERROR;
	int rc = set(o, key, json_string(fitted));
	free(fitted);
	if (rc || !cut)
		return rc;
	/* name the field in "cut" (once), so that a reader need not guess
	 * from the marker whether a text was cut */
	json_t *list = json_object_get(J(o), "cut");
	if (!json_is_array(list)) {
		if ((rc = set(o, "cut", json_array())))
			return rc;
		list = json_object_get(J(o), "cut");
	}
	size_t k;
	json_t *v;
	json_array_foreach(list, k, v) if (json_is_string(v) &&
					   strcmp(json_string_value(v), key) == 0) return LP_OK;
	if (json_array_append_new(list, json_string(key)) < 0)
		return lpi_fail(LP_ERROR, "out of memory");
	return LP_OK;
}

int lpj_bound_strings(lp_json *o, size_t cap)
{
	/* the keys to cut first: setting "cut" while iterating could rehash */
	json_t *keys = json_array();
	if (keys == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	const char *key;
	json_t *val;
	json_object_foreach(J(o), key, val)
	{
		if (json_is_string(val) && json_string_length(val) > cap / 6 &&
		    lpj_encoded_size(json_string_value(val)) > cap &&
		    json_array_append_new(keys, json_string(key)) < 0) {
			json_decref(keys);
			return lpi_fail(LP_ERROR, "out of memory");
		}
	}
	int rc = LP_OK;
	size_t k;
	json_array_foreach(keys, k, val)
	{
		key = json_string_value(val);
		char *copy = lpi_strdup(json_string_value(json_object_get(J(o), key)));
		rc = copy ? lpj_set_text(o, key, copy, cap, 1) : LP_ERROR;
		free(copy);
		if (rc)
			break;
	}
	json_decref(keys);
	return rc;
}
