"""Helpers of the server's black-box tests (test_serve_*.py): a real
`pytest-live-pause serve` process on a free port (--port 0), raw HTTP
requests (http.client, so that a test can send any Host, duplicate headers
or method), and a reader of the event stream. Nothing waits with a bare
sleep: the start line, responses and events are read with bounded
timeouts."""
from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from conftest import WAIT

CLI_BIN = conftest.CLI


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG image (a browser decodes it: an orange and grey
    pattern), made with zlib."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = []
    for y in range(height):
        row = b"".join(b"\xe0\x70\x20" if (x // 8 + y // 8) % 2 else b"\xd9\xdd\xe5"
                       for x in range(width))
        rows.append(b"\x00" + row)
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return self.json()["error"]["code"]

    def __repr__(self) -> str:
        return f"<{self.status} {dict(self.headers)} {self.body[:500]!r}>"


class Server:
    """`pytest-live-pause serve --port 0 --json` on pause_dir."""

    def __init__(self, pause_dir: Path, *args: str, env: dict | None = None):
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [CLI_BIN, "serve", "--port", "0", "--json", "--pause-dir", str(pause_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        line = self._readline(self.proc.stdout)
        if not line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.kill()
            pytest.fail(f"serve printed no start line: exit {self.proc.returncode} {err!r}")
        self.start_line = line
        self.info = json.loads(line)
        self.port = self.info["port"]
        self.token = self.info["token"]
        self.host = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.host}"

    @staticmethod
    def _readline(stream, timeout: float = WAIT) -> str:
        ready, _, _ = select.select([stream], [], [], timeout)
        return stream.readline().rstrip("\n") if ready else ""

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict | list | None = None, token: bool | str = True,
                host: str | None = None, timeout: float = WAIT) -> Response:
        """One request on a fresh connection. headers may be a list of
        (name, value) pairs to send a name twice."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
            names = {k.lower() for k, _ in pairs}
            if "host" not in names:
                conn.putheader("Host", host or self.host)
            if token and "authorization" not in names:
                conn.putheader("Authorization",
                               f"Bearer {self.token if token is True else token}")
            data = json.dumps(body).encode() if isinstance(body, dict) else (
                body.encode() if isinstance(body, str) else body)
            if data is not None and "content-type" not in names:
                conn.putheader("Content-Type", "application/json")
            if data is not None and "content-length" not in names:
                conn.putheader("Content-Length", str(len(data)))
            for k, v in pairs:
                conn.putheader(k, v)
            conn.endheaders(data)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body, **kw) -> Response:
        return self.request("POST", path, body, **kw)

    def held_processes(self) -> int:
        """How many paused processes the server holds (a pidfd each): the
        pauses it made ready to resume (server/ready.c)."""
        n = 0
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                n += os.readlink(fd) == "anon_inode:[pidfd]"
            except OSError:  # closed meanwhile
                pass
        return n

    def wait_ready(self, n: int = 1) -> None:
        """Wait (bounded) until n pauses are made ready: the server read
        their pause_created and prepared them, so that the next resume
        takes the prepared path."""
        deadline = time.monotonic() + WAIT
        while self.held_processes() < n:
            if time.monotonic() > deadline:
                pytest.fail(f"serve made {self.held_processes()} of {n} pauses ready in {WAIT}s")
            time.sleep(0.005)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("serve did not stop within the bound")
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


class EventStream:
    """GET /api/events, read event by event (a bounded wait for each)."""

    def __init__(self, server: Server, last_event_id: str | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
        headers = {"Host": server.host, "Authorization": f"Bearer {server.token}",
                   "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/api/events", headers=headers)
        self.resp = self.conn.getresponse()
        self.comments: list[str] = []

    def next(self, timeout: float = WAIT) -> dict:
        """The next event: {"id", "event", "data"} (data parsed)."""
        deadline = time.monotonic() + timeout
        ev: dict = {}
        while time.monotonic() < deadline:
            raw = self.resp.readline()
            if not raw:
                pytest.fail(f"the event stream ended; events so far: {ev}")
            line = raw.decode().rstrip("\n")
            if line == "":
                if "event" in ev:
                    ev["data"] = json.loads(ev["data"])
                    return ev
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            key, _, value = line.partition(": ")
            ev[key] = value
        pytest.fail("no event within the bound")

    def until(self, event: str, pred=lambda d: True, timeout: float = WAIT) -> dict:
        """Skip to the next event of that name whose data satisfies pred."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.next(deadline - time.monotonic())
            if ev["event"] == event and pred(ev["data"]):
                return ev
        pytest.fail(f"no {event} event within the bound")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def serve(pause_dir: Path):
    """Start servers on this test's pause directory; killed at the end."""
    started: list[Server] = []

    def start(*args: str, env: dict | None = None) -> Server:
        s = Server(pause_dir, *args, env=env)
        started.append(s)
        return s

    yield start
    # every server still running stops cleanly on SIGTERM: exit 0 and no
    # sanitizer report (make asan runs these tests on an ASan+UBSan build)
    problems = []
    for s in started:
        if s.proc.poll() is not None:
            continue
        rc, _, err = s.stop()
        if rc != 0 or "Sanitizer" in err or "runtime error" in err:
            problems.append(f"serve (pid {s.proc.pid}) exit {rc}: {err[-3000:]}")
    assert not problems, "\n".join(problems)
