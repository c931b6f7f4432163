/*
 * api.c - the JSON API and the event stream, each route one call of the
 * runtime: the objects are those the CLI prints (lp_store_list() for `ls
 * --json`, lp_pause_info_load() + lp_pause_info_check_attachments() for
 * `show --json`, lp_store_runs()), a resume or an abort is
 * lp_pause_resume() with by "http" and the action (the same exclusive
 * claim, the same checks of kind, choices and value, and the same wait
 * for the take as the CLI), an attachment is lp_attachment_export() (its
 * blob verified before a byte is sent), and /api/events follows the
 * runtime's change feed (lp_feed_next()). The runtime's error codes map to
 * HTTP statuses in one place (respond_lp_error()).
 */
#include <microhttpd.h>

#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <time.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text buffer for the list responses. */
typedef struct buf {
	char *p;
	size_t n, cap;
	int oom;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_str(buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* The HTTP status of a runtime error, with msg; 409s name the pause's state. */
static int respond_lp_error_msg(struct MHD_Connection *conn, int rc, const lp_pause_info *info,
				const char *msg)
{
	unsigned status;
	switch (rc) {
	case LP_ENOTFOUND: status = 404; break;
	case LP_EINVAL:
	case LP_EKIND:
	case LP_EBADCMD: status = 400; break;
	case LP_ESTALE:
	case LP_ERESUMED:
	case LP_ETIMEDOUT:
	case LP_EABORTED: status = 409; break;
	case LP_ENOTTAKEN: status = 504; break;
	default: status = 500; break;
	}
	char extra[128] = "";
	const char *state = info && info->state  ? info->state
			    : rc == LP_ESTALE    ? "stale"
			    : rc == LP_ERESUMED  ? "resumed"
			    : rc == LP_ETIMEDOUT ? "timed_out"
			    : rc == LP_EABORTED  ? "aborted"
						 : NULL;
	if (status == 409 && state && strspn(state, "abcdefghijklmnopqrstuvwxyz_") == strlen(state))
		snprintf(extra, sizeof extra, "\"state\":\"%s\"", state);
	return srv_respond_error(conn, status, lp_error_name(rc), extra[0] ? extra : NULL, "%s",
				 msg);
}

/* The same with this thread's last error message. */
static int respond_lp_error(struct MHD_Connection *conn, int rc, const lp_pause_info *info)
{
	return respond_lp_error_msg(conn, rc, info, lp_error_message());
}

/* A list response: the buffer is handed to libmicrohttpd, not copied (a
 * listing of 10,000 runs is tens of MiB: one copy, not two). */
static int respond_buf(struct MHD_Connection *conn, buf *b)
{
	if (b->oom) {
		free(b->p);
		return srv_respond_error(conn, 500, "LP_ERROR", NULL, "out of memory");
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(b->n, b->p ? b->p : (void *)"",
								 b->p ? MHD_RESPMEM_MUST_FREE
								      : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(b->p);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	return srv_queue(conn, 200, r);
}

/* ------------------------------------------------ streamed listings */

/*
 * GET /api/pauses?all=1 and GET /api/runs grow with the directory's
 * history (10,000 runs: ~30 MB of JSON), so they are streamed, not built:
 * a thread runs the listing and writes it, LISTING_FLUSH bytes at a time,
 * into a pipe that libmicrohttpd sends from (chunked). The server holds
 * at most one block and the pipe's 64 KiB of a listing, whatever its size.
 * The status is decided before the first byte: the request waits until
 * the listing has produced its first block or ended; one that failed by
 * then gets its error (500, ...) as any route does. One that fails later,
 * after 200 was sent, ends the body early (not valid JSON: the client
 * sees it fail to parse). A client that goes away closes the pipe: the
 * listing stops at its next block.
 */
#define LISTING_FLUSH (32 * 1024)

enum { LISTING_RUNNING = 0, LISTING_STREAMING = 1, LISTING_FAILED = 2 };

typedef struct listing {
	srv *s;
	int runs; /* lp_store_runs, else lp_store_list(LP_LIST_ALL) */
	int fd;   /* the pipe's write end, the thread's */
	buf b;
	int broken; /* a write failed: the client went away */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state, rc, refs; /* under mu */
	char msg[1024];
} listing;

/* The listings running (their threads use the store): main.c waits for
 * them after the daemon stopped (srv_api_drain). */
static pthread_mutex_t listings_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t listings_cv = PTHREAD_COND_INITIALIZER;
static int listings_running;

static void listing_unref(listing *l)
{
	pthread_mutex_lock(&l->mu);
	int last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (last) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		free(l->b.p);
		free(l);
	}
}

/* What is buffered, into the pipe; the first time, tell the request to
 * send its 200 (before writing: a write beyond the pipe's room waits
 * for libmicrohttpd to read). */
static void listing_flush(listing *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->state == LISTING_RUNNING) {
		l->state = LISTING_STREAMING;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	for (size_t off = 0; !l->broken && off < l->b.n;) {
		ssize_t w = write(l->fd, l->b.p + off, l->b.n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			l->broken = 1; /* EPIPE: the client went away */
		else
			off += (size_t)w;
	}
	l->b.n = 0;
}

/* After an item: flush a full block; 1 (stop the listing) once the
 * client went away. */
static int listing_added(listing *l)
{
	if (l == NULL)
		return 0;
	if (l->b.n >= LISTING_FLUSH && !l->b.oom)
		listing_flush(l);
	return l->broken || l->b.oom;
}

typedef struct list_ud {
	buf *b;
	int first;
	listing *sink; /* NULL: built in memory */
} list_ud;

static int add_pause(const lp_pause_info *info, void *ud)
{
	list_ud *l = ud;
	if (!l->first)
		buf_str(l->b, ",");
	l->first = 0;
	buf_str(l->b, info->json ? info->json : "{}");
	return listing_added(l->sink);
}

static int respond_listing(srv *s, struct MHD_Connection *conn, int runs);

int srv_api_pauses(srv *s, struct MHD_Connection *conn, int all)
{
	if (all)
		return respond_listing(s, conn, 0);
	buf b = {0}; /* the pending pauses: as many as are paused now */
	list_ud l = {&b, 1, NULL};
	buf_str(&b, "{\"pauses\":[");
	int rc = lp_store_list(s->store, LP_LIST_JSON, add_pause, &l);
	if (rc) {
		free(b.p);
		return respond_lp_error(conn, rc, NULL);
	}
	buf_str(&b, "]}");
	return respond_buf(conn, &b);
}

/* GET /api/pauses/{id}: `show --json`, each attachment's blob read and
 * its state ("blob": ok, missing, corrupt) in the object. */
int srv_api_pause(srv *s, struct MHD_Connection *conn, const char *pause_id)
{
	lp_pause_info *info;
	int rc = lp_pause_info_load(&info, s->store, pause_id);
	if (rc == LP_OK && (rc = lp_pause_info_check_attachments(info)) != LP_OK)
		lp_pause_info_free(info);
	if (rc)
		return respond_lp_error(conn, rc, NULL);
	int ok = srv_respond(conn, 200, "application/json", info->json ? info->json : "{}",
			     info->json ? strlen(info->json) : 2);
	lp_pause_info_free(info);
	return ok;
}

static int respond_outcome(struct MHD_Connection *conn, const char *pause_id, const char *outcome)
{
	json_t *doc = json_pack("{s:s, s:s}", "pause_id", pause_id, "outcome", outcome);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (text == NULL)
		return srv_respond_error(conn, 500, "LP_ERROR", NULL, "out of memory");
	int ok = srv_respond(conn, 200, "application/json", text, strlen(text));
	free(text);
	return ok;
}

/* A resume or an abort (o), answered with outcome or the error: on the
 * pause made ready when there is one (ready.c), else lp_pause_resume.
 * One that a refusal left pending and untouched goes back. */
static int resume(srv *s, struct MHD_Connection *conn, const char *pause_id,
		  const lp_resume_options *o, const char *outcome)
{
	lp_pause_info *info = NULL;
	lp_prepared *ready = srv_ready_take(s, pause_id);
	int rc = ready ? lp_pause_resume_prepared(&info, ready, o)
		       : lp_pause_resume(&info, s->store, pause_id, o);
	int ok = rc ? respond_lp_error(conn, rc, info) : respond_outcome(conn, pause_id, outcome);
	lp_pause_info_free(info);
	if (rc == LP_EKIND || rc == LP_EINVAL)
		srv_ready_put(s, ready); /* nothing written: still ready */
	else
		lp_prepared_free(ready);
	return ok;
}

int srv_api_resume(srv *s, struct MHD_Connection *conn, const char *pause_id, const char *body,
		   size_t len)
{
	srv_body b;
	char err[512];
	if (srv_body_parse(body, len, 0, &b, err, sizeof err))
		return srv_respond_error(conn, 400, "bad_request", NULL, "%s", err);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.by = "http";
	o.failure_reason = b.failure_reason;
	o.has_result = b.has_result;
	o.result = b.result;
	o.reason = b.reason;
	o.value = b.value;
	o.hooks = &s->stop_hooks; /* a stop ends the wait for the take */
	int rc = resume(s, conn, pause_id, &o, "resumed");
	srv_body_clear(&b);
	return rc;
}

int srv_api_abort(srv *s, struct MHD_Connection *conn, const char *pause_id, const char *body,
		  size_t len)
{
	srv_body b;
	char err[512];
	if (srv_body_parse(body, len, 1, &b, err, sizeof err))
		return srv_respond_error(conn, 400, "bad_request", NULL, "%s", err);
	/* as `abort --reason`: recorded in the command, the pause file, the
	 * run's aborted.json and the test's report */
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	o.by = "http";
	o.action = LP_ACTION_ABORT;
	o.reason = b.reason;
	o.hooks = &s->stop_hooks;
	int rc = resume(s, conn, pause_id, &o, "aborted");
	srv_body_clear(&b);
	return rc;
}

/* Images a browser shows inline; every other type is a download. */
static int inline_image(const char *type)
{
	static const char *const ok[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
	for (size_t k = 0; type && k < sizeof ok / sizeof *ok; k++)
		if (strcmp(type, ok[k]) == 0)
			return 1;
	return 0;
}

/* Content-Disposition for a name (UTF-8, no control character, no '/':
 * lp_attachment_name_check): an ASCII fallback with every other byte, '"'
 * and '\\' as '_', and the exact name percent-encoded (RFC 6266, 8187). */
static void disposition(char *dst, size_t size, const char *how, const char *name)
{
	char plain[LP_ATTACH_NAME_MAX + 1], coded[3 * LP_ATTACH_NAME_MAX + 1];
	size_t np = 0, nc = 0;
	for (const unsigned char *c = (const unsigned char *)name; *c && np < LP_ATTACH_NAME_MAX;
	     c++) {
		plain[np++] = (*c < 0x20 || *c >= 0x7f || *c == '"' || *c == '\\') ? '_' : (char)*c;
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("!#$&+-.^_`|~", *c))
			coded[nc++] = (char)*c;
		else
			nc += (size_t)snprintf(coded + nc, 4, "%%%02X", *c);
	}
	plain[np] = coded[nc] = '\0';
	snprintf(dst, size, "%s; filename=\"%s\"; filename*=UTF-8''%s", how, plain, coded);
}

/* GET /api/pauses/{id}/attachments/{sha256}: the blob, verified (size and
 * SHA-256) by lp_attachment_export() as it is copied into an anonymous
 * memory file, and sent only when every byte matched. A blob that is
 * missing is 404; one whose bytes do not match (tampered, damaged) is
 * never sent: 500 "blob_corrupt". Images (PNG, JPEG, GIF, WebP) are shown
 * inline, everything else is a download; a sandboxing CSP either way. */
int srv_api_attachment(srv *s, struct MHD_Connection *conn, const char *pause_id,
		       const char *sha256)
{
	int fd = memfd_create("lp-attachment", MFD_CLOEXEC);
	if (fd < 0)
		return srv_respond_error(conn, 500, "LP_ERROR", NULL,
					 "cannot make a memory file for the attachment");
	lp_attachment a;
	int rc = lp_attachment_export(s->store, pause_id, sha256, NULL, fd, &a);
	if (rc == LP_EBADCMD) {
		close(fd);
		return srv_respond_error(conn, 500, "blob_corrupt", NULL,
					 "%s (the blob does not match its sha256: not served)",
					 lp_error_message());
	}
	if (rc) {
		close(fd);
		return respond_lp_error(conn, rc, NULL);
	}
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(a.size, fd, 0);
	if (r == NULL) {
		close(fd);
		lp_attachment_clear(&a);
		return MHD_NO;
	}
	const char *type = a.content_type ? a.content_type : "application/octet-stream";
	int show = inline_image(type);
	char cd[sizeof "attachment; filename=\"\"; filename*=UTF-8''" + 4 * LP_ATTACH_NAME_MAX];
	disposition(cd, sizeof cd, show ? "inline" : "attachment", a.name ? a.name : a.sha256);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Disposition", cd);
	MHD_add_response_header(r, "Content-Security-Policy", "sandbox");
	MHD_add_response_header(r, "ETag", a.sha256);
	lp_attachment_clear(&a);
	return srv_queue(conn, 200, r);
}

typedef struct runs_ud {
	srv *s;
	buf *b;
	int first;
	listing *sink;
} runs_ud;

/* One run as `runs -a --json` prints it; a run not ended (active, or
 * stale: what it did before its process died) with "progress", its
 * progress.json (lp_run_progress_load), when it wrote one. Ended runs are
 * not read: the listing stays one pass over the catalog. */
static int add_run(const lp_run_summary *run, void *ud)
{
	runs_ud *r = ud;
	if (!r->first)
		buf_str(r->b, ",");
	r->first = 0;
	const char *json = run->json ? run->json : "{}";
	size_t n = strlen(json);
	char *progress = NULL;
	if (strcmp(run->state, "ended") != 0 && n > 2 && json[n - 1] == '}' &&
	    lp_run_progress_load(&progress, r->s->store, run->run_id) == LP_OK) {
		buf_add(r->b, json, n - 1); /* a compact object: add one member */
		buf_str(r->b, ",\"progress\":");
		buf_str(r->b, progress);
		buf_str(r->b, "}");
		free(progress);
	} else {
		buf_add(r->b, json, n);
	}
	return listing_added(r->sink);
}

/* The listing's thread: the whole listing into the pipe, then EOF. */
static void *listing_run(void *arg)
{
	listing *l = arg;
	srv *s = l->s;
	int rc;
	if (l->runs) {
		runs_ud r = {s, &l->b, 1, l};
		buf_str(&l->b, "{\"runs\":[");
		rc = lp_store_runs(s->store, LP_RUNS_ALL | LP_RUNS_JSON, add_run, &r);
	} else {
		list_ud u = {&l->b, 1, l};
		buf_str(&l->b, "{\"pauses\":[");
		rc = lp_store_list(s->store, LP_LIST_JSON | LP_LIST_ALL, add_pause, &u);
	}
	if (rc == LP_OK)
		buf_str(&l->b, "]}");
	pthread_mutex_lock(&l->mu);
	int failed = l->state == LISTING_RUNNING && (l->b.oom || (rc < 0));
	if (failed) {
		l->state = LISTING_FAILED;
		l->rc = l->b.oom ? LP_ERROR : rc;
		snprintf(l->msg, sizeof l->msg, "%s",
			 l->b.oom ? "out of memory" : lp_error_message());
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	/* a failure after the 200: the body ends here, short */
	if (!failed && rc == LP_OK && !l->b.oom)
		listing_flush(l);
	close(l->fd);
	listing_unref(l);
	/* the listing's memory (the catalog read whole, an object per pause)
	 * is free now, but glibc keeps free pages in the arena of the thread
	 * that used them: give them back, or each arena keeps a listing's
	 * worth (with two arenas the peak was 105 MiB, not 72, at 10,000 runs) */
	malloc_trim(0);
	pthread_mutex_lock(&listings_mu);
	if (--listings_running == 0)
		pthread_cond_broadcast(&listings_cv);
	pthread_mutex_unlock(&listings_mu);
	return NULL;
}

/* Contract: answer with the listing (runs: GET /api/runs, else GET
 * /api/pauses?all=1) streamed from its own thread (see "streamed
 * listings" above); waits only until it has produced its first block or
 * ended, then queues 200 with the pipe, or the listing's error. */
static int respond_listing(srv *s, struct MHD_Connection *conn, int runs)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return srv_respond_error(conn, 500, "LP_ERROR", NULL,
					 "cannot make a pipe for the listing: %s", strerror(errno));
	listing *l = calloc(1, sizeof *l);
	if (l == NULL) {
		close(p[0]);
		close(p[1]);
		return srv_respond_error(conn, 500, "LP_ERROR", NULL, "out of memory");
	}
	l->s = s;
	l->runs = runs;
	l->fd = p[1];
	l->refs = 2; /* this request's and the thread's */
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&listings_mu);
	listings_running++;
	pthread_mutex_unlock(&listings_mu);
	int e = pthread_create(&t, &attr, listing_run, l);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		pthread_mutex_lock(&listings_mu);
		listings_running--;
		pthread_mutex_unlock(&listings_mu);
		close(p[0]);
		close(p[1]);
		l->refs = 1;
		listing_unref(l);
		return srv_respond_error(conn, 500, "LP_ERROR", NULL,
					 "cannot start a thread for the listing: %s", strerror(e));
	}
	pthread_mutex_lock(&l->mu);
	while (l->state == LISTING_RUNNING)
		pthread_cond_wait(&l->cv, &l->mu);
	int state = l->state, rc = l->rc;
	char msg[sizeof l->msg];
	memcpy(msg, l->msg, sizeof msg);
	pthread_mutex_unlock(&l->mu);
	listing_unref(l);
	if (state == LISTING_FAILED) {
		close(p[0]);
		return respond_lp_error_msg(conn, rc, NULL, msg);
	}
	struct MHD_Response *r = MHD_create_response_from_pipe(p[0]); /* owns p[0] */
	if (r == NULL) {
		close(p[0]); /* the thread's next write fails: it stops */
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	return srv_queue(conn, 200, r);
}

/* GET /api/runs: every run, as `runs -a --json` lists it (one owner: the
 * runtime's lp_store_runs, which reads the catalog, not every run.json),
 * with the progress of those not ended; streamed. */
int srv_api_runs(srv *s, struct MHD_Connection *conn)
{
	return respond_listing(s, conn, 1);
}

void srv_api_drain(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10; /* their pipes are closed: each stops at its next block */
	pthread_mutex_lock(&listings_mu);
	while (listings_running > 0 &&
	       pthread_cond_timedwait(&listings_cv, &listings_mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&listings_mu);
}

/* ------------------------------------------------------- event stream */

/*
 * The frames, made once for every client. One thread (the reader)
 * follows the runtime's change feed (lp_feed_next) and turns each event
 * into its Server-Sent Events frame ("id", "event", "data" lines), once;
 * the frame is kept, reference-counted, in a ring of the last SRV_FRAMES,
 * and every /api/events connection sends that same buffer: a client's
 * thread only waits for the ring's head to pass its position and copies
 * bytes out, no JSON is copied or formatted per client. A client further
 * behind than the ring (a Last-Event-ID of long ago) gets a frame made
 * for it alone from the feed's own ring of LP_FEED_KEEP events.
 */
#define SRV_FRAMES 128 /* frames kept for clients a little behind */

/* What srv_fanout_frame() says. */
enum { SRV_FRAME_OK = 0, SRV_FRAME_NONE = 1, SRV_FRAME_STOP = 2, SRV_FRAME_ERROR = 3 };

typedef struct srv_frame {
	unsigned long long seq;
	int refs; /* under the fan-out's mutex */
	size_t len;
	char text[];
} srv_frame;

struct srv_fanout {
	srv *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	srv_frame *ring[SRV_FRAMES]; /* frame seq at ring[seq % SRV_FRAMES] */
	unsigned long long head;     /* the last frame made (0: none) */
	pthread_t reader;
	int started;
};

/* The frame of one event: "id: <feed>.<seq>\nevent: <kind>\ndata: <json>\n\n". */
static srv_frame *frame_make(const srv *s, const lp_feed_event *ev)
{
	const char *json = ev->json ? ev->json : "{}"; /* one line */
	char head[256];
	int n = snprintf(head, sizeof head, "id: %s.%llu\nevent: %s\ndata: ", lp_feed_name(s->feed),
			 ev->seq, lp_feed_kind_name(ev->kind));
	if (n < 0 || (size_t)n >= sizeof head)
		return NULL;
	size_t nj = strlen(json), len = (size_t)n + nj + 2;
	srv_frame *f = malloc(sizeof *f + len + 1);
	if (f == NULL)
		return NULL;
	f->seq = ev->seq;
	f->refs = 1;
	f->len = len;
	memcpy(f->text, head, (size_t)n);
	memcpy(f->text + n, json, nj);
	memcpy(f->text + n + nj, "\n\n", 3);
	return f;
}

/* With the mutex held. */
static void frame_unref_locked(srv_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

static void srv_frame_release(srv *s, srv_frame *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&s->fan->mu);
	frame_unref_locked(f);
	pthread_mutex_unlock(&s->fan->mu);
}

static const char *srv_frame_text(const srv_frame *f, size_t *len)
{
	*len = f->len;
	return f->text;
}

/* The reader: every event of the feed, as a frame, into the ring. A
 * failure of the feed (out of memory, an unreadable directory) is tried
 * again after a pause; the clients wait meanwhile. */
static void *reader(void *arg)
{
	srv_fanout *fan = arg;
	srv *s = fan->s;
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	hooks.wake_fd = s->wake_fd;
	hooks.check = srv_stopping;
	hooks.ud = s;
	hooks.slice_ms = 200;
	unsigned long long after = fan->head;
	while (!srv_stopping(s)) {
		lp_feed_event ev;
		int rc = lp_feed_next(&ev, s->feed, after, SRV_KEEPALIVE_S, &hooks);
		if (rc == LP_EWAITTIMEOUT || rc == LP_EINTR)
			continue;
		srv_frame *f = rc == LP_OK ? frame_make(s, &ev) : NULL;
		if (f == NULL) {
			lp_feed_event_clear(&ev);
			struct timespec ts = {0, 200 * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		after = f->seq;
		pthread_mutex_lock(&fan->mu);
		frame_unref_locked(fan->ring[f->seq % SRV_FRAMES]);
		fan->ring[f->seq % SRV_FRAMES] = f;
		fan->head = f->seq;
		pthread_cond_broadcast(&fan->cv);
		pthread_mutex_unlock(&fan->mu);
		/* after the clients have the event: made ready to resume (ready.c) */
		if (ev.kind == LP_FEED_PAUSE_CREATED)
			srv_ready_add(s, ev.pause_id);
		else if (ev.kind == LP_FEED_PAUSE_ENDED)
			lp_prepared_free(srv_ready_take(s, ev.pause_id));
		else if (ev.kind == LP_FEED_RUN_ENDED)
			srv_ready_drop_run(s, ev.run_id);
		lp_feed_event_clear(&ev);
	}
	pthread_mutex_lock(&fan->mu);
	pthread_cond_broadcast(&fan->cv); /* the clients see `stopping` */
	pthread_mutex_unlock(&fan->mu);
	return NULL;
}

int srv_fanout_start(srv *s)
{
	srv_fanout *fan = calloc(1, sizeof *fan);
	if (fan == NULL)
		return -1;
	fan->s = s;
	fan->head = lp_feed_head(s->feed);
	pthread_mutex_init(&fan->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fan->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->fan = fan;
	if (pthread_create(&fan->reader, NULL, reader, fan) != 0) {
		s->fan = NULL;
		pthread_cond_destroy(&fan->cv);
		pthread_mutex_destroy(&fan->mu);
		free(fan);
		return -1;
	}
	fan->started = 1;
	return 0;
}

void srv_fanout_stop(srv *s)
{
	srv_fanout *fan = s->fan;
	if (fan == NULL)
		return;
	if (fan->started)
		pthread_join(fan->reader, NULL); /* `stopping` is set, wake_fd written */
	for (size_t k = 0; k < SRV_FRAMES; k++)
		frame_unref_locked(fan->ring[k]);
	pthread_cond_destroy(&fan->cv);
	pthread_mutex_destroy(&fan->mu);
	free(fan);
	s->fan = NULL;
}

/* A frame made for one client from the feed's ring: the event after
 * `after`, which the fan-out's ring no longer holds. */
static int frame_from_feed(srv *s, unsigned long long after, srv_frame **out)
{
	lp_feed_event ev;
	int rc = lp_feed_next(&ev, s->feed, after, 0, NULL);
	if (rc == LP_EWAITTIMEOUT)
		return SRV_FRAME_NONE;
	if (rc)
		return SRV_FRAME_ERROR;
	*out = frame_make(s, &ev);
	lp_feed_event_clear(&ev);
	return *out ? SRV_FRAME_OK : SRV_FRAME_ERROR;
}

/* Contract: the frame after position `after` in *out (a reference, for
 * srv_frame_release), waiting up to `timeout` seconds for it:
 * SRV_FRAME_OK; SRV_FRAME_NONE when none came in time; SRV_FRAME_STOP
 * when the server stops; SRV_FRAME_ERROR when memory ran out. */
static int srv_fanout_frame(srv *s, unsigned long long after, double timeout, srv_frame **out)
{
	srv_fanout *fan = s->fan;
	*out = NULL;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)timeout;
	until.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fan->mu);
	while (fan->head <= after) {
		if (srv_stopping(s)) {
			pthread_mutex_unlock(&fan->mu);
			return SRV_FRAME_STOP;
		}
		/* in slices: a stop is seen within one */
		struct timespec slice;
		clock_gettime(CLOCK_MONOTONIC, &slice);
		slice.tv_nsec += 200 * 1000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		int last = slice.tv_sec > until.tv_sec ||
			   (slice.tv_sec == until.tv_sec && slice.tv_nsec >= until.tv_nsec);
		int rc = pthread_cond_timedwait(&fan->cv, &fan->mu, last ? &until : &slice);
		if (rc == ETIMEDOUT && last && fan->head <= after) {
			pthread_mutex_unlock(&fan->mu);
			return SRV_FRAME_NONE;
		}
	}
	srv_frame *f = fan->ring[(after + 1) % SRV_FRAMES];
	if (f && f->seq == after + 1) {
		f->refs++;
		*out = f;
		pthread_mutex_unlock(&fan->mu);
		return SRV_FRAME_OK;
	}
	pthread_mutex_unlock(&fan->mu);
	return frame_from_feed(s, after, out); /* behind the ring */
}

typedef struct stream {
	srv *s;
	unsigned long long after; /* the last position sent */
	srv_frame *frame;         /* being sent (a reference), or NULL */
	const char *text;         /* frame->text, or a constant */
	size_t len, sent;
} stream;

static const char stream_hello[] = "retry: 2000\n: pytest-live-pause events\n\n";
static const char stream_keepalive[] = ": keep-alive\n\n";

/* The next chunk of the stream: a frame, or a keep-alive comment after
 * SRV_KEEPALIVE_S without one. Blocks (the daemon runs a thread per
 * connection); ends when the server stops. */
static ssize_t stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	(void)pos;
	stream *st = cls;
	while (st->sent >= st->len) {
		srv_frame_release(st->s, st->frame);
		st->frame = NULL;
		st->text = NULL;
		st->len = st->sent = 0;
		if (srv_stopping(st->s))
			return MHD_CONTENT_READER_END_OF_STREAM;
		int rc = srv_fanout_frame(st->s, st->after, SRV_KEEPALIVE_S, &st->frame);
		if (rc == SRV_FRAME_NONE) {
			st->text = stream_keepalive;
			st->len = sizeof stream_keepalive - 1;
		} else if (rc == SRV_FRAME_OK) {
			st->text = srv_frame_text(st->frame, &st->len);
			st->after = st->frame->seq;
		} else if (rc == SRV_FRAME_STOP) {
			return MHD_CONTENT_READER_END_OF_STREAM;
		} else {
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	size_t n = st->len - st->sent;
	if (n > max)
		n = max;
	memcpy(dst, st->text + st->sent, n);
	st->sent += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	stream *st = cls;
	srv_frame_release(st->s, st->frame);
	free(st);
}

/* Where a client resumes: after its Last-Event-ID when that is one of
 * this feed's ("<feed name>.<seq>"), from the start of this server's feed
 * when it is another's (the server restarted), else from now. */
static unsigned long long resume_position(srv *s, struct MHD_Connection *conn)
{
	const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	if (last == NULL || last[0] == '\0')
		return lp_feed_head(s->feed);
	const char *name = lp_feed_name(s->feed);
	size_t n = strlen(name);
	if (strncmp(last, name, n) != 0 || last[n] != '.')
		return 0;
	char *end;
	unsigned long long seq = strtoull(last + n + 1, &end, 10);
	unsigned long long head = lp_feed_head(s->feed);
	if (*end != '\0' || seq > head)
		return head;
	return seq;
}

int srv_api_events(srv *s, struct MHD_Connection *conn)
{
	stream *st = calloc(1, sizeof *st);
	if (st == NULL)
		return srv_respond_error(conn, 500, "LP_ERROR", NULL, "out of memory");
	st->s = s;
	st->after = resume_position(s, conn);
	st->text = stream_hello;
	st->len = sizeof stream_hello - 1;
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
								   stream_read, st, stream_free);
	if (r == NULL) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return srv_queue(conn, 200, r);
}
