"""Kernel probes: the costs under the product's latencies, measured on the
machine of the run, so that the causes in docs/performance.md can be
checked on another kernel or filesystem.

  inotify close   close() of an inotify descriptor with one watch (what
                  the runtime's waiter does when a wait ends), and without
                  a watch, for contrast
  fsync           fsync() of a freshly written 600-byte file, and of its
                  directory, in the scratch directory (the pause
                  directory's filesystem)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from pathlib import Path
from typing import Any

from _common import summary

IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_CLOSE_WRITE = 0x8


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def inotify_close(directory: Path, reps: int) -> dict[str, Any]:
    libc = _libc()
    out: dict[str, Any] = {}
    for watch in (True, False):
        times = []
        for _ in range(reps):
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                return {"error": f"inotify_init1: errno {ctypes.get_errno()}"}
            if watch:
                libc.inotify_add_watch(fd, str(directory).encode(),
                                       IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
            t0 = time.perf_counter()
            os.close(fd)
            times.append((time.perf_counter() - t0) * 1000.0)
        out["with_watch" if watch else "without_watch"] = summary(times)
    return out


def fsync_cost(directory: Path, reps: int) -> dict[str, Any]:
    files, dirs = [], []
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(reps):
            p = directory / f"probe-{i}.tmp"
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, b"x" * 600)
            t0 = time.perf_counter()
            os.fsync(fd)
            files.append((time.perf_counter() - t0) * 1000.0)
            os.close(fd)
            os.rename(p, directory / f"probe-{i}.json")
            t0 = time.perf_counter()
            os.fsync(dfd)
            dirs.append((time.perf_counter() - t0) * 1000.0)
    finally:
        os.close(dfd)
    return {"file": summary(files), "directory": summary(dirs)}


def run(work: Path, reps: int) -> dict[str, Any]:
    d = work / "probes"
    d.mkdir(mode=0o700, exist_ok=True)
    return {"inotify_close_ms": inotify_close(d, reps), "fsync_ms": fsync_cost(d, reps)}
