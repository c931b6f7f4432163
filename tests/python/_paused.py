"""Helpers shared by test_cli.py and test_reliability.py (black-box tests).

Everything here drives real processes: pytest sessions started through the
`live` fixture of conftest.py, and the real `pytest-live-pause` binary. The
helpers only read the pause directory (snapshots, pause files, events) or
plant files in it the way a foreign tool or an attacker would.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import pytest

import conftest
from conftest import WAIT, Cli, CliResult, LivePytest

#: the binary the `cli` fixture runs (conftest finds it on PATH or beside
#: this interpreter)
CLI_BIN: str | None = conftest.CLI

#: exit codes, as documented in README.md and `pytest-live-pause --help`
EXIT = dict(ok=0, error=1, usage=2, notfound=3, stale=4, resumed=5, timedout=6,
            aborted=7, nottaken=8, runended=9, watch_timeout=10, unsafe=11,
            noeval=20, noaction=21, raised=22, request_timeout=23, interrupted=130)

PAUSE_ID_RX = r"[A-Za-z0-9_-]+\.[0-9a-f]{8}"


# ------------------------------------------------------------ inner tests

#: Inner test files written into the pytester directory. The checkpoint's
#: task and timeout come from the environment so one file serves many
#: tests; every decision is printed on one line (sessions run with -s).
CHECKPOINT_AND_FAILURE = '''
import json, os
from pytest_live_pause import checkpoint

def test_checkpoint():
    d = checkpoint(task=os.environ.get("LP_TASK", "Approve the external step"),
                   timeout=float(os.environ.get("LP_CP_TIMEOUT", "inf")))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, outcome=d.outcome,
                                        result=d.result, reason=d.reason)), flush=True)

def test_failure():
    assert 6 * 7 == 43, os.environ.get("LP_FAILURE_TEXT", "the answer is wrong")
'''

#: K parametrized checkpoints: K trials served by one session.
TRIALS = '''
import json, os
import pytest
from pytest_live_pause import checkpoint

K = int(os.environ["LP_TRIALS"])
T = float(os.environ.get("LP_CP_TIMEOUT", "inf"))

@pytest.mark.parametrize("i", range(K))
def test_trial(i):
    d = checkpoint(task=f"trial {i}", timeout=T)
    print("DECISION " + json.dumps(dict(i=i, pause_id=d.pause_id, outcome=d.outcome,
                                        result=d.result, reason=d.reason)), flush=True)
'''

#: A test that blocks until the outer test writes a line into the FIFO
#: named by $LP_GATE, then (optionally) pauses at a checkpoint. It lets a
#: test act while a session is running but has no pause yet.
GATED = '''
import json, os
from pytest_live_pause import checkpoint

def test_gated():
    with open(os.environ["LP_GATE"]) as gate:
        what = gate.readline().strip()
    if what == "pause":
        d = checkpoint(task="after the gate", timeout=float("inf"))
        print("DECISION " + json.dumps(dict(pause_id=d.pause_id, outcome=d.outcome,
                                            result=d.result, reason=d.reason)), flush=True)
'''

#: Inner conftest for sessions that receive SIGINT: a session started in
#: the background by a non-interactive shell inherits SIGINT ignored; a
#: person's terminal has Python's default handler. Restore it.
SIGINT_CONFTEST = '''
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
'''


def decisions(output: str) -> list[dict]:
    """Every DECISION line printed by the inner tests, parsed."""
    return [json.loads(m.group(1)) for m in re.finditer(r"DECISION (\{.*\})", output)]


def wait_decision(session: LivePytest, pause_id: str, timeout: float = WAIT) -> dict:
    """The decision the inner test printed for pause_id."""
    m = session.wait_for_line(r'DECISION (\{.*"pause_id": "%s".*\})' % re.escape(pause_id),
                              timeout=timeout)
    return json.loads(m.group(1))


def wait_paused(session: LivePytest, cli: Cli, kind: str | None = None) -> dict:
    """Wait for the session's next pause, event-driven (`watch --json`),
    then for the end of the banner pytest prints, so that the paused
    process is waiting when this returns. Returns the pause as watch
    printed it."""
    info = cli.watch(session.run_id)
    if kind is not None:
        assert info["kind"] == kind, info
    line = f"pause_id: {info['pause_id']}"
    session.wait_for_line("^" + re.escape(line) + "$")
    # the banner ends with the timeout line and a rule of '='
    session.wait_for_line(r"^={60}$", start=session.lines.index(line))
    return info


# ------------------------------------------------------------ pause dir


def events(pause_dir: Path, run_id: str) -> list[dict]:
    path = pause_dir / "runs" / run_id / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def pause_events(pause_dir: Path, pause_id: str, name: str | None = None) -> list[dict]:
    run_id = pause_id.split(".", 1)[0]
    return [e for e in events(pause_dir, run_id)
            if e.get("pause_id") == pause_id and (name is None or e["event"] == name)]


END_EVENTS = ("pause_resumed", "pause_timed_out", "pause_aborted")


def end_events(pause_dir: Path, pause_id: str) -> list[dict]:
    return [e for e in pause_events(pause_dir, pause_id) if e["event"] in END_EVENTS]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root (dotfiles included) with its type and content
    (files: sha256; symlinks: target). Mtimes are left out: a paused
    process refreshes its pause file's mtime as a heartbeat."""
    out: dict[str, tuple] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode))
    return out


def diff(before: dict, after: dict) -> str:
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"  {k}: {before.get(k)} -> {after.get(k)}")
    return "\n".join(lines)


def one_line_error(res: CliResult, command: str | None) -> str:
    """The single stderr line of a failed command, checked for its form
    'pytest-live-pause <command>: error: <message>'."""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, f"expected one error line:\n{res}"
    prefix = f"pytest-live-pause{' ' + command if command else ''}: error: "
    assert lines[0].startswith(prefix), str(res)
    return lines[0][len(prefix):]


# ------------------------------------------------------------ processes


def cli_env(pause_dir: Path) -> dict:
    return dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))


def spawn_together(argvs: list[list[str]], env: dict) -> list[subprocess.Popen]:
    """Start one process per argv, all held at a gate (a `read` on a shared
    pipe) and released at the same instant by closing the pipe's write
    end. Each one `exec`s its command, so Popen.pid is the command's pid."""
    r, w = os.pipe()
    procs = []
    try:
        for argv in argvs:
            procs.append(subprocess.Popen(
                ["sh", "-c", 'read _gate; exec "$0" "$@"', *argv],
                stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    finally:
        os.close(r)
        os.close(w)  # EOF for every reader: all start now
    return procs


def communicate_all(procs: Iterable[subprocess.Popen], timeout: float = WAIT) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            so, se = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
            pytest.fail(f"{p.args} did not finish within {timeout}s")
        out.append((p.returncode, so, se))
    return out


def poll_until(cond: Callable[[], object], what: str, timeout: float = WAIT,
               interval: float = 0.01) -> object:
    """Wait for a condition that no event announces (e.g. a signal handler
    being installed, visible only in /proc); bounded, fails with `what`."""
    deadline = time.monotonic() + timeout
    ev = threading.Event()
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        ev.wait(interval)


def assert_unindexed(pause_dir: Path, pause_id: str, where: str = "") -> None:
    """An ended pause leaves pending/: its run's settle thread unindexes it
    a few milliseconds after the test has its decision (lib/settle.c), so
    wait for that, bounded."""
    poll_until(lambda: not (Path(pause_dir) / "pending" / pause_id).exists(),
               f"pause {pause_id} to leave pending/ once ended {where}".rstrip())


def catches_signal(pid: int, sig: int) -> bool:
    """Whether process pid has a handler installed for sig (/proc SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    m = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M)
    return bool(m and int(m.group(1), 16) & (1 << (sig - 1)))


def proc_start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (what the runtime records)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()[22 - 3]


def sigkill(session: LivePytest) -> None:
    """kill -9 the pytest process itself (not via its process group, so
    that nothing gets a chance to clean up), and reap it."""
    os.kill(session.proc.pid, signal.SIGKILL)
    session.proc.wait(WAIT)


# ------------------------------------------------------------ the report


def record(kind: str, **fields) -> None:
    """Append one JSON line of measured counts to $LP_RELIABILITY_REPORT
    (set by reliability_report.py); a no-op otherwise. One write(2) of an
    O_APPEND descriptor, so that xdist workers never interleave."""
    path = os.environ.get("LP_RELIABILITY_REPORT")
    if not path:
        return
    line = json.dumps(dict(kind=kind, **fields), sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def trials(default: int) -> int:
    """Number of trials: the default, times $LP_TRIALS_SCALE (>= 1)."""
    scale = float(os.environ.get("LP_TRIALS_SCALE", "1") or 1)
    return max(1, int(default * scale))

