"""`pytest-live-pause serve`, black-box: a real server process (exec'd by
the real CLI), real pytest sessions pausing in the same pause directory,
raw HTTP. The start line and serve.json, the clean stop, the security
gate (token, Host, duplicate headers, methods, Content-Type, Origin, body
cap), each error code, the API objects (the same as `ls --json` and `show
--json`), resumes that the paused test receives, the event stream, and
exactly one outcome when HTTP, the CLI and the deadline race."""
from __future__ import annotations

import json
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from _paused import (
    CHECKPOINT_AND_FAILURE,
    TRIALS,
    EXIT,
    cli_env,
    decisions,
    end_events,
    wait_decision,
    wait_paused,
)
from _serve import CLI_BIN, EventStream, serve  # noqa: F401 (the fixture)
from conftest import WAIT, command_file, read_events, read_pause

START_RX = r"^pytest-live-pause serve: http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})$"


def session(live, pytester, *args, env=None):
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    return live("-s", *args, "test_paused.py", env=env)


# ------------------------------------------------------------ start and stop


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_start_line_serve_json_and_clean_stop(pause_dir, sig):
    proc = subprocess.Popen([CLI_BIN, "serve", "--port", "0", "--pause-dir", str(pause_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().rstrip("\n")
        m = re.match(START_RX, line)
        assert m, line
        port, token = int(m.group(1)), m.group(2)
        sj = pause_dir / "serve.json"
        assert stat.S_IMODE(sj.stat().st_mode) == 0o600
        info = json.loads(sj.read_text())
        assert info == {"url": f"http://127.0.0.1:{port}/?token={token}", "host": "127.0.0.1",
                        "port": port, "token": token, "pid": proc.pid}
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=WAIT)
    # exactly one line on stdout, nothing on stderr, exit 0, serve.json gone
    assert (proc.returncode, out, err) == (0, "", ""), (proc.returncode, out, err)
    assert not (pause_dir / "serve.json").exists()


def test_json_start_line_and_two_servers_get_different_tokens(serve, pause_dir):
    a = serve()
    assert set(a.info) == {"url", "host", "port", "token", "pid"}
    assert len(a.token) >= 32 and a.info["pid"] == a.proc.pid
    b = serve()
    assert b.token != a.token and b.port != a.port
    # the first's token does not open the second
    assert b.get("/api/pauses", token=a.token).status == 401
    assert a.stop()[0] == 0


def test_taken_port_and_bad_options_are_one_line_errors(serve, pause_dir, tmp_path):
    a = serve()
    cases = [
        (["--port", str(a.port)], EXIT["error"], "cannot listen on 127.0.0.1 port"),
        (["--port", "70000"], EXIT["usage"], "--port must be 0..65535"),
        (["--host", "0.0.0.0"], EXIT["usage"], "add --allow-remote"),
        (["--host", "0.0.0.0", "--allow-remote"], EXIT["usage"], "needs --tls-cert and --tls-key"),
        (["--tls-cert", "x.pem"], EXIT["usage"], "--tls-cert and --tls-key go together"),
        (["--bogus"], EXIT["usage"], "unknown option '--bogus'"),
    ]
    for args, code, text in cases:
        r = subprocess.run([CLI_BIN, "serve", "--pause-dir", str(pause_dir), *args],
                           capture_output=True, text=True, timeout=WAIT)
        assert r.returncode == code and r.stdout == "", (args, r)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pytest-live-pause serve: error: "), (args, r)
        assert text in lines[0], (args, r)
    # an unsafe pause directory: the CLI's exit code and message
    bad = tmp_path / "open"
    bad.mkdir(mode=0o777)
    bad.chmod(0o777)
    r = subprocess.run([CLI_BIN, "serve", "--port", "0", "--pause-dir", str(bad)],
                       capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == EXIT["unsafe"] and "chmod 700" in r.stderr, r


def test_the_cli_does_not_load_libmicrohttpd():
    """The server is its own program: the CLI's start time and memory stay
    a small C program's (issue 14, point 1)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("no ldd here")
    serve_bin = str(Path(CLI_BIN).resolve().parent / "pytest-live-pause-serve")
    cli_libs = subprocess.run([ldd, CLI_BIN], capture_output=True, text=True).stdout
    serve_libs = subprocess.run([ldd, serve_bin], capture_output=True, text=True).stdout
    assert "libmicrohttpd" in serve_libs, serve_libs
    assert "libmicrohttpd" not in cli_libs and "gnutls" not in cli_libs, cli_libs


def test_help_documents_every_option(pause_dir):
    r = subprocess.run([CLI_BIN, "serve", "--help"], capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.startswith("usage: pytest-live-pause serve")
    for opt in ("--host", "--port", "--pause-dir", "--json", "--allow-remote", "--tls-cert",
                "--tls-key", "--help"):
        assert opt in r.stdout, opt
    main = subprocess.run([CLI_BIN, "--help"], capture_output=True, text=True, timeout=WAIT)
    assert re.search(r"^  serve\s+\S", main.stdout, re.M), main.stdout
    assert not pause_dir.exists()  # help writes nothing


# ------------------------------------------------------------ the gate


API_GETS = ["/api/pauses", "/api/pauses?all=1", "/api/runs", "/api/pauses/r.0000abcd",
            "/api/events", "/openapi.json"]


def test_every_route_needs_the_token(serve):
    s = serve()
    for path in API_GETS:
        for token in (False, "0" * 64, s.token[:-1]):
            r = s.get(path, token=token)
            assert r.status == 401 and r.error_code == "unauthorized", (path, token, r)
            assert r.headers["Content-Type"] == "application/json"
    for path in ("/api/pauses/r.0000abcd/resume", "/api/pauses/r.0000abcd/abort"):
        r = s.post(path, {}, token=False)
        assert r.status == 401 and r.error_code == "unauthorized", (path, r)
    assert s.get("/api/pauses").json() == {"pauses": []}
    assert s.get("/api/runs").json() == {"runs": []}
    r = s.get("/", token=False)
    assert r.status == 401 and b"?token=" in r.body


def test_host_header_is_checked_before_anything_else(serve):
    s = serve()
    p = s.port
    for host in (f"evil.example:{p}", f"127.0.0.1:{p + 1}", "127.0.0.1", f"localhost.evil:{p}",
                 f"127.0.0.2:{p}"):
        # even with no token and a route that does not exist: 403 first
        for path, token in (("/api/pauses", True), ("/nowhere", False)):
            r = s.get(path, host=host, token=token)
            assert r.status == 403 and r.error_code == "bad_host", (host, path, r)
    r = s.get("/api/pauses", headers=[("Host", s.host), ("Host", s.host)])
    assert r.status in (400, 403), r
    for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LOCALHOST:{p}", f"[::1]:{p}"):
        assert s.get("/api/pauses", host=host).status == 200, host


def test_duplicate_length_or_encoding_headers_are_refused(serve):
    s = serve()
    path = "/api/pauses/r.0000abcd/resume"
    r = s.post(path, b"{}", headers=[("Content-Length", "2"), ("Content-Length", "2")])
    assert r.status == 400, r
    r = s.request("POST", path, headers=[("Content-Type", "application/json"),
                                         ("Transfer-Encoding", "chunked"),
                                         ("Transfer-Encoding", "chunked")],
                  body=None)
    assert r.status == 400, r


def test_methods_options_and_no_cors(serve):
    s = serve()
    for method in ("OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"):
        r = s.request(method, "/api/pauses", headers=[("Origin", "http://evil.example")])
        assert r.status == 405 and r.error_code == "method_not_allowed", (method, r)
        assert r.headers["Allow"] == "GET", r
        assert not any(k.lower().startswith("access-control-") for k in r.headers), r
    r = s.request("OPTIONS", "/api/pauses/r.0000abcd/resume")
    assert r.status == 405 and r.headers["Allow"] == "POST", r
    assert s.get("/api/pauses/r.0000abcd/resume").status == 405
    assert s.post("/api/pauses", {}).status == 405
    assert s.post("/api/runs", {}).status == 405
    r = s.get("/api/nowhere")
    assert r.status == 404 and r.error_code == "not_found", r
    r = s.get("/api/pauses/..")
    assert r.status == 400 and r.error_code == "LP_EINVAL", r
    r = s.get("/api/pauses?all=yes")
    assert r.status == 400, r


def test_post_needs_json_and_our_origin_and_a_small_body(serve, tmp_path):
    s = serve()
    path = "/api/pauses/r.0000abcd/resume"
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
               "application/jsonx"):
        r = s.post(path, "{}", headers={"Content-Type": ct})
        assert r.status == 415 and r.error_code == "unsupported_media_type", (ct, r)
    for origin in ("http://evil.example", f"http://127.0.0.1:{s.port + 1}", "null"):
        r = s.post(path, {}, headers={"Origin": origin})
        assert r.status == 403 and r.error_code == "bad_origin", (origin, r)
    # our Origin passes the gate (then: no such pause)
    r = s.post(path, {}, headers={"Origin": s.origin})
    assert r.status == 404 and r.error_code == "LP_ENOTFOUND", r
    # the cookie (a browser) without an Origin is refused
    r = s.post(path, {}, token=False, headers={"Cookie": f"lp_token={s.token}"})
    assert r.status == 403 and r.error_code == "bad_origin", r
    r = s.post(path, {}, token=False, headers={"Cookie": f"lp_token={s.token}", "Origin": s.origin})
    assert r.status == 404, r
    r = s.post(path, "x" * (70 * 1024))
    assert r.status == 413 and r.error_code == "payload_too_large", r
    for body, text in (("{", "not valid JSON"), ("[]", "must be a JSON object"),
                       ('{"a": 1}', 'unknown field "a"'),
                       ('{"reason": "a", "reason": "b"}', "not valid JSON"),
                       ('{"result": "yes"}', "true, false or null"),
                       ('{"failure_reason": 3}', "must be a string"),
                       ('{"failure_reason": "x", "result": true}', "one or the other")):
        r = s.post(path, body)
        assert r.status == 400 and r.error_code == "bad_request", (body, r)
        assert text in r.json()["error"]["message"], (body, r)


def test_login_sets_a_strict_cookie_and_the_page_has_no_inline_script(serve):
    s = serve()
    r = s.get(f"/?token={s.token}", token=False)
    assert r.status == 303 and r.headers["Location"] == "/", r
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"lp_token={s.token};"), cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    r = s.get(f"/?token={'0' * 64}", token=False)
    assert r.status == 401, r
    page = s.get("/", token=False, headers={"Cookie": f"lp_token={s.token}"})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    # scripts only from files; no inline handlers
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/app.js" defer>'], html
    assert not re.search(r"\son[a-z]+=", html)
    js = s.get("/app.js", token=False, headers={"Cookie": f"lp_token={s.token}"}).body.decode()
    assert "innerHTML" not in js and "textContent" in js
    for r in (page, s.get("/api/pauses"), s.get("/nowhere")):
        h = r.headers
        csp = h["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["X-Frame-Options"] == "DENY"
    doc = s.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/api/pauses/{pause_id}/resume" in doc["paths"]


# ------------------------------------------------------------ the API on real pauses


def test_failure_resumed_over_http_with_the_cli_objects(serve, live, pytester, cli, pause_dir):
    srv = serve()
    s = session(live, pytester, "--pause-on-failure", "-k", "test_failure")
    info = wait_paused(s, cli, kind="failure")
    pid = info["pause_id"]
    # the same objects as the CLI prints
    ls = [json.loads(line) for line in cli("ls", "--json").stdout.splitlines()]
    assert srv.get("/api/pauses").json() == {"pauses": ls}
    assert srv.get(f"/api/pauses/{pid}").json() == cli("show", "--json", pid).json()
    runs = srv.get("/api/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == [s.run_id] and runs[0]["state"] == "active"
    # a checkpoint's fields do not fit a failure: 400, nothing written
    r = srv.post(f"/api/pauses/{pid}/resume", {"result": True})
    assert r.status == 400 and r.error_code == "LP_EKIND", r
    assert not command_file(pause_dir, pid).exists()
    r = srv.post(f"/api/pauses/{pid}/resume", {"failure_reason": "device lost <b>Wi-Fi</b>"},
                 headers={"Origin": srv.origin})
    assert r.status == 200 and r.json() == {"pause_id": pid, "outcome": "resumed"}, r
    # answered once the test has taken it
    assert read_pause(pause_dir, pid)["status"] == "resumed"
    rc, out = s.finish()
    assert "device lost <b>Wi-Fi</b>" in out, out
    ends = end_events(pause_dir, pid)
    assert len(ends) == 1 and ends[0]["by"] == "http", ends
    assert json.loads(command_file(pause_dir, pid).read_text())["by"] == "http"
    # ended: 409 with its state, for resume again and for abort
    r = srv.post(f"/api/pauses/{pid}/resume", {"failure_reason": "again"})
    assert r.status == 409 and r.error_code == "LP_ERESUMED", r
    assert r.json()["error"]["state"] == "resumed"
    assert srv.get("/api/pauses").json() == {"pauses": []}
    everything = srv.get("/api/pauses?all=1").json()["pauses"]
    assert [p["pause_id"] for p in everything] == [pid] and everything[0]["state"] == "resumed"
    assert srv.get("/api/runs").json()["runs"][0]["state"] == "ended"
    r = srv.get("/api/pauses/nosuchrun.0000abcd")
    assert r.status == 404 and r.error_code == "LP_ENOTFOUND", r


def test_checkpoint_resumed_over_http_gets_the_verdict(serve, live, pytester, cli, pause_dir):
    srv = serve()
    s = session(live, pytester, "-k", "test_checkpoint")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    r = srv.post(f"/api/pauses/{pid}/resume", {"failure_reason": "x"})
    assert r.status == 400 and r.error_code == "LP_EKIND", r
    r = srv.post(f"/api/pauses/{pid}/resume", {"result": False, "reason": "the step failed"})
    assert r.status == 200, r
    d = wait_decision(s, pid)
    assert (d["outcome"], d["result"], d["reason"]) == ("resumed", False, "the step failed")
    s.finish()


@pytest.mark.parametrize("test", ["test_checkpoint", "test_failure"])
def test_abort_over_http_ends_the_pause_without_a_verdict(serve, live, pytester, cli, pause_dir,
                                                           test):
    srv = serve()
    s = session(live, pytester, "--pause-on-failure", "-k", test)
    pid = wait_paused(s, cli)["pause_id"]
    # refused, nothing written: a reason (not recorded), a verdict field
    for body in ({"reason": "stop"}, {"failure_reason": "x"}, {"result": True}):
        r = srv.post(f"/api/pauses/{pid}/abort", body)
        assert r.status == 400 and r.error_code == "bad_request", (body, r)
    assert not command_file(pause_dir, pid).exists()
    assert srv.post("/api/pauses/nosuchrun.0000abcd/abort", {}).status == 404
    r = srv.post(f"/api/pauses/{pid}/abort", {}, headers={"Origin": srv.origin})
    assert r.status == 200 and r.json() == {"pause_id": pid, "outcome": "aborted"}, r
    assert read_pause(pause_dir, pid)["status"] == "aborted"
    # the loser of a later resume is told it was aborted
    r = srv.post(f"/api/pauses/{pid}/resume", {} if test == "test_failure" else {"result": True})
    assert r.status == 409 and r.error_code == "LP_EABORTED" and r.json()["error"]["state"] == "aborted"
    res = cli("resume", pid, *(["--result", "true"] if test == "test_checkpoint" else []))
    assert res.returncode == EXIT["aborted"], str(res)
    s.finish()
    ends = end_events(pause_dir, pid)
    assert [(e["event"], e["by"]) for e in ends] == [("pause_aborted", "http")], ends


def test_stale_pause_is_409(serve, live, pytester, cli, pause_dir):
    srv = serve()
    s = session(live, pytester, "-k", "test_checkpoint")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    s.kill()  # SIGKILL: the pause stays pending, its process is gone
    r = srv.post(f"/api/pauses/{pid}/resume", {"result": True})
    assert r.status == 409 and r.error_code == "LP_ESTALE", r
    assert r.json()["error"]["state"] == "stale"
    assert not command_file(pause_dir, pid).exists()


# ------------------------------------------------------------ events


def test_event_stream_reports_runs_and_pauses_and_resumes(serve, live, pytester, cli, pause_dir):
    srv = serve()
    es = EventStream(srv)
    s = session(live, pytester, "--pause-on-failure", "-k", "test_failure")
    started = es.until("run_started")
    assert started["data"]["run_id"] == s.run_id and started["data"]["state"] == "active"
    created = es.until("pause_created")
    pid = created["data"]["pause_id"]
    assert created["data"]["state"] == "pending" and created["data"]["kind"] == "failure"
    name, seq = created["id"].rsplit(".", 1)
    assert started["id"].rsplit(".", 1)[0] == name and int(seq) > int(started["id"].rsplit(".", 1)[1])
    # the event announces a pause that can be answered now
    wait_paused(s, cli)
    assert srv.post(f"/api/pauses/{pid}/resume", {"failure_reason": "seen"}).status == 200
    ended = es.until("pause_ended")
    assert ended["data"]["pause_id"] == pid and ended["data"]["state"] == "resumed"
    s.finish()
    run_ended = es.until("run_ended")
    assert run_ended["data"]["run_id"] == s.run_id
    es.close()
    # resumable: after the run_started id comes the same pause_created again
    again = EventStream(srv, last_event_id=started["id"])
    ev = again.next()
    assert (ev["id"], ev["event"], ev["data"]["pause_id"]) == (created["id"], "pause_created", pid)
    again.close()


# ------------------------------------------------------------ one outcome


def test_http_cli_and_deadline_race_one_outcome(serve, live, pytester, cli, pause_dir):
    """Checkpoints with a 0.4 s timeout; at about the deadline an HTTP
    resume and a CLI resume start together. Exactly one of them, or the
    deadline, wins; the loser is told who won; the pause file, the claim,
    the events and the test's decision agree."""
    srv = serve()
    k, timeout = 6, 0.4
    pytester.makepyfile(test_trials=TRIALS)
    s = live("-s", "-q", "test_trials.py", env={"LP_TRIALS": str(k), "LP_CP_TIMEOUT": repr(timeout)})
    env = cli_env(pause_dir)
    offsets = [-0.05 + 0.08 * n / (k - 1) for n in range(k)]
    winners = {"http": 0, "cli": 0, "timeout": 0}
    for i in range(k):
        info = cli.watch(s.run_id)
        pid = info["pause_id"]
        delay = info["deadline_at"] + offsets[i] - time.time()
        if delay > 0:
            threading.Event().wait(delay)
        got = {}
        go = threading.Barrier(2)

        def by_http():
            go.wait()
            got["http"] = srv.post(f"/api/pauses/{pid}/resume", {"result": True, "reason": "http"})

        def by_cli():
            go.wait()
            got["cli"] = subprocess.run([CLI_BIN, "resume", pid, "--result", "false", "--reason",
                                         "cli", "--take-timeout", str(WAIT)],
                                        capture_output=True, text=True, env=env, timeout=WAIT)

        threads = [threading.Thread(target=by_http), threading.Thread(target=by_cli)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        d = wait_decision(s, pid)
        http_won = got["http"].status == 200
        cli_won = got["cli"].returncode == 0
        pf = read_pause(pause_dir, pid)
        where = (i, got["http"], got["cli"], pf["status"], d)
        assert http_won + cli_won + (pf["status"] == "timed_out") == 1, where
        assert len(end_events(pause_dir, pid)) == 1, where
        claim = json.loads(command_file(pause_dir, pid).read_text())
        if http_won:
            winners["http"] += 1
            assert (pf["resolved_by"], claim["by"], d["result"], d["reason"]) == (
                "http", "http", True, "http"), where
            assert got["cli"].returncode == EXIT["resumed"], where
        elif cli_won:
            winners["cli"] += 1
            assert (pf["resolved_by"], claim["by"], d["result"], d["reason"]) == (
                "cli", "cli", False, "cli"), where
            assert got["http"].status == 409 and got["http"].error_code == "LP_ERESUMED", where
        else:
            winners["timeout"] += 1
            assert (d["outcome"], claim["by"]) == ("timed_out", "timeout"), where
            assert got["http"].status == 409 and got["http"].error_code == "LP_ETIMEDOUT", where
            assert got["cli"].returncode == EXIT["timedout"], where
    rc, out = s.finish()
    assert len(decisions(out)) == k, out
    assert sum(winners.values()) == k
