/*
 * fuzz_text.c - libFuzzer harness for the text of people (text.c) and the
 * JSON dump's escaping (json.c): whatever the input, the terminal-safe
 * text holds no control character (but LF and TAB in multi-line mode), no
 * C1 control, U+2028 or U+2029, is valid UTF-8 and at most 6 bytes per
 * input byte; a shell-quoted word is bare only when made of safe
 * characters, else one single-quoted word; a JSON string holding the input
 * dumps to one line without a raw U+0085, U+2028, U+2029 or C1;
 * lp_text_is_terminal_safe says 1 exactly when the escape is the input.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_inert(const char *s, size_t in_len, int multiline)
{
	size_t n = strlen(s);
	if (n > 6 * in_len)
		abort();
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp;
		size_t k = lpi_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0)
			abort(); /* every invalid byte should have been escaped */
		if (c < 0x20 && !(multiline && (c == '\n' || c == '\t')))
			abort();
		if (c == 0x7F || (k > 1 && lpi_text_unsafe_cp(cp)))
			abort();
		i += k;
	}
}

static void check_no_raw_breaks(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == 0x7F)
			abort();
		if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			abort();
		if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	for (int multiline = 0; multiline < 2; multiline++) {
		if (lp_text_terminal_safe(&out, (const char *)data, size,
					  multiline ? LP_TEXT_MULTILINE : 0) != LP_OK)
			abort();
		check_inert(out, size, multiline);
		int same = strlen(out) == size && memcmp(out, data, size) == 0;
		if (lp_text_is_terminal_safe((const char *)data, size,
					     multiline ? LP_TEXT_MULTILINE : 0) != same)
			abort();
		free(out);
	}
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lp_shell_quote(&out, s) != LP_OK)
		abort();
	if (strcmp(out, s) != 0 && (out[0] != '\'' || out[strlen(out) - 1] != '\''))
		abort();
	free(out);
	const char *keys[] = {"k"}, *values[] = {s};
	if (lp_json_object_line(&out, keys, values, 1) == LP_OK) {
		check_no_raw_breaks(out);
		free(out);
	}
	free(s);
	return 0;
}
