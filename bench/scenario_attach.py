"""Scenario 6: what `resume --attach` of a 10 MiB file costs.

In one pause directory with one live pytest session paused at a
checkpoint (each resume takes one pause; the session pauses again), the
wall time of, interleaved so that the machine's load falls on all alike:

- `resume <pause_id> --result true` (no attachment);
- `resume <pause_id> --result true --attach big.bin` with a 10 MiB file
  of random bytes: the CLI reads it once while hashing it (SHA-256) into
  a temporary blob, flushes it (fsync), renames it to its hash, writes
  the command, and returns once the paused process has taken the
  command, which first reads the blob again to verify its hash;
- `cp big.bin <same filesystem>` of the same file (a subprocess, as the
  CLI is), and `cp` followed by `sync -f` of the copy (cp does not flush:
  the protocol does, so that a blob survives a crash);
- `sha256sum big.bin`: one hashing pass (coreutils), of the two an
  attachment costs (the resumer's while copying, the paused process's
  verification before it takes the command).

The figure of the issue ("adds at most the time of copying it once") is
`attach - plain` against `cp`; `attach - plain` against `cp + sync` shows
what the flush costs. Every resumed pause is checked to list the file's
SHA-256 as an attachment of source "resume".
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


def run(ours: Product, work: Path, reps: int, log) -> dict[str, Any]:
    root = make_pause_dir(work, "attach")
    big = work / "attach-big.bin"
    big.write_bytes(os.urandom(SIZE))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    live = LiveSession(ours, root, work, 2 * reps + 4)
    env = live.env
    plain, attach, cp, cp_sync, hashing = [], [], [], [], []
    broken: list[str] = []
    try:
        pid = live.next_pause()
        for i in range(reps + 1):  # the first round warms the caches
            base = [ours.cli, "resume", pid, "--pause-dir", str(root), "--result", "true"]
            t_plain = timed_run(base, env=env)[0]
            pid = live.next_pause(pid)
            t_attach = timed_run(base[:2] + [pid] + base[3:] + ["--attach", str(big)], env=env)[0]
            show = subprocess.run([ours.cli, "show", pid, "--pause-dir", str(root), "--json"],
                                  env=env, capture_output=True, text=True, timeout=120)
            listed = json.loads(show.stdout).get("attachments", []) if show.returncode == 0 else []
            if not any(a.get("sha256") == digest and a.get("source") == "resume" and
                       a.get("blob") == "ok" for a in listed):
                broken.append(f"pause {pid} does not list the attached file: {show.stdout[:200]}")
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
    if broken:
        result["broken"] = broken
    if added and cp:
        log(f"attach: resume {result['resume_ms']['median']:.1f} ms, with 10 MiB "
            f"{result['resume_attach_ms']['median']:.1f} ms (added "
            f"{result['added_ms']['median']:.1f} ms), cp {result['cp_ms']['median']:.1f} ms, "
            f"cp+sync {result['cp_sync_ms']['median']:.1f} ms")
    return result
