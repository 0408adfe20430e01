#!/usr/bin/env bash
# Starts the GCS stand-in (tests/gcs/standin.py) in the background for the conformance suite and
# prints the environment to use it, for eval:
#
#   eval "$(scripts/gcs/start-standin.sh)"      # starts it; exports the variables below
#   ctest --test-dir build ...                   # the "Gcs" conformance backend joins
#   scripts/gcs/stop-standin.sh                  # prints violations, stops it; fails if any
#
# The stand-in requires a bearer token on every storage request. pydepot gets it from the
# stand-in's metadata-server endpoint (GCE_METADATA_HOST), so the conformance run exercises the
# Cloud Run / GCE credential path. A throwaway service-account key is made too (when openssl is
# there) and registered with the stand-in; to test the key-file path instead, export
# GOOGLE_APPLICATION_CREDENTIALS=$PYDEPOT_GCS_STANDIN_DIR/key.json.
#
# Usage: start-standin.sh [STATE_DIR]   (default: a new temp dir; its path is exported as
# PYDEPOT_GCS_STANDIN_DIR for stop-standin.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/pydepot-gcs-standin.XXXXXX")}
mkdir -p "$dir"
python=/usr/bin/python3

args=(--port 0 --bucket pydepot-test --require-auth --exit-with-stdin)
if command -v openssl >/dev/null 2>&1; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>/dev/null
  # token_uri is filled in below, once the port is known.
  "$python" - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
key = {"type": "service_account", "project_id": "standin-project",
       "private_key_id": "standin-key", "private_key": open(d + "/key.pem").read(),
       "client_email": "pydepot@standin-project.iam.gserviceaccount.com",
       "token_uri": "http://placeholder/token"}
json.dump(key, open(d + "/key.json", "w"))
PY
  args+=(--service-account-key "$dir/key.json")
fi

# stdin is a FIFO held open by a sleeper, so stop-standin.sh (or the sleeper's end) stops it
# even if nobody calls stop: see --exit-with-stdin.
rm -f "$dir/stdin"
mkfifo "$dir/stdin"
nohup sleep 86400 >"$dir/stdin" 2>/dev/null &
echo $! >"$dir/holder.pid"
nohup "$python" "$root/tests/gcs/standin.py" "${args[@]}" <"$dir/stdin" >"$dir/url" \
  2>"$dir/standin.log" &
echo $! >"$dir/standin.pid"

for _ in $(seq 100); do
  if [ -s "$dir/url" ]; then break; fi
  sleep 0.1
done
url=$(head -n1 "$dir/url")
case "$url" in
  http://*) ;;
  *) echo "start-standin: the stand-in did not start; see $dir/standin.log" >&2; exit 1 ;;
esac
host=${url#http://}

if [ -f "$dir/key.json" ]; then
  "$python" - "$dir" "$url" <<'PY'
import json, sys
d, url = sys.argv[1], sys.argv[2]
key = json.load(open(d + "/key.json"))
key["token_uri"] = url + "/token"
json.dump(key, open(d + "/key.json", "w"))
PY
fi

# Printed for eval, and kept in $dir/env for shells that did not eval.
tee "$dir/env" <<ENV
export PYDEPOT_GCS_STANDIN_DIR=$dir
export STORAGE_EMULATOR_HOST=$url
export PYDEPOT_TEST_GCS_URL=gs://pydepot-test/conformance
export GCE_METADATA_HOST=$host
export GOOGLE_APPLICATION_CREDENTIALS=
export PYDEPOT_GCS_RESUMABLE_THRESHOLD=1048576
export PYDEPOT_GCS_UPLOAD_CHUNK_SIZE=262144
export PYDEPOT_GCS_READ_CHUNK_SIZE=1048576
ENV
