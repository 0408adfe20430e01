#!/usr/bin/env bash
# Stops the stand-in started by start-standin.sh. First prints the protocol violations it
# recorded and the request counts; exits 1 if there was any violation.
# Usage: stop-standin.sh [STATE_DIR]   (default: $PYDEPOT_GCS_STANDIN_DIR)
set -uo pipefail
dir=${1:-${PYDEPOT_GCS_STANDIN_DIR:-}}
if [ -z "$dir" ] || [ ! -f "$dir/standin.pid" ]; then
  echo "stop-standin: no stand-in state in '${dir}'" >&2
  exit 2
fi
url=$(head -n1 "$dir/url" 2>/dev/null || true)
status=0
if [ -n "$url" ]; then
  /usr/bin/python3 - "$url" <<'PY' || status=1
import json, sys, urllib.request
url = sys.argv[1]
stats = json.load(urllib.request.urlopen(url + "/_standin/stats", timeout=30))
print("gcs stand-in requests:", json.dumps(stats, sort_keys=True))
violations = json.load(urllib.request.urlopen(url + "/_standin/violations", timeout=30))
for v in violations:
    print("gcs stand-in VIOLATION: %s: %s" % (v["request"], v["problem"]))
print("gcs stand-in: %d violation(s)" % len(violations))
sys.exit(1 if violations else 0)
PY
fi
kill "$(cat "$dir/standin.pid")" 2>/dev/null
kill "$(cat "$dir/holder.pid")" 2>/dev/null
rm -f "$dir/standin.pid" "$dir/holder.pid" "$dir/stdin"
exit $status
