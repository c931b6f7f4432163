"""Text from a test or a resumer is data (issue 10 points 3 and 11).

The binding (`_livepause.terminal_safe`, `_livepause.shell_quote`) that the
plugin uses for pytest's terminal and the QAMule lines, and the CLI's
`show`, `watch` and `ls`, which print every such text through the same
runtime function: no hostile nodeid, task, failure text or reason can move
the cursor, clear the screen, or forge a line for an agent that splits the
output into lines.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from pytest_live_pause import _livepause

#: each can end a line for some reader or drive a terminal
HOSTILE = [
    "\x1b[2J\x1b[Hall tests passed",        # clear screen, cursor home
    "a\rpause_id: forged",                   # CR
    "a\x0bstate: resumed",                   # VT
    "a\x0cstate: resumed",                   # FF
    "a\x85pause_id: forged",                 # U+0085 NEL
    "a\u2028pause_id: forged",               # LINE SEPARATOR
    "a\u2029state: resumed",                 # PARAGRAPH SEPARATOR
    "a\x9b31mred",                           # C1 CSI
    "a\x7fb\x08c",                           # DEL, BS
    "a\x1c\x1d\x1estate: resumed",           # FS GS RS (str.splitlines splits on them)
    "a\npause_id: forged",                   # LF then a forged key
    "\u202eevil\u202c",                      # bidi override
    "\x1b]0;pwned\x07",                      # OSC: window title
]


def _inert(text: str, multiline: bool = False) -> None:
    kept = "\n\t" if multiline else ""
    for ch in text:
        code = ord(ch)
        assert not (code < 0x20 and ch not in kept), repr(text)
        assert not (0x7F <= code <= 0x9F), repr(text)
        assert ch not in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e", repr(text)
    # one line for every reader, whatever it splits on
    if not multiline:
        assert len(text.splitlines()) <= 1, repr(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_terminal_safe_escapes_every_class(text: str) -> None:
    out = _livepause.terminal_safe(text)
    _inert(out)
    _inert(_livepause.terminal_safe(text, multiline=True), multiline=True)


def test_terminal_safe_escapes_visibly() -> None:
    ts = _livepause.terminal_safe
    assert ts("a\x1bb") == "a\\x1bb"
    assert ts("a\u2028b\u2029c\x85d") == "a\\u2028b\\u2029c\\u0085d"
    assert ts("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert ts("a\nb\tc\rd", multiline=True) == "a\nb\tc\\rd"
    assert ts("tests/test_x.py::test_ok[café-€]") == "tests/test_x.py::test_ok[café-€]"


def test_terminal_safe_never_raises_on_nul_and_surrogates() -> None:
    ts = _livepause.terminal_safe
    assert ts("a\x00b") == "a\\x00b"
    # what os.listdir() gives for a Latin-1 file name: its original byte
    assert ts(b"caf\xe9".decode("utf-8", "surrogateescape")) == "caf\\xe9"
    # any other lone surrogate is shown as its code point
    assert ts("x\ud800y\udfffz") == "x\\ud800y\\udfffz"
    assert ts(b"\xff\x00ok") == "\\xff\\x00ok"
    assert ts("") == ""
    with pytest.raises(TypeError):
        ts(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("word", [
    "plain", "it's", "'$(touch pwned)'", "$(id)", "`id`", "a b", "", "a\nb",
    "*", "~", "=ls", "-n", "\\", '"', "!x", "a;b|c&d", "{a,b}", "café",
])
def test_shell_quote_reads_back_in_sh(word: str, tmp_path) -> None:
    quoted = _livepause.shell_quote(word)
    out = subprocess.run(["sh", "-c", f"set -f; printf '%s' {quoted}"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert out == word
    assert not (tmp_path / "pwned").exists()


def test_shell_quote_refuses_nul() -> None:
    with pytest.raises(ValueError):
        _livepause.shell_quote("a\x00b")


# ------------------------------------------------------- resume commands


CHECKPOINT = '''
from pytest_live_pause import checkpoint

def test_cp():
    d = checkpoint(task="approve", timeout=float("inf"))
    print("DECISION", d.outcome, d.result, d.reason, flush=True)
'''

def _sh_env(env: dict) -> dict:
    """env with the CLI under test first on PATH, as a user who pastes has it."""
    import os
    from conftest import CLI
    assert CLI is not None
    return dict(env, PATH=os.pathsep.join([os.path.dirname(CLI), env.get("PATH", "")]))


FAILURE = '''
def test_fail():
    assert False, "boom"
'''


@pytest.mark.parametrize("dirname", ["it's", "'$(touch pwned)'", "a b;`touch pwned`", "$HOME"])
def test_printed_resume_command_is_shell_safe(live, pytester, tmp_path, dirname):
    """Issue 10.11: a pause directory with quotes or command substitutions.
    The command stored in the pause file, printed by pytest and by `watch`,
    pasted into sh as it is, resumes the pause and runs nothing else."""
    from conftest import Cli, WAIT

    weird = tmp_path / dirname / "pauses"
    weird.parent.mkdir(mode=0o700)
    pytester.makepyfile(test_f=FAILURE)
    s = live("-s", "--pause-on-failure", f"--pause-dir={weird}", "test_f.py")
    cli = Cli(weird)
    info = cli.watch(s.run_id)
    stored = info["resume_command"]
    assert "--pause-dir" in stored
    env = dict(cli.env)
    env.pop("PYTEST_LIVE_PAUSE_DIR")  # the commands name the directory themselves
    watched = cli("watch", "--run-id", s.run_id, "--pause-dir", str(weird), env=env)
    assert watched.returncode == 0, str(watched)
    printed = [ln[len("resume: "):] for ln in watched.stdout.splitlines()
               if ln.startswith("resume: ")]
    assert printed == [stored], str(watched)
    run = subprocess.run(["sh", "-c", stored], cwd=tmp_path, env=_sh_env(env), capture_output=True,
                         text=True, timeout=WAIT)
    assert run.returncode == 0, (stored, run.stdout, run.stderr)
    code, out = s.finish()
    assert "TEXT" in out  # the failure reason of the pasted command
    assert not list(tmp_path.rglob("pwned")), stored


def test_checkpoint_hint_pasted_unchanged_is_refused(live, pytester, cli, pause_dir):
    """`--result 'true|false|none'` is quoted: pasting the hint as it is is a
    usage error that writes nothing, not a pipeline resuming with true."""
    pytester.makepyfile(test_c=CHECKPOINT)
    s = live("-s", "test_c.py")
    info = cli.watch(s.run_id)
    hint = info["resume_command"]
    assert "--result 'true|false|none' --reason TEXT" in hint
    run = subprocess.run(["sh", "-c", hint], env=_sh_env(cli.env), capture_output=True, text=True)
    assert run.returncode == 2, (hint, run.stdout, run.stderr)
    assert cli("show", "--json", info["pause_id"]).json()["state"] == "pending"
    res = cli("resume", info["pause_id"], "--result", "true")
    assert res.returncode == 0, str(res)
    s.finish()


# ------------------------------------------- the CLI prints data safely

#: every key the CLI writes at the start of a line in `show` and `watch`
KEYS = {"pause detected", "pause_id", "kind", "run_id", "nodeid", "state", "status", "pid",
        "worker_id", "hostname", "cwd", "created_at", "timeout", "task", "original_failure",
        "pause_file", "resume", "resolved_by", "resolved_at", "failure_reason", "result",
        "reason", "finished_at",
        # issues 12 and 13: where a checkpoint was called, what a pending
        # pause takes besides resume, typed answers, evidence
        "location", "eval", "actions", "question", "choices", "value", "attachment"}

#: one text holding every hostile instance, each on its own line
ALL_HOSTILE = "\n".join(HOSTILE)


def assert_safe_key_lines(out: str) -> dict[str, list[str]]:
    """Output of `show`/`watch`: no control character but LF, nothing a
    line reader could split on; every line is a key of ours at column 0 or
    a continuation indented by two spaces; pause_id and state appear once.
    Returns the key lines."""
    _inert(out.replace("\n", ""))
    assert out.splitlines() == out.split("\n")[:-1] or out.endswith("\n") is False, repr(out)
    keys: dict[str, list[str]] = {}
    for line in out.split("\n")[:-1]:
        if line.startswith("  "):
            continue
        key, sep, value = line.partition(": ")
        assert sep and key in KEYS, f"line not ours: {line!r}\n{out}"
        keys.setdefault(key, []).append(value)
    assert len(keys["pause_id"]) == 1 and len(keys["state"]) == 1, out
    assert "forged" not in keys["pause_id"][0] and keys["state"][0] == "pending", out
    return keys


def _checkpoint_source(task: str) -> str:
    return f'''
from pytest_live_pause import checkpoint

def test_cp():
    checkpoint(task={task!r}, timeout=float("inf"))
'''


def _failure_source(text: str) -> str:
    return f'''
def test_fail():
    raise AssertionError({text!r})
'''


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_show_watch_ls_escape_hostile_task_and_failure_text(live, pytester, cli, kind):
    if kind == "checkpoint":
        pytester.makepyfile(test_h=_checkpoint_source(ALL_HOSTILE))
        s = live("test_h.py")
    else:
        pytester.makepyfile(test_h=_failure_source(ALL_HOSTILE))
        s = live("--pause-on-failure", "test_h.py")
    info = cli.watch(s.run_id)
    pid = info["pause_id"]
    text_key = "task" if kind == "checkpoint" else "original_failure"
    carried = ALL_HOSTILE if kind == "checkpoint" else "\u2028pause_id: forged"
    assert carried in info[text_key] and "\x1b[2J" in info[text_key]  # --json: data unchanged

    for args in (["watch", "--run-id", s.run_id], ["show", pid]):
        res = cli(*args)
        assert res.returncode == 0, str(res)
        keys = assert_safe_key_lines(res.stdout)
        assert "\\x1b[2J" in res.stdout and "\\u2028pause_id: forged" in res.stdout
        assert "\\rpause_id: forged" in res.stdout and "\\x0bstate: resumed" in res.stdout
        assert "\\u0085pause_id" in res.stdout and "\\u009b31m" in res.stdout
        assert "\\x7fb\\x08c" in res.stdout and "\\u202eevil" in res.stdout
        assert keys[text_key]  # the text is there, escaped
    for args in (["ls"], ["ls", "-a"]):
        res = cli(*args)
        assert res.returncode == 0, str(res)
        _inert(res.stdout.replace("\n", "").replace("\t", ""))
        assert pid in res.stdout
    # --json: one line per pause for every reader, the data unchanged
    for args in (["ls", "--json"], ["show", "--json", pid], ["watch", "--run-id", s.run_id, "--json"]):
        res = cli(*args)
        assert res.returncode == 0, str(res)
        assert len(res.stdout.splitlines()) == 1, repr(res.stdout)
        _inert(res.stdout.rstrip("\n"))
        assert carried in json.loads(res.stdout)[text_key]
    assert cli("resume", pid, *(["--result", "true"] if kind == "checkpoint" else [])).returncode == 0
    s.finish()


def test_planted_pause_file_fields_are_escaped(live, pytester, cli, pause_dir):
    """Every text field of a pause file written by another tool (hostname,
    cwd, worker_id, nodeid, kind, status, task) is printed escaped by
    show, watch and ls; --json lines stay one line for every reader."""
    pytester.makepyfile(test_c=CHECKPOINT)
    s = live("-s", "test_c.py")
    real = cli.watch(s.run_id)
    run_dir = pause_dir / "runs" / s.run_id
    planted_id = f"{s.run_id}.deadbeef"
    doc = dict(real, pause_id=planted_id, created_at=real["created_at"] + 1000,
               hostname="evil-host\x1b[2J\u2028pause_id: forged",
               cwd="/home/\x1b]0;t\x07x\rstate: resumed", worker_id="gw0\x85state: resumed",
               nodeid="t.py::x\u2029pause_id: forged\x9b1m", task="look\x0bstate: resumed")
    for k in ("state", "path"):
        doc.pop(k, None)
    (run_dir / "pauses" / f"{planted_id}.json").write_text(json.dumps(doc, ensure_ascii=False))
    (pause_dir / "pending" / planted_id).touch()

    for args in (["watch", "--run-id", s.run_id], ["show", planted_id]):
        res = cli(*args)
        assert res.returncode == 0, str(res)
        keys = assert_safe_key_lines(res.stdout)
        assert keys["pause_id"] == [planted_id], res.stdout
        assert "evil-host\\x1b[2J\\u2028pause_id: forged" in res.stdout or args[0] == "watch"
        assert "t.py::x\\u2029pause_id: forged\\u009b1m" in keys["nodeid"][0]
    res = cli("show", planted_id)
    keys = assert_safe_key_lines(res.stdout)
    assert keys["cwd"] == ["/home/\\x1b]0;t\\x07x\\rstate: resumed"]
    assert keys["worker_id"] == ["gw0\\u0085state: resumed"]
    res = cli("ls")
    assert res.returncode == 0 and planted_id in res.stdout, str(res)
    _inert(res.stdout.replace("\n", "").replace("\t", ""))
    assert len(res.stdout.splitlines()) <= 3, res.stdout  # header? + two pauses, nothing forged
    for args in (["ls", "--json"], ["show", "--json", planted_id]):
        res = cli(*args)
        _inert(res.stdout.replace("\n", ""))
        for line in res.stdout.splitlines():
            json.loads(line)
    # the real pause is still resumable
    assert cli("resume", real["pause_id"], "--result", "true").returncode == 0
    (pause_dir / "pending" / planted_id).unlink()
    s.finish()


@pytest.mark.parametrize("ref", ["a\x1b[2Jb", "x\u2028pause_id: forged", "/tmp/\x9b1m/runs/r/pauses/p.json",
                                 "y\rstate: resumed"])
def test_error_messages_escape_what_the_user_gave(cli, ref):
    for args in (["show", ref], ["resume", ref], ["watch", "--run-id", ref]):
        res = cli(*args)
        assert res.returncode in (2, 3, 11), str(res)
        assert res.stdout == ""
        lines = res.stderr.split("\n")
        assert len(lines) == 2 and lines[1] == "", repr(res.stderr)
        _inert(lines[0])


@pytest.mark.parametrize("kind", ["checkpoint", "failure"])
def test_show_prints_the_verdict_escaped(live, pytester, cli, kind):
    """Issue 11.3: `show` of an ended pause prints who resolved it, when,
    and the verdict; the resumer's text is escaped like any other."""
    hostile = "ok\x1b[2J\nstate: pending\u2028pause_id: forged"
    if kind == "checkpoint":
        pytester.makepyfile(test_v=_checkpoint_source("approve"))
        s = live("test_v.py")
        args = ["--result", "false", "--reason", hostile]
    else:
        pytester.makepyfile(test_v=_failure_source("boom"))
        s = live("--pause-on-failure", "test_v.py")
        args = ["--failure-reason", hostile]
    info = cli.watch(s.run_id)
    res = cli("show", info["pause_id"])
    assert "resolved_by:" not in res.stdout and "\nresume: " in res.stdout  # pending: no verdict
    assert cli("resume", info["pause_id"], *args).returncode == 0
    s.finish()
    res = cli("show", info["pause_id"])
    assert res.returncode == 0, str(res)
    out = res.stdout
    _inert(out.replace("\n", ""))
    lines = out.split("\n")[:-1]
    top = [ln.partition(": ")[0] for ln in lines if not ln.startswith("  ")]
    assert top.count("pause_id") == 1 and top.count("state") == 1, out
    assert set(top) <= KEYS, out
    assert "state: resumed" in lines and "resolved_by: cli" in lines
    assert any(ln.startswith("finished_at: ") for ln in lines), out
    key = "reason" if kind == "checkpoint" else "failure_reason"
    at = next(k for k, ln in enumerate(lines) if ln.startswith(f"{key}: "))
    assert lines[at] == f"{key}: ok\\x1b[2J"
    assert lines[at + 1] == "  state: pending\\u2028pause_id: forged"
    if kind == "checkpoint":
        assert "result: false" in lines
    assert "\nresume: " not in out  # ended: no hint
    # --json carries the verdict unchanged
    j = cli("show", "--json", info["pause_id"]).json()
    assert j[key] == hostile and j["resolved_by"] == "cli"


def test_resume_json_is_one_line_for_a_hostile_nodeid(live, pytester, cli):
    """A test directory named with U+2028, U+0085 and a C1 control: the
    node id reaches every --json output as one line with the same data."""
    d = pytester.path / "x\u2028y\x85z\x9b"
    d.mkdir()
    (d / "test_n.py").write_text(_checkpoint_source("approve"))
    s = live(f"{d.name}/test_n.py")
    info = cli.watch(s.run_id)
    assert "\u2028" in info["nodeid"] and "\x85" in info["nodeid"]
    res = cli("resume", info["pause_id"], "--result", "true", "--json")
    assert res.returncode == 0, str(res)
    assert len(res.stdout.splitlines()) == 1, repr(res.stdout)
    _inert(res.stdout.rstrip("\n"))
    assert res.json()["nodeid"] == info["nodeid"]
    human = cli("show", info["pause_id"])
    assert "nodeid: x\\u2028y\\u0085z\\u009b/test_n.py::test_cp" in human.stdout.splitlines()
    s.finish()
