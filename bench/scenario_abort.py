"""Scenario 8: abort -> pytest exited.

Each round is one real pytest session (as an agent starts it: output to a
log file) of a suite whose first test pauses and whose other tests must
never start: a failure pause (`--pause-on-failure`, the first test fails)
or a checkpoint (the first test calls checkpoint(); the abort makes it
raise Aborted), the two kinds alternating. The driver finds the pause with
`watch --run-id --json` and runs the real CLI `abort <pause_id> --reason
bench`. Per round it records, on one clock (CLOCK_MONOTONIC, system-wide):

  teardown end   time.monotonic() at the very end of the teardown of the
                 paused test's autouse fixture (the last code of the test
                 that runs: written to a file, flushed);
  exited         time.monotonic() in the driver when the pytest process is
                 reaped (a thread blocked in waitpid);
  abort spawned  just before the `abort` process is spawned.

The figure of the issue is `exited - teardown end` (target p50 <= 50 ms):
what pytest and the plugin do once the aborted test is torn down (its
teardown report, the stop of the session, the summary with
`live-pause: run aborted at ...`, the end of the run, the interpreter's
exit). Each round checks the exit status 2, that line, and that no other
test started. Interleaved with them, the floor: pytest alone (no plugin)
stopping after the same failing test with `-x`, timed the same way.

Only pytest and this plugin are loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1,
`-p pytest_live_pause.plugin`): the plugins an environment autoloads add
their own exit time (this project's dev venv autoloads schemathesis and
hypothesis, about 800 modules, whose teardown at interpreter exit alone
takes longer than the target).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import BenchError, Product, Session, make_pause_dir, summary, write_suite

PAUSE_TIMEOUT = 120
REASON = "bench abort"

CONFTEST = '''\
import os
import time

import pytest


@pytest.fixture(autouse=True)
def _bench_stamp():
    yield
    # the end of the paused test's teardown: the last code of the test
    with open(os.environ["BENCH_TS_FILE"], "a") as ts:
        ts.write(repr(time.monotonic()) + "\\n")
'''

TESTS = '''\
import os

import pytest

from pytest_live_pause import checkpoint


def test_paused():
    if os.environ["BENCH_KIND"] == "checkpoint":
        checkpoint(task="bench: abort me", timeout=%d)
    assert 0, "bench failure"


@pytest.mark.parametrize("i", range(20))
def test_never_started(i):
    with open(os.environ["BENCH_TS_FILE"] + ".started", "a") as f:
        f.write("started\\n")
''' % PAUSE_TIMEOUT


class TimedSession(Session):
    """A Session whose reaper also notes when the process was reaped."""

    exit_mono = 0.0

    def _reap(self) -> None:
        rc = self.proc.wait()
        self.exit_mono = time.monotonic()
        self.returncode = rc


def one_round(ours: Product, suite: Path, work: Path, kind: str, i: int) -> dict[str, float]:
    pause_dir = make_pause_dir(work, f"abort-{i}")
    ts_file = work / f"abort-{i}.ts"
    ts_file.unlink(missing_ok=True)
    started = Path(str(ts_file) + ".started")
    started.unlink(missing_ok=True)
    # only pytest and this plugin: other plugins the environment would
    # autoload add their own exit time (see the module's docstring)
    env = ours.environ({"BENCH_TS_FILE": str(ts_file), "BENCH_KIND": kind,
                        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    argv = [ours.python, "-m", "pytest", "-p", "no:cacheprovider"]
    if kind == "pytest -x":
        return _baseline(argv + ["-x", str(suite)], suite, env, work, i, ts_file, started)
    argv += ["-p", "pytest_live_pause.plugin", "--pause-dir", str(pause_dir),
             "--pause-timeout", str(PAUSE_TIMEOUT)]
    if kind == "failure":
        argv.append("--pause-on-failure")
    argv.append(str(suite))
    sess = TimedSession(argv, suite, env, work / f"pytest-abort-{i}.log")

    try:
        run_id = sess.wait_for_run_id()
        w = subprocess.run([ours.cli, "watch", "--run-id", run_id, "--pause-dir", str(pause_dir),
                            "--json"], env=env, capture_output=True, text=True, timeout=120)
        if w.returncode != 0:
            raise BenchError(f"watch exited {w.returncode}: {w.stderr.strip()}\n{sess.tail()}")
        pause_id = json.loads(w.stdout.splitlines()[0])["pause_id"]
        t_spawn = time.monotonic()
        a = subprocess.run([ours.cli, "abort", pause_id, "--pause-dir", str(pause_dir),
                            "--reason", REASON], env=env, capture_output=True, text=True,
                           timeout=120)
        t_abort_exit = time.monotonic()
        if a.returncode != 0:
            raise BenchError(f"abort exited {a.returncode}: {a.stderr.strip()}")
        sess._reaper.join(120)  # type: ignore[union-attr]
        rc = sess.returncode
        exited = sess.exit_mono
    except BaseException:
        sess.kill()
        raise
    log_text = sess.log_text()
    if rc != 2:
        raise BenchError(f"{kind}: pytest exited {rc} after abort, expected 2:\n{sess.tail()}")
    if f"live-pause: run aborted at test_abort_bench.py::test_paused: {REASON}" not in log_text:
        raise BenchError(f"{kind}: no 'run aborted' line:\n{sess.tail()}")
    teardown_end = _stamp(ts_file, started, kind, sess.tail())
    if not (t_spawn < teardown_end < exited):
        raise BenchError(f"{kind}: the teardown stamp is not between the abort and the exit")
    return {
        "exit_after_teardown_ms": (exited - teardown_end) * 1000.0,
        "abort_to_exit_ms": (exited - t_spawn) * 1000.0,
        "abort_cli_ms": (t_abort_exit - t_spawn) * 1000.0,
    }


def _stamp(ts_file: Path, started: Path, kind: str, tail: str) -> float:
    """The one teardown stamp of the round; no other test started."""
    if started.exists():
        raise BenchError(f"{kind}: a test started after the first one stopped the run:\n{tail}")
    stamps = [float(x) for x in ts_file.read_text().split()] if ts_file.exists() else []
    if len(stamps) != 1:
        raise BenchError(f"{kind}: {len(stamps)} teardown stamps, expected 1:\n{tail}")
    return stamps[0]


def _baseline(argv: list[str], suite: Path, env: dict[str, str], work: Path, i: int,
              ts_file: Path, started: Path) -> dict[str, float]:
    """pytest alone stopping after the failing test (-x, no plugin): the
    floor of what happens after a teardown before pytest has exited."""
    sess = TimedSession(argv, suite, env, work / f"pytest-abort-{i}.log")
    sess._reaper.join(120)  # type: ignore[union-attr]
    if sess.returncode != 1:
        sess.kill()
        raise BenchError(f"pytest -x exited {sess.returncode}, expected 1:\n{sess.tail()}")
    teardown_end = _stamp(ts_file, started, "pytest -x", sess.tail())
    return {"exit_after_teardown_ms": (sess.exit_mono - teardown_end) * 1000.0}


def run(ours: Product, work: Path, reps: int, log) -> dict[str, Any]:
    suite = write_suite(work / "suite-abort", {"conftest.py": CONFTEST,
                                               "test_abort_bench.py": TESTS})
    kinds = ("failure", "checkpoint", "pytest -x")
    rounds: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    broken: list[str] = []
    try:
        # interleaved, so that the machine's load falls on all alike; the
        # first round of each kind warms the caches
        for i in range(len(kinds) * (reps + 1)):
            kind = kinds[i % len(kinds)]
            r = one_round(ours, suite, work, kind, i)
            if i >= len(kinds):
                rounds[kind].append(r)
    except BenchError as exc:
        broken.append(str(exc))
    result: dict[str, Any] = {"reps": reps}
    for kind, rs in rounds.items():
        result[kind] = {k: summary([r[k] for r in rs]) for k in (rs[0] if rs else {})}
    every = [r["exit_after_teardown_ms"] for k in kinds[:2] for r in rounds[k]]
    result["exit_after_teardown_ms"] = summary(every)
    if broken:
        result["broken"] = broken
    if every and rounds["pytest -x"]:
        log(f"abort: pytest exited {result['exit_after_teardown_ms']['median']:.1f} ms after the "
            f"teardown ended (failure {result['failure']['exit_after_teardown_ms']['median']:.1f},"
            f" checkpoint {result['checkpoint']['exit_after_teardown_ms']['median']:.1f}; "
            f"pytest -x alone {result['pytest -x']['exit_after_teardown_ms']['median']:.1f})")
    return result
