"""Scenario 4: the cost of the plugin when nothing pauses.

A suite of trivial passing tests runs with the plugin active
(`--pause-on-failure`, a fresh pause directory per run) and with the plugin
disabled (`-p no:<entry point>`), alternating the order of the two arms in
each pair. Reported: the wall time of each arm (median of the pairs), the
ratio active/disabled per pair (median and spread), and the files the
plugin writes per run: counted in the pause directory after the run, and,
where strace exists, every file-creating system call of the whole pytest
process, active minus disabled. Where valgrind exists (full mode), the
plugin's cost is also counted in instructions, which other processes on
the machine cannot disturb: pytest on 1 and on 1,001 tests, active and
disabled, under three fixed hash seeds (the median estimate is judged),
extrapolated to the suite's size; and the same again with a conftest
implementing the capture hook (pytest_live_pause_capture) in both arms, no
test failing: the hook's registration must cost nothing until a pause.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

from _common import BenchError, Product, make_pause_dir, summary, write_suite

PER_FILE = 500


#: A conftest implementing the capture hook (issue 12.2), as a suite with
#: a device would: it is called only when a pause begins, so registering
#: it must cost nothing per test. optionalhook: the disabled arm (plugin
#: off, its hook spec unknown) accepts the conftest too.
CAPTURE_CONFTEST = '''\
import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_live_pause_capture(item, kind):
    raise AssertionError("no test fails: the capture hook is never called")
'''


def make_suite(work: Path, n: int, capture_hook: bool = False) -> Path:
    files: dict[str, str] = {}
    for f in range(0, n, PER_FILE):
        body = "".join(f"def test_pass_{i}():\n    assert True\n\n\n"
                       for i in range(f, min(n, f + PER_FILE)))
        files[f"test_trivial_{f // PER_FILE:03d}.py"] = body
    if capture_hook:
        files["conftest.py"] = CAPTURE_CONFTEST
    return write_suite(work / f"suite-trivial-{n}{'-capture' if capture_hook else ''}", files)


def _argv(product: Product, suite: Path, active: bool, pause_dir: Path) -> list[str]:
    argv = [product.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if active:
        argv += ["--pause-on-failure", "--pause-dir", str(pause_dir)]
    else:
        argv += ["-p", f"no:{product.entry_point}"]
    return argv + [str(suite)]


def _run(product: Product, suite: Path, active: bool, pause_dir: Path, n: int
         ) -> tuple[float, float]:
    """One run of the suite: (wall seconds, CPU seconds user+sys of pytest)."""
    if active:
        make_pause_dir(pause_dir.parent, pause_dir.name)
    env = product.environ()
    t0 = time.perf_counter()
    proc = subprocess.Popen(_argv(product, suite, active, pause_dir), cwd=str(suite), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _pid, status, ru = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    tail = out.decode(errors="replace").strip().splitlines()[-1:]
    if proc.returncode != 0 or not tail or f"{n} passed" not in tail[0]:
        raise BenchError(f"{product.key} trivial suite ({'active' if active else 'disabled'}) "
                         f"exited {proc.returncode}: {tail}")
    return dt, ru.ru_utime + ru.ru_stime


def _count_files(root: Path) -> dict[str, int]:
    files = dirs = 0
    for _dirpath, dirnames, filenames in os.walk(root):
        files += len(filenames)
        dirs += len(dirnames)
    return {"files": files, "dirs": dirs}


_CREATE = re.compile(
    r"^\d+\s+(?:openat\(.*O_CREAT.*|creat\(.*|mkdirat?\(.*|renameat2?\(.*|rename\(.*|linkat\(.*"
    r"|link\(.*)\)\s+=\s+\d+"
)


def _strace_creations(product: Product, suite: Path, active: bool, pause_dir: Path,
                      work: Path) -> Optional[int]:
    strace = shutil.which("strace")
    if strace is None:
        return None
    if active:
        make_pause_dir(pause_dir.parent, pause_dir.name)
    out = work / f"strace-{product.key}-{'on' if active else 'off'}.txt"
    cp = subprocess.run(
        [strace, "-f", "-qq", "-e",
         "trace=openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat",
         "-o", str(out), *_argv(product, suite, active, pause_dir)],
        cwd=str(suite), env=product.environ(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, timeout=900,
    )
    if cp.returncode != 0 or not out.exists():
        return None
    return sum(1 for line in out.read_text(errors="replace").splitlines() if _CREATE.match(line))


_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _instructions(product: Product, suite: Path, active: bool, pause_dir: Path,
                  valgrind: str, seed: int) -> subprocess.Popen:
    if active:
        make_pause_dir(pause_dir.parent, pause_dir.name)
    return subprocess.Popen(
        [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         *_argv(product, suite, active, pause_dir)],
        cwd=str(suite), env=product.environ({"PYTHONHASHSEED": str(seed)}),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


#: Python's hash randomisation moves pytest's own per-test count by 5-8 k
#: instructions from one process to the next (about 0.2 points of the
#: estimate), so each arm runs with the same fixed seeds and the estimate
#: is the median over the seeds.
SEEDS = (0, 1, 2)


def instruction_overhead(product: Product, work: Path, n: int,
                         seeds: tuple[int, ...] = SEEDS,
                         capture_hook: bool = False) -> Optional[dict[str, Any]]:
    """The plugin's cost in instructions (valgrind's count, immune to what
    other processes do): pytest on 1 and on 1,001 tests, plugin active and
    disabled, under each hash seed; the per-test and start-up differences
    extrapolate to n. capture_hook: both arms with a conftest implementing
    pytest_live_pause_capture (CAPTURE_CONFTEST)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counts: dict[tuple[int, int, bool], int] = {}
    suites = {size: make_suite(work, size, capture_hook) for size in (1, 1001)}
    for size, suite in suites.items():
        # caches first (bytecode of the suite and the plugin)
        for active in (True, False):
            _run(product, suite, active, work / f"ir-pauses-{active}", size)
    for seed in seeds:
        for size, suite in suites.items():
            # the two arms at once: valgrind's count does not depend on load
            procs = {active: _instructions(product, suite, active,
                                           work / f"ir-pauses-{active}", valgrind, seed)
                     for active in (True, False)}
            for active, p in procs.items():
                _out, err = p.communicate(timeout=900)
                m = _IREFS.search(err or "")
                if p.returncode != 0 or m is None:
                    return None
                counts[(seed, size, active)] = int(m.group(1).replace(",", ""))
    per_seed = []
    for seed in seeds:
        start = {a: counts[(seed, 1, a)] for a in (True, False)}
        per_test = {a: (counts[(seed, 1001, a)] - counts[(seed, 1, a)]) / 1000.0
                    for a in (True, False)}
        total = {a: start[a] + per_test[a] * (n - 1) for a in (True, False)}
        per_seed.append({
            "seed": seed,
            "startup_plugin": start[True] - start[False],
            "per_test_plugin": per_test[True] - per_test[False],
            "per_test_disabled": per_test[False],
            "pct": (total[True] / total[False] - 1.0) * 100.0,
        })
    mid = sorted(per_seed, key=lambda r: r["pct"])[len(per_seed) // 2]
    return {
        "seeds": list(seeds),
        "per_seed": per_seed,
        "startup_instructions": {"plugin": mid["startup_plugin"]},
        "per_test_instructions": {"plugin": mid["per_test_plugin"],
                                  "disabled": mid["per_test_disabled"]},
        "estimated_overhead_pct_at_n": mid["pct"],
        "estimated_overhead_pct_min": min(r["pct"] for r in per_seed),
        "estimated_overhead_pct_max": max(r["pct"] for r in per_seed),
        "n": n,
    }


def run(products: list[Product], work: Path, n: int, pairs: int, log,
        with_strace: bool = True, pairs_other: Optional[int] = None) -> dict[str, Any]:
    suite = make_suite(work, n)
    result: dict[str, Any] = {"tests": n, "pairs": pairs}
    for product in products:
        n_pairs = pairs if product.key == "ours" else (pairs_other or pairs)
        pause_dir = work / f"overhead-pauses-{product.key}"
        # warm-up: bytecode caches, page cache
        _run(product, suite, True, pause_dir, n)
        _run(product, suite, False, pause_dir, n)
        on: list[float] = []
        off: list[float] = []
        on_cpu: list[float] = []
        off_cpu: list[float] = []
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        for k in range(n_pairs):
            order = (True, False) if k % 2 == 0 else (False, True)
            got = {}
            for active in order:
                got[active] = _run(product, suite, active, pause_dir, n)
            on.append(got[True][0])
            off.append(got[False][0])
            on_cpu.append(got[True][1])
            off_cpu.append(got[False][1])
            ratios.append(got[True][0] / got[False][0])
            cpu_ratios.append(got[True][1] / got[False][1])
        log(f"overhead {product.key}: active {summary(on, 's')['median']:.2f}s, "
            f"disabled {summary(off, 's')['median']:.2f}s, "
            f"wall ratio {summary(ratios)['median']:.3f}, cpu ratio {summary(cpu_ratios)['median']:.3f}")
        _run(product, suite, True, pause_dir, n)
        counted = _count_files(pause_dir)
        entry: dict[str, Any] = {
            "active_s": summary(on, "s"),
            "disabled_s": summary(off, "s"),
            "ratio": summary(ratios, "x"),
            "overhead_pct": summary([(r - 1.0) * 100.0 for r in ratios], "%"),
            "pairs": n_pairs,
            # the ratio of the fastest runs: other processes only ever add
            # time, so the minimum is the least disturbed estimate
            "min_ratio": min(on) / min(off),
            "min_overhead_pct": (min(on) / min(off) - 1.0) * 100.0,
            "min_cpu_overhead_pct": (min(on_cpu) / min(off_cpu) - 1.0) * 100.0,
            "cpu_ratio": summary(cpu_ratios, "x"),
            "cpu_overhead_pct": summary([(r - 1.0) * 100.0 for r in cpu_ratios], "%"),
            "pause_dir_after_run": counted,
        }
        if with_strace and product.key == "ours":
            ir = instruction_overhead(product, work, n)
            if ir is not None:
                entry["instructions"] = ir
                log(f"overhead {product.key}: instructions +{ir['estimated_overhead_pct_at_n']:.2f}% "
                    f"at {n} tests ({ir['per_test_instructions']['plugin']:.0f} per test, "
                    f"{ir['startup_instructions']['plugin']} at start)")
            ir = instruction_overhead(product, work, n, capture_hook=True)
            if ir is not None:
                entry["instructions_capture_hook"] = ir
                log(f"overhead {product.key} with a capture hook: instructions "
                    f"+{ir['estimated_overhead_pct_at_n']:.2f}% at {n} tests "
                    f"({ir['per_test_instructions']['plugin']:.0f} per test, "
                    f"{ir['startup_instructions']['plugin']} at start)")
        if with_strace:
            c_on = _strace_creations(product, suite, True, pause_dir, work)
            c_off = _strace_creations(product, suite, False, pause_dir, work)
            if c_on is not None and c_off is not None:
                entry["strace_creations"] = {"active": c_on, "disabled": c_off,
                                             "plugin": c_on - c_off}
        result[product.key] = entry
    return result
