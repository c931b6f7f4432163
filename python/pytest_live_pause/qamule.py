"""QAMule compatibility (``--pause-compat=qamule``): the adapter's share.

QAMule projects paused with a conftest plugin resumed by a POSIX signal;
their agent scripts find the last ``QAMULE_PAUSE_EVENT {json}`` line of the
pytest log, may write a JSON result to its ``result_path`` and send its
``signal`` to its ``pid`` (docs/qamule.md). In QAMule mode every pause of
pytest-live-pause speaks that protocol too, on top of the native one: it is
an ordinary pause of the runtime (listed by ``pytest-live-pause ls``,
resumable with ``pytest-live-pause resume``) that also prints QAMule's
block and lines and is resumed by the signal. Exactly one of the two
channels wins, through the runtime's exclusive claim.

The runtime decides and writes (lib/qamule.c, through ``_livepause``): the
request (result directory, request id, result path), the reading of the
result file, the claim the signal makes, what any ending means in QAMule's
terms (outcome, has_result, agent_checkpoint()'s value) and every
``QAMULE_*`` machine line. This module holds what only the adapter can
do: the options' values, the human block, and noting the signal (its
handler is :class:`pytest_live_pause._signals.SignalGuard`).
"""

from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_live_pause import _livepause
from pytest_live_pause._qamule_defaults import (  # noqa: F401 (re-exported)
    DEFAULT_SIGNAL,
    DEFAULT_TIMEOUT,
    MODE,
    default_result_dir,
)
from pytest_live_pause._signals import SignalGuard  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from pytest_live_pause import Decision
    from pytest_live_pause._livepause import Pause

SEP = "=" * 60

_HEADINGS = {
    "failure": "test failed, device state preserved.",
    "checkpoint": "agent checkpoint requested.",
}
# Signals a handler cannot catch: refused at start.
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}

#: How a QAMule-mode pause ended, as the runtime said (Pause.wait(qamule=)):
#: resolution, outcome, status, message, payload_line, has_result, lines,
#: and for checkpoints checkpoint_outcome, result, reason.
Ending = dict


class SignalNameError(ValueError):
    """An unknown or unusable --pause-resume-signal name."""


def parse_signal(name: str) -> signal.Signals:
    """A signal by name: ``SIGUSR1``, also ``USR1`` or ``sigusr1``."""
    key = str(name).strip().upper()
    if key and not key.startswith("SIG"):
        key = "SIG" + key
    sig = getattr(signal.Signals, key, None) if key.isidentifier() else None
    if not isinstance(sig, signal.Signals):
        raise SignalNameError(f"unknown signal {name!r}: give a name such as SIGUSR1 or SIGUSR2")
    if sig in _UNCATCHABLE:
        raise SignalNameError(f"{sig.name} cannot be caught: give a signal such as SIGUSR1")
    return sig


@dataclass(frozen=True)
class QamuleSettings:
    """The QAMule options of a session (only in QAMule mode)."""

    signal: signal.Signals
    result_dir: str  # absolute


@dataclass(frozen=True)
class CheckpointResult:
    """What QAMule's ``agent_checkpoint(task, *, timeout=None)`` returns.

    outcome: ``signal`` (a usable result), ``missing_result``,
    ``invalid_result`` (``reason`` then says why), ``timeout``, ``cli``
    (answered with ``pytest-live-pause resume``), ``file`` (a command file
    written by another tool) or ``mocked`` (``--pause-checkpoint-mock``).
    """

    request_id: str
    outcome: str
    result_path: str | None
    resume_signal: str
    result: bool | None
    reason: str | None


def _seconds(timeout: float) -> int | float:
    return int(timeout) if float(timeout).is_integer() else timeout  # inf stays inf


class Request:
    """One QAMule pause: its request id, result path and signal (the
    attributes the runtime reads: kind, nodeid, request_id, result_path,
    signal_name, pid)."""

    def __init__(self, settings: QamuleSettings, kind: str, nodeid: str) -> None:
        self.settings = settings
        self.kind = kind
        self.nodeid = nodeid
        self.request_id, self.result_path = _livepause.qamule_request(settings.result_dir)
        self.pid = os.getpid()
        self.signal_name = settings.signal.name
        self._received = False

    def pause_fields(self) -> str:
        """The fields added to the native pause file (extra_json)."""
        return _livepause.qamule_pause_fields(self)

    def pause_lines(
        self, details: str, timeout: float, resume_hint: str, signal_caught: bool = True
    ) -> list[str]:
        """QAMule's block, then the QAMULE_PAUSE_EVENT line (the last line
        while paused, as QAMule's monitor expects)."""
        name, pid = self.signal_name, self.pid
        lines = [
            SEP,
            f"PAUSED - {_HEADINGS[self.kind]}",
            f"Reason: {self.kind}",
            f"Test: {_livepause.terminal_safe(self.nodeid)}",
            SEP,
            f">>> Send {name} to continue: `kill -{name} {pid}`",
            f">>> Write JSON result to: {self.result_path}",
            f">>> Auto-resumes in {_seconds(timeout)}s ..."
            if not math.isinf(timeout)
            else ">>> Does not auto-resume (--pause-timeout inf) ...",
            f">>> Or: {resume_hint}",
        ]
        if not signal_caught:
            lines.append(
                f">>> WARNING: {name} cannot be caught outside the main thread "
                "and would end the process: resume with the command above"
            )
        if details:
            lines += ["Details:", *map(_livepause.terminal_safe, details.split("\n"))]
        lines.append(_livepause.qamule_event_line(self, details, timeout))
        return lines

    def end_lines(self, ending: Ending) -> list[str]:
        """QAMULE_PAUSE_RESUME, then a warning (a result that cannot be
        used) or, for a failure, the result's payload."""
        return list(ending["lines"])

    # ----- the signal

    def on_signal(self) -> None:
        """The resume signal arrived (called from its handler): the
        runtime's wait wakes on it (set_wakeup_fd) and asks stop()."""
        self._received = True

    def stop(self) -> bool:
        """For Pause.wait(stop=...): the resume signal arrived."""
        return self._received

    def wait(
        self, pause: Pause, on_rejected: Any, on_request: Any = None, poll: Any = None
    ) -> Ending:
        """Wait for the pause's end by the signal (the runtime then reads
        the result file and claims the pause) or by any other resolver;
        on_request serves eval, exec and actions meanwhile, and poll()
        (--pause-notify's, never true) runs while waiting."""
        stop = self.stop if poll is None else (lambda: poll() or self.stop())
        return pause.wait(
            on_rejected=on_rejected, stop=stop, on_request=on_request, qamule=self
        )

    def checkpoint_result(self, ending: Ending) -> CheckpointResult:
        """The value agent_checkpoint() returns for this pause."""
        return CheckpointResult(
            request_id=self.request_id,
            outcome=ending["checkpoint_outcome"],
            result_path=self.result_path,
            resume_signal=self.signal_name,
            result=ending["result"],
            reason=ending["reason"],
        )


def mocked_result(settings: QamuleSettings, decision: Decision) -> CheckpointResult:
    """agent_checkpoint() under --pause-checkpoint-mock."""
    return CheckpointResult(
        request_id="",
        outcome=decision.outcome,
        result_path=None,
        resume_signal=settings.signal.name,
        result=decision.result,
        reason=decision.reason,
    )


__all__ = [
    "DEFAULT_SIGNAL",
    "DEFAULT_TIMEOUT",
    "MODE",
    "CheckpointResult",
    "Ending",
    "QamuleSettings",
    "Request",
    "SignalGuard",
    "SignalNameError",
    "default_result_dir",
    "mocked_result",
    "parse_signal",
]
