#!/usr/bin/env bash
# Stand-in for a QAMule resume script (baseline of the benchmark, not
# product code), written from the protocol description: find the last
# QAMULE_PAUSE_EVENT line of the pytest log, parse its JSON, optionally
# write the JSON result to its result_path, then `kill -<signal> <pid>`.
#
# usage: resume.sh LOG_FILE [--result true|false [--reason TEXT] | --json OBJECT]
set -u
log=$1; shift
result=; reason=; payload=
while [ $# -gt 0 ]; do
  case "$1" in
    --result) result=$2; shift 2 ;;
    --reason) reason=$2; shift 2 ;;
    --json) payload=$2; shift 2 ;;
    *) echo "resume.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
line=$(grep 'QAMULE_PAUSE_EVENT ' "$log" | tail -n 1)
[ -n "$line" ] || { echo "resume.sh: no QAMULE_PAUSE_EVENT in $log" >&2; exit 2; }
# one python3 parses the event and writes the result file; it prints
# "<pid> <signal>" for the kill
target=$(EVENT="${line#QAMULE_PAUSE_EVENT }" RESULT="$result" REASON="$reason" PAYLOAD="$payload" python3 -c '
import json, os
ev = json.loads(os.environ["EVENT"])
if os.environ["PAYLOAD"]:
    body = json.loads(os.environ["PAYLOAD"])
elif os.environ["RESULT"]:
    body = {"result": os.environ["RESULT"] == "true"}
    if os.environ["REASON"]:
        body["reason"] = os.environ["REASON"]
else:
    body = None
if body is not None:
    with open(ev["result_path"], "w") as f:
        json.dump(body, f)
print(ev["pid"], ev["signal"])
') || { echo "resume.sh: cannot parse the pause event" >&2; exit 2; }
set -- $target
kill -"$2" "$1"
