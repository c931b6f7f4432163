"""Another plugin that registers our options (9.12): QAMule's old conftest
plugin (``-p pytest_plugins.pause_on_failure``), pytest-qamule or
qamule-pytest. pytest/argparse would stop with a traceback ("conflicting
option string") or a "could not load plugin" report; instead pytest stops
with one line naming the plugin and how to remove it (a UsageError: exit 4).

A plugin registered before ours is found when our options are added
(:func:`check_before`); one registered after (another installed plugin, a
conftest), when it adds one of our option strings: :func:`added` guards
the parser's ``addoption`` of every group for that. Pure pytest glue.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import pytest

#: the options of ours that another plugin may also register
OURS = (
    "--pause-on-failure", "--pause-timeout", "--pause-dir", "--pause-checkpoint-mock",
    "--pause-compat", "--pause-resume-signal", "--pause-result-dir",
)


def _how(module: str, path: str | None) -> str:
    """Which plugin it is (by its module and file), and how to remove it."""
    top = module.split(".", 1)[0]
    dists: list[str] = []
    eps: list[str] = []
    try:
        import importlib.metadata as md

        dists = [d for d in md.packages_distributions().get(top, [])
                 if d.replace("_", "-").lower() != "pytest-live-pause"]
        if dists:
            eps = [ep.name for ep in md.distribution(dists[0]).entry_points
                   if ep.group == "pytest11"]
    except Exception:  # noqa: BLE001 - only a better message is lost
        pass
    where = f" ({path})" if path else ""
    if dists:
        project = dists[0]
        off = f"-p no:{eps[0]}" if eps else "-p no:NAME"
        return (f"the installed plugin {project}{where} registers them too: uninstall it "
                f"(pip uninstall {project}) or disable it with {off}")
    if path and path.endswith("conftest.py"):
        return (f"the conftest {path} registers them too: remove its pytest_addoption "
                "of these options (or the pytest_plugins line that loads it)")
    what = "QAMule's old pause plugin" if "pause_on_failure" in module else "the plugin"
    return (f"{what} {module}{where} registers them too: remove '-p {module}' from "
            "addopts (or the command line, or conftest's pytest_plugins)")


def _fail(options: list[str], how: str) -> None:
    raise pytest.UsageError(
        f"pytest-live-pause: {', '.join(options)}: options of pytest-live-pause, and "
        f"{how}; pytest-live-pause replaces it (QAMule's pauses: --pause-compat=qamule)"
    )


def check_before(parser: pytest.Parser, pm: pytest.PytestPluginManager) -> None:
    """Before our options are added: one of them already registered means a
    plugin loaded before ours has them; find it by its source."""
    groups = [parser._anonymous, *parser._groups]  # noqa: SLF001 - no public view
    taken = sorted({n for g in groups for o in g.options for n in o.names() if n in OURS})
    if not taken:
        return
    for name, plugin in pm.list_name_plugin():
        path = getattr(plugin, "__file__", None)
        if not path or name.startswith("pytest_live_pause"):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                found = any(opt in f.read() for opt in taken)
        except OSError:
            continue
        if found:
            _fail(taken, _how(getattr(plugin, "__name__", name), path))
    _fail(taken, "another plugin registers them too: remove it or disable it with -p no:NAME")


def _guard(addoption: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(addoption)
    def guarded(*opts: str, **attrs: Any) -> Any:
        clash = [o for o in opts if o in OURS]
        if clash:
            caller = sys._getframe(1).f_globals  # noqa: SLF001 - the plugin adding it
            _fail(clash, _how(str(caller.get("__name__", "?")), caller.get("__file__")))
        return addoption(*opts, **attrs)

    return guarded


def added(parser: pytest.Parser) -> None:
    """Our options are in: from now on, another plugin adding one of our
    option strings (in any group) stops pytest with our one-line error."""
    getgroup = parser.getgroup

    @functools.wraps(getgroup)
    def guarded_getgroup(*args: Any, **kwargs: Any) -> Any:
        group = getgroup(*args, **kwargs)
        if "addoption" not in vars(group):
            group.addoption = _guard(group.addoption)  # type: ignore[method-assign]
        return group

    parser.getgroup = guarded_getgroup  # type: ignore[method-assign]
    parser.addoption = _guard(parser.addoption)  # type: ignore[method-assign]
    for group in parser._groups:  # noqa: SLF001 - groups made before ours
        if "addoption" not in vars(group):
            group.addoption = _guard(group.addoption)  # type: ignore[method-assign]
