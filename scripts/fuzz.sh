#!/usr/bin/env bash
# Runs every libFuzzer harness built in $1 for $2 seconds on a scratch copy
# of its seed corpus (fuzz/corpus/<name>), and fails on any crash. Prints
# one line per harness with its execution count.
set -euo pipefail
build=$1; seconds=$2
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work" /tmp/lp-fuzz-pause-*' EXIT
status=0
for bin in "$build"/fuzz_*; do
  name=$(basename "$bin"); corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p "$work/$name"; cp -r "$corpus"/. "$work/$name"/ 2>/dev/null || true
  log="$work/$name.log"
  if "$bin" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=1024 -close_fd_mask=3 \
        -artifact_prefix="$work/$name-" "$work/$name" >"$log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')
    echo "fuzz: $name: $runs executions in ${seconds}s, no crash"
  else
    echo "fuzz: $name: CRASH"; tail -40 "$log"; status=1
  fi
done
exit $status
