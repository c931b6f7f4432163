"""Black-box tests of the command file (the claim) end to end: real pytest
sessions (the `live` fixture) paused by our plugin, the real CLI, and
hand-made entries at the claim's name, as other tools, careless agents and
hostile local users make them.

- what 0.1.1 takes is taken (the seed format, its coercions, unknown
  fields ignored and recorded), and `by` decides nothing (issues 9.10, 11.1);
- a verdict too large for the paused process is refused before writing
  (10.5); a claim replaced by a tmp+rename writer is detected (10.9);
- entries that cannot be read (a UNIX socket, a directory, a device, a
  descriptor shortage) never end the wait (10.6); one that cannot be moved
  aside is reported once (10.12); faults while recording an outcome (commands/
  unwritable, the pause directory deleted, the disk full) never raise (10.10);
- Ctrl-C on a waiting `resume` says the command stands (10.17);
  `--reason-file`/`--failure-reason-file` (10.18).

Waits are on output lines, exit codes and files, each with a bound; where
no event exists (a file appearing) they poll with a bound.
"""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CLI, WAIT, command_file, pause_file, read_events, read_pause, wait_block

CHECKPOINTS = '''
import json, os
import pytest
from pytest_live_pause import checkpoint

N = int(os.environ["LP_TRIALS"])
T = float(os.environ.get("LP_T", "300"))


@pytest.mark.parametrize("i", range(N))
def test_trial(i):
    d = checkpoint(task=f"trial {i}" + os.environ.get("LP_PAD", ""), timeout=T)
    print("DECISION " + json.dumps({"i": i, "result": d.result, "reason": d.reason,
                                    "outcome": d.outcome}), flush=True)
'''

FAILURES = '''
import os
import pytest

N = int(os.environ["LP_TRIALS"])


@pytest.mark.parametrize("i", range(N))
def test_trial(i):
    assert False, f"boom {i}" + os.environ.get("LP_PAD", "")
'''


def start(live, pytester, n: int, kind: str = "checkpoint", timeout: float = 300, *args: str):
    pytester.makepyfile(test_inner=CHECKPOINTS if kind == "checkpoint" else FAILURES)
    extra = ["--pause-on-failure", "--pause-timeout", str(timeout)] if kind == "failure" else []
    return live("-s", *extra, *args, env={"LP_TRIALS": str(n), "LP_T": str(timeout)})


def decision(s, i: int, start: int = 0) -> dict:
    return json.loads(s.wait_for_line(rf"DECISION (\{{\"i\": {i}, .*\}})$", start=start).group(1))


def wait_until(pred, what: str, timeout: float = WAIT) -> None:
    """Poll pred() (files have no event to wait on here), with a bound."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def write_replacing(path: Path, text: str) -> None:
    """What 0.1.1's CLI and many tools do: a temporary file, then rename(2)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


def end_event(pause_dir: Path, run_id: str, pause_id: str) -> dict:
    ends = [e for e in read_events(pause_dir, run_id) if e.get("pause_id") == pause_id
            and e["event"] in ("pause_resumed", "pause_timed_out", "pause_aborted")]
    assert len(ends) == 1, ends
    return ends[0]


def rejected_lines(s, pause_id: str) -> list[str]:
    return [ln for ln in s.lines if ln.startswith(f"live-pause: rejected command for {pause_id}:")]


def resume_bg(cli, *args: str, stdin=None) -> subprocess.Popen:
    return subprocess.Popen([CLI, "resume", *args], env=cli.env, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ----------------------------------------- 9.10: what 0.1.1 takes is taken

#: seed-format commands (no "action") as 0.1.1 took them -> (result, reason, ignored)
SEED_CHECKPOINT = [
    ('{"result": true, "reason": "ok", "colour": "red"}', True, "ok", ["colour"]),
    ('{"result": "yes", "reason": "r"}', None, "r", ["result"]),
    ('{"result": 1, "reason": 5}', None, None, ["result", "reason"]),
    ('{"result": false, "failure_reason": "f"}', False, None, ["failure_reason"]),
    ('{"by": "abort", "result": true}', True, None, []),    # by decides nothing
    ('{"by": "timeout", "result": false}', False, None, []),
    ('{\n  "result": null,\n  "reason": "indented, as 0.1.1 writes"\n}', None,
     "indented, as 0.1.1 writes", []),
    ('{"action": "resume", "token": "t-1", "result": true, "future_field": [1]}', True, None,
     ["future_field"]),  # a newer writer's field, in the typed format too
    # a known field of the wrong type is ignored in the seed format (attachments
    # since 12.2; a typed command with bad attachments is rejected: test_blob.c)
    ('{"result": true, "attachments": [1]}', True, None, ["attachments"]),
]


def test_seed_format_commands_0_1_1_takes_are_taken_and_recorded(live, pytester, pause_dir):
    s = start(live, pytester, len(SEED_CHECKPOINT))
    run_id, after = s.run_id, 0
    for i, (text, result, reason, ignored) in enumerate(SEED_CHECKPOINT):
        block, after = wait_block(s, after)
        pid = block["pause_id"]
        write_replacing(command_file(pause_dir, pid), text)
        d = decision(s, i, after)
        where = f"{text} -> {d}"
        assert (d["outcome"], d["result"], d["reason"]) == ("resumed", result, reason), where
        p = read_pause(pause_dir, pid)
        assert (p["status"], p["resolved_action"], p["resolved_ignored"]) == (
            "resumed", "resume", ignored), where
        ev = end_event(pause_dir, run_id, pid)
        assert (ev["event"], ev["action"], ev["ignored"]) == ("pause_resumed", "resume", ignored)
        assert not rejected_lines(s, pid), where
    rc, out = s.finish()
    assert rc == 0, out


def test_seed_format_failure_commands_are_taken(live, pytester, pause_dir):
    cases = [('{"failure_reason": 42}', None, ["failure_reason"]),
             ('{"failure_reason": "x", "result": true, "reason": "r"}', "x", ["result", "reason"]),
             ('{"by": "abort", "failure_reason": "still resumed"}', "still resumed", [])]
    s = start(live, pytester, len(cases), "failure")
    run_id, after = s.run_id, 0
    for text, reason, ignored in cases:
        block, after = wait_block(s, after)
        pid = block["pause_id"]
        write_replacing(command_file(pause_dir, pid), text)
        s.wait_for_line(rf"^RESUMED \(resumed\): ", start=after)
        wait_until(lambda: read_pause(pause_dir, pid)["status"] != "pending", "the pause file")
        p = read_pause(pause_dir, pid)
        assert (p["status"], p["failure_reason"], p["resolved_ignored"]) == (
            "resumed", reason, ignored), text
        assert end_event(pause_dir, run_id, pid)["ignored"] == ignored
    rc, out = s.finish()
    assert rc == 1, out  # the tests failed, as they do


# ------------------------------------- 10.5: too large, refused before writing


def test_verdict_too_large_is_refused_before_writing(live, pytester, cli, pause_dir, tmp_path):
    big_file = tmp_path / "big.txt"
    big_file.write_text("y" * 100_000)
    s = start(live, pytester, 1)
    block, after = wait_block(s)
    pid = block["pause_id"]
    attempts = [("--result", "true", "--reason", "x" * 70_000),
                ("--reason", "\x01" * 12_000),  # 72,000 bytes once escaped
                ("--reason-file", str(big_file))]
    for args in attempts:
        res = cli("resume", pid, *args)
        assert res.returncode == 2, str(res)[:500]
        assert "nothing written" in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
        assert not command_file(pause_dir, pid).exists()
        assert read_pause(pause_dir, pid)["status"] == "pending"
    assert cli("resume", pid, "--result", "true", "--reason", "small").returncode == 0
    assert decision(s, 0, after)["reason"] == "small"
    s.finish()


def test_failure_reason_too_large_is_refused(live, pytester, cli, pause_dir):
    s = start(live, pytester, 1, "failure")
    block, _ = wait_block(s)
    pid = block["pause_id"]
    for text in ("z" * 66_000, "\"" * 40_000):  # a quote is two bytes escaped
        res = cli("resume", pid, "--failure-reason", text)
        assert res.returncode == 2 and "nothing written" in res.stderr, str(res)[:500]
        assert not command_file(pause_dir, pid).exists()
    assert cli("resume", pid, "--failure-reason", "fits").returncode == 0
    s.finish()


# ------------------------------------------------ 10.9: a replaced claim


def test_a_replaced_claim_is_detected_and_the_record_is_what_was_taken(
        live, pytester, cli, pause_dir):
    replacements = [
        ('{"result": false, "reason": "replaced by a seed writer"}', None),
        ('{"action": "resume", "token": "other-token", "result": false, '
         '"reason": "replaced by a typed writer", "by": "http"}', "other-token"),
    ]
    s = start(live, pytester, len(replacements))
    after = 0
    for i, (text, token) in enumerate(replacements):
        block, after = wait_block(s, after)
        pid = block["pause_id"]
        cmd = command_file(pause_dir, pid)
        os.kill(s.proc.pid, signal.SIGSTOP)  # the paused process cannot look
        try:
            r = resume_bg(cli, pid, "--result", "true", "--reason", "mine")
            wait_until(cmd.exists, "the resume's command file")
            write_replacing(cmd, text)
        finally:
            os.kill(s.proc.pid, signal.SIGCONT)
        out, err = r.communicate(timeout=WAIT)
        reason = json.loads(text)["reason"]
        assert r.returncode == 5, (out, err)
        assert "claim was replaced" in err, err
        d = decision(s, i, after)
        assert (d["result"], d["reason"]) == (False, reason)  # the taken one, once
        p = read_pause(pause_dir, pid)
        assert (p["status"], p["reason"], p["resolved_token"]) == ("resumed", reason, token)
    s.finish()


def test_own_claim_is_confirmed_by_token(live, pytester, cli, pause_dir):
    s = start(live, pytester, 1)
    block, after = wait_block(s)
    pid = block["pause_id"]
    assert cli("resume", pid, "--result", "true").returncode == 0
    decision(s, 0, after)
    p = read_pause(pause_dir, pid)
    claim = json.loads(command_file(pause_dir, pid).read_text())
    assert claim["action"] == "resume" and re.fullmatch(r"[0-9a-f]{32}", claim["token"])
    assert p["resolved_token"] == claim["token"] and p["resolved_by"] == "cli"
    s.finish()


# ----------------------------------- 10.6: entries that cannot be read


def _socket(path: Path):
    """A listening UNIX socket at path (bound under a short name, then
    renamed there: socket paths are limited to 108 bytes)."""
    short = Path(tempfile.mkdtemp(prefix="lp-", dir="/tmp"))
    sk = socket.socket(socket.AF_UNIX)
    sk.bind(str(short / "s"))
    os.rename(short / "s", path)
    short.rmdir()
    return sk


def _device(path: Path):
    if os.geteuid() != 0:
        pytest.skip("mknod of a device needs root")
    os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))  # a char device: /dev/null
    return None


ODD_ENTRIES = {
    "a UNIX socket": _socket,
    "a directory": lambda p: p.mkdir(),
    "a device": _device,
}


@pytest.mark.parametrize("what", list(ODD_ENTRIES))
def test_unreadable_entry_at_the_name_is_moved_aside(live, pytester, cli, pause_dir, what):
    s = start(live, pytester, 2)
    after, keep = 0, []
    for i in range(2):
        block, after = wait_block(s, after)
        pid = block["pause_id"]
        cmd = command_file(pause_dir, pid)
        keep.append(ODD_ENTRIES[what](cmd))
        line = s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pid)}: (.*)$",
                               start=after)
        assert what in line.group(1), line.group(0)
        assert not os.path.lexists(cmd)
        assert read_pause(pause_dir, pid)["status"] == "pending"
        assert cli("resume", pid, "--result", "true", "--reason", f"after {what}").returncode == 0
        assert decision(s, i, after)["reason"] == f"after {what}"
    rc, out = s.finish()
    assert rc == 0, out


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_descriptor_shortage_is_retried_not_raised(live, pytester, cli, pause_dir, kind):
    # The limit lands at any moment after the block is printed: also before
    # the wait has made its wakeup pipe (that raised OSError: the pause was
    # lost; now the wait goes on without it). The deterministic instance of
    # that moment is the test below.
    s = start(live, pytester, 1, kind)
    block, after = wait_block(s)
    pid, ppid = block["pause_id"], s.proc.pid
    old = resource.prlimit(ppid, resource.RLIMIT_NOFILE)
    pf = pause_file(pause_dir, pid)
    try:
        # 0, 1 and 2 are open: with a limit of 3, every new descriptor fails
        # (EMFILE), whatever the process has open or closes meanwhile
        resource.prlimit(ppid, resource.RLIMIT_NOFILE, (3, old[1]))
        args = ["--result", "true"] if kind == "checkpoint" else ["--failure-reason", "late"]
        res = cli("resume", pid, *args, "--take-timeout", "0")
        assert res.returncode == 0, str(res)
        written = command_file(pause_dir, pid).stat().st_mtime
        # a heartbeat after the command appeared: it has looked at least once
        wait_until(lambda: pf.stat().st_mtime > written + 0.1, "a heartbeat of the pause")
        assert read_pause(pause_dir, pid)["status"] == "pending"
        assert command_file(pause_dir, pid).exists()  # left in place, not moved aside
    finally:
        resource.prlimit(ppid, resource.RLIMIT_NOFILE, old)
    s.wait_for_line(r"^RESUMED \(resumed\): ", start=after)
    rc, out = s.finish()
    assert "LivePauseError" not in out and "INTERNALERROR" not in out, out
    assert rc == (0 if kind == "checkpoint" else 1), out


SHORT_WAIT = r"""
import json, os, resource, sys
from pytest_live_pause import _livepause as lp

run = lp.Run(lp.Store(sys.argv[1]))
pause = run.pause("checkpoint", "script.py::short", task="wait short of descriptors",
                  timeout=300)
fd = os.dup(0)  # the lowest free descriptor: from the limit on, no new one
os.close(fd)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (fd, hard))
print("WAITING", pause.pause_id, flush=True)
try:
    if sys.argv[2] == "stop":  # the QAMule mode's wait
        res = pause.wait(stop=lambda: False)
    else:
        res = pause.wait(on_rejected=print)
except BaseException as exc:
    print("RAISED", type(exc).__name__, exc, flush=True)
    sys.exit(3)
print("DECISION", json.dumps({"outcome": res["outcome"], "result": res["result"]}), flush=True)
run.end(0)
"""


@pytest.mark.parametrize("how", ["plain", "stop"])
def test_a_wait_that_begins_short_of_descriptors_waits(tmp_path, cli, pause_dir, how):
    """Every resource the wait needs after the pause is announced is
    optional: begun with no descriptor to spare, it waits (signals are
    then seen at the next 50 ms slice), keeps looking, and takes the
    command once descriptors are back."""
    script = tmp_path / "short_wait.py"
    script.write_text(SHORT_WAIT)
    proc = subprocess.Popen([sys.executable, str(script), str(pause_dir), how],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == ["WAITING"], first
        pid = first[1]
        pf = pause_file(pause_dir, pid)
        res = cli("resume", pid, "--result", "true", "--take-timeout", "0")
        assert res.returncode == 0, str(res)
        written = command_file(pause_dir, pid).stat().st_mtime
        wait_until(lambda: proc.poll() is not None or pf.stat().st_mtime > written + 0.1,
                   "a heartbeat of the pause")
        assert proc.poll() is None, proc.stdout.read()
        assert read_pause(pause_dir, pid)["status"] == "pending"
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
        out, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert 'DECISION {"outcome": "resumed", "result": true}' in out, out
    assert read_pause(pause_dir, pid)["status"] == "resumed"


# ----------------- 10.12 and 10.10: unmovable entries, commands/ unwritable


def _freeze(d: Path) -> None:
    """Make a directory unwritable, for root too (chattr +i) or by mode."""
    if os.geteuid() == 0:
        p = subprocess.run(["chattr", "+i", str(d)], capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip(f"cannot make {d} immutable here: {p.stderr.strip()}")
    else:
        d.chmod(0o500)


def _thaw(d: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(d)], capture_output=True)
    else:
        d.chmod(0o700)


@pytest.mark.parametrize("what", ["a UNIX socket", "a directory"])
def test_unmovable_bad_entry_is_reported_once_and_the_deadline_still_ends_it(
        live, pytester, pause_dir, what):
    s = start(live, pytester, 1, "checkpoint", 3)
    block, after = wait_block(s)
    pid = block["pause_id"]
    cmd = command_file(pause_dir, pid)
    os.kill(s.proc.pid, signal.SIGSTOP)  # so that it cannot be moved before the freeze
    try:
        keep = ODD_ENTRIES[what](cmd)
        _freeze(cmd.parent)
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    try:
        d = decision(s, 0, after)  # the deadline, about 60 looks later
    finally:
        _thaw(cmd.parent)
    del keep
    assert d["outcome"] == "timed_out", d
    assert len(rejected_lines(s, pid)) == 1, s.output
    ev = [e for e in read_events(pause_dir, s.run_id) if e["event"] == "command_rejected"]
    assert len(ev) == 1 and ev[0]["moved_to"] is None and "reported once" in ev[0]["error"], ev
    assert read_pause(pause_dir, pid)["status"] == "timed_out"
    assert re.search(r"live-pause: warning: .*without a claim file", s.output), s.output
    rc, out = s.finish()
    assert rc == 0, out


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_commands_dir_unwritable_at_the_deadline_times_out(live, pytester, pause_dir, kind):
    s = start(live, pytester, 1, kind, 2)
    block, after = wait_block(s)
    pid = block["pause_id"]
    commands = command_file(pause_dir, pid).parent
    _freeze(commands)
    try:
        s.wait_for_line(r"^RESUMED \(timed_out\): ", start=after)
        s.wait_for_line(r"live-pause: warning: .*without a claim file", start=after)
    finally:
        _thaw(commands)
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["resolved_action"]) == ("timed_out", "timeout")
    assert "without a claim file" in end_event(pause_dir, s.run_id, pid)["warning"]
    rc, out = s.finish()
    assert "INTERNALERROR" not in out and "LivePauseError" not in out, out
    assert rc == (0 if kind == "checkpoint" else 1), out


@pytest.mark.parametrize("gone", ["the pause directory", "the run's commands/"])
def test_directory_deleted_while_paused_times_out(live, pytester, pause_dir, gone):
    s = start(live, pytester, 1, "checkpoint", 2)
    block, after = wait_block(s)
    pid = block["pause_id"]
    victim = pause_dir if gone == "the pause directory" else command_file(pause_dir, pid).parent
    subprocess.run(["rm", "-rf", str(victim)], check=True)
    d = decision(s, 0, after)
    assert d["outcome"] == "timed_out", d
    assert re.search(r"live-pause: warning: .*without a claim file", s.output), s.output
    rc, out = s.finish()
    assert "INTERNALERROR" not in out and "LivePauseError" not in out, out
    if gone != "the pause directory":
        assert read_pause(pause_dir, pid)["status"] == "timed_out"


@pytest.fixture
def small_fs(tmp_path):
    """A 512 KiB tmpfs; skipped where mounting is not permitted."""
    mnt = tmp_path / "small"
    mnt.mkdir(mode=0o700)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode})")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(d: Path) -> None:
    """Fill the filesystem of d to the last block."""
    fd = os.open(d / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_disk_full_between_claim_and_take_the_test_gets_the_verdict(live, pytester, small_fs,
                                                                     kind):
    pause_dir = small_fs / "pauses"
    pytester.makepyfile(test_inner=CHECKPOINTS if kind == "checkpoint" else FAILURES)
    args = ["--pause-on-failure", "--pause-timeout", "300"] if kind == "failure" else []
    # a pause file of two pages: the final file's temporary, made while the
    # pause waits, holds one (its one byte reserves it), so writing the
    # final file still needs a page the full disk does not have, and the
    # pending file's own two pages take it in place
    s = live("-s", *args, env={"LP_TRIALS": "1", "LP_T": "300", "LP_PAD": " pad" * 1250,
                               "PYTEST_LIVE_PAUSE_DIR": str(pause_dir)})
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))
    block, after = wait_block(s)
    pid = block["pause_id"]
    verdict = (["--result", "true", "--reason", "full"] if kind == "checkpoint"
               else ["--failure-reason", "full"])
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        r = subprocess.run([CLI, "resume", pid, *verdict, "--take-timeout", "0"], env=env,
                           capture_output=True, text=True, timeout=WAIT)
        assert r.returncode == 0, r.stderr
        _fill(small_fs)
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    s.wait_for_line(r"^RESUMED \(resumed\): ", start=after)
    s.wait_for_line(r"live-pause: warning: .*rewritten in place", start=after)
    p = read_pause(pause_dir, pid)  # recorded all the same (rewritten in place)
    assert p["status"] == "resumed", p
    assert p["reason" if kind == "checkpoint" else "failure_reason"] == "full", p
    rc, out = s.finish()
    (small_fs / "filler").unlink()
    assert "INTERNALERROR" not in out and "LivePauseError" not in out, out
    if kind == "checkpoint":
        assert decision(s, 0)["reason"] == "full"
    else:
        assert rc == 1 and "full" in out, out


# --------------------------------------- 10.17: Ctrl-C on a waiting resume


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_resume_says_the_command_stands(live, pytester, cli, pause_dir, sig):
    s = start(live, pytester, 1)
    block, after = wait_block(s)
    pid = block["pause_id"]
    cmd = command_file(pause_dir, pid)
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        r = resume_bg(cli, pid, "--result", "false", "--reason", "stands",
                      "--take-timeout", "120")
        wait_until(cmd.exists, "the resume's command file")
        r.send_signal(sig)
        out, err = r.communicate(timeout=WAIT)
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    assert r.returncode == 8, (r.returncode, out, err)
    assert "the command stands" in err and len(err.splitlines()) == 1, err
    d = decision(s, 0, after)
    assert (d["outcome"], d["result"], d["reason"]) == ("resumed", False, "stands")
    s.finish()


# ------------------------------ 10.18: --reason-file, --failure-reason-file


def test_reason_files_and_standard_input(live, pytester, cli, pause_dir, tmp_path):
    f = tmp_path / "why.txt"
    f.write_text("from a file\nsecond line\n")
    s = start(live, pytester, 2)
    block, after = wait_block(s)
    assert cli("resume", block["pause_id"], "--result", "true", "--reason-file",
               str(f)).returncode == 0
    assert decision(s, 0, after)["reason"] == "from a file\nsecond line"
    block, after = wait_block(s, after)
    p = subprocess.run([CLI, "resume", block["pause_id"], "--result", "false", "--reason-file",
                        "-"], input="from stdin\n", env=cli.env, capture_output=True, text=True,
                       timeout=WAIT)
    assert p.returncode == 0, p.stderr
    assert decision(s, 1, after)["reason"] == "from stdin"
    s.finish()


def test_failure_reason_file(live, pytester, cli, pause_dir, tmp_path):
    f = tmp_path / "why.txt"
    f.write_text("secret reason")
    s = start(live, pytester, 1, "failure")
    block, after = wait_block(s)
    pid = block["pause_id"]
    assert cli("resume", pid, "--failure-reason-file", str(f)).returncode == 0
    s.wait_for_line(r"^RESUMED \(resumed\): ", start=after)
    rc, out = s.finish()
    assert rc == 1 and "secret reason" in out, out


def test_reason_file_errors_are_usage_errors(live, pytester, cli, pause_dir, tmp_path):
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a\0b")
    ok = tmp_path / "ok.txt"
    ok.write_text("ok")
    s = start(live, pytester, 1)
    block, after = wait_block(s)
    pid = block["pause_id"]
    bad = [("--reason", "x", "--reason-file", str(ok)),
           ("--reason-file", str(ok), "--reason", "x"),
           ("--failure-reason", "x", "--failure-reason-file", str(ok)),
           ("--reason-file", str(tmp_path / "missing.txt")),
           ("--reason-file", str(nul)),
           ("--reason-file", str(tmp_path))]  # a directory
    for args in bad:
        res = cli("resume", pid, "--result", "true", *args)
        assert res.returncode == 2, str(res)
        assert len(res.stderr.splitlines()) == 1, res.stderr
        assert not command_file(pause_dir, pid).exists(), args
    assert cli("resume", pid, "--result", "true").returncode == 0
    s.finish()


def test_reason_file_options_are_documented(cli):
    res = cli("resume", "--help")
    assert res.returncode == 0
    for opt in ("--reason-file FILE", "--failure-reason-file FILE", "standard", "stands"):
        assert opt in res.stdout, opt
