"""pytest-xdist, black box: one run per session (the controller prints its
run_id once, workers join it), pauses from every worker seen by
`watch --run-id`, a failure pause in one worker does not stop the other,
teardown runs after the resume, the failure reason reaches the
controller's report, the run stays active while the controller lives, and
checkpoints, mocks and QAMule mode work in workers.

Two test files with `--dist loadfile`: xdist hands each of the two workers
one file at the start, so both workers pause.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import WAIT, Cli

pytest.importorskip("xdist")

FILE = '''
import os
import pytest
from pytest_live_pause import checkpoint


@pytest.fixture
def scene(request):
    yield
    with open(os.environ["ORDER_FILE"], "a") as f:
        f.write(f"teardown {{request.node.nodeid}}\\n")


def test_1_fails(scene):
    assert 1 == 2, "broken in {name}"


def test_2_checkpoint(live_pause):
    decision = {call}
    assert decision.result is True, decision.reason
'''


def make_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a=FILE.format(name="a", call='live_pause.checkpoint(task="approve a")'),
        test_b=FILE.format(name="b", call='checkpoint(task="approve b")'),
    )


def watch(cli: Cli, run_id: str):
    return cli("watch", "--run-id", run_id, "--timeout", str(WAIT), "--json",
               timeout=WAIT + 30)


def test_pauses_in_both_workers_resumed_by_an_agent_loop(pytester: pytest.Pytester, live,
                                                          cli: Cli) -> None:
    make_suite(pytester)
    order = pytester.path / "order.txt"
    session = live("-n", "2", "--dist", "loadfile", "--pause-on-failure", "-rA",
                   env={"ORDER_FILE": str(order)})
    run_id = session.run_id
    # Both workers are paused at their failure at the same time: a pause in
    # one does not stop the other.
    session.wait_for_line(r"^worker: gw0$")
    session.wait_for_line(r"^worker: gw1$")
    pending = [json.loads(l) for l in cli("ls", "--json").stdout.splitlines()]
    assert sorted((p["worker_id"], p["kind"]) for p in pending if p["run_id"] == run_id) == [
        ("gw0", "failure"), ("gw1", "failure")]
    assert not order.exists()  # no teardown while paused

    # The agent: watch -> resume until the run is no longer active.
    seen: list[dict] = []
    for _ in range(10):
        res = watch(cli, run_id)
        if res.returncode == 9:
            assert "run is no longer active" in res.stdout + res.stderr, str(res)
            break
        assert res.returncode == 0, str(res)
        pause = res.json()
        assert pause["pause_id"] not in [p["pause_id"] for p in seen]
        seen.append(pause)
        if pause["kind"] == "failure":
            args = ["--failure-reason", f"reason for {pause['nodeid']}"]
        else:
            args = ["--result", "true", "--reason", "approved"]
        done = cli("resume", pause["pause_id"], *args)
        assert done.returncode == 0, str(done)
    else:
        pytest.fail(f"watch never reported the end of the run:\n{session.output}")

    rc, out = session.finish()
    assert rc == 1, out
    assert sorted((p["worker_id"], p["kind"]) for p in seen) == [
        ("gw0", "checkpoint"), ("gw0", "failure"), ("gw1", "checkpoint"), ("gw1", "failure")]
    # one run: the controller printed its run_id once, every pause is of it
    assert len(re.findall(r"^pytest-live-pause: run_id=", out, re.M)) == 1
    assert {p["run_id"] for p in seen} == {run_id}
    # the reasons reached the controller's report
    for name in ("a", "b"):
        assert f"failure reason: reason for test_{name}.py::test_1_fails" in out
    assert re.search(r"2 failed, 2 passed", out), out
    # teardown ran after each resume
    assert sorted(order.read_text().splitlines()) == [
        "teardown test_a.py::test_1_fails", "teardown test_b.py::test_1_fails"]


QAMULE_FILE = '''
import dataclasses, json


def test_1_fails():
    assert 1 == 2, "broken in {name}"


def test_2_checkpoint(agent_checkpoint):
    decision = agent_checkpoint("look at screen {name}")
    print("DECISION " + json.dumps(dataclasses.asdict(decision), sort_keys=True))
    assert decision.result is True, decision.reason
'''

# QAMule's resume script, picking one event line (two workers pause at once).
AGENT = r'''
import json, os, signal, sys
log, request_id, body = sys.argv[1:4]
with open(log, encoding="utf-8") as f:
    events = [json.loads(l.split("QAMULE_PAUSE_EVENT ", 1)[1])
              for l in f.read().splitlines() if "QAMULE_PAUSE_EVENT " in l]
event = [e for e in events if e["request_id"] == request_id][-1]
with open(event["result_path"], "w", encoding="utf-8") as f:
    f.write(body)
os.kill(event["pid"], getattr(signal, event["signal"]))
'''


def events_of(output: str, prefix: str) -> list[dict]:
    return [json.loads(l[len(prefix) + 1:]) for l in output.splitlines()
            if l.startswith(prefix + " ")]


def test_qamule_mode_in_workers(pytester: pytest.Pytester, live, cli: Cli) -> None:
    pytester.makepyfile(test_a=QAMULE_FILE.format(name="a"),
                        test_b=QAMULE_FILE.format(name="b"))
    script = pytester.path / "agent.py"
    script.write_text(AGENT)
    session = live("-n", "2", "--dist", "loadfile", "--pause-compat=qamule",
                   "--pause-on-failure", f"--pause-result-dir={pytester.path}", "-rA")
    run_id = session.run_id
    log = pytester.path / "pytest.log"

    def resume(events: list[dict], body: str) -> None:
        """QAMule's script for each event: result file, then the signal."""
        log.write_text(session.output + "\n")
        for event in events:
            proc = subprocess.run([sys.executable, str(script), str(log), event["request_id"],
                                   body], capture_output=True, text=True, timeout=WAIT)
            assert proc.returncode == 0, proc.stderr

    failures = wait_events(session, 2)
    resume(failures, '{"verdict": "device frozen"}')
    pids = {e["pid"] for e in failures}
    assert len(pids) == 2 and session.proc.pid not in pids  # the workers' own pids
    assert {e["reason"] for e in failures} == {"failure"}
    checkpoints = wait_events(session, 4)[2:]
    resume(checkpoints, '{"result": true, "reason": "screen ok"}')
    assert {e["reason"] for e in checkpoints} == {"checkpoint"}
    assert {e["pid"] for e in checkpoints} == pids

    rc, out = session.finish()
    assert rc == 1, out
    resumes = events_of(out, "QAMULE_PAUSE_RESUME")
    assert sorted(r["request_id"] for r in resumes) == sorted(
        e["request_id"] for e in failures + checkpoints)
    assert {r["outcome"] for r in resumes} == {"signal"}
    results = events_of(out, "QAMULE_PAUSE_RESULT")
    assert [r["payload"] for r in results] == [{"verdict": "device frozen"}] * 2
    decisions = [json.loads(m) for m in re.findall(r"^DECISION (.*)$", out, re.M)]
    assert sorted((d["outcome"], d["result"], d["reason"]) for d in decisions) == [
        ("signal", True, "screen ok")] * 2
    assert re.search(r"2 failed, 2 passed", out), out
    # the native side saw every pause, from both workers
    listed = [json.loads(l) for l in cli("ls", "-a", "--json").stdout.splitlines()]
    mine = [p for p in listed if p["run_id"] == run_id]
    assert sorted(p["worker_id"] for p in mine) == ["gw0", "gw0", "gw1", "gw1"]
    assert {p["resolved_by"] for p in mine} == {"signal"}


def wait_events(session, k: int) -> list[dict]:
    """Block until k QAMULE_PAUSE_EVENT lines are out; return the first k."""
    start = 0
    for i in range(1, k + 1):
        session.wait_for_line(r"^QAMULE_PAUSE_EVENT ", start=start)
        start = _index_after(session, i)
    return events_of(session.output, "QAMULE_PAUSE_EVENT")[:k]


def _index_after(session, n: int) -> int:
    """Index of the line after the n-th QAMULE_PAUSE_EVENT line."""
    seen = 0
    with session._cond:
        for i, line in enumerate(session.lines):
            if line.startswith("QAMULE_PAUSE_EVENT "):
                seen += 1
                if seen == n:
                    return i + 1
    return 0


def test_mocked_checkpoints_in_workers(pytester: pytest.Pytester, pause_dir) -> None:
    make_suite(pytester)
    pytester.makepyfile(test_c=QAMULE_FILE.format(name="c"))
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--pause-compat=qamule",
        "--pause-checkpoint-mock", "true", "-k", "checkpoint", "-rA",
        f"--pause-dir={pause_dir}")
    out = res.stdout.str()
    assert res.ret == 0, out
    res.stdout.fnmatch_lines(["*3 passed*"])
    assert "PAUSED" not in out and "QAMULE_PAUSE_EVENT" not in out
    decision = json.loads(re.search(r"^DECISION (.*)$", out, re.M).group(1))
    assert (decision["outcome"], decision["result"], decision["reason"]) == (
        "mocked", True, "Mock")
