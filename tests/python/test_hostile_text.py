"""Black-box tests of issue 10 point 1: text from a test that the runtime
cannot take as it is (a NUL, a lone surrogate, a name that is not UTF-8)
and runtime errors in the middle of a run never end a pytest session.

Each case runs real pytest in a separate process (pytester's
runpytest_subprocess) with --pause-on-failure and a short --pause-timeout,
and asserts that the session ends normally (no INTERNALERROR, exit 1 for
the failures), that every test ran with its own outcome, and what the
pause files hold: the documented replacements (README, "Text from
tests"): NUL -> \\x00, a surrogateescape byte -> \\xNN, another lone
surrogate -> \\uXXXX.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

WAIT = 120.0  # a bound for a slow machine, never asserted on
#: a timeout that ends each pause by itself, soon
SHORT = "--pause-timeout=0.3"

HOSTILE = r'''
import os
import pytest
from pytest_live_pause import checkpoint

def test_nul_in_message():
    assert False, "bad\x00text"

def test_surrogateescape_message():
    name = b"caf\xe9-\xff".decode("utf-8", "surrogateescape")
    assert False, f"file {name}"

def test_lone_surrogate_message():
    assert False, "half \ud800 a pair"

def test_checkpoint_task_nul_and_surrogate():
    decision = checkpoint("look at\x00 " + b"\xe9t\xe9".decode("utf-8", "surrogateescape"),
                          timeout=0.3)
    assert decision.outcome == "timed_out"

@pytest.mark.parametrize("param", ["a\x00b", b"x\xfe".decode("utf-8", "surrogateescape")])
def test_nodeid_param(param):
    assert False, "in a parametrized nodeid"

def test_last_still_runs():
    pass
'''


def pauses(pause_dir: Path) -> list[dict]:
    """Every pause file of the directory, as a reader sees it."""
    return [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(pause_dir.glob("runs/*/pauses/*.json"))]


def run(pytester: pytest.Pytester, pause_dir: Path, *args: str, cwd: Path | None = None):
    """pytest in a separate process; its output read as bytes (pytest writes
    a name that is not UTF-8 as its raw bytes, which pytester cannot
    decode) and decoded with backslashreplace."""
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))
    for var in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd or pytester.path, env=env, capture_output=True, timeout=WAIT)
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "backslashreplace")


def assert_session_survived(result: tuple[int, str], failed: int, passed: int) -> str:
    rc, out = result
    assert "INTERNALERROR" not in out, out
    assert rc == 1, out
    assert re.search(rf"^=+ {failed} failed, {passed} passed\b", out, re.M), out
    return out


def by_test(found: list[dict], name: str) -> list[dict]:
    return [p for p in found if name in p["nodeid"]]


def test_nul_and_surrogates_reach_the_pause_files(pytester, pause_dir):
    pytester.makepyfile(test_hostile=HOSTILE)
    out = assert_session_survived(run(pytester, pause_dir, "--pause-on-failure", SHORT),
                                  failed=5, passed=2)
    assert "pause failed" not in out, out
    found = pauses(pause_dir)
    assert len(found) == 6, found  # 5 failures and a checkpoint

    nul = by_test(found, "test_nul_in_message")[0]
    assert "bad\\x00text" in nul["original_failure"]
    assert "\x00" not in json.dumps(nul)
    esc = by_test(found, "test_surrogateescape_message")[0]
    assert "file caf\\xe9-\\xff" in esc["original_failure"]
    lone = by_test(found, "test_lone_surrogate_message")[0]
    assert "half \\ud800 a pair" in lone["original_failure"]
    cp = by_test(found, "test_checkpoint_task_nul_and_surrogate")[0]
    assert cp["task"] == "look at\\x00 \\xe9t\\xe9"
    params = sorted(p["nodeid"] for p in by_test(found, "test_nodeid_param"))
    # (pytest escapes the ids of parameters itself)
    assert params == ["test_hostile.py::test_nodeid_param[a\\x00b]",
                      "test_hostile.py::test_nodeid_param[x\\udcfe]"], params
    # the terminal shows the same, safe text
    assert "PAUSED (checkpoint): test_hostile.py::test_checkpoint_task_nul_and_surrogate" in out
    assert "task: look at\\x00 \\xe9t\\xe9" in out


def test_same_under_xdist(pytester, pause_dir):
    pytester.makepyfile(test_hostile=HOSTILE.replace(
        # xdist itself cannot carry a surrogate in a report (execnet
        # encodes UTF-8 strictly): keep those out of failure messages here
        'assert False, f"file {name}"', 'assert False, "file"').replace(
        '"half \\ud800 a pair"', '"half a pair"'))
    assert_session_survived(run(pytester, pause_dir, "-n", "2", "--pause-on-failure", SHORT),
                            failed=5, passed=2)
    found = pauses(pause_dir)
    assert len(found) == 6, found
    assert {p["worker_id"] for p in found} <= {"gw0", "gw1"}
    assert "bad\\x00text" in by_test(found, "test_nul_in_message")[0]["original_failure"]
    assert by_test(found, "test_checkpoint_task")[0]["task"] == "look at\\x00 \\xe9t\\xe9"


@pytest.fixture
def latin1_dir(pytester) -> Path:
    """A test directory whose name is Latin-1 (not UTF-8): 'café' as bytes."""
    raw = os.fsencode(str(pytester.path)) + b"/caf\xe9"
    os.mkdir(raw)
    with open(raw + b"/test_here.py", "w") as f:
        f.write(
            "from pytest_live_pause import checkpoint\n"
            "def test_fails():\n    assert 0, 'in a latin-1 directory'\n"
            "def test_checkpoint():\n"
            "    assert checkpoint('task', timeout=0.3).outcome == 'timed_out'\n"
            "def test_passes():\n    pass\n")
    return Path(os.fsdecode(raw))


def test_latin1_test_directory(pytester, pause_dir, latin1_dir):
    # naming it as an argument, and from inside it (a cwd that is not UTF-8)
    assert_session_survived(run(pytester, pause_dir, "--pause-on-failure", SHORT,
                                str(latin1_dir)), failed=1, passed=2)
    assert_session_survived(run(pytester, pause_dir, "--pause-on-failure", SHORT,
                                "--rootdir", str(pytester.path), cwd=latin1_dir),
                            failed=1, passed=2)
    found = pauses(pause_dir)
    assert len(found) == 4, found
    nodeids = sorted({p["nodeid"] for p in found})
    assert nodeids == ["caf\\xe9/test_here.py::test_checkpoint",
                       "caf\\xe9/test_here.py::test_fails"], nodeids
    runs = [json.loads(p.read_text()) for p in pause_dir.glob("runs/*/run.json")]
    assert any("caf\\xe9" in " ".join(r.get("argv", [])) for r in runs), runs


BREAKS_THE_RUN = '''
import os, shutil
from pytest_live_pause import checkpoint

def test_1_breaks_the_run_directory(pause_run_id):
    shutil.rmtree(os.path.join(os.environ["PYTEST_LIVE_PAUSE_DIR"], "runs", pause_run_id))

def test_2_fails_after():
    assert False, "a failure once the directory is gone"

def test_3_passes_after():
    pass

def test_4_fails_too():
    assert False, "another"
'''


@pytest.mark.parametrize("xdist", [[], ["-n", "2", "--dist", "loadfile"]], ids=["serial", "xdist"])
def test_runtime_error_mid_run_is_reported_not_fatal(pytester, pause_dir, xdist):
    # (--dist loadfile: the tests of the file run in one worker, in order)
    pytester.makepyfile(test_breaks=BREAKS_THE_RUN)
    out = assert_session_survived(run(pytester, pause_dir, "--pause-on-failure", SHORT, *xdist),
                                  failed=2, passed=2)
    for name in ("test_2_fails_after", "test_4_fails_too"):
        # a line when it happens, and a `live pause` section in the report
        assert f"live-pause: pause failed for test_breaks.py::{name}: cannot write" in out, out
    sections = out.split("- live pause -")[1:]
    assert len(sections) == 2, out
    assert all(s.lstrip("-").lstrip().startswith("pause failed: cannot write") for s in sections), out
