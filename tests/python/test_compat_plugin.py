"""Black-box tests of our plugin as a drop-in for the published 0.1.1
(issue 9 points 7 and 11; issue 10 point 3, pytest side).

Where behaviour is compared, the same test file runs under 0.1.1's
interpreter (the `v011` fixture, its own virtual environment) and under
ours, in separate processes.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLI, wait_block

WAIT = 60.0

#: a test file written for 0.1.1: what its tests use of the plugin
FOR_0_1_1 = '''
import pytest
from pytest_live_pause import checkpoint
from pytest_live_pause.plugin import checkpoint as plugin_checkpoint

seen = []

def test_blank_task_is_a_value_error():
    for task in ("", "   "):
        with pytest.raises(ValueError):
            checkpoint(task=task)

def test_live_pause_has_the_item(live_pause, request):
    assert live_pause.item is request.node
    assert live_pause.run_id
    seen.append(live_pause)

def test_live_pause_is_function_scoped(live_pause, request):
    assert live_pause.item is request.node
    assert seen and seen[0] is not live_pause and seen[0].item is not request.node

def test_mocked_decision_fields(live_pause):
    d = live_pause.checkpoint(task="look")
    assert (d.result, d.reason, d.failure_reason) == (True, "Mock", None)
    d = plugin_checkpoint(task="look")
    assert d.result is True and d.failure_reason is None

def test_pause_run_id(pause_run_id, live_pause):
    assert pause_run_id == live_pause.run_id
'''


def env_for(pause_dir: Path) -> dict:
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir), TMPDIR=str(pause_dir.parent))
    for var in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        env.pop(var, None)
    return env


def run_with(python: str, cwd: Path, env: dict, *args: str) -> tuple[int, str]:
    proc = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=WAIT)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_test_file_for_0_1_1_passes_under_both(pytester, pause_dir, v011):
    pytester.makepyfile(test_old=FOR_0_1_1)
    pause_dir.mkdir(mode=0o700)
    for python in (v011.python, sys.executable):
        rc, out = run_with(python, pytester.path, env_for(pause_dir),
                           "--pause-dir", str(pause_dir), "--pause-checkpoint-mock", "true")
        assert rc == 0, f"{python}:\n{out}"
        assert re.search(r"\b5 passed\b", out), out


@pytest.mark.parametrize("name", ["pytest_live_pause", "live_pause"])
def test_p_no_disables_the_plugin_under_both_names(pytester, pause_dir, v011, name):
    pytester.makepyfile(test_off='''
        import pytest
        from pytest_live_pause import checkpoint

        def test_off():
            with pytest.raises(RuntimeError):
                checkpoint(task="nobody answers", timeout=300)
    ''')
    pythons = [sys.executable] + ([v011.python] if name == "pytest_live_pause" else [])
    for python in pythons:  # 0.1.1's name disables both plugins
        rc, out = run_with(python, pytester.path, env_for(pause_dir), "-p", f"no:{name}")
        assert rc == 0, f"{python}:\n{out}"
        assert "run_id=" not in out and "--pause-on-failure" not in out, out
    assert not pause_dir.exists()
    rc, out = run_with(sys.executable, pytester.path, env_for(pause_dir), "-p", f"no:{name}",
                       "--pause-on-failure")
    assert rc == 4 and "unrecognized arguments: --pause-on-failure" in out, out


@pytest.mark.parametrize("args", [["--version"], ["ls", "--pause-dir", "{missing}"],
                                  ["resume"], ["ls", "--no-such-option"], ["ls", "-a"]])
def test_python_m_cli_runs_our_cli(tmp_path, args):
    args = [a.format(missing=tmp_path / "missing") for a in args]
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(tmp_path / "dir"))
    (tmp_path / "dir" / "runs").mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "dir", 0o700)
    binary = subprocess.run([CLI, *args], capture_output=True, text=True, env=env,
                            timeout=WAIT)
    module = subprocess.run([sys.executable, "-m", "pytest_live_pause.cli", *args],
                            capture_output=True, text=True, env=env, timeout=WAIT)
    assert (module.returncode, module.stdout, module.stderr) == \
        (binary.returncode, binary.stdout, binary.stderr)


def test_failure_reason_section_as_0_1_1(pytester, pause_dir, live):
    """The `live pause` section with 0.1.1's text (its plugin.py appends
    ("live pause", f"External failure reason: {reason}") to report.sections)."""
    pytester.makepyfile(test_fail="def test_fail():\n    assert False, 'boom'\n")
    s = live("--pause-on-failure", "--pause-dir", str(pause_dir))
    block, _ = wait_block(s)
    res = subprocess.run([CLI, "resume", block["pause_id"], "--pause-dir", str(pause_dir),
                          "--failure-reason", "seen live"],
                         capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0, res
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^-+ live pause -+\nExternal failure reason: seen live$", out, re.M), out


HOSTILE_REASONS = ["\x1b[2J\x1b[Hall tests passed", "line one\rOVERWRITTEN",
                   "a\u2028pause_id: forged", "bell\x07 and \x9b31m C1"]


@pytest.mark.parametrize("reason", HOSTILE_REASONS)
def test_resumer_text_is_terminal_safe_in_pytest(pytester, pause_dir, live, reason):
    pytester.makepyfile(test_cp='''
        from pytest_live_pause import checkpoint

        def test_cp():
            d = checkpoint("look", timeout=300)
            assert d.reason is not None
    ''')
    s = live("--pause-dir", str(pause_dir))
    block, after = wait_block(s)
    res = subprocess.run([CLI, "resume", block["pause_id"], "--pause-dir", str(pause_dir),
                          "--result", "true", "--reason", reason],
                         capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0, res
    rc, out = s.finish()
    assert rc == 0, out
    shown = [line for line in out.splitlines() if line.startswith("reason: ")]
    assert len(shown) == 1, out
    safe = shown[0]
    assert not re.search(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]", safe), repr(safe)
    assert "\x1b" not in out and "\r" not in out.replace("\r\n", "\n"), repr(out)
