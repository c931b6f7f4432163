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

This module holds what only the adapter can do: the options' values, the
lines printed (``json.dumps`` with sorted keys and ``ensure_ascii`` off of
data the plugin holds), and the Python signal handler. The request (result
directory, request id, result path) and the reading and validation of the
result file are the C runtime's (``_livepause.qamule_request``,
``_livepause.qamule_read_result``); nothing here opens a file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_live_pause import _livepause
from pytest_live_pause._qamule_defaults import (  # noqa: F401 (re-exported)
    DEFAULT_SIGNAL,
    DEFAULT_TIMEOUT,
    MODE,
    default_result_dir,
)

if TYPE_CHECKING:
    from pytest_live_pause._livepause import Pause
    from pytest_live_pause._livepause import _Resolution as Resolution

SEP = "=" * 60

EVENT_PREFIX = "QAMULE_PAUSE_EVENT"
RESUME_PREFIX = "QAMULE_PAUSE_RESUME"
WARNING_PREFIX = "QAMULE_PAUSE_WARNING"
RESULT_PREFIX = "QAMULE_PAUSE_RESULT"

_HEADINGS = {
    "failure": "test failed, device state preserved.",
    "checkpoint": "agent checkpoint requested.",
}
# Signals a handler cannot catch: refused at start.
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}


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


#: What a JSON dump leaves raw that could drive a terminal or split a line
#: for a reader (DEL, C1 controls, U+2028/U+2029, bidirectional controls),
#: as \uXXXX escapes: inside a JSON string they mean the same value.
_JSON_UNSAFE = {c: f"\\u{c:04x}" for c in (
    0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
    0x2028, 0x2029, *range(0x2066, 0x206A))}


#: The most of a result's payload recorded in the claim (a resume command,
#: capped at 64 KiB): a larger one (result files go up to 1 MiB, as QAMule
#: delivered them) is recorded by size, and still reaches the report.
CLAIM_PAYLOAD_ROOM = 48 * 1024


def line(prefix: str, fields: dict[str, Any]) -> str:
    """One machine line: prefix, a space, the JSON object on one line (as
    QAMule prints it, with the characters of _JSON_UNSAFE escaped)."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return f"{prefix} " + text.translate(_JSON_UNSAFE)


def _seconds(timeout: float) -> int | float:
    return int(timeout) if float(timeout).is_integer() else timeout  # inf stays inf


class SignalGuard:
    """The resume signal's handler for a whole QAMule-mode session (main
    thread): during a pause it tells that pause; outside one it does
    nothing, so that a late or repeated signal (an agent that resumed
    with both channels, a script run twice) never ends the run by the
    signal's default action. The previous handler comes back at the end
    of the session."""

    def __init__(self, sig: signal.Signals) -> None:
        self.signal = sig
        self.request: Request | None = None
        self._handler = self._on_signal  # one bound method, to compare with
        self._previous: Any = None
        self.installed = False

    def _on_signal(self, signum: int, frame: object) -> None:
        request = self.request
        if request is not None:
            request._received = True

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self._previous = signal.getsignal(self.signal)
            signal.signal(self.signal, self._handler)
        except (ValueError, OSError):
            return
        self.installed = True

    def active(self) -> bool:
        """Still the handler (a test may have installed its own)."""
        return self.installed and signal.getsignal(self.signal) == self._handler

    def uninstall(self) -> None:
        if not self.installed:
            return
        self.installed = False
        if signal.getsignal(self.signal) == self._handler:
            previous = self._previous
            # None: a handler set outside Python, which cannot be put back.
            signal.signal(self.signal, previous if previous is not None else signal.SIG_DFL)


@dataclass
class Ending:
    """How a QAMule-mode pause ended.

    outcome is who ended it: ``signal``, ``timeout``, ``cli``, ``file``.
    After the signal, status and message are the result file's reading
    (``ok``, ``missing_result``, ``invalid_result``) and payload its object.
    """

    resolution: Resolution
    outcome: str
    status: str | None = None
    message: str | None = None
    payload: Any = None


class Request:
    """One QAMule pause: its request id, result path and signal."""

    def __init__(self, settings: QamuleSettings, kind: str, nodeid: str) -> None:
        self.settings = settings
        self.kind = kind
        self.nodeid = nodeid
        self.request_id, self.result_path = _livepause.qamule_request(settings.result_dir)
        self.pid = os.getpid()
        self._received = False

    @property
    def signal_name(self) -> str:
        return self.settings.signal.name

    def pause_fields(self) -> str:
        """The fields added to the native pause file (extra_json)."""
        return json.dumps(
            {
                "request_id": self.request_id,
                "result_path": self.result_path,
                "signal": self.signal_name,
            }
        )

    # ----- what is printed

    def pause_lines(
        self,
        details: str,
        context: dict[str, Any],
        timeout: float,
        resume_hint: str,
        signal_caught: bool = True,
    ) -> list[str]:
        """QAMule's block, then the QAMULE_PAUSE_EVENT line (the last line
        while paused, as QAMule's monitor expects)."""
        name, pid = self.signal_name, self.pid
        seconds = _seconds(timeout)
        lines = [
            SEP,
            f"PAUSED - {_HEADINGS[self.kind]}",
            f"Reason: {self.kind}",
            f"Test: {_livepause.terminal_safe(self.nodeid)}",
            SEP,
            f">>> Send {name} to continue: `kill -{name} {pid}`",
            f">>> Write JSON result to: {self.result_path}",
            f">>> Auto-resumes in {seconds}s ..."
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
        event = {
            "context": context,
            "event": "qamule.pause",
            "nodeid": self.nodeid,
            "pid": pid,
            "reason": self.kind,
            "request_id": self.request_id,
            "result_path": self.result_path,
            "signal": name,
            "timeout_sec": None if math.isinf(timeout) else seconds,
        }
        lines.append(line(EVENT_PREFIX, event))
        return lines

    def end_lines(self, ending: Ending) -> list[str]:
        """QAMULE_PAUSE_RESUME, then a warning (a result that cannot be
        used) or, for a failure, the result's payload."""
        res = ending.resolution
        if ending.outcome == "signal":
            has_result = ending.status != "missing_result"
        elif ending.outcome == "timeout":
            has_result = False
        elif self.kind == "checkpoint":
            has_result = res["result"] is not None
        else:
            has_result = res["failure_reason"] is not None
        lines = [
            line(
                RESUME_PREFIX,
                {
                    "event": "qamule.resume",
                    "has_result": has_result,
                    "nodeid": self.nodeid,
                    "outcome": ending.outcome,
                    "reason": self.kind,
                    "request_id": self.request_id,
                    "result_path": self.result_path,
                    "signal": self.signal_name,
                },
            )
        ]
        if ending.outcome != "signal":
            return lines
        warn = ending.status == "invalid_result" or (
            ending.status == "missing_result" and self.kind == "checkpoint"
        )
        if warn:
            lines.append(
                line(
                    WARNING_PREFIX,
                    {
                        "event": "qamule.pause_warning",
                        "outcome": ending.status,
                        "pause_reason": self.kind,
                        "reason": ending.message,
                        "request_id": self.request_id,
                        "result_path": self.result_path,
                    },
                )
            )
        elif ending.status == "ok" and self.kind == "failure":
            lines.append(
                line(
                    RESULT_PREFIX,
                    {
                        "event": "qamule.pause_result",
                        "nodeid": self.nodeid,
                        "payload": ending.payload,
                        "reason": "failure",
                        "request_id": self.request_id,
                    },
                )
            )
        return lines

    # ----- the signal

    def stop(self) -> bool:
        """For Pause.wait(stop=...): the resume signal arrived."""
        return self._received

    @contextlib.contextmanager
    def catching_signal(self, guard: SignalGuard | None = None) -> Iterator[bool]:
        """Catch the resume signal while paused; yields whether it is caught
        (only the main thread can). The handler only notes the signal: the
        runtime's wait wakes on it (set_wakeup_fd) and asks stop(). With
        the session's guard in place, the guard tells this request;
        otherwise a handler is installed for the pause and the previous
        one comes back afterwards."""
        sig = self.settings.signal
        if guard is not None and guard.active():
            guard.request = self
            try:
                yield True
            finally:
                guard.request = None
            return
        installed = False
        previous: Any = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(sig)

            def on_signal(signum: int, frame: object) -> None:
                self._received = True

            try:
                signal.signal(sig, on_signal)
                installed = True
            except (ValueError, OSError):
                installed = False
        try:
            yield installed
        finally:
            if installed:
                # None: a handler set outside Python, which cannot be put
                # back; the default action is the closest.
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)

    def claim(self, pause: Pause) -> Ending:
        """After the signal: read the result file (the runtime validates it)
        and claim the pause with by "signal". If another resolver claimed it
        first (the CLI), that outcome is taken and reported instead."""
        reading = _livepause.qamule_read_result(self.result_path, self.kind)
        status, message, payload = reading["status"], reading["message"], reading["payload"]
        fields: dict[str, Any] = {"signal": self.signal_name}
        if self.kind == "checkpoint":
            if status == "ok":
                fields["result"], fields["reason"] = reading["result"], reading["reason"]
                raw = (reading["reason"] or "").encode()
                if len(raw) > CLAIM_PAYLOAD_ROOM:  # recorded cut; the test gets it all
                    cut = raw[:CLAIM_PAYLOAD_ROOM].decode("utf-8", "ignore")
                    fields["reason"] = f"{cut} [cut: {len(raw)} bytes]"
            else:
                fields["result"], fields["reason"] = None, message
        else:
            fields["payload"] = payload
            size = len(json.dumps(payload, ensure_ascii=False).encode())
            if size > CLAIM_PAYLOAD_ROOM:  # the test and report still get it all
                fields["payload"] = {"omitted_bytes": size, "result_path": self.result_path}
        res = pause.claim("signal", json.dumps(fields, ensure_ascii=False))
        return self.ending(res, status=status, message=message, payload=payload)

    def ending(
        self,
        res: Resolution,
        *,
        status: str | None = None,
        message: str | None = None,
        payload: Any = None,
    ) -> Ending:
        # the action decides timeout/abort; a resume is named by its provenance
        outcome = {"timeout": "timeout", "abort": "abort"}.get(res["action"]) or res["by"] or "file"
        if outcome != "signal":
            return Ending(res, outcome)
        return Ending(res, outcome, status, message, payload)

    def checkpoint_result(self, ending: Ending) -> CheckpointResult:
        """The value agent_checkpoint() returns for this pause."""
        res = ending.resolution
        outcome = ending.outcome
        if outcome == "signal" and ending.status != "ok":
            outcome = ending.status or outcome
        result, reason = res["result"], res["reason"]
        if outcome == "signal" and isinstance(ending.payload, dict):
            reason = ending.payload.get("reason", reason)  # uncut (see claim())
        if outcome == "timeout":
            result, reason = None, None
        return CheckpointResult(
            request_id=self.request_id,
            outcome=outcome,
            result_path=self.result_path,
            resume_signal=self.signal_name,
            result=result,
            reason=reason,
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
    "line",
    "parse_signal",
]
