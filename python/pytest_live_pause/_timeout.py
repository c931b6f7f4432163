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


def paused(
    config: pytest.Config,
    item: pytest.Item | None,
    say: Callable[[Sequence[str]], None],
) -> contextlib.AbstractContextManager[None] | None:
    """For the block (a pause): the test's timer is cancelled and armed
    again afterwards with the time that was left, and --session-timeout's
    deadline moves by the time paused. None without pytest-timeout:
    nothing to enter or leave around the pause."""
    cancel = getattr(config.hook, "pytest_timeout_cancel_timer", None)
    if cancel is None:  # no pytest-timeout
        return None
    return _paused(config, item, say, cancel)


@contextlib.contextmanager
def _paused(
    config: pytest.Config,
    item: pytest.Item | None,
    say: Callable[[Sequence[str]], None],
    cancel: Callable[..., Any],
) -> Iterator[None]:
    hook = config.hook
    from pytest_live_pause.plugin import TIMER

    armed = item.stash.get(TIMER, None) if item is not None else None
    paused_at = time.monotonic()
    if armed is not None:
        settings, started = armed
        remaining = float(settings.timeout) - (paused_at - started)
        cancel(item=item)
    try:
        yield
    finally:
        _extend_session_timeout(config, time.monotonic() - paused_at)
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
