"""Race and fault tests (issue 3): real pytest sessions, the real CLI, many
trials each, and what every trial must end with: exactly one outcome, the
same in the CLI's exit code, the pause file, the events and the decision
the test received.

One pytest session with K parametrized checkpoints serves K trials, so
the trials are many and the runtime modest. The counts of every run are
appended to $LP_RELIABILITY_REPORT when it is set (see
reliability_report.py, which writes the table of docs/reliability.md).
"""
from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from _paused import assert_unindexed

from _paused import (
    CHECKPOINT_AND_FAILURE,
    CLI_BIN,
    EXIT,
    SIGINT_CONFTEST,
    TRIALS,
    catches_signal,
    cli_env,
    communicate_all,
    decisions,
    diff,
    end_events,
    one_line_error,
    pause_events,
    poll_until,
    proc_start_time,
    record,
    sigkill,
    snapshot,
    spawn_together,
    trials,
    wait_decision,
    wait_paused,
)
from conftest import WAIT, Cli, command_file, pause_file, read_pause
from pytest_live_pause import _livepause


def trial_session(live, pytester, k: int, timeout: float = float("inf"), *args, env=None):
    pytester.makepyfile(test_trials=TRIALS)
    e = {"LP_TRIALS": str(k), "LP_CP_TIMEOUT": repr(timeout)}
    e.update(env or {})
    return live("-s", "-q", *args, "test_trials.py", env=e)


def next_trial(s, cli, i: int) -> dict:
    """The pause of trial i (the session's only pending pause), once its
    process has finished announcing it (the pause_created event follows
    the pause file's publication; the banner follows the event), so that
    a snapshot taken now sees only what a command then changes."""
    info = wait_paused(s, cli)
    assert info["task"] == f"trial {i}", info
    return info


def rejected_names(pause_dir: Path, pause_id: str) -> list[str]:
    cdir = command_file(pause_dir, pause_id).parent
    return sorted(n for n in os.listdir(cdir) if n.startswith(f"{pause_id}.resume.json.rejected."))


# ------------------------------------------------------------ concurrent resumes


@pytest.mark.parametrize("racers", [2, 8], ids=["2-racers", "8-racers"])
def test_concurrent_resumes_exactly_one_wins(live, pytester, cli, pause_dir, racers):
    """N `resume` processes released at the same instant on one pause:
    exactly one exits 0, the others exit 5 and name the winner; the test
    receives the winner's verdict; one claim, one end event."""
    k = trials({2: 100, 8: 60}[racers])
    s = trial_session(live, pytester, k)
    env = cli_env(pause_dir)
    named_pid = named_kind_only = 0
    for i in range(k):
        pid = next_trial(s, cli, i)["pause_id"]
        argvs = [[CLI_BIN, "resume", pid, "--result", "true", "--reason", f"racer {j}",
                  "--take-timeout", str(WAIT)] for j in range(racers)]
        procs = spawn_together(argvs, env)
        results = communicate_all(procs)
        codes = [rc for rc, _, _ in results]
        where = f"trial {i}, pause {pid}: exits {codes}\n" + "\n".join(
            f"  racer {j} (pid {p.pid}): {rc} {so!r} {se!r}"
            for j, (p, (rc, so, se)) in enumerate(zip(procs, results)))
        assert codes.count(0) == 1 and codes.count(EXIT["resumed"]) == racers - 1, where
        w = codes.index(0)
        winner_pid = procs[w].pid
        assert results[w][1] == f"resumed {pid} (checkpoint, test_trials.py::test_trial[{i}])\n"
        for j, (rc, so, se) in enumerate(results):
            if j == w:
                continue
            assert so == "", where
            assert se.startswith("pytest-live-pause resume: error: ") and se.count("\n") == 1, where
            assert f"pause {pid} was already resumed" in se and "by cli" in se, where
            m = re.search(r"pid (\d+)", se)
            if m:  # the loser read the winner's claim: it names its process
                assert int(m.group(1)) == winner_pid, where
                named_pid += 1
            else:  # the pause file was already final: it names the resolver
                named_kind_only += 1
        d = wait_decision(s, pid)
        assert (d["outcome"], d["result"], d["reason"]) == ("resumed", True, f"racer {w}"), where
        p = read_pause(pause_dir, pid)
        assert (p["status"], p["reason"], p["resolved_by"]) == ("resumed", f"racer {w}", "cli")
        claim = json.loads(command_file(pause_dir, pid).read_text())
        assert (claim["reason"], claim["pid"]) == (f"racer {w}", winner_pid), where
        assert len(end_events(pause_dir, pid)) == 1, where
        assert rejected_names(pause_dir, pid) == []
    rc, out = s.finish()
    assert rc == 0, out
    assert len(decisions(out)) == k
    assert not list((pause_dir / "pending").iterdir())
    record("concurrent_resume", racers=racers, trials=k, winners=k, losers=k * (racers - 1),
           double_outcomes=0, lost_outcomes=0, losers_naming_winner_pid=named_pid,
           losers_naming_resolver_only=named_kind_only)


# ------------------------------------------------------------ resume at the deadline


def test_resume_at_the_deadline_one_outcome_everywhere(live, pytester, cli, pause_dir):
    """Checkpoints with a 0.3 s timeout, each resumed at about its
    deadline (from 60 ms before to 30 ms after, spread over the trials):
    whichever wins, the CLI (0 or 6), the pause file, the claim, the
    events and the test's decision all tell the same single outcome.

    The wait before each resume aims the race; nothing is synchronised
    by it, and the assertions hold whatever the timing turns out to be."""
    k = trials(60)
    timeout = 0.3
    s = trial_session(live, pytester, k, timeout)
    env = cli_env(pause_dir)
    offsets = [-0.06 + 0.09 * n / (k - 1) for n in range(k)] if k > 1 else [0.0]
    runs = []
    for i in range(k):
        info = next_trial(s, cli, i)
        pid = info["pause_id"]
        assert info["deadline_at"] == pytest.approx(info["created_at"] + timeout)
        aim = info["deadline_at"] + offsets[i]
        delay = aim - time.time()
        if delay > 0:
            threading.Event().wait(delay)
        launched = time.time()
        p = subprocess.run([CLI_BIN, "resume", pid, "--result", "true", "--reason", f"cli {i}",
                            "--take-timeout", str(WAIT)], capture_output=True, text=True,
                           env=env, timeout=WAIT + 30)
        # what the pause file says the moment resume has returned
        at_return = read_pause(pause_dir, pid)["status"]
        runs.append((i, pid, p, launched - info["deadline_at"], at_return))
        # the next trial's pause comes after this one has really ended
        wait_decision(s, pid)
    rc, out = s.finish()
    assert rc == 0, out
    got = {d["pause_id"]: d for d in decisions(out)}
    assert len(got) == k, out
    counts = {"resumed": 0, "timed_out": 0}
    pending_at_return = 0
    for i, pid, p, late, at_return in runs:
        where = f"trial {i} ({pid}, launched {late * 1000:+.0f} ms from the deadline): " \
                f"exit {p.returncode} {p.stdout!r} {p.stderr!r}"
        assert p.returncode in (0, EXIT["timedout"]), where
        outcome = "resumed" if p.returncode == 0 else "timed_out"
        counts[outcome] += 1
        pf = read_pause(pause_dir, pid)
        claim = json.loads(command_file(pause_dir, pid).read_text())
        d = got[pid]
        ends = end_events(pause_dir, pid)
        assert len(ends) == 1, where
        if outcome == "resumed":
            # resume 0 returns only once the paused process took the command
            assert at_return == "resumed", where
            assert p.stdout == f"resumed {pid} (checkpoint, test_trials.py::test_trial[{i}])\n"
            assert (pf["status"], pf["resolved_by"], pf["result"], pf["reason"]) == (
                "resumed", "cli", True, f"cli {i}"), where
            assert claim["by"] == "cli" and claim["reason"] == f"cli {i}", where
            assert (d["outcome"], d["result"], d["reason"]) == ("resumed", True, f"cli {i}"), where
            assert ends[0]["event"] == "pause_resumed", where
        else:
            # the loser, too, returns only once the pause file is final
            pending_at_return += at_return == "pending"
            assert at_return == "timed_out", where
            assert f"pause {pid} already timed out" in p.stderr, where
            assert (pf["status"], pf["resolved_by"], pf["result"], pf["reason"]) == (
                "timed_out", "timeout", None, None), where
            assert claim["by"] == "timeout", where
            assert (d["outcome"], d["result"], d["reason"]) == ("timed_out", None, None), where
            assert ends[0]["event"] == "pause_timed_out", where
        assert rejected_names(pause_dir, pid) == [], where
    assert not list((pause_dir / "pending").iterdir())
    record("deadline_race", trials=k, timeout=timeout, resumed=counts["resumed"],
           timed_out=counts["timed_out"], double_outcomes=0, lost_outcomes=0,
           exit6_while_still_pending=pending_at_return,
           launched_ms_from_deadline=[round(r[3] * 1000) for r in runs])


def test_losing_resume_returns_only_once_the_pause_is_final(live, pytester, cli, pause_dir):
    """A resume that loses the claim (exit 5) still returns only once the
    pause file is final, so that the next `watch` can't report the pause
    again (a regression test: it used to return at once)."""
    s = trial_session(live, pytester, 1)
    pid = next_trial(s, cli, 0)["pause_id"]
    os.kill(s.proc.pid, signal.SIGSTOP)  # the winner's command can't be taken yet
    try:
        first = cli("resume", pid, "--result", "true", "--reason", "winner", "--take-timeout", "0")
        assert first.returncode == 0, str(first)
        loser = subprocess.Popen([CLI_BIN, "resume", pid, "--result", "false",
                                  "--take-timeout", str(WAIT)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=cli_env(pause_dir))
        try:
            # a correct loser keeps waiting while the pause is pending; the
            # bound only decides when to let the paused process go on
            loser.wait(timeout=3)
            status_at_return = read_pause(pause_dir, pid)["status"]
        except subprocess.TimeoutExpired:
            os.kill(s.proc.pid, signal.SIGCONT)
            loser.wait(timeout=WAIT)
            status_at_return = read_pause(pause_dir, pid)["status"]
        so, se = loser.communicate()
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    assert wait_decision(s, pid)["reason"] == "winner"
    assert loser.returncode == EXIT["resumed"], (so, se)
    assert status_at_return == "resumed", (
        f"resume exited {loser.returncode} ({se.strip()}) while the pause was {status_at_return}")
    record("loser_waits_for_final_state", trials=1, returned_while_pending=0)


#: Each trial's test catches the KeyboardInterrupt of its own Ctrl-C, so
#: that one session serves many trials of resume-versus-Ctrl-C.
SIGINT_RACE = '''
import json, os, threading
import pytest
from pytest_live_pause import checkpoint

@pytest.mark.parametrize("i", range(int(os.environ["LP_TRIALS"])))
def test_trial(i):
    seen = dict(i=i, decision=None)
    try:
        d = checkpoint(task=f"trial {i}", timeout=float("inf"))
        seen["decision"] = dict(pause_id=d.pause_id, outcome=d.outcome, result=d.result,
                                reason=d.reason)
        threading.Event().wait(60)  # this trial's Ctrl-C is on its way
        seen["interrupted"] = False
    except KeyboardInterrupt:
        seen["interrupted"] = True
    print("TRIAL " + json.dumps(seen), flush=True)
'''


def test_resume_racing_ctrl_c_one_outcome(live, pytester, cli, pause_dir):
    """`resume` and a Ctrl-C of the paused pytest, at the same instant:
    either the resume wins (exit 0, pause resumed) or the abort does (exit
    7, pause aborted, the checkpoint raises KeyboardInterrupt); never both,
    never neither, and the test never gets a verdict of an aborted pause."""
    k = trials(40)
    pytester.makeconftest(SIGINT_CONFTEST)
    pytester.makepyfile(test_race=SIGINT_RACE)
    s = live("-s", "-q", "test_race.py", env={"LP_TRIALS": str(k)})
    env = cli_env(pause_dir)
    counts = {"resumed": 0, "aborted": 0, "interrupted_after_resume": 0}
    for i in range(k):
        pid = next_trial(s, cli, i)["pause_id"]
        # fire once the paused process handles signals as in its wait (its
        # PAUSED block is printed): the moment right after the pause file
        # appears, while the pause is still being set up, is another test's
        # (test_failure_pause's signal tests); the SIGTERM handler alone is
        # installed before the pause exists, so it says too little
        s.wait_for_line(rf"^pause_id: {re.escape(pid)}$")
        poll_until(lambda: catches_signal(s.proc.pid, signal.SIGTERM),
                   "the paused pytest to be waiting (its SIGTERM handler installed)")
        (resume,) = spawn_together([[CLI_BIN, "resume", pid, "--result", "true", "--reason",
                                     f"cli {i}", "--take-timeout", str(WAIT)]], env)
        os.kill(s.proc.pid, signal.SIGINT)
        ((rc, so, se),) = communicate_all([resume])
        seen = json.loads(s.wait_for_line(r'^TRIAL (\{"i": %d, .*\})$' % i).group(1))
        p = read_pause(pause_dir, pid)
        claim = json.loads(command_file(pause_dir, pid).read_text())
        ends = [e["event"] for e in end_events(pause_dir, pid)]
        where = f"trial {i} {pid}: exit {rc} {so!r} {se!r}; test saw {seen}; pause {p['status']}"
        assert seen["interrupted"], where  # every Ctrl-C reached the test
        if rc == 0:
            assert (p["status"], claim["by"], ends) == ("resumed", "cli", ["pause_resumed"]), where
            if seen["decision"] is None:  # Ctrl-C came before checkpoint() returned
                counts["interrupted_after_resume"] += 1
            else:
                assert seen["decision"]["reason"] == f"cli {i}", where
            counts["resumed"] += 1
        else:
            assert rc == EXIT["aborted"], where
            assert f"pause {pid} was aborted" in se, where
            assert (p["status"], claim["by"], ends) == ("aborted", "abort", ["pause_aborted"]), \
                where
            assert claim["signal"] == "SIGINT" and seen["decision"] is None, where
            counts["aborted"] += 1
        assert_unindexed(pause_dir, pid, where)
    rc, out = s.finish()
    assert rc == 0, out
    record("resume_vs_ctrl_c", trials=k, double_outcomes=0, lost_outcomes=0, **counts)


# ------------------------------------------------------------ liveness


def test_kill_9_makes_pauses_stale(live, pytester, cli, pause_dir):
    """kill -9 of paused sessions (checkpoints and failure pauses, some
    with a resume in flight): each pause becomes stale, `ls` hides it,
    `ls -a` shows it stale, resume refuses it (4), watch says the run is
    gone (9); nothing is ever reported resumed."""
    n = trials(6)
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    sessions = []
    for j in range(n):
        kind = ("checkpoint", "failure")[j % 2]
        args = ["-k", "test_checkpoint"] if kind == "checkpoint" else ["--pause-on-failure", "-k",
                                                                        "test_failure"]
        sessions.append((kind, live("-s", *args, "test_paused.py")))
    paused = [(kind, s, wait_paused(s, cli, kind=kind)) for kind, s in sessions]
    in_flight = {}
    for j, (kind, s, info) in enumerate(paused):
        if j % 3 == 2:
            # a resume that claimed the pause but can't see it taken: the
            # process is stopped, then killed
            os.kill(s.proc.pid, signal.SIGSTOP)
            verdict = ["--result", "true"] if kind == "checkpoint" else ["--failure-reason", "x"]
            in_flight[info["pause_id"]] = subprocess.Popen(
                [CLI_BIN, "resume", info["pause_id"], *verdict, "--take-timeout", str(WAIT)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(pause_dir))
            cmd = command_file(pause_dir, info["pause_id"])
            poll_until(cmd.exists, "the in-flight resume to write its claim")
        sigkill(s)
    listed = cli.tty("ls")
    assert listed.returncode == 0 and listed.stdout == f"no pending pauses in {pause_dir}\n", \
        str(listed)
    states = {j["pause_id"]: j["state"] for j in
              map(json.loads, cli("ls", "-a", "--json").stdout.splitlines())}
    table = {line.split()[0]: line.split()[1] for line in cli.tty("ls", "-a").stdout.splitlines()[1:]}
    for kind, s, info in paused:
        pid = info["pause_id"]
        assert states[pid] == table[pid] == "stale", (pid, states, table)
        assert cli("show", "--json", pid).json()["state"] == "stale"
        verdict = ["--result", "true"] if kind == "checkpoint" else ["--failure-reason", "x"]
        if pid in in_flight:
            so, se = in_flight[pid].communicate(timeout=WAIT)
            assert in_flight[pid].returncode == EXIT["stale"], (so, se)
            assert "died before taking the command" in se or "is stale" in se, se
        before = snapshot(pause_dir)
        res = cli("resume", pid, *verdict)
        assert res.returncode == EXIT["stale"], str(res)
        assert f"pause {pid} is stale" in one_line_error(res, "resume")
        assert snapshot(pause_dir) == before
        assert read_pause(pause_dir, pid)["status"] == "pending"
        assert end_events(pause_dir, pid) == []
        w = cli("watch", "--run-id", s.run_id)
        assert w.returncode == EXIT["runended"] and "is gone" in w.stdout, str(w)
    record("kill_9", trials=len(paused), stale=len(paused), with_resume_in_flight=len(in_flight),
           resumed=0, refused_with_4=len(paused) + len(in_flight))


def _fake_run(pause_dir: Path, real: dict, run_id: str, **fields) -> tuple[str, Path]:
    """A copy of a real pause file in a new run, edited with `fields`,
    indexed in pending/ as a pending pause would be."""
    pid = f"{run_id}.{os.urandom(4).hex()}"
    run = pause_dir / "runs" / run_id
    for sub in ("pauses", "commands"):
        (run / sub).mkdir(parents=True, mode=0o700)
    doc = dict(real, pause_id=pid, run_id=run_id, status="pending", **fields)
    path = run / "pauses" / f"{pid}.json"
    path.write_text(json.dumps(doc))
    (pause_dir / "pending" / pid).touch()
    return pid, path


def _state(cli, pid: str) -> str:
    res = cli("show", "--json", pid)
    assert res.returncode == 0, str(res)
    return res.json()["state"]


def test_reused_pid_with_another_start_time_is_stale(live, pytester, cli, pause_dir):
    """A live pid is not enough: a pause whose recorded process start time
    (or boot id) is not the live process's is stale."""
    s = trial_session(live, pytester, 1)
    real = read_pause(pause_dir, next_trial(s, cli, 0)["pause_id"])
    me = os.getpid()
    right = proc_start_time(me)
    wrong = [str(int(right) + 1), str(int(right) - 1), str(int(right) + 10**6), "1"]
    cases = [(f"stale{n}", dict(pid=me, pid_start_time=w), "stale") for n, w in enumerate(wrong)]
    cases.append(("staleboot", dict(pid=me, pid_start_time=right,
                                    boot_id="00000000-0000-0000-0000-000000000000"), "stale"))
    cases.append(("control", dict(pid=me, pid_start_time=right), "pending"))
    made = {}
    for run_id, fields, want in cases:
        made[run_id] = _fake_run(pause_dir, real, run_id, **fields)[0], want
    listed = cli("ls").stdout
    all_states = {j["pause_id"]: j["state"] for j in
                  map(json.loads, cli("ls", "-a", "--json").stdout.splitlines())}
    for run_id, (pid, want) in made.items():
        assert _state(cli, pid) == want == all_states[pid], (run_id, all_states)
        assert (pid in listed) == (want == "pending"), listed
        if want == "stale":
            before = snapshot(pause_dir)
            res = cli("resume", pid, "--result", "true")
            assert res.returncode == EXIT["stale"], str(res)
            assert f"pid {me} " in one_line_error(res, "resume")
            assert snapshot(pause_dir) == before
    assert cli("resume", real["pause_id"], "--result", "true").returncode == 0
    record("reused_pid", trials=len(cases), stale=len(cases) - 1, pending_control=1,
           refused_with_4=len(cases) - 1)


def test_other_host_is_judged_by_heartbeat(live, pytester, cli, pause_dir):
    """A pause recorded on another host (a shared filesystem) is alive
    while its file's mtime is fresh, stale after 4 missed heartbeats."""
    s = trial_session(live, pytester, 1)
    real = read_pause(pause_dir, next_trial(s, cli, 0)["pause_id"])
    beat = real["heartbeat_interval"]
    assert beat > 0
    host = "elsewhere.invalid"
    assert host != socket.gethostname()
    ages = {"old1h": 3600.0, "old5beats": 5 * beat, "fresh0": 0.0, "fresh1beat": beat}
    made = {}
    now = time.time()
    for run_id, age in ages.items():
        # a pid that is surely not alive here: it must not matter
        pid, path = _fake_run(pause_dir, real, run_id, hostname=host, pid=2**22 + 1)
        os.utime(path, (now - age, now - age))
        made[run_id] = pid, ("stale" if age > 4 * beat else "pending")
    listed = cli("ls").stdout
    for run_id, (pid, want) in made.items():
        assert _state(cli, pid) == want, run_id
        assert (pid in listed) == (want == "pending"), listed
        if want == "stale":
            res = cli("resume", pid, "--result", "true")
            assert res.returncode == EXIT["stale"], str(res)
            assert host in one_line_error(res, "resume")
    # the same pause goes stale when its heartbeat stops, and back
    pid, path = made["fresh0"][0], pause_file(pause_dir, made["fresh0"][0])
    os.utime(path, (now - 3600, now - 3600))
    assert _state(cli, pid) == "stale"
    os.utime(path, None)
    assert _state(cli, pid) == "pending"
    assert cli("resume", real["pause_id"], "--result", "true").returncode == 0
    record("other_host_heartbeat", trials=len(ages) + 2,
           stale=sum(1 for _, w in made.values() if w == "stale") + 1,
           pending=sum(1 for _, w in made.values() if w == "pending") + 1)


# ------------------------------------------------------------ hostile command files


def _plant(cmd: Path, make) -> int:
    """Put an entry at cmd in one step (built under a dot-name, renamed),
    as a foreign writer that writes atomically would; its lstat size."""
    tmp = cmd.with_name(f".plant-{os.urandom(4).hex()}")
    make(tmp)
    size = tmp.lstat().st_size
    os.rename(tmp, cmd)
    return size


def _bytes(data: bytes):
    return lambda p: p.write_bytes(data)


def _big(size: int):
    def make(p: Path) -> None:
        head, tail = b'{"result": true, "reason": "', b'"}'
        with open(p, "wb") as f:
            f.write(head)
            chunk = b"a" * (1 << 20)
            left = size - len(head) - len(tail)
            while left > 0:
                f.write(chunk[:left])
                left -= min(left, len(chunk))
            f.write(tail)
    return make


def _deep(depth: int):
    return _bytes(b'{"result": true, "payload": ' + b"[" * depth + b"]" * depth + b"}")


#: name -> (how to make the hostile entry, what its rejection must say);
#: every one must be rejected for its own reason
BAD_COMMANDS = {
    "100 MB": (_big(100 * 2**20), "is 104857600 bytes, over the limit of 65536 bytes"),
    "64 KiB + 1 byte": (_big(64 * 1024 + 1), "is 65537 bytes, over the limit of 65536"),
    "nesting depth 32000 (under the size cap)": (_deep(32_000), "maximum parsing depth"),
    "invalid UTF-8": (_bytes(b'{"result": true, "reason": "\xff\xfe\xc3("}'), "unable to decode"),
    "duplicate keys": (_bytes(b'{"result": true, "result": false}'), "duplicate object key"),
    "an array": (_bytes(b'[{"result": true}]'), "is not a JSON object"),
    "a string": (_bytes(b'"resume"'), "'[' or '{' expected"),
    "empty file": (_bytes(b""), "is empty"),
    "NUL escape in a string": (_bytes(b'{"result": true, "reason": "a\\u0000b"}'),
                               "\\u0000 is not allowed"),
    "raw NUL byte": (_bytes(b'{"result": true}\x00'), "end of file expected"),
    "truncated": (_bytes(b'{"result": tru'), "invalid token"),
    "two documents": (_bytes(b'{"result": true} {"result": false}'), "end of file expected"),
    # typed commands (with "action") are checked strictly; unknown fields
    # are ignored (forward compatible), so an unknown action stands for them
    "unknown action": (_bytes(b'{"action": "rm -rf /", "result": true}'),
                       "unknown action 'rm -rf /'"),
    "result of the wrong type": (_bytes(b'{"action": "resume", "result": "yes"}'),
                                 "'result' must be true, false"),
    "failure_reason on a checkpoint": (_bytes(b'{"action": "resume", "failure_reason": "x"}'),
                                       "has 'failure_reason' but the pause is a checkpoint"),
}


def test_bad_command_files_are_rejected_and_the_pause_keeps_waiting(live, pytester, cli,
                                                                    pause_dir):
    rounds = trials(2)
    names = [name for _ in range(rounds) for name in BAD_COMMANDS]
    s = trial_session(live, pytester, len(names))
    rejected, errors = {}, {}
    for i, name in enumerate(names):
        pid = next_trial(s, cli, i)["pause_id"]
        cmd = command_file(pause_dir, pid)
        make, why = BAD_COMMANDS[name]
        size = _plant(cmd, make)
        line = s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pid)}: (.*)$")
        where = f"{name} (trial {i}, {pid}): {line.group(0)}"
        assert not os.path.lexists(cmd), where
        aside = rejected_names(pause_dir, pid)
        assert len(aside) == 1, where
        moved = cmd.with_name(aside[0])
        assert moved.lstat().st_size == size, where  # moved whole, not read into place
        ev = pause_events(pause_dir, pid, "command_rejected")
        assert len(ev) == 1 and ev[0]["moved_to"] == aside[0], where
        assert why in ev[0]["error"] and why in line.group(1), f"{where}\n{ev[0]}"
        assert _state(cli, pid) == "pending", where
        assert (pause_dir / "pending" / pid).exists(), where
        if size > 2**20:
            moved.unlink()  # do not leave 100 MB behind in the tmp dir
        res = cli("resume", pid, "--result", "false", "--reason", f"valid after {name}")
        assert res.returncode == 0, f"{where}\n{res}"
        d = wait_decision(s, pid)
        assert (d["outcome"], d["result"], d["reason"]) == (
            "resumed", False, f"valid after {name}"), where
        assert len(end_events(pause_dir, pid)) == 1, where
        rejected[name] = rejected.get(name, 0) + 1
        errors.setdefault(name, ev[0]["error"])
    rc, out = s.finish()
    assert rc == 0, out
    record("bad_command_files", trials=len(names), classes=len(BAD_COMMANDS),
           rejected=sum(rejected.values()), accepted=0, then_resumed=len(names),
           per_class=rejected, errors=errors)


def _symlink_to(target_of):
    def make(p: Path) -> None:
        os.symlink(target_of(p), p)
    return make


def test_planted_symlinks_and_fifos_are_not_followed(live, pytester, cli, pause_dir, tmp_path):
    """A symlink (or a FIFO) planted as commands/<id>.resume.json is
    refused, whatever it points at: a valid command outside, a valid
    command inside the commands dir, nothing, a device."""
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"result": True, "reason": "forged through a symlink"}))
    plants = {
        "symlink to a valid command outside": _symlink_to(lambda p: forged),
        "symlink to a valid command inside": _symlink_to(lambda p: _inside(p)),
        "relative symlink": _symlink_to(lambda p: os.path.relpath(forged, p.parent)),
        "dangling symlink": _symlink_to(lambda p: tmp_path / "nothing-here"),
        "symlink to /dev/zero": _symlink_to(lambda p: "/dev/zero"),
        "FIFO": lambda p: os.mkfifo(p),
    }
    rounds = trials(2)
    names = [n for _ in range(rounds) for n in plants]
    s = trial_session(live, pytester, len(names))
    forged_before = forged.read_bytes()
    for i, name in enumerate(names):
        pid = next_trial(s, cli, i)["pause_id"]
        cmd = command_file(pause_dir, pid)
        _plant(cmd, plants[name])
        line = s.wait_for_line(rf"^live-pause: rejected command for {re.escape(pid)}: (.*)$")
        where = f"{name} (trial {i}): {line.group(0)}"
        assert not os.path.lexists(cmd), where
        aside = rejected_names(pause_dir, pid)
        assert len(aside) == 1, where
        mode = os.lstat(cmd.with_name(aside[0])).st_mode
        assert stat.S_ISLNK(mode) or stat.S_ISFIFO(mode), where  # moved, never opened through
        assert _state(cli, pid) == "pending", where
        assert len(pause_events(pause_dir, pid, "command_rejected")) == 1, where
        res = cli("resume", pid, "--result", "true", "--reason", f"real {i}")
        assert res.returncode == 0, f"{where}\n{res}"
        d = wait_decision(s, pid)
        assert d["reason"] == f"real {i}", where
        assert len(end_events(pause_dir, pid)) == 1, where
    assert forged.read_bytes() == forged_before
    assert s.finish()[0] == 0
    record("planted_symlinks_fifos", trials=len(names), classes=len(plants),
           rejected=len(names), followed=0, then_resumed=len(names))


def _inside(p: Path) -> Path:
    target = p.parent / f"valid-{os.urandom(4).hex()}.json"
    target.write_text(json.dumps({"result": True, "reason": "forged inside"}))
    return target


def test_resume_waits_out_a_hostile_command_file(live, pytester, cli, pause_dir):
    """A foreign, invalid file holds the claim's name while the paused
    process can't look (stopped): resume refuses to replace it (8, nothing
    written); once the process moved it aside, a waiting resume wins."""
    k = trials(3)
    s = trial_session(live, pytester, k)
    for i in range(k):
        pid = next_trial(s, cli, i)["pause_id"]
        cmd = command_file(pause_dir, pid)
        os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            _plant(cmd, _bytes(b"{not json"))
            before = snapshot(pause_dir)
            res = cli("resume", pid, "--result", "true", "--take-timeout", "0.5")
            assert res.returncode == EXIT["nottaken"], str(res)
            assert "unreadable command file" in one_line_error(res, "resume")
            assert snapshot(pause_dir) == before, diff(before, snapshot(pause_dir))
            waiting = subprocess.Popen(
                [CLI_BIN, "resume", pid, "--result", "false", "--reason", f"after the junk {i}",
                 "--take-timeout", str(WAIT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=cli_env(pause_dir))
        finally:
            os.kill(s.proc.pid, signal.SIGCONT)
        so, se = waiting.communicate(timeout=WAIT + 30)
        assert waiting.returncode == 0, (so, se)
        d = wait_decision(s, pid)
        assert (d["result"], d["reason"]) == (False, f"after the junk {i}")
        assert len(rejected_names(pause_dir, pid)) == 1
        assert len(end_events(pause_dir, pid)) == 1
    assert s.finish()[0] == 0
    record("resume_behind_hostile_command", trials=k, refused_with_8=k, then_won=k)


def test_planted_symlink_pause_files_and_run_dirs_are_refused(live, pytester, cli, pause_dir,
                                                             tmp_path):
    """A symlink planted as a pause file or a run directory (pointing at a
    real, pending pause) is never followed: show and resume refuse it (11),
    watch too, ls -a skips it; the real pause is untouched."""
    s = trial_session(live, pytester, 1)
    real = next_trial(s, cli, 0)["pause_id"]
    run = s.run_id
    runs = pause_dir / "runs"
    (runs / "evil" / "pauses").mkdir(parents=True)
    (runs / "evil" / "commands").mkdir()
    suffix = real.split(".", 1)[1]
    (runs / "evil" / "pauses" / f"evil.{suffix}.json").symlink_to(
        Path("..", "..", run, "pauses", f"{real}.json"))
    (runs / "evil2").symlink_to(run)
    outside = tmp_path / "outside-run"
    (outside / "pauses").mkdir(parents=True)
    (outside / "pauses" / f"evil3.{suffix}.json").write_text(
        pause_file(pause_dir, real).read_text().replace(run, "evil3"))
    (runs / "evil3").symlink_to(outside)
    before = snapshot(tmp_path)
    count = 0
    for ref in (f"evil.{suffix}", f"evil2.{suffix}", f"evil3.{suffix}",
                str(runs / "evil2" / "pauses" / f"evil2.{suffix}.json")):
        for argv in (["show", ref], ["resume", ref, "--result", "true"]):
            res = cli(*argv)
            assert res.returncode == EXIT["unsafe"], str(res)
            assert "symlink" in one_line_error(res, argv[0])
            count += 1
    for run_id in ("evil2", "evil3"):
        res = cli("watch", "--run-id", run_id, "--timeout", "0.1")
        assert res.returncode == EXIT["unsafe"], str(res)
        count += 1
    listed = [j["pause_id"] for j in map(json.loads, cli("ls", "-a", "--json").stdout.splitlines())]
    assert listed == [real]
    assert snapshot(tmp_path) == before, diff(before, snapshot(tmp_path))
    assert _state(cli, real) == "pending"
    assert cli("resume", real, "--result", "true").returncode == 0
    assert s.finish()[0] == 0
    record("planted_symlink_pause_files", trials=count, refused_with_11=count, followed=0)


# ------------------------------------------------------------ ids and paths


def test_hostile_ids_cannot_escape_the_pause_dir(live, pytester, cli, pause_dir, tmp_path):
    """Ids with '/', '..', control characters or NUL are refused (2) or not
    found (3); nothing outside (or inside) the pause dir is read into a
    decision or written. A decoy pause dir next to the real one holds a
    pending pause that a traversal would reach."""
    s = trial_session(live, pytester, 1)
    info = next_trial(s, cli, 0)
    real = read_pause(pause_dir, info["pause_id"])
    decoy = tmp_path / "decoy"
    decoy.mkdir(mode=0o700)
    (decoy / "pending").mkdir(mode=0o700)
    dpid, _ = _fake_run(decoy, real, "decoyrun")
    run = s.run_id
    hostile = [
        f"../decoy/runs/decoyrun/pauses/{dpid}", f"../decoy/{dpid}", f"{run}/../../decoy",
        f"{run}/../../decoy/runs/decoyrun/pauses/{dpid}", "..", "../..", ".", "./" + dpid,
        f"..%2fdecoy%2f{dpid}", f"{run}%2f..%2f..", "..\\decoy", f"{dpid}/", f"/{dpid}",
        f"{run}.\x01", f"{run}.\n../decoy", "-", " " + dpid, dpid + "\t", "~" + dpid,
        "decoyrun/" + "../" * 40 + dpid, "a" * 64 + "/" + dpid, "." * 65,
        f"{'x' * 4096}/{dpid}", f"runs/decoyrun/pauses/{dpid}.json" + "/" * 3,
    ]
    before = snapshot(tmp_path)
    count = 0
    for ref in hostile:
        for argv in (["resume", ref, "--result", "true"], ["show", ref],
                     ["watch", "--run-id", ref, "--timeout", "0.1"]):
            res = cli(*argv)
            count += 1
            assert res.returncode in (EXIT["usage"], EXIT["notfound"]), str(res)
            assert res.stdout == "", str(res)
            one_line_error(res, argv[0])
    assert snapshot(tmp_path) == before, diff(before, snapshot(tmp_path))
    assert not command_file(decoy, dpid).exists()
    # NUL can't cross exec(2); the Python binding refuses it rather than
    # cutting the string short at the NUL
    nul_cases = [
        lambda: _livepause.validate_id(f"{run}.\x00../../decoy"),
        lambda: _livepause.validate_id(f"{dpid}\x00"),
        lambda: _livepause.Store(str(pause_dir) + "\x00/../decoy", create=False),
        lambda: _livepause.Run(_livepause.Store(str(pause_dir), create=False),
                               f"{run}\x00/../../decoy", join=True),
    ]
    for case in nul_cases:
        with pytest.raises(ValueError):
            case()
        count += 1
    assert snapshot(tmp_path) == before, diff(before, snapshot(tmp_path))
    assert cli("resume", info["pause_id"], "--result", "true").returncode == 0
    assert s.finish()[0] == 0
    record("hostile_ids", trials=count, refused=count, escaped=0)


# ------------------------------------------------------------ hostile pause dir


def _make_hostile(tmp_path: Path, hazard: str) -> tuple[Path, str]:
    """(the unsafe pause dir, what its error must name as the fix)"""
    d = tmp_path / f"hostile-{hazard}"
    if hazard == "symlink":
        real = tmp_path / "symlink-target"
        real.mkdir(mode=0o700)
        d.symlink_to(real)
        return d, "--pause-dir"
    d.mkdir()
    if hazard == "other-owner":
        d.chmod(0o700)
        os.chown(d, 65534, 65534)
        return d, "--pause-dir"
    d.chmod(int(hazard.split("-")[1], 8))
    return d, f"chmod 700 {d}"


HAZARDS = ["symlink", "mode-0777", "mode-0770", "mode-0702", "other-owner"]


@pytest.mark.parametrize("how", ["option", "env", "ini"])
def test_hostile_pause_dir_refused_by_pytest_and_cli(pytester, cli, tmp_path, how):
    # a directory of another user can only be made by root
    hazards = HAZARDS if os.geteuid() == 0 else [h for h in HAZARDS if h != "other-owner"]
    pytester.makepyfile(test_never="def test_never():\n    raise AssertionError('ran')\n")
    refused = 0
    for hazard in hazards:
        d, fix = _make_hostile(tmp_path, hazard)
        look = d.resolve() if hazard == "symlink" else d
        before = snapshot(look)
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)
        env.pop(_livepause.ENV_PAUSE_DIR, None)
        args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pause-on-failure",
                "test_never.py"]
        if how == "option":
            args.append(f"--pause-dir={d}")
        elif how == "env":
            env[_livepause.ENV_PAUSE_DIR] = str(d)
        else:
            pytester.makeini(f"[pytest]\npause_dir = {d}\n")
        p = subprocess.run(args, cwd=pytester.path, env=env, capture_output=True, text=True,
                           timeout=WAIT)
        where = f"{hazard} via {how}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        assert p.returncode == pytest.ExitCode.USAGE_ERROR, where
        errors = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
        assert errors == [errors[0]] and errors[0].startswith(
            f"ERROR: pytest-live-pause: pause directory {d} "), where
        assert fix in errors[0] and "Traceback" not in where, where
        assert "ran" not in where
        assert snapshot(look) == before, where
        for argv in (["ls"], ["ls", "-a"], ["show", "r.00000000"],
                     ["resume", "r.00000000", "--result", "true"], ["watch", "--run-id", "r"]):
            res = cli(*argv, f"--pause-dir={d}")
            assert res.returncode == EXIT["unsafe"], str(res)
            msg = one_line_error(res, argv[0])
            assert f"pause directory {d} " in msg and fix in msg, msg
            res = cli(*argv, env=cli_env(d))
            assert res.returncode == EXIT["unsafe"], str(res)
            refused += 2
        refused += 1
        assert snapshot(look) == before, where
    record("hostile_pause_dir", given_by=how, hazards=len(hazards), refused=refused, accepted=0)


# ------------------------------------------------------------ full disk


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs; skipped where mounting is not permitted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(directory: Path, name: str = "filler") -> int:
    """Fill the filesystem of directory; return the bytes written."""
    written = 0
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, b"\0" * 4096)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        while True:  # and the last few bytes
            try:
                written += os.write(fd, b"\0")
            except OSError:
                break
    finally:
        os.close(fd)
    return written


FULL_DISK = '''
import json, os
from pytest_live_pause import checkpoint

def test_1_checkpoint_while_filling():
    d = checkpoint(task="fill the disk now", timeout=float("inf"))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, outcome=d.outcome,
                                        result=d.result, reason=d.reason)), flush=True)

def test_2_fill_the_disk():
    with open(os.path.join(os.environ["LP_FILL"], "filler2"), "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 512)
        except OSError:
            pass

def test_3_fails():
    assert 1 + 1 == 3, "a real failure, to pause on"

def test_4_checkpoint_on_a_full_disk():
    checkpoint(task="no room for this pause", timeout=float("inf"))

def test_5_passes():
    pass
'''


def test_full_disk_one_clear_error_no_hang_results_kept(live, pytester, cli, tiny_fs, tmp_path):
    pd = tiny_fs / "pause-dir"
    xml = tmp_path / "junit.xml"  # on another filesystem: the results
    pytester.makepyfile(test_full=FULL_DISK)
    s = live("-s", "--pause-on-failure", f"--pause-dir={pd}", f"--junitxml={xml}", "test_full.py",
             env={"LP_FILL": str(tiny_fs)})
    info = wait_paused(s, Cli(pd), kind="checkpoint")
    pid = info["pause_id"]
    # the disk fills while paused: resume can't write its claim (1), and
    # writes nothing else; the pause still waits
    _fill(tiny_fs)
    before = snapshot(pd)
    res = cli("resume", pid, "--result", "true", "--pause-dir=" + str(pd))
    assert res.returncode == EXIT["error"], str(res)
    msg = one_line_error(res, "resume")
    assert "No space left on device" in msg and "command file" in msg, msg
    assert snapshot(pd) == before, diff(before, snapshot(pd))
    (tiny_fs / "filler").unlink()
    res = cli("resume", pid, "--result", "true", "--reason", "room again", f"--pause-dir={pd}")
    assert res.returncode == 0, str(res)
    rc, out = s.finish()
    # the disk filled again (test 2): the failure pause and the checkpoint
    # fail with one clear line each, the run goes on, every result is kept
    assert rc == 1, out
    assert [d["reason"] for d in decisions(out)] == ["room again"]
    assert [e["event"] for e in end_events(pd, pid)] == ["pause_resumed"]
    bad = [line for line in out.splitlines() if "No space left on device" in line]
    pause_failed = [line for line in bad if line.startswith(
        "live-pause: pause failed for test_full.py::test_3_fails: cannot write ")]
    assert len(pause_failed) == 1, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    assert re.search(r"2 failed, 3 passed", out), out
    junit = xml.read_text()
    for n in ("test_1_checkpoint_while_filling", "test_2_fill_the_disk", "test_3_fails",
              "test_4_checkpoint_on_a_full_disk", "test_5_passes"):
        assert f'name="{n}"' in junit, junit
    assert 'tests="5"' in junit and 'failures="2"' in junit, junit
    # the failure text is the test's own (as in 0.1.1); why the pause
    # failed is in the property live_pause_error
    assert re.search(r'<property name="live_pause_error" value="pause failed: cannot write ', junit), junit
    assert "could not end run" in out and "No space left on device" in out
    record("full_disk", trials=1, resume_refused_with_1=1, nothing_written=1,
           pause_failed_reported=len(pause_failed), results_in_junit=5, hang=0)


def test_full_disk_at_start_is_one_clear_error(pytester, tiny_fs):
    pd = tiny_fs / "pause-dir"
    _fill(tiny_fs)
    pytester.makepyfile(test_any="def test_any():\n    pass\n")
    env = dict(os.environ)
    env.pop(_livepause.ENV_PAUSE_DIR, None)
    env.pop("PYTEST_ADDOPTS", None)
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                        f"--pause-dir={pd}", "test_any.py"], cwd=pytester.path, env=env,
                       capture_output=True, text=True, timeout=WAIT)
    where = f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, where
    lines = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: pytest-live-pause: "), where
    assert "No space left on device" in lines[0] and str(pd) in lines[0], where
    record("full_disk_at_start", trials=1, one_line_error=1, hang=0)


# ------------------------------------------------------------ Ctrl-C, SIGTERM


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_paused_aborts_never_pending(live, pytester, cli, pause_dir, sig):
    """Ctrl-C (or SIGTERM) while paused ends the pause as aborted: the
    pause file, the claim, the pending index and the events say so, and a
    later resume is refused with 7."""
    n = trials(4)
    pytester.makeconftest(SIGINT_CONFTEST)
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    sessions = []
    for j in range(n):
        kind = ("checkpoint", "failure")[j % 2]
        args = ["-k", "test_checkpoint"] if kind == "checkpoint" else ["--pause-on-failure", "-k",
                                                                        "test_failure"]
        sessions.append((kind, live("-s", *args, "test_paused.py")))
    for kind, s in sessions:
        info = wait_paused(s, cli, kind=kind)
        poll_until(lambda: catches_signal(s.proc.pid, signal.SIGTERM),
                   "the paused pytest to be waiting (its SIGTERM handler installed)")
        s.send(sig)
        rc, out = s.finish()
        pid = info["pause_id"]
        where = f"{kind} {pid}: exit {rc}\n{out}"
        assert rc == (2 if sig == signal.SIGINT else 128 + signal.SIGTERM), where
        assert re.search(r"^RESUMED \(aborted\): ", out, re.M), where
        p = read_pause(pause_dir, pid)
        assert (p["status"], p["resolved_by"]) == ("aborted", "abort"), where
        claim = json.loads(command_file(pause_dir, pid).read_text())
        assert claim["by"] == "abort" and claim["signal"] == signal.Signals(sig).name, claim
        assert_unindexed(pause_dir, pid, where)
        assert [e["event"] for e in end_events(pause_dir, pid)] == ["pause_aborted"], where
        res = cli("resume", pid, *(["--result", "true"] if kind == "checkpoint" else []))
        assert res.returncode == EXIT["aborted"], str(res)
    states = [j["state"] for j in map(json.loads, cli("ls", "-a", "--json").stdout.splitlines())]
    assert states == ["aborted"] * n
    record("signal_while_paused", signal=signal.Signals(sig).name, trials=n, aborted=n,
           pending=0, stale=0)


#: The inner test fills pytest's stdout pipe (nobody reads it) so that the
#: pause banner blocks in write(2) *after* the pause file exists and before
#: the wait begins: the window in which a person sees "PAUSED" appear (a
#: slow or flow-controlled terminal, a full CI log pipe) and presses Ctrl-C
#: or a CI runner sends SIGTERM.
BLOCKED_BANNER = '''
import fcntl, os, struct, sys, termios
from pytest_live_pause import checkpoint

F_GETPIPE_SZ = 1032

def test_paused_while_stdout_is_full():
    sys.stdout.flush()
    cap = fcntl.fcntl(1, F_GETPIPE_SZ)
    unread = struct.unpack("i", fcntl.ioctl(1, termios.FIONREAD, b"\\0" * 4))[0]
    os.write(1, b"." * (cap - unread - 16))  # the banner will not fit
    checkpoint(task="banner blocked", timeout=float("inf"))
'''


def _blocked_banner_session(pytester, pause_dir, cli):
    pytester.makeconftest(SIGINT_CONFTEST)
    pytester.makepyfile(test_blocked=BLOCKED_BANNER)
    env = cli_env(pause_dir)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s",
                             "test_blocked.py"], cwd=pytester.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # stdout is never read before the signal (reading would make room for
    # the banner): the run is found through the pending index instead
    pending = pause_dir / "pending"
    first = poll_until(lambda: pending.is_dir() and sorted(os.listdir(pending)),
                       "the pause to be indexed in pending/")
    run_id = first[0].split(".", 1)[0]
    info = cli.watch(run_id)  # the pause file exists; the banner is stuck
    return proc, info


def _drain_and_wait(proc) -> tuple[int, bytes]:
    try:
        out, _ = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("pytest hung after the signal")
    return proc.returncode, out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_the_banner_is_printed_aborts(pytester, cli, pause_dir, sig):
    """The pause file exists, the PAUSED block is stuck in write(2): Ctrl-C
    or SIGTERM then must still end the pause as aborted, never leave it
    pending (a regression test: SIGTERM used to kill pytest there)."""
    proc, info = _blocked_banner_session(pytester, pause_dir, cli)
    pid = info["pause_id"]
    try:
        os.kill(proc.pid, sig)
        rc, out = _drain_and_wait(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = out.decode(errors="replace")
    where = f"exit {rc}: {text[-1500:]}\n{cli('show', pid).stdout}"
    assert rc == (2 if sig == signal.SIGINT else 128 + signal.SIGTERM), where
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["resolved_by"]) == ("aborted", "abort"), where
    claim = json.loads(command_file(pause_dir, pid).read_text())
    assert claim["signal"] == signal.Signals(sig).name, claim
    assert re.search(r"^RESUMED \(aborted\): ", text, re.M), where
    assert_unindexed(pause_dir, pid)
    assert [e["event"] for e in end_events(pause_dir, pid)] == ["pause_aborted"]
    record("signal_during_banner", signal=signal.Signals(sig).name, trials=1, aborted=1,
           pending=0)


#: Stops the process (SIGSTOP to itself) the moment Run.pause() has
#: returned: the pause file exists, the plugin has not yet reached the code
#: that handles a signal. A signal sent then is delivered on SIGCONT, right
#: in that window: what an agent does when `watch` reports the pause and it
#: decides to stop the run at once.
STOP_AFTER_PAUSE_BEGIN = '''
import os, signal, sys
from pytest_live_pause import checkpoint

def _stop_when_the_pause_exists(frame, event, arg):
    if (event == "c_return" and getattr(arg, "__name__", None) == "pause"
            and type(getattr(arg, "__self__", None)).__name__ == "Run"):
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGSTOP)

def test_window():
    sys.setprofile(_stop_when_the_pause_exists)
    try:
        checkpoint(task="a signal in the window", timeout=float("inf"))
    finally:
        sys.setprofile(None)
'''


def _proc_state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def _signal_right_after_pause_begin(live, pytester, cli, pause_dir, sig) -> tuple[dict, str]:
    pytester.makeconftest(SIGINT_CONFTEST)
    pytester.makepyfile(test_window=STOP_AFTER_PAUSE_BEGIN)
    s = live("-s", "test_window.py")
    info = cli.watch(s.run_id)
    poll_until(lambda: _proc_state(s.proc.pid) == "T", "pytest to stop itself after Run.pause()")
    os.kill(s.proc.pid, sig)
    os.kill(s.proc.pid, signal.SIGCONT)
    rc, out = s.finish()
    p = read_pause(pause_dir, info["pause_id"])
    return p, f"pytest exit {rc}, pause {p['status']}:\n{out}"


def test_sigint_right_after_the_pause_file_appears_aborts(live, pytester, cli, pause_dir):
    p, where = _signal_right_after_pause_begin(live, pytester, cli, pause_dir, signal.SIGINT)
    assert p["status"] == "aborted", where
    assert_unindexed(pause_dir, p["pause_id"], where)
    record("signal_right_after_pause_begin", signal="SIGINT", trials=1,
           aborted=int(p["status"] == "aborted"), pending=int(p["status"] == "pending"))


def test_sigterm_right_after_the_pause_file_appears_aborts(live, pytester, cli, pause_dir):
    p, where = _signal_right_after_pause_begin(live, pytester, cli, pause_dir, signal.SIGTERM)
    record("signal_right_after_pause_begin", signal="SIGTERM", trials=1,
           aborted=int(p["status"] == "aborted"), pending=int(p["status"] == "pending"))
    assert p["status"] == "aborted", where
