"""Black-box tests of the control over pausing (issue 12.4): --pause-on-error,
--pause-max (per run, xdist workers included), the no_pause marker and
--pause-notify, with their bad input. Real pytest sessions, the real CLI to
resume, every wait bounded and event driven.
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from conftest import read_events, read_pause, wait_block

WAIT = 60.0  # a bound for a slow machine, never asserted on

ERRORS = '''
import pytest

@pytest.fixture
def scene():
    yield
    with open("scene-torn-down.txt", "w") as f:
        f.write("done")

@pytest.fixture
def broken_setup(scene):
    raise RuntimeError("setup exploded")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown exploded")

def test_setup_error(broken_setup):
    pass

def test_teardown_error(broken_teardown):
    pass

def test_call_failure():
    assert 0, "call-phase-failure"
'''

FAILING_MANY = '''
import pytest

@pytest.mark.parametrize("n", range(4))
def test_fails(n):
    assert n < 0, f"failure-{n}"
'''


def blocks(out: str) -> list[str]:
    return re.findall(r"^PAUSED \((?:failure|checkpoint)\): (.*)$", out, re.M)


# -------------------------------------------------------- --pause-on-error


@pytest.mark.parametrize("how", ["option", "ini"])
def test_pause_on_error_pauses_at_setup_and_teardown_errors(pytester, live, cli, pause_dir, how):
    pytester.makepyfile(test_errors=ERRORS)
    if how == "ini":
        pytester.makeini("[pytest]\npause_on_error = true\n")
        s = live("--pause-timeout", "300")
    else:
        s = live("--pause-on-error", "--pause-timeout", "300")
    # the setup error pauses before any teardown: scene is still set up
    block, after = wait_block(s)
    assert block["nodeid"] == "test_errors.py::test_setup_error"
    assert "error in setup" in block["lines"]
    assert not (pytester.path / "scene-torn-down.txt").exists()
    assert read_pause(pause_dir, block["pause_id"])["kind"] == "failure"
    res = cli("resume", block["pause_id"], "--failure-reason", "fixture saw no device")
    assert res.returncode == 0, str(res)
    # the teardown error pauses where it was raised
    block2, _ = wait_block(s, after)
    assert block2["nodeid"] == "test_errors.py::test_teardown_error"
    assert "error in teardown" in block2["lines"]
    assert cli("resume", block2["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    # without --pause-on-failure the call failure does not pause
    assert blocks(out) == ["test_errors.py::test_setup_error", "test_errors.py::test_teardown_error"]
    assert re.search(r"1 failed, 1 passed, 2 errors", out), out
    assert "External failure reason: fixture saw no device" in out
    assert "INTERNALERROR" not in out


NESTED_TEARDOWN = '''
import pytest

@pytest.fixture(scope="module")
def device():
    yield
    with open("device-released.txt", "w") as f:
        f.write("done")

@pytest.fixture
def outer(device):
    yield
    with open("outer-torn-down.txt", "w") as f:
        f.write("done")

@pytest.fixture
def inner(outer):
    yield
    raise RuntimeError("inner teardown exploded")

@pytest.fixture
def by_finalizer(request, outer):
    def fin():
        pytest.fail("finalizer-failed")
    request.addfinalizer(fin)

def test_inner_teardown_fails(inner):
    pass

def test_finalizer_fails(by_finalizer):
    pass
'''


@pytest.mark.parametrize("xdist", [False, True])
def test_pause_on_error_at_teardown_pauses_before_the_remaining_teardown(
        pytester, live, cli, pause_dir, xdist):
    """A fixture whose teardown raised (a yield fixture, a request.addfinalizer
    finalizer) pauses there: the fixtures it depends on (function and module
    scope) are not torn down yet while the pause waits, and are once it is
    resumed; pytest still reports the error, with the pause's decision."""
    pytester.makepyfile(test_nested=NESTED_TEARDOWN)
    s = live("--pause-on-error", "--pause-timeout", "300", *(["-n", "1"] if xdist else []))
    outer, device = pytester.path / "outer-torn-down.txt", pytester.path / "device-released.txt"
    block, after = wait_block(s)
    assert block["nodeid"] == "test_nested.py::test_inner_teardown_fails"
    assert "error in teardown" in block["lines"]
    pause = read_pause(pause_dir, block["pause_id"])
    assert pause["kind"] == "failure" and "inner teardown exploded" in pause["original_failure"]
    assert not outer.exists() and not device.exists()  # the rest of teardown waits
    res = cli("resume", block["pause_id"], "--failure-reason", "inner saw the device hang")
    assert res.returncode == 0, str(res)
    # the second test: pytest.fail in a finalizer, and the module's last test
    block2, _ = wait_block(s, after)
    assert block2["nodeid"] == "test_nested.py::test_finalizer_fails"
    assert "finalizer-failed" in read_pause(pause_dir, block2["pause_id"])["original_failure"]
    assert outer.exists()  # the first test's teardown went on after its resume
    outer.unlink()
    assert not outer.exists() and not device.exists()
    assert cli("resume", block2["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert outer.exists() and device.exists()
    # one pause per error, not a second one when pytest reports it
    assert blocks(out) == ["test_nested.py::test_inner_teardown_fails",
                           "test_nested.py::test_finalizer_fails"], out
    assert re.search(r"2 passed, 2 errors", out), out
    assert "RuntimeError: inner teardown exploded" in out
    assert "External failure reason: inner saw the device hang" in out
    assert "INTERNALERROR" not in out


def test_pause_on_error_at_teardown_abort_keeps_the_error_and_tears_down(
        pytester, live, cli, pause_dir):
    pytester.makepyfile(test_nested=NESTED_TEARDOWN)
    s = live("--pause-on-error", "--pause-timeout", "300")
    block, _ = wait_block(s)
    assert not (pytester.path / "outer-torn-down.txt").exists()
    res = cli("abort", block["pause_id"], "--reason", "device gone")
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 2, out
    assert (pytester.path / "outer-torn-down.txt").exists()
    assert (pytester.path / "device-released.txt").exists()
    assert "aborted: device gone" in out and "RuntimeError: inner teardown exploded" in out
    assert "live-pause: run aborted at test_nested.py::test_inner_teardown_fails: device gone" \
        in out
    assert blocks(out) == ["test_nested.py::test_inner_teardown_fails"], out
    assert "INTERNALERROR" not in out


def test_pause_on_error_and_on_failure_together(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_errors=ERRORS)
    result = run_pytest("--pause-on-error", "--pause-on-failure", "--pause-timeout", "0")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert sorted(blocks(out)) == sorted(["test_errors.py::test_setup_error",
                                          "test_errors.py::test_teardown_error",
                                          "test_errors.py::test_call_failure"])


# ------------------------------------------------------------- --pause-max


def test_pause_max_stops_pausing_after_n_failures(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_many=FAILING_MANY)
    s = live("--pause-on-failure", "--pause-max", "1", "--pause-timeout", "300")
    block, _ = wait_block(s)
    assert block["nodeid"] == "test_many.py::test_fails[0]"
    assert cli("resume", block["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert blocks(out) == ["test_many.py::test_fails[0]"]
    reached = re.findall(r"^live-pause: --pause-max 1 reached: failures no longer pause", out, re.M)
    assert len(reached) == 1, out
    assert re.search(r"4 failed", out), out
    run_id = s.run_id
    created = [e for e in read_events(pause_dir, run_id) if e["event"] == "pause_created"]
    assert len(created) == 1


def test_pause_max_counts_per_run_across_xdist_workers(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_many=FAILING_MANY)
    pytester.makepyfile(test_more=FAILING_MANY.replace("test_fails", "test_also_fails"))
    result = run_pytest("-n", "2", "--pause-on-failure", "--pause-max", "3",
                        "--pause-timeout", "0")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, out
    assert len(blocks(out)) == 3, out  # 8 failures, 3 pauses in the whole run
    assert len(re.findall(r"--pause-max 3 reached", out)) == 1, out
    assert "INTERNALERROR" not in out


def test_pause_max_zero_and_ini(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_many=FAILING_MANY)
    pytester.makeini("[pytest]\npause_max = 0\n")
    result = run_pytest("--pause-on-failure", "--pause-timeout", "0")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert blocks(out) == []
    assert len(re.findall(r"--pause-max 0 reached", out)) == 1, out


@pytest.mark.parametrize("args,ini,words", [
    (["--pause-max", "-1"], None, ["--pause-max", "'-1'"]),
    (["--pause-max", "abc"], None, ["--pause-max", "'abc'"]),
    (["--pause-max", "1.5"], None, ["--pause-max", "'1.5'"]),
    (["--pause-max="], None, ["--pause-max", "''"]),
    ([], "pause_max = lots", ["ini option pause_max", "'lots'"]),
    (["--pause-notify", ""], None, ["--pause-notify", "must name a command"]),
    (["--pause-notify", "say 'unclosed"], None, ["--pause-notify", "No closing quotation"]),
    (["--pause-notify", "true", "--pause-notify-timeout", "0"], None,
     ["--pause-notify-timeout", "above 0"]),
    (["--pause-notify-timeout", "inf"], None, ["--pause-notify-timeout", "above 0"]),
])
def test_bad_values_are_one_line_usage_errors(pytester, run_pytest, pause_dir, args, ini, words):
    pytester.makepyfile(test_many=FAILING_MANY)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    result = run_pytest("--pause-on-failure", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    for word in words:
        assert word in errors[0], errors[0]
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "collected" not in result.stdout.str()


# -------------------------------------------------------------- no_pause


def test_no_pause_marker_exempts_a_test_from_failure_pauses(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_marked='''
        import pytest
        from pytest_live_pause import checkpoint

        @pytest.mark.no_pause
        def test_exempt():
            assert 0, "exempt-failure"

        @pytest.mark.no_pause
        def test_exempt_checkpoint_still_pauses():
            assert checkpoint("look", timeout=0).outcome == "timed_out"

        @pytest.mark.no_pause
        class TestExemptClass:
            def test_in_class(self):
                assert 0

        def test_not_exempt():
            assert 0, "plain-failure"
    ''')
    result = run_pytest("--strict-markers", "--pause-on-failure", "--pause-on-error",
                        "--pause-timeout", "0")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert blocks(out) == ["test_marked.py::test_exempt_checkpoint_still_pauses",
                           "test_marked.py::test_not_exempt"]
    assert re.search(r"3 failed, 1 passed", out), out


def test_no_pause_marker_is_registered_and_documented(pytester, run_pytest):
    result = run_pytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["@pytest.mark.no_pause: pytest-live-pause: never pause*"])


def test_help_documents_the_pause_control_options(pytester, run_pytest):
    result = run_pytest("--help")
    assert result.ret == 0
    text = " ".join(result.stdout.str().split())
    for words in ("--pause-on-error", "setup or teardown", "--pause-max=N", "xdist worker",
                  "--pause-notify=CMD", "PYTEST_LIVE_PAUSE_NODEID", "without a shell",
                  "--pause-notify-timeout=SECONDS", "pause_on_error (bool)", "pause_max (string)",
                  "pause_notify (string)"):
        assert words in text, words


# ---------------------------------------------------------- --pause-notify

NOTIFY = '''
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("PYTEST_LIVE_PAUSE_")}
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[2:], "env": env}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
# stderr is pytest's own: the test waits for this line
print("NOTIFIED", env.get("PYTEST_LIVE_PAUSE_ID"), file=sys.stderr, flush=True)
'''


def notified(session, path: Path) -> dict:
    """What the notify command saw, once it says it is done (bounded)."""
    session.wait_for_line(r"^NOTIFIED \S+$")
    return json.loads(path.read_text())


def test_notify_runs_the_command_with_the_pause_in_its_environment(pytester, live, cli,
                                                                  pause_dir):
    pytester.makepyfile(test_many=FAILING_MANY.replace("range(4)", "range(1)"))
    script = pytester.path / "notify.py"
    script.write_text(NOTIFY)
    out_file = pytester.path / "notified.json"
    cmd = shlex.join([sys.executable, str(script), str(out_file), "a b", "$HOME;`x`"])
    s = live("--pause-on-failure", "--pause-timeout", "300", f"--pause-notify={cmd}")
    block, _ = wait_block(s)
    got = notified(s, out_file)
    assert got["argv"] == ["a b", "$HOME;`x`"]  # split like a shell, never run by one
    assert got["env"] == {
        "PYTEST_LIVE_PAUSE_ID": block["pause_id"],
        "PYTEST_LIVE_PAUSE_KIND": "failure",
        "PYTEST_LIVE_PAUSE_NODEID": "test_many.py::test_fails[0]",
        "PYTEST_LIVE_PAUSE_RUN_ID": s.run_id,
        "PYTEST_LIVE_PAUSE_DIR": str(pause_dir),
    }
    assert cli("resume", block["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert "--pause-notify" not in out  # nothing to report


def test_notify_for_a_checkpoint_names_its_kind(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_cp='''
        from pytest_live_pause import checkpoint

        def test_cp():
            assert checkpoint("look at it").result is True
    ''')
    script = pytester.path / "notify.py"
    script.write_text(NOTIFY)
    out_file = pytester.path / "notified.json"
    s = live("--pause-notify", shlex.join([sys.executable, str(script), str(out_file)]))
    block, _ = wait_block(s)
    got = notified(s, out_file)
    assert got["env"]["PYTEST_LIVE_PAUSE_KIND"] == "checkpoint"
    assert got["env"]["PYTEST_LIVE_PAUSE_ID"] == block["pause_id"]
    assert cli("resume", block["pause_id"], "--result", "true").returncode == 0
    rc, out = s.finish()
    assert rc == 0, out


@pytest.mark.parametrize("cmd,line", [
    ("no-such-notify-command-4711 --now",
     r"live-pause: cannot run the --pause-notify command no-such-notify-command-4711: "
     r"No such file or directory"),
    ("sh -c 'exit 3'", r"live-pause: --pause-notify command sh exited with status 3"),
    ("sleep 300", r"live-pause: --pause-notify command sleep did not finish within 1 s: killed"),
], ids=["not-found", "fails", "hangs"])
def test_notify_failure_is_reported_and_never_blocks_the_pause(pytester, live, cli, pause_dir,
                                                              cmd, line):
    pytester.makepyfile(test_many=FAILING_MANY.replace("range(4)", "range(1)"))
    s = live("--pause-on-failure", "--pause-timeout", "300", "--pause-notify", cmd,
             "--pause-notify-timeout", "1")
    block, _ = wait_block(s)
    # reported while the pause goes on: the pause is still pending
    s.wait_for_line(line)
    assert read_pause(pause_dir, block["pause_id"])["status"] == "pending"
    res = cli("resume", block["pause_id"], "--failure-reason", "seen")
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert len(re.findall(line, out, re.M)) == 1, out
    assert "External failure reason: seen" in out
    assert "INTERNALERROR" not in out
