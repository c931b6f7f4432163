"""The server's figures (issue 14, point 6), side by side in one run:

  HTTP resume round trip   request sent (time.monotonic() just before the
                           send(2) of a request built beforehand, on a
                           keep-alive socket) -> the test has the decision
                           (time.monotonic() in the test right after
                           checkpoint() returns); each run alternates HTTP
                           and CLI resumes, so the CLI round trip (just
                           before the `resume` process is spawned -> the
                           decision) is measured beside it. Two runs: with
                           no event client, then with C of them connected
                           (the second measures the resume while its
                           pause_ended is fanned out to C streams).
  event latency            pause written (the pause file's created_at,
                           time.time() in the paused process) -> the
                           pause_created event received by each of C
                           clients of /api/events (time.time() at the
                           recv(2) that completed it). The C clients run in
                           a process of their own, on one thread (a
                           selector; parsed after the run), not as threads
                           of the driver: its resume and their reads must
                           not share one interpreter lock or wait for it.
  serve's peak RSS         VmHWM of the server with C clients connected
                           (and VmRSS after the clients connected and at
                           the end, to see a leak in a soak).
  every event delivered    each client's event ids are consecutive from its
                           first event to the last one of the feed (no gap,
                           no repeat), and it saw pause_created and
                           pause_ended of every pause of the run.
  http floor               the physical floor of that round trip here
                           (floor/serve_floor.c: a C client, server and
                           waiter doing only the real path's steps: send,
                           recv, write and link a file made ahead, the
                           inotify wake, read, write and exchange), after
                           the no-client run, with its ratio.
  --phases                 where each HTTP round trip went: an LD_PRELOAD
                           shim (serve_phases/trace.c, built with cc) in
                           the server and the paused process timestamps
                           the request's recv(2), the command's linkat(2),
                           the paused process's open(2) of it, its
                           exchange (start and return), its append of
                           the end events (start and return), its
                           RESUMED line and the server's reply.

    python bench/scenario_serve.py [--quick] [--pauses N] [--clients C] [--phases]
                                   [--quiet-ms MS] [--out FILE]
    python bench/scenario_serve.py --soak 600 --clients 50 [--out FILE]
    python bench/scenario_serve.py --scale 10000 [--out FILE]

(--scale RUNS: that many finished runs (bench/scenario_scale.py's
generator) and one live paused session; GET /api/pauses, ?all=1 and
/api/runs timed on one keep-alive connection, beside `ls --json` and
`runs -a --json` of the CLI; and the CLI's own start time and peak RSS
(`pytest-live-pause --version`), which the server must leave unchanged)

(--quiet-ms MS: how long the driver and the floor probe stay quiet
between seeing a pause and resuming it, 20 by default, long enough for
both CPUs to go idle as they do while a person or an agent looks at a
pause; a smaller value measures the same round trip with warm caches, to
see how much of it is the cold wake: a diagnostic, never the figure
judged against a target)

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
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CLI = shutil.which("pytest-live-pause") or str(BIN / "pytest-live-pause")
#: the quiet before each resume, ms (--quiet-ms): both CPUs idle, as while
#: someone looks at a pause; the figure judged against the target
QUIET_MS = 20.0

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


def parse_events(chunks: list[tuple[float, bytes]]) -> list[tuple[int, str, float, dict]]:
    """(seq, event, receive time, data) of the events in a stream's
    chunks; an event's time is that of the chunk that completed it."""
    out, buf, ev = [], b"", {}
    for at, data in chunks:
        buf += data
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode()
            if line == "" and "event" in ev:
                out.append((int(ev["id"].rsplit(".", 1)[1]), ev["event"], at,
                            json.loads(ev["data"])))
                ev = {}
            elif line and not line.startswith(":"):
                k, _, v = line.partition(": ")
                ev[k] = v
    return out


def dechunk(chunks: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """The payload of a chunked (HTTP/1.1 Transfer-Encoding) body received
    as (time, bytes) pieces, each piece's payload keeping its time."""
    out, buf, need = [], b"", None  # need: bytes left in the chunk; -1: its CRLF
    for at, data in chunks:
        buf += data
        got = b""
        while True:
            if need is None:
                i = buf.find(b"\r\n")
                if i < 0:
                    break
                need = int(buf[:i].split(b";")[0], 16)
                buf = buf[i + 2:]
                if need == 0:
                    buf, need = b"", None  # the last chunk
                    break
            elif need == -1:
                if len(buf) < 2:
                    break
                buf, need = buf[2:], None
            else:
                take = buf[:need]
                got += take
                buf = buf[len(take):]
                need -= len(take)
                if need:
                    break
                need = -1
        out.append((at, got))
    return out


def event_clients(port: int, token: str, n: int, out: Path) -> int:
    """The C event-stream clients, in a process of their own (not the
    driver's: its send of the resume and the clients' reads must not share
    one interpreter lock) and on one thread: a selector over n connections
    that records (time.time(), bytes) per recv and parses them only at the
    end. Prints "ready" once every stream answered 200; stops when every
    client saw run_ended after stdin closed, or 60 s after that."""
    import selectors
    import socket
    req = (f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    chunks: list[list[tuple[float, bytes]]] = [[] for _ in range(n)]
    for k in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"GET /api/events: {head[:80]!r}")
        chunks[k].append((time.time(), head.split(b"\r\n\r\n", 1)[1]))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, k)
    sel.register(sys.stdin, selectors.EVENT_READ, -1)
    print("ready", flush=True)
    stop_at = None
    ended = [False] * n
    tail = [b""] * n  # the end of the last recv: "run_ended" split in two
    while True:
        if stop_at and (all(ended) or time.monotonic() > stop_at):
            break
        for key, _ in sel.select(0.5):
            k = key.data
            if k < 0:
                if not sys.stdin.readline():
                    sel.unregister(sys.stdin)
                    stop_at = time.monotonic() + 60
                continue
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            at = time.time()
            if not data:
                sel.unregister(key.fileobj)
                ended[k] = True
                continue
            chunks[k].append((at, data))
            if b"event: run_ended" in tail[k] + data:
                ended[k] = True
            tail[k] = data[-32:]
    streams = [[list(e) for e in parse_events(dechunk(c))] for c in chunks]
    out.write_text(json.dumps(streams))
    return 0


class Clients:
    """The event-client process (event_clients) seen from the driver."""

    def __init__(self, port: int, token: str, n: int, work: Path):
        self.out = work / f"events-{n}.json"
        self.proc = subprocess.Popen([sys.executable, __file__, "--event-clients",
                                      f"{port}:{token}:{n}:{self.out}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the event clients did not connect")

    def finish(self, timeout: float = 120) -> list[list[tuple[int, str, float, dict]]]:
        """Stop the clients and read what they received; timeout: for their
        last events and their parse (a soak's grows with its length)."""
        self.proc.stdin.close()
        if self.proc.wait(timeout):
            raise RuntimeError("the event clients failed")
        return [[tuple(e) for e in s] for s in json.loads(self.out.read_text())]


def rss_kib(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


def delivered(events: list, pauses: set, last_seq: int) -> str:
    """'' when a client got every event: ids consecutive up to last_seq and
    pause_created and pause_ended of every pause; else what is missing."""
    seqs = [e[0] for e in events]
    created = {e[3]["pause_id"] for e in events if e[1] == "pause_created"}
    ended = {e[3]["pause_id"] for e in events if e[1] == "pause_ended"}
    if not seqs:
        return "no event"
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        return f"ids not consecutive ({len(seqs)} events from {seqs[0]})"
    if seqs[-1] != last_seq:
        return f"last id {seqs[-1]}, the feed's {last_seq}"
    if created != pauses or ended != pauses:
        return f"{len(pauses - created)} pause_created, {len(pauses - ended)} pause_ended missing"
    return ""


class Resumer:
    """The HTTP resume as a client sends it, on one keep-alive socket: the
    request is built before the clock starts, so "request sent" is the
    moment of its send(2), not of http.client's header building."""

    def __init__(self, port: int, token: str):
        import socket
        self.port, self.token = port, token
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, pid: str) -> bytes:
        body = json.dumps({"result": True, "reason": "http"}).encode()
        return (f"POST /api/pauses/{pid}/resume HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def send(self, req: bytes) -> float:
        """Send req; the time just before the send; raises unless 200."""
        t0 = time.monotonic()
        self.sock.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            got = self.sock.recv(65536)
            if not got:
                raise RuntimeError("the server closed the resume connection")
            buf += got
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            rest += self.sock.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"resume over HTTP: {head[:40]!r} {rest[:200]!r}")
        return t0


def http_floor(n: int, work: Path, quiet_ms: float = QUIET_MS) -> dict:
    """The physical floor of an HTTP resume here (bench/floor/serve_floor.c,
    built with cc): a C client, server and waiter doing only the steps of
    the real path (send, recv, write and link a file made ahead, inotify
    wake, read, write and exchange), n rounds after quiet_ms of quiet each;
    the summary of send -> the waiter has its decision."""
    work.mkdir()
    exe, d = work / "serve_floor", work / "dir"
    subprocess.run(["cc", "-O2", "-o", str(exe),
                    str(Path(__file__).parent / "floor" / "serve_floor.c")], check=True)
    d.mkdir()
    out = subprocess.run([str(exe), str(d), str(n), repr(quiet_ms)], check=True,
                         capture_output=True,
                         text=True, timeout=600).stdout
    return summary([float(x) / 1e6 for x in out.split()])  # printed in us


def trace_env(work: Path) -> dict:
    """LD_PRELOAD of bench/serve_phases/trace.c (built here with cc)."""
    so, logs = work / "trace.so", work / "trace"
    logs.mkdir()
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(so),
                    str(Path(__file__).parent / "serve_phases" / "trace.c"), "-ldl"], check=True)
    return {"LD_PRELOAD": str(so), "LPTRACE_DIR": str(logs)}


def phases(logs: Path, srv_pid: int, py_pid: int, http: list, got: dict) -> dict:
    """Where each HTTP round trip went, from trace.c's lines: (label,
    process, call) marks in order, each taken as the first after the last."""
    lines = {}
    for f in logs.glob("*.log"):
        pid = int(f.stem)
        for line in f.read_text().splitlines():
            t, _, call, name = line.split(" ", 3)
            lines.setdefault((pid, call), []).append((float(t), name))
    marks = [("server read the request", srv_pid, "recv", False),
             ("the server links the command", srv_pid, "linkat", True),
             ("paused process opened it", py_pid, "open", True),
             ("it exchanges its final pause file with the pending one", py_pid, "renameat",
              True),
             ("that renameat2(2) returned", py_pid, "renamed", True),
             ("it appends its end events", py_pid, "events", False),
             ("that write(2) returned", py_pid, "evdone", False),
             ("Python prints RESUMED", py_pid, "say", False)]
    steps: dict[str, list] = {}
    for idx, pause_id, t0 in http:
        last, prev, ok = t0, "request sent", True
        for label, pid, call, named in marks:
            at = next((t for t, name in lines.get((pid, call), [])
                       if t >= last and (not named or pause_id in name)), None)
            if at is None:
                ok = False
                break
            steps.setdefault(f"{prev} -> {label}", []).append(at - last)
            last, prev = at, label
        if ok:
            steps.setdefault(f"{prev} -> the test has the decision", []).append(got[idx] - last)
            reply = next((t for t, _ in lines.get((srv_pid, "sendmsg"), []) if t >= t0), None)
            if reply is not None:
                steps.setdefault("(request sent -> the server sent its 200)", []).append(
                    reply - t0)
    return {k: summary(v) for k, v in steps.items()}


def run(n: int, clients: int, work: Path, soak: float = 0.0, trace: bool = False,
        quiet_ms: float = QUIET_MS) -> dict:
    """One pytest session of n pauses (or soak seconds of them), resumed
    alternately over HTTP and by the CLI, with `clients` event-stream
    clients connected (0: none). trace: the phases of each HTTP round trip
    (trace.c in the server and the paused process). quiet_ms: the quiet
    between seeing a pause and resuming it. The processes it
    started are killed if it fails."""
    procs: list[subprocess.Popen] = []
    try:
        return _run(n, clients, work, soak, trace, quiet_ms, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _run(n: int, clients: int, work: Path, soak: float, trace: bool, quiet_ms: float,
         procs: list) -> dict:
    work.mkdir()
    pd = work / "pd"
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=str(pd))
    tenv = trace_env(work) if trace else {}
    srv = subprocess.Popen([CLI, "serve", "--port", "0", "--json", "--pause-dir", str(pd)],
                           stdout=subprocess.PIPE, text=True, env=dict(os.environ, **tenv))
    procs.append(srv)
    info = json.loads(srv.stdout.readline())
    port, token = info["port"], info["token"]
    streams = Clients(port, token, clients, work) if clients else None
    if streams:
        procs.append(streams.proc)
    rss_connected = rss_kib(srv.pid)
    (work / "test_bench.py").write_text(TEST)
    times = work / "times.txt"
    t_start = time.time()
    env.update(LP_N=str(0 if soak else n), LP_UNTIL=repr(t_start + soak), LP_TIMES=str(times))
    py = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_bench.py"], cwd=work, env=dict(env, **tenv),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(py)
    sent: dict[int, tuple[str, float]] = {}
    ids: dict[int, str] = {}
    seen: set = set()
    # the driver finds each pause by polling the listing (the same with and
    # without event clients); it is idle by the time the resume is sent
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    hdrs = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"}
    resumer = Resumer(port, token)
    i = 0
    while py.poll() is None:
        try:
            conn.request("GET", "/api/pauses", headers=hdrs)
            listed = json.loads(conn.getresponse().read())["pauses"]
        except (http.client.HTTPException, ConnectionError):
            conn.close()  # closed while idle (30 s): a new one
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        fresh = [p for p in listed if p["pause_id"] not in seen]
        if not fresh:
            time.sleep(0.002)
            continue
        pid = fresh[0]["pause_id"]
        seen.add(pid)
        idx = int(fresh[0]["task"].split()[-1])
        ids[idx] = pid
        # let the paused process reach its wait and the event clients go idle
        time.sleep(quiet_ms / 1000)
        if i % 2 == 0:
            sent[idx] = ("http", resumer.send(resumer.request(pid)))
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
    out = {"pauses": len(seen), "clients": clients, "quiet_ms": quiet_ms,
           "seconds": round(elapsed, 1),
           "http_resume_round_trip": summary(rt["http"]),
           "cli_resume_round_trip": summary(rt["cli"])}
    out["http_vs_cli_p50"] = round(out["cli_resume_round_trip"]["p50_ms"] /
                                   out["http_resume_round_trip"]["p50_ms"], 2)
    if trace:
        over_http = [(k, ids[k], t0) for k, (how, t0) in sent.items() if how == "http"]
        out["http_phases"] = phases(Path(tenv["LPTRACE_DIR"]), info["pid"], py.pid, over_http,
                                    got)
    if streams:
        events = streams.finish(120 + soak)  # a 10-minute soak: ~2M events to parse
        last_seq = max(e[0] for s in events for e in s)
        problems, lat = {}, []
        for k, s in enumerate(events):
            why = delivered(s, seen, last_seq)
            if why:
                problems[k] = why
            lat += [at - data["created_at"] for _, name, at, data in s
                    if name == "pause_created"]
        out.update({"events_per_client": last_seq, "event_latency": summary(lat),
                    "every_event_delivered": not problems and len(seen) > 0,
                    "delivery_problems": problems})
    rss_end = rss_kib(srv.pid)
    srv.terminate()
    srv.wait(30)
    out.update({"serve_rss_kib": {"connected": rss_connected["VmRSS"], "end": rss_end["VmRSS"]},
                "serve_peak_rss_kib": rss_end["VmHWM"], "loadavg": os.getloadavg()})
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
    ap.add_argument("--clients", type=int,
                    help="event clients (default 50; 5 with --quick; 0: the no-client run only)")
    ap.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                    help="pause again and again for this long instead of --pauses")
    ap.add_argument("--scale", type=int, default=0, metavar="RUNS",
                    help="time the list routes with this many finished runs")
    ap.add_argument("--phases", action="store_true",
                    help="also say where each HTTP round trip went (an LD_PRELOAD shim, "
                         "bench/serve_phases/trace.c, built with cc)")
    ap.add_argument("--quiet-ms", type=float, default=QUIET_MS, metavar="MS",
                    help=f"quiet between seeing a pause and resuming it (default {QUIET_MS:g}: both "
                         "CPUs idle, as while someone looks at a pause; less: warm caches, "
                         "a diagnostic)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--event-clients", help=argparse.SUPPRESS)  # PORT:TOKEN:N:OUT (internal)
    a = ap.parse_args()
    if a.event_clients:
        port, token, n, out = a.event_clients.split(":", 3)
        return event_clients(int(port), token, int(n), Path(out))
    if a.scale:
        with tempfile.TemporaryDirectory(prefix="lp-bench-serve-scale-") as d:
            res = scale(a.scale, Path(d))
        text = json.dumps(res, indent=1)
        print(text)
        if a.out:
            a.out.write_text(text + "\n")
        return 0
    n = a.pauses or (6 if a.quick else 200)
    c = a.clients if a.clients is not None else (5 if a.quick else 50)
    with tempfile.TemporaryDirectory(prefix="lp-bench-serve-") as d:
        if a.soak:
            res = run(n, c, Path(d) / "soak", a.soak, quiet_ms=a.quiet_ms)
            ok = res["every_event_delivered"]
        else:
            # the round trip with no event client, then with c of them:
            # the second measures the resume while the server and the
            # clients' process fan its pause_ended out
            res = {"no_clients": run(n, 0, Path(d) / "none", trace=a.phases,
                                     quiet_ms=a.quiet_ms)}
            floor = http_floor(max(n // 2, 5), Path(d) / "floor", a.quiet_ms)
            res["no_clients"]["http_floor"] = floor
            res["no_clients"]["http_vs_floor_p50"] = round(
                res["no_clients"]["http_resume_round_trip"]["p50_ms"] / floor["p50_ms"], 2)
            if c:
                res[f"{c}_clients"] = run(n, c, Path(d) / "clients", trace=a.phases,
                                          quiet_ms=a.quiet_ms)
            ok = all(r.get("every_event_delivered", True) for r in res.values())
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
