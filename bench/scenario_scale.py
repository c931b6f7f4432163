"""Scenario 3: the CLI with many finished runs in the pause directory.

The generator writes finished runs straight as files of the protocol
(docs/protocol.md; a superset of 0.1.1's files, so 0.1.1 reads them too):
per run `run.json` (status ended), `events.jsonl`, two pause files
(resumed, timed_out or aborted, with a pid that no longer exists), and the
command file that ended each. `pending/` stays empty for them: they are
finished. As the runtime does, it appends each run ("R") and each ended
pause ("P") and each run's end ("E") to `catalog.tsv`, the summary index that `ls -a` reads
(docs/protocol.md, "The catalog"; 0.1.1 ignores the file), and each ended
pause's listing object ("J") to `catalog-json.tsv`, what `ls -a --json`
reads (checked once against the pause files: `check_listing`). One live pytest session per product, paused at a checkpoint in
the same directory, is what `watch`, `show` and `resume` act on.

Sizes grow in place (100 -> 1,000 -> 10,000 runs), and every command is
timed at each size: the scaling curve. Timings are warm (page cache).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

from _common import (
    BenchError,
    Product,
    Session,
    make_pause_dir,
    summary,
    timed_run,
    write_suite,
)

LIVE_TEST = '''\
import os

from pytest_live_pause import checkpoint


def test_live():
    for i in range(int(os.environ["BENCH_N"])):
        d = checkpoint(task=f"scale step {i}", timeout=600)
        assert d.result is True, d
'''

PAUSES_PER_RUN = 2


def _dead_pid() -> int:
    """A pid that existed and is gone (reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Generator:
    """Adds finished runs to a pause directory, deterministically."""

    def __init__(self, root: Path, seed: int = 5) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.count = 0
        self.host = socket.gethostname()
        self.pid = _dead_pid()
        try:
            self.boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            self.boot_id = "unknown"
        (root / "runs").mkdir(mode=0o700, exist_ok=True)
        (root / "pending").mkdir(mode=0o700, exist_ok=True)

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    @staticmethod
    def _tsv(value: Any) -> str:
        text = "" if value is None else str(value)
        return (text.replace("\\", "\\\\").replace("\t", "\\t")
                .replace("\n", "\\n").replace("\r", "\\r"))

    def _catalog_line(self, pause: dict[str, Any]) -> str:
        fields = ["P", pause["pause_id"], pause["status"], pause["kind"],
                  repr(float(pause["created_at"])), repr(float(pause["finished_at"])),
                  repr(float(pause["timeout"])), str(pause["pid"]), pause["worker_id"],
                  pause["hostname"], pause["cwd"], pause["nodeid"], pause["task"]]
        return "\t".join(self._tsv(f) for f in fields) + "\n"

    @staticmethod
    def _checksum(data: bytes) -> int:
        """catalog-json.tsv's checksum (docs/protocol.md, "The catalog")."""
        m = (1 << 64) - 1
        h = 0x6C70206C69737431 ^ len(data)
        for i in range(0, len(data) + 1, 8):
            w = int.from_bytes(data[i:i + 8], "little")
            h = ((h ^ w) * 0x9E3779B97F4A7C15) & m
            h = ((h << 29) | (h >> 35)) & m
            if len(data) - i < 8:
                return h
        return h

    @staticmethod
    def _dump(obj: dict[str, Any]) -> str:
        """A pause file as the runtime writes it (lpj_dump: compact, sorted
        keys; the generator's numbers are integral or short, so Python
        writes them alike)."""
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def _listing_line(self, text: str, pause_id: str) -> str:
        """The "J" line the runtime writes when the pause ends: the bytes
        of its pause file."""
        return f"J\t{pause_id}\t{self._checksum(text.encode()):016x}\t{text}\n"

    def grow_to(self, runs: int) -> float:
        """Add finished runs until there are `runs`; returns seconds taken."""
        t0 = time.monotonic()
        catalog: list[str] = []
        listing: list[str] = []
        base = float(int(time.time() - 86400 * 30))  # integral: see _dump
        statuses = ["resumed", "resumed", "resumed", "timed_out", "aborted"]
        while self.count < runs:
            i = self.count
            run_id = self._hex(12)
            rd = self.root / "runs" / run_id
            (rd / "pauses").mkdir(mode=0o700, parents=True)
            (rd / "commands").mkdir(mode=0o700)
            started = base + i * 60.0
            run = {
                "protocol": 1, "run_id": run_id, "pid": self.pid, "hostname": self.host,
                "cwd": "/home/user/project", "worker_id": None, "boot_id": self.boot_id,
                "pid_start_time": "123456", "started_at": started, "status": "ended",
                "ended_at": started + 50.0, "exitstatus": 1,
            }
            (rd / "run.json").write_text(json.dumps(run))
            catalog.append(f"R\t{run_id}\n")
            events = [json.dumps({"event": "run_started", "ts": started, "run_id": run_id,
                                  "pid": self.pid, "hostname": self.host})]
            for k in range(PAUSES_PER_RUN):
                pause_id = f"{run_id}.{self._hex(8)}"
                kind = "checkpoint" if k % 2 else "failure"
                status = statuses[(i + k) % len(statuses)]
                created = started + 10.0 * (k + 1)
                by = {"resumed": "cli", "timed_out": "timeout", "aborted": "abort"}[status]
                pause = {
                    "protocol": 1, "pause_id": pause_id, "run_id": run_id, "kind": kind,
                    "nodeid": f"tests/test_mod{i % 97}.py::test_case_{k}",
                    "timeout": 600.0,
                    "original_failure": ("AssertionError: expected 3 items, got 2\n" * 3
                                         if kind == "failure" else None),
                    "task": "Approve the external step" if kind == "checkpoint" else None,
                    "status": status, "created_at": created, "deadline_at": created + 600.0,
                    "pid": self.pid, "hostname": self.host, "cwd": "/home/user/project",
                    "worker_id": None, "boot_id": self.boot_id, "pid_start_time": "123456",
                    "heartbeat_interval": 2.0,
                    "resume_command": f"pytest-live-pause resume {pause_id} --result true",
                    "resolved_at": created + 5.0, "finished_at": created + 5.0,
                    "resolved_by": by,
                    "failure_reason": "stale price list" if kind == "failure" else None,
                    "result": (True if status == "resumed" else None) if kind == "checkpoint" else None,
                    "reason": "approved" if kind == "checkpoint" and status == "resumed" else None,
                }
                if kind == "failure":
                    pause.pop("result")
                    pause.pop("reason")
                else:
                    pause.pop("failure_reason")
                text = self._dump(pause)
                (rd / "pauses" / f"{pause_id}.json").write_text(text)
                catalog.append(self._catalog_line(pause))
                listing.append(self._listing_line(text, pause_id))
                cmd: dict[str, Any] = {"by": by, "pid": self.pid, "hostname": self.host,
                                       "created_at": created + 5.0}
                (rd / "commands" / f"{pause_id}.resume.json").write_text(json.dumps(cmd))
                events.append(json.dumps({"event": "pause_created", "ts": created,
                                          "run_id": run_id, "pause_id": pause_id}))
                events.append(json.dumps({"event": f"pause_{status}", "ts": created + 5.0,
                                          "run_id": run_id, "pause_id": pause_id}))
            events.append(json.dumps({"event": "run_ended", "ts": started + 50.0,
                                      "run_id": run_id, "exitstatus": 1}))
            (rd / "events.jsonl").write_text("\n".join(events) + "\n")
            catalog.append("\t".join(["E", run_id, repr(started), repr(started + 50.0), "1",
                                      str(self.pid), self._tsv(self.host),
                                      "/home/user/project"]) + "\n")
            self.count += 1
        for name, header, lines in (("catalog.tsv", "pytest-live-pause catalog 1\n", catalog),
                                    ("catalog-json.tsv", "pytest-live-pause catalog-json 1\n",
                                     listing)):
            fd = os.open(self.root / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size == 0:
                    lines.insert(0, header)
                os.write(fd, "".join(lines).encode())
            finally:
                os.close(fd)
        return time.monotonic() - t0


def check_listing(ours: Product, root: Path, env: dict[str, str]) -> None:
    """`ls -a --json` prints the same with the generated catalog-json.tsv
    as from the pause files (without it): the generator writes what the
    runtime would, so the figures are those of real directories."""
    argv = [ours.cli, "ls", "-a", "--json", "--pause-dir", str(root)]
    fast = subprocess.run(argv, env=env, capture_output=True, check=True).stdout
    acc = root / "catalog-json.tsv"
    aside = root / "catalog-json.tsv.aside"
    acc.rename(aside)
    try:
        slow = subprocess.run(argv, env=env, capture_output=True, check=True).stdout
    finally:
        aside.rename(acc)
    if fast != slow:
        raise BenchError("ls -a --json differs with the generated catalog-json.tsv: the "
                         "generator does not write what the runtime writes")


class LiveSession:
    """A real pytest session of `product`, paused at a checkpoint in the
    scale directory; `next_pause()` tells the current pause."""

    def __init__(self, product: Product, root: Path, work: Path, n: int) -> None:
        self.product = product
        self.root = root
        suite = write_suite(work / f"suite-live-{product.key}", {"test_live.py": LIVE_TEST})
        self.env = product.environ({"BENCH_N": str(n)})
        argv = [product.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                "--pause-dir", str(root), str(suite)]
        self.sess = Session(argv, suite, self.env, work / f"pytest-live-{product.key}.log")
        self.run_id = self.sess.wait_for_run_id()
        self.current: Optional[str] = None

    def watch_cmd(self) -> list[str]:
        cmd = [self.product.cli, "watch", "--run-id", self.run_id, "--pause-dir", str(self.root)]
        return cmd + (["--json"] if self.product.key == "ours" else [])

    def next_pause(self, previous: Optional[str] = None) -> str:
        """The pending pause of the session, other than `previous`."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cp = subprocess.run(self.watch_cmd(), env=self.env, capture_output=True,
                                text=True, timeout=60)
            if cp.returncode != 0:
                raise BenchError(f"{self.product.key} watch exited {cp.returncode}: "
                                 f"{cp.stderr.strip() or cp.stdout.strip()}\n{self.sess.tail()}")
            if self.product.key == "ours":
                pid = json.loads(cp.stdout)["pause_id"]
            else:
                if not cp.stdout.startswith("pause detected: "):
                    continue
                pid = cp.stdout.split("\n", 1)[0].split(": ", 1)[1].strip()
            if pid != previous:
                self.current = pid
                return pid
            time.sleep(0.01)
        raise BenchError(f"{self.product.key}: no new pause within 30s")

    def stop(self) -> None:
        self.sess.kill()


def _time_cmd(argv: list[str], env: dict[str, str], reps: int,
              expect: tuple[int, ...] = (0,)) -> dict[str, Any]:
    timed_run(argv, env=env, expect=expect)  # warm-up (page cache, loader)
    return summary([timed_run(argv, env=env, expect=expect)[0] for _ in range(reps)])


def measure_product(live: LiveSession, reps: int) -> dict[str, Any]:
    """Time ls, ls -a (and ours' ls -a --json), show, watch (existing
    pause) and resume at the directory's current size."""
    p, root, env = live.product, str(live.root), live.env
    ours = p.key == "ours"
    out: dict[str, Any] = {}
    pause_id = live.current or live.next_pause()
    ls = [p.cli, "ls", "--pause-dir", root]
    cp = subprocess.run(ls, env=env, capture_output=True, text=True)
    if cp.returncode != 0 or pause_id not in cp.stdout:
        raise BenchError(f"{p.key} ls does not list the live pause {pause_id}: {cp.stdout[:300]}"
                         f"{cp.stderr[:300]}")
    out["ls"] = _time_cmd(ls, env, reps)
    lsa = [p.cli, "ls", "-a", "--pause-dir", root]
    n_lines = subprocess.run(lsa, env=env, capture_output=True, text=True).stdout.count("\n")
    out["ls -a"] = _time_cmd(lsa, env, reps)
    out["ls -a"]["lines"] = n_lines
    if ours:  # whole pause files: reads every one (the catalog has summaries)
        out["ls -a --json"] = _time_cmd(lsa + ["--json"], env, reps)
    if ours:
        out["show"] = _time_cmd([p.cli, "show", pause_id, "--pause-dir", root], env, reps)
        # every run, ended ones from the catalog's "E" lines (0.1.1 has no runs)
        out["runs -a"] = _time_cmd([p.cli, "runs", "-a", "--pause-dir", root], env, reps)
        out["runs -a --json"] = _time_cmd([p.cli, "runs", "-a", "--json", "--pause-dir", root],
                                          env, reps)
    watch = live.watch_cmd()
    if ours:
        watch = watch[:-1]  # the text form, as a person runs it
    out["watch --run-id (existing pause)"] = _time_cmd(watch, env, reps)
    times = []
    for _ in range(reps):
        dt, _cp = timed_run([p.cli, "resume", pause_id, "--pause-dir", root,
                             "--result", "true", "--reason", "scale"], env=env)
        times.append(dt)
        pause_id = live.next_pause(pause_id)
    out["resume <pause_id>"] = summary(times)
    return out


def run(ours: Product, v011: Optional[Product], work: Path, sizes: list[int], reps: int,
        reps_v011: int, log) -> dict[str, Any]:
    root = make_pause_dir(work, "scale")
    gen = Generator(root)
    lives: dict[str, LiveSession] = {}
    result: dict[str, Any] = {"sizes": sizes, "pauses_per_run": PAUSES_PER_RUN,
                              "generated_s": {}, "ours": {}, "v011": {}}
    n_checkpoints = (reps + 2) * len(sizes) + 10
    try:
        lives["ours"] = LiveSession(ours, root, work, n_checkpoints)
        lives["ours"].next_pause()
        if v011 is not None:
            lives["v011"] = LiveSession(v011, root, work, (reps_v011 + 2) * len(sizes) + 10)
            lives["v011"].next_pause()
        for size in sizes:
            result["generated_s"][str(size)] = round(gen.grow_to(size), 2)
            # write the generated files back now, so that their writeback
            # does not land in the fsyncs of the measured commands
            os.sync()
            time.sleep(0.5)
            log(f"scale: {size} finished runs, {size * PAUSES_PER_RUN} pause files")
            if size == sizes[0]:
                check_listing(ours, root, lives["ours"].env)
            result["ours"][str(size)] = measure_product(lives["ours"], reps)
            if v011 is not None:
                result["v011"][str(size)] = measure_product(lives["v011"], reps_v011)
    finally:
        for live in lives.values():
            live.stop()
    return result
