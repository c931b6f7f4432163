"""Where a pause's decision becomes the test's outcome: the failure
report's ``live pause`` section and its --junitxml properties, and the
Decision a checkpoint returns.

The runtime decided everything (who won, the action, the verdict); this
module only puts that decision where pytest and the test see it. A new
kind of decision (an abort, a typed answer, attachments) is turned into
the test's outcome here or in a module of its own called from here.
Pure pytest glue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import Decision, _livepause
from pytest_live_pause._livepause import LivePauseError
from pytest_live_pause._terminal import one_line

if TYPE_CHECKING:
    from pytest_live_pause._pausing import Ended


def add_section(report: pytest.TestReport, text: str) -> None:
    """Show text with the failure in a section ``live pause``, as 0.1.1
    does (pytest prints it under the failure, ``--show-capture`` aside)."""
    report.sections.append(("live pause", text))


def add_property(item: pytest.Item, report: pytest.TestReport, name: str, value: str) -> None:
    """A --junitxml property of the test. --junitxml writes the properties
    of the teardown report, which copies the item's: record it on both."""
    report.user_properties.append((name, value))
    item.user_properties.append((name, value))


def failure_outcome(item: pytest.Item, report: pytest.TestReport, ended: Ended) -> None:
    """A failure pause ended: its failure reason (and in QAMule mode the
    result file's payload) goes into the report; the test stays failed."""
    reason = ended.resolution["failure_reason"]
    if reason:
        add_section(report, f"External failure reason: {reason}")
        add_property(item, report, "live_pause_failure_reason", reason)
    payload = ended.ending["payload_line"] if ended.ending is not None else None
    if payload is not None:
        add_section(report, f"qamule result: {payload}")
        add_property(item, report, "qamule_pause_result", payload)


def broken_outcome(item: pytest.Item, report: pytest.TestReport, exc: Exception) -> str:
    """A pause at a failure could not be made or ended: the report says so
    (section and the --junitxml property ``live_pause_error``); the
    test's own outcome stands. Returns the one-line message."""
    text = str(exc) if isinstance(exc, LivePauseError) else f"{type(exc).__name__}: {exc}"
    message = one_line(_livepause.storable_text(text))
    add_section(report, f"pause failed: {message}")
    add_property(item, report, "live_pause_error", f"pause failed: {message}")
    return message


def checkpoint_args(task: Any, timeout: Any, default: float) -> tuple[str, float]:
    """checkpoint()'s arguments checked (0.1.1's rules) and made storable:
    (task, seconds)."""
    if not isinstance(task, str):
        raise TypeError(f"task must be a str, not {type(task).__name__}")
    if not task.strip():
        raise ValueError("checkpoint task must not be empty")  # 0.1.1's check
    if timeout is None:
        return _livepause.storable_text(task), default
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
        )
    try:
        seconds = _livepause.parse_timeout(timeout, "timeout")
    except LivePauseError as exc:
        raise ValueError(str(exc)) from None
    return _livepause.storable_text(task), seconds


def mocked_decision(result: Any) -> Decision:
    """--pause-checkpoint-mock: the checkpoint returns at once."""
    return Decision(result=result, reason="Mock", outcome="mocked", pause_id=None)


def checkpoint_decision(ended: Ended) -> Decision:
    """What checkpoint() returns once its pause ended."""
    res = ended.resolution
    attached = res.get("attachments")
    return Decision(
        res["result"],
        res["reason"],
        res["outcome"],
        ended.pause_id,
        res["failure_reason"],
        tuple([a["path"] for a in attached]) if attached else (),
        res.get("value"),
    )
