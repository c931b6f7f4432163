"""The Python epilogue of a resume (issue 14.6): from the runtime's wait
returning in the paused process to checkpoint() handing the test its
Decision. Two tools, both over bench/scenario_serve.py's HTTP round trip
(--phases, the LD_PRELOAD shim serve_phases/trace.c):

  A/B      each PKG (a copy of an installed pytest_live_pause package
           directory, put first on PYTHONPATH of the paused pytest) in
           turn, interleaved over --rounds rounds; per round the p50 of
           scenario_serve's two Python phases ("that write(2) returned ->
           Python prints RESUMED": the C wait's own end and the Python up
           to the terminal write; "Python prints RESUMED -> the test has
           the decision") and of the whole HTTP round trip; then the
           median over the rounds. Copy a variant with
           `cp -r .venv/lib/python3.*/site-packages/pytest_live_pause /tmp/X/`.
  --stamps a copy of the installed package with time.monotonic_ns()
           stamps inserted at the epilogue's steps (ANCHORS below: a line
           of the current sources each, the stamp goes before it), dumped
           at exit; the p50 of each step over one session. The stamps
           cost a little themselves (a call each, cold too).

    python bench/epilogue.py [--pauses N] [--rounds R] A=/tmp/a B=/tmp/b
    python bench/epilogue.py --stamps [--pauses N]

Half of each session's pauses are resumed by the CLI (scenario_serve's
alternation); only the HTTP ones are counted. Not product code.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import scenario_serve  # noqa: E402

MINE = ("that write(2) returned -> Python prints RESUMED",
        "Python prints RESUMED -> the test has the decision")

# (file, a line of it, label): a stamp before the first line that matches
# (a pattern "A.*?B": the first line matching B after the first matching A)
ANCHORS = [
    ("_pausing.py", r"self\._waited = True$", "T0 wait returned"),
    ("_pausing.py", r"resumed\(resumed_text\(kind, tail, res\)\)$", "T1 before the RESUMED write"),
    ("_pausing.py", r"return res$", "T3 capture restored"),
    ("_pausing.py", r"return Ended\(pause\.pause_id, res\)$", "T4 evidence recorded"),
    ("_pausing.py", r"_set_handler\(_SIGTERM, previous\)$", "T4b in the finally"),
    ("_pausing.py", r"def _checkpoint\(.*?if _abort\.was_aborted\(ended\):$",
     "T5 back in _checkpoint (SIGTERM handler restored)"),
    ("_pausing.py", r"return _outcome\.checkpoint_decision\(ended\), ended$",
     "T6 not aborted"),
]
# after the RESUMED write (its line, then a stamp) and in checkpoint()
AFTER = [("_pausing.py", r"resumed\(resumed_text\(kind, tail, res\)\)$", "T2 RESUMED written"),
         ("_pausing.py", r"_set_handler\(_SIGTERM, previous\)$", "T4c SIGTERM handler restored")]
STAMP = ("import atexit as _a, os as _o, time as _t\n_LP_ST = []\n"
         "_a.register(lambda: open(_o.environ['LP_STAMPS'], 'a').write(''.join("
         "f'{k}\\t{v}\\n' for k, v in _LP_ST)))\n")


def stamped(dst: Path) -> Path:
    """A copy of the installed package with the stamps in it."""
    import pytest_live_pause

    src = Path(pytest_live_pause.__file__).parent
    pkg = dst / "pytest_live_pause"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    f = pkg / "_pausing.py"
    lines = f.read_text().splitlines(keepends=True)
    for where, after in ((ANCHORS, False), (AFTER, True)):
        for _, pat, label in where:
            since, _, pat = pat.rpartition(".*?")
            start = next((i for i, line in enumerate(lines) if re.search(since, line)), 0) if since else 0
            k = next((i for i, line in enumerate(lines)
                      if i >= start and re.search(pat, line.rstrip())), None)
            if k is None:
                sys.exit(f"epilogue.py: no line of _pausing.py matches {pat!r}: update ANCHORS")
            indent = re.match(r"\s*", lines[k]).group(0)
            mark = f"{indent}_LP_ST.append(({label!r}, _t.monotonic_ns()))\n"
            lines.insert(k + 1 if after else k, mark)
    body = "".join(lines)
    head = body.index("\nimport pytest\n")
    f.write_text(body[:head + 1] + STAMP + body[head + 1:])
    return dst


def session(pkg: str | None, n: int, work: Path) -> dict:
    env = os.environ.get("PYTHONPATH")
    if pkg:
        os.environ["PYTHONPATH"] = pkg + (os.pathsep + env if env else "")
    try:
        return scenario_serve.run(n, 0, work, trace=True)
    finally:
        if env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env


def ab(variants: list[tuple[str, str]], n: int, rounds: int, tmp: Path) -> dict:
    per: dict[str, dict[str, list[float]]] = {name: {} for name, _ in variants}
    for r in range(rounds):
        for name, pkg in variants if r % 2 == 0 else variants[::-1]:
            res = session(pkg, n, tmp / f"{name}-{r}")
            got = {k: res["http_phases"][k]["p50_ms"] for k in MINE}
            got["python (sum of the two)"] = sum(got.values())
            got["http_resume_round_trip"] = res["http_resume_round_trip"]["p50_ms"]
            for k, v in got.items():
                per[name].setdefault(k, []).append(v)
            print(name, r, json.dumps(got), file=sys.stderr)
    return {name: {k: {"median_of_p50_ms": round(statistics.median(v), 3), "rounds": v}
                   for k, v in d.items()} for name, d in per.items()}


def stamps(n: int, tmp: Path) -> dict:
    out = tmp / "stamps.txt"
    os.environ["LP_STAMPS"] = str(out)
    session(str(stamped(tmp / "pkg")), n, tmp / "run")
    seqs: list[list[tuple[str, int]]] = []
    for line in out.read_text().splitlines():
        k, t = line.split("\t")
        if k.startswith("T0"):
            seqs.append([])
        if seqs:
            seqs[-1].append((k, int(t)))
    steps: dict[str, list[float]] = {}
    for s in seqs:
        for (a, ta), (b, tb) in zip(s, s[1:]):
            steps.setdefault(f"{a} -> {b}", []).append((tb - ta) / 1e3)
    return {k: {"n": len(v), "p50_us": round(statistics.median(v), 1)} for k, v in steps.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pauses", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stamps", action="store_true")
    ap.add_argument("variants", nargs="*", metavar="NAME=PKGDIR")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lp-bench-epilogue-") as d:
        if a.stamps:
            res = stamps(a.pauses, Path(d))
        else:
            variants = [tuple(v.split("=", 1)) for v in a.variants] or [("installed", "")]
            res = ab(variants, a.pauses, a.rounds, Path(d))  # type: ignore[arg-type]
    res["loadavg"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
