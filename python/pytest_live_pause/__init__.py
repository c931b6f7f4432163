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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _livepause
from ._livepause import (
    InvalidArgumentError,
    LivePauseError,
    PauseNotFoundError,
    UnsafeDirectoryError,
)

if TYPE_CHECKING:
    from ._decision import Decision
    from ._eval import ActionResult, action
    from .plugin import LivePauseSession


def __getattr__(name: str) -> Any:
    """``Decision`` (:mod:`._decision`), ``action`` and ``ActionResult``
    (named actions, :mod:`._eval`), imported on first use: a run that
    never pauses and defines no action does not pay for them at start
    (docs/performance.md, "The no-pause overhead")."""
    if name == "Decision":
        from ._decision import Decision

        return Decision
    if name in ("action", "ActionResult"):
        from . import _eval

        return getattr(_eval, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__version__: str = _livepause.VERSION

__all__ = [
    "Aborted",
    "ActionResult",
    "Decision",
    "InvalidArgumentError",
    "LivePauseError",
    "PauseNotFoundError",
    "UnsafeDirectoryError",
    "__version__",
    "action",
    "abort",
    "ask",
    "attach",
    "checkpoint",
    "resume",
]


class Aborted(Exception):
    """Raised by :func:`checkpoint` and :func:`ask` when their pause was
    ended by ``pytest-live-pause abort`` (or :func:`abort`): the test fails
    with the reason, its teardown runs, and the run stops (no further test
    starts; pytest exits with status 2).

    reason: the ``--reason`` text, or None. pause_id: the pause's id.
    """

    def __init__(self, reason: str | None, pause_id: str | None = None) -> None:
        super().__init__(f"aborted: {reason if reason else 'no reason given'}")
        self.reason = reason
        self.pause_id = pause_id


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


def _caller() -> str:
    """"file:line" of the code that called the public function calling
    this one (the test, a fixture, a helper of theirs)."""
    import sys

    frame = sys._getframe(2)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def checkpoint(
    task: str,
    timeout: float | None = None,
    attachments: Any = None,
    choices: Sequence[str] | None = None,
) -> Decision:
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
    choices: the values a resumer may give with ``resume <pause_id> --value
    CHOICE`` (any other is refused, nothing written); the Decision's
    ``.value`` is the one given (``--result`` stays available). The pause
    records where it was called from (``location``: file:line).

    Raises :class:`Aborted` when the pause is ended by
    ``pytest-live-pause abort``; RuntimeError outside a pytest run with
    pytest-live-pause active.
    """
    return _active_session("checkpoint()").checkpoint(
        task, timeout, attachments, choices=choices, location=_caller()
    )


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


def ask(question: str, timeout: float | None = None) -> str | None:
    """Ask the person or agent a question and return the answer.

    Pauses the running test (a pause of kind ``question``; ``ls``, ``show``
    and ``watch`` print the question) until ``pytest-live-pause resume
    <pause_id> --value TEXT`` answers it: returns TEXT, or None when it
    was resumed without a value or timed out (``timeout`` as for
    :func:`checkpoint`). Also the ``live_pause`` fixture's ``.ask()``.

    Raises :class:`Aborted` when the pause is ended by
    ``pytest-live-pause abort``; RuntimeError outside a pytest run with
    pytest-live-pause active.
    """
    return _active_session("ask()").ask(question, timeout, location=_caller())


def _active_session(what: str) -> LivePauseSession:
    session = _active
    if session is None:
        raise RuntimeError(
            f"{what} needs a pytest run with pytest-live-pause active: "
            "call it from a test or fixture while pytest runs with the plugin "
            "loaded (it is not, under -p no:pytest_live_pause or outside pytest)"
        )
    return session


def resume(
    pause: str,
    *,
    failure_reason: str | None = None,
    result: bool | None = None,
    reason: str | None = None,
    value: str | None = None,
    pause_dir: str | None = None,
    take_timeout: float = 0.0,
) -> None:
    """Resume a pause (its id or pause file) from Python, as ``pytest-live-pause
    resume`` does (the same checks, the same claim; waits until the paused
    process has taken it). ``result`` is given only when not None (a
    checkpoint's ``--result none`` is the default). Raises
    InvalidArgumentError (nothing written) or LivePauseError with ``.code``
    (``LP_ERESUMED``, ``LP_ETIMEDOUT``, ``LP_EABORTED``, ``LP_ESTALE``,
    ``LP_ENOTTAKEN``, ``LP_ENOTFOUND``...)."""
    kwargs = {} if result is None else {"result": result}
    _livepause.Store(pause_dir, create=False).resume(
        pause,
        failure_reason=failure_reason,
        reason=reason,
        value=value,
        take_timeout=take_timeout,
        **kwargs,
    )


def abort(
    pause: str,
    reason: str | None = None,
    *,
    pause_dir: str | None = None,
    take_timeout: float = 0.0,
) -> None:
    """Abort a pause (its id or pause file) from Python, as ``pytest-live-pause
    abort`` does: the pause ends aborted, the paused test fails with
    ``aborted: <reason>`` and its run stops. Raises as :func:`resume`."""
    _livepause.Store(pause_dir, create=False).resume(
        pause, action="abort", reason=reason, take_timeout=take_timeout
    )
