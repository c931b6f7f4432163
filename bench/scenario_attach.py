"""Scenario 6: what `resume --attach` of a 10 MiB file costs.

In one pause directory with one live pytest session paused at a
checkpoint (each resume takes one pause; the session pauses again), the
wall time of, interleaved so that the machine's load falls on all alike:

- `resume <pause_id> --result true` (no attachment);
- `resume <pause_id> --result true --attach big.bin` with a 10 MiB file
  of random bytes, new in each round (new content: a new blob, as a new
  screenshot is): the CLI reads it once, hashing it (SHA-256) as it
  writes it to a temporary blob, starting the write-back of each chunk as
  it goes, flushes it (fsync), renames it to its hash and writes the
  command, whose entry carries the blob's seal (inode and change time);
  it returns once the paused process has taken the command, which checks
  the seal (one fstat) instead of reading the 10 MiB again;
- with BENCH_ATTACH_BASELINE_CLI set to another build's CLI (an older
  commit), the same `resume --attach` by that CLI, of its own new file:
  "before" in the same run (its command has no seal, so this paused
  process hashes the blob again before it takes the command, as before);
- `cp big.bin <same filesystem>` of the same file (a subprocess, as the
  CLI is), and `cp` followed by `sync -f` of the copy: cp does not flush,
  the protocol does (a command never names a blob a crash could lose), so
  `cp + sync` is the fair floor;
- `sha256sum big.bin`: one hashing pass (coreutils, without the CPU's
  SHA extensions, which nettle uses: not the floor of a hash).

Each round's files are written and flushed before anything is timed.
The figure of the issue ("adds at most the time of copying it once") is
`attach - plain` against `cp + sync`. Every resumed pause is checked to
list the file's SHA-256 as an attachment of source "resume", blob=ok.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from _common import BenchError, Product, make_pause_dir, summary, timed_run
from scenario_scale import LiveSession

SIZE = 10 * 1024 * 1024


def _fresh(path: Path) -> str:
    """A new file of SIZE random bytes at path, flushed; its SHA-256."""
    data = os.urandom(SIZE)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def run(ours: Product, work: Path, reps: int, log) -> dict[str, Any]:
    root = make_pause_dir(work, "attach")
    big, old_big = work / "attach-big.bin", work / "attach-big-baseline.bin"
    baseline = os.environ.get("BENCH_ATTACH_BASELINE_CLI")
    live = LiveSession(ours, root, work, 3 * reps + 6)
    env = live.env
    plain, attach, before, cp, cp_sync, hashing = [], [], [], [], [], []
    broken: list[str] = []

    def attached(pid: str, digest: str) -> None:
        show = subprocess.run([ours.cli, "show", pid, "--pause-dir", str(root), "--json"],
                              env=env, capture_output=True, text=True, timeout=120)
        listed = json.loads(show.stdout).get("attachments", []) if show.returncode == 0 else []
        if not any(a.get("sha256") == digest and a.get("source") == "resume" and
                   a.get("blob") == "ok" for a in listed):
            broken.append(f"pause {pid} does not list the attached file: {show.stdout[:200]}")

    try:
        pid = live.next_pause()
        for i in range(reps + 1):  # the first round warms the caches
            digest = _fresh(big)
            old_digest = _fresh(old_big) if baseline else ""
            base = [ours.cli, "resume", pid, "--pause-dir", str(root), "--result", "true"]
            t_plain = timed_run(base, env=env)[0]
            pid = live.next_pause(pid)
            t_attach = timed_run(base[:2] + [pid] + base[3:] + ["--attach", str(big)], env=env)[0]
            attached(pid, digest)
            pid = live.next_pause(pid)
            if baseline:
                t_before = timed_run([baseline] + base[1:2] + [pid] + base[3:] +
                                     ["--attach", str(old_big)], env=env)[0]
                attached(pid, old_digest)
                pid = live.next_pause(pid)
            dest = root / f"cp-{i}.bin"
            t_cp = timed_run(["cp", str(big), str(dest)])[0]
            dest.unlink()
            t_cps = timed_run(["sh", "-c", 'cp "$1" "$2" && sync -f "$2"', "sh", str(big),
                               str(dest)])[0]
            dest.unlink()
            t_hash = timed_run(["sha256sum", str(big)])[0]
            if i:
                hashing.append(t_hash)
                plain.append(t_plain)
                attach.append(t_attach)
                cp.append(t_cp)
                cp_sync.append(t_cps)
                if baseline:
                    before.append(t_before)
    except BenchError as exc:
        broken.append(str(exc))
    finally:
        live.stop()
    added = [a - p for a, p in zip(attach, plain)]
    result: dict[str, Any] = {
        "size_bytes": SIZE, "reps": reps,
        "resume_ms": summary(plain), "resume_attach_ms": summary(attach),
        "added_ms": summary(added), "cp_ms": summary(cp), "cp_sync_ms": summary(cp_sync),
        "sha256sum_ms": summary(hashing),
    }
    if before:
        result["baseline_cli"] = baseline
        result["baseline_attach_ms"] = summary(before)
        result["baseline_added_ms"] = summary([b - p for b, p in zip(before, plain)])
    if broken:
        result["broken"] = broken
    if added and cp:
        log(f"attach: resume {result['resume_ms']['median']:.1f} ms, with 10 MiB "
            f"{result['resume_attach_ms']['median']:.1f} ms (added "
            f"{result['added_ms']['median']:.1f} ms), cp {result['cp_ms']['median']:.1f} ms, "
            f"cp+sync {result['cp_sync_ms']['median']:.1f} ms"
            + (f", baseline CLI added {result['baseline_added_ms']['median']:.1f} ms"
               if before else ""))
    return result
