"""Black-box harness: real pytest sessions and the real `pytest-live-pause`
binary, each a separate process, as users and agents run them.

Nothing here waits with a bare sleep: output lines are pumped by a thread
and waited for with a condition and a bounded timeout; pauses are waited
for with the CLI's own event-driven `watch`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest_plugins = ["pytester"]

#: generous bounds for a slow, noisy 2-core machine; never asserted on
WAIT = 60.0

def _find_cli() -> str | None:
    """$LP_CLI (e.g. a sanitizer build), else the one on PATH, else the one
    installed beside this Python (a virtual environment not on PATH)."""
    if os.environ.get("LP_CLI"):
        return os.environ["LP_CLI"]
    beside = Path(sys.executable).parent / "pytest-live-pause"
    return shutil.which("pytest-live-pause") or (str(beside) if beside.exists() else None)


CLI = _find_cli()


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)

    def __str__(self) -> str:  # shown by failing asserts
        return (f"$ pytest-live-pause {' '.join(self.args)}\n"
                f"exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}")


class Cli:
    """Runs the installed `pytest-live-pause` binary against one pause dir."""

    def __init__(self, pause_dir: Path):
        if CLI is None:
            pytest.fail("pytest-live-pause is not on PATH: install the project (make test does)")
        self.pause_dir = pause_dir
        self.env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))

    def __call__(self, *args: str, timeout: float = WAIT, env: dict | None = None) -> CliResult:
        proc = subprocess.run([CLI, *args], capture_output=True, text=True,
                              timeout=timeout, env=env if env is not None else self.env)
        return CliResult(list(args), proc.returncode, proc.stdout, proc.stderr)

    def tty(self, *args: str, timeout: float = WAIT, env: dict | None = None) -> CliResult:
        """Run with stdout on a pseudo-terminal (raw: no CR added), as a
        person at a terminal: `ls` prints its table there (into a pipe it
        prints 0.1.1's tab-separated lines)."""
        import pty
        import termios
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n"
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        try:
            proc = subprocess.Popen([CLI, *args], stdout=slave, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=env if env is not None else self.env)
            os.close(slave)
            slave = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            _, err = proc.communicate(timeout=timeout)
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
        return CliResult(["(tty)", *args], proc.returncode, b"".join(chunks).decode(),
                         err.decode())

    def watch(self, run_id: str, timeout: float = WAIT) -> dict:
        """The next pending pause of a run, as `watch --json` prints it."""
        res = self("watch", "--run-id", run_id, "--timeout", str(timeout), "--json",
                   timeout=timeout + 30)
        assert res.returncode == 0, str(res)
        return res.json()


class LivePytest:
    """A pytest session running in the background (pytester.popen)."""

    def __init__(self, pytester: pytest.Pytester, args: list[str], env: dict,
                 python: str = sys.executable):
        self.proc = subprocess.Popen(
            [python, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = WAIT, start: int = 0) -> re.Match:
        """Block until a line matches `pattern` (regex); fail after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(left)
        pytest.fail(f"no line matching {pattern!r} in pytest output:\n{self.output}")

    @property
    def run_id(self) -> str:
        return self.wait_for_line(r"^pytest-live-pause: run_id=(\S+)$").group(1)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = WAIT) -> tuple[int, str]:
        """Wait for pytest to exit; a run that hangs is killed and fails the test."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"pytest did not finish within {timeout}s:\n{self.output}")
        self._reader.join(timeout)
        return rc, self.output

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(WAIT)


#: the rule around a PAUSED block
SEP = "=" * 60


def wait_block(session: LivePytest, start: int = 0) -> tuple[dict, int]:
    """Wait for the next complete PAUSED block printed at or after output
    line `start`; return its fields ("key: value" lines, plus kind, nodeid,
    the raw lines, their index and the line before) and the index of the
    line after it."""
    session.wait_for_line(r"^PAUSED \((failure|checkpoint|question)\): ", start=start)
    lines = list(session.lines)
    i = next(k for k in range(start, len(lines)) if lines[k].startswith("PAUSED ("))
    session.wait_for_line(rf"^{SEP}$", start=i + 1)
    lines = list(session.lines)
    j = next(k for k in range(i + 1, len(lines)) if lines[k] == SEP)
    m = re.match(r"^PAUSED \((\w+)\): (.*)$", lines[i])
    assert m is not None
    block: dict = {"kind": m.group(1), "nodeid": m.group(2), "index": i,
                   "before": lines[i - 1] if i else None, "lines": lines[i + 1:j]}
    for line in lines[i + 1:j]:
        key, sep, value = line.partition(": ")
        block[key if sep else line] = value
    return block, j + 1


def read_events(pause_dir: Path, run_id: str) -> list[dict]:
    """events.jsonl of a run, as a user reads it."""
    text = (pause_dir / "runs" / run_id / "events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def pause_file(pause_dir: Path, pause_id: str) -> Path:
    """The pause file of a pause id (<run_id>.<suffix>)."""
    run_id = pause_id.split(".", 1)[0]
    return pause_dir / "runs" / run_id / "pauses" / f"{pause_id}.json"


def command_file(pause_dir: Path, pause_id: str) -> Path:
    """The claim (command file) of a pause id."""
    run_id = pause_id.split(".", 1)[0]
    return pause_dir / "runs" / run_id / "commands" / f"{pause_id}.resume.json"


def read_pause(pause_dir: Path, pause_id: str) -> dict:
    return json.loads(pause_file(pause_dir, pause_id).read_text())


RUN_ID_LINE = r"^pytest-live-pause: run_id=(\S+)$"


def header_run_id(output: str) -> str:
    """The run id of pytest's header line, which must appear exactly once."""
    found = re.findall(RUN_ID_LINE, output, re.M)
    assert len(found) == 1, output
    return found[0]


@pytest.fixture
def pause_dir(tmp_path: Path) -> Path:
    """A fresh pause directory for one test (created by the plugin, 0700)."""
    return tmp_path / "pause-dir"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No pause directory, addopts or xdist variables from the outer run."""
    for var in ("PYTEST_LIVE_PAUSE_DIR", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
                "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def run_pytest(pytester: pytest.Pytester, pause_dir: Path, clean_env: pytest.MonkeyPatch):
    """pytester.runpytest_subprocess with this test's pause directory."""
    clean_env.setenv("PYTEST_LIVE_PAUSE_DIR", str(pause_dir))

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=WAIT)

    return run


@pytest.fixture
def cli(pause_dir: Path) -> Cli:
    return Cli(pause_dir)


@pytest.fixture
def live(pytester: pytest.Pytester, pause_dir: Path) -> Iterator[Callable[..., LivePytest]]:
    """Start pytest sessions in the background in the pytester directory,
    with PYTEST_LIVE_PAUSE_DIR set to this test's pause directory. Every
    session still running at the end of the test is killed."""
    started: list[LivePytest] = []

    def start(*args: str, env: dict | None = None) -> LivePytest:
        e = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pause_dir))
        # the resume hints the plugin prints name the CLI on PATH
        e["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), e.get("PATH", "")])
        e.pop("PYTEST_ADDOPTS", None)
        e.pop("PYTEST_XDIST_WORKER", None)
        e.pop("PYTEST_XDIST_WORKER_COUNT", None)
        if env:
            e.update(env)
        session = LivePytest(pytester, list(args), e)
        started.append(session)
        return session

    yield start
    for session in started:
        session.kill()


# ------------------------------------------------------------------ 0.1.1
#: the published pytest-live-pause==0.1.1, in a virtual environment of its own
#: (scripts/bootstrap.sh creates it; never imported beside ours)
V011_VENV = Path(os.environ.get("LP_V011_VENV",
                                Path(__file__).resolve().parents[2] / ".venv-011"))


@dataclass
class V011:
    python: str
    cli: str

    def run_cli(self, *args: str, env: dict, timeout: float = WAIT) -> CliResult:
        proc = subprocess.run([self.cli, *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
        return CliResult(["(0.1.1)", *args], proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def v011() -> V011:
    """The published 0.1.1's interpreter and CLI. Skips with a message where
    it is not installed, except under CI, where it must be (bootstrap makes it)."""
    py, cli = V011_VENV / "bin" / "python", V011_VENV / "bin" / "pytest-live-pause"
    ok = py.exists() and cli.exists() and subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; "
         "assert m.version('pytest-live-pause') == '0.1.1'"],
        capture_output=True).returncode == 0
    if not ok:
        msg = (f"the published pytest-live-pause==0.1.1 is not installed in {V011_VENV} "
               "(run 'make bootstrap-dev', which installs it from PyPI)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return V011(str(py), str(cli))
