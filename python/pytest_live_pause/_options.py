"""pytest-live-pause's options: one table, :data:`OPTIONS`, one row per
option (flag, ini key, type, default, help), that drives both
``pytest_addoption`` (``pytest --help``, the ini keys) and the resolution
by precedence into :class:`Settings`.

Precedence everywhere: command line > ini key > default (the directory
also takes ``$PYTEST_LIVE_PAUSE_DIR`` between the two). A value that does
not parse is a one-line ``pytest.UsageError`` naming where it came from.
A new option is a new row here (and a field of :class:`Settings` when the
session needs it typed). Pure pytest glue; the plugin re-exports
:func:`pytest_addoption`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import _clash, _livepause
from pytest_live_pause import _qamule_defaults as qamule_defaults

if TYPE_CHECKING:
    from pytest_live_pause.qamule import QamuleSettings

DEFAULT_TIMEOUT = 300.0  # 0.1.1's
_MOCK_VALUES = {"true": True, "false": False, "none": None}
NOT_MOCKED = object()
_ENV = _livepause.ENV_PAUSE_DIR
_DEFAULT_DIR = "$TMPDIR/pytest-live-pause"
DEFAULT_MAX_SIZE = "64M"  # of one attachment (_attach)
DEFAULT_CAPTURE_TIMEOUT = 10.0  # of the capture hooks (_attach)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}

#: the marker that exempts a test from failure pauses (_control)
NO_PAUSE = "no_pause"
NO_PAUSE_HELP = (
    "no_pause: pytest-live-pause: never pause at this test's failures or "
    "errors (--pause-on-failure, --pause-on-error); its checkpoints still pause"
)


# ------------------------------------------------------------- parsers
# parse(text, source) -> value; source names where text came from
# ("--pause-timeout", "ini option pause_timeout") for the error.


def _parse_timeout(value: str, source: str) -> float:
    """The runtime's rule (lp_timeout_parse), applied at start."""
    try:
        return _livepause.parse_timeout(value, source)
    except _livepause.LivePauseError as exc:
        raise pytest.UsageError(str(exc)) from None


def _parse_mock(value: str, source: str) -> Any:
    key = value.strip().lower()
    if key not in _MOCK_VALUES:
        raise pytest.UsageError(f"{source} must be one of true, false, none, not {value!r}")
    return _MOCK_VALUES[key]


def _parse_text(value: str, source: str) -> str:
    return value


def _parse_max(value: str, source: str) -> int:
    """--pause-max: a whole number of failure pauses, 0 or more."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise pytest.UsageError(
            f"{source} must be a whole number of failure pauses (0 or more), not {value!r}"
        )
    return int(text)


def _parse_command(value: str, source: str) -> list[str]:
    """--pause-notify: words split as a POSIX shell would (no shell runs)."""
    import shlex

    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise pytest.UsageError(f"{source}: cannot split {value!r} into words: {exc}") from None
    if not argv:
        raise pytest.UsageError(f"{source} must name a command, not {value!r}")
    return argv


def _parse_size(value: str, source: str) -> int:
    """--pause-max-attachment-size: bytes, with an optional K, M or G suffix."""
    text = value.strip() or DEFAULT_MAX_SIZE
    digits, unit = (text[:-1], text[-1].upper()) if text[-1:].isalpha() else (text, "")
    if not digits.isdigit() or unit not in _UNITS or int(digits) < 1:
        raise pytest.UsageError(
            f"{source} must be a number of bytes >= 1 with an optional K, M or G suffix, "
            f"not {value!r}"
        )
    return int(digits) * _UNITS[unit]


def _parse_capture_timeout(value: str, source: str) -> float:
    """--pause-capture-timeout: seconds, above 0 and at most an hour."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise pytest.UsageError(f"{source} must be a number of seconds from 0 to 3600 "
                                f"(not 0), not {value!r}")
    return seconds


def _parse_bound(value: str, source: str) -> float:
    seconds = _parse_timeout(value, source)
    if not 0 < seconds < float("inf"):
        raise pytest.UsageError(f"{source} must be a number of seconds above 0, not {value!r}")
    return seconds


class Option:
    """One option: ``--<flag>`` on the command line, ini key ``name``. (A
    plain class: a NamedTuple or a dataclass is compiled at every start.)"""

    __slots__ = ("name", "metavar", "default", "parse", "help", "ini_help")

    def __init__(
        self,
        name: str,  #: dest and ini key, e.g. "pause_timeout"
        metavar: str | None,  #: None: a flag (store_true; ini type bool)
        default: Any,  #: the value when given nowhere
        parse: Callable[[str, str], Any],  #: text, source -> value (values only)
        help: str,  #: the command line's help
        ini_help: str,  #: the ini key's help
    ) -> None:
        self.name, self.metavar, self.default = name, metavar, default
        self.parse, self.help, self.ini_help = parse, help, ini_help

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_flag(self) -> bool:
        return self.metavar is None


OPTIONS: tuple[Option, ...] = (
    Option(
        "pause_on_failure", None, False, _parse_text,
        "When a test's call phase fails, pause before its teardown: print "
        "'PAUSED (failure): <nodeid>', the pause_id and the resume command, then "
        "wait for `pytest-live-pause resume <pause_id> [--failure-reason TEXT]` "
        "(the reason is added to the failure report and to --junitxml) or for "
        "--pause-timeout. Ctrl-C or SIGTERM aborts the pause. Precedence: "
        "command line > ini pause_on_failure > off (an ini true is turned off "
        "with -o pause_on_failure=false).",
        "Pause after a call-phase failure, before teardown (like "
        "--pause-on-failure, which takes precedence). Default false.",
    ),
    Option(
        "pause_timeout", "SECONDS", DEFAULT_TIMEOUT, _parse_timeout,
        "Seconds a pause (failure or checkpoint) waits for a resume "
        "command before it resumes by itself: a failure without a reason, a "
        "checkpoint with result None (outcome timed_out). A number of seconds "
        "from 0 to 1e9 (0: the deadline is now, the pause times out at once, "
        "as in 0.1.1), or inf to wait until resumed. checkpoint(timeout=...) "
        "overrides it per call. "
        f"Precedence: command line > ini pause_timeout > {DEFAULT_TIMEOUT:g} "
        f"({qamule_defaults.DEFAULT_TIMEOUT:g} in QAMule mode).",
        "Seconds a pause waits for a resume command, 0 to 1e9 (0: times "
        "out at once), or inf (waits until resumed) "
        f"(--pause-timeout takes precedence). Default {DEFAULT_TIMEOUT:g}.",
    ),
    Option(
        "pause_dir", "DIR", None, _parse_text,
        "Pause directory shared with the pytest-live-pause CLI (give it "
        "the same --pause-dir). Created with mode 0700; a symlink, a directory "
        "of another user or one writable by group/others is refused at start. "
        f"Precedence: command line > ${_ENV} > ini pause_dir (relative to the "
        f"ini file) > {_DEFAULT_DIR} (/tmp/pytest-live-pause without $TMPDIR, as "
        "Python's tempfile picks it; <that>-<uid> when it belongs to another "
        "user; left 0755 by 0.1.1, it is made 0700). When no pause option is given and the directory "
        "cannot be used, the plugin is off for the run (one warning line). "
        "Write --pause-dir=DIR: pytest takes a "
        "separate existing DIR for a test path when it picks the rootdir.",
        "Pause directory, relative to the ini file (--pause-dir and "
        f"${_ENV} take precedence). Default {_DEFAULT_DIR}.",
    ),
    Option(
        "pause_checkpoint_mock", "true|false|none", NOT_MOCKED, _parse_mock,
        "Do not pause at checkpoints: checkpoint() and "
        "live_pause.checkpoint() return at once Decision(result=<this value>, "
        "reason='Mock', outcome='mocked'), for smoke runs in CI. Unmocked, a "
        "checkpoint prints 'PAUSED (checkpoint): <nodeid>' and its task and "
        "waits for `pytest-live-pause resume <pause_id> --result "
        "true|false|none [--reason TEXT]`. Precedence: command line > ini "
        "pause_checkpoint_mock > not mocked.",
        "true|false|none: checkpoints return at once with this result "
        "(--pause-checkpoint-mock takes precedence). Default: not mocked.",
    ),
    Option(
        "pause_allow_eval", None, False, _parse_text,
        "Let `pytest-live-pause eval <pause_id> EXPR` and `exec <pause_id> "
        "CODE` run Python in a paused test (its frame, fixtures, item and "
        "request), on the paused process's main thread; recorded in run.json. "
        "Off by default (never turned on by an environment variable): without "
        "it they are refused (exit 20). Named actions (`do`) need no opt-in. "
        "Precedence: command line > ini pause_allow_eval > off.",
        "Let eval and exec run code in paused tests (like "
        "--pause-allow-eval, which takes precedence). Default false.",
    ),
    # read by _attach (Evidence)
    Option(
        "pause_max_attachment_size", "BYTES", _parse_size(DEFAULT_MAX_SIZE, ""), _parse_size,
        "Largest file a test may attach (live_pause.attach(), "
        "checkpoint(attachments=...), a pytest_live_pause_capture hook), in "
        "bytes with an optional K, M or G suffix (KiB, MiB, GiB); a larger one "
        "is refused (InvalidArgumentError; a capture hook's is reported). A "
        "pause holds at most 32 files and 256 MiB. Precedence: command line > "
        f"ini pause_max_attachment_size > {DEFAULT_MAX_SIZE}.",
        "Largest file a test may attach (--pause-max-attachment-size). "
        f"Default {DEFAULT_MAX_SIZE}.",
    ),
    Option(
        "pause_capture_timeout", "SECONDS", DEFAULT_CAPTURE_TIMEOUT, _parse_capture_timeout,
        "How long the pytest_live_pause_capture hooks may take before a "
        "pause is announced (they run in a thread of their own; one that "
        "hangs is reported and the pause happens without its files). "
        "Precedence: command line > ini pause_capture_timeout > "
        f"{DEFAULT_CAPTURE_TIMEOUT:g}.",
        "Seconds the capture hooks may take (--pause-capture-timeout). "
        f"Default {DEFAULT_CAPTURE_TIMEOUT:g}.",
    ),
    Option(
        "pause_on_error", None, False, _parse_text,
        "Also pause at an error in a test's setup or teardown (a fixture "
        "that raised), as a failure pause ('PAUSED (failure)', 'error in "
        "setup'): a setup error pauses before any teardown runs, a fixture's "
        "teardown error where it raised, before the remaining teardown. "
        "Works with or without --pause-on-failure. Precedence: command line "
        "> ini pause_on_error > off.",
        "Pause at setup and teardown errors too (like --pause-on-error, which "
        "takes precedence). Default false.",
    ),
    Option(
        "pause_max", "N", None, _parse_max,
        "At most N failure pauses (failures and --pause-on-error errors) in "
        "this run, counted across every xdist worker of the run; later "
        "failures do not pause (said once in the terminal). Checkpoints "
        "always pause. A whole number, 0 or more. Precedence: command line > "
        "ini pause_max > no limit.",
        "At most this many failure pauses per run (--pause-max takes "
        "precedence). Default: no limit.",
    ),
    Option(
        "pause_notify", "CMD", None, _parse_command,
        "Run CMD when a pause begins, for example to message someone: split "
        "into words as a POSIX shell would, run without a shell, with "
        "PYTEST_LIVE_PAUSE_ID, PYTEST_LIVE_PAUSE_KIND, "
        "PYTEST_LIVE_PAUSE_NODEID, PYTEST_LIVE_PAUSE_RUN_ID and "
        "PYTEST_LIVE_PAUSE_DIR in its environment, stdin and stdout on "
        "/dev/null. The pause never waits for it; it is killed after "
        "--pause-notify-timeout; a command that cannot be run, fails or "
        "is killed is reported in one terminal line. Precedence: command "
        "line > ini pause_notify > none.",
        "Command run when a pause begins (--pause-notify takes precedence). "
        "Default: none.",
    ),
    Option(
        "pause_notify_timeout", "SECONDS", 10.0, _parse_bound,
        "Seconds a --pause-notify command may run before it is killed "
        "(above 0). Precedence: command line > ini pause_notify_timeout > 10.",
        "Seconds a --pause-notify command may run (--pause-notify-timeout "
        "takes precedence). Default 10.",
    ),
    Option(
        "pause_compat", "qamule|none", None, _parse_text,
        "qamule: QAMule mode, for projects that drop QAMule's conftest "
        "pause plugin. Every pause also prints QAMule's block and its "
        "QAMULE_PAUSE_EVENT line, is resumed by --pause-resume-signal with an "
        "optional JSON result file (or by `pytest-live-pause resume`, "
        "whichever comes first), prints QAMULE_PAUSE_RESUME/_WARNING/_RESULT, "
        "and tests get QAMule's agent_checkpoint fixture. Precedence: command "
        "line > ini pause_compat > none.",
        "qamule: QAMule mode (--pause-compat takes precedence). Default: none.",
    ),
    Option(
        "pause_resume_signal", "NAME", None, _parse_text,
        "QAMule mode: the signal that resumes a pause (`kill -NAME "
        "<pid>`); an unknown name is a usage error. Precedence: command line "
        f"> ini pause_resume_signal > {qamule_defaults.DEFAULT_SIGNAL}.",
        "QAMule mode: the resume signal (--pause-resume-signal takes "
        f"precedence). Default {qamule_defaults.DEFAULT_SIGNAL}.",
    ),
    Option(
        "pause_result_dir", "DIR", None, _parse_text,
        "QAMule mode: where an agent writes a pause's JSON result "
        "(<DIR>/<request_id>.json, created 0700 if missing). Precedence: "
        "command line > ini pause_result_dir (relative to the ini file) > "
        "<system temp>/qamule-pauses (Python's tempfile.gettempdir(), not "
        "looked up at every start for this help).",
        "QAMule mode: the result directory, relative to the ini file "
        "(--pause-result-dir takes precedence). Default <system "
        "temp>/qamule-pauses.",
    ),
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _clash.check_before(parser, pluginmanager)
    group = parser.getgroup(
        "live-pause",
        "live-pause (pause a live test before teardown or at checkpoint(), "
        "resume the same process with `pytest-live-pause resume <pause_id>`; "
        "the run_id printed at start feeds `pytest-live-pause watch --run-id "
        "<run_id>`)",
    )
    for row in OPTIONS:
        if row.is_flag:
            group.addoption(
                row.flag, action="store_true", default=None, dest=row.name, help=row.help
            )
        else:
            group.addoption(
                row.flag, action="store", default=None, dest=row.name,
                metavar=row.metavar, help=row.help,
            )
    for row in OPTIONS:
        if row.is_flag:
            parser.addini(row.name, type="bool", default=False, help=row.ini_help)
        else:
            parser.addini(row.name, type="string", default="", help=row.ini_help)
    _clash.added(parser)


class Settings:
    """The options of a session, resolved by their precedence (read only
    by convention; a plain class, as Option)."""

    __slots__ = ("pause_on_failure", "timeout", "pause_dir", "mock", "qamule", "values")

    def __init__(
        self,
        pause_on_failure: bool,
        timeout: float,
        pause_dir: str,
        mock: Any,  # True, False, None, or NOT_MOCKED
        qamule: QamuleSettings | None = None,  # set in QAMule mode
        values: dict[str, Any] | None = None,
    ) -> None:
        self.pause_on_failure, self.timeout, self.pause_dir = pause_on_failure, timeout, pause_dir
        self.mock, self.qamule = mock, qamule
        #: every option of the table by its name, resolved (rows without a
        #: field of their own are read from here)
        self.values: dict[str, Any] = {} if values is None else values


def raw(config: pytest.Config, name: str) -> tuple[Any, str]:
    """An option's text (a flag's bool) by its precedence (command line >
    ini) and where it came from, for messages; (None, "") when given
    nowhere (an ini flag set false counts as given)."""
    cli = config.getoption(name)
    if cli is not None:
        return cli, "--" + name.replace("_", "-")
    ini = config.getini(name)
    if isinstance(ini, bool):
        return (ini, f"ini option {name}") if ini else (None, "")
    text = str(ini).strip()
    return (text, f"ini option {name}") if text else (None, "")


def _value(config: pytest.Config, row: Option, default: Any = None) -> Any:
    """A row's value: parsed from the command line or the ini key, else
    its default (or `default`, when given)."""
    text, source = raw(config, row.name)
    if text is None:
        return row.default if default is None else default
    if row.is_flag:
        return bool(text)
    return row.parse(text, source)


def _path(config: pytest.Config, text: str, source: str) -> str:
    """A directory option: relative to the ini file when it came from there."""
    if not text.strip():
        raise pytest.UsageError(f"{source} must not be empty")
    if source.startswith("--"):
        return os.path.abspath(os.path.expanduser(text))
    base = config.inipath.parent if config.inipath else config.rootpath
    return os.path.abspath(os.path.join(str(base), os.path.expanduser(text)))


def _resolve_pause_dir(config: pytest.Config) -> str:
    cli: str | None = config.getoption("pause_dir")
    if cli is not None:
        return _path(config, cli, "--pause-dir")
    env = os.environ.get(_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    ini, source = raw(config, "pause_dir")
    if ini is not None:
        return _path(config, ini, source)
    return _livepause.default_pause_dir(None)


def _read_qamule(config: pytest.Config) -> QamuleSettings | None:
    """The QAMule options: None unless --pause-compat=qamule (or the ini)."""
    compat, compat_src = raw(config, "pause_compat")
    mode = (compat or "").strip().lower()
    if mode not in ("", "none", qamule_defaults.MODE):
        raise pytest.UsageError(
            f"{compat_src} must be {qamule_defaults.MODE} or none, not {compat!r}"
        )
    sig_name, sig_src = raw(config, "pause_resume_signal")
    result_dir, dir_src = raw(config, "pause_result_dir")
    if mode != qamule_defaults.MODE:
        given = sig_src or dir_src
        if given:
            raise pytest.UsageError(
                f"{given} is an option of QAMule mode: add --pause-compat=qamule "
                "(or the ini option pause_compat = qamule)"
            )
        return None
    from pytest_live_pause import qamule

    try:
        sig = qamule.parse_signal(sig_name if sig_name is not None else qamule.DEFAULT_SIGNAL)
    except qamule.SignalNameError as exc:
        raise pytest.UsageError(f"{sig_src}: {exc}") from None
    path = (
        qamule_defaults.default_result_dir()
        if result_dir is None
        else _path(config, result_dir, dir_src)
    )
    return qamule.QamuleSettings(signal=sig, result_dir=os.path.abspath(path))


_ROWS = {row.name: row for row in OPTIONS}


def read_settings(config: pytest.Config) -> Settings:
    """Resolve every option: command line > environment > ini > default."""
    qamule_settings = _read_qamule(config)
    values = {
        row.name: _value(config, row)
        for row in OPTIONS
        if row.name not in ("pause_dir", "pause_compat", "pause_resume_signal",
                            "pause_result_dir", "pause_timeout")
    }
    default_timeout = (
        qamule_defaults.DEFAULT_TIMEOUT if qamule_settings is not None else DEFAULT_TIMEOUT
    )
    values["pause_timeout"] = _value(config, _ROWS["pause_timeout"], default_timeout)
    values["pause_dir"] = _resolve_pause_dir(config)
    return Settings(
        pause_on_failure=values["pause_on_failure"],
        timeout=values["pause_timeout"],
        pause_dir=values["pause_dir"],
        mock=values["pause_checkpoint_mock"],
        qamule=qamule_settings,
        values=values,
    )


def option_given(config: pytest.Config) -> str | None:
    """The first pause option given (command line, ini key or
    $PYTEST_LIVE_PAUSE_DIR), None if none: without one, a pause directory
    that cannot be used turns the plugin off instead of failing the run."""
    for row in OPTIONS:
        if config.getoption(row.name) is not None:
            return row.flag
        ini = config.getini(row.name)
        if ini not in ("", False, None) and str(ini).strip():
            return f"ini option {row.name}"
    if os.environ.get(_ENV):
        return f"${_ENV}"
    return None
