"""The main job of `make demo`: a real pytest session pauses, and a second
process resumes it through the `pytest-live-pause` command, then aborts
the run at its last pause (the device is gone: no further test starts).

This script plays the agent: it starts pytest, reads the run id from the
header line, loops `watch` -> `resume` until `watch` reports the run is no
longer active, and prints what happened. Before resuming the failure it
asks the paused test: `eval` of a local of the failing test (pytest runs
with --pause-allow-eval) and `do` of the suite's named action "screen". It only talks to pytest and to the
CLI, as any user or agent would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
_print_lock = threading.Lock()


def say(*parts: object) -> None:
    """Print one whole line: pytest's output and the agent's interleave."""
    with _print_lock:
        print(*parts, flush=True)


def main() -> int:
    pause_dir = tempfile.mkdtemp(prefix="live-pause-demo-")
    env = dict(os.environ, PYTEST_LIVE_PAUSE_DIR=pause_dir)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
           "--pause-on-failure", "--pause-timeout", "120", "--pause-allow-eval",
           os.path.join(HERE, "demo_suite")]
    print("$", " ".join(cmd[2:]), f"   (PYTEST_LIVE_PAUSE_DIR={pause_dir})")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: list[str] = []
    run_id: list[str] = []
    got_run_id = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            say("  pytest | " + line.rstrip("\n"))
            if line.startswith("pytest-live-pause: run_id=") and not run_id:
                run_id.append(line.split("=", 1)[1].strip())
                got_run_id.set()
        got_run_id.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if not got_run_id.wait(60) or not run_id:
        print("demo: pytest printed no run id", file=sys.stderr)
        proc.kill()
        return 1

    resumed = aborted = 0
    asked: list[str] = []

    def ask(*args: str) -> None:
        res = subprocess.run(["pytest-live-pause", *args], capture_output=True, text=True,
                             env=env)
        say("agent  | $ pytest-live-pause", *args)
        say("agent  |  ", (res.stdout or res.stderr).strip(), f"(exit {res.returncode})")
        asked.append(res.stdout.strip() if res.returncode == 0 else "")

    while True:
        watch = subprocess.run(["pytest-live-pause", "watch", "--run-id", run_id[0],
                                "--timeout", "120", "--json"],
                               capture_output=True, text=True, env=env)
        if watch.returncode == 9:
            say("agent  | watch:", watch.stdout.strip())
            break
        if watch.returncode != 0:
            print("agent  | watch failed:", watch.stdout, watch.stderr, file=sys.stderr)
            proc.kill()
            return 1
        pause = json.loads(watch.stdout)
        say(f"agent  | paused: {pause['kind']} {pause['pause_id']} at {pause['nodeid']}")
        command = "resume"
        if pause["kind"] == "checkpoint":
            verdict = ["--result", "true", "--reason", "the summary shows 3 items"]
        elif pause["kind"] == "question":
            say(f"agent  | question: {pause['question']}")
            command, verdict = "abort", ["--reason", "the device went offline"]
        else:
            ask("eval", pause["pause_id"], "total, device['items']")
            ask("do", pause["pause_id"], "screen")
            # evidence for the report: the agent attaches what it saw
            note = os.path.join(tempfile.mkdtemp(prefix="live-pause-agent-"), "agent-note.txt")
            with open(note, "w") as f:
                f.write("price list on the device: 2024-01 (stale)\n")
            verdict = ["--failure-reason", "inspected the device: the price list is stale",
                       "--attach", note]
        res = subprocess.run(["pytest-live-pause", command, pause["pause_id"], *verdict],
                             capture_output=True, text=True, env=env)
        say(f"agent  | $ pytest-live-pause {command}", pause["pause_id"], *verdict)
        say("agent  |  ", (res.stdout or res.stderr).strip(), f"(exit {res.returncode})")
        if res.returncode != 0:
            proc.kill()
            return 1
        if command == "abort":
            aborted += 1
        else:
            resumed += 1

    code = proc.wait(120)
    reader.join(10)
    out = "".join(lines)
    print()
    print(f"demo: {resumed} pauses resumed and {aborted} aborted through the CLI; "
          f"pytest exited {code} (2: interrupted by the abort)")
    stopped = "live-pause: run aborted at " in out and "device went offline" in out
    print("demo: eval and do answered from inside the paused test:",
          "yes" if asked[:1] == ["(30, 3)"] and '"items":3' in "".join(asked[1:]) else "NO")
    ok = (resumed == 2 and aborted == 1 and code == 2 and stopped
          and "never starts" not in out
          and asked[:1] == ["(30, 3)"] and '"items":3' in "".join(asked[1:])
          and "inspected the device: the price list is stale" in out
          and "2 failed, 1 passed" in out)
    print("demo: the failure reason given to `resume` is in pytest's report:",
          "yes" if "inspected the device" in out else "NO")
    attached = "agent-note.txt (resume, " in out
    print("demo: the file attached with `resume --attach` is listed in the report:",
          "yes" if attached else "NO")
    print("demo: the abort stopped the run before test_never_started:",
          "yes" if stopped and "never starts" not in out else "NO")
    ok = ok and attached
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
