"""The options every subcommand shares (issue 11.5): --pause-dir, --json and
-h/--help come from one table in cli/options.c, merged into each command's
getopt_long table and handled there. So they behave the same in every
command, which this checks as a class: help, the empty --pause-dir, an
option that takes no value, and the order in which they may be given.
Also: the CLI's sources are clients of livepause.h only, and the resume
hint it prints is the runtime's own (lp_resume_hint), the pause file's.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import Cli

ROOT = Path(__file__).resolve().parents[2]

#: every subcommand that parses options, with arguments that make it valid
#: apart from the option under test (serve is the server's own program)
COMMANDS = {
    "ls": [],
    "runs": [],
    "show": ["r1.p1"],
    "resume": ["r1.p1"],
    "abort": ["r1.p1"],
    "attachment": ["r1.p1", "screen.png", "-o", "/dev/null"],
    "eval": ["r1.p1", "1 + 1"],
    "exec": ["r1.p1", "x = 1"],
    "do": ["r1.p1", "reboot"],
    "watch": ["--run-id", "r1"],
    "gc": ["--older-than", "7d"],
}


#: the commands without --json (they print data, not records)
NO_JSON = {"attachment"}


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_lists_the_common_options_after_the_commands_own(cli: Cli, cmd: str) -> None:
    res = cli(cmd, "--help")
    assert res.returncode == 0 and res.stderr == "", str(res)
    opts = res.stdout.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    flags = re.findall(r"^  (?:-\w, |    )(--[\w-]+)", opts, re.M)
    common = ["--pause-dir", "--help"] if cmd in NO_JSON else ["--json", "--pause-dir", "--help"]
    assert flags[-len(common):] == common, opts
    assert flags.count("--json") == (cmd not in NO_JSON)
    assert "  -h, --help" in opts
    if cmd not in NO_JSON:
        # --json says what this command prints, not a generic line
        json_help = opts.split("--json", 1)[1].split("--pause-dir", 1)[0]
        assert "JSON" in json_help and len(json_help.strip()) > 20


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_wins_wherever_it_is_given(cli: Cli, cmd: str) -> None:
    # before a bad option's turn comes, and without the required ones
    for args in (["-h"], ["--pause-dir=/nowhere", "--help"], ["--pause-dir", "/nowhere", "-h", "extra"]):
        res = cli(cmd, *args)
        assert res.returncode == 0, str(res)
        assert res.stdout.startswith(f"usage: pytest-live-pause {cmd}")


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("spelling", [["--pause-dir", ""], ["--pause-dir="]])
def test_an_empty_pause_dir_is_one_usage_error(cli: Cli, cmd: str, spelling: list[str]) -> None:
    res = cli(cmd, *COMMANDS[cmd], *spelling)
    assert res.returncode == 2, str(res)
    assert res.stderr == (f"pytest-live-pause {cmd}: error: --pause-dir must not be empty "
                          f"(see 'pytest-live-pause {cmd} --help')\n")
    assert res.stdout == ""


@pytest.mark.parametrize("cmd", COMMANDS)
def test_json_takes_no_value_and_pause_dir_needs_one(cli: Cli, cmd: str) -> None:
    res = cli(cmd, *COMMANDS[cmd], "--json=yes")
    want = ("unknown or ambiguous option '--json=yes'" if cmd in NO_JSON
            else "option '--json=yes' takes no value")
    assert res.returncode == 2 and want in res.stderr, str(res)
    res = cli(cmd, *COMMANDS[cmd], "--pause-dir")
    assert res.returncode == 2 and "option '--pause-dir' needs a value" in res.stderr, str(res)


@pytest.mark.parametrize("cmd", ["ls", "runs"])
def test_the_common_options_reach_the_command(tmp_path: Path, cmd: str) -> None:
    """--pause-dir names the directory read (not $PYTEST_LIVE_PAUSE_DIR),
    and --json switches the output, given in any order."""
    elsewhere = tmp_path / "elsewhere"
    cli = Cli(tmp_path / "env-dir")
    res = cli.tty(cmd, "--pause-dir", str(elsewhere))  # a terminal: "no ... in <dir>"
    assert res.returncode == 0 and str(elsewhere) in res.stdout, str(res)
    for args in (["--json", "--pause-dir", str(elsewhere)],
                 [f"--pause-dir={elsewhere}", "--json"]):
        res = cli(cmd, *args)
        assert res.returncode == 0 and res.stdout == "", str(res)  # JSON: nothing when none


def test_cli_sources_include_only_the_public_header() -> None:
    """The CLI is a client of livepause.h: no jansson, nothing of lib/."""
    sources = sorted((ROOT / "cli").glob("*.[ch]"))
    assert len(sources) > 5
    for src in sources:
        includes = re.findall(r'^\s*#\s*include\s*([<"][^>"]+[>"])', src.read_text(), re.M)
        ours = [i for i in includes if i.startswith('"')]
        assert set(ours) <= {'"cli.h"', '"livepause.h"'}, (src.name, ours)
        assert not [i for i in includes if "jansson" in i], src.name


def test_show_and_watch_print_the_pause_files_resume_hint(cli: Cli, live, pytester) -> None:
    """The hint printed by the CLI is the one the runtime wrote into the
    pause file (one function, lp_resume_hint), for a directory named by
    $PYTEST_LIVE_PAUSE_DIR (no --pause-dir in the hint) and by --pause-dir
    spelled another way (the same directory: still none)."""
    pytester.makepyfile(test_h="from pytest_live_pause import checkpoint\n"
                               "def test_h():\n    checkpoint('look')\n")
    session = live("-q", "test_h.py")
    pause = cli.watch(session.run_id)
    recorded = pause["resume_command"]
    assert "--pause-dir" not in recorded  # the env's directory is the default
    shown = cli("show", pause["pause_id"])
    assert f"resume: {recorded}" in shown.stdout.splitlines(), str(shown)
    respelled = str(cli.pause_dir).replace("/", "//") + "/."
    shown = cli("show", pause["pause_id"], "--pause-dir", respelled)
    assert f"resume: {recorded}" in shown.stdout.splitlines(), str(shown)
    watched = cli("watch", "--run-id", session.run_id, "--timeout", "60")
    assert f"resume: {recorded}" in watched.stdout.splitlines(), str(watched)
    # another directory than the resumer's default: the hint names it
    other = cli("show", pause["pause_id"], "--pause-dir", respelled,
                env={k: v for k, v in cli.env.items() if k != "PYTEST_LIVE_PAUSE_DIR"})
    assert f"--pause-dir {cli.pause_dir}" in other.stdout, str(other)
    assert cli("resume", pause["pause_id"], "--result", "true").returncode == 0
    rc, out = session.finish()
    assert rc == 0, out
