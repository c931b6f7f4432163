#!/usr/bin/env python3
"""Rerun the race and fault trials of test_reliability.py and print the
measured table of docs/reliability.md.

    .venv/bin/python tests/python/reliability_report.py [--scale N] [--json FILE]
        [-- extra pytest args]

--scale multiplies the number of trials of every multi-trial test
($LP_TRIALS_SCALE). The tests append their counts to $LP_RELIABILITY_REPORT
(one JSON object per line); this script sets it, runs pytest (real pytest
sessions, the real CLI, under -n 2), and turns the lines into Markdown.
Exit status: pytest's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TEST_FILE = "tests/python/test_reliability.py"


def run(scale: float, extra: list[str], out_json: Path) -> int:
    env = dict(os.environ, LP_RELIABILITY_REPORT=str(out_json), LP_TRIALS_SCALE=str(scale))
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "pytest", TEST_FILE, "-n", "2", "-q", "-p", "no:cacheprovider",
           *extra]
    print("$", " ".join(cmd), file=sys.stderr)
    # pytest's own output goes to stderr: stdout is the table alone
    return subprocess.call(cmd, cwd=ROOT, env=env, stdout=sys.stderr)


NA = "n/a"  # no pause outcome in play: nothing to double or lose


def _sum(rows, key):
    return sum(r.get(key, 0) for r in rows)


def table(records: list[dict], scale: float) -> str:
    by = defaultdict(list)
    for r in records:
        by[r["kind"]].append(r)
    k = f"LP_TRIALS_SCALE={scale:g} " if scale != 1 else ""
    rt = f"{k}.venv/bin/python -m pytest {TEST_FILE} -k"
    rows = []

    for r in sorted(by["concurrent_resume"], key=lambda r: r["racers"]):
        rows.append((f"{r['racers']} concurrent `resume` on one pause (released together)",
                     r["trials"],
                     f"{r['winners']} exits 0 (one per trial), {r['losers']} exits 5; "
                     f"losers named the winner's pid {r['losers_naming_winner_pid']} times, "
                     f"the resolver only ('by cli') {r['losers_naming_resolver_only']} times; "
                     "the test always got the winner's reason",
                     r["double_outcomes"], r["lost_outcomes"],
                     f"{rt} {r['racers']}-racers"))
    for r in by["deadline_race"]:
        late = r["launched_ms_from_deadline"]
        rows.append((f"`resume` fired at the deadline (checkpoint timeout {r['timeout']} s, "
                     f"launched {min(late)}..{max(late)} ms from it)", r["trials"],
                     f"{r['resumed']} resumed (exit 0), {r['timed_out']} timed out (exit 6); "
                     "CLI, pause file, claim, events and the test's decision agreed every time; "
                     f"{r['exit6_while_still_pending']} resumes returned before the pause "
                     "file was final",
                     r["double_outcomes"], r["lost_outcomes"], f"{rt} deadline"))
    for r in by["loser_waits_for_final_state"]:
        rows.append(("losing `resume` (exit 5) while the winner's command is not yet taken "
                     "(paused process stopped)", r["trials"],
                     "the loser kept waiting until the pause file was final; "
                     f"{r['returned_while_pending']} returned while pending", 0, 0,
                     f"{rt} losing_resume"))
    for r in by["resume_vs_ctrl_c"]:
        rows.append(("`resume` and Ctrl-C (SIGINT to the paused pytest) at the same instant",
                     r["trials"],
                     f"{r['resumed']} resumed (exit 0; in {r['interrupted_after_resume']} the "
                     f"Ctrl-C still interrupted the test after the verdict was taken), "
                     f"{r['aborted']} aborted (exit 7, checkpoint raised KeyboardInterrupt)",
                     r["double_outcomes"], r["lost_outcomes"], f"{rt} ctrl_c"))
    for r in by["kill_9"]:
        rows.append(("`kill -9` of the paused pytest (checkpoints and failures; "
                     f"{r['with_resume_in_flight']} with a resume in flight)", r["trials"],
                     f"{r['stale']} stale in `ls -a`, hidden by `ls`; {r['refused_with_4']} "
                     "resumes refused with 4; 0 resumed", NA, NA, f"{rt} kill_9"))
    for r in by["reused_pid"]:
        rows.append(("pause of a live pid with another start time / boot id "
                     "(edited copy of a real pause file)", r["trials"],
                     f"{r['stale']} stale (refused with 4), {r['pending_control']} control with "
                     "the right start time pending", NA, NA, f"{rt} reused_pid"))
    for r in by["other_host_heartbeat"]:
        rows.append(("pause on another host, judged by the pause file's mtime", r["trials"],
                     f"{r['stale']} stale (mtime older than 4 heartbeats), {r['pending']} "
                     "pending (fresh mtime)", NA, NA, f"{rt} other_host"))
    for r in by["bad_command_files"]:
        rows.append((f"hostile command files ({r['classes']} classes: 100 MB, 64 KiB + 1, "
                     "depth 32000, invalid UTF-8, duplicate keys, array, string, empty, "
                     "NUL, truncated, two documents, unknown action, wrong type, wrong kind)",
                     r["trials"],
                     f"{r['rejected']} rejected (moved aside, `command_rejected` event, pause "
                     f"kept waiting), {r['accepted']} accepted; {r['then_resumed']} valid "
                     "resumes then worked", 0, 0, f"{rt} bad_command"))
    for r in by["planted_symlinks_fifos"]:
        rows.append((f"symlinks and FIFOs planted as the command file ({r['classes']} kinds)",
                     r["trials"], f"{r['rejected']} rejected, {r['followed']} followed; "
                     f"{r['then_resumed']} valid resumes then worked", 0, 0, f"{rt} symlinks"))
    for r in by["resume_behind_hostile_command"]:
        rows.append(("`resume` while an invalid foreign file holds the claim's name "
                     "(paused process stopped)", r["trials"],
                     f"{r['refused_with_8']} refused with 8 and nothing written; "
                     f"{r['then_won']} waiting resumes won once the process moved the file aside",
                     0, 0, f"{rt} hostile_command"))
    for r in by["planted_symlink_pause_files"]:
        rows.append(("symlinks planted as pause files and run directories", r["trials"],
                     f"{r['refused_with_11']} refused with 11 (show, resume, watch), "
                     f"{r['followed']} followed; `ls -a` skipped them", NA, NA,
                     f"{rt} symlink_pause_files"))
    for r in by["hostile_ids"]:
        rows.append(("ids and paths with '/', '..', control characters, NUL, over 64 bytes "
                     "(resume, show, watch, Python binding)", r["trials"],
                     f"{r['refused']} refused (2 or 3), {r['escaped']} read or wrote outside; "
                     "a decoy pause dir next door untouched", NA, NA, f"{rt} hostile_ids"))
    hostile = by["hostile_pause_dir"]
    if hostile:
        rows.append(("hostile pause dir (symlink, 0777, 0770, 0702, owner uid 65534), given by "
                     + ", ".join(sorted(r["given_by"] for r in hostile)),
                     _sum(hostile, "refused"),
                     f"pytest refused at start with one line (exit 4) and the CLI with 11 "
                     f"every time; {_sum(hostile, 'accepted')} accepted, nothing written",
                     NA, NA, f"{rt} hostile_pause_dir"))
    for r in by["full_disk"]:
        rows.append(("full disk (64 KiB tmpfs) during a run", r["trials"],
                     "resume on the full disk: exit 1, one line, nothing written, pause kept "
                     "waiting; failure pause and checkpoint on the full disk: one line each, "
                     f"the run went on; all {r['results_in_junit']} results in --junitxml; no hang",
                     0, 0, f"{rt} full_disk_one"))
    for r in by["full_disk_at_start"]:
        rows.append(("full disk at pytest start", r["trials"],
                     "one-line usage error (exit 4), no traceback, no hang", NA, NA,
                     f"{rt} full_disk_at_start"))
    for r in sorted(by["signal_while_paused"], key=lambda r: r["signal"]):
        rows.append((f"{r['signal']} while paused", r["trials"],
                     f"{r['aborted']} aborted (pause file, claim, index, event), "
                     f"{r['pending']} left pending, {r['stale']} stale; resume refused with 7",
                     0, 0, f"{rt} 'signal_while_paused and {r['signal']}'"))
    for r in sorted(by["signal_during_banner"], key=lambda r: r["signal"]):
        rows.append((f"{r['signal']} while the PAUSED block is stuck in write(2) "
                     "(full stdout pipe)", r["trials"],
                     f"{r['aborted']} aborted, {r['pending']} pending", 0, 0,
                     f"{rt} 'banner_is_printed and {r['signal']}'"))

    for r in sorted(by["signal_right_after_pause_begin"], key=lambda r: r["signal"]):
        bug = " (open bug: expected aborted; its test is xfail)" if r["pending"] else ""
        rows.append((f"{r['signal']} right after the pause file appears (pytest stopped "
                     "itself as Run.pause() returned)", r["trials"],
                     f"{r['aborted']} aborted, {r['pending']} left pending{bug}", 0, r["pending"],
                     f"{rt} 'right_after and {r['signal'].lower()}'"))

    out = ["| class | trials | outcomes observed | double | lost | reproduce |",
           "|---|---:|---|---:|---:|---|"]
    for name, n, seen, double, lost, cmd in rows:
        out.append(f"| {name} | {n} | {seen} | {double} | {lost} | `{cmd}` |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the trials (default 1)")
    ap.add_argument("--json", type=Path, help="also keep the raw JSON lines here")
    ap.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = a.json or Path(tmp) / "reliability.jsonl"
        if raw.exists():
            raw.unlink()
        started = time.monotonic()
        rc = run(a.scale, a.pytest_args, raw)
        wall = time.monotonic() - started
        records = [json.loads(line) for line in raw.read_text().splitlines()] if raw.exists() else []
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} CPUs, {platform.system()} {platform.release()}), "
          f"LP_TRIALS_SCALE={a.scale:g}, pytest exit {rc}, {wall:.0f} s wall.\n")
    print(table(records, a.scale))
    return rc


if __name__ == "__main__":
    sys.exit(main())
