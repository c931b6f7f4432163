"""A minimal stand-in for QAMule's signal-based pause plugin: the BASELINE of
the benchmark's round trips, not product code.

Written from the protocol description in the project's shared reference
(qamule-protocol.md): a conftest-style plugin that, at a call-phase failure
(`--pause-on-failure`) or at `agent_checkpoint(task)`, prints the human
block and one `QAMULE_PAUSE_EVENT {json}` line on stdout (flushed), then
waits for the resume signal (SIGUSR1 by default; blocked, then taken with
sigtimedwait) or `--pause-timeout`, and
reads the optional JSON result from `result_path`.

Load it with `-p qamule_standin` (this directory on PYTHONPATH) and
`-p no:live_pause`, since both register `--pause-on-failure`.

Bench-only addition: the event JSON carries `bench_written_at` (time.time()
just before the line is written), the "pause written" instant of the
pause -> monitor measurement; QAMule readers ignore unknown keys.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

import pytest

SEP = "=" * 60


def _emit(config: pytest.Config, text: str) -> None:
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text, flush=True)
        return
    with capman.global_and_fixture_disabled():
        print(text, flush=True)


def _line(prefix: str, obj: dict[str, Any]) -> str:
    return f"{prefix} " + json.dumps(obj, sort_keys=True, ensure_ascii=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("qamule-pause")
    g.addoption("--pause-on-failure", action="store_true", default=False,
                help="pause after a call-phase failure, before teardown")
    g.addoption("--pause-resume-signal", default="SIGUSR1",
                help="the signal that resumes (default SIGUSR1)")
    g.addoption("--pause-timeout", type=int, default=600,
                help="auto-resume after this many seconds")
    g.addoption("--pause-result-dir",
                default=os.path.join(tempfile.gettempdir(), "qamule-pauses"),
                help="where result JSON files are written and read")


def _signal(config: pytest.Config) -> signal.Signals:
    name = config.getoption("pause_resume_signal")
    sig = getattr(signal, name, None)
    if not isinstance(sig, signal.Signals):
        raise pytest.UsageError(f"--pause-resume-signal: unknown signal {name}")
    return sig


def pytest_configure(config: pytest.Config) -> None:
    _signal(config)  # an unknown name is a usage error at start


@dataclass
class _Outcome:
    request_id: str
    outcome: str          # "signal" | "timeout"
    result_path: str
    resume_signal: str
    payload: Optional[Any]
    payload_error: Optional[str]


def _pause(config: pytest.Config, nodeid: str, reason: str, context: dict[str, Any],
           details: str, timeout: Optional[int]) -> _Outcome:
    sig = _signal(config)
    seconds = config.getoption("pause_timeout") if timeout is None else timeout
    result_dir = config.getoption("pause_result_dir")
    os.makedirs(result_dir, exist_ok=True)
    request_id = uuid.uuid4().hex
    result_path = os.path.join(result_dir, f"{request_id}.json")
    # The signal is blocked before the pause is announced and taken with
    # sigtimedwait(): a signal that comes at any moment after the
    # announcement is kept pending, never lost. (A Python handler that sets
    # a threading.Event, as QAMule's published plugin does, can lose a
    # signal that lands just before the wait blocks: the wait then lasts
    # until the timeout. This stand-in hit that about once in a few
    # hundred immediate resumes.)
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
    try:
        event = {
            "context": context, "event": "qamule.pause", "nodeid": nodeid,
            "pid": os.getpid(), "reason": reason, "request_id": request_id,
            "result_path": result_path, "signal": sig.name, "timeout_sec": seconds,
        }
        event["bench_written_at"] = time.time()
        _emit(config, "\n".join([
            SEP,
            "PAUSED - test failed, device state preserved." if reason == "failure"
            else "PAUSED - checkpoint, waiting for the agent.",
            f"Reason: {reason}",
            f"Test: {nodeid}",
            SEP,
            f">>> Send {sig.name} to continue: `kill -{sig.name} {os.getpid()}`",
            f">>> Write JSON result to: {result_path}",
            f">>> Auto-resumes in {seconds}s ...",
            "Details:",
            details,
            _line("QAMULE_PAUSE_EVENT", event),
        ]))
        if seconds > 0:
            got = signal.sigtimedwait({sig}, seconds) is not None
        else:
            signal.sigwait({sig})
            got = True
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    payload: Any = None
    error: Optional[str] = None
    if got:
        try:
            with open(result_path, encoding="utf-8") as f:
                payload = json.load(f)
        except FileNotFoundError:
            error = "missing_result"
        except (OSError, ValueError) as exc:
            error = f"invalid_result: {exc}"
    out = _Outcome(request_id, "signal" if got else "timeout", result_path, sig.name,
                   payload, error)
    _emit(config, _line("QAMULE_PAUSE_RESUME", {
        "event": "qamule.resume", "has_result": payload is not None, "nodeid": nodeid,
        "outcome": out.outcome, "reason": reason, "request_id": request_id,
        "result_path": result_path, "signal": sig.name,
    }))
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    if not item.config.getoption("pause_on_failure"):
        return
    text = report.longreprtext
    res = _pause(item.config, item.nodeid, "failure",
                 {"longrepr": text, "outcome": "failed", "when": "call"}, text, None)
    if res.outcome == "signal" and isinstance(res.payload, dict):
        _emit(item.config, _line("QAMULE_PAUSE_RESULT", {
            "event": "qamule.pause_result", "nodeid": item.nodeid, "payload": res.payload,
            "reason": "failure", "request_id": res.request_id,
        }))
        report.sections.append(("qamule pause result", json.dumps(res.payload)))


@dataclass
class CheckpointDecision:
    request_id: str
    outcome: str
    result_path: str
    resume_signal: str
    result: Optional[bool]
    reason: Optional[str]


def _checkpoint_result(res: _Outcome) -> tuple[Optional[bool], Optional[str], Optional[str]]:
    """(result, reason, warning outcome) by the reference's result file rules."""
    if res.outcome == "timeout":
        return None, None, None
    if res.payload_error == "missing_result":
        return None, None, "missing_result"
    if res.payload_error:
        return None, res.payload_error, "invalid_result"
    p = res.payload
    if not isinstance(p, dict):
        return None, "result is not a JSON object", "invalid_result"
    if set(p) - {"result", "reason"} or not isinstance(p.get("result"), bool):
        return None, "result must be a boolean; only result and reason allowed", "invalid_result"
    if "reason" in p and not isinstance(p["reason"], str):
        return None, "reason must be a string", "invalid_result"
    return p["result"], p.get("reason"), None


@pytest.fixture
def agent_checkpoint(request: pytest.FixtureRequest):
    config = request.config
    nodeid = request.node.nodeid

    def checkpoint(task: str, *, timeout: Optional[int] = None) -> CheckpointDecision:
        res = _pause(config, nodeid, "checkpoint", {"task": task}, task, timeout)
        result, reason, warning = _checkpoint_result(res)
        if warning:
            _emit(config, _line("QAMULE_PAUSE_WARNING", {
                "event": "qamule.pause_warning", "outcome": warning,
                "pause_reason": "checkpoint", "reason": reason,
                "request_id": res.request_id, "result_path": res.result_path,
            }))
        return CheckpointDecision(res.request_id, res.outcome, res.result_path,
                                  res.resume_signal, result, reason)

    return checkpoint
