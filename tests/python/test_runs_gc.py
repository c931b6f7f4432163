"""Black-box tests of `runs`, `gc` and `watch --all-runs`: real pytest
sessions (the `live` fixture), the real CLI binary, separate processes.

What "agree" means here: `runs -a` counts a run's pauses by state exactly
as `ls -a` lists them, before and after a gc; a gc removes a run with
everything in it, its pending/ entries and its catalog lines, and nothing
else.
"""
from __future__ import annotations

import collections
import fcntl
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from _paused import CHECKPOINT_AND_FAILURE, CLI_BIN, EXIT, one_line_error, sigkill, snapshot, \
    wait_paused
from conftest import WAIT

CP_ONLY = '''
import os
from pytest_live_pause import checkpoint

def test_checkpoint():
    checkpoint(task=os.environ.get("LP_TASK", "approve"),
               timeout=float(os.environ.get("LP_CP_TIMEOUT", "inf")))
'''

PASSES = '''
def test_ok():
    pass
'''


def start(live, pytester, source=CP_ONLY, name="test_paused", env=None, args=()):
    pytester.makepyfile(**{name: source})
    return live("-s", *args, f"{name}.py", env=env)


def runs_json(cli, *args) -> dict[str, dict]:
    res = cli("runs", "--json", *args)
    assert res.returncode == 0 and res.stderr == "", str(res)
    return {r["run_id"]: r for r in map(json.loads, res.stdout.splitlines())}


def ls_counts(cli) -> dict[str, collections.Counter]:
    """Pauses by run and state, as `ls -a` (the catalog path) lists them:
    into a pipe, one "<state>\t<pause_id>\t..." line per pause."""
    res = cli("ls", "-a")
    assert res.returncode == 0, str(res)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in res.stdout.splitlines():
        if "\t" not in line:
            continue  # "no pauses in <dir>"
        state, pause_id = line.split("\t")[:2]
        counts[pause_id.split(".", 1)[0]][state] += 1
    return counts


def assert_runs_agree_with_ls(cli) -> dict[str, dict]:
    runs = runs_json(cli, "-a")
    listed = ls_counts(cli)
    for run_id, counted in listed.items():
        assert run_id in runs, (run_id, runs)
    for run_id, run in runs.items():
        nonzero = {k: v for k, v in run["pauses"].items() if v}
        assert nonzero == dict(listed.get(run_id, {})), (run_id, run, listed.get(run_id))
    return runs


def assert_ls_json_agrees(cli, pause_dir: Path) -> None:
    """`ls -a --json` lists the pauses `ls -a` lists, with the same states,
    and prints the same objects without its accelerator (catalog-json.tsv,
    moved aside and back)."""
    res = cli("ls", "-a", "--json")
    assert res.returncode == 0 and res.stderr == "", str(res)
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    by_run: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for o in objs:
        by_run[o["run_id"]][o["state"]] += 1
    assert by_run == ls_counts(cli)
    acc = pause_dir / "catalog-json.tsv"
    aside = pause_dir / "catalog-json.aside"
    if acc.exists():
        acc.rename(aside)
    try:
        assert cli("ls", "-a", "--json").stdout == res.stdout
    finally:
        if aside.exists():
            aside.rename(acc)


def listing_runs(pause_dir: Path) -> set[str]:
    """The runs of catalog-json.tsv's "J" lines."""
    lines = (pause_dir / "catalog-json.tsv").read_text().splitlines()
    assert lines[0] == "pytest-live-pause catalog-json 1"
    return {line.split("\t")[1].split(".", 1)[0] for line in lines[1:]}


def run_ids_on_disk(pause_dir: Path) -> set[str]:
    return {p.name for p in (pause_dir / "runs").iterdir() if not p.name.startswith(".")}


def catalog_lines(pause_dir: Path) -> list[list[str]]:
    text = (pause_dir / "catalog.tsv").read_text()
    lines = text.splitlines()
    assert lines[0] == "pytest-live-pause catalog 1"
    return [line.split("\t") for line in lines[1:]]


def line_run(fields: list[str]) -> str:
    return fields[1].split(".", 1)[0] if fields[0] == "P" else fields[1]


def ended_session(live, pytester, cli, source=PASSES, name="test_quick"):
    """A session that ran to its end; its run id."""
    s = start(live, pytester, source=source, name=name)
    rc, out = s.finish()
    assert rc == 0, out
    return s.run_id


def wait_clock_past(t: float) -> None:
    """Let the wall clock pass `t` (gc's cutoff is a wall-clock age): a
    bounded wait on the clock itself, not on another process."""
    while time.time() <= t:
        time.sleep(min(0.2, max(0.01, t - time.time())))


# ------------------------------------------------------------ runs


def test_runs_lists_active_ended_and_stale_with_counts(live, pytester, cli, pause_dir):
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    active = live("-s", "-k", "test_checkpoint", "test_paused.py")
    a_pause = wait_paused(active, cli, kind="checkpoint")
    # ended: a checkpoint resumed, then a failure that times out
    ended = live("-s", "--pause-on-failure", "--pause-timeout", "0.2", "test_paused.py")
    e_pause = wait_paused(ended, cli, kind="checkpoint")
    assert cli("resume", e_pause["pause_id"], "--result", "true").returncode == 0
    rc, out = ended.finish()
    assert rc == 1, out  # the failure failed once its pause timed out
    # stale: killed while paused
    killed = live("-s", "-k", "test_checkpoint", "test_paused.py")
    k_pause = wait_paused(killed, cli, kind="checkpoint")
    sigkill(killed)

    only_active = runs_json(cli)
    assert list(only_active) == [active.run_id], only_active
    runs = assert_runs_agree_with_ls(cli)
    assert set(runs) == {active.run_id, ended.run_id, killed.run_id}
    a, e, k = runs[active.run_id], runs[ended.run_id], runs[killed.run_id]
    assert (a["state"], a["pid"], a["ended_at"], a["exitstatus"]) == (
        "active", a_pause["pid"], None, None)
    assert a["pauses"] == dict(pending=1, stale=0, resumed=0, timed_out=0, aborted=0)
    assert (e["state"], e["exitstatus"]) == ("ended", 1) and e["ended_at"] >= e["started_at"]
    assert e["pauses"] == dict(pending=0, stale=0, resumed=1, timed_out=1, aborted=0)
    assert (k["state"], k["pid"], k["ended_at"], k["exitstatus"]) == (
        "stale", k_pause["pid"], None, None)
    assert k["pauses"] == dict(pending=0, stale=1, resumed=0, timed_out=0, aborted=0)
    for r in runs.values():
        assert r["hostname"] and r["cwd"] == str(pytester.path) and r["started_at"] > 0
    # oldest first, in the table as in JSON
    assert list(runs) == [active.run_id, ended.run_id, killed.run_id]
    table = cli("runs", "-a").stdout.splitlines()
    assert table[0].split() == ["RUN_ID", "STATE", "PID", "STARTED", "ENDED", "EXIT", "PENDING",
                                "STALE", "RESUMED", "TIMED_OUT", "ABORTED", "HOST"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[ended.run_id][1:2] + rows[ended.run_id][5:11] == [
        "ended", "1", "0", "0", "1", "1", "0"]
    assert rows[active.run_id][4:6] == ["-", "-"]
    assert rows[killed.run_id][1] == "stale"


def test_runs_reads_run_json_when_the_catalog_is_gone(live, pytester, cli, pause_dir):
    """The catalog is an accelerator: without it the same listing comes
    from the run directories."""
    run_id = ended_session(live, pytester, cli, source=CP_ONLY.replace(
        'float(os.environ.get("LP_CP_TIMEOUT", "inf"))', "0.05"))
    with_catalog = runs_json(cli, "-a")
    (pause_dir / "catalog.tsv").unlink()
    without = runs_json(cli, "-a")
    assert without == with_catalog
    assert without[run_id]["pauses"]["timed_out"] == 1
    assert without[run_id]["exitstatus"] == 0


#: a host and a cwd as a hostile file could give them: a screen clear, a
#: line separator, a tab, a quote and a backslash, a C1 CSI, DEL, a
#: right-to-left override, a terminal title sequence
HOSTILE_HOST = 'evil\x1b[2J\u2028host\t"q\\ \u009b1m\x7f\u202e'
HOSTILE_CWD = "/tmp/\ncwd\x1b]0;title\x07"
#: the same as `runs` prints them (lp_text_terminal_safe: a visible escape each)
SHOWN_HOST = r'evil\x1b[2J\u2028host\t"q\ \u009b1m\x7f\u202e'


def assert_inert(text: str, lines: int) -> None:
    """Exactly `lines` lines, and no control character (C0, DEL, C1), line
    separator or bidirectional control in them."""
    assert text.endswith("\n") and text.count("\n") == lines, repr(text)
    bad = [c for c in text.replace("\n", "") if c < " " or "\x7f" <= c <= "\x9f"
           or c in "\u2028\u2029\u061c\u200e\u200f" or "\u202a" <= c <= "\u202e"
           or "\u2066" <= c <= "\u2069"]
    assert not bad, (bad, text)


def test_runs_escapes_the_host_and_cwd_it_reads(live, pytester, cli, pause_dir):
    """A run's host and cwd are data from files (the catalog's "E" line of
    an ended run, else its run.json): every table cell is escaped for the
    terminal, and --json gives them exactly, as inert lines."""
    run_id = ended_session(live, pytester, cli)
    # the "E" line, escaped as the catalog escapes (\\ \t \n), with a byte
    # that is not UTF-8 after the host
    cat = pause_dir / "catalog.tsv"
    lines = cat.read_bytes().split(b"\n")
    def catalog_escape(s: str) -> bytes:
        return (s.encode().replace(b"\\", b"\\\\").replace(b"\t", b"\\t")
                .replace(b"\n", b"\\n"))
    ends = 0
    for i, line in enumerate(lines):
        f = line.split(b"\t")
        if f[0] == b"E" and f[1] == run_id.encode():
            f[6], f[7] = catalog_escape(HOSTILE_HOST) + b"\xff", catalog_escape(HOSTILE_CWD)
            lines[i] = b"\t".join(f)
            ends += 1
    assert ends == 1, lines
    cat.write_bytes(b"\n".join(lines))
    for source, host, shown in (("catalog", HOSTILE_HOST + "\ufffd", SHOWN_HOST + r"\xff"),
                                ("run.json", HOSTILE_HOST, SHOWN_HOST)):
        if source == "run.json":  # the catalog gone: run.json is read
            cat.unlink()
            run_json = pause_dir / "runs" / run_id / "run.json"
            doc = json.loads(run_json.read_text())
            doc["hostname"], doc["cwd"] = HOSTILE_HOST, HOSTILE_CWD
            run_json.write_text(json.dumps(doc))
        res = cli("runs", "-a", "--json")
        assert res.returncode == 0 and res.stderr == "", str(res)
        assert_inert(res.stdout, 1)
        run = json.loads(res.stdout)
        assert (run["run_id"], run["hostname"], run["cwd"]) == (run_id, host, HOSTILE_CWD), source
        res = cli("runs", "-a")
        assert res.returncode == 0 and res.stderr == "", str(res)
        assert_inert(res.stdout, 2)
        row = res.stdout.splitlines()[1]
        assert row.startswith(run_id + "  ") and row.endswith("  " + shown), (source, row)


def test_runs_with_no_directory_and_bad_input(cli, tmp_path):
    nowhere = tmp_path / "none"
    res = cli("runs", "--pause-dir", str(nowhere))
    assert (res.returncode, res.stdout) == (0, f"no active runs in {nowhere}\n"), str(res)
    res = cli("runs", "-a", "--pause-dir", str(nowhere))
    assert res.stdout == f"no runs in {nowhere}\n"
    assert cli("runs", "--json", "--pause-dir", str(nowhere)).stdout == ""
    for args, fragment in ((["--bogus"], "unknown or ambiguous option"),
                           (["extra"], "unexpected argument 'extra'")):
        res = cli("runs", *args)
        assert res.returncode == EXIT["usage"], str(res)
        assert fragment in one_line_error(res, "runs")


# ------------------------------------------------------------ gc


def _gc_items(res) -> tuple[set, dict]:
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    summary = lines[-1]
    assert summary["event"] == "summary", res.stdout
    return {(i["what"], i["id"], i["path"]) for i in lines[:-1]}, summary


def test_gc_removes_only_what_it_should(live, pytester, cli, pause_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    # old: an ended run, a stale one, and one killed between its pending/
    # entry and its pause file (an empty pending/<id> is all that is left)
    old_ended = ended_session(live, pytester, cli, source=CP_ONLY.replace(
        'float(os.environ.get("LP_CP_TIMEOUT", "inf"))', "0.05"))  # one pause timed out
    killed = start(live, pytester, name="test_killed")
    k_pause = wait_paused(killed, cli)
    sigkill(killed)
    torn = start(live, pytester, name="test_torn", env={"LP_TEST_KILL_AT": "begin:indexed"})
    torn_rc, out = torn.finish()
    assert torn_rc == -9, out
    orphans = [p.name for p in (pause_dir / "pending").iterdir()
               if p.name.startswith(torn.run_id + ".")]
    assert len(orphans) == 1 and not (pause_dir / "runs" / torn.run_id / "pauses" /
                                      f"{orphans[0]}.json").exists()
    # links inside old runs that point outside: removed as links only
    (pause_dir / "runs" / old_ended / "link-to-dir").symlink_to(outside)
    (pause_dir / "runs" / old_ended / "pauses" / "link-to-file.json").symlink_to(
        outside / "precious")
    planted = f"{old_ended}.deadbeef"
    (pause_dir / "pending" / planted).symlink_to(outside / "precious")
    t_old = time.time()
    # alive: a run with a pending pause that began before the cutoff
    alive = start(live, pytester, name="test_alive")
    a_pause = wait_paused(alive, cli)
    wait_clock_past(t_old + 4)
    # young: ended after the cutoff
    young = ended_session(live, pytester, cli, name="test_young")
    older_than = f"{time.time() - t_old - 2:.3f}s"  # a cutoff 2 s after t_old

    before = assert_runs_agree_with_ls(cli)
    assert set(before) == {old_ended, killed.run_id, torn.run_id, alive.run_id, young}
    assert_ls_json_agrees(cli, pause_dir)
    assert old_ended in listing_runs(pause_dir)
    snap = snapshot(pause_dir)
    dry = cli("gc", "--older-than", older_than, "--dry-run", "--json")
    assert dry.returncode == 0, str(dry)
    assert snapshot(pause_dir) == snap, "a dry run changed the pause directory"
    dry_items, dry_sum = _gc_items(dry)
    res = cli("gc", "--older-than", older_than, "--json")
    assert res.returncode == 0, str(res)
    items, summary = _gc_items(res)
    assert items == dry_items
    assert {k: v for k, v in summary.items() if k != "dry_run"} == \
        {k: v for k, v in dry_sum.items() if k != "dry_run"}
    runs_dir, pending_dir = pause_dir / "runs", pause_dir / "pending"
    assert items == {
        ("run", old_ended, str(runs_dir / old_ended)),
        ("run", killed.run_id, str(runs_dir / killed.run_id)),
        ("run", torn.run_id, str(runs_dir / torn.run_id)),
        ("pending", k_pause["pause_id"], str(pending_dir / k_pause["pause_id"])),
        ("pending", orphans[0], str(pending_dir / orphans[0])),
        ("pending", planted, str(pending_dir / planted)),
    }, res.stdout
    assert (summary["runs"], summary["pending"], summary["kept"]) == (
        3, 3, dict(active=1, young=1, pending=0))
    # what stays, stays; nothing outside was touched
    assert run_ids_on_disk(pause_dir) == {alive.run_id, young}
    assert sorted(p.name for p in pending_dir.iterdir()) == [a_pause["pause_id"]]
    assert (outside / "precious").read_text() == "keep me"
    assert {line_run(f) for f in catalog_lines(pause_dir)} == {alive.run_id, young}
    assert listing_runs(pause_dir) <= {alive.run_id, young}
    after = assert_runs_agree_with_ls(cli)
    assert set(after) == {alive.run_id, young}
    assert_ls_json_agrees(cli, pause_dir)
    assert after[alive.run_id]["pauses"]["pending"] == 1
    # the pending pause is still a pause: resumable, and its test goes on
    assert cli("resume", a_pause["pause_id"], "--result", "true").returncode == 0
    rc, out = alive.finish()
    assert rc == 0, out
    # a second gc finds nothing more of what it kept for its age
    again, summary = _gc_items(cli("gc", "--older-than", older_than, "--json"))
    assert again == set() and summary["kept"]["young"] >= 1


def test_gc_keeps_a_stale_run_whose_worker_still_pauses(live, pytester, cli, pause_dir):
    """A run whose pending pause is alive is kept, whatever its own state:
    here the run's controller process is gone but the paused process is a
    child that is still waiting (an xdist worker)."""
    pytest.importorskip("xdist")
    s = start(live, pytester, args=("-p", "xdist", "-n", "1"))
    info = wait_paused(s, cli)
    os.kill(s.proc.pid, 9)  # the controller only
    s.proc.wait(WAIT)
    assert runs_json(cli, "-a")[s.run_id]["state"] == "stale"
    assert cli("show", "--json", info["pause_id"]).json()["state"] == "pending"
    res = cli("gc", "--older-than", "0s", "--json")
    assert res.returncode == 0, str(res)
    items, summary = _gc_items(res)
    assert items == set() and summary["kept"]["pending"] == 1, res.stdout
    assert s.run_id in run_ids_on_disk(pause_dir)


@pytest.mark.parametrize("value", ["-1d", "banana", "7", "7x", "d", "1.5", "inf", "nans",
                                   "0x10s", " 1d", "1d ", "1e999d", ""])
def test_gc_bad_durations_are_usage_errors_and_change_nothing(live, pytester, cli, pause_dir,
                                                               value):
    run_id = ended_session(live, pytester, cli)
    before = snapshot(pause_dir)
    res = cli("gc", "--older-than", value)
    assert res.returncode == EXIT["usage"], str(res)
    msg = one_line_error(res, "gc")
    assert f"invalid --older-than value '{value}'" in msg and "7d" in msg, msg
    assert snapshot(pause_dir) == before
    assert run_id in run_ids_on_disk(pause_dir)


@pytest.mark.parametrize("args, fragment", [
    (["--older-than"], "option '--older-than' needs a value"),
    ([], "--older-than is required"),
    (["--dry-run"], "--older-than is required"),
    (["--older-than", "1d", "extra"], "unexpected argument 'extra'"),
])
def test_gc_missing_values_are_usage_errors(cli, pause_dir, args, fragment):
    res = cli("gc", *args)
    assert res.returncode == EXIT["usage"], str(res)
    assert fragment in one_line_error(res, "gc")


@pytest.mark.parametrize("value, seconds", [("0s", 0), ("30m", 1800), ("12h", 43200),
                                            ("7d", 604800), ("1.5h", 5400)])
def test_gc_good_durations(cli, pause_dir, live, pytester, value, seconds):
    ended_session(live, pytester, cli)
    res = cli("gc", "--older-than", value, "--dry-run", "--json")
    assert res.returncode == 0, str(res)
    assert json.loads(res.stdout.splitlines()[-1])["older_than"] == seconds


def test_gc_in_a_missing_directory_is_not_found(cli, tmp_path):
    res = cli("gc", "--older-than", "1d", "--pause-dir", str(tmp_path / "none"))
    assert res.returncode == EXIT["notfound"], str(res)
    one_line_error(res, "gc")
    assert not (tmp_path / "none").exists()


def test_a_second_gc_says_so_and_waits(live, pytester, cli, pause_dir):
    run_id = ended_session(live, pytester, cli)
    lock = os.open(pause_dir / "gc.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another gc holds it
        proc = subprocess.Popen([CLI_BIN, "gc", "--older-than", "0s"], env=cli.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stderr.readline()
        assert first == f"pytest-live-pause gc: another gc is running in {pause_dir}\n"
        assert proc.stderr.readline() == "pytest-live-pause gc: waiting for it to finish\n"
        assert proc.poll() is None and run_id in run_ids_on_disk(pause_dir)
    finally:
        os.close(lock)  # the other gc is done
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert f"removed run {run_id} " in out and run_id not in run_ids_on_disk(pause_dir)


def test_two_gcs_at_once_remove_each_run_once(live, pytester, cli, pause_dir):
    ids = {ended_session(live, pytester, cli, name=f"test_q{k}") for k in range(3)}
    procs = [subprocess.Popen([CLI_BIN, "gc", "--older-than", "0s", "--json"], env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    removed: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=WAIT)
        assert p.returncode == 0, err
        removed += [json.loads(line)["id"] for line in out.splitlines()
                    if json.loads(line).get("what") == "run"]
    assert sorted(removed) == sorted(ids)  # each by exactly one of them
    assert run_ids_on_disk(pause_dir) == set()
    assert catalog_lines(pause_dir) == []


RACER = '''
import os
from pytest_live_pause import checkpoint

N = int(os.environ["LP_STEPS"])

def test_steps():
    for i in range(N):
        checkpoint(task=f"step {i}", timeout=0.05)  # each times out: one catalog line
    print("STEPS DONE", flush=True)
    checkpoint(task="last", timeout=float("inf"))  # pending until resumed
'''


def test_gc_racing_pytest_sessions_loses_no_line_and_no_run(live, pytester, cli, pause_dir):
    """gc --older-than 0s in a loop while sessions append to the catalog
    (each checkpoint that times out is a line) and short sessions start
    and end (each one a run for gc to remove, so every gc compacts)."""
    steps, racers = 25, 3
    pytester.makepyfile(test_racer=RACER, test_quick=PASSES)
    sessions = [live("-s", "test_racer.py", env={"LP_STEPS": str(steps)}) for _ in range(racers)]
    assert all(s.run_id for s in sessions)  # the pause directory exists now
    stop = threading.Event()
    gc_results: list = []

    def gc_loop():
        while not stop.is_set():
            gc_results.append(cli("gc", "--older-than", "0s", "--json"))

    gc_thread = threading.Thread(target=gc_loop)
    gc_thread.start()
    quick: list[str] = []
    try:
        for _ in range(4):
            s = live("test_quick.py")
            rc, out = s.finish()
            assert rc == 0, out
            quick.append(s.run_id)
        for s in sessions:
            s.wait_for_line("STEPS DONE$")
    finally:
        stop.set()
        gc_thread.join(WAIT)
    assert gc_results and all(r.returncode == 0 for r in gc_results), \
        [str(r) for r in gc_results if r.returncode]
    removed = [json.loads(line)["id"] for r in gc_results for line in r.stdout.splitlines()
               if json.loads(line).get("what") == "run"]
    assert len(removed) == len(set(removed))
    # every racing run survived with every line it appended
    racer_ids = {s.run_id for s in sessions}
    assert racer_ids <= run_ids_on_disk(pause_dir) and not racer_ids & set(removed)
    lines = catalog_lines(pause_dir)
    for run_id in racer_ids:
        mine = [f for f in lines if line_run(f) == run_id]
        assert [f[0] for f in mine].count("R") == 1, mine
        assert sorted(f[2] for f in mine if f[0] == "P") == ["timed_out"] * steps, mine
    # ... and every listing line: one "J" line per ended pause of a racer
    json_lines = (pause_dir / "catalog-json.tsv").read_text().splitlines()[1:]
    for run_id in racer_ids:
        mine = [f for f in lines if line_run(f) == run_id and f[0] == "P"]
        ids = sorted(line.split("\t")[1] for line in json_lines
                     if line.split("\t")[1].startswith(run_id + "."))
        assert ids == sorted(f[1] for f in mine), (ids, mine)
    runs = assert_runs_agree_with_ls(cli)
    assert_ls_json_agrees(cli, pause_dir)
    for run_id in racer_ids:
        assert runs[run_id]["pauses"] == dict(pending=1, stale=0, resumed=0,
                                              timed_out=steps, aborted=0)
    # a quick run is either removed with all its lines, or all there
    on_disk = run_ids_on_disk(pause_dir)
    for run_id in quick:
        has_lines = any(line_run(f) == run_id for f in lines)
        assert (run_id in on_disk) == has_lines == (run_id in runs), run_id
        assert (run_id in removed) != (run_id in on_disk), run_id
    # no line about a run that is gone
    assert {line_run(f) for f in lines} <= on_disk
    assert listing_runs(pause_dir) <= on_disk


# ------------------------------------------------------------ watch --all-runs


def watch_all(cli, timeout=WAIT):
    res = cli("watch", "--all-runs", "--timeout", str(timeout), "--json", timeout=timeout + 30)
    assert res.returncode == 0, str(res)
    return res.json()


def test_watch_all_runs_reports_pending_oldest_first_then_new_ones(live, pytester, cli,
                                                                    pause_dir):
    first = start(live, pytester, name="test_first")
    p1 = wait_paused(first, cli)
    second = start(live, pytester, name="test_second")
    p2 = wait_paused(second, cli)
    assert watch_all(cli)["pause_id"] == p1["pause_id"]  # oldest first
    text = cli("watch", "--all-runs")
    assert text.returncode == 0 and text.stdout.startswith(
        f"pause detected: {p1['pause_id']}\n"), str(text)
    assert f"run_id: {first.run_id}\n" in text.stdout
    assert cli("resume", p1["pause_id"], "--result", "true").returncode == 0
    assert watch_all(cli)["pause_id"] == p2["pause_id"]
    assert cli("resume", p2["pause_id"], "--result", "true").returncode == 0
    # nothing pending: it waits for the next pause of any run, a new one
    watcher = subprocess.Popen([CLI_BIN, "watch", "--all-runs", "--json",
                                "--timeout", str(WAIT)],
                               env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        third = start(live, pytester, name="test_third")
        out, err = watcher.communicate(timeout=WAIT + 30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    got = json.loads(out)
    assert got["run_id"] == third.run_id and got["state"] == "pending"
    for s in (first, second):
        assert s.finish()[0] == 0


def test_watch_all_runs_timeout_and_bad_input(cli, pause_dir, live, pytester):
    ended_session(live, pytester, cli)
    res = cli("watch", "--all-runs", "--timeout", "0.3")
    assert res.returncode == EXIT["watch_timeout"], str(res)
    assert res.stdout == "timed out after 0.3s waiting for a pause in any run\n"
    res = cli("watch", "--all-runs", "--timeout", "0.3", "--json")
    assert res.returncode == 10 and res.json() == {
        "event": "timeout", "run_id": None,
        "message": "timed out after 0.3s waiting for a pause in any run"}, str(res)
    res = cli("watch", "--all-runs", "--run-id", "abc")
    assert res.returncode == EXIT["usage"], str(res)
    assert "exclude each other" in one_line_error(res, "watch")
    res = cli("watch")
    assert res.returncode == EXIT["usage"] and "--run-id is required (or give --all-runs)" in one_line_error(res, "watch")


# ------------------------------------------------------------ help


@pytest.mark.parametrize("command, options, codes", [
    ("runs", ["-a", "--all", "--json", "--pause-dir", "--help"], {0, 1, 2, 11}),
    ("gc", ["--older-than", "--dry-run", "--json", "--pause-dir", "--help"], {0, 1, 2, 3, 11}),
])
def test_help_of_runs_and_gc(cli, command, options, codes):
    res = cli(command, "--help")
    assert res.returncode == 0 and res.stderr == "", str(res)
    out = res.stdout
    assert out.startswith(f"usage: pytest-live-pause {command}")
    for opt in options:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", out), opt
    table = out.split("\nExit codes:\n", 1)[1].split("\nExamples:\n")
    assert {int(line.split()[0]) for line in table[0].splitlines()
            if line.strip() and line.split()[0].isdigit()} == codes
    assert f"pytest-live-pause {command}" in table[1]
    main = cli("--help").stdout
    assert re.search(rf"^  {command} ", main, re.M), main


def test_watch_help_documents_all_runs(cli):
    out = cli("watch", "--help").stdout
    assert "--all-runs" in out and "watch --all-runs" in out.split("Examples:")[1]
