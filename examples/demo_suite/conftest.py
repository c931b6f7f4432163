"""A named action of the demo suite: `pytest-live-pause do <pause_id> screen`
reads the paused test's device fixture (no --pause-allow-eval needed)."""
import pytest_live_pause


@pytest_live_pause.action("screen")
def screen(item, **kwargs):
    device = item.funcargs.get("device", {})
    return {"screen": device.get("screen"), "items": device.get("items")}
