"""An abort command ended a pause: the test's outcome, and the run stops.

The runtime decided (the claim: an ``abort`` command of another process
was taken) and recorded it for every process of the run before the pause
file was final (``runs/<run_id>/aborted.json``, read by
``lp_run_aborted``). This module puts that
decision where pytest sees it:

- a failure pause: the report is kept, with ``aborted: <reason>`` in its
  ``live pause`` section and the --junitxml property ``live_pause_aborted``;
- a checkpoint or question: :class:`pytest_live_pause.Aborted` is raised;
- either way ``session.shouldstop`` is set (in an xdist worker too, which
  is how xdist stops the controller: exit status 2), every other worker
  checks the run before each test it starts, and the controller (or the
  only process) prints ``live-pause: run aborted at <nodeid>: <reason>``.

Pure pytest glue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import Aborted
from pytest_live_pause._livepause import terminal_safe
from pytest_live_pause._terminal import one_line

if TYPE_CHECKING:
    from pytest_live_pause._pausing import Ended
    from pytest_live_pause._session import LivePauseSession


def was_aborted(ended: Ended) -> bool:
    """The pause was ended by an abort command (from another process: the
    process's own Ctrl-C/SIGTERM fallback raises instead of returning)."""
    return ended.resolution["outcome"] == "aborted"


def message(nodeid: str, reason: str | None) -> str:
    """The line pytest prints last (terminal-safe)."""
    why = one_line(reason) if reason else "no reason given"
    return f"live-pause: run aborted at {terminal_safe(nodeid)}: {terminal_safe(why)}"


def stop_run(s: LivePauseSession, ended: Ended, nodeid: str) -> None:
    """Stop this process's session. The runtime recorded the abort for the
    whole run when it took the command (before `abort` returned)."""
    reason = ended.resolution["reason"]
    s.stopped = True
    session = _pytest_session(s)
    if session is not None:
        session.shouldstop = message(nodeid, reason)


def stopped(s: LivePauseSession) -> bool:
    """This process's run was stopped by an abort: a test that fails now
    (with Aborted, or after catching it) does not pause again."""
    return s.stopped


def failure_aborted(item: pytest.Item, report: pytest.TestReport, ended: Ended,
                    s: LivePauseSession) -> None:
    """A failure pause was aborted: the failure report is kept, with why."""
    reason = ended.resolution["reason"]
    text = f"aborted: {reason if reason else 'no reason given'}"
    report.sections.append(("live pause", text))
    report.user_properties.append(("live_pause_aborted", reason or ""))
    item.user_properties.append(("live_pause_aborted", reason or ""))
    stop_run(s, ended, report.nodeid)


def raise_aborted(s: LivePauseSession, ended: Ended, nodeid: str) -> None:
    """A checkpoint or question was aborted: the test fails with the reason."""
    __tracebackhide__ = True
    stop_run(s, ended, nodeid)
    raise Aborted(ended.resolution["reason"], ended.pause_id)


def _pytest_session(s: LivePauseSession) -> pytest.Session | None:
    item = s.current_item
    if item is not None:
        return item.session
    return s.pytest_session


def _stop_traceback(message: str) -> Any:
    """A traceback of one frame (of this module) raising what pytest raises
    when an abort stopped the session."""
    try:
        raise pytest.Session.Interrupted(message)
    except pytest.Session.Interrupted as exc:
        return exc.__traceback__


def short_traceback(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Called by the plugin's pytest_keyboard_interrupt wrapper after an
    abort stopped the session. pytest's run loop raises session.shouldstop
    as Session.Interrupted, and its terminal reporter then formats that
    whole traceback with each frame's arguments (parsing the whole source
    of every pytest and pluggy frame: hundreds of ms) only to print its
    message. It is given the traceback of one frame of this small module
    instead (the message is the exception's)."""
    if isinstance(excinfo.value, pytest.Session.Interrupted):
        tb = _stop_traceback(str(excinfo.value))
        excinfo.traceback = type(excinfo.traceback)(tb)  # the same message


class WorkerAbortHooks:
    """In an xdist worker: start no test once the run was aborted, by this
    worker or another (one fstatat per test, in workers only)."""

    def __init__(self, s: LivePauseSession) -> None:
        self._s = s

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        stopped = self._s.run.aborted()
        if stopped is None:
            return None
        item.session.shouldstop = message(*stopped)
        return True  # the test does not start


def register_worker(config: pytest.Config, s: LivePauseSession) -> None:
    """Wire the worker's check (the plugin's per-session hooks keep the
    pytest session, shorten the Interrupted traceback and print the last
    line, in every process)."""
    config.pluginmanager.register(WorkerAbortHooks(s), "live_pause_abort")
