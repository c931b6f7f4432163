"""Black-box tests of the `pytest-live-pause` command: every subcommand,
every documented exit code and error path, against real paused pytest
sessions (the `live` fixture) and the real binary (the `cli` fixture).

A refusal is checked three ways: its exit code, its one-line error on
stderr, and that nothing was written (the pause directory is unchanged
byte for byte and the pause is still pending, then resumable).
"""
from __future__ import annotations

import errno
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from _paused import assert_unindexed

from _paused import (
    CHECKPOINT_AND_FAILURE,
    CLI_BIN,
    EXIT,
    GATED,
    PAUSE_ID_RX,
    SIGINT_CONFTEST,
    catches_signal,
    cli_env,
    decisions,
    diff,
    end_events,
    one_line_error,
    poll_until,
    sigkill,
    snapshot,
    wait_decision,
    wait_paused,
)
from conftest import WAIT, command_file, pause_file, read_pause
from pytest_live_pause import _livepause

CP_NODE = "test_paused.py::test_checkpoint"
FAIL_NODE = "test_paused.py::test_failure"


def start(live, pytester, *args, env=None, source=CHECKPOINT_AND_FAILURE, name="test_paused"):
    """A pytest session over the inner tests, with output capture off (-s)
    so that the inner tests' DECISION lines reach us."""
    pytester.makepyfile(**{name: source})
    return live("-s", *args, f"{name}.py", env=env)


def checkpoint_session(live, pytester, cli, **env):
    """A session paused at the inner test_checkpoint; (session, pause)."""
    s = start(live, pytester, "-k", "test_checkpoint", env=env or None)
    info = wait_paused(s, cli, kind="checkpoint")
    return s, info


def assert_unchanged(root: Path, before: dict, res) -> None:
    after = snapshot(root)
    assert after == before, f"{res}\nthe pause directory changed:\n{diff(before, after)}"


def assert_pending(cli, pause_id: str) -> None:
    res = cli("show", "--json", pause_id)
    assert res.returncode == 0, str(res)
    assert res.json()["state"] == "pending", str(res)


# ------------------------------------------------------------ --version, --help


def test_version_names_package_and_protocol(cli):
    want = (f"pytest-live-pause {importlib.metadata.version('pytest-live-pause')} "
            f"(protocol {_livepause.PROTOCOL_VERSION})\n")
    for flag in ("--version", "-V"):
        res = cli(flag)
        assert (res.returncode, res.stdout, res.stderr) == (0, want, ""), str(res)


def _help_exit_codes(text: str) -> dict[int, str]:
    """The rows of the 'Exit codes:' section of a help text."""
    section = text.split("\nExit codes:\n", 1)[1]
    codes: dict[int, str] = {}
    for line in section.splitlines():
        m = re.match(r"^  (\d+)\s+(\S.*)$", line)
        if m:
            codes[int(m.group(1))] = m.group(2)
        elif line and not line.startswith(" "):
            break  # the next section
    return codes


def test_main_help_lists_commands_dir_and_every_exit_code(cli, pause_dir):
    for flag in ("--help", "-h"):
        res = cli(flag)
        assert res.returncode == 0 and res.stderr == "", str(res)
        out = res.stdout
        assert out.startswith("usage: pytest-live-pause "), out
        for command in ("watch", "resume", "ls", "show"):
            assert re.search(rf"^  {command}\s+\S", out, re.M), f"{command} missing:\n{out}"
        assert "--version" in out and "--help" in out
        assert _livepause.ENV_PAUSE_DIR in out and _livepause.DEFAULT_PAUSE_DIR in out
        assert set(_help_exit_codes(out)) == set(EXIT.values()), out
        # the README's example loop is in the help too
        assert "until watch exits 9" in out
    # help writes nothing, not even the pause directory
    assert not pause_dir.exists()


def test_no_command_and_unknown_command_are_usage_errors(cli):
    res = cli()
    assert res.returncode == EXIT["usage"] and res.stdout == "", str(res)
    assert "missing command" in one_line_error(res, None)
    res = cli("frobnicate")
    assert res.returncode == EXIT["usage"] and res.stdout == "", str(res)
    assert "unknown command 'frobnicate'" in one_line_error(res, None)
    res = cli("--bogus")
    assert res.returncode == EXIT["usage"], str(res)
    one_line_error(res, None)


#: the options of each command as the README documents them
SPEC_OPTIONS = {
    "resume": ["--failure-reason", "--failure-reason-file", "--result", "--reason",
               "--reason-file", "--take-timeout", "--attach", "--max-attachment-size", "--json",
               "--pause-dir", "--help"],
    "attachment": ["--output", "-o", "--pause-dir", "--help"],
    "ls": ["-a", "--all", "--json", "--pause-dir", "--help"],
    "watch": ["--run-id", "--timeout", "--json", "--pause-dir", "--help"],
    "show": ["--json", "--pause-dir", "--help"],
}
#: the exit codes each command can end with (README, "Exit codes")
SPEC_EXITS = {
    "resume": {0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 130},
    "ls": {0, 1, 2, 11},
    "watch": {0, 1, 2, 3, 9, 10, 11, 130},
    "show": {0, 1, 2, 3, 11},
    "attachment": {0, 1, 2, 3, 11},
}


@pytest.mark.parametrize("command", sorted(SPEC_OPTIONS))
def test_command_help_mentions_every_option_and_exit_code(cli, tmp_path, command):
    res = cli(command, "--help")
    assert res.returncode == 0 and res.stderr == "", str(res)
    out = res.stdout
    assert out.startswith(f"usage: pytest-live-pause {command}"), out
    assert cli(command, "-h").stdout == out
    for opt in SPEC_OPTIONS[command]:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", out), f"{opt} missing:\n{out}"
    codes = _help_exit_codes(out)
    assert set(codes) == SPEC_EXITS[command], out
    main_codes = _help_exit_codes(cli("--help").stdout)
    for code, text in codes.items():
        assert text == main_codes[code], (code, text)
    # every option the help mentions is one the command accepts
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", out))
    assert mentioned >= set(o for o in SPEC_OPTIONS[command] if o.startswith("--"))
    nowhere = str(tmp_path / "no-such-dir")
    for opt in sorted(mentioned - {"--help"}):
        takes_value = re.search(rf"{re.escape(opt)} [A-Z]|{re.escape(opt)} true", out)
        args = [command, f"--pause-dir={nowhere}", opt] + (["1"] if takes_value else [])
        r = cli(*args)
        assert "unknown or ambiguous option" not in r.stderr, str(r)
        assert "takes no value" not in r.stderr and "needs a value" not in r.stderr, str(r)


# ------------------------------------------------------------ resume


def test_resume_checkpoint_by_id_prints_one_line_and_the_test_gets_the_verdict(
        live, pytester, cli, pause_dir):
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    assert re.fullmatch(PAUSE_ID_RX, pid) and pid.startswith(s.run_id + ".")
    res = cli("resume", pid, "--result", "false", "--reason", "the modal never closed")
    assert res.returncode == 0 and res.stderr == "", str(res)
    assert res.stdout == f"resumed {pid} (checkpoint, {CP_NODE})\n"
    d = wait_decision(s, pid)
    assert d == dict(pause_id=pid, outcome="resumed", result=False,
                     reason="the modal never closed")
    rc, out = s.finish()
    assert rc == 0, out  # the inner test itself passes: it only prints
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["result"], p["reason"], p["resolved_by"]) == (
        "resumed", False, "the modal never closed", "cli")
    assert_unindexed(pause_dir, pid)
    cmd = json.loads(command_file(pause_dir, pid).read_text())
    assert (cmd["by"], cmd["result"], cmd["reason"]) == ("cli", False, "the modal never closed")
    ends = end_events(pause_dir, pid)
    assert [(e["event"], e["by"], e["result"]) for e in ends] == [("pause_resumed", "cli", False)]


@pytest.mark.parametrize("args, result", [
    (["--result", "true"], True),
    (["--result", "none"], None),
    ([], None),  # no --result means none
    (["--reason", "only a reason"], None),
])
def test_resume_checkpoint_results(live, pytester, cli, args, result):
    s, info = checkpoint_session(live, pytester, cli)
    res = cli("resume", info["pause_id"], *args, "--json")
    assert res.returncode == 0 and res.stderr == "", str(res)
    assert res.json() == dict(pause_id=info["pause_id"], kind="checkpoint", status="resumed",
                              run_id=s.run_id, nodeid=CP_NODE)
    d = wait_decision(s, info["pause_id"])
    reason = args[args.index("--reason") + 1] if "--reason" in args else None
    assert (d["outcome"], d["result"], d["reason"]) == ("resumed", result, reason)


@pytest.mark.parametrize("other_dir", ["missing", "another-pause-dir"])
def test_resume_failure_by_path_of_another_pause_dir(live, pytester, cli, pause_dir, tmp_path,
                                                      other_dir):
    """A pause file's path names its own pause directory, whatever
    PYTEST_LIVE_PAUSE_DIR says; the reason lands in the failure report
    and in --junitxml."""
    xml = tmp_path / "junit.xml"
    s = start(live, pytester, "--pause-on-failure", f"--junitxml={xml}", "-k", "test_failure")
    info = wait_paused(s, cli, kind="failure")
    pid = info["pause_id"]
    path = pause_file(pause_dir, pid)
    assert info["path"] == str(path)
    elsewhere = tmp_path / other_dir
    if other_dir != "missing":
        elsewhere.mkdir(mode=0o700)
        (elsewhere / "runs").mkdir(mode=0o700)
    before_other = snapshot(elsewhere)
    env = cli_env(elsewhere)
    res = cli("resume", str(path), "--failure-reason", "the price list is stale", env=env)
    assert res.returncode == 0 and res.stderr == "", str(res)
    assert res.stdout == f"resumed {pid} (failure, {FAIL_NODE})\n"
    rc, out = s.finish()
    assert rc == 1, out
    assert "RESUMED (resumed): " + FAIL_NODE in out
    assert re.search(r"-+ live pause -+\nExternal failure reason: the price list is stale", out), out
    assert "live_pause_failure_reason" in xml.read_text()
    assert "the price list is stale" in xml.read_text()
    assert read_pause(pause_dir, pid)["failure_reason"] == "the price list is stale"
    assert snapshot(elsewhere) == before_other


def test_resume_with_pause_dir_option_and_relative_path(live, pytester, cli, pause_dir, tmp_path):
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    # --pause-dir beats a wrong PYTEST_LIVE_PAUSE_DIR
    env = cli_env(tmp_path / "wrong")
    res = cli("show", pid, f"--pause-dir={pause_dir}", env=env)
    assert res.returncode == 0, str(res)
    # a relative pause file path, from the pause dir's parent
    rel = os.path.relpath(pause_file(pause_dir, pid), tmp_path)
    r = subprocess.run([CLI_BIN, "resume", rel, "--result", "true"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=WAIT)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout == f"resumed {pid} (checkpoint, {CP_NODE})\n"
    assert wait_decision(s, pid)["result"] is True


def _refusals_for_checkpoint(pid: str, run_id: str, pause_dir: Path, tmp_path: Path):
    """(args, exit code, a fragment of the error) for a pending checkpoint."""
    real = str(pause_file(pause_dir, pid))
    return [
        # unknown pauses: 3
        (["resume", f"{run_id}.00000000", "--result", "true"], 3, "no pause"),
        (["resume", "nosuchrun.12345678", "--result", "true"], 3, "no pause"),
        (["resume", "nodot", "--result", "true"], 3, "no pause"),
        (["resume", str(tmp_path / "gone" / "runs" / run_id / "pauses" / f"{pid}.json")], 3,
         "does not exist"),
        # malformed ids and paths: 2, never followed
        (["resume", "../x", "--result", "true"], 2, "not a pause file path"),
        (["resume", f"../{pid}", "--result", "true"], 2, "not a pause file path"),
        (["resume", "/etc/passwd", "--result", "true"], 2, "not a pause file path"),
        (["resume", "a/b", "--result", "true"], 2, "not a pause file path"),
        (["resume", real.replace("/pauses/", "/pauses/../pauses/"), "--result", "true"], 2,
         "not a pause file path"),
        (["resume", real[:-5], "--result", "true"], 2, "not a pause file path"),
        (["resume", "a" * 65, "--result", "true"], 2, "longer than 64"),
        (["resume", run_id + "." + "a" * (64 - len(run_id)), "--result", "true"], 2,
         "longer than 64"),
        (["resume", "", "--result", "true"], 2, "empty"),
        (["resume", "..", "--result", "true"], 2, "may not start with '.'"),
        (["resume", "." + pid, "--result", "true"], 2, "may not start with '.'"),
        (["resume", pid + "\x01", "--result", "true"], 2, "outside [A-Za-z0-9._-]"),
        (["resume", pid + " ", "--result", "true"], 2, "outside [A-Za-z0-9._-]"),
        # bad values and combinations: 2
        (["resume", pid, "--result", "maybe"], 2, "invalid --result value 'maybe'"),
        (["resume", pid, "--result", "True"], 2, "invalid --result value"),
        (["resume", pid, "--failure-reason", "x", "--result", "true"], 2, "use one kind"),
        (["resume", pid, "--failure-reason", "x", "--reason", "y"], 2, "use one kind"),
        (["resume", pid, "--failure-reason", "not for checkpoints"], 2,
         "is a checkpoint: --failure-reason is only for failure pauses"),
        (["resume", pid, "--take-timeout", "-1"], 2, "invalid --take-timeout"),
        (["resume", pid, "--take-timeout", "soon"], 2, "invalid --take-timeout"),
        (["resume", pid, "--take-timeout", "nan"], 2, "invalid --take-timeout"),
        (["resume", pid, "--pause-dir="], 2, "--pause-dir must not be empty"),
        # attachments refused before anything is written: 2
        (["resume", pid, "--attach", str(tmp_path / "nope.png")], 2, "No such file"),
        (["resume", pid, "--attach", str(tmp_path)], 2, "it is a directory"),
        (["resume", pid, "--attach", "/dev/null"], 2, "it is a device"),
        (["resume", pid, "--attach", str(tmp_path / "x"), "--max-attachment-size", "1"], 2,
         "over the limit of 1 bytes per file"),
        (["resume", pid, "--attach", str(tmp_path / "x"), "--max-attachment-size", "huge"], 2,
         "invalid --max-attachment-size value 'huge'"),
        (["resume", pid, "--attach", ""], 2, "--attach needs a file name"),
        (["resume", pid, "--attach"], 2, "option '--attach' needs a value"),
        (["abort", pid, "--attach", "/dev/null"], 2, "it is a device"),
        (["attachment", pid], 2, "missing <pause_id | pause file> and <name | sha256>"),
        (["attachment", pid, "x", "-o", ""], 2, "-o needs a file name"),
        (["attachment", pid, "nope.png", "-o", str(tmp_path / "out")], 3, "no attachment named"),
        # unknown options, missing arguments: 2
        (["resume", pid, "--bogus"], 2, "unknown or ambiguous option '--bogus'"),
        (["resume", pid, "-z"], 2, "unknown option '-z'"),
        (["resume", pid, "--json=yes"], 2, "takes no value"),
        (["resume"], 2, "missing <pause_id | pause file> argument"),
        (["resume", "--result", "true"], 2, "missing <pause_id | pause file> argument"),
        (["resume", pid, "--result"], 2, "option '--result' needs a value"),
        (["resume", pid, "--reason"], 2, "needs a value"),
        (["resume", pid, pid], 2, "unexpected argument"),
        (["show"], 2, "missing <pause_id | pause file> argument"),
        (["show", ""], 2, "empty"),
        (["show", "../x"], 2, "not a pause file path"),
        (["show", pid, "--bogus"], 2, "unknown or ambiguous option"),
        (["show", f"{run_id}.00000000"], 3, "no pause"),
        (["ls", "--bogus"], 2, "unknown or ambiguous option"),
        (["ls", "extra"], 2, "unexpected argument"),
        (["watch"], 2, "--run-id is required"),
        (["watch", "--run-id"], 2, "needs a value"),
        (["watch", "--run-id", run_id, "--timeout", "-3"], 2, "invalid --timeout"),
        (["watch", "--run-id", "../x"], 2, "run id"),
        (["watch", "--run-id", ".."], 2, "run id"),
        (["watch", "--run-id", "a" * 65], 2, "longer than 64"),
        (["watch", "--run-id", run_id, "extra"], 2, "unexpected argument"),
        (["watch", "--run-id", "nosuchrun"], 3, "no run 'nosuchrun'"),
    ]


def test_refusals_exit_codes_and_nothing_written(live, pytester, cli, pause_dir, tmp_path):
    s, info = checkpoint_session(live, pytester, cli)
    pid, run_id = info["pause_id"], s.run_id
    root = tmp_path  # the pause dir, and every decoy next to it
    (tmp_path / "x").write_text("decoy: never touched\n")
    for args, code, fragment in _refusals_for_checkpoint(pid, run_id, pause_dir, tmp_path):
        before = snapshot(root)
        res = cli(*args)
        assert res.returncode == code, str(res)
        assert res.stdout == "", str(res)
        assert fragment in one_line_error(res, args[0]), str(res)
        if code == EXIT["usage"]:
            assert f"(see 'pytest-live-pause {args[0]} --help')" in res.stderr
        assert_unchanged(root, before, res)
        assert_pending(cli, pid)
    # a path can't be followed into another directory either
    assert (tmp_path / "x").read_text() == "decoy: never touched\n"
    assert not command_file(pause_dir, pid).exists()
    # still resumable
    res = cli("resume", pid, "--result", "true", "--reason", "after the refusals")
    assert res.returncode == 0, str(res)
    assert wait_decision(s, pid)["reason"] == "after the refusals"


def test_refusals_on_a_failure_pause(live, pytester, cli, pause_dir, tmp_path):
    s = start(live, pytester, "--pause-on-failure", "-k", "test_failure")
    pid = wait_paused(s, cli, kind="failure")["pause_id"]
    for args, fragment in [
        (["--result", "true"], "is a failure pause: --result and --reason are only for checkpoints"),
        (["--result", "none"], "is a failure pause"),
        (["--reason", "x"], "is a failure pause"),
        (["--result", "maybe"], "invalid --result value"),
        (["--failure-reason", "x", "--result", "false"], "use one kind"),
    ]:
        before = snapshot(tmp_path)
        res = cli("resume", pid, *args)
        assert res.returncode == EXIT["usage"], str(res)
        assert fragment in one_line_error(res, "resume")
        assert_unchanged(tmp_path, before, res)
        assert_pending(cli, pid)
    res = cli("resume", pid)  # a failure pause needs no reason
    assert res.returncode == 0, str(res)
    assert res.stdout == f"resumed {pid} (failure, {FAIL_NODE})\n"
    rc, out = s.finish()
    assert rc == 1 and "RESUMED (resumed): " + FAIL_NODE in out
    assert "failure reason:" not in out and "-- live pause --" not in out
    assert read_pause(pause_dir, pid)["failure_reason"] is None


def test_already_resumed_exits_5_naming_the_winner(live, pytester, cli, pause_dir, tmp_path):
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    first = cli("resume", pid, "--result", "true", "--reason", "first")
    assert first.returncode == 0, str(first)
    assert wait_decision(s, pid)["reason"] == "first"
    assert s.finish()[0] == 0  # quiescent: only the CLI could write now
    before = snapshot(pause_dir)
    for args in (["--result", "false", "--reason", "second"], [], ["--json"]):
        res = cli("resume", pid, *args)
        assert res.returncode == EXIT["resumed"], str(res)
        assert res.stdout == "", str(res)
        msg = one_line_error(res, "resume")
        assert f"pause {pid} was already resumed" in msg and "by cli" in msg, msg
        assert_unchanged(pause_dir, before, res)
    assert len(end_events(pause_dir, pid)) == 1


def test_foreign_command_wins_and_is_named(live, pytester, cli, pause_dir):
    """A command in 0.1.1's format (no "by") written by another tool
    decides the pause; a later resume names it ('file')."""
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    cmd = command_file(pause_dir, pid)
    tmp = cmd.with_name(".foreign-tmp")
    tmp.write_text(json.dumps({"result": True, "reason": "written by a script"}))
    os.rename(tmp, cmd)
    d = wait_decision(s, pid)
    assert (d["outcome"], d["result"], d["reason"]) == ("resumed", True, "written by a script")
    res = cli("resume", pid, "--result", "false")
    assert res.returncode == EXIT["resumed"], str(res)
    assert "by file" in one_line_error(res, "resume")
    assert read_pause(pause_dir, pid)["resolved_by"] == "file"


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_timed_out_exits_6(live, pytester, cli, pause_dir, kind):
    if kind == "checkpoint":
        s = start(live, pytester, "-k", "test_checkpoint", env={"LP_CP_TIMEOUT": "0.2"})
        node, args = CP_NODE, ["--result", "true"]
    else:
        s = start(live, pytester, "--pause-on-failure", "--pause-timeout=0.2", "-k",
                  "test_failure")
        node, args = FAIL_NODE, ["--failure-reason", "too late"]
    s.wait_for_line(rf"^RESUMED \(timed_out\): {re.escape(node)}$")
    pid = s.wait_for_line(rf"^pause_id: ({PAUSE_ID_RX})$").group(1)
    rc, out = s.finish()
    before = snapshot(pause_dir)
    res = cli("resume", pid, *args)
    assert res.returncode == EXIT["timedout"], str(res)
    assert f"pause {pid} already timed out" in one_line_error(res, "resume")
    assert_unchanged(pause_dir, before, res)
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["resolved_by"]) == ("timed_out", "timeout")
    if kind == "checkpoint":
        d = decisions(out)[0]
        assert (d["outcome"], d["result"], d["reason"]) == ("timed_out", None, None)
    else:
        assert rc == 1 and "failure reason:" not in out


def test_aborted_exits_7(live, pytester, cli, pause_dir):
    pytester.makeconftest(SIGINT_CONFTEST)
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    poll_until(lambda: catches_signal(s.proc.pid, signal.SIGTERM),
               "the paused pytest to be waiting (its SIGTERM handler installed)")
    s.send(signal.SIGINT)
    rc, out = s.finish()
    assert rc == 2, out  # pytest: interrupted
    assert f"RESUMED (aborted): {CP_NODE}" in out
    before = snapshot(pause_dir)
    res = cli("resume", pid, "--result", "true")
    assert res.returncode == EXIT["aborted"], str(res)
    assert f"pause {pid} was aborted" in one_line_error(res, "resume")
    assert_unchanged(pause_dir, before, res)
    assert read_pause(pause_dir, pid)["status"] == "aborted"
    assert_unindexed(pause_dir, pid)


def test_stale_after_kill_9(live, pytester, cli, pause_dir):
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    assert pid in cli("ls").stdout
    sigkill(s)
    res = cli.tty("ls")
    assert res.returncode == 0 and pid not in res.stdout, str(res)
    assert res.stdout == f"no pending pauses in {pause_dir}\n"
    res = cli.tty("ls", "-a")
    row = [line for line in res.stdout.splitlines() if line.startswith(pid)]
    assert len(row) == 1 and row[0].split()[1] == "stale", str(res)
    assert cli("show", "--json", pid).json()["state"] == "stale"
    before = snapshot(pause_dir)
    res = cli("resume", pid, "--result", "true")
    assert res.returncode == EXIT["stale"], str(res)
    msg = one_line_error(res, "resume")
    assert f"pause {pid} is stale" in msg and f"pid {info['pid']}" in msg, msg
    assert_unchanged(pause_dir, before, res)
    res = cli("watch", "--run-id", s.run_id)
    assert res.returncode == EXIT["runended"], str(res)
    assert res.stdout.startswith("run is no longer active: ") and "is gone" in res.stdout


def test_not_taken_in_time_exits_8_then_taken(live, pytester, cli, pause_dir):
    """A stopped pytest can't take the command: resume says so (8); the
    command stays the claim, and is taken when the process runs again."""
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        res = cli("resume", pid, "--result", "true", "--reason", "late", "--take-timeout", "0.3")
        assert res.returncode == EXIT["nottaken"], str(res)
        assert "has not taken it within 0.3s" in one_line_error(res, "resume")
        assert json.loads(command_file(pause_dir, pid).read_text())["reason"] == "late"
        second = cli("resume", pid, "--result", "false")
        assert second.returncode == EXIT["resumed"], str(second)
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    assert wait_decision(s, pid)["reason"] == "late"


def test_take_timeout_0_does_not_wait(live, pytester, cli, pause_dir):
    s, info = checkpoint_session(live, pytester, cli)
    pid = info["pause_id"]
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        res = cli("resume", pid, "--result", "true", "--take-timeout", "0")
        assert res.returncode == 0, str(res)
        assert res.stdout == (f"resume command written for {pid} (checkpoint, {CP_NODE}); "
                              "not waiting for it to be taken\n")
        assert read_pause(pause_dir, pid)["status"] == "pending"
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    assert wait_decision(s, pid)["result"] is True


def test_malformed_pause_file_is_an_error_1(cli, pause_dir):
    (pause_dir / "runs" / "r1" / "pauses").mkdir(parents=True)
    pause_dir.chmod(0o700)
    (pause_dir / "runs" / "r1" / "pauses" / "r1.0000abcd.json").write_text("garbage")
    before = snapshot(pause_dir)
    for command in ("show", "resume"):
        res = cli(command, "r1.0000abcd")
        assert res.returncode == EXIT["error"], str(res)
        assert "is not valid JSON" in one_line_error(res, command)
    assert_unchanged(pause_dir, before, res)


# ------------------------------------------------------------ ls


def test_ls_table_json_and_all(live, pytester, cli, pause_dir):
    a, ia = checkpoint_session(live, pytester, cli)
    b = start(live, pytester, "--pause-on-failure", "-k", "test_failure", name="test_other")
    ib = wait_paused(b, cli, kind="failure")
    res = cli.tty("ls")
    assert res.returncode == 0 and res.stderr == "", str(res)
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["PAUSE_ID", "STATE", "KIND", "AGE", "PID", "WORKER", "NODEID"]
    # columns are aligned: every cell starts where its header does
    starts = [lines[0].index(h) for h in ("STATE", "KIND", "AGE", "PID", "WORKER", "NODEID")]
    rows = [line.split() for line in lines[1:]]
    for line in lines[1:]:
        assert all(line[i - 2:i] == "  " and line[i] != " " for i in starts), lines
    assert [r[0] for r in rows] == [ia["pause_id"], ib["pause_id"]]  # oldest first
    assert rows[0][1:3] == ["pending", "checkpoint"] and rows[1][1:3] == ["pending", "failure"]
    assert re.fullmatch(r"\d+[smhd]", rows[0][3])
    assert rows[0][4] == str(a.proc.pid) and rows[1][4] == str(b.proc.pid)
    assert rows[0][5] == rows[1][5] == "-"
    assert rows[0][6] == CP_NODE and rows[1][6] == "test_other.py::test_failure"

    js = [json.loads(line) for line in cli("ls", "--json").stdout.splitlines()]
    assert [j["pause_id"] for j in js] == [ia["pause_id"], ib["pause_id"]]
    for j in js:
        assert j["state"] == j["status"] == "pending"
        assert j == dict(read_pause(pause_dir, j["pause_id"]), state="pending",
                         path=str(pause_file(pause_dir, j["pause_id"])))

    assert cli("resume", ia["pause_id"], "--result", "true").returncode == 0
    res = cli.tty("ls")
    assert ia["pause_id"] not in res.stdout and ib["pause_id"] in res.stdout
    rows = {r.split()[0]: r.split()[1] for r in cli.tty("ls", "-a").stdout.splitlines()[1:]}
    assert rows == {ia["pause_id"]: "resumed", ib["pause_id"]: "pending"}
    rows_all = {r.split()[0]: r.split()[1] for r in cli.tty("ls", "--all").stdout.splitlines()[1:]}
    assert rows_all == rows
    states = {j["pause_id"]: j["state"] for j in map(json.loads, cli("ls", "-a", "--json").stdout.splitlines())}
    assert states == rows


def _ls_all_rows(cli) -> list[list[str]]:
    res = cli.tty("ls", "-a")
    assert res.returncode == 0 and res.stderr == "", str(res)
    return [r.split(None, 6) for r in res.stdout.splitlines()[1:]]


def test_ls_all_reads_the_catalog_and_walks_runs_it_does_not_know(live, pytester, cli,
                                                                  pause_dir):
    """`ls -a` lists ended pauses from catalog.tsv (one line per run and per
    ended pause), not from the pause files; runs the catalog does not know
    (a directory written before it existed) are walked."""
    a, ia = checkpoint_session(live, pytester, cli)
    assert cli("resume", ia["pause_id"], "--result", "false", "--reason", "no").returncode == 0
    rc, out = a.finish()
    catalog = (pause_dir / "catalog.tsv").read_text().splitlines()
    assert catalog[0] == "pytest-live-pause catalog 1"
    assert ["R", a.run_id] in [line.split("\t") for line in catalog]
    p_lines = [line.split("\t") for line in catalog if line.startswith("P\t")]
    assert [f[:4] for f in p_lines] == [["P", ia["pause_id"], "resumed", "checkpoint"]]
    assert p_lines[0][11] == CP_NODE
    want = [ia["pause_id"], "resumed", "checkpoint"]
    assert [r[:3] for r in _ls_all_rows(cli)] == [want]
    # the table comes from the catalog: without the pause file it is still listed
    pf = pause_file(pause_dir, ia["pause_id"])
    saved = pf.read_bytes()
    pf.unlink()
    assert [r[:3] for r in _ls_all_rows(cli)] == [want]
    # --json too, from catalog-json.tsv (the pause file's bytes) ...
    (obj,) = [json.loads(line) for line in cli("ls", "-a", "--json").stdout.splitlines()]
    assert (obj["pause_id"], obj["state"], obj["reason"]) == (ia["pause_id"], "resumed", "no")
    # ... and without it the pause files are read: this one is gone
    listing = pause_dir / "catalog-json.tsv"
    saved_listing = listing.read_bytes()
    listing.unlink()
    assert cli("ls", "-a", "--json").stdout == ""
    listing.write_bytes(saved_listing)
    pf.write_bytes(saved)
    # a pause directory of an older layout (no catalog): walked, same table
    (pause_dir / "catalog.tsv").unlink()
    assert [r[:3] for r in _ls_all_rows(cli)] == [want]
    # a catalog that does not know the run: walked too, listed once
    (pause_dir / "catalog.tsv").write_text("pytest-live-pause catalog 1\n")
    assert [r[:3] for r in _ls_all_rows(cli)] == [want]


def test_ls_empty_and_missing_pause_dir(cli, pause_dir, live, pytester):
    # missing: exit 0, nothing created
    for args, text in ((["ls"], "no pending pauses in"), (["ls", "-a"], "no pauses in")):
        res = cli.tty(*args)
        assert (res.returncode, res.stdout, res.stderr) == (0, f"{text} {pause_dir}\n", ""), str(res)
        assert cli(*args, "--json").stdout == ""
    assert not pause_dir.exists()
    # a run that ended without pausing leaves an empty listing
    pytester.makepyfile(test_quiet="def test_ok():\n    pass\n")
    rc, out = live("test_quiet.py").finish()
    assert rc == 0, out
    assert (pause_dir / "runs").is_dir()
    res = cli.tty("ls")
    assert (res.returncode, res.stdout) == (0, f"no pending pauses in {pause_dir}\n"), str(res)
    assert cli.tty("ls", "-a").stdout == f"no pauses in {pause_dir}\n"
    assert cli("ls").stdout == cli("ls", "-a").stdout == ""  # into a pipe: 0.1.1's nothing
    assert cli("ls", "--json").stdout == ""


# ------------------------------------------------------------ watch


def _watch_lines(stdout: str) -> list[tuple[str, str]]:
    keys = []
    for line in stdout.splitlines():
        if line.startswith("  "):
            continue  # continuation of a multi-line value
        k, _, v = line.partition(": ")
        keys.append((k, v))
    return keys


def test_watch_reports_an_existing_pause_at_once(live, pytester, cli, pause_dir):
    s, info = checkpoint_session(live, pytester, cli, LP_TASK="Approve\nthe second line")
    pid = info["pause_id"]
    res = cli("watch", "--run-id", s.run_id)
    assert res.returncode == 0 and res.stderr == "", str(res)
    assert res.stdout.splitlines()[0] == f"pause detected: {pid}"
    kv = _watch_lines(res.stdout)
    assert [k for k, _ in kv] == ["pause detected", "pause_id", "kind", "run_id", "nodeid",
                                  "state", "pid", "task", "location", "pause_file", "resume"]
    d = dict(kv)
    assert d["pause_id"] == pid and d["kind"] == "checkpoint" and d["run_id"] == s.run_id
    assert d["nodeid"] == CP_NODE and d["state"] == "pending" and d["pid"] == str(s.proc.pid)
    assert "task: Approve\n  the second line\n" in res.stdout
    assert d["pause_file"] == str(pause_file(pause_dir, pid))
    assert d["resume"].startswith(f"pytest-live-pause resume {pid} ")
    assert "--result 'true|false|none' --reason TEXT" in d["resume"]
    # --json: the pause file plus its state
    j = cli("watch", "--run-id", s.run_id, "--json")
    assert j.returncode == 0 and len(j.stdout.splitlines()) == 1, str(j)
    assert j.json() == dict(read_pause(pause_dir, pid), state="pending",
                            path=str(pause_file(pause_dir, pid)))
    assert j.json()["task"] == "Approve\nthe second line"


def _gate(pytester) -> Path:
    fifo = pytester.path / "gate.fifo"
    os.mkfifo(fifo)
    return fifo


def _open_gate(fifo: Path, what: str) -> None:
    """Release the inner test blocked on the FIFO (bounded: the open is
    non-blocking, retried until the inner test has opened its end)."""
    def try_open():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:  # no reader yet
                return None
            raise
    fd = poll_until(try_open, "the inner test to open the gate FIFO")
    try:
        os.write(fd, (what + "\n").encode())
    finally:
        os.close(fd)


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_waits_for_the_next_pause(live, pytester, cli, pause_dir, as_json):
    fifo = _gate(pytester)
    s = start(live, pytester, source=GATED, env={"LP_GATE": str(fifo)})
    run_id = s.run_id
    args = ["watch", "--run-id", run_id] + (["--json"] if as_json else [])
    w = subprocess.Popen([CLI_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=cli_env(pause_dir))
    try:
        # the session is running, with no pause: watch is waiting
        assert not list((pause_dir / "runs" / run_id / "pauses").iterdir())
        assert w.poll() is None, w.communicate()
        _open_gate(fifo, "pause")  # only now may the pause be created
        out, err = w.communicate(timeout=WAIT)
    finally:
        if w.poll() is None:
            w.kill()
    assert w.returncode == 0 and err == "", (out, err)
    pid = s.wait_for_line(rf"^pause_id: ({PAUSE_ID_RX})$").group(1)
    if as_json:
        j = json.loads(out)
        assert (j["pause_id"], j["kind"], j["state"], j["task"]) == (
            pid, "checkpoint", "pending", "after the gate")
    else:
        assert out.splitlines()[:3] == [f"pause detected: {pid}", f"pause_id: {pid}",
                                        "kind: checkpoint"]
    assert cli("resume", pid, "--result", "true").returncode == 0
    assert wait_decision(s, pid)["result"] is True


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_exits_9_when_the_run_ends(live, pytester, cli, pause_dir, as_json):
    fifo = _gate(pytester)
    s = start(live, pytester, source=GATED, env={"LP_GATE": str(fifo)})
    run_id = s.run_id
    args = ["watch", "--run-id", run_id] + (["--json"] if as_json else [])
    w = subprocess.Popen([CLI_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=cli_env(pause_dir))
    try:
        assert w.poll() is None
        _open_gate(fifo, "end")  # the test returns without pausing
        out, err = w.communicate(timeout=WAIT)
    finally:
        if w.poll() is None:
            w.kill()
    assert w.returncode == EXIT["runended"], (out, err)
    assert err == ""
    if as_json:
        assert json.loads(out) == dict(event="run_ended", run_id=run_id,
                                       message=f"run is no longer active: run {run_id} has ended")
    else:
        assert out == f"run is no longer active: run {run_id} has ended\n"
    rc, output = s.finish()
    assert rc == 0, output
    # and at once for a run that has already ended
    res = cli("watch", "--run-id", run_id)
    assert res.returncode == EXIT["runended"], str(res)
    assert res.stdout.startswith("run is no longer active:")


def test_watch_exits_9_when_the_watched_pytest_is_killed(live, pytester, cli, pause_dir):
    fifo = _gate(pytester)
    s = start(live, pytester, source=GATED, env={"LP_GATE": str(fifo)})
    run_id = s.run_id
    w = subprocess.Popen([CLI_BIN, "watch", "--run-id", run_id], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=cli_env(pause_dir))
    try:
        assert w.poll() is None
        sigkill(s)  # no run_ended is ever written: watch must see the process go
        out, err = w.communicate(timeout=WAIT)
    finally:
        if w.poll() is None:
            w.kill()
    assert w.returncode == EXIT["runended"], (out, err)
    assert out.startswith(f"run is no longer active: run {run_id}: its pytest process (pid "
                          f"{s.proc.pid} on ") and out.endswith(" is gone\n"), out


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_timeout_exits_10(live, pytester, cli, pause_dir, as_json):
    fifo = _gate(pytester)
    s = start(live, pytester, source=GATED, env={"LP_GATE": str(fifo)})
    run_id = s.run_id
    try:
        res = cli("watch", "--run-id", run_id, "--timeout", "0.5", *(["--json"] if as_json else []))
    finally:
        _open_gate(fifo, "end")
    assert res.returncode == EXIT["watch_timeout"] and res.stderr == "", str(res)
    text = f"timed out after 0.5s waiting for a pause in run {run_id}"
    if as_json:
        assert res.json() == dict(event="timeout", run_id=run_id, message=text)
    else:
        assert res.stdout == text + "\n"
    assert s.finish()[0] == 0


def test_watch_unknown_run_exits_3(cli, pause_dir, live, pytester):
    res = cli("watch", "--run-id", "nosuchrun")  # no pause dir at all
    assert res.returncode == EXIT["notfound"], str(res)
    assert str(pause_dir) in one_line_error(res, "watch")
    pytester.makepyfile(test_quiet="def test_ok():\n    pass\n")
    assert live("test_quiet.py").finish()[0] == 0
    res = cli("watch", "--run-id", "nosuchrun")  # a pause dir without that run
    assert res.returncode == EXIT["notfound"], str(res)
    assert "no run 'nosuchrun'" in one_line_error(res, "watch")


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def test_watch_ctrl_c_exits_130(live, pytester, cli, pause_dir):
    fifo = _gate(pytester)
    s = start(live, pytester, source=GATED, env={"LP_GATE": str(fifo)})
    w = subprocess.Popen([CLI_BIN, "watch", "--run-id", s.run_id], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=cli_env(pause_dir))
    try:
        # a SIGINT before watch installs its handler would just kill it
        # (and after exec: a forked child still shows its parent's handlers)
        poll_until(lambda: w.poll() is not None or (
            _exe(w.pid) == os.path.realpath(CLI_BIN) and catches_signal(w.pid, signal.SIGINT)),
            "watch to install its SIGINT handler")
        assert w.poll() is None, w.communicate()
        w.send_signal(signal.SIGINT)
        out, err = w.communicate(timeout=WAIT)
    finally:
        if w.poll() is None:
            w.kill()
        _open_gate(fifo, "end")
    assert w.returncode == EXIT["interrupted"], (out, err)
    assert out == "" and err == "pytest-live-pause watch: error: interrupted\n"
    assert s.finish()[0] == 0


AGENT_LOOP = '''
import json
from pytest_live_pause import checkpoint

def test_one():
    d = checkpoint(task="first", timeout=float("inf"))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, result=d.result, reason=d.reason,
                                        outcome=d.outcome)), flush=True)

def test_two():
    assert "two" == "2", "the second test fails"

def test_three():
    d = checkpoint(task="third", timeout=float("inf"))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, result=d.result, reason=d.reason,
                                        outcome=d.outcome)), flush=True)
'''


def test_agent_loop_watch_resume_never_sees_a_pause_twice(live, pytester, cli, pause_dir):
    s = start(live, pytester, "--pause-on-failure", source=AGENT_LOOP, name="test_agent")
    run_id = s.run_id
    seen: list[tuple[str, str]] = []
    for _ in range(10):  # bounded: 3 pauses, then exit 9
        w = cli("watch", "--run-id", run_id, "--json")
        if w.returncode == EXIT["runended"]:
            assert w.json()["event"] == "run_ended"
            break
        assert w.returncode == 0, str(w)
        p = w.json()
        assert p["state"] == "pending"
        seen.append((p["pause_id"], p["kind"]))
        if p["kind"] == "checkpoint":
            r = cli("resume", p["pause_id"], "--result", "true", "--reason", f"ok {len(seen)}")
        else:
            r = cli("resume", p["pause_id"], "--failure-reason", "seen by the agent")
        assert r.returncode == 0, str(r)
    else:
        pytest.fail(f"watch kept reporting pauses: {seen}")
    ids = [pid for pid, _ in seen]
    assert len(ids) == 3 and len(set(ids)) == 3, seen
    assert [k for _, k in seen] == ["checkpoint", "failure", "checkpoint"]
    rc, out = s.finish()
    assert rc == 1, out
    got = decisions(out)
    assert [(d["pause_id"], d["reason"]) for d in got] == [(ids[0], "ok 1"), (ids[2], "ok 3")]
    assert "failure reason: seen by the agent" in out
    for pid in ids:
        assert len(end_events(pause_dir, pid)) == 1


# ------------------------------------------------------------ show


def _show_value(stdout: str, key: str) -> str:
    """A multi-line value of `show`, with its continuation indent removed."""
    lines = stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(key + ": "))
    out = [lines[i][len(key) + 2:]]
    for line in lines[i + 1:]:
        if not line.startswith("  "):
            break
        out.append(line[2:])
    return "\n".join(out)


def test_show_prints_everything_for_a_checkpoint(live, pytester, cli, pause_dir):
    task = "Approve the external step\n" + "\n".join(f"line {i}: " + "x" * 100 for i in range(60))
    s, info = checkpoint_session(live, pytester, cli, LP_TASK=task, LP_CP_TIMEOUT="123.5")
    pid = info["pause_id"]
    res = cli("show", pid)
    assert res.returncode == 0 and res.stderr == "", str(res)
    p = read_pause(pause_dir, pid)
    kv = dict(_watch_lines(res.stdout))
    assert [k for k, _ in _watch_lines(res.stdout)] == [
        "pause_id", "kind", "run_id", "nodeid", "state", "status", "pid", "hostname", "cwd",
        "created_at", "timeout", "task", "location", "pause_file", "resume", "eval", "actions"]
    assert kv["pause_id"] == pid and kv["kind"] == "checkpoint" and kv["run_id"] == s.run_id
    # what a pending pause takes besides resume: no --pause-allow-eval, no actions
    assert kv["eval"].startswith("off") and "--pause-allow-eval" in kv["eval"], kv["eval"]
    assert kv["actions"] == "none", kv["actions"]
    assert kv["nodeid"] == CP_NODE and kv["state"] == kv["status"] == "pending"
    assert kv["pid"] == str(s.proc.pid) == str(p["pid"])
    assert kv["hostname"] == socket.gethostname() == p["hostname"]
    assert kv["cwd"] == str(pytester.path) == p["cwd"]
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)([+-]\d\d:\d\d) \((\d+\.\d+)\)",
                     kv["created_at"])
    assert m, kv["created_at"]
    assert abs(float(m.group(3)) - p["created_at"]) < 1e-5
    assert m.group(1) == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(int(p["created_at"])))
    assert kv["timeout"].startswith("123.5"), kv["timeout"]
    assert _show_value(res.stdout, "task") == task  # in full, not cut
    assert kv["pause_file"] == str(pause_file(pause_dir, pid))
    assert kv["resume"].startswith(f"pytest-live-pause resume {pid}")
    j = cli("show", "--json", pid)
    assert j.returncode == 0 and len(j.stdout.splitlines()) == 1, str(j)
    assert j.json() == dict(p, state="pending", path=str(pause_file(pause_dir, pid)))
    # by path, and after the pause ended: no resume hint, the final state
    assert cli("resume", pid, "--result", "true").returncode == 0
    wait_decision(s, pid)
    res = cli("show", str(pause_file(pause_dir, pid)))
    kv = dict(_watch_lines(res.stdout))
    assert kv["state"] == kv["status"] == "resumed" and "resume" not in kv, res.stdout
    assert "eval" not in kv and "actions" not in kv, res.stdout


def test_show_prints_a_long_failure_in_full(live, pytester, cli, pause_dir):
    text = "\n".join(f"failure detail {i}: " + "y" * 150 for i in range(200))
    s = start(live, pytester, "--pause-on-failure", "-k", "test_failure",
              env={"LP_FAILURE_TEXT": text})
    pid = wait_paused(s, cli, kind="failure")["pause_id"]
    res = cli("show", pid)
    assert res.returncode == 0, str(res)
    p = read_pause(pause_dir, pid)
    assert "failure detail 199: " in p["original_failure"]
    assert _show_value(res.stdout, "original_failure") == p["original_failure"].rstrip("\n")
    kv = dict(_watch_lines(res.stdout))
    assert kv["kind"] == "failure" and kv["timeout"].startswith("300")
    assert "task" not in kv
    assert "--failure-reason TEXT" in kv["resume"]
    assert cli("show", "--json", pid).json()["original_failure"] == p["original_failure"]


# ------------------------------------------------------------ unsafe pause dir


COMMANDS_ON = [
    ["ls"], ["ls", "-a"], ["ls", "--json"], ["show", "{pid}"],
    ["resume", "{pid}", "--result", "true"], ["watch", "--run-id", "{run}"],
]


@pytest.mark.parametrize("hazard", ["mode-0777", "mode-0770", "symlink", "other-owner"])
def test_unsafe_pause_dir_exits_11_and_writes_nothing(live, pytester, cli, pause_dir, tmp_path,
                                                      hazard):
    if hazard == "other-owner" and os.geteuid() != 0:
        pytest.skip("a directory of another user can only be made by root")
    s, info = checkpoint_session(live, pytester, cli)
    pid, run = info["pause_id"], s.run_id
    if hazard == "symlink":
        target = tmp_path / "link-to-pause-dir"
        target.symlink_to(pause_dir)
        path = target
    else:
        path = pause_dir
    fixes = {"mode-0777": f"chmod 700 {path}", "mode-0770": f"chmod 700 {path}",
             "symlink": "--pause-dir", "other-owner": "--pause-dir"}
    try:
        if hazard.startswith("mode-"):
            pause_dir.chmod(int(hazard[-4:], 8))
        elif hazard == "other-owner":
            os.chown(pause_dir, 65534, -1)
        before = snapshot(pause_dir)
        refs = [["show", str(pause_file(path, pid))],
                ["resume", str(pause_file(path, pid)), "--result", "true"]]
        for argv in [[a.format(pid=pid, run=run) for a in c] for c in COMMANDS_ON] + refs:
            res = cli(*argv, env=cli_env(path))
            assert res.returncode == EXIT["unsafe"], str(res)
            assert res.stdout == ""
            msg = one_line_error(res, argv[0])
            assert f"pause directory {path} " in msg and fixes[hazard] in msg, msg
            res = cli(*argv, f"--pause-dir={path}", env=cli_env(tmp_path / "unused"))
            assert res.returncode == EXIT["unsafe"], str(res)
        assert snapshot(pause_dir) == before
    finally:
        os.chown(pause_dir, os.geteuid(), -1)
        pause_dir.chmod(0o700)
    # safe again: nothing was written, the pause is still waiting
    assert_pending(cli, pid)
    assert cli("resume", pid, "--result", "true").returncode == 0
    assert wait_decision(s, pid)["result"] is True
