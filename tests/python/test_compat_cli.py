"""Our CLI and the published 0.1.1, both directions (issue 9, points 1, 2,
8 and 9).

The REAL pytest-live-pause 0.1.1 (the `v011` fixture: its own virtual
environment, run as a separate process, never imported here) pauses in a
pause directory our plugin has used (it has pending/ and catalog.tsv), and
our CLI lists, shows, watches and resumes its pauses by id and by path;
our plugin pauses and 0.1.1's CLI resumes it; our `ls` into a pipe prints
exactly 0.1.1's lines; `watch -a` and `--interval` mean what they mean
there.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import CLI, WAIT, Cli, LivePytest, V011

UUID_RX = r"[0-9a-f]{32}"

CHECKPOINT = '''
import json
from pytest_live_pause import checkpoint

def test_cp():
    d = checkpoint(task="approve the v011 step", timeout=600)
    print("DECISION " + json.dumps(dict(outcome=d.outcome, result=d.result,
                                        reason=d.reason)), flush=True)
'''

FAILURE = '''
def test_fail():
    assert 6 * 7 == 43, "the answer is wrong"
'''


class V011Pytest(LivePytest):
    """A pytest session of the published 0.1.1, in its own interpreter."""

    def __init__(self, v011: V011, cwd: Path, args: list[str], env: dict):
        self.proc = subprocess.Popen(
            [v011.python, "-m", "pytest", "-s", "-p", "no:cacheprovider", *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()


@pytest.fixture
def shared(live, pytester, cli, pause_dir):
    """A pause directory our plugin has used: it has pending/ and catalog.tsv."""
    pytester.makepyfile(test_ours_once="def test_ok():\n    pass\n")
    rc, out = live("test_ours_once.py").finish()
    assert rc == 0, out
    assert (pause_dir / "pending").is_dir() and (pause_dir / "catalog.tsv").is_file()
    return pause_dir


@pytest.fixture
def v011_session(v011, pytester, shared):
    """Start 0.1.1's pytest over `source` in the shared directory."""
    started: list[V011Pytest] = []
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
                        "PYTEST_LIVE_PAUSE_DIR", "PYTHONPATH")}

    def start(source: str, *args: str, name: str = "test_v011") -> V011Pytest:
        d = pytester.path / f"v011_{len(started)}"
        d.mkdir()
        (d / f"{name}.py").write_text(source)
        s = V011Pytest(v011, d, ["--pause-dir", str(shared), *args, f"{name}.py"], env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def _sh_env(env: dict) -> dict:
    assert CLI is not None
    return dict(env, PATH=os.pathsep.join([os.path.dirname(CLI), env.get("PATH", "")]))


def _v011_env(pause_dir: Path) -> dict:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_LIVE_PAUSE_DIR"}


# ------------------------------------------- 0.1.1 pauses, our CLI resumes


def test_v011_failure_pause_listed_watched_shown_and_resumed_by_id(v011_session, cli, shared):
    s = v011_session(FAILURE, "--pause-on-failure", "--pause-timeout", "600")
    run_id = s.run_id
    assert re.fullmatch(UUID_RX, run_id)
    # watch --run-id <0.1.1 run> reports it, event driven
    info = cli.watch(run_id)
    pause_id = info["pause_id"]
    assert re.fullmatch(UUID_RX, pause_id) and info["run_id"] == run_id
    assert info["state"] == "pending" and info["kind"] == "failure"
    path = shared / "runs" / run_id / "pauses" / f"{pause_id}.json"
    assert info["path"] == str(path)
    # ls: into a pipe (0.1.1's lines), on a terminal (the table), --json
    lines = cli("ls").stdout.splitlines()
    assert [ln.split("\t")[:2] for ln in lines] == [["pending", pause_id]], lines
    assert pause_id in cli.tty("ls").stdout
    assert [json.loads(ln)["pause_id"] for ln in cli("ls", "--json").stdout.splitlines()] == [pause_id]
    assert pause_id in cli.tty("ls", "-a").stdout
    # show by id and by path
    for ref in (pause_id, str(path)):
        res = cli("show", ref)
        assert res.returncode == 0, str(res)
        assert f"pause_id: {pause_id}\n" in res.stdout and "state: pending\n" in res.stdout
        assert "the answer is wrong" in res.stdout
    # watch's text names the pause and a resume command that works as printed
    res = cli("watch", "--run-id", run_id)
    assert res.returncode == 0, str(res)
    assert res.stdout.splitlines()[0] == f"pause detected: {pause_id}"
    hint = [ln[len("resume: "):] for ln in res.stdout.splitlines() if ln.startswith("resume: ")]
    assert hint == [f"pytest-live-pause resume {pause_id} --failure-reason TEXT"], res.stdout
    run = subprocess.run(["sh", "-c", hint[0]], env=_sh_env(cli.env), capture_output=True,
                         text=True, timeout=WAIT)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert f"resumed {pause_id}" in run.stdout
    rc, out = s.finish()
    assert rc == 1, out  # the failure stands
    assert "External failure reason: TEXT" in out  # 0.1.1 took our command
    final = json.loads(path.read_text())
    assert final["status"] == "resumed" and final["failure_reason"] == "TEXT"
    # ended: no longer listed, refused with "already resumed", shown as such
    assert cli("ls").stdout == ""
    assert cli("resume", pause_id, "--failure-reason", "again").returncode == 5
    assert "state: resumed\n" in cli("show", pause_id).stdout


def test_v011_checkpoint_resumed_by_path(v011_session, cli, shared):
    s = v011_session(CHECKPOINT)
    run_id = s.run_id
    info = cli.watch(run_id)
    assert info["kind"] == "checkpoint" and info["task"] == "approve the v011 step"
    path = info["path"]
    # the wrong kind's option is refused, nothing written
    res = cli("resume", path, "--failure-reason", "x")
    assert res.returncode == 2, str(res)
    assert not (shared / "runs" / run_id / "commands" / f"{info['pause_id']}.resume.json").exists()
    # by path, from elsewhere, without --pause-dir
    env = {k: v for k, v in cli.env.items() if k != "PYTEST_LIVE_PAUSE_DIR"}
    res = cli("resume", path, "--result", "true", "--reason", "looks good", env=env)
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 0, out
    m = re.search(r"DECISION (\{.*\})", out)
    assert m and json.loads(m.group(1)) == {"outcome": "resumed", "result": True,
                                             "reason": "looks good"}, out


def test_v011_pauses_in_ls_beside_ours_and_unknown_ids(v011_session, live, pytester, cli, shared):
    """A pending pause of each version; an unknown id of either shape."""
    s = v011_session(CHECKPOINT)
    theirs = cli.watch(s.run_id)
    pytester.makepyfile(test_ours=CHECKPOINT)
    ours_s = live("-s", "test_ours.py")
    ours = cli.watch(ours_s.run_id)
    listed = [ln.split("\t")[1] for ln in cli("ls").stdout.splitlines()]
    assert listed == [theirs["pause_id"], ours["pause_id"]]  # oldest first
    for ref, code in (("0" * 32, 3), (f"{ours_s.run_id}.00000000", 3), ("nosuchrun.12345678", 3)):
        res = cli("show", ref)
        assert res.returncode == code and "pytest-live-pause ls" in res.stderr, str(res)
    for sess, info in ((s, theirs), (ours_s, ours)):
        assert cli("resume", info["pause_id"], "--result", "false").returncode == 0
        assert sess.finish()[0] == 0


# ------------------------------------------- our pauses, 0.1.1's CLI resumes


@pytest.mark.parametrize("by", ["id", "path"])
def test_v011_cli_resumes_our_checkpoint(v011, live, pytester, cli, pause_dir, by):
    pytester.makepyfile(test_ours=CHECKPOINT)
    s = live("-s", "test_ours.py")
    info = cli.watch(s.run_id)
    ref = info["pause_id"] if by == "id" else info["path"]
    res = v011.run_cli("resume", ref, "--pause-dir", str(pause_dir), "--result", "true",
                       "--reason", "from 0.1.1", env=_v011_env(pause_dir))
    assert res.returncode == 0, str(res)
    assert res.stdout.strip() == f"resume command accepted for {info['pause_id']}"
    rc, out = s.finish()
    assert rc == 0, out
    m = re.search(r"DECISION (\{.*\})", out)
    assert m and json.loads(m.group(1)) == {"outcome": "resumed", "result": True,
                                             "reason": "from 0.1.1"}, out
    assert "state: resumed\n" in cli("show", info["pause_id"]).stdout


def test_v011_cli_resumes_our_failure_pause(v011, live, pytester, cli, pause_dir):
    pytester.makepyfile(test_ours=FAILURE)
    s = live("--pause-on-failure", "test_ours.py")
    info = cli.watch(s.run_id)
    res = v011.run_cli("resume", info["pause_id"], "--pause-dir", str(pause_dir),
                       "--failure-reason", "device lost Wi-Fi", env=_v011_env(pause_dir))
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1 and "device lost Wi-Fi" in out, out


# ------------------------------------------------------- ls into a pipe


def test_ls_into_a_pipe_prints_what_0_1_1_prints(v011_session, v011, live, pytester, cli, shared):
    env = _v011_env(shared)
    # empty: nothing at all, from both
    assert cli("ls").stdout == "" == v011.run_cli("ls", "--pause-dir", str(shared), env=env).stdout
    s = v011_session(CHECKPOINT)
    theirs = cli.watch(s.run_id)
    pytester.makepyfile(test_ours=CHECKPOINT)
    ours_s = live("-s", "test_ours.py")
    ours = cli.watch(ours_s.run_id)
    for args in ([], ["-a"]):
        mine = cli("ls", *args)
        ref = v011.run_cli("ls", "--pause-dir", str(shared), *args, env=env)
        assert mine.returncode == ref.returncode == 0, (str(mine), str(ref))
        assert mine.stdout == ref.stdout, f"ours:\n{mine.stdout}\n0.1.1:\n{ref.stdout}"
    lines = cli("ls").stdout.splitlines()
    assert len(lines) == 2
    for line, info, sess in zip(lines, (theirs, ours), (s, ours_s)):
        assert line.split("\t") == ["pending", info["pause_id"], info["nodeid"],
                                    f"pid={sess.proc.pid}", "worker=-", info["path"]]
    # cut -f2 gives the ids; the table stays on a terminal
    cut = subprocess.run(f"{CLI} ls | cut -f2", shell=True, env=cli.env, capture_output=True,
                         text=True, timeout=WAIT)
    assert cut.stdout.split() == [theirs["pause_id"], ours["pause_id"]]
    assert cli.tty("ls").stdout.split("\n")[0].split() == ["PAUSE_ID", "STATE", "KIND", "AGE",
                                                           "PID", "WORKER", "NODEID"]
    # ended: 0.1.1's `ls -a` lines, sorted by state then age, the same again
    assert cli("resume", theirs["pause_id"], "--result", "true").returncode == 0
    assert cli("resume", ours["pause_id"], "--result", "true").returncode == 0
    s.finish()
    ours_s.finish()
    mine = cli("ls", "-a").stdout
    assert mine == v011.run_cli("ls", "-a", "--pause-dir", str(shared), env=env).stdout
    assert [ln.split("\t")[0] for ln in mine.splitlines()] == ["resumed", "resumed"]


def test_ls_pipe_lines_escape_tabs_and_controls(live, pytester, cli):
    """A node id with a TAB and an ESC cannot add a column or drive a terminal."""
    (pytester.path / "a\tb\x1bc\x07d").mkdir()
    (pytester.path / "a\tb\x1bc\x07d" / "test_x.py").write_text(CHECKPOINT)
    s = live("-s", "a\tb\x1bc\x07d/test_x.py")
    info = cli.watch(s.run_id)
    assert "\t" in info["nodeid"] and "\x1b" in info["nodeid"]
    line = cli("ls").stdout.rstrip("\n")
    fields = line.split("\t")
    assert len(fields) == 6 and "\x1b" not in line, repr(line)
    assert fields[2] == info["nodeid"].replace("\t", "\\t").replace("\x1b", "\\x1b").replace("\x07", "\\x07")
    assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
    s.finish()


# ------------------------------------------------------ watch -a, --interval


def test_watch_all_reports_ended_pauses_of_both_versions(v011_session, live, pytester, cli):
    pytester.makepyfile(test_ours=CHECKPOINT)
    ours_s = live("-s", "test_ours.py")
    ours = cli.watch(ours_s.run_id)
    theirs_s = v011_session(CHECKPOINT)
    theirs = cli.watch(theirs_s.run_id)
    for sess, info in ((ours_s, ours), (theirs_s, theirs)):
        assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
        assert sess.finish()[0] == 0
        run_id = info["run_id"]
        # without -a: the run is over, no pending pause (exit 9)
        assert cli("watch", "--run-id", run_id).returncode == 9
        # with -a (and --all): its latest pause, whatever its state
        for flag in ("-a", "--all"):
            res = cli("watch", flag, "--run-id", run_id, "--json")
            assert res.returncode == 0, str(res)
            assert res.json()["pause_id"] == info["pause_id"] and res.json()["state"] == "resumed"
        res = cli("watch", "-a", "--run-id", run_id)
        assert res.returncode == 0 and "state: resumed\n" in res.stdout, str(res)
        assert "\nresume: " not in res.stdout, res.stdout  # no hint for an ended pause


def test_watch_interval_is_accepted_and_validated(live, pytester, cli):
    pytester.makepyfile(test_ours=CHECKPOINT)
    s = live("-s", "test_ours.py")
    info = cli.watch(s.run_id)
    res = cli("watch", "--run-id", s.run_id, "--interval", "0.01", "--json")
    assert res.returncode == 0 and res.json()["pause_id"] == info["pause_id"], str(res)
    res = cli("watch", "-a", "--interval", "5", "--run-id", s.run_id, "--json")
    assert res.returncode == 0 and res.json()["pause_id"] == info["pause_id"], str(res)
    for bad in ("0", "-1", "abc", "inf", "nan", "99999"):
        res = cli("watch", "--run-id", s.run_id, "--interval", bad)
        assert res.returncode == 2 and "--interval" in res.stderr, str(res)
        assert len(res.stderr.splitlines()) == 1
    assert "--interval" in cli("watch", "--help").stdout and "--all" in cli("watch", "--help").stdout
    assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
    s.finish()
