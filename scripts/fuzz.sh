#!/usr/bin/env bash
# Runs every libFuzzer harness built in $1 for $2 seconds on a scratch copy
# of its seed corpus (fuzz/corpus/<name>), and fails on any crash. Prints
# one line per harness with its execution count, in the harnesses' order.
# The harnesses run side by side, one per CPU (nproc, or $FUZZ_JOBS): each
# still gets its $2 seconds of one CPU, and the smoke run takes a half of
# the time on two.
set -euo pipefail
build=$1; seconds=$2
jobs=${FUZZ_JOBS:-$(nproc)}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work" /tmp/lp-fuzz-pause-*' EXIT

# one harness; its verdict in $work/$name.status (0: no crash)
fuzz_one() {
  local bin=$1 name corpus
  name=$(basename "$bin"); corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p "$work/$name"; cp -r "$corpus"/. "$work/$name"/ 2>/dev/null || true
  if "$bin" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=1024 -close_fd_mask=3 \
        -artifact_prefix="$work/$name-" "$work/$name" >"$work/$name.log" 2>&1; then
    echo 0 >"$work/$name.status"
  else
    echo 1 >"$work/$name.status"
  fi
}

bins=("$build"/fuzz_*)
for bin in "${bins[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$bin" &
done
wait

status=0
for bin in "${bins[@]}"; do
  name=$(basename "$bin"); log="$work/$name.log"
  if [ "$(cat "$work/$name.status" 2>/dev/null)" = 0 ]; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')
    echo "fuzz: $name: $runs executions in ${seconds}s, no crash"
  else
    echo "fuzz: $name: CRASH"; tail -40 "$log"; status=1
  fi
done
exit $status
