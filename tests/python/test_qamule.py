"""QAMule mode (--pause-compat=qamule), black box: a test module written for
QAMule's conftest plugin runs unchanged, and a separate process that does
what QAMule's resume script does (find the LAST `QAMULE_PAUSE_EVENT` line of
the pytest log, write the JSON result to its `result_path`, send its
`signal` to its `pid`) resumes it. The same pause is a native pause, listed
and resumable by the `pytest-live-pause` command; exactly one channel wins.

The contract is the shared reference `qamule-protocol.md` (docs/qamule.md
maps it to the implementation).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import WAIT, Cli, LivePytest

SEP = "=" * 60
EVENT = "QAMULE_PAUSE_EVENT"
RESUME = "QAMULE_PAUSE_RESUME"
WARNING = "QAMULE_PAUSE_WARNING"
RESULT = "QAMULE_PAUSE_RESULT"
EVENT_RE = rf"^{EVENT} "
TASK = "Confirm the summary screen shows 3 items \u2014 caf\u00e9"
MISSING_MSG = "Checkpoint resumed without a result payload."
EXTRA_MSG = "Agent checkpoint result JSON only accepts 'result' and 'reason'."

# What QAMule's skills/pytest/scripts/resume.sh does, as a separate process.
AGENT = r'''
"""usage: qamule_resume.py LOG [--result true|false [--reason TEXT] | --json TEXT | --continue-only]"""
import json, os, signal, sys

log, args = sys.argv[1], sys.argv[2:]
with open(log, encoding="utf-8") as f:
    lines = [l for l in f.read().splitlines() if "QAMULE_PAUSE_EVENT " in l]
if not lines:
    sys.exit("no QAMULE_PAUSE_EVENT in " + log)
event = json.loads(lines[-1].split("QAMULE_PAUSE_EVENT ", 1)[1])
body = None
if args[:1] == ["--json"]:
    body = args[1]
elif args[:1] == ["--result"]:
    payload = {"result": args[1] == "true"}
    if args[2:3] == ["--reason"]:
        payload["reason"] = args[3]
    body = json.dumps(payload)
if body is not None:
    with open(event["result_path"], "w", encoding="utf-8") as f:
        f.write(body + "\n")
os.kill(event["pid"], getattr(signal, event["signal"]))
print(event["request_id"])
'''

# A test module as QAMule users wrote them, recording what it got.
CHECKPOINT_SUITE = f'''
import dataclasses, json

def test_summary(agent_checkpoint):
    decision = agent_checkpoint({TASK!r})
    print("DECISION " + json.dumps(dataclasses.asdict(decision), sort_keys=True))
    assert decision.result is True, decision.reason
'''

FAILURE_SUITE = '''
import os
import pytest

@pytest.fixture
def scene():
    yield
    with open(os.environ["ORDER_FILE"], "a") as f:
        f.write("teardown\\n")

def test_checkout(scene):
    assert 2 + 2 == 5, "total is wrong"
'''


# ------------------------------------------------------------- helpers


def machine(live: LivePytest, prefix: str) -> list[dict]:
    """Every `<prefix> {json}` line of the output, checked to be exactly
    what json.dumps(sort_keys=True, ensure_ascii=False) prints."""
    found = []
    for line in live.output.splitlines():
        if line.startswith(prefix + " "):
            obj = json.loads(line[len(prefix) + 1:])
            assert line == f"{prefix} " + json.dumps(obj, sort_keys=True, ensure_ascii=False)
            found.append(obj)
    return found


def wait_event(live: LivePytest, n: int = 1) -> dict:
    """Block until the n-th QAMULE_PAUSE_EVENT line is out; return it."""
    start = 0
    for _ in range(n):
        live.wait_for_line(EVENT_RE, start=start)
        with live._cond:
            start = next(i for i in range(start, len(live.lines))
                         if live.lines[i].startswith(EVENT + " ")) + 1
    return machine(live, EVENT)[n - 1]


def run_agent(pytester: pytest.Pytester, live: LivePytest, *args: str) -> str:
    """Run the QAMule-style resume script on the log so far."""
    script = pytester.path / "qamule_resume.py"
    if not script.exists():
        script.write_text(AGENT, encoding="utf-8")
    log = pytester.path / "pytest.log"
    log.write_text(live.output + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(log), *args],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def decision_of(output: str) -> dict:
    m = re.search(r"^DECISION (.*)$", output, re.M)
    assert m, output
    return json.loads(m.group(1))


def assert_paused_per_monitor(live: LivePytest, event: dict) -> None:
    """QAMule's monitor: paused when the log's last line is a
    QAMULE_PAUSE_EVENT line, or (older form) matches `Send ... to continue:`."""
    with live._cond:
        last = live.lines[-1]
    assert last.startswith(EVENT + " ") and json.loads(last[len(EVENT) + 1:]) == event
    send = [l for l in live.output.splitlines() if re.search(r"Send\s.*to\scontinue:", l)]
    assert send[-1] == (f">>> Send {event['signal']} to continue: "
                        f"`kill -{event['signal']} {event['pid']}`")


def assert_block(live: LivePytest, event: dict, heading: str, details: list[str]) -> None:
    """The human block just before the event line, line by line."""
    lines = live.output.splitlines()
    end = max(i for i, l in enumerate(lines) if l.startswith(EVENT + " "))
    n = 9 + len(details) + (1 if details else 0)
    block = lines[end - n:end]
    seconds = event["timeout_sec"]
    assert block[:8] == [
        SEP,
        f"PAUSED - {heading}",
        f"Reason: {event['reason']}",
        f"Test: {event['nodeid']}",
        SEP,
        f">>> Send {event['signal']} to continue: `kill -{event['signal']} {event['pid']}`",
        f">>> Write JSON result to: {event['result_path']}",
        f">>> Auto-resumes in {seconds}s ...",
    ], "\n".join(lines)
    assert block[8].startswith(">>> Or: pytest-live-pause resume ")
    if details:
        assert block[9:] == ["Details:", *details]


def native_pause(cli: Cli, run_id: str, event: dict) -> dict:
    """The same pause as the native CLI sees it (watch, then show)."""
    pause = cli.watch(run_id)
    shown = cli("show", pause["pause_id"], "--json")
    assert shown.returncode == 0, str(shown)
    info = shown.json()
    assert info["request_id"] == event["request_id"]
    assert info["result_path"] == event["result_path"]
    assert info["signal"] == event["signal"]
    assert info["state"] == "pending"
    listed = cli("ls", "--json")
    assert listed.returncode == 0, str(listed)
    assert pause["pause_id"] in listed.stdout
    return info


# ---------------------------------------------------------- checkpoints

CASES = {
    # name: (agent arguments, outcome, result, reason, warning?, has_result)
    "true": (["--result", "true", "--reason", "3 items, as asked"],
             "signal", True, "3 items, as asked", False, True),
    "false": (["--result", "false", "--reason", "only 2 items"],
              "signal", False, "only 2 items", False, True),
    "missing_result": (["--continue-only"],
                       "missing_result", None, MISSING_MSG, True, False),
    "invalid_json": (["--json", '{"result": true,'],
                     "invalid_result", None, "Invalid pause result JSON: ", True, True),
    "extra_keys": (["--json", '{"result": true, "reason": "ok", "status": "done"}'],
                   "invalid_result", None, EXTRA_MSG, True, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_checkpoint_resumed_by_qamule_script(pytester: pytest.Pytester, live, cli: Cli,
                                             case: str) -> None:
    agent_args, outcome, result, reason, warns, has_result = CASES[case]
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    results = pytester.path / "results"
    session = live("--pause-compat=qamule", f"--pause-result-dir={results}", "-rA")
    run_id = session.run_id
    event = wait_event(session)

    assert set(event) == {"context", "event", "nodeid", "pid", "reason", "request_id",
                          "result_path", "signal", "timeout_sec"}
    assert event["event"] == "qamule.pause"
    assert event["reason"] == "checkpoint"
    assert event["context"] == {"task": TASK}
    assert event["nodeid"] == "test_summary.py::test_summary"
    assert event["pid"] == session.proc.pid
    assert re.fullmatch(r"[0-9a-f]{32}", event["request_id"])
    assert event["result_path"] == str(results / f"{event['request_id']}.json")
    assert event["signal"] == "SIGUSR1"
    assert event["timeout_sec"] == 600  # QAMule's default in QAMule mode
    assert_block(session, event, "agent checkpoint requested.", [TASK])
    assert_paused_per_monitor(session, event)
    info = native_pause(cli, run_id, event)  # also a native pause

    assert run_agent(pytester, session, *agent_args) == event["request_id"]
    rc, out = session.finish()

    resumes = machine(session, RESUME)
    assert resumes == [{
        "event": "qamule.resume", "has_result": has_result, "nodeid": event["nodeid"],
        "outcome": "signal", "reason": "checkpoint", "request_id": event["request_id"],
        "result_path": event["result_path"], "signal": "SIGUSR1",
    }]
    decision = decision_of(out)
    assert decision["outcome"] == outcome
    assert decision["result"] is result
    assert decision["request_id"] == event["request_id"]
    assert decision["result_path"] == event["result_path"]
    assert decision["resume_signal"] == "SIGUSR1"
    assert decision["reason"].startswith(reason)
    warnings = machine(session, WARNING)
    if warns:
        assert warnings == [{
            "event": "qamule.pause_warning", "outcome": outcome, "pause_reason": "checkpoint",
            "reason": decision["reason"], "request_id": event["request_id"],
            "result_path": event["result_path"],
        }]
    else:
        assert warnings == []
    assert machine(session, RESULT) == []
    assert rc == (0 if result is True else 1), out
    if result is not True:
        assert decision["reason"] in out  # the assert message of the test
    # the native record agrees
    shown = cli("show", info["pause_id"], "--json").json()
    assert shown["status"] == "resumed" and shown["resolved_by"] == "signal"
    assert shown["result"] is result


def test_checkpoint_timeout(pytester: pytest.Pytester, live) -> None:
    pytester.makepyfile(test_wait='''
        import dataclasses, json

        def test_wait(agent_checkpoint):
            decision = agent_checkpoint("nobody answers", timeout=1)
            print("DECISION " + json.dumps(dataclasses.asdict(decision), sort_keys=True))
    ''')
    session = live("--pause-compat=qamule", "-rA")
    event = wait_event(session)
    assert event["timeout_sec"] == 1
    # QAMule's default result directory
    assert event["result_path"] == os.path.join(
        tempfile.gettempdir(), "qamule-pauses", event["request_id"] + ".json")
    rc, out = session.finish()
    assert rc == 0, out
    assert machine(session, RESUME) == [{
        "event": "qamule.resume", "has_result": False, "nodeid": "test_wait.py::test_wait",
        "outcome": "timeout", "reason": "checkpoint", "request_id": event["request_id"],
        "result_path": event["result_path"], "signal": "SIGUSR1",
    }]
    assert machine(session, WARNING) == []
    decision = decision_of(out)
    assert decision == {"outcome": "timeout", "reason": None, "request_id": event["request_id"],
                        "result": None, "result_path": event["result_path"],
                        "resume_signal": "SIGUSR1"}


def test_ini_signal_and_result_dir(pytester: pytest.Pytester, live) -> None:
    """One ini key switches QAMule mode on; the signal and the result
    directory come from the ini too; QAMule's integer --pause-timeout."""
    pytester.makeini("""
        [pytest]
        pause_compat = qamule
        pause_resume_signal = SIGUSR2
        pause_result_dir = agent-results
    """)
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    session = live("--pause-timeout", "45", "-rA")
    event = wait_event(session)
    assert event["signal"] == "SIGUSR2"
    assert event["timeout_sec"] == 45
    assert event["result_path"] == str(pytester.path / "agent-results"
                                       / f"{event['request_id']}.json")
    assert_block(session, event, "agent checkpoint requested.", [TASK])
    run_agent(pytester, session, "--result", "true")
    rc, out = session.finish()
    assert rc == 0, out
    decision = decision_of(out)
    assert (decision["outcome"], decision["result"], decision["reason"]) == ("signal", True, None)
    assert decision["resume_signal"] == "SIGUSR2"
    assert machine(session, RESUME)[0]["signal"] == "SIGUSR2"


def test_checkpoint_answered_by_native_cli(pytester: pytest.Pytester, live, cli: Cli) -> None:
    """Both channels are open: `pytest-live-pause resume` answers a QAMule
    checkpoint, and QAMule's lines say so."""
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    session = live("--pause-compat=qamule", f"--pause-result-dir={pytester.path}", "-rA")
    event = wait_event(session)
    info = native_pause(cli, session.run_id, event)
    res = cli("resume", info["pause_id"], "--result", "true", "--reason", "seen by a person")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 0, out
    assert machine(session, RESUME) == [{
        "event": "qamule.resume", "has_result": True, "nodeid": event["nodeid"],
        "outcome": "cli", "reason": "checkpoint", "request_id": event["request_id"],
        "result_path": event["result_path"], "signal": "SIGUSR1",
    }]
    assert machine(session, WARNING) == []
    decision = decision_of(out)
    assert (decision["outcome"], decision["result"], decision["reason"]) == (
        "cli", True, "seen by a person")


# ------------------------------------------------------------- failures


def test_failure_resumed_by_signal_with_payload(pytester: pytest.Pytester, live,
                                                cli: Cli) -> None:
    pytester.makepyfile(test_checkout=FAILURE_SUITE)
    order = pytester.path / "order.txt"
    session = live("--pause-compat=qamule", "--pause-on-failure",
                   f"--pause-result-dir={pytester.path / 'results'}",
                   env={"ORDER_FILE": str(order)})
    event = wait_event(session)
    assert event["reason"] == "failure"
    assert event["nodeid"] == "test_checkout.py::test_checkout"
    ctx = event["context"]
    assert set(ctx) == {"longrepr", "outcome", "when"}
    assert (ctx["outcome"], ctx["when"]) == ("failed", "call")
    assert "total is wrong" in ctx["longrepr"]
    assert_block(session, event, "test failed, device state preserved.",
                 ctx["longrepr"].splitlines())
    assert_paused_per_monitor(session, event)
    info = native_pause(cli, session.run_id, event)
    assert info["kind"] == "failure"
    assert not order.exists()  # paused before teardown

    payload = {"status": "confirmed", "reason": "observed by agent \u00e9", "n": 1.5,
               "items": [1, None, True]}
    run_agent(pytester, session, "--json", json.dumps(payload))
    rc, out = session.finish()
    assert rc == 1, out
    assert order.read_text() == "teardown\n"  # teardown ran, after the resume

    assert machine(session, RESUME) == [{
        "event": "qamule.resume", "has_result": True, "nodeid": event["nodeid"],
        "outcome": "signal", "reason": "failure", "request_id": event["request_id"],
        "result_path": event["result_path"], "signal": "SIGUSR1",
    }]
    assert machine(session, RESULT) == [{
        "event": "qamule.pause_result", "nodeid": event["nodeid"], "payload": payload,
        "reason": "failure", "request_id": event["request_id"],
    }]
    assert machine(session, WARNING) == []
    # the payload is in the failure report
    assert "qamule result: " + json.dumps(payload, sort_keys=True, ensure_ascii=False) in out
    shown = cli("show", info["pause_id"], "--json").json()
    assert (shown["status"], shown["resolved_by"]) == ("resumed", "signal")


def test_failure_resumed_by_native_cli(pytester: pytest.Pytester, live, cli: Cli) -> None:
    pytester.makepyfile(test_checkout=FAILURE_SUITE)
    order = pytester.path / "order.txt"
    session = live("--pause-compat=qamule", "--pause-on-failure",
                   f"--pause-result-dir={pytester.path}", env={"ORDER_FILE": str(order)})
    event = wait_event(session)
    info = native_pause(cli, session.run_id, event)
    res = cli("resume", info["pause_id"], "--failure-reason", "the price list is stale")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 1, out
    assert order.read_text() == "teardown\n"
    assert machine(session, RESUME) == [{
        "event": "qamule.resume", "has_result": True, "nodeid": event["nodeid"],
        "outcome": "cli", "reason": "failure", "request_id": event["request_id"],
        "result_path": event["result_path"], "signal": "SIGUSR1",
    }]
    assert machine(session, RESULT) == []
    assert machine(session, WARNING) == []
    assert "failure reason: the price list is stale" in out


def test_invalid_failure_result_warns(pytester: pytest.Pytester, live) -> None:
    pytester.makepyfile(test_checkout=FAILURE_SUITE)
    session = live("--pause-compat=qamule", "--pause-on-failure",
                   f"--pause-result-dir={pytester.path}",
                   env={"ORDER_FILE": str(pytester.path / "order.txt")})
    event = wait_event(session)
    run_agent(pytester, session, "--json", "[1, 2]")
    rc, out = session.finish()
    assert rc == 1, out
    assert machine(session, RESULT) == []
    assert machine(session, WARNING) == [{
        "event": "qamule.pause_warning", "outcome": "invalid_result",
        "pause_reason": "failure", "reason": "Pause result must be a JSON object.",
        "request_id": event["request_id"], "result_path": event["result_path"],
    }]


HOLD_TEST = '''

def test_hold():
    # keeps the session alive until the outer test has sent every signal
    with open(os.environ["HOLD_FIFO"]) as f:
        f.read()
'''


def test_signal_and_cli_race_one_winner(pytester: pytest.Pytester, live, cli: Cli) -> None:
    """The resume signal and `pytest-live-pause resume` at the same time:
    exactly one wins, the other learns it, and the late signal does no harm."""
    pytester.makepyfile(test_checkout=FAILURE_SUITE + HOLD_TEST)
    fifo = pytester.path / "hold.fifo"
    os.mkfifo(fifo)
    session = live("--pause-compat=qamule", "--pause-on-failure",
                   f"--pause-result-dir={pytester.path}",
                   env={"ORDER_FILE": str(pytester.path / "order.txt"),
                        "HOLD_FIFO": str(fifo)})
    event = wait_event(session)
    info = native_pause(cli, session.run_id, event)
    go = threading.Barrier(2)
    outcome: dict = {}

    def by_cli() -> None:
        go.wait(WAIT)
        outcome["cli"] = cli("resume", info["pause_id"], "--failure-reason", "from the cli")

    thread = threading.Thread(target=by_cli)
    thread.start()
    go.wait(WAIT)
    run_agent(pytester, session, "--json", '{"from": "signal"}')
    thread.join(WAIT)
    # Both have acted: the signal is queued, whenever it is handled. Let
    # the session end (open() of the FIFO returns once test_hold reads it).
    release = threading.Thread(target=lambda: open(fifo, "w").close(), daemon=True)
    release.start()
    release.join(WAIT)
    assert not release.is_alive(), session.output
    rc, out = session.finish()
    assert rc == 1, out  # the process was not killed by a late signal
    resumes = machine(session, RESUME)
    assert len(resumes) == 1, out
    shown = cli("show", info["pause_id"], "--json").json()
    assert shown["resolved_by"] == resumes[0]["outcome"]
    if resumes[0]["outcome"] == "cli":
        assert outcome["cli"].returncode == 0, str(outcome["cli"])
        assert "failure reason: from the cli" in out
        assert machine(session, RESULT) == []
    else:
        assert resumes[0]["outcome"] == "signal"
        assert outcome["cli"].returncode == 5, str(outcome["cli"])  # already resumed
        assert machine(session, RESULT)[0]["payload"] == {"from": "signal"}
        assert "failure reason: from the cli" not in out


def test_late_signal_is_harmless(pytester: pytest.Pytester, live, cli: Cli) -> None:
    """A resume signal after the pause ended (QAMule's script run twice)
    neither kills the run nor resumes the next pause."""
    pytester.makepyfile(test_two='''
        import dataclasses, json, os, signal

        def test_one(agent_checkpoint):
            first = agent_checkpoint("first")
            os.kill(os.getpid(), signal.SIGUSR1)  # the script, run a second time
            second = agent_checkpoint("second")
            for d in (first, second):
                print("DECISION " + json.dumps(dataclasses.asdict(d), sort_keys=True))
    ''')
    session = live("--pause-compat=qamule", f"--pause-result-dir={pytester.path}", "-rA")
    first = wait_event(session)
    run_agent(pytester, session, "--result", "true")
    second = wait_event(session, 2)
    assert second["request_id"] != first["request_id"]
    info = native_pause(cli, session.run_id, second)  # still pending
    res = cli("resume", info["pause_id"], "--result", "false", "--reason", "by cli")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert rc == 0, out
    assert [r["outcome"] for r in machine(session, RESUME)] == ["signal", "cli"]
    decisions = [json.loads(m) for m in re.findall(r"^DECISION (.*)$", out, re.M)]
    assert [(d["outcome"], d["result"]) for d in decisions] == [("signal", True), ("cli", False)]


def test_native_checkpoint_in_qamule_mode(pytester: pytest.Pytester, live) -> None:
    """checkpoint() and live_pause.checkpoint() are QAMule pauses too in
    QAMule mode; they return the native Decision."""
    pytester.makepyfile(test_native='''
        import json
        from pytest_live_pause import checkpoint

        def test_native(live_pause):
            first = checkpoint(task="first")
            second = live_pause.checkpoint(task="second")
            for d in (first, second):
                print("NATIVE " + json.dumps([d.result, d.reason, d.outcome, d.pause_id]))
    ''')
    session = live("--pause-compat=qamule", f"--pause-result-dir={pytester.path}", "-rA")
    first = wait_event(session)
    run_agent(pytester, session, "--result", "true", "--reason", "fine")
    second = wait_event(session, 2)
    run_agent(pytester, session, "--json", "nope")
    rc, out = session.finish()
    assert rc == 0, out
    got = [json.loads(m) for m in re.findall(r"^NATIVE (.*)$", out, re.M)]
    assert [g[:3] for g in got[:1]] == [[True, "fine", "resumed"]]
    assert got[1][0] is None and got[1][2] == "resumed"
    assert got[1][1].startswith("Invalid pause result JSON: ")
    assert all(re.fullmatch(r"[0-9a-f]{12}\.[0-9a-f]{8}", g[3]) for g in got)
    assert [w["request_id"] for w in machine(session, WARNING)] == [second["request_id"]]
    assert first["context"] == {"task": "first"}


# ---------------------------------------------------------- usage & mocks


def _run(pytester: pytest.Pytester, monkeypatch, *args: str):
    monkeypatch.setenv("PYTEST_LIVE_PAUSE_DIR", str(pytester.path / "pause-dir"))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_unknown_resume_signal_is_usage_error(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    res = _run(pytester, monkeypatch, "--pause-compat=qamule", "--pause-resume-signal", "NOPE")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--pause-resume-signal*NOPE*"])
    res = _run(pytester, monkeypatch, "--pause-compat=qamule", "--pause-resume-signal=SIGKILL")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*SIGKILL cannot be caught*"])


def test_qamule_options_need_the_mode(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    res = _run(pytester, monkeypatch, "--pause-resume-signal", "SIGUSR2")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--pause-resume-signal*--pause-compat=qamule*"])
    res = _run(pytester, monkeypatch, "--pause-compat=qamul")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--pause-compat must be qamule or none*"])
    res = _run(pytester, monkeypatch, "--pause-compat=none")
    assert res.ret == 0


def test_agent_checkpoint_outside_qamule_mode(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    res = _run(pytester, monkeypatch)
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["*agent_checkpoint is QAMule's fixture*--pause-compat=qamule*"])


def test_mocked_agent_checkpoint(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    res = _run(pytester, monkeypatch, "--pause-compat=qamule",
               "--pause-checkpoint-mock", "true", "-rA")
    assert res.ret == 0
    out = res.stdout.str()
    assert EVENT not in out
    decision = decision_of(out)
    assert (decision["outcome"], decision["result"], decision["reason"]) == (
        "mocked", True, "Mock")


def test_help_documents_the_mode(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("--help")
    res.stdout.fnmatch_lines(["*--pause-compat=qamule|none*", "*--pause-resume-signal=NAME*",
                              "*--pause-result-dir=DIR*", "*pause_compat (string)*"])


def test_result_file_symlink_is_refused(pytester: pytest.Pytester, live) -> None:
    """The runtime reads the result file without following a symlink."""
    pytester.makepyfile(test_summary=CHECKPOINT_SUITE)
    session = live("--pause-compat=qamule", f"--pause-result-dir={pytester.path}", "-rA")
    event = wait_event(session)
    target = pytester.path / "elsewhere.json"
    target.write_text('{"result": true}')
    Path(event["result_path"]).symlink_to(target)
    run_agent(pytester, session, "--continue-only")
    rc, out = session.finish()
    assert rc == 1, out
    decision = decision_of(out)
    assert decision["outcome"] == "invalid_result"
    assert "symlink" in decision["reason"]


def test_qamule_mode_is_imported_only_when_on(pytester: pytest.Pytester) -> None:
    """Other runs do not pay for QAMule mode at start: its module is
    imported only with --pause-compat=qamule (help and defaults come from
    a small module of constants)."""
    pytester.makepyfile(test_mods='''
import sys

def test_mods():
    print("QAMULE_LOADED", "pytest_live_pause.qamule" in sys.modules)
''')
    pd = f"--pause-dir={pytester.path / 'pauses'}"
    off = pytester.runpytest_subprocess("-s", "-p", "no:randomly", pd)
    assert off.ret == 0, off.stdout.str()
    off.stdout.fnmatch_lines(["*QAMULE_LOADED False*"])
    on = pytester.runpytest_subprocess("-s", "-p", "no:randomly", pd, "--pause-compat=qamule")
    assert on.ret == 0, on.stdout.str()
    on.stdout.fnmatch_lines(["*QAMULE_LOADED True*"])
    helped = pytester.runpytest_subprocess("--help")
    helped.stdout.fnmatch_lines(["*SIGUSR1*"])
