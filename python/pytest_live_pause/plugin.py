"""pytest-live-pause: the pytest adapter (entry point ``pytest11: pytest_live_pause``,
0.1.1's name).

The only pytest-aware code of the project, and a thin one: hooks, fixtures
and wiring. The work is elsewhere:

  _options.py   the options table: ``pytest --help``, ini keys, Settings
  _session.py   the session's run and state (imported at start)
  _pausing.py   each pause: begin, print, wait, end (imported at the first pause)
  _outcome.py   where a pause's decision becomes the test's outcome
  _control.py   which failures pause (errors, no_pause, --pause-max), --pause-notify
  _teardown.py  --pause-on-error: pause at a fixture's teardown error, before the rest
  _terminal.py  where and what is printed (PAUSED/RESUMED blocks)
  _timeout.py   pytest-timeout: paused time does not count
  _signals.py   SIGTERM and QAMule's resume signal while paused
  qamule.py     QAMule mode (``--pause-compat=qamule``), imported only then

Every file of the pause directory is written, read and waited on by the C
runtime through ``_livepause``.

Options (each also an ini key; precedence: command line > environment
variable (only ``PYTEST_LIVE_PAUSE_DIR``, for the directory) > ini >
default): see :data:`pytest_live_pause._options.OPTIONS`, or ``pytest
--help``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

import pytest

import pytest_live_pause as _pkg
from pytest_live_pause import _progress
from pytest_live_pause import checkpoint as checkpoint  # 0.1.1 had it here too
from pytest_live_pause._livepause import LivePauseError
from pytest_live_pause._options import NO_PAUSE_HELP, Settings, option_given, read_settings
from pytest_live_pause._options import pytest_addoption as pytest_addoption
from pytest_live_pause._session import (
    AGENT_CHECKPOINT_NEEDS_QAMULE,
    EVAL_EXCINFO,
    OFF_KEY,
    SESSION_KEY,
    LivePause,
    LivePauseSession,
    Off,
    require_session,
    session_of,
    start_error,
    start_run,
)

# Only what a session needs when nothing pauses is imported here: every
# module pytest imports at start costs each run (it loads a plugin's
# modules through its assertion rewriter, about 1.3 k instructions per
# byte of bytecode; docs/performance.md). _pausing, _abort, _attach,
# _control, _eval, _teardown, _terminal and _timeout's pause side are
# imported when a session first needs them.

if TYPE_CHECKING:
    from pytest_live_pause.qamule import CheckpointResult

_session = session_of  # the name of 0.2.0's first releases


# ------------------------------------------------------ per-session hooks


class _CurrentItemHooks:
    """Registered per session (so that a run that is off costs nothing per
    test): keeps ``current_item``, the test being run, from the start of
    its protocol until the next test's (checkpoint() and the pauses use
    it), and pauses at a failed report. Two plain hooks: a plain hook costs
    pluggy a third of a wrapper, and the per-test cost is what the no-pause
    overhead is made of (docs/performance.md)."""

    def __init__(self, session: LivePauseSession) -> None:
        self._session = session
        self._progress = _progress.Clock(session)  # the dashboard's counts

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session.pytest_session = session  # for a checkpoint outside a test

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        self._session.current_item = item

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._session.collected = len(session.items) or -1  # xdist controller: none

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # tryfirst: before the terminal, --junitxml and xdist's worker see
        # the report (a pause's verdict goes into it), and after every
        # makereport wrapper (an xfailed test is not a failure); still
        # before the teardown of a failed call. Three times per test (and,
        # on an xdist controller, for each worker's): the cheap checks first
        # (the attribute, not the property .failed: a call less, each time).
        if report.outcome != "failed":
            if report.when == "teardown" and monotonic() >= self._progress.due:
                self._progress.tick(self._session)  # at most once a second
            return
        s = self._session
        item = s.current_item
        if item is None or item.nodeid != report.nodeid:
            return  # not a test of this process (xdist's controller)
        from pytest_live_pause import _attach, _teardown  # at a failure only

        if report.when == "teardown" and _teardown.settle(item, report, s):
            pass  # it paused at the teardown error itself (--pause-on-error)
        elif s.control.wants(report) and not s.stopped:
            try:
                if s.control.may_pause(item):  # the marker, --pause-max
                    s.pause_failure(item, report)
            except pytest.exit.Exception:  # SIGTERM while paused: pytest.exit
                raise
            except Exception as exc:  # noqa: BLE001 - never an INTERNALERROR
                s.report_broken(item, report, exc)
        _attach.report(item, report)  # every attachment of its pauses

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        # no test runs any more (a checkpoint now belongs to none)
        self._session.current_item = None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        if self._session.stopped:  # an abort stopped the session (_abort)
            from pytest_live_pause import _abort

            _abort.short_traceback(excinfo)
        return (yield)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        try:
            stopped = self._session.run.aborted()  # one fstatat
        except Exception:  # noqa: BLE001 - a summary line only
            return
        if stopped is not None:
            from pytest_live_pause import _abort

            terminalreporter.write_line(_abort.message(*stopped))


class _XdistControllerHooks:
    """Registered on an xdist controller only (the hook exists only with
    xdist): tells each worker the run to join, or that the plugin is off."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_configure_node(self, node: Any) -> None:
        s = session_of(self._config)
        if s is not None:
            node.workerinput["live_pause_run_id"] = s.run_id
            node.workerinput["live_pause_dir"] = s.pause_dir
        else:
            node.workerinput["live_pause_off"] = self._config.stash[OFF_KEY].message


# ----------------------------------------------------------- the session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", NO_PAUSE_HELP)  # in `pytest --markers`
    if config.getoption("help", False):
        return  # `pytest --help` starts no run
    settings = read_settings(config)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    off = workerinput.get("live_pause_off") if workerinput is not None else None
    if off is None:
        try:
            session = start_run(config, settings)
        except LivePauseError as exc:
            off = start_error(exc, settings.pause_dir)
            if workerinput is None and option_given(config):
                raise pytest.UsageError(f"pytest-live-pause: {off}") from None
            config.stash[OFF_KEY] = Off(off, type(exc), getattr(exc, "code", None))
            if workerinput is not None:  # the controller started: say it here
                from pytest_live_pause._terminal import Terminal

                Terminal(config, True).lines([config.stash[OFF_KEY].warning])
    else:
        config.stash[OFF_KEY] = Off(off, LivePauseError, None)
    is_controller = workerinput is None and config.pluginmanager.hasplugin("xdist")
    if OFF_KEY in config.stash:
        _pkg._activate(config.stash[OFF_KEY])  # type: ignore[arg-type]
        if is_controller:
            config.pluginmanager.register(_XdistControllerHooks(config), "live_pause_xdist")
        return
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(_CurrentItemHooks(session), "live_pause_current_item")
    if session.is_worker:  # start no test once another worker aborted the run
        from pytest_live_pause import _abort

        _abort.register_worker(config, session)
    if settings.values["pause_on_error"]:  # pause before the rest of teardown
        from pytest_live_pause import _teardown

        _teardown.register(config, session)
    if session.allow_eval:
        from pytest_live_pause import _eval

        config.pluginmanager.register(_eval.Hooks(EVAL_EXCINFO), "live_pause_eval")
    if is_controller:
        config.pluginmanager.register(_XdistControllerHooks(config), "live_pause_xdist")
    session.previous_active = _pkg._activate(session)
    if session.signal_guard is not None:
        session.signal_guard.install()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = session_of(session.config)
    if s is not None:
        s.exitstatus = int(exitstatus)
        _progress.write(s)  # the final counts


def pytest_unconfigure(config: pytest.Config) -> None:
    off = config.stash.get(OFF_KEY, None)
    if off is not None:
        _pkg._deactivate(off, None)  # type: ignore[arg-type]
    s = session_of(config)
    if s is None:
        return
    del config.stash[SESSION_KEY]
    _pkg._deactivate(s, s.previous_active)
    if s.signal_guard is not None:
        s.signal_guard.uninstall()
    if s.run.joined:
        return
    # No session finished: a later plugin's configure refused the arguments.
    status = s.exitstatus if s.exitstatus is not None else int(pytest.ExitCode.USAGE_ERROR)
    try:
        s.run.end(status)
    except Exception as exc:  # noqa: BLE001 - never fail pytest's shutdown
        sys.stderr.write(f"pytest-live-pause: could not end run {s.run_id}: {exc}\n")


# ------------------------------------------------------------- the header


def _run_id_line(s: LivePauseSession) -> str:
    return f"pytest-live-pause: run_id={s.run_id}"


def _notices(config: pytest.Config) -> list[str]:
    """Lines to show once at start (the controller's): the store's notice
    (default directory tightened or per-user), or why the plugin is off."""
    if getattr(config, "workerinput", None) is not None:
        return []
    off = config.stash.get(OFF_KEY, None)
    if off is not None:
        return [off.warning]
    s = session_of(config)
    notice = s.store.notice if s is not None else None
    return [f"pytest-live-pause: {notice}"] if notice else []


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    s = session_of(config)
    if s is None or s.is_worker:
        return _notices(config) or None
    return [_run_id_line(s), f"pytest-live-pause: pause_dir={s.pause_dir}", *_notices(config)]


def _header_shown(config: pytest.Config) -> bool:
    # The terminal reporter prints report headers only at verbosity >= 0
    # and without --no-header.
    return config.getoption("verbose", 0) >= 0 and not config.getoption("no_header", False)


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """Under -q or --no-header the header is not printed: write the run_id
    line (and the notices) anyway, after pytest's own start lines, so that
    they are always there exactly once."""
    result = yield
    config = session.config
    if getattr(config, "workerinput", None) is not None or _header_shown(config):
        return result
    s = session_of(config)
    lines = [*([_run_id_line(s)] if s is not None else []), *_notices(config)]
    tr = config.pluginmanager.getplugin("terminalreporter")
    if tr is not None and lines:
        for line in lines:
            tr.write_line(line)
        tr.flush()
    return result


# ------------------------------------------------------------- the hooks


class CaptureSpec:
    """The hook a conftest implements to attach evidence automatically
    (called by _attach.Evidence when a pause begins, never before)."""

    @pytest.hookspec
    def pytest_live_pause_capture(self, item: pytest.Item, kind: str) -> Any:
        """Return files to attach to the pause about to begin for ``item``
        (``kind``: ``"failure"`` or ``"checkpoint"``): None, a path
        (str or os.PathLike), or an iterable of paths, e.g. a device
        screenshot and a UI hierarchy dump written just now. Every
        implementation is called; one that raises or takes longer than
        ``--pause-capture-timeout`` seconds is reported and the pause
        happens without its files."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(CaptureSpec)  # pytest_live_pause_capture


# ------------------------------------------------------ pytest-timeout
# The two hooks exist only with pytest-timeout (optionalhook): they watch
# it arm and cancel a test's timer, so that a pause gives the paused time
# back (_timeout.paused).

#: pytest-timeout's timer of an item while it is armed: (its settings,
#: when it was armed, monotonic)
TIMER = pytest.StashKey[tuple[Any, float]]()


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    """Observe pytest-timeout arming a test's timer."""
    item.stash[TIMER] = (settings, time.monotonic())
    return (yield)


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> Any:
    """Observe pytest-timeout cancelling a test's timer."""
    try:
        return (yield)
    finally:
        with contextlib.suppress(KeyError):
            del item.stash[TIMER]


# -------------------------------------------------------------- fixtures


@pytest.fixture
def live_pause(request: pytest.FixtureRequest) -> LivePause:
    """pytest-live-pause: `.run_id` of this run and `.checkpoint(task,
    timeout=None)`, which pauses the test until `pytest-live-pause resume
    <pause_id> --result true|false|none [--reason TEXT]` and returns a
    Decision(result, reason, outcome, pause_id)."""
    return LivePause(require_session(request.config), request.node)


@pytest.fixture(scope="session")
def pause_run_id(request: pytest.FixtureRequest) -> str:
    """pytest-live-pause: the run_id of this pytest run (as printed at start,
    for `pytest-live-pause watch --run-id <run_id>`)."""
    return require_session(request.config).run_id


@pytest.fixture
def agent_checkpoint(request: pytest.FixtureRequest) -> Callable[..., CheckpointResult]:
    """QAMule mode (--pause-compat=qamule): QAMule's checkpoint.
    `agent_checkpoint(task, *, timeout=None)` pauses the test, prints
    QAMule's block and QAMULE_PAUSE_EVENT line, and returns
    CheckpointResult(request_id, outcome, result_path, resume_signal,
    result, reason) once the resume signal arrives (with the JSON result
    {"result": true|false, "reason": "..."} at result_path), or
    `pytest-live-pause resume <pause_id> --result ...` answers, or the
    timeout passes."""
    s = require_session(request.config)
    if s.settings.qamule is None:
        raise RuntimeError(AGENT_CHECKPOINT_NEEDS_QAMULE)
    nodeid = request.node.nodeid

    def checkpoint(task: str, *, timeout: float | None = None) -> CheckpointResult:
        return s.agent_checkpoint(task, timeout, nodeid)

    return checkpoint


__all__ = [
    "SESSION_KEY",
    "LivePause",
    "LivePauseSession",
    "Settings",
    "read_settings",
]
