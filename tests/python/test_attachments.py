"""Black-box tests of attachments (issue 12.2): real pytest sessions, the
real CLI. The resumer's `resume --attach FILE` (bad input refused with exit
2 before anything is written, the pause still waiting; a copy that fails
on a full disk leaves no command and no partial blob), `show` (text and
--json, each blob checked), `attachment <pause> <name|sha256> [-o FILE]`
(a damaged blob is never written out), the blobs gone with their run
under gc; the test's side (checkpoint(attachments=), live_pause.attach(),
the capture hook) and what the paused test and the failure report see.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import CLI, WAIT, read_pause, wait_block

WAITING = '''
import json
from pytest_live_pause import checkpoint


def test_waits():
    d = checkpoint(task="look at the screen", timeout=600)
    with open("decision.json", "w") as f:
        json.dump({"result": d.result, "outcome": d.outcome,
                   "attachments": list(getattr(d, "attachments", None) or [])}, f)
'''


def blobs(pause_dir: Path, run_id: str) -> list[str]:
    d = pause_dir / "runs" / run_id / "blobs"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def commands(pause_dir: Path, run_id: str) -> list[str]:
    return sorted(p.name for p in (pause_dir / "runs" / run_id / "commands").iterdir())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def paused(pytester, live, cli):
    """A live pytest session paused at a checkpoint: (session, pause_id, run_id)."""
    pytester.makepyfile(test_wait=WAITING)
    s = live()
    run_id = s.run_id
    block, _ = wait_block(s)
    return s, block["pause_id"], run_id


def assert_still_waiting(cli, pause_dir, pause_id, run_id):
    """Nothing was written: no command, no blob, the pause pending."""
    assert commands(pause_dir, run_id) == []
    assert [b for b in blobs(pause_dir, run_id)] == []
    assert read_pause(pause_dir, pause_id)["status"] == "pending"


def test_bad_attach_refused_before_anything_is_written(paused, cli, pause_dir, tmp_path):
    s, pause_id, run_id = paused
    good = tmp_path / "good.txt"
    good.write_text("fine\n")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 4096)
    link = tmp_path / "link.png"
    link.symlink_to(good)
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    esc = tmp_path / "adb\x1b[31m.txt"
    esc.write_text("x")
    bad_utf8 = Path(os.fsdecode(bytes(tmp_path) + b"/shot\xff.png"))
    bad_utf8.write_text("x")
    unreadable = tmp_path / "secret.txt"
    unreadable.write_text("no")
    unreadable.chmod(0)
    missing = str(tmp_path / "missing.png")
    cases = [
        (["--attach", missing], "No such file"),
        (["--attach", str(tmp_path)], "a directory"),
        (["--attach", str(fifo)], "a FIFO"),
        (["--attach", str(link)], "a symlink"),
        (["--attach", "/dev/null"], "a device"),
        (["--attach", str(big), "--max-attachment-size", "1K"], "over the limit of 1024 bytes"),
        # a name that could drive a terminal or is not text
        (["--attach", str(esc)], "control character"),
        (["--attach", str(bad_utf8)], "invalid UTF-8"),
        # one bad file among good ones: none of them is copied
        (["--attach", str(good), "--attach", missing], "missing.png"),
    ]
    if os.geteuid() != 0:  # root reads any file
        cases.append((["--attach", str(unreadable)], "Permission denied"))
    for args, says in cases:
        res = cli("resume", pause_id, "--result", "true", *args)
        assert res.returncode == 2, str(res)
        assert says in res.stderr, str(res)
        assert len(res.stderr.strip().splitlines()) == 1, str(res)
        assert res.stdout == ""
        assert_still_waiting(cli, pause_dir, pause_id, run_id)
    # more files than a pause holds; a bad size value
    many = []
    for _ in range(33):
        many += ["--attach", str(good)]
    res = cli("resume", pause_id, *many)
    assert res.returncode == 2 and "at most 32 attachments" in res.stderr, str(res)
    for bad in ("0", "-1", "12Q", "K"):
        res = cli("resume", pause_id, "--attach", str(good), "--max-attachment-size", bad)
        assert res.returncode == 2 and "--max-attachment-size" in res.stderr, str(res)
    assert_still_waiting(cli, pause_dir, pause_id, run_id)
    # and the pause is still answerable, with the good file
    res = cli("resume", pause_id, "--result", "true", "--attach", str(good), "--json")
    assert res.returncode == 0, str(res)
    assert res.json()["attachments"] == [
        {"name": "good.txt", "sha256": sha(b"fine\n"), "size": 5}]
    rc, out = s.finish()
    assert rc == 0, out


def _limit_file_size() -> None:
    # the disk "fills up" after 64 KiB: write() fails with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_disk_full_while_copying_leaves_no_command_and_no_partial_blob(
        paused, cli, pause_dir, tmp_path):
    s, pause_id, run_id = paused
    big = tmp_path / "screen.png"
    big.write_bytes(os.urandom(512 * 1024))
    proc = subprocess.run([CLI, "resume", pause_id, "--result", "true", "--attach", str(big)],
                          capture_output=True, text=True, env=cli.env, timeout=WAIT,
                          preexec_fn=_limit_file_size)
    assert proc.returncode == 1, proc
    assert "nothing of it was kept" in proc.stderr, proc.stderr
    assert_still_waiting(cli, pause_dir, pause_id, run_id)
    blob_dir = pause_dir / "runs" / run_id / "blobs"
    assert list(blob_dir.iterdir()) == []  # no temporary file either
    res = cli("resume", pause_id, "--result", "true", "--attach", str(big))
    assert res.returncode == 0, str(res)
    assert blobs(pause_dir, run_id) == [sha(big.read_bytes())]
    rc, out = s.finish()
    assert rc == 0, out


def test_show_and_attachment_write_out_verified_blobs(paused, cli, pause_dir, tmp_path):
    s, pause_id, run_id = paused
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8jpeg bytes")
    other = tmp_path / "sub"
    other.mkdir()
    same_name = other / "photo.jpg"  # the same name, other bytes
    same_name.write_bytes(b"\xff\xd8other")
    log = tmp_path / "adb logcat.txt"
    log.write_text("logcat\n")
    res = cli("resume", pause_id, "--result", "false", "--attach", str(photo),
              "--attach", str(same_name), "--attach", str(log))
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 0, out

    shown = cli("show", pause_id)
    assert shown.returncode == 0, str(shown)
    lines = [line for line in shown.stdout.splitlines() if line.startswith("attachment: ")]
    assert lines == [
        f"attachment: photo.jpg (image/jpeg, 12 bytes, from resume) sha256={sha(photo.read_bytes())} blob=ok",
        f"attachment: photo.jpg (image/jpeg, 7 bytes, from resume) sha256={sha(same_name.read_bytes())} blob=ok",
        f"attachment: adb logcat.txt (text/plain, 7 bytes, from resume) sha256={sha(b'logcat' + bytes([10]))} blob=ok",
    ], shown.stdout
    doc = cli("show", pause_id, "--json").json()
    assert [(a["name"], a["source"], a["blob"]) for a in doc["attachments"]] == [
        ("photo.jpg", "resume", "ok"), ("photo.jpg", "resume", "ok"),
        ("adb logcat.txt", "resume", "ok")]

    # by sha256, by a unique name, to a file and to a pipe
    out_file = tmp_path / "out.jpg"
    res = cli("attachment", pause_id, sha(photo.read_bytes()), "-o", str(out_file))
    assert res.returncode == 0, str(res)
    assert out_file.read_bytes() == photo.read_bytes()
    res = subprocess.run([CLI, "attachment", pause_id, "adb logcat.txt"], capture_output=True,
                         env=cli.env, timeout=WAIT)
    assert (res.returncode, res.stdout) == (0, b"logcat\n"), res
    # an ambiguous name, an unknown one, a terminal on stdout
    res = cli("attachment", pause_id, "photo.jpg", "-o", str(out_file))
    assert res.returncode == 2 and "sha256" in res.stderr, str(res)
    res = cli("attachment", pause_id, "nope.png", "-o", str(out_file))
    assert res.returncode == 3, str(res)
    res = cli.tty("attachment", pause_id, sha(photo.read_bytes()))
    assert res.returncode == 2 and "terminal" in res.stderr, str(res)

    # a blob whose bytes changed is never written out, and show says so
    blob = pause_dir / "runs" / run_id / "blobs" / sha(photo.read_bytes())
    blob.write_bytes(b"\xff\xd8JPEG bytes")  # same size, other bytes
    fresh = tmp_path / "fresh.jpg"
    res = cli("attachment", pause_id, sha(photo.read_bytes()), "-o", str(fresh))
    assert res.returncode == 1 and "does not match" in res.stderr, str(res)
    assert not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("fresh.jpg.tmp")]
    res = subprocess.run([CLI, "attachment", pause_id, sha(photo.read_bytes())],
                         capture_output=True, env=cli.env, timeout=WAIT)
    assert res.returncode == 1 and res.stdout == b"", res
    shown = cli("show", pause_id)
    assert "blob=corrupt" in shown.stdout and shown.stdout.count("blob=ok") == 2, shown.stdout
    assert [a["blob"] for a in cli("show", pause_id, "--json").json()["attachments"]] == [
        "corrupt", "ok", "ok"]
    # a missing blob
    (pause_dir / "runs" / run_id / "blobs" / sha(same_name.read_bytes())).unlink()
    res = cli("attachment", pause_id, sha(same_name.read_bytes()), "-o", str(fresh))
    assert res.returncode == 3 and "missing" in res.stderr, str(res)
    assert "blob=missing" in cli("show", pause_id).stdout


def test_gc_removes_blobs_with_their_run(paused, cli, pause_dir, tmp_path):
    s, pause_id, run_id = paused
    f = tmp_path / "note.txt"
    f.write_text("note")
    assert cli("resume", pause_id, "--attach", str(f)).returncode == 0
    rc, out = s.finish()
    assert rc == 0, out
    assert blobs(pause_dir, run_id) == [sha(b"note")]
    res = cli("gc", "--older-than", "0s")
    assert res.returncode == 0, str(res)
    assert not (pause_dir / "runs" / run_id).exists()


def test_help_documents_attach(cli):
    res = cli("resume", "--help")
    assert "--attach FILE" in res.stdout and "--max-attachment-size BYTES" in res.stdout
    res = cli("attachment", "--help")
    assert res.returncode == 0 and "-o, --output FILE" in res.stdout, res.stdout
    assert "attachment" in cli("--help").stdout


def test_abort_attach_goes_with_the_aborted_pause(paused, cli, pause_dir, tmp_path):
    s, pause_id, run_id = paused
    log = tmp_path / "logcat.txt"
    log.write_text("E/adb: device offline\n")
    res = cli("abort", pause_id, "--reason", "device gone", "--attach", str(log))
    assert res.returncode == 0, str(res)
    s.finish()
    doc = read_pause(pause_dir, pause_id)
    assert doc["status"] == "aborted"
    assert [(a["name"], a["source"], a["sha256"]) for a in doc["attachments"]] == [
        ("logcat.txt", "resume", sha(log.read_bytes()))]
    # a second abort or resume of the ended pause writes no blob of its own
    other = tmp_path / "other.txt"
    other.write_text("late")
    res = cli("resume", pause_id, "--attach", str(other))
    assert res.returncode == 7, str(res)
    assert blobs(pause_dir, run_id) == [sha(log.read_bytes())]


# --------------------------------------------------------- the test's side

BOTH_WAYS = '''
import json
from pytest_live_pause import checkpoint


def test_both_ways(live_pause):
    with open("before.png", "wb") as f:
        f.write(b"PNG-before")
    with open("ui.xml", "w") as f:
        f.write("<hierarchy/>")
    live_pause.attach("before.png")
    with open("before.png", "wb") as f:  # attached as it was: copied at attach()
        f.write(b"changed later")
    d = checkpoint(task="does it look right?", attachments=["ui.xml"])
    got = [[p, open(p, "rb").read().decode()] for p in d.attachments]
    with open("decision.json", "w") as f:
        json.dump({"result": d.result, "attachments": got}, f)
'''


def test_checkpoint_attachments_both_ways(pytester, live, cli, pause_dir, tmp_path):
    pytester.makepyfile(test_both=BOTH_WAYS)
    s = live()
    block, _ = wait_block(s)
    pause_id = block["pause_id"]
    attached = [line for line in block["lines"] if line.startswith("attachment: ")]
    assert [a.split(" (")[0] for a in attached] == ["attachment: before.png",
                                                    "attachment: ui.xml"], block["lines"]
    assert "(test, 10 bytes)" in attached[0]
    doc = cli("show", pause_id, "--json").json()
    assert [(a["name"], a["source"], a["size"], a["blob"]) for a in doc["attachments"]] == [
        ("before.png", "test", 10, "ok"), ("ui.xml", "test", 12, "ok")]
    out = tmp_path / "got.png"
    assert cli("attachment", pause_id, "before.png", "-o", str(out)).returncode == 0
    assert out.read_bytes() == b"PNG-before"
    answer = tmp_path / "answer.txt"
    answer.write_text("the logo is cut off")
    res = cli("resume", pause_id, "--result", "false", "--attach", str(answer))
    assert res.returncode == 0, str(res)
    rc, output = s.finish()
    assert rc == 0, output
    got = json.loads((pytester.path / "decision.json").read_text())
    assert got["result"] is False
    [[path, text]] = got["attachments"]
    assert text == "the logo is cut off"
    assert Path(path).parent == pause_dir / "runs" / block["pause_id"].split(".")[0] / "blobs"
    assert re.search(r"^attachment: answer\.txt \(resume, 19 bytes\): ", output, re.M), output


CAPTURE_CONFTEST = '''
import threading

HANG = threading.Event()


def pytest_live_pause_capture(item, kind):
    if item.name == "test_ok":
        with open("shot.png", "wb") as f:
            f.write(b"PNG-" + kind.encode())
        return ["shot.png", "missing.png", 42]
    if item.name == "test_raises":
        raise RuntimeError("adb offline")
    if item.name == "test_hangs":
        HANG.wait()  # never set: the hook hangs
    return None
'''

CAPTURE_PLUGIN = '''
def pytest_live_pause_capture(item, kind):
    with open("second.log", "w") as f:
        f.write("second hook " + item.name)
    return "second.log" if item.name == "test_ok" else None
'''

CAPTURE_TESTS = '''
pytest_plugins = ["second_capture"]


def test_ok():
    assert 1 == 2


def test_raises():
    assert "a" == "b"


def test_hangs():
    assert [] == [1]
'''


def test_capture_hooks_attach_before_the_pause_and_never_break_it(pytester, live, cli,
                                                                    pause_dir, tmp_path):
    pytester.makeconftest(CAPTURE_CONFTEST)
    pytester.makepyfile(second_capture=CAPTURE_PLUGIN, test_capture=CAPTURE_TESTS)
    junit = tmp_path / "junit.xml"
    s = live("--pause-on-failure", "--pause-capture-timeout", "2", f"--junitxml={junit}",
             "-p", "no:randomly")
    note = tmp_path / "note.txt"
    note.write_text("seen on the device")
    start = 0
    seen = {}
    for _ in range(3):
        block, start = wait_block(s, start)
        seen[block["nodeid"].split("::")[1]] = block
        args = ["--attach", str(note)] if block["nodeid"].endswith("test_ok") else []
        res = cli("resume", block["pause_id"], "--failure-reason", "checked", *args)
        assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 1, out
    assert "3 failed" in out, out
    ok = [line for line in seen["test_ok"]["lines"] if line.startswith("attachment: ")]
    # every implementation is called (pluggy's order: the last registered first)
    assert sorted(a.split(" (")[0] for a in ok) == ["attachment: second.log",
                                                    "attachment: shot.png"], ok
    assert any(a.startswith("attachment: shot.png (capture, 11 bytes): /") for a in ok), ok
    # the bad values and the failing hooks are reported, one line each
    assert re.search(r"^live-pause: capture: cannot attach 'missing.png'", out, re.M), out
    assert re.search(r"^live-pause: capture hook returned int 42 is not a path", out, re.M), out
    assert re.search(r"^live-pause: capture hook failed: RuntimeError: adb offline$", out, re.M)
    assert re.search(r"^live-pause: capture hook did not return within 2s", out, re.M), out
    for name in ("test_raises", "test_hangs"):
        assert not [line for line in seen[name]["lines"] if line.startswith("attachment: ")]
    # the failure report lists every attachment: the terminal section ...
    assert re.search(r"live pause attachments", out), out
    assert re.search(r"^shot\.png \(capture, 11 bytes, sha256 [0-9a-f]{64}\): /", out, re.M), out
    assert re.search(r"^note\.txt \(resume, 18 bytes, sha256 ", out, re.M), out
    # ... and --junitxml, one property per file
    import xml.etree.ElementTree as ET
    case = next(c for c in ET.parse(junit).iter("testcase") if c.get("name") == "test_ok")
    props = [p.get("value") for p in case.iter("property")
             if p.get("name") == "live_pause_attachment"]
    assert sorted(p.split(" (")[0] for p in props) == ["note.txt", "second.log", "shot.png"]
    assert props[-1].startswith("note.txt (resume, 18 bytes"), props  # the resumer's last
    assert all(re.search(r"sha256 [0-9a-f]{64}\): /", p) for p in props), props


BAD_TEST_SIDE = '''
import json
import os
import pytest
from pytest_live_pause import InvalidArgumentError, checkpoint


def record(name, exc):
    with open("errors.jsonl", "a") as f:
        f.write(json.dumps({"test": name, "type": type(exc).__name__, "msg": str(exc)}) + "\\n")


@pytest.mark.parametrize("bad", ["missing.png", ".", "/dev/null", "fifo", "big.bin", "link.png"])
def test_attach_refused(live_pause, bad):
    if bad == "fifo" and not os.path.exists("fifo"):
        os.mkfifo("fifo")
    if bad == "big.bin":
        with open("big.bin", "wb") as f:
            f.write(b"x" * 2048)
    if bad == "link.png" and not os.path.lexists("link.png"):
        os.symlink("big.bin", "link.png")
    with pytest.raises(InvalidArgumentError) as exc:
        live_pause.attach(bad)
    record("attach " + bad, exc.value)
    with pytest.raises(InvalidArgumentError) as exc:
        checkpoint(task="never paused", attachments=[bad])
    record("checkpoint " + bad, exc.value)


def test_attach_type_errors(live_pause):
    with pytest.raises(TypeError):
        live_pause.attach(42)
    with pytest.raises(TypeError):
        checkpoint(task="never paused", attachments=[b"bytes.png"])
'''


def test_bad_files_on_the_test_side_raise_and_never_pause(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_bad=BAD_TEST_SIDE)
    result = run_pytest("--pause-max-attachment-size", "1K")
    out = result.stdout.str()
    assert result.ret == 0, out
    assert "INTERNALERROR" not in out
    assert "PAUSED" not in out
    errors = [json.loads(line) for line in (pytester.path / "errors.jsonl").read_text().splitlines()]
    says = {e["test"]: e["msg"] for e in errors}
    assert "No such file" in says["attach missing.png"]
    assert "a directory" in says["attach ."]
    assert "a device" in says["checkpoint /dev/null"]
    assert "a FIFO" in says["attach fifo"]
    assert "over the limit of 1024 bytes" in says["checkpoint big.bin"]
    assert "symlink" in says["attach link.png"]
    assert all("\n" not in m for m in says.values())
