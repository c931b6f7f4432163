"""schemathesis against server/openapi.json and a running `serve`, bounded
(a few examples per operation) and seeded: every response conforms to the
document (status codes, content types, bodies, headers), no 5xx, and a
method the document does not list gets 405 with Allow. A paused
checkpoint gives the list operations a real pause to return. The event
stream is left out (it never ends); test_serve_api.py covers it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _paused import CHECKPOINT_AND_FAILURE, wait_paused
from _serve import serve  # noqa: F401 (the fixture)
from conftest import WAIT

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "server" / "openapi.json"
ST = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")


def test_served_document_is_the_repository_one(serve):
    s = serve()
    assert s.get("/openapi.json").json() == json.loads(DOC.read_text())


@pytest.mark.skipif(not Path(ST).exists(), reason="schemathesis is installed by make bootstrap-dev")
def test_schemathesis_conformance(serve, live, pytester, cli, tmp_path):
    srv = serve()
    pytester.makepyfile(test_paused=CHECKPOINT_AND_FAILURE)
    s = live("-s", "-k", "test_checkpoint", "test_paused.py")
    wait_paused(s, cli, kind="checkpoint")
    r = subprocess.run(
        [ST, "run", str(DOC), "--url", f"http://127.0.0.1:{srv.port}",
         "-H", f"Authorization: Bearer {srv.token}",
         "--exclude-path", "/api/events",
         "--checks", "all", "--exclude-checks", "ignored_auth,positive_data_acceptance",
         "--mode", "all", "--phases", "examples,coverage,fuzzing",
         "--max-examples", "15", "--seed", "20261201", "--workers", "1",
         "--request-timeout", "20", "--report-dir", str(tmp_path / "st")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Test cases:" in r.stdout, r.stdout[-3000:]  # it did test something
