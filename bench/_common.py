"""Shared helpers of the benchmark suite: statistics, timing of child
processes, the products under test (this project, the published 0.1.1, the
QAMule stand-in), the machine description, and the pause sessions the
scenarios drive.

Not product code: it drives the installed ``pytest-live-pause`` command and
pytest plugin as an agent would, from separate processes.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


class BenchError(RuntimeError):
    """A scenario is broken (wrong exit code, lost pause, wrong verdict):
    the only thing that makes the suite fail."""


# ------------------------------------------------------------ statistics


def pct(values: Sequence[float], p: float) -> float:
    """Percentile p (0..100) with linear interpolation between ranks."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: Sequence[float], unit: str = "ms") -> dict[str, Any]:
    """A figure: the median of repeated measurements and their spread
    (min, p25, p75, max)."""
    xs = [float(v) for v in values]
    return {
        "median": pct(xs, 50),
        "min": min(xs) if xs else float("nan"),
        "p25": pct(xs, 25),
        "p75": pct(xs, 75),
        "max": max(xs) if xs else float("nan"),
        "n": len(xs),
        "unit": unit,
    }


def latency_summary(per_session: list[list[float]], p: float) -> dict[str, Any]:
    """The p-th percentile of each session's per-pause latencies, then the
    median over sessions (spread: min..max over sessions)."""
    figs = [pct(s, p) for s in per_session]
    out = summary(figs)
    out["samples_per_session"] = [len(s) for s in per_session]
    return out


# ---------------------------------------------------------------- timing


def timed_run(
    argv: Sequence[str],
    *,
    env: Optional[dict[str, str]] = None,
    cwd: Optional[str] = None,
    capture: bool = False,
    timeout: float = 120.0,
    expect: Sequence[int] = (0,),
) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command to completion; return its wall time in ms (from just
    before the spawn to the reaped exit, as seen by this process) and the
    completed process. An exit code not in `expect` is a BenchError."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    t0 = time.perf_counter()
    cp = subprocess.run(
        list(argv), env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE, timeout=timeout
    )
    dt = (time.perf_counter() - t0) * 1000.0
    if expect and cp.returncode not in expect:
        raise BenchError(
            f"{' '.join(argv)} exited {cp.returncode} (expected {list(expect)}): "
            f"{(cp.stderr or b'').decode(errors='replace').strip()[:500]}"
        )
    return dt, cp


def peak_rss_kib(argv: Sequence[str], env: Optional[dict[str, str]] = None,
                 expect: Sequence[int] = (0,), timeout: float = 120.0) -> tuple[int, str]:
    """Peak resident set size (KiB) of one run of argv, and the method used:
    GNU time's %M when /usr/bin/time exists, else the ru_maxrss of a fresh
    helper process's only child."""
    gnu_time = "/usr/bin/time"
    if os.access(gnu_time, os.X_OK):
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
            cp = subprocess.run(
                [gnu_time, "-f", "%M", "-o", f.name, *argv], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
            )
            if cp.returncode not in expect:
                raise BenchError(f"{' '.join(argv)} exited {cp.returncode} under /usr/bin/time: "
                                 f"{cp.stderr.decode(errors='replace')[:300]}")
            text = Path(f.name).read_text().strip().splitlines()
            return int(text[-1]), "/usr/bin/time -f %M"
    helper = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    cp = subprocess.run([sys.executable, "-c", helper, *argv], env=env,
                        capture_output=True, text=True, timeout=timeout)
    rc, rss = cp.stdout.split()
    if int(rc) not in expect:
        raise BenchError(f"{' '.join(argv)} exited {rc}")
    return int(rss), "getrusage(RUSAGE_CHILDREN) of a fresh helper process"


# --------------------------------------------------------------- products


@dataclass
class Product:
    """One implementation under test: how to start its pytest and its CLI."""

    key: str             # "ours" | "v011"
    label: str
    python: str          # interpreter that runs pytest with the plugin
    cli: str             # the pytest-live-pause command
    entry_point: str     # plugin name for `-p no:<name>`
    version: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_PLUGINS", None)
        env.pop("PYTEST_LIVE_PAUSE_DIR", None)
        # Bytecode caches as on a typical machine: with
        # PYTHONDONTWRITEBYTECODE set (as some sandboxes do globally),
        # pytest re-rewrites and recompiles the plugin and every test module
        # on each start, which inflates start-up and hides the plugin's cost.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(self.env)
        if extra:
            env.update(extra)
        return env


def find_ours() -> Product:
    """This project, as installed in the running interpreter's environment,
    with its `pytest-live-pause` on PATH (or next to the interpreter)."""
    # the command installed with the package in this environment first,
    # then PATH
    beside = Path(sys.executable).parent / "pytest-live-pause"
    cli = str(beside) if beside.exists() else shutil.which("pytest-live-pause")
    if cli is None:
        raise BenchError("pytest-live-pause is not on PATH: install the project "
                         "(pip install .) into this environment first")
    cp = subprocess.run([cli, "--version"], capture_output=True, text=True)
    version = cp.stdout.strip()
    if cp.returncode != 0 or "0.1.1" in version or "protocol" not in version:
        raise BenchError(f"{cli} is not this project's CLI: {version or cp.stderr.strip()}")
    check = subprocess.run(
        [sys.executable, "-c", "import pytest_live_pause, pytest_live_pause._livepause"],
        capture_output=True, text=True,
    )
    if check.returncode != 0:
        raise BenchError("the pytest plugin is not importable from "
                         f"{sys.executable}: {check.stderr.strip()[-300:]}")
    return Product("ours", "pytest-live-pause (this project)", sys.executable, cli,
                   "live_pause", version)


def setup_v011(venv: Path, log) -> tuple[Optional[Product], str]:
    """Create (once) a separate virtual environment with the published
    pytest-live-pause==0.1.1 and the same pytest as ours. Returns the
    product, or None and why not."""
    import pytest as _pytest  # the pytest of our environment, to match

    py = venv / "bin" / "python"
    cli = venv / "bin" / "pytest-live-pause"
    want = f"pytest=={_pytest.__version__}"
    try:
        if not py.exists():
            log(f"creating {venv} (pytest-live-pause==0.1.1 from PyPI)")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                           capture_output=True, timeout=300)
        ok = subprocess.run(
            [str(py), "-c",
             "import importlib.metadata as m, pytest; "
             "print(m.version('pytest-live-pause'), pytest.__version__)"],
            capture_output=True, text=True,
        )
        if ok.returncode != 0 or ok.stdout.split() != ["0.1.1", _pytest.__version__]:
            cp = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "pytest-live-pause==0.1.1", want],
                capture_output=True, text=True, timeout=600,
            )
            if cp.returncode != 0:
                return None, ("pip install pytest-live-pause==0.1.1 failed: "
                              + cp.stderr.strip().splitlines()[-1][:300] if cp.stderr.strip()
                              else "pip install failed")
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot create {venv}: {exc}"
    if not cli.exists():
        return None, f"{cli} missing after install"
    return Product("v011", "pytest-live-pause 0.1.1 (PyPI)", str(py), str(cli),
                   "pytest_live_pause", "0.1.1"), ""


# ----------------------------------------------------------------- machine


def _mount_of(path: str) -> dict[str, str]:
    path = os.path.realpath(path)
    best = {"mount": "?", "fstype": "?", "device": "?", "options": ""}
    best_len = -1
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                mnt = mnt.replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
                    best = {"mount": mnt, "fstype": fstype, "device": dev, "options": opts}
                    best_len = len(mnt)
    except OSError:
        pass
    return best


def machine_info(work_dir: str, ours: Product, v011: Optional[Product]) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    import pytest as _pytest

    commit = ""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    mount = _mount_of(work_dir)
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "mem_total_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "pytest": _pytest.__version__,
        "pause_dir_parent": work_dir,
        "pause_dir_fs": mount["fstype"],
        "pause_dir_device": mount["device"],
        "pause_dir_mount": mount["mount"],
        "pause_dir_mount_options": mount["options"],
        "ours_version": ours.version,
        "v011_version": v011.version if v011 else None,
        "repo_commit": commit,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ---------------------------------------------------------------- sessions


def make_pause_dir(parent: Path, name: str) -> Path:
    d = parent / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(mode=0o700, parents=True)
    os.chmod(d, 0o700)
    return d


class Session:
    """A pytest process started in the background, its output in a log
    file (as an agent starts it: `pytest ... > pytest.log 2>&1 &`). A
    thread reaps it as soon as it exits, so that liveness checks by pid see
    it gone (a zombie still answers kill(pid, 0))."""

    RUN_ID_RE = re.compile(r"pytest-live-pause: run_id=([A-Za-z0-9_-]+)")

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path,
                 stdout_pipe: bool = False) -> None:
        self.log_path = log
        self.argv = list(argv)
        self._log = open(log, "wb")
        # its own process group, so that kill() also ends what it started
        # (pytest under a shell wrapper)
        self.proc = subprocess.Popen(
            self.argv, cwd=str(cwd), env=env,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.returncode: Optional[int] = None
        self._reaper: Optional[threading.Thread] = None
        if not stdout_pipe:
            self._reaper = threading.Thread(target=self._reap, daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        self.returncode = self.proc.wait()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None if self._reaper is None else self.returncode is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_run_id(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.RUN_ID_RE.search(self.log_text())
            if m:
                return m.group(1)
            if not self.alive():
                raise BenchError(f"pytest exited before printing its run_id:\n{self.tail()}")
            time.sleep(0.005)
        raise BenchError(f"no run_id line in {timeout:.0f}s:\n{self.tail()}")

    def wait(self, timeout: float = 60.0) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(f"pytest did not end within {timeout:.0f}s:\n{self.tail()}")
        if self._reaper is not None:
            self._reaper.join(timeout=5)
        self._log.close()
        return rc

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


def read_timestamps(path: Path) -> list[float]:
    if not path.exists():
        return []
    return [float(x) for x in path.read_text().split()]


def write_suite(dest: Path, files: dict[str, str]) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name, text in files.items():
        (dest / name).write_text(text)
    # an empty ini file makes `dest` the rootdir and keeps the project's
    # own pytest configuration (addopts, testpaths) out of the suite
    (dest / "pytest.ini").write_text("[pytest]\n")
    return dest


def json_dump(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
