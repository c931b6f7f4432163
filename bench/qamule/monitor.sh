#!/usr/bin/env bash
# Stand-in for a QAMule monitor script (baseline of the benchmark, not
# product code), written from the protocol description: poll the pytest
# log's LAST line every 0.2 s; "paused" when it is a QAMULE_PAUSE_EVENT line
# (printed, exit 0); "finished" when it holds the runner's
# "QAMule pytest exit code=" line (exit 9).
#
# usage: monitor.sh LOG_FILE [PREVIOUS_REQUEST_ID]
# A QAMULE_PAUSE_EVENT line of PREVIOUS_REQUEST_ID (the pause just resumed,
# still the last line until the plugin prints its resume line) is skipped.
set -u
log=$1
prev=${2:-}
interval=${QAMULE_MONITOR_INTERVAL:-0.2}
while :; do
  # only a complete line: pytest may be in the middle of writing one
  if [ -n "$(tail -c 1 "$log" 2>/dev/null)" ]; then
    sleep "$interval"
    continue
  fi
  last=$(tail -n 1 "$log" 2>/dev/null)
  case "$last" in
    "QAMULE_PAUSE_EVENT "*)
      if [ -z "$prev" ] || [[ "$last" != *"\"request_id\": \"$prev\""* ]]; then
        printf '%s\n' "$last"
        exit 0
      fi
      ;;
    *"QAMule pytest exit code="*)
      printf '%s\n' "$last"
      exit 9
      ;;
  esac
  sleep "$interval"
done
