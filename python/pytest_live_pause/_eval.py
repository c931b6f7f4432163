"""pytest-live-pause: code and named actions in a paused test (``eval``,
``exec``, ``do``).

The pytest glue of requests, and only that: the ``--pause-allow-eval``
option, the registry of named actions (``@pytest_live_pause.action``), and
the handler a pause's wait calls for each request on the waiting thread.
The runtime (lib/request.c) takes the request file, refuses what the pause
does not offer (eval without the option, an unknown action), writes the
answer, caps its texts and logs the event; this module runs the Python and
says how it went.

Importing it does not import pytest (``pytest_live_pause.action`` is used
by conftest files).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_live_pause import _livepause, _signals

if TYPE_CHECKING:
    import pytest

_F = TypeVar("_F", bound=Callable[..., Any])

#: What a handler keeps of each text: one character more than the
#: runtime's cap, so that the runtime sees the cut and marks it.
_KEEP = _livepause.REQUEST_OUTPUT_CAP + 1
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------- named actions

_ACTIONS: dict[str, Callable[..., Any]] = {}


def action(name: str) -> Callable[[_F], _F]:
    """Register a named action, run by ``pytest-live-pause do <pause_id>
    <name> [--arg K=V ...]`` in a paused test::

        @pytest_live_pause.action("screenshot")
        def screenshot(item, **kwargs):
            path = item.funcargs["driver"].save_screenshot(...)
            return pytest_live_pause.ActionResult({"saved": True}, files=[path])

    The function gets the paused pytest item and the ``--arg`` values as
    keyword arguments (strings), and returns JSON-serialisable data, or an
    :class:`ActionResult` with data and files. Actions need no
    ``--pause-allow-eval``: they are code of the test suite. A name is 1 to
    64 characters of ``[A-Za-z0-9._-]``; registering it again replaces it.
    """
    _livepause.validate_id(name, "action name")

    def register(fn: _F) -> _F:
        if not callable(fn):
            raise TypeError(f"action {name!r}: {fn!r} is not callable")
        _ACTIONS[name] = fn
        return fn

    return register


class ActionResult:
    """What an action may return: ``data`` (JSON-serialisable) and
    ``files`` (paths of files it made, reported with the answer)."""

    __slots__ = ("data", "files")

    def __init__(self, data: Any = None, files: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.data = data
        self.files = list(files)

    def __repr__(self) -> str:
        return f"ActionResult(data={self.data!r}, files={self.files!r})"


def action_names() -> list[str]:
    """The names registered so far, in the order of registration."""
    return list(_ACTIONS)


# ------------------------------------------------------------- the option


def addoption(parser: pytest.Parser, group: Any) -> None:
    group.addoption(
        "--pause-allow-eval",
        action="store_true",
        default=None,
        dest="pause_allow_eval",
        help="Let `pytest-live-pause eval <pause_id> EXPR` and `exec <pause_id> "
        "CODE` run Python in a paused test (its frame, fixtures, item and "
        "request), on the paused process's main thread; recorded in run.json. "
        "Off by default (never turned on by an environment variable): without "
        "it they are refused (exit 20). Named actions (`do`) need no opt-in. "
        "Precedence: command line > ini pause_allow_eval > off.",
    )
    parser.addini(
        "pause_allow_eval",
        type="bool",
        default=False,
        help="Let eval and exec run code in paused tests (like "
        "--pause-allow-eval, which takes precedence). Default false.",
    )


def allow_eval(config: pytest.Config) -> bool:
    """--pause-allow-eval, else the ini key pause_allow_eval, else off."""
    cli = config.getoption("pause_allow_eval", None)
    return bool(cli if cli is not None else config.getini("pause_allow_eval"))


# ------------------------------------------- the frame of a failure pause


class Hooks:
    """Registered per session when eval is allowed: keeps the call phase's
    exception of each item (its traceback holds the test function's frame)
    until the item's teardown."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        if call.when == "call" and call.excinfo is not None:
            item.stash[self._key] = call.excinfo

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        with contextlib.suppress(KeyError):
            del item.stash[self._key]


def _failure_frame(item: pytest.Item, excinfo: Any) -> Any:
    """The test function's frame in the failure's traceback: the frame of
    its code, else the deepest one in the test's file."""
    tb = getattr(excinfo, "tb", None)
    code = getattr(getattr(item, "function", None), "__code__", None)
    path = str(getattr(item, "path", ""))
    found = in_file = None
    while tb is not None:
        frame = tb.tb_frame
        if code is not None and frame.f_code is code:
            found = frame
        elif frame.f_code.co_filename == path:
            in_file = frame
        tb = tb.tb_next
    return found or in_file


def _caller_frame() -> Any:
    """The first frame outside this package: the code that called
    checkpoint() (the test, or a helper it called)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(
        os.path.abspath(frame.f_code.co_filename)
    ).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame


def _namespace(item: pytest.Item, frame: Any) -> dict[str, Any]:
    """The names code sees: the frame's globals (else the test module's),
    item and request, the fixtures by name, then the frame's locals."""
    ns: dict[str, Any] = {}
    if frame is not None:
        ns.update(frame.f_globals)
    else:
        module = getattr(item, "module", None)
        ns.update(getattr(module, "__dict__", {}))
    ns["item"] = item
    ns["request"] = getattr(item, "_request", None)
    ns.update(getattr(item, "funcargs", None) or {})
    if frame is not None:
        ns.update(frame.f_locals)
    return ns


# ------------------------------------------------------- running a request


class _Timeout(BaseException):
    """The request's --timeout passed (raised into the running code)."""


class _Capped(io.TextIOBase):
    """sys.stdout / sys.stderr while a request runs: keeps the first _KEEP
    characters of what is written."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._left = _KEEP

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self._left > 0:
            part = s[: self._left]
            self._parts.append(part)
            self._left -= len(part)
        return len(s)

    def getvalue(self) -> str:
        return "".join(self._parts)


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise _Timeout in the code running inside after `seconds`. On the
    main thread by SIGALRM (interrupts loops and blocking calls; raised
    again every 0.1 s if the code swallows it), the previous handler and
    timer restored after; elsewhere by a trace function (Python lines
    only)."""
    armed = True

    def on_alarm(signum: int, frame: Any) -> None:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            raise _Timeout()

    previous = (
        _signals.install(signal.SIGALRM, on_alarm, over_foreign=True)
        if hasattr(signal, "setitimer")
        else _signals.NOT_INSTALLED
    )
    if previous is not _signals.NOT_INSTALLED:  # the main thread
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
        started = time.monotonic()
        try:
            yield
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            _signals.set_handler(signal.SIGALRM, previous)
            if old_delay > 0:  # someone else's timer: the time it had left
                left = max(old_delay - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, old_interval)
        return
    deadline = time.monotonic() + seconds

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _Timeout()
        return tracer

    previous_trace = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def _traceback(exc: BaseException) -> str:
    """The traceback from the first frame of the request's code on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))[: _KEEP]


def _action_answer(result: Any) -> tuple[str, list[str]]:
    data, files = (result.data, result.files) if isinstance(result, ActionResult) else (result, [])
    return json.dumps(data), [os.fspath(f) for f in files]


def handler(
    item: pytest.Item,
    kind: str,
    excinfo: Any,
    passthrough: tuple[type[BaseException], ...],
) -> Callable[[str, str | None, str | None, dict[str, str], float], dict[str, Any]]:
    """The on_request hook of one pause (Pause.wait). Code runs in one
    namespace per pause (see _namespace; made at the first request, so that
    names bound by exec stay for later requests). An exception of the code
    is answered with its traceback; those in `passthrough` (Ctrl-C, the
    plugin's SIGTERM) propagate and end the pause as aborted."""
    ns: dict[str, Any] | None = None

    def on_request(
        type_: str, code: str | None, name: str | None, args: dict[str, str], timeout: float
    ) -> dict[str, Any]:
        nonlocal ns
        answer: dict[str, Any] = {"ok": False, "timed_out": False}
        out, err = _Capped(), _Capped()
        saved = sys.stdout, sys.stderr
        try:
            if type_ != "action" and ns is None:
                frame = _failure_frame(item, excinfo) if kind == "failure" else _caller_frame()
                ns = _namespace(item, frame)
            sys.stdout, sys.stderr = out, err
            with _deadline(timeout):
                if type_ == "action":
                    fn = _ACTIONS[name or ""]
                    answer["data"], answer["files"] = _action_answer(fn(item, **args))
                elif type_ == "eval":
                    value = eval(compile(code or "", "<pytest-live-pause eval>", "eval"), ns)
                    answer["repr"] = repr(value)[:_KEEP]
                else:
                    exec(compile(code or "", "<pytest-live-pause exec>", "exec"), ns)
            answer["ok"] = True
        except passthrough:
            raise
        except _Timeout:
            answer["timed_out"] = True
            answer["error"] = f"stopped after {timeout:g}s (--timeout); the test keeps waiting"
        except BaseException as exc:  # noqa: BLE001 - the code's failure is the answer
            answer["error"] = _traceback(exc)
        finally:
            sys.stdout, sys.stderr = saved
        answer["stdout"] = out.getvalue()
        answer["stderr"] = err.getvalue()
        return answer

    return on_request
