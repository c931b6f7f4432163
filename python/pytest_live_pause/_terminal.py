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
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter

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

    def uncaptured(self) -> contextlib.AbstractContextManager[None]:
        """Output capture (global and a capture fixture's) off for the block
        (pytest's own context manager: no layer of ours to leave after a
        pause)."""
        capman = self._config.pluginmanager.getplugin("capturemanager")
        if capman is None:
            return contextlib.nullcontext()
        return capman.global_and_fixture_disabled()

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

    def resumed_writer(self, item: pytest.Item | None) -> Callable[[str], None]:
        """What writes a pause's RESUMED block (text of whole lines) and
        then restores the progress prefix: lines() and
        restore_progress_prefix(), with everything that does not depend on
        the verdict looked up now, before the pause. After a pause the
        process's caches are cold and each call costs ~10x: under pytest's
        own terminal reporter the block (and the newline that ends a line
        of progress letters) is one TerminalWriter.write, and under -q,
        where pytest_runtest_logstart writes nothing, that is all."""
        tr = self._config.pluginmanager.getplugin("terminalreporter")
        if (
            tr is None
            or self._is_worker
            or type(tr).write is not TerminalReporter.write
            or type(tr).ensure_newline is not TerminalReporter.ensure_newline
            or getattr(tr, "_tw", None) is None
        ):
            lines = self.lines
            restore = self.restore_progress_prefix
            lead = self.lead

            def write_slow(text: str) -> None:
                lines([*lead, *text.split("\n")[:-1]])
                restore(item)

            return write_slow
        tw = tr._tw
        logstart = None
        with contextlib.suppress(Exception):  # cosmetic only
            if item is not None and (tr.showlongtestinfo or tr.showfspath):
                logstart = tr.pytest_runtest_logstart
                nodeid, location = item.nodeid, item.location

        def write(text: str) -> None:
            # lines(): a started line (-q's letters, or the file name that
            # ensure_newline() ends) ends first, in the same write
            if tw.width_of_current_line or tr.currentfspath:
                tr.currentfspath = None
                text = "\n" + text
            tw.write(text, flush=True)
            if logstart is not None:
                with contextlib.suppress(Exception):  # cosmetic only
                    logstart(nodeid=nodeid, location=location)

        return write

    def restore_progress_prefix(self, item: pytest.Item | None) -> None:
        """Let the test's result letter (or verbose word) that follows go
        after its file name again, as pytest would have written it."""
        tr = self._config.pluginmanager.getplugin("terminalreporter")
        if item is None or tr is None or self._is_worker:
            return
        with contextlib.suppress(Exception):  # cosmetic only
            tr.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)


def attachment_lines(listed: Sequence[Any]) -> list[str]:
    """The PAUSED / RESUMED block's lines for attachments (each a dict of
    the runtime's: name, source, size, path)."""
    return [
        f"attachment: {safe(a['name'])} ({a['source']}, {a['size']} bytes): {safe(a['path'])}"
        for a in listed
    ]


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


_RESULT = {True: "result: true\n", False: "result: false\n", None: "result: none\n"}


def resumed_text(kind: str, tail: str, res: dict[str, Any]) -> str:
    """How a native pause ended, as whole lines of text: RESUMED
    (<outcome>), the verdict, an abort's reason (a checkpoint's is its
    verdict's already), the resumer's attachments. tail: ``"): " +
    safe(nodeid) + "\n"``, made before the pause. One function and one
    string: it runs after the wait, when every call is slow."""
    text = "RESUMED (" + res["outcome"] + tail
    value = res.get("value")
    if value is not None:  # choices, questions
        text += f"value: {safe(value)}\n"
    if kind == "checkpoint":
        result = res["result"]
        if result is None or result is True or result is False:
            text += _RESULT[result]
        else:
            text += f"result: {str(result).lower()}\n"
        if res["reason"]:
            text += f"reason: {safe(res['reason'])}\n"
    elif res["failure_reason"]:
        text += f"failure reason: {safe(res['failure_reason'])}\n"
    if res.get("warning"):
        text += f"live-pause: warning: {safe(one_line(res['warning']))}\n"
    if kind != "checkpoint" and res["outcome"] == "aborted" and res["reason"]:
        text += f"reason: {safe(res['reason'])}\n"  # an abort's reason
    attached = res.get("attachments")
    if attached:
        text += "".join(f"{line}\n" for line in attachment_lines(attached))
    return text
