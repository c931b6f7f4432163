"""Every `pytest-live-pause` subcommand runs leak-free and error-free under
`valgrind --leak-check=full`, against a real paused pytest session.

Skipped (with the reason) where valgrind is not installed; `make test`
installs it.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import CLI, WAIT

VALGRIND = shutil.which("valgrind")

pytestmark = pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed")

SUITE = """
def test_check(live_pause):
    d = live_pause.checkpoint(task="look at the screen")
    print("DECISION", d.result, d.reason)
"""


def valgrind(cli, *args: str) -> subprocess.CompletedProcess:
    cmd = [VALGRIND, "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
           "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99",
           CLI, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=cli.env, timeout=WAIT * 2)


def test_every_subcommand_is_clean_under_valgrind(pytester, live, cli):
    pytester.makepyfile(test_vg=SUITE)
    session = live("-s", "--pause-timeout=300")
    run_id = session.run_id
    pause = cli.watch(run_id)
    pid = pause["pause_id"]
    expected = {
        ("--version",): 0,
        ("--help",): 0,
        ("ls",): 0,
        ("ls", "-a", "--json"): 0,
        ("show", pid): 0,
        ("show", pid, "--json"): 0,
        ("watch", "--run-id", run_id, "--timeout", "5"): 0,
        ("resume", pid, "--failure-reason", "wrong kind"): 2,
        ("resume", "../escape"): 2,
        ("show", "nope.00000000"): 3,
        ("resume", pid, "--result", "true", "--reason", "ok"): 0,
        ("resume", pid, "--result", "true"): 5,
        ("watch", "--run-id", run_id, "--timeout", "0.2"): None,  # 9 or 10
    }
    for args, code in expected.items():
        res = valgrind(cli, *args)
        assert res.returncode != 99, f"valgrind found errors in {args}:\n{res.stderr}"
        if code is not None:
            assert res.returncode == code, (args, res.returncode, res.stdout, res.stderr)
        else:
            assert res.returncode in (9, 10), (args, res.returncode, res.stderr)
    rc, out = session.finish()
    assert rc == 0, out
    assert "DECISION True ok" in out
