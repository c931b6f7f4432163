"""Typed answers: a checkpoint's ``choices``, ``ask()``'s question, and the
``location`` (file:line) every checkpoint and question records.

The runtime checks the choices, writes them with the question and the
location into the pause file, refuses a value outside them and hands the
value given to the test; this module only checks the Python types of the
arguments and prints the lines of the PAUSED block. Pure pytest glue.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pytest_live_pause import _livepause


def choices_arg(choices: Any) -> list[str] | None:
    """checkpoint()'s choices as the runtime takes them (it checks the
    rest: count, empty, duplicates, size)."""
    if choices is None:
        return None
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
        raise TypeError(
            f"choices must be a list of str such as ['pass', 'retry', 'skip'], not {type(choices).__name__}"
        )
    for c in choices:
        if not isinstance(c, str):
            raise TypeError(f"choices must hold str, not {type(c).__name__}")
    return [_livepause.storable_text(c) for c in choices]


def question_arg(question: Any) -> str:
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, not {type(question).__name__}")
    if not question.strip():
        raise ValueError("ask() needs a question: it must not be empty")
    return _livepause.storable_text(question)


def location(rootdir: os.PathLike[str] | str, raw: str | None) -> str | None:
    """"file:line" of the caller, the file relative to pytest's rootdir
    when it is under it (as pytest's node ids)."""
    if raw is None:
        return None
    path, sep, line = raw.rpartition(":")
    if not sep:
        return _livepause.storable_text(raw)
    try:
        rel = os.path.relpath(path, rootdir)
    except ValueError:
        rel = path
    if not rel.startswith(".."):
        path = rel
    return _livepause.storable_text(f"{path}:{line}")


def block_lines(kind: str, task: str | None, choices: Sequence[str] | None,
                where: str | None) -> list[str]:
    """The PAUSED block's lines of a checkpoint or question (terminal-safe):
    its task or question, its choices and where it was called from."""
    if kind == "failure":
        return []
    safe = _livepause.terminal_safe
    lines = [f"{'question' if kind == 'question' else 'task'}: {safe(task or '')}"]
    if choices:
        lines.append("choices: " + ", ".join(safe(c) for c in choices))
    if where:
        lines.append(f"location: {safe(where)}")
    return lines
