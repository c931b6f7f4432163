"""Type stubs of pytest_live_pause._livepause, the CPython binding of
liblivepause (the pytest-live-pause runtime)."""

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, TypeAlias, TypedDict, final, overload

_Path: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

VERSION: Final[str]
"""The runtime's version (LP_VERSION), e.g. "0.2.0"."""
PROTOCOL_VERSION: Final[int]
"""Version of the pause-directory protocol (LP_PROTOCOL_VERSION)."""
DEFAULT_PAUSE_DIR: Final[str]
"""The default pause directory, "/tmp/pytest-live-pause"."""
ENV_PAUSE_DIR: Final[str]
"""The environment variable naming the pause directory, "PYTEST_LIVE_PAUSE_DIR"."""
ID_MAX: Final[int]
"""Longest valid id, in bytes."""
QAMULE_RESULT_CAP: Final[int]
"""Largest QAMule result file read, in bytes (LP_QAMULE_RESULT_CAP)."""
REQUEST_OUTPUT_CAP: Final[int]
"""Each text of a request's answer is cut to this many encoded bytes."""

#: on_request(type, code, action, args, timeout) -> answer dict (ok,
#: timed_out, repr, stdout, stderr, error, data: JSON text, files)
_OnRequest = Callable[[str, "str | None", "str | None", dict[str, str], float], dict[str, Any]]

class LivePauseError(Exception):
    """An error of the runtime. ``code`` is its stable name, e.g. "LP_ESTALE"."""

    code: str | None

class UnsafeDirectoryError(LivePauseError):
    """The pause directory is a symlink, another user's, or open to group/others (LP_EUNSAFE)."""

class PauseNotFoundError(LivePauseError):
    """No such pause or run (LP_ENOTFOUND)."""

class InvalidArgumentError(LivePauseError, ValueError):
    """A bad argument: id, option value, or an option not fitting the pause's kind (LP_EINVAL, LP_EKIND)."""

class _Attachment(TypedDict):
    """One attachment, as Run.attach() returns it and Pause.wait() reports
    the resumer's: path is its verified blob in the run's blob store."""

    name: str
    sha256: str
    size: int
    content_type: str
    source: Literal["test", "capture", "resume"]
    path: str

class _Resolution(TypedDict):
    """How a pause ended, as returned by Pause.wait() and Pause.claim()."""

    outcome: Literal["resumed", "timed_out", "aborted"]
    by: str | None
    result: bool | None
    reason: str | None
    failure_reason: str | None
    command_json: str | None
    action: Literal["resume", "abort", "timeout"]
    token: str | None
    ignored_json: str | None
    own: bool
    warning: str | None
    value: str | None
    attachments: list[_Attachment]

@final
class Store:
    """An opened (created with ``create``) pause directory."""

    def __new__(cls, path: _Path | None = None, create: bool = True) -> Store: ...
    @property
    def path(self) -> str: ...
    def published(self, name: str, /) -> bool:
        """Whether a client file of that name ("serve.json") is published now."""
    def resume(
        self,
        ref: _Path,
        *,
        action: Literal["resume", "abort"] = "resume",
        failure_reason: str | None = None,
        result: bool | None = None,
        reason: str | None = None,
        value: str | None = None,
        take_timeout: float = 0.0,
        by: str | None = None,
    ) -> None:
        """Resume or abort a pause from this process, as the CLI does."""

@final
class Run:
    """A run in a Store: started, or joined (``join=True``) by an xdist worker."""

    def __new__(
        cls,
        store: Store,
        run_id: str | None = None,
        worker_id: str | None = None,
        join: bool = False,
        cwd: _Path | None = None,
        extra_json: str | None = None,
        argv: Sequence[str] | None = None,
        rootdir: str | None = None,
        allow_eval: bool = False,
    ) -> Run: ...
    @property
    def run_id(self) -> str: ...
    @property
    def store(self) -> Store: ...
    @property
    def joined(self) -> bool: ...
    def end(self, exitstatus: int) -> None: ...
    def event(self, name: str, fields_json: str | None = None) -> None: ...
    def set_requests(self, allow_eval: bool, actions: Sequence[str]) -> None:
        """What pauses begun after this offer: eval/exec with allow_eval, and
        the named actions (the pause file's "requests")."""
    def failure_quota(self, max: int) -> tuple[bool, bool]:
        """--pause-max: count one failure against the run's budget;
        (allowed, first_refused)."""
    def progress(self, passed: int, failed: int, errors: int, skipped: int, xfailed: int,
                 xpassed: int, collected: int) -> None:
        """Record the run's test counts so far (collected -1: unknown)."""
    def checkpoint_mocked(self, nodeid: str, task: str, result: bool | None) -> None:
        """Log "checkpoint_mocked" (nodeid, task, result)."""
    def pause(
        self,
        kind: Literal["failure", "checkpoint", "question"],
        nodeid: str,
        *,
        task: str | None = None,
        original_failure: str | None = None,
        timeout: float = math.inf,
        extra_json: str | None = None,
        choices: Sequence[str] | None = None,
        location: str | None = None,
        attachments: Sequence[_Attachment] | None = None,
    ) -> Pause: ...
    def abort(self, pause_id: str | None, nodeid: str | None, reason: str | None) -> None:
        """Stop the run (aborted.json, event run_aborted), once."""
    def aborted(self) -> tuple[str, str | None] | None:
        """(nodeid, reason) once the run was stopped by abort(), else None."""
    def attach(
        self,
        path: _Path,
        *,
        name: str | None = None,
        source: Literal["test", "capture"] = "test",
        max_size: int = 0,
    ) -> _Attachment:
        """Copy the file into the run's blob store; its attachment."""

@final
class Pause:
    """A pending pause (from Run.pause(); not instantiable directly)."""

    @property
    def pause_id(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def resume_hint(self) -> str: ...
    @property
    def run(self) -> Run: ...
    @overload
    def wait(
        self,
        on_rejected: Callable[[str], object] | None = None,
        stop: None = None,
        on_request: _OnRequest | None = None,
    ) -> _Resolution: ...
    @overload
    def wait(
        self,
        on_rejected: Callable[[str], object] | None,
        stop: Callable[[], object],
        on_request: _OnRequest | None = None,
    ) -> _Resolution | None: ...
    @overload
    def wait(
        self,
        on_rejected: Callable[[str], object] | None = None,
        *,
        stop: Callable[[], object],
        on_request: _OnRequest | None = None,
    ) -> _Resolution | None:
        """Block (GIL released) until resumed or timed out. An exception raised
        meanwhile by a signal handler or on_rejected propagates with the pause
        still pending; end it with claim(). stop() is asked before the wait
        and whenever it wakes (after signal handlers ran, at least every
        50 ms): when true, wait() returns None with the pause still pending."""
    @overload
    def wait(
        self,
        on_rejected: Callable[[str], object] | None = None,
        stop: Callable[[], object] | None = None,
        on_request: _OnRequest | None = None,
        *,
        qamule: Any,
    ) -> dict[str, Any]:
        """QAMule mode: when stop() says the resume signal came, the runtime
        reads the result file and claims the pause; either way the ending in
        QAMule's terms (resolution, outcome, status, message, payload_line,
        has_result, lines; checkpoints: checkpoint_outcome, result, reason)."""
    def claim(self, by: str, fields_json: str | None = None) -> _Resolution:
        """Resume the pause from this process (by is provenance only); if
        another resolver won, its outcome."""
    def abort(self, signal: str | None = None) -> _Resolution:
        """End the pause as aborted; if another resolver won, its outcome."""

class _QamuleReading(TypedDict):
    """A QAMule result file as read by qamule_read_result()."""

    status: Literal["ok", "missing_result", "invalid_result"]
    message: str | None
    result: bool | None
    reason: str | None
    payload: dict[str, Any] | None

def qamule_prepare_dir(result_dir: _Path) -> None:
    """Create result_dir (0700) if missing and verify it (UnsafeDirectoryError
    naming the fix: a symlink, another user's, writable by group or others,
    or open to them inside a world-writable parent such as /tmp)."""

def qamule_request(result_dir: _Path) -> tuple[str, str]:
    """qamule_prepare_dir(result_dir); return (request_id, result_path):
    32 hex digits and "<result_dir>/<request_id>.json"."""

@final
class Notify:
    """A --pause-notify command (from notify_spawn(); not instantiable)."""

    @property
    def pid(self) -> int: ...
    def poll(self) -> tuple[Literal["running", "ok", "failed"], str | None]:
        """What became of it so far, without waiting."""

def notify_spawn(
    argv: Sequence[str],
    pause_id: str,
    kind: str,
    nodeid: str,
    run_id: str,
    pause_dir: str,
    bound: float,
) -> Notify:
    """Start argv (no shell) with the pause's PYTEST_LIVE_PAUSE_* variables;
    killed after bound seconds and reaped by the runtime."""

def qamule_event_line(request: Any, details: str, timeout: float) -> str:
    """The QAMULE_PAUSE_EVENT line of request's pause (kind, nodeid,
    request_id, result_path, signal_name, pid)."""

def qamule_pause_fields(request: Any, /) -> str:
    """The fields a QAMule-mode pause adds to its pause file (extra_json)."""

def qamule_read_result(
    path: _Path, kind: Literal["failure", "checkpoint"]
) -> _QamuleReading:
    """Read a QAMule result file with QAMule's rules (the runtime validates it:
    a verified directory, no symlink, a regular file of this user, size-capped,
    a strict JSON object; checkpoints: boolean result, optional string reason,
    nothing else). The file is consumed: removed once read."""

def default_pause_dir(explicit: _Path | None = None) -> str:
    """explicit, else $PYTEST_LIVE_PAUSE_DIR, else /tmp/pytest-live-pause."""

def validate_id(id: str, what: str = "id") -> None:
    """Raise InvalidArgumentError unless id is a valid id."""
def terminal_safe(text: str | bytes, multiline: bool = False) -> str:
    """text made safe to print on a terminal (never raises for its content).

    TAB, LF, CR become ``\\t`` ``\\n`` ``\\r`` (TAB and LF are kept with
    ``multiline=True``); other C0 controls, DEL and each byte of invalid
    UTF-8 (surrogate-escaped bytes, NUL included) ``\\xHH``; C1 controls,
    U+2028, U+2029, the bidirectional controls and other lone surrogates
    ``\\uHHHH``. Anything else is unchanged."""

def shell_quote(word: str) -> str:
    """word quoted for a POSIX shell (unchanged when it is only
    ``[A-Za-z0-9@%+:,./_-]``); ValueError for a NUL."""

def attachments_fit(attachments: Sequence[_Attachment], /) -> tuple[int, str | None]:
    """How many of the first attachments fit one pause, and why not all."""

ATTACH_SIZE_DEFAULT: int

def parse_timeout(value: str | float, what: str = "timeout") -> float:
    """The runtime's rule for a pause timeout: seconds from 0 (times out at
    once) to 1e9, or inf (waits until resumed); else InvalidArgumentError."""
