/*
 * _livepause.c - the CPython binding of liblivepause (pytest_live_pause._livepause).
 *
 * This file owns the mapping of the runtime's public header (livepause.h) to
 * Python: four types (Store, Run, Pause, Notify), one exception hierarchy,
 * the blocking wait of a pause with the GIL released and Python signals
 * honoured, the calls of QAMule compatibility (qamule_request,
 * qamule_read_result, qamule_event_line, qamule_pause_fields, and
 * Pause.wait(qamule=...), where the runtime decides what the signal and
 * the result file mean), and --pause-notify (notify_spawn). Every call
 * that writes, flushes, locks or waits runs with the GIL released.
 * It decides nothing about pauses itself; every file of the pause directory
 * is read and written by the runtime.
 *
 * Built against the limited API of Python 3.10 (abi3), with multi-phase
 * initialisation and per-module state, after CPython's Modules/_bz2module.c.
 * The module holds no global state: the exception types and heap types live
 * in the module state, reached from an object through its type
 * (PyType_GetModuleState); the types are not subclassable, so Py_TYPE(self)
 * is always the module's own type.
 *
 * Signals during a wait: the wait runs with the GIL released. The runtime
 * calls our check hook when the wake fd becomes readable, when a system call
 * is interrupted and at least every slice; the hook takes the GIL back and
 * runs PyErr_CheckSignals(). In the main thread a private non-blocking pipe
 * is installed with signal.set_wakeup_fd() for the duration of the wait, so
 * the C-level signal handler of Python wakes the runtime at once. In other
 * threads (where set_wakeup_fd is refused) the runtime's slice does it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef Py_LIMITED_API /* USE_SABI defines it on the command line */
#define Py_LIMITED_API 0x030A0000
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "livepause.h"

#define MODULE_NAME "pytest_live_pause._livepause"

/* ------------------------------------------------------------ state */

/* The keys of the dicts built right after a pause: a resolution's
 * (resolution_to_dict), a QAMule ending's (ending_to_dict) and a QAMule
 * result file's (qamule_read_result). */
#define RESULT_KEYS(X)                                                                             \
	X(outcome)                                                                                 \
	X(by)                                                                                      \
	X(result)                                                                                  \
	X(reason)                                                                                  \
	X(failure_reason)                                                                          \
	X(command_json)                                                                            \
	X(action)                                                                                  \
	X(token)                                                                                   \
	X(ignored_json)                                                                            \
	X(own)                                                                                     \
	X(warning)                                                                                 \
	X(value)                                                                                   \
	X(attachments)                                                                             \
	X(resolution)                                                                              \
	X(status)                                                                                  \
	X(message)                                                                                 \
	X(payload_line)                                                                            \
	X(has_result)                                                                              \
	X(lines)                                                                                   \
	X(checkpoint_outcome)                                                                      \
	X(payload)
#define RK_ENUM(k) RK_##k,
enum { RESULT_KEYS(RK_ENUM) RK_COUNT };
#undef RK_ENUM

/* d[key] = expr (a new reference; NULL: an exception is set), key one of
 * RESULT_KEYS; on failure d is cleared and the caller goes to `done`. */
#define RESULT_PUT(key, expr)                                                                      \
	do {                                                                                       \
		PyObject *v_ = (expr);                                                             \
		if (v_ == NULL || PyDict_SetItem(d, st->keys[RK_##key], v_) < 0) {                 \
			Py_XDECREF(v_);                                                            \
			Py_CLEAR(d);                                                               \
			goto done;                                                                 \
		}                                                                                  \
		Py_DECREF(v_);                                                                     \
	} while (0)

typedef struct {
	PyObject *LivePauseError;
	PyObject *UnsafeDirectoryError;
	PyObject *PauseNotFoundError;
	PyObject *InvalidArgumentError;
	PyTypeObject *StoreType;
	PyTypeObject *RunType;
	PyTypeObject *PauseType;
	/* signal.set_wakeup_fd, looked up at import: a wait that begins short
	 * of descriptors must not need an import (which lists directories) */
	PyObject *set_wakeup_fd;
	PyTypeObject *NotifyType;
	/* RESULT_KEYS, interned at import: those dicts are built right
	 * after a pause, when every new string and every lookup in the
	 * interned table is slow (the process's caches are cold) */
	PyObject *keys[RK_COUNT];
} module_state;

static module_state *state_of_type(PyTypeObject *tp)
{
	return (module_state *)PyType_GetModuleState(tp);
}

#define STATE_OF(obj) state_of_type(Py_TYPE((PyObject *)(obj)))

typedef struct {
	PyObject_HEAD lp_store *store;
} StoreObject;

typedef struct {
	PyObject_HEAD lp_run *run;
	PyObject *store; /* StoreObject, strong */
	int owner;       /* started (not joined) by this object */
} RunObject;

typedef struct {
	PyObject_HEAD lp_pause *pause;
	PyObject *run; /* RunObject, strong */
	int busy;      /* a wait() is in progress on some thread */
	/* the wakeup pipe of its last wait (-1: none), no longer the wakeup
	 * fd: closed with the object, not on the path of a resume */
	int spent_fds[2];
} PauseObject;

/* ---------------------------------------------------------- helpers */

/* Text from the runtime: UTF-8, undecodable bytes replaced. NULL -> None. */
static PyObject *text_or_none(const char *s)
{
	if (s == NULL)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* A path from the runtime: filesystem encoding (surrogateescape). */
static PyObject *path_or_none(const char *s)
{
	if (s == NULL)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(s);
}

/* Raise the exception for an lp_error code, with lp_error_message() of this
 * thread as its message and the code's name as its `code` attribute. The
 * one place where runtime errors become Python exceptions. Returns NULL. */
static PyObject *raise_code_message(module_state *st, int code, const char *message)
{
	PyObject *type, *msg, *exc, *name;

	switch (code) {
	case LP_EUNSAFE: type = st->UnsafeDirectoryError; break;
	case LP_ENOTFOUND: type = st->PauseNotFoundError; break;
	case LP_EINVAL:
	case LP_EKIND: type = st->InvalidArgumentError; break;
	case LP_OK:
		code = LP_ERROR; /* a failure without a code is still a failure */
		type = st->LivePauseError;
		break;
	default: type = st->LivePauseError; break;
	}
	if (message == NULL || message[0] == '\0')
		message = lp_error_name(code);
	msg = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
	if (msg == NULL)
		return NULL;
	exc = PyObject_CallFunctionObjArgs(type, msg, NULL);
	Py_DECREF(msg);
	if (exc == NULL)
		return NULL;
	name = PyUnicode_FromString(lp_error_name(code));
	if (name == NULL || PyObject_SetAttrString(exc, "code", name) < 0) {
		Py_XDECREF(name);
		Py_DECREF(exc);
		return NULL;
	}
	Py_DECREF(name);
	PyErr_SetObject(type, exc);
	Py_DECREF(exc);
	return NULL;
}

static PyObject *raise_lp(module_state *st, int code)
{
	return raise_code_message(st, code, lp_error_message());
}

/* Optional path argument: None -> *out NULL; str/bytes/PathLike -> bytes
 * (new reference in *holder, release with Py_XDECREF). */
static int fspath_opt(PyObject *obj, PyObject **holder, const char **out)
{
	*holder = NULL;
	*out = NULL;
	if (obj == NULL || obj == Py_None)
		return 0;
	if (!PyUnicode_FSConverter(obj, holder))
		return -1;
	*out = PyBytes_AsString(*holder);
	if (*out == NULL) {
		Py_CLEAR(*holder);
		return -1;
	}
	return 0;
}

/* Text from a test (a nodeid, a task, a failure text, JSON built from
 * them) as the runtime takes it: UTF-8 without NUL. Never fails on a str,
 * whatever it holds; the replacements are documented (README, "Text from
 * tests"):
 *   NUL                      -> the four characters \x00
 *   U+DC80..U+DCFF           -> \xNN, the byte that surrogateescape (what
 *                               os.listdir and sys.argv give for a name that
 *                               is not UTF-8) stood for
 *   any other lone surrogate -> \uXXXX
 * Everything else is kept as it is. Returns a new bytes object. */
static PyObject *storable_bytes(PyObject *str)
{
	Py_ssize_t n, len, i, o = 0;
	const char *u = PyUnicode_AsUTF8AndSize(str, &n);
	Py_UCS4 *cps;
	char *buf;
	PyObject *r;

	if (u != NULL && memchr(u, '\0', (size_t)n) == NULL)
		return PyBytes_FromStringAndSize(u, n); /* the common case */
	if (u == NULL) {
		if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
			return NULL;
		PyErr_Clear();
	}
	len = PyUnicode_GetLength(str);
	if (len < 0)
		return NULL;
	cps = PyUnicode_AsUCS4Copy(str);
	if (cps == NULL)
		return NULL;
	buf = PyMem_Malloc((size_t)len * 6 + 1); /* \uXXXX is the longest */
	if (buf == NULL) {
		PyMem_Free(cps);
		return PyErr_NoMemory();
	}
	for (i = 0; i < len; i++) {
		Py_UCS4 c = cps[i];
		if (c == 0) {
			memcpy(buf + o, "\\x00", 4);
			o += 4;
		} else if (c >= 0xDC80 && c <= 0xDCFF) {
			o += sprintf(buf + o, "\\x%02x", (unsigned)(c - 0xDC00));
		} else if (c >= 0xD800 && c <= 0xDFFF) {
			o += sprintf(buf + o, "\\u%04x", (unsigned)c);
		} else if (c < 0x80) {
			buf[o++] = (char)c;
		} else if (c < 0x800) {
			buf[o++] = (char)(0xC0 | (c >> 6));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			buf[o++] = (char)(0xE0 | (c >> 12));
			buf[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			buf[o++] = (char)(0xF0 | (c >> 18));
			buf[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			buf[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	PyMem_Free(cps);
	r = PyBytes_FromStringAndSize(buf, o);
	PyMem_Free(buf);
	return r;
}

/* An optional text argument ("O&" converter): None -> NULL; a str ->
 * storable_bytes(); anything else is a TypeError. The caller sets
 * holder to NULL before parsing and releases it with Py_XDECREF after,
 * whether parsing succeeded or not. */
typedef struct {
	PyObject *holder;
	const char *s;
} text_arg;

static int text_arg_conv(PyObject *obj, void *out)
{
	text_arg *t = (text_arg *)out;
	if (obj == Py_None) {
		t->s = NULL;
		return 1;
	}
	if (!PyUnicode_Check(obj)) {
		PyErr_SetString(PyExc_TypeError, "expected str or None");
		return 0;
	}
	t->holder = storable_bytes(obj);
	if (t->holder == NULL)
		return 0;
	t->s = PyBytes_AsString(t->holder);
	return t->s != NULL;
}

/* An attachment as a dict: name, sha256, size, content_type, source,
 * path (of its blob); NULL with an exception set on failure. */
static PyObject *attachment_to_dict(const lp_attachment *a)
{
	return Py_BuildValue("{s:s,s:s,s:K,s:s,s:s,s:O&}", "name", a->name, "sha256", a->sha256,
			     "size", a->size, "content_type", a->content_type, "source", a->source,
			     "path", path_or_none, a->path);
}

static PyObject *attachments_to_list(const lp_attachment *list, size_t n)
{
	PyObject *l = PyList_New(0);
	size_t i;

	for (i = 0; l != NULL && i < n; i++) {
		PyObject *d = attachment_to_dict(&list[i]);
		if (d == NULL || PyList_Append(l, d) < 0)
			Py_CLEAR(l);
		Py_XDECREF(d);
	}
	return l;
}

/* The attachments a caller passes back (dicts as Run.attach() returned
 * them) as lp_attachment structs whose strings borrow from the dicts
 * (alive as long as seq is). *out is PyMem_Malloc'd. 0, or -1 with an
 * exception set. */
static int attachments_from_seq(PyObject *seq, lp_attachment **out, size_t *n)
{
	Py_ssize_t len, i;
	lp_attachment *list;

	*out = NULL;
	*n = 0;
	if (seq == NULL || seq == Py_None)
		return 0;
	if (!PyList_Check(seq) && !PyTuple_Check(seq)) {
		PyErr_SetString(PyExc_TypeError,
				"attachments must be a list of what Run.attach() returned");
		return -1;
	}
	len = PySequence_Size(seq);
	if (len <= 0)
		return len < 0 ? -1 : 0;
	list = PyMem_Calloc((size_t)len, sizeof(*list));
	if (list == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < len; i++) {
		PyObject *d = PySequence_GetItem(seq, i), *v;
		const char *keys[] = {"name", "content_type", "source", "sha256"};
		const char *vals[4] = {NULL, NULL, NULL, NULL};
		int k, bad = d == NULL || !PyDict_Check(d);

		for (k = 0; !bad && k < 4; k++) {
			v = PyDict_GetItemString(d, keys[k]); /* borrowed */
			vals[k] = v && PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, NULL) : NULL;
			bad = vals[k] == NULL;
		}
		v = bad ? NULL : PyDict_GetItemString(d, "size");
		if (!bad && (v == NULL || !PyLong_Check(v) || strlen(vals[3]) != LP_SHA256_HEX))
			bad = 1;
		if (!bad) {
			list[i].size = PyLong_AsUnsignedLongLong(v);
			bad = PyErr_Occurred() != NULL;
		}
		Py_XDECREF(d); /* the list still holds it */
		if (bad) {
			PyMem_Free(list);
			if (!PyErr_Occurred())
				PyErr_SetString(
					PyExc_TypeError,
					"each attachment must be a dict as Run.attach() returned it");
			return -1;
		}
		list[i].name = (char *)vals[0];
		list[i].content_type = (char *)vals[1];
		list[i].source = (char *)vals[2];
		memcpy(list[i].sha256, vals[3], LP_SHA256_HEX + 1);
	}
	*out = list;
	*n = (size_t)len;
	return 0;
}

static PyObject *result_object(lp_result r)
{
	return Py_NewRef(r == LP_RESULT_TRUE ? Py_True : r == LP_RESULT_FALSE ? Py_False : Py_None);
}

/* The outcome of a pause as a dict (its keys st->keys); clears res. */
static PyObject *resolution_to_dict(module_state *st, lp_resolution *res)
{
	PyObject *d = NULL;
	const char *outcome = lp_outcome_name(res->outcome);

	d = PyDict_New();
	if (d == NULL)
		goto done;
	RESULT_PUT(outcome, text_or_none(outcome));
	RESULT_PUT(by, text_or_none(res->by));
	RESULT_PUT(result, result_object(res->result));
	RESULT_PUT(reason, text_or_none(res->reason));
	RESULT_PUT(failure_reason, text_or_none(res->failure_reason));
	RESULT_PUT(command_json, text_or_none(res->command_json));
	RESULT_PUT(action, text_or_none(lp_action_name(res->action)));
	RESULT_PUT(token, text_or_none(res->token));
	RESULT_PUT(ignored_json, text_or_none(res->ignored_json));
	RESULT_PUT(own, PyBool_FromLong(res->own));
	RESULT_PUT(warning, text_or_none(res->warning));
	RESULT_PUT(value, text_or_none(res->value));
	RESULT_PUT(attachments, attachments_to_list(res->attachments, res->nattachments));
done:
	lp_resolution_clear(res);
	return d;
}

static void resolution_init(lp_resolution *res)
{
	memset(res, 0, sizeof(*res));
	res->result = LP_RESULT_NONE;
}

/* Allocation and release of instances of our heap types (limited API: slots
 * are read with PyType_GetSlot). */
static PyObject *alloc_instance(PyTypeObject *tp)
{
	allocfunc alloc = (allocfunc)PyType_GetSlot(tp, Py_tp_alloc);
	return alloc(tp, 0);
}

static void free_instance(PyObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);
	freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
	tp_free(self);
	Py_DECREF(tp);
}

/* ------------------------------------------------------------ Store */

static PyObject *Store_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"path", "create", NULL};
	module_state *st = state_of_type(type);
	PyObject *path_obj = Py_None, *holder = NULL;
	const char *path = NULL;
	int create = 1, rc;
	lp_store *store = NULL;
	StoreObject *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Op:Store", kwlist, &path_obj, &create))
		return NULL;
	if (fspath_opt(path_obj, &holder, &path) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc =
		lp_store_open(&store, lp_store_default_path(path), create ? LP_STORE_CREATE : 0);
	Py_END_ALLOW_THREADS Py_XDECREF(holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	self = (StoreObject *)alloc_instance(type);
	if (self == NULL) {
		lp_store_free(store);
		return NULL;
	}
	self->store = store;
	return (PyObject *)self;
}

static void Store_dealloc(PyObject *op)
{
	StoreObject *self = (StoreObject *)op;
	lp_store *store = self->store;
	Py_BEGIN_ALLOW_THREADS lp_store_free(store);
	Py_END_ALLOW_THREADS self->store = NULL;
	free_instance(op);
}

static PyObject *Store_get_path(PyObject *op, void *closure)
{
	(void)closure;
	return path_or_none(lp_store_path(((StoreObject *)op)->store));
}

static PyObject *Store_get_notice(PyObject *op, void *closure)
{
	const char *n = lp_store_notice(((StoreObject *)op)->store);
	(void)closure;
	if (n[0] == '\0')
		Py_RETURN_NONE;
	return text_or_none(n);
}

static PyObject *Store_repr(PyObject *op)
{
	PyObject *path = Store_get_path(op, NULL), *r;
	if (path == NULL)
		return NULL;
	r = PyUnicode_FromFormat("<Store path=%R>", path);
	Py_DECREF(path);
	return r;
}

static int result_conv(PyObject *obj, void *out)
{
	lp_resume_options *o = out;
	o->has_result = 1;
	if (obj == Py_None)
		o->result = LP_RESULT_NONE;
	else if (obj == Py_True)
		o->result = LP_RESULT_TRUE;
	else if (obj == Py_False)
		o->result = LP_RESULT_FALSE;
	else {
		PyErr_SetString(PyExc_TypeError, "result must be True, False or None");
		return 0;
	}
	return 1;
}

static PyObject *Store_resume(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"ref",          "action", "failure_reason",
				 "result",       "reason", "value",
				 "take_timeout", "by",     NULL};
	StoreObject *self = (StoreObject *)op;
	module_state *st = STATE_OF(self);
	lp_resume_options o = LP_RESUME_OPTIONS_INIT;
	PyObject *ref_obj, *ref_holder = NULL;
	const char *ref = NULL, *action = "resume";
	text_arg fr = {NULL, NULL}, reason = {NULL, NULL}, value = {NULL, NULL}, by = {NULL, NULL};
	int rc, ok;

	ok = PyArg_ParseTupleAndKeywords(args, kwds, "O|$sO&O&O&O&dO&:resume", kwlist, &ref_obj,
					 &action, text_arg_conv, &fr, result_conv, &o,
					 text_arg_conv, &reason, text_arg_conv, &value,
					 &o.take_timeout, text_arg_conv, &by);
	if (ok && fspath_opt(ref_obj, &ref_holder, &ref) < 0)
		ok = 0;
	if (ok && ref == NULL) {
		(void)raise_code_message(st, LP_EINVAL, "resume() needs a pause id or pause file");
		ok = 0;
	}
	if (ok && strcmp(action, "resume") == 0)
		o.action = LP_ACTION_RESUME;
	else if (ok && strcmp(action, "abort") == 0)
		o.action = LP_ACTION_ABORT;
	else if (ok) {
		(void)raise_code_message(st, LP_EINVAL, "action must be 'resume' or 'abort'");
		ok = 0;
	}
	rc = LP_OK;
	if (ok) {
		o.failure_reason = fr.s;
		o.reason = reason.s;
		o.value = value.s;
		o.by = by.s ? by.s : "python";
		Py_BEGIN_ALLOW_THREADS /* it writes, fsyncs and waits for the take */
			rc = lp_pause_resume(NULL, self->store, ref, &o);
		Py_END_ALLOW_THREADS
	}
	Py_XDECREF(ref_holder);
	Py_XDECREF(fr.holder);
	Py_XDECREF(reason.holder);
	Py_XDECREF(value.holder);
	Py_XDECREF(by.holder);
	if (!ok)
		return NULL;
	if (rc != LP_OK)
		return raise_lp(st, rc);
	Py_RETURN_NONE;
}

static PyObject *Store_published(PyObject *op, PyObject *arg)
{
	StoreObject *self = (StoreObject *)op;
	const char *name = PyUnicode_AsUTF8AndSize(arg, NULL);
	if (name == NULL)
		return NULL;
	int rc = lp_store_published(self->store, name);
	if (rc < 0)
		return raise_lp(STATE_OF(self), rc);
	return PyBool_FromLong(rc);
}

static PyMethodDef Store_methods[] = {
	{"published", Store_published, METH_O,
	 "published($self, name, /)\n--\n\n"
	 "Whether a client file of that name (\"serve.json\") is published at\n"
	 "the top of the pause directory now (one fstatat)."},
	{"resume", (PyCFunction)(void (*)(void))Store_resume, METH_VARARGS | METH_KEYWORDS,
	 "resume($self, /, ref, *, action='resume', failure_reason=None, "
	 "result=None, reason=None, value=None, take_timeout=0.0, by='python')\n--\n\n"
	 "Resume (action 'resume') or abort (action 'abort': the test fails or\n"
	 "its checkpoint raises Aborted, and its run stops) the pause ref (a\n"
	 "pause id or pause file), as `pytest-live-pause resume|abort` does:\n"
	 "checked against the pause's kind and choices, written only if it\n"
	 "fits, and waited for until its process has taken it (take_timeout\n"
	 "seconds, 0: 5 s). Raises InvalidArgumentError (nothing written), or\n"
	 "LivePauseError with .code LP_ERESUMED, LP_ETIMEDOUT, LP_EABORTED,\n"
	 "LP_ESTALE or LP_ENOTTAKEN as the CLI's exit codes 5, 6, 7, 4, 8."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef Store_getset[] = {
	{"path", Store_get_path, NULL, "Absolute path of the pause directory (str).", NULL},
	{"notice", Store_get_notice, NULL,
	 "None, or one line to show once: the default directory was tightened\n"
	 "to 0700, or the per-user default is used (the shared one belongs to\n"
	 "another user).",
	 NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Store_doc,
	     "Store(path=None, create=True)\n"
	     "--\n\n"
	     "An opened pause directory.\n\n"
	     "path: the directory; None resolves to $PYTEST_LIVE_PAUSE_DIR, else the\n"
	     "default directory (default_pause_dir()). create: make it (0700) if missing.\n"
	     "Raises UnsafeDirectoryError for a symlink, a directory owned by another\n"
	     "user or one writable by group or others, LivePauseError for I/O errors.");

static PyType_Slot Store_slots[] = {
	{Py_tp_new, Store_new},
	{Py_tp_dealloc, Store_dealloc},
	{Py_tp_repr, Store_repr},
	{Py_tp_getset, Store_getset},
	{Py_tp_methods, Store_methods},
	{Py_tp_doc, (void *)Store_doc},
	{0, NULL},
};

static PyType_Spec Store_spec = {
	.name = MODULE_NAME ".Store",
	.basicsize = sizeof(StoreObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
	.slots = Store_slots,
};

static int kind_from_str(module_state *st, const char *kind, lp_kind *out)
{
	if (lp_kind_parse(kind, out) != LP_OK) {
		(void)raise_code_message(
			st, LP_EINVAL, "pause kind must be 'failure', 'checkpoint' or 'question'");
		return -1;
	}
	return 0;
}

/* A sequence of str as a NULL-terminated array of UTF-8 texts
 * (storable_bytes); *holder keeps them alive (a list of bytes: release it
 * with Py_XDECREF, the array with PyMem_Free). None: *out NULL. */
static int str_list(PyObject *seq, const char *what, PyObject **holder, const char ***out)
{
	Py_ssize_t n;
	*holder = NULL;
	*out = NULL;
	if (seq == NULL || seq == Py_None)
		return 0;
	if (PyUnicode_Check(seq)) {
		PyErr_Format(PyExc_TypeError, "%s must be a list of str, not a str", what);
		return -1;
	}
	*holder = PySequence_List(seq);
	if (*holder == NULL)
		return -1;
	n = PyList_Size(*holder);
	*out = PyMem_Calloc((size_t)n + 1, sizeof **out);
	if (*out == NULL) {
		Py_CLEAR(*holder);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t k = 0; k < n; k++) {
		PyObject *item = PyList_GetItem(*holder, k), *b;
		if (!PyUnicode_Check(item)) {
			PyErr_Format(PyExc_TypeError, "%s must hold str, not %s", what,
				     Py_TYPE(item) == NULL ? "?" : "another type");
			goto fail;
		}
		b = storable_bytes(item);
		if (b == NULL)
			goto fail;
		(*out)[k] = PyBytes_AsString(b);
		if (PyList_SetItem(*holder, k, b) < 0) /* b takes the str's place */
			goto fail;
	}
	return 0;
fail:
	PyMem_Free(*out);
	*out = NULL;
	Py_CLEAR(*holder);
	return -1;
}

/* -------------------------------------------------------------- Run */

static PyObject *Run_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"store",      "run_id", "worker_id", "join",       "cwd",
				 "extra_json", "argv",   "rootdir",   "allow_eval", NULL};
	module_state *st = state_of_type(type);
	PyObject *store_obj, *cwd_obj = Py_None, *cwd_holder = NULL;
	PyObject *argv_obj = Py_None, *argv_bytes = NULL;
	const char **argv = NULL;
	lp_run_options opts = LP_RUN_OPTIONS_INIT;
	text_arg rootdir = {NULL, NULL};
	int join = 0, allow_eval = 0, rc;
	lp_run *run = NULL;
	RunObject *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|zzpOzOO&p:Run", kwlist, st->StoreType,
					 &store_obj, &opts.run_id, &opts.worker_id, &join, &cwd_obj,
					 &opts.extra_json, &argv_obj, text_arg_conv, &rootdir,
					 &allow_eval)) {
		Py_XDECREF(rootdir.holder);
		return NULL;
	}
	if (join && opts.run_id == NULL) {
		Py_XDECREF(rootdir.holder);
		return raise_code_message(st, LP_EINVAL,
					  "Run(join=True) needs the run_id of the run to join");
	}
	opts.rootdir = rootdir.s; /* held by rootdir.holder until the end */
	opts.allow_eval = allow_eval;
	if (argv_obj != Py_None) {
		/* each argument as its bytes (surrogateescape gives back what
		 * the OS passed); the runtime bounds and repairs them */
		Py_ssize_t n;
		argv_bytes = PySequence_List(argv_obj); /* a new list, ours to change */
		if (argv_bytes == NULL)
			return NULL;
		n = PyList_Size(argv_bytes);
		argv = PyMem_Calloc((size_t)n + 1, sizeof *argv);
		if (argv == NULL) {
			Py_DECREF(argv_bytes);
			Py_XDECREF(rootdir.holder);
			return PyErr_NoMemory();
		}
		for (Py_ssize_t k = 0; k < n; k++) {
			PyObject *b =
				PyUnicode_Check(PyList_GetItem(argv_bytes, k))
					? PyUnicode_AsEncodedString(PyList_GetItem(argv_bytes, k),
								    "utf-8", "surrogateescape")
					: NULL;
			if (b == NULL) {
				if (!PyErr_Occurred())
					PyErr_SetString(PyExc_TypeError,
							"Run(argv=...) must hold str");
				PyMem_Free(argv);
				Py_DECREF(argv_bytes);
				Py_XDECREF(rootdir.holder);
				return NULL;
			}
			argv[k] = PyBytes_AsString(b);
			/* keep b alive in the list: it takes the str's place */
			if (PyList_SetItem(argv_bytes, k, b) < 0) {
				PyMem_Free(argv);
				Py_DECREF(argv_bytes);
				Py_XDECREF(rootdir.holder);
				return NULL;
			}
		}
		opts.argv = argv;
	}
	if (fspath_opt(cwd_obj, &cwd_holder, &opts.cwd) < 0) {
		PyMem_Free(argv);
		Py_XDECREF(argv_bytes);
		Py_XDECREF(rootdir.holder);
		return NULL;
	}
	{
		lp_store *store = ((StoreObject *)store_obj)->store;
		/* the run's files are written and flushed: without the GIL */
		Py_BEGIN_ALLOW_THREADS if (join) rc = lp_run_join(&run, store, &opts);
		else rc = lp_run_start(&run, store, &opts);
		Py_END_ALLOW_THREADS
	}
	Py_XDECREF(cwd_holder);
	PyMem_Free(argv);
	Py_XDECREF(argv_bytes);
	Py_XDECREF(rootdir.holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	self = (RunObject *)alloc_instance(type);
	if (self == NULL) {
		lp_run_free(run);
		return NULL;
	}
	self->run = run;
	self->store = Py_NewRef(store_obj);
	self->owner = !join;
	return (PyObject *)self;
}

static void Run_dealloc(PyObject *op)
{
	RunObject *self = (RunObject *)op;
	lp_run *run = self->run;
	/* stops the run's heartbeat thread (a join): without the GIL */
	Py_BEGIN_ALLOW_THREADS lp_run_free(run);
	Py_END_ALLOW_THREADS self->run = NULL;
	Py_CLEAR(self->store);
	free_instance(op);
}

static PyObject *Run_get_run_id(PyObject *op, void *closure)
{
	(void)closure;
	return text_or_none(lp_run_id(((RunObject *)op)->run));
}

static PyObject *Run_get_store(PyObject *op, void *closure)
{
	(void)closure;
	return Py_NewRef(((RunObject *)op)->store);
}

static PyObject *Run_get_joined(PyObject *op, void *closure)
{
	(void)closure;
	return PyBool_FromLong(!((RunObject *)op)->owner);
}

static PyObject *Run_repr(PyObject *op)
{
	PyObject *id = Run_get_run_id(op, NULL), *r;
	if (id == NULL)
		return NULL;
	r = PyUnicode_FromFormat("<Run run_id=%R%s>", id,
				 ((RunObject *)op)->owner ? "" : " joined");
	Py_DECREF(id);
	return r;
}

static PyObject *Run_end(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"exitstatus", NULL};
	RunObject *self = (RunObject *)op;
	int exitstatus, rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:end", kwlist, &exitstatus))
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = lp_run_end(self->run, exitstatus);
	Py_END_ALLOW_THREADS if (rc != LP_OK) return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

static PyObject *Run_event(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"name", "fields_json", NULL};
	RunObject *self = (RunObject *)op;
	const char *name;
	text_arg fields = {NULL, NULL};
	int rc, ok;

	ok = PyArg_ParseTupleAndKeywords(args, kwds, "s|O&:event", kwlist, &name, text_arg_conv,
					 &fields);
	if (!ok) {
		Py_XDECREF(fields.holder);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS rc = lp_run_event(self->run, name, fields.s);
	Py_END_ALLOW_THREADS Py_XDECREF(fields.holder);
	if (rc != LP_OK)
		return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

static PyObject *Run_pause(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"kind",       "nodeid",  "task",     "original_failure", "timeout",
				 "extra_json", "choices", "location", "attachments",      NULL};
	RunObject *self = (RunObject *)op;
	module_state *st = STATE_OF(self);
	lp_pause_options opts = LP_PAUSE_OPTIONS_INIT;
	const char *kind;
	const char **choices = NULL;
	lp_pause *pause = NULL;
	PauseObject *p;
	PyObject *choices_obj = Py_None, *choices_holder = NULL;
	text_arg nodeid = {NULL, NULL}, task = {NULL, NULL}, failure = {NULL, NULL},
		 extra = {NULL, NULL}, location = {NULL, NULL};
	PyObject *attached = Py_None;
	lp_attachment *alist = NULL;
	size_t nalist = 0;
	int rc, ok;

	ok = PyArg_ParseTupleAndKeywords(args, kwds, "sO&|$O&O&dO&OO&O:pause", kwlist, &kind,
					 text_arg_conv, &nodeid, text_arg_conv, &task,
					 text_arg_conv, &failure, &opts.timeout, text_arg_conv,
					 &extra, &choices_obj, text_arg_conv, &location, &attached);
	if (ok && attachments_from_seq(attached, &alist, &nalist) < 0)
		ok = 0;
	if (ok && nodeid.s == NULL) {
		(void)raise_code_message(st, LP_EINVAL, "a pause needs a nodeid");
		ok = 0;
	} else if (ok && kind_from_str(st, kind, &opts.kind) < 0) {
		ok = 0;
	} else if (ok && str_list(choices_obj, "choices", &choices_holder, &choices) < 0) {
		ok = 0;
	}
	rc = LP_OK;
	if (ok) {
		opts.nodeid = nodeid.s;
		opts.task = task.s;
		opts.original_failure = failure.s;
		opts.extra_json = extra.s;
		opts.choices = choices;
		opts.location = location.s;
		opts.attachments = alist;
		opts.nattachments = nalist;
		Py_BEGIN_ALLOW_THREADS rc = lp_pause_begin(&pause, self->run, &opts);
		Py_END_ALLOW_THREADS
	}
	PyMem_Free(choices);
	Py_XDECREF(choices_holder);
	PyMem_Free(alist);
	Py_XDECREF(nodeid.holder);
	Py_XDECREF(task.holder);
	Py_XDECREF(failure.holder);
	Py_XDECREF(extra.holder);
	Py_XDECREF(location.holder);
	if (!ok)
		return NULL;
	if (rc != LP_OK)
		return raise_lp(st, rc);
	p = (PauseObject *)alloc_instance(st->PauseType);
	if (p == NULL) {
		/* The pause file stays pending; readers see it as stale once
		 * this process is gone. Nothing better to do without memory. */
		lp_pause_free(pause);
		return NULL;
	}
	p->pause = pause;
	p->run = Py_NewRef(op);
	p->busy = 0;
	p->spent_fds[0] = p->spent_fds[1] = -1;
	return (PyObject *)p;
}

static PyObject *Run_abort(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"pause_id", "nodeid", "reason", NULL};
	RunObject *self = (RunObject *)op;
	text_arg pid = {NULL, NULL}, nodeid = {NULL, NULL}, reason = {NULL, NULL};
	int rc, ok;

	ok = PyArg_ParseTupleAndKeywords(args, kwds, "O&O&O&:abort", kwlist, text_arg_conv, &pid,
					 text_arg_conv, &nodeid, text_arg_conv, &reason);
	rc = LP_OK;
	if (ok) {
		Py_BEGIN_ALLOW_THREADS /* it fsyncs */
			rc = lp_run_abort(self->run, pid.s, nodeid.s, reason.s);
		Py_END_ALLOW_THREADS
	}
	Py_XDECREF(pid.holder);
	Py_XDECREF(nodeid.holder);
	Py_XDECREF(reason.holder);
	if (!ok)
		return NULL;
	if (rc != LP_OK)
		return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

/* A Python verdict: True, False or None. */
static int result_from_object(PyObject *obj, lp_result *out)
{
	if (obj == Py_True)
		*out = LP_RESULT_TRUE;
	else if (obj == Py_False)
		*out = LP_RESULT_FALSE;
	else if (obj == Py_None)
		*out = LP_RESULT_NONE;
	else {
		PyErr_SetString(PyExc_TypeError, "a result must be True, False or None");
		return -1;
	}
	return 0;
}

static PyObject *Run_checkpoint_mocked(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"nodeid", "task", "result", NULL};
	RunObject *self = (RunObject *)op;
	text_arg nodeid = {NULL, NULL}, task = {NULL, NULL};
	PyObject *result_obj;
	lp_result result = LP_RESULT_NONE;
	int rc = LP_OK, ok;

	ok = PyArg_ParseTupleAndKeywords(args, kwds, "O&O&O:checkpoint_mocked", kwlist,
					 text_arg_conv, &nodeid, text_arg_conv, &task, &result_obj);
	if (ok && (nodeid.s == NULL || task.s == NULL)) {
		PyErr_SetString(PyExc_TypeError, "checkpoint_mocked() needs a nodeid and a task");
		ok = 0;
	}
	if (ok && result_from_object(result_obj, &result) < 0)
		ok = 0;
	if (ok) {
		Py_BEGIN_ALLOW_THREADS rc =
			lp_run_checkpoint_mocked(self->run, nodeid.s, task.s, result);
		Py_END_ALLOW_THREADS
	}
	Py_XDECREF(nodeid.holder);
	Py_XDECREF(task.holder);
	if (!ok)
		return NULL;
	if (rc != LP_OK)
		return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

static PyObject *Run_set_requests(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"allow_eval", "actions", NULL};
	RunObject *self = (RunObject *)op;
	int allow_eval = 0, rc;
	PyObject *actions = NULL, *seq;
	const char **names;
	Py_ssize_t n, i;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "pO:set_requests", kwlist, &allow_eval,
					 &actions))
		return NULL;
	seq = PySequence_Tuple(actions);
	if (seq == NULL)
		return NULL;
	n = PyTuple_Size(seq);
	names = calloc((size_t)n + 1, sizeof *names);
	if (names == NULL) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	for (i = 0; i < n; i++) {
		PyObject *item = PyTuple_GetItem(seq, i);
		if (item == NULL || !PyUnicode_Check(item) ||
		    (names[i] = PyUnicode_AsUTF8AndSize(item, NULL)) == NULL) {
			if (!PyErr_Occurred())
				PyErr_SetString(PyExc_TypeError,
						"actions must be a sequence of str");
			free(names);
			Py_DECREF(seq);
			return NULL;
		}
	}
	rc = lp_run_set_requests(self->run, allow_eval, names);
	free(names);
	Py_DECREF(seq);
	if (rc != LP_OK)
		return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

static PyObject *Run_aborted(PyObject *op, PyObject *noargs)
{
	RunObject *self = (RunObject *)op;
	char *nodeid = NULL, *reason = NULL;
	PyObject *r;
	int rc = lp_run_aborted(self->run, &nodeid, &reason);

	(void)noargs;
	if (rc < 0)
		return raise_lp(STATE_OF(self), rc);
	if (rc == 0)
		Py_RETURN_NONE;
	r = Py_BuildValue("(NN)", text_or_none(nodeid), text_or_none(reason));
	free(nodeid);
	free(reason);
	return r;
}

static PyObject *Run_attach(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"path", "name", "source", "max_size", NULL};
	RunObject *self = (RunObject *)op;
	PyObject *path = NULL, *r;
	text_arg name = {NULL, NULL};
	const char *source = "test";
	unsigned long long max_size = 0;
	lp_attachment a;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|$O&sK:attach", kwlist,
					 PyUnicode_FSConverter, &path, text_arg_conv, &name,
					 &source, &max_size)) {
		Py_XDECREF(path);
		Py_XDECREF(name.holder);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS rc =
		lp_run_attach(self->run, PyBytes_AsString(path), name.s, source, max_size, &a);
	Py_END_ALLOW_THREADS Py_DECREF(path);
	Py_XDECREF(name.holder);
	if (rc != LP_OK)
		return raise_lp(STATE_OF(self), rc);
	r = attachment_to_dict(&a);
	lp_attachment_clear(&a);
	return r;
}

static PyObject *Run_failure_quota(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"max", NULL};
	RunObject *self = (RunObject *)op;
	long max;
	int allowed = 0, first = 0, rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "l:failure_quota", kwlist, &max))
		return NULL;
	/* takes a lock other processes of the run hold briefly: without the GIL */
	Py_BEGIN_ALLOW_THREADS rc = lp_run_failure_quota(&allowed, &first, self->run, max);
	Py_END_ALLOW_THREADS if (rc != LP_OK) return raise_lp(STATE_OF(self), rc);
	return Py_BuildValue("(NN)", PyBool_FromLong(allowed), PyBool_FromLong(first));
}

static PyObject *Run_progress(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"passed",  "failed",  "errors",    "skipped",
				 "xfailed", "xpassed", "collected", NULL};
	RunObject *self = (RunObject *)op;
	lp_progress p = LP_PROGRESS_INIT;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "kkkkkkl:progress", kwlist, &p.passed,
					 &p.failed, &p.errors, &p.skipped, &p.xfailed, &p.xpassed,
					 &p.collected))
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = lp_run_progress(self->run, &p);
	Py_END_ALLOW_THREADS if (rc != LP_OK) return raise_lp(STATE_OF(self), rc);
	Py_RETURN_NONE;
}

static PyGetSetDef Run_getset[] = {
	{"run_id", Run_get_run_id, NULL, "The run's id (str).", NULL},
	{"store", Run_get_store, NULL, "The Store the run lives in.", NULL},
	{"joined", Run_get_joined, NULL,
	 "True if this object joined a run started by another process.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Run_methods[] = {
	{"abort", (PyCFunction)(void (*)(void))Run_abort, METH_VARARGS | METH_KEYWORDS,
	 "abort($self, /, pause_id, nodeid, reason)\n--\n\n"
	 "Stop the run: an abort command ended pause pause_id of test nodeid\n"
	 "(reason may be None). Recorded once per run (runs/<id>/aborted.json,\n"
	 "event run_aborted), seen by every process of the run with aborted()."},
	{"aborted", Run_aborted, METH_NOARGS,
	 "aborted($self, /)\n--\n\n"
	 "None while the run goes on; once it was stopped by abort() in any of\n"
	 "its processes, (nodeid, reason), reason None if none was given."},
	{"end", (PyCFunction)(void (*)(void))Run_end, METH_VARARGS | METH_KEYWORDS,
	 "end($self, /, exitstatus)\n--\n\n"
	 "Mark the run ended with pytest's exit status (owner only) and log "
	 "'run_ended'."},
	{"event", (PyCFunction)(void (*)(void))Run_event, METH_VARARGS | METH_KEYWORDS,
	 "event($self, /, name, fields_json=None)\n--\n\n"
	 "Append an event of type name, with the fields of the JSON object "
	 "text fields_json, to the run's events.jsonl."},
	{"set_requests", (PyCFunction)(void (*)(void))Run_set_requests,
	 METH_VARARGS | METH_KEYWORDS,
	 "set_requests($self, /, allow_eval, actions)\n--\n\n"
	 "What the pauses begun after this call offer to requests: eval and\n"
	 "exec only with allow_eval, and the named actions (a sequence of\n"
	 "names). Recorded in each pause file's \"requests\"."},
	{"failure_quota", (PyCFunction)(void (*)(void))Run_failure_quota,
	 METH_VARARGS | METH_KEYWORDS,
	 "failure_quota($self, /, max)\n--\n\n"
	 "--pause-max: count one failure that asks to pause against the run's\n"
	 "budget of max failure pauses (shared by every process of the run).\n"
	 "Returns (allowed, first_refused): first_refused is true for exactly\n"
	 "one ask of the run, the first one over the budget."},
	{"progress", (PyCFunction)(void (*)(void))Run_progress, METH_VARARGS | METH_KEYWORDS,
	 "progress($self, /, passed, failed, errors, skipped, xfailed, xpassed, collected)\n--\n\n"
	 "Record the run's test counts so far (collected -1: unknown) in\n"
	 "runs/<id>/progress.json, which the dashboard shows."},
	{"checkpoint_mocked", (PyCFunction)(void (*)(void))Run_checkpoint_mocked,
	 METH_VARARGS | METH_KEYWORDS,
	 "checkpoint_mocked($self, /, nodeid, task, result)\n--\n\n"
	 "Log 'checkpoint_mocked' for a checkpoint that --pause-checkpoint-mock "
	 "answered with result (True, False or None)."},
	{"pause", (PyCFunction)(void (*)(void))Run_pause, METH_VARARGS | METH_KEYWORDS,
	 "pause($self, /, kind, nodeid, *, task=None, original_failure=None, "
	 "timeout=inf, extra_json=None, attachments=None)\n--\n\n"
	 "Begin a pause ('failure' or 'checkpoint'): write its pause file "
	 "(status pending) and return the Pause. timeout 0 times out at once, "
	 "inf waits until resumed (see parse_timeout()). attachments: a list "
	 "of what attach() returned, listed in the pause file."},
	{"attach", (PyCFunction)(void (*)(void))Run_attach, METH_VARARGS | METH_KEYWORDS,
	 "attach($self, /, path, *, name=None, source='test', max_size=0)\n--\n\n"
	 "Copy the file at path into the run's blob store (by its SHA-256) and "
	 "return its attachment: a dict of name, sha256, size, content_type, "
	 "source ('test' or 'capture') and path (of the blob), to pass to "
	 "pause(attachments=...). max_size 0: the default cap (64 MiB). A "
	 "missing, special or oversized file raises InvalidArgumentError, "
	 "nothing written; an I/O error (disk full) LivePauseError, no blob "
	 "left."},
	{NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Run_doc,
	     "Run(store, run_id=None, worker_id=None, join=False, cwd=None, extra_json=None,\n"
	     "    argv=None, rootdir=None, allow_eval=False)\n"
	     "--\n\n"
	     "A run (one pytest session) in a Store.\n\n"
	     "Starts a new run (run_id None: generated), or with join=True joins the run\n"
	     "run_id started by another process of the same session (an xdist worker,\n"
	     "worker_id naming it). cwd defaults to the current directory; extra_json\n"
	     "is a JSON object text merged into run.json; argv, rootdir and allow_eval\n"
	     "are recorded as run.json's \"argv\", \"rootdir\" and \"allow_eval\".");

static PyType_Slot Run_slots[] = {
	{Py_tp_new, Run_new},
	{Py_tp_dealloc, Run_dealloc},
	{Py_tp_repr, Run_repr},
	{Py_tp_getset, Run_getset},
	{Py_tp_methods, Run_methods},
	{Py_tp_doc, (void *)Run_doc},
	{0, NULL},
};

static PyType_Spec Run_spec = {
	.name = MODULE_NAME ".Run",
	.basicsize = sizeof(RunObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
	.slots = Run_slots,
};

/* ----------------------------------------------- QAMule requests */

/* A QAMule request (pytest_live_pause.qamule.Request, or any object with
 * its attributes: kind, nodeid, request_id, result_path, signal_name,
 * pid) as the runtime's lp_qamule_request. The strings are held by
 * `holders` (release with qreq_release) for as long as req is used. */
typedef struct {
	lp_qamule_request req;
	PyObject *holders[4];
} qreq;

static void qreq_release(qreq *q)
{
	for (int i = 0; i < 4; i++)
		Py_CLEAR(q->holders[i]);
}

static int kind_from_str(module_state *st, const char *kind, lp_kind *out);

static int qreq_from(module_state *st, PyObject *obj, qreq *q)
{
	static const char *const names[] = {"nodeid", "request_id", "result_path", "signal_name"};
	const char **fields[] = {&q->req.nodeid, &q->req.request_id, &q->req.result_path,
				 &q->req.signal};
	PyObject *v;
	memset(q, 0, sizeof *q);
	v = PyObject_GetAttrString(obj, "kind");
	if (v == NULL)
		return -1;
	{
		const char *k = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, NULL) : NULL;
		int bad = k == NULL || kind_from_str(st, k, &q->req.kind) < 0;
		if (k == NULL && !PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "a QAMule request's kind must be a str");
		Py_DECREF(v);
		if (bad)
			return -1;
	}
	for (int i = 0; i < 4; i++) {
		v = PyObject_GetAttrString(obj, names[i]);
		if (v == NULL)
			goto fail;
		if (!PyUnicode_Check(v)) {
			Py_DECREF(v);
			PyErr_Format(PyExc_TypeError, "a QAMule request's %s must be a str",
				     names[i]);
			goto fail;
		}
		/* paths in the filesystem encoding, texts as the runtime stores them */
		q->holders[i] = i == 2 ? PyUnicode_EncodeFSDefault(v) : storable_bytes(v);
		Py_DECREF(v);
		if (q->holders[i] == NULL || (*fields[i] = PyBytes_AsString(q->holders[i])) == NULL)
			goto fail;
	}
	v = PyObject_GetAttrString(obj, "pid");
	if (v == NULL)
		goto fail;
	q->req.pid = PyLong_AsLong(v);
	Py_DECREF(v);
	if (q->req.pid == -1 && PyErr_Occurred())
		goto fail;
	return 0;
fail:
	qreq_release(q);
	return -1;
}

static PyObject *resolution_to_dict(module_state *st, lp_resolution *res);

/* The ending of a QAMule-mode pause as a dict; clears e. */
static PyObject *ending_to_dict(module_state *st, lp_qamule_ending *e, lp_kind kind)
{
	PyObject *d = PyDict_New();
	if (d == NULL)
		goto done;
	RESULT_PUT(resolution, resolution_to_dict(st, &e->resolution));
	RESULT_PUT(outcome, text_or_none(e->outcome));
	RESULT_PUT(status, e->has_status ? text_or_none(lp_qamule_status_name(e->status))
					 : Py_NewRef(Py_None));
	RESULT_PUT(message, text_or_none(e->message));
	RESULT_PUT(payload_line,
		   kind == LP_KIND_FAILURE && e->has_status && e->status == LP_QAMULE_OK
			   ? text_or_none(e->payload_json)
			   : Py_NewRef(Py_None));
	RESULT_PUT(has_result, PyBool_FromLong(e->has_result));
	{
		PyObject *text = text_or_none(e->lines ? e->lines : "");
		PyObject *lines = text ? PyUnicode_Splitlines(text, 0) : NULL;
		Py_XDECREF(text);
		RESULT_PUT(lines, lines);
	}
	if (kind == LP_KIND_CHECKPOINT) {
		RESULT_PUT(checkpoint_outcome, text_or_none(e->checkpoint_outcome));
		RESULT_PUT(result, result_object(e->result));
		RESULT_PUT(reason, text_or_none(e->reason));
	}
done:
	lp_qamule_ending_clear(e);
	return d;
}

/* ------------------------------------------------------------ Pause */

/* A private wakeup fd for Python's signal handler, installed with
 * signal.set_wakeup_fd() while the main thread waits. */
typedef struct {
	int rfd, wfd;
	PyObject *set_wakeup_fd; /* the function, to restore with */
	PyObject *old;           /* the previous wakeup fd (int) */
	int *keep; /* NULL, or where the pipe goes once restored (PauseObject.spent_fds) */
} wakeup;

/* Install a wakeup pipe. In threads other than the main one (ValueError
 * from set_wakeup_fd), or when no descriptor is left for the pipe (EMFILE,
 * ENFILE: the wait must not fail a pause that is announced already),
 * nothing is installed and w->rfd stays -1: signals are then seen by the
 * check hook at the next slice. */
static int wakeup_install(module_state *st, wakeup *w)
{
	PyObject *args = NULL, *kw = NULL;
	int fds[2];

	w->rfd = w->wfd = -1;
	w->old = NULL;
	w->keep = NULL;
	w->set_wakeup_fd = Py_NewRef(st->set_wakeup_fd);
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		int e = errno;
		Py_CLEAR(w->set_wakeup_fd);
		if (e == EMFILE || e == ENFILE || e == ENOMEM) {
			/* No descriptor to spare (the pause is announced already:
			 * never fail it for this): wait without the wakeup fd.
			 * The check hook still runs every slice (50 ms), so a
			 * signal is handled within a slice, not at once. */
			return 0;
		}
		errno = e;
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	args = Py_BuildValue("(i)", fds[1]);
	kw = Py_BuildValue("{s:O}", "warn_on_full_buffer", Py_False);
	if (args != NULL && kw != NULL)
		w->old = PyObject_Call(w->set_wakeup_fd, args, kw);
	Py_XDECREF(args);
	Py_XDECREF(kw);
	if (w->old != NULL) {
		w->rfd = fds[0];
		w->wfd = fds[1];
		return 0;
	}
	(void)close(fds[0]);
	(void)close(fds[1]);
	Py_CLEAR(w->set_wakeup_fd);
	if (PyErr_ExceptionMatches(PyExc_ValueError)) {
		/* not the main thread (of the main interpreter) */
		PyErr_Clear();
		return 0;
	}
	return -1;
}

/* Put the previous wakeup fd back and close the pipe (or, with w->keep,
 * hand it there to be closed later: two close(2) fewer between a resume
 * and the test's decision). Keeps an exception
 * that is already set (a failure to restore is then reported as
 * unraisable); otherwise returns -1 with the restore error set. */
static void close_spent(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			(void)close(fds[i]);
		fds[i] = -1;
	}
}

static int wakeup_restore(wakeup *w)
{
	PyObject *et, *ev, *etb, *r;
	int ret = 0;

	if (w->old == NULL)
		return 0;
	PyErr_Fetch(&et, &ev, &etb);
	r = PyObject_CallFunctionObjArgs(w->set_wakeup_fd, w->old, NULL);
	if (r != NULL) {
		Py_DECREF(r);
		if (w->keep != NULL) {
			close_spent(w->keep);
			w->keep[0] = w->rfd;
			w->keep[1] = w->wfd;
		} else {
			(void)close(w->rfd);
			(void)close(w->wfd);
		}
	} else {
		/* Our pipe may still be the wakeup fd: leak it rather than
		 * let the signal handler write to a reused descriptor. */
		if (et != NULL)
			PyErr_WriteUnraisable(w->set_wakeup_fd);
		else
			ret = -1;
	}
	if (et != NULL)
		PyErr_Restore(et, ev, etb);
	w->rfd = w->wfd = -1;
	Py_CLEAR(w->old);
	Py_CLEAR(w->set_wakeup_fd);
	return ret;
}

typedef struct {
	PyThreadState *tstate; /* saved while the GIL is released */
	PyObject *on_rejected; /* borrowed; NULL if none */
	PyObject *stop;        /* borrowed; NULL if none */
	PyObject *on_request;  /* borrowed; NULL if none */
	int failed;            /* a Python exception is pending */
	int stopped;           /* stop() returned true */
} wait_ctx;

/* Ask the stop callable (GIL held): 1 stop, 0 go on, -1 it raised. */
static int ask_stop(wait_ctx *ctx)
{
	PyObject *r;
	int truth;

	if (ctx->stop == NULL || ctx->stopped)
		return ctx->stopped;
	r = PyObject_CallNoArgs(ctx->stop);
	if (r == NULL)
		return -1;
	truth = PyObject_IsTrue(r);
	Py_DECREF(r);
	if (truth > 0)
		ctx->stopped = 1;
	return truth;
}

/* lp_wait_hooks.check: run Python's signal handlers, then ask stop(); stop
 * the wait when a handler raised (KeyboardInterrupt, the plugin's SIGTERM
 * handler...), leaving that exception set for wait() to raise, or when
 * stop() says so (a handler noted a QAMule resume signal). Called on the
 * waiting thread. */
static int wait_check(void *ud)
{
	wait_ctx *ctx = ud;
	int stop;

	PyEval_RestoreThread(ctx->tstate);
	if (!ctx->failed && PyErr_CheckSignals() < 0)
		ctx->failed = 1;
	if (!ctx->failed && ask_stop(ctx) < 0)
		ctx->failed = 1;
	stop = ctx->failed || ctx->stopped;
	ctx->tstate = PyEval_SaveThread();
	return stop;
}

/* lp_wait_hooks.on_rejected: hand the message to the Python callable. If
 * it raises, the exception is kept and the next check() stops the wait. */
static void wait_on_rejected(void *ud, const char *message)
{
	wait_ctx *ctx = ud;
	PyObject *msg, *r;

	if (ctx->on_rejected == NULL)
		return;
	PyEval_RestoreThread(ctx->tstate);
	if (!ctx->failed) {
		msg = text_or_none(message ? message : "");
		r = msg ? PyObject_CallFunctionObjArgs(ctx->on_rejected, msg, NULL) : NULL;
		Py_XDECREF(msg);
		if (r == NULL)
			ctx->failed = 1;
		else
			Py_DECREF(r);
	}
	ctx->tstate = PyEval_SaveThread();
}

/* A str (or None) of the handler's answer as a malloc'd UTF-8 copy
 * (lone surrogates backslash-escaped); 0, or -1 with an exception set. */
static int answer_text(PyObject *answer, const char *key, char **out)
{
	PyObject *v = PyDict_GetItemString(answer, key), *b;
	*out = NULL;
	if (v == NULL || v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "on_request's %s must be a str or None", key);
		return -1;
	}
	b = PyUnicode_AsEncodedString(v, "utf-8", "backslashreplace");
	if (b == NULL)
		return -1;
	*out = strdup(PyBytes_AsString(b));
	Py_DECREF(b);
	if (*out == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

/* Fill ans from the handler's dict (ok, timed_out, repr, stdout, stderr,
 * error, data: a JSON text, files: a list of str). 0, or -1 with an
 * exception set. */
static int answer_from_dict(PyObject *d, lp_answer *ans)
{
	PyObject *files, *v;
	Py_ssize_t i, n;

	if (!PyDict_Check(d)) {
		PyErr_SetString(PyExc_TypeError, "on_request must return a dict");
		return -1;
	}
	v = PyDict_GetItemString(d, "ok");
	ans->ok = v != NULL && PyObject_IsTrue(v) == 1;
	v = PyDict_GetItemString(d, "timed_out");
	ans->timed_out = v != NULL && PyObject_IsTrue(v) == 1;
	if (answer_text(d, "repr", &ans->repr) < 0 ||
	    answer_text(d, "stdout", &ans->out_text) < 0 ||
	    answer_text(d, "stderr", &ans->err_text) < 0 ||
	    answer_text(d, "error", &ans->error) < 0 || answer_text(d, "data", &ans->data_json) < 0)
		return -1;
	files = PyDict_GetItemString(d, "files");
	if (files == NULL || files == Py_None)
		return 0;
	if (!PyList_Check(files)) {
		PyErr_SetString(PyExc_TypeError, "on_request's files must be a list of str");
		return -1;
	}
	n = PyList_Size(files);
	ans->files = calloc((size_t)n + 1, sizeof *ans->files);
	if (ans->files == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < n; i++) {
		PyObject *f = PyList_GetItem(files, i), *b;
		if (f == NULL || !PyUnicode_Check(f)) {
			PyErr_SetString(PyExc_TypeError,
					"on_request's files must be a list of str");
			return -1;
		}
		b = PyUnicode_EncodeFSDefault(f);
		if (b == NULL)
			return -1;
		ans->files[ans->nfiles] = strdup(PyBytes_AsString(b));
		Py_DECREF(b);
		if (ans->files[ans->nfiles] == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		ans->nfiles++;
	}
	return 0;
}

/* lp_wait_hooks.on_request: call on_request(type, code, action, args,
 * timeout) on the waiting thread with the GIL held and fill the answer
 * from the dict it returns. An exception it raises (KeyboardInterrupt,
 * the plugin's SIGTERM) is kept and stops the wait, as in wait_check();
 * a malformed answer is answered as an error and the wait goes on. */
static int wait_on_request(void *ud, const lp_request *req, lp_answer *ans)
{
	wait_ctx *ctx = ud;
	PyObject *args = NULL, *r = NULL;
	size_t i;
	int stop = 0;

	PyEval_RestoreThread(ctx->tstate);
	if (ctx->failed || ctx->on_request == NULL) {
		ans->error = strdup("this paused process takes no requests now");
		ctx->tstate = PyEval_SaveThread();
		return ctx->failed;
	}
	args = PyDict_New();
	for (i = 0; args != NULL && i < req->nargs; i++) {
		PyObject *v = text_or_none(req->arg_values[i]);
		if (v == NULL || PyDict_SetItemString(args, req->arg_keys[i], v) < 0)
			Py_CLEAR(args);
		Py_XDECREF(v);
	}
	if (args != NULL) {
		PyObject *code = text_or_none(req->code), *action = text_or_none(req->action);
		if (code != NULL && action != NULL)
			r = PyObject_CallFunction(ctx->on_request, "sOOOd",
						  lp_request_type_name(req->type), code, action,
						  args, req->timeout);
		Py_XDECREF(code);
		Py_XDECREF(action);
	}
	Py_XDECREF(args);
	if (r == NULL) {
		ctx->failed = 1; /* raised by wait() once the request is answered */
		stop = 1;
	} else if (answer_from_dict(r, ans) < 0) {
		PyObject *et, *ev, *etb, *text;
		PyErr_Fetch(&et, &ev, &etb);
		text = ev ? PyObject_Str(ev) : NULL;
		lp_answer_clear(ans);
		ans->error =
			strdup(text && PyUnicode_Check(text) && PyUnicode_AsUTF8AndSize(text, NULL)
				       ? PyUnicode_AsUTF8AndSize(text, NULL)
				       : "the request handler gave a malformed answer");
		PyErr_Clear();
		Py_XDECREF(text);
		Py_XDECREF(et);
		Py_XDECREF(ev);
		Py_XDECREF(etb);
	}
	Py_XDECREF(r);
	ctx->tstate = PyEval_SaveThread();
	return stop;
}

static int pause_check_idle(PauseObject *self)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"this pause is being waited on by another call");
		return -1;
	}
	return 0;
}

/* The wait of a pause, with Python's signals honoured (see the top of
 * this file) and requests served by on_request: -1 with a Python
 * exception set (the pause still pending, for claim() or abort()); 0
 * with *res filled; 1 when stop() said so (the pause still pending). */
static int pause_wait_core(PauseObject *self, PyObject *on_rejected, PyObject *stop,
			   PyObject *on_request, lp_resolution *res)
{
	module_state *st = STATE_OF(self);
	lp_wait_hooks hooks = LP_WAIT_HOOKS_INIT;
	wait_ctx ctx;
	wakeup w;
	int rc;

	resolution_init(res);
	if (on_request != Py_None && !PyCallable_Check(on_request)) {
		PyErr_SetString(PyExc_TypeError, "on_request must be a callable or None");
		return -1;
	}
	if (on_rejected != Py_None && !PyCallable_Check(on_rejected)) {
		PyErr_SetString(PyExc_TypeError, "on_rejected must be a callable or None");
		return -1;
	}
	if (stop != Py_None && !PyCallable_Check(stop)) {
		PyErr_SetString(PyExc_TypeError, "stop must be a callable or None");
		return -1;
	}
	if (pause_check_idle(self) < 0)
		return -1;
	if (wakeup_install(st, &w) < 0)
		return -1;
	w.keep = self->spent_fds;
	/* A signal that arrived before the wakeup fd was ours. */
	if (PyErr_CheckSignals() < 0) {
		(void)wakeup_restore(&w);
		return -1;
	}

	ctx.tstate = NULL;
	ctx.on_rejected = on_rejected == Py_None ? NULL : on_rejected;
	ctx.stop = stop == Py_None ? NULL : stop;
	ctx.on_request = on_request == Py_None ? NULL : on_request;
	ctx.failed = 0;
	ctx.stopped = 0;
	/* stop() may be true already (the signal came before the wait) */
	if (ask_stop(&ctx) < 0) {
		(void)wakeup_restore(&w);
		return -1;
	}
	if (ctx.stopped)
		return wakeup_restore(&w) < 0 ? -1 : 1;
	hooks.wake_fd = w.rfd;
	hooks.slice_ms = 0; /* the runtime's default (50 ms) */
	hooks.check = wait_check;
	hooks.on_rejected = wait_on_rejected;
	hooks.on_request = ctx.on_request ? wait_on_request : NULL;
	hooks.ud = &ctx;

	self->busy = 1;
	ctx.tstate = PyEval_SaveThread();
	rc = lp_pause_wait(res, self->pause, &hooks);
	PyEval_RestoreThread(ctx.tstate);
	self->busy = 0;

	if (ctx.failed || PyErr_Occurred()) {
		/* A Python exception wins: the caller ends the pause (claim). */
		lp_resolution_clear(res);
		(void)wakeup_restore(&w);
		return -1;
	}
	if (rc == LP_EINTR && ctx.stopped) {
		/* stop() said so: the pause is still pending, for claim() */
		lp_resolution_clear(res);
		return wakeup_restore(&w) < 0 ? -1 : 1;
	}
	if (rc != LP_OK) {
		lp_resolution_clear(res);
		(void)raise_lp(st, rc);
		(void)wakeup_restore(&w);
		return -1;
	}
	if (wakeup_restore(&w) < 0) {
		lp_resolution_clear(res);
		return -1;
	}
	return 0;
}

static PyObject *Pause_wait(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"on_rejected", "stop", "on_request", "qamule", NULL};
	PauseObject *self = (PauseObject *)op;
	module_state *st = STATE_OF(self);
	PyObject *on_rejected = Py_None, *stop = Py_None, *on_request = Py_None, *qamule = Py_None;
	lp_resolution res;
	lp_qamule_ending ending;
	qreq q;
	int rc, how;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO$O:wait", kwlist, &on_rejected, &stop,
					 &on_request, &qamule))
		return NULL;
	if (qamule == Py_None) {
		how = pause_wait_core(self, on_rejected, stop, on_request, &res);
		if (how < 0)
			return NULL;
		if (how > 0)
			Py_RETURN_NONE;
		return resolution_to_dict(st, &res);
	}
	/* QAMule mode: the resume signal (stop()) or another resolver ends
	 * the pause; the runtime decides what that means in QAMule's terms */
	if (qreq_from(st, qamule, &q) < 0)
		return NULL;
	how = pause_wait_core(self, on_rejected, stop, on_request, &res);
	if (how < 0) {
		qreq_release(&q);
		return NULL;
	}
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS if (how > 0) /* the signal: read the result file, claim (flushes) */
		rc = lp_qamule_claim(&ending, self->pause, &q.req);
	else rc = lp_qamule_ending_from(&ending, &q.req, &res, NULL);
	Py_END_ALLOW_THREADS self->busy = 0;
	lp_resolution_clear(&res);
	if (rc != LP_OK) {
		qreq_release(&q);
		return raise_lp(st, rc);
	}
	{
		lp_kind kind = q.req.kind;
		qreq_release(&q);
		return ending_to_dict(st, &ending, kind);
	}
}

static PyObject *Pause_claim(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"by", "fields_json", NULL};
	PauseObject *self = (PauseObject *)op;
	const char *by, *fields = NULL;
	lp_resolution res;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|z:claim", kwlist, &by, &fields))
		return NULL;
	if (pause_check_idle(self) < 0)
		return NULL;
	resolution_init(&res);
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS rc = lp_pause_claim(&res, self->pause, LP_ACTION_RESUME, by, fields);
	Py_END_ALLOW_THREADS self->busy = 0;
	if (rc != LP_OK) {
		lp_resolution_clear(&res);
		return raise_lp(STATE_OF(self), rc);
	}
	return resolution_to_dict(STATE_OF(self), &res);
}

static PyObject *Pause_abort(PyObject *op, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"signal", NULL};
	PauseObject *self = (PauseObject *)op;
	const char *sig = NULL;
	lp_resolution res;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|z:abort", kwlist, &sig))
		return NULL;
	if (pause_check_idle(self) < 0)
		return NULL;
	resolution_init(&res);
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS rc = lp_pause_abort(&res, self->pause, sig);
	Py_END_ALLOW_THREADS self->busy = 0;
	if (rc != LP_OK) {
		lp_resolution_clear(&res);
		return raise_lp(STATE_OF(self), rc);
	}
	return resolution_to_dict(STATE_OF(self), &res);
}

static void Pause_dealloc(PyObject *op)
{
	PauseObject *self = (PauseObject *)op;
	lp_pause *pause = self->pause;
	/* a pause still pending is ended as aborted (written, flushed) */
	Py_BEGIN_ALLOW_THREADS lp_pause_free(pause);
	close_spent(self->spent_fds);
	Py_END_ALLOW_THREADS self->pause = NULL;
	Py_CLEAR(self->run);
	free_instance(op);
}

static PyObject *Pause_get_pause_id(PyObject *op, void *closure)
{
	(void)closure;
	return text_or_none(lp_pause_id(((PauseObject *)op)->pause));
}

static PyObject *Pause_get_path(PyObject *op, void *closure)
{
	(void)closure;
	return path_or_none(lp_pause_path(((PauseObject *)op)->pause));
}

static PyObject *Pause_get_resume_hint(PyObject *op, void *closure)
{
	(void)closure;
	return text_or_none(lp_pause_resume_hint(((PauseObject *)op)->pause));
}

static PyObject *Pause_get_run(PyObject *op, void *closure)
{
	(void)closure;
	return Py_NewRef(((PauseObject *)op)->run);
}

static PyObject *Pause_repr(PyObject *op)
{
	PyObject *id = Pause_get_pause_id(op, NULL), *r;
	if (id == NULL)
		return NULL;
	r = PyUnicode_FromFormat("<Pause pause_id=%R>", id);
	Py_DECREF(id);
	return r;
}

static PyGetSetDef Pause_getset[] = {
	{"pause_id", Pause_get_pause_id, NULL, "The pause's id (str).", NULL},
	{"path", Pause_get_path, NULL, "Absolute path of the pause file (str).", NULL},
	{"resume_hint", Pause_get_resume_hint, NULL,
	 "The resume command a person or agent should run (str).", NULL},
	{"run", Pause_get_run, NULL, "The Run the pause belongs to.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Pause_methods[] = {
	{"wait", (PyCFunction)(void (*)(void))Pause_wait, METH_VARARGS | METH_KEYWORDS,
	 "wait($self, /, on_rejected=None, stop=None, on_request=None, *, qamule=None)\n--\n\n"
	 "Block, with the GIL released, until a resume command is taken or the\n"
	 "pause times out; return its resolution dict (outcome, by, result,\n"
	 "reason, failure_reason, command_json). on_rejected(message) is called\n"
	 "for each refused command. A Python exception raised meanwhile by a\n"
	 "signal handler (KeyboardInterrupt...) or by on_rejected is raised\n"
	 "with the pause still pending: end it with claim(). stop() is called\n"
	 "before the wait and whenever it wakes (after Python's signal\n"
	 "handlers ran, and at least every 50 ms); when it returns true, wait()\n"
	 "returns None with the pause still pending: end it with claim().\n"
	 "on_request(type, code, action, args, timeout) runs each request\n"
	 "(type 'eval', 'exec' or 'action'; args a dict of str) on this thread\n"
	 "and returns a dict: ok, timed_out, repr, stdout, stderr, error, data\n"
	 "(a JSON text) and files (a list of paths); the wait then goes on.\n"
	 "An exception it raises stops the wait as a signal handler's does.\n"
	 "qamule=request (QAMule mode: kind, nodeid, request_id, result_path,\n"
	 "signal_name, pid): when stop() says the resume signal came, the\n"
	 "runtime reads the result file and claims the pause (lp_qamule_claim);\n"
	 "either way wait() returns the ending in QAMule's terms, a dict:\n"
	 "resolution, outcome, status, message, payload_line, has_result,\n"
	 "lines (QAMULE_PAUSE_RESUME, ...), and for checkpoints\n"
	 "checkpoint_outcome, result, reason."},
	{"claim", (PyCFunction)(void (*)(void))Pause_claim, METH_VARARGS | METH_KEYWORDS,
	 "claim($self, /, by, fields_json=None)\n--\n\n"
	 "Resume the pause from this process with provenance `by` (e.g.\n"
	 "'signal'; it decides nothing) and the verdict and further command\n"
	 "fields of fields_json (a JSON object text). If another resolver won,\n"
	 "its command is taken instead (own is False). Returns the resolution\n"
	 "dict."},
	{"abort", (PyCFunction)(void (*)(void))Pause_abort, METH_VARARGS | METH_KEYWORDS,
	 "abort($self, /, signal=None)\n--\n\n"
	 "End the pause as aborted (Ctrl-C, SIGTERM, an exception while\n"
	 "paused); signal names the signal ('SIGINT') or is None. If another\n"
	 "resolver won, its command is taken instead. Returns the resolution\n"
	 "dict."},
	{NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Pause_doc, "A pending pause, made by Run.pause(); not instantiable directly.");

static PyType_Slot Pause_slots[] = {
	{Py_tp_dealloc, Pause_dealloc}, {Py_tp_repr, Pause_repr},
	{Py_tp_getset, Pause_getset},   {Py_tp_methods, Pause_methods},
	{Py_tp_doc, (void *)Pause_doc}, {0, NULL},
};

static PyType_Spec Pause_spec = {
	.name = MODULE_NAME ".Pause",
	.basicsize = sizeof(PauseObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
	.slots = Pause_slots,
};

/* ----------------------------------------------------------- Notify */

typedef struct {
	PyObject_HEAD lp_notify *notify;
} NotifyObject;

static PyObject *Notify_poll(PyObject *op, PyObject *noargs)
{
	NotifyObject *self = (NotifyObject *)op;
	char *message = NULL;
	PyObject *m;
	lp_notify_state s;

	(void)noargs;
	s = lp_notify_poll(&message, self->notify);
	m = text_or_none(message);
	free(message);
	if (m == NULL)
		return NULL;
	return Py_BuildValue("(sN)",
			     s == LP_NOTIFY_RUNNING ? "running"
			     : s == LP_NOTIFY_OK    ? "ok"
						    : "failed",
			     m);
}

static PyObject *Notify_get_pid(PyObject *op, void *closure)
{
	(void)closure;
	return PyLong_FromLong(lp_notify_pid(((NotifyObject *)op)->notify));
}

static void Notify_dealloc(PyObject *op)
{
	NotifyObject *self = (NotifyObject *)op;
	lp_notify_free(self->notify); /* never waits: the runtime's thread reaps */
	self->notify = NULL;
	free_instance(op);
}

static PyMethodDef Notify_methods[] = {
	{"poll", Notify_poll, METH_NOARGS,
	 "poll($self, /)\n--\n\n"
	 "What became of the command so far, without waiting: (state, message),\n"
	 "state 'running', 'ok' or 'failed' (message then says what)."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef Notify_getset[] = {
	{"pid", Notify_get_pid, NULL, "The command's process id (int).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Notify_doc, "A --pause-notify command started by notify_spawn(); not instantiable\n"
			 "directly. The runtime kills it at its bound and reaps it.");

static PyType_Slot Notify_slots[] = {
	{Py_tp_dealloc, Notify_dealloc},
	{Py_tp_methods, Notify_methods},
	{Py_tp_getset, Notify_getset},
	{Py_tp_doc, (void *)Notify_doc},
	{0, NULL},
};

static PyType_Spec Notify_spec = {
	.name = MODULE_NAME ".Notify",
	.basicsize = sizeof(NotifyObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
	.slots = Notify_slots,
};

static PyObject *mod_notify_spawn(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"argv",   "pause_id",  "kind",  "nodeid",
				 "run_id", "pause_dir", "bound", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *argv_obj, *list = NULL, *r = NULL;
	text_arg pid = {NULL, NULL}, kind = {NULL, NULL}, nodeid = {NULL, NULL},
		 run_id = {NULL, NULL}, dir = {NULL, NULL};
	lp_notify_env env;
	lp_notify *n = NULL;
	const char **argv = NULL;
	double bound;
	Py_ssize_t count;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO&O&O&O&O&d:notify_spawn", kwlist, &argv_obj,
					 text_arg_conv, &pid, text_arg_conv, &kind, text_arg_conv,
					 &nodeid, text_arg_conv, &run_id, text_arg_conv, &dir,
					 &bound))
		goto done;
	list = PySequence_List(argv_obj);
	if (list == NULL)
		goto done;
	count = PyList_Size(list);
	argv = PyMem_Calloc((size_t)count + 1, sizeof *argv);
	if (argv == NULL) {
		PyErr_NoMemory();
		goto done;
	}
	for (Py_ssize_t k = 0; k < count; k++) {
		PyObject *item = PyList_GetItem(list, k), *b;
		if (!PyUnicode_Check(item)) {
			PyErr_SetString(PyExc_TypeError, "notify_spawn(argv=...) must hold str");
			goto done;
		}
		b = PyUnicode_EncodeFSDefault(item); /* a NUL is a ValueError */
		if (b == NULL || PyList_SetItem(list, k, b) < 0)
			goto done;
		argv[k] = PyBytes_AsString(b);
	}
	env.pause_id = pid.s;
	env.kind = kind.s;
	env.nodeid = nodeid.s;
	env.run_id = run_id.s;
	env.pause_dir = dir.s;
	Py_BEGIN_ALLOW_THREADS rc = lp_notify_spawn(&n, argv, &env, bound);
	Py_END_ALLOW_THREADS if (rc != LP_OK)
	{
		(void)raise_lp(st, rc);
		goto done;
	}
	r = alloc_instance(st->NotifyType);
	if (r == NULL) {
		lp_notify_free(n);
		goto done;
	}
	((NotifyObject *)r)->notify = n;
done:
	PyMem_Free(argv);
	Py_XDECREF(list);
	Py_XDECREF(pid.holder);
	Py_XDECREF(kind.holder);
	Py_XDECREF(nodeid.holder);
	Py_XDECREF(run_id.holder);
	Py_XDECREF(dir.holder);
	return r;
}

/* ------------------------------------------------- module functions */

static PyObject *mod_default_pause_dir(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"explicit", NULL};
	PyObject *obj = Py_None, *holder = NULL, *r;
	const char *explicit_path = NULL;

	(void)module;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:default_pause_dir", kwlist, &obj))
		return NULL;
	if (fspath_opt(obj, &holder, &explicit_path) < 0)
		return NULL;
	r = path_or_none(lp_store_default_path(explicit_path));
	Py_XDECREF(holder);
	return r;
}

static PyObject *mod_storable_text(PyObject *module, PyObject *arg)
{
	PyObject *b, *r;

	(void)module;
	if (!PyUnicode_Check(arg)) {
		PyErr_SetString(PyExc_TypeError, "storable_text() takes a str");
		return NULL;
	}
	b = storable_bytes(arg);
	if (b == NULL)
		return NULL;
	r = PyUnicode_FromStringAndSize(PyBytes_AsString(b), PyBytes_Size(b));
	Py_DECREF(b);
	return r;
}

static PyObject *mod_validate_id(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"id", "what", NULL};
	const char *id, *what = "id";
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|s:validate_id", kwlist, &id, &what))
		return NULL;
	rc = lp_id_validate(id, what);
	if (rc != LP_OK)
		return raise_lp((module_state *)PyModule_GetState(module), rc);
	Py_RETURN_NONE;
}

/* ------------------------------------------------------ text for people */

/* UTF-8 of a str for lp_text_terminal_safe(): surrogates U+DC80..U+DCFF
 * (what surrogateescape makes of undecodable bytes, e.g. os.listdir())
 * become their original byte, which the runtime then shows as \xHH; any
 * other lone surrogate becomes the ASCII text \udXXX itself. Never
 * raises but for memory. *out is PyMem_Malloc'd. */
static int str_to_escapable_utf8(PyObject *text, char **out, size_t *len_out)
{
	Py_ssize_t n = PyUnicode_GetLength(text), i;
	Py_UCS4 *cps;
	char *buf;
	size_t o = 0;

	if (n < 0)
		return -1;
	cps = PyUnicode_AsUCS4Copy(text);
	if (cps == NULL)
		return -1;
	buf = PyMem_Malloc((size_t)n * 6 + 1);
	if (buf == NULL) {
		PyMem_Free(cps);
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < n; i++) {
		Py_UCS4 c = cps[i];

		if (c >= 0xDC80 && c <= 0xDCFF) {
			buf[o++] = (char)(c - 0xDC00);
		} else if (c >= 0xD800 && c <= 0xDFFF) {
			o += (size_t)sprintf(buf + o, "\\u%04x", (unsigned)c);
		} else if (c < 0x80) {
			buf[o++] = (char)c;
		} else if (c < 0x800) {
			buf[o++] = (char)(0xC0 | (c >> 6));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			buf[o++] = (char)(0xE0 | (c >> 12));
			buf[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			buf[o++] = (char)(0xF0 | (c >> 18));
			buf[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			buf[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			buf[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	PyMem_Free(cps);
	*out = buf;
	*len_out = o;
	return 0;
}

static PyObject *mod_terminal_safe(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"text", "multiline", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *text, *r;
	int multiline = 0, rc;
	char *in = NULL, *safe = NULL;
	size_t len = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:terminal_safe", kwlist, &text,
					 &multiline))
		return NULL;
	if (PyUnicode_Check(text)) {
		/* the usual text (a reason, a node id) is its own escape: the
		 * same object back, without the copies below (it runs on the
		 * way from a resume to the test's decision) */
		Py_ssize_t n;
		const char *utf8 = PyUnicode_AsUTF8AndSize(text, &n);
		if (utf8 == NULL)
			PyErr_Clear(); /* lone surrogates: no UTF-8, escaped below */
		else if (lp_text_is_terminal_safe(utf8, (size_t)n,
						  multiline ? LP_TEXT_MULTILINE : 0)) {
			Py_INCREF(text);
			return text;
		}
		if (str_to_escapable_utf8(text, &in, &len) < 0)
			return NULL;
		rc = lp_text_terminal_safe(&safe, in, len, multiline ? LP_TEXT_MULTILINE : 0);
		PyMem_Free(in);
	} else if (PyBytes_Check(text)) {
		rc = lp_text_terminal_safe(&safe, PyBytes_AsString(text),
					   (size_t)PyBytes_Size(text),
					   multiline ? LP_TEXT_MULTILINE : 0);
	} else {
		PyErr_SetString(PyExc_TypeError, "terminal_safe() takes a str or bytes");
		return NULL;
	}
	if (rc != LP_OK)
		return raise_lp(st, rc);
	/* the result is valid UTF-8: every invalid byte was escaped */
	r = PyUnicode_DecodeUTF8(safe, (Py_ssize_t)strlen(safe), "strict");
	free(safe);
	return r;
}

/* A str as bytes for the shell: the filesystem encoding with
 * surrogateescape (a path from os.listdir() quotes back to its bytes). */
static PyObject *mod_shell_quote(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"word", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *word, *holder = NULL, *r;
	const char *w;
	char *quoted = NULL;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:shell_quote", kwlist, &word))
		return NULL;
	if (!PyUnicode_Check(word)) {
		PyErr_SetString(PyExc_TypeError, "shell_quote() takes a str");
		return NULL;
	}
	if (fspath_opt(word, &holder, &w) < 0)
		return NULL; /* ValueError for an embedded NUL */
	rc = lp_shell_quote(&quoted, w);
	Py_XDECREF(holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	r = PyUnicode_DecodeFSDefault(quoted);
	free(quoted);
	return r;
}

static PyObject *mod_parse_timeout(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"value", "what", NULL};
	PyObject *value;
	const char *what = "timeout";
	double seconds;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|s:parse_timeout", kwlist, &value, &what))
		return NULL;
	if (PyUnicode_Check(value)) {
		const char *text = PyUnicode_AsUTF8AndSize(value, NULL);
		if (text == NULL)
			return NULL;
		rc = lp_timeout_parse(&seconds, text, what);
	} else if (PyFloat_Check(value) || (PyLong_Check(value) && !PyBool_Check(value))) {
		seconds = PyFloat_AsDouble(value);
		if (seconds == -1.0 && PyErr_Occurred())
			return NULL; /* an int too large for a float */
		rc = lp_timeout_check(seconds, what);
	} else {
		return PyErr_Format(PyExc_TypeError,
				    "%s must be a number of seconds (int, float or str)", what);
	}
	if (rc != LP_OK)
		return raise_lp((module_state *)PyModule_GetState(module), rc);
	return PyFloat_FromDouble(seconds);
}

/* -------------------------------------------------- QAMule compatibility */

static PyObject *mod_qamule_prepare_dir(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"result_dir", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *dir_obj, *holder = NULL;
	const char *dir = NULL;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:qamule_prepare_dir", kwlist, &dir_obj))
		return NULL;
	if (dir_obj == Py_None)
		return raise_code_message(st, LP_EINVAL,
					  "qamule_prepare_dir() needs a result directory");
	if (fspath_opt(dir_obj, &holder, &dir) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = lp_qamule_dir_prepare(dir);
	Py_END_ALLOW_THREADS Py_XDECREF(holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	Py_RETURN_NONE;
}

static PyObject *mod_qamule_request(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"result_dir", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *dir_obj, *holder = NULL, *path_obj, *r;
	const char *dir = NULL;
	char request_id[LP_QAMULE_REQUEST_ID_LEN + 1];
	char *path = NULL;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:qamule_request", kwlist, &dir_obj))
		return NULL;
	if (dir_obj == Py_None)
		return raise_code_message(st, LP_EINVAL,
					  "qamule_request() needs a result directory");
	if (fspath_opt(dir_obj, &holder, &dir) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = lp_qamule_request_new(dir, request_id, &path);
	Py_END_ALLOW_THREADS Py_XDECREF(holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	path_obj = path_or_none(path);
	free(path);
	if (path_obj == NULL)
		return NULL;
	r = Py_BuildValue("(sN)", request_id, path_obj);
	return r;
}

/* The payload of a result, as Python objects: the runtime validated the
 * file and re-serialised it; json.loads() only maps that text to objects. */
static PyObject *payload_to_object(const char *payload_json)
{
	PyObject *json, *obj;

	if (payload_json == NULL)
		Py_RETURN_NONE;
	json = PyImport_ImportModule("json");
	if (json == NULL)
		return NULL;
	obj = PyObject_CallMethod(json, "loads", "s", payload_json);
	Py_DECREF(json);
	return obj;
}

static PyObject *mod_qamule_read_result(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"path", "kind", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *path_obj, *holder = NULL, *d = NULL;
	const char *path = NULL, *kind_name;
	lp_qamule_result res;
	lp_kind kind;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os:qamule_read_result", kwlist, &path_obj,
					 &kind_name))
		return NULL;
	if (kind_from_str(st, kind_name, &kind) < 0)
		return NULL;
	if (path_obj == Py_None)
		return raise_code_message(st, LP_EINVAL,
					  "qamule_read_result() needs the result path");
	if (fspath_opt(path_obj, &holder, &path) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = lp_qamule_result_read(path, kind, &res);
	Py_END_ALLOW_THREADS Py_XDECREF(holder);
	if (rc < 0)
		return raise_lp(st, rc);

	d = PyDict_New();
	if (d == NULL)
		goto done;
	RESULT_PUT(status, text_or_none(lp_qamule_status_name(res.status)));
	RESULT_PUT(message, text_or_none(res.message));
	RESULT_PUT(result, result_object(res.result));
	RESULT_PUT(reason, text_or_none(res.reason));
	RESULT_PUT(payload, payload_to_object(res.payload_json));
done:
	lp_qamule_result_clear(&res);
	return d;
}

static PyObject *mod_attachments_fit(PyObject *mod, PyObject *seq)
{
	lp_attachment *list;
	size_t n, fit;
	char *why = NULL;
	PyObject *r;

	(void)mod;
	if (attachments_from_seq(seq, &list, &n) < 0)
		return NULL;
	fit = lp_attachments_fit(list, n, &why);
	PyMem_Free(list);
	PyObject *w = text_or_none(why);
	free(why);
	if (w == NULL)
		return NULL;
	r = Py_BuildValue("(nN)", (Py_ssize_t)fit, w);
	return r;
}

static PyObject *mod_qamule_event_line(PyObject *module, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"request", "details", "timeout", NULL};
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *req_obj, *r;
	text_arg details = {NULL, NULL};
	double timeout;
	char *line = NULL;
	qreq q;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO&d:qamule_event_line", kwlist, &req_obj,
					 text_arg_conv, &details, &timeout)) {
		Py_XDECREF(details.holder);
		return NULL;
	}
	if (qreq_from(st, req_obj, &q) < 0) {
		Py_XDECREF(details.holder);
		return NULL;
	}
	rc = lp_qamule_event_line(&line, &q.req, details.s, timeout);
	qreq_release(&q);
	Py_XDECREF(details.holder);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	r = text_or_none(line);
	free(line);
	return r;
}

static PyObject *mod_qamule_pause_fields(PyObject *module, PyObject *req_obj)
{
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *r;
	char *fields = NULL;
	qreq q;
	int rc;

	if (qreq_from(st, req_obj, &q) < 0)
		return NULL;
	rc = lp_qamule_pause_fields(&fields, &q.req);
	qreq_release(&q);
	if (rc != LP_OK)
		return raise_lp(st, rc);
	r = text_or_none(fields);
	free(fields);
	return r;
}

static PyMethodDef module_methods[] = {
	{"attachments_fit", mod_attachments_fit, METH_O,
	 "attachments_fit(attachments, /)\n--\n\n"
	 "How many of the first attachments (dicts of Run.attach()) fit one "
	 "pause (32 files, 256 MiB): (count, why), why None when all fit, else "
	 "the cap the next one breaks."},
	{"notify_spawn", (PyCFunction)(void (*)(void))mod_notify_spawn,
	 METH_VARARGS | METH_KEYWORDS,
	 "notify_spawn(argv, pause_id, kind, nodeid, run_id, pause_dir, bound)\n--\n\n"
	 "--pause-notify: start argv (no shell; argv[0] looked up on PATH) with\n"
	 "PYTEST_LIVE_PAUSE_ID, _KIND, _NODEID, _RUN_ID and _DIR in its\n"
	 "environment, and return a Notify at once; the runtime kills it after\n"
	 "bound seconds and reaps it. InvalidArgumentError (one line) for a\n"
	 "command that cannot be run."},
	{"default_pause_dir", (PyCFunction)(void (*)(void))mod_default_pause_dir,
	 METH_VARARGS | METH_KEYWORDS,
	 "default_pause_dir(explicit=None)\n--\n\n"
	 "The pause directory: explicit if given, else $PYTEST_LIVE_PAUSE_DIR,\n"
	 "else <temp>/pytest-live-pause (<temp>: $TMPDIR, $TEMP, $TMP, /tmp,\n"
	 "as tempfile.gettempdir()), or <temp>/pytest-live-pause-<uid> when\n"
	 "that one belongs to another user."},
	{"storable_text", mod_storable_text, METH_O,
	 "storable_text(text, /)\n--\n\n"
	 "text as the runtime stores it: a NUL becomes \\x00, a surrogate of\n"
	 "surrogateescape (U+DC80..U+DCFF) the \\xNN of its byte, any other\n"
	 "lone surrogate \\uXXXX; never raises for a str. Every text argument\n"
	 "of Run.pause() and Run.event() is converted so."},
	{"validate_id", (PyCFunction)(void (*)(void))mod_validate_id, METH_VARARGS | METH_KEYWORDS,
	 "validate_id(id, what='id')\n--\n\n"
	 "Raise InvalidArgumentError unless id is 1..64 bytes of\n"
	 "[A-Za-z0-9._-] and not '.' or '..'; what names it in the message."},
	{"terminal_safe", (PyCFunction)(void (*)(void))mod_terminal_safe,
	 METH_VARARGS | METH_KEYWORDS,
	 "terminal_safe(text, multiline=False)\n--\n\n"
	 "text (str or bytes) made safe to print on a terminal: TAB, LF, CR as\n"
	 "\\t \\n \\r (TAB and LF kept with multiline=True); other C0 controls,\n"
	 "DEL and invalid UTF-8 bytes (surrogateescape'd ones too) as \\xHH; C1\n"
	 "controls, U+2028, U+2029, bidirectional controls and other lone\n"
	 "surrogates as \\uHHHH. Never raises for its content (NUL included)."},
	{"shell_quote", (PyCFunction)(void (*)(void))mod_shell_quote, METH_VARARGS | METH_KEYWORDS,
	 "shell_quote(word)\n--\n\n"
	 "word quoted for a POSIX shell: unchanged when only [A-Za-z0-9@%+:,./_-],\n"
	 "else in single quotes with each ' as '\\''. ValueError for a NUL."},
	{"parse_timeout", (PyCFunction)(void (*)(void))mod_parse_timeout,
	 METH_VARARGS | METH_KEYWORDS,
	 "parse_timeout(value, what='timeout')\n--\n\n"
	 "The runtime's rule for a pause timeout: value (a str such as '300',\n"
	 "'0' or 'inf', or a number) as seconds, a float from 0 (times out at\n"
	 "once) to 1e9, or inf (waits until resumed). Raises\n"
	 "InvalidArgumentError (one line, naming what) otherwise."},
	{"qamule_prepare_dir", (PyCFunction)(void (*)(void))mod_qamule_prepare_dir,
	 METH_VARARGS | METH_KEYWORDS,
	 "qamule_prepare_dir(result_dir)\n--\n\n"
	 "Create the QAMule result directory (0700) if missing and verify it:\n"
	 "UnsafeDirectoryError, naming the fix, for a symlink, another user's\n"
	 "directory, one writable by group or others, or one open to them in\n"
	 "a world-writable parent such as /tmp."},
	{"qamule_request", (PyCFunction)(void (*)(void))mod_qamule_request,
	 METH_VARARGS | METH_KEYWORDS,
	 "qamule_request(result_dir)\n--\n\n"
	 "Prepare a QAMule pause request: qamule_prepare_dir(result_dir), then\n"
	 "return (request_id, result_path), a fresh 32-hex-digit id and\n"
	 "'<result_dir>/<request_id>.json'."},
	{"qamule_event_line", (PyCFunction)(void (*)(void))mod_qamule_event_line,
	 METH_VARARGS | METH_KEYWORDS,
	 "qamule_event_line(request, details, timeout)\n--\n\n"
	 "The QAMULE_PAUSE_EVENT line announcing the pause of request (kind,\n"
	 "nodeid, request_id, result_path, signal_name, pid): details is the\n"
	 "task or the failure text, timeout its seconds (inf: none)."},
	{"qamule_pause_fields", mod_qamule_pause_fields, METH_O,
	 "qamule_pause_fields(request, /)\n--\n\n"
	 "The JSON fields a QAMule-mode pause adds to its pause file (the\n"
	 "extra_json of Run.pause())."},
	{"qamule_read_result", (PyCFunction)(void (*)(void))mod_qamule_read_result,
	 METH_VARARGS | METH_KEYWORDS,
	 "qamule_read_result(path, kind)\n--\n\n"
	 "Read the QAMule result file at path for a 'failure' or 'checkpoint'\n"
	 "pause, with QAMule's rules (a verified directory, no symlink, a\n"
	 "regular file of this user, size-capped, strict JSON object; checkpoints: a boolean 'result', an\n"
	 "optional string 'reason', nothing else). Returns a dict: status\n"
	 "('ok', 'missing_result', 'invalid_result'), message (why, or None),\n"
	 "result and reason (checkpoints), payload (the object, when ok).\n"
	 "The file is consumed: removed once read."},
	{NULL, NULL, 0, NULL},
};

/* ----------------------------------------------------------- module */

static PyObject *new_exception(PyObject *module, const char *name, const char *doc, PyObject *base)
{
	PyObject *dict, *exc;

	dict = Py_BuildValue("{s:O}", "code", Py_None);
	if (dict == NULL)
		return NULL;
	exc = PyErr_NewExceptionWithDoc(name, doc, base, dict);
	Py_DECREF(dict);
	if (exc == NULL)
		return NULL;
	if (PyModule_AddObjectRef(module, strrchr(name, '.') + 1, exc) < 0) {
		Py_DECREF(exc);
		return NULL;
	}
	return exc;
}

static PyTypeObject *new_type(PyObject *module, PyType_Spec *spec)
{
	PyTypeObject *tp;

	tp = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
	if (tp == NULL)
		return NULL;
	if (PyModule_AddType(module, tp) < 0) {
		Py_DECREF(tp);
		return NULL;
	}
	return tp;
}

static int module_exec(PyObject *module)
{
	module_state *st = (module_state *)PyModule_GetState(module);
	PyObject *bases;

	st->LivePauseError =
		new_exception(module, MODULE_NAME ".LivePauseError",
			      "An error of the pytest-live-pause runtime; `code` names it "
			      "(e.g. 'LP_ESTALE').",
			      NULL);
	if (st->LivePauseError == NULL)
		return -1;
	st->UnsafeDirectoryError = new_exception(
		module, MODULE_NAME ".UnsafeDirectoryError",
		"The pause directory is not safe to use (LP_EUNSAFE).", st->LivePauseError);
	if (st->UnsafeDirectoryError == NULL)
		return -1;
	st->PauseNotFoundError =
		new_exception(module, MODULE_NAME ".PauseNotFoundError",
			      "No such pause or run (LP_ENOTFOUND).", st->LivePauseError);
	if (st->PauseNotFoundError == NULL)
		return -1;
	bases = PyTuple_Pack(2, st->LivePauseError, PyExc_ValueError);
	if (bases == NULL)
		return -1;
	st->InvalidArgumentError = new_exception(module, MODULE_NAME ".InvalidArgumentError",
						 "A bad argument: id, option value or combination "
						 "(LP_EINVAL, LP_EKIND).",
						 bases);
	Py_DECREF(bases);
	if (st->InvalidArgumentError == NULL)
		return -1;

	if ((st->StoreType = new_type(module, &Store_spec)) == NULL)
		return -1;
	if ((st->RunType = new_type(module, &Run_spec)) == NULL)
		return -1;
	if ((st->PauseType = new_type(module, &Pause_spec)) == NULL)
		return -1;
	PyObject *signal_mod = PyImport_ImportModule("signal");
	if (signal_mod == NULL)
		return -1;
	st->set_wakeup_fd = PyObject_GetAttrString(signal_mod, "set_wakeup_fd");
	Py_DECREF(signal_mod);
	if (st->set_wakeup_fd == NULL)
		return -1;
	if ((st->NotifyType = new_type(module, &Notify_spec)) == NULL)
		return -1;
	static const char *const keys[RK_COUNT] = {
#define RK_NAME(k) #k,
		RESULT_KEYS(RK_NAME)
#undef RK_NAME
	};
	for (int k = 0; k < RK_COUNT; k++)
		if ((st->keys[k] = PyUnicode_InternFromString(keys[k])) == NULL)
			return -1;

	if (PyModule_AddStringConstant(module, "VERSION", LP_VERSION) < 0 ||
	    PyModule_AddIntConstant(module, "PROTOCOL_VERSION", LP_PROTOCOL_VERSION) < 0 ||
	    PyModule_AddStringConstant(module, "DEFAULT_PAUSE_DIR", LP_DEFAULT_DIR) < 0 ||
	    PyModule_AddStringConstant(module, "ENV_PAUSE_DIR", LP_ENV_DIR) < 0 ||
	    PyModule_AddIntConstant(module, "ID_MAX", LP_ID_MAX) < 0 ||
	    PyModule_AddIntConstant(module, "ATTACH_SIZE_DEFAULT", (long)LP_ATTACH_SIZE_DEFAULT) <
		    0 ||
	    PyModule_AddIntConstant(module, "QAMULE_RESULT_CAP", LP_QAMULE_RESULT_CAP) < 0 ||
	    PyModule_AddIntConstant(module, "REQUEST_OUTPUT_CAP", LP_REQUEST_OUTPUT_CAP) < 0)
		return -1;
	return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
	module_state *st = (module_state *)PyModule_GetState(module);
	if (st == NULL)
		return 0;
	Py_VISIT(st->LivePauseError);
	Py_VISIT(st->UnsafeDirectoryError);
	Py_VISIT(st->PauseNotFoundError);
	Py_VISIT(st->InvalidArgumentError);
	Py_VISIT(st->StoreType);
	Py_VISIT(st->RunType);
	Py_VISIT(st->PauseType);
	Py_VISIT(st->set_wakeup_fd);
	Py_VISIT(st->NotifyType);
	for (int k = 0; k < RK_COUNT; k++)
		Py_VISIT(st->keys[k]);
	return 0;
}

static int module_clear(PyObject *module)
{
	module_state *st = (module_state *)PyModule_GetState(module);
	if (st == NULL)
		return 0;
	Py_CLEAR(st->LivePauseError);
	Py_CLEAR(st->UnsafeDirectoryError);
	Py_CLEAR(st->PauseNotFoundError);
	Py_CLEAR(st->InvalidArgumentError);
	Py_CLEAR(st->StoreType);
	Py_CLEAR(st->RunType);
	Py_CLEAR(st->PauseType);
	Py_CLEAR(st->set_wakeup_fd);
	Py_CLEAR(st->NotifyType);
	for (int k = 0; k < RK_COUNT; k++)
		Py_CLEAR(st->keys[k]);
	return 0;
}

static void module_free(void *module)
{
	(void)module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
	{Py_mod_exec, (void *)module_exec},
	{0, NULL},
};

PyDoc_STRVAR(module_doc,
	     "CPython binding of liblivepause, the pytest-live-pause runtime.\n\n"
	     "Store opens a pause directory, Run is one pytest session in it, Pause is\n"
	     "one pending pause. Every file of the pause directory is read and written\n"
	     "by the runtime; this module only maps calls and errors.");

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,          .m_name = MODULE_NAME,       .m_doc = module_doc,
	.m_size = sizeof(module_state), .m_methods = module_methods, .m_slots = module_slots,
	.m_traverse = module_traverse,  .m_clear = module_clear,     .m_free = module_free,
};

PyMODINIT_FUNC PyInit__livepause(void)
{
	return PyModuleDef_Init(&module_def);
}
