#!/usr/bin/env python3
"""Render the Markdown tables of docs/performance.md from a JSON file that
bench/run.py wrote:

    python bench/report.py bench/results/latest.json > /tmp/tables.md
    python bench/report.py bench/results/latest.json --compare other.json
        (adds a table of the targets' figures side by side with another run,
        e.g. bench/reference-run-6ad4d78.json, the run before the waits fix)
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Optional

THEIRS = ("0.1.1", "QAMule scripts", "QAMule signal floor")


def num(f: Optional[dict[str, Any]], spread: bool = True) -> str:
    if not f or f.get("median") is None:
        return "–"
    m = f["median"]
    if isinstance(m, float) and math.isnan(m):
        return "–"
    dig = 2 if abs(m) < 10 else 1 if abs(m) < 1000 else 0
    unit = f.get("unit", "")
    unit = {"ms": " ms", "s": " s", "%": " %", "x": "×", "MiB": " MiB", "files": ""}.get(unit, unit)
    text = f"{m:.{dig}f}{unit}"
    if spread and f.get("n", 1) > 1 and "min" in f:
        text += f" ({f['min']:.{dig}f}–{f['max']:.{dig}f})"
    return text


def ratio(t: Optional[dict[str, Any]]) -> str:
    if not t or not t.get("ratio_theirs_over_ours"):
        return ""
    r = t["ratio_theirs_over_ours"]
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"


def main_table(rows: list[dict[str, Any]]) -> str:
    used = [c for c in THEIRS if any(c in r["theirs"] for r in rows)]
    head = ["scenario", "metric", "ours", "target", "met"]
    for c in used:
        head += [c, "theirs/ours"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last = None
    for r in rows:
        tgt = r.get("target")
        met = "" if r.get("met") is None else ("**yes**" if r["met"] else "**NO**")
        cells = [r["scenario"] if r["scenario"] != last else "", r["metric"], num(r["ours"]),
                 f"{tgt['op'].replace('<=', '≤').replace('>=', '≥')} {tgt['value']:g}"
                 if tgt else "", met]
        last = r["scenario"]
        for c in used:
            t = r["theirs"].get(c)
            # a ratio of overhead figures says nothing: each is its own baseline
            cells += [num(t), "" if r["id"].startswith("overhead.") else ratio(t)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def scaling_table(scale: dict[str, Any]) -> str:
    sizes = [str(s) for s in scale["sizes"]]
    cmds = ["ls", "ls -a", "show", "watch --run-id (existing pause)", "resume <pause_id>",
            "runs -a", "runs -a --json"]
    head = ["command"] + [f"ours, {int(s):,} runs" for s in sizes] + \
        ([f"0.1.1, {int(s):,} runs" for s in sizes] if scale.get("v011") else [])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cmds:
        cells = [f"`{c}`"]
        for who in ("ours", "v011"):
            if who == "v011" and not scale.get("v011"):
                continue
            for s in sizes:
                f = scale[who].get(s, {}).get(c)
                cells.append(num(f, spread=False) if f else "n/a")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine(m: dict[str, Any]) -> str:
    return (f"{m['cpu_model']}, {m['nproc']} CPUs, {m['mem_total_gib']} GiB RAM; Linux "
            f"{m['kernel']}; Python {m['python']}; pytest {m['pytest']}; pause directory on "
            f"{m['pause_dir_fs']} ({m['pause_dir_device']}, mounted {m['pause_dir_mount']} "
            f"{m['pause_dir_mount_options']}); {m['ours_version']}; bench/ run from a checkout at "
            f"commit {m['repo_commit'] or '?'}; 0.1.1: {m['v011_version'] or 'not run'}; "
            f"{m['date_utc']}")


def compare_table(a: dict[str, Any], b: dict[str, Any]) -> str:
    rb = {r["id"]: r for r in b["rows"]}
    out = [f"| metric | {a['machine'].get('label') or 'this run'} | "
           f"{b['machine'].get('label') or 'other run'} | target |", "|---|---|---|---|"]
    for r in a["rows"]:
        if r.get("target") is None and ".nofsync." not in r["id"] and "probe." not in r["id"]:
            continue
        o = rb.get(r["id"])
        if o is None:
            continue
        tgt = r.get("target")
        t = f"{tgt['op'].replace('<=', '≤').replace('>=', '≥')} {tgt['value']:g}" if tgt else ""
        out.append(f"| {r['scenario'].split(' (')[0]}: {r['metric']} | {num(r['ours'])} | "
                   f"{num(o['ours'])} | {t} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    compare = None
    if len(argv) == 4 and argv[2] == "--compare":
        compare = json.load(open(argv[3]))
        argv = argv[:2]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    doc = json.load(open(argv[1]))
    print(f"Machine: {machine(doc['machine'])}. Suite wall time {doc['wall_s']} s.\n")
    print(main_table(doc["rows"]))
    if doc["results"].get("scale"):
        print("\nScaling (median ms):\n")
        print(scaling_table(doc["results"]["scale"]))
    if compare is not None:
        print("\nCompared:\n")
        print(compare_table(doc, compare))
    for n in doc.get("notes", []):
        print(f"\nNote: {n}")
    for k, v in doc.get("errors", {}).items():
        print(f"\nBROKEN: {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
