"""`pytest-live-pause serve`, black-box: a real server process (exec'd by
the real CLI), real pytest sessions pausing in the same pause directory,
raw HTTP. The start line and serve.json, the clean stop, the security
gate (token, Host, duplicate headers, methods, Content-Type, Origin, body
cap), each error code, the API objects (the same as `ls --json` and `show
--json`), resumes that the paused test receives, values for choices and
questions by the CLI's rules, aborts with a reason that stop the run,
attachments served only when verified (images inline, the rest as
downloads), the progress of a live run, the event stream, and exactly
one outcome when HTTP, the CLI and the deadline race."""
from __future__ import annotations

import json
import os
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
from _serve import CLI_BIN, EventStream, png, serve  # noqa: F401 (the fixture)
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
                       ('{"value": 3}', "must be a string")):
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
    srv.wait_ready()  # what follows runs on the pause made ready (server/ready.c)
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
def test_abort_over_http_with_a_reason_stops_the_run(serve, live, pytester, cli, pause_dir, test):
    """POST .../abort {"reason"} is `abort --reason`: the pause ends
    aborted with the reason, which reaches pytest's report, its last line,
    the pause file (`show --json`, GET /api/pauses/{id}) and events."""
    srv = serve()
    s = session(live, pytester, "--pause-on-failure", "-k", test)
    pid = wait_paused(s, cli)["pause_id"]
    # refused, nothing written: a verdict or a value, a reason not a string
    for body in ({"failure_reason": "x"}, {"result": True}, {"value": "pass"}, {"reason": 3},
                 {"reason": ["a"]}):
        r = srv.post(f"/api/pauses/{pid}/abort", body)
        assert r.status == 400 and r.error_code == "bad_request", (body, r)
    assert not command_file(pause_dir, pid).exists()
    assert srv.post("/api/pauses/nosuchrun.0000abcd/abort", {"reason": "x"}).status == 404
    reason = "device lost <b>Wi-Fi</b>\u00e9"
    r = srv.post(f"/api/pauses/{pid}/abort", {"reason": reason}, headers={"Origin": srv.origin})
    assert r.status == 200 and r.json() == {"pause_id": pid, "outcome": "aborted"}, r
    pf = read_pause(pause_dir, pid)
    assert (pf["status"], pf["resolved_by"], pf["reason"]) == ("aborted", "http", reason), pf
    shown = cli("show", "--json", pid).json()
    assert shown["reason"] == reason and srv.get(f"/api/pauses/{pid}").json() == shown
    # the loser of a later resume is told it was aborted
    r = srv.post(f"/api/pauses/{pid}/resume", {} if test == "test_failure" else {"result": True})
    assert r.status == 409 and r.error_code == "LP_EABORTED" and r.json()["error"]["state"] == "aborted"
    res = cli("resume", pid, *(["--result", "true"] if test == "test_checkpoint" else []))
    assert res.returncode == EXIT["aborted"], str(res)
    rc, out = s.finish()
    assert rc == 2, out  # pytest's "interrupted": the run stopped
    nodeid = f"test_paused.py::{test}"
    assert re.search(rf"^live-pause: run aborted at {re.escape(nodeid)}: {re.escape(reason)}$",
                     out, re.M), out
    ends = end_events(pause_dir, pid)
    assert [(e["event"], e["by"]) for e in ends] == [("pause_aborted", "http")], ends
    aborted = json.loads((pause_dir / "runs" / s.run_id / "aborted.json").read_text())
    assert aborted["reason"] == reason, aborted


def test_abort_without_a_reason_records_none(serve, live, pytester, cli, pause_dir):
    srv = serve()
    s = session(live, pytester, "-k", "test_checkpoint")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    assert srv.post(f"/api/pauses/{pid}/abort", {"reason": None}).status == 200
    assert read_pause(pause_dir, pid)["reason"] is None
    rc, out = s.finish()
    assert rc == 2 and "live-pause: run aborted at test_paused.py::test_checkpoint" in out, out


ANSWERS = '''
import json
import os
from pytest_live_pause import ask, checkpoint

def test_choice():
    d = checkpoint("Is the screen right?", choices=["pass", "retry", "skip"],
                   timeout=float("inf"))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, outcome=d.outcome,
                                        value=d.value, reason=d.reason)), flush=True)

def test_question():
    print("ANSWER " + json.dumps(ask("Which firmware version does the device show?")),
          flush=True)
'''


def test_values_for_choices_and_questions_by_the_cli_rules(serve, live, pytester, cli, pause_dir):
    """value answers a checkpoint with choices (one of them) and a
    question; everything the CLI refuses is a 400 with the runtime's
    code, nothing written: a value outside the choices, a value on a
    failure or a checkpoint without choices, a result on a question,
    failure_reason with a value."""
    srv = serve()
    pytester.makepyfile(test_answers=ANSWERS)
    s = live("-s", "test_answers.py")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    shown = srv.get(f"/api/pauses/{pid}").json()
    assert shown == cli("show", "--json", pid).json()
    assert shown["choices"] == ["pass", "retry", "skip"]
    assert shown["location"].startswith("test_answers.py:"), shown
    for body, code in (({"value": "maybe"}, "LP_EKIND"), ({"value": "PASS"}, "LP_EKIND"),
                       ({"failure_reason": "x"}, "LP_EKIND"),
                       ({"failure_reason": "x", "value": "pass"}, "LP_EINVAL"),
                       ({"value": 3}, "bad_request"), ({"value": None}, "bad_request")):
        r = srv.post(f"/api/pauses/{pid}/resume", body)
        assert r.status == 400 and r.error_code == code, (body, r)
        # the CLI refuses the same
        if code == "LP_EKIND" and "value" in body:
            assert cli("resume", pid, "--value", body["value"]).returncode == EXIT["usage"]
    assert "maybe" in srv.post(f"/api/pauses/{pid}/resume",
                               {"value": "maybe"}).json()["error"]["message"]
    assert not command_file(pause_dir, pid).exists()
    r = srv.post(f"/api/pauses/{pid}/resume", {"value": "retry", "reason": "flaky"})
    assert r.status == 200 and r.json() == {"pause_id": pid, "outcome": "resumed"}, r
    d = wait_decision(s, pid)
    assert (d["outcome"], d["value"], d["reason"]) == ("resumed", "retry", "flaky"), d
    assert srv.get(f"/api/pauses/{pid}").json()["value"] == "retry"

    q = wait_paused(s, cli, kind="question")["pause_id"]
    assert srv.get(f"/api/pauses/{q}").json()["question"] == (
        "Which firmware version does the device show?")
    for body, code in (({"result": True}, "LP_EKIND"), ({"failure_reason": "x"}, "LP_EKIND"),
                       ({"result": True, "value": "4.2.1"}, "LP_EKIND")):
        r = srv.post(f"/api/pauses/{q}/resume", body)
        assert r.status == 400 and r.error_code == code, (body, r)
    assert not command_file(pause_dir, q).exists()
    assert srv.post(f"/api/pauses/{q}/resume", {"value": "4.2.1 <beta>"}).status == 200
    s.wait_for_line(r'ANSWER "4\.2\.1 <beta>"$')
    rc, out = s.finish()
    assert rc == 0, out


def test_value_on_a_failure_or_a_plain_checkpoint_is_refused(serve, live, pytester, cli,
                                                             pause_dir):
    srv = serve()
    s = session(live, pytester, "--pause-on-failure")
    for kind in ("checkpoint", "failure"):
        pid = wait_paused(s, cli, kind=kind)["pause_id"]
        r = srv.post(f"/api/pauses/{pid}/resume", {"value": "pass"})
        assert r.status == 400 and r.error_code == "LP_EKIND", (kind, r)
        assert not command_file(pause_dir, pid).exists()
        assert srv.post(f"/api/pauses/{pid}/resume",
                        {"result": True} if kind == "checkpoint" else {}).status == 200
    s.finish()


# ------------------------------------------------------------ attachments


ATTACHED = '''
import os
from pytest_live_pause import checkpoint

def test_evidence(live_pause):
    live_pause.attach("screen.png")
    live_pause.attach("page.html")
    live_pause.attach("log.txt", name='adb "logcat" \u00e9t\u00e9.txt')
    checkpoint("Does the screen look right?", timeout=float("inf"))
'''


def sha(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def attached(serve, live, pytester, cli):
    image = png()
    pytester.path.joinpath("screen.png").write_bytes(image)
    pytester.path.joinpath("page.html").write_text("<script>alert(1)</script>")
    pytester.path.joinpath("log.txt").write_text("logcat line\n")
    pytester.makepyfile(test_attached=ATTACHED)
    srv = serve()
    s = live("-s", "test_attached.py")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    yield srv, s, pid, image
    if s.proc.poll() is None:
        srv.post(f"/api/pauses/{pid}/resume", {"result": True})
        s.finish()


def test_attachments_listed_verified_and_served(attached, cli):
    srv, s, pid, image = attached
    doc = srv.get(f"/api/pauses/{pid}").json()
    assert doc == cli("show", "--json", pid).json()
    got = [(a["name"], a["content_type"], a["blob"]) for a in doc["attachments"]]
    assert got == [("screen.png", "image/png", "ok"), ("page.html", "text/html", "ok"),
                   ('adb "logcat" \u00e9t\u00e9.txt', "text/plain", "ok")], got
    base = f"/api/pauses/{pid}/attachments/"
    # an image: inline, its own type, its exact bytes
    r = srv.get(base + sha(image))
    assert r.status == 200 and r.body == image, r
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"].startswith("inline;"), r
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # anything else: a download, even HTML (never rendered by the page's origin)
    for data, name in ((b"<script>alert(1)</script>", "page.html"),
                       (b"logcat line\n", None)):
        r = srv.get(base + sha(data))
        assert r.status == 200 and r.body == data, r
        cd = r.headers["Content-Disposition"]
        assert cd.startswith("attachment;"), cd
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers.get_all("Content-Security-Policy"), r
        if name:
            assert f'filename="{name}"' in cd, cd
    cd = srv.get(base + sha(b"logcat line\n")).headers["Content-Disposition"]
    # the name as data: no quote or non-ASCII byte in the plain form, exact in filename*
    assert 'filename="adb _logcat_ __t__.txt"' in cd, cd
    assert "filename*=UTF-8''adb%20%22logcat%22%20%C3%A9t%C3%A9.txt" in cd, cd
    # no such attachment at this pause, a bad hash, the token
    r = srv.get(base + "0" * 64)
    assert r.status == 404 and r.error_code == "LP_ENOTFOUND", r
    for bad in ("ABC", "0" * 63, "g" * 64, sha(image).upper()):
        r = srv.get(base + bad)
        assert r.status == 400 and r.error_code == "LP_EINVAL", (bad, r)
    assert srv.get(base + sha(image), token=False).status == 401
    assert srv.request("POST", base + sha(image), {}).status == 405
    assert srv.get(f"/api/pauses/nosuchrun.0000abcd/attachments/{sha(image)}").status == 404


def test_a_tampered_or_missing_blob_is_never_served(attached, cli, pause_dir):
    srv, s, pid, image = attached
    run_id = pid.split(".")[0]
    blobs = pause_dir / "runs" / run_id / "blobs"
    base = f"/api/pauses/{pid}/attachments/"
    # same size, other bytes; then shorter; then longer
    for forged in (image[:-1] + bytes([image[-1] ^ 1]), image[:10], image + b"x"):
        (blobs / sha(image)).write_bytes(forged)
        r = srv.get(base + sha(image))
        assert r.status == 500 and r.error_code == "blob_corrupt", r
        assert r.headers["Content-Type"] == "application/json"
        msg = r.json()["error"]["message"]
        assert "screen.png" in msg and "does not match its sha256: not served" in msg, r
        assert forged not in r.body and image not in r.body
        doc = srv.get(f"/api/pauses/{pid}").json()
        assert [a["blob"] for a in doc["attachments"]] == ["corrupt", "ok", "ok"], doc
    (blobs / sha(b"logcat line\n")).unlink()
    r = srv.get(base + sha(b"logcat line\n"))
    assert r.status == 404 and r.error_code == "LP_ENOTFOUND" and "missing" in r.body.decode(), r
    assert [a["blob"] for a in srv.get(f"/api/pauses/{pid}").json()["attachments"]] == [
        "corrupt", "ok", "missing"]
    # the others are still served
    assert srv.get(base + sha(b"<script>alert(1)</script>")).status == 200


# ------------------------------------------------------------ progress


PROGRESS = '''
import os
import pytest
from pytest_live_pause import checkpoint

@pytest.mark.parametrize("i", range(3))
def test_a_pass(i):
    pass

def test_b_fail():
    assert False

def test_c_skip():
    pytest.skip("not here")

def test_z_wait():
    checkpoint("look at the progress", timeout=float("inf"))
'''


def test_runs_show_the_progress_of_a_live_run(serve, live, pytester, cli, pause_dir):
    """While a test waits, /api/runs has the run's counts so far (written
    when the pause began); once ended, the run is listed without them
    (ended runs are not read)."""
    srv = serve()
    pytester.makepyfile(test_progress=PROGRESS)
    s = live("-s", "test_progress.py")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    runs = srv.get("/api/runs").json()["runs"]
    assert len(runs) == 1 and runs[0]["state"] == "active"
    p = runs[0]["progress"]
    assert {k: p[k] for k in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed",
                              "collected")} == {
        "passed": 3, "failed": 1, "errors": 0, "skipped": 1, "xfailed": 0, "xpassed": 0,
        "collected": 6}, p
    assert p["updated_at"] > 0
    # the file is the run's own (protocol.md), of the protocol's fields only
    on_disk = json.loads((pause_dir / "runs" / s.run_id / "progress.json").read_text())
    assert on_disk["passed"] == 3
    assert srv.post(f"/api/pauses/{pid}/resume", {"result": True}).status == 200
    rc, out = s.finish()
    assert rc == 1, out
    # the final counts are on disk; the ended run is listed without reading them
    assert json.loads((pause_dir / "runs" / s.run_id / "progress.json").read_text())[
        "passed"] == 4
    runs = srv.get("/api/runs").json()["runs"]
    assert runs[0]["state"] == "ended" and "progress" not in runs[0], runs


def test_stale_pause_is_409(serve, live, pytester, cli, pause_dir):
    srv = serve()
    s = session(live, pytester, "-k", "test_checkpoint")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    srv.wait_ready()  # its process held by the server: the hold says it died
    s.kill()  # SIGKILL: the pause stays pending, its process is gone
    r = srv.post(f"/api/pauses/{pid}/resume", {"result": True})
    assert r.status == 409 and r.error_code == "LP_ESTALE", r
    assert r.json()["error"]["state"] == "stale"
    assert not command_file(pause_dir, pid).exists()


@pytest.mark.parametrize("how", ["resume", "abort"])
def test_a_pause_made_ready_then_ended_elsewhere_is_409(serve, live, pytester, cli, pause_dir,
                                                        how):
    """The server made the pause ready (read its file, holds its process);
    the CLI then ends it: the server's resume or abort must see that the
    file changed and answer 409 with the CLI's outcome, writing nothing."""
    srv = serve()
    s = session(live, pytester, "-k", "test_checkpoint")
    pid = wait_paused(s, cli, kind="checkpoint")["pause_id"]
    srv.wait_ready()
    if how == "resume":
        cli("resume", pid, "--result", "false", "--reason", "by the cli")
    else:
        cli("abort", pid, "--reason", "by the cli")
    before = command_file(pause_dir, pid).read_bytes()
    for route, body in (("resume", {"result": True}), ("abort", {"reason": "late"})):
        r = srv.post(f"/api/pauses/{pid}/{route}", body)
        assert r.status == 409, r
        state = "resumed" if how == "resume" else "aborted"
        assert r.error_code == ("LP_ERESUMED" if how == "resume" else "LP_EABORTED"), r
        assert r.json()["error"]["state"] == state, r
    assert command_file(pause_dir, pid).read_bytes() == before
    rc, out = s.finish()
    ends = end_events(pause_dir, pid)
    assert len(ends) == 1 and ends[0]["by"] == "cli", ends


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


MANY_PAUSES = """
from pytest_live_pause import checkpoint

def test_many():
    for i in range(80):
        checkpoint(task=f"quick {i}", timeout=0)
"""


def test_every_client_gets_the_same_events_and_a_late_one_replays_them_all(serve, live,
                                                                         pytester):
    """More events (80 pauses: 162) than the server keeps ready-made frames
    of (128): two live clients get the same ids, kinds and data, one by
    one, consecutive; a client that comes back with the Last-Event-ID of
    the run's start (older than those frames: served from the feed's own
    ring) gets exactly the same sequence after it."""
    srv = serve()
    a, b = EventStream(srv), EventStream(srv)
    pytester.makepyfile(test_many=MANY_PAUSES)
    s = live("-s", "test_many.py")
    seqs = {}
    for name, es in (("a", a), ("b", b)):
        got = []
        while not got or got[-1]["event"] != "run_ended":
            got.append(es.next())
        seqs[name] = [(e["id"], e["event"], e["data"]) for e in got]
        es.close()
    assert s.finish()[0] == 0
    assert seqs["a"] == seqs["b"]
    ids = [int(i.rsplit(".", 1)[1]) for i, _, _ in seqs["a"]]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    kinds = [k for _, k, _ in seqs["a"]]
    assert kinds.count("pause_created") == kinds.count("pause_ended") == 80
    assert len(seqs["a"]) > 128 + 2
    late = EventStream(srv, last_event_id=seqs["a"][0][0])
    replay = [late.next() for _ in seqs["a"][1:]]
    late.close()
    assert [(e["id"], e["event"], e["data"]) for e in replay] == seqs["a"][1:]


def test_listings_of_every_state_are_streamed_and_equal_the_cli(serve, live, pytester, cli):
    """?all=1 and /api/runs grow with the history, so they are sent as they
    are read (chunked, no Content-Length), here past the pipe's 64 KiB and
    several 32 KiB blocks: the same objects as `ls -a --json` and `runs -a
    --json`, whole. A client that leaves after the first bytes stops its
    listing, and the server goes on (and stops cleanly: the fixture)."""
    import http.client

    srv = serve()
    pytester.makepyfile(test_many=MANY_PAUSES)
    assert live("-s", "test_many.py").finish()[0] == 0
    r = srv.get("/api/pauses?all=1")
    assert r.status == 200 and r.headers["Transfer-Encoding"] == "chunked", r.headers
    assert r.headers["Content-Length"] is None and len(r.body) > 80 * 1024, len(r.body)
    ls = [json.loads(line) for line in cli("ls", "-a", "--json").stdout.splitlines()]
    assert len(ls) == 80 and r.json() == {"pauses": ls}
    r = srv.get("/api/runs")
    assert r.status == 200 and r.headers["Transfer-Encoding"] == "chunked", r.headers
    runs = [json.loads(line) for line in cli("runs", "-a", "--json").stdout.splitlines()]
    assert r.json() == {"runs": runs} and len(runs) == 1
    # the pending listing is as many as are paused now: built, with its length
    r = srv.get("/api/pauses")
    assert r.json() == {"pauses": []} and r.headers["Content-Length"] == str(len(r.body))
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=WAIT)
        conn.request("GET", "/api/pauses?all=1", headers={
            "Host": srv.host, "Authorization": f"Bearer {srv.token}"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read(100).startswith(b'{"pauses":[')
        conn.close()
    assert srv.get("/api/pauses?all=1").json() == {"pauses": ls}


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


GATED_PROGRESS = '''
import os
import pytest

@pytest.mark.parametrize("i", range(3))
def test_a_pass(i):
    pass

def test_b_fail():
    assert False

def test_z_gate():
    with open(os.environ["LP_GATE"]) as gate:
        gate.readline()
'''


@pytest.mark.parametrize("dashboard", [True, False], ids=["serve-running", "no-serve"])
def test_progress_after_tests_only_while_a_dashboard_runs(serve, live, pytester, pause_dir,
                                                          tmp_path, dashboard):
    """Without a pause: while `serve` runs, the counts are written after
    tests (at most once a second: here after the first one) and reach
    /api/runs; with no server, nothing is written until the end, which
    always writes the final counts."""
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    srv = serve() if dashboard else None
    pytester.makepyfile(test_gated=GATED_PROGRESS)
    s = live("-s", "test_gated.py", env={"LP_GATE": str(fifo)})
    progress = pause_dir / "runs" / s.run_id / "progress.json"
    gate = open(fifo, "w")  # returns once test_z_gate opened it: 4 tests ended
    try:
        if dashboard:
            runs = srv.get("/api/runs").json()["runs"]
            p = runs[0]["progress"]
            assert p["passed"] >= 1 and p["collected"] == 5, p
        else:
            assert not progress.exists()
    finally:
        gate.write("go\n")
        gate.close()
    rc, out = s.finish()
    assert rc == 1, out
    final = json.loads(progress.read_text())
    assert (final["passed"], final["failed"], final["collected"]) == (4, 1, 5), final
