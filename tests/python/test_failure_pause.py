"""Black-box tests: `pytest --pause-on-failure` pauses a live pytest process
after a call-phase failure, before teardown, and `pytest-live-pause resume`
(or a timeout, Ctrl-C, SIGTERM) lets the same process go on.

Every test runs real pytest sessions (the `live` fixture, or pytester's
`runpytest_subprocess`) and the real CLI, as separate processes, and asserts
on their output, exit codes and the files of the pause directory.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from _paused import assert_unindexed

from conftest import SEP, command_file, read_events, read_pause, wait_block

WAIT = 60.0  # a bound for a slow machine, never asserted on

#: A failing test whose fixture records its setup and teardown (with the pid
#: of the process that ran them) in files of the pytester directory.
FAILING = '''
import os
import pytest


@pytest.fixture
def scene():
    with open("setup-pid.txt", "w") as f:
        f.write(str(os.getpid()))
    yield "the scene"
    with open("teardown-ran.txt", "w") as f:
        f.write(str(os.getpid()))


def test_total(scene):
    print("captured-stdout-of-test_total")
    assert 6 * 7 == 41, "boom-7f3a"
'''
NODEID = "test_checkout.py::test_total"

#: Restores Python's own SIGINT handler in the paused pytest: a process
#: started from a non-interactive shell's background job inherits SIGINT
#: ignored, which a terminal's Ctrl-C would not meet.
SIGINT_CONFTEST = '''
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
'''


# ------------------------------------------------------------------ helpers



def failures_section(output: str) -> str:
    """The FAILURES section of a pytest terminal report."""
    m = re.search(r"^=+ FAILURES =+$(.*?)^=+ short test summary info =+$", output,
                  re.M | re.S)
    assert m, f"no FAILURES section in:\n{output}"
    return m.group(1)


# ------------------------------------------------------------ when it pauses


def test_pauses_only_on_call_phase_failures(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_phases='''
        import pytest

        @pytest.fixture
        def broken_setup():
            raise RuntimeError("setup exploded")

        @pytest.fixture
        def broken_teardown():
            yield
            raise RuntimeError("teardown exploded")

        def test_passes():
            pass

        def test_setup_error(broken_setup):
            pass

        def test_teardown_error(broken_teardown):
            pass

        def test_skipped():
            pytest.skip("not today")

        @pytest.mark.xfail(strict=True)
        def test_expected_failure():
            assert False

        def test_call_failure():
            assert 0, "call-phase-failure"

        def test_after():
            pass
    ''')
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    paused = cli.watch(run_id)
    assert paused["nodeid"] == "test_phases.py::test_call_failure"
    assert paused["kind"] == "failure"
    res = cli("resume", paused["pause_id"])
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"1 failed, 3 passed, 1 skipped, 1 xfailed, 2 errors", out), out
    assert len(re.findall(r"^PAUSED \(", out, re.M)) == 1, out
    pauses = sorted((pause_dir / "runs" / run_id / "pauses").glob("*.json"))
    assert [p.name for p in pauses] == [f"{paused['pause_id']}.json"]
    created = [e for e in read_events(pause_dir, run_id) if e["event"] == "pause_created"]
    assert [e["nodeid"] for e in created] == ["test_phases.py::test_call_failure"]


def test_no_pause_without_the_option(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    result = run_pytest()
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(failed=1)
    assert "PAUSED" not in out
    run_id = re.search(r"^pytest-live-pause: run_id=(\w+)$", out, re.M).group(1)
    assert not list((pause_dir / "runs" / run_id).glob("pauses/*.json"))
    events = [e["event"] for e in read_events(pause_dir, run_id)]
    assert events == ["run_started", "run_ended"]
    # The teardown ran at once, with nobody to resume anything.
    assert (pytester.path / "teardown-ran.txt").exists()


# ----------------------------------------------------------- what it prints


@pytest.mark.parametrize("capture", [[], ["--capture=sys"], ["-s"]],
                         ids=["capture-fd-default", "capture-sys", "no-capture-s"])
def test_paused_block_is_printed_whatever_the_capture(pytester, live, cli, pause_dir, capture):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", *capture)
    run_id = s.run_id
    block, _ = wait_block(s)
    assert block["before"] == SEP
    assert block["kind"] == "failure"
    assert block["nodeid"] == NODEID
    pause_id = block["pause_id"]
    assert re.fullmatch(rf"{run_id}\.[0-9a-f]{{8}}", pause_id), block
    assert block["pause file"] == str(pause_dir / "runs" / run_id / "pauses" / f"{pause_id}.json")
    assert Path(block["pause file"]).is_file()
    assert block["resume"] == f"pytest-live-pause resume {pause_id} --failure-reason TEXT"
    assert block["timeout"] == "300s"  # the default
    printed_before_pause = "\n".join(s.lines[: block["index"]])
    if capture == ["-s"]:
        assert "captured-stdout-of-test_total" in printed_before_pause
    else:  # the test's own output is still captured: only the block got out
        assert "captured-stdout-of-test_total" not in printed_before_pause

    # The printed resume command works as printed (TEXT being the reason).
    argv = shlex.split(block["resume"])
    assert argv[0] == "pytest-live-pause"
    res = cli(*[("as printed" if a == "TEXT" else a) for a in argv[1:]])
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert "failure reason: as printed" in failures_section(out)


# --------------------------------------------------------- while it is paused


def test_pause_file_has_the_seed_fields_while_paused(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    started = time.time()
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    raw = Path(block["pause file"]).read_text()
    pf = json.loads(raw)

    assert pf["pause_id"] == pause_id
    assert pf["run_id"] == run_id
    assert pf["nodeid"] == NODEID
    assert isinstance(pf["timeout"], float) and pf["timeout"] == 300.0
    assert isinstance(pf["original_failure"], str)
    assert "AssertionError: boom-7f3a" in pf["original_failure"]
    assert "assert (6 * 7) == 41" in pf["original_failure"]
    assert pf["status"] == "pending"
    assert isinstance(pf["created_at"], float)
    assert started - 1 <= pf["created_at"] <= time.time() + 1
    assert isinstance(pf["pid"], int) and not isinstance(pf["pid"], bool)
    assert pf["pid"] == s.proc.pid
    assert pf["pid"] == int((pytester.path / "setup-pid.txt").read_text())
    assert pf["hostname"] == socket.gethostname()
    assert os.path.realpath(pf["cwd"]) == os.path.realpath(pytester.path)
    assert (pause_dir / "pending" / pause_id).exists()
    show = cli("show", pause_id, "--json")
    assert show.returncode == 0, str(show)
    assert show.json()["state"] == "pending"

    assert cli("resume", pause_id).returncode == 0
    s.finish()
    pf = read_pause(pause_dir, pause_id)
    assert pf["status"] == "resumed"
    assert_unindexed(pause_dir, pause_id)


def test_teardown_runs_only_after_resume_in_the_same_process(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    block, _ = wait_block(s)
    marker = pytester.path / "teardown-ran.txt"
    assert (pytester.path / "setup-pid.txt").exists()
    assert not marker.exists(), "teardown ran while the test was paused"
    # The pause is real: a look later, teardown still has not run.
    assert cli("show", block["pause_id"]).returncode == 0
    assert not marker.exists(), "teardown ran while the test was paused"

    assert cli("resume", block["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert marker.exists(), out
    assert int(marker.read_text()) == s.proc.pid == read_pause(pause_dir, block["pause_id"])["pid"]


# ----------------------------------------------------------------- resuming


def test_failure_reason_goes_to_terminal_report_and_junitxml(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    reason = 'price list is stale: "v2" < v3 & more'
    s = live("--pause-on-failure", "--junitxml=report.xml")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    res = cli("resume", pause_id, "--failure-reason", reason)
    assert res.returncode == 0, str(res)
    assert res.stdout.strip() == f"resumed {pause_id} (failure, {NODEID})"
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^=+ 1 failed", out, re.M), out
    failures = failures_section(out)
    assert "AssertionError: boom-7f3a" in failures
    # the section and text of 0.1.1 (issue 9 point 7)
    assert re.search(rf"^-+ live pause -+\nExternal failure reason: {re.escape(reason)}$",
                     failures, re.M), failures

    case = ET.parse(pytester.path / "report.xml").getroot().find(".//testcase[@name='test_total']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    assert "boom-7f3a" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props.get("live_pause_failure_reason") == reason

    pf = read_pause(pause_dir, pause_id)
    assert (pf["status"], pf["failure_reason"], pf["resolved_by"]) == ("resumed", reason, "cli")


def test_resume_by_pause_file_path(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    res = cli("resume", block["pause file"], "--failure-reason", "manually confirmed")
    assert res.returncode == 0, str(res)
    assert res.stdout.strip() == f"resumed {pause_id} (failure, {NODEID})"
    rc, out = s.finish()
    assert rc == 1, out
    assert "failure reason: manually confirmed" in failures_section(out)
    pf = read_pause(pause_dir, pause_id)
    assert (pf["status"], pf["failure_reason"]) == ("resumed", "manually confirmed")


def test_resume_without_reason(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--junitxml=report.xml")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    res = cli("resume", pause_id)
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert f"RESUMED (resumed): {NODEID}" in out
    failures = failures_section(out)
    assert "AssertionError: boom-7f3a" in failures
    assert "failure reason" not in out
    assert "live-pause" not in failures
    assert (pytester.path / "teardown-ran.txt").exists()
    case = ET.parse(pytester.path / "report.xml").getroot().find(".//testcase[@name='test_total']")
    assert case is not None and case.find("failure") is not None
    assert "live_pause_failure_reason" not in {p.get("name") for p in case.iter("property")}
    pf = read_pause(pause_dir, pause_id)
    assert (pf["status"], pf["failure_reason"], pf["resolved_by"]) == ("resumed", None, "cli")


def test_timeout_resumes_without_reason(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "1")
    run_id = s.run_id
    rc, out = s.finish()  # nobody resumes: the timeout does
    assert rc == 1, out
    block, _ = wait_block(s)
    assert block["timeout"] == "1s"
    pause_id = block["pause_id"]
    assert f"RESUMED (timed_out): {NODEID}" in out
    assert "failure reason" not in out
    assert "AssertionError: boom-7f3a" in failures_section(out)
    assert (pytester.path / "teardown-ran.txt").exists()
    pf = read_pause(pause_dir, pause_id)
    assert pf["status"] == "timed_out"
    assert pf["failure_reason"] is None
    assert pf["resolved_by"] == "timeout"
    ended = [e for e in read_events(pause_dir, run_id) if e["event"] == "pause_timed_out"]
    assert [e["pause_id"] for e in ended] == [pause_id]
    # Too late for a verdict now.
    res = cli("resume", pause_id, "--failure-reason", "late")
    assert res.returncode == 6, str(res)
    assert "timed out" in res.stderr


def test_result_option_on_a_failure_pause_is_refused(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    for args in (["--result", "true"], ["--reason", "approved"]):
        res = cli("resume", pause_id, *args)
        assert res.returncode == 2, str(res)
        assert len(res.stderr.strip().splitlines()) == 1, str(res)
        assert args[0] in res.stderr, str(res)
    assert not list(command_file(pause_dir, pause_id).parent.iterdir())
    assert read_pause(pause_dir, pause_id)["status"] == "pending"
    assert cli("resume", pause_id, "--failure-reason", "fine").returncode == 0
    rc, out = s.finish()
    assert "failure reason: fine" in failures_section(out)


# ------------------------------------------------------------------- events


def test_events_jsonl_records_run_and_pause(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    # While paused, a reader of the file already sees the pause.
    assert [e["event"] for e in read_events(pause_dir, run_id)] == ["run_started", "pause_created"]
    assert cli("resume", pause_id, "--failure-reason", "logged").returncode == 0
    rc, out = s.finish()
    assert rc == 1, out

    events = read_events(pause_dir, run_id)
    assert [e["event"] for e in events] == ["run_started", "pause_created", "pause_resumed",
                                            "pause_finished", "run_ended"]
    for e in events:
        assert e["run_id"] == run_id
        assert isinstance(e["ts"], float)
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    started, created, resumed, finished, ended = events
    assert started["pid"] == s.proc.pid
    assert started["hostname"] == socket.gethostname()
    assert (created["pause_id"], created["kind"], created["nodeid"]) == (
        pause_id, "failure", NODEID)
    assert (resumed["pause_id"], resumed["outcome"], resumed["by"]) == (pause_id, "resumed", "cli")
    assert resumed["failure_reason"] == "logged"
    assert {k: finished[k] for k in ("pause_id", "outcome", "failure_reason")} == {
        k: resumed[k] for k in ("pause_id", "outcome", "failure_reason")}
    assert ended["exitstatus"] == 1


# ------------------------------------------------------------ Ctrl-C, SIGTERM


def wait_until_waiting(s, pause_dir: Path, pause_id: str, start: int) -> int:
    """Return once the paused process is inside its wait loop: a command it
    rejects is reported only from there. Returns the next output index."""
    command_file(pause_dir, pause_id).write_text("sync: not a command")
    s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pause_id)}: ", start=start)
    return len(s.lines)


def test_ctrl_c_while_paused_aborts_promptly(pytester, live, cli, pause_dir):
    pytester.makeconftest(SIGINT_CONFTEST)
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, after = wait_block(s)
    pause_id = block["pause_id"]
    wait_until_waiting(s, pause_dir, pause_id, after)
    s.send(signal.SIGINT)
    rc, out = s.finish(timeout=WAIT)  # far less than the 300 s timeout
    assert rc == pytest.ExitCode.INTERRUPTED, out
    assert f"RESUMED (aborted): {NODEID}" in out
    assert "KeyboardInterrupt" in out
    pf = read_pause(pause_dir, pause_id)
    assert (pf["status"], pf["resolved_by"]) == ("aborted", "abort")
    assert_unindexed(pause_dir, pause_id)
    assert json.loads(command_file(pause_dir, pause_id).read_text())["by"] == "abort"
    assert "pause_aborted" in [e["event"] for e in read_events(pause_dir, run_id)]
    res = cli("resume", pause_id, "--failure-reason", "too late")
    assert res.returncode == 7, str(res)


def test_sigterm_while_paused_aborts(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, after = wait_block(s)
    pause_id = block["pause_id"]
    wait_until_waiting(s, pause_dir, pause_id, after)
    s.send(signal.SIGTERM)
    rc, out = s.finish(timeout=WAIT)  # far less than the 300 s timeout
    assert rc == 143, out
    assert f"RESUMED (aborted): {NODEID}" in out
    assert "SIGTERM" in out
    pf = read_pause(pause_dir, pause_id)
    assert (pf["status"], pf["resolved_by"]) == ("aborted", "abort")
    assert_unindexed(pause_dir, pause_id)
    events = read_events(pause_dir, run_id)
    assert "pause_aborted" in [e["event"] for e in events]
    assert events[-1]["event"] == "run_ended"
    res = cli("resume", pause_id)
    assert res.returncode == 7, str(res)


#: Makes the paused process stop right after it has flushed the PAUSED block
#: to the terminal, as a slow machine may: its terminal file blocks in
#: flush() until SIGINT or SIGTERM comes (at most 60 s). A signal sent then
#: must still end the pause as aborted. The stall cannot lose the signal:
#: both are blocked first (pthread_sigmask runs any Python handler already
#: due), waited for with sigtimedwait, then raised again unblocked, so the
#: process's own handlers see them as they would have.
STALL_CONFTEST = SIGINT_CONFTEST + '''
import pytest


class _StallAfterBlock:
    def __init__(self, f):
        self._f = f
        self._text = ""
        self._stalled = False  # once: a traceback may quote this very file

    def write(self, s):
        self._text += s
        return self._f.write(s)

    def flush(self):
        # The block reaches the pipe on write, so the signal may land before
        # this flush (or inside it): what the abort prints then (RESUMED)
        # must not stall. Decide before flushing, and stall only once.
        stall = (not self._stalled and "pause_id: " in self._text
                 and "timeout: " in self._text and "RESUMED" not in self._text)
        if stall:
            self._stalled = True
        self._f.flush()
        if stall:
            sigs = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
            try:
                got = signal.sigtimedwait(sigs, 60)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
            if got is not None:
                signal.raise_signal(got.si_signo)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    tr = config.pluginmanager.getplugin("terminalreporter")
    tr._tw._file = _StallAfterBlock(tr._tw._file)
'''


@pytest.mark.parametrize("sig, exit_code", [
    pytest.param(signal.SIGINT, pytest.ExitCode.INTERRUPTED, id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, id="SIGTERM"),
])
def test_signal_right_after_the_block_is_printed_aborts_the_pause(pytester, live, pause_dir, sig,
                                                                  exit_code):
    pytester.makeconftest(STALL_CONFTEST)
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    block, _ = wait_block(s)  # printed and flushed: the process now stalls
    s.send(sig)
    rc, out = s.finish(timeout=WAIT)
    assert rc == exit_code, out
    pf = read_pause(pause_dir, block["pause_id"])
    assert (pf["status"], pf.get("resolved_by")) == ("aborted", "abort"), out


# ------------------------------------------------------- malformed commands


@pytest.mark.parametrize("content, complaint", [
    pytest.param(b"not json {", "JSON", id="not-json"),
    # A typed command (with "action") is checked strictly; a seed-format
    # one is read as 0.1.1 read it (test_claim_hardening.py), and unknown
    # fields are ignored in both: an unknown action is the forward case.
    pytest.param(b'{"action": "resume", "failure_reason": 42}', "failure_reason",
                 id="wrong-type"),
    pytest.param(b'{"action": "resume", "result": true, "reason": "approved"}', "result",
                 id="checkpoint-fields"),
    pytest.param(b'{"failure_reason": "x", "action": "paint-it-red"}', "paint-it-red",
                 id="unknown-action"),
    pytest.param(b'["failure_reason"]', "object", id="not-an-object"),
])
def test_malformed_command_file_is_rejected_and_pause_keeps_waiting(
        pytester, live, cli, pause_dir, content, complaint):
    pytester.makepyfile(test_checkout=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, after = wait_block(s)
    pause_id = block["pause_id"]
    cmd = command_file(pause_dir, pause_id)
    cmd.write_bytes(content)  # by hand, as another tool would
    m = s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pause_id)}: (.*)$",
                        start=after)
    assert complaint in m.group(1)
    # Moved aside, kept for inspection; the claim's name is free again.
    assert not cmd.exists()
    aside = list(cmd.parent.glob(f"{pause_id}.resume.json.rejected.*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert read_pause(pause_dir, pause_id)["status"] == "pending"
    show = cli("show", pause_id, "--json")
    assert show.json()["state"] == "pending", str(show)
    assert "RESUMED" not in s.output

    res = cli("resume", pause_id, "--failure-reason", "after a bad command")
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert "failure reason: after a bad command" in failures_section(out)
    events = read_events(pause_dir, run_id)
    names = [e["event"] for e in events]
    assert names == ["run_started", "pause_created", "command_rejected", "pause_resumed",
                     "pause_finished", "run_ended"], names
    rejected = events[2]
    assert rejected["pause_id"] == pause_id
    assert complaint in rejected["error"]
    assert rejected["moved_to"] == aside[0].name
