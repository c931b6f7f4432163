"""pytest-timeout, black box: time spent paused does not count against a
test's timeout. While paused, pytest-timeout's timer is cancelled; after
the resume it is armed again with the time that was left, so a test paused
longer than its `@pytest.mark.timeout(N)` finishes normally, and a test
that hangs after its pause is still killed.

"Paused longer than N" is shown by waiting for the pytest process to end
for more than N seconds and seeing that it does not (a bounded wait for an
event that must not happen); durations are never asserted.
"""
from __future__ import annotations

import subprocess

import pytest

from conftest import WAIT, Cli, LivePytest

pytest.importorskip("pytest_timeout")

TIMEOUT = 2  # the tests' @pytest.mark.timeout
LONGER = TIMEOUT + 1.5  # how long the outer test keeps them paused, at least

METHODS = ["signal", "thread"]


def stays_alive_while_paused(session: LivePytest, cli: Cli, pause_id: str) -> None:
    """The paused process outlives its test's timeout, still paused."""
    with pytest.raises(subprocess.TimeoutExpired):
        session.proc.wait(LONGER)
    shown = cli("show", pause_id, "--json")
    assert shown.returncode == 0, str(shown)
    assert shown.json()["state"] == "pending", session.output


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint_longer_than_timeout(pytester: pytest.Pytester, live, cli: Cli,
                                        method: str) -> None:
    pytester.makepyfile(test_slow=f'''
        import pytest

        @pytest.mark.timeout({TIMEOUT})
        def test_slow_human(live_pause):
            decision = live_pause.checkpoint(task="a slow human")
            assert decision.result is True, decision.reason
    ''')
    session = live(f"--timeout-method={method}")
    pause = cli.watch(session.run_id)
    stays_alive_while_paused(session, cli, pause["pause_id"])
    res = cli("resume", pause["pause_id"], "--result", "true")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 0, out
    assert "1 passed" in out
    assert "Timeout" not in out


@pytest.mark.parametrize("method", METHODS)
def test_failure_pause_longer_than_timeout(pytester: pytest.Pytester, live, cli: Cli,
                                           method: str) -> None:
    """The timer covers setup, call and teardown (func_only off): the
    failure pause happens with it armed, and teardown still runs."""
    pytester.makepyfile(test_fail=f'''
        import os
        import pytest

        @pytest.fixture
        def scene():
            yield
            with open("teardown.txt", "w") as f:
                f.write("done")

        @pytest.mark.timeout({TIMEOUT})
        def test_fails(scene):
            assert 1 == 2
    ''')
    session = live(f"--timeout-method={method}", "--pause-on-failure")
    pause = cli.watch(session.run_id)
    stays_alive_while_paused(session, cli, pause["pause_id"])
    res = cli("resume", pause["pause_id"], "--failure-reason", "seen on the device")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 1, out
    assert "failure reason: seen on the device" in out
    assert "Timeout" not in out
    assert (pytester.path / "teardown.txt").read_text() == "done"


@pytest.mark.parametrize("method", METHODS)
def test_hang_after_pause_is_still_killed(pytester: pytest.Pytester, live, cli: Cli,
                                          method: str) -> None:
    """The timer is armed again after the pause: a test that hangs
    afterwards is still stopped by pytest-timeout."""
    pytester.makepyfile(test_hang=f'''
        import time
        import pytest

        @pytest.mark.timeout({TIMEOUT})
        def test_hangs(live_pause):
            live_pause.checkpoint(task="then it hangs")
            time.sleep(3600)
    ''')
    session = live(f"--timeout-method={method}")
    pause = cli.watch(session.run_id)
    stays_alive_while_paused(session, cli, pause["pause_id"])
    res = cli("resume", pause["pause_id"], "--result", "true")
    assert res.returncode == 0, str(res)
    rc, out = session.finish(WAIT)  # without the timer again, it would hang
    assert rc == 1, out
    assert "Timeout" in out


def test_session_timeout_does_not_count_pauses(pytester: pytest.Pytester, live,
                                               cli: Cli) -> None:
    """--session-timeout's deadline moves by the time paused: the tests
    after a long pause still run."""
    pytester.makepyfile(test_session='''
        def test_1_pauses(live_pause):
            live_pause.checkpoint(task="a long look")

        def test_2_after():
            pass
    ''')
    session = live(f"--session-timeout={TIMEOUT}")
    pause = cli.watch(session.run_id)
    stays_alive_while_paused(session, cli, pause["pause_id"])
    res = cli("resume", pause["pause_id"], "--result", "true")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 0, out
    assert "2 passed" in out
    assert "session-timeout" not in out
