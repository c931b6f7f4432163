#!/usr/bin/env bash
# format.sh [--check]: the one C style (.clang-format) over every C file of
# the project, with the clang-format pinned in scripts/bootstrap.sh (from
# PyPI, so that every machine formats alike). --check changes nothing and
# exits 1 naming the files that differ, with the fix: `make format`.
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-.venv/bin/clang-format}
if [ ! -x "$CF" ]; then
  echo "format.sh: $CF not found: run 'make bootstrap-dev' (it installs the pinned clang-format)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^build/')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    "$CF" --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format.sh: ${#bad[@]} C file(s) differ from .clang-format: ${bad[*]}" >&2
    echo "format.sh: run 'make format' and commit the result" >&2
    exit 1
  fi
  echo "format.sh: ${#files[@]} C files follow .clang-format ($("$CF" --version | sed 's/.*version //'))"
else
  "$CF" --style=file -i "${files[@]}"
fi
