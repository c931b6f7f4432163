#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing
# pytest-live-pause: Debian packages by name, a virtual environment in
# .venv, the Python test dependencies, and the project itself (built from
# source by scikit-build-core). Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# (pkg-config: the build finds jansson and nettle with it, and
# tests/python/test_c_library.py builds examples/c/checkpoint.c with
# `pkg-config --cflags --libs livepause`)
APT_PACKAGES=(gcc make pkg-config cmake libjansson-dev nettle-dev libcmocka-dev libmicrohttpd-dev)
# for `make test`: sanitizers (gcc), fuzzing (clang, libFuzzer), valgrind,
# and Debian's chromium for the dashboard's browser tests (Playwright)
[ "${LP_WITH_DEV_TOOLS:-0}" = 1 ] && APT_PACKAGES+=(clang libclang-rt-14-dev valgrind util-linux chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a python3 that can make a virtual environment
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3 python3-venv python3-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtual environment $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
"$VENV/bin/python" -m pip install -q "pytest>=9.0.3" "pytest-xdist>=3.6" "pytest-timeout>=2.3"
# the server's tests: a browser driver (it drives Debian's chromium, never a
# browser of its own) and the OpenAPI fuzzer, pinned
[ "${LP_WITH_DEV_TOOLS:-0}" = 1 ] && "$VENV/bin/python" -m pip install -q "playwright==1.65.2" "schemathesis==4.32.5" "clang-format==19.1.7"

# for the compatibility tests: the published 0.1.1 in a virtual environment
# of its own (never imported beside ours), with the same pytest as ours
if [ "${LP_WITH_DEV_TOOLS:-0}" = 1 ]; then
  V011=${LP_V011_VENV:-.venv-011}
  want_pytest=$("$VENV/bin/python" -c 'import pytest; print(pytest.__version__)')
  have=$("$V011/bin/python" -c 'import importlib.metadata as m, pytest; print(m.version("pytest-live-pause"), pytest.__version__)' 2>/dev/null || true)
  if [ "$have" != "0.1.1 $want_pytest" ]; then
    echo "bootstrap: creating $V011 with pytest-live-pause==0.1.1 (PyPI)"
    [ -x "$V011/bin/python" ] || python3 -m venv "$V011"
    "$V011/bin/python" -m pip install -q "pytest-live-pause==0.1.1" "pytest==$want_pytest"
  fi
fi

# Rebuild and reinstall the project only when a source file changed; one
# install at a time (parallel `make` invocations share the venv).
exec 9>"$VENV/.lp-lock"
flock 9
stamp="$VENV/.lp-installed"
if [ ! -f "$stamp" ] || [ -n "$(find include lib cli server python CMakeLists.txt pyproject.toml scripts/bootstrap.sh -newer "$stamp" -print -quit)" ]; then
  echo "bootstrap: building and installing pytest-live-pause into $VENV"
  "$VENV/bin/python" -m pip install -q .
  touch "$stamp"
fi
