"""One pytest session of pytest-live-pause: its run in the pause
directory, and what it needs when nothing pauses (imported at start).

The runtime (``_livepause``) writes, reads and waits. A pause itself
(begin, print, wait, end) is :mod:`pytest_live_pause._pausing`'s, and the
terminal, the pause control and the evidence are made on first use: a
session that never pauses imports none of them (each module pytest
imports at start costs every run, docs/performance.md). Pure pytest glue.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import _caller, _livepause
from pytest_live_pause._livepause import LivePauseError

if TYPE_CHECKING:
    from pytest_live_pause import Decision
    from pytest_live_pause._attach import Evidence
    from pytest_live_pause._control import PauseControl
    from pytest_live_pause._livepause import Run, Store
    from pytest_live_pause._options import Settings
    from pytest_live_pause._pausing import Ended, Pauser
    from pytest_live_pause._signals import SignalGuard
    from pytest_live_pause._terminal import Terminal
    from pytest_live_pause.qamule import CheckpointResult


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
        self.pytest_session: pytest.Session | None = None  # from its sessionstart
        self.stopped = False  # an abort stopped this process's session (_abort)
        self.worker_id: str | None = (
            getattr(config, "workerinput", {}).get("workerid") if is_worker else None
        )
        self.allow_eval: bool = settings.values["pause_allow_eval"]
        self.signal_guard: SignalGuard | None = None
        if settings.qamule:
            from pytest_live_pause._signals import SignalGuard

            self.signal_guard = SignalGuard(settings.qamule.signal)
        self._terminal: Terminal | None = None
        self._control: PauseControl | None = None
        self._evidence: Evidence | None = None
        self._pauser: Pauser | None = None

    # ----- made on first use (a session that never pauses makes none)

    @property
    def terminal(self) -> Terminal:
        if self._terminal is None:
            from pytest_live_pause._terminal import Terminal

            self._terminal = Terminal(self.config, self.is_worker)
        return self._terminal

    @property
    def control(self) -> PauseControl:
        """Which failures pause, and --pause-notify (_control)."""
        if self._control is None:
            from pytest_live_pause._control import PauseControl

            self._control = PauseControl(self.settings, self.run, self._say)
        return self._control

    @property
    def evidence(self) -> Evidence:
        """The attachments of this session's pauses (_attach)."""
        if self._evidence is None:
            from pytest_live_pause._attach import Evidence

            values = self.settings.values
            self._evidence = Evidence(
                self.config, self.run, self.terminal.lines,
                values["pause_max_attachment_size"], values["pause_capture_timeout"],
            )
        return self._evidence

    @property
    def pauser(self) -> Pauser:
        """The pausing half of the session (_pausing)."""
        if self._pauser is None:
            from pytest_live_pause._pausing import Pauser

            self._pauser = Pauser(self)
        return self._pauser

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

    # ----- pauses (_pausing.Pauser)

    def pause_failure(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Pause after a failure (or a setup or teardown error); its decision
        goes into the report. Any error is the caller's to report."""
        self.pauser.pause_failure(item, report)

    def pause_error(self, nodeid: str, text: str, when: str) -> Ended:
        """The failure pause of a test's failure or of a setup or teardown error."""
        return self.pauser.pause_error(nodeid, text, when)

    def report_broken(self, item: pytest.Item, report: pytest.TestReport, exc: Exception) -> None:
        """A pause at a failure could not be made or ended: said, and in the report."""
        self.pauser.report_broken(item, report, exc)

    def _checkpoint(self, *args: Any, **kwargs: Any) -> tuple[Decision, Ended | None]:
        return self.pauser._checkpoint(*args, **kwargs)

    def checkpoint(
        self, task: str, timeout: float | None = None, attachments: Any = None, *,
        choices: Any = None, location: str | None = None,
    ) -> Decision:
        return self.pauser._checkpoint(  # Pauser.checkpoint(), one call less after a pause
            task, timeout, attachments=attachments, choices=choices, location=location
        )[0]

    def ask(
        self, question: str, timeout: float | None = None, *,
        location: str | None = None, nodeid: str | None = None,
    ) -> str | None:
        """ask(): a pause of kind question; its answer (None if none)."""
        return self.pauser.ask(question, timeout, location=location, nodeid=nodeid)

    def agent_checkpoint(self, task: str, timeout: float | None, nodeid: str) -> CheckpointResult:
        """QAMule's agent_checkpoint()."""
        return self.pauser.agent_checkpoint(task, timeout, nodeid)


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
            allow_eval=settings.values["pause_allow_eval"],
            argv=[clean(a) for a in sys.argv],  # run.json's "argv", as 0.1.1 (bounded)
        )
    return LivePauseSession(config, settings, store, run, is_worker=workerinput is not None)


def one_line(text: str) -> str:
    """_terminal.one_line (not imported at start for it)."""
    return " ".join(str(text).split())


def start_error(exc: LivePauseError, pause_dir: str) -> str:
    """The runtime's message, naming the directory and --pause-dir."""
    message = one_line(str(exc))
    if pause_dir not in message:
        message = f"{message} (pause directory {pause_dir})"
    if "--pause-dir" not in message:
        message = f"{message}; choose another with --pause-dir DIR"
    return message
