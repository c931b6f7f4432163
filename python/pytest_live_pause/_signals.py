"""Signals while a test is paused: the one helper through which the plugin
installs a Python signal handler (SIGTERM raising while paused, QAMule's
resume signal), and how a signal that ended a pause is named for the
abort claim.

Only the main thread can install a handler; everywhere else the helper
installs nothing and says so. Pure pytest glue.

It calls the C module's own functions (``_signal``): ``signal.signal()``
turns the handler it gives back into a ``Handlers`` member, which for a
Python handler means a ValueError raised and caught inside ``enum``: 4 µs
warm, 65 µs on the path of a resume, where the process wakes with cold
caches (bench/epilogue.py --stamps), against 0.4 µs. Their handlers are
the raw values (``SIG_DFL`` and ``SIG_IGN`` as plain ints, a callable, or
None for one installed outside Python), equal to the public ones.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

# set_handler(sig, previous) puts back what install() replaced (its result)
try:
    from _signal import SIG_DFL as _SIG_DFL
    from _signal import getsignal as _getsignal
    from _signal import signal as set_handler
except ImportError:  # pragma: no cover - not CPython
    from signal import SIG_DFL as _SIG_DFL  # type: ignore[assignment]
    from signal import getsignal as _getsignal  # type: ignore[assignment]
    from signal import signal as set_handler  # type: ignore[assignment]

Handler = Callable[[int, object], None]


class Terminated(SystemExit):
    """SIGTERM arrived while a test was paused."""


#: install()'s answer when it installed nothing
NOT_INSTALLED: Any = object()


def install(sig: int, handler: Handler, *, over_foreign: bool) -> Any:
    """Install handler for sig (main thread only); returns what restore()
    puts back, or NOT_INSTALLED. A handler installed outside Python
    (getsignal() gives None) cannot be put back: with over_foreign false
    it is left alone (nothing installed), with over_foreign true it is
    replaced and SIG_DFL comes back after."""
    if threading.current_thread() is not threading.main_thread():
        return NOT_INSTALLED
    try:
        previous = _getsignal(sig)
        if previous is None and not over_foreign:
            return NOT_INSTALLED
        set_handler(sig, handler)
    except (ValueError, OSError):
        return NOT_INSTALLED
    return previous if previous is not None else _SIG_DFL


@contextlib.contextmanager
def handling(sig: int, handler: Handler, *, over_foreign: bool) -> Iterator[bool]:
    """install() for the block; yields whether handler is in place. The
    previous handler comes back afterwards."""
    previous = install(sig, handler, over_foreign=over_foreign)
    try:
        yield previous is not NOT_INSTALLED
    finally:
        if previous is not NOT_INSTALLED:
            set_handler(sig, previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


def sigterm_raises() -> Any:
    """While paused, make SIGTERM raise Terminated so that the pause is
    claimed as aborted; a handler installed outside Python is left alone.
    Returns what to give set_handler(SIGTERM, ...) after the pause, or
    NOT_INSTALLED (a plain call, not a context manager: its end is on the
    path of a resume, where each call is slow)."""
    return install(signal.SIGTERM, _raise_terminated, over_foreign=False)


def abort_signal(exc: BaseException) -> str | None:
    """The signal that ended the pause, for the abort claim."""
    if isinstance(exc, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(exc, Terminated):
        return "SIGTERM"
    return None


class SignalGuard:
    """A handler for a whole session (main thread): during a pause it calls
    the pause's target; outside one it does nothing, so that a late or
    repeated signal (QAMule's resume signal sent twice) never ends the run
    by the signal's default action. The previous handler comes back at
    the end of the session."""

    def __init__(self, sig: signal.Signals) -> None:
        self.signal = sig
        self.target: Callable[[], None] | None = None
        self._handler = self._on_signal  # one bound method, to compare with
        self._previous: Any = None
        self.installed = False

    def _on_signal(self, signum: int, frame: object) -> None:
        target = self.target
        if target is not None:
            target()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self._previous = _getsignal(self.signal)
            set_handler(self.signal, self._handler)
        except (ValueError, OSError):
            return
        self.installed = True

    def active(self) -> bool:
        """Still the handler (a test may have installed its own)."""
        return self.installed and _getsignal(self.signal) == self._handler

    def uninstall(self) -> None:
        if not self.installed:
            return
        self.installed = False
        if _getsignal(self.signal) == self._handler:
            previous = self._previous
            # None: a handler set outside Python, which cannot be put back.
            set_handler(self.signal, previous if previous is not None else _SIG_DFL)

    @contextlib.contextmanager
    def catching(self, target: Callable[[], None]) -> Iterator[bool]:
        """Call target on the signal during the block; yields whether the
        signal is caught. With the guard still in place it tells target;
        otherwise (a test replaced it, or no guard) a handler is installed
        for the block."""
        if self.active():
            self.target = target
            try:
                yield True
            finally:
                self.target = None
            return
        with handling(self.signal, lambda signum, frame: target(), over_foreign=True) as ok:
            yield ok
