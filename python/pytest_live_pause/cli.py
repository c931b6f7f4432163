"""``python -m pytest_live_pause.cli``: runs the ``pytest-live-pause``
command, as in 0.1.1 (there the CLI was this module; here it is the C
binary installed beside the interpreter, which this module executes in
its place: same arguments, output and exit codes).

Importing this module does not import pytest.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

PROG = "pytest-live-pause"
#: exit code when the binary cannot be found or run (the CLI's own
#: "error" code, as in its exit-code table)
EXIT_ERROR = 1


def binary() -> str | None:
    """The installed command: in this interpreter's scripts directory, else
    on PATH."""
    here = os.path.join(sysconfig.get_path("scripts"), PROG)
    if os.access(here, os.X_OK):
        return here
    beside = os.path.join(os.path.dirname(sys.executable), PROG)
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which(PROG)


def main(argv: list[str] | None = None) -> int:
    """Replace this process with the CLI (returns only on an error)."""
    args = sys.argv[1:] if argv is None else list(argv)
    path = binary()
    if path is None:
        sys.stderr.write(f"{PROG}: error: the {PROG} command is not installed beside "
                         f"{sys.executable} nor on PATH: reinstall pytest-live-pause\n")
        return EXIT_ERROR
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(path, [PROG, *args])
    except OSError as exc:
        sys.stderr.write(f"{PROG}: error: cannot run {path}: {exc.strerror}\n")
    return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
