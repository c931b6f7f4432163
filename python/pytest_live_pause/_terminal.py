"""Where and what pytest-live-pause writes: pytest's terminal, even while
output is captured, or (in an xdist worker) the controller's stderr; the
PAUSED block and the RESUMED lines of a native pause.

Text that came from a test or a resumer is printed only through
:data:`safe` (the runtime's lp_text_terminal_safe). Pure pytest glue.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pytest_live_pause import _livepause

SEP = "=" * 60

#: Text from a test or a resumer, made safe for a terminal (C0, C1, DEL and
#: Unicode line separators escaped visibly): every such text we print.
safe = _livepause.terminal_safe


def format_timeout(seconds: float) -> str:
    if math.isinf(seconds):
        return "no timeout"
    if seconds == int(seconds) and seconds < 1e15:
        return f"timeout: {int(seconds)}s"
    return f"timeout: {seconds}s"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class Terminal:
    """Writes lines where the person sees them, even while output is
    captured. An xdist worker's stdout goes nowhere (execnet points it at
    /dev/null) but its stderr is the controller's, so workers write there."""

    def __init__(self, config: pytest.Config, is_worker: bool) -> None:
        self._config = config
        self._is_worker = is_worker
        #: a worker's block starts a line of its own: the controller's
        #: progress letters may end the current one
        self.lead: list[str] = [""] if is_worker else []

    @contextlib.contextmanager
    def uncaptured(self) -> Iterator[None]:
        capman = self._config.pluginmanager.getplugin("capturemanager")
        if capman is None:
            yield
            return
        with capman.global_and_fixture_disabled():
            yield

    def lines(self, lines: Sequence[str]) -> None:
        tr = self._config.pluginmanager.getplugin("terminalreporter")
        if tr is not None and not self._is_worker:
            # Under -q the progress letters are not tracked as a started
            # line (ensure_newline() does not see them): end it ourselves.
            writer = getattr(tr, "_tw", None)
            if getattr(writer, "width_of_current_line", 0):
                tr.write("\n")
                tr.currentfspath = None
            tr.ensure_newline()
            # the block in one write (write_line makes two calls a line,
            # the larger part of the Python a resume runs before the test
            # has its decision)
            tr.write("".join(f"{line}\n" for line in lines), flush=True)
        else:
            # One write, so that blocks of several workers do not interleave.
            out = sys.stderr if self._is_worker else sys.stdout
            text = "".join(f"{line}\n" for line in lines)
            out.flush()
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                buffer.write(text.encode(out.encoding or "utf-8", "backslashreplace"))
                buffer.flush()
            else:
                out.write(text)
                out.flush()

    def restore_progress_prefix(self, item: pytest.Item | None) -> None:
        """Let the test's result letter (or verbose word) that follows go
        after its file name again, as pytest would have written it."""
        tr = self._config.pluginmanager.getplugin("terminalreporter")
        if item is None or tr is None or self._is_worker:
            return
        with contextlib.suppress(Exception):  # cosmetic only
            tr.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)


def pause_block(
    kind: str,
    nodeid: str,
    details: Sequence[str],
    worker_id: str | None,
    pause: Any,
    timeout: float,
) -> list[str]:
    """The PAUSED block of a native pause."""
    return [
        # A worker shares the controller's terminal line.
        *([""] if worker_id else []),
        SEP,
        f"PAUSED ({kind}): {safe(nodeid)}",
        *details,
        *([f"worker: {worker_id}"] if worker_id else []),
        f"pause_id: {pause.pause_id}",
        f"pause file: {safe(pause.path)}",
        f"resume: {pause.resume_hint}",
        format_timeout(timeout),
        SEP,
    ]


def resumed_lines(kind: str, nodeid: str, res: dict[str, Any]) -> list[str]:
    """How a native pause ended: RESUMED (<outcome>) and the verdict."""
    lines = [f"RESUMED ({res['outcome']}): {safe(nodeid)}"]
    if res.get("value") is not None:  # choices, questions
        lines.append(f"value: {safe(res['value'])}")
    if kind == "checkpoint":
        result = res["result"]
        lines.append(f"result: {'none' if result is None else str(result).lower()}")
        if res["reason"]:
            lines.append(f"reason: {safe(res['reason'])}")
    elif res["failure_reason"]:
        lines.append(f"failure reason: {safe(res['failure_reason'])}")
    if res.get("warning"):
        lines.append(f"live-pause: warning: {safe(one_line(res['warning']))}")
    return lines
