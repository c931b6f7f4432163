"""Black-box tests: typed answers and where a pause was called from.

- `checkpoint(task, choices=[...])`: `resume <id> --value CHOICE` (a value
  outside the choices refused with exit 2, nothing written; `--result`
  still available); the decision's `.value`;
- `ask(question, timeout=None) -> str | None`: a pause of kind `question`,
  answered with `resume <id> --value TEXT`;
- `--value` on a failure pause or a checkpoint without choices,
  `--failure-reason` or `--result` on a question: refused, nothing written;
- a hand-written command with an unknown action, or a value outside the
  choices, is moved aside and never consumed;
- `ls`, `show`, `watch` print the question and the choices, and `show` /
  `watch` the `location` (file:line) of every checkpoint and question.

Real pytest sessions in the background (the `live` fixture), the real CLI.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import Cli, command_file, read_pause, wait_block

EXIT = {"ok": 0, "usage": 2}

RECORD = '''
import json


def record(name, **fields):
    with open("answers.jsonl", "a") as f:
        f.write(json.dumps({"test": name, **fields}) + "\\n")
'''


def answers(pytester: pytest.Pytester) -> dict[str, dict]:
    path = pytester.path / "answers.jsonl"
    assert path.exists(), "the inner tests recorded nothing"
    return {d["test"]: d for d in map(json.loads, path.read_text().splitlines())}


def entries(pause_dir: Path, pause_id: str) -> list[str]:
    d = command_file(pause_dir, pause_id).parent
    return sorted(p.name for p in d.iterdir() if p.name.startswith(pause_id))


def line_of(suite: str, needle: str) -> int:
    """The line of needle in the file pytester writes (stripped)."""
    lines = suite.strip().split("\n")
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def refused(cli: Cli, pause_dir: Path, pid: str, args: list[str], fragment: str) -> None:
    """resume with args is a usage error naming the problem; nothing written."""
    before = entries(pause_dir, pid)
    res = cli("resume", pid, *args)
    assert res.returncode == EXIT["usage"], str(res)
    assert fragment in res.stderr, str(res)
    assert res.stderr.count("\n") == 1, str(res)
    assert entries(pause_dir, pid) == before
    assert read_pause(pause_dir, pid)["status"] == "pending"


# ----------------------------------------------------------------- choices

CHOICES_SUITE = RECORD + '''
from pytest_live_pause import checkpoint


def test_pick():
    d = checkpoint("Is the screen right?", choices=["pass", "retry", "skip"], timeout=300)
    record("test_pick", value=d.value, result=d.result, reason=d.reason, outcome=d.outcome)
'''


def test_choices_value_and_bad_commands(pytester: pytest.Pytester, live, cli: Cli,
                                        pause_dir: Path) -> None:
    pytester.makepyfile(test_choices=CHOICES_SUITE)
    s = live()
    block, _ = wait_block(s)
    pid = block["pause_id"]
    assert block["choices"] == "pass, retry, skip"
    where = f"test_choices.py:{line_of(CHOICES_SUITE, 'd = checkpoint(')}"
    assert block["location"] == where
    assert "--value 'pass|retry|skip'" in block["resume"]
    # show (text and --json), watch and ls print the choices and the location
    show = cli("show", pid)
    assert "\nchoices: pass | retry | skip\n" in show.stdout, str(show)
    assert f"\nlocation: {where}\n" in show.stdout, str(show)
    doc = cli("show", pid, "--json").json()
    assert (doc["choices"], doc["location"]) == (["pass", "retry", "skip"], where)
    watch = cli("watch", "--run-id", pid.split(".")[0], "--timeout", "30")
    assert "\nchoices: pass | retry | skip\n" in watch.stdout, str(watch)
    assert f"\nlocation: {where}\n" in watch.stdout, str(watch)
    ls = cli.tty("ls")
    assert "[choices: pass|retry|skip]" in ls.stdout, str(ls)
    # outside the choices, or on the wrong kind of option: refused, nothing written
    refused(cli, pause_dir, pid, ["--value", "Retry"],
            "takes --value 'pass', 'retry', 'skip', not 'Retry'")
    refused(cli, pause_dir, pid, ["--value", ""], "not ''")
    refused(cli, pause_dir, pid, ["--value", "pass", "--failure-reason", "x"], "use one kind")
    # hand-written: an unknown action, a value outside the choices, a wrong
    # type: each moved aside, never consumed; the pause keeps waiting
    path = command_file(pause_dir, pid)
    start = len(s.lines)
    for k, text in enumerate(['{"action": "explode", "value": "pass"}',
                              '{"action": "resume", "value": "maybe"}',
                              '{"action": "resume", "value": 3}']):
        path.write_text(text)
        s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pid)}: ", start=start)
        start = len(s.lines)
        assert read_pause(pause_dir, pid)["status"] == "pending"
    rejected = [n for n in entries(pause_dir, pid) if ".rejected." in n]
    assert len(rejected) == 3, entries(pause_dir, pid)
    assert not path.exists()
    # a choice, with --result and --reason as well
    res = cli("resume", pid, "--value", "retry", "--result", "false", "--reason", "flicker")
    assert res.returncode == EXIT["ok"], str(res)
    rc, out = s.finish()
    assert rc == 0, out
    assert answers(pytester)["test_pick"] == {"test": "test_pick", "value": "retry",
                                              "result": False, "reason": "flicker",
                                              "outcome": "resumed"}
    doc = read_pause(pause_dir, pid)
    assert (doc["value"], doc["result"]) == ("retry", False)
    shown = cli("show", pid).stdout
    assert "\nvalue: retry\n" in shown and "\nresult: false\n" in shown, shown


# ------------------------------------------------------- questions, kinds

ASK_SUITE = RECORD + '''
import pytest
from pytest_live_pause import ask, checkpoint


def test_a_failure():
    assert 1 == 2


def test_b_plain_checkpoint():
    d = checkpoint("Approve", timeout=300)
    record("test_b_plain_checkpoint", value=d.value, result=d.result)


def test_c_ask(live_pause):
    first = ask("Which firmware version does the device show?")
    second = live_pause.ask("Anything to add?")
    third = ask("Nobody will answer this", timeout=0)
    record("test_c_ask", first=first, second=second, third=third)


def test_d_bad_arguments():
    errors = []
    for call in (lambda: ask(""), lambda: ask(3),
                 lambda: checkpoint("x", choices="pass"),
                 lambda: checkpoint("x", choices=["a", "a"]),
                 lambda: checkpoint("x", choices=[]),
                 lambda: checkpoint("x", choices=["a", 1])):
        try:
            call()
        except TypeError:
            errors.append("TypeError")
        except ValueError:  # InvalidArgumentError from the runtime is one
            errors.append("ValueError")
    record("test_d_bad_arguments", errors=errors)
'''


def test_ask_and_options_of_the_wrong_kind(pytester: pytest.Pytester, live, cli: Cli,
                                           pause_dir: Path) -> None:
    pytester.makepyfile(test_ask=ASK_SUITE)
    s = live("--pause-on-failure", "--pause-timeout", "300")
    # a failure pause takes no --value
    fail, nxt = wait_block(s)
    refused(cli, pause_dir, fail["pause_id"], ["--value", "x"],
            "is a failure pause: --result and --reason are only for checkpoints")
    assert cli("resume", fail["pause_id"]).returncode == EXIT["ok"]
    # a checkpoint without choices takes no --value
    plain, nxt = wait_block(s, nxt)
    assert plain["location"] == f"test_ask.py:{line_of(ASK_SUITE, 'Approve')}"
    refused(cli, pause_dir, plain["pause_id"], ["--value", "x"],
            "is a checkpoint without choices: --value is only for")
    assert cli("resume", plain["pause_id"], "--result", "true").returncode == EXIT["ok"]
    # a question: printed as one; --result, --value with --result and
    # --failure-reason refused; answered with --value
    q, nxt = wait_block(s, nxt)
    assert q["kind"] == "question"
    assert q["question"] == "Which firmware version does the device show?"
    assert q["location"] == f"test_ask.py:{line_of(ASK_SUITE, 'first = ask(')}"
    assert q["resume"].endswith("--value TEXT"), q
    pid = q["pause_id"]
    shown = cli("show", pid).stdout
    assert "\nquestion: Which firmware version does the device show?\n" in shown, shown
    assert "\nkind: question\n" in shown
    ls = cli.tty("ls")
    assert "[question: Which firmware version does the device show?]" in ls.stdout, str(ls)
    refused(cli, pause_dir, pid, ["--result", "true"],
            "is a question: --result is only for checkpoints; answer it with --value TEXT")
    refused(cli, pause_dir, pid, ["--value", "4.2.1", "--result", "true"],
            "give --value TEXT without --result")
    refused(cli, pause_dir, pid, ["--failure-reason", "x"],
            "is a question: --failure-reason is only for failure pauses")
    res = cli("resume", pid, "--value", "4.2.1", "--json")
    assert res.returncode == EXIT["ok"], str(res)
    assert res.json()["kind"] == "question"
    q2, _ = wait_block(s, nxt)
    assert q2["location"] == f"test_ask.py:{line_of(ASK_SUITE, 'live_pause.ask(')}"
    assert cli("resume", q2["pause_id"]).returncode == EXIT["ok"]  # no value: None
    rc, out = s.finish()
    assert rc == 1, out  # test_a_failure failed
    got = answers(pytester)
    assert got["test_c_ask"] == {"test": "test_c_ask", "first": "4.2.1", "second": None,
                                 "third": None}
    assert got["test_b_plain_checkpoint"]["value"] is None
    assert got["test_d_bad_arguments"]["errors"] == [
        "ValueError", "TypeError", "TypeError", "ValueError", "ValueError", "TypeError"]
    doc = read_pause(pause_dir, pid)
    assert (doc["kind"], doc["status"], doc["value"]) == ("question", "resumed", "4.2.1")
    assert "\nvalue: 4.2.1\n" in cli("show", pid).stdout


def test_value_to_an_older_paused_process_is_refused(
        pytester: pytest.Pytester, cli: Cli, pause_dir: Path) -> None:
    """A pause of protocol 2 would ignore a value and could not stop its
    run: --value and abort are refused with one line, nothing written."""
    run_id = "oldrun"
    pid = f"{run_id}.0000abcd"
    run = pause_dir / "runs" / run_id
    for sub in ("pauses", "commands"):
        (run / sub).mkdir(parents=True, mode=0o700)
    pause_dir.chmod(0o700)
    (pause_dir / "runs").chmod(0o700)
    run.chmod(0o700)
    import os
    import socket
    stat = Path("/proc/self/stat").read_text()
    me = {"pid": os.getpid(), "hostname": socket.gethostname(),
          "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
          "pid_start_time": stat[stat.rindex(")") + 2:].split()[19]}
    (run / "run.json").write_text(json.dumps({"protocol": 2, "run_id": run_id, "status": "active",
                                              **me}))
    (run / "pauses" / f"{pid}.json").write_text(json.dumps({
        "protocol": 2, "pause_id": pid, "run_id": run_id, "kind": "checkpoint",
        "status": "pending", "nodeid": "t.py::a", "task": "x", "created_at": 1.0, "choices": ["x", "y"],
        "timeout": None, **me}))
    for args, fragment in ((["resume", pid, "--value", "x"], "(protocol 2) that takes no --value"),
                           (["abort", pid], "(protocol 2) that cannot stop its run")):
        res = cli(*args)
        assert res.returncode == EXIT["usage"], str(res)
        assert fragment in res.stderr and res.stderr.count("\n") == 1, str(res)
        assert list((run / "commands").iterdir()) == []
