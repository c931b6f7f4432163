"""Where pytest-live-pause writes its lines: pytest's terminal, even while
output is captured, or (in an xdist worker) the controller's stderr.

Pure pytest glue, kept out of :mod:`pytest_live_pause.plugin`.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator, Sequence

import pytest

SEP = "=" * 60


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
            for line in lines:
                tr.write_line(line)
            tr.flush()
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
