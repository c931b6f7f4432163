"""Trust (issue 10, points 2 and 8), black-box: real pytest sessions and
the real CLI against directories another user planted.

- QAMule mode's result directory gets the pause directory's rules: made
  0700, refused at start (exit 4, one line naming the fix) when it is a
  symlink, another user's, writable by group or others, or open to them
  inside a world-writable directory such as /tmp; each result file is
  consumed as it is read, so an older result cannot be read again.
- Inside the pause directory every directory and file opened is checked:
  a planted runs/, pending/, run directory, commands/, a symlinked pauses/,
  a pause file writable by others. Whole-store parts are refused (exit 11,
  pytest exit 4); a planted run or pause file is skipped by `ls` (with a
  warning naming it and the fix on stderr) and refused by `show`,
  `resume` and `watch` (exit 11), and the fix the message names works.

Run liveness (point 13): a run on another host (shared filesystem) is
judged by the heartbeat its runtime keeps (run.json's mtime), so `watch
--run-id` ends (exit 9) once that pytest is gone, and not while it lives.

Another user is needed for "another user's": as root, the session creates
one (useradd) and its entries are handed to it with chown(2); without
root those cases skip with a message. "Planted while the directory was
open" is reproduced by making the entry as the planter would have left it.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import WAIT, Cli, LivePytest, pause_file, read_pause

EXIT_UNSAFE = 11
OTHER = "lp-trust-other"

CHECKPOINT = '''
def test_step(live_pause):
    d = live_pause.checkpoint(task="look at the screen", timeout=300)
    print("DECISION", d.outcome, d.result)
'''

TWO_QAMULE_CHECKPOINTS = '''
import dataclasses, json

def test_two(agent_checkpoint):
    for task in ("first", "second"):
        d = agent_checkpoint(task)
        print("DECISION " + json.dumps(dataclasses.asdict(d), sort_keys=True), flush=True)
'''


@pytest.fixture(scope="session")
def other_user() -> pwd.struct_passwd:
    """A second local user (created here as root; skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a second user (useradd) to own planted directories")
    created = False
    try:
        pw = pwd.getpwnam(OTHER)
    except KeyError:
        p = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", OTHER], capture_output=True, text=True)
        if p.returncode not in (0, 9):  # 9: made meanwhile by another xdist worker
            pytest.skip(f"useradd {OTHER} failed: {p.stderr.strip()}")
        created = p.returncode == 0
        pw = pwd.getpwnam(OTHER)
    yield pw
    if created:
        subprocess.run(["userdel", OTHER], capture_output=True)


def give(path: Path, pw: pwd.struct_passwd) -> None:
    """Hand path (and what it holds) to the other user, as if made by it."""
    for p in [path, *(path.rglob("*") if path.is_dir() and not path.is_symlink() else [])]:
        os.lchown(p, pw.pw_uid, pw.pw_gid)


def snapshot(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_size,
                                         p.read_bytes() if p.is_file() and not p.is_symlink()
                                         else None)
    return out


def one_error(res, cmd: str) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, str(res)
    prefix = f"pytest-live-pause {cmd}: error: "
    assert lines[0].startswith(prefix), str(res)
    return lines[0][len(prefix):]


def run_fix(message: str, verb: str) -> None:
    """Run the fix a message names (`rm -rf PATH`, `chmod go-w PATH`...)."""
    m = re.search(rf"({verb} (?:'[^']*'|[^\s';)]+))", message)
    assert m, f"no '{verb} ...' in: {message}"
    p = subprocess.run(shlex.split(m.group(1)), capture_output=True, text=True)
    assert p.returncode == 0, (m.group(1), p.stderr)


def run_pytest_once(pytester: pytest.Pytester, *args: str, env: dict | None = None):
    e = dict(os.environ)
    for var in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        e.pop(var, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=pytester.path, env=e, capture_output=True, text=True,
                          timeout=WAIT)


# ------------------------------------------------- QAMule result directory

RESULT_DIR_HAZARDS = ["other-owner", "default-other-owner", "symlink", "mode-0777",
                      "mode-0733", "open-in-shared-tmp"]


def _hostile_result_dir(tmp_path: Path, hazard: str, other) -> tuple[Path, str, dict]:
    """A result directory as another user (or a careless one) left it; the
    fix its refusal must name; the environment pytest runs with."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # a /tmp of its own
    d = shared / "qamule-pauses"
    env = {}
    if hazard in ("other-owner", "default-other-owner"):
        d.mkdir(mode=0o777)
        d.chmod(0o777)
        give(d, other)
        fix = "--pause-result-dir DIR"
        if hazard == "default-other-owner":
            env["TMPDIR"] = str(shared)  # the default: <system temp>/qamule-pauses
    elif hazard == "symlink":
        real = tmp_path / "mine"
        real.mkdir(mode=0o700)
        d.symlink_to(real)
        fix = "is a symlink"
    elif hazard == "open-in-shared-tmp":
        d.mkdir()
        d.chmod(0o755)
        fix = f"chmod 700 {d}"
    else:
        d.mkdir()
        d.chmod(int(hazard.split("-")[1], 8))
        fix = f"chmod 700 {d}"
    return d, fix, env


@pytest.mark.parametrize("hazard", RESULT_DIR_HAZARDS)
def test_hostile_result_dir_refused_at_start(pytester, tmp_path, hazard, request):
    other = request.getfixturevalue("other_user") if "other-owner" in hazard else None
    d, fix, env = _hostile_result_dir(tmp_path, hazard, other)
    pytester.makepyfile(test_never="def test_never():\n    raise AssertionError('ran')\n")
    look = d.resolve()
    before = snapshot(look)
    args = ["--pause-compat=qamule", f"--pause-dir={tmp_path / 'pause-dir'}", "test_never.py"]
    if hazard != "default-other-owner":
        args.append(f"--pause-result-dir={d}")
    p = run_pytest_once(pytester, *args, env=env)
    where = f"{hazard}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, where
    errors = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
    assert len(errors) == 1, where
    assert errors[0].startswith(f"ERROR: pytest-live-pause: the QAMule result directory {d} ")
    assert fix in errors[0] and "Traceback" not in where and "ran" not in where, where
    assert snapshot(look) == before, where
    if fix.startswith("chmod"):  # the fix named works
        run_fix(errors[0], "chmod 700")
        p = run_pytest_once(pytester, *args, env=env)
        assert "AssertionError: ran" in p.stdout, p.stdout + p.stderr


def test_result_dir_made_private_and_results_consumed(pytester, live, tmp_path):
    """A new result directory is 0700. Each result is consumed as it is read:
    after the first checkpoint's approval, nothing is left to stand in for
    the second checkpoint's answer (no file: missing_result, not the old
    approval)."""
    results = tmp_path / "shared" / "qamule-pauses"
    results.parent.mkdir()
    results.parent.chmod(0o1777)
    pytester.makepyfile(test_two=TWO_QAMULE_CHECKPOINTS)
    session = live("--pause-compat=qamule", f"--pause-result-dir={results}", "-s")
    first = json.loads(session.wait_for_line(r"^QAMULE_PAUSE_EVENT (.*)$").group(1))
    assert results.stat().st_mode & 0o777 == 0o700
    Path(first["result_path"]).write_text('{"result": true, "reason": "approve"}')
    os.kill(first["pid"], signal.SIGUSR1)
    session.wait_for_line(r"DECISION .*\"outcome\": \"signal\"")
    assert list(results.iterdir()) == [], "the first result was not consumed"
    second = json.loads(session.wait_for_line(
        rf"^QAMULE_PAUSE_EVENT (?!.*{first['request_id']})(.*)$").group(1))
    os.kill(second["pid"], signal.SIGUSR1)  # no file written this time
    rc, out = session.finish()
    decisions = [json.loads(ln.split("DECISION ", 1)[1]) for ln in out.splitlines()
                 if "DECISION " in ln]
    assert [(d["outcome"], d["result"]) for d in decisions] == [
        ("signal", True), ("missing_result", None)], out
    assert list(results.iterdir()) == []


# ----------------------------------------------- entries of the pause dir


def _forge_run(pause_dir: Path, real_pause: dict, fake_run: str) -> str:
    """A run directory and pause planted beside a real run: copies of the
    real files with another run id, the real pytest's (live) pid, and an
    entry in pending/; returns the forged pause id."""
    real_run = pause_dir / "runs" / real_pause["run_id"]
    fake = pause_dir / "runs" / fake_run
    (fake / "pauses").mkdir(parents=True)
    (fake / "commands").mkdir()
    run = json.loads((real_run / "run.json").read_text())
    run["run_id"] = fake_run
    (fake / "run.json").write_text(json.dumps(run))
    forged = dict(real_pause, run_id=fake_run, pause_id=f"{fake_run}.0badf00d",
                  task="forged: approve the payment")
    (fake / "pauses" / f"{forged['pause_id']}.json").write_text(json.dumps(forged))
    (pause_dir / "pending" / forged["pause_id"]).write_text("")
    for p in [fake, *fake.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    return forged["pause_id"]


@pytest.fixture
def paused(pytester, live, cli) -> tuple[LivePytest, dict]:
    """A real pytest session paused at a checkpoint, and its pause file."""
    pytester.makepyfile(test_step=CHECKPOINT)
    session = live("-s", "test_step.py")
    info = cli.watch(session.run_id)
    return session, info


def _assert_readers_refuse(cli: Cli, pause_dir: Path, real_id: str, forged_id: str,
                           planted: Path, fix_verb: str) -> None:
    """ls / ls -a / ls -a --json skip the forged pause (one warning naming
    the planted path and the fix); show, resume and watch refuse it."""
    for argv in (["ls"], ["ls", "-a"], ["ls", "-a", "--json"]):
        res = cli(*argv)
        assert res.returncode == 0, str(res)
        assert forged_id not in res.stdout and real_id in res.stdout, str(res)
        warns = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(warns) == 1 and warns[0].startswith("pytest-live-pause: warning: "), str(res)
        assert str(planted) in warns[0] and fix_verb in warns[0], str(res)
    before = snapshot(pause_dir)
    fake_run = forged_id.split(".")[0]
    for argv in (["show", forged_id], ["resume", forged_id, "--result", "true"],
                 ["watch", "--run-id", fake_run, "--timeout", "5"]):
        res = cli(*argv)
        assert res.returncode == EXIT_UNSAFE, str(res)
        msg = one_error(res, argv[0])
        assert str(planted) in msg and fix_verb in msg, msg
    assert snapshot(pause_dir) == before  # resume wrote nothing into the planted run


@pytest.mark.parametrize("owner", ["other-user", "mine-world-writable"])
def test_planted_run_directory_is_not_shown_or_resumed(paused, cli, pause_dir, owner, request):
    session, info = paused
    forged_id = _forge_run(pause_dir, read_pause(pause_dir, info["pause_id"]), "f0f0f0f0f0f0")
    planted = pause_dir / "runs" / "f0f0f0f0f0f0"
    if owner == "other-user":
        other = request.getfixturevalue("other_user")
        give(planted, other)
        give(pause_dir / "pending" / forged_id, other)
        verb = "rm -rf"
    else:
        verb = "chmod go-w"
    _assert_readers_refuse(cli, pause_dir, info["pause_id"], forged_id, planted, verb)
    # the fix named works: after it, no warning, and the real pause resumes
    res = cli("show", forged_id)
    run_fix(one_error(res, "show"), "rm -rf")
    res = cli("ls")
    assert res.returncode == 0 and res.stderr == "" and info["pause_id"] in res.stdout, str(res)
    assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
    rc, out = session.finish()
    assert "DECISION resumed True" in out, out


def test_symlinked_pauses_dir_is_not_shown(paused, cli, pause_dir, tmp_path):
    session, info = paused
    forged_id = _forge_run(pause_dir, read_pause(pause_dir, info["pause_id"]), "a1a1a1a1a1a1")
    run = pause_dir / "runs" / "a1a1a1a1a1a1"
    for p in [run, *run.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(run / "pauses"), str(elsewhere))
    (run / "pauses").symlink_to(elsewhere)
    for argv in (["ls"], ["ls", "-a", "--json"]):
        res = cli(*argv)
        assert res.returncode == 0 and forged_id not in res.stdout, str(res)
    for argv in (["show", forged_id], ["resume", forged_id, "--result", "true"]):
        res = cli(*argv)
        assert res.returncode == EXIT_UNSAFE, str(res)
        assert "symlink" in one_error(res, argv[0])
    assert list((elsewhere).glob("*.resume.json")) == []
    assert list((run / "commands").iterdir()) == []
    session.kill()


def test_pause_file_writable_by_others_is_refused_until_fixed(paused, cli, pause_dir):
    session, info = paused
    pf = pause_file(pause_dir, info["pause_id"])
    pf.chmod(0o666)
    res = cli("ls")
    assert res.returncode == 0 and info["pause_id"] not in res.stdout, str(res)
    assert str(pf) in res.stderr and "chmod go-w" in res.stderr, str(res)
    res = cli("resume", info["pause_id"], "--result", "true")
    assert res.returncode == EXIT_UNSAFE, str(res)
    msg = one_error(res, "resume")
    assert not (pause_dir / "runs" / info["run_id"] / "commands").joinpath(
        f"{info['pause_id']}.resume.json").exists()
    run_fix(msg, "chmod go-w")
    res = cli("resume", info["pause_id"], "--result", "true")
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert "DECISION resumed True" in out, out


def test_planted_commands_dir_is_refused(paused, cli, pause_dir, other_user):
    session, info = paused
    run = pause_dir / "runs" / info["run_id"]
    (run / "commands").rename(run / "commands.real")
    (run / "commands").mkdir()
    (run / "commands").chmod(0o777)
    give(run / "commands", other_user)
    res = cli("resume", info["pause_id"], "--result", "true")
    assert res.returncode == EXIT_UNSAFE, str(res)
    msg = one_error(res, "resume")
    assert str(run / "commands") in msg and "belongs to uid" in msg, msg
    assert list((run / "commands").iterdir()) == []
    assert read_pause(pause_dir, info["pause_id"])["status"] == "pending"
    (run / "commands").rmdir()
    (run / "commands.real").rename(run / "commands")
    assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
    rc, out = session.finish()
    assert "DECISION resumed True" in out, out


@pytest.mark.parametrize("part", ["runs", "pending"])
@pytest.mark.parametrize("owner", ["other-user", "mine-world-writable"])
def test_planted_store_parts_refuse_the_whole_store(pytester, cli, pause_dir, part, owner,
                                                    request):
    """runs/ or pending/ planted while the top directory was open: nothing
    under it can be trusted, so every command and pytest itself refuse,
    naming that path; its fix (chmod go-w, or rm -rf) then works."""
    pause_dir.mkdir(mode=0o700)
    if part == "pending":
        (pause_dir / "runs").mkdir(mode=0o700)
    planted = pause_dir / part
    planted.mkdir()
    planted.chmod(0o777)
    verb = "chmod go-w"
    if owner == "other-user":
        give(planted, request.getfixturevalue("other_user"))
        verb = "rm -rf"
    for argv in (["ls"], ["ls", "-a"], ["show", "r.00000000"], ["watch", "--run-id", "r"],
                 ["resume", "r.00000000", "--result", "true"]):
        res = cli(*argv)
        assert res.returncode == EXIT_UNSAFE, str(res)
        msg = one_error(res, argv[0])
        assert str(planted) in msg and verb in msg, msg
    pytester.makepyfile(test_never="def test_never():\n    raise AssertionError('ran')\n")
    p = run_pytest_once(pytester, f"--pause-dir={pause_dir}", "test_never.py")
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout + p.stderr
    assert str(planted) in p.stderr and "ran" not in p.stdout, p.stdout + p.stderr
    run_fix(msg, verb)  # the fix named works: pytest then runs
    p = run_pytest_once(pytester, f"--pause-dir={pause_dir}", "test_never.py")
    assert "AssertionError: ran" in p.stdout, p.stdout + p.stderr


# ------------------------------------------------ run liveness (point 13)

OTHER_HOST = "build-7.other.example"


def _foreign_run(pytester, run_pytest, pause_dir: Path, interval: float) -> tuple[str, Path]:
    """A copy of a real run's directory as a pytest on another host (shared
    filesystem) leaves it while running: its hostname and boot id are the
    other machine's, its status active, its heartbeat every `interval` s."""
    pytester.makepyfile(test_quick="def test_quick():\n    pass\n")
    res = run_pytest("test_quick.py")
    assert res.ret == 0, res.stdout.str()
    real = next((pause_dir / "runs").iterdir())
    fake_id = "f00dfacef00d"
    fake = pause_dir / "runs" / fake_id
    shutil.copytree(real, fake)
    doc = json.loads((fake / "run.json").read_text())
    doc.update(run_id=fake_id, hostname=OTHER_HOST, boot_id="0a1b2c3d-0000-4000-8000-000000000000",
               pid=4242, status="active", ended_at=None, exitstatus=None,
               heartbeat_interval=interval)
    (fake / "run.json").write_text(json.dumps(doc))
    return fake_id, fake / "run.json"


def test_foreign_run_watch_ends_when_its_heartbeat_stops(pytester, run_pytest, pause_dir, cli):
    fake_id, run_json = _foreign_run(pytester, run_pytest, pause_dir, interval=2.0)
    # stopped: the mtime is a minute old (4 beats of 2 s missed long ago)
    os.utime(run_json, (run_json.stat().st_atime, run_json.stat().st_mtime - 60))
    res = cli("watch", "--run-id", fake_id)
    assert res.returncode == 9, str(res)
    out = res.stdout + res.stderr
    assert "run is no longer active" in out and "heartbeat" in out, str(res)
    # refreshed: a beat every 0.2 s (the runtime's thread beats every 2 s)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.2):
            os.utime(run_json)

    os.utime(run_json)
    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        res = cli("watch", "--run-id", fake_id, "--timeout", "3")
        assert res.returncode == 10, str(res)  # timed out: the run is still active
    finally:
        stop.set()
        t.join(WAIT)
    res = cli("watch", "--run-id", fake_id)  # the heartbeat stops: watch ends
    assert res.returncode == 9, str(res)


def test_killed_pytest_seen_from_another_host_ends_watch(pytester, live, cli, pause_dir):
    """A real pytest with one long test and no pause, watched from "another
    host" (the CLI in a UTS namespace of its own, with another hostname):
    its heartbeat keeps it active past 4 beats; after kill -9, `watch`
    ends with "run is no longer active" instead of waiting forever."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to run the CLI under another hostname")
    hold = pytester.path / "hold.fifo"
    os.mkfifo(hold)
    pytester.makepyfile(test_long=f"def test_long():\n    open({str(hold)!r}).read()\n")
    session = live("test_long.py")
    run_id = session.run_id
    cli_path = shutil.which("pytest-live-pause", path=str(Path(sys.executable).parent)) \
        or "pytest-live-pause"

    def watch_from_afar(*args: str, timeout: float) -> subprocess.CompletedProcess:
        script = f"hostname {OTHER_HOST} && exec {shlex.quote(cli_path)} " + " ".join(
            shlex.quote(a) for a in ["watch", "--run-id", run_id, *args])
        return subprocess.run(["unshare", "--uts", "sh", "-c", script], capture_output=True,
                              text=True, timeout=timeout, env=cli.env)

    wait_s = 4 * 2.0 + 4  # past 4 missed beats of the runtime's 2 s interval
    res = watch_from_afar("--timeout", str(wait_s), timeout=wait_s + WAIT)
    assert res.returncode == 10, (res.returncode, res.stdout, res.stderr)  # still active
    session.kill()
    res = watch_from_afar(timeout=WAIT)
    assert res.returncode == 9, (res.returncode, res.stdout, res.stderr)
    out = res.stdout + res.stderr
    assert "run is no longer active" in out and "heartbeat" in out, out
    assert f"on {OTHER_HOST}" not in out, out  # the run's own host is named
