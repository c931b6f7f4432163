"""The contract: every feature sentence of the seed README
(/work/shared/seed/pytest-live-pause-0.1.1-PKG-INFO.txt, pytest-live-pause
0.1.1) and the black-box tests that fail if it breaks, as path::test_name.
The tests of this module cover the sentences the other modules do not;
test_the_map_names_existing_tests keeps this map honest.

Metadata
- Summary: "Pytest plugin and protocol for pausing live test execution and
  resuming in-process"
    tests/python/test_failure_pause.py::test_teardown_runs_only_after_resume_in_the_same_process
    tests/python/test_checkpoint.py::test_checkpoint_function_resumed_with_result_and_reason

Introduction
- "a standalone pytest plugin and runtime protocol for pausing a live test
  process, inspecting state before teardown, and resuming the same process
  through a structured control channel"
    tests/python/test_failure_pause.py::test_teardown_runs_only_after_resume_in_the_same_process
    tests/python/test_failure_pause.py::test_failure_reason_goes_to_terminal_report_and_junitxml
- design target "a thin pytest plugin adapter" (auto-loaded once installed,
  can be disabled)
    tests/python/test_plugin_options.py::test_run_id_header_printed_exactly_once
    tests/python/test_checkpoint.py::test_checkpoint_with_the_plugin_disabled_raises_runtime_error
- design target "structured stdout and JSONL events"
    tests/python/test_failure_pause.py::test_paused_block_is_printed_whatever_the_capture
    tests/python/test_failure_pause.py::test_events_jsonl_records_run_and_pause
- design target "packaged CLI commands for monitoring and resuming paused runs"
    tests/python/test_seed_contract.py::test_cli_is_packaged_with_its_commands
- design target "a compatibility layer for existing QAMule-style workflows"
  (0.1.1's files, written and read by other tools)
    tests/python/test_seed_contract.py::test_hand_written_seed_format_commands_resume_the_pauses
    tests/python/test_failure_pause.py::test_pause_file_has_the_seed_fields_while_paused

Current Status
- "The first working slice is `--pause-on-failure` using a file-backed
  control channel."
    tests/python/test_failure_pause.py::test_pauses_only_on_call_phase_failures
    tests/python/test_seed_contract.py::test_hand_written_seed_format_commands_resume_the_pauses
- "Checkpoint pauses are also supported through
  `pytest_live_pause.checkpoint(...)`."
    tests/python/test_checkpoint.py::test_checkpoint_function_resumed_with_result_and_reason
- "The plugin also auto-registers `live_pause` and `pause_run_id` fixtures
  for direct injection into test function arguments."
    tests/python/test_seed_contract.py::test_fixtures_are_registered_automatically
    tests/python/test_checkpoint.py::test_live_pause_fixture_checkpoint_resumed
- "When a test fails in the `call` phase and `--pause-on-failure` is
  enabled, the plugin:"
    tests/python/test_failure_pause.py::test_pauses_only_on_call_phase_failures
    tests/python/test_failure_pause.py::test_no_pause_without_the_option
  - "writes a pause request JSON file"
    tests/python/test_failure_pause.py::test_pause_file_has_the_seed_fields_while_paused
  - "waits for an external resume command file or timeout"
    tests/python/test_failure_pause.py::test_malformed_command_file_is_rejected_and_pause_keeps_waiting
    tests/python/test_failure_pause.py::test_timeout_resumes_without_reason
    tests/python/test_seed_contract.py::test_hand_written_seed_format_commands_resume_the_pauses
  - "resumes the same pytest process before teardown starts"
    tests/python/test_failure_pause.py::test_teardown_runs_only_after_resume_in_the_same_process
  - "appends any externally supplied failure reason to the pytest report"
    tests/python/test_failure_pause.py::test_failure_reason_goes_to_terminal_report_and_junitxml
- "Tests can also pause explicitly:" (the `checkpoint(task=..., timeout=300)`
  example that raises AssertionError(decision.reason) on False)
    tests/python/test_checkpoint.py::test_checkpoint_function_resumed_with_result_and_reason
    tests/python/test_checkpoint.py::test_checkpoint_mocked_by_option (its test_seed_example)
- "Or through the auto-registered fixture:" (`live_pause.run_id ==
  pause_run_id`, `live_pause.checkpoint(...)`, `assert decision.result is True`)
    tests/python/test_checkpoint.py::test_live_pause_fixture_checkpoint_resumed
    tests/python/test_checkpoint.py::test_live_pause_run_id_equals_pause_run_id_and_header
- "Checkpoint resumes use `--result` and `--reason`:"
  (`resume <pause_id> --result true --reason "approved"`)
    tests/python/test_checkpoint.py::test_checkpoint_function_resumed_with_result_and_reason
- "Checkpoint behavior can also be mocked during pytest startup:"
  (`pytest --pause-checkpoint-mock false`)
    tests/python/test_checkpoint.py::test_checkpoint_mocked_by_option
    tests/python/test_checkpoint.py::test_checkpoint_mocked_by_ini_key

Usage
- "Run pytest with pause-on-failure enabled:
  `pytest --pause-on-failure --pause-timeout 300`"
    tests/python/test_failure_pause.py::test_pause_file_has_the_seed_fields_while_paused
- "By default, pause state is written under `/tmp/pytest-live-pause`."
    tests/python/test_plugin_options.py::test_pause_dir_precedence[default]
- "You can still override it explicitly: `pytest --pause-on-failure
  --pause-dir /some/other/path --pause-timeout 300`"
    tests/python/test_seed_contract.py::test_explicit_pause_dir_for_pytest_and_cli
    tests/python/test_plugin_options.py::test_pause_dir_precedence[cli]
- "When a test fails, a pause file appears under the run directory:"
  (runs/<run_id>/ events.jsonl, run.json, pauses/<pause_id>.json, commands/)
    tests/python/test_seed_contract.py::test_run_directory_layout_while_paused
- "Resume the paused failure by pointing the CLI at the pause file:"
    tests/python/test_failure_pause.py::test_resume_by_pause_file_path
- "You can also resume directly by `pause_id`, which is more convenient when
  multiple pytest processes share the same pause directory"
    tests/python/test_failure_pause.py::test_failure_reason_goes_to_terminal_report_and_junitxml
    tests/python/test_plugin_options.py::test_processes_sharing_a_pause_dir_get_their_own_runs
- "If you are using a non-default pause directory, pass it explicitly:
  `resume <pause_id> --pause-dir /some/other/path --failure-reason ...`"
    tests/python/test_seed_contract.py::test_explicit_pause_dir_for_pytest_and_cli
    tests/python/test_seed_contract.py::test_explicit_pause_dir_option_of_resume
- "For failure pauses, `--failure-reason` appends an extra explanation to
  the pytest failure report."
    tests/python/test_failure_pause.py::test_failure_reason_goes_to_terminal_report_and_junitxml
    tests/python/test_failure_pause.py::test_resume_without_reason
- "Non-failure pauses must not receive `--failure-reason`; the CLI will
  reject that combination."
    tests/python/test_checkpoint.py::test_failure_reason_on_a_checkpoint_is_refused_and_writes_nothing
- "For checkpoint pauses, use `--result true|false|none` and optional
  `--reason`."
    tests/python/test_checkpoint.py::test_checkpoint_function_resumed_with_result_and_reason
- "For mocked checkpoint pauses, `reason` is fixed to `Mock`."
    tests/python/test_checkpoint.py::test_checkpoint_mocked_by_option
    tests/python/test_checkpoint.py::test_checkpoint_mocked_by_ini_key
- "The CLI writes the matching command file into `commands/`."
    tests/python/test_seed_contract.py::test_cli_writes_seed_format_command_files
- "The pytest process polls for that command and then continues into
  teardown."
    tests/python/test_failure_pause.py::test_teardown_runs_only_after_resume_in_the_same_process
- "When multiple pytest processes share the same pause directory, each
  process gets its own `runs/<run_id>/` directory."
    tests/python/test_plugin_options.py::test_processes_sharing_a_pause_dir_get_their_own_runs
    tests/python/test_plugin_options.py::test_each_session_gets_a_new_run_id
- "`run.json` and each pause file also record `pid`, `hostname`, `cwd`, and
  optional `worker_id` metadata."
    tests/python/test_plugin_options.py::test_processes_sharing_a_pause_dir_get_their_own_runs
    tests/python/test_seed_contract.py::test_xdist_worker_pause_records_worker_id
- "You can inspect currently pending pauses across all runs with:
  `pytest-live-pause ls`"
    tests/python/test_plugin_options.py::test_processes_sharing_a_pause_dir_get_their_own_runs
    tests/python/test_seed_contract.py::test_ls_shows_pending_pauses_and_ls_a_every_state
- "You can also watch for newly paused tests in real time:
  `pytest-live-pause watch --run-id <run_id>`"
    tests/python/test_seed_contract.py::test_watch_reports_a_pause_that_appears_later
- "`watch` requires a specific pytest `run_id`"
    tests/python/test_seed_contract.py::test_watch_requires_a_run_id
- "For bounded monitoring, pass a timeout: `watch --run-id <run_id>
  --timeout 30`"
    tests/python/test_seed_contract.py::test_watch_timeout_bounds_monitoring
- "`watch` waits until the latest matching pending pause appears, prints the
  pause details, and then exits."
    tests/python/test_seed_contract.py::test_watch_reports_a_pause_that_appears_later
    tests/python/test_checkpoint.py::test_watch_and_show_print_the_checkpoint_task
- "If the monitored pytest process exits while `watch` is still polling,
  `watch` now stops immediately and reports that the run is no longer
  active."
    tests/python/test_seed_contract.py::test_watch_stops_when_the_run_ends
- "By default, `ls` only shows currently resumable `pending` pauses. To
  include `stale`, `resumed`, and `timed_out` entries, use: `ls -a`"
    tests/python/test_seed_contract.py::test_ls_shows_pending_pauses_and_ls_a_every_state
- "If a pytest process is killed while paused, its pause file remains on
  disk. The CLI treats that as `stale` when the recorded `pid` is no longer
  alive on the current host. `ls -a` will show the stale state, and `resume`
  will refuse to write a command for it."
    tests/python/test_seed_contract.py::test_killed_pause_is_stale_and_resume_refuses
- "If no command arrives before `--pause-timeout`, the test resumes
  automatically without adding an external failure reason."
    tests/python/test_failure_pause.py::test_timeout_resumes_without_reason
    tests/python/test_checkpoint.py::test_checkpoint_timeout_gives_timed_out_and_none
- "When pytest starts, it prints the current `run_id`, so you can monitor
  that specific pytest process with `pytest-live-pause watch --run-id
  <run_id>`."
    tests/python/test_plugin_options.py::test_run_id_header_printed_exactly_once
    tests/python/test_seed_contract.py::test_watch_reports_a_pause_that_appears_later

File Protocol
- "`pauses/<pause_id>.json` currently contains:" pause_id, run_id, nodeid,
  timeout (float), original_failure, status, created_at, pid, hostname, cwd
    tests/python/test_failure_pause.py::test_pause_file_has_the_seed_fields_while_paused
- "`commands/<pause_id>.resume.json` currently contains:"
  {"failure_reason": ...}, "Or for a checkpoint pause:" {"result", "reason"}
    tests/python/test_seed_contract.py::test_cli_writes_seed_format_command_files
    tests/python/test_seed_contract.py::test_hand_written_seed_format_commands_resume_the_pauses

Not features (nothing to test): "The repository is currently in bootstrap
stage."; "The current design scope lives in `CURRENT_SCOPE.md`."; the design
target "a transport-neutral pause runtime" (an internal structure, not a
behaviour); "This file transport is only the first implementation. The
runtime can be split from the transport later if you want to add sockets or
HTTP." (a plan); the metadata Requires-Python / Requires-Dist.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shlex
import signal
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import CLI  # the binary the `cli` fixture runs
from conftest import command_file, read_pause, wait_block

WAIT = 60.0  # a bound for a slow machine, never asserted on

FAILING = '''
def test_fails():
    assert 6 * 7 == 41, "boom-seed"
'''

#: The inner test waits at the gate (a FIFO) until the outer test opens it.
GATED = '''
def test_gated():
    with open("gate.fifo") as gate:
        gate.readline()
    assert 6 * 7 == 41, "failed after the gate"
'''


# ------------------------------------------------------------------ helpers


class Gate:
    """A FIFO an inner test blocks on until `open()` writes a line. This
    process keeps it open read-write, so the inner open() never blocks and
    the inner readline() blocks until then: no sleep, no polling."""

    def __init__(self, path: Path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR)

    def open(self) -> None:
        os.write(self.fd, b"go\n")

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def gate(pytester: pytest.Pytester):
    g = Gate(pytester.path / "gate.fifo")
    yield g
    g.close()


def start_cli(cli, *args: str) -> subprocess.Popen:
    """The real CLI in the background (for `watch` that waits)."""
    return subprocess.Popen([CLI, *args], env=cli.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish_cli(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"pytest-live-pause {proc.args[1:]} did not exit within {WAIT}s")
    return proc.returncode, out, err



def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def run_dir(pause_dir: Path, pause_id: str) -> Path:
    return pause_dir / "runs" / pause_id.split(".")[0]


def ls_json(cli, *args: str) -> dict[str, dict]:
    res = cli("ls", "--json", *args)
    assert res.returncode == 0, str(res)
    return {e["pause_id"]: e for e in map(json.loads, res.stdout.splitlines())}


# ------------------------------------------------------------------ plugin


def test_fixtures_are_registered_automatically(pytester, pause_dir, monkeypatch):
    monkeypatch.setenv("PYTEST_LIVE_PAUSE_DIR", str(pause_dir))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures",
                                           timeout=WAIT)
    assert result.ret == 0
    out = result.stdout.str()
    assert re.search(r"^live_pause\b.*\n\s+.*run_id", out, re.M), out
    assert re.search(r"^pause_run_id\b.*\n\s+.*run_id", out, re.M), out


def test_cli_is_packaged_with_its_commands(cli):
    res = cli("--version")
    assert res.returncode == 0, str(res)
    assert version("pytest-live-pause") in res.stdout
    res = cli("--help")
    assert res.returncode == 0, str(res)
    for command in ("watch", "resume", "ls", "show"):
        assert re.search(rf"^  {command}\s+\S", res.stdout, re.M), command
        sub = cli(command, "--help")
        assert sub.returncode == 0, str(sub)
        assert sub.stdout.startswith(f"usage: pytest-live-pause {command}"), str(sub)


# ------------------------------------------------------------------- files


def test_run_directory_layout_while_paused(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_seed=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    run = pause_dir / "runs" / run_id
    assert (run / "events.jsonl").is_file()
    assert read_json(run / "run.json")["run_id"] == run_id
    names = sorted(p.name for p in (run / "pauses").iterdir())
    # beside the pause file, the final file's temporary made ahead: a
    # dot-name that is no *.json, which 0.1.1's readers never match
    assert [n for n in names if not n.startswith(".")] == [f"{pause_id}.json"], names
    assert all(n.startswith(".tmp.") and not n.endswith(".json") for n in names
               if n.startswith(".")), names
    assert (run / "commands").is_dir() and not list((run / "commands").iterdir())
    assert cli("resume", pause_id).returncode == 0
    assert command_file(pause_dir, pause_id).is_file()
    s.finish()


def test_cli_writes_seed_format_command_files(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_seed='''
        from pytest_live_pause import checkpoint

        def test_checkpoint():
            assert checkpoint(task="Approve", timeout=300).result is True

        def test_fails():
            assert 6 * 7 == 41, "boom-seed"
    ''')
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    first = cli.watch(run_id)
    assert first["kind"] == "checkpoint"
    assert cli("resume", first["pause_id"], "--result", "true",
               "--reason", "approved").returncode == 0
    cmd = read_json(command_file(pause_dir, first["pause_id"]))
    assert (cmd["result"], cmd["reason"]) == (True, "approved")
    assert "failure_reason" not in cmd

    second = cli.watch(run_id)
    assert second["kind"] == "failure"
    assert cli("resume", second["pause_id"], "--failure-reason",
               "manually confirmed").returncode == 0
    cmd = read_json(command_file(pause_dir, second["pause_id"]))
    assert cmd["failure_reason"] == "manually confirmed"
    assert "result" not in cmd and "reason" not in cmd
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^=+ 1 failed, 1 passed", out, re.M), out


def test_hand_written_seed_format_commands_resume_the_pauses(pytester, live, pause_dir):
    pytester.makepyfile(test_seed='''
        import json
        from pytest_live_pause import checkpoint

        def test_checkpoint():
            d = checkpoint(task="Approve", timeout=300)
            with open("decision.json", "w") as f:
                json.dump([d.result, d.reason, d.outcome], f)

        def test_fails():
            assert 6 * 7 == 41, "boom-seed"
    ''')
    s = live("--pause-on-failure", "--pause-timeout", "300")
    first, after = wait_block(s)
    assert first["kind"] == "checkpoint"
    # Another tool writes 0.1.1's command file: no CLI involved.
    command_file(pause_dir, first["pause_id"]).write_text('{"result": true, "reason": "approved"}')
    s.wait_for_line(r"^RESUMED \(resumed\): test_seed.py::test_checkpoint$", start=after)
    second, after = wait_block(s, after)
    assert second["kind"] == "failure"
    command_file(pause_dir, second["pause_id"]).write_text(
        '{"failure_reason": "manually confirmed"}')
    rc, out = s.finish()
    assert rc == 1, out
    assert json.loads((pytester.path / "decision.json").read_text()) == [True, "approved",
                                                                          "resumed"]
    assert re.search(r"^failure reason: manually confirmed$", out, re.M), out
    for block, verdict in ((first, {"result": True, "reason": "approved"}),
                           (second, {"failure_reason": "manually confirmed"})):
        pf = read_pause(pause_dir, block["pause_id"])
        assert (pf["status"], pf["resolved_by"]) == ("resumed", "file")
        assert {k: pf[k] for k in verdict} == verdict


def test_explicit_pause_dir_for_pytest_and_cli(pytester, live, cli, tmp_path):
    other = tmp_path / "some" / "other" / "path"
    pytester.makepyfile(test_seed=FAILING)
    # 0.1.1's spelling: --pause-dir and its value as two arguments (safe here:
    # the directory does not exist yet, so pytest cannot take it for a test path).
    s = live("--pause-on-failure", "--pause-dir", str(other), "--pause-timeout", "300")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    assert block["pause file"] == str(other / "runs" / s.run_id / "pauses" / f"{pause_id}.json")
    assert Path(block["pause file"]).is_file()

    env = {k: v for k, v in cli.env.items() if k != "PYTEST_LIVE_PAUSE_DIR"}
    # Without --pause-dir the CLI looks in the default directory: not there.
    res = cli("show", pause_id, env=env)
    assert res.returncode == 3, str(res)
    res = cli("show", pause_id, "--pause-dir", str(other), env=env)
    assert res.returncode == 0 and "state: pending" in res.stdout, str(res)
    # The printed resume command names the directory, so it works as printed.
    argv = shlex.split(block["resume"])
    assert argv[:3] == ["pytest-live-pause", "resume", pause_id]
    assert "--pause-dir" in argv and str(other) in argv
    argv = ["manually confirmed" if a == "TEXT" else a for a in argv]
    res = cli(*argv[1:], env=env)
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert re.search(r"^failure reason: manually confirmed$", out, re.M), out
    assert read_pause(other, pause_id)["failure_reason"] == "manually confirmed"


def test_explicit_pause_dir_option_of_resume(pytester, live, cli, tmp_path):
    other = tmp_path / "non-default"
    pytester.makepyfile(test_seed=FAILING)
    s = live("--pause-on-failure", f"--pause-dir={other}")
    block, _ = wait_block(s)
    env = {k: v for k, v in cli.env.items() if k != "PYTEST_LIVE_PAUSE_DIR"}
    res = cli("resume", block["pause_id"], "--pause-dir", str(other),
              "--failure-reason", "manually confirmed", env=env)
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert re.search(r"^failure reason: manually confirmed$", out, re.M), out


def test_xdist_worker_pause_records_worker_id(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_seed=FAILING)
    s = live("-n", "1", "--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    block, _ = wait_block(s)
    assert block["worker"] == "gw0"
    pause_id = block["pause_id"]
    assert pause_id.startswith(f"{run_id}.")  # the worker joined the session's run
    pf = read_pause(pause_dir, pause_id)
    run = read_json(pause_dir / "runs" / run_id / "run.json")
    assert pf["worker_id"] == "gw0"
    assert pf["pid"] != s.proc.pid  # the worker's pid
    assert run["worker_id"] is None and run["pid"] == s.proc.pid
    assert [p.name for p in (pause_dir / "runs").iterdir()] == [run_id]
    assert cli("resume", pause_id, "--failure-reason", "from the worker").returncode == 0
    rc, out = s.finish()
    assert rc == 1, out
    assert "failure reason: from the worker" in out


# ------------------------------------------------------------------- watch


def test_watch_reports_a_pause_that_appears_later(pytester, live, cli, gate, pause_dir):
    pytester.makepyfile(test_gated=GATED)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id  # from the header, as an agent reads it
    watch = start_cli(cli, "watch", "--run-id", run_id)
    try:
        assert ls_json(cli, "-a") == {}  # nothing has paused yet
        assert watch.poll() is None, "watch exited before there was a pause"
        gate.open()
        rc, out, err = finish_cli(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert rc == 0, err
    lines = out.splitlines()
    pause_id = re.fullmatch(r"pause detected: (\S+)", lines[0]).group(1)
    assert pause_id.startswith(f"{run_id}.")
    for line in (f"pause_id: {pause_id}", "kind: failure", f"run_id: {run_id}",
                 "nodeid: test_gated.py::test_gated", "state: pending",
                 f"pid: {s.proc.pid}",
                 f"resume: pytest-live-pause resume {pause_id} --failure-reason TEXT"):
        assert line in lines, f"{line!r} not in:\n{out}"
    assert "failed after the gate" in out  # the original failure
    assert cli("resume", pause_id).returncode == 0
    s.finish()


def test_watch_requires_a_run_id(cli):
    res = cli("watch", "--timeout", "1")
    assert res.returncode == 2, str(res)
    assert "--run-id" in res.stderr
    assert res.stdout == ""


def test_watch_timeout_bounds_monitoring(pytester, live, cli, gate):
    pytester.makepyfile(test_gated=GATED)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    run_id = s.run_id
    res = cli("watch", "--run-id", run_id, "--timeout", "1")
    assert res.returncode == 10, str(res)
    assert re.fullmatch(rf"timed out after 1(\.0+)?s waiting for a pause in run {run_id}\n",
                        res.stdout), str(res)
    res = cli("watch", "--run-id", run_id, "--timeout", "1", "--json")
    assert res.returncode == 10, str(res)
    assert res.json()["event"] == "timeout"
    gate.open()
    paused = cli.watch(run_id)
    assert cli("resume", paused["pause_id"]).returncode == 0
    s.finish()


@pytest.mark.parametrize("how", ["ends", "is-killed"])
def test_watch_stops_when_the_run_ends(pytester, live, cli, gate, how):
    pytester.makepyfile(test_gated=GATED)
    s = live("--pause-timeout", "300")  # no --pause-on-failure: the run just ends
    run_id = s.run_id
    watch = start_cli(cli, "watch", "--run-id", run_id)
    try:
        if how == "ends":
            gate.open()
            rc, out = s.finish()
            assert rc == 1, out
        else:
            s.kill()
        rc, out, err = finish_cli(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert rc == 9, (out, err)
    assert out.startswith("run is no longer active"), out
    assert len(out.strip().splitlines()) == 1, out
    # And a watch started afterwards says so at once.
    res = cli("watch", "--run-id", run_id, "--json")
    assert res.returncode == 9, str(res)
    assert res.json()["event"] == "run_ended"


# ---------------------------------------------------------------------- ls


def test_ls_shows_pending_pauses_and_ls_a_every_state(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_states='''
        from pytest_live_pause import checkpoint

        def test_a_times_out():
            checkpoint(task="nobody answers", timeout=1)

        def test_b_fails():
            assert 0, "resume me"

        def test_c_waits():
            checkpoint(task="killed while waiting", timeout=300)
    ''')
    a = live("--pause-on-failure", "--pause-timeout", "300")
    timed_out, after = wait_block(a)
    a.wait_for_line(r"^RESUMED \(timed_out\): test_states.py::test_a_times_out$", start=after)
    resumed, after = wait_block(a, after)
    assert cli("resume", resumed["pause_id"]).returncode == 0
    stale, after = wait_block(a, after)
    a.kill()
    b = live("--pause-timeout", "300", "-k", "test_c_waits")
    pending, _ = wait_block(b)

    states = {
        timed_out["pause_id"]: "timed_out",
        resumed["pause_id"]: "resumed",
        stale["pause_id"]: "stale",
        pending["pause_id"]: "pending",
    }
    assert {k: v["state"] for k, v in ls_json(cli).items()} == {pending["pause_id"]: "pending"}
    assert {k: v["state"] for k, v in ls_json(cli, "-a").items()} == states

    text = cli.tty("ls")
    assert text.returncode == 0, str(text)
    rows = [line for line in text.stdout.splitlines() if not line.startswith("PAUSE_ID")]
    assert len(rows) == 1 and rows[0].startswith(pending["pause_id"]), text.stdout
    text = cli.tty("ls", "-a")
    assert text.returncode == 0, str(text)
    for pause_id, state in states.items():
        row = next(line for line in text.stdout.splitlines() if line.startswith(pause_id))
        assert row.split()[1] == state, row

    assert cli("resume", pending["pause_id"], "--result", "true").returncode == 0
    rc, out = b.finish()
    assert rc == 0, out


def test_killed_pause_is_stale_and_resume_refuses(pytester, live, cli, pause_dir):
    pytester.makepyfile(test_seed=FAILING)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    s.kill()  # SIGKILL: nothing in the process can react
    assert s.proc.returncode == -signal.SIGKILL
    pf = read_pause(pause_dir, pause_id)  # the file remains on disk
    assert pf["status"] == "pending"
    show = cli("show", pause_id)
    assert show.returncode == 0, str(show)
    assert "state: stale" in show.stdout.splitlines()
    assert ls_json(cli) == {}
    assert ls_json(cli, "-a")[pause_id]["state"] == "stale"
    res = cli("resume", pause_id, "--failure-reason", "too late")
    assert res.returncode == 4, str(res)
    assert "stale" in res.stderr
    assert not command_file(pause_dir, pause_id).exists()
    assert not list(command_file(pause_dir, pause_id).parent.iterdir())


# --------------------------------------------------------------- the map


def test_the_map_names_existing_tests():
    """Every path::test_name of the module docstring names a test function
    that exists, and every test of this module is in the map."""
    root = Path(__file__).resolve().parents[2]
    refs = re.findall(r"(tests/python/\w+\.py)::(\w+)", __doc__)
    assert len(refs) > 50
    tests = {}
    for path in {path for path, _ in refs}:
        tree = ast.parse((root / path).read_text())
        tests[path] = {node.name for node in tree.body
                       if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    for path, name in refs:
        assert name in tests[path], f"{path}::{name} does not exist"
    mapped = {name for path, name in refs if path.endswith("test_seed_contract.py")}
    assert tests["tests/python/test_seed_contract.py"] - mapped == {
        "test_the_map_names_existing_tests"}
