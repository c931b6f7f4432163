"""pytest-timeout and pauses: time spent paused does not count against a
test's ``--timeout`` or the run's ``--session-timeout``.

The plugin's two hook wrappers (plugin.py: they exist only with
pytest-timeout) observe pytest-timeout arming and cancelling a test's
timer; :func:`paused` gives the paused time back. Imported at a pause
only. Pure pytest glue.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest


def _session_expire_key(config: pytest.Config) -> Any:
    """The config.stash key of --session-timeout's deadline (pytest-timeout's,
    a wall-clock time), or None when it is unset: nothing to move."""
    key = getattr(sys.modules.get("pytest_timeout"), "SESSION_EXPIRE_KEY", None)
    if key is None:
        return None
    with contextlib.suppress(Exception):  # a pytest-timeout of another shape
        if config.stash.get(key, 0):
            return key
    return None


def _extend_session_timeout(config: pytest.Config, key: Any, seconds: float) -> None:
    """Move --session-timeout's deadline (stash key `key`) by `seconds`."""
    with contextlib.suppress(Exception):  # a pytest-timeout of another shape
        config.stash[key] = config.stash[key] + seconds


def paused(
    config: pytest.Config,
    item: pytest.Item | None,
    say: Callable[[Sequence[str]], None],
) -> contextlib.AbstractContextManager[None] | None:
    """For the block (a pause): the test's timer is cancelled and armed
    again afterwards with the time that was left, and --session-timeout's
    deadline moves by the time paused. None without pytest-timeout, or with
    neither a timer armed for the test nor a --session-timeout: nothing to
    enter or leave around the pause (its end is on the path of a resume,
    where every call is slow)."""
    cancel = getattr(config.hook, "pytest_timeout_cancel_timer", None)
    if cancel is None:  # no pytest-timeout
        return None
    from pytest_live_pause.plugin import TIMER

    armed = item.stash.get(TIMER, None) if item is not None else None
    session_key = _session_expire_key(config)
    if armed is None and session_key is None:
        return None
    return _paused(config, item, say, cancel, armed, session_key)


@contextlib.contextmanager
def _paused(
    config: pytest.Config,
    item: pytest.Item | None,
    say: Callable[[Sequence[str]], None],
    cancel: Callable[..., Any],
    armed: Any,
    session_key: Any,
) -> Iterator[None]:
    hook = config.hook
    paused_at = time.monotonic()
    if armed is not None:
        settings, started = armed
        remaining = float(settings.timeout) - (paused_at - started)
        cancel(item=item)
    try:
        yield
    finally:
        if session_key is not None:
            _extend_session_timeout(config, session_key, time.monotonic() - paused_at)
        if armed is not None:
            rearm = getattr(settings, "_replace", None)
            if rearm is not None:
                # Time already over makes it fire at once, as it would have.
                hook.pytest_timeout_set_timer(
                    item=item, settings=rearm(timeout=max(remaining, 0.001))
                )
            else:
                say(
                    [
                        "live-pause: could not re-arm pytest-timeout's timer "
                        f"for {item.nodeid} after the pause: it has no timeout now"  # type: ignore[union-attr]
                    ]
                )
