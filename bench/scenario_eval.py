"""Scenario 7: the round trip of `pytest-live-pause eval <pause_id> 1+1`.

One live pytest session, started with --pause-allow-eval, paused at a
checkpoint; `eval 1+1` is run again and again against that one pause
(the pause stays pending: a request never ends it). Each call's wall time
goes from just before the spawn to the reaped exit, as seen from this
Python process, so it holds the whole conversation: the CLI's start,
reading the pause file, publishing the request, the paused process
waking (inotify on commands/), taking it, evaluating it in the test's
frame, publishing the answer, and the CLI collecting it. `--version` of
the same binary, measured the same way and interleaved, is the floor of
one CLI call; `do` of a named action that returns at once is measured
too. Every answer is checked ("2"). Target: p50 <= 5 ms.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from _common import BenchError, Product, Session, make_pause_dir, summary, timed_run, write_suite

CONFTEST = '''\
import pytest_live_pause


@pytest_live_pause.action("ping")
def ping(item, **kwargs):
    return {"pong": item.name}
'''

TEST = '''\
import math

from pytest_live_pause import checkpoint


def test_eval():
    local = 1
    d = checkpoint(task="bench eval", timeout=math.inf)
    assert d.result is True, d
'''


def run(ours: Product, work: Path, reps: int, log) -> dict[str, Any]:
    root = make_pause_dir(work, "eval")
    suite = write_suite(work / "suite-eval", {"conftest.py": CONFTEST, "test_eval.py": TEST})
    env = ours.environ({})
    argv = [ours.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--pause-allow-eval", "--pause-dir", str(root), str(suite)]
    sess = Session(argv, suite, env, work / "pytest-eval.log")
    try:
        run_id = sess.wait_for_run_id()
        cp = subprocess.run([ours.cli, "watch", "--run-id", run_id, "--pause-dir", str(root),
                             "--json", "--timeout", "60"], env=env, capture_output=True,
                            text=True, timeout=90)
        if cp.returncode != 0:
            raise BenchError(f"watch exited {cp.returncode}: {cp.stderr.strip()}\n{sess.tail()}")
        pid = json.loads(cp.stdout)["pause_id"]
        ev = [ours.cli, "eval", pid, "1+1", "--pause-dir", str(root)]
        do = [ours.cli, "do", pid, "ping", "--pause-dir", str(root)]
        version = [ours.cli, "--version"]
        for cmd in (ev, do, version):  # warm-up (page cache, loader)
            timed_run(cmd, env=env)
        t_eval, t_do, t_floor = [], [], []
        for _ in range(reps):
            ms, res = timed_run(ev, env=env, capture=True)
            if res.stdout.decode() != "2\n":
                raise BenchError(f"eval 1+1 answered {res.stdout!r}")
            t_eval.append(ms)
            t_do.append(timed_run(do, env=env)[0])
            t_floor.append(timed_run(version, env=env)[0])
        subprocess.run([ours.cli, "resume", pid, "--result", "true", "--pause-dir", str(root)],
                       env=env, capture_output=True, timeout=60)
        result = {"reps": reps, "eval_ms": summary(t_eval), "do_ms": summary(t_do),
                  "version_ms": summary(t_floor),
                  "over_floor_ms": summary([e - f for e, f in zip(t_eval, t_floor)])}
        log(f"eval: 1+1 p50 {result['eval_ms']['median']:.2f} ms, do {result['do_ms']['median']:.2f} ms, "
            f"--version {result['version_ms']['median']:.2f} ms")
        return result
    finally:
        sess.kill()
