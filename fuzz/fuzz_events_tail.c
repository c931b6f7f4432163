/*
 * fuzz_events_tail.c - libFuzzer harness for the reader of a run's
 * events.jsonl (lpi_events_tail_*, lib/events.c), which the change feed
 * reads from where its last read stopped. The input (after its first
 * byte) is appended to a scratch events.jsonl in pieces whose sizes come
 * from the input itself, with a read after each piece; lines may be any
 * bytes, cut anywhere, longer than the reader's first buffer. The first
 * byte's low bit opens the reader at the end of the first piece instead
 * of the start. Checked: the reader hands over exactly the whole lines
 * after where it started that parse as objects, each once, in order,
 * whatever the pieces, and nothing of a line still being written.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static int dir_fd = -1;

typedef struct seen {
	char **v;
	size_t n, cap;
} seen;

static void push(seen *s, char *text)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		if (s->v == NULL)
			abort();
	}
	s->v[s->n++] = text;
}

static int on_line(const lp_json *ev, void *ud)
{
	char *text = lpj_dump(ev);
	if (text == NULL)
		abort();
	push(ud, text);
	return 0;
}

/* What the reader must hand over: each whole line of data[from..size)
 * that parses as an object. */
static void expected(const uint8_t *data, size_t size, size_t from, seen *out)
{
	size_t at = from;
	for (;;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		if (nl == NULL)
			return;
		size_t len = (size_t)(nl - (data + at));
		lp_json *ev;
		if (lpj_parse_object((const char *)data + at, len, "line", &ev) == LP_OK) {
			on_line(ev, out);
			lpj_free(ev);
		}
		lpi_error_clear();
		at += len + 1;
	}
}

static void clear(seen *s)
{
	for (size_t k = 0; k < s->n; k++)
		free(s->v[k]);
	free(s->v);
	*s = (seen){0};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (dir_fd < 0) {
		snprintf(dir, sizeof dir, "/tmp/lp-fuzz-tail-XXXXXX");
		if (mkdtemp(dir) == NULL || (dir_fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
			abort();
	}
	int from_end = data[0] & 1;
	data++;
	size--;
	unlinkat(dir_fd, "events.jsonl", 0);
	int wfd = openat(dir_fd, "events.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (wfd < 0)
		abort();
	/* pieces: each next byte (mod 64) times 97 bytes, at least one */
	size_t at = 0, start = 0, k = 0;
	lpi_events_tail *t = NULL;
	seen got = {0};
	while (at < size) {
		size_t piece = 1 + (size_t)(data[k++ % size] % 64) * 97;
		if (piece > size - at)
			piece = size - at;
		if (write(wfd, data + at, piece) != (ssize_t)piece)
			abort();
		at += piece;
		if (t == NULL) {
			int rc = lpi_events_tail_open(&t, dir_fd, "fuzz", from_end);
			if (rc)
				abort();
			if (from_end && data[at - 1] == '\n') {
				start = at; /* from the end of the lines there */
			} else if (from_end) {
				/* inside a line being written: from that line's end */
				const uint8_t *nl = memchr(data + at, '\n', size - at);
				start = nl ? (size_t)(nl - data) + 1 : size;
			}
		}
		if (lpi_events_tail_read(t, NULL, on_line, &got) != LP_OK)
			abort(); /* nothing was cut: every read succeeds */
	}
	close(wfd);
	seen want = {0};
	expected(data, size, start, &want);
	if (got.n != want.n)
		abort();
	for (size_t i = 0; i < want.n; i++)
		if (strcmp(got.v[i], want.v[i]) != 0)
			abort();
	clear(&got);
	clear(&want);
	lpi_events_tail_free(t);
	return 0;
}
