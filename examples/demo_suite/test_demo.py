"""A small suite that pauses twice: at a checkpoint and at a failure.

`make demo` runs it and resumes both pauses from a second process through
the `pytest-live-pause` command, as a person or an agent would.
"""
import pytest


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
