"""The installable C library (issue 11.7): `cmake --install` puts
liblivepause.so (with its SONAME and symlinks), livepause.h, livepause.pc
and a CMake package config under a prefix; examples/c/checkpoint.c builds
against that INSTALLED tree, both with `pkg-config --cflags --libs
livepause` and with find_package(livepause), and the real CLI resumes it.

Needs cc, cmake and pkg-config: skipped where one is missing, except under
CI (env CI set), where that fails (scripts/bootstrap.sh installs them).
"""
from __future__ import annotations

import fcntl
import os
import re
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import WAIT, Cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "c" / "checkpoint.c"
HEADER = ROOT / "include" / "livepause.h"


def _version() -> str:
    m = re.search(r'^#define LP_VERSION "([^"]+)"', HEADER.read_text(), re.M)
    assert m, "LP_VERSION not found in livepause.h"
    return m.group(1)


def _run(args: list[str], cwd: Path | None = None, env: dict | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"$ {' '.join(map(str, args))}\nexit {proc.returncode}\n"
                                  f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


@dataclass
class Installed:
    prefix: Path
    libdir: Path
    pkg_env: dict           # PKG_CONFIG_PATH names the prefix
    checkpoint_pc: Path     # the example built with pkg-config
    checkpoint_cmake: Path  # the example built with find_package(livepause)


def _tools() -> None:
    missing = [t for t in ("cc", "cmake", "pkg-config") if shutil.which(t) is None]
    if missing:
        msg = (f"{', '.join(missing)} not found: the C library test needs a C compiler, "
               "cmake and pkg-config (run 'make bootstrap', which installs them)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def _build_and_install(work: Path) -> None:
    build, prefix = work / "build", work / "prefix"
    _run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
          "-DLP_INSTALL_C_LIBRARY=ON"])
    _run(["cmake", "--build", str(build), "-j2"])
    _run(["cmake", "--install", str(build), "--prefix", str(prefix)])
    inst = _describe(work)

    # the README's build line, warnings as errors, found at run time by rpath
    flags = _run(["pkg-config", "--cflags", "--libs", "livepause"],
                 env=inst.pkg_env).stdout.split()
    _run(["cc", "-Wall", "-Wextra", "-Werror", str(EXAMPLE), *flags,
          f"-Wl,-rpath,{inst.libdir}", "-o", str(inst.checkpoint_pc)])

    # a tiny CMake project of a user: find_package(livepause)
    proj = inst.checkpoint_cmake.parent.parent
    proj.mkdir()
    (proj / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.21)\n"
        "project(user_checkpoint LANGUAGES C)\n"
        f"find_package(livepause {_version()} REQUIRED)\n"
        f'add_executable(checkpoint "{EXAMPLE}")\n'
        "target_compile_options(checkpoint PRIVATE -Wall -Wextra -Werror)\n"
        "target_link_libraries(checkpoint PRIVATE livepause::livepause)\n")
    _run(["cmake", "-S", str(proj), "-B", str(proj / "build"),
          f"-DCMAKE_PREFIX_PATH={prefix}"])
    _run(["cmake", "--build", str(proj / "build")])


def _describe(work: Path) -> Installed:
    prefix = work / "prefix"
    pcs = list(prefix.glob("lib*/**/livepause.pc"))
    assert len(pcs) == 1, f"livepause.pc not installed once under {prefix}: {pcs}"
    env = dict(os.environ, PKG_CONFIG_PATH=os.pathsep.join(
        [str(pcs[0].parent), os.environ.get("PKG_CONFIG_PATH", "")]))
    libdir = Path(_run(["pkg-config", "--variable=libdir", "livepause"], env=env)
                  .stdout.strip()).resolve()
    return Installed(prefix, libdir, env, work / "checkpoint-pkg-config",
                     work / "user-project" / "build" / "checkpoint")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The project built and installed into a temporary prefix, and the
    example built against it, once per session: xdist workers share one
    tree (the usual xdist recipe: a directory of the session, a lock)."""
    _tools()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        work = tmp_path_factory.getbasetemp().parent / "c-library"
    else:
        work = tmp_path_factory.mktemp("c-library")
    work.mkdir(exist_ok=True)
    with open(work / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done, failed = work / "done", work / "failed"
        if failed.exists():
            pytest.fail(f"building or installing the C library failed:\n{failed.read_text()}")
        if not done.exists():
            try:
                _build_and_install(work)
            except BaseException as e:
                failed.write_text(str(e))
                raise
            done.touch()
    return _describe(work)


# ------------------------------------------------------- the installed tree

def test_install_puts_library_header_and_configs_under_the_prefix(installed: Installed) -> None:
    lib, version = installed.libdir, _version()
    real = lib / f"liblivepause.so.{version}"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / "liblivepause.so.0") == real.name
    assert os.readlink(lib / "liblivepause.so") == "liblivepause.so.0"
    dyn = _run(["readelf", "-d", str(real)]).stdout
    assert "Library soname: [liblivepause.so.0]" in dyn, dyn
    assert "libjansson" in dyn  # linked to, not copied in

    header = installed.prefix / "include" / "livepause.h"
    assert header.read_bytes() == HEADER.read_bytes()
    cmake_dir = lib / "cmake" / "livepause"
    for name in ("livepauseConfig.cmake", "livepauseConfigVersion.cmake",
                 "livepauseTargets.cmake"):
        assert (cmake_dir / name).is_file(), name
    assert "livepause::livepause" in (cmake_dir / "livepauseTargets.cmake").read_text()
    # nothing of the static library or of lib/internal.h is installed
    assert not list(installed.prefix.rglob("*.a"))
    assert not list(installed.prefix.rglob("internal.h"))


def test_pkg_config_names_the_installed_tree_and_its_libraries_privately(installed: Installed) -> None:
    env = installed.pkg_env

    def pc(*args: str) -> str:
        return _run(["pkg-config", *args, "livepause"], env=env).stdout.strip()

    assert pc("--modversion") == _version()
    assert re.fullmatch(r"jansson\s*>=\s*2\.11\s+nettle\s*>=\s*3\.4",
                        pc("--print-requires-private"))
    assert pc("--print-requires") == ""  # users do not link jansson or nettle themselves
    cflags = pc("--cflags")
    incdirs = [Path(f[2:]).resolve() for f in cflags.split() if f.startswith("-I")]
    assert (installed.prefix / "include").resolve() in incdirs, cflags
    assert str(ROOT) not in cflags  # the installed header, not the source tree
    libs = pc("--libs").split()
    assert "-llivepause" in libs and "-ljansson" not in libs and "-lnettle" not in libs, libs


def _declared(text: str) -> set[str]:
    """Names of the functions declared at the top level of C text (a
    declaration starts a line; comments, members and typedefs do not)."""
    return set(re.findall(r"(?m)^(?!typedef)(?:LP_API\s+)?[a-z][^;()#]*?\b(lp_[a-z0-9_]+)\s*\(",
                          text))


def test_the_shared_library_exports_the_header_api_and_nothing_else(installed: Installed) -> None:
    out = _run(["nm", "-D", "--defined-only",
                str(installed.libdir / f"liblivepause.so.{_version()}")]).stdout
    exported = {line.split()[-1] for line in out.splitlines()}  # functions and data
    header = HEADER.read_text()
    declared = _declared(header)
    assert len(declared) > 50, "the header's declarations were not found"
    # every public function is declared LP_API ...
    assert declared - set(re.findall(r"LP_API\s[^;(]*?\b(lp_[a-z0-9_]+)\s*\(", header)) == set()
    # ... and exported ...
    assert declared - exported == set()
    # ... and nothing else is: no function of lib/internal.h, no data
    assert exported - declared == set()
    # lib/internal.h names its functions lpi_ (lpj_ for JSON): visibly
    # internal, and none of them exported
    internal_text = (ROOT / "lib" / "internal.h").read_text()
    internal = set(re.findall(r"(?m)^(?!typedef)[a-z][^;()#]*?\b(lp[ij]_[a-z0-9_]+)\s*\(",
                              internal_text))
    assert len(internal) > 20, "no declarations read from lib/internal.h"
    assert internal & exported == set()
    assert _declared(internal_text) - declared == set(), "an lp_ name in lib/internal.h"
    assert {n for n in exported if n.startswith(("lpi_", "lpj_"))} == set()


# ------------------------------------------- the example, built and resumed

def _read_line(proc: subprocess.Popen, pattern: str, timeout: float = WAIT) -> re.Match:
    """The first stdout line of proc matching pattern, waited for with a
    bounded select (no sleep); fails with what was printed."""
    assert proc.stdout is not None
    fd, buf, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    rx = re.compile(pattern)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            *lines, rest = buf.split(b"\n")
            for line in lines:
                m = rx.search(line.decode())
                if m:
                    return m
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    proc.kill()
    pytest.fail(f"no line matching {pattern!r}; the example printed {buf!r}, "
                f"stderr {proc.stderr.read() if proc.stderr else ''!r}")


def _start(exe: Path, pause_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(exe), "--pause-dir", str(pause_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the example did not exit after its verdict")
    return proc.returncode, out.decode(), err.decode()


BUILDS = ["pkg-config", "find_package"]


def _exe(installed: Installed, build: str) -> Path:
    return installed.checkpoint_pc if build == "pkg-config" else installed.checkpoint_cmake


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize(("result", "code"), [("true", 0), ("false", 1), ("none", 2)])
def test_example_exits_with_the_verdict_the_cli_gives(installed: Installed, tmp_path: Path,
                                                      build: str, result: str,
                                                      code: int) -> None:
    pause_dir = tmp_path / "pauses"
    cli = Cli(pause_dir)
    proc = _start(_exe(installed, build), pause_dir)
    pause_id = _read_line(proc, r"^pause_id: (\S+)$").group(1)

    shown = cli("show", pause_id, "--json")
    assert shown.returncode == 0, str(shown)
    assert shown.json()["kind"] == "checkpoint" and shown.json()["task"] == "from C"
    assert shown.json()["state"] == "pending"

    res = cli("resume", pause_id, "--result", result, "--reason", "from the test")
    assert res.returncode == 0, str(res)
    rc, out, err = _finish(proc)
    assert rc == code, f"exit {rc}\nstdout: {out}\nstderr: {err}"
    assert f"result: {result}" in out.splitlines()
    after = cli("show", pause_id, "--json").json()
    assert after["state"] == "resumed" and after["reason"] == "from the test"


@pytest.mark.parametrize("build", BUILDS)
def test_example_exits_2_when_its_checkpoint_times_out(installed: Installed, tmp_path: Path,
                                                       build: str) -> None:
    pause_dir = tmp_path / "pauses"
    # timeout 0: the deadline is the pause's creation (as 0.1.1 reads it)
    proc = _start(_exe(installed, build), pause_dir, "--timeout", "0")
    pause_id = _read_line(proc, r"^pause_id: (\S+)$").group(1)
    rc, out, err = _finish(proc)
    assert rc == 2, f"exit {rc}\nstdout: {out}\nstderr: {err}"
    assert "outcome: timed_out" in out.splitlines()
    assert Cli(pause_dir)("show", pause_id, "--json").json()["state"] == "timed_out"
    # a resume now is refused: the pause already timed out (exit 6)
    assert Cli(pause_dir)("resume", pause_id, "--result", "true").returncode == 6


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "-1"], "--timeout"),
    (["--timeout", "soon"], "--timeout"),
    (["--bogus"], "bogus"),
    (["extra"], "unexpected argument 'extra'"),
])
def test_example_refuses_bad_options_with_exit_4_and_opens_nothing(
        installed: Installed, tmp_path: Path, args: list[str], message: str) -> None:
    pause_dir = tmp_path / "pauses"
    proc = subprocess.run([str(installed.checkpoint_pc), "--pause-dir", str(pause_dir), *args],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 4, proc
    assert message in proc.stderr
    assert not pause_dir.exists()  # nothing was opened


def test_example_reports_an_unsafe_pause_dir_from_lp_error_message(installed: Installed,
                                                                   tmp_path: Path) -> None:
    pause_dir = tmp_path / "shared"
    pause_dir.mkdir(mode=0o777)
    pause_dir.chmod(0o777)  # writable by others: the runtime refuses it
    proc = subprocess.run([str(installed.checkpoint_pc), "--pause-dir", str(pause_dir)],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 4, proc
    assert proc.stderr.count("\n") == 1 and "LP_EUNSAFE" in proc.stderr, proc.stderr
    assert str(pause_dir) in proc.stderr
    assert list(pause_dir.iterdir()) == []
