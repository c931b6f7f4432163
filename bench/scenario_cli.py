"""Scenario 5: what one CLI call costs.

Wall time (from just before the spawn to the reaped exit, seen from this
Python process; `/bin/true` measured the same way gives the floor of that
method) and peak resident set size of `--version`, `ls` and `resume`, in a
small pause directory with one live pytest session paused at a
checkpoint. `resume` is measured on a live pause, so its time includes the
paused process taking the command (it returns only then).

0.1.1 has no `--version`: its `--help` stands in (argparse, same imports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from _common import Product, make_pause_dir, peak_rss_kib, summary, timed_run
from scenario_scale import LiveSession


def _cost(argv: list[str], env: dict[str, str], reps: int) -> dict[str, Any]:
    timed_run(argv, env=env)
    wall = summary([timed_run(argv, env=env)[0] for _ in range(reps)])
    rss = []
    method = ""
    for _ in range(max(3, reps // 3)):
        kib, method = peak_rss_kib(argv, env=env)
        rss.append(kib / 1024.0)
    return {"wall_ms": wall, "peak_rss_mib": summary(rss, "MiB"), "rss_method": method}


def _resume_cost(live: LiveSession, reps: int) -> dict[str, Any]:
    p, root, env = live.product, str(live.root), live.env
    pause_id = live.current or live.next_pause()

    def argv(pid: str) -> list[str]:
        return [p.cli, "resume", pid, "--pause-dir", root, "--result", "true", "--reason", "cli"]

    times, rss = [], []
    method = ""
    for _ in range(reps):
        times.append(timed_run(argv(pause_id), env=env)[0])
        pause_id = live.next_pause(pause_id)
    for _ in range(max(3, reps // 3)):
        kib, method = peak_rss_kib(argv(pause_id), env=env)
        rss.append(kib / 1024.0)
        pause_id = live.next_pause(pause_id)
    return {"wall_ms": summary(times), "peak_rss_mib": summary(rss, "MiB"), "rss_method": method}


def run(ours: Product, v011: Optional[Product], work: Path, reps: int, log) -> dict[str, Any]:
    result: dict[str, Any] = {"reps": reps}
    result["spawn_floor"] = {"argv": "/bin/true",
                             "wall_ms": summary([timed_run(["true"])[0] for _ in range(reps)])}
    for product in [ours] + ([v011] if v011 else []):
        root = make_pause_dir(work, f"cli-{product.key}")
        live = LiveSession(product, root, work, reps + max(3, reps // 3) + 5)
        try:
            live.next_pause()
            env = live.env
            version = [product.cli, "--version"] if product.key == "ours" else [product.cli, "--help"]
            entry = {
                "--version": _cost(version, env, reps),
                "ls": _cost([product.cli, "ls", "--pause-dir", str(root)], env, reps),
                "resume": _resume_cost(live, reps),
            }
            if product.key != "ours":
                entry["--version"]["note"] = "0.1.1 has no --version; --help measured"
        finally:
            live.stop()
        result[product.key] = entry
        log(f"cli {product.key}: " + ", ".join(
            f"{k} {v['wall_ms']['median']:.1f} ms / {v['peak_rss_mib']['max']:.1f} MiB"
            for k, v in entry.items()))
    return result
