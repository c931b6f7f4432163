"""A pause of one session, from its beginning to its end: the pytest side
(the terminal while paused, pytest-timeout's timer, SIGTERM and Ctrl-C
while paused: the pause is claimed as aborted, and in QAMule mode the
resume signal), and where its decision goes (:mod:`_outcome`, :mod:`_abort`).

Imported at a session's first pause (or failed report, or checkpoint),
never at start: a session that does not pause does not pay for it
(docs/performance.md, "The no-pause overhead"). The session's state is
:class:`pytest_live_pause._session.LivePauseSession`'s; a :class:`Pauser`
is its pausing half. Pure pytest glue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from signal import SIGTERM as _SIGTERM
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_live_pause import _abort, _answers, _eval, _livepause, _outcome, _progress, _timeout
from pytest_live_pause._options import NOT_MOCKED
from pytest_live_pause._session import AGENT_CHECKPOINT_NEEDS_QAMULE, EVAL_EXCINFO
from pytest_live_pause._signals import NOT_INSTALLED, Terminated, abort_signal, sigterm_raises
from pytest_live_pause._signals import set_handler as _set_handler
from pytest_live_pause._terminal import attachment_lines, one_line, pause_block, resumed_text, safe

if TYPE_CHECKING:
    from pytest_live_pause import Decision, qamule
    from pytest_live_pause._livepause import Pause
    from pytest_live_pause._livepause import _Resolution as Resolution
    from pytest_live_pause._session import LivePauseSession
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


class Pauser:
    """The pausing half of a session (made at its first pause)."""

    def __init__(self, s: LivePauseSession) -> None:
        self.s = s
        self._waited = False
        #: the last pause that ended, kept until the next one begins: its
        #: release (lp_pause_free, only memory once it ended: its spare
        #: file was consumed) and the GIL's release around it are not on
        #: the path of a resume (~60 us after a pause, bench/epilogue.py)
        self._spent: Pause | None = None

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
        _progress.write(self.s)  # the counts as they are while it waits
        request = None
        if self.s.settings.qamule is not None and kind != "question":
            request = _qamule().Request(self.s.settings.qamule, kind, nodeid)
        args = (kind, nodeid, timeout, request, task, original_failure, attachments, details,
                choices, location)
        paused = _timeout.paused(self.s.config, self.s.current_item, self.s.terminal.lines)
        if paused is None:  # no pytest-timeout
            return self._pause_guarded(*args)
        with paused:
            return self._pause_guarded(*args)

    def _pause_guarded(
        self,
        kind: str,
        nodeid: str,
        timeout: float,
        request: qamule.Request | None,
        task: str | None,
        original_failure: str | None,
        attachments: Any,
        details: Sequence[str],
        choices: list[str] | None,
        location: str | None,
    ) -> Ended:
        """_pause() within pytest-timeout's pause. Every context manager
        and call left after the wait costs ~10x as much as in a warm loop
        (the blocked process's caches are cold): the handler of SIGTERM
        comes back by a plain try/finally, and what can be is made before
        the wait."""
        # SIGTERM raises from before the pause exists to after it ended, so
        # that no signal finds it pending without the abort claim in place
        self._spent = None
        previous = sigterm_raises()
        try:
            # the test's, checkpoint()'s and the capture hooks' files (_attach)
            listed = self.s.evidence.for_pause(self.s.current_item, kind, attachments)
            try:
                self.s.run.set_requests(self.s.allow_eval, _eval.action_names())
                pause = self.s.run.pause(
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
                with self.s.terminal.uncaptured():  # it inherits the real stderr
                    poll = self.s.control.notify(pause, kind, nodeid)
                if request is None:
                    details = [*_answers.block_lines(kind, task, choices, location), *details]
                    details = [*details, *attachment_lines(listed)]
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
            self._spent = pause
            if request is None:
                if listed or res.get("attachments"):  # else nothing to remember
                    self.s.evidence.record(self.s.current_item, listed, res)
                return Ended(pause.pause_id, res)
            self.s.evidence.record(self.s.current_item, listed, ending["resolution"])
            return Ended(pause.pause_id, ending["resolution"], request, ending)
        finally:
            if previous is not NOT_INSTALLED:
                _set_handler(_SIGTERM, previous)

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
        (--pause-notify's) runs while waiting and once after. (_block()'s
        contract, written out: what follows the wait is made before it.)"""
        block = pause_block(kind, nodeid, details, self.s.worker_id, pause, timeout)
        tail = f"): {safe(nodeid)}\n"  # of the RESUMED line
        resumed = self.s.terminal.resumed_writer(self.s.current_item)
        on_rejected, on_request = self._rejected(pause), self._on_request(kind)
        with self.s.terminal.uncaptured():
            self.s.terminal.lines(block)
            res = pause.wait(on_rejected=on_rejected, stop=poll, on_request=on_request)
            self._waited = True
            if poll is not None:
                poll()
            resumed(resumed_text(kind, tail, res))
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
        say = self.s.terminal.lines
        lead = self.s.terminal.lead

        assert self.s.signal_guard is not None
        with self.s.terminal.uncaptured():
            # The handler is in place before the event line tells the
            # agent where to send the signal.
            with self.s.signal_guard.catching(request.on_signal) as caught:
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
            self.s.terminal.restore_progress_prefix(self.s.current_item)
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
            self.s.terminal.lines(
                [f"live-pause: rejected command for {pause_id}: {safe(one_line(message))}"]
            )

        return on_rejected

    def _on_request(self, kind: str) -> Callable[..., dict[str, Any]]:
        """The handler of eval, exec and actions while paused (_eval)."""
        item = self.s.current_item
        excinfo = item.stash.get(EVAL_EXCINFO, None) if item is not None else None
        return _eval.handler(item, kind, excinfo, (KeyboardInterrupt, Terminated))  # type: ignore[arg-type]

    def _abort(self, pause: Pause, nodeid: str, exc: BaseException) -> None:
        try:
            res = pause.abort(abort_signal(exc))
        except Exception as claim_exc:  # noqa: BLE001 - never hide the original exception
            self.s.terminal.lines([f"live-pause: could not abort pause {pause.pause_id}: {claim_exc}"])
            return
        self.s.terminal.lines([f"RESUMED ({res['outcome']}): {safe(nodeid)}"])

    # ----- failures

    def pause_failure(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Pause after a failure (or a setup or teardown error); its decision
        goes into the report. Any error is the caller's to report (see
        plugin.py's pytest_runtest_logreport)."""
        ended = self.pause_error(report.nodeid, report.longreprtext, report.when)
        _outcome.failure_outcome(item, report, ended)
        if _abort.was_aborted(ended):
            _abort.failure_aborted(item, report, ended, self.s)

    def pause_error(self, nodeid: str, text: str, when: str) -> Ended:
        """The failure pause of a test's failure (when "call") or of an
        error in its setup or teardown, with the failure's text."""
        return self._pause(
            "failure",
            _livepause.storable_text(nodeid),
            self.s.settings.timeout,
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
            with self.s.terminal.uncaptured():
                self.s.terminal.lines([f"live-pause: pause failed for {safe(nodeid)}: {safe(message)}"])
                self.s.terminal.restore_progress_prefix(self.s.current_item)
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
        task, seconds = _outcome.checkpoint_args(task, timeout, self.s.settings.timeout)
        nodeid = _livepause.storable_text(nodeid or self.s.current_nodeid())
        if self.s.settings.mock is not NOT_MOCKED:
            self.s.run.checkpoint_mocked(nodeid, task, self.s.settings.mock)
            return _outcome.mocked_decision(self.s.settings.mock), None
        ended = self._pause(
            kind, nodeid, seconds, task=task, attachments=attachments, choices=choices,
            location=_answers.location(self.s.config.rootpath, location),
        )
        if _abort.was_aborted(ended):
            _abort.raise_aborted(self.s, ended, nodeid)
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
        q = self.s.settings.qamule
        if q is None:
            raise RuntimeError(AGENT_CHECKPOINT_NEEDS_QAMULE)
        decision, ended = self._checkpoint(task, timeout, nodeid)
        if ended is None or ended.request is None or ended.ending is None:  # mocked
            return _qamule().mocked_result(q, decision)
        return ended.request.checkpoint_result(ended.ending)
