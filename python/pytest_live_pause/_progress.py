"""The run's test progress, for the dashboard (docs/protocol.md,
"progress.json"): pytest's own counts, from the terminal reporter's
``stats`` (nothing is counted here), handed to the runtime
(``Run.progress``, lib/run.c), which writes the file. When: after a test
ends, at most once a second (one clock read per test, in the logreport
hook the plugin has anyway) and only while a dashboard runs (``serve.json`` is
published: one fstatat a second); when a pause begins; and at the end of
the session. Only the process that owns the run writes (an xdist
controller sees every worker's reports; its workers write nothing).
Advisory: a failure to write is ignored, never a test's or pytest's
error."""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from pytest_live_pause._livepause import LivePauseError

if TYPE_CHECKING:
    from pytest_live_pause._session import LivePauseSession

INTERVAL = 1.0  # seconds between two writes after tests


def write(session: LivePauseSession, watched_only: bool = False) -> None:
    """Record the counts so far (the owner of the run only); with
    watched_only, only while `pytest-live-pause serve` runs."""
    if session.is_worker:
        return
    try:
        if watched_only and not session.store.published("serve.json"):
            return
    except (LivePauseError, OSError):
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(tr, "stats", None)
    if stats is None:  # -p no:terminal: pytest counts nothing to show
        return
    n = [len(stats.get(k, ())) for k in ("passed", "failed", "error", "skipped",
                                          "xfailed", "xpassed")]
    try:
        session.run.progress(*n, session.collected)
    except (LivePauseError, OSError):
        pass


class Clock:
    """When the next write after a test is due (never for a worker)."""

    __slots__ = ("due",)

    def __init__(self, session: LivePauseSession) -> None:
        self.due = float("inf") if session.is_worker else 0.0

    def tick(self, session: LivePauseSession) -> None:
        """Called once monotonic() reached ``due`` (the caller compares)."""
        self.due = monotonic() + INTERVAL
        write(session, watched_only=True)
