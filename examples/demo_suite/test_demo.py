"""A small suite that pauses three times: at a checkpoint, at a failure and
at a question.

`make demo` runs it and answers every pause from a second process through
the `pytest-live-pause` command, as a person or an agent would: it resumes
the first two and aborts the run at the question, so the last test never
starts.
"""
import pytest

from pytest_live_pause import ask


@pytest.fixture
def device():
    """Stands for a phone, a browser or a database: torn down after the test."""
    scene = {"screen": "summary", "items": 3}
    yield scene
    print("teardown: device released")


def test_summary_screen_approved(live_pause, device):
    decision = live_pause.checkpoint(task="Confirm the summary screen shows 3 items")
    assert decision.result is True, decision.reason


def test_checkout_total(device):
    total = device["items"] * 10
    assert total == 31, "the checkout total is wrong"


def test_device_still_online(device):
    answer = ask("Is the device still online? (yes/no)")
    assert answer == "yes"


def test_never_started():
    raise AssertionError("the run was aborted before this test: it never starts")
