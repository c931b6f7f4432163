"""Black-box tests: `pytest-live-pause abort <pause> [--reason TEXT]` (and
`pytest_live_pause.abort()`) ends a pause of any kind as aborted and stops
the run.

- a failure pause: teardown runs, the failure report is kept with
  `aborted: <reason>` in it (terminal and --junitxml);
- a checkpoint: `checkpoint()` raises `pytest_live_pause.Aborted` (an
  Exception holding `.reason`), the test fails with it, teardown runs;
- no further test starts (xdist workers included), pytest prints
  `live-pause: run aborted at <nodeid>: <reason>` and exits 2;
- an abort of a pause that already ended exits as `resume` does; a resume
  of an aborted pause exits 7; nothing is written when refused.

Real pytest sessions in the background (the `live` fixture), the real CLI.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import WAIT, Cli, command_file, read_events, read_pause, wait_block

EXIT = {"ok": 0, "usage": 2, "stale": 4, "resumed": 5, "timed_out": 6, "aborted": 7}
INTERRUPTED = 2  # pytest's exit status for an interrupted session


def started(pytester: pytest.Pytester) -> list[str]:
    """The inner tests that started, in order (each writes its name)."""
    path = pytester.path / "started.txt"
    return path.read_text().split() if path.exists() else []


def commands(pause_dir: Path, pause_id: str) -> list[str]:
    """Every entry of the run's commands/ directory for this pause."""
    d = command_file(pause_dir, pause_id).parent
    return sorted(p.name for p in d.iterdir() if p.name.startswith(pause_id))


def last_line_of_abort(out: str, nodeid: str, reason: str) -> None:
    assert re.search(rf"^live-pause: run aborted at {re.escape(nodeid)}: {re.escape(reason)}$",
                     out, re.M), out


MARK = '''
import pytest


def started(name):
    with open("started.txt", "a") as f:
        f.write(name + "\\n")


@pytest.fixture
def device():
    started("setup")
    yield "phone"
    started("teardown")
'''


# ----------------------------------------------------------- failure pause

FAILURE_SUITE = MARK + '''

def test_a_fails(device):
    started("test_a_fails")
    assert 1 == 2, "the screen is black"


def test_b_after():
    started("test_b_after")
'''


def test_abort_of_a_failure_keeps_the_report_and_stops_the_run(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path) -> None:
    pytester.makepyfile(test_fail=FAILURE_SUITE)
    s = live("--pause-on-failure", "--pause-timeout", "300", "--junitxml", "junit.xml")
    block, _ = wait_block(s)
    pid = block["pause_id"]
    nodeid = "test_fail.py::test_a_fails"
    res = cli("abort", pid, "--reason", "device lost")
    assert res.returncode == EXIT["ok"], str(res)
    assert res.stdout == f"aborted {pid} (failure, {nodeid})\n"
    rc, out = s.finish()
    assert rc == INTERRUPTED, out
    # the failure report is kept, with why it was aborted
    assert "AssertionError: the screen is black" in out
    assert "aborted: device lost" in out
    assert re.search(r"^FAILED test_fail.py::test_a_fails", out, re.M), out
    last_line_of_abort(out, nodeid, "device lost")
    # teardown ran; the next test never started
    assert started(pytester) == ["setup", "test_a_fails", "teardown"]
    # the record: the pause, the run's stop, the junit property
    doc = read_pause(pause_dir, pid)
    assert (doc["status"], doc["resolved_action"], doc["reason"]) == ("aborted", "abort", "device lost")
    events = read_events(pause_dir, pid.split(".")[0])
    stops = [e for e in events if e["event"] == "run_aborted"]
    assert len(stops) == 1 and stops[0]["nodeid"] == nodeid and stops[0]["reason"] == "device lost"
    props = {p.get("name"): p.get("value")
             for p in ET.parse(pytester.path / "junit.xml").iter("property")}
    assert props.get("live_pause_aborted") == "device lost", props
    # a resume and another abort of the aborted pause: exit 7, nothing written
    before = commands(pause_dir, pid)
    for args in (["resume", pid, "--failure-reason", "late"], ["abort", pid]):
        res = cli(*args)
        assert res.returncode == EXIT["aborted"], str(res)
        assert f"pause {pid} was aborted (by cli: device lost)" in res.stderr, str(res)
    assert commands(pause_dir, pid) == before


# -------------------------------------------------------------- checkpoint

CHECKPOINT_SUITE = MARK + '''
from pytest_live_pause import Aborted, checkpoint


def test_a_checkpoint(device):
    started("test_a_checkpoint")
    try:
        checkpoint("Is the phone still on the network?", timeout=300)
    except Aborted as exc:
        with open("aborted.json", "w") as f:
            import json
            json.dump({"reason": exc.reason, "pause_id": exc.pause_id,
                       "is_exception": isinstance(exc, Exception), "text": str(exc)}, f)
        raise


def test_b_after():
    started("test_b_after")
'''


def test_abort_of_a_checkpoint_raises_aborted_and_stops_the_run(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path) -> None:
    pytester.makepyfile(test_cp=CHECKPOINT_SUITE)
    # with --pause-on-failure: the test that fails with Aborted does not pause again
    s = live("--pause-on-failure", "--pause-timeout", "300")
    block, _ = wait_block(s)
    pid = block["pause_id"]
    nodeid = "test_cp.py::test_a_checkpoint"
    res = cli("abort", pid, "--reason", "lab power cut", "--json")
    assert res.returncode == EXIT["ok"], str(res)
    assert res.json() == {"pause_id": pid, "kind": "checkpoint", "status": "aborted",
                          "run_id": pid.split(".")[0], "nodeid": nodeid}
    rc, out = s.finish()
    assert rc == INTERRUPTED, out
    got = json.loads((pytester.path / "aborted.json").read_text())
    assert got == {"reason": "lab power cut", "pause_id": pid, "is_exception": True,
                   "text": "aborted: lab power cut"}
    assert "Aborted: aborted: lab power cut" in out
    assert re.search(r"^FAILED test_cp.py::test_a_checkpoint", out, re.M), out
    last_line_of_abort(out, nodeid, "lab power cut")
    assert started(pytester) == ["setup", "test_a_checkpoint", "teardown"]
    assert len(re.findall(r"^PAUSED \(", out, re.M)) == 1, out
    assert re.search(r"^RESUMED \(aborted\): test_cp.py::test_a_checkpoint\nresult: none\nreason: lab power cut$",
                     out, re.M), out


def test_abort_from_python_without_a_reason(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path) -> None:
    """pytest_live_pause.abort() is the same abort; no reason is said so."""
    pytester.makepyfile(test_cp=CHECKPOINT_SUITE)
    s = live()
    block, _ = wait_block(s)
    pid = block["pause_id"]
    import pytest_live_pause

    pytest_live_pause.abort(pid, pause_dir=str(pause_dir))
    rc, out = s.finish()
    assert rc == INTERRUPTED, out
    assert json.loads((pytester.path / "aborted.json").read_text())["reason"] is None
    last_line_of_abort(out, "test_cp.py::test_a_checkpoint", "no reason given")
    assert "test_b_after" not in started(pytester)
    assert read_pause(pause_dir, pid)["resolved_by"] == "python"
    # an ended pause: the same error as the CLI's exit 7
    with pytest.raises(pytest_live_pause.LivePauseError) as err:
        pytest_live_pause.abort(pid, pause_dir=str(pause_dir))
    assert err.value.code == "LP_EABORTED"


# ------------------------------------------------------------ xdist workers

XDIST_HEAD = '''
import pytest
from pytest_live_pause import checkpoint


def started(name):
    with open("started.txt", "a") as f:
        f.write(name + "\\n")
'''

XDIST_SUITE = {
    "test_a": XDIST_HEAD + '''

def test_a_pause():
    started("a_pause")
    checkpoint("stop here", timeout=300)


@pytest.mark.parametrize("k", range(4))
def test_a_after(k):
    started(f"a_after{k}")
''',
    "test_b": XDIST_HEAD + '''

def test_b_pause():
    started("b_pause")
    checkpoint("go on", timeout=300)


@pytest.mark.parametrize("k", range(4))
def test_b_after(k):
    started(f"b_after{k}")
''',
}


def test_abort_stops_every_xdist_worker(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path) -> None:
    """Each worker holds a file of tests (--dist loadfile); both pause. The
    abort of one stops its worker; the other, resumed, starts no further
    test."""
    pytester.makepyfile(**XDIST_SUITE)
    s = live("-n", "2", "--dist", "loadfile")
    # two workers start (imports, collection) before either pauses: slow
    # on a loaded machine, so a longer bound than the blocks' own
    s.wait_for_line(r"^PAUSED \(checkpoint\): ", timeout=4 * WAIT)
    first, nxt = wait_block(s)
    second, _ = wait_block(s, nxt)
    blocks = {b["nodeid"]: b for b in (first, second)}
    a = blocks["test_a.py::test_a_pause"]
    b = blocks["test_b.py::test_b_pause"]
    assert a["worker"] != b["worker"]
    res = cli("abort", a["pause_id"], "--reason", "device gone")
    assert res.returncode == EXIT["ok"], str(res)
    res = cli("resume", b["pause_id"], "--result", "true")
    assert res.returncode == EXIT["ok"], str(res)
    rc, out = s.finish()
    assert rc == INTERRUPTED, out
    assert sorted(started(pytester)) == ["a_pause", "b_pause"], out
    last_line_of_abort(out, a["nodeid"], "device gone")
    assert "1 failed, 1 passed" in out, out  # test_a_pause aborted, test_b_pause resumed


# ------------------------------------------------------- ended pauses

ENDED_SUITE = '''
from pytest_live_pause import checkpoint


def test_1_resumed():
    checkpoint("resume me", timeout=300)


def test_2_timed_out():
    checkpoint("nobody answers", timeout=0)


def test_3_last():
    checkpoint("resume me too", timeout=300)
'''


def test_abort_of_an_ended_pause_exits_as_resume(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path) -> None:
    pytester.makepyfile(test_ended=ENDED_SUITE)
    s = live()
    b1, nxt = wait_block(s)
    assert cli("resume", b1["pause_id"], "--result", "true").returncode == EXIT["ok"]
    b2, nxt = wait_block(s, nxt)
    s.wait_for_line(r"^RESUMED \(timed_out\): test_ended.py::test_2_timed_out", start=nxt - 1)
    b3, _ = wait_block(s, nxt)
    for pid, code, word in ((b1["pause_id"], EXIT["resumed"], "already resumed"),
                            (b2["pause_id"], EXIT["timed_out"], "already timed out")):
        before = commands(pause_dir, pid)
        for args in (["abort", pid, "--reason", "too late"], ["resume", pid]):
            res = cli(*args)
            assert res.returncode == code, str(res)
            assert word in res.stderr, str(res)
            assert res.stderr.count("\n") == 1, str(res)  # one line
        assert commands(pause_dir, pid) == before  # nothing written
        assert read_pause(pause_dir, pid)["status"] != "aborted"
    assert cli("resume", b3["pause_id"], "--result", "true").returncode == EXIT["ok"]
    rc, out = s.finish()
    assert rc == 0, out  # nothing aborted the run
    assert "run aborted" not in out


@pytest.mark.parametrize("fulltrace", [False, True])
def test_abort_interrupted_line_with_any_reason_and_full_trace(
        pytester: pytest.Pytester, live, cli: Cli, pause_dir: Path, fulltrace: bool) -> None:
    """pytest's own "Interrupted" line still names the abort; its traceback
    is one frame of the plugin (pytest prints it whole only with
    --full-trace and a message naming KeyboardInterrupt), not pytest's run
    loop, whose formatting took hundreds of ms; never an INTERNALERROR."""
    pytester.makepyfile(test_fail=FAILURE_SUITE)
    s = live("--pause-on-failure", "--pause-timeout", "300",
             *(["--full-trace"] if fulltrace else []))
    block, _ = wait_block(s)
    reason = "KeyboardInterrupt on the rig"
    assert cli("abort", block["pause_id"], "--reason", reason).returncode == EXIT["ok"]
    rc, out = s.finish()
    assert rc == INTERRUPTED, out
    nodeid = "test_fail.py::test_a_fails"
    assert re.search(rf"^!+ Interrupted: live-pause: run aborted at {re.escape(nodeid)}: "
                     rf"{reason} !+$", out, re.M), out
    last_line_of_abort(out, nodeid, reason)
    # after that line: the one frame of the plugin, never pytest's run loop
    tail = out[out.index("! Interrupted: live-pause"):]
    assert ("raise pytest.Session.Interrupted(message)" in tail) == fulltrace, tail
    assert ("use --full-trace" in tail) != fulltrace, tail
    assert "_abort.py" in tail and "_pytest" not in tail and "pluggy" not in tail, tail
    assert "INTERNALERROR" not in out
