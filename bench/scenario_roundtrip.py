"""Scenarios 1 and 2: the round trip of a pause, driven as an agent drives
it.

A pytest session makes N sequential pauses (checkpoints in one test, or N
failing tests under --pause-on-failure). A driver process loops
`watch --run-id` -> `resume <pause_id>` until watch reports the run ended.
Per pause it records:

  resume -> decision   from just before the `resume` process is spawned
                       (time.monotonic() in the driver) to the moment the
                       test has the decision (time.monotonic() in the test
                       right after checkpoint() returns; for a failure
                       pause, in the teardown of an autouse fixture, the
                       first code that runs after the pause ends). Both are
                       CLOCK_MONOTONIC, one system-wide clock on Linux.
  pause -> watch       from the pause file's `created_at` (time.time() in
                       the paused process, just before the file is written)
                       to the moment the driver has read the first line
                       that `watch` printed (time.time() in the driver).

The same driver runs against pytest-live-pause 0.1.1 (its own venv, its
own CLI) and, as the baseline of the signal protocol, against the QAMule
stand-in (bench/qamule/): once with scripts that behave like QAMule's
(a monitor polling the log's last line every 0.2 s; a resume script that
parses the last pause event, writes the result file and sends SIGUSR1),
and once as the protocol's floor (the driver reads pytest's stdout
through a pipe and spawns `kill -USR1` itself).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from _common import (
    BENCH_DIR,
    BenchError,
    Product,
    Session,
    make_pause_dir,
    read_timestamps,
    write_suite,
)

QAMULE_DIR = BENCH_DIR / "qamule"
REASON = "ok"
FAILURE_REASON = "bench verdict"
PAUSE_TIMEOUT = 120

CHECKPOINT_TEST = '''\
import os
import time

from pytest_live_pause import checkpoint

N = int(os.environ["BENCH_N"])


def test_checkpoints():
    with open(os.environ["BENCH_TS_FILE"], "a") as ts:
        for i in range(N):
            d = checkpoint(task=f"step {i}", timeout=%d)
            t = time.monotonic()
            ts.write(repr(t) + "\\n")
            ts.flush()
            assert d.result is True and d.reason == "ok", d
''' % PAUSE_TIMEOUT

QAMULE_CHECKPOINT_TEST = '''\
import os
import time

N = int(os.environ["BENCH_N"])


def test_checkpoints(agent_checkpoint):
    with open(os.environ["BENCH_TS_FILE"], "a") as ts:
        for i in range(N):
            d = agent_checkpoint(f"step {i}", timeout=%d)
            t = time.monotonic()
            ts.write(repr(t) + "\\n")
            ts.flush()
            assert d.result is True and d.reason == "ok", d
''' % PAUSE_TIMEOUT

FAILURE_CONFTEST = '''\
import os
import time

import pytest


@pytest.fixture(autouse=True)
def _bench_stamp():
    yield
    # the first code that runs once the failure pause has ended
    t = time.monotonic()
    with open(os.environ["BENCH_TS_FILE"], "a") as ts:
        ts.write(repr(t) + "\\n")
'''

FAILURE_TEST = '''\
import os

import pytest


@pytest.mark.parametrize("i", range(int(os.environ["BENCH_N"])))
def test_fail(i):
    assert i < 0, "bench failure"
'''


@dataclass
class PauseRecord:
    pause_id: str
    created_at: float = 0.0          # wall, written by the paused process
    watch_spawn_wall: float = 0.0
    watch_line_wall: float = 0.0
    resume_spawn_mono: float = 0.0
    resume_exit_mono: float = 0.0
    decision_mono: float = 0.0

    @property
    def resume_to_decision_ms(self) -> float:
        return (self.decision_mono - self.resume_spawn_mono) * 1000.0

    @property
    def pause_to_watch_ms(self) -> float:
        return (self.watch_line_wall - self.created_at) * 1000.0

    @property
    def resume_cli_ms(self) -> float:
        return (self.resume_exit_mono - self.resume_spawn_mono) * 1000.0


@dataclass
class SessionResult:
    records: list[PauseRecord]
    duplicates: int = 0          # watch reported a pause already resumed
    waited: int = 0              # watch was started before the pause existed
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        return [getattr(r, name) for r in self.records]


def _suite(work: Path, kind: str, qamule: bool) -> Path:
    if kind == "checkpoint":
        files = {"test_bench_checkpoints.py": QAMULE_CHECKPOINT_TEST if qamule else CHECKPOINT_TEST}
    else:
        files = {"conftest.py": FAILURE_CONFTEST, "test_bench_failures.py": FAILURE_TEST}
    return write_suite(work / f"suite-{kind}{'-qamule' if qamule else ''}", files)


def _check_session(kind: str, n: int, rc: int, ts: list[float], records: list[PauseRecord],
                   log_tail: str, who: str) -> None:
    want_rc = 0 if kind == "checkpoint" else 1
    if rc != want_rc:
        raise BenchError(f"{who} {kind}: pytest exited {rc}, expected {want_rc}:\n{log_tail}")
    if len(records) != n:
        raise BenchError(f"{who} {kind}: the driver resumed {len(records)} pauses, expected {n}")
    if len(ts) != n:
        raise BenchError(f"{who} {kind}: the tests recorded {len(ts)} decisions, expected {n}")
    for r, t in zip(records, ts):
        r.decision_mono = t
        if not (r.resume_spawn_mono < t):
            raise BenchError(f"{who} {kind}: decision of {r.pause_id} recorded before its "
                             "resume started: pauses and decisions are out of step")


# ------------------------------------------------- the pytest-live-pause CLIs


def run_cli_session(product: Product, kind: str, n: int, work: Path,
                    extra_env: Optional[dict[str, str]] = None) -> SessionResult:
    """One session of n pauses of `kind` driven with product's CLI."""
    is_ours = product.key == "ours"
    suite = _suite(work, kind, qamule=False)
    pause_dir = make_pause_dir(work, f"pauses-{product.key}-{kind}")
    ts_file = work / f"decisions-{product.key}-{kind}.txt"
    ts_file.unlink(missing_ok=True)
    env = product.environ({"BENCH_N": str(n), "BENCH_TS_FILE": str(ts_file), **(extra_env or {})})
    argv = [product.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--pause-dir", str(pause_dir), "--pause-timeout", str(PAUSE_TIMEOUT)]
    if kind == "failure":
        argv.append("--pause-on-failure")
    argv.append(str(suite))
    cli_env = product.environ(extra_env)
    watch = [product.cli, "watch", "--run-id", "", "--pause-dir", str(pause_dir)]
    if is_ours:
        watch.append("--json")
    verdict = (["--result", "true", "--reason", REASON] if kind == "checkpoint"
               else ["--failure-reason", FAILURE_REASON])

    t_start = time.monotonic()
    sess = Session(argv, suite, env, work / f"pytest-{product.key}-{kind}.log")
    records: list[PauseRecord] = []
    result = SessionResult(records)
    try:
        run_id = sess.wait_for_run_id()
        watch[3] = run_id
        prev: Optional[str] = None
        deadline = time.monotonic() + 60 + n * 3.0
        while True:
            if time.monotonic() > deadline:
                raise BenchError(f"{product.key} {kind}: no end after {len(records)} pauses")
            spawn_wall = time.time()
            w = subprocess.Popen(watch, env=cli_env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            first = w.stdout.readline()
            line_wall = time.time()
            rest = w.stdout.read()
            err = w.stderr.read().decode(errors="replace")
            rc = w.wait(timeout=60)
            out = (first + rest).decode(errors="replace")
            if is_ours and rc == 9:
                break
            if not is_ours and rc == 1 and "no longer active" in err:
                break
            if rc != 0:
                raise BenchError(f"{product.key} watch exited {rc}: {err.strip() or out.strip()}")
            if is_ours:
                doc = json.loads(first)
                pause_id, created_at = doc["pause_id"], float(doc["created_at"])
            else:
                if not out.startswith("pause detected: "):
                    if not out.strip():  # 0.1.1 watch returned nothing; look again
                        continue
                    raise BenchError(f"0.1.1 watch printed {out[:200]!r}")
                pause_id, created_at = out.split("\n", 1)[0].split(": ", 1)[1].strip(), 0.0
            if pause_id == prev:
                # reported again: the previous pause was not taken yet
                result.duplicates += 1
                continue
            rec = PauseRecord(pause_id, created_at, spawn_wall, line_wall)
            rec.resume_spawn_mono = time.monotonic()
            r = subprocess.run([product.cli, "resume", pause_id, "--pause-dir", str(pause_dir),
                                *verdict], env=cli_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
            rec.resume_exit_mono = time.monotonic()
            if r.returncode != 0:
                raise BenchError(f"{product.key} resume {pause_id} exited {r.returncode}: "
                                 f"{r.stderr.decode(errors='replace').strip()}")
            records.append(rec)
            prev = pause_id
        rc = sess.wait(timeout=60)
    except BaseException:
        sess.kill()
        raise
    result.wall_s = time.monotonic() - t_start
    if not is_ours:
        # 0.1.1's watch prints no created_at: read it from the pause files
        pdir = pause_dir / "runs" / run_id / "pauses"
        for rec in records:
            rec.created_at = float(json.loads((pdir / f"{rec.pause_id}.json").read_text())
                                   ["created_at"])
    for rec in records:
        if rec.watch_spawn_wall < rec.created_at:
            result.waited += 1
    _check_session(kind, n, rc, read_timestamps(ts_file), records, sess.tail(), product.key)
    shutil.rmtree(pause_dir, ignore_errors=True)
    return result


# ---------------------------------------------------------- QAMule baseline


def _qamule_argv(product: Product, kind: str, suite: Path, result_dir: Path, impl: str,
                 pause_dir: Path) -> list[str]:
    argv = [product.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if impl == "standin":
        argv += ["-p", "no:live_pause", "-p", "qamule_standin"]
    else:  # this project in QAMule mode: the same protocol, served by the runtime
        argv += ["--pause-compat=qamule", "--pause-dir", str(pause_dir)]
    argv += ["--pause-timeout", str(PAUSE_TIMEOUT), "--pause-result-dir", str(result_dir)]
    if kind == "failure":
        argv.append("--pause-on-failure")
    argv.append(str(suite))
    return argv


def _qamule_env(product: Product, n: int, ts_file: Path) -> dict[str, str]:
    env = product.environ({"BENCH_N": str(n), "BENCH_TS_FILE": str(ts_file)})
    env["PYTHONPATH"] = str(QAMULE_DIR) + (os.pathsep + env["PYTHONPATH"]
                                           if env.get("PYTHONPATH") else "")
    return env


def _parse_event(line: str) -> dict[str, Any]:
    return json.loads(line.split(" ", 1)[1])


def _written_at(ev: dict[str, Any]) -> float:
    """The stand-in stamps its event; this project's QAMule mode does not
    (0.0: read created_at from its pause file after the session)."""
    return float(ev.get("bench_written_at", 0.0))


def _fill_created_from_pause_files(pause_dir: Path, records: list[PauseRecord]) -> None:
    """This project in QAMule mode records the request_id in its pause
    files: take created_at from there."""
    by_request: dict[str, float] = {}
    for f in pause_dir.glob("runs/*/pauses/*.json"):
        doc = json.loads(f.read_text())
        if doc.get("request_id"):
            by_request[doc["request_id"]] = float(doc["created_at"])
    for rec in records:
        if not rec.created_at:
            if rec.pause_id not in by_request:
                raise BenchError(f"no pause file records request_id {rec.pause_id}")
            rec.created_at = by_request[rec.pause_id]


def run_qamule_scripts(product: Product, kind: str, n: int, work: Path,
                       impl: str = "standin") -> SessionResult:
    """The signal protocol driven by QAMule-like scripts: pytest's output in
    a log file, the monitor script polls its last line, the resume script
    parses the last event, writes the result and sends the signal."""
    suite = _suite(work, kind, qamule=True)
    result_dir = make_pause_dir(work, f"qamule-results-{impl}-{kind}")
    pause_dir = make_pause_dir(work, f"qamule-pauses-{impl}-{kind}")
    ts_file = work / f"decisions-qamule-scripts-{impl}-{kind}.txt"
    ts_file.unlink(missing_ok=True)
    env = _qamule_env(product, n, ts_file)
    log = work / f"pytest-qamule-scripts-{impl}-{kind}.log"
    pytest_cmd = " ".join(f"'{a}'" for a in _qamule_argv(product, kind, suite, result_dir, impl,
                                                          pause_dir))
    # the runner line the QAMule monitor looks for when the session ends
    argv = ["bash", "-c", f'{pytest_cmd}; echo "QAMule pytest exit code=$?"']
    monitor = ["bash", str(QAMULE_DIR / "monitor.sh"), str(log)]
    resume = ["bash", str(QAMULE_DIR / "resume.sh"), str(log)]
    verdict = (["--result", "true", "--reason", REASON] if kind == "checkpoint"
               else ["--json", json.dumps({"failure_reason": FAILURE_REASON})])

    t_start = time.monotonic()
    sess = Session(argv, suite, env, log)
    records: list[PauseRecord] = []
    result = SessionResult(records)
    try:
        prev = ""
        deadline = time.monotonic() + 60 + n * 3.0
        while True:
            if time.monotonic() > deadline:
                raise BenchError(f"qamule {kind}: no end after {len(records)} pauses")
            spawn_wall = time.time()
            m = subprocess.Popen(monitor + ([prev] if prev else []), env=env,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
            first = m.stdout.readline().decode(errors="replace")
            line_wall = time.time()
            m.stdout.read()
            rc = m.wait(timeout=60)
            if rc == 9:
                break
            if rc != 0 or not first.startswith("QAMULE_PAUSE_EVENT "):
                raise BenchError(f"qamule monitor exited {rc}: {first!r}")
            try:
                ev = _parse_event(first)
            except ValueError as exc:
                raise BenchError(f"qamule monitor printed a broken event line ({exc}): "
                                 f"{first[:300]!r}") from None
            rec = PauseRecord(ev["request_id"], _written_at(ev), spawn_wall, line_wall)
            rec.resume_spawn_mono = time.monotonic()
            r = subprocess.run(resume + verdict, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
            rec.resume_exit_mono = time.monotonic()
            if r.returncode != 0:
                raise BenchError(f"qamule resume.sh exited {r.returncode}: "
                                 f"{r.stderr.decode(errors='replace').strip()}")
            records.append(rec)
            prev = ev["request_id"]
        sess.wait(timeout=60)
    except BaseException:
        sess.kill()
        raise
    result.wall_s = time.monotonic() - t_start
    text = sess.log_text()
    rc_line = [ln for ln in text.splitlines() if "QAMule pytest exit code=" in ln]
    rc = int(rc_line[-1].rsplit("=", 1)[1]) if rc_line else -1
    if impl != "standin":
        _fill_created_from_pause_files(pause_dir, records)
    for rec in records:
        if rec.watch_spawn_wall < rec.created_at:
            result.waited += 1
    _check_session(kind, n, rc, read_timestamps(ts_file), records, sess.tail(),
                   f"qamule-scripts ({impl})")
    return result


def run_qamule_floor(product: Product, kind: str, n: int, work: Path,
                     impl: str = "standin") -> SessionResult:
    """The signal protocol at its fastest: the driver reads pytest's stdout
    through a pipe as it is written, writes the result file and spawns
    `kill -USR1 <pid>` itself."""
    suite = _suite(work, kind, qamule=True)
    result_dir = make_pause_dir(work, f"qamule-results-floor-{impl}-{kind}")
    pause_dir = make_pause_dir(work, f"qamule-pauses-floor-{impl}-{kind}")
    ts_file = work / f"decisions-qamule-floor-{impl}-{kind}.txt"
    ts_file.unlink(missing_ok=True)
    env = _qamule_env(product, n, ts_file)
    kill = shutil.which("kill")  # procps' kill; else the shell's builtin
    argv = _qamule_argv(product, kind, suite, result_dir, impl, pause_dir)
    lines: "queue.Queue[tuple[Optional[str], float]]" = queue.Queue()

    t_start = time.monotonic()
    sess = Session(argv, suite, env, work / f"pytest-qamule-floor-{impl}-{kind}.log",
                   stdout_pipe=True)
    log = open(sess.log_path, "w")

    def reader() -> None:
        for raw in sess.proc.stdout:
            now = time.time()
            text = raw.decode(errors="replace")
            log.write(text)
            if text.startswith("QAMULE_PAUSE_EVENT "):
                lines.put((text, now))
        lines.put((None, time.time()))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    records: list[PauseRecord] = []
    result = SessionResult(records)
    try:
        while True:
            spawn_wall = time.time()
            try:
                text, line_wall = lines.get(timeout=30)
            except queue.Empty:
                raise BenchError(
                    f"qamule-floor {kind}: no pause event within 30s after {len(records)} "
                    f"pauses (pytest {'running' if sess.proc.poll() is None else 'exited'}):\n"
                    + sess.tail()) from None
            if text is None:
                break
            ev = _parse_event(text)
            rec = PauseRecord(ev["request_id"], _written_at(ev), spawn_wall, line_wall)
            rec.resume_spawn_mono = time.monotonic()
            body = ({"result": True, "reason": REASON} if kind == "checkpoint"
                    else {"failure_reason": FAILURE_REASON})
            with open(ev["result_path"], "w") as f:
                json.dump(body, f)
            argv = ([kill, f"-{ev['signal']}", str(ev["pid"])] if kill else
                    ["sh", "-c", f"kill -{ev['signal']} {int(ev['pid'])}"])
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=30)
            rec.resume_exit_mono = time.monotonic()
            if r.returncode != 0:
                raise BenchError(f"kill -{ev['signal']} {ev['pid']} exited {r.returncode}")
            records.append(rec)
        rc = sess.proc.wait(timeout=60)
        th.join(timeout=10)
    except BaseException:
        sess.kill()
        raise
    finally:
        log.close()
    result.wall_s = time.monotonic() - t_start
    result.notes.append("watch = the driver's own pipe reader (no process spawned)")
    if impl != "standin":
        _fill_created_from_pause_files(pause_dir, records)
    _check_session(kind, n, rc, read_timestamps(ts_file), records, sess.tail(),
                   f"qamule-floor ({impl})")
    return result


# ------------------------------------------------------ the physical floor

FLOOR_DIR = BENCH_DIR / "floor"


def _build_floor(work: Path) -> tuple[Path, Path]:
    """Compile bench/floor/{create,wait}.c (cc -O2) into work; BenchError
    without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise BenchError("no C compiler (cc) to build the physical floor's programs")
    out = []
    for name in ("create", "wait"):
        exe = work / f"floor-{name}"
        r = subprocess.run([cc, "-O2", "-o", str(exe), str(FLOOR_DIR / f"{name}.c")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"cc {name}.c failed: {r.stderr.strip()}")
        out.append(exe)
    return out[0], out[1]


def run_physical_floor(n: int, work: Path) -> SessionResult:
    """The floor of any resume on this machine (issue 11.8): the driver
    spawns, exactly as it spawns `resume`, a trivial C program that creates
    a file; an inotify waiter (a C program, already waiting) takes
    CLOCK_MONOTONIC when it wakes. resume_to_decision_ms is spawn -> wake;
    resume_cli_ms is the creating program's wall time."""
    create, wait = _build_floor(work)
    d = make_pause_dir(work, "floor-files")
    ts_file = work / "floor-wakes.txt"
    ts_file.unlink(missing_ok=True)
    waiter = subprocess.Popen([str(wait), str(d), str(n), str(ts_file)],
                              stdin=subprocess.DEVNULL)
    records: list[PauseRecord] = []
    result = SessionResult(records)
    t_start = time.monotonic()

    def wakes() -> list[str]:
        try:
            return ts_file.read_text().split()
        except FileNotFoundError:
            return []

    def await_lines(count: int) -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            got = wakes()
            if len(got) >= count:
                return got
            if waiter.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"floor: the waiter saw {len(got) - 1} of {count - 1} files")
            time.sleep(0.001)  # the driver's own pace; not part of any figure

    try:
        await_lines(1)  # "ready"
        for i in range(n):
            rec = PauseRecord(f"floor-{i}")
            rec.resume_spawn_mono = time.monotonic()
            r = subprocess.run([str(create), str(d / f"f{i}")], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, timeout=30)
            rec.resume_exit_mono = time.monotonic()
            if r.returncode != 0:
                raise BenchError(f"floor: create exited {r.returncode}")
            records.append(rec)
            await_lines(i + 2)
        waiter.wait(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    stamps = [float(x) for x in wakes()[1:]]
    for rec, t in zip(records, stamps):
        rec.decision_mono = t
    if len(stamps) != n or any(r.decision_mono <= r.resume_spawn_mono for r in records):
        raise BenchError(f"floor: {len(stamps)} wakes for {n} files, or a wake before its spawn")
    result.wall_s = time.monotonic() - t_start
    result.notes.append("physical floor: spawn of bench/floor/create.c -> inotify wake of "
                        "bench/floor/wait.c")
    shutil.rmtree(d, ignore_errors=True)
    return result
