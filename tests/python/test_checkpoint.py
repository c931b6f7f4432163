"""Black-box tests: `checkpoint(task=...)` (from `pytest_live_pause`) and the
`live_pause` / `pause_run_id` fixtures pause a live test until
`pytest-live-pause resume <pause_id> --result true|false|none [--reason]`,
a timeout, or a mock says how it went.

The tests of the inner sessions write every Decision they get, as JSON
lines, to decisions.jsonl in the pytester directory; the outer tests assert
on those, on pytest's output and exit code, and on the pause directory.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import header_run_id, read_events, read_pause, wait_block

WAIT = 60.0  # a bound for a slow machine, never asserted on

RECORD = '''
import json


def record(name, d, **extra):
    with open("decisions.jsonl", "a") as f:
        f.write(json.dumps({"test": name, "result": d.result, "reason": d.reason,
                            "outcome": d.outcome, "pause_id": d.pause_id, **extra}) + "\\n")
'''


# ------------------------------------------------------------------ helpers


def make_pytest_ini(pytester: pytest.Pytester, text: str) -> Path:
    """Write pytest.ini (pytester.makeini would write tox.ini)."""
    return pytester.makefile(".ini", pytest=text)


def decisions(pytester: pytest.Pytester) -> dict[str, dict]:
    path = pytester.path / "decisions.jsonl"
    assert path.exists(), "the inner tests recorded no decision"
    return {d["test"]: d for d in map(json.loads, path.read_text().splitlines())}



# ------------------------------------------------------- resumed by the CLI

SEQUENCE = RECORD + '''
from pytest_live_pause import checkpoint


def check(name, task):
    decision = checkpoint(task=task, timeout=300)
    record(name, decision)
    if decision.result is False:
        raise AssertionError(decision.reason or "checkpoint failed")


def test_approved():
    check("test_approved", "Approve the external step")


def test_rejected():
    check("test_rejected", "Check the colour")


def test_none():
    check("test_none", "Decide later")


def test_reason_only():
    check("test_reason_only", "Explain only")
'''


def test_checkpoint_function_resumed_with_result_and_reason(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_steps=SEQUENCE)
    s = live()
    run_id = s.run_id
    verdicts = [
        ("test_approved", "Approve the external step", ["--result", "true", "--reason", "approved"],
         True, "approved"),
        ("test_rejected", "Check the colour", ["--result", "false", "--reason", "wrong colour"],
         False, "wrong colour"),
        ("test_none", "Decide later", ["--result", "none"], None, None),
        ("test_reason_only", "Explain only", ["--reason", "no verdict"], None, "no verdict"),
    ]
    pause_ids = {}
    for name, task, args, _, _ in verdicts:
        paused = cli.watch(run_id)
        assert paused["kind"] == "checkpoint"
        assert paused["nodeid"] == f"test_steps.py::{name}"
        assert paused["task"] == task
        assert paused["original_failure"] == ""  # 0.1.1's value for checkpoints
        res = cli("resume", paused["pause_id"], *args)
        assert res.returncode == 0, str(res)
        assert res.stdout.strip() == (
            f"resumed {paused['pause_id']} (checkpoint, test_steps.py::{name})")
        pause_ids[name] = paused["pause_id"]
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^=+ 1 failed, 3 passed", out, re.M), out
    assert "AssertionError: wrong colour" in out

    got = decisions(pytester)
    for name, _, _, result, reason in verdicts:
        d = got[name]
        assert (d["result"], d["reason"], d["outcome"]) == (result, reason, "resumed"), d
        assert d["pause_id"] == pause_ids[name]
        pf = read_pause(pause_dir, pause_ids[name])
        assert (pf["status"], pf["kind"], pf["result"], pf["reason"]) == (
            "resumed", "checkpoint", result, reason)
    # What the terminal says after each resume.
    assert re.search(r"^RESUMED \(resumed\): test_steps.py::test_approved\nresult: true\n"
                     r"reason: approved$", out, re.M), out
    assert re.search(r"^RESUMED \(resumed\): test_steps.py::test_none\nresult: none$", out, re.M)


FIXTURES = RECORD + '''
def test_fixture_true(live_pause, pause_run_id):
    assert live_pause.run_id == pause_run_id
    decision = live_pause.checkpoint(task="Approve via the fixture", timeout=300)
    record("test_fixture_true", decision, run_id=live_pause.run_id, pause_run_id=pause_run_id)
    assert decision.result is True, decision.reason


def test_fixture_false(live_pause, pause_run_id):
    assert live_pause.run_id == pause_run_id
    decision = live_pause.checkpoint(task="Reject via the fixture", timeout=300)
    record("test_fixture_false", decision, run_id=live_pause.run_id, pause_run_id=pause_run_id)
    assert decision.result is True, decision.reason
'''


def test_live_pause_fixture_checkpoint_resumed(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_fixture=FIXTURES)
    s = live()
    run_id = s.run_id
    first = cli.watch(run_id)
    assert (first["nodeid"], first["task"]) == ("test_fixture.py::test_fixture_true",
                                                "Approve via the fixture")
    assert cli("resume", first["pause_id"], "--result", "true", "--reason", "ok").returncode == 0
    second = cli.watch(run_id)
    assert (second["nodeid"], second["task"]) == ("test_fixture.py::test_fixture_false",
                                                  "Reject via the fixture")
    assert cli("resume", second["pause_id"], "--result", "false",
               "--reason", "screen is blank").returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^=+ 1 failed, 1 passed", out, re.M), out
    assert "AssertionError: screen is blank" in out
    got = decisions(pytester)
    assert got["test_fixture_true"]["result"] is True
    assert got["test_fixture_true"]["reason"] == "ok"
    assert got["test_fixture_true"]["outcome"] == "resumed"
    assert got["test_fixture_true"]["pause_id"] == first["pause_id"]
    assert got["test_fixture_false"]["result"] is False
    assert got["test_fixture_false"]["reason"] == "screen is blank"
    assert got["test_fixture_false"]["pause_id"] == second["pause_id"]
    assert got["test_fixture_false"]["run_id"] == run_id


def test_live_pause_run_id_equals_pause_run_id_and_header(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_ids='''
        import json

        def test_ids(live_pause, pause_run_id):
            with open("ids.json", "w") as f:
                json.dump({"live_pause": live_pause.run_id, "pause_run_id": pause_run_id}, f)
            assert live_pause.run_id == pause_run_id
    ''')
    result = run_pytest()
    out = result.stdout.str()
    assert result.ret == 0, out
    run_id = header_run_id(out)
    assert re.fullmatch(r"[0-9a-f]{12}", run_id)
    ids = json.loads((pytester.path / "ids.json").read_text())
    assert ids == {"live_pause": run_id, "pause_run_id": run_id}
    assert json.loads((pause_dir / "runs" / run_id / "run.json").read_text())["run_id"] == run_id


# ------------------------------------------------------------------ timeout

TIMEOUTS = RECORD + '''
from pytest_live_pause import checkpoint


def test_session_timeout(live_pause):
    record("test_session_timeout", live_pause.checkpoint(task="Nobody answers"))


def test_call_timeout():
    record("test_call_timeout", checkpoint(task="Nobody answers either", timeout=1))
'''


@pytest.mark.parametrize("args, tests", [
    pytest.param(["--pause-timeout", "1", "-k", "session"], ["test_session_timeout"],
                 id="pause-timeout-option"),
    pytest.param(["--pause-timeout", "300", "-k", "call"], ["test_call_timeout"],
                 id="timeout-argument-beats-option"),
])
def test_checkpoint_timeout_gives_timed_out_and_none(pytester, run_pytest, pause_dir, args, tests):
    pytester.makepyfile(test_timeouts=TIMEOUTS)
    result = run_pytest(*args)  # nobody resumes: only the timeout can end it
    out = result.stdout.str()
    assert result.ret == 0, out
    result.assert_outcomes(passed=1, deselected=1)
    got = decisions(pytester)
    assert list(got) == tests
    d = got[tests[0]]
    assert (d["result"], d["reason"], d["outcome"]) == (None, None, "timed_out")
    assert d["pause_id"] is not None
    assert f"pause_id: {d['pause_id']}" in out
    assert "timeout: 1s" in out
    assert re.search(rf"^RESUMED \(timed_out\): test_timeouts.py::{tests[0]}\nresult: none$",
                     out, re.M), out
    pf = read_pause(pause_dir, d["pause_id"])
    assert (pf["status"], pf["timeout"], pf["result"], pf["resolved_by"]) == (
        "timed_out", 1.0, None, "timeout")


# ------------------------------------------------- the test's signal handlers

HANDLERS = RECORD + '''
import signal
import pytest
from pytest_live_pause import ask, checkpoint


def mine(signum, frame):
    pass


KINDS = {"python": mine, "ignored": signal.SIG_IGN, "default": signal.SIG_DFL}


def kept(name):
    got = signal.getsignal(signal.SIGTERM)
    with open("handlers.jsonl", "a") as f:
        f.write(json.dumps({"test": name, "kept": got is KINDS[name.split("-")[-1]],
                            "got": repr(got)}) + "\\n")


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint(kind):
    signal.signal(signal.SIGTERM, KINDS[kind])
    checkpoint(task=kind, timeout=0)  # a real pause, timed out at once
    kept(f"checkpoint-{kind}")
    ask("which colour?", timeout=0)
    kept(f"ask-{kind}")


def failing(kind):
    def test(kind=kind):
        signal.signal(signal.SIGTERM, KINDS[kind])
        assert False, "paused after this"

    def test_after(kind=kind):  # the failure pause ends in a hook, after the test
        kept(f"failure-{kind}")

    return test, test_after


for kind in KINDS:  # in this order: each failure, then the test after it
    globals()[f"test_failure_{kind}"], globals()[f"test_failure_{kind}_after"] = failing(kind)
'''


def test_the_tests_sigterm_handler_is_its_own_again_after_each_pause(pytester, run_pytest):
    """While paused SIGTERM raises (the pause is then aborted); after the
    pause the handler the test had is back, the very object: a Python
    handler, SIG_IGN and SIG_DFL, after a checkpoint, a question and a
    failure pause (each timed out at once)."""
    pytester.makepyfile(test_handlers=HANDLERS)
    result = run_pytest("-p", "no:randomly", "--pause-on-failure", "--pause-timeout", "0")
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(passed=6, failed=3)
    assert out.count("PAUSED (failure)") == 3 and out.count("PAUSED (checkpoint)") == 3, out
    got = [json.loads(line) for line in
           (pytester.path / "handlers.jsonl").read_text().splitlines()]
    assert [g["test"] for g in got] == [
        f"{where}-{kind}" for kind in ("python", "ignored", "default")
        for where in ("checkpoint", "ask")] + [
        f"failure-{kind}" for kind in ("python", "ignored", "default")], got
    assert all(g["kept"] for g in got), got


# --------------------------------------------------------------------- mock

MOCKED = RECORD + '''
from pytest_live_pause import checkpoint


def test_function(live_pause):
    record("test_function", checkpoint(task="Mocked step", timeout=300))


def test_fixture(live_pause):
    record("test_fixture", live_pause.checkpoint(task="Mocked fixture step", timeout=300))


def test_seed_example():
    decision = checkpoint(task="Approve the external step", timeout=300)
    if decision.result is False:
        raise AssertionError(decision.reason or "checkpoint failed")
'''


def assert_mocked(pytester, result, pause_dir: Path, value):
    out = result.stdout.str()
    assert "PAUSED" not in out
    if value is False:
        result.assert_outcomes(passed=2, failed=1)
        assert "AssertionError: Mock" in out
    else:
        result.assert_outcomes(passed=3)
    got = decisions(pytester)
    for name in ("test_function", "test_fixture"):
        d = got[name]
        assert (d["result"], d["reason"], d["outcome"], d["pause_id"]) == (
            value, "Mock", "mocked", None), d
    run_id = header_run_id(out)
    assert not list((pause_dir / "runs" / run_id).glob("pauses/*")), "a mocked checkpoint paused"
    assert not list((pause_dir / "pending").glob("*"))
    mocked = [e for e in read_events(pause_dir, run_id) if e["event"] == "checkpoint_mocked"]
    assert [(e["nodeid"], e["task"], e["result"]) for e in mocked] == [
        ("test_mocked.py::test_function", "Mocked step", value),
        ("test_mocked.py::test_fixture", "Mocked fixture step", value),
        ("test_mocked.py::test_seed_example", "Approve the external step", value),
    ]


@pytest.mark.parametrize("text, value", [("true", True), ("false", False), ("none", None)])
def test_checkpoint_mocked_by_option(pytester, run_pytest, pause_dir, text, value):
    pytester.makepyfile(test_mocked=MOCKED)
    # pytester's own timeout bounds the run: a real pause would wait 300 s.
    result = run_pytest("--pause-checkpoint-mock", text)
    assert_mocked(pytester, result, pause_dir, value)


@pytest.mark.parametrize("text, value", [("true", True), ("false", False), ("none", None)])
def test_checkpoint_mocked_by_ini_key(pytester, run_pytest, pause_dir, text, value):
    make_pytest_ini(pytester, f"[pytest]\npause_checkpoint_mock = {text}\n")
    pytester.makepyfile(test_mocked=MOCKED)
    result = run_pytest()
    assert_mocked(pytester, result, pause_dir, value)


# ------------------------------------------------- wrong options of resume


def test_failure_reason_on_a_checkpoint_is_refused_and_writes_nothing(
        pytester, live, cli, pause_dir):
    pytester.makepyfile(test_steps=SEQUENCE)
    s = live("-k", "approved")
    run_id = s.run_id
    paused = cli.watch(run_id)
    pause_id = paused["pause_id"]
    commands = pause_dir / "runs" / run_id / "commands"
    for args in (["--failure-reason", "boom"],
                 ["--result", "true", "--failure-reason", "boom"]):
        res = cli("resume", pause_id, *args)
        assert res.returncode == 2, str(res)
        assert res.stdout == ""
        assert len(res.stderr.strip().splitlines()) == 1, str(res)
        assert "--failure-reason" in res.stderr
        assert not list(commands.iterdir()), "a refused resume wrote a file"
        assert read_pause(pause_dir, pause_id)["status"] == "pending"
    # The pause still waits, and takes a proper verdict.
    res = cli("resume", pause_id, "--result", "true", "--reason", "approved")
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 0, out
    d = decisions(pytester)["test_approved"]
    assert (d["result"], d["reason"], d["outcome"]) == (True, "approved", "resumed")


def test_hand_written_failure_reason_on_a_checkpoint_is_rejected(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_steps=SEQUENCE)
    s = live("-k", "approved")
    run_id = s.run_id
    block, after = wait_block(s)
    pause_id = block["pause_id"]
    cmd = pause_dir / "runs" / run_id / "commands" / f"{pause_id}.resume.json"
    # typed commands (with "action") are checked strictly; the seed format
    # reads these as 0.1.1 did (test_claim_hardening.py)
    cmd.write_text('{"action": "resume", "failure_reason": "boom"}')
    m = s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pause_id)}: (.*)$",
                        start=after)
    assert "failure_reason" in m.group(1)
    cmd.write_text('{"action": "resume", "result": "yes"}')
    s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pause_id)}: .*result",
                    start=after)
    assert read_pause(pause_dir, pause_id)["status"] == "pending"
    assert cli("resume", pause_id, "--result", "true").returncode == 0
    rc, out = s.finish()
    assert rc == 0, out
    d = decisions(pytester)["test_approved"]
    assert (d["result"], d["reason"], d["outcome"]) == (True, None, "resumed")
    rejected = [e for e in read_events(pause_dir, run_id) if e["event"] == "command_rejected"]
    assert len(rejected) == 2 and all(e["pause_id"] == pause_id for e in rejected)


# --------------------------------------------------------- outside pytest


def test_checkpoint_outside_pytest_raises_runtime_error(tmp_path, pause_dir):
    code = ("from pytest_live_pause import checkpoint\n"
            "checkpoint(task='Approve the external step', timeout=1)\n")
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=WAIT, cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: "), proc.stderr
    assert "pytest" in last and "checkpoint()" in last, last
    assert not pause_dir.exists(), "checkpoint() outside pytest wrote to the pause directory"


def test_checkpoint_with_the_plugin_disabled_raises_runtime_error(pytester, run_pytest):
    pytester.makepyfile(test_off='''
        import pytest
        from pytest_live_pause import checkpoint

        def test_off():
            with pytest.raises(RuntimeError, match="pytest-live-pause"):
                checkpoint(task="nobody can answer", timeout=300)
    ''')
    result = run_pytest("-p", "no:live_pause")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)
    assert "run_id=" not in result.stdout.str()


# ------------------------------------------------------- watch and show


def test_watch_and_show_print_the_checkpoint_task(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_task='''
        from pytest_live_pause import checkpoint

        def test_task():
            d = checkpoint(task="Approve the external step\\nthen unplug the phone", timeout=300)
            assert d.result is True
    ''')
    s = live()
    run_id = s.run_id
    task = "Approve the external step\nthen unplug the phone"
    watch = cli("watch", "--run-id", run_id, "--timeout", str(WAIT))
    assert watch.returncode == 0, str(watch)
    lines = watch.stdout.splitlines()
    pause_id = re.fullmatch(r"pause detected: (\S+)", lines[0]).group(1)
    assert f"pause_id: {pause_id}" in lines
    assert "kind: checkpoint" in lines
    assert "nodeid: test_task.py::test_task" in lines
    i = lines.index("task: Approve the external step")
    assert lines[i + 1] == "  then unplug the phone"
    assert "original_failure" not in watch.stdout

    show = cli("show", pause_id)
    assert show.returncode == 0, str(show)
    lines = show.stdout.splitlines()
    i = lines.index("task: Approve the external step")
    assert lines[i + 1] == "  then unplug the phone"
    assert "kind: checkpoint" in lines
    assert "state: pending" in lines

    assert cli("show", pause_id, "--json").json()["task"] == task
    assert cli.watch(run_id)["task"] == task
    assert read_pause(pause_dir, pause_id)["task"] == task

    assert cli("resume", pause_id, "--result", "true").returncode == 0
    rc, out = s.finish()
    assert rc == 0, out
