"""Black box: the test a checkpoint belongs to is the test being run, from
its setup to the hooks after its last report: in the test body, in
fixtures' setup and teardown (of every scope), in the report and
logfinish hooks, and in each xdist worker; outside any test it is none.

Each checkpoint is mocked (its event records the nodeid the plugin gave
it) and made without PYTEST_CURRENT_TEST, so that only the plugin's own
record of the running test can name it.
"""
from __future__ import annotations

import pytest

from conftest import read_events

CONFTEST = '''
import os

from pytest_live_pause import checkpoint


def hidden(task):
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        checkpoint(task)
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        hidden("teardown report")


def pytest_runtest_logfinish(nodeid):
    hidden("logfinish")


def pytest_sessionfinish(session):
    hidden("session finish")
'''

SCENES = '''
import pytest

from conftest import hidden


@pytest.fixture(scope="module")
def module_scene():
    hidden("module setup")
    yield
    hidden("module teardown")


@pytest.fixture
def scene(module_scene):
    hidden("setup")
    yield
    hidden("teardown")


def test_one(scene):
    hidden("body")


def test_two(scene):
    hidden("body")
'''


def expected(module: str) -> list[tuple[str, str]]:
    one, two = f"{module}::test_one", f"{module}::test_two"
    return [
        (one, "module setup"), (one, "setup"), (one, "body"), (one, "teardown"),
        (one, "teardown report"), (one, "logfinish"),
        (two, "setup"), (two, "body"), (two, "teardown"), (two, "module teardown"),
        (two, "teardown report"), (two, "logfinish"),
    ]


def run(pytester: pytest.Pytester, pause_dir, *args: str) -> tuple[str, list[dict]]:
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pause-checkpoint-mock", "true",
        f"--pause-dir={pause_dir}", *args, timeout=120)
    out = res.stdout.str()
    assert res.ret == 0, out
    (run_id,) = [line.split("=", 1)[1] for line in out.splitlines()
                 if line.startswith("pytest-live-pause: run_id=")]
    mocked = [e for e in read_events(pause_dir, run_id) if e["event"] == "checkpoint_mocked"]
    return out, mocked


def test_checkpoints_name_the_running_test(pytester: pytest.Pytester, pause_dir) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_scenes=SCENES)
    out, mocked = run(pytester, pause_dir)
    assert "2 passed" in out, out
    assert [(e["nodeid"], e["task"]) for e in mocked] == [
        *expected("test_scenes.py"), ("<no test>", "session finish")]


def test_checkpoints_name_the_running_test_in_each_worker(pytester: pytest.Pytester,
                                                          pause_dir) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=SCENES, test_b=SCENES)
    out, mocked = run(pytester, pause_dir, "-n", "2", "--dist", "loadfile")
    assert "4 passed" in out, out
    by_worker: dict[str, list[tuple[str, str]]] = {}
    for e in mocked:
        by_worker.setdefault(e.get("worker_id") or "controller", []).append(
            (e["nodeid"], e["task"]))
    # the controller runs no test: its hooks for the workers' reports are
    # outside any
    controller = by_worker.pop("controller")
    assert set(controller) == {("<no test>", "teardown report"), ("<no test>", "logfinish"),
                               ("<no test>", "session finish")}
    assert sorted(by_worker.values()) == [
        [*expected("test_a.py"), ("<no test>", "session finish")],
        [*expected("test_b.py"), ("<no test>", "session finish")],
    ]
