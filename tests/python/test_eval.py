"""eval, exec and named actions (`do`) in a paused test (issue 13.1):
real pytest sessions (the `live` fixture), the real CLI, xdist included.

Each test runs one paused session and asks it many things, so that the
whole conversation of an agent is covered: the frame of a failure and of
a checkpoint, fixtures, `item` and `request`, names kept by exec, every
bad input (syntax error, exception, SystemExit, an endless loop and a
blocking call stopped by --timeout, 100 MB of output and of repr, an
ended pause, an unknown action, bad --arg, eval without the opt-in), the
events (never the value), and another user who cannot ask.
"""
from __future__ import annotations

import json
import os
import re
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from _paused import EXIT
from conftest import CLI, WAIT, read_events, read_pause, wait_block

CONFTEST = '''
import os
import pytest_live_pause

@pytest_live_pause.action("screenshot")
def screenshot(item, name="shot", **kwargs):
    path = os.path.join(str(item.config.rootpath), name + ".png")
    with open(path, "wb") as f:
        f.write(b"PNG")
    return pytest_live_pause.ActionResult({"nodeid": item.nodeid, "kwargs": kwargs}, files=[path])

@pytest_live_pause.action("boom")
def boom(item):
    raise RuntimeError("the action failed")
'''

TESTS = '''
import math
import pytest
from pytest_live_pause import checkpoint

@pytest.fixture
def device():
    return {"name": "pixel", "battery": 87}

def test_failure(device):
    response = {"status": 503}
    secret = "s3cr3t-" + "value"
    assert response["status"] == 200

def test_checkpoint(device):
    local_value = 41
    d = checkpoint("look around", timeout=math.inf)
    print("DECISION", d.result, flush=True)
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_x=TESTS)
    return pytester


def _paused(live, *args: str, env: dict | None = None):
    session = live("-p", "no:randomly", "-s", *args, env=env)
    block, _ = wait_block(session)
    return session, block["pause_id"]


def _json(res) -> dict:
    assert res.stdout.count("\n") == 1, str(res)
    return json.loads(res.stdout)


def _requests(pause_dir: Path, pause_id: str) -> list[Path]:
    run_id = pause_id.split(".", 1)[0]
    return sorted((pause_dir / "runs" / run_id / "commands").glob(f"{pause_id}.request*"))


def _finish_resumed(cli, session, pause_id: str, *verdict: str) -> str:
    res = cli("resume", pause_id, *verdict)
    assert res.returncode == 0, str(res)
    rc, out = session.finish()
    assert "INTERNALERROR" not in out, out
    return out


def test_eval_and_exec_in_the_failing_frame(suite, live, cli, pause_dir):
    session, pid = _paused(live, "--pause-on-failure", "--pause-allow-eval", "test_x.py::test_failure")
    run_json = json.loads((pause_dir / "runs" / pid.split(".")[0] / "run.json").read_text())
    assert run_json["allow_eval"] is True
    # the test function's locals, its fixtures by name, item and request
    res = cli("eval", pid, "response['status']")
    assert (res.returncode, res.stdout, res.stderr) == (0, "503\n", ""), str(res)
    res = cli("eval", pid, "device['battery'], item.nodeid, request.node.name", "--json")
    assert res.returncode == 0, str(res)
    ans = _json(res)
    assert ans["ok"] is True and ans["error"] is None and ans["timed_out"] is False
    assert ans["repr"] == "(87, 'test_x.py::test_failure', 'test_failure')"
    assert ans["type"] == "eval" and ans["pause_id"] == pid and ans["duration_ms"] >= 0
    # exec: output shown, names kept for later evals of the pause
    res = cli("exec", pid, "x = response['status'] + 1\nprint('hello', x)\nimport sys; print('warn', file=sys.stderr)")
    assert (res.returncode, res.stdout, res.stderr) == (0, "hello 504\n", "warn\n"), str(res)
    assert cli("eval", pid, "x * 2").stdout == "1008\n"
    res = cli("eval", pid, "secret")
    assert res.stdout == "'s3cr3t-value'\n"
    # the pause is still pending: a conversation, resume ends it
    assert read_pause(pause_dir, pid)["status"] == "pending"
    assert _requests(pause_dir, pid) == []
    out = _finish_resumed(cli, session, pid, "--failure-reason", "inspected")
    assert "1 failed" in out
    events = [e for e in read_events(pause_dir, pid.split(".")[0]) if e["event"] == "request"]
    assert [e["type"] for e in events] == ["eval", "eval", "exec", "eval", "eval"]
    assert all(e["ok"] is True and e["by"] == "cli" and e["pause_id"] == pid for e in events)
    assert events[0]["code"] == "response['status']" and events[0]["duration_ms"] >= 0
    text = (pause_dir / "runs" / pid.split(".")[0] / "events.jsonl").read_text()
    assert "s3cr3t-value" not in text  # never the value ...
    assert not re.search(r"[:,\[]503[,}\]]|hello 504", text)  # ... nor the output


def test_eval_in_a_checkpoint_callers_frame(suite, live, cli, pause_dir):
    session, pid = _paused(live, "--pause-allow-eval", "test_x.py::test_checkpoint")
    assert cli("eval", pid, "local_value + 1").stdout == "42\n"
    assert cli("eval", pid, "device['name']").stdout == "'pixel'\n"
    assert cli("exec", pid, "local_value = 7").returncode == 0
    assert cli("eval", pid, "local_value").stdout == "7\n"
    assert cli("eval", pid, "type(item).__name__").stdout == "'Function'\n"
    out = _finish_resumed(cli, session, pid, "--result", "true")
    assert "DECISION True" in out and "1 passed" in out


def test_bad_input_never_ends_the_test(suite, live, cli, pause_dir):
    session, pid = _paused(live, "--pause-on-failure", "--pause-allow-eval", "test_x.py::test_failure")

    def fails(want: int, *args: str):
        res = cli(*args)
        assert res.returncode == want, str(res)
        assert len(res.stderr.strip().splitlines()[-1:]) == 1
        return res

    res = fails(EXIT["raised"], "eval", pid, "1 +")
    assert "SyntaxError" in res.stderr and f"the expression failed in pause {pid}" in res.stderr
    res = fails(EXIT["raised"], "eval", pid, "1 / 0")
    assert "ZeroDivisionError: division by zero" in res.stderr
    assert "Traceback" in res.stderr and "_eval.py" not in res.stderr  # the code's frames only
    res = fails(EXIT["raised"], "exec", pid, "raise SystemExit(3)")
    assert "SystemExit: 3" in res.stderr
    # an endless loop and a blocking call are stopped by --timeout
    res = fails(EXIT["request_timeout"], "exec", pid, "while True:\n    pass", "--timeout", "1")
    assert "ran past its --timeout" in res.stderr and "keeps waiting" in res.stderr
    ans = _json(cli("eval", pid, "__import__('time').sleep(60)", "--timeout", "0.5", "--json"))
    assert ans["ok"] is False and ans["timed_out"] is True
    # 100 MB of output and of repr: capped (1 MiB each) and marked
    res = cli("exec", pid, "print('x' * 100_000_000)", "--json")
    ans = _json(res)
    assert ans["ok"] is True and "stdout" in ans["cut"]
    assert len(ans["stdout"]) <= 1024 * 1024 and ans["stdout"].endswith("[... cut by pytest-live-pause]")
    ans = _json(cli("eval", pid, "'y' * 100_000_000", "--json"))
    assert ans["ok"] is True and "repr" in ans["cut"] and len(ans["repr"]) <= 1024 * 1024
    # bad arguments of the command itself: usage errors, nothing written
    fails(EXIT["usage"], "eval", pid)
    fails(EXIT["usage"], "eval", pid, "1", "--timeout", "0")
    fails(EXIT["usage"], "eval", pid, "1", "--timeout", "banana")
    fails(EXIT["usage"], "eval", pid, "")
    fails(EXIT["notfound"], "eval", pid.split(".")[0] + ".00000000", "1")
    # after all of it the test still waits, and answers
    assert cli("eval", pid, "response").stdout == "{'status': 503}\n"
    assert read_pause(pause_dir, pid)["status"] == "pending"
    assert _requests(pause_dir, pid) == []
    out = _finish_resumed(cli, session, pid)
    assert "1 failed" in out
    # an expression on a pause that has ended: a clear error
    res = fails(EXIT["resumed"], "eval", pid, "1")
    assert f"pause {pid} has ended (resumed by cli)" in res.stderr
    events = [e for e in read_events(pause_dir, pid.split(".")[0]) if e["event"] == "request"]
    assert [e["ok"] for e in events] == [False] * 5 + [True] * 3
    assert [e["timed_out"] for e in events][3:5] == [True, True]


ALARM_TESTS = '''
import math, signal
from pytest_live_pause import checkpoint

def mine(signum, frame):
    pass

def test_alarm():
    kinds = {"python": mine, "ignored": signal.SIG_IGN}
    for kind, handler in kinds.items():
        signal.signal(signal.SIGALRM, handler)
        checkpoint(kind, timeout=math.inf)
        got = signal.getsignal(signal.SIGALRM)
        print("ALARM", kind, "kept" if got is handler else f"lost: {got!r}", flush=True)
'''


def test_an_eval_leaves_the_tests_own_alarm_handler(pytester, live, cli, pause_dir):
    """eval's --timeout raises by SIGALRM on the main thread: once the
    request is answered, the handler the test had (a Python one, SIG_IGN)
    is back, the very object."""
    pytester.makepyfile(test_alarm=ALARM_TESTS)
    session = live("-p", "no:randomly", "-s", "--pause-allow-eval")
    start = 0
    for kind in ("python", "ignored"):
        block, start = wait_block(session, start)
        assert block["task"] == kind, block
        pid = block["pause_id"]
        res = cli("eval", pid, "__import__('signal').getsignal(__import__('signal').SIGALRM)")
        assert res.returncode == 0 and "on_alarm" in res.stdout, str(res)  # the deadline's
        assert cli("exec", pid, "x = 1", "--timeout", "5").returncode == 0
        assert cli("resume", pid, "--result", "true").returncode == 0
    rc, out = session.finish()
    assert rc == 0, out
    assert re.findall(r"ALARM (\w+) (.*)$", out, re.M) == [
        ("python", "kept"), ("ignored", "kept")], out


def test_eval_needs_the_opt_in_and_actions_do_not(suite, live, cli, pause_dir, pytester):
    session, pid = _paused(live, "--pause-on-failure", "test_x.py::test_failure",
                           env={"PYTEST_LIVE_PAUSE_ALLOW_EVAL": "1"})  # no such switch
    for cmd, code in (("eval", "1+1"), ("exec", "x = 1")):
        res = cli(cmd, pid, code)
        assert res.returncode == EXIT["noeval"], str(res)
        assert len(res.stderr.splitlines()) == 1 and "--pause-allow-eval" in res.stderr
        assert res.stdout == ""
    assert _requests(pause_dir, pid) == []  # refused before writing anything
    assert read_pause(pause_dir, pid)["requests"] == {"eval": False, "actions": ["screenshot", "boom"]}
    show = cli("show", pid)
    assert "eval: off (needs pytest --pause-allow-eval)" in show.stdout
    assert "actions: screenshot, boom" in show.stdout
    # named actions: item and keyword arguments, data and files
    res = cli("do", pid, "screenshot", "--arg", "name=first", "--arg", "mode=full")
    assert res.returncode == 0, str(res)
    data, file_line = res.stdout.splitlines()
    assert json.loads(data) == {"nodeid": "test_x.py::test_failure", "kwargs": {"mode": "full"}}
    assert file_line == f"file: {pytester.path / 'first.png'}"
    assert (pytester.path / "first.png").read_bytes() == b"PNG"
    ans = _json(cli("do", pid, "screenshot", "--json"))
    assert ans["ok"] is True and ans["files"] == [str(pytester.path / "shot.png")]
    # an action's files become attachments of the pause (source "capture")
    import hashlib
    sha = hashlib.sha256(b"PNG").hexdigest()
    assert [(a["name"], a["sha256"], a["size"]) for a in ans["attachments"]] == [("shot.png", sha, 3)]
    listed = read_pause(pause_dir, pid)["attachments"]
    assert [(a["name"], a["source"]) for a in listed] == [("first.png", "capture"), ("shot.png", "capture")]
    assert Path(ans["attachments"][0]["path"]).read_bytes() == b"PNG"
    res = cli("do", pid, "boom")
    assert res.returncode == EXIT["raised"] and "RuntimeError: the action failed" in res.stderr
    res = cli("do", pid, "nope")
    assert res.returncode == EXIT["noaction"] and "it offers: screenshot, boom" in res.stderr
    for bad in ("novalue", "=v", "1x=2", "a-b=1"):
        res = cli("do", pid, "screenshot", "--arg", bad)
        assert res.returncode == EXIT["usage"] and "bad --arg" in res.stderr, str(res)
    res = cli("do", pid, "screenshot", "--arg", "a=1", "--arg", "a=2")
    assert res.returncode == EXIT["usage"] and "given twice" in res.stderr
    res = cli("do", pid, "screenshot", "--arg", "lines=3", "--arg", "k=x=y", "--json")
    assert _json(res)["data"]["kwargs"] == {"lines": "3", "k": "x=y"}
    assert _requests(pause_dir, pid) == []
    out = _finish_resumed(cli, session, pid)
    assert "1 failed" in out
    run_id = pid.split(".")[0]
    assert json.loads((pause_dir / "runs" / run_id / "run.json").read_text())["allow_eval"] is False
    events = [e for e in read_events(pause_dir, run_id) if e["event"] == "request"]
    assert [(e["action"], sorted(e["args"]), e["ok"]) for e in events] == [
        ("screenshot", ["mode", "name"], True), ("screenshot", [], True),
        ("boom", [], False), ("screenshot", ["k", "lines"], True)]
    assert "first" not in json.dumps(events)  # never an argument's value


def test_xdist_workers_take_requests(pytester, live, cli, pause_dir):
    pytest.importorskip("xdist")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_w='''
        import pytest
        @pytest.mark.parametrize("n", [1, 2])
        def test_w(n):
            here = n * 10
            assert here == 0
    ''')
    session = live("-n", "2", "-p", "no:randomly", "--pause-on-failure", "--pause-allow-eval")
    run_id = session.run_id
    seen = {}
    for _ in range(2):
        res = cli("watch", "--all-runs", "--timeout", str(WAIT), "--json", timeout=WAIT + 30)
        assert res.returncode == 0, str(res)
        p = res.json()
        assert p["run_id"] == run_id and p["worker_id"]
        pid = p["pause_id"]
        ans = _json(cli("eval", pid, "(here, item.nodeid)", "--json"))
        assert ans["ok"] is True, ans
        here, nodeid = eval(ans["repr"])
        assert nodeid == p["nodeid"] and here in (10, 20)
        act = _json(cli("do", pid, "screenshot", "--arg", f"name=w{here}", "--json"))
        assert act["ok"] is True and act["data"]["nodeid"] == nodeid
        seen[nodeid] = here
        assert cli("resume", pid).returncode == 0
    assert sorted(seen.values()) == [10, 20]
    rc, out = session.finish()
    assert "2 failed" in out and "INTERNALERROR" not in out


def test_qamule_mode_takes_requests(suite, live, cli, pause_dir, tmp_path):
    session = live("-p", "no:randomly", "-s", "--pause-compat=qamule", "--pause-allow-eval",
                   f"--pause-result-dir={tmp_path / 'results'}", "test_x.py::test_checkpoint")
    run_id = session.run_id
    p = cli.watch(run_id)
    pid = p["pause_id"]
    assert cli("eval", pid, "local_value").stdout == "41\n"
    assert cli("resume", pid, "--result", "false").returncode == 0
    rc, out = session.finish()
    assert "DECISION False" in out and "INTERNALERROR" not in out


@pytest.fixture(scope="module")
def other_user():
    if os.geteuid() != 0:
        pytest.skip("needs a second user: run as root to let the test create one")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs useradd and setpriv to create and act as a second user")
    name = f"lp{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_another_user_cannot_send_requests(suite, live, cli, pause_dir, other_user, tmp_path):
    # a pause directory the other user can reach: its parents are open, it is 0700 (ours)
    shared = Path("/tmp") / f"lp-eval-{uuid.uuid4().hex[:8]}"
    shared.mkdir(mode=0o755)
    d = shared / "pauses"
    try:
        session = live("-p", "no:randomly", "-s", "--pause-on-failure", "--pause-allow-eval",
                       f"--pause-dir={d}", "test_x.py::test_failure")
        block, _ = wait_block(session)
        pid = block["pause_id"]
        assert oct(d.stat().st_mode & 0o777) == "0o700"
        for args in (("eval", pid, "1+1"), ("do", pid, "screenshot")):
            res = subprocess.run(["setpriv", f"--reuid={other_user.pw_uid}",
                                  f"--regid={other_user.pw_gid}", "--clear-groups",
                                  CLI, *args, "--pause-dir", str(d)],
                                 capture_output=True, text=True, timeout=WAIT)
            assert res.returncode in (EXIT["unsafe"], EXIT["notfound"], EXIT["error"]), res
            assert res.stdout == "" and len(res.stderr.splitlines()) == 1, res
        # nor by hand: the run's commands/ is out of its reach
        target = d / "runs" / pid.split(".")[0] / "commands" / f"{pid}.request.json"
        res = subprocess.run(["setpriv", f"--reuid={other_user.pw_uid}",
                              f"--regid={other_user.pw_gid}", "--clear-groups",
                              "sh", "-c", f"echo '{{}}' > {target}"],
                             capture_output=True, text=True, timeout=WAIT)
        assert res.returncode != 0 and not target.exists()
        # the owner still can, and the pause is undisturbed
        res = cli("eval", pid, "response['status']", "--pause-dir", str(d))
        assert res.stdout == "503\n", str(res)
        assert cli("resume", pid, "--pause-dir", str(d)).returncode == 0
        rc, out = session.finish()
        assert "1 failed" in out
    finally:
        shutil.rmtree(shared, ignore_errors=True)
