"""Black-box tests: the plugin's options (`--pause-on-failure`,
`--pause-timeout`, `--pause-dir`, `--pause-checkpoint-mock`), their ini keys
and precedence, the run_id header, usage errors, unusable pause
directories, and several pytest processes sharing one pause directory.

Every test runs real pytest sessions (pytester's `runpytest_subprocess`, or
the `live` fixture for sessions that pause) and the real CLI.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

import pytest

from conftest import header_run_id, wait_block

WAIT = 60.0  # a bound for a slow machine, never asserted on
DEFAULT_DIR = Path("/tmp/pytest-live-pause")

FAILING = '''
def test_fails():
    assert 6 * 7 == 41, "boom-options"
'''

#: A passing test that leaves a trace when it runs.
RAN = '''
def test_ran():
    open("test-ran.txt", "w").close()
'''


# ------------------------------------------------------------------ helpers


def make_pytest_ini(pytester: pytest.Pytester, text: str) -> Path:
    """Write pytest.ini (pytester.makeini would write tox.ini)."""
    return pytester.makefile(".ini", pytest=text)


def only_pause(pause_dir: Path, run_id: str) -> dict:
    files = list((pause_dir / "runs" / run_id / "pauses").glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())



# --------------------------------------------------------------------- help


def test_pytest_help_documents_every_option_and_ini_key(pytester, run_pytest, pause_dir):
    result = run_pytest("--help")
    assert result.ret == 0
    out = result.stdout.str()
    m = re.search(r"^live-pause \(.*?\):\n(.*?)\n\n", out, re.M | re.S)
    assert m, out
    group = m.group(1)
    for option, words in [
        ("--pause-on-failure", ["call phase", "teardown", "pytest-live-pause resume"]),
        ("--pause-timeout=SECONDS", ["times out at once", "inf to wait until resumed"]),
        ("--pause-dir=DIR", ["PYTEST_LIVE_PAUSE_DIR", "/tmp/pytest-live-pause"]),
        ("--pause-checkpoint-mock=true|false|none", ["Mock"]),
    ]:
        assert re.search(rf"^  {re.escape(option)}\b", group, re.M), f"{option} missing:\n{group}"
        for word in words:
            assert word in " ".join(group.split()), f"{word!r} not in the help"
    for key in ("pause_on_failure (bool)", "pause_timeout (string)", "pause_dir (string)",
                "pause_checkpoint_mock (string)"):
        assert re.search(rf"^  {re.escape(key)}:", out, re.M), f"ini key {key} missing"
    assert not pause_dir.exists(), "pytest --help started a run"


# ------------------------------------------------------------------- header


@pytest.mark.parametrize("args", [[], ["-q"], ["-qq"], ["--no-header"], ["-v"], ["-n", "2"]],
                         ids=["default", "q", "qq", "no-header", "v", "xdist"])
def test_run_id_header_printed_exactly_once(pytester, run_pytest, pause_dir, args):
    pytester.makepyfile(test_ran=RAN)
    result = run_pytest(*args)
    out = result.stdout.str()
    assert result.ret == 0, out
    run_id = header_run_id(out)
    assert re.fullmatch(r"[0-9a-f]{12}", run_id), run_id
    assert [p.name for p in (pause_dir / "runs").iterdir()] == [run_id]
    run = json.loads((pause_dir / "runs" / run_id / "run.json").read_text())
    assert (run["run_id"], run["status"]) == (run_id, "ended")


def test_each_session_gets_a_new_run_id(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_ran=RAN)
    first = header_run_id(run_pytest().stdout.str())
    second = header_run_id(run_pytest().stdout.str())
    assert first != second
    assert sorted(p.name for p in (pause_dir / "runs").iterdir()) == sorted([first, second])


# ----------------------------------------------------------------- ini keys


def test_ini_pause_on_failure(pytester, run_pytest, pause_dir):
    make_pytest_ini(pytester, "[pytest]\npause_on_failure = true\n")
    pytester.makepyfile(test_fails=FAILING)
    result = run_pytest("--pause-timeout", "1")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "PAUSED (failure): test_fails.py::test_fails" in out
    pf = only_pause(pause_dir, header_run_id(out))
    assert (pf["nodeid"], pf["status"]) == ("test_fails.py::test_fails", "timed_out")


def test_ini_pause_on_failure_turned_off_with_o(pytester, run_pytest, pause_dir):
    make_pytest_ini(pytester, "[pytest]\npause_on_failure = true\n")
    pytester.makepyfile(test_fails=FAILING)
    result = run_pytest("--pause-timeout", "300", "-o", "pause_on_failure=false")
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(failed=1)
    assert "PAUSED" not in out
    assert not list((pause_dir / "runs" / header_run_id(out)).glob("pauses/*.json"))


def test_ini_pause_timeout(pytester, run_pytest, pause_dir):
    make_pytest_ini(pytester, "[pytest]\npause_timeout = 1\n")
    pytester.makepyfile(test_fails=FAILING)
    result = run_pytest("--pause-on-failure")  # only the ini's 1 s ends the pause
    out = result.stdout.str()
    assert result.ret == 1, out
    assert re.search(r"^timeout: 1s$", out, re.M), out
    assert "RESUMED (timed_out): test_fails.py::test_fails" in out
    pf = only_pause(pause_dir, header_run_id(out))
    assert (pf["timeout"], pf["status"]) == (1.0, "timed_out")


def test_ini_pause_dir_is_relative_to_the_ini_file(pytester, clean_env):
    make_pytest_ini(pytester, "[pytest]\npause_dir = ini-pauses\n")
    pytester.makepyfile(test_ran=RAN)
    sub = pytester.mkdir("sub")
    clean_env.chdir(sub)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", str(pytester.path),
                                           timeout=WAIT)
    out = result.stdout.str()
    assert result.ret == 0, out
    expected = pytester.path / "ini-pauses"
    assert f"pytest-live-pause: pause_dir={expected}" in out
    run_id = header_run_id(out)
    assert (expected / "runs" / run_id / "run.json").is_file()
    assert not (sub / "ini-pauses").exists()


def test_ini_keys_in_pyproject_toml(pytester, clean_env):
    pytester.makepyprojecttoml('''
        [tool.pytest.ini_options]
        pause_on_failure = true
        pause_timeout = "1"
        pause_dir = "toml-pauses"
        pause_checkpoint_mock = "false"
    ''')
    pytester.makepyfile(test_toml='''
        import json
        from pytest_live_pause import checkpoint

        def test_mocked():
            d = checkpoint(task="mocked by pyproject.toml", timeout=300)
            with open("decision.json", "w") as f:
                json.dump([d.result, d.reason, d.outcome], f)

        def test_fails():
            assert 6 * 7 == 41, "boom-toml"
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=WAIT)
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(passed=1, failed=1)
    pause_dir = pytester.path / "toml-pauses"
    assert f"pytest-live-pause: pause_dir={pause_dir}" in out
    assert json.loads((pytester.path / "decision.json").read_text()) == [False, "Mock", "mocked"]
    assert "PAUSED (failure): test_toml.py::test_fails" in out
    assert re.search(r"^timeout: 1s$", out, re.M), out
    pf = only_pause(pause_dir, header_run_id(out))
    assert (pf["nodeid"], pf["timeout"], pf["status"]) == (
        "test_toml.py::test_fails", 1.0, "timed_out")


def test_cli_checkpoint_mock_beats_ini(pytester, run_pytest):
    make_pytest_ini(pytester, "[pytest]\npause_checkpoint_mock = false\n")
    pytester.makepyfile(test_mock='''
        from pytest_live_pause import checkpoint

        def test_mock():
            d = checkpoint(task="which mock?", timeout=300)
            assert (d.result, d.reason, d.outcome) == (True, "Mock", "mocked")
    ''')
    result = run_pytest("--pause-checkpoint-mock=true")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)


# --------------------------------------------------------------- precedence


@pytest.mark.parametrize("case", ["cli", "env", "ini", "default"])
def test_pause_dir_precedence(pytester, clean_env, tmp_path, case):
    """--pause-dir > $PYTEST_LIVE_PAUSE_DIR > ini pause_dir > the default."""
    dirs = {"cli": tmp_path / "cli-dir", "env": tmp_path / "env-dir",
            "ini": pytester.path / "ini-dir", "default": DEFAULT_DIR}
    order = ["cli", "env", "ini", "default"]
    given = order[order.index(case):]  # this source and every weaker one
    args = ["-p", "no:cacheprovider"]
    if "cli" in given:
        args.append(f"--pause-dir={dirs['cli']}")
    if "env" in given:
        clean_env.setenv("PYTEST_LIVE_PAUSE_DIR", str(dirs["env"]))
    if "ini" in given:
        make_pytest_ini(pytester, "[pytest]\npause_dir = ini-dir\n")
    pytester.makepyfile(test_ran=RAN)
    result = pytester.runpytest_subprocess(*args, timeout=WAIT)
    out = result.stdout.str()
    assert result.ret == 0, out
    run_id = header_run_id(out)
    expected = dirs[case]
    try:
        assert f"pytest-live-pause: pause_dir={expected}" in out
        assert (expected / "runs" / run_id / "run.json").is_file()
        for other in given[1:]:
            assert not (dirs[other] / "runs" / run_id).exists(), other
    finally:
        if case == "default":  # remove only what this test's run wrote
            shutil.rmtree(DEFAULT_DIR / "runs" / run_id, ignore_errors=True)


def test_cli_pause_timeout_beats_ini(pytester, run_pytest, pause_dir):
    make_pytest_ini(pytester, "[pytest]\npause_timeout = 300\n")
    pytester.makepyfile(test_fails=FAILING)
    result = run_pytest("--pause-on-failure", "--pause-timeout", "1")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert re.search(r"^timeout: 1s$", out, re.M), out
    pf = only_pause(pause_dir, header_run_id(out))
    assert (pf["timeout"], pf["status"]) == (1.0, "timed_out")


@pytest.mark.parametrize("args, line, timeout, deadline", [
    pytest.param([], "timeout: 300s", 300.0, True, id="default-300"),
    pytest.param(["--pause-timeout", "inf"], "no timeout", None, False, id="inf-waits-forever"),
])
def test_pause_timeout_default_and_zero(pytester, live, cli, pause_dir, args, line, timeout,
                                        deadline):
    pytester.makepyfile(test_fails=FAILING)
    s = live("--pause-on-failure", *args)
    run_id = s.run_id
    block, _ = wait_block(s)
    assert block["lines"][-1] == line
    pf = only_pause(pause_dir, run_id)
    assert pf["timeout"] == timeout and isinstance(pf["timeout"], (float, type(None)))
    if deadline:
        assert pf["deadline_at"] == pytest.approx(pf["created_at"] + timeout)
    else:
        assert pf["deadline_at"] is None
    assert cli("resume", pf["pause_id"]).returncode == 0
    rc, out = s.finish()
    assert rc == 1, out


# --------------------------------------------------------------- bad values


@pytest.mark.parametrize("args, ini, words", [
    pytest.param(["--pause-timeout", "abc"], None, ["--pause-timeout", "'abc'"], id="timeout-abc"),
    pytest.param(["--pause-timeout", "-1"], None, ["--pause-timeout", "'-1'"], id="timeout-neg"),
    pytest.param(["--pause-timeout=nan"], None, ["--pause-timeout", "'nan'"], id="timeout-nan"),
    pytest.param(["--pause-timeout=1e10"], None, ["--pause-timeout", "'1e10'", "inf"],
                 id="timeout-too-large"),
    pytest.param(["--pause-checkpoint-mock", "maybe"], None,
                 ["--pause-checkpoint-mock", "'maybe'"], id="mock-maybe"),
    pytest.param([], "pause_timeout = soon", ["pause_timeout", "'soon'"], id="ini-timeout"),
    pytest.param([], "pause_checkpoint_mock = perhaps", ["pause_checkpoint_mock", "'perhaps'"],
                 id="ini-mock"),
])
def test_bad_option_value_is_a_one_line_usage_error(pytester, run_pytest, pause_dir, args, ini,
                                                    words):
    if ini:
        make_pytest_ini(pytester, f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_ran=RAN)
    result = run_pytest("--pause-on-failure", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    for word in words:
        assert word in errors[0], errors[0]
    assert not (pytester.path / "test-ran.txt").exists()
    assert "collected" not in result.stdout.str()
    assert not pause_dir.exists(), "a refused configuration started a run"


# ------------------------------------------------------- unusable pause dir


def _make_unusable(kind: str, tmp_path: Path) -> Path:
    if kind == "regular-file":
        path = tmp_path / "a-file"
        path.write_text("not a directory")
    elif kind == "symlink":
        target = tmp_path / "real-dir"
        target.mkdir(mode=0o700)
        path = tmp_path / "link-dir"
        path.symlink_to(target)
    elif kind == "open-to-others-0777":
        path = tmp_path / "open-dir"
        path.mkdir()
        path.chmod(0o777)
    elif kind == "group-writable-0770":
        path = tmp_path / "group-dir"
        path.mkdir()
        path.chmod(0o770)
    elif kind == "other-owner":
        if os.geteuid() != 0:
            pytest.skip("needs root to give a directory to another user")
        path = tmp_path / "someone-elses"
        path.mkdir(mode=0o700)
        os.chown(path, 65534, 65534)
    elif kind == "not-writable":
        path = Path("/proc/1")  # a directory nobody, not even root, may create files in
    else:
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize("kind", ["regular-file", "symlink", "open-to-others-0777",
                                  "group-writable-0770", "other-owner", "not-writable"])
def test_unusable_pause_dir_stops_pytest_at_start(pytester, clean_env, tmp_path, kind):
    path = _make_unusable(kind, tmp_path)
    pytester.makepyfile(test_ran=RAN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--pause-dir={path}",
                                           "--pause-on-failure", timeout=WAIT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert str(path) in errors[0]
    assert "--pause-dir" in errors[0] or "chmod" in errors[0], errors[0]  # the fix
    assert not (pytester.path / "test-ran.txt").exists()
    assert "collected" not in result.stdout.str()
    if kind == "symlink":
        assert not list((tmp_path / "real-dir").iterdir())
    elif kind in ("open-to-others-0777", "group-writable-0770", "other-owner"):
        assert not list(path.iterdir())
    elif kind == "regular-file":
        assert path.read_text() == "not a directory"


def test_unusable_pause_dir_in_env_or_ini_is_refused_too(pytester, clean_env, tmp_path):
    path = _make_unusable("open-to-others-0777", tmp_path)
    pytester.makepyfile(test_ran=RAN)
    clean_env.setenv("PYTEST_LIVE_PAUSE_DIR", str(path))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=WAIT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert str(path) in result.stderr.str()
    clean_env.delenv("PYTEST_LIVE_PAUSE_DIR")
    make_pytest_ini(pytester, f"[pytest]\npause_dir = {path}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=WAIT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert str(path) in result.stderr.str()
    assert not (pytester.path / "test-ran.txt").exists()


# ----------------------------------------------- several processes, one dir


def test_processes_sharing_a_pause_dir_get_their_own_runs(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_fails=FAILING)
    sessions = [live("--pause-on-failure", "--pause-timeout", "300") for _ in range(2)]
    run_ids = [s.run_id for s in sessions]
    assert len(set(run_ids)) == 2
    pauses = [cli.watch(run_id) for run_id in run_ids]
    pause_ids = [p["pause_id"] for p in pauses]
    assert [p.split(".")[0] for p in pause_ids] == run_ids
    assert sorted(p.name for p in (pause_dir / "runs").iterdir()) == sorted(run_ids)

    listed = cli("ls", "--json")
    assert listed.returncode == 0, str(listed)
    by_id = {e["pause_id"]: e for e in map(json.loads, listed.stdout.splitlines())}
    assert set(by_id) == set(pause_ids)
    text = cli.tty("ls")
    assert text.returncode == 0, str(text)
    for s, pause_id in zip(sessions, pause_ids):
        row = next(line for line in text.stdout.splitlines() if line.startswith(pause_id))
        assert re.search(rf"\bpending\b.*\bfailure\b.*\b{s.proc.pid}\b.*test_fails.py::test_fails$",
                         row), row

    for s, run_id, pause_id in zip(sessions, run_ids, pause_ids):
        run = json.loads((pause_dir / "runs" / run_id / "run.json").read_text())
        pf = json.loads((pause_dir / "runs" / run_id / "pauses" / f"{pause_id}.json").read_text())
        for meta in (run, pf, by_id[pause_id]):
            assert meta["pid"] == s.proc.pid
            assert meta["hostname"] == socket.gethostname()
            assert os.path.realpath(meta["cwd"]) == os.path.realpath(pytester.path)
            assert "worker_id" in meta and meta["worker_id"] is None
        assert (run["run_id"], run["status"]) == (run_id, "active")
        assert pf["run_id"] == run_id

    for s, pause_id in zip(sessions, pause_ids):
        assert cli("resume", pause_id, "--failure-reason", f"for {pause_id}").returncode == 0
        rc, out = s.finish()
        assert rc == 1, out
        assert f"failure reason: for {pause_id}" in out
    assert cli.tty("ls").stdout.strip() == f"no pending pauses in {pause_dir}"
