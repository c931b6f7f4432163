"""The server's figures (issue 14, point 6), side by side in one run:

  HTTP resume round trip   request sent (time.monotonic() in the driver,
                           just before the POST) -> the test has the
                           decision (time.monotonic() in the test right
                           after checkpoint() returns); the same run
                           alternates HTTP and CLI resumes, so the CLI
                           round trip (just before the `resume` process is
                           spawned -> the decision) is measured beside it.
  event latency            pause written (the pause file's created_at,
                           time.time() in the paused process) -> the
                           pause_created event read by each of C clients of
                           /api/events (time.time() in the client thread).
  serve's peak RSS         VmHWM of the server with C clients connected.

    python bench/scenario_serve.py [--quick] [--pauses N] [--clients C] [--out FILE]

(a long soak: --pauses 3000 --clients 50; every_event_delivered says
whether each client got every pause_created)

Needs pytest-live-pause (plugin, CLI, server) installed in this Python's
environment. Prints one JSON object; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CLI = shutil.which("pytest-live-pause") or str(BIN / "pytest-live-pause")

TEST = '''\
import os, time
import pytest
from pytest_live_pause import checkpoint

@pytest.mark.parametrize("i", range(int(os.environ["LP_N"])))
def test_cp(i):
    checkpoint(task=f"bench {i}", timeout=float("inf"))
    t = time.monotonic()
    with open(os.environ["LP_TIMES"], "a") as f:
        f.write(f"{i} {t!r}\\n")
'''


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def summary(xs: list[float]) -> dict:
    ms = [x * 1000 for x in xs]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(pct(ms, 99), 3), "max_ms": round(max(ms), 3)}


class Stream(threading.Thread):
    """One /api/events client recording (event, receive time, data)."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.request("GET", "/api/events", headers={
            "Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        self.events: list[tuple[str, float, dict]] = []
        self.cond = threading.Condition()

    def run(self) -> None:
        ev: dict = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line == "" and "event" in ev:
                    got = (ev["event"], time.time(), json.loads(ev["data"]))
                    with self.cond:
                        self.events.append(got)
                        self.cond.notify_all()
                    ev = {}
                elif line and not line.startswith(":"):
                    k, _, v = line.partition(": ")
                    ev[k] = v
        except OSError:
            return

    def wait_pause(self, seen: set, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for name, _, data in self.events:
                    if name == "pause_created" and data["pause_id"] not in seen:
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("no pause_created event in time")
                self.cond.wait(left)


def run(n: int, clients: int, work: Path) -> dict:
    pd = work / "pd"
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pd))
    srv = subprocess.Popen([CLI, "serve", "--port", "0", "--json", "--pause-dir", str(pd)],
                           stdout=subprocess.PIPE, text=True)
    info = json.loads(srv.stdout.readline())
    port, token = info["port"], info["token"]
    streams = [Stream(port, token) for _ in range(clients)]
    for s in streams:
        s.start()
    (work / "test_bench.py").write_text(TEST)
    times = work / "times.txt"
    env.update(LP_N=str(n), LP_TIMES=str(times))
    py = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_bench.py"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent: dict[int, tuple[str, float]] = {}
    seen: set = set()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(n):
        pause = streams[0].wait_pause(seen)
        pid = pause["pause_id"]
        seen.add(pid)
        idx = int(pause["task"].split()[-1])
        # let the paused process reach its wait (the banner is printed by then)
        time.sleep(0.02)
        if i % 2 == 0:
            body = json.dumps({"result": True, "reason": "http"})
            t0 = time.monotonic()
            conn.request("POST", f"/api/pauses/{pid}/resume", body=body, headers={
                "Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}",
                "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"resume over HTTP: {r.status}")
            sent[idx] = ("http", t0)
        else:
            t0 = time.monotonic()
            subprocess.run([CLI, "resume", pid, "--result", "true", "--pause-dir", str(pd)],
                           check=True, stdout=subprocess.DEVNULL)
            sent[idx] = ("cli", t0)
    py.wait(120)
    got = {}
    for line in times.read_text().splitlines():
        i, t = line.split()
        got[int(i)] = float(t)
    rt = {"http": [], "cli": []}
    for i, (how, t0) in sent.items():
        rt[how].append(got[i] - t0)
    # event latency: every client, every pause; and every event delivered
    lat = []
    delivered = []
    for s in streams:
        with s.cond:
            s.cond.wait_for(lambda: sum(e[0] == "pause_created" for e in s.events) >= n, 30)
            mine = [(at, data) for name, at, data in s.events if name == "pause_created"]
        lat += [at - data["created_at"] for at, data in mine]
        delivered.append(len({data["pause_id"] for _, data in mine}))
    with open(f"/proc/{srv.pid}/status") as f:
        hwm = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
    srv.terminate()
    srv.wait(30)
    out = {"pauses": n, "clients": clients,
           "http_resume_round_trip": summary(rt["http"]),
           "cli_resume_round_trip": summary(rt["cli"]),
           "event_latency": summary(lat),
           "serve_peak_rss_kib": hwm,
           "every_event_delivered": all(d == n for d in delivered)}
    out["http_vs_cli_p50"] = round(out["cli_resume_round_trip"]["p50_ms"] /
                                   out["http_resume_round_trip"]["p50_ms"], 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few pauses, 5 clients")
    ap.add_argument("--pauses", type=int, help="pauses (default 200; 6 with --quick)")
    ap.add_argument("--clients", type=int, help="event clients (default 50; 5 with --quick)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    n = a.pauses or (6 if a.quick else 200)
    c = a.clients or (5 if a.quick else 50)
    with tempfile.TemporaryDirectory(prefix="lp-bench-serve-") as d:
        res = run(n, c, Path(d))
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0 if res["every_event_delivered"] else 1


if __name__ == "__main__":
    sys.exit(main())
