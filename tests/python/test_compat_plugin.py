"""Black-box tests of our plugin as a drop-in for the published 0.1.1
(issue 9 points 7 and 11; issue 10 point 3, pytest side).

Where behaviour is compared, the same test file runs under 0.1.1's
interpreter (the `v011` fixture, its own virtual environment) and under
ours, in separate processes.
"""
from __future__ import annotations

import json
import os
import re
import signal
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


# ------------------------------------------- another plugin with our options

QAMULE_OLD = '''
def pytest_addoption(parser):
    group = parser.getgroup("pause", "QAMule pause on failure")
    group.addoption("--pause-on-failure", action="store_true", default=False)
    group.addoption("--pause-resume-signal", default="SIGUSR1")
    group.addoption("--pause-timeout", type=int, default=600)
    group.addoption("--pause-result-dir", default="/tmp/qamule-pauses")
'''


def fake_installed(site: Path, project: str, module: str, ep: str) -> None:
    """An installed distribution with a pytest11 entry point, as pip leaves it."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(QAMULE_OLD)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{ep} = {module}\n")
    (info / "top_level.txt").write_text(module + "\n")


def one_error_line(rc: int, out: str) -> str:
    assert rc == 4, out
    assert "Traceback" not in out and "ArgumentError" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, out
    assert errors[0].startswith("ERROR: pytest-live-pause: --pause-on-failure"), out
    return errors[0]


def test_qamule_old_conftest_plugin_in_addopts(pytester, pause_dir):
    pkg = pytester.mkpydir("pytest_plugins")
    (pkg / "pause_on_failure.py").write_text(QAMULE_OLD)
    pytester.makeini("[pytest]\naddopts = -p pytest_plugins.pause_on_failure\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    line = one_error_line(*run_with(sys.executable, pytester.path, env_for(pause_dir)))
    assert "QAMule's old pause plugin pytest_plugins.pause_on_failure" in line, line
    assert "remove '-p pytest_plugins.pause_on_failure' from addopts" in line, line


def test_conftest_with_our_options(pytester, pause_dir):
    pytester.makeconftest(QAMULE_OLD)
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    line = one_error_line(*run_with(sys.executable, pytester.path, env_for(pause_dir)))
    assert f"the conftest {pytester.path / 'conftest.py'} registers them too" in line, line


@pytest.mark.parametrize("project,module,ep", [("pytest-qamule", "pytest_qamule", "qamule"),
                                               ("qamule-pytest", "qamule_pytest", "qamule_pytest")])
@pytest.mark.parametrize("order", ["before-ours", "after-ours"])
def test_installed_qamule_plugins(pytester, pause_dir, project, module, ep, order):
    site = pytester.path / "site"
    fake_installed(site, project, module, ep)
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    env = env_for(pause_dir)
    if order == "before-ours":  # found first on sys.path: loaded before ours
        env["PYTHONPATH"] = str(site)
        args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    else:  # last on sys.path: loaded after ours
        args = [sys.executable, "-c", f"import sys; sys.path.append({str(site)!r}); "
                "import pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider']))"]
    proc = subprocess.run(args, cwd=pytester.path, env=env, capture_output=True, text=True,
                          timeout=WAIT)
    line = one_error_line(proc.returncode, proc.stdout + proc.stderr)
    assert f"the installed plugin {project}" in line, line
    assert f"pip uninstall {project}" in line and f"-p no:{ep}" in line, line
    # and it goes as the line says: -p no:<entry point>
    if order == "before-ours":
        args += ["-p", f"no:{ep}"]
    else:
        args[-1] = args[-1].replace("'no:cacheprovider'", f"'no:cacheprovider', '-p', 'no:{ep}'")
    proc = subprocess.run(args, cwd=pytester.path, env=env, capture_output=True, text=True,
                          timeout=WAIT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------- QAMule result files up to 1 MiB


@pytest.mark.parametrize("kind", ["failure", "checkpoint"])
def test_qamule_result_file_near_1_mib_is_delivered(pytester, live, kind):
    from test_qamule import CHECKPOINT_SUITE, FAILURE_SUITE, wait_event

    big = "x" * (900 * 1024)  # over the old 48 KiB cap, under 1 MiB
    if kind == "failure":
        pytester.makepyfile(test_q=FAILURE_SUITE)
        args = ["--pause-on-failure"]
        body = {"status": "confirmed", "blob": big}
    else:
        pytester.makepyfile(test_q=CHECKPOINT_SUITE)
        args = ["-s"]  # the suite prints its DECISION
        body = {"result": True, "reason": big}
    s = live("--pause-compat=qamule", f"--pause-result-dir={pytester.path / 'results'}",
             *args, env={"ORDER_FILE": str(pytester.path / "order.txt")})
    event = wait_event(s)
    with open(event["result_path"], "w", encoding="utf-8") as f:
        json.dump(body, f)
    assert os.path.getsize(event["result_path"]) > 48 * 1024
    os.kill(event["pid"], getattr(signal, event["signal"]))
    rc, out = s.finish()
    assert "QAMULE_PAUSE_WARNING" not in out, out[-3000:]
    if kind == "failure":
        assert rc == 1, out[-3000:]
        result = [line for line in out.splitlines() if line.startswith("QAMULE_PAUSE_RESULT ")]
        assert len(result) == 1
        assert json.loads(result[0].split(" ", 1)[1])["payload"] == body
    else:
        assert rc == 0, out[-3000:]
        m = re.search(r"DECISION (\{.*\})$", out, re.M)
        assert m, out[-3000:]
        decision = json.loads(m.group(1))
        assert (decision["result"], decision["reason"]) == (True, big)
