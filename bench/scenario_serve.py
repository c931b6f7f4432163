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
  serve's peak RSS         VmHWM of the server with C clients connected
                           (and VmRSS after the clients connected and at
                           the end, to see a leak in a soak).
  every event delivered    each client's event ids are consecutive from its
                           first event to the last one of the feed (no gap,
                           no repeat), and it saw pause_created and
                           pause_ended of every pause of the run.

    python bench/scenario_serve.py [--quick] [--pauses N] [--clients C] [--out FILE]
    python bench/scenario_serve.py --soak 600 --clients 50 [--out FILE]
    python bench/scenario_serve.py --scale 10000 [--out FILE]

(--scale RUNS: that many finished runs (bench/scenario_scale.py's
generator) and one live paused session; GET /api/pauses, ?all=1 and
/api/runs timed on one keep-alive connection, beside `ls --json` and
`runs -a --json` of the CLI; and the CLI's own start time and peak RSS
(`pytest-live-pause --version`), which the server must leave unchanged)

(--soak SECONDS: the test pauses again and again for that long, every
pause resumed over HTTP and by the CLI in turn; the 10-minute soak of issue
14 is --soak 600 --clients 50)

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
from pytest_live_pause import checkpoint

def test_cp():
    n = int(os.environ["LP_N"])
    until = float(os.environ["LP_UNTIL"])
    i = 0
    while i < n if n else time.time() < until:
        checkpoint(task=f"bench {i}", timeout=float("inf"))
        t = time.monotonic()
        with open(os.environ["LP_TIMES"], "a") as f:
            f.write(f"{i} {t!r}\\n")
        i += 1
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
    """One /api/events client recording (seq, event, receive time, data)."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.request("GET", "/api/events", headers={
            "Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        self.events: list[tuple[int, str, float, dict]] = []
        self.cond = threading.Condition()
        self.error = ""

    def run(self) -> None:
        ev: dict = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    self.error = "the stream ended"
                    return
                line = line.decode().rstrip("\n")
                if line == "" and "event" in ev:
                    got = (int(ev["id"].rsplit(".", 1)[1]), ev["event"], time.time(),
                           json.loads(ev["data"]))
                    with self.cond:
                        self.events.append(got)
                        self.cond.notify_all()
                    ev = {}
                elif line and not line.startswith(":"):
                    k, _, v = line.partition(": ")
                    ev[k] = v
        except OSError as e:
            self.error = str(e)
            return

    def wait_pause(self, seen: set, timeout: float) -> dict | None:
        """The next pause_created not in seen, or None after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for k in range(self.scan, len(self.events)):
                    _, name, _, data = self.events[k]
                    if name == "pause_created" and data["pause_id"] not in seen:
                        self.scan = k
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    scan = 0


def rss_kib(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


def delivered(s: Stream, pauses: set, last_seq: int) -> str:
    """'' when s got every event: ids consecutive up to last_seq and
    pause_created and pause_ended of every pause; else what is missing."""
    with s.cond:
        seqs = [e[0] for e in s.events]
        created = {e[3]["pause_id"] for e in s.events if e[1] == "pause_created"}
        ended = {e[3]["pause_id"] for e in s.events if e[1] == "pause_ended"}
    if not seqs:
        return "no event"
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        return f"ids not consecutive ({len(seqs)} events from {seqs[0]})"
    if seqs[-1] != last_seq:
        return f"last id {seqs[-1]}, the feed's {last_seq}"
    if created != pauses or ended != pauses:
        return f"{len(pauses - created)} pause_created, {len(pauses - ended)} pause_ended missing"
    return ""


def run(n: int, clients: int, work: Path, soak: float = 0.0) -> dict:
    pd = work / "pd"
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pd))
    srv = subprocess.Popen([CLI, "serve", "--port", "0", "--json", "--pause-dir", str(pd)],
                           stdout=subprocess.PIPE, text=True)
    info = json.loads(srv.stdout.readline())
    port, token = info["port"], info["token"]
    streams = [Stream(port, token) for _ in range(clients)]
    for s in streams:
        s.start()
    rss_connected = rss_kib(srv.pid)
    (work / "test_bench.py").write_text(TEST)
    times = work / "times.txt"
    t_start = time.time()
    env.update(LP_N=str(0 if soak else n), LP_UNTIL=repr(t_start + soak), LP_TIMES=str(times))
    py = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_bench.py"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent: dict[int, tuple[str, float]] = {}
    seen: set = set()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i = 0
    while py.poll() is None:
        pause = streams[0].wait_pause(seen, 1.0)
        if pause is None:
            continue
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
        i += 1
    elapsed = time.time() - t_start
    got = {}
    for line in times.read_text().splitlines():
        k, t = line.split()
        got[int(k)] = float(t)
    rt = {"http": [], "cli": []}
    for k, (how, t0) in sent.items():
        rt[how].append(got[k] - t0)
    # every client: the run_ended event is the feed's last
    lat = []
    for s in streams:
        with s.cond:
            s.cond.wait_for(lambda: any(e[1] == "run_ended" for e in s.events), 30)
    last_seq = max(e[0] for s in streams for e in s.events)
    problems = {}
    for k, s in enumerate(streams):
        why = delivered(s, seen, last_seq)
        if why:
            problems[k] = why + (f" ({s.error})" if s.error else "")
        with s.cond:
            lat += [at - data["created_at"] for _, name, at, data in s.events
                    if name == "pause_created"]
    rss_end = rss_kib(srv.pid)
    srv.terminate()
    srv.wait(30)
    out = {"pauses": len(seen), "clients": clients, "seconds": round(elapsed, 1),
           "events_per_client": last_seq,
           "http_resume_round_trip": summary(rt["http"]),
           "cli_resume_round_trip": summary(rt["cli"]),
           "event_latency": summary(lat),
           "serve_rss_kib": {"connected": rss_connected["VmRSS"], "end": rss_end["VmRSS"]},
           "serve_peak_rss_kib": rss_end["VmHWM"],
           "every_event_delivered": not problems and len(seen) > 0,
           "delivery_problems": problems,
           "loadavg": os.getloadavg()}
    out["http_vs_cli_p50"] = round(out["cli_resume_round_trip"]["p50_ms"] /
                                   out["http_resume_round_trip"]["p50_ms"], 2)
    return out


def scale(runs: int, work: Path, reps: int = 21) -> dict:
    from _common import peak_rss_kib
    from scenario_scale import Generator

    pd = work / "pd"
    pd.mkdir(mode=0o700)
    gen_s = Generator(pd).grow_to(runs)
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pd))
    (work / "test_live.py").write_text(TEST)
    py = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_live.py"], cwd=work,
                          env=dict(env, LP_N="1", LP_UNTIL="0", LP_TIMES=str(work / "t.txt")),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = subprocess.Popen([CLI, "serve", "--port", "0", "--json", "--pause-dir", str(pd)],
                           stdout=subprocess.PIPE, text=True)
    info = json.loads(srv.stdout.readline())
    port, token = info["port"], info["token"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    hdrs = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"}

    def get(path: str) -> tuple[float, dict]:
        nonlocal conn
        for attempt in (0, 1):
            try:
                t0 = time.perf_counter()
                conn.request("GET", path, headers=hdrs)
                r = conn.getresponse()
                body = r.read()
                dt = time.perf_counter() - t0
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closes a connection idle for 30 s: a new one
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                if attempt:
                    raise
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
        return dt, json.loads(body)

    deadline = time.monotonic() + 60
    while not get("/api/pauses")[1]["pauses"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the live session did not pause")
        time.sleep(0.05)
    out: dict = {"runs": runs, "generate_s": round(gen_s, 1)}
    for path in ("/api/pauses", "/api/pauses?all=1", "/api/runs"):
        get(path)  # warm
        times = []
        for _ in range(reps):
            dt, doc = get(path)
            times.append(dt)
        n = len(doc.get("pauses", doc.get("runs", [])))
        out[f"GET {path}"] = dict(summary(times), items=n)
    for argv in (["ls", "--json"], ["runs", "-a", "--json"]):
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            subprocess.run([CLI, *argv], env=env, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        out["cli " + " ".join(argv)] = summary(times)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([CLI, "--version"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    out["cli --version (start time)"] = summary(times)
    out["cli --version peak_rss_kib"] = peak_rss_kib([CLI, "--version"])[0]
    out["serve_peak_rss_kib"] = rss_kib(srv.pid)["VmHWM"]
    pid = get("/api/pauses")[1]["pauses"][0]["pause_id"]
    conn.request("POST", f"/api/pauses/{pid}/resume", body=json.dumps({"result": True}),
                 headers=dict(hdrs, **{"Content-Type": "application/json"}))
    conn.getresponse().read()
    py.wait(60)
    srv.terminate()
    srv.wait(30)
    out["loadavg"] = os.getloadavg()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few pauses, 5 clients")
    ap.add_argument("--pauses", type=int, help="pauses (default 200; 6 with --quick)")
    ap.add_argument("--clients", type=int, help="event clients (default 50; 5 with --quick)")
    ap.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                    help="pause again and again for this long instead of --pauses")
    ap.add_argument("--scale", type=int, default=0, metavar="RUNS",
                    help="time the list routes with this many finished runs")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.scale:
        with tempfile.TemporaryDirectory(prefix="lp-bench-serve-scale-") as d:
            res = scale(a.scale, Path(d))
        text = json.dumps(res, indent=1)
        print(text)
        if a.out:
            a.out.write_text(text + "\n")
        return 0
    n = a.pauses or (6 if a.quick else 200)
    c = a.clients or (5 if a.quick else 50)
    with tempfile.TemporaryDirectory(prefix="lp-bench-serve-") as d:
        res = run(n, c, Path(d), a.soak)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0 if res["every_event_delivered"] else 1


if __name__ == "__main__":
    sys.exit(main())
