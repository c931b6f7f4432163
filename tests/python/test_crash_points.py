"""kill -9 at each step of writing a pause and of taking a command.

The runtime has named crash points (lib/fault.c): with LP_TEST_KILL_AT=<step>
(or <step>@<N> for its N-th time) the process sends itself SIGKILL there,
exactly as `kill -9` would. For every step, in the paused pytest process
and in the resuming CLI, the test checks what a person or agent then sees:
no reader fails on a partial file, every pause is in a consistent state
(stale while its process is gone, or final), and the CLI's answers agree
with the pause file.

Publications in a run in a new pause directory, in order: catalog.tsv (1),
run.json (2), progress.json (3, the counts as a pause begins), the pause
file (4), the pause file with its outcome (5). A pause is indexed in pending/ before its
file is published, and leaves pending/ only after its line is in the
catalog that `ls -a` reads.
"""
from __future__ import annotations

import json
import os
import re
import signal

import pytest

SUITE = """
def test_cp(live_pause):
    d = live_pause.checkpoint(task="crash me")
    print("DECISION", d.outcome, d.result)
"""

STATES = {"pending", "stale", "resumed", "timed_out", "aborted"}


def all_pauses(cli) -> list[dict]:
    """`ls -a --json`: must succeed and print only whole JSON objects, and
    `ls -a` (whose table is read from the catalog, not from the pause
    files) must list the same pauses in the same states."""
    res = cli("ls", "-a", "--json")
    assert res.returncode == 0, str(res)
    pauses = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    for p in pauses:
        assert p["state"] in STATES, p
        shown = cli("show", p["pause_id"], "--json")
        assert shown.returncode == 0, str(shown)
        assert json.loads(shown.stdout)["state"] == p["state"]
    table = cli.tty("ls", "-a")
    assert table.returncode == 0, str(table)
    rows = table.stdout.splitlines()
    listed = [] if rows[0].startswith("no pauses") else [tuple(r.split()[:2]) for r in rows[1:]]
    assert sorted(listed) == sorted((p["pause_id"], p["state"]) for p in pauses), table.stdout
    return pauses


def no_partial_file_is_visible(pause_dir) -> None:
    """Every published pause file and claim parses; only dot-files are partial."""
    for f in list(pause_dir.glob("runs/*/pauses/*")) + list(pause_dir.glob("runs/*/commands/*")):
        if f.name.startswith("."):
            continue  # a temporary name: never read by anyone
        if ".rejected." in f.name:
            continue
        json.loads(f.read_text())


@pytest.mark.parametrize("step, visible", [
    ("begin:indexed", False),        # indexed as pending, no pause file yet
    ("publish:written@4", False),    # the pause file only as a temporary file
    ("publish:published@4", True),   # published, directory not yet flushed
    ("begin:pause_file", True),      # published and indexed, no pause_created event
])
def test_kill_while_writing_a_pause(pytester, live, cli, pause_dir, step, visible):
    pytester.makepyfile(test_crash=SUITE)
    s = live("-s", env={"LP_TEST_KILL_AT": step})
    run_id = s.run_id
    rc, out = s.finish()
    assert rc == -9, out  # killed at the step, as by kill -9
    no_partial_file_is_visible(pause_dir)
    pauses = [p for p in all_pauses(cli) if p["run_id"] == run_id]
    if not visible:
        assert pauses == []
    else:
        assert [p["state"] for p in pauses] == ["stale"]
        pid = pauses[0]["pause_id"]
        assert cli("ls", "--json").stdout.strip() == ""  # not resumable: not listed
        res = cli("resume", pid, "--result", "true")
        assert res.returncode == 4, str(res)  # stale, nothing written
        assert not (pause_dir / "runs" / run_id / "commands" / f"{pid}.resume.json").exists()
    watch = cli("watch", "--run-id", run_id, "--timeout", "30")
    assert watch.returncode == 9, str(watch)
    assert "run is no longer active" in watch.stdout


@pytest.mark.parametrize("step, cli_exit, final_state, settling", [
    ("take:decided", 4, "stale", False),           # command valid, outcome not recorded
    ("publish:written@5", 4, "stale", False),      # outcome written to a temporary file only
    ("publish:published@5", 0, "resumed", False),  # outcome published, not yet durable
    # the settle thread's steps (lib/settle.c), after the decision was handed
    # to the test: the kill may land before or after the test printed it
    ("take:recorded", 0, "resumed", True),         # final file durable, still in pending/
    ("take:catalogued", 0, "resumed", True),       # in the catalog and still in pending/
    ("take:unindexed", 0, "resumed", True),        # unindexed: settled
])
def test_kill_while_taking_a_command(pytester, live, cli, pause_dir, step, cli_exit,
                                     final_state, settling):
    pytester.makepyfile(test_crash=SUITE)
    s = live("-s", env={"LP_TEST_KILL_AT": step})
    pause = cli.watch(s.run_id)
    res = cli("resume", pause["pause_id"], "--result", "true", "--reason", "ok")
    rc, out = s.finish()
    assert rc == -9, out  # the run drains its settle thread before it ends
    if not settling:
        assert "DECISION" not in out  # the test never received it
    # The CLI's answer agrees with the pause file.
    assert res.returncode == cli_exit, str(res)
    no_partial_file_is_visible(pause_dir)
    pauses = {p["pause_id"]: p for p in all_pauses(cli)}
    assert pauses[pause["pause_id"]]["state"] == final_state
    assert cli("ls", "--json").stdout.strip() == ""  # nothing resumable is left listed
    again = cli("resume", pause["pause_id"], "--result", "false")
    assert again.returncode == (5 if final_state == "resumed" else 4), str(again)


def test_kill_the_cli_while_it_writes_its_command(pytester, live, cli, pause_dir):
    """A resume killed before its command is published leaves only a
    temporary file: the pause keeps waiting and a later resume works."""
    pytester.makepyfile(test_crash=SUITE)
    s = live("-s")
    pause = cli.watch(s.run_id)
    killed = cli("resume", pause["pause_id"], "--result", "false",
                 env=dict(cli.env, LP_TEST_KILL_AT="publish:written"))
    assert killed.returncode == -9, str(killed)
    commands = pause_dir / "runs" / s.run_id / "commands"
    assert [f.name for f in commands.iterdir() if not f.name.startswith(".")] == []
    assert cli("show", pause["pause_id"], "--json").json()["state"] == "pending"
    ok = cli("resume", pause["pause_id"], "--result", "true", "--reason", "second try")
    assert ok.returncode == 0, str(ok)
    rc, out = s.finish()
    assert rc == 0, out
    assert re.search(r"DECISION resumed True", out), out


@pytest.mark.parametrize("take_timeout", ["0", "0.3"])
def test_a_command_left_untaken_is_flushed_before_the_cli_reports(pytester, live, cli, pause_dir,
                                                                  take_timeout):
    """The resumer publishes its command unflushed (the paused process takes
    it with no flush in its way); one it leaves standing untaken, with
    --take-timeout 0 or when the process did not take it in time, it
    flushes before it reports: the crash point claim:flush is on that path,
    and the command it left there is whole and is taken later."""
    pytester.makepyfile(test_crash=SUITE)
    s = live("-s")
    pause = cli.watch(s.run_id)
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        killed = cli("resume", pause["pause_id"], "--result", "true", "--reason", "late",
                     "--take-timeout", take_timeout,
                     env=dict(cli.env, LP_TEST_KILL_AT="claim:flush"))
        assert killed.returncode == -9, str(killed)
        commands = pause_dir / "runs" / s.run_id / "commands"
        left = [f for f in commands.iterdir() if not f.name.startswith(".")]
        assert [f.name for f in left] == [pause["pause_id"] + ".resume.json"]
        assert json.loads(left[0].read_text())["reason"] == "late"
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    rc, out = s.finish()
    assert rc == 0, out
    assert re.search(r"DECISION resumed True", out), out


@pytest.mark.parametrize("kind_args", [("--result", "true"), ("--result", "false", "--json")])
def test_a_taken_command_is_not_flushed_again(pytester, live, cli, kind_args):
    """Once the paused process has taken the command (its final pause file
    records the verdict, made durable by its settle thread) the resumer
    does not flush the command: claim:flush is never reached."""
    pytester.makepyfile(test_crash=SUITE)
    s = live("-s")
    pause = cli.watch(s.run_id)
    res = cli("resume", pause["pause_id"], *kind_args,
              env=dict(cli.env, LP_TEST_KILL_AT="claim:flush"))
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 0, out
    assert re.search(r"DECISION resumed " + kind_args[1].capitalize(), out), out
