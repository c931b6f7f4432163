"""pytest-live-pause's options: their definitions (``pytest --help``, the ini
keys) and their resolution by precedence into :class:`Settings`.

Pure pytest glue, kept out of :mod:`pytest_live_pause.plugin` so that it
stays small; the plugin re-exports :func:`pytest_addoption`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_live_pause import _attach, _clash, _eval, _livepause
from pytest_live_pause import _qamule_defaults as qamule_defaults

if TYPE_CHECKING:
    from pytest_live_pause.qamule import QamuleSettings

DEFAULT_TIMEOUT = 300.0  # 0.1.1's
_MOCK_VALUES = {"true": True, "false": False, "none": None}
NOT_MOCKED = object()


def _qamule() -> Any:
    from pytest_live_pause import qamule

    return qamule


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _clash.check_before(parser, pluginmanager)
    env = _livepause.ENV_PAUSE_DIR
    default_dir = "$TMPDIR/pytest-live-pause"
    group = parser.getgroup(
        "live-pause",
        "live-pause (pause a live test before teardown or at checkpoint(), "
        "resume the same process with `pytest-live-pause resume <pause_id>`; "
        "the run_id printed at start feeds `pytest-live-pause watch --run-id "
        "<run_id>`)",
    )
    group.addoption(
        "--pause-on-failure",
        action="store_true",
        default=None,
        dest="pause_on_failure",
        help="When a test's call phase fails, pause before its teardown: print "
        "'PAUSED (failure): <nodeid>', the pause_id and the resume command, then "
        "wait for `pytest-live-pause resume <pause_id> [--failure-reason TEXT]` "
        "(the reason is added to the failure report and to --junitxml) or for "
        "--pause-timeout. Ctrl-C or SIGTERM aborts the pause. Precedence: "
        "command line > ini pause_on_failure > off (an ini true is turned off "
        "with -o pause_on_failure=false).",
    )
    group.addoption(
        "--pause-timeout",
        action="store",
        default=None,
        dest="pause_timeout",
        metavar="SECONDS",
        help="Seconds a pause (failure or checkpoint) waits for a resume "
        "command before it resumes by itself: a failure without a reason, a "
        "checkpoint with result None (outcome timed_out). A number of seconds "
        "from 0 to 1e9 (0: the deadline is now, the pause times out at once, "
        "as in 0.1.1), or inf to wait until resumed. checkpoint(timeout=...) "
        "overrides it per call. "
        f"Precedence: command line > ini pause_timeout > {DEFAULT_TIMEOUT:g} "
        f"({qamule_defaults.DEFAULT_TIMEOUT:g} in QAMule mode).",
    )
    group.addoption(
        "--pause-dir",
        action="store",
        default=None,
        dest="pause_dir",
        metavar="DIR",
        help="Pause directory shared with the pytest-live-pause CLI (give it "
        "the same --pause-dir). Created with mode 0700; a symlink, a directory "
        "of another user or one writable by group/others is refused at start. "
        f"Precedence: command line > ${env} > ini pause_dir (relative to the "
        f"ini file) > {default_dir} (/tmp/pytest-live-pause without $TMPDIR, as "
        "Python's tempfile picks it; <that>-<uid> when it belongs to another "
        "user; left 0755 by 0.1.1, it is made 0700). When no pause option is given and the directory "
        "cannot be used, the plugin is off for the run (one warning line). "
        "Write --pause-dir=DIR: pytest takes a "
        "separate existing DIR for a test path when it picks the rootdir.",
    )
    group.addoption(
        "--pause-checkpoint-mock",
        action="store",
        default=None,
        dest="pause_checkpoint_mock",
        metavar="true|false|none",
        help="Do not pause at checkpoints: checkpoint() and "
        "live_pause.checkpoint() return at once Decision(result=<this value>, "
        "reason='Mock', outcome='mocked'), for smoke runs in CI. Unmocked, a "
        "checkpoint prints 'PAUSED (checkpoint): <nodeid>' and its task and "
        "waits for `pytest-live-pause resume <pause_id> --result "
        "true|false|none [--reason TEXT]`. Precedence: command line > ini "
        "pause_checkpoint_mock > not mocked.",
    )
    group.addoption(
        "--pause-compat",
        action="store",
        default=None,
        dest="pause_compat",
        metavar="qamule|none",
        help="qamule: QAMule mode, for projects that drop QAMule's conftest "
        "pause plugin. Every pause also prints QAMule's block and its "
        "QAMULE_PAUSE_EVENT line, is resumed by --pause-resume-signal with an "
        "optional JSON result file (or by `pytest-live-pause resume`, "
        "whichever comes first), prints QAMULE_PAUSE_RESUME/_WARNING/_RESULT, "
        "and tests get QAMule's agent_checkpoint fixture. Precedence: command "
        "line > ini pause_compat > none.",
    )
    group.addoption(
        "--pause-resume-signal",
        action="store",
        default=None,
        dest="pause_resume_signal",
        metavar="NAME",
        help="QAMule mode: the signal that resumes a pause (`kill -NAME "
        "<pid>`); an unknown name is a usage error. Precedence: command line "
        f"> ini pause_resume_signal > {qamule_defaults.DEFAULT_SIGNAL}.",
    )
    group.addoption(
        "--pause-result-dir",
        action="store",
        default=None,
        dest="pause_result_dir",
        metavar="DIR",
        help="QAMule mode: where an agent writes a pause's JSON result "
        "(<DIR>/<request_id>.json, created 0700 if missing). Precedence: "
        "command line > ini pause_result_dir (relative to the ini file) > "
        f"{qamule_defaults.default_result_dir()}.",
    )
    _eval.addoption(parser, group)  # --pause-allow-eval, ini pause_allow_eval
    _attach.addoption(parser, group)  # --pause-max-attachment-size, --pause-capture-timeout
    parser.addini(
        "pause_on_failure",
        type="bool",
        default=False,
        help="Pause after a call-phase failure, before teardown (like "
        "--pause-on-failure, which takes precedence). Default false.",
    )
    parser.addini(
        "pause_timeout",
        type="string",
        default="",
        help="Seconds a pause waits for a resume command, 0 to 1e9 (0: times "
        "out at once), or inf (waits until resumed) "
        f"(--pause-timeout takes precedence). Default {DEFAULT_TIMEOUT:g}.",
    )
    parser.addini(
        "pause_dir",
        type="string",
        default="",
        help="Pause directory, relative to the ini file (--pause-dir and "
        f"${env} take precedence). Default {default_dir}.",
    )
    parser.addini(
        "pause_checkpoint_mock",
        type="string",
        default="",
        help="true|false|none: checkpoints return at once with this result "
        "(--pause-checkpoint-mock takes precedence). Default: not mocked.",
    )
    parser.addini(
        "pause_compat",
        type="string",
        default="",
        help="qamule: QAMule mode (--pause-compat takes precedence). Default: none.",
    )
    parser.addini(
        "pause_resume_signal",
        type="string",
        default="",
        help="QAMule mode: the resume signal (--pause-resume-signal takes "
        f"precedence). Default {qamule_defaults.DEFAULT_SIGNAL}.",
    )
    parser.addini(
        "pause_result_dir",
        type="string",
        default="",
        help="QAMule mode: the result directory, relative to the ini file "
        "(--pause-result-dir takes precedence). Default "
        f"{qamule_defaults.default_result_dir()}.",
    )
    _clash.added(parser)


@dataclass(frozen=True)
class Settings:
    """The options of a session, resolved by their precedence."""

    pause_on_failure: bool
    timeout: float
    pause_dir: str
    mock: Any  # True, False, None, or NOT_MOCKED
    qamule: QamuleSettings | None = None  # set in QAMule mode


def _parse_timeout(value: str, source: str) -> float:
    """The runtime's rule (lp_timeout_parse), applied at start."""
    try:
        return _livepause.parse_timeout(value, source)
    except _livepause.LivePauseError as exc:
        raise pytest.UsageError(str(exc)) from None


def _parse_mock(value: str, source: str) -> Any:
    key = value.strip().lower()
    if key not in _MOCK_VALUES:
        raise pytest.UsageError(
            f"{source} must be one of true, false, none, not {value!r}"
        )
    return _MOCK_VALUES[key]


def _resolve_pause_dir(config: pytest.Config) -> str:
    cli: str | None = config.getoption("pause_dir")
    if cli is not None:
        if not cli.strip():
            raise pytest.UsageError("--pause-dir must not be empty")
        return os.path.abspath(os.path.expanduser(cli))
    env = os.environ.get(_livepause.ENV_PAUSE_DIR)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    ini = str(config.getini("pause_dir")).strip()
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return os.path.join(str(base), os.path.expanduser(ini))
    return _livepause.default_pause_dir(None)


def _option(config: pytest.Config, name: str) -> tuple[str | None, str]:
    """An option's value by its precedence (command line > ini) and where it
    came from, for messages; (None, "") when given nowhere."""
    cli: str | None = config.getoption(name)
    if cli is not None:
        return cli, "--" + name.replace("_", "-")
    ini = str(config.getini(name)).strip()
    if ini:
        return ini, f"ini option {name}"
    return None, ""


def _read_qamule(config: pytest.Config) -> QamuleSettings | None:
    """The QAMule options: None unless --pause-compat=qamule (or the ini)."""
    compat, compat_src = _option(config, "pause_compat")
    mode = (compat or "").strip().lower()
    if mode not in ("", "none", qamule_defaults.MODE):
        raise pytest.UsageError(
            f"{compat_src} must be {qamule_defaults.MODE} or none, not {compat!r}"
        )
    sig_name, sig_src = _option(config, "pause_resume_signal")
    result_dir, dir_src = _option(config, "pause_result_dir")
    if mode != qamule_defaults.MODE:
        given = sig_src or dir_src
        if given:
            raise pytest.UsageError(
                f"{given} is an option of QAMule mode: add --pause-compat=qamule "
                "(or the ini option pause_compat = qamule)"
            )
        return None
    try:
        sig = _qamule().parse_signal(sig_name if sig_name is not None else qamule_defaults.DEFAULT_SIGNAL)
    except _qamule().SignalNameError as exc:
        raise pytest.UsageError(f"{sig_src}: {exc}") from None
    if result_dir is None:
        path = qamule_defaults.default_result_dir()
    elif not result_dir.strip():
        raise pytest.UsageError(f"{dir_src} must not be empty")
    elif dir_src.startswith("--"):
        path = os.path.abspath(os.path.expanduser(result_dir))
    else:
        base = config.inipath.parent if config.inipath else config.rootpath
        path = os.path.join(str(base), os.path.expanduser(result_dir))
    return _qamule().QamuleSettings(signal=sig, result_dir=os.path.abspath(path))


def _cli_or_ini(
    config: pytest.Config,
    name: str,
    flag: str,
    parse: Callable[[str, str], Any],
    default: Any,
) -> Any:
    """An option whose ini key has the same name: the command line, else
    the ini key, else `default`; parse() names the source in its error."""
    cli = config.getoption(name)
    if cli is not None:
        return parse(cli, flag)
    ini = str(config.getini(name)).strip()
    return parse(ini, f"ini option {name}") if ini else default


def read_settings(config: pytest.Config) -> Settings:
    """Resolve every option: command line > environment > ini > default."""
    cli_pof = config.getoption("pause_on_failure")
    pause_on_failure = bool(
        cli_pof if cli_pof is not None else config.getini("pause_on_failure")
    )
    qamule_settings = _read_qamule(config)

    timeout = _cli_or_ini(
        config, "pause_timeout", "--pause-timeout", _parse_timeout,
        qamule_defaults.DEFAULT_TIMEOUT if qamule_settings is not None else DEFAULT_TIMEOUT,
    )
    mock = _cli_or_ini(
        config, "pause_checkpoint_mock", "--pause-checkpoint-mock", _parse_mock,
        NOT_MOCKED,
    )

    return Settings(
        pause_on_failure, timeout, _resolve_pause_dir(config), mock, qamule_settings
    )


_OPTIONS = (
    "pause_on_failure", "pause_timeout", "pause_dir", "pause_checkpoint_mock",
    "pause_compat", "pause_resume_signal", "pause_result_dir",
)


def option_given(config: pytest.Config) -> str | None:
    """The first pause option given (command line, ini key or
    $PYTEST_LIVE_PAUSE_DIR), None if none: without one, a pause directory
    that cannot be used turns the plugin off instead of failing the run."""
    for name in _OPTIONS:
        if config.getoption(name) is not None:
            return "--" + name.replace("_", "-")
        ini = config.getini(name)
        if ini not in ("", False, None) and str(ini).strip():
            return f"ini option {name}"
    if os.environ.get(_livepause.ENV_PAUSE_DIR):
        return f"${_livepause.ENV_PAUSE_DIR}"
    return None
