"""The dashboard in a real browser: Playwright for Python (pinned by
scripts/bootstrap.sh) driving Debian's chromium, a real `serve` and real
pytest sessions. A failing test appears on the open page without a reload,
is resumed with a reason typed into the page, pytest finishes and the
reason is in its report; a checkpoint is aborted from the page; text from
a test is shown as text, never as HTML. With $LP_SCREENSHOTS=DIR the
dashboard is photographed there (docs/serve-*.png were made so).

Waits are Playwright's own bounded waits for an element or a text; nothing
asserts on timing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _paused import CHECKPOINT_AND_FAILURE, wait_decision
from _serve import serve  # noqa: F401 (the fixture)
from conftest import WAIT, read_pause

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MS = int(WAIT * 1000)

HOSTILE = "<img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>"


def _missing(msg: str):
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (run 'make bootstrap-dev')")
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed (run 'make bootstrap-dev')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> None:
    where = os.environ.get("LP_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name), full_page=True)


def open_dashboard(browser, srv, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(srv.info["url"])  # ?token= sets the cookie and redirects to /
    assert page.url == f"{srv.origin}/", page.url
    page.wait_for_selector("#status.live", timeout=MS)
    return page, errors


def test_failure_appears_live_and_is_resumed_with_a_typed_reason(serve, browser, live, pytester,
                                                                  pause_dir):
    srv = serve()
    page, errors = open_dashboard(browser, srv)
    assert page.locator("#empty").is_visible()
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    s = live("-s", "--pause-on-failure", "-k", "test_failure", "test_paused.py",
             env={"LP_FAILURE_TEXT": HOSTILE})
    # it appears on the open page (the event stream, no reload)
    item = page.locator("#pauses li", has_text="test_paused.py::test_failure")
    item.wait_for(timeout=MS)
    pid = item.get_attribute("data-pause-id")
    assert page.locator("#count").inner_text() == "(1)"
    item.locator("button").click()
    page.wait_for_selector("#f-failure:not([hidden])", timeout=MS)
    # the form of the pause's kind only
    assert page.locator("#f-failure").is_visible()
    assert not page.locator("#f-checkpoint").is_visible()
    # the failure text is data: shown as text, no element made from it
    failure = page.locator("#d-failure")
    assert HOSTILE in failure.inner_text()
    assert failure.locator("img, b").count() == 0
    assert page.title() != "pwned"
    shot(page, "serve-dashboard.png")
    reason = "typed in the page: device lost Wi-Fi <script>x</script>"
    page.fill("#failure-reason", reason)
    page.click("#resume-failure")
    page.wait_for_selector("#outcome.done", timeout=MS)
    assert "Resumed" in page.locator("#outcome").inner_text()
    rc, out = s.finish()
    assert reason in out, out
    # the list empties by the pause_ended event; the detail shows the verdict
    page.wait_for_selector("#empty:not([hidden])", timeout=MS)
    page.wait_for_selector("#runs tbody td.state-ended", timeout=MS)
    assert reason in page.locator("#d-fields").inner_text()
    assert read_pause(pause_dir, pid)["resolved_by"] == "http"
    assert errors == [], errors


def test_checkpoint_aborted_from_the_page_on_a_phone(serve, browser, live, pytester, pause_dir):
    srv = serve()
    page, errors = open_dashboard(browser, srv, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    s = live("-s", "-k", "test_checkpoint", "test_paused.py",
             env={"LP_TASK": "Approve the payment on the test phone"})
    item = page.locator("#pauses li", has_text="test_paused.py::test_checkpoint")
    item.wait_for(timeout=MS)
    pid = item.get_attribute("data-pause-id")
    item.locator("button").click()
    page.wait_for_selector("#f-checkpoint:not([hidden])", timeout=MS)
    assert not page.locator("#f-failure").is_visible()
    assert not page.locator("#d-failure").is_visible()
    assert page.locator("#d-task").inner_text() == "Approve the payment on the test phone"
    # nothing overflows the phone's width
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    shot(page, "serve-phone.png")
    page.click("#abort")
    page.wait_for_selector("#outcome.done", timeout=MS)
    assert "Aborted" in page.locator("#outcome").inner_text()
    s.finish()
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["resolved_by"]) == ("aborted", "http"), p
    assert errors == [], errors


def test_checkpoint_resumed_with_a_result_from_the_page(serve, browser, live, pytester, pause_dir):
    srv = serve()
    page, errors = open_dashboard(browser, srv)
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    s = live("-s", "-k", "test_checkpoint", "test_paused.py")
    item = page.locator("#pauses li", has_text="test_paused.py::test_checkpoint")
    item.wait_for(timeout=MS)
    pid = item.get_attribute("data-pause-id")
    item.locator("button").click()
    page.wait_for_selector("#f-checkpoint:not([hidden])", timeout=MS)
    # no result chosen: the page says so and sends nothing
    page.click("#resume-checkpoint")
    page.wait_for_selector("#outcome.error", timeout=MS)
    assert read_pause(pause_dir, pid)["status"] == "pending"
    page.check("#result-false")
    page.fill("#checkpoint-reason", "the banner is missing")
    page.click("#resume-checkpoint")
    page.wait_for_selector("#outcome.done", timeout=MS)
    d = wait_decision(s, pid)
    assert (d["outcome"], d["result"], d["reason"]) == ("resumed", False, "the banner is missing")
    s.finish()
    assert errors == [], errors
