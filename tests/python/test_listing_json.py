"""Black-box tests of `ls -a --json` and its accelerator, catalog-json.tsv
(docs/protocol.md, "The catalog"): the listing object of every ended
pause is read from its "J" line, and the output is exactly what reading
every pause file gives, line for line, whether the accelerator is there,
gone, damaged or cut, and whether the catalog itself is there or not.
Real pytest sessions (the `live` fixture), the real CLI binary.
"""
from __future__ import annotations

import json
from pathlib import Path

from _paused import CLI_BIN, sigkill, wait_paused  # noqa: F401  (CLI_BIN: the binary is built)

MANY_KINDS = '''
import os
from pathlib import Path
import pytest
from pytest_live_pause import ask, checkpoint

def test_choice():
    p = Path("evidence.txt")
    p.write_text("seen")
    d = checkpoint(task="odd\\ttask \\u00fc \\u2028 \\"q\\" \\\\ /", choices=["yes", "no"],
                   attachments=[str(p)])
    assert d.value == "yes"

def test_failure():
    assert 6 * 7 == 43, "the answer\\tis wrong"

def test_question():
    assert ask("what is it?") == "42"

def test_timeout():
    checkpoint(task="nobody comes", timeout=0.05)
'''

ONE_CP = '''
from pytest_live_pause import checkpoint

def test_cp():
    checkpoint(task="wait here", timeout=float("inf"))
'''


def ls_json(cli) -> list[str]:
    res = cli("ls", "-a", "--json")
    assert res.returncode == 0 and res.stderr == "", str(res)
    return res.stdout.splitlines()


def listing_lines(pause_dir: Path) -> list[str]:
    text = (pause_dir / "catalog-json.tsv").read_text()
    lines = text.splitlines()
    assert lines[0] == "pytest-live-pause catalog-json 1"
    return lines[1:]


def many_states(live, pytester, cli) -> dict[str, dict]:
    """Ended pauses of every kind and outcome, one pending, one stale."""
    pytester.makepyfile(test_many=MANY_KINDS, test_one=ONE_CP)
    s = live("-s", "--pause-on-failure", "test_many.py")
    cp = wait_paused(s, cli, kind="checkpoint")
    assert cli("resume", cp["pause_id"], "--value", "yes", "--reason", "r\tx é").returncode == 0
    fail = wait_paused(s, cli, kind="failure")
    assert cli("resume", fail["pause_id"], "--failure-reason", "known\nbug").returncode == 0
    q = wait_paused(s, cli, kind="question")
    assert cli("resume", q["pause_id"], "--value", "42").returncode == 0
    rc, out = s.finish()
    assert rc == 1, out  # the failure fails
    aborted = live("-s", "test_one.py")
    a = wait_paused(aborted, cli)
    assert cli("abort", a["pause_id"], "--reason", "device gone").returncode == 0
    aborted.finish()
    killed = live("-s", "test_one.py")
    k = wait_paused(killed, cli)
    sigkill(killed)
    pending = live("-s", "test_one.py")
    p = wait_paused(pending, cli)
    states = {json.loads(line)["pause_id"]: json.loads(line) for line in ls_json(cli)}
    assert states[cp["pause_id"]]["state"] == "resumed"
    assert states[a["pause_id"]]["state"] == "aborted"
    assert states[k["pause_id"]]["state"] == "stale"
    assert states[p["pause_id"]]["state"] == "pending"
    assert sorted(v["state"] for v in states.values()) == [
        "aborted", "pending", "resumed", "resumed", "resumed", "stale", "timed_out"]
    return states


def test_ls_a_json_is_the_same_with_and_without_the_accelerator(live, pytester, cli, pause_dir):
    states = many_states(live, pytester, cli)
    ended = {i for i, v in states.items() if v["state"] not in ("pending", "stale")}
    lines = listing_lines(pause_dir)
    assert {line.split("\t")[1] for line in lines} == ended  # one "J" line per ended pause
    fast = ls_json(cli)
    # every object names its own pause file, the one the walk reads
    for obj in map(json.loads, fast):
        assert obj["path"] == str(pause_dir / "runs" / obj["run_id"] / "pauses" /
                                  f"{obj['pause_id']}.json")
    # a line whose JSON was changed (same length), a cut line, a line
    # with a wrong checksum, an unparsable one: each pause is read from
    # its file instead, and so is every one when the file is gone
    acc = pause_dir / "catalog-json.tsv"
    original = acc.read_bytes()
    damaged = list(lines)
    damaged[0] = damaged[0].replace('"kind":"', '"kind":"X', 1)
    damaged[0] = damaged[0][:-3] + damaged[0][-2:]  # same length as before the X
    damaged[1] = damaged[1][: len(damaged[1]) // 2]
    f = damaged[2].split("\t")
    damaged[2] = "\t".join(f[:3] + ["0" * 16] + f[4:])
    damaged[3] = "J\tnot an id\t1\t" + "0" * 16 + "\t{}"
    for text in (
        "pytest-live-pause catalog-json 1\n" + "\n".join(damaged) + "\n",
        original.decode()[:-1],  # the last line without its LF: not a line yet
        "pytest-live-pause catalog-json 2\n" + "\n".join(lines) + "\n",  # another version
        "",
    ):
        acc.write_text(text)
        assert ls_json(cli) == fast, text[:200]
    acc.unlink()
    assert ls_json(cli) == fast
    # no catalog at all: every run is walked, the same objects again
    catalog = pause_dir / "catalog.tsv"
    saved = catalog.read_bytes()
    catalog.unlink()
    assert ls_json(cli) == fast
    # and the accelerator alone is really read: with the pause files of
    # ended pauses gone, their objects are still listed from it
    catalog.write_bytes(saved)
    acc.write_bytes(original)
    for obj in map(json.loads, fast):
        if obj["pause_id"] in ended:
            Path(obj["path"]).unlink()
    assert ls_json(cli) == fast
    acc.unlink()
    left = [json.loads(line)["pause_id"] for line in ls_json(cli)]
    assert set(left) == set(states) - ended


def test_a_pause_without_its_listing_line_is_read_from_its_file(live, pytester, cli,
                                                                pause_dir):
    """The "J" line is written after the "P" line: a process that dies
    between the two (here: the line is removed) leaves a pause that is
    listed from its pause file, and a "J" line of a pause the catalog
    does not list is never printed."""
    pytester.makepyfile(test_one=ONE_CP)
    s = live("-s", "test_one.py")
    p = wait_paused(s, cli)
    assert cli("resume", p["pause_id"], "--result", "true").returncode == 0
    assert s.finish()[0] == 0
    fast = ls_json(cli)
    acc = pause_dir / "catalog-json.tsv"
    (line,) = listing_lines(pause_dir)
    acc.write_text("pytest-live-pause catalog-json 1\n")
    assert ls_json(cli) == fast
    # a line of a pause id no "P" line names: not listed
    ghost = line.replace(p["pause_id"], p["pause_id"][:-8] + "00000000")
    acc.write_text(f"pytest-live-pause catalog-json 1\n{ghost}\n{line}\n")
    assert ls_json(cli) == fast
