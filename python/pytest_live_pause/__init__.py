"""pytest-live-pause: pause a live pytest process, inspect it, resume it.

A test pauses explicitly with :func:`checkpoint` (or the ``live_pause``
fixture), or automatically after a call-phase failure with
``pytest --pause-on-failure``. Another process resumes it with
``pytest-live-pause resume <pause_id>``. The pytest side lives in
:mod:`pytest_live_pause.plugin`; the pause directory is handled by the C
runtime through :mod:`pytest_live_pause._livepause`.

Importing this package does not import pytest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _livepause
from ._eval import ActionResult, action
from ._livepause import (
    InvalidArgumentError,
    LivePauseError,
    PauseNotFoundError,
    UnsafeDirectoryError,
)

if TYPE_CHECKING:
    from .plugin import LivePauseSession

__version__: str = _livepause.VERSION

__all__ = [
    "ActionResult",
    "Decision",
    "InvalidArgumentError",
    "LivePauseError",
    "PauseNotFoundError",
    "UnsafeDirectoryError",
    "__version__",
    "action",
    "attach",
    "checkpoint",
]


@dataclass(frozen=True)
class Decision:
    """The verdict a checkpoint returns.

    result: ``True``/``False`` as given by ``resume --result true|false``,
    ``None`` for ``--result none``, a timeout, or an abort.
    reason: the ``--reason`` text, ``"Mock"`` for mocked checkpoints, or None.
    outcome: ``"resumed"``, ``"timed_out"``, ``"mocked"`` or ``"aborted"``.
    pause_id: the pause's id, None for mocked checkpoints.
    failure_reason: the ``--failure-reason`` text of the resume command, or
    None (a field of 0.1.1's ResumeDecision).
    attachments: the paths of the files the resumer attached (``resume
    --attach FILE``), each in the run's blob store and verified; () if none.
    """

    result: bool | None
    reason: str | None
    outcome: str
    pause_id: str | None
    failure_reason: str | None = None
    attachments: tuple[str, ...] = ()


# The session of the pytest run in progress, set by the plugin between its
# pytest_configure and pytest_unconfigure; the only module-level state, so
# that the plain function checkpoint() can find the run.
_active: LivePauseSession | None = None


def _activate(session: LivePauseSession) -> LivePauseSession | None:
    """Make session the active one; return the one it replaces."""
    global _active
    previous, _active = _active, session
    return previous


def _deactivate(session: LivePauseSession, previous: LivePauseSession | None) -> None:
    """Undo _activate(session), restoring previous (nested pytest runs)."""
    global _active
    if _active is session:
        _active = previous


def checkpoint(task: str, timeout: float | None = None, attachments: Any = None) -> Decision:
    """Pause the running test until a person or agent answers, and return it.

    Prints the pause (``PAUSED (checkpoint): <nodeid>``, the task, the
    pause_id and the resume command) and waits for
    ``pytest-live-pause resume <pause_id> --result true|false|none
    [--reason TEXT]``, or for ``timeout`` seconds (None: the session's
    ``--pause-timeout``; 0 times out at once, ``math.inf`` waits until
    resumed). With
    ``--pause-checkpoint-mock`` it returns at once with the mocked result.
    attachments: paths of files to attach to this pause (copied into the
    run's blob store now; a missing, special or oversized file raises
    InvalidArgumentError before anything pauses).

    Raises RuntimeError outside a pytest run with pytest-live-pause active.
    """
    session = _active
    if session is None:
        raise RuntimeError(
            "checkpoint() needs a pytest run with pytest-live-pause active: "
            "call it from a test or fixture while pytest runs with the plugin "
            "loaded (it is not, under -p no:pytest_live_pause or outside pytest)"
        )
    return session.checkpoint(task, timeout, attachments)


def attach(path: Any, name: str | None = None) -> dict[str, Any]:
    """Attach the file at path (copied now, its bytes as they are) to the
    running test's next pause, under ``name`` (default: its base name);
    the same as ``live_pause.attach()``. Returns the attachment (name,
    sha256, size, content_type, source, path of the blob). Raises
    InvalidArgumentError for a missing, special or oversized file, and
    RuntimeError outside a pytest run with pytest-live-pause active."""
    session = _active
    if session is None or getattr(session, "evidence", None) is None:
        raise RuntimeError(
            "attach() needs a pytest run with pytest-live-pause active, from a test"
        )
    return dict(session.evidence.attach(session.current_item, path, name))
