"""pytest-live-pause: the pytest adapter (entry point ``pytest11: live_pause``).

The only pytest-aware code of the project, and a thin one: it reads the
options, starts (or, in an xdist worker, joins) the run, pauses at a
call-phase failure or a checkpoint, prints what the person or agent needs,
and puts the verdict into the report. Every file of the pause directory is
written, read and waited on by the C runtime through ``_livepause``.

Options (each also an ini key; precedence: command line > environment
variable (only ``PYTEST_LIVE_PAUSE_DIR``, for the directory) > ini > default):

  --pause-on-failure                 ini pause_on_failure        off
  --pause-timeout SECONDS            ini pause_timeout           300 (0: forever)
  --pause-dir DIR                    ini pause_dir               /tmp/pytest-live-pause
  --pause-checkpoint-mock true|false|none
                                     ini pause_checkpoint_mock   not mocked
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import pytest_live_pause as _pkg
from pytest_live_pause import Decision, _livepause
from pytest_live_pause._livepause import LivePauseError

if TYPE_CHECKING:
    from pytest_live_pause._livepause import Pause, Run, Store
    from pytest_live_pause._livepause import _Resolution as Resolution

DEFAULT_TIMEOUT = 300.0  # 0.1.1's default
SEP = "=" * 60
_MOCK_VALUES = {"true": True, "false": False, "none": None}
_NOT_MOCKED = object()


# --------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    env = _livepause.ENV_PAUSE_DIR
    default_dir = _livepause.DEFAULT_PAUSE_DIR
    group = parser.getgroup(
        "live-pause",
        "live-pause (pause a live test before teardown or at checkpoint(), "
        "resume the same process with `pytest-live-pause resume <pause_id>`; "
        "the run_id printed at start feeds `pytest-live-pause watch --run-id "
        "<run_id>`)",
    )
    group.addoption(
        "--pause-on-failure",
        action="store_true",
        default=None,
        dest="pause_on_failure",
        help="When a test's call phase fails, pause before its teardown: print "
        "'PAUSED (failure): <nodeid>', the pause_id and the resume command, then "
        "wait for `pytest-live-pause resume <pause_id> [--failure-reason TEXT]` "
        "(the reason is added to the failure report and to --junitxml) or for "
        "--pause-timeout. Ctrl-C or SIGTERM aborts the pause. Precedence: "
        "command line > ini pause_on_failure > off (an ini true is turned off "
        "with -o pause_on_failure=false).",
    )
    group.addoption(
        "--pause-timeout",
        action="store",
        default=None,
        dest="pause_timeout",
        metavar="SECONDS",
        help="Seconds a pause (failure or checkpoint) waits for a resume "
        "command before it resumes by itself: a failure without a reason, a "
        "checkpoint with result None (outcome timed_out). A number >= 0; 0 "
        "waits forever. checkpoint(timeout=...) overrides it per call. "
        f"Precedence: command line > ini pause_timeout > {DEFAULT_TIMEOUT:g}.",
    )
    group.addoption(
        "--pause-dir",
        action="store",
        default=None,
        dest="pause_dir",
        metavar="DIR",
        help="Pause directory shared with the pytest-live-pause CLI (give it "
        "the same --pause-dir). Created with mode 0700; a symlink, a directory "
        "of another user or one writable by group/others is refused at start. "
        f"Precedence: command line > ${env} > ini pause_dir (relative to the "
        f"ini file) > {default_dir}. Write --pause-dir=DIR: pytest takes a "
        "separate existing DIR for a test path when it picks the rootdir.",
    )
    group.addoption(
        "--pause-checkpoint-mock",
        action="store",
        default=None,
        dest="pause_checkpoint_mock",
        metavar="true|false|none",
        help="Do not pause at checkpoints: checkpoint() and "
        "live_pause.checkpoint() return at once Decision(result=<this value>, "
        "reason='Mock', outcome='mocked'), for smoke runs in CI. Unmocked, a "
        "checkpoint prints 'PAUSED (checkpoint): <nodeid>' and its task and "
        "waits for `pytest-live-pause resume <pause_id> --result "
        "true|false|none [--reason TEXT]`. Precedence: command line > ini "
        "pause_checkpoint_mock > not mocked.",
    )
    parser.addini(
        "pause_on_failure",
        type="bool",
        default=False,
        help="Pause after a call-phase failure, before teardown (like "
        "--pause-on-failure, which takes precedence). Default false.",
    )
    parser.addini(
        "pause_timeout",
        type="string",
        default="",
        help="Seconds a pause waits for a resume command, >= 0, 0 forever "
        f"(--pause-timeout takes precedence). Default {DEFAULT_TIMEOUT:g}.",
    )
    parser.addini(
        "pause_dir",
        type="string",
        default="",
        help="Pause directory, relative to the ini file (--pause-dir and "
        f"${env} take precedence). Default {default_dir}.",
    )
    parser.addini(
        "pause_checkpoint_mock",
        type="string",
        default="",
        help="true|false|none: checkpoints return at once with this result "
        "(--pause-checkpoint-mock takes precedence). Default: not mocked.",
    )


@dataclass(frozen=True)
class Settings:
    """The options of a session, resolved by their precedence."""

    pause_on_failure: bool
    timeout: float
    pause_dir: str
    mock: Any  # True, False, None, or _NOT_MOCKED


def _parse_timeout(value: object, source: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise pytest.UsageError(
            f"{source} must be a number of seconds >= 0 (0 waits forever), "
            f"not {value!r}"
        )
    return seconds


def _parse_mock(value: str, source: str) -> Any:
    key = value.strip().lower()
    if key not in _MOCK_VALUES:
        raise pytest.UsageError(
            f"{source} must be one of true, false, none, not {value!r}"
        )
    return _MOCK_VALUES[key]


def _resolve_pause_dir(config: pytest.Config) -> str:
    cli: str | None = config.getoption("pause_dir")
    if cli is not None:
        if not cli.strip():
            raise pytest.UsageError("--pause-dir must not be empty")
        return os.path.abspath(os.path.expanduser(cli))
    env = os.environ.get(_livepause.ENV_PAUSE_DIR)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    ini = str(config.getini("pause_dir")).strip()
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return os.path.join(str(base), os.path.expanduser(ini))
    return _livepause.default_pause_dir(None)


def read_settings(config: pytest.Config) -> Settings:
    """Resolve every option: command line > environment > ini > default."""
    cli_pof = config.getoption("pause_on_failure")
    pause_on_failure = bool(
        cli_pof if cli_pof is not None else config.getini("pause_on_failure")
    )

    cli_timeout = config.getoption("pause_timeout")
    if cli_timeout is not None:
        timeout = _parse_timeout(cli_timeout, "--pause-timeout")
    else:
        ini_timeout = str(config.getini("pause_timeout")).strip()
        timeout = (
            _parse_timeout(ini_timeout, "ini option pause_timeout")
            if ini_timeout
            else DEFAULT_TIMEOUT
        )

    cli_mock = config.getoption("pause_checkpoint_mock")
    if cli_mock is not None:
        mock = _parse_mock(cli_mock, "--pause-checkpoint-mock")
    else:
        ini_mock = str(config.getini("pause_checkpoint_mock")).strip()
        mock = (
            _parse_mock(ini_mock, "ini option pause_checkpoint_mock")
            if ini_mock
            else _NOT_MOCKED
        )

    return Settings(pause_on_failure, timeout, _resolve_pause_dir(config), mock)


# ------------------------------------------------------------- terminal


def _format_timeout(seconds: float) -> str:
    if seconds <= 0:
        return "no timeout"
    if seconds == int(seconds) and seconds < 1e15:
        return f"timeout: {int(seconds)}s"
    return f"timeout: {seconds}s"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Terminal:
    """Writes lines where the person sees them, even while output is
    captured. An xdist worker's stdout goes nowhere (execnet points it at
    /dev/null) but its stderr is the controller's, so workers write there."""

    def __init__(self, config: pytest.Config, is_worker: bool) -> None:
        self._config = config
        self._is_worker = is_worker

    @contextlib.contextmanager
    def uncaptured(self) -> Iterator[None]:
        capman = self._config.pluginmanager.getplugin("capturemanager")
        if capman is None:
            yield
            return
        with capman.global_and_fixture_disabled():
            yield

    def lines(self, lines: Sequence[str]) -> None:
        tr = self._config.pluginmanager.getplugin("terminalreporter")
        if tr is not None and not self._is_worker:
            # Under -q the progress letters are not tracked as a started
            # line (ensure_newline() does not see them): end it ourselves.
            writer = getattr(tr, "_tw", None)
            if getattr(writer, "width_of_current_line", 0):
                tr.write("\n")
                tr.currentfspath = None
            for line in lines:
                tr.write_line(line)
            tr.flush()
        else:
            # One write, so that blocks of several workers do not interleave.
            out = sys.stderr if self._is_worker else sys.stdout
            text = "".join(f"{line}\n" for line in lines)
            out.flush()
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                buffer.write(text.encode(out.encoding or "utf-8", "backslashreplace"))
                buffer.flush()
            else:
                out.write(text)
                out.flush()


# -------------------------------------------------------------- signals


class _Terminated(SystemExit):
    """SIGTERM arrived while a test was paused."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While paused (main thread only), make SIGTERM raise _Terminated so
    that the pause is claimed as aborted; the previous handler comes back
    afterwards. A handler installed outside Python cannot be restored, so it
    is left alone."""
    installed = False
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not None:

            def on_sigterm(signum: int, frame: object) -> None:
                raise _Terminated(128 + signum)

            try:
                signal.signal(signal.SIGTERM, on_sigterm)
                installed = True
            except (ValueError, OSError):
                installed = False
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous)


def _abort_fields(exc: BaseException) -> dict[str, Any]:
    """The fields of the abort command: the signal that ended the pause."""
    if isinstance(exc, KeyboardInterrupt):
        return {"signal": "SIGINT"}
    if isinstance(exc, _Terminated):
        return {"signal": "SIGTERM"}
    return {"signal": None}


# -------------------------------------------------------------- session


class LivePauseSession:
    """The state of one pytest session (kept in ``config.stash``)."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        store: Store,
        run: Run,
        is_worker: bool,
    ) -> None:
        self.config = config
        self.settings = settings
        self.store = store
        self.run = run
        self.is_worker = is_worker
        self.current_item: pytest.Item | None = None
        self.exitstatus: int | None = None
        self.previous_active: LivePauseSession | None = None
        self.terminal = _Terminal(config, is_worker)
        self.worker_id: str | None = (
            getattr(config, "workerinput", {}).get("workerid") if is_worker else None
        )

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def pause_dir(self) -> str:
        return self.store.path

    # ----- nodeid of the running test

    def current_nodeid(self) -> str:
        item = self.current_item
        if item is not None:
            return item.nodeid
        current = os.environ.get("PYTEST_CURRENT_TEST")
        if current:
            return current.rsplit(" ", 1)[0]
        return "<no test>"

    def _cancel_external_timeout(self) -> None:
        """A pause is meant to last: stop pytest-timeout's timer for the
        test, so that it does not kill the paused process."""
        item = self.current_item
        hook = getattr(self.config.hook, "pytest_timeout_cancel_timer", None)
        if item is not None and hook is not None:
            hook(item=item)

    # ----- the pause itself

    def _wait(
        self,
        pause: Pause,
        kind: str,
        nodeid: str,
        details: Sequence[str],
        timeout: float,
    ) -> Resolution:
        """Print the pause, wait for its end, print how it ended. On an
        exception during the wait (Ctrl-C, SIGTERM, a runtime error) the
        pause is claimed as aborted and the exception re-raised (SIGTERM as
        pytest.exit with status 143)."""
        say = self.terminal.lines
        pause_id = pause.pause_id

        def on_rejected(message: str) -> None:
            say([f"live-pause: rejected command for {pause_id}: {_one_line(message)}"])

        with self.terminal.uncaptured():
            say(
                [
                    # A worker shares the controller's terminal line.
                    *([""] if self.worker_id else []),
                    SEP,
                    f"PAUSED ({kind}): {nodeid}",
                    *details,
                    *([f"worker: {self.worker_id}"] if self.worker_id else []),
                    f"pause_id: {pause_id}",
                    f"pause file: {pause.path}",
                    f"resume: {pause.resume_hint}",
                    _format_timeout(timeout),
                    SEP,
                ]
            )
            with _sigterm_raises():
                try:
                    res = pause.wait(on_rejected=on_rejected)
                except BaseException as exc:
                    self._abort(pause, nodeid, exc)
                    if isinstance(exc, _Terminated):
                        pytest.exit(
                            f"live-pause: SIGTERM while paused at {nodeid}; "
                            f"pause {pause_id} aborted",
                            returncode=int(exc.code or 143),
                        )
                    raise
            lines = [f"RESUMED ({res['outcome']}): {nodeid}"]
            if kind == "checkpoint":
                result = res["result"]
                lines.append(
                    f"result: {'none' if result is None else str(result).lower()}"
                )
                if res["reason"]:
                    lines.append(f"reason: {res['reason']}")
            elif res["failure_reason"]:
                lines.append(f"failure reason: {res['failure_reason']}")
            say(lines)
            self._restore_progress_prefix()
        return res

    def _restore_progress_prefix(self) -> None:
        """Let the test's result letter (or verbose word) that follows go
        after its file name again, as pytest would have written it."""
        item = self.current_item
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        if item is None or tr is None or self.is_worker:
            return
        with contextlib.suppress(Exception):  # cosmetic only
            tr.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)

    def _abort(self, pause: Pause, nodeid: str, exc: BaseException) -> None:
        fields = json.dumps(_abort_fields(exc))
        try:
            try:
                res = pause.claim("abort", fields)
            except LivePauseError:  # fields refused: abort all the same
                res = pause.claim("abort", None)
        except Exception as claim_exc:  # noqa: BLE001 - never hide the original exception
            self.terminal.lines(
                [f"live-pause: could not abort pause {pause.pause_id}: {claim_exc}"]
            )
            return
        self.terminal.lines([f"RESUMED ({res['outcome']}): {nodeid}"])

    def pause_failure(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Pause after a call-phase failure; add the resume's failure reason
        to the report."""
        nodeid = report.nodeid
        timeout = self.settings.timeout
        self._cancel_external_timeout()
        try:
            pause = self.run.pause(
                "failure",
                nodeid,
                original_failure=report.longreprtext,
                timeout=timeout,
            )
            res = self._wait(pause, "failure", nodeid, (), timeout)
        except LivePauseError as exc:
            # The test has failed anyway: report the broken pause with it
            # rather than end the whole session with an internal error.
            message = _one_line(str(exc))
            with self.terminal.uncaptured():
                self.terminal.lines(
                    [f"live-pause: pause failed for {nodeid}: {message}"]
                )
                self._restore_progress_prefix()
            _append_to_failure(report, f"pause failed: {message}")
            return
        reason = res["failure_reason"]
        if reason:
            _append_to_failure(report, f"failure reason: {reason}")
            # --junitxml writes the properties of the teardown report, which
            # copies the item's: record it on both.
            prop = ("live_pause_failure_reason", reason)
            report.user_properties.append(prop)
            item.user_properties.append(prop)

    def checkpoint(self, task: str, timeout: float | None = None) -> Decision:
        if not isinstance(task, str):
            raise TypeError(f"task must be a str, not {type(task).__name__}")
        if timeout is None:
            seconds = self.settings.timeout
        else:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(
                    f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
                )
            seconds = float(timeout)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError(
                    f"timeout must be a number of seconds >= 0 (0 waits forever), not {timeout!r}"
                )
        nodeid = self.current_nodeid()
        if self.settings.mock is not _NOT_MOCKED:
            result = self.settings.mock
            self.run.event(
                "checkpoint_mocked",
                json.dumps({"nodeid": nodeid, "task": task, "result": result}),
            )
            return Decision(
                result=result, reason="Mock", outcome="mocked", pause_id=None
            )
        self._cancel_external_timeout()
        pause = self.run.pause("checkpoint", nodeid, task=task, timeout=seconds)
        res = self._wait(pause, "checkpoint", nodeid, [f"task: {task}"], seconds)
        return Decision(
            result=res["result"],
            reason=res["reason"],
            outcome=res["outcome"],
            pause_id=pause.pause_id,
        )


def _append_to_failure(report: pytest.TestReport, text: str) -> None:
    """Show text with the failure, in the terminal summary and --junitxml."""
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        longrepr.addsection("live-pause", text)  # type: ignore[union-attr]
    else:
        report.longrepr = f"{longrepr}\n\nlive-pause {text}"


SESSION_KEY = pytest.StashKey[LivePauseSession]()


def _session(config: pytest.Config) -> LivePauseSession | None:
    return config.stash.get(SESSION_KEY, None)


class LivePause:
    """What the ``live_pause`` fixture gives a test."""

    def __init__(self, session: LivePauseSession) -> None:
        self._session = session

    @property
    def run_id(self) -> str:
        """The run's id, as printed at start and used by `watch --run-id`."""
        return self._session.run_id

    @property
    def pause_dir(self) -> str:
        """The pause directory of the run."""
        return self._session.pause_dir

    def checkpoint(self, task: str, timeout: float | None = None) -> Decision:
        """Same as :func:`pytest_live_pause.checkpoint`."""
        return self._session.checkpoint(task, timeout)

    def __repr__(self) -> str:
        return f"<LivePause run_id={self.run_id!r}>"


# ----------------------------------------------------------------- hooks


class _XdistControllerHooks:
    """Registered on an xdist controller only (the hook exists only with
    xdist): tells each worker the run to join."""

    def __init__(self, session: LivePauseSession) -> None:
        self._session = session

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["live_pause_run_id"] = self._session.run_id
        node.workerinput["live_pause_dir"] = self._session.pause_dir


def _start_run(config: pytest.Config, settings: Settings) -> LivePauseSession:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    pause_dir = settings.pause_dir
    if workerinput is not None and "live_pause_run_id" in workerinput:
        pause_dir = workerinput.get("live_pause_dir", pause_dir)
    try:
        store = _livepause.Store(pause_dir, create=True)
        if workerinput is not None and "live_pause_run_id" in workerinput:
            run = _livepause.Run(
                store,
                workerinput["live_pause_run_id"],
                worker_id=workerinput.get("workerid"),
                join=True,
            )
        else:
            extra = {
                "rootdir": str(config.rootpath),
                "args": [str(a) for a in config.invocation_params.args],
            }
            run = _livepause.Run(
                store,
                cwd=str(config.invocation_params.dir),
                extra_json=json.dumps(extra),
            )
    except LivePauseError as exc:
        message = _one_line(str(exc))
        if pause_dir not in message:
            message = f"{message} (pause directory {pause_dir})"
        raise pytest.UsageError(f"pytest-live-pause: {message}") from None
    return LivePauseSession(
        config, settings, store, run, is_worker=workerinput is not None
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help", False):
        return  # `pytest --help` starts no run
    settings = read_settings(config)
    session = _start_run(config, settings)
    config.stash[SESSION_KEY] = session
    if not session.is_worker and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(
            _XdistControllerHooks(session), "live_pause_xdist"
        )
    session.previous_active = _pkg._activate(session)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = _session(session.config)
    if s is not None:
        s.exitstatus = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    s = _session(config)
    if s is None:
        return
    del config.stash[SESSION_KEY]
    _pkg._deactivate(s, s.previous_active)
    if s.run.joined:
        return
    # No session finished: a later plugin's configure refused the arguments.
    status = (
        s.exitstatus if s.exitstatus is not None else int(pytest.ExitCode.USAGE_ERROR)
    )
    try:
        s.run.end(status)
    except Exception as exc:  # noqa: BLE001 - never fail pytest's shutdown
        sys.stderr.write(f"pytest-live-pause: could not end run {s.run_id}: {exc}\n")


def _run_id_line(s: LivePauseSession) -> str:
    return f"pytest-live-pause: run_id={s.run_id}"


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    s = _session(config)
    if s is None or s.is_worker:
        return None
    return [_run_id_line(s), f"pytest-live-pause: pause_dir={s.pause_dir}"]


def _header_shown(config: pytest.Config) -> bool:
    # The terminal reporter prints report headers only at verbosity >= 0
    # and without --no-header.
    return config.getoption("verbose", 0) >= 0 and not config.getoption(
        "no_header", False
    )


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """Under -q or --no-header the header is not printed: write the run_id
    line anyway (after pytest's own start lines), so that it is always there
    exactly once."""
    result = yield
    s = _session(session.config)
    if s is None or s.is_worker or _header_shown(session.config):
        return result
    tr = session.config.pluginmanager.getplugin("terminalreporter")
    if tr is not None:
        tr.write_line(_run_id_line(s))
        tr.flush()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    s = _session(item.config)
    if s is None:
        return (yield)
    s.current_item = item
    try:
        return (yield)
    finally:
        s.current_item = None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # tryfirst: the outermost wrapper, so it sees the report after xfail
    # handling (an xfailed test is not a failure).
    report = yield
    s = _session(item.config)
    if (
        s is not None
        and s.settings.pause_on_failure
        and report.when == "call"
        and report.failed
    ):
        s.pause_failure(item, report)
    return report


# -------------------------------------------------------------- fixtures


def _require_session(config: pytest.Config) -> LivePauseSession:
    s = _session(config)
    if s is None:
        raise RuntimeError("pytest-live-pause has no active run in this session")
    return s


@pytest.fixture(scope="session")
def live_pause(request: pytest.FixtureRequest) -> LivePause:
    """pytest-live-pause: `.run_id` of this run and `.checkpoint(task,
    timeout=None)`, which pauses the test until `pytest-live-pause resume
    <pause_id> --result true|false|none [--reason TEXT]` and returns a
    Decision(result, reason, outcome, pause_id)."""
    return LivePause(_require_session(request.config))


@pytest.fixture(scope="session")
def pause_run_id(request: pytest.FixtureRequest) -> str:
    """pytest-live-pause: the run_id of this pytest run (as printed at start,
    for `pytest-live-pause watch --run-id <run_id>`)."""
    return _require_session(request.config).run_id


__all__ = [
    "SESSION_KEY",
    "LivePause",
    "LivePauseSession",
    "Settings",
    "read_settings",
]
