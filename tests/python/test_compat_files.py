"""What we write to disk is a superset of what the published 0.1.1 writes,
and every file we write is readable by every reader.

Black-box: the REAL pytest-live-pause 0.1.1 (its own virtual environment,
its own interpreter, a separate process; the `v011` fixture) and ours run
the same kind of test suite; the files each writes are compared field by
field: every field 0.1.1 writes (pause files pending, resumed and
timed_out, of both kinds; events; run.json) exists in ours with the same
JSON type (int and float are one type: a JSON number) and the same value
conventions. Then `--pause-timeout 0` and `inf`, and fields too large for
a reader's cap (control characters that JSON escapes to six bytes, 4-byte
UTF-8, long node ids, long tasks), which must still be listed by `ls` and
`ls -a`, shown by `show` and resumable.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from _paused import assert_unindexed

from conftest import WAIT, LivePytest, read_events

SUITE = '''
import math, os
from pytest_live_pause import checkpoint

def test_fail():
    assert 6 * 7 == 43

def test_cp():
    timeout = os.environ.get("CP_TIMEOUT")
    checkpoint(task="Approve the external step",
               timeout=None if timeout is None else float(timeout))
'''

FAILURE_TASK = "Inspect the failure and then resume the test."
CUT = "[... cut by pytest-live-pause]"
#: every reader's cap on a pause file (lib/internal.h LP_CAP_PAUSE) and run.json
PAUSE_CAP, RUN_CAP = 1024 * 1024, 64 * 1024


def jtype(v: object) -> str:
    """The JSON type of a decoded value: int and float are both numbers."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def assert_superset(theirs: dict, ours: dict, where: str) -> None:
    """Every field of 0.1.1's object is in ours, with the same JSON type."""
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"{where}: fields of 0.1.1 missing: {missing}\nours: {ours}"
    wrong = {k: (jtype(theirs[k]), jtype(ours[k])) for k in theirs
             if jtype(theirs[k]) != jtype(ours[k])}
    assert not wrong, f"{where}: (0.1.1's type, ours) differ: {wrong}\n0.1.1: {theirs}\nours: {ours}"


def strict_json(text: str) -> dict:
    """Parse as a strict JSON reader does (no NaN, Infinity)."""
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def start_011(v011, pytester, pause_dir: Path, *args: str) -> LivePytest:
    """A pytest session of the published 0.1.1 (its own interpreter), in
    the background."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_LIVE_PAUSE_DIR",
                        "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT")}
    return LivePytest(pytester, [f"--pause-dir={pause_dir}", *args], env, python=v011.python)


def run_dir(pause_dir: Path, run_id: str) -> Path:
    return pause_dir / "runs" / run_id


def only_pause_file(pause_dir: Path, run_id: str) -> Path:
    files = list((run_dir(pause_dir, run_id) / "pauses").glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def watch_011(v011, pause_dir: Path, run_id: str) -> None:
    """Wait (0.1.1's own watch, bounded) until the 0.1.1 run has a pending pause."""
    res = v011.run_cli("watch", "--pause-dir", str(pause_dir), "--run-id", run_id,
                       "--timeout", str(WAIT), env=dict(os.environ), timeout=WAIT + 30)
    assert res.returncode == 0 and "pause detected:" in res.stdout, str(res)


RESUME_ARGS = {"failure": ["--failure-reason", "the fixture was stale"],
               "checkpoint": ["--result", "true", "--reason", "looks right"]}
KIND_TEST = {"failure": "test_fail", "checkpoint": "test_cp"}


def files_011(v011, pytester, tmp_path: Path, kind: str) -> dict:
    """0.1.1's files for one pause of `kind`: pending, resumed, timed_out."""
    pd = tmp_path / "pd-011"
    s = start_011(v011, pytester, pd, "--pause-on-failure",
                  "--pause-timeout", "300", "-k", KIND_TEST[kind])
    run_id = s.run_id
    watch_011(v011, pd, run_id)
    pf = only_pause_file(pd, run_id)
    pending = json.loads(pf.read_text())
    res = v011.run_cli("resume", str(pf), "--pause-dir", str(pd), *RESUME_ARGS[kind],
                       env=dict(os.environ))
    assert res.returncode == 0, str(res)
    s.finish()
    resumed = json.loads(pf.read_text())
    events = read_events(pd, run_id)
    run_json = json.loads((run_dir(pd, run_id) / "run.json").read_text())

    pd0 = tmp_path / "pd-011-t0"
    s0 = start_011(v011, pytester, pd0, "--pause-on-failure",
                   "--pause-timeout", "0", "-k", KIND_TEST[kind])
    run0 = s0.run_id
    s0.finish()
    timed_out = json.loads(only_pause_file(pd0, run0).read_text())
    return dict(pending=pending, resumed=resumed, timed_out=timed_out, events=events,
                run=run_json)


def files_ours(live, cli, pause_dir: Path, kind: str) -> dict:
    """Our files for one pause of `kind`, by the same steps."""
    s = live("--pause-on-failure", f"--pause-dir={pause_dir}",
             "--pause-timeout", "300", "-k", KIND_TEST[kind])
    run_id = s.run_id
    paused = cli.watch(run_id)
    pf = Path(paused["path"])
    pending = strict_json(pf.read_text())
    res = cli("resume", paused["pause_id"], *RESUME_ARGS[kind])
    assert res.returncode == 0, str(res)
    s.finish()
    resumed = strict_json(pf.read_text())
    events = [strict_json(line) for line in
              (run_dir(pause_dir, run_id) / "events.jsonl").read_text().splitlines()]
    run_json = strict_json((run_dir(pause_dir, run_id) / "run.json").read_text())

    pd0 = pause_dir.parent / "pd-ours-t0"
    s0 = live("--pause-on-failure", f"--pause-dir={pd0}",
              "--pause-timeout", "0", "-k", KIND_TEST[kind])
    run0 = s0.run_id
    s0.finish()
    timed_out = strict_json(only_pause_file(pd0, run0).read_text())
    return dict(pending=pending, resumed=resumed, timed_out=timed_out, events=events,
                run=run_json)


@pytest.fixture(params=["failure", "checkpoint"])
def both(request, v011, pytester, tmp_path, live, cli, pause_dir):
    """0.1.1's and our files for the same suite and the same steps."""
    kind = request.param
    pytester.makepyfile(test_suite=SUITE)
    theirs = files_011(v011, pytester, tmp_path, kind)
    ours = files_ours(live, cli, pause_dir, kind)
    return kind, theirs, ours


# ------------------------------------------------------------ pause files


def test_pause_files_are_a_superset_in_every_state(both):
    kind, theirs, ours = both
    for state in ("pending", "resumed", "timed_out"):
        assert_superset(theirs[state], ours[state], f"{kind} pause, {state}")
        assert ours[state]["status"] == theirs[state]["status"] == state
        assert ours[state]["kind"] == theirs[state]["kind"] == kind
        # the value conventions of 0.1.1, field by field
        for field in ("nodeid", "task", "worker_id", "failure_reason", "result", "reason",
                      "finished_at"):
            if field in theirs[state] and theirs[state][field] is None:
                assert ours[state][field] is None, (state, field, ours[state])
        assert ours[state]["nodeid"] == theirs[state]["nodeid"]
        assert ours[state]["task"] == theirs[state]["task"]
    pending, resumed = ours["pending"], ours["resumed"]
    if kind == "failure":
        assert pending["task"] == FAILURE_TASK
        assert pending["original_failure"] and "43" in pending["original_failure"]
        assert resumed["failure_reason"] == theirs["resumed"]["failure_reason"] \
            == "the fixture was stale"
        assert (resumed["result"], resumed["reason"]) == (None, None)
    else:
        assert pending["task"] == "Approve the external step"
        assert pending["original_failure"] == theirs["pending"]["original_failure"] == ""
        assert (resumed["result"], resumed["reason"]) == (True, "looks right")
        assert resumed["failure_reason"] is None
    # while pending, 0.1.1 writes finished_at and failure_reason as null
    assert (pending["finished_at"], pending["failure_reason"]) == (None, None)
    assert isinstance(resumed["finished_at"], float)
    assert resumed["timeout"] == theirs["resumed"]["timeout"] == 300
    assert ours["timed_out"]["timeout"] == theirs["timed_out"]["timeout"] == 0


def test_events_are_a_superset(both):
    kind, theirs, ours = both
    names_011 = [e["event"] for e in theirs["events"]]
    assert names_011 == ["run_started", "pause_created", "pause_finished"], names_011
    names = [e["event"] for e in ours["events"]]
    # 0.1.1's events in 0.1.1's order, and our finer end event just before its own
    assert [n for n in names if n in names_011] == names_011, names
    assert names.index("pause_resumed") == names.index("pause_finished") - 1, names
    for name in names_011:
        mine = next(e for e in ours["events"] if e["event"] == name)
        old = next(e for e in theirs["events"] if e["event"] == name)
        assert_superset(old, mine, f"event {name} ({kind})")
    created = next(e for e in ours["events"] if e["event"] == "pause_created")
    assert created["timeout"] == 300 and created["worker_id"] is None
    started = next(e for e in ours["events"] if e["event"] == "run_started")
    assert started["worker_id"] is None
    for name in ("pause_resumed", "pause_finished"):
        end = next(e for e in ours["events"] if e["event"] == name)
        old = next(e for e in theirs["events"] if e["event"] == "pause_finished")
        # the verdict fields of both kinds, null where they do not apply
        assert {k: end[k] for k in ("outcome", "failure_reason", "result", "reason")} == \
            {k: old[k] for k in ("outcome", "failure_reason", "result", "reason")}, (end, old)


def test_run_json_is_a_superset(both):
    _, theirs, ours = both
    assert_superset(theirs["run"], ours["run"], "run.json")
    argv, argv_011 = ours["run"]["argv"], theirs["run"]["argv"]
    assert all(isinstance(a, str) for a in argv)

    def plain(args: list[str]) -> list[str]:
        return [a for a in args[1:] if not a.startswith("--pause-dir")]
    assert plain(argv) == plain(argv_011)  # sys.argv, as 0.1.1 records it
    assert Path(argv[0]).name == Path(argv_011[0]).name
    assert ours["run"]["argc"] == len(argv)


# ---------------------------------------------------------- timeout 0, inf

TIMEOUTS = '''
import math
from pytest_live_pause import checkpoint

def test_cp_zero():
    d = checkpoint(task="zero", timeout=0)
    assert d.outcome == "timed_out" and d.result is None

def test_cp_inherits():
    d = checkpoint(task="inherits the session's timeout")
    print("OUTCOME", d.outcome)

def test_fail():
    assert 6 * 7 == 43
'''


def test_pause_timeout_zero_times_out_at_once(pytester, run_pytest, pause_dir):
    """0.1.1's --pause-timeout 0: the deadline is now. No resume is sent:
    a session that waited would never end (run_pytest's timeout fails it)."""
    pytester.makepyfile(test_timeouts=TIMEOUTS)
    result = run_pytest("--pause-on-failure", "--pause-timeout", "0", "-s")
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(passed=2, failed=1)
    assert "OUTCOME timed_out" in out
    pauses = [strict_json(p.read_text()) for p in pause_dir.glob("runs/*/pauses/*.json")]
    assert sorted(p["kind"] for p in pauses) == ["checkpoint", "checkpoint", "failure"]
    for p in pauses:
        assert (p["status"], p["resolved_by"], p["timeout"]) == ("timed_out", "timeout", 0.0)
        assert p["deadline_at"] == p["created_at"]


INF_SUITE = '''
import math
from pytest_live_pause import checkpoint

def test_cp():
    d = checkpoint(task="wait for me", timeout=TIMEOUT)
    assert d.result is True
'''


@pytest.mark.parametrize("how", ["option", "ini", "checkpoint"])
def test_inf_waits_until_resumed_and_is_written_as_null(pytester, live, cli, pause_dir, how):
    """inf waits until resumed: the pause file (strict JSON, which has no
    infinity) holds timeout null and deadline_at null; 0.1.1 writes the
    token Infinity there, which strict readers refuse."""
    pytester.makepyfile(test_inf=INF_SUITE.replace(
        "TIMEOUT", "math.inf" if how == "checkpoint" else "None"))
    args = ["--pause-timeout", "5"]  # a finite session timeout the checkpoint overrides
    if how == "option":
        args = ["--pause-timeout", "inf"]
    elif how == "ini":
        pytester.makeini("[pytest]\npause_timeout = inf\n")
        args = []
    s = live(*args)
    paused = cli.watch(s.run_id)
    pf = strict_json(Path(paused["path"]).read_text())
    assert (pf["timeout"], pf["deadline_at"]) == (None, None), pf
    show = cli("show", paused["pause_id"])
    assert show.returncode == 0 and "timeout: inf" in show.stdout, str(show)
    assert cli("resume", paused["pause_id"], "--result", "true").returncode == 0
    rc, out = s.finish()
    assert rc == 0, out
    events = read_events(pause_dir, s.run_id)
    assert next(e for e in events if e["event"] == "pause_created")["timeout"] is None
    ls = cli("ls", "-a")
    assert paused["pause_id"] in ls.stdout, str(ls)


@pytest.mark.parametrize("how", ["option", "checkpoint"])
def test_011_infinity_pause_is_listed_shown_and_resumed_by_ours(v011, pytester, tmp_path, cli,
                                                                monkeypatch, how):
    """0.1.1 writes Python's token Infinity for inf, which is not JSON:
    our CLI still lists, shows (timeout null: none) and resumes it."""
    pytester.makepyfile(test_suite=SUITE)
    pd = tmp_path / "pd-011"
    args = ["--pause-timeout", "inf"]
    if how == "checkpoint":  # checkpoint(timeout=inf) over a finite session timeout
        monkeypatch.setenv("CP_TIMEOUT", "inf")
        args = ["--pause-timeout", "600"]
    s = start_011(v011, pytester, pd, *args, "-k", "test_cp")
    watch_011(v011, pd, s.run_id)
    pf = only_pause_file(pd, s.run_id)
    assert json.loads(pf.read_text())["timeout"] == math.inf
    with pytest.raises(ValueError):
        strict_json(pf.read_text())
    ls = cli("ls", "--pause-dir", str(pd))
    pause_id = pf.stem
    assert ls.returncode == 0 and pause_id in ls.stdout, str(ls)
    show = cli("show", pause_id, "--json", "--pause-dir", str(pd))
    assert show.returncode == 0, str(show)
    info = show.json()
    assert (info["state"], info["timeout"]) == ("pending", None), info
    res = cli("resume", pause_id, "--result", "true", "--reason", "ours", "--pause-dir", str(pd))
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == 0, out
    done = json.loads(pf.read_text())
    assert (done["status"], done["reason"]) == ("resumed", "ours"), done


def test_011_nan_pause_is_shown_as_timed_out_at_once(v011, pytester, tmp_path, cli):
    """0.1.1's nan deadline is already past (the pause times out at once)
    and its file holds the token NaN: ours reads it as 0."""
    pytester.makepyfile(test_suite=SUITE)
    pd = tmp_path / "pd-011"
    s = start_011(v011, pytester, pd, "--pause-timeout", "nan", "-k", "test_cp")
    rc, out = s.finish()
    pf = only_pause_file(pd, s.run_id)
    assert "NaN" in pf.read_text(), pf.read_text()
    show = cli("show", pf.stem, "--json", "--pause-dir", str(pd))
    assert show.returncode == 0, str(show)
    info = show.json()
    assert (info["state"], info["timeout"]) == ("timed_out", 0), info
    assert pf.stem in cli("ls", "-a", "--pause-dir", str(pd)).stdout


@pytest.mark.parametrize("where, value", [
    ("option", "1e10"), ("option", "nan"), ("option", "-1"), ("ini", "1e10"), ("ini", "-0.5"),
])
def test_bad_timeout_is_a_usage_error_at_start(pytester, run_pytest, pause_dir, where, value):
    pytester.makepyfile(test_ran="def test_ran():\n    pass\n")
    if where == "ini":
        pytester.makeini(f"[pytest]\npause_timeout = {value}\n")
        result = run_pytest()
    else:
        result = run_pytest(f"--pause-timeout={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert f"'{value}'" in errors[0] and "inf" in errors[0], errors[0]
    assert "collected" not in result.stdout.str()


BAD_CHECKPOINT = '''
import math, pytest
from pytest_live_pause import checkpoint

@pytest.mark.parametrize("t", [1e10, -1, math.nan, -math.inf])
def test_refused(t):
    with pytest.raises(ValueError, match="inf"):
        checkpoint(task="never", timeout=t)
'''


def test_bad_checkpoint_timeout_raises_value_error(pytester, run_pytest, pause_dir):
    pytester.makepyfile(test_bad=BAD_CHECKPOINT)
    result = run_pytest()
    result.assert_outcomes(passed=4)
    assert not list(pause_dir.glob("runs/*/pauses/*.json"))


# ---------------------------------------------------------- oversized fields

#: each case: the test file, its test's kind, what must be cut
BIG = {
    # control characters: one byte, six once JSON-escaped ("\\u0001")
    "failure-controls": ('''
def test_big():
    assert False, "\\x01\\x1f" * 150_000 + "tail"
''', "failure", "original_failure"),
    # 4-byte UTF-8: the cut must not split one
    "failure-4byte": ('''
def test_big():
    assert False, "\\U0001F600" * 100_000
''', "failure", "original_failure"),
    "task-controls-4byte": ('''
from pytest_live_pause import checkpoint

def test_big():
    d = checkpoint(task="\\x1b[2J\\x07" * 20_000 + "\\U0001F600" * 20_000)
    assert d.result is True
''', "checkpoint", "task"),
    # a long node id (parametrize ids, unescaped by the ini option below)
    "nodeid-controls": ('''
import pytest

@pytest.mark.parametrize("x", [1], ids=["\\x02" * 20_000 + "\\U0001F600" * 5_000])
def test_big(x):
    assert False
''', "failure", "nodeid"),
    "nodeid-long-ascii": ('''
import pytest
from pytest_live_pause import checkpoint

@pytest.mark.parametrize("x", [1], ids=["n" * 40_000])
def test_big(x):
    assert checkpoint(task="long id").result is True
''', "checkpoint", "nodeid"),
}

RAW_IDS = ("[pytest]\n"
           "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n")


def valid_utf8_without_replacement(text: str) -> bool:
    return "\ufffd" not in text


@pytest.mark.parametrize("case", list(BIG))
def test_oversized_fields_are_cut_and_every_reader_reads_them(pytester, live, cli, pause_dir,
                                                              case):
    body, kind, field = BIG[case]
    pytester.makeini(RAW_IDS)
    pytester.makepyfile(test_big=body)
    s = live("--pause-on-failure", "--pause-timeout", "inf")
    paused = cli.watch(s.run_id)
    pid = paused["pause_id"]
    raw = Path(paused["path"]).read_bytes()
    assert len(raw) < PAUSE_CAP, len(raw)
    pf = strict_json(raw.decode("utf-8"))
    assert field in pf["cut"], pf.get("cut")
    assert pf[field].endswith(CUT), pf[field][-80:]
    assert valid_utf8_without_replacement(pf[field])
    # every reader: ls (pending), show, resume, then ls -a (ended)
    ls = cli("ls")
    assert ls.returncode == 0 and pid in ls.stdout, str(ls)
    show = cli("show", pid)
    assert show.returncode == 0 and pid in show.stdout, str(show)
    args = ["--failure-reason", "seen"] if kind == "failure" else ["--result", "true"]
    res = cli("resume", pid, *args)
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    assert rc == (1 if kind == "failure" else 0), out[-2000:]
    final = strict_json(Path(paused["path"]).read_text())
    assert final["status"] == "resumed"
    assert len(Path(paused["path"]).read_bytes()) < PAUSE_CAP
    for flags in (["-a"], ["-a", "--json"]):
        ls_a = cli("ls", *flags)
        assert ls_a.returncode == 0 and pid in ls_a.stdout, str(ls_a)
    assert cli("show", pid).returncode == 0
    # and the pause left pending/ (its catalog line was written)
    assert_unindexed(pause_dir, pid)
    for line in (pause_dir / "runs" / s.run_id / "events.jsonl").read_text().splitlines():
        strict_json(line)


ARGV_SUITE = "def test_one():\n    pass\n"


def test_run_json_bounds_argv_with_thousands_of_node_ids(pytester, live, cli, pause_dir):
    """A sharded CI job: 3,400 node-id arguments. run.json stays readable
    (watch --run-id reads it) and argv stays a list of strings."""
    pytester.makepyfile(test_many=ARGV_SUITE + '''
from pytest_live_pause import checkpoint

def test_pause():
    assert checkpoint(task="argv").result is True
''')
    ids = [f"--deselect=test_many.py::test_one[{'x' * 40}{k}]" for k in range(3400)]
    args = ["--pause-timeout", "inf", "test_many.py::test_pause", *ids]
    s = live(*args)
    paused = cli.watch(s.run_id)
    run_file = pause_dir / "runs" / s.run_id / "run.json"
    raw = run_file.read_bytes()
    assert len(raw) < RUN_CAP, len(raw)
    run = strict_json(raw.decode())
    assert all(isinstance(a, str) for a in run["argv"])
    assert run["argc"] == 1 + 2 + len(args)  # argv[0], "-p no:cacheprovider" (live), ours
    assert run["argv"][-1].startswith("[... ") and run["argv"][-1].endswith(
        "more arguments cut by pytest-live-pause]"), run["argv"][-1]
    assert cli("resume", paused["pause_id"], "--result", "true").returncode == 0
    rc, out = s.finish()
    assert rc == 0, out[-2000:]
