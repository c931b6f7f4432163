"""The plugin's layout (issue 11.6): plugin.py is hooks, fixtures and
wiring (at most 400 lines); no product Python reads, writes or parses a
protocol file (the C runtime does: no json, no open(), no file reads or
writes in python/pytest_live_pause/); the options table drives both
``pytest --help`` and the ini keys, one row per option.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "pytest_live_pause"

#: methods that read, write or list files, whatever they are called on
FILE_CALLS = {
    "read_text", "read_bytes", "write_text", "write_bytes", "listdir", "scandir",
    "iterdir", "rglob", "unlink", "fdopen",
}
#: os.<name> and os.path.<name> calls that touch files
OS_CALLS = {
    "open", "rename", "replace", "remove", "stat", "lstat", "walk", "makedirs", "mkdir",
    "exists", "isfile", "isdir", "getsize", "getmtime",
}
#: (module, call) that may open a file, and why
ALLOWED = {
    # names the other plugin that registers our options by looking for
    # them in its source: a Python file, never a protocol file
    ("_clash.py", "open"),
    # eval/exec: io.StringIO captures the code's output (no file), and an
    # action's return value (the user's data) is handed to the runtime as
    # JSON text, which writes the answer file
    ("_eval.py", "import io"),
    ("_eval.py", "import json"),
    ("_eval.py", "dumps"),
}


def product_modules() -> list[Path]:
    mods = sorted(PACKAGE.glob("*.py"))
    assert len(mods) >= 8, mods
    return mods


def test_plugin_py_is_at_most_400_lines():
    lines = (PACKAGE / "plugin.py").read_text().count("\n")
    assert lines <= 400, f"plugin.py has {lines} lines"


@pytest.mark.parametrize("module", product_modules(), ids=lambda p: p.name)
def test_no_product_python_touches_a_protocol_file(module: Path):
    tree = ast.parse(module.read_text(), str(module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name in ("json", "io", "pickle")
                      and (module.name, f"import {a.name}") not in ALLOWED]
        elif isinstance(node, ast.ImportFrom) and node.module in ("json", "io", "pickle"):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            on = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if (name == "open" and not on) or name in FILE_CALLS or (
                on in ("os", "os.path") and name in OS_CALLS
            ) or (on == "shutil" and name != "which"):
                if (module.name, name) not in ALLOWED:
                    found.append(f"line {node.lineno}: {name}()")
    assert not found, f"{module.name} reads or writes files itself: {found}"


def test_the_checks_above_would_catch_a_file_read(tmp_path: Path):
    """The AST check sees the usual spellings (a test that cannot fail is
    no test)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nwith open('p') as f: json.load(f)\n"
                   "Path('x').read_text()\nos.path.exists('y')\n")
    with pytest.raises(AssertionError) as err:
        test_no_product_python_touches_a_protocol_file(bad)
    for what in ("import json", "open()", "read_text()", "exists()"):
        assert what in str(err.value)


def test_options_table_drives_help_and_ini(pytester: pytest.Pytester):
    from pytest_live_pause._options import OPTIONS

    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0
    out = result.stdout.str()
    group = re.search(r"^live-pause \(.*?\):\n(.*?)\n\n", out, re.M | re.S)
    assert group, out
    flags = set(re.findall(r"^  (--pause-[a-z-]+)", group.group(1), re.M))
    assert flags == {row.flag for row in OPTIONS}
    for row in OPTIONS:
        kind = "bool" if row.is_flag else "string"
        assert re.search(rf"^  {row.name} \({kind}\):", out, re.M), f"ini key {row.name} missing"
        assert row.help.split()[0] in " ".join(group.group(1).split())
