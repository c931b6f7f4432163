"""The dashboard in a real browser: Playwright for Python (pinned by
scripts/bootstrap.sh) driving Debian's chromium, a real `serve` and real
pytest sessions. A failing test appears on the open page without a reload,
is resumed with a reason typed into the page, pytest finishes and the
reason is in its report; a checkpoint is aborted from the page with a
reason, which reaches pytest's output; a checkpoint with choices shows
its attachments (the image loaded in an <img>, the log as a download
link) and is answered with one of its choices; text from a test is shown
as text, never as HTML. With $LP_SCREENSHOTS=DIR the dashboard is
photographed there (docs/serve-*.png were made so).

Waits are Playwright's own bounded waits for an element or a text; nothing
asserts on timing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _paused import CHECKPOINT_AND_FAILURE, wait_decision
from _serve import png, serve  # noqa: F401 (the fixture)
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


def test_checkpoint_aborted_with_a_reason_from_the_page_on_a_phone(serve, browser, live, pytester,
                                                                   pause_dir):
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
    assert not page.locator("#f-value").is_visible()
    assert not page.locator("#d-failure").is_visible()
    assert page.locator("#d-task").inner_text() == "Approve the payment on the test phone"
    reason = "the test phone <lost> its SIM"
    page.fill("#abort-reason", reason)
    # nothing overflows the phone's width
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    shot(page, "serve-phone.png")
    page.click("#abort")
    page.wait_for_selector("#outcome.done", timeout=MS)
    assert "Aborted" in page.locator("#outcome").inner_text()
    rc, out = s.finish()
    assert rc == 2, out
    assert f"live-pause: run aborted at test_paused.py::test_checkpoint: {reason}" in out, out
    p = read_pause(pause_dir, pid)
    assert (p["status"], p["resolved_by"], p["reason"]) == ("aborted", "http", reason), p
    # the detail shows the ending and its reason
    page.wait_for_selector("#f-abort[hidden]", state="attached", timeout=MS)
    assert reason in page.locator("#d-fields").inner_text()
    assert errors == [], errors


EVIDENCE = '''
import json
from pytest_live_pause import checkpoint

def test_screen(live_pause):
    live_pause.attach("screen.png")
    live_pause.attach("logcat.txt")
    d = checkpoint("Does the login screen look right?", choices=["pass", "retry", "skip"],
                   timeout=float("inf"))
    print("DECISION " + json.dumps(dict(pause_id=d.pause_id, outcome=d.outcome,
                                        value=d.value, reason=d.reason)), flush=True)
'''


def test_attachments_shown_and_a_choice_answered_from_the_page(serve, browser, live, pytester,
                                                                pause_dir):
    srv = serve()
    page, errors = open_dashboard(browser, srv, viewport={"width": 1280, "height": 900})
    pytester.path.joinpath("screen.png").write_bytes(png(160, 96))
    pytester.path.joinpath("logcat.txt").write_text("I/ActivityManager: Start proc\n")
    pytester.makepyfile(test_evidence=EVIDENCE)
    s = live("-s", "test_evidence.py")
    item = page.locator("#pauses li", has_text="test_evidence.py::test_screen")
    item.wait_for(timeout=MS)
    pid = item.get_attribute("data-pause-id")
    item.locator("button").click()
    page.wait_for_selector("#f-value:not([hidden])", timeout=MS)
    # the choices as radio buttons, no free value field, no result form
    assert page.locator("#choices input[name=choice]").evaluate_all(
        "l => l.map(e => e.value)") == ["pass", "retry", "skip"]
    assert not page.locator("#value-text").is_visible()
    assert not page.locator("#f-checkpoint").is_visible()
    assert "test_evidence.py:" in page.locator("#d-fields").inner_text()  # the location
    # the image: an <img> from the attachment URL, decoded by the browser
    img = page.locator("#d-attachments img")
    img.wait_for(timeout=MS)
    page.wait_for_function("document.querySelector('#d-attachments img').complete", timeout=MS)
    assert img.evaluate("i => i.naturalWidth") == 160
    assert img.get_attribute("src").startswith(f"/api/pauses/{pid}/attachments/")
    # the log: a download link, no <img>
    link = page.locator("#d-attachments a[download]")
    assert link.inner_text() == "logcat.txt"
    r = page.request.get(srv.origin + link.get_attribute("href"))
    assert r.status == 200 and r.headers["content-disposition"].startswith("attachment;")
    assert r.body() == b"I/ActivityManager: Start proc\n"
    # no choice picked: the page says so and sends nothing
    page.click("#resume-value")
    page.wait_for_selector("#outcome.error", timeout=MS)
    assert read_pause(pause_dir, pid)["status"] == "pending"
    page.check("#choices input[value=retry]")
    page.fill("#value-reason", "the banner flickered")
    shot(page, "serve-dashboard.png")
    page.click("#resume-value")
    page.wait_for_selector("#outcome.done", timeout=MS)
    d = wait_decision(s, pid)
    assert (d["outcome"], d["value"], d["reason"]) == ("resumed", "retry", "the banner flickered")
    rc, out = s.finish()
    assert rc == 0, out
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
