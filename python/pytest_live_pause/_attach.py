"""Evidence attachments, the pytest side (issue 12.2): the files a test
attaches (``checkpoint(task, attachments=[...])``, ``live_pause.attach()``),
the files a ``pytest_live_pause_capture`` hook returns, and what the
resumer attached, listed in the test's failure report.

The runtime copies every file into the run's blob store (by its SHA-256,
atomically, verified) and lists it in the pause file; this module only
decides *which* files go with a pause and where pytest shows them. It
never opens a file. Pure pytest glue.

The capture hook (documented in the README, "Attachments"):

- every implementation is called (not firstresult), with ``item`` and
  ``kind`` (``"failure"`` or ``"checkpoint"``), before the pause is
  announced; each returns ``None``, a path, or an iterable of paths;
- it runs in a thread of its own, bounded by ``--pause-capture-timeout``
  (default 10 s): a hook that hangs is reported and left behind (a thread
  cannot be killed), and the pause happens without its files;
- a hook that raises, or returns something that is not a path, or a path
  that cannot be attached (missing, special, over the caps), is reported
  on one terminal line and the pause still happens.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause._livepause import LivePauseError, terminal_safe as safe
from pytest_live_pause._terminal import one_line

if TYPE_CHECKING:
    from pytest_live_pause._livepause import Run
    from pytest_live_pause._livepause import _Attachment as Attachment

#: what live_pause.attach() stored for the item's next pause
PENDING = pytest.StashKey[list]()
#: every attachment of the item's pauses (every source), for its report
ATTACHED = pytest.StashKey[list]()
#: (name, value) properties already added to the item (once each)
REPORTED = pytest.StashKey[set]()


def _paths(value: Any) -> list[str]:
    """The paths given (None, a path, or an iterable of paths), or TypeError."""
    paths, bad = _split(value)
    if bad:
        raise TypeError(bad[0])
    return paths


def _split(value: Any) -> tuple[list[str], list[str]]:
    """The paths among what was given, and why each other value is not one."""
    if value is None:
        return [], []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)], []
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        return [], [f"{type(value).__name__} {value!r:.60} is not a path or a list of paths"]
    paths, bad = [], []
    for v in value:
        if isinstance(v, (str, os.PathLike)) and not isinstance(os.fspath(v), bytes):
            paths.append(os.fspath(v))
        else:
            bad.append(f"{type(v).__name__} {v!r:.60} is not a path")
    return paths, bad


# ------------------------------------------------------------- evidence


class Evidence:
    """The attachments of one session's pauses."""

    def __init__(self, config: pytest.Config, run: Run, say: Callable[[list[str]], None],
                 max_size: int, capture_timeout: float) -> None:
        self.config = config
        self.run = run
        self.say = say
        self.max_size = max_size  # --pause-max-attachment-size, parsed (_options)
        self.capture_timeout = capture_timeout  # --pause-capture-timeout, parsed

    # ----- the test's side

    def store(self, path: Any, name: str | None, source: str) -> Attachment:
        """Copy a file into the blob store now (its bytes as they are now)."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"an attachment is a path (str or os.PathLike), not {type(path).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        return self.run.attach(path, name=name, source=source, max_size=self.max_size)

    def attach(self, item: pytest.Item | None, path: Any, name: str | None = None) -> Attachment:
        """live_pause.attach(): stored now, listed with the item's next pause."""
        if item is None:
            raise RuntimeError("attach() needs a running test")
        a = self.store(path, name, "test")
        item.stash.setdefault(PENDING, []).append(a)
        return a

    def for_pause(self, item: pytest.Item | None, kind: str, paths: Any) -> list[Attachment]:
        """The attachments of the pause about to begin: the item's pending
        ones, then checkpoint(attachments=...)'s (both raise on a bad file:
        the test's own mistake), then the capture hook's (reported, never
        raised). What breaks the pause's caps is left out and said."""
        explicit = [self.store(p, None, "test") for p in _paths(paths)]
        pending = item.stash.get(PENDING, []) if item is not None else []
        chosen = [*pending, *explicit]
        if item is not None:
            item.stash[PENDING] = []
            chosen += self._capture(item, kind)
        fit, why = _fit(chosen)
        if why is not None:
            left = ", ".join(safe(a["name"]) for a in chosen[fit:])
            self.say([f"live-pause: not attached: {left}: {safe(one_line(why))}"])
        return chosen[:fit]

    def _capture(self, item: pytest.Item, kind: str) -> list[Attachment]:
        hook = self.config.hook.pytest_live_pause_capture
        if not hook.get_hookimpls():
            return []
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["results"] = hook(item=item, kind=kind)
            except BaseException as exc:  # noqa: BLE001 - reported below
                box["error"] = exc

        worker = threading.Thread(target=call, name="live-pause-capture", daemon=True)
        worker.start()
        worker.join(self.capture_timeout)
        if worker.is_alive():
            self.say([
                f"live-pause: capture hook did not return within {self.capture_timeout:g}s "
                f"(--pause-capture-timeout); pausing without its files"
            ])
            return []
        if "error" in box:
            exc = box["error"]
            self.say([f"live-pause: capture hook failed: {safe(one_line(f'{type(exc).__name__}: {exc}'))}"])
            return []
        out = []
        for value in box.get("results", []):
            paths, bad = _split(value)
            for why in bad:
                self.say([f"live-pause: capture hook returned {safe(one_line(why))}"])
            for p in paths:
                try:
                    out.append(self.store(p, None, "capture"))
                except (LivePauseError, TypeError) as exc:
                    self.say([f"live-pause: capture: {safe(one_line(str(exc)))}"])
        return out

    # ----- after the pause

    def record(self, item: pytest.Item | None, listed: list[Attachment], res: dict) -> tuple[str, ...]:
        """Remember every attachment of the pause for the item's report;
        the resumer's blob paths, for the Decision."""
        theirs = list(res.get("attachments") or [])
        if item is not None:
            item.stash.setdefault(ATTACHED, []).extend([*listed, *theirs])
        return tuple(a["path"] for a in theirs)


def _fit(chosen: list[Attachment]) -> tuple[int, str | None]:
    from pytest_live_pause._livepause import attachments_fit

    return attachments_fit(chosen)


def report(item: pytest.Item, rep: pytest.TestReport) -> None:
    """A failed report lists every attachment of the item's pauses: a
    section ``live pause attachments`` and, once each, the --junitxml
    property ``live_pause_attachment`` = ``<name> (<source>, <size>
    bytes, sha256 <hex>): <path>``."""
    attached = item.stash.get(ATTACHED, [])
    if not attached or not rep.failed:
        return
    values = [
        f"{a['name']} ({a['source']}, {a['size']} bytes, sha256 {a['sha256']}): {a['path']}"
        for a in attached
    ]
    rep.sections.append(("live pause attachments", "\n".join(values)))
    done = item.stash.setdefault(REPORTED, set())
    for v in values:
        rep.user_properties.append(("live_pause_attachment", v))
        if v not in done:
            done.add(v)
            item.user_properties.append(("live_pause_attachment", v))
