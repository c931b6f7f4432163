"""One pytest session of pytest-live-pause: its run in the pause
directory, and the pauses of its tests (begin, print, wait, end).

The runtime (``_livepause``) writes, reads and waits; this module keeps the
pytest side of a pause: the terminal while paused, pytest-timeout's timer,
SIGTERM and Ctrl-C while paused (the pause is claimed as aborted), and in
QAMule mode the resume signal. What the decision means for the test is
:mod:`pytest_live_pause._outcome`'s. Pure pytest glue.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_live_pause import Decision, _abort, _answers, _attach, _caller, _eval, _livepause, _outcome, _progress, _timeout
from pytest_live_pause._control import PauseControl
from pytest_live_pause._livepause import LivePauseError
from pytest_live_pause._options import NOT_MOCKED, Settings
from pytest_live_pause._signals import Terminated, abort_signal, sigterm_raises
from pytest_live_pause._terminal import Terminal, one_line, pause_block, resumed_lines, safe

if TYPE_CHECKING:
    from pytest_live_pause import qamule
    from pytest_live_pause._livepause import Pause, Run, Store
    from pytest_live_pause._livepause import _Resolution as Resolution
    from pytest_live_pause._signals import SignalGuard
    from pytest_live_pause.qamule import CheckpointResult

_T = TypeVar("_T")


def _qamule() -> Any:
    """QAMule mode (:mod:`pytest_live_pause.qamule`), imported on first use:
    only in QAMule mode, so that other runs do not pay for it at start."""
    from pytest_live_pause import qamule

    return qamule


class Ended:
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
        self.collected = -1  # tests collected, for the progress (-1: unknown)
        self.exitstatus: int | None = None
        self.previous_active: LivePauseSession | None = None
        self.terminal = Terminal(config, is_worker)
        self.control = PauseControl(settings, run, self._say)
        self.worker_id: str | None = (
            getattr(config, "workerinput", {}).get("workerid") if is_worker else None
        )
        self.allow_eval = _eval.allow_eval(config)
        self.evidence = _attach.Evidence(config, run, self.terminal.lines)
        self.signal_guard: SignalGuard | None = None
        if settings.qamule:
            from pytest_live_pause._signals import SignalGuard

            self.signal_guard = SignalGuard(settings.qamule.signal)

    def _say(self, lines: Sequence[str]) -> None:
        """Lines outside output capture (a pause's own lines are already)."""
        with self.terminal.uncaptured():
            self.terminal.lines(lines)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def pause_dir(self) -> str:
        return self.store.path

    def current_nodeid(self) -> str:
        """The node id of the running test."""
        item = self.current_item
        if item is not None:
            return item.nodeid
        current = os.environ.get("PYTEST_CURRENT_TEST")
        if current:
            return current.rsplit(" ", 1)[0]
        return "<no test>"

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
        details: Sequence[str] = (),
        choices: list[str] | None = None,
        location: str | None = None,
    ) -> Ended:
        """Begin a pause, tell --pause-notify's command, and wait for its
        end (in QAMule mode also by the resume signal)."""
        _progress.write(self)  # the counts as they are while it waits
        request = None
        if self.settings.qamule is not None and kind != "question":
            request = _qamule().Request(self.settings.qamule, kind, nodeid)
        # SIGTERM raises from before the pause exists to after it ended, so
        # that no signal finds it pending without the abort claim in place
        paused = _timeout.paused(self.config, self.current_item, self.terminal.lines)
        with paused, sigterm_raises():
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
                    choices=choices,
                    location=location,
                )
            except Terminated as exc:
                # a pause object made just now was released, hence aborted
                pytest.exit(
                    f"live-pause: SIGTERM while pausing at {nodeid}",
                    returncode=int(exc.code or 143),
                )
            # from here until its wait returned, any exception (a signal
            # lands between any two bytecodes) ends the pause as aborted
            self._waited = False
            try:
                with self.terminal.uncaptured():  # it inherits the real stderr
                    poll = self.control.notify(pause, kind, nodeid)
                if request is None:
                    details = [*_answers.block_lines(kind, task, choices, location), *details]
                    details = [*details, *_attach.lines(listed)]
                    res = self._wait(pause, kind, nodeid, details, timeout, poll)
                else:
                    ending = self._wait_qamule(
                        pause, kind, nodeid, timeout, request, task, original_failure, poll
                    )
            except BaseException as exc:
                if not self._waited:
                    self._abort(pause, nodeid, exc)
                    if isinstance(exc, Terminated):
                        pytest.exit(
                            f"live-pause: SIGTERM while paused at {nodeid}; "
                            f"pause {pause.pause_id} aborted",
                            returncode=int(exc.code or 143),
                        )
                raise
            if request is None:
                self.evidence.record(self.current_item, listed, res)
                return Ended(pause.pause_id, res)
            self.evidence.record(self.current_item, listed, ending["resolution"])
            return Ended(pause.pause_id, ending["resolution"], request, ending)

    def _wait(
        self,
        pause: Pause,
        kind: str,
        nodeid: str,
        details: Sequence[str],
        timeout: float,
        poll: Callable[[], bool] | None,
    ) -> Resolution:
        """Print the pause, wait for its end, print how it ended. poll()
        (--pause-notify's) runs while waiting and once after."""
        say = self.terminal.lines
        block = pause_block(kind, nodeid, details, self.worker_id, pause, timeout)
        with self.terminal.uncaptured():
            res = self._block(
                pause,
                nodeid,
                lambda: pause.wait(
                    on_rejected=self._rejected(pause),
                    stop=poll,
                    on_request=self._on_request(kind),
                ),
                announce=lambda: say(block),
            )
            if poll is not None:
                poll()
            attached = _attach.lines(res.get("attachments") or [])
            say([*self.terminal.lead, *resumed_lines(kind, nodeid, res),
                 *_abort.resumed_lines(kind, res), *attached])
            self.terminal.restore_progress_prefix(self.current_item)
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
        poll: Callable[[], bool] | None,
    ) -> qamule.Ending:
        """_wait() in QAMule mode: QAMule's block and lines, and the resume
        signal as a second way to end the pause (the runtime's claim decides
        between it and `pytest-live-pause resume`)."""
        details = (task if kind == "checkpoint" else original_failure) or ""
        say = self.terminal.lines
        lead = self.terminal.lead

        assert self.signal_guard is not None
        with self.terminal.uncaptured():
            # The handler is in place before the event line tells the
            # agent where to send the signal.
            with self.signal_guard.catching(request.on_signal) as caught:
                ending = self._block(
                    pause,
                    nodeid,
                    lambda: request.wait(
                        pause, self._rejected(pause), self._on_request(kind), poll
                    ),
                    announce=lambda: say(
                        [*lead, *request.pause_lines(details, timeout, pause.resume_hint, caught)]
                    ),
                )
            if poll is not None:
                poll()
            say([*lead, *request.end_lines(ending)])
            self.terminal.restore_progress_prefix(self.current_item)
        return ending

    def _block(
        self, pause: Pause, nodeid: str, wait: Callable[[], _T], announce: Callable[[], None]
    ) -> _T:
        """Print the pause with announce(), then run wait(). A signal that
        arrives while the block is still being written (a slow pipe, an
        agent that reacts to its first line), or at any moment after the
        pause exists, is handled like one during the wait: _pause() ends the
        pause as aborted and raises again (SIGTERM as pytest.exit with
        status 143) unless wait() had returned."""
        announce()
        result = wait()
        self._waited = True
        return result

    def _rejected(self, pause: Pause) -> Callable[[str], None]:
        pause_id = pause.pause_id

        def on_rejected(message: str) -> None:
            self.terminal.lines(
                [f"live-pause: rejected command for {pause_id}: {safe(one_line(message))}"]
            )

        return on_rejected

    def _on_request(self, kind: str) -> Callable[..., dict[str, Any]]:
        """The handler of eval, exec and actions while paused (_eval)."""
        item = self.current_item
        excinfo = item.stash.get(EVAL_EXCINFO, None) if item is not None else None
        return _eval.handler(item, kind, excinfo, (KeyboardInterrupt, Terminated))  # type: ignore[arg-type]

    def _abort(self, pause: Pause, nodeid: str, exc: BaseException) -> None:
        try:
            res = pause.abort(abort_signal(exc))
        except Exception as claim_exc:  # noqa: BLE001 - never hide the original exception
            self.terminal.lines([f"live-pause: could not abort pause {pause.pause_id}: {claim_exc}"])
            return
        self.terminal.lines([f"RESUMED ({res['outcome']}): {safe(nodeid)}"])

    # ----- failures

    def pause_failure(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Pause after a failure (or a setup or teardown error); its decision
        goes into the report. Any error is the caller's to report (see
        plugin.py's pytest_runtest_logreport)."""
        ended = self.pause_error(report.nodeid, report.longreprtext, report.when)
        _outcome.failure_outcome(item, report, ended)
        if _abort.was_aborted(ended):
            _abort.failure_aborted(item, report, ended, self)

    def pause_error(self, nodeid: str, text: str, when: str) -> Ended:
        """The failure pause of a test's failure (when "call") or of an
        error in its setup or teardown, with the failure's text."""
        return self._pause(
            "failure",
            _livepause.storable_text(nodeid),
            self.settings.timeout,
            original_failure=text,
            details=[] if when == "call" else [f"error in {when}"],
        )

    def report_broken(self, item: pytest.Item, report: pytest.TestReport, exc: Exception) -> None:
        """A pause at a failure could not be made or ended: say so in the
        terminal and in the report; the test's own outcome stands and the
        session goes on (never an INTERNALERROR)."""
        message = _outcome.broken_outcome(item, report, exc)
        nodeid = _livepause.storable_text(report.nodeid)
        try:
            with self.terminal.uncaptured():
                self.terminal.lines([f"live-pause: pause failed for {safe(nodeid)}: {safe(message)}"])
                self.terminal.restore_progress_prefix(self.current_item)
        except Exception:  # noqa: BLE001, S110 - the report holds it
            pass

    # ----- checkpoints

    def _checkpoint(
        self, task: str, timeout: float | None, nodeid: str | None = None,
        attachments: Any = None, choices: Any = None, location: str | None = None,
        kind: str = "checkpoint",
    ) -> tuple[Decision, Ended | None]:
        choices = _answers.choices_arg(choices)
        if kind == "question":
            task = _answers.question_arg(task)
        task, seconds = _outcome.checkpoint_args(task, timeout, self.settings.timeout)
        nodeid = _livepause.storable_text(nodeid or self.current_nodeid())
        if self.settings.mock is not NOT_MOCKED:
            self.run.checkpoint_mocked(nodeid, task, self.settings.mock)
            return _outcome.mocked_decision(self.settings.mock), None
        ended = self._pause(
            kind, nodeid, seconds, task=task, attachments=attachments, choices=choices,
            location=_answers.location(self.config.rootpath, location),
        )
        if _abort.was_aborted(ended):
            _abort.raise_aborted(self, ended, nodeid)
        return _outcome.checkpoint_decision(ended), ended

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None, *,
        choices: Any = None, location: str | None = None,
    ) -> Decision:
        return self._checkpoint(
            task, timeout, attachments=attachments, choices=choices, location=location
        )[0]

    def ask(
        self, question: str, timeout: float | None = None, *,
        location: str | None = None, nodeid: str | None = None,
    ) -> str | None:
        """ask(): a pause of kind question; its answer (None if none)."""
        ended = self._checkpoint(question, timeout, nodeid, location=location, kind="question")
        return ended[0].value

    def agent_checkpoint(self, task: str, timeout: float | None, nodeid: str) -> CheckpointResult:
        """QAMule's agent_checkpoint(): a checkpoint, answered by QAMule's
        signal and result file or by `pytest-live-pause resume`."""
        q = self.settings.qamule
        if q is None:
            raise RuntimeError(AGENT_CHECKPOINT_NEEDS_QAMULE)
        decision, ended = self._checkpoint(task, timeout, nodeid)
        if ended is None or ended.request is None or ended.ending is None:  # mocked
            return _qamule().mocked_result(q, decision)
        return ended.request.checkpoint_result(ended.ending)


AGENT_CHECKPOINT_NEEDS_QAMULE = (
    "agent_checkpoint is QAMule's fixture: run pytest with "
    "--pause-compat=qamule (or the ini option pause_compat = qamule)"
)


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
        self, task: str, timeout: float | None = None, attachments: Any = None,
        choices: Any = None,
    ) -> Decision:
        """Same as :func:`pytest_live_pause.checkpoint`, for this item."""
        return self._session._checkpoint(
            task, timeout, self.item.nodeid, attachments, choices, _caller()
        )[0]

    def ask(self, question: str, timeout: float | None = None) -> str | None:
        """Same as :func:`pytest_live_pause.ask`, for this item."""
        return self._session.ask(
            question, timeout, location=_caller(), nodeid=self.item.nodeid
        )

    def attach(self, path: Any, name: str | None = None) -> dict[str, Any]:
        """Attach a file to this test's next pause (copied now): see README."""
        return dict(self._session.evidence.attach(self.item, path, name))

    def __repr__(self) -> str:
        return f"<LivePause run_id={self.run_id!r} item={self.item.nodeid!r}>"


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

    def ask(self, question: str, timeout: float | None = None, **_: Any) -> str | None:
        raise self.error()

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None, **_: Any
    ) -> Decision:
        raise self.error()

    def attach(self, path: Any, name: str | None = None) -> Any:
        raise self.error()


SESSION_KEY = pytest.StashKey[LivePauseSession]()
EVAL_EXCINFO = pytest.StashKey[Any]()  # a failure's exception, for eval's frame
OFF_KEY = pytest.StashKey[Off]()


def session_of(config: pytest.Config) -> LivePauseSession | None:
    return config.stash.get(SESSION_KEY, None)


def require_session(config: pytest.Config) -> LivePauseSession:
    """The session, for a fixture; the error that turned the plugin off."""
    s = session_of(config)
    if s is None:
        off = config.stash.get(OFF_KEY, None)
        if off is not None:
            raise off.error()
        raise RuntimeError("pytest-live-pause has no active run in this session")
    return s


def start_run(config: pytest.Config, settings: Settings) -> LivePauseSession:
    """Open the store and start the run (in an xdist worker: join the
    controller's); raises LivePauseError."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    joining = workerinput is not None and "live_pause_run_id" in workerinput
    pause_dir = settings.pause_dir
    if joining:
        pause_dir = workerinput.get("live_pause_dir", pause_dir)  # type: ignore[union-attr]
    if settings.qamule is not None and workerinput is None:
        try:  # refused before any test runs, whatever the pause options
            _livepause.qamule_prepare_dir(settings.qamule.result_dir)
        except LivePauseError as exc:
            raise pytest.UsageError(f"pytest-live-pause: {one_line(str(exc))}") from None
    store = _livepause.Store(pause_dir, create=True)
    if joining:
        run = _livepause.Run(
            store,
            workerinput["live_pause_run_id"],  # type: ignore[index]
            worker_id=workerinput.get("workerid"),  # type: ignore[union-attr]
            join=True,
        )
    else:
        clean = _livepause.storable_text  # a path may not be UTF-8
        run = _livepause.Run(
            store,
            cwd=str(config.invocation_params.dir),
            rootdir=clean(str(config.rootpath)),
            allow_eval=_eval.allow_eval(config),
            argv=[clean(a) for a in sys.argv],  # run.json's "argv", as 0.1.1 (bounded)
        )
    return LivePauseSession(config, settings, store, run, is_worker=workerinput is not None)


def start_error(exc: LivePauseError, pause_dir: str) -> str:
    """The runtime's message, naming the directory and --pause-dir."""
    message = one_line(str(exc))
    if pause_dir not in message:
        message = f"{message} (pause directory {pause_dir})"
    if "--pause-dir" not in message:
        message = f"{message}; choose another with --pause-dir DIR"
    return message
