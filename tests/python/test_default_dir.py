"""Black-box tests of the default pause directory (issue 9 point 3 and 11,
issue 10 points 14 and 16): where it is ($TMPDIR as 0.1.1 picks it), the
upgrade from a directory 0.1.1 left (mode 0755: tightened, not refused),
the per-user fallback when the shared one is another user's, its check by
any spelling of its path, and a pytest run that an unusable directory
never fails unless a pause option asked for it.

Every test points TMPDIR at a directory of its own, so the real
/tmp/pytest-live-pause is never touched, and runs real pytest and the real
CLI as separate processes. Where another user is needed, the test creates
one when running as root (useradd) and runs commands as that user with
setpriv; it skips with a message otherwise.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import CLI

WAIT = 60.0
NAME = "pytest-live-pause"

PASSING = "def test_one():\n    pass\n\ndef test_two():\n    pass\n"


def env_with(tmpdir: Path, **extra: str) -> dict:
    env = dict(os.environ)
    for var in ("PYTEST_LIVE_PAUSE_DIR", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
                "PYTEST_XDIST_WORKER_COUNT", "TMPDIR", "TEMP", "TMP"):
        env.pop(var, None)
    env["TMPDIR"] = str(tmpdir)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def pytest_run(cwd: Path, env: dict, *args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=WAIT)
    return proc.returncode, proc.stdout + proc.stderr


def cli_run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True,
                          timeout=WAIT)


def ours(out: str) -> list[str]:
    """Our lines of pytest's output (the plugin's name starts them)."""
    return [line for line in out.splitlines() if line.startswith(f"{NAME}:")]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> Path:
    """A $TMPDIR of this test's own."""
    t = tmp_path / "tmp"
    t.mkdir()
    return t


# ------------------------------------------------------------- where it is


def test_tmpdir_is_honoured_by_plugin_and_cli_as_by_0_1_1(pytester, tmpdir_env, v011):
    pytester.makepyfile(test_a=PASSING)
    env = env_with(tmpdir_env)
    rc, out = pytest_run(pytester.path, env)
    assert rc == 0, out
    want = str(tmpdir_env / NAME)
    assert f"{NAME}: pause_dir={want}" in out, out
    # 0.1.1 takes Python's tempfile.gettempdir() under the same environment
    theirs = subprocess.run(
        [v011.python, "-c", "from pytest_live_pause.runtime import default_pause_dir; "
         "print(default_pause_dir())"], env=env, capture_output=True, text=True, timeout=WAIT)
    assert theirs.stdout.strip() == want, theirs
    # the CLI finds the run there without --pause-dir
    run_id = re.search(rf"^{NAME}: run_id=(\S+)$", out, re.M).group(1)
    assert (tmpdir_env / NAME / "runs" / run_id / "run.json").is_file()
    res = cli_run(env, "ls", "-a")
    assert res.returncode == 0 and res.stderr == "", res


def test_unusable_tmpdir_falls_through_like_tempfile(pytester, tmp_path, v011):
    # TMPDIR missing: TEMP is taken, as tempfile.gettempdir() does
    temp = tmp_path / "temp"
    temp.mkdir()
    env = env_with(tmp_path / "missing", TEMP=str(temp))
    pytester.makepyfile(test_a=PASSING)
    rc, out = pytest_run(pytester.path, env)
    assert rc == 0, out
    assert f"{NAME}: pause_dir={temp / NAME}" in out, out
    theirs = subprocess.run(
        [v011.python, "-c", "import tempfile; print(tempfile.gettempdir())"],
        env=env, capture_output=True, text=True, timeout=WAIT)
    assert theirs.stdout.strip() == str(temp), theirs


# ----------------------------------------------------- upgrade from 0.1.1


def left_by_0_1_1(tmpdir_env: Path, v011, pytester) -> Path:
    """The default directory as 0.1.1 leaves it: its own pytest run made it
    (mode 0755 under the usual umask 022)."""
    d = tmpdir_env / NAME
    pytester.makepyfile(test_old=PASSING)
    proc = subprocess.run([v011.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(pytester.path / "test_old.py")],
                          cwd=pytester.path, env=env_with(tmpdir_env), capture_output=True,
                          text=True, timeout=WAIT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    os.chmod(d, 0o755)  # what umask 022 gives; whatever this machine's umask is
    (pytester.path / "test_old.py").unlink()
    return d


def test_default_dir_left_by_0_1_1_is_tightened_by_pytest(pytester, tmpdir_env, v011):
    d = left_by_0_1_1(tmpdir_env, v011, pytester)
    pytester.makepyfile(test_a=PASSING)
    for args in ([], ["-q"]):  # the notice is there with or without the header
        os.chmod(d, 0o755)
        rc, out = pytest_run(pytester.path, env_with(tmpdir_env), *args)
        assert rc == 0, out
        notices = [line for line in ours(out) if "tightened" in line]
        assert notices == [f"{NAME}: pause directory {d} had mode 0755 (as "
                           f"pytest-live-pause 0.1.1 made it): tightened to 0700"], out
        assert mode(d) == 0o700
    # once tightened, nothing more is said
    rc, out = pytest_run(pytester.path, env_with(tmpdir_env))
    assert rc == 0 and not [line for line in ours(out) if "tightened" in line], out


def test_default_dir_left_by_0_1_1_is_tightened_by_the_cli(pytester, tmpdir_env, v011):
    d = left_by_0_1_1(tmpdir_env, v011, pytester)
    res = cli_run(env_with(tmpdir_env), "ls", "-a")
    assert res.returncode == 0, res
    assert res.stderr == f"{NAME}: pause directory {d} had mode 0755 (as {NAME} 0.1.1 " \
                         "made it): tightened to 0700\n", res
    assert mode(d) == 0o700


@pytest.mark.parametrize("spelling", ["{t}//{n}", "{t}/./{n}", "{t}/{n}/", "{t}/x/../{n}"])
def test_default_dir_is_recognised_by_any_spelling(tmpdir_env, spelling):
    d = tmpdir_env / NAME
    d.mkdir(mode=0o700)
    (d / "runs").mkdir(mode=0o700)
    (tmpdir_env / "x").mkdir()
    os.chmod(d, 0o750)  # group-readable: fine for another directory, not the default
    path = spelling.format(t=tmpdir_env, n=NAME)
    res = cli_run(env_with(tmpdir_env), "ls", "--pause-dir", path)
    assert res.returncode == 0, res
    assert "tightened to 0700" in res.stderr, res
    assert mode(d) == 0o700
    # group-writable is refused by every spelling (exit 11)
    os.chmod(d, 0o770)
    res = cli_run(env_with(tmpdir_env), "ls", "--pause-dir", path)
    assert res.returncode == 11, res
    assert mode(d) == 0o770


# ------------------------------------------- unusable: pytest runs anyway


def unusable(tmpdir_env: Path, how: str) -> Path:
    d = tmpdir_env / NAME
    if how == "file":
        d.write_text("not a directory\n")
    elif how == "symlink":
        (tmpdir_env / "elsewhere").mkdir(mode=0o700)
        d.symlink_to(tmpdir_env / "elsewhere")
    elif how == "group-writable":
        d.mkdir()
        os.chmod(d, 0o775)
    return d


CHECKPOINT = """
from pytest_live_pause import checkpoint

def test_uses_checkpoint():
    checkpoint("look", timeout=1)

def test_plain():
    pass
"""


@pytest.mark.parametrize("how", ["file", "symlink", "group-writable"])
@pytest.mark.parametrize("args", [[], ["-q"], ["-n", "2"]], ids=["header", "quiet", "xdist"])
def test_unusable_dir_without_pause_option_runs_as_without_plugin(pytester, tmpdir_env, how, args):
    d = unusable(tmpdir_env, how)
    pytester.makepyfile(test_a=PASSING)
    rc, out = pytest_run(pytester.path, env_with(tmpdir_env), *args)
    assert rc == 0, out
    lines = ours(out)
    assert len(lines) == 1, out  # one warning line, no run_id
    assert lines[0].startswith(f"{NAME}: off for this run, no test will pause: "), out
    assert str(d) in lines[0] and "--pause-dir" in lines[0], out
    assert "INTERNALERROR" not in out and re.search(r"\b2 passed\b", out), out


def test_checkpoint_when_off_raises_a_clear_error(pytester, tmpdir_env):
    d = unusable(tmpdir_env, "file")
    pytester.makepyfile(test_cp=CHECKPOINT)
    rc, out = pytest_run(pytester.path, env_with(tmpdir_env))
    assert rc == 1, out
    assert re.search(r"\b1 failed, 1 passed\b", out), out
    m = re.search(r"^E\s+\S*Error: (pytest-live-pause is off in this run: .*)$", out, re.M)
    assert m, out
    assert str(d) in m.group(1) and "--pause-dir" in m.group(1), out


@pytest.mark.parametrize("option", [["--pause-on-failure"], ["--pause-timeout=5"],
                                    ["-o", "pause_on_failure=true"]])
def test_unusable_dir_with_a_pause_option_stops_at_start(pytester, tmpdir_env, option):
    d = unusable(tmpdir_env, "file")
    pytester.makepyfile(test_a=PASSING)
    rc, out = pytest_run(pytester.path, env_with(tmpdir_env), *option)
    assert rc == 4, out
    assert re.search(rf"ERROR: {NAME}: .*{re.escape(str(d))}.*--pause-dir", out), out


def test_unusable_dir_named_by_env_stops_at_start(pytester, tmpdir_env):
    d = unusable(tmpdir_env, "file")
    pytester.makepyfile(test_a=PASSING)
    rc, out = pytest_run(pytester.path, env_with(tmpdir_env, PYTEST_LIVE_PAUSE_DIR=str(d)))
    assert rc == 4, out


# ------------------------------------------ another user's shared default


@pytest.fixture(scope="session")
def other_user() -> pwd.struct_passwd:
    """A second local user, created for the session (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs a second user: run as root to let the test create one")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs useradd and setpriv to create and act as a second user")
    name = f"lp{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def as_user(user: pwd.struct_passwd, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups", *cmd], capture_output=True, text=True,
                          timeout=WAIT)


@pytest.fixture
def shared_tmp():
    """A sticky, world-writable temporary directory, like /tmp (in /tmp,
    which the other user can reach; removed afterwards)."""
    top = Path(tempfile.mkdtemp(prefix="lp-shared-", dir="/tmp"))
    os.chmod(top, 0o755)
    t = top / "tmp"
    t.mkdir()
    os.chmod(t, 0o1777)
    try:
        yield t
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_foreign_shared_default_falls_back_to_per_user_dir(pytester, shared_tmp, other_user):
    # the other user makes the shared default first (as their pytest would)
    made = as_user(other_user, "mkdir", "-m", "0700", str(shared_tmp / NAME))
    assert made.returncode == 0, made
    mine = shared_tmp / f"{NAME}-{os.geteuid()}"
    notice = (f"{NAME}: the shared default pause directory {shared_tmp / NAME} belongs to "
              f"uid {other_user.pw_uid}: using your own {mine} instead (--pause-dir or "
              f"$PYTEST_LIVE_PAUSE_DIR choose another)")
    pytester.makepyfile(test_a=PASSING)
    for args in ([], ["-n", "2"]):
        rc, out = pytest_run(pytester.path, env_with(shared_tmp), *args)
        assert rc == 0, out
        assert f"{NAME}: pause_dir={mine}" in out, out
        assert [line for line in ours(out) if "shared default" in line] == [notice], out
    assert mode(mine) == 0o700 and os.lstat(mine).st_uid == os.geteuid()
    # the CLI takes the same directory, and says so once
    res = cli_run(env_with(shared_tmp), "ls", "-a", "--json")
    assert res.returncode == 0, res
    assert res.stderr == notice + "\n", res
    # the other user's own runs keep the shared one
    theirs = as_user(other_user, "env", f"TMPDIR={shared_tmp}", str(CLI), "ls")
    assert "pytest-live-pause-" not in theirs.stderr, theirs
