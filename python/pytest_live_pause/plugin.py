"""pytest-live-pause: the pytest adapter (entry point ``pytest11: pytest_live_pause``,
0.1.1's name).

The only pytest-aware code of the project, and a thin one: it reads the
options, starts (or, in an xdist worker, joins) the run, pauses at a
call-phase failure or a checkpoint, prints what the person or agent needs,
and puts the verdict into the report. Every file of the pause directory is
written, read and waited on by the C runtime through ``_livepause``.

Options (each also an ini key; precedence: command line > environment
variable (only ``PYTEST_LIVE_PAUSE_DIR``, for the directory) > ini > default):

  --pause-on-failure                 ini pause_on_failure        off
  --pause-timeout SECONDS            ini pause_timeout           300 (0: at once, inf: forever)
  --pause-dir DIR                    ini pause_dir               /tmp/pytest-live-pause
  --pause-checkpoint-mock true|false|none
                                     ini pause_checkpoint_mock   not mocked
  --pause-compat qamule|none         ini pause_compat            none
  --pause-resume-signal NAME         ini pause_resume_signal     SIGUSR1 (QAMule mode)
  --pause-result-dir DIR             ini pause_result_dir        <temp>/qamule-pauses

In QAMule mode (``--pause-compat=qamule``) every pause also speaks QAMule's
signal protocol; the adapter's share of it is :mod:`pytest_live_pause.qamule`
(the default timeout is then QAMule's 600 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import pytest_live_pause as _pkg
from pytest_live_pause import Decision, _attach, _eval, _livepause
from pytest_live_pause import checkpoint as checkpoint  # 0.1.1 had it here too
from pytest_live_pause._livepause import LivePauseError
from pytest_live_pause._options import NOT_MOCKED, Settings, option_given, read_settings
from pytest_live_pause._options import pytest_addoption as pytest_addoption
from pytest_live_pause._terminal import SEP, Terminal, format_timeout, one_line

if TYPE_CHECKING:
    from pytest_live_pause import qamule
    from pytest_live_pause.qamule import CheckpointResult
    from pytest_live_pause._livepause import Pause, Run, Store
    from pytest_live_pause._livepause import _Resolution as Resolution


#: Text from a test or a resumer, made safe for a terminal (C0, C1, DEL and
#: Unicode line separators escaped visibly): every such text we print.
_safe = _livepause.terminal_safe


def _qamule() -> Any:
    """QAMule mode (:mod:`pytest_live_pause.qamule`), imported on first use:
    only in QAMule mode, so that other runs do not pay for it at start."""
    from pytest_live_pause import qamule

    return qamule


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


def _abort_signal(exc: BaseException) -> str | None:
    """The signal that ended the pause, for the abort command."""
    if isinstance(exc, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(exc, _Terminated):
        return "SIGTERM"
    return None


# -------------------------------------------------------------- session


_T = TypeVar("_T")


class _Ended:
    """A pause that has ended: its id, the runtime's resolution, and in
    QAMule mode its request and how it ended in QAMule's terms. (A plain
    class: making a dataclass costs every pytest start about as much as the
    plugin's hooks cost in 70 tests.)"""

    __slots__ = ("pause_id", "resolution", "request", "ending")

    def __init__(
        self,
        pause_id: str,
        resolution: Resolution,
        request: qamule.Request | None = None,
        ending: qamule.Ending | None = None,
    ) -> None:
        self.pause_id = pause_id
        self.resolution = resolution
        self.request = request
        self.ending = ending


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
        self.terminal = Terminal(config, is_worker)
        self.worker_id: str | None = (
            getattr(config, "workerinput", {}).get("workerid") if is_worker else None
        )
        self.allow_eval = _eval.allow_eval(config)
        self.evidence = _attach.Evidence(config, run, self.terminal.lines)
        self.signal_guard: qamule.SignalGuard | None = (
            _qamule().SignalGuard(settings.qamule.signal) if settings.qamule else None
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

    # ----- pytest-timeout

    @contextlib.contextmanager
    def _external_timeout_paused(self) -> Iterator[None]:
        """Time spent paused does not count against pytest-timeout: the
        test's timer is cancelled for the pause and armed again afterwards
        with the time that was left (see the pytest_timeout_set_timer
        observer below), and --session-timeout's deadline moves by the time
        paused."""
        hook = self.config.hook
        cancel = getattr(hook, "pytest_timeout_cancel_timer", None)
        if cancel is None:  # no pytest-timeout
            yield
            return
        item = self.current_item
        armed = item.stash.get(_TIMEOUT_TIMER, None) if item is not None else None
        paused_at = time.monotonic()
        if armed is not None:
            settings, started = armed
            remaining = float(settings.timeout) - (paused_at - started)
            cancel(item=item)
        try:
            yield
        finally:
            _extend_session_timeout(self.config, time.monotonic() - paused_at)
            if armed is not None:
                rearm = getattr(settings, "_replace", None)
                if rearm is not None:
                    # Time already over makes it fire at once, as it would have.
                    hook.pytest_timeout_set_timer(
                        item=item, settings=rearm(timeout=max(remaining, 0.001))
                    )
                else:
                    self.terminal.lines(
                        [
                            "live-pause: could not re-arm pytest-timeout's timer "
                            f"for {item.nodeid} after the pause: it has no timeout now"
                        ]
                    )

    # ----- the pause itself

    def _pause(
        self,
        kind: str,
        nodeid: str,
        timeout: float,
        *,
        task: str | None = None,
        original_failure: str | None = None,
        attachments: Any = None,
    ) -> _Ended:
        """Begin a pause and wait for its end (in QAMule mode also by the
        resume signal)."""
        request = None
        if self.settings.qamule is not None:
            request = _qamule().Request(self.settings.qamule, kind, nodeid)
        # SIGTERM raises from before the pause exists to after it ended, so
        # that no signal finds it pending without the abort claim in place
        with self._external_timeout_paused(), _sigterm_raises():
            # the test's, checkpoint()'s and the capture hooks' files (_attach)
            listed = self.evidence.for_pause(self.current_item, kind, attachments)
            try:
                self.run.set_requests(self.allow_eval, _eval.action_names())
                pause = self.run.pause(
                    kind,
                    nodeid,
                    task=task,
                    original_failure=original_failure,
                    timeout=timeout,
                    extra_json=request.pause_fields() if request else None,
                    attachments=listed,
                )
            except _Terminated as exc:
                # a pause object made just now was released, hence aborted
                pytest.exit(
                    f"live-pause: SIGTERM while pausing at {nodeid}",
                    returncode=int(exc.code or 143),
                )
            if request is None:
                details = [f"task: {_safe(task or '')}"] if kind == "checkpoint" else []
                res = self._wait(pause, kind, nodeid, [*details, *_attach.lines(listed)], timeout)
                self.evidence.record(self.current_item, listed, res)
                return _Ended(pause.pause_id, res)
            ending = self._wait_qamule(
                pause, kind, nodeid, timeout, request, task, original_failure
            )
            self.evidence.record(self.current_item, listed, ending.resolution)
            return _Ended(pause.pause_id, ending.resolution, request, ending)

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
        block = [
            # A worker shares the controller's terminal line.
            *([""] if self.worker_id else []),
            SEP,
            f"PAUSED ({kind}): {_safe(nodeid)}",
            *details,
            *([f"worker: {self.worker_id}"] if self.worker_id else []),
            f"pause_id: {pause.pause_id}",
            f"pause file: {_safe(pause.path)}",
            f"resume: {pause.resume_hint}",
            format_timeout(timeout),
            SEP,
        ]
        with self.terminal.uncaptured():
            res = self._block(
                pause,
                nodeid,
                lambda: pause.wait(
                    on_rejected=self._rejected(pause), on_request=self._on_request(kind)
                ),
                announce=lambda: say(block),
            )
            lines = [f"RESUMED ({res['outcome']}): {_safe(nodeid)}"]
            if kind == "checkpoint":
                result = res["result"]
                lines.append(
                    f"result: {'none' if result is None else str(result).lower()}"
                )
                if res["reason"]:
                    lines.append(f"reason: {_safe(res['reason'])}")
            elif res["failure_reason"]:
                lines.append(f"failure reason: {_safe(res['failure_reason'])}")
            if res.get("warning"):
                lines.append(f"live-pause: warning: {_safe(one_line(res['warning']))}")
            lines += _attach.lines(res.get("attachments") or [])
            say([*([""] if self.worker_id else []), *lines])
            self._restore_progress_prefix()
        return res

    def _wait_qamule(
        self,
        pause: Pause,
        kind: str,
        nodeid: str,
        timeout: float,
        request: qamule.Request,
        task: str | None,
        original_failure: str | None,
    ) -> qamule.Ending:
        """_wait() in QAMule mode: QAMule's block and lines, and the resume
        signal as a second way to end the pause (the runtime's claim decides
        between it and `pytest-live-pause resume`)."""
        if kind == "checkpoint":
            details = task or ""
            context: dict[str, Any] = {"task": task}
        else:
            details = original_failure or ""
            context = {"longrepr": details, "outcome": "failed", "when": "call"}
        say = self.terminal.lines

        def wait_or_signal() -> qamule.Ending:
            res = pause.wait(
                on_rejected=self._rejected(pause),
                stop=request.stop,
                on_request=self._on_request(kind),
            )
            if res is None:  # the resume signal
                return request.claim(pause)
            return request.ending(res)

        with self.terminal.uncaptured():
            # The handler is in place before the event line tells the
            # agent where to send the signal.
            with request.catching_signal(self.signal_guard) as caught:
                ending = self._block(
                    pause,
                    nodeid,
                    wait_or_signal,
                    announce=lambda: say(
                        [
                            *([""] if self.worker_id else []),
                            *request.pause_lines(
                                details, context, timeout, pause.resume_hint, caught
                            ),
                        ]
                    ),
                )
            # In a worker, start a line of its own: the controller's
            # progress letters may end the current one.
            say([*([""] if self.worker_id else []), *request.end_lines(ending)])
            self._restore_progress_prefix()
        return ending

    def _block(
        self,
        pause: Pause,
        nodeid: str,
        wait: Callable[[], _T],
        announce: Callable[[], None],
    ) -> _T:
        """Print the pause with announce(), then run wait(): a signal that
        arrives while the block is still being written (a slow pipe, an
        agent that reacts to its first line) is handled like one during the
        wait. An exception ends the pause as aborted and is raised again
        (SIGTERM as pytest.exit with status 143)."""
        try:  # SIGTERM raises here: _pause() entered _sigterm_raises()
            announce()
            return wait()
        except BaseException as exc:
            self._abort(pause, nodeid, exc)
            if isinstance(exc, _Terminated):
                pytest.exit(
                    f"live-pause: SIGTERM while paused at {nodeid}; "
                    f"pause {pause.pause_id} aborted",
                    returncode=int(exc.code or 143),
                )
            raise

    def _rejected(self, pause: Pause) -> Callable[[str], None]:
        pause_id = pause.pause_id

        def on_rejected(message: str) -> None:
            self.terminal.lines(
                [f"live-pause: rejected command for {pause_id}: {_safe(one_line(message))}"]
            )

        return on_rejected

    def _on_request(self, kind: str) -> Callable[..., dict[str, Any]]:
        """The handler of eval, exec and actions while paused (_eval)."""
        item = self.current_item
        excinfo = item.stash.get(_EVAL_EXCINFO, None) if item is not None else None
        return _eval.handler(item, kind, excinfo, (KeyboardInterrupt, _Terminated))  # type: ignore[arg-type]

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
        try:
            res = pause.abort(_abort_signal(exc))
        except Exception as claim_exc:  # noqa: BLE001 - never hide the original exception
            self.terminal.lines(
                [f"live-pause: could not abort pause {pause.pause_id}: {claim_exc}"]
            )
            return
        self.terminal.lines([f"RESUMED ({res['outcome']}): {_safe(nodeid)}"])

    def pause_failure(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Pause after a call-phase failure; add the resume's failure reason
        (in QAMule mode also the result file's payload) to the report. Any
        error is the caller's to report (see pytest_runtest_makereport)."""
        ended = self._pause(
            "failure",
            _livepause.storable_text(report.nodeid),
            self.settings.timeout,
            original_failure=report.longreprtext,
        )
        reason = ended.resolution["failure_reason"]
        if reason:
            _add_section(report, f"External failure reason: {reason}")
            # --junitxml writes the properties of the teardown report, which
            # copies the item's: record it on both.
            prop = ("live_pause_failure_reason", reason)
            report.user_properties.append(prop)
            item.user_properties.append(prop)
        ending = ended.ending
        if ending is not None and ending.status == "ok":
            payload = _qamule().line("", ending.payload).lstrip()
            _add_section(report, f"qamule result: {payload}")
            prop = ("qamule_pause_result", payload)
            report.user_properties.append(prop)
            item.user_properties.append(prop)

    def report_broken(self, item: pytest.Item, report: pytest.TestReport, exc: Exception) -> None:
        """A pause at a failure could not be made or ended: say so in the
        terminal, in the report and as the --junitxml property
        ``live_pause_error``; the test's own outcome stands and the session
        goes on (never an INTERNALERROR)."""
        text = str(exc) if isinstance(exc, LivePauseError) else f"{type(exc).__name__}: {exc}"
        message = one_line(_livepause.storable_text(text))
        nodeid = _livepause.storable_text(report.nodeid)
        with contextlib.suppress(Exception):
            with self.terminal.uncaptured():
                self.terminal.lines([f"live-pause: pause failed for {_safe(nodeid)}: {_safe(message)}"])
                self._restore_progress_prefix()
        _add_section(report, f"pause failed: {message}")
        # --junitxml writes the item's properties (see pause_failure)
        prop = ("live_pause_error", f"pause failed: {message}")
        report.user_properties.append(prop)
        item.user_properties.append(prop)

    def _checkpoint(
        self, task: str, timeout: float | None, nodeid: str | None = None,
        attachments: Any = None,
    ) -> tuple[Decision, _Ended | None]:
        if not isinstance(task, str):
            raise TypeError(f"task must be a str, not {type(task).__name__}")
        if not task.strip():
            raise ValueError("checkpoint task must not be empty")  # 0.1.1's check
        task = _livepause.storable_text(task)
        if timeout is None:
            seconds = self.settings.timeout
        else:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(
                    f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
                )
            try:
                seconds = _livepause.parse_timeout(timeout, "timeout")
            except LivePauseError as exc:
                raise ValueError(str(exc)) from None
        nodeid = _livepause.storable_text(nodeid or self.current_nodeid())
        if self.settings.mock is not NOT_MOCKED:
            result = self.settings.mock
            self.run.event(
                "checkpoint_mocked",
                json.dumps({"nodeid": nodeid, "task": task, "result": result}),
            )
            decision = Decision(result=result, reason="Mock", outcome="mocked", pause_id=None)
            return decision, None
        ended = self._pause("checkpoint", nodeid, seconds, task=task, attachments=attachments)
        res = ended.resolution
        decision = Decision(
            result=res["result"],
            reason=res["reason"],
            outcome=res["outcome"],
            pause_id=ended.pause_id,
            failure_reason=res["failure_reason"],
            attachments=tuple(a["path"] for a in res.get("attachments") or []),
        )
        return decision, ended

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None
    ) -> Decision:
        return self._checkpoint(task, timeout, attachments=attachments)[0]

    def agent_checkpoint(
        self, task: str, timeout: float | None, nodeid: str
    ) -> CheckpointResult:
        """QAMule's agent_checkpoint(): a checkpoint, answered by QAMule's
        signal and result file or by `pytest-live-pause resume`."""
        q = self.settings.qamule
        if q is None:
            raise RuntimeError(
                "agent_checkpoint is QAMule's fixture: run pytest with "
                "--pause-compat=qamule (or the ini option pause_compat = qamule)"
            )
        decision, ended = self._checkpoint(task, timeout, nodeid)
        if ended is None or ended.request is None or ended.ending is None:  # mocked
            return _qamule().CheckpointResult(
                request_id="",
                outcome=decision.outcome,
                result_path=None,
                resume_signal=q.signal.name,
                result=decision.result,
                reason=decision.reason,
            )
        return ended.request.checkpoint_result(ended.ending)


def _add_section(report: pytest.TestReport, text: str) -> None:
    """Show text with the failure in a section ``live pause``, as 0.1.1
    does (pytest prints it under the failure, ``--show-capture`` aside)."""
    report.sections.append(("live pause", text))


SESSION_KEY = pytest.StashKey[LivePauseSession]()
_EVAL_EXCINFO = pytest.StashKey[Any]()  # a failure's exception, for eval's frame


def _session(config: pytest.Config) -> LivePauseSession | None:
    return config.stash.get(SESSION_KEY, None)


class LivePause:
    """What the ``live_pause`` fixture gives a test (function-scoped, as in
    0.1.1): ``.item``, ``.run_id``, ``.pause_dir`` and ``.checkpoint()``."""

    def __init__(self, session: LivePauseSession, item: pytest.Item) -> None:
        self._session = session
        self.item = item

    @property
    def run_id(self) -> str:
        """The run's id, as printed at start and used by `watch --run-id`."""
        return self._session.run_id

    @property
    def pause_dir(self) -> str:
        """The pause directory of the run."""
        return self._session.pause_dir

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None
    ) -> Decision:
        """Same as :func:`pytest_live_pause.checkpoint`, for this item."""
        return self._session._checkpoint(task, timeout, self.item.nodeid, attachments)[0]

    def attach(self, path: Any, name: str | None = None) -> dict[str, Any]:
        """Attach a file to this test's next pause (copied now): see README."""
        return dict(self._session.evidence.attach(self.item, path, name))

    def __repr__(self) -> str:
        return f"<LivePause run_id={self.run_id!r} item={self.item.nodeid!r}>"


# ----------------------------------------------------------------- hooks


class _CurrentItemHooks:
    """Registered per session: keeps ``current_item``, the test being run,
    from the start of its setup to the end of its protocol (after its last
    report), for checkpoint() and the pauses. Two plain hooks cost less per
    test than one pytest_runtest_protocol wrapper."""

    def __init__(self, session: LivePauseSession) -> None:
        self._session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._session.current_item = item

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self) -> None:
        self._session.current_item = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        # a protocol that ended by an exception (Ctrl-C, pytest.exit) did
        # not reach its logfinish
        self._session.current_item = None


class _XdistControllerHooks:
    """Registered on an xdist controller only (the hook exists only with
    xdist): tells each worker the run to join, or that the plugin is off."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_configure_node(self, node: Any) -> None:
        s = _session(self._config)
        if s is not None:
            node.workerinput["live_pause_run_id"] = s.run_id
            node.workerinput["live_pause_dir"] = s.pause_dir
        else:
            node.workerinput["live_pause_off"] = self._config.stash[OFF_KEY].message


class Off:
    """The plugin is off for this session: its pause directory is unusable
    and no pause option asked for one, so pytest runs as without the plugin
    (9.3). checkpoint() and the fixtures raise the error that turned it off;
    the warning line is printed once, by the controller."""

    def __init__(self, message: str, error: type[LivePauseError], code: Any) -> None:
        self.message = message
        self._error, self._code = error, code

    @property
    def warning(self) -> str:
        return f"pytest-live-pause: off for this run, no test will pause: {self.message}"

    def error(self) -> LivePauseError:
        exc = self._error(f"pytest-live-pause is off in this run: {self.message}")
        exc.code = self._code
        return exc

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None
    ) -> Decision:
        raise self.error()

    def attach(self, path: Any, name: str | None = None) -> Any:
        raise self.error()


OFF_KEY = pytest.StashKey[Off]()


def _start_run(config: pytest.Config, settings: Settings) -> LivePauseSession:
    """Open the store and start the run (in an xdist worker: join the
    controller's); raises LivePauseError."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    pause_dir = settings.pause_dir
    if workerinput is not None and "live_pause_run_id" in workerinput:
        pause_dir = workerinput.get("live_pause_dir", pause_dir)
    if settings.qamule is not None and workerinput is None:
        try:  # refused before any test runs, whatever the pause options
            _livepause.qamule_prepare_dir(settings.qamule.result_dir)
        except LivePauseError as exc:
            raise pytest.UsageError(f"pytest-live-pause: {one_line(str(exc))}") from None
    store = _livepause.Store(pause_dir, create=True)
    if workerinput is not None and "live_pause_run_id" in workerinput:
        run = _livepause.Run(
            store,
            workerinput["live_pause_run_id"],
            worker_id=workerinput.get("workerid"),
            join=True,
        )
    else:
        clean = _livepause.storable_text  # a path may not be UTF-8
        extra = {"rootdir": clean(str(config.rootpath)), "allow_eval": _eval.allow_eval(config)}
        run = _livepause.Run(
            store,
            cwd=str(config.invocation_params.dir),
            extra_json=json.dumps(extra),
            argv=[clean(a) for a in sys.argv],  # run.json's "argv", as 0.1.1 (bounded)
        )
    return LivePauseSession(
        config, settings, store, run, is_worker=workerinput is not None
    )


def _start_error(exc: LivePauseError, pause_dir: str) -> str:
    """The runtime's message, naming the directory and --pause-dir."""
    message = one_line(str(exc))
    if pause_dir not in message:
        message = f"{message} (pause directory {pause_dir})"
    if "--pause-dir" not in message:
        message = f"{message}; choose another with --pause-dir DIR"
    return message


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help", False):
        return  # `pytest --help` starts no run
    settings = read_settings(config)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    off = workerinput.get("live_pause_off") if workerinput is not None else None
    if off is None:
        try:
            session = _start_run(config, settings)
        except LivePauseError as exc:
            off = _start_error(exc, settings.pause_dir)
            if workerinput is None and option_given(config):
                raise pytest.UsageError(f"pytest-live-pause: {off}") from None
            config.stash[OFF_KEY] = Off(off, type(exc), getattr(exc, "code", None))
            if workerinput is not None:  # the controller started: say it here
                Terminal(config, True).lines([config.stash[OFF_KEY].warning])
    else:
        config.stash[OFF_KEY] = Off(off, LivePauseError, None)
    if OFF_KEY in config.stash:
        _pkg._activate(config.stash[OFF_KEY])  # type: ignore[arg-type]
        if workerinput is None and config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistControllerHooks(config), "live_pause_xdist")
        return
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(_CurrentItemHooks(session), "live_pause_current_item")
    if session.allow_eval:
        config.pluginmanager.register(_eval.Hooks(_EVAL_EXCINFO), "live_pause_eval")
    if not session.is_worker and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistControllerHooks(config), "live_pause_xdist")
    session.previous_active = _pkg._activate(session)
    if session.signal_guard is not None:
        session.signal_guard.install()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = _session(session.config)
    if s is not None:
        s.exitstatus = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    off = config.stash.get(OFF_KEY, None)
    if off is not None:
        _pkg._deactivate(off, None)  # type: ignore[arg-type]
    s = _session(config)
    if s is None:
        return
    del config.stash[SESSION_KEY]
    _pkg._deactivate(s, s.previous_active)
    if s.signal_guard is not None:
        s.signal_guard.uninstall()
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


def _notices(config: pytest.Config) -> list[str]:
    """Lines to show once at start (the controller's): the store's notice
    (default directory tightened or per-user), or why the plugin is off."""
    if getattr(config, "workerinput", None) is not None:
        return []
    off = config.stash.get(OFF_KEY, None)
    if off is not None:
        return [off.warning]
    s = _session(config)
    notice = s.store.notice if s is not None else None
    return [f"pytest-live-pause: {notice}"] if notice else []


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    s = _session(config)
    if s is None or s.is_worker:
        return _notices(config) or None
    return [_run_id_line(s), f"pytest-live-pause: pause_dir={s.pause_dir}", *_notices(config)]


def _header_shown(config: pytest.Config) -> bool:
    # The terminal reporter prints report headers only at verbosity >= 0
    # and without --no-header.
    return config.getoption("verbose", 0) >= 0 and not config.getoption(
        "no_header", False
    )


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """Under -q or --no-header the header is not printed: write the run_id
    line (and the notices) anyway, after pytest's own start lines, so that
    they are always there exactly once."""
    result = yield
    config = session.config
    if getattr(config, "workerinput", None) is not None or _header_shown(config):
        return result
    s = _session(config)
    lines = [*([_run_id_line(s)] if s is not None else []), *_notices(config)]
    tr = config.pluginmanager.getplugin("terminalreporter")
    if tr is not None and lines:
        for line in lines:
            tr.write_line(line)
        tr.flush()
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item) -> Any:
    # tryfirst: the outermost wrapper, so it sees the report after xfail
    # handling (an xfailed test is not a failure). It runs three times per
    # test: the cheap checks of the report come first.
    report = yield
    if report.when == "call" and report.failed:
        s = _session(item.config)
        if s is not None and s.settings.pause_on_failure:
            try:
                s.pause_failure(item, report)
            except pytest.exit.Exception:  # SIGTERM while paused: pytest.exit
                raise
            except Exception as exc:  # noqa: BLE001 - never an INTERNALERROR
                s.report_broken(item, report, exc)
    if report.failed:
        _attach.report(item, report)  # every attachment of its pauses
    return report


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_attach.CaptureSpec)  # pytest_live_pause_capture


# --------------------------------------------------------- pytest-timeout

# pytest-timeout's timer of an item while it is armed: (its settings, when
# it was armed, monotonic). Paused time is given back from it.
_TIMEOUT_TIMER = pytest.StashKey[tuple[Any, float]]()


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    """Observe pytest-timeout arming a test's timer (the hook exists only
    with pytest-timeout)."""
    item.stash[_TIMEOUT_TIMER] = (settings, time.monotonic())
    return (yield)


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> Any:
    """Observe pytest-timeout cancelling a test's timer."""
    try:
        return (yield)
    finally:
        with contextlib.suppress(KeyError):
            del item.stash[_TIMEOUT_TIMER]


def _extend_session_timeout(config: pytest.Config, seconds: float) -> None:
    """Move --session-timeout's deadline (pytest-timeout's, kept in
    config.stash as a wall-clock time, 0 when unset) by `seconds`."""
    key = getattr(sys.modules.get("pytest_timeout"), "SESSION_EXPIRE_KEY", None)
    if key is None:
        return
    with contextlib.suppress(Exception):  # a pytest-timeout of another shape
        expire = config.stash.get(key, 0)
        if expire:
            config.stash[key] = expire + seconds


# -------------------------------------------------------------- fixtures


def _require_session(config: pytest.Config) -> LivePauseSession:
    s = _session(config)
    if s is None:
        off = config.stash.get(OFF_KEY, None)
        if off is not None:
            raise off.error()
        raise RuntimeError("pytest-live-pause has no active run in this session")
    return s


@pytest.fixture
def live_pause(request: pytest.FixtureRequest) -> LivePause:
    """pytest-live-pause: `.run_id` of this run and `.checkpoint(task,
    timeout=None)`, which pauses the test until `pytest-live-pause resume
    <pause_id> --result true|false|none [--reason TEXT]` and returns a
    Decision(result, reason, outcome, pause_id)."""
    return LivePause(_require_session(request.config), request.node)


@pytest.fixture(scope="session")
def pause_run_id(request: pytest.FixtureRequest) -> str:
    """pytest-live-pause: the run_id of this pytest run (as printed at start,
    for `pytest-live-pause watch --run-id <run_id>`)."""
    return _require_session(request.config).run_id


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
    s = _require_session(request.config)
    if s.settings.qamule is None:
        raise RuntimeError(
            "agent_checkpoint is QAMule's fixture: run pytest with "
            "--pause-compat=qamule (or the ini option pause_compat = qamule)"
        )
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
