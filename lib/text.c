/*
 * text.c - text for people and shells: the one escaping of text that came
 * from a test or a resumer before it reaches a terminal (or any reader that
 * splits lines), the one POSIX shell quoting, and the one resume command a
 * person or agent is told to run (stored in pause files, printed by the
 * CLI).
 *
 * Terminal escaping (lp_text_terminal_safe) turns every byte or character
 * that can move the cursor, recolour or clear the screen, start a control
 * sequence, end a line for some reader, or reorder what is shown into a
 * visible escape of plain ASCII; everything else passes unchanged:
 *   - TAB, LF, CR as \t, \n, \r (TAB and LF kept with LP_TEXT_MULTILINE);
 *   - other C0 controls (NUL, ESC, VT, FF, ...) and DEL as \xHH;
 *   - C1 controls (U+0080..U+009F, e.g. U+0085 NEL, U+009B CSI), the line
 *     and paragraph separators U+2028 and U+2029, and the bidirectional
 *     controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069)
 *     as \uHHHH;
 *   - each byte that is not part of valid UTF-8 (including overlong forms
 *     and encoded surrogates) as \xHH.
 * A backslash is not escaped: the result is for eyes and line splitters,
 * not to be decoded back.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

size_t lpi_utf8_decode(const unsigned char *s, size_t left, unsigned *cp_out)
{
	unsigned c = s[0], min, cp;
	size_t n, i;

	if (c < 0x80) {
		*cp_out = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, min = 0x10000;
	else
		return 0;
	if (left < n)
		return 0;
	cp = c & (0x7F >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*cp_out = cp;
	return n;
}

int lpi_text_unsafe_cp(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x061C ||
	       cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* How many bytes at s (left > 0) pass lp_text_terminal_safe unchanged:
 * 8 printable ASCII bytes at once, one printable ASCII byte (or TAB or LF
 * with keep), the bytes of a valid UTF-8 character that is not unsafe;
 * 0 when the byte or character at s is escaped. The one rule of what
 * passes, for the escape and for lp_text_is_terminal_safe. */
static size_t passes(const unsigned char *s, size_t left, int keep)
{
	unsigned c = s[0], cp;
	if (left >= 8) {
		uint64_t w, ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
		memcpy(&w, s, 8);
		/* any byte below 0x20, any byte above 0x7E (exact tests) */
		if (!(((w - 0x20 * ones) & ~w & highs) | (((w + ones) | w) & highs)))
			return 8;
	}
	if (c >= 0x20 && c < 0x7F)
		return 1;
	if (c < 0x80)
		return keep && (c == '\n' || c == '\t') ? 1 : 0;
	size_t n = lpi_utf8_decode(s, left, &cp);
	return n && !lpi_text_unsafe_cp(cp) ? n : 0;
}

int lp_text_is_terminal_safe(const char *text, size_t len, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)text;
	int keep = (flags & LP_TEXT_MULTILINE) != 0;
	size_t i = 0, n;
	if (text == NULL)
		return len == 0;
	while (i < len && (n = passes(s + i, len - i, keep)) > 0)
		i += n;
	return i == len;
}

/*
 * Contract: *out gets a malloc'd, NUL-terminated copy of the len bytes at
 * text (which may hold NULs and invalid UTF-8) with every unsafe byte or
 * character replaced by its visible escape (see the top of this file).
 * text may be NULL when len is 0. The result is at most 6 * len + 1
 * bytes. LP_EINVAL for a NULL out, or NULL text with len > 0; LP_ERROR
 * when memory runs out (*out is NULL then).
 */
int lp_text_terminal_safe(char **out, const char *text, size_t len, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)text;
	int keep = (flags & LP_TEXT_MULTILINE) != 0;
	size_t i = 0, o = 0;
	char *buf;

	if (out == NULL)
		return lpi_fail(LP_EINVAL, "lp_text_terminal_safe: out is NULL");
	*out = NULL;
	if (text == NULL && len > 0)
		return lpi_fail(LP_EINVAL, "lp_text_terminal_safe: text is NULL");
	if (len > (((size_t)-1) - 1) / 6)
		return lpi_fail(LP_EINVAL, "lp_text_terminal_safe: text too long");
	buf = malloc(6 * len + 1);
	if (buf == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	while (i < len) {
		unsigned c = s[i], cp;
		size_t n = passes(s + i, len - i, keep);

		if (n > 0) {
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r') {
			buf[o++] = '\\';
			buf[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			i++;
		} else if (c < 0x80 || (n = lpi_utf8_decode(s + i, len - i, &cp)) == 0) {
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
			i++;
		} else { /* a valid character that is unsafe */
			o += (size_t)sprintf(buf + o, "\\u%04x", cp);
			i += n;
		}
	}
	buf[o] = '\0';
	*out = buf;
	return LP_OK;
}

/* Characters that a POSIX shell (and bash, zsh, ksh, dash) never treats
 * specially anywhere in a word. '=' and '~' are left out: zsh expands a
 * leading '=', and '~' after ':' or '=' in assignments. */
static const char shell_safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789@%+:,./_-";

/*
 * Contract: *out gets a malloc'd word that a POSIX shell reads back as
 * exactly `word`: the word itself when it is non-empty and made only of
 * [A-Za-z0-9@%+:,./_-], else the word in single quotes with each ' written
 * as '\'' (inside single quotes nothing else is special: $, `, \, ", !
 * in a script, newlines). "" becomes ''. LP_EINVAL for NULL arguments,
 * LP_ERROR when memory runs out.
 */
int lp_shell_quote(char **out, const char *word)
{
	size_t len, quotes = 0, i, o = 0;
	char *buf;

	if (out == NULL || word == NULL)
		return lpi_fail(LP_EINVAL, "lp_shell_quote: NULL argument");
	*out = NULL;
	len = strlen(word);
	if (len > 0 && strspn(word, shell_safe) == len) {
		*out = strdup(word);
		return *out ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	}
	for (i = 0; i < len; i++)
		quotes += word[i] == '\'';
	buf = malloc(len + 3 * quotes + 3);
	if (buf == NULL)
		return lpi_fail(LP_ERROR, "out of memory");
	buf[o++] = '\'';
	for (i = 0; i < len; i++) {
		if (word[i] == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else
			buf[o++] = word[i];
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	*out = buf;
	return LP_OK;
}

/* "pytest-live-pause resume <id> [--pause-dir <dir>] <verdict>", the id
 * and dir shell-quoted, verdict as given. */
static int resume_line(char **out, const char *pause_id, const char *pause_dir, const char *verdict)
{
	char *qid = NULL, *qdir = NULL, *buf = NULL;
	int rc;

	if (out == NULL || pause_id == NULL)
		return lpi_fail(LP_EINVAL, "lp_pause_resume_command: NULL argument");
	*out = NULL;
	if ((rc = lp_shell_quote(&qid, pause_id)) ||
	    (pause_dir && (rc = lp_shell_quote(&qdir, pause_dir))))
		goto done;
	size_t size = strlen(qid) + (qdir ? strlen(qdir) : 0) + strlen(verdict) + 64;
	buf = malloc(size);
	if (buf == NULL) {
		rc = lpi_fail(LP_ERROR, "out of memory");
		goto done;
	}
	snprintf(buf, size, "pytest-live-pause resume %s%s%s %s", qid, qdir ? " --pause-dir " : "",
		 qdir ? qdir : "", verdict);
	*out = buf;
	rc = LP_OK;
done:
	free(qid);
	free(qdir);
	return rc;
}

/*
 * Contract: *out gets the command that resumes pause `pause_id` of `kind`:
 *   pytest-live-pause resume <pause_id> [--pause-dir <dir>] <verdict>
 * with every variable word shell-quoted (lp_shell_quote), where <verdict>
 * is "--failure-reason TEXT" for failures, "--result 'true|false|none'
 * --reason TEXT" for checkpoints and "--value TEXT" for questions
 * (placeholders a person replaces; the choice is quoted, so that a hint
 * pasted unchanged is a usage error, not a pipeline that resumes with
 * "true"), and --pause-dir is given only when pause_dir is not NULL. The
 * id is not validated here. LP_EINVAL for a NULL out or pause_id,
 * LP_ERROR when memory runs out.
 */
int lp_pause_resume_command(char **out, const char *pause_id, lp_kind kind, const char *pause_dir)
{
	const char *verdict = kind == LP_KIND_CHECKPOINT
				      ? "--result 'true|false|none' --reason TEXT"
			      : kind == LP_KIND_QUESTION ? "--value TEXT"
							 : "--failure-reason TEXT";
	return resume_line(out, pause_id, pause_dir, verdict);
}

int lpi_resume_command_choices(char **out, const char *pause_id, const char *pause_dir,
			       const char *const *choices)
{
	size_t size = 1;
	for (size_t i = 0; choices[i]; i++)
		size += strlen(choices[i]) + 1;
	char *alt = malloc(size), *q = NULL, *verdict = NULL;
	int rc = alt ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	if (!rc) {
		alt[0] = '\0';
		for (size_t i = 0; choices[i]; i++) {
			if (i)
				strcat(alt, "|");
			strcat(alt, choices[i]);
		}
		rc = lp_shell_quote(&q, alt);
	}
	if (!rc) {
		size = strlen(q) + 16;
		verdict = malloc(size);
		rc = verdict ? LP_OK : lpi_fail(LP_ERROR, "out of memory");
	}
	if (!rc) {
		snprintf(verdict, size, "--value %s", q);
		rc = resume_line(out, pause_id, pause_dir, verdict);
	}
	free(alt);
	free(q);
	free(verdict);
	return rc;
}
