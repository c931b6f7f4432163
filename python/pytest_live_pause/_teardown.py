"""--pause-on-error at a teardown error: the pause happens where the
fixture's teardown raised, before the remaining teardown (the fixtures it
depends on, the wider scopes), not when pytest reports the error after
every finalizer ran.

pytest gives no hook that sees a finalizer's exception: FixtureDef.finish
calls each finalizer, keeps what it raised in a local list and raises it
at the end, and ``pytest_fixture_post_finalizer`` (called after the
fixture's own teardown, even when it raised) is given no exception. So
this module wraps the finalizers a fixture registers (a yield fixture's
teardown, ``request.addfinalizer`` in its body or later): the
``pytest_fixture_setup`` wrapper hands the fixture's ``request`` an
``addfinalizer`` that registers a guarded finalizer. The guard calls the
finalizer; when it raises an error (an ``Exception`` or ``pytest.fail``,
not a skip, xfail, KeyboardInterrupt or exit) during a test's teardown, it
makes the failure pause with the error's text, then raises the error
again unchanged: pytest reports it as before, and this module puts the
pause's decision into that report (``settle``). Finalizers registered on
a node (``request.node.addfinalizer``) are not wrapped: an error there
pauses when reported (after the rest of the teardown), as before.

Registered only with --pause-on-error (nothing per fixture otherwise).
Pure pytest glue: the pause is the session's (``_session``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import _abort, _outcome

if TYPE_CHECKING:
    from pytest_live_pause._pausing import Ended
    from pytest_live_pause._session import LivePauseSession

# the item's teardown pause: its Ended, or the exception that broke it
_PAUSED = pytest.StashKey[Any]()


def _is_error(exc: BaseException) -> bool:
    """An exception pytest reports as a teardown error."""
    if isinstance(exc, (pytest.skip.Exception, pytest.xfail.Exception)):
        return False
    return isinstance(exc, (Exception, pytest.fail.Exception))


class TeardownPauses:
    """The pytest_fixture_setup wrapper and the guard of each finalizer."""

    def __init__(self, s: LivePauseSession) -> None:
        self._s = s

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
        # this fixture's own request (one per setup), kept by it for later
        # calls too (a factory fixture's finalizers)
        add = request.addfinalizer
        request.addfinalizer = lambda fin: add(self._guard(fin))  # type: ignore[method-assign]
        return (yield)

    def _guard(self, fin: Callable[[], object]) -> Callable[[], object]:
        def guarded() -> object:
            try:
                return fin()
            except BaseException as exc:
                if _is_error(exc):
                    self._pause(exc)
                raise

        return guarded

    def _pause(self, exc: BaseException) -> None:
        """The failure pause of the current test's teardown error (the
        first of the test; the rules of --pause-on-error: not after an
        abort, the no_pause marker, --pause-max). Any failure to pause is
        kept for the report (never an INTERNALERROR); SIGTERM while
        paused (pytest.exit) is raised instead of the error."""
        s = self._s
        item = s.current_item
        if item is None or _PAUSED in item.stash or _abort.stopped(s):
            return
        try:
            if not s.control.may_pause(item):  # the marker, --pause-max
                return
            text = str(item.repr_failure(pytest.ExceptionInfo.from_exception(exc)))
            item.stash[_PAUSED] = s.pause_error(item.nodeid, text, "teardown")
        except pytest.exit.Exception:
            raise
        except Exception as broken:  # noqa: BLE001 - reported with the error
            item.stash[_PAUSED] = broken


def settle(item: pytest.Item, report: pytest.TestReport, s: LivePauseSession) -> bool:
    """A failed teardown report of a test that paused at its teardown
    error: the pause's decision goes into the report (as for a failure
    pause: its reason, an abort), and it does not pause again. False if
    it did not pause there."""
    ended: Ended | Exception | None = item.stash.get(_PAUSED, None)
    if ended is None:
        return False
    del item.stash[_PAUSED]
    if isinstance(ended, Exception):
        s.report_broken(item, report, ended)
        return True
    _outcome.failure_outcome(item, report, ended)
    if _abort.was_aborted(ended):
        _abort.failure_aborted(item, report, ended, s)
    return True


def register(config: pytest.Config, s: LivePauseSession) -> None:
    """Wire it, with --pause-on-error only."""
    if s.control.on_error:
        config.pluginmanager.register(TeardownPauses(s), "live_pause_teardown")

