"""Control over pausing (issue 12.4): which failing reports pause
(``--pause-on-failure``, ``--pause-on-error``, the ``no_pause`` marker,
``--pause-max``) and who is told when a pause begins (``--pause-notify``).

The runtime counts the run's failure pauses (``Run.failure_quota``: one
budget for the controller and every xdist worker) and spawns, bounds and
reaps the notify command (``notify_spawn``); this module only asks it and
prints what it says. Pure pytest glue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import _livepause
from pytest_live_pause._livepause import LivePauseError
from pytest_live_pause._options import NO_PAUSE
from pytest_live_pause._terminal import one_line, safe

if TYPE_CHECKING:
    from pytest_live_pause._livepause import Pause, Run
    from pytest_live_pause._options import Settings

MARKER = NO_PAUSE  # registered by the plugin at start (_options.NO_PAUSE_HELP)


class PauseControl:
    """The session's rules for failure pauses and its notify command."""

    def __init__(self, settings: Settings, run: Run, say: Callable[[Sequence[str]], None]) -> None:
        values = settings.values
        self.on_failure = settings.pause_on_failure
        self.on_error = bool(values.get("pause_on_error"))
        self.max: int | None = values.get("pause_max")
        self.notify_argv: list[str] | None = values.get("pause_notify")
        self.notify_bound = float(values.get("pause_notify_timeout") or 10.0)
        self._run = run
        self._say = say

    def wants(self, report: pytest.TestReport) -> bool:
        """Whether a failed report is of a kind the options pause at (the
        cheap check, made for every failed report)."""
        return self.on_failure if report.when == "call" else self.on_error

    def may_pause(self, item: pytest.Item) -> bool:
        """The marker, then the run's budget (--pause-max), which counts
        this failure; the first one over the budget says so."""
        if item.get_closest_marker(MARKER) is not None:
            return False
        if self.max is None:
            return True
        allowed, first_refused = self._run.failure_quota(self.max)
        if first_refused:
            self._say(
                [
                    f"live-pause: --pause-max {self.max} reached: "
                    "failures no longer pause in this run"
                ]
            )
        return bool(allowed)

    def notify(self, pause: Pause, kind: str, nodeid: str) -> Callable[[], bool] | None:
        """Start the notify command for a pause that has begun; returns the
        poll to run while waiting (it prints the command's failure once and
        never stops the wait), or None. A command that cannot be started is
        reported at once; the pause goes on regardless."""
        if self.notify_argv is None:
            return None
        try:
            proc = _livepause.notify_spawn(
                self.notify_argv,
                pause.pause_id,
                kind,
                nodeid,
                self._run.run_id,
                self._run.store.path,
                self.notify_bound,
            )
        except (LivePauseError, ValueError, OSError) as exc:
            self._say([f"live-pause: {safe(one_line(str(exc)))}"])
            return None
        said: list[Any] = []

        def poll() -> bool:
            if not said:
                state, message = proc.poll()
                if state != "running":
                    said.append(state)
                    if state == "failed":
                        self._say([f"live-pause: {safe(one_line(message or 'failed'))}"])
            return False

        return poll
